/* controller/valid.c: the naming and syntax rules of the REST API, each at
 * its accept/reject edges. */
#include "check.h"

#include "controller/valid.h"
#include "shared/err.h"

#include <stdio.h>
#include <string.h>

/* A string of n copies of ch (n < 300). */
static const char *rep(char ch, size_t n)
{
	static char buf[300];

	memset(buf, ch, n);
	buf[n] = '\0';
	return buf;
}

static void name_accepts_1_to_63_of_lower_alnum_dot_underscore_dash(void)
{
	CHECK(valid_name("a"));
	CHECK(valid_name("0"));
	CHECK(valid_name("alice.b_c-d9"));
	CHECK(valid_name("a-"));
	CHECK(valid_name(rep('a', 63)));
	CHECK(!valid_name(rep('a', 64)));
	CHECK(!valid_name(""));
}

static void name_must_start_with_letter_or_digit_and_be_lower_case(void)
{
	CHECK(!valid_name("-a"));
	CHECK(!valid_name(".a"));
	CHECK(!valid_name("_a"));
	CHECK(!valid_name("Alice"));
	CHECK(!valid_name("a b"));
	CHECK(!valid_name("a/b"));
	CHECK(!valid_name("a@b"));
	CHECK(!valid_name("caf\xc3\xa9"));
}

static void node_name_is_a_dns_label(void)
{
	CHECK(valid_node_name("a"));
	CHECK(valid_node_name("web-1"));
	CHECK(valid_node_name("0"));
	CHECK(valid_node_name(rep('z', 63)));
	CHECK(!valid_node_name(rep('z', 64)));
	CHECK(!valid_node_name(""));
	CHECK(!valid_node_name("-web"));
	CHECK(!valid_node_name("web-"));
	CHECK(!valid_node_name("web.1"));
	CHECK(!valid_node_name("web_1"));
	CHECK(!valid_node_name("Web"));
}

static void tag_is_tag_prefix_and_a_name_within_63_bytes(void)
{
	char tag[80];

	CHECK(valid_tag("tag:a"));
	CHECK(valid_tag("tag:web.prod_1-x"));
	/* 4 + 59 = 63 bytes in all fits; 64 does not, though the name alone
	 * would be a valid name. */
	strcpy(tag, "tag:");
	strcat(tag, rep('a', 59));
	CHECK(valid_tag(tag));
	strcat(tag, "a");
	CHECK_INT(strlen(tag), 64);
	CHECK(!valid_tag(tag));
	CHECK(!valid_tag("tag:"));
	CHECK(!valid_tag("tag:-a"));
	CHECK(!valid_tag("tag:Web"));
	CHECK(!valid_tag("Tag:web"));
	CHECK(!valid_tag("web"));
	CHECK(!valid_tag("group:web"));
	CHECK(!valid_tag(" tag:web"));
}

static void dns_name_accepts_labels_up_to_63_and_253_in_all(void)
{
	char name[300];

	CHECK(valid_dns_name("db", 2));
	CHECK(valid_dns_name("db.internal.example.com", 23));
	CHECK(valid_dns_name("Mixed-Case.Example", 18));
	CHECK(valid_dns_name("a1.b2", 5));
	CHECK(valid_dns_name(rep('a', 63), 63));
	CHECK(!valid_dns_name(rep('a', 64), 64));
	/* Three labels of 63, dots, and a last label of 61: 253 bytes. */
	name[0] = '\0';
	for (int i = 0; i < 3; i++) {
		strcat(name, rep('a', 63));
		strcat(name, ".");
	}
	strcat(name, rep('b', 61));
	CHECK_INT(strlen(name), 253);
	CHECK(valid_dns_name(name, 253));
	strcat(name, "b");
	CHECK(!valid_dns_name(name, 254));
}

static void dns_name_rejects_empty_labels_dashes_at_ends_and_numeric_tld(void)
{
	CHECK(!valid_dns_name("", 0));
	CHECK(!valid_dns_name(".", 1));
	CHECK(!valid_dns_name("a..b", 4));
	CHECK(!valid_dns_name("a.", 2));
	CHECK(!valid_dns_name(".a", 2));
	CHECK(!valid_dns_name("-a.b", 4));
	CHECK(!valid_dns_name("a-.b", 4));
	CHECK(!valid_dns_name("a_b", 3));
	CHECK(!valid_dns_name("a b", 3));
	/* A mistyped address is not a name. */
	CHECK(!valid_dns_name("10.0.0.256", 10));
	CHECK(!valid_dns_name("123", 3));
	CHECK(valid_dns_name("10.0.0.x1", 9));
}

static void dns_name_reads_only_n_bytes(void)
{
	/* The relay address "relay.example.com:443" is checked up to the
	 * colon. */
	CHECK(valid_dns_name("relay.example.com:443", 17));
	CHECK(!valid_dns_name("relay.example.com:443", 21));
}

static void ports_normalizes_lists_and_ranges(void)
{
	char out[STORE_PORTS_SIZE];

	CHECK_INT(valid_ports("*", out), 0);
	CHECK_STR(out, "*");
	CHECK_INT(valid_ports("  *  ", out), 0);
	CHECK_STR(out, "*");
	CHECK_INT(valid_ports("1", out), 0);
	CHECK_STR(out, "1");
	CHECK_INT(valid_ports("65535", out), 0);
	CHECK_STR(out, "65535");
	CHECK_INT(valid_ports(" 80 , 443,8000-8100 ", out), 0);
	CHECK_STR(out, "80,443,8000-8100");
	CHECK_INT(valid_ports("22-22", out), 0);
	CHECK_STR(out, "22");
}

static void ports_rejects_out_of_range_and_malformed_items(void)
{
	char out[STORE_PORTS_SIZE] = "untouched";

	CHECK_INT(valid_ports("0", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports("65536", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports("080", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports("", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports("80,", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports(",80", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports("90-80", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports("80-", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports("http", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports("80 443", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports("*,80", out), WEFT_ERR_INVAL);
	CHECK_INT(valid_ports("+80", out), WEFT_ERR_INVAL);
	CHECK_STR(out, "untouched");
}

static void ports_too_long_once_normalized_is_toobig(void)
{
	char in[1024] = "", out[STORE_PORTS_SIZE] = "untouched";

	/* 60 x "10000," is 360 bytes: more than the column holds. */
	for (int i = 0; i < 60; i++)
		strcat(in, i ? ",10000" : "10000");
	CHECK_INT(valid_ports(in, out), WEFT_ERR_TOOBIG);
	CHECK_STR(out, "untouched");
}

static const struct check_case cases[] = {
	CHECK_CASE(name_accepts_1_to_63_of_lower_alnum_dot_underscore_dash),
	CHECK_CASE(name_must_start_with_letter_or_digit_and_be_lower_case),
	CHECK_CASE(node_name_is_a_dns_label),
	CHECK_CASE(tag_is_tag_prefix_and_a_name_within_63_bytes),
	CHECK_CASE(dns_name_accepts_labels_up_to_63_and_253_in_all),
	CHECK_CASE(dns_name_rejects_empty_labels_dashes_at_ends_and_numeric_tld),
	CHECK_CASE(dns_name_reads_only_n_bytes),
	CHECK_CASE(ports_normalizes_lists_and_ranges),
	CHECK_CASE(ports_rejects_out_of_range_and_malformed_items),
	CHECK_CASE(ports_too_long_once_normalized_is_toobig),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
