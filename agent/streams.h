/* Stream mode (issue 18, first slice): TCP connections carried as QUIC
 * streams on the per-peer connections, without a TUN or root.
 *
 * Opening side: streams_open takes an accepted TCP connection (a
 * --forward listener, agent/streamfwd.h) and a target node; it opens a
 * bidirectional stream on the peer's connection (setting it up first if
 * needed, for up to STREAMS_CONNECT_MS), writes the header
 * (agent/streamhdr.h: the node's mesh IP and the port) and splices.
 *
 * Receiving side (TUN mode or not): a stream the peer opens starts with
 * that header. The target must be one of our own mesh addresses, or a
 * resource we serve as a connector (agent/streamtarget.h: an address
 * inside an ip, cidr or internet resource, the name of a DNS resource or
 * one under a wildcard resource); the request is checked with the
 * packet filter exactly as a TCP SYN from the peer's mesh address to
 * that port would be (same rules, same counters; for a name, to the
 * resource's mapped address, where the peer's packets would go), a
 * denial is logged (event=stream_denied, at most once a second with the
 * number suppressed), and an allowed one is connected, without
 * blocking, to our own local service on 127.0.0.1:port (a node dials
 * nothing else), to the resource's address, or to the first address our
 * own resolver gives the name (agent/streamname.h); the resolve and the
 * connect together get STREAMS_DIAL_MS.
 *
 * Both sides then copy bytes both ways: a TCP FIN ends the stream's
 * sending side and a stream FIN shuts the TCP connection's sending side
 * (half-close); a TCP reset resets the stream and a stream reset resets
 * the TCP connection (SO_LINGER 0). Backpressure: the TCP socket is not
 * read while the stream's send buffer is full, and stream bytes count as
 * consumed only once written to the TCP socket, so a slow reader stops
 * the sender through QUIC flow control; per stream at most the 1 MiB
 * window and a 16 KiB read buffer are held.
 *
 * Limits (struct streams_limits): at most per_peer streams per peer and
 * total streams in all (either side) are open; more are refused (TCP
 * reset on the opening side, stream reset STREAM_ERR_LIMIT on the
 * receiving side) and counted, per peer and total apart. A stream with
 * no byte either way for idle_ms is reset on both sides (STREAM_ERR_IDLE
 * and a TCP reset) and counted as idle_closed.
 *
 * Runs on the loop thread. */
#ifndef WEFT_AGENT_STREAMS_H
#define WEFT_AGENT_STREAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define STREAMS_PEER_MAX_DEFAULT 1024
#define STREAMS_TOTAL_MAX_DEFAULT 4096
#define STREAMS_IDLE_MS_DEFAULT (5 * 60 * 1000)
#define STREAMS_CONNECT_MS 5000
/* The receiving side's resolve and connect, together. */
#define STREAMS_DIAL_MS 15000
/* The streams a peer may open on its connection at once as QUIC counts
 * them (and so the highest per-peer limit): above the limits, so that
 * streams over a limit are refused by the stream table, counted, not
 * held back by QUIC. */
#define STREAMS_QUIC_MAX 65536

/* 0 in a field: its default. */
struct streams_limits {
	unsigned per_peer; /* --max-streams-per-peer */
	unsigned total;    /* --max-streams */
	int64_t idle_ms;   /* --stream-idle-timeout */
};

struct dataplane;
struct loop;
struct map;
struct streams;

struct streams_stats {
	uint64_t opened;          /* streams we opened (forwards) */
	uint64_t accepted;        /* streams from peers, connected locally */
	uint64_t accepted_resource; /* ... of them to resources we serve */
	uint64_t refused_peer_limit;  /* over limits.per_peer, either side */
	uint64_t refused_total_limit; /* over limits.total, either side */
	uint64_t refused_policy;  /* the filter denied them (also counted
				   * in the filter's denied) */
	uint64_t refused_target;  /* bad header, or neither our address nor
				   * a resource we serve */
	uint64_t refused_service; /* nothing listens on 127.0.0.1:port, or
				   * the resource did not take the
				   * connection within STREAMS_DIAL_MS */
	uint64_t refused_resolve; /* a resource's name we could not resolve
				   * (NXDOMAIN, no address, no answer) */
	uint64_t refused_early;   /* ours: the resource's filters do not
				   * allow the port (streams_refuse) */
	uint64_t failed;          /* ours: no such peer, no connection
				   * within STREAMS_CONNECT_MS, or reset
				   * by the peer before any byte */
	uint64_t resets;          /* reset either way after they opened */
	uint64_t idle_closed;     /* reset after limits.idle_ms idle */
	uint64_t bytes_tx, bytes_rx; /* TCP payload bytes */
	unsigned active;
};

/* Creates the stream table on dp's tunnels (dp opened, map and dp
 * borrowed: they outlive s) with lim (NULL: the defaults). Returns 0 and
 * *out or WEFT_ERR_NOMEM. */
int streams_new(struct loop *l, struct dataplane *dp, const struct map *m,
		const struct streams_limits *lim, struct streams **out);

/* Resets every stream and TCP connection and frees s. NULL is fine. */
void streams_del(struct streams *s);

/* Splices the TCP connection fd (taken: closed by s in every case) to
 * port on node peer, whose mesh address host (an IP literal) goes into
 * the header. */
void streams_open(struct streams *s, int fd, int64_t peer, const char *host,
		  uint16_t port);

/* A connection the opening side refuses before any stream, with err
 * from streamtarget_pick: counted (WEFT_ERR_FORBIDDEN as refused_early,
 * anything else as failed) and, when fd >= 0, reset and closed. */
void streams_refuse(struct streams *s, int fd, int err);

void streams_get_stats(const struct streams *s, struct streams_stats *out);

/* The counters as the status's "streams" object (NULL s: zeros), or
 * NULL when out of memory. */
json_t *streams_json(const struct streams *s);

#endif
