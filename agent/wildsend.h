/* The client's side of wildcard names (docs/connectors.md, "DNS
 * resources"): tells the connector of a wildcard resource which address
 * this client gave which name (agent/wildcard.h's message, UDP to port
 * WILDCARD_PORT of the connector's mesh IPv4 address). The message goes
 * through the TUN like any packet of this host, so it travels in the
 * connector's tunnel; UDP may lose it, so the caller sends again on every
 * answer for the name and whenever the resource's connector changes or
 * comes back. Sends only; never blocks. */
#ifndef WEFT_AGENT_WILDSEND_H
#define WEFT_AGENT_WILDSEND_H

#include "agent/map.h"
#include "agent/wildcard.h"

#include <stddef.h>

struct wildsend;

/* Returns 0 and *out, or WEFT_ERR_NOMEM. The socket is opened at the
 * first send. */
int wildsend_new(struct wildsend **out);

/* Closes the socket and frees ws. NULL is fine. */
void wildsend_del(struct wildsend *ws);

/* Sends e[0..n) to the connector to (its mesh IPv4 address), in
 * messages of up to WILDCARD_MSG_ENTRIES. Returns 0, WEFT_ERR_NOTFOUND
 * when to has no IPv4 address, or -errno of the socket (the caller
 * logs). */
int wildsend_send(struct wildsend *ws, const struct map_peer *to,
		  const struct wildcard_entry *e, size_t n);

#endif
