/* Finds the TTL fields of a DNS message for the stub's cache
 * (agent/dnscache.h): their offsets, the smallest answer TTL and the SOA
 * of a negative answer. It walks records by their framing only (names are
 * skipped, not read); decoding stays in shared/dnswire.h, which has
 * checked the message before. Pure code. */
#ifndef WEFT_AGENT_DNSTTL_H
#define WEFT_AGENT_DNSTTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dnsttl {
	uint16_t *offs;               /* caller's array, max entries */
	size_t max, n;
	uint32_t min_answer_ttl;      /* UINT32_MAX without answers */
	size_t nanswers;
	bool has_soa;                 /* an SOA in the authority section */
	uint32_t soa_ttl, soa_minimum;
};

/* Scans p[0..n): every record's TTL offset except the OPT record's (whose
 * TTL field holds flags). Returns 0, WEFT_ERR_PARSE when the framing is
 * broken, WEFT_ERR_TOOBIG for more than t->max records. */
int dnsttl_scan(const uint8_t *p, size_t n, struct dnsttl *t);

#endif
