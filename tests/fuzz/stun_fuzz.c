/* Feeds arbitrary bytes to the STUN Binding request and response parsers.
 * Whatever parses must be classified as STUN; a parsed request's
 * transaction id must survive a response built for it, and a parsed
 * response's transaction id and mapped address must survive being built
 * into a response and parsed again. Requests without the magic cookie
 * (RFC 3489 clients) are answered with MAPPED-ADDRESS, which must carry
 * the request's whole 16-byte transaction id and the address. */
#include "shared/err.h"
#include "shared/stun.h"
#include "shared/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const uint8_t *data, size_t size)
{
	uint8_t txid[STUN_TXID_LEN], got[STUN_TXID_LEN];
	uint8_t buf[STUN_RESPONSE_MAX];
	struct ip_endpoint e, back;
	int rc = stun_binding_request_parse(data, size, txid);
	int n;

	if (rc != 0) {
		if (rc != WEFT_ERR_PARSE && rc != WEFT_ERR_UNSUPPORTED)
			abort();
		return;
	}
	if (wire_classify(data, size) != WIRE_KIND_STUN ||
	    memcmp(txid, data + 8, STUN_TXID_LEN) != 0)
		abort();
	memset(&e, 0, sizeof(e));
	e.addr.family = size % 2 ? 4 : 6;
	memcpy(e.addr.b, data + 8, e.addr.family == 4 ? 4 : 12);
	e.port = (uint16_t)(data[2] << 8 | data[3]);
	n = stun_binding_response_build(txid, &e, buf, sizeof(buf));
	if (n <= 0 || stun_binding_response_parse(buf, (size_t)n, got,
						  &back) != 0 ||
	    memcmp(got, txid, STUN_TXID_LEN) != 0 ||
	    memcmp(&back, &e, sizeof(e)) != 0)
		abort();
}

static void check_response(const uint8_t *data, size_t size)
{
	uint8_t txid[STUN_TXID_LEN], got[STUN_TXID_LEN];
	uint8_t buf[STUN_RESPONSE_MAX];
	struct ip_endpoint e, back;
	int rc = stun_binding_response_parse(data, size, txid, &e);
	int n;

	if (rc != 0) {
		if (rc != WEFT_ERR_PARSE && rc != WEFT_ERR_UNSUPPORTED)
			abort();
		return;
	}
	if (wire_classify(data, size) != WIRE_KIND_STUN ||
	    (e.addr.family != 4 && e.addr.family != 6))
		abort();
	n = stun_binding_response_build(txid, &e, buf, sizeof(buf));
	if (n != (e.addr.family == 4 ? 40 : 52) ||
	    stun_binding_response_parse(buf, (size_t)n, got, &back) != 0 ||
	    memcmp(got, txid, STUN_TXID_LEN) != 0 ||
	    memcmp(&back, &e, sizeof(e)) != 0)
		abort();
}

/* Requests with the cookie must parse as check_request saw them (which
 * checks their answer); those without get the RFC 3489 answer. */
static void check_any_request(const uint8_t *data, size_t size)
{
	uint8_t buf[STUN_RESPONSE_MAX], txid[STUN_TXID_LEN];
	struct stun_request req;
	struct ip_endpoint e;
	int rc = stun_request_parse(data, size, &req);
	int n;

	if (rc != 0) {
		if (rc != WEFT_ERR_PARSE && rc != WEFT_ERR_UNSUPPORTED)
			abort();
		return;
	}
	if (wire_classify(data, size) != WIRE_KIND_STUN ||
	    memcmp(req.cookie, data + 4, 4) != 0 ||
	    memcmp(req.txid, data + 8, STUN_TXID_LEN) != 0)
		abort();
	if (!req.classic) {
		if (stun_binding_request_parse(data, size, txid) != 0)
			abort();
		return;
	}
	memset(&e, 0, sizeof(e));
	e.addr.family = size % 2 ? 4 : 6;
	memcpy(e.addr.b, data + 4, e.addr.family == 4 ? 4 : 16);
	e.port = (uint16_t)(data[2] << 8 | data[3]);
	n = stun_response_build(&req, &e, buf, sizeof(buf));
	if (n != (e.addr.family == 4 ? 32 : 44) ||
	    memcmp(buf + 4, data + 4, 16) != 0 ||
	    buf[0] != 0x01 || buf[1] != 0x01 || buf[21] != 0x01 ||
	    (buf[26] << 8 | buf[27]) != e.port ||
	    memcmp(buf + 28, e.addr.b, (size_t)n - 28) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_request(data, size);
	check_any_request(data, size);
	check_response(data, size);
	return 0;
}
