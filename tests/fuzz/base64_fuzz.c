/* Feeds arbitrary bytes to both base64 decoders. Whatever decodes must
 * re-encode to exactly the input (the decoders accept only canonical
 * text), and encoding the raw bytes must decode back to them. */
#include "shared/enc.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_alphabet(const uint8_t *data, size_t size, bool url)
{
	size_t cap = size / 4 * 3 + 3, n = SIZE_MAX, tlen;
	uint8_t *raw = malloc(cap ? cap : 1), *back;
	char *text;
	int r;

	if (!raw)
		abort();
	r = base64_decode((const char *)data, size, raw, cap, &n, url);
	if (r == 0) {
		if (n > cap)
			abort();
		text = malloc(size + 1);
		if (!text)
			abort();
		if (base64_encode(raw, n, text, size + 1, url) != (int)size ||
		    memcmp(text, data, size) != 0)
			abort();
		free(text);
	} else if (r != WEFT_ERR_PARSE || n != SIZE_MAX) {
		abort();
	}
	free(raw);

	tlen = base64_encoded_len(size, url);
	text = malloc(tlen + 1);
	back = malloc(size ? size : 1);
	if (!text || !back)
		abort();
	if (base64_encode(data, size, text, tlen + 1, url) != (int)tlen ||
	    strlen(text) != tlen)
		abort();
	/* One byte short must be refused, never overflowed. */
	if (base64_encode(data, size, text, tlen, url) != WEFT_ERR_TOOBIG)
		abort();
	if (base64_decode(text, tlen, back, size, &n, url) != 0 ||
	    n != size || memcmp(back, data, size) != 0)
		abort();
	free(back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_alphabet(data, size, false);
	check_alphabet(data, size, true);
	return 0;
}
