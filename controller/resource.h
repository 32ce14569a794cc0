/* What a resource is (docs/connectors.md), as text rules shared by the
 * REST API, the hub and the network-map engine: the kinds of address and
 * their canonical form, and the filters list with its JSON form. Pure
 * code: no I/O, no store, no state.
 *
 * A resource's address is an IP address, a CIDR prefix, a DNS name
 * ("db.corp.test"), a wildcard DNS name ("*.corp.test") or the word
 * "internet" (0.0.0.0/0 and ::/0 through a connector: an exit node); its
 * type is derived from the address and never stored. */
#ifndef WEFT_RESOURCE_H
#define WEFT_RESOURCE_H

#include "controller/policy.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum resource_type {
	RESOURCE_IP,
	RESOURCE_CIDR,
	RESOURCE_DNS,
	RESOURCE_WILDCARD,
	RESOURCE_INTERNET,
};

/* The address of the internet resource. */
#define RESOURCE_INTERNET_WORD "internet"
/* Connector nodes, and connector tags, of one resource (each). */
#define RESOURCE_CONNECTORS_MAX 16
/* Longest canonical address, NUL excluded ("*." + a DNS name). */
#define RESOURCE_ADDRESS_MAX 255

/* "ip", "cidr", "dns", "wildcard" or "internet"; static. */
const char *resource_type_name(enum resource_type t);

/* Parses an address as a client wrote it into its canonical form (IP
 * addresses and prefixes as shared/ip.h formats them, names in lower
 * case) in out (cap bytes) and its type. Returns 0, or WEFT_ERR_INVAL
 * with a message for the client in msg (msglen bytes; may be NULL). */
int resource_address_parse(const char *s, char *out, size_t cap,
			   enum resource_type *type, char *msg, size_t msglen);

/* The type of a stored (canonical) address: 0 or WEFT_ERR_INVAL. */
int resource_address_type(const char *s, enum resource_type *type);

/* The prefixes traffic to a resource of type t with canonical address
 * addr is routed by, for ip/cidr/internet (ip: the /32 or /128, cidr: the
 * prefix, internet: 0.0.0.0/0 and ::/0) into out[0..2), their count into
 * *n. DNS and wildcard resources are routed by their mapped prefixes,
 * which the controller allocates (controller/ipam.h): *n = 0. Returns 0
 * or WEFT_ERR_INVAL. */
int resource_prefixes(enum resource_type t, const char *addr,
		      struct ip_prefix out[2], size_t *n);

/* Reads a filters list from a client's JSON (an array of {"protocol":
 * "tcp"|"udp"|"icmp", "ports": ["443", "8000-8100"]}; ports optional,
 * empty or absent = every port, only for tcp and udp; each protocol at
 * most once; ranges 1-65535 with lo <= hi that do not overlap; at most
 * POLICY_FILTER_PORTS_MAX ranges) into out[0..POLICY_FILTERS_MAX),
 * sorted by protocol with sorted ranges, and their count into *n. On
 * failure returns WEFT_ERR_INVAL and writes the path of the bad value
 * relative to the list ("filters[1].ports[0]", with prefix "filters")
 * into field and the reason into msg. */
int resource_filters_read(const json_t *v, const char *prefix,
			  struct policy_filter *out, size_t *n, char *field,
			  size_t fieldlen, char *msg, size_t msglen);

/* Filters as their canonical JSON array (a new reference, NULL when out
 * of memory); ports are always present, [] for every port. */
json_t *resource_filters_json(const struct policy_filter *f, size_t n);

/* Reads stored filters text (resource_filters_json's dump) into out; ""
 * is the empty list. 0 or WEFT_ERR_INVAL. */
int resource_filters_from_text(const char *text, struct policy_filter *out,
			       size_t *n);

#endif
