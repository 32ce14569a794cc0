/* The ACL policy: parser and validator. What a parsed policy answers
 * (selector matching, policy_allows) and the document's tests block are in
 * policy_query.c.
 *
 * Everything a parsed policy points to lives in one arena owned by the
 * policy, so the public rule and selector arrays stay valid, unchanged,
 * until policy_free. Declared groups, tags and hosts are kept sorted by
 * name for binary search; the parser validates them in document order
 * first so the first error reported is the first one in the document.
 *
 * Error messages quote user input through policy_quote(), which keeps printable
 * ASCII only and shortens long values, so a message always fits its buffer
 * and is valid UTF-8 for an API error body. */
#include "controller/policy_internal.h"

#include "controller/jsonloc.h"

#include "shared/err.h"
#include "shared/jsonx.h"
#include "shared/name.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_RULE                                                            \
	"1-63 characters of a-z, 0-9, '-', '_', '.', starting with a "       \
	"letter or digit"

/* The policy's tables */

static int cmp_name(const void *a, const void *b)
{
	/* Every table entry starts with its name. */
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const void *find(const void *base, size_t n, size_t sz,
			const char *name)
{
	if (n == 0)
		return NULL;
	return bsearch(&name, base, n, sz, cmp_name);
}

const struct plist *policy_find_group(const struct policy *p,
				       const char *name)
{
	return find(p->groups, p->ngroups, sizeof(*p->groups), name);
}

const struct plist *policy_find_tag(const struct policy *p, const char *name)
{
	return find(p->tags, p->ntags, sizeof(*p->tags), name);
}

static const struct phost *find_host(const struct policy *p, const char *name)
{
	return find(p->hosts, p->nhosts, sizeof(*p->hosts), name);
}

bool policy_group_has(const struct plist *g, const char *member)
{
	return find(g->items, g->n, sizeof(*g->items), member) != NULL;
}

/* Parser context and errors */

/* Copies s into buf as printable ASCII ('?' for anything else), cut to
 * QUOTE_MAX characters with "..." appended when longer. */
const char *policy_quote(char *buf, size_t n, const char *s)
{
	size_t i = 0, max = n - 1;

	if (max > QUOTE_MAX)
		max = QUOTE_MAX;
	for (; *s && i < max; s++)
		buf[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s && i >= 3)
		memcpy(buf + i - 3, "...", 3);
	buf[i] = '\0';
	return buf;
}

void policy_set_path(struct pctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->e.path, sizeof(c->e.path), fmt, ap);
	va_end(ap);
}

int policy_fail(struct pctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->e.message, sizeof(c->e.message), fmt, ap);
	va_end(ap);
	c->code = code;
	return code;
}

int policy_nomem(struct pctx *c)
{
	return policy_fail(c, WEFT_ERR_NOMEM, "out of memory");
}

static int bad_name(struct pctx *c, const char *kind, const char *prefix,
		    const char *s)
{
	char q[QBUF];

	return policy_fail(
		c, WEFT_ERR_INVAL, "invalid %s name \"%s\" (want %s%s%s)", kind,
		policy_quote(q, sizeof(q), s), prefix ? "\"" : "",
		prefix ? prefix : "", prefix ? "\" and " NAME_RULE : NAME_RULE);
}

static int unknown(struct pctx *c, const char *kind, const char *s)
{
	char q[QBUF];

	return policy_fail(c, WEFT_ERR_INVAL, "unknown %s \"%s\"", kind,
			   policy_quote(q, sizeof(q), s));
}

bool policy_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "group:eng" with a valid name after the prefix. */
static bool valid_prefixed(const char *s, const char *prefix)
{
	return policy_has_prefix(s, prefix) && name_valid(s + strlen(prefix));
}

static bool user_known(const struct pctx *c, const char *user)
{
	if (!c->names || !c->names->user_exists)
		return true;
	return c->names->user_exists(c->names->ctx, user);
}

static bool resource_known(const struct pctx *c, const char *name)
{
	if (!c->names || !c->names->resource_exists)
		return true;
	return c->names->resource_exists(c->names->ctx, name);
}

/* Levenshtein distance, ASCII case-insensitive, for short strings. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best;
			bool same = tolower((unsigned char)a[i - 1]) ==
				    tolower((unsigned char)b[j - 1]);

			best = diag + (same ? 0 : 1);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* Fails on the first key of obj not in allowed, suggesting the closest
 * allowed key when it is near. */
int policy_check_keys(struct pctx *c, const json_t *obj,
		      const char *const *allowed)
{
	const char *key, *best = NULL;
	size_t best_d = 3;
	json_t *v;
	char q[QBUF];

	json_object_foreach((json_t *)obj, key, v) {
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i])
			continue;
		for (i = 0; allowed[i]; i++) {
			size_t d = distance(key, allowed[i]);

			if (d < best_d) {
				best_d = d;
				best = allowed[i];
			}
		}
		policy_quote(q, sizeof(q), key);
		/* The path names the unknown key itself. */
		{
			size_t l = strlen(c->e.path);

			snprintf(c->e.path + l, sizeof(c->e.path) - l, "%s%s",
				 l ? "." : "", q);
		}
		if (best)
			return policy_fail(
				c, WEFT_ERR_INVAL,
				"unknown key \"%s\" (did you mean \"%s\"?)", q,
				best);
		return policy_fail(c, WEFT_ERR_INVAL, "unknown key \"%s\"", q);
	}
	return 0;
}

int policy_want_type(struct pctx *c, const json_t *v, json_type type)
{
	static const char *const what[] = {
		[JSON_OBJECT] = "an object",
		[JSON_ARRAY] = "an array",
		[JSON_STRING] = "a string",
	};

	if (v && json_typeof(v) == type)
		return 0;
	return policy_fail(c, WEFT_ERR_INVAL, "must be %s", what[type]);
}

int policy_want_object(struct pctx *c, const char *where, const json_t *obj,
		       const char *const *keys)
{
	policy_set_path(c, "%s", where);
	if (policy_want_type(c, obj, JSON_OBJECT) ||
	    policy_check_keys(c, obj, keys))
		return c->code;
	return 0;
}

/* Ports */

/* Parses a decimal port 1..65535 without sign or leading zeros from
 * s[0..n). */
static int parse_port(struct pctx *c, const char *s, size_t n, uint16_t *out)
{
	char tok[8], q[QBUF];
	unsigned long v = 0;

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1) ||
	    strspn(s, "0123456789") < n) {
		char bad[QBUF];

		n = n < sizeof(bad) - 1 ? n : sizeof(bad) - 1;
		memcpy(bad, s, n);
		bad[n] = '\0';
		return policy_fail(c, WEFT_ERR_INVAL, "invalid port \"%s\"",
				   policy_quote(q, sizeof(q), bad));
	}
	memcpy(tok, s, n);
	tok[n] = '\0';
	v = strtoul(tok, NULL, 10);
	if (v < 1 || v > 65535)
		return policy_fail(c, WEFT_ERR_INVAL,
				   "port %s is out of range (1-65535)", tok);
	*out = (uint16_t)v;
	return 0;
}

/* "*" | N | N-M | comma list of those. */
int policy_parse_ports(struct pctx *c, const char *s,
		       struct policy_ports *out, size_t *nout)
{
	size_t n = 0;

	if (strcmp(s, "*") == 0) {
		out[0].lo = 0;
		out[0].hi = 65535;
		*nout = 1;
		return 0;
	}
	for (;;) {
		size_t len = strcspn(s, ",");
		const char *dash = memchr(s, '-', len);
		struct policy_ports r;
		int rc;

		if (n == MAX_PORT_RANGES)
			return policy_fail(c, WEFT_ERR_INVAL,
					   "too many port ranges (at most %d)",
					   MAX_PORT_RANGES);
		if (dash) {
			rc = parse_port(c, s, (size_t)(dash - s), &r.lo);
			if (!rc)
				rc = parse_port(c, dash + 1,
						len - (size_t)(dash - s) - 1,
						&r.hi);
			if (rc)
				return rc;
			if (r.lo > r.hi)
				return policy_fail(
					c, WEFT_ERR_INVAL,
					"port range %u-%u is reversed", r.lo,
					r.hi);
		} else {
			rc = parse_port(c, s, len, &r.lo);
			if (rc)
				return rc;
			r.hi = r.lo;
		}
		out[n++] = r;
		if (s[len] == '\0')
			break;
		s += len + 1;
	}
	*nout = n;
	return 0;
}

/* A "tag:x" key or selector: the name rule, and at most NAME_TAG_MAX bytes
 * in all so that every tag the policy declares can be set on a node. */
static int check_tag(struct pctx *c, const char *s)
{
	char q[QBUF];

	if (!valid_prefixed(s, NAME_TAG_PREFIX))
		return bad_name(c, "tag", NAME_TAG_PREFIX, s);
	if (!name_valid_tag(s))
		return policy_fail(
			c, WEFT_ERR_INVAL,
			"tag \"%s\" is too long (at most %d characters, "
			"\"tag:\" included, as on nodes)",
			policy_quote(q, sizeof(q), s), NAME_TAG_MAX);
	return 0;
}

/* Selectors */

/* Resolves s into *out. out->name borrows s; ports are left alone. */
int policy_parse_sel(struct pctx *c, const char *s, enum sel_use use,
		     struct policy_sel *out)
{
	struct policy_sel sel;
	char q[QBUF];
	int rc;

	memset(&sel, 0, sizeof(sel));
	sel.name = s;
	if (strcmp(s, "*") == 0) {
		if (use == USE_TEST || use == USE_TEST_DST)
			return policy_fail(
				c, WEFT_ERR_INVAL,
				"\"*\" cannot be used in tests; name a "
				"user, group, tag, node, host or address");
		sel.kind = POLICY_SEL_ALL;
		sel.name = NULL;
	} else if (policy_has_prefix(s, "group:")) {
		if (!valid_prefixed(s, "group:"))
			return bad_name(c, "group", "group:", s);
		if (!policy_find_group(c->p, s))
			return unknown(c, "group", s);
		sel.kind = POLICY_SEL_GROUP;
	} else if (policy_has_prefix(s, "tag:")) {
		rc = check_tag(c, s);
		if (rc)
			return rc;
		if (!policy_find_tag(c->p, s))
			return policy_fail(c, WEFT_ERR_INVAL,
					   "unknown tag \"%s\" (declare it in "
					   "tagOwners)",
					   policy_quote(q, sizeof(q), s));
		sel.kind = POLICY_SEL_TAG;
	} else if (policy_has_prefix(s, "node:")) {
		if (!valid_prefixed(s, "node:"))
			return bad_name(c, "node", "node:", s);
		sel.kind = POLICY_SEL_NODE;
	} else if (policy_has_prefix(s, "host:")) {
		const struct phost *h;

		if (!valid_prefixed(s, "host:"))
			return bad_name(c, "host", "host:", s);
		h = find_host(c->p, s + 5);
		if (!h)
			return unknown(c, "host", s);
		sel.kind = POLICY_SEL_PREFIX;
		sel.prefix = h->prefix;
	} else if (policy_has_prefix(s, "resource:")) {
		if (use == USE_SRC || use == USE_TEST)
			return policy_fail(c, WEFT_ERR_INVAL,
					   "\"%s\" is only allowed in dst",
					   policy_quote(q, sizeof(q), s));
		if (!valid_prefixed(s, "resource:"))
			return bad_name(c, "resource", "resource:", s);
		if (!resource_known(c, s + 9))
			return unknown(c, "resource", s);
		sel.kind = POLICY_SEL_RESOURCE;
	} else if ((rc = ip_prefix_parse(s, &sel.prefix,
					 IP_PREFIX_STRICT |
						 IP_PREFIX_BARE_ADDR)) == 0) {
		sel.kind = POLICY_SEL_PREFIX;
		sel.name = NULL;
	} else if (rc == WEFT_ERR_INVAL) {
		return policy_fail(c, WEFT_ERR_INVAL,
				   "\"%s\" has host bits set",
				   policy_quote(q, sizeof(q), s));
	} else if (rc == WEFT_ERR_RANGE) {
		return policy_fail(c, WEFT_ERR_INVAL,
				   "prefix length out of range in \"%s\"",
				   policy_quote(q, sizeof(q), s));
	} else if (name_valid(s)) {
		if (!user_known(c, s))
			return unknown(c, "user", s);
		sel.kind = POLICY_SEL_USER;
	} else {
		return policy_fail(c, WEFT_ERR_INVAL, "invalid selector \"%s\"",
				   policy_quote(q, sizeof(q), s));
	}
	*out = sel;
	return 0;
}

/* Splits "SEL:PORTS" at the last ':' into sel (borrowed into buf) and
 * ports. buf must hold strlen(s) + 1 bytes. */
int policy_split_dst(struct pctx *c, const char *s, char *buf,
		     const char **ports)
{
	static const char *const bare[] = {"group", "tag",      "node",
					   "host",  "resource", NULL};
	const char *colon = strrchr(s, ':');
	char q[QBUF];

	strcpy(buf, s);
	if (colon) {
		buf[colon - s] = '\0';
		for (size_t i = 0; bare[i]; i++)
			if (strcmp(buf, bare[i]) == 0)
				colon = NULL;
	}
	if (!colon)
		return policy_fail(
			c, WEFT_ERR_INVAL,
			"missing port in \"%s\" (write \"SELECTOR:PORTS\", "
			"e.g. \"tag:web:443\" or \"alice:*\")",
			policy_quote(q, sizeof(q), s));
	*ports = colon + 1;
	return 0;
}

int policy_parse_proto(struct pctx *c, const char *s,
		       enum policy_proto *out)
{
	static const struct {
		const char *name;
		enum policy_proto proto;
	} protos[] = {
		{"any", POLICY_ANY}, {"tcp", POLICY_TCP},
		{"udp", POLICY_UDP}, {"icmp", POLICY_ICMP},
	};
	char q[QBUF];

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (strcmp(s, protos[i].name) == 0) {
			*out = protos[i].proto;
			return 0;
		}
	}
	return policy_fail(
		c, WEFT_ERR_INVAL,
		"unknown protocol \"%s\" (want tcp, udp, icmp or any)",
		policy_quote(q, sizeof(q), s));
}

int policy_icmp_port(struct pctx *c, const char *ports)
{
	char q[QBUF];

	if (strcmp(ports, "*") == 0)
		return 0;
	return policy_fail(c, WEFT_ERR_INVAL,
			   "icmp takes port \"*\", not \"%s\"",
			   policy_quote(q, sizeof(q), ports));
}

/* Sections */

/* Reads a section that maps declared names to lists of strings ("groups",
 * "tagOwners") into an arena array of plists sorted by name. check_key
 * checks each key, check_item each list item (qkey: the key, quoted);
 * sort_items sorts each list for binary search. */
static int parse_named_lists(struct pctx *c, const json_t *obj,
			     const char *section,
			     int (*check_key)(struct pctx *c, const char *key),
			     int (*check_item)(struct pctx *c, const char *item,
					       const char *qkey),
			     bool sort_items,
			     struct plist **out, size_t *nout)
{
	struct plist *lists;
	const char *key;
	json_t *val;
	size_t i = 0;
	char qk[QBUF];
	int rc;

	policy_set_path(c, "%s", section);
	if (policy_want_type(c, obj, JSON_OBJECT))
		return c->code;
	lists = policy_arena_array(&c->p->arena, json_object_size(obj),
				   sizeof(*lists));
	if (!lists)
		return policy_nomem(c);
	json_object_foreach((json_t *)obj, key, val) {
		struct plist *l = &lists[i++];
		const char **items;
		json_t *m;
		size_t j;

		policy_quote(qk, sizeof(qk), key);
		policy_set_path(c, "%s.%s", section, qk);
		rc = check_key(c, key);
		if (rc)
			return rc;
		if (policy_want_type(c, val, JSON_ARRAY))
			return c->code;
		items = policy_arena_array(
			&c->p->arena, json_array_size(val) + 1, sizeof(*items));
		l->name = policy_arena_strdup(&c->p->arena, key);
		if (!items || !l->name)
			return policy_nomem(c);
		json_array_foreach(val, j, m) {
			const char *s = json_string_value(m);

			policy_set_path(c, "%s.%s[%zu]", section, qk, j);
			if (policy_want_type(c, m, JSON_STRING))
				return c->code;
			rc = check_item(c, s, qk);
			if (rc)
				return rc;
			items[j] = policy_arena_strdup(&c->p->arena, s);
			if (!items[j])
				return policy_nomem(c);
		}
		l->n = json_array_size(val);
		if (sort_items)
			qsort(items, l->n, sizeof(*items), cmp_name);
		l->items = items;
	}
	qsort(lists, i, sizeof(*lists), cmp_name);
	*out = lists;
	*nout = i;
	return 0;
}

static int check_group_key(struct pctx *c, const char *key)
{
	return valid_prefixed(key, "group:") ?
		       0 : bad_name(c, "group", "group:", key);
}

/* The last choice for a list item: a known user, else an "invalid <what>"
 * error that names the other form the item may take. */
static int check_user(struct pctx *c, const char *s, const char *what,
		      const char *other)
{
	char q[QBUF];

	if (name_valid(s))
		return user_known(c, s) ? 0 : unknown(c, "user", s);
	return policy_fail(c, WEFT_ERR_INVAL,
			   "invalid %s \"%s\" (want a user name or %s)", what,
			   policy_quote(q, sizeof(q), s), other);
}

/* A group member: a user or "node:<name>"; groups do not nest. qk is the
 * quoted group name. */
static int check_member(struct pctx *c, const char *s, const char *qk)
{
	char q[QBUF];

	if (policy_has_prefix(s, "group:"))
		return policy_fail(c, WEFT_ERR_INVAL,
				   "nested groups are not allowed "
				   "(\"%s\" inside \"%s\")",
				   policy_quote(q, sizeof(q), s), qk);
	if (policy_has_prefix(s, "node:"))
		return valid_prefixed(s, "node:") ?
			       0 : bad_name(c, "node", "node:", s);
	return check_user(c, s, "group member", "\"node:<name>\"");
}

/* A tag owner: a user or a group declared in "groups". */
static int check_owner(struct pctx *c, const char *s, const char *qk)
{
	if (policy_has_prefix(s, "group:")) {
		if (!valid_prefixed(s, "group:"))
			return bad_name(c, "group", "group:", s);
		return policy_find_group(c->p, s) ? 0 : unknown(c, "group", s);
	}
	return check_user(c, s, "tag owner", "\"group:<name>\"");
}

static int parse_groups(struct pctx *c, const json_t *obj)
{
	return parse_named_lists(c, obj, "groups", check_group_key,
				 check_member, true, &c->p->groups,
				 &c->p->ngroups);
}

static int parse_tag_owners(struct pctx *c, const json_t *obj)
{
	return parse_named_lists(c, obj, "tagOwners", check_tag, check_owner,
				 false, &c->p->tags, &c->p->ntags);
}

static int parse_hosts(struct pctx *c, const json_t *obj)
{
	struct policy *p = c->p;
	const char *key;
	json_t *val;
	size_t i = 0;
	char qk[QBUF], q[QBUF];

	policy_set_path(c, "hosts");
	if (policy_want_type(c, obj, JSON_OBJECT))
		return c->code;
	p->hosts = policy_arena_array(&p->arena, json_object_size(obj),
				      sizeof(*p->hosts));
	if (!p->hosts)
		return policy_nomem(c);
	json_object_foreach((json_t *)obj, key, val) {
		struct phost *h = &p->hosts[i++];
		const char *s;
		int rc;

		policy_quote(qk, sizeof(qk), key);
		policy_set_path(c, "hosts.%s", qk);
		if (!name_valid(key))
			return bad_name(c, "host", NULL, key);
		if (policy_want_type(c, val, JSON_STRING))
			return c->code;
		s = json_string_value(val);
		rc = ip_prefix_parse(s, &h->prefix,
				     IP_PREFIX_STRICT | IP_PREFIX_BARE_ADDR);
		if (rc == WEFT_ERR_INVAL)
			return policy_fail(c, WEFT_ERR_INVAL,
					   "\"%s\" has host bits set",
					   policy_quote(q, sizeof(q), s));
		if (rc == WEFT_ERR_RANGE)
			return policy_fail(
				c, WEFT_ERR_INVAL,
				"prefix length out of range in \"%s\"",
				policy_quote(q, sizeof(q), s));
		if (rc)
			return policy_fail(c, WEFT_ERR_INVAL,
					   "invalid address \"%s\" (want an IP "
					   "address or CIDR)",
					   policy_quote(q, sizeof(q), s));
		h->name = policy_arena_strdup(&p->arena, key);
		if (!h->name)
			return policy_nomem(c);
	}
	p->nhosts = i;
	qsort(p->hosts, p->nhosts, sizeof(*p->hosts), cmp_name);
	return 0;
}

/* Reads obj[key] as a non-empty array; the path must name obj. */
static int want_list(struct pctx *c, const json_t *obj, const char *key,
		     const char *where, json_t **out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return policy_fail(c, WEFT_ERR_INVAL, "missing \"%s\"", key);
	policy_set_path(c, "%s.%s", where, key);
	if (policy_want_type(c, v, JSON_ARRAY))
		return c->code;
	if (json_array_size(v) == 0)
		return policy_fail(c, WEFT_ERR_INVAL, "must not be empty");
	*out = v;
	return 0;
}

static int count_grant(void *ctx, enum policy_proto proto, uint16_t lo,
		       uint16_t hi)
{
	(void)ctx;
	(void)proto;
	(void)lo;
	(void)hi;
	return 0;
}

/* Attaches the filters of the resource sel names (when the names
 * callbacks give them) and fails when they leave the rule nothing for it;
 * text is the dst as written. */
static int resource_narrowing(struct pctx *c, const struct policy_rule *rule,
			      struct policy_sel *sel, const char *text)
{
	struct policy_filter f[POLICY_FILTERS_MAX], *copy;
	size_t n = 0;
	char q[QBUF];

	if (!c->names || !c->names->resource_filters ||
	    !c->names->resource_filters(c->names->ctx,
					sel->name + strlen("resource:"), f,
					&n) ||
	    n == 0)
		return 0;
	if (n > POLICY_FILTERS_MAX)
		return policy_fail(c, WEFT_ERR_INVAL,
				   "too many resource filters");
	if (policy_narrow(rule->proto, sel->ports, sel->nports, f, n,
			  count_grant, NULL) == 0)
		return policy_fail(
			c, WEFT_ERR_INVAL,
			"\"%s\" (proto %s) allows nothing: the filters "
			"of %s admit none of it",
			policy_quote(q, sizeof(q), text),
			policy_proto_name(rule->proto), sel->name);
	copy = policy_arena_array(&c->p->arena, n, sizeof(*copy));
	if (!copy)
		return policy_nomem(c);
	memcpy(copy, f, n * sizeof(*copy));
	sel->filters = copy;
	sel->nfilters = n;
	return 0;
}

static int parse_rule(struct pctx *c, size_t i, const json_t *obj,
		      struct policy_rule *rule)
{
	static const char *const keys[] = {"action", "src", "dst", "proto",
					   NULL};
	struct policy *p = c->p;
	struct policy_sel *sels;
	json_t *src, *dst, *v;
	const char *s, *ports;
	char where[32], q[QBUF], *buf;
	size_t j;
	int rc;

	snprintf(where, sizeof(where), "acls[%zu]", i);
	if (policy_want_object(c, where, obj, keys))
		return c->code;
	v = json_object_get(obj, "action");
	if (!v)
		return policy_fail(c, WEFT_ERR_INVAL, "missing \"action\"");
	policy_set_path(c, "%s.action", where);
	if (policy_want_type(c, v, JSON_STRING))
		return c->code;
	if (strcmp(json_string_value(v), "accept") != 0)
		return policy_fail(
			c, WEFT_ERR_INVAL,
			"unsupported action \"%s\" (only \"accept\"; "
			"anything not accepted is denied)",
			policy_quote(q, sizeof(q), json_string_value(v)));

	rule->proto = POLICY_ANY;
	v = json_object_get(obj, "proto");
	if (v) {
		policy_set_path(c, "%s.proto", where);
		if (policy_want_type(c, v, JSON_STRING) ||
		    policy_parse_proto(c, json_string_value(v), &rule->proto))
			return c->code;
	}

	policy_set_path(c, "%s", where);
	if (want_list(c, obj, "src", where, &src))
		return c->code;
	sels = policy_arena_array(&p->arena, json_array_size(src),
				  sizeof(*sels));
	if (!sels)
		return policy_nomem(c);
	json_array_foreach(src, j, v) {
		policy_set_path(c, "%s.src[%zu]", where, j);
		if (policy_want_type(c, v, JSON_STRING) ||
		    policy_parse_sel(c, json_string_value(v), USE_SRC,
				     &sels[j]))
			return c->code;
		if (sels[j].name) {
			sels[j].name =
				policy_arena_strdup(&p->arena, sels[j].name);
			if (!sels[j].name)
				return policy_nomem(c);
		}
	}
	rule->src = sels;
	rule->nsrc = json_array_size(src);

	policy_set_path(c, "%s", where);
	if (want_list(c, obj, "dst", where, &dst))
		return c->code;
	sels = policy_arena_array(&p->arena, json_array_size(dst),
				  sizeof(*sels));
	if (!sels)
		return policy_nomem(c);
	json_array_foreach(dst, j, v) {
		struct policy_ports r[MAX_PORT_RANGES], *pp;
		size_t n;

		policy_set_path(c, "%s.dst[%zu]", where, j);
		if (policy_want_type(c, v, JSON_STRING))
			return c->code;
		s = json_string_value(v);
		buf = malloc(strlen(s) + 1);
		if (!buf)
			return policy_nomem(c);
		rc = policy_split_dst(c, s, buf, &ports);
		if (!rc)
			rc = policy_parse_sel(c, buf, USE_DST, &sels[j]);
		if (!rc && rule->proto == POLICY_ICMP)
			rc = policy_icmp_port(c, ports);
		if (!rc)
			rc = policy_parse_ports(c, ports, r, &n);
		if (!rc && sels[j].name) {
			sels[j].name =
				policy_arena_strdup(&p->arena, sels[j].name);
			if (!sels[j].name)
				rc = policy_nomem(c);
		}
		free(buf);
		if (rc)
			return rc;
		pp = policy_arena_array(&p->arena, n, sizeof(*pp));
		if (!pp)
			return policy_nomem(c);
		memcpy(pp, r, n * sizeof(*pp));
		sels[j].ports = pp;
		sels[j].nports = n;
		if (sels[j].kind == POLICY_SEL_RESOURCE &&
		    resource_narrowing(c, rule, &sels[j], s))
			return c->code;
	}
	rule->dst = sels;
	rule->ndst = json_array_size(dst);
	return 0;
}

static int parse_acls(struct pctx *c, const json_t *arr)
{
	struct policy *p = c->p;
	json_t *v;
	size_t i;

	policy_set_path(c, "acls");
	if (policy_want_type(c, arr, JSON_ARRAY))
		return c->code;
	p->rules = policy_arena_array(&p->arena, json_array_size(arr),
				      sizeof(*p->rules));
	if (!p->rules)
		return policy_nomem(c);
	json_array_foreach(arr, i, v) {
		if (parse_rule(c, i, v, &p->rules[i]))
			return c->code;
		p->nrules = i + 1;
	}
	return 0;
}
static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]))
			return false;
	return true;
}

static int parse_doc(struct pctx *c, const char *json, size_t len)
{
	static const char *const keys[] = {"groups", "tagOwners", "hosts",
					   "acls",   "tests",     NULL};
	struct jsonx_err je;
	json_t *root = NULL, *v;
	int rc;

	if (len > POLICY_MAX_BYTES)
		return policy_fail(c, WEFT_ERR_TOOBIG,
				   "policy is larger than %d bytes",
				   POLICY_MAX_BYTES);
	/* An empty document is the empty policy, like "{}". */
	if (blank(json, len))
		return 0;
	rc = jsonx_parse(json, len, POLICY_MAX_BYTES, &root, &je);
	if (rc == WEFT_ERR_TYPE)
		return policy_fail(c, WEFT_ERR_INVAL,
				   "policy must be a JSON object");
	if (rc) {
		c->e.line = je.line;
		c->e.column = je.column;
		return policy_fail(c, rc, "%s", je.message);
	}

	if (policy_check_keys(c, root, keys))
		goto out;
	if ((v = json_object_get(root, "groups")) && parse_groups(c, v))
		goto out;
	if ((v = json_object_get(root, "tagOwners")) && parse_tag_owners(c, v))
		goto out;
	if ((v = json_object_get(root, "hosts")) && parse_hosts(c, v))
		goto out;
	if ((v = json_object_get(root, "acls")) && parse_acls(c, v))
		goto out;
	if ((v = json_object_get(root, "tests")) && policy_parse_tests(c, v))
		goto out;
out:
	json_decref(root);
	return c->code;
}

/* Public API */

int policy_parse(const char *json, size_t len, const struct policy_names *names,
		 struct policy **out, struct policy_err *err)
{
	struct pctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.names = names;
	if (!out || (!json && len > 0)) {
		rc = policy_fail(&c, WEFT_ERR_INVAL, "no input");
		goto out;
	}
	c.p = calloc(1, sizeof(*c.p));
	if (!c.p) {
		rc = policy_nomem(&c);
		goto out;
	}
	rc = parse_doc(&c, json ? json : "", len);
out:
	if (rc) {
		/* A semantic error names a path: find it in the text. */
		if (c.e.line == 0 && json && len <= POLICY_MAX_BYTES) {
			struct jsonloc loc;

			(void)jsonloc_find(json, len, c.e.path, &loc);
			c.e.line = loc.line;
			c.e.column = loc.column;
		}
		if (err)
			*err = c.e;
		policy_free(c.p);
		return rc;
	}
	*out = c.p;
	return 0;
}

int policy_new_empty(struct policy **out)
{
	struct policy *p;

	if (!out)
		return WEFT_ERR_INVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return WEFT_ERR_NOMEM;
	*out = p;
	return 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	policy_arena_free(&p->arena);
	free(p);
}

size_t policy_rule_count(const struct policy *p)
{
	return p ? p->nrules : 0;
}

const struct policy_rule *policy_rule(const struct policy *p, size_t i)
{
	if (!p || i >= p->nrules)
		return NULL;
	return &p->rules[i];
}
