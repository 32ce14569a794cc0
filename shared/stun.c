#include "shared/stun.h"

#include "shared/be.h"
#include "shared/err.h"

#include <stdbool.h>
#include <string.h>

/* Attribute types we know (RFC 8489 §18.3, RFC 8445, RFC 5780, RFC 3489).
 * Types 0x0000-0x7FFF are comprehension-required: an unknown one makes the
 * message unusable. Types 0x8000-0xFFFF are skipped when unknown. */
#define ATTR_MAPPED_ADDRESS 0x0001
#define ATTR_CHANGE_REQUEST 0x0003
#define ATTR_SOURCE_ADDRESS 0x0004
#define ATTR_CHANGED_ADDRESS 0x0005
#define ATTR_USERNAME 0x0006
#define ATTR_MESSAGE_INTEGRITY 0x0008
#define ATTR_REALM 0x0014
#define ATTR_NONCE 0x0015
#define ATTR_MESSAGE_INTEGRITY_SHA256 0x001C
#define ATTR_USERHASH 0x001E
#define ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ATTR_PRIORITY 0x0024
#define ATTR_USE_CANDIDATE 0x0025
#define ATTR_FINGERPRINT 0x8028

#define FINGERPRINT_XOR 0x5354554Eu

/* CRC-32 as in ISO 3309 / ITU-T V.42 (the zlib and Ethernet CRC), which
 * RFC 8489 §14.7 names. Bit by bit: STUN messages here are a few dozen
 * bytes, so a table buys nothing worth its 1 KiB. */
static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
	}
	return c ^ 0xFFFFFFFFu;
}

static bool known_in_request(uint16_t type, const uint8_t *v, size_t len)
{
	switch (type) {
	case ATTR_CHANGE_REQUEST:
		/* RFC 5780 clients send it with no flags in their first
		 * test; a request to answer from another address or port
		 * is one we cannot honour. */
		return len == 4 && be_get32(v) == 0;
	case ATTR_USERNAME:
	case ATTR_REALM:
	case ATTR_NONCE:
	case ATTR_USERHASH:
	case ATTR_PRIORITY:
	case ATTR_USE_CANDIDATE:
		return true;
	}
	return false;
}

static bool known_in_response(uint16_t type)
{
	switch (type) {
	case ATTR_MAPPED_ADDRESS:
	case ATTR_SOURCE_ADDRESS:
	case ATTR_CHANGED_ADDRESS:
	case ATTR_XOR_MAPPED_ADDRESS:
		return true;
	}
	return false;
}

struct parsed {
	uint16_t type;
	const uint8_t *xma; /* first XOR-MAPPED-ADDRESS value, or NULL */
	size_t xma_len;
};

/* Checks the header and walks the attributes of p[0..n). response selects
 * which comprehension-required attributes are known. Returns 0,
 * WEFT_ERR_PARSE or WEFT_ERR_UNSUPPORTED (structural errors win, so a
 * message is judged malformed wherever the unknown attribute sits). */
static int parse(const uint8_t *p, size_t n, bool response, bool classic_ok,
		 struct parsed *out)
{
	bool after_integrity = false, unsupported = false;
	size_t off = STUN_HEADER_LEN;

	if (n < STUN_HEADER_LEN || (p[0] & 0xC0) != 0 ||
	    (!classic_ok && be_get32(p + 4) != STUN_MAGIC_COOKIE))
		return WEFT_ERR_PARSE;
	if (be_get16(p + 2) % 4 != 0 || be_get16(p + 2) != n - STUN_HEADER_LEN)
		return WEFT_ERR_PARSE;
	memset(out, 0, sizeof(*out));
	out->type = be_get16(p);
	while (off < n) {
		/* off and n are multiples of 4, so a header fits. */
		uint16_t atype = be_get16(p + off);
		size_t alen = be_get16(p + off + 2);
		size_t padded = (alen + 3) & ~(size_t)3;
		const uint8_t *v = p + off + 4;

		if (padded > n - off - 4)
			return WEFT_ERR_PARSE;
		if (atype == ATTR_FINGERPRINT) {
			/* Must be last, and covers everything before it
			 * with the header length already counting it. */
			if (alen != 4 || off + 8 != n ||
			    be_get32(v) != (crc32(p, off) ^ FINGERPRINT_XOR))
				return WEFT_ERR_PARSE;
		} else if (after_integrity) {
			/* RFC 8489 §14.5: ignore what follows integrity. */
		} else if (atype == ATTR_MESSAGE_INTEGRITY ||
			   atype == ATTR_MESSAGE_INTEGRITY_SHA256) {
			after_integrity = true;
		} else if (atype == ATTR_XOR_MAPPED_ADDRESS && response) {
			if (!out->xma) {
				out->xma = v;
				out->xma_len = alen;
			}
		} else if (atype < 0x8000 &&
			   !(response ? known_in_response(atype)
				      : known_in_request(atype, v, alen))) {
			unsupported = true;
		}
		off += 4 + padded;
	}
	return unsupported ? WEFT_ERR_UNSUPPORTED : 0;
}

int stun_request_parse(const uint8_t *p, size_t n, struct stun_request *out)
{
	struct parsed m;
	int rc;

	rc = parse(p, n, false, true, &m);
	if (rc < 0)
		goto out;
	if (m.type != STUN_BINDING_REQUEST) {
		rc = WEFT_ERR_UNSUPPORTED;
		goto out;
	}
	memcpy(out->cookie, p + 4, 4);
	memcpy(out->txid, p + 8, STUN_TXID_LEN);
	out->classic = be_get32(p + 4) != STUN_MAGIC_COOKIE;
out:
	return rc;
}

int stun_binding_request_parse(const uint8_t *p, size_t n,
			       uint8_t txid[static STUN_TXID_LEN])
{
	struct stun_request req;
	int rc;

	if (n >= STUN_HEADER_LEN && be_get32(p + 4) != STUN_MAGIC_COOKIE)
		return WEFT_ERR_PARSE;
	rc = stun_request_parse(p, n, &req);
	if (rc == 0)
		memcpy(txid, req.txid, STUN_TXID_LEN);
	return rc;
}

/* Writes the 20-byte header. */
static void put_header(uint8_t *buf, uint16_t type, uint16_t len,
		       const uint8_t txid[static STUN_TXID_LEN])
{
	be_put16(buf, type);
	be_put16(buf + 2, len);
	be_put32(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, txid, STUN_TXID_LEN);
}

/* Appends FINGERPRINT at buf + off, the end of a message whose header
 * length already includes it. */
static void put_fingerprint(uint8_t *buf, size_t off)
{
	be_put16(buf + off, ATTR_FINGERPRINT);
	be_put16(buf + off + 2, 4);
	be_put32(buf + off + 4, crc32(buf, off) ^ FINGERPRINT_XOR);
}

int stun_binding_request_build(const uint8_t txid[static STUN_TXID_LEN],
			       uint8_t *buf, size_t cap)
{
	if (cap < STUN_REQUEST_LEN)
		return WEFT_ERR_TOOBIG;
	put_header(buf, STUN_BINDING_REQUEST, 8, txid);
	put_fingerprint(buf, STUN_HEADER_LEN);
	return STUN_REQUEST_LEN;
}

/* Address bytes of mapped's family, 0 for a family STUN cannot carry. */
static size_t addr_len(const struct ip_endpoint *mapped)
{
	return mapped->addr.family == 4 ? 4 : mapped->addr.family == 6 ? 16 : 0;
}

int stun_binding_response_build(const uint8_t txid[static STUN_TXID_LEN],
				const struct ip_endpoint *mapped, uint8_t *buf,
				size_t cap)
{
	size_t alen, vlen, n;
	uint8_t *v;

	alen = addr_len(mapped);
	if (!alen)
		return WEFT_ERR_INVAL;
	vlen = 4 + alen;
	n = STUN_HEADER_LEN + 4 + vlen + 8;
	if (cap < n)
		return WEFT_ERR_TOOBIG;
	put_header(buf, STUN_BINDING_SUCCESS, (uint16_t)(n - STUN_HEADER_LEN),
		   txid);
	be_put16(buf + STUN_HEADER_LEN, ATTR_XOR_MAPPED_ADDRESS);
	be_put16(buf + STUN_HEADER_LEN + 2, (uint16_t)vlen);
	v = buf + STUN_HEADER_LEN + 4;
	v[0] = 0;
	v[1] = alen == 4 ? 0x01 : 0x02;
	be_put16(v + 2, (uint16_t)(mapped->port ^ (STUN_MAGIC_COOKIE >> 16)));
	/* The XOR key is the cookie followed by the transaction id, which
	 * is exactly buf[4..20). */
	for (size_t i = 0; i < alen; i++)
		v[4 + i] = mapped->addr.b[i] ^ buf[4 + i];
	put_fingerprint(buf, n - 8);
	return (int)n;
}

int stun_response_build(const struct stun_request *req,
			const struct ip_endpoint *mapped, uint8_t *buf,
			size_t cap)
{
	size_t alen, n;
	uint8_t *v;

	if (!req->classic)
		return stun_binding_response_build(req->txid, mapped, buf, cap);
	alen = addr_len(mapped);
	if (!alen)
		return WEFT_ERR_INVAL;
	n = STUN_HEADER_LEN + 4 + 4 + alen;
	if (cap < n)
		return WEFT_ERR_TOOBIG;
	/* RFC 8489 §12.2: echo the whole 16-byte transaction id, answer
	 * with the plain MAPPED-ADDRESS an RFC 3489 client reads. */
	be_put16(buf, STUN_BINDING_SUCCESS);
	be_put16(buf + 2, (uint16_t)(n - STUN_HEADER_LEN));
	memcpy(buf + 4, req->cookie, 4);
	memcpy(buf + 8, req->txid, STUN_TXID_LEN);
	be_put16(buf + STUN_HEADER_LEN, ATTR_MAPPED_ADDRESS);
	be_put16(buf + STUN_HEADER_LEN + 2, (uint16_t)(4 + alen));
	v = buf + STUN_HEADER_LEN + 4;
	v[0] = 0;
	v[1] = alen == 4 ? 0x01 : 0x02;
	be_put16(v + 2, mapped->port);
	memcpy(v + 4, mapped->addr.b, alen);
	return (int)n;
}

int stun_binding_response_parse(const uint8_t *p, size_t n,
				uint8_t txid[static STUN_TXID_LEN],
				struct ip_endpoint *mapped)
{
	struct ip_endpoint e;
	struct parsed m;
	size_t alen;
	int rc;

	rc = parse(p, n, true, false, &m);
	if (rc < 0)
		goto out;
	if (m.type != STUN_BINDING_SUCCESS) {
		rc = WEFT_ERR_UNSUPPORTED;
		goto out;
	}
	rc = WEFT_ERR_PARSE;
	if (!m.xma || m.xma_len < 4)
		goto out;
	memset(&e, 0, sizeof(e));
	if (m.xma[1] == 0x01) {
		e.addr.family = 4;
		alen = 4;
	} else if (m.xma[1] == 0x02) {
		e.addr.family = 6;
		alen = 16;
	} else {
		goto out;
	}
	if (m.xma_len != 4 + alen)
		goto out;
	e.port = (uint16_t)(be_get16(m.xma + 2) ^ (STUN_MAGIC_COOKIE >> 16));
	for (size_t i = 0; i < alen; i++)
		e.addr.b[i] = m.xma[4 + i] ^ p[4 + i];
	memcpy(txid, p + 8, STUN_TXID_LEN);
	*mapped = e;
	rc = 0;
out:
	return rc;
}
