/* How stream mode's proxies (agent/streamsocks.h) answer their client
 * once the stream they opened has its outcome (streams.h's open reply):
 * the SOCKS5 reply code and the HTTP status for each. Pure code.
 *
 *   outcome                          SOCKS5             HTTP
 *   STREAMS_REPLY_OK (connected)     0x00 succeeded     200
 *   STREAM_ERR_DENIED (policy)       0x02 not allowed   403
 *   STREAM_ERR_REFUSED (no listener) 0x05 refused       502
 *   STREAM_ERR_TARGET (not served)   0x04 unreachable   502
 *   STREAM_ERR_LIMIT (stream limit)  0x01 failure       503
 *   STREAMS_REPLY_TIMEOUT            0x04 unreachable   504
 *   anything else                    0x01 failure       502
 *
 * A limit is a general failure, not "connection refused": the target may
 * well listen, the agent is only out of streams for now (and curl and
 * others report 0x05 as the target's port being closed). */
#ifndef WEFT_AGENT_STREAMREPLY_H
#define WEFT_AGENT_STREAMREPLY_H

#include <stdint.h>

/* The SOCKS5 reply code (socks5.h's enum socks5_rep) for an outcome. */
uint8_t streamreply_socks5(int code);

/* The HTTP status for an outcome. */
int streamreply_http(int code);

#endif
