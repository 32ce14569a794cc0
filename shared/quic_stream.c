/* Streams and datagrams: the per-stream send buffers (lists of fixed
 * chunks that ngtcp2 may point into until acknowledged), the datagram
 * ring, and the application API for both. */
#include "shared/quic_internal.h"

#include "shared/err.h"

#include <stdlib.h>
#include <string.h>

struct qstream *quic_stream_get(struct quic_conn *c, int64_t id)
{
	if (id < 0 || id == INT64_MAX)
		return NULL;
	return idmap_get(&c->streams, id + 1);
}

int quic_stream_add(struct quic_conn *c, int64_t id)
{
	struct qstream *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return WEFT_ERR_NOMEM;
	s->id = id;
	r = idmap_put(&c->streams, id + 1, s);
	if (r < 0)
		free(s);
	return r;
}

void quic_stream_free(struct quic_conn *c, int64_t id)
{
	struct qstream *s = idmap_del(&c->streams, id + 1);
	struct chunk *ch, *next;

	if (!s)
		return;
	for (ch = s->head; ch; ch = next) {
		next = ch->next;
		free(ch);
	}
	free(s);
}

static bool stream_has_work(const struct qstream *s)
{
	return s->sent < s->end || (s->fin_pending && !s->fin_sent);
}

void quic_stream_unsent(const struct qstream *s, ngtcp2_vec *v)
{
	const struct chunk *ch = s->head;
	uint64_t off = s->head_off;

	v->base = NULL;
	v->len = 0;
	while (ch && off + ch->len <= s->sent) {
		off += ch->len;
		ch = ch->next;
	}
	if (!ch)
		return;
	v->base = (uint8_t *)ch->d + (s->sent - off);
	v->len = ch->len - (size_t)(s->sent - off);
}

struct qstream *quic_stream_next(struct quic_conn *c)
{
	size_t i;
	int64_t id;
	void *v;

	for (i = 0; idmap_next(&c->streams, &i, &id, &v);) {
		struct qstream *s = v;

		if (s->blocked_gen != c->write_gen && stream_has_work(s))
			return s;
	}
	return NULL;
}
void quic_stream_free_all(struct quic_conn *c)
{
	size_t i;
	int64_t id;
	void *v;

	for (i = 0; idmap_next(&c->streams, &i, &id, &v);) {
		struct qstream *s = v;
		struct chunk *ch, *next;

		for (ch = s->head; ch; ch = next) {
			next = ch->next;
			free(ch);
		}
		free(s);
	}
	idmap_free(&c->streams);
}

void quic_stream_acked(struct quic_conn *c, int64_t id, uint64_t offset,
		       uint64_t len)
{
	struct qstream *s = quic_stream_get(c, id);
	struct chunk *ch;

	if (!s)
		return;
	if (offset + len > s->acked)
		s->acked = offset + len;
	while ((ch = s->head) && ch->len == CHUNK_SIZE &&
	       s->head_off + CHUNK_SIZE <= s->acked) {
		s->head = ch->next;
		if (!s->head)
			s->tail = NULL;
		s->head_off += CHUNK_SIZE;
		free(ch);
	}
	if (s->want_writable &&
	    s->end - s->acked <= c->ep->o.max_stream_buffer / 2) {
		s->want_writable = false;
		if (c->cbs.on_stream_writable)
			c->cbs.on_stream_writable(c, id, c->ctx);
	}
}

size_t quic_conn_datagram_max(struct quic_conn *c)
{
	const ngtcp2_transport_params *rp;
	size_t pkt, overhead, max;

	if (c->dead || !c->accepted)
		return 0;
	rp = ngtcp2_conn_get_remote_transport_params(c->nc);
	if (!rp || !rp->max_datagram_frame_size)
		return 0;
	pkt = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->nc);
	/* Short header (1 + DCID + up to 4 packet number bytes), AEAD tag,
	 * DATAGRAM frame type and length. */
	overhead = 1 + ngtcp2_conn_get_dcid(c->nc)->datalen + 4 + 16 + 1 + 2;
	if (pkt > DGRAM_SLOT)
		pkt = DGRAM_SLOT;
	max = pkt > overhead ? pkt - overhead : 0;
	if (rp->max_datagram_frame_size < 3)
		return 0;
	if (max > rp->max_datagram_frame_size - 3)
		max = rp->max_datagram_frame_size - 3;
	return max;
}

int quic_conn_datagram(struct quic_conn *c, const void *data, size_t len)
{
	struct dgram *g;
	size_t max;

	if (c->dead || c->close_pending)
		return WEFT_ERR_CLOSED;
	max = quic_conn_datagram_max(c);
	if (!max)
		return WEFT_ERR_UNSUPPORTED;
	if (len > max)
		return WEFT_ERR_TOOBIG;
	if (!c->dq) {
		c->dq = malloc(sizeof(*c->dq) * DGRAM_QUEUE);
		if (!c->dq)
			return WEFT_ERR_NOMEM;
	}
	if (c->dq_n == DGRAM_QUEUE) {
		c->dq_want = true;
		return WEFT_ERR_BUSY;
	}
	g = &c->dq[(c->dq_head + c->dq_n) % DGRAM_QUEUE];
	if (len)
		memcpy(g->d, data, len);
	g->len = (uint16_t)len;
	g->at = loop_now_us(c->ep->loop);
	c->dq_n++;
	quic_conn_after(c);
	return 0;
}

int quic_conn_stream_open(struct quic_conn *c, int64_t *id)
{
	int64_t sid;
	int r;

	if (c->dead || c->close_pending)
		return WEFT_ERR_CLOSED;
	r = ngtcp2_conn_open_bidi_stream(c->nc, &sid, NULL);
	if (r == NGTCP2_ERR_STREAM_ID_BLOCKED)
		return WEFT_ERR_BUSY;
	if (r != 0)
		return WEFT_ERR_NOMEM;
	r = quic_stream_add(c, sid);
	if (r < 0) {
		ngtcp2_conn_shutdown_stream(c->nc, sid, 0);
		return r;
	}
	*id = sid;
	return 0;
}

int quic_conn_stream_send(struct quic_conn *c, int64_t id, const void *data,
			  size_t len, bool fin)
{
	struct qstream *s;
	const uint8_t *p = data;
	size_t room, take = 0;

	if (c->dead || c->close_pending)
		return WEFT_ERR_CLOSED;
	s = quic_stream_get(c, id);
	if (!s)
		return WEFT_ERR_NOTFOUND;
	if (s->fin_pending)
		return WEFT_ERR_CLOSED;
	if (len > INT32_MAX)
		len = INT32_MAX;
	room = c->ep->o.max_stream_buffer > s->end - s->acked
		       ? c->ep->o.max_stream_buffer - (size_t)(s->end - s->acked)
		       : 0;
	while (take < len && take < room) {
		struct chunk *ch = s->tail;
		size_t n;

		if (!ch || ch->len == CHUNK_SIZE) {
			ch = malloc(sizeof(*ch));
			if (!ch) {
				if (!take)
					return WEFT_ERR_NOMEM;
				break;
			}
			ch->next = NULL;
			ch->len = 0;
			if (s->tail)
				s->tail->next = ch;
			else
				s->head = ch;
			s->tail = ch;
		}
		n = CHUNK_SIZE - ch->len;
		if (n > len - take)
			n = len - take;
		if (n > room - take)
			n = room - take;
		memcpy(ch->d + ch->len, p + take, n);
		ch->len += n;
		take += n;
	}
	s->end += take;
	if (take < len)
		s->want_writable = true;
	else if (fin)
		s->fin_pending = true;
	if (take || fin)
		quic_conn_after(c);
	return (int)take;
}

int quic_conn_stream_shutdown(struct quic_conn *c, int64_t id,
			      uint64_t app_code)
{
	if (c->dead || !quic_stream_get(c, id))
		return WEFT_ERR_NOTFOUND;
	ngtcp2_conn_shutdown_stream(c->nc, id, app_code);
	quic_conn_after(c);
	return 0;
}

int quic_conn_stream_hold(struct quic_conn *c, int64_t id)
{
	struct qstream *s = c->dead ? NULL : quic_stream_get(c, id);

	if (!s)
		return WEFT_ERR_NOTFOUND;
	s->hold = true;
	return 0;
}

int quic_conn_stream_consume(struct quic_conn *c, int64_t id, size_t n)
{
	if (c->dead || !quic_stream_get(c, id))
		return WEFT_ERR_NOTFOUND;
	if (!n)
		return 0;
	ngtcp2_conn_extend_max_stream_offset(c->nc, id, n);
	quic_conn_after(c);
	return 0;
}
