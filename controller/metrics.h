/* Prometheus metrics of the controller: request counts by route and status,
 * a request latency histogram, registrations, authentication failures, and
 * node gauges read from the store at scrape time. Thread-safe. */
#ifndef WEFT_METRICS_H
#define WEFT_METRICS_H

#include "shared/buf.h"

struct metrics;
struct store;

enum metrics_counter {
	METRICS_REGISTRATIONS,
	METRICS_AUTH_FAILURES,
	METRICS_COUNTER_END
};

int metrics_new(struct metrics **out);
void metrics_del(struct metrics *m);

/* Counts one finished request. route is a static route pattern ("other"
 * for unmatched paths). NULL m is ignored. */
void metrics_request(struct metrics *m, const char *route, const char *method,
		     int status, double seconds);

/* Adds one to a counter. NULL m is ignored. */
void metrics_inc(struct metrics *m, enum metrics_counter which);

/* Writes the text exposition format (version 0.0.4) into out, reading node
 * counts from st (may be NULL). */
int metrics_render(struct metrics *m, struct store *st, struct buf *out);

#endif
