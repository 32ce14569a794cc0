/* What a parsed ACL policy answers: whether a node matches a selector
 * (policy_sel_matches and the other lookups the network-map engine
 * uses), whether a rule covers a queried source and destination
 * (policy_allows), and the document's "tests" block, whose cases are such
 * queries checked while the document is parsed. */
#include "controller/policy_internal.h"

#include "shared/err.h"
#include "shared/name.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each test case scans every rule, so their number is bounded to keep a
 * pathological 1 MiB document from costing seconds of CPU. */
#define MAX_TEST_CASES 1000

/* Coverage, used by the tests block and policy_allows: does the rule
 * selector r cover the queried selector q? */
static bool covers(const struct policy *p, const struct policy_sel *r,
		   const struct policy_sel *q)
{
	const struct plist *g;

	if (r->kind == POLICY_SEL_ALL)
		return true;
	switch (q->kind) {
	case POLICY_SEL_USER:
	case POLICY_SEL_NODE:
		if (r->kind == q->kind && strcmp(r->name, q->name) == 0)
			return true;
		if (r->kind != POLICY_SEL_GROUP)
			return false;
		g = policy_find_group(p, r->name);
		return g && policy_group_has(g, q->name);
	case POLICY_SEL_GROUP:
	case POLICY_SEL_TAG:
	case POLICY_SEL_RESOURCE:
		return r->kind == q->kind && strcmp(r->name, q->name) == 0;
	case POLICY_SEL_PREFIX:
		return r->kind == POLICY_SEL_PREFIX &&
		       ip_prefix_contains_prefix(&r->prefix, &q->prefix);
	case POLICY_SEL_ALL:
		break;
	}
	return false;
}

static bool ports_cover(const struct policy_sel *r,
			const struct policy_ports *q)
{
	for (size_t i = 0; i < r->nports; i++)
		if (r->ports[i].lo <= q->lo && q->hi <= r->ports[i].hi)
			return true;
	return false;
}

/* A question (proto, port) for narrowed_covers. */
struct question {
	enum policy_proto proto;
	const struct policy_ports *port;
};

/* Stops policy_narrow (returns 1) at a grant that answers the question. */
static int grant_answers(void *ctx, enum policy_proto proto, uint16_t lo,
			 uint16_t hi)
{
	const struct question *q = ctx;

	if (proto != POLICY_ANY && proto != q->proto)
		return 0;
	if (q->proto == POLICY_ANY && proto != POLICY_ANY)
		return 0;
	return q->proto == POLICY_ICMP ||
	       (lo <= q->port->lo && q->port->hi <= hi);
}

/* Does rule r's dst sel, a resource with filters, give (proto, port)? */
static bool narrowed_covers(const struct policy_rule *r,
			    const struct policy_sel *sel,
			    const struct policy_ports *port,
			    enum policy_proto proto)
{
	struct question q = {proto, port};

	return policy_narrow(r->proto, sel->ports, sel->nports, sel->filters,
			     sel->nfilters, grant_answers, &q) == 1;
}

/* ICMP has no ports: an icmp question ignores them. A question for "any"
 * protocol is answered only by rules for any protocol. A resource's
 * filters narrow what a rule gives it. */
static bool allows(const struct policy *p, const struct policy_sel *src,
		   const struct policy_sel *dst,
		   const struct policy_ports *port, enum policy_proto proto)
{
	for (size_t i = 0; i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];
		bool src_ok = false;

		if (r->proto != POLICY_ANY && r->proto != proto)
			continue;
		for (size_t j = 0; j < r->nsrc && !src_ok; j++)
			src_ok = covers(p, &r->src[j], src);
		if (!src_ok)
			continue;
		for (size_t j = 0; j < r->ndst; j++) {
			if (!covers(p, &r->dst[j], dst))
				continue;
			if (r->dst[j].nfilters ?
			    narrowed_covers(r, &r->dst[j], port, proto) :
			    (proto == POLICY_ICMP ||
			     ports_cover(&r->dst[j], port)))
				return true;
		}
	}
	return false;
}

/* A test or policy_allows destination "SEL:PORT": one port, or "*" for
 * icmp. *sel borrows buf (strlen(s) + 1 bytes). */
static int parse_query_dst(struct pctx *c, const char *s, char *buf,
			   enum policy_proto proto, struct policy_sel *sel,
			   struct policy_ports *port)
{
	struct policy_ports r[MAX_PORT_RANGES];
	const char *ports;
	size_t n;
	char q[QBUF];
	int rc;

	rc = policy_split_dst(c, s, buf, &ports);
	if (!rc)
		rc = policy_parse_sel(c, buf, USE_TEST_DST, sel);
	if (rc)
		return rc;
	if (proto == POLICY_ICMP) {
		rc = policy_icmp_port(c, ports);
		if (rc)
			return rc;
		port->lo = 0;
		port->hi = 65535;
		return 0;
	}
	if (strcmp(ports, "*") == 0 || strchr(ports, ',') ||
	    strchr(ports, '-'))
		return policy_fail(c, WEFT_ERR_INVAL,
				   "want a single port, not \"%s\"",
				   policy_quote(q, sizeof(q), ports));
	rc = policy_parse_ports(c, ports, r, &n);
	if (rc)
		return rc;
	*port = r[0];
	return 0;
}

/* Checks one "accept" or "deny" entry of a test. */
static int run_case(struct pctx *c, const char *where, const char *list,
		    size_t j, const json_t *v, const char *src_text,
		    const struct policy_sel *src, enum policy_proto proto)
{
	bool want = strcmp(list, "accept") == 0, got;
	struct policy_sel dst;
	struct policy_ports port;
	const char *s;
	char *buf, q1[QBUF], q2[QBUF];
	int rc;

	policy_set_path(c, "%s.%s[%zu]", where, list, j);
	if (++c->ncases > MAX_TEST_CASES)
		return policy_fail(c, WEFT_ERR_INVAL,
				   "too many test cases (at most %d)",
				   MAX_TEST_CASES);
	if (policy_want_type(c, v, JSON_STRING))
		return c->code;
	s = json_string_value(v);
	buf = malloc(strlen(s) + 1);
	if (!buf)
		return policy_nomem(c);
	rc = parse_query_dst(c, s, buf, proto, &dst, &port);
	if (!rc) {
		got = allows(c->p, src, &dst, &port, proto);
		if (got != want)
			rc = policy_fail(c, WEFT_ERR_INVAL,
					 "%s -> %s (%s) should be %s but is %s",
					 policy_quote(q1, sizeof(q1), src_text),
					 policy_quote(q2, sizeof(q2), s),
					 policy_proto_name(proto),
					 want ? "accepted" : "denied",
					 got ? "accepted" : "denied");
	}
	free(buf);
	return rc;
}

static int parse_test(struct pctx *c, size_t i, const json_t *obj)
{
	static const char *const keys[] = {"src", "proto", "accept", "deny",
					   NULL};
	static const char *const lists[] = {"accept", "deny"};
	enum policy_proto proto = POLICY_TCP;
	struct policy_sel src;
	const char *src_text;
	char where[32];
	json_t *v;
	size_t j;

	snprintf(where, sizeof(where), "tests[%zu]", i);
	if (policy_want_object(c, where, obj, keys))
		return c->code;
	v = json_object_get(obj, "src");
	if (!v)
		return policy_fail(c, WEFT_ERR_INVAL, "missing \"src\"");
	if (!json_object_get(obj, "accept") && !json_object_get(obj, "deny"))
		return policy_fail(c, WEFT_ERR_INVAL,
				   "a test needs \"accept\" or \"deny\"");
	policy_set_path(c, "%s.src", where);
	if (policy_want_type(c, v, JSON_STRING))
		return c->code;
	src_text = json_string_value(v);
	if (policy_parse_sel(c, src_text, USE_TEST, &src))
		return c->code;
	v = json_object_get(obj, "proto");
	if (v) {
		policy_set_path(c, "%s.proto", where);
		if (policy_want_type(c, v, JSON_STRING) ||
		    policy_parse_proto(c, json_string_value(v), &proto))
			return c->code;
	}
	for (size_t l = 0; l < 2; l++) {
		json_t *arr = json_object_get(obj, lists[l]), *e;

		if (!arr)
			continue;
		policy_set_path(c, "%s.%s", where, lists[l]);
		if (policy_want_type(c, arr, JSON_ARRAY))
			return c->code;
		json_array_foreach(arr, j, e)
			if (run_case(c, where, lists[l], j, e, src_text, &src,
				     proto))
				return c->code;
	}
	return 0;
}

int policy_parse_tests(struct pctx *c, const json_t *arr)
{
	json_t *v;
	size_t i;

	policy_set_path(c, "tests");
	if (policy_want_type(c, arr, JSON_ARRAY))
		return c->code;
	json_array_foreach(arr, i, v)
		if (parse_test(c, i, v))
			return c->code;
	return 0;
}
static bool sels_name_nodes(const struct policy_sel *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].kind == POLICY_SEL_NODE)
			return true;
	return false;
}

bool policy_names_nodes(const struct policy *p)
{
	if (!p)
		return false;
	for (size_t i = 0; i < p->nrules; i++)
		if (sels_name_nodes(p->rules[i].src, p->rules[i].nsrc) ||
		    sels_name_nodes(p->rules[i].dst, p->rules[i].ndst))
			return true;
	for (size_t i = 0; i < p->ngroups; i++)
		for (size_t k = 0; k < p->groups[i].n; k++)
			if (policy_has_prefix(p->groups[i].items[k], "node:"))
				return true;
	return false;
}

bool policy_sel_matches(const struct policy *p, const struct policy_sel *sel,
			const struct policy_ident *node)
{
	const struct plist *g;
	const char *name;
	char member[NAME_MAX_LEN + 6];

	if (!p || !sel || !node)
		return false;
	name = node->node_name;
	switch (sel->kind) {
	case POLICY_SEL_ALL:
		return true;
	case POLICY_SEL_NODE:
		return name && strcmp(sel->name + 5, name) == 0;
	case POLICY_SEL_TAG:
		for (size_t i = 0; i < node->ntags; i++)
			if (node->tags[i] &&
			    strcmp(node->tags[i], sel->name) == 0)
				return true;
		return false;
	case POLICY_SEL_USER:
		return node->ntags == 0 && node->user &&
		       strcmp(node->user, sel->name) == 0;
	case POLICY_SEL_GROUP:
		if (node->ntags > 0)
			return false;
		g = policy_find_group(p, sel->name);
		if (!g)
			return false;
		if (node->user && !policy_has_prefix(node->user, "node:") &&
		    policy_group_has(g, node->user))
			return true;
		if (!name || strlen(name) > NAME_MAX_LEN)
			return false;
		snprintf(member, sizeof(member), "node:%s", name);
		return policy_group_has(g, member);
	case POLICY_SEL_PREFIX:
	case POLICY_SEL_RESOURCE:
		break;
	}
	return false;
}

bool policy_user_in_group(const struct policy *p, const char *user,
			  const char *group)
{
	const struct plist *g;

	if (!p || !user || !group || policy_has_prefix(user, "node:"))
		return false;
	g = policy_find_group(p, group);
	return g && policy_group_has(g, user);
}

const char *const *policy_tag_owners(const struct policy *p, const char *tag,
				     size_t *n)
{
	const struct plist *t = p && tag ? policy_find_tag(p, tag) : NULL;

	if (n)
		*n = t ? t->n : 0;
	return t ? t->items : NULL;
}

int policy_allows(const struct policy *p, const char *src, const char *dst,
		  enum policy_proto proto, bool *allowed,
		  struct policy_err *err)
{
	struct pctx c;
	struct policy_sel s, d;
	struct policy_ports port;
	char *buf = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	/* Lookups only: parse_sel never writes to the policy. */
	c.p = (struct policy *)p;
	if (!p || !src || !dst || !allowed || proto < POLICY_ANY ||
	    proto > POLICY_ICMP) {
		rc = policy_fail(&c, WEFT_ERR_INVAL, "invalid arguments");
		goto out;
	}
	policy_set_path(&c, "src");
	rc = policy_parse_sel(&c, src, USE_TEST, &s);
	if (rc)
		goto out;
	policy_set_path(&c, "dst");
	buf = malloc(strlen(dst) + 1);
	if (!buf) {
		rc = policy_nomem(&c);
		goto out;
	}
	rc = parse_query_dst(&c, dst, buf, proto, &d, &port);
	if (rc)
		goto out;
	*allowed = allows(p, &s, &d, &port, proto);
out:
	free(buf);
	if (rc && err)
		*err = c.e;
	return rc;
}

const char *policy_proto_name(enum policy_proto proto)
{
	switch (proto) {
	case POLICY_ANY:
		return "any";
	case POLICY_TCP:
		return "tcp";
	case POLICY_UDP:
		return "udp";
	case POLICY_ICMP:
		return "icmp";
	}
	return "unknown";
}
