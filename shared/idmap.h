/* A hash map from positive int64 ids to pointers (open addressing, linear
 * probing, backward-shift deletion). Not thread-safe. */
#ifndef WEFT_IDMAP_H
#define WEFT_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap {
	int64_t *keys; /* 0 = empty slot */
	void **vals;
	size_t cap;    /* power of two, or 0 */
	size_t n;
};

void idmap_init(struct idmap *m);
/* Frees the table (not the values). NULL ok. */
void idmap_free(struct idmap *m);

/* The value for id, or NULL. */
void *idmap_get(const struct idmap *m, int64_t id);

/* Inserts or replaces. id must be > 0. Returns 0, WEFT_ERR_INVAL or
 * WEFT_ERR_NOMEM (the map is unchanged then). */
int idmap_put(struct idmap *m, int64_t id, void *val);

/* Removes id and returns its value (NULL when absent). */
void *idmap_del(struct idmap *m, int64_t id);

/* Iteration: for (size_t i = 0; idmap_next(m, &i, &id, &val);) ...
 * Do not insert or delete while iterating. */
int idmap_next(const struct idmap *m, size_t *pos, int64_t *id, void **val);

#endif
