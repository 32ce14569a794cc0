/* The agent's local interface addresses as endpoint candidates for
 * POST /api/v1/endpoints. */
#ifndef WEFT_AGENT_IFADDR_H
#define WEFT_AGENT_IFADDR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct sockaddr;

/* Most endpoints reported (the controller's limit). */
#define IFADDR_MAX 32

/* Whether an address of interface ifname (with IFF_* flags) is a
 * candidate: the interface is up and not loopback, it is not skip_ifname
 * (the agent's TUN; NULL = none), and the address is IPv4 or IPv6 but not
 * loopback, link-local or unspecified. */
bool ifaddr_usable(const char *ifname, unsigned flags,
		   const struct sockaddr *sa, const char *skip_ifname);

/* Lists the candidates with port as a sorted JSON array of "addr:port" /
 * "[v6]:port" strings without duplicates, at most IFADDR_MAX. Returns 0
 * and *out (caller decrefs), -errno from getifaddrs or WEFT_ERR_NOMEM. */
int ifaddr_endpoints(uint16_t port, const char *skip_ifname, json_t **out);

#endif
