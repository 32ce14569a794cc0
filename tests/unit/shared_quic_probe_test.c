/* shared/quic: a connection whose congestion window is full of
 * DATAGRAM-only packets when its path goes dead recovers soon after the
 * path heals, not at the next keep-alive (20 s). Two endpoints on
 * loopback UDP sockets talk through a forwarder socket in the test that
 * can drop everything, like a relay that was killed and replaced. */
#include "check.h"
#include "shared/err.h"
#include "shared/ident.h"
#include "shared/ip.h"
#include "shared/loop.h"
#include "shared/quic.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct lab {
	struct loop *l;
	struct ident *sid, *cid;
	struct quic_endpoint *srv, *cli;
	struct quic_conn *cc, *sc;
	int established;
	/* the forwarder: one socket between client and server */
	int fwd;
	struct loop_io *fwd_io;
	struct sockaddr_in srv_sa, cli_sa, fwd_sa;
	bool have_cli;
	bool drop;
	unsigned fwd_dropped;
	/* datagrams the server got; after heal, when the first came */
	unsigned got;
	bool healed;
	int64_t first_at_us;
};

static void c_established(struct quic_conn *c, void *ctx)
{
	struct lab *b = ctx;

	(void)c;
	b->established++;
}

static const struct quic_conn_callbacks client_cbs = {
	.on_established = c_established,
};

static void s_datagram(struct quic_conn *c, const uint8_t *d, size_t n,
		       void *ctx)
{
	struct lab *b = ctx;

	(void)c, (void)d, (void)n;
	b->got++;
	if (b->healed && !b->first_at_us)
		b->first_at_us = loop_now_us(b->l);
}

static const struct quic_conn_callbacks server_cbs = {
	.on_datagram = s_datagram,
};

static bool s_accept_peer(struct quic_endpoint *ep, const char *alpn,
			  const uint8_t key[IDENT_KEY_LEN], void *ctx)
{
	(void)ep, (void)alpn, (void)key, (void)ctx;
	return true;
}

static void s_on_accept(struct quic_endpoint *ep, struct quic_conn *c,
			const char *alpn, void *ctx)
{
	struct lab *b = ctx;

	(void)ep, (void)alpn;
	b->sc = c;
	quic_conn_set_callbacks(c, &server_cbs, b);
}

/* Packets from the server go to the client, all others to the server;
 * with drop set, every packet either way is lost. */
static void on_fwd(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct lab *b = ctx;
	uint8_t buf[2048];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;

	(void)io, (void)ev;
	for (;;) {
		fl = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if (b->drop) {
			b->fwd_dropped++;
			continue;
		}
		if (from.sin_port == b->srv_sa.sin_port) {
			if (b->have_cli)
				sendto(fd, buf, (size_t)n, 0,
				       (struct sockaddr *)&b->cli_sa,
				       sizeof(b->cli_sa));
		} else {
			b->cli_sa = from;
			b->have_cli = true;
			sendto(fd, buf, (size_t)n, 0,
			       (struct sockaddr *)&b->srv_sa,
			       sizeof(b->srv_sa));
		}
	}
}

static bool lab_init(struct lab *b)
{
	static const char *const alpns[] = {QUIC_ALPN_PEER, NULL};
	struct quic_endpoint_options so = {0}, co = {0};
	struct quic_connect_options o = {0};
	struct ip_endpoint sa;
	socklen_t len = sizeof(b->fwd_sa);

	memset(b, 0, sizeof(*b));
	b->fwd = -1;
	if (loop_new(&b->l) < 0 || ident_generate(&b->sid) < 0 ||
	    ident_generate(&b->cid) < 0)
		return false;
	ip_endpoint_parse("127.0.0.1:1", &so.bind);
	so.bind.port = 0;
	co.bind = so.bind;
	so.id = b->sid;
	so.alpns = alpns;
	so.accept_peer = s_accept_peer;
	so.on_accept = s_on_accept;
	so.ctx = b;
	co.id = b->cid;
	co.ctx = b;
	if (quic_endpoint_new(b->l, &so, &b->srv) < 0 ||
	    quic_endpoint_new(b->l, &co, &b->cli) < 0)
		return false;
	quic_endpoint_local(b->srv, &sa);
	b->srv_sa.sin_family = AF_INET;
	b->srv_sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b->srv_sa.sin_port = htons(sa.port);
	b->fwd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	b->fwd_sa.sin_family = AF_INET;
	b->fwd_sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (b->fwd < 0 ||
	    bind(b->fwd, (struct sockaddr *)&b->fwd_sa, sizeof(b->fwd_sa)) <
		    0 ||
	    getsockname(b->fwd, (struct sockaddr *)&b->fwd_sa, &len) < 0 ||
	    loop_io_add(b->l, b->fwd, LOOP_READ, on_fwd, b, &b->fwd_io) < 0)
		return false;
	ip_endpoint_parse("127.0.0.1:1", &o.remote);
	o.remote.port = ntohs(b->fwd_sa.sin_port);
	o.alpn = QUIC_ALPN_PEER;
	ident_public_key(b->sid, o.pin);
	return quic_connect(b->cli, &o, &client_cbs, b, &b->cc) == 0;
}

static void lab_free(struct lab *b)
{
	quic_endpoint_del(b->cli);
	quic_endpoint_del(b->srv);
	if (b->fwd_io)
		loop_io_close(b->fwd_io, true);
	else if (b->fwd >= 0)
		close(b->fwd);
	loop_del(b->l);
	ident_del(b->sid);
	ident_del(b->cid);
}

/* Runs the loop for ms, offering the client one datagram per iteration
 * the way a TUN device keeps offering packets. */
static void run_sending(struct lab *b, int ms)
{
	int64_t end = loop_now_us(b->l) + (int64_t)ms * 1000;
	uint8_t d[1000] = {0};

	while (loop_now_us(b->l) < end) {
		for (int i = 0; i < 8; i++)
			if (quic_conn_datagram(b->cc, d, sizeof(d)) < 0)
				break;
		loop_run_once(b->l, 1);
	}
}

/* The path dies while the window is full of datagrams (their ACKs are
 * lost too) for dead_ms, then heals, and with poke the application tells
 * the connection at once. Returns the milliseconds from the heal to the
 * first datagram that arrives (-1: none within 10 s, or a setup
 * failure). */
static int64_t outage(int dead_ms, bool poke)
{
	struct lab b;
	struct quic_conn_stats st;
	unsigned before;
	int64_t healed, r = -1;

	if (!CHECK(lab_init(&b)))
		goto out;
	for (int i = 0; i < 3000 && (!b.established || !b.sc); i++)
		loop_run_once(b.l, 1);
	if (!CHECK(b.established && b.sc))
		goto out;
	run_sending(&b, 300);
	CHECK(b.got > 50);
	b.drop = true;
	run_sending(&b, dead_ms);
	quic_conn_stats(b.cc, &st);
	fprintf(stderr, "# dead path: in flight %llu of cwnd %llu, pto_count %u\n",
		(unsigned long long)st.bytes_in_flight,
		(unsigned long long)st.cwnd, st.pto_count);
	CHECK(b.fwd_dropped > 0);
	b.drop = false;
	b.healed = true;
	before = b.got;
	healed = loop_now_us(b.l);
	if (poke)
		quic_conn_probe(b.cc);
	while (b.got < before + 20 && loop_now_us(b.l) - healed < 10000000)
		run_sending(&b, 50);
	if (b.first_at_us)
		r = (b.first_at_us - healed) / 1000;
	fprintf(stderr, "# %u datagrams arrived, the first %lld ms after\n",
		b.got - before, (long long)r);
	CHECK(b.got >= before + 20);
out:
	lab_free(&b);
	return r;
}

/* ngtcp2 0.12 arms no probe timeout for DATAGRAM-only packets, so
 * without help the sender waits for an ACK that never comes. */
static void datagrams_flow_again_soon_after_a_dead_path_heals(void)
{
	int64_t ms = outage(1500, false);

	CHECK(ms >= 0 && ms < 3000);
}

/* After 4 s the probes have backed off to seconds apart; told that the
 * path changed, the connection probes at once. */
static void a_poked_connection_probes_at_once(void)
{
	int64_t ms = outage(4000, true);

	CHECK(ms >= 0 && ms < 500);
}

static const struct check_case cases[] = {
	CHECK_CASE(datagrams_flow_again_soon_after_a_dead_path_heals),
	CHECK_CASE(a_poked_connection_probes_at_once),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
