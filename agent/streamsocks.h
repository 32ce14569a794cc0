/* Stream mode's SOCKS5 proxy (`weft-agent up --socks5 127.0.0.1:1080`):
 * CONNECT requests (agent/socks5.h) whose destination is a node's name,
 * DNS name or mesh address, resolved by the agent in its map
 * (streamfwd_resolve), go over a QUIC stream to that port on the node
 * (agent/streams.h). A destination that is no node gets "host
 * unreachable"; anything but CONNECT or a client without "no
 * authentication" is refused with the matching reply. The success reply
 * is sent as soon as the stream is handed over: a refusal by the node
 * (policy, nothing listening) then closes the connection. A client has
 * SOCKS5_HANDSHAKE_MS for its greeting and request. */
#ifndef WEFT_AGENT_STREAMSOCKS_H
#define WEFT_AGENT_STREAMSOCKS_H

#include "shared/ip.h"

#include <stdint.h>

#define SOCKS5_HANDSHAKE_MS 10000

struct loop;
struct map;
struct streams;
struct streamsocks;

/* Listens on addr. Returns 0 and *out, or WEFT_ERR_NOMEM / -errno. */
int streamsocks_new(struct loop *l, struct streams *s, const struct map *m,
		    const struct ip_endpoint *addr, struct streamsocks **out);

/* Closes the listener and the handshakes under way. NULL is fine. */
void streamsocks_del(struct streamsocks *ss);

/* Handshakes refused (bad messages, unknown names, timeouts). */
uint64_t streamsocks_refused(const struct streamsocks *ss);

#endif
