/* Fuzzes agent/ifwatch's message walk: any bytes are read without going
 * past them (an exact-size copy, so ASan sees any overread), and a buffer
 * whose first message is a well-formed address change is relevant. */
#include "agent/ifwatch.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	struct nlmsghdr h;
	bool got;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	got = ifwatch_relevant(buf, size);
	if (size >= sizeof(h)) {
		memcpy(&h, buf, sizeof(h));
		if (h.nlmsg_len >= sizeof(h) && h.nlmsg_len <= size &&
		    h.nlmsg_type == RTM_NEWADDR && !got)
			abort();
	}
	free(buf);
	return 0;
}
