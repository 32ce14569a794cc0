/* agent/streamreply: the proxies' answers to each stream outcome. */
#include "agent/httpconnect.h"
#include "agent/socks5.h"
#include "agent/streamhdr.h"
#include "agent/streamreply.h"
#include "agent/streams.h"
#include "check.h"

#include <string.h>

static const struct {
	int code;
	uint8_t socks5;
	int http;
	const char *line; /* the HTTP status line */
} table[] = {
	{STREAMS_REPLY_OK, SOCKS5_OK, 200,
	 "HTTP/1.1 200 Connection established\r\n"},
	{STREAM_ERR_DENIED, SOCKS5_NOT_ALLOWED, 403,
	 "HTTP/1.1 403 Forbidden\r\n"},
	{STREAM_ERR_REFUSED, SOCKS5_REFUSED, 502,
	 "HTTP/1.1 502 Bad Gateway\r\n"},
	{STREAM_ERR_TARGET, SOCKS5_HOST_UNREACHABLE, 502,
	 "HTTP/1.1 502 Bad Gateway\r\n"},
	{STREAM_ERR_LIMIT, SOCKS5_FAILURE, 503,
	 "HTTP/1.1 503 Service Unavailable\r\n"},
	{STREAMS_REPLY_TIMEOUT, SOCKS5_HOST_UNREACHABLE, 504,
	 "HTTP/1.1 504 Gateway Timeout\r\n"},
	{STREAMS_REPLY_FAILED, SOCKS5_FAILURE, 502,
	 "HTTP/1.1 502 Bad Gateway\r\n"},
	{STREAM_ERR_RESET, SOCKS5_FAILURE, 502, "HTTP/1.1 502 Bad Gateway\r\n"},
	{STREAM_ERR_BAD_HEADER, SOCKS5_FAILURE, 502,
	 "HTTP/1.1 502 Bad Gateway\r\n"},
	{STREAM_ERR_GONE, SOCKS5_FAILURE, 502, "HTTP/1.1 502 Bad Gateway\r\n"},
	{STREAM_ERR_IDLE, SOCKS5_FAILURE, 502, "HTTP/1.1 502 Bad Gateway\r\n"},
	/* A code from a newer peer: a general failure. */
	{99, SOCKS5_FAILURE, 502, "HTTP/1.1 502 Bad Gateway\r\n"},
};

static void each_outcome_has_its_answer(void)
{
	char out[HTTPCONNECT_REPLY_MAX];

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		CHECK_INT(streamreply_socks5(table[i].code), table[i].socks5);
		CHECK_INT(streamreply_http(table[i].code), table[i].http);
		httpconnect_reply(streamreply_http(table[i].code), out);
		CHECK(strncmp(out, table[i].line, strlen(table[i].line)) ==
		      0);
	}
}

static void refusals_close_the_http_tunnel(void)
{
	char out[HTTPCONNECT_REPLY_MAX];
	static const int codes[] = {STREAM_ERR_DENIED, STREAM_ERR_LIMIT,
				    STREAMS_REPLY_TIMEOUT};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		httpconnect_reply(streamreply_http(codes[i]), out);
		CHECK(strstr(out, "\r\nConnection: close\r\n") != NULL);
	}
}

static const struct check_case cases[] = {
	CHECK_CASE(each_outcome_has_its_answer),
	CHECK_CASE(refusals_close_the_http_tunnel),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
