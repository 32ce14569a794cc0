#include "controller/cookie.h"

#include "shared/err.h"

#include <stdbool.h>
#include <string.h>

/* cookie-octet of RFC 6265 §4.1.1. */
static bool octet_ok(unsigned char ch)
{
	return ch == 0x21 || (ch >= 0x23 && ch <= 0x2b) ||
	       (ch >= 0x2d && ch <= 0x3a) || (ch >= 0x3c && ch <= 0x5b) ||
	       (ch >= 0x5d && ch <= 0x7e);
}

static int copy_value(const char *v, size_t n, char *out, size_t cap)
{
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	for (size_t i = 0; i < n; i++)
		if (!octet_ok((unsigned char)v[i]))
			return WEFT_ERR_PARSE;
	if (n >= cap)
		return WEFT_ERR_TOOBIG;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

int cookie_get(const char *header, const char *name, char *out, size_t cap)
{
	size_t nlen = name ? strlen(name) : 0;
	const char *p = header;
	int rc;

	if (!out || cap == 0)
		return WEFT_ERR_INVAL;
	out[0] = '\0';
	if (!header || nlen == 0)
		return WEFT_ERR_NOTFOUND;
	while (*p) {
		const char *end, *eq, *k, *v;
		size_t klen, vlen;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		if (!*p)
			break;
		end = p + strcspn(p, ";");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq) {
			k = p;
			klen = (size_t)(eq - p);
			while (klen && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
				klen--;
			v = eq + 1;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			vlen = (size_t)(end - v);
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (klen == nlen && memcmp(k, name, nlen) == 0) {
				rc = copy_value(v, vlen, out, cap);
				if (rc < 0)
					out[0] = '\0';
				return rc;
			}
		}
		p = end;
	}
	return WEFT_ERR_NOTFOUND;
}
