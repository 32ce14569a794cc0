/* Receive coalescing for the TUN device (like the kernel's GRO): runs of
 * consecutive TCP segments of one flow (over IPv4 or IPv6) that arrive
 * from a peer together are written to the TUN as one GSO packet, so the
 * kernel's TCP receive path handles one large packet instead of many
 * small ones.
 *
 * A run: segments of one IP version with the same addresses, ports, TTL
 * and TOS (IPv4) or hop limit, traffic class and flow label (IPv6), ACK
 * number, window and TCP options, flags ACK only (the last may add PSH),
 * in sequence, each payload as large as the first (the last may be
 * shorter), at most GRO_MAX bytes in all. Everything else (other
 * protocols, IPv4 options or fragments, IPv6 extension headers,
 * SYN/FIN/RST/URG, empty payloads) is never held.
 *
 * Pure code: the caller writes what gro_finish produces. Packets reach
 * the coalescer only after the packet filter accepted each of them. */
#ifndef WEFT_AGENT_GRO_H
#define WEFT_AGENT_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRO_MAX 65535

struct gro {
	uint8_t buf[GRO_MAX];
	size_t len;        /* bytes in buf; 0: nothing held */
	size_t ip_len;     /* IP header bytes: 20 (IPv4) or 40 (IPv6) */
	size_t hdr_len;    /* IP + TCP header bytes */
	size_t seg_size;   /* payload bytes of the first segment */
	unsigned nsegs;
	uint32_t next_seq; /* sequence number the next segment must have */
	bool closed;       /* the run cannot grow (short or PSH segment) */
};

/* A packet to write: a single IP packet (gso false), or a coalesced one
 * for which the writer sets a GSO header: TCP over IPv6 when v6, else
 * over IPv4, segment size seg_size, headers hdr_len bytes, the TCP
 * checksum field holding the pseudo-header sum (checksum offload:
 * csum_start = the IP header's length, 20 or 40, csum_offset = 16). pkt
 * points into the gro (valid until the next call). */
struct gro_out {
	const uint8_t *pkt;
	size_t len;
	bool gso;
	bool v6;
	uint16_t seg_size, hdr_len, csum_start, csum_offset;
};

/* Initializes g (nothing held). */
void gro_init(struct gro *g);

/* Offers pkt: returns true when g took it (appended to the held run, or
 * held as the start of a new run when nothing was held). False means the
 * caller must gro_finish (write) what is held, if anything, and offer
 * the packet again, or write it as it is when gro_held is false. */
bool gro_offer(struct gro *g, const uint8_t *pkt, size_t len);

/* Whether a packet is held. */
bool gro_held(const struct gro *g);

/* Takes the held run into *out and forgets it. Returns false when nothing
 * was held. */
bool gro_finish(struct gro *g, struct gro_out *out);

/* The other direction (TSO on the TUN's read side): splits a TCP GSO
 * packet from the kernel (pkt, len; TCP checksum field holding the
 * pseudo-header sum), IPv4 or IPv6 by its version nibble, into segments
 * of at most mss payload bytes, each a complete IP packet with its own
 * IP length, sequence number, flags (FIN and PSH only on the last, CWR
 * only on the first) and full TCP checksum; IPv4 segments also get IP
 * ids counting up and a valid header checksum. Each segment is built in
 * seg (segcap bytes, the caller's scratch: headers plus mss bytes are
 * enough, GRO_MAX always) and passed to emit, in order, valid for the
 * call. Returns the number of segments; WEFT_ERR_PARSE when pkt is not a
 * well-formed TCP/IPv4 packet or TCP/IPv6 packet without extension
 * headers, WEFT_ERR_INVAL for mss 0, WEFT_ERR_TOOBIG when a segment
 * would not fit in seg (nothing emitted in each case). */
int gro_split_tcp(const uint8_t *pkt, size_t len, size_t mss,
		  uint8_t *seg, size_t segcap,
		  void (*emit)(const uint8_t *seg, size_t len, void *ctx),
		  void *ctx);

#endif
