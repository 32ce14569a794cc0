/* Stream mode's receiving side: a stream the peer opened, its header
 * read and decided (agent/streamgate.h), then the dial to our own
 * service or a resource (by address, or by name through
 * agent/streamname.h) and the open reply once it connects. */
#include "agent/streams_internal.h"

#include "agent/streamgate.h"
#include "agent/streamhdr.h"
#include "agent/streamname.h"
#include "agent/streamtarget.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/quic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The header's verdict (agent/streamgate.h), counted: 0 to dial *in,
 * or the STREAM_ERR_* refusal. */
static int decide(struct splice *sp, const struct streamhdr *h,
		  struct streamtarget_in *in)
{
	struct streams *s = sp->s;
	int code = streamgate_decide(&s->gate, s->dp, s->map, sp->peer, h,
				     in);

	if (code == STREAM_ERR_TARGET)
		s->st.refused_target++;
	else if (code)
		s->st.refused_policy++;
	return code;
}

/* A dial that ends without a connection, counted in *counter: torn
 * down (S_NONE: its deadline no longer applies while QUIC closes the
 * stream). */
static void dial_end(struct splice *sp, uint64_t *counter, uint64_t code)
{
	(*counter)++;
	sp->st = S_NONE;
	splice_abort(sp, code);
}

/* A dial that failed, or took longer than STREAMS_DIAL_MS. */
void splice_dial_fail(struct splice *sp)
{
	dial_end(sp, &sp->s->st.refused_service, STREAM_ERR_REFUSED);
}

/* Connects to a, port sp->port, without blocking. */
static void connect_to(struct splice *sp, const struct ip_addr *a)
{
	struct ip_endpoint ep = {.addr = *a, .port = sp->port};
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	sp->st = S_CONNECTING;
	if (ip_endpoint_to_sockaddr(&ep, &ss, &len) < 0 ||
	    (fd = socket(ss.ss_family,
			 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		splice_dial_fail(sp);
		return;
	}
	sp->fd = fd;
	splice_keepalive(fd);
	if ((connect(fd, (struct sockaddr *)&ss, len) < 0 &&
	     errno != EINPROGRESS) ||
	    splice_watch(sp) < 0) {
		splice_dial_fail(sp);
		return;
	}
	splice_io_update(sp);
}

void splice_connected(struct splice *sp)
{
	static const uint8_t ok = STREAMHDR_REPLY_OK;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(sp->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		splice_dial_fail(sp);
		return;
	}
	/* The open reply, first on our side of the stream (its send buffer
	 * is empty: nothing was sent before it). */
	if (quic_conn_stream_send(sp->c, sp->sid, &ok, 1, false) != 1) {
		splice_abort(sp, STREAM_ERR_GONE);
		return;
	}
	sp->st = S_OPEN;
	sp->s->st.accepted++;
	if (sp->to_res)
		sp->s->st.accepted_resource++;
	splice_count_open(sp);
	if (splice_push_down(sp) && sp->fd >= 0)
		splice_maybe_done(sp);
}

static void on_resolved(void *ctx, int status, const struct ip_addr *addr)
{
	struct splice *sp = ctx;
	struct streams *s = sp->s;
	char q[STREAMHDR_HOST_MAX + 8];

	sp->lookup = NULL;
	streams_enter(s);
	if (status == 0) {
		connect_to(sp, addr);
	} else {
		log_info("stream_unresolved", "peer=%lld name=%s error=%s",
			 (long long)sp->peer, log_q(q, sizeof(q), sp->host),
			 weft_errname(status));
		dial_end(sp, &s->st.refused_resolve, STREAM_ERR_TARGET);
	}
	streams_leave(s);
}

/* Dials what decide allowed: our own service, a resource's address, or
 * a resource's name once our resolver answers. */
static void dial(struct splice *sp, const struct streamtarget_in *in)
{
	struct ip_addr lo = {.family = 4, .b = {127, 0, 0, 1}};

	sp->deadline_us = loop_now_us(sp->s->loop) +
			  (int64_t)STREAMS_DIAL_MS * 1000;
	sp->to_res = in->res_id != 0;
	if (!in->res_id || in->addr.family) {
		connect_to(sp, in->res_id ? &in->addr : &lo);
		return;
	}
	snprintf(sp->host, sizeof(sp->host), "%s", in->name);
	sp->st = S_RESOLVING;
	if (streamname_lookup(sp->s->names, in->name, on_resolved, sp,
			      &sp->lookup) < 0)
		dial_end(sp, &sp->s->st.refused_resolve, STREAM_ERR_TARGET);
}

/* Header bytes of a stream the peer opened; what follows is held. */
void splice_header_input(struct splice *sp, const uint8_t *d, size_t len)
{
	struct streamhdr h;
	struct streamtarget_in in;
	size_t take = len < sizeof(sp->hdr) - sp->hlen
			      ? len
			      : sizeof(sp->hdr) - sp->hlen;
	size_t old = sp->hlen;
	int n, code;

	memcpy(sp->hdr + sp->hlen, d, take);
	sp->hlen += take;
	n = streamhdr_decode(sp->hdr, sp->hlen, &h);
	if (n == 0 && sp->hlen < sizeof(sp->hdr) && !sp->rx_fin)
		return;
	if (n <= 0) {
		sp->s->st.refused_target++;
		splice_abort(sp, STREAM_ERR_BAD_HEADER);
		return;
	}
	quic_conn_stream_consume(sp->c, sp->sid, (size_t)n);
	if (splice_down_append(sp, d + (size_t)n - old,
			       len - ((size_t)n - old)) < 0) {
		splice_abort(sp, STREAM_ERR_GONE);
		return;
	}
	code = decide(sp, &h, &in);
	if (code) {
		splice_abort(sp, (uint64_t)code);
		return;
	}
	sp->port = h.port;
	dial(sp, &in);
}
