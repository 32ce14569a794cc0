/* From the database to the network-map engine: the hub's reads of the
 * store, turned into the engine's input types.
 *
 * One change of the feed is read in two steps so that the hub never holds
 * its lock across a database read: mapfeed_stage reads what the change
 * needs (a read transaction, no lock), mapfeed_apply hands it to the
 * engine (no I/O; the hub calls it under its lock). mapfeed_load fills an
 * empty engine with everything at one version, at start. */
#ifndef WEFT_MAPFEED_H
#define WEFT_MAPFEED_H

#include "controller/netmap.h"
#include "controller/store.h"
#include "shared/ip.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct policy;

/* A node's approved routes; owns the node's approved_routes array. */
struct mapfeed_routes {
	char (*prefixes)[STORE_CIDR_SIZE];
	const char **ptrs;
	size_t n, cap;
};

struct mapfeed_relays {
	struct netmap_relay *v;
	size_t n, cap;
};

/* One change read from the database, ready to be applied to the engine. */
struct mapfeed_change {
	enum { MAPFEED_SKIP, MAPFEED_NODE, MAPFEED_NODE_GONE, MAPFEED_RESOURCE,
	       MAPFEED_RESOURCE_GONE, MAPFEED_RELAYS, MAPFEED_POLICY,
	       MAPFEED_DNS } kind;
	int64_t version, id;
	bool online;                   /* NODE: what the database says */
	struct netmap_node node;       /* NODE */
	struct mapfeed_routes routes;  /* NODE: owns node.approved_routes */
	struct netmap_resource res;    /* RESOURCE */
	struct mapfeed_relays relays;  /* RELAYS */
	struct policy *pol;            /* POLICY */
	json_t *dns;                   /* DNS: the settings */
	struct ip_addr stub6;          /* DNS */
};

/* Reads what the feed row (kind, id) at version needs through tx into s
 * (which the caller frees with mapfeed_change_free, also on failure).
 * A deleted or expired node, a deleted or unreadable resource become the
 * _GONE kinds; an unknown kind is MAPFEED_SKIP. dns_suffix names the
 * deployment's DNS zone. Returns 0 or a negative WEFT_ERR_*. */
int mapfeed_stage(struct store_tx *tx, const char *dns_suffix,
		  const char *kind, int64_t version, int64_t id,
		  struct mapfeed_change *s);

/* Applies s to the engine; the nodes whose maps changed are added to
 * dirty. No I/O. The engine takes s's policy, also on failure. */
int mapfeed_apply(struct netmap *nm, struct mapfeed_change *s,
		  struct netmap_dirty *dirty);

void mapfeed_change_free(struct mapfeed_change *s);

/* Loads the policy, relays, DNS settings, resources and nodes read
 * through tx into nm at version (expired nodes and unreadable resources
 * are left out). Returns 0 or a negative WEFT_ERR_*. */
int mapfeed_load(struct store_tx *tx, const char *dns_suffix,
		 struct netmap *nm, int64_t version,
		 struct netmap_dirty *dirty);

#endif
