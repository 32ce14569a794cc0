/* A blocking HTTP/1.1 client for the agent's control thread: one request
 * at a time over one kept-alive connection (plain TCP or TLS with
 * GnuTLS), answers parsed by agent/httpmsg.
 *
 * TLS verifies the server's certificate against the CA file given to
 * httpc_new, else the system trust store (either is loaded for each
 * handshake and freed right after it, so neither stays in memory, and a
 * plain-http agent never parses one), and checks the URL's host name or
 * IP address against it, for TLS server use; SNI carries host names.
 * There is no proxy support: the agent connects to the controller
 * directly.
 *
 * Waiting happens in slices of at most HTTPC_SLICE_MS, between which the
 * request's cancel callback is asked whether to give up, so a caller can
 * stop a held long-poll promptly. */
#ifndef WEFT_AGENT_HTTPC_H
#define WEFT_AGENT_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#define HTTPC_SLICE_MS 200

struct httpc;

/* Returns 0 to go on, or a negative code that the request then returns. */
typedef int httpc_cancel_cb(void *arg);

struct httpc_req {
	const char *method;        /* "GET" or "POST" */
	const char *url;           /* absolute http(s) URL */
	const char *authorization; /* header value, or NULL */
	const char *body;          /* JSON, or NULL */
	int64_t timeout_ms;        /* the whole request, connecting included */
	httpc_cancel_cb *cancel;   /* may be NULL */
	void *cancel_arg;
};

/* An answer. body is malloc'd and NUL-terminated (len excludes the NUL);
 * free it with free(). */
struct httpc_resp {
	int status;
	char *body;
	size_t len;
	size_t wire_len; /* of the body as it came (before gzip decoding) */
	int gzipped;     /* the body came gzip-coded */
};

/* A client with no connection yet. ca_file (copied) is a PEM bundle or
 * NULL for the system store; body_max limits a decoded answer;
 * connect_timeout_ms bounds the TCP connect plus the TLS handshake.
 * user_agent is copied. Returns 0 and *out or WEFT_ERR_NOMEM. */
int httpc_new(const char *ca_file, const char *user_agent, size_t body_max,
	      int64_t connect_timeout_ms, struct httpc **out);

/* Marks the connections made from now on with the firewall mark
 * (SO_MARK; 0: none), so that policy routing keeps them out of the
 * agent's own tunnel (the exit node). Best effort: without CAP_NET_ADMIN
 * the connection is made unmarked. */
void httpc_set_fwmark(struct httpc *c, uint32_t mark);

/* Closes the connection and frees c. NULL is fine. */
void httpc_del(struct httpc *c);

/* Sends rq and reads the answer into *resp, reusing the connection of
 * the last request when it was to the same scheme, host and port and is
 * still open; when a reused connection turns out to be closed before any
 * byte of the answer came, it connects once more and sends again.
 * Returns 0, or a negative code with err[0..errlen) saying what happened
 * in the words a log needs ("connect to 10.0.0.1 port 8080: Connection
 * refused", "TLS: certificate verify failed: ...", "timeout after 15000
 * ms", "bad answer: bad chunk size"): WEFT_ERR_INVAL (bad URL),
 * WEFT_ERR_TIMEOUT, WEFT_ERR_CRYPTO (TLS), WEFT_ERR_PROTO / PARSE /
 * TOOBIG / UNSUPPORTED (the answer), WEFT_ERR_NOTFOUND (name did not
 * resolve), WEFT_ERR_NOMEM, -errno, or the cancel callback's code. The
 * connection is closed after any failure. */
int httpc_request(struct httpc *c, const struct httpc_req *rq,
		  struct httpc_resp *resp, char *err, size_t errlen);

#endif
