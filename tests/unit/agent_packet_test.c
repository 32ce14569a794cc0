#include "check.h"
#include "agent/packet.h"
#include "shared/err.h"

#include <arpa/inet.h>

/* Packet builders. Every builder writes a consistent packet; tests then
 * break one field to hit one rejection class. */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* IPv4 header of ihl bytes (options zeroed) with total length total. */
static void v4_header(uint8_t *p, size_t ihl, size_t total, uint8_t proto,
		      const char *src, const char *dst)
{
	memset(p, 0, ihl);
	p[0] = (uint8_t)(0x40 | (ihl / 4));
	put16(p + 2, (uint16_t)total);
	put16(p + 4, 0x1234);
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
}

static void v6_header(uint8_t *p, size_t plen, uint8_t nh, const char *src,
		      const char *dst)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)plen);
	p[6] = nh;
	p[7] = 64;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
}

static void tcp_header(uint8_t *p, uint16_t sport, uint16_t dport,
		       uint8_t flags)
{
	memset(p, 0, 20);
	put16(p, sport);
	put16(p + 2, dport);
	p[12] = 5 << 4;
	p[13] = flags;
}

static void udp_header(uint8_t *p, uint16_t sport, uint16_t dport,
		       size_t ulen)
{
	memset(p, 0, 8);
	put16(p, sport);
	put16(p + 2, dport);
	put16(p + 4, (uint16_t)ulen);
}

/* IPv4 TCP packet 100.64.0.1:40000 -> 100.64.0.2:5432 with n data bytes. */
static size_t v4_tcp(uint8_t *p, size_t n)
{
	v4_header(p, 20, 40 + n, PACKET_PROTO_TCP, "100.64.0.1", "100.64.0.2");
	tcp_header(p + 20, 40000, 5432, 0x02);
	memset(p + 40, 'x', n);
	return 40 + n;
}

/* IPv6 UDP packet fd7a::1:5353 -> fd7a::2:53 with n data bytes. */
static size_t v6_udp(uint8_t *p, size_t n)
{
	v6_header(p, 8 + n, PACKET_PROTO_UDP, "fd7a::1", "fd7a::2");
	udp_header(p + 40, 5353, 53, 8 + n);
	memset(p + 48, 'y', n);
	return 48 + n;
}

static bool addr_is(const struct ip_addr *a, const char *s)
{
	struct ip_addr b;

	return ip_addr_parse(s, &b) == 0 && ip_addr_eq(a, &b);
}

static void parses_ipv4_tcp_addresses_ports_and_flags(void)
{
	uint8_t p[100];
	size_t n = v4_tcp(p, 10);
	struct packet_info pi;

	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(pi.version, 4);
	CHECK_INT(pi.proto, PACKET_PROTO_TCP);
	CHECK(addr_is(&pi.src, "100.64.0.1"));
	CHECK(addr_is(&pi.dst, "100.64.0.2"));
	CHECK(pi.has_ports);
	CHECK_INT(pi.sport, 40000);
	CHECK_INT(pi.dport, 5432);
	CHECK_INT(pi.tcp_flags, 0x02);
	CHECK_INT(pi.l3_len, 20);
	CHECK_INT(pi.len, n);
	CHECK(!pi.fragment);
	CHECK(!pi.has_icmp);
}

static void parses_ipv4_with_options(void)
{
	uint8_t p[100];
	struct packet_info pi;

	v4_header(p, 28, 28 + 8, PACKET_PROTO_UDP, "10.0.0.1", "10.0.0.2");
	udp_header(p + 28, 1000, 2000, 8);
	REQUIRE_INT(packet_parse(p, 36, &pi), 0);
	CHECK_INT(pi.l3_len, 28);
	CHECK_INT(pi.sport, 1000);
	CHECK_INT(pi.dport, 2000);
}

static void parses_icmp_echo_type_and_identifier(void)
{
	uint8_t p[64];
	struct packet_info pi;

	v4_header(p, 20, 28, PACKET_PROTO_ICMP, "100.64.0.1", "100.64.0.2");
	memset(p + 20, 0, 8);
	p[20] = 8;
	put16(p + 24, 0x4242);
	REQUIRE_INT(packet_parse(p, 28, &pi), 0);
	CHECK(pi.has_icmp);
	CHECK(!pi.has_ports);
	CHECK_INT(pi.icmp_type, 8);
	CHECK_INT(pi.icmp_id, 0x4242);

	v6_header(p, 8, PACKET_PROTO_ICMPV6, "fd7a::1", "fd7a::2");
	memset(p + 40, 0, 8);
	p[40] = 129;
	put16(p + 44, 7);
	REQUIRE_INT(packet_parse(p, 48, &pi), 0);
	CHECK(pi.has_icmp);
	CHECK_INT(pi.icmp_type, 129);
	CHECK_INT(pi.icmp_id, 7);
	/* ICMPv4's number inside IPv6 is just an unknown protocol. */
	p[6] = PACKET_PROTO_ICMP;
	REQUIRE_INT(packet_parse(p, 48, &pi), 0);
	CHECK(!pi.has_icmp);
}

static void parses_ipv6_udp(void)
{
	uint8_t p[100];
	size_t n = v6_udp(p, 4);
	struct packet_info pi;

	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(pi.version, 6);
	CHECK_INT(pi.proto, PACKET_PROTO_UDP);
	CHECK(addr_is(&pi.src, "fd7a::1"));
	CHECK(addr_is(&pi.dst, "fd7a::2"));
	CHECK_INT(pi.sport, 5353);
	CHECK_INT(pi.dport, 53);
	CHECK_INT(pi.l3_len, 40);
}

/* Appends an 8-byte extension header (hop-by-hop, routing, dest opts) or a
 * fragment header; returns the new offset. */
static size_t ext(uint8_t *p, size_t off, uint8_t nh, size_t len8)
{
	memset(p + off, 0, len8 * 8);
	p[off] = nh;
	p[off + 1] = (uint8_t)(len8 - 1);
	return off + len8 * 8;
}

static void walks_ipv6_extension_headers(void)
{
	uint8_t p[200];
	struct packet_info pi;
	size_t off = 40;

	off = ext(p, off, 43, 1);  /* hop-by-hop -> routing */
	off = ext(p, off, 60, 2);  /* routing (16 bytes) -> dest opts */
	off = ext(p, off, PACKET_PROTO_TCP, 1);
	tcp_header(p + off, 22, 2222, 0x10);
	v6_header(p, off + 20 - 40, 0, "fd7a::1", "fd7a::2");
	REQUIRE_INT(packet_parse(p, off + 20, &pi), 0);
	CHECK_INT(pi.proto, PACKET_PROTO_TCP);
	CHECK_INT(pi.l3_len, off);
	CHECK_INT(pi.dport, 2222);
	CHECK(!pi.fragment);
}

/* IPv6 packet with a fragment header at 40 (offset in bytes, more flag). */
static size_t v6_frag(uint8_t *p, size_t frag_off, bool more, size_t tail)
{
	memset(p + 40, 0, 8);
	p[40] = PACKET_PROTO_UDP;
	put16(p + 42, (uint16_t)(frag_off | (more ? 1 : 0)));
	p[44] = 0xaa;
	p[47] = 0x01;
	v6_header(p, 8 + tail, 44, "fd7a::1", "fd7a::2");
	return 48 + tail;
}

static void ipv6_fragments_have_ports_only_in_the_first(void)
{
	uint8_t p[200];
	struct packet_info pi;
	size_t n;

	n = v6_frag(p, 0, true, 16);
	udp_header(p + 48, 1, 9, 100); /* datagram longer than the fragment */
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK(pi.fragment);
	CHECK(!pi.later_fragment);
	CHECK(pi.has_ports);
	CHECK_INT(pi.dport, 9);
	CHECK_INT(pi.frag_id, 0xaa000001);
	CHECK_INT(pi.l3_len, 48);

	n = v6_frag(p, 16, false, 16);
	memset(p + 48, 0xff, 16);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK(pi.fragment);
	CHECK(pi.later_fragment);
	CHECK(!pi.has_ports);
	CHECK_INT(pi.dport, 0);
	CHECK_INT(pi.proto, PACKET_PROTO_UDP);
	CHECK_INT(pi.frag_id, 0xaa000001);
}

static void ipv6_atomic_fragment_is_a_whole_datagram(void)
{
	uint8_t p[200];
	struct packet_info pi;
	size_t n = v6_frag(p, 0, false, 8);

	udp_header(p + 48, 1, 9, 8);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK(!pi.fragment);
	CHECK(pi.has_ports);
}

static void ipv4_fragments_have_ports_only_in_the_first(void)
{
	uint8_t p[100];
	struct packet_info pi;

	v4_header(p, 20, 36, PACKET_PROTO_UDP, "10.0.0.1", "10.0.0.2");
	put16(p + 6, 0x2000); /* MF, offset 0 */
	udp_header(p + 20, 7, 8, 1000);
	REQUIRE_INT(packet_parse(p, 36, &pi), 0);
	CHECK(pi.fragment);
	CHECK(!pi.later_fragment);
	CHECK(pi.has_ports);
	CHECK_INT(pi.frag_id, 0x1234);

	put16(p + 6, 3); /* offset 24, last */
	memset(p + 20, 0xee, 16);
	REQUIRE_INT(packet_parse(p, 36, &pi), 0);
	CHECK(pi.later_fragment);
	CHECK(!pi.has_ports);
	CHECK_INT(pi.sport, 0);
	CHECK_INT(pi.dport, 0);
}

static void rejects_empty_input_and_unknown_versions(void)
{
	uint8_t p[100];
	struct packet_info pi = {.version = 99};
	size_t n = v4_tcp(p, 0);

	CHECK_INT(packet_parse(p, 0, &pi), WEFT_ERR_PARSE);
	CHECK_INT(packet_parse(NULL, 10, &pi), WEFT_ERR_PARSE);
	p[0] = 0x55;
	CHECK_INT(packet_parse(p, n, &pi), WEFT_ERR_PARSE);
	p[0] = 0x05;
	CHECK_INT(packet_parse(p, n, &pi), WEFT_ERR_PARSE);
	CHECK_INT(pi.version, 99); /* untouched on failure */
}

static void rejects_truncated_or_inconsistent_ipv4_headers(void)
{
	uint8_t p[100];
	struct packet_info pi;
	size_t n = v4_tcp(p, 4);

	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(packet_parse(p, 19, &pi), WEFT_ERR_PARSE);
	/* Total length says more or less than we got. */
	CHECK_INT(packet_parse(p, n - 1, &pi), WEFT_ERR_PARSE);
	put16(p + 2, (uint16_t)(n - 1));
	CHECK_INT(packet_parse(p, n, &pi), WEFT_ERR_PARSE);
	put16(p + 2, (uint16_t)n);
	/* IHL below 5, and beyond the total length. */
	p[0] = 0x44;
	CHECK_INT(packet_parse(p, n, &pi), WEFT_ERR_PARSE);
	p[0] = 0x4f;
	CHECK_INT(packet_parse(p, n, &pi), WEFT_ERR_PARSE);
}

static void rejects_truncated_or_inconsistent_l4_headers(void)
{
	uint8_t p[100];
	struct packet_info pi;

	/* TCP shorter than 20 bytes. */
	v4_header(p, 20, 36, PACKET_PROTO_TCP, "10.0.0.1", "10.0.0.2");
	tcp_header(p + 20, 1, 2, 0);
	CHECK_INT(packet_parse(p, 36, &pi), WEFT_ERR_PARSE);
	/* TCP data offset below 5 or beyond the packet. */
	v4_tcp(p, 0);
	p[32] = 4 << 4;
	CHECK_INT(packet_parse(p, 40, &pi), WEFT_ERR_PARSE);
	p[32] = 6 << 4;
	CHECK_INT(packet_parse(p, 40, &pi), WEFT_ERR_PARSE);
	/* UDP length that disagrees with the IP length. */
	v6_udp(p, 4);
	put16(p + 44, 11);
	CHECK_INT(packet_parse(p, 52, &pi), WEFT_ERR_PARSE);
	put16(p + 44, 13);
	CHECK_INT(packet_parse(p, 52, &pi), WEFT_ERR_PARSE);
	put16(p + 44, 7);
	CHECK_INT(packet_parse(p, 52, &pi), WEFT_ERR_PARSE);
	/* UDP and ICMP headers cut short. */
	v6_header(p, 4, PACKET_PROTO_UDP, "fd7a::1", "fd7a::2");
	CHECK_INT(packet_parse(p, 44, &pi), WEFT_ERR_PARSE);
	v4_header(p, 20, 24, PACKET_PROTO_ICMP, "10.0.0.1", "10.0.0.2");
	CHECK_INT(packet_parse(p, 24, &pi), WEFT_ERR_PARSE);
}

static void rejects_hostile_ipv4_fragments(void)
{
	uint8_t p[100];
	struct packet_info pi;

	/* RFC 1858: TCP fragment at offset 8 overlapping the flags. */
	v4_header(p, 20, 36, PACKET_PROTO_TCP, "10.0.0.1", "10.0.0.2");
	put16(p + 6, 1);
	CHECK_INT(packet_parse(p, 36, &pi), WEFT_ERR_PARSE);
	/* A first fragment too short for the TCP header (tiny fragment). */
	put16(p + 6, 0x2000);
	CHECK_INT(packet_parse(p, 36, &pi), WEFT_ERR_PARSE);
	/* A fragment whose end lies beyond 65535 bytes. */
	v4_header(p, 20, 36, PACKET_PROTO_UDP, "10.0.0.1", "10.0.0.2");
	put16(p + 6, 0x1fff);
	CHECK_INT(packet_parse(p, 36, &pi), WEFT_ERR_PARSE);
}

static void rejects_bad_ipv6_headers_and_extension_chains(void)
{
	uint8_t p[300];
	struct packet_info pi;
	size_t off, n, i;

	/* Payload length inconsistent with the input. */
	n = v6_udp(p, 4);
	CHECK_INT(packet_parse(p, n - 1, &pi), WEFT_ERR_PARSE);
	CHECK_INT(packet_parse(p, 39, &pi), WEFT_ERR_PARSE);
	put16(p + 4, 13);
	CHECK_INT(packet_parse(p, n, &pi), WEFT_ERR_PARSE);

	/* Hop-by-hop after another extension header. */
	off = ext(p, 40, 0, 1);
	off = ext(p, off, PACKET_PROTO_UDP, 1);
	udp_header(p + off, 1, 2, 8);
	v6_header(p, off + 8 - 40, 60, "fd7a::1", "fd7a::2");
	CHECK_INT(packet_parse(p, off + 8, &pi), WEFT_ERR_PARSE);
	p[6] = 0; /* the same chain starting with hop-by-hop is fine */
	p[40] = 60;
	CHECK_INT(packet_parse(p, off + 8, &pi), 0);

	/* Two fragment headers. */
	memset(p + 40, 0, 16);
	p[40] = 44;
	p[48] = PACKET_PROTO_UDP;
	udp_header(p + 56, 1, 2, 8);
	v6_header(p, 24, 44, "fd7a::1", "fd7a::2");
	CHECK_INT(packet_parse(p, 64, &pi), WEFT_ERR_PARSE);

	/* More extension headers than the bound. */
	off = 40;
	for (i = 0; i < PACKET_MAX_EXT_HEADERS; i++)
		off = ext(p, off, 60, 1);
	p[off - 8] = PACKET_PROTO_UDP;
	udp_header(p + off, 1, 2, 8);
	v6_header(p, off + 8 - 40, 60, "fd7a::1", "fd7a::2");
	CHECK_INT(packet_parse(p, off + 8, &pi), 0);
	p[off - 8] = 60;
	off = ext(p, off, PACKET_PROTO_UDP, 1);
	udp_header(p + off, 1, 2, 8);
	v6_header(p, off + 8 - 40, 60, "fd7a::1", "fd7a::2");
	CHECK_INT(packet_parse(p, off + 8, &pi), WEFT_ERR_PARSE);

	/* An extension header whose length runs past the packet. */
	off = ext(p, 40, PACKET_PROTO_UDP, 1);
	p[41] = 3;
	udp_header(p + off, 1, 2, 8);
	v6_header(p, off + 8 - 40, 60, "fd7a::1", "fd7a::2");
	CHECK_INT(packet_parse(p, off + 8, &pi), WEFT_ERR_PARSE);
	/* ... or that is cut short itself. */
	v6_header(p, 4, 60, "fd7a::1", "fd7a::2");
	CHECK_INT(packet_parse(p, 44, &pi), WEFT_ERR_PARSE);

	/* RFC 7112: a first fragment must hold the upper-layer header. */
	n = v6_frag(p, 0, true, 4);
	CHECK_INT(packet_parse(p, n, &pi), WEFT_ERR_PARSE);
	/* Fragment ending beyond 65535 bytes. */
	n = v6_frag(p, 65528, false, 16);
	CHECK_INT(packet_parse(p, n, &pi), WEFT_ERR_PARSE);
}

/* Independent RFC 1071 check: the one's-complement sum of a region that
 * includes its checksum field is 0xffff. Sums 32-bit big-endian chunks in
 * a 64-bit accumulator (unlike the module, which sums 16-bit words). */
static bool sum_ok(const uint8_t *p, size_t n, const uint8_t *pseudo,
		   size_t pn)
{
	uint8_t buf[2000];
	uint64_t s = 0;
	size_t i, m;

	memset(buf, 0, sizeof(buf));
	if (pn)
		memcpy(buf, pseudo, pn);
	memcpy(buf + pn, p, n);
	m = (pn + n + 3) & ~(size_t)3;
	for (i = 0; i < m; i += 4)
		s += (uint64_t)buf[i] << 24 | (uint64_t)buf[i + 1] << 16 |
		     (uint64_t)buf[i + 2] << 8 | buf[i + 3];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static void ipv4_admin_prohibited_reply_has_valid_checksums(void)
{
	uint8_t p[100], out[600];
	size_t n = v4_tcp(p, 12), m = 0;
	struct packet_info pi, ri;

	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	REQUIRE_INT(packet_icmp_error(p, n, &pi, PACKET_ICMP_ADMIN_PROHIBITED,
				      0, out, sizeof(out), &m),
		    0);
	REQUIRE_INT(m, 28 + n);
	CHECK(sum_ok(out, 20, NULL, 0));
	CHECK(sum_ok(out + 20, m - 20, NULL, 0));
	REQUIRE_INT(packet_parse(out, m, &ri), 0);
	CHECK_INT(ri.proto, PACKET_PROTO_ICMP);
	CHECK_INT(ri.icmp_type, 3);
	CHECK_INT(ri.icmp_code, 13);
	CHECK(ip_addr_eq(&ri.src, &pi.dst));
	CHECK(ip_addr_eq(&ri.dst, &pi.src));
	CHECK_MEM(out + 28, p, n);
}

static void icmp_errors_expose_the_quoted_flow(void)
{
	uint8_t p[100], out[1300];
	size_t n = v4_tcp(p, 12), m = 0;
	struct packet_info pi, ri;

	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK(!pi.has_quote);
	REQUIRE_INT(packet_icmp_error(p, n, &pi, PACKET_ICMP_NO_ROUTE, 0, out,
				      sizeof(out), &m),
		    0);
	REQUIRE_INT(packet_parse(out, m, &ri), 0);
	REQUIRE(ri.has_quote);
	CHECK_INT(ri.quote.proto, PACKET_PROTO_TCP);
	CHECK(ip_addr_eq(&ri.quote.src, &pi.src));
	CHECK(ip_addr_eq(&ri.quote.dst, &pi.dst));
	CHECK(ri.quote.has_ports && ri.quote.sport == 40000 &&
	      ri.quote.dport == 5432);
	/* A quote cut inside the TCP ports' 8 bytes is left out. */
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	out[3] = (uint8_t)(28 + 27); /* IPv4 total length */
	out[2] = 0;
	out[10] = out[11] = 0;
	REQUIRE_INT(packet_parse(out, 28 + 27, &ri), 0);
	CHECK(!ri.has_quote);
	n = v6_udp(p, 20);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	REQUIRE_INT(packet_icmp_error(p, n, &pi, PACKET_ICMP_ADMIN_PROHIBITED,
				      0, out, sizeof(out), &m),
		    0);
	REQUIRE_INT(packet_parse(out, m, &ri), 0);
	REQUIRE(ri.has_quote);
	CHECK_INT(ri.quote.proto, PACKET_PROTO_UDP);
	CHECK(ip_addr_eq(&ri.quote.src, &pi.src));
	CHECK(ri.quote.sport == 5353 && ri.quote.dport == 53);
}

static void ipv6_admin_prohibited_reply_has_valid_checksum(void)
{
	uint8_t p[100], out[1300], pseudo[40];
	size_t n = v6_udp(p, 20), m = 0;
	struct packet_info pi, ri;

	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	REQUIRE_INT(packet_icmp_error(p, n, &pi, PACKET_ICMP_ADMIN_PROHIBITED,
				      0, out, sizeof(out), &m),
		    0);
	REQUIRE_INT(m, 48 + n);
	memcpy(pseudo, out + 8, 32);
	memset(pseudo + 32, 0, 8);
	put16(pseudo + 34, (uint16_t)(m - 40));
	pseudo[39] = PACKET_PROTO_ICMPV6;
	CHECK(sum_ok(out + 40, m - 40, pseudo, 40));
	REQUIRE_INT(packet_parse(out, m, &ri), 0);
	CHECK_INT(ri.icmp_type, 1);
	CHECK_INT(ri.icmp_code, 1);
	CHECK(ip_addr_eq(&ri.src, &pi.dst));
	CHECK(ip_addr_eq(&ri.dst, &pi.src));
	CHECK_MEM(out + 48, p, n);
	/* A corrupted byte must break the independent check. */
	out[60] ^= 1;
	CHECK(!sum_ok(out + 40, m - 40, pseudo, 40));
}

static void builds_echo_requests_and_replies_with_valid_checksums(void)
{
	uint8_t out[200], pseudo[40];
	const uint8_t data[5] = {'h', 'e', 'l', 'l', 'o'};
	struct ip_addr a, b, c;
	struct packet_info pi;
	size_t m = 0;

	REQUIRE_INT(ip_addr_parse("100.64.0.1", &a), 0);
	REQUIRE_INT(ip_addr_parse("100.64.0.2", &b), 0);
	REQUIRE_INT(packet_echo(&a, &b, false, 0x1234, 7, data, sizeof(data),
				out, sizeof(out), &m),
		    0);
	REQUIRE_INT(m, 20 + 8 + sizeof(data));
	CHECK(sum_ok(out, 20, NULL, 0));
	CHECK(sum_ok(out + 20, m - 20, NULL, 0));
	REQUIRE_INT(packet_parse(out, m, &pi), 0);
	CHECK_INT(pi.proto, PACKET_PROTO_ICMP);
	CHECK_INT(pi.icmp_type, 8);
	CHECK_INT(pi.icmp_id, 0x1234);
	CHECK(addr_is(&pi.src, "100.64.0.1"));
	CHECK(addr_is(&pi.dst, "100.64.0.2"));
	CHECK_INT(out[26] << 8 | out[27], 7);
	CHECK_MEM(out + 28, data, sizeof(data));

	REQUIRE_INT(ip_addr_parse("fd7a::1", &a), 0);
	REQUIRE_INT(ip_addr_parse("fd7a::2", &b), 0);
	REQUIRE_INT(packet_echo(&b, &a, true, 9, 65535, data, sizeof(data),
				out, sizeof(out), &m),
		    0);
	REQUIRE_INT(m, 40 + 8 + sizeof(data));
	memcpy(pseudo, out + 8, 32);
	memset(pseudo + 32, 0, 8);
	put16(pseudo + 34, (uint16_t)(m - 40));
	pseudo[39] = PACKET_PROTO_ICMPV6;
	CHECK(sum_ok(out + 40, m - 40, pseudo, 40));
	REQUIRE_INT(packet_parse(out, m, &pi), 0);
	CHECK_INT(pi.icmp_type, 129);
	CHECK_INT(pi.icmp_id, 9);
	CHECK(addr_is(&pi.src, "fd7a::2"));

	/* Mixed families and a too small buffer are refused. */
	REQUIRE_INT(ip_addr_parse("100.64.0.3", &c), 0);
	m = 99;
	CHECK_INT(packet_echo(&a, &c, false, 1, 1, NULL, 0, out, sizeof(out),
			      &m),
		  WEFT_ERR_INVAL);
	CHECK_INT(packet_echo(&a, &b, false, 1, 1, data, sizeof(data), out,
			      50, &m),
		  WEFT_ERR_TOOBIG);
	CHECK_INT(m, 99);
}

static void icmp_replies_are_capped_and_carry_the_mtu(void)
{
	uint8_t p[1500], out[1400];
	size_t m = 0, n;
	struct packet_info pi;

	n = v4_tcp(p, 1000);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	REQUIRE_INT(packet_icmp_error(p, n, &pi, PACKET_ICMP_TOO_BIG, 1160,
				      out, sizeof(out), &m),
		    0);
	CHECK_INT(m, 576);
	CHECK_INT(out[21], 4);
	CHECK_INT(out[26] << 8 | out[27], 1160);
	CHECK(sum_ok(out + 20, m - 20, NULL, 0));

	n = v6_udp(p, 1400);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	REQUIRE_INT(packet_icmp_error(p, n, &pi, PACKET_ICMP_TOO_BIG, 1280,
				      out, sizeof(out), &m),
		    0);
	CHECK_INT(m, 1280);
	CHECK_INT(out[40], 2);
	CHECK_INT(out[46] << 8 | out[47], 1280);
	CHECK_INT(packet_icmp_error(p, n, &pi, PACKET_ICMP_NO_ROUTE, 0, out,
				    1279, &m),
		  WEFT_ERR_TOOBIG);
}

static void refuses_to_answer_errors_fragments_and_multicast(void)
{
	uint8_t p[200], out[1300];
	size_t m = 0, n;
	struct packet_info pi;

	/* An ICMP error is never answered; an echo request is. */
	v4_header(p, 20, 28, PACKET_PROTO_ICMP, "100.64.0.1", "100.64.0.2");
	memset(p + 20, 0, 8);
	p[20] = 3;
	REQUIRE_INT(packet_parse(p, 28, &pi), 0);
	CHECK_INT(packet_icmp_error(p, 28, &pi, PACKET_ICMP_NO_ROUTE, 0, out,
				    sizeof(out), &m),
		  WEFT_ERR_INVAL);
	p[20] = 8;
	REQUIRE_INT(packet_parse(p, 28, &pi), 0);
	CHECK_INT(packet_icmp_error(p, 28, &pi, PACKET_ICMP_NO_ROUTE, 0, out,
				    sizeof(out), &m),
		  0);
	/* Multicast destination. */
	n = v4_tcp(p, 0);
	inet_pton(AF_INET, "239.1.2.3", p + 16);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(packet_icmp_error(p, n, &pi, PACKET_ICMP_NO_ROUTE, 0, out,
				    sizeof(out), &m),
		  WEFT_ERR_INVAL);
	/* Unspecified IPv6 source, and an ICMPv6 error. */
	n = v6_udp(p, 0);
	memset(p + 8, 0, 16);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(packet_icmp_error(p, n, &pi, PACKET_ICMP_NO_ROUTE, 0, out,
				    sizeof(out), &m),
		  WEFT_ERR_INVAL);
	v6_header(p, 8, PACKET_PROTO_ICMPV6, "fd7a::1", "fd7a::2");
	memset(p + 40, 0, 8);
	p[40] = 1;
	REQUIRE_INT(packet_parse(p, 48, &pi), 0);
	CHECK_INT(packet_icmp_error(p, 48, &pi, PACKET_ICMP_NO_ROUTE, 0, out,
				    sizeof(out), &m),
		  WEFT_ERR_INVAL);
	/* A later fragment. */
	n = v6_frag(p, 8, false, 8);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(packet_icmp_error(p, n, &pi, PACKET_ICMP_NO_ROUTE, 0, out,
				    sizeof(out), &m),
		  WEFT_ERR_INVAL);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* A SYN (no ACK) is refused with RST+ACK acknowledging seq + 1 (the SYN
 * counts), from the destination back to the source, ports swapped. */
static void ipv4_syn_gets_rst_ack_with_valid_checksums(void)
{
	uint8_t p[100], out[100], pseudo[12];
	size_t n = v4_tcp(p, 0), m = 0;
	struct packet_info pi, ri;

	put32(p + 24, 0xfffffff0u); /* seq, wraps below */
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	REQUIRE_INT(packet_tcp_reset(p, n, &pi, out, sizeof(out), &m), 0);
	REQUIRE_INT(m, 40);
	CHECK(sum_ok(out, 20, NULL, 0));
	memcpy(pseudo, out + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = PACKET_PROTO_TCP;
	put16(pseudo + 10, 20);
	CHECK(sum_ok(out + 20, 20, pseudo, 12));
	REQUIRE_INT(packet_parse(out, m, &ri), 0);
	CHECK_INT(ri.proto, PACKET_PROTO_TCP);
	CHECK(ip_addr_eq(&ri.src, &pi.dst));
	CHECK(ip_addr_eq(&ri.dst, &pi.src));
	CHECK_INT(ri.sport, 5432);
	CHECK_INT(ri.dport, 40000);
	CHECK_INT(ri.tcp_flags, 0x14);
	CHECK_INT(get32(out + 24), 0);
	CHECK_INT(get32(out + 28), 0xfffffff1u);
	/* A corrupted byte must break the independent check. */
	out[30] ^= 1;
	CHECK(!sum_ok(out + 20, 20, pseudo, 12));
}

/* A segment with ACK and data is refused with a bare RST whose sequence
 * number is the segment's acknowledgment number (RFC 9293). */
static void ipv6_ack_segment_gets_rst_with_its_ack_as_seq(void)
{
	uint8_t p[100], out[100], pseudo[40];
	size_t m = 0;
	struct packet_info pi, ri;

	v6_header(p, 20 + 10, PACKET_PROTO_TCP, "fd7a::1", "fd7a::2");
	tcp_header(p + 40, 40001, 443, 0x18); /* PSH, ACK */
	put32(p + 44, 1000);
	put32(p + 48, 123456789u);
	memset(p + 60, 'z', 10);
	REQUIRE_INT(packet_parse(p, 70, &pi), 0);
	REQUIRE_INT(packet_tcp_reset(p, 70, &pi, out, sizeof(out), &m), 0);
	REQUIRE_INT(m, 60);
	memcpy(pseudo, out + 8, 32);
	memset(pseudo + 32, 0, 8);
	put16(pseudo + 34, 20);
	pseudo[39] = PACKET_PROTO_TCP;
	CHECK(sum_ok(out + 40, 20, pseudo, 40));
	REQUIRE_INT(packet_parse(out, m, &ri), 0);
	CHECK(ip_addr_eq(&ri.src, &pi.dst));
	CHECK(ip_addr_eq(&ri.dst, &pi.src));
	CHECK_INT(ri.sport, 443);
	CHECK_INT(ri.dport, 40001);
	CHECK_INT(ri.tcp_flags, 0x04);
	CHECK_INT(get32(out + 44), 123456789u);
	CHECK_INT(get32(out + 48), 0);
}

/* Data without ACK (odd, but possible) is acknowledged in full; FIN
 * counts one. */
static void rst_ack_counts_data_and_fin(void)
{
	uint8_t p[100], out[100];
	size_t n = v4_tcp(p, 7), m = 0;
	struct packet_info pi;

	p[33] = 0x01; /* FIN */
	put32(p + 24, 100);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	REQUIRE_INT(packet_tcp_reset(p, n, &pi, out, sizeof(out), &m), 0);
	CHECK_INT(get32(out + 28), 108);
}

/* No reset for a reset, for what is not TCP, for fragments, for
 * multicast, or into a buffer that is too small. */
static void no_reset_for_resets_udp_fragments_or_small_buffers(void)
{
	uint8_t p[100], out[100];
	size_t n = v4_tcp(p, 0), m = 0;
	struct packet_info pi;

	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(packet_tcp_reset(p, n, &pi, out, 39, &m), WEFT_ERR_TOOBIG);
	p[33] = 0x04; /* RST */
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(packet_tcp_reset(p, n, &pi, out, sizeof(out), &m),
		  WEFT_ERR_INVAL);
	n = v6_udp(p, 4);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(packet_tcp_reset(p, n, &pi, out, sizeof(out), &m),
		  WEFT_ERR_INVAL);
	n = v4_tcp(p, 0);
	inet_pton(AF_INET, "224.0.0.5", p + 16);
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(packet_tcp_reset(p, n, &pi, out, sizeof(out), &m),
		  WEFT_ERR_INVAL);
	n = v4_tcp(p, 0);
	put16(p + 6, 0x2000); /* MF: a first fragment */
	REQUIRE_INT(packet_parse(p, n, &pi), 0);
	CHECK_INT(packet_tcp_reset(p, n, &pi, out, sizeof(out), &m),
		  WEFT_ERR_INVAL);
	CHECK_INT(m, 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(parses_ipv4_tcp_addresses_ports_and_flags),
	CHECK_CASE(parses_ipv4_with_options),
	CHECK_CASE(parses_icmp_echo_type_and_identifier),
	CHECK_CASE(parses_ipv6_udp),
	CHECK_CASE(walks_ipv6_extension_headers),
	CHECK_CASE(ipv6_fragments_have_ports_only_in_the_first),
	CHECK_CASE(ipv6_atomic_fragment_is_a_whole_datagram),
	CHECK_CASE(ipv4_fragments_have_ports_only_in_the_first),
	CHECK_CASE(rejects_empty_input_and_unknown_versions),
	CHECK_CASE(rejects_truncated_or_inconsistent_ipv4_headers),
	CHECK_CASE(rejects_truncated_or_inconsistent_l4_headers),
	CHECK_CASE(rejects_hostile_ipv4_fragments),
	CHECK_CASE(rejects_bad_ipv6_headers_and_extension_chains),
	CHECK_CASE(ipv4_admin_prohibited_reply_has_valid_checksums),
	CHECK_CASE(ipv6_admin_prohibited_reply_has_valid_checksum),
	CHECK_CASE(icmp_errors_expose_the_quoted_flow),
	CHECK_CASE(icmp_replies_are_capped_and_carry_the_mtu),
	CHECK_CASE(refuses_to_answer_errors_fragments_and_multicast),
	CHECK_CASE(builds_echo_requests_and_replies_with_valid_checksums),
	CHECK_CASE(ipv4_syn_gets_rst_ack_with_valid_checksums),
	CHECK_CASE(ipv6_ack_segment_gets_rst_with_its_ack_as_seq),
	CHECK_CASE(rst_ack_counts_data_and_fin),
	CHECK_CASE(no_reset_for_resets_udp_fragments_or_small_buffers),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
