/* Fuzzes agent/gro: the input is a sequence of packets (2-byte length +
 * bytes) offered to the coalescer like the agent does. Invariants: a
 * packet that is not taken is refused without side effects on what is
 * held; the result of gro_finish is never longer than GRO_MAX, a GSO
 * result carries exactly the payload bytes that were taken, and its IP
 * header checksum is valid. The same input, read as one super-segment,
 * is split with a segment size from its first byte: never more segments
 * than payload bytes allow. */
#include "agent/gro.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gro g;
static size_t split_bytes;

static void on_seg(const uint8_t *seg, size_t len, void *ctx)
{
	(void)seg;
	(void)ctx;
	if (len < 40 || len > GRO_MAX)
		abort();
	split_bytes += len;
}

static void finish(size_t taken_payload)
{
	struct gro_out o;
	uint32_t s = 0;

	if (!gro_finish(&g, &o))
		return;
	if (o.len > GRO_MAX || o.len < 40)
		abort();
	if (o.gso) {
		if (o.len - o.hdr_len != taken_payload)
			abort();
		for (size_t i = 0; i < 20; i += 2)
			s += (uint32_t)(o.pkt[i] << 8 | o.pkt[i + 1]);
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		if (s != 0xffff)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, taken = 0;

	gro_init(&g);
	while (size - off >= 2) {
		size_t n = (size_t)(data[off] << 8 | data[off + 1]);
		size_t hdr;

		off += 2;
		if (n > size - off)
			n = size - off;
		if (!gro_offer(&g, data + off, n)) {
			finish(taken);
			taken = 0;
			if (gro_offer(&g, data + off, n) && n >= 40) {
				hdr = 20 + (size_t)(data[off + 32] >> 4) * 4;
				taken = n - hdr;
			}
		} else if (n >= 40) {
			hdr = 20 + (size_t)(data[off + 32] >> 4) * 4;
			taken += n - hdr;
		}
		off += n;
	}
	finish(taken);
	if (size > 1) {
		int k;

		split_bytes = 0;
		k = gro_split_tcp4(data + 1, size - 1, data[0], on_seg, NULL);
		if (k == 0 || (k > 0 && split_bytes < size - 1))
			abort();
	}
	return 0;
}
