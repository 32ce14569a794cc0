/* Stream mode's proxies: SOCKS5 (`weft-agent up --socks5 127.0.0.1:1080`)
 * and HTTP CONNECT (`--http-proxy 127.0.0.1:3128`, agent/httpconnect.h).
 * CONNECT requests (agent/socks5.h) whose destination is a node's name,
 * DNS name or mesh address, or a resource (an address inside it, a DNS
 * resource's name, a name under a wildcard resource), found by the agent
 * in its map (agent/streamtarget.h), go over a QUIC stream to that port
 * on the node or on the resource's connector (agent/streams.h). A
 * destination that is neither, or a resource without a connector
 * online, gets "host unreachable"; a port the resource's filters refuse
 * "connection not allowed by ruleset"; anything but CONNECT or a client
 * without "no authentication" is refused with the matching reply. The
 * answer to a CONNECT waits for the node's or connector's open reply
 * (streams_open_reply): success once it has connected to the target,
 * else the refusal's reply code (agent/streamreply.h: not allowed by the
 * policy, connection refused, host unreachable, general failure for a
 * stream limit), then the connection is closed. A client has
 * SOCKS5_HANDSHAKE_MS for its greeting and request; the stream then has
 * STREAMS_CONNECT_MS for its connection and STREAMS_REPLY_MS for the reply.
 *
 * The HTTP proxy works the same way with HTTP's answers: 200 once the
 * target is connected, 403 denied by the policy (or the resource's
 * filters), 502 refused or no such target, 503 over a stream limit, 504
 * no connection or reply in time, 502 for a
 * destination that is no node or resource, 405 for
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
struct resclient;
struct streams;
struct streamsocks;

/* Listens on addr for SOCKS5 or (http) HTTP CONNECT clients; resources
 * go to rc's connectors (m, res borrowed: they outlive ss). Returns 0
 * and *out, or WEFT_ERR_NOMEM / -errno. */
int streamsocks_new(struct loop *l, struct streams *s, const struct map *m,
		    const struct resclient *res,
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
