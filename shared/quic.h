/* The QUIC engine: ngtcp2 0.12 + GnuTLS on one UDP socket per endpoint,
 * driven by the shared event loop.
 *
 * An endpoint owns one UDP socket and hosts client and server connections
 * at once, demultiplexed by destination connection ID. Datagrams whose
 * first byte lacks the QUIC fixed bit (0x40) are not QUIC (STUN, Weft relay
 * frames, probes) and go to the endpoint's on_other callback.
 *
 * Every connection is TLS 1.3 with one ALPN and mutual authentication:
 * both sides present the self-signed certificate of their node identity
 * (shared/ident.h) and check the peer's Ed25519 key. A client compares it
 * with the pin given to quic_connect; a server asks accept_peer. There are
 * no certificate-less clients.
 *
 * Relayed paths: an endpoint may have a "virtual" local address. Packets a
 * connection sends on a path from that address are handed to send_virtual
 * instead of the socket (the caller wraps them into relay frames), and
 * packets that arrive wrapped are fed back with quic_endpoint_input_virtual.
 * Because the virtual local address differs from the socket's, moving a
 * client connection between the relayed and the direct path is an ordinary
 * QUIC migration with path validation (quic_conn_migrate).
 *
 * Callbacks run on the loop thread. Inside a connection callback the
 * connection's functions may be called (sending is queued and happens
 * when the callback returns), but quic_endpoint_del must not be, and
 * quic_endpoint_input_virtual must not be called for a packet of the
 * connection whose callback is running (queue it and inject it later). */
#ifndef WEFT_QUIC_H
#define WEFT_QUIC_H

#include "shared/ident.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUIC_ALPN_RELAY "weft-relay/1"
#define QUIC_ALPN_PEER "weft-peer/1"
#define QUIC_MAX_ALPNS 4
#define QUIC_REASON_MAX 128 /* close reasons are cut to this many bytes */

struct loop;
struct quic_endpoint;
struct quic_conn;

/* Why a connection ended. err is 0 for an application close (code is the
 * application error code, by either side), WEFT_ERR_AUTH when a side
 * rejected the other's key, WEFT_ERR_UNSUPPORTED when no ALPN matched,
 * WEFT_ERR_TIMEOUT for an idle or handshake timeout, WEFT_ERR_CLOSED for a
 * transport-level close without error or a stateless reset, WEFT_ERR_PROTO
 * for any other transport error (code is then the transport error code). */
struct quic_close_info {
	int err;
	bool remote;        /* the peer ended the connection */
	bool app;           /* code is an application error code */
	uint64_t code;
	const char *reason; /* NUL-terminated, printable ASCII; "" if none */
};

/* Per-connection callbacks; any may be NULL. */
struct quic_conn_callbacks {
	/* Client only: the handshake is confirmed, so the server accepted
	 * our certificate. */
	void (*on_established)(struct quic_conn *c, void *ctx);
	void (*on_datagram)(struct quic_conn *c, const uint8_t *data,
			    size_t len, void *ctx);
	/* In-order stream bytes; fin marks the end of the peer's side. Data
	 * counts as consumed when the callback returns. */
	void (*on_stream_data)(struct quic_conn *c, int64_t stream_id,
			       const uint8_t *data, size_t len, bool fin,
			       void *ctx);
	/* A stream's send buffer drained below half after quic_conn_stream_send
	 * refused bytes. */
	void (*on_stream_writable)(struct quic_conn *c, int64_t stream_id,
				   void *ctx);
	/* quic_conn_datagram returned WEFT_ERR_BUSY and the queue has
	 * drained to half since. */
	void (*on_datagram_writable)(struct quic_conn *c, void *ctx);
	/* The stream is gone on both sides (finished or reset); app_code:
	 * the application code of the first reset either way (the peer's
	 * RESET_STREAM / STOP_SENDING or our own shutdown), 0 for none. */
	void (*on_stream_closed)(struct quic_conn *c, int64_t stream_id,
				 uint64_t app_code, void *ctx);
	/* Result of a path validation started by quic_conn_migrate (client)
	 * or by the peer moving (server): ok means traffic now uses it. */
	void (*on_path)(struct quic_conn *c, bool is_virtual, bool ok,
			void *ctx);
	/* Called exactly once, also after quic_conn_close. c must not be
	 * used after this returns. */
	void (*on_closed)(struct quic_conn *c, const struct quic_close_info *i,
			  void *ctx);
};

struct quic_endpoint_options {
	struct ip_endpoint bind;  /* address and port (0: any free port) */
	const struct ident *id;   /* copied into the TLS credentials */
	/* ALPNs served to incoming connections (NULL-terminated, at most
	 * QUIC_MAX_ALPNS); NULL: accept no connections. */
	const char *const *alpns;
	/* Server: whether to accept a client with this key for this ALPN.
	 * Runs inside the handshake; must not call into the endpoint.
	 * Required when alpns is set. */
	bool (*accept_peer)(struct quic_endpoint *ep, const char *alpn,
			    const uint8_t key[IDENT_KEY_LEN], void *ctx);
	/* Server: an authenticated connection; set its callbacks now with
	 * quic_conn_set_callbacks. */
	void (*on_accept)(struct quic_endpoint *ep, struct quic_conn *c,
			  const char *alpn, void *ctx);
	/* A non-QUIC datagram from the socket. */
	void (*on_other)(struct quic_endpoint *ep,
			 const struct ip_endpoint *from, const uint8_t *data,
			 size_t len, void *ctx);
	/* The virtual local address (same family as bind, different
	 * address), or family 0 for none. */
	struct ip_endpoint virtual_local;
	/* A packet for the virtual address `to`. Must not re-enter the
	 * endpoint; return value is ignored (QUIC recovers from loss). */
	int (*send_virtual)(struct quic_endpoint *ep, struct quic_conn *c,
			    const struct ip_endpoint *to, const uint8_t *data,
			    size_t len, void *ctx);
	void *ctx;
	unsigned max_conns;        /* 0: 1024 */
	size_t max_stream_buffer;  /* unacked + unsent bytes per stream; 0: 1 MiB */
	/* Bidirectional streams a peer may have open at once on one
	 * connection (the limit is raised by one as each closes); 0: 100. */
	unsigned max_streams_bidi;
	uint32_t idle_timeout_ms;  /* 0: 30 s */
	uint32_t keepalive_ms;     /* 0: 20 s; values above 25 s become 25 s */
	uint32_t handshake_timeout_ms; /* 0: 10 s */
	bool retry;                /* validate client addresses with Retry */
	/* Stateless resets and Version Negotiation replies per second, which
	 * is also the burst; 0: 100. */
	unsigned stateless_rate;
	/* Never send with UDP GSO (UDP_SEGMENT); by default it is used when
	 * the kernel has it and dropped at the first send it fails. */
	bool no_gso;
	/* With an IPv6 bind address (normally [::]): also send to and
	 * receive from IPv4 addresses on the one socket (IPV6_V6ONLY off).
	 * The kernel shows IPv4 peers as IPv4-mapped IPv6 addresses; every
	 * address this API takes or gives stays plain IPv4. The virtual
	 * local address may then be of either family. */
	bool dual_stack;
	/* Derive the stateless reset secret from id instead of drawing it at
	 * random: a restarted process with the same key then resets the
	 * packets of connections it no longer knows with the tokens it gave
	 * out before, so their clients learn at once that it restarted
	 * (RFC 9000 §10.3) instead of waiting for the idle timeout. */
	bool stable_reset;
	/* Datagrams that waited longer than this in a connection's queue
	 * (congestion, a dead path) are dropped, not sent late: the tunnel
	 * carries IP packets, and a ping answered 26 s late is worse than a
	 * lost one. 0: 1000 ms. */
	uint32_t dgram_max_age_ms;
	/* Mark every packet the socket sends with this firewall mark
	 * (SO_MARK, needs CAP_NET_ADMIN); 0: no mark. Policy routing keeps
	 * marked packets out of a VPN's tunnel (the agent's exit node). */
	uint32_t fwmark;
	/* Never receive with UDP GRO (UDP_GRO): by default the socket takes
	 * several datagrams of one sender in one message when the kernel
	 * can (Linux 5.0). */
	bool no_gro;
};

struct quic_connect_options {
	struct ip_endpoint remote; /* real address, or virtual if is_virtual */
	bool is_virtual;           /* start on the virtual path */
	const char *alpn;
	uint8_t pin[IDENT_KEY_LEN]; /* the server's expected public key */
};

struct quic_conn_stats {
	uint64_t rtt_us;         /* smoothed */
	uint64_t min_rtt_us;
	uint64_t cwnd;
	uint64_t bytes_sent, bytes_recv;
	uint64_t pkts_sent, pkts_recv;
	uint64_t dgrams_sent, dgrams_recv, dgrams_dropped;
	uint64_t dgrams_stale;   /* dropped after dgram_max_age_ms queued */
	unsigned pto_count;      /* probe timeouts in a row, 0 after an ACK */
	uint64_t bytes_in_flight; /* ack-eliciting bytes not yet acknowledged */
	bool is_virtual;         /* current path is the virtual one */
	struct ip_endpoint remote;
};

struct quic_endpoint_stats {
	unsigned conns;             /* alive: quic_endpoint_conn_count */
	unsigned closing;           /* closed, still in the closing or
				     * draining period (RFC 9000 §10.2) */
	uint64_t close_resent;      /* CONNECTION_CLOSE sent again while
				     * closing */
	uint64_t stateless_sent;    /* stateless resets and Version
				     * Negotiation packets sent */
	uint64_t stateless_limited; /* ... not sent: over stateless_rate */
	uint64_t gso_sends;         /* messages carrying several packets
				     * with UDP_SEGMENT */
	bool gso;                   /* GSO is in use */
	uint64_t gro_recvs;         /* messages that held several datagrams
				     * (UDP GRO) */
	/* UDP datagrams and the socket messages (sendmmsg/recvmmsg entries)
	 * that carried them: datagrams per message shows what GSO and GRO
	 * save. */
	uint64_t udp_sent, udp_send_msgs;
	uint64_t udp_recv, udp_recv_msgs;
	bool gro;                   /* GRO is in use */
	uint64_t retry_sent;        /* Retry packets sent */
	uint64_t retry_failed;      /* Initials dropped: Retry token did not
				     * verify */
};

/* Opens the UDP socket, registers it in l and creates the endpoint.
 * Returns 0 and *out, WEFT_ERR_INVAL for bad options, WEFT_ERR_CRYPTO,
 * WEFT_ERR_NOMEM or -errno (socket, bind); *out is untouched on failure. */
int quic_endpoint_new(struct loop *l, const struct quic_endpoint_options *o,
		      struct quic_endpoint **out);

/* Closes every connection (sending CONNECTION_CLOSE, without calling
 * callbacks), the socket, and frees ep. NULL is fine. Must not be called
 * from a callback of ep. */
void quic_endpoint_del(struct quic_endpoint *ep);

/* The bound address with the actual port. Returns 0. */
int quic_endpoint_local(const struct quic_endpoint *ep,
			struct ip_endpoint *out);

/* Number of connections alive (not yet closed). */
unsigned quic_endpoint_conn_count(const struct quic_endpoint *ep);

/* Makes id the endpoint's TLS identity for connections made from now on
 * (a relay reloading its key on SIGHUP); connections already open keep
 * the old one. id is copied into new credentials, as at creation. Returns
 * 0, WEFT_ERR_NOMEM or WEFT_ERR_CRYPTO (the old identity stays then). */
int quic_endpoint_set_ident(struct quic_endpoint *ep, const struct ident *id);

/* Switches address validation with Retry on or off for Initials that
 * arrive from now on (the relay demands it above a handshake rate). */
void quic_endpoint_set_retry(struct quic_endpoint *ep, bool on);

/* Fills *out with the endpoint's counters. */
void quic_endpoint_stats(const struct quic_endpoint *ep,
			 struct quic_endpoint_stats *out);

/* Batching of sends: between cork and uncork (nested), datagrams sent
 * with quic_endpoint_send_raw and the packets connections write wait and
 * leave together in one sendmmsg (with GSO when packets are alike) at the
 * last uncork, or whenever TX_BATCH (32) are waiting. The endpoint corks
 * itself while it handles a receive batch; a caller that produces many
 * datagrams at once (an agent reading a burst from its TUN) corks around
 * the burst. */
void quic_endpoint_cork(struct quic_endpoint *ep);
void quic_endpoint_uncork(struct quic_endpoint *ep);

/* Sends one non-QUIC datagram (its first byte must have the top two bits
 * clear) from the endpoint's socket, at once or, while corked, at the
 * uncork. Returns 0 or WEFT_ERR_INVAL (also for an address of the other
 * family than the socket's). Delivery is best effort like any UDP
 * send: a full socket buffer drops the datagram. */
int quic_endpoint_send_raw(struct quic_endpoint *ep,
			   const struct ip_endpoint *to, const void *data,
			   size_t len);

/* The same with the IP TTL (IPv4) or hop limit (IPv6) ttl on this one
 * datagram (0: the socket's default), set per message with a control
 * message so the socket's other traffic keeps its default: a hole-punching
 * opener that must expire before the peer's NAT. The datagram is never
 * merged into a GSO batch. */
int quic_endpoint_send_raw_ttl(struct quic_endpoint *ep,
			       const struct ip_endpoint *to, const void *data,
			       size_t len, uint8_t ttl);

/* Feeds a packet that arrived on the virtual path from the virtual address
 * `from` (as if received at the endpoint's virtual_local). Returns 0 (also
 * when the packet is dropped), WEFT_ERR_INVAL when the endpoint has no
 * virtual address, WEFT_ERR_BUSY when called from a callback of the
 * connection it belongs to. */
int quic_endpoint_input_virtual(struct quic_endpoint *ep,
				const struct ip_endpoint *from,
				const void *data, size_t len);

/* Starts a client connection. The handshake runs from the loop; cbs are
 * copied. Returns 0 and *out, WEFT_ERR_INVAL (bad options, virtual path
 * without a virtual address), WEFT_ERR_EXHAUSTED (max_conns), or
 * WEFT_ERR_NOMEM / WEFT_ERR_CRYPTO. *out stays valid until on_closed. */
int quic_connect(struct quic_endpoint *ep,
		 const struct quic_connect_options *o,
		 const struct quic_conn_callbacks *cbs, void *ctx,
		 struct quic_conn **out);

/* Replaces c's callbacks and context (cbs is copied). */
void quic_conn_set_callbacks(struct quic_conn *c,
			     const struct quic_conn_callbacks *cbs, void *ctx);

/* Queues one DATAGRAM frame. Returns 0, WEFT_ERR_TOOBIG (larger than
 * quic_conn_datagram_max), WEFT_ERR_BUSY (queue full: on_datagram_writable
 * follows when it has room again),
 * WEFT_ERR_UNSUPPORTED (peer does not take datagrams, or handshake not
 * done), WEFT_ERR_CLOSED. */
int quic_conn_datagram(struct quic_conn *c, const void *data, size_t len);

/* Largest datagram payload that fits a packet on the current path now
 * (0 before the handshake completes). */
size_t quic_conn_datagram_max(struct quic_conn *c);

/* The path under c may have changed (a relay replaced by another): if
 * datagrams are held back because a window of them was lost, send the
 * next probe (a PING) now instead of after the backed-off timeout. */
void quic_conn_probe(struct quic_conn *c);

/* Opens a bidirectional stream. Returns 0 and *id, WEFT_ERR_BUSY when the
 * peer's stream limit is reached, WEFT_ERR_CLOSED, WEFT_ERR_NOMEM. */
int quic_conn_stream_open(struct quic_conn *c, int64_t *id);

/* Buffers up to len bytes for the stream (bounded by max_stream_buffer)
 * and, when fin and all bytes fit, ends the stream. Returns the number of
 * bytes taken (0 when the buffer is full: wait for on_stream_writable),
 * WEFT_ERR_NOTFOUND, WEFT_ERR_CLOSED (stream already finished), or
 * WEFT_ERR_NOMEM. */
int quic_conn_stream_send(struct quic_conn *c, int64_t id, const void *data,
			  size_t len, bool fin);

/* From now on (called inside on_stream_data, that call's bytes too) the
 * stream's received bytes count as consumed only when
 * quic_conn_stream_consume says so: the peer can then send at most the
 * stream's flow-control window (1 MiB) beyond what was consumed, so a
 * slow reader makes the sender wait instead of this side buffer. Returns
 * 0 or WEFT_ERR_NOTFOUND. */
int quic_conn_stream_hold(struct quic_conn *c, int64_t id);

/* n more bytes of a held stream were used: opens its window by n.
 * Returns 0 or WEFT_ERR_NOTFOUND (the stream is gone: nothing to do). */
int quic_conn_stream_consume(struct quic_conn *c, int64_t id, size_t n);

/* Resets the stream in both directions with app_code. Returns 0 or
 * WEFT_ERR_NOTFOUND. */
int quic_conn_stream_shutdown(struct quic_conn *c, int64_t id,
			      uint64_t app_code);

/* Closes c with an application error code and a reason (may be NULL; cut
 * to QUIC_REASON_MAX). on_closed follows (at once, or after the running
 * callback returns). Returns 0 or WEFT_ERR_CLOSED. */
int quic_conn_close(struct quic_conn *c, uint64_t app_code,
		    const char *reason);

/* The peer's Ed25519 key. Returns 0 or WEFT_ERR_AUTH before it is known. */
int quic_conn_peer_key(const struct quic_conn *c,
		       uint8_t out[IDENT_KEY_LEN]);

/* The negotiated ALPN ("" before it is known). */
const char *quic_conn_alpn(const struct quic_conn *c);

/* The peer's address on the current path (virtual or real). Returns 0. */
int quic_conn_remote(struct quic_conn *c, struct ip_endpoint *out);

/* Fills *out. */
void quic_conn_stats(struct quic_conn *c, struct quic_conn_stats *out);

/* Derives len bytes (1..64) of keying material bound to this connection
 * from its TLS session (RFC 5705/8446 exporter, label and no context):
 * both sides get the same bytes, nobody else can. Returns 0,
 * WEFT_ERR_INVAL (bad len), WEFT_ERR_BUSY (handshake not complete) or
 * WEFT_ERR_CRYPTO. */
int quic_conn_export(struct quic_conn *c, const char *label, uint8_t *out,
		     size_t len);

/* Client only: migrates to the path towards remote, from the virtual
 * local address (is_virtual) or the socket's address. The old path keeps
 * working until the new one is validated; on_path reports the result.
 * Returns 0, WEFT_ERR_INVAL (server, no virtual address, same path),
 * WEFT_ERR_BUSY (handshake not confirmed or no spare connection ID yet),
 * WEFT_ERR_CLOSED. */
int quic_conn_migrate(struct quic_conn *c, bool is_virtual,
		      const struct ip_endpoint *remote);

/* Like quic_conn_migrate, but traffic moves to the new path at once and
 * the validation runs afterwards (on_path reports it). For leaving a dead
 * path: ngtcp2 0.12's server answers a PATH_CHALLENGE on its current
 * path, so a validate-first move away from a dead path never validates;
 * packets that are not probes make the server follow instead. */
int quic_conn_migrate_now(struct quic_conn *c, bool is_virtual,
			  const struct ip_endpoint *remote);

#endif
