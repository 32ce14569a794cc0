/* shared/relayconn against the real weft-relay process on 127.0.0.1: the
 * client side of the relay protocol that the agent (agent/relayc.c) and
 * weft-relay-probe share. Each case runs its clients on one loop in this
 * process, drives it until what it waits for happens, and starts, stops
 * (SIGSTOP), kills or restarts the relay as a real process. No database
 * is involved, so the body runs only in the sqlite registration. */
#include "check.h"
#include "rh.h"
#include "shared/err.h"
#include "shared/ident.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/relayconn.h"
#include "shared/token.h"
#include "shared/wire.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 10000

/* One client: an endpoint of its own, a relayconn on it, and what its
 * callbacks saw. */
struct cl {
	struct loop *loop;
	struct ident *id;
	struct quic_endpoint *ep;
	struct relayconn *rc;
	char *token;        /* sent as AUTH at on_established */
	/* what happened */
	int established;
	int auth_ok;        /* AUTH_OK messages */
	uint64_t node;      /* from the last AUTH_OK */
	int qad;            /* QAD messages */
	struct ip_endpoint qad_addr;
	int closed;         /* on_closed calls */
	bool silent;        /* of the last on_closed */
	struct quic_close_info close;
	int64_t closed_at_us;
	int frames;         /* RELAY_RECV frames */
	uint64_t frame_src;
	uint8_t frame[64];
	size_t frame_len;
	int gone;           /* PEER_GONE frames */
	uint64_t gone_node;
	uint8_t gone_reason;
	int signals;        /* SIGNAL_FROM messages */
	uint64_t signal_src;
	char signal[64];
	int refused;        /* datagrams relayconn_input refused */
};

static char *sign(uint64_t node)
{
	struct token_claims c = {.node_id = (int64_t)node};
	char *tok = NULL;

	c.iat = (int64_t)time(NULL) - 5;
	c.exp = c.iat + 600;
	return token_sign(rh_priv(), &c, &tok) == 0 ? tok : NULL;
}

static void on_established(void *ctx)
{
	struct cl *c = ctx;

	c->established++;
	if (c->token && relayconn_auth(c->rc, c->token) < 0)
		relayconn_close(c->rc, 0, "cannot authenticate");
}

static void on_msg(const struct wire_msg *m, void *ctx)
{
	struct cl *c = ctx;

	switch (m->type) {
	case WIRE_MSG_AUTH_OK:
		c->auth_ok++;
		c->node = m->node;
		break;
	case WIRE_MSG_QAD:
		c->qad++;
		c->qad_addr = m->addr;
		break;
	case WIRE_MSG_SIGNAL_FROM:
		c->signals++;
		c->signal_src = m->node;
		snprintf(c->signal, sizeof(c->signal), "%.*s", (int)m->len,
			 (const char *)m->data);
		break;
	default:
		break;
	}
}

static void on_closed(const struct quic_close_info *i, bool silent,
		      void *ctx)
{
	struct cl *c = ctx;

	c->closed++;
	c->silent = silent;
	c->close = *i;
	c->close.reason = ""; /* i->reason lives only during the call */
	c->closed_at_us = loop_now_us(c->loop);
}

static const struct relayconn_callbacks cbs = {
	.on_established = on_established,
	.on_msg = on_msg,
	.on_closed = on_closed,
};

/* The endpoint's on_other: relay frames (and anything else not QUIC). */
static void on_other(struct quic_endpoint *ep, const struct ip_endpoint *from,
		     const uint8_t *data, size_t len, void *ctx)
{
	struct cl *c = ctx;
	struct wire_frame f;
	int r = relayconn_input(c->rc, from, data, len, &f);

	(void)ep;
	if (r < 0) {
		c->refused++;
		return;
	}
	if (r == 0)
		return;
	if (f.type == WIRE_RELAY_RECV) {
		c->frames++;
		c->frame_src = f.node;
		c->frame_len = f.payload_len < sizeof(c->frame)
				       ? f.payload_len
				       : sizeof(c->frame);
		memcpy(c->frame, f.payload, c->frame_len);
	} else if (f.type == WIRE_PEER_GONE) {
		c->gone++;
		c->gone_node = f.node;
		c->gone_reason = f.reason;
	}
}

/* Sets c up for node (0: no token, never AUTHs) against relay r, with or
 * without keep-alive; does not connect. */
static int cl_init(struct cl *c, struct loop *l, const struct rh_relay *r,
		   uint64_t node, bool keepalive)
{
	struct quic_endpoint_options eo = {0};
	struct ip_endpoint relay;
	uint8_t pin[IDENT_KEY_LEN];
	char addr[64];
	int e;

	memset(c, 0, sizeof(*c));
	c->loop = l;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", r->port);
	if (ip_endpoint_parse(addr, &relay) < 0 ||
	    ident_pin_from_b64(r->pin, pin) < 0)
		return WEFT_ERR_INVAL;
	if (node && !(c->token = sign(node)))
		return WEFT_ERR_CRYPTO;
	e = ident_generate(&c->id);
	if (e < 0)
		return e;
	eo.bind = relay;
	eo.bind.port = 0;
	eo.id = c->id;
	eo.on_other = on_other;
	eo.ctx = c;
	e = quic_endpoint_new(l, &eo, &c->ep);
	if (e == 0)
		e = relayconn_new(l, c->ep, keepalive, &cbs, c, &c->rc);
	if (e == 0)
		relayconn_set_relay(c->rc, &relay, pin);
	return e;
}

static void cl_free(struct cl *c)
{
	relayconn_del(c->rc);
	quic_endpoint_del(c->ep);
	ident_del(c->id);
	free(c->token);
}

/* Runs l until *counter reaches want or ms pass; returns whether it did. */
static bool run_until(struct loop *l, const int *counter, int want, int ms)
{
	int64_t end = loop_now_us(l) + (int64_t)ms * 1000;

	while (*counter < want && loop_now_us(l) < end)
		loop_run_once(l, 50);
	return *counter >= want;
}

/* Runs l for ms. */
static void run_for(struct loop *l, int ms)
{
	int64_t end = loop_now_us(l) + (int64_t)ms * 1000;

	while (loop_now_us(l) < end)
		loop_run_once(l, 50);
}

/* Connects c and waits for AUTH_OK and QAD. */
static bool cl_up(struct cl *c)
{
	int want_auth = c->auth_ok + 1, want_qad = c->qad + 1;

	return relayconn_connect(c->rc) == 0 &&
	       run_until(c->loop, &c->auth_ok, want_auth, WAIT_MS) &&
	       run_until(c->loop, &c->qad, want_qad, WAIT_MS);
}

/* Starts a relay with the key file key and a loop for the clients. */
static bool fx_start(const char *key, struct rh_relay *r, struct loop **l)
{
	if (rh_relay_start(0, key, NULL, r) < 0)
		return false;
	if (loop_new(l) == 0)
		return true;
	rh_relay_stop(r, SIGKILL, 5000, NULL);
	return false;
}

/* Frees the clients (b may be NULL) and the loop, wakes the relay if a
 * case stopped it and ends it, which must exit cleanly. */
static void fx_stop(struct rh_relay *r, struct loop *l, struct cl *a,
		    struct cl *b)
{
	cl_free(a);
	if (b)
		cl_free(b);
	loop_del(l);
	if (r->pid) {
		kill(r->pid, SIGCONT);
		CHECK_INT(rh_relay_stop(r, SIGTERM, 5000, NULL), 0);
	}
}

static void authenticates_learns_its_address_and_exchanges_frames(void)
{
	struct rh_relay r;
	struct loop *l = NULL;
	struct cl a = {0}, b = {0};
	struct ip_endpoint local;
	struct wire_msg sig = {.type = WIRE_MSG_SIGNAL, .node = 2,
			       .data = (const uint8_t *)"call-me",
			       .len = 7};
	bool up = false;

	if (rh_skip_unless_sqlite())
		return;
	if (!CHECK(fx_start("rc1", &r, &l)))
		return;
	if (!CHECK(cl_init(&a, l, &r, 1, true) == 0) ||
	    !CHECK(cl_init(&b, l, &r, 2, true) == 0))
		goto out;
	/* Nothing to send on before the handshake; one connection only. */
	CHECK_INT(relayconn_send_msg(a.rc, &sig), WEFT_ERR_CLOSED);
	CHECK(!relayconn_active(a.rc));
	CHECK_INT(relayconn_connect(a.rc), 0);
	CHECK(relayconn_active(a.rc));
	CHECK_INT(relayconn_connect(a.rc), WEFT_ERR_BUSY);
	up = run_until(l, &a.auth_ok, 1, WAIT_MS) &&
	     run_until(l, &a.qad, 1, WAIT_MS) && cl_up(&b);
	if (!CHECK(up))
		goto out;
	CHECK(relayconn_established(a.rc));
	CHECK_INT(a.established, 1);
	CHECK_INT(a.node, 1);
	CHECK_INT(b.node, 2);
	/* QAD: the relay saw a's own socket. */
	quic_endpoint_local(a.ep, &local);
	CHECK_INT(a.qad_addr.port, local.port);
	CHECK(ip_addr_eq(&a.qad_addr.addr, &local.addr));

	/* A frame to the other client, one to ourselves, one to nobody. */
	CHECK_INT(relayconn_send_frame(a.rc, 2, "to-b", 4), 0);
	CHECK(run_until(l, &b.frames, 1, WAIT_MS));
	CHECK_INT(b.frame_src, 1);
	CHECK_INT(b.frame_len, 4);
	CHECK_MEM(b.frame, "to-b", 4);
	CHECK_INT(relayconn_send_frame(a.rc, 1, "to-self", 7), 0);
	CHECK(run_until(l, &a.frames, 1, WAIT_MS));
	CHECK_INT(a.frame_src, 1);
	CHECK_INT(a.frame_len, 7);
	CHECK_MEM(a.frame, "to-self", 7);
	CHECK_INT(relayconn_send_frame(a.rc, 99, "lost", 4), 0);
	CHECK(run_until(l, &a.gone, 1, WAIT_MS));
	CHECK_INT(a.gone_node, 99);
	CHECK(a.gone_reason != 0);
	CHECK_INT(relayconn_send_frame(a.rc, 2, "", 0), WEFT_ERR_INVAL);

	/* A control message on stream 0. */
	CHECK_INT(relayconn_send_msg(a.rc, &sig), 0);
	CHECK(run_until(l, &b.signals, 1, WAIT_MS));
	CHECK_INT(b.signal_src, 1);
	CHECK_STR(b.signal, "call-me");

	/* A renewed token on the live connection: a second AUTH_OK, and
	 * the connection stays. */
	free(a.token);
	a.token = sign(1);
	if (!CHECK(a.token))
		goto out;
	CHECK_INT(relayconn_auth(a.rc, a.token), 0);
	CHECK(run_until(l, &a.auth_ok, 2, WAIT_MS));
	CHECK_INT(a.closed, 0);

	/* A frame from b's address is not the relay's: refused. */
	{
		uint8_t buf[WIRE_FRAME_MAX];
		struct wire_frame f = {.type = WIRE_RELAY_RECV, .node = 2,
				       .payload = (const uint8_t *)"x",
				       .payload_len = 1};
		struct wire_frame got;
		int n = wire_frame_encode(&f, buf, sizeof(buf));

		quic_endpoint_local(b.ep, &local);
		CHECK(n > 0);
		CHECK_INT(relayconn_input(a.rc, &local, buf, (size_t)n, &got),
			  WEFT_ERR_INVAL);
	}
	CHECK_INT(a.refused, 0);

	/* Our own close: on_closed once, not silent, and no connection. */
	relayconn_close(a.rc, 0, "bye");
	CHECK(run_until(l, &a.closed, 1, WAIT_MS));
	CHECK(!a.silent);
	CHECK(!a.close.remote);
	CHECK(!relayconn_active(a.rc));
	CHECK(!relayconn_established(a.rc));
	CHECK_INT(relayconn_send_msg(a.rc, &sig), WEFT_ERR_CLOSED);
	/* And again on the same relayconn. */
	CHECK(cl_up(&a));
	CHECK_INT(a.closed, 1);
out:
	/* b still connected: relayconn_del closes it without callbacks. */
	fx_stop(&r, l, &a, &b);
}

/* Issue 12.1: a relay that stops answering (here SIGSTOP: no reset, no
 * close, nothing) is given up by keep-alive, PING after 1 s of silence and
 * 1.5 s more without an answer, instead of after the QUIC idle timeout
 * (30 s). The check allows 10 s so that a loaded machine does not fail
 * it; the time is printed. */
static void keepalive_gives_up_on_a_stopped_relay(void)
{
	struct rh_relay r;
	struct loop *l = NULL;
	struct cl a = {0};
	int64_t t0;

	if (rh_skip_unless_sqlite())
		return;
	if (!CHECK(fx_start("rc2", &r, &l)))
		return;
	if (!CHECK(cl_init(&a, l, &r, 1, true) == 0) || !CHECK(cl_up(&a)))
		goto out;
	/* A quiet but live relay is kept: PINGs are answered. */
	run_for(l, 3000);
	CHECK_INT(a.closed, 0);
	CHECK(relayconn_established(a.rc));

	if (!CHECK(kill(r.pid, SIGSTOP) == 0))
		goto out;
	t0 = loop_now_us(l);
	if (CHECK(run_until(l, &a.closed, 1, WAIT_MS)))
		printf("# stopped relay given up after %lld ms\n",
		       (long long)(a.closed_at_us - t0) / 1000);
	CHECK(a.silent);
	CHECK(!a.close.remote);
	CHECK(!relayconn_active(a.rc));

	/* The relay wakes up: a new connection works. */
	kill(r.pid, SIGCONT);
	CHECK(cl_up(&a));
	CHECK_INT(a.closed, 1);
out:
	fx_stop(&r, l, &a, NULL);
}

/* A connection that never sees AUTH_OK (the relay is stopped before the
 * handshake) is given up 3 s after it began, marked silent. */
static void keepalive_gives_up_on_a_connection_that_never_authenticates(void)
{
	struct rh_relay r;
	struct loop *l = NULL;
	struct cl a = {0};

	if (rh_skip_unless_sqlite())
		return;
	if (!CHECK(fx_start("rc3", &r, &l)))
		return;
	if (!CHECK(cl_init(&a, l, &r, 1, true) == 0))
		goto out;
	if (!CHECK(kill(r.pid, SIGSTOP) == 0))
		goto out;
	CHECK_INT(relayconn_connect(a.rc), 0);
	CHECK(run_until(l, &a.closed, 1, WAIT_MS));
	CHECK(a.silent);
	CHECK_INT(a.established, 0);
	CHECK_INT(a.auth_ok, 0);
out:
	fx_stop(&r, l, &a, NULL);
}

/* Without keep-alive (weft-relay-probe) nothing is sent on a quiet
 * connection, so a stopped relay goes unnoticed for longer than the
 * keep-alive would allow; and a client that never AUTHs is left to the
 * relay's own auth timeout, which closes it AUTH_REQUIRED. */
static void without_keepalive_the_relay_decides(void)
{
	struct rh_relay r;
	struct loop *l = NULL;
	struct cl a = {0}, n = {0};

	if (rh_skip_unless_sqlite())
		return;
	if (!CHECK(fx_start("rc4", &r, &l)))
		return;
	if (!CHECK(cl_init(&a, l, &r, 1, false) == 0) ||
	    !CHECK(cl_init(&n, l, &r, 0, false) == 0))
		goto out;
	if (!CHECK(cl_up(&a)))
		goto out;
	if (!CHECK(kill(r.pid, SIGSTOP) == 0))
		goto out;
	run_for(l, 4000);
	CHECK_INT(a.closed, 0);
	CHECK(relayconn_established(a.rc));
	kill(r.pid, SIGCONT);

	CHECK_INT(relayconn_connect(n.rc), 0);
	CHECK(run_until(l, &n.established, 1, WAIT_MS));
	CHECK(run_until(l, &n.closed, 1, WAIT_MS));
	CHECK(!n.silent);
	CHECK(n.close.remote);
	CHECK(n.close.app);
	CHECK_INT(n.close.code, WIRE_CLOSE_AUTH_REQUIRED);
	/* a outlived both. */
	CHECK_INT(a.closed, 0);
out:
	fx_stop(&r, l, &a, &n);
}

/* A relay killed (SIGKILL) and started again on the same port with the
 * same key answers the old connection's next packet with a stateless
 * reset (its reset secret comes from its key): the connection ends at
 * once, as a remote transport close, not as silence, and a new one
 * authenticates. Without keep-alive here, so that the packet that meets
 * the new relay is the one we send after the restart. */
static void killed_and_restarted_relay_resets_the_connection(void)
{
	struct rh_relay r;
	struct loop *l = NULL;
	struct cl a = {0};
	struct wire_msg sig = {.type = WIRE_MSG_SIGNAL, .node = 2,
			       .data = (const uint8_t *)"hello",
			       .len = 5};
	int port;

	if (rh_skip_unless_sqlite())
		return;
	if (!CHECK(fx_start("rc5", &r, &l)))
		return;
	port = r.port;
	if (!CHECK(cl_init(&a, l, &r, 1, false) == 0) || !CHECK(cl_up(&a)))
		goto out;
	CHECK_INT(rh_relay_stop(&r, SIGKILL, 5000, NULL), 128 + SIGKILL);
	if (!CHECK(rh_relay_start(port, "rc5", NULL, &r) == 0))
		goto out;
	CHECK_INT(a.closed, 0);
	CHECK_INT(relayconn_send_msg(a.rc, &sig), 0);
	CHECK(run_until(l, &a.closed, 1, WAIT_MS));
	CHECK(!a.silent);
	CHECK(a.close.remote);
	CHECK(!a.close.app);
	CHECK_INT(a.close.err, WEFT_ERR_CLOSED);
	CHECK(cl_up(&a));
	CHECK_INT(a.node, 1);
out:
	fx_stop(&r, l, &a, NULL);
}

/* The back-off doubles from min to max and is jittered within the upper
 * half of its step. */
static void backoff_doubles_up_to_max_with_jitter(void)
{
	int64_t step = 500;

	for (unsigned i = 0; i < 12; i++) {
		int64_t want = step < 30000 ? step : 30000;

		for (int k = 0; k < 50; k++) {
			int64_t ms = relayconn_backoff_ms(i, 500, 30000);

			if (!CHECK(ms >= want / 2 && ms <= want))
				printf("# attempt %u: %lld not in [%lld, %lld]\n",
				       i, (long long)ms, (long long)want / 2,
				       (long long)want);
		}
		step *= 2;
	}
	CHECK_INT(relayconn_backoff_ms(100, 100, 2000) <= 2000, 1);
}

static const struct check_case cases[] = {
	CHECK_CASE(authenticates_learns_its_address_and_exchanges_frames),
	CHECK_CASE(keepalive_gives_up_on_a_stopped_relay),
	CHECK_CASE(keepalive_gives_up_on_a_connection_that_never_authenticates),
	CHECK_CASE(without_keepalive_the_relay_decides),
	CHECK_CASE(killed_and_restarted_relay_resets_the_connection),
	CHECK_CASE(backoff_doubles_up_to_max_with_jitter),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
