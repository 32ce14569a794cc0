/* What netmap.c and netmap_render.c share (internal to controller/netmap*.c).
 *
 * netmap.c keeps the model: node records, rule memberships, peer sets,
 * tombstones and versions, updated by the change calls. netmap_render.c
 * turns it into JSON: peer entries, filters, DNS data and relay lists,
 * full or as a delta. Neither file changes the model while rendering.
 *
 * Names: for a rule r, src(r) holds the nodes matching a src selector,
 * dst(r) the nodes matching a dst selector by identity, and srv(r) the
 * nodes that serve an address named in r's dst (approved subnet routers
 * for host/CIDR selectors, connectors for resource selectors). Per node, S,
 * D and V are the rule indexes whose src, dst and srv sets hold it. Two
 * nodes are peers when one is in src(r) and the other in dst(r) ∪ srv(r)
 * for some rule r; a node enforces the rules in D ∪ V. */
#ifndef WEFT_NETMAP_INTERNAL_H
#define WEFT_NETMAP_INTERNAL_H

#include "controller/netmap.h"

#include "shared/err.h"
#include "shared/idmap.h"

#include <stdlib.h>
#include <string.h>

/* --- vectors --- */

struct ivec {
	int64_t *v;
	size_t n, cap;
};

static inline int ivec_push(struct ivec *a, int64_t x)
{
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 8;
		int64_t *nv = realloc(a->v, ncap * sizeof(*nv));

		if (!nv)
			return WEFT_ERR_NOMEM;
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n++] = x;
	return 0;
}

static inline int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static inline void ivec_sort_unique(struct ivec *a)
{
	size_t w = 0;

	if (a->n == 0)
		return;
	qsort(a->v, a->n, sizeof(*a->v), cmp_i64);
	for (size_t i = 1; i < a->n; i++)
		if (a->v[i] != a->v[w])
			a->v[++w] = a->v[i];
	a->n = w + 1;
}

static inline void ivec_free(struct ivec *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

struct pvec {
	struct ip_prefix *v;
	size_t n, cap;
};

static inline int pvec_push(struct pvec *a, const struct ip_prefix *p)
{
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 8;
		struct ip_prefix *nv = realloc(a->v, ncap * sizeof(*nv));

		if (!nv)
			return WEFT_ERR_NOMEM;
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n++] = *p;
	return 0;
}

static inline int cmp_prefix(const void *a, const void *b)
{
	const struct ip_prefix *x = a, *y = b;
	int c = ip_addr_cmp(&x->addr, &y->addr);

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

static inline void pvec_sort_unique(struct pvec *a)
{
	size_t w = 0;

	if (a->n == 0)
		return;
	qsort(a->v, a->n, sizeof(*a->v), cmp_prefix);
	for (size_t i = 1; i < a->n; i++)
		if (cmp_prefix(&a->v[i], &a->v[w]) != 0)
			a->v[++w] = a->v[i];
	a->n = w + 1;
}

/* --- engine state --- */

struct tomb {
	int64_t id;
	int64_t removed_at;
};

/* A node's record as parsed from struct netmap_node. */
struct nrec {
	struct store_node sn;
	char user[STORE_NAME_SIZE];
	char **tags;            /* sorted, unique "tag:x" */
	size_t ntags;
	struct ip_prefix *routes; /* approved routes, masked, sorted, unique */
	size_t nroutes;
	json_t *endpoints;      /* array */
	struct ip_addr v4, v6;
	bool has_v4, has_v6;
};

struct nnode {
	struct nrec rec;
	size_t index;          /* position in netmap.nodes */
	struct ivec S, D, V;   /* sorted rule indexes */
	struct idmap_i64 peers; /* peer id → version its entry last changed */
	struct tomb *tombs;    /* ring of tomb_cap */
	size_t tomb_head, ntombs;
	int64_t horizon;       /* removed_at of the newest dropped tombstone */
	int64_t created_v;     /* version the engine first saw the node */
	int64_t info_v;        /* what peers see about it changed */
	int64_t self_v, filter_v, dns_v, relays_v;
	int64_t peers_v;       /* every peer entry changed (reach changed) */
	int64_t version;       /* max of everything in its map */
	uint64_t dirty_epoch;
};

struct nrule {
	struct idmap src, dst, srv; /* node id → struct nnode * */
};

struct nres {
	struct store_resource r;
	bool is_prefix;
	struct ip_prefix prefix;
};

struct netmap {
	char *suffix;
	size_t tomb_cap;
	struct policy *pol;
	struct nrule *rules;
	size_t nrules;
	struct idmap index;    /* node id → struct nnode * */
	struct nnode **nodes;
	size_t nnodes, capnodes;
	struct nres *res;
	size_t nres;
	struct store_relay *relays;
	size_t nrelays;
	int64_t last_v;
	bool broken;           /* a change failed half way; see netmap.h */
	/* The change being applied. */
	int64_t v;
	uint64_t epoch;
	struct netmap_dirty *dirty;
};

static inline struct nnode *node_get(const struct netmap *nm, int64_t id)
{
	return idmap_get(&nm->index, id);
}

/* The user as the policy sees it: none for tagged nodes. */
static inline const char *rec_user(const struct nrec *r)
{
	return r->ntags || !r->user[0] ? NULL : r->user;
}

/* --- defined in netmap.c --- */

/* n's identity as the policy matches it; borrows from n. */
void netmap_node_ident(const struct nnode *n, struct policy_ident *id);

/* The resource a "resource:<name>" (or bare name) selector names, or
 * NULL. */
const struct nres *netmap_res_find(const struct netmap *nm, const char *sel);

/* Is rec the connector of r (by node id or by connector tag)? */
bool netmap_res_served_by(const struct store_resource *r,
			  const struct nrec *rec);

/* Appends n's peer ids (unsorted) to out. 0 or WEFT_ERR_NOMEM. */
int netmap_collect_peers(struct ivec *out, const struct nnode *n);

/* --- defined in netmap_render.c --- */

/* n's filter as compact JSON text, or NULL when out of memory. Equal
 * filters give equal texts. Caller frees. */
char *netmap_filter_text(const struct netmap *nm, const struct nnode *n);

/* A text that changes whenever what n may reach (prefixes, resources)
 * does, or NULL when out of memory. Caller frees. */
char *netmap_reach_signature(const struct netmap *nm, const struct nnode *n);

#endif
