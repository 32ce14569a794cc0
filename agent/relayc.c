/* The agent's relay client: see relayc.h. */
#include "agent/relayc.h"

#include "shared/err.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/relayconn.h"
#include "shared/token.h"
#include "shared/wire.h"

#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
/* When keep-alive (shared/relayconn.c; docs/relay.md, "Relay restarts")
 * gives a connection up because the relay went quiet, the next try comes
 * at once or within SILENT_RETRY_MAX_MS: a relay that does not answer at
 * all costs us nothing to retry, and one that comes back must be found
 * soon. */
#define SILENT_RETRY_MAX_MS 1000

struct relayc {
	struct relayc_callbacks cbs;
	void *ctx;
	struct loop_timer *retry;

	bool have_target;
	struct relayc_target t;
	char *token;
	bool token_stale;  /* the relay refused this token: wait for another */

	struct relayconn *conn;
	bool authed;
	bool dropping;     /* we closed conn on purpose: no back-off */
	unsigned attempts; /* failed connects since the last AUTH_OK */
	unsigned silences; /* connections ended for silence or a reset */

	bool have_qad;
	struct ip_endpoint qad;
	uint64_t node;
	unsigned connects;
	bool conn_qad; /* this connection has reported a QAD address */
};

static void emit(struct relayc *r, struct relayc_event *ev)
{
	ev->name = r->t.name;
	if (r->cbs.on_event)
		r->cbs.on_event(ev, r->ctx);
}

static void on_msg(const struct wire_msg *m, void *ctx)
{
	struct relayc *r = ctx;
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
	case WIRE_MSG_SIGNAL_FROM:
		if (r->cbs.on_signal)
			r->cbs.on_signal(m->node, m->data, m->len, r->ctx);
		break;
	default:
		break;
	}
}

static void on_established(void *ctx)
{
	struct relayc *r = ctx;

	if (!r->token || relayconn_auth(r->conn, r->token) < 0)
		relayconn_close(r->conn, 0, "cannot authenticate");
}

static int64_t backoff_ms(struct relayc *r)
{
	return relayconn_backoff_ms(r->attempts++, BACKOFF_MIN_MS,
				    BACKOFF_MAX_MS);
}

static void on_closed(const struct quic_close_info *i, bool silent,
		      void *ctx)
{
	struct relayc *r = ctx;
	struct relayc_event ev = {.kind = RELAYC_CLOSED, .close = i};
	bool was_authed = r->authed;

	r->authed = false;
	r->conn_qad = false;
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

static const struct relayconn_callbacks conn_cbs = {
	.on_established = on_established,
	.on_msg = on_msg,
	.on_closed = on_closed,
};

/* Connects when there is a relay, a token and no connection. */
static void try_connect(struct relayc *r)
{
	struct relayc_event ev = {.kind = RELAYC_CONNECTING};

	if (relayconn_active(r->conn) || !r->have_target || !r->token)
		return;
	if (relayconn_connect(r->conn) < 0) {
		loop_timer_start(r->retry, backoff_ms(r) * 1000);
		return;
	}
	loop_timer_stop(r->retry);
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
	if (cbs)
		r->cbs = *cbs;
	r->ctx = ctx;
	rc = loop_timer_new(l, on_retry, r, &r->retry);
	if (rc == 0) {
		rc = relayconn_new(l, ep, true, &conn_cbs, r, &r->conn);
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
	if (relayconn_active(r->conn) && !r->dropping) {
		r->dropping = true;
		relayconn_close(r->conn, 0, "relay changed");
	}
}

void relayc_del(struct relayc *r)
{
	if (!r)
		return;
	r->cbs.on_event = NULL;
	drop_conn(r);
	loop_timer_del(r->retry);
	relayconn_del(r->conn);
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
		relayconn_set_relay(r->conn, NULL, NULL);
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
	relayconn_set_relay(r->conn, &r->t.addr, r->t.pin);
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
		if (!relayconn_active(r->conn))
			loop_timer_start(r->retry, 0);
	}
	if (relayconn_established(r->conn) &&
	    relayconn_auth(r->conn, r->token) < 0)
		relayconn_close(r->conn, 0, "cannot authenticate");
	try_connect(r);
	return 0;
}

void relayc_input(struct relayc *r, const struct ip_endpoint *from,
		  const uint8_t *data, size_t len)
{
	struct wire_frame f;

	if (relayconn_input(r->conn, from, data, len, &f) != 1)
		return;
	if (f.type == WIRE_RELAY_RECV && r->cbs.on_frame)
		r->cbs.on_frame(f.node, f.payload, f.payload_len, r->ctx);
	else if (f.type == WIRE_PEER_GONE && r->cbs.on_peer_gone)
		r->cbs.on_peer_gone(f.node, f.reason, r->ctx);
}

int relayc_send(struct relayc *r, uint64_t dst, const void *payload,
		size_t len)
{
	if (!r->authed)
		return WEFT_ERR_CLOSED;
	return relayconn_send_frame(r->conn, dst, payload, len);
}

void relayc_status(const struct relayc *r, struct relayc_status *out)
{
	memset(out, 0, sizeof(*out));
	if (!r)
		return; /* no relay at all (relayset_home without relays) */
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
	out->rtt_us = r->authed ? relayconn_rtt_us(r->conn) : 0;
}

int relayc_signal(struct relayc *r, uint64_t dst, const void *data,
		  size_t len)
{
	struct wire_msg m = {.type = WIRE_MSG_SIGNAL,
			     .node = dst,
			     .data = data,
			     .len = len};

	if (!relayconn_active(r->conn) || !r->authed)
		return WEFT_ERR_CLOSED;
	if (dst == 0 || len == 0 || len > WIRE_SIGNAL_MAX)
		return WEFT_ERR_INVAL;
	return relayconn_send_msg(r->conn, &m);
}
