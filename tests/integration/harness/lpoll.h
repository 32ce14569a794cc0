/* Held long-polls for the integration tests: plain HTTP/1.1 requests on raw
 * sockets, many in flight from one thread (a thousand held polls need no
 * thousand threads or curl handles). Each request is sent at once by
 * lpoll_start; lpoll_wait then reads answers as they come. HTTP only (no
 * TLS); the answer must carry a Content-Length or end with the
 * connection. */
#ifndef WEFT_LPOLL_H
#define WEFT_LPOLL_H

#include "ih.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lpoll;

/* Opens a connection to h, sends `GET path` with the bearer token (NULL =
 * none) and returns without waiting for the answer. Returns 0 and the heap
 * handle in *out, or -errno. */
int lpoll_start(struct ih *h, const char *path, const char *token,
		struct lpoll **out);

/* lpoll_start of GET /api/v1/map?since=SINCE with a node's credential;
 * NULL when it could not be sent. */
struct lpoll *lpoll_map(struct ih *h, const char *cred, int64_t since);

/* Reads until every poll of v (NULL entries are skipped) has its answer or
 * timeout_ms passed. Returns how many of v have answered (also those that
 * had before). A connection that ends without a whole answer counts as
 * answered with status -1. */
size_t lpoll_wait(struct lpoll *const *v, size_t n, int64_t timeout_ms);

/* True once p's answer (or its failure) is in. */
bool lpoll_done(const struct lpoll *p);

/* The HTTP status, 0 while waiting, -1 when the connection failed. */
long lpoll_status(const struct lpoll *p);

/* The answer's JSON body (borrowed from p; NULL when none or not JSON). */
json_t *lpoll_json(const struct lpoll *p);

/* When the answer was complete, in clock_mono_ms() time (-1 while
 * waiting). lpoll_wait notices answers, so call it right after the event
 * whose latency is measured. */
int64_t lpoll_answered_at(const struct lpoll *p);

/* Closes the connection without waiting for the answer (the client went
 * away); p stays valid and counts as done with status -1. */
void lpoll_close(struct lpoll *p);

/* Closes and frees p. NULL ok. */
void lpoll_del(struct lpoll *p);

#endif
