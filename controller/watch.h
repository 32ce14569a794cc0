/* Watchers of the node list: the admin UI's long-poll for "something about
 * the nodes changed" (GET /api/v1/nodes/watch).
 *
 * A watcher that has seen an older version than the current one is
 * answered at once; one that is current is held (its connection suspended,
 * no thread waits) until the version advances or its wait ends. Answers
 * are {"version": N, "changed": true|false}; the client then reads the
 * list through GET /api/v1/nodes, whose visibility rules apply as always.
 * The version is the change feed's (renames, tags, online/offline,
 * registrations, expiry, deletion all advance it).
 *
 * Bounded: at most WATCH_PER_CALLER held per caller and WATCH_MAX in all;
 * more are refused with 429. Thread-safe. */
#ifndef WEFT_WATCH_H
#define WEFT_WATCH_H

#include "controller/http.h"

#include <stdint.h>

#define WATCH_PER_CALLER 4
#define WATCH_MAX 1024
#define WATCH_WAIT_MAX_S 55

struct watch;

int watch_new(struct watch **out);
/* Answers every held watcher ("shutting down") and frees. NULL ok. */
void watch_free(struct watch *w);

/* Answers or holds a watch of caller (any number that tells callers
 * apart) that has seen version since, for at most wait_ms. Fills resp
 * with the answer or sets resp->hold. now_ms is a monotonic clock. */
void watch_request(struct watch *w, int64_t caller, int64_t since,
		   int64_t wait_ms, int64_t now_ms, struct http_resp *resp);

/* The feed reached version: answers every held watcher "changed". */
void watch_advance(struct watch *w, int64_t version);

/* Answers watchers whose wait has ended "not changed". */
void watch_expire(struct watch *w, int64_t now_ms);

/* Answers every held watcher 503 and refuses later ones. */
void watch_drain(struct watch *w);

/* Watchers held right now. */
size_t watch_held(struct watch *w);

#endif
