/* The /metrics + /healthz server; see metricsd.h. */
#include "shared/metricsd.h"

#include "shared/err.h"
#include "shared/loop.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define METRICSD_MAX (256 * 1024)
#define READY_MAX_CHECKS 16
/* libmicrohttpd's own limit is higher than ours: an evicted connection
 * keeps its MHD slot until the next MHD_run reaps it, and a new client
 * must not be refused for that. */
#define MHD_CONNS (METRICSD_MAX_CONNS * 2)
/* Backstop for connections that stall while their answer is written. */
#define IDLE_TIMEOUT_S 10
#define BACKLOG 128
/* Accepts per wake-up, so a connect flood cannot starve the program's
 * loop; the listen socket is level-triggered, the rest comes next turn. */
#define ACCEPT_BATCH 32
/* How long accepting pauses when the process is out of descriptors. */
#define ACCEPT_PAUSE_US 100000

/* One TCP connection MHD serves. While it waits for a request head it
 * sits in the pending list, which is ordered by deadline because every
 * deadline is "now + the same timeout" when it is set. */
struct mconn {
	struct metricsd *m;
	int fd;
	bool pending, evicted;
	int64_t deadline_us;
	struct mconn *prev, *next;
};

struct metricsd {
	struct loop *loop;
	struct MHD_Daemon *d;
	struct loop_io *io;        /* MHD's epoll fd */
	struct loop_io *lio;       /* our listen socket */
	struct loop_timer *timer;  /* MHD's timeouts */
	struct loop_timer *expire; /* head deadlines, accept pauses */
	int lfd;
	metricsd_fill_fn *fill;
	void *ctx;
	metricsd_ready_fn *ready;
	void *ready_ctx;
	unsigned live;  /* connections MHD serves that are not evicted */
	unsigned total; /* all connections MHD holds */
	bool accept_paused;
	struct mconn *head, *tail; /* pending, oldest first */
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

static void pending_unlink(struct metricsd *m, struct mconn *c)
{
	if (!c->pending)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		m->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		m->tail = c->prev;
	c->prev = c->next = NULL;
	c->pending = false;
}

static void pending_append(struct metricsd *m, struct mconn *c)
{
	pending_unlink(m, c);
	c->deadline_us = loop_now_us(m->loop) +
			 (int64_t)METRICSD_HEAD_TIMEOUT_MS * 1000;
	c->prev = m->tail;
	if (m->tail)
		m->tail->next = c;
	else
		m->head = c;
	m->tail = c;
	c->pending = true;
}

/* Ends c without closing its descriptor, which MHD owns: after shutdown
 * the socket reports end of file and MHD closes the connection in its
 * next run. */
static void evict(struct metricsd *m, struct mconn *c)
{
	pending_unlink(m, c);
	if (c->evicted)
		return;
	c->evicted = true;
	m->live--;
	shutdown(c->fd, SHUT_RDWR);
}

static void rearm_expire(struct metricsd *m)
{
	int64_t now = loop_now_us(m->loop);

	if (m->accept_paused)
		loop_timer_start(m->expire, ACCEPT_PAUSE_US);
	else if (m->head)
		loop_timer_start(m->expire, m->head->deadline_us - now);
	else
		loop_timer_stop(m->expire);
}

static void on_notify(void *cls, struct MHD_Connection *conn, void **sctx,
		      enum MHD_ConnectionNotificationCode toe)
{
	struct metricsd *m = cls;
	struct mconn *c = *sctx;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn,
					     MHD_CONNECTION_INFO_CONNECTION_FD);
		c = calloc(1, sizeof(*c));
		m->total++;
		m->live++;
		if (!c || !ci) {
			/* Without a record the connection cannot be timed
			 * out; MHD's idle timeout still ends it. */
			free(c);
			return;
		}
		c->m = m;
		c->fd = ci->connect_fd;
		pending_append(m, c);
		*sctx = c;
		return;
	}
	m->total--;
	if (!c) {
		m->live--;
		return;
	}
	if (!c->evicted)
		m->live--;
	pending_unlink(m, c);
	free(c);
	*sctx = NULL;
}

static struct mconn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* A request is done: a keep-alive connection waits for its next head
 * under the same deadline as a new one. */
static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **req_ctx, enum MHD_RequestTerminationCode toe)
{
	struct metricsd *m = cls;
	struct mconn *c = conn_of(conn);

	if (c && !c->evicted && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		pending_append(m, c);
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

static enum MHD_Result reply_ready(struct metricsd *m,
				   struct MHD_Connection *conn)
{
	struct metricsd_check ck[READY_MAX_CHECKS];
	json_t *o = json_object(), *checks = json_object(),
	       *missing = json_array();
	enum MHD_Result ret = MHD_NO;
	size_t i, n = m->ready(ck, READY_MAX_CHECKS, m->ready_ctx);
	char *text = NULL;

	if (!o || !checks || !missing)
		goto out;
	for (i = 0; i < n && i < READY_MAX_CHECKS; i++) {
		json_object_set_new(checks, ck[i].name,
				    json_string(ck[i].ok ? "ok" : "missing"));
		if (!ck[i].ok)
			json_array_append_new(missing, json_string(ck[i].name));
	}
	json_object_set_new(o, "status", json_string(json_array_size(missing)
							     ? "not_ready"
							     : "ready"));
	if (json_array_size(missing))
		json_object_set(o, "missing", missing);
	json_object_set(o, "checks", checks);
	text = json_dumps(o, JSON_COMPACT);
	if (text)
		ret = reply(conn, json_array_size(missing) ? 503 : 200,
			    "application/json", text, strlen(text));
out:
	free(text);
	json_decref(o);
	json_decref(checks);
	json_decref(missing);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_len, void **req_ctx)
{
	struct metricsd *m = cls;
	struct mconn *c = conn_of(conn);
	struct buf b;
	enum MHD_Result ret;
	static const char text[] = "text/plain; charset=utf-8";
	static const char prom[] = "text/plain; version=0.0.4; charset=utf-8";

	/* The head is complete: no deadline while it is answered. */
	if (c)
		pending_unlink(m, c);
	if (*upload_len)
		return MHD_NO; /* no bodies here */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, 405, text, "method not allowed\n", 19);
	if (strcmp(url, "/healthz") == 0)
		return reply(conn, 200, text, "ok\n", 3);
	if (strcmp(url, "/readyz") == 0 && m->ready)
		return reply_ready(m, conn);
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

/* Runs MHD and re-arms both timers. */
static void run(struct metricsd *m)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(m->d);
	if (MHD_get_timeout(m->d, &ms) == MHD_YES)
		loop_timer_start(m->timer, (int64_t)ms * 1000);
	else
		loop_timer_stop(m->timer);
	rearm_expire(m);
}

static void on_io(struct loop_io *io, int fd, uint32_t revents, void *ctx)
{
	run(ctx);
}

static void on_timer(struct loop_timer *t, void *ctx)
{
	run(ctx);
}

static void on_expire(struct loop_timer *t, void *ctx)
{
	struct metricsd *m = ctx;
	int64_t now = loop_now_us(m->loop);

	while (m->head && m->head->deadline_us <= now)
		evict(m, m->head);
	if (m->accept_paused && loop_io_set(m->lio, LOOP_READ) == 0)
		m->accept_paused = false;
	run(m);
}

/* Answers a client that finds every slot busy with a request in
 * progress, best effort and without blocking, and closes it. */
static void refuse(int fd)
{
	static const char busy[] =
		"HTTP/1.1 503 Service Unavailable\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Length: 5\r\nConnection: close\r\n\r\nbusy\n";
	ssize_t k = send(fd, busy, sizeof(busy) - 1,
			 MSG_DONTWAIT | MSG_NOSIGNAL);

	(void)k;
	close(fd);
}

static void on_accept(struct loop_io *io, int lfd, uint32_t revents,
		      void *ctx)
{
	struct metricsd *m = ctx;
	struct sockaddr_storage ss;
	socklen_t len;
	int i, fd;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: without a pause this
				 * would spin until a descriptor frees. */
				if (loop_io_set(m->lio, 0) == 0)
					m->accept_paused = true;
			}
			break;
		}
		if (m->live >= METRICSD_MAX_CONNS && m->head)
			evict(m, m->head);
		if (m->live >= METRICSD_MAX_CONNS || m->total >= MHD_CONNS) {
			refuse(fd);
			continue;
		}
		/* MHD closes fd itself when it cannot take it. */
		MHD_add_connection(m->d, fd, (struct sockaddr *)&ss, len);
	}
	run(m);
}

/* Opens the listen socket. Returns 0 or -errno. */
static int listen_on(struct metricsd *m, const struct sockaddr_storage *ss,
		     socklen_t sslen)
{
	struct sockaddr_storage got;
	socklen_t glen = sizeof(got);
	int one = 1, fd;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)ss, sslen) < 0 ||
	    listen(fd, BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &glen) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	m->port = ntohs(got.ss_family == AF_INET6
				? ((struct sockaddr_in6 *)&got)->sin6_port
				: ((struct sockaddr_in *)&got)->sin_port);
	m->lfd = fd;
	return 0;
}

int metricsd_new(struct loop *l, const struct ip_endpoint *listen,
		 metricsd_fill_fn *fill, void *ctx, struct metricsd **out)
{
	struct metricsd *m;
	struct sockaddr_storage ss;
	socklen_t sslen;
	const union MHD_DaemonInfo *di;
	int r;

	if (!fill || ip_endpoint_to_sockaddr(listen, &ss, &sslen) < 0)
		return WEFT_ERR_INVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return WEFT_ERR_NOMEM;
	m->loop = l;
	m->fill = fill;
	m->ctx = ctx;
	m->lfd = -1;
	r = listen_on(m, &ss, sslen);
	if (r < 0)
		goto out;
	m->d = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL,
		on_request, m, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MHD_CONNS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
		MHD_OPTION_NOTIFY_CONNECTION, on_notify, m,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, m, MHD_OPTION_END);
	if (!m->d) {
		r = WEFT_ERR_NOMEM;
		goto out;
	}
	di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di) {
		r = WEFT_ERR_INVAL;
		goto out;
	}
	r = loop_timer_new(l, on_timer, m, &m->timer);
	if (r == 0)
		r = loop_timer_new(l, on_expire, m, &m->expire);
	if (r == 0)
		r = loop_io_add(l, di->epoll_fd, LOOP_READ, on_io, m, &m->io);
	if (r == 0)
		r = loop_io_add(l, m->lfd, LOOP_READ, on_accept, m, &m->lio);
	if (r < 0)
		goto out;
	run(m);
	*out = m;
out:
	if (r < 0)
		metricsd_del(m);
	return r;
}

void metricsd_set_ready(struct metricsd *m, metricsd_ready_fn *fn, void *ctx)
{
	m->ready = fn;
	m->ready_ctx = ctx;
}

void metricsd_del(struct metricsd *m)
{
	if (!m)
		return;
	loop_io_close(m->lio, false);
	loop_io_close(m->io, false);
	loop_timer_del(m->timer);
	loop_timer_del(m->expire);
	/* Closes every connection; on_notify frees their records. */
	if (m->d)
		MHD_stop_daemon(m->d);
	if (m->lfd >= 0)
		close(m->lfd);
	free(m);
}

uint16_t metricsd_port(const struct metricsd *m)
{
	return m->port;
}
