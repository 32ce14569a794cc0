/* The stream-mode header: see streamhdr.h. */
#include "agent/streamhdr.h"

#include "shared/err.h"

#include <string.h>

static bool host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == ':';
}

bool streamhdr_host_ok(const uint8_t *s, size_t n)
{
	size_t i;

	if (n == 0 || n > STREAMHDR_HOST_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!host_char(s[i]))
			return false;
	return true;
}

int streamhdr_encode(const struct streamhdr *h, uint8_t *out, size_t cap)
{
	size_t n = strnlen(h->host, sizeof(h->host));

	if (n == sizeof(h->host) ||
	    !streamhdr_host_ok((const uint8_t *)h->host, n) ||
	    h->port == 0)
		return WEFT_ERR_INVAL;
	if (cap < 4 + n)
		return WEFT_ERR_TOOBIG;
	out[0] = STREAMHDR_VERSION;
	out[1] = (uint8_t)n;
	memcpy(out + 2, h->host, n);
	out[2 + n] = (uint8_t)(h->port >> 8);
	out[3 + n] = (uint8_t)h->port;
	return (int)(4 + n);
}

int streamhdr_decode(const uint8_t *p, size_t len, struct streamhdr *out)
{
	size_t n;
	uint16_t port;

	if (len < 1)
		return 0;
	if (p[0] != STREAMHDR_VERSION)
		return WEFT_ERR_UNSUPPORTED;
	if (len < 2)
		return 0;
	n = p[1];
	if (n == 0 || n > STREAMHDR_HOST_MAX)
		return WEFT_ERR_PARSE;
	/* Check what is there already: garbage fails before it is whole. */
	for (size_t i = 2; i < len && i < 2 + n; i++)
		if (!host_char(p[i]))
			return WEFT_ERR_PARSE;
	if (len < 4 + n)
		return 0;
	port = (uint16_t)(p[2 + n] << 8 | p[3 + n]);
	if (port == 0)
		return WEFT_ERR_PARSE;
	memcpy(out->host, p + 2, n);
	out->host[n] = '\0';
	out->port = port;
	return (int)(4 + n);
}
