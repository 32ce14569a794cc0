/* The agent's network map (docs/internals/netmap.md, docs/internals/
 * agentmap.md), parsed once from the answers of GET /api/v1/map into C
 * structs: a full map replaces everything; a delta drops the ids in
 * peers_removed, upserts peers by id and replaces self, filter, dns,
 * relays, resources and serves when present. The result equals the full map the controller
 * would render at that version.
 *
 * Every answer is parsed and checked in full (agent/mapjson.h) before
 * anything changes, and map_apply reports what changed as a struct
 * map_diff: the one place where the tunnels, the route table, the filter
 * and later features learn about a new map.
 *
 * Pure code: no I/O, no clock, no threads. Not thread-safe; the agent's
 * main loop owns the one instance. Everything handed out (peers, parts,
 * strings inside them) is borrowed from the map and lives until the next
 * map_apply or map_del. */
#ifndef WEFT_AGENT_MAP_H
#define WEFT_AGENT_MAP_H

#include "shared/ident.h"
#include "shared/ip.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of one answer; an answer beyond them is refused. */
#define MAP_MAX_PEERS 100000
#define MAP_MAX_ALLOWED_IPS 4096 /* per peer */
#define MAP_MAX_ENDPOINTS 64     /* per peer (the controller keeps 32) */
#define MAP_MAX_RELAYS 256
#define MAP_MAX_RESOURCES 65536

/* A peer: what the agent acts on, typed. Strings are NULL when the map
 * has null or leaves them out. */
struct map_peer {
	int64_t id;
	const char *name;
	const char *dns_name;
	const char *home_relay;
	bool has_key;                 /* false: no public_key, no tunnel */
	uint8_t key[IDENT_KEY_LEN];
	struct ip_addr ipv4, ipv6;    /* family 0: none */
	struct ip_prefix *allowed_ips; /* host bits cleared */
	size_t nallowed;
	struct ip_endpoint *endpoints; /* the peer's direct candidates */
	size_t nendpoints;
	bool online;
	/* The object as received, for showing it (local API). Fields the
	 * agent does not act on (tags, user, last_seen, ...) live only
	 * there. */
	const json_t *json;
};

/* The node itself. */
struct map_self {
	int64_t id; /* 0 when the map has none */
	const char *name;
	struct ip_addr ipv4, ipv6;
	const json_t *json;
};

struct map_relay {
	int64_t id;
	const char *name;
	const char *region;
	const char *address;          /* "host:port", resolved by the caller */
	bool has_pin;
	uint8_t pin[IDENT_KEY_LEN];
};

struct map_resource {
	const char *name;
	const char *address;          /* IP, CIDR or DNS name */
};

/* Filter rules (what this node lets in; agent/filter.h compiles them). */
enum map_proto { MAP_PROTO_ANY, MAP_PROTO_TCP, MAP_PROTO_UDP, MAP_PROTO_ICMP };

struct map_port_range {
	uint16_t lo, hi;
};

/* Resources (docs/connectors.md): the "resources" part lists what this
 * node may reach (agent/resclient.h routes each through one connector),
 * the "serves" part what it connects (non-empty: the node forwards, see
 * agent/connector.h). Both are shown by `weft-agent routes`. */
#define MAP_MAX_RES 4096          /* entries of resources or serves */
#define MAP_MAX_RES_CONNECTORS 1024 /* connector ids of one resource */
#define MAP_RES_FILTERS 3         /* one per protocol */
#define MAP_RES_PORTS 32          /* port ranges of one filter */

enum map_res_type {
	MAP_RES_IP, MAP_RES_CIDR, MAP_RES_DNS, MAP_RES_WILDCARD,
	MAP_RES_INTERNET,
};

struct map_res_filter {
	int proto;                    /* MAP_PROTO_TCP, _UDP or _ICMP */
	struct map_port_range ports[MAP_RES_PORTS]; /* none: every port */
	size_t nports;
};

struct map_res {
	int64_t id;
	const char *name;
	enum map_res_type type;
	const char *address;          /* IP, CIDR, DNS name, *.name, internet */
	/* What traffic to it is routed by: the address (ip, cidr), the
	 * mapped prefixes (dns, wildcard: the real name is address),
	 * 0.0.0.0/0 and ::/0 (internet). Host bits cleared. */
	struct ip_prefix prefixes[2];
	size_t nprefixes;
	/* For "resources": what this node may send (the policy narrowed
	 * by the resource's filters); for "serves": the resource's own
	 * filters. None: everything. */
	struct map_res_filter filters[MAP_RES_FILTERS];
	size_t nfilters;
	/* "resources" only: the online connectors (peer ids, ascending). */
	int64_t *connectors;
	size_t nconnectors;
};

/* A split domain and where its names are asked (DNSMAP format). */
struct map_dns_split {
	const char *domain;           /* valid DNS name, not under suffix */
	struct ip_endpoint *upstreams; /* 1..DNS_MAX_UPSTREAMS, port 53 default */
	size_t nupstreams;
};

/* An extra record: type is 4 (A) or 6 (AAAA), value of that family. */
struct map_dns_record {
	const char *name;             /* valid DNS name */
	uint8_t type;
	struct ip_addr value;
};

/* The "dns" part (docs/dns.md, the map's "dns" format). A map from an
 * older controller without the newer fields reads as search true, stub
 * 100.100.100.100 only (stub6 family 0), no split domains, upstreams or
 * records. */
struct map_dns {
	const char *suffix;           /* NULL when absent */
	bool search;
	struct ip_addr stub4, stub6;  /* stub6.family 0: none */
	struct map_dns_split *split;
	size_t nsplit;
	struct ip_endpoint *upstreams; /* empty: the host's earlier resolvers */
	size_t nupstreams;
	struct map_dns_record *records;
	size_t nrecords;
	struct map_resource *resources;
	size_t nresources;
};


struct map_dst {
	bool self;                    /* "self": this node's mesh addresses */
	struct ip_prefix prefix;      /* host bits cleared; unset for self */
	bool all_ports;               /* "*" */
	struct map_port_range *ports;
	size_t nports;
};

struct map_rule {
	enum map_proto proto;
	struct ip_prefix *src;        /* host bits cleared */
	size_t nsrc;
	struct map_dst *dst;
	size_t ndst;
};

/* What one map_apply changed. Peer ids are ascending. "changed" peers are
 * in both maps with a different entry (any field). A part flag is set when the
 * answer replaced that part (a full map replaces all of them). */
struct map_diff {
	bool full;
	int64_t *added, *removed, *changed;
	size_t nadded, nremoved, nchanged;
	bool self, filter, dns, relays, resources, serves;
	bool addrs; /* peers came or went, or a changed peer's ipv4, ipv6 or
		     * allowed_ips differ: routes must be rebuilt */
};

/* Frees the diff's arrays and zeroes it. NULL is fine. */
void map_diff_free(struct map_diff *d);

/* True when the diff changes anything (a keep-alive changes nothing). */
bool map_diff_any(const struct map_diff *d);

struct map;

/* Creates an empty map (version 0, no parts). Returns 0 and *out, or
 * WEFT_ERR_NOMEM. */
int map_new(struct map **out);

/* Frees m and every part it holds. NULL is fine. */
void map_del(struct map *m);

/* Applies one map answer. The answer is parsed in full before anything
 * changes (see agent/mapjson.h for what is checked). A delta before any
 * full map is refused. m keeps references to parts of answer
 * (json_incref) and borrows strings from them, so the caller must not
 * modify answer afterwards.
 *
 * On success fills *diff (may be NULL; caller frees it with map_diff_free)
 * and returns 0. Otherwise returns WEFT_ERR_PARSE / WEFT_ERR_TYPE /
 * WEFT_ERR_INVAL / WEFT_ERR_TOOBIG for a malformed answer (err gets a
 * one-line reason, errlen bytes, may be NULL), WEFT_ERR_PROTO for a delta
 * without a base, or WEFT_ERR_NOMEM; m keeps its content, *diff is
 * zeroed, and map_needs_full() is true: the controller now believes we
 * hold a version we refused, so only a full map brings us back in step. */
int map_apply(struct map *m, const json_t *answer, struct map_diff *diff,
	      char *err, size_t errlen);

/* The version of the last applied answer, 0 before the first. */
int64_t map_version(const struct map *m);

/* True until a full map has been applied, and after a refused answer or
 * an allocation failure in map_apply: the next poll must ask for a full
 * map (since=0). */
bool map_needs_full(const struct map *m);

/* The parts; NULL (or an empty rule set) when the map has not received
 * them. */
const struct map_self *map_self(const struct map *m);
const struct map_dns *map_dns(const struct map *m);
/* Rules of the filter part; *n = 0 and NULL without one. has_filter
 * tells "no rules" from "no filter part". */
const struct map_rule *map_rules(const struct map *m, size_t *n);
bool map_has_filter(const struct map *m);
const struct map_relay *map_relays(const struct map *m, size_t *n);
/* The "resources" and "serves" parts; *n = 0 and NULL without them. */
const struct map_res *map_resources(const struct map *m, size_t *n);
const struct map_res *map_serves(const struct map *m, size_t *n);

/* Number of peers. */
size_t map_peer_count(const struct map *m);

/* The peer with this id (borrowed) or NULL. O(1). */
const struct map_peer *map_peer(const struct map *m, int64_t id);

/* All peers sorted by id (borrowed array of *n pointers). */
const struct map_peer *const *map_peers(const struct map *m, size_t *n);

/* A borrowed part of the map as received: "self", "filter", "dns",
 * "relays", "resources" or "serves". NULL for another name or a part the map has not received. */
const json_t *map_part(const struct map *m, const char *name);

/* The whole map rendered like a full map answer: {version, full: true,
 * self, peers, filter, dns, relays} (absent parts left out). Returns NULL
 * when out of memory. Caller decrefs; the parts are shared with m. */
json_t *map_to_json(const struct map *m);

/* Whether prefix (one of p's allowed_ips) is the peer's own mesh
 * address: its ipv4 as /32 or its ipv6 as /128. */
bool map_is_mesh_prefix(const struct map_peer *p,
			const struct ip_prefix *prefix);

#endif
