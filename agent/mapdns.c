/* The strict reader of the map's "dns" part (docs/dns.md) into struct
 * map_dns: see mapjson.h. Everything is checked before anything is
 * returned; fields an older controller leaves out get their defaults. */
#include "agent/mapjson.h"

#include "shared/dnslimits.h"
#include "shared/err.h"
#include "shared/name.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes "dns <where>: <what>" (where names the entry) and returns rc. */
static int bad(char *err, size_t errlen, int rc, const char *where,
	       const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "dns %s: %s", where, what);
	return rc;
}

/* An optional array of at most max entries: NULL when absent or null. */
static int opt_array(const json_t *o, const char *key, size_t max,
		     const json_t **out, char *err, size_t errlen)
{
	const json_t *a = json_object_get(o, key);

	*out = NULL;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return bad(err, errlen, WEFT_ERR_TYPE, key, "not an array");
	if (json_array_size(a) > max)
		return bad(err, errlen, WEFT_ERR_TOOBIG, key, "too many entries");
	*out = a;
	return 0;
}

/* An optional array of at most max entries and a zeroed array of as many
 * entries of size bytes for it (*out NULL, *n 0 when absent or empty). */
static int typed_array(const json_t *o, const char *key, size_t max,
		       size_t size, const json_t **a, void **out, size_t *n,
		       char *err, size_t errlen)
{
	int rc = opt_array(o, key, max, a, err, errlen);

	if (rc < 0 || !*a || json_array_size(*a) == 0)
		return rc;
	*out = calloc(json_array_size(*a), size);
	if (!*out)
		return bad(err, errlen, WEFT_ERR_NOMEM, key, "out of memory");
	*n = json_array_size(*a);
	return 0;
}

/* A string member that must be a DNS name. */
static int domain_of(const json_t *o, const char *key, const char **out,
		     const char *where, char *err, size_t errlen)
{
	const char *s = json_string_value(json_object_get(o, key));
	char what[96];

	if (!s) {
		snprintf(what, sizeof(what), "%s is not a string", key);
		return bad(err, errlen, WEFT_ERR_TYPE, where, what);
	}
	if (!name_valid_domain(s)) {
		snprintf(what, sizeof(what), "%s \"%.60s\" is not a DNS name",
			 key, s);
		return bad(err, errlen, WEFT_ERR_INVAL, where, what);
	}
	*out = s;
	return 0;
}

/* The upstream strings of array a into out (json_array_size(a) entries). */
static int upstreams_of(const json_t *a, struct ip_endpoint *out,
			const char *where, char *err, size_t errlen)
{
	const json_t *v;
	char what[128];
	size_t i;

	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		if (!s)
			return bad(err, errlen, WEFT_ERR_TYPE, where,
				   "an upstream is not a string");
		if (ip_endpoint_parse_port(s, DNS_PORT, &out[i]) < 0) {
			snprintf(what, sizeof(what),
				 "bad upstream \"%.60s\" (IP, IP:port or "
				 "[IPv6]:port)", s);
			return bad(err, errlen, WEFT_ERR_INVAL, where, what);
		}
	}
	return 0;
}

static int read_stub(const json_t *o, struct map_dns *d, char *err,
		     size_t errlen)
{
	const json_t *st = json_object_get(o, "stub"), *v;

	ip_addr_parse(DNS_STUB_IPV4, &d->stub4);
	if (!st || json_is_null(st))
		return 0;
	if (!json_is_object(st))
		return bad(err, errlen, WEFT_ERR_TYPE, "stub", "not an object");
	v = json_object_get(st, "ipv4");
	if (v && !json_is_null(v) &&
	    (!json_is_string(v) ||
	     ip_addr_parse(json_string_value(v), &d->stub4) < 0 ||
	     d->stub4.family != 4))
		return bad(err, errlen, WEFT_ERR_INVAL, "stub",
			   "ipv4 is not an IPv4 address");
	v = json_object_get(st, "ipv6");
	if (v && !json_is_null(v) &&
	    (!json_is_string(v) ||
	     ip_addr_parse(json_string_value(v), &d->stub6) < 0 ||
	     d->stub6.family != 6))
		return bad(err, errlen, WEFT_ERR_INVAL, "stub",
			   "ipv6 is not an IPv6 address");
	return 0;
}

/* The split array. All split domains' upstreams share one block, which
 * starts at split[0].upstreams (every split domain has at least one). */
static int read_split(const json_t *o, struct map_dns *d, char *err,
		      size_t errlen)
{
	const json_t *a, *s, *u;
	struct ip_endpoint *block;
	size_t i, j, total = 0, at = 0;
	char where[32];
	int rc;

	if ((rc = opt_array(o, "split", DNS_MAX_SPLIT, &a, err, errlen)) < 0 ||
	    !a || json_array_size(a) == 0)
		return rc;
	json_array_foreach(a, i, s) {
		snprintf(where, sizeof(where), "split[%zu]", i);
		u = json_object_get(s, "upstreams");
		if (!json_is_object(s) || !json_is_array(u))
			return bad(err, errlen, WEFT_ERR_TYPE, where,
				   "needs domain and an upstreams array");
		if (json_array_size(u) < 1 ||
		    json_array_size(u) > DNS_MAX_UPSTREAMS)
			return bad(err, errlen, WEFT_ERR_TOOBIG, where,
				   "needs 1 to 8 upstreams");
		total += json_array_size(u);
	}
	d->split = calloc(json_array_size(a), sizeof(*d->split));
	block = calloc(total, sizeof(*block));
	if (!d->split || !block) {
		free(block);
		return bad(err, errlen, WEFT_ERR_NOMEM, "split", "out of memory");
	}
	d->nsplit = json_array_size(a);
	json_array_foreach(a, i, s) {
		struct map_dns_split *x = &d->split[i];

		snprintf(where, sizeof(where), "split[%zu]", i);
		u = json_object_get(s, "upstreams");
		x->upstreams = block + at;
		x->nupstreams = json_array_size(u);
		at += x->nupstreams;
		if ((rc = domain_of(s, "domain", &x->domain, where, err,
				    errlen)) < 0 ||
		    (rc = upstreams_of(u, x->upstreams, where, err, errlen)) < 0)
			return rc;
		if (d->suffix && name_under_domain(x->domain, d->suffix))
			return bad(err, errlen, WEFT_ERR_INVAL, where,
				   "domain is the mesh suffix or under it");
		for (j = 0; j < i; j++)
			if (strcmp(d->split[j].domain, x->domain) == 0)
				return bad(err, errlen, WEFT_ERR_INVAL, where,
					   "domain given twice");
	}
	return 0;
}

static int read_records(const json_t *o, struct map_dns *d, char *err,
			size_t errlen)
{
	const json_t *a, *r;
	char where[32];
	size_t i;
	int rc;

	if ((rc = typed_array(o, "records", DNS_MAX_RECORDS,
			      sizeof(*d->records), &a, (void **)&d->records,
			      &d->nrecords, err, errlen)) < 0 ||
	    !d->nrecords)
		return rc;
	json_array_foreach(a, i, r) {
		struct map_dns_record *x = &d->records[i];
		const char *type, *value;

		snprintf(where, sizeof(where), "records[%zu]", i);
		if (!json_is_object(r))
			return bad(err, errlen, WEFT_ERR_TYPE, where,
				   "not an object");
		if ((rc = domain_of(r, "name", &x->name, where, err,
				    errlen)) < 0)
			return rc;
		type = json_string_value(json_object_get(r, "type"));
		value = json_string_value(json_object_get(r, "value"));
		if (!type || !value)
			return bad(err, errlen, WEFT_ERR_TYPE, where,
				   "type and value must be strings");
		x->type = strcmp(type, "A") == 0      ? 4
			  : strcmp(type, "AAAA") == 0 ? 6
						      : 0;
		if (!x->type)
			return bad(err, errlen, WEFT_ERR_INVAL, where,
				   "type is not A or AAAA");
		if (ip_addr_parse(value, &x->value) < 0 ||
		    x->value.family != x->type)
			return bad(err, errlen, WEFT_ERR_INVAL, where,
				   "value is not an address of the type's "
				   "family");
	}
	return 0;
}

static int read_resources(const json_t *o, struct map_dns *d, char *err,
			  size_t errlen)
{
	const json_t *a, *r;
	char where[32];
	size_t i;
	int rc;

	if ((rc = typed_array(o, "resources", MAP_MAX_RESOURCES,
			      sizeof(*d->resources), &a,
			      (void **)&d->resources, &d->nresources, err,
			      errlen)) < 0 ||
	    !d->nresources)
		return rc;
	json_array_foreach(a, i, r) {
		struct map_resource *x = &d->resources[i];

		x->name = json_string_value(json_object_get(r, "name"));
		x->address = json_string_value(json_object_get(r, "address"));
		snprintf(where, sizeof(where), "resources[%zu]", i);
		if (!x->name || !x->address)
			return bad(err, errlen, WEFT_ERR_TYPE, where,
				   "needs name and address strings");
	}
	return 0;
}

int mapjson_dns(const json_t *o, struct map_dns *out, char *err,
		size_t errlen)
{
	struct map_dns d = {.search = true};
	const json_t *v, *a;
	int rc;

	if (!json_is_object(o))
		return bad(err, errlen, WEFT_ERR_TYPE, "part", "not an object");
	v = json_object_get(o, "suffix");
	if (v && !json_is_null(v) &&
	    (rc = domain_of(o, "suffix", &d.suffix, "part", err, errlen)) < 0)
		return rc;
	v = json_object_get(o, "search");
	if (v && !json_is_null(v) && !json_is_boolean(v))
		return bad(err, errlen, WEFT_ERR_TYPE, "search",
			   "not a boolean");
	if (v && json_is_boolean(v))
		d.search = json_is_true(v);
	if ((rc = read_stub(o, &d, err, errlen)) < 0 ||
	    (rc = typed_array(o, "upstreams", DNS_MAX_UPSTREAMS,
			      sizeof(*d.upstreams), &a, (void **)&d.upstreams,
			      &d.nupstreams, err, errlen)) < 0)
		return rc;
	if (d.nupstreams)
		rc = upstreams_of(a, d.upstreams, "upstreams", err, errlen);
	if (rc < 0 || (rc = read_split(o, &d, err, errlen)) < 0 ||
	    (rc = read_records(o, &d, err, errlen)) < 0 ||
	    (rc = read_resources(o, &d, err, errlen)) < 0) {
		mapjson_dns_free(&d);
		return rc;
	}
	*out = d;
	return 0;
}

void mapjson_dns_free(struct map_dns *d)
{
	if (!d)
		return;
	if (d->nsplit)
		free(d->split[0].upstreams);
	free(d->split);
	free(d->upstreams);
	free(d->records);
	free(d->resources);
	memset(d, 0, sizeof(*d));
}
