/* Which mapped address a name has for this client: the name of a DNS
 * resource gets the resource's mapped /32 and /128, a name under a
 * wildcard resource its own address in the resource's block
 * (agent/wildcard.h). The stub resolver (issue 16) answers with this;
 * until then `weft-agent resolve NAME` shows it. docs/connectors.md,
 * "DNS resources". */
#ifndef WEFT_AGENT_RESNAMES_H
#define WEFT_AGENT_RESNAMES_H

#include "agent/map.h"
#include "agent/wildcard.h"
#include "shared/ip.h"

struct resnames_hit {
	const struct map_res *res; /* borrowed from the resources given */
	char name[DNSWIRE_NAME_MAX]; /* lower case, no trailing dot */
	struct ip_addr v4;         /* family 0 when the resource has none */
	struct ip_addr v6;
};

/* name (any case, one trailing dot allowed) in lower case without the
 * dot into out (DNSWIRE_NAME_MAX bytes). Returns 0 or WEFT_ERR_INVAL
 * for a name that is not valid. */
int resnames_normalise(const char *name, char *out);

/* The resource of v[0..n) that covers name (resnames_normalise'd): the
 * DNS resource of exactly that name, else the wildcard with the longest
 * domain; NULL for none. Works on "resources" and "serves" alike. */
const struct map_res *resnames_find(const struct map_res *v, size_t n,
				    const char *name);

/* Looks name up (any case, one trailing dot allowed) among v[0..n) (a
 * map's resources): an exact DNS resource wins, then the wildcard with
 * the longest domain. Returns 0 with *out; WEFT_ERR_INVAL for a name
 * that is not valid; WEFT_ERR_NOTFOUND when no resource this node may
 * reach covers it; WEFT_ERR_EXHAUSTED when the wildcard's block is full;
 * WEFT_ERR_NOMEM. */
int resnames_resolve(const struct map_res *v, size_t n,
		     struct wildcard_table *wt, const char *name,
		     struct resnames_hit *out);

#endif
