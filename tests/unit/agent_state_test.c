/* agent/state: the control-plane state machine and the retry back-off. */
#include "agent/state.h"

#include "check.h"
#include "shared/err.h"

static enum state step(enum state cur, enum state_event ev)
{
	enum state next = (enum state)-1;

	CHECK_INT(state_next(cur, ev, &next), 0);
	return next;
}

static void first_start_registers_then_syncs_then_runs(void)
{
	enum state s = STATE_DISCONNECTED;

	s = step(s, STATE_EV_CONNECT_NEW);
	CHECK_INT(s, STATE_AUTHENTICATING);
	s = step(s, STATE_EV_FAIL); /* controller not there yet: retry */
	CHECK_INT(s, STATE_AUTHENTICATING);
	s = step(s, STATE_EV_REGISTERED);
	CHECK_INT(s, STATE_SYNCING);
	s = step(s, STATE_EV_MAP);
	CHECK_INT(s, STATE_RUNNING);
	CHECK_STR(state_name(s), "running");
}

static void restart_with_credential_skips_registration(void)
{
	CHECK_INT(step(STATE_DISCONNECTED, STATE_EV_CONNECT), STATE_SYNCING);
}

static void controller_loss_reconnects_and_map_resumes_running(void)
{
	enum state s = STATE_RUNNING;

	s = step(s, STATE_EV_FAIL);
	CHECK_INT(s, STATE_RECONNECTING);
	CHECK_STR(state_name(s), "reconnecting");
	s = step(s, STATE_EV_FAIL);
	CHECK_INT(s, STATE_RECONNECTING);
	s = step(s, STATE_EV_MAP);
	CHECK_INT(s, STATE_RUNNING);
	CHECK_INT(step(STATE_SYNCING, STATE_EV_FAIL), STATE_SYNCING);
}

static void fatal_and_stop_end_in_disconnected_from_every_state(void)
{
	static const enum state live[] = {
		STATE_AUTHENTICATING, STATE_SYNCING, STATE_RUNNING,
		STATE_RECONNECTING,
	};

	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		CHECK_INT(step(live[i], STATE_EV_FATAL), STATE_DISCONNECTED);
		CHECK_INT(step(live[i], STATE_EV_STOP), STATE_DISCONNECTED);
	}
}

static void unexpected_events_are_refused(void)
{
	enum state out = STATE_RUNNING;

	CHECK_INT(state_next(STATE_DISCONNECTED, STATE_EV_MAP, &out),
		  WEFT_ERR_INVAL);
	CHECK_INT(state_next(STATE_DISCONNECTED, STATE_EV_FAIL, &out),
		  WEFT_ERR_INVAL);
	CHECK_INT(state_next(STATE_RUNNING, STATE_EV_REGISTERED, &out),
		  WEFT_ERR_INVAL);
	CHECK_INT(state_next(STATE_AUTHENTICATING, STATE_EV_MAP, &out),
		  WEFT_ERR_INVAL);
	CHECK_INT(state_next(STATE_SYNCING, STATE_EV_CONNECT, &out),
		  WEFT_ERR_INVAL);
	CHECK_INT(state_next((enum state)42, STATE_EV_STOP, &out),
		  WEFT_ERR_INVAL);
	CHECK_INT(out, STATE_RUNNING); /* untouched */
	CHECK_STR(state_name((enum state)42), "unknown");
}

static void backoff_doubles_from_one_second_up_to_thirty(void)
{
	/* With the jitter's midpoint the delays are the bare bases. */
	static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000,
				       30000, 30000};
	struct state_backoff b;

	state_backoff_init(&b, 1000, 30000);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int64_t spread = b.base_ms / 2;

		/* rnd = spread / 2 puts the jitter at +0 */
		CHECK_INT(state_backoff_next(&b, (uint64_t)(spread / 2)),
			  want[i] - want[i] / 4 + spread / 2);
	}
}

static void backoff_stays_within_bounds_for_any_jitter(void)
{
	struct state_backoff b;
	uint64_t x = 0x9e3779b97f4a7c15u;

	for (int round = 0; round < 50; round++) {
		state_backoff_init(&b, 1000, 30000);
		for (int i = 0; i < 12; i++) {
			int64_t d;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			d = state_backoff_next(&b, x);
			CHECK(d >= 1000 && d <= 30000);
			/* the n-th delay is within 25 % of its base */
			if (i == 3)
				CHECK(d >= 6000 && d <= 10000);
		}
	}
}

static void backoff_jitter_spreads_agents_apart(void)
{
	struct state_backoff a, b;
	int64_t da = 0, db = 0;

	state_backoff_init(&a, 1000, 30000);
	state_backoff_init(&b, 1000, 30000);
	for (int i = 0; i < 6; i++) {
		da = state_backoff_next(&a, 0);
		db = state_backoff_next(&b, UINT64_MAX);
	}
	/* at the cap: 22.5 s with the lowest jitter, 30 s with the highest */
	CHECK_INT(da, 22500);
	CHECK_INT(db, 30000);
}

static void backoff_reset_returns_to_the_first_delay(void)
{
	struct state_backoff b;

	state_backoff_init(&b, 1000, 30000);
	for (int i = 0; i < 10; i++)
		state_backoff_next(&b, 7);
	state_backoff_reset(&b);
	CHECK_INT(state_backoff_next(&b, 0), 1000); /* 750 clamped to 1 s */
	CHECK_INT(state_backoff_next(&b, 1000), 2000 - 500 + 1000 % 1001);
}

static const struct check_case cases[] = {
	CHECK_CASE(first_start_registers_then_syncs_then_runs),
	CHECK_CASE(restart_with_credential_skips_registration),
	CHECK_CASE(controller_loss_reconnects_and_map_resumes_running),
	CHECK_CASE(fatal_and_stop_end_in_disconnected_from_every_state),
	CHECK_CASE(unexpected_events_are_refused),
	CHECK_CASE(backoff_doubles_from_one_second_up_to_thirty),
	CHECK_CASE(backoff_stays_within_bounds_for_any_jitter),
	CHECK_CASE(backoff_jitter_spreads_agents_apart),
	CHECK_CASE(backoff_reset_returns_to_the_first_delay),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
