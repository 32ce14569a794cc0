/* A tiny HTTP server for GET /metrics (Prometheus text, filled on demand
 * by a callback) and GET /healthz, run inside a program's event loop:
 * libmicrohttpd in external epoll mode, so there is no extra thread and
 * the callback reads the program's counters without locks. */
#ifndef WEFT_SHARED_METRICSD_H
#define WEFT_SHARED_METRICSD_H

#include "shared/buf.h"
#include "shared/ip.h"

#include <stdint.h>

struct loop;
struct metricsd;

/* Appends the metrics text to out on demand; returns 0 or a negative
 * code (the server answers 500 then). */
typedef int metricsd_fill_fn(struct buf *out, void *ctx);

/* Starts the server on listen (port 0: any) in loop l. fill is called on
 * the loop thread for every GET /metrics. Returns 0 and *out (the caller
 * owns it: metricsd_del), WEFT_ERR_INVAL, WEFT_ERR_NOMEM, or -EADDRINUSE
 * and similar when the daemon cannot start (*out untouched). */
int metricsd_new(struct loop *l, const struct ip_endpoint *listen,
		 metricsd_fill_fn *fill, void *ctx, struct metricsd **out);

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
