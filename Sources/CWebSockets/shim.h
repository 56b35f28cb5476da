// libwebsockets for Swift: typed wrappers only, no logic. Imported by the Serve module alone.
#include <libwebsockets.h>

// LWS_PRE is an expression macro: the bytes every lws_write buffer must leave free in front.
static inline int sv_lws_pre(void) { return LWS_PRE; }

static inline int sv_lws_write(struct lws *wsi, unsigned char *buf, size_t len, enum lws_write_protocol protocol) {
    return lws_write(wsi, buf, len, protocol);
}

// Option bits are 64-bit macros built from other macros, which Swift does not import.
static inline uint64_t sv_lws_option_libuv(void) { return LWS_SERVER_OPTION_LIBUV; }
static inline uint64_t sv_lws_option_ssl_global_init(void) { return LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT; }
static inline uint64_t sv_lws_option_disable_ipv6(void) { return LWS_SERVER_OPTION_DISABLE_IPV6; }
static inline uint64_t sv_lws_option_validate_utf8(void) { return LWS_SERVER_OPTION_VALIDATE_UTF8; }
