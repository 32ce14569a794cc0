/* The relay's protocol core driven through stub ops: no sockets, no QUIC,
 * a fake clock. */
#include "check.h"
#include "relay/metrics.h"
#include "relay/relay.h"
#include "shared/buf.h"
#include "shared/enc.h"
#include "shared/err.h"
#include "shared/stun.h"
#include "shared/token.h"
#include "shared/wire.h"

#include <stdio.h>
#include <stdlib.h>

#define NOW 1800000000 /* wall seconds */

struct fconn {
	struct relay_client *cl;
	struct ip_endpoint remote;
	uint8_t out[16384];
	size_t outlen, room;
	bool closed;
	uint64_t code;
	int64_t timer;
	int64_t reset_stream;
};

struct dgram {
	void *sock;
	struct ip_endpoint to;
	uint8_t d[1500];
	size_t n;
};

static struct {
	struct dgram sent[64];
	size_t nsent;
	int64_t wall;
	char *priv, *pub, *priv2, *pub2;
} T;

static int op_send_datagram(void *sock, const struct ip_endpoint *to,
			    const uint8_t *p, size_t n, void *ctx)
{
	struct dgram *d = &T.sent[T.nsent % 64];

	d->sock = sock;
	d->to = *to;
	memcpy(d->d, p, n);
	d->n = n;
	T.nsent++;
	return 0;
}

static int op_send_stream(void *conn, int64_t sid, const uint8_t *p, size_t n,
			  void *ctx)
{
	struct fconn *c = conn;
	size_t room = c->room < sizeof(c->out) - c->outlen
			      ? c->room
			      : sizeof(c->out) - c->outlen;
	size_t k = n < room ? n : room;

	memcpy(c->out + c->outlen, p, k);
	c->outlen += k;
	c->room -= k;
	return (int)k;
}

static void op_reset_stream(void *conn, int64_t sid, uint64_t code, void *ctx)
{
	((struct fconn *)conn)->reset_stream = sid;
}

/* Like the QUIC glue outside a callback: on_closed runs at once. */
static void op_close(void *conn, uint64_t code, const char *reason, void *ctx)
{
	struct fconn *c = conn;

	c->closed = true;
	c->code = code;
	relay_client_del(c->cl);
	c->cl = NULL;
}

static void op_set_timer(void *conn, int64_t deadline, void *ctx)
{
	((struct fconn *)conn)->timer = deadline;
}

static int64_t op_wall_s(void *ctx)
{
	return T.wall;
}

static const struct relay_ops ops = {
	op_send_datagram, op_send_stream, op_reset_stream,
	op_close, op_set_timer, op_wall_s,
};

static struct relay *new_relay(uint32_t fwd_rate, uint32_t sig_rate)
{
	struct relay_config cfg = {.forward = {fwd_rate, fwd_rate ? fwd_rate : 1},
				   .signal = {sig_rate, sig_rate ? sig_rate : 1}};
	struct relay *r = NULL;

	T.nsent = 0;
	T.wall = NOW;
	if (!T.priv) {
		token_keygen(&T.priv, &T.pub);
		token_keygen(&T.priv2, &T.pub2);
	}
	if (relay_new(&cfg, &ops, NULL, &r) == 0)
		relay_set_controller_key(r, T.pub);
	return r;
}

static char *make_token(const char *priv, int64_t node, int64_t iat,
			int64_t exp)
{
	struct token_claims c = {.node_id = node, .iat = iat, .exp = exp};
	char *t = NULL;

	token_sign(priv, &c, &t);
	return t;
}

static struct ip_endpoint ep(uint8_t last, uint16_t port)
{
	return (struct ip_endpoint){.addr = {.family = 4, .b = {192, 0, 2, last}},
				    .port = port};
}

static void conn_open(struct relay *r, struct fconn *c, struct ip_endpoint e)
{
	memset(c, 0, sizeof(*c));
	c->remote = e;
	c->room = SIZE_MAX;
	relay_client_new(r, c, (void *)0x50c, &e, 0, &c->cl);
}

static void send_auth_text(struct relay *r, struct fconn *c, const char *tok,
			   int64_t now)
{
	uint8_t buf[WIRE_MSG_MAX];
	struct wire_msg m = {.type = WIRE_MSG_AUTH, .data = (const uint8_t *)tok,
			     .len = strlen(tok)};
	int n = wire_msg_encode(&m, buf, sizeof(buf));

	REQUIRE(n > 0);
	relay_client_stream(c->cl, 0, buf, (size_t)n, false, now);
}

static void auth(struct relay *r, struct fconn *c, int64_t node)
{
	char *t = make_token(T.priv, node, NOW - 10, NOW + 600);

	send_auth_text(r, c, t, 0);
	free(t);
}

/* Decodes the control messages c received, from byte offset *off. */
static int next_msg(struct fconn *c, size_t *off, struct wire_msg *m)
{
	size_t len;

	if (*off + 3 > c->outlen)
		return 0;
	len = 3 + ((size_t)c->out[*off + 1] << 8 | c->out[*off + 2]);
	if (*off + len > c->outlen || wire_msg_decode(c->out + *off, len, m) < 0)
		return -1;
	*off += len;
	return 1;
}

static void authenticates_with_auth_ok_then_qad(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn c;
	struct wire_msg m;
	size_t off = 0;

	conn_open(r, &c, ep(7, 40000));
	CHECK_INT(c.timer, 5000000);
	auth(r, &c, 42);
	REQUIRE(!c.closed);
	REQUIRE_INT(next_msg(&c, &off, &m), 1);
	CHECK_INT(m.type, WIRE_MSG_AUTH_OK);
	CHECK_INT(m.node, 42);
	CHECK_INT(m.time, NOW);
	REQUIRE_INT(next_msg(&c, &off, &m), 1);
	CHECK_INT(m.type, WIRE_MSG_QAD);
	CHECK(ip_addr_eq(&m.addr.addr, &c.remote.addr));
	CHECK_INT(m.addr.port, 40000);
	CHECK_INT(relay_client_node(c.cl), 42);
	/* The timer now watches the token's expiry. */
	CHECK_INT(c.timer, 601 * 1000000LL);
	relay_del(r);
}

static void closes_auth_required_without_auth_in_time(void)
{
	struct relay *r = new_relay(0, 0);
	struct relay_stats st;
	struct fconn c;

	conn_open(r, &c, ep(7, 40000));
	relay_client_timeout(c.cl, c.timer);
	CHECK(c.closed);
	CHECK_INT(c.code, WIRE_CLOSE_AUTH_REQUIRED);
	relay_stats(r, &st);
	CHECK_INT(st.auth_failed[RELAY_AUTH_TIMEOUT], 1);
	CHECK_INT(st.clients, 0);
	relay_del(r);
}

static void rejects_token_signed_by_another_key(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn c;
	char *t = make_token(T.priv2, 5, NOW - 10, NOW + 600);

	conn_open(r, &c, ep(7, 40000));
	send_auth_text(r, &c, t, 0);
	CHECK(c.closed);
	CHECK_INT(c.code, WIRE_CLOSE_AUTH_FAILED);
	CHECK_INT(c.outlen, 0);
	free(t);
	relay_del(r);
}

static void rejects_expired_token_with_token_expired(void)
{
	struct relay *r = new_relay(0, 0);
	struct relay_stats st;
	struct fconn c;
	char *t = make_token(T.priv, 5, NOW - 100, NOW - 50);

	conn_open(r, &c, ep(7, 40000));
	send_auth_text(r, &c, t, 0);
	CHECK(c.closed);
	CHECK_INT(c.code, WIRE_CLOSE_TOKEN_EXPIRED);
	relay_stats(r, &st);
	CHECK_INT(st.auth_failed[RELAY_AUTH_EXPIRED], 1);
	free(t);
	relay_del(r);
}

static void rejects_alg_none_token(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn c;
	char hdr[64], body[256], tok[400];
	const char *h = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
	const char *b = "{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\","
			"\"sub\":\"5\",\"node\":5,\"iat\":1799999990,"
			"\"exp\":1800000600}";

	base64_encode(h, strlen(h), hdr, sizeof(hdr), true);
	base64_encode(b, strlen(b), body, sizeof(body), true);
	snprintf(tok, sizeof(tok), "%s.%s.", hdr, body);
	conn_open(r, &c, ep(7, 40000));
	send_auth_text(r, &c, tok, 0);
	CHECK(c.closed);
	CHECK_INT(c.code, WIRE_CLOSE_AUTH_FAILED);
	relay_del(r);
}

static void message_before_auth_is_a_protocol_error(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn c;
	uint8_t buf[32];
	struct wire_msg m = {.type = WIRE_MSG_PING, .nonce = 1};
	int n = wire_msg_encode(&m, buf, sizeof(buf));

	conn_open(r, &c, ep(7, 40000));
	relay_client_stream(c.cl, 0, buf, (size_t)n, false, 0);
	CHECK(c.closed);
	CHECK_INT(c.code, WIRE_CLOSE_PROTOCOL_ERROR);
	relay_del(r);
}

static void malformed_bytes_close_with_protocol_error(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn c;
	const uint8_t junk[] = {0x7f, 0, 0};

	conn_open(r, &c, ep(7, 40000));
	auth(r, &c, 3);
	relay_client_stream(c.cl, 0, junk, sizeof(junk), false, 0);
	CHECK(c.closed);
	CHECK_INT(c.code, WIRE_CLOSE_PROTOCOL_ERROR);
	relay_del(r);
}

static void second_connection_of_a_node_replaces_the_first(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn a, b, s;
	struct relay_stats st;
	uint8_t f[16] = {WIRE_RELAY_SEND, 0, 0, 0, 0, 0, 0, 0, 9, 0xee};

	conn_open(r, &a, ep(1, 1000));
	conn_open(r, &b, ep(2, 2000));
	conn_open(r, &s, ep(3, 3000));
	auth(r, &a, 9);
	auth(r, &s, 4);
	auth(r, &b, 9);
	CHECK(a.closed);
	CHECK_INT(a.code, WIRE_CLOSE_REPLACED);
	CHECK(!b.closed);
	relay_stats(r, &st);
	CHECK_INT(st.replaced, 1);
	CHECK_INT(st.nodes, 2);
	/* Frames for node 9 now go to the new address... */
	relay_datagram(r, (void *)1, &s.remote, f, 10, 0);
	REQUIRE_INT(T.nsent, 1);
	CHECK_INT(T.sent[0].to.port, 2000);
	/* ...and the old address may no longer send. */
	relay_datagram(r, (void *)1, &a.remote, f, 10, 0);
	CHECK_INT(T.nsent, 1);
	relay_del(r);
}

static void forwards_relay_send_as_relay_recv_with_same_payload(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn a, b;
	struct wire_frame in = {.type = WIRE_RELAY_SEND, .node = 20},
			  out;
	uint8_t payload[1400], buf[WIRE_FRAME_MAX];
	struct relay_stats st;
	size_t i;
	int n;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	in.payload = payload;
	in.payload_len = sizeof(payload);
	conn_open(r, &a, ep(1, 1000));
	conn_open(r, &b, ep(2, 2000));
	auth(r, &a, 10);
	auth(r, &b, 20);
	n = wire_frame_encode(&in, buf, sizeof(buf));
	relay_datagram(r, (void *)0x50c, &a.remote, buf, (size_t)n, 0);
	REQUIRE_INT(T.nsent, 1);
	CHECK_INT(T.sent[0].n, n);
	CHECK(ip_addr_eq(&T.sent[0].to.addr, &b.remote.addr));
	CHECK_INT(T.sent[0].to.port, 2000);
	REQUIRE_INT(wire_frame_decode(T.sent[0].d, T.sent[0].n, &out), 0);
	CHECK_INT(out.type, WIRE_RELAY_RECV);
	CHECK_INT(out.node, 10);
	REQUIRE_INT(out.payload_len, sizeof(payload));
	CHECK_MEM(out.payload, payload, sizeof(payload));
	relay_stats(r, &st);
	CHECK_INT(st.frames_forwarded, 1);
	CHECK_INT(st.bytes_forwarded, 1400);
	relay_del(r);
}

static void drops_frames_from_unknown_addresses_without_answer(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn a, b;
	struct relay_stats st;
	uint8_t f[10] = {WIRE_RELAY_SEND, 0, 0, 0, 0, 0, 0, 0, 20, 1};
	struct ip_endpoint stranger = ep(1, 1001);

	conn_open(r, &a, ep(1, 1000));
	conn_open(r, &b, ep(2, 2000));
	auth(r, &a, 10);
	auth(r, &b, 20);
	relay_datagram(r, NULL, &stranger, f, sizeof(f), 0);
	/* An unauthenticated connection's address is no better. */
	conn_open(r, &a, ep(5, 5000));
	relay_datagram(r, NULL, &a.remote, f, sizeof(f), 0);
	CHECK_INT(T.nsent, 0);
	relay_stats(r, &st);
	CHECK_INT(st.drops[RELAY_DROP_UNKNOWN_SOURCE], 2);
	relay_del(r);
}

static void unknown_destination_gets_peer_gone_rate_limited(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn a, b;
	struct wire_frame g;
	uint8_t f[10] = {WIRE_RELAY_SEND, 0, 0, 0, 0, 0, 0, 0, 77, 1};
	struct relay_stats st;
	int i;

	conn_open(r, &a, ep(1, 1000));
	auth(r, &a, 10);
	relay_datagram(r, NULL, &a.remote, f, sizeof(f), 0);
	REQUIRE_INT(T.nsent, 1);
	REQUIRE_INT(wire_frame_decode(T.sent[0].d, T.sent[0].n, &g), 0);
	CHECK_INT(g.type, WIRE_PEER_GONE);
	CHECK_INT(g.node, 77);
	CHECK_INT(g.reason, WIRE_GONE_UNKNOWN);
	CHECK_INT(T.sent[0].to.port, 1000);
	/* A node that was here and left is "offline". */
	conn_open(r, &b, ep(2, 2000));
	auth(r, &b, 77);
	relay_client_timeout(b.cl, 0); /* token still valid: re-arms */
	CHECK(!b.closed);
	op_close(&b, 0, NULL, NULL);
	relay_datagram(r, NULL, &a.remote, f, sizeof(f), 0);
	REQUIRE_INT(wire_frame_decode(T.sent[1].d, T.sent[1].n, &g), 0);
	CHECK_INT(g.reason, WIRE_GONE_OFFLINE);
	/* The notices themselves are limited (10/s by default). */
	for (i = 0; i < 100; i++)
		relay_datagram(r, NULL, &a.remote, f, sizeof(f), 0);
	CHECK_INT(T.nsent, 10);
	relay_stats(r, &st);
	CHECK_INT(st.drops[RELAY_DROP_NO_DESTINATION], 102);
	relay_del(r);
}

static void forwarding_rate_limit_drops_and_counts(void)
{
	struct relay *r = new_relay(100, 0);
	struct fconn a, b;
	struct relay_stats st;
	uint8_t f[10] = {WIRE_RELAY_SEND, 0, 0, 0, 0, 0, 0, 0, 20, 1};
	int i;

	conn_open(r, &a, ep(1, 1000));
	conn_open(r, &b, ep(2, 2000));
	auth(r, &a, 10);
	auth(r, &b, 20);
	for (i = 0; i < 1000; i++)
		relay_datagram(r, NULL, &a.remote, f, sizeof(f), 0);
	relay_stats(r, &st);
	CHECK_INT(st.frames_forwarded, 100);
	CHECK_INT(st.drops[RELAY_DROP_RATE_LIMITED], 900);
	/* One second later the bucket has refilled. */
	relay_datagram(r, NULL, &a.remote, f, sizeof(f), 1000000);
	relay_stats(r, &st);
	CHECK_INT(st.frames_forwarded, 101);
	relay_del(r);
}

static void signal_reaches_destination_as_signal_from(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn a, b;
	struct wire_msg m = {.type = WIRE_MSG_SIGNAL, .node = 20,
			     .data = (const uint8_t *)"call me", .len = 7};
	uint8_t buf[64];
	size_t off = 0;
	int n = wire_msg_encode(&m, buf, sizeof(buf));

	conn_open(r, &a, ep(1, 1000));
	conn_open(r, &b, ep(2, 2000));
	auth(r, &a, 10);
	auth(r, &b, 20);
	b.outlen = 0;
	relay_client_stream(a.cl, 0, buf, (size_t)n, false, 0);
	REQUIRE_INT(next_msg(&b, &off, &m), 1);
	CHECK_INT(m.type, WIRE_MSG_SIGNAL_FROM);
	CHECK_INT(m.node, 10);
	REQUIRE_INT(m.len, 7);
	CHECK_MEM(m.data, "call me", 7);
	relay_del(r);
}

static void signal_to_absent_node_gets_peer_gone_and_abuse_closes(void)
{
	struct relay *r = new_relay(0, 5);
	struct fconn a;
	struct wire_msg m = {.type = WIRE_MSG_SIGNAL, .node = 99,
			     .data = (const uint8_t *)"x", .len = 1};
	uint8_t buf[64];
	size_t off = 0;
	int n = wire_msg_encode(&m, buf, sizeof(buf)), i;

	conn_open(r, &a, ep(1, 1000));
	auth(r, &a, 10);
	a.outlen = 0;
	relay_client_stream(a.cl, 0, buf, (size_t)n, false, 0);
	REQUIRE_INT(next_msg(&a, &off, &m), 1);
	CHECK_INT(m.type, WIRE_MSG_PEER_GONE);
	CHECK_INT(m.node, 99);
	CHECK_INT(m.reason, WIRE_GONE_UNKNOWN);
	for (i = 0; i < 200 && !a.closed; i++)
		relay_client_stream(a.cl, 0, buf, (size_t)n, false, 0);
	CHECK(a.closed);
	CHECK_INT(a.code, WIRE_CLOSE_RATE_LIMITED);
	relay_del(r);
}

static void address_change_moves_node_and_sends_qad_again(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn a, b;
	struct ip_endpoint moved = ep(9, 9000);
	uint8_t f[10] = {WIRE_RELAY_SEND, 0, 0, 0, 0, 0, 0, 0, 20, 1};
	struct wire_msg m;
	size_t off = 0;

	conn_open(r, &a, ep(1, 1000));
	conn_open(r, &b, ep(2, 2000));
	auth(r, &a, 10);
	auth(r, &b, 20);
	a.outlen = 0;
	relay_client_remote(a.cl, &a.remote, 0); /* unchanged: nothing */
	CHECK_INT(a.outlen, 0);
	relay_client_remote(a.cl, &moved, 0);
	REQUIRE_INT(next_msg(&a, &off, &m), 1);
	CHECK_INT(m.type, WIRE_MSG_QAD);
	CHECK_INT(m.addr.port, 9000);
	relay_datagram(r, NULL, &a.remote, f, sizeof(f), 0);
	CHECK_INT(T.nsent, 0);
	relay_datagram(r, NULL, &moved, f, sizeof(f), 0);
	CHECK_INT(T.nsent, 1);
	relay_del(r);
}

static void token_expiry_closes_unless_refreshed(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn a;
	char *t1 = make_token(T.priv, 10, NOW - 10, NOW + 60);
	char *t2 = make_token(T.priv, 10, NOW + 30, NOW + 120);
	char *other = make_token(T.priv, 11, NOW + 30, NOW + 120);
	struct wire_msg m;
	size_t off = 0;

	conn_open(r, &a, ep(1, 1000));
	send_auth_text(r, &a, t1, 0);
	CHECK_INT(a.timer, 61 * 1000000LL);
	T.wall = NOW + 30;
	a.outlen = 0;
	send_auth_text(r, &a, t2, 30000000);
	REQUIRE(!a.closed);
	REQUIRE_INT(next_msg(&a, &off, &m), 1);
	CHECK_INT(m.type, WIRE_MSG_AUTH_OK);
	T.wall = NOW + 61;
	relay_client_timeout(a.cl, 61000000);
	CHECK(!a.closed); /* the refreshed token holds */
	send_auth_text(r, &a, other, 62000000);
	CHECK(a.closed);
	CHECK_INT(a.code, WIRE_CLOSE_AUTH_FAILED);
	conn_open(r, &a, ep(1, 1000));
	send_auth_text(r, &a, t2, 0);
	T.wall = NOW + 121;
	relay_client_timeout(a.cl, 91000000);
	CHECK(a.closed);
	CHECK_INT(a.code, WIRE_CLOSE_TOKEN_EXPIRED);
	free(t1);
	free(t2);
	free(other);
	relay_del(r);
}

static void stun_request_is_answered_with_source_address(void)
{
	struct relay *r = new_relay(0, 0);
	uint8_t txid[STUN_TXID_LEN] = {1, 2, 3}, got[STUN_TXID_LEN];
	uint8_t req[STUN_REQUEST_LEN];
	struct ip_endpoint from = ep(33, 5555), mapped;
	struct relay_stats st;

	stun_binding_request_build(txid, req, sizeof(req));
	relay_datagram(r, (void *)7, &from, req, sizeof(req), 0);
	REQUIRE_INT(T.nsent, 1);
	CHECK(T.sent[0].sock == (void *)7);
	REQUIRE_INT(stun_binding_response_parse(T.sent[0].d, T.sent[0].n, got,
						&mapped), 0);
	CHECK_MEM(got, txid, sizeof(txid));
	CHECK(ip_addr_eq(&mapped.addr, &from.addr));
	CHECK_INT(mapped.port, 5555);
	/* A truncated request is dropped, never answered. */
	relay_datagram(r, (void *)7, &from, req, sizeof(req) - 4, 0);
	CHECK_INT(T.nsent, 1);
	relay_stats(r, &st);
	CHECK_INT(st.stun_answered, 1);
	relay_del(r);
}

static void full_control_queue_drops_that_client_only(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn a, b;
	struct wire_msg m = {.type = WIRE_MSG_SIGNAL, .node = 20,
			     .data = (const uint8_t *)"hi", .len = 2};
	uint8_t buf[64];
	struct relay_stats st;
	int n = wire_msg_encode(&m, buf, sizeof(buf));

	conn_open(r, &a, ep(1, 1000));
	conn_open(r, &b, ep(2, 2000));
	auth(r, &a, 10);
	auth(r, &b, 20);
	b.room = 3; /* less than one SIGNAL_FROM */
	relay_client_stream(a.cl, 0, buf, (size_t)n, false, 0);
	CHECK(b.closed);
	CHECK_INT(b.code, WIRE_CLOSE_RATE_LIMITED);
	CHECK(!a.closed);
	relay_stats(r, &st);
	CHECK_INT(st.drops[RELAY_DROP_QUEUE_FULL], 1);
	relay_del(r);
}

static void other_streams_are_reset(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn a;

	conn_open(r, &a, ep(1, 1000));
	relay_client_stream(a.cl, 4, (const uint8_t *)"x", 1, false, 0);
	CHECK_INT(a.reset_stream, 4);
	CHECK(!a.closed);
	relay_del(r);
}

static void shutdown_closes_everyone_with_shutting_down(void)
{
	struct relay *r = new_relay(0, 0);
	struct fconn a, b;

	conn_open(r, &a, ep(1, 1000));
	conn_open(r, &b, ep(2, 2000));
	auth(r, &a, 10);
	relay_shutdown(r);
	CHECK(a.closed && b.closed);
	CHECK_INT(a.code, WIRE_CLOSE_SHUTTING_DOWN);
	CHECK_INT(b.code, WIRE_CLOSE_SHUTTING_DOWN);
	relay_del(r);
}

static void metrics_text_has_counters_by_reason(void)
{
	struct relay_stats st = {0};
	struct metrics_engine e = {.retry_sent = 3, .retry_on = 1,
				   .udp_sent = 40, .udp_send_msgs = 4};
	struct buf b;
	const char *s;

	st.clients = 2;
	st.drops[RELAY_DROP_RATE_LIMITED] = 17;
	st.auth_failed[RELAY_AUTH_EXPIRED] = 4;
	st.frames_forwarded = 12345;
	buf_init(&b, 1 << 20);
	REQUIRE_INT(metrics_render(&st, &e, &b), 0);
	s = buf_cstr(&b);
	CHECK(strstr(s, "# TYPE weft_relay_connections gauge\n"
			"weft_relay_connections 2\n") != NULL);
	CHECK(strstr(s, "weft_relay_drops_total{reason=\"rate_limited\"} 17\n"));
	CHECK(strstr(s, "weft_relay_auth_failures_total{reason=\"expired\"} 4\n"));
	CHECK(strstr(s, "weft_relay_frames_forwarded_total 12345\n"));
	CHECK(strstr(s, "weft_relay_retry_sent_total 3\n"));
	CHECK(strstr(s, "weft_relay_retry_active 1\n"));
	CHECK(strstr(s, "weft_relay_udp_datagrams_total{dir=\"out\"} 40\n"));
	CHECK(strstr(s, "weft_relay_udp_messages_total{dir=\"out\"} 4\n"));
	CHECK(strstr(s, "weft_relay_udp_messages_total{dir=\"in\"} 0\n"));
	buf_free(&b);
}

static void cleanup(void)
{
	token_key_free(T.priv);
	token_key_free(T.priv2);
	free(T.pub);
	free(T.pub2);
}

static const struct check_case cases[] = {
	CHECK_CASE(authenticates_with_auth_ok_then_qad),
	CHECK_CASE(closes_auth_required_without_auth_in_time),
	CHECK_CASE(rejects_token_signed_by_another_key),
	CHECK_CASE(rejects_expired_token_with_token_expired),
	CHECK_CASE(rejects_alg_none_token),
	CHECK_CASE(message_before_auth_is_a_protocol_error),
	CHECK_CASE(malformed_bytes_close_with_protocol_error),
	CHECK_CASE(second_connection_of_a_node_replaces_the_first),
	CHECK_CASE(forwards_relay_send_as_relay_recv_with_same_payload),
	CHECK_CASE(drops_frames_from_unknown_addresses_without_answer),
	CHECK_CASE(unknown_destination_gets_peer_gone_rate_limited),
	CHECK_CASE(forwarding_rate_limit_drops_and_counts),
	CHECK_CASE(signal_reaches_destination_as_signal_from),
	CHECK_CASE(signal_to_absent_node_gets_peer_gone_and_abuse_closes),
	CHECK_CASE(address_change_moves_node_and_sends_qad_again),
	CHECK_CASE(token_expiry_closes_unless_refreshed),
	CHECK_CASE(stun_request_is_answered_with_source_address),
	CHECK_CASE(full_control_queue_drops_that_client_only),
	CHECK_CASE(other_streams_are_reset),
	CHECK_CASE(shutdown_closes_everyone_with_shutting_down),
	CHECK_CASE(metrics_text_has_counters_by_reason),
	{0},
};

int main(int argc, char **argv)
{
	int rc = check_main(argc, argv, cases);

	cleanup();
	return rc;
}
