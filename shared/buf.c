#include "shared/buf.h"

#include "shared/err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 32

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_free(struct buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, newcap;
	uint8_t *p;

	/* need + 1 (for the NUL) must not overflow either. */
	if (extra > b->max - b->len || b->len + extra == SIZE_MAX)
		return WEFT_ERR_TOOBIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	/* Doubling keeps appends amortised O(1); never allocate more than
	 * the limit can use. */
	newcap = b->cap > SIZE_MAX / 2 ? SIZE_MAX : b->cap * 2;
	if (newcap < BUF_MIN_CAP)
		newcap = BUF_MIN_CAP;
	if (newcap < need)
		newcap = need;
	if (b->max < SIZE_MAX && newcap > b->max + 1)
		newcap = b->max + 1;
	p = realloc(b->data, newcap);
	if (!p)
		return WEFT_ERR_NOMEM;
	b->data = p;
	b->cap = newcap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	r = buf_reserve(b, n);
	if (r < 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_putc(struct buf *b, int c)
{
	uint8_t byte = (uint8_t)c;

	return buf_append(b, &byte, 1);
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	size_t room;
	int n, r = 0;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	/* First try the space already there; vsnprintf's NUL lands in the
	 * spare byte past len, which is not content. */
	room = b->data ? b->cap - b->len : 0;
	n = vsnprintf(room ? (char *)b->data + b->len : NULL, room, fmt, ap);
	if (n < 0) {
		r = WEFT_ERR_INVAL;
		goto out;
	}
	if ((size_t)n < room) {
		b->len += (size_t)n;
		goto out;
	}
	r = buf_reserve(b, (size_t)n);
	if (r < 0)
		goto out;
	if (vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2) != n) {
		r = WEFT_ERR_INVAL;
		goto out;
	}
	b->len += (size_t)n;
out:
	va_end(ap2);
	va_end(ap);
	return r;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
}

const char *buf_cstr(struct buf *b)
{
	if (!b->data)
		return "";
	b->data[b->len] = '\0';
	return (const char *)b->data;
}
