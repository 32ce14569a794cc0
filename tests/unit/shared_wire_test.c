#include "check.h"
#include "shared/err.h"
#include "shared/wire.h"

#include <stdlib.h>

static uint8_t big[WIRE_MSG_BODY_MAX + 16];

static struct ip_endpoint ep4(void)
{
	struct ip_endpoint e;

	memset(&e, 0, sizeof(e));
	e.addr.family = 4;
	e.addr.b[0] = 192, e.addr.b[1] = 0, e.addr.b[2] = 2, e.addr.b[3] = 7;
	e.port = 41641;
	return e;
}

static struct ip_endpoint ep6(void)
{
	struct ip_endpoint e;

	memset(&e, 0, sizeof(e));
	e.addr.family = 6;
	e.addr.b[0] = 0x20, e.addr.b[1] = 0x01, e.addr.b[2] = 0x0d;
	e.addr.b[3] = 0xb8, e.addr.b[15] = 0x42;
	e.port = 3478;
	return e;
}

static const uint8_t payload[] = {0xc3, 0x00, 0x00, 0x00, 0x01, 0x08, 0xaa};

/* One valid frame of every type and shape (index < nframes()). */
static struct wire_frame sample_frame(int i)
{
	struct wire_frame f;

	memset(&f, 0, sizeof(f));
	for (int k = 0; k < WIRE_TXID_LEN; k++)
		f.txid[k] = (uint8_t)(0xa0 + k);
	f.node = 0x0102030405060708ull;
	switch (i) {
	case 0:
		f.type = WIRE_RELAY_SEND;
		f.payload = payload, f.payload_len = sizeof(payload);
		break;
	case 1:
		f.type = WIRE_RELAY_RECV;
		f.payload = big, f.payload_len = WIRE_PAYLOAD_MAX;
		break;
	case 2:
		f.type = WIRE_RELAY_SEND;
		f.payload = payload, f.payload_len = 1;
		f.node = UINT64_MAX;
		break;
	case 3:
		f.type = WIRE_PEER_GONE;
		f.reason = WIRE_GONE_OFFLINE;
		break;
	case 4:
		f.type = WIRE_PROBE;
		break;
	case 5:
		f.type = WIRE_PROBE_REPLY;
		f.addr = ep4();
		break;
	default:
		f.type = WIRE_PROBE_REPLY;
		f.addr = ep6();
		break;
	}
	return f;
}

#define NFRAMES 7

static bool frame_eq(const struct wire_frame *a, const struct wire_frame *b)
{
	return a->type == b->type && a->node == b->node &&
	       a->reason == b->reason &&
	       memcmp(a->txid, b->txid, sizeof(a->txid)) == 0 &&
	       memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0 &&
	       a->payload_len == b->payload_len &&
	       (a->payload_len == 0 ||
		memcmp(a->payload, b->payload, a->payload_len) == 0);
}

/* The decoder zeroes fields a type does not use; mirror that. */
static struct wire_frame canonical_frame(struct wire_frame f)
{
	if (f.type != WIRE_PROBE && f.type != WIRE_PROBE_REPLY)
		memset(f.txid, 0, sizeof(f.txid));
	if (f.type != WIRE_PROBE_REPLY)
		memset(&f.addr, 0, sizeof(f.addr));
	if (f.type != WIRE_PEER_GONE)
		f.reason = 0;
	if (f.type != WIRE_RELAY_SEND && f.type != WIRE_RELAY_RECV)
		f.payload = NULL, f.payload_len = 0;
	return f;
}

static void classify_tells_quic_stun_and_frames_apart(void)
{
	uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
	uint8_t p[20] = {0};

	p[0] = 0xc0;
	CHECK_INT(wire_classify(p, 1200), WIRE_KIND_QUIC);
	p[0] = 0x40; /* short header, fixed bit only */
	CHECK_INT(wire_classify(p, 30), WIRE_KIND_QUIC);
	CHECK_INT(wire_classify(stun, 20), WIRE_KIND_STUN);
	stun[0] = 0x01; /* a response (0x0101) */
	CHECK_INT(wire_classify(stun, 20), WIRE_KIND_STUN);
	/* An RFC 3489 Binding request: no cookie, length field n - 20. */
	memset(stun + 4, 0x5a, 16);
	stun[0] = 0x00;
	CHECK_INT(wire_classify(stun, 20), WIRE_KIND_STUN);
	for (int b = 0x30; b <= 0x3f; b++) {
		p[0] = (uint8_t)b;
		CHECK_INT(wire_classify(p, 1), WIRE_KIND_FRAME);
	}
}

static void classify_drops_everything_else(void)
{
	uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
	uint8_t p[20] = {0};

	CHECK_INT(wire_classify(NULL, 0), WIRE_KIND_DROP);
	CHECK_INT(wire_classify(stun, 19), WIRE_KIND_DROP); /* short */
	stun[7] = 0x43; /* no cookie, and a length field that does not fit */
	stun[3] = 4;
	CHECK_INT(wire_classify(stun, 20), WIRE_KIND_DROP);
	stun[3] = 0;
	stun[1] = 0x11; /* no cookie: only a Binding request counts */
	CHECK_INT(wire_classify(stun, 20), WIRE_KIND_DROP);
	stun[1] = 0x01;
	stun[7] = 0x42;
	stun[0] = 0x02; /* STUN-like but not 0x00/0x01 */
	CHECK_INT(wire_classify(stun, 20), WIRE_KIND_DROP);
	for (int b = 0; b < 0x100; b++) {
		if (b & 0x40 || (b >= 0x30 && b <= 0x3f))
			continue;
		p[0] = (uint8_t)b;
		CHECK_INT(wire_classify(p, sizeof(p)), WIRE_KIND_DROP);
	}
}

static void every_frame_round_trips(void)
{
	uint8_t buf[WIRE_FRAME_MAX];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	for (int i = 0; i < NFRAMES; i++) {
		struct wire_frame f = sample_frame(i), g, want;
		uint8_t again[WIRE_FRAME_MAX];
		int n = wire_frame_encode(&f, buf, sizeof(buf));

		REQUIRE(n > 0);
		CHECK_INT(wire_classify(buf, (size_t)n), WIRE_KIND_FRAME);
		REQUIRE_INT(wire_frame_decode(buf, (size_t)n, &g), 0);
		want = canonical_frame(f);
		CHECK(frame_eq(&g, &want));
		if (g.payload_len)
			CHECK(g.payload == buf + 9); /* borrowed, not copied */
		CHECK_INT(wire_frame_encode(&g, again, sizeof(again)), n);
		CHECK_MEM(again, buf, (size_t)n);
	}
}

static void frames_have_the_documented_layout(void)
{
	static const uint8_t send[] = {0x31, 0, 0, 0, 0, 0, 0, 0x01, 0x02,
				       0xde, 0xad};
	static const uint8_t gone[] = {0x33, 0, 0, 0, 0, 0, 0, 0, 0x09, 3};
	static const uint8_t reply[] = {
		0x35, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
		0, 0, 0, 0, 0, 0, 0, 0x07, 4, 0xa2, 0xa9, 192, 0, 2, 7};
	struct wire_frame f;

	REQUIRE_INT(wire_frame_decode(send, sizeof(send), &f), 0);
	CHECK_INT(f.type, WIRE_RELAY_SEND);
	CHECK(f.node == 0x0102);
	CHECK_INT(f.payload_len, 2);
	CHECK_INT(f.payload[0], 0xde);
	REQUIRE_INT(wire_frame_decode(gone, sizeof(gone), &f), 0);
	CHECK(f.node == 9);
	CHECK_INT(f.reason, WIRE_GONE_RATE_LIMITED);
	REQUIRE_INT(wire_frame_decode(reply, sizeof(reply), &f), 0);
	CHECK_INT(f.txid[0], 1);
	CHECK_INT(f.txid[11], 12);
	CHECK(f.node == 7);
	CHECK_INT(f.addr.addr.family, 4);
	CHECK_INT(f.addr.port, 41641);
	CHECK_INT(f.addr.addr.b[0], 192);
	CHECK_INT(f.addr.addr.b[3], 7);
}

static void frame_decode_rejects_every_truncation(void)
{
	uint8_t buf[WIRE_FRAME_MAX];

	for (int i = 0; i < NFRAMES; i++) {
		struct wire_frame f = sample_frame(i), g;
		int n = wire_frame_encode(&f, buf, sizeof(buf));
		bool relay = f.type == WIRE_RELAY_SEND ||
			     f.type == WIRE_RELAY_RECV;

		REQUIRE(n > 0);
		for (int k = 0; k < n; k++) {
			int rc = wire_frame_decode(buf, (size_t)k, &g);

			/* A relay frame's payload runs to the end of the
			 * datagram, so a shorter one is a shorter payload. */
			if (relay && k >= 10) {
				CHECK_INT(rc, 0);
				CHECK_INT(g.payload_len, k - 9);
			} else {
				CHECK_INT(rc, WEFT_ERR_PARSE);
			}
		}
	}
}

static void frame_decode_rejects_trailing_bytes(void)
{
	uint8_t buf[WIRE_FRAME_MAX + 1];

	for (int i = 0; i < NFRAMES; i++) {
		struct wire_frame f = sample_frame(i), g;
		int n = wire_frame_encode(&f, buf, sizeof(buf));

		REQUIRE(n > 0);
		if (f.type == WIRE_RELAY_SEND || f.type == WIRE_RELAY_RECV)
			continue; /* the payload takes the rest */
		buf[n] = 0;
		CHECK_INT(wire_frame_decode(buf, (size_t)n + 1, &g),
			  WEFT_ERR_PARSE);
	}
}

static void frame_decode_rejects_oversized_payload(void)
{
	uint8_t buf[WIRE_FRAME_MAX + 1] = {WIRE_RELAY_RECV, 0, 0, 0, 0, 0, 0,
					   0, 1};
	struct wire_frame f;

	CHECK_INT(wire_frame_decode(buf, WIRE_FRAME_MAX, &f), 0);
	CHECK_INT(wire_frame_decode(buf, WIRE_FRAME_MAX + 1, &f),
		  WEFT_ERR_PARSE);
	CHECK_INT(wire_frame_decode(buf, 9, &f), WEFT_ERR_PARSE); /* empty */
}

static void frame_decode_rejects_unknown_types(void)
{
	uint8_t buf[64] = {0};
	struct wire_frame f;

	buf[8] = 1;
	buf[9] = 1;
	for (int t = 0; t < 0x100; t++) {
		if (t >= WIRE_RELAY_SEND && t <= WIRE_PROBE_REPLY)
			continue;
		buf[0] = (uint8_t)t;
		for (size_t n = 0; n <= sizeof(buf); n++)
			CHECK_INT(wire_frame_decode(buf, n, &f),
				  WEFT_ERR_PARSE);
	}
}

static void frame_decode_rejects_zero_node_id(void)
{
	uint8_t buf[WIRE_FRAME_MAX];

	for (int i = 0; i < NFRAMES; i++) {
		struct wire_frame f = sample_frame(i), g;
		int n = wire_frame_encode(&f, buf, sizeof(buf));
		size_t at = f.type <= WIRE_PEER_GONE ? 1 : 1 + WIRE_TXID_LEN;

		REQUIRE(n > 0);
		memset(buf + at, 0, 8);
		CHECK_INT(wire_frame_decode(buf, (size_t)n, &g),
			  WEFT_ERR_PARSE);
		f.node = 0;
		CHECK_INT(wire_frame_encode(&f, buf, sizeof(buf)),
			  WEFT_ERR_INVAL);
	}
}

static void peer_gone_rejects_reason_zero_but_accepts_new_reasons(void)
{
	uint8_t buf[] = {WIRE_PEER_GONE, 0, 0, 0, 0, 0, 0, 0, 5, 0};
	struct wire_frame f;

	CHECK_INT(wire_frame_decode(buf, sizeof(buf), &f), WEFT_ERR_PARSE);
	buf[9] = 200;
	CHECK_INT(wire_frame_decode(buf, sizeof(buf), &f), 0);
	CHECK_INT(f.reason, 200);
}

static void probe_reply_rejects_bad_addresses(void)
{
	uint8_t buf[64];
	struct wire_frame f = sample_frame(5), g;
	int n = wire_frame_encode(&f, buf, sizeof(buf));
	size_t a = 1 + WIRE_TXID_LEN + 8;

	REQUIRE(n == (int)a + 7);
	buf[a] = 5; /* family */
	CHECK_INT(wire_frame_decode(buf, (size_t)n, &g), WEFT_ERR_PARSE);
	buf[a] = 6; /* says IPv6 but carries 4 bytes */
	CHECK_INT(wire_frame_decode(buf, (size_t)n, &g), WEFT_ERR_PARSE);
	buf[a] = 4;
	buf[a + 1] = buf[a + 2] = 0; /* port 0 */
	CHECK_INT(wire_frame_decode(buf, (size_t)n, &g), WEFT_ERR_PARSE);
	f.addr.port = 0;
	CHECK_INT(wire_frame_encode(&f, buf, sizeof(buf)), WEFT_ERR_INVAL);
	f.addr.port = 1;
	f.addr.addr.family = 0;
	CHECK_INT(wire_frame_encode(&f, buf, sizeof(buf)), WEFT_ERR_INVAL);
}

static void frame_encode_rejects_invalid_frames_and_small_buffers(void)
{
	uint8_t buf[WIRE_FRAME_MAX + 8], copy[sizeof(buf)];
	struct wire_frame f = sample_frame(0);

	memset(buf, 0x5a, sizeof(buf));
	memcpy(copy, buf, sizeof(buf));
	CHECK_INT(wire_frame_encode(&f, buf, 9 + sizeof(payload) - 1),
		  WEFT_ERR_TOOBIG);
	CHECK_MEM(buf, copy, sizeof(buf));
	f.payload_len = 0;
	CHECK_INT(wire_frame_encode(&f, buf, sizeof(buf)), WEFT_ERR_INVAL);
	f.payload_len = WIRE_PAYLOAD_MAX + 1;
	f.payload = big;
	CHECK_INT(wire_frame_encode(&f, buf, sizeof(buf)), WEFT_ERR_INVAL);
	f.payload = NULL;
	f.payload_len = 1;
	CHECK_INT(wire_frame_encode(&f, buf, sizeof(buf)), WEFT_ERR_INVAL);
	f = sample_frame(3);
	f.reason = 0;
	CHECK_INT(wire_frame_encode(&f, buf, sizeof(buf)), WEFT_ERR_INVAL);
	f.type = 0x36;
	f.reason = 1;
	CHECK_INT(wire_frame_encode(&f, buf, sizeof(buf)), WEFT_ERR_INVAL);
	CHECK_MEM(buf, copy, sizeof(buf));
}

static void frame_decode_leaves_output_untouched_on_failure(void)
{
	static const uint8_t bad[] = {WIRE_PROBE, 1, 2};
	struct wire_frame f, before;

	memset(&f, 0x77, sizeof(f));
	before = f;
	CHECK_INT(wire_frame_decode(bad, sizeof(bad), &f), WEFT_ERR_PARSE);
	CHECK_MEM(&f, &before, sizeof(f));
}

/* ---- control messages ---- */

static const uint8_t token[] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiI3In0.c2ln";

static struct wire_msg sample_msg(int i)
{
	struct wire_msg m;

	memset(&m, 0, sizeof(m));
	m.node = 0x1122334455667788ull;
	switch (i) {
	case 0:
		m.type = WIRE_MSG_AUTH;
		m.data = token, m.len = sizeof(token) - 1;
		break;
	case 1:
		m.type = WIRE_MSG_AUTH_OK;
		m.time = 1767225600;
		break;
	case 2:
		m.type = WIRE_MSG_QAD;
		m.addr = ep4();
		break;
	case 3:
		m.type = WIRE_MSG_QAD;
		m.addr = ep6();
		break;
	case 4:
		m.type = WIRE_MSG_SIGNAL;
		m.data = payload, m.len = sizeof(payload);
		break;
	case 5:
		m.type = WIRE_MSG_SIGNAL_FROM;
		m.data = big, m.len = WIRE_SIGNAL_MAX;
		break;
	case 6:
		m.type = WIRE_MSG_PEER_GONE;
		m.reason = WIRE_GONE_UNKNOWN;
		break;
	case 7:
		m.type = WIRE_MSG_PING;
		m.nonce = 0xfedcba9876543210ull;
		break;
	case 8:
		m.type = WIRE_MSG_PONG;
		m.nonce = 0;
		break;
	default:
		/* The largest message there is. */
		m.type = WIRE_MSG_AUTH;
		m.data = big, m.len = WIRE_MSG_BODY_MAX;
		break;
	}
	return m;
}

#define NMSGS 10

static void fill_big_with_token_chars(void)
{
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)('A' + i % 26);
}

static struct wire_msg canonical_msg(struct wire_msg m)
{
	struct wire_msg c;

	memset(&c, 0, sizeof(c));
	c.type = m.type;
	switch (m.type) {
	case WIRE_MSG_AUTH:
		c.data = m.data, c.len = m.len;
		break;
	case WIRE_MSG_AUTH_OK:
		c.node = m.node, c.time = m.time;
		break;
	case WIRE_MSG_QAD:
		c.addr = m.addr;
		break;
	case WIRE_MSG_SIGNAL:
	case WIRE_MSG_SIGNAL_FROM:
		c.node = m.node, c.data = m.data, c.len = m.len;
		break;
	case WIRE_MSG_PEER_GONE:
		c.node = m.node, c.reason = m.reason;
		break;
	default:
		c.nonce = m.nonce;
		break;
	}
	return c;
}

static bool msg_eq(const struct wire_msg *a, const struct wire_msg *b)
{
	return a->type == b->type && a->node == b->node &&
	       a->time == b->time && a->nonce == b->nonce &&
	       a->reason == b->reason &&
	       memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0 &&
	       a->len == b->len &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void every_message_round_trips(void)
{
	static uint8_t buf[WIRE_MSG_MAX], again[WIRE_MSG_MAX];

	fill_big_with_token_chars();
	for (int i = 0; i < NMSGS; i++) {
		struct wire_msg m = sample_msg(i), g, want = canonical_msg(m);
		int n = wire_msg_encode(&m, buf, sizeof(buf));

		REQUIRE(n >= WIRE_MSG_HDR_LEN);
		REQUIRE_INT(wire_msg_decode(buf, (size_t)n, &g), 0);
		CHECK(msg_eq(&g, &want));
		CHECK_INT(wire_msg_encode(&g, again, sizeof(again)), n);
		CHECK_MEM(again, buf, (size_t)n);
	}
}

static void messages_have_the_documented_layout(void)
{
	static const uint8_t auth_ok[] = {0x02, 0x00, 0x10, 0, 0, 0, 0, 0, 0,
					  0x01, 0x00, 0, 0, 0, 0, 0x69, 0x55,
					  0xb9, 0x00};
	static const uint8_t qad6[] = {0x03, 0x00, 0x13, 6, 0x0d, 0x96,
				       0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				       0, 0, 0, 0, 0, 0, 0, 0x42};
	static const uint8_t ping[] = {0x07, 0x00, 0x08, 1, 2, 3, 4,
				       5, 6, 7, 8};
	uint8_t buf[64];
	struct wire_msg m = sample_msg(3), g;

	REQUIRE_INT(wire_msg_decode(auth_ok, sizeof(auth_ok), &g), 0);
	CHECK(g.node == 0x100);
	CHECK(g.time == 1767225600);
	CHECK_INT(wire_msg_encode(&m, buf, sizeof(buf)), sizeof(qad6));
	CHECK_MEM(buf, qad6, sizeof(qad6));
	REQUIRE_INT(wire_msg_decode(ping, sizeof(ping), &g), 0);
	CHECK(g.nonce == 0x0102030405060708ull);
}

static void message_decode_rejects_every_truncation_and_extension(void)
{
	static uint8_t buf[WIRE_MSG_MAX + 1];

	fill_big_with_token_chars();
	for (int i = 0; i < NMSGS; i++) {
		struct wire_msg m = sample_msg(i), g;
		int n = wire_msg_encode(&m, buf, sizeof(buf));

		REQUIRE(n > 0);
		for (int k = 0; k < n; k++)
			CHECK_INT(wire_msg_decode(buf, (size_t)k, &g),
				  WEFT_ERR_PARSE);
		buf[n] = 'A';
		CHECK_INT(wire_msg_decode(buf, (size_t)n + 1, &g),
			  WEFT_ERR_PARSE);
	}
}

/* The length field agrees with the buffer, but the body has the wrong
 * size for its type. */
static void message_decode_rejects_bodies_of_the_wrong_size(void)
{
	static uint8_t buf[WIRE_MSG_MAX + 1];
	static const uint8_t types[] = {WIRE_MSG_AUTH_OK, WIRE_MSG_QAD,
					WIRE_MSG_PEER_GONE, WIRE_MSG_PING,
					WIRE_MSG_PONG};
	struct wire_msg g;

	memset(buf, 0x01, sizeof(buf));
	for (size_t t = 0; t < sizeof(types); t++) {
		int good = 0;

		buf[0] = types[t];
		for (size_t body = 0; body <= 40; body++) {
			buf[1] = 0;
			buf[2] = (uint8_t)body;
			if (types[t] == WIRE_MSG_QAD)
				buf[3] = body == 7 ? 4 : 6;
			if (wire_msg_decode(buf, 3 + body, &g) == 0)
				good++;
		}
		CHECK_INT(good, types[t] == WIRE_MSG_QAD ? 2 : 1);
	}
	/* SIGNAL: node only, and one byte over the limit. */
	buf[0] = WIRE_MSG_SIGNAL;
	buf[1] = 0, buf[2] = 8;
	CHECK_INT(wire_msg_decode(buf, 3 + 8, &g), WEFT_ERR_PARSE);
	buf[1] = (8 + WIRE_SIGNAL_MAX + 1) >> 8;
	buf[2] = (uint8_t)(8 + WIRE_SIGNAL_MAX + 1);
	CHECK_INT(wire_msg_decode(buf, 3 + 8 + WIRE_SIGNAL_MAX + 1, &g),
		  WEFT_ERR_PARSE);
	buf[2] = (uint8_t)(8 + WIRE_SIGNAL_MAX);
	CHECK_INT(wire_msg_decode(buf, 3 + 8 + WIRE_SIGNAL_MAX, &g), 0);
}

static void message_decode_rejects_oversized_bodies(void)
{
	static uint8_t buf[WIRE_MSG_MAX + 1];
	struct wire_msg g;

	memset(buf, 'A', sizeof(buf));
	buf[0] = WIRE_MSG_AUTH;
	buf[1] = WIRE_MSG_BODY_MAX >> 8, buf[2] = 0;
	CHECK_INT(wire_msg_decode(buf, WIRE_MSG_MAX, &g), 0);
	buf[2] = 1; /* 4097 */
	CHECK_INT(wire_msg_decode(buf, WIRE_MSG_MAX + 1, &g), WEFT_ERR_PARSE);
	{
		struct wire_msg m = sample_msg(0);

		m.data = big;
		m.len = WIRE_MSG_BODY_MAX + 1;
		CHECK_INT(wire_msg_encode(&m, buf, sizeof(buf)),
			  WEFT_ERR_INVAL);
	}
}

static void message_decode_rejects_unknown_types(void)
{
	uint8_t buf[3 + 16] = {0, 0, 16};
	struct wire_msg g;

	memset(buf + 3, 1, 16);
	for (int t = 0; t < 0x100; t++) {
		if (t >= WIRE_MSG_AUTH && t <= WIRE_MSG_PONG)
			continue;
		buf[0] = (uint8_t)t;
		CHECK_INT(wire_msg_decode(buf, sizeof(buf), &g),
			  WEFT_ERR_PARSE);
	}
	buf[0] = WIRE_MSG_AUTH_OK; /* the same bytes, known type */
	CHECK_INT(wire_msg_decode(buf, sizeof(buf), &g), 0);
}

static void message_decode_rejects_zero_node_id_and_reason(void)
{
	static uint8_t buf[WIRE_MSG_MAX];
	static const int with_node[] = {1, 4, 5, 6};

	for (size_t i = 0; i < sizeof(with_node) / sizeof(*with_node); i++) {
		struct wire_msg m = sample_msg(with_node[i]), g;
		int n = wire_msg_encode(&m, buf, sizeof(buf));

		REQUIRE(n > 0);
		memset(buf + 3, 0, 8);
		CHECK_INT(wire_msg_decode(buf, (size_t)n, &g), WEFT_ERR_PARSE);
		m.node = 0;
		CHECK_INT(wire_msg_encode(&m, buf, sizeof(buf)),
			  WEFT_ERR_INVAL);
	}
	{
		struct wire_msg m = sample_msg(6), g;
		int n = wire_msg_encode(&m, buf, sizeof(buf));

		REQUIRE(n == 12);
		buf[11] = 0;
		CHECK_INT(wire_msg_decode(buf, 12, &g), WEFT_ERR_PARSE);
	}
}

static void auth_token_must_be_visible_ascii(void)
{
	uint8_t buf[16] = {WIRE_MSG_AUTH, 0, 3, 'a', 'b', 'c'};
	struct wire_msg g, m;

	CHECK_INT(wire_msg_decode(buf, 6, &g), 0);
	CHECK_INT(g.len, 3);
	for (int c = 0; c < 0x100; c++) {
		buf[4] = (uint8_t)c;
		CHECK_INT(wire_msg_decode(buf, 6, &g),
			  c >= 0x21 && c <= 0x7e ? 0 : WEFT_ERR_PARSE);
	}
	buf[2] = 0; /* empty token */
	CHECK_INT(wire_msg_decode(buf, 3, &g), WEFT_ERR_PARSE);
	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_AUTH;
	m.data = (const uint8_t *)"a b";
	m.len = 3;
	CHECK_INT(wire_msg_encode(&m, buf, sizeof(buf)), WEFT_ERR_INVAL);
}

static void message_encode_reports_small_buffers(void)
{
	uint8_t buf[32], copy[32];
	struct wire_msg m = sample_msg(1);

	memset(buf, 0x5a, sizeof(buf));
	memcpy(copy, buf, sizeof(buf));
	CHECK_INT(wire_msg_encode(&m, buf, 18), WEFT_ERR_TOOBIG);
	CHECK_MEM(buf, copy, sizeof(buf));
	CHECK_INT(wire_msg_encode(&m, buf, 19), 19);
}

/* ---- stream reader ---- */

/* All sample messages back to back; returns the stream length. */
static size_t sample_stream(uint8_t *buf, size_t cap)
{
	size_t n = 0;

	fill_big_with_token_chars();
	for (int i = 0; i < NMSGS; i++) {
		struct wire_msg m = sample_msg(i);
		int k = wire_msg_encode(&m, buf + n, cap - n);

		if (k < 0)
			abort();
		n += (size_t)k;
	}
	return n;
}

/* Feeds stream[0..n) in chunks from next_chunk() and checks that exactly
 * the sample messages come out, in order. */
static void read_in_chunks(const uint8_t *stream, size_t n,
			   size_t (*next_chunk)(unsigned *state),
			   unsigned seed)
{
	struct wire_reader *r = NULL;
	size_t off = 0;
	int seen = 0;

	REQUIRE_INT(wire_reader_new(&r), 0);
	while (off < n) {
		size_t want = next_chunk(&seed), k;
		struct wire_msg g;
		int rc;

		if (want > n - off)
			want = n - off;
		k = wire_reader_feed(r, stream + off, want);
		off += k;
		while ((rc = wire_reader_next(r, &g)) == 1) {
			struct wire_msg want_m = canonical_msg(sample_msg(seen));

			if (!CHECK(seen < NMSGS && msg_eq(&g, &want_m)))
				goto out;
			seen++;
		}
		if (!CHECK(rc == 0))
			goto out;
	}
	CHECK_INT(seen, NMSGS);
	CHECK_INT(wire_reader_pending(r), 0);
out:
	wire_reader_del(r);
}

static size_t one_byte(unsigned *state)
{
	(void)state;
	return 1;
}

static size_t random_chunk(unsigned *state)
{
	*state = *state * 1103515245u + 12345u;
	/* Mostly small chunks, sometimes several messages at once. */
	return (*state >> 16) % 4 == 0 ? (*state >> 8) % 9000 + 1
				       : (*state >> 8) % 40 + 1;
}

static void reader_yields_messages_fed_byte_by_byte(void)
{
	static uint8_t stream[NMSGS * WIRE_MSG_MAX];
	size_t n = sample_stream(stream, sizeof(stream));

	read_in_chunks(stream, n, one_byte, 0);
}

static void reader_yields_messages_fed_in_random_chunks(void)
{
	static uint8_t stream[NMSGS * WIRE_MSG_MAX];
	size_t n = sample_stream(stream, sizeof(stream));

	for (unsigned seed = 1; seed <= 200; seed++)
		read_in_chunks(stream, n, random_chunk, seed);
}

static void reader_never_buffers_more_than_one_message(void)
{
	static uint8_t stream[3 * WIRE_MSG_MAX];
	struct wire_reader *r = NULL;
	struct wire_msg g;
	size_t k;

	fill_big_with_token_chars();
	for (int i = 0; i < 3; i++) {
		struct wire_msg m = sample_msg(9); /* 4096-byte AUTH */

		REQUIRE_INT(wire_msg_encode(&m, stream + i * WIRE_MSG_MAX,
					    WIRE_MSG_MAX), WIRE_MSG_MAX);
	}
	REQUIRE_INT(wire_reader_new(&r), 0);
	k = wire_reader_feed(r, stream, sizeof(stream));
	CHECK_INT(k, WIRE_MSG_MAX);
	CHECK_INT(wire_reader_feed(r, stream + k, sizeof(stream) - k), 0);
	CHECK_INT(wire_reader_next(r, &g), 1);
	CHECK_INT(g.len, WIRE_MSG_BODY_MAX);
	CHECK_INT(wire_reader_next(r, &g), 0);
	CHECK_INT(wire_reader_feed(r, stream + k, sizeof(stream) - k),
		  WIRE_MSG_MAX);
	CHECK_INT(wire_reader_next(r, &g), 1);
	wire_reader_del(r);
}

static void reader_rejects_unknown_type_from_the_first_byte(void)
{
	struct wire_reader *r = NULL;
	struct wire_msg g;
	uint8_t b = 0x09;

	REQUIRE_INT(wire_reader_new(&r), 0);
	CHECK_INT(wire_reader_feed(r, &b, 1), 1);
	CHECK_INT(wire_reader_next(r, &g), WEFT_ERR_PARSE);
	/* Dead from now on. */
	CHECK_INT(wire_reader_next(r, &g), WEFT_ERR_PARSE);
	CHECK_INT(wire_reader_feed(r, &b, 1), 0);
	wire_reader_del(r);
}

static void reader_rejects_oversized_length_from_the_header(void)
{
	struct wire_reader *r = NULL;
	struct wire_msg g;
	const uint8_t hdr[] = {WIRE_MSG_SIGNAL, 0x10, 0x01};

	REQUIRE_INT(wire_reader_new(&r), 0);
	CHECK_INT(wire_reader_feed(r, hdr, 2), 2);
	CHECK_INT(wire_reader_next(r, &g), 0);
	CHECK_INT(wire_reader_feed(r, hdr + 2, 1), 1);
	CHECK_INT(wire_reader_next(r, &g), WEFT_ERR_PARSE);
	wire_reader_del(r);
}

static void reader_rejects_malformed_complete_message(void)
{
	struct wire_reader *r = NULL;
	struct wire_msg g;
	/* A valid PING, then a PEER_GONE with reason 0. */
	const uint8_t s[] = {WIRE_MSG_PING, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
			     WIRE_MSG_PEER_GONE, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1,
			     0};

	REQUIRE_INT(wire_reader_new(&r), 0);
	CHECK_INT(wire_reader_feed(r, s, sizeof(s)), sizeof(s));
	CHECK_INT(wire_reader_next(r, &g), 1);
	CHECK_INT(g.type, WIRE_MSG_PING);
	CHECK_INT(wire_reader_next(r, &g), WEFT_ERR_PARSE);
	wire_reader_del(r);
}

static void reader_reports_a_partial_message_as_pending(void)
{
	struct wire_reader *r = NULL;
	struct wire_msg g;
	const uint8_t s[] = {WIRE_MSG_PONG, 0, 8, 1, 2, 3};

	REQUIRE_INT(wire_reader_new(&r), 0);
	CHECK_INT(wire_reader_pending(r), 0);
	CHECK_INT(wire_reader_feed(r, s, sizeof(s)), sizeof(s));
	CHECK_INT(wire_reader_next(r, &g), 0);
	CHECK_INT(wire_reader_pending(r), sizeof(s));
	wire_reader_del(r);
	wire_reader_del(NULL);
}

static const struct check_case cases[] = {
	CHECK_CASE(classify_tells_quic_stun_and_frames_apart),
	CHECK_CASE(classify_drops_everything_else),
	CHECK_CASE(every_frame_round_trips),
	CHECK_CASE(frames_have_the_documented_layout),
	CHECK_CASE(frame_decode_rejects_every_truncation),
	CHECK_CASE(frame_decode_rejects_trailing_bytes),
	CHECK_CASE(frame_decode_rejects_oversized_payload),
	CHECK_CASE(frame_decode_rejects_unknown_types),
	CHECK_CASE(frame_decode_rejects_zero_node_id),
	CHECK_CASE(peer_gone_rejects_reason_zero_but_accepts_new_reasons),
	CHECK_CASE(probe_reply_rejects_bad_addresses),
	CHECK_CASE(frame_encode_rejects_invalid_frames_and_small_buffers),
	CHECK_CASE(frame_decode_leaves_output_untouched_on_failure),
	CHECK_CASE(every_message_round_trips),
	CHECK_CASE(messages_have_the_documented_layout),
	CHECK_CASE(message_decode_rejects_every_truncation_and_extension),
	CHECK_CASE(message_decode_rejects_bodies_of_the_wrong_size),
	CHECK_CASE(message_decode_rejects_oversized_bodies),
	CHECK_CASE(message_decode_rejects_unknown_types),
	CHECK_CASE(message_decode_rejects_zero_node_id_and_reason),
	CHECK_CASE(auth_token_must_be_visible_ascii),
	CHECK_CASE(message_encode_reports_small_buffers),
	CHECK_CASE(reader_yields_messages_fed_byte_by_byte),
	CHECK_CASE(reader_yields_messages_fed_in_random_chunks),
	CHECK_CASE(reader_never_buffers_more_than_one_message),
	CHECK_CASE(reader_rejects_unknown_type_from_the_first_byte),
	CHECK_CASE(reader_rejects_oversized_length_from_the_header),
	CHECK_CASE(reader_rejects_malformed_complete_message),
	CHECK_CASE(reader_reports_a_partial_message_as_pending),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
