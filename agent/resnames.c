#include "agent/resnames.h"

#include "shared/err.h"

#include <string.h>

static const struct ip_prefix *prefix_of(const struct map_res *r,
					 uint8_t family)
{
	for (size_t i = 0; i < r->nprefixes; i++)
		if (r->prefixes[i].addr.family == family)
			return &r->prefixes[i];
	return NULL;
}

int resnames_normalise(const char *name, char *out)
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len >= DNSWIRE_NAME_MAX)
		return WEFT_ERR_INVAL;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ?
					name[i] + 32 : name[i]);
	out[len] = '\0';
	return dnswire_name_valid(out) ? 0 : WEFT_ERR_INVAL;
}

const struct map_res *resnames_find(const struct map_res *v, size_t n,
				    const char *name)
{
	const struct map_res *best = NULL;

	for (size_t i = 0; i < n; i++) {
		if (v[i].type == MAP_RES_DNS &&
		    strcmp(v[i].address, name) == 0)
			return &v[i];
		if (v[i].type == MAP_RES_WILDCARD &&
		    wildcard_matches(v[i].address, name) &&
		    (!best || strlen(v[i].address) > strlen(best->address)))
			best = &v[i];
	}
	return best;
}

int resnames_resolve(const struct map_res *v, size_t n,
		     struct wildcard_table *wt, const char *name,
		     struct resnames_hit *out)
{
	const struct map_res *best = NULL;
	const struct ip_prefix *p4, *p6;
	struct resnames_hit h;
	int rc;

	memset(&h, 0, sizeof(h));
	rc = resnames_normalise(name, h.name);
	if (rc != 0)
		return rc;
	best = resnames_find(v, n, h.name);
	if (!best)
		return WEFT_ERR_NOTFOUND;
	h.res = best;
	p4 = prefix_of(best, 4);
	p6 = prefix_of(best, 6);
	if (best->type == MAP_RES_DNS) {
		if (p4)
			h.v4 = p4->addr;
		if (p6)
			h.v6 = p6->addr;
	} else {
		if (!p4)
			return WEFT_ERR_NOTFOUND;
		rc = wildcard_resolve(wt, best->id, p4, p6, h.name, &h.v4,
				      p6 ? &h.v6 : NULL);
		if (rc != 0)
			return rc;
	}
	*out = h;
	return 0;
}
