/* The network-map engine: an in-memory model of every node, resource and
 * relay plus the compiled policy, kept up to date by small changes, from
 * which each node's map (full or as a delta since a version) is rendered.
 *
 * Pure code: no I/O, no threads, no clock. The caller (the long-poll hub)
 * serializes all calls with its own lock and feeds changes in version
 * order; every change carries the netmap version at which it happened.
 *
 * Incremental by design. For each policy rule r the engine keeps the nodes
 * matching its src (src_members) and its dst (dst_members); for each node N
 * the rules whose src it matches, S(N), and whose dst it matches with which
 * ports, D(N). N and M are peers when S(M) ∩ D(N) ≠ ∅ or S(N) ∩ D(M) ≠ ∅,
 * or when one is the connector (or approved subnet router) for an address
 * the other may reach. A change to node X touches only X and the nodes
 * whose relation to X changed: the cost is proportional to X's old and new
 * peers, never a rebuild of all N² pairs. A policy change recomputes every
 * node (policy edits are rare and run off the API's request path).
 *
 * Per node the engine keeps its peer set with the version each peer was
 * added, tombstones of removed peers, a short journal of which peers'
 * entries changed when, and the versions at which its filter, self entry,
 * DNS data and relay list last changed. A delta since version V contains
 * exactly what changed after V, found through the journal when it reaches
 * back to V; when V is older than the oldest tombstone kept (the node's
 * horizon) the answer is a full map.
 *
 * Map JSON (see docs/internals/netmap.md):
 * {
 *   "version": 42, "full": true|false,
 *   "self": {"id", "name", "ipv4", "ipv6", "tags", "user"},      (when changed)
 *   "peers": [ {"id", "name", "dns_name", "public_key", "ipv4", "ipv6",
 *               "allowed_ips": ["100.64.0.2/32", "fd7a::../128", routes...],
 *               "endpoints", "home_relay", "online", "last_seen",
 *               "tags", "user"} ],                  (full: all; delta: added/changed)
 *   "peers_removed": [ids],                          (delta only)
 *   "filter": [ {"proto": "tcp", "src": ["100.64.0.1/32", ...],
 *               "dst": [{"prefix": "100.64.0.2/32", "ports": "5432"}]} ],
 *                                                   (full, or when changed)
 *   "dns": {"suffix", "search", "stub": {"ipv4", "ipv6"}, "split",
 *           "upstreams", "records", "resources": [{"name", "address"}]},
 *                                   (docs/dns.md; full, or when changed)
 *   "relays": [ {"id", "name", "region", "address", "public_key_pin"} ],
 *   "resources": [ {"id", "name", "type", "address", "prefixes",
 *                   "filters", "connectors": [online connector ids]} ],
 *                                     (what the node may reach; when changed)
 *   "serves": [ {"id", "name", "type", "address", "prefixes",
 *                "filters"} ]        (what the node connects; when changed)
 * }
 * The relay token is added by the caller. */
#ifndef WEFT_NETMAP_H
#define WEFT_NETMAP_H

#include "controller/policy.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct netmap;

/* The engine's own input types: what a map says about a node, a resource
 * and a relay, nothing more. The caller fills them from wherever it keeps
 * its state (the hub: the store); the engine keeps only what it parsed
 * from them. Text fields are NUL-terminated within their size. */
#define NETMAP_NAME_SIZE 64   /* node, user, relay, resource, tag names */
#define NETMAP_KEY_SIZE 128   /* node public key text */
#define NETMAP_IP_SIZE 48     /* textual IPv4/IPv6 address */
#define NETMAP_JSON_SIZE 2048 /* tags, endpoints (JSON arrays) */
#define NETMAP_SHORT_SIZE 64  /* relay region */
#define NETMAP_ADDR_SIZE 272  /* DNS name, IP, CIDR or host:port */
#define NETMAP_PIN_SIZE 128   /* relay public key pin */

/* What peers see of a node, and what the policy matches it by. */
struct netmap_node_info {
	int64_t id;
	char name[NETMAP_NAME_SIZE];
	char public_key[NETMAP_KEY_SIZE];
	char ipv4[NETMAP_IP_SIZE];       /* "" = none */
	char ipv6[NETMAP_IP_SIZE];       /* "" = none */
	char tags[NETMAP_JSON_SIZE];     /* JSON array of "tag:x"; "" = [] */
	char endpoints[NETMAP_JSON_SIZE]; /* JSON array of strings */
	char home_relay[NETMAP_NAME_SIZE];
	int64_t last_seen;               /* unix seconds; 0 = never */
	int online;
};

struct netmap_node {
	struct netmap_node_info node;
	char user[NETMAP_NAME_SIZE];     /* owner's user name; "" for none */
	const char *const *approved_routes; /* approved subnet routes (CIDR) */
	size_t napproved;
};

/* A resource (docs/connectors.md). Zero it before filling it: the engine
 * compares inputs byte for byte to skip changes that change nothing. */
#define NETMAP_CIDR_SIZE 64   /* textual prefix */
#define NETMAP_RES_CONNECTORS_MAX 16
struct netmap_resource {
	int64_t id;
	char name[NETMAP_NAME_SIZE];
	/* IP, CIDR, DNS name, wildcard DNS name or "internet"; the type
	 * is derived from it (controller/resource.h). */
	char address[NETMAP_ADDR_SIZE];
	/* DNS and wildcard resources: their prefixes in the mapped range
	 * ("" = none). */
	char mapped_ipv4[NETMAP_CIDR_SIZE];
	char mapped_ipv6[NETMAP_CIDR_SIZE];
	struct policy_filter filters[POLICY_FILTERS_MAX]; /* none: all */
	size_t nfilters;
	int64_t connector_nodes[NETMAP_RES_CONNECTORS_MAX];
	size_t nconnector_nodes;
	char connector_tags[NETMAP_RES_CONNECTORS_MAX][NETMAP_NAME_SIZE];
	size_t nconnector_tags;
};

struct netmap_relay {
	int64_t id;
	char name[NETMAP_NAME_SIZE];
	char region[NETMAP_SHORT_SIZE];
	char address[NETMAP_ADDR_SIZE];  /* host:port */
	char public_key_pin[NETMAP_PIN_SIZE]; /* "" = none */
};

/* Node ids whose map changed, filled by every change call. */
struct netmap_dirty {
	int64_t *ids;
	size_t n, cap;
};

void netmap_dirty_reset(struct netmap_dirty *d);
void netmap_dirty_free(struct netmap_dirty *d);

struct netmap_options {
	const char *dns_suffix;      /* e.g. "weft.internal" */
	size_t tombstones_per_node;  /* deltas reach back this many removals */
};

int netmap_new(const struct netmap_options *opt, struct netmap **out);
void netmap_del(struct netmap *nm);

/* Each change returns 0 or WEFT_ERR_NOMEM/WEFT_ERR_INVAL, and appends to
 * dirty the nodes whose map changed (without duplicates within one call).
 * version must not be lower than that of any earlier change.
 *
 * WEFT_ERR_INVAL (bad version, tags or endpoints that are not JSON arrays
 * of the right kind, unparsable addresses or routes, empty names) is
 * returned before anything changes. WEFT_ERR_NOMEM may leave the model
 * half updated: the engine then refuses every further call with
 * WEFT_ERR_INTERNAL and the caller must rebuild it from the store.
 *
 * netmap_node_remove() reports the removed node itself in dirty (so that
 * its held long-poll ends; rendering it then gives WEFT_ERR_NOTFOUND).
 * Removing an unknown node or resource is a no-op returning 0. */
int netmap_node_upsert(struct netmap *nm, int64_t version,
		       const struct netmap_node *n, struct netmap_dirty *dirty);
int netmap_node_remove(struct netmap *nm, int64_t version, int64_t id,
		       struct netmap_dirty *dirty);
/* Takes ownership of p (also on failure). */
int netmap_policy_set(struct netmap *nm, int64_t version, struct policy *p,
		      struct netmap_dirty *dirty);
int netmap_resource_upsert(struct netmap *nm, int64_t version,
			   const struct netmap_resource *r,
			   struct netmap_dirty *dirty);
int netmap_resource_remove(struct netmap *nm, int64_t version, int64_t id,
			   struct netmap_dirty *dirty);
/* Replaces the DNS settings: conf is dnsconf_parse's normalised object
 * (copied), stub6 the stub resolver's IPv6 (<ula48>::6464:6464; NULL or
 * family 0 when the deployment has no ULA yet). Every node's "dns" part
 * changes; a new domain also changes every peer entry (dns_name). */
int netmap_dns_set(struct netmap *nm, int64_t version, const json_t *conf,
		   const struct ip_addr *stub6, struct netmap_dirty *dirty);
/* Replaces the whole relay list (it is small and shared by every node). */
int netmap_relays_set(struct netmap *nm, int64_t version,
		      const struct netmap_relay *relays, size_t n,
		      struct netmap_dirty *dirty);

/* True when the engine knows node id. */
bool netmap_has_node(const struct netmap *nm, int64_t id);

/* The version of id's map: the last version at which anything in it
 * changed (0 for an unknown node). */
int64_t netmap_node_version(const struct netmap *nm, int64_t id);

/* The version of the last change to id's map other than a peer's presence
 * (its online flag or last_seen): when it is <= since, everything that
 * changed after since is presence (0 for an unknown node). */
int64_t netmap_node_content_version(const struct netmap *nm, int64_t id);

/* Renders id's map: a delta with everything that changed after since, or
 * a full map when since is 0 or older than the node's horizon. The caller
 * owns *out. WEFT_ERR_NOTFOUND for an unknown node. */
int netmap_render(const struct netmap *nm, int64_t id, int64_t since,
		  json_t **out);

/* Serialized JSON shared by every map that contains it: the engine renders
 * each distinct filter once and hands the same text to every node that
 * has that filter. */
struct netmap_shared {
	const char *text; /* compact JSON, not NUL-terminated */
	size_t len;
	/* A slot for the caller's own form of text (e.g. a reference-counted
	 * copy it hands to other threads): set by the caller, released with
	 * aux_free(aux) when the engine drops the text. */
	void *aux;
	void (*aux_free)(void *aux);
};

/* Like netmap_render(), except that the "filter" member, when the answer
 * has one, is not in *out but in *filter: the text of its value, shared
 * with the other nodes whose filter is the same (NULL when the answer has
 * no filter). *filter stays valid until the next call into the engine. */
int netmap_render_shared(const struct netmap *nm, int64_t id, int64_t since,
			 json_t **out, struct netmap_shared **filter);

/* Work counters, for tests and metrics: they let a test check that a cost
 * is proportional to what changed rather than time it. */
struct netmap_stats {
	uint64_t peer_visits;  /* peer entries netmap_render examined */
	uint64_t src_builds;   /* rule source lists built (see netmap.md) */
	uint64_t filter_renders; /* filters rendered to JSON text */
};

/* Copies the counters into *out (zeros for a NULL nm). */
void netmap_stats(const struct netmap *nm, struct netmap_stats *out);

/* Peer ids of id, ascending, into a malloc'd array (for tests and
 * diagnostics). */
int netmap_peers(const struct netmap *nm, int64_t id, int64_t **ids,
		 size_t *n);

#endif
