/* Prometheus metrics for the relay: the text rendering of the counters
 * (pure, unit-tested). shared/metricsd serves it on GET /metrics. */
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
	/* UDP datagrams and socket messages, both directions (GSO/GRO) */
	uint64_t udp_sent, udp_send_msgs, udp_recv, udp_recv_msgs;
};

/* Appends the Prometheus text exposition (version 0.0.4) of s and e to
 * out. Returns 0, or WEFT_ERR_TOOBIG / WEFT_ERR_NOMEM from the buffer. */
int metrics_render(const struct relay_stats *s, const struct metrics_engine *e,
		   struct buf *out);

#endif
