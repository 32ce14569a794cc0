/* Stream mode's proxies: SOCKS5 (`weft-agent up --socks5 127.0.0.1:1080`)
 * and HTTP CONNECT (`--http-proxy 127.0.0.1:3128`, agent/httpconnect.h).
 * CONNECT requests (agent/socks5.h) whose destination is a node's name,
 * DNS name or mesh address, resolved by the agent in its map
 * (streamfwd_resolve), go over a QUIC stream to that port on the node
 * (agent/streams.h). A destination that is no node gets "host
 * unreachable"; anything but CONNECT or a client without "no
 * authentication" is refused with the matching reply. The answer to a
 * CONNECT waits for the node's open reply (streams_open_reply): success
 * once the node has connected to the port, else the refusal's reply code
 * (agent/streamreply.h: not allowed by the policy, connection refused,
 * host unreachable, general failure for a stream limit), then the
 * connection is closed. A client has SOCKS5_HANDSHAKE_MS for its
 * greeting and request; the stream then has STREAMS_CONNECT_MS for its
 * connection and reply.
 *
 * The HTTP proxy works the same way with HTTP's answers: 200 once the
 * node has connected, 403 denied by the policy, 502 refused or no such
 * target, 503 over a stream limit, 504 no connection or reply within
 * STREAMS_CONNECT_MS, 502 for a destination that is no node, 405 for
 * another method, 400 for a malformed head or bytes sent before the
 * answer, 431 for a head over HTTPCONNECT_HEAD_MAX, 408 when the head is
 * not complete within SOCKS5_HANDSHAKE_MS; each refusal closes the
 * connection. */
#ifndef WEFT_AGENT_STREAMSOCKS_H
#define WEFT_AGENT_STREAMSOCKS_H

#include "shared/ip.h"

#include <stdbool.h>
#include <stdint.h>

#define SOCKS5_HANDSHAKE_MS 10000

struct loop;
struct map;
struct streams;
struct streamsocks;

/* Listens on addr for SOCKS5 or (http) HTTP CONNECT clients. Returns 0
 * and *out, or WEFT_ERR_NOMEM / -errno. */
int streamsocks_new(struct loop *l, struct streams *s, const struct map *m,
		    const struct ip_endpoint *addr, bool http,
		    struct streamsocks **out);

/* Closes the listener and the handshakes under way. NULL is fine. */
void streamsocks_del(struct streamsocks *ss);

/* Handshakes or request heads refused (bad messages, unknown names,
 * timeouts). */
uint64_t streamsocks_refused(const struct streamsocks *ss);

/* Times the listener paused for want of descriptors (agent/listenpause.h).
 * NULL ss: 0. */
uint64_t streamsocks_pauses(const struct streamsocks *ss);

#endif
