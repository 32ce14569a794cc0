#include "controller/ratelimit.h"

#include "shared/err.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SIZE 80
#define PROBES 8

struct bucket {
	char key[KEY_SIZE]; /* "" = free */
	int64_t tokens;     /* whole tokens at `at` */
	int64_t at;         /* when tokens was last brought up to date */
};

struct ratelimit {
	pthread_mutex_t mu;
	int burst, refill_s;
	size_t n;
	struct bucket *b;
};

int ratelimit_new(int burst, int refill_s, size_t slots,
		  struct ratelimit **out)
{
	struct ratelimit *rl;

	if (burst < 1 || refill_s < 1 || slots < 1)
		return WEFT_ERR_INVAL;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return WEFT_ERR_NOMEM;
	rl->b = calloc(slots, sizeof(*rl->b));
	if (!rl->b) {
		free(rl);
		return WEFT_ERR_NOMEM;
	}
	pthread_mutex_init(&rl->mu, NULL);
	rl->burst = burst;
	rl->refill_s = refill_s;
	rl->n = slots;
	*out = rl;
	return 0;
}

void ratelimit_del(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl->b);
	free(rl);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Brings b's tokens up to now. */
static void refill(const struct ratelimit *rl, struct bucket *b, int64_t now)
{
	int64_t gained;

	if (now <= b->at)
		return;
	gained = (now - b->at) / rl->refill_s;
	if (b->tokens + gained >= rl->burst) {
		b->tokens = rl->burst;
		b->at = now;
	} else {
		b->tokens += gained;
		b->at += gained * rl->refill_s;
	}
}

/* key's bucket, or NULL when it has none and create is false. A new
 * bucket takes a free slot among the probed ones, else the one brought up
 * to date longest ago. */
static struct bucket *find(struct ratelimit *rl, const char *key, int64_t now,
			   bool create)
{
	struct bucket *free_slot = NULL, *oldest = NULL, *victim;
	char k[KEY_SIZE];
	size_t start;

	snprintf(k, sizeof(k), "%s", key); /* long keys: their prefix */
	start = (size_t)(hash(k) % rl->n);
	for (size_t i = 0; i < PROBES && i < rl->n; i++) {
		struct bucket *b = &rl->b[(start + i) % rl->n];

		if (!b->key[0]) {
			if (!free_slot)
				free_slot = b;
		} else if (strcmp(b->key, k) == 0) {
			return b;
		} else if (!oldest || b->at < oldest->at) {
			oldest = b;
		}
	}
	victim = free_slot ? free_slot : oldest;
	if (!create || !victim)
		return NULL;
	snprintf(victim->key, sizeof(victim->key), "%s", k);
	victim->tokens = rl->burst;
	victim->at = now;
	return victim;
}

int ratelimit_check(struct ratelimit *rl, const char *key, int64_t now)
{
	struct bucket *b;
	int wait = 0;

	pthread_mutex_lock(&rl->mu);
	b = find(rl, key, now, false);
	if (b) {
		refill(rl, b, now);
		if (b->tokens < 1)
			wait = (int)(b->at + rl->refill_s - now);
		if (b->tokens < 1 && wait < 1)
			wait = 1;
	}
	pthread_mutex_unlock(&rl->mu);
	return wait;
}

void ratelimit_fail(struct ratelimit *rl, const char *key, int64_t now)
{
	struct bucket *b;

	pthread_mutex_lock(&rl->mu);
	b = find(rl, key, now, true);
	if (b) {
		refill(rl, b, now);
		if (b->tokens > 0)
			b->tokens--;
	}
	pthread_mutex_unlock(&rl->mu);
}
