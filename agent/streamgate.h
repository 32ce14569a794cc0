/* The receiving side's gate of stream mode (agent/streams.h): whether a
 * stream a peer opens may be connected, decided from its header as the
 * packet filter decides for packets. The host must be one of our own
 * mesh addresses or a resource we serve (agent/streamtarget.h); the
 * request is then checked with the filter exactly as a TCP SYN from the
 * peer's mesh address to that address and port would be (same rules,
 * same counters), and a denial is logged (event=stream_denied, at most
 * once a second with the number suppressed).
 *
 * Glue on the loop thread: reads the data plane's addresses and filter
 * and the map; logs. */
#ifndef WEFT_AGENT_STREAMGATE_H
#define WEFT_AGENT_STREAMGATE_H

#include "agent/streamhdr.h"
#include "agent/streamtarget.h"

#include <stdint.h>

struct dataplane;
struct map;

/* The log's rate limit; zeroed to start. */
struct streamgate {
	int64_t logged_ms;
	uint64_t unlogged;
};

/* The verdict on header h of a stream from peer: 0 and *in (res_id 0:
 * our own service on 127.0.0.1:h->port), STREAM_ERR_TARGET (no such
 * peer, or neither our address nor a resource we serve) or
 * STREAM_ERR_DENIED (the filter refuses it; logged). */
int streamgate_decide(struct streamgate *g, struct dataplane *dp,
		      const struct map *m, int64_t peer,
		      const struct streamhdr *h, struct streamtarget_in *in);

#endif
