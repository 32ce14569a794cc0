/* Token buckets; see limits.h. */
#include "relay/limits.h"

#include "shared/err.h"

#include <stdlib.h>
#include <string.h>

#define MICRO 1000000ull
#define LIMIT_MAX 10000000ul

static int parse_u32(const char *s, size_t n, unsigned long min,
		     unsigned long max, uint32_t *out)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 8 || (n > 1 && s[0] == '0'))
		return WEFT_ERR_PARSE;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return WEFT_ERR_PARSE;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < min || v > max)
		return WEFT_ERR_PARSE;
	*out = (uint32_t)v;
	return 0;
}

int limits_rate_parse(const char *s, struct limits_rate *out)
{
	const char *slash;
	struct limits_rate r;

	if (!s)
		return WEFT_ERR_PARSE;
	slash = strchr(s, '/');
	if (parse_u32(s, slash ? (size_t)(slash - s) : strlen(s), 0,
		      LIMIT_MAX, &r.rate) < 0)
		return WEFT_ERR_PARSE;
	if (slash) {
		if (parse_u32(slash + 1, strlen(slash + 1), 1, LIMIT_MAX,
			      &r.burst) < 0)
			return WEFT_ERR_PARSE;
	} else {
		r.burst = r.rate ? r.rate : 1;
	}
	*out = r;
	return 0;
}

void limits_bucket_init(struct limits_bucket *b, const struct limits_rate *r,
			int64_t now_us)
{
	b->micro = (uint64_t)r->burst * MICRO;
	b->last_us = now_us;
}

bool limits_bucket_take(struct limits_bucket *b, const struct limits_rate *r,
			int64_t now_us)
{
	uint64_t cap = (uint64_t)r->burst * MICRO;

	if (r->rate == 0)
		return true;
	if (now_us > b->last_us) {
		/* Cap the elapsed time at what fills the bucket from empty
		 * so the product cannot overflow. */
		uint64_t dt = (uint64_t)(now_us - b->last_us);
		uint64_t fill_us = cap / r->rate + 1;

		if (dt > fill_us)
			dt = fill_us;
		b->micro += dt * r->rate;
		if (b->micro > cap)
			b->micro = cap;
		b->last_us = now_us;
	}
	if (b->micro < MICRO)
		return false;
	b->micro -= MICRO;
	return true;
}
