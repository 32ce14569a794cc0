/* The map's relays: see relayset.h. */
#include "agent/relayset.h"

#include "shared/err.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Resolves "host:port" or "addr:port". */
static int relay_addr(const char *s, struct ip_endpoint *out)
{
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_DGRAM}, *ai = NULL;
	char host[256];
	const char *colon = s ? strrchr(s, ':') : NULL;
	int rc;

	if (!s)
		return WEFT_ERR_INVAL;
	if (ip_endpoint_parse(s, out) == 0)
		return 0;
	if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
		return WEFT_ERR_INVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
		return WEFT_ERR_NOTFOUND;
	rc = ip_endpoint_from_sockaddr(ai->ai_addr, ai->ai_addrlen, out);
	freeaddrinfo(ai);
	return rc;
}

int relayset_target(const struct map_relay *r, struct relayc_target *t)
{
	int rc;

	if (!r->name || !*r->name || !r->has_pin)
		return WEFT_ERR_INVAL;
	memset(t, 0, sizeof(*t));
	rc = relay_addr(r->address, &t->addr);
	if (rc < 0)
		return rc;
	snprintf(t->name, sizeof(t->name), "%s", r->name);
	memcpy(t->pin, r->pin, sizeof(t->pin));
	return 0;
}
