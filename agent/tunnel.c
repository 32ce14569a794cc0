/* Peer tunnels on the relay path: see tunnel.h.
 *
 * Peers live in a flat array of pointers searched linearly: a node has a
 * handful of peers, and the map hands over the whole set at once. */
#include "agent/tunnel.h"

#include "shared/clock.h"
#include "shared/err.h"
#include "shared/loop.h"
#include "shared/quic.h"

#include <stdlib.h>
#include <string.h>

#define TICK_FAST_US 20000
#define TICK_SLOW_US 10000000
#define WAKE_EVERY_US 1000000

struct pkt {
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
	int64_t last_active_us;
	int64_t last_wake_us;
	int64_t last_handshake;  /* wall seconds */
	uint64_t rx_done, tx_done; /* bytes of closed connections */
	uint64_t dropped;
	bool mark;
};

struct tunnels {
	struct loop *loop;
	struct quic_endpoint *ep;
	int64_t self;
	struct tunnel_callbacks cbs;
	void *ctx;
	struct loop_timer *tick;
	struct peer **p;
	size_t n, cap;
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
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->p[i]->id == id)
			return t->p[i];
	return NULL;
}

static struct peer *find_key(const struct tunnels *t,
			     const uint8_t key[IDENT_KEY_LEN])
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (memcmp(t->p[i]->key, key, IDENT_KEY_LEN) == 0)
			return t->p[i];
	return NULL;
}

static void queue_clear(struct peer *p)
{
	while (p->qlen) {
		free(p->q[p->qhead]);
		p->q[p->qhead] = NULL;
		p->qhead = (p->qhead + 1) % TUNNEL_QUEUE_MAX;
		p->qlen--;
	}
}

/* Sends what waits; stops at the first packet the connection cannot take
 * yet. */
static void flush(struct peer *p)
{
	while (p->qlen && p->c && p->up) {
		struct pkt *k = p->q[p->qhead];
		int rc = quic_conn_datagram(p->c, k->data, k->len);

		if (rc == WEFT_ERR_BUSY || rc == WEFT_ERR_UNSUPPORTED)
			return;
		if (rc < 0)
			p->dropped++;
		free(k);
		p->q[p->qhead] = NULL;
		p->qhead = (p->qhead + 1) % TUNNEL_QUEUE_MAX;
		p->qlen--;
	}
}

static void on_established(struct quic_conn *c, void *ctx)
{
	struct peer *p = ctx;

	(void)c;
	if (!p)
		return;
	p->up = true;
	p->last_handshake = clock_wall_s();
	flush(p);
}

static void on_datagram(struct quic_conn *c, const uint8_t *data, size_t len,
			void *ctx)
{
	struct peer *p = ctx;

	(void)c;
	if (!p)
		return;
	p->last_active_us = loop_now_us(p->t->loop);
	if (p->t->cbs.on_packet)
		p->t->cbs.on_packet(p->id, data, len, p->t->ctx);
}

static void on_datagram_writable(struct quic_conn *c, void *ctx)
{
	struct peer *p = ctx;

	(void)c;
	if (p)
		flush(p);
}

static void on_closed(struct quic_conn *c, const struct quic_close_info *i,
		      void *ctx)
{
	struct peer *p = ctx;
	struct quic_conn_stats s;

	(void)i;
	if (!p || p->c != c)
		return;
	quic_conn_stats(c, &s);
	p->rx_done += s.bytes_recv;
	p->tx_done += s.bytes_sent;
	p->c = NULL;
	p->up = false;
}

static const struct quic_conn_callbacks conn_cbs = {
	.on_established = on_established,
	.on_datagram = on_datagram,
	.on_datagram_writable = on_datagram_writable,
	.on_closed = on_closed,
};

static const struct quic_conn_callbacks dead_cbs = {0};

/* Closes p's connection without touching p afterwards. */
static void drop_conn(struct peer *p, const char *why)
{
	struct quic_conn *c = p->c;
	struct quic_conn_stats s;

	if (!c)
		return;
	quic_conn_stats(c, &s);
	p->rx_done += s.bytes_recv;
	p->tx_done += s.bytes_sent;
	p->c = NULL;
	p->up = false;
	quic_conn_set_callbacks(c, &dead_cbs, NULL);
	quic_conn_close(c, 0, why);
}

static void peer_free(struct peer *p)
{
	drop_conn(p, "peer removed");
	queue_clear(p);
	free(p);
}

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

static void on_tick(struct loop_timer *tm, void *ctx)
{
	struct tunnels *t = ctx;
	int64_t now = loop_now_us(t->loop);
	bool pending = false;
	size_t i;

	for (i = 0; i < t->n; i++) {
		struct peer *p = t->p[i];

		if (p->c && now - p->last_active_us >
				    (int64_t)TUNNEL_IDLE_MS * 1000) {
			drop_conn(p, "idle");
			queue_clear(p);
		}
		flush(p);
		if (p->qlen) {
			pending = true;
			if (!p->c && t->self && t->self < p->id)
				connect_peer(p);
			else if (!p->c)
				wake(p);
		}
	}
	loop_timer_start(tm, pending ? TICK_FAST_US : TICK_SLOW_US);
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
	rc = loop_timer_new(l, on_tick, t, &t->tick);
	if (rc < 0) {
		free(t);
		return rc;
	}
	loop_timer_start(t->tick, TICK_SLOW_US);
	*out = t;
	return 0;
}

void tunnels_del(struct tunnels *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		peer_free(t->p[i]);
	free(t->p);
	loop_timer_del(t->tick);
	free(t);
}

void tunnels_set_self(struct tunnels *t, int64_t self_id)
{
	t->self = self_id;
}

int tunnels_set_peers(struct tunnels *t, const json_t *peers)
{
	const json_t *o;
	size_t i, j;

	for (i = 0; i < t->n; i++)
		t->p[i]->mark = false;
	json_array_foreach(peers, i, o) {
		int64_t id = json_integer_value(json_object_get(o, "id"));
		const char *k = json_string_value(json_object_get(o,
								  "public_key"));
		uint8_t key[IDENT_KEY_LEN];
		struct peer *p;

		if (id <= 0 || !k || ident_pin_from_b64(k, key) < 0)
			continue;
		p = find(t, id);
		if (p && memcmp(p->key, key, IDENT_KEY_LEN) != 0) {
			drop_conn(p, "key changed");
			queue_clear(p);
			memcpy(p->key, key, IDENT_KEY_LEN);
		}
		if (!p) {
			if (t->n == t->cap) {
				size_t nc = t->cap ? t->cap * 2 : 8;
				struct peer **np = realloc(t->p,
							   nc * sizeof(*np));

				if (!np)
					return WEFT_ERR_NOMEM;
				t->p = np;
				t->cap = nc;
			}
			p = calloc(1, sizeof(*p));
			if (!p)
				return WEFT_ERR_NOMEM;
			p->t = t;
			p->id = id;
			memcpy(p->key, key, IDENT_KEY_LEN);
			t->p[t->n++] = p;
		}
		p->mark = true;
	}
	for (i = 0, j = 0; i < t->n; i++) {
		if (t->p[i]->mark)
			t->p[j++] = t->p[i];
		else
			peer_free(t->p[i]);
	}
	t->n = j;
	return 0;
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
		if (rc != WEFT_ERR_BUSY) {
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
	k->len = len;
	memcpy(k->data, pkt, len);
	p->q[(p->qhead + p->qlen) % TUNNEL_QUEUE_MAX] = k;
	p->qlen++;
	if (!p->c && t->self && t->self < p->id)
		connect_peer(p);
	else if (!p->c)
		wake(p);
	loop_timer_start(t->tick, TICK_FAST_US);
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
	quic_conn_set_callbacks(c, &conn_cbs, p);
	flush(p);
	if (p->qlen)
		loop_timer_start(t->tick, TICK_FAST_US);
}

int tunnels_peer_json(struct tunnels *t, int64_t peer, json_t *obj)
{
	struct peer *p = find(t, peer);
	struct quic_conn_stats s = {0};
	uint64_t rx, tx;
	int rc = 0;

	if (p && p->c)
		quic_conn_stats(p->c, &s);
	rx = (p ? p->rx_done : 0) + s.bytes_recv;
	tx = (p ? p->tx_done : 0) + s.bytes_sent;
	rc |= json_object_set_new(obj, "path",
				  json_string(p && p->c && p->up ? "relay"
								 : "none"));
	rc |= json_object_set_new(obj, "rx_bytes", json_integer((json_int_t)rx));
	rc |= json_object_set_new(obj, "tx_bytes", json_integer((json_int_t)tx));
	rc |= json_object_set_new(obj, "rtt_ms",
				  p && p->c && p->up
					  ? json_real((double)s.rtt_us / 1000.0)
					  : json_null());
	rc |= json_object_set_new(obj, "last_handshake",
				  p && p->last_handshake
					  ? json_integer(p->last_handshake)
					  : json_null());
	rc |= json_object_set_new(obj, "dropped",
				  json_integer(p ? (json_int_t)p->dropped : 0));
	return rc ? WEFT_ERR_NOMEM : 0;
}
