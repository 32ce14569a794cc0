#include "agent/filter.h"

#include "shared/err.h"
#include "shared/rand.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_WAYS 8        /* slots per connection-table bucket */
#define CT_MAX_LIMIT (1u << 24)
#define FRAG_SLOTS 64    /* remembered first fragments */

#define DEF_CT_MAX 16384
#define DEF_TCP_IDLE_MS (30 * 60 * 1000)
#define DEF_UDP_IDLE_MS (2 * 60 * 1000)
#define DEF_ICMP_IDLE_MS (30 * 1000)
#define DEF_FRAG_IDLE_MS (30 * 1000)

enum rproto { RP_ANY, RP_TCP, RP_UDP, RP_ICMP };

/* A prefix set for longest-prefix lookups: entries sorted by family, then
 * length (longest first), then masked address; groups index the runs of
 * one (family, length). A lookup masks the address once per distinct
 * length and binary-searches that run: O(lengths * log n). Maps have few
 * distinct lengths (/32, /128 and a handful of subnet routes). */
struct pent {
	uint8_t b[16];
	int64_t val;
};

struct pgroup {
	uint8_t family;
	uint8_t len;
	size_t start;
	size_t n;
};

struct pset {
	struct pent *e;
	size_t n;
	struct pgroup *g;
	size_t ng;
};

struct prange {
	uint16_t lo;
	uint16_t hi;
};

struct dent {
	struct ip_prefix p; /* masked */
	bool all_ports;
	size_t rstart;      /* into rule.ranges */
	size_t nr;
};

struct rule {
	enum rproto proto;
	struct pset src;
	struct dent *dst;
	size_t ndst;
	struct prange *ranges;
	size_t nranges;
	size_t cap;
};

struct filter_rules {
	struct rule *r;
	size_t n;
};

/* Host routes (/32, /128: every peer's mesh addresses) sit in a hash
 * table, so the send and receive paths find a peer's mesh address in
 * O(1) whatever the number of peers; a host route is the longest
 * possible match, so a hit ends the lookup. The prefix set keeps only
 * the shorter routes (subnet routes, few). */
struct hent {
	uint8_t family;    /* 0: empty */
	uint8_t b[16];
	int64_t peer;
};

struct filter_routes {
	struct pset set;
	struct hent *hosts;
	size_t hcap;       /* power of two, at least twice the entries */
	uint64_t seed;
};

/* Connection-table key: one flow as seen from this node. */
struct ct_key {
	uint8_t family;
	uint8_t proto;
	uint16_t lport;    /* TCP/UDP local port, ICMP echo identifier */
	uint16_t rport;    /* TCP/UDP remote port, 0 for ICMP */
	uint8_t pad[2];
	uint8_t laddr[16];
	uint8_t raddr[16];
};

/* bucket() hashes the key in 8-byte words. */
_Static_assert(sizeof(struct ct_key) % 8 == 0, "ct_key size");

struct ct_ent {
	struct ct_key k;
	int64_t expires;   /* 0: free; live while > now */
};

struct frag_ent {
	uint8_t family;
	uint8_t proto;
	uint32_t id;
	uint8_t src[16];
	uint8_t dst[16];
	int64_t expires;
};

struct filter {
	struct filter_config cfg;
	struct filter_rules *rules;
	struct ct_ent *ct;
	size_t nbuckets;   /* power of two */
	uint64_t seed;
	struct frag_ent frag[FRAG_SLOTS];
	size_t frag_next;
	struct filter_stats st;
	struct ip_addr local_only[FILTER_MAX_LOCAL_ONLY];
	size_t nlocal_only;
};

static void fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static size_t addr_bytes(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

/* Copies the first len bits of a (family bytes) into out, zeroing the
 * rest of its 16 bytes. */
static void mask_bytes(const uint8_t *a, uint8_t family, uint8_t len,
		       uint8_t out[16])
{
	size_t full = len / 8, n = addr_bytes(family);

	memset(out, 0, 16);
	memcpy(out, a, full < n ? full : n);
	if (full < n && (len & 7))
		out[full] = (uint8_t)(a[full] & (0xff << (8 - (len & 7))));
}

static bool prefix_ok(const struct ip_prefix *p)
{
	return (p->addr.family == 4 && p->len <= 32) ||
	       (p->addr.family == 6 && p->len <= 128);
}

static int cmp_route(const void *pa, const void *pb)
{
	const struct filter_route *a = pa, *b = pb;
	int c;

	if (a->prefix.addr.family != b->prefix.addr.family)
		return a->prefix.addr.family < b->prefix.addr.family ? -1 : 1;
	if (a->prefix.len != b->prefix.len)
		return a->prefix.len > b->prefix.len ? -1 : 1;
	c = memcmp(a->prefix.addr.b, b->prefix.addr.b, 16);
	if (c)
		return c;
	return a->peer < b->peer ? -1 : a->peer > b->peer;
}

static void pset_free(struct pset *s)
{
	free(s->e);
	free(s->g);
	memset(s, 0, sizeof(*s));
}

/* Builds s from items[0..n) (valid prefixes; sorted and masked in place).
 * Duplicate prefixes keep the smallest value. */
static int pset_build(struct pset *s, struct filter_route *items, size_t n)
{
	struct pset t = {0};
	size_t i;
	int rc = WEFT_ERR_NOMEM;

	for (i = 0; i < n; i++) {
		uint8_t m[16];

		mask_bytes(items[i].prefix.addr.b, items[i].prefix.addr.family,
			   items[i].prefix.len, m);
		memcpy(items[i].prefix.addr.b, m, 16);
	}
	if (n)
		qsort(items, n, sizeof(*items), cmp_route);
	t.e = calloc(n ? n : 1, sizeof(*t.e));
	t.g = calloc(n ? n : 1, sizeof(*t.g));
	if (!t.e || !t.g)
		goto out;
	for (i = 0; i < n; i++) {
		const struct ip_prefix *p = &items[i].prefix;
		struct pgroup *g = t.ng ? &t.g[t.ng - 1] : NULL;

		if (!g || g->family != p->addr.family || g->len != p->len) {
			g = &t.g[t.ng++];
			g->family = p->addr.family;
			g->len = p->len;
			g->start = t.n;
			g->n = 0;
		} else if (memcmp(t.e[t.n - 1].b, p->addr.b, 16) == 0) {
			continue; /* duplicate: the smaller value came first */
		}
		memcpy(t.e[t.n].b, p->addr.b, 16);
		t.e[t.n].val = items[i].peer;
		t.n++;
		g->n++;
	}
	*s = t;
	t.e = NULL;
	t.g = NULL;
	rc = 0;
out:
	free(t.e);
	free(t.g);
	return rc;
}

/* Longest match for a in s: true with *val set, or false. */
static bool pset_find(const struct pset *s, const struct ip_addr *a,
		      int64_t *val)
{
	uint8_t m[16];
	size_t i, lo, hi, mid;
	int c;

	for (i = 0; i < s->ng; i++) {
		const struct pgroup *g = &s->g[i];

		if (g->family != a->family)
			continue;
		mask_bytes(a->b, a->family, g->len, m);
		lo = g->start;
		hi = g->start + g->n;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			c = memcmp(s->e[mid].b, m, 16);
			if (c == 0) {
				if (val)
					*val = s->e[mid].val;
				return true;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return false;
}

/* ---- rule compilation ---- */

/* The /32 or /128 of a. */
static struct ip_prefix host_prefix(const struct ip_addr *a)
{
	struct ip_prefix p = {.addr = *a, .len = a->family == 4 ? 32 : 128};

	return p;
}

/* Compiles in into r. A dst entry "self" becomes one entry per address
 * in self[0..nself) with the same port ranges, so matching a packet
 * costs what an explicit prefix costs. */
static int compile_rule(const struct map_rule *in, const struct ip_addr *self,
			size_t nself, struct rule *r, char *err, size_t errlen)
{
	static const enum rproto protos[] = {
		[MAP_PROTO_ANY] = RP_ANY, [MAP_PROTO_TCP] = RP_TCP,
		[MAP_PROTO_UDP] = RP_UDP, [MAP_PROTO_ICMP] = RP_ICMP,
	};
	struct filter_route *items = NULL;
	size_t i, nr = 0, nd = 0;
	int rc;

	if ((unsigned)in->proto >= sizeof(protos) / sizeof(protos[0])) {
		fail(err, errlen, "bad proto");
		return WEFT_ERR_INVAL;
	}
	if (in->nsrc > FILTER_MAX_PREFIXES || in->ndst > FILTER_MAX_PREFIXES) {
		fail(err, errlen, "too many prefixes in a rule");
		return WEFT_ERR_TOOBIG;
	}
	r->proto = protos[in->proto];
	for (i = 0; i < in->ndst; i++) {
		if (!in->dst[i].all_ports &&
		    (in->dst[i].nports == 0 ||
		     in->dst[i].nports > FILTER_MAX_PORT_RANGES)) {
			fail(err, errlen, "bad port ranges");
			return WEFT_ERR_INVAL;
		}
		if (!in->dst[i].self && !prefix_ok(&in->dst[i].prefix)) {
			fail(err, errlen, "bad dst prefix");
			return WEFT_ERR_INVAL;
		}
		nr += in->dst[i].all_ports ? 0 : in->dst[i].nports;
		nd += in->dst[i].self ? nself : 1;
	}
	r->dst = calloc(nd ? nd : 1, sizeof(*r->dst));
	r->ranges = calloc(nr ? nr : 1, sizeof(*r->ranges));
	items = calloc(in->nsrc ? in->nsrc : 1, sizeof(*items));
	if (!r->dst || !r->ranges || !items) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < in->ndst; i++) {
		const struct map_dst *d = &in->dst[i];
		size_t rstart = r->nranges, n = d->self ? nself : 1;

		for (size_t k = 0; !d->all_ports && k < d->nports; k++) {
			r->ranges[r->nranges].lo = d->ports[k].lo;
			r->ranges[r->nranges].hi = d->ports[k].hi;
			r->nranges++;
		}
		/* The entries of one "self" share its port ranges. */
		for (size_t k = 0; k < n; k++) {
			struct dent *e = &r->dst[r->ndst++];

			e->p = d->self ? host_prefix(&self[k]) : d->prefix;
			ip_prefix_mask(&e->p);
			e->all_ports = d->all_ports;
			e->rstart = rstart;
			e->nr = r->nranges - rstart;
		}
	}
	r->cap = nr;
	for (i = 0; i < in->nsrc; i++) {
		if (!prefix_ok(&in->src[i])) {
			fail(err, errlen, "bad src prefix");
			rc = WEFT_ERR_INVAL;
			goto out;
		}
		items[i].prefix = in->src[i];
	}
	rc = pset_build(&r->src, items, in->nsrc);
out:
	free(items);
	return rc;
}

void filter_rules_del(struct filter_rules *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		pset_free(&r->r[i].src);
		free(r->r[i].dst);
		free(r->r[i].ranges);
	}
	free(r->r);
	free(r);
}

int filter_rules_compile(const struct map_rule *rules, size_t n,
			 const struct ip_addr *self, size_t nself,
			 struct filter_rules **out, char *err, size_t errlen)
{
	struct filter_rules *fr = NULL;
	size_t i;
	int rc = WEFT_ERR_INVAL;

	if ((n && !rules) || (nself && !self) || nself > FILTER_MAX_SELF) {
		fail(err, errlen, n && !rules ? "no rules" : "bad self addresses");
		goto out;
	}
	for (i = 0; i < nself; i++) {
		if (self[i].family != 4 && self[i].family != 6) {
			fail(err, errlen, "bad self address");
			goto out;
		}
	}
	if (n > FILTER_MAX_RULES) {
		fail(err, errlen, "more than %d filter rules", FILTER_MAX_RULES);
		rc = WEFT_ERR_TOOBIG;
		goto out;
	}
	rc = WEFT_ERR_NOMEM;
	fr = calloc(1, sizeof(*fr));
	if (!fr)
		goto out;
	fr->r = calloc(n ? n : 1, sizeof(*fr->r));
	if (!fr->r)
		goto out;
	for (i = 0; i < n; i++) {
		/* Counted before compiling so a half-built rule is freed. */
		fr->n++;
		rc = compile_rule(&rules[i], self, nself, &fr->r[i], err,
				  errlen);
		if (rc < 0)
			goto out;
	}
	*out = fr;
	fr = NULL;
	rc = 0;
out:
	if (rc == WEFT_ERR_NOMEM)
		fail(err, errlen, "out of memory");
	filter_rules_del(fr);
	return rc;
}

/* ---- matching ---- */

static bool is_icmp(const struct packet_info *pi)
{
	return (pi->version == 4 && pi->proto == PACKET_PROTO_ICMP) ||
	       (pi->version == 6 && pi->proto == PACKET_PROTO_ICMPV6);
}

static bool proto_matches(enum rproto rp, const struct packet_info *pi)
{
	switch (rp) {
	case RP_ANY:
		return true;
	case RP_TCP:
		return pi->proto == PACKET_PROTO_TCP;
	case RP_UDP:
		return pi->proto == PACKET_PROTO_UDP;
	case RP_ICMP:
		return is_icmp(pi);
	}
	return false;
}

static bool ports_match(const struct rule *r, const struct dent *d,
			const struct packet_info *pi)
{
	size_t i;

	if (d->all_ports || is_icmp(pi))
		return true;
	if (!pi->has_ports)
		return false;
	for (i = 0; i < d->nr; i++) {
		const struct prange *pr = &r->ranges[d->rstart + i];

		if (pi->dport >= pr->lo && pi->dport <= pr->hi)
			return true;
	}
	return false;
}

static bool rule_matches(const struct rule *r, const struct packet_info *pi)
{
	size_t i;
	bool dst_ok = false;

	if (!proto_matches(r->proto, pi))
		return false;
	for (i = 0; i < r->ndst && !dst_ok; i++)
		dst_ok = ip_prefix_contains(&r->dst[i].p, &pi->dst) &&
			 ports_match(r, &r->dst[i], pi);
	return dst_ok && pset_find(&r->src, &pi->src, NULL);
}

bool filter_rules_allow(const struct filter_rules *r,
			const struct packet_info *pi)
{
	size_t i;

	if (!r || !pi)
		return false;
	for (i = 0; i < r->n; i++)
		if (rule_matches(&r->r[i], pi))
			return true;
	return false;
}

/* ---- connection tracking ---- */

int filter_new(const struct filter_config *cfg, struct filter **out)
{
	struct filter *f = NULL;
	uint32_t want;
	int rc = WEFT_ERR_INVAL;

	if (!out || (cfg && cfg->ct_max > CT_MAX_LIMIT))
		goto out;
	rc = WEFT_ERR_NOMEM;
	f = calloc(1, sizeof(*f));
	if (!f)
		goto out;
	if (cfg)
		f->cfg = *cfg;
	if (!f->cfg.ct_max)
		f->cfg.ct_max = DEF_CT_MAX;
	if (!f->cfg.tcp_idle_ms)
		f->cfg.tcp_idle_ms = DEF_TCP_IDLE_MS;
	if (!f->cfg.udp_idle_ms)
		f->cfg.udp_idle_ms = DEF_UDP_IDLE_MS;
	if (!f->cfg.icmp_idle_ms)
		f->cfg.icmp_idle_ms = DEF_ICMP_IDLE_MS;
	if (!f->cfg.frag_idle_ms)
		f->cfg.frag_idle_ms = DEF_FRAG_IDLE_MS;
	want = (f->cfg.ct_max + CT_WAYS - 1) / CT_WAYS;
	f->nbuckets = 1;
	while (f->nbuckets < want)
		f->nbuckets <<= 1;
	f->ct = calloc(f->nbuckets * CT_WAYS, sizeof(*f->ct));
	if (!f->ct)
		goto out;
	rc = rand_u64(&f->seed);
	if (rc < 0)
		goto out;
	*out = f;
	f = NULL;
out:
	filter_del(f);
	return rc;
}

void filter_del(struct filter *f)
{
	if (!f)
		return;
	filter_rules_del(f->rules);
	free(f->ct);
	free(f);
}

void filter_set_rules(struct filter *f, struct filter_rules *r)
{
	filter_rules_del(f->rules);
	f->rules = r;
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The two buckets k may live in (two choices: a flow goes into the
 * emptier one, so buckets fill evenly and a full table, not an unlucky
 * bucket, is what evicts). Both come from one keyed hash: its low and
 * high 32 bits are independent enough. With one bucket both are it. */
static void buckets(const struct filter *f, const struct ct_key *k,
		    struct ct_ent *b[2])
{
	uint64_t h = f->seed, w;
	size_t i, m = f->nbuckets - 1, i1, i2;

	for (i = 0; i < sizeof(*k); i += 8) {
		memcpy(&w, (const uint8_t *)k + i, 8);
		h = mix(h ^ w);
	}
	i1 = (size_t)h & m;
	i2 = (size_t)(h >> 32) & m;
	if (i2 == i1)
		i2 = i1 ^ (m & 1);
	b[0] = &f->ct[i1 * CT_WAYS];
	b[1] = &f->ct[i2 * CT_WAYS];
}

static uint32_t idle_ms(const struct filter *f, uint8_t proto)
{
	if (proto == PACKET_PROTO_TCP)
		return f->cfg.tcp_idle_ms;
	if (proto == PACKET_PROTO_UDP)
		return f->cfg.udp_idle_ms;
	return f->cfg.icmp_idle_ms;
}

/* The flow key of pi, from this node's side: outbound packets go from
 * local to remote, inbound ones the other way. Returns false for packets
 * that are not tracked (non-echo ICMP, other protocols, no L4 header). */
static bool flow_key(const struct packet_info *pi, bool outbound,
		     struct ct_key *k)
{
	const struct ip_addr *local = outbound ? &pi->src : &pi->dst;
	const struct ip_addr *remote = outbound ? &pi->dst : &pi->src;
	uint8_t want;

	memset(k, 0, sizeof(*k));
	if (pi->has_ports) {
		k->lport = outbound ? pi->sport : pi->dport;
		k->rport = outbound ? pi->dport : pi->sport;
	} else if (pi->has_icmp) {
		/* Echo requests go out, echo replies come back. */
		if (pi->version == 4)
			want = outbound ? 8 : 0;
		else
			want = outbound ? 128 : 129;
		if (pi->icmp_type != want)
			return false;
		k->lport = pi->icmp_id;
	} else {
		return false;
	}
	k->family = pi->version;
	k->proto = pi->proto;
	memcpy(k->laddr, local->b, 16);
	memcpy(k->raddr, remote->b, 16);
	return true;
}

/* The live entry for k in b (its buckets), or NULL. */
static struct ct_ent *ct_find(struct ct_ent *const b[2],
			      const struct ct_key *k, int64_t now)
{
	size_t i, j;

	for (j = 0; j < 2; j++)
		for (i = 0; i < CT_WAYS; i++)
			if (b[j][i].expires > now &&
			    memcmp(&b[j][i].k, k, sizeof(*k)) == 0)
				return &b[j][i];
	return NULL;
}

/* A slot for a new flow in b: a free or expired one of the bucket with
 * more of them, else (both full) the live flow closest to expiry of
 * both, i.e. the least recently used for its timeout, counted in
 * ct_evicted. */
static struct ct_ent *ct_slot(struct filter *f, struct ct_ent *const b[2],
			      int64_t now)
{
	struct ct_ent *victim = NULL, *free_slot[2] = {NULL, NULL};
	size_t nfree[2] = {0, 0}, i, j;

	for (j = 0; j < 2; j++) {
		for (i = 0; i < CT_WAYS; i++) {
			struct ct_ent *e = &b[j][i];

			if (e->expires <= now) {
				if (!nfree[j]++)
					free_slot[j] = e;
			} else if (!victim || e->expires < victim->expires) {
				victim = e;
			}
		}
	}
	if (nfree[0] || nfree[1])
		return nfree[1] > nfree[0] ? free_slot[1] : free_slot[0];
	f->st.ct_evicted++;
	return victim;
}

/* The reply the peer would send to the outbound packet pi. */
static void reply_of(const struct packet_info *pi, struct packet_info *r)
{
	*r = *pi;
	r->src = pi->dst;
	r->dst = pi->src;
	r->sport = pi->dport;
	r->dport = pi->sport;
	if (pi->has_icmp)
		r->icmp_type = pi->version == 4 ? 0 : 129;
}

void filter_track_out(struct filter *f, const struct packet_info *pi,
		      int64_t now_ms)
{
	struct packet_info rep;
	struct ct_key k;
	struct ct_ent *b[2], *e;

	if (!f || !pi || !flow_key(pi, true, &k))
		return;
	buckets(f, &k, b);
	e = ct_find(b, &k, now_ms);
	if (!e) {
		/* Replies the rules let in anyway need no state: this keeps
		 * a server's answers out of the table. */
		reply_of(pi, &rep);
		if (filter_rules_allow(f->rules, &rep))
			return;
		e = ct_slot(f, b, now_ms);
		e->k = k;
	}
	e->expires = now_ms + idle_ms(f, pi->proto);
}

static struct frag_ent *frag_find(struct filter *f,
				  const struct packet_info *pi, int64_t now)
{
	size_t i, n = addr_bytes(pi->version);

	for (i = 0; i < FRAG_SLOTS; i++) {
		struct frag_ent *e = &f->frag[i];

		if (e->expires > now && e->family == pi->version &&
		    e->proto == pi->proto && e->id == pi->frag_id &&
		    memcmp(e->src, pi->src.b, n) == 0 &&
		    memcmp(e->dst, pi->dst.b, n) == 0)
			return e;
	}
	return NULL;
}

/* Remembers an allowed first fragment so the rest of its datagram passes. */
static void frag_allow(struct filter *f, const struct packet_info *pi,
		       int64_t now)
{
	struct frag_ent *e = frag_find(f, pi, now);

	if (!e) {
		e = &f->frag[f->frag_next];
		f->frag_next = (f->frag_next + 1) % FRAG_SLOTS;
		memset(e, 0, sizeof(*e));
		e->family = pi->version;
		e->proto = pi->proto;
		e->id = pi->frag_id;
		memcpy(e->src, pi->src.b, 16);
		memcpy(e->dst, pi->dst.b, 16);
	}
	e->expires = now + f->cfg.frag_idle_ms;
}

/* Whether pi is an ICMP error about a packet this node sent in a flow
 * it opened: tracked, or one whose replies the rules let in anyway. Such
 * errors (port unreachable, admin prohibited, ...) make applications fail
 * at once instead of timing out. */
static bool quote_allowed(const struct filter *f, const struct packet_info *pi,
			  int64_t now_ms)
{
	const struct packet_quote *q = &pi->quote;
	struct packet_info out, rep;
	struct ct_ent *b[2];
	struct ct_key k;

	if (!pi->has_quote || !ip_addr_eq(&q->src, &pi->dst))
		return false;
	memset(&out, 0, sizeof(out));
	out.version = pi->version;
	out.proto = q->proto;
	out.src = q->src;
	out.dst = q->dst;
	out.has_ports = q->has_ports;
	out.sport = q->sport;
	out.dport = q->dport;
	out.has_icmp = q->has_icmp;
	out.icmp_type = q->icmp_type;
	out.icmp_id = q->icmp_id;
	if (flow_key(&out, true, &k)) {
		buckets(f, &k, b);
		if (ct_find(b, &k, now_ms))
			return true;
	}
	reply_of(&out, &rep);
	return (rep.has_ports || rep.has_icmp) &&
	       filter_rules_allow(f->rules, &rep);
}

bool filter_check_in(struct filter *f, const struct packet_info *pi,
		     int64_t now_ms)
{
	struct ct_key k;
	struct ct_ent *b[2], *e = NULL;

	size_t i;

	if (!f || !pi)
		return false;
	for (i = 0; i < f->nlocal_only; i++)
		if (ip_addr_eq(&pi->dst, &f->local_only[i])) {
			f->st.denied++;
			return false;
		}
	if (pi->later_fragment) {
		if (frag_find(f, pi, now_ms)) {
			f->st.allowed_fragment++;
			return true;
		}
	} else if (flow_key(pi, false, &k)) {
		buckets(f, &k, b);
		e = ct_find(b, &k, now_ms);
	}
	if (e) {
		e->expires = now_ms + idle_ms(f, pi->proto);
		f->st.allowed_tracked++;
		if (pi->fragment)
			frag_allow(f, pi, now_ms);
		return true;
	} else if (quote_allowed(f, pi, now_ms)) {
		f->st.allowed_tracked++;
		return true;
	}
	if (filter_rules_allow(f->rules, pi)) {
		f->st.allowed++;
		if (pi->fragment && !pi->later_fragment)
			frag_allow(f, pi, now_ms);
		return true;
	}
	f->st.denied++;
	return false;
}

void filter_set_local_only(struct filter *f, const struct ip_addr *a,
			   size_t n)
{
	size_t i;

	f->nlocal_only = 0;
	for (i = 0; i < n && i < FILTER_MAX_LOCAL_ONLY; i++)
		if (a[i].family == 4 || a[i].family == 6)
			f->local_only[f->nlocal_only++] = a[i];
}

void filter_get_stats(const struct filter *f, int64_t now_ms,
		      struct filter_stats *out)
{
	size_t i;

	*out = f->st;
	out->ct_entries = 0;
	for (i = 0; i < f->nbuckets * CT_WAYS; i++)
		if (f->ct[i].expires > now_ms)
			out->ct_entries++;
}

/* ---- routes ---- */

static bool is_host(const struct ip_prefix *p)
{
	return p->len == (p->addr.family == 4 ? 32 : 128);
}

/* mix() reaches every output bit from every input bit, so addresses that
 * differ in a few bytes spread over the table. */
static size_t host_slot(const struct filter_routes *rt, uint8_t family,
			const uint8_t b[16])
{
	uint64_t w[2];

	memcpy(w, b, 16);
	return (size_t)mix(mix(w[0] ^ rt->seed) ^ w[1] ^ family) &
	       (rt->hcap - 1);
}

/* The slot holding (family, b), or the empty one its probe ends at. */
static struct hent *host_find(const struct filter_routes *rt, uint8_t family,
			      const uint8_t b[16])
{
	size_t i = host_slot(rt, family, b);
	struct hent *e;

	for (;; i = (i + 1) & (rt->hcap - 1)) {
		e = &rt->hosts[i];
		if (!e->family ||
		    (e->family == family && memcmp(e->b, b, 16) == 0))
			return e;
	}
}

int filter_routes_new(const struct filter_route *routes, size_t n,
		      struct filter_routes **out)
{
	struct filter_routes *rt = NULL;
	struct filter_route *items = NULL;
	size_t i, nitems = 0, nhosts = 0;
	int rc = WEFT_ERR_INVAL;

	if (!out || (n && !routes))
		goto out;
	for (i = 0; i < n; i++) {
		if (!prefix_ok(&routes[i].prefix))
			goto out;
		nhosts += is_host(&routes[i].prefix);
	}
	rc = WEFT_ERR_NOMEM;
	rt = calloc(1, sizeof(*rt));
	items = calloc(n ? n : 1, sizeof(*items));
	if (!rt || !items)
		goto out;
	for (rt->hcap = 8; rt->hcap < 2 * nhosts; rt->hcap *= 2)
		;
	rt->hosts = calloc(rt->hcap, sizeof(*rt->hosts));
	if (!rt->hosts || rand_u64(&rt->seed) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		const struct filter_route *r = &routes[i];
		struct hent *e;
		uint8_t m[16];

		if (!is_host(&r->prefix)) {
			items[nitems++] = *r;
			continue;
		}
		mask_bytes(r->prefix.addr.b, r->prefix.addr.family,
			   r->prefix.len, m);
		e = host_find(rt, r->prefix.addr.family, m);
		/* The same prefix twice: the smaller peer id wins. */
		if (e->family && e->peer <= r->peer)
			continue;
		e->family = r->prefix.addr.family;
		memcpy(e->b, m, 16);
		e->peer = r->peer;
	}
	rc = pset_build(&rt->set, items, nitems);
	if (rc < 0)
		goto out;
	*out = rt;
	rt = NULL;
out:
	free(items);
	filter_routes_del(rt);
	return rc;
}

void filter_routes_del(struct filter_routes *rt)
{
	if (!rt)
		return;
	pset_free(&rt->set);
	free(rt->hosts);
	free(rt);
}

int filter_routes_lookup(const struct filter_routes *rt,
			 const struct ip_addr *dst, int64_t *peer)
{
	const struct hent *e;
	uint8_t m[16];
	int64_t v;

	if (!rt || !dst || (dst->family != 4 && dst->family != 6))
		return WEFT_ERR_NOTFOUND;
	mask_bytes(dst->b, dst->family, dst->family == 4 ? 32 : 128, m);
	e = host_find(rt, dst->family, m);
	if (e->family) {
		if (peer)
			*peer = e->peer;
		return 0;
	}
	if (!pset_find(&rt->set, dst, &v))
		return WEFT_ERR_NOTFOUND;
	if (peer)
		*peer = v;
	return 0;
}
