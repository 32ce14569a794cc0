#include "check.h"
#include "shared/err.h"
#include "shared/ip.h"
#include "shared/stun.h"
#include "shared/wire.h"

/* RFC 5769 §2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED,
 * USERNAME, MESSAGE-INTEGRITY, FINGERPRINT). */
static const uint8_t rfc5769_request[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2: sample IPv4 response, mapped address 192.0.2.1:32853. */
static const uint8_t rfc5769_response4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3: sample IPv6 response, mapped address
 * [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc5769_response6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
	0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const uint8_t rfc5769_txid[STUN_TXID_LEN] = {
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
};

static struct ip_endpoint endpoint(const char *s)
{
	struct ip_endpoint e;

	memset(&e, 0, sizeof(e));
	if (ip_endpoint_parse(s, &e) != 0)
		check_report(false, __FILE__, __LINE__, "bad endpoint %s", s);
	return e;
}

static void parses_rfc5769_sample_request(void)
{
	uint8_t txid[STUN_TXID_LEN] = {0};

	CHECK_INT(wire_classify(rfc5769_request, sizeof(rfc5769_request)),
		  WIRE_KIND_STUN);
	CHECK_INT(stun_binding_request_parse(rfc5769_request,
					     sizeof(rfc5769_request), txid),
		  0);
	CHECK_MEM(txid, rfc5769_txid, STUN_TXID_LEN);
}

static void parses_rfc5769_sample_ipv4_response(void)
{
	struct ip_endpoint got, want = endpoint("192.0.2.1:32853");
	uint8_t txid[STUN_TXID_LEN] = {0};

	CHECK_INT(stun_binding_response_parse(rfc5769_response4,
					      sizeof(rfc5769_response4), txid,
					      &got),
		  0);
	CHECK_MEM(txid, rfc5769_txid, STUN_TXID_LEN);
	CHECK_MEM(&got, &want, sizeof(got));
}

static void parses_rfc5769_sample_ipv6_response(void)
{
	struct ip_endpoint got,
		want = endpoint("[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	uint8_t txid[STUN_TXID_LEN] = {0};

	CHECK_INT(stun_binding_response_parse(rfc5769_response6,
					      sizeof(rfc5769_response6), txid,
					      &got),
		  0);
	CHECK_MEM(txid, rfc5769_txid, STUN_TXID_LEN);
	CHECK_MEM(&got, &want, sizeof(got));
}

/* Our response for the RFC's mapped address must carry the RFC's
 * XOR-MAPPED-ADDRESS bytes. */
static void builds_the_rfc5769_xor_mapped_address_bytes(void)
{
	struct ip_endpoint e4 = endpoint("192.0.2.1:32853"),
			   e6 = endpoint(
				   "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	uint8_t buf[STUN_RESPONSE_MAX];

	REQUIRE_INT(stun_binding_response_build(rfc5769_txid, &e4, buf,
						sizeof(buf)),
		    40);
	CHECK_MEM(buf + 20, rfc5769_response4 + 36, 12);
	CHECK_INT(buf[3], 20); /* header length: XMA 12 + FINGERPRINT 8 */
	REQUIRE_INT(stun_binding_response_build(rfc5769_txid, &e6, buf,
						sizeof(buf)),
		    52);
	CHECK_MEM(buf + 20, rfc5769_response6 + 36, 24);
}

static void response_round_trips_for_both_families(void)
{
	const char *eps[] = {"203.0.113.9:1", "198.51.100.200:65535",
			     "[::1]:443", "[fe80::1:2:3:4]:51820",
			     "[::ffff:10.0.0.1]:9"};
	uint8_t txid[STUN_TXID_LEN], got_txid[STUN_TXID_LEN];
	uint8_t buf[STUN_RESPONSE_MAX];

	for (int i = 0; i < STUN_TXID_LEN; i++)
		txid[i] = (uint8_t)(i * 37 + 5);
	for (size_t i = 0; i < sizeof(eps) / sizeof(*eps); i++) {
		struct ip_endpoint e = endpoint(eps[i]), got;
		int n = stun_binding_response_build(txid, &e, buf, sizeof(buf));

		REQUIRE(n > 0);
		CHECK_INT(wire_classify(buf, (size_t)n), WIRE_KIND_STUN);
		REQUIRE_INT(stun_binding_response_parse(buf, (size_t)n,
							got_txid, &got),
			    0);
		CHECK_MEM(got_txid, txid, STUN_TXID_LEN);
		CHECK_MEM(&got, &e, sizeof(e));
	}
}

static void request_round_trips(void)
{
	uint8_t txid[STUN_TXID_LEN], got[STUN_TXID_LEN];
	uint8_t buf[STUN_REQUEST_LEN];

	memset(txid, 0xc5, sizeof(txid));
	REQUIRE_INT(stun_binding_request_build(txid, buf, sizeof(buf)),
		    STUN_REQUEST_LEN);
	CHECK_INT(buf[0], 0x00);
	CHECK_INT(buf[1], 0x01);
	CHECK_INT(wire_classify(buf, sizeof(buf)), WIRE_KIND_STUN);
	REQUIRE_INT(stun_binding_request_parse(buf, sizeof(buf), got), 0);
	CHECK_MEM(got, txid, STUN_TXID_LEN);
	CHECK_INT(stun_binding_request_build(txid, buf, sizeof(buf) - 1),
		  WEFT_ERR_TOOBIG);
}

static void rejects_a_wrong_fingerprint(void)
{
	uint8_t req[sizeof(rfc5769_request)], res[sizeof(rfc5769_response4)];
	uint8_t txid[STUN_TXID_LEN];
	struct ip_endpoint e;

	memcpy(req, rfc5769_request, sizeof(req));
	req[sizeof(req) - 1] ^= 0x01;
	CHECK_INT(stun_binding_request_parse(req, sizeof(req), txid),
		  WEFT_ERR_PARSE);
	/* A change in covered bytes breaks it too (here, SOFTWARE text). */
	memcpy(req, rfc5769_request, sizeof(req));
	req[25] = 'X';
	CHECK_INT(stun_binding_request_parse(req, sizeof(req), txid),
		  WEFT_ERR_PARSE);
	memcpy(res, rfc5769_response4, sizeof(res));
	res[43] ^= 0x01; /* mapped port */
	CHECK_INT(stun_binding_response_parse(res, sizeof(res), txid, &e),
		  WEFT_ERR_PARSE);
}

static void accepts_a_message_without_fingerprint(void)
{
	/* The IPv4 sample up to MESSAGE-INTEGRITY, length fixed up. */
	uint8_t res[sizeof(rfc5769_response4) - 8];
	uint8_t txid[STUN_TXID_LEN];
	struct ip_endpoint e, want = endpoint("192.0.2.1:32853");

	memcpy(res, rfc5769_response4, sizeof(res));
	res[3] -= 8;
	CHECK_INT(stun_binding_response_parse(res, sizeof(res), txid, &e), 0);
	CHECK_MEM(&e, &want, sizeof(e));
}

static void rejects_fingerprint_that_is_not_last(void)
{
	/* header, FINGERPRINT, PRIORITY: the fingerprint is even correct
	 * for the bytes before it. */
	uint8_t txid[STUN_TXID_LEN] = {1};
	uint8_t buf[STUN_REQUEST_LEN + 8];

	REQUIRE_INT(stun_binding_request_build(txid, buf, sizeof(buf)),
		    STUN_REQUEST_LEN);
	memcpy(buf + STUN_REQUEST_LEN,
	       (const uint8_t[]){0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4}, 8);
	buf[3] = 16;
	CHECK_INT(stun_binding_request_parse(buf, sizeof(buf), txid),
		  WEFT_ERR_PARSE);
}

static void rejects_every_truncation_and_trailing_bytes(void)
{
	uint8_t buf[sizeof(rfc5769_request) + 4];
	uint8_t txid[STUN_TXID_LEN];
	struct ip_endpoint e;

	for (size_t k = 0; k < sizeof(rfc5769_request); k++)
		CHECK_INT(stun_binding_request_parse(rfc5769_request, k, txid),
			  WEFT_ERR_PARSE);
	for (size_t k = 0; k < sizeof(rfc5769_response6); k++)
		CHECK_INT(stun_binding_response_parse(rfc5769_response6, k,
						      txid, &e),
			  WEFT_ERR_PARSE);
	memcpy(buf, rfc5769_request, sizeof(rfc5769_request));
	memset(buf + sizeof(rfc5769_request), 0, 4);
	CHECK_INT(stun_binding_request_parse(buf, sizeof(buf), txid),
		  WEFT_ERR_PARSE);
}

static void rejects_bad_headers(void)
{
	uint8_t txid[STUN_TXID_LEN] = {0}, out[STUN_TXID_LEN];
	uint8_t buf[STUN_REQUEST_LEN], good[STUN_REQUEST_LEN];

	REQUIRE_INT(stun_binding_request_build(txid, good, sizeof(good)),
		    STUN_REQUEST_LEN);
	memcpy(buf, good, sizeof(buf));
	buf[0] = 0x40; /* top bits set */
	CHECK_INT(stun_binding_request_parse(buf, sizeof(buf), out),
		  WEFT_ERR_PARSE);
	memcpy(buf, good, sizeof(buf));
	buf[6] = 0; /* cookie */
	CHECK_INT(stun_binding_request_parse(buf, sizeof(buf), out),
		  WEFT_ERR_PARSE);
	memcpy(buf, good, sizeof(buf));
	buf[3] = 6; /* not a multiple of 4 */
	CHECK_INT(stun_binding_request_parse(buf, sizeof(buf), out),
		  WEFT_ERR_PARSE);
	buf[3] = 12; /* more than there is */
	CHECK_INT(stun_binding_request_parse(buf, sizeof(buf), out),
		  WEFT_ERR_PARSE);
	/* An attribute whose length runs past the message. */
	memcpy(buf, good, sizeof(buf));
	buf[23] = 5;
	CHECK_INT(stun_binding_request_parse(buf, sizeof(buf), out),
		  WEFT_ERR_PARSE);
}

/* Builds a message of msg_type with one attribute (type, len bytes of v,
 * zero padding) and no FINGERPRINT into buf; returns its length. */
static size_t with_attribute(uint8_t *buf, uint16_t msg_type, uint16_t type,
			     const uint8_t *v, size_t len)
{
	uint8_t txid[STUN_TXID_LEN] = {9, 8, 7};
	size_t padded = (len + 3) & ~(size_t)3, n;

	(void)stun_binding_request_build(txid, buf, 64);
	buf[0] = (uint8_t)(msg_type >> 8);
	buf[1] = (uint8_t)msg_type;
	buf[20] = (uint8_t)(type >> 8);
	buf[21] = (uint8_t)type;
	buf[22] = 0;
	buf[23] = (uint8_t)len;
	memset(buf + 24, 0, padded);
	memcpy(buf + 24, v, len);
	n = 24 + padded;
	buf[2] = 0;
	buf[3] = (uint8_t)(n - 20);
	return n;
}

static void skips_known_and_optional_attributes_in_requests(void)
{
	static const uint16_t ok_types[] = {0x0006, 0x0008, 0x0014, 0x0015,
					    0x001c, 0x001e, 0x0024, 0x0025,
					    0x8022, 0x8029, 0x802a, 0xc001};
	static const uint8_t v[5] = {'a', 'b', 'c', 'd', 'e'};
	uint8_t buf[64], txid[STUN_TXID_LEN];

	for (size_t i = 0; i < sizeof(ok_types) / sizeof(*ok_types); i++) {
		size_t n = with_attribute(buf, 0x0001, ok_types[i], v, 5);

		CHECK_INT(stun_binding_request_parse(buf, n, txid), 0);
	}
}

static void rejects_unknown_comprehension_required_attributes(void)
{
	static const uint8_t v[4] = {0, 0, 0, 0};
	static const uint8_t flags[4] = {0, 0, 0, 0x04};
	uint8_t buf[64], txid[STUN_TXID_LEN], before[STUN_TXID_LEN];
	size_t n;

	memset(txid, 0xee, sizeof(txid));
	memcpy(before, txid, sizeof(txid));
	n = with_attribute(buf, 0x0001, 0x7fff, v, 4);
	CHECK_INT(stun_binding_request_parse(buf, n, txid),
		  WEFT_ERR_UNSUPPORTED);
	n = with_attribute(buf, 0x0001, 0x0027, v, 4); /* RESPONSE-PORT */
	CHECK_INT(stun_binding_request_parse(buf, n, txid),
		  WEFT_ERR_UNSUPPORTED);
	/* CHANGE-REQUEST without flags asks nothing; with them, it asks
	 * for an answer from another address that we do not have. */
	n = with_attribute(buf, 0x0001, 0x0003, flags, 4);
	CHECK_INT(stun_binding_request_parse(buf, n, txid),
		  WEFT_ERR_UNSUPPORTED);
	CHECK_MEM(txid, before, sizeof(txid));
	n = with_attribute(buf, 0x0001, 0x0003, v, 4);
	CHECK_INT(stun_binding_request_parse(buf, n, txid), 0);
}

static void ignores_unknown_attributes_after_message_integrity(void)
{
	static const uint8_t mi[20] = {0};
	uint8_t buf[96], txid[STUN_TXID_LEN];
	size_t n = with_attribute(buf, 0x0001, 0x0008, mi, sizeof(mi));

	memcpy(buf + n, (const uint8_t[]){0x7f, 0xff, 0, 4, 1, 2, 3, 4}, 8);
	n += 8;
	buf[3] = (uint8_t)(n - 20);
	CHECK_INT(stun_binding_request_parse(buf, n, txid), 0);
}

static void rejects_other_message_types(void)
{
	uint8_t buf[64], txid[STUN_TXID_LEN];
	struct ip_endpoint e;
	static const uint8_t v[4] = {0};
	size_t n;

	/* Binding indication, error response, and another method. */
	n = with_attribute(buf, 0x0011, 0x8022, v, 4);
	CHECK_INT(stun_binding_request_parse(buf, n, txid),
		  WEFT_ERR_UNSUPPORTED);
	n = with_attribute(buf, 0x0111, 0x8022, v, 4);
	CHECK_INT(stun_binding_response_parse(buf, n, txid, &e),
		  WEFT_ERR_UNSUPPORTED);
	n = with_attribute(buf, 0x0003, 0x8022, v, 4); /* Allocate */
	CHECK_INT(stun_binding_request_parse(buf, n, txid),
		  WEFT_ERR_UNSUPPORTED);
	/* A request is not a response and vice versa. */
	CHECK_INT(stun_binding_response_parse(rfc5769_request,
					      sizeof(rfc5769_request), txid,
					      &e),
		  WEFT_ERR_UNSUPPORTED);
	CHECK_INT(stun_binding_request_parse(rfc5769_response4,
					     sizeof(rfc5769_response4), txid),
		  WEFT_ERR_UNSUPPORTED);
}

static void response_needs_a_valid_xor_mapped_address(void)
{
	uint8_t buf[64], txid[STUN_TXID_LEN];
	struct ip_endpoint e, before;
	static const uint8_t v4_as_v6[8] = {0, 0x02, 0xa1, 0x47,
					    0xe1, 0x12, 0xa6, 0x43};
	static const uint8_t family3[8] = {0, 0x03, 0xa1, 0x47,
					   0xe1, 0x12, 0xa6, 0x43};
	static const uint8_t good[8] = {0, 0x01, 0xa1, 0x47,
					0xe1, 0x12, 0xa6, 0x43};
	static const uint8_t software[4] = {'w', 'e', 'f', 't'};
	size_t n;

	memset(&e, 0x3c, sizeof(e));
	before = e;
	n = with_attribute(buf, 0x0101, 0x8022, software, 4);
	CHECK_INT(stun_binding_response_parse(buf, n, txid, &e),
		  WEFT_ERR_PARSE);
	n = with_attribute(buf, 0x0101, 0x0020, v4_as_v6, 8);
	CHECK_INT(stun_binding_response_parse(buf, n, txid, &e),
		  WEFT_ERR_PARSE);
	n = with_attribute(buf, 0x0101, 0x0020, family3, 8);
	CHECK_INT(stun_binding_response_parse(buf, n, txid, &e),
		  WEFT_ERR_PARSE);
	CHECK_MEM(&e, &before, sizeof(e));
	n = with_attribute(buf, 0x0101, 0x0020, good, 8);
	CHECK_INT(stun_binding_response_parse(buf, n, txid, &e), 0);
	CHECK_INT(e.port, 32853);
	/* An unknown comprehension-required attribute voids a response. */
	n = with_attribute(buf, 0x0101, 0x0020, good, 8);
	memcpy(buf + n, (const uint8_t[]){0x00, 0x30, 0, 4, 1, 2, 3, 4}, 8);
	n += 8;
	buf[3] = (uint8_t)(n - 20);
	CHECK_INT(stun_binding_response_parse(buf, n, txid, &e),
		  WEFT_ERR_UNSUPPORTED);
}

static void response_build_rejects_bad_family_and_small_buffer(void)
{
	uint8_t txid[STUN_TXID_LEN] = {0}, buf[STUN_RESPONSE_MAX];
	struct ip_endpoint e = endpoint("[2001:db8::1]:3478");

	CHECK_INT(stun_binding_response_build(txid, &e, buf, 51),
		  WEFT_ERR_TOOBIG);
	e.addr.family = 5;
	CHECK_INT(stun_binding_response_build(txid, &e, buf, sizeof(buf)),
		  WEFT_ERR_INVAL);
}

/* What Debian's `stun` client (stund 0.97, RFC 3489) sends first: no
 * cookie, a 16-byte transaction id, CHANGE-REQUEST with no flags. */
static const uint8_t rfc3489_request[] = {
	0x00, 0x01, 0x00, 0x08, 0x01, 0xe3, 0x30, 0x26, 0xcf, 0xe5, 0x08, 0x05,
	0xfd, 0x59, 0xd0, 0x65, 0xa4, 0xa7, 0x4a, 0x0c, 0x00, 0x03, 0x00, 0x04,
	0x00, 0x00, 0x00, 0x00,
};

static void answers_rfc3489_request_with_mapped_address(void)
{
	struct stun_request req;
	uint8_t buf[STUN_RESPONSE_MAX];
	struct ip_endpoint e = endpoint("192.0.2.1:32853");
	static const uint8_t want4[] = {
		0x01, 0x01, 0x00, 0x0c, 0x01, 0xe3, 0x30, 0x26, 0xcf, 0xe5,
		0x08, 0x05, 0xfd, 0x59, 0xd0, 0x65, 0xa4, 0xa7, 0x4a, 0x0c,
		0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x80, 0x55, 0xc0, 0x00,
		0x02, 0x01,
	};

	CHECK_INT(wire_classify(rfc3489_request, sizeof(rfc3489_request)),
		  WIRE_KIND_STUN);
	REQUIRE_INT(stun_request_parse(rfc3489_request,
				       sizeof(rfc3489_request), &req),
		    0);
	CHECK(req.classic);
	CHECK_INT(stun_response_build(&req, &e, buf, sizeof(buf)),
		  sizeof(want4));
	CHECK_MEM(buf, want4, sizeof(want4));
	e = endpoint("[2001:db8::1]:3478");
	REQUIRE_INT(stun_response_build(&req, &e, buf, sizeof(buf)), 44);
	CHECK_INT(buf[3], 24);
	CHECK_INT(buf[25], 0x02);
	CHECK_MEM(buf + 28, e.addr.b, 16);
	CHECK_INT(stun_response_build(&req, &e, buf, 43), WEFT_ERR_TOOBIG);
	/* The cookie-only parser still wants the cookie. */
	{
		uint8_t txid[STUN_TXID_LEN];

		CHECK_INT(stun_binding_request_parse(rfc3489_request,
						     sizeof(rfc3489_request),
						     txid),
			  WEFT_ERR_PARSE);
	}
}

static void modern_request_gets_the_same_answer_from_both_builders(void)
{
	struct stun_request req;
	uint8_t a[STUN_RESPONSE_MAX], b[STUN_RESPONSE_MAX];
	struct ip_endpoint e = endpoint("192.0.2.1:32853");

	REQUIRE_INT(stun_request_parse(rfc5769_request,
				       sizeof(rfc5769_request), &req),
		    0);
	CHECK(!req.classic);
	CHECK_MEM(req.txid, rfc5769_txid, STUN_TXID_LEN);
	CHECK_INT(stun_response_build(&req, &e, a, sizeof(a)), 40);
	CHECK_INT(stun_binding_response_build(rfc5769_txid, &e, b, sizeof(b)),
		  40);
	CHECK_MEM(a, b, 40);
}

static void rfc3489_requests_we_cannot_honour_get_nothing(void)
{
	uint8_t buf[sizeof(rfc3489_request) + 12];
	struct stun_request req;

	/* CHANGE-REQUEST asking for another address and port. */
	memcpy(buf, rfc3489_request, sizeof(rfc3489_request));
	buf[27] = 0x06;
	CHECK_INT(stun_request_parse(buf, sizeof(rfc3489_request), &req),
		  WEFT_ERR_UNSUPPORTED);
	/* RESPONSE-ADDRESS: answering elsewhere would make us a reflector. */
	memcpy(buf, rfc3489_request, sizeof(rfc3489_request));
	buf[3] = 20;
	memcpy(buf + sizeof(rfc3489_request),
	       (const uint8_t[]){0x00, 0x02, 0x00, 0x08, 0x00, 0x01, 0x00,
				 0x35, 192, 0, 2, 9},
	       12);
	CHECK_INT(wire_classify(buf, sizeof(buf)), WIRE_KIND_STUN);
	CHECK_INT(stun_request_parse(buf, sizeof(buf), &req),
		  WEFT_ERR_UNSUPPORTED);
	/* A length field that does not match is not STUN at all. */
	memcpy(buf, rfc3489_request, sizeof(rfc3489_request));
	buf[3] = 12;
	CHECK_INT(wire_classify(buf, sizeof(rfc3489_request)), WIRE_KIND_DROP);
	CHECK_INT(stun_request_parse(buf, sizeof(rfc3489_request), &req),
		  WEFT_ERR_PARSE);
}

static const struct check_case cases[] = {
	CHECK_CASE(parses_rfc5769_sample_request),
	CHECK_CASE(parses_rfc5769_sample_ipv4_response),
	CHECK_CASE(parses_rfc5769_sample_ipv6_response),
	CHECK_CASE(builds_the_rfc5769_xor_mapped_address_bytes),
	CHECK_CASE(response_round_trips_for_both_families),
	CHECK_CASE(request_round_trips),
	CHECK_CASE(rejects_a_wrong_fingerprint),
	CHECK_CASE(accepts_a_message_without_fingerprint),
	CHECK_CASE(rejects_fingerprint_that_is_not_last),
	CHECK_CASE(rejects_every_truncation_and_trailing_bytes),
	CHECK_CASE(rejects_bad_headers),
	CHECK_CASE(skips_known_and_optional_attributes_in_requests),
	CHECK_CASE(rejects_unknown_comprehension_required_attributes),
	CHECK_CASE(ignores_unknown_attributes_after_message_integrity),
	CHECK_CASE(rejects_other_message_types),
	CHECK_CASE(response_needs_a_valid_xor_mapped_address),
	CHECK_CASE(response_build_rejects_bad_family_and_small_buffer),
	CHECK_CASE(answers_rfc3489_request_with_mapped_address),
	CHECK_CASE(modern_request_gets_the_same_answer_from_both_builders),
	CHECK_CASE(rfc3489_requests_we_cannot_honour_get_nothing),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
