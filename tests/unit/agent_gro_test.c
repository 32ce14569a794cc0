/* agent/gro: coalescing TCP/IPv4 segments into GSO packets for the TUN. */
#include "agent/gro.h"

#include "check.h"

#include <string.h>

#define SEG 1000

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

/* A TCP/IPv4 segment 10.0.0.1:1000 -> 10.0.0.2:5201 with 12 bytes of
 * options (timestamps), payload of pay bytes (byte i = seq + i), valid
 * checksums. Returns its length. */
static size_t seg(uint8_t *p, uint32_t seq, size_t pay, uint8_t flags)
{
	size_t len = 20 + 32 + pay;
	uint32_t s;

	memset(p, 0, 52);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[6] = 0x40; /* DF */
	p[8] = 64;
	p[9] = 6;
	memcpy(p + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	p[10] = 0;
	p[11] = 0;
	s = (uint32_t)~fold(sum16(p, 20)) & 0xffff;
	p[10] = (uint8_t)(s >> 8);
	p[11] = (uint8_t)s;
	p[20] = 0x03;
	p[21] = 0xe8;
	p[22] = 0x14;
	p[23] = 0x51;
	p[24] = (uint8_t)(seq >> 24);
	p[25] = (uint8_t)(seq >> 16);
	p[26] = (uint8_t)(seq >> 8);
	p[27] = (uint8_t)seq;
	p[31] = 7; /* ack 7 */
	p[32] = 8 << 4;
	p[33] = flags;
	p[34] = 0x01; /* window */
	memcpy(p + 40, "\x01\x01\x08\x0a\x00\x00\x00\x05\x00\x00\x00\x06", 12);
	for (size_t i = 0; i < pay; i++)
		p[52 + i] = (uint8_t)(seq + i);
	s = sum16(p + 12, 8) + 6 + (uint32_t)(len - 20) + sum16(p + 20, len - 20);
	s = (uint32_t)~fold(s) & 0xffff;
	p[36] = (uint8_t)(s >> 8);
	p[37] = (uint8_t)s;
	return len;
}

static void a_run_of_segments_becomes_one_gso_packet(void)
{
	static struct gro g;
	uint8_t p[1600];
	struct gro_out o;
	size_t n;
	uint32_t s;

	gro_init(&g);
	for (int i = 0; i < 3; i++) {
		n = seg(p, 100 + (uint32_t)i * SEG, SEG, i == 2 ? 0x18 : 0x10);
		CHECK(gro_offer(&g, p, n));
	}
	/* The PSH segment closed the run. */
	n = seg(p, 100 + 3 * SEG, SEG, 0x10);
	CHECK(!gro_offer(&g, p, n));
	REQUIRE(gro_finish(&g, &o));
	CHECK(o.gso);
	CHECK_INT((int)o.len, 52 + 3 * SEG);
	CHECK_INT(o.seg_size, SEG);
	CHECK_INT(o.hdr_len, 52);
	CHECK_INT(o.csum_start, 20);
	CHECK_INT(o.csum_offset, 16);
	CHECK_INT(o.pkt[2] << 8 | o.pkt[3], 52 + 3 * SEG);
	CHECK_INT(fold(sum16(o.pkt, 20)), 0xffff); /* IP checksum valid */
	CHECK_INT(o.pkt[33], 0x18);                /* PSH kept */
	for (int i = 0; i < 3 * SEG; i++)
		if (o.pkt[52 + i] != (uint8_t)(100 + i)) {
			CHECK(!"payload in order");
			break;
		}
	/* The TCP checksum field holds the pseudo-header sum. */
	s = sum16(o.pkt + 12, 8) + 6 + (uint32_t)(o.len - 20);
	CHECK_INT(o.pkt[36] << 8 | o.pkt[37], fold(s));
	CHECK(!gro_held(&g));
}

static void a_single_segment_is_written_unchanged(void)
{
	static struct gro g;
	uint8_t p[1600], copy[1600];
	struct gro_out o;
	size_t n = seg(p, 5, 300, 0x10);

	memcpy(copy, p, n);
	gro_init(&g);
	CHECK(gro_offer(&g, p, n));
	REQUIRE(gro_finish(&g, &o));
	CHECK(!o.gso);
	CHECK_INT((int)o.len, (int)n);
	CHECK(memcmp(o.pkt, copy, n) == 0);
	CHECK(!gro_finish(&g, &o));
}

static void what_does_not_continue_the_run_is_refused(void)
{
	static struct gro g;
	uint8_t p[1600];
	size_t n;

	gro_init(&g);
	n = seg(p, 0, SEG, 0x10);
	REQUIRE(gro_offer(&g, p, n));
	n = seg(p, 2 * SEG, SEG, 0x10); /* a gap */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, SEG, SEG + 1, 0x10); /* larger than the first */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, SEG, SEG, 0x11); /* FIN */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, SEG, SEG, 0x10);
	p[15] = 9; /* another source */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, SEG, SEG, 0x10);
	p[31] = 8; /* another ACK number */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, SEG, SEG, 0x10);
	p[47] = 9; /* other timestamps */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, SEG, SEG / 2, 0x10); /* short: joins and closes */
	CHECK(gro_offer(&g, p, n));
	n = seg(p, SEG + SEG / 2, SEG / 2, 0x10);
	CHECK(!gro_offer(&g, p, n));
}

static void other_packets_are_never_held(void)
{
	static struct gro g;
	uint8_t p[1600];
	size_t n;

	gro_init(&g);
	n = seg(p, 0, 0, 0x10); /* a pure ACK */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, 0, 10, 0x02); /* SYN */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, 0, 10, 0x10);
	p[9] = 17; /* UDP */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, 0, 10, 0x10);
	p[7] = 1; /* a fragment */
	CHECK(!gro_offer(&g, p, n));
	n = seg(p, 0, 10, 0x10);
	CHECK(!gro_offer(&g, p, n - 1)); /* length disagrees */
	p[0] = 0x60;
	CHECK(!gro_offer(&g, p, n)); /* IPv6 */
	CHECK(!gro_offer(&g, p, 10));
	CHECK(!gro_held(&g));
}

struct split {
	int n;
	uint32_t next_seq;
	size_t payload;
	bool ok;
	uint8_t flags[8];
};

static void on_seg(const uint8_t *p, size_t len, void *ctx)
{
	struct split *sp = ctx;
	uint32_t s, seq = (uint32_t)p[24] << 24 | (uint32_t)p[25] << 16 |
			  (uint32_t)p[26] << 8 | p[27];

	/* valid IP and TCP checksums, length, sequence */
	s = sum16(p + 12, 8) + 6 + (uint32_t)(len - 20) +
	    sum16(p + 20, len - 20);
	if (fold(sum16(p, 20)) != 0xffff || fold(s) != 0xffff ||
	    (size_t)(p[2] << 8 | p[3]) != len || seq != sp->next_seq ||
	    len - 52 > SEG)
		sp->ok = false;
	for (size_t i = 52; i < len; i++)
		if (p[i] != (uint8_t)(seq + i - 52))
			sp->ok = false;
	if (sp->n < 8)
		sp->flags[sp->n] = p[33];
	sp->next_seq = seq + (uint32_t)(len - 52);
	sp->payload += len - 52;
	sp->n++;
}

/* A run coalesced by gro_offer and split back by gro_split_tcp4 gives the
 * original segments, with valid checksums and PSH only on the last. */
static void a_super_segment_splits_into_valid_segments(void)
{
	static struct gro g;
	uint8_t p[1600];
	struct gro_out o;
	struct split sp = {.next_seq = 100, .ok = true};
	uint8_t big[GRO_MAX];
	size_t n;

	gro_init(&g);
	for (int i = 0; i < 4; i++) {
		n = seg(p, 100 + (uint32_t)i * SEG, i == 3 ? SEG / 2 : SEG,
			i == 3 ? 0x18 : 0x10);
		REQUIRE(gro_offer(&g, p, n));
	}
	REQUIRE(gro_finish(&g, &o));
	memcpy(big, o.pkt, o.len);
	CHECK_INT(gro_split_tcp4(big, o.len, SEG, on_seg, &sp), 4);
	CHECK(sp.ok);
	CHECK_INT((int)sp.payload, 3 * SEG + SEG / 2);
	CHECK_INT(sp.flags[0], 0x10);
	CHECK_INT(sp.flags[2], 0x10);
	CHECK_INT(sp.flags[3], 0x18);
	/* Not TCP/IPv4, or no segment size: refused. */
	CHECK_INT(gro_split_tcp4(big, o.len, 0, on_seg, &sp), -1);
	big[9] = 17;
	CHECK_INT(gro_split_tcp4(big, o.len, SEG, on_seg, &sp), -1);
	CHECK_INT(gro_split_tcp4(big, 30, SEG, on_seg, &sp), -1);
	CHECK_INT(sp.n, 4);
}

static const struct check_case cases[] = {
	CHECK_CASE(a_run_of_segments_becomes_one_gso_packet),
	CHECK_CASE(a_single_segment_is_written_unchanged),
	CHECK_CASE(what_does_not_continue_the_run_is_refused),
	CHECK_CASE(other_packets_are_never_held),
	CHECK_CASE(a_super_segment_splits_into_valid_segments),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
