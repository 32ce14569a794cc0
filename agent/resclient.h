/* The client side of resources (docs/connectors.md, "Routing"): for
 * every entry of the map's "resources" part, one connector
 * (agent/reschoice.h) that the data plane sends its traffic to, with its
 * filters for the early reject; the connectors' tunnels are watched
 * (tunnels_watch) so a lost one is replaced at once instead of after the
 * controller's offline grace.
 *
 * Glue on the loop thread, like dataplane.c: it logs every choice and
 * move once (event=resource_connector) and every connector the tunnels
 * lose or hear from again (event=resource_connector_lost). */
#ifndef WEFT_AGENT_RESCLIENT_H
#define WEFT_AGENT_RESCLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct dataplane;
struct map;
struct map_diff;
struct resclient;
struct resnames_hit;

/* Returns 0 and *out, or WEFT_ERR_NOMEM. */
int resclient_new(struct resclient **out);

/* NULL is fine. */
void resclient_del(struct resclient *rc);

/* After a map update (m: the map after it) that replaced the resources
 * or added or removed peers: the new set of resources with their
 * connectors into dp (dataplane_set_resources) and the watch on the
 * connectors' tunnels. Logs (out of memory: the old table stays). */
void resclient_apply(struct resclient *rc, const struct map *m,
		     const struct map_diff *diff, struct dataplane *dp);

/* The tunnels lost a watched peer or hear from it again: re-picks. */
void resclient_on_lost(struct resclient *rc, int64_t peer, bool lost,
		       const struct map *m, struct dataplane *dp);

/* Adds to each object of arr (the "resources" part as `routes` shows
 * it, in map order) "connector": {"id", "name", "lost"} or null, and
 * "moves". */
void resclient_annotate(const struct resclient *rc, const struct map *m,
			const struct dataplane *dp, json_t *arr);

/* For status: {"count", "without_connector", "moves", "lost"} (lost:
 * connectors the tunnels consider lost now). New reference or NULL. */
json_t *resclient_json(const struct resclient *rc,
		       const struct dataplane *dp);

/* The connector chosen for the resource with this id, 0 for none (no
 * connector online, or no such resource). */
int64_t resclient_connector(const struct resclient *rc, int64_t res_id);

/* Moves from one connector to another since the start. */
uint64_t resclient_moves(const struct resclient *rc);

/* The mapped address of name for this client (agent/resnames.h), from
 * m's resources; wildcard names keep their address for the life of rc.
 * Returns what resnames_resolve returns. */
int resclient_resolve(struct resclient *rc, const struct map *m,
		      const char *name, struct resnames_hit *out);

#endif
