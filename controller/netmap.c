/* The network-map engine: the model and the changes to it. See netmap.h
 * for the model, netmap_model.h for the names used here, and
 * docs/internals/netmap.md for the data structures, costs and JSON;
 * filters and reach are computed in netmap_model.c,
 * rendering lives in netmap_render.c.
 *
 * A change computes the new rule memberships first and then re-derives the
 * peer set of only the nodes whose memberships changed; adding or removing
 * a peer is always applied to both ends, so the peer relation stays
 * symmetric without touching anybody else. */
#include "controller/netmap_model.h"

/* a must be sorted. */
static bool ivec_has(const struct ivec *a, int64_t x)
{
	return a->n && bsearch(&x, a->v, a->n, sizeof(*a->v), cmp_i64);
}

/* --- dirty lists --- */

void netmap_dirty_reset(struct netmap_dirty *d)
{
	if (d)
		d->n = 0;
}

void netmap_dirty_free(struct netmap_dirty *d)
{
	if (!d)
		return;
	free(d->ids);
	memset(d, 0, sizeof(*d));
}

static int dirty_add(struct netmap_dirty *d, int64_t id)
{
	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 16;
		int64_t *nv = realloc(d->ids, ncap * sizeof(*nv));

		if (!nv)
			return WEFT_ERR_NOMEM;
		d->ids = nv;
		d->cap = ncap;
	}
	d->ids[d->n++] = id;
	return 0;
}

/* Records that n's map changed at the current version. */
static int mark(struct netmap *nm, struct nnode *n)
{
	n->version = nm->v;
	if (!nm->presence_only)
		n->content_v = nm->v;
	if (n->dirty_epoch == nm->epoch)
		return 0;
	n->dirty_epoch = nm->epoch;
	return dirty_add(nm->dirty, n->rec.id);
}

int netmap_mark(struct netmap *nm, struct nnode *n)
{
	return mark(nm, n);
}

static int mark_filter(struct netmap *nm, struct nnode *n)
{
	n->filter_v = nm->v;
	return mark(nm, n);
}

/* --- node records --- */

static bool tags_eq(const struct nrec *a, const struct nrec *b)
{
	if (a->ntags != b->ntags)
		return false;
	for (size_t i = 0; i < a->ntags; i++)
		if (strcmp(a->tags[i], b->tags[i]) != 0)
			return false;
	return true;
}

static bool routes_eq(const struct nrec *a, const struct nrec *b)
{
	return a->nroutes == b->nroutes &&
	       (a->nroutes == 0 ||
		memcmp(a->routes, b->routes,
		       a->nroutes * sizeof(*a->routes)) == 0);
}

static bool routes_overlap(const struct nrec *rec, const struct ip_prefix *p)
{
	for (size_t i = 0; i < rec->nroutes; i++)
		if (ip_prefix_overlaps(&rec->routes[i], p))
			return true;
	return false;
}

/* --- rule membership --- */

/* Does n serve an address named by one of rule's dst selectors? */
static bool node_serves(const struct netmap *nm, const struct nnode *n,
			const struct policy_rule *rule)
{
	for (size_t k = 0; k < rule->ndst; k++) {
		const struct policy_sel *sel = &rule->dst[k];

		if (sel->kind == POLICY_SEL_PREFIX &&
		    routes_overlap(&n->rec, &sel->prefix))
			return true;
		if (sel->kind == POLICY_SEL_RESOURCE && sel->name) {
			const struct nres *r = netmap_res_find(nm, sel->name);

			if (r && netmap_res_served_by(&r->r, &n->rec))
				return true;
		}
	}
	return false;
}

static bool sels_match(const struct policy *p, const struct policy_sel *sels,
		       size_t n, const struct policy_ident *id)
{
	for (size_t k = 0; k < n; k++)
		if (policy_sel_matches(p, &sels[k], id))
			return true;
	return false;
}

/* Computes S, D and V of n into s, d, v (empty on entry). */
static int classify(const struct netmap *nm, const struct nnode *n,
		    struct ivec *s, struct ivec *d, struct ivec *v)
{
	struct policy_ident id;

	netmap_node_ident(n, &id);
	for (size_t r = 0; r < nm->nrules; r++) {
		const struct policy_rule *rule = policy_rule(nm->pol, r);

		if (sels_match(nm->pol, rule->src, rule->nsrc, &id) &&
		    ivec_push(s, (int64_t)r) < 0)
			return WEFT_ERR_NOMEM;
		if (sels_match(nm->pol, rule->dst, rule->ndst, &id) &&
		    ivec_push(d, (int64_t)r) < 0)
			return WEFT_ERR_NOMEM;
		if (node_serves(nm, n, rule) && ivec_push(v, (int64_t)r) < 0)
			return WEFT_ERR_NOMEM;
	}
	return 0;
}

/* Adds n to (add) or removes it from the member sets of its S, D, V. */
static int set_members(struct netmap *nm, struct nnode *n, bool add)
{
	struct {
		struct ivec *rules;
		size_t off;
	} sets[] = {
		{&n->S, offsetof(struct nrule, src)},
		{&n->D, offsetof(struct nrule, dst)},
		{&n->V, offsetof(struct nrule, srv)},
	};

	for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
		for (size_t i = 0; i < sets[k].rules->n; i++) {
			struct idmap *m = (struct idmap *)((char *)&nm->rules[
				sets[k].rules->v[i]] + sets[k].off);

			/* src(r) changes: r's source list is stale. */
			if (k == 0)
				rule_src_stale(nm, (size_t)sets[k].rules->v[i]);
			if (!add)
				idmap_del(m, n->rec.id);
			else if (idmap_put(m, n->rec.id, n) < 0)
				return WEFT_ERR_NOMEM;
		}
	}
	return 0;
}

/* Recomputes n's memberships; the previous S goes to old_s (caller frees). */
static int reclassify(struct netmap *nm, struct nnode *n, struct ivec *old_s)
{
	struct ivec s = {0}, d = {0}, v = {0};
	int rc;

	if ((rc = classify(nm, n, &s, &d, &v)) < 0)
		goto out;
	set_members(nm, n, false);
	ivec_free(&n->D);
	ivec_free(&n->V);
	*old_s = n->S;
	n->S = s;
	n->D = d;
	n->V = v;
	memset(&s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	memset(&v, 0, sizeof(v));
	rc = set_members(nm, n, true);
out:
	ivec_free(&s);
	ivec_free(&d);
	ivec_free(&v);
	return rc;
}

/* Marks the filter of every node enforcing rule r (it lists r's src). */
static int mark_rule_receivers(struct netmap *nm, size_t r)
{
	const struct idmap *sets[] = {&nm->rules[r].dst, &nm->rules[r].srv};

	for (size_t k = 0; k < 2; k++) {
		void *m;

		for (size_t pos = 0; idmap_next(sets[k], &pos, NULL, &m);)
			if (mark_filter(nm, m) < 0)
				return WEFT_ERR_NOMEM;
	}
	return 0;
}

/* --- peers --- */

static int collect_set(struct ivec *out, const struct idmap *m)
{
	int64_t id;

	for (size_t pos = 0; idmap_next(m, &pos, &id, NULL);)
		if (ivec_push(out, id) < 0)
			return WEFT_ERR_NOMEM;
	return 0;
}

/* The peers a node with n's memberships wants, n itself included when it
 * is on both ends of a rule, sorted. */
static int want_peers(const struct netmap *nm, const struct nnode *n,
		      struct ivec *out)
{
	int rc;

	for (size_t i = 0; i < n->S.n; i++) {
		const struct nrule *r = &nm->rules[n->S.v[i]];

		if ((rc = collect_set(out, &r->dst)) < 0 ||
		    (rc = collect_set(out, &r->srv)) < 0)
			return rc;
	}
	for (size_t i = 0; i < n->D.n; i++)
		if ((rc = collect_set(out, &nm->rules[n->D.v[i]].src)) < 0)
			return rc;
	for (size_t i = 0; i < n->V.n; i++)
		if ((rc = collect_set(out, &nm->rules[n->V.v[i]].src)) < 0)
			return rc;
	ivec_sort_unique(out);
	return 0;
}

/* The peers n should have under the current memberships, sorted. */
static int compute_peers(const struct netmap *nm, const struct nnode *n,
			 struct ivec *out)
{
	int rc;

	if ((rc = want_peers(nm, n, out)) < 0)
		return rc;
	/* A node is never its own peer. */
	for (size_t i = 0; i < out->n; i++) {
		if (out->v[i] == n->rec.id) {
			memmove(&out->v[i], &out->v[i + 1],
				(out->n - i - 1) * sizeof(*out->v));
			out->n--;
			break;
		}
	}
	return 0;
}

/* Notes in n's journal that the entry of peer id changed now. */
static int journal_add(struct netmap *nm, struct nnode *n, int64_t id)
{
	struct jent *e;

	if (!n->journal) {
		n->journal = calloc(NETMAP_JOURNAL, sizeof(*n->journal));
		if (!n->journal)
			return WEFT_ERR_NOMEM;
	}
	if (n->njournal) {
		e = &n->journal[(n->jhead + n->njournal - 1) % NETMAP_JOURNAL];
		if (e->v == nm->v && e->id == id)
			return 0;
	}
	if (n->njournal == NETMAP_JOURNAL) {
		n->jhorizon = n->journal[n->jhead].v;
		n->jhead = (n->jhead + 1) % NETMAP_JOURNAL;
		n->njournal--;
	}
	e = &n->journal[(n->jhead + n->njournal) % NETMAP_JOURNAL];
	e->v = nm->v;
	e->id = id;
	n->njournal++;
	return 0;
}

static int peer_add(struct netmap *nm, struct nnode *a, struct nnode *b)
{
	if (idmap_i64_get(&a->peers, b->rec.id))
		return 0;
	if (idmap_i64_put(&a->peers, b->rec.id, nm->v) < 0 ||
	    journal_add(nm, a, b->rec.id) < 0)
		return WEFT_ERR_NOMEM;
	return mark(nm, a);
}

static int tomb_push(struct netmap *nm, struct nnode *n, int64_t id)
{
	size_t slot;

	if (nm->tomb_cap == 0) {
		n->horizon = nm->v;
		return 0;
	}
	if (!n->tombs) {
		n->tombs = calloc(nm->tomb_cap, sizeof(*n->tombs));
		if (!n->tombs)
			return WEFT_ERR_NOMEM;
	}
	if (n->ntombs == nm->tomb_cap) {
		n->horizon = n->tombs[n->tomb_head].removed_at;
		n->tomb_head = (n->tomb_head + 1) % nm->tomb_cap;
		n->ntombs--;
	}
	slot = (n->tomb_head + n->ntombs) % nm->tomb_cap;
	n->tombs[slot].id = id;
	n->tombs[slot].removed_at = nm->v;
	n->ntombs++;
	return 0;
}

static int peer_remove(struct netmap *nm, struct nnode *a, int64_t id)
{
	int rc;

	if (!idmap_i64_del(&a->peers, id))
		return 0;
	if ((rc = tomb_push(nm, a, id)) < 0)
		return rc;
	return mark(nm, a);
}

/* Brings n's peer set in line with the memberships, on both ends of every
 * pair that changed. */
static int refresh_peers(struct netmap *nm, struct nnode *n)
{
	struct ivec want = {0}, gone = {0};
	int64_t id;
	int rc;

	if ((rc = compute_peers(nm, n, &want)) < 0)
		goto out;
	for (size_t i = 0; i < want.n; i++) {
		struct nnode *m = node_get(nm, want.v[i]);

		if (m && ((rc = peer_add(nm, n, m)) < 0 ||
			  (rc = peer_add(nm, m, n)) < 0))
			goto out;
	}
	for (size_t pos = 0; idmap_i64_next(&n->peers, &pos, &id, NULL);)
		if (!ivec_has(&want, id) && (rc = ivec_push(&gone, id)) < 0)
			goto out;
	for (size_t i = 0; i < gone.n; i++) {
		struct nnode *m = node_get(nm, gone.v[i]);

		if ((rc = peer_remove(nm, n, gone.v[i])) < 0)
			goto out;
		if (m && (rc = peer_remove(nm, m, n->rec.id)) < 0)
			goto out;
	}
out:
	ivec_free(&want);
	ivec_free(&gone);
	return rc;
}

/* Marks every current peer of n (n's entry in their maps changed). */
static int mark_peers(struct netmap *nm, const struct nnode *n)
{
	int64_t id;

	for (size_t pos = 0; idmap_i64_next(&n->peers, &pos, &id, NULL);) {
		struct nnode *m = node_get(nm, id);

		if (m && (journal_add(nm, m, n->rec.id) < 0 ||
			  mark(nm, m) < 0))
			return WEFT_ERR_NOMEM;
	}
	return 0;
}

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

static bool ivec_eq(const struct ivec *a, const struct ivec *b)
{
	return a->n == b->n &&
	       (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
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
	    !tags_eq(&a->rec, &b->rec))
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
		return set_members(nm, n, true);
	}
	rc = reclassify(nm, n, &old_s);
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
	if (want_peers(nm, n, &c->want) < 0 ||
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

/* --- lifecycle --- */

int netmap_new(const struct netmap_options *opt, struct netmap **out)
{
	struct netmap *nm;
	int rc = WEFT_ERR_NOMEM;

	if (!opt || !opt->dns_suffix || !opt->dns_suffix[0] ||
	    strlen(opt->dns_suffix) > 253 || !out)
		return WEFT_ERR_INVAL;
	nm = calloc(1, sizeof(*nm));
	if (!nm)
		return WEFT_ERR_NOMEM;
	nm->tomb_cap = opt->tombstones_per_node;
	nm->suffix = strdup(opt->dns_suffix);
	nm->stats = calloc(1, sizeof(*nm->stats));
	if (!nm->suffix || !nm->stats || policy_new_empty(&nm->pol) < 0 ||
	    netmap_fcache_new(&nm->fcache) < 0)
		goto out;
	*out = nm;
	nm = NULL;
	rc = 0;
out:
	netmap_del(nm);
	return rc;
}

static void node_free(struct nnode *n)
{
	if (!n)
		return;
	netmap_rec_free(&n->rec);
	ivec_free(&n->S);
	ivec_free(&n->D);
	ivec_free(&n->V);
	idmap_i64_free(&n->peers);
	free(n->tombs);
	free(n->journal);
	free(n);
}

static void rules_free(struct nrule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		idmap_free(&rules[i].src);
		idmap_free(&rules[i].dst);
		idmap_free(&rules[i].srv);
		srclist_unref(rules[i].srcl);
	}
	free(rules);
}

void netmap_del(struct netmap *nm)
{
	if (!nm)
		return;
	for (size_t i = 0; i < nm->nnodes; i++)
		node_free(nm->nodes[i]);
	free(nm->nodes);
	idmap_free(&nm->index);
	rules_free(nm->rules, nm->nrules);
	policy_free(nm->pol);
	free(nm->res);
	free(nm->relays);
	json_decref(nm->dns);
	netmap_fcache_free(nm->fcache);
	free(nm->suffix);
	free(nm->stats);
	free(nm);
}

/* Common entry of every change: checks and sets up the change context. */
int netmap_change_begin(struct netmap *nm, int64_t version,
			struct netmap_dirty *dirty)
{
	if (!nm || !dirty || version < nm->last_v)
		return WEFT_ERR_INVAL;
	if (nm->broken)
		return WEFT_ERR_INTERNAL;
	nm->v = version;
	nm->last_v = version;
	nm->epoch++;
	nm->presence_only = false;
	nm->dirty = dirty;
	return 0;
}

int netmap_change_end(struct netmap *nm, int rc)
{
	/* Validation failures return before anything changes; a failure
	 * past that point leaves the model half updated. */
	if (rc == WEFT_ERR_NOMEM)
		nm->broken = true;
	nm->dirty = NULL;
	return rc;
}

/* --- node changes --- */

static int node_insert(struct netmap *nm, struct nrec *rec, struct nnode **out)
{
	struct nnode *n;

	if (nm->nnodes == nm->capnodes) {
		size_t ncap = nm->capnodes ? nm->capnodes * 2 : 16;
		struct nnode **nv = realloc(nm->nodes, ncap * sizeof(*nv));

		if (!nv)
			return WEFT_ERR_NOMEM;
		nm->nodes = nv;
		nm->capnodes = ncap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return WEFT_ERR_NOMEM;
	if (idmap_put(&nm->index, rec->id, n) < 0) {
		free(n);
		return WEFT_ERR_NOMEM;
	}
	n->rec = *rec;
	memset(rec, 0, sizeof(*rec));
	n->index = nm->nnodes;
	nm->nodes[nm->nnodes++] = n;
	n->created_v = n->info_v = n->self_v = n->filter_v = nm->v;
	n->dns_v = n->relays_v = n->peers_v = n->version = nm->v;
	n->res_v = n->serves_v = n->content_v = nm->v;
	*out = n;
	return 0;
}

static int node_add(struct netmap *nm, struct nrec *rec)
{
	struct nnode *n;
	struct ivec none = {0};
	int rc;

	if ((rc = node_insert(nm, rec, &n)) < 0)
		return rc;
	if ((rc = reclassify(nm, n, &none)) < 0)
		goto out;
	for (size_t i = 0; i < n->S.n; i++)
		if ((rc = mark_rule_receivers(nm, (size_t)n->S.v[i])) < 0)
			goto out;
	if ((rc = mark(nm, n)) < 0)
		goto out;
	if ((rc = refresh_peers(nm, n)) < 0)
		goto out;
	rc = netmap_res_after(nm, n, &(struct res_before){0});
out:
	ivec_free(&none);
	return rc;
}

/* Marks the receivers of the rules in exactly one of a and b (sorted),
 * or of all rules in either when all is set. */
static int mark_rules_diff(struct netmap *nm, const struct ivec *a,
			   const struct ivec *b, bool all)
{
	size_t i = 0, j = 0;
	int rc;

	while (i < a->n || j < b->n) {
		int64_t r;
		bool both = false;

		if (j == b->n || (i < a->n && a->v[i] < b->v[j])) {
			r = a->v[i++];
		} else if (i == a->n || b->v[j] < a->v[i]) {
			r = b->v[j++];
		} else {
			r = a->v[i++];
			j++;
			both = true;
		}
		if ((!both || all) &&
		    (rc = mark_rule_receivers(nm, (size_t)r)) < 0)
			return rc;
	}
	return 0;
}

static int node_update(struct netmap *nm, struct nnode *n, struct nrec *rec)
{
	struct nrec *old = &n->rec;
	struct ivec old_s = {0};
	struct res_before rb;
	bool ident, addr, info, self, had_addr;
	int rc = 0;

	if ((rc = netmap_res_before(nm, n, &rb)) < 0)
		return rc;
	had_addr = old->has_v4 || old->has_v6;
	ident = strcmp(old->name, rec->name) != 0 ||
		strcmp(old->user, rec->user) != 0 || !tags_eq(old, rec) ||
		!routes_eq(old, rec);
	addr = strcmp(old->ipv4, rec->ipv4) != 0 ||
	       strcmp(old->ipv6, rec->ipv6) != 0;
	self = ident || addr;
	info = self || strcmp(old->public_key, rec->public_key) != 0 ||
	       !json_equal(old->endpoints, rec->endpoints) ||
	       strcmp(old->home_relay, rec->home_relay) != 0 ||
	       old->online != rec->online ||
	       old->last_seen != rec->last_seen;
	/* Only online or last_seen changed: the peers' maps change by that
	 * alone (the hub may answer such changes less eagerly). */
	nm->presence_only = info && !self &&
		strcmp(old->public_key, rec->public_key) == 0 &&
		json_equal(old->endpoints, rec->endpoints) &&
		strcmp(old->home_relay, rec->home_relay) == 0 &&
		/* A connector's flip changes its clients' "resources". */
		!netmap_res_flips(&rb, rec->online);
	/* Routes are not part of self, but changing only them is rare
	 * enough to resend it. */
	netmap_rec_free(&n->rec);
	n->rec = *rec;
	memset(rec, 0, sizeof(*rec));
	if (!info)
		goto out;
	if (ident) {
		if ((rc = reclassify(nm, n, &old_s)) < 0)
			goto out;
		/* Receivers of rules n joined or left lose or gain its
		 * addresses; with new addresses, all of them do. */
		if ((rc = mark_rules_diff(nm, &old_s, &n->S, addr)) < 0)
			goto out;
		/* What n may reach (allowed_ips, DNS, resources) may have
		 * changed. */
		n->peers_v = n->dns_v = n->res_v = nm->v;
		if ((rc = mark_filter(nm, n)) < 0 ||
		    (rc = refresh_peers(nm, n)) < 0)
			goto out;
	} else if (addr) {
		for (size_t i = 0; i < n->S.n; i++)
			rule_src_stale(nm, (size_t)n->S.v[i]);
		if ((rc = mark_rules_diff(nm, &n->S, &n->S, true)) < 0)
			goto out;
		/* n's own filter names its addresses as "self": it changes
		 * only when n gains its first or loses its last address
		 * (or lists itself as a sender, marked just now). */
		if (had_addr != (n->rec.has_v4 || n->rec.has_v6) &&
		    (rc = mark_filter(nm, n)) < 0)
			goto out;
	}
	if (self) {
		n->self_v = nm->v;
		if ((rc = mark(nm, n)) < 0)
			goto out;
	}
	n->info_v = nm->v;
	if ((rc = mark_peers(nm, n)) < 0)
		goto out;
	rc = netmap_res_after(nm, n, &rb);
out:
	netmap_res_before_free(&rb);
	ivec_free(&old_s);
	return rc;
}

int netmap_node_upsert(struct netmap *nm, int64_t version,
		       const struct netmap_node *n, struct netmap_dirty *dirty)
{
	struct nrec rec = {0};
	struct nnode *cur;
	int rc;

	if (!n)
		return WEFT_ERR_INVAL;
	if ((rc = netmap_rec_parse(n, &rec)) < 0)
		return rc;
	if ((rc = netmap_change_begin(nm, version, dirty)) < 0) {
		netmap_rec_free(&rec);
		return rc;
	}
	cur = node_get(nm, rec.id);
	rc = cur ? node_update(nm, cur, &rec) : node_add(nm, &rec);
	netmap_rec_free(&rec);
	return netmap_change_end(nm, rc);
}

int netmap_node_remove(struct netmap *nm, int64_t version, int64_t id,
		       struct netmap_dirty *dirty)
{
	struct nnode *n, *last;
	int64_t peer;
	int rc;

	if ((rc = netmap_change_begin(nm, version, dirty)) < 0)
		return rc;
	n = node_get(nm, id);
	if (!n)
		return netmap_change_end(nm, 0);
	/* The removed node is reported too: its held long-poll should learn
	 * that it is gone. */
	if ((rc = mark(nm, n)) < 0 || (rc = netmap_res_gone(nm, n)) < 0)
		goto out;
	for (size_t i = 0; i < n->S.n; i++)
		if ((rc = mark_rule_receivers(nm, (size_t)n->S.v[i])) < 0)
			goto out;
	set_members(nm, n, false);
	for (size_t pos = 0; idmap_i64_next(&n->peers, &pos, &peer, NULL);) {
		struct nnode *m = node_get(nm, peer);

		if (m && (rc = peer_remove(nm, m, id)) < 0)
			goto out;
	}
	/* Swap-remove from the node array; the index maps ids to nodes, so
	 * only the removed id leaves it. */
	last = nm->nodes[nm->nnodes - 1];
	nm->nodes[n->index] = last;
	last->index = n->index;
	idmap_del(&nm->index, id);
	nm->nnodes--;
	node_free(n);
out:
	return netmap_change_end(nm, rc);
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
		rules_free(rules, 0);
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
	rules_free(nm->rules, nm->nrules);
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
		if ((rc = refresh_peers(nm, nm->nodes[i])) < 0)
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
			rc = mark_filter(nm, n);
		if (!rc && !netmap_reach_eq(&r, &old[i].reach)) {
			n->peers_v = n->dns_v = n->res_v = nm->v;
			rc = mark(nm, n);
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
	rules_free(rules, 0);
	policy_free(p);
	idmap_free(&ids);
	classes_free(&oldcls);
	classes_free(&newcls);
	ivec_free(&special);
	return netmap_change_end(nm, rc);
}

/* --- resources --- */

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
			if (collect_set(&cand, &nm->rules[rules.v[i]].srv) < 0)
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

		rc = reclassify(nm, node_get(nm, cand.v[i]), &old_s);
		ivec_free(&old_s);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < cand.n; i++)
		if ((rc = refresh_peers(nm, node_get(nm, cand.v[i]))) < 0)
			goto out;
	for (size_t i = 0; i < cand.n; i++) {
		struct nnode *c = node_get(nm, cand.v[i]);
		struct fcomp f = {0};

		rc = netmap_filter_compile(nm, c, &f);
		if (rc == 0 && !netmap_filter_eq(&f, &before[i]))
			rc = mark_filter(nm, c);
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
				if ((rc = journal_add(nm, n, cand.v[c])) < 0)
					goto out;
			}
			if ((rc = mark(nm, n)) < 0)
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
		if ((rc = mark(nm, c)) < 0)
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

/* --- relays --- */

static int cmp_relay(const void *a, const void *b)
{
	int64_t x = ((const struct netmap_relay *)a)->id;
	int64_t y = ((const struct netmap_relay *)b)->id;

	return (x > y) - (x < y);
}

int netmap_relays_set(struct netmap *nm, int64_t version,
		      const struct netmap_relay *relays, size_t n,
		      struct netmap_dirty *dirty)
{
	struct netmap_relay *copy = NULL;
	int rc;

	if (n && !relays)
		return WEFT_ERR_INVAL;
	if ((rc = netmap_change_begin(nm, version, dirty)) < 0)
		return rc;
	if (n) {
		copy = malloc(n * sizeof(*copy));
		if (!copy) {
			nm->dirty = NULL;
			return WEFT_ERR_NOMEM;
		}
		memcpy(copy, relays, n * sizeof(*copy));
		qsort(copy, n, sizeof(*copy), cmp_relay);
	}
	free(nm->relays);
	nm->relays = copy;
	nm->nrelays = n;
	for (size_t i = 0; i < nm->nnodes; i++) {
		nm->nodes[i]->relays_v = version;
		if ((rc = mark(nm, nm->nodes[i])) < 0)
			break;
	}
	return netmap_change_end(nm, rc);
}

/* --- queries --- */

void netmap_stats(const struct netmap *nm, struct netmap_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (nm)
		*out = *nm->stats;
}

bool netmap_has_node(const struct netmap *nm, int64_t id)
{
	return nm && node_get(nm, id) != NULL;
}

int64_t netmap_node_version(const struct netmap *nm, int64_t id)
{
	const struct nnode *n = nm ? node_get(nm, id) : NULL;

	return n ? n->version : 0;
}

int64_t netmap_node_content_version(const struct netmap *nm, int64_t id)
{
	const struct nnode *n = nm ? node_get(nm, id) : NULL;

	return n ? n->content_v : 0;
}

int netmap_peers(const struct netmap *nm, int64_t id, int64_t **ids,
		 size_t *n)
{
	const struct nnode *node;
	struct ivec out = {0};

	if (!nm || !ids || !n)
		return WEFT_ERR_INVAL;
	if (!(node = node_get(nm, id)))
		return WEFT_ERR_NOTFOUND;
	if (netmap_collect_peers(&out, node) < 0) {
		ivec_free(&out);
		return WEFT_ERR_NOMEM;
	}
	ivec_sort_unique(&out);
	*ids = out.v;
	*n = out.n;
	return 0;
}

