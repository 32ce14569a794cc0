/* TTL offsets of a DNS message (agent/dnsttl.h). */
#include "agent/dnsttl.h"

#include "shared/be.h"
#include "shared/err.h"

#define T_SOA 6
#define T_OPT 41

/* The offset after the name at off, or 0 when it runs past n. */
static size_t skip_name(const uint8_t *p, size_t n, size_t off)
{
	while (off < n) {
		uint8_t len = p[off];

		if ((len & 0xc0) == 0xc0)
			return off + 2 <= n ? off + 2 : 0;
		if (len & 0xc0)
			return 0;
		off += 1u + len;
		if (!len)
			return off;
	}
	return 0;
}

int dnsttl_scan(const uint8_t *p, size_t n, struct dnsttl *t)
{
	size_t off = 12;
	unsigned counts[4];

	t->n = t->nanswers = 0;
	t->min_answer_ttl = UINT32_MAX;
	t->has_soa = false;
	if (n < 12)
		return WEFT_ERR_PARSE;
	for (int i = 0; i < 4; i++)
		counts[i] = be_get16(p + 4 + 2 * i);
	for (unsigned q = 0; q < counts[0]; q++) {
		off = skip_name(p, n, off);
		if (!off || off + 4 > n)
			return WEFT_ERR_PARSE;
		off += 4;
	}
	for (int sec = 1; sec < 4; sec++) {
		for (unsigned i = 0; i < counts[sec]; i++) {
			uint16_t type, rdlen;
			uint32_t ttl;

			off = skip_name(p, n, off);
			if (!off || off + 10 > n)
				return WEFT_ERR_PARSE;
			type = be_get16(p + off);
			ttl = be_get32(p + off + 4);
			rdlen = be_get16(p + off + 8);
			if (off + 10 + rdlen > n)
				return WEFT_ERR_PARSE;
			if (type != T_OPT) {
				if (t->n == t->max || off + 4 > UINT16_MAX)
					return WEFT_ERR_TOOBIG;
				t->offs[t->n++] = (uint16_t)(off + 4);
			}
			if (sec == 1) {
				t->nanswers++;
				if (ttl < t->min_answer_ttl)
					t->min_answer_ttl = ttl;
			}
			if (sec == 2 && type == T_SOA && rdlen >= 22) {
				t->has_soa = true;
				t->soa_ttl = ttl;
				t->soa_minimum = be_get32(p + off + 10 +
							  rdlen - 4);
			}
			off += 10u + rdlen;
		}
	}
	return off == n ? 0 : WEFT_ERR_PARSE;
}
