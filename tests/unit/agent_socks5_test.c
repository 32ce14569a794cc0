/* agent/socks5: the SOCKS5 greeting, CONNECT request and reply. */
#include "agent/socks5.h"
#include "check.h"
#include "shared/err.h"

#include <string.h>

static void greeting_wants_no_auth(void)
{
	static const uint8_t ok[] = {5, 2, 2, 0};
	static const uint8_t userpass[] = {5, 1, 2};
	bool noauth = false;

	CHECK_INT(socks5_greeting(ok, sizeof(ok), &noauth), 4);
	CHECK(noauth);
	CHECK_INT(socks5_greeting(userpass, sizeof(userpass), &noauth), 3);
	CHECK(!noauth);
	for (size_t i = 0; i < sizeof(ok); i++)
		CHECK_INT(socks5_greeting(ok, i, &noauth), 0);
	CHECK_INT(socks5_greeting((const uint8_t *)"\x04\x01\x00", 3,
				  &noauth), WEFT_ERR_PARSE);
	CHECK_INT(socks5_greeting((const uint8_t *)"\x05\x00", 2, &noauth),
		  WEFT_ERR_PARSE);
}

static void requests_by_name_and_address(void)
{
	static const uint8_t name[] = {5, 1, 0, 3, 7, 'b', '.', 'w', 'e',
				       'f', 't', '.', 0x1f, 0x40};
	static const uint8_t v4[] = {5, 1, 0, 1, 100, 64, 0, 2, 0, 80};
	uint8_t v6[22] = {5, 1, 0, 4, 0xfd, 0x7a};
	struct socks5_req r;

	CHECK_INT(socks5_request(name, sizeof(name), &r), (int)sizeof(name));
	CHECK_STR(r.host, "b.weft.");
	CHECK_INT(r.port, 8000);
	CHECK_INT(r.rep, SOCKS5_OK);
	for (size_t i = 0; i < sizeof(name); i++)
		CHECK_INT(socks5_request(name, i, &r), 0);
	CHECK_INT(socks5_request(v4, sizeof(v4), &r), (int)sizeof(v4));
	CHECK_STR(r.host, "100.64.0.2");
	CHECK_INT(r.port, 80);
	v6[19] = 2;
	v6[20] = 1;
	v6[21] = 187;
	CHECK_INT(socks5_request(v6, sizeof(v6), &r), (int)sizeof(v6));
	CHECK_STR(r.host, "fd7a::2");
	CHECK_INT(r.port, 443);
}

static void refuses_with_the_right_reply(void)
{
	static const uint8_t bind[] = {5, 2, 0, 1, 1, 2, 3, 4, 0, 80};
	static const uint8_t udp[] = {5, 3, 0, 1, 1, 2, 3, 4, 0, 80};
	static const uint8_t atyp[] = {5, 1, 0, 9, 1, 2, 3, 4, 0, 80};
	static const uint8_t ver[] = {4, 1, 0, 1, 1, 2, 3, 4, 0, 80};
	static const uint8_t rsv[] = {5, 1, 1, 1, 1, 2, 3, 4, 0, 80};
	static const uint8_t port0[] = {5, 1, 0, 1, 1, 2, 3, 4, 0, 0};
	static const uint8_t empty[] = {5, 1, 0, 3, 0, 0, 80};
	static const uint8_t space[] = {5, 1, 0, 3, 3, 'a', ' ', 'b', 0, 80};
	static const uint8_t nul[] = {5, 1, 0, 3, 2, 'a', 0, 0, 80};
	struct socks5_req r;

	CHECK_INT(socks5_request(bind, sizeof(bind), &r),
		  WEFT_ERR_UNSUPPORTED);
	CHECK_INT(r.rep, SOCKS5_CMD_UNSUPPORTED);
	CHECK_INT(socks5_request(udp, 2, &r), WEFT_ERR_UNSUPPORTED);
	CHECK_INT(socks5_request(atyp, sizeof(atyp), &r),
		  WEFT_ERR_UNSUPPORTED);
	CHECK_INT(r.rep, SOCKS5_ATYP_UNSUPPORTED);
	CHECK_INT(socks5_request(ver, 1, &r), WEFT_ERR_PARSE);
	CHECK_INT(r.rep, SOCKS5_FAILURE);
	CHECK_INT(socks5_request(rsv, sizeof(rsv), &r), WEFT_ERR_PARSE);
	CHECK_INT(socks5_request(port0, sizeof(port0), &r), WEFT_ERR_PARSE);
	CHECK_INT(socks5_request(empty, sizeof(empty), &r), WEFT_ERR_PARSE);
	CHECK_INT(socks5_request(space, sizeof(space), &r), WEFT_ERR_PARSE);
	CHECK_INT(r.rep, SOCKS5_HOST_UNREACHABLE);
	CHECK_INT(socks5_request(nul, sizeof(nul), &r), WEFT_ERR_PARSE);
}

static void reply_layout(void)
{
	static const uint8_t want[] = {5, 4, 0, 1, 0, 0, 0, 0, 0, 0};
	uint8_t r[SOCKS5_REPLY_LEN];

	socks5_reply(SOCKS5_HOST_UNREACHABLE, r);
	CHECK_MEM(r, want, sizeof(want));
}

static const struct check_case cases[] = {
	CHECK_CASE(greeting_wants_no_auth),
	CHECK_CASE(requests_by_name_and_address),
	CHECK_CASE(refuses_with_the_right_reply),
	CHECK_CASE(reply_layout),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
