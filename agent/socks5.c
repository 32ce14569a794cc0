/* SOCKS5 messages: see socks5.h. */
#include "agent/socks5.h"

#include "shared/err.h"
#include "shared/ip.h"

#include <string.h>

int socks5_greeting(const uint8_t *p, size_t len, bool *noauth)
{
	size_t n, i;

	if (len < 1)
		return 0;
	if (p[0] != 5)
		return WEFT_ERR_PARSE;
	if (len < 2)
		return 0;
	n = p[1];
	if (n == 0)
		return WEFT_ERR_PARSE;
	if (len < 2 + n)
		return 0;
	*noauth = false;
	for (i = 0; i < n; i++)
		if (p[2 + i] == 0)
			*noauth = true;
	return (int)(2 + n);
}

static bool name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int fail(struct socks5_req *out, int rc, uint8_t rep)
{
	out->rep = rep;
	return rc;
}

int socks5_request(const uint8_t *p, size_t len, struct socks5_req *out)
{
	struct ip_addr a;
	size_t alen, off;

	if (len >= 1 && p[0] != 5)
		return fail(out, WEFT_ERR_PARSE, SOCKS5_FAILURE);
	if (len >= 3 && p[2] != 0)
		return fail(out, WEFT_ERR_PARSE, SOCKS5_FAILURE);
	if (len >= 2 && p[1] != 1)
		return fail(out, WEFT_ERR_UNSUPPORTED, SOCKS5_CMD_UNSUPPORTED);
	if (len < 5)
		return 0;
	switch (p[3]) {
	case 1:
		alen = 4, off = 4;
		break;
	case 4:
		alen = 16, off = 4;
		break;
	case 3:
		alen = p[4], off = 5;
		if (alen == 0)
			return fail(out, WEFT_ERR_PARSE, SOCKS5_FAILURE);
		break;
	default:
		return fail(out, WEFT_ERR_UNSUPPORTED,
			    SOCKS5_ATYP_UNSUPPORTED);
	}
	if (len < off + alen + 2)
		return 0;
	memset(&a, 0, sizeof(a));
	if (p[3] == 3) {
		for (size_t i = 0; i < alen; i++)
			if (!name_char(p[off + i]))
				return fail(out, WEFT_ERR_PARSE,
					    SOCKS5_HOST_UNREACHABLE);
		memcpy(out->host, p + off, alen);
		out->host[alen] = '\0';
	} else {
		a.family = p[3] == 1 ? 4 : 6;
		memcpy(a.b, p + off, alen);
		if (ip_addr_format(&a, out->host, sizeof(out->host)) < 0)
			return fail(out, WEFT_ERR_PARSE, SOCKS5_FAILURE);
	}
	out->port = (uint16_t)(p[off + alen] << 8 | p[off + alen + 1]);
	if (out->port == 0)
		return fail(out, WEFT_ERR_PARSE, SOCKS5_FAILURE);
	out->rep = SOCKS5_OK;
	return (int)(off + alen + 2);
}

void socks5_reply(uint8_t rep, uint8_t out[SOCKS5_REPLY_LEN])
{
	memset(out, 0, SOCKS5_REPLY_LEN);
	out[0] = 5;
	out[1] = rep;
	out[3] = 1;
}
