/* agent/httpconnect: CONNECT request heads and the proxy's replies. */
#include "agent/httpconnect.h"
#include "check.h"
#include "shared/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *s, struct httpconnect_req *r)
{
	return httpconnect_parse((const uint8_t *)s, strlen(s), r);
}

static void connect_by_name_and_address(void)
{
	static const char curl[] = "CONNECT b:8000 HTTP/1.1\r\n"
				   "Host: b:8000\r\n"
				   "User-Agent: curl/8.5.0\r\n"
				   "Proxy-Connection: Keep-Alive\r\n\r\n";
	struct httpconnect_req r;

	CHECK_INT(parse(curl, &r), (int)strlen(curl));
	CHECK_STR(r.host, "b");
	CHECK_INT(r.port, 8000);
	CHECK_INT(r.status, 200);
	/* Every prefix asks for more. */
	for (size_t i = 0; i < strlen(curl); i++)
		CHECK_INT(httpconnect_parse((const uint8_t *)curl, i, &r), 0);
	CHECK_INT(parse("CONNECT 100.64.0.2:443 HTTP/1.0\n\n", &r), 33);
	CHECK_STR(r.host, "100.64.0.2");
	CHECK_INT(r.port, 443);
	CHECK_INT(parse("CONNECT [fd7a:115c::2]:22 HTTP/1.1\r\n\r\n", &r),
		  38);
	CHECK_STR(r.host, "fd7a:115c::2");
	CHECK_INT(r.port, 22);
	CHECK_INT(parse("CONNECT db.corp.test:5432 HTTP/1.1\r\n\r\nxy", &r),
		  38);
	CHECK_STR(r.host, "db.corp.test");
}

static void refusals(void)
{
	static const char *const bad[] = {
		"CONNECT b HTTP/1.1\r\n\r\n",
		"CONNECT b:0 HTTP/1.1\r\n\r\n",
		"CONNECT b:65536 HTTP/1.1\r\n\r\n",
		"CONNECT b:123456 HTTP/1.1\r\n\r\n",
		"CONNECT :80 HTTP/1.1\r\n\r\n",
		"CONNECT b:80x HTTP/1.1\r\n\r\n",
		"CONNECT fd7a::2:80 HTTP/1.1\r\n\r\n",
		"CONNECT [b]:80 HTTP/1.1\r\n\r\n",
		"CONNECT [10.0.0.1]:80 HTTP/1.1\r\n\r\n",
		"CONNECT a/b:80 HTTP/1.1\r\n\r\n",
		"CONNECT b:80 HTTP/2.0\r\n\r\n",
		"CONNECT b:80  HTTP/1.1\r\n\r\n",
		"CONNECT b:80\r\n\r\n",
		"CONNECT b:80 HTTP/1.1\r\nNo colon\r\n\r\n",
		"CONNECT b:80 HTTP/1.1\r\n: empty name\r\n\r\n",
		"CONNECT b:80 HTTP/1.1\r\nHost: b\r\n folded\r\n\r\n",
		"CONNECT b:80 HTTP/1.1\r\nX: a\rb\r\n\r\n",
		"CONNECT b:80 HTTP/1.1\r\nX: \x01\r\n\r\n",
		" CONNECT b:80 HTTP/1.1\r\n\r\n",
		"\x05\x01\x00",
	};
	struct httpconnect_req r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(parse(bad[i], &r), WEFT_ERR_PARSE);
		CHECK_INT(r.status, 400);
	}
	CHECK_INT(parse("GET http://b/ HTTP/1.1\r\n", &r), WEFT_ERR_PARSE);
	CHECK_INT(r.status, 405);
	CHECK_INT(parse("connect b:80 HTTP/1.1\r\n\r\n", &r), WEFT_ERR_PARSE);
	CHECK_INT(r.status, 405);
	/* Garbage is told before a line ends. */
	CHECK_INT(parse("GE(T", &r), WEFT_ERR_PARSE);
	CHECK_INT(r.status, 400);
}

static void head_size_bound(void)
{
	static char head[HTTPCONNECT_HEAD_MAX + 100];
	struct httpconnect_req r;
	size_t n;

	/* A head of exactly the limit is fine. */
	n = (size_t)snprintf(head, sizeof(head), "CONNECT b:80 HTTP/1.1\r\nX: ");
	memset(head + n, 'a', HTTPCONNECT_HEAD_MAX - n - 4);
	memcpy(head + HTTPCONNECT_HEAD_MAX - 4, "\r\n\r\n", 4);
	CHECK_INT(httpconnect_parse((uint8_t *)head, HTTPCONNECT_HEAD_MAX,
				    &r), HTTPCONNECT_HEAD_MAX);
	/* One byte more is not. */
	memset(head + n, 'a', HTTPCONNECT_HEAD_MAX - n);
	memcpy(head + HTTPCONNECT_HEAD_MAX - 3, "\r\n\r\n", 4);
	CHECK_INT(httpconnect_parse((uint8_t *)head, HTTPCONNECT_HEAD_MAX + 1,
				    &r), WEFT_ERR_PARSE);
	CHECK_INT(r.status, 431);
	/* A request line that never ends. */
	memset(head, 'A', HTTPCONNECT_HEAD_MAX);
	CHECK_INT(httpconnect_parse((uint8_t *)head, HTTPCONNECT_HEAD_MAX,
				    &r), WEFT_ERR_PARSE);
	CHECK_INT(r.status, 431);
}

static void replies(void)
{
	char out[HTTPCONNECT_REPLY_MAX];
	size_t n;

	n = httpconnect_reply(200, out);
	CHECK_STR(out, "HTTP/1.1 200 Connection established\r\n\r\n");
	CHECK_INT((int)n, (int)strlen(out));
	n = httpconnect_reply(405, out);
	CHECK_INT((int)n, (int)strlen(out));
	CHECK(strncmp(out, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
	CHECK(strstr(out, "\r\nAllow: CONNECT\r\n") != NULL);
	CHECK(strstr(out, "\r\nConnection: close\r\n") != NULL);
	/* The body is as long as Content-Length says. */
	for (int s = 400; s <= 504; s++) {
		const char *b, *cl;

		httpconnect_reply(s, out);
		b = strstr(out, "\r\n\r\n");
		cl = strstr(out, "Content-Length: ");
		CHECK(b && cl);
		if (b && cl)
			CHECK_INT(atoi(cl + 16), (int)strlen(b + 4));
	}
}

static const struct check_case cases[] = {
	CHECK_CASE(connect_by_name_and_address),
	CHECK_CASE(refusals),
	CHECK_CASE(head_size_bound),
	CHECK_CASE(replies),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
