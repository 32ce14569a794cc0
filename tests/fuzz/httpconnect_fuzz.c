/* Feeds arbitrary bytes to the HTTP CONNECT request parser (what a local
 * client sends stream mode's HTTP proxy). A parsed head holds a valid
 * name or address and a port and ends in an empty line; an error always
 * names a status; no prefix of a parsed head parses; every reply fits. */
#include "agent/httpconnect.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpconnect_req r;
	char reply[HTTPCONNECT_REPLY_MAX];
	int rc = httpconnect_parse(data, size, &r);

	if (rc == WEFT_ERR_PARSE) {
		if (r.status != 400 && r.status != 405 && r.status != 431)
			abort();
		if (httpconnect_reply(r.status, reply) != strlen(reply))
			abort();
		return 0;
	}
	if (rc < 0 || (size_t)rc > size || rc > HTTPCONNECT_HEAD_MAX)
		abort();
	if (rc == 0)
		return 0;
	if (r.port == 0 || !r.host[0] || strlen(r.host) > 255 ||
	    r.status != 200 || data[rc - 1] != '\n')
		abort();
	for (int i = 0; i < rc; i++)
		if (httpconnect_parse(data, (size_t)i, &r) > 0)
			abort();
	return 0;
}
