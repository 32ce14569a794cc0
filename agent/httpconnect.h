/* HTTP CONNECT (RFC 9110 §9.3.6) as stream mode's HTTP proxy speaks it:
 * the request head of a local client, and the proxy's replies. Only
 * CONNECT host:port is served (authority form: a name, an IPv4 literal
 * or a bracketed IPv6 literal, and a port 1-65535); the agent resolves
 * the name (node names, never the client's DNS). Strict, never guessing:
 * a request line of METHOD SP TARGET SP HTTP/1.x, header lines of a
 * token name, a colon and printable bytes, lines ending in CRLF or LF,
 * no obsolete line folding, the whole head at most HTTPCONNECT_HEAD_MAX
 * bytes. Pure code. */
#ifndef WEFT_AGENT_HTTPCONNECT_H
#define WEFT_AGENT_HTTPCONNECT_H

#include <stddef.h>
#include <stdint.h>

#define HTTPCONNECT_HEAD_MAX 8192
#define HTTPCONNECT_REPLY_MAX 256

struct httpconnect_req {
	char host[256]; /* a name or an IP literal (no brackets) */
	uint16_t port;
	int status;     /* on an error: the status to answer with */
};

/* The request head in p[0..len). Returns its length (through the empty
 * line) with out filled, 0 when more bytes are needed, or
 * WEFT_ERR_PARSE with out->status: 405 for a method other than CONNECT
 * (told as soon as the request line is complete), 431 for a head that
 * does not end within HTTPCONNECT_HEAD_MAX bytes, 400 for anything
 * malformed (told as soon as a bad byte arrives). */
int httpconnect_parse(const uint8_t *p, size_t len,
		      struct httpconnect_req *out);

/* Writes the reply with status (200 for an established tunnel, an error
 * status with a one-line text body and "Connection: close") into out
 * (HTTPCONNECT_REPLY_MAX bytes). Returns its length. */
size_t httpconnect_reply(int status, char out[HTTPCONNECT_REPLY_MAX]);

#endif
