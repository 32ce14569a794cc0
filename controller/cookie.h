/* The Cookie request header (RFC 6265 §4.2, §5.4): finds one cookie's
 * value. A network parser: the header comes from any client.
 *
 * The header is "name=value" pairs separated by ";" and optional spaces
 * or tabs. Names compare exactly (case-sensitive). A value may be wrapped
 * in double quotes, which are removed. Pairs without "=" are skipped. The
 * first pair with the name wins (browsers send the most specific first). */
#ifndef WEFT_COOKIE_H
#define WEFT_COOKIE_H

#include <stddef.h>

/* The browser session cookie. __Host- makes browsers accept it only with
 * Secure, Path=/ and no Domain, so no other host or path can set it. */
#define COOKIE_SESSION "__Host-weft_session"

/* Copies the value of cookie name from header into out (cap bytes, NUL
 * included). Returns 0, WEFT_ERR_NOTFOUND (no such cookie, header NULL),
 * WEFT_ERR_TOOBIG (value does not fit; out is then ""), or WEFT_ERR_PARSE
 * (the value holds bytes RFC 6265 forbids: controls, space, '"', ',',
 * ';', '\\', non-ASCII; out is then ""). */
int cookie_get(const char *header, const char *name, char *out, size_t cap);

#endif
