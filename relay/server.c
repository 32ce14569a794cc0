/* The relay's I/O glue; see server.h. */
#include "relay/server.h"

#include "relay/metrics.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/wire.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_STREAM_BUFFER (64 * 1024)
#define DEFAULT_RETRY_RATE 200
#define RETRY_CALM_TICKS 10 /* quiet seconds before Retry goes off again */

struct sconn {
	struct server *s;
	struct sconn *prev, *next;
	struct quic_endpoint *ep;
	struct quic_conn *c;
	struct relay_client *cl;
	struct loop_timer *t;
};

struct server {
	struct loop *loop;
	struct relay *r;
	struct quic_endpoint *eps[SERVER_MAX_LISTEN];
	size_t neps;
	enum server_retry retry;
	uint32_t retry_rate;
	bool retry_on;
	unsigned calm;
	uint64_t accepts_tick;
	uint64_t handshakes;
	unsigned max_conns;
	struct loop_timer *tick;
	struct sconn *conns;
};

static void sconn_free(struct sconn *sc)
{
	struct server *s = sc->s;

	if (sc->prev)
		sc->prev->next = sc->next;
	else if (s->conns == sc)
		s->conns = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	loop_timer_del(sc->t);
	free(sc);
}

/* ---- ops for the core ---- */

static int op_send_datagram(void *sock, const struct ip_endpoint *to,
			    const uint8_t *p, size_t n, void *ctx)
{
	return quic_endpoint_send_raw(sock, to, p, n);
}

static int op_send_stream(void *conn, int64_t sid, const uint8_t *p,
			  size_t n, void *ctx)
{
	struct sconn *sc = conn;

	return quic_conn_stream_send(sc->c, sid, p, n, false);
}

static void op_reset_stream(void *conn, int64_t sid, uint64_t code,
			    void *ctx)
{
	struct sconn *sc = conn;

	quic_conn_stream_shutdown(sc->c, sid, code);
}

static void op_close(void *conn, uint64_t code, const char *reason,
		     void *ctx)
{
	struct sconn *sc = conn;

	quic_conn_close(sc->c, code, reason);
}

static void op_set_timer(void *conn, int64_t deadline_us, void *ctx)
{
	struct sconn *sc = conn;
	struct server *s = ctx;

	loop_timer_start(sc->t, deadline_us - loop_now_us(s->loop));
}

static int64_t op_wall_s(void *ctx)
{
	return clock_wall_s();
}

static const struct relay_ops ops = {
	.send_datagram = op_send_datagram,
	.send_stream = op_send_stream,
	.reset_stream = op_reset_stream,
	.close = op_close,
	.set_timer = op_set_timer,
	.wall_s = op_wall_s,
};

/* ---- connection callbacks ---- */

static void check_remote(struct sconn *sc)
{
	struct ip_endpoint e;

	if (sc->cl && quic_conn_remote(sc->c, &e) == 0)
		relay_client_remote(sc->cl, &e, loop_now_us(sc->s->loop));
}

static void on_stream_data(struct quic_conn *c, int64_t sid,
			   const uint8_t *data, size_t len, bool fin,
			   void *ctx)
{
	struct sconn *sc = ctx;

	check_remote(sc);
	relay_client_stream(sc->cl, sid, data, len, fin,
			    loop_now_us(sc->s->loop));
}

static void on_datagram(struct quic_conn *c, const uint8_t *data, size_t len,
			void *ctx)
{
	check_remote(ctx);
}

static void on_path(struct quic_conn *c, bool is_virtual, bool ok, void *ctx)
{
	if (ok)
		check_remote(ctx);
}

static void on_closed(struct quic_conn *c, const struct quic_close_info *i,
		      void *ctx)
{
	struct sconn *sc = ctx;

	if (i->remote || !i->app)
		log_debug("conn_closed", "node=%lld err=%d remote=%d code=%llu",
			  (long long)relay_client_node(sc->cl), i->err,
			  i->remote, (unsigned long long)i->code);
	relay_client_del(sc->cl);
	sconn_free(sc);
}

static const struct quic_conn_callbacks conn_cbs = {
	.on_datagram = on_datagram,
	.on_stream_data = on_stream_data,
	.on_path = on_path,
	.on_closed = on_closed,
};

static void on_conn_timer(struct loop_timer *t, void *ctx)
{
	struct sconn *sc = ctx;

	relay_client_timeout(sc->cl, loop_now_us(sc->s->loop));
}

/* ---- endpoint callbacks ---- */

static void set_retry(struct server *s, bool on)
{
	size_t i;

	if (s->retry_on == on)
		return;
	s->retry_on = on;
	for (i = 0; i < s->neps; i++)
		quic_endpoint_set_retry(s->eps[i], on);
	log_info("retry", "active=%s", on ? "true" : "false");
}

static unsigned half_open(const struct server *s, uint64_t clients)
{
	unsigned n = server_conn_count(s);

	return n > clients ? n - (unsigned)clients : 0;
}

/* Auto Retry: on when handshakes come faster than retry_rate per second
 * or that many are half-open (a spoofed Initial flood never completes),
 * off again after RETRY_CALM_TICKS quiet seconds. */
static void retry_check(struct server *s)
{
	struct relay_stats st;

	if (s->retry != SERVER_RETRY_AUTO)
		return;
	relay_stats(s->r, &st);
	if (s->accepts_tick > s->retry_rate ||
	    half_open(s, st.clients) > s->retry_rate) {
		s->calm = 0;
		set_retry(s, true);
	}
}

static void on_tick(struct loop_timer *t, void *ctx)
{
	struct server *s = ctx;

	retry_check(s);
	if (s->retry_on && s->retry == SERVER_RETRY_AUTO &&
	    s->accepts_tick <= s->retry_rate && ++s->calm >= RETRY_CALM_TICKS)
		set_retry(s, false);
	s->accepts_tick = 0;
	loop_timer_start(t, 1000000);
}

static bool accept_peer(struct quic_endpoint *ep, const char *alpn,
			const uint8_t key[IDENT_KEY_LEN], void *ctx)
{
	/* Any node key: nodes prove membership with their token. */
	return strcmp(alpn, QUIC_ALPN_RELAY) == 0;
}

static void on_accept(struct quic_endpoint *ep, struct quic_conn *c,
		      const char *alpn, void *ctx)
{
	struct server *s = ctx;
	struct sconn *sc = calloc(1, sizeof(*sc));
	struct ip_endpoint remote;

	s->handshakes++;
	s->accepts_tick++;
	retry_check(s);
	if (!sc || loop_timer_new(s->loop, on_conn_timer, sc, &sc->t) < 0 ||
	    quic_conn_remote(c, &remote) < 0) {
		if (sc)
			loop_timer_del(sc->t);
		free(sc);
		quic_conn_close(c, WIRE_CLOSE_SHUTTING_DOWN, "out of memory");
		return;
	}
	sc->s = s;
	sc->ep = ep;
	sc->c = c;
	sc->next = s->conns;
	if (s->conns)
		s->conns->prev = sc;
	s->conns = sc;
	quic_conn_set_callbacks(c, &conn_cbs, sc);
	if (relay_client_new(s->r, sc, ep, &remote, loop_now_us(s->loop),
			     &sc->cl) < 0) {
		/* on_closed frees sc; cl stays NULL, which it accepts. */
		quic_conn_close(c, WIRE_CLOSE_SHUTTING_DOWN, "out of memory");
	}
}

static void on_other(struct quic_endpoint *ep, const struct ip_endpoint *from,
		     const uint8_t *data, size_t len, void *ctx)
{
	struct server *s = ctx;

	relay_datagram(s->r, ep, from, data, len, loop_now_us(s->loop));
}

/* ---- lifecycle ---- */

int server_new(struct loop *l, const struct server_options *o,
	       struct server **out)
{
	static const char *const alpns[] = {QUIC_ALPN_RELAY, NULL};
	struct server *s;
	size_t i;
	int r;

	if (!o || !o->id || !o->controller_key || o->nlisten == 0 ||
	    o->nlisten > SERVER_MAX_LISTEN)
		return WEFT_ERR_INVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return WEFT_ERR_NOMEM;
	s->loop = l;
	s->retry = o->retry;
	s->retry_rate = o->retry_rate ? o->retry_rate : DEFAULT_RETRY_RATE;
	s->max_conns = o->max_conns ? o->max_conns : 1024;
	r = relay_new(&o->relay, &ops, s, &s->r);
	if (r < 0)
		goto out;
	r = relay_set_controller_key(s->r, o->controller_key);
	if (r < 0)
		goto out;
	for (i = 0; i < o->nlisten; i++) {
		struct quic_endpoint_options eo = {
			.bind = o->listen[i],
			.id = o->id,
			.alpns = alpns,
			.accept_peer = accept_peer,
			.on_accept = on_accept,
			.on_other = on_other,
			.ctx = s,
			.max_conns = s->max_conns,
			.max_stream_buffer = o->max_stream_buffer
						     ? o->max_stream_buffer
						     : DEFAULT_STREAM_BUFFER,
			.idle_timeout_ms = o->idle_timeout_ms,
			.retry = o->retry == SERVER_RETRY_ALWAYS,
			/* A relay restarted with the same key resets the
			 * agents' old connections at their next packet. */
			.stable_reset = true,
		};

		r = quic_endpoint_new(l, &eo, &s->eps[i]);
		if (r < 0)
			goto out;
		s->neps++;
	}
	s->retry_on = o->retry == SERVER_RETRY_ALWAYS;
	r = loop_timer_new(l, on_tick, s, &s->tick);
	if (r < 0)
		goto out;
	loop_timer_start(s->tick, 1000000);
	*out = s;
out:
	if (r < 0)
		server_del(s);
	return r;
}

void server_del(struct server *s)
{
	size_t i;

	if (!s)
		return;
	loop_timer_del(s->tick);
	/* quic_endpoint_del calls no callbacks, so the core's clients and
	 * their glue are freed here rather than in on_closed. */
	for (i = 0; i < s->neps; i++)
		quic_endpoint_del(s->eps[i]);
	while (s->conns)
		sconn_free(s->conns);
	relay_del(s->r);
	free(s);
}

int server_local(const struct server *s, size_t i, struct ip_endpoint *out)
{
	if (i >= s->neps)
		return WEFT_ERR_RANGE;
	return quic_endpoint_local(s->eps[i], out);
}

int server_set_controller_key(struct server *s, const char *pem)
{
	return relay_set_controller_key(s->r, pem);
}

int server_set_ident(struct server *s, const struct ident *id)
{
	int r;

	for (size_t i = 0; i < s->neps; i++) {
		r = quic_endpoint_set_ident(s->eps[i], id);
		if (r < 0)
			return r;
	}
	return 0;
}

void server_shutdown(struct server *s)
{
	relay_shutdown(s->r);
}

unsigned server_conn_count(const struct server *s)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < s->neps; i++)
		n += quic_endpoint_conn_count(s->eps[i]);
	return n;
}

int server_metrics(struct server *s, struct buf *out)
{
	struct relay_stats st;
	struct metrics_engine e = {0};
	size_t i;

	relay_stats(s->r, &st);
	for (i = 0; i < s->neps; i++) {
		struct quic_endpoint_stats q;

		quic_endpoint_stats(s->eps[i], &q);
		e.retry_sent += q.retry_sent;
		e.retry_failed += q.retry_failed;
		e.udp_sent += q.udp_sent;
		e.udp_send_msgs += q.udp_send_msgs;
		e.udp_recv += q.udp_recv;
		e.udp_recv_msgs += q.udp_recv_msgs;
	}
	e.handshakes = s->handshakes;
	e.retry_on = s->retry_on;
	e.max_conns = (uint64_t)s->max_conns * s->neps;
	return metrics_render(&st, &e, out);
}
