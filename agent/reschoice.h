/* Which connector a client sends each resource's traffic to
 * (docs/connectors.md, "Routing"), and whether a packet to a resource
 * is one this node may send at all (early reject).
 *
 * Choice: among the resource's online connectors (the map's list), one
 * per resource, by rendezvous hashing of (this node, resource,
 * connector): every client ranks the connectors differently, so clients
 * spread over them, and a restart ranks them the same way again. The
 * choice is sticky: it stays while its connector is in the list and not
 * lost (its tunnel got no answer, agent/tunnel.h), so existing flows
 * stay where their connector-side state (NAT) is, and a connector coming
 * back does not pull flows away from the one that took over. A lost or
 * departed connector is replaced by the best-ranked one that is not
 * lost; when all are lost, by the one lost longest ago (it had the most
 * time to come back).
 *
 * Pure code: no I/O, no clock (callers pass lost times), no logging.
 * Changes are handed back as events for the caller to log. */
#ifndef WEFT_AGENT_RESCHOICE_H
#define WEFT_AGENT_RESCHOICE_H

#include "agent/map.h"
#include "agent/packet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The rendezvous weight of connector for (self, res): a fixed 64-bit
 * mix of the three ids, the same on every machine and run. */
uint64_t reschoice_weight(int64_t self, int64_t res, int64_t connector);

/* Tells whether a connector is lost: true with *since (ms, any clock
 * the caller uses consistently) when it is. */
typedef bool (*reschoice_lost_fn)(int64_t connector, int64_t *since,
				  void *ctx);

/* The connector for resource res among conn[0..n) (any order) given the
 * current choice (0: none): current when it is in conn and not lost,
 * else the highest weight not lost, else the one lost longest ago (ties:
 * higher weight). 0 when n is 0. lost may be NULL (none is lost). */
int64_t reschoice_pick(int64_t self, int64_t res, const int64_t *conn,
		       size_t n, int64_t current, reschoice_lost_fn lost,
		       void *ctx);

/* Why a choice changed. */
enum reschoice_why {
	RESCHOICE_NEW,      /* a resource appeared (or the first map) */
	RESCHOICE_GONE,     /* the connector left the resource's list */
	RESCHOICE_LOST,     /* its tunnel got no answer */
	RESCHOICE_NONE,     /* the list is empty: no connector */
	RESCHOICE_BACK,     /* from none to one */
};

const char *reschoice_why_name(enum reschoice_why w);

struct reschoice_event {
	size_t index;       /* into the entries */
	int64_t from, to;   /* connector ids, 0: none */
	enum reschoice_why why;
};

/* One resource of the table. */
struct reschoice_entry {
	int64_t id;
	int64_t connector;  /* 0: none */
	uint64_t moves;     /* changes from one connector to another */
};

struct reschoice;

/* Returns 0 and an empty table, or WEFT_ERR_NOMEM. */
int reschoice_new(struct reschoice **out);
void reschoice_del(struct reschoice *rc);

/* Takes the map's resources v[0..n) (borrowed for the call) as the new
 * set: entries follow v's order; a resource that was there keeps its
 * choice when still valid (reschoice_pick). Events (caller frees *ev)
 * say what changed; a resource that left is not an event. Returns 0,
 * WEFT_ERR_NOMEM (the table is unchanged). */
int reschoice_update(struct reschoice *rc, int64_t self,
		     const struct map_res *v, size_t n, reschoice_lost_fn lost,
		     void *ctx, struct reschoice_event **ev, size_t *nev);

/* Re-picks every entry after a connector's liveness changed (v as in
 * the last update: the same map). Same events and return codes. */
int reschoice_recheck(struct reschoice *rc, int64_t self,
		      const struct map_res *v, size_t n,
		      reschoice_lost_fn lost, void *ctx,
		      struct reschoice_event **ev, size_t *nev);

/* The entries, in the order of the last update. */
const struct reschoice_entry *reschoice_entries(const struct reschoice *rc,
						size_t *n);

/* Moves from one connector to another since the table was made. */
uint64_t reschoice_moves(const struct reschoice *rc);

/* Early reject: whether filters[0..n) (a "resources" entry's effective
 * filters; none: everything) allow the packet pi. TCP and UDP need a
 * filter of their protocol with the destination port in its ranges (a
 * later fragment, which has no ports, only the protocol); ICMP and
 * ICMPv6 an icmp filter; other protocols are not allowed by a non-empty
 * list. */
bool reschoice_allows(const struct map_res_filter *filters, size_t n,
		      const struct packet_info *pi);

#endif
