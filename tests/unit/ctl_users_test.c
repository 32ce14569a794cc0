/* /api/v1/users driven in-process against a real store (SQLite, and
 * PostgreSQL as <name>_postgres). */
#include "check.h"
#include "ctl_fixture.h"

#include "controller/api.h"
#include "controller/cred.h"
#include "controller/metrics.h"
#include "controller/store.h"
#include "shared/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void admin_creates_user_with_defaults_and_audit_row(void)
{
	struct fx f;
	struct http_resp r = {0};
	struct store_audit a;
	char id[24];

	REQUIRE(fx_open(&f, "create"));
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"alice\"}", &r), 201);
	CHECK(fx_jint(r.json, "id") > 0);
	CHECK_STR(fx_jstr(r.json, "name"), "alice");
	CHECK_STR(fx_jstr(r.json, "display_name"), "");
	CHECK_STR(fx_jstr(r.json, "email"), "");
	CHECK_STR(fx_jstr(r.json, "role"), "member");
	CHECK(fx_jstr(r.json, "created_at") &&
	      strlen(fx_jstr(r.json, "created_at")) == 20);
	snprintf(id, sizeof(id), "%" PRId64, fx_jint(r.json, "id"));
	CHECK_INT(fx_audit_count(&f, "user.create", NULL, &a), 1);
	CHECK_STR(a.target_type, "user");
	CHECK_STR(a.target_id, id);
	CHECK(strncmp(a.actor, "apikey:", 7) == 0);
	CHECK(strstr(a.detail, "\"alice\"") != NULL);

	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"bob.b_2-x\",\"display_name\":\"Bob B\","
		      "\"email\":\"bob@example.com\",\"role\":\"admin\"}", &r),
		  201);
	CHECK_STR(fx_jstr(r.json, "display_name"), "Bob B");
	CHECK_STR(fx_jstr(r.json, "email"), "bob@example.com");
	CHECK_STR(fx_jstr(r.json, "role"), "admin");
	http_resp_free(&r);
	fx_close(&f);
}

static void create_rejects_names_outside_the_rules(void)
{
	static const char *const bad[] = {
		"{\"name\":\"Alice\"}", "{\"name\":\"-bob\"}",
		"{\"name\":\".x\"}", "{\"name\":\"\"}", "{\"name\":\"a b\"}",
		"{\"name\":\"j\\u00f6rg\"}",
		"{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	};
	struct fx f;
	struct http_resp r = {0};

	REQUIRE(fx_open(&f, "badname"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL, bad[i],
			      &r), 400);
		CHECK_STR(fx_err_field(&r), "name");
	}
	/* 63 characters is the longest name. */
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		      &r), 201);
	CHECK_INT(fx_audit_count(&f, "user.create", NULL, NULL), 1);
	http_resp_free(&r);
	fx_close(&f);
}

static void create_rejects_malformed_bodies_naming_the_field(void)
{
	struct fx f;
	struct http_resp r = {0};

	REQUIRE(fx_open(&f, "malformed"));
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":", &r), 400);
	CHECK_STR(fx_err_code(&r), "parse_error");
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":7}", &r), 400);
	CHECK_STR(fx_err_code(&r), "wrong_type");
	CHECK_STR(fx_err_field(&r), "name");
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"x\",\"admin\":true}", &r), 400);
	CHECK_STR(fx_err_code(&r), "invalid");
	CHECK_STR(fx_err_field(&r), "admin");
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"role\":\"member\"}", &r), 400);
	CHECK_STR(fx_err_field(&r), "name");
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"x\",\"role\":\"root\"}", &r), 400);
	CHECK_STR(fx_err_field(&r), "role");
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"x\",\"email\":\"no-at-sign\"}", &r), 400);
	CHECK_STR(fx_err_field(&r), "email");
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL, "[]", &r),
		  400);
	CHECK_INT(fx_audit_count(&f, "user.create", NULL, NULL), 0);
	http_resp_free(&r);
	fx_close(&f);
}

static void duplicate_name_is_409_naming_the_user(void)
{
	struct fx f;
	struct http_resp r = {0};

	REQUIRE(fx_open(&f, "dup"));
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"alice\"}", &r), 201);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"alice\"}", &r), 409);
	CHECK_STR(fx_err_code(&r), "already_exists");
	CHECK_STR(fx_err_field(&r), "name");
	CHECK_STR(fx_err_msg(&r), "a user named alice exists");
	CHECK_INT(fx_audit_count(&f, "user.create", NULL, NULL), 1);
	http_resp_free(&r);
	fx_close(&f);
}

static void lists_users_by_page_and_by_name(void)
{
	struct fx f;
	struct http_resp r = {0};
	json_t *items;
	char q[64];

	REQUIRE(fx_open(&f, "list"));
	REQUIRE(fx_user(&f, "alice", "member") > 0);
	REQUIRE(fx_user(&f, "bob", "member") > 0);
	REQUIRE(fx_user(&f, "carol", "admin") > 0);
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/users", "limit=2", NULL, &r),
		  200);
	items = json_object_get(r.json, "items");
	CHECK_INT(json_array_size(items), 2);
	CHECK_STR(fx_jstr(json_array_get(items, 0), "name"), "alice");
	REQUIRE(fx_jstr(r.json, "next_cursor"));
	snprintf(q, sizeof(q), "limit=2&cursor=%s", fx_jstr(r.json, "next_cursor"));
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/users", q, NULL, &r), 200);
	items = json_object_get(r.json, "items");
	CHECK_INT(json_array_size(items), 1);
	CHECK_STR(fx_jstr(json_array_get(items, 0), "name"), "carol");
	CHECK(json_is_null(json_object_get(r.json, "next_cursor")));

	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/users", "name=bob", NULL,
		      &r), 200);
	items = json_object_get(r.json, "items");
	CHECK_INT(json_array_size(items), 1);
	CHECK_STR(fx_jstr(json_array_get(items, 0), "name"), "bob");
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/users", "limit=0", NULL, &r),
		  400);
	CHECK_STR(fx_err_field(&r), "limit");
	http_resp_free(&r);
	fx_close(&f);
}

static void get_answers_the_user_or_404_naming_the_id(void)
{
	struct fx f;
	struct http_resp r = {0};
	char path[64];
	int64_t id;

	REQUIRE(fx_open(&f, "get"));
	id = fx_user(&f, "alice", "admin");
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64, id);
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK_INT(fx_jint(r.json, "id"), id);
	CHECK_STR(fx_jstr(r.json, "role"), "admin");
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/users/999", NULL, NULL, &r),
		  404);
	CHECK_STR(fx_err_code(&r), "not_found");
	CHECK_STR(fx_err_msg(&r), "no user with id 999");
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/users/abc", NULL, NULL, &r),
		  404);
	http_resp_free(&r);
	fx_close(&f);
}

static void patch_changes_only_the_given_fields(void)
{
	struct fx f;
	struct http_resp r = {0};
	struct store_audit a;
	char path[64];
	int64_t id;

	REQUIRE(fx_open(&f, "patch"));
	REQUIRE(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		    "{\"name\":\"alice\",\"email\":\"a@x.org\"}", &r) == 201);
	id = fx_jint(r.json, "id");
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64, id);
	CHECK_INT(fx_req(&f, f.admin, "PATCH", path, NULL,
		      "{\"role\":\"admin\",\"display_name\":\"Alice A\"}", &r),
		  200);
	CHECK_STR(fx_jstr(r.json, "role"), "admin");
	CHECK_STR(fx_jstr(r.json, "display_name"), "Alice A");
	CHECK_STR(fx_jstr(r.json, "email"), "a@x.org");
	CHECK_STR(fx_jstr(r.json, "name"), "alice");
	CHECK_INT(fx_audit_count(&f, "user.update", NULL, &a), 1);
	CHECK(strstr(a.detail, "\"role\":\"admin\"") != NULL);

	/* Stored, not just echoed. */
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK_STR(fx_jstr(r.json, "role"), "admin");

	CHECK_INT(fx_req(&f, f.admin, "PATCH", path, NULL, "{\"name\":\"eve\"}",
		      &r), 400);
	CHECK_STR(fx_err_field(&r), "name");
	CHECK_INT(fx_req(&f, f.admin, "PATCH", path, NULL, "{\"role\":\"owner\"}",
		      &r), 400);
	CHECK_STR(fx_err_field(&r), "role");
	CHECK_INT(fx_req(&f, f.admin, "PATCH", "/api/v1/users/4242", NULL,
		      "{\"role\":\"admin\"}", &r), 404);
	CHECK_STR(fx_err_msg(&r), "no user with id 4242");
	CHECK_INT(fx_audit_count(&f, "user.update", NULL, NULL), 1);
	http_resp_free(&r);
	fx_close(&f);
}

static void delete_is_204_and_takes_the_users_api_keys_along(void)
{
	struct fx f;
	struct http_resp r = {0};
	char path[64], key[CRED_TEXT_SIZE + 8];
	int64_t id;

	REQUIRE(fx_open(&f, "delete"));
	id = fx_user(&f, "alice", "admin");
	REQUIRE(id > 0);
	REQUIRE(fx_apikey(&f, id, key) > 0);
	CHECK_INT(fx_req(&f, key, "GET", "/api/v1/users", NULL, NULL, &r), 200);
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64, id);
	CHECK_INT(fx_req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 204);
	CHECK(r.json == NULL);
	CHECK_INT(fx_audit_count(&f, "user.delete", NULL, NULL), 1);
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 404);
	CHECK_INT(fx_req(&f, key, "GET", "/api/v1/users", NULL, NULL, &r), 401);
	CHECK_INT(fx_req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 404);
	CHECK_INT(fx_audit_count(&f, "user.delete", NULL, NULL), 1);
	http_resp_free(&r);
	fx_close(&f);
}

static void deleting_a_user_who_owns_nodes_is_409(void)
{
	struct fx f;
	struct http_resp r = {0};
	char path[64];
	int64_t id;

	REQUIRE(fx_open(&f, "owns"));
	id = fx_user(&f, "alice", "member");
	REQUIRE(id > 0);
	REQUIRE(fx_node(&f, "laptop", id, NULL, 0, NULL) > 0);
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64, id);
	CHECK_INT(fx_req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 409);
	CHECK_STR(fx_err_code(&r), "conflict");
	CHECK(fx_err_msg(&r) && strstr(fx_err_msg(&r), "alice still owns nodes"));
	CHECK_INT(fx_audit_count(&f, "user.delete", NULL, NULL), 0);
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	http_resp_free(&r);
	fx_close(&f);
}

static void only_admin_api_keys_may_manage_users(void)
{
	struct fx f;
	struct http_resp r = {0};
	char member[CRED_TEXT_SIZE + 8], node[CRED_TEXT_SIZE + 8];
	int64_t uid;

	REQUIRE(fx_open(&f, "authz"));
	uid = fx_user(&f, "mallory", "member");
	REQUIRE(fx_apikey(&f, uid, member) > 0);
	REQUIRE(fx_node(&f, "box", 0, NULL, 0, node) > 0);
	CHECK_INT(fx_req(&f, member, "GET", "/api/v1/users", NULL, NULL, &r), 403);
	CHECK_STR(fx_err_code(&r), "forbidden");
	CHECK_INT(fx_req(&f, member, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"eve\"}", &r), 403);
	CHECK_INT(fx_req(&f, node, "GET", "/api/v1/users", NULL, NULL, &r), 403);
	CHECK_INT(fx_req(&f, NULL, "GET", "/api/v1/users", NULL, NULL, &r), 401);
	CHECK_STR(fx_err_code(&r), "unauthenticated");
	CHECK_INT(fx_req(&f, "Bearer weft_api_0123456789ab_nope", "GET",
		      "/api/v1/users", NULL, NULL, &r), 401);
	CHECK_INT(fx_audit_count(&f, "user.create", NULL, NULL), 0);
	http_resp_free(&r);
	fx_close(&f);
}

/* has_password says whether a password is set, in every user answer (one,
 * list, create, update), and is the only trace of it: no hash, no salt. */
static void has_password_is_shown_but_never_the_hash(void)
{
	struct fx f;
	struct http_resp r = {0};
	struct store_tx *tx = NULL;
	char path[64], hash[STORE_PWHASH_SIZE], *text;
	json_t *items;
	int64_t alice, bob, carol;

	REQUIRE(fx_open(&f, "haspw"));
	REQUIRE(fx_req(&f, f.admin, "POST", "/api/v1/users", NULL,
		       "{\"name\":\"alice\"}", &r) == 201);
	CHECK(json_is_false(json_object_get(r.json, "has_password")));
	alice = fx_jint(r.json, "id");
	bob = fx_user(&f, "bob", "member");
	carol = fx_user(&f, "carol", "member");
	REQUIRE(bob > 0 && carol > 0);
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64 "/password", bob);
	REQUIRE_INT(fx_req(&f, f.admin, "PUT", path, NULL,
			   "{\"password\":\"bob-password-1\"}", &r), 204);
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64 "/password", carol);
	REQUIRE_INT(fx_req(&f, f.admin, "PUT", path, NULL,
			   "{\"password\":\"carol-password\"}", &r), 204);

	/* One page that starts and ends without a password ... */
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/users", "limit=2", NULL,
		      &r), 200);
	items = json_object_get(r.json, "items");
	REQUIRE(json_array_size(items) == 2);
	CHECK(json_is_false(json_object_get(json_array_get(items, 0), "has_password")));
	CHECK(json_is_true(json_object_get(json_array_get(items, 1), "has_password")));
	/* ... and the whole list. */
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/users", NULL, NULL, &r),
		  200);
	items = json_object_get(r.json, "items");
	REQUIRE(json_array_size(items) == 3);
	CHECK(json_is_false(json_object_get(json_array_get(items, 0), "has_password")));
	CHECK(json_is_true(json_object_get(json_array_get(items, 1), "has_password")));
	CHECK(json_is_true(json_object_get(json_array_get(items, 2), "has_password")));
	text = json_dumps(r.json, 0);
	REQUIRE(text != NULL);
	REQUIRE_INT(store_begin(f.st, STORE_READ, &tx), 0);
	REQUIRE_INT(store_user_password_get(tx, bob, hash), 0);
	store_rollback(tx);
	CHECK(strstr(text, "argon2") == NULL);
	CHECK(strstr(text, strrchr(hash, '$') + 1) == NULL);
	CHECK(strstr(text, "password_hash") == NULL);
	free(text);

	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64, bob);
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK(json_is_true(json_object_get(r.json, "has_password")));
	CHECK_INT(fx_req(&f, f.admin, "PATCH", path, NULL,
		      "{\"display_name\":\"Bob\"}", &r), 200);
	CHECK(json_is_true(json_object_get(r.json, "has_password")));
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64, alice);
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK(json_is_false(json_object_get(r.json, "has_password")));
	CHECK_INT(fx_req(&f, f.admin, "PATCH", path, NULL,
		      "{\"role\":\"admin\"}", &r), 200);
	CHECK(json_is_false(json_object_get(r.json, "has_password")));
	http_resp_free(&r);
	fx_close(&f);
}

static const struct check_case cases[] = {
	CHECK_CASE(admin_creates_user_with_defaults_and_audit_row),
	CHECK_CASE(create_rejects_names_outside_the_rules),
	CHECK_CASE(create_rejects_malformed_bodies_naming_the_field),
	CHECK_CASE(duplicate_name_is_409_naming_the_user),
	CHECK_CASE(lists_users_by_page_and_by_name),
	CHECK_CASE(get_answers_the_user_or_404_naming_the_id),
	CHECK_CASE(patch_changes_only_the_given_fields),
	CHECK_CASE(delete_is_204_and_takes_the_users_api_keys_along),
	CHECK_CASE(deleting_a_user_who_owns_nodes_is_409),
	CHECK_CASE(only_admin_api_keys_may_manage_users),
	CHECK_CASE(has_password_is_shown_but_never_the_hash),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
