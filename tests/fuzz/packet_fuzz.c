/* Fuzzes agent/packet: the parser on arbitrary bytes, and the ICMP error
 * builder on whatever parses. Invariants: a parsed packet's fields stay
 * inside the input; an ICMP reply parses again, goes back to the sender,
 * quotes the packet's first bytes and has valid checksums. */
#include "agent/packet.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void check_reply(const uint8_t *p, size_t n,
			const struct packet_info *pi, const uint8_t *r,
			size_t m)
{
	struct packet_info ri;
	size_t hdr = pi->version == 4 ? 28 : 48;
	uint32_t ps = 0;

	if (packet_parse(r, m, &ri) != 0 || !ri.has_icmp)
		abort();
	if (!ip_addr_eq(&ri.dst, &pi->src) || !ip_addr_eq(&ri.src, &pi->dst))
		abort();
	if (m < hdr || memcmp(r + hdr, p, m - hdr < n ? m - hdr : n) != 0)
		abort();
	/* An error about a whole-header packet quotes its flow. */
	if (ri.has_quote &&
	    (!ip_addr_eq(&ri.quote.src, &pi->src) ||
	     !ip_addr_eq(&ri.quote.dst, &pi->dst) ||
	     ri.quote.proto != pi->proto ||
	     (pi->has_ports && (ri.quote.sport != pi->sport ||
				ri.quote.dport != pi->dport))))
		abort();
	if (pi->version == 4) {
		if (m > 576 || sum(r, 20, 0) != 0xffff ||
		    sum(r + 20, m - 20, 0) != 0xffff)
			abort();
	} else {
		ps = sum(r + 8, 32, 0);
		ps += (uint32_t)(m - 40) + PACKET_PROTO_ICMPV6;
		if (m > 1280 || sum(r + 40, m - 40, ps) != 0xffff)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet_info pi;
	uint8_t *copy, reply[1280];
	size_t m = 0;
	int rc;

	/* A private copy so ASan catches reads past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	rc = packet_parse(copy, size, &pi);
	if (rc != 0 && rc != WEFT_ERR_PARSE)
		abort();
	if (rc == 0) {
		if (pi.len != size || pi.l3_len > size ||
		    (pi.version != 4 && pi.version != 6) ||
		    (pi.has_ports && pi.later_fragment) ||
		    (pi.has_icmp && pi.has_ports) ||
		    (pi.has_quote && (!pi.has_icmp ||
				      pi.quote.src.family != pi.version ||
				      pi.quote.has_ports == pi.quote.has_icmp)) ||
		    (!pi.fragment && pi.later_fragment))
			abort();
		rc = packet_icmp_error(copy, size, &pi,
				       PACKET_ICMP_ADMIN_PROHIBITED, 0, reply,
				       sizeof(reply), &m);
		if (rc == 0)
			check_reply(copy, size, &pi, reply, m);
		else if (rc != WEFT_ERR_INVAL)
			abort();
	}
	free(copy);
	return 0;
}
