#include "check.h"
#include "shared/err.h"
#include "shared/ip.h"

#include <netinet/in.h>
#include <sys/un.h>

/* Parses s (which the test expects to be valid) and returns the address. */
static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	memset(&a, 0xee, sizeof(a));
	if (!check_report(ip_addr_parse(s, &a) == 0, __FILE__, __LINE__,
			  "parse %s", s))
		memset(&a, 0, sizeof(a));
	return a;
}

static struct ip_prefix prefix(const char *s)
{
	struct ip_prefix p;

	memset(&p, 0, sizeof(p));
	check_report(ip_prefix_parse(s, &p, 0) == 0, __FILE__, __LINE__,
		     "parse %s", s);
	return p;
}

/* Formats the canonical text of s into a static buffer. */
static const char *canon(const char *s)
{
	static char buf[IP_ADDR_STRLEN];
	struct ip_addr a;

	if (ip_addr_parse(s, &a) != 0)
		return "(parse error)";
	if (ip_addr_format(&a, buf, sizeof(buf)) != 0)
		return "(format error)";
	return buf;
}

static void parses_ipv4_into_first_four_bytes(void)
{
	struct ip_addr a = addr("192.168.1.20");
	static const uint8_t want[16] = {192, 168, 1, 20};

	CHECK_INT(a.family, 4);
	CHECK_MEM(a.b, want, 16);
	a = addr("0.0.0.0");
	CHECK_INT(a.b[0] | a.b[1] | a.b[2] | a.b[3], 0);
	a = addr("255.255.255.255");
	CHECK_INT(a.b[3], 255);
}

static void rejects_malformed_ipv4(void)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256",
		"1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4",
		"1.2.3.4x", "+1.2.3.4", "1.2.3.-4", "0x1.2.3.4", "1.2.3.0004",
		"1.2.3.1000", "1.2.3.4/8", "1.2.3.4:80", "[1.2.3.4]", "a.b.c.d",
		"1", "4294967295",
	};
	struct ip_addr a, before;

	memset(&a, 0x5a, sizeof(a));
	before = a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = ip_addr_parse(bad[i], &a);

		check_report(r == WEFT_ERR_PARSE, __FILE__, __LINE__,
			     "\"%s\" gave %d", bad[i], r);
	}
	CHECK_MEM(&a, &before, sizeof(a));
}

static void rejects_leading_zeros_in_ipv4_octets(void)
{
	struct ip_addr a;

	CHECK_INT(ip_addr_parse("01.2.3.4", &a), WEFT_ERR_PARSE);
	CHECK_INT(ip_addr_parse("1.2.3.04", &a), WEFT_ERR_PARSE);
	CHECK_INT(ip_addr_parse("1.00.3.4", &a), WEFT_ERR_PARSE);
	CHECK_INT(ip_addr_parse("010.0.0.1", &a), WEFT_ERR_PARSE);
	CHECK_INT(ip_addr_parse("10.0.0.1", &a), 0);
}

static void parses_ipv6_forms(void)
{
	struct ip_addr a = addr("2001:db8::1");
	static const uint8_t db8_1[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t mapped[16] = {[10] = 0xff, 0xff, 1, 2, 3, 4};
	static const uint8_t full[16] = {0, 1, 0, 2, 0, 3, 0, 4,
					 0, 5, 0, 6, 0, 7, 0, 8};
	static const uint8_t zero[16] = {0};

	CHECK_INT(a.family, 6);
	CHECK_MEM(a.b, db8_1, 16);
	a = addr("2001:DB8:0:0:0:0:0:0001");
	CHECK_MEM(a.b, db8_1, 16);
	a = addr("::ffff:1.2.3.4");
	CHECK_INT(a.family, 6);
	CHECK_MEM(a.b, mapped, 16);
	a = addr("1:2:3:4:5:6:7:8");
	CHECK_MEM(a.b, full, 16);
	a = addr("1:2:3:4:5:6:0.7.0.8");
	CHECK_MEM(a.b, full, 16);
	a = addr("::");
	CHECK_MEM(a.b, zero, 16);
	a = addr("1::");
	CHECK_INT(a.b[1], 1);
	CHECK_INT(a.b[15], 0);
	a = addr("1:2:3:4:5:6:7::");
	CHECK_INT(a.b[13], 7);
	CHECK_INT(a.b[15], 0);
	a = addr("::2:3:4:5:6:7:8");
	CHECK_INT(a.b[1], 0);
	CHECK_INT(a.b[3], 2);
}

static void rejects_malformed_ipv6(void)
{
	static const char *const bad[] = {
		":", ":::", "1:::2", "1::2::3", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:",
		"1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::",
		"::1:2:3:4:5:6:7:8", "12345::", "::g", "1:2:3:4:5:6:7:8 ",
		"[::1]", "::1/128", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3",
		"::1.2.3.4:5", "::ffff:01.2.3.4", "::ffff:1.2.3.256",
		"1.2.3.4::", "::-1", "0x1::",
	};
	struct ip_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = ip_addr_parse(bad[i], &a);

		check_report(r == WEFT_ERR_PARSE, __FILE__, __LINE__,
			     "\"%s\" gave %d", bad[i], r);
	}
}

static void rejects_zone_ids(void)
{
	struct ip_addr a;

	CHECK_INT(ip_addr_parse("fe80::1%eth0", &a), WEFT_ERR_PARSE);
	CHECK_INT(ip_addr_parse("fe80::1%1", &a), WEFT_ERR_PARSE);
	CHECK_INT(ip_addr_parse("fe80::1%", &a), WEFT_ERR_PARSE);
}

static void formats_ipv6_per_rfc5952(void)
{
	CHECK_STR(canon("2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
	CHECK_STR(canon("2001:DB8::AB"), "2001:db8::ab");
	/* A single zero group is not compressed. */
	CHECK_STR(canon("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
	/* The longest run wins; on a tie the first one. */
	CHECK_STR(canon("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
	CHECK_STR(canon("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
	CHECK_STR(canon("0:0:0:0:0:0:0:0"), "::");
	CHECK_STR(canon("0:0:0:0:0:0:0:1"), "::1");
	CHECK_STR(canon("1:0:0:0:0:0:0:0"), "1::");
	CHECK_STR(canon("0:1:0:0:0:0:0:0"), "0:1::");
	CHECK_STR(canon("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
	CHECK_STR(canon("::ffff:102:304"), "::ffff:1.2.3.4");
	CHECK_STR(canon("::1.2.3.4"), "::102:304");
	CHECK_STR(canon("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	CHECK_STR(canon("10.0.0.1"), "10.0.0.1");
}

static void format_refuses_small_buffer_and_leaves_it_alone(void)
{
	struct ip_addr a = addr("10.20.30.40");
	char buf[12] = "untouched!";

	/* "10.20.30.40" needs 12 bytes with its NUL. */
	CHECK_INT(ip_addr_format(&a, buf, 11), WEFT_ERR_TOOBIG);
	CHECK_STR(buf, "untouched!");
	CHECK_INT(ip_addr_format(&a, buf, 12), 0);
	CHECK_STR(buf, "10.20.30.40");
	a.family = 5;
	CHECK_INT(ip_addr_format(&a, buf, sizeof(buf)), WEFT_ERR_INVAL);
}

static void orders_ipv4_before_ipv6_then_numerically(void)
{
	struct ip_addr a = addr("255.255.255.255"), b = addr("::");
	struct ip_addr c = addr("10.0.0.2"), d = addr("10.0.0.10");

	CHECK(ip_addr_cmp(&a, &b) < 0);
	CHECK(ip_addr_cmp(&b, &a) > 0);
	CHECK(ip_addr_cmp(&c, &d) < 0);
	CHECK(ip_addr_eq(&c, &c));
	CHECK(!ip_addr_eq(&c, &d));
	/* Bytes beyond an IPv4 address do not take part. */
	d = c;
	d.b[9] = 7;
	CHECK(ip_addr_eq(&c, &d));
}

static void unmap_turns_mapped_ipv6_into_ipv4(void)
{
	struct ip_addr a = addr("::ffff:192.0.2.1"), want = addr("192.0.2.1");
	struct ip_addr v6 = addr("2001:db8::1"), v6copy = v6;

	ip_addr_unmap(&a);
	CHECK(ip_addr_eq(&a, &want));
	CHECK_MEM(&a, &want, sizeof(a));
	ip_addr_unmap(&v6);
	CHECK_MEM(&v6, &v6copy, sizeof(v6));
}

static void next_address_carries_and_stops_at_the_end(void)
{
	struct ip_addr a = addr("10.0.0.255"), out, want = addr("10.0.1.0");

	REQUIRE_INT(ip_addr_next(&a, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	a = addr("::ffff");
	want = addr("::1:0");
	REQUIRE_INT(ip_addr_next(&a, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	a = addr("255.255.255.255");
	out = want;
	CHECK_INT(ip_addr_next(&a, &out), WEFT_ERR_RANGE);
	CHECK(ip_addr_eq(&out, &want));
	a = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	CHECK_INT(ip_addr_next(&a, &out), WEFT_ERR_RANGE);
}

static void classifies_private_loopback_and_link_local(void)
{
	static const char *const priv[] = {
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1",
		"100.64.0.1", "100.127.255.255", "fc00::1", "fd7a:115c::1",
		"::ffff:10.1.2.3",
	};
	static const char *const pub[] = {
		"172.15.255.255", "172.32.0.0", "192.169.0.1", "100.63.255.255",
		"100.128.0.0", "8.8.8.8", "fe00::1", "2001:db8::1", "11.0.0.0",
	};
	struct ip_addr a;

	for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
		a = addr(priv[i]);
		check_report(ip_addr_is_private(&a), __FILE__, __LINE__,
			     "%s should be private", priv[i]);
	}
	for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++) {
		a = addr(pub[i]);
		check_report(!ip_addr_is_private(&a), __FILE__, __LINE__,
			     "%s should not be private", pub[i]);
	}
	a = addr("127.1.2.3");
	CHECK(ip_addr_is_loopback(&a));
	a = addr("::1");
	CHECK(ip_addr_is_loopback(&a));
	a = addr("::ffff:127.0.0.1");
	CHECK(ip_addr_is_loopback(&a));
	a = addr("::2");
	CHECK(!ip_addr_is_loopback(&a));
	a = addr("128.0.0.1");
	CHECK(!ip_addr_is_loopback(&a));
	a = addr("169.254.10.1");
	CHECK(ip_addr_is_link_local(&a));
	a = addr("169.253.10.1");
	CHECK(!ip_addr_is_link_local(&a));
	a = addr("fe80::1");
	CHECK(ip_addr_is_link_local(&a));
	a = addr("febf::1");
	CHECK(ip_addr_is_link_local(&a));
	a = addr("fec0::1");
	CHECK(!ip_addr_is_link_local(&a));
}

static void parses_prefixes_of_both_families(void)
{
	struct ip_prefix p = prefix("10.0.0.0/8");
	struct ip_addr want = addr("10.0.0.0");

	CHECK_INT(p.len, 8);
	CHECK(ip_addr_eq(&p.addr, &want));
	p = prefix("fd7a:115c:a1e0::/48");
	CHECK_INT(p.addr.family, 6);
	CHECK_INT(p.len, 48);
	p = prefix("0.0.0.0/0");
	CHECK_INT(p.len, 0);
	p = prefix("::/128");
	CHECK_INT(p.len, 128);
}

static void rejects_cidr_with_host_bits_set(void)
{
	struct ip_prefix p, kept;

	memset(&p, 0x11, sizeof(p));
	kept = p;
	CHECK_INT(ip_prefix_parse("10.0.0.1/8", &p, IP_PREFIX_STRICT), WEFT_ERR_INVAL);
	CHECK_INT(ip_prefix_parse("2001:db8::1/64", &p, IP_PREFIX_STRICT),
		  WEFT_ERR_INVAL);
	CHECK_INT(ip_prefix_parse("1.0.0.0/0", &p, IP_PREFIX_STRICT), WEFT_ERR_INVAL);
	CHECK_INT(ip_prefix_parse("10.128.0.0/9", &p, IP_PREFIX_STRICT), 0);
	CHECK_INT(ip_prefix_parse("10.192.0.0/9", &p, IP_PREFIX_STRICT), WEFT_ERR_INVAL);
	memset(&p, 0x11, sizeof(p));
	CHECK_INT(ip_prefix_parse("10.0.0.1/8", &p, IP_PREFIX_STRICT), WEFT_ERR_INVAL);
	CHECK_MEM(&p, &kept, sizeof(p));
}

static void keeps_host_bits_unless_strict(void)
{
	struct ip_prefix p = prefix("10.1.2.3/8");
	struct ip_addr host = addr("10.1.2.3"), net = addr("10.0.0.0");
	char buf[IP_PREFIX_STRLEN];

	CHECK(ip_addr_eq(&p.addr, &host));
	ip_prefix_mask(&p);
	CHECK(ip_addr_eq(&p.addr, &net));
	CHECK_INT(p.len, 8);
	p = prefix("2001:db8:ffff::1/36");
	ip_prefix_mask(&p);
	REQUIRE_INT(ip_prefix_format(&p, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "2001:db8:f000::/36");
}

static void rejects_malformed_prefixes(void)
{
	static const struct {
		const char *s;
		int err;
	} bad[] = {
		{"10.0.0.0", WEFT_ERR_PARSE},     {"10.0.0.0/", WEFT_ERR_PARSE},
		{"/8", WEFT_ERR_PARSE},           {"10.0.0.0/08", WEFT_ERR_PARSE},
		{"10.0.0.0/8x", WEFT_ERR_PARSE},  {"10.0.0.0/ 8", WEFT_ERR_PARSE},
		{"10.0.0.0/-8", WEFT_ERR_PARSE},  {"10.0.0.0/8/8", WEFT_ERR_PARSE},
		{"10.0.0/8", WEFT_ERR_PARSE},     {"fe80::%eth0/64", WEFT_ERR_PARSE},
		{"10.0.0.0/33", WEFT_ERR_RANGE},  {"::/129", WEFT_ERR_RANGE},
		{"10.0.0.0/99999999999999999999", WEFT_ERR_RANGE},
		{"::/1000", WEFT_ERR_RANGE},
	};
	struct ip_prefix p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = ip_prefix_parse(bad[i].s, &p, 0);

		check_report(r == bad[i].err, __FILE__, __LINE__,
			     "\"%s\" gave %d, want %d", bad[i].s, r, bad[i].err);
	}
	CHECK_INT(ip_prefix_parse("10.0.0.0/32", &p, 0), 0);
	CHECK_INT(ip_prefix_parse("::/128", &p, 0), 0);
}

static void bare_address_becomes_host_prefix_when_allowed(void)
{
	struct ip_prefix p;

	CHECK_INT(ip_prefix_parse("10.1.2.3", &p, 0), WEFT_ERR_PARSE);
	REQUIRE_INT(ip_prefix_parse("10.1.2.3", &p, IP_PREFIX_BARE_ADDR), 0);
	CHECK_INT(p.len, 32);
	REQUIRE_INT(ip_prefix_parse("2001:db8::5", &p,
				    IP_PREFIX_BARE_ADDR | IP_PREFIX_STRICT), 0);
	CHECK_INT(p.len, 128);
	CHECK_INT(ip_prefix_parse("10.1.2.3/8", &p,
				  IP_PREFIX_BARE_ADDR | IP_PREFIX_STRICT),
		  WEFT_ERR_INVAL);
}

static void formats_prefix_and_refuses_invalid_ones(void)
{
	struct ip_prefix p = prefix("2001:0db8::/32");
	char buf[IP_PREFIX_STRLEN], small[8] = "keep";

	REQUIRE_INT(ip_prefix_format(&p, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "2001:db8::/32");
	CHECK_INT(ip_prefix_format(&p, small, sizeof(small)), WEFT_ERR_TOOBIG);
	CHECK_STR(small, "keep");
	p = prefix("1.2.3.0/24");
	p.len = 33;
	CHECK_INT(ip_prefix_format(&p, buf, sizeof(buf)), WEFT_ERR_INVAL);
}

static void prefix_contains_addresses_of_its_range_only(void)
{
	struct ip_prefix p = prefix("100.64.0.0/10");
	struct ip_addr in1 = addr("100.64.0.0"), in2 = addr("100.127.255.255");
	struct ip_addr out1 = addr("100.128.0.0"), out2 = addr("100.63.255.255");
	struct ip_addr v6 = addr("::ffff:100.64.0.1");
	struct ip_prefix all = prefix("0.0.0.0/0"), v6p = prefix("fd00::/8");
	struct ip_addr ula = addr("fdff::1"), notula = addr("fe00::");

	CHECK(ip_prefix_contains(&p, &in1));
	CHECK(ip_prefix_contains(&p, &in2));
	CHECK(!ip_prefix_contains(&p, &out1));
	CHECK(!ip_prefix_contains(&p, &out2));
	CHECK(!ip_prefix_contains(&p, &v6));
	CHECK(ip_prefix_contains(&all, &out1));
	CHECK(!ip_prefix_contains(&all, &v6));
	CHECK(ip_prefix_contains(&v6p, &ula));
	CHECK(!ip_prefix_contains(&v6p, &notula));
}

static void prefix_contains_and_overlaps_other_prefixes(void)
{
	struct ip_prefix a = prefix("10.0.0.0/8"), b = prefix("10.20.0.0/16");
	struct ip_prefix c = prefix("11.0.0.0/8"), d = prefix("0.0.0.0/0");
	struct ip_prefix e = prefix("::/0"), f = prefix("10.20.0.0/16");

	CHECK(ip_prefix_contains_prefix(&a, &b));
	CHECK(!ip_prefix_contains_prefix(&b, &a));
	CHECK(ip_prefix_contains_prefix(&b, &f));
	CHECK(!ip_prefix_contains_prefix(&a, &c));
	CHECK(ip_prefix_contains_prefix(&d, &c));
	CHECK(!ip_prefix_contains_prefix(&e, &c));
	CHECK(ip_prefix_overlaps(&a, &b));
	CHECK(ip_prefix_overlaps(&b, &a));
	CHECK(!ip_prefix_overlaps(&a, &c));
	CHECK(ip_prefix_overlaps(&d, &c));
	CHECK(!ip_prefix_overlaps(&e, &d));
}

static void nth_address_counts_from_the_network_address(void)
{
	struct ip_prefix p = prefix("10.0.0.5/30");
	struct ip_addr out, want = addr("10.0.0.7"), keep = addr("1.1.1.1");

	REQUIRE_INT(ip_prefix_nth(&p, 3, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	out = keep;
	CHECK_INT(ip_prefix_nth(&p, 4, &out), WEFT_ERR_RANGE);
	CHECK(ip_addr_eq(&out, &keep));

	p = prefix("100.64.0.0/10");
	want = addr("100.64.1.44");
	REQUIRE_INT(ip_prefix_nth(&p, 300, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	p = prefix("0.0.0.0/0");
	want = addr("255.255.255.255");
	REQUIRE_INT(ip_prefix_nth(&p, UINT32_MAX, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	CHECK_INT(ip_prefix_nth(&p, (uint64_t)UINT32_MAX + 1, &out), WEFT_ERR_RANGE);

	p = prefix("fd7a:115c:a1e0::/48");
	want = addr("fd7a:115c:a1e0::ffff:ffff:ffff:ffff");
	REQUIRE_INT(ip_prefix_nth(&p, UINT64_MAX, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	p = prefix("2001:db8::/120");
	CHECK_INT(ip_prefix_nth(&p, 256, &out), WEFT_ERR_RANGE);
}

/* An in-use set for ip_alloc_next tests; it records every probe. */
struct pool_state {
	const char *used[16];
	size_t n_used;
	unsigned probes;
	bool saw_reserved;
	struct ip_addr reserved[2];
};

static bool in_use(const struct ip_addr *a, void *ctx)
{
	struct pool_state *st = ctx;

	st->probes++;
	if (ip_addr_eq(a, &st->reserved[0]) || ip_addr_eq(a, &st->reserved[1]))
		st->saw_reserved = true;
	for (size_t i = 0; i < st->n_used; i++) {
		struct ip_addr u;

		if (ip_addr_parse(st->used[i], &u) == 0 && ip_addr_eq(a, &u))
			return true;
	}
	return false;
}

static void alloc_starts_after_network_address(void)
{
	struct ip_prefix pool = prefix("10.0.0.0/29");
	struct pool_state st = {.reserved = {addr("10.0.0.0"), addr("10.0.0.7")}};
	struct ip_addr out, want = addr("10.0.0.1");

	REQUIRE_INT(ip_alloc_next(&pool, NULL, in_use, &st, 100, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	CHECK_INT(st.probes, 1);
}

static void alloc_skips_used_addresses_after_hint(void)
{
	struct ip_prefix pool = prefix("10.0.0.0/29");
	struct pool_state st = {
		.used = {"10.0.0.4", "10.0.0.5"}, .n_used = 2,
		.reserved = {addr("10.0.0.0"), addr("10.0.0.7")},
	};
	struct ip_addr out, after = addr("10.0.0.3"), want = addr("10.0.0.6");

	REQUIRE_INT(ip_alloc_next(&pool, &after, in_use, &st, 100, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	CHECK_INT(st.probes, 3);
}

static void alloc_wraps_around_skipping_broadcast(void)
{
	struct ip_prefix pool = prefix("10.0.0.0/29");
	struct pool_state st = {
		.used = {"10.0.0.1"}, .n_used = 1,
		.reserved = {addr("10.0.0.0"), addr("10.0.0.7")},
	};
	struct ip_addr out, after = addr("10.0.0.6"), want = addr("10.0.0.2");

	REQUIRE_INT(ip_alloc_next(&pool, &after, in_use, &st, 100, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	CHECK(!st.saw_reserved);
	/* A hint outside the pool starts at the beginning. */
	after = addr("192.168.0.1");
	REQUIRE_INT(ip_alloc_next(&pool, &after, in_use, &st, 100, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
}

static void alloc_reports_exhausted_after_one_full_round(void)
{
	struct ip_prefix pool = prefix("10.0.0.0/29");
	struct pool_state st = {
		.used = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4",
			 "10.0.0.5", "10.0.0.6"},
		.n_used = 6,
		.reserved = {addr("10.0.0.0"), addr("10.0.0.7")},
	};
	struct ip_addr out = addr("9.9.9.9"), keep = out, after = addr("10.0.0.4");

	CHECK_INT(ip_alloc_next(&pool, &after, in_use, &st, 1000, &out),
		  WEFT_ERR_EXHAUSTED);
	CHECK_INT(st.probes, 6);
	CHECK(!st.saw_reserved);
	CHECK(ip_addr_eq(&out, &keep));
}

static void alloc_gives_up_after_max_probe(void)
{
	struct ip_prefix pool = prefix("10.0.0.0/24");
	struct pool_state st = {
		.used = {"10.0.0.1", "10.0.0.2", "10.0.0.3"}, .n_used = 3,
		.reserved = {addr("10.0.0.0"), addr("10.0.0.255")},
	};
	struct ip_addr out, want = addr("10.0.0.4");

	CHECK_INT(ip_alloc_next(&pool, NULL, in_use, &st, 3, &out),
		  WEFT_ERR_EXHAUSTED);
	CHECK_INT(st.probes, 3);
	REQUIRE_INT(ip_alloc_next(&pool, NULL, in_use, &st, 4, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	CHECK_INT(ip_alloc_next(&pool, NULL, in_use, &st, 0, &out), WEFT_ERR_INVAL);
	CHECK_INT(ip_alloc_next(&pool, NULL, NULL, &st, 4, &out), WEFT_ERR_INVAL);
}

static void alloc_uses_every_address_of_tiny_pools(void)
{
	struct ip_prefix p31 = prefix("10.0.0.0/31"), p32 = prefix("10.0.0.9/32");
	struct pool_state st = {.used = {"10.0.0.0"}, .n_used = 1};
	struct ip_addr out, one = addr("10.0.0.1"), nine = addr("10.0.0.9");

	REQUIRE_INT(ip_alloc_next(&p31, NULL, in_use, &st, 10, &out), 0);
	CHECK(ip_addr_eq(&out, &one));
	REQUIRE_INT(ip_alloc_next(&p32, &nine, in_use, &st, 10, &out), 0);
	CHECK(ip_addr_eq(&out, &nine));
}

static void alloc_in_ipv6_pool_keeps_last_address(void)
{
	struct ip_prefix pool = prefix("fd7a:115c:a1e0::/126");
	struct pool_state st = {
		.used = {"fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2"}, .n_used = 2,
		.reserved = {addr("fd7a:115c:a1e0::")},
	};
	struct ip_addr out, want = addr("fd7a:115c:a1e0::3");

	REQUIRE_INT(ip_alloc_next(&pool, NULL, in_use, &st, 10, &out), 0);
	CHECK(ip_addr_eq(&out, &want));
	st.used[2] = "fd7a:115c:a1e0::3";
	st.n_used = 3;
	st.probes = 0;
	CHECK_INT(ip_alloc_next(&pool, NULL, in_use, &st, 10, &out),
		  WEFT_ERR_EXHAUSTED);
	CHECK_INT(st.probes, 3);
	CHECK(!st.saw_reserved);
}

static void parses_endpoints(void)
{
	struct ip_endpoint e;
	struct ip_addr v4 = addr("1.2.3.4"), v6 = addr("2001:db8::1");

	REQUIRE_INT(ip_endpoint_parse("1.2.3.4:51820", &e), 0);
	CHECK(ip_addr_eq(&e.addr, &v4));
	CHECK_INT(e.port, 51820);
	REQUIRE_INT(ip_endpoint_parse("[2001:db8::1]:443", &e), 0);
	CHECK(ip_addr_eq(&e.addr, &v6));
	CHECK_INT(e.port, 443);
	REQUIRE_INT(ip_endpoint_parse("[::ffff:1.2.3.4]:65535", &e), 0);
	CHECK_INT(e.addr.family, 6);
	CHECK_INT(e.port, 65535);
	REQUIRE_INT(ip_endpoint_parse("0.0.0.0:1", &e), 0);
	CHECK_INT(e.port, 1);
}

static void endpoint_with_default_port_takes_a_bare_address(void)
{
	struct ip_endpoint e;
	struct ip_addr v6 = addr("fd00::53");

	REQUIRE_INT(ip_endpoint_parse_port("10.1.0.53", 53, &e), 0);
	CHECK_INT(e.addr.family, 4);
	CHECK_INT(e.port, 53);
	REQUIRE_INT(ip_endpoint_parse_port("fd00::53", 53, &e), 0);
	CHECK(ip_addr_eq(&e.addr, &v6));
	CHECK_INT(e.port, 53);
	REQUIRE_INT(ip_endpoint_parse_port("10.1.0.54:5353", 53, &e), 0);
	CHECK_INT(e.port, 5353);
	REQUIRE_INT(ip_endpoint_parse_port("[fd00::53]:54", 53, &e), 0);
	CHECK_INT(e.port, 54);
	CHECK_INT(ip_endpoint_parse_port("[fd00::53]", 53, &e),
		  WEFT_ERR_PARSE);
	CHECK_INT(ip_endpoint_parse_port("ns.example", 53, &e),
		  WEFT_ERR_PARSE);
	CHECK_INT(ip_endpoint_parse_port("10.1.0.53:0", 53, &e),
		  WEFT_ERR_RANGE);
}

static void rejects_malformed_endpoints(void)
{
	static const struct {
		const char *s;
		int err;
	} bad[] = {
		{"1.2.3.4", WEFT_ERR_PARSE},        {"1.2.3.4:", WEFT_ERR_PARSE},
		{"1.2.3.4:080", WEFT_ERR_PARSE},    {"1.2.3.4:8o", WEFT_ERR_PARSE},
		{"1.2.3.4:+80", WEFT_ERR_PARSE},    {"1.2.3.4:80 ", WEFT_ERR_PARSE},
		{"1.2.3.4:80:90", WEFT_ERR_PARSE},  {"2001:db8::1:443", WEFT_ERR_PARSE},
		{"[1.2.3.4]:80", WEFT_ERR_PARSE},   {"[::1]", WEFT_ERR_PARSE},
		{"[::1]80", WEFT_ERR_PARSE},        {"[::1:80", WEFT_ERR_PARSE},
		{"[fe80::1%eth0]:80", WEFT_ERR_PARSE}, {"::1]:80", WEFT_ERR_PARSE},
		{"01.2.3.4:80", WEFT_ERR_PARSE},    {"", WEFT_ERR_PARSE},
		{":80", WEFT_ERR_PARSE},            {"[]:80", WEFT_ERR_PARSE},
		{"1.2.3.4:0", WEFT_ERR_RANGE},      {"1.2.3.4:65536", WEFT_ERR_RANGE},
		{"[::1]:0", WEFT_ERR_RANGE},        {"[::1]:99999999999", WEFT_ERR_RANGE},
	};
	struct ip_endpoint e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = ip_endpoint_parse(bad[i].s, &e);

		check_report(r == bad[i].err, __FILE__, __LINE__,
			     "\"%s\" gave %d, want %d", bad[i].s, r, bad[i].err);
	}
}

static void formats_endpoints_with_brackets_for_ipv6(void)
{
	struct ip_endpoint e;
	char buf[IP_ENDPOINT_STRLEN], small[10] = "keep";

	REQUIRE_INT(ip_endpoint_parse("[2001:DB8:0::1]:443", &e), 0);
	REQUIRE_INT(ip_endpoint_format(&e, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "[2001:db8::1]:443");
	CHECK_INT(ip_endpoint_format(&e, small, sizeof(small)), WEFT_ERR_TOOBIG);
	CHECK_STR(small, "keep");
	REQUIRE_INT(ip_endpoint_parse("10.0.0.1:51820", &e), 0);
	REQUIRE_INT(ip_endpoint_format(&e, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "10.0.0.1:51820");
	REQUIRE_INT(ip_endpoint_parse(
		"[FFFF:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", &e), 0);
	REQUIRE_INT(ip_endpoint_format(&e, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	REQUIRE_INT(ip_endpoint_parse("[::ffff:255.255.255.255]:1", &e), 0);
	REQUIRE_INT(ip_endpoint_format(&e, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "[::ffff:255.255.255.255]:1");
}

static void converts_sockaddrs_both_ways(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(8080)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
				    .sin6_port = htons(443)};
	struct sockaddr_storage ss;
	struct ip_endpoint e, back;
	struct ip_addr v4 = addr("192.0.2.7"), v6 = addr("2001:db8::9");
	socklen_t len;

	memcpy(&sin.sin_addr, v4.b, 4);
	REQUIRE_INT(ip_endpoint_from_sockaddr((struct sockaddr *)&sin,
					      sizeof(sin), &e), 0);
	CHECK(ip_addr_eq(&e.addr, &v4));
	CHECK_INT(e.port, 8080);
	REQUIRE_INT(ip_endpoint_to_sockaddr(&e, &ss, &len), 0);
	CHECK_INT(len, sizeof(struct sockaddr_in));
	CHECK_INT(ss.ss_family, AF_INET);
	CHECK_MEM(&ss, &sin, sizeof(sin));

	memcpy(&sin6.sin6_addr, v6.b, 16);
	REQUIRE_INT(ip_endpoint_from_sockaddr((struct sockaddr *)&sin6,
					      sizeof(sin6), &e), 0);
	CHECK(ip_addr_eq(&e.addr, &v6));
	CHECK_INT(e.port, 443);
	REQUIRE_INT(ip_endpoint_to_sockaddr(&e, &ss, &len), 0);
	CHECK_INT(len, sizeof(struct sockaddr_in6));
	REQUIRE_INT(ip_endpoint_from_sockaddr((struct sockaddr *)&ss, len, &back), 0);
	CHECK(ip_addr_eq(&back.addr, &v6));
	CHECK_INT(back.port, 443);
}

static void mapped_sockaddr_becomes_ipv4(void)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
				    .sin6_port = htons(51820)};
	struct ip_addr mapped = addr("::ffff:203.0.113.5"), v4 = addr("203.0.113.5");
	struct ip_endpoint e;

	memcpy(&sin6.sin6_addr, mapped.b, 16);
	REQUIRE_INT(ip_endpoint_from_sockaddr((struct sockaddr *)&sin6,
					      sizeof(sin6), &e), 0);
	CHECK_INT(e.addr.family, 4);
	CHECK_MEM(&e.addr, &v4, sizeof(v4));
	CHECK_INT(e.port, 51820);
}

static void rejects_short_and_foreign_sockaddrs(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ip_endpoint e, keep;
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&e, 0x33, sizeof(e));
	keep = e;
	CHECK_INT(ip_endpoint_from_sockaddr((struct sockaddr *)&sin,
					    sizeof(sin) - 1, &e), WEFT_ERR_INVAL);
	CHECK_INT(ip_endpoint_from_sockaddr((struct sockaddr *)&sin6,
					    sizeof(struct sockaddr_in), &e),
		  WEFT_ERR_INVAL);
	CHECK_INT(ip_endpoint_from_sockaddr((struct sockaddr *)&sun,
					    sizeof(sun), &e), WEFT_ERR_UNSUPPORTED);
	CHECK_MEM(&e, &keep, sizeof(e));
	e.addr.family = 0;
	CHECK_INT(ip_endpoint_to_sockaddr(&e, &ss, &len), WEFT_ERR_INVAL);
}

static void parses_port_ranges(void)
{
	static const struct {
		const char *in;
		int rc;
		uint16_t lo, hi;
	} cases[] = {
		{"443", 0, 443, 443}, {"1", 0, 1, 1}, {"65535", 0, 65535, 65535},
		{"8000-8100", 0, 8000, 8100}, {"7-7", 0, 7, 7},
		{"0", WEFT_ERR_RANGE, 0, 0}, {"65536", WEFT_ERR_RANGE, 0, 0},
		{"90-80", WEFT_ERR_RANGE, 0, 0}, {"1-0", WEFT_ERR_RANGE, 0, 0},
		{"99999999999", WEFT_ERR_RANGE, 0, 0},
		{"", WEFT_ERR_PARSE, 0, 0}, {"08", WEFT_ERR_PARSE, 0, 0},
		{"-80", WEFT_ERR_PARSE, 0, 0}, {"80-", WEFT_ERR_PARSE, 0, 0},
		{"1-2-3", WEFT_ERR_PARSE, 0, 0}, {"+1", WEFT_ERR_PARSE, 0, 0},
		{"http", WEFT_ERR_PARSE, 0, 0}, {" 80", WEFT_ERR_PARSE, 0, 0},
		{"*", WEFT_ERR_PARSE, 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t lo = 1234, hi = 1234;
		int rc = ip_port_range_parse(cases[i].in, strlen(cases[i].in),
					     &lo, &hi);

		CHECK_INT(rc, cases[i].rc);
		CHECK_INT(lo, rc ? 1234 : cases[i].lo);
		CHECK_INT(hi, rc ? 1234 : cases[i].hi);
	}
	/* The length bounds it: "443,80" read as 3 bytes. */
	{
		uint16_t lo, hi;

		CHECK_INT(ip_port_range_parse("443,80", 3, &lo, &hi), 0);
		CHECK_INT(lo, 443);
	}
}

static const struct check_case cases[] = {
	CHECK_CASE(parses_ipv4_into_first_four_bytes),
	CHECK_CASE(rejects_malformed_ipv4),
	CHECK_CASE(rejects_leading_zeros_in_ipv4_octets),
	CHECK_CASE(parses_ipv6_forms),
	CHECK_CASE(rejects_malformed_ipv6),
	CHECK_CASE(rejects_zone_ids),
	CHECK_CASE(formats_ipv6_per_rfc5952),
	CHECK_CASE(format_refuses_small_buffer_and_leaves_it_alone),
	CHECK_CASE(orders_ipv4_before_ipv6_then_numerically),
	CHECK_CASE(unmap_turns_mapped_ipv6_into_ipv4),
	CHECK_CASE(next_address_carries_and_stops_at_the_end),
	CHECK_CASE(classifies_private_loopback_and_link_local),
	CHECK_CASE(parses_prefixes_of_both_families),
	CHECK_CASE(rejects_cidr_with_host_bits_set),
	CHECK_CASE(keeps_host_bits_unless_strict),
	CHECK_CASE(rejects_malformed_prefixes),
	CHECK_CASE(bare_address_becomes_host_prefix_when_allowed),
	CHECK_CASE(formats_prefix_and_refuses_invalid_ones),
	CHECK_CASE(prefix_contains_addresses_of_its_range_only),
	CHECK_CASE(prefix_contains_and_overlaps_other_prefixes),
	CHECK_CASE(nth_address_counts_from_the_network_address),
	CHECK_CASE(alloc_starts_after_network_address),
	CHECK_CASE(alloc_skips_used_addresses_after_hint),
	CHECK_CASE(alloc_wraps_around_skipping_broadcast),
	CHECK_CASE(alloc_reports_exhausted_after_one_full_round),
	CHECK_CASE(alloc_gives_up_after_max_probe),
	CHECK_CASE(alloc_uses_every_address_of_tiny_pools),
	CHECK_CASE(alloc_in_ipv6_pool_keeps_last_address),
	CHECK_CASE(parses_endpoints),
	CHECK_CASE(endpoint_with_default_port_takes_a_bare_address),
	CHECK_CASE(rejects_malformed_endpoints),
	CHECK_CASE(formats_endpoints_with_brackets_for_ipv6),
	CHECK_CASE(converts_sockaddrs_both_ways),
	CHECK_CASE(mapped_sockaddr_becomes_ipv4),
	CHECK_CASE(rejects_short_and_foreign_sockaddrs),
	CHECK_CASE(parses_port_ranges),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
