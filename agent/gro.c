/* Receive coalescing for the TUN device: see gro.h. */
#include "agent/gro.h"

#include "agent/packet.h"

#include <string.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}


/* Header and payload sizes of a TCP/IPv4 segment that may be part of a
 * run, or false. */
static bool parse(const uint8_t *p, size_t len, size_t *hdr, size_t *pay)
{
	size_t thl;
	uint8_t fl;

	if (len < 40 || p[0] != 0x45 || p[9] != 6 || get16(p + 2) != len)
		return false;
	/* No fragments: MF clear and offset 0 (DF may be set). */
	if (get16(p + 6) & 0x3fff)
		return false;
	thl = (size_t)(p[32] >> 4) * 4;
	if (thl < 20 || 20 + thl > len)
		return false;
	fl = p[33];
	if ((fl & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG)) || !(fl & TCP_ACK))
		return false;
	*hdr = 20 + thl;
	*pay = len - *hdr;
	return *pay > 0;
}

void gro_init(struct gro *g)
{
	g->len = 0;
	g->nsegs = 0;
	g->closed = false;
}

bool gro_held(const struct gro *g)
{
	return g->len > 0;
}

/* Whether segment p continues the held run. */
static bool continues(const struct gro *g, const uint8_t *p, size_t hdr,
		      size_t pay)
{
	const uint8_t *h = g->buf;

	return !g->closed && hdr == g->hdr_len && pay <= g->seg_size &&
	       g->len + pay <= GRO_MAX &&
	       /* TOS, TTL, protocol */
	       p[1] == h[1] && p[8] == h[8] &&
	       /* addresses and ports */
	       memcmp(p + 12, h + 12, 12) == 0 &&
	       get32(p + 24) == g->next_seq &&
	       /* ACK number, data offset/flags (ACK only so far), window */
	       memcmp(p + 28, h + 28, 4) == 0 && p[32] == h[32] &&
	       (p[33] == TCP_ACK || p[33] == (TCP_ACK | TCP_PSH)) &&
	       memcmp(p + 34, h + 34, 2) == 0 &&
	       /* options */
	       memcmp(p + 40, h + 40, hdr - 40) == 0;
}

bool gro_offer(struct gro *g, const uint8_t *pkt, size_t len)
{
	size_t hdr, pay;

	if (!parse(pkt, len, &hdr, &pay))
		return false;
	if (!g->len) {
		memcpy(g->buf, pkt, len);
		g->len = len;
		g->hdr_len = hdr;
		g->seg_size = pay;
		g->nsegs = 1;
		g->next_seq = get32(pkt + 24) + (uint32_t)pay;
		g->closed = (pkt[33] & TCP_PSH) != 0;
		return true;
	}
	if (!continues(g, pkt, hdr, pay))
		return false;
	memcpy(g->buf + g->len, pkt + hdr, pay);
	g->len += pay;
	g->nsegs++;
	g->next_seq += (uint32_t)pay;
	/* A short or PSH segment ends the run; PSH is kept on the result. */
	if (pay < g->seg_size || (pkt[33] & TCP_PSH)) {
		g->closed = true;
		g->buf[33] |= pkt[33] & TCP_PSH;
	}
	return true;
}

bool gro_finish(struct gro *g, struct gro_out *out)
{
	uint8_t *p = g->buf;
	uint32_t s;

	if (!g->len)
		return false;
	memset(out, 0, sizeof(*out));
	out->pkt = p;
	out->len = g->len;
	if (g->nsegs > 1) {
		/* New IP length and header checksum. */
		put16(p + 2, (uint16_t)g->len);
		put16(p + 10, 0);
		put16(p + 10, packet_csum_fold(packet_csum_add(0, p, 20)));
		/* TCP checksum field: the pseudo-header sum, for offload. */
		s = packet_csum_add(0, p + 12, 8) + 6 + (uint32_t)(g->len - 20);
		put16(p + 36, (uint16_t)~packet_csum_fold(s));
		out->gso = true;
		out->seg_size = (uint16_t)g->seg_size;
		out->hdr_len = (uint16_t)g->hdr_len;
		out->csum_start = 20;
		out->csum_offset = 16;
	}
	g->len = 0;
	g->nsegs = 0;
	g->closed = false;
	return true;
}

int gro_split_tcp4(const uint8_t *pkt, size_t len, size_t mss,
		   void (*emit)(const uint8_t *seg, size_t len, void *ctx),
		   void *ctx)
{
	uint8_t seg[GRO_MAX];
	size_t ihl, thl, hdr, pay, off, n;
	uint32_t seq, s;
	uint16_t id;
	int count = 0;

	if (len < 40 || (pkt[0] >> 4) != 4 || pkt[9] != 6 || mss == 0)
		return -1;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < 20 || ihl + 20 > len)
		return -1;
	thl = (size_t)(pkt[ihl + 12] >> 4) * 4;
	hdr = ihl + thl;
	if (thl < 20 || hdr > len || len > GRO_MAX)
		return -1;
	pay = len - hdr;
	seq = get32(pkt + ihl + 4);
	id = get16(pkt + 4);
	off = 0;
	do {
		n = pay - off < mss ? pay - off : mss;
		memcpy(seg, pkt, hdr);
		memcpy(seg + hdr, pkt + hdr + off, n);
		put16(seg + 2, (uint16_t)(hdr + n));
		put16(seg + 4, (uint16_t)(id + count));
		put16(seg + 10, 0);
		put16(seg + 10, packet_csum_fold(packet_csum_add(0, seg, ihl)));
		seg[ihl + 4] = (uint8_t)((seq + off) >> 24);
		seg[ihl + 5] = (uint8_t)((seq + off) >> 16);
		seg[ihl + 6] = (uint8_t)((seq + off) >> 8);
		seg[ihl + 7] = (uint8_t)(seq + off);
		if (off + n < pay)
			seg[ihl + 13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (off > 0)
			seg[ihl + 13] &= (uint8_t)~0x80; /* CWR */
		put16(seg + ihl + 16, 0);
		s = packet_csum_add(0, seg + 12, 8) + 6 + (uint32_t)(thl + n);
		s = packet_csum_add(s, seg + ihl, thl + n);
		put16(seg + ihl + 16, packet_csum_fold(s));
		emit(seg, hdr + n, ctx);
		count++;
		off += n;
	} while (off < pay);
	return count;
}
