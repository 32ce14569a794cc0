/* The agent's copy of its network map (docs/internals/netmap.md), built
 * from the answers of GET /api/v1/map: a full map replaces everything; a
 * delta drops the ids in peers_removed, upserts peers by id and replaces
 * self, filter, dns and relays when present. The result equals the full
 * map the controller would render at that version.
 *
 * Pure code: no I/O, no clock, no threads. Not thread-safe; the agent's
 * main loop owns the one instance. Parts handed out are borrowed from the
 * map and live until the next map_apply or map_del. */
#ifndef WEFT_AGENT_MAP_H
#define WEFT_AGENT_MAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct map;

/* Creates an empty map (version 0, no parts). Returns 0 and *out, or
 * WEFT_ERR_NOMEM. */
int map_new(struct map **out);

/* Frees m and every part it holds. NULL is fine. */
void map_del(struct map *m);

/* Applies one map answer. The answer is checked in full before anything
 * changes: version (integer >= 0) and full (boolean) are required; self
 * and dns must be objects, filter, relays and peers arrays, every peer an
 * object with a positive integer id, peers_removed an array of positive
 * integers. A delta before any full map is refused. m keeps references to
 * parts of answer (json_incref), so the caller must not modify answer
 * afterwards. Returns 0; WEFT_ERR_PARSE / WEFT_ERR_TYPE for a malformed
 * answer or WEFT_ERR_PROTO for a delta without a base (m unchanged); or
 * WEFT_ERR_NOMEM, after which m may be incomplete and map_needs_full()
 * is true until a full map is applied. */
int map_apply(struct map *m, const json_t *answer);

/* The version of the last applied answer, 0 before the first. */
int64_t map_version(const struct map *m);

/* True until a full map has been applied, and after an allocation failure
 * in map_apply: the next poll must ask for a full map (since=0). */
bool map_needs_full(const struct map *m);

/* A borrowed part of the map by name: "self", "filter", "dns" or
 * "relays". NULL for another name or a part the map has not received. */
const json_t *map_part(const struct map *m, const char *name);

/* Number of peers. */
size_t map_peer_count(const struct map *m);

/* The peer with this id (borrowed) or NULL. */
const json_t *map_peer(const struct map *m, int64_t id);

/* The peers as a new JSON array sorted by id, holding references to the
 * map's peer objects (do not modify them). Returns NULL when out of
 * memory. Caller decrefs. */
json_t *map_peers(const struct map *m);

/* The whole map rendered like a full map answer: {version, full: true,
 * self, peers, filter, dns, relays} (absent parts left out). Returns NULL
 * when out of memory. Caller decrefs; the parts are shared with m. */
json_t *map_to_json(const struct map *m);

/* Whether prefix (an allowed_ips entry of peer, "ADDR/LEN") is the
 * peer's own mesh address: its ipv4 as /32 or its ipv6 as /128. */
bool map_is_mesh_prefix(const json_t *peer, const char *prefix);

#endif
