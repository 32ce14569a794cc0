/* HTTP/1.1 messages of the agent's control client, without any I/O:
 * controller URLs, request heads, and a push parser for responses
 * (RFC 9112 framing: Content-Length, chunked, or until close; gzip
 * content coding). agent/httpc.c does the sockets and TLS around it.
 *
 * The parser takes bytes as they arrive and keeps everything it is given
 * under hard limits: the head (status line and headers) at most
 * HTTPMSG_HEAD_MAX bytes and HTTPMSG_HEADERS_MAX header lines, the body
 * (after chunked and gzip decoding, and on the wire) at most the body_max
 * given to httpmsg_resp_new. Anything malformed or ambiguous (a bad
 * status line, obsolete line folding, control bytes in a header, two
 * different Content-Length values, Content-Length with chunked, a bad or
 * overflowing chunk size, a truncated gzip stream) is refused, never
 * guessed at. */
#ifndef WEFT_AGENT_HTTPMSG_H
#define WEFT_AGENT_HTTPMSG_H

#include "shared/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPMSG_HEAD_MAX (16u * 1024)
#define HTTPMSG_HEADERS_MAX 100
#define HTTPMSG_HOST_MAX 256

/* A parsed http(s) URL. host has no IPv6 brackets; path is the path and
 * query ("/" when the URL has none). */
struct httpmsg_url {
	bool https;
	bool ipv6;       /* host is an IPv6 literal */
	bool has_path;   /* the URL had a path other than "/" or a query */
	uint16_t port;   /* explicit, else 80 / 443 */
	char host[HTTPMSG_HOST_MAX];
	char path[1024];
};

/* Parses an absolute http:// or https:// URL: host name, IPv4 or
 * bracketed IPv6 literal (no zone), optional port 1-65535, optional path
 * and query. Userinfo, fragments, spaces and control bytes are refused.
 * Returns 0 and *out, WEFT_ERR_INVAL (not such a URL) or WEFT_ERR_TOOBIG
 * (host or path too long). */
int httpmsg_url_parse(const char *url, struct httpmsg_url *out);

/* What a request says. Strings are borrowed for the call. */
struct httpmsg_req {
	const char *method;        /* "GET", "POST" */
	const struct httpmsg_url *url;
	const char *path;          /* overrides url->path when not NULL */
	const char *user_agent;
	const char *authorization; /* whole header value, or NULL */
	const char *content_type;  /* with body */
	const char *body;          /* NUL-terminated, or NULL */
};

/* Appends the request (head and body) to out. Every header value and the
 * path are checked for bytes that would end a line or a field (CR, LF,
 * NUL, other controls; spaces in the path), so no input can add a header.
 * Returns 0, WEFT_ERR_INVAL (such a byte, or a missing field) or what
 * buf_append returns. */
int httpmsg_request(struct buf *out, const struct httpmsg_req *rq);

struct httpmsg_resp;

/* A parser for one response at a time whose decoded body may hold up to
 * body_max bytes. Returns 0 and *out or WEFT_ERR_NOMEM. */
int httpmsg_resp_new(size_t body_max, struct httpmsg_resp **out);

/* Frees r. NULL is fine. */
void httpmsg_resp_del(struct httpmsg_resp *r);

/* Forgets the last response (keeping memory) to parse the next one. */
void httpmsg_resp_reset(struct httpmsg_resp *r);

/* Feeds n bytes. *used is how many were taken (fewer than n only when
 * the response ended before them). Returns 1 when the response is
 * complete, 0 when more bytes are needed, or a negative code that stays
 * until reset: WEFT_ERR_PARSE (malformed), WEFT_ERR_TOOBIG (a limit),
 * WEFT_ERR_UNSUPPORTED (an unknown transfer or content coding),
 * WEFT_ERR_NOMEM. Interim 1xx responses are skipped. */
int httpmsg_resp_feed(struct httpmsg_resp *r, const uint8_t *p, size_t n,
		      size_t *used);

/* The connection ended. Returns 1 when that completes the response (a
 * body delimited by the end of the connection), WEFT_ERR_PROTO when the
 * response was cut short, or the error feed returned. */
int httpmsg_resp_eof(struct httpmsg_resp *r);

/* Has any byte of a response been fed since the last reset? */
bool httpmsg_resp_started(const struct httpmsg_resp *r);

/* A short static description of why feed or eof failed ("bad chunk
 * size", "header section too large", ...), or "" when it did not. */
const char *httpmsg_resp_why(const struct httpmsg_resp *r);

/* Of a complete response: the status code; whether the connection may
 * carry another request; whether the body came gzip-coded. */
int httpmsg_resp_status(const struct httpmsg_resp *r);
bool httpmsg_resp_keep_alive(const struct httpmsg_resp *r);
bool httpmsg_resp_gzipped(const struct httpmsg_resp *r);

/* The body's size as it came, after chunked decoding but before gzip
 * decoding. */
uint64_t httpmsg_resp_wire_len(const struct httpmsg_resp *r);

/* The decoded body of a complete response, NUL-terminated (the NUL is
 * not counted in *len), valid until the next reset or feed. */
const char *httpmsg_resp_body(struct httpmsg_resp *r, size_t *len);

#endif
