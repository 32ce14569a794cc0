#include "controller/gz.h"

#include "shared/err.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* One raw DEFLATE stream per thread, reset between segments: making one
 * allocates and clears ~270 KB, which cost more than compressing the few
 * hundred bytes of a map answer's own part. Freed when its thread ends. */
static pthread_key_t z_key;
static pthread_once_t z_once = PTHREAD_ONCE_INIT;
static bool z_key_ok;

static void z_free(void *v)
{
	deflateEnd(v);
	free(v);
}

static void z_key_make(void)
{
	z_key_ok = pthread_key_create(&z_key, z_free) == 0;
}

static z_stream *thread_stream(void)
{
	z_stream *z;

	if (pthread_once(&z_once, z_key_make) != 0 || !z_key_ok)
		return NULL;
	z = pthread_getspecific(z_key);
	if (z)
		return deflateReset(z) == Z_OK ? z : NULL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	/* Raw DEFLATE (negative window bits): no zlib header or trailer. */
	if (deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		return NULL;
	}
	if (pthread_setspecific(z_key, z) != 0) {
		z_free(z);
		return NULL;
	}
	return z;
}

/* Up to this many bytes a segment is stored, not compressed: building
 * the Huffman trees of a block costs more than the few bytes it would
 * save (a map answer's own part around its shared filter is mostly a
 * few hundred bytes). */
#define GZ_STORE_MAX 1024

/* p[0..n) as one stored, non-final block (RFC 1951 3.2.4): BFINAL=0,
 * BTYPE=00 padded to a byte, LEN and its complement NLEN, the bytes. */
static int stored(const void *p, size_t n, struct gz_seg *out)
{
	out->data = malloc(n + 5);
	if (!out->data)
		return WEFT_ERR_NOMEM;
	out->data[0] = 0;
	out->data[1] = (unsigned char)n;
	out->data[2] = (unsigned char)(n >> 8);
	out->data[3] = (unsigned char)~n;
	out->data[4] = (unsigned char)(~n >> 8);
	if (n)
		memcpy(out->data + 5, p, n);
	out->len = n + 5;
	out->crc = (uint32_t)crc32(0L, p, (uInt)n);
	out->raw_len = n;
	return 0;
}

int gz_seg_make(const void *p, size_t n, struct gz_seg *out)
{
	z_stream *z;
	size_t cap;
	int rc;

	memset(out, 0, sizeof(*out));
	if (n > UINT_MAX)
		return WEFT_ERR_TOOBIG;
	if (n <= GZ_STORE_MAX)
		return stored(p, n, out);
	if (!(z = thread_stream()))
		return WEFT_ERR_NOMEM;
	/* deflateBound covers Z_FINISH; a sync flush adds at most 5 bytes
	 * of empty stored block, plus slack for the block headers. */
	cap = deflateBound(z, (uLong)n) + 16;
	out->data = malloc(cap);
	if (!out->data)
		return WEFT_ERR_NOMEM;
	z->next_in = (Bytef *)(uintptr_t)p;
	z->avail_in = (uInt)n;
	z->next_out = out->data;
	z->avail_out = (uInt)cap;
	rc = deflate(z, Z_SYNC_FLUSH);
	if ((rc != Z_OK && rc != Z_BUF_ERROR) || z->avail_in != 0) {
		gz_seg_free(out);
		return WEFT_ERR_INTERNAL;
	}
	out->len = cap - z->avail_out;
	out->crc = (uint32_t)crc32(0L, p, (uInt)n);
	out->raw_len = n;
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
