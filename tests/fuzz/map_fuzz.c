/* Fuzzes agent/map (and agent/mapjson under it): the input is a sequence
 * of map answers separated by NUL bytes, applied in order to one map, as
 * the agent applies what GET /api/v1/map returns. Invariants: a refused
 * answer leaves the map as it was; after an accepted one the diff agrees
 * with the map (added and changed ids are peers, removed ids are not,
 * all ascending), the sorted list has every peer once in id order, the
 * map rendered as a full answer reads back into an equal map, and the
 * typed resources and serves render into JSON that reads back into the
 * same entries. */
#include "agent/map.h"
#include "agent/mapjson.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ascending(const int64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (v[i - 1] >= v[i])
			abort();
}

static void check_diff(const struct map *m, const struct map_diff *d)
{
	size_t n, i;
	const struct map_peer *const *all = map_peers(m, &n);

	ascending(d->added, d->nadded);
	ascending(d->removed, d->nremoved);
	ascending(d->changed, d->nchanged);
	for (i = 0; i < d->nadded; i++)
		if (!map_peer(m, d->added[i]))
			abort();
	for (i = 0; i < d->nchanged; i++)
		if (!map_peer(m, d->changed[i]))
			abort();
	for (i = 0; i < d->nremoved; i++)
		if (map_peer(m, d->removed[i]))
			abort();
	if (n != map_peer_count(m))
		abort();
	for (i = 0; i < n; i++)
		if ((i && all[i - 1]->id >= all[i]->id) ||
		    map_peer(m, all[i]->id) != all[i])
			abort();
}

/* Typed resources shown as JSON read back into equal entries. */
static void check_res(const struct map_res *v, size_t n, bool serves)
{
	json_t *a = mapjson_res_json(v, n, serves), *b = NULL;
	struct map_res *w = NULL;
	size_t nw = 0;

	if (!a)
		return; /* out of memory */
	if (mapjson_res(a, serves, &w, &nw, NULL, 0) == 0) {
		b = mapjson_res_json(w, nw, serves);
		if (nw != n || (b && !json_equal(a, b)))
			abort();
	} else {
		abort();
	}
	mapjson_res_free(w, nw);
	json_decref(b);
	json_decref(a);
}

/* The rendered map must read back as the same map. */
static void check_round_trip(const struct map *m)
{
	json_t *a = map_to_json(m), *b = NULL;
	struct map *m2 = NULL;

	if (!a)
		return; /* out of memory */
	if (map_new(&m2) == 0 && map_apply(m2, a, NULL, NULL, 0) == 0) {
		b = map_to_json(m2);
		if (b && !json_equal(a, b))
			abort();
	} else if (m2) {
		abort(); /* what we accepted we must accept again */
	}
	json_decref(b);
	json_decref(a);
	map_del(m2);
}

static void apply_one(struct map *m, const char *text, size_t n)
{
	json_t *j = json_loadb(text, n, 0, NULL), *before;
	struct map_diff d;
	char err[200];
	int rc;

	if (!j)
		return;
	before = map_to_json(m);
	rc = map_apply(m, j, &d, err, sizeof(err));
	if (rc == 0) {
		const struct map_res *r;
		size_t nr;

		check_diff(m, &d);
		check_round_trip(m);
		r = map_resources(m, &nr);
		check_res(r, nr, false);
		r = map_serves(m, &nr);
		check_res(r, nr, true);
	} else if (rc != WEFT_ERR_NOMEM) {
		json_t *after = map_to_json(m);

		if (before && after && !json_equal(before, after))
			abort();
		if (!map_needs_full(m) || !err[0])
			abort();
		json_decref(after);
	}
	map_diff_free(&d);
	json_decref(before);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct map *m;
	size_t start = 0;

	if (size > 1 << 16 || map_new(&m) < 0)
		return 0;
	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == 0) {
			if (i > start)
				apply_one(m, (const char *)data + start,
					  i - start);
			start = i + 1;
		}
	}
	map_del(m);
	return 0;
}
