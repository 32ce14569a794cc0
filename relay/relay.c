/* The relay's protocol core; see relay.h and docs/protocol.md. */
#include "relay/relay.h"

#include "relay/addrmap.h"
#include "shared/err.h"
#include "shared/idmap.h"
#include "shared/log.h"
#include "shared/stun.h"
#include "shared/token.h"
#include "shared/wire.h"

#include <stdlib.h>
#include <string.h>

#define CTRL_STREAM 0
#define DEFAULT_AUTH_TIMEOUT_US 5000000
#define DEFAULT_MAX_KNOWN 65536
#define KEY_MAX (64 * 1024)
/* Signals dropped by the limit in a row before the connection is closed
 * with RATE_LIMITED: well past any burst a well-behaved agent sends. */
#define SIGNAL_STRIKES_MAX 64
#define STREAM_RESET_CODE WIRE_CLOSE_PROTOCOL_ERROR

struct relay_client {
	struct relay *r;
	struct relay_client *prev, *next;
	void *conn, *sock;
	struct ip_endpoint remote;
	bool authed;   /* owns r->nodes[node] and r->addrs[remote] */
	bool closing;
	int64_t node;
	int64_t exp;   /* wall seconds, token in force */
	struct wire_reader *rd;
	struct limits_bucket fwd, sig, gone;
	unsigned sig_strikes;
};

struct relay {
	struct relay_config cfg;
	struct relay_ops ops;
	void *ctx;
	char *key;
	struct idmap nodes;     /* node id -> authed client */
	struct addrmap addrs;   /* remote -> authed client */
	struct idmap_i64 known; /* node ids seen since start */
	struct relay_client *clients;
	struct relay_stats st;
};

static const char *const auth_names[RELAY_AUTH_NREASONS] = {
	[RELAY_AUTH_TIMEOUT] = "timeout",
	[RELAY_AUTH_BAD_TOKEN] = "bad_token",
	[RELAY_AUTH_EXPIRED] = "expired",
	[RELAY_AUTH_WRONG_NODE] = "wrong_node",
	[RELAY_AUTH_PROTOCOL] = "protocol",
};

static const char *const drop_names[RELAY_DROP_NREASONS] = {
	[RELAY_DROP_UNKNOWN_SOURCE] = "unknown_source",
	[RELAY_DROP_MALFORMED] = "malformed",
	[RELAY_DROP_UNEXPECTED] = "unexpected",
	[RELAY_DROP_NO_DESTINATION] = "no_destination",
	[RELAY_DROP_RATE_LIMITED] = "rate_limited",
	[RELAY_DROP_SEND_FAILED] = "send_failed",
	[RELAY_DROP_SIGNAL_RATE_LIMITED] = "signal_rate_limited",
	[RELAY_DROP_SIGNAL_NO_DESTINATION] = "signal_no_destination",
	[RELAY_DROP_QUEUE_FULL] = "queue_full",
	[RELAY_DROP_STUN] = "stun",
	[RELAY_DROP_OTHER] = "other",
};

const char *relay_auth_fail_name(enum relay_auth_fail f)
{
	return (unsigned)f < RELAY_AUTH_NREASONS ? auth_names[f] : "unknown";
}

const char *relay_drop_name(enum relay_drop d)
{
	return (unsigned)d < RELAY_DROP_NREASONS ? drop_names[d] : "unknown";
}

int relay_new(const struct relay_config *cfg, const struct relay_ops *ops,
	      void *ctx, struct relay **out)
{
	struct relay *r;

	if (!cfg || !ops || !ops->send_datagram || !ops->send_stream ||
	    !ops->reset_stream || !ops->close || !ops->set_timer ||
	    !ops->wall_s)
		return WEFT_ERR_INVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return WEFT_ERR_NOMEM;
	r->cfg = *cfg;
	if (r->cfg.gone.rate == 0)
		r->cfg.gone = (struct limits_rate){10, 10};
	if (r->cfg.auth_timeout_us <= 0)
		r->cfg.auth_timeout_us = DEFAULT_AUTH_TIMEOUT_US;
	if (r->cfg.max_known == 0)
		r->cfg.max_known = DEFAULT_MAX_KNOWN;
	r->ops = *ops;
	r->ctx = ctx;
	idmap_init(&r->nodes);
	addrmap_init(&r->addrs);
	idmap_i64_init(&r->known);
	*out = r;
	return 0;
}

static void client_free(struct relay_client *cl)
{
	wire_reader_del(cl->rd);
	free(cl);
}

void relay_del(struct relay *r)
{
	struct relay_client *cl, *nx;

	if (!r)
		return;
	for (cl = r->clients; cl; cl = nx) {
		nx = cl->next;
		client_free(cl);
	}
	idmap_free(&r->nodes);
	addrmap_free(&r->addrs);
	idmap_i64_free(&r->known);
	token_key_free(r->key);
	free(r);
}

int relay_set_controller_key(struct relay *r, const char *pub_pem)
{
	char *k;
	size_t n;

	if (!pub_pem)
		return WEFT_ERR_INVAL;
	n = strlen(pub_pem);
	if (n == 0 || n > KEY_MAX)
		return WEFT_ERR_INVAL;
	k = strdup(pub_pem);
	if (!k)
		return WEFT_ERR_NOMEM;
	token_key_free(r->key);
	r->key = k;
	return 0;
}

void relay_stats(const struct relay *r, struct relay_stats *out)
{
	*out = r->st;
	out->nodes = r->nodes.n;
}

/* ---- tables ---- */

/* Removes cl from the node and address tables where it is the owner. */
static void unlink_client(struct relay_client *cl)
{
	struct relay *r = cl->r;

	if (!cl->authed)
		return;
	if (idmap_get(&r->nodes, cl->node) == cl)
		idmap_del(&r->nodes, cl->node);
	if (addrmap_get(&r->addrs, &cl->remote) == cl)
		addrmap_del(&r->addrs, &cl->remote);
	cl->authed = false;
}

/* Closes cl. The glue may free cl before this returns: callers must not
 * touch cl afterwards. */
static void client_close(struct relay_client *cl, uint64_t code,
			 const char *reason)
{
	if (cl->closing)
		return;
	cl->closing = true;
	unlink_client(cl);
	cl->r->ops.close(cl->conn, code, reason, cl->r->ctx);
}

/* ---- control messages ---- */

/* Queues one message on cl's control stream. A message the bounded
 * stream buffer cannot take whole would corrupt the stream, so a client
 * that does not read its stream is dropped (STYLE: drop the slow peer,
 * never the process). Returns 0, or WEFT_ERR_CLOSED when cl was closed
 * (and may be freed). */
static int send_msg(struct relay_client *cl, const struct wire_msg *m)
{
	uint8_t buf[WIRE_MSG_MAX];
	int n, k;

	n = wire_msg_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	k = cl->r->ops.send_stream(cl->conn, CTRL_STREAM, buf, (size_t)n,
				   cl->r->ctx);
	if (k == n)
		return 0;
	cl->r->st.drops[RELAY_DROP_QUEUE_FULL]++;
	client_close(cl, WIRE_CLOSE_RATE_LIMITED, "control queue full");
	return WEFT_ERR_CLOSED;
}

static int send_qad(struct relay_client *cl)
{
	struct wire_msg m = {.type = WIRE_MSG_QAD, .addr = cl->remote};
	int rc = send_msg(cl, &m);

	if (rc == 0)
		cl->r->st.qad_sent++;
	return rc;
}

static int send_gone_msg(struct relay_client *cl, int64_t node,
			 uint8_t reason)
{
	struct wire_msg m = {.type = WIRE_MSG_PEER_GONE, .node = (uint64_t)node,
			     .reason = reason};
	int rc = send_msg(cl, &m);

	if (rc == 0)
		cl->r->st.peer_gone_sent++;
	return rc;
}

static uint8_t gone_reason(const struct relay *r, int64_t node)
{
	return idmap_i64_get(&r->known, node) ? WIRE_GONE_OFFLINE
					      : WIRE_GONE_UNKNOWN;
}

static void arm_expiry(struct relay_client *cl, int64_t now_us)
{
	int64_t left = cl->exp - cl->r->ops.wall_s(cl->r->ctx);

	if (left < 0)
		left = 0;
	/* One second past exp, so that a token that expires "at" exp has
	 * expired for token_verify's exp > now too. */
	cl->r->ops.set_timer(cl->conn, now_us + (left + 1) * 1000000,
			     cl->r->ctx);
}

static void auth_fail(struct relay_client *cl, enum relay_auth_fail why,
		      uint64_t code, const char *reason)
{
	char ep[IP_ENDPOINT_STRLEN] = "?";

	cl->r->st.auth_failed[why]++;
	ip_endpoint_format(&cl->remote, ep, sizeof(ep));
	log_info("auth_failed", "reason=%s remote=%s node=%lld",
		 relay_auth_fail_name(why), ep, (long long)cl->node);
	client_close(cl, code, reason);
}

/* Takes ownership of node id for cl, replacing an older connection. */
static int claim_node(struct relay_client *cl, int64_t node)
{
	struct relay *r = cl->r;
	struct relay_client *old = idmap_get(&r->nodes, node);
	int rc;

	rc = idmap_put(&r->nodes, node, cl);
	if (rc < 0)
		return rc;
	rc = addrmap_put(&r->addrs, &cl->remote, cl);
	if (rc < 0) {
		if (old)
			idmap_put(&r->nodes, node, old);
		else
			idmap_del(&r->nodes, node);
		return rc;
	}
	cl->node = node;
	cl->authed = true;
	if (r->known.n < r->cfg.max_known)
		idmap_i64_put(&r->known, node, 1);
	if (old && old != cl) {
		char ep[IP_ENDPOINT_STRLEN] = "?";

		/* cl owns the node id now; the old client keeps the address
		 * only if it is a different one. */
		if (addrmap_get(&r->addrs, &old->remote) == old)
			addrmap_del(&r->addrs, &old->remote);
		old->authed = false;
		r->st.replaced++;
		ip_endpoint_format(&old->remote, ep, sizeof(ep));
		log_info("node_replaced", "node=%lld old_remote=%s",
			 (long long)node, ep);
		client_close(old, WIRE_CLOSE_REPLACED, "replaced");
	}
	return 0;
}

/* Returns 0, or WEFT_ERR_CLOSED when cl was closed. */
static int on_auth(struct relay_client *cl, const struct wire_msg *m,
		   int64_t now_us)
{
	struct relay *r = cl->r;
	char tok[TOKEN_MAX_LEN + 1];
	struct token_claims c;
	int64_t wall = r->ops.wall_s(r->ctx);
	struct wire_msg ok;
	int rc;

	if (m->len > TOKEN_MAX_LEN || !r->key) {
		auth_fail(cl, RELAY_AUTH_BAD_TOKEN, WIRE_CLOSE_AUTH_FAILED,
			  "bad token");
		return WEFT_ERR_CLOSED;
	}
	memcpy(tok, m->data, m->len);
	tok[m->len] = '\0';
	rc = token_verify(r->key, tok, wall, &c);
	memset(tok, 0, sizeof(tok));
	if (rc == WEFT_ERR_EXPIRED) {
		auth_fail(cl, RELAY_AUTH_EXPIRED, WIRE_CLOSE_TOKEN_EXPIRED,
			  "token expired");
		return WEFT_ERR_CLOSED;
	}
	if (rc < 0) {
		auth_fail(cl, RELAY_AUTH_BAD_TOKEN, WIRE_CLOSE_AUTH_FAILED,
			  rc == WEFT_ERR_AUTH ? "bad token" : "auth error");
		return WEFT_ERR_CLOSED;
	}
	if (cl->authed) {
		/* Token refresh on the same connection. */
		if (c.node_id != cl->node) {
			auth_fail(cl, RELAY_AUTH_WRONG_NODE,
				  WIRE_CLOSE_AUTH_FAILED, "token for another node");
			return WEFT_ERR_CLOSED;
		}
	} else {
		rc = claim_node(cl, c.node_id);
		if (rc < 0) {
			client_close(cl, WIRE_CLOSE_PROTOCOL_ERROR, "no memory");
			return WEFT_ERR_CLOSED;
		}
		limits_bucket_init(&cl->fwd, &r->cfg.forward, now_us);
		limits_bucket_init(&cl->sig, &r->cfg.signal, now_us);
		limits_bucket_init(&cl->gone, &r->cfg.gone, now_us);
	}
	if (!cl->exp) {
		char ep[IP_ENDPOINT_STRLEN] = "?";

		ip_endpoint_format(&cl->remote, ep, sizeof(ep));
		log_info("node_authenticated", "node=%lld remote=%s exp=%lld",
			 (long long)c.node_id, ep, (long long)c.exp);
	}
	cl->exp = c.exp;
	r->st.auth_ok++;
	ok = (struct wire_msg){.type = WIRE_MSG_AUTH_OK,
			       .node = (uint64_t)c.node_id,
			       .time = (uint64_t)(wall > 0 ? wall : 0)};
	arm_expiry(cl, now_us);
	if (send_msg(cl, &ok) < 0)
		return WEFT_ERR_CLOSED;
	return send_qad(cl);
}

static int on_signal(struct relay_client *cl, const struct wire_msg *m,
		     int64_t now_us)
{
	struct relay *r = cl->r;
	struct relay_client *dst;
	struct wire_msg out;

	if (!limits_bucket_take(&cl->sig, &r->cfg.signal, now_us)) {
		r->st.drops[RELAY_DROP_SIGNAL_RATE_LIMITED]++;
		if (++cl->sig_strikes > SIGNAL_STRIKES_MAX) {
			r->st.rate_limited_closes++;
			client_close(cl, WIRE_CLOSE_RATE_LIMITED,
				     "signal rate limit");
			return WEFT_ERR_CLOSED;
		}
		return send_gone_msg(cl, (int64_t)m->node,
				     WIRE_GONE_RATE_LIMITED);
	}
	cl->sig_strikes = 0;
	dst = m->node <= INT64_MAX ? idmap_get(&r->nodes, (int64_t)m->node)
				   : NULL;
	if (!dst) {
		r->st.drops[RELAY_DROP_SIGNAL_NO_DESTINATION]++;
		return send_gone_msg(cl, (int64_t)m->node,
				     gone_reason(r, (int64_t)m->node));
	}
	out = (struct wire_msg){.type = WIRE_MSG_SIGNAL_FROM,
				.node = (uint64_t)cl->node,
				.data = m->data,
				.len = m->len};
	/* A destination whose stream is full is closed by send_msg; the
	 * sender is not affected. */
	if (send_msg(dst, &out) == 0)
		r->st.signals_forwarded++;
	return 0;
}

/* Returns 0 to go on, WEFT_ERR_CLOSED when cl was closed. */
static int handle_msg(struct relay_client *cl, const struct wire_msg *m,
		      int64_t now_us)
{
	struct wire_msg pong;

	if (m->type == WIRE_MSG_AUTH)
		return on_auth(cl, m, now_us);
	if (!cl->authed) {
		auth_fail(cl, RELAY_AUTH_PROTOCOL, WIRE_CLOSE_PROTOCOL_ERROR,
			  "expected AUTH");
		return WEFT_ERR_CLOSED;
	}
	switch (m->type) {
	case WIRE_MSG_SIGNAL:
		return on_signal(cl, m, now_us);
	case WIRE_MSG_PING:
		pong = (struct wire_msg){.type = WIRE_MSG_PONG,
					 .nonce = m->nonce};
		return send_msg(cl, &pong);
	case WIRE_MSG_PONG:
		return 0; /* the relay sends no PING; ignore strays */
	default:
		client_close(cl, WIRE_CLOSE_PROTOCOL_ERROR,
			     "unexpected message");
		return WEFT_ERR_CLOSED;
	}
}

int relay_client_new(struct relay *r, void *conn, void *sock,
		     const struct ip_endpoint *remote, int64_t now_us,
		     struct relay_client **out)
{
	struct relay_client *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return WEFT_ERR_NOMEM;
	if (wire_reader_new(&cl->rd) < 0) {
		free(cl);
		return WEFT_ERR_NOMEM;
	}
	cl->r = r;
	cl->conn = conn;
	cl->sock = sock;
	cl->remote = *remote;
	ip_addr_unmap(&cl->remote.addr);
	cl->next = r->clients;
	if (r->clients)
		r->clients->prev = cl;
	r->clients = cl;
	r->st.clients++;
	r->ops.set_timer(conn, now_us + r->cfg.auth_timeout_us, r->ctx);
	*out = cl;
	return 0;
}

void relay_client_del(struct relay_client *cl)
{
	struct relay *r;

	if (!cl)
		return;
	r = cl->r;
	unlink_client(cl);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		r->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	r->st.clients--;
	client_free(cl);
}

int64_t relay_client_node(const struct relay_client *cl)
{
	return cl->authed ? cl->node : 0;
}

void relay_client_stream(struct relay_client *cl, int64_t stream_id,
			 const uint8_t *p, size_t n, bool fin,
			 int64_t now_us)
{
	struct wire_msg m;
	int rc = 0;

	if (cl->closing)
		return;
	if (stream_id != CTRL_STREAM) {
		cl->r->ops.reset_stream(cl->conn, stream_id, STREAM_RESET_CODE,
					cl->r->ctx);
		return;
	}
	while (n > 0) {
		size_t k = wire_reader_feed(cl->rd, p, n);

		p += k;
		n -= k;
		while ((rc = wire_reader_next(cl->rd, &m)) == 1) {
			if (handle_msg(cl, &m, now_us) < 0)
				return; /* cl may be gone */
		}
		if (rc < 0)
			break;
	}
	if (rc == 0)
		rc = wire_reader_next(cl->rd, &m) < 0 ? -1 : 0;
	if (rc < 0 || (fin && wire_reader_pending(cl->rd) > 0)) {
		if (!cl->authed)
			auth_fail(cl, RELAY_AUTH_PROTOCOL,
				  WIRE_CLOSE_PROTOCOL_ERROR,
				  "malformed control message");
		else
			client_close(cl, WIRE_CLOSE_PROTOCOL_ERROR,
				     "malformed control message");
	}
}

void relay_client_remote(struct relay_client *cl,
			 const struct ip_endpoint *remote, int64_t now_us)
{
	struct relay *r = cl->r;
	struct ip_endpoint e = *remote;
	char a[IP_ENDPOINT_STRLEN] = "?", b[IP_ENDPOINT_STRLEN] = "?";

	ip_addr_unmap(&e.addr);
	if (cl->closing ||
	    (e.port == cl->remote.port && ip_addr_eq(&e.addr, &cl->remote.addr)))
		return;
	ip_endpoint_format(&cl->remote, a, sizeof(a));
	ip_endpoint_format(&e, b, sizeof(b));
	if (cl->authed) {
		if (addrmap_get(&r->addrs, &cl->remote) == cl)
			addrmap_del(&r->addrs, &cl->remote);
		if (addrmap_put(&r->addrs, &e, cl) < 0) {
			cl->remote = e;
			client_close(cl, WIRE_CLOSE_PROTOCOL_ERROR, "no memory");
			return;
		}
	}
	cl->remote = e;
	log_info("client_moved", "node=%lld from=%s to=%s",
		 (long long)cl->node, a, b);
	if (cl->authed)
		send_qad(cl);
}

void relay_client_timeout(struct relay_client *cl, int64_t now_us)
{
	if (cl->closing)
		return;
	if (!cl->authed) {
		auth_fail(cl, RELAY_AUTH_TIMEOUT, WIRE_CLOSE_AUTH_REQUIRED,
			  "no AUTH in time");
		return;
	}
	if (cl->exp <= cl->r->ops.wall_s(cl->r->ctx)) {
		auth_fail(cl, RELAY_AUTH_EXPIRED, WIRE_CLOSE_TOKEN_EXPIRED,
			  "token expired");
		return;
	}
	arm_expiry(cl, now_us);
}

void relay_shutdown(struct relay *r)
{
	struct relay_client *cl, *nx;

	for (cl = r->clients; cl; cl = nx) {
		nx = cl->next;
		client_close(cl, WIRE_CLOSE_SHUTTING_DOWN, "relay shutting down");
	}
}

/* ---- datagrams ---- */

static void send_gone_frame(struct relay_client *src, uint64_t node,
			    uint8_t reason, int64_t now_us)
{
	struct relay *r = src->r;
	struct wire_frame f = {.type = WIRE_PEER_GONE, .node = node,
			       .reason = reason};
	uint8_t buf[16];
	int n;

	if (!limits_bucket_take(&src->gone, &r->cfg.gone, now_us))
		return;
	n = wire_frame_encode(&f, buf, sizeof(buf));
	if (n > 0 && r->ops.send_datagram(src->sock, &src->remote, buf,
					  (size_t)n, r->ctx) == 0)
		r->st.peer_gone_sent++;
}

static void on_stun(struct relay *r, void *sock,
		    const struct ip_endpoint *from, const uint8_t *p, size_t n)
{
	struct stun_request req;
	uint8_t out[STUN_RESPONSE_MAX];
	struct ip_endpoint mapped = *from;
	int len;

	ip_addr_unmap(&mapped.addr);
	if (stun_request_parse(p, n, &req) < 0) {
		r->st.drops[RELAY_DROP_STUN]++;
		return;
	}
	len = stun_response_build(&req, &mapped, out, sizeof(out));
	if (len < 0 ||
	    r->ops.send_datagram(sock, from, out, (size_t)len, r->ctx) < 0) {
		r->st.drops[RELAY_DROP_SEND_FAILED]++;
		return;
	}
	r->st.stun_answered++;
}

static void on_frame(struct relay *r, const struct ip_endpoint *from,
		     const uint8_t *p, size_t n, int64_t now_us)
{
	struct wire_frame f;
	struct relay_client *src, *dst;
	uint8_t out[WIRE_FRAME_MAX];
	uint64_t be;
	int i;

	if (wire_frame_decode(p, n, &f) < 0) {
		r->st.drops[RELAY_DROP_MALFORMED]++;
		return;
	}
	if (f.type != WIRE_RELAY_SEND) {
		r->st.drops[RELAY_DROP_UNEXPECTED]++;
		return;
	}
	/* Only the exact address of an authenticated control connection
	 * may send, and nothing is ever sent back to any other address:
	 * the relay cannot be used to reflect traffic. */
	src = addrmap_get(&r->addrs, from);
	if (!src) {
		r->st.drops[RELAY_DROP_UNKNOWN_SOURCE]++;
		return;
	}
	if (!limits_bucket_take(&src->fwd, &r->cfg.forward, now_us)) {
		r->st.drops[RELAY_DROP_RATE_LIMITED]++;
		send_gone_frame(src, f.node, WIRE_GONE_RATE_LIMITED, now_us);
		return;
	}
	dst = f.node <= INT64_MAX ? idmap_get(&r->nodes, (int64_t)f.node)
				  : NULL;
	if (!dst) {
		r->st.drops[RELAY_DROP_NO_DESTINATION]++;
		send_gone_frame(src, f.node, gone_reason(r, (int64_t)f.node),
				now_us);
		return;
	}
	/* Same size out as in: the type byte and the node id change, the
	 * payload bytes are copied untouched. */
	memcpy(out, p, n);
	out[0] = WIRE_RELAY_RECV;
	be = (uint64_t)src->node;
	for (i = 8; i >= 1; i--, be >>= 8)
		out[i] = (uint8_t)be;
	if (r->ops.send_datagram(dst->sock, &dst->remote, out, n, r->ctx) < 0) {
		r->st.drops[RELAY_DROP_SEND_FAILED]++;
		return;
	}
	r->st.frames_forwarded++;
	r->st.bytes_forwarded += f.payload_len;
}

void relay_datagram(struct relay *r, void *sock,
		    const struct ip_endpoint *from, const uint8_t *p,
		    size_t n, int64_t now_us)
{
	struct ip_endpoint src = *from;

	ip_addr_unmap(&src.addr);
	switch (wire_classify(p, n)) {
	case WIRE_KIND_STUN:
		on_stun(r, sock, &src, p, n);
		break;
	case WIRE_KIND_FRAME:
		on_frame(r, &src, p, n, now_us);
		break;
	default:
		r->st.drops[RELAY_DROP_OTHER]++;
		break;
	}
}
