/* Stream-mode counts kept beside the stream table (agent/streams.h): a
 * forward's (struct streamcount, shared by reference between the forward
 * and its streams, so a forward removed while its streams run leaves them
 * counting into it until the last one ends) and each peer's (struct
 * streamcount_peers: what became of the streams with it, either
 * direction). Runs on the loop thread. */
#ifndef WEFT_AGENT_STREAMCOUNT_H
#define WEFT_AGENT_STREAMCOUNT_H

#include "shared/idmap.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct streamcount {
	uint64_t accepted; /* connections the listener took (its owner
			    * counts them) */
	uint64_t opened;   /* of those, streams opened on a peer
			    * connection */
	uint64_t failed;   /* refused here (a limit, no such peer, no
			    * connection in time) or by the peer before
			    * any byte */
	uint64_t bytes_tx, bytes_rx; /* TCP payload: from the client, to it */
	unsigned active;
	unsigned refs;
};

/* A new count with one reference, or NULL when out of memory. */
struct streamcount *streamcount_new(void);

/* Drops a reference; the last one frees c. NULL is fine. */
void streamcount_put(struct streamcount *c);

/* Per peer id: opened and refused (kept until freed: peers that ever had
 * a stream with us). */
struct streamcount_peers {
	struct idmap m;
};

void streamcount_peers_init(struct streamcount_peers *p);
void streamcount_peers_free(struct streamcount_peers *p);

/* Counts a stream with peer (> 0; others are not counted) as opened or
 * refused. Out of memory: not counted. */
void streamcount_peer_add(struct streamcount_peers *p, int64_t peer,
			  bool refused);

/* Sets "streams": {"active", "opened", "refused"} in e, with active as
 * given and peer's counts (NULL p: zeros). Returns 0 or WEFT_ERR_NOMEM. */
int streamcount_peer_json(const struct streamcount_peers *p, int64_t peer,
			  unsigned active, json_t *e);

#endif
