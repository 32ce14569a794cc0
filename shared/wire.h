/* Weft's own wire formats on the relay path: datagram classification on
 * the one UDP socket, Weft frames (relay frames and punch probes) and the
 * control messages carried on the QUIC control stream to the relay.
 *
 * These are pure codecs: bytes in, structs out and back, no I/O, no
 * allocation except in wire_reader_new. docs/protocol.md is the
 * specification; this header is its implementation contract.
 *
 * Decoders are strict so that every accepted message has exactly one byte
 * form: encode(decode(x)) == x for every x a decoder accepts. They reject
 * truncated input, trailing bytes, unknown types, lengths out of range,
 * node id 0 and bad address families with WEFT_ERR_PARSE. Decoded structs
 * borrow payload pointers from the input; they live as long as it. */
#ifndef WEFT_WIRE_H
#define WEFT_WIRE_H

#include "shared/ip.h"

#include <stddef.h>
#include <stdint.h>

#define WIRE_ALPN_RELAY "weft-relay/1"

#define WIRE_TXID_LEN 12          /* PROBE transaction id */
#define WIRE_PAYLOAD_MIN 1        /* RELAY_SEND/RELAY_RECV payload bytes */
#define WIRE_PAYLOAD_MAX 1400
#define WIRE_FRAME_MAX (1 + 8 + WIRE_PAYLOAD_MAX) /* largest Weft frame */

#define WIRE_MSG_HDR_LEN 3        /* type u8 + body length u16 */
#define WIRE_MSG_BODY_MAX 4096
#define WIRE_MSG_MAX (WIRE_MSG_HDR_LEN + WIRE_MSG_BODY_MAX)
#define WIRE_SIGNAL_MAX 1024      /* SIGNAL/SIGNAL_FROM payload bytes */

/* What one UDP datagram is, judged by its first bytes. */
enum wire_kind {
	WIRE_KIND_DROP = 0, /* none of the below: drop it and count it */
	WIRE_KIND_QUIC,     /* fixed bit 0x40 set in the first byte */
	WIRE_KIND_STUN,     /* first byte 0x00/0x01, >= 20 bytes, cookie;
			     * or an RFC 3489 Binding request: type 0x0001
			     * and a length field of exactly n - 20 */
	WIRE_KIND_FRAME,    /* first byte 0x30..0x3F: a Weft frame */
};

/* Weft frame types (the first byte of the datagram). */
enum wire_frame_type {
	WIRE_RELAY_SEND = 0x31,  /* client -> relay: dst node + payload */
	WIRE_RELAY_RECV = 0x32,  /* relay -> client: src node + payload */
	WIRE_PEER_GONE = 0x33,   /* relay -> client: node + reason */
	WIRE_PROBE = 0x34,       /* peer -> peer: txid + sender node */
	WIRE_PROBE_REPLY = 0x35, /* peer -> peer: txid + sender + observed */
};

/* PEER_GONE reasons (frame and control message). Decoders accept any
 * reason 1..255 so that a newer relay can add reasons; receivers treat
 * reasons they do not know like WIRE_GONE_UNKNOWN. 0 is invalid. */
enum wire_gone_reason {
	WIRE_GONE_UNKNOWN = 1,      /* the relay knows no such node */
	WIRE_GONE_OFFLINE = 2,      /* known, but not connected now */
	WIRE_GONE_RATE_LIMITED = 3, /* dropped by the sender's rate limit */
};

/* Control message types (the first byte of each message on the stream). */
enum wire_msg_type {
	WIRE_MSG_AUTH = 0x01,        /* client -> relay: JWT text */
	WIRE_MSG_AUTH_OK = 0x02,     /* relay -> client: node id + time */
	WIRE_MSG_QAD = 0x03,         /* relay -> client: observed address */
	WIRE_MSG_SIGNAL = 0x04,      /* client -> relay: dst node + payload */
	WIRE_MSG_SIGNAL_FROM = 0x05, /* relay -> client: src node + payload */
	WIRE_MSG_PEER_GONE = 0x06,   /* relay -> client: node + reason */
	WIRE_MSG_PING = 0x07,        /* either way: nonce */
	WIRE_MSG_PONG = 0x08,        /* answer to PING: the same nonce */
};

/* QUIC application error codes the relay closes the control connection
 * with (CONNECTION_CLOSE of type 0x1d). */
enum wire_close_code {
	WIRE_CLOSE_AUTH_REQUIRED = 0x100,  /* no AUTH within 5 s */
	WIRE_CLOSE_AUTH_FAILED = 0x101,    /* bad signature or claims */
	WIRE_CLOSE_TOKEN_EXPIRED = 0x102,  /* token past its exp */
	WIRE_CLOSE_PROTOCOL_ERROR = 0x103, /* malformed control message */
	WIRE_CLOSE_RATE_LIMITED = 0x104,   /* over a limit, disconnected */
	WIRE_CLOSE_SHUTTING_DOWN = 0x105,  /* relay stopping, reconnect */
	WIRE_CLOSE_REPLACED = 0x106,       /* same node connected again */
};

/* One Weft frame. Which fields mean something depends on type:
 *   RELAY_SEND   node (destination), payload/payload_len
 *   RELAY_RECV   node (source), payload/payload_len
 *   PEER_GONE    node, reason
 *   PROBE        txid, node (sender)
 *   PROBE_REPLY  txid, node (sender), addr (observed address of the probe)
 * Other fields are ignored by the encoder and zeroed by the decoder. */
struct wire_frame {
	uint8_t type; /* enum wire_frame_type */
	uint8_t reason;
	uint64_t node;
	uint8_t txid[WIRE_TXID_LEN];
	struct ip_endpoint addr;
	const uint8_t *payload; /* borrowed */
	size_t payload_len;
};

/* One control message. Which fields mean something depends on type:
 *   AUTH         data/len (token text, 1..4096 visible ASCII bytes)
 *   AUTH_OK      node (the authenticated node id), time (unix seconds)
 *   QAD          addr (the client's address as the relay sees it)
 *   SIGNAL       node (destination), data/len (1..1024 bytes)
 *   SIGNAL_FROM  node (source), data/len (1..1024 bytes)
 *   PEER_GONE    node, reason
 *   PING, PONG   nonce
 * Other fields are ignored by the encoder and zeroed by the decoder. */
struct wire_msg {
	uint8_t type; /* enum wire_msg_type */
	uint8_t reason;
	uint64_t node;
	uint64_t time;
	uint64_t nonce;
	struct ip_endpoint addr;
	const uint8_t *data; /* borrowed */
	size_t len;
};

/* Classifies one received datagram of n bytes (p may be NULL when n is
 * 0). Never fails: anything unrecognised, including an empty datagram, is
 * WIRE_KIND_DROP. A WIRE_KIND_FRAME datagram may still fail to decode. */
enum wire_kind wire_classify(const uint8_t *p, size_t n);

/* Decodes the Weft frame p[0..n) into *out, whose payload points into p.
 * Returns 0, or WEFT_ERR_PARSE (out untouched) for an unknown type,
 * truncated or trailing bytes, a payload outside 1..1400 bytes, node id
 * 0, reason 0, an address family other than 4 or 6, or port 0. */
int wire_frame_decode(const uint8_t *p, size_t n, struct wire_frame *out);

/* Encodes f into buf (cap bytes). Returns the frame length, WEFT_ERR_INVAL
 * when f is not something wire_frame_decode would accept, or
 * WEFT_ERR_TOOBIG when cap is too small. buf is untouched on failure.
 * WIRE_FRAME_MAX bytes are always enough. */
int wire_frame_encode(const struct wire_frame *f, uint8_t *buf, size_t cap);

/* Decodes exactly one control message, header included, from p[0..n)
 * into *out, whose data points into p. Returns 0, or WEFT_ERR_PARSE (out
 * untouched) for an unknown type, a length field that differs from n - 3
 * or exceeds 4096, a body of the wrong size for its type, node id 0,
 * reason 0, a bad address, or an AUTH token that is empty or holds bytes
 * outside 0x21..0x7E. */
int wire_msg_decode(const uint8_t *p, size_t n, struct wire_msg *out);

/* Encodes m, header included, into buf (cap bytes). Returns the message
 * length, WEFT_ERR_INVAL when m is not something wire_msg_decode would
 * accept, or WEFT_ERR_TOOBIG when cap is too small. buf is untouched on
 * failure. WIRE_MSG_MAX bytes are always enough. */
int wire_msg_encode(const struct wire_msg *m, uint8_t *buf, size_t cap);

/* An incremental decoder of control messages on a byte stream. It keeps
 * at most one message (WIRE_MSG_MAX bytes) buffered, whatever the peer
 * sends. Use it as:
 *
 *	while (len > 0) {
 *		size_t k = wire_reader_feed(r, p, len);
 *		p += k, len -= k;
 *		while ((rc = wire_reader_next(r, &m)) == 1)
 *			handle(&m);
 *		if (rc < 0)
 *			close with WIRE_CLOSE_PROTOCOL_ERROR;
 *	}
 */
struct wire_reader;

/* Allocates an empty reader into *out. Returns 0 or WEFT_ERR_NOMEM
 * (*out untouched). */
int wire_reader_new(struct wire_reader **out);

/* Frees r. Accepts NULL. */
void wire_reader_del(struct wire_reader *r);

/* Copies as many of the len bytes at data as the buffer has room for and
 * returns that count (0 when the buffer is full, i.e. a complete message
 * waits for wire_reader_next, or after an error). Never fails. Invalidates
 * the message last returned by wire_reader_next. */
size_t wire_reader_feed(struct wire_reader *r, const void *data, size_t len);

/* Takes the next complete message off the buffer into *out, whose data
 * points into the reader and stays valid until the next call to
 * wire_reader_feed, wire_reader_next or wire_reader_del. Returns 1 with
 * *out set, 0 when more bytes are needed, or WEFT_ERR_PARSE as soon as
 * the buffered bytes cannot start a valid message (unknown type, length
 * above 4096) or a complete message is malformed. After an error the
 * reader is dead: next keeps returning it and feed takes nothing. */
int wire_reader_next(struct wire_reader *r, struct wire_msg *out);

/* Number of bytes buffered and not yet returned as messages, e.g. to check
 * that a stream did not end inside a message. */
size_t wire_reader_pending(const struct wire_reader *r);

#endif
