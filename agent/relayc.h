/* The agent's relay client: the QUIC control connection to the home relay
 * (docs/protocol.md §3) on the agent's one QUIC endpoint, plus the relay
 * frames (RELAY_SEND/RELAY_RECV, PEER_GONE) on the same UDP socket.
 *
 * The caller says which relay to use (relayc_set_relay, from the map's
 * first relay) and with which token (relayc_set_token, the map's
 * relay_token). The client connects when it has both, sends AUTH on
 * stream 0, re-sends AUTH on the live connection when the token changes,
 * and reconnects with jittered exponential back-off (0.5 s to 30 s, reset
 * by AUTH_OK) when the connection ends. It PINGs a relay that has been
 * quiet for 1 s and gives the connection up when 1.5 s more pass without
 * an answer, or when a connection is not authenticated within 3 s; after
 * such silence, or a stateless reset from a restarted relay, it connects
 * again at once (after a connection that worked) or within 1 s. A new relay (name, address or pin)
 * closes the old connection and connects at once. After REPLACED (another
 * process took the node's place), AUTH_FAILED or TOKEN_EXPIRED it waits
 * for a different token before trying again sooner than the longest
 * back-off.
 *
 * The connection itself (stream 0, AUTH, PONGs, keep-alive PINGs, frames)
 * is shared/relayconn.h; this module is the agent's policy around it.
 *
 * Runs on the loop thread; reports through callbacks and never logs. */
#ifndef WEFT_AGENT_RELAYC_H
#define WEFT_AGENT_RELAYC_H

#include "shared/ident.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAYC_NAME_MAX 64

struct loop;
struct quic_endpoint;
struct quic_close_info;
struct relayc;

enum relayc_event_kind {
	RELAYC_CONNECTING, /* addr: the relay; a handshake starts */
	RELAYC_AUTHED,     /* node: the node id the relay confirmed */
	RELAYC_QAD,        /* addr: our address as the relay sees it */
	RELAYC_CLOSED,     /* close, retry_ms (-1: waits for a new token) */
	RELAYC_HOME,       /* (agent/relayset.h) name is the new home relay */
};

struct relayc_event {
	enum relayc_event_kind kind;
	const char *name;         /* the relay's name */
	struct ip_endpoint addr;
	uint64_t node;
	const struct quic_close_info *close;
	int64_t retry_ms;
	/* RELAYC_AUTHED / RELAYC_QAD on a connection already authenticated:
	 * a renewed token was accepted (every ~40 s with 60 s tokens) or the
	 * relay repeated an unchanged address. */
	bool again;
};

/* Callbacks; any may be NULL. They run on the loop thread and may call
 * relayc_send and relayc_status, but not relayc_del. */
struct relayc_callbacks {
	void (*on_event)(const struct relayc_event *ev, void *ctx);
	/* A RELAY_RECV frame from the relay: payload of node src. */
	void (*on_frame)(uint64_t src, const uint8_t *payload, size_t len,
			 void *ctx);
	/* The relay says node is not reachable through it (reason as in
	 * enum wire_gone_reason). */
	void (*on_peer_gone)(uint64_t node, uint8_t reason, void *ctx);
	/* A SIGNAL_FROM: data (1..WIRE_SIGNAL_MAX bytes) from node src. */
	void (*on_signal)(uint64_t src, const uint8_t *data, size_t len,
			  void *ctx);
};

/* Which relay to use. */
struct relayc_target {
	char name[RELAYC_NAME_MAX];
	struct ip_endpoint addr;
	uint8_t pin[IDENT_KEY_LEN];
};

struct relayc_status {
	bool have_relay;
	char name[RELAYC_NAME_MAX];
	struct ip_endpoint addr;   /* the relay */
	bool connected;            /* authenticated (AUTH_OK seen) */
	bool have_qad;
	struct ip_endpoint qad;    /* latest QAD, kept across reconnects */
	uint64_t node;             /* from AUTH_OK, 0 before */
	unsigned connects;         /* successful authentications so far */
	unsigned silences;         /* connections ended because the relay
				    * went quiet or reset them (restart) */
	uint64_t rtt_us;           /* smoothed RTT while connected, else 0 */
};

/* Creates a client that will use ep (borrowed: it must outlive r, and r
 * must be deleted before it). cbs is copied. Returns 0 and *out, or
 * WEFT_ERR_NOMEM / a loop error; *out untouched on failure. */
int relayc_new(struct loop *l, struct quic_endpoint *ep,
	       const struct relayc_callbacks *cbs, void *ctx,
	       struct relayc **out);

/* Closes the connection (without callbacks) and frees r. NULL is fine.
 * Must not be called from a callback of r. */
void relayc_del(struct relayc *r);

/* Sets the relay (t copied) or, with NULL, none (disconnects). The same
 * target again changes nothing. Returns 0, or WEFT_ERR_INVAL for a target
 * without a name or address. */
int relayc_set_relay(struct relayc *r, const struct relayc_target *t);

/* Sets the relay token (copied; NULL or "" forgets it). A different token
 * on an authenticated connection is sent as a new AUTH. Returns 0,
 * WEFT_ERR_TOOBIG (above TOKEN_MAX_LEN) or WEFT_ERR_NOMEM. */
int relayc_set_token(struct relayc *r, const char *token);

/* Feeds a non-QUIC datagram from the endpoint (its on_other). Frames that
 * do not come from the relay's address are dropped, as are malformed ones
 * and RELAY_SEND. */
void relayc_input(struct relayc *r, const struct ip_endpoint *from,
		  const uint8_t *data, size_t len);

/* Sends payload (1..WIRE_PAYLOAD_MAX bytes) to node dst as RELAY_SEND.
 * Returns 0, WEFT_ERR_CLOSED (not authenticated), WEFT_ERR_INVAL (bad
 * size or node 0) or -errno from the socket (-EAGAIN: full). */
int relayc_send(struct relayc *r, uint64_t dst, const void *payload,
		size_t len);

/* Sends data (1..WIRE_SIGNAL_MAX bytes) to node dst as a SIGNAL on the
 * control stream (reliable, rate-limited by the relay). Returns 0,
 * WEFT_ERR_CLOSED (not authenticated), WEFT_ERR_INVAL or WEFT_ERR_BUSY
 * (the stream's buffer is full). */
int relayc_signal(struct relayc *r, uint64_t dst, const void *data,
		  size_t len);

/* Fills *out; r NULL (no relay): all zero. */
void relayc_status(const struct relayc *r, struct relayc_status *out);

#endif
