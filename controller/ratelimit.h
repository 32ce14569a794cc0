/* Token buckets keyed by short strings (a user name, a client address):
 * login failures are limited per user and per address.
 *
 * A bucket holds up to burst tokens and gains one every refill_s seconds.
 * A check only looks; a failure takes a token. An empty bucket refuses
 * until its next token, and the check says after how many seconds. The
 * table has a fixed number of slots: when it is full a new key takes the
 * slot of the key that was refilled longest ago (a flood of new addresses
 * can push an old one out, which only forgives it). Thread-safe. */
#ifndef WEFT_RATELIMIT_H
#define WEFT_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* burst >= 1 tokens, one more each refill_s >= 1 seconds, slots >= 1 keys
 * remembered. Returns 0 or WEFT_ERR_NOMEM/INVAL. */
int ratelimit_new(int burst, int refill_s, size_t slots,
		  struct ratelimit **out);
void ratelimit_del(struct ratelimit *rl);

/* 0 when key may try now (unix seconds), else the seconds until it may. */
int ratelimit_check(struct ratelimit *rl, const char *key, int64_t now);

/* Takes a token from key's bucket. */
void ratelimit_fail(struct ratelimit *rl, const char *key, int64_t now);

#endif
