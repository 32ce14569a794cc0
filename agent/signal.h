/* Peer-to-peer signals carried through the relay (SIGNAL / SIGNAL_FROM
 * payloads) for direct paths, docs/internals/paths.md:
 *
 *   CALL  0x01 n (1..SIGNAL_EPS_MAX) endpoint*n   "call me maybe": our
 *                                                  candidates, punch now
 *   USE   0x02 endpoint                            server -> client: a probe
 *                                                  round trip to endpoint
 *                                                  worked, migrate there
 *   LOST  0x03                                     server -> client: the
 *                                                  direct path died
 *
 * endpoint = family (4 or 6), address (4 or 16 bytes), port (2 bytes, big
 * endian, non-zero). The relay authenticates the sender's node id; the
 * contents are hints only: nothing moves traffic without QUIC path
 * validation. */
#ifndef WEFT_AGENT_SIGNAL_H
#define WEFT_AGENT_SIGNAL_H

#include "shared/ip.h"

#include <stddef.h>
#include <stdint.h>

#define SIGNAL_EPS_MAX 16
#define SIGNAL_MAX (2 + SIGNAL_EPS_MAX * 19)

enum signal_type {
	SIGNAL_CALL = 0x01,
	SIGNAL_USE = 0x02,
	SIGNAL_LOST = 0x03,
};

struct signal {
	uint8_t type;  /* enum signal_type */
	size_t n;      /* CALL: endpoints in eps; USE: 1; LOST: 0 */
	struct ip_endpoint eps[SIGNAL_EPS_MAX];
};

/* Encodes s into buf (cap bytes; SIGNAL_MAX always suffices). Returns the
 * length, or WEFT_ERR_INVAL (unknown type, bad count or endpoint) /
 * WEFT_ERR_TOOBIG. */
int signal_encode(const struct signal *s, uint8_t *buf, size_t cap);

/* Decodes p[0..n) into *out. Returns 0, or WEFT_ERR_PARSE for an unknown
 * type, a count outside 1..SIGNAL_EPS_MAX, a bad family, port 0, or
 * truncated or trailing bytes (*out is then unspecified). */
int signal_decode(const uint8_t *p, size_t n, struct signal *out);

#endif
