#include "shared/ip.h"

#include "shared/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* The parsers are written by hand rather than on top of inet_pton: glibc's
 * inet_pton is close to strict but not documented to be, and hand-written
 * code lets every rejection be a deliberate, tested choice. All of them
 * work on (pointer, length) so that prefixes and endpoints can be parsed
 * in place without copying pieces into scratch buffers. */

static size_t family_bytes(uint8_t family)
{
	if (family == 4)
		return 4;
	if (family == 6)
		return 16;
	return 0;
}

static unsigned family_bits(uint8_t family)
{
	return (unsigned)family_bytes(family) * 8;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A decimal number of exactly len bytes, without sign or leading zeros.
 * Returns WEFT_ERR_PARSE for bad syntax (checked over the whole input
 * first) and WEFT_ERR_RANGE above maxv. */
static int parse_dec(const char *s, size_t len, unsigned maxv, unsigned *out)
{
	unsigned long v = 0;

	if (len == 0 || (len > 1 && s[0] == '0'))
		return WEFT_ERR_PARSE;
	for (size_t i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return WEFT_ERR_PARSE;
	for (size_t i = 0; i < len; i++) {
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > maxv)
			return WEFT_ERR_RANGE;
	}
	*out = (unsigned)v;
	return 0;
}

/* Exactly len bytes of dotted quad: four decimal octets 0..255, each
 * without leading zeros (so "010" is never mistaken for octal 8). */
static int parse_v4(const char *s, size_t len, uint8_t out[4])
{
	uint8_t tmp[4];
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		unsigned v = 0, nd = 0;

		if (k > 0) {
			if (i >= len || s[i] != '.')
				return WEFT_ERR_PARSE;
			i++;
		}
		while (i < len && is_digit(s[i])) {
			if (nd == 3 || (nd == 1 && v == 0))
				return WEFT_ERR_PARSE;
			v = v * 10 + (unsigned)(s[i] - '0');
			nd++;
			i++;
		}
		if (nd == 0 || v > 255)
			return WEFT_ERR_PARSE;
		tmp[k] = (uint8_t)v;
	}
	if (i != len)
		return WEFT_ERR_PARSE;
	memcpy(out, tmp, 4);
	return 0;
}

/* Exactly len bytes of IPv6 text: up to eight groups of one to four hex
 * digits, at most one "::" standing for one or more zero groups, and
 * optionally a dotted quad as the last 32 bits. */
static int parse_v6(const char *s, size_t len, uint8_t out[16])
{
	uint16_t w[8];
	int n = 0, gap = -1;
	size_t i = 0;

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
	}
	while (i < len) {
		size_t start = i, nd = 0;
		unsigned v = 0;

		while (i < len && hex_value(s[i]) >= 0) {
			if (nd < 4)
				v = v * 16 + (unsigned)hex_value(s[i]);
			nd++;
			i++;
		}
		if (i < len && s[i] == '.') {
			uint8_t v4[4];

			if (n > 6 || parse_v4(s + start, len - start, v4))
				return WEFT_ERR_PARSE;
			w[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
			w[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
			break;
		}
		if (nd == 0 || nd > 4 || n == 8)
			return WEFT_ERR_PARSE;
		w[n++] = (uint16_t)v;
		if (i == len)
			break;
		if (s[i] != ':')
			return WEFT_ERR_PARSE;
		i++;
		if (i < len && s[i] == ':') {
			if (gap >= 0)
				return WEFT_ERR_PARSE;
			gap = n;
			i++;
		} else if (i == len) {
			return WEFT_ERR_PARSE; /* a single trailing ':' */
		}
	}
	if (gap < 0 ? n != 8 : n > 7)
		return WEFT_ERR_PARSE;

	memset(out, 0, 16);
	for (int k = 0; k < n; k++) {
		int pos = k;

		if (gap >= 0 && k >= gap)
			pos = 8 - (n - k);
		out[2 * pos] = (uint8_t)(w[k] >> 8);
		out[2 * pos + 1] = (uint8_t)w[k];
	}
	return 0;
}

static int parse_addr(const char *s, size_t len, struct ip_addr *out)
{
	struct ip_addr tmp;
	int r;

	memset(&tmp, 0, sizeof(tmp));
	if (memchr(s, ':', len)) {
		tmp.family = 6;
		r = parse_v6(s, len, tmp.b);
	} else {
		tmp.family = 4;
		r = parse_v4(s, len, tmp.b);
	}
	if (r == 0)
		*out = tmp;
	return r;
}

int ip_addr_parse(const char *s, struct ip_addr *out)
{
	if (!s || !out)
		return WEFT_ERR_INVAL;
	return parse_addr(s, strlen(s), out);
}

static bool is_v4_mapped(const struct ip_addr *a)
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return a->family == 6 && memcmp(a->b, pfx, sizeof(pfx)) == 0;
}

/* Writes the text into tmp, which must hold IP_ADDR_STRLEN bytes. */
static int format_addr(const struct ip_addr *a, char *tmp)
{
	uint16_t w[8];
	int best = -1, best_len = 1;
	char *p = tmp;

	if (a->family == 4) {
		snprintf(tmp, IP_ADDR_STRLEN, "%u.%u.%u.%u", a->b[0], a->b[1],
			 a->b[2], a->b[3]);
		return 0;
	}
	if (a->family != 6)
		return WEFT_ERR_INVAL;
	if (is_v4_mapped(a)) {
		snprintf(tmp, IP_ADDR_STRLEN, "::ffff:%u.%u.%u.%u", a->b[12],
			 a->b[13], a->b[14], a->b[15]);
		return 0;
	}
	for (int i = 0; i < 8; i++)
		w[i] = (uint16_t)(a->b[2 * i] << 8 | a->b[2 * i + 1]);
	/* RFC 5952 4.2: compress the longest run of two or more zero groups,
	 * the first one when runs tie. */
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && w[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8;) {
		if (i == best) {
			*p++ = ':';
			*p++ = ':';
			i += best_len;
			continue;
		}
		if (i > 0 && i != best + best_len)
			*p++ = ':';
		p += sprintf(p, "%x", w[i]);
		i++;
	}
	*p = '\0';
	return 0;
}

static int copy_out(const char *tmp, char *buf, size_t n)
{
	size_t len = strlen(tmp);

	if (!buf || len >= n)
		return WEFT_ERR_TOOBIG;
	memcpy(buf, tmp, len + 1);
	return 0;
}

int ip_addr_format(const struct ip_addr *a, char *buf, size_t n)
{
	char tmp[IP_ADDR_STRLEN];
	int r;

	if (!a)
		return WEFT_ERR_INVAL;
	r = format_addr(a, tmp);
	if (r == 0)
		r = copy_out(tmp, buf, n);
	return r;
}

int ip_addr_cmp(const struct ip_addr *a, const struct ip_addr *b)
{
	size_t n;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	n = family_bytes(a->family);
	return memcmp(a->b, b->b, n ? n : sizeof(a->b));
}

bool ip_addr_eq(const struct ip_addr *a, const struct ip_addr *b)
{
	return ip_addr_cmp(a, b) == 0;
}

void ip_addr_unmap(struct ip_addr *a)
{
	uint8_t v4[4];

	if (!is_v4_mapped(a))
		return;
	memcpy(v4, a->b + 12, 4);
	memset(a->b, 0, sizeof(a->b));
	memcpy(a->b, v4, 4);
	a->family = 4;
}

/* Adds n to the big-endian number in b[0..nbytes); true on overflow. */
static bool add_u64(uint8_t *b, size_t nbytes, uint64_t n)
{
	unsigned carry = 0;

	for (size_t i = nbytes; i-- > 0;) {
		unsigned sum = b[i] + (unsigned)(n & 0xff) + carry;

		b[i] = (uint8_t)sum;
		carry = sum >> 8;
		n >>= 8;
		if (n == 0 && carry == 0)
			return false;
	}
	return n != 0 || carry != 0;
}

/* Subtracts one; the caller knows the value is not zero. */
static void dec_one(uint8_t *b, size_t nbytes)
{
	for (size_t i = nbytes; i-- > 0;)
		if (b[i]-- != 0)
			break;
}

/* A copy of a with the bytes outside its family zeroed. */
static struct ip_addr clean_copy(const struct ip_addr *a)
{
	struct ip_addr c;
	size_t n = family_bytes(a->family);

	memset(&c, 0, sizeof(c));
	c.family = a->family;
	memcpy(c.b, a->b, n);
	return c;
}

int ip_addr_next(const struct ip_addr *a, struct ip_addr *out)
{
	struct ip_addr tmp;

	if (!a || !out || !family_bytes(a->family))
		return WEFT_ERR_INVAL;
	tmp = clean_copy(a);
	if (add_u64(tmp.b, family_bytes(tmp.family), 1))
		return WEFT_ERR_RANGE;
	*out = tmp;
	return 0;
}

bool ip_addr_is_private(const struct ip_addr *a)
{
	struct ip_addr c = *a;

	ip_addr_unmap(&c);
	if (c.family == 4)
		return c.b[0] == 10 ||
		       (c.b[0] == 172 && (c.b[1] & 0xf0) == 16) ||
		       (c.b[0] == 192 && c.b[1] == 168) ||
		       (c.b[0] == 100 && (c.b[1] & 0xc0) == 64);
	if (c.family == 6)
		return (c.b[0] & 0xfe) == 0xfc;
	return false;
}

bool ip_addr_is_loopback(const struct ip_addr *a)
{
	static const uint8_t v6[16] = {[15] = 1};
	struct ip_addr c = *a;

	ip_addr_unmap(&c);
	if (c.family == 4)
		return c.b[0] == 127;
	if (c.family == 6)
		return memcmp(c.b, v6, 16) == 0;
	return false;
}

bool ip_addr_is_link_local(const struct ip_addr *a)
{
	struct ip_addr c = *a;

	ip_addr_unmap(&c);
	if (c.family == 4)
		return c.b[0] == 169 && c.b[1] == 254;
	if (c.family == 6)
		return c.b[0] == 0xfe && (c.b[1] & 0xc0) == 0x80;
	return false;
}

static bool prefix_valid(const struct ip_prefix *p)
{
	return family_bytes(p->addr.family) && p->len <= family_bits(p->addr.family);
}

/* True when the first `bits` bits of a and b are equal. */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rem = bits % 8;
	uint8_t m;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rem == 0)
		return true;
	m = (uint8_t)(0xff << (8 - rem));
	return ((a[full] ^ b[full]) & m) == 0;
}

/* Sets (ones) or clears (!ones) every bit of b after the first len. */
static void fill_host_bits(uint8_t *b, size_t nbytes, unsigned len, bool ones)
{
	for (size_t i = 0; i < nbytes; i++) {
		unsigned lo = (unsigned)i * 8;
		uint8_t host;

		if (lo + 8 <= len)
			continue;
		host = lo >= len ? 0xff : (uint8_t)(0xff >> (len - lo));
		if (ones)
			b[i] |= host;
		else
			b[i] &= (uint8_t)~host;
	}
}

void ip_prefix_mask(struct ip_prefix *p)
{
	if (!p || !prefix_valid(p))
		return;
	fill_host_bits(p->addr.b, family_bytes(p->addr.family), p->len, false);
}

int ip_prefix_parse(const char *s, struct ip_prefix *out, unsigned flags)
{
	struct ip_prefix tmp;
	const char *slash;
	unsigned len;
	int r;

	if (!s || !out)
		return WEFT_ERR_INVAL;
	memset(&tmp, 0, sizeof(tmp));
	slash = strchr(s, '/');
	if (!slash) {
		if (!(flags & IP_PREFIX_BARE_ADDR))
			return WEFT_ERR_PARSE;
		r = parse_addr(s, strlen(s), &tmp.addr);
		if (r)
			return r;
		tmp.len = (uint8_t)family_bits(tmp.addr.family);
	} else {
		r = parse_addr(s, (size_t)(slash - s), &tmp.addr);
		if (r)
			return r;
		r = parse_dec(slash + 1, strlen(slash + 1),
			      family_bits(tmp.addr.family), &len);
		if (r)
			return r;
		tmp.len = (uint8_t)len;
	}
	if (flags & IP_PREFIX_STRICT) {
		struct ip_prefix masked = tmp;

		ip_prefix_mask(&masked);
		if (memcmp(masked.addr.b, tmp.addr.b, sizeof(tmp.addr.b)) != 0)
			return WEFT_ERR_INVAL;
	}
	*out = tmp;
	return 0;
}

int ip_prefix_format(const struct ip_prefix *p, char *buf, size_t n)
{
	char addr[IP_ADDR_STRLEN], tmp[IP_PREFIX_STRLEN];
	int r;

	if (!p || !prefix_valid(p))
		return WEFT_ERR_INVAL;
	r = format_addr(&p->addr, addr);
	if (r)
		return r;
	snprintf(tmp, sizeof(tmp), "%s/%u", addr, (unsigned)p->len);
	return copy_out(tmp, buf, n);
}

bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_addr *a)
{
	if (!prefix_valid(p) || p->addr.family != a->family)
		return false;
	return bits_equal(p->addr.b, a->b, p->len);
}

bool ip_prefix_contains_prefix(const struct ip_prefix *outer,
			       const struct ip_prefix *inner)
{
	if (!prefix_valid(inner) || outer->len > inner->len)
		return false;
	return ip_prefix_contains(outer, &inner->addr);
}

bool ip_prefix_overlaps(const struct ip_prefix *a, const struct ip_prefix *b)
{
	if (!prefix_valid(a) || !prefix_valid(b) ||
	    a->addr.family != b->addr.family)
		return false;
	/* Two prefixes overlap exactly when the shorter contains the longer. */
	return bits_equal(a->addr.b, b->addr.b, a->len < b->len ? a->len : b->len);
}

int ip_prefix_nth(const struct ip_prefix *p, uint64_t n, struct ip_addr *out)
{
	struct ip_addr tmp;
	unsigned host;

	if (!p || !out || !prefix_valid(p))
		return WEFT_ERR_INVAL;
	host = family_bits(p->addr.family) - p->len;
	if (host < 64 && (n >> host) != 0)
		return WEFT_ERR_RANGE;
	tmp = clean_copy(&p->addr);
	fill_host_bits(tmp.b, family_bytes(tmp.family), p->len, false);
	/* Cannot carry out of the host bits: n is below the prefix's size. */
	add_u64(tmp.b, family_bytes(tmp.family), n);
	*out = tmp;
	return 0;
}

int ip_alloc_next(const struct ip_prefix *pool, const struct ip_addr *after,
		  bool (*in_use)(const struct ip_addr *a, void *ctx), void *ctx,
		  uint64_t max_probe, struct ip_addr *out)
{
	struct ip_addr first, last, cand, start;
	size_t nbytes;

	if (!pool || !in_use || !out || max_probe == 0 || !prefix_valid(pool))
		return WEFT_ERR_INVAL;
	nbytes = family_bytes(pool->addr.family);
	first = clean_copy(&pool->addr);
	fill_host_bits(first.b, nbytes, pool->len, false);
	last = first;
	fill_host_bits(last.b, nbytes, pool->len, true);
	/* With at least two host bits the pool has four or more addresses, so
	 * first < last still holds after skipping the reserved ones. */
	if (family_bits(pool->addr.family) - pool->len >= 2) {
		add_u64(first.b, nbytes, 1);
		if (pool->addr.family == 4)
			dec_one(last.b, nbytes);
	}

	cand = first;
	if (after && ip_prefix_contains(pool, after) &&
	    ip_addr_cmp(after, &first) >= 0 && ip_addr_cmp(after, &last) < 0) {
		cand = clean_copy(after);
		add_u64(cand.b, nbytes, 1);
	}
	start = cand;
	for (uint64_t probes = 0; probes < max_probe; probes++) {
		if (!in_use(&cand, ctx)) {
			*out = cand;
			return 0;
		}
		if (ip_addr_eq(&cand, &last))
			cand = first;
		else
			add_u64(cand.b, nbytes, 1);
		if (ip_addr_eq(&cand, &start))
			break;
	}
	return WEFT_ERR_EXHAUSTED;
}

/* One port of a range: 1..65535. */
static int parse_port(const char *s, size_t len, uint16_t *out)
{
	unsigned v;
	int r = parse_dec(s, len, 65535, &v);

	if (r)
		return r;
	if (v == 0)
		return WEFT_ERR_RANGE;
	*out = (uint16_t)v;
	return 0;
}

int ip_port_range_parse(const char *s, size_t len, uint16_t *lo,
			uint16_t *hi)
{
	const char *dash;
	uint16_t a, b;
	int r;

	if (!s || !lo || !hi)
		return WEFT_ERR_INVAL;
	dash = memchr(s, '-', len);
	r = parse_port(s, dash ? (size_t)(dash - s) : len, &a);
	if (r)
		return r;
	b = a;
	if (dash && (r = parse_port(dash + 1, len - (size_t)(dash - s) - 1,
				    &b)))
		return r;
	if (a > b)
		return WEFT_ERR_RANGE;
	*lo = a;
	*hi = b;
	return 0;
}

int ip_endpoint_parse(const char *s, struct ip_endpoint *out)
{
	struct ip_endpoint tmp;
	const char *port;
	size_t len;
	unsigned v;
	int r;

	if (!s || !out)
		return WEFT_ERR_INVAL;
	memset(&tmp, 0, sizeof(tmp));
	len = strlen(s);
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close || close[1] != ':')
			return WEFT_ERR_PARSE;
		tmp.addr.family = 6;
		r = parse_v6(s + 1, (size_t)(close - s - 1), tmp.addr.b);
		if (r)
			return r;
		port = close + 2;
	} else {
		const char *colon = memchr(s, ':', len);

		if (!colon)
			return WEFT_ERR_PARSE;
		tmp.addr.family = 4;
		r = parse_v4(s, (size_t)(colon - s), tmp.addr.b);
		if (r)
			return r;
		port = colon + 1;
	}
	r = parse_dec(port, strlen(port), 65535, &v);
	if (r)
		return r;
	if (v == 0)
		return WEFT_ERR_RANGE;
	tmp.port = (uint16_t)v;
	*out = tmp;
	return 0;
}

int ip_endpoint_parse_port(const char *s, uint16_t def,
			   struct ip_endpoint *out)
{
	struct ip_addr a;

	if (s && out && ip_addr_parse(s, &a) == 0) {
		out->addr = a;
		out->port = def;
		return 0;
	}
	return ip_endpoint_parse(s, out);
}

int ip_endpoint_format(const struct ip_endpoint *e, char *buf, size_t n)
{
	char addr[IP_ADDR_STRLEN], tmp[IP_ENDPOINT_STRLEN];
	int r;

	if (!e)
		return WEFT_ERR_INVAL;
	r = format_addr(&e->addr, addr);
	if (r)
		return r;
	if (e->addr.family == 6)
		snprintf(tmp, sizeof(tmp), "[%s]:%u", addr, (unsigned)e->port);
	else
		snprintf(tmp, sizeof(tmp), "%s:%u", addr, (unsigned)e->port);
	return copy_out(tmp, buf, n);
}

int ip_endpoint_from_sockaddr(const struct sockaddr *sa, socklen_t len,
			      struct ip_endpoint *out)
{
	struct ip_endpoint tmp;

	if (!sa || !out || len < (socklen_t)sizeof(sa_family_t))
		return WEFT_ERR_INVAL;
	memset(&tmp, 0, sizeof(tmp));
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		if (len < (socklen_t)sizeof(sin))
			return WEFT_ERR_INVAL;
		memcpy(&sin, sa, sizeof(sin));
		tmp.addr.family = 4;
		memcpy(tmp.addr.b, &sin.sin_addr, 4);
		tmp.port = ntohs(sin.sin_port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		if (len < (socklen_t)sizeof(sin6))
			return WEFT_ERR_INVAL;
		memcpy(&sin6, sa, sizeof(sin6));
		tmp.addr.family = 6;
		memcpy(tmp.addr.b, &sin6.sin6_addr, 16);
		tmp.port = ntohs(sin6.sin6_port);
		ip_addr_unmap(&tmp.addr);
	} else {
		return WEFT_ERR_UNSUPPORTED;
	}
	*out = tmp;
	return 0;
}

int ip_endpoint_to_sockaddr(const struct ip_endpoint *e,
			    struct sockaddr_storage *ss, socklen_t *len)
{
	if (!e || !ss || !len)
		return WEFT_ERR_INVAL;
	if (e->addr.family == 4) {
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(e->port);
		memcpy(&sin.sin_addr, e->addr.b, 4);
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &sin, sizeof(sin));
		*len = sizeof(sin);
	} else if (e->addr.family == 6) {
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(e->port);
		memcpy(&sin6.sin6_addr, e->addr.b, 16);
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &sin6, sizeof(sin6));
		*len = sizeof(sin6);
	} else {
		return WEFT_ERR_INVAL;
	}
	return 0;
}
