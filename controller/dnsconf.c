/* DNS settings: checking and normalising (see dnsconf.h). */
#include "controller/dnsconf.h"

#include "shared/dnslimits.h"
#include "shared/err.h"
#include "shared/ip.h"
#include "shared/name.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int refuse(struct dnsconf_err *e, int rc, const char *field,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int refuse(struct dnsconf_err *e, int rc, const char *field,
		  const char *fmt, ...)
{
	va_list ap;

	snprintf(e->field, sizeof(e->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return rc;
}

/* Only the keys in allowed (NULL-terminated) may be in o. */
static int known_keys(const json_t *o, const char *const *allowed,
		      const char *where, struct dnsconf_err *e)
{
	const char *key;
	const json_t *v;
	char field[64];

	json_object_foreach((json_t *)o, key, v) {
		size_t i = 0;

		while (allowed[i] && strcmp(allowed[i], key) != 0)
			i++;
		if (!allowed[i]) {
			snprintf(field, sizeof(field), "%s%s%.40s", where,
				 where[0] ? "." : "", key);
			return refuse(e, WEFT_ERR_INVAL, field,
				      "unknown field");
		}
	}
	return 0;
}

/* A DNS name at field into a new JSON string. */
static int name_at(const json_t *v, const char *field, json_t **out,
		   struct dnsconf_err *e)
{
	const char *s = json_string_value(v);

	if (!s)
		return refuse(e, WEFT_ERR_INVAL, field, "must be a string");
	if (!name_valid_domain(s))
		return refuse(e, WEFT_ERR_INVAL, field,
			      "\"%.60s\" is not a DNS name (lower-case labels "
			      "of a-z, 0-9 and '-', joined by '.', no trailing "
			      "dot, at most %d bytes)", s, NAME_DNS_MAX);
	*out = json_string(s);
	return *out ? 0 : WEFT_ERR_NOMEM;
}

/* An array at field of at most max entries (min at least); absent is an
 * empty one when min is 0. */
static int array_at(const json_t *v, const char *field, size_t min,
		    size_t max, struct dnsconf_err *e)
{
	if (!v && min == 0)
		return 0;
	if (!json_is_array(v))
		return refuse(e, WEFT_ERR_INVAL, field, "must be an array");
	if (json_array_size(v) < min)
		return refuse(e, WEFT_ERR_INVAL, field,
			      "needs at least %zu entry", min);
	if (json_array_size(v) > max)
		return refuse(e, WEFT_ERR_TOOBIG, field,
			      "at most %zu entries", max);
	return 0;
}

/* The upstream list a at field into a new array of normalised text. */
static int upstreams_at(const json_t *a, const char *field, size_t min,
			json_t **out, struct dnsconf_err *e)
{
	char path[64], text[IP_ENDPOINT_STRLEN];
	struct ip_endpoint ep;
	const json_t *v;
	size_t i;
	int rc;

	if ((rc = array_at(a, field, min, DNS_MAX_UPSTREAMS, e)) < 0)
		return rc;
	if (!(*out = json_array()))
		return WEFT_ERR_NOMEM;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		snprintf(path, sizeof(path), "%s[%zu]", field, i);
		if (!s || ip_endpoint_parse_port(s, DNS_PORT, &ep) < 0)
			return refuse(e, WEFT_ERR_INVAL, path,
				      "must be IP, IP:port or [IPv6]:port "
				      "(port 1-65535, 53 when left out)");
		if (ep.port == DNS_PORT)
			rc = ip_addr_format(&ep.addr, text, sizeof(text));
		else
			rc = ip_endpoint_format(&ep, text, sizeof(text));
		if (rc < 0 || json_array_append_new(*out, json_string(text)))
			return WEFT_ERR_NOMEM;
	}
	return 0;
}

static int split_at(const json_t *a, const char *domain, json_t *out,
		    struct dnsconf_err *e)
{
	static const char *const keys[] = {"domain", "upstreams", NULL};
	const json_t *v;
	char path[64];
	size_t i;
	int rc;

	if ((rc = array_at(a, "split", 0, DNS_MAX_SPLIT, e)) < 0)
		return rc;
	json_array_foreach(a, i, v) {
		json_t *d = NULL, *ups = NULL, *o;
		const char *dn;

		snprintf(path, sizeof(path), "split[%zu]", i);
		if (!json_is_object(v))
			return refuse(e, WEFT_ERR_INVAL, path,
				      "must be an object {domain, upstreams}");
		if ((rc = known_keys(v, keys, path, e)) < 0)
			return rc;
		snprintf(path, sizeof(path), "split[%zu].domain", i);
		if ((rc = name_at(json_object_get(v, "domain"), path, &d,
				  e)) < 0)
			return rc;
		dn = json_string_value(d);
		o = json_pack("{so}", "domain", d);
		if (!o || json_array_append_new(out, o) < 0)
			return WEFT_ERR_NOMEM;
		if (name_under_domain(dn, domain))
			return refuse(e, WEFT_ERR_INVAL, path,
				      "\"%.60s\" is the mesh domain or under "
				      "it: the mesh answers those names", dn);
		for (size_t j = 0; j < i; j++)
			if (strcmp(json_string_value(json_object_get(
					   json_array_get(out, j), "domain")),
				   dn) == 0)
				return refuse(e, WEFT_ERR_INVAL, path,
					      "\"%.60s\" is given twice", dn);
		snprintf(path, sizeof(path), "split[%zu].upstreams", i);
		rc = upstreams_at(json_object_get(v, "upstreams"), path, 1,
				  &ups, e);
		if (json_object_set_new(o, "upstreams", ups ? ups : json_array()))
			return WEFT_ERR_NOMEM;
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int records_at(const json_t *a, json_t *out, struct dnsconf_err *e)
{
	static const char *const keys[] = {"name", "type", "value", NULL};
	char path[64], text[IP_ADDR_STRLEN];
	const json_t *v;
	struct ip_addr addr;
	size_t i;
	int rc;

	if ((rc = array_at(a, "records", 0, DNS_MAX_RECORDS, e)) < 0)
		return rc;
	json_array_foreach(a, i, v) {
		const char *type, *value;
		json_t *name = NULL;
		int fam;

		snprintf(path, sizeof(path), "records[%zu]", i);
		if (!json_is_object(v))
			return refuse(e, WEFT_ERR_INVAL, path,
				      "must be an object {name, type, value}");
		if ((rc = known_keys(v, keys, path, e)) < 0)
			return rc;
		snprintf(path, sizeof(path), "records[%zu].name", i);
		if ((rc = name_at(json_object_get(v, "name"), path, &name,
				  e)) < 0)
			return rc;
		type = json_string_value(json_object_get(v, "type"));
		fam = !type			  ? 0
		      : strcmp(type, "A") == 0	  ? 4
		      : strcmp(type, "AAAA") == 0 ? 6
						  : 0;
		snprintf(path, sizeof(path), "records[%zu].type", i);
		if (!fam) {
			json_decref(name);
			return refuse(e, WEFT_ERR_INVAL, path,
				      "must be \"A\" or \"AAAA\"");
		}
		value = json_string_value(json_object_get(v, "value"));
		snprintf(path, sizeof(path), "records[%zu].value", i);
		if (!value || ip_addr_parse(value, &addr) < 0 ||
		    addr.family != fam) {
			json_decref(name);
			return refuse(e, WEFT_ERR_INVAL, path,
				      "must be an IPv%d address for type %s",
				      fam, type);
		}
		if (ip_addr_format(&addr, text, sizeof(text)) < 0 ||
		    json_array_append_new(out, json_pack("{so ss ss}", "name",
							 name, "type", type,
							 "value", text)) < 0)
			return WEFT_ERR_NOMEM;
	}
	return 0;
}

int dnsconf_parse(const json_t *doc, const char *def_domain, json_t **out,
		  struct dnsconf_err *e)
{
	static const char *const keys[] = {"domain", "search", "split",
					   "upstreams", "records", NULL};
	const json_t *search;
	json_t *o, *domain = NULL, *ups = NULL;
	int rc;

	*out = NULL;
	memset(e, 0, sizeof(*e));
	if (!json_is_object(doc))
		return refuse(e, WEFT_ERR_INVAL, "", "must be a JSON object");
	if ((rc = known_keys(doc, keys, "", e)) < 0)
		return rc;
	if (json_object_get(doc, "domain"))
		rc = name_at(json_object_get(doc, "domain"), "domain", &domain,
			     e);
	else if (!(domain = json_string(def_domain)))
		rc = WEFT_ERR_NOMEM;
	if (rc < 0)
		return rc;
	search = json_object_get(doc, "search");
	if (search && !json_is_boolean(search)) {
		json_decref(domain);
		return refuse(e, WEFT_ERR_INVAL, "search",
			      "must be true or false");
	}
	o = json_pack("{so sb s[] s[]}", "domain", domain, "search",
		      !search || json_is_true(search), "split", "records");
	if (!o)
		return WEFT_ERR_NOMEM;
	rc = upstreams_at(json_object_get(doc, "upstreams"), "upstreams", 0,
			  &ups, e);
	if (rc == 0 && json_object_set_new(o, "upstreams", ups))
		rc = WEFT_ERR_NOMEM;
	else if (rc < 0)
		json_decref(ups);
	if (rc == 0)
		rc = split_at(json_object_get(doc, "split"),
			      json_string_value(json_object_get(o, "domain")),
			      json_object_get(o, "split"), e);
	if (rc == 0)
		rc = records_at(json_object_get(doc, "records"),
				json_object_get(o, "records"), e);
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}
