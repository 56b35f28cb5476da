#ifndef SUPERVISOR_CUV_SHIM_H
#define SUPERVISOR_CUV_SHIM_H
#include <uv.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <pty.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>

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
/* timerfd is not in Swift's Glibc module: a one-shot monotonic timer `nanoseconds` from now
   (0 disarms it). */
static inline int sv_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }
static inline int sv_timerfd_arm(int fd, unsigned long long nanoseconds) {
    struct itimerspec spec = {{0, 0}, {(time_t)(nanoseconds / 1000000000ULL), (long)(nanoseconds % 1000000000ULL)}};
    return timerfd_settime(fd, 0, &spec, 0);
}
#endif
