/* HTTP/1.1 messages without I/O: see httpmsg.h.
 *
 * The response parser is a small state machine fed byte ranges. The head
 * is collected whole (it is small and bounded) and parsed at once; body
 * bytes are handed on in bulk, through the chunked decoder and inflate
 * when the response uses them. Strictness is deliberate: the controller
 * is libmicrohttpd, which sends clean HTTP/1.1, so whatever is unusual
 * comes from something in the path that we should not trust, and an
 * error names what was wrong so the log says it. */
#include "agent/httpmsg.h"

#include "shared/err.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* chunk-size lines and trailer lines: a size plus a short extension */
#define LINE_MAX_LEN 1024

/* ---- URLs ---- */

static bool is_host_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
}

/* Path and query characters: visible ASCII but '#' (a fragment). */
static bool is_path_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '#';
}

int httpmsg_url_parse(const char *url, struct httpmsg_url *out)
{
	struct httpmsg_url u = {0};
	const char *p, *host, *end;
	size_t hlen;

	if (strncasecmp(url, "https://", 8) == 0) {
		u.https = true;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		return WEFT_ERR_INVAL;
	}
	if (*p == '[') {
		struct in6_addr a;

		host = p + 1;
		end = strchr(host, ']');
		if (!end)
			return WEFT_ERR_INVAL;
		hlen = (size_t)(end - host);
		if (hlen >= sizeof(u.host))
			return WEFT_ERR_TOOBIG;
		memcpy(u.host, host, hlen);
		if (inet_pton(AF_INET6, u.host, &a) != 1)
			return WEFT_ERR_INVAL;
		u.ipv6 = true;
		p = end + 1;
	} else {
		host = p;
		while (is_host_char((unsigned char)*p))
			p++;
		hlen = (size_t)(p - host);
		if (hlen == 0)
			return WEFT_ERR_INVAL;
		if (hlen >= sizeof(u.host))
			return WEFT_ERR_TOOBIG;
		memcpy(u.host, host, hlen);
	}
	u.port = u.https ? 443 : 80;
	if (*p == ':') {
		unsigned long port = 0;
		const char *d = ++p;

		while (*p >= '0' && *p <= '9' && p - d < 6)
			port = port * 10 + (unsigned long)(*p++ - '0');
		if (p == d || port == 0 || port > 65535)
			return WEFT_ERR_INVAL;
		u.port = (uint16_t)port;
	}
	if (*p != '\0' && *p != '/' && *p != '?')
		return WEFT_ERR_INVAL; /* userinfo, a fragment, junk */
	for (end = p; *end; end++)
		if (!is_path_char((unsigned char)*end))
			return WEFT_ERR_INVAL;
	if (*p == '?')
		u.path[0] = '/';
	if ((size_t)(end - p) + 2 > sizeof(u.path))
		return WEFT_ERR_TOOBIG;
	memcpy(u.path + (*p == '?'), p, (size_t)(end - p));
	if (!u.path[0])
		u.path[0] = '/';
	u.has_path = strcmp(u.path, "/") != 0;
	*out = u;
	return 0;
}

/* ---- requests ---- */

/* A header value: visible ASCII, spaces and tabs, nothing that ends a
 * line. */
static bool field_ok(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static bool token_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(*s >= 'A' && *s <= 'Z'))
			return false;
	return true;
}

int httpmsg_request(struct buf *out, const struct httpmsg_req *rq)
{
	const struct httpmsg_url *u = rq->url;
	const char *path = rq->path ? rq->path : u ? u->path : NULL;
	int rc;

	if (!u || !path || path[0] != '/' || !rq->method ||
	    !token_ok(rq->method) || !rq->user_agent ||
	    !field_ok(rq->user_agent) || !field_ok(u->host) ||
	    (rq->authorization && !field_ok(rq->authorization)) ||
	    (rq->body && (!rq->content_type || !field_ok(rq->content_type))))
		return WEFT_ERR_INVAL;
	for (const char *p = path; *p; p++)
		if (!is_path_char((unsigned char)*p))
			return WEFT_ERR_INVAL;
	rc = buf_appendf(out, "%s %s HTTP/1.1\r\nHost: %s%s%s", rq->method,
			 path, u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "");
	if (rc == 0 && u->port != (u->https ? 443 : 80))
		rc = buf_appendf(out, ":%u", (unsigned)u->port);
	if (rc == 0)
		rc = buf_appendf(out, "\r\nUser-Agent: %s\r\n"
				      "Accept: application/json\r\n"
				      "Accept-Encoding: gzip\r\n",
				 rq->user_agent);
	if (rc == 0 && rq->authorization)
		rc = buf_appendf(out, "Authorization: %s\r\n",
				 rq->authorization);
	if (rc == 0 && rq->body)
		rc = buf_appendf(out, "Content-Type: %s\r\n"
				      "Content-Length: %zu\r\n\r\n%s",
				 rq->content_type, strlen(rq->body), rq->body);
	else if (rc == 0 && strcmp(rq->method, "POST") == 0)
		rc = buf_append_str(out, "Content-Length: 0\r\n\r\n");
	else if (rc == 0)
		rc = buf_append_str(out, "\r\n");
	return rc;
}

/* ---- responses ---- */

enum rstate {
	S_HEAD,
	S_BODY_LEN,   /* Content-Length bytes */
	S_BODY_CLOSE, /* until the connection ends */
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_END,  /* the CRLF after a chunk's data */
	S_TRAILER,
	S_DONE,
	S_ERROR,
};

struct httpmsg_resp {
	enum rstate state;
	int err;
	const char *why;
	bool started;

	struct buf head;     /* the head being collected */
	char line[LINE_MAX_LEN + 1];
	size_t line_len;
	size_t trailer_len;  /* bytes of trailer lines so far */

	int status;
	bool keep_alive;
	bool gzip;
	uint64_t remaining;  /* of Content-Length or the current chunk */
	uint64_t wire_len;   /* body bytes as they came */

	size_t body_max;
	struct buf body;
	z_stream z;
	bool z_init;
	bool z_end;          /* the gzip stream is complete */
};

int httpmsg_resp_new(size_t body_max, struct httpmsg_resp **out)
{
	struct httpmsg_resp *r = calloc(1, sizeof(*r));

	if (!r)
		return WEFT_ERR_NOMEM;
	r->body_max = body_max;
	buf_init(&r->head, HTTPMSG_HEAD_MAX);
	buf_init(&r->body, body_max);
	httpmsg_resp_reset(r);
	*out = r;
	return 0;
}

void httpmsg_resp_del(struct httpmsg_resp *r)
{
	if (!r)
		return;
	if (r->z_init)
		inflateEnd(&r->z);
	buf_free(&r->head);
	buf_free(&r->body);
	free(r);
}

static void reset_message(struct httpmsg_resp *r)
{
	r->state = S_HEAD;
	buf_reset(&r->head);
	r->line_len = 0;
	r->trailer_len = 0;
	r->status = 0;
	r->keep_alive = false;
	r->gzip = false;
	r->remaining = 0;
	r->wire_len = 0;
	r->z_end = false;
}

void httpmsg_resp_reset(struct httpmsg_resp *r)
{
	reset_message(r);
	r->err = 0;
	r->why = "";
	r->started = false;
	buf_reset(&r->body);
	/* Nothing is kept that an idle long-poll does not need: the inflate
	 * state (about 40 KB with its window) is made again per gzip
	 * answer, a large answer's buffers are not kept either. */
	if (r->z_init) {
		inflateEnd(&r->z);
		r->z_init = false;
	}
	if (r->body.cap > 65536)
		buf_free(&r->body);
	if (r->head.cap > 4096)
		buf_free(&r->head);
}

static int fail(struct httpmsg_resp *r, int err, const char *why)
{
	r->state = S_ERROR;
	r->err = err;
	r->why = why;
	return err;
}

static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Does the comma-separated list v hold the token t (case-insensitive)? */
static bool list_has(const char *v, size_t n, const char *t)
{
	size_t tl = strlen(t), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, t, tl) == 0)
			return true;
	}
	return false;
}

static bool value_is(const char *v, size_t n, const char *t)
{
	return n == strlen(t) && strncasecmp(v, t, n) == 0;
}

/* The status line "HTTP/1.x DDD[ reason]". Sets status and the default
 * persistence of the version. */
static int parse_status(struct httpmsg_resp *r, const char *s, size_t n)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 ||
	    (s[7] != '0' && s[7] != '1') || s[8] != ' ')
		return fail(r, WEFT_ERR_PARSE, "bad status line");
	for (int i = 9; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return fail(r, WEFT_ERR_PARSE, "bad status line");
	if (n > 12 && s[12] != ' ')
		return fail(r, WEFT_ERR_PARSE, "bad status line");
	for (size_t i = 13; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			return fail(r, WEFT_ERR_PARSE, "bad status line");
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (r->status < 100 || r->status > 599)
		return fail(r, WEFT_ERR_PARSE, "bad status code");
	r->keep_alive = s[7] == '1';
	return 0;
}

static int parse_length(struct httpmsg_resp *r, const char *v, size_t n,
			bool *have, uint64_t *len)
{
	uint64_t x = 0;

	if (n == 0 || n > 19)
		return fail(r, n ? WEFT_ERR_TOOBIG : WEFT_ERR_PARSE,
			    n ? "Content-Length too large"
			      : "bad Content-Length");
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return fail(r, WEFT_ERR_PARSE, "bad Content-Length");
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (*have && x != *len)
		return fail(r, WEFT_ERR_PARSE, "conflicting Content-Length");
	*have = true;
	*len = x;
	return 0;
}

/* The whole head, s[0..n), lines ending in LF (a CR before it is
 * dropped), the last line empty. */
static int parse_head(struct httpmsg_resp *r, const char *s, size_t n)
{
	bool have_len = false, chunked = false, close = false, ka = false;
	uint64_t len = 0;
	int count = 0, rc;
	size_t i = 0;

	while (i < n) {
		const char *l = s + i, *nl = memchr(l, '\n', n - i), *v;
		size_t ll = (size_t)(nl - l), nlen, vlen;

		i += ll + 1;
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (l == s) {
			rc = parse_status(r, l, ll);
			if (rc < 0)
				return rc;
			continue;
		}
		if (ll == 0)
			break; /* the end of the head */
		if (++count > HTTPMSG_HEADERS_MAX)
			return fail(r, WEFT_ERR_TOOBIG, "too many headers");
		if (l[0] == ' ' || l[0] == '\t')
			return fail(r, WEFT_ERR_PARSE,
				    "folded header line (obsolete)");
		for (nlen = 0; nlen < ll && is_tchar((unsigned char)l[nlen]);
		     nlen++)
			;
		if (nlen == 0 || nlen == ll || l[nlen] != ':')
			return fail(r, WEFT_ERR_PARSE, "bad header line");
		v = l + nlen + 1;
		vlen = ll - nlen - 1;
		for (size_t k = 0; k < vlen; k++)
			if (((unsigned char)v[k] < 0x20 && v[k] != '\t') ||
			    v[k] == 0x7f)
				return fail(r, WEFT_ERR_PARSE,
					    "control byte in a header");
		while (vlen && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (value_is(l, nlen, "Content-Length")) {
			rc = parse_length(r, v, vlen, &have_len, &len);
			if (rc < 0)
				return rc;
		} else if (value_is(l, nlen, "Transfer-Encoding")) {
			if (chunked || !value_is(v, vlen, "chunked"))
				return fail(r, WEFT_ERR_UNSUPPORTED,
					    "unsupported Transfer-Encoding");
			chunked = true;
		} else if (value_is(l, nlen, "Content-Encoding")) {
			if (value_is(v, vlen, "gzip") ||
			    value_is(v, vlen, "x-gzip")) {
				if (r->gzip)
					return fail(r, WEFT_ERR_UNSUPPORTED,
						    "gzip applied twice");
				r->gzip = true;
			} else if (!value_is(v, vlen, "identity")) {
				return fail(r, WEFT_ERR_UNSUPPORTED,
					    "unsupported Content-Encoding");
			}
		} else if (value_is(l, nlen, "Connection")) {
			close |= list_has(v, vlen, "close");
			ka |= list_has(v, vlen, "keep-alive");
		}
	}
	if (close)
		r->keep_alive = false;
	else if (ka)
		r->keep_alive = true;
	if (r->status >= 100 && r->status < 200) {
		if (r->status == 101)
			return fail(r, WEFT_ERR_UNSUPPORTED,
				    "unexpected protocol switch");
		reset_message(r); /* interim answer: the real one follows */
		return 0;
	}
	if (have_len && chunked)
		return fail(r, WEFT_ERR_PARSE,
			    "both Content-Length and chunked");
	if (r->gzip) {
		if (r->z_init) {
			rc = inflateReset(&r->z);
		} else {
			memset(&r->z, 0, sizeof(r->z));
			rc = inflateInit2(&r->z, 16 + MAX_WBITS);
		}
		if (rc != Z_OK)
			return fail(r, WEFT_ERR_NOMEM, "out of memory");
		r->z_init = true;
	}
	if (r->status == 204 || r->status == 304) {
		r->state = S_DONE;
		r->gzip = false; /* no body to decode */
	} else if (chunked) {
		r->state = S_CHUNK_SIZE;
	} else if (have_len) {
		if (len > r->body_max)
			return fail(r, WEFT_ERR_TOOBIG, "body too large");
		r->remaining = len;
		r->state = len ? S_BODY_LEN : S_DONE;
	} else {
		r->state = S_BODY_CLOSE;
		r->keep_alive = false;
	}
	if (r->state == S_DONE && r->gzip)
		return fail(r, WEFT_ERR_PARSE, "empty gzip body");
	return 0;
}

/* Decoded body bytes: stored, or inflated and stored. */
static int body_take(struct httpmsg_resp *r, const uint8_t *p, size_t n)
{
	uint8_t out[16384];
	int rc;

	r->wire_len += n;
	if (r->wire_len > r->body_max)
		return fail(r, WEFT_ERR_TOOBIG, "body too large");
	if (!r->gzip) {
		rc = buf_append(&r->body, p, n);
		return rc < 0 ? fail(r, rc, rc == WEFT_ERR_TOOBIG
						    ? "body too large"
						    : "out of memory")
			      : 0;
	}
	if (r->z_end)
		return n ? fail(r, WEFT_ERR_PARSE, "data after the gzip stream")
			 : 0;
	r->z.next_in = (Bytef *)p;
	r->z.avail_in = (uInt)n;
	for (;;) {
		int zr;

		r->z.next_out = out;
		r->z.avail_out = sizeof(out);
		zr = inflate(&r->z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return fail(r, zr == Z_MEM_ERROR ? WEFT_ERR_NOMEM
							 : WEFT_ERR_PARSE,
				    "bad gzip data");
		rc = buf_append(&r->body, out, sizeof(out) - r->z.avail_out);
		if (rc < 0)
			return fail(r, rc, rc == WEFT_ERR_TOOBIG
						   ? "body too large"
						   : "out of memory");
		if (zr == Z_STREAM_END) {
			r->z_end = true;
			return r->z.avail_in
				       ? fail(r, WEFT_ERR_PARSE,
					      "data after the gzip stream")
				       : 0;
		}
		/* Output room left means all input was taken. */
		if (r->z.avail_out != 0)
			return 0;
	}
}

static int body_end(struct httpmsg_resp *r)
{
	r->state = S_DONE;
	if (r->gzip && !r->z_end)
		return fail(r, WEFT_ERR_PARSE, "truncated gzip data");
	return 1;
}

/* One line of a chunked body (size or trailer) is complete in r->line. */
static int chunk_line(struct httpmsg_resp *r)
{
	size_t n = r->line_len, i = 0;
	uint64_t size = 0;

	if (n && r->line[n - 1] == '\r')
		n--;
	if (r->state == S_TRAILER) {
		if (n == 0)
			return body_end(r);
		for (i = 0; i < n; i++)
			if (((unsigned char)r->line[i] < 0x20 &&
			     r->line[i] != '\t') || r->line[i] == 0x7f)
				return fail(r, WEFT_ERR_PARSE,
					    "control byte in a trailer");
		return 0; /* trailers are not used */
	}
	for (; i < n; i++) {
		char ch = r->line[i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			break;
		if (size > (UINT64_MAX >> 4))
			return fail(r, WEFT_ERR_TOOBIG, "chunk size overflows");
		size = size << 4 | d;
	}
	if (i == 0 || (i < n && r->line[i] != ';' && r->line[i] != ' ' &&
		       r->line[i] != '\t'))
		return fail(r, WEFT_ERR_PARSE, "bad chunk size");
	for (; i < n; i++)
		if (((unsigned char)r->line[i] < 0x20 && r->line[i] != '\t') ||
		    r->line[i] == 0x7f)
			return fail(r, WEFT_ERR_PARSE, "bad chunk size");
	if (size > r->body_max || r->wire_len + size > r->body_max)
		return fail(r, WEFT_ERR_TOOBIG, "body too large");
	r->remaining = size;
	r->state = size ? S_CHUNK_DATA : S_TRAILER;
	return 0;
}

int httpmsg_resp_feed(struct httpmsg_resp *r, const uint8_t *p, size_t n,
		      size_t *used)
{
	size_t i = 0;
	int rc = 0;

	if (n)
		r->started = true;
	while (i < n && rc == 0) {
		switch (r->state) {
		case S_HEAD: {
			size_t len;

			if (buf_putc(&r->head, p[i++]) < 0) {
				rc = fail(r, WEFT_ERR_TOOBIG,
					  "header section too large");
				break;
			}
			len = r->head.len;
			if (r->head.data[len - 1] != '\n')
				break;
			/* an empty line ("\n" or "\r\n") ends the head */
			if (len == 1 || (len == 2 && r->head.data[0] == '\r')) {
				rc = fail(r, WEFT_ERR_PARSE, "bad status line");
				break;
			}
			if (r->head.data[len - 2] == '\n' ||
			    (len >= 3 && r->head.data[len - 2] == '\r' &&
			     r->head.data[len - 3] == '\n'))
				rc = parse_head(r, (const char *)r->head.data,
						len);
			break;
		}
		case S_BODY_LEN:
		case S_CHUNK_DATA: {
			size_t take = n - i;

			if (take > r->remaining)
				take = (size_t)r->remaining;
			rc = body_take(r, p + i, take);
			i += take;
			r->remaining -= take;
			if (rc == 0 && r->remaining == 0) {
				if (r->state == S_BODY_LEN) {
					rc = body_end(r);
				} else {
					r->state = S_CHUNK_END;
					r->line_len = 0;
				}
			}
			break;
		}
		case S_BODY_CLOSE:
			rc = body_take(r, p + i, n - i);
			i = n;
			break;
		case S_CHUNK_END:
			if (p[i] == '\r' && r->line_len == 0) {
				r->line_len = 1;
				i++;
			} else if (p[i] == '\n') {
				r->line_len = 0;
				r->state = S_CHUNK_SIZE;
				i++;
			} else {
				rc = fail(r, WEFT_ERR_PARSE,
					  "chunk data longer than its size");
			}
			break;
		case S_CHUNK_SIZE:
		case S_TRAILER:
			if (p[i] == '\n') {
				i++;
				rc = chunk_line(r);
				r->line_len = 0;
				break;
			}
			if (r->line_len >= LINE_MAX_LEN ||
			    (r->state == S_TRAILER &&
			     ++r->trailer_len > HTTPMSG_HEAD_MAX)) {
				rc = fail(r, WEFT_ERR_TOOBIG,
					  r->state == S_TRAILER
						  ? "trailer too large"
						  : "chunk size line too long");
				break;
			}
			r->line[r->line_len++] = (char)p[i++];
			break;
		case S_DONE:
			rc = 1;
			break;
		case S_ERROR:
			rc = r->err;
			break;
		}
	}
	if (rc == 0 && r->state == S_DONE)
		rc = 1;
	if (rc == 0 && r->state == S_ERROR)
		rc = r->err;
	*used = i;
	return rc;
}

int httpmsg_resp_eof(struct httpmsg_resp *r)
{
	switch (r->state) {
	case S_DONE:
		return 1;
	case S_ERROR:
		return r->err;
	case S_BODY_CLOSE:
		return body_end(r);
	default:
		return fail(r, WEFT_ERR_PROTO,
			    r->started ? "answer cut short"
				       : "connection closed without an answer");
	}
}

bool httpmsg_resp_started(const struct httpmsg_resp *r)
{
	return r->started;
}

const char *httpmsg_resp_why(const struct httpmsg_resp *r)
{
	return r->why;
}

int httpmsg_resp_status(const struct httpmsg_resp *r)
{
	return r->status;
}

bool httpmsg_resp_keep_alive(const struct httpmsg_resp *r)
{
	return r->keep_alive && r->state == S_DONE;
}

bool httpmsg_resp_gzipped(const struct httpmsg_resp *r)
{
	return r->gzip;
}

uint64_t httpmsg_resp_wire_len(const struct httpmsg_resp *r)
{
	return r->wire_len;
}

const char *httpmsg_resp_body(struct httpmsg_resp *r, size_t *len)
{
	*len = r->body.len;
	return buf_cstr(&r->body);
}
