/* Both map types share one table implementation: a key array and a
 * parallel array of fixed-size values, handled here through memcpy so the
 * probing, growth and deletion code exists once. */
#include "shared/idmap.h"

#include "shared/err.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Small tables are common (a node's peers, a rule's members) and are
 * scanned whole when iterated, so they start small. */
#define MIN_CAP 8

static size_t slot(int64_t id, size_t cap)
{
	uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;

	return (size_t)(h >> 17) & (cap - 1);
}

/* The slot holding id, or the empty slot where its probe run ends. cap
 * must be non-zero. */
static size_t probe(const int64_t *keys, size_t cap, int64_t id)
{
	size_t i, mask = cap - 1;

	for (i = slot(id, cap); keys[i] && keys[i] != id; i = (i + 1) & mask)
		;
	return i;
}

static void *val_at(void *vals, size_t vsize, size_t i)
{
	return (char *)vals + i * vsize;
}

/* Rehashes into tables twice as large (MIN_CAP slots at first). On success
 * the caller frees the old arrays and takes the new ones and *cap_out. */
static int grow(const int64_t *keys, const void *vals, size_t cap,
		size_t vsize, int64_t **keys_out, void **vals_out,
		size_t *cap_out)
{
	size_t ncap = cap ? cap * 2 : MIN_CAP;
	int64_t *nkeys;
	void *nvals;

	if (ncap < cap || ncap > SIZE_MAX / (vsize > 8 ? vsize : 8))
		return WEFT_ERR_NOMEM;
	nkeys = calloc(ncap, sizeof(*nkeys));
	nvals = calloc(ncap, vsize);
	if (!nkeys || !nvals) {
		free(nkeys);
		free(nvals);
		return WEFT_ERR_NOMEM;
	}
	for (size_t i = 0; i < cap; i++) {
		size_t j;

		if (!keys[i])
			continue;
		j = probe(nkeys, ncap, keys[i]);
		nkeys[j] = keys[i];
		memcpy(val_at(nvals, vsize, j), (const char *)vals + i * vsize,
		       vsize);
	}
	*keys_out = nkeys;
	*vals_out = nvals;
	*cap_out = ncap;
	return 0;
}

/* Empties slot i and closes the hole by backward shift: later entries of
 * the run move into the hole when it lies on their probe path. */
static void remove_at(int64_t *keys, void *vals, size_t cap, size_t vsize,
		      size_t i)
{
	size_t mask = cap - 1;

	keys[i] = 0;
	memset(val_at(vals, vsize, i), 0, vsize);
	for (size_t j = (i + 1) & mask; keys[j]; j = (j + 1) & mask) {
		size_t home = slot(keys[j], cap);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			keys[i] = keys[j];
			memcpy(val_at(vals, vsize, i), val_at(vals, vsize, j),
			       vsize);
			keys[j] = 0;
			memset(val_at(vals, vsize, j), 0, vsize);
			i = j;
		}
	}
}

/* The next occupied slot at or after *pos, or false at the end. */
static bool next_slot(const int64_t *keys, size_t cap, size_t *pos,
		      size_t *i)
{
	for (; *pos < cap; (*pos)++) {
		if (keys[*pos]) {
			*i = (*pos)++;
			return true;
		}
	}
	return false;
}

/* --- pointer values --- */

void idmap_init(struct idmap *m)
{
	memset(m, 0, sizeof(*m));
}

void idmap_free(struct idmap *m)
{
	if (!m)
		return;
	free(m->keys);
	free(m->vals);
	idmap_init(m);
}

void *idmap_get(const struct idmap *m, int64_t id)
{
	size_t i;

	if (!m->cap || id <= 0)
		return NULL;
	i = probe(m->keys, m->cap, id);
	return m->keys[i] == id ? m->vals[i] : NULL;
}

int idmap_put(struct idmap *m, int64_t id, void *val)
{
	size_t i = 0, cap;
	int64_t *keys;
	void *vals;
	int rc;

	if (id <= 0)
		return WEFT_ERR_INVAL;
	if (m->cap) {
		i = probe(m->keys, m->cap, id);
		if (m->keys[i] == id) {
			m->vals[i] = val;
			return 0;
		}
	}
	if ((m->n + 1) * 2 > m->cap) {
		rc = grow(m->keys, m->vals, m->cap, sizeof(*m->vals), &keys,
			  &vals, &cap);
		if (rc)
			return rc;
		free(m->keys);
		free(m->vals);
		m->keys = keys;
		m->vals = vals;
		m->cap = cap;
		i = probe(m->keys, m->cap, id);
	}
	m->keys[i] = id;
	m->vals[i] = val;
	m->n++;
	return 0;
}

void *idmap_del(struct idmap *m, int64_t id)
{
	size_t i;
	void *val;

	if (!m->cap || id <= 0)
		return NULL;
	i = probe(m->keys, m->cap, id);
	if (m->keys[i] != id)
		return NULL;
	val = m->vals[i];
	remove_at(m->keys, m->vals, m->cap, sizeof(*m->vals), i);
	m->n--;
	return val;
}

int idmap_next(const struct idmap *m, size_t *pos, int64_t *id, void **val)
{
	size_t i;

	if (!next_slot(m->keys, m->cap, pos, &i))
		return 0;
	if (id)
		*id = m->keys[i];
	if (val)
		*val = m->vals[i];
	return 1;
}

/* --- int64 values --- */

void idmap_i64_init(struct idmap_i64 *m)
{
	memset(m, 0, sizeof(*m));
}

void idmap_i64_free(struct idmap_i64 *m)
{
	if (!m)
		return;
	free(m->keys);
	free(m->vals);
	idmap_i64_init(m);
}

int64_t *idmap_i64_get(const struct idmap_i64 *m, int64_t id)
{
	size_t i;

	if (!m->cap || id <= 0)
		return NULL;
	i = probe(m->keys, m->cap, id);
	return m->keys[i] == id ? &m->vals[i] : NULL;
}

int idmap_i64_put(struct idmap_i64 *m, int64_t id, int64_t val)
{
	size_t i = 0, cap;
	int64_t *keys;
	void *vals;
	int rc;

	if (id <= 0)
		return WEFT_ERR_INVAL;
	if (m->cap) {
		i = probe(m->keys, m->cap, id);
		if (m->keys[i] == id) {
			m->vals[i] = val;
			return 0;
		}
	}
	if ((m->n + 1) * 2 > m->cap) {
		rc = grow(m->keys, m->vals, m->cap, sizeof(*m->vals), &keys,
			  &vals, &cap);
		if (rc)
			return rc;
		free(m->keys);
		free(m->vals);
		m->keys = keys;
		m->vals = vals;
		m->cap = cap;
		i = probe(m->keys, m->cap, id);
	}
	m->keys[i] = id;
	m->vals[i] = val;
	m->n++;
	return 0;
}

int idmap_i64_del(struct idmap_i64 *m, int64_t id)
{
	size_t i;

	if (!m->cap || id <= 0)
		return 0;
	i = probe(m->keys, m->cap, id);
	if (m->keys[i] != id)
		return 0;
	remove_at(m->keys, m->vals, m->cap, sizeof(*m->vals), i);
	m->n--;
	return 1;
}

int idmap_i64_next(const struct idmap_i64 *m, size_t *pos, int64_t *id,
		   int64_t *val)
{
	size_t i;

	if (!next_slot(m->keys, m->cap, pos, &i))
		return 0;
	if (id)
		*id = m->keys[i];
	if (val)
		*val = m->vals[i];
	return 1;
}
