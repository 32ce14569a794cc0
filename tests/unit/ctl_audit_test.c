/* Audit log API (controller/api_audit.c), in process over a real store
 * (SQLite, and PostgreSQL as <name>_postgres). */
#include "check.h"
#include "ctl_fixture.h"

#include "controller/api.h"
#include "controller/cred.h"
#include "controller/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fixture (ctl_fixture.h) with alice, a member with an API key, and
 * bob, a member without one (fx_open_members). */
static struct fx F;
static char member[FX_AUTH_SIZE];
static int64_t alice, bob;

static bool setup(void)
{
	return fx_open_members(&F, &alice, &bob, member);
}

static void teardown(void)
{
	fx_close(&F);
}

/* Appends an audit row directly. */
static bool mk_audit(int64_t at, const char *actor, const char *action,
		     const char *target_type, const char *detail)
{
	struct store_audit a = {.at = at};
	struct store_tx *tx;

	snprintf(a.actor, sizeof(a.actor), "%s", actor);
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.target_type, sizeof(a.target_type), "%s", target_type);
	snprintf(a.target_id, sizeof(a.target_id), "7");
	snprintf(a.detail, sizeof(a.detail), "%s", detail);
	if (store_begin(F.st, STORE_WRITE, &tx) < 0)
		return false;
	if (store_audit_create(tx, &a) < 0) {
		store_rollback(tx);
		return false;
	}
	return store_commit(tx) == 0;
}

/* 2023-11-14T22:13:20Z and one day later. */
#define T0 1700000000
#define DAY 86400

static bool mk_sample(void)
{
	return mk_audit(T0, "apikey:aaa", "user.create", "user",
			"{\"name\":\"carol\"}") &&
	       mk_audit(T0 + DAY, "apikey:bbb", "node.rename", "node",
			"{\"name\":\"x\"}") &&
	       mk_audit(T0 + 2 * DAY, "apikey:aaa", "node.delete", "node", "") &&
	       mk_audit(T0 + 3 * DAY, "cli:root", "relay.create", "relay",
			"{}");
}

static void lists_entries_written_by_mutations(void)
{
	char prefix[CRED_ID_SIZE], actor[64];
	json_t *e, *d;

	REQUIRE(setup());
	REQUIRE_INT(fx_call(&F, "POST", "/api/v1/relays", F.admin,
			 "{\"name\":\"fra\",\"region\":\"eu\",\"address\":"
			 "\"192.0.2.1:443\"}"),
		    201);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit", F.admin, NULL), 200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK(json_is_null(json_object_get(F.r.json, "next_cursor")));
	e = fx_item(&F, 0);
	CHECK(json_integer_value(json_object_get(e, "id")) > 0);
	CHECK(json_is_string(json_object_get(e, "at")));
	CHECK_INT(strlen(json_string_value(json_object_get(e, "at"))), 20);
	/* The actor names the key by its public prefix only (F.admin is
	 * "Bearer weft_api_<prefix>_<secret>"). */
	snprintf(prefix, sizeof(prefix), "%.*s",
		 (int)strcspn(F.admin + 16, "_"), F.admin + 16);
	snprintf(actor, sizeof(actor), "apikey:%s", prefix);
	CHECK_STR(json_string_value(json_object_get(e, "actor")), actor);
	CHECK_STR(json_string_value(json_object_get(e, "action")),
		  "relay.create");
	CHECK_STR(json_string_value(json_object_get(e, "target_type")),
		  "relay");
	CHECK_STR(json_string_value(json_object_get(e, "target_id")), "1");
	d = json_object_get(e, "detail");
	REQUIRE(json_is_object(d));
	CHECK_STR(json_string_value(json_object_get(d, "name")), "fra");
	CHECK_INT(json_object_size(e), 7);
	/* Reading the log writes nothing to it. */
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit", F.admin, NULL), 200);
	CHECK_INT(fx_nitems(&F), 1);
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 1);
}

static void shows_times_and_details_as_documented(void)
{
	json_t *e;

	REQUIRE(setup());
	REQUIRE(mk_sample());
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit", F.admin, NULL), 200);
	REQUIRE_INT(fx_nitems(&F), 4);
	e = fx_item(&F, 0);
	CHECK_STR(json_string_value(json_object_get(e, "at")),
		  "2023-11-14T22:13:20Z");
	CHECK_STR(json_string_value(json_object_get(
			  json_object_get(e, "detail"), "name")),
		  "carol");
	/* An empty detail is an empty object. */
	e = fx_item(&F, 2);
	CHECK(json_is_object(json_object_get(e, "detail")));
	CHECK_INT(json_object_size(json_object_get(e, "detail")), 0);
}

static void filters_by_actor_action_target_type_and_time(void)
{
	REQUIRE(setup());
	REQUIRE(mk_sample());
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit?actor=apikey:aaa", F.admin, NULL),
		    200);
	REQUIRE_INT(fx_nitems(&F), 2);
	CHECK_STR(json_string_value(json_object_get(fx_item(&F, 1), "action")),
		  "node.delete");
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit?action=node.rename", F.admin,
			 NULL),
		    200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_STR(json_string_value(json_object_get(fx_item(&F, 0), "actor")),
		  "apikey:bbb");
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit?target_type=node", F.admin, NULL),
		    200);
	CHECK_INT(fx_nitems(&F), 2);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit?since=2023-11-15T22:13:20Z",
			 F.admin, NULL),
		    200);
	REQUIRE_INT(fx_nitems(&F), 3);
	CHECK_STR(json_string_value(json_object_get(fx_item(&F, 0), "action")),
		  "node.rename");
	/* Offsets are honoured: 23:13:21+01:00 is one second later. */
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit?since=2023-11-15T23:13:21+01:00",
			 F.admin, NULL),
		    200);
	CHECK_INT(fx_nitems(&F), 2);
	REQUIRE_INT(fx_call(&F, "GET",
			 "/api/v1/audit?actor=apikey:aaa&target_type=node&"
			 "since=2023-11-15T00:00:00Z",
			 F.admin, NULL),
		    200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_STR(json_string_value(json_object_get(fx_item(&F, 0), "action")),
		  "node.delete");
	/* until is inclusive too, and combines with since. */
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit?until=2023-11-15T22:13:20Z",
			 F.admin, NULL),
		    200);
	CHECK_INT(fx_nitems(&F), 2);
	REQUIRE_INT(fx_call(&F, "GET",
			 "/api/v1/audit?since=2023-11-15T22:13:20Z&"
			 "until=2023-11-15T22:13:20Z",
			 F.admin, NULL),
		    200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_STR(json_string_value(json_object_get(fx_item(&F, 0), "action")),
		  "node.rename");
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit?actor=nobody", F.admin, NULL),
		    200);
	CHECK_INT(fx_nitems(&F), 0);
}

static void rejects_times_that_are_not_rfc3339(void)
{
	static const char *bad[] = {
		"yesterday", "2023-11-15", "2023-02-29T00:00:00Z",
		"1700000000", "2023-11-15 10:00:00Z", "",
	};
	char path[128];

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/api/v1/audit?since=%s", bad[i]);
		CHECK_INT(fx_call(&F, "GET", path, F.admin, NULL), 400);
		CHECK_STR(fx_err_code(&F.r), "invalid");
		CHECK_STR(fx_err_field(&F.r), "since");
		CHECK(strstr(fx_err_msg(&F.r), "RFC 3339") != NULL);
		snprintf(path, sizeof(path), "/api/v1/audit?until=%s", bad[i]);
		CHECK_INT(fx_call(&F, "GET", path, F.admin, NULL), 400);
		CHECK_STR(fx_err_field(&F.r), "until");
	}
}

static void pages_through_the_log(void)
{
	char path[128], cursor[32] = "";
	int total = 0, pages = 0;
	int64_t last = 0;

	REQUIRE(setup());
	for (int i = 0; i < 25; i++)
		REQUIRE(mk_audit(T0 + i, "apikey:aaa", "user.create", "user",
				 ""));
	for (;;) {
		snprintf(path, sizeof(path), "/api/v1/audit?limit=10%s%s",
			 cursor[0] ? "&cursor=" : "", cursor);
		REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
		pages++;
		for (size_t i = 0; i < fx_nitems(&F); i++) {
			int64_t id = json_integer_value(
				json_object_get(fx_item(&F, i), "id"));

			CHECK(id > last);
			last = id;
			total++;
		}
		if (json_is_null(json_object_get(F.r.json, "next_cursor")))
			break;
		snprintf(cursor, sizeof(cursor), "%s", fx_jstr(F.r.json, "next_cursor"));
		REQUIRE(pages < 5);
	}
	CHECK_INT(total, 25);
	CHECK_INT(pages, 3);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/audit?cursor=-1", F.admin, NULL), 400);
}

/* order=newest walks the same entries backwards, page by page, with the
 * filters still applied; an unknown order is 400. */
static void pages_newest_first(void)
{
	char path[160], cursor[32] = "";
	int total = 0, pages = 0;
	int64_t last = INT64_MAX, first = 0;

	REQUIRE(setup());
	for (int i = 0; i < 25; i++)
		REQUIRE(mk_audit(T0 + i, "apikey:aaa",
				 i % 5 ? "user.create" : "user.delete", "user",
				 ""));
	for (;;) {
		snprintf(path, sizeof(path),
			 "/api/v1/audit?order=newest&action=user.create"
			 "&limit=7%s%s", cursor[0] ? "&cursor=" : "", cursor);
		REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
		pages++;
		for (size_t i = 0; i < fx_nitems(&F); i++) {
			int64_t id = json_integer_value(
				json_object_get(fx_item(&F, i), "id"));

			CHECK(id < last);
			if (!first)
				first = id;
			last = id;
			CHECK_STR(fx_jstr(fx_item(&F, i), "action"), "user.create");
			total++;
		}
		if (json_is_null(json_object_get(F.r.json, "next_cursor")))
			break;
		snprintf(cursor, sizeof(cursor), "%s", fx_jstr(F.r.json, "next_cursor"));
		REQUIRE(pages < 5);
	}
	CHECK_INT(total, 20);
	CHECK_INT(pages, 3);
	/* The first entry is the newest one: no entry of the oldest-first
	 * list is above it. */
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/audit?order=oldest&action=user.create&limit=1000",
			    F.admin, NULL), 200);
	CHECK_INT((int)fx_nitems(&F), 20);
	CHECK(json_integer_value(json_object_get(fx_item(&F, 19), "id")) == first);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/audit?order=up", F.admin, NULL), 400);
	CHECK_STR(fx_err_field(&F.r), "order");
}

static void only_admins_may_read_the_log(void)
{
	REQUIRE(setup());
	REQUIRE(mk_sample());
	CHECK_INT(fx_call(&F, "GET", "/api/v1/audit", member, NULL), 403);
	CHECK_STR(fx_err_code(&F.r), "forbidden");
	CHECK_INT(fx_call(&F, "GET", "/api/v1/audit", NULL, NULL), 401);
	CHECK_STR(fx_err_code(&F.r), "unauthenticated");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/audit", F.admin, "{}"), 405);
}

static const struct check_case cases[] = {
	CHECK_CASE(lists_entries_written_by_mutations),
	CHECK_CASE(shows_times_and_details_as_documented),
	CHECK_CASE(filters_by_actor_action_target_type_and_time),
	CHECK_CASE(rejects_times_that_are_not_rfc3339),
	CHECK_CASE(pages_through_the_log),
	CHECK_CASE(pages_newest_first),
	CHECK_CASE(only_admins_may_read_the_log),
	{0},
};

int main(int argc, char **argv)
{
	atexit(teardown);
	return check_main(argc, argv, cases);
}
