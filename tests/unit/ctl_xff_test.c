/* The client address behind trusted proxies (controller/xff.h). */
#include "check.h"

#include "controller/xff.h"
#include "shared/err.h"

static const char *client(const struct xff_trust *t, const char *peer,
			  const char *xff)
{
	static char buf[IP_ADDR_STRLEN];
	struct ip_addr p, out;

	if (ip_addr_parse(peer, &p) < 0)
		return "bad peer";
	xff_client(t, &p, xff, &out);
	ip_addr_format(&out, buf, sizeof(buf));
	return buf;
}

static void only_a_trusted_peer_may_name_the_client(void)
{
	struct xff_trust t = {0};

	/* No trust: the header is ignored. */
	CHECK_STR(client(&t, "10.0.0.5", "203.0.113.7"), "10.0.0.5");
	REQUIRE_INT(xff_trust_add(&t, "10.0.0.0/24"), 0);
	REQUIRE_INT(xff_trust_add(&t, "::1"), 0);
	CHECK_STR(client(&t, "10.0.0.5", "203.0.113.7"), "203.0.113.7");
	CHECK_STR(client(&t, "::1", "2001:db8::7"), "2001:db8::7");
	/* An untrusted peer cannot. */
	CHECK_STR(client(&t, "198.51.100.1", "203.0.113.7"), "198.51.100.1");
	/* No header, empty header. */
	CHECK_STR(client(&t, "10.0.0.5", NULL), "10.0.0.5");
	CHECK_STR(client(&t, "10.0.0.5", ""), "10.0.0.5");
}

static void the_rightmost_untrusted_entry_is_the_client(void)
{
	struct xff_trust t = {0};

	REQUIRE_INT(xff_trust_add(&t, "10.0.0.0/24"), 0);
	/* The client wrote a fake left entry; the proxy appended the real
	 * one. */
	CHECK_STR(client(&t, "10.0.0.5", "1.1.1.1, 203.0.113.7"),
		  "203.0.113.7");
	/* A chain of trusted proxies is skipped. */
	CHECK_STR(client(&t, "10.0.0.5", "203.0.113.7,10.0.0.9 ,\t10.0.0.8"),
		  "203.0.113.7");
	/* All trusted: the leftmost. */
	CHECK_STR(client(&t, "10.0.0.5", "10.0.0.9, 10.0.0.8"), "10.0.0.9");
	/* A malformed entry stops the walk at the last good address. */
	CHECK_STR(client(&t, "10.0.0.5", "203.0.113.7, unknown, 10.0.0.9"),
		  "10.0.0.9");
	CHECK_STR(client(&t, "10.0.0.5", "1.1.1.1, 203.0.113.7:80"),
		  "10.0.0.5");
	CHECK_STR(client(&t, "10.0.0.5", "1.1.1.1,,"), "10.0.0.5");
	CHECK_STR(client(&t, "10.0.0.5", ","), "10.0.0.5");
}

static void trust_list_is_checked(void)
{
	struct xff_trust t = {0};

	CHECK_INT(xff_trust_add(&t, "10.0.0.0/33"), WEFT_ERR_RANGE);
	CHECK_INT(xff_trust_add(&t, "proxy.example"), WEFT_ERR_PARSE);
	for (int i = 0; i < XFF_MAX_TRUSTED; i++)
		CHECK_INT(xff_trust_add(&t, "10.0.0.1"), 0);
	CHECK_INT(xff_trust_add(&t, "10.0.0.1"), WEFT_ERR_TOOBIG);
}

static const struct check_case cases[] = {
	CHECK_CASE(only_a_trusted_peer_may_name_the_client),
	CHECK_CASE(the_rightmost_untrusted_entry_is_the_client),
	CHECK_CASE(trust_list_is_checked),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
