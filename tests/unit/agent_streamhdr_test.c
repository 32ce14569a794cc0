/* agent/streamhdr: the stream-mode header, strict both ways. */
#include "agent/streamhdr.h"
#include "check.h"
#include "shared/err.h"

#include <string.h>

static struct streamhdr hdr(const char *host, uint16_t port)
{
	struct streamhdr h;

	memset(&h, 0, sizeof(h));
	strncpy(h.host, host, sizeof(h.host) - 1);
	h.port = port;
	return h;
}

static void round_trips_names_and_addresses(void)
{
	static const char *const hosts[] = {"100.64.0.2", "fd7a:115c::2",
					    "db.corp.test", "b", "x_y-z"};
	uint8_t buf[STREAMHDR_MAX];
	struct streamhdr h, out;
	int n;

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		h = hdr(hosts[i], 5432);
		n = streamhdr_encode(&h, buf, sizeof(buf));
		CHECK_INT(n, (int)(4 + strlen(hosts[i])));
		memset(&out, 0xaa, sizeof(out));
		CHECK_INT(streamhdr_decode(buf, (size_t)n, &out), n);
		CHECK_STR(out.host, hosts[i]);
		CHECK_INT(out.port, 5432);
	}
	CHECK_INT(buf[0], STREAMHDR_VERSION);
}

static void the_wire_layout_is_fixed(void)
{
	static const uint8_t want[] = {2, 3, 'a', '.', 'b', 0x1f, 0x90};
	struct streamhdr h = hdr("a.b", 8080);
	uint8_t buf[16];

	CHECK_INT(streamhdr_encode(&h, buf, sizeof(buf)), (int)sizeof(want));
	CHECK_MEM(buf, want, sizeof(want));
}

static void waits_for_a_whole_header_and_leaves_the_data(void)
{
	uint8_t buf[64];
	struct streamhdr h = hdr("node-b", 80), out;
	int n = streamhdr_encode(&h, buf, sizeof(buf));

	CHECK(n > 0);
	for (int i = 0; i < n; i++)
		CHECK_INT(streamhdr_decode(buf, (size_t)i, &out), 0);
	memcpy(buf + n, "GET /", 5);
	CHECK_INT(streamhdr_decode(buf, (size_t)n + 5, &out), n);
	CHECK_STR(out.host, "node-b");
}

static void encode_refuses_what_decode_would(void)
{
	struct streamhdr h;
	uint8_t buf[STREAMHDR_MAX], small[5];

	h = hdr("", 80);
	CHECK_INT(streamhdr_encode(&h, buf, sizeof(buf)), WEFT_ERR_INVAL);
	h = hdr("a b", 80);
	CHECK_INT(streamhdr_encode(&h, buf, sizeof(buf)), WEFT_ERR_INVAL);
	h = hdr("a/b", 80);
	CHECK_INT(streamhdr_encode(&h, buf, sizeof(buf)), WEFT_ERR_INVAL);
	h = hdr("a", 0);
	CHECK_INT(streamhdr_encode(&h, buf, sizeof(buf)), WEFT_ERR_INVAL);
	h = hdr("ab", 80);
	CHECK_INT(streamhdr_encode(&h, small, sizeof(small)), WEFT_ERR_TOOBIG);
	memset(h.host, 'a', STREAMHDR_HOST_MAX);
	h.host[STREAMHDR_HOST_MAX] = '\0';
	CHECK_INT(streamhdr_encode(&h, buf, sizeof(buf)), STREAMHDR_MAX);
}

static void rejects_malformed_headers(void)
{
	struct streamhdr out;
	static const uint8_t v1[] = {1, 1, 'a', 0, 80};
	static const uint8_t v3[] = {3, 1, 'a', 0, 80};
	static const uint8_t empty[] = {2, 0, 0, 80};
	static const uint8_t port0[] = {2, 1, 'a', 0, 0};
	static const uint8_t nul[] = {2, 2, 'a', 0, 0, 80};
	static const uint8_t space_early[] = {2, 200, 'a', ' '};
	static const uint8_t slash[] = {2, 1, '/', 0, 80};
	static const uint8_t toolong[] = {2, 254, 'a'};
	static const uint8_t high[] = {2, 1, 0xc3, 0, 80};

	/* Version 1 (no open reply) is refused like any other. */
	CHECK_INT(streamhdr_decode(v1, sizeof(v1), &out),
		  WEFT_ERR_UNSUPPORTED);
	CHECK_INT(streamhdr_decode(v3, sizeof(v3), &out),
		  WEFT_ERR_UNSUPPORTED);
	CHECK_INT(streamhdr_decode(empty, sizeof(empty), &out),
		  WEFT_ERR_PARSE);
	CHECK_INT(streamhdr_decode(port0, sizeof(port0), &out),
		  WEFT_ERR_PARSE);
	CHECK_INT(streamhdr_decode(nul, sizeof(nul), &out), WEFT_ERR_PARSE);
	/* Garbage is refused before the announced length has arrived. */
	CHECK_INT(streamhdr_decode(space_early, sizeof(space_early), &out),
		  WEFT_ERR_PARSE);
	CHECK_INT(streamhdr_decode(slash, sizeof(slash), &out),
		  WEFT_ERR_PARSE);
	CHECK_INT(streamhdr_decode(toolong, sizeof(toolong), &out),
		  WEFT_ERR_PARSE);
	CHECK_INT(streamhdr_decode(high, sizeof(high), &out), WEFT_ERR_PARSE);
}

static const struct check_case cases[] = {
	CHECK_CASE(round_trips_names_and_addresses),
	CHECK_CASE(the_wire_layout_is_fixed),
	CHECK_CASE(waits_for_a_whole_header_and_leaves_the_data),
	CHECK_CASE(encode_refuses_what_decode_would),
	CHECK_CASE(rejects_malformed_headers),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
