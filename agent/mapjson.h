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

/* The dns object (agent/mapdns.c); free with mapjson_dns_free. suffix,
 * split domains and record names are DNS names (name_valid_domain), no
 * split domain is the suffix or under it or given twice, each has 1 to
 * DNS_MAX_UPSTREAMS upstreams, upstreams are "IP", "IP:port" or
 * "[IPv6]:port" (port 53 by default), records are type "A" or "AAAA"
 * with a value of that family, stub addresses have their family, and the
 * lists stay within the DNS_MAX_* limits (shared/dnslimits.h). Absent
 * fields get an older controller's meaning: search true, stub
 * 100.100.100.100 only, empty lists. */
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

/* A "resources" (serves false) or "serves" (serves true) array into a
 * new array of *n entries (mapjson_res_free). Entries are checked in
 * full: a positive id, name, a known type whose address and prefixes
 * agree with it (ip/cidr: the address's own prefix; internet: 0.0.0.0/0
 * and ::/0; dns/wildcard: up to two mapped prefixes, one per family),
 * filters of tcp/udp/icmp at most once each with ranges 1..65535 (none
 * for icmp), and for resources the connector ids (positive, ascending,
 * unique), all within the MAP_MAX_RES* limits; unknown fields are
 * ignored. */
int mapjson_res(const json_t *a, bool serves, struct map_res **out,
		size_t *n, char *err, size_t errlen);
void mapjson_res_free(struct map_res *v, size_t n);

/* Typed entries back as JSON in the map's form (for the local API): a
 * new reference, NULL when out of memory. */
json_t *mapjson_res_json(const struct map_res *v, size_t n, bool serves);

/* The JSON name of a resource type ("ip", "cidr", "dns", "wildcard",
 * "internet"). */
const char *mapjson_res_type(enum map_res_type t);

#endif
