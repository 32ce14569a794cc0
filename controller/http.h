/* HTTP requests and responses as plain values, independent of the server
 * library, so API handlers can be driven by tests and fuzzers directly.
 *
 * A handler receives a fully read request (body bounded by the server) and
 * fills a response: a status and either a JSON value (owned by the response)
 * or raw text. Errors use one shape everywhere:
 *   {"error": {"code": "not_found", "message": "...", "field": "..."}} */
#ifndef WEFT_HTTP_H
#define WEFT_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest request body any endpoint accepts. Policy documents are the
 * largest legitimate bodies. */
#define HTTP_BODY_MAX (1024 * 1024)
#define HTTP_MAX_PARAMS 4

struct http_req {
	const char *method;        /* "GET", "POST", ... */
	const char *path;          /* without the query string */
	const char *authorization; /* Authorization header or NULL */
	/* Headers of browser sessions (controller/api_session.c); NULL when
	 * absent. */
	const char *cookie;         /* Cookie */
	const char *origin;         /* Origin */
	const char *host;           /* Host */
	const char *sec_fetch_site; /* Sec-Fetch-Site */
	const char *x_weft_request; /* X-Weft-Request (the CSRF header) */
	const char *body;          /* NUL-terminated; "" when none */
	size_t body_len;
	/* Looks up a query parameter; NULL when absent. */
	const char *(*query)(void *ctx, const char *key);
	void *query_ctx;
	char remote[64];           /* peer address, for logs and audit */
	/* Filled by the router from {name} path segments. */
	const char *params[HTTP_MAX_PARAMS];
	char param_buf[512];
	size_t nparams;
};

struct http_hold;
struct http_shared;

struct http_resp {
	int status;
	json_t *json;             /* owned; serialized by the server */
	char *text;               /* owned alternative to json (malloc'd) */
	size_t text_len;
	/* With text: the body is text[0..splice_at), then splice's bytes,
	 * then the rest of text (a shared part, e.g. a map's filter). The
	 * response owns one reference. */
	struct http_shared *splice;
	size_t splice_at;
	const char *content_type; /* static string; NULL = by body kind */
	const char *route;        /* matched route pattern, for metrics */
	char *set_cookie;         /* owned Set-Cookie value, or NULL */
	int retry_after;          /* Retry-After seconds when > 0 */
	/* Set instead of a body when the answer comes later (long-poll): the
	 * server suspends the connection until http_hold_answer(). The
	 * response owns one reference. */
	struct http_hold *hold;
};

/* Releases what a response owns (body, Set-Cookie) and resets it; setting
 * a body frees it too, so a handler sets its cookie after the body. NULL
 * ok. */
void http_resp_free(struct http_resp *r);

/* Sets a JSON body, taking ownership of body (NULL → 500). */
void http_resp_json(struct http_resp *r, int status, json_t *body);

/* Sets the standard error body. field may be NULL. */
void http_resp_error(struct http_resp *r, int status, const char *code,
		     const char *message, const char *field);

/* Maps a negative WEFT_ERR_* (or -errno) to a status and error body, with
 * message as the human text (NULL = the code's generic text). */
void http_resp_err(struct http_resp *r, int err, const char *message,
		   const char *field);

/* The HTTP status a WEFT_ERR_* code stands for. */
int http_status_for(int err);

/* --- answers that come later ---
 *
 * A held request is answered from another thread. The hold is shared by
 * the producer (who will answer) and the server (who parks the connection
 * and sends the answer), each with its own reference. The server parks
 * under the hold's lock, and the producer answers under the same lock, so
 * an answer that arrives before the connection is suspended is never lost
 * and a suspended connection is always resumed. */

/* A new hold with one reference. */
int http_hold_new(struct http_hold **out);
void http_hold_ref(struct http_hold *h);
/* Drops a reference; frees the hold (and an unsent answer) at zero. NULL
 * ok. */
void http_hold_unref(struct http_hold *h);

/* Producer: sets the answer, taking over r's body (r is reset). Resumes
 * the parked connection if there is one. Returns false (and leaves r
 * alone) when the hold was answered already. Thread-safe. */
bool http_hold_answer(struct http_hold *h, struct http_resp *r);

/* Server: parks the request. If an answer is there already returns true
 * and parks nothing; else calls suspend(arg) under the hold's lock,
 * remembers resume(arg) for the answer, and returns false. */
bool http_hold_park(struct http_hold *h, void (*suspend)(void *arg),
		    void (*resume)(void *arg), void *arg);

/* Server: moves the answer into *out; false when there is none yet. */
bool http_hold_take(struct http_hold *h, struct http_resp *out);

/* --- shared bytes and compression ---
 *
 * Bytes that many responses contain (a network map's filter) are kept
 * once, reference counted, and compressed once for all the clients that
 * accept gzip. Thread-safe. */

/* Copies p[0..n) into a new shared value with one reference. */
int http_shared_new(const void *p, size_t n, struct http_shared **out);
void http_shared_ref(struct http_shared *s);
/* NULL ok. */
void http_shared_unref(struct http_shared *s);

/* Bodies shorter than this are sent as they are. */
#define HTTP_GZIP_MIN 1024

/* r's body as bytes: the JSON serialized, or the text with its shared
 * part spliced in; gzip-compressed when gzip_ok and the body is at least
 * HTTP_GZIP_MIN (*gzipped tells). *body is malloc'd (NULL with *len 0
 * when r has none). 0 or WEFT_ERR_NOMEM. */
int http_resp_body(const struct http_resp *r, bool gzip_ok, char **body,
		   size_t *len, bool *gzipped);

/* Does an Accept-Encoding header value accept gzip (RFC 9110 §12.5.3)?
 * "gzip" or "x-gzip" or "*" with a q-value other than 0. NULL: no. */
bool http_accepts_gzip(const char *accept_encoding);

/* The query parameter, or NULL when the request has none. */
const char *http_query(const struct http_req *req, const char *key);

#endif
