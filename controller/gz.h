/* gzip bodies (RFC 1952) assembled from independently compressed
 * segments, so that a part shared by many answers (a network map's
 * filter) is compressed once and reused.
 *
 * Each segment is a raw DEFLATE stream flushed to a byte boundary
 * (Z_SYNC_FLUSH) without a final block and without references before its
 * own start, so segments concatenate into one valid DEFLATE stream (the
 * technique of pigz); gz_join adds the header, a final empty block and the
 * trailer with the CRC-32 of the whole (combined from the segments') and
 * the length. Pure code, no I/O. */
#ifndef WEFT_GZ_H
#define WEFT_GZ_H

#include <stddef.h>
#include <stdint.h>

struct gz_seg {
	unsigned char *data; /* raw DEFLATE, byte aligned, not final */
	size_t len;
	uint32_t crc;        /* CRC-32 of the uncompressed bytes */
	size_t raw_len;      /* uncompressed length */
};

/* Compresses p[0..n) into *out. 0 or WEFT_ERR_NOMEM. */
int gz_seg_make(const void *p, size_t n, struct gz_seg *out);
void gz_seg_free(struct gz_seg *s);

/* The gzip member of segs[0..n) in order, malloc'd into *out. 0 or
 * WEFT_ERR_NOMEM. */
int gz_join(const struct gz_seg *const *segs, size_t n, unsigned char **out,
	    size_t *out_len);

#endif
