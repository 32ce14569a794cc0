/* Fuzzes policy_parse with name callbacks that know the users "alice" and
 * "bob" and the resource "wiki". Invariants: failures return a known code
 * with a printable-ASCII message and path and no policy; successes give
 * rules with non-empty src and dst, ports only on dst, lo <= hi, and rules
 * that agree with policy_allows (the src of a rule may reach its dst). */
#include "controller/policy.h"
#include "shared/err.h"

/* The fuzz targets link libweft only (tests/fuzz/CMakeLists.txt), not the
 * controller library; policy.c needs nothing beyond libweft, so it is
 * compiled into the harness. */
#include "controller/policy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool known_user(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "alice") == 0 || strcmp(name, "bob") == 0;
}

static bool known_resource(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "wiki") == 0;
}

/* wiki admits tcp 443 and icmp: rules on it are narrowed. */
static bool resource_filters(void *ctx, const char *name,
			     struct policy_filter *out, size_t *n)
{
	(void)ctx;
	if (strcmp(name, "wiki") != 0)
		return false;
	memset(out, 0, 2 * sizeof(*out));
	out[0].proto = POLICY_TCP;
	out[0].ports[0] = (struct policy_ports){443, 443};
	out[0].nports = 1;
	out[1].proto = POLICY_ICMP;
	*n = 2;
	return true;
}

static void check_text(const char *s, size_t cap, bool nonempty)
{
	size_t n = strnlen(s, cap);

	if (n == cap || (nonempty && n == 0))
		abort();
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			abort();
}

static void check_sel(const struct policy_sel *s, bool dst)
{
	switch (s->kind) {
	case POLICY_SEL_ALL:
		if (s->name)
			abort();
		break;
	case POLICY_SEL_USER:
	case POLICY_SEL_GROUP:
	case POLICY_SEL_TAG:
	case POLICY_SEL_NODE:
		if (!s->name || !s->name[0])
			abort();
		break;
	case POLICY_SEL_PREFIX:
		if (s->prefix.addr.family != 4 && s->prefix.addr.family != 6)
			abort();
		break;
	case POLICY_SEL_RESOURCE:
		if (!dst || !s->name || strcmp(s->name, "resource:wiki") != 0)
			abort();
		break;
	default:
		abort();
	}
	if (!dst) {
		if (s->ports || s->nports)
			abort();
		return;
	}
	if (!s->ports || s->nports == 0 || s->nports > 64)
		abort();
	for (size_t i = 0; i < s->nports; i++)
		if (s->ports[i].lo > s->ports[i].hi)
			abort();
}

/* Writes the selector as a question would name it; false for "*". */
static bool sel_text(const struct policy_sel *s, char *buf, size_t n)
{
	if (s->kind == POLICY_SEL_ALL)
		return false;
	if (s->name) {
		snprintf(buf, n, "%s", s->name);
		return true;
	}
	return ip_prefix_format(&s->prefix, buf, n) == 0;
}

/* The first src and dst of a rule must be allowed by the policy. */
static void check_rule_allows(const struct policy *p,
			      const struct policy_rule *r)
{
	enum policy_proto proto = r->proto == POLICY_ANY ? POLICY_TCP : r->proto;
	char src[160], sel[160], dst[200];
	struct policy_err err;
	bool ok = false;

	/* A resource's filters may narrow the first port away. */
	if (r->dst[0].nfilters || !sel_text(&r->src[0], src, sizeof(src)) ||
	    !sel_text(&r->dst[0], sel, sizeof(sel)))
		return;
	if (proto == POLICY_ICMP)
		snprintf(dst, sizeof(dst), "%s:*", sel);
	else
		snprintf(dst, sizeof(dst), "%s:%u", sel,
			 r->dst[0].ports[0].lo ? r->dst[0].ports[0].lo : 1u);
	if (policy_allows(p, src, dst, proto, &ok, &err) != 0 || !ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct policy_names names = {known_user, known_resource, NULL,
					   resource_filters};
	struct policy *p = NULL;
	struct policy_err err;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = policy_parse((const char *)data, size, &names, &p, &err);
	if (rc) {
		if (p)
			abort();
		if (rc != WEFT_ERR_PARSE && rc != WEFT_ERR_INVAL &&
		    rc != WEFT_ERR_TOOBIG && rc != WEFT_ERR_NOMEM)
			abort();
		check_text(err.path, sizeof(err.path), false);
		check_text(err.message, sizeof(err.message), true);
		return 0;
	}
	if (!p)
		abort();
	for (size_t i = 0; i < policy_rule_count(p); i++) {
		const struct policy_rule *r = policy_rule(p, i);

		if (!r || r->nsrc == 0 || r->ndst == 0 || !r->src || !r->dst)
			abort();
		if (r->proto > POLICY_ICMP)
			abort();
		for (size_t j = 0; j < r->nsrc; j++)
			check_sel(&r->src[j], false);
		for (size_t j = 0; j < r->ndst; j++)
			check_sel(&r->dst[j], true);
		if (i < 16)
			check_rule_allows(p, r);
	}
	if (policy_rule(p, policy_rule_count(p)) != NULL)
		abort();
	policy_free(p);
	return 0;
}
