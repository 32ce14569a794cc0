/* Stream mode's opening side: a local TCP connection (a forward's or a
 * proxy's) waits for its peer's connection, opens the stream with its
 * header, and waits for the peer's open reply, told to the hook. */
#include "agent/streams_internal.h"

#include "agent/streamcount.h"
#include "agent/streamhdr.h"
#include "agent/tunnel.h"
#include "shared/idmap.h"
#include "shared/loop.h"
#include "shared/quic.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_TICK_US 20000

/* The peer's open reply (b: its first stream byte), stripped from the
 * stream. Returns false when sp was freed (a bad reply). */
bool splice_reply_input(struct splice *sp, uint8_t b)
{
	struct streams *s = sp->s;
	streams_reply_fn fn = sp->on_reply;

	if (sp->c && !sp->quic_done)
		quic_conn_stream_consume(sp->c, sp->sid, 1);
	if (b != STREAMHDR_REPLY_OK) {
		splice_count_failed(sp);
		return !splice_abort(sp, STREAM_ERR_BAD_HEADER);
	}
	sp->awaiting = false;
	s->nwaiting--;
	sp->on_reply = NULL;
	if (fn)
		fn(sp->fd, STREAMS_REPLY_OK, sp->reply_ctx);
	return true;
}

/* Opens the stream if the peer's connection is up. Returns whether sp
 * left S_WAIT_CONN (opened, or failed and freed). */
static bool try_open(struct splice *sp)
{
	struct streams *s = sp->s;
	struct streamhdr h;
	uint8_t buf[STREAMHDR_MAX];
	struct quic_conn *c = tunnels_stream_conn(s->t, sp->peer);
	int n;

	if (!c || quic_conn_stream_open(c, &sp->sid) < 0) {
		sp->sid = -1;
		return false;
	}
	sp->st = S_OPEN;
	sp->c = c;
	memset(&h, 0, sizeof(h));
	memcpy(h.host, sp->host, sizeof(h.host));
	h.port = sp->port;
	n = streamhdr_encode(&h, buf, sizeof(buf));
	if (idmap_put(&streams_speer(s, sp->peer, false)->bysid, sp->sid + 1,
		      sp) < 0) {
		/* Unknown to on_closed: do not wait for it. */
		quic_conn_stream_shutdown(c, sp->sid, STREAM_ERR_GONE);
		sp->sid = -1;
	}
	if (sp->sid < 0 || n < 0 ||
	    quic_conn_stream_send(c, sp->sid, buf, (size_t)n, false) != n) {
		splice_count_failed(sp);
		splice_abort(sp, STREAM_ERR_GONE);
		return true;
	}
	quic_conn_stream_hold(c, sp->sid);
	/* The reply may wait for the far side's dial (a connector resolving
	 * a name and connecting to the resource). */
	sp->deadline_us = loop_now_us(s->loop) +
			  (int64_t)STREAMS_REPLY_MS * 1000;
	s->st.opened++;
	splice_count_open(sp);
	splice_io_update(sp);
	return true;
}

/* A connection that never got its stream: reset and counted. */
static void wait_fail(struct splice *sp)
{
	if (!sp->reply_code)
		sp->reply_code = STREAMS_REPLY_TIMEOUT;
	splice_count_failed(sp);
	sp->quic_done = true;
	splice_tcp_close(sp, true);
	splice_free(sp);
}

void streams_wait_tick(struct loop_timer *tm, void *ctx)
{
	struct streams *s = ctx;
	int64_t now = loop_now_us(s->loop);
	struct splice *sp, *next;

	streams_enter(s);
	for (sp = s->all; sp; sp = next) {
		next = sp->next;
		if (!sp->awaiting || (sp->st == S_WAIT_CONN && try_open(sp)) ||
		    now < sp->deadline_us)
			continue;
		if (sp->st == S_WAIT_CONN) {
			wait_fail(sp);
			continue;
		}
		/* Opened, but the peer did not answer in time. */
		sp->reply_code = STREAMS_REPLY_TIMEOUT;
		splice_count_failed(sp);
		splice_abort(sp, STREAM_ERR_GONE);
	}
	streams_leave(s);
	if (s->nwaiting)
		loop_timer_start(tm, WAIT_TICK_US);
}

/* No splice for fd: refused (over a limit: code STREAM_ERR_LIMIT) or
 * failed, told to the hook or answered with a TCP reset. */
static void open_refused(int fd, int code, streams_reply_fn fn, void *ctx)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (fn) {
		fn(fd, code, ctx);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

void streams_open_reply(struct streams *s, int fd, int64_t peer,
			const char *host, uint16_t port,
			struct streamcount *counts, streams_reply_fn fn,
			void *ctx)
{
	uint64_t limited = s->st.refused_peer_limit +
			   s->st.refused_total_limit;
	struct splice *sp = peer > 0 ? splice_new(s, peer, fd) : NULL;

	if (!sp) {
		if (peer <= 0)
			s->st.failed++;
		if (counts)
			counts->failed++;
		open_refused(fd,
			     peer <= 0 ? STREAM_ERR_TARGET
			     : limited != s->st.refused_peer_limit +
						  s->st.refused_total_limit
				     ? STREAM_ERR_LIMIT
				     : STREAMS_REPLY_FAILED,
			     fn, ctx);
		return;
	}
	if (counts) {
		sp->counts = counts;
		counts->refs++;
		counts->active++;
	}
	splice_keepalive(fd);
	snprintf(sp->host, sizeof(sp->host), "%s", host);
	sp->port = port;
	sp->st = S_WAIT_CONN;
	sp->deadline_us = loop_now_us(s->loop) +
			  (int64_t)STREAMS_CONNECT_MS * 1000;
	sp->awaiting = true;
	sp->on_reply = fn;
	sp->reply_ctx = ctx;
	s->nwaiting++;
	if (splice_watch(sp) < 0) {
		sp->reply_code = STREAMS_REPLY_FAILED;
		wait_fail(sp);
		return;
	}
	streams_enter(s);
	try_open(sp);
	/* The tick tries again, and times the reply out. */
	if (!loop_timer_active(s->wait_tm))
		loop_timer_start(s->wait_tm, WAIT_TICK_US);
	streams_leave(s);
}

void streams_open(struct streams *s, int fd, int64_t peer, const char *host,
		  uint16_t port, struct streamcount *counts)
{
	streams_open_reply(s, fd, peer, host, port, counts, NULL, NULL);
}
