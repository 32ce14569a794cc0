#include "shared/enc.h"

#include "shared/err.h"

#include <limits.h>
#include <stdint.h>

/* Branch-free comparisons for small values (both below 2^31): each returns
 * all ones when true and 0 when false, so results combine with & and |. */
static uint32_t lt(uint32_t a, uint32_t b)
{
	return 0u - ((a - b) >> 31);
}

static uint32_t ge(uint32_t a, uint32_t b)
{
	return ~lt(a, b);
}

static uint32_t eq(uint32_t a, uint32_t b)
{
	return 0u - (((a ^ b) - 1u) >> 31);
}

static uint32_t in_range(uint32_t c, uint32_t lo, uint32_t hi)
{
	return ge(c, lo) & lt(c, hi + 1);
}

/* Bit 8 marks an invalid character in the values the decoders return. */
#define BAD 0x100u

static char b64_char(uint32_t x, bool url)
{
	uint32_t c;

	c = (lt(x, 26) & (x + 'A')) |
	    (ge(x, 26) & lt(x, 52) & (x + 'a' - 26)) |
	    (ge(x, 52) & lt(x, 62) & (x + '0' - 52)) |
	    (eq(x, 62) & (uint32_t)(url ? '-' : '+')) |
	    (eq(x, 63) & (uint32_t)(url ? '_' : '/'));
	return (char)c;
}

static uint32_t b64_val(unsigned char ch, bool url)
{
	uint32_t c = ch, v, ok, m;

	m = in_range(c, 'A', 'Z');
	v = m & (c - 'A');
	ok = m;
	m = in_range(c, 'a', 'z');
	v |= m & (c - 'a' + 26);
	ok |= m;
	m = in_range(c, '0', '9');
	v |= m & (c - '0' + 52);
	ok |= m;
	m = eq(c, url ? '-' : '+');
	v |= m & 62;
	ok |= m;
	m = eq(c, url ? '_' : '/');
	v |= m & 63;
	ok |= m;
	return v | (~ok & BAD);
}

size_t base64_encoded_len(size_t n, bool url)
{
	size_t full = n / 3, rem = n % 3;

	if (full > (SIZE_MAX - 4) / 4)
		return SIZE_MAX;
	if (url)
		return full * 4 + (rem ? rem + 1 : 0);
	return full * 4 + (rem ? 4 : 0);
}

int base64_encode(const void *in, size_t n, char *out, size_t cap, bool url)
{
	const uint8_t *p = in;
	size_t len = base64_encoded_len(n, url), i, o = 0;
	uint32_t v;

	if (len == SIZE_MAX || len > INT_MAX || cap <= len)
		return WEFT_ERR_TOOBIG;
	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_char(v >> 18, url);
		out[o++] = b64_char((v >> 12) & 63, url);
		out[o++] = b64_char((v >> 6) & 63, url);
		out[o++] = b64_char(v & 63, url);
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = b64_char(v >> 18, url);
		out[o++] = b64_char((v >> 12) & 63, url);
		if (!url) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64_char(v >> 18, url);
		out[o++] = b64_char((v >> 12) & 63, url);
		out[o++] = b64_char((v >> 6) & 63, url);
		if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

/* Decodes m unpadded characters; writes to out only when it is non-NULL,
 * so the same code validates and then decodes. Returns BAD or 0. */
static uint32_t b64_body(const unsigned char *in, size_t m, uint8_t *out,
			 bool url)
{
	uint32_t bad = 0, a, b, c, d, v;
	size_t i, o = 0;

	for (i = 0; i + 4 <= m; i += 4) {
		a = b64_val(in[i], url);
		b = b64_val(in[i + 1], url);
		c = b64_val(in[i + 2], url);
		d = b64_val(in[i + 3], url);
		bad |= (a | b | c | d) & BAD;
		v = (a & 63) << 18 | (b & 63) << 12 | (c & 63) << 6 | (d & 63);
		if (out) {
			out[o] = (uint8_t)(v >> 16);
			out[o + 1] = (uint8_t)(v >> 8);
			out[o + 2] = (uint8_t)v;
		}
		o += 3;
	}
	switch (m - i) {
	case 0:
		break;
	case 2:
		a = b64_val(in[i], url);
		b = b64_val(in[i + 1], url);
		bad |= (a | b) & BAD;
		/* The low 4 bits of the last character carry no data and
		 * must be zero, else two texts would decode alike. */
		bad |= ((b & 0x0f) + 0xff) & BAD;
		if (out)
			out[o] = (uint8_t)((a & 63) << 2 | (b & 63) >> 4);
		break;
	case 3:
		a = b64_val(in[i], url);
		b = b64_val(in[i + 1], url);
		c = b64_val(in[i + 2], url);
		bad |= (a | b | c) & BAD;
		bad |= ((c & 0x03) + 0xff) & BAD;
		if (out) {
			out[o] = (uint8_t)((a & 63) << 2 | (b & 63) >> 4);
			out[o + 1] = (uint8_t)((b & 15) << 4 | (c & 63) >> 2);
		}
		break;
	default:
		/* One leftover character cannot encode a whole byte. */
		bad = BAD;
		break;
	}
	return bad;
}

int base64_decode(const char *in, size_t n, void *out, size_t cap,
		  size_t *outlen, bool url)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t body = n, len;

	if (url) {
		if (n % 4 == 1)
			return WEFT_ERR_PARSE;
	} else {
		if (n % 4 != 0)
			return WEFT_ERR_PARSE;
		/* Branching on padding reveals only the output length. A '='
		 * anywhere else is left in the body and fails there. */
		if (n > 0 && p[n - 1] == '=') {
			body--;
			if (p[n - 2] == '=')
				body--;
		}
	}
	len = body / 4 * 3 + (body % 4 ? body % 4 - 1 : 0);
	if (len > cap)
		return WEFT_ERR_TOOBIG;
	if (b64_body(p, body, NULL, url))
		return WEFT_ERR_PARSE;
	b64_body(p, body, out, url);
	*outlen = len;
	return 0;
}

static char hex_char(uint32_t x)
{
	return (char)(x + '0' + (lt(9, x) & ('a' - '0' - 10)));
}

static uint32_t hex_val(unsigned char ch)
{
	uint32_t c = ch, v, ok, m;

	m = in_range(c, '0', '9');
	v = m & (c - '0');
	ok = m;
	m = in_range(c, 'a', 'f');
	v |= m & (c - 'a' + 10);
	ok |= m;
	m = in_range(c, 'A', 'F');
	v |= m & (c - 'A' + 10);
	ok |= m;
	return v | (~ok & BAD);
}

int hex_encode(const void *in, size_t n, char *out, size_t cap)
{
	const uint8_t *p = in;
	size_t i;

	if (n > INT_MAX / 2 || cap <= n * 2)
		return WEFT_ERR_TOOBIG;
	for (i = 0; i < n; i++) {
		out[2 * i] = hex_char(p[i] >> 4);
		out[2 * i + 1] = hex_char(p[i] & 15);
	}
	out[2 * n] = '\0';
	return (int)(2 * n);
}

/* Like b64_body: validates, and decodes when out is non-NULL. */
static uint32_t hex_body(const unsigned char *in, size_t n, uint8_t *out)
{
	uint32_t bad = 0, hi, lo;

	for (size_t i = 0; i + 1 < n; i += 2) {
		hi = hex_val(in[i]);
		lo = hex_val(in[i + 1]);
		bad |= (hi | lo) & BAD;
		if (out)
			out[i / 2] = (uint8_t)((hi & 15) << 4 | (lo & 15));
	}
	return bad;
}

int hex_decode(const char *in, size_t n, void *out, size_t cap,
	       size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)in;

	if (n % 2 != 0)
		return WEFT_ERR_PARSE;
	if (n / 2 > cap)
		return WEFT_ERR_TOOBIG;
	if (hex_body(p, n, NULL))
		return WEFT_ERR_PARSE;
	hex_body(p, n, out);
	*outlen = n / 2;
	return 0;
}

bool ct_memeq(const void *a, const void *b, size_t n)
{
	/* volatile keeps the compiler from turning this into an early-exit
	 * memcmp. */
	const volatile uint8_t *pa = a, *pb = b;
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= pa[i] ^ pb[i];
	return d == 0;
}
