/* The engine's model computations: records parsed from the input types,
 * policy identities, rule source lists, compiled filters and what a node
 * may reach, and their comparisons. Reads the model, never changes it
 * (except the rules' source-list caches and the counters); see
 * netmap_model.h and docs/internals/netmap.md. */
#include "controller/netmap_model.h"

#include <stdio.h>

/* --- node records --- */

void netmap_rec_free(struct nrec *r)
{
	for (size_t i = 0; i < r->ntags; i++)
		free(r->tags[i]);
	free(r->tags);
	free(r->routes);
	json_decref(r->endpoints);
	memset(r, 0, sizeof(*r));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_tags(const char *text, struct nrec *r)
{
	json_t *arr = NULL;
	size_t n, w = 0;
	int rc = WEFT_ERR_INVAL;

	if (text[0] == '\0')
		return 0;
	arr = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (!arr || !json_is_array(arr))
		goto out;
	n = json_array_size(arr);
	if (n == 0) {
		rc = 0;
		goto out;
	}
	r->tags = calloc(n, sizeof(*r->tags));
	if (!r->tags) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		if (!s || !s[0])
			goto out;
		r->tags[r->ntags] = strdup(s);
		if (!r->tags[r->ntags]) {
			rc = WEFT_ERR_NOMEM;
			goto out;
		}
		r->ntags++;
	}
	qsort(r->tags, r->ntags, sizeof(*r->tags), cmp_str);
	for (size_t i = 1; i < r->ntags; i++) {
		if (strcmp(r->tags[i], r->tags[w]) != 0)
			r->tags[++w] = r->tags[i];
		else
			free(r->tags[i]);
	}
	r->ntags = w + 1;
	rc = 0;
out:
	json_decref(arr);
	return rc;
}

static int parse_addr(const char *text, int family, struct ip_addr *a,
		      bool *has)
{
	if (text[0] == '\0') {
		*has = false;
		return 0;
	}
	if (ip_addr_parse(text, a) < 0 || a->family != family)
		return WEFT_ERR_INVAL;
	*has = true;
	return 0;
}

/* Is the text field f NUL-terminated within its size? */
#define FIELD_OK(f) (memchr((f), '\0', sizeof(f)) != NULL)

/* Validation happens here, before any state changes. */
int netmap_rec_parse(const struct netmap_node *in, struct nrec *out)
{
	const struct netmap_node_info *ni = &in->node;
	struct nrec r = {0};
	struct pvec routes = {0};
	int rc = WEFT_ERR_INVAL;

	if (ni->id <= 0 || !FIELD_OK(ni->name) || !ni->name[0] ||
	    !FIELD_OK(in->user) || !FIELD_OK(ni->public_key) ||
	    !FIELD_OK(ni->ipv4) || !FIELD_OK(ni->ipv6) ||
	    !FIELD_OK(ni->tags) || !FIELD_OK(ni->endpoints) ||
	    !FIELD_OK(ni->home_relay) ||
	    (in->napproved && !in->approved_routes))
		return WEFT_ERR_INVAL;
	r.id = ni->id;
	memcpy(r.name, ni->name, sizeof(r.name));
	memcpy(r.user, in->user, sizeof(r.user));
	memcpy(r.public_key, ni->public_key, sizeof(r.public_key));
	memcpy(r.ipv4, ni->ipv4, sizeof(r.ipv4));
	memcpy(r.ipv6, ni->ipv6, sizeof(r.ipv6));
	memcpy(r.home_relay, ni->home_relay, sizeof(r.home_relay));
	r.last_seen = ni->last_seen;
	r.online = ni->online != 0;
	if (parse_addr(r.ipv4, 4, &r.v4, &r.has_v4) < 0 ||
	    parse_addr(r.ipv6, 6, &r.v6, &r.has_v6) < 0)
		goto out;
	if ((rc = parse_tags(ni->tags, &r)) < 0)
		goto out;
	rc = WEFT_ERR_INVAL;
	r.endpoints = ni->endpoints[0] ?
		json_loads(ni->endpoints, 0, NULL) : json_array();
	if (!r.endpoints || !json_is_array(r.endpoints))
		goto out;
	for (size_t i = 0; i < in->napproved; i++) {
		struct ip_prefix p;

		if (!in->approved_routes[i] ||
		    ip_prefix_parse(in->approved_routes[i], &p,
				    IP_PREFIX_BARE_ADDR) < 0)
			goto out;
		ip_prefix_mask(&p);
		if (pvec_push(&routes, &p) < 0) {
			rc = WEFT_ERR_NOMEM;
			goto out;
		}
	}
	pvec_sort_unique(&routes);
	r.routes = routes.v;
	r.nroutes = routes.n;
	routes.v = NULL;
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = 0;
out:
	free(routes.v);
	netmap_rec_free(&r);
	return rc;
}

bool netmap_rec_has_tag(const struct nrec *r, const char *tag)
{
	return r->ntags && bsearch(&tag, r->tags, r->ntags, sizeof(*r->tags),
				   cmp_str);
}

void netmap_node_ident(const struct nnode *n, struct policy_ident *id)
{
	id->node_name = n->rec.name;
	id->user = rec_user(&n->rec);
	id->tags = (const char *const *)n->rec.tags;
	id->ntags = n->rec.ntags;
}

/* --- policy identities and resources --- */

int netmap_collect_peers(struct ivec *out, const struct nnode *n)
{
	int64_t id;

	for (size_t pos = 0; idmap_i64_next(&n->peers, &pos, &id, NULL);)
		if (ivec_push(out, id) < 0)
			return WEFT_ERR_NOMEM;
	return 0;
}

/* --- prefixes --- */

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
	for (size_t i = 0; r->eff && i < r->nres; i++)
		netmap_eff_free(&r->eff[i]);
	free(r->prefixes.v);
	free(r->res);
	free(r->eff);
	memset(r, 0, sizeof(*r));
}

static int cmp_res_ptr(const void *a, const void *b)
{
	const struct nres *x = *(const struct nres *const *)a;
	const struct nres *y = *(const struct nres *const *)b;

	return strcmp(x->r.name, y->r.name);
}

static int cmp_res_key(const void *key, const void *elem)
{
	const struct nres *x = key;
	const struct nres *y = *(const struct nres *const *)elem;

	return strcmp(x->r.name, y->r.name);
}

/* r->eff: for each resource of r (sorted by name), what the rules of
 * S(n) naming it give n. On failure frees what it made. */
static int reach_eff(const struct netmap *nm, const struct nnode *n,
		     struct reach *r)
{
	size_t w = 0;

	r->eff = calloc(r->nres, sizeof(*r->eff));
	if (!r->eff)
		return WEFT_ERR_NOMEM;
	for (size_t i = 0; i < n->S.n; i++) {
		const struct policy_rule *rule = policy_rule(nm->pol,
							     (size_t)n->S.v[i]);

		for (size_t k = 0; k < rule->ndst; k++) {
			const struct policy_sel *sel = &rule->dst[k];
			const struct nres *res, **at;

			if (sel->kind != POLICY_SEL_RESOURCE || !sel->name ||
			    !(res = netmap_res_find(nm, sel->name)))
				continue;
			at = bsearch(res, r->res, r->nres, sizeof(*r->res),
				     cmp_res_key);
			if (at && netmap_eff_add(&r->eff[at - r->res], res,
						 rule, sel) < 0)
				goto fail;
		}
	}
	/* A resource the rules give nothing (its filters changed after the
	 * policy was saved) is not reachable: leave it out. */
	for (size_t i = 0; i < r->nres; i++) {
		netmap_eff_canon(&r->eff[i]);
		if (!r->eff[i].all && !r->eff[i].icmp && !r->eff[i].ntcp &&
		    !r->eff[i].nudp) {
			netmap_eff_free(&r->eff[i]);
			continue;
		}
		r->res[w] = r->res[i];
		r->eff[w++] = r->eff[i];
	}
	r->nres = w;
	return 0;
fail:
	for (size_t i = 0; i < r->nres; i++)
		netmap_eff_free(&r->eff[i]);
	free(r->eff);
	r->eff = NULL;
	return WEFT_ERR_NOMEM;
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
		if (reach_eff(nm, n, &r) < 0) {
			r.nres = 0; /* reach_eff freed what it made */
			goto out;
		}
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
		if (a->res[i] != b->res[i] ||
		    !netmap_eff_eq(&a->eff[i], &b->eff[i]))
			return false;
	return true;
}

int netmap_own_prefixes(const struct nrec *r, struct pvec *out)
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

/* Adds sel's ports on the receiver's own addresses ("self"), when it has
 * any (a node without addresses admits nothing there). */
static int dvec_add_self(struct dvec *a, const struct nrec *rec,
			 const struct policy_sel *sel)
{
	static const struct ip_prefix self = {0};

	if (!rec->has_v4 && !rec->has_v6)
		return 0;
	return dvec_add_ports(a, &self, sel);
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
		if (netmap_own_prefixes(&((const struct nnode *)m)->rec,
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
	l->hash = fnv_add(FNV_INIT, l->text, (size_t)(t + 1 - l->text));
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

uint64_t netmap_filter_hash(const struct fcomp *f)
{
	uint64_t h = FNV_INIT;

	for (size_t i = 0; i < f->n; i++) {
		const struct fitem *it = &f->v[i];
		uint32_t proto = (uint32_t)it->proto;

		h = fnv_add(h, &proto, sizeof(proto));
		h = fnv_add(h, &it->src->hash, sizeof(it->src->hash));
		for (size_t k = 0; k < it->ndst; k++) {
			const struct dent *d = &it->dst[k];

			/* The bytes cmp_dent compares, nothing else. */
			h = fnv_add(h, &d->p.addr.family, 1);
			h = fnv_add(h, d->p.addr.b,
				    d->p.addr.family == 4 ? 4 : 16);
			h = fnv_add(h, &d->p.len, 1);
			h = fnv_add(h, &d->lo, sizeof(d->lo));
			h = fnv_add(h, &d->hi, sizeof(d->hi));
		}
	}
	return h;
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

/* A resource's grants into the dst buckets of one rule (policy_narrow's
 * callback): one entry per routing prefix of the resource. */
struct bucket_ctx {
	struct dvec *dst; /* [POLICY_ICMP + 1], by protocol */
	const struct nres *res;
};

static int bucket_grant(void *ctx, enum policy_proto proto, uint16_t lo,
			uint16_t hi)
{
	struct bucket_ctx *b = ctx;
	struct policy_ports port = {lo, hi};
	struct policy_sel one = {.ports = &port, .nports = 1};

	for (size_t i = 0; i < b->res->nprefixes; i++)
		if (dvec_add_ports(&b->dst[proto], &b->res->prefixes[i],
				   &one) < 0)
			return WEFT_ERR_NOMEM;
	return 0;
}

/* The dst of rule r as n enforces it, canonical, into dst[proto]: the
 * rule's protocol, except that a resource's filters may narrow it to
 * other (more specific) protocols. n's own addresses are "self", never
 * n's /32 and /128: the agent knows them. */
static int rule_dst(const struct netmap *nm, const struct nnode *n, size_t r,
		    struct dvec dst[POLICY_ICMP + 1])
{
	const struct policy_rule *rule = policy_rule(nm->pol, r);
	struct dvec *own = &dst[rule->proto];
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
				if (dvec_add_ports(own, &p, sel) < 0)
					return WEFT_ERR_NOMEM;
			}
		} else if (sel->kind == POLICY_SEL_RESOURCE) {
			struct bucket_ctx b;

			if (!sel->name ||
			    !(res = netmap_res_find(nm, sel->name)) ||
			    !netmap_res_served_by(&res->r, &n->rec))
				continue;
			/* The connector admits the resource's prefixes
			 * (mapped ones for DNS names), narrowed by its
			 * filters. */
			b.dst = dst;
			b.res = res;
			if (policy_narrow(rule->proto, sel->ports, sel->nports,
					  res->r.filters, res->r.nfilters,
					  bucket_grant, &b) < 0)
				return WEFT_ERR_NOMEM;
		} else if (policy_sel_matches(nm->pol, sel, &id)) {
			if (dvec_add_self(own, &n->rec, sel) < 0)
				return WEFT_ERR_NOMEM;
		}
	}
	for (size_t p = 0; p <= POLICY_ICMP; p++)
		dvec_canon(&dst[p]);
	return 0;
}

/* n's filter: one item per rule of D(n) ∪ V(n) that admits something (a
 * sender and a destination). */
int netmap_filter_compile(const struct netmap *nm, const struct nnode *n,
			  struct fcomp *out)
{
	struct ivec rules = {0};
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
	/* One item per (rule, protocol): a rule's own protocol, plus the
	 * ones resource filters narrow it to. */
	if (rules.n &&
	    !(f.v = calloc(rules.n * (POLICY_ICMP + 1), sizeof(*f.v))))
		goto out;
	for (size_t i = 0; i < rules.n; i++) {
		size_t r = (size_t)rules.v[i];
		struct dvec dst[POLICY_ICMP + 1];
		struct srclist *src = NULL;

		memset(dst, 0, sizeof(dst));
		if (rule_dst(nm, n, r, dst) < 0)
			goto next_fail;
		for (size_t p = 0; p <= POLICY_ICMP; p++) {
			if (dst[p].n == 0)
				continue;
			if (!src && !(src = rule_src(nm, r)))
				goto next_fail;
			if (src->prefixes.n == 0)
				break;
			src->refs++;
			f.v[f.n].proto = (enum policy_proto)p;
			f.v[f.n].src = src;
			f.v[f.n].dst = dst[p].v;
			f.v[f.n].ndst = dst[p].n;
			dst[p].v = NULL;
			f.n++;
		}
		for (size_t p = 0; p <= POLICY_ICMP; p++)
			free(dst[p].v);
		continue;
next_fail:
		for (size_t p = 0; p <= POLICY_ICMP; p++)
			free(dst[p].v);
		goto out;
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
	return rc;
}

