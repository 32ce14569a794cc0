/* Peer tunnels on the relay path: see tunnel.h. This file keeps the
 * peer table, the connections and the packet queues; the direct path is
 * tunnel_paths.c, the counters and per-peer JSON tunnel_stats.c.
 *
 * Peers live in hash tables: by node id (which is also what a virtual
 * address encodes, tunnel_vaddr_id) and by public key, so the per-packet
 * and per-relay-frame lookups cost the same with 1 or 10,000 peers, and a
 * map update costs O(changed peers). Each peer has its own two timers in
 * the loop's heap (queue retry / idle, and its path manager), so nothing
 * scans all peers on a clock. */
#include "agent/tunnel.h"

#include "agent/tunnel_internal.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/idmap.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/rand.h"

#include <stdlib.h>
#include <string.h>

#define TICK_FAST_US 20000
#define WAKE_EVERY_US 1000000
#define PMTU_GRACE_US 1000000 /* big packets wait this long on a new path */

struct pkt {
	int64_t at; /* loop time it was queued, us */
	size_t len;
	uint8_t data[TUNNEL_PKT_MAX];
};

void tunnel_vlocal(struct ip_endpoint *out)
{
	memset(out, 0, sizeof(*out));
	out->addr.family = 4;
	out->addr.b[0] = 240;
	out->port = 1;
}

int tunnel_vaddr(int64_t id, struct ip_endpoint *out)
{
	uint64_t hi;

	if (id <= 0)
		return WEFT_ERR_INVAL;
	hi = (uint64_t)id >> 28;
	if (hi >= 65535)
		return WEFT_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	out->addr.family = 4;
	out->addr.b[0] = (uint8_t)(240 | ((id >> 24) & 0x0f));
	out->addr.b[1] = (uint8_t)(id >> 16);
	out->addr.b[2] = (uint8_t)(id >> 8);
	out->addr.b[3] = (uint8_t)id;
	out->port = (uint16_t)(hi + 1);
	return 0;
}

int64_t tunnel_vaddr_id(const struct ip_endpoint *e)
{
	int64_t id;

	if (e->addr.family != 4 || (e->addr.b[0] & 0xf0) != 240 ||
	    e->port == 0)
		return 0;
	id = (int64_t)(e->port - 1) << 28 |
	     (int64_t)(e->addr.b[0] & 0x0f) << 24 |
	     (int64_t)e->addr.b[1] << 16 | (int64_t)e->addr.b[2] << 8 |
	     e->addr.b[3];
	return id;
}

struct peer *tunnel_find(const struct tunnels *t, int64_t id)
{
	return id > 0 ? idmap_get(&t->byid, id) : NULL;
}

/* A positive 62-bit id for the key table from the key's first bytes,
 * mixed with a per-table random seed: nodes choose their keys, so they
 * must not be able to choose where in the table they land. Two peers
 * with one hash are possible in principle only, and then chained. */
static int64_t key_hash(const struct tunnels *t,
			const uint8_t key[IDENT_KEY_LEN])
{
	uint64_t h = 0;

	memcpy(&h, key, sizeof(h));
	h ^= t->seed;
	h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
	h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
	h ^= h >> 31;
	return (int64_t)(h >> 2) + 1;
}

static struct peer *find_key(const struct tunnels *t,
			     const uint8_t key[IDENT_KEY_LEN])
{
	struct peer *p = idmap_get(&t->bykey, key_hash(t, key));

	while (p && memcmp(p->key, key, IDENT_KEY_LEN) != 0)
		p = p->key_next;
	return p;
}

static int key_link(struct tunnels *t, struct peer *p)
{
	int64_t h = key_hash(t, p->key);
	struct peer *head = idmap_get(&t->bykey, h);
	int rc = idmap_put(&t->bykey, h, p);

	if (rc == 0)
		p->key_next = head;
	return rc;
}

static void key_unlink(struct tunnels *t, struct peer *p)
{
	int64_t h = key_hash(t, p->key);
	struct peer *head = idmap_get(&t->bykey, h), **pp;

	if (head == p) {
		if (p->key_next)
			idmap_put(&t->bykey, h, p->key_next); /* replaces */
		else
			idmap_del(&t->bykey, h);
	} else {
		for (pp = &head; *pp && *pp != p; pp = &(*pp)->key_next)
			;
		if (*pp)
			*pp = p->key_next;
	}
	p->key_next = NULL;
}

static void queue_clear(struct peer *p)
{
	while (p->qlen) {
		free(p->q[p->qhead]);
		p->q[p->qhead] = NULL;
		p->qhead = (p->qhead + 1) % TUNNEL_QUEUE_MAX;
		p->qlen--;
	}
	p->flushing = false;
}

/* Whether a packet too big for the current path should wait: path MTU
 * discovery starts every new path at 1200 bytes and raises it within a
 * few round trips. Answering with ICMP "too big" then would make the
 * sender's kernel remember the small MTU for ten minutes. */
static bool pmtu_settling(const struct peer *p)
{
	return loop_now_us(p->t->loop) - p->path_since_us < PMTU_GRACE_US;
}

/* Drops the packets that waited longer than TUNNEL_QUEUE_AGE_MS. */
static void queue_expire(struct peer *p)
{
	int64_t now = loop_now_us(p->t->loop);

	while (p->qlen && now - p->q[p->qhead]->at >
				  (int64_t)TUNNEL_QUEUE_AGE_MS * 1000) {
		free(p->q[p->qhead]);
		p->q[p->qhead] = NULL;
		p->qhead = (p->qhead + 1) % TUNNEL_QUEUE_MAX;
		p->qlen--;
		p->stale++;
	}
}

/* Sends what waits; stops at the first packet the connection cannot take
 * yet. */
static void flush(struct peer *p)
{
	/* quic_conn_datagram may write at once and call
	 * on_datagram_writable, which flushes again: that inner flush sent
	 * and freed the head this loop then freed a second time. The outer
	 * loop goes on anyway, so the inner one has nothing to do. */
	if (p->flushing)
		return;
	p->flushing = true;
	queue_expire(p);
	while (p->qlen && p->c && p->up) {
		struct pkt *k = p->q[p->qhead];
		int rc = quic_conn_datagram(p->c, k->data, k->len);

		if (rc == WEFT_ERR_BUSY || rc == WEFT_ERR_UNSUPPORTED ||
		    (rc == WEFT_ERR_TOOBIG && pmtu_settling(p)))
			break;
		if (rc < 0)
			p->dropped++;
		free(k);
		p->q[p->qhead] = NULL;
		p->qhead = (p->qhead + 1) % TUNNEL_QUEUE_MAX;
		p->qlen--;
	}
	p->flushing = false;
}

static void on_established(struct quic_conn *c, void *ctx)
{
	struct peer *p = ctx;

	(void)c;
	if (!p)
		return;
	p->up = true;
	p->last_handshake = clock_wall_s();
	p->path_changed = p->last_handshake;
	p->path_since_us = loop_now_us(p->t->loop);
	p->up_since_us = p->path_since_us;
	tunnel_watch_heard(p);
	flush(p);
	tunnel_pm_start(p);
}

static void on_datagram(struct quic_conn *c, const uint8_t *data, size_t len,
			void *ctx)
{
	struct peer *p = ctx;

	(void)c;
	if (!p)
		return;
	p->last_active_us = loop_now_us(p->t->loop);
	tunnel_watch_heard(p);
	if (!p->pm && p->up)
		tunnel_pm_start(p);
	/* Empty: a path keepalive. */
	if (len && p->t->cbs.on_packet)
		p->t->cbs.on_packet(p->id, data, len, p->t->ctx);
}

static void on_datagram_writable(struct quic_conn *c, void *ctx)
{
	struct peer *p = ctx;

	(void)c;
	if (p)
		flush(p);
}

/* p's connection c ends: keep its counters, forget it. */
static void conn_done(struct peer *p, struct quic_conn *c)
{
	struct quic_conn_stats s;

	quic_conn_stats(c, &s);
	p->rx_done += s.bytes_recv;
	p->tx_done += s.bytes_sent;
	p->stale += s.dgrams_stale;
	tunnel_stream_conn_gone(p, c);
	p->c = NULL;
	p->up = false;
	tunnel_pm_free(p);
}

static void on_closed(struct quic_conn *c, const struct quic_close_info *i,
		      void *ctx)
{
	struct peer *p = ctx;

	(void)i;
	if (!p || p->c != c)
		return;
	conn_done(p, c);
}

static const struct quic_conn_callbacks conn_cbs = {
	.on_established = on_established,
	.on_datagram = on_datagram,
	.on_datagram_writable = on_datagram_writable,
	.on_stream_data = tunnel_stream_data,
	.on_stream_writable = tunnel_stream_writable,
	.on_stream_closed = tunnel_stream_closed,
	.on_path = tunnel_pm_on_path,
	.on_closed = on_closed,
};

static const struct quic_conn_callbacks dead_cbs = {0};

void tunnel_drop_conn(struct peer *p, const char *why)
{
	struct quic_conn *c = p->c;

	if (!c)
		return;
	conn_done(p, c);
	quic_conn_set_callbacks(c, &dead_cbs, NULL);
	quic_conn_close(c, 0, why);
}

static void peer_free(struct peer *p)
{
	tunnel_drop_conn(p, "peer removed");
	queue_clear(p);
	loop_timer_del(p->tick);
	loop_timer_del(p->ptm);
	tunnel_watch_free(p);
	free(p);
}

static void tick_arm(struct peer *p);

void tunnel_connect(struct peer *p)
{
	struct quic_connect_options co = {.is_virtual = true,
					  .alpn = QUIC_ALPN_PEER};

	if (p->c || tunnel_vaddr(p->id, &co.remote) < 0)
		return;
	memcpy(co.pin, p->key, IDENT_KEY_LEN);
	if (quic_connect(p->t->ep, &co, &conn_cbs, p, &p->c) < 0)
		p->c = NULL;
	p->last_active_us = loop_now_us(p->t->loop);
	tick_arm(p);
}

static void wake(struct peer *p)
{
	static const uint8_t w = TUNNEL_WAKE;
	int64_t now = loop_now_us(p->t->loop);

	if (p->last_wake_us && now - p->last_wake_us < WAKE_EVERY_US)
		return;
	p->last_wake_us = now;
	if (p->t->cbs.send_relay)
		p->t->cbs.send_relay(p->id, &w, 1, p->t->ctx);
}

/* The peer's own timer: every TICK_FAST_US while packets wait (retry
 * the connection or the wake-up, flush), else at its idle deadline while
 * it has a connection; stopped otherwise. Activity does not re-arm it:
 * the deadline is checked when it fires. */
static void tick_arm(struct peer *p)
{
	int64_t now = loop_now_us(p->t->loop), left;

	if (p->qlen) {
		loop_timer_start(p->tick, TICK_FAST_US);
	} else if (p->c) {
		left = p->last_active_us + p->t->idle_us - now;
		loop_timer_start(p->tick, left > 0 ? left : 0);
	} else {
		loop_timer_stop(p->tick);
	}
}

static void on_tick(struct loop_timer *tm, void *ctx)
{
	struct peer *p = ctx;
	struct tunnels *t = p->t;
	int64_t now = loop_now_us(t->loop);

	(void)tm;
	if (p->c && t->scbs.busy && t->scbs.busy(p->id, t->sctx))
		p->last_active_us = now;
	if (p->c && now - p->last_active_us > t->idle_us) {
		tunnel_drop_conn(p, "idle");
		queue_clear(p);
	}
	flush(p);
	if (p->qlen) {
		if (!p->c && t->self && t->self < p->id)
			tunnel_connect(p);
		else if (!p->c)
			wake(p);
	}
	tick_arm(p);
}

void tunnels_set_idle(struct tunnels *t, uint64_t ms)
{
	t->idle_us = (int64_t)(ms ? ms : TUNNEL_IDLE_MS) * 1000;
}

int tunnels_new(struct loop *l, struct quic_endpoint *ep, int64_t self_id,
		const struct tunnel_callbacks *cbs, void *ctx,
		struct tunnels **out)
{
	struct tunnels *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return WEFT_ERR_NOMEM;
	t->loop = l;
	t->ep = ep;
	t->self = self_id;
	if (cbs)
		t->cbs = *cbs;
	t->ctx = ctx;
	t->last_ttd_ms = -1;
	t->idle_us = (int64_t)TUNNEL_IDLE_MS * 1000;
	idmap_init(&t->byid);
	idmap_init(&t->bykey);
	rc = rand_u64(&t->seed);
	if (rc < 0) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void tunnels_del(struct tunnels *t)
{
	void *p;

	if (!t)
		return;
	for (size_t i = 0; idmap_next(&t->byid, &i, NULL, &p);)
		peer_free(p);
	idmap_free(&t->byid);
	idmap_free(&t->bykey);
	free(t);
}

void tunnels_set_self(struct tunnels *t, int64_t self_id)
{
	t->self = self_id;
}

static void peer_remove(struct tunnels *t, struct peer *p)
{
	idmap_del(&t->byid, p->id);
	key_unlink(t, p);
	peer_free(p);
}

/* Adds the map's peer or brings ours up to date with it. A peer without
 * a key cannot have a tunnel: it is removed. */
static int upsert(struct tunnels *t, const struct map_peer *mp)
{
	struct peer *p = tunnel_find(t, mp->id);
	int rc;

	if (!mp->has_key) {
		if (p)
			peer_remove(t, p);
		return 0;
	}
	if (p && memcmp(p->key, mp->key, IDENT_KEY_LEN) != 0) {
		tunnel_drop_conn(p, "key changed");
		queue_clear(p);
		key_unlink(t, p);
		memcpy(p->key, mp->key, IDENT_KEY_LEN);
		rc = key_link(t, p);
		if (rc < 0) {
			peer_remove(t, p);
			return rc;
		}
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return WEFT_ERR_NOMEM;
		p->t = t;
		p->id = mp->id;
		memcpy(p->key, mp->key, IDENT_KEY_LEN);
		if ((rc = loop_timer_new(t->loop, on_tick, p, &p->tick)) < 0 ||
		    (rc = loop_timer_new(t->loop, tunnel_pm_on_timer, p,
					 &p->ptm)) < 0 ||
		    (rc = idmap_put(&t->byid, p->id, p)) < 0) {
			peer_free(p);
			return rc;
		}
		rc = key_link(t, p);
		if (rc < 0) {
			idmap_del(&t->byid, p->id);
			peer_free(p);
			return rc;
		}
	}
	tunnel_pm_set_remote(p, mp);
	return 0;
}

int tunnels_set_peers(struct tunnels *t, const struct map_peer *const *peers,
		      size_t n)
{
	struct peer **gone = NULL;
	size_t ngone = 0, i;
	void *v;
	int rc = 0;

	for (i = 0; idmap_next(&t->byid, &i, NULL, &v);)
		((struct peer *)v)->mark = false;
	for (i = 0; i < n && rc == 0; i++) {
		struct peer *p;

		rc = upsert(t, peers[i]);
		if (rc == 0 && (p = tunnel_find(t, peers[i]->id)))
			p->mark = true;
	}
	if (rc < 0)
		return rc;
	/* Removal after the walk: the table must not change under it. */
	if (t->byid.n > n || n == 0) {
		gone = calloc(t->byid.n + 1, sizeof(*gone));
		if (!gone)
			return WEFT_ERR_NOMEM;
		for (i = 0; idmap_next(&t->byid, &i, NULL, &v);)
			if (!((struct peer *)v)->mark)
				gone[ngone++] = v;
	}
	for (i = 0; i < ngone; i++)
		peer_remove(t, gone[i]);
	free(gone);
	return 0;
}

int tunnels_apply(struct tunnels *t, const struct map *m,
		  const struct map_diff *d)
{
	const struct map_peer *const *all;
	size_t i, n;
	int rc = 0;

	if (d->full) {
		all = map_peers(m, &n);
		return tunnels_set_peers(t, all, n);
	}
	for (i = 0; i < d->nremoved; i++) {
		struct peer *p = tunnel_find(t, d->removed[i]);

		if (p)
			peer_remove(t, p);
	}
	for (i = 0; i < d->nadded && rc == 0; i++)
		rc = upsert(t, map_peer(m, d->added[i]));
	for (i = 0; i < d->nchanged && rc == 0; i++)
		rc = upsert(t, map_peer(m, d->changed[i]));
	return rc;
}

size_t tunnels_count(const struct tunnels *t)
{
	return t->byid.n;
}

int tunnels_send(struct tunnels *t, int64_t peer, const uint8_t *pkt,
		 size_t len)
{
	struct peer *p = tunnel_find(t, peer);
	struct pkt *k;
	int rc;

	if (!p)
		return WEFT_ERR_NOTFOUND;
	if (len == 0 || len > TUNNEL_PKT_MAX)
		return WEFT_ERR_TOOBIG;
	flush(p); /* what waits goes first */
	if (p->watched)
		tunnel_watch_sent(p);
	if (p->c && p->up && !p->qlen) {
		rc = quic_conn_datagram(p->c, pkt, len);
		if (rc == 0) {
			p->last_active_us = loop_now_us(t->loop);
			return 0;
		}
		if (rc != WEFT_ERR_BUSY &&
		    !(rc == WEFT_ERR_TOOBIG && pmtu_settling(p))) {
			p->dropped++;
			return rc;
		}
	}
	if (p->qlen == TUNNEL_QUEUE_MAX) {
		p->dropped++;
		return WEFT_ERR_BUSY;
	}
	k = malloc(sizeof(*k));
	if (!k)
		return WEFT_ERR_NOMEM;
	k->at = loop_now_us(t->loop);
	k->len = len;
	memcpy(k->data, pkt, len);
	p->q[(p->qhead + p->qlen) % TUNNEL_QUEUE_MAX] = k;
	p->qlen++;
	if (!p->c && t->self && t->self < p->id)
		tunnel_connect(p);
	else if (!p->c)
		wake(p);
	tick_arm(p);
	return 0;
}

void tunnel_rejoin(struct peer *p)
{
	if (p->c)
		return;
	if (p->t->self && p->t->self < p->id)
		tunnel_connect(p);
	else
		wake(p);
}

/* A wake-up from the peer, which has no connection to us. Ours, if it is
 * older than the peer's wake-ups can be (one a second), is stale: the
 * peer restarted or dropped it. A connection being set up, or one set up
 * since the peer sent the wake-up, stays. */
static void on_wake(struct peer *p)
{
	int64_t now = loop_now_us(p->t->loop);

	if (p->c && p->up && now - p->up_since_us > WAKE_EVERY_US) {
		tunnel_drop_conn(p, "peer lost it");
		p->rejoins++;
	}
	tunnel_rejoin(p);
}

void tunnels_input_relay(struct tunnels *t, int64_t src,
			 const uint8_t *payload, size_t len)
{
	struct peer *p = tunnel_find(t, src);
	struct ip_endpoint from;

	if (!p || len == 0)
		return;
	if (payload[0] == TUNNEL_WAKE && len == 1) {
		if (t->self && t->self < p->id)
			on_wake(p);
		return;
	}
	/* A short-header QUIC packet (fixed bit set, long-header bit clear)
	 * from a peer we have no connection with: it still uses one we lost
	 * (we restarted, or dropped it). Set up a new one at once instead of
	 * leaving the peer on the old one until its idle timeout. */
	if (!p->c && (payload[0] & 0xc0) == 0x40) {
		p->rejoins++;
		tunnel_rejoin(p);
	}
	if (tunnel_vaddr(src, &from) == 0)
		quic_endpoint_input_virtual(t->ep, &from, payload, len);
}

bool tunnels_accept_peer(struct tunnels *t, const uint8_t key[IDENT_KEY_LEN])
{
	struct peer *p = find_key(t, key);

	/* Only the larger id serves: the smaller one is the client. */
	return p && t->self > p->id;
}

void tunnels_on_accept(struct tunnels *t, struct quic_conn *c)
{
	uint8_t key[IDENT_KEY_LEN];
	struct peer *p = NULL;

	if (quic_conn_peer_key(c, key) == 0)
		p = find_key(t, key);
	if (!p) {
		quic_conn_set_callbacks(c, &dead_cbs, NULL);
		quic_conn_close(c, 0, "not a peer");
		return;
	}
	/* A new connection from the peer replaces the old one (the peer
	 * restarted or lost it). */
	tunnel_drop_conn(p, "replaced");
	p->c = c;
	p->up = true;
	p->last_handshake = clock_wall_s();
	p->last_active_us = loop_now_us(t->loop);
	p->path_changed = p->last_handshake;
	p->path_since_us = loop_now_us(t->loop);
	p->up_since_us = p->path_since_us;
	quic_conn_set_callbacks(c, &conn_cbs, p);
	tunnel_watch_heard(p);
	flush(p);
	tick_arm(p);
	tunnel_pm_start(p);
}

