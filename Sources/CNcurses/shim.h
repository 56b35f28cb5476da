#ifndef SUPERVISOR_CNCURSES_SHIM_H
#define SUPERVISOR_CNCURSES_SHIM_H
/* SwiftPM drops pkg-config's -D flags: the wide-character API needs these. */
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <ncursesw/curses.h>

/* Function-like macros Swift cannot call. */
static inline int sv_color_pair(int n) { return COLOR_PAIR(n); }
static inline int sv_getmaxy(WINDOW *w) { return getmaxy(w); }
static inline int sv_getmaxx(WINDOW *w) { return getmaxx(w); }
static inline int sv_getcury(WINDOW *w) { return getcury(w); }
static inline int sv_getcurx(WINDOW *w) { return getcurx(w); }
static inline WINDOW *sv_stdscr(void) { return stdscr; }
static inline int sv_lines(void) { return LINES; }
static inline int sv_cols(void) { return COLS; }
static inline int sv_colors(void) { return COLORS; }
static inline int sv_color_pairs(void) { return COLOR_PAIRS; }
#endif
