/* Receive coalescing for the TUN device (like the kernel's GRO): runs of
 * consecutive TCP/IPv4 segments of one flow that arrive from a peer
 * together are written to the TUN as one GSO packet, so the kernel's TCP
 * receive path handles one large packet instead of many small ones.
 *
 * A run: segments with the same addresses, ports, TTL, TOS, ACK number,
 * window and TCP options, flags ACK only (the last may add PSH), in
 * sequence, each payload as large as the first (the last may be
 * shorter), at most GRO_MAX bytes in all. Everything else (other
 * protocols, IPv6, IP options or fragments, SYN/FIN/RST/URG, empty
 * payloads) is never held.
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
	size_t hdr_len;    /* IP + TCP header bytes */
	size_t seg_size;   /* payload bytes of the first segment */
	unsigned nsegs;
	uint32_t next_seq; /* sequence number the next segment must have */
	bool closed;       /* the run cannot grow (short or PSH segment) */
};

/* A packet to write: a single IP packet (gso false), or a coalesced one
 * for which the writer sets a GSO header: TCP over IPv4, segment size
 * seg_size, headers hdr_len bytes, the TCP checksum field holding the
 * pseudo-header sum (checksum offload: csum_start = ip_hlen, csum_offset
 * = 16). pkt points into the gro (valid until the next call). */
struct gro_out {
	const uint8_t *pkt;
	size_t len;
	bool gso;
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

/* The other direction (TSO on the TUN's read side): splits a TCP/IPv4
 * GSO packet from the kernel (pkt, len; TCP checksum field holding the
 * pseudo-header sum) into segments of at most mss payload bytes, each a
 * complete IP packet with valid IPv4 and TCP checksums, sequence numbers
 * and flags (FIN and PSH only on the last, CWR only on the first; IP ids
 * counting up). Calls emit for each, in order, with a buffer valid for
 * the call. Returns the number of segments, or -1 when pkt is not a
 * well-formed TCP/IPv4 packet or mss is 0 (nothing emitted). */
int gro_split_tcp4(const uint8_t *pkt, size_t len, size_t mss,
		   void (*emit)(const uint8_t *seg, size_t len, void *ctx),
		   void *ctx);

#endif
