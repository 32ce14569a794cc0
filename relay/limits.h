/* Token buckets for the relay's per-node limits (forwarded frames,
 * signals, PEER_GONE notices) and the handshake rate that switches Retry
 * on. Pure arithmetic on a caller-supplied monotonic clock: no I/O, no
 * allocation, no floating point.
 *
 * A bucket holds up to `burst` tokens and refills at `rate` tokens per
 * second; each event takes one token. Tokens are kept in millionths so a
 * refill of less than one token per microsecond is still exact enough. */
#ifndef WEFT_RELAY_LIMITS_H
#define WEFT_RELAY_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

/* A rate limit: rate events per second with bursts of up to burst
 * events. rate 0 means unlimited. */
struct limits_rate {
	uint32_t rate;
	uint32_t burst;
};

/* A bucket's state. Plain value: embed it, copy it. */
struct limits_bucket {
	uint64_t micro; /* tokens * 1e6 */
	int64_t last_us;
};

/* Parses "RATE" or "RATE/BURST" (decimal, RATE 0..10000000, BURST
 * 1..10000000; without /BURST the burst equals the rate, at least 1) into
 * *out. Returns 0 or WEFT_ERR_PARSE (*out untouched). */
int limits_rate_parse(const char *s, struct limits_rate *out);

/* Starts b full at time now_us. */
void limits_bucket_init(struct limits_bucket *b, const struct limits_rate *r,
			int64_t now_us);

/* Refills b for the time since the last call and takes one token.
 * Returns true when the event may pass, false when it must be dropped.
 * A clock that goes backwards refills nothing. Always true for rate 0. */
bool limits_bucket_take(struct limits_bucket *b, const struct limits_rate *r,
			int64_t now_us);

#endif
