#include "controller/hub.h"

#include "controller/dnsstore.h"
#include "controller/feedlisten.h"
#include "controller/ipam.h"

#include "controller/netmap.h"
#include "controller/policy.h"
#include "controller/relaykey.h"
#include "controller/resource.h"
#include "controller/store.h"
#include "controller/watch.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/idmap.h"
#include "shared/jsonx.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/rand.h"
#include "shared/token.h"

#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_US (1000 * 1000)
/* A held node's last_seen is refreshed in the database this often, so
 * other replicas can tell it is alive. */
#define LAST_SEEN_REFRESH_MS (30 * 1000)
#define FEED_BATCH 1000
/* A poll ahead of this replica's feed waits this long for it to catch up
 * (LISTEN brings the change within milliseconds; the fallback poll within
 * 2 s). */
#define AHEAD_WAIT_MS 2500
/* Changed nodes answered per hold of the lock after a batch: between
 * chunks, map requests on HTTP threads get their turn. */
#define ANSWER_CHUNK 64

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
	size_t nwaiters;
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

static int64_t now_ms(void)
{
	return clock_mono_ms();
}

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

static struct hnode *hnode_get(struct hub *h, int64_t id, bool create)
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

static void hnode_free(struct hnode *n)
{
	if (!n)
		return;
	free(n->token);
	free(n);
}

static void queue_touch(struct hub *h, struct hnode *n, bool online)
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
 * thread for the polls whose keep-alive deadline has come (renew_due), so
 * reading the node's addresses (a read transaction) and signing (ES256)
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
	n = hnode_get(h, node_id, false);
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
	n = hnode_get(h, node_id, true);
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
static void answer_node(struct hub *h, struct hnode *n)
{
	struct waiter *w, *next, **keep = &n->waiters;
	int64_t t = now_ms();

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
		n->nwaiters--;
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
	int64_t version, t = now_ms();
	uint64_t jitter = 0;
	bool ahead = false;

	token_renew(h, node_id);
	pthread_mutex_lock(&h->lock);
	if (h->stopping) {
		http_resp_error(resp, 503, "shutting_down",
				"the controller is shutting down", NULL);
		goto out;
	}
	n = hnode_get(h, node_id, true);
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
		queue_touch(h, n, true);
	version = netmap_node_version(h->nm, node_id);
	/* Ahead of what we have applied: another replica gave the client a
	 * version our feed read has not reached yet (or the database was
	 * restored from an older backup). Held for a moment while we catch
	 * up, then answered like any poll (a delta), or, if we never reach
	 * since, with a full map at its short deadline (on_tick). */
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
	n->nwaiters++;
	/* The server's reference travels in the response. */
	http_hold_ref(w->hold);
	resp->hold = w->hold;
out:
	pthread_mutex_unlock(&h->lock);
	if (ahead)
		hub_kick(h);
}

/* --- loading state from the store --- */

struct names_ctx {
	struct store_tx *tx;
};

static bool user_exists(void *ctx, const char *name)
{
	struct names_ctx *c = ctx;
	struct store_user u;

	return store_user_get_by_name(c->tx, name, &u) == 0;
}

static bool resource_exists(void *ctx, const char *name)
{
	struct names_ctx *c = ctx;
	struct store_resource r;

	return store_resource_get_by_name(c->tx, name, &r) == 0;
}

static bool resource_filters(void *ctx, const char *name,
			     struct policy_filter *out, size_t *n)
{
	struct names_ctx *c = ctx;
	struct store_resource r;

	return store_resource_get_by_name(c->tx, name, &r) == 0 &&
	       resource_filters_from_text(r.filters, out, n) == 0;
}

/* The current policy, parsed; an empty policy when none was ever set. */
static int load_policy(struct store_tx *tx, struct policy **out)
{
	struct store_policy sp = {0};
	struct names_ctx nc = {tx};
	struct policy_names names = {user_exists, resource_exists, &nc,
				     resource_filters};
	struct policy_err err = {0};
	int rc;

	rc = store_policy_get_current(tx, &sp);
	if (rc == WEFT_ERR_NOTFOUND)
		return policy_new_empty(out);
	if (rc < 0)
		return rc;
	rc = policy_parse(sp.document, strlen(sp.document), &names, out, &err);
	if (rc == WEFT_ERR_INVAL) {
		char q1[160], q2[400];

		/* A document saved before resources had filters (migration
		 * 006) may have rules they narrow to nothing, or tests they
		 * now fail. Such a rule simply gives nothing (the engine
		 * narrows with the live filters): keep the rest of the
		 * policy rather than deny all. */
		names.resource_filters = NULL;
		if (policy_parse(sp.document, strlen(sp.document), &names, out,
				 NULL) == 0) {
			log_warn("policy_narrowed", "version=%" PRId64
				 " at=%s reason=%s", sp.version,
				 log_q(q1, sizeof(q1), err.path),
				 log_q(q2, sizeof(q2), err.message));
			rc = 0;
		}
	}
	if (rc < 0) {
		char q1[160], q2[400];

		/* Saved documents were valid when saved; a name deleted since
		 * (a user, a resource) can make one invalid. Deny all rather
		 * than keep a stale view. */
		log_error("policy_invalid", "version=%" PRId64 " at=%s reason=%s",
			  sp.version, log_q(q1, sizeof(q1), err.path),
			  log_q(q2, sizeof(q2), err.message));
		rc = policy_new_empty(out);
	}
	store_policy_free(&sp);
	return rc;
}

struct routes_ctx {
	char (*prefixes)[STORE_CIDR_SIZE];
	const char **ptrs;
	size_t n, cap;
};

static int collect_route(void *ctx, const struct store_route *r)
{
	struct routes_ctx *c = ctx;

	if (!r->approved)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		char(*p)[STORE_CIDR_SIZE] = realloc(c->prefixes, cap * sizeof(*p));

		if (!p)
			return WEFT_ERR_NOMEM;
		c->prefixes = p;
		c->cap = cap;
	}
	memcpy(c->prefixes[c->n++], r->prefix, STORE_CIDR_SIZE);
	return 0;
}

/* The engine's input types mirror the store's fields of the same name. */
#define COPY_FIELD(dst, src)                                                 \
	do {                                                                 \
		_Static_assert(sizeof(dst) == sizeof(src), "field sizes");   \
		memcpy((dst), (src), sizeof(dst));                           \
	} while (0)

static void node_info(const struct store_node *sn, struct netmap_node_info *ni)
{
	memset(ni, 0, sizeof(*ni));
	ni->id = sn->id;
	COPY_FIELD(ni->name, sn->name);
	COPY_FIELD(ni->public_key, sn->public_key);
	COPY_FIELD(ni->ipv4, sn->ipv4);
	COPY_FIELD(ni->ipv6, sn->ipv6);
	COPY_FIELD(ni->tags, sn->tags);
	COPY_FIELD(ni->endpoints, sn->endpoints);
	COPY_FIELD(ni->home_relay, sn->home_relay);
	ni->last_seen = sn->last_seen;
	ni->online = sn->online;
}

/* A stored resource as the engine's input. Stored filters and tags were
 * validated by the API; a row that does not read (edited behind its
 * back) is WEFT_ERR_INVAL, which the caller logs and skips. */
static int resource_info(const struct store_resource *sr,
			 struct netmap_resource *r)
{
	json_t *tags;
	size_t i;
	int rc = 0;

	_Static_assert(NETMAP_RES_CONNECTORS_MAX == STORE_RES_CONNECTORS_MAX,
		       "connector limits");
	memset(r, 0, sizeof(*r));
	r->id = sr->id;
	COPY_FIELD(r->name, sr->name);
	COPY_FIELD(r->address, sr->address);
	COPY_FIELD(r->mapped_ipv4, sr->mapped_ipv4);
	COPY_FIELD(r->mapped_ipv6, sr->mapped_ipv6);
	if (sr->nconnector_nodes > NETMAP_RES_CONNECTORS_MAX ||
	    resource_filters_from_text(sr->filters, r->filters,
				       &r->nfilters) < 0)
		return WEFT_ERR_INVAL;
	memcpy(r->connector_nodes, sr->connector_nodes,
	       sr->nconnector_nodes * sizeof(r->connector_nodes[0]));
	r->nconnector_nodes = sr->nconnector_nodes;
	tags = json_loads(sr->connector_tags[0] ? sr->connector_tags : "[]", 0,
			  NULL);
	if (!json_is_array(tags) ||
	    json_array_size(tags) > NETMAP_RES_CONNECTORS_MAX)
		rc = WEFT_ERR_INVAL;
	for (i = 0; rc == 0 && i < json_array_size(tags); i++) {
		const char *t = json_string_value(json_array_get(tags, i));

		if (!t || strlen(t) >= sizeof(r->connector_tags[0]))
			rc = WEFT_ERR_INVAL;
		else
			memcpy(r->connector_tags[i], t, strlen(t) + 1);
	}
	r->nconnector_tags = rc == 0 ? i : 0;
	json_decref(tags);
	return rc;
}

/* resource_info, logging a row that does not read. */
static int resource_view(const struct store_resource *sr,
			 struct netmap_resource *r)
{
	int rc = resource_info(sr, r);

	if (rc == WEFT_ERR_INVAL)
		log_error("resource_invalid", "id=%" PRId64 " name=%s",
			  sr->id, sr->name);
	return rc;
}

static void relay_info(const struct store_relay *sr, struct netmap_relay *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sr->id;
	COPY_FIELD(r->name, sr->name);
	COPY_FIELD(r->region, sr->region);
	COPY_FIELD(r->address, sr->address);
	COPY_FIELD(r->public_key_pin, sr->public_key_pin);
}

/* Builds the engine's view of a stored node. */
static int node_view(struct store_tx *tx, const struct store_node *sn,
		     struct netmap_node *out, struct routes_ctx *rc_out)
{
	struct store_route_filter f = {.node_id = sn->id};
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct routes_ctx rc = {0};
	struct store_user u;
	int rc2;

	memset(out, 0, sizeof(*out));
	node_info(sn, &out->node);
	if (sn->user_id && store_user_get(tx, sn->user_id, &u) == 0)
		COPY_FIELD(out->user, u.name);
	rc2 = store_route_list(tx, &f, &pg, collect_route, &rc, NULL);
	if (rc2 < 0) {
		free(rc.prefixes);
		return rc2;
	}
	if (rc.n) {
		rc.ptrs = calloc(rc.n, sizeof(*rc.ptrs));
		if (!rc.ptrs) {
			free(rc.prefixes);
			return WEFT_ERR_NOMEM;
		}
		for (size_t i = 0; i < rc.n; i++)
			rc.ptrs[i] = rc.prefixes[i];
	}
	out->approved_routes = rc.ptrs;
	out->napproved = rc.n;
	*rc_out = rc;
	return 0;
}

static void routes_free(struct routes_ctx *rc)
{
	free(rc->prefixes);
	free(rc->ptrs);
}

static bool node_expired(const struct store_node *n, int64_t wall)
{
	return n->expires_at && n->expires_at <= wall;
}

struct relays_ctx {
	struct netmap_relay *v;
	size_t n, cap;
};

static int collect_relay(void *ctx, const struct store_relay *r)
{
	struct relays_ctx *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct netmap_relay *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return WEFT_ERR_NOMEM;
		c->v = v;
		c->cap = cap;
	}
	relay_info(r, &c->v[c->n++]);
	return 0;
}

/* One change read from the database, ready to be applied to the engine.
 * Reading (stage_change, no lock) and applying (apply_staged, under the
 * hub lock, no I/O) are separate so that the lock is never held across a
 * database read. */
struct staged {
	enum { ST_SKIP, ST_NODE, ST_NODE_GONE, ST_RESOURCE, ST_RESOURCE_GONE,
	       ST_RELAYS, ST_POLICY, ST_DNS } kind;
	int64_t version, id;
	bool online;               /* ST_NODE: what the database says */
	struct netmap_node node;   /* ST_NODE */
	struct routes_ctx routes;  /* ST_NODE: owns node.approved_routes */
	struct netmap_resource res; /* ST_RESOURCE */
	struct relays_ctx relays;  /* ST_RELAYS */
	struct policy *pol;        /* ST_POLICY */
	json_t *dns;               /* ST_DNS: the settings */
	struct ip_addr stub6;      /* ST_DNS */
};

static void staged_free(struct staged *s)
{
	routes_free(&s->routes);
	free(s->relays.v);
	policy_free(s->pol);
	json_decref(s->dns);
	memset(s, 0, sizeof(*s));
}

static int stage_node(struct store_tx *tx, int64_t id, struct staged *s)
{
	struct store_node sn;
	int r;

	r = store_node_get(tx, id, &sn);
	if (r == WEFT_ERR_NOTFOUND ||
	    (r == 0 && node_expired(&sn, clock_wall_s()))) {
		s->kind = ST_NODE_GONE;
		return 0;
	}
	if (r < 0)
		return r;
	s->kind = ST_NODE;
	s->online = sn.online;
	return node_view(tx, &sn, &s->node, &s->routes);
}

static int stage_resource(struct store_tx *tx, int64_t id, struct staged *s)
{
	struct store_resource sr;
	int rc;

	rc = store_resource_get(tx, id, &sr);
	if (rc == WEFT_ERR_NOTFOUND) {
		s->kind = ST_RESOURCE_GONE;
		return 0;
	}
	if (rc < 0)
		return rc;
	/* An unreadable row is left out of the maps, like a deleted one. */
	s->kind = resource_view(&sr, &s->res) == 0 ? ST_RESOURCE
						   : ST_RESOURCE_GONE;
	return 0;
}

static int stage_relays(struct store_tx *tx, struct staged *s)
{
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	int64_t next = 0;
	int rc;

	s->kind = ST_RELAYS;
	do {
		rc = store_relay_list(tx, &pg, collect_relay, &s->relays, &next);
		pg.after = next;
	} while (rc == 0 && next);
	return rc;
}

static int stage_dns(const struct hub *h, struct store_tx *tx,
		     struct staged *s)
{
	int rc = dnsstore_get(tx, h->dns_suffix, &s->dns);

	s->kind = ST_DNS;
	return rc < 0 ? rc : dnsstore_stub6(tx, &s->stub6);
}

/* Reads what change (kind, id) needs from the database (no lock). */
static int stage_change(const struct hub *h, struct store_tx *tx,
			const char *kind, int64_t version, int64_t id,
			struct staged *s)
{
	memset(s, 0, sizeof(*s));
	s->version = version;
	s->id = id;
	if (strcmp(kind, "node") == 0)
		return stage_node(tx, id, s);
	if (strcmp(kind, "resource") == 0)
		return stage_resource(tx, id, s);
	if (strcmp(kind, "relay") == 0)
		return stage_relays(tx, s);
	if (strcmp(kind, "dns") == 0)
		return stage_dns(h, tx, s);
	if (strcmp(kind, "policy") == 0 || strcmp(kind, "user") == 0) {
		/* Users matter through policy names and groups. */
		s->kind = ST_POLICY;
		return load_policy(tx, &s->pol);
	}
	return 0;
}

/* Applies a staged change to the engine (under lock; no I/O). */
static int apply_staged(struct hub *h, struct staged *s,
			struct netmap_dirty *dirty)
{
	struct hnode *hn = hnode_get(h, s->id, false);
	struct policy *p;

	switch (s->kind) {
	case ST_NODE_GONE:
		if (hn) {
			/* Its held polls learn it is gone; later polls fail
			 * authentication, so its state can go too. */
			hn->removed = true;
			answer_node(h, hn);
			idmap_del(&h->unknown, s->id);
			idmap_del(&h->deferred, s->id);
			idmap_del(&h->nodes, s->id);
			hnode_free(hn);
		}
		return netmap_node_remove(h->nm, s->version, s->id, dirty);
	case ST_NODE:
		if (hn) {
			hn->removed = false;
			hn->db_online = s->online;
		}
		return netmap_node_upsert(h->nm, s->version, &s->node, dirty);
	case ST_RESOURCE_GONE:
		return netmap_resource_remove(h->nm, s->version, s->id, dirty);
	case ST_RESOURCE:
		return netmap_resource_upsert(h->nm, s->version, &s->res, dirty);
	case ST_RELAYS:
		return netmap_relays_set(h->nm, s->version, s->relays.v,
					 s->relays.n, dirty);
	case ST_POLICY:
		p = s->pol;
		s->pol = NULL; /* the engine owns it, also on failure */
		return netmap_policy_set(h->nm, s->version, p, dirty);
	case ST_DNS:
		return netmap_dns_set(h->nm, s->version, s->dns, &s->stub6,
				      dirty);
	case ST_SKIP:
		break;
	}
	return 0;
}

struct load_ctx {
	struct hub *h;
	struct store_tx *tx;
	int64_t version;
	struct netmap_dirty *dirty;
	int err;
};

static int load_node(void *ctx, const struct store_node *sn)
{
	struct load_ctx *l = ctx;
	struct netmap_node nn;
	struct routes_ctx rc = {0};
	int r;

	if (node_expired(sn, clock_wall_s()))
		return 0;
	r = node_view(l->tx, sn, &nn, &rc);
	if (r == 0)
		r = netmap_node_upsert(l->h->nm, l->version, &nn, l->dirty);
	routes_free(&rc);
	return r;
}

static int load_resource(void *ctx, const struct store_resource *sr)
{
	struct load_ctx *l = ctx;
	struct netmap_resource r;

	if (resource_view(sr, &r) < 0)
		return 0;
	return netmap_resource_upsert(l->h->nm, l->version, &r, l->dirty);
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
	struct load_ctx l = {.h = h, .dirty = &dirty};
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct staged st = {0};
	struct store_tx *tx = NULL;
	int64_t next;
	int rc;

	rc = store_begin(h->st, STORE_READ, &tx);
	if (rc < 0)
		goto out;
	l.tx = tx;
	rc = store_netmap_version(tx, &l.version);
	if (rc < 0)
		goto out;
	/* Before the hub thread and the server exist: no lock needed. */
	rc = stage_change(h, tx, "policy", l.version, 0, &st);
	if (rc == 0)
		rc = apply_staged(h, &st, &dirty);
	staged_free(&st);
	if (rc == 0)
		rc = stage_change(h, tx, "relay", l.version, 0, &st);
	if (rc == 0)
		rc = apply_staged(h, &st, &dirty);
	staged_free(&st);
	if (rc == 0)
		rc = stage_change(h, tx, "dns", l.version, 0, &st);
	if (rc == 0)
		rc = apply_staged(h, &st, &dirty);
	staged_free(&st);
	if (rc < 0)
		goto out;
	do {
		rc = store_resource_list(tx, &pg, load_resource, &l, &next);
		pg.after = next;
	} while (rc == 0 && next);
	if (rc < 0)
		goto out;
	pg.after = 0;
	do {
		rc = store_node_list(tx, NULL, &pg, load_node, &l, &next);
		pg.after = next;
	} while (rc == 0 && next);
	if (rc < 0)
		goto out;
	h->applied = l.version;
	h->stats.version = l.version;
out:
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
		struct staged st;

		rc = stage_change(h, tx, c->kind, c->version, c->target_id,
				  &st);
		pthread_mutex_lock(&h->lock);
		if (rc == 0)
			rc = apply_staged(h, &st, &dirty);
		if (rc == 0) {
			h->applied = c->version;
			h->stats.changes++;
		}
		h->stats.version = h->applied;
		pthread_mutex_unlock(&h->lock);
		staged_free(&st);
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
			struct hnode *n = hnode_get(h, dirty.ids[k], false);

			if (n && n->waiters)
				answer_node(h, n);
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
				answer_node(h, ready[i]);
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
	t = now_ms();
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
			struct hnode *hn = hnode_get(h, ready[k], false);

			if (hn && hn->waiters)
				answer_node(h, hn);
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
	int64_t wall = clock_wall_s(), t = now_ms();
	bool changed = false;
	int rc;

	pthread_mutex_lock(&h->lock);
	n = h->ntouch;
	ids = h->touch;
	h->touch = NULL;
	h->ntouch = h->captouch = 0;
	online = n ? calloc(n, sizeof(*online)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct hnode *hn = hnode_get(h, ids[i], false);

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
		struct hnode *hn = hnode_get(h, ids[i], false);

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

/* Collects into ids (up to cap, from *n on) the nodes of the waiters whose
 * deadline has come and whose token is due for renewal: a walk of the
 * heap from i that stops at later deadlines. Under lock. */
static void due_tokens(struct hub *h, size_t i, int64_t now, int64_t wall,
		       int64_t *ids, size_t *n, size_t cap)
{
	struct hnode *hn;

	if (i >= h->nheap || *n == cap || h->heap[i]->deadline_ms > now)
		return;
	hn = hnode_get(h, h->heap[i]->node_id, false);
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
static void renew_due(struct hub *h, int64_t now)
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
	int64_t now = now_ms();
	size_t pos = 0;
	int64_t id;
	void *v;

	renew_due(h, now);
	pthread_mutex_lock(&h->lock);
	/* Keep-alive deadlines. */
	while (h->nheap && h->heap[0]->deadline_ms <= now) {
		struct waiter *w = h->heap[0];
		struct hnode *n = hnode_get(h, w->node_id, false);
		struct waiter **pp;
		struct http_resp r = {0};

		for (pp = &n->waiters; *pp != w; pp = &(*pp)->next)
			;
		*pp = w->next;
		n->nwaiters--;
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
	/* Nodes whose polls stopped are offline after the grace period;
	 * their state is forgotten once the database says so. */
	while (idmap_next(&h->nodes, &pos, &id, &v)) {
		struct hnode *n = v;

		if (n->waiters || now - n->last_active_ms < h->o.offline_grace_ms)
			continue;
		if (n->db_online)
			queue_touch(h, n, false);
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
		n->nwaiters = 0;
	}
	pthread_mutex_unlock(&h->lock);
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
		hnode_free(v);
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
	watch_request(h->watch, caller, since, wait_ms, now_ms(), resp);
}

void hub_stats(struct hub *h, struct hub_stats *out)
{
	pthread_mutex_lock(&h->lock);
	*out = h->stats;
	out->held = h->nheap;
	out->listening = !h->listen || feedlisten_up(h->listen);
	pthread_mutex_unlock(&h->lock);
}
