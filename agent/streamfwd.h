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
 * logged as forward_refused). */
#ifndef WEFT_AGENT_STREAMFWD_H
#define WEFT_AGENT_STREAMFWD_H

#include "agent/streamhdr.h"
#include "shared/ip.h"

#include <jansson.h>
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

/* Parses specs[0..n) and listens on each; resources go to res's
 * connectors (m, res borrowed: they outlive f). Returns 0 and *out, or
 * WEFT_ERR_PARSE / -errno (bind) with a sentence in err. */
int streamfwd_new(struct loop *l, struct streams *s, const struct map *m,
		  const struct resclient *res, const char *const *specs,
		  size_t n, struct streamfwd **out, char *err, size_t errlen);

/* Closes the listeners. NULL is fine. */
void streamfwd_del(struct streamfwd *f);

struct agent_view;

/* The daemon's stream mode, once its data plane is open: v->streams,
 * and v->fwd for v->cfg's forwards and its SOCKS5 and HTTP proxies.
 * Returns 0, or an error with a sentence in msg (msglen bytes). */
int streamfwd_start(struct agent_view *v, char *msg, size_t msglen);

/* The status's "streams" object: streams_json with the requests the
 * proxies refused (socks5_refused, http_proxy_refused; 0 without them),
 * or NULL when out of memory. */
json_t *streamfwd_json(const struct agent_view *v);

/* Closes both (before the data plane goes). */
void streamfwd_stop(struct agent_view *v);

#endif
