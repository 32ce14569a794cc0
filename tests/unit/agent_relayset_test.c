/* The home relay choice (agent/relayset.c, relayset_choose): lowest RTT,
 * no flapping, hysteresis for relays that come back. */
#include "check.h"
#include "agent/relayset.h"

#define MS 1000 /* rtt_us per ms */

static void the_lowest_rtt_wins_at_the_start(void)
{
	struct relayset_cand c[3] = {
		{.up = true, .up_since_ms = 1000, .rtt_us = 40 * MS},
		{.up = true, .up_since_ms = 1000, .rtt_us = 2 * MS},
		{.up = true, .up_since_ms = 1100, .rtt_us = 41 * MS},
	};

	/* Just started: no relay has been up for long, yet one is chosen. */
	CHECK_INT(relayset_choose(c, 3, -1, 1000, 1200), 1);
	/* and later, once they are stable, the same */
	CHECK_INT(relayset_choose(c, 3, -1, 1000, 60000), 1);
}

static void no_relay_up_means_none(void)
{
	struct relayset_cand c[2] = {{.up = false}, {.up = false}};

	CHECK_INT(relayset_choose(c, 2, -1, 0, 5000), -1);
	CHECK_INT(relayset_choose(c, 2, 0, 0, 5000), -1);
	CHECK_INT(relayset_choose(c, 0, -1, 0, 5000), -1);
}

static void a_small_difference_does_not_move_the_home(void)
{
	struct relayset_cand c[2] = {
		{.up = true, .up_since_ms = 0, .rtt_us = 10 * MS},
		{.up = true, .up_since_ms = 0, .rtt_us = 8 * MS},
	};

	/* 20 % better: stay. */
	CHECK_INT(relayset_choose(c, 2, 0, 0, 60000), 0);
	/* 30 % better but under 5 ms: stay. */
	c[0].rtt_us = 3 * MS;
	c[1].rtt_us = 1 * MS;
	CHECK_INT(relayset_choose(c, 2, 0, 0, 60000), 0);
	/* 50 % and 20 ms better, and stable: move. */
	c[0].rtt_us = 40 * MS;
	c[1].rtt_us = 20 * MS;
	CHECK_INT(relayset_choose(c, 2, 0, 0, 60000), 1);
}

static void a_dead_home_is_replaced_by_the_next_best(void)
{
	struct relayset_cand c[3] = {
		{.up = false},
		{.up = true, .up_since_ms = 0, .rtt_us = 30 * MS},
		{.up = true, .up_since_ms = 0, .rtt_us = 20 * MS},
	};

	CHECK_INT(relayset_choose(c, 3, 0, 0, 60000), 2);
}

static void a_relay_that_came_back_waits_before_it_is_used_again(void)
{
	struct relayset_cand c[2] = {
		{.up = true, .up_since_ms = 50000, .rtt_us = 2 * MS},
		{.up = true, .up_since_ms = 0, .rtt_us = 40 * MS},
	};

	/* Relay 0, much faster, came back at 50 s: not before 60 s. */
	CHECK_INT(relayset_choose(c, 2, 1, 0, 55000), 1);
	CHECK_INT(relayset_choose(c, 2, 1, 0,
				  50000 + RELAYSET_STABLE_MS - 1), 1);
	CHECK_INT(relayset_choose(c, 2, 1, 0, 50000 + RELAYSET_STABLE_MS), 0);
	/* Without a home, a fresh relay beats none, and a stable one beats
	 * a fresh faster one. */
	c[1].up = false;
	CHECK_INT(relayset_choose(c, 2, -1, 0, 55000), 0);
	c[1].up = true;
	CHECK_INT(relayset_choose(c, 2, -1, 0, 55000), 1);
}

static const struct check_case cases[] = {
	CHECK_CASE(the_lowest_rtt_wins_at_the_start),
	CHECK_CASE(no_relay_up_means_none),
	CHECK_CASE(a_small_difference_does_not_move_the_home),
	CHECK_CASE(a_dead_home_is_replaced_by_the_next_best),
	CHECK_CASE(a_relay_that_came_back_waits_before_it_is_used_again),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
