/* The client address behind trusted reverse proxies (serve
 * --trusted-proxy): X-Forwarded-For is a network parser, its input comes
 * from any client.
 *
 * Only when the peer of the connection is a trusted proxy is the header
 * looked at. It is read from the right (the entry the nearest proxy
 * appended) to the left; the client is the first entry that is not itself
 * a trusted proxy. Entries are bare IPv4 or IPv6 addresses separated by
 * commas and blanks; anything else (ports, "unknown", garbage) ends the
 * walk and the last good address stands (the peer when there is none), so
 * a client cannot pick an arbitrary address by writing to the left of a
 * malformed entry. */
#ifndef WEFT_XFF_H
#define WEFT_XFF_H

#include "shared/ip.h"

#include <stddef.h>

#define XFF_MAX_TRUSTED 16

struct xff_trust {
	struct ip_prefix p[XFF_MAX_TRUSTED];
	size_t n;
};

/* Adds the prefix (or bare address) s to t. Returns 0, WEFT_ERR_PARSE,
 * WEFT_ERR_RANGE or WEFT_ERR_TOOBIG (more than XFF_MAX_TRUSTED). */
int xff_trust_add(struct xff_trust *t, const char *s);

/* The client of a request from peer carrying header xff (NULL = none),
 * written to *out. Never fails: without trust or header it is the peer. */
void xff_client(const struct xff_trust *t, const struct ip_addr *peer,
		const char *xff, struct ip_addr *out);

#endif
