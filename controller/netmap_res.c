/* Resources in the network-map engine: the engine's record of a resource,
 * who connects it, what a node's rules give it (narrowed by the
 * resource's filters), which sections a connector's change touches, the
 * "resources" and "serves" sections of a map, and the resource changes
 * (netmap_resource_upsert/remove). See netmap_model.h and
 * docs/internals/netmap.md. */
#include "controller/netmap_model.h"

#include <stdio.h>

/* --- records --- */

#define FIELD_OK(f) (memchr((f), '\0', sizeof(f)) != NULL)

static int parse_mapped(const char *text, int family, struct nres *r)
{
	struct ip_prefix *p = &r->prefixes[r->nprefixes];

	if (!text[0])
		return 0;
	if (ip_prefix_parse(text, p, IP_PREFIX_STRICT) < 0 ||
	    p->addr.family != family)
		return WEFT_ERR_INVAL;
	r->nprefixes++;
	return 0;
}

int netmap_res_parse(const struct netmap_resource *in, struct nres *out)
{
	struct nres r = {0};

	if (!in || in->id <= 0 || !FIELD_OK(in->name) || !in->name[0] ||
	    !FIELD_OK(in->address) || !in->address[0] ||
	    !FIELD_OK(in->mapped_ipv4) || !FIELD_OK(in->mapped_ipv6) ||
	    in->nfilters > POLICY_FILTERS_MAX ||
	    in->nconnector_nodes > NETMAP_RES_CONNECTORS_MAX ||
	    in->nconnector_tags > NETMAP_RES_CONNECTORS_MAX)
		return WEFT_ERR_INVAL;
	for (size_t i = 0; i < in->nfilters; i++) {
		const struct policy_filter *f = &in->filters[i];

		if (f->proto < POLICY_TCP || f->proto > POLICY_ICMP ||
		    f->nports > POLICY_FILTER_PORTS_MAX)
			return WEFT_ERR_INVAL;
		for (size_t k = 0; k < f->nports; k++)
			if (f->ports[k].lo > f->ports[k].hi)
				return WEFT_ERR_INVAL;
	}
	for (size_t i = 0; i < in->nconnector_tags; i++)
		if (!FIELD_OK(in->connector_tags[i]))
			return WEFT_ERR_INVAL;
	r.r = *in;
	if (resource_address_type(in->address, &r.type) < 0)
		return WEFT_ERR_INVAL;
	if (r.type == RESOURCE_DNS || r.type == RESOURCE_WILDCARD) {
		if (parse_mapped(in->mapped_ipv4, 4, &r) < 0 ||
		    parse_mapped(in->mapped_ipv6, 6, &r) < 0)
			return WEFT_ERR_INVAL;
	} else if (resource_prefixes(r.type, in->address, r.prefixes,
				     &r.nprefixes) < 0) {
		return WEFT_ERR_INVAL;
	}
	r.is_prefix = r.type == RESOURCE_IP || r.type == RESOURCE_CIDR;
	*out = r;
	return 0;
}

const struct nres *netmap_res_find(const struct netmap *nm, const char *sel)
{
	size_t plen = strlen(RESOURCE_PREFIX);

	if (strncmp(sel, RESOURCE_PREFIX, plen) == 0)
		sel += plen;
	for (size_t i = 0; i < nm->nres; i++)
		if (strcmp(nm->res[i].r.name, sel) == 0)
			return &nm->res[i];
	return NULL;
}

bool netmap_res_served_by(const struct netmap_resource *r,
			  const struct nrec *rec)
{
	for (size_t i = 0; i < r->nconnector_nodes; i++)
		if (r->connector_nodes[i] == rec->id)
			return true;
	for (size_t i = 0; i < r->nconnector_tags; i++)
		if (netmap_rec_has_tag(rec, r->connector_tags[i]))
			return true;
	return false;
}

/* --- effective access --- */

static int range_push(struct prange **v, size_t *n, size_t *cap, uint16_t lo,
		      uint16_t hi)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct prange *nv = realloc(*v, ncap * sizeof(*nv));

		if (!nv)
			return WEFT_ERR_NOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = (struct prange){lo, hi};
	return 0;
}

static int eff_grant(void *ctx, enum policy_proto proto, uint16_t lo,
		     uint16_t hi)
{
	struct neff *e = ctx;

	/* "any" admits ICMP whatever its ports (ICMP has none) and other
	 * protocols only with every port. */
	if (proto == POLICY_ANY && lo == 0 && hi == 65535) {
		e->all = true;
		return 0;
	}
	if (proto == POLICY_ICMP || proto == POLICY_ANY)
		e->icmp = true;
	if ((proto == POLICY_TCP || proto == POLICY_ANY) &&
	    range_push(&e->tcp, &e->ntcp, &e->captcp, lo, hi) < 0)
		return WEFT_ERR_NOMEM;
	if ((proto == POLICY_UDP || proto == POLICY_ANY) &&
	    range_push(&e->udp, &e->nudp, &e->capudp, lo, hi) < 0)
		return WEFT_ERR_NOMEM;
	return 0;
}

int netmap_eff_add(struct neff *e, const struct nres *res,
		   const struct policy_rule *rule,
		   const struct policy_sel *sel)
{
	int rc = policy_narrow(rule->proto, sel->ports, sel->nports,
			       res->r.filters, res->r.nfilters, eff_grant, e);

	return rc < 0 ? rc : 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct prange *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

static void ranges_canon(struct prange *v, size_t *n)
{
	size_t w = 0;

	if (*n == 0)
		return;
	qsort(v, *n, sizeof(*v), cmp_range);
	for (size_t i = 1; i < *n; i++) {
		if ((unsigned)v[i].lo <= (unsigned)v[w].hi + 1) {
			if (v[i].hi > v[w].hi)
				v[w].hi = v[i].hi;
		} else {
			v[++w] = v[i];
		}
	}
	*n = w + 1;
}

void netmap_eff_canon(struct neff *e)
{
	if (e->all) {
		e->icmp = false;
		e->ntcp = e->nudp = 0;
		return;
	}
	ranges_canon(e->tcp, &e->ntcp);
	ranges_canon(e->udp, &e->nudp);
}

bool netmap_eff_eq(const struct neff *a, const struct neff *b)
{
	return a->all == b->all && a->icmp == b->icmp && a->ntcp == b->ntcp &&
	       a->nudp == b->nudp &&
	       (!a->ntcp ||
		memcmp(a->tcp, b->tcp, a->ntcp * sizeof(*a->tcp)) == 0) &&
	       (!a->nudp ||
		memcmp(a->udp, b->udp, a->nudp * sizeof(*a->udp)) == 0);
}

void netmap_eff_free(struct neff *e)
{
	free(e->tcp);
	free(e->udp);
	memset(e, 0, sizeof(*e));
}

/* --- connectors and the sections they touch --- */

/* Does rule name a resource x connects? */
static bool rule_connects(const struct netmap *nm, const struct nnode *x,
			  const struct policy_rule *rule)
{
	for (size_t k = 0; k < rule->ndst; k++) {
		const struct policy_sel *sel = &rule->dst[k];
		const struct nres *res;

		if (sel->kind == POLICY_SEL_RESOURCE && sel->name &&
		    (res = netmap_res_find(nm, sel->name)) &&
		    netmap_res_served_by(&res->r, &x->rec))
			return true;
	}
	return false;
}

/* Appends the ids of the resources rec connects to out (ascending). */
static int served_ids(const struct netmap *nm, const struct nrec *rec,
		      struct ivec *out)
{
	for (size_t i = 0; i < nm->nres; i++)
		if (netmap_res_served_by(&nm->res[i].r, rec) &&
		    ivec_push(out, nm->res[i].r.id) < 0)
			return WEFT_ERR_NOMEM;
	ivec_sort_unique(out);
	return 0;
}

/* The rules of V(x) naming a resource x connects, into out. */
static int connecting_rules(const struct netmap *nm, const struct nnode *x,
			    struct ivec *out)
{
	for (size_t i = 0; i < x->V.n; i++)
		if (rule_connects(nm, x, policy_rule(nm->pol,
						     (size_t)x->V.v[i])) &&
		    ivec_push(out, x->V.v[i]) < 0)
			return WEFT_ERR_NOMEM;
	return 0;
}

void netmap_res_before_free(struct res_before *b)
{
	ivec_free(&b->served);
	ivec_free(&b->rules);
}

int netmap_res_before(const struct netmap *nm, const struct nnode *x,
		      struct res_before *b)
{
	memset(b, 0, sizeof(*b));
	b->online = x->rec.online;
	if (served_ids(nm, &x->rec, &b->served) < 0 ||
	    connecting_rules(nm, x, &b->rules) < 0) {
		netmap_res_before_free(b);
		return WEFT_ERR_NOMEM;
	}
	return 0;
}

bool netmap_res_flips(const struct res_before *b, bool online)
{
	return b->rules.n && b->online != online;
}

/* Marks the "resources" section of the senders of rules (but x). */
static int mark_senders(struct netmap *nm, const struct nnode *x,
			const struct ivec *rules)
{
	for (size_t i = 0; i < rules->n; i++) {
		const struct idmap *src = &nm->rules[rules->v[i]].src;
		void *p;
		int rc;

		for (size_t k = 0; idmap_next(src, &k, NULL, &p);) {
			struct nnode *n = p;

			if (n == x)
				continue;
			n->res_v = nm->v;
			if ((rc = netmap_mark(nm, n)) < 0)
				return rc;
		}
	}
	return 0;
}

int netmap_res_after(struct netmap *nm, struct nnode *x,
		     struct res_before *b)
{
	struct res_before now;
	bool served_eq;
	int rc;

	if ((rc = netmap_res_before(nm, x, &now)) < 0)
		goto out;
	served_eq = ivec_eq(&b->served, &now.served);
	if (!served_eq) {
		x->serves_v = nm->v;
		if ((rc = netmap_mark(nm, x)) < 0)
			goto out;
	}
	/* The senders list x among the connectors only while it is online:
	 * nothing to tell them when it was and is offline. */
	if ((served_eq && b->online == now.online) ||
	    (!b->online && !now.online))
		goto out;
	if ((!b->online || (rc = mark_senders(nm, x, &b->rules)) == 0) &&
	    now.online)
		rc = mark_senders(nm, x, &now.rules);
out:
	netmap_res_before_free(&now);
	netmap_res_before_free(b);
	return rc;
}

int netmap_res_gone(struct netmap *nm, struct nnode *x)
{
	struct ivec rules = {0};
	int rc = 0;

	if (x->rec.online &&
	    (rc = connecting_rules(nm, x, &rules)) == 0)
		rc = mark_senders(nm, x, &rules);
	ivec_free(&rules);
	return rc;
}

/* --- rendering --- */

static json_t *prefixes_json(const struct nres *res)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < res->nprefixes; i++) {
		char buf[IP_PREFIX_STRLEN];

		if (ip_prefix_format(&res->prefixes[i], buf, sizeof(buf)) < 0 ||
		    json_array_append_new(a, json_string(buf)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *ranges_json(const struct prange *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		char buf[16];

		if (v[i].lo == 0 && v[i].hi == 65535)
			break; /* every port: [] */
		if (v[i].lo == v[i].hi)
			snprintf(buf, sizeof(buf), "%u", v[i].lo);
		else
			snprintf(buf, sizeof(buf), "%u-%u", v[i].lo, v[i].hi);
		if (json_array_append_new(a, json_string(buf)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	if (a && n && v[0].lo == 0 && v[0].hi == 65535)
		json_array_clear(a);
	return a;
}

/* An effective access in the filters' JSON form: [] for everything. */
static json_t *eff_json(const struct neff *e)
{
	json_t *a = json_array();

	if (!a || e->all)
		return a;
	if (e->ntcp &&
	    json_array_append_new(a, json_pack("{s:s, s:o}", "protocol", "tcp",
			"ports", ranges_json(e->tcp, e->ntcp))) < 0)
		goto fail;
	if (e->nudp &&
	    json_array_append_new(a, json_pack("{s:s, s:o}", "protocol", "udp",
			"ports", ranges_json(e->udp, e->nudp))) < 0)
		goto fail;
	if (e->icmp &&
	    json_array_append_new(a, json_pack("{s:s, s:[]}", "protocol",
						"icmp", "ports")) < 0)
		goto fail;
	return a;
fail:
	json_decref(a);
	return NULL;
}

static json_t *entry_json(const struct nres *res, json_t *filters)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o}",
			 "id", (json_int_t)res->r.id, "name", res->r.name,
			 "type", resource_type_name(res->type),
			 "address", res->r.address,
			 "prefixes", prefixes_json(res), "filters", filters);
}

/* The online connectors of res among n's peers, ascending: those in the
 * srv sets of n's rules naming res. */
static json_t *connectors_json(const struct netmap *nm, const struct nnode *n,
			       const struct nres *res)
{
	struct ivec ids = {0};
	json_t *a = NULL;

	for (size_t i = 0; i < n->S.n; i++) {
		const struct policy_rule *rule = policy_rule(nm->pol,
							     (size_t)n->S.v[i]);
		bool names = false;
		void *p;

		for (size_t k = 0; k < rule->ndst && !names; k++)
			names = rule->dst[k].kind == POLICY_SEL_RESOURCE &&
				rule->dst[k].name &&
				netmap_res_find(nm, rule->dst[k].name) == res;
		if (!names)
			continue;
		for (size_t k = 0;
		     idmap_next(&nm->rules[n->S.v[i]].srv, &k, NULL, &p);) {
			const struct nnode *m = p;

			if (m != n && m->rec.online &&
			    netmap_res_served_by(&res->r, &m->rec) &&
			    idmap_i64_get(&n->peers, m->rec.id) &&
			    ivec_push(&ids, m->rec.id) < 0)
				goto out;
		}
	}
	ivec_sort_unique(&ids);
	a = json_array();
	for (size_t i = 0; a && i < ids.n; i++)
		if (json_array_append_new(a, json_integer(ids.v[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
out:
	ivec_free(&ids);
	return a;
}

json_t *netmap_res_render(const struct netmap *nm, const struct nnode *n,
			  const struct reach *rc)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < rc->nres; i++) {
		json_t *o = entry_json(rc->res[i], eff_json(&rc->eff[i]));

		if (!o || json_object_set_new(o, "connectors",
				connectors_json(nm, n, rc->res[i])) < 0 ||
		    json_array_append_new(a, o) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

static int cmp_res_name(const void *a, const void *b)
{
	const struct nres *x = *(const struct nres *const *)a;
	const struct nres *y = *(const struct nres *const *)b;

	return strcmp(x->r.name, y->r.name);
}

json_t *netmap_serves_render(const struct netmap *nm, const struct nnode *n)
{
	const struct nres **v = calloc(nm->nres + 1, sizeof(*v));
	json_t *a = v ? json_array() : NULL;
	size_t nv = 0;

	for (size_t i = 0; a && i < nm->nres; i++)
		if (netmap_res_served_by(&nm->res[i].r, &n->rec))
			v[nv++] = &nm->res[i];
	if (nv)
		qsort(v, nv, sizeof(*v), cmp_res_name);
	for (size_t i = 0; a && i < nv; i++) {
		json_t *o = entry_json(v[i], resource_filters_json(
				v[i]->r.filters, v[i]->r.nfilters));

		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	free(v);
	return a;
}

/* --- resource changes --- */

/* Does rule r name resource name in its dst? */
static bool rule_names_res(const struct policy_rule *rule, const char *name)
{
	size_t plen = strlen(RESOURCE_PREFIX);

	for (size_t k = 0; k < rule->ndst; k++) {
		const struct policy_sel *sel = &rule->dst[k];

		if (sel->kind == POLICY_SEL_RESOURCE && sel->name &&
		    strncmp(sel->name, RESOURCE_PREFIX, plen) == 0 &&
		    strcmp(sel->name + plen, name) == 0)
			return true;
	}
	return false;
}

static int add_connectors(const struct netmap *nm,
			  const struct netmap_resource *r, struct ivec *out)
{
	for (size_t i = 0; r && i < nm->nnodes; i++)
		if (netmap_res_served_by(r, &nm->nodes[i]->rec) &&
		    ivec_push(out, nm->nodes[i]->rec.id) < 0)
			return WEFT_ERR_NOMEM;
	return 0;
}

/* Replaces resource old (NULL: none) by nw (NULL: removed). Only rules
 * naming the resource are affected: their connectors (old and new) are
 * reclassified and re-peered, and the nodes that may reach it get new DNS
 * data and new entries for those connectors. */
static int resource_change(struct netmap *nm, const struct nres *old,
			   const struct nres *nw)
{
	struct ivec rules = {0}, cand = {0};
	struct fcomp *before = NULL;
	struct netmap_resource old_r = {0};
	size_t pos;
	int rc = WEFT_ERR_NOMEM;

	/* old points into the list, which the change rewrites. */
	if (old)
		old_r = old->r;

	for (size_t r = 0; r < nm->nrules; r++) {
		const struct policy_rule *rule = policy_rule(nm->pol, r);

		if (((old && rule_names_res(rule, old->r.name)) ||
		     (nw && rule_names_res(rule, nw->r.name))) &&
		    ivec_push(&rules, (int64_t)r) < 0)
			goto out;
	}
	if (rules.n) {
		for (size_t i = 0; i < rules.n; i++)
			if (netmap_collect_set(&cand,
					       &nm->rules[rules.v[i]].srv) < 0)
				goto out;
		if (add_connectors(nm, old ? &old->r : NULL, &cand) < 0 ||
		    add_connectors(nm, nw ? &nw->r : NULL, &cand) < 0)
			goto out;
		ivec_sort_unique(&cand);
		if (cand.n && !(before = calloc(cand.n, sizeof(*before))))
			goto out;
		for (size_t i = 0; i < cand.n; i++)
			if (netmap_filter_compile(nm, node_get(nm, cand.v[i]),
						  &before[i]) < 0)
				goto out;
	}
	/* Apply the change to the resource list. */
	if (old) {
		pos = (size_t)(old - nm->res);
		if (nw) {
			nm->res[pos] = *nw;
		} else {
			nm->res[pos] = nm->res[nm->nres - 1];
			nm->nres--;
		}
	} else if (nw) {
		struct nres *nv = realloc(nm->res, (nm->nres + 1) *
					  sizeof(*nv));

		if (!nv)
			goto out;
		nm->res = nv;
		nm->res[nm->nres++] = *nw;
	}
	for (size_t i = 0; i < cand.n; i++) {
		struct ivec old_s = {0};

		rc = netmap_reclassify(nm, node_get(nm, cand.v[i]), &old_s);
		ivec_free(&old_s);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < cand.n; i++)
		if ((rc = netmap_refresh_peers(nm,
					       node_get(nm, cand.v[i]))) < 0)
			goto out;
	for (size_t i = 0; i < cand.n; i++) {
		struct nnode *c = node_get(nm, cand.v[i]);
		struct fcomp f = {0};

		rc = netmap_filter_compile(nm, c, &f);
		if (rc == 0 && !netmap_filter_eq(&f, &before[i]))
			rc = netmap_mark_filter(nm, c);
		netmap_filter_free(&f);
		if (rc < 0)
			goto out;
	}
	/* Nodes that may reach the resource: DNS data and the connectors'
	 * allowed_ips in their maps. */
	for (size_t i = 0; i < rules.n; i++) {
		const struct idmap *src = &nm->rules[rules.v[i]].src;
		void *p;

		for (size_t k = 0; idmap_next(src, &k, NULL, &p);) {
			struct nnode *n = p;

			n->dns_v = n->res_v = nm->v;
			for (size_t c = 0; c < cand.n; c++) {
				int64_t *at = idmap_i64_get(&n->peers,
							    cand.v[c]);

				if (!at)
					continue;
				*at = nm->v;
				if ((rc = netmap_journal_add(nm, n,
							     cand.v[c])) < 0)
					goto out;
			}
			if ((rc = netmap_mark(nm, n)) < 0)
				goto out;
		}
	}
	/* Its connectors' "serves" sections, whether or not a rule names
	 * it. */
	for (size_t i = 0; i < nm->nnodes; i++) {
		struct nnode *c = nm->nodes[i];

		if ((!old || !netmap_res_served_by(&old_r, &c->rec)) &&
		    (!nw || !netmap_res_served_by(&nw->r, &c->rec)))
			continue;
		c->serves_v = nm->v;
		if ((rc = netmap_mark(nm, c)) < 0)
			goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; before && i < cand.n; i++)
		netmap_filter_free(&before[i]);
	free(before);
	ivec_free(&rules);
	ivec_free(&cand);
	return rc;
}

static const struct nres *res_by_id(const struct netmap *nm, int64_t id)
{
	for (size_t i = 0; i < nm->nres; i++)
		if (nm->res[i].r.id == id)
			return &nm->res[i];
	return NULL;
}

int netmap_resource_upsert(struct netmap *nm, int64_t version,
			   const struct netmap_resource *r,
			   struct netmap_dirty *dirty)
{
	struct nres nw;
	const struct nres *old;
	int rc;

	if ((rc = netmap_res_parse(r, &nw)) < 0)
		return rc;
	if ((rc = netmap_change_begin(nm, version, dirty)) < 0)
		return rc;
	old = res_by_id(nm, r->id);
	if (old && memcmp(&old->r, r, sizeof(*r)) == 0)
		return netmap_change_end(nm, 0);
	return netmap_change_end(nm, resource_change(nm, old, &nw));
}

int netmap_resource_remove(struct netmap *nm, int64_t version, int64_t id,
			   struct netmap_dirty *dirty)
{
	const struct nres *old;
	int rc;

	if ((rc = netmap_change_begin(nm, version, dirty)) < 0)
		return rc;
	old = res_by_id(nm, id);
	if (!old)
		return netmap_change_end(nm, 0);
	return netmap_change_end(nm, resource_change(nm, old, NULL));
}
