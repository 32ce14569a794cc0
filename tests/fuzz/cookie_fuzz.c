/* Fuzzes cookie_get (controller/cookie.h) with untrusted Cookie headers.
 *
 * Input: the header text (made NUL-terminated). Looked up: the session
 * cookie, into buffers of several sizes.
 * Invariants: no crash, no read past the header; only 0, NOTFOUND,
 * TOOBIG or PARSE come back; a found value fits its buffer, holds only
 * RFC 6265 cookie-octets, occurs in the header, and is the same whatever
 * the buffer size as long as it fits; a failure leaves "" behind. */
#include "controller/cookie.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int octet_ok(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '"' && ch != ',' &&
	       ch != ';' && ch != '\\';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = {1, 8, 96, 4096};
	char *h = malloc(size + 1);
	char big[8192], out[4096];
	int rbig;

	if (!h)
		return 0;
	memcpy(h, data, size);
	h[size] = '\0';
	rbig = cookie_get(h, COOKIE_SESSION, big, sizeof(big));
	if (rbig != 0 && rbig != WEFT_ERR_NOTFOUND && rbig != WEFT_ERR_TOOBIG &&
	    rbig != WEFT_ERR_PARSE)
		abort();
	if (rbig != 0 && big[0])
		abort();
	if (rbig == 0) {
		for (const char *p = big; *p; p++)
			if (!octet_ok((unsigned char)*p))
				abort();
		if (!strstr(h, big))
			abort();
	}
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		int rc = cookie_get(h, COOKIE_SESSION, out, caps[i]);

		if (rbig == 0 && strlen(big) < caps[i]) {
			if (rc != 0 || strcmp(out, big) != 0)
				abort();
		} else if (rbig == 0) {
			if (rc != WEFT_ERR_TOOBIG || out[0])
				abort();
		} else if (rc != rbig && !(rbig == WEFT_ERR_TOOBIG &&
					   rc == WEFT_ERR_TOOBIG)) {
			abort();
		}
	}
	free(h);
	return 0;
}
