/* Rendering of the network map: peer entries, filters, DNS data and relay
 * lists, full or as a delta since a version (see netmap.h and
 * docs/internals/netmap.md). Reads the model, never changes it. */
#include "controller/netmap_internal.h"

#include "shared/clock.h"

#include <stdio.h>
#include <string.h>

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

void netmap_reach_free(struct reach *r)
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

int netmap_reach_build(const struct netmap *nm, const struct nnode *n,
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
	netmap_reach_free(&r);
	return rc;
}

bool netmap_reach_eq(const struct reach *a, const struct reach *b)
{
	if (a->prefixes.n != b->prefixes.n || a->nres != b->nres)
		return false;
	for (size_t i = 0; i < a->prefixes.n; i++)
		if (cmp_prefix(&a->prefixes.v[i], &b->prefixes.v[i]) != 0)
			return false;
	for (size_t i = 0; i < a->nres; i++)
		if (a->res[i] != b->res[i])
			return false;
	return true;
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

/* --- filters --- */

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

/* Sorts a and merges the overlapping or adjacent port ranges of each
 * prefix, as the ports text does: equal canonical lists, equal texts. */
static void dvec_canon(struct dvec *a)
{
	size_t w = 0;

	if (a->n == 0)
		return;
	qsort(a->v, a->n, sizeof(*a->v), cmp_dent);
	for (size_t i = 1; i < a->n; i++) {
		struct dent *last = &a->v[w];

		if (cmp_prefix(&a->v[i].p, &last->p) == 0 &&
		    (unsigned)a->v[i].lo <= (unsigned)last->hi + 1) {
			if (a->v[i].hi > last->hi)
				last->hi = a->v[i].hi;
		} else {
			a->v[++w] = a->v[i];
		}
	}
	a->n = w + 1;
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

/* The dst list of a canonical (sorted) item. */
static json_t *dst_json(const struct dent *v, size_t n)
{
	json_t *arr = json_array();
	size_t i = 0;

	if (!arr)
		return NULL;
	while (i < n) {
		size_t j = i;
		char buf[IP_PREFIX_STRLEN];

		while (j < n && cmp_prefix(&v[j].p, &v[i].p) == 0)
			j++;
		if (ip_prefix_format(&v[i].p, buf, sizeof(buf)) < 0 ||
		    json_array_append_new(arr, json_pack("{ss so}", "prefix",
				buf, "ports", ports_json(&v[i], j - i))) < 0) {
			json_decref(arr);
			return NULL;
		}
		i = j;
	}
	return arr;
}

/* Rule r's source list, built when stale. NULL when out of memory. */
static struct srclist *rule_src(const struct netmap *nm, size_t r)
{
	const struct policy_rule *rule = policy_rule(nm->pol, r);
	struct nrule *st = &nm->rules[r];
	struct srclist *l;
	size_t len = 3;
	char *t;
	void *m;

	if (st->srcl)
		return st->srcl;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->refs = 1;
	for (size_t pos = 0; idmap_next(&st->src, &pos, NULL, &m);)
		if (own_prefixes(&((const struct nnode *)m)->rec,
				 &l->prefixes) < 0)
			goto fail;
	for (size_t k = 0; k < rule->nsrc; k++) {
		if (rule->src[k].kind == POLICY_SEL_PREFIX) {
			struct ip_prefix p = rule->src[k].prefix;

			ip_prefix_mask(&p);
			if (pvec_push(&l->prefixes, &p) < 0)
				goto fail;
		}
	}
	pvec_sort_unique(&l->prefixes);
	if (l->prefixes.n &&
	    !(l->strs = malloc(l->prefixes.n * sizeof(*l->strs))))
		goto fail;
	for (size_t i = 0; i < l->prefixes.n; i++) {
		if (ip_prefix_format(&l->prefixes.v[i], l->strs[i],
				     sizeof(l->strs[i])) < 0)
			goto fail;
		len += strlen(l->strs[i]) + 3;
	}
	/* Prefix texts need no JSON escaping. */
	t = l->text = malloc(len);
	if (!t)
		goto fail;
	*t++ = '[';
	for (size_t i = 0; i < l->prefixes.n; i++)
		t += sprintf(t, "%s\"%s\"", i ? "," : "", l->strs[i]);
	strcpy(t, "]");
	st->srcl = l;
	nm->stats->src_builds++;
	return l;
fail:
	srclist_unref(l);
	return NULL;
}

static int cmp_src(const struct srclist *a, const struct srclist *b)
{
	if (a == b)
		return 0;
	if (a->prefixes.n != b->prefixes.n)
		return a->prefixes.n < b->prefixes.n ? -1 : 1;
	return strcmp(a->text, b->text);
}

static int cmp_fitem(const void *pa, const void *pb)
{
	const struct fitem *a = pa, *b = pb;
	int c;

	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if ((c = cmp_src(a->src, b->src)))
		return c;
	if (a->ndst != b->ndst)
		return a->ndst < b->ndst ? -1 : 1;
	for (size_t i = 0; i < a->ndst; i++)
		if ((c = cmp_dent(&a->dst[i], &b->dst[i])))
			return c;
	return 0;
}

void netmap_filter_free(struct fcomp *f)
{
	for (size_t i = 0; i < f->n; i++) {
		srclist_unref((struct srclist *)f->v[i].src);
		free(f->v[i].dst);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

bool netmap_filter_eq(const struct fcomp *a, const struct fcomp *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (cmp_fitem(&a->v[i], &b->v[i]) != 0)
			return false;
	return true;
}

/* The dst of rule r as n enforces it, canonical, into dst. */
static int rule_dst(const struct netmap *nm, const struct nnode *n, size_t r,
		    const struct pvec *own, struct dvec *dst)
{
	const struct policy_rule *rule = policy_rule(nm->pol, r);
	struct policy_ident id;

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
				if (dvec_add_ports(dst, &p, sel) < 0)
					return WEFT_ERR_NOMEM;
			}
		} else if (sel->kind == POLICY_SEL_RESOURCE) {
			if (!sel->name ||
			    !(res = netmap_res_find(nm, sel->name)) ||
			    !netmap_res_served_by(&res->r, &n->rec))
				continue;
			/* A resource named by DNS is reached through the
			 * connector's own addresses (stream mode). */
			if (res->is_prefix ?
			    dvec_add_ports(dst, &res->prefix, sel) < 0 :
			    dvec_add_all(dst, own, sel) < 0)
				return WEFT_ERR_NOMEM;
		} else if (policy_sel_matches(nm->pol, sel, &id)) {
			if (dvec_add_all(dst, own, sel) < 0)
				return WEFT_ERR_NOMEM;
		}
	}
	dvec_canon(dst);
	return 0;
}

/* n's filter: one item per rule of D(n) ∪ V(n) that admits something (a
 * sender and a destination). */
int netmap_filter_compile(const struct netmap *nm, const struct nnode *n,
			  struct fcomp *out)
{
	struct ivec rules = {0};
	struct pvec own = {0};
	struct fcomp f = {0};
	size_t w = 0;
	int rc = WEFT_ERR_NOMEM;

	for (size_t i = 0; i < n->D.n; i++)
		if (ivec_push(&rules, n->D.v[i]) < 0)
			goto out;
	for (size_t i = 0; i < n->V.n; i++)
		if (ivec_push(&rules, n->V.v[i]) < 0)
			goto out;
	ivec_sort_unique(&rules);
	if (own_prefixes(&n->rec, &own) < 0)
		goto out;
	if (rules.n && !(f.v = calloc(rules.n, sizeof(*f.v))))
		goto out;
	for (size_t i = 0; i < rules.n; i++) {
		size_t r = (size_t)rules.v[i];
		struct dvec dst = {0};
		struct srclist *src;

		if (rule_dst(nm, n, r, &own, &dst) < 0) {
			free(dst.v);
			goto out;
		}
		if (dst.n == 0)
			continue;
		if (!(src = rule_src(nm, r))) {
			free(dst.v);
			goto out;
		}
		if (src->prefixes.n == 0) {
			free(dst.v);
			continue;
		}
		src->refs++;
		f.v[f.n].proto = policy_rule(nm->pol, r)->proto;
		f.v[f.n].src = src;
		f.v[f.n].dst = dst.v;
		f.v[f.n].ndst = dst.n;
		f.n++;
	}
	if (f.n) {
		qsort(f.v, f.n, sizeof(*f.v), cmp_fitem);
		for (size_t i = 1; i < f.n; i++) {
			if (cmp_fitem(&f.v[i], &f.v[w]) == 0) {
				srclist_unref((struct srclist *)f.v[i].src);
				free(f.v[i].dst);
			} else {
				f.v[++w] = f.v[i];
			}
		}
		f.n = w + 1;
	}
	*out = f;
	memset(&f, 0, sizeof(f));
	rc = 0;
out:
	netmap_filter_free(&f);
	ivec_free(&rules);
	free(own.v);
	return rc;
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

/* One filter entry and its text as json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) would write it, built from the source list's cached
 * text rather than by dumping hundreds of prefixes again. */
static int render_item(const struct fitem *it, struct rendered *out)
{
	json_t *src = json_array(), *dst = dst_json(it->dst, it->ndst);
	const char *proto = policy_proto_name(it->proto);
	char *dtext = NULL;
	int rc = WEFT_ERR_NOMEM;

	for (size_t i = 0; src && i < it->src->prefixes.n; i++)
		if (json_array_append_new(src, json_string_nocheck(
				it->src->strs[i])) < 0)
			goto out;
	if (!src || !dst || !(dtext = json_dumps(dst, JSON_COMPACT |
						 JSON_SORT_KEYS)))
		goto out;
	/* Protocol names are plain lower-case words. */
	if (asprintf(&out->text, "{\"dst\":%s,\"proto\":\"%s\",\"src\":%s}",
		     dtext, proto, it->src->text) < 0) {
		out->text = NULL;
		goto out;
	}
	out->j = json_pack("{ss sO sO}", "proto", proto, "src", src, "dst", dst);
	if (!out->j) {
		free(out->text);
		out->text = NULL;
		goto out;
	}
	rc = 0;
out:
	free(dtext);
	json_decref(src);
	json_decref(dst);
	return rc;
}

/* n's packet filter: the rules of D(n) ∪ V(n), sorted by their text and
 * without duplicates, so equal filters render equally. */
static json_t *render_filter(const struct netmap *nm, const struct nnode *n)
{
	struct fcomp f = {0};
	struct rendered *items = NULL;
	size_t nitems = 0;
	json_t *arr = NULL;

	if (netmap_filter_compile(nm, n, &f) < 0)
		goto out;
	if (f.n && !(items = calloc(f.n, sizeof(*items))))
		goto out;
	for (size_t i = 0; i < f.n; i++) {
		if (render_item(&f.v[i], &items[nitems]) < 0)
			goto out;
		nitems++;
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
	netmap_filter_free(&f);
	return arr;
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
	if (netmap_reach_build(nm, n, &rc) < 0)
		goto out;
	map = json_pack("{sI sb}", "version", (json_int_t)n->version, "full",
			full);
	if (!map)
		goto out;
	if ((full || n->self_v > since) &&
	    json_object_set_new(map, "self", render_self(n)) < 0)
		goto out;
	if (!full && n->peers_v <= since && since >= n->jhorizon) {
		/* The journal reaches back to since: the peers whose entry
		 * changed after it are all in there, and only they are. */
		for (size_t i = 0; i < n->njournal; i++) {
			const struct jent *e = &n->journal[(n->jhead + i) %
							   NETMAP_JOURNAL];

			if (e->v > since && ivec_push(&peers, e->id) < 0)
				goto out;
		}
	} else if (netmap_collect_peers(&peers, n) < 0) {
		goto out;
	}
	ivec_sort_unique(&peers);
	arr = json_array();
	for (size_t i = 0; arr && i < peers.n; i++) {
		const struct nnode *m = node_get(nm, peers.v[i]);
		const int64_t *atp = idmap_i64_get(&n->peers, peers.v[i]);
		int64_t at;

		nm->stats->peer_visits++;
		/* A journaled peer may be gone since. */
		if (!m || !atp)
			continue;
		at = *atp;
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
	netmap_reach_free(&rc);
	return err;
}
