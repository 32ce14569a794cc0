/* A growable byte buffer with a mandatory size limit.
 *
 * struct buf is a plain value type: callers may read data and len directly
 * (data[0..len) is the content) but change them only through these
 * functions. Every buffer has a maximum content size, so input from a peer
 * can never grow it without bound: an append that would pass the maximum
 * fails with WEFT_ERR_TOOBIG and leaves the buffer unchanged.
 *
 * Whenever data is non-NULL there is room for one byte past len, which
 * buf_cstr() uses for a terminating NUL. */
#ifndef WEFT_BUF_H
#define WEFT_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data; /* NULL until the first allocation */
	size_t len;    /* bytes of content */
	size_t cap;    /* bytes allocated at data */
	size_t max;    /* len never exceeds this */
};

/* Initialises an empty buffer on caller storage that may hold up to max
 * bytes of content. Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Frees the memory of b and leaves it empty with the same max, ready for
 * reuse. Accepts NULL. */
void buf_free(struct buf *b);

/* Makes room for `extra` more bytes after len without reallocating.
 * Returns 0, WEFT_ERR_TOOBIG when len + extra would pass max, or
 * WEFT_ERR_NOMEM. Content is never changed. */
int buf_reserve(struct buf *b, size_t extra);

/* Appends n bytes from p (p may be NULL when n is 0). Returns 0,
 * WEFT_ERR_TOOBIG or WEFT_ERR_NOMEM; on failure b is unchanged. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Appends the byte (unsigned char)c. Returns as buf_append. */
int buf_putc(struct buf *b, int c);

/* Appends the NUL-terminated string s (without its NUL). Returns as
 * buf_append. */
int buf_append_str(struct buf *b, const char *s);

/* Appends printf-style formatted text. Returns as buf_append, or
 * WEFT_ERR_INVAL when the format cannot be expanded; on failure the content
 * is unchanged. */
int buf_appendf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Empties b (len = 0) and keeps its memory for reuse. */
void buf_reset(struct buf *b);

/* The content as a NUL-terminated string (the NUL is not part of len).
 * Returns "" for a buffer that has no memory yet. The pointer is valid
 * until the next change to b. Content holding NUL bytes reads short. */
const char *buf_cstr(struct buf *b);

#endif
