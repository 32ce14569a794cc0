/* The stub's answer cache: a chained hash table for lookups and a doubly
 * linked list in use order for eviction (agent/dnscache.h). */
#include "agent/dnscache.h"

#include "shared/be.h"
#include "shared/err.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_WIRE 255

struct entry {
	struct entry *hnext;          /* bucket chain */
	struct entry *prev, *next;    /* use order, most recent first */
	uint64_t hash;
	uint16_t type, qclass;
	int64_t stored_ms, expires_ms;
	uint8_t *msg;
	size_t len;
	uint16_t *offs;
	uint32_t *ttls;               /* the TTLs as stored (clamped) */
	size_t nttl;
	char name[];                  /* lower case */
};

struct dnscache {
	struct entry **buckets;
	size_t nbuckets;              /* power of two */
	struct entry *head, *tail;
	size_t max_entries, max_bytes;
	uint64_t seed;
	struct dnscache_stats st;
};

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* FNV-1a over the seed, the lower-cased name, type and class. */
static uint64_t key_hash(uint64_t seed, const char *name, uint16_t type,
			 uint16_t qclass)
{
	uint64_t h = 14695981039346656037ull ^ seed;

	for (const char *p = name; *p; p++) {
		h ^= (uint8_t)lower(*p);
		h *= 1099511628211ull;
	}
	h ^= ((uint64_t)type << 16) | qclass;
	h *= 1099511628211ull;
	return h ^ (h >> 29);
}

static bool name_eq(const char *stored, const char *name)
{
	for (; *stored && lower(*name) == *stored; stored++, name++)
		;
	return !*stored && !*name;
}

static size_t entry_bytes(const struct entry *e)
{
	return e->len;
}

static void list_unlink(struct dnscache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void list_push(struct dnscache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static struct entry **slot_of(struct dnscache *c, const char *name,
			      uint16_t type, uint16_t qclass, uint64_t h)
{
	struct entry **pp = &c->buckets[h & (c->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext) {
		struct entry *e = *pp;

		if (e->hash == h && e->type == type && e->qclass == qclass &&
		    name_eq(e->name, name))
			break;
	}
	return pp;
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e->offs);
	free(e->ttls);
	free(e);
}

/* Unlinks *pp (found by slot_of) from everything and frees it. */
static void drop(struct dnscache *c, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->hnext;
	list_unlink(c, e);
	c->st.entries--;
	c->st.bytes -= entry_bytes(e);
	entry_free(e);
}

static void drop_entry(struct dnscache *c, struct entry *e)
{
	drop(c, slot_of(c, e->name, e->type, e->qclass, e->hash));
}

/* Doubles the bucket array; a failed allocation only keeps chains longer. */
static void grow(struct dnscache *c)
{
	size_t n = c->nbuckets * 2;
	struct entry **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct entry *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

int dnscache_new(size_t max_entries, size_t max_bytes, uint64_t seed,
		 struct dnscache **out)
{
	struct dnscache *c;

	if (!max_entries || !max_bytes)
		return WEFT_ERR_INVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return WEFT_ERR_NOMEM;
	c->nbuckets = 64;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return WEFT_ERR_NOMEM;
	}
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	c->seed = seed;
	*out = c;
	return 0;
}

void dnscache_flush(struct dnscache *c)
{
	while (c->head)
		drop_entry(c, c->head);
}

void dnscache_del(struct dnscache *c)
{
	if (!c)
		return;
	dnscache_flush(c);
	free(c->buckets);
	free(c);
}

static struct entry *entry_make(const struct dnscache_put *p, size_t nlen,
				uint64_t h, uint32_t ttl, int64_t now_ms)
{
	struct entry *e = calloc(1, sizeof(*e) + nlen + 1);

	if (!e)
		return NULL;
	e->msg = malloc(p->len);
	e->offs = malloc((p->nttl ? p->nttl : 1) * sizeof(*e->offs));
	e->ttls = malloc((p->nttl ? p->nttl : 1) * sizeof(*e->ttls));
	if (!e->msg || !e->offs || !e->ttls) {
		entry_free(e);
		return NULL;
	}
	for (size_t i = 0; i < nlen; i++)
		e->name[i] = lower(p->name[i]);
	memcpy(e->msg, p->msg, p->len);
	e->len = p->len;
	e->nttl = p->nttl;
	for (size_t i = 0; i < p->nttl; i++) {
		uint32_t t = be_get32(p->msg + p->ttl_offsets[i]);

		e->offs[i] = p->ttl_offsets[i];
		/* A record never shows more than the entry lives. */
		e->ttls[i] = t > ttl ? ttl : t;
	}
	e->hash = h;
	e->type = p->type;
	e->qclass = p->qclass;
	e->stored_ms = now_ms;
	e->expires_ms = now_ms + (int64_t)ttl * 1000;
	return e;
}

int dnscache_put(struct dnscache *c, const struct dnscache_put *p,
		 int64_t now_ms)
{
	size_t nlen = strlen(p->name);
	uint32_t ttl = p->ttl, max = p->negative ? DNSCACHE_NEG_TTL_MAX
						 : DNSCACHE_TTL_MAX;
	struct entry **pp, *e;
	uint64_t h;

	if (nlen > NAME_MAX_WIRE || p->len > DNSCACHE_MSG_MAX || !p->len ||
	    p->nttl > DNSCACHE_TTLS_MAX)
		return WEFT_ERR_INVAL;
	for (size_t i = 0; i < p->nttl; i++)
		if (p->len < 4 || p->ttl_offsets[i] > p->len - 4)
			return WEFT_ERR_INVAL;
	if (p->len > c->max_bytes)
		return WEFT_ERR_TOOBIG;
	if (!ttl)
		return 0;
	if (ttl > max)
		ttl = max;
	h = key_hash(c->seed, p->name, p->type, p->qclass);
	e = entry_make(p, nlen, h, ttl, now_ms);
	if (!e)
		return WEFT_ERR_NOMEM;
	pp = slot_of(c, p->name, p->type, p->qclass, h);
	if (*pp)
		drop(c, pp);
	while (c->tail && (c->st.entries + 1 > c->max_entries ||
			   c->st.bytes + e->len > c->max_bytes)) {
		drop_entry(c, c->tail);
		c->st.evictions++;
	}
	if (c->st.entries + 1 > c->nbuckets)
		grow(c);
	pp = &c->buckets[h & (c->nbuckets - 1)];
	e->hnext = *pp;
	*pp = e;
	list_push(c, e);
	c->st.entries++;
	c->st.bytes += entry_bytes(e);
	c->st.inserts++;
	return 0;
}

int dnscache_get(struct dnscache *c, const char *name, uint16_t type,
		 uint16_t qclass, int64_t now_ms, uint8_t *buf, size_t cap,
		 size_t *len)
{
	uint64_t h = key_hash(c->seed, name, type, qclass);
	struct entry **pp = slot_of(c, name, type, qclass, h), *e = *pp;
	uint32_t elapsed;

	if (!e) {
		c->st.misses++;
		return WEFT_ERR_NOTFOUND;
	}
	if (now_ms >= e->expires_ms) {
		drop(c, pp);
		c->st.expired++;
		c->st.misses++;
		return WEFT_ERR_NOTFOUND;
	}
	if (e->len > cap)
		return WEFT_ERR_TOOBIG;
	elapsed = now_ms > e->stored_ms ?
		(uint32_t)((now_ms - e->stored_ms) / 1000) : 0;
	memcpy(buf, e->msg, e->len);
	for (size_t i = 0; i < e->nttl; i++)
		be_put32(buf + e->offs[i],
			 e->ttls[i] > elapsed ? e->ttls[i] - elapsed : 0);
	*len = e->len;
	list_unlink(c, e);
	list_push(c, e);
	c->st.hits++;
	return 0;
}

void dnscache_stats(const struct dnscache *c, struct dnscache_stats *out)
{
	*out = c->st;
}

uint32_t dnscache_neg_ttl(int has_soa, uint32_t soa_ttl, uint32_t soa_minimum)
{
	uint32_t t = DNSCACHE_NEG_TTL_DEFAULT;

	if (has_soa)
		t = soa_ttl < soa_minimum ? soa_ttl : soa_minimum;
	return t > DNSCACHE_NEG_TTL_MAX ? DNSCACHE_NEG_TTL_MAX : t;
}
