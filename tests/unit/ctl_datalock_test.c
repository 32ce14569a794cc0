/* controller/datalock: one serve per SQLite database file. */
#include "check.h"
#include "controller/datalock.h"
#include "shared/err.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void db_url(char *url, size_t cap, const char *name)
{
	snprintf(url, cap, "sqlite://%s/%s", check_tmpdir(), name);
}

static void a_second_taker_is_refused_with_the_holders_pid(void)
{
	struct datalock *a = NULL, *b = NULL;
	char url[600], err[600], pid[32];

	db_url(url, sizeof(url), "one.db");
	REQUIRE_INT(datalock_take(url, &a, err, sizeof(err)), 0);
	REQUIRE(a != NULL);
	/* flock belongs to the open file: a second open conflicts even in
	 * the same process, as a second serve would. */
	CHECK_INT(datalock_take(url, &b, err, sizeof(err)), WEFT_ERR_BUSY);
	CHECK(b == NULL);
	snprintf(pid, sizeof(pid), "(pid %ld)", (long)getpid());
	CHECK(strstr(err, pid) != NULL);
	CHECK(strstr(err, "one.db.serve.lock") != NULL);
	datalock_release(a);
	/* Released: the next serve may start. */
	CHECK_INT(datalock_take(url, &b, err, sizeof(err)), 0);
	CHECK(b != NULL);
	datalock_release(b);
}

static void other_databases_and_postgres_take_no_lock(void)
{
	struct datalock *a = NULL, *b = NULL, *p = (struct datalock *)1;
	char u1[600], u2[600], err[600];

	db_url(u1, sizeof(u1), "first.db");
	db_url(u2, sizeof(u2), "second.db");
	REQUIRE_INT(datalock_take(u1, &a, err, sizeof(err)), 0);
	CHECK_INT(datalock_take(u2, &b, err, sizeof(err)), 0);
	CHECK_INT(datalock_take("postgres://localhost/weft", &p, err,
				sizeof(err)), 0);
	CHECK(p == NULL);
	datalock_release(a);
	datalock_release(b);
	datalock_release(NULL);
}

static void a_lock_file_that_cannot_be_made_is_an_error(void)
{
	struct datalock *a = NULL;
	char url[600], err[600];

	snprintf(url, sizeof(url), "sqlite://%s/no/such/dir/x.db",
		 check_tmpdir());
	CHECK(datalock_take(url, &a, err, sizeof(err)) < 0);
	CHECK(a == NULL);
	CHECK(strstr(err, "cannot open lock file") != NULL);
}

static const struct check_case cases[] = {
	CHECK_CASE(a_second_taker_is_refused_with_the_holders_pid),
	CHECK_CASE(other_databases_and_postgres_take_no_lock),
	CHECK_CASE(a_lock_file_that_cannot_be_made_is_an_error),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
