/* Where a stream-mode connection goes when it is not a node's own
 * service (issue 18; docs/agent.md, "Streams to resources"):
 *
 *   - opening side: a --forward target, a SOCKS5 CONNECT domain or
 *     address or an HTTP CONNECT host may name a node or a resource; a
 *     resource's stream goes to the connector the TUN path uses for it
 *     (agent/reschoice.h, the same sticky choice), after the same early
 *     reject, with the resource's address or DNS name in the header;
 *   - receiving side: a connector takes a header whose host is an
 *     address inside a resource it serves, or the name of a DNS or
 *     wildcard resource it serves, and tells the caller which packet
 *     the filter checks for it (from the peer's mesh address to the
 *     resource's address, mapped for names) and what to connect to.
 *
 * Pure code: map parts and the caller's connector choice in, results
 * out; no I/O, no clock, no logging (streamtarget_find is the one-line
 * glue to agent/resclient.h). */
#ifndef WEFT_AGENT_STREAMTARGET_H
#define WEFT_AGENT_STREAMTARGET_H

#include "agent/map.h"
#include "agent/packet.h"
#include "agent/streamhdr.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct resclient;

/* The opening side's answer. */
struct streamtarget {
	int64_t peer;   /* the node, or the connector chosen for res_id */
	int64_t res_id; /* the resource, 0 for a node */
	char host[STREAMHDR_HOST_MAX + 1]; /* the header's host */
};

/* The connector the caller's resource choice uses now for resource
 * res_id, 0 for none. */
typedef int64_t streamtarget_choice_fn(void *ctx, int64_t res_id);

/* What target (any case; a name may end in one dot) at TCP port names
 * in m, in this order:
 *   - a node (streamfwd_resolve: its name, DNS name, mesh address): the
 *     header carries the node's mesh address;
 *   - an address inside a resource of m's "resources" (the longest
 *     prefix wins): an ip, cidr or internet resource's address goes in
 *     the header as it is; a DNS resource's mapped address becomes the
 *     resource's name; a wildcard's mapped block is no target (its
 *     addresses are this client's own, agent/wildcard.h);
 *   - a DNS resource's name or a name under a wildcard resource
 *     (resnames_find): the name in lower case without a final dot,
 *     never resolved here.
 * Our own mesh addresses are no target (an internet resource would
 * hold them). A resource goes to choice's connector, once its filters
 * (this node's effective ones, reschoice_allows) let a TCP connection
 * to port pass.
 * Returns 0 and *out; WEFT_ERR_NOTFOUND (no node, no resource),
 * WEFT_ERR_FORBIDDEN (the filters refuse the port: early reject),
 * WEFT_ERR_CLOSED (the resource has no connector online). */
int streamtarget_pick(const struct map *m, const char *target,
		      uint16_t port, streamtarget_choice_fn *choice,
		      void *ctx, struct streamtarget *out);

/* streamtarget_pick with rc's choices (resclient_connector). */
int streamtarget_find(const struct map *m, const struct resclient *rc,
		      const char *target, uint16_t port,
		      struct streamtarget *out);

/* The receiving side's answer for a resource. */
struct streamtarget_in {
	int64_t res_id;
	/* The packet the filter checks: from the peer's mesh address of
	 * dst's family (family 0 when it has none) to dst. */
	struct ip_addr src, dst;
	struct ip_addr addr; /* where to connect; family 0 for a name */
	char name[STREAMHDR_HOST_MAX + 1]; /* to resolve, "" for addr */
};

/* What a header's host names among serves[0..n) (the map's "serves")
 * for a stream from peer:
 *   - an address inside an ip, cidr or internet resource (the longest
 *     prefix; one inside a DNS or wildcard resource's mapped prefixes
 *     is no target): connect to it, the filter checks it as dst;
 *   - a DNS resource's name or a name under a wildcard resource: resolve
 *     it here; the filter checks the resource's mapped address (the
 *     prefix's first address, of a family peer has, IPv4 first) as dst,
 *     what a packet the peer sends through its TUN goes to.
 * Returns 0 and *out; WEFT_ERR_NOTFOUND (no resource served covers
 * host), WEFT_ERR_INVAL (an address never dialed: streamtarget_dialable;
 * an invalid name). */
int streamtarget_accept(const struct map_res *serves, size_t n,
			const struct map_peer *peer, const char *host,
			struct streamtarget_in *out);

/* Whether a connector dials a for a stream: not unspecified (0.0.0.0/8,
 * ::), loopback, multicast, IPv4 broadcast, IPv6 link-local (no scope to
 * give) or IPv4-mapped IPv6 (those would reach what the TUN path never
 * forwards to). */
bool streamtarget_dialable(const struct ip_addr *a);

/* *pi as the TCP SYN from src to dst:port that the filter checks for a
 * stream: source port 0, so no tracked flow matches and only the rules
 * decide. */
void streamtarget_syn(const struct ip_addr *src, const struct ip_addr *dst,
		      uint16_t port, struct packet_info *pi);

#endif
