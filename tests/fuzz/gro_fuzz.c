/* Fuzzes agent/gro: the input is a sequence of packets (2-byte length +
 * bytes) offered to the coalescer like the agent does, IPv4 and IPv6
 * alike. Invariants: a packet that is not taken is refused without side
 * effects on what is held; the result of gro_finish is never longer than
 * GRO_MAX, a GSO result carries exactly the payload bytes that were
 * taken, is of one IP version (v6 as its header says), has a consistent
 * IP length field (and a valid IPv4 header checksum) and its TCP
 * checksum field holds the pseudo-header sum. The same input, read as
 * one super-segment, is split with a segment size from its first byte:
 * never more segments than payload bytes allow. */
#include "agent/gro.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gro g;
static size_t split_bytes;
static uint8_t scratch[GRO_MAX];

static uint32_t sum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static size_t get16(const uint8_t *p)
{
	return (size_t)(p[0] << 8 | p[1]);
}

/* IP and TCP header bytes of a packet the coalescer took. */
static size_t hdr_len(const uint8_t *p)
{
	size_t ip = p[0] >> 4 == 6 ? 40 : 20;

	return ip + (size_t)(p[ip + 12] >> 4) * 4;
}

static void on_seg(const uint8_t *seg, size_t len, void *ctx)
{
	(void)seg;
	(void)ctx;
	if (len < 40 || len > GRO_MAX)
		abort();
	split_bytes += len;
}

static void check_gso(const struct gro_out *o, size_t taken_payload)
{
	const uint8_t *p = o->pkt;
	bool v6 = p[0] >> 4 == 6;
	size_t ip = v6 ? 40 : 20;
	uint32_t s;

	if (o->len - o->hdr_len != taken_payload || o->v6 != v6 ||
	    o->csum_start != ip || o->csum_offset != 16)
		abort();
	if (v6 ? get16(p + 4) != o->len - 40
	       : get16(p + 2) != o->len || fold(sum16(p, 20)) != 0xffff)
		abort();
	s = v6 ? sum16(p + 8, 32) : sum16(p + 12, 8);
	s += 6 + (uint32_t)(o->len - ip);
	if (get16(p + ip + 16) != fold(s))
		abort();
}

static void finish(size_t taken_payload)
{
	struct gro_out o;

	if (!gro_finish(&g, &o))
		return;
	if (o.len > GRO_MAX || o.len < 40)
		abort();
	if (o.gso)
		check_gso(&o, taken_payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, taken = 0;

	gro_init(&g);
	while (size - off >= 2) {
		size_t n = get16(data + off);

		off += 2;
		if (n > size - off)
			n = size - off;
		if (!gro_offer(&g, data + off, n)) {
			finish(taken);
			taken = 0;
			if (gro_offer(&g, data + off, n))
				taken = n - hdr_len(data + off);
		} else {
			taken += n - hdr_len(data + off);
		}
		off += n;
	}
	finish(taken);
	if (size > 1) {
		int k;

		split_bytes = 0;
		k = gro_split_tcp(data + 1, size - 1, data[0], scratch,
				  sizeof(scratch), on_seg, NULL);
		if (k == 0 || (k > 0 && split_bytes < size - 1))
			abort();
	}
	return 0;
}
