#include "shared/wire.h"

#include "shared/be.h"
#include "shared/err.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Decoding and encoding share one validation per field (valid_addr,
 * valid_token, ...) so the two directions cannot drift apart: the fuzz
 * target checks that whatever decodes re-encodes to the same bytes, which
 * holds only while both accept exactly the same values. */

#define STUN_COOKIE 0x2112A442u

enum wire_kind wire_classify(const uint8_t *p, size_t n)
{
	if (n == 0)
		return WIRE_KIND_DROP;
	if (p[0] & 0x40)
		return WIRE_KIND_QUIC;
	if ((p[0] == 0x00 || p[0] == 0x01) && n >= 20 &&
	    ((uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
	     (uint32_t)p[6] << 8 | p[7]) == STUN_COOKIE)
		return WIRE_KIND_STUN;
	/* RFC 3489 clients send no cookie (RFC 8489 §12.2 asks servers to
	 * answer them): without it a Binding request is told apart by its
	 * type and a length field that matches the datagram. */
	if (n >= 20 && p[0] == 0x00 && p[1] == 0x01 &&
	    ((size_t)p[2] << 8 | p[3]) == n - 20)
		return WIRE_KIND_STUN;
	if (p[0] >= 0x30 && p[0] <= 0x3F)
		return WIRE_KIND_FRAME;
	return WIRE_KIND_DROP;
}

/* Observed address: family u8 (4 or 6), port u16, 4 or 16 address
 * bytes. Used by PROBE_REPLY and QAD. */
static size_t addr_len(const struct ip_endpoint *e)
{
	return e->addr.family == 4 ? 1 + 2 + 4 : 1 + 2 + 16;
}

static bool valid_addr(const struct ip_endpoint *e)
{
	return (e->addr.family == 4 || e->addr.family == 6) && e->port != 0;
}

static void put_addr(uint8_t *p, const struct ip_endpoint *e)
{
	size_t alen = e->addr.family == 4 ? 4 : 16;

	p[0] = e->addr.family;
	be_put16(p + 1, e->port);
	memcpy(p + 3, e->addr.b, alen);
}

/* Parses an address that must fill p[0..n) exactly. */
static int get_addr(const uint8_t *p, size_t n, struct ip_endpoint *out)
{
	struct ip_endpoint e;
	size_t alen;

	if (n < 3)
		return WEFT_ERR_PARSE;
	memset(&e, 0, sizeof(e));
	e.addr.family = p[0];
	if (e.addr.family == 4)
		alen = 4;
	else if (e.addr.family == 6)
		alen = 16;
	else
		return WEFT_ERR_PARSE;
	if (n != 3 + alen)
		return WEFT_ERR_PARSE;
	e.port = be_get16(p + 1);
	memcpy(e.addr.b, p + 3, alen);
	if (!valid_addr(&e))
		return WEFT_ERR_PARSE;
	*out = e;
	return 0;
}

static bool valid_payload(const uint8_t *p, size_t n, size_t max)
{
	return p != NULL && n >= 1 && n <= max;
}

/* A relay token is JWT text: visible ASCII only, so a receiver can copy
 * it into a C string without surprises. */
static bool valid_token(const uint8_t *p, size_t n)
{
	if (p == NULL || n < 1 || n > WIRE_MSG_BODY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7E)
			return false;
	return true;
}

/* ---- Weft frames ---- */

/* Length of f's encoding, or 0 when f is invalid. */
static size_t frame_len(const struct wire_frame *f)
{
	if (f->node == 0)
		return 0;
	switch (f->type) {
	case WIRE_RELAY_SEND:
	case WIRE_RELAY_RECV:
		if (!valid_payload(f->payload, f->payload_len,
				   WIRE_PAYLOAD_MAX))
			return 0;
		return 1 + 8 + f->payload_len;
	case WIRE_PEER_GONE:
		return f->reason != 0 ? 1 + 8 + 1 : 0;
	case WIRE_PROBE:
		return 1 + WIRE_TXID_LEN + 8;
	case WIRE_PROBE_REPLY:
		if (!valid_addr(&f->addr))
			return 0;
		return 1 + WIRE_TXID_LEN + 8 + addr_len(&f->addr);
	}
	return 0;
}

int wire_frame_encode(const struct wire_frame *f, uint8_t *buf, size_t cap)
{
	size_t n = frame_len(f);

	if (n == 0)
		return WEFT_ERR_INVAL;
	if (n > cap)
		return WEFT_ERR_TOOBIG;
	buf[0] = f->type;
	switch (f->type) {
	case WIRE_RELAY_SEND:
	case WIRE_RELAY_RECV:
		be_put64(buf + 1, f->node);
		memcpy(buf + 9, f->payload, f->payload_len);
		break;
	case WIRE_PEER_GONE:
		be_put64(buf + 1, f->node);
		buf[9] = f->reason;
		break;
	case WIRE_PROBE:
	case WIRE_PROBE_REPLY:
		memcpy(buf + 1, f->txid, WIRE_TXID_LEN);
		be_put64(buf + 1 + WIRE_TXID_LEN, f->node);
		if (f->type == WIRE_PROBE_REPLY)
			put_addr(buf + 1 + WIRE_TXID_LEN + 8, &f->addr);
		break;
	}
	return (int)n;
}

int wire_frame_decode(const uint8_t *p, size_t n, struct wire_frame *out)
{
	struct wire_frame f;
	int rc = WEFT_ERR_PARSE;

	if (n < 1)
		goto out;
	memset(&f, 0, sizeof(f));
	f.type = p[0];
	switch (f.type) {
	case WIRE_RELAY_SEND:
	case WIRE_RELAY_RECV:
		if (n < 1 + 8 + WIRE_PAYLOAD_MIN || n > WIRE_FRAME_MAX)
			goto out;
		f.node = be_get64(p + 1);
		f.payload = p + 9;
		f.payload_len = n - 9;
		break;
	case WIRE_PEER_GONE:
		if (n != 1 + 8 + 1)
			goto out;
		f.node = be_get64(p + 1);
		f.reason = p[9];
		if (f.reason == 0)
			goto out;
		break;
	case WIRE_PROBE:
	case WIRE_PROBE_REPLY:
		if (n < 1 + WIRE_TXID_LEN + 8)
			goto out;
		memcpy(f.txid, p + 1, WIRE_TXID_LEN);
		f.node = be_get64(p + 1 + WIRE_TXID_LEN);
		if (f.type == WIRE_PROBE) {
			if (n != 1 + WIRE_TXID_LEN + 8)
				goto out;
		} else if (get_addr(p + 1 + WIRE_TXID_LEN + 8,
				    n - (1 + WIRE_TXID_LEN + 8), &f.addr) < 0) {
			goto out;
		}
		break;
	default:
		goto out;
	}
	if (f.node == 0)
		goto out;
	*out = f;
	rc = 0;
out:
	return rc;
}

/* ---- control messages ---- */

/* Body length of m's encoding, or -1 when m is invalid. */
static long msg_body_len(const struct wire_msg *m)
{
	switch (m->type) {
	case WIRE_MSG_AUTH:
		return valid_token(m->data, m->len) ? (long)m->len : -1;
	case WIRE_MSG_AUTH_OK:
		return m->node != 0 ? 16 : -1;
	case WIRE_MSG_QAD:
		return valid_addr(&m->addr) ? (long)addr_len(&m->addr) : -1;
	case WIRE_MSG_SIGNAL:
	case WIRE_MSG_SIGNAL_FROM:
		if (m->node == 0 ||
		    !valid_payload(m->data, m->len, WIRE_SIGNAL_MAX))
			return -1;
		return 8 + (long)m->len;
	case WIRE_MSG_PEER_GONE:
		return m->node != 0 && m->reason != 0 ? 9 : -1;
	case WIRE_MSG_PING:
	case WIRE_MSG_PONG:
		return 8;
	}
	return -1;
}

int wire_msg_encode(const struct wire_msg *m, uint8_t *buf, size_t cap)
{
	long body = msg_body_len(m);
	uint8_t *b = buf + WIRE_MSG_HDR_LEN;

	if (body < 0)
		return WEFT_ERR_INVAL;
	if ((size_t)body + WIRE_MSG_HDR_LEN > cap)
		return WEFT_ERR_TOOBIG;
	buf[0] = m->type;
	be_put16(buf + 1, (uint16_t)body);
	switch (m->type) {
	case WIRE_MSG_AUTH:
		memcpy(b, m->data, m->len);
		break;
	case WIRE_MSG_AUTH_OK:
		be_put64(b, m->node);
		be_put64(b + 8, m->time);
		break;
	case WIRE_MSG_QAD:
		put_addr(b, &m->addr);
		break;
	case WIRE_MSG_SIGNAL:
	case WIRE_MSG_SIGNAL_FROM:
		be_put64(b, m->node);
		memcpy(b + 8, m->data, m->len);
		break;
	case WIRE_MSG_PEER_GONE:
		be_put64(b, m->node);
		b[8] = m->reason;
		break;
	case WIRE_MSG_PING:
	case WIRE_MSG_PONG:
		be_put64(b, m->nonce);
		break;
	}
	return (int)body + WIRE_MSG_HDR_LEN;
}

static bool known_msg_type(uint8_t t)
{
	return t >= WIRE_MSG_AUTH && t <= WIRE_MSG_PONG;
}

/* Parses the body b[0..n) of a message of type t. */
static int msg_body_decode(uint8_t t, const uint8_t *b, size_t n,
			   struct wire_msg *out)
{
	struct wire_msg m;
	int rc = WEFT_ERR_PARSE;

	memset(&m, 0, sizeof(m));
	m.type = t;
	switch (t) {
	case WIRE_MSG_AUTH:
		if (!valid_token(b, n))
			goto out;
		m.data = b;
		m.len = n;
		break;
	case WIRE_MSG_AUTH_OK:
		if (n != 16)
			goto out;
		m.node = be_get64(b);
		m.time = be_get64(b + 8);
		if (m.node == 0)
			goto out;
		break;
	case WIRE_MSG_QAD:
		if (get_addr(b, n, &m.addr) < 0)
			goto out;
		break;
	case WIRE_MSG_SIGNAL:
	case WIRE_MSG_SIGNAL_FROM:
		if (n < 8 + 1 || n > 8 + WIRE_SIGNAL_MAX)
			goto out;
		m.node = be_get64(b);
		m.data = b + 8;
		m.len = n - 8;
		if (m.node == 0)
			goto out;
		break;
	case WIRE_MSG_PEER_GONE:
		if (n != 9)
			goto out;
		m.node = be_get64(b);
		m.reason = b[8];
		if (m.node == 0 || m.reason == 0)
			goto out;
		break;
	case WIRE_MSG_PING:
	case WIRE_MSG_PONG:
		if (n != 8)
			goto out;
		m.nonce = be_get64(b);
		break;
	default:
		goto out;
	}
	*out = m;
	rc = 0;
out:
	return rc;
}

int wire_msg_decode(const uint8_t *p, size_t n, struct wire_msg *out)
{
	size_t body;

	if (n < WIRE_MSG_HDR_LEN)
		return WEFT_ERR_PARSE;
	body = be_get16(p + 1);
	if (body > WIRE_MSG_BODY_MAX || body != n - WIRE_MSG_HDR_LEN)
		return WEFT_ERR_PARSE;
	return msg_body_decode(p[0], p + WIRE_MSG_HDR_LEN, body, out);
}

/* ---- stream reader ---- */

/* buf[off..len) is unconsumed input. Consumed bytes stay in place until
 * the next feed or next call, because the last message returned borrows
 * them; they are dropped by compact() first thing in both. */
struct wire_reader {
	size_t off;
	size_t len;
	int err;
	uint8_t buf[WIRE_MSG_MAX];
};

int wire_reader_new(struct wire_reader **out)
{
	struct wire_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return WEFT_ERR_NOMEM;
	*out = r;
	return 0;
}

void wire_reader_del(struct wire_reader *r)
{
	free(r);
}

static void compact(struct wire_reader *r)
{
	if (r->off == 0)
		return;
	memmove(r->buf, r->buf + r->off, r->len - r->off);
	r->len -= r->off;
	r->off = 0;
}

size_t wire_reader_feed(struct wire_reader *r, const void *data, size_t len)
{
	size_t k;

	if (r->err)
		return 0;
	compact(r);
	k = sizeof(r->buf) - r->len;
	if (k > len)
		k = len;
	if (k)
		memcpy(r->buf + r->len, data, k);
	r->len += k;
	return k;
}

int wire_reader_next(struct wire_reader *r, struct wire_msg *out)
{
	const uint8_t *p;
	size_t avail, body;
	int rc;

	if (r->err)
		return r->err;
	compact(r);
	p = r->buf;
	avail = r->len;
	/* Reject a bad type or length from the header alone, so a peer
	 * cannot make us wait for 64 KiB that we would refuse anyway. */
	if (avail >= 1 && !known_msg_type(p[0])) {
		rc = WEFT_ERR_PARSE;
		goto out;
	}
	if (avail < WIRE_MSG_HDR_LEN)
		return 0;
	body = be_get16(p + 1);
	if (body > WIRE_MSG_BODY_MAX) {
		rc = WEFT_ERR_PARSE;
		goto out;
	}
	if (avail < WIRE_MSG_HDR_LEN + body)
		return 0;
	rc = msg_body_decode(p[0], p + WIRE_MSG_HDR_LEN, body, out);
	if (rc == 0) {
		r->off = WIRE_MSG_HDR_LEN + body;
		return 1;
	}
out:
	r->err = rc;
	return rc;
}

size_t wire_reader_pending(const struct wire_reader *r)
{
	return r->len - r->off;
}
