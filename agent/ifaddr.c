/* Local interface addresses: see ifaddr.h. */
#include "agent/ifaddr.h"

#include "shared/err.h"
#include "shared/ip.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

bool ifaddr_usable(const char *ifname, unsigned flags,
		   const struct sockaddr *sa, const char *skip_ifname)
{
	struct ip_endpoint ep;
	socklen_t len;

	if (!sa || !(flags & IFF_UP) || (flags & IFF_LOOPBACK))
		return false;
	if (skip_ifname && ifname && strcmp(ifname, skip_ifname) == 0)
		return false;
	if (sa->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (sa->sa_family == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	else
		return false;
	if (ip_endpoint_from_sockaddr(sa, len, &ep) < 0)
		return false;
	ip_addr_unmap(&ep.addr);
	if (ip_addr_is_loopback(&ep.addr) || ip_addr_is_link_local(&ep.addr))
		return false;
	{
		static const uint8_t zero[16];

		if (memcmp(ep.addr.b, zero, sizeof(zero)) == 0)
			return false;
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ifaddr_endpoints(uint16_t port, const char *skip_ifname, json_t **out)
{
	struct ifaddrs *all = NULL;
	char text[IFADDR_MAX][IP_ENDPOINT_STRLEN];
	char *sorted[IFADDR_MAX];
	json_t *arr = NULL;
	size_t n = 0;
	int rc = 0;

	if (getifaddrs(&all) < 0)
		return -errno;
	for (struct ifaddrs *i = all; i && n < IFADDR_MAX; i = i->ifa_next) {
		struct ip_endpoint ep;
		socklen_t len;

		if (!ifaddr_usable(i->ifa_name, i->ifa_flags, i->ifa_addr,
				   skip_ifname))
			continue;
		len = i->ifa_addr->sa_family == AF_INET
			      ? sizeof(struct sockaddr_in)
			      : sizeof(struct sockaddr_in6);
		if (ip_endpoint_from_sockaddr(i->ifa_addr, len, &ep) < 0)
			continue;
		ip_addr_unmap(&ep.addr);
		ep.port = port;
		if (ip_endpoint_format(&ep, text[n], sizeof(text[n])) < 0)
			continue;
		sorted[n] = text[n];
		n++;
	}
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	arr = json_array();
	if (!arr) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
			continue;
		if (json_array_append_new(arr, json_string(sorted[i])) < 0) {
			rc = WEFT_ERR_NOMEM;
			goto out;
		}
	}
	*out = arr;
	arr = NULL;
out:
	json_decref(arr);
	freeifaddrs(all);
	return rc;
}
