/* The agent's Prometheus metrics (--metrics-listen): state, controller,
 * relay, per-peer bytes, filter, drops, direct paths and the UDP socket,
 * and its readiness (/readyz: registered, map, home relay), served by
 * shared/metricsd on the loop. */
#ifndef WEFT_AGENT_METRICS_H
#define WEFT_AGENT_METRICS_H

#include <stddef.h>

struct agent_view;
struct metricsd;

/* Serves v's metrics on listen ("ADDR:PORT", port 0: any free one) until
 * metricsd_del. v is borrowed and must outlive the server. Returns 0 and
 * *out; or WEFT_ERR_INVAL (bad address) or a metricsd_new error, with a
 * sentence for the user in msg (msglen bytes). */
int metrics_start(const struct agent_view *v, const char *listen,
		  struct metricsd **out, char *msg, size_t msglen);

#endif
