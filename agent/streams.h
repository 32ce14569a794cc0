/* Stream mode (issue 18, first slice): TCP connections carried as QUIC
 * streams on the per-peer connections, without a TUN or root.
 *
 * Opening side: streams_open takes an accepted TCP connection (a
 * --forward listener, agent/streamfwd.h) and a target node; it opens a
 * bidirectional stream on the peer's connection (setting it up first if
 * needed), writes the header (agent/streamhdr.h: the node's mesh IP and
 * the port) and splices at once: the client's bytes go out before the
 * peer's open reply. The reply byte is stripped from what the client
 * gets. A stream without a connection within STREAMS_CONNECT_MS of its
 * start, or without the peer's reply within STREAMS_REPLY_MS of its
 * opening, is reset (counted as failed).
 * streams_open_reply does the same and tells a hook the outcome (the
 * proxies, agent/streamsocks.h, answer their client with it).
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
 * connect together get STREAMS_DIAL_MS. Once that connect succeeds the
 * open reply (STREAMHDR_REPLY_OK) is written on the stream; every refusal
 * is a stream reset with its STREAM_ERR_* code.
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
 * reset or the hook's STREAM_ERR_LIMIT on the opening side, stream reset
 * STREAM_ERR_LIMIT on the receiving side) and counted, per peer and
 * total apart. A stream with
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
/* An interactive session (ssh, psql) may sit silent for long: the idle
 * reset is for streams nobody will use again, TCP keepalives find the
 * dead ones. */
#define STREAMS_IDLE_MS_DEFAULT (60 * 60 * 1000)
#define STREAMS_KEEPALIVE_IDLE_S 60
#define STREAMS_KEEPALIVE_INTVL_S 15
#define STREAMS_KEEPALIVE_CNT 4
/* Ours: the peer connection must be up within this of the start. */
#define STREAMS_CONNECT_MS 5000
/* The receiving side's resolve and connect, together. */
#define STREAMS_DIAL_MS 15000
/* Ours: the open reply must come within this of the stream's opening
 * (the far side's dial and a round trip). */
#define STREAMS_REPLY_MS (STREAMS_DIAL_MS + 1000)
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
struct streamcount;
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
				   * within STREAMS_CONNECT_MS or no open
				   * reply within STREAMS_REPLY_MS, or
				   * reset by the peer before its reply */
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
 * the header. counts (a forward's, or NULL) gets a reference for as long
 * as the stream lives and counts it too. */
void streams_open(struct streams *s, int fd, int64_t peer, const char *host,
		  uint16_t port, struct streamcount *counts);

/* The outcome of a stream we open, as streams_open_reply's hook gets it:
 * STREAMS_REPLY_OK (the peer connected to the target), the STREAM_ERR_*
 * code the peer reset the stream with, STREAM_ERR_LIMIT for our own
 * limits, STREAM_ERR_TARGET for no peer, or one of these. */
#define STREAMS_REPLY_OK 0
#define STREAMS_REPLY_TIMEOUT 0x100 /* no connection to the peer, or no
				     * reply within STREAMS_REPLY_MS */
#define STREAMS_REPLY_FAILED 0x101  /* anything else (the connection
				     * went, a bad reply, the TCP side
				     * failed, out of memory) */

/* Called once per stream with its outcome. For STREAMS_REPLY_OK, fd is
 * still the stream's: the hook may write to it (an answer, before any of
 * the target's bytes) but not close it. For any other code fd is the
 * hook's to answer and close; the stream is gone. Runs inside streams'
 * callbacks: it must not call into s. */
typedef void (*streams_reply_fn)(int fd, int code, void *ctx);

/* streams_open with a hook (NULL: none, as streams_open). Streams still
 * waiting for their reply when s is deleted are reset without it. */
void streams_open_reply(struct streams *s, int fd, int64_t peer,
			const char *host, uint16_t port,
			struct streamcount *counts, streams_reply_fn fn,
			void *ctx);

/* A connection the opening side refuses before any stream, with err
 * from streamtarget_pick: counted (WEFT_ERR_FORBIDDEN as refused_early,
 * anything else as failed) and, when fd >= 0, reset and closed. */
void streams_refuse(struct streams *s, int fd, int err);

void streams_get_stats(const struct streams *s, struct streams_stats *out);

/* Sets "streams": {"active", "opened", "refused"} in the peers answer's
 * object e of peer: streams with that peer open now, the ones that
 * opened (either side: ours the peer's connection took, theirs connected
 * here) and the ones refused (either side: over a limit, denied, bad
 * target, nothing listening, or ours failed). Returns 0 or
 * WEFT_ERR_NOMEM. NULL s: zeros. */
int streams_peer_json(const struct streams *s, int64_t peer, json_t *e);

/* The counters as the status's "streams" object (NULL s: zeros), or
 * NULL when out of memory. */
json_t *streams_json(const struct streams *s);

#endif
