/* Fuzzes agent/exitplan's readers of the kernel's rule and route dump
 * messages (over agent/rtnl's attribute walk): any bytes are read
 * without going past them (an exact-size copy whose nlmsg_len is the
 * size, as rtnl_dump guarantees), and whatever reads back as a rule or
 * route the agent could have made is written again and reads back
 * equal. */
#include "agent/exitplan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *h;
	struct exit_rule r, r2;
	struct exit_route rt, rt2;
	struct rtnl_req req;
	uint8_t *buf;

	if (size < sizeof(*h) || size > 65536)
		return 0;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	h = (struct nlmsghdr *)buf;
	h->nlmsg_len = (uint32_t)size;
	h->nlmsg_type = (data[4] & 1) ? RTM_NEWRULE : RTM_NEWROUTE;
	if (exitplan_parse_rule(h, &r) == 0 &&
	    exitplan_rule_msg(&req, &r, true) == 0) {
		if (exitplan_parse_rule(&req.u.h, &r2) != 0 ||
		    !exitplan_rule_eq(&r, &r2))
			abort();
	}
	if (exitplan_parse_route(h, &rt) == 0 && (rt.is_throw || rt.oif > 0) &&
	    exitplan_route_msg(&req, &rt, true) == 0) {
		if (exitplan_parse_route(&req.u.h, &rt2) != 0 ||
		    !exitplan_route_eq(&rt, &rt2))
			abort();
	}
	free(buf);
	return 0;
}
