#include "shared/idmap.h"

#include "shared/err.h"

#include <stdlib.h>
#include <string.h>

static size_t slot(int64_t id, size_t cap)
{
	uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;

	return (size_t)(h >> 17) & (cap - 1);
}

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
	if (!m->cap || id <= 0)
		return NULL;
	for (size_t i = slot(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == id)
			return m->vals[i];
		if (m->keys[i] == 0)
			return NULL;
	}
}

static int grow(struct idmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	int64_t *keys = calloc(cap, sizeof(*keys));
	void **vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals || cap < m->cap) {
		free(keys);
		free(vals);
		return WEFT_ERR_NOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->keys[i])
			continue;
		for (j = slot(m->keys[i], cap); keys[j]; j = (j + 1) & (cap - 1))
			;
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

int idmap_put(struct idmap *m, int64_t id, void *val)
{
	size_t i;
	int rc;

	if (id <= 0)
		return WEFT_ERR_INVAL;
	/* Keep the load at most 1/2 so probe runs stay short. */
	if ((m->n + 1) * 2 > m->cap) {
		rc = grow(m);
		if (rc)
			return rc;
	}
	for (i = slot(id, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == id) {
			m->vals[i] = val;
			return 0;
		}
	}
	m->keys[i] = id;
	m->vals[i] = val;
	m->n++;
	return 0;
}

void *idmap_del(struct idmap *m, int64_t id)
{
	size_t i, j, mask;
	void *val;

	if (!m->cap || id <= 0)
		return NULL;
	mask = m->cap - 1;
	for (i = slot(id, m->cap); m->keys[i] != id; i = (i + 1) & mask)
		if (m->keys[i] == 0)
			return NULL;
	val = m->vals[i];
	m->keys[i] = 0;
	m->vals[i] = NULL;
	m->n--;
	/* Backward shift: move later entries of the run into the hole when
	 * their home slot is not between the hole and their position. */
	for (j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
		size_t home = slot(m->keys[j], m->cap);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->keys[j] = 0;
			m->vals[j] = NULL;
			i = j;
		}
	}
	return val;
}

int idmap_next(const struct idmap *m, size_t *pos, int64_t *id, void **val)
{
	for (; *pos < m->cap; (*pos)++) {
		if (m->keys[*pos]) {
			if (id)
				*id = m->keys[*pos];
			if (val)
				*val = m->vals[*pos];
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
