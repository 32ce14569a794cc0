/* The stub resolver's answer cache (docs/dns.md, "The stub resolver"):
 * upstream answers kept as wire messages, keyed by (name, type, class),
 * positive and negative (NXDOMAIN, NODATA) alike.
 *
 * An entry holds the message as the upstream sent it and the offsets of
 * the TTL fields of its records (the caller finds them with its codec);
 * a hit returns a copy whose TTLs are lowered by the seconds the entry has
 * been kept, so a client never sees a TTL longer than what is left. An
 * entry dies when its TTL runs out; the cache holds at most max_entries
 * entries and max_bytes bytes of messages, evicting the least recently
 * used. Names are compared case-insensitively.
 *
 * Pure code: the caller passes the time (monotonic ms). Not thread-safe. */
#ifndef WEFT_AGENT_DNSCACHE_H
#define WEFT_AGENT_DNSCACHE_H

#include <stddef.h>
#include <stdint.h>

/* Bounds of the TTL an entry is kept for, in seconds: answers with a
 * longer TTL are kept this long (and their TTLs shown no higher), negative
 * answers at most DNSCACHE_NEG_TTL_MAX (RFC 2308 suggests hours; a name
 * that starts to exist should not stay hidden that long). */
#define DNSCACHE_TTL_MAX 86400
#define DNSCACHE_NEG_TTL_MAX 900
/* Negative TTL when the answer carries no SOA. */
#define DNSCACHE_NEG_TTL_DEFAULT 60
#define DNSCACHE_MSG_MAX 65535
#define DNSCACHE_TTLS_MAX 512     /* TTL fields of one message */

struct dnscache;

struct dnscache_stats {
	size_t entries, bytes;
	uint64_t hits, misses, inserts, evictions, expired;
};

/* One answer to keep. ttl is what the caller derived: the smallest TTL of
 * the answer's records for a positive answer, dnscache_neg_ttl() for a
 * negative one. 0 means "do not keep". */
struct dnscache_put {
	const char *name;             /* query name, no trailing dot */
	uint16_t type, qclass;
	const uint8_t *msg;
	size_t len;
	const uint16_t *ttl_offsets;  /* each < len - 3, 4-byte big endian */
	size_t nttl;
	uint32_t ttl;
	int negative;                 /* for DNSCACHE_NEG_TTL_MAX */
};

/* Creates a cache with these bounds (both > 0) and hash seed. Returns 0
 * and *out, WEFT_ERR_INVAL or WEFT_ERR_NOMEM. */
int dnscache_new(size_t max_entries, size_t max_bytes, uint64_t seed,
		 struct dnscache **out);

/* Frees c and every entry. NULL is fine. */
void dnscache_del(struct dnscache *c);

/* Stores (replaces) the entry for (name, type, qclass). Returns 0,
 * WEFT_ERR_INVAL for a bad offset, a name longer than 255 bytes or a
 * message beyond DNSCACHE_MSG_MAX, WEFT_ERR_TOOBIG when the message alone
 * exceeds max_bytes, or WEFT_ERR_NOMEM (the cache is unchanged then). A
 * zero ttl stores nothing and returns 0. */
int dnscache_put(struct dnscache *c, const struct dnscache_put *p,
		 int64_t now_ms);

/* Looks (name, type, qclass) up. On a hit copies the message into buf
 * (cap bytes) with every TTL lowered by the whole seconds elapsed since it
 * was stored, stores its length in *len and returns 0. Returns
 * WEFT_ERR_NOTFOUND on a miss (an expired entry is dropped) or
 * WEFT_ERR_TOOBIG when cap is too small. The caller sets the message ID. */
int dnscache_get(struct dnscache *c, const char *name, uint16_t type,
		 uint16_t qclass, int64_t now_ms, uint8_t *buf, size_t cap,
		 size_t *len);

/* Drops every entry (the counters stay). */
void dnscache_flush(struct dnscache *c);

void dnscache_stats(const struct dnscache *c, struct dnscache_stats *out);

/* The negative-caching TTL of RFC 2308: min(SOA record TTL, SOA minimum)
 * when the answer's authority section has a SOA (has_soa), else
 * DNSCACHE_NEG_TTL_DEFAULT; at most DNSCACHE_NEG_TTL_MAX. */
uint32_t dnscache_neg_ttl(int has_soa, uint32_t soa_ttl, uint32_t soa_minimum);

#endif
