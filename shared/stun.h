/* STUN Binding (RFC 8489, and RFC 3489 clients), just enough for a relay to answer standard
 * clients and for an agent to ask a STUN server for its mapped address.
 *
 * No authentication: the relay answers Binding requests from anyone, like
 * public STUN servers do. USERNAME, MESSAGE-INTEGRITY and the other
 * attributes a client may add are skipped, never checked; a FINGERPRINT,
 * when present, must be correct. docs/protocol.md lists exactly which
 * attributes are accepted. Pure codec: no I/O, no allocation. */
#ifndef WEFT_STUN_H
#define WEFT_STUN_H

#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STUN_HEADER_LEN 20
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_TXID_LEN 12

#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_SUCCESS 0x0101

/* Bytes a Binding request built here takes (header + FINGERPRINT). */
#define STUN_REQUEST_LEN (STUN_HEADER_LEN + 8)
/* Largest Binding success response built here: header, XOR-MAPPED-ADDRESS
 * for IPv6 (4 + 20) and FINGERPRINT (8). */
#define STUN_RESPONSE_MAX (STUN_HEADER_LEN + 24 + 8)

/* A Binding request as a response to it needs it. */
struct stun_request {
	uint8_t txid[STUN_TXID_LEN];
	/* The 4 bytes after the length field: the magic cookie, or for an
	 * RFC 3489 client the first 4 bytes of its 16-byte transaction id. */
	uint8_t cookie[4];
	bool classic; /* RFC 3489: no magic cookie */
};

/* Parses p[0..n) as a Binding request from an RFC 8489/5389 client (with
 * the magic cookie) or an RFC 3489 one (without; RFC 8489 §12.2 / RFC
 * 5389 §12.2). Same checks and return codes as
 * stun_binding_request_parse, except that a missing cookie is accepted.
 * *out is untouched on failure. */
int stun_request_parse(const uint8_t *p, size_t n, struct stun_request *out);

/* Builds the Binding success response to req in buf (cap bytes): what
 * stun_binding_response_build builds for a client with the cookie; for an
 * RFC 3489 client, its 16-byte transaction id echoed and MAPPED-ADDRESS
 * instead of XOR-MAPPED-ADDRESS, no FINGERPRINT (32 bytes for IPv4, 44 for
 * IPv6). Returns the length, WEFT_ERR_INVAL or WEFT_ERR_TOOBIG (buf
 * untouched). */
int stun_response_build(const struct stun_request *req,
			const struct ip_endpoint *mapped, uint8_t *buf,
			size_t cap);

/* Parses p[0..n) as a Binding request and copies its transaction id to
 * txid. Returns 0; WEFT_ERR_PARSE for a malformed message (bad header,
 * length field not n - 20 or not a multiple of 4, cookie missing,
 * attribute overrunning the message, FINGERPRINT wrong or not last);
 * WEFT_ERR_UNSUPPORTED for a well-formed STUN message that is not a
 * Binding request (an indication, a response, another method) or that
 * carries a comprehension-required attribute we cannot honour. txid is
 * untouched on failure. Either way the caller sends nothing back. */
int stun_binding_request_parse(const uint8_t *p, size_t n,
			       uint8_t txid[static STUN_TXID_LEN]);

/* Builds a Binding request with transaction id txid and a FINGERPRINT in
 * buf (cap bytes). Returns STUN_REQUEST_LEN, or WEFT_ERR_TOOBIG (buf
 * untouched) when cap is smaller. */
int stun_binding_request_build(const uint8_t txid[static STUN_TXID_LEN],
			       uint8_t *buf, size_t cap);

/* Builds a Binding success response for transaction txid holding mapped as
 * XOR-MAPPED-ADDRESS, followed by a FINGERPRINT, in buf (cap bytes).
 * Returns its length (40 for IPv4, 52 for IPv6), WEFT_ERR_INVAL for an
 * address family other than 4 or 6, or WEFT_ERR_TOOBIG when cap is too
 * small. buf is untouched on failure. */
int stun_binding_response_build(const uint8_t txid[static STUN_TXID_LEN],
				const struct ip_endpoint *mapped, uint8_t *buf,
				size_t cap);

/* Parses p[0..n) as a Binding success response: stores its transaction id
 * in txid (the caller matches it against its request) and the first
 * XOR-MAPPED-ADDRESS in *mapped. Returns 0; WEFT_ERR_PARSE for a
 * malformed message (as for requests) or a malformed or missing
 * XOR-MAPPED-ADDRESS; WEFT_ERR_UNSUPPORTED for a well-formed message of
 * another type (an error response, a request) or with an unknown
 * comprehension-required attribute. txid and *mapped are untouched on
 * failure. */
int stun_binding_response_parse(const uint8_t *p, size_t n,
				uint8_t txid[static STUN_TXID_LEN],
				struct ip_endpoint *mapped);

#endif
