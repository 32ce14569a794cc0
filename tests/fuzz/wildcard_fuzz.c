/* Feeds arbitrary bytes to the wildcard name -> address message parser
 * (what a connector receives from clients on UDP 5746). Whatever parses
 * must hold valid lower-case names, positive ids and IPv4 addresses, and
 * build back into exactly the same bytes. */
#include "agent/wildcard.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wildcard_entry e[WILDCARD_MSG_ENTRIES];
	static uint8_t buf[WILDCARD_MSG_MAX];
	size_t n = 0;
	int rc = wildcard_msg_parse(data, size, e, &n), len;

	if (rc != 0) {
		if (rc != WEFT_ERR_PARSE)
			abort();
		return 0;
	}
	if (n == 0 || n > WILDCARD_MSG_ENTRIES)
		abort();
	for (size_t i = 0; i < n; i++)
		if (e[i].id <= 0 || e[i].addr.family != 4 ||
		    !dnswire_name_valid(e[i].name))
			abort();
	len = wildcard_msg_build(e, n, buf, sizeof(buf));
	if (len < 0 || (size_t)len != size || memcmp(buf, data, size) != 0)
		abort();
	return 0;
}
