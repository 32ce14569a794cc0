/* Private to the long-poll hub (controller/hub*.c): its state and the
 * functions its files call across each other. Nothing outside
 * controller/hub*.c includes this.
 *
 *   hub.c       lifecycle, the change feed (reading and applying it), the
 *               online/offline writes, the tick
 *   hub_poll.c  the held polls: nodes, waiters, the deadline heap, the
 *               answers and their relay tokens, hub_map_request
 *
 * "Under lock" means with struct hub's lock held. */
#ifndef WEFT_HUB_INTERNAL_H
#define WEFT_HUB_INTERNAL_H

#include "controller/hub.h"
#include "shared/clock.h"
#include "shared/idmap.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* One held poll. */
struct waiter {
	int64_t node_id;
	int64_t since;
	int64_t deadline_ms;
	size_t heap_idx;
	struct http_hold *hold; /* the hub's reference */
	struct waiter *next;    /* the node's other waiters */
};

/* What the hub knows of a node that polls this replica. */
struct hnode {
	int64_t id;
	struct waiter *waiters;
	int64_t last_active_ms;   /* last poll started or answered */
	int64_t last_seen_write_ms;
	bool db_online;           /* what the database says, as far as we know */
	bool touch_queued;
	bool want_online;
	bool removed;             /* deleted or expired: answer polls 410 */
	int64_t presence_ms;      /* last answer that only had presence news */
	char *token;
	int64_t token_iat, token_exp;
};

struct hub {
	struct store *st;
	struct hub_options o;
	char *signing_key;
	char *dns_suffix;

	pthread_mutex_t lock; /* everything below */
	struct netmap *nm;
	struct idmap nodes;   /* id → struct hnode */
	struct idmap unknown; /* id → hnode holding a poll the engine could
			       * not answer yet (registered moments ago) */
	struct idmap deferred; /* id → hnode holding a poll whose news are
				* only presence, answered when its presence
				* interval has passed (flush_deferred) */
	struct watch *watch;  /* node-list watchers (own lock) */
	struct waiter **heap; /* min-heap by deadline_ms */
	size_t nheap, capheap;
	int64_t applied;      /* last change version applied */
	bool stopping;
	struct hub_stats stats;
	int64_t *touch;       /* node ids with a queued touch */
	size_t ntouch, captouch;

	/* Only the hub thread touches these. */
	struct loop *loop;
	struct loop_timer *coalesce, *feedpoll, *tick;
	struct feedlisten *listen;
	pthread_t thread;
	bool started;
	unsigned ticks;
	uint64_t answered_tick;  /* stats.answered at the last tick */
	uint64_t answered_trim;  /* stats.answered at the last malloc_trim */
};

static inline int64_t hub_now_ms(void)
{
	return clock_mono_ms();
}

/* The hub's state of node id, created when create is set; NULL when it
 * is unknown (or out of memory). Under lock. */
struct hnode *hub_node_get(struct hub *h, int64_t id, bool create);

/* Frees a node's state; the caller has taken it out of h->nodes. NULL
 * ok. */
void hub_node_free(struct hnode *n);

/* Queues a write of n's online state (and last_seen when online) for the
 * next flush of touches. Under lock. */
void hub_queue_touch(struct hub *h, struct hnode *n, bool online);

/* Answers every waiter of n whose map has news for it (or, when n is
 * removed, with the removal error). Under lock. */
void hub_answer_node(struct hub *h, struct hnode *n);

/* Answers the polls whose keep-alive deadline is at or before now. Under
 * lock. */
void hub_expire_polls(struct hub *h, int64_t now);

/* Renews, without the lock, the relay tokens of the polls whose deadline
 * has come. Hub thread. */
void hub_renew_due(struct hub *h, int64_t now);

#endif
