/* Rendering of the network map: peer entries, filters, DNS data and relay
 * lists, full or as a delta since a version (see netmap.h and
 * docs/internals/netmap.md). Reads the model, never changes it. */
#include "controller/netmap_internal.h"

#include "shared/clock.h"

#include <stdio.h>

/* --- prefix helpers --- */

static json_t *pvec_json(const struct pvec *a)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < a->n; i++) {
		char buf[IP_PREFIX_STRLEN];

		if (ip_prefix_format(&a->v[i], buf, sizeof(buf)) < 0 ||
		    json_array_append_new(arr, json_string(buf)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static struct ip_prefix host_prefix(const struct ip_addr *a)
{
	struct ip_prefix p = {.addr = *a, .len = a->family == 4 ? 32 : 128};

	return p;
}

/* The smaller of two overlapping prefixes: their intersection. */
static struct ip_prefix prefix_inter(const struct ip_prefix *a,
				     const struct ip_prefix *b)
{
	struct ip_prefix p = a->len >= b->len ? *a : *b;

	ip_prefix_mask(&p);
	return p;
}

/* --- what a node may reach --- */

/* The addresses n may reach by rules (host/CIDR selectors) and the
 * resources it may reach, both from the dst of the rules in S(n). */
struct reach {
	struct pvec prefixes;
	const struct nres **res;
	size_t nres;
};

static void reach_free(struct reach *r)
{
	free(r->prefixes.v);
	free(r->res);
	memset(r, 0, sizeof(*r));
}

static int cmp_res_ptr(const void *a, const void *b)
{
	const struct nres *x = *(const struct nres *const *)a;
	const struct nres *y = *(const struct nres *const *)b;

	return strcmp(x->r.name, y->r.name);
}

static int reach_build(const struct netmap *nm, const struct nnode *n,
		       struct reach *out)
{
	struct reach r = {0};
	size_t cap = 0, w = 0;
	int rc = WEFT_ERR_NOMEM;

	for (size_t i = 0; i < n->S.n; i++) {
		const struct policy_rule *rule = policy_rule(nm->pol,
							     (size_t)n->S.v[i]);

		for (size_t k = 0; k < rule->ndst; k++) {
			const struct policy_sel *sel = &rule->dst[k];
			const struct nres *res;

			if (sel->kind == POLICY_SEL_PREFIX) {
				struct ip_prefix p = sel->prefix;

				ip_prefix_mask(&p);
				if (pvec_push(&r.prefixes, &p) < 0)
					goto out;
			}
			if (sel->kind != POLICY_SEL_RESOURCE || !sel->name ||
			    !(res = netmap_res_find(nm, sel->name)))
				continue;
			if (r.nres == cap) {
				size_t ncap = cap ? cap * 2 : 4;
				const struct nres **nv = realloc(r.res,
					ncap * sizeof(*nv));

				if (!nv)
					goto out;
				r.res = nv;
				cap = ncap;
			}
			r.res[r.nres++] = res;
		}
	}
	pvec_sort_unique(&r.prefixes);
	if (r.nres) {
		qsort(r.res, r.nres, sizeof(*r.res), cmp_res_ptr);
		for (size_t i = 1; i < r.nres; i++)
			if (r.res[i] != r.res[w])
				r.res[++w] = r.res[i];
		r.nres = w + 1;
	}
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = 0;
out:
	reach_free(&r);
	return rc;
}

char *netmap_reach_signature(const struct netmap *nm, const struct nnode *n)
{
	struct reach r;
	json_t *sig = NULL;
	char *s = NULL;

	if (reach_build(nm, n, &r) < 0)
		return NULL;
	sig = json_array();
	if (!sig || json_array_append_new(sig, pvec_json(&r.prefixes)) < 0)
		goto out;
	for (size_t i = 0; i < r.nres; i++)
		if (json_array_append_new(sig, json_pack("[ss]", r.res[i]->r.name,
					  r.res[i]->r.address)) < 0)
			goto out;
	s = json_dumps(sig, JSON_COMPACT);
out:
	json_decref(sig);
	reach_free(&r);
	return s;
}

/* --- rendering --- */

/* Map JSON follows the REST API's conventions (docs/api/README.md): empty
 * optional strings and zero timestamps are null, timestamps are RFC 3339
 * UTC text. */
static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *ts_or_null(int64_t t)
{
	char buf[CLOCK_RFC3339_LEN + 1];

	if (t == 0 || clock_format_rfc3339(t, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

static json_t *tags_json(const struct nrec *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < r->ntags; i++) {
		if (json_array_append_new(arr, json_string(r->tags[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static int own_prefixes(const struct nrec *r, struct pvec *out)
{
	struct ip_prefix p;

	if (r->has_v4) {
		p = host_prefix(&r->v4);
		if (pvec_push(out, &p) < 0)
			return WEFT_ERR_NOMEM;
	}
	if (r->has_v6) {
		p = host_prefix(&r->v6);
		if (pvec_push(out, &p) < 0)
			return WEFT_ERR_NOMEM;
	}
	return 0;
}

static json_t *render_self(const struct nnode *n)
{
	const struct nrec *r = &n->rec;

	return json_pack("{sI ss so so so so}", "id", (json_int_t)r->sn.id,
			 "name", r->sn.name, "ipv4", str_or_null(r->sn.ipv4),
			 "ipv6", str_or_null(r->sn.ipv6), "tags", tags_json(r),
			 "user", str_or_null(rec_user(r)));
}

/* m's entry in the map of a node whose reach is rc. allowed_ips: m's own
 * addresses, each approved route of m that overlaps an address the node
 * may reach, and the IP/CIDR resources m connects that the node may
 * reach. */
static json_t *render_peer(const struct netmap *nm, const struct reach *rc,
			   const struct nnode *m)
{
	const struct nrec *r = &m->rec;
	struct pvec allowed = {0};
	json_t *out = NULL;
	char dns[STORE_NAME_SIZE + 256];

	if (own_prefixes(r, &allowed) < 0)
		goto out;
	for (size_t i = 0; i < r->nroutes; i++) {
		for (size_t k = 0; k < rc->prefixes.n; k++) {
			if (ip_prefix_overlaps(&r->routes[i],
					       &rc->prefixes.v[k])) {
				if (pvec_push(&allowed, &r->routes[i]) < 0)
					goto out;
				break;
			}
		}
	}
	for (size_t i = 0; i < rc->nres; i++)
		if (rc->res[i]->is_prefix &&
		    netmap_res_served_by(&rc->res[i]->r, r) &&
		    pvec_push(&allowed, &rc->res[i]->prefix) < 0)
			goto out;
	pvec_sort_unique(&allowed);
	snprintf(dns, sizeof(dns), "%s.%s", r->sn.name, nm->suffix);
	out = json_pack("{sI ss ss ss so so so sO so sb so so so}",
			"id", (json_int_t)r->sn.id, "name", r->sn.name,
			"dns_name", dns, "public_key", r->sn.public_key,
			"ipv4", str_or_null(r->sn.ipv4),
			"ipv6", str_or_null(r->sn.ipv6),
			"allowed_ips", pvec_json(&allowed),
			"endpoints", r->endpoints,
			"home_relay", str_or_null(r->sn.home_relay),
			"online", r->sn.online != 0,
			"last_seen", ts_or_null(r->sn.last_seen),
			"tags", tags_json(r), "user", str_or_null(rec_user(r)));
out:
	free(allowed.v);
	return out;
}

/* One (prefix, port range) pair of a filter rule's dst. */
struct dent {
	struct ip_prefix p;
	uint16_t lo, hi;
};

struct dvec {
	struct dent *v;
	size_t n, cap;
};

static int dvec_add_ports(struct dvec *a, const struct ip_prefix *p,
			  const struct policy_sel *sel)
{
	size_t nports = sel->nports ? sel->nports : 1;

	for (size_t i = 0; i < nports; i++) {
		struct dent e = {.p = *p, .lo = 0, .hi = 65535};

		if (sel->nports) {
			e.lo = sel->ports[i].lo;
			e.hi = sel->ports[i].hi;
		}
		if (a->n == a->cap) {
			size_t ncap = a->cap ? a->cap * 2 : 8;
			struct dent *nv = realloc(a->v, ncap * sizeof(*nv));

			if (!nv)
				return WEFT_ERR_NOMEM;
			a->v = nv;
			a->cap = ncap;
		}
		a->v[a->n++] = e;
	}
	return 0;
}

static int dvec_add_all(struct dvec *a, const struct pvec *ps,
			const struct policy_sel *sel)
{
	for (size_t i = 0; i < ps->n; i++)
		if (dvec_add_ports(a, &ps->v[i], sel) < 0)
			return WEFT_ERR_NOMEM;
	return 0;
}

static int cmp_dent(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;
	int c = cmp_prefix(&x->p, &y->p);

	if (c)
		return c;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

/* Canonical ports text of the sorted ranges e[0..n): merged, "*" for all. */
static json_t *ports_json(const struct dent *e, size_t n)
{
	char *buf = malloc(n * 12 + 2);
	size_t len = 0, i = 0;
	json_t *out;

	if (!buf)
		return NULL;
	buf[0] = '\0';
	while (i < n) {
		unsigned lo = e[i].lo, hi = e[i].hi;

		for (i++; i < n && e[i].lo <= hi + 1; i++)
			if (e[i].hi > hi)
				hi = e[i].hi;
		if (lo == 0 && hi == 65535) {
			len = (size_t)sprintf(buf, "*");
			break;
		}
		len += (size_t)sprintf(buf + len, len ? ",%u" : "%u", lo);
		if (hi != lo)
			len += (size_t)sprintf(buf + len, "-%u", hi);
	}
	out = json_string(buf);
	free(buf);
	return out;
}

static json_t *dvec_json(struct dvec *a)
{
	json_t *arr = json_array();
	size_t i = 0;

	if (!arr)
		return NULL;
	qsort(a->v, a->n, sizeof(*a->v), cmp_dent);
	while (i < a->n) {
		size_t j = i;
		char buf[IP_PREFIX_STRLEN];

		while (j < a->n && cmp_prefix(&a->v[j].p, &a->v[i].p) == 0)
			j++;
		if (ip_prefix_format(&a->v[i].p, buf, sizeof(buf)) < 0 ||
		    json_array_append_new(arr, json_pack("{ss so}", "prefix",
				buf, "ports", ports_json(&a->v[i], j - i))) < 0) {
			json_decref(arr);
			return NULL;
		}
		i = j;
	}
	return arr;
}

/* The rule r as n enforces it, or NULL with *rc = 0 when it admits
 * nothing (no sender or no destination). */
static json_t *render_rule(const struct netmap *nm, const struct nnode *n,
			   size_t r, int *rc)
{
	const struct policy_rule *rule = policy_rule(nm->pol, r);
	const struct nrule *st = &nm->rules[r];
	struct pvec src = {0}, own = {0};
	struct dvec dst = {0};
	struct policy_ident id;
	json_t *out = NULL;
	void *m;

	*rc = WEFT_ERR_NOMEM;
	for (size_t pos = 0; idmap_next(&st->src, &pos, NULL, &m);)
		if (own_prefixes(&((const struct nnode *)m)->rec, &src) < 0)
			goto out;
	for (size_t k = 0; k < rule->nsrc; k++) {
		if (rule->src[k].kind == POLICY_SEL_PREFIX) {
			struct ip_prefix p = rule->src[k].prefix;

			ip_prefix_mask(&p);
			if (pvec_push(&src, &p) < 0)
				goto out;
		}
	}
	if (own_prefixes(&n->rec, &own) < 0)
		goto out;
	netmap_node_ident(n, &id);
	for (size_t k = 0; k < rule->ndst; k++) {
		const struct policy_sel *sel = &rule->dst[k];
		const struct nres *res;

		if (sel->kind == POLICY_SEL_PREFIX) {
			for (size_t i = 0; i < n->rec.nroutes; i++) {
				struct ip_prefix p;

				if (!ip_prefix_overlaps(&n->rec.routes[i],
							&sel->prefix))
					continue;
				p = prefix_inter(&n->rec.routes[i], &sel->prefix);
				if (dvec_add_ports(&dst, &p, sel) < 0)
					goto out;
			}
		} else if (sel->kind == POLICY_SEL_RESOURCE) {
			if (!sel->name ||
			    !(res = netmap_res_find(nm, sel->name)) ||
			    !netmap_res_served_by(&res->r, &n->rec))
				continue;
			/* A resource named by DNS is reached through the
			 * connector's own addresses (stream mode). */
			if (res->is_prefix ?
			    dvec_add_ports(&dst, &res->prefix, sel) < 0 :
			    dvec_add_all(&dst, &own, sel) < 0)
				goto out;
		} else if (policy_sel_matches(nm->pol, sel, &id)) {
			if (dvec_add_all(&dst, &own, sel) < 0)
				goto out;
		}
	}
	*rc = 0;
	if (src.n == 0 || dst.n == 0)
		goto out;
	pvec_sort_unique(&src);
	*rc = WEFT_ERR_NOMEM;
	out = json_pack("{ss so so}", "proto", policy_proto_name(rule->proto),
			"src", pvec_json(&src), "dst", dvec_json(&dst));
	if (out)
		*rc = 0;
out:
	free(src.v);
	free(own.v);
	free(dst.v);
	return out;
}

struct rendered {
	json_t *j;
	char *text;
};

static int cmp_rendered(const void *a, const void *b)
{
	return strcmp(((const struct rendered *)a)->text,
		      ((const struct rendered *)b)->text);
}

/* n's packet filter: the rules of D(n) ∪ V(n), sorted by their text and
 * without duplicates, so equal filters render equally. */
static json_t *render_filter(const struct netmap *nm, const struct nnode *n)
{
	struct ivec rules = {0};
	struct rendered *items = NULL;
	size_t nitems = 0;
	json_t *arr = NULL;
	int rc;

	for (size_t i = 0; i < n->D.n; i++)
		if (ivec_push(&rules, n->D.v[i]) < 0)
			goto out;
	for (size_t i = 0; i < n->V.n; i++)
		if (ivec_push(&rules, n->V.v[i]) < 0)
			goto out;
	ivec_sort_unique(&rules);
	if (rules.n && !(items = calloc(rules.n, sizeof(*items))))
		goto out;
	for (size_t i = 0; i < rules.n; i++) {
		json_t *j = render_rule(nm, n, (size_t)rules.v[i], &rc);

		if (rc < 0)
			goto out;
		if (!j)
			continue;
		items[nitems].j = j;
		items[nitems].text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		nitems++;
		if (!items[nitems - 1].text)
			goto out;
	}
	if (nitems)
		qsort(items, nitems, sizeof(*items), cmp_rendered);
	arr = json_array();
	for (size_t i = 0; arr && i < nitems; i++) {
		if (i && strcmp(items[i].text, items[i - 1].text) == 0)
			continue;
		if (json_array_append(arr, items[i].j) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
out:
	for (size_t i = 0; i < nitems; i++) {
		json_decref(items[i].j);
		free(items[i].text);
	}
	free(items);
	ivec_free(&rules);
	return arr;
}

char *netmap_filter_text(const struct netmap *nm, const struct nnode *n)
{
	json_t *f = render_filter(nm, n);
	char *s = f ? json_dumps(f, JSON_COMPACT) : NULL;

	json_decref(f);
	return s;
}

static json_t *render_dns(const struct netmap *nm, const struct reach *rc)
{
	json_t *res = json_array();

	for (size_t i = 0; res && i < rc->nres; i++) {
		if (json_array_append_new(res, json_pack("{ss ss}", "name",
				rc->res[i]->r.name, "address",
				rc->res[i]->r.address)) < 0) {
			json_decref(res);
			return NULL;
		}
	}
	return json_pack("{ss so}", "suffix", nm->suffix, "resources", res);
}

static json_t *render_relays(const struct netmap *nm)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < nm->nrelays; i++) {
		const struct store_relay *r = &nm->relays[i];

		if (json_array_append_new(arr, json_pack("{sI ss ss ss so}",
				"id", (json_int_t)r->id, "name", r->name,
				"region", r->region, "address", r->address,
				"public_key_pin",
				str_or_null(r->public_key_pin))) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

int netmap_render(const struct netmap *nm, int64_t id, int64_t since,
		  json_t **out)
{
	const struct nnode *n;
	struct reach rc = {0};
	struct ivec peers = {0}, gone = {0};
	json_t *map = NULL, *arr = NULL;
	bool full;
	int err = WEFT_ERR_NOMEM;

	if (!nm || !out)
		return WEFT_ERR_INVAL;
	if (nm->broken)
		return WEFT_ERR_INTERNAL;
	if (!(n = node_get(nm, id)))
		return WEFT_ERR_NOTFOUND;
	full = since <= 0 || since < n->horizon || since < n->created_v;
	if (reach_build(nm, n, &rc) < 0)
		goto out;
	map = json_pack("{sI sb}", "version", (json_int_t)n->version, "full",
			full);
	if (!map)
		goto out;
	if ((full || n->self_v > since) &&
	    json_object_set_new(map, "self", render_self(n)) < 0)
		goto out;
	if (netmap_collect_peers(&peers, n) < 0)
		goto out;
	ivec_sort_unique(&peers);
	arr = json_array();
	for (size_t i = 0; arr && i < peers.n; i++) {
		const struct nnode *m = node_get(nm, peers.v[i]);
		int64_t at = *idmap_i64_get(&n->peers, peers.v[i]);

		if (!m)
			continue;
		if (!full && at <= since && m->info_v <= since &&
		    n->peers_v <= since)
			continue;
		if (json_array_append_new(arr, render_peer(nm, &rc, m)) < 0)
			goto out;
	}
	if (!arr || ((full || json_array_size(arr)) &&
		     json_object_set(map, "peers", arr) < 0))
		goto out;
	if (!full) {
		for (size_t i = 0; i < n->ntombs; i++) {
			const struct tomb *t = &n->tombs[(n->tomb_head + i) %
							  nm->tomb_cap];

			if (t->removed_at > since &&
			    !idmap_i64_get(&n->peers, t->id) &&
			    ivec_push(&gone, t->id) < 0)
				goto out;
		}
		ivec_sort_unique(&gone);
		if (gone.n) {
			json_t *ids = json_array();

			for (size_t i = 0; ids && i < gone.n; i++)
				if (json_array_append_new(ids,
					json_integer(gone.v[i])) < 0) {
					json_decref(ids);
					ids = NULL;
				}
			if (json_object_set_new(map, "peers_removed", ids) < 0)
				goto out;
		}
	}
	if ((full || n->filter_v > since) &&
	    json_object_set_new(map, "filter", render_filter(nm, n)) < 0)
		goto out;
	if ((full || n->dns_v > since) &&
	    json_object_set_new(map, "dns", render_dns(nm, &rc)) < 0)
		goto out;
	if ((full || n->relays_v > since) &&
	    json_object_set_new(map, "relays", render_relays(nm)) < 0)
		goto out;
	*out = map;
	map = NULL;
	err = 0;
out:
	json_decref(map);
	json_decref(arr);
	ivec_free(&peers);
	ivec_free(&gone);
	reach_free(&rc);
	return err;
}
