/* Audit log API (controller/api_audit.c), in process over a real SQLite
 * store. */
#include "check.h"
#include "controller/api.h"
#include "controller/cred.h"
#include "controller/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- fixture: a fresh SQLite store and API per case --- */

struct fixture {
	struct store *st;
	struct api *api;
	char admin_key[CRED_TEXT_SIZE];  /* bootstrap-style admin key */
	char member_key[CRED_TEXT_SIZE]; /* API key of member alice */
	int64_t alice, bob;              /* member users */
	int seq;
};
static struct fixture F;
static struct http_resp R;
static int db_seq;

static void teardown(void)
{
	http_resp_free(&R);
	memset(&R, 0, sizeof(R));
	api_del(F.api);
	store_close(F.st);
	F.api = NULL;
	F.st = NULL;
}

static int64_t mk_user(const char *name, const char *role)
{
	struct store_tx *tx;
	struct store_user u = {0};

	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.role, sizeof(u.role), "%s", role);
	if (store_begin(F.st, STORE_WRITE, &tx) < 0)
		return 0;
	if (store_user_create(tx, &u) < 0) {
		store_rollback(tx);
		return 0;
	}
	return store_commit(tx) < 0 ? 0 : u.id;
}

static bool mk_apikey(int64_t user_id, char text[CRED_TEXT_SIZE])
{
	struct store_apikey k = {.user_id = user_id};
	struct store_tx *tx;
	struct cred cr;

	if (cred_new(CRED_API, NULL, text, &cr) < 0)
		return false;
	snprintf(k.prefix, sizeof(k.prefix), "%s", cr.id);
	snprintf(k.hash, sizeof(k.hash), "%s", cr.hash);
	if (store_begin(F.st, STORE_WRITE, &tx) < 0)
		return false;
	if (store_apikey_create(tx, &k) < 0) {
		store_rollback(tx);
		return false;
	}
	return store_commit(tx) == 0;
}

/* Opens a fresh database with an admin key and two member users, alice
 * (with an API key) and bob. */
static bool setup(void)
{
	char url[512], err[256];

	teardown();
	memset(&F, 0, sizeof(F));
	snprintf(url, sizeof(url), "sqlite://%s/case%d.db", check_tmpdir(),
		 ++db_seq);
	if (store_open(url, &F.st, err, sizeof(err)) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return false;
	}
	if (api_new(F.st, NULL, NULL, &F.api) < 0)
		return false;
	F.alice = mk_user("alice", "member");
	F.bob = mk_user("bob", "member");
	return F.alice && F.bob && mk_apikey(0, F.admin_key) &&
	       mk_apikey(F.alice, F.member_key);
}

/* Query strings: "a=1&b=2" split in place into key/value pairs. */
struct query {
	char buf[512];
	const char *k[8], *v[8];
	size_t n;
};

static const char *query_get(void *ctx, const char *key)
{
	struct query *q = ctx;

	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->k[i], key) == 0)
			return q->v[i];
	return NULL;
}

static void query_split(struct query *q, const char *s)
{
	char *p;

	snprintf(q->buf, sizeof(q->buf), "%s", s);
	q->n = 0;
	for (p = q->buf; p && *p && q->n < 8;) {
		char *amp = strchr(p, '&'), *eq;

		if (amp)
			*amp = '\0';
		eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			q->k[q->n] = p;
			q->v[q->n++] = eq + 1;
		}
		p = amp ? amp + 1 : NULL;
	}
}

/* Runs one request ("GET", "/api/v1/x?limit=2") with token (NULL = none;
 * "admin"/"member" pick the fixture's keys) and body (NULL = none).
 * Returns the status; the answer stays in R. */
static int call(const char *method, const char *target, const char *token,
		const char *body)
{
	struct http_req req = {0};
	struct query q = {0};
	char path[512], auth[160];
	const char *qs;

	http_resp_free(&R);
	memset(&R, 0, sizeof(R));
	snprintf(path, sizeof(path), "%s", target);
	qs = strchr(target, '?');
	if (qs) {
		path[qs - target] = '\0';
		query_split(&q, qs + 1);
	}
	if (token && strcmp(token, "admin") == 0)
		token = F.admin_key;
	else if (token && strcmp(token, "member") == 0)
		token = F.member_key;
	if (token) {
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		req.authorization = auth;
	}
	req.method = method;
	req.path = path;
	req.body = body ? body : "";
	req.body_len = strlen(req.body);
	req.query = query_get;
	req.query_ctx = &q;
	snprintf(req.remote, sizeof(req.remote), "127.0.0.1");
	api_handle(F.api, &req, &R);
	return R.status;
}

/* Fields of the answer. */
static json_t *field(const char *key)
{
	return json_object_get(R.json, key);
}

static const char *sfield(const char *key)
{
	return json_string_value(field(key));
}

static const char *err_code(void)
{
	return json_string_value(
		json_object_get(json_object_get(R.json, "error"), "code"));
}

static const char *err_field(void)
{
	const char *f = json_string_value(
		json_object_get(json_object_get(R.json, "error"), "field"));

	return f ? f : "";
}

static const char *err_message(void)
{
	const char *m = json_string_value(
		json_object_get(json_object_get(R.json, "error"), "message"));

	return m ? m : "";
}

static size_t nitems(void)
{
	return json_array_size(field("items"));
}

static json_t *item(size_t i)
{
	return json_array_get(field("items"), i);
}

struct audit_find {
	const char *target_id;
	struct store_audit last;
	int n;
};

static int audit_cb(void *ctx, const struct store_audit *a)
{
	struct audit_find *f = ctx;

	if (f->target_id && strcmp(a->target_id, f->target_id) != 0)
		return 0;
	f->last = *a;
	f->n++;
	return 0;
}

/* How many audit rows have this action (and target id, unless NULL); the
 * newest is copied to *last when last is not NULL. */
static int audit_count(const char *action, const char *target_id,
		       struct store_audit *last)
{
	struct store_audit_filter f = {.action = action};
	struct store_page pg = {0, STORE_PAGE_MAX};
	struct audit_find af = {.target_id = target_id};
	struct store_tx *tx;

	if (store_begin(F.st, STORE_READ, &tx) < 0)
		return -1;
	if (store_audit_list(tx, &f, &pg, audit_cb, &af, NULL) < 0)
		af.n = -1;
	store_rollback(tx);
	if (last)
		*last = af.last;
	return af.n;
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
	REQUIRE_INT(call("POST", "/api/v1/relays", "admin",
			 "{\"name\":\"fra\",\"region\":\"eu\",\"address\":"
			 "\"192.0.2.1:443\"}"),
		    201);
	REQUIRE_INT(call("GET", "/api/v1/audit", "admin", NULL), 200);
	REQUIRE_INT(nitems(), 1);
	CHECK(json_is_null(field("next_cursor")));
	e = item(0);
	CHECK(json_integer_value(json_object_get(e, "id")) > 0);
	CHECK(json_is_string(json_object_get(e, "at")));
	CHECK_INT(strlen(json_string_value(json_object_get(e, "at"))), 20);
	/* The actor names the key by its public prefix only. */
	snprintf(prefix, sizeof(prefix), "%.*s",
		 (int)strcspn(F.admin_key + 9, "_"), F.admin_key + 9);
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
	REQUIRE_INT(call("GET", "/api/v1/audit", "admin", NULL), 200);
	CHECK_INT(nitems(), 1);
	CHECK_INT(audit_count(NULL, NULL, NULL), 1);
}

static void shows_times_and_details_as_documented(void)
{
	json_t *e;

	REQUIRE(setup());
	REQUIRE(mk_sample());
	REQUIRE_INT(call("GET", "/api/v1/audit", "admin", NULL), 200);
	REQUIRE_INT(nitems(), 4);
	e = item(0);
	CHECK_STR(json_string_value(json_object_get(e, "at")),
		  "2023-11-14T22:13:20Z");
	CHECK_STR(json_string_value(json_object_get(
			  json_object_get(e, "detail"), "name")),
		  "carol");
	/* An empty detail is an empty object. */
	e = item(2);
	CHECK(json_is_object(json_object_get(e, "detail")));
	CHECK_INT(json_object_size(json_object_get(e, "detail")), 0);
}

static void filters_by_actor_action_target_type_and_since(void)
{
	REQUIRE(setup());
	REQUIRE(mk_sample());
	REQUIRE_INT(call("GET", "/api/v1/audit?actor=apikey:aaa", "admin", NULL),
		    200);
	REQUIRE_INT(nitems(), 2);
	CHECK_STR(json_string_value(json_object_get(item(1), "action")),
		  "node.delete");
	REQUIRE_INT(call("GET", "/api/v1/audit?action=node.rename", "admin",
			 NULL),
		    200);
	REQUIRE_INT(nitems(), 1);
	CHECK_STR(json_string_value(json_object_get(item(0), "actor")),
		  "apikey:bbb");
	REQUIRE_INT(call("GET", "/api/v1/audit?target_type=node", "admin", NULL),
		    200);
	CHECK_INT(nitems(), 2);
	REQUIRE_INT(call("GET", "/api/v1/audit?since=2023-11-15T22:13:20Z",
			 "admin", NULL),
		    200);
	REQUIRE_INT(nitems(), 3);
	CHECK_STR(json_string_value(json_object_get(item(0), "action")),
		  "node.rename");
	/* Offsets are honoured: 23:13:21+01:00 is one second later. */
	REQUIRE_INT(call("GET", "/api/v1/audit?since=2023-11-15T23:13:21+01:00",
			 "admin", NULL),
		    200);
	CHECK_INT(nitems(), 2);
	REQUIRE_INT(call("GET",
			 "/api/v1/audit?actor=apikey:aaa&target_type=node&"
			 "since=2023-11-15T00:00:00Z",
			 "admin", NULL),
		    200);
	REQUIRE_INT(nitems(), 1);
	CHECK_STR(json_string_value(json_object_get(item(0), "action")),
		  "node.delete");
	REQUIRE_INT(call("GET", "/api/v1/audit?actor=nobody", "admin", NULL),
		    200);
	CHECK_INT(nitems(), 0);
}

static void rejects_a_since_that_is_not_rfc3339(void)
{
	static const char *bad[] = {
		"yesterday", "2023-11-15", "2023-02-29T00:00:00Z",
		"1700000000", "2023-11-15 10:00:00Z", "",
	};
	char path[128];

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/api/v1/audit?since=%s", bad[i]);
		CHECK_INT(call("GET", path, "admin", NULL), 400);
		CHECK_STR(err_code(), "invalid");
		CHECK_STR(err_field(), "since");
		CHECK(strstr(err_message(), "RFC 3339") != NULL);
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
		REQUIRE_INT(call("GET", path, "admin", NULL), 200);
		pages++;
		for (size_t i = 0; i < nitems(); i++) {
			int64_t id = json_integer_value(
				json_object_get(item(i), "id"));

			CHECK(id > last);
			last = id;
			total++;
		}
		if (json_is_null(field("next_cursor")))
			break;
		snprintf(cursor, sizeof(cursor), "%s", sfield("next_cursor"));
		REQUIRE(pages < 5);
	}
	CHECK_INT(total, 25);
	CHECK_INT(pages, 3);
	CHECK_INT(call("GET", "/api/v1/audit?cursor=-1", "admin", NULL), 400);
}

static void only_admins_may_read_the_log(void)
{
	REQUIRE(setup());
	REQUIRE(mk_sample());
	CHECK_INT(call("GET", "/api/v1/audit", "member", NULL), 403);
	CHECK_STR(err_code(), "forbidden");
	CHECK_INT(call("GET", "/api/v1/audit", NULL, NULL), 401);
	CHECK_STR(err_code(), "unauthenticated");
	CHECK_INT(call("POST", "/api/v1/audit", "admin", "{}"), 405);
}

static const struct check_case cases[] = {
	CHECK_CASE(lists_entries_written_by_mutations),
	CHECK_CASE(shows_times_and_details_as_documented),
	CHECK_CASE(filters_by_actor_action_target_type_and_since),
	CHECK_CASE(rejects_a_since_that_is_not_rfc3339),
	CHECK_CASE(pages_through_the_log),
	CHECK_CASE(only_admins_may_read_the_log),
	{0},
};

int main(int argc, char **argv)
{
	const char *backend = getenv("WEFT_STORE_BACKEND");

	/* The process-level integration tests cover PostgreSQL. */
	if (backend && strcmp(backend, "postgres") == 0)
		return 0;
	atexit(teardown);
	return check_main(argc, argv, cases);
}
