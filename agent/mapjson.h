/* The strict reader of the network map's parts (docs/internals/netmap.md)
 * into the structs of agent/map.h. Used by map_apply; exposed so that the
 * filter's tests and fuzzer can turn rule text into struct map_rule.
 *
 * What is checked: every field the agent knows has its type (a string, or
 * null where the controller renders null for "none"), ids are positive
 * integers, keys and pins are base64 of IDENT_KEY_LEN bytes, addresses,
 * prefixes and endpoints parse, filter rules have exactly the keys
 * proto/src/dst and dst entries prefix/ports, and lists stay within the
 * MAP_MAX_* and FILTER_MAX_* limits. Unknown fields of peers, self, dns
 * and relays are ignored, so a newer controller can add fields; unknown
 * rule keys are refused, so a rule is never half understood.
 *
 * Every function returns 0, WEFT_ERR_TYPE (a JSON type is wrong),
 * WEFT_ERR_INVAL (a value is wrong), WEFT_ERR_TOOBIG (beyond a limit) or
 * WEFT_ERR_NOMEM, and on failure writes a one-line reason into err
 * (errlen bytes; err may be NULL) and leaves its outputs unset. Strings in
 * the results are borrowed from the JSON, which must outlive them. Pure
 * code, no I/O. */
#ifndef WEFT_AGENT_MAPJSON_H
#define WEFT_AGENT_MAPJSON_H

#include "agent/map.h"

#include <jansson.h>

/* One peer object into a new struct map_peer (freed with
 * mapjson_peer_free); its json field points at o. */
int mapjson_peer(const json_t *o, struct map_peer **out, char *err,
		 size_t errlen);
void mapjson_peer_free(struct map_peer *p);

/* The self object. Allocates nothing. */
int mapjson_self(const json_t *o, struct map_self *out, char *err,
		 size_t errlen);

/* The dns object; free with mapjson_dns_free. */
int mapjson_dns(const json_t *o, struct map_dns *out, char *err,
		size_t errlen);
void mapjson_dns_free(struct map_dns *d);

/* The relays array into a new array of *n relays (free()). */
int mapjson_relays(const json_t *a, struct map_relay **out, size_t *n,
		   char *err, size_t errlen);

/* The filter array into a new array of *n rules (mapjson_rules_free).
 * Returns WEFT_ERR_INVAL for any malformed rule (also a wrong JSON
 * type), WEFT_ERR_TOOBIG beyond FILTER_MAX_*. */
int mapjson_rules(const json_t *a, struct map_rule **out, size_t *n,
		  char *err, size_t errlen);
void mapjson_rules_free(struct map_rule *r, size_t n);

#endif
