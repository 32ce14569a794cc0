/* Interface and address changes from the kernel (rtnetlink multicast
 * groups for links and IPv4/IPv6 addresses), so the agent republishes its
 * endpoint candidates when they change instead of at its next poll. */
#ifndef WEFT_AGENT_IFWATCH_H
#define WEFT_AGENT_IFWATCH_H

#include "shared/loop.h"

#include <stdbool.h>
#include <stddef.h>

struct ifwatch;

/* Called once per batch of messages that held a change. */
typedef void ifwatch_fn(void *ctx);

/* Subscribes to the changes and watches them from l. Returns 0 and *out,
 * -errno (socket, bind) or WEFT_ERR_NOMEM. */
int ifwatch_new(struct loop *l, ifwatch_fn *cb, void *ctx,
		struct ifwatch **out);
void ifwatch_del(struct ifwatch *w);

/* Whether buf (len bytes from one read of an rtnetlink socket) holds a
 * link or address message (RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR,
 * RTM_DELADDR). Pure; stops at the first header that is too short or
 * runs past len. */
bool ifwatch_relevant(const void *buf, size_t len);

#endif
