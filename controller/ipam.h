/* Mesh address allocation for nodes.
 *
 * IPv4 addresses come from the CGNAT range 100.64.0.0/10: the next free one
 * after the last address handed out (kept in the setting "ipam.ipv4_last"),
 * wrapping at the end of the pool, so an address freed by a deleted node
 * is reused only after the pool has wrapped. IPv6 addresses are the
 * deployment's ULA /48 (RFC 4193, chosen at random on first use and kept in
 * the setting "ipam.ula48") with the IPv4 address in the low 32 bits, so
 * the two are unique together.
 *
 * The mapped range 100.96.0.0/12 (and <ula48>:ffff::/64) is reserved for
 * resources and never given to a node: DNS resources get one address from
 * 100.96.0.0/14, wildcard resources one /24 from 100.104.0.0/13
 * (100.100.0.0/14 stays free for services such as a DNS stub at
 * 100.100.100.100), each with the IPv6 twin that has the IPv4 address in
 * its low 32 bits inside <ula48>:ffff::/64 (a /128, a /120).
 *
 * All functions must run inside a write transaction; write transactions
 * are serialized by the store, so concurrent callers never collide. */
#ifndef WEFT_IPAM_H
#define WEFT_IPAM_H

#include "controller/store.h"
#include "shared/ip.h"

#define IPAM_POOL4 "100.64.0.0/10"
#define IPAM_KEY_LAST4 "ipam.ipv4_last"
#define IPAM_KEY_ULA48 "ipam.ula48"
#define IPAM_MAPPED4 "100.96.0.0/12"     /* reserved: never a node's */
#define IPAM_MAPPED4_DNS "100.96.0.0/14"  /* /32 per DNS resource */
#define IPAM_MAPPED4_WILD "100.104.0.0/13" /* /24 per wildcard resource */
#define IPAM_MAPPED6_SUBNET 0xffff        /* <ula48>:ffff::/64 */

/* Picks a free address pair for a new node and records the IPv4 address as
 * the last one handed out. The caller stores them on the node in the same
 * transaction. Returns 0, WEFT_ERR_EXHAUSTED when every pool address is in
 * use, WEFT_ERR_INTERNAL when a stored setting is corrupt, or a store
 * error; ipv4/ipv6 are untouched on failure. */
int ipam_assign(struct store_tx *tx, char ipv4[STORE_IP_SIZE],
		char ipv6[STORE_IP_SIZE]);

/* The deployment's ULA /48 (fdXX:XXXX:XXXX::/48), created and stored on
 * first use. Returns 0, WEFT_ERR_INTERNAL for a corrupt setting, or a
 * store/random-source error; *out is untouched on failure. */
int ipam_ula48(struct store_tx *tx, struct ip_prefix *out);

/* Is a (IPv4) inside the reserved mapped range? */
bool ipam_is_mapped4(const struct ip_addr *a);

/* Gives resource r (a DNS or wildcard resource, by r->address) its mapped
 * prefixes when it has none or has ones of the other kind (an edit from
 * DNS to wildcard): the lowest free /32 (+/128) or /24 (+/120) not held
 * by another resource (nor, for a /32, by a node). Clears them for any
 * other type. Keeps them when they fit, so they stay stable across
 * edits; a deleted resource's prefixes are free again. Returns 0,
 * WEFT_ERR_EXHAUSTED when the range is full, or a store error; r is
 * written only on success. */
int ipam_resource_map(struct store_tx *tx, struct store_resource *r);

/* Maps every DNS and wildcard resource that has no mapped prefixes yet
 * (rows converted by migration 006) and records a netmap change for each;
 * *n (may be NULL) gets how many. */
int ipam_resource_backfill(struct store_tx *tx, int *n);

#endif
