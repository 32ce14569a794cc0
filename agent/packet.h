/* IP packets as a TUN device carries them (no link header): a strict
 * parser that extracts what the packet filter and the router need, and a
 * builder for ICMP errors sent back to the local sender.
 *
 * The parser's input is untrusted (packets decapsulated from peer tunnels),
 * so it checks every length it relies on and rejects anything truncated or
 * inconsistent. It never reads past len and never allocates. */
#ifndef WEFT_AGENT_PACKET_H
#define WEFT_AGENT_PACKET_H

#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* IANA protocol numbers the data plane looks at. */
#define PACKET_PROTO_ICMP 1
#define PACKET_PROTO_TCP 6
#define PACKET_PROTO_UDP 17
#define PACKET_PROTO_ICMPV6 58

/* The IPv6 extension headers packet_parse walks before it gives up (the
 * chain is bounded so a hostile packet costs a fixed amount of work). */
#define PACKET_MAX_EXT_HEADERS 8

/* ICMP errors a reply can carry (packet_icmp_error). */
enum packet_icmp_reason {
	PACKET_ICMP_ADMIN_PROHIBITED, /* v4 3/13, v6 1/1: dropped by policy */
	PACKET_ICMP_NO_ROUTE,         /* v4 3/0 (net), v6 1/0: unroutable */
	PACKET_ICMP_TOO_BIG,          /* v4 3/4 with MTU, v6 2/0 with MTU */
};

/* The start of the packet an ICMP or ICMPv6 error quotes: the packet the
 * error's receiver sent (src is the receiver). */
struct packet_quote {
	uint8_t proto;
	struct ip_addr src;
	struct ip_addr dst;
	bool has_ports;    /* TCP/UDP */
	uint16_t sport;
	uint16_t dport;
	bool has_icmp;     /* ICMP/ICMPv6 of the quoted packet's family */
	uint8_t icmp_type;
	uint16_t icmp_id;  /* echo request/reply identifier, else 0 */
};

struct packet_info {
	uint8_t version;   /* 4 or 6 */
	uint8_t proto;     /* upper-layer protocol after IPv6 ext headers */
	struct ip_addr src;
	struct ip_addr dst;
	uint16_t l3_len;   /* IPv4 header with options, IPv6 header with
			    * extension headers: offset of the L4 header */
	uint16_t len;      /* total packet length (== the input length) */
	bool fragment;     /* part of a fragmented datagram (first or later) */
	bool later_fragment; /* fragment offset > 0: no L4 header here */
	uint32_t frag_id;  /* IPv4 identification / IPv6 fragment id */
	bool has_ports;    /* TCP/UDP with its header in this packet */
	uint16_t sport;    /* host byte order, 0 without ports */
	uint16_t dport;
	uint8_t tcp_flags; /* TCP only */
	bool has_icmp;     /* ICMP/ICMPv6 with its header in this packet */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint16_t icmp_id;  /* echo request/reply identifier, else 0 */
	/* An error (IPv4 types 3, 11, 12; ICMPv6 1-4) whose quote holds a
	 * whole IP header of the same family (IPv6: followed directly by
	 * the upper-layer header, no extension headers), not a later
	 * fragment, and 8 bytes of its upper-layer header. A quote that
	 * does not is left out; the packet still parses. */
	bool has_quote;
	struct packet_quote quote;
};

/* Parses one IPv4 or IPv6 packet p[0..len). Checks the version, header
 * length (IPv4 IHL and options), that the header's total length equals len,
 * walks IPv6 extension headers (hop-by-hop first only, routing, fragment,
 * destination options; at most PACKET_MAX_EXT_HEADERS), and reads TCP/UDP
 * ports or the ICMP type from unfragmented packets and first fragments.
 * A first fragment must carry the whole upper-layer header (RFC 7112,
 * RFC 1858), and an IPv4 TCP fragment at offset 8 is refused (RFC 1858).
 * Returns 0 with *out filled, or WEFT_ERR_PARSE (*out untouched). */
int packet_parse(const uint8_t *p, size_t len, struct packet_info *out);

/* Builds into out (cap bytes) an ICMP (IPv4) or ICMPv6 (IPv6) error for
 * the packet p[0..len) described by pi (from packet_parse of the same
 * bytes), addressed to the packet's source and sent from its destination,
 * quoting as much of the packet as fits in 576 (IPv4) or 1280 (IPv6)
 * bytes, with correct IP and ICMP checksums. mtu is used for
 * PACKET_ICMP_TOO_BIG only. Following RFC 1122 and RFC 4443 it refuses to
 * answer ICMP errors, later fragments, and packets from unspecified,
 * multicast, broadcast or loopback sources or to multicast destinations.
 * Callers rate-limit. Returns 0 with *out_len set, WEFT_ERR_INVAL when the
 * packet must not be answered or reason is unknown, WEFT_ERR_TOOBIG when
 * cap is below the reply's size (576 / 1280 is always enough). */
int packet_icmp_error(const uint8_t *p, size_t len,
		      const struct packet_info *pi,
		      enum packet_icmp_reason reason, uint16_t mtu,
		      uint8_t *out, size_t cap, size_t *out_len);

/* Builds into out (cap bytes) the TCP reset (RFC 9293 §3.10.7.1) that
 * refuses the TCP segment p[0..len) described by pi, from the segment's
 * destination back to its source: to a segment with ACK, RST with the
 * segment's acknowledgment number as sequence number; otherwise (a SYN)
 * RST+ACK acknowledging the segment (sequence + length, SYN and FIN
 * counted), so the sender's connect() fails with ECONNREFUSED. 40 bytes
 * (IPv4) or 60 (IPv6) with correct checksums. Refuses (WEFT_ERR_INVAL)
 * what is not TCP with its header, fragments, resets, and what
 * packet_icmp_error refuses to answer by address; WEFT_ERR_TOOBIG when
 * cap is too small. */
int packet_tcp_reset(const uint8_t *p, size_t len,
		     const struct packet_info *pi, uint8_t *out, size_t cap,
		     size_t *out_len);

/* Builds into out (cap bytes) an ICMP (IPv4) or ICMPv6 (IPv6) echo request
 * (reply false) or echo reply from src to dst (same family) with
 * identifier id, sequence number seq and data[0..dlen) as payload, TTL /
 * hop limit 64 and correct checksums. Returns 0 with *out_len set,
 * WEFT_ERR_INVAL for mixed or unknown families, WEFT_ERR_TOOBIG when the
 * packet would not fit cap or 65535 bytes. */
int packet_echo(const struct ip_addr *src, const struct ip_addr *dst,
		bool reply, uint16_t id, uint16_t seq, const uint8_t *data,
		size_t dlen, uint8_t *out, size_t cap, size_t *out_len);

/* RFC 1071: the one's-complement sum of p[0..n) (big-endian 16-bit
 * words, an odd last byte padded) added to sum, not folded. */
uint32_t packet_csum_add(uint32_t sum, const uint8_t *p, size_t n);

/* Folds sum to 16 bits and complements it: the checksum field's value
 * (~packet_csum_fold(s) is the folded sum itself). */
uint16_t packet_csum_fold(uint32_t sum);

#endif
