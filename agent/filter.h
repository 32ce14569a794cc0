/* The agent's packet filter and send-side route table.
 *
 * Receive side: every packet that comes out of a peer tunnel is checked
 * before it is written to the TUN. It passes when one of the map's filter
 * rules allows it (docs/internals/netmap.md), or when it is the return
 * traffic of a flow this node opened (connection tracking); everything else
 * is denied. Rules are compiled once per map into a struct filter_rules and
 * swapped into a live struct filter, which keeps its connection table, so
 * a policy change applies to live connections without reconnecting.
 *
 * Send side: struct filter_routes maps a destination address to the peer
 * whose allowed_ips cover it (longest prefix match).
 *
 * All of this is pure code: callers pass the time (monotonic milliseconds)
 * and parsed packets (agent/packet.h). Nothing here locks; one thread
 * uses a struct filter at a time. See docs/internals/dataplane.md. */
#ifndef WEFT_AGENT_FILTER_H
#define WEFT_AGENT_FILTER_H

#include "agent/map.h"
#include "agent/packet.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on compiled rule sets (a map over these is refused). */
#define FILTER_MAX_RULES 4096
#define FILTER_MAX_PREFIXES 65536 /* per rule, src or dst */
#define FILTER_MAX_PORT_RANGES 64 /* per dst entry */
#define FILTER_MAX_SELF 2         /* own addresses: an IPv4 and an IPv6 */
#define FILTER_MAX_LOCAL_ONLY 2   /* the DNS stub's IPv4 and IPv6 */

struct filter_rules;
struct filter;
struct filter_routes;

struct filter_config {
	uint32_t ct_max;        /* connection table entries (0: 16384) */
	uint32_t tcp_idle_ms;   /* idle timeout of TCP flows (0: 30 min) */
	uint32_t udp_idle_ms;   /* UDP flows (0: 2 min) */
	uint32_t icmp_idle_ms;  /* ICMP echo flows (0: 30 s) */
	uint32_t frag_idle_ms;  /* allowed first fragments (0: 30 s) */
};

struct filter_stats {
	uint64_t allowed;         /* by a rule */
	uint64_t allowed_tracked; /* as return traffic of a tracked flow */
	uint64_t allowed_fragment; /* later fragments of allowed datagrams */
	uint64_t denied;
	uint64_t ct_evicted;      /* live flows pushed out (both of the new
				   * flow's buckets were full) */
	uint32_t ct_entries;      /* flows not yet expired */
};

/* Compiles the map's filter rules (agent/map.h; agent/mapjson.h reads
 * them from the map's "filter" array, where each rule is
 * {"proto": "tcp"|"udp"|"icmp"|"any", "src": [prefix, ...],
 *  "dst": [{"prefix": prefix | "self", "ports": "*" | "22,80-90"}, ...]})
 * into *out: per rule a prefix set for src and the dst entries with their
 * port ranges. A dst "self" stands for this node's own mesh addresses,
 * self[0..nself) (at most FILTER_MAX_SELF; none: "self" admits nothing),
 * and is resolved here, so the rules must be compiled again when those
 * addresses change. On failure, err (errlen bytes, may be NULL) gets a
 * one-line reason. Returns 0, WEFT_ERR_INVAL for a malformed rule (a bad
 * prefix or an empty port list) or self address, WEFT_ERR_TOOBIG beyond
 * the FILTER_MAX_* limits, WEFT_ERR_NOMEM. The caller owns *out
 * (filter_rules_del). */
int filter_rules_compile(const struct map_rule *rules, size_t n,
			 const struct ip_addr *self, size_t nself,
			 struct filter_rules **out, char *err, size_t errlen);

/* Frees r. Accepts NULL. */
void filter_rules_del(struct filter_rules *r);

/* True when r allows the packet pi on its own (no connection state):
 * some rule has pi's protocol ("any" matches all; "icmp" means ICMP on
 * IPv4 and ICMPv6 on IPv6), pi->src in its src, pi->dst in one of its dst
 * prefixes and the destination port in that prefix's ranges. ICMP ignores
 * ports; a packet of any other protocol, or a TCP/UDP fragment without
 * its ports (a later fragment), matches only dst entries with "*". */
bool filter_rules_allow(const struct filter_rules *r,
			const struct packet_info *pi);

/* Allocates a filter with cfg (NULL for the defaults) and no rules (it
 * denies everything until filter_set_rules). The connection table is
 * allocated here, once. Returns 0, WEFT_ERR_INVAL for ct_max above 2^24,
 * WEFT_ERR_NOMEM. */
int filter_new(const struct filter_config *cfg, struct filter **out);

/* Frees f and the rules it owns. Accepts NULL. */
void filter_del(struct filter *f);

/* Replaces f's rules with r (f takes ownership; NULL denies everything)
 * and frees the old ones. Tracked flows and counters are kept. */
void filter_set_rules(struct filter *f, struct filter_rules *r);

/* Records an outbound packet (read from the TUN, going to a peer): TCP and
 * UDP packets and ICMP echo requests create or refresh a flow so that the
 * peer's replies pass filter_check_in, unless f's rules allow those
 * replies anyway. A flow may live in either of two buckets (two keyed
 * hashes) and goes into the one with more free or expired slots; when
 * both are full the least recently used flow of the two is evicted
 * (counted in ct_evicted). */
void filter_track_out(struct filter *f, const struct packet_info *pi,
		      int64_t now_ms);

/* Decides an inbound packet (from a peer tunnel, before the TUN): true to
 * deliver it, false to drop it, and counts the verdict. A tracked flow's
 * reply refreshes the flow. An ICMP/ICMPv6 error quoting a packet this
 * node sent passes (counted as allowed_tracked) when that packet's flow is
 * tracked or its replies are allowed by the rules: applications then fail
 * at once instead of timing out. A later fragment passes only when its
 * datagram's first fragment passed within frag_idle_ms. */
bool filter_check_in(struct filter *f, const struct packet_info *pi,
		     int64_t now_ms);

/* Addresses only the local host may reach (the DNS stub's, on the TUN
 * for the stub to bind): filter_check_in denies every packet from a
 * peer to one of them, whatever the rules or tracked flows say.
 * Replaces the earlier set; at most FILTER_MAX_LOCAL_ONLY (more are
 * ignored), family 0 entries skipped. */
void filter_set_local_only(struct filter *f, const struct ip_addr *a,
			   size_t n);

/* Copies f's counters into *out. now_ms decides which flows are live. */
void filter_get_stats(const struct filter *f, int64_t now_ms,
		      struct filter_stats *out);

/* One route: packets to addresses in prefix go to peer. */
struct filter_route {
	struct ip_prefix prefix;
	int64_t peer;
};

/* Builds a route table from routes[0..n) (copied; host bits cleared).
 * When two routes have the same prefix the smaller peer id wins, so the
 * choice does not depend on map order. Returns 0, WEFT_ERR_INVAL for an
 * invalid prefix, WEFT_ERR_NOMEM. The caller owns *out. */
int filter_routes_new(const struct filter_route *routes, size_t n,
		      struct filter_routes **out);

/* Frees rt. Accepts NULL. */
void filter_routes_del(struct filter_routes *rt);

/* Finds the peer for dst by longest prefix match. Returns 0 with *peer
 * set, or WEFT_ERR_NOTFOUND (unroutable: drop, and answer with
 * packet_icmp_error PACKET_ICMP_NO_ROUTE or ADMIN_PROHIBITED). */
int filter_routes_lookup(const struct filter_routes *rt,
			 const struct ip_addr *dst, int64_t *peer);

#endif
