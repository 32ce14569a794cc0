/* The header at the start of every stream-mode QUIC stream (issue 18):
 * which TCP service the opening agent asks the receiving agent for.
 *
 *   version  1 byte   STREAMHDR_VERSION
 *   hostlen  1 byte   1..STREAMHDR_HOST_MAX
 *   host     hostlen  a node's mesh IP literal or a DNS name: letters,
 *                     digits, '-', '.', '_' and ':' (IPv6), nothing else
 *   port     2 bytes  big-endian, 1..65535
 *
 * The stream's TCP bytes follow at once (the opener does not wait).
 *
 * The open reply (version 2): once its connect to the target succeeds,
 * the receiver writes one status byte, STREAMHDR_REPLY_OK, on its side
 * of the stream before any byte of the target's; the opener strips it.
 * A refusal is no reply byte but a reset of the stream with one of the
 * STREAM_ERR_* application codes (the opener then resets its TCP
 * connection, or its proxy answers with the matching SOCKS5 reply or
 * HTTP status, agent/streamreply.h); any other first byte is a protocol
 * error. Version 1 had no reply: its headers are refused as unsupported
 * (STREAM_ERR_BAD_HEADER), so both agents must speak version 2.
 * Pure code, no I/O. */
#ifndef WEFT_AGENT_STREAMHDR_H
#define WEFT_AGENT_STREAMHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STREAMHDR_VERSION 2
#define STREAMHDR_HOST_MAX 253
#define STREAMHDR_MAX (2 + STREAMHDR_HOST_MAX + 2)
/* The receiver's open reply: connected to the target. */
#define STREAMHDR_REPLY_OK 0

/* Application codes of a stream reset (RESET_STREAM / STOP_SENDING). */
enum stream_err {
	STREAM_ERR_RESET = 1,     /* a TCP side was reset */
	STREAM_ERR_DENIED = 2,    /* the policy does not allow it */
	STREAM_ERR_REFUSED = 3,   /* nothing listens on the port */
	STREAM_ERR_LIMIT = 4,     /* too many streams from this peer */
	STREAM_ERR_BAD_HEADER = 5, /* malformed or unknown version */
	STREAM_ERR_TARGET = 6,    /* not a target this agent serves */
	STREAM_ERR_GONE = 7,      /* the agent is shutting the stream down */
	STREAM_ERR_IDLE = 8,      /* no byte either way for the idle timeout */
};

struct streamhdr {
	char host[STREAMHDR_HOST_MAX + 1]; /* NUL-terminated */
	uint16_t port;
};

/* Whether s[0..n) may be a header's host: 1..STREAMHDR_HOST_MAX bytes
 * of the characters above. */
bool streamhdr_host_ok(const uint8_t *s, size_t n);

/* Writes h into out (cap bytes). Returns the length, or WEFT_ERR_INVAL
 * for an empty, too long or invalid host or port 0, WEFT_ERR_TOOBIG when
 * cap is too small. */
int streamhdr_encode(const struct streamhdr *h, uint8_t *out, size_t cap);

/* Reads a header from the first len bytes of a stream. Returns the
 * header's length (the stream's data starts there) with *out filled, 0
 * when len is too short to tell yet (wait for more; a complete header is
 * never longer than STREAMHDR_MAX), WEFT_ERR_UNSUPPORTED for another
 * version, WEFT_ERR_PARSE for anything malformed. */
int streamhdr_decode(const uint8_t *p, size_t len, struct streamhdr *out);

#endif
