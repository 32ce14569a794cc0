/* Wildcard resources (`*.corp.example`): the client gives each name under
 * the domain its own address from the resource's mapped /24 (and the
 * same host byte in the mapped /120), and tells the serving connector
 * which name it gave which address, so the connector can resolve the name
 * and translate (docs/connectors.md, "DNS resources").
 *
 * The table is the client's: an address, once given to a name, stays
 * that name's for the life of the table (the agent's run). The first
 * address tried is a hash of the name, so a restarted agent usually gives
 * the same one; a collision takes the next free host (.1 to .254).
 *
 * The message to the connector (UDP port WILDCARD_PORT to its mesh
 * address, through the tunnel):
 *
 *   "WFW1"                     4 bytes
 *   count                      1 byte, 1..WILDCARD_MSG_ENTRIES
 *   per entry:
 *     resource id              8 bytes, big-endian, > 0
 *     mapped IPv4 address      4 bytes
 *     name length              1 byte, 1..253
 *     name                     lower-case dotted text, no trailing dot
 *
 * and nothing after the last entry. Pure code: no I/O. */
#ifndef WEFT_AGENT_WILDCARD_H
#define WEFT_AGENT_WILDCARD_H

#include "shared/dnswire.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WILDCARD_PORT 5746
#define WILDCARD_MSG_ENTRIES 16
#define WILDCARD_HOSTS 254 /* .1 .. .254 of the /24 */
#define WILDCARD_MSG_MAX (5 + WILDCARD_MSG_ENTRIES * (13 + 253))

/* True when name lies strictly under the wildcard pattern ("*.corp.example"
 * covers "db.corp.example" and "a.b.corp.example", not "corp.example").
 * Both lower case. */
bool wildcard_matches(const char *pattern, const char *name);

struct wildcard_table;

/* Creates an empty table. Returns NULL when out of memory. */
struct wildcard_table *wildcard_table_new(void);

/* Frees t. NULL is fine. */
void wildcard_table_del(struct wildcard_table *t);

/* The addresses of name under the wildcard resource id, whose mapped
 * prefixes are p4 (a /24) and p6 (a /120, or NULL): the one given before,
 * or a new one. Returns 0 with *v4 (and *v6 when p6 is not NULL);
 * WEFT_ERR_INVAL for a name that is not valid or a prefix of another
 * size; WEFT_ERR_EXHAUSTED when the resource's 254 hosts are all given;
 * WEFT_ERR_NOMEM. */
int wildcard_resolve(struct wildcard_table *t, int64_t id,
		     const struct ip_prefix *p4, const struct ip_prefix *p6,
		     const char *name, struct ip_addr *v4, struct ip_addr *v6);

/* Forgets every name of resource id (its prefixes changed or it is gone). */
void wildcard_forget(struct wildcard_table *t, int64_t id);

struct wildcard_entry {
	int64_t id;
	struct ip_addr addr; /* IPv4 */
	char name[DNSWIRE_NAME_MAX];
};

/* Calls fn for every name given for resource id, with its IPv4 address
 * (to re-send them to a new connector after a failover). */
void wildcard_each(const struct wildcard_table *t, int64_t id,
		   void (*fn)(void *ctx, const struct wildcard_entry *e),
		   void *ctx);

/* Builds a message of n (1..WILDCARD_MSG_ENTRIES) entries into buf (cap
 * bytes). Returns its length, WEFT_ERR_INVAL for a bad entry or count,
 * WEFT_ERR_TOOBIG when cap is too small. */
int wildcard_msg_build(const struct wildcard_entry *e, size_t n,
		       uint8_t *buf, size_t cap);

/* Parses p[0..len) into out (room for WILDCARD_MSG_ENTRIES) and *n.
 * Returns 0 or WEFT_ERR_PARSE (bad magic, count, id, address family,
 * name, truncation, trailing bytes). */
int wildcard_msg_parse(const uint8_t *p, size_t len,
		       struct wildcard_entry *out, size_t *n);

#endif
