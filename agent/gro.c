/* Receive coalescing for the TUN device: see gro.h. */
#include "agent/gro.h"

#include "agent/packet.h"
#include "shared/be.h"
#include "shared/err.h"

#include <string.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_CWR 0x80

static bool is_v6(const uint8_t *p)
{
	return p[0] >> 4 == 6;
}

/* The length of the IP header in front of a TCP header: 20 to 60 bytes
 * for IPv4, 40 for IPv6 whose next header is TCP (extension headers are
 * not walked), 0 when p[0..len) is neither or has no room for a TCP
 * header behind it. */
static size_t tcp_ip_len(const uint8_t *p, size_t len)
{
	size_t ihl;

	if (len < 40)
		return 0;
	switch (p[0] >> 4) {
	case 4:
		ihl = (size_t)(p[0] & 0x0f) * 4;
		if (ihl < 20 || ihl + 20 > len || p[9] != PACKET_PROTO_TCP)
			return 0;
		return ihl;
	case 6:
		if (len < 60 || p[6] != PACKET_PROTO_TCP)
			return 0;
		return 40;
	default:
		return 0;
	}
}

/* The one's-complement sum of the TCP pseudo-header of packet p (IPv4:
 * RFC 793; IPv6: RFC 2460 8.1) for l4 bytes of TCP header and payload. */
static uint32_t pseudo_sum(const uint8_t *p, size_t l4)
{
	uint32_t s = is_v6(p) ? packet_csum_add(0, p + 8, 32)
			      : packet_csum_add(0, p + 12, 8);

	return s + PACKET_PROTO_TCP + (uint32_t)l4;
}

/* Sets the length field of p's IP header for a packet of len bytes; an
 * IPv4 header also gets its checksum again. */
static void set_ip_len(uint8_t *p, size_t len)
{
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;

	if (is_v6(p)) {
		be_put16(p + 4, (uint16_t)(len - 40));
		return;
	}
	be_put16(p + 2, (uint16_t)len);
	be_put16(p + 10, 0);
	be_put16(p + 10, packet_csum_fold(packet_csum_add(0, p, ihl)));
}

/* IP header, header and payload sizes of a TCP segment that may be part
 * of a run, or false. */
static bool parse(const uint8_t *p, size_t len, size_t *ip, size_t *hdr,
		  size_t *pay)
{
	size_t ihl = tcp_ip_len(p, len), thl;
	uint8_t fl;

	if (!ihl)
		return false;
	if (is_v6(p)) {
		if (be_get16(p + 4) != len - 40)
			return false;
	} else if (ihl != 20 || be_get16(p + 2) != len ||
		   (be_get16(p + 6) & 0x3fff)) {
		/* IP options, or a fragment: MF or an offset (DF may be
		 * set). */
		return false;
	}
	thl = (size_t)(p[ihl + 12] >> 4) * 4;
	if (thl < 20 || ihl + thl > len)
		return false;
	fl = p[ihl + 13];
	if ((fl & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG)) || !(fl & TCP_ACK))
		return false;
	*ip = ihl;
	*hdr = ihl + thl;
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

/* Whether IP header p belongs to the same run as h (same version and
 * header length ip): all but the length, IPv4 id and checksum agree. */
static bool same_ip(const uint8_t *p, const uint8_t *h, size_t ip)
{
	if (ip == 40) /* version, class, flow label; hop limit; addresses */
		return memcmp(p, h, 4) == 0 && p[7] == h[7] &&
		       memcmp(p + 8, h + 8, 32) == 0;
	/* TOS, TTL, addresses */
	return p[1] == h[1] && p[8] == h[8] && memcmp(p + 12, h + 12, 8) == 0;
}

/* Whether segment p continues the held run. A run never mixes IP
 * versions: the coalescer takes IPv4 headers of 20 bytes only and IPv6
 * ones of 40. */
static bool continues(const struct gro *g, const uint8_t *p, size_t ip,
		      size_t hdr, size_t pay)
{
	const uint8_t *h = g->buf, *t = p + ip, *ht = h + ip;

	return !g->closed && ip == g->ip_len && hdr == g->hdr_len &&
	       pay <= g->seg_size && g->len + pay <= GRO_MAX &&
	       same_ip(p, h, ip) &&
	       /* ports */
	       memcmp(t, ht, 4) == 0 && be_get32(t + 4) == g->next_seq &&
	       /* ACK number, data offset/flags (ACK only so far), window */
	       memcmp(t + 8, ht + 8, 4) == 0 && t[12] == ht[12] &&
	       (t[13] == TCP_ACK || t[13] == (TCP_ACK | TCP_PSH)) &&
	       memcmp(t + 14, ht + 14, 2) == 0 &&
	       /* options */
	       memcmp(t + 20, ht + 20, hdr - ip - 20) == 0;
}

bool gro_offer(struct gro *g, const uint8_t *pkt, size_t len)
{
	size_t ip, hdr, pay;
	uint8_t fl;

	if (!parse(pkt, len, &ip, &hdr, &pay))
		return false;
	fl = pkt[ip + 13];
	if (!g->len) {
		memcpy(g->buf, pkt, len);
		g->len = len;
		g->ip_len = ip;
		g->hdr_len = hdr;
		g->seg_size = pay;
		g->nsegs = 1;
		g->next_seq = be_get32(pkt + ip + 4) + (uint32_t)pay;
		g->closed = (fl & TCP_PSH) != 0;
		return true;
	}
	if (!continues(g, pkt, ip, hdr, pay))
		return false;
	memcpy(g->buf + g->len, pkt + hdr, pay);
	g->len += pay;
	g->nsegs++;
	g->next_seq += (uint32_t)pay;
	/* A short or PSH segment ends the run; PSH is kept on the result. */
	if (pay < g->seg_size || (fl & TCP_PSH)) {
		g->closed = true;
		g->buf[ip + 13] |= fl & TCP_PSH;
	}
	return true;
}

bool gro_finish(struct gro *g, struct gro_out *out)
{
	uint8_t *p = g->buf;
	size_t ip = g->ip_len;

	if (!g->len)
		return false;
	memset(out, 0, sizeof(*out));
	out->pkt = p;
	out->len = g->len;
	if (g->nsegs > 1) {
		set_ip_len(p, g->len);
		/* TCP checksum field: the pseudo-header sum, for offload. */
		be_put16(p + ip + 16,
		      (uint16_t)~packet_csum_fold(pseudo_sum(p, g->len - ip)));
		out->gso = true;
		out->v6 = is_v6(p);
		out->seg_size = (uint16_t)g->seg_size;
		out->hdr_len = (uint16_t)g->hdr_len;
		out->csum_start = (uint16_t)ip;
		out->csum_offset = 16;
	}
	g->len = 0;
	g->nsegs = 0;
	g->closed = false;
	return true;
}

int gro_split_tcp(const uint8_t *pkt, size_t len, size_t mss,
		  uint8_t *seg, size_t segcap,
		  void (*emit)(const uint8_t *seg, size_t len, void *ctx),
		  void *ctx)
{
	size_t ip = tcp_ip_len(pkt, len), thl, hdr, pay, off, n;
	uint32_t seq, s;
	uint16_t id;
	int count = 0;

	if (mss == 0)
		return WEFT_ERR_INVAL;
	if (!ip || len > GRO_MAX)
		return WEFT_ERR_PARSE;
	thl = (size_t)(pkt[ip + 12] >> 4) * 4;
	hdr = ip + thl;
	if (thl < 20 || hdr > len)
		return WEFT_ERR_PARSE;
	pay = len - hdr;
	/* The largest segment: the headers and one mss of payload. */
	if (segcap < hdr + (pay < mss ? pay : mss))
		return WEFT_ERR_TOOBIG;
	seq = be_get32(pkt + ip + 4);
	id = be_get16(pkt + 4);
	off = 0;
	do {
		n = pay - off < mss ? pay - off : mss;
		memcpy(seg, pkt, hdr);
		memcpy(seg + hdr, pkt + hdr + off, n);
		/* IPv4 ids count up; IPv6 has none. */
		if (!is_v6(seg))
			be_put16(seg + 4, (uint16_t)(id + count));
		set_ip_len(seg, hdr + n);
		be_put32(seg + ip + 4, seq + (uint32_t)off);
		if (off + n < pay)
			seg[ip + 13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (off > 0)
			seg[ip + 13] &= (uint8_t)~TCP_CWR;
		be_put16(seg + ip + 16, 0);
		s = pseudo_sum(seg, thl + n);
		s = packet_csum_add(s, seg + ip, thl + n);
		be_put16(seg + ip + 16, packet_csum_fold(s));
		emit(seg, hdr + n, ctx);
		count++;
		off += n;
	} while (off < pay);
	return count;
}
