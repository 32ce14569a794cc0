/* Static port forwards of stream mode (`weft-agent up --forward
 * LISTEN=TARGET`, repeatable): a TCP listener per forward whose accepted
 * connections go to a port on a node over a QUIC stream (agent/streams.h).
 *
 *   LISTEN  an address and port to listen on: 127.0.0.1:5432,
 *           [::1]:5432 (any IP literal; loopback is the usual choice,
 *           anything else offers the forward to the network)
 *   TARGET  a node and port: NAME:5432 (the node's name or DNS name in
 *           the map), 100.64.0.2:5432 or [fd7a:...::2]:5432 (its mesh
 *           address); or a resource and port: an address inside an
 *           ip, cidr or internet resource, a DNS resource's name or a
 *           name under a wildcard resource (agent/streamtarget.h)
 *
 * The target is looked up in the current map at each accepted
 * connection, so a forward may name a node that joins later; one that is
 * not in the map is refused (TCP reset, counted as failed, logged as
 * forward_unknown_target), as is a resource without a connector online
 * (failed) or whose filters do not allow the port (refused_early; both
 * logged as forward_refused).
 *
 * Forwards are also added and removed at runtime (the local API's
 * forward_add / forward_remove): they last until removed or the agent
 * stops, and are not saved. Removing one (static ones too) closes its
 * listener; the connections it spliced already go on, still counted in
 * its counts until they end. A listener out of descriptors pauses
 * (agent/listenpause.h). */
#ifndef WEFT_AGENT_STREAMFWD_H
#define WEFT_AGENT_STREAMFWD_H

#include "agent/streamhdr.h"
#include "shared/ip.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct map;
struct resclient;
struct streams;
struct streamfwd;

struct streamfwd_spec {
	struct ip_endpoint listen;
	char target[STREAMHDR_HOST_MAX + 1]; /* node name or IP literal */
	uint16_t port;
};

/* Parses one --forward value. Returns 0, or WEFT_ERR_PARSE with a
 * sentence in err (errlen bytes). */
int streamfwd_parse(const char *s, struct streamfwd_spec *out, char *err,
		    size_t errlen);

/* The peer in m the target names (its name, its DNS name with or
 * without the final dot, or its mesh address) and the mesh address the
 * stream header carries (of the target's family for an address, else
 * IPv4 when the peer has one) into host (IP_ADDR_STRLEN bytes).
 * Returns the peer id, or 0. */
int64_t streamfwd_resolve(const struct map *m, const char *target,
			  char *host);

/* A non-blocking TCP listener on addr (SO_REUSEADDR, backlog 128).
 * Returns the socket or -errno. */
int streamfwd_listen(const struct ip_endpoint *addr);

/* Parses specs[0..n) and listens on each (static forwards); resources
 * go to res's connectors (m, res borrowed: they outlive f). Returns 0
 * and *out, or WEFT_ERR_PARSE / WEFT_ERR_EXISTS / -errno (bind) with a
 * sentence in err. */
int streamfwd_new(struct loop *l, struct streams *s, const struct map *m,
		  const struct resclient *res, const char *const *specs,
		  size_t n, struct streamfwd **out, char *err, size_t errlen);

/* Closes the listeners. NULL is fine. */
void streamfwd_del(struct streamfwd *f);

/* Adds the forward spec (LISTEN=TARGET) and listens. Returns 0, or with
 * a sentence in err: WEFT_ERR_PARSE (streamfwd_parse's), WEFT_ERR_EXISTS
 * (a forward listens there already), -errno (socket or bind: -EADDRINUSE
 * when another socket has the address), WEFT_ERR_NOMEM. */
int streamfwd_add(struct streamfwd *f, const char *spec, bool is_static,
		  char *err, size_t errlen);

/* Closes the forward listening on listen (ADDRESS:PORT, as added or in
 * another spelling of the same address). Returns 0, or WEFT_ERR_PARSE /
 * WEFT_ERR_NOTFOUND with a sentence in err. */
int streamfwd_remove(struct streamfwd *f, const char *listen, char *err,
		     size_t errlen);

/* The forwards in the order added: [{"listen", "target", "static",
 * "accepted", "active", "opened", "failed", "bytes_tx", "bytes_rx",
 * "accept_pauses"}] (agent/streamcount.h; bytes_tx from the clients), or NULL
 * when out of memory. NULL f: []. */
json_t *streamfwd_list_json(const struct streamfwd *f);

/* Pauses of all stream listeners (forwards, removed ones included, and
 * the proxies) for want of descriptors. NULL f: 0. */
uint64_t streamfwd_pauses(const struct streamfwd *f);

struct agent_view;

/* The daemon's stream mode, once its data plane is open: v->streams,
 * and v->fwd for v->cfg's forwards and its SOCKS5 and HTTP proxies.
 * Returns 0, or an error with a sentence in msg (msglen bytes). */
int streamfwd_start(struct agent_view *v, char *msg, size_t msglen);

/* The status's "streams" object: streams_json with the forwards
 * (streamfwd_list_json), accept_pauses (streamfwd_pauses) and the
 * requests the proxies refused (socks5_refused, http_proxy_refused; 0
 * without them), or NULL when out of memory. */
json_t *streamfwd_json(const struct agent_view *v);

/* Closes both (before the data plane goes). */
void streamfwd_stop(struct agent_view *v);

#endif
