/* Stream mode: see streams.h. One struct splice per TCP connection and
 * QUIC stream; a splice lives from the stream's opening until QUIC
 * reports it closed (or its connection ends) and its TCP socket is done,
 * so a stream id is never reused while we still know it.
 *
 * This file: the splice core, the tunnels' stream callbacks, the idle
 * tick and the table; the opening side is streams_open.c, the
 * receiving side streams_recv.c (see streams_internal.h). */
#include "agent/streams_internal.h"

#include "agent/dataplane.h"
#include "agent/streamcount.h"
#include "agent/streamname.h"
#include "agent/tunnel.h"
#include "shared/err.h"
#include "shared/idmap.h"
#include "shared/loop.h"
#include "shared/quic.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct speer *streams_speer(struct streams *s, int64_t peer, bool make)
{
	struct speer *p = idmap_get(&s->peers, peer);

	if (p || !make)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	idmap_init(&p->bysid);
	if (idmap_put(&s->peers, peer, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* sp's stream got going: ours on the peer's connection, theirs
 * connected to the local service. */
void splice_count_open(struct splice *sp)
{
	sp->opened = true;
	streamcount_peer_add(&sp->s->pc, sp->peer, false);
	if (sp->counts && !sp->remote)
		sp->counts->opened++;
}

/* Ours failed: no peer, no connection in time, or refused by the peer. */
void splice_count_failed(struct splice *sp)
{
	sp->s->st.failed++;
	sp->failed = true;
	if (sp->counts)
		sp->counts->failed++;
}

/* The idle check's period: a quarter of the timeout, at most a second. */
static int64_t idle_tick_us(const struct streams *s)
{
	int64_t t = s->lim.idle_ms * 250;

	return t < 1000000 ? t : 1000000;
}

/* A new splice, or NULL: out of memory, or over a limit (counted). */
struct splice *splice_new(struct streams *s, int64_t peer, int fd)
{
	struct speer *p;
	struct splice *sp;

	if (s->st.active >= s->lim.total) {
		s->st.refused_total_limit++;
		streamcount_peer_add(&s->pc, peer, true);
		return NULL;
	}
	p = streams_speer(s, peer, true);
	if (p && p->n >= s->lim.per_peer) {
		s->st.refused_peer_limit++;
		streamcount_peer_add(&s->pc, peer, true);
		return NULL;
	}
	sp = p ? calloc(1, sizeof(*sp)) : NULL;
	if (!sp) {
		if (p && !p->n) {
			idmap_del(&s->peers, peer);
			idmap_free(&p->bysid);
			free(p);
		}
		return NULL;
	}
	sp->s = s;
	sp->peer = peer;
	sp->sid = -1;
	sp->fd = fd;
	sp->next = s->all;
	if (s->all)
		s->all->prev = sp;
	s->all = sp;
	p->n++;
	s->st.active++;
	sp->active_us = loop_now_us(s->loop);
	if (!loop_timer_active(s->idle_tm))
		loop_timer_start(s->idle_tm, idle_tick_us(s));
	return sp;
}

void splice_free(struct splice *sp)
{
	struct streams *s = sp->s;
	struct speer *p = streams_speer(s, sp->peer, false);

	if (p) {
		if (sp->sid >= 0 && idmap_get(&p->bysid, sp->sid + 1) == sp)
			idmap_del(&p->bysid, sp->sid + 1);
		if (--p->n == 0) {
			idmap_del(&s->peers, sp->peer);
			idmap_free(&p->bysid);
			free(p);
		}
	}
	if (sp->awaiting)
		s->nwaiting--;
	streamname_cancel(sp->lookup);
	if (sp->prev)
		sp->prev->next = sp->next;
	else
		s->all = sp->next;
	if (sp->next)
		sp->next->prev = sp->prev;
	if (sp->io)
		loop_io_close(sp->io, true);
	else if (sp->fd >= 0)
		close(sp->fd);
	s->st.active--;
	if (!sp->opened || sp->failed)
		streamcount_peer_add(&s->pc, sp->peer, true);
	if (sp->counts) {
		sp->counts->active--;
		streamcount_put(sp->counts);
	}
	free(sp->down);
	free(sp);
}

/* The stream ends before its reply: the hook gets the TCP connection
 * with the outcome, to answer and close. */
static void reply_fail(struct splice *sp)
{
	streams_reply_fn fn = sp->on_reply;
	int fd = sp->fd;

	sp->on_reply = NULL;
	if (sp->io)
		loop_io_close(sp->io, false);
	sp->io = NULL;
	sp->fd = -1;
	fn(fd, sp->reply_code ? sp->reply_code : STREAMS_REPLY_FAILED,
	   sp->reply_ctx);
}

/* The TCP side ends: with a reset (SO_LINGER 0) or an orderly close, or
 * through the hook before the reply. */
void splice_tcp_close(struct splice *sp, bool reset)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (sp->fd < 0)
		return;
	if (sp->on_reply) {
		reply_fail(sp);
		return;
	}
	if (reset)
		setsockopt(sp->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (sp->io)
		loop_io_close(sp->io, true);
	else
		close(sp->fd);
	sp->io = NULL;
	sp->fd = -1;
}

/* Frees sp once both sides are done. Returns whether it did: callers
 * must not touch sp then. */
static bool splice_maybe_free(struct splice *sp)
{
	if (sp->fd >= 0 || !sp->quic_done)
		return false;
	splice_free(sp);
	return true;
}

/* Resets both sides: the stream with code (unless it is gone already),
 * the TCP connection with a reset. Returns whether sp was freed. */
bool splice_abort(struct splice *sp, uint64_t code)
{
	if (sp->c && !sp->quic_done && sp->sid >= 0)
		quic_conn_stream_shutdown(sp->c, sp->sid, code);
	else
		sp->quic_done = true;
	splice_tcp_close(sp, true);
	return splice_maybe_free(sp);
}

void splice_io_update(struct splice *sp)
{
	uint32_t ev = 0;

	if (!sp->io)
		return;
	if (sp->st == S_CONNECTING)
		ev = LOOP_WRITE;
	else if (sp->st == S_OPEN) {
		if (!sp->tcp_eof && !sp->up_len)
			ev |= LOOP_READ;
		if (sp->down_len)
			ev |= LOOP_WRITE;
	}
	loop_io_set(sp->io, ev);
}

/* Hands the read buffer and then the FIN to the stream, as far as its
 * send buffer takes them. Returns false when sp was freed. */
static bool push_up(struct splice *sp)
{
	int n;

	if (!sp->c || sp->quic_done || sp->fin_sent)
		return true;
	if (sp->up_len) {
		n = quic_conn_stream_send(sp->c, sp->sid, sp->up, sp->up_len,
					  sp->tcp_eof);
		if (n < 0)
			return !splice_abort(sp, STREAM_ERR_RESET);
		memmove(sp->up, sp->up + n, sp->up_len - (size_t)n);
		sp->up_len -= (size_t)n;
		if (sp->tcp_eof && !sp->up_len)
			sp->fin_sent = true;
	} else if (sp->tcp_eof) {
		if (quic_conn_stream_send(sp->c, sp->sid, NULL, 0, true) >= 0)
			sp->fin_sent = true;
	}
	return true;
}

/* Writes held stream bytes to the TCP socket, consuming them on the
 * stream; shuts the socket's sending side after the stream's FIN.
 * Returns false when sp was freed. */
bool splice_push_down(struct splice *sp)
{
	ssize_t w;

	while (sp->down_len && sp->fd >= 0) {
		w = send(sp->fd, sp->down, sp->down_len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			sp->s->st.resets++;
			return !splice_abort(sp, STREAM_ERR_RESET);
		}
		memmove(sp->down, sp->down + w, sp->down_len - (size_t)w);
		sp->down_len -= (size_t)w;
		sp->active_us = loop_now_us(sp->s->loop);
		sp->s->st.bytes_rx += (uint64_t)w;
		if (sp->counts)
			sp->counts->bytes_rx += (uint64_t)w;
		if (sp->c && !sp->quic_done)
			quic_conn_stream_consume(sp->c, sp->sid, (size_t)w);
	}
	if (sp->rx_fin && !sp->down_len && !sp->wr_shut && sp->fd >= 0) {
		shutdown(sp->fd, SHUT_WR);
		sp->wr_shut = true;
	}
	return true;
}

/* Both directions of the TCP connection finished in order: close the
 * socket (a FIN still waiting for room in the stream does not need it).
 * Frees sp when the stream is done too. */
void splice_maybe_done(struct splice *sp)
{
	if (sp->fd >= 0 && sp->wr_shut && sp->tcp_eof)
		splice_tcp_close(sp, false);
	if (!splice_maybe_free(sp))
		splice_io_update(sp);
}

int splice_down_append(struct splice *sp, const uint8_t *d, size_t len)
{
	uint8_t *nb;
	size_t cap;

	if (!len)
		return 0;
	if (sp->down_len + len > sp->down_cap) {
		cap = sp->down_cap ? sp->down_cap : 4096;
		while (cap < sp->down_len + len)
			cap *= 2;
		nb = realloc(sp->down, cap);
		if (!nb)
			return WEFT_ERR_NOMEM;
		sp->down = nb;
		sp->down_cap = cap;
	}
	memcpy(sp->down + sp->down_len, d, len);
	sp->down_len += len;
	return 0;
}

static void on_tcp_read(struct splice *sp)
{
	ssize_t r;

	while (!sp->tcp_eof && sp->up_len < sizeof(sp->up)) {
		r = recv(sp->fd, sp->up + sp->up_len,
			 sizeof(sp->up) - sp->up_len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r < 0) {
			sp->s->st.resets++;
			splice_abort(sp, STREAM_ERR_RESET);
			return;
		}
		if (r == 0)
			sp->tcp_eof = true;
		else
			sp->active_us = loop_now_us(sp->s->loop);
		sp->up_len += (size_t)r;
		sp->s->st.bytes_tx += (uint64_t)r;
		if (sp->counts)
			sp->counts->bytes_tx += (uint64_t)r;
		if (!push_up(sp))
			return;
		/* The stream is full (wait for on_writable), or its
		 * connection ended under the send. */
		if (sp->up_len || sp->fd < 0)
			break;
	}
	splice_maybe_done(sp);
}

static void io_event(struct splice *sp, int fd, uint32_t ev)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (sp->st == S_CONNECTING) {
		splice_connected(sp);
		return;
	}
	/* A reset (an error, or a hang-up we did not cause by shutting). */
	if ((ev & LOOP_ERROR) && (sp->tcp_eof || sp->st != S_OPEN) &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
		sp->s->st.resets++;
		splice_abort(sp, STREAM_ERR_RESET);
		return;
	}
	if ((ev & LOOP_WRITE) && (!splice_push_down(sp) || sp->fd < 0))
		return;
	if (ev & (LOOP_READ | LOOP_ERROR))
		on_tcp_read(sp);
	else
		splice_maybe_done(sp);
}

static void on_io(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct splice *sp = ctx;
	struct streams *s = sp->s;

	(void)io;
	streams_enter(s);
	io_event(sp, fd, ev);
	streams_leave(s);
}

int splice_watch(struct splice *sp)
{
	return loop_io_add(sp->s->loop, sp->fd, 0, on_io, sp, &sp->io);
}

/* TCP keepalives on a splice's socket: a TCP side that vanished (a
 * resource host gone without a reset) ends its stream after about two
 * minutes, however long the stream idle timeout. Best effort. */
void splice_keepalive(int fd)
{
	int on = 1, idle = STREAMS_KEEPALIVE_IDLE_S,
	    intvl = STREAMS_KEEPALIVE_INTVL_S, cnt = STREAMS_KEEPALIVE_CNT;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void refuse_new(struct quic_conn *c, int64_t sid, uint64_t code)
{
	quic_conn_stream_shutdown(c, sid, code);
}

/* ---- tunnel callbacks ---- */

static struct splice *find(struct streams *s, int64_t peer, int64_t sid)
{
	struct speer *p = streams_speer(s, peer, false);

	return p ? idmap_get(&p->bysid, sid + 1) : NULL;
}

static void on_data(int64_t peer, struct quic_conn *c, int64_t sid,
		    bool remote, const uint8_t *d, size_t len, bool fin,
		    void *ctx)
{
	struct streams *s = ctx;
	struct splice *sp = find(s, peer, sid);

	if (!sp) {
		if (!remote)
			return;
		sp = splice_new(s, peer, -1);
		if (!sp || idmap_put(&streams_speer(s, peer, false)->bysid,
				     sid + 1, sp) < 0) {
			if (sp)
				splice_free(sp);
			refuse_new(c, sid, STREAM_ERR_LIMIT);
			return;
		}
		sp->c = c;
		sp->sid = sid;
		sp->remote = true;
		sp->st = S_HEADER;
		quic_conn_stream_hold(c, sid);
	}
	if (sp->quic_done)
		return;
	if (fin)
		sp->rx_fin = true;
	if (len) {
		sp->any_data = true;
		sp->active_us = loop_now_us(s->loop);
	}
	if (sp->st == S_HEADER) {
		splice_header_input(sp, d, len);
		return;
	}
	if (sp->awaiting) {
		if (!len) {
			if (fin) /* ended without a reply */
				splice_reply_input(sp, 0xff);
			return;
		}
		if (!splice_reply_input(sp, d[0]))
			return;
		d++;
		len--;
	}
	if (splice_down_append(sp, d, len) < 0) {
		splice_abort(sp, STREAM_ERR_GONE);
		return;
	}
	if (sp->st == S_OPEN && splice_push_down(sp) && sp->fd >= 0)
		splice_maybe_done(sp);
}

static void on_writable(int64_t peer, struct quic_conn *c, int64_t sid,
			void *ctx)
{
	struct splice *sp = find(ctx, peer, sid);

	(void)c;
	if (!sp || sp->st != S_OPEN)
		return;
	if (push_up(sp))
		splice_maybe_done(sp);
}

static void on_closed(int64_t peer, struct quic_conn *c, int64_t sid,
		      uint64_t code, void *ctx)
{
	struct splice *sp = find(ctx, peer, sid);

	(void)c;
	if (!sp)
		return;
	/* Refused: the reset's code is the outcome. */
	if (sp->awaiting && !sp->reply_code)
		sp->reply_code = code && code < STREAMS_REPLY_TIMEOUT
					 ? (int)code
					 : STREAMS_REPLY_FAILED;
	sp->quic_done = true;
	idmap_del(&streams_speer(sp->s, peer, false)->bysid, sid + 1);
	sp->sid = -1;
	sp->c = NULL;
	/* Not both FINs: the peer reset it. */
	if (sp->fd >= 0 && !(sp->rx_fin && sp->fin_sent)) {
		if (!sp->any_data && !sp->remote)
			splice_count_failed(sp);
		else
			sp->s->st.resets++;
		splice_tcp_close(sp, true);
	}
	if (!splice_maybe_free(sp))
		splice_maybe_done(sp);
}

static void on_conn_gone(int64_t peer, struct quic_conn *c, void *ctx)
{
	struct streams *s = ctx;
	struct splice *sp, *next;

	for (sp = s->all; sp; sp = next) {
		next = sp->next;
		if (sp->peer != peer || sp->c != c)
			continue;
		sp->c = NULL;
		sp->quic_done = true;
		if (sp->fd >= 0)
			s->st.resets++;
		splice_tcp_close(sp, true);
		if (!s->busy)
			splice_free(sp);
	}
}

/* Entering and leaving our own calls into connections (see busy). */
void streams_enter(struct streams *s)
{
	s->busy++;
}

void streams_leave(struct streams *s)
{
	struct splice *sp, *next;

	if (--s->busy)
		return;
	for (sp = s->all; sp; sp = next) {
		next = sp->next;
		if (sp->fd < 0 && sp->quic_done)
			splice_free(sp);
	}
}

/* Open streams keep the peer's connection from its idle close. */
static bool on_busy(int64_t peer, void *ctx)
{
	struct speer *sp = streams_speer(ctx, peer, false);

	return sp && sp->n;
}

static const struct tunnel_stream_callbacks stream_cbs = {
	.on_data = on_data,
	.on_writable = on_writable,
	.on_closed = on_closed,
	.on_conn_gone = on_conn_gone,
	.busy = on_busy,
};

/* Streams idle for lim.idle_ms are reset on both sides (waiting ones
 * have their own deadline); dials past STREAMS_DIAL_MS are refused. */
static void on_idle_tick(struct loop_timer *tm, void *ctx)
{
	struct streams *s = ctx;
	int64_t now = loop_now_us(s->loop);
	int64_t old = now - s->lim.idle_ms * 1000;
	struct splice *sp, *next;

	streams_enter(s);
	for (sp = s->all; sp; sp = next) {
		next = sp->next;
		if ((sp->st == S_RESOLVING || sp->st == S_CONNECTING) &&
		    now >= sp->deadline_us) {
			splice_dial_fail(sp);
			continue;
		}
		if (sp->st == S_WAIT_CONN || sp->st == S_NONE ||
		    sp->active_us > old || (sp->fd < 0 && sp->quic_done))
			continue;
		s->st.idle_closed++;
		/* Torn down: waits for QUIC to close the stream. */
		if (!splice_abort(sp, STREAM_ERR_IDLE))
			sp->st = S_NONE;
	}
	streams_leave(s);
	if (s->all)
		loop_timer_start(tm, idle_tick_us(s));
}

/* ---- the table ---- */

int streams_new(struct loop *l, struct dataplane *dp, const struct map *m,
		const struct streams_limits *lim, struct streams **out)
{
	struct streams *s = calloc(1, sizeof(*s));

	if (!s)
		return WEFT_ERR_NOMEM;
	if (lim)
		s->lim = *lim;
	if (!s->lim.per_peer)
		s->lim.per_peer = STREAMS_PEER_MAX_DEFAULT;
	if (!s->lim.total)
		s->lim.total = STREAMS_TOTAL_MAX_DEFAULT;
	if (s->lim.idle_ms <= 0)
		s->lim.idle_ms = STREAMS_IDLE_MS_DEFAULT;
	s->loop = l;
	s->dp = dp;
	s->t = dataplane_tunnels(dp);
	s->map = m;
	idmap_init(&s->peers);
	streamcount_peers_init(&s->pc);
	if (loop_timer_new(l, streams_wait_tick, s, &s->wait_tm) < 0 ||
	    loop_timer_new(l, on_idle_tick, s, &s->idle_tm) < 0 ||
	    streamname_new(l, NULL, &s->names) < 0) {
		loop_timer_del(s->wait_tm);
		loop_timer_del(s->idle_tm);
		free(s);
		return WEFT_ERR_NOMEM;
	}
	tunnels_set_stream_callbacks(s->t, &stream_cbs, s);
	*out = s;
	return 0;
}

void streams_del(struct streams *s)
{
	if (!s)
		return;
	tunnels_set_stream_callbacks(s->t, NULL, NULL);
	while (s->all) {
		struct splice *sp = s->all;

		sp->on_reply = NULL; /* its proxy may be gone already */
		if (sp->c && !sp->quic_done && sp->sid >= 0)
			quic_conn_stream_shutdown(sp->c, sp->sid,
						  STREAM_ERR_GONE);
		splice_tcp_close(sp, true);
		splice_free(sp);
	}
	loop_timer_del(s->wait_tm);
	loop_timer_del(s->idle_tm);
	streamname_del(s->names);
	idmap_free(&s->peers);
	streamcount_peers_free(&s->pc);
	free(s);
}

void streams_refuse(struct streams *s, int fd, int err)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (err == WEFT_ERR_FORBIDDEN)
		s->st.refused_early++;
	else
		s->st.failed++;
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

void streams_get_stats(const struct streams *s, struct streams_stats *out)
{
	*out = s->st;
}

int streams_peer_json(const struct streams *s, int64_t peer, json_t *e)
{
	const struct speer *p = s ? idmap_get(&s->peers, peer) : NULL;

	return streamcount_peer_json(s ? &s->pc : NULL, peer, p ? p->n : 0, e);
}

json_t *streams_json(const struct streams *s)
{
	struct streams_stats z = {0};
	const struct streams_stats *st = s ? &s->st : &z;

	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "active", (json_int_t)st->active,
			 "opened", (json_int_t)st->opened,
			 "accepted", (json_int_t)st->accepted,
			 "accepted_resource", (json_int_t)st->accepted_resource,
			 "refused_peer_limit",
			 (json_int_t)st->refused_peer_limit,
			 "refused_total_limit",
			 (json_int_t)st->refused_total_limit,
			 "idle_closed", (json_int_t)st->idle_closed,
			 "refused_policy", (json_int_t)st->refused_policy,
			 "refused_target", (json_int_t)st->refused_target,
			 "refused_service", (json_int_t)st->refused_service,
			 "refused_resolve", (json_int_t)st->refused_resolve,
			 "refused_early", (json_int_t)st->refused_early,
			 "failed", (json_int_t)st->failed,
			 "resets", (json_int_t)st->resets,
			 "bytes_tx", (json_int_t)st->bytes_tx,
			 "bytes_rx", (json_int_t)st->bytes_rx);
}
