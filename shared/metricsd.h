/* A tiny HTTP server for GET /metrics (Prometheus text, filled on demand
 * by a callback), GET /healthz and GET /readyz, run inside a program's
 * event loop: libmicrohttpd in external epoll mode, so there is no extra
 * thread and the callbacks read the program's state without locks.
 *
 * The server accepts connections itself and hands them to libmicrohttpd,
 * so that it stays in control when clients misbehave (docs/relay.md,
 * "Metrics server limits"):
 *   - at most METRICSD_MAX_CONNS connections are served at once; a new
 *     one beyond that evicts the oldest connection that has not sent a
 *     complete request head yet, and when every slot is busy with a
 *     request the new one gets a canned 503 and is closed;
 *   - a connection must send a complete request head within
 *     METRICSD_HEAD_TIMEOUT_MS of being accepted (or of its previous
 *     answer, for keep-alive), however slowly it trickles bytes; then it
 *     is closed. */
#ifndef WEFT_SHARED_METRICSD_H
#define WEFT_SHARED_METRICSD_H

#include "shared/buf.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct metricsd;

/* Appends the metrics text to out on demand; returns 0 or a negative
 * code (the server answers 500 then). */
typedef int metricsd_fill_fn(struct buf *out, void *ctx);

#define METRICSD_MAX_CONNS 64
#define METRICSD_HEAD_TIMEOUT_MS 5000

/* One readiness condition for /readyz: name is a short identifier
 * ([a-z_]+, static storage), ok whether it holds. */
struct metricsd_check {
	const char *name;
	bool ok;
};

/* Fills up to cap checks and returns how many it filled. Called on the
 * loop thread for every GET /readyz. */
typedef size_t metricsd_ready_fn(struct metricsd_check *checks, size_t cap,
				 void *ctx);

/* Starts the server on listen (port 0: any) in loop l. fill is called on
 * the loop thread for every GET /metrics. Returns 0 and *out (the caller
 * owns it: metricsd_del), WEFT_ERR_INVAL, WEFT_ERR_NOMEM, or -EADDRINUSE
 * and similar when the daemon cannot start (*out untouched). */
int metricsd_new(struct loop *l, const struct ip_endpoint *listen,
		 metricsd_fill_fn *fill, void *ctx, struct metricsd **out);

/* Makes GET /readyz answer 200 {"status":"ready","checks":{...}} when
 * every check fn reports is ok, and 503 {"status":"not_ready","missing":
 * [names],"checks":{...}} otherwise. Without it /readyz answers 404. */
void metricsd_set_ready(struct metricsd *m, metricsd_ready_fn *fn, void *ctx);

/* Stops the server and frees m. NULL ok. */
void metricsd_del(struct metricsd *m);

/* The port the server listens on (the bound one when asked for 0). */
uint16_t metricsd_port(const struct metricsd *m);

/* Helpers for the Prometheus text format (version 0.0.4). Each appends
 * to b and returns 0 or the buffer's error. */

/* "# HELP name help" and "# TYPE name type". */
int metricsd_family(struct buf *b, const char *name, const char *type,
		    const char *help);

/* "name v". */
int metricsd_sample(struct buf *b, const char *name, uint64_t v);

/* "name{label="value"} v"; value is escaped (\\, \", \n). */
int metricsd_labelled(struct buf *b, const char *name, const char *label,
		      const char *value, uint64_t v);

/* A family with one unlabelled sample. */
int metricsd_one(struct buf *b, const char *name, const char *type,
		 const char *help, uint64_t v);

#endif
