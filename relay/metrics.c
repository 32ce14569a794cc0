/* Relay metrics text and the /metrics + /healthz server; see metrics.h. */
#include "relay/metrics.h"

#include "shared/err.h"
#include "shared/loop.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX (64 * 1024)

struct metrics_server {
	struct loop *loop;
	struct MHD_Daemon *d;
	struct loop_io *io;
	struct loop_timer *timer;
	metrics_fill_fn *fill;
	void *ctx;
	uint16_t port;
};

static int family(struct buf *b, const char *name, const char *type,
		  const char *help)
{
	return buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
			   type);
}

static int sample(struct buf *b, const char *name, uint64_t v)
{
	return buf_appendf(b, "%s %llu\n", name, (unsigned long long)v);
}

static int labelled(struct buf *b, const char *name, const char *label,
		    const char *value, uint64_t v)
{
	return buf_appendf(b, "%s{%s=\"%s\"} %llu\n", name, label, value,
			   (unsigned long long)v);
}

/* One counter or gauge family with a single unlabelled sample. */
static int one(struct buf *b, const char *name, const char *type,
	       const char *help, uint64_t v)
{
	int r = family(b, name, type, help);

	return r < 0 ? r : sample(b, name, v);
}

int metrics_render(const struct relay_stats *s, const struct metrics_engine *e,
		   struct buf *out)
{
	int r = 0;
	unsigned i;

#define TRY(x)                                                               \
	do {                                                                 \
		if ((r = (x)) < 0)                                           \
			return r;                                            \
	} while (0)
	TRY(one(out, "weft_relay_connections", "gauge",
		"Control connections open now.", s->clients));
	TRY(one(out, "weft_relay_nodes", "gauge",
		"Authenticated nodes connected now.", s->nodes));
	TRY(one(out, "weft_relay_max_connections", "gauge",
		"Configured connection limit.", e->max_conns));
	TRY(one(out, "weft_relay_handshakes_total", "counter",
		"QUIC handshakes completed.", e->handshakes));
	TRY(one(out, "weft_relay_auth_ok_total", "counter",
		"Successful AUTH messages (first and refresh).", s->auth_ok));
	TRY(family(out, "weft_relay_auth_failures_total", "counter",
		   "Connections closed for failed authentication, by reason."));
	for (i = 0; i < RELAY_AUTH_NREASONS; i++)
		TRY(labelled(out, "weft_relay_auth_failures_total", "reason",
			     relay_auth_fail_name(i), s->auth_failed[i]));
	TRY(one(out, "weft_relay_replaced_total", "counter",
		"Connections replaced by a newer one of the same node.",
		s->replaced));
	TRY(one(out, "weft_relay_frames_forwarded_total", "counter",
		"Relay frames forwarded.", s->frames_forwarded));
	TRY(one(out, "weft_relay_bytes_forwarded_total", "counter",
		"Payload bytes of forwarded relay frames.", s->bytes_forwarded));
	TRY(family(out, "weft_relay_drops_total", "counter",
		   "Datagrams and messages dropped, by reason."));
	for (i = 0; i < RELAY_DROP_NREASONS; i++)
		TRY(labelled(out, "weft_relay_drops_total", "reason",
			     relay_drop_name(i), s->drops[i]));
	TRY(one(out, "weft_relay_peer_gone_sent_total", "counter",
		"PEER_GONE notices sent.", s->peer_gone_sent));
	TRY(one(out, "weft_relay_qad_sent_total", "counter",
		"QAD messages sent.", s->qad_sent));
	TRY(one(out, "weft_relay_stun_answered_total", "counter",
		"STUN Binding requests answered.", s->stun_answered));
	TRY(one(out, "weft_relay_signals_forwarded_total", "counter",
		"SIGNAL messages delivered.", s->signals_forwarded));
	TRY(one(out, "weft_relay_rate_limited_closes_total", "counter",
		"Connections closed with RATE_LIMITED.",
		s->rate_limited_closes));
	TRY(one(out, "weft_relay_retry_sent_total", "counter",
		"Retry packets sent (address validation tokens issued).",
		e->retry_sent));
	TRY(one(out, "weft_relay_retry_failed_total", "counter",
		"Initial packets whose Retry token did not verify.",
		e->retry_failed));
	TRY(one(out, "weft_relay_retry_active", "gauge",
		"1 while the relay demands address validation with Retry.",
		e->retry_on ? 1 : 0));
#undef TRY
	return r;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     const char *ctype, const void *body, size_t len)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;

	mr = MHD_create_response_from_buffer(len, (void *)body,
					     MHD_RESPMEM_MUST_COPY);
	if (!mr)
		return MHD_NO;
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(mr, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_len, void **req_ctx)
{
	struct metrics_server *m = cls;
	struct buf b;
	enum MHD_Result ret;
	static const char text[] = "text/plain; charset=utf-8";
	static const char prom[] = "text/plain; version=0.0.4; charset=utf-8";

	if (*upload_len)
		return MHD_NO; /* no bodies here */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, 405, text, "method not allowed\n", 19);
	if (strcmp(url, "/healthz") == 0)
		return reply(conn, 200, text, "ok\n", 3);
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, 404, text, "not found\n", 10);
	buf_init(&b, METRICS_MAX);
	if (m->fill(&b, m->ctx) < 0)
		ret = reply(conn, 500, text, "metrics failed\n", 15);
	else
		ret = reply(conn, 200, prom, b.data ? b.data : (uint8_t *)"",
			    b.len);
	buf_free(&b);
	return ret;
}

static void rearm(struct metrics_server *m)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(m->d, &ms) == MHD_YES)
		loop_timer_start(m->timer, (int64_t)ms * 1000);
	else
		loop_timer_stop(m->timer);
}

static void on_io(struct loop_io *io, int fd, uint32_t revents, void *ctx)
{
	struct metrics_server *m = ctx;

	MHD_run(m->d);
	rearm(m);
}

static void on_timer(struct loop_timer *t, void *ctx)
{
	struct metrics_server *m = ctx;

	MHD_run(m->d);
	rearm(m);
}

int metrics_server_new(struct loop *l, const struct ip_endpoint *listen,
		       metrics_fill_fn *fill, void *ctx,
		       struct metrics_server **out)
{
	struct metrics_server *m;
	struct sockaddr_storage ss;
	socklen_t sslen;
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_EPOLL;
	int r;

	if (!fill || ip_endpoint_to_sockaddr(listen, &ss, &sslen) < 0)
		return WEFT_ERR_INVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return WEFT_ERR_NOMEM;
	m->loop = l;
	m->fill = fill;
	m->ctx = ctx;
	if (listen->addr.family == 6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	m->d = MHD_start_daemon(
		flags, listen->port, NULL, NULL, on_request, m,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
		MHD_OPTION_END);
	if (!m->d) {
		r = errno ? -errno : WEFT_ERR_INVAL;
		goto out;
	}
	di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
	m->port = di ? di->port : listen->port;
	di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di) {
		r = WEFT_ERR_INVAL;
		goto out;
	}
	r = loop_timer_new(l, on_timer, m, &m->timer);
	if (r < 0)
		goto out;
	r = loop_io_add(l, di->epoll_fd, LOOP_READ, on_io, m, &m->io);
	if (r < 0)
		goto out;
	rearm(m);
	*out = m;
out:
	if (r < 0)
		metrics_server_del(m);
	return r;
}

void metrics_server_del(struct metrics_server *m)
{
	if (!m)
		return;
	loop_io_close(m->io, false);
	loop_timer_del(m->timer);
	if (m->d)
		MHD_stop_daemon(m->d);
	free(m);
}

uint16_t metrics_server_port(const struct metrics_server *m)
{
	return m->port;
}
