/* Prometheus metrics and health checks for the relay: the text rendering
 * of the counters (pure, unit-tested) and a small HTTP server for
 * GET /metrics and GET /healthz that runs inside the relay's event loop
 * (libmicrohttpd in external epoll mode: no extra thread, so the counters
 * are read without locks). */
#ifndef WEFT_RELAY_METRICS_H
#define WEFT_RELAY_METRICS_H

#include "relay/relay.h"
#include "shared/buf.h"
#include "shared/ip.h"

#include <stdint.h>

/* Engine-level numbers that the relay core does not see. */
struct metrics_engine {
	uint64_t retry_sent;   /* Retry packets (tokens issued) */
	uint64_t retry_failed; /* Initials with a Retry token that failed */
	uint64_t handshakes;   /* control connections accepted */
	int retry_on;          /* 1 when Retry is currently demanded */
	uint64_t max_conns;
};

/* Appends the Prometheus text exposition (version 0.0.4) of s and e to
 * out. Returns 0, or WEFT_ERR_TOOBIG / WEFT_ERR_NOMEM from the buffer. */
int metrics_render(const struct relay_stats *s, const struct metrics_engine *e,
		   struct buf *out);

struct loop;
struct metrics_server;

/* Fills out with the metrics text on demand; returns 0 or a negative
 * code (the server answers 500 then). */
typedef int metrics_fill_fn(struct buf *out, void *ctx);

/* Starts the HTTP server on listen (port 0: any) in loop l. fill is
 * called on the loop thread for every GET /metrics. Returns 0 and *out,
 * WEFT_ERR_INVAL, WEFT_ERR_NOMEM, or -EADDRINUSE and similar when the
 * daemon cannot start (*out untouched). */
int metrics_server_new(struct loop *l, const struct ip_endpoint *listen,
		       metrics_fill_fn *fill, void *ctx,
		       struct metrics_server **out);

/* Stops the server and frees m. NULL ok. */
void metrics_server_del(struct metrics_server *m);

/* The port the server listens on. */
uint16_t metrics_server_port(const struct metrics_server *m);

#endif
