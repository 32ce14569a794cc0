/* SOCKS5 (RFC 1928) as stream mode's proxy speaks it: no authentication,
 * CONNECT only, addresses as IPv4, IPv6 or a domain name (which the
 * agent resolves: node names, never the client's DNS). Pure code. */
#ifndef WEFT_AGENT_SOCKS5_H
#define WEFT_AGENT_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOCKS5_GREETING_MAX (2 + 255)
#define SOCKS5_REQUEST_MAX (4 + 1 + 255 + 2)
#define SOCKS5_REPLY_LEN 10

/* Reply codes (RFC 1928 §6). */
enum socks5_rep {
	SOCKS5_OK = 0x00,
	SOCKS5_FAILURE = 0x01,
	SOCKS5_NOT_ALLOWED = 0x02,
	SOCKS5_HOST_UNREACHABLE = 0x04,
	SOCKS5_REFUSED = 0x05,
	SOCKS5_CMD_UNSUPPORTED = 0x07,
	SOCKS5_ATYP_UNSUPPORTED = 0x08,
};

struct socks5_req {
	char host[256]; /* an IP literal or a domain name, NUL-terminated */
	uint16_t port;
	uint8_t rep;    /* on an error: the reply to send before closing */
};

/* The client's greeting (VER NMETHODS METHODS...). Returns its length
 * with *noauth telling whether "no authentication" (0x00) is offered, 0
 * when more bytes are needed, WEFT_ERR_PARSE for another version or no
 * methods. */
int socks5_greeting(const uint8_t *p, size_t len, bool *noauth);

/* The request (VER CMD RSV ATYP DST.ADDR DST.PORT). Returns its length
 * with out filled, 0 when more bytes are needed, or WEFT_ERR_PARSE
 * (malformed: a bad version, reserved byte, empty or invalid name, port
 * 0) / WEFT_ERR_UNSUPPORTED (not CONNECT, unknown address type) with
 * out->rep set to the reply code. Names may hold letters, digits, '-',
 * '.' and '_' only. */
int socks5_request(const uint8_t *p, size_t len, struct socks5_req *out);

/* Writes the reply rep with bound address 0.0.0.0:0 into out. */
void socks5_reply(uint8_t rep, uint8_t out[SOCKS5_REPLY_LEN]);

#endif
