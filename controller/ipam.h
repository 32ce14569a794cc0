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
 * Both functions must run inside a write transaction; write transactions
 * are serialized by the store, so concurrent callers never collide. */
#ifndef WEFT_IPAM_H
#define WEFT_IPAM_H

#include "controller/store.h"
#include "shared/ip.h"

#define IPAM_POOL4 "100.64.0.0/10"
#define IPAM_KEY_LAST4 "ipam.ipv4_last"
#define IPAM_KEY_ULA48 "ipam.ula48"

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

#endif
