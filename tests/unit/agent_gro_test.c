/* agent/gro: coalescing TCP segments (over IPv4 and IPv6) into GSO packets
 * for the TUN, and splitting the kernel's super-segments. Every behaviour
 * is checked once per IP version: the cases are thin wrappers around
 * helpers that take the version. */
#include "agent/gro.h"
#include "shared/err.h"

#include "check.h"

#include <string.h>

#define SEG 1000
#define TCP_HDR 32 /* 20 bytes and 12 of options (timestamps) */

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t sum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t ip_len(bool v6)
{
	return v6 ? 40 : 20;
}

static bool is_v6(const uint8_t *p)
{
	return p[0] >> 4 == 6;
}

/* The TCP pseudo-header sum of p (RFC 793 / RFC 2460 8.1) for l4 bytes. */
static uint32_t pseudo(const uint8_t *p, size_t l4)
{
	uint32_t s = is_v6(p) ? sum16(p + 8, 32) : sum16(p + 12, 8);

	return s + 6 + (uint32_t)l4;
}

/* Whether the TCP checksum of the packet p[0..len) is valid. */
static bool tcp_csum_ok(const uint8_t *p, size_t len)
{
	size_t ip = ip_len(is_v6(p));

	return fold(pseudo(p, len - ip) + sum16(p + ip, len - ip)) == 0xffff;
}

/* Whether the IP header's length field (and an IPv4 header's checksum)
 * agree with len. */
static bool ip_hdr_ok(const uint8_t *p, size_t len)
{
	if (is_v6(p))
		return get16(p + 4) == len - 40;
	return get16(p + 2) == len && fold(sum16(p, 20)) == 0xffff;
}

/* A TCP segment 10.0.0.1:1000 -> 10.0.0.2:5201 (IPv6: fd7a:115c:a1e0::1
 * -> ::2, traffic class 0, flow label 0x12345) with 12 bytes of options
 * (timestamps), payload of pay bytes (byte i = seq + i), valid checksums.
 * Returns its length. */
static size_t seg(uint8_t *p, bool v6, uint32_t seq, size_t pay,
		  uint8_t flags)
{
	size_t ip = ip_len(v6), len = ip + TCP_HDR + pay;
	uint8_t *t = p + ip;
	uint32_t s;

	memset(p, 0, ip + TCP_HDR);
	if (v6) {
		memcpy(p, "\x60\x01\x23\x45", 4);
		put16(p + 4, len - 40);
		p[6] = 6;
		p[7] = 64;
		memcpy(p + 8, "\xfd\x7a\x11\x5c\xa1\xe0", 6);
		p[23] = 1;
		memcpy(p + 24, "\xfd\x7a\x11\x5c\xa1\xe0", 6);
		p[39] = 2;
	} else {
		p[0] = 0x45;
		put16(p + 2, len);
		p[6] = 0x40; /* DF */
		p[8] = 64;
		p[9] = 6;
		memcpy(p + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		put16(p + 10, (uint16_t)~fold(sum16(p, 20)));
	}
	put16(t, 1000);
	put16(t + 2, 5201);
	put16(t + 4, seq >> 16);
	put16(t + 6, seq);
	t[11] = 7; /* ack 7 */
	t[12] = 8 << 4;
	t[13] = flags;
	t[14] = 0x01; /* window */
	memcpy(t + 20, "\x01\x01\x08\x0a\x00\x00\x00\x05\x00\x00\x00\x06", 12);
	for (size_t i = 0; i < pay; i++)
		t[TCP_HDR + i] = (uint8_t)(seq + i);
	s = pseudo(p, len - ip) + sum16(t, len - ip);
	put16(t + 16, (uint16_t)~fold(s));
	return len;
}

static void run_becomes_one_gso_packet(bool v6)
{
	static struct gro g;
	static uint8_t done[GRO_MAX];
	uint8_t p[1600];
	struct gro_out o;
	size_t n, ip = ip_len(v6), hdr = ip + TCP_HDR;

	gro_init(&g);
	for (int i = 0; i < 3; i++) {
		n = seg(p, v6, 100 + (uint32_t)i * SEG, SEG,
			i == 2 ? 0x18 : 0x10);
		CHECK(gro_offer(&g, p, n));
	}
	/* The PSH segment closed the run. */
	n = seg(p, v6, 100 + 3 * SEG, SEG, 0x10);
	CHECK(!gro_offer(&g, p, n));
	REQUIRE(gro_finish(&g, &o));
	CHECK(o.gso);
	CHECK(o.v6 == v6);
	CHECK_INT((int)o.len, (int)hdr + 3 * SEG);
	CHECK_INT(o.seg_size, SEG);
	CHECK_INT(o.hdr_len, hdr);
	CHECK_INT(o.csum_start, ip);
	CHECK_INT(o.csum_offset, 16);
	CHECK(ip_hdr_ok(o.pkt, o.len));
	CHECK_INT(o.pkt[ip + 13], 0x18); /* PSH kept */
	for (int i = 0; i < 3 * SEG; i++)
		if (o.pkt[hdr + i] != (uint8_t)(100 + i)) {
			CHECK(!"payload in order");
			break;
		}
	/* The TCP checksum field holds the pseudo-header sum ... */
	CHECK_INT(get16(o.pkt + ip + 16), fold(pseudo(o.pkt, o.len - ip)));
	/* ... so completing it as the kernel does gives a valid checksum. */
	memcpy(done, o.pkt, o.len);
	put16(done + o.csum_start + o.csum_offset,
	      (uint16_t)~fold(sum16(done + o.csum_start,
				    o.len - o.csum_start)));
	CHECK(tcp_csum_ok(done, o.len));
	CHECK(!gro_held(&g));
}

static void a_run_of_segments_becomes_one_gso_packet(void)
{
	run_becomes_one_gso_packet(false);
}

static void a_run_of_ipv6_segments_becomes_one_gso_packet(void)
{
	run_becomes_one_gso_packet(true);
}

static void single_segment_is_unchanged(bool v6)
{
	static struct gro g;
	uint8_t p[1600], copy[1600];
	struct gro_out o;
	size_t n = seg(p, v6, 5, 300, 0x10);

	memcpy(copy, p, n);
	gro_init(&g);
	CHECK(gro_offer(&g, p, n));
	REQUIRE(gro_finish(&g, &o));
	CHECK(!o.gso);
	CHECK_INT((int)o.len, (int)n);
	CHECK(memcmp(o.pkt, copy, n) == 0);
	CHECK(!gro_finish(&g, &o));
}

static void a_single_segment_is_written_unchanged(void)
{
	single_segment_is_unchanged(false);
}

static void a_single_ipv6_segment_is_written_unchanged(void)
{
	single_segment_is_unchanged(true);
}

static void refuses_what_does_not_continue(bool v6)
{
	static struct gro g;
	uint8_t p[1600];
	size_t n, ip = ip_len(v6);
	uint8_t *t = p + ip;

	gro_init(&g);
	n = seg(p, v6, 0, SEG, 0x10);
	REQUIRE(gro_offer(&g, p, n));
	n = seg(p, v6, 2 * SEG, SEG, 0x10); /* a gap */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, SEG, SEG + 1, 0x10); /* larger than the first */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, SEG, SEG, 0x11); /* FIN */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, SEG, SEG, 0x10);
	p[v6 ? 23 : 15] = 9; /* another source */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, SEG, SEG, 0x10);
	t[1] = 9; /* another source port */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, SEG, SEG, 0x10);
	p[v6 ? 7 : 8] = 63; /* another hop limit / TTL */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, SEG, SEG, 0x10);
	p[1] ^= 0x10; /* another traffic class / TOS */
	CHECK(!gro_offer(&g, p, n));
	if (v6) {
		n = seg(p, v6, SEG, SEG, 0x10);
		p[3] ^= 1; /* another flow label */
		CHECK(!gro_offer(&g, p, n));
	}
	n = seg(p, v6, SEG, SEG, 0x10);
	t[11] = 8; /* another ACK number */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, SEG, SEG, 0x10);
	t[27] = 9; /* other timestamps */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, SEG, SEG / 2, 0x10); /* short: joins and closes */
	CHECK(gro_offer(&g, p, n));
	n = seg(p, v6, SEG + SEG / 2, SEG / 2, 0x10);
	CHECK(!gro_offer(&g, p, n));
}

static void what_does_not_continue_the_run_is_refused(void)
{
	refuses_what_does_not_continue(false);
}

static void what_does_not_continue_an_ipv6_run_is_refused(void)
{
	refuses_what_does_not_continue(true);
}

/* Turns the IPv6 segment p[0..len) into one with a destination options
 * header (8 bytes of padding) in front of TCP. Returns the new length. */
static size_t add_dstopts(uint8_t *p, size_t len)
{
	memmove(p + 48, p + 40, len - 40);
	memcpy(p + 40, "\x06\x00\x01\x04\x00\x00\x00\x00", 8);
	p[6] = 60;
	put16(p + 4, len + 8 - 40);
	return len + 8;
}

static void never_held(bool v6)
{
	static struct gro g;
	uint8_t p[1600];
	size_t n;

	gro_init(&g);
	n = seg(p, v6, 0, 0, 0x10); /* a pure ACK */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, 0, 10, 0x02); /* SYN */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, 0, 10, 0x14); /* RST */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, 0, 10, 0x10);
	p[v6 ? 6 : 9] = 17; /* UDP */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, 0, 10, 0x10);
	if (v6)
		n = add_dstopts(p, n); /* an extension header */
	else
		p[7] = 1; /* a fragment */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, v6, 0, 10, 0x10);
	CHECK(!gro_offer(&g, p, n - 1)); /* length disagrees */
	p[0] = (uint8_t)(0x50 | (p[0] & 0x0f)); /* IP version 5 */
	CHECK(!gro_offer(&g, p, n));
	CHECK(!gro_offer(&g, p, 10));
	CHECK(!gro_held(&g));
}

static void other_packets_are_never_held(void)
{
	never_held(false);
}

static void other_ipv6_packets_are_never_held(void)
{
	never_held(true);
}

/* A run is of one IP version: a segment of the other version that would
 * fit its sequence is not taken, and starts a run of its own. */
static void ipv4_and_ipv6_segments_never_share_a_run(void)
{
	static struct gro g;
	uint8_t p[1600];
	struct gro_out o;
	size_t n;

	for (int first = 0; first < 2; first++) {
		gro_init(&g);
		n = seg(p, first, 0, SEG, 0x10);
		REQUIRE(gro_offer(&g, p, n));
		n = seg(p, !first, SEG, SEG, 0x10);
		CHECK(!gro_offer(&g, p, n));
		REQUIRE(gro_finish(&g, &o));
		CHECK(!o.gso);
		CHECK_INT(o.pkt[0] >> 4, first ? 6 : 4);
		CHECK(gro_offer(&g, p, n));
		n = seg(p, !first, 2 * SEG, SEG, 0x10);
		CHECK(gro_offer(&g, p, n));
		REQUIRE(gro_finish(&g, &o));
		CHECK(o.gso);
		CHECK(o.v6 == !first);
		CHECK_INT(o.pkt[0] >> 4, first ? 4 : 6);
	}
}

struct split {
	int n;
	uint32_t next_seq;
	size_t payload;
	bool ok;
	uint8_t flags[8];
	struct gro *again; /* when set, every segment is offered to it */
};

static void on_seg(const uint8_t *p, size_t len, void *ctx)
{
	struct split *sp = ctx;
	size_t hdr = ip_len(is_v6(p)) + TCP_HDR;
	const uint8_t *t = p + hdr - TCP_HDR;
	uint32_t seq = get32(t + 4);

	/* valid IP header and TCP checksum, length, sequence */
	if (len < hdr || !ip_hdr_ok(p, len) || !tcp_csum_ok(p, len) ||
	    seq != sp->next_seq || len - hdr > SEG) {
		sp->ok = false;
		return;
	}
	for (size_t i = hdr; i < len; i++)
		if (p[i] != (uint8_t)(seq + i - hdr))
			sp->ok = false;
	if (sp->n < 8)
		sp->flags[sp->n] = t[13];
	sp->next_seq = seq + (uint32_t)(len - hdr);
	sp->payload += len - hdr;
	sp->n++;
	if (sp->again && !gro_offer(sp->again, p, len))
		sp->ok = false;
}

/* A coalesced run of 3.5 segments in big (GRO_MAX bytes): returns its
 * length. */
static size_t super_segment(uint8_t *big, bool v6)
{
	static struct gro g;
	uint8_t p[1600];
	struct gro_out o;
	size_t n;

	gro_init(&g);
	for (int i = 0; i < 4; i++) {
		n = seg(p, v6, 100 + (uint32_t)i * SEG, i == 3 ? SEG / 2 : SEG,
			i == 3 ? 0x18 : 0x10);
		if (!gro_offer(&g, p, n))
			return 0;
	}
	if (!gro_finish(&g, &o) || !o.gso)
		return 0;
	memcpy(big, o.pkt, o.len);
	return o.len;
}

/* The splitter's scratch buffer, as the agent's data plane owns one. */
static uint8_t scratch[GRO_MAX];

/* A run coalesced by gro_offer and split back by gro_split_tcp gives the
 * original segments, with valid checksums, PSH and FIN only on the last
 * and CWR only on the first. */
static void splits_into_valid_segments(bool v6)
{
	static uint8_t big[GRO_MAX];
	struct split sp = {.next_seq = 100, .ok = true};
	size_t n = super_segment(big, v6), ip = ip_len(v6);

	REQUIRE(n > 0);
	CHECK_INT(gro_split_tcp(big, n, SEG, scratch, sizeof(scratch),
				on_seg, &sp), 4);
	CHECK(sp.ok);
	CHECK_INT((int)sp.payload, 3 * SEG + SEG / 2);
	CHECK_INT(sp.flags[0], 0x10);
	CHECK_INT(sp.flags[2], 0x10);
	CHECK_INT(sp.flags[3], 0x18);
	/* CWR, ACK, PSH and FIN on the super-segment. */
	big[ip + 13] = 0x80 | 0x19;
	sp = (struct split){.next_seq = 100, .ok = true};
	CHECK_INT(gro_split_tcp(big, n, SEG, scratch, sizeof(scratch),
				on_seg, &sp), 4);
	CHECK(sp.ok);
	CHECK_INT(sp.flags[0], 0x90);
	CHECK_INT(sp.flags[1], 0x10);
	CHECK_INT(sp.flags[3], 0x19);
	/* Not TCP, or no segment size: refused, nothing emitted. */
	CHECK_INT(gro_split_tcp(big, n, 0, scratch, sizeof(scratch),
				on_seg, &sp),
		  WEFT_ERR_INVAL);
	CHECK_INT(gro_split_tcp(big, ip + 19, SEG, scratch,
				sizeof(scratch), on_seg, &sp), WEFT_ERR_PARSE);
	CHECK_INT(gro_split_tcp(big, 30, SEG, scratch, sizeof(scratch),
				on_seg, &sp),
		  WEFT_ERR_PARSE);
	/* A scratch buffer too small for one segment: refused. */
	CHECK_INT(gro_split_tcp(big, n, SEG, scratch,
				ip + TCP_HDR + SEG - 1, on_seg, &sp), WEFT_ERR_TOOBIG);
	big[v6 ? 6 : 9] = 17;
	CHECK_INT(gro_split_tcp(big, n, SEG, scratch, sizeof(scratch),
				on_seg, &sp),
		  WEFT_ERR_PARSE);
	CHECK_INT(sp.n, 4);
}

static void a_super_segment_splits_into_valid_segments(void)
{
	splits_into_valid_segments(false);
}

static void an_ipv6_super_segment_splits_into_valid_segments(void)
{
	splits_into_valid_segments(true);
}

/* The splitter does not walk IPv6 extension headers: such a packet is
 * refused, not cut at the wrong offset. */
static void an_ipv6_super_segment_with_extension_headers_is_refused(void)
{
	static uint8_t big[GRO_MAX];
	struct split sp = {.next_seq = 100, .ok = true};
	size_t n = super_segment(big, true);

	REQUIRE(n > 0);
	n = add_dstopts(big, n);
	CHECK_INT(gro_split_tcp(big, n, SEG, scratch, sizeof(scratch),
				on_seg, &sp),
		  WEFT_ERR_PARSE);
	CHECK_INT(sp.n, 0);
}

/* Splitting a coalesced run and coalescing the pieces again gives the
 * same bytes: the two directions agree on every header field. */
static void split_and_coalesce_round_trip(bool v6)
{
	static uint8_t big[GRO_MAX];
	static struct gro g;
	struct split sp = {.next_seq = 100, .ok = true, .again = &g};
	struct gro_out o;
	size_t n = super_segment(big, v6);

	REQUIRE(n > 0);
	gro_init(&g);
	CHECK_INT(gro_split_tcp(big, n, SEG, scratch, sizeof(scratch),
				on_seg, &sp), 4);
	CHECK(sp.ok);
	REQUIRE(gro_finish(&g, &o));
	CHECK(o.gso);
	CHECK(o.v6 == v6);
	CHECK_INT(o.seg_size, SEG);
	REQUIRE(o.len == n);
	CHECK(memcmp(o.pkt, big, n) == 0);
}

static void a_split_run_coalesces_back_to_the_same_bytes(void)
{
	split_and_coalesce_round_trip(false);
}

static void a_split_ipv6_run_coalesces_back_to_the_same_bytes(void)
{
	split_and_coalesce_round_trip(true);
}

static const struct check_case cases[] = {
	CHECK_CASE(a_run_of_segments_becomes_one_gso_packet),
	CHECK_CASE(a_run_of_ipv6_segments_becomes_one_gso_packet),
	CHECK_CASE(a_single_segment_is_written_unchanged),
	CHECK_CASE(a_single_ipv6_segment_is_written_unchanged),
	CHECK_CASE(what_does_not_continue_the_run_is_refused),
	CHECK_CASE(what_does_not_continue_an_ipv6_run_is_refused),
	CHECK_CASE(other_packets_are_never_held),
	CHECK_CASE(other_ipv6_packets_are_never_held),
	CHECK_CASE(ipv4_and_ipv6_segments_never_share_a_run),
	CHECK_CASE(a_super_segment_splits_into_valid_segments),
	CHECK_CASE(an_ipv6_super_segment_splits_into_valid_segments),
	CHECK_CASE(an_ipv6_super_segment_with_extension_headers_is_refused),
	CHECK_CASE(a_split_run_coalesces_back_to_the_same_bytes),
	CHECK_CASE(a_split_ipv6_run_coalesces_back_to_the_same_bytes),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
