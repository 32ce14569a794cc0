/* Hash maps from positive int64 ids to values (open addressing, linear
 * probing, backward-shift deletion, load at most 1/2). Not thread-safe.
 *
 * struct idmap holds pointers; struct idmap_i64 holds int64 values (e.g.
 * versions), for when an allocation per entry would be wasteful. Both are
 * caller storage: _init before use, _free after. */
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
 * WEFT_ERR_NOMEM (the map is unchanged then). Replacing never allocates. */
int idmap_put(struct idmap *m, int64_t id, void *val);

/* Removes id and returns its value (NULL when absent). */
void *idmap_del(struct idmap *m, int64_t id);

/* Iteration: for (size_t i = 0; idmap_next(m, &i, &id, &val);) ...
 * Do not insert or delete while iterating. id and val may be NULL. */
int idmap_next(const struct idmap *m, size_t *pos, int64_t *id, void **val);

struct idmap_i64 {
	int64_t *keys; /* 0 = empty slot */
	int64_t *vals;
	size_t cap;    /* power of two, or 0 */
	size_t n;
};

void idmap_i64_init(struct idmap_i64 *m);
/* Frees the table. NULL ok. */
void idmap_i64_free(struct idmap_i64 *m);

/* A pointer to id's value, or NULL when absent. The pointer may be written
 * through and stays valid until the next put or del. */
int64_t *idmap_i64_get(const struct idmap_i64 *m, int64_t id);

/* Inserts or replaces, like idmap_put. */
int idmap_i64_put(struct idmap_i64 *m, int64_t id, int64_t val);

/* Removes id. Returns 1 when it was present, 0 when not. */
int idmap_i64_del(struct idmap_i64 *m, int64_t id);

/* Iteration as with idmap_next. */
int idmap_i64_next(const struct idmap_i64 *m, size_t *pos, int64_t *id,
		   int64_t *val);

#endif
