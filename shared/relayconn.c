/* The client side of the relay protocol: see relayconn.h. */
#include "shared/relayconn.h"

#include "shared/err.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/rand.h"
#include "shared/wire.h"

#include <stdlib.h>
#include <string.h>

/* Keep-alive (docs/relay.md, "Relay restarts"): after PING_IDLE_MS without
 * a byte from the relay we send a PING; no answer within PING_DEAD_MS
 * means the relay is gone. A connection that carried relay frames (either
 * way) within PING_IDLE_MS is in use: it is asked after PING_BUSY_MS of
 * silence and given up PING_BUSY_DEAD_MS later, so that the traffic on
 * it moves to another relay within about a second and a half of its
 * relay's death (agent/relayset.h). A connection not authenticated CONNECT_MS
 * after it began is given up too. The tick is a fraction of the shortest
 * of these so that a dead relay is noticed within a quarter second of
 * the deadline. */
#define LIVE_TICK_MS 250
#define PING_IDLE_MS 1000
#define PING_DEAD_MS 1500
#define PING_BUSY_MS 250
#define PING_BUSY_DEAD_MS 1000
#define CONNECT_MS 3000

struct relayconn {
	struct loop *loop;
	struct quic_endpoint *ep;
	struct relayconn_callbacks cbs;
	void *ctx;
	struct loop_timer *live; /* NULL: no keep-alive */

	bool have_relay;
	struct ip_endpoint addr;
	uint8_t pin[IDENT_KEY_LEN];

	struct quic_conn *c; /* NULL: no connection */
	struct wire_reader *rd;
	bool established;    /* stream 0 is open */
	bool authed;         /* AUTH_OK seen on c */
	bool closing;        /* relayconn_close ran: on_closed is due */
	bool silent;         /* keep-alive closed c */
	int64_t conn_at;     /* ms: relayconn_connect of c */
	int64_t last_rx;     /* ms: last bytes from the relay on c */
	int64_t ping_at;     /* ms: our unanswered PING, 0: none */
	int64_t ping_dead;   /* ms after ping_at that mean "gone" */
	int64_t last_frame;  /* ms: last relay frame sent or taken */
};

static int64_t now_ms(const struct relayconn *rc)
{
	return loop_now_us(rc->loop) / 1000;
}

static void heard(struct relayconn *rc)
{
	rc->last_rx = now_ms(rc);
	rc->ping_at = 0;
}

int relayconn_send_msg(struct relayconn *rc, const struct wire_msg *m)
{
	uint8_t buf[WIRE_MSG_MAX];
	int n;

	if (!rc->c || !rc->established)
		return WEFT_ERR_CLOSED;
	n = wire_msg_encode(m, buf, sizeof(buf));
	if (n < 0)
		return WEFT_ERR_INVAL;
	return quic_conn_stream_send(rc->c, 0, buf, (size_t)n, false) == n
		       ? 0
		       : WEFT_ERR_BUSY;
}

int relayconn_auth(struct relayconn *rc, const char *token)
{
	struct wire_msg m = {.type = WIRE_MSG_AUTH,
			     .data = (const uint8_t *)token,
			     .len = strlen(token)};

	return relayconn_send_msg(rc, &m);
}

void relayconn_close(struct relayconn *rc, uint64_t app_code,
		     const char *reason)
{
	if (rc->c && !rc->closing) {
		rc->closing = true;
		quic_conn_close(rc->c, app_code, reason);
	}
}

bool relayconn_active(const struct relayconn *rc)
{
	return rc->c != NULL;
}

bool relayconn_established(const struct relayconn *rc)
{
	return rc->c && rc->established;
}

uint64_t relayconn_rtt_us(const struct relayconn *rc)
{
	struct quic_conn_stats st;

	if (!rc->c || !rc->established)
		return 0;
	quic_conn_stats(rc->c, &st);
	return st.rtt_us;
}

static void on_msg(struct relayconn *rc, const struct wire_msg *m)
{
	switch (m->type) {
	case WIRE_MSG_PING: {
		struct wire_msg pong = {.type = WIRE_MSG_PONG,
					.nonce = m->nonce};

		relayconn_send_msg(rc, &pong);
		return;
	}
	case WIRE_MSG_PONG:
		return; /* heard() already noted that the relay is alive */
	case WIRE_MSG_AUTH_OK:
		rc->authed = true;
		break;
	default:
		break;
	}
	if (rc->cbs.on_msg)
		rc->cbs.on_msg(m, rc->ctx);
}

static void on_stream_data(struct quic_conn *c, int64_t sid,
			   const uint8_t *data, size_t len, bool fin,
			   void *ctx)
{
	struct relayconn *rc = ctx;
	struct wire_msg m;
	int r = 0;

	(void)fin;
	if (sid != 0 || !rc->rd)
		return;
	heard(rc);
	while (len > 0 && r >= 0) {
		size_t k = wire_reader_feed(rc->rd, data, len);

		data += k;
		len -= k;
		while ((r = wire_reader_next(rc->rd, &m)) == 1)
			on_msg(rc, &m);
	}
	if (r < 0) {
		if (rc->cbs.on_protocol_error)
			rc->cbs.on_protocol_error(rc->ctx);
		rc->closing = true;
		quic_conn_close(c, WIRE_CLOSE_PROTOCOL_ERROR, "bad message");
	}
}

static void on_established(struct quic_conn *c, void *ctx)
{
	struct relayconn *rc = ctx;
	int64_t sid;

	if (quic_conn_stream_open(c, &sid) < 0 || sid != 0) {
		rc->closing = true;
		quic_conn_close(c, WIRE_CLOSE_PROTOCOL_ERROR, "no stream 0");
		return;
	}
	rc->established = true;
	heard(rc);
	if (rc->cbs.on_established)
		rc->cbs.on_established(rc->ctx);
}

static void on_closed(struct quic_conn *c, const struct quic_close_info *i,
		      void *ctx)
{
	struct relayconn *rc = ctx;
	bool silent = rc->silent;

	(void)c;
	rc->c = NULL;
	rc->established = false;
	rc->authed = false;
	rc->closing = false;
	rc->silent = false;
	rc->ping_at = 0;
	if (rc->live)
		loop_timer_stop(rc->live);
	wire_reader_del(rc->rd);
	rc->rd = NULL;
	if (rc->cbs.on_closed)
		rc->cbs.on_closed(i, silent, rc->ctx);
}

static const struct quic_conn_callbacks conn_cbs = {
	.on_established = on_established,
	.on_stream_data = on_stream_data,
	.on_closed = on_closed,
};

/* Gives up on c because the relay went quiet; on_closed follows. */
static void close_silent(struct relayconn *rc, const char *why)
{
	rc->silent = true;
	relayconn_close(rc, 0, why);
}

static void on_live(struct loop_timer *t, void *ctx)
{
	struct relayconn *rc = ctx;
	int64_t now = now_ms(rc);

	(void)t;
	if (!rc->c || rc->closing)
		return;
	if (!rc->authed) {
		if (now - rc->conn_at >= CONNECT_MS) {
			close_silent(rc, "relay not answering");
			return;
		}
	} else if (rc->ping_at) {
		if (now - rc->ping_at >= rc->ping_dead) {
			close_silent(rc, "relay silent");
			return;
		}
	} else {
		bool busy = rc->last_frame && now - rc->last_frame < PING_IDLE_MS;

		if (now - rc->last_rx >= (busy ? PING_BUSY_MS : PING_IDLE_MS)) {
			struct wire_msg ping = {.type = WIRE_MSG_PING};

			rand_u64(&ping.nonce);
			relayconn_send_msg(rc, &ping);
			rc->ping_at = now;
			rc->ping_dead = busy ? PING_BUSY_DEAD_MS : PING_DEAD_MS;
		}
	}
	loop_timer_start(rc->live, LIVE_TICK_MS * 1000);
}

int relayconn_new(struct loop *l, struct quic_endpoint *ep, bool keepalive,
		  const struct relayconn_callbacks *cbs, void *ctx,
		  struct relayconn **out)
{
	struct relayconn *rc = calloc(1, sizeof(*rc));
	int r;

	if (!rc)
		return WEFT_ERR_NOMEM;
	rc->loop = l;
	rc->ep = ep;
	if (cbs)
		rc->cbs = *cbs;
	rc->ctx = ctx;
	if (keepalive) {
		r = loop_timer_new(l, on_live, rc, &rc->live);
		if (r < 0) {
			free(rc);
			return r;
		}
	}
	*out = rc;
	return 0;
}

void relayconn_del(struct relayconn *rc)
{
	static const struct quic_conn_callbacks none = {0};

	if (!rc)
		return;
	if (rc->c) {
		/* The connection lives on until QUIC has sent its close, but
		 * no longer calls back into rc. */
		quic_conn_set_callbacks(rc->c, &none, NULL);
		if (!rc->closing)
			quic_conn_close(rc->c, 0, "shutdown");
	}
	loop_timer_del(rc->live);
	wire_reader_del(rc->rd);
	free(rc);
}

void relayconn_set_relay(struct relayconn *rc, const struct ip_endpoint *addr,
			 const uint8_t pin[IDENT_KEY_LEN])
{
	rc->have_relay = addr != NULL;
	if (addr) {
		rc->addr = *addr;
		memcpy(rc->pin, pin, IDENT_KEY_LEN);
	}
}

int relayconn_connect(struct relayconn *rc)
{
	struct quic_connect_options co = {.alpn = QUIC_ALPN_RELAY};
	int r;

	if (rc->c)
		return WEFT_ERR_BUSY;
	if (!rc->have_relay)
		return WEFT_ERR_INVAL;
	co.remote = rc->addr;
	memcpy(co.pin, rc->pin, IDENT_KEY_LEN);
	r = wire_reader_new(&rc->rd);
	if (r == 0)
		r = quic_connect(rc->ep, &co, &conn_cbs, rc, &rc->c);
	if (r < 0) {
		wire_reader_del(rc->rd);
		rc->rd = NULL;
		rc->c = NULL;
		return r;
	}
	rc->conn_at = now_ms(rc);
	rc->ping_at = 0;
	if (rc->live)
		loop_timer_start(rc->live, LIVE_TICK_MS * 1000);
	return 0;
}

int relayconn_send_frame(struct relayconn *rc, uint64_t dst,
			 const void *payload, size_t len)
{
	uint8_t buf[WIRE_FRAME_MAX];
	struct wire_frame f = {.type = WIRE_RELAY_SEND, .node = dst,
			       .payload = payload, .payload_len = len};
	int n;

	if (!rc->have_relay)
		return WEFT_ERR_CLOSED;
	n = wire_frame_encode(&f, buf, sizeof(buf));
	if (n < 0)
		return WEFT_ERR_INVAL;
	rc->last_frame = now_ms(rc);
	return quic_endpoint_send_raw(rc->ep, &rc->addr, buf, (size_t)n);
}

int relayconn_input(struct relayconn *rc, const struct ip_endpoint *from,
		    const uint8_t *data, size_t len, struct wire_frame *f)
{
	/* Only the relay's address may send us frames (docs/protocol.md). */
	if (!rc->have_relay || from->port != rc->addr.port ||
	    !ip_addr_eq(&from->addr, &rc->addr.addr))
		return WEFT_ERR_INVAL;
	if (wire_classify(data, len) != WIRE_KIND_FRAME)
		return 0;
	if (wire_frame_decode(data, len, f) < 0)
		return WEFT_ERR_INVAL;
	if (rc->c) {
		heard(rc);
		rc->last_frame = rc->last_rx;
	}
	return 1;
}

int64_t relayconn_backoff_ms(unsigned attempts, int64_t min_ms,
			     int64_t max_ms)
{
	uint64_t ms = (uint64_t)min_ms, jitter = 0;

	for (unsigned i = 0; i < attempts && ms < (uint64_t)max_ms; i++)
		ms *= 2;
	if (ms > (uint64_t)max_ms)
		ms = (uint64_t)max_ms;
	rand_uniform(ms / 2 + 1, &jitter);
	return (int64_t)(ms / 2 + jitter);
}
