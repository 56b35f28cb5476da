#ifndef SUPERVISOR_CUV_SHIM_H
#define SUPERVISOR_CUV_SHIM_H
#include <uv.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <pty.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>

/* Swift's Glibc module is built without _GNU_SOURCE, which hides these (glibc >= 2.29).
   The loop module needs them to start an agent as session leader on its own terminal. */
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
static const short SV_POSIX_SPAWN_SETSID = 0x80;

/* malloc.h is not in Swift's Glibc module: returns freed heap pages to the system. */
extern int malloc_trim(size_t pad);

/* ioctl is variadic. */
static inline int sv_ioctl_set_winsize(int fd, const struct winsize *size) { return ioctl(fd, TIOCSWINSZ, size); }
static inline int sv_ioctl_get_winsize(int fd, struct winsize *size) { return ioctl(fd, TIOCGWINSZ, size); }
/* prctl is variadic too. */
static inline int sv_prctl_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
#endif
