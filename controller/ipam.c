#include "controller/ipam.h"

#include "controller/resource.h"
#include "shared/err.h"
#include "shared/rand.h"

#include <stdlib.h>
#include <string.h>

/* Tailscale-style "quad 100" service address; kept free so a DNS or
 * metadata service can live there later without renumbering anyone. */
#define RESERVED4 "100.100.100.100"

/* At most the whole /10 is probed. Each probe is one indexed lookup, and in
 * practice the first candidate after the last one handed out is free. */
#define MAX_PROBE (1u << 22)

struct probe {
	struct store_tx *tx;
	struct ip_addr reserved;
	int err;
};

/* A store error stops the search: the address is reported free, the error
 * is remembered and the caller discards the result. */
static bool in_use(const struct ip_addr *a, void *ctx)
{
	struct probe *p = ctx;
	struct store_node n;
	char text[IP_ADDR_STRLEN];
	int rc;

	if (ip_addr_eq(a, &p->reserved) || ipam_is_mapped4(a))
		return true;
	rc = ip_addr_format(a, text, sizeof(text));
	if (rc == 0)
		rc = store_node_get_by_ipv4(p->tx, text, &n);
	if (rc == WEFT_ERR_NOTFOUND)
		return false;
	if (rc < 0) {
		p->err = rc;
		return false;
	}
	return true;
}

int ipam_ula48(struct store_tx *tx, struct ip_prefix *out)
{
	char text[STORE_CIDR_SIZE];
	struct ip_prefix p = {0};
	int rc;

	rc = store_setting_get(tx, IPAM_KEY_ULA48, text, sizeof(text));
	if (rc == 0) {
		if (ip_prefix_parse(text, &p, IP_PREFIX_STRICT) < 0 ||
		    p.addr.family != 6 || p.len != 48 || p.addr.b[0] != 0xfd)
			return WEFT_ERR_INTERNAL;
		*out = p;
		return 0;
	}
	if (rc != WEFT_ERR_NOTFOUND)
		return rc;
	/* RFC 4193 §3.2: fd00::/8 followed by a 40-bit random Global ID. */
	p.addr.family = 6;
	p.addr.b[0] = 0xfd;
	rc = rand_bytes(&p.addr.b[1], 5);
	if (rc < 0)
		return rc;
	p.len = 48;
	rc = ip_prefix_format(&p, text, sizeof(text));
	if (rc < 0)
		return rc;
	rc = store_setting_set(tx, IPAM_KEY_ULA48, text);
	if (rc < 0)
		return rc;
	*out = p;
	return 0;
}

int ipam_assign(struct store_tx *tx, char ipv4[STORE_IP_SIZE],
		char ipv6[STORE_IP_SIZE])
{
	struct probe pr = {.tx = tx};
	struct ip_prefix pool, ula;
	struct ip_addr last, a4, a6;
	const struct ip_addr *after = NULL;
	char text4[STORE_IP_SIZE], text6[STORE_IP_SIZE];
	int rc;

	if (ip_prefix_parse(IPAM_POOL4, &pool, IP_PREFIX_STRICT) < 0 ||
	    ip_addr_parse(RESERVED4, &pr.reserved) < 0)
		return WEFT_ERR_INTERNAL;
	rc = ipam_ula48(tx, &ula);
	if (rc < 0)
		return rc;
	rc = store_setting_get(tx, IPAM_KEY_LAST4, text4, sizeof(text4));
	if (rc == 0) {
		/* A value outside the pool restarts at its beginning, which
		 * ip_alloc_next does by itself. */
		if (ip_addr_parse(text4, &last) < 0)
			return WEFT_ERR_INTERNAL;
		after = &last;
	} else if (rc != WEFT_ERR_NOTFOUND) {
		return rc;
	}
	rc = ip_alloc_next(&pool, after, in_use, &pr, MAX_PROBE, &a4);
	if (pr.err < 0)
		return pr.err;
	if (rc < 0)
		return rc;
	a6 = ula.addr;
	memcpy(&a6.b[12], a4.b, 4);
	if (ip_addr_format(&a4, text4, sizeof(text4)) < 0 ||
	    ip_addr_format(&a6, text6, sizeof(text6)) < 0)
		return WEFT_ERR_INTERNAL;
	rc = store_setting_set(tx, IPAM_KEY_LAST4, text4);
	if (rc < 0)
		return rc;
	memcpy(ipv4, text4, sizeof(text4));
	memcpy(ipv6, text6, sizeof(text6));
	return 0;
}

/* --- mapped prefixes of DNS and wildcard resources --- */

bool ipam_is_mapped4(const struct ip_addr *a)
{
	struct ip_prefix p;

	return ip_prefix_parse(IPAM_MAPPED4, &p, IP_PREFIX_STRICT) == 0 &&
	       ip_prefix_contains(&p, a);
}

static uint32_t v4_u32(const struct ip_addr *a)
{
	return (uint32_t)a->b[0] << 24 | (uint32_t)a->b[1] << 16 |
	       (uint32_t)a->b[2] << 8 | a->b[3];
}

static struct ip_addr u32_v4(uint32_t v)
{
	struct ip_addr a = {.family = 4};

	a.b[0] = (uint8_t)(v >> 24);
	a.b[1] = (uint8_t)(v >> 16);
	a.b[2] = (uint8_t)(v >> 8);
	a.b[3] = (uint8_t)v;
	return a;
}

/* One kind of mapped prefix: where its slots are and how big each is. */
struct mapkind {
	struct ip_prefix range;
	uint8_t len4, len6;
	uint32_t nslots;
};

static int mapkind_of(enum resource_type t, struct mapkind *k)
{
	const char *range = t == RESOURCE_DNS ? IPAM_MAPPED4_DNS
					      : IPAM_MAPPED4_WILD;

	if (ip_prefix_parse(range, &k->range, IP_PREFIX_STRICT) < 0)
		return WEFT_ERR_INTERNAL;
	k->len4 = t == RESOURCE_DNS ? 32 : 24;
	k->len6 = t == RESOURCE_DNS ? 128 : 120;
	k->nslots = 1u << (k->len4 - k->range.len);
	return 0;
}

/* The slot of a stored mapped IPv4 prefix of kind k, or -1. */
static int64_t slot_of(const struct mapkind *k, const char *text)
{
	struct ip_prefix p;

	if (!text[0] || ip_prefix_parse(text, &p, IP_PREFIX_STRICT) < 0 ||
	    p.addr.family != 4 || p.len != k->len4 ||
	    !ip_prefix_contains(&k->range, &p.addr))
		return -1;
	return (int64_t)((v4_u32(&p.addr) - v4_u32(&k->range.addr)) >>
			 (32 - k->len4));
}

/* The IPv4 and IPv6 prefixes of slot i of kind k. */
static int slot_text(const struct mapkind *k, const struct ip_prefix *ula,
		     uint32_t i, char v4[STORE_CIDR_SIZE],
		     char v6[STORE_CIDR_SIZE])
{
	struct ip_prefix p4 = {.len = k->len4}, p6 = {.len = k->len6};

	p4.addr = u32_v4(v4_u32(&k->range.addr) + (i << (32 - k->len4)));
	p6.addr = ula->addr;
	p6.addr.b[6] = (uint8_t)(IPAM_MAPPED6_SUBNET >> 8);
	p6.addr.b[7] = (uint8_t)IPAM_MAPPED6_SUBNET;
	memset(&p6.addr.b[8], 0, 4);
	memcpy(&p6.addr.b[12], p4.addr.b, 4);
	if (ip_prefix_format(&p4, v4, STORE_CIDR_SIZE) < 0 ||
	    ip_prefix_format(&p6, v6, STORE_CIDR_SIZE) < 0)
		return WEFT_ERR_INTERNAL;
	return 0;
}

struct used_ctx {
	const struct mapkind *k;
	int64_t self;
	uint8_t *bits;
};

static int mark_used(void *ctx, const struct store_resource *r)
{
	struct used_ctx *u = ctx;
	int64_t i = slot_of(u->k, r->mapped_ipv4);

	if (r->id != u->self && i >= 0)
		u->bits[i / 8] |= (uint8_t)(1u << (i % 8));
	return 0;
}

int ipam_resource_map(struct store_tx *tx, struct store_resource *r)
{
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct used_ctx u = {0};
	struct mapkind k;
	struct ip_prefix ula;
	enum resource_type t;
	char v4[STORE_CIDR_SIZE], v6[STORE_CIDR_SIZE];
	int64_t next = 0, cur;
	int rc;

	if (resource_address_type(r->address, &t) < 0 ||
	    (t != RESOURCE_DNS && t != RESOURCE_WILDCARD)) {
		r->mapped_ipv4[0] = r->mapped_ipv6[0] = '\0';
		return 0;
	}
	if ((rc = mapkind_of(t, &k)) < 0 || (rc = ipam_ula48(tx, &ula)) < 0)
		return rc;
	cur = slot_of(&k, r->mapped_ipv4);
	if (cur >= 0) {
		/* Stable: keep what it has, with the current ULA twin. */
		rc = slot_text(&k, &ula, (uint32_t)cur, v4, v6);
		goto done;
	}
	u.k = &k;
	u.self = r->id;
	u.bits = calloc(k.nslots / 8 + 1, 1);
	if (!u.bits)
		return WEFT_ERR_NOMEM;
	do {
		rc = store_resource_list(tx, &pg, mark_used, &u, &next);
		pg.after = next;
	} while (rc == 0 && next);
	/* Slot 0 of the DNS range is its network address: left out. */
	for (uint32_t i = t == RESOURCE_DNS ? 1 : 0; rc == 0; i++) {
		struct store_node n;
		char host[IP_ADDR_STRLEN];
		struct ip_prefix p;

		if (i >= k.nslots) {
			rc = WEFT_ERR_EXHAUSTED;
			break;
		}
		if (u.bits[i / 8] & (1u << (i % 8)))
			continue;
		if ((rc = slot_text(&k, &ula, i, v4, v6)) < 0)
			break;
		if (t != RESOURCE_DNS)
			break;
		/* A node numbered before the range was reserved keeps its
		 * address; skip it. */
		if (ip_prefix_parse(v4, &p, 0) < 0 ||
		    ip_addr_format(&p.addr, host, sizeof(host)) < 0) {
			rc = WEFT_ERR_INTERNAL;
			break;
		}
		rc = store_node_get_by_ipv4(tx, host, &n);
		if (rc == WEFT_ERR_NOTFOUND) {
			rc = 0;
			break;
		}
	}
	free(u.bits);
done:
	if (rc < 0)
		return rc;
	memcpy(r->mapped_ipv4, v4, sizeof(v4));
	memcpy(r->mapped_ipv6, v6, sizeof(v6));
	return 0;
}

struct ids_ctx {
	int64_t *v;
	size_t n, cap;
};

static int collect_unmapped(void *ctx, const struct store_resource *r)
{
	struct ids_ctx *c = ctx;
	enum resource_type t;

	if (r->mapped_ipv4[0] || resource_address_type(r->address, &t) < 0 ||
	    (t != RESOURCE_DNS && t != RESOURCE_WILDCARD))
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		int64_t *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return WEFT_ERR_NOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = r->id;
	return 0;
}

int ipam_resource_backfill(struct store_tx *tx, int *n)
{
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct ids_ctx ids = {0};
	int64_t next = 0;
	int rc;

	do {
		rc = store_resource_list(tx, &pg, collect_unmapped, &ids, &next);
		pg.after = next;
	} while (rc == 0 && next);
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		struct store_resource r;

		rc = store_resource_get(tx, ids.v[i], &r);
		if (rc == 0)
			rc = ipam_resource_map(tx, &r);
		if (rc == 0)
			rc = store_resource_update(tx, &r);
		if (rc == 0)
			rc = store_change_record(tx, "resource", r.id, NULL);
	}
	if (rc == 0 && n)
		*n = (int)ids.n;
	free(ids.v);
	return rc;
}
