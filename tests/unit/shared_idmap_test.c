#include "check.h"
#include "shared/err.h"
#include "shared/idmap.h"

#include <stdlib.h>

static void finds_what_was_put_and_nothing_else(void)
{
	struct idmap m;
	int a = 1, b = 2;

	idmap_init(&m);
	CHECK(idmap_get(&m, 5) == NULL);
	CHECK_INT(idmap_put(&m, 5, &a), 0);
	CHECK_INT(idmap_put(&m, 7, &b), 0);
	CHECK(idmap_get(&m, 5) == &a);
	CHECK(idmap_get(&m, 7) == &b);
	CHECK(idmap_get(&m, 6) == NULL);
	CHECK_INT(idmap_put(&m, 5, &b), 0);
	CHECK(idmap_get(&m, 5) == &b);
	CHECK_INT(m.n, 2);
	CHECK_INT(idmap_put(&m, 0, &a), WEFT_ERR_INVAL);
	CHECK_INT(idmap_put(&m, -3, &a), WEFT_ERR_INVAL);
	idmap_free(&m);
}

/* Random inserts and deletes checked against a plain array, so the
 * backward-shift deletion is exercised across wrap-around and long runs. */
static void random_operations_agree_with_a_reference(void)
{
	enum { KEYS = 3000 };
	static void *ref[KEYS];
	struct idmap m;
	unsigned seed = 12345;
	size_t live = 0;

	idmap_init(&m);
	for (int step = 0; step < 200000; step++) {
		int64_t id;

		seed = seed * 1103515245u + 12345u;
		id = 1 + (int64_t)((seed >> 8) % KEYS);
		if ((seed >> 4) & 1) {
			void *v = (void *)(intptr_t)(step + 1);

			if (!ref[id - 1])
				live++;
			ref[id - 1] = v;
			REQUIRE_INT(idmap_put(&m, id, v), 0);
		} else {
			void *got = idmap_del(&m, id);

			REQUIRE(got == ref[id - 1]);
			if (got)
				live--;
			ref[id - 1] = NULL;
		}
	}
	CHECK_INT(m.n, live);
	for (int64_t id = 1; id <= KEYS; id++)
		CHECK(idmap_get(&m, id) == ref[id - 1]);
	idmap_free(&m);
}

static void iteration_visits_every_entry_once(void)
{
	struct idmap m;
	size_t pos = 0, seen = 0;
	int64_t id, sum = 0;
	void *v;

	idmap_init(&m);
	for (int64_t i = 1; i <= 100; i++)
		CHECK_INT(idmap_put(&m, i * 7, (void *)(intptr_t)i), 0);
	while (idmap_next(&m, &pos, &id, &v)) {
		seen++;
		sum += id;
		CHECK_INT((intptr_t)v * 7, id);
	}
	CHECK_INT(seen, 100);
	CHECK_INT(sum, 7 * 5050);
	idmap_free(&m);
}

static void replacing_a_value_never_grows_the_table(void)
{
	struct idmap m;
	int a = 1;
	size_t cap;

	idmap_init(&m);
	/* Eight entries fill 16 slots (after one growth) to the 1/2 load
	 * limit. */
	for (int64_t id = 1; id <= 8; id++)
		REQUIRE_INT(idmap_put(&m, id, &a), 0);
	cap = m.cap;
	CHECK_INT(idmap_put(&m, 3, NULL), 0);
	CHECK_INT(m.cap, cap);
	CHECK_INT(m.n, 8);
	CHECK(idmap_get(&m, 3) == NULL);
	CHECK_INT(idmap_put(&m, 9, &a), 0);
	CHECK(m.cap > cap);
	for (int64_t id = 1; id <= 9; id++)
		CHECK(idmap_get(&m, id) == (id == 3 ? NULL : &a));
	idmap_free(&m);
}

static void i64_map_values_are_writable_in_place(void)
{
	struct idmap_i64 m;
	int64_t *v;

	idmap_i64_init(&m);
	CHECK(idmap_i64_get(&m, 4) == NULL);
	CHECK_INT(idmap_i64_put(&m, 4, 40), 0);
	CHECK_INT(idmap_i64_put(&m, 5, 0), 0);
	v = idmap_i64_get(&m, 4);
	REQUIRE(v != NULL);
	CHECK_INT(*v, 40);
	*v = 41;
	CHECK_INT(*idmap_i64_get(&m, 4), 41);
	/* A zero value is still present. */
	REQUIRE(idmap_i64_get(&m, 5) != NULL);
	CHECK_INT(*idmap_i64_get(&m, 5), 0);
	CHECK_INT(idmap_i64_put(&m, 0, 1), WEFT_ERR_INVAL);
	CHECK_INT(idmap_i64_put(&m, -1, 1), WEFT_ERR_INVAL);
	CHECK_INT(idmap_i64_del(&m, 5), 1);
	CHECK_INT(idmap_i64_del(&m, 5), 0);
	CHECK_INT(idmap_i64_del(&m, -5), 0);
	CHECK(idmap_i64_get(&m, 5) == NULL);
	CHECK_INT(m.n, 1);
	idmap_i64_free(&m);
	idmap_i64_free(NULL);
}

static void i64_random_operations_agree_with_a_reference(void)
{
	enum { KEYS = 2000 };
	static int64_t ref[KEYS];
	static char has[KEYS];
	struct idmap_i64 m;
	unsigned seed = 777;
	size_t live = 0, pos = 0, seen = 0;
	int64_t id, val;

	idmap_i64_init(&m);
	for (int step = 0; step < 100000; step++) {
		seed = seed * 1103515245u + 12345u;
		id = 1 + (int64_t)((seed >> 8) % KEYS);
		if ((seed >> 4) & 1) {
			val = (int64_t)step - 50000;
			if (!has[id - 1])
				live++;
			has[id - 1] = 1;
			ref[id - 1] = val;
			REQUIRE_INT(idmap_i64_put(&m, id, val), 0);
		} else {
			REQUIRE_INT(idmap_i64_del(&m, id), has[id - 1]);
			if (has[id - 1])
				live--;
			has[id - 1] = 0;
		}
	}
	CHECK_INT(m.n, live);
	for (id = 1; id <= KEYS; id++) {
		int64_t *got = idmap_i64_get(&m, id);

		CHECK(!got == !has[id - 1]);
		if (got)
			CHECK_INT(*got, ref[id - 1]);
	}
	while (idmap_i64_next(&m, &pos, &id, &val)) {
		seen++;
		CHECK(has[id - 1]);
		CHECK_INT(val, ref[id - 1]);
	}
	CHECK_INT(seen, live);
	idmap_i64_free(&m);
}

static const struct check_case cases[] = {
	CHECK_CASE(finds_what_was_put_and_nothing_else),
	CHECK_CASE(random_operations_agree_with_a_reference),
	CHECK_CASE(iteration_visits_every_entry_once),
	CHECK_CASE(replacing_a_value_never_grows_the_table),
	CHECK_CASE(i64_map_values_are_writable_in_place),
	CHECK_CASE(i64_random_operations_agree_with_a_reference),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
