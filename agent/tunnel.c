/* Peer tunnels on the relay path: see tunnel.h.
 *
 * Peers live in hash tables: by node id (which is also what a virtual
 * address encodes, tunnel_vaddr_id) and by public key, so the per-packet
 * and per-relay-frame lookups cost the same with 1 or 10,000 peers, and a
 * map update costs O(changed peers). Each peer has its own two timers in
 * the loop's heap (queue retry / idle, and its path manager), so nothing
 * scans all peers on a clock. */
#include "agent/tunnel.h"

#include "agent/paths.h"
#include "agent/signal.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/idmap.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/rand.h"
#include "shared/wire.h"

#include <stdlib.h>
#include <string.h>

#define TICK_FAST_US 20000
#define WAKE_EVERY_US 1000000
#define WATCH_MS 100 /* how often a direct path's QUIC counters are read */
#define DEAD_MS 300  /* sent on the direct path, nothing back: dead */
#define PMTU_GRACE_US 1000000 /* big packets wait this long on a new path */
#define LOCAL_MAX 16

struct pkt {
	int64_t at; /* loop time it was queued, us */
	size_t len;
	uint8_t data[TUNNEL_PKT_MAX];
};

struct peer {
	struct tunnels *t;
	int64_t id;
	uint8_t key[IDENT_KEY_LEN];
	struct quic_conn *c;
	bool up;                 /* datagrams can flow */
	struct pkt *q[TUNNEL_QUEUE_MAX];
	unsigned qhead, qlen;
	bool flushing;           /* flush runs: its callbacks must not */
	int64_t last_active_us;
	int64_t last_wake_us;
	int64_t last_handshake;  /* wall seconds */
	uint64_t rx_done, tx_done; /* bytes of closed connections */
	uint64_t dropped;
	uint64_t stale;          /* aged out here or in closed connections */
	bool mark;
	struct loop_timer *tick; /* queue retry, idle close */
	struct loop_timer *ptm;  /* the path manager's next wake-up */
	struct peer *key_next;   /* same key hash (see key_hash) */
	/* direct path */
	struct paths *pm;        /* while the connection is up */
	struct ip_endpoint rem[PATHS_CAND_MAX]; /* candidates from the map */
	size_t nrem;
	uint64_t seen_pkts;      /* pkts_recv at the last watch */
	uint64_t unanswered_since; /* ms: sent, nothing received since */
	uint64_t retry_not_before; /* ms: back-off carried to the next pm */
	int64_t fallback_since;  /* ms: in PATHS_FALLBACK since, 0: not */
	int64_t path_changed;    /* wall seconds */
	bool said_relay;         /* the last path change reported: relay */
	int64_t path_since_us;   /* loop time the current path began */
	uint64_t rounds_done, successes_done, fallbacks_done; /* closed pms */
};

struct tunnels {
	struct loop *loop;
	struct quic_endpoint *ep;
	int64_t self;
	struct tunnel_callbacks cbs;
	void *ctx;
	struct idmap byid;       /* id -> struct peer * */
	struct idmap bykey;      /* key_hash -> struct peer * (chained) */
	uint64_t seed;           /* of key_hash */
	/* direct paths */
	struct ip_endpoint local[LOCAL_MAX];
	size_t nlocal;
	uint64_t cooldown_ms;
	int open_ttl; /* tunnels_set_open_ttl */
	bool relay_up;
	bool no_direct;
	int64_t last_ttd_ms;
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

static struct peer *find(const struct tunnels *t, int64_t id)
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

/* Sends what waits; stops at the first packet the connection cannot take
 * yet. */
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


/* ---- direct paths ---- */

static void drop_conn(struct peer *p, const char *why);
static void connect_peer(struct peer *p);
static void report_path(struct peer *p, bool direct,
			const struct ip_endpoint *addr);

static uint64_t now_ms(const struct tunnels *t)
{
	return (uint64_t)(loop_now_us(t->loop) / 1000);
}

static void paths_arm(struct peer *p);

/* Runs the peer's path timer at once: managers' actions always execute
 * from there, never inside a QUIC or relay callback. */
static void pm_kick(struct peer *p)
{
	loop_timer_start(p->ptm, 0);
}

static void pm_free(struct peer *p)
{
	struct paths_stats st;

	if (!p->pm)
		return;
	paths_state(p->pm, NULL, &st);
	p->rounds_done += st.rounds;
	p->successes_done += st.successes;
	p->fallbacks_done += st.fallbacks;
	paths_del(p->pm);
	p->pm = NULL;
	p->fallback_since = 0;
	loop_timer_stop(p->ptm);
}

static void send_probe_frame(struct peer *p, uint8_t type,
			     const struct paths_action *a)
{
	struct wire_frame f = {.type = type, .node = (uint64_t)p->t->self};
	uint8_t buf[128];
	int n;

	memcpy(f.txid, a->txid, WIRE_TXID_LEN);
	if (type == WIRE_PROBE_REPLY)
		f.addr = a->observed;
	n = wire_frame_encode(&f, buf, sizeof(buf));
	if (n > 0)
		quic_endpoint_send_raw_ttl(p->t->ep, &a->addr, buf, (size_t)n,
					   a->ttl);
}

static void send_signal(struct peer *p, const struct signal *sg)
{
	uint8_t buf[SIGNAL_MAX];
	int n = signal_encode(sg, buf, sizeof(buf));

	if (n > 0 && p->t->cbs.send_signal)
		p->t->cbs.send_signal(p->id, buf, (size_t)n, p->t->ctx);
}

static void run_action(struct peer *p, const struct paths_action *a)
{
	struct tunnels *t = p->t;
	struct signal sg = {0};
	struct ip_endpoint v;
	int rc;

	switch (a->type) {
	case PATHS_SEND_PROBE:
		send_probe_frame(p, WIRE_PROBE, a);
		break;
	case PATHS_SEND_REPLY:
		send_probe_frame(p, WIRE_PROBE_REPLY, a);
		break;
	case PATHS_SIGNAL_CALL:
		if (!t->nlocal)
			break;
		sg.type = SIGNAL_CALL;
		sg.n = t->nlocal < SIGNAL_EPS_MAX ? t->nlocal : SIGNAL_EPS_MAX;
		memcpy(sg.eps, t->local, sg.n * sizeof(sg.eps[0]));
		send_signal(p, &sg);
		break;
	case PATHS_SIGNAL_USE:
		sg.type = SIGNAL_USE;
		sg.n = 1;
		sg.eps[0] = a->addr;
		send_signal(p, &sg);
		break;
	case PATHS_SIGNAL_LOST:
		sg.type = SIGNAL_LOST;
		send_signal(p, &sg);
		break;
	case PATHS_MIGRATE_DIRECT:
		rc = p->c ? quic_conn_migrate(p->c, false, &a->addr)
			  : WEFT_ERR_CLOSED;
		if (rc < 0)
			paths_on_migrated(p->pm, false, now_ms(t));
		break;
	case PATHS_MIGRATE_RELAY:
		if (!p->c || tunnel_vaddr(p->id, &v) < 0) {
			paths_on_migrated(p->pm, false, now_ms(t));
			break;
		}
		/* The direct path is dead: move at once (see quic.h). */
		rc = quic_conn_migrate_now(p->c, true, &v);
		/* The traffic moves now, whatever the validation says. */
		if (rc == 0)
			report_path(p, false, NULL);
		/* Already on the relay path: nothing to validate. */
		if (rc == WEFT_ERR_INVAL)
			paths_on_migrated(p->pm, true, now_ms(t));
		else if (rc < 0)
			paths_on_migrated(p->pm, false, now_ms(t));
		break;
	case PATHS_KEEPALIVE:
		/* An empty DATAGRAM is ack-eliciting; the peer ignores it. */
		if (p->c)
			quic_conn_datagram(p->c, NULL, 0);
		break;
	}
}

/* Executes what the last paths call queued (actions may queue more). */
static void pm_drain(struct peer *p)
{
	struct paths_action a;
	int guard = 0;

	while (p->pm && guard++ < 256 && paths_next_action(p->pm, &a) == 1)
		run_action(p, &a);
	paths_arm(p);
}

static void pm_start(struct peer *p)
{
	struct tunnels *t = p->t;
	uint8_t key[PATHS_KEY_LEN];
	uint64_t now = now_ms(t);

	if (p->pm || !p->c || !t->self || t->no_direct)
		return;
	if (quic_conn_export(p->c, TUNNEL_PROBE_LABEL, key, sizeof(key)) < 0)
		return;
	if (paths_new((uint64_t)t->self, (uint64_t)p->id, now, &p->pm) < 0) {
		explicit_bzero(key, sizeof(key));
		return;
	}
	paths_set_cooldown(p->pm, t->cooldown_ms);
	if (t->open_ttl)
		paths_set_open_ttl(p->pm,
				   t->open_ttl < 0 ? 0 : (uint8_t)t->open_ttl);
	paths_on_relay(p->pm, t->relay_up, now);
	paths_set_local(p->pm, t->local, t->nlocal);
	paths_set_key(p->pm, key, now);
	explicit_bzero(key, sizeof(key));
	paths_defer(p->pm, p->retry_not_before);
	paths_set_remote(p->pm, p->rem, p->nrem, now);
	p->seen_pkts = p->unanswered_since = 0;
	pm_kick(p);
}

/* Feeds the direct path's QUIC counters to the manager: a packet
 * received counts as an ack; ack-eliciting bytes in flight and nothing
 * received for DEAD_MS (the peer acknowledges within its 25 ms ack delay)
 * make the path dead. And gives up on a fall-back migration that gets no
 * answer: a connection must never stay on a dead path. */
static void pm_watch(struct peer *p, uint64_t now)
{
	struct quic_conn_stats st;
	enum paths_state s = paths_state(p->pm, NULL, NULL);
	uint64_t dead_ms;

	if (!p->c)
		return;
	quic_conn_stats(p->c, &st);
	if (s == PATHS_DIRECT && !st.is_virtual) {
		dead_ms = 3 * (st.rtt_us / 1000 + 25);
		if (dead_ms < DEAD_MS)
			dead_ms = DEAD_MS;
		if (st.pkts_recv != p->seen_pkts) {
			paths_on_ack(p->pm, now);
			p->unanswered_since = 0;
		} else if (!st.bytes_in_flight) {
			p->unanswered_since = 0;
		} else if (!p->unanswered_since) {
			p->unanswered_since = now;
		}
		if (p->unanswered_since &&
		    now - p->unanswered_since >= dead_ms) {
			p->unanswered_since = 0;
			paths_on_pto(p->pm, PATHS_PTO_MAX, now);
		}
	} else {
		p->unanswered_since = 0;
	}
	p->seen_pkts = st.pkts_recv;
	if (s != PATHS_FALLBACK) {
		p->fallback_since = 0;
		return;
	}
	if (!p->fallback_since)
		p->fallback_since = (int64_t)now;
	else if ((int64_t)now - p->fallback_since > TUNNEL_FALLBACK_MS &&
		 p->t->self < p->id)
		p->fallback_since = -1; /* reconnect below, outside the pm */
}

static void on_ptimer(struct loop_timer *tm, void *ctx)
{
	struct peer *p = ctx;
	struct tunnels *t = p->t;
	uint64_t now = now_ms(t);

	(void)tm;
	if (!p->pm)
		return;
	pm_watch(p, now);
	if (p->fallback_since == -1) {
		/* The relay path did not validate in time: start over on the
		 * relay with a new connection, keeping the back-off for the
		 * next punch. */
		uint64_t cd = 0;

		paths_retry_at(p->pm, &cd);
		p->retry_not_before =
			now + (cd ? cd
				  : t->cooldown_ms ? t->cooldown_ms
						   : PATHS_COOLDOWN_MS);
		drop_conn(p, "path lost");
		connect_peer(p);
		/* The new connection starts on the relay. */
		report_path(p, false, NULL);
		return;
	}
	paths_on_timer(p->pm, now);
	pm_drain(p);
	paths_arm(p);
}

/* Arms p's path timer for its manager's next wake-up (and the direct
 * path's watch while one is in use). */
static void paths_arm(struct peer *p)
{
	uint64_t now = now_ms(p->t), w;
	enum paths_state s;

	if (!p->pm) {
		loop_timer_stop(p->ptm);
		return;
	}
	w = paths_next_wakeup(p->pm);
	s = paths_state(p->pm, NULL, NULL);
	if (s != PATHS_RELAY && s != PATHS_PUNCHING && now + WATCH_MS < w)
		w = now + WATCH_MS;
	if (w == UINT64_MAX) {
		loop_timer_stop(p->ptm);
		return;
	}
	loop_timer_start(p->ptm, w > now ? (int64_t)(w - now) * 1000 : 0);
}

/* Path validation results. The manager's actions (a migration among
 * them) run from the path timer, never inside ngtcp2's callback. */
/* Reports a path change through on_path_change, once per move to the
 * relay (an immediate move and its validation are one change). */
static void report_path(struct peer *p, bool direct,
			const struct ip_endpoint *addr)
{
	if (!direct && p->said_relay)
		return;
	p->said_relay = !direct;
	if (p->t->cbs.on_path_change)
		p->t->cbs.on_path_change(p->id, direct, addr, p->t->ctx);
}

static void on_path(struct quic_conn *c, bool is_virtual, bool ok, void *ctx)
{
	struct peer *p = ctx;
	struct ip_endpoint r;
	enum paths_state s;
	uint64_t now;

	if (!p || !p->pm || p->c != c)
		return;
	now = now_ms(p->t);
	s = paths_state(p->pm, NULL, NULL);
	if (p->t->self < p->id) {
		/* Only the result of the move we asked for counts. */
		if ((s == PATHS_MIGRATING && !is_virtual) ||
		    (s == PATHS_FALLBACK && is_virtual))
			paths_on_migrated(p->pm, ok, now);
	} else if (ok) {
		quic_conn_remote(c, &r);
		paths_on_peer_migrated(p->pm, !is_virtual, &r, now);
	}
	if (ok) {
		struct paths_stats st;

		quic_conn_remote(c, &r);
		report_path(p, !is_virtual, &r);
		p->path_changed = clock_wall_s();
		p->path_since_us = loop_now_us(p->t->loop);
		if (paths_state(p->pm, NULL, &st) == PATHS_DIRECT &&
		    s != PATHS_DIRECT)
			p->t->last_ttd_ms = (int64_t)st.time_to_direct;
	}
	pm_kick(p);
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
	flush(p);
	pm_start(p);
}

static void on_datagram(struct quic_conn *c, const uint8_t *data, size_t len,
			void *ctx)
{
	struct peer *p = ctx;

	(void)c;
	if (!p)
		return;
	p->last_active_us = loop_now_us(p->t->loop);
	if (!p->pm && p->up)
		pm_start(p);
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
	p->c = NULL;
	p->up = false;
	pm_free(p);
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
	.on_path = on_path,
	.on_closed = on_closed,
};

static const struct quic_conn_callbacks dead_cbs = {0};

/* Closes p's connection without touching p afterwards. */
static void drop_conn(struct peer *p, const char *why)
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
	drop_conn(p, "peer removed");
	queue_clear(p);
	loop_timer_del(p->tick);
	loop_timer_del(p->ptm);
	free(p);
}

static void tick_arm(struct peer *p);

static void connect_peer(struct peer *p)
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
		left = p->last_active_us + (int64_t)TUNNEL_IDLE_MS * 1000 - now;
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
	if (p->c && now - p->last_active_us > (int64_t)TUNNEL_IDLE_MS * 1000) {
		drop_conn(p, "idle");
		queue_clear(p);
	}
	flush(p);
	if (p->qlen) {
		if (!p->c && t->self && t->self < p->id)
			connect_peer(p);
		else if (!p->c)
			wake(p);
	}
	tick_arm(p);
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

/* The peer's candidates from its map entry. */
static void set_remote(struct peer *p, const struct map_peer *mp)
{
	size_t n = mp->nendpoints < PATHS_CAND_MAX ? mp->nendpoints
						   : PATHS_CAND_MAX;

	if (n)
		memcpy(p->rem, mp->endpoints, n * sizeof(*p->rem));
	p->nrem = n;
	if (p->pm) {
		paths_set_remote(p->pm, p->rem, p->nrem, now_ms(p->t));
		pm_kick(p);
	}
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
	struct peer *p = find(t, mp->id);
	int rc;

	if (!mp->has_key) {
		if (p)
			peer_remove(t, p);
		return 0;
	}
	if (p && memcmp(p->key, mp->key, IDENT_KEY_LEN) != 0) {
		drop_conn(p, "key changed");
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
		    (rc = loop_timer_new(t->loop, on_ptimer, p, &p->ptm)) < 0 ||
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
	set_remote(p, mp);
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
		if (rc == 0 && (p = find(t, peers[i]->id)))
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
		struct peer *p = find(t, d->removed[i]);

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
	struct peer *p = find(t, peer);
	struct pkt *k;
	int rc;

	if (!p)
		return WEFT_ERR_NOTFOUND;
	if (len == 0 || len > TUNNEL_PKT_MAX)
		return WEFT_ERR_TOOBIG;
	flush(p); /* what waits goes first */
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
		connect_peer(p);
	else if (!p->c)
		wake(p);
	tick_arm(p);
	return 0;
}

void tunnels_input_relay(struct tunnels *t, int64_t src,
			 const uint8_t *payload, size_t len)
{
	struct peer *p = find(t, src);
	struct ip_endpoint from;

	if (!p || len == 0)
		return;
	if (payload[0] == TUNNEL_WAKE && len == 1) {
		if (!p->c && t->self && t->self < p->id)
			connect_peer(p);
		return;
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
	drop_conn(p, "replaced");
	p->c = c;
	p->up = true;
	p->last_handshake = clock_wall_s();
	p->last_active_us = loop_now_us(t->loop);
	p->path_changed = p->last_handshake;
	p->path_since_us = loop_now_us(t->loop);
	quic_conn_set_callbacks(c, &conn_cbs, p);
	flush(p);
	tick_arm(p);
	pm_start(p);
}

static const char *const pm_state_names[] = {
	[PATHS_RELAY] = "relay",
	[PATHS_PUNCHING] = "punching",
	[PATHS_MIGRATING] = "migrating",
	[PATHS_DIRECT] = "direct",
	[PATHS_FALLBACK] = "fallback",
};

static json_t *punch_json(struct peer *p, uint64_t now)
{
	struct paths_stats st = {0};
	enum paths_state s = PATHS_RELAY;
	uint64_t retry = 0;
	json_t *o;

	if (p->pm) {
		s = paths_state(p->pm, NULL, &st);
		retry = paths_retry_at(p->pm, NULL);
	}
	o = json_pack("{s:s?, s:I, s:I, s:I}",
		      "state", p->pm ? pm_state_names[s] : NULL,
		      "rounds", (json_int_t)(p->rounds_done + st.rounds),
		      "successes",
		      (json_int_t)(p->successes_done + st.successes),
		      "fallbacks",
		      (json_int_t)(p->fallbacks_done + st.fallbacks));
	if (!o)
		return NULL;
	if (json_object_set_new(o, "time_to_direct_ms",
				p->pm && st.successes
					? json_integer((json_int_t)
							       st.time_to_direct)
					: json_null()) < 0 ||
	    json_object_set_new(o, "next_try_ms",
				p->pm && s == PATHS_RELAY && retry > now
					? json_integer((json_int_t)(retry - now))
					: json_null()) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int tunnels_peer_json(struct tunnels *t, int64_t peer, json_t *obj)
{
	struct peer *p = find(t, peer);
	struct quic_conn_stats s = {0};
	char addr[IP_ENDPOINT_STRLEN];
	bool up = p && p->c && p->up;
	bool direct;
	uint64_t rx, tx;
	int rc = 0;

	if (up)
		quic_conn_stats(p->c, &s);
	direct = up && !s.is_virtual;
	rx = (p ? p->rx_done : 0) + s.bytes_recv;
	tx = (p ? p->tx_done : 0) + s.bytes_sent;
	rc |= json_object_set_new(obj, "path",
				  json_string(!up ? "none"
					      : direct ? "direct" : "relay"));
	rc |= json_object_set_new(
		obj, "direct_addr",
		direct && ip_endpoint_format(&s.remote, addr, sizeof(addr)) >= 0
			? json_string(addr)
			: json_null());
	rc |= json_object_set_new(obj, "path_changed",
				  up && p->path_changed
					  ? json_integer(p->path_changed)
					  : json_null());
	rc |= json_object_set_new(obj, "rx_bytes", json_integer((json_int_t)rx));
	rc |= json_object_set_new(obj, "tx_bytes", json_integer((json_int_t)tx));
	rc |= json_object_set_new(obj, "rtt_ms",
				  up ? json_real((double)s.rtt_us / 1000.0)
				     : json_null());
	rc |= json_object_set_new(obj, "last_handshake",
				  p && p->last_handshake
					  ? json_integer(p->last_handshake)
					  : json_null());
	rc |= json_object_set_new(obj, "dropped",
				  json_integer(p ? (json_int_t)p->dropped : 0));
	rc |= json_object_set_new(
		obj, "stale",
		json_integer(p ? (json_int_t)(p->stale + s.dgrams_stale) : 0));
	rc |= json_object_set_new(obj, "punch",
				  p ? punch_json(p, now_ms(t)) : json_null());
	return rc ? WEFT_ERR_NOMEM : 0;
}

void tunnels_set_local(struct tunnels *t, const struct ip_endpoint *eps,
		       size_t n)
{
	void *v;

	t->nlocal = n < LOCAL_MAX ? n : LOCAL_MAX;
	if (t->nlocal)
		memcpy(t->local, eps, t->nlocal * sizeof(*eps));
	for (size_t i = 0; idmap_next(&t->byid, &i, NULL, &v);) {
		struct peer *p = v;

		if (p->pm) {
			paths_set_local(p->pm, t->local, t->nlocal);
			pm_kick(p);
		}
	}
}

void tunnels_set_direct(struct tunnels *t, bool on)
{
	t->no_direct = !on;
}

void tunnels_set_cooldown(struct tunnels *t, uint64_t ms)
{
	t->cooldown_ms = ms;
}

void tunnels_set_open_ttl(struct tunnels *t, int ttl)
{
	t->open_ttl = ttl > 255 ? 255 : ttl;
}

void tunnels_set_relay_up(struct tunnels *t, bool up)
{
	void *v;

	t->relay_up = up;
	for (size_t i = 0; idmap_next(&t->byid, &i, NULL, &v);) {
		struct peer *p = v;

		if (p->pm) {
			paths_on_relay(p->pm, up, now_ms(t));
			pm_kick(p);
		}
	}
}

void tunnels_input_frame(struct tunnels *t, const struct ip_endpoint *from,
			 const struct wire_frame *f)
{
	struct peer *p;

	if (f->node > INT64_MAX || !(p = find(t, (int64_t)f->node)) ||
	    !p->pm)
		return;
	if (f->type == WIRE_PROBE)
		paths_on_probe(p->pm, from, f->txid, f->node, now_ms(t));
	else if (f->type == WIRE_PROBE_REPLY)
		paths_on_reply(p->pm, from, f->txid, f->node, &f->addr,
			       now_ms(t));
	pm_kick(p);
}

void tunnels_input_signal(struct tunnels *t, int64_t src,
			  const uint8_t *data, size_t len)
{
	struct peer *p = find(t, src);
	struct signal sg;
	uint64_t now = now_ms(t);

	if (!p || !p->pm || signal_decode(data, len, &sg) < 0)
		return;
	switch (sg.type) {
	case SIGNAL_CALL:
		paths_on_call(p->pm, sg.eps, sg.n, now);
		break;
	case SIGNAL_USE:
		paths_on_use(p->pm, &sg.eps[0], now);
		break;
	case SIGNAL_LOST:
		paths_on_lost(p->pm, now);
		break;
	}
	pm_kick(p);
}

void tunnels_stats(struct tunnels *t, struct tunnels_stats *out)
{
	void *v;

	memset(out, 0, sizeof(*out));
	out->last_time_to_direct_ms = t->last_ttd_ms;
	for (size_t i = 0; idmap_next(&t->byid, &i, NULL, &v);) {
		struct peer *p = v;
		struct paths_stats st = {0};
		struct quic_conn_stats qs;

		if (p->pm)
			paths_state(p->pm, NULL, &st);
		out->punch_rounds += p->rounds_done + st.rounds;
		out->punch_successes += p->successes_done + st.successes;
		out->fallbacks += p->fallbacks_done + st.fallbacks;
		out->stale += p->stale;
		if (p->c) {
			quic_conn_stats(p->c, &qs);
			out->stale += qs.dgrams_stale;
			if (p->up && !qs.is_virtual)
				out->direct_peers++;
		}
	}
}
