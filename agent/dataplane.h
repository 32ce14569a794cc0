/* The agent's data plane: the TUN device, the packet filter and the peer
 * tunnels on the agent's one QUIC endpoint, with the relay client under
 * them. It owns all of these and the packet buffers.
 *
 *   TUN read -> TSO split -> route by destination -> track flow ->
 *     tunnels_send -> QUIC -> direct path, or virtual path -> relayc
 *   relay frame / UDP -> tunnels -> QUIC -> source check -> filter ->
 *     our ping replies | GRO -> TUN write | echo responder (no TUN)
 *
 * Packets never leave this file on their way between the TUN and a
 * peer; the daemon only configures it from the map (addresses, routes,
 * rules, peers, relay) and hears about relay events and path changes
 * through hooks. docs/internals/dataplane.md explains the MTU, offloads
 * and the route sync.
 *
 * Runs on the loop thread. Logs the device's changes (addresses, routes)
 * through shared/log, as the daemon's glue; the counters in
 * dataplane_stats count what it drops. */
#ifndef WEFT_AGENT_DATAPLANE_H
#define WEFT_AGENT_DATAPLANE_H

#include "agent/map.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dataplane;
struct filter;
struct filter_route;
struct filter_rules;
struct ident;
struct loop;
struct pings;
struct quic_endpoint;
struct relayc;
struct relayset;
struct relayc_event;
struct tunnels;

/* What the daemon hears; any may be NULL. Run on the loop thread. */
struct dataplane_hooks {
	/* After the data plane took note (the tunnels know whether the
	 * relay is up). May call relayc_status, not relayc_del. */
	void (*on_relay_event)(const struct relayc_event *ev, void *ctx);
	/* As tunnel_callbacks.on_path_change. */
	void (*on_path_change)(int64_t peer, bool direct,
			       const struct ip_endpoint *addr, void *ctx);
	/* As tunnel_callbacks.on_peer_lost (watched peers). */
	void (*on_peer_lost)(int64_t peer, bool lost, void *ctx);
	void *ctx;
};

struct dataplane_endpoint_cfg {
	const struct ident *id;      /* the node key, borrowed for the call */
	uint16_t port;               /* UDP port; 0 = any */
	int64_t node_id;             /* 0 before registration */
	uint64_t punch_cooldown_ms;  /* 0: the default */
	uint64_t peer_idle_ms;       /* 0: TUNNEL_IDLE_MS */
	int punch_ttl;               /* openers' TTL; 0: the default,
				      * negative: no openers */
	bool direct;                 /* try direct paths */
	uint32_t fwmark;             /* the socket's SO_MARK, 0: none (the
				      * exit node's policy routing) */
};

/* Packets the data plane dropped or answered itself. */
struct dataplane_stats {
	uint64_t rx_malformed;   /* unparsable packets from tunnels */
	uint64_t rx_spoofed;     /* source outside the sender's allowed_ips */
	uint64_t rx_undelivered; /* allowed, but nowhere to deliver (no TUN) */
	uint64_t echo_answered;  /* by the built-in responder */
	uint64_t rx_tun_errors;  /* tun_write failed */
	uint64_t rx_denied_forward; /* denied by the filter (also counted
				     * there) and not to our own addresses:
				     * what a connector did not forward */
	uint64_t tx_malformed;   /* unparsable packets from the TUN */
	uint64_t tx_noroute;     /* to no peer (or a resource without a
				  * connector): ICMP unreachable */
	uint64_t tx_denied_early; /* to a resource, not allowed by its
				   * filters: refused here (ICMP
				   * admin-prohibited or TCP reset) */
	uint64_t tx_dropped;     /* tunnels_send refused (queue full, ...) */
};

/* Creates a data plane on l (borrowed; it must outlive dp) with an empty
 * filter that denies everything inbound, and no endpoint or TUN yet. h
 * is copied. Returns 0 and *out, or WEFT_ERR_NOMEM. */
int dataplane_new(struct loop *l, const struct dataplane_hooks *h,
		  struct dataplane **out);

/* Closes the TUN (removing its routes with it), the tunnels, the relay
 * connection and the endpoint, and frees dp. NULL is fine. Not from a
 * hook. */
void dataplane_del(struct dataplane *dp);

/* Opens the agent's one UDP socket as a QUIC endpoint with the node
 * identity ([::] dual stack, or 0.0.0.0 where the kernel has no IPv6),
 * and the relay client and tunnel table on it. Returns 0, or a
 * quic_endpoint_new / relayc_new / tunnels_new error. Once. */
int dataplane_open(struct dataplane *dp,
		   const struct dataplane_endpoint_cfg *cfg);

/* Creates and opens the TUN device name (removing a stale one of that
 * name first), sets the MTU, enables offloads where the kernel has them
 * and brings it up. Addresses and routes follow dataplane_set_self and
 * dataplane_set_routes. Returns 0 or a tun_* / loop error. Without this
 * call the agent has no TUN (--no-tun) and answers echo requests to its
 * mesh addresses itself. */
int dataplane_open_tun(struct dataplane *dp, const char *name);

/* Parts for the daemon to configure from the map; borrowed, valid until
 * dataplane_del (NULL before dataplane_open). */
struct relayc *dataplane_relay(const struct dataplane *dp); /* the home
							     * relay's */
struct relayset *dataplane_relays(const struct dataplane *dp);
struct tunnels *dataplane_tunnels(const struct dataplane *dp);
struct quic_endpoint *dataplane_endpoint(const struct dataplane *dp);
struct filter *dataplane_filter(const struct dataplane *dp);
struct pings *dataplane_pings(const struct dataplane *dp);

/* The mark the UDP socket carries: cfg->fwmark, or 0 when none was
 * asked for or the kernel refused it (no CAP_NET_ADMIN; logged as
 * event=fwmark_unavailable, and the socket works unmarked). */
uint32_t dataplane_fwmark(const struct dataplane *dp);

/* The bound UDP port (0 before dataplane_open). */
uint16_t dataplane_port(const struct dataplane *dp);

/* The TUN's name, or NULL without one. */
const char *dataplane_tun_name(const struct dataplane *dp);

/* Our mesh addresses (family 0: none), put on the TUN as well. */
void dataplane_set_self(struct dataplane *dp, const struct ip_addr *v4,
			const struct ip_addr *v6);

/* Our mesh address of family 4 or 6: 0 and *out, or WEFT_ERR_NOTFOUND. */
int dataplane_self(const struct dataplane *dp, int family,
		   struct ip_addr *out);

/* The send-side route table (rv, n: copied): destinations to peers. The
 * TUN's routes become the mesh ranges of our addresses plus these
 * prefixes: new ones are added, gone ones removed, a route that exists
 * through another device is left alone. Default routes (0.0.0.0/0,
 * ::/0: the exit node) are looked up here but never put in the main
 * table: the exit node's own table routes them (agent/exitnode.h). Returns 0, or WEFT_ERR_NOMEM
 * (the old table stays). */
int dataplane_set_routes(struct dataplane *dp, const struct filter_route *rv,
			 size_t n);

/* A resource this node may reach (the map's "resources" part): where
 * its traffic is routed and what of it may be sent. */
struct dataplane_res {
	struct ip_prefix prefixes[2];
	size_t nprefixes;
	struct map_res_filter filters[MAP_RES_FILTERS]; /* none: all */
	size_t nfilters;
	int64_t connector;           /* the peer it goes to, 0: none */
};

/* Replaces the resources (v, n: copied). Their prefixes join the route
 * table (and the TUN's routes, except default routes, which the exit
 * node setup owns) ahead of a peer's route for the same prefix; a packet
 * from the TUN to one of them is refused at once (ICMP admin-prohibited,
 * TCP reset) when its filters do not allow it, answered with ICMP
 * unreachable when it has no connector, and otherwise sent to its
 * connector, from which its replies are accepted. Returns 0, or
 * WEFT_ERR_NOMEM (the old table stays). */
int dataplane_set_resources(struct dataplane *dp,
			    const struct dataplane_res *v, size_t n);

/* Moves resource i (of the last dataplane_set_resources) to connector
 * (0: none) for the packets from now on. O(1). */
void dataplane_set_res_connector(struct dataplane *dp, size_t i,
				 int64_t connector);

/* Replaces the filter's rules (taken; NULL denies every inbound packet
 * not answering a tracked flow). Tracked flows survive. */
void dataplane_set_rules(struct dataplane *dp, struct filter_rules *rules);

/* Messages to UDP port (host order) of our own mesh addresses from a
 * peer's tunnel (whose source passed the peer's routes) go to fn with
 * the UDP payload, before the filter and never to the TUN: the
 * connector's wildcard names (agent/dnat.h). fn NULL: none. */
typedef void dataplane_msg_fn(void *ctx, int64_t peer,
			      const struct ip_addr *src, const uint8_t *p,
			      size_t len);
void dataplane_set_msg(struct dataplane *dp, uint16_t port,
		       dataplane_msg_fn *fn, void *ctx);

/* Our published endpoints (eps, n) as direct-path candidates for the
 * tunnels: the families the socket can use (both on the usual dual-stack
 * socket), at most 16. */
void dataplane_set_local(struct dataplane *dp, const struct ip_endpoint *eps,
			 size_t n);

/* Sends one agent ping to peer's mesh address dst from our address of
 * that family, like a packet from the TUN (the reply passes the filter
 * as return traffic). Returns 0 and *seq (ping_result tells about the
 * reply), WEFT_ERR_NOTFOUND (we have no address of that family) or a
 * tunnels_send error. */
int dataplane_ping(struct dataplane *dp, int64_t peer,
		   const struct ip_addr *dst, uint16_t *seq);

/* Fills *out. */
void dataplane_stats(const struct dataplane *dp, struct dataplane_stats *out);

#endif
