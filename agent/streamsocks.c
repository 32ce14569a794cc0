/* Stream mode's SOCKS5 and HTTP CONNECT proxies: see streamsocks.h. */
#include "agent/streamsocks.h"

#include "agent/httpconnect.h"
#include "agent/listenpause.h"
#include "agent/socks5.h"
#include "agent/streamfwd.h"
#include "agent/streamreply.h"
#include "agent/streams.h"
#include "agent/streamtarget.h"
#include "shared/err.h"
#include "shared/loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct hs {
	struct streamsocks *ss;
	struct hs *prev, *next;
	struct loop_io *io;
	int fd;
	bool greeted;
	int64_t deadline_us;
	uint8_t buf[HTTPCONNECT_HEAD_MAX]; /* more than any SOCKS5 message */
	size_t len;
};

struct streamsocks {
	struct loop *loop;
	struct streams *s;
	const struct map *m;
	const struct resclient *res;
	struct loop_io *lio;
	struct listenpause *pause;
	struct loop_timer *tm;
	struct hs *all;
	bool http;
	uint64_t refused;
};

static void hs_free(struct hs *h, bool close_fd)
{
	struct streamsocks *ss = h->ss;

	if (h->prev)
		h->prev->next = h->next;
	else
		ss->all = h->next;
	if (h->next)
		h->next->prev = h->prev;
	loop_io_close(h->io, close_fd);
	free(h);
}

/* Sends a reply (best effort: the socket is new, its buffer empty):
 * SOCKS5's reply code, or the HTTP status. */
static void reply(int fd, bool http, int code)
{
	uint8_t r[SOCKS5_REPLY_LEN];
	char hr[HTTPCONNECT_REPLY_MAX];

	if (http) {
		(void)!send(fd, hr, httpconnect_reply(code, hr), MSG_NOSIGNAL);
		return;
	}
	socks5_reply((uint8_t)code, r);
	(void)!send(fd, r, sizeof(r), MSG_NOSIGNAL);
}

/* Answers with code and shuts our side: our FIN goes first and what the
 * client sent so far is read (up to 64 KiB), so a close with unread
 * bytes does not reset the connection before the client reads the
 * answer. The caller closes fd. */
static void answer_refusal(int fd, bool http, int code)
{
	uint8_t drain[4096];

	reply(fd, http, code);
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 16 && recv(fd, drain, sizeof(drain), 0) > 0; i++)
		;
}

static void refuse(struct hs *h, int code)
{
	h->ss->refused++;
	if (h->greeted || h->ss->http)
		answer_refusal(h->fd, h->ss->http, code);
	hs_free(h, true);
}

/* The stream's outcome (streams.h's open reply) answered to the client:
 * success keeps the connection (the stream's now), a refusal closes it.
 * ctx is unused: the hooks may outlive their proxy (streams_del). */
static void on_reply(int fd, int code, bool http)
{
	int ans = http ? streamreply_http(code) : streamreply_socks5(code);

	if (code == STREAMS_REPLY_OK) {
		reply(fd, http, ans);
		return;
	}
	answer_refusal(fd, http, ans);
	close(fd);
}

static void on_reply_socks5(int fd, int code, void *ctx)
{
	(void)ctx;
	on_reply(fd, code, false);
}

static void on_reply_http(int fd, int code, void *ctx)
{
	(void)ctx;
	on_reply(fd, code, true);
}

/* Hands the connection to a stream to name:port (a node or a resource,
 * found by the agent in its map); the client's answer waits for the
 * peer's open reply. An unknown name, a resource without a connector or
 * a port its filters refuse is refused at once (and counted with the
 * streams, streams_refuse). */
static void hand_over(struct hs *h, const char *name, uint16_t port)
{
	struct streamsocks *ss = h->ss;
	struct streamtarget t;
	int fd = h->fd;
	int rc = streamtarget_find(ss->m, ss->res, name, port, &t);

	if (rc < 0) {
		streams_refuse(ss->s, -1, rc);
		if (rc == WEFT_ERR_FORBIDDEN)
			refuse(h, ss->http ? 403 : SOCKS5_NOT_ALLOWED);
		else
			refuse(h, ss->http ? 502 : SOCKS5_HOST_UNREACHABLE);
		return;
	}
	hs_free(h, false);
	streams_open_reply(ss->s, fd, t.peer, t.host, port, NULL,
			   ss->http ? on_reply_http : on_reply_socks5, NULL);
}

/* The HTTP request head so far; returns false once h is gone. Bytes
 * after the head (the client did not wait for the reply) are refused. */
static bool step_http(struct hs *h)
{
	struct httpconnect_req req;
	int n = httpconnect_parse(h->buf, h->len, &req);

	if (n == 0)
		return true;
	if (n < 0 || (size_t)n != h->len)
		refuse(h, n < 0 ? req.status : 400);
	else
		hand_over(h, req.host, req.port);
	return false;
}

/* What the buffer holds so far; returns false once h is gone. */
static bool step(struct hs *h)
{
	struct socks5_req req;
	bool noauth;
	int n;

	if (h->ss->http)
		return step_http(h);
	if (!h->greeted) {
		n = socks5_greeting(h->buf, h->len, &noauth);
		if (n == 0)
			return true;
		if (n < 0 || !noauth) {
			static const uint8_t none[2] = {5, 0xff};

			if (n > 0)
				(void)!send(h->fd, none, 2, MSG_NOSIGNAL);
			refuse(h, SOCKS5_FAILURE);
			return false;
		}
		(void)!send(h->fd, "\x05\x00", 2, MSG_NOSIGNAL);
		h->greeted = true;
		memmove(h->buf, h->buf + n, h->len - (size_t)n);
		h->len -= (size_t)n;
	}
	n = socks5_request(h->buf, h->len, &req);
	if (n == 0)
		return true;
	/* Bytes after the request: the client did not wait for the reply. */
	if (n < 0 || (size_t)n != h->len)
		refuse(h, n < 0 ? req.rep : SOCKS5_FAILURE);
	else
		hand_over(h, req.host, req.port);
	return false;
}

static void on_readable(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct hs *h = ctx;
	ssize_t r;

	(void)io;
	(void)ev;
	for (;;) {
		if (h->len == sizeof(h->buf)) {
			refuse(h, h->ss->http ? 431 : SOCKS5_FAILURE);
			return;
		}
		r = recv(fd, h->buf + h->len, sizeof(h->buf) - h->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			h->ss->refused++;
			hs_free(h, true);
			return;
		}
		h->len += (size_t)r;
		if (!step(h))
			return;
	}
}

/* Handshakes past their deadline are closed. */
static void on_timer(struct loop_timer *tm, void *ctx)
{
	struct streamsocks *ss = ctx;
	int64_t now = loop_now_us(ss->loop);
	struct hs *h, *next;

	for (h = ss->all; h; h = next) {
		next = h->next;
		if (now >= h->deadline_us)
			refuse(h, ss->http ? 408 : SOCKS5_FAILURE);
	}
	if (ss->all)
		loop_timer_start(tm, 1000000);
}

static void on_accept(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct streamsocks *ss = ctx;
	struct hs *h;
	int c;

	(void)io;
	(void)fd;
	(void)ev;
	while ((c = listenpause_accept(ss->pause)) >= 0) {
		h = calloc(1, sizeof(*h));
		if (!h || loop_io_add(ss->loop, c, LOOP_READ, on_readable, h,
				      &h->io) < 0) {
			free(h);
			close(c);
			continue;
		}
		h->ss = ss;
		h->fd = c;
		h->deadline_us = loop_now_us(ss->loop) +
				 (int64_t)SOCKS5_HANDSHAKE_MS * 1000;
		h->next = ss->all;
		if (ss->all)
			ss->all->prev = h;
		ss->all = h;
		if (!loop_timer_active(ss->tm))
			loop_timer_start(ss->tm, 1000000);
	}
}

int streamsocks_new(struct loop *l, struct streams *s, const struct map *m,
		    const struct resclient *res,
		    const struct ip_endpoint *addr, bool http,
		    struct streamsocks **out)
{
	struct streamsocks *ss = calloc(1, sizeof(*ss));
	char what[IP_ENDPOINT_STRLEN];
	int fd, rc;

	if (!ss)
		return WEFT_ERR_NOMEM;
	ss->loop = l;
	ss->s = s;
	ss->m = m;
	ss->res = res;
	ss->http = http;
	fd = streamfwd_listen(addr);
	if (fd < 0) {
		free(ss);
		return fd;
	}
	rc = loop_timer_new(l, on_timer, ss, &ss->tm);
	if (rc == 0)
		rc = loop_io_add(l, fd, LOOP_READ, on_accept, ss, &ss->lio);
	if (rc < 0)
		close(fd);
	if (rc == 0) {
		ip_endpoint_format(addr, what, sizeof(what));
		rc = listenpause_new(l, ss->lio, fd, what, &ss->pause);
	}
	if (rc < 0) {
		loop_io_close(ss->lio, true);
		loop_timer_del(ss->tm);
		free(ss);
		return rc;
	}
	*out = ss;
	return 0;
}

void streamsocks_del(struct streamsocks *ss)
{
	if (!ss)
		return;
	while (ss->all)
		hs_free(ss->all, true);
	loop_io_close(ss->lio, true);
	listenpause_del(ss->pause);
	loop_timer_del(ss->tm);
	free(ss);
}

uint64_t streamsocks_pauses(const struct streamsocks *ss)
{
	return ss ? listenpause_count(ss->pause) : 0;
}

uint64_t streamsocks_refused(const struct streamsocks *ss)
{
	return ss ? ss->refused : 0;
}
