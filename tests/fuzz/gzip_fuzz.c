/* Feeds arbitrary bytes to the Accept-Encoding reader (it must not crash
 * and must accept what it sees a plain "gzip" token in) and, split in
 * three at points taken from the input, to the segmented gzip writer: the
 * joined member must inflate to the input. */
#include "controller/gz.h"
#include "controller/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const uint8_t *data, size_t size)
{
	size_t a = size ? data[0] % (size + 1) : 0;
	size_t b = size > 1 ? a + data[1] % (size - a + 1) : a;
	struct gz_seg s[3];
	const struct gz_seg *parts[3] = {&s[0], &s[1], &s[2]};
	unsigned char *gz = NULL, *out = malloc(size + 1);
	size_t gzlen = 0;
	z_stream z;

	if (!out || gz_seg_make(data, a, &s[0]) != 0 ||
	    gz_seg_make(data + a, b - a, &s[1]) != 0 ||
	    gz_seg_make(data + b, size - b, &s[2]) != 0 ||
	    gz_join(parts, 3, &gz, &gzlen) != 0)
		abort();
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + 15) != Z_OK)
		abort();
	z.next_in = gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = out;
	z.avail_out = (uInt)size + 1;
	if (inflate(&z, Z_FINISH) != Z_STREAM_END || z.avail_in != 0 ||
	    z.total_out != size || memcmp(out, data, size) != 0)
		abort();
	inflateEnd(&z);
	for (int i = 0; i < 3; i++)
		gz_seg_free(&s[i]);
	free(gz);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (strcmp(text, "gzip") == 0 && !http_accepts_gzip(text))
		abort();
	(void)http_accepts_gzip(text);
	free(text);
	check_roundtrip(data, size);
	return 0;
}
