/* A policy change in the network-map engine (netmap_policy_set). Every
 * node's memberships are recomputed, but nodes the policy cannot tell
 * apart are classified once (identity classes), and only the nodes whose
 * wanted peers changed are re-peered (membership classes); filters and
 * reach are compared before and after so that only maps that changed are
 * marked. See netmap_model.h and docs/internals/netmap.md. */
#include "controller/netmap_model.h"

/* --- classes ---
 *
 * A policy change touches every node, but nodes the policy cannot tell
 * apart get the same memberships, and nodes with the same memberships want
 * the same peers. So a policy change classifies one node of each identity
 * and copies its memberships to the others, and re-derives the peer sets
 * of only the nodes whose wanted peers changed: the peer sets always equal
 * what the memberships want (every change keeps them so), so a node whose
 * old and new memberships want the same peers keeps its peers. */

/* idmap keys are positive. */
static int64_t hash_key(uint64_t h)
{
	return (int64_t)((h >> 1) | 1);
}

static int ivec_copy(struct ivec *dst, const struct ivec *src)
{
	if (dst->cap < src->n) {
		int64_t *nv = realloc(dst->v, src->n * sizeof(*nv));

		if (!nv)
			return WEFT_ERR_NOMEM;
		dst->v = nv;
		dst->cap = src->n;
	}
	if (src->n)
		memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	dst->n = src->n;
	return 0;
}

/* What classify reads of a node besides the policy: its user and tags,
 * its name when the policy names nodes (names), and what it serves. The
 * last is shared only through tags (connector tags), so nodes with routes
 * or serving a resource by id (special, sorted) are classified alone. */
static bool ident_alone(const struct nnode *n, const struct ivec *special)
{
	return n->rec.nroutes || ivec_has(special, n->rec.id);
}

static uint64_t ident_hash(const struct nnode *n, bool names)
{
	const char *u = rec_user(&n->rec);
	uint64_t h = FNV_INIT;

	h = u ? fnv_add(h, u, strlen(u) + 1) : fnv_add(h, "", 1);
	for (size_t i = 0; i < n->rec.ntags; i++)
		h = fnv_add(h, n->rec.tags[i], strlen(n->rec.tags[i]) + 1);
	if (names)
		h = fnv_add(h, n->rec.name, strlen(n->rec.name) + 1);
	return h;
}

static bool ident_eq(const struct nnode *a, const struct nnode *b,
		     bool names)
{
	const char *ua = rec_user(&a->rec), *ub = rec_user(&b->rec);

	if (!ua != !ub || (ua && strcmp(ua, ub) != 0) ||
	    !rec_tags_eq(&a->rec, &b->rec))
		return false;
	return !names || strcmp(a->rec.name, b->rec.name) == 0;
}

/* The resource connectors named by node id, sorted. */
static int connector_ids(const struct netmap *nm, struct ivec *out)
{
	for (size_t i = 0; i < nm->nres; i++)
		for (size_t k = 0; k < nm->res[i].r.nconnector_nodes; k++)
			if (ivec_push(out, nm->res[i].r.connector_nodes[k]) < 0)
				return WEFT_ERR_NOMEM;
	ivec_sort_unique(out);
	return 0;
}

/* reclassify for a node with no memberships, copying them from a node of
 * the same identity classified before (ids: identity hash → struct
 * nnode *) when there is one. */
static int classify_shared(struct netmap *nm, struct nnode *n,
			   struct idmap *ids, bool names,
			   const struct ivec *special)
{
	struct ivec old_s = {0};
	struct nnode *m = NULL;
	int64_t key = 0;
	int rc;

	if (!ident_alone(n, special)) {
		key = hash_key(ident_hash(n, names));
		m = idmap_get(ids, key);
	}
	if (m && ident_eq(m, n, names)) {
		if (ivec_copy(&n->S, &m->S) < 0 || ivec_copy(&n->D, &m->D) < 0 ||
		    ivec_copy(&n->V, &m->V) < 0)
			return WEFT_ERR_NOMEM;
		return netmap_set_members(nm, n, true);
	}
	rc = netmap_reclassify(nm, n, &old_s);
	ivec_free(&old_s);
	if (rc == 0 && key && !m && idmap_put(ids, key, n) < 0)
		rc = WEFT_ERR_NOMEM;
	return rc;
}

/* Nodes with the same memberships and the peers they want. */
struct pclass {
	const struct nnode *rep; /* the first member seen */
	struct ivec want;        /* want_peers of every member */
};

static uint64_t members_hash(const struct nnode *n)
{
	const struct ivec *v[] = {&n->S, &n->D, &n->V};
	uint64_t h = FNV_INIT;

	for (size_t k = 0; k < 3; k++) {
		h = fnv_add(h, &v[k]->n, sizeof(v[k]->n));
		h = fnv_add(h, v[k]->v, v[k]->n * sizeof(*v[k]->v));
	}
	return h;
}

/* n's class in classes (hash → struct pclass *), made on first use; *out
 * stays NULL when another class has n's hash (n is then not compared). */
static int class_of(const struct netmap *nm, struct idmap *classes,
		    const struct nnode *n, struct pclass **out)
{
	int64_t key = hash_key(members_hash(n));
	struct pclass *c = idmap_get(classes, key);

	*out = NULL;
	if (c) {
		if (ivec_eq(&c->rep->S, &n->S) && ivec_eq(&c->rep->D, &n->D) &&
		    ivec_eq(&c->rep->V, &n->V))
			*out = c;
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return WEFT_ERR_NOMEM;
	c->rep = n;
	if (netmap_want_peers(nm, n, &c->want) < 0 ||
	    idmap_put(classes, key, c) < 0) {
		ivec_free(&c->want);
		free(c);
		return WEFT_ERR_NOMEM;
	}
	*out = c;
	return 0;
}

static void classes_free(struct idmap *classes)
{
	void *v;

	for (size_t pos = 0; idmap_next(classes, &pos, NULL, &v);) {
		struct pclass *c = v;

		ivec_free(&c->want);
		free(c);
	}
	idmap_free(classes);
}
/* --- policy --- */

/* A node's filter, reach and class before a policy change. */
struct before {
	struct fcomp filter;
	struct reach reach;
	struct pclass *cls;
};

int netmap_policy_set(struct netmap *nm, int64_t version, struct policy *p,
		      struct netmap_dirty *dirty)
{
	struct before *old = NULL;
	struct nrule *rules = NULL;
	struct idmap ids, oldcls, newcls;
	struct ivec special = {0};
	size_t nrules = 0, nnodes = 0;
	bool names;
	int rc;

	if (!p)
		return WEFT_ERR_INVAL;
	idmap_init(&ids);
	idmap_init(&oldcls);
	idmap_init(&newcls);
	if ((rc = netmap_change_begin(nm, version, dirty)) < 0) {
		policy_free(p);
		return rc;
	}
	nnodes = nm->nnodes;
	rc = WEFT_ERR_NOMEM;
	nrules = policy_rule_count(p);
	old = calloc(nnodes + 1, sizeof(*old));
	rules = calloc(nrules + 1, sizeof(*rules));
	if (!old || !rules) {
		/* Nothing changed yet: the engine stays usable. */
		policy_free(p);
		netmap_rules_free(rules, 0);
		free(old);
		nm->dirty = NULL;
		return WEFT_ERR_NOMEM;
	}
	/* Compiled, not rendered: the filters hold references to their
	 * rules' source lists, which so outlive the old rules. */
	for (size_t i = 0; i < nnodes; i++)
		if (netmap_filter_compile(nm, nm->nodes[i], &old[i].filter) < 0 ||
		    netmap_reach_build(nm, nm->nodes[i], &old[i].reach) < 0 ||
		    class_of(nm, &oldcls, nm->nodes[i], &old[i].cls) < 0)
			goto out;
	if (connector_ids(nm, &special) < 0)
		goto out;
	netmap_rules_free(nm->rules, nm->nrules);
	policy_free(nm->pol);
	netmap_fcache_clear(nm->fcache);
	nm->pol = p;
	p = NULL;
	nm->rules = rules;
	nm->nrules = nrules;
	rules = NULL;
	names = policy_names_nodes(nm->pol);
	for (size_t i = 0; i < nnodes; i++) {
		struct nnode *n = nm->nodes[i];

		/* The old member sets are gone: start from empty. */
		n->D.n = n->V.n = n->S.n = 0;
		if ((rc = classify_shared(nm, n, &ids, names, &special)) < 0)
			goto out;
	}
	for (size_t i = 0; i < nnodes; i++) {
		struct pclass *c;

		if ((rc = class_of(nm, &newcls, nm->nodes[i], &c)) < 0)
			goto out;
		if (c && old[i].cls && ivec_eq(&c->want, &old[i].cls->want))
			continue;
		if ((rc = netmap_refresh_peers(nm, nm->nodes[i])) < 0)
			goto out;
	}
	for (size_t i = 0; i < nnodes; i++) {
		struct nnode *n = nm->nodes[i];
		struct fcomp f = {0};
		struct reach r = {0};

		rc = WEFT_ERR_NOMEM;
		if (netmap_filter_compile(nm, n, &f) == 0 &&
		    netmap_reach_build(nm, n, &r) == 0)
			rc = 0;
		if (!rc && !netmap_filter_eq(&f, &old[i].filter))
			rc = netmap_mark_filter(nm, n);
		if (!rc && !netmap_reach_eq(&r, &old[i].reach)) {
			n->peers_v = n->dns_v = n->res_v = nm->v;
			rc = netmap_mark(nm, n);
		}
		netmap_filter_free(&f);
		netmap_reach_free(&r);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < nnodes; i++) {
		netmap_filter_free(&old[i].filter);
		netmap_reach_free(&old[i].reach);
	}
	free(old);
	netmap_rules_free(rules, 0);
	policy_free(p);
	idmap_free(&ids);
	classes_free(&oldcls);
	classes_free(&newcls);
	ivec_free(&special);
	return netmap_change_end(nm, rc);
}
