/* The relay's I/O glue: QUIC endpoints (one UDP socket per listen
 * address) in the event loop, feeding the protocol core (relay/relay.h)
 * and carrying out what it asks; per-connection timers; the Retry policy;
 * the metrics text. Everything runs on the loop thread. */
#ifndef WEFT_RELAY_SERVER_H
#define WEFT_RELAY_SERVER_H

#include "relay/relay.h"
#include "shared/buf.h"
#include "shared/ident.h"
#include "shared/ip.h"

#include <stddef.h>
#include <stdint.h>

#define SERVER_MAX_LISTEN 8

enum server_retry {
	SERVER_RETRY_AUTO = 0, /* Retry while handshakes exceed a rate */
	SERVER_RETRY_ALWAYS,
	SERVER_RETRY_NEVER,
};

struct server_options {
	const struct ip_endpoint *listen; /* 1..SERVER_MAX_LISTEN addresses */
	size_t nlisten;
	const struct ident *id;           /* the relay's key (copied) */
	const char *controller_key;       /* PEM public key (copied) */
	struct relay_config relay;
	unsigned max_conns;               /* per listen address; 0: 1024 */
	uint32_t idle_timeout_ms;         /* 0: 30 s */
	size_t max_stream_buffer;         /* per control stream; 0: 64 KiB */
	enum server_retry retry;
	/* SERVER_RETRY_AUTO: Retry is demanded while more than this many
	 * handshakes per second complete, or this many are half-open;
	 * 0: 200. */
	uint32_t retry_rate;
};

struct loop;
struct server;

/* Opens the sockets and starts serving in l. Returns 0 and *out,
 * WEFT_ERR_INVAL for bad options, or what quic_endpoint_new and
 * relay_new return (*out untouched on failure). */
int server_new(struct loop *l, const struct server_options *o,
	       struct server **out);

/* Closes every connection without notice and frees s. NULL ok. Must not
 * be called from a callback of s. */
void server_del(struct server *s);

/* The i-th listen address with its actual port. Returns 0 or
 * WEFT_ERR_RANGE. */
int server_local(const struct server *s, size_t i, struct ip_endpoint *out);

/* Replaces the controller key that new AUTH messages are checked with.
 * Returns 0 or what relay_set_controller_key returns (the old key stays
 * then). */
int server_set_controller_key(struct server *s, const char *pem);

/* Makes id the relay's TLS identity for new connections on every listen
 * address (SIGHUP); open connections keep the old one. id is copied. */
struct ident;
int server_set_ident(struct server *s, const struct ident *id);

/* Closes every control connection with SHUTTING_DOWN. */
void server_shutdown(struct server *s);

/* Control connections alive (handshaking or not). */
unsigned server_conn_count(const struct server *s);

/* Appends the Prometheus text of all counters to out. Returns 0 or a
 * negative buffer code. */
int server_metrics(struct server *s, struct buf *out);

#endif
