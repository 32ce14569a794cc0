/* Feeds arbitrary bytes to the UI's request readers: the input split at
 * its first NUL (or in half) is a path and an If-None-Match value. They
 * must not crash, a 200/304 must point into the embedded table, and a
 * "*" list always matches. */
#include "controller/web.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 2);
	const char *path, *inm;
	struct web_answer a;
	size_t cut;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = s[size + 1] = '\0';
	cut = strlen(s);
	if (cut == size)
		cut = size / 2;
	s[cut] = '\0';
	path = s;
	inm = s + cut + 1;
	web_answer(path, inm, inm, &a);
	if (a.status != 200 && a.status != 304 && a.status != 404)
		abort();
	if (a.status == 304 && (a.len || !a.etag))
		abort();
	if (a.status == 200 && (!a.body || !a.len || !a.content_type))
		abort();
	if (!web_etag_matches("*", inm) || web_etag_matches(NULL, inm))
		abort();
	(void)web_etag_matches(inm, "\"abc\"");
	free(s);
	return 0;
}
