/* The agent's local API: a unix stream socket (mode 0600) on which the
 * CLI sends one JSON request line ({"cmd": "status"}) and reads one JSON
 * answer line. Only root and the agent's own user may talk to it (checked
 * with SO_PEERCRED as well as by the file mode). Runs on the loop; at most
 * LOCALAPI_MAX_CONNS connections at once, requests of at most 4 KiB. */
#ifndef WEFT_AGENT_LOCALAPI_H
#define WEFT_AGENT_LOCALAPI_H

#include <jansson.h>

#define LOCALAPI_MAX_CONNS 16

/* How answers and the CLI's --json print reals (RTTs in ms with
 * microsecond resolution): ten significant digits give 3.103, where
 * jansson's default of 17 gives 3.1030000000000002. */
#define LOCALAPI_JSON_REALS JSON_REAL_PRECISION(10)

struct loop;
struct localapi;

/* Answers one request: returns a new JSON object (the answer, owned by
 * the caller of the handler) or NULL when out of memory. cmd is the
 * request's "cmd" string; req the whole request (borrowed). Runs on the
 * loop thread. The answer is written before the loop iteration ends. */
typedef json_t *localapi_handler(const char *cmd, const json_t *req,
				 void *ctx);

/* Binds path (replacing a stale socket file; -EADDRINUSE when another
 * process answers on it) with mode 0600 and starts accepting. The parent
 * directory is created (0755) when missing. Returns 0 and *out, or -errno
 * / WEFT_ERR_NOMEM / WEFT_ERR_TOOBIG (path too long). */
int localapi_new(struct loop *l, const char *path, localapi_handler *h,
		 void *ctx, struct localapi **out);

/* Closes every connection and the socket, removes the socket file and
 * frees a. NULL is fine. */
void localapi_del(struct localapi *a);

/* Client side: connects to path, sends req as one line and reads one
 * answer line within timeout_ms. Returns 0 and *answer (caller decrefs),
 * -errno from connect (-ENOENT, -ECONNREFUSED: no daemon; -EACCES),
 * WEFT_ERR_TIMEOUT, WEFT_ERR_PARSE or WEFT_ERR_TOOBIG. */
int localapi_call(const char *path, const json_t *req, int timeout_ms,
		  json_t **answer);

#endif
