#ifndef SUPERVISOR_CNCURSES_SHIM_H
#define SUPERVISOR_CNCURSES_SHIM_H
/* SwiftPM drops pkg-config's -D flags: the wide-character API needs these. */
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <wchar.h>
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

/* Attribute macros (NCURSES_BITS) and the extended-pair form of wattr_set, typed. */
static inline attr_t sv_a_normal(void) { return A_NORMAL; }
static inline attr_t sv_a_bold(void) { return A_BOLD; }
static inline attr_t sv_a_dim(void) { return A_DIM; }
static inline attr_t sv_a_reverse(void) { return A_REVERSE; }
static inline attr_t sv_a_underline(void) { return A_UNDERLINE; }
static inline attr_t sv_a_blink(void) { return A_BLINK; }
static inline attr_t sv_a_italic(void) { return A_ITALIC; }
static inline attr_t sv_a_standout(void) { return A_STANDOUT; }
static inline int sv_wattr_set(WINDOW *w, attr_t attrs, int pair) { return wattr_set(w, attrs, (NCURSES_PAIRS_T)pair, (void *)&pair); }
static inline WINDOW *sv_curscr(void) { return curscr; }
static inline int sv_key_f(int n) { return KEY_F(n); }
/* Columns a character takes (wcwidth is hidden from Swift by the feature macros). */
static inline int sv_wcwidth(wchar_t c) { return wcwidth(c); }
#endif
