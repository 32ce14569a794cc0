/* The connection-ID map: a chained hash table keyed with a per-endpoint
 * random seed, so a peer cannot pick CIDs that collide into one chain. */
#include "shared/quic_internal.h"

#include "shared/err.h"
#include "shared/rand.h"

#include <stdlib.h>
#include <string.h>

int quic_cid_gen(ngtcp2_cid *cid, size_t len)
{
	uint8_t b[NGTCP2_MAX_CIDLEN];

	if (rand_bytes(b, len) < 0)
		return WEFT_ERR_CRYPTO;
	ngtcp2_cid_init(cid, b, len);
	return 0;
}

static uint64_t cid_hash(const struct cidmap *m, const uint8_t *b, size_t n)
{
	uint64_t h = m->seed ^ 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

struct quic_conn *quic_cidmap_get(const struct cidmap *m, const uint8_t *b,
				  size_t n)
{
	struct cid_ent *e;

	if (!m->nb)
		return NULL;
	for (e = m->b[cid_hash(m, b, n) & (m->nb - 1)]; e; e = e->next)
		if (e->len == n && memcmp(e->b, b, n) == 0)
			return e->c;
	return NULL;
}

static int cidmap_grow(struct cidmap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64, i;
	struct cid_ent **b, *e, *next;

	b = calloc(nb, sizeof(*b));
	if (!b)
		return WEFT_ERR_NOMEM;
	for (i = 0; i < m->nb; i++) {
		for (e = m->b[i]; e; e = next) {
			size_t k = cid_hash(m, e->b, e->len) & (nb - 1);

			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

int quic_cidmap_put(struct cidmap *m, const ngtcp2_cid *cid,
		    struct quic_conn *c)
{
	struct cid_ent *e;
	size_t k;

	if (cid->datalen > NGTCP2_MAX_CIDLEN)
		return WEFT_ERR_INVAL;
	if (quic_cidmap_get(m, cid->data, cid->datalen))
		return WEFT_ERR_EXISTS;
	if (m->n >= m->nb && cidmap_grow(m) < 0)
		return WEFT_ERR_NOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return WEFT_ERR_NOMEM;
	e->c = c;
	e->len = (uint8_t)cid->datalen;
	memcpy(e->b, cid->data, cid->datalen);
	k = cid_hash(m, e->b, e->len) & (m->nb - 1);
	e->next = m->b[k];
	m->b[k] = e;
	m->n++;
	c->ncids++;
	return 0;
}

void quic_cidmap_del(struct cidmap *m, const uint8_t *b, size_t n,
		     const struct quic_conn *owner)
{
	struct cid_ent **pe, *e;

	if (!m->nb)
		return;
	for (pe = &m->b[cid_hash(m, b, n) & (m->nb - 1)]; (e = *pe);
	     pe = &e->next) {
		if (e->len == n && memcmp(e->b, b, n) == 0 &&
		    (!owner || e->c == owner)) {
			*pe = e->next;
			e->c->ncids--;
			free(e);
			m->n--;
			return;
		}
	}
}

void quic_cidmap_del_conn(struct cidmap *m, struct quic_conn *c)
{
	struct cid_ent **pe, *e;
	size_t i;

	for (i = 0; i < m->nb && c->ncids; i++) {
		pe = &m->b[i];
		while ((e = *pe)) {
			if (e->c == c) {
				*pe = e->next;
				free(e);
				m->n--;
				c->ncids--;
			} else {
				pe = &e->next;
			}
		}
	}
}

void quic_cidmap_free(struct cidmap *m)
{
	struct cid_ent *e, *next;
	size_t i;

	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	free(m->b);
	memset(m, 0, sizeof(*m));
}
