/* Resource addresses and filters: see resource.h. */
#include "controller/resource.h"

#include "controller/valid.h"
#include "shared/err.h"
#include "shared/ip.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *resource_type_name(enum resource_type t)
{
	switch (t) {
	case RESOURCE_IP:
		return "ip";
	case RESOURCE_CIDR:
		return "cidr";
	case RESOURCE_DNS:
		return "dns";
	case RESOURCE_WILDCARD:
		return "wildcard";
	case RESOURCE_INTERNET:
		return "internet";
	}
	return "unknown";
}

static void say(char *msg, size_t msglen, const char *text)
{
	if (msg && msglen)
		snprintf(msg, msglen, "%s", text);
}

/* A DNS name (wildcard: after "*.") in lower case into out. */
static int dns_name(const char *s, bool wildcard, char *out, size_t cap)
{
	size_t n = strlen(s), off = wildcard ? 2 : 0;

	if (!valid_dns_name(s + off, n - off) || n + 1 > cap)
		return WEFT_ERR_INVAL;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	return 0;
}

int resource_address_parse(const char *s, char *out, size_t cap,
			   enum resource_type *type, char *msg, size_t msglen)
{
	struct ip_addr a;
	struct ip_prefix p;
	int rc;

	if (!s)
		goto bad;
	if (strcmp(s, RESOURCE_INTERNET_WORD) == 0) {
		if (cap < sizeof(RESOURCE_INTERNET_WORD))
			goto bad;
		memcpy(out, RESOURCE_INTERNET_WORD,
		       sizeof(RESOURCE_INTERNET_WORD));
		*type = RESOURCE_INTERNET;
		return 0;
	}
	if (strchr(s, '/')) {
		rc = ip_prefix_parse(s, &p, IP_PREFIX_STRICT);
		if (rc == WEFT_ERR_INVAL && ip_prefix_parse(s, &p, 0) == 0) {
			char want[IP_PREFIX_STRLEN] = "";

			ip_prefix_mask(&p);
			ip_prefix_format(&p, want, sizeof(want));
			if (msg && msglen)
				snprintf(msg, msglen,
					 "address has host bits set (did you "
					 "mean %s?)", want);
			return WEFT_ERR_INVAL;
		}
		if (rc < 0 || ip_prefix_format(&p, out, cap) < 0)
			goto bad;
		*type = RESOURCE_CIDR;
		return 0;
	}
	if (ip_addr_parse(s, &a) == 0) {
		if (ip_addr_format(&a, out, cap) < 0)
			goto bad;
		*type = RESOURCE_IP;
		return 0;
	}
	if (strncmp(s, "*.", 2) == 0) {
		if (dns_name(s, true, out, cap) < 0)
			goto bad;
		*type = RESOURCE_WILDCARD;
		return 0;
	}
	if (dns_name(s, false, out, cap) == 0) {
		*type = RESOURCE_DNS;
		return 0;
	}
bad:
	say(msg, msglen,
	    "address must be an IP address, a CIDR prefix without host bits "
	    "set, a DNS name, a wildcard DNS name (*.corp.example) or "
	    "\"internet\"");
	return WEFT_ERR_INVAL;
}

int resource_address_type(const char *s, enum resource_type *type)
{
	char buf[RESOURCE_ADDRESS_MAX + 1];

	return resource_address_parse(s, buf, sizeof(buf), type, NULL, 0);
}

int resource_prefixes(enum resource_type t, const char *addr,
		      struct ip_prefix out[2], size_t *n)
{
	*n = 0;
	switch (t) {
	case RESOURCE_IP:
	case RESOURCE_CIDR:
		if (ip_prefix_parse(addr, &out[0], IP_PREFIX_BARE_ADDR) < 0)
			return WEFT_ERR_INVAL;
		ip_prefix_mask(&out[0]);
		*n = 1;
		return 0;
	case RESOURCE_INTERNET:
		if (ip_prefix_parse("0.0.0.0/0", &out[0], 0) < 0 ||
		    ip_prefix_parse("::/0", &out[1], 0) < 0)
			return WEFT_ERR_INTERNAL;
		*n = 2;
		return 0;
	case RESOURCE_DNS:
	case RESOURCE_WILDCARD:
		return 0;
	}
	return WEFT_ERR_INVAL;
}

/* --- filters --- */

static const char *const proto_names[] = {
	[POLICY_TCP] = "tcp", [POLICY_UDP] = "udp", [POLICY_ICMP] = "icmp",
};

static int cmp_range(const void *a, const void *b)
{
	const struct policy_ports *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

static int cmp_filter(const void *a, const void *b)
{
	const struct policy_filter *x = a, *y = b;

	return (x->proto > y->proto) - (x->proto < y->proto);
}

/* Fails with msg (the caller has set the field). */
static int bad(char *msg, size_t msglen, const char *text)
{
	say(msg, msglen, text);
	return WEFT_ERR_INVAL;
}

/* The ports of filter entry i into f; field names entry i. */
static int read_ports(const json_t *ports, size_t i, const char *prefix,
		      struct policy_filter *f, char *field, size_t fieldlen,
		      char *msg, size_t msglen)
{
	size_t k;
	const json_t *v;

	snprintf(field, fieldlen, "%s[%zu].ports", prefix, i);
	if (!json_is_array(ports))
		return bad(msg, msglen,
			   "ports must be an array of strings");
	if (json_array_size(ports) && f->proto == POLICY_ICMP)
		return bad(msg, msglen,
			   "icmp has no ports: leave ports out");
	if (json_array_size(ports) > POLICY_FILTER_PORTS_MAX) {
		snprintf(msg, msglen, "at most %d port ranges per protocol",
			 POLICY_FILTER_PORTS_MAX);
		return WEFT_ERR_INVAL;
	}
	json_array_foreach(ports, k, v) {
		const char *s = json_string_value(v);

		snprintf(field, fieldlen, "%s[%zu].ports[%zu]", prefix, i, k);
		if (!s || ip_port_range_parse(s, strlen(s), &f->ports[k].lo,
					      &f->ports[k].hi) < 0)
			return bad(msg, msglen,
				   "a port must be \"N\" or \"LO-HI\" with "
				   "1 <= LO <= HI <= 65535");
		for (size_t j = 0; j < k; j++) {
			if (f->ports[j].lo <= f->ports[k].hi &&
			    f->ports[k].lo <= f->ports[j].hi) {
				snprintf(msg, msglen,
					 "port range %s overlaps ports[%zu]",
					 s, j);
				return WEFT_ERR_INVAL;
			}
		}
	}
	f->nports = json_array_size(ports);
	qsort(f->ports, f->nports, sizeof(f->ports[0]), cmp_range);
	return 0;
}

int resource_filters_read(const json_t *v, const char *prefix,
			  struct policy_filter *out, size_t *n, char *field,
			  size_t fieldlen, char *msg, size_t msglen)
{
	struct policy_filter f[POLICY_FILTERS_MAX];
	bool seen[POLICY_ICMP + 1] = {false};
	const json_t *e;
	size_t i;
	int rc;

	snprintf(field, fieldlen, "%s", prefix);
	if (!json_is_array(v))
		return bad(msg, msglen,
			   "filters must be an array of {protocol, ports}");
	if (json_array_size(v) > POLICY_FILTERS_MAX)
		return bad(msg, msglen,
			   "at most 3 filters: one each for tcp, udp and icmp");
	memset(f, 0, sizeof(f));
	json_array_foreach(v, i, e) {
		const char *key, *proto;
		const json_t *val, *ports;
		size_t p;

		snprintf(field, fieldlen, "%s[%zu]", prefix, i);
		if (!json_is_object(e))
			return bad(msg, msglen,
				   "a filter must be an object {protocol, "
				   "ports}");
		json_object_foreach((json_t *)e, key, val) {
			if (strcmp(key, "protocol") && strcmp(key, "ports")) {
				snprintf(field, fieldlen, "%s[%zu].%.32s",
					 prefix, i, key);
				return bad(msg, msglen,
					   "unknown filter field (want "
					   "protocol and ports)");
			}
		}
		snprintf(field, fieldlen, "%s[%zu].protocol", prefix, i);
		proto = json_string_value(json_object_get(e, "protocol"));
		for (p = POLICY_TCP; proto && p <= POLICY_ICMP; p++)
			if (strcmp(proto, proto_names[p]) == 0)
				break;
		if (!proto || p > POLICY_ICMP)
			return bad(msg, msglen,
				   "protocol must be tcp, udp or icmp");
		if (seen[p])
			return bad(msg, msglen,
				   "a protocol may appear once (merge its "
				   "ports into one filter)");
		seen[p] = true;
		f[i].proto = (enum policy_proto)p;
		ports = json_object_get(e, "ports");
		if (ports && !json_is_null(ports) &&
		    (rc = read_ports(ports, i, prefix, &f[i], field, fieldlen,
				     msg, msglen)) < 0)
			return rc;
	}
	*n = json_array_size(v);
	qsort(f, *n, sizeof(f[0]), cmp_filter);
	memcpy(out, f, *n * sizeof(f[0]));
	field[0] = '\0';
	return 0;
}

json_t *resource_filters_json(const struct policy_filter *f, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		json_t *ports = json_array(), *o;

		for (size_t k = 0; ports && k < f[i].nports; k++) {
			char buf[16];

			if (f[i].ports[k].lo == f[i].ports[k].hi)
				snprintf(buf, sizeof(buf), "%u",
					 f[i].ports[k].lo);
			else
				snprintf(buf, sizeof(buf), "%u-%u",
					 f[i].ports[k].lo, f[i].ports[k].hi);
			if (json_array_append_new(ports, json_string(buf)) < 0) {
				json_decref(ports);
				ports = NULL;
			}
		}
		o = json_pack("{s:s, s:o}", "protocol",
			      policy_proto_name(f[i].proto), "ports", ports);
		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

int resource_filters_from_text(const char *text, struct policy_filter *out,
			       size_t *n)
{
	char field[64], msg[128];
	json_t *v;
	int rc;

	if (!text[0]) {
		*n = 0;
		return 0;
	}
	v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (!v)
		return WEFT_ERR_INVAL;
	rc = resource_filters_read(v, "filters", out, n, field, sizeof(field),
				   msg, sizeof(msg));
	json_decref(v);
	return rc;
}
