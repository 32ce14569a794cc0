/* A hash map from UDP endpoints (address + port) to pointers: how the
 * relay finds the node behind the source address of a relay frame.
 * Open addressing with linear probing and backward-shift deletion, load
 * at most 1/2, keyed with a per-map random seed so that an attacker who
 * picks source addresses cannot predict the probe sequences. Caller
 * storage: addrmap_init before use, addrmap_free after. Not thread-safe. */
#ifndef WEFT_RELAY_ADDRMAP_H
#define WEFT_RELAY_ADDRMAP_H

#include "shared/ip.h"

#include <stddef.h>
#include <stdint.h>

struct addrmap_slot {
	struct ip_endpoint key; /* family 0: empty */
	void *val;
};

struct addrmap {
	struct addrmap_slot *slots;
	size_t cap; /* power of two, or 0 */
	size_t n;
	uint64_t seed;
};

/* Empties m and draws its seed. */
void addrmap_init(struct addrmap *m);

/* Frees the table (not the values). NULL ok. */
void addrmap_free(struct addrmap *m);

/* The value for e, or NULL. Only family, the family's address bytes and
 * the port are compared. */
void *addrmap_get(const struct addrmap *m, const struct ip_endpoint *e);

/* Inserts or replaces. Returns 0, WEFT_ERR_INVAL (family not 4 or 6, NULL
 * val) or WEFT_ERR_NOMEM (m unchanged). */
int addrmap_put(struct addrmap *m, const struct ip_endpoint *e, void *val);

/* Removes e and returns its value (NULL when absent). */
void *addrmap_del(struct addrmap *m, const struct ip_endpoint *e);

#endif
