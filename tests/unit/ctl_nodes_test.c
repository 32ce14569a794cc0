/* Nodes and routes API (controller/api_nodes.c), in process over a real
 * store (SQLite, and PostgreSQL as <name>_postgres). Nodes are made
 * directly in the store: registration has its own tests. */
#include "check.h"
#include "ctl_fixture.h"

#include "controller/api.h"
#include "controller/cred.h"
#include "controller/store.h"
#include "shared/clock.h"

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

static bool node_exists(int64_t id)
{
	struct store_node n;
	struct store_tx *tx;
	int rc;

	if (store_begin(F.st, STORE_READ, &tx) < 0)
		return false;
	rc = store_node_get(tx, id, &n);
	store_rollback(tx);
	return rc == 0;
}

static bool array_has(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* --- nodes: reading --- */

static void shows_node_with_every_documented_field(void)
{
	char path[64];
	int64_t id;
	json_t *routes;

	REQUIRE(setup());
	id = fx_node(&F, "laptop", alice, "[\"tag:dev\"]", 1, NULL);
	REQUIRE(id > 0);
	REQUIRE(fx_route(&F, id, "10.0.0.0/24", 1) > 0);
	REQUIRE(fx_route(&F, id, "10.1.0.0/16", 0) > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_INT(fx_jint(F.r.json, "id"), id);
	CHECK_STR(fx_jstr(F.r.json, "name"), "laptop");
	CHECK_STR(fx_jstr(F.r.json, "dns_name"), "laptop.weft.internal");
	CHECK_INT(fx_jint(F.r.json, "user_id"), alice);
	CHECK_STR(fx_jstr(F.r.json, "public_key"), "key-1");
	CHECK_STR(fx_jstr(F.r.json, "ipv4"), "100.64.0.2");
	CHECK_STR(fx_jstr(F.r.json, "ipv6"), "fd7a:115c:a1e0::1");
	CHECK(json_is_array(json_object_get(F.r.json, "tags")));
	CHECK(array_has(json_object_get(F.r.json, "tags"), "tag:dev"));
	CHECK_STR(fx_jstr(F.r.json, "os"), "linux");
	CHECK_STR(fx_jstr(F.r.json, "version"), "0.1.0");
	CHECK(array_has(json_object_get(F.r.json, "endpoints"), "192.0.2.1:41641"));
	CHECK(json_is_null(json_object_get(F.r.json, "home_relay")));
	CHECK(json_is_true(json_object_get(F.r.json, "online")));
	CHECK_STR(fx_jstr(F.r.json, "last_seen"), "2023-11-14T22:15:00Z");
	CHECK(json_is_null(json_object_get(F.r.json, "expires_at")));
	CHECK(json_is_false(json_object_get(F.r.json, "ephemeral")));
	CHECK_STR(fx_jstr(F.r.json, "created_at"), "2023-11-14T22:13:20Z");
	CHECK_INT(json_object_size(F.r.json), 18);
	routes = json_object_get(F.r.json, "routes");
	CHECK_INT(json_array_size(json_object_get(routes, "advertised")), 2);
	CHECK(array_has(json_object_get(routes, "advertised"), "10.1.0.0/16"));
	CHECK_INT(json_array_size(json_object_get(routes, "approved")), 1);
	CHECK(array_has(json_object_get(routes, "approved"), "10.0.0.0/24"));
}

static void tagged_node_has_null_user(void)
{
	char path[64];
	int64_t id;

	REQUIRE(setup());
	id = fx_node(&F, "server", 0, "[\"tag:prod\"]", 0, NULL);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK(json_is_null(json_object_get(F.r.json, "user_id")));
	CHECK(json_is_false(json_object_get(F.r.json, "online")));
	CHECK(json_is_null(json_object_get(F.r.json, "last_seen")));
	CHECK_INT(json_array_size(json_object_get(json_object_get(F.r.json, "routes"), "advertised")),
		  0);
}

static void pagination_over_25_nodes_visits_each_once(void)
{
	bool seen[26] = {false};
	char path[128], cursor[32] = "";
	int pages = 0, total = 0;

	REQUIRE(setup());
	for (int i = 0; i < 25; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%d", i);
		REQUIRE(fx_node(&F, name, alice, NULL, 0, NULL) > 0);
	}
	for (;;) {
		json_t *next;

		snprintf(path, sizeof(path), "/api/v1/nodes?limit=10%s%s",
			 cursor[0] ? "&cursor=" : "", cursor);
		REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
		pages++;
		for (size_t i = 0; i < fx_nitems(&F); i++) {
			int64_t id = json_integer_value(
				json_object_get(fx_item(&F, i), "id"));

			REQUIRE(id >= 1 && id <= 25);
			CHECK(!seen[id]);
			seen[id] = true;
			total++;
			CHECK(json_is_object(json_object_get(fx_item(&F, i), "routes")));
		}
		next = json_object_get(F.r.json, "next_cursor");
		if (json_is_null(next))
			break;
		REQUIRE(json_is_string(next));
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		REQUIRE(pages < 5);
	}
	CHECK_INT(pages, 3);
	CHECK_INT(total, 25);
}

static void filters_nodes_by_tag_online_and_user(void)
{
	char path[64];
	int64_t a, b, c;

	REQUIRE(setup());
	a = fx_node(&F, "a", alice, "[\"tag:web\",\"tag:db\"]", 1, NULL);
	b = fx_node(&F, "b", bob, "[\"tag:web\"]", 0, NULL);
	c = fx_node(&F, "c", 0, "[\"tag:dbx\"]", 1, NULL);
	REQUIRE(a && b && c);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/nodes?tag=tag:db", F.admin, NULL), 200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_INT(json_integer_value(json_object_get(fx_item(&F, 0), "id")), a);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/nodes?tag=tag:web", F.admin, NULL),
		    200);
	CHECK_INT(fx_nitems(&F), 2);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/nodes?online=true", F.admin, NULL),
		    200);
	REQUIRE_INT(fx_nitems(&F), 2);
	CHECK_INT(json_integer_value(json_object_get(fx_item(&F, 1), "id")), c);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/nodes?online=false", F.admin, NULL),
		    200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_INT(json_integer_value(json_object_get(fx_item(&F, 0), "id")), b);
	snprintf(path, sizeof(path), "/api/v1/nodes?user_id=%" PRId64, bob);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_INT(json_integer_value(json_object_get(fx_item(&F, 0), "id")), b);
	snprintf(path, sizeof(path),
		 "/api/v1/nodes?user_id=%" PRId64 "&tag=tag:web&online=true",
		 alice);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_INT(fx_nitems(&F), 1);
	CHECK(json_is_null(json_object_get(F.r.json, "next_cursor")));
}

static void rejects_bad_list_filters(void)
{
	REQUIRE(setup());
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes?user_id=abc", F.admin, NULL), 400);
	CHECK_STR(fx_err_field(&F.r), "user_id");
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes?user_id=0", F.admin, NULL), 400);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes?online=yes", F.admin, NULL), 400);
	CHECK_STR(fx_err_field(&F.r), "online");
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes?tag=web", F.admin, NULL), 400);
	CHECK_STR(fx_err_field(&F.r), "tag");
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes?limit=0", F.admin, NULL), 400);
	CHECK_STR(fx_err_field(&F.r), "limit");
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes?cursor=x", F.admin, NULL), 400);
	CHECK_STR(fx_err_field(&F.r), "cursor");
}

static void member_sees_only_own_nodes(void)
{
	char path[64];
	int64_t mine, theirs, tagged;

	REQUIRE(setup());
	mine = fx_node(&F, "mine", alice, NULL, 0, NULL);
	theirs = fx_node(&F, "theirs", bob, NULL, 0, NULL);
	tagged = fx_node(&F, "tagged", 0, "[\"tag:x\"]", 0, NULL);
	REQUIRE(mine && theirs && tagged);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/nodes", member, NULL), 200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_INT(json_integer_value(json_object_get(fx_item(&F, 0), "id")), mine);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, mine);
	CHECK_INT(fx_call(&F, "GET", path, member, NULL), 200);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, theirs);
	CHECK_INT(fx_call(&F, "GET", path, member, NULL), 404);
	CHECK_STR(fx_err_code(&F.r), "not_found");
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, tagged);
	CHECK_INT(fx_call(&F, "GET", path, member, NULL), 404);
	snprintf(path, sizeof(path), "/api/v1/nodes?user_id=%" PRId64, bob);
	CHECK_INT(fx_call(&F, "GET", path, member, NULL), 403);
	snprintf(path, sizeof(path), "/api/v1/nodes?user_id=%" PRId64, alice);
	CHECK_INT(fx_call(&F, "GET", path, member, NULL), 200);
	CHECK_INT(fx_nitems(&F), 1);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/nodes", F.admin, NULL), 200);
	CHECK_INT(fx_nitems(&F), 3);
}

/* api_handle_as callers (the CLI) pass principals by hand: a non-admin
 * without a user must not be mistaken for "any user". */
static void non_admin_principal_without_user_sees_no_nodes(void)
{
	struct principal who = {.kind = PRINCIPAL_APIKEY, .admin = false};
	struct http_req req = {.method = "GET", .body = "", .path =
			       "/api/v1/nodes"};
	struct http_resp resp = {0};
	int64_t tagged;

	REQUIRE(setup());
	tagged = fx_node(&F, "tagged", 0, "[\"tag:x\"]", 0, NULL);
	REQUIRE(tagged > 0);
	snprintf(who.actor, sizeof(who.actor), "test");
	api_handle_as(F.api, &who, &req, &resp);
	CHECK_INT(resp.status, 403);
	http_resp_free(&resp);
	req.path = "/api/v1/nodes/1";
	api_handle_as(F.api, &who, &req, &resp);
	CHECK_INT(resp.status, 404);
	http_resp_free(&resp);
}

static void member_key_on_admin_routes_is_forbidden(void)
{
	char path[64];
	int64_t id;

	REQUIRE(setup());
	id = fx_node(&F, "mine", alice, NULL, 0, NULL);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	CHECK_INT(fx_call(&F, "PATCH", path, member, "{\"name\":\"x\"}"), 403);
	CHECK_STR(fx_err_code(&F.r), "forbidden");
	CHECK_INT(fx_call(&F, "DELETE", path, member, NULL), 403);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64 "/expire", id);
	CHECK_INT(fx_call(&F, "POST", path, member, NULL), 403);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/routes", member, NULL), 403);
	CHECK(node_exists(id));
}

static void node_credential_is_refused_and_missing_token_unauthenticated(void)
{
	char cred[FX_AUTH_SIZE];
	int64_t id;

	REQUIRE(setup());
	id = fx_node(&F, "n", alice, NULL, 0, cred);
	REQUIRE(id > 0);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes", cred, NULL), 403);
	CHECK_INT(fx_call(&F, "DELETE", "/api/v1/nodes/1", cred, NULL), 403);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/routes", cred, NULL), 403);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes", NULL, NULL), 401);
	CHECK_STR(fx_err_code(&F.r), "unauthenticated");
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes", "weft_api_nope_nope", NULL), 401);
	CHECK_INT(fx_call(&F, "PATCH", "/api/v1/routes/1", NULL, "{}"), 401);
	CHECK(node_exists(id));
}

static void missing_and_non_numeric_node_ids_are_404(void)
{
	REQUIRE(setup());
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes/42", F.admin, NULL), 404);
	CHECK_STR(fx_err_code(&F.r), "not_found");
	CHECK(strstr(fx_err_msg(&F.r), "42") != NULL);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes/abc", F.admin, NULL), 404);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes/-1", F.admin, NULL), 404);
	CHECK_INT(fx_call(&F, "PATCH", "/api/v1/nodes/42", F.admin, "{\"name\":\"a\"}"),
		  404);
	CHECK_STR(fx_err_field(&F.r), "id");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/nodes/42/expire", F.admin, NULL), 404);
	CHECK_INT(fx_call(&F, "DELETE", "/api/v1/nodes/42", F.admin, NULL), 404);
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
}

/* --- nodes: changing --- */

static void renames_node_with_audit_and_netmap_bump(void)
{
	struct store_audit a;
	char path[64], idtext[24];
	int64_t id, v0;

	REQUIRE(setup());
	id = fx_node(&F, "old", alice, NULL, 0, NULL);
	REQUIRE(id > 0);
	v0 = fx_netmap_version(&F);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":\"new-name-2\"}"),
		    200);
	CHECK_STR(fx_jstr(F.r.json, "name"), "new-name-2");
	CHECK(json_is_object(json_object_get(F.r.json, "routes")));
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	REQUIRE_INT(fx_audit_count(&F, "node.rename", idtext, &a), 1);
	CHECK_STR(a.target_type, "node");
	CHECK(strncmp(a.actor, "apikey:", 7) == 0);
	CHECK(strstr(a.detail, "\"old_name\":\"old\"") != NULL);
	CHECK_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "name"), "new-name-2");
}

static void rejects_names_that_are_not_dns_labels(void)
{
	static const char *bad[] = {
		"{\"name\":\"Laptop\"}", "{\"name\":\"-a\"}",
		"{\"name\":\"a-\"}", "{\"name\":\"a_b\"}",
		"{\"name\":\"a.b\"}", "{\"name\":\"\"}",
		"{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	};
	char path[64];
	int64_t id;

	REQUIRE(setup());
	id = fx_node(&F, "ok", alice, NULL, 0, NULL);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(fx_call(&F, "PATCH", path, F.admin, bad[i]), 400);
		CHECK_STR(fx_err_field(&F.r), "name");
	}
	/* 63 characters is the longest label. */
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin,
		       "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		       "aaaaaaaaaaaaaaaaaa\"}"),
		  200);
	CHECK_INT(fx_audit_count(&F, "node.rename", NULL, NULL), 1);
}

static void rename_to_a_taken_name_conflicts(void)
{
	char path[64];
	int64_t a, b, v0;

	REQUIRE(setup());
	a = fx_node(&F, "alpha", alice, NULL, 0, NULL);
	b = fx_node(&F, "beta", alice, NULL, 0, NULL);
	REQUIRE(a && b);
	v0 = fx_netmap_version(&F);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, b);
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":\"alpha\"}"), 409);
	CHECK_STR(fx_err_code(&F.r), "already_exists");
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK(strstr(fx_err_msg(&F.r), "alpha") != NULL);
	CHECK_INT(fx_netmap_version(&F), v0);
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
	/* Renaming to its own name changes nothing and is fine. */
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":\"beta\"}"), 200);
	CHECK_INT(fx_netmap_version(&F), v0);
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
}

static void sets_and_clears_tags(void)
{
	char path[64], idtext[24];
	int64_t id, v0;

	REQUIRE(setup());
	id = fx_node(&F, "n", alice, NULL, 0, NULL);
	REQUIRE(id > 0);
	v0 = fx_netmap_version(&F);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin,
			 "{\"tags\":[\"tag:web\",\"tag:prod-1\"]}"),
		    200);
	CHECK_INT(json_array_size(json_object_get(F.r.json, "tags")), 2);
	CHECK(array_has(json_object_get(F.r.json, "tags"), "tag:prod-1"));
	CHECK_INT(fx_audit_count(&F, "node.retag", idtext, NULL), 1);
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/nodes?tag=tag:web", F.admin, NULL),
		    200);
	CHECK_INT(fx_nitems(&F), 1);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin,
			 "{\"name\":\"m\",\"tags\":[]}"),
		    200);
	CHECK_INT(json_array_size(json_object_get(F.r.json, "tags")), 0);
	CHECK_STR(fx_jstr(F.r.json, "name"), "m");
	CHECK_INT(fx_audit_count(&F, "node.update", idtext, NULL), 1);
	CHECK_INT(fx_netmap_version(&F), v0 + 2);
}

static void rejects_bad_tags(void)
{
	char path[64], body[1024];
	size_t o;
	int64_t id;

	REQUIRE(setup());
	id = fx_node(&F, "n", alice, "[\"tag:keep\"]", 0, NULL);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"tags\":[\"tag:a\",\"web\"]}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "tags[1]");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"tags\":[\"tag:\"]}"), 400);
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"tags\":[\"tag:A\"]}"), 400);
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin,
		       "{\"tags\":[\"tag:a\",\"tag:a\"]}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "tags[1]");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"tags\":[1]}"), 400);
	CHECK_STR(fx_err_code(&F.r), "wrong_type");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"tags\":\"tag:a\"}"), 400);
	CHECK_STR(fx_err_field(&F.r), "tags");
	o = (size_t)snprintf(body, sizeof(body), "{\"tags\":[");
	for (int i = 0; i < 17; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%s\"tag:t%d\"",
				      i ? "," : "", i);
	snprintf(body + o, sizeof(body) - o, "]}");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, body), 400);
	CHECK_STR(fx_err_field(&F.r), "tags");
	CHECK_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK(array_has(json_object_get(F.r.json, "tags"), "tag:keep"));
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
}

static void patch_rejects_malformed_unknown_and_mistyped_bodies(void)
{
	char path[64];
	int64_t id;

	REQUIRE(setup());
	id = fx_node(&F, "n", alice, NULL, 0, NULL);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":"), 400);
	CHECK_STR(fx_err_code(&F.r), "parse_error");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "[]"), 400);
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"owner\":1}"), 400);
	CHECK_STR(fx_err_field(&F.r), "owner");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":5}"), 400);
	CHECK_STR(fx_err_code(&F.r), "wrong_type");
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":null}"), 400);
	CHECK_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "name"), "n");
}

static void expire_sets_expires_at_to_now_and_stops_the_credential(void)
{
	char path[64], cred[FX_AUTH_SIZE], idtext[24], want[32];
	int64_t id, v0, before;

	REQUIRE(setup());
	id = fx_node(&F, "n", alice, NULL, 0, cred);
	REQUIRE(id > 0);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes", cred, NULL), 403);
	v0 = fx_netmap_version(&F);
	before = clock_wall_s();
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64 "/expire", id);
	REQUIRE_INT(fx_call(&F, "POST", path, F.admin, NULL), 200);
	REQUIRE(json_is_string(json_object_get(F.r.json, "expires_at")));
	/* expires_at is the request's "now", within the test's second(s). */
	clock_format_rfc3339(before, want, sizeof(want));
	CHECK(strcmp(fx_jstr(F.r.json, "expires_at"), want) >= 0);
	clock_format_rfc3339(clock_wall_s(), want, sizeof(want));
	CHECK(strcmp(fx_jstr(F.r.json, "expires_at"), want) <= 0);
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	CHECK_INT(fx_audit_count(&F, "node.expire", idtext, NULL), 1);
	/* An expired node's credential no longer authenticates. */
	CHECK_INT(fx_call(&F, "GET", "/api/v1/nodes", cred, NULL), 401);
}

static void deletes_node_and_its_routes(void)
{
	struct store_audit a;
	char path[64], idtext[24];
	int64_t id, other, v0;

	REQUIRE(setup());
	id = fx_node(&F, "gone", alice, NULL, 0, NULL);
	other = fx_node(&F, "stays", alice, NULL, 0, NULL);
	REQUIRE(id && other);
	REQUIRE(fx_route(&F, id, "10.0.0.0/24", 1) > 0);
	REQUIRE(fx_route(&F, other, "10.9.0.0/24", 1) > 0);
	v0 = fx_netmap_version(&F);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "DELETE", path, F.admin, NULL), 204);
	CHECK(F.r.json == NULL);
	CHECK(!node_exists(id));
	CHECK(node_exists(other));
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	REQUIRE_INT(fx_audit_count(&F, "node.delete", idtext, &a), 1);
	CHECK(strstr(a.detail, "gone") != NULL);
	CHECK_INT(fx_call(&F, "GET", path, F.admin, NULL), 404);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/routes", F.admin, NULL), 200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_INT(json_integer_value(json_object_get(fx_item(&F, 0), "node_id")),
		  other);
	CHECK_INT(fx_call(&F, "DELETE", path, F.admin, NULL), 404);
}

/* --- routes --- */

static void lists_routes_filtered_by_node(void)
{
	char path[64];
	int64_t a, b, r1;
	json_t *r;

	REQUIRE(setup());
	a = fx_node(&F, "a", alice, NULL, 0, NULL);
	b = fx_node(&F, "b", alice, NULL, 0, NULL);
	REQUIRE(a && b);
	r1 = fx_route(&F, a, "10.0.0.0/24", 0);
	REQUIRE(r1 > 0);
	REQUIRE(fx_route(&F, a, "fd00:1::/64", 1) > 0);
	REQUIRE(fx_route(&F, b, "192.168.1.0/24", 0) > 0);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/routes", F.admin, NULL), 200);
	CHECK_INT(fx_nitems(&F), 3);
	snprintf(path, sizeof(path), "/api/v1/routes?node_id=%" PRId64, a);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	REQUIRE_INT(fx_nitems(&F), 2);
	r = fx_item(&F, 0);
	CHECK_INT(json_integer_value(json_object_get(r, "id")), r1);
	CHECK_INT(json_integer_value(json_object_get(r, "node_id")), a);
	CHECK_STR(json_string_value(json_object_get(r, "prefix")),
		  "10.0.0.0/24");
	CHECK(json_is_true(json_object_get(r, "advertised")));
	CHECK(json_is_false(json_object_get(r, "approved")));
	CHECK_STR(json_string_value(json_object_get(r, "created_at")),
		  "2023-11-14T22:13:20Z");
	CHECK_INT(json_object_size(r), 6);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/routes?node_id=999", F.admin, NULL),
		    200);
	CHECK_INT(fx_nitems(&F), 0);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/routes?node_id=x", F.admin, NULL), 400);
	CHECK_STR(fx_err_field(&F.r), "node_id");
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/routes?limit=1", F.admin, NULL), 200);
	CHECK_INT(fx_nitems(&F), 1);
	CHECK_STR(fx_jstr(F.r.json, "next_cursor"), "1");
}

static void approving_a_route_bumps_netmap_and_audits(void)
{
	char path[64], idtext[24];
	int64_t n, r, v0;

	REQUIRE(setup());
	n = fx_node(&F, "a", alice, NULL, 0, NULL);
	REQUIRE(n > 0);
	r = fx_route(&F, n, "10.0.0.0/24", 0);
	REQUIRE(r > 0);
	v0 = fx_netmap_version(&F);
	snprintf(path, sizeof(path), "/api/v1/routes/%" PRId64, r);
	snprintf(idtext, sizeof(idtext), "%" PRId64, r);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin, "{\"approved\":true}"), 200);
	CHECK(json_is_true(json_object_get(F.r.json, "approved")));
	CHECK_INT(fx_jint(F.r.json, "node_id"), n);
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	CHECK_INT(fx_audit_count(&F, "route.approve", idtext, NULL), 1);
	/* The node shows the route as approved. */
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, n);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK(array_has(json_object_get(json_object_get(F.r.json, "routes"), "approved"),
			"10.0.0.0/24"));
	/* Approving again changes nothing. */
	snprintf(path, sizeof(path), "/api/v1/routes/%" PRId64, r);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin, "{\"approved\":true}"), 200);
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	CHECK_INT(fx_audit_count(&F, "route.approve", idtext, NULL), 1);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin, "{\"approved\":false}"), 200);
	CHECK(json_is_false(json_object_get(F.r.json, "approved")));
	CHECK_INT(fx_netmap_version(&F), v0 + 2);
	CHECK_INT(fx_audit_count(&F, "route.unapprove", idtext, NULL), 1);
}

static void patch_route_needs_a_boolean_approved(void)
{
	char path[64];
	int64_t n, r;

	REQUIRE(setup());
	n = fx_node(&F, "a", alice, NULL, 0, NULL);
	REQUIRE(n > 0);
	r = fx_route(&F, n, "10.0.0.0/24", 0);
	REQUIRE(r > 0);
	snprintf(path, sizeof(path), "/api/v1/routes/%" PRId64, r);
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{}"), 400);
	CHECK_STR(fx_err_code(&F.r), "invalid");
	CHECK_STR(fx_err_field(&F.r), "approved");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"approved\":1}"), 400);
	CHECK_STR(fx_err_code(&F.r), "wrong_type");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin,
		       "{\"approved\":true,\"prefix\":\"10.0.0.0/8\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "prefix");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "not json"), 400);
	CHECK_INT(fx_call(&F, "PATCH", "/api/v1/routes/999", F.admin,
		       "{\"approved\":true}"),
		  404);
	CHECK(strstr(fx_err_msg(&F.r), "999") != NULL);
	CHECK_INT(fx_call(&F, "PATCH", "/api/v1/routes/x", F.admin,
		       "{\"approved\":true}"),
		  404);
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(shows_node_with_every_documented_field),
	CHECK_CASE(tagged_node_has_null_user),
	CHECK_CASE(pagination_over_25_nodes_visits_each_once),
	CHECK_CASE(filters_nodes_by_tag_online_and_user),
	CHECK_CASE(rejects_bad_list_filters),
	CHECK_CASE(member_sees_only_own_nodes),
	CHECK_CASE(non_admin_principal_without_user_sees_no_nodes),
	CHECK_CASE(member_key_on_admin_routes_is_forbidden),
	CHECK_CASE(node_credential_is_refused_and_missing_token_unauthenticated),
	CHECK_CASE(missing_and_non_numeric_node_ids_are_404),
	CHECK_CASE(renames_node_with_audit_and_netmap_bump),
	CHECK_CASE(rejects_names_that_are_not_dns_labels),
	CHECK_CASE(rename_to_a_taken_name_conflicts),
	CHECK_CASE(sets_and_clears_tags),
	CHECK_CASE(rejects_bad_tags),
	CHECK_CASE(patch_rejects_malformed_unknown_and_mistyped_bodies),
	CHECK_CASE(expire_sets_expires_at_to_now_and_stops_the_credential),
	CHECK_CASE(deletes_node_and_its_routes),
	CHECK_CASE(lists_routes_filtered_by_node),
	CHECK_CASE(approving_a_route_bumps_netmap_and_audits),
	CHECK_CASE(patch_route_needs_a_boolean_approved),
	{0},
};

int main(int argc, char **argv)
{
	atexit(teardown);
	return check_main(argc, argv, cases);
}
