#include "agent/packet.h"

#include "shared/be.h"
#include "shared/err.h"

#include <string.h>

/* IPv6 next-header values of the extension headers we walk, and "no next
 * header". */
#define NH_HOPOPTS 0
#define NH_ROUTING 43
#define NH_FRAGMENT 44
#define NH_DSTOPTS 60

/* ICMP error replies never exceed these (RFC 1812 4.3.2.3, RFC 4443 2.4). */
#define ICMP4_REPLY_MAX 576
#define ICMP6_REPLY_MAX 1280

static bool icmp_error_type(uint8_t version, uint8_t type)
{
	if (version == 4)
		return type == 3 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/* Reads the quote of an ICMP error, q[0..n) after the 8-byte ICMP header,
 * into pi->quote when it is complete enough (packet_info says what). */
static void parse_quote(const uint8_t *q, size_t n, struct packet_info *pi)
{
	struct packet_quote *o = &pi->quote;
	const uint8_t *l4;
	size_t hl;
	uint8_t icmp = pi->version == 4 ? PACKET_PROTO_ICMP :
					  PACKET_PROTO_ICMPV6;

	memset(o, 0, sizeof(*o));
	if (n < 1 || q[0] >> 4 != pi->version)
		return;
	if (pi->version == 4) {
		hl = (size_t)(q[0] & 0x0f) * 4;
		if (hl < 20 || n < hl + 8 || (be_get16(q + 6) & 0x1fff) != 0)
			return;
		o->proto = q[9];
		o->src.family = o->dst.family = 4;
		memcpy(o->src.b, q + 12, 4);
		memcpy(o->dst.b, q + 16, 4);
	} else {
		hl = 40;
		if (n < hl + 8)
			return;
		o->proto = q[6];
		o->src.family = o->dst.family = 6;
		memcpy(o->src.b, q + 8, 16);
		memcpy(o->dst.b, q + 24, 16);
	}
	l4 = q + hl;
	if (o->proto == PACKET_PROTO_TCP || o->proto == PACKET_PROTO_UDP) {
		o->has_ports = true;
		o->sport = be_get16(l4);
		o->dport = be_get16(l4 + 2);
	} else if (o->proto == icmp) {
		o->has_icmp = true;
		o->icmp_type = l4[0];
		if ((pi->version == 4 && (l4[0] == 0 || l4[0] == 8)) ||
		    (pi->version == 6 && (l4[0] == 128 || l4[0] == 129)))
			o->icmp_id = be_get16(l4 + 4);
	} else {
		return;
	}
	pi->has_quote = true;
}

/* Reads the upper-layer header at l4[0..n) into pi. unfragmented says
 * whether the L4 length must match the header's own length field. */
static int parse_l4(const uint8_t *l4, size_t n, bool unfragmented,
		    struct packet_info *pi)
{
	bool icmp = (pi->version == 4 && pi->proto == PACKET_PROTO_ICMP) ||
		    (pi->version == 6 && pi->proto == PACKET_PROTO_ICMPV6);
	size_t doff, ulen;

	if (pi->proto == PACKET_PROTO_TCP) {
		if (n < 20)
			return WEFT_ERR_PARSE;
		doff = (size_t)(l4[12] >> 4) * 4;
		if (doff < 20 || doff > n)
			return WEFT_ERR_PARSE;
		pi->sport = be_get16(l4);
		pi->dport = be_get16(l4 + 2);
		pi->tcp_flags = l4[13];
		pi->has_ports = true;
	} else if (pi->proto == PACKET_PROTO_UDP) {
		if (n < 8)
			return WEFT_ERR_PARSE;
		ulen = be_get16(l4 + 4);
		/* A first fragment holds only part of the datagram. */
		if (ulen < 8 || (unfragmented ? ulen != n : ulen < n))
			return WEFT_ERR_PARSE;
		pi->sport = be_get16(l4);
		pi->dport = be_get16(l4 + 2);
		pi->has_ports = true;
	} else if (icmp) {
		if (n < 8)
			return WEFT_ERR_PARSE;
		pi->icmp_type = l4[0];
		pi->icmp_code = l4[1];
		if ((pi->version == 4 && (l4[0] == 0 || l4[0] == 8)) ||
		    (pi->version == 6 && (l4[0] == 128 || l4[0] == 129)))
			pi->icmp_id = be_get16(l4 + 4);
		pi->has_icmp = true;
		if (icmp_error_type(pi->version, l4[0]))
			parse_quote(l4 + 8, n - 8, pi);
	}
	return 0;
}

static int parse_v4(const uint8_t *p, size_t len, struct packet_info *pi)
{
	size_t ihl, total, off;
	uint16_t ff;

	if (len < 20)
		return WEFT_ERR_PARSE;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	total = be_get16(p + 2);
	if (ihl < 20 || total != len || ihl > total)
		return WEFT_ERR_PARSE;
	ff = be_get16(p + 6);
	off = (size_t)(ff & 0x1fff) * 8;
	/* The reassembled datagram would exceed 65535 bytes. */
	if (off + (total - ihl) > 65535)
		return WEFT_ERR_PARSE;
	pi->version = 4;
	pi->proto = p[9];
	pi->src.family = 4;
	memcpy(pi->src.b, p + 12, 4);
	pi->dst.family = 4;
	memcpy(pi->dst.b, p + 16, 4);
	pi->l3_len = (uint16_t)ihl;
	pi->len = (uint16_t)len;
	pi->frag_id = be_get16(p + 4);
	pi->fragment = (ff & 0x2000) || off;
	pi->later_fragment = off != 0;
	/* RFC 1858: a TCP fragment at offset 8 can rewrite the flags of the
	 * first one; no legitimate sender produces it. */
	if (off == 8 && pi->proto == PACKET_PROTO_TCP)
		return WEFT_ERR_PARSE;
	if (pi->later_fragment)
		return 0;
	return parse_l4(p + ihl, total - ihl, !pi->fragment, pi);
}

static int parse_v6(const uint8_t *p, size_t len, struct packet_info *pi)
{
	size_t off = 40, hl, frag_off;
	uint8_t nh;
	bool seen_frag = false;
	uint16_t fo;
	int i;

	if (len < 40 || (size_t)be_get16(p + 4) + 40 != len)
		return WEFT_ERR_PARSE;
	pi->version = 6;
	pi->src.family = 6;
	memcpy(pi->src.b, p + 8, 16);
	pi->dst.family = 6;
	memcpy(pi->dst.b, p + 24, 16);
	pi->len = (uint16_t)len;
	nh = p[6];
	for (i = 0;; i++) {
		if (nh != NH_HOPOPTS && nh != NH_ROUTING && nh != NH_FRAGMENT &&
		    nh != NH_DSTOPTS)
			break;
		if (i == PACKET_MAX_EXT_HEADERS || len - off < 8)
			return WEFT_ERR_PARSE;
		/* Hop-by-hop options may only follow the fixed header. */
		if (nh == NH_HOPOPTS && off != 40)
			return WEFT_ERR_PARSE;
		if (nh == NH_FRAGMENT) {
			if (seen_frag)
				return WEFT_ERR_PARSE;
			seen_frag = true;
			fo = be_get16(p + off + 2);
			frag_off = fo & 0xfff8;
			nh = p[off];
			/* An atomic fragment (offset 0, no more fragments,
			 * RFC 6946) is a whole datagram. */
			if (frag_off || (fo & 1)) {
				pi->fragment = true;
				pi->frag_id = be_get32(p + off + 4);
			}
			off += 8;
			if (frag_off + (len - off) > 65535)
				return WEFT_ERR_PARSE;
			if (frag_off) {
				pi->later_fragment = true;
				break;
			}
			continue;
		}
		hl = ((size_t)p[off + 1] + 1) * 8;
		if (hl > len - off)
			return WEFT_ERR_PARSE;
		nh = p[off];
		off += hl;
	}
	pi->proto = nh;
	pi->l3_len = (uint16_t)off;
	if (pi->later_fragment)
		return 0;
	return parse_l4(p + off, len - off, !pi->fragment, pi);
}

int packet_parse(const uint8_t *p, size_t len, struct packet_info *out)
{
	struct packet_info pi;
	int rc;

	memset(&pi, 0, sizeof(pi));
	if (!p || len < 1 || len > 65535)
		return WEFT_ERR_PARSE;
	switch (p[0] >> 4) {
	case 4:
		rc = parse_v4(p, len, &pi);
		break;
	case 6:
		rc = parse_v6(p, len, &pi);
		break;
	default:
		rc = WEFT_ERR_PARSE;
		break;
	}
	if (rc == 0)
		*out = pi;
	return rc;
}

uint32_t packet_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += be_get16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

uint16_t packet_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static bool v4_bad_source(const struct ip_addr *a)
{
	return a->b[0] == 0 || a->b[0] == 127 || a->b[0] >= 224;
}

static bool v6_unspecified(const struct ip_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->b, zero, 16) == 0;
}

static bool v6_loopback(const struct ip_addr *a)
{
	static const uint8_t one[16] = {[15] = 1};

	return memcmp(a->b, one, 16) == 0;
}

/* True when the packet must not be answered with an ICMP error. */
static bool must_not_answer(const struct packet_info *pi)
{
	if (pi->later_fragment)
		return true;
	if (pi->version == 4) {
		if (v4_bad_source(&pi->src) || pi->dst.b[0] >= 224)
			return true;
		/* Errors (unreachable, source quench, redirect, time
		 * exceeded, parameter problem) are never answered. */
		return pi->has_icmp &&
		       (pi->icmp_type == 3 || pi->icmp_type == 4 ||
			pi->icmp_type == 5 || pi->icmp_type == 11 ||
			pi->icmp_type == 12);
	}
	if (v6_unspecified(&pi->src) || v6_loopback(&pi->src) ||
	    pi->src.b[0] == 0xff || pi->dst.b[0] == 0xff)
		return true;
	return pi->has_icmp && pi->icmp_type < 128;
}

static int icmp4_error(const uint8_t *p, size_t len,
		       const struct packet_info *pi,
		       enum packet_icmp_reason reason, uint16_t mtu,
		       uint8_t *out, size_t cap, size_t *out_len)
{
	size_t quote = len, total;
	uint8_t code;

	switch (reason) {
	case PACKET_ICMP_ADMIN_PROHIBITED:
		code = 13;
		break;
	case PACKET_ICMP_NO_ROUTE:
		code = 0;
		break;
	case PACKET_ICMP_TOO_BIG:
		code = 4;
		break;
	default:
		return WEFT_ERR_INVAL;
	}
	if (quote > ICMP4_REPLY_MAX - 28)
		quote = ICMP4_REPLY_MAX - 28;
	total = 28 + quote;
	if (cap < total)
		return WEFT_ERR_TOOBIG;
	memset(out, 0, 28);
	out[0] = 0x45;
	out[1] = 0xc0; /* precedence "internetwork control", as Linux sends */
	be_put16(out + 2, (uint16_t)total);
	out[8] = 64;
	out[9] = PACKET_PROTO_ICMP;
	memcpy(out + 12, pi->dst.b, 4);
	memcpy(out + 16, pi->src.b, 4);
	be_put16(out + 10, packet_csum_fold(packet_csum_add(0, out, 20)));
	out[20] = 3;
	out[21] = code;
	if (reason == PACKET_ICMP_TOO_BIG)
		be_put16(out + 26, mtu);
	memcpy(out + 28, p, quote);
	be_put16(out + 22, packet_csum_fold(packet_csum_add(0, out + 20, total - 20)));
	*out_len = total;
	return 0;
}

static int icmp6_error(const uint8_t *p, size_t len,
		       const struct packet_info *pi,
		       enum packet_icmp_reason reason, uint16_t mtu,
		       uint8_t *out, size_t cap, size_t *out_len)
{
	size_t quote = len, total, plen;
	uint8_t type, code, pseudo[8];
	uint32_t sum;

	switch (reason) {
	case PACKET_ICMP_ADMIN_PROHIBITED:
		type = 1;
		code = 1;
		break;
	case PACKET_ICMP_NO_ROUTE:
		type = 1;
		code = 0;
		break;
	case PACKET_ICMP_TOO_BIG:
		type = 2;
		code = 0;
		break;
	default:
		return WEFT_ERR_INVAL;
	}
	if (quote > ICMP6_REPLY_MAX - 48)
		quote = ICMP6_REPLY_MAX - 48;
	plen = 8 + quote;
	total = 40 + plen;
	if (cap < total)
		return WEFT_ERR_TOOBIG;
	memset(out, 0, 48);
	out[0] = 0x60;
	be_put16(out + 4, (uint16_t)plen);
	out[6] = PACKET_PROTO_ICMPV6;
	out[7] = 64;
	memcpy(out + 8, pi->dst.b, 16);
	memcpy(out + 24, pi->src.b, 16);
	out[40] = type;
	out[41] = code;
	if (reason == PACKET_ICMP_TOO_BIG)
		be_put32(out + 44, mtu);
	memcpy(out + 48, p, quote);
	/* Pseudo-header: addresses, upper-layer length, next header. */
	be_put32(pseudo, (uint32_t)plen);
	memset(pseudo + 4, 0, 3);
	pseudo[7] = PACKET_PROTO_ICMPV6;
	sum = packet_csum_add(0, out + 8, 32);
	sum = packet_csum_add(sum, pseudo, sizeof(pseudo));
	sum = packet_csum_add(sum, out + 40, plen);
	be_put16(out + 42, packet_csum_fold(sum));
	*out_len = total;
	return 0;
}

int packet_icmp_error(const uint8_t *p, size_t len,
		      const struct packet_info *pi,
		      enum packet_icmp_reason reason, uint16_t mtu,
		      uint8_t *out, size_t cap, size_t *out_len)
{
	if (!p || !pi || !out || !out_len || len != pi->len ||
	    must_not_answer(pi))
		return WEFT_ERR_INVAL;
	if (pi->version == 4)
		return icmp4_error(p, len, pi, reason, mtu, out, cap, out_len);
	if (pi->version == 6)
		return icmp6_error(p, len, pi, reason, mtu, out, cap, out_len);
	return WEFT_ERR_INVAL;
}

int packet_echo(const struct ip_addr *src, const struct ip_addr *dst,
		bool reply, uint16_t id, uint16_t seq, const uint8_t *data,
		size_t dlen, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t hl, total;
	uint8_t *icmp, pseudo[8];
	uint32_t sum;

	if (!src || !dst || !out || !out_len || (dlen && !data) ||
	    src->family != dst->family ||
	    (src->family != 4 && src->family != 6))
		return WEFT_ERR_INVAL;
	hl = src->family == 4 ? 20 : 40;
	if (dlen > 65535 - hl - 8)
		return WEFT_ERR_TOOBIG;
	total = hl + 8 + dlen;
	if (cap < total)
		return WEFT_ERR_TOOBIG;
	memset(out, 0, hl + 8);
	icmp = out + hl;
	if (src->family == 4) {
		out[0] = 0x45;
		be_put16(out + 2, (uint16_t)total);
		out[8] = 64;
		out[9] = PACKET_PROTO_ICMP;
		memcpy(out + 12, src->b, 4);
		memcpy(out + 16, dst->b, 4);
		be_put16(out + 10, packet_csum_fold(packet_csum_add(0, out, 20)));
		icmp[0] = reply ? 0 : 8;
	} else {
		out[0] = 0x60;
		be_put16(out + 4, (uint16_t)(8 + dlen));
		out[6] = PACKET_PROTO_ICMPV6;
		out[7] = 64;
		memcpy(out + 8, src->b, 16);
		memcpy(out + 24, dst->b, 16);
		icmp[0] = reply ? 129 : 128;
	}
	be_put16(icmp + 4, id);
	be_put16(icmp + 6, seq);
	if (dlen)
		memcpy(icmp + 8, data, dlen);
	sum = packet_csum_add(0, icmp, 8 + dlen);
	if (src->family == 6) {
		be_put32(pseudo, (uint32_t)(8 + dlen));
		memset(pseudo + 4, 0, 3);
		pseudo[7] = PACKET_PROTO_ICMPV6;
		sum = packet_csum_add(sum, out + 8, 32);
		sum = packet_csum_add(sum, pseudo, sizeof(pseudo));
	}
	be_put16(icmp + 2, packet_csum_fold(sum));
	*out_len = total;
	return 0;
}

int packet_tcp_reset(const uint8_t *p, size_t len,
		     const struct packet_info *pi, uint8_t *out, size_t cap,
		     size_t *out_len)
{
	const uint8_t *tcp;
	uint8_t *o, pseudo[12 + 24];
	size_t hl, doff, seglen;
	uint32_t sum;

	if (!p || !pi || !out || !out_len || len != pi->len ||
	    pi->proto != PACKET_PROTO_TCP || !pi->has_ports ||
	    pi->fragment || (pi->tcp_flags & 0x04) || must_not_answer(pi))
		return WEFT_ERR_INVAL;
	hl = pi->version == 4 ? 20 : 40;
	if (cap < hl + 20)
		return WEFT_ERR_TOOBIG;
	tcp = p + pi->l3_len;
	doff = (size_t)(tcp[12] >> 4) * 4;
	/* RFC 9293 §3.10.7.1: the segment length counts SYN and FIN. */
	seglen = len - pi->l3_len - doff + !!(pi->tcp_flags & 0x02) +
		 !!(pi->tcp_flags & 0x01);
	memset(out, 0, hl + 20);
	if (pi->version == 4) {
		out[0] = 0x45;
		be_put16(out + 2, 40);
		out[8] = 64;
		out[9] = PACKET_PROTO_TCP;
		memcpy(out + 12, pi->dst.b, 4);
		memcpy(out + 16, pi->src.b, 4);
		be_put16(out + 10, packet_csum_fold(packet_csum_add(0, out, 20)));
	} else {
		out[0] = 0x60;
		be_put16(out + 4, 20);
		out[6] = PACKET_PROTO_TCP;
		out[7] = 64;
		memcpy(out + 8, pi->dst.b, 16);
		memcpy(out + 24, pi->src.b, 16);
	}
	o = out + hl;
	be_put16(o, pi->dport);
	be_put16(o + 2, pi->sport);
	o[12] = 5 << 4;
	if (pi->tcp_flags & 0x10) {
		/* An ACK: the reset takes its sequence number from it. */
		memcpy(o + 4, tcp + 8, 4);
		o[13] = 0x04;
	} else {
		be_put32(o + 8, (uint32_t)(be_get32(tcp + 4) + seglen));
		o[13] = 0x14; /* RST, ACK */
	}
	/* Pseudo-header: addresses, zero, protocol, TCP length. */
	memset(pseudo, 0, sizeof(pseudo));
	if (pi->version == 4) {
		memcpy(pseudo, out + 12, 8);
		pseudo[9] = PACKET_PROTO_TCP;
		pseudo[11] = 20;
		sum = packet_csum_add(0, pseudo, 12);
	} else {
		memcpy(pseudo, out + 8, 32);
		pseudo[35] = 20;
		sum = packet_csum_add(0, pseudo, 36);
		sum = packet_csum_add(sum, (const uint8_t[4]){0, 0, 0,
					 PACKET_PROTO_TCP}, 4);
	}
	sum = packet_csum_add(sum, o, 20);
	be_put16(o + 16, packet_csum_fold(sum));
	*out_len = hl + 20;
	return 0;
}
