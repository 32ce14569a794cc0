/* The client side of the relay protocol (docs/protocol.md §3), shared by
 * the agent's relay client (agent/relayc.c) and the diagnostic
 * weft-relay-probe (relay/probe.c): one QUIC connection to one relay on
 * the caller's endpoint, stream 0 and the control messages on it, AUTH,
 * the PONG owed to each PING, the relay frames (RELAY_SEND out,
 * RELAY_RECV/PEER_GONE in) on the same UDP socket, and, when asked for,
 * keep-alive: a relay that has sent nothing for 1 s gets a PING, and the
 * connection is given up when 1.5 s more pass without an answer or when
 * it has not authenticated (AUTH_OK) within 3 s of starting.
 *
 * Policy stays with the callers: which relay, which token, when to
 * connect again (relayconn_backoff_ms helps), what a message means.
 *
 * Runs on the loop thread; reports through callbacks and never logs. */
#ifndef WEFT_RELAYCONN_H
#define WEFT_RELAYCONN_H

#include "shared/ident.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct quic_endpoint;
struct quic_close_info;
struct wire_frame;
struct wire_msg;
struct relayconn;

/* Callbacks; any may be NULL. They run on the loop thread and may call the
 * functions below on the same relayconn, but not relayconn_del. */
struct relayconn_callbacks {
	/* The handshake is done and stream 0 is open: send AUTH now. */
	void (*on_established)(void *ctx);
	/* A control message from the relay. PING (answered here with PONG)
	 * and PONG (keep-alive) are not passed on. */
	void (*on_msg)(const struct wire_msg *m, void *ctx);
	/* A malformed message: the connection is closed with
	 * WIRE_CLOSE_PROTOCOL_ERROR right after this returns. */
	void (*on_protocol_error)(void *ctx);
	/* The connection ended; i says how. silent: keep-alive gave it up
	 * (no answer to a PING, or no AUTH_OK in time). Called exactly once
	 * per relayconn_connect that returned 0, also after relayconn_close
	 * (at once, or after the running callback returns). A new connection
	 * may be started from here. */
	void (*on_closed)(const struct quic_close_info *i, bool silent,
			  void *ctx);
};

/* Creates a client without a connection on ep (borrowed: it must outlive
 * rc, and rc must be deleted before it), with keep-alive or without. cbs
 * is copied. Returns 0 and *out, WEFT_ERR_NOMEM or a loop error; *out is
 * untouched on failure. */
int relayconn_new(struct loop *l, struct quic_endpoint *ep, bool keepalive,
		  const struct relayconn_callbacks *cbs, void *ctx,
		  struct relayconn **out);

/* Closes the connection, if any, without callbacks, and frees rc. NULL is
 * fine. Must not be called from a callback of rc. */
void relayconn_del(struct relayconn *rc);

/* Sets the relay: its UDP address and its key (pin). NULL addr: none. The
 * next relayconn_connect uses it; frames are sent to and accepted from
 * this address from now on. A live connection is not touched (close it
 * first to move). */
void relayconn_set_relay(struct relayconn *rc, const struct ip_endpoint *addr,
			 const uint8_t pin[IDENT_KEY_LEN]);

/* Starts a connection to the relay. Returns 0 (on_established or
 * on_closed follow), WEFT_ERR_BUSY while a connection exists,
 * WEFT_ERR_INVAL without a relay, or WEFT_ERR_NOMEM / a QUIC error (then
 * there is no connection and no callback follows). */
int relayconn_connect(struct relayconn *rc);

/* True from a successful relayconn_connect until on_closed. */
bool relayconn_active(const struct relayconn *rc);

/* True from on_established until on_closed: messages can be sent. */
bool relayconn_established(const struct relayconn *rc);

/* The connection's smoothed round-trip time (QUIC's estimate from the
 * handshake, PINGs and frames), 0 without an established connection. */
uint64_t relayconn_rtt_us(const struct relayconn *rc);

/* Sends m on stream 0. Returns 0, WEFT_ERR_CLOSED before on_established
 * or without a connection, WEFT_ERR_INVAL for a message wire_msg_encode
 * refuses, or WEFT_ERR_BUSY when the stream's buffer is full. */
int relayconn_send_msg(struct relayconn *rc, const struct wire_msg *m);

/* Sends AUTH with token (1..TOKEN_MAX_LEN bytes), as relayconn_send_msg. */
int relayconn_auth(struct relayconn *rc, const char *token);

/* Closes the connection, if any and not closing already, with the
 * application code app_code and reason; on_closed follows. */
void relayconn_close(struct relayconn *rc, uint64_t app_code,
		     const char *reason);

/* Sends payload (1..WIRE_PAYLOAD_MAX bytes) to node dst through the relay
 * as a RELAY_SEND frame from the endpoint's socket (no connection needed:
 * the relay drops frames of unauthenticated addresses). Returns 0,
 * WEFT_ERR_CLOSED (no relay) or WEFT_ERR_INVAL (bad size or node 0, or
 * see quic_endpoint_send_raw). */
int relayconn_send_frame(struct relayconn *rc, uint64_t dst,
			 const void *payload, size_t len);

/* Looks at a non-QUIC datagram from the endpoint (its on_other). Returns
 * 1 and *f (pointing into data) for a well-formed relay frame from the
 * relay's address, which also counts as a sign of life; 0 for another
 * datagram from the relay (a STUN answer, say); WEFT_ERR_INVAL for a
 * datagram from anyone else, or a malformed frame. */
int relayconn_input(struct relayconn *rc, const struct ip_endpoint *from,
		    const uint8_t *data, size_t len, struct wire_frame *f);

/* The wait before the next attempt after `attempts` failed ones: min_ms
 * doubled per attempt up to max_ms, then a uniformly random amount
 * between half of that and all of it, so clients that lost their relay
 * together do not come back together. */
int64_t relayconn_backoff_ms(unsigned attempts, int64_t min_ms,
			     int64_t max_ms);

#endif
