/* Feeds arbitrary bytes to the SOCKS5 greeting and request parsers (what
 * a local client sends stream mode's proxy). A parsed request holds a
 * valid name or address and a port; an error always names a reply; no
 * prefix of a parsed message parses. */
#include "agent/socks5.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct socks5_req r;
	bool noauth;
	int n = socks5_greeting(data, size, &noauth), rc;

	if (n < 0 && n != WEFT_ERR_PARSE)
		abort();
	if (n > 0 && ((size_t)n > size || n > SOCKS5_GREETING_MAX))
		abort();
	memset(&r, 0, sizeof(r));
	rc = socks5_request(data, size, &r);
	if (rc == WEFT_ERR_PARSE || rc == WEFT_ERR_UNSUPPORTED) {
		if (r.rep == SOCKS5_OK)
			abort();
		return 0;
	}
	if (rc < 0 || (size_t)rc > size || rc > SOCKS5_REQUEST_MAX)
		abort();
	if (rc == 0)
		return 0;
	if (r.port == 0 || !r.host[0] || strlen(r.host) > 255 ||
	    r.rep != SOCKS5_OK)
		abort();
	for (int i = 0; i < rc; i++)
		if (socks5_request(data, (size_t)i, &r) > 0)
			abort();
	return 0;
}
