/* Feeds arbitrary bytes to the hex decoder. Whatever decodes must
 * re-encode to the input in lower case, and encoding the raw bytes must
 * decode back to them. */
#include "shared/enc.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char lower(uint8_t c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = size / 2, n = SIZE_MAX;
	uint8_t *raw = malloc(cap ? cap : 1), *back;
	char *text;
	int r;

	if (!raw)
		abort();
	r = hex_decode((const char *)data, size, raw, cap, &n);
	if (r == 0) {
		text = malloc(size + 1);
		if (!text || n != cap)
			abort();
		if (hex_encode(raw, n, text, size + 1) != (int)size)
			abort();
		for (size_t i = 0; i < size; i++)
			if (text[i] != lower(data[i]))
				abort();
		free(text);
	} else if (r != WEFT_ERR_PARSE || n != SIZE_MAX) {
		abort();
	}
	free(raw);

	text = malloc(2 * size + 1);
	back = malloc(size ? size : 1);
	if (!text || !back)
		abort();
	if (hex_encode(data, size, text, 2 * size + 1) != (int)(2 * size))
		abort();
	if (hex_encode(data, size, text, 2 * size) != WEFT_ERR_TOOBIG)
		abort();
	if (hex_decode(text, 2 * size, back, size, &n) != 0 || n != size ||
	    memcmp(back, data, size) != 0)
		abort();
	free(back);
	free(text);
	return 0;
}
