/* HTTP CONNECT request heads and replies: see httpconnect.h. */
#include "agent/httpconnect.h"

#include "shared/err.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int fail(struct httpconnect_req *out, int status)
{
	out->status = status;
	return WEFT_ERR_PARSE;
}

/* The line starting at p[0] (len bytes available): its length without
 * the line end in *n and with it in *next. Returns 1 for a whole line, 0
 * when it goes on, -1 for a control byte or a CR not before LF. */
static int line(const uint8_t *p, size_t len, size_t *n, size_t *next)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			*n = i;
			*next = i + 1;
			return 1;
		}
		if (p[i] == '\r') {
			if (i + 1 == len)
				return 0;
			if (p[i + 1] != '\n')
				return -1;
			*n = i;
			*next = i + 2;
			return 1;
		}
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] >= 0x7f)
			return -1;
	}
	return 0;
}

/* "host:port" or "[v6]:port" (n bytes) into out. */
static bool target(const uint8_t *p, size_t n, struct httpconnect_req *out)
{
	struct ip_addr a;
	size_t hs, hn, i, colon;
	unsigned long port = 0;

	for (colon = n; colon > 0 && p[colon - 1] != ':'; colon--)
		;
	if (colon == 0 || colon == n || n - colon > 5)
		return false;
	for (i = colon; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		port = port * 10 + (unsigned long)(p[i] - '0');
	}
	if (port == 0 || port > 65535)
		return false;
	hs = 0;
	hn = colon - 1;
	if (hn >= 2 && p[0] == '[' && p[hn - 1] == ']') {
		hs = 1;
		hn -= 2;
	}
	if (hn == 0 || hn >= sizeof(out->host))
		return false;
	for (i = 0; i < hn; i++)
		if (!name_char(p[hs + i]) && !(hs && p[hs + i] == ':'))
			return false;
	memcpy(out->host, p + hs, hn);
	out->host[hn] = '\0';
	/* Brackets hold an IPv6 literal and only that. */
	if (hs && (ip_addr_parse(out->host, &a) < 0 || a.family != 6))
		return false;
	if (!hs && memchr(out->host, ':', hn))
		return false;
	out->port = (uint16_t)port;
	return true;
}

/* The request line (n bytes, complete). */
static int request_line(const uint8_t *p, size_t n,
			struct httpconnect_req *out)
{
	const uint8_t *sp1 = memchr(p, ' ', n), *sp2;
	size_t m, t;

	if (!sp1 || sp1 == p)
		return fail(out, 400);
	m = (size_t)(sp1 - p);
	if (m != 7 || memcmp(p, "CONNECT", 7) != 0)
		return fail(out, 405);
	sp2 = memchr(sp1 + 1, ' ', n - m - 1);
	if (!sp2)
		return fail(out, 400);
	t = (size_t)(sp2 - sp1 - 1);
	if (n - m - t - 2 != 8 ||
	    (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 &&
	     memcmp(sp2 + 1, "HTTP/1.0", 8) != 0) ||
	    !target(sp1 + 1, t, out))
		return fail(out, 400);
	return 0;
}

static bool header_line(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && p[i] != ':'; i++)
		if (!tchar(p[i]))
			return false;
	return i > 0 && i < n;
}

int httpconnect_parse(const uint8_t *p, size_t len,
		      struct httpconnect_req *out)
{
	size_t off, n, next, i;
	int r;

	if (len > HTTPCONNECT_HEAD_MAX)
		len = HTTPCONNECT_HEAD_MAX;
	memset(out, 0, sizeof(*out));
	r = line(p, len, &n, &next);
	if (r < 0)
		return fail(out, 400);
	if (r == 0) {
		/* The method so far must be a token. */
		for (i = 0; i < len && p[i] != ' '; i++)
			if (!tchar(p[i]) && p[i] != '\r')
				return fail(out, 400);
		return len == HTTPCONNECT_HEAD_MAX ? fail(out, 431) : 0;
	}
	if (request_line(p, n, out) < 0)
		return WEFT_ERR_PARSE;
	for (off = next;;) {
		r = line(p + off, len - off, &n, &next);
		if (r < 0)
			return fail(out, 400);
		if (r == 0)
			return len == HTTPCONNECT_HEAD_MAX ? fail(out, 431) : 0;
		if (n == 0)
			break;
		if (!header_line(p + off, n))
			return fail(out, 400);
		off += next;
	}
	out->status = 200;
	return (int)(off + next);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "Connection established";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Error";
	}
}

static const char *body(int status)
{
	switch (status) {
	case 403:
		return "the policy does not allow this port there\n";
	case 405:
		return "only CONNECT host:port is served\n";
	case 408:
		return "the request head did not arrive in time\n";
	case 431:
		return "request head too large\n";
	case 502:
		return "no such destination in the mesh, or nothing "
		       "listens on that port\n";
	case 503:
		return "too many streams, try again later\n";
	case 504:
		return "no answer from the node in time\n";
	default:
		return "malformed CONNECT request\n";
	}
}

size_t httpconnect_reply(int status, char out[HTTPCONNECT_REPLY_MAX])
{
	int n;

	if (status == 200)
		n = snprintf(out, HTTPCONNECT_REPLY_MAX,
			     "HTTP/1.1 200 %s\r\n\r\n", reason(200));
	else
		n = snprintf(out, HTTPCONNECT_REPLY_MAX,
			     "HTTP/1.1 %d %s\r\n%s"
			     "Content-Type: text/plain\r\n"
			     "Content-Length: %zu\r\n"
			     "Connection: close\r\n\r\n%s",
			     status, reason(status),
			     status == 405 ? "Allow: CONNECT\r\n" : "",
			     strlen(body(status)), body(status));
	return n < 0 ? 0
		     : (size_t)n < HTTPCONNECT_REPLY_MAX
			       ? (size_t)n
			       : HTTPCONNECT_REPLY_MAX - 1;
}
