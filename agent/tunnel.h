/* Peer tunnels on the relay path: one end-to-end QUIC connection per peer
 * pair (ALPN weft-peer/1), pinned both ways to the peers' keys in the map,
 * carrying IP packets in DATAGRAM frames.
 *
 * Roles: the node with the smaller id is the client, so two nodes never
 * build two connections. A client connects on demand, at the first packet
 * for the peer; a server that has a packet for a peer without a
 * connection sends the peer a one-byte "wake" relay payload (0x00, which
 * cannot be a QUIC packet: the fixed bit is clear) and the peer connects.
 * While a connection is being set up, up to TUNNEL_QUEUE_MAX packets per
 * peer wait; more are dropped (counted). No packet waits longer than
 * TUNNEL_QUEUE_AGE_MS, here or in the connection's datagram queue: older
 * ones are dropped and counted as stale (a late packet is worse than a
 * lost one).
 *
 * Virtual path: every peer has a virtual address (tunnel_vaddr) in
 * 240.0.0.0/4 (reserved, never routed); the endpoint's virtual local
 * address is TUNNEL_VLOCAL. QUIC packets the endpoint sends to a virtual
 * address go to the relay as RELAY_SEND for that node (send_relay), and
 * RELAY_RECV payloads are fed back with quic_endpoint_input_virtual from
 * the sender's virtual address.
 *
 * Direct path (docs/internals/paths.md): once a connection is up, a path
 * manager (agent/paths.h) per peer punches towards the peer's candidates
 * (map endpoints and "call me maybe" signals) with PROBE frames from the
 * endpoint's socket; the QUIC client migrates the connection to the
 * winning address and back to its virtual relay address when the direct
 * path dies. The probe key is exported from the connection's TLS session.
 * A client whose fall-back migration gets no answer within
 * TUNNEL_FALLBACK_MS closes the connection and reconnects on the relay.
 *
 * A server whose client does not follow its "direct path lost" signal
 * within TUNNEL_FALLBACK_MS closes the connection and wakes the client.
 *
 * Restarts (docs/internals/quic.md, "Restarted peers"): a relayed QUIC
 * packet or a path signal from a peer we have no connection with, or a
 * wake-up while we have one, means the peer uses a connection we lost or
 * lost ours: we dial (client) or wake it (server) at once.
 *
 * A connection closes when its peer leaves the map (or changes key) and
 * after TUNNEL_IDLE_MS without datagrams or stream bytes either way while
 * no stream is open on it. Runs on the loop
 * thread; never logs. */
#ifndef WEFT_AGENT_TUNNEL_H
#define WEFT_AGENT_TUNNEL_H

#include "agent/map.h"
#include "shared/ident.h"
#include "shared/ip.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TUNNEL_QUEUE_MAX 64
#define TUNNEL_QUEUE_AGE_MS 1000
#define TUNNEL_IDLE_MS (5 * 60 * 1000)
#define TUNNEL_PKT_MAX 1500
#define TUNNEL_WAKE 0x00
#define TUNNEL_FALLBACK_MS 1500
#define TUNNEL_PROBE_LABEL "weft probe key"

struct loop;
struct wire_frame;
struct quic_endpoint;
struct quic_conn;
struct tunnels;

/* The endpoint's virtual local address: 240.0.0.0 port 1. */
void tunnel_vlocal(struct ip_endpoint *out);

/* The virtual address of node id: 240.0.0.0 + (id & 0x0fffffff), port
 * 1 + (id >> 28). Returns 0, or WEFT_ERR_INVAL for id <= 0 or an id too
 * large to encode (>= 2^28 * 65535). */
int tunnel_vaddr(int64_t id, struct ip_endpoint *out);

/* The node id whose virtual address is e, or 0 when e is not one. */
int64_t tunnel_vaddr_id(const struct ip_endpoint *e);

struct tunnel_callbacks {
	/* An IP packet that arrived from peer (borrowed for the call). */
	void (*on_packet)(int64_t peer, const uint8_t *pkt, size_t len,
			  void *ctx);
	/* Sends payload to node dst through the relay; returns 0 or a
	 * negative code (ignored beyond counting: QUIC recovers). */
	int (*send_relay)(int64_t dst, const uint8_t *payload, size_t len,
			  void *ctx);
	/* Sends a signal (agent/signal.h payload) to node dst through the
	 * relay's control connection; returns 0 or a negative code. */
	int (*send_signal)(int64_t dst, const uint8_t *data, size_t len,
			   void *ctx);
	/* The connection to peer moved to a validated path: direct (addr is
	 * the peer's address) or back to the relay. May be NULL. */
	void (*on_path_change)(int64_t peer, bool direct,
			       const struct ip_endpoint *addr, void *ctx);
	/* A watched peer (tunnels_watch) was lost (lost: no answer on its
	 * connection, see TUNNEL_LOST_*) or answers again. Runs from a
	 * timer of t, never inside a QUIC callback. May be NULL. */
	void (*on_peer_lost)(int64_t peer, bool lost, void *ctx);
};

/* Direct-path counters over all peers, for metrics. */
struct tunnels_stats {
	uint64_t punch_rounds, punch_successes, fallbacks;
	unsigned direct_peers;
	int64_t last_time_to_direct_ms; /* -1: none yet */
	uint64_t stale; /* packets dropped after TUNNEL_QUEUE_AGE_MS queued */
};

/* Creates the tunnel table for node self_id on ep (borrowed; it must
 * outlive t, and t must be deleted first). cbs is copied. Returns 0 and
 * *out, WEFT_ERR_NOMEM, or -errno when no random seed can be had. */
int tunnels_new(struct loop *l, struct quic_endpoint *ep, int64_t self_id,
		const struct tunnel_callbacks *cbs, void *ctx,
		struct tunnels **out);

/* Closes every connection and frees t. NULL is fine. Not from a callback
 * of t. */
void tunnels_del(struct tunnels *t);

/* Sets our node id (known after registration). */
void tunnels_set_self(struct tunnels *t, int64_t self_id);

/* Replaces the peer set with peers[0..n) (borrowed for the call): peers
 * with a key get a tunnel entry, their endpoints become the direct-path
 * candidates (at most PATHS_CAND_MAX). Peers that left, lost their key or
 * whose key changed lose their connection and queue. O(n). Returns 0 or
 * WEFT_ERR_NOMEM. */
int tunnels_set_peers(struct tunnels *t, const struct map_peer *const *peers,
		      size_t n);

/* Applies one map update: a full diff is tunnels_set_peers with all of
 * m's peers; a delta touches only the diff's removed, added and changed
 * peers (O(changes)). m is the map after the update. Returns 0 or
 * WEFT_ERR_NOMEM. */
int tunnels_apply(struct tunnels *t, const struct map *m,
		  const struct map_diff *d);

/* Number of peers with a tunnel entry. */
size_t tunnels_count(const struct tunnels *t);

/* Our own candidates (the endpoints we publish), for ranking the peer's
 * and for "call me maybe". At most 16 are used. */
void tunnels_set_local(struct tunnels *t, const struct ip_endpoint *eps,
		       size_t n);

/* First retry delay after a failed punch round or a fallback (ms; 0: the
 * default 30 s). Applies to path managers created from now on. */
void tunnels_set_cooldown(struct tunnels *t, uint64_t ms);

/* TTL of the low-TTL opening probes of each punch round (1-255; 0: the
 * default PATHS_OPEN_TTL, negative: no openers). Applies to path
 * managers created from now on. */
void tunnels_set_open_ttl(struct tunnels *t, int ttl);

/* How long a connection may go without datagrams or stream bytes either
 * way, while no stream is open on it, before it closes (ms; 0: the
 * default TUNNEL_IDLE_MS). */
void tunnels_set_idle(struct tunnels *t, uint64_t ms);

/* Whether direct paths are tried at all (default true); false keeps
 * every connection made from now on on the relay. */
void tunnels_set_direct(struct tunnels *t, bool on);

/* Whether the relay's control connection is up (signals can go). Also
 * called when relays change (one up, one down, a new home): frames may
 * take another relay, so every peer connection waiting out a lost
 * window probes at once (quic_conn_probe). */
void tunnels_set_relay_up(struct tunnels *t, bool up);

/* A PROBE or PROBE_REPLY frame that arrived on the socket from `from`. */
void tunnels_input_frame(struct tunnels *t, const struct ip_endpoint *from,
			 const struct wire_frame *f);

/* A signal payload from node src (relay SIGNAL_FROM). */
void tunnels_input_signal(struct tunnels *t, int64_t src,
			  const uint8_t *data, size_t len);

/* Fills *out. */
void tunnels_stats(struct tunnels *t, struct tunnels_stats *out);

/* Sends one IP packet to peer, connecting or queueing as needed. Returns
 * 0 (sent or queued), WEFT_ERR_NOTFOUND (not a peer), WEFT_ERR_BUSY
 * (queue full: dropped), WEFT_ERR_TOOBIG, WEFT_ERR_NOMEM. */
int tunnels_send(struct tunnels *t, int64_t peer, const uint8_t *pkt,
		 size_t len);

/* Feeds a RELAY_RECV payload from node src (not from a connection
 * callback of ep). */
void tunnels_input_relay(struct tunnels *t, int64_t src,
			 const uint8_t *payload, size_t len);

/* For the endpoint's options: whether a client with key may connect
 * (a current peer), and the accepted connection. */
bool tunnels_accept_peer(struct tunnels *t,
			 const uint8_t key[IDENT_KEY_LEN]);
void tunnels_on_accept(struct tunnels *t, struct quic_conn *c);

/* Liveness of watched peers (the connectors a client sends resource
 * traffic to): a peer is lost when ack-eliciting data to it got nothing
 * back for max(TUNNEL_LOST_MS, 3 x (RTT + 25 ms)) on whatever path its
 * connection uses (relay or direct), or when packets for it waited
 * TUNNEL_LOST_CONNECT_MS for a connection that did not come up. It is
 * alive again as soon as anything arrives from it. This is the same
 * "nothing back" rule that retires a dead direct path (tunnel_paths.c),
 * applied to the whole connection, so a client need not wait for the
 * controller's offline grace to stop using a dead connector. */
#define TUNNEL_LOST_MS 300
#define TUNNEL_LOST_CONNECT_MS 800
#define TUNNEL_WATCH_MS 50

/* Starts (on) or stops watching peer; stopping forgets that it was
 * lost. Returns 0 or WEFT_ERR_NOTFOUND (not a peer with a key: a peer
 * added later must be watched again), WEFT_ERR_NOMEM. */
int tunnels_watch(struct tunnels *t, int64_t peer, bool on);

/* Whether peer is watched and lost; *since (may be NULL) gets the loop
 * time in ms when it was lost. */
bool tunnels_peer_lost(const struct tunnels *t, int64_t peer,
		       int64_t *since);

/* For a lost peer that is about to be used again: closes its (dead)
 * connection so the next packet sets up a fresh one. Nothing for a peer
 * that is not lost. */
void tunnels_retry(struct tunnels *t, int64_t peer);

/* Stream mode (agent/streams.h) rides on the peer connections: QUIC
 * streams on the same connection as the datagrams. */
struct tunnel_stream_callbacks {
	/* Bytes of stream sid on peer's connection c (quic.h's
	 * on_stream_data); remote: the peer opened the stream. */
	void (*on_data)(int64_t peer, struct quic_conn *c, int64_t sid,
			bool remote, const uint8_t *data, size_t len, bool fin,
			void *ctx);
	void (*on_writable)(int64_t peer, struct quic_conn *c, int64_t sid,
			    void *ctx);
	/* The stream is gone (quic.h's on_stream_closed: code is the first
	 * reset's application code, 0 for none). */
	void (*on_closed)(int64_t peer, struct quic_conn *c, int64_t sid,
			  uint64_t code, void *ctx);
	/* c is closing: its streams are gone without on_closed. c may not
	 * be used once this returns. */
	void (*on_conn_gone)(int64_t peer, struct quic_conn *c, void *ctx);
	/* Whether streams are open with peer: its connection is then not
	 * idle, however long no datagram and no stream byte arrived (a
	 * sender to a slow reader only gets acknowledgements; streams have
	 * their own idle timeout). NULL: never. */
	bool (*busy)(int64_t peer, void *ctx);
};

/* Sets the stream callbacks (copied; NULL: none). */
void tunnels_set_stream_callbacks(struct tunnels *t,
				  const struct tunnel_stream_callbacks *cbs,
				  void *ctx);

/* peer's connection when it is up (counting as activity), else NULL:
 * then it is being set up (dialled, or the peer woken), so ask again
 * shortly; also NULL for a node that is not a peer. For a watched peer
 * the call counts as data sent (tunnels_watch): asked for while the
 * connection does not come up for TUNNEL_LOST_CONNECT_MS, or with bytes
 * in flight and no answer, the peer is reported lost. */
struct quic_conn *tunnels_stream_conn(struct tunnels *t, int64_t peer);

/* Per-peer state for `weft-agent peers`: adds "path" ("direct" or "relay"
 * with an established connection, else "none"), "direct_addr" (the peer's
 * address on the direct path, else null), "path_changed" (unix seconds
 * or null; the local API shows it as an RFC 3339 time), "rx_bytes", "tx_bytes", "rtt_ms" (null without a connection),
 * "last_handshake" (unix seconds or null), "dropped", and "punch": the
 * path manager's "state", "rounds", "successes", "fallbacks",
 * "time_to_direct_ms" and "next_try_ms" (null when not waiting). Returns
 * 0 or WEFT_ERR_NOMEM. */
int tunnels_peer_json(struct tunnels *t, int64_t peer, json_t *obj);

#endif
