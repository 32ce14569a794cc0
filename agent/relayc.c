/* The agent's relay client: see relayc.h. */
#include "agent/relayc.h"

#include "shared/err.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/rand.h"
#include "shared/token.h"
#include "shared/wire.h"

#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
/* Liveness (docs/relay.md, "Relay restarts"): after PING_IDLE_MS without
 * a byte from the relay we send a PING; no answer within PING_DEAD_MS
 * means the relay is gone. A connection not authenticated CONNECT_MS
 * after it began is given up too. Either way the next try comes at once
 * or within SILENT_RETRY_MAX_MS: a relay that does not answer at all
 * costs us nothing to retry, and one that comes back must be found
 * soon. */
#define LIVE_TICK_MS 250
#define PING_IDLE_MS 1000
#define PING_DEAD_MS 1500
#define CONNECT_MS 3000
#define SILENT_RETRY_MAX_MS 1000

struct relayc {
	struct loop *loop;
	struct quic_endpoint *ep;
	struct relayc_callbacks cbs;
	void *ctx;
	struct loop_timer *retry;
	struct loop_timer *live;

	bool have_target;
	struct relayc_target t;
	char *token;
	bool token_stale;  /* the relay refused this token: wait for another */

	struct quic_conn *c;
	struct wire_reader *rd;
	bool established;  /* stream 0 open, AUTH sent */
	bool authed;
	bool dropping;     /* we closed c on purpose: no back-off */
	unsigned attempts; /* failed connects since the last AUTH_OK */
	bool silent;       /* we closed c because the relay went quiet */
	int64_t conn_at;   /* ms: quic_connect of c */
	int64_t last_rx;   /* ms: last bytes from the relay on c */
	int64_t ping_at;   /* ms: our unanswered PING, 0: none */
	unsigned silences; /* connections ended for silence or a reset */

	bool have_qad;
	struct ip_endpoint qad;
	uint64_t node;
	unsigned connects;
	bool conn_qad; /* this connection has reported a QAD address */
};

static int64_t now_ms(const struct relayc *r)
{
	return loop_now_us(r->loop) / 1000;
}

static void heard(struct relayc *r)
{
	r->last_rx = now_ms(r);
	r->ping_at = 0;
}

static void emit(struct relayc *r, struct relayc_event *ev)
{
	ev->name = r->t.name;
	if (r->cbs.on_event)
		r->cbs.on_event(ev, r->ctx);
}

static int send_auth(struct relayc *r)
{
	uint8_t buf[WIRE_MSG_MAX];
	struct wire_msg m = {.type = WIRE_MSG_AUTH,
			     .data = (const uint8_t *)r->token,
			     .len = strlen(r->token)};
	int n = wire_msg_encode(&m, buf, sizeof(buf));

	if (n < 0)
		return n;
	return quic_conn_stream_send(r->c, 0, buf, (size_t)n, false) == n
		       ? 0
		       : WEFT_ERR_BUSY;
}

static void send_ping_pong(struct relayc *r, uint8_t type, uint64_t nonce)
{
	uint8_t buf[WIRE_MSG_MAX];
	struct wire_msg m = {.type = type, .nonce = nonce};
	int n = wire_msg_encode(&m, buf, sizeof(buf));

	if (n > 0)
		quic_conn_stream_send(r->c, 0, buf, (size_t)n, false);
}

static void on_msg(struct relayc *r, const struct wire_msg *m)
{
	struct relayc_event ev = {0};

	switch (m->type) {
	case WIRE_MSG_AUTH_OK:
		r->node = m->node;
		r->attempts = 0;
		if (!r->authed)
			r->connects++;
		ev.again = r->authed;
		r->authed = true;
		ev.kind = RELAYC_AUTHED;
		ev.addr = r->t.addr;
		ev.node = m->node;
		emit(r, &ev);
		break;
	case WIRE_MSG_QAD:
		ev.again = r->conn_qad && r->qad.port == m->addr.port &&
			   ip_addr_eq(&r->qad.addr, &m->addr.addr);
		r->conn_qad = true;
		r->have_qad = true;
		r->qad = m->addr;
		ev.kind = RELAYC_QAD;
		ev.addr = m->addr;
		emit(r, &ev);
		break;
	case WIRE_MSG_PEER_GONE:
		if (r->cbs.on_peer_gone)
			r->cbs.on_peer_gone(m->node, m->reason, r->ctx);
		break;
	case WIRE_MSG_PING:
		send_ping_pong(r, WIRE_MSG_PONG, m->nonce);
		break;
	case WIRE_MSG_SIGNAL_FROM:
		if (r->cbs.on_signal)
			r->cbs.on_signal(m->node, m->data, m->len, r->ctx);
		break;
	default:
		/* PONG: heard() already noted that the relay is alive. */
		break;
	}
}

static void on_stream_data(struct quic_conn *c, int64_t sid,
			   const uint8_t *data, size_t len, bool fin,
			   void *ctx)
{
	struct relayc *r = ctx;
	struct wire_msg m;
	int rc = 0;

	(void)fin;
	if (sid != 0 || !r->rd)
		return;
	heard(r);
	while (len > 0 && rc >= 0) {
		size_t k = wire_reader_feed(r->rd, data, len);

		data += k;
		len -= k;
		while ((rc = wire_reader_next(r->rd, &m)) == 1)
			on_msg(r, &m);
	}
	if (rc < 0)
		quic_conn_close(c, WIRE_CLOSE_PROTOCOL_ERROR, "bad message");
}

static void on_established(struct quic_conn *c, void *ctx)
{
	struct relayc *r = ctx;
	int64_t sid;

	if (quic_conn_stream_open(c, &sid) < 0 || sid != 0) {
		quic_conn_close(c, WIRE_CLOSE_PROTOCOL_ERROR, "no stream 0");
		return;
	}
	r->established = true;
	heard(r);
	if (!r->token || send_auth(r) < 0)
		quic_conn_close(c, 0, "cannot authenticate");
}

static int64_t backoff_ms(struct relayc *r)
{
	unsigned shift = r->attempts < 6 ? r->attempts : 6;
	uint64_t ms = (uint64_t)BACKOFF_MIN_MS << shift, jitter = 0;

	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	rand_uniform(ms / 2 + 1, &jitter);
	r->attempts++;
	return (int64_t)(ms / 2 + jitter);
}

static void on_closed(struct quic_conn *c, const struct quic_close_info *i,
		      void *ctx)
{
	struct relayc *r = ctx;
	struct relayc_event ev = {.kind = RELAYC_CLOSED, .close = i};
	bool was_authed = r->authed, silent = r->silent;

	(void)c;
	r->c = NULL;
	r->silent = false;
	r->ping_at = 0;
	loop_timer_stop(r->live);
	r->established = false;
	r->authed = false;
	r->conn_qad = false;
	wire_reader_del(r->rd);
	r->rd = NULL;
	ev.addr = r->t.addr;
	if (r->dropping) {
		/* Our own close before switching: connect again at once if
		 * there is a relay to connect to. */
		r->dropping = false;
		ev.retry_ms = 0;
		loop_timer_start(r->retry, 0);
		emit(r, &ev);
		return;
	}
	if (i->app && (i->code == WIRE_CLOSE_REPLACED ||
		       i->code == WIRE_CLOSE_AUTH_FAILED ||
		       i->code == WIRE_CLOSE_TOKEN_EXPIRED)) {
		r->token_stale = true;
		r->attempts = 6;
	}
	ev.retry_ms = backoff_ms(r);
	/* Silence, a stateless reset (a transport close without error from
	 * the relay: a restarted relay answers our old connection with one)
	 * or a timeout: the relay is gone or came back. Try again at once
	 * after a connection that worked, and never wait long. */
	if (silent || i->err == WEFT_ERR_TIMEOUT ||
	    (i->err == WEFT_ERR_CLOSED && i->remote && !i->app)) {
		r->silences++;
		if (was_authed)
			ev.retry_ms = 0;
		else if (ev.retry_ms > SILENT_RETRY_MAX_MS)
			ev.retry_ms = SILENT_RETRY_MAX_MS;
	}
	loop_timer_start(r->retry, ev.retry_ms * 1000);
	emit(r, &ev);
}

/* Gives up on c because the relay went quiet; on_closed follows. */
static void close_silent(struct relayc *r, const char *why)
{
	r->silent = true;
	quic_conn_close(r->c, 0, why);
}

static void on_live(struct loop_timer *t, void *ctx)
{
	struct relayc *r = ctx;
	int64_t now = now_ms(r);
	uint64_t nonce = 0;

	(void)t;
	if (!r->c || r->dropping)
		return;
	if (!r->authed) {
		if (now - r->conn_at >= CONNECT_MS) {
			close_silent(r, "relay not answering");
			return;
		}
	} else if (r->ping_at) {
		if (now - r->ping_at >= PING_DEAD_MS) {
			close_silent(r, "relay silent");
			return;
		}
	} else if (now - r->last_rx >= PING_IDLE_MS) {
		rand_u64(&nonce);
		send_ping_pong(r, WIRE_MSG_PING, nonce);
		r->ping_at = now;
	}
	loop_timer_start(r->live, LIVE_TICK_MS * 1000);
}

static const struct quic_conn_callbacks conn_cbs = {
	.on_established = on_established,
	.on_stream_data = on_stream_data,
	.on_closed = on_closed,
};

/* Connects when there is a relay, a token and no connection. */
static void try_connect(struct relayc *r)
{
	struct quic_connect_options co = {.alpn = QUIC_ALPN_RELAY};
	struct relayc_event ev = {.kind = RELAYC_CONNECTING};
	int rc;

	if (r->c || !r->have_target || !r->token)
		return;
	co.remote = r->t.addr;
	memcpy(co.pin, r->t.pin, IDENT_KEY_LEN);
	rc = wire_reader_new(&r->rd);
	if (rc == 0)
		rc = quic_connect(r->ep, &co, &conn_cbs, r, &r->c);
	if (rc < 0) {
		wire_reader_del(r->rd);
		r->rd = NULL;
		r->c = NULL;
		loop_timer_start(r->retry, backoff_ms(r) * 1000);
		return;
	}
	loop_timer_stop(r->retry);
	r->conn_at = now_ms(r);
	r->ping_at = 0;
	loop_timer_start(r->live, LIVE_TICK_MS * 1000);
	ev.addr = r->t.addr;
	emit(r, &ev);
}

static void on_retry(struct loop_timer *t, void *ctx)
{
	(void)t;
	try_connect(ctx);
}

int relayc_new(struct loop *l, struct quic_endpoint *ep,
	       const struct relayc_callbacks *cbs, void *ctx,
	       struct relayc **out)
{
	struct relayc *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return WEFT_ERR_NOMEM;
	r->loop = l;
	r->ep = ep;
	if (cbs)
		r->cbs = *cbs;
	r->ctx = ctx;
	rc = loop_timer_new(l, on_retry, r, &r->retry);
	if (rc == 0) {
		rc = loop_timer_new(l, on_live, r, &r->live);
		if (rc < 0)
			loop_timer_del(r->retry);
	}
	if (rc < 0) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Closes the connection on purpose; on_closed runs at once. */
static void drop_conn(struct relayc *r)
{
	if (r->c && !r->dropping) {
		r->dropping = true;
		quic_conn_close(r->c, 0, "relay changed");
	}
}

void relayc_del(struct relayc *r)
{
	if (!r)
		return;
	r->cbs.on_event = NULL;
	drop_conn(r);
	loop_timer_del(r->retry);
	loop_timer_del(r->live);
	wire_reader_del(r->rd);
	if (r->token)
		explicit_bzero(r->token, strlen(r->token));
	free(r->token);
	free(r);
}

int relayc_set_relay(struct relayc *r, const struct relayc_target *t)
{
	if (t && (!t->name[0] || !t->addr.addr.family || !t->addr.port))
		return WEFT_ERR_INVAL;
	if (!t) {
		if (!r->have_target)
			return 0;
		r->have_target = false;
		drop_conn(r);
		loop_timer_stop(r->retry);
		return 0;
	}
	if (r->have_target && strcmp(r->t.name, t->name) == 0 &&
	    r->t.addr.port == t->addr.port &&
	    ip_addr_eq(&r->t.addr.addr, &t->addr.addr) &&
	    memcmp(r->t.pin, t->pin, IDENT_KEY_LEN) == 0)
		return 0;
	drop_conn(r);
	r->t = *t;
	r->t.name[RELAYC_NAME_MAX - 1] = '\0';
	r->have_target = true;
	r->attempts = 0;
	r->have_qad = false;
	try_connect(r);
	return 0;
}

int relayc_set_token(struct relayc *r, const char *token)
{
	char *copy = NULL;

	if (token && *token) {
		if (strlen(token) > TOKEN_MAX_LEN)
			return WEFT_ERR_TOOBIG;
		if (r->token && strcmp(r->token, token) == 0)
			return 0;
		copy = strdup(token);
		if (!copy)
			return WEFT_ERR_NOMEM;
	}
	if (r->token)
		explicit_bzero(r->token, strlen(r->token));
	free(r->token);
	r->token = copy;
	if (!copy)
		return 0;
	if (r->token_stale) {
		/* The relay refused the old token: try the new one soon. */
		r->token_stale = false;
		r->attempts = 0;
		if (!r->c)
			loop_timer_start(r->retry, 0);
	}
	if (r->c && r->established && send_auth(r) < 0)
		quic_conn_close(r->c, 0, "cannot authenticate");
	try_connect(r);
	return 0;
}

void relayc_input(struct relayc *r, const struct ip_endpoint *from,
		  const uint8_t *data, size_t len)
{
	struct wire_frame f;

	if (!r->have_target || from->port != r->t.addr.port ||
	    !ip_addr_eq(&from->addr, &r->t.addr.addr) ||
	    wire_classify(data, len) != WIRE_KIND_FRAME ||
	    wire_frame_decode(data, len, &f) < 0)
		return;
	if (r->c)
		heard(r);
	if (f.type == WIRE_RELAY_RECV && r->cbs.on_frame)
		r->cbs.on_frame(f.node, f.payload, f.payload_len, r->ctx);
	else if (f.type == WIRE_PEER_GONE && r->cbs.on_peer_gone)
		r->cbs.on_peer_gone(f.node, f.reason, r->ctx);
}

int relayc_send(struct relayc *r, uint64_t dst, const void *payload,
		size_t len)
{
	uint8_t buf[WIRE_FRAME_MAX];
	struct wire_frame f = {.type = WIRE_RELAY_SEND, .node = dst,
			       .payload = payload, .payload_len = len};
	int n;

	if (!r->authed)
		return WEFT_ERR_CLOSED;
	n = wire_frame_encode(&f, buf, sizeof(buf));
	if (n < 0)
		return WEFT_ERR_INVAL;
	return quic_endpoint_send_raw(r->ep, &r->t.addr, buf, (size_t)n);
}

void relayc_status(const struct relayc *r, struct relayc_status *out)
{
	memset(out, 0, sizeof(*out));
	out->have_relay = r->have_target;
	if (r->have_target) {
		memcpy(out->name, r->t.name, sizeof(out->name));
		out->addr = r->t.addr;
	}
	out->connected = r->authed;
	out->have_qad = r->have_qad;
	out->qad = r->qad;
	out->node = r->node;
	out->connects = r->connects;
	out->silences = r->silences;
}

int relayc_signal(struct relayc *r, uint64_t dst, const void *data,
		  size_t len)
{
	uint8_t buf[WIRE_MSG_MAX];
	struct wire_msg m = {.type = WIRE_MSG_SIGNAL,
			     .node = dst,
			     .data = data,
			     .len = len};
	int n;

	if (!r->c || !r->authed)
		return WEFT_ERR_CLOSED;
	if (dst == 0 || len == 0 || len > WIRE_SIGNAL_MAX)
		return WEFT_ERR_INVAL;
	n = wire_msg_encode(&m, buf, sizeof(buf));
	if (n < 0)
		return n;
	return quic_conn_stream_send(r->c, 0, buf, (size_t)n, false) == n
		       ? 0
		       : WEFT_ERR_BUSY;
}
