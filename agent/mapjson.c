/* Strict reading of the map's parts: see mapjson.h. Each reader checks
 * everything before it returns, so a caller never holds half a part. */
#include "agent/mapjson.h"

#include "agent/filter.h"
#include "shared/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* An optional string: absent or null gives NULL. */
static int opt_str(const json_t *o, const char *key, const char **out,
		   const char *what, int64_t id, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(err, errlen, WEFT_ERR_TYPE,
			    "%s %lld: %s is not a string", what, (long long)id,
			    key);
	*out = json_string_value(v);
	return 0;
}

/* An optional address of family fam; family 0 when absent or null. */
static int opt_addr(const json_t *o, const char *key, uint8_t fam,
		    struct ip_addr *out, const char *what, int64_t id,
		    char *err, size_t errlen)
{
	const char *s;
	int rc = opt_str(o, key, &s, what, id, err, errlen);

	memset(out, 0, sizeof(*out));
	if (rc < 0 || !s)
		return rc;
	if (ip_addr_parse(s, out) < 0 || out->family != fam)
		return fail(err, errlen, WEFT_ERR_INVAL, "%s %lld: bad %s \"%.60s\"",
			    what, (long long)id, key, s);
	return 0;
}

/* An optional base64 key (public_key, public_key_pin). */
static int opt_key(const json_t *o, const char *key, bool *has,
		   uint8_t out[IDENT_KEY_LEN], const char *what, int64_t id,
		   char *err, size_t errlen)
{
	const char *s;
	int rc = opt_str(o, key, &s, what, id, err, errlen);

	*has = false;
	if (rc < 0 || !s)
		return rc;
	if (ident_pin_from_b64(s, out) < 0)
		return fail(err, errlen, WEFT_ERR_INVAL,
			    "%s %lld: %s is not a base64 key", what,
			    (long long)id, key);
	*has = true;
	return 0;
}

/* An optional array of strings of at most max entries; *n = 0 when
 * absent. */
static int opt_strings(const json_t *o, const char *key, size_t max,
		       const json_t **arr, size_t *n, const char *what,
		       int64_t id, char *err, size_t errlen)
{
	const json_t *a = json_object_get(o, key), *v;
	size_t i;

	*arr = NULL;
	*n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return fail(err, errlen, WEFT_ERR_TYPE,
			    "%s %lld: %s is not an array", what, (long long)id,
			    key);
	if (json_array_size(a) > max)
		return fail(err, errlen, WEFT_ERR_TOOBIG,
			    "%s %lld: more than %zu %s", what, (long long)id,
			    max, key);
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return fail(err, errlen, WEFT_ERR_TYPE,
				    "%s %lld: %s[%zu] is not a string", what,
				    (long long)id, key, i);
	*arr = a;
	*n = json_array_size(a);
	return 0;
}

static int pos_id(const json_t *o, bool required, int64_t *id,
		  const char *what, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, "id");

	*id = 0;
	if (!v && !required)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return fail(err, errlen, WEFT_ERR_TYPE,
			    "%s without a positive integer id", what);
	*id = json_integer_value(v);
	return 0;
}

/* Fields the agent does not act on still must have their types. */
static int check_display(const json_t *o, const char *what, int64_t id,
			 char *err, size_t errlen)
{
	const json_t *v, *arr;
	const char *s;
	size_t n;
	int rc;

	if ((rc = opt_str(o, "user", &s, what, id, err, errlen)) < 0 ||
	    (rc = opt_str(o, "last_seen", &s, what, id, err, errlen)) < 0 ||
	    (rc = opt_strings(o, "tags", 4096, &arr, &n, what, id, err,
			      errlen)) < 0)
		return rc;
	v = json_object_get(o, "online");
	if (v && !json_is_boolean(v))
		return fail(err, errlen, WEFT_ERR_TYPE,
			    "%s %lld: online is not a boolean", what,
			    (long long)id);
	return 0;
}

int mapjson_peer(const json_t *o, struct map_peer **out, char *err,
		 size_t errlen)
{
	const json_t *ips, *eps;
	struct map_peer *p = NULL;
	size_t nips, neps, i;
	int64_t id;
	int rc;

	if (!json_is_object(o))
		return fail(err, errlen, WEFT_ERR_TYPE, "peer is not an object");
	if ((rc = pos_id(o, true, &id, "peer", err, errlen)) < 0 ||
	    (rc = check_display(o, "peer", id, err, errlen)) < 0 ||
	    (rc = opt_strings(o, "allowed_ips", MAP_MAX_ALLOWED_IPS, &ips,
			      &nips, "peer", id, err, errlen)) < 0 ||
	    (rc = opt_strings(o, "endpoints", MAP_MAX_ENDPOINTS, &eps, &neps,
			      "peer", id, err, errlen)) < 0)
		return rc;
	/* One allocation: the peer, then its prefixes, then endpoints. */
	p = calloc(1, sizeof(*p) + nips * sizeof(*p->allowed_ips) +
			      neps * sizeof(*p->endpoints));
	if (!p)
		return fail(err, errlen, WEFT_ERR_NOMEM, "out of memory");
	p->id = id;
	p->json = o;
	p->allowed_ips = (struct ip_prefix *)(p + 1);
	p->endpoints = (struct ip_endpoint *)(p->allowed_ips + nips);
	if ((rc = opt_str(o, "name", &p->name, "peer", id, err, errlen)) < 0 ||
	    (rc = opt_str(o, "dns_name", &p->dns_name, "peer", id, err,
			  errlen)) < 0 ||
	    (rc = opt_str(o, "home_relay", &p->home_relay, "peer", id, err,
			  errlen)) < 0 ||
	    (rc = opt_key(o, "public_key", &p->has_key, p->key, "peer", id,
			  err, errlen)) < 0 ||
	    (rc = opt_addr(o, "ipv4", 4, &p->ipv4, "peer", id, err,
			   errlen)) < 0 ||
	    (rc = opt_addr(o, "ipv6", 6, &p->ipv6, "peer", id, err,
			   errlen)) < 0)
		goto out;
	p->online = json_is_true(json_object_get(o, "online"));
	for (i = 0; i < nips; i++) {
		const char *s = json_string_value(json_array_get(ips, i));

		if (ip_prefix_parse(s, &p->allowed_ips[i], 0) < 0) {
			rc = fail(err, errlen, WEFT_ERR_INVAL,
				  "peer %lld: bad allowed_ips entry \"%.60s\"",
				  (long long)id, s);
			goto out;
		}
		ip_prefix_mask(&p->allowed_ips[i]);
	}
	p->nallowed = nips;
	for (i = 0; i < neps; i++) {
		const char *s = json_string_value(json_array_get(eps, i));

		if (ip_endpoint_parse(s, &p->endpoints[i]) < 0) {
			rc = fail(err, errlen, WEFT_ERR_INVAL,
				  "peer %lld: bad endpoint \"%.60s\"",
				  (long long)id, s);
			goto out;
		}
	}
	p->nendpoints = neps;
	*out = p;
	p = NULL;
out:
	free(p);
	return rc;
}

void mapjson_peer_free(struct map_peer *p)
{
	free(p);
}

int mapjson_self(const json_t *o, struct map_self *out, char *err,
		 size_t errlen)
{
	struct map_self s = {.json = o};
	int rc;

	if (!json_is_object(o))
		return fail(err, errlen, WEFT_ERR_TYPE, "self is not an object");
	if ((rc = pos_id(o, false, &s.id, "self", err, errlen)) < 0 ||
	    (rc = check_display(o, "self", s.id, err, errlen)) < 0 ||
	    (rc = opt_str(o, "name", &s.name, "self", s.id, err, errlen)) < 0 ||
	    (rc = opt_addr(o, "ipv4", 4, &s.ipv4, "self", s.id, err,
			   errlen)) < 0 ||
	    (rc = opt_addr(o, "ipv6", 6, &s.ipv6, "self", s.id, err,
			   errlen)) < 0)
		return rc;
	*out = s;
	return 0;
}

int mapjson_relays(const json_t *a, struct map_relay **out, size_t *n,
		   char *err, size_t errlen)
{
	struct map_relay *v;
	const json_t *o;
	size_t i;
	int rc = 0;

	if (!json_is_array(a))
		return fail(err, errlen, WEFT_ERR_TYPE, "relays is not an array");
	if (json_array_size(a) > MAP_MAX_RELAYS)
		return fail(err, errlen, WEFT_ERR_TOOBIG, "more than %d relays",
			    MAP_MAX_RELAYS);
	v = calloc(json_array_size(a) + 1, sizeof(*v));
	if (!v)
		return fail(err, errlen, WEFT_ERR_NOMEM, "out of memory");
	json_array_foreach(a, i, o) {
		struct map_relay *r = &v[i];

		if (!json_is_object(o)) {
			rc = fail(err, errlen, WEFT_ERR_TYPE,
				  "relay %zu is not an object", i);
			break;
		}
		if ((rc = pos_id(o, false, &r->id, "relay", err, errlen)) < 0 ||
		    (rc = opt_str(o, "name", &r->name, "relay", r->id, err,
				  errlen)) < 0 ||
		    (rc = opt_str(o, "region", &r->region, "relay", r->id, err,
				  errlen)) < 0 ||
		    (rc = opt_str(o, "address", &r->address, "relay", r->id,
				  err, errlen)) < 0 ||
		    (rc = opt_key(o, "public_key_pin", &r->has_pin, r->pin,
				  "relay", r->id, err, errlen)) < 0)
			break;
	}
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = json_array_size(a);
	return 0;
}

/* ---- filter rules ---- */

static int parse_prefix(const json_t *v, struct ip_prefix *out, char *err,
			size_t errlen)
{
	const char *s = json_string_value(v);

	if (!s || ip_prefix_parse(s, out, IP_PREFIX_BARE_ADDR) != 0)
		return fail(err, errlen, WEFT_ERR_INVAL, "bad prefix %s%s%s",
			    s ? "\"" : "", s ? s : "(not a string)",
			    s ? "\"" : "");
	ip_prefix_mask(out);
	return 0;
}

/* Parses "*" or "22,80-90,443" into d. */
static int parse_ports(const char *s, struct map_dst *d, char *err,
		       size_t errlen)
{
	struct map_port_range pr, tmp[FILTER_MAX_PORT_RANGES];
	const char *p = s, *end;
	size_t n = 0;

	if (strcmp(s, "*") == 0) {
		d->all_ports = true;
		return 0;
	}
	for (;;) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		if (n == FILTER_MAX_PORT_RANGES)
			return fail(err, errlen, WEFT_ERR_TOOBIG,
				    "more than %d port ranges in \"%s\"",
				    FILTER_MAX_PORT_RANGES, s);
		if (ip_port_range_parse(p, (size_t)(end - p), &pr.lo,
					&pr.hi) < 0)
			return fail(err, errlen, WEFT_ERR_INVAL,
				    "bad ports \"%s\"", s);
		tmp[n++] = pr;
		if (!*end)
			break;
		p = end + 1;
	}
	d->ports = malloc(n * sizeof(*d->ports));
	if (!d->ports)
		return fail(err, errlen, WEFT_ERR_NOMEM, "out of memory");
	memcpy(d->ports, tmp, n * sizeof(*d->ports));
	d->nports = n;
	return 0;
}

static int parse_dst(const json_t *arr, struct map_rule *r, char *err,
		     size_t errlen)
{
	const char *key, *ports;
	size_t i, n;
	int rc;

	if (!json_is_array(arr))
		return fail(err, errlen, WEFT_ERR_INVAL, "dst is not an array");
	n = json_array_size(arr);
	if (n > FILTER_MAX_PREFIXES)
		return fail(err, errlen, WEFT_ERR_TOOBIG, "too many dst entries");
	r->dst = calloc(n ? n : 1, sizeof(*r->dst));
	if (!r->dst)
		return fail(err, errlen, WEFT_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const json_t *o = json_array_get(arr, i), *val;

		/* Counted first so a half-parsed entry is freed. */
		r->ndst++;
		if (!json_is_object(o))
			return fail(err, errlen, WEFT_ERR_INVAL,
				    "dst entry is not an object");
		json_object_foreach((json_t *)o, key, val) {
			if (strcmp(key, "prefix") && strcmp(key, "ports"))
				return fail(err, errlen, WEFT_ERR_INVAL,
					    "unknown dst key \"%s\"", key);
		}
		/* "self" stands for our own mesh addresses; filter.c
		 * resolves it when it compiles the rules. */
		val = json_object_get(o, "prefix");
		if (json_is_string(val) &&
		    strcmp(json_string_value(val), "self") == 0)
			r->dst[i].self = true;
		else if ((rc = parse_prefix(val, &r->dst[i].prefix, err,
					    errlen)) < 0)
			return rc;
		ports = json_string_value(json_object_get(o, "ports"));
		if (!ports)
			return fail(err, errlen, WEFT_ERR_INVAL,
				    "dst ports missing or not a string");
		rc = parse_ports(ports, &r->dst[i], err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int parse_src(const json_t *arr, struct map_rule *r, char *err,
		     size_t errlen)
{
	size_t i, n;
	int rc;

	if (!json_is_array(arr))
		return fail(err, errlen, WEFT_ERR_INVAL, "src is not an array");
	n = json_array_size(arr);
	if (n > FILTER_MAX_PREFIXES)
		return fail(err, errlen, WEFT_ERR_TOOBIG,
			    "too many src prefixes");
	r->src = calloc(n ? n : 1, sizeof(*r->src));
	if (!r->src)
		return fail(err, errlen, WEFT_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		rc = parse_prefix(json_array_get(arr, i), &r->src[i], err,
				  errlen);
		if (rc < 0)
			return rc;
	}
	r->nsrc = n;
	return 0;
}

static int parse_rule(const json_t *o, struct map_rule *r, char *err,
		      size_t errlen)
{
	static const struct {
		const char *name;
		enum map_proto p;
	} protos[] = {
		{"any", MAP_PROTO_ANY},
		{"tcp", MAP_PROTO_TCP},
		{"udp", MAP_PROTO_UDP},
		{"icmp", MAP_PROTO_ICMP},
	};
	const char *key, *proto;
	const json_t *val;
	size_t i;
	int rc;

	if (!json_is_object(o))
		return fail(err, errlen, WEFT_ERR_INVAL, "rule is not an object");
	json_object_foreach((json_t *)o, key, val) {
		if (strcmp(key, "proto") && strcmp(key, "src") &&
		    strcmp(key, "dst"))
			return fail(err, errlen, WEFT_ERR_INVAL,
				    "unknown rule key \"%s\"", key);
	}
	proto = json_string_value(json_object_get(o, "proto"));
	for (i = 0; proto && i < sizeof(protos) / sizeof(protos[0]); i++)
		if (strcmp(proto, protos[i].name) == 0)
			break;
	if (!proto || i == sizeof(protos) / sizeof(protos[0]))
		return fail(err, errlen, WEFT_ERR_INVAL,
			    "bad proto (want tcp, udp, icmp or any)");
	r->proto = protos[i].p;
	rc = parse_src(json_object_get(o, "src"), r, err, errlen);
	if (rc < 0)
		return rc;
	return parse_dst(json_object_get(o, "dst"), r, err, errlen);
}

void mapjson_rules_free(struct map_rule *r, size_t n)
{
	size_t i, j;

	if (!r)
		return;
	for (i = 0; i < n; i++) {
		for (j = 0; j < r[i].ndst; j++)
			free(r[i].dst[j].ports);
		free(r[i].dst);
		free(r[i].src);
	}
	free(r);
}

int mapjson_rules(const json_t *a, struct map_rule **out, size_t *nout,
		  char *err, size_t errlen)
{
	struct map_rule *r;
	size_t i, n;
	int rc = 0;

	if (!json_is_array(a))
		return fail(err, errlen, WEFT_ERR_INVAL,
			    "filter is not an array");
	n = json_array_size(a);
	if (n > FILTER_MAX_RULES)
		return fail(err, errlen, WEFT_ERR_TOOBIG,
			    "more than %d filter rules", FILTER_MAX_RULES);
	r = calloc(n ? n : 1, sizeof(*r));
	if (!r)
		return fail(err, errlen, WEFT_ERR_NOMEM, "out of memory");
	for (i = 0; i < n && rc == 0; i++)
		rc = parse_rule(json_array_get(a, i), &r[i], err, errlen);
	if (rc < 0) {
		mapjson_rules_free(r, n);
		return rc;
	}
	*out = r;
	*nout = n;
	return 0;
}

/* ---- resources and serves ---- */

static const char *const res_types[] = {
	[MAP_RES_IP] = "ip", [MAP_RES_CIDR] = "cidr", [MAP_RES_DNS] = "dns",
	[MAP_RES_WILDCARD] = "wildcard", [MAP_RES_INTERNET] = "internet",
};

const char *mapjson_res_type(enum map_res_type t)
{
	return (size_t)t < sizeof(res_types) / sizeof(res_types[0]) ?
		       res_types[t] : "unknown";
}

static const char *const res_protos[] = {
	[MAP_PROTO_TCP] = "tcp", [MAP_PROTO_UDP] = "udp",
	[MAP_PROTO_ICMP] = "icmp",
};

static int res_filters(const json_t *a, struct map_res *r, char *err,
		       size_t errlen)
{
	bool seen[MAP_PROTO_ICMP + 1] = {false};
	const json_t *f;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > MAP_RES_FILTERS)
		return fail(err, errlen, WEFT_ERR_INVAL,
			    "resource %lld: filters is not an array of at "
			    "most %d", (long long)r->id, MAP_RES_FILTERS);
	json_array_foreach(a, i, f) {
		struct map_res_filter *mf = &r->filters[i];
		const char *proto = json_string_value(
			json_object_get(f, "protocol"));
		const json_t *ports = json_object_get(f, "ports"), *p;
		size_t k;
		int pr;

		for (pr = MAP_PROTO_TCP; proto && pr <= MAP_PROTO_ICMP; pr++)
			if (strcmp(proto, res_protos[pr]) == 0)
				break;
		if (!proto || pr > MAP_PROTO_ICMP || seen[pr])
			return fail(err, errlen, WEFT_ERR_INVAL,
				    "resource %lld: filters[%zu] has a bad or "
				    "repeated protocol", (long long)r->id, i);
		seen[pr] = true;
		mf->proto = pr;
		if (ports && !json_is_null(ports) &&
		    (!json_is_array(ports) ||
		     json_array_size(ports) > MAP_RES_PORTS ||
		     (pr == MAP_PROTO_ICMP && json_array_size(ports))))
			return fail(err, errlen, WEFT_ERR_INVAL,
				    "resource %lld: filters[%zu] has bad ports",
				    (long long)r->id, i);
		json_array_foreach(ports, k, p) {
			const char *s = json_string_value(p);

			if (!s || ip_port_range_parse(s, strlen(s),
						      &mf->ports[k].lo,
						      &mf->ports[k].hi) < 0)
				return fail(err, errlen, WEFT_ERR_INVAL,
					    "resource %lld: bad port range "
					    "filters[%zu].ports[%zu]",
					    (long long)r->id, i, k);
		}
		mf->nports = json_array_size(ports);
	}
	r->nfilters = json_array_size(a);
	return 0;
}

/* Do the prefixes fit the type and the address? */
static bool res_prefixes_ok(const struct map_res *r)
{
	struct ip_prefix p;

	switch (r->type) {
	case MAP_RES_IP:
	case MAP_RES_CIDR:
		if (ip_prefix_parse(r->address, &p, r->type == MAP_RES_IP ?
				    IP_PREFIX_BARE_ADDR : IP_PREFIX_STRICT) < 0 ||
		    (r->type == MAP_RES_IP) != (strchr(r->address, '/') == NULL))
			return false;
		ip_prefix_mask(&p);
		return r->nprefixes == 1 && p.len == r->prefixes[0].len &&
		       ip_addr_eq(&p.addr, &r->prefixes[0].addr);
	case MAP_RES_INTERNET:
		return strcmp(r->address, "internet") == 0 &&
		       r->nprefixes == 2 && r->prefixes[0].len == 0 &&
		       r->prefixes[1].len == 0 &&
		       r->prefixes[0].addr.family != r->prefixes[1].addr.family;
	case MAP_RES_DNS:
	case MAP_RES_WILDCARD:
		return r->address[0] &&
		       (r->type == MAP_RES_DNS) !=
			       (strncmp(r->address, "*.", 2) == 0) &&
		       (r->nprefixes < 2 || r->prefixes[0].addr.family !=
						    r->prefixes[1].addr.family);
	}
	return false;
}

static int res_connectors(const json_t *a, struct map_res *r, char *err,
			  size_t errlen)
{
	const json_t *v;
	size_t i;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > MAP_MAX_RES_CONNECTORS)
		return fail(err, errlen, WEFT_ERR_INVAL,
			    "resource %lld: connectors is not an array of at "
			    "most %d ids", (long long)r->id,
			    MAP_MAX_RES_CONNECTORS);
	r->connectors = calloc(json_array_size(a) + 1, sizeof(*r->connectors));
	if (!r->connectors)
		return fail(err, errlen, WEFT_ERR_NOMEM, "out of memory");
	json_array_foreach(a, i, v) {
		int64_t id = json_integer_value(v);

		if (!json_is_integer(v) || id <= 0 ||
		    (i && id <= r->connectors[i - 1]))
			return fail(err, errlen, WEFT_ERR_INVAL,
				    "resource %lld: connectors[%zu] is not a "
				    "node id in ascending order",
				    (long long)r->id, i);
		r->connectors[i] = id;
	}
	r->nconnectors = json_array_size(a);
	return 0;
}

static int res_entry(const json_t *o, bool serves, struct map_res *r,
		     char *err, size_t errlen)
{
	const char *what = serves ? "serves entry" : "resource";
	const json_t *pfx, *fl;
	const char *type;
	size_t i, t;
	int rc;

	if (!json_is_object(o))
		return fail(err, errlen, WEFT_ERR_INVAL, "%s is not an object",
			    what);
	if ((rc = pos_id(o, true, &r->id, what, err, errlen)) < 0)
		return fail(err, errlen, WEFT_ERR_INVAL,
			    "%s without a positive integer id", what);
	r->name = json_string_value(json_object_get(o, "name"));
	r->address = json_string_value(json_object_get(o, "address"));
	type = json_string_value(json_object_get(o, "type"));
	for (t = 0; type && t < sizeof(res_types) / sizeof(res_types[0]); t++)
		if (strcmp(type, res_types[t]) == 0)
			break;
	if (!r->name || !r->name[0] || !r->address || !type ||
	    t == sizeof(res_types) / sizeof(res_types[0]))
		return fail(err, errlen, WEFT_ERR_INVAL,
			    "%s %lld needs a name, an address and a known type",
			    what, (long long)r->id);
	r->type = (enum map_res_type)t;
	pfx = json_object_get(o, "prefixes");
	if (!json_is_array(pfx) || json_array_size(pfx) > 2)
		return fail(err, errlen, WEFT_ERR_INVAL,
			    "%s %lld: prefixes is not an array of at most 2",
			    what, (long long)r->id);
	for (i = 0; i < json_array_size(pfx); i++) {
		const char *s = json_string_value(json_array_get(pfx, i));

		if (!s || ip_prefix_parse(s, &r->prefixes[i], 0) < 0)
			return fail(err, errlen, WEFT_ERR_INVAL,
				    "%s %lld: bad prefix", what,
				    (long long)r->id);
		ip_prefix_mask(&r->prefixes[i]);
	}
	r->nprefixes = json_array_size(pfx);
	if (!res_prefixes_ok(r))
		return fail(err, errlen, WEFT_ERR_INVAL,
			    "%s %lld: address and prefixes do not fit type %s",
			    what, (long long)r->id, type);
	fl = json_object_get(o, "filters");
	if (fl && (rc = res_filters(fl, r, err, errlen)) < 0)
		return rc;
	if (!serves &&
	    (rc = res_connectors(json_object_get(o, "connectors"), r, err,
				 errlen)) < 0)
		return rc;
	return 0;
}

void mapjson_res_free(struct map_res *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].connectors);
	free(v);
}

int mapjson_res(const json_t *a, bool serves, struct map_res **out,
		size_t *n, char *err, size_t errlen)
{
	struct map_res *v;
	size_t i, cnt;
	int rc = 0;

	if (!json_is_array(a))
		return fail(err, errlen, WEFT_ERR_TYPE, "%s is not an array",
			    serves ? "serves" : "resources");
	cnt = json_array_size(a);
	if (cnt > MAP_MAX_RES)
		return fail(err, errlen, WEFT_ERR_TOOBIG, "more than %d %s",
			    MAP_MAX_RES, serves ? "serves entries"
						: "resources");
	v = calloc(cnt + 1, sizeof(*v));
	if (!v)
		return fail(err, errlen, WEFT_ERR_NOMEM, "out of memory");
	for (i = 0; i < cnt && rc == 0; i++)
		rc = res_entry(json_array_get(a, i), serves, &v[i], err,
			       errlen);
	if (rc < 0) {
		mapjson_res_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static json_t *res_filters_json(const struct map_res *r)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < r->nfilters; i++) {
		const struct map_res_filter *f = &r->filters[i];
		json_t *ports = json_array();

		for (size_t k = 0; ports && k < f->nports; k++) {
			char buf[16];

			if (f->ports[k].lo == f->ports[k].hi)
				snprintf(buf, sizeof(buf), "%u", f->ports[k].lo);
			else
				snprintf(buf, sizeof(buf), "%u-%u",
					 f->ports[k].lo, f->ports[k].hi);
			json_array_append_new(ports, json_string(buf));
		}
		if (json_array_append_new(a, json_pack("{s:s, s:o}", "protocol",
				res_protos[f->proto], "ports", ports)) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

json_t *mapjson_res_json(const struct map_res *v, size_t n, bool serves)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		const struct map_res *r = &v[i];
		json_t *pfx = json_array(), *o;

		for (size_t k = 0; pfx && k < r->nprefixes; k++) {
			char buf[IP_PREFIX_STRLEN];

			if (ip_prefix_format(&r->prefixes[k], buf,
					     sizeof(buf)) == 0)
				json_array_append_new(pfx, json_string(buf));
		}
		o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o}", "id",
			      (json_int_t)r->id, "name", r->name, "type",
			      res_types[r->type], "address", r->address,
			      "prefixes", pfx, "filters", res_filters_json(r));
		if (o && !serves) {
			json_t *c = json_array();

			for (size_t k = 0; c && k < r->nconnectors; k++)
				json_array_append_new(c, json_integer(
					r->connectors[k]));
			if (json_object_set_new(o, "connectors", c) < 0) {
				json_decref(o);
				o = NULL;
			}
		}
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}
