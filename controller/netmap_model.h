/* The engine's model (internal to controller/netmap*.c).
 *
 * netmap_model.c holds what is computed from the model without changing
 * it: node and resource records parsed from the input types, policy
 * identities, the rules' source lists, compiled filters and what a node
 * may reach, and their comparisons. netmap.c keeps the model up to date
 * (rule memberships, peer sets, tombstones, versions) through the change
 * calls, with netmap_policy.c (a policy change) and netmap_res.c (resources
 * and their changes) calling the membership and peer functions it
 * exports; netmap_render.c only turns the model into JSON. They include
 * this header and nothing of each other, so there is no cycle:
 * netmap.c → netmap_model.c ← netmap_render.c.
 *
 * Names: for a rule r, src(r) holds the nodes matching a src selector,
 * dst(r) the nodes matching a dst selector by identity, and srv(r) the
 * nodes that serve an address named in r's dst (approved subnet routers
 * for host/CIDR selectors, connectors for resource selectors). Per node, S,
 * D and V are the rule indexes whose src, dst and srv sets hold it. Two
 * nodes are peers when one is in src(r) and the other in dst(r) ∪ srv(r)
 * for some rule r; a node enforces the rules in D ∪ V. */
#ifndef WEFT_NETMAP_MODEL_H
#define WEFT_NETMAP_MODEL_H

#include "controller/netmap.h"
#include "controller/resource.h"

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

/* a must be sorted. */
static inline bool ivec_has(const struct ivec *a, int64_t x)
{
	return a->n && bsearch(&x, a->v, a->n, sizeof(*a->v), cmp_i64);
}

static inline bool ivec_eq(const struct ivec *a, const struct ivec *b)
{
	return a->n == b->n &&
	       (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
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

/* A resource selector in a policy rule: "resource:<name>". */
#define RESOURCE_PREFIX "resource:"

/* --- engine state --- */

struct tomb {
	int64_t id;
	int64_t removed_at;
};

/* A node's record as parsed from struct netmap_node: only what maps and
 * the policy use (the input's JSON text is kept parsed, not as text). */
struct nrec {
	int64_t id;
	char name[NETMAP_NAME_SIZE];
	char user[NETMAP_NAME_SIZE];
	char public_key[NETMAP_KEY_SIZE];
	char ipv4[NETMAP_IP_SIZE], ipv6[NETMAP_IP_SIZE];
	char home_relay[NETMAP_NAME_SIZE];
	int64_t last_seen;
	bool online;
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
	struct jent *journal;  /* ring of NETMAP_JOURNAL, allocated on use */
	size_t jhead, njournal;
	int64_t jhorizon;      /* v of the newest dropped journal entry */
	int64_t created_v;     /* version the engine first saw the node */
	int64_t info_v;        /* what peers see about it changed */
	int64_t self_v, filter_v, dns_v, relays_v;
	int64_t res_v;         /* its "resources" section changed */
	int64_t serves_v;      /* its "serves" section changed */
	int64_t peers_v;       /* every peer entry changed (reach changed) */
	int64_t version;       /* max of everything in its map */
	int64_t content_v;     /* version, not counting peers' presence */
	uint64_t dirty_epoch;
};

/* The source prefixes of a rule as every receiver's filter lists them:
 * the /32 and /128 of each node in src(r) plus r's literal src prefixes,
 * sorted and unique. It depends on the rule alone, so it is built once
 * (lazily, by the first render that needs it) and shared by every
 * receiver. It is immutable and reference counted: when a node joins or
 * leaves src(r) or a member's mesh addresses change, the rule drops its
 * reference and the next render builds a new one, while compiled filters
 * (struct fcomp) keep the old one alive for comparison. */
struct srclist {
	size_t refs;
	struct pvec prefixes;
	char (*strs)[IP_PREFIX_STRLEN]; /* prefixes, formatted */
	char *text;            /* compact JSON array of strs */
	uint64_t hash;         /* of text: equal lists, equal hashes */
};

struct nrule {
	struct idmap src, dst, srv; /* node id → struct nnode * */
	struct srclist *srcl;       /* NULL until built or when stale */
};

/* One entry of a node's peer journal: the entry of peer id in its map
 * changed (added, new info, new allowed_ips) at version v. */
struct jent {
	int64_t v;
	int64_t id;
};

/* Peer journal slots per node: a delta since V lists the peers journaled
 * after V instead of scanning every peer, as long as the journal reaches
 * back to V (see jhorizon). */
#define NETMAP_JOURNAL 32

struct nres {
	struct netmap_resource r;
	enum resource_type type;
	/* What traffic to it is routed by: the address (ip, cidr), the
	 * mapped prefixes (dns, wildcard), 0.0.0.0/0 and ::/0 (internet). */
	struct ip_prefix prefixes[2];
	size_t nprefixes;
	bool is_prefix;        /* ip or cidr: prefixes[0] is the address */
};

/* A node's effective access to a resource: what the rules naming it give,
 * narrowed by the resource's filters (policy_narrow), as the agent sees
 * it: everything, or tcp and udp port ranges (sorted, merged) and icmp. */
struct prange {
	uint16_t lo, hi;
};

struct neff {
	bool all, icmp;
	struct prange *tcp, *udp;
	size_t ntcp, nudp, captcp, capudp;
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
	struct netmap_relay *relays;
	size_t nrelays;
	json_t *dns;           /* DNS settings (dnsconf.h); NULL: defaults */
	struct ip_addr stub6;  /* the stub's IPv6; family 0: none yet */
	int64_t last_v;
	bool broken;           /* a change failed half way; see netmap.h */
	/* Updated by const rendering too (caches, counters): reached through
	 * a pointer; the caller serializes every call anyway. */
	struct netmap_stats *stats;
	struct fcache *fcache; /* rendered filters by content (netmap_render.c) */
	/* The change being applied. */
	int64_t v;
	uint64_t epoch;
	struct netmap_dirty *dirty;
	bool presence_only;    /* the change is a node's online/last_seen */
};

static inline void srclist_unref(struct srclist *l)
{
	if (!l || --l->refs)
		return;
	free(l->prefixes.v);
	free(l->strs);
	free(l->text);
	free(l);
}

/* Rule r's source list must be rebuilt. */
static inline void rule_src_stale(struct netmap *nm, size_t r)
{
	srclist_unref(nm->rules[r].srcl);
	nm->rules[r].srcl = NULL;
}

static inline struct nnode *node_get(const struct netmap *nm, int64_t id)
{
	return idmap_get(&nm->index, id);
}

/* FNV-1a, 64 bit: cheap hashes of small byte strings for the caches. */
#define FNV_INIT 14695981039346656037ULL

static inline uint64_t fnv_add(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

/* The user as the policy sees it: none for tagged nodes. */
static inline const char *rec_user(const struct nrec *r)
{
	return r->ntags || !r->user[0] ? NULL : r->user;
}

static inline bool rec_tags_eq(const struct nrec *a, const struct nrec *b)
{
	if (a->ntags != b->ntags)
		return false;
	for (size_t i = 0; i < a->ntags; i++)
		if (strcmp(a->tags[i], b->tags[i]) != 0)
			return false;
	return true;
}

/* --- defined in netmap_model.c --- */

/* Parses everything the engine needs from in into out. 0, WEFT_ERR_INVAL
 * (nothing allocated) or WEFT_ERR_NOMEM. */
int netmap_rec_parse(const struct netmap_node *in, struct nrec *out);
void netmap_rec_free(struct nrec *r);
bool netmap_rec_has_tag(const struct nrec *r, const char *tag);


/* n's identity as the policy matches it; borrows from n. */
void netmap_node_ident(const struct nnode *n, struct policy_ident *id);


/* Appends n's peer ids (unsorted) to out. 0 or WEFT_ERR_NOMEM. */
int netmap_collect_peers(struct ivec *out, const struct nnode *n);

/* Appends r's own /32 and /128 to out. 0 or WEFT_ERR_NOMEM. */
int netmap_own_prefixes(const struct nrec *r, struct pvec *out);


/* One (prefix, port range) pair of a filter rule's dst. A prefix of
 * family 0 (all zero) stands for the receiving node's own mesh addresses
 * and renders as "self" (dent_is_self): it sorts before every real
 * prefix, and it keeps the filter text independent of the receiver, so
 * nodes with the same rules share one rendering. */
struct dent {
	struct ip_prefix p;
	uint16_t lo, hi;
};

static inline bool dent_is_self(const struct dent *d)
{
	return d->p.addr.family == 0;
}

/* The text of a dst entry's "prefix": "self" or the prefix. */
#define DENT_SELF_TEXT "self"

/* One rule of a compiled filter: what its JSON says, without the JSON.
 * dst is canonical (sorted by prefix, port ranges merged), so two items
 * render the same text exactly when they compare equal. Holds a reference
 * to src. */
struct fitem {
	enum policy_proto proto;
	const struct srclist *src; /* borrowed from the rule */
	struct dent *dst;
	size_t ndst;
};

/* A node's filter, compiled: items sorted by content, without
 * duplicates. Owns its items; outlives the rules it was compiled from. */
struct fcomp {
	struct fitem *v;
	size_t n;
};

/* Compiles n's filter into out. 0 or WEFT_ERR_NOMEM. */
int netmap_filter_compile(const struct netmap *nm, const struct nnode *n,
			  struct fcomp *out);
/* Do a and b render the same filter? */
bool netmap_filter_eq(const struct fcomp *a, const struct fcomp *b);
void netmap_filter_free(struct fcomp *f);

/* The addresses n may reach by rules (host/CIDR selectors) and the
 * resources it may reach, both from the dst of the rules in S(n). */
struct reach {
	struct pvec prefixes;
	const struct nres **res;
	struct neff *eff;      /* per res: the node's access to it */
	size_t nres;
};

/* 0 or WEFT_ERR_NOMEM. */
int netmap_reach_build(const struct netmap *nm, const struct nnode *n,
		       struct reach *out);
/* Same prefixes and the same resources (as long as nm->res is unchanged)? */
bool netmap_reach_eq(const struct reach *a, const struct reach *b);
void netmap_reach_free(struct reach *r);
/* A hash of f consistent with netmap_filter_eq. */
uint64_t netmap_filter_hash(const struct fcomp *f);

/* --- defined in netmap_res.c --- */

/* 0 or WEFT_ERR_INVAL. */
int netmap_res_parse(const struct netmap_resource *in, struct nres *out);

/* The resource a "resource:<name>" (or bare name) selector names, or
 * NULL. */
const struct nres *netmap_res_find(const struct netmap *nm, const char *sel);

/* Is rec a connector of r (one of its nodes, or carrying one of its
 * tags)? */
bool netmap_res_served_by(const struct netmap_resource *r,
			  const struct nrec *rec);

/* Adds to e what rule (whose dst selector sel names res) gives. 0 or
 * WEFT_ERR_NOMEM. */
int netmap_eff_add(struct neff *e, const struct nres *res,
		   const struct policy_rule *rule,
		   const struct policy_sel *sel);
/* Sorts and merges e's ranges: equal access, equal struct. */
void netmap_eff_canon(struct neff *e);
bool netmap_eff_eq(const struct neff *a, const struct neff *b);
void netmap_eff_free(struct neff *e);

/* What of a node's change matters to resources, taken before it: the
 * resources it connects, the rules of V(x) naming one of them (their
 * senders list x among a resource's connectors while x is online) and
 * whether it was online. */
struct res_before {
	struct ivec served;
	struct ivec rules;
	bool online;
};

/* Snapshot of x (zeroed b for a node that is new). 0 or WEFT_ERR_NOMEM. */
int netmap_res_before(const struct netmap *nm, const struct nnode *x,
		      struct res_before *b);
/* Does x's change from b list x differently among connectors (x
 * connects something and its online flag flips)? Such a change is
 * content, not presence. */
bool netmap_res_flips(const struct res_before *b, bool online);
/* After x changed from b (or was added): marks x's "serves" section when
 * the resources it connects changed, and the "resources" sections of the
 * senders that list x (before or after) when what x connects or its
 * online flag changed. Frees b. 0 or WEFT_ERR_NOMEM. */
int netmap_res_after(struct netmap *nm, struct nnode *x,
		     struct res_before *b);
/* Before x is removed: marks the "resources" sections that list it. */
int netmap_res_gone(struct netmap *nm, struct nnode *x);
void netmap_res_before_free(struct res_before *b);

/* The "resources" section of n (whose reach is rc) and its "serves"
 * section; NULL when out of memory. */
json_t *netmap_res_render(const struct netmap *nm, const struct nnode *n,
			  const struct reach *rc);
json_t *netmap_serves_render(const struct netmap *nm, const struct nnode *n);

/* --- defined in netmap.c --- */

/* Records that n's map changed at the current version (adds it to the
 * change's dirty list once). 0 or WEFT_ERR_NOMEM. */
int netmap_mark(struct netmap *nm, struct nnode *n);
/* netmap_mark for a change of n's filter. */
int netmap_mark_filter(struct netmap *nm, struct nnode *n);

/* Adds n to (add) or removes it from the member sets of the rules in its
 * S, D and V. Removing cannot fail; adding: 0 or WEFT_ERR_NOMEM. */
int netmap_set_members(struct netmap *nm, struct nnode *n, bool add);
/* Recomputes n's memberships under the current policy and resources;
 * the previous S goes to old_s (the caller frees it). 0 or
 * WEFT_ERR_NOMEM. */
int netmap_reclassify(struct netmap *nm, struct nnode *n,
		      struct ivec *old_s);

/* Appends the ids of m to out. 0 or WEFT_ERR_NOMEM. */
int netmap_collect_set(struct ivec *out, const struct idmap *m);
/* The peers a node with n's memberships wants, n itself included when it
 * is on both ends of a rule, sorted into out. 0 or WEFT_ERR_NOMEM. */
int netmap_want_peers(const struct netmap *nm, const struct nnode *n,
		      struct ivec *out);
/* Brings n's peer set in line with its memberships, on both ends of
 * every pair that changed (marking both). 0 or WEFT_ERR_NOMEM. */
int netmap_refresh_peers(struct netmap *nm, struct nnode *n);
/* Notes in n's journal that the entry of peer id changed now. 0 or
 * WEFT_ERR_NOMEM. */
int netmap_journal_add(struct netmap *nm, struct nnode *n, int64_t id);

/* Frees n rules and their member sets. */
void netmap_rules_free(struct nrule *rules, size_t n);

/* Every change starts with netmap_change_begin (checks the version, sets
 * up the dirty list; nothing changed on failure) and ends with
 * netmap_change_end(nm, rc), which returns rc. */
int netmap_change_begin(struct netmap *nm, int64_t version,
			struct netmap_dirty *dirty);
int netmap_change_end(struct netmap *nm, int rc);

/* --- defined in netmap_dns.c --- */

/* The "dns" part of n's map: the settings, the stub addresses and the
 * DNS resources rc reaches. NULL when out of memory. */
json_t *netmap_dns_render(const struct netmap *nm, const struct reach *rc);

/* --- defined in netmap_render.c --- */

/* The cache of rendered filters (netmap_render_shared): created with the
 * engine, emptied by a policy change (its entries keep the old rules'
 * source lists alive), freed with the engine. */
int netmap_fcache_new(struct fcache **out);
void netmap_fcache_clear(struct fcache *c);
void netmap_fcache_free(struct fcache *c);

#endif
