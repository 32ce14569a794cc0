/* store_lock_* (the leadership lock of controller replicas) and the
 * session connections' separate DSN: real SQLite and PostgreSQL. */
#include "check.h"
#include "ctl_fixture.h"
#include "controller/store.h"
#include "shared/err.h"

#include <unistd.h>

#define KEY 77017

/* Nothing listens on port 1: a DSN to nowhere. */
#define NOWHERE "postgresql:///weft?host=127.0.0.1&port=1&connect_timeout=2"

static void one_holder_at_a_time_and_freed_when_its_session_ends(void)
{
	struct store *st = fx_store_new(NULL, NULL);
	struct store_lock *a = NULL, *b = NULL;
	int rc = 0;

	REQUIRE(st);
	if (!fx_pg()) {
		/* One process owns a SQLite database: nothing to elect. */
		CHECK(!store_lock_supported(st));
		CHECK_INT(store_lock_open(st, NULL, KEY, &a), WEFT_ERR_UNSUPPORTED);
		store_close(st);
		return;
	}
	CHECK(store_lock_supported(st));
	REQUIRE_INT(store_lock_open(st, NULL, KEY, &a), 0);
	REQUIRE_INT(store_lock_open(st, NULL, KEY, &b), 0);
	CHECK_INT(store_lock_try(a), 1);
	CHECK_INT(store_lock_try(b), 0);
	/* The holder keeps it, try after try; the other keeps waiting. */
	CHECK_INT(store_lock_try(a), 1);
	CHECK_INT(store_lock_try(b), 0);
	store_lock_close(a);
	/* The server frees it when a's session ends. */
	for (int i = 0; i < 50 && rc != 1; i++) {
		rc = store_lock_try(b);
		if (rc != 1)
			usleep(100 * 1000);
	}
	CHECK_INT(rc, 1);
	store_lock_close(b);
	store_close(st);
}

static void a_session_dsn_to_nowhere_fails_cleanly(void)
{
	struct store *st = fx_store_new(NULL, NULL);
	struct store_lock *l = NULL;
	struct store_listen *n = NULL;

	REQUIRE(st);
	if (!fx_pg()) {
		store_close(st);
		return;
	}
	CHECK_INT(store_lock_open(st, NOWHERE, KEY, &l), WEFT_ERR_DB);
	CHECK(l == NULL);
	CHECK_INT(store_listen_open(st, NOWHERE, &n), WEFT_ERR_DB);
	CHECK(n == NULL);
	/* The store's own URL still works. */
	CHECK_INT(store_listen_open(st, NULL, &n), 0);
	store_listen_close(n);
	store_close(st);
}

static const struct check_case cases[] = {
	CHECK_CASE(one_holder_at_a_time_and_freed_when_its_session_ends),
	CHECK_CASE(a_session_dsn_to_nowhere_fails_cleanly),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
