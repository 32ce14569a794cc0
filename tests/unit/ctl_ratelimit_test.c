/* The token buckets of the login rate limit (controller/ratelimit.h). */
#include "check.h"

#include "controller/ratelimit.h"
#include "shared/err.h"

#include <stdio.h>

static void burst_then_one_per_refill_period(void)
{
	struct ratelimit *rl = NULL;

	REQUIRE_INT(ratelimit_new(3, 10, 64, &rl), 0);
	CHECK_INT(ratelimit_check(rl, "alice", 1000), 0); /* unknown: free */
	for (int i = 0; i < 3; i++) {
		CHECK_INT(ratelimit_check(rl, "alice", 1000), 0);
		ratelimit_fail(rl, "alice", 1000);
	}
	CHECK_INT(ratelimit_check(rl, "alice", 1000), 10);
	CHECK_INT(ratelimit_check(rl, "alice", 1004), 6);
	CHECK_INT(ratelimit_check(rl, "bob", 1004), 0); /* keys apart */
	/* One token back after a period, taken by the next failure. */
	CHECK_INT(ratelimit_check(rl, "alice", 1010), 0);
	ratelimit_fail(rl, "alice", 1010);
	CHECK_INT(ratelimit_check(rl, "alice", 1011), 9);
	/* A long pause fills the bucket, never beyond its burst. */
	CHECK_INT(ratelimit_check(rl, "alice", 5000), 0);
	for (int i = 0; i < 3; i++)
		ratelimit_fail(rl, "alice", 5000);
	CHECK_INT(ratelimit_check(rl, "alice", 5000), 10);
	/* The clock going back does not refill. */
	CHECK(ratelimit_check(rl, "alice", 4000) > 0);
	ratelimit_del(rl);
}

static void a_full_table_forgets_the_stalest_key(void)
{
	struct ratelimit *rl = NULL;
	char key[32];

	REQUIRE_INT(ratelimit_new(1, 60, 4, &rl), 0);
	ratelimit_fail(rl, "old", 100);
	CHECK(ratelimit_check(rl, "old", 100) > 0);
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "new%d", i);
		ratelimit_fail(rl, key, 110 + i);
		CHECK(ratelimit_check(rl, key, 110 + i) > 0);
	}
	/* "old" was pushed out: forgiven, never wrongly limited more. */
	CHECK_INT(ratelimit_check(rl, "old", 120), 0);
	ratelimit_del(rl);
	CHECK_INT(ratelimit_new(0, 1, 1, &rl), WEFT_ERR_INVAL);
	CHECK_INT(ratelimit_new(1, 0, 1, &rl), WEFT_ERR_INVAL);
}

static const struct check_case cases[] = {
	CHECK_CASE(burst_then_one_per_refill_period),
	CHECK_CASE(a_full_table_forgets_the_stalest_key),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
