/* The agent's HTTP/1.1 messages without I/O (agent/httpmsg.c): URLs,
 * request heads and the response parser, fed whole, byte by byte and
 * split at every boundary. */
#include "check.h"
#include "agent/httpmsg.h"
#include "shared/buf.h"
#include "shared/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX (64u * 1024)

/* ---- helpers ---- */

/* s gzip-coded into out (cap bytes). Returns the length. */
static size_t gzip(const char *s, size_t n, uint8_t *out, size_t cap)
{
	z_stream z = {0};
	size_t len;

	if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	z.next_in = (Bytef *)s;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		len = 0;
	else
		len = cap - z.avail_out;
	deflateEnd(&z);
	return len;
}

/* Feeds msg[0..n) in pieces of at most step bytes (0: all at once) to r
 * until an error or completion. Returns what the last feed (or eof, when
 * eof is set and the bytes ran out) returned; *used_total the bytes
 * taken. */
static int feed_steps(struct httpmsg_resp *r, const uint8_t *msg, size_t n,
		      size_t step, bool eof, size_t *used_total)
{
	size_t off = 0;
	int rc = 0;

	*used_total = 0;
	while (off < n) {
		size_t k = step && n - off > step ? step : n - off, used = 0;

		rc = httpmsg_resp_feed(r, msg + off, k, &used);
		*used_total += used;
		off += k;
		if (rc != 0)
			return rc;
	}
	return eof ? httpmsg_resp_eof(r) : rc;
}

/* Parses the whole of msg at once; returns the result. */
static int parse(struct httpmsg_resp *r, const char *msg, bool eof)
{
	size_t used;

	httpmsg_resp_reset(r);
	return feed_steps(r, (const uint8_t *)msg, strlen(msg), 0, eof,
			  &used);
}

static int parse_err(const char *msg)
{
	struct httpmsg_resp *r = NULL;
	int rc;

	if (httpmsg_resp_new(MAX, &r) < 0)
		return 1000;
	rc = parse(r, msg, true);
	httpmsg_resp_del(r);
	return rc;
}

/* ---- URLs ---- */

static void url_parse_takes_http_and_https_urls(void)
{
	struct httpmsg_url u;

	REQUIRE_INT(httpmsg_url_parse("https://ctl.example.com", &u), 0);
	CHECK(u.https);
	CHECK(!u.ipv6);
	CHECK_INT(u.port, 443);
	CHECK_STR(u.host, "ctl.example.com");
	CHECK_STR(u.path, "/");
	CHECK(!u.has_path);

	REQUIRE_INT(httpmsg_url_parse("HTTP://127.0.0.1:8080/", &u), 0);
	CHECK(!u.https);
	CHECK_INT(u.port, 8080);
	CHECK_STR(u.host, "127.0.0.1");
	CHECK(!u.has_path);

	REQUIRE_INT(httpmsg_url_parse("http://[::1]:9/api/v1/map?since=3",
				      &u), 0);
	CHECK(u.ipv6);
	CHECK_STR(u.host, "::1");
	CHECK_INT(u.port, 9);
	CHECK_STR(u.path, "/api/v1/map?since=3");
	CHECK(u.has_path);

	REQUIRE_INT(httpmsg_url_parse("https://h?x=1", &u), 0);
	CHECK_STR(u.path, "/?x=1");
	CHECK(u.has_path);

	REQUIRE_INT(httpmsg_url_parse("https://a:65535", &u), 0);
	CHECK_INT(u.port, 65535);
}

static void url_parse_refuses_what_is_not_a_plain_url(void)
{
	static const char *const bad[] = {
		"ftp://host",          "host:80",
		"http://",             "http:///x",
		"http://user@host",    "http://user:pw@host/",
		"http://host#frag",    "http://host/a#frag",
		"http://host:0",       "http://host:65536",
		"http://host:",        "http://host:80x",
		"http://host:1234567", "http://host/a b",
		"http://[::1",         "http://[fe80::1%25eth0]/",
		"http://[nothex]/",    "http://ho st/",
		"http://host\r\nX: y", "https:/host",
		"http://host\\evil",   "",
	};
	struct httpmsg_url u;
	char big[400];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!check_report(httpmsg_url_parse(bad[i], &u) ==
					  WEFT_ERR_INVAL,
				  __FILE__, __LINE__, "accepted \"%s\"", bad[i]))
			continue;
	memset(big, 'a', sizeof(big));
	memcpy(big, "http://", 7);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(httpmsg_url_parse(big, &u), WEFT_ERR_TOOBIG);
}

/* ---- requests ---- */

static void request_head_names_host_port_and_body(void)
{
	struct httpmsg_url u;
	struct buf b;

	buf_init(&b, 4096);
	REQUIRE_INT(httpmsg_url_parse("http://[::1]:8080", &u), 0);
	REQUIRE_INT(httpmsg_request(&b, &(struct httpmsg_req){
		.method = "POST", .url = &u, .path = "/api/v1/register",
		.user_agent = "weft-agent/1", .authorization = "Bearer t",
		.content_type = "application/json", .body = "{\"a\":1}"}), 0);
	CHECK_STR(buf_cstr(&b),
		  "POST /api/v1/register HTTP/1.1\r\n"
		  "Host: [::1]:8080\r\n"
		  "User-Agent: weft-agent/1\r\n"
		  "Accept: application/json\r\n"
		  "Accept-Encoding: gzip\r\n"
		  "Authorization: Bearer t\r\n"
		  "Content-Type: application/json\r\n"
		  "Content-Length: 7\r\n\r\n{\"a\":1}");

	buf_reset(&b);
	REQUIRE_INT(httpmsg_url_parse("https://ctl.example/healthz", &u), 0);
	REQUIRE_INT(httpmsg_request(&b, &(struct httpmsg_req){
		.method = "GET", .url = &u, .user_agent = "ua"}), 0);
	CHECK_STR(buf_cstr(&b), "GET /healthz HTTP/1.1\r\n"
				"Host: ctl.example\r\n"
				"User-Agent: ua\r\n"
				"Accept: application/json\r\n"
				"Accept-Encoding: gzip\r\n\r\n");

	buf_reset(&b);
	REQUIRE_INT(httpmsg_request(&b, &(struct httpmsg_req){
		.method = "POST", .url = &u, .user_agent = "ua"}), 0);
	CHECK(strstr(buf_cstr(&b), "Content-Length: 0\r\n\r\n") != NULL);
	buf_free(&b);
}

static void request_refuses_bytes_that_would_add_a_header(void)
{
	struct httpmsg_url u;
	struct buf b;

	buf_init(&b, 4096);
	REQUIRE_INT(httpmsg_url_parse("https://h", &u), 0);
	CHECK_INT(httpmsg_request(&b, &(struct httpmsg_req){
		.method = "GET", .url = &u, .user_agent = "ua",
		.authorization = "Bearer x\r\nX-Evil: 1"}), WEFT_ERR_INVAL);
	CHECK_INT(httpmsg_request(&b, &(struct httpmsg_req){
		.method = "GET", .url = &u, .user_agent = "ua\n"}),
		  WEFT_ERR_INVAL);
	CHECK_INT(httpmsg_request(&b, &(struct httpmsg_req){
		.method = "GET", .url = &u, .path = "/a b",
		.user_agent = "ua"}), WEFT_ERR_INVAL);
	CHECK_INT(httpmsg_request(&b, &(struct httpmsg_req){
		.method = "GET", .url = &u, .path = "relative",
		.user_agent = "ua"}), WEFT_ERR_INVAL);
	CHECK_INT(httpmsg_request(&b, &(struct httpmsg_req){
		.method = "GE T", .url = &u, .user_agent = "ua"}),
		  WEFT_ERR_INVAL);
	CHECK_INT(httpmsg_request(&b, &(struct httpmsg_req){
		.method = "POST", .url = &u, .user_agent = "ua",
		.body = "{}"}), WEFT_ERR_INVAL); /* no content type */
	CHECK_INT(b.len, 0);
	buf_free(&b);
}

/* ---- responses ---- */

static void content_length_body_is_read(void)
{
	struct httpmsg_resp *r = NULL;
	size_t len;

	REQUIRE_INT(httpmsg_resp_new(MAX, &r), 0);
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
			   "Content-Type: application/json\r\n\r\nhello",
			false), 1);
	CHECK_INT(httpmsg_resp_status(r), 200);
	CHECK(httpmsg_resp_keep_alive(r));
	CHECK(!httpmsg_resp_gzipped(r));
	CHECK_STR(httpmsg_resp_body(r, &len), "hello");
	CHECK_INT(len, 5);
	CHECK_INT(httpmsg_resp_wire_len(r), 5);

	/* LF-only lines, no reason phrase, the same length twice */
	CHECK_INT(parse(r, "HTTP/1.1 404\nContent-Length: 2\n"
			   "content-length:  2 \n\nno", false), 1);
	CHECK_INT(httpmsg_resp_status(r), 404);
	CHECK_STR(httpmsg_resp_body(r, &len), "no");

	/* an empty body */
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			false), 1);
	CHECK_STR(httpmsg_resp_body(r, &len), "");
	CHECK_INT(len, 0);
	httpmsg_resp_del(r);
}

static void chunked_body_with_extensions_and_trailers_is_read(void)
{
	struct httpmsg_resp *r = NULL;
	size_t len;

	REQUIRE_INT(httpmsg_resp_new(MAX, &r), 0);
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n"
			   "5;name=value\r\nhello\r\n"
			   "1\r\n,\r\n"
			   "A \r\n0123456789\r\n"
			   "0\r\nX-Trailer: yes\r\n\r\n",
			false), 1);
	CHECK_STR(httpmsg_resp_body(r, &len), "hello,0123456789");
	CHECK_INT(len, 16);
	CHECK(httpmsg_resp_keep_alive(r));
	httpmsg_resp_del(r);
}

static void body_until_close_ends_at_eof(void)
{
	struct httpmsg_resp *r = NULL;
	size_t len;

	REQUIRE_INT(httpmsg_resp_new(MAX, &r), 0);
	httpmsg_resp_reset(r);
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\n\r\nuntil close", false), 0);
	CHECK_INT(httpmsg_resp_eof(r), 1);
	CHECK_STR(httpmsg_resp_body(r, &len), "until close");
	CHECK(!httpmsg_resp_keep_alive(r));
	httpmsg_resp_del(r);
}

static void gzip_bodies_are_decoded(void)
{
	static char plain[20000];
	static uint8_t z[30000], msg[40000];
	struct httpmsg_resp *r = NULL;
	size_t zlen, n, len, used;
	const char *body;

	for (size_t i = 0; i < sizeof(plain) - 1; i++)
		plain[i] = "{\"peers\":[1,2,3]}"[i % 17];
	plain[sizeof(plain) - 1] = '\0';
	zlen = gzip(plain, strlen(plain), z, sizeof(z));
	REQUIRE(zlen > 0 && zlen < strlen(plain));
	REQUIRE_INT(httpmsg_resp_new(MAX, &r), 0);

	/* with Content-Length */
	n = (size_t)snprintf((char *)msg, sizeof(msg),
			     "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
			     "Content-Length: %zu\r\n\r\n", zlen);
	memcpy(msg + n, z, zlen);
	n += zlen;
	httpmsg_resp_reset(r);
	CHECK_INT(feed_steps(r, msg, n, 0, false, &used), 1);
	body = httpmsg_resp_body(r, &len);
	CHECK_INT(len, strlen(plain));
	CHECK_STR(body, plain);
	CHECK(httpmsg_resp_gzipped(r));
	CHECK_INT(httpmsg_resp_wire_len(r), zlen);

	/* chunked, in two chunks, fed in 7-byte steps */
	n = (size_t)snprintf((char *)msg, sizeof(msg),
			     "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
			     zlen / 2);
	memcpy(msg + n, z, zlen / 2);
	n += zlen / 2;
	n += (size_t)snprintf((char *)msg + n, sizeof(msg) - n, "\r\n%zx\r\n",
			      zlen - zlen / 2);
	memcpy(msg + n, z + zlen / 2, zlen - zlen / 2);
	n += zlen - zlen / 2;
	memcpy(msg + n, "\r\n0\r\n\r\n", 7);
	n += 7;
	httpmsg_resp_reset(r);
	CHECK_INT(feed_steps(r, msg, n, 7, false, &used), 1);
	CHECK_STR(httpmsg_resp_body(r, &len), plain);
	CHECK(httpmsg_resp_gzipped(r));
	httpmsg_resp_del(r);
}

static void truncated_answers_are_errors(void)
{
	static uint8_t z[256], msg[512];
	struct httpmsg_resp *r = NULL;
	size_t zlen, n, used;

	REQUIRE_INT(httpmsg_resp_new(MAX, &r), 0);
	/* nothing at all */
	httpmsg_resp_reset(r);
	CHECK_INT(httpmsg_resp_eof(r), WEFT_ERR_PROTO);
	CHECK(!httpmsg_resp_started(r));
	CHECK_STR(httpmsg_resp_why(r), "connection closed without an answer");
	/* in the head, in a Content-Length body, in a chunked body */
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\nContent-Le", true),
		  WEFT_ERR_PROTO);
	CHECK(httpmsg_resp_started(r));
	CHECK_STR(httpmsg_resp_why(r), "answer cut short");
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
			   "12345", true), WEFT_ERR_PROTO);
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			   "\r\n\r\n5\r\nhello\r\n", true), WEFT_ERR_PROTO);
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			   "\r\n\r\n5\r\nhello\r\n0\r\n", true),
		  WEFT_ERR_PROTO);
	/* a gzip stream cut short, with a complete Content-Length framing */
	zlen = gzip("{\"version\":1}", 13, z, sizeof(z));
	REQUIRE(zlen > 10);
	n = (size_t)snprintf((char *)msg, sizeof(msg),
			     "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
			     "Content-Length: %zu\r\n\r\n", zlen - 4);
	memcpy(msg + n, z, zlen - 4);
	httpmsg_resp_reset(r);
	CHECK_INT(feed_steps(r, msg, n + zlen - 4, 0, false, &used),
		  WEFT_ERR_PARSE);
	CHECK_STR(httpmsg_resp_why(r), "truncated gzip data");
	/* the error stays until reset */
	CHECK_INT(httpmsg_resp_feed(r, (const uint8_t *)"x", 1, &used),
		  WEFT_ERR_PARSE);
	CHECK_INT(httpmsg_resp_eof(r), WEFT_ERR_PARSE);
	httpmsg_resp_del(r);
}

static void oversized_head_and_too_many_headers_are_refused(void)
{
	char *msg = malloc(HTTPMSG_HEAD_MAX + 200);
	size_t n;

	REQUIRE(msg);
	n = (size_t)sprintf(msg, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(msg + n, 'a', HTTPMSG_HEAD_MAX);
	strcpy(msg + n + HTTPMSG_HEAD_MAX, "\r\n\r\n");
	CHECK_INT(parse_err(msg), WEFT_ERR_TOOBIG);

	n = (size_t)sprintf(msg, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= HTTPMSG_HEADERS_MAX; i++)
		n += (size_t)sprintf(msg + n, "X-%d: 1\r\n", i);
	strcpy(msg + n, "Content-Length: 0\r\n\r\n");
	CHECK_INT(parse_err(msg), WEFT_ERR_TOOBIG);

	/* exactly the limit is fine */
	n = (size_t)sprintf(msg, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < HTTPMSG_HEADERS_MAX - 1; i++)
		n += (size_t)sprintf(msg + n, "X-%d: 1\r\n", i);
	strcpy(msg + n, "Content-Length: 0\r\n\r\n");
	CHECK_INT(parse_err(msg), 1);
	free(msg);
}

static void oversized_bodies_are_refused(void)
{
	static char plain[MAX + 2];
	static uint8_t z[MAX], msg[2 * MAX];
	struct httpmsg_resp *r = NULL;
	char head[200];
	size_t zlen, n, used;

	REQUIRE_INT(httpmsg_resp_new(MAX, &r), 0);
	/* a declared length above the limit fails before any body byte */
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: "
		 "%u\r\n\r\n", MAX + 1);
	CHECK_INT(parse(r, head, false), WEFT_ERR_TOOBIG);
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\nContent-Length: "
			   "99999999999999999999999\r\n\r\n", false),
		  WEFT_ERR_TOOBIG);
	/* a chunk above the limit, and chunks that add up above it */
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
		 "chunked\r\n\r\n%x\r\n", MAX + 1);
	CHECK_INT(parse(r, head, false), WEFT_ERR_TOOBIG);
	n = (size_t)sprintf((char *)msg, "HTTP/1.1 200 OK\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 3; i++) {
		n += (size_t)sprintf((char *)msg + n, "%x\r\n", MAX / 2);
		memset(msg + n, 'x', MAX / 2);
		n += MAX / 2;
		n += (size_t)sprintf((char *)msg + n, "\r\n");
	}
	httpmsg_resp_reset(r);
	CHECK_INT(feed_steps(r, msg, n, 0, false, &used), WEFT_ERR_TOOBIG);
	/* a body until close that grows past it */
	httpmsg_resp_reset(r);
	n = (size_t)sprintf((char *)msg, "HTTP/1.1 200 OK\r\n\r\n");
	memset(msg + n, 'y', MAX + 1);
	CHECK_INT(feed_steps(r, msg, n + MAX + 1, 1000, true, &used),
		  WEFT_ERR_TOOBIG);
	/* a small gzip body that inflates past it (a "zip bomb") */
	memset(plain, '0', MAX + 1);
	plain[MAX + 1] = '\0';
	zlen = gzip(plain, MAX + 1, z, sizeof(z));
	REQUIRE(zlen > 0 && zlen < 1000);
	n = (size_t)sprintf((char *)msg, "HTTP/1.1 200 OK\r\nContent-"
			    "Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
			    zlen);
	memcpy(msg + n, z, zlen);
	httpmsg_resp_reset(r);
	CHECK_INT(feed_steps(r, msg, n + zlen, 0, false, &used),
		  WEFT_ERR_TOOBIG);
	CHECK_STR(httpmsg_resp_why(r), "body too large");
	httpmsg_resp_del(r);
}

static void bad_status_lines_are_refused(void)
{
	static const char *const bad[] = {
		"\r\n\r\n",
		"HTTP/1.1\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.2 200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 600 High\r\n\r\n",
		"HTTP/1.1 200 O\001K\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"SSH-2.0-OpenSSH_9.2\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_report(parse_err(bad[i]) == WEFT_ERR_PARSE, __FILE__,
			     __LINE__, "accepted status line %zu", i);
}

static void ambiguous_framing_and_bad_headers_are_refused(void)
{
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
		  WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
			    "Content-Length: 4\r\n\r\nabcd"), WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n"
			    "\r\nabc"), WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
		  WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, "
			    "chunked\r\n\r\n"), WEFT_ERR_UNSUPPORTED);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n"
			    "Content-Length: 1\r\n\r\nx"),
		  WEFT_ERR_UNSUPPORTED);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n"
			    "Content-Length: 0\r\n\r\n"), WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nX-A: a\001b\r\n"
			    "Content-Length: 0\r\n\r\n"), WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nNo colon\r\n\r\n"),
		  WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nX A: 1\r\n\r\n"),
		  WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n"),
		  WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
		  WEFT_ERR_UNSUPPORTED);
	/* chunk sizes */
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			    "\r\n\r\nzz\r\n"), WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			    "\r\n\r\n\r\n"), WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			    "\r\n\r\n10000000000000000\r\n"), WEFT_ERR_TOOBIG);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			    "\r\n\r\n2\r\nabc\r\n0\r\n\r\n"), WEFT_ERR_PARSE);
	CHECK_INT(parse_err("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
			    "Content-Length: 4\r\n\r\nnope"), WEFT_ERR_PARSE);
}

static void interim_answers_are_skipped_and_204_has_no_body(void)
{
	struct httpmsg_resp *r = NULL;
	size_t len;

	REQUIRE_INT(httpmsg_resp_new(MAX, &r), 0);
	CHECK_INT(parse(r, "HTTP/1.1 100 Continue\r\n\r\n"
			   "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
			   "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n"
			   "{}", false), 1);
	CHECK_INT(httpmsg_resp_status(r), 201);
	CHECK_STR(httpmsg_resp_body(r, &len), "{}");
	CHECK_INT(parse(r, "HTTP/1.1 204 No Content\r\n\r\n", false), 1);
	CHECK_INT(httpmsg_resp_status(r), 204);
	CHECK(httpmsg_resp_keep_alive(r));
	httpmsg_resp_del(r);
}

static void connection_persistence_follows_version_and_header(void)
{
	struct httpmsg_resp *r = NULL;

	REQUIRE_INT(httpmsg_resp_new(MAX, &r), 0);
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
			   "Content-Length: 0\r\n\r\n", false), 1);
	CHECK(!httpmsg_resp_keep_alive(r));
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE"
			   "\r\nContent-Length: 0\r\n\r\n", false), 1);
	CHECK(!httpmsg_resp_keep_alive(r));
	CHECK_INT(parse(r, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
			false), 1);
	CHECK(!httpmsg_resp_keep_alive(r));
	CHECK_INT(parse(r, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
			   "Content-Length: 0\r\n\r\n", false), 1);
	CHECK(httpmsg_resp_keep_alive(r));
	/* not complete: never kept */
	CHECK_INT(parse(r, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
			false), 0);
	CHECK(!httpmsg_resp_keep_alive(r));
	httpmsg_resp_del(r);
}

static void bytes_after_a_complete_answer_are_left_over(void)
{
	static const char two[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
				  "\r\naHTTP/1.1 200 OK\r\n";
	struct httpmsg_resp *r = NULL;
	size_t used = 0, len;

	REQUIRE_INT(httpmsg_resp_new(MAX, &r), 0);
	CHECK_INT(httpmsg_resp_feed(r, (const uint8_t *)two, strlen(two),
				    &used), 1);
	CHECK_INT(used, strlen(two) - strlen("HTTP/1.1 200 OK\r\n"));
	CHECK_STR(httpmsg_resp_body(r, &len), "a");
	httpmsg_resp_del(r);
}

/* Every sample answer gives the same result fed whole, byte by byte, and
 * split in two at every position. */
static void split_at_every_byte_boundary_gives_the_same_answer(void)
{
	static uint8_t z[512], gz[1024];
	static const char *const samples[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"a\":\"bcd\"}\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\n"
		"Connection: close\r\nContent-Length: 4\r\n\r\nbusy",
		"HTTP/1.1 500 Oops\nContent-Length: 10\nContent-Length: 0\n\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"3\r\nabcd\r\n",
	};
	struct httpmsg_resp *r = NULL;
	const uint8_t *msgs[6];
	size_t lens[6], nmsg = 0, zlen, n;

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		msgs[nmsg] = (const uint8_t *)samples[i];
		lens[nmsg++] = strlen(samples[i]);
	}
	zlen = gzip("{\"version\":42,\"peers\":[]}", 25, z, sizeof(z));
	REQUIRE(zlen > 0);
	n = (size_t)sprintf((char *)gz, "HTTP/1.1 200 OK\r\nContent-Encoding:"
			    " gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "%zx\r\n", zlen);
	memcpy(gz + n, z, zlen);
	n += zlen;
	memcpy(gz + n, "\r\n0\r\n\r\n", 7);
	msgs[nmsg] = gz;
	lens[nmsg++] = n + 7;

	REQUIRE_INT(httpmsg_resp_new(MAX, &r), 0);
	for (size_t m = 0; m < nmsg; m++) {
		char want_body[256] = "";
		int want, want_status;
		size_t used, len;
		const char *b;

		httpmsg_resp_reset(r);
		want = feed_steps(r, msgs[m], lens[m], 0, false, &used);
		want_status = httpmsg_resp_status(r);
		if (want == 1)
			snprintf(want_body, sizeof(want_body), "%s",
				 httpmsg_resp_body(r, &len));
		for (size_t split = 0; split <= lens[m]; split++) {
			size_t u1 = 0, u2 = 0;
			int rc;

			httpmsg_resp_reset(r);
			rc = httpmsg_resp_feed(r, msgs[m], split, &u1);
			if (rc == 0)
				rc = httpmsg_resp_feed(r, msgs[m] + split,
						       lens[m] - split, &u2);
			if (!check_report(rc == want, __FILE__, __LINE__,
					  "sample %zu split %zu: %d != %d", m,
					  split, rc, want))
				break;
			if (want != 1)
				continue;
			b = httpmsg_resp_body(r, &len);
			if (!check_report(strcmp(b, want_body) == 0 &&
						  httpmsg_resp_status(r) ==
							  want_status,
					  __FILE__, __LINE__,
					  "sample %zu split %zu: body", m,
					  split))
				break;
		}
		httpmsg_resp_reset(r);
		CHECK_INT(feed_steps(r, msgs[m], lens[m], 1, false, &used),
			  want);
		if (want == 1)
			CHECK_STR(httpmsg_resp_body(r, &len), want_body);
	}
	/* the expectations themselves */
	httpmsg_resp_reset(r);
	{
		size_t used, len;

		CHECK_INT(feed_steps(r, gz, lens[nmsg - 1], 0, false, &used), 1);
		CHECK_STR(httpmsg_resp_body(r, &len),
			  "{\"version\":42,\"peers\":[]}");
	}
	CHECK_INT(parse(r, samples[2], false), 1);
	CHECK_INT(httpmsg_resp_status(r), 503);
	CHECK_INT(parse(r, samples[3], false), WEFT_ERR_PARSE);
	CHECK_INT(parse(r, samples[4], false), WEFT_ERR_PARSE);
	httpmsg_resp_del(r);
}

static const struct check_case cases[] = {
	CHECK_CASE(url_parse_takes_http_and_https_urls),
	CHECK_CASE(url_parse_refuses_what_is_not_a_plain_url),
	CHECK_CASE(request_head_names_host_port_and_body),
	CHECK_CASE(request_refuses_bytes_that_would_add_a_header),
	CHECK_CASE(content_length_body_is_read),
	CHECK_CASE(chunked_body_with_extensions_and_trailers_is_read),
	CHECK_CASE(body_until_close_ends_at_eof),
	CHECK_CASE(gzip_bodies_are_decoded),
	CHECK_CASE(truncated_answers_are_errors),
	CHECK_CASE(oversized_head_and_too_many_headers_are_refused),
	CHECK_CASE(oversized_bodies_are_refused),
	CHECK_CASE(bad_status_lines_are_refused),
	CHECK_CASE(ambiguous_framing_and_bad_headers_are_refused),
	CHECK_CASE(interim_answers_are_skipped_and_204_has_no_body),
	CHECK_CASE(connection_persistence_follows_version_and_header),
	CHECK_CASE(bytes_after_a_complete_answer_are_left_over),
	CHECK_CASE(split_at_every_byte_boundary_gives_the_same_answer),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
