/* Fuzzes agent/signal: any payload a peer can put in a SIGNAL either
 * fails to decode or decodes to a signal that encodes back to the same
 * bytes. */
#include "agent/signal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signal s;
	uint8_t buf[SIGNAL_MAX];
	int n;

	if (signal_decode(data, size, &s) < 0)
		return 0;
	n = signal_encode(&s, buf, sizeof(buf));
	if (n < 0 || (size_t)n != size || memcmp(buf, data, size) != 0)
		abort();
	return 0;
}
