/* The relay's protocol core: the table of authenticated nodes, token
 * authentication on the control stream, QUIC address discovery (QAD),
 * blind forwarding of relay frames, signaling, STUN answers and the
 * per-node limits (docs/protocol.md, sections 2 to 5).
 *
 * It does no I/O of its own. The glue (relay/server.c) feeds it events
 * (a control connection was accepted, bytes arrived on a stream, its
 * address changed, a non-QUIC datagram arrived, a timer fired) together
 * with the monotonic time, and the core acts through struct relay_ops:
 * send a datagram, queue control bytes, close a connection, arm a timer.
 * Tests drive it with stub ops.
 *
 * Connections and sockets are opaque handles (void *) that the core only
 * passes back to the ops. Everything runs on one thread. */
#ifndef WEFT_RELAY_RELAY_H
#define WEFT_RELAY_RELAY_H

#include "relay/limits.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relay;
struct relay_client;

/* Why an authentication failed, as counted and logged. */
enum relay_auth_fail {
	RELAY_AUTH_TIMEOUT = 0, /* no AUTH within the auth timeout */
	RELAY_AUTH_BAD_TOKEN,   /* signature, algorithm, claims */
	RELAY_AUTH_EXPIRED,     /* the token (or the one in force) expired */
	RELAY_AUTH_WRONG_NODE,  /* refresh with a token for another node */
	RELAY_AUTH_PROTOCOL,    /* another message before AUTH */
	RELAY_AUTH_NREASONS
};

/* Why a datagram or a control message was dropped. */
enum relay_drop {
	RELAY_DROP_UNKNOWN_SOURCE = 0, /* relay frame from no node's address */
	RELAY_DROP_MALFORMED,          /* undecodable Weft frame */
	RELAY_DROP_UNEXPECTED,         /* a frame type the relay never takes */
	RELAY_DROP_NO_DESTINATION,     /* destination not connected */
	RELAY_DROP_RATE_LIMITED,       /* sender's forwarding limit */
	RELAY_DROP_SEND_FAILED,        /* the socket refused the datagram */
	RELAY_DROP_SIGNAL_RATE_LIMITED,/* sender's signaling limit */
	RELAY_DROP_SIGNAL_NO_DESTINATION,
	RELAY_DROP_QUEUE_FULL,         /* a control stream buffer was full */
	RELAY_DROP_STUN,               /* STUN that is not a Binding request */
	RELAY_DROP_OTHER,              /* first byte of no known kind */
	RELAY_DROP_NREASONS
};

/* Counters since relay_new. The gauges are current values. */
struct relay_stats {
	uint64_t clients;       /* gauge: control connections */
	uint64_t nodes;         /* gauge: authenticated nodes */
	uint64_t auth_ok;
	uint64_t auth_failed[RELAY_AUTH_NREASONS];
	uint64_t replaced;
	uint64_t frames_forwarded;
	uint64_t bytes_forwarded; /* payload bytes */
	uint64_t drops[RELAY_DROP_NREASONS];
	uint64_t peer_gone_sent;  /* frames and control messages */
	uint64_t qad_sent;
	uint64_t stun_answered;
	uint64_t signals_forwarded;
	uint64_t rate_limited_closes;
};

struct relay_config {
	struct limits_rate forward; /* relay frames per node */
	struct limits_rate signal;  /* SIGNAL messages per node */
	struct limits_rate gone;    /* PEER_GONE notices per node; 0: 10/s */
	int64_t auth_timeout_us;    /* 0: 5 s */
	unsigned max_known;         /* node ids remembered for "offline";
				     * 0: 65536 */
};

/* What the core asks of the glue. All are required. */
struct relay_ops {
	/* Sends datagram p[0..n) from socket sock to `to`. Returns 0 or a
	 * negative code (the datagram is then counted as dropped). */
	int (*send_datagram)(void *sock, const struct ip_endpoint *to,
			     const uint8_t *p, size_t n, void *ctx);
	/* Queues p[0..n) on stream stream_id of conn. Returns the number of
	 * bytes taken (fewer than n when the bounded buffer is full) or a
	 * negative code. */
	int (*send_stream)(void *conn, int64_t stream_id, const uint8_t *p,
			   size_t n, void *ctx);
	/* Resets a stream the client should not have opened. */
	void (*reset_stream)(void *conn, int64_t stream_id, uint64_t code,
			     void *ctx);
	/* Closes conn with an application error code. The glue calls
	 * relay_client_del for it, possibly before close returns. */
	void (*close)(void *conn, uint64_t code, const char *reason,
		      void *ctx);
	/* Arms conn's single timer to call relay_client_timeout at the
	 * monotonic time deadline_us (replacing any earlier arming). */
	void (*set_timer)(void *conn, int64_t deadline_us, void *ctx);
	/* Wall-clock time in unix seconds (token expiry, AUTH_OK). */
	int64_t (*wall_s)(void *ctx);
};

/* Creates a relay core. cfg and ops are copied. Returns 0 and *out,
 * WEFT_ERR_INVAL (missing ops) or WEFT_ERR_NOMEM; *out untouched on
 * failure. No controller key is set: every AUTH fails until
 * relay_set_controller_key. */
int relay_new(const struct relay_config *cfg, const struct relay_ops *ops,
	      void *ctx, struct relay **out);

/* Frees r and every client still in it, without calling any op. NULL ok. */
void relay_del(struct relay *r);

/* Sets the controller's public key (PEM text, copied) that tokens are
 * checked with; clients that authenticate later use it. Returns 0,
 * WEFT_ERR_INVAL for an empty or oversized (> 64 KiB) text, or
 * WEFT_ERR_NOMEM (the old key stays then). The text is not checked here:
 * a bad key makes every token fail (check it with token_verify first). */
int relay_set_controller_key(struct relay *r, const char *pub_pem);

/* Copies the counters into *out. */
void relay_stats(const struct relay *r, struct relay_stats *out);

/* A non-QUIC datagram p[0..n) arrived on socket sock from `from`: a STUN
 * request is answered, a RELAY_SEND from an authenticated node's address
 * is forwarded or answered with PEER_GONE, anything else is counted and
 * dropped. Never fails. */
void relay_datagram(struct relay *r, void *sock,
		    const struct ip_endpoint *from, const uint8_t *p,
		    size_t n, int64_t now_us);

/* A control connection conn from remote on socket sock finished its
 * handshake at now_us. Arms its auth timer (set_timer). Returns 0 and
 * *out (valid until relay_client_del), or WEFT_ERR_NOMEM. */
int relay_client_new(struct relay *r, void *conn, void *sock,
		     const struct ip_endpoint *remote, int64_t now_us,
		     struct relay_client **out);

/* conn is gone: unlinks the client from the node table (if it still owns
 * its node) and frees it. NULL ok. Calls no op. */
void relay_client_del(struct relay_client *cl);

/* Bytes arrived on stream stream_id of the client's connection. Handles
 * every complete control message; may close the connection. */
void relay_client_stream(struct relay_client *cl, int64_t stream_id,
			 const uint8_t *p, size_t n, bool fin,
			 int64_t now_us);

/* The connection's remote address is now remote (NAT rebinding or
 * migration, or just a check after a packet). When it changed, moves the
 * node to the new address and sends QAD again. */
void relay_client_remote(struct relay_client *cl,
			 const struct ip_endpoint *remote, int64_t now_us);

/* The client's timer fired: closes with AUTH_REQUIRED before AUTH, with
 * TOKEN_EXPIRED when the token in force expired, else re-arms. */
void relay_client_timeout(struct relay_client *cl, int64_t now_us);

/* The authenticated node id of cl, 0 before AUTH. */
int64_t relay_client_node(const struct relay_client *cl);

/* Closes every client with SHUTTING_DOWN. */
void relay_shutdown(struct relay *r);

/* Human name of an auth failure or drop reason ("bad_token",
 * "unknown_source"): metric label values and log fields. */
const char *relay_auth_fail_name(enum relay_auth_fail f);
const char *relay_drop_name(enum relay_drop d);

#endif
