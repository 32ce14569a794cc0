/* The network-map engine: the model and the changes to it. See netmap.h
 * for the model, netmap_model.h for the names used here, and
 * docs/internals/netmap.md for the data structures, costs and JSON;
 * filters and reach are computed in netmap_model.c, rendering lives in
 * netmap_render.c, a policy change in netmap_policy.c and a resource
 * change in netmap_res.c. This file holds the rule memberships and peer
 * sets they all maintain, and the node and relay changes.
 *
 * A change computes the new rule memberships first and then re-derives the
 * peer set of only the nodes whose memberships changed; adding or removing
 * a peer is always applied to both ends, so the peer relation stays
 * symmetric without touching anybody else. */
#include "controller/netmap_model.h"

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

int netmap_mark_filter(struct netmap *nm, struct nnode *n)
{
	n->filter_v = nm->v;
	return mark(nm, n);
}

/* --- node records --- */

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
int netmap_set_members(struct netmap *nm, struct nnode *n, bool add)
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
int netmap_reclassify(struct netmap *nm, struct nnode *n, struct ivec *old_s)
{
	struct ivec s = {0}, d = {0}, v = {0};
	int rc;

	if ((rc = classify(nm, n, &s, &d, &v)) < 0)
		goto out;
	netmap_set_members(nm, n, false);
	ivec_free(&n->D);
	ivec_free(&n->V);
	*old_s = n->S;
	n->S = s;
	n->D = d;
	n->V = v;
	memset(&s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	memset(&v, 0, sizeof(v));
	rc = netmap_set_members(nm, n, true);
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
			if (netmap_mark_filter(nm, m) < 0)
				return WEFT_ERR_NOMEM;
	}
	return 0;
}

/* --- peers --- */

int netmap_collect_set(struct ivec *out, const struct idmap *m)
{
	int64_t id;

	for (size_t pos = 0; idmap_next(m, &pos, &id, NULL);)
		if (ivec_push(out, id) < 0)
			return WEFT_ERR_NOMEM;
	return 0;
}

/* The peers a node with n's memberships wants, n itself included when it
 * is on both ends of a rule, sorted. */
int netmap_want_peers(const struct netmap *nm, const struct nnode *n,
		      struct ivec *out)
{
	int rc;

	for (size_t i = 0; i < n->S.n; i++) {
		const struct nrule *r = &nm->rules[n->S.v[i]];

		if ((rc = netmap_collect_set(out, &r->dst)) < 0 ||
		    (rc = netmap_collect_set(out, &r->srv)) < 0)
			return rc;
	}
	for (size_t i = 0; i < n->D.n; i++)
		if ((rc = netmap_collect_set(out,
					      &nm->rules[n->D.v[i]].src)) < 0)
			return rc;
	for (size_t i = 0; i < n->V.n; i++)
		if ((rc = netmap_collect_set(out,
					      &nm->rules[n->V.v[i]].src)) < 0)
			return rc;
	ivec_sort_unique(out);
	return 0;
}

/* The peers n should have under the current memberships, sorted. */
static int compute_peers(const struct netmap *nm, const struct nnode *n,
			 struct ivec *out)
{
	int rc;

	if ((rc = netmap_want_peers(nm, n, out)) < 0)
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
int netmap_journal_add(struct netmap *nm, struct nnode *n, int64_t id)
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
	    netmap_journal_add(nm, a, b->rec.id) < 0)
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
int netmap_refresh_peers(struct netmap *nm, struct nnode *n)
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

		if (m && (netmap_journal_add(nm, m, n->rec.id) < 0 ||
			  mark(nm, m) < 0))
			return WEFT_ERR_NOMEM;
	}
	return 0;
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

void netmap_rules_free(struct nrule *rules, size_t n)
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
	netmap_rules_free(nm->rules, nm->nrules);
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
	if ((rc = netmap_reclassify(nm, n, &none)) < 0)
		goto out;
	for (size_t i = 0; i < n->S.n; i++)
		if ((rc = mark_rule_receivers(nm, (size_t)n->S.v[i])) < 0)
			goto out;
	if ((rc = mark(nm, n)) < 0)
		goto out;
	if ((rc = netmap_refresh_peers(nm, n)) < 0)
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
		strcmp(old->user, rec->user) != 0 || !rec_tags_eq(old, rec) ||
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
		if ((rc = netmap_reclassify(nm, n, &old_s)) < 0)
			goto out;
		/* Receivers of rules n joined or left lose or gain its
		 * addresses; with new addresses, all of them do. */
		if ((rc = mark_rules_diff(nm, &old_s, &n->S, addr)) < 0)
			goto out;
		/* What n may reach (allowed_ips, DNS, resources) may have
		 * changed. */
		n->peers_v = n->dns_v = n->res_v = nm->v;
		if ((rc = netmap_mark_filter(nm, n)) < 0 ||
		    (rc = netmap_refresh_peers(nm, n)) < 0)
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
		    (rc = netmap_mark_filter(nm, n)) < 0)
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
	netmap_set_members(nm, n, false);
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

