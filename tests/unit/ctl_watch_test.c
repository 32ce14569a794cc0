/* controller/watch.c: node-list watchers without a server. Answers are
 * read back from the holds the way the server would (http_hold_take). */
#include "check.h"
#include "controller/watch.h"

#include <string.h>

/* The held answer of r, moved into out; false when there is none yet. */
static bool take(struct http_resp *r, struct http_resp *out)
{
	memset(out, 0, sizeof(*out));
	return r->hold && http_hold_take(r->hold, out);
}

static bool is_answer(const struct http_resp *r, int64_t version,
		      bool changed)
{
	json_t *c = r->json ? json_object_get(r->json, "changed") : NULL;

	return r->status == 200 && c && json_is_true(c) == changed &&
	       json_integer_value(json_object_get(r->json, "version")) ==
		       version;
}

static void done(struct http_resp *r)
{
	http_hold_unref(r->hold);
	r->hold = NULL;
	http_resp_free(r);
}

static void behind_answers_at_once_current_is_held_until_advance(void)
{
	struct watch *w = NULL;
	struct http_resp r = {0}, a;

	REQUIRE_INT(watch_new(&w), 0);
	watch_advance(w, 5);
	watch_request(w, 1, 4, 10000, 0, &r);
	CHECK(!r.hold && is_answer(&r, 5, true));
	done(&r);
	watch_request(w, 1, 5, 0, 0, &r); /* no wait: at once, unchanged */
	CHECK(!r.hold && is_answer(&r, 5, false));
	done(&r);
	watch_request(w, 1, 5, 10000, 0, &r);
	REQUIRE(r.hold);
	CHECK(!take(&r, &a));
	CHECK_INT(watch_held(w), 1);
	watch_advance(w, 5); /* not newer: nothing */
	CHECK(!take(&r, &a));
	watch_advance(w, 7);
	CHECK(take(&r, &a) && is_answer(&a, 7, true));
	CHECK_INT(watch_held(w), 0);
	http_resp_free(&a);
	done(&r);
	watch_free(w);
}

static void deadlines_answer_unchanged_and_only_when_due(void)
{
	struct watch *w = NULL;
	struct http_resp r1 = {0}, r2 = {0}, a;

	REQUIRE_INT(watch_new(&w), 0);
	watch_request(w, 1, 0, 1000, 100, &r1);
	watch_request(w, 2, 0, 5000, 100, &r2);
	REQUIRE(r1.hold && r2.hold);
	watch_expire(w, 1099);
	CHECK(!take(&r1, &a));
	watch_expire(w, 1100);
	CHECK(take(&r1, &a) && is_answer(&a, 0, false));
	http_resp_free(&a);
	CHECK(!take(&r2, &a));
	CHECK_INT(watch_held(w), 1);
	watch_expire(w, 5100);
	CHECK(take(&r2, &a) && is_answer(&a, 0, false));
	http_resp_free(&a);
	done(&r1);
	done(&r2);
	watch_free(w);
}

static void held_watches_are_bounded_per_caller(void)
{
	struct watch *w = NULL;
	struct http_resp r[WATCH_PER_CALLER + 2] = {0}, a;

	REQUIRE_INT(watch_new(&w), 0);
	for (int i = 0; i < WATCH_PER_CALLER; i++) {
		watch_request(w, 9, 0, 1000, 0, &r[i]);
		CHECK(r[i].hold != NULL);
	}
	watch_request(w, 9, 0, 1000, 0, &r[WATCH_PER_CALLER]);
	CHECK(!r[WATCH_PER_CALLER].hold);
	CHECK_INT(r[WATCH_PER_CALLER].status, 429);
	CHECK(r[WATCH_PER_CALLER].retry_after > 0);
	watch_request(w, 10, 0, 1000, 0, &r[WATCH_PER_CALLER + 1]);
	CHECK(r[WATCH_PER_CALLER + 1].hold != NULL); /* another caller */
	watch_advance(w, 1);
	for (int i = 0; i < WATCH_PER_CALLER + 2; i++) {
		if (i != WATCH_PER_CALLER) {
			CHECK(take(&r[i], &a) && is_answer(&a, 1, true));
			http_resp_free(&a);
		}
		done(&r[i]);
	}
	watch_free(w);
}

static void drain_answers_held_and_refuses_later(void)
{
	struct watch *w = NULL;
	struct http_resp r = {0}, a;

	REQUIRE_INT(watch_new(&w), 0);
	watch_request(w, 1, 0, 1000, 0, &r);
	REQUIRE(r.hold);
	watch_drain(w);
	CHECK(take(&r, &a) && a.status == 503);
	http_resp_free(&a);
	done(&r);
	watch_request(w, 1, 0, 1000, 0, &r);
	CHECK(!r.hold && r.status == 503);
	done(&r);
	/* Freed with a watcher held: the hold is answered, not leaked. */
	watch_free(w);
	REQUIRE_INT(watch_new(&w), 0);
	watch_request(w, 1, 0, 1000, 0, &r);
	watch_free(w);
	CHECK(take(&r, &a) && a.status == 503);
	http_resp_free(&a);
	done(&r);
}

static const struct check_case cases[] = {
	CHECK_CASE(behind_answers_at_once_current_is_held_until_advance),
	CHECK_CASE(deadlines_answer_unchanged_and_only_when_due),
	CHECK_CASE(held_watches_are_bounded_per_caller),
	CHECK_CASE(drain_answers_held_and_refuses_later),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
