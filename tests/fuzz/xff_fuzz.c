/* Fuzzes xff_client (controller/xff.h) with untrusted X-Forwarded-For
 * headers from a trusted peer.
 *
 * Input: the header text (made NUL-terminated).
 * Invariants: no crash or over-read; the client is a valid address (it
 * formats); with an untrusted peer it is always the peer. */
#include "controller/xff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xff_trust t;
	struct ip_addr peer, other, out;
	char text[IP_ADDR_STRLEN];
	char *h = malloc(size + 1);

	if (!h)
		return 0;
	memcpy(h, data, size);
	h[size] = '\0';
	if (!t.n && (xff_trust_add(&t, "10.0.0.0/8") < 0 ||
		     xff_trust_add(&t, "fd00::/8") < 0))
		abort();
	if (ip_addr_parse("10.1.2.3", &peer) < 0 ||
	    ip_addr_parse("192.0.2.1", &other) < 0)
		abort();
	xff_client(&t, &peer, h, &out);
	if (!ip_addr_eq(&out, &peer)) {
		if (ip_addr_format(&out, text, sizeof(text)) < 0)
			abort();
	}
	xff_client(&t, &other, h, &out);
	if (!ip_addr_eq(&out, &other))
		abort();
	free(h);
	return 0;
}
