/* The held polls of the long-poll hub (controller/hub.h): the nodes that
 * poll this replica, their waiters and the deadline heap, the answers
 * (map, delta, keep-alive, removal) and the relay tokens they carry, and
 * hub_map_request, where a poll is answered or held. */
#include "controller/hub_internal.h"

#include "controller/netmap.h"
#include "controller/relaykey.h"
#include "controller/store.h"
#include "controller/watch.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/rand.h"
#include "shared/token.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A held node's last_seen is refreshed in the database this often, so
 * other replicas can tell it is alive. */
#define LAST_SEEN_REFRESH_MS (30 * 1000)
/* A poll ahead of this replica's feed waits this long for it to catch up
 * (LISTEN brings the change within milliseconds; the fallback poll within
 * 2 s). */
#define AHEAD_WAIT_MS 2500

/* --- held polls --- */
/* --- the deadline heap (under lock) --- */

static void heap_swap(struct hub *h, size_t a, size_t b)
{
	struct waiter *t = h->heap[a];

	h->heap[a] = h->heap[b];
	h->heap[b] = t;
	h->heap[a]->heap_idx = a;
	h->heap[b]->heap_idx = b;
}

static void heap_up(struct hub *h, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (h->heap[p]->deadline_ms <= h->heap[i]->deadline_ms)
			break;
		heap_swap(h, p, i);
		i = p;
	}
}

static void heap_down(struct hub *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->nheap && h->heap[l]->deadline_ms < h->heap[m]->deadline_ms)
			m = l;
		if (r < h->nheap && h->heap[r]->deadline_ms < h->heap[m]->deadline_ms)
			m = r;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

static int heap_push(struct hub *h, struct waiter *w)
{
	if (h->nheap == h->capheap) {
		size_t cap = h->capheap ? h->capheap * 2 : 64;
		struct waiter **n = realloc(h->heap, cap * sizeof(*n));

		if (!n)
			return WEFT_ERR_NOMEM;
		h->heap = n;
		h->capheap = cap;
	}
	w->heap_idx = h->nheap;
	h->heap[h->nheap++] = w;
	heap_up(h, w->heap_idx);
	return 0;
}

static void heap_remove(struct hub *h, struct waiter *w)
{
	size_t i = w->heap_idx;

	h->nheap--;
	if (i != h->nheap) {
		h->heap[i] = h->heap[h->nheap];
		h->heap[i]->heap_idx = i;
		heap_down(h, i);
		heap_up(h, i);
	}
}

/* --- nodes known to the hub (under lock) --- */

struct hnode *hub_node_get(struct hub *h, int64_t id, bool create)
{
	struct hnode *n = idmap_get(&h->nodes, id);

	if (n || !create)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->id = id;
	if (idmap_put(&h->nodes, id, n) < 0) {
		free(n);
		return NULL;
	}
	return n;
}

void hub_node_free(struct hnode *n)
{
	if (!n)
		return;
	free(n->token);
	free(n);
}

void hub_queue_touch(struct hub *h, struct hnode *n, bool online)
{
	n->want_online = online;
	if (n->touch_queued)
		return;
	if (h->ntouch == h->captouch) {
		size_t cap = h->captouch ? h->captouch * 2 : 64;
		int64_t *t = realloc(h->touch, cap * sizeof(*t));

		if (!t)
			return; /* retried on a later poll or tick */
		h->touch = t;
		h->captouch = cap;
	}
	h->touch[h->ntouch++] = n->id;
	n->touch_queued = true;
}

/* --- answers --- */

/* Adds the node's cached relay token to a map answer. No I/O: the token
 * is renewed by token_renew() before the poll takes the lock (relaykey.h
 * has the lifetime rules). */
static void add_token(struct hub *h, struct hnode *n, json_t *map)
{
	char exp[32];

	if (!h->signing_key || !n || !n->token)
		return;
	clock_format_rfc3339(n->token_exp, exp, sizeof(exp));
	json_object_set_new(map, "relay_token", json_string(n->token));
	json_object_set_new(map, "relay_token_expires", json_string(exp));
}

/* Makes sure node_id has a relay token with more than half its lifetime
 * left (relaykey_token_due). Runs without the hub lock: on the HTTP thread
 * before hub_map_request takes the lock for the poll, and on the hub's
 * thread for the polls whose keep-alive deadline has come
 * (hub_renew_due), so reading the node's addresses (a read transaction) and signing (ES256)
 * never happen under the hub lock, and a keep-alive answer, which comes
 * when a third of the held token's lifetime is left (relaykey_hold_ms),
 * hands over a fresh one. */
static void token_renew(struct hub *h, int64_t node_id)
{
	int64_t wall = clock_wall_s();
	struct token_claims c = {0};
	struct store_tx *tx = NULL;
	struct store_node sn;
	struct hnode *n;
	char *tok = NULL;
	bool fresh;
	int rc;

	if (!h->signing_key)
		return;
	pthread_mutex_lock(&h->lock);
	n = hub_node_get(h, node_id, false);
	fresh = n && n->token &&
		!relaykey_token_due(wall, n->token_exp, h->o.token_ttl_s);
	pthread_mutex_unlock(&h->lock);
	if (fresh)
		return;
	/* The addresses come from the database: the engine may not know a
	 * node that registered moments ago. */
	rc = store_begin(h->st, STORE_READ, &tx);
	if (rc == 0)
		rc = store_node_get(tx, node_id, &sn);
	store_rollback(tx);
	if (rc < 0)
		return;
	c.node_id = node_id;
	snprintf(c.ipv4, sizeof(c.ipv4), "%s", sn.ipv4);
	snprintf(c.ipv6, sizeof(c.ipv6), "%s", sn.ipv6);
	c.iat = wall;
	c.exp = relaykey_token_exp(wall, h->o.token_ttl_s, sn.expires_at);
	if (c.exp <= wall || token_sign(h->signing_key, &c, &tok) < 0)
		return;
	pthread_mutex_lock(&h->lock);
	n = hub_node_get(h, node_id, true);
	if (n && (!n->token || n->token_exp < c.exp)) {
		free(n->token);
		n->token = tok;
		n->token_iat = c.iat;
		n->token_exp = c.exp;
		tok = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	free(tok);
}

static void shared_free(void *p)
{
	http_shared_unref(p);
}

/* The answer's body as text with the shared filter spliced in:
 * {...rest of the map...,"filter":<shared>}. */
static int map_text(json_t *map, struct netmap_shared *f,
		    struct http_resp *r)
{
	static const char member[] = ",\"filter\":";
	struct http_shared *sh = f->aux;
	char *text, *t;
	size_t len;

	/* The engine renders each distinct filter once; the hub wraps it
	 * once, and every answer with that filter takes a reference. */
	if (!sh) {
		if (http_shared_new(f->text, f->len, &sh) < 0)
			return WEFT_ERR_NOMEM;
		f->aux = sh;
		f->aux_free = shared_free;
	}
	text = json_dumps(map, JSON_COMPACT);
	if (!text)
		return WEFT_ERR_NOMEM;
	len = strlen(text);
	/* A map is a non-empty object: it ends with '}'. */
	t = realloc(text, len + sizeof(member) + 1);
	if (!t) {
		free(text);
		return WEFT_ERR_NOMEM;
	}
	memcpy(t + len - 1, member, sizeof(member) - 1);
	len += sizeof(member) - 1;
	t[len - 1] = '}';
	t[len] = '\0';
	http_resp_free(r);
	r->status = 200;
	r->text = t;
	r->text_len = len;
	r->content_type = "application/json";
	http_shared_ref(sh);
	r->splice = sh;
	r->splice_at = len - 1;
	return 0;
}

static void resp_map(struct hub *h, struct hnode *n, int64_t since,
		     struct http_resp *r)
{
	struct netmap_shared *filter = NULL;
	json_t *map = NULL;
	int rc;

	rc = netmap_render_shared(h->nm, n->id, since, &map, &filter);
	if (rc < 0) {
		http_resp_err(r, rc, "cannot render the network map", NULL);
		return;
	}
	add_token(h, n, map);
	if (!filter) {
		http_resp_json(r, 200, map);
		return;
	}
	rc = map_text(map, filter, r);
	json_decref(map);
	if (rc < 0)
		http_resp_err(r, rc, "cannot render the network map", NULL);
}

static void resp_keepalive(struct hub *h, struct hnode *n, int64_t since,
			   struct http_resp *r)
{
	json_t *o = json_pack("{s:I, s:b}", "version", (json_int_t)since,
			      "full", 0);

	if (o)
		add_token(h, n, o);
	http_resp_json(r, 200, o);
}

static void resp_removed(struct http_resp *r)
{
	http_resp_error(r, 410, "node_removed",
			"this node was removed or expired; stop and register again",
			NULL);
}

/* Answers and forgets one waiter (under lock). */
static void answer(struct hub *h, struct waiter *w, struct http_resp *r)
{
	http_hold_answer(w->hold, r);
	http_resp_free(r);
	http_hold_unref(w->hold);
	heap_remove(h, w);
	free(w);
}

/* Would a poll of n that has seen since be held now? The same test as
 * hub_map_request's (under lock). */
static bool is_current(struct hub *h, struct hnode *n, int64_t since)
{
	return netmap_has_node(h->nm, n->id) &&
	       netmap_node_version(h->nm, n->id) <= since &&
	       since <= h->applied;
}

/* Has everything in n's map changed after since only by peers' presence
 * (online, last_seen), with n's last such answer less than the presence
 * interval ago? Then the answer waits for the interval: when thousands of
 * agents connect at once, every peer's online flip would otherwise wake a
 * node again and again. Content changes are never held back. */
static bool presence_wait(struct hub *h, struct hnode *n, int64_t since,
			  int64_t t)
{
	return netmap_node_content_version(h->nm, n->id) <= since &&
	       t - n->presence_ms < h->o.presence_min_ms;
}

/* n has a poll held back by presence_wait; false when it cannot be
 * remembered (then it is answered now). */
static bool defer(struct hub *h, struct hnode *n)
{
	return idmap_put(&h->deferred, n->id, n) == 0;
}

/* Notes when n got an answer that carried only presence news. */
static void note_answer(struct hub *h, struct hnode *n, int64_t since,
			int64_t t)
{
	if (netmap_node_content_version(h->nm, n->id) <= since)
		n->presence_ms = t;
}

/* Answers every waiter of n with its map (or the removal error). A waiter
 * that is current stays held: the lock is dropped between changes and
 * between chunks of answers, so a node may poll again, and be held at
 * the new version, before its changed-node entry is answered. A waiter
 * whose news are only presence may wait too (presence_wait). */
void hub_answer_node(struct hub *h, struct hnode *n)
{
	struct waiter *w, *next, **keep = &n->waiters;
	int64_t t = hub_now_ms();

	for (w = n->waiters; w; w = next) {
		struct http_resp r = {0};

		next = w->next;
		if (!n->removed && (is_current(h, n, w->since) ||
				    w->since > h->applied ||
				    (presence_wait(h, n, w->since, t) &&
				     defer(h, n)))) {
			*keep = w;
			keep = &w->next;
			continue;
		}
		if (n->removed) {
			resp_removed(&r);
		} else {
			resp_map(h, n, w->since, &r);
			note_answer(h, n, w->since, t);
		}
		h->stats.answered++;
		answer(h, w, &r);
	}
	*keep = NULL;
	n->last_active_ms = t;
}

/* --- map requests (HTTP threads) --- */

void hub_map_request(struct hub *h, int64_t node_id, int64_t since,
		     struct http_resp *resp)
{
	struct hnode *n;
	struct waiter *w = NULL;
	int64_t version, t = hub_now_ms();
	uint64_t jitter = 0;
	bool ahead = false;

	token_renew(h, node_id);
	pthread_mutex_lock(&h->lock);
	if (h->stopping) {
		http_resp_error(resp, 503, "shutting_down",
				"the controller is shutting down", NULL);
		goto out;
	}
	n = hub_node_get(h, node_id, true);
	if (!n) {
		http_resp_err(resp, WEFT_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	n->last_active_ms = t;
	if (n->removed) {
		resp_removed(resp);
		goto out;
	}
	if (!n->db_online ||
	    t - n->last_seen_write_ms >= LAST_SEEN_REFRESH_MS)
		hub_queue_touch(h, n, true);
	version = netmap_node_version(h->nm, node_id);
	/* Ahead of what we have applied: another replica gave the client a
	 * version our feed read has not reached yet (or the database was
	 * restored from an older backup). Held for a moment while we catch
	 * up, then answered like any poll (a delta), or, if we never reach
	 * since, with a full map at its short deadline (hub_expire_polls). */
	ahead = netmap_has_node(h->nm, node_id) && since > h->applied;
	/* Behind: answer now. */
	if (netmap_has_node(h->nm, node_id) && !ahead && version > since) {
		if (!presence_wait(h, n, since, t) || !defer(h, n)) {
			resp_map(h, n, since, resp);
			note_answer(h, n, since, t);
			h->stats.answered++;
			goto out;
		}
		/* Only presence news, and n had such an answer moments ago:
		 * held until its presence interval has passed. */
	}
	/* Current, or not yet known to the engine (registered moments ago):
	 * hold until the map changes or the keep-alive deadline. */
	if (!netmap_has_node(h->nm, node_id) &&
	    idmap_put(&h->unknown, node_id, n) < 0) {
		http_resp_err(resp, WEFT_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	w = calloc(1, sizeof(*w));
	if (!w || http_hold_new(&w->hold) < 0) {
		free(w);
		http_resp_err(resp, WEFT_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	rand_uniform((uint64_t)(h->o.keepalive_max_ms - h->o.keepalive_min_ms + 1),
		     &jitter);
	w->node_id = node_id;
	w->since = since;
	w->deadline_ms = t + h->o.keepalive_min_ms + (int64_t)jitter;
	if (h->signing_key)
		/* Answer in time to hand over a renewed relay token. */
		w->deadline_ms = t + relaykey_hold_ms(clock_wall_s(), n->token_iat,
						      n->token_exp,
						      h->o.token_ttl_s,
						      w->deadline_ms - t);
	if (ahead && w->deadline_ms > t + AHEAD_WAIT_MS)
		w->deadline_ms = t + AHEAD_WAIT_MS;
	if (heap_push(h, w) < 0) {
		http_hold_unref(w->hold);
		free(w);
		http_resp_err(resp, WEFT_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	w->next = n->waiters;
	n->waiters = w;
	/* The server's reference travels in the response. */
	http_hold_ref(w->hold);
	resp->hold = w->hold;
out:
	pthread_mutex_unlock(&h->lock);
	if (ahead)
		hub_kick(h);
}

/* Collects into ids (up to cap, from *n on) the nodes of the waiters whose
 * deadline has come and whose token is due for renewal: a walk of the
 * heap from i that stops at later deadlines. Under lock. */
static void due_tokens(struct hub *h, size_t i, int64_t now, int64_t wall,
		       int64_t *ids, size_t *n, size_t cap)
{
	struct hnode *hn;

	if (i >= h->nheap || *n == cap || h->heap[i]->deadline_ms > now)
		return;
	hn = hub_node_get(h, h->heap[i]->node_id, false);
	if (hn && !hn->removed &&
	    (!hn->token ||
	     relaykey_token_due(wall, hn->token_exp, h->o.token_ttl_s)))
		ids[(*n)++] = hn->id;
	due_tokens(h, 2 * i + 1, now, wall, ids, n, cap);
	due_tokens(h, 2 * i + 2, now, wall, ids, n, cap);
}

/* Renews, outside the lock, the tokens of the polls about to get their
 * keep-alive answer. Bounded per tick; a node whose renewal failed keeps
 * its old token (still a third of its lifetime left) and is tried again
 * at its next poll. */
void hub_renew_due(struct hub *h, int64_t now)
{
	int64_t ids[64];
	size_t n, i, round;

	if (!h->signing_key)
		return;
	for (round = 0; round < 16; round++) {
		n = 0;
		pthread_mutex_lock(&h->lock);
		due_tokens(h, 0, now, clock_wall_s(), ids, &n, 64);
		pthread_mutex_unlock(&h->lock);
		for (i = 0; i < n; i++)
			token_renew(h, ids[i]);
		if (n < 64)
			break;
	}
}

/* Answers the polls whose keep-alive deadline has come (under lock). */
void hub_expire_polls(struct hub *h, int64_t now)
{
	while (h->nheap && h->heap[0]->deadline_ms <= now) {
		struct waiter *w = h->heap[0];
		struct hnode *n = hub_node_get(h, w->node_id, false);
		struct waiter **pp;
		struct http_resp r = {0};

		for (pp = &n->waiters; *pp != w; pp = &(*pp)->next)
			;
		*pp = w->next;
		n->last_active_ms = now;
		if (n->removed)
			resp_removed(&r);
		else if (netmap_has_node(h->nm, n->id) && w->since > h->applied)
			resp_map(h, n, 0, &r); /* never caught up: start over */
		else if (netmap_has_node(h->nm, n->id))
			resp_keepalive(h, n, w->since, &r);
		else
			http_resp_error(&r, 503, "not_ready",
					"this node is not in the network map yet; poll again",
					NULL);
		h->stats.keepalives++;
		answer(h, w, &r);
	}
}

void hub_drain(struct hub *h)
{
	size_t pos = 0;
	int64_t id;
	void *v;

	if (h->watch)
		watch_drain(h->watch);
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	while (idmap_next(&h->nodes, &pos, &id, &v)) {
		struct hnode *n = v;
		struct waiter *w, *next;

		for (w = n->waiters; w; w = next) {
			struct http_resp r = {0};

			next = w->next;
			http_resp_error(&r, 503, "shutting_down",
					"the controller is shutting down", NULL);
			answer(h, w, &r);
		}
		n->waiters = NULL;
	}
	pthread_mutex_unlock(&h->lock);
}
