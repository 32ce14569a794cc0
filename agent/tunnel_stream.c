/* The peer connections' QUIC streams, handed to stream mode through
 * struct tunnel_stream_callbacks (tunnel.h). */
#include "agent/tunnel_internal.h"

#include "shared/loop.h"

#include <string.h>

void tunnels_set_stream_callbacks(struct tunnels *t,
				  const struct tunnel_stream_callbacks *cbs,
				  void *ctx)
{
	memset(&t->scbs, 0, sizeof(t->scbs));
	if (cbs)
		t->scbs = *cbs;
	t->sctx = ctx;
}

struct quic_conn *tunnels_stream_conn(struct tunnels *t, int64_t peer)
{
	struct peer *p = tunnel_find(t, peer);

	if (!p)
		return NULL;
	/* A stream, like a packet, is data for the liveness watch: a
	 * connector that leaves it unanswered, or whose connection does
	 * not come up, is lost and replaced (agent/reschoice.h). */
	if (p->c && p->up) {
		p->last_active_us = loop_now_us(t->loop);
		tunnel_watch_sent(p);
		return p->c;
	}
	p->w_stream = true;
	tunnel_watch_sent(p);
	tunnel_rejoin(p);
	return NULL;
}

void tunnel_stream_data(struct quic_conn *c, int64_t sid, const uint8_t *d,
			size_t len, bool fin, void *ctx)
{
	struct peer *p = ctx;
	bool client;

	if (!p || !p->t->scbs.on_data)
		return;
	p->last_active_us = loop_now_us(p->t->loop);
	/* Bit 0 of a stream id is set for streams the server opened. */
	client = p->t->self && p->t->self < p->id;
	p->t->scbs.on_data(p->id, c, sid, ((sid & 1) != 0) == client, d, len,
			   fin, p->t->sctx);
}

void tunnel_stream_writable(struct quic_conn *c, int64_t sid, void *ctx)
{
	struct peer *p = ctx;

	if (p && p->t->scbs.on_writable)
		p->t->scbs.on_writable(p->id, c, sid, p->t->sctx);
}

void tunnel_stream_closed(struct quic_conn *c, int64_t sid, uint64_t code,
			  void *ctx)
{
	struct peer *p = ctx;

	if (p && p->t->scbs.on_closed)
		p->t->scbs.on_closed(p->id, c, sid, code, p->t->sctx);
}

void tunnel_stream_conn_gone(struct peer *p, struct quic_conn *c)
{
	if (p->t->scbs.on_conn_gone)
		p->t->scbs.on_conn_gone(p->id, c, p->t->sctx);
}
