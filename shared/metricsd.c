/* The /metrics + /healthz server; see metricsd.h. */
#include "shared/metricsd.h"

#include "shared/err.h"
#include "shared/loop.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define METRICSD_MAX (256 * 1024)

struct metricsd {
	struct loop *loop;
	struct MHD_Daemon *d;
	struct loop_io *io;
	struct loop_timer *timer;
	metricsd_fill_fn *fill;
	void *ctx;
	uint16_t port;
};

int metricsd_family(struct buf *b, const char *name, const char *type,
		    const char *help)
{
	return buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
			   type);
}

int metricsd_sample(struct buf *b, const char *name, uint64_t v)
{
	return buf_appendf(b, "%s %llu\n", name, (unsigned long long)v);
}

int metricsd_labelled(struct buf *b, const char *name, const char *label,
		      const char *value, uint64_t v)
{
	int r = buf_appendf(b, "%s{%s=\"", name, label);
	const char *p;

	for (p = value; r == 0 && *p; p++) {
		if (*p == '\\' || *p == '"')
			r = buf_appendf(b, "\\%c", *p);
		else if (*p == '\n')
			r = buf_appendf(b, "\\n");
		else
			r = buf_appendf(b, "%c", *p);
	}
	if (r == 0)
		r = buf_appendf(b, "\"} %llu\n", (unsigned long long)v);
	return r;
}

int metricsd_one(struct buf *b, const char *name, const char *type,
		 const char *help, uint64_t v)
{
	int r = metricsd_family(b, name, type, help);

	return r < 0 ? r : metricsd_sample(b, name, v);
}

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
	struct metricsd *m = cls;
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
	buf_init(&b, METRICSD_MAX);
	if (m->fill(&b, m->ctx) < 0)
		ret = reply(conn, 500, text, "metrics failed\n", 15);
	else
		ret = reply(conn, 200, prom, b.data ? b.data : (uint8_t *)"",
			    b.len);
	buf_free(&b);
	return ret;
}

static void rearm(struct metricsd *m)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(m->d, &ms) == MHD_YES)
		loop_timer_start(m->timer, (int64_t)ms * 1000);
	else
		loop_timer_stop(m->timer);
}

static void on_io(struct loop_io *io, int fd, uint32_t revents, void *ctx)
{
	struct metricsd *m = ctx;

	MHD_run(m->d);
	rearm(m);
}

static void on_timer(struct loop_timer *t, void *ctx)
{
	struct metricsd *m = ctx;

	MHD_run(m->d);
	rearm(m);
}

int metricsd_new(struct loop *l, const struct ip_endpoint *listen,
		 metricsd_fill_fn *fill, void *ctx, struct metricsd **out)
{
	struct metricsd *m;
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
		metricsd_del(m);
	return r;
}

void metricsd_del(struct metricsd *m)
{
	if (!m)
		return;
	loop_io_close(m->io, false);
	loop_timer_del(m->timer);
	if (m->d)
		MHD_stop_daemon(m->d);
	free(m);
}

uint16_t metricsd_port(const struct metricsd *m)
{
	return m->port;
}
