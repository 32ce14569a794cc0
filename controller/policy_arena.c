/* The policy's arena: everything a parsed policy points to (rules,
 * selectors, names, tables) is allocated from one list of chunks that
 * policy_free releases at once, so the public arrays stay valid and
 * unchanged for the policy's lifetime and a parse that fails frees in one
 * step. */
#include "controller/policy_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 16384

void *policy_arena_alloc(struct arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	struct chunk *c = a->head;
	void *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - align)
		return NULL;
	n = (n + align - 1) & ~(align - 1);
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		if (cap > SIZE_MAX - sizeof(*c))
			return NULL;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

/* Zeroed room for n items of size sz. */
void *policy_arena_array(struct arena *a, size_t n, size_t sz)
{
	if (sz && n > SIZE_MAX / sz)
		return NULL;
	return policy_arena_alloc(a, n * sz);
}

char *policy_arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = policy_arena_alloc(a, n);

	if (d)
		memcpy(d, s, n);
	return d;
}

void policy_arena_free(struct arena *a)
{
	struct chunk *c = a->head, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}
