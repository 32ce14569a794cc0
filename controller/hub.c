/* The long-poll hub's lifecycle and its change feed: reading the feed
 * (kick, LISTEN, fallback timer), applying it to the engine through
 * controller/mapfeed.h, answering the nodes it changed, writing the
 * online/offline state, and the tick. The held polls themselves are in
 * hub_poll.c. */
#include "controller/hub_internal.h"

#include "controller/feedlisten.h"
#include "controller/ipam.h"
#include "controller/mapfeed.h"
#include "controller/netmap.h"
#include "controller/relaykey.h"
#include "controller/store.h"
#include "controller/watch.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/idmap.h"
#include "shared/log.h"
#include "shared/loop.h"

#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_US (1000 * 1000)
#define FEED_BATCH 1000
/* Changed nodes answered per hold of the lock after a batch: between
 * chunks, map requests on HTTP threads get their turn. */
#define ANSWER_CHUNK 64

/* --- applying the change feed's rows --- */

/* Applies a staged change to the engine and to the hub's own state of
 * its node (under lock; no I/O). */
static int apply_staged(struct hub *h, struct mapfeed_change *s,
			struct netmap_dirty *dirty)
{
	struct hnode *hn = hub_node_get(h, s->id, false);

	if (s->kind == MAPFEED_NODE_GONE && hn) {
		/* Its held polls learn it is gone; later polls fail
		 * authentication, so its state can go too. */
		hn->removed = true;
		hub_answer_node(h, hn);
		idmap_del(&h->unknown, s->id);
		idmap_del(&h->deferred, s->id);
		idmap_del(&h->nodes, s->id);
		hub_node_free(hn);
	} else if (s->kind == MAPFEED_NODE && hn) {
		hn->removed = false;
		hn->db_online = s->online;
	}
	return mapfeed_apply(h->nm, s, dirty);
}

/* Creates the deployment's ULA /48 unless it exists, so that the DNS stub
 * has its IPv6 address (dnsstore_stub6) before the first node. */
static int make_ula(struct hub *h)
{
	struct store_tx *tx = NULL;
	struct ip_prefix ula;
	int rc = store_begin(h->st, STORE_WRITE, &tx);

	if (rc == 0)
		rc = ipam_ula48(tx, &ula);
	if (rc == 0)
		return store_commit(tx);
	store_rollback(tx);
	return rc;
}

/* Loads everything at one consistent version (one read transaction). */
static int load_all(struct hub *h, char *errmsg, size_t errlen)
{
	struct netmap_dirty dirty = {0};
	struct store_tx *tx = NULL;
	int64_t version;
	int rc;

	rc = store_begin(h->st, STORE_READ, &tx);
	if (rc == 0)
		rc = store_netmap_version(tx, &version);
	/* Before the hub thread and the server exist: no lock needed. */
	if (rc == 0)
		rc = mapfeed_load(tx, h->dns_suffix, h->nm, version, &dirty);
	if (rc == 0) {
		h->applied = version;
		h->stats.version = version;
	}
	if (rc < 0)
		snprintf(errmsg, errlen, "cannot load the network state: %s (%s)",
			 weft_strerror(rc), store_errmsg());
	store_rollback(tx);
	netmap_dirty_free(&dirty);
	return rc;
}

/* --- the change feed (hub thread) --- */

struct feed_ctx {
	struct store_change *v;
	size_t n, cap;
};

static int collect_change(void *ctx, const struct store_change *c)
{
	struct feed_ctx *f = ctx;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct store_change *v = realloc(f->v, cap * sizeof(*v));

		if (!v)
			return WEFT_ERR_NOMEM;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n++] = *c;
	return 0;
}

/* Applies one batch of changes; returns how many were applied (0 when the
 * feed is drained) or an error. */
static int apply_batch(struct hub *h)
{
	struct netmap_dirty dirty = {0};
	struct feed_ctx f = {0};
	struct store_tx *tx = NULL;
	int64_t after, oldest = 0;
	int rc;

	pthread_mutex_lock(&h->lock);
	after = h->applied;
	pthread_mutex_unlock(&h->lock);
	rc = store_begin(h->st, STORE_READ, &tx);
	if (rc < 0)
		return rc;
	rc = store_change_list(tx, after, FEED_BATCH, collect_change, &f);
	if (rc == 0 && f.n && f.v[0].version != after + 1)
		rc = store_change_oldest(tx, &oldest);
	if (rc < 0 || f.n == 0)
		goto out;
	if (oldest > after + 1) {
		/* Pruned past us (a replica that was down for long): the
		 * engine cannot catch up change by change. */
		log_warn("feed_gap", "applied=%" PRId64 " oldest=%" PRId64,
			 after, oldest);
	}
	/* Each change is read first (no lock) and then applied under the
	 * lock, which is held per change, not per batch: every change leaves
	 * the engine consistent, and map requests wait for one engine update
	 * at a time, never for the database. */
	for (size_t i = 0; i < f.n && rc == 0; i++) {
		const struct store_change *c = &f.v[i];
		struct mapfeed_change st;

		rc = mapfeed_stage(tx, h->dns_suffix, c->kind, c->version,
				   c->target_id, &st);
		pthread_mutex_lock(&h->lock);
		if (rc == 0)
			rc = apply_staged(h, &st, &dirty);
		if (rc == 0) {
			h->applied = c->version;
			h->stats.changes++;
		}
		h->stats.version = h->applied;
		pthread_mutex_unlock(&h->lock);
		mapfeed_change_free(&st);
	}
	/* Done with the database for this batch: the answers below need
	 * only the engine. */
	store_rollback(tx);
	tx = NULL;
	/* Answers render from the engine as it is now, which is at least as
	 * new as the change that dirtied the node; chunks keep each hold of
	 * the lock short. Nodes are looked up again under every hold. */
	for (size_t i = 0; i < dirty.n; i += ANSWER_CHUNK) {
		size_t end = i + ANSWER_CHUNK < dirty.n ? i + ANSWER_CHUNK
							 : dirty.n;

		pthread_mutex_lock(&h->lock);
		for (size_t k = i; k < end; k++) {
			struct hnode *n = hub_node_get(h, dirty.ids[k], false);

			if (n && n->waiters)
				hub_answer_node(h, n);
		}
		pthread_mutex_unlock(&h->lock);
	}
	/* The UI's node-list watchers learn of every applied change. */
	pthread_mutex_lock(&h->lock);
	after = h->applied;
	pthread_mutex_unlock(&h->lock);
	watch_advance(h->watch, after);
	pthread_mutex_lock(&h->lock);
	/* Nodes the engine did not know when they polled: few, and only
	 * until their registration reaches the engine. */
	if (h->unknown.n) {
		struct hnode *ready[64];
		size_t pos = 0, nready = 0;
		int64_t id;
		void *v;

		while (nready < 64 && idmap_next(&h->unknown, &pos, &id, &v))
			if (netmap_has_node(h->nm, id))
				ready[nready++] = v;
		for (size_t i = 0; i < nready; i++) {
			idmap_del(&h->unknown, ready[i]->id);
			if (ready[i]->waiters && !ready[i]->removed)
				hub_answer_node(h, ready[i]);
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (rc == 0)
		rc = (int)f.n;
out:
	store_rollback(tx);
	free(f.v);
	netmap_dirty_free(&dirty);
	return rc;
}

static void read_feed(struct hub *h)
{
	int rc;

	do {
		rc = apply_batch(h);
	} while (rc == FEED_BATCH);
	if (rc < 0) {
		char q[256];

		log_warn_err(rc, "feed_read_failed", "detail=%s",
			     log_q(q, sizeof(q), store_errmsg()));
	}
}

/* Answers the polls held back by presence_wait whose interval has passed,
 * in chunks like a batch's answers. */
static void flush_deferred(struct hub *h)
{
	int64_t *ready = NULL, t, id;
	size_t n = 0, pos = 0;
	void *v;

	pthread_mutex_lock(&h->lock);
	t = hub_now_ms();
	if (h->deferred.n)
		ready = malloc(h->deferred.n * sizeof(*ready));
	while (ready && idmap_next(&h->deferred, &pos, &id, &v))
		if (t - ((struct hnode *)v)->presence_ms >= h->o.presence_min_ms)
			ready[n++] = id;
	for (size_t i = 0; i < n; i++)
		idmap_del(&h->deferred, ready[i]);
	pthread_mutex_unlock(&h->lock);
	for (size_t i = 0; i < n; i += ANSWER_CHUNK) {
		size_t end = i + ANSWER_CHUNK < n ? i + ANSWER_CHUNK : n;

		pthread_mutex_lock(&h->lock);
		for (size_t k = i; k < end; k++) {
			struct hnode *hn = hub_node_get(h, ready[k], false);

			if (hn && hn->waiters)
				hub_answer_node(h, hn);
		}
		pthread_mutex_unlock(&h->lock);
	}
	free(ready);
}

static void on_coalesce(struct loop_timer *t, void *ctx)
{
	(void)t;
	read_feed(ctx);
}

static void kick_on_loop(void *ctx)
{
	struct hub *h = ctx;

	if (!loop_timer_active(h->coalesce))
		loop_timer_start(h->coalesce, h->o.coalesce_ms * 1000);
}

void hub_kick(struct hub *h)
{
	if (h)
		loop_post(h->loop, kick_on_loop, h);
}

static void on_feedpoll(struct loop_timer *t, void *ctx)
{
	struct hub *h = ctx;

	if (!loop_timer_active(h->coalesce))
		read_feed(h);
	flush_deferred(h);
	/* While notifications arrive, the poll is only a safety net. */
	loop_timer_start(t, (feedlisten_up(h->listen) ? h->o.listen_poll_ms
						      : h->o.feed_poll_ms) * 1000);
}

/* A notification is read within one coalescing window; a reconnect means
 * notifications were lost: read the whole feed now. */
static void on_notified(void *ctx, bool catch_up)
{
	struct hub *h = ctx;

	if (catch_up)
		read_feed(h);
	else
		kick_on_loop(h);
}

/* Writes queued online/last-seen updates in one transaction; online
 * transitions become change rows so peers learn of them. */
static void flush_touches(struct hub *h)
{
	struct store_tx *tx = NULL;
	int64_t *ids;
	bool *online;
	size_t n;
	int64_t wall = clock_wall_s(), t = hub_now_ms();
	bool changed = false;
	int rc;

	pthread_mutex_lock(&h->lock);
	n = h->ntouch;
	ids = h->touch;
	h->touch = NULL;
	h->ntouch = h->captouch = 0;
	online = n ? calloc(n, sizeof(*online)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct hnode *hn = hub_node_get(h, ids[i], false);

		if (hn) {
			hn->touch_queued = false;
			if (online)
				online[i] = hn->want_online;
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (!n || !online)
		goto out;
	rc = store_begin(h->st, STORE_WRITE, &tx);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct store_node sn;

		rc = store_node_get(tx, ids[i], &sn);
		if (rc == WEFT_ERR_NOTFOUND) {
			rc = 0;
			continue;
		}
		/* Another replica may hold this node's poll now: never mark
		 * a node offline whose last_seen is still fresh. */
		if (rc == 0 && !online[i] &&
		    sn.last_seen > wall - h->o.offline_grace_ms / 1000)
			continue;
		if (rc == 0)
			rc = store_node_touch(tx, ids[i],
					      online[i] ? wall : sn.last_seen,
					      online[i]);
		if (rc == 0 && sn.online != online[i]) {
			rc = store_change_record(tx, "node", ids[i], NULL);
			changed = true;
		}
	}
	if (rc == 0) {
		rc = store_commit(tx);
		tx = NULL;
	}
	if (rc < 0) {
		char q[256];

		log_warn_err(rc, "touch_failed", "count=%zu detail=%s", n,
			     log_q(q, sizeof(q), store_errmsg()));
		goto out;
	}
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < n; i++) {
		struct hnode *hn = hub_node_get(h, ids[i], false);

		if (hn) {
			hn->db_online = online[i];
			if (online[i])
				hn->last_seen_write_ms = t;
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (changed)
		kick_on_loop(h);
out:
	store_rollback(tx);
	free(ids);
	free(online);
}

/* Rendering thousands of maps leaves freed memory in malloc's arenas;
 * give it back once a burst of answers is over (fewer than TRIM_QUIET in
 * the last tick after TRIM_BURST since the last trim), and every minute,
 * so a quiet controller's footprint is its held polls, not its last
 * fan-out. */
#define TRIM_BURST 1000
#define TRIM_QUIET 100
static void trim_after_burst(struct hub *h)
{
	uint64_t answered;

	pthread_mutex_lock(&h->lock);
	answered = h->stats.answered;
	pthread_mutex_unlock(&h->lock);
	if ((answered - h->answered_trim >= TRIM_BURST &&
	     answered - h->answered_tick < TRIM_QUIET) ||
	    h->ticks % 60 == 0) {
		malloc_trim(0);
		h->answered_trim = answered;
	}
	h->answered_tick = answered;
}

static void on_tick(struct loop_timer *t, void *ctx)
{
	struct hub *h = ctx;
	int64_t now = hub_now_ms();
	size_t pos = 0;
	int64_t id;
	void *v;

	hub_renew_due(h, now);
	pthread_mutex_lock(&h->lock);
	hub_expire_polls(h, now);
	/* Nodes whose polls stopped are offline after the grace period;
	 * their state is forgotten once the database says so. */
	while (idmap_next(&h->nodes, &pos, &id, &v)) {
		struct hnode *n = v;

		if (n->waiters || now - n->last_active_ms < h->o.offline_grace_ms)
			continue;
		if (n->db_online)
			hub_queue_touch(h, n, false);
	}
	pthread_mutex_unlock(&h->lock);
	watch_expire(h->watch, now);
	flush_touches(h);
	feedlisten_tick(h->listen);
	++h->ticks;
	trim_after_burst(h);
	loop_timer_start(t, TICK_US);
}

static void *hub_main(void *arg)
{
	struct hub *h = arg;

	loop_run(h->loop);
	return NULL;
}

int hub_start(struct store *st, const struct hub_options *o,
	      struct hub **out, char *errmsg, size_t errlen)
{
	struct netmap_options nmo = {0};
	struct hub *h;
	int rc;

	h = calloc(1, sizeof(*h));
	if (!h)
		return WEFT_ERR_NOMEM;
	h->st = st;
	h->o = *o;
	if (!h->o.coalesce_ms)
		h->o.coalesce_ms = 20;
	if (!h->o.keepalive_min_ms)
		h->o.keepalive_min_ms = 30000;
	if (h->o.keepalive_max_ms < h->o.keepalive_min_ms)
		h->o.keepalive_max_ms = h->o.keepalive_min_ms + 25000;
	if (!h->o.offline_grace_ms)
		h->o.offline_grace_ms = 60000;
	if (!h->o.feed_poll_ms)
		h->o.feed_poll_ms = 250;
	if (!h->o.listen_poll_ms)
		h->o.listen_poll_ms = 2000;
	if (!h->o.token_ttl_s)
		h->o.token_ttl_s = RELAYKEY_TOKEN_TTL_S;
	if (!h->o.presence_min_ms)
		h->o.presence_min_ms = 2000;
	h->dns_suffix = strdup(o->dns_suffix ? o->dns_suffix : "weft.internal");
	h->signing_key = o->relay_signing_key ? strdup(o->relay_signing_key)
					      : NULL;
	h->o.dns_suffix = h->dns_suffix;
	h->o.relay_signing_key = h->signing_key;
	pthread_mutex_init(&h->lock, NULL);
	idmap_init(&h->nodes);
	idmap_init(&h->unknown);
	idmap_init(&h->deferred);
	if (!h->dns_suffix || (o->relay_signing_key && !h->signing_key)) {
		rc = WEFT_ERR_NOMEM;
		goto fail;
	}
	nmo.dns_suffix = h->dns_suffix;
	nmo.tombstones_per_node = 256;
	rc = netmap_new(&nmo, &h->nm);
	if (rc < 0)
		goto fail;
	rc = watch_new(&h->watch);
	if (rc == 0)
		rc = make_ula(h);
	if (rc == 0)
		rc = load_all(h, errmsg, errlen);
	if (rc < 0)
		goto fail;
	watch_advance(h->watch, h->applied);
	rc = loop_new(&h->loop);
	if (rc == 0)
		rc = loop_timer_new(h->loop, on_coalesce, h, &h->coalesce);
	if (rc == 0)
		rc = loop_timer_new(h->loop, on_feedpoll, h, &h->feedpoll);
	if (rc == 0)
		rc = loop_timer_new(h->loop, on_tick, h, &h->tick);
	/* A LISTEN connection that cannot be opened is not fatal: the
	 * feed poll keeps us correct, the tick retries, and /readyz says
	 * not ready meanwhile. */
	if (rc == 0)
		rc = feedlisten_new(st, o->listen_dsn, h->loop, on_notified, h,
				    &h->listen);
	if (rc < 0) {
		snprintf(errmsg, errlen, "cannot start the hub: %s",
			 weft_strerror(rc));
		goto fail;
	}
	loop_timer_start(h->feedpoll, h->o.feed_poll_ms * 1000);
	loop_timer_start(h->tick, TICK_US);
	if (pthread_create(&h->thread, NULL, hub_main, h) != 0) {
		snprintf(errmsg, errlen, "cannot start the hub thread");
		rc = WEFT_ERR_INTERNAL;
		goto fail;
	}
	h->started = true;
	log_info("hub_started", "version=%" PRId64 " listen=%s", h->applied,
		 feedlisten_up(h->listen) ? "yes" : "no");
	*out = h;
	return 0;
fail:
	hub_stop(h);
	return rc;
}

static void stop_on_loop(void *ctx)
{
	struct hub *h = ctx;

	loop_stop(h->loop);
}

void hub_stop(struct hub *h)
{
	size_t pos = 0;
	int64_t id;
	void *v;

	if (!h)
		return;
	hub_drain(h);
	if (h->started) {
		loop_post(h->loop, stop_on_loop, h);
		pthread_join(h->thread, NULL);
	}
	feedlisten_del(h->listen);
	loop_del(h->loop);
	pos = 0;
	while (idmap_next(&h->nodes, &pos, &id, &v))
		hub_node_free(v);
	idmap_free(&h->nodes);
	idmap_free(&h->unknown);
	idmap_free(&h->deferred);
	netmap_del(h->nm);
	watch_free(h->watch);
	free(h->heap);
	free(h->touch);
	free(h->signing_key);
	free(h->dns_suffix);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void hub_watch_nodes(struct hub *h, int64_t caller, int64_t since,
		     int64_t wait_ms, struct http_resp *resp)
{
	watch_request(h->watch, caller, since, wait_ms, hub_now_ms(), resp);
}

void hub_stats(struct hub *h, struct hub_stats *out)
{
	pthread_mutex_lock(&h->lock);
	*out = h->stats;
	out->held = h->nheap;
	out->listening = !h->listen || feedlisten_up(h->listen);
	pthread_mutex_unlock(&h->lock);
}
