/* Fuzzes jsonloc_find. Input: a path, a NUL byte, then the JSON text (no
 * NUL: the whole input is the path, with the text "{}"). Invariants: the
 * location is inside the text (line 1..lines, column 1..line length + 1);
 * the same call gives the same answer; and when jansson accepts the text
 * and the path is found, the located character starts a JSON value. */
#include "controller/jsonloc.h"
#include "shared/err.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Byte offset of (line, column), counting columns as jsonloc does; -1
 * when the text has no such place. */
static long offset_of(const char *s, size_t len, const struct jsonloc *loc)
{
	int line = 1, col = 1;

	for (size_t i = 0; i <= len; i++) {
		if (line == loc->line && col == loc->column &&
		    (i == len || ((unsigned char)s[i] & 0xc0) != 0x80))
			return (long)i;
		if (i == len)
			break;
		if (s[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)s[i] & 0xc0) != 0x80) {
			col++;
		}
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nul = memchr(data, 0, size);
	char path[256];
	const char *text = "{}";
	size_t plen = nul ? (size_t)(nul - (const char *)data) : size;
	size_t tlen = 2;
	struct jsonloc a, b;
	int rc, rc2;
	long off;

	if (plen >= sizeof(path))
		return 0;
	memcpy(path, data, plen);
	path[plen] = '\0';
	if (nul) {
		text = nul + 1;
		tlen = size - plen - 1;
	}
	rc = jsonloc_find(text, tlen, path, &a);
	if (rc != 0 && rc != WEFT_ERR_NOTFOUND)
		abort();
	rc2 = jsonloc_find(text, tlen, path, &b);
	if (rc2 != rc || a.line != b.line || a.column != b.column)
		abort();
	off = offset_of(text, tlen, &a);
	if (off < 0)
		abort();
	if (rc == 0 && path[0]) {
		json_t *root = json_loadb(text, tlen,
					  JSON_DECODE_ANY | JSON_ALLOW_NUL,
					  NULL);

		if (root && (off >= (long)tlen ||
			     !strchr("\"{[-0123456789tfn", text[off])))
			abort();
		json_decref(root);
	}
	return 0;
}
