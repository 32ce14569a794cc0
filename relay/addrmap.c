/* Endpoint hash map; see addrmap.h. */
#include "relay/addrmap.h"

#include "shared/err.h"
#include "shared/rand.h"

#include <stdlib.h>
#include <string.h>

static size_t addr_len(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

/* A normalized copy: unused address bytes zeroed, so equal endpoints are
 * equal as bytes whatever the caller left in them. */
static void norm(struct ip_endpoint *d, const struct ip_endpoint *s)
{
	memset(d, 0, sizeof(*d));
	d->addr.family = s->addr.family;
	memcpy(d->addr.b, s->addr.b, addr_len(s->addr.family));
	d->port = s->port;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static size_t slot_of(const struct addrmap *m, const struct ip_endpoint *k)
{
	uint64_t a, b, h = m->seed;

	memcpy(&a, k->addr.b, 8);
	memcpy(&b, k->addr.b + 8, 8);
	h = mix(h, a);
	h = mix(h, b);
	h = mix(h, ((uint64_t)k->addr.family << 16) | k->port);
	return (size_t)h & (m->cap - 1);
}

static bool key_eq(const struct ip_endpoint *a, const struct ip_endpoint *b)
{
	return a->addr.family == b->addr.family && a->port == b->port &&
	       memcmp(a->addr.b, b->addr.b, 16) == 0;
}

void addrmap_init(struct addrmap *m)
{
	memset(m, 0, sizeof(*m));
	if (rand_u64(&m->seed) < 0)
		m->seed = (uint64_t)(uintptr_t)m;
}

void addrmap_free(struct addrmap *m)
{
	if (!m)
		return;
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

static int grow(struct addrmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 8, i;
	struct addrmap_slot *old = m->slots, *ns;
	size_t ocap = m->cap;

	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return WEFT_ERR_NOMEM;
	m->slots = ns;
	m->cap = ncap;
	for (i = 0; i < ocap; i++) {
		size_t j;

		if (!old[i].key.addr.family)
			continue;
		j = slot_of(m, &old[i].key);
		while (ns[j].key.addr.family)
			j = (j + 1) & (ncap - 1);
		ns[j] = old[i];
	}
	free(old);
	return 0;
}

void *addrmap_get(const struct addrmap *m, const struct ip_endpoint *e)
{
	struct ip_endpoint k;
	size_t i;

	if (!m->cap || (e->addr.family != 4 && e->addr.family != 6))
		return NULL;
	norm(&k, e);
	for (i = slot_of(m, &k); m->slots[i].key.addr.family;
	     i = (i + 1) & (m->cap - 1)) {
		if (key_eq(&m->slots[i].key, &k))
			return m->slots[i].val;
	}
	return NULL;
}

int addrmap_put(struct addrmap *m, const struct ip_endpoint *e, void *val)
{
	struct ip_endpoint k;
	size_t i;
	int r;

	if (!val || (e->addr.family != 4 && e->addr.family != 6))
		return WEFT_ERR_INVAL;
	norm(&k, e);
	if (m->cap) {
		for (i = slot_of(m, &k); m->slots[i].key.addr.family;
		     i = (i + 1) & (m->cap - 1)) {
			if (key_eq(&m->slots[i].key, &k)) {
				m->slots[i].val = val;
				return 0;
			}
		}
	}
	if ((m->n + 1) * 2 > m->cap) {
		r = grow(m);
		if (r < 0)
			return r;
	}
	i = slot_of(m, &k);
	while (m->slots[i].key.addr.family)
		i = (i + 1) & (m->cap - 1);
	m->slots[i].key = k;
	m->slots[i].val = val;
	m->n++;
	return 0;
}

void *addrmap_del(struct addrmap *m, const struct ip_endpoint *e)
{
	struct ip_endpoint k;
	size_t i, j, mask;
	void *val;

	if (!m->cap || (e->addr.family != 4 && e->addr.family != 6))
		return NULL;
	norm(&k, e);
	mask = m->cap - 1;
	for (i = slot_of(m, &k); m->slots[i].key.addr.family;
	     i = (i + 1) & mask) {
		if (key_eq(&m->slots[i].key, &k))
			break;
	}
	if (!m->slots[i].key.addr.family)
		return NULL;
	val = m->slots[i].val;
	/* Backward-shift deletion: pull later entries of the cluster into
	 * the hole when their home slot is not between hole and them. */
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!m->slots[j].key.addr.family)
			break;
		home = slot_of(m, &m->slots[j].key);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	memset(&m->slots[i], 0, sizeof(m->slots[i]));
	m->n--;
	return val;
}
