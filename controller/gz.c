#include "controller/gz.h"

#include "shared/err.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int gz_seg_make(const void *p, size_t n, struct gz_seg *out)
{
	z_stream z;
	size_t cap;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&z, 0, sizeof(z));
	if (n > UINT_MAX)
		return WEFT_ERR_TOOBIG;
	/* Raw DEFLATE (negative window bits): no zlib header or trailer. */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return WEFT_ERR_NOMEM;
	/* deflateBound covers Z_FINISH; a sync flush adds at most 5 bytes
	 * of empty stored block, plus slack for the block headers. */
	cap = deflateBound(&z, (uLong)n) + 16;
	out->data = malloc(cap);
	if (!out->data) {
		deflateEnd(&z);
		return WEFT_ERR_NOMEM;
	}
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = out->data;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_SYNC_FLUSH);
	if ((rc != Z_OK && rc != Z_BUF_ERROR) || z.avail_in != 0) {
		deflateEnd(&z);
		gz_seg_free(out);
		return WEFT_ERR_INTERNAL;
	}
	out->len = cap - z.avail_out;
	out->crc = (uint32_t)crc32(0L, p, (uInt)n);
	out->raw_len = n;
	deflateEnd(&z);
	return 0;
}

void gz_seg_free(struct gz_seg *s)
{
	if (!s)
		return;
	free(s->data);
	memset(s, 0, sizeof(*s));
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

int gz_join(const struct gz_seg *const *segs, size_t n, unsigned char **out,
	    size_t *out_len)
{
	/* ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=unix */
	static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0,
					      0, 3};
	/* A final, empty fixed-Huffman block: BFINAL=1 BTYPE=01 EOB. */
	static const unsigned char last[2] = {0x03, 0x00};
	size_t len = sizeof(hdr) + sizeof(last) + 8, pos;
	uint32_t crc = 0;
	uint64_t raw = 0;
	unsigned char *b;

	for (size_t i = 0; i < n; i++)
		len += segs[i]->len;
	b = malloc(len);
	if (!b)
		return WEFT_ERR_NOMEM;
	memcpy(b, hdr, sizeof(hdr));
	pos = sizeof(hdr);
	for (size_t i = 0; i < n; i++) {
		memcpy(b + pos, segs[i]->data, segs[i]->len);
		pos += segs[i]->len;
		crc = (uint32_t)crc32_combine(crc, segs[i]->crc,
					      (z_off_t)segs[i]->raw_len);
		raw += segs[i]->raw_len;
	}
	memcpy(b + pos, last, sizeof(last));
	pos += sizeof(last);
	put_le32(b + pos, crc);
	put_le32(b + pos + 4, (uint32_t)raw); /* ISIZE: length mod 2^32 */
	*out = b;
	*out_len = pos + 8;
	return 0;
}
