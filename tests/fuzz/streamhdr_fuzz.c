/* Feeds arbitrary bytes to the stream-mode header parser (the first
 * bytes of every QUIC stream a peer opens to us). What parses must hold
 * a valid host and port and encode back into exactly the bytes it was
 * read from; too short must stay "wait" for every prefix of it; any
 * other version (1, without the open reply, included) is unsupported
 * from its first byte. */
#include "agent/streamhdr.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct streamhdr h, h2;
	uint8_t buf[STREAMHDR_MAX];
	int rc = streamhdr_decode(data, size, &h), n;

	if (size && (data[0] != STREAMHDR_VERSION) !=
			    (rc == WEFT_ERR_UNSUPPORTED))
		abort();
	if (rc == 0 || rc == WEFT_ERR_PARSE || rc == WEFT_ERR_UNSUPPORTED)
		return 0;
	if (rc < 4 || (size_t)rc > size || rc > STREAMHDR_MAX || h.port == 0)
		abort();
	n = streamhdr_encode(&h, buf, sizeof(buf));
	if (n != rc || memcmp(buf, data, (size_t)n) != 0)
		abort();
	for (int i = 0; i < rc; i++)
		if (streamhdr_decode(data, (size_t)i, &h2) != 0)
			abort();
	return 0;
}
