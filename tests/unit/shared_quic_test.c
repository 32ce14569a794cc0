/* The QUIC engine over real UDP on 127.0.0.1, two endpoints in one process
 * and one loop; every wait has a deadline. */
#include "check.h"
#include "shared/err.h"
#include "shared/ident.h"
#include "shared/ip.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/rand.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define NDGRAMS 1000
#define MAXCONNS 64
#define STREAM_TOTAL (1 << 20)

struct vpkt {
	struct vpkt *next;
	int to; /* 0: client endpoint, 1: server endpoint */
	struct ip_endpoint from;
	size_t len;
	uint8_t d[];
};

struct world {
	struct loop *l;
	struct ident *sid, *cid;
	struct quic_endpoint *srv, *cli;
	struct quic_endpoint_options so; /* the server's, for a restart */
	struct ip_endpoint srv_addr, srv_vaddr, cli_vaddr;
	bool reject_client;
	/* client side */
	struct quic_conn *cc[MAXCONNS];
	int nclients;
	int established;
	int cclosed;
	struct quic_close_info cinfo;
	char creason[QUIC_REASON_MAX + 1];
	/* server side */
	struct quic_conn *sc[MAXCONNS];
	int accepted;
	int sclosed;
	struct quic_close_info sinfo;
	char sreason[QUIC_REASON_MAX + 1];
	bool echo;
	/* datagrams */
	int srv_dgrams, cli_dgrams;
	long srv_last, cli_last;
	bool srv_order_ok, cli_order_ok;
	/* stream */
	int64_t stream;
	size_t sent, rcvd;
	uint64_t sent_sum, rcvd_sum;
	bool rcvd_fin;
	bool hold;          /* the server holds the stream's bytes */
	size_t consumed;
	size_t send_limit;
	bool send_fin;
	/* paths */
	int path_ok, path_fail;
	bool last_path_virtual;
	/* virtual shuttle */
	struct vpkt *vq, **vtail;
	unsigned vpkts;
	unsigned vpkts_from_srv;
	bool drop_to_srv;   /* the relay loses everything for the server */
	uint8_t srv_cid[16]; /* DCID of the client's last short-header packet */
	bool have_srv_cid;
	int others;
	size_t vmax; /* the stand-in relay drops larger packets (0: none) */
	size_t other_len[8]; /* lengths of the first on_other datagrams */
	uint8_t other_first[8]; /* ... and their second bytes */
	int dgram_writable;
};

static uint64_t sum_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static uint8_t stream_byte(size_t off)
{
	return (uint8_t)((off * 2654435761u) >> 13);
}

/* ---- client callbacks ---- */

static void c_established(struct quic_conn *c, void *ctx)
{
	struct world *w = ctx;

	w->established++;
}

static void c_datagram(struct quic_conn *c, const uint8_t *d, size_t n,
		       void *ctx)
{
	struct world *w = ctx;
	long seq;

	if (n < 4)
		return;
	seq = (long)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
		     (uint32_t)d[2] << 8 | d[3]);
	if (seq <= w->cli_last)
		w->cli_order_ok = false;
	w->cli_last = seq;
	w->cli_dgrams++;
}

static void pump_stream(struct world *w, struct quic_conn *c)
{
	uint8_t buf[8192];
	int r;

	while (w->sent < w->send_limit) {
		size_t n = w->send_limit - w->sent, i;

		if (n > sizeof(buf))
			n = sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = stream_byte(w->sent + i);
		r = quic_conn_stream_send(c, w->stream, buf, n,
					  w->send_fin &&
						  w->sent + n == w->send_limit);
		if (r <= 0)
			return;
		w->sent_sum = sum_bytes(w->sent_sum, buf, (size_t)r);
		w->sent += (size_t)r;
	}
}

static void c_writable(struct quic_conn *c, int64_t id, void *ctx)
{
	struct world *w = ctx;

	if (id == w->stream)
		pump_stream(w, c);
}

static void c_path(struct quic_conn *c, bool is_virtual, bool ok, void *ctx)
{
	struct world *w = ctx;

	if (ok)
		w->path_ok++;
	else
		w->path_fail++;
	w->last_path_virtual = is_virtual;
}

static void c_closed(struct quic_conn *c, const struct quic_close_info *i,
		     void *ctx)
{
	struct world *w = ctx;

	w->cclosed++;
	w->cinfo = *i;
	snprintf(w->creason, sizeof(w->creason), "%s", i->reason);
	w->cinfo.reason = w->creason;
	for (int k = 0; k < w->nclients; k++)
		if (w->cc[k] == c)
			w->cc[k] = NULL;
}

static void c_dgram_writable(struct quic_conn *c, void *ctx)
{
	struct world *w = ctx;

	(void)c;
	w->dgram_writable++;
}

static const struct quic_conn_callbacks client_cbs = {
	.on_established = c_established,
	.on_datagram = c_datagram,
	.on_datagram_writable = c_dgram_writable,
	.on_stream_writable = c_writable,
	.on_path = c_path,
	.on_closed = c_closed,
};

/* ---- server callbacks ---- */

static void s_datagram(struct quic_conn *c, const uint8_t *d, size_t n,
		       void *ctx)
{
	struct world *w = ctx;
	long seq;

	if (n >= 4) {
		seq = (long)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
			     (uint32_t)d[2] << 8 | d[3]);
		if (seq <= w->srv_last)
			w->srv_order_ok = false;
		w->srv_last = seq;
	}
	w->srv_dgrams++;
	if (w->echo)
		quic_conn_datagram(c, d, n);
}

static void s_stream(struct quic_conn *c, int64_t id, const uint8_t *d,
		     size_t n, bool fin, void *ctx)
{
	struct world *w = ctx;

	if (w->hold)
		quic_conn_stream_hold(c, id);
	w->rcvd_sum = sum_bytes(w->rcvd_sum, d, n);
	w->rcvd += n;
	if (fin)
		w->rcvd_fin = true;
}

static void s_closed(struct quic_conn *c, const struct quic_close_info *i,
		     void *ctx)
{
	struct world *w = ctx;

	w->sclosed++;
	w->sinfo = *i;
	snprintf(w->sreason, sizeof(w->sreason), "%s", i->reason);
	w->sinfo.reason = w->sreason;
	for (int k = 0; k < w->accepted; k++)
		if (w->sc[k] == c)
			w->sc[k] = NULL;
}

static const struct quic_conn_callbacks server_cbs = {
	.on_datagram = s_datagram,
	.on_stream_data = s_stream,
	.on_closed = s_closed,
};

static bool s_accept_peer(struct quic_endpoint *ep, const char *alpn,
			  const uint8_t key[IDENT_KEY_LEN], void *ctx)
{
	struct world *w = ctx;
	uint8_t expect[IDENT_KEY_LEN];

	ident_public_key(w->cid, expect);
	return !w->reject_client && memcmp(key, expect, IDENT_KEY_LEN) == 0;
}

static void s_on_accept(struct quic_endpoint *ep, struct quic_conn *c,
			const char *alpn, void *ctx)
{
	struct world *w = ctx;

	if (w->accepted < MAXCONNS)
		w->sc[w->accepted++] = c;
	quic_conn_set_callbacks(c, &server_cbs, w);
}

static void on_other(struct quic_endpoint *ep, const struct ip_endpoint *from,
		     const uint8_t *d, size_t n, void *ctx)
{
	struct world *w = ctx;

	if (w->others < 8) {
		w->other_len[w->others] = n;
		w->other_first[w->others] = n > 1 ? d[1] : 0;
	}
	w->others++;
}

/* The stand-in relay: packets for a virtual address are queued and
 * injected into the other endpoint after the loop iteration. */
static int send_virtual(struct quic_endpoint *ep, struct quic_conn *c,
			const struct ip_endpoint *to, const uint8_t *d,
			size_t n, void *ctx)
{
	struct world *w = ctx;
	struct vpkt *p;

	if (w->vmax && n > w->vmax)
		return 0; /* like a relay frame over the payload limit */
	p = malloc(sizeof(*p) + n);
	if (!p)
		return WEFT_ERR_NOMEM;
	p->next = NULL;
	p->to = ep == w->cli ? 1 : 0;
	p->from = ep == w->cli ? w->cli_vaddr : w->srv_vaddr;
	p->len = n;
	memcpy(p->d, d, n);
	*w->vtail = p;
	w->vtail = &p->next;
	w->vpkts++;
	if (ep == w->srv)
		w->vpkts_from_srv++;
	if (ep == w->cli && n > 17 && !(d[0] & 0x80)) {
		memcpy(w->srv_cid, d + 1, sizeof(w->srv_cid));
		w->have_srv_cid = true;
	}
	return 0;
}

static void shuttle(struct world *w)
{
	struct vpkt *p;

	while ((p = w->vq)) {
		w->vq = p->next;
		if (!w->vq)
			w->vtail = &w->vq;
		if (p->to && w->drop_to_srv) {
			free(p);
			continue;
		}
		quic_endpoint_input_virtual(p->to ? w->srv : w->cli, &p->from,
					    p->d, p->len);
		free(p);
	}
}

/* ---- setup ---- */

struct world_opts {
	unsigned stateless_rate;
	bool no_gso;
	bool no_gro;
	bool dual; /* both endpoints on [::] with dual_stack */
	bool stable_reset; /* the server's */
};

static bool world_init_ex(struct world *w, const char *const *alpns,
			  bool retry, const struct world_opts *wo)
{
	struct quic_endpoint_options so = {0}, co = {0};
	struct ip_endpoint a;

	memset(w, 0, sizeof(*w));
	w->vtail = &w->vq;
	w->srv_last = w->cli_last = -1;
	w->srv_order_ok = w->cli_order_ok = true;
	if (loop_new(&w->l) < 0 || ident_generate(&w->sid) < 0 ||
	    ident_generate(&w->cid) < 0)
		return false;
	ip_endpoint_parse("127.0.0.1:1", &so.bind);
	so.bind.port = 0;
	co.bind = so.bind;
	so.id = w->sid;
	so.alpns = alpns;
	so.accept_peer = s_accept_peer;
	so.on_accept = s_on_accept;
	so.on_other = on_other;
	so.send_virtual = send_virtual;
	so.ctx = w;
	so.retry = retry;
	so.idle_timeout_ms = 20000;
	so.stateless_rate = wo->stateless_rate;
	so.stable_reset = wo->stable_reset;
	so.no_gso = co.no_gso = wo->no_gso;
	so.no_gro = co.no_gro = wo->no_gro;
	if (wo->dual) {
		ip_endpoint_parse("[::]:1", &so.bind);
		so.bind.port = 0;
		co.bind = so.bind;
		so.dual_stack = co.dual_stack = true;
	}
	ip_endpoint_parse("127.255.0.2:1", &so.virtual_local);
	so.virtual_local.port = 0;
	co.id = w->cid;
	co.send_virtual = send_virtual;
	co.on_other = on_other;
	co.ctx = w;
	co.idle_timeout_ms = 20000;
	ip_endpoint_parse("127.255.0.1:1", &co.virtual_local);
	co.virtual_local.port = 0;
	if (quic_endpoint_new(w->l, &so, &w->srv) < 0 ||
	    quic_endpoint_new(w->l, &co, &w->cli) < 0)
		return false;
	quic_endpoint_local(w->srv, &w->srv_addr);
	quic_endpoint_local(w->cli, &a);
	if (wo->dual) { /* [::]: reach it over IPv4 loopback first */
		uint16_t port = w->srv_addr.port;

		ip_endpoint_parse("127.0.0.1:1", &w->srv_addr);
		w->srv_addr.port = port;
	}
	w->so = so;
	w->srv_vaddr = so.virtual_local;
	w->srv_vaddr.port = w->srv_addr.port;
	w->cli_vaddr = co.virtual_local;
	w->cli_vaddr.port = a.port;
	return true;
}

static bool world_init(struct world *w, const char *const *alpns,
		       bool retry)
{
	const struct world_opts wo = {0};

	return world_init_ex(w, alpns, retry, &wo);
}

static void world_free(struct world *w)
{
	struct vpkt *p;

	quic_endpoint_del(w->cli);
	quic_endpoint_del(w->srv);
	while ((p = w->vq)) {
		w->vq = p->next;
		free(p);
	}
	loop_del(w->l);
	ident_del(w->sid);
	ident_del(w->cid);
}

typedef bool cond_fn(struct world *w);

/* Runs the loop until cond holds or timeout_ms passes. */
static bool run_until(struct world *w, cond_fn *cond, int timeout_ms)
{
	int64_t end = loop_now_us(w->l) + (int64_t)timeout_ms * 1000;

	while (!cond(w)) {
		if (loop_now_us(w->l) > end)
			return false;
		if (loop_run_once(w->l, 5) < 0)
			return false;
		shuttle(w);
	}
	return true;
}

static void run_for(struct world *w, int ms)
{
	int64_t end = loop_now_us(w->l) + (int64_t)ms * 1000;

	while (loop_now_us(w->l) < end) {
		loop_run_once(w->l, 5);
		shuttle(w);
	}
}

static bool is_established(struct world *w)
{
	return w->established >= (w->nclients ? w->nclients : 1) &&
	       w->accepted >= w->established;
}

static bool client_closed(struct world *w) { return w->cclosed > 0; }
static bool server_closed(struct world *w) { return w->sclosed > 0; }

static bool connect_one(struct world *w, const char *alpn, bool pin_ok,
			bool is_virtual)
{
	struct quic_connect_options o = {0};

	o.remote = is_virtual ? w->srv_vaddr : w->srv_addr;
	o.is_virtual = is_virtual;
	o.alpn = alpn;
	ident_public_key(w->sid, o.pin);
	if (!pin_ok)
		o.pin[0] ^= 1;
	if (quic_connect(w->cli, &o, &client_cbs, w, &w->cc[w->nclients]) <
	    0)
		return false;
	w->nclients++;
	return true;
}

static const char *const relay_alpns[] = {QUIC_ALPN_RELAY, QUIC_ALPN_PEER,
					  NULL};
static const char *const relay_only[] = {QUIC_ALPN_RELAY, NULL};

/* ---- tests ---- */

static void handshake_with_mutual_pins_succeeds(void)
{
	struct world w;
	uint8_t k[IDENT_KEY_LEN], expect[IDENT_KEY_LEN];

	REQUIRE(world_init(&w, relay_alpns, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	CHECK(run_until(&w, is_established, 3000));
	REQUIRE_INT(w.accepted, 1);
	CHECK_STR(quic_conn_alpn(w.cc[0]), QUIC_ALPN_PEER);
	CHECK_STR(quic_conn_alpn(w.sc[0]), QUIC_ALPN_PEER);
	CHECK_INT(quic_conn_peer_key(w.cc[0], k), 0);
	ident_public_key(w.sid, expect);
	CHECK_MEM(k, expect, IDENT_KEY_LEN);
	CHECK_INT(quic_conn_peer_key(w.sc[0], k), 0);
	ident_public_key(w.cid, expect);
	CHECK_MEM(k, expect, IDENT_KEY_LEN);
	CHECK_INT(quic_endpoint_conn_count(w.srv), 1);
	CHECK_INT(w.cclosed, 0);
	world_free(&w);
}

static void wrong_server_pin_fails_the_client_with_auth_error(void)
{
	struct world w;

	REQUIRE(world_init(&w, relay_alpns, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, false, false));
	CHECK(run_until(&w, client_closed, 3000));
	CHECK_INT(w.cinfo.err, WEFT_ERR_AUTH);
	CHECK(!w.cinfo.remote);
	CHECK_INT(w.established, 0);
	run_for(&w, 50);
	CHECK_INT(w.accepted, 0);
	world_free(&w);
}

static void server_rejecting_the_client_key_closes_the_client(void)
{
	struct world w;

	REQUIRE(world_init(&w, relay_alpns, false));
	w.reject_client = true;
	REQUIRE(connect_one(&w, QUIC_ALPN_RELAY, true, false));
	CHECK(run_until(&w, client_closed, 3000));
	CHECK_INT(w.cinfo.err, WEFT_ERR_AUTH);
	CHECK(w.cinfo.remote);
	CHECK_INT(w.established, 0);
	CHECK_INT(w.accepted, 0);
	world_free(&w);
}

static void alpn_mismatch_is_refused(void)
{
	struct world w;

	REQUIRE(world_init(&w, relay_only, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	CHECK(run_until(&w, client_closed, 3000));
	CHECK_INT(w.cinfo.err, WEFT_ERR_UNSUPPORTED);
	CHECK_INT(w.established, 0);
	CHECK_INT(w.accepted, 0);
	world_free(&w);
}

static bool dgrams_done(struct world *w)
{
	return w->cli_dgrams >= NDGRAMS;
}

/* Sends datagrams with sequence numbers from..to-1 as the queue allows. */
static int send_seq(struct world *w, struct quic_conn *c, int from, int to)
{
	uint8_t d[1000];
	int i;

	memset(d, 0xab, sizeof(d));
	for (i = from; i < to; i++) {
		d[0] = (uint8_t)(i >> 24);
		d[1] = (uint8_t)(i >> 16);
		d[2] = (uint8_t)(i >> 8);
		d[3] = (uint8_t)i;
		if (quic_conn_datagram(c, d, sizeof(d)) < 0)
			break;
	}
	return i;
}

/* Sends NDGRAMS numbered datagrams from the client, at most 64 ahead of
 * *got (what has come back or arrived); returns how many went out. */
static int send_windowed(struct world *w, const int *got)
{
	int next = 0;

	for (int spins = 0; spins < 20000 && next < NDGRAMS; spins++) {
		int lim = *got + 64 < NDGRAMS ? *got + 64 : NDGRAMS;

		if (next < lim)
			next = send_seq(w, w->cc[0], next, lim);
		loop_run_once(w->l, 1);
	}
	return next;
}

static void thousand_datagrams_each_way_arrive_in_order(void)
{
	struct world w;
	struct quic_conn_stats st;
	int next;

	REQUIRE(world_init(&w, relay_alpns, false));
	w.echo = true;
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	REQUIRE(run_until(&w, is_established, 3000));
	CHECK(quic_conn_datagram_max(w.cc[0]) >= 1100);
	CHECK_INT(quic_conn_datagram(w.cc[0], "x", 0) == 0 ||
			  quic_conn_datagram(w.cc[0], "x", 0) < 0,
		  1);
	{
		uint8_t big[1500] = {0};

		CHECK_INT(quic_conn_datagram(w.cc[0], big, sizeof(big)),
			  WEFT_ERR_TOOBIG);
	}
	w.srv_dgrams = 0;
	w.srv_last = w.cli_last = -1;
	/* A window of 64 unanswered datagrams: the echo is bounded by the
	 * server's congestion window and queue like any sender. */
	next = send_windowed(&w, &w.cli_dgrams);
	CHECK_INT(next, NDGRAMS);
	run_until(&w, dgrams_done, 3000);
	CHECK(w.srv_dgrams >= 990);
	CHECK(w.cli_dgrams >= 990);
	CHECK(w.srv_order_ok);
	CHECK(w.cli_order_ok);
	quic_conn_stats(w.cc[0], &st);
	CHECK(st.dgrams_sent >= (uint64_t)NDGRAMS);
	CHECK(st.pkts_sent > 0 && st.bytes_recv > 990u * 1000u);
	CHECK(!st.is_virtual);
	world_free(&w);
}

static bool server_accepted(struct world *w);

static bool srv_got_all(struct world *w)
{
	return w->srv_dgrams >= NDGRAMS;
}

/* A one-way stream of datagrams is acknowledged about every tenth packet
 * (ACK_THRESH), not every second one (ngtcp2's default): the receiver
 * sends far fewer packets than it gets. */
static void one_way_datagrams_are_acknowledged_sparingly(void)
{
	struct world w;
	struct quic_conn_stats before, after;
	uint64_t rcvd, sent;
	int next;

	REQUIRE(world_init(&w, relay_alpns, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	REQUIRE(run_until(&w, is_established, 3000));
	REQUIRE(run_until(&w, server_accepted, 3000));
	/* Let the handshake's own packets settle first. */
	for (int i = 0; i < 50; i++)
		loop_run_once(w.l, 2);
	quic_conn_stats(w.sc[0], &before);
	w.srv_dgrams = 0;
	w.srv_last = -1;
	next = send_windowed(&w, &w.srv_dgrams);
	CHECK_INT(next, NDGRAMS);
	CHECK(run_until(&w, srv_got_all, 3000));
	quic_conn_stats(w.sc[0], &after);
	rcvd = after.pkts_recv - before.pkts_recv;
	sent = after.pkts_sent - before.pkts_sent;
	CHECK(rcvd >= (uint64_t)NDGRAMS);
	/* Every 10th packet plus the odd immediate ACK; every 2nd would be
	 * about 500. */
	CHECK(sent > 0);
	CHECK(sent <= rcvd / 5);
	if (sent > rcvd / 5)
		fprintf(stderr, "# server sent %llu packets for %llu\n",
			(unsigned long long)sent, (unsigned long long)rcvd);
	world_free(&w);
}

static bool dgram_writable(struct world *w)
{
	return w->dgram_writable > 0;
}

/* A sender that fills the datagram queue hears when it has room again,
 * and what it sends then arrives. */
static void a_full_datagram_queue_reports_room(void)
{
	struct world w;
	int next, more;

	REQUIRE(world_init(&w, relay_alpns, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	REQUIRE(run_until(&w, is_established, 3000));
	w.srv_last = -1;
	/* Without running the loop nothing is acknowledged: the congestion
	 * window fills, then the queue. */
	next = send_seq(&w, w.cc[0], 0, 100000);
	CHECK(next > 0 && next < 100000);
	CHECK_INT(w.dgram_writable, 0);
	{
		uint8_t d[4] = {0};

		CHECK_INT(quic_conn_datagram(w.cc[0], d, sizeof(d)),
			  WEFT_ERR_BUSY);
	}
	CHECK(run_until(&w, dgram_writable, 3000));
	CHECK_INT(w.dgram_writable, 1);
	more = send_seq(&w, w.cc[0], next, next + 10);
	CHECK_INT(more, next + 10);
	run_until(&w, is_established, 200); /* let them travel */
	for (int i = 0; i < 300 && w.srv_dgrams < next + 10; i++)
		loop_run_once(w.l, 10);
	CHECK_INT(w.srv_dgrams, next + 10);
	CHECK(w.srv_order_ok);
	world_free(&w);
}

static bool got_other(struct world *w)
{
	return w->others > 0;
}

/* Non-QUIC datagrams (Weft frames, probes) leave from the endpoint's
 * socket and reach the other side's on_other; ones that look like QUIC or
 * go to the other address family are refused. */
static void raw_datagrams_reach_on_other(void)
{
	static const uint8_t frame[] = {0x34, 1, 2, 3};
	static const uint8_t quicish[] = {0x40, 1};
	struct world w;
	struct ip_endpoint v6 = {0};

	REQUIRE(world_init(&w, relay_alpns, false));
	CHECK_INT(quic_endpoint_send_raw(w.cli, &w.srv_addr, frame,
					 sizeof(frame)),
		  0);
	CHECK(run_until(&w, got_other, 3000));
	CHECK_INT(w.others, 1);
	CHECK_INT(quic_endpoint_send_raw(w.cli, &w.srv_addr, quicish,
					 sizeof(quicish)),
		  WEFT_ERR_INVAL);
	CHECK_INT(ip_endpoint_parse("[::1]:9", &v6), 0);
	CHECK_INT(quic_endpoint_send_raw(w.cli, &v6, frame, sizeof(frame)),
		  WEFT_ERR_INVAL);
	world_free(&w);
}

static bool ipv6_loopback_works(void);

/* A plain UDP socket on 127.0.0.1 (v6: [::1]) that reports each
 * datagram's TTL / hop limit; *to is its address. */
static int ttl_sink(bool v6, struct ip_endpoint *to)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);
	int one = 1, fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	if (bind(fd, (struct sockaddr *)&ss, v6 ? sizeof(struct sockaddr_in6)
						: sizeof(struct sockaddr_in)) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) ||
	    ip_endpoint_from_sockaddr((struct sockaddr *)&ss, sl, to) ||
	    (v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one,
			     sizeof(one))
		: setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The next datagram's TTL / hop limit on fd (waits up to 2 s), -1 when
 * none came or it had no such control message; *len is its size. */
static int recv_ttl(int fd, size_t *len)
{
	uint8_t d[256];
	struct iovec iov = {.iov_base = d, .iov_len = sizeof(d)};
	union {
		char buf[CMSG_SPACE(sizeof(int)) * 2];
		struct cmsghdr align;
	} cm;
	struct msghdr h = {0};
	struct timeval tv = {.tv_sec = 2};
	struct cmsghdr *c;
	ssize_t n;
	int v;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	h.msg_iov = &iov;
	h.msg_iovlen = 1;
	h.msg_control = cm.buf;
	h.msg_controllen = sizeof(cm.buf);
	n = recvmsg(fd, &h, 0);
	if (n < 0)
		return -1;
	*len = (size_t)n;
	for (c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
		    (c->cmsg_level == IPPROTO_IPV6 &&
		     c->cmsg_type == IPV6_HOPLIMIT)) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v;
		}
	}
	return -1;
}

/* Sends three equal-sized raw datagrams to `to` in one corked batch, the
 * one at index `low` with TTL 3, and checks that each arrives with its
 * own TTL: the low one alone, the others with the socket's default
 * (never 3, even where GSO would merge same-sized datagrams). */
static void check_ttl_batch(struct quic_endpoint *ep, int fd,
			    const struct ip_endpoint *to, int low)
{
	static const uint8_t frame[] = {0x34, 9, 9, 9, 9, 9};
	size_t len = 0;
	int i, t;

	quic_endpoint_cork(ep);
	for (i = 0; i < 3; i++)
		CHECK_INT(quic_endpoint_send_raw_ttl(ep, to, frame,
						     sizeof(frame),
						     i == low ? 3 : 0),
			  0);
	quic_endpoint_uncork(ep);
	for (i = 0; i < 3; i++) {
		t = recv_ttl(fd, &len);
		CHECK_INT(len, sizeof(frame));
		if (i == low)
			CHECK_INT(t, 3);
		else
			CHECK(t > 3);
	}
}

/* quic_endpoint_send_raw_ttl puts its TTL (IPv4) or hop limit (IPv6) on
 * that one datagram, from a plain and from a dual-stack socket, without
 * changing the socket's other traffic. */
static void raw_datagram_ttl_applies_to_that_datagram_only(void)
{
	const struct world_opts dual = {.dual = true};
	struct ip_endpoint to4, to6;
	struct world w;
	int fd4, fd6 = -1;

	fd4 = ttl_sink(false, &to4);
	REQUIRE(fd4 >= 0);
	REQUIRE(world_init(&w, relay_alpns, false));
	check_ttl_batch(w.cli, fd4, &to4, 0);
	check_ttl_batch(w.cli, fd4, &to4, 2);
	world_free(&w);

	if (!ipv6_loopback_works()) {
		printf("# skip: no IPv6 loopback in this kernel\n");
		close(fd4);
		return;
	}
	fd6 = ttl_sink(true, &to6);
	REQUIRE(fd6 >= 0);
	REQUIRE(world_init_ex(&w, relay_alpns, false, &dual));
	check_ttl_batch(w.cli, fd4, &to4, 1); /* IPv4 from a [::] socket */
	check_ttl_batch(w.cli, fd6, &to6, 0);
	world_free(&w);
	close(fd4);
	close(fd6);
}

static bool got_two_others(struct world *w)
{
	return w->others >= 2;
}

static bool got_three_others(struct world *w)
{
	return w->others >= 3;
}

/* Sends one UDP_SEGMENT message of three non-QUIC datagrams (100, 100
 * and 37 bytes) to the server endpoint from a plain socket. */
static void send_gso_triple(struct world *w)
{
	uint8_t d[237];
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct iovec iov = {.iov_base = d, .iov_len = sizeof(d)};
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cm;
	struct msghdr h = {0};
	struct cmsghdr *c;
	uint16_t seg = 100;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	REQUIRE(fd >= 0);
	memset(d, 0x11, sizeof(d));
	d[1] = 1, d[101] = 2, d[201] = 3; /* segment numbers */
	REQUIRE(ip_endpoint_to_sockaddr(&w->srv_addr, &ss, &sslen) == 0);
	memset(&cm, 0, sizeof(cm));
	h.msg_name = &ss;
	h.msg_namelen = sslen;
	h.msg_iov = &iov;
	h.msg_iovlen = 1;
	h.msg_control = cm.buf;
	h.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&h);
	c->cmsg_level = IPPROTO_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	CHECK_INT(sendmsg(fd, &h, 0), (long)sizeof(d));
	close(fd);
}

/* Three datagrams sent as one GSO message reach on_other as three, with
 * UDP GRO on the receiving socket (one message, split by the endpoint)
 * and without (the kernel splits). */
static void gso_datagrams_arrive_one_by_one(bool no_gro)
{
	const struct world_opts wo = {.no_gro = no_gro};
	struct quic_endpoint_stats st;
	struct world w;
	int i;

	REQUIRE(world_init_ex(&w, relay_alpns, false, &wo));
	send_gso_triple(&w);
	CHECK(run_until(&w, got_three_others, 3000));
	CHECK_INT(w.others, 3);
	for (i = 0; i < 3; i++) {
		CHECK_INT(w.other_len[i], i < 2 ? 100 : 37);
		CHECK_INT(w.other_first[i], i + 1);
	}
	quic_endpoint_stats(w.srv, &st);
	CHECK(st.gro == !no_gro);
	/* Loopback hands a GSO message to a UDP_GRO socket whole. */
	CHECK_INT(st.gro_recvs, no_gro ? 0 : 1);
	world_free(&w);
}

static void gso_datagrams_arrive_one_by_one_with_gro(void)
{
	gso_datagrams_arrive_one_by_one(false);
}

static void gso_datagrams_arrive_one_by_one_without_gro(void)
{
	gso_datagrams_arrive_one_by_one(true);
}

static bool server_accepted(struct world *w)
{
	return w->accepted > 0 && w->sc[0];
}

/* Both ends derive the same exported key; another label gives another. */
static void both_ends_export_the_same_key(void)
{
	struct world w;
	uint8_t a[32], b[32], x[32];

	REQUIRE(world_init(&w, relay_alpns, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	REQUIRE(run_until(&w, is_established, 3000));
	REQUIRE(run_until(&w, server_accepted, 3000));
	CHECK_INT(quic_conn_export(w.cc[0], "weft test", a, sizeof(a)), 0);
	CHECK_INT(quic_conn_export(w.sc[0], "weft test", b, sizeof(b)), 0);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK_INT(quic_conn_export(w.cc[0], "weft other", x, sizeof(x)), 0);
	CHECK(memcmp(a, x, sizeof(a)) != 0);
	CHECK_INT(quic_conn_export(w.cc[0], "weft test", x, 0),
		  WEFT_ERR_INVAL);
	CHECK_INT(quic_conn_export(w.cc[0], "weft test", x, 65),
		  WEFT_ERR_INVAL);
	world_free(&w);
}

static bool stream_done(struct world *w)
{
	return w->rcvd_fin && w->rcvd >= w->send_limit;
}

/* Sends 1 MiB on one stream over the real socket; returns the sender's
 * endpoint counters. */
static void send_mebibyte(bool no_gso, struct quic_endpoint_stats *st,
			  struct quic_endpoint_stats *rst)
{
	const struct world_opts wo = {.no_gso = no_gso};
	struct world w;

	memset(st, 0, sizeof(*st));
	REQUIRE(world_init_ex(&w, relay_alpns, false, &wo));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	REQUIRE(run_until(&w, is_established, 3000));
	REQUIRE_INT(quic_conn_stream_open(w.cc[0], &w.stream), 0);
	w.send_limit = STREAM_TOTAL;
	w.send_fin = true;
	pump_stream(&w, w.cc[0]);
	/* 1 MiB is the per-stream buffer: some bytes must have waited. */
	CHECK(run_until(&w, stream_done, 10000));
	CHECK_INT(w.sent, STREAM_TOTAL);
	CHECK_INT(w.rcvd, STREAM_TOTAL);
	CHECK(w.rcvd_sum == w.sent_sum);
	CHECK_INT(quic_conn_stream_send(w.cc[0], w.stream, "x", 1, false),
		  w.rcvd_fin ? WEFT_ERR_CLOSED : WEFT_ERR_NOTFOUND);
	quic_endpoint_stats(w.cli, st);
	quic_endpoint_stats(w.srv, rst);
	world_free(&w);
}

/* Consumes what the held stream delivered so far. */
static bool consume_until_done(struct world *w)
{
	if (w->sc[0] && w->rcvd > w->consumed) {
		quic_conn_stream_consume(w->sc[0], w->stream,
					 w->rcvd - w->consumed);
		w->consumed = w->rcvd;
	}
	return stream_done(w);
}

/* A receiver that holds a stream's bytes gets no more than the stream's
 * window (1 MiB) until it consumes them; then the rest flows. */
static void a_held_stream_stops_at_its_window(void)
{
	struct world w;

	REQUIRE(world_init(&w, relay_alpns, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	REQUIRE(run_until(&w, is_established, 3000));
	w.hold = true;
	REQUIRE_INT(quic_conn_stream_open(w.cc[0], &w.stream), 0);
	w.send_limit = 4 * STREAM_TOTAL;
	w.send_fin = true;
	pump_stream(&w, w.cc[0]);
	run_for(&w, 500);
	CHECK(w.rcvd >= STREAM_TOTAL / 2);
	CHECK(w.rcvd <= STREAM_TOTAL);
	CHECK(!w.rcvd_fin);
	CHECK(run_until(&w, consume_until_done, 10000));
	CHECK_INT(w.rcvd, 4 * STREAM_TOTAL);
	CHECK(w.rcvd_sum == w.sent_sum);
	CHECK_INT(quic_conn_stream_consume(w.cc[0], 999, 1),
		  WEFT_ERR_NOTFOUND);
	world_free(&w);
}

static void one_mebibyte_stream_arrives_intact(void)
{
	struct quic_endpoint_stats st, rst;

	/* GSO is on by default (Linux >= 4.18; loopback segments in
	 * software), and full-size stream packets are batched with it; the
	 * receiver's UDP GRO socket takes such batches whole. */
	send_mebibyte(false, &st, &rst);
	CHECK(st.gso);
	CHECK(st.gso_sends > 0);
	CHECK(rst.gro);
	CHECK(rst.gro_recvs > 0);
}

static void one_mebibyte_stream_arrives_intact_without_gso(void)
{
	struct quic_endpoint_stats st, rst;

	send_mebibyte(true, &st, &rst);
	CHECK(!st.gso);
	CHECK_INT(st.gso_sends, 0);
	CHECK_INT(rst.gro_recvs, 0);
}

static bool both_closed(struct world *w)
{
	return w->cclosed > 0 && w->sclosed > 0;
}

static void app_close_code_reaches_the_peer(void)
{
	struct world w;

	REQUIRE(world_init(&w, relay_alpns, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	REQUIRE(run_until(&w, is_established, 3000));
	REQUIRE_INT(quic_conn_close(w.cc[0], 42, "going away\n"), 0);
	CHECK_INT(w.cclosed, 1);
	CHECK(run_until(&w, server_closed, 3000));
	CHECK(w.sinfo.app);
	CHECK(w.sinfo.remote);
	CHECK_INT(w.sinfo.err, 0);
	CHECK_INT(w.sinfo.code, 42);
	CHECK_STR(w.sinfo.reason, "going away?");
	CHECK(w.cinfo.app && !w.cinfo.remote);
	CHECK_INT(w.cinfo.code, 42);
	CHECK(both_closed(&w));
	run_for(&w, 20);
	CHECK_INT(quic_endpoint_conn_count(w.srv), 0);
	CHECK_INT(quic_endpoint_conn_count(w.cli), 0);
	world_free(&w);
}

static bool got_echo(struct world *w) { return w->cli_dgrams > 0; }

static void garbage_datagrams_do_not_disturb_a_connection(void)
{
	struct world w;
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint8_t buf[1400];
	int fd, i;

	REQUIRE(world_init(&w, relay_alpns, false));
	w.echo = true;
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	REQUIRE(run_until(&w, is_established, 3000));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	REQUIRE(fd >= 0);
	ip_endpoint_to_sockaddr(&w.srv_addr, &ss, &sslen);
	for (i = 0; i < 600; i++) {
		uint64_t len;

		rand_uniform(sizeof(buf), &len);
		rand_bytes(buf, (size_t)len + 1);
		if (i % 3 == 0)
			buf[0] &= 0x3f; /* not QUIC: goes to on_other */
		else if (i % 3 == 1)
			buf[0] |= 0xc0; /* long header garbage */
		else
			buf[0] = (uint8_t)((buf[0] & 0x3f) | 0x40);
		if (i % 50 == 0 && len >= 1200)
			memset(buf + 1, 0, 4); /* unknown version */
		sendto(fd, buf, (size_t)len + 1, 0, (struct sockaddr *)&ss,
		       sslen);
		if (i % 20 == 0)
			run_for(&w, 1);
	}
	run_for(&w, 50);
	CHECK(w.others >= 150);
	CHECK_INT(w.sclosed, 0);
	CHECK_INT(w.cclosed, 0);
	CHECK_INT(quic_conn_datagram(w.cc[0], "\0\0\0\1ping", 8), 0);
	CHECK(run_until(&w, got_echo, 3000));
	CHECK_INT(quic_endpoint_conn_count(w.srv), 1);
	close(fd);
	world_free(&w);
}

static bool all_echoed(struct world *w) { return w->cli_dgrams >= 50; }

static void fifty_concurrent_clients_share_one_server_endpoint(void)
{
	struct world w;
	int i;

	REQUIRE(world_init(&w, relay_alpns, false));
	w.echo = true;
	for (i = 0; i < 50; i++)
		REQUIRE(connect_one(&w, QUIC_ALPN_RELAY, true, false));
	CHECK(run_until(&w, is_established, 10000));
	CHECK_INT(w.established, 50);
	CHECK_INT(w.accepted, 50);
	CHECK_INT(quic_endpoint_conn_count(w.srv), 50);
	for (i = 0; i < 50; i++)
		if (w.cc[i])
			quic_conn_datagram(w.cc[i], "\0\0\0\0hello", 9);
	CHECK(run_until(&w, all_echoed, 5000));
	CHECK_INT(w.cclosed, 0);
	world_free(&w);
}

static bool path_validated(struct world *w) { return w->path_ok > 0; }

static bool srv_got(struct world *w) { return w->srv_dgrams >= 20; }

/* Sends 20 datagrams and checks they arrive and are echoed. */
static void datagrams_flow(struct world *w)
{
	w->srv_dgrams = w->cli_dgrams = 0;
	w->srv_last = w->cli_last = -1;
	for (int i = 0; i < 20; i++) {
		uint8_t d[100] = {0};

		d[3] = (uint8_t)i;
		CHECK_INT(quic_conn_datagram(w->cc[0], d, sizeof(d)), 0);
		run_for(w, 1);
	}
	CHECK(run_until(w, srv_got, 3000));
	CHECK(w->srv_order_ok);
}

static bool stream_part_done(struct world *w)
{
	return w->rcvd >= w->send_limit;
}

static bool server_on_virtual(struct world *w)
{
	struct quic_conn_stats st;

	quic_conn_stats(w->sc[0], &st);
	if (!st.is_virtual) /* keep traffic going, as a tunnel would */
		quic_conn_datagram(w->cc[0], "\0\0\0\0", 4);
	return st.is_virtual;
}

/* The relay -> direct -> relay scenario. Returns false (after freeing the
 * world) when the server did not follow the client back to the relayed
 * path; every other expectation is checked as usual. */
static bool migrate_there_and_back(void)
{
	struct world w;
	struct quic_conn_stats cs, ss;
	unsigned v0;

	if (!CHECK(world_init(&w, relay_alpns, false)))
		return true;
	w.echo = true;
	if (!CHECK(connect_one(&w, QUIC_ALPN_PEER, true, true)) ||
	    !CHECK(run_until(&w, is_established, 3000))) {
		world_free(&w);
		return true;
	}
	CHECK(w.vpkts > 0);
	quic_conn_stats(w.cc[0], &cs);
	CHECK(cs.is_virtual);
	quic_conn_stats(w.sc[0], &ss);
	CHECK(ss.is_virtual);

	/* Relayed: datagrams and the first third of a stream. */
	datagrams_flow(&w);
	CHECK_INT(quic_conn_stream_open(w.cc[0], &w.stream), 0);
	w.send_limit = 100000;
	pump_stream(&w, w.cc[0]);
	CHECK(run_until(&w, stream_part_done, 5000));

	/* The server cannot migrate; the client to the same path neither. */
	CHECK_INT(quic_conn_migrate(w.sc[0], false, &w.cli_vaddr),
		  WEFT_ERR_INVAL);
	CHECK_INT(quic_conn_migrate(w.cc[0], true, &w.srv_vaddr),
		  WEFT_ERR_INVAL);

	/* Relay -> direct. */
	CHECK_INT(quic_conn_migrate(w.cc[0], false, &w.srv_addr), 0);
	CHECK(run_until(&w, path_validated, 3000));
	CHECK(!w.last_path_virtual);
	run_for(&w, 20);
	v0 = w.vpkts;
	datagrams_flow(&w);
	quic_conn_stats(w.cc[0], &cs);
	CHECK(!cs.is_virtual);
	CHECK_INT(cs.remote.port, w.srv_addr.port);
	quic_conn_stats(w.sc[0], &ss);
	CHECK(!ss.is_virtual);
	CHECK(w.vpkts - v0 < 5);
	w.send_limit = 200000;
	pump_stream(&w, w.cc[0]);
	CHECK(run_until(&w, stream_part_done, 5000));

	/* Direct -> relay, the way the agent leaves a dead direct path:
	 * move at once, validate afterwards. */
	w.path_ok = 0;
	CHECK_INT(quic_conn_migrate_now(w.cc[0], true, &w.srv_vaddr), 0);
	quic_conn_stats(w.cc[0], &cs);
	CHECK(cs.is_virtual);
	CHECK(run_until(&w, path_validated, 3000));
	CHECK(w.last_path_virtual);
	v0 = w.vpkts;
	datagrams_flow(&w);
	CHECK(w.vpkts - v0 >= 20);
	quic_conn_stats(w.cc[0], &cs);
	CHECK(cs.is_virtual);
	/* The server follows at the first packets on the new path. */
	if (!run_until(&w, server_on_virtual, 10000)) {
		world_free(&w);
		return false;
	}
	w.send_limit = 300000;
	w.send_fin = true;
	pump_stream(&w, w.cc[0]);
	CHECK(run_until(&w, stream_done, 10000));
	CHECK_INT(w.rcvd, 300000);
	CHECK(w.rcvd_sum == w.sent_sum);
	if (CHECK(w.sc[0])) {
		quic_conn_stats(w.sc[0], &ss);
		CHECK(ss.is_virtual);
	}
	CHECK_INT(w.cclosed, 0);
	CHECK_INT(w.sclosed, 0);
	world_free(&w);
	return true;
}

static bool ipv6_loopback_works(void)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static bool server_on_ipv6(struct world *w)
{
	struct quic_conn_stats st;

	quic_conn_stats(w->sc[0], &st);
	if (st.remote.addr.family != 6)
		quic_conn_datagram(w->cc[0], "\0\0\0\0", 4);
	return st.remote.addr.family == 6;
}

/* One dual-stack socket per side: the connection starts over IPv4, both
 * ends see plain IPv4 addresses (not IPv4-mapped ones), raw datagrams go
 * to either family, and the client migrates the connection to IPv6. */
static void dual_stack_endpoints_speak_ipv4_and_ipv6(void)
{
	static const uint8_t frame[] = {0x34, 7, 7};
	const struct world_opts wo = {.dual = true};
	struct quic_conn_stats cs, ss;
	struct ip_endpoint v6, v4, any;
	struct quic_endpoint_options bad = {0};
	struct quic_endpoint *ep = NULL;
	struct world w;

	if (!ipv6_loopback_works()) {
		printf("# skip: no IPv6 loopback in this kernel\n");
		return;
	}
	REQUIRE(world_init_ex(&w, relay_alpns, false, &wo));
	w.echo = true;
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, false));
	REQUIRE(run_until(&w, is_established, 3000));
	REQUIRE(run_until(&w, server_accepted, 3000));
	quic_conn_stats(w.cc[0], &cs);
	quic_conn_stats(w.sc[0], &ss);
	CHECK_INT(cs.remote.addr.family, 4);
	CHECK(ip_addr_eq(&cs.remote.addr, &w.srv_addr.addr));
	CHECK_INT(ss.remote.addr.family, 4);
	CHECK(ip_addr_eq(&ss.remote.addr, &w.srv_addr.addr));
	datagrams_flow(&w);

	/* Raw datagrams to the server over IPv4 and over IPv6. */
	v4 = w.srv_addr;
	CHECK_INT(ip_endpoint_parse("[::1]:1", &v6), 0);
	v6.port = w.srv_addr.port;
	w.others = 0;
	CHECK_INT(quic_endpoint_send_raw(w.cli, &v4, frame, sizeof(frame)),
		  0);
	CHECK_INT(quic_endpoint_send_raw(w.cli, &v6, frame, sizeof(frame)),
		  0);
	CHECK(run_until(&w, got_two_others, 3000));

	/* IPv4 -> IPv6 on the same socket. */
	w.path_ok = 0;
	CHECK_INT(quic_conn_migrate(w.cc[0], false, &v6), 0);
	CHECK(run_until(&w, path_validated, 3000));
	quic_conn_stats(w.cc[0], &cs);
	CHECK_INT(cs.remote.addr.family, 6);
	CHECK(ip_addr_eq(&cs.remote.addr, &v6.addr));
	CHECK(run_until(&w, server_on_ipv6, 5000));
	run_for(&w, 50); /* the nudges server_on_ipv6 sent (all seq 0) */
	w.srv_order_ok = w.cli_order_ok = true;
	datagrams_flow(&w);
	CHECK_INT(w.cclosed, 0);
	CHECK_INT(w.sclosed, 0);
	world_free(&w);

	/* dual_stack needs an IPv6 bind address. */
	CHECK_INT(loop_new(&w.l), 0);
	CHECK_INT(ident_generate(&w.sid), 0);
	bad.id = w.sid;
	CHECK_INT(ip_endpoint_parse("127.0.0.1:1", &any), 0);
	any.port = 0;
	bad.bind = any;
	bad.dual_stack = true;
	CHECK_INT(quic_endpoint_new(w.l, &bad, &ep), WEFT_ERR_INVAL);
	CHECK(ep == NULL);
	ident_del(w.sid);
	loop_del(w.l);
}

static bool client_limit_grew(struct world *w)
{
	return quic_conn_datagram_max(w->cc[0]) > 1160;
}

/* Path MTU discovery raises a connection's datagram limit above the 1200
 * bytes every path starts with, so a 1280-byte TUN packet fits: to
 * ngtcp2's largest probe, 1492 - 48, on loopback, and on a relayed path
 * whose relay drops packets over 1391 bytes (WIRE_PAYLOAD_MAX less the
 * frame header) to the probe that fits, 1390 - 48. Less 40 bytes of
 * packet overhead. */
static void path_mtu_discovery_raises_the_datagram_limit(bool is_virtual)
{
	struct world w;
	size_t max;

	REQUIRE(world_init(&w, relay_alpns, false));
	w.vmax = 1391;
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, is_virtual));
	REQUIRE(run_until(&w, is_established, 3000));
	CHECK_INT(quic_conn_datagram_max(w.cc[0]), 1160);
	CHECK(run_until(&w, client_limit_grew, 3000));
	run_for(&w, 300); /* the larger probes fail first on the relay */
	max = quic_conn_datagram_max(w.cc[0]);
	CHECK_INT(max, is_virtual ? 1390 - 48 - 40 : 1492 - 48 - 40);
	CHECK(max >= 1280);
	world_free(&w);
}

static void path_mtu_discovery_raises_the_limit_direct(void)
{
	path_mtu_discovery_raises_the_datagram_limit(false);
}

static void path_mtu_discovery_raises_the_limit_relayed(void)
{
	path_mtu_discovery_raises_the_datagram_limit(true);
}

static void relayed_path_migrates_to_direct_and_back(void)
{
	CHECK(migrate_there_and_back());
}

static void retry_validates_the_client_address(void)
{
	struct world w;

	REQUIRE(world_init(&w, relay_alpns, true));
	REQUIRE(connect_one(&w, QUIC_ALPN_RELAY, true, false));
	CHECK(run_until(&w, is_established, 3000));
	CHECK_INT(w.accepted, 1);
	world_free(&w);
}

static unsigned closing_count(struct quic_endpoint *ep)
{
	struct quic_endpoint_stats st;

	quic_endpoint_stats(ep, &st);
	return st.closing;
}

static bool client_forgot(struct world *w)
{
	return closing_count(w->cli) == 0;
}

static bool server_forgot(struct world *w)
{
	return closing_count(w->srv) == 0;
}

/* A short-header packet of n bytes for dcid (random DCID when NULL), as if
 * the client had sent it over the relay. */
static void inject_short(struct world *w, const uint8_t *dcid, size_t n)
{
	uint8_t p[200];

	rand_bytes(p, n);
	p[0] = (uint8_t)((p[0] & 0x3f) | 0x40);
	if (dcid)
		memcpy(p + 1, dcid, 16);
	quic_endpoint_input_virtual(w->srv, &w->cli_vaddr, p, n);
}

/* A full-size long-header packet of a version nobody speaks. */
static void inject_unknown_version(struct world *w)
{
	uint8_t p[1200];

	rand_bytes(p, sizeof(p));
	p[0] = 0xc0;
	memcpy(p + 1, "\x1a\x2a\x3a\x4a", 4);
	p[5] = 8;
	p[14] = 8;
	quic_endpoint_input_virtual(w->srv, &w->cli_vaddr, p, sizeof(p));
}

static void lost_connection_close_is_resent_while_closing(void)
{
	struct world w;
	struct quic_endpoint_stats st;

	REQUIRE(world_init(&w, relay_alpns, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, true));
	REQUIRE(run_until(&w, is_established, 3000));
	run_for(&w, 20);
	/* The relay loses the client's CONNECTION_CLOSE. */
	w.drop_to_srv = true;
	REQUIRE_INT(quic_conn_close(w.cc[0], 42, "bye"), 0);
	CHECK_INT(w.cclosed, 1);
	run_for(&w, 5);
	w.drop_to_srv = false;
	CHECK_INT(w.sclosed, 0);
	quic_endpoint_stats(w.cli, &st);
	CHECK_INT(st.conns, 0);
	CHECK_INT(st.closing, 1);
	/* The server keeps talking; the closing client answers with its
	 * close again (not with a stateless reset), so the server learns
	 * the application's code and reason. */
	REQUIRE_INT(quic_conn_datagram(w.sc[0], "\0\0\0\0hi", 6), 0);
	CHECK(run_until(&w, server_closed, 3000));
	CHECK(w.sinfo.app);
	CHECK(w.sinfo.remote);
	CHECK_INT(w.sinfo.code, 42);
	CHECK_STR(w.sinfo.reason, "bye");
	quic_endpoint_stats(w.cli, &st);
	CHECK(st.close_resent >= 1);
	/* Three PTOs later the client has let go of the connection. */
	CHECK(run_until(&w, client_forgot, 3000));
	CHECK_INT(w.cclosed, 1);
	world_free(&w);
}

static void draining_connection_absorbs_packets_then_forgets_them(void)
{
	struct world w;
	struct quic_endpoint_stats st;
	unsigned before;

	REQUIRE(world_init(&w, relay_alpns, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, true));
	REQUIRE(run_until(&w, is_established, 3000));
	datagrams_flow(&w);
	REQUIRE(w.have_srv_cid);
	REQUIRE_INT(quic_conn_close(w.cc[0], 7, NULL), 0);
	REQUIRE(run_until(&w, server_closed, 3000));
	CHECK(w.sinfo.app && w.sinfo.remote);
	CHECK_INT(w.sinfo.code, 7);
	quic_endpoint_stats(w.srv, &st);
	CHECK_INT(st.conns, 0);
	CHECK_INT(st.closing, 1);
	/* Draining: packets for the connection draw nothing, not even a
	 * stateless reset. */
	before = w.vpkts_from_srv;
	for (int i = 0; i < 5; i++)
		inject_short(&w, w.srv_cid, 100);
	CHECK_INT(w.vpkts_from_srv, before);
	quic_endpoint_stats(w.srv, &st);
	CHECK_INT(st.stateless_sent, 0);
	/* Afterwards the CID is unknown: the same packet gets a reset. */
	CHECK(run_until(&w, server_forgot, 3000));
	run_for(&w, 5); /* the free itself happens at the next reap */
	before = w.vpkts_from_srv;
	inject_short(&w, w.srv_cid, 100);
	CHECK_INT(w.vpkts_from_srv, before + 1);
	quic_endpoint_stats(w.srv, &st);
	CHECK_INT(st.stateless_sent, 1);
	world_free(&w);
}

static void stateless_replies_are_rate_limited(void)
{
	const struct world_opts wo = {.stateless_rate = 10};
	struct world w;
	struct quic_endpoint_stats st;
	unsigned before;
	int i;

	REQUIRE(world_init_ex(&w, relay_alpns, false, &wo));
	/* 200 packets for unknown connections at once: a burst of 10
	 * resets (loop time stands still between iterations). */
	for (i = 0; i < 200; i++)
		inject_short(&w, NULL, 100);
	quic_endpoint_stats(w.srv, &st);
	CHECK_INT(st.stateless_sent, 10);
	CHECK_INT(st.stateless_limited, 190);
	CHECK_INT(w.vpkts_from_srv, 10);
	/* Version Negotiation draws on the same, now empty, bucket. */
	for (i = 0; i < 20; i++)
		inject_unknown_version(&w);
	quic_endpoint_stats(w.srv, &st);
	CHECK_INT(st.stateless_sent, 10);
	CHECK_INT(st.stateless_limited, 210);
	/* It refills at 10 per second. */
	run_for(&w, 350);
	before = w.vpkts_from_srv;
	for (i = 0; i < 20; i++)
		inject_unknown_version(&w);
	quic_endpoint_stats(w.srv, &st);
	CHECK(st.stateless_sent >= 13 && st.stateless_sent <= 15);
	CHECK_INT(w.vpkts_from_srv - before, st.stateless_sent - 10);
	world_free(&w);
}

/* Datagrams held up in the queue (the path loses everything, so the
 * congestion window stays full) for longer than dgram_max_age_ms are
 * dropped and counted at the next write, never sent late. */
static void stale_datagrams_are_dropped_not_sent_late(void)
{
	struct world w;
	struct quic_conn_stats st;
	uint8_t d[1000] = {0};
	int i, queued = 0;
	unsigned sent;

	REQUIRE(world_init(&w, relay_alpns, false));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, true));
	REQUIRE(run_until(&w, is_established, 3000));
	datagrams_flow(&w);
	w.drop_to_srv = true;
	quic_conn_stats(w.cc[0], &st);
	sent = (unsigned)st.dgrams_sent;
	for (i = 0; i < 100; i++) {
		if (quic_conn_datagram(w.cc[0], d, sizeof(d)) == 0)
			queued++;
		run_for(&w, 1);
	}
	quic_conn_stats(w.cc[0], &st);
	CHECK(queued > 50);
	CHECK_INT(st.dgrams_stale, 0);
	run_for(&w, 1300);
	/* The next datagram makes the connection write: everything older
	 * than a second goes, and the new one waits alone. */
	CHECK_INT(quic_conn_datagram(w.cc[0], d, sizeof(d)), 0);
	quic_conn_stats(w.cc[0], &st);
	CHECK(st.dgrams_stale > 0);
	/* Each of the queued ones was sent in time or dropped. */
	CHECK(st.dgrams_stale + st.dgrams_sent - sent >= (uint64_t)queued);
	CHECK(st.dgrams_stale > (uint64_t)queued / 2);
	world_free(&w);
}

/* Like kill -9 and a restart: the server endpoint vanishes without a
 * word (its CONNECTION_CLOSE is lost with the relay's queue) and a new
 * one with the same key takes the same virtual address. */
static bool server_crash_restart(struct world *w)
{
	struct quic_endpoint_options so = w->so;
	struct vpkt *p;

	quic_endpoint_del(w->srv);
	w->srv = NULL;
	while ((p = w->vq)) {
		w->vq = p->next;
		free(p);
	}
	w->vtail = &w->vq;
	w->sc[0] = NULL;
	so.virtual_local.port = w->srv_vaddr.port;
	return quic_endpoint_new(w->l, &so, &w->srv) == 0;
}

static void client_hears_of_restart(bool stable, bool expect_closed)
{
	const struct world_opts wo = {.stable_reset = stable};
	uint8_t d[100] = {0};
	struct world w;
	struct quic_endpoint_stats st;

	REQUIRE(world_init_ex(&w, relay_alpns, false, &wo));
	REQUIRE(connect_one(&w, QUIC_ALPN_PEER, true, true));
	REQUIRE(run_until(&w, is_established, 3000));
	datagrams_flow(&w);
	REQUIRE(server_crash_restart(&w));
	CHECK_INT(quic_conn_datagram(w.cc[0], d, sizeof(d)), 0);
	CHECK(run_until(&w, client_closed, 1000) == expect_closed);
	quic_endpoint_stats(w.srv, &st);
	CHECK(st.stateless_sent >= 1);
	if (expect_closed) {
		CHECK_INT(w.cinfo.err, WEFT_ERR_CLOSED);
		CHECK(w.cinfo.remote);
	}
	world_free(&w);
}

/* The restarted server answers the old connection's packet with a
 * stateless reset; with the secret derived from its key the token is the
 * one the client holds, and the client's connection ends at once. */
static void restarted_server_resets_the_old_connection(void)
{
	client_hears_of_restart(true, true);
}

/* With a random secret per process the reset is not recognised: the
 * client would wait for its idle timeout (the old relay behaviour). */
static void reset_with_another_secret_is_ignored(void)
{
	client_hears_of_restart(false, false);
}

static void endpoint_rejects_bad_options(void)
{
	struct loop *l = NULL;
	struct ident *id = NULL;
	struct quic_endpoint *ep = (struct quic_endpoint *)0x1;
	struct quic_endpoint_options o = {0};

	REQUIRE_INT(loop_new(&l), 0);
	REQUIRE_INT(ident_generate(&id), 0);
	ip_endpoint_parse("127.0.0.1:1", &o.bind);
	o.bind.port = 0;
	CHECK_INT(quic_endpoint_new(l, &o, &ep), WEFT_ERR_INVAL); /* no id */
	o.id = id;
	o.alpns = relay_only;
	CHECK_INT(quic_endpoint_new(l, &o, &ep), WEFT_ERR_INVAL); /* no accept_peer */
	o.alpns = NULL;
	o.virtual_local = o.bind; /* same address as the socket */
	CHECK_INT(quic_endpoint_new(l, &o, &ep), WEFT_ERR_INVAL);
	CHECK(ep == (struct quic_endpoint *)0x1);
	quic_endpoint_del(NULL);
	ident_del(id);
	loop_del(l);
}

static const struct check_case cases[] = {
	CHECK_CASE(handshake_with_mutual_pins_succeeds),
	CHECK_CASE(wrong_server_pin_fails_the_client_with_auth_error),
	CHECK_CASE(server_rejecting_the_client_key_closes_the_client),
	CHECK_CASE(alpn_mismatch_is_refused),
	CHECK_CASE(thousand_datagrams_each_way_arrive_in_order),
	CHECK_CASE(a_full_datagram_queue_reports_room),
	CHECK_CASE(both_ends_export_the_same_key),
	CHECK_CASE(raw_datagrams_reach_on_other),
	CHECK_CASE(raw_datagram_ttl_applies_to_that_datagram_only),
	CHECK_CASE(gso_datagrams_arrive_one_by_one_with_gro),
	CHECK_CASE(one_way_datagrams_are_acknowledged_sparingly),
	CHECK_CASE(dual_stack_endpoints_speak_ipv4_and_ipv6),
	CHECK_CASE(path_mtu_discovery_raises_the_limit_direct),
	CHECK_CASE(path_mtu_discovery_raises_the_limit_relayed),
	CHECK_CASE(gso_datagrams_arrive_one_by_one_without_gro),
	CHECK_CASE(one_mebibyte_stream_arrives_intact),
	CHECK_CASE(a_held_stream_stops_at_its_window),
	CHECK_CASE(one_mebibyte_stream_arrives_intact_without_gso),
	CHECK_CASE(app_close_code_reaches_the_peer),
	CHECK_CASE(garbage_datagrams_do_not_disturb_a_connection),
	CHECK_CASE(fifty_concurrent_clients_share_one_server_endpoint),
	CHECK_CASE(relayed_path_migrates_to_direct_and_back),
	CHECK_CASE(retry_validates_the_client_address),
	CHECK_CASE(lost_connection_close_is_resent_while_closing),
	CHECK_CASE(draining_connection_absorbs_packets_then_forgets_them),
	CHECK_CASE(stateless_replies_are_rate_limited),
	CHECK_CASE(endpoint_rejects_bad_options),
	CHECK_CASE(restarted_server_resets_the_old_connection),
	CHECK_CASE(stale_datagrams_are_dropped_not_sent_late),
	CHECK_CASE(reset_with_another_secret_is_ignored),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
