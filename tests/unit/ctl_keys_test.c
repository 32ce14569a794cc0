/* /api/v1/auth-keys and /api/v1/api-keys driven in-process against a real
 * SQLite store. */
#include "check.h"
#include "ctl_fixture.h"

#include "controller/api.h"
#include "controller/cred.h"
#include "controller/metrics.h"
#include "controller/store.h"
#include "shared/clock.h"
#include "shared/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t jtime(const json_t *o, const char *key)
{
	int64_t t = 0;

	if (clock_parse_rfc3339(fx_jstr(o, key) ? fx_jstr(o, key) : "", &t) < 0)
		return -1;
	return t;
}

/* Creates a key with the given body; returns its id (or -1). */
static int64_t make_key(struct fx *f, const char *auth, const char *path,
			const char *body, char *key_out)
{
	struct http_resp r = {0};
	int64_t id = -1;

	if (fx_req(f, auth, "POST", path, NULL, body, &r) == 201) {
		id = fx_jint(r.json, "id");
		if (key_out)
			snprintf(key_out, CRED_TEXT_SIZE, "%s", fx_jstr(r.json, "key"));
	}
	http_resp_free(&r);
	return id;
}

/* Saves a policy that declares the tags these tests put on keys (owned
 * by admins only): keys may carry declared tags only. */
static void declare_tags(struct fx *f)
{
	REQUIRE_INT(fx_call(f, "PUT", "/api/v1/policy", f->admin,
			    "{\"tagOwners\": {\"tag:a\": [], \"tag:server\": [],"
			    " \"tag:db\": [], \"tag:aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": []}}"), 200);
}

static void admin_creates_auth_key_shown_once_and_stored_hashed(void)
{
	struct fx f;
	struct http_resp r = {0};
	struct store_authkey k;
	struct store_audit a;
	struct store_tx *tx = NULL;
	struct cred cr;
	char body[64], key[CRED_TEXT_SIZE], path[64];
	int64_t uid, now = clock_wall_s();

	REQUIRE(fx_open(&f, "authkey_create"));
	uid = fx_user(&f, "alice", "member");
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", uid);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL, body, &r),
		  201);
	REQUIRE(fx_jstr(r.json, "key"));
	snprintf(key, sizeof(key), "%s", fx_jstr(r.json, "key"));
	CHECK(strncmp(key, "weft_auth_", 10) == 0);
	CHECK_INT(fx_jint(r.json, "user_id"), uid);
	CHECK(json_is_false(json_object_get(r.json, "reusable")));
	CHECK(json_is_false(json_object_get(r.json, "ephemeral")));
	CHECK_INT(json_array_size(json_object_get(r.json, "tags")), 0);
	CHECK_INT(fx_jint(r.json, "used_count"), 0);
	CHECK(json_is_null(json_object_get(r.json, "revoked_at")));
	CHECK(json_is_true(json_object_get(r.json, "usable")));
	/* Default lifetime 24h. */
	CHECK(jtime(r.json, "expires_at") >= now + 86400 &&
	      jtime(r.json, "expires_at") <= clock_wall_s() + 86400);

	/* Only the hash of the secret is stored, under the key's prefix. */
	REQUIRE_INT(cred_parse(key, &cr), 0);
	CHECK_STR(fx_jstr(r.json, "prefix"), cr.id);
	REQUIRE_INT(store_begin(f.st, STORE_READ, &tx), 0);
	CHECK_INT(store_authkey_get_by_prefix(tx, cr.id, &k), 0);
	store_rollback(tx);
	CHECK_STR(k.hash, cr.hash);
	CHECK(strstr(k.hash, key + 10) == NULL);

	CHECK_INT(fx_audit_count(&f, "authkey.create", NULL, &a), 1);
	CHECK_STR(a.target_type, "authkey");
	CHECK(strstr(a.detail, key) == NULL);

	/* GET answers the key without the secret. */
	snprintf(path, sizeof(path), "/api/v1/auth-keys/%" PRId64,
		 fx_jint(r.json, "id"));
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK(json_object_get(r.json, "key") == NULL);
	CHECK_STR(fx_jstr(r.json, "prefix"), cr.id);
	http_resp_free(&r);
	fx_close(&f);
}

static void auth_key_fields_are_validated_by_name(void)
{
	static const struct {
		const char *body, *field, *code;
	} bad[] = {
		{"{\"tags\":[\"tag:a\"],\"expires_in\":\"soon\"}", "expires_in", "invalid"},
		{"{\"tags\":[\"tag:a\"],\"expires_in\":\"366d\"}", "expires_in", "out_of_range"},
		{"{\"tags\":[\"tag:a\"],\"expires_in\":\"0s\"}", "expires_in", "out_of_range"},
		{"{\"tags\":[\"server\"]}", "tags[0]", "invalid"},
		{"{\"tags\":[\"tag:a\",\"tag:Server\"]}", "tags[1]", "invalid"},
		/* 64 bytes in all: one more than every tag column holds. */
		{"{\"tags\":[\"tag:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}",
		 "tags[0]", "out_of_range"},
		{"{\"tags\":[\"tag:a\"],\"reusable\":\"yes\"}", "reusable", "wrong_type"},
		{"{\"tags\":[\"tag:a\"],\"ephemeral\":1}", "ephemeral", "wrong_type"},
		{"{\"tags\":\"tag:a\"}", "tags", "wrong_type"},
		{"{\"tags\":[\"tag:a\"],\"user\":1}", "user", "invalid"},
		{"{\"user_id\":0}", "user_id", "out_of_range"},
		{"{\"user_id\":999}", "user_id", "invalid"},
		{"{\"tags\":[\"tag:a\",\"tag:b\",\"tag:c\",\"tag:d\",\"tag:e\","
		 "\"tag:f\",\"tag:g\",\"tag:h\",\"tag:i\",\"tag:j\",\"tag:k\","
		 "\"tag:l\",\"tag:m\",\"tag:n\",\"tag:o\",\"tag:p\",\"tag:q\"]}",
		 "tags", "out_of_range"},
	};
	struct fx f;
	struct http_resp r = {0};

	REQUIRE(fx_open(&f, "authkey_bad"));
	declare_tags(&f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL,
			      bad[i].body, &r), 400);
		CHECK_STR(fx_err_field(&r), bad[i].field);
		CHECK_STR(fx_err_code(&r), bad[i].code);
	}
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL, "{", &r),
		  400);
	CHECK_STR(fx_err_code(&r), "parse_error");
	CHECK_INT(fx_audit_count(&f, "authkey.create", NULL, NULL), 0);
	/* The limits themselves are accepted. */
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL,
		      "{\"tags\":[\"tag:a\"],\"expires_in\":\"365d\"}", &r), 201);
	/* A tag of exactly 63 bytes fits. */
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL,
		      "{\"tags\":[\"tag:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}",
		      &r), 201);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL,
		      "{\"tags\":[\"tag:a\"],\"expires_in\":\"90m\"}", &r), 201);
	CHECK(jtime(r.json, "expires_at") - clock_wall_s() <= 5400 &&
	      jtime(r.json, "expires_at") - clock_wall_s() >= 5398);
	http_resp_free(&r);
	fx_close(&f);
}

static void admin_key_without_user_makes_tagged_only_key_that_needs_a_tag(void)
{
	struct fx f;
	struct http_resp r = {0};
	json_t *tags;

	REQUIRE(fx_open(&f, "authkey_tagged"));
	declare_tags(&f);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL, "{}", &r),
		  400);
	CHECK_STR(fx_err_field(&r), "tags");
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL,
		      "{\"tags\":[]}", &r), 400);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL,
		      "{\"tags\":[\"tag:server\",\"tag:db\",\"tag:server\"],"
		      "\"reusable\":true,\"ephemeral\":true}", &r), 201);
	CHECK(json_is_null(json_object_get(r.json, "user_id")));
	CHECK(json_is_true(json_object_get(r.json, "reusable")));
	CHECK(json_is_true(json_object_get(r.json, "ephemeral")));
	tags = json_object_get(r.json, "tags");
	CHECK_INT(json_array_size(tags), 2);
	CHECK_STR(json_string_value(json_array_get(tags, 0)), "tag:server");
	CHECK_STR(json_string_value(json_array_get(tags, 1)), "tag:db");
	CHECK_INT(fx_audit_count(&f, "authkey.create", NULL, NULL), 1);
	http_resp_free(&r);
	fx_close(&f);
}

/* tagOwners decide which tags a key may carry: a tag must be declared,
 * and a user's key needs the user to own it (by name or through a
 * group). Refusals are 400 naming the tag and create nothing. */
static void key_tags_must_be_declared_and_owned_by_its_user(void)
{
	struct fx f;
	struct http_resp r = {0};
	char body[128];
	int64_t alice, bob, carol;

	REQUIRE(fx_open(&f, "authkey_tagowners"));
	alice = fx_user(&f, "alice", "member");
	bob = fx_user(&f, "bob", "member");
	carol = fx_user(&f, "carol", "admin");
	/* No policy at all: no tag is declared. */
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL,
		      "{\"tags\":[\"tag:web\"]}", &r), 400);
	CHECK_STR(fx_err_code(&r), "invalid");
	CHECK_STR(fx_err_field(&r), "tags[0]");
	CHECK(strstr(fx_err_msg(&r), "\"tag:web\"") != NULL);
	CHECK(strstr(fx_err_msg(&r), "tagOwners") != NULL);
	REQUIRE_INT(fx_call(&f, "PUT", "/api/v1/policy", f.admin,
			    "{\"groups\": {\"group:ops\": [\"bob\"]},"
			    " \"tagOwners\": {\"tag:web\": [\"alice\"],"
			    " \"tag:db\": [\"group:ops\"], \"tag:infra\": []}}"),
		    200);
	/* Declared but not owned by the key's user; the second tag is the
	 * one at fault. */
	snprintf(body, sizeof(body),
		 "{\"user_id\":%" PRId64 ",\"tags\":[\"tag:web\",\"tag:db\"]}",
		 alice);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL, body,
		      &r), 400);
	CHECK_STR(fx_err_field(&r), "tags[1]");
	CHECK(strstr(fx_err_msg(&r), "\"alice\" does not own tag \"tag:db\"") !=
	      NULL);
	/* Owners only through "tag:x": [] (admins) are nobody's to use. */
	snprintf(body, sizeof(body),
		 "{\"user_id\":%" PRId64 ",\"tags\":[\"tag:infra\"]}", carol);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL, body,
		      &r), 400);
	CHECK_STR(fx_err_field(&r), "tags[0]");
	CHECK_INT(fx_audit_count(&f, "authkey.create", NULL, NULL), 0);
	/* Owned directly, through a group, and a tagged-only key. */
	snprintf(body, sizeof(body),
		 "{\"user_id\":%" PRId64 ",\"tags\":[\"tag:web\"]}", alice);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL, body,
		      &r), 201);
	snprintf(body, sizeof(body),
		 "{\"user_id\":%" PRId64 ",\"tags\":[\"tag:db\"]}", bob);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL, body,
		      &r), 201);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/auth-keys", NULL,
		      "{\"tags\":[\"tag:infra\",\"tag:web\"]}", &r), 201);
	CHECK_INT(fx_audit_count(&f, "authkey.create", NULL, NULL), 3);
	http_resp_free(&r);
	fx_close(&f);
}

static void member_creates_auth_keys_only_for_themself_and_untagged(void)
{
	struct fx f;
	struct http_resp r = {0};
	char member[CRED_TEXT_SIZE + 8], body[96];
	int64_t alice, bob;

	REQUIRE(fx_open(&f, "authkey_member"));
	alice = fx_user(&f, "alice", "member");
	bob = fx_user(&f, "bob", "member");
	REQUIRE(fx_apikey(&f, alice, member) > 0);
	CHECK_INT(fx_req(&f, member, "POST", "/api/v1/auth-keys", NULL, "{}", &r),
		  201);
	CHECK_INT(fx_jint(r.json, "user_id"), alice);
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", alice);
	CHECK_INT(fx_req(&f, member, "POST", "/api/v1/auth-keys", NULL, body, &r),
		  201);
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", bob);
	CHECK_INT(fx_req(&f, member, "POST", "/api/v1/auth-keys", NULL, body, &r),
		  403);
	CHECK_STR(fx_err_code(&r), "forbidden");
	CHECK_STR(fx_err_field(&r), "user_id");
	CHECK_INT(fx_req(&f, member, "POST", "/api/v1/auth-keys", NULL,
		      "{\"tags\":[\"tag:server\"]}", &r), 403);
	CHECK_STR(fx_err_field(&r), "tags");
	CHECK_INT(fx_audit_count(&f, "authkey.create", NULL, NULL), 2);
	http_resp_free(&r);
	fx_close(&f);
}

static void member_sees_and_revokes_only_their_own_auth_keys(void)
{
	struct fx f;
	struct http_resp r = {0};
	char member[CRED_TEXT_SIZE + 8], body[96], path[64], q[64];
	int64_t alice, bob, mine, theirs;
	json_t *items;

	REQUIRE(fx_open(&f, "authkey_visibility"));
	alice = fx_user(&f, "alice", "member");
	bob = fx_user(&f, "bob", "member");
	REQUIRE(fx_apikey(&f, alice, member) > 0);
	mine = make_key(&f, member, "/api/v1/auth-keys", "{}", NULL);
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", bob);
	theirs = make_key(&f, f.admin, "/api/v1/auth-keys", body, NULL);
	REQUIRE(mine > 0 && theirs > 0);

	snprintf(path, sizeof(path), "/api/v1/auth-keys/%" PRId64, theirs);
	CHECK_INT(fx_req(&f, member, "GET", path, NULL, NULL, &r), 404);
	snprintf(body, sizeof(body), "no auth key with id %" PRId64, theirs);
	CHECK_STR(fx_err_msg(&r), body);
	CHECK_INT(fx_req(&f, member, "DELETE", path, NULL, NULL, &r), 404);
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK(json_is_null(json_object_get(r.json, "revoked_at")));

	CHECK_INT(fx_req(&f, member, "GET", "/api/v1/auth-keys", NULL, NULL, &r),
		  200);
	items = json_object_get(r.json, "items");
	CHECK_INT(json_array_size(items), 1);
	CHECK_INT(fx_jint(json_array_get(items, 0), "id"), mine);
	snprintf(q, sizeof(q), "user_id=%" PRId64, bob);
	CHECK_INT(fx_req(&f, member, "GET", "/api/v1/auth-keys", q, NULL, &r), 403);
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/auth-keys", NULL, NULL, &r),
		  200);
	CHECK_INT(json_array_size(json_object_get(r.json, "items")), 2);
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/auth-keys", q, NULL, &r), 200);
	items = json_object_get(r.json, "items");
	CHECK_INT(json_array_size(items), 1);
	CHECK_INT(fx_jint(json_array_get(items, 0), "id"), theirs);
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/auth-keys", "user_id=x",
		      NULL, &r), 400);
	CHECK_STR(fx_err_field(&r), "user_id");

	snprintf(path, sizeof(path), "/api/v1/auth-keys/%" PRId64, mine);
	CHECK_INT(fx_req(&f, member, "DELETE", path, NULL, NULL, &r), 200);
	CHECK(fx_jstr(r.json, "revoked_at") != NULL);
	CHECK_INT(fx_audit_count(&f, "authkey.revoke", NULL, NULL), 1);
	http_resp_free(&r);
	fx_close(&f);
}

static void revoking_an_auth_key_is_idempotent_and_hides_it_from_lists(void)
{
	struct fx f;
	struct http_resp r = {0};
	char path[64], first[32];
	int64_t id;

	REQUIRE(fx_open(&f, "authkey_revoke"));
	declare_tags(&f);
	id = make_key(&f, f.admin, "/api/v1/auth-keys", "{\"tags\":[\"tag:a\"]}",
		      NULL);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/auth-keys/%" PRId64, id);
	CHECK_INT(fx_req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 200);
	REQUIRE(fx_jstr(r.json, "revoked_at"));
	snprintf(first, sizeof(first), "%s", fx_jstr(r.json, "revoked_at"));
	CHECK(json_is_false(json_object_get(r.json, "usable")));
	CHECK_INT(fx_req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 200);
	CHECK_STR(fx_jstr(r.json, "revoked_at"), first);
	CHECK_INT(fx_audit_count(&f, "authkey.revoke", NULL, NULL), 1);

	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/auth-keys", NULL, NULL, &r),
		  200);
	CHECK_INT(json_array_size(json_object_get(r.json, "items")), 0);
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/auth-keys",
		      "include_revoked=true", NULL, &r), 200);
	CHECK_INT(json_array_size(json_object_get(r.json, "items")), 1);
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/auth-keys",
		      "include_revoked=yes", NULL, &r), 400);
	CHECK_STR(fx_err_field(&r), "include_revoked");
	CHECK_INT(fx_req(&f, f.admin, "DELETE", "/api/v1/auth-keys/77", NULL, NULL,
		      &r), 404);
	CHECK_STR(fx_err_msg(&r), "no auth key with id 77");
	http_resp_free(&r);
	fx_close(&f);
}

static void usable_turns_false_for_used_one_off_and_expired_keys(void)
{
	struct fx f;
	struct http_resp r = {0};
	struct store_tx *tx = NULL;
	struct store_authkey k;
	char path[64];
	int64_t once, many;

	REQUIRE(fx_open(&f, "authkey_usable"));
	declare_tags(&f);
	once = make_key(&f, f.admin, "/api/v1/auth-keys", "{\"tags\":[\"tag:a\"]}",
			NULL);
	many = make_key(&f, f.admin, "/api/v1/auth-keys",
			"{\"tags\":[\"tag:a\"],\"reusable\":true}", NULL);
	REQUIRE(once > 0 && many > 0);
	REQUIRE_INT(store_begin(f.st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_authkey_use(tx, once), 0);
	CHECK_INT(store_authkey_use(tx, many), 0);
	CHECK_INT(store_commit(tx), 0);
	snprintf(path, sizeof(path), "/api/v1/auth-keys/%" PRId64, once);
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK_INT(fx_jint(r.json, "used_count"), 1);
	CHECK(json_is_false(json_object_get(r.json, "usable")));
	snprintf(path, sizeof(path), "/api/v1/auth-keys/%" PRId64, many);
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK(json_is_true(json_object_get(r.json, "usable")));

	REQUIRE_INT(store_begin(f.st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_authkey_get(tx, many, &k), 0);
	k.expires_at = clock_wall_s() - 1;
	CHECK_INT(store_authkey_update(tx, &k), 0);
	CHECK_INT(store_commit(tx), 0);
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK(json_is_false(json_object_get(r.json, "usable")));
	http_resp_free(&r);
	fx_close(&f);
}

static void api_key_lifecycle_create_use_revoke_then_401(void)
{
	struct fx f;
	struct http_resp r = {0};
	struct store_audit a;
	char body[96], path[64], key[CRED_TEXT_SIZE], bearer[CRED_TEXT_SIZE + 8];
	int64_t uid, id;

	REQUIRE(fx_open(&f, "apikey_life"));
	uid = fx_user(&f, "root", "admin");
	snprintf(body, sizeof(body),
		 "{\"user_id\":%" PRId64 ",\"description\":\"ci runner\"}", uid);
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/api-keys", NULL, body, &r),
		  201);
	REQUIRE(fx_jstr(r.json, "key"));
	snprintf(key, sizeof(key), "%s", fx_jstr(r.json, "key"));
	CHECK(strncmp(key, "weft_api_", 9) == 0);
	id = fx_jint(r.json, "id");
	CHECK_INT(fx_jint(r.json, "user_id"), uid);
	CHECK_STR(fx_jstr(r.json, "description"), "ci runner");
	CHECK(json_is_null(json_object_get(r.json, "expires_at")));
	CHECK(json_is_null(json_object_get(r.json, "revoked_at")));
	CHECK(json_is_null(json_object_get(r.json, "last_used_at")));
	CHECK_INT(fx_audit_count(&f, "apikey.create", NULL, &a), 1);
	CHECK(strstr(a.detail, key) == NULL);

	snprintf(bearer, sizeof(bearer), "Bearer %s", key);
	CHECK_INT(fx_req(&f, bearer, "GET", "/api/v1/users", NULL, NULL, &r), 200);
	snprintf(path, sizeof(path), "/api/v1/api-keys/%" PRId64, id);
	CHECK_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK(json_object_get(r.json, "key") == NULL);
	CHECK(fx_jstr(r.json, "last_used_at") != NULL);

	CHECK_INT(fx_req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 200);
	CHECK(fx_jstr(r.json, "revoked_at") != NULL);
	CHECK_INT(fx_audit_count(&f, "apikey.revoke", NULL, NULL), 1);
	CHECK_INT(fx_req(&f, bearer, "GET", "/api/v1/users", NULL, NULL, &r), 401);
	CHECK_STR(fx_err_code(&r), "unauthenticated");
	CHECK_INT(fx_req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 200);
	CHECK_INT(fx_audit_count(&f, "apikey.revoke", NULL, NULL), 1);
	http_resp_free(&r);
	fx_close(&f);
}

static void expired_api_key_is_401(void)
{
	struct fx f;
	struct http_resp r = {0};
	struct store_tx *tx = NULL;
	struct store_apikey k;
	char key[CRED_TEXT_SIZE], bearer[CRED_TEXT_SIZE + 8];
	int64_t id, t;

	REQUIRE(fx_open(&f, "apikey_expired"));
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/api-keys", NULL,
		      "{\"expires_in\":\"1h\"}", &r), 201);
	t = jtime(r.json, "expires_at");
	CHECK(t > clock_wall_s() + 3590 && t <= clock_wall_s() + 3600);
	CHECK(json_is_null(json_object_get(r.json, "user_id")));
	id = fx_jint(r.json, "id");
	snprintf(key, sizeof(key), "%s", fx_jstr(r.json, "key"));
	snprintf(bearer, sizeof(bearer), "Bearer %s", key);
	/* A key without a user acts as an admin. */
	CHECK_INT(fx_req(&f, bearer, "GET", "/api/v1/api-keys", NULL, NULL, &r),
		  200);
	CHECK_INT(json_array_size(json_object_get(r.json, "items")), 2);

	REQUIRE_INT(store_begin(f.st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_apikey_get(tx, id, &k), 0);
	k.expires_at = clock_wall_s() - 1;
	CHECK_INT(store_apikey_update(tx, &k), 0);
	CHECK_INT(store_commit(tx), 0);
	CHECK_INT(fx_req(&f, bearer, "GET", "/api/v1/api-keys", NULL, NULL, &r),
		  401);
	http_resp_free(&r);
	fx_close(&f);
}

static void api_key_body_and_ids_are_checked(void)
{
	struct fx f;
	struct http_resp r = {0};
	char q[64];
	int64_t uid;

	REQUIRE(fx_open(&f, "apikey_bad"));
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/api-keys", NULL,
		      "{\"user_id\":31337}", &r), 400);
	CHECK_STR(fx_err_field(&r), "user_id");
	CHECK_STR(fx_err_msg(&r), "no user with id 31337");
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/api-keys", NULL,
		      "{\"expires_in\":\"forever\"}", &r), 400);
	CHECK_STR(fx_err_field(&r), "expires_in");
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/api-keys", NULL,
		      "{\"description\":5}", &r), 400);
	CHECK_STR(fx_err_code(&r), "wrong_type");
	CHECK_INT(fx_req(&f, f.admin, "POST", "/api/v1/api-keys", NULL,
		      "{\"role\":\"admin\"}", &r), 400);
	CHECK_STR(fx_err_field(&r), "role");
	CHECK_INT(fx_audit_count(&f, "apikey.create", NULL, NULL), 0);
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/api-keys/5", NULL, NULL, &r),
		  404);
	CHECK_STR(fx_err_msg(&r), "no API key with id 5");

	uid = fx_user(&f, "alice", "member");
	REQUIRE(make_key(&f, f.admin, "/api/v1/api-keys", "{}", NULL) > 0);
	snprintf(q, sizeof(q), "{\"user_id\":%" PRId64 "}", uid);
	REQUIRE(make_key(&f, f.admin, "/api/v1/api-keys", q, NULL) > 0);
	snprintf(q, sizeof(q), "user_id=%" PRId64, uid);
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/api-keys", q, NULL, &r), 200);
	CHECK_INT(json_array_size(json_object_get(r.json, "items")), 1);
	http_resp_free(&r);
	fx_close(&f);
}

static void members_and_nodes_cannot_manage_api_keys(void)
{
	struct fx f;
	struct http_resp r = {0};
	char member[CRED_TEXT_SIZE + 8], node[CRED_TEXT_SIZE + 8];
	int64_t uid;

	REQUIRE(fx_open(&f, "apikey_authz"));
	uid = fx_user(&f, "alice", "member");
	REQUIRE(fx_apikey(&f, uid, member) > 0);
	REQUIRE(fx_node(&f, "box", uid, NULL, 0, node) > 0);
	CHECK_INT(fx_req(&f, member, "POST", "/api/v1/api-keys", NULL, "{}", &r),
		  403);
	CHECK_INT(fx_req(&f, member, "GET", "/api/v1/api-keys", NULL, NULL, &r),
		  403);
	CHECK_INT(fx_req(&f, member, "DELETE", "/api/v1/api-keys/1", NULL, NULL, &r),
		  403);
	/* A node credential is a valid token but not an API key. */
	CHECK_INT(fx_req(&f, node, "GET", "/api/v1/auth-keys", NULL, NULL, &r),
		  403);
	CHECK_INT(fx_req(&f, node, "POST", "/api/v1/auth-keys", NULL, "{}", &r),
		  403);
	CHECK_INT(fx_req(&f, NULL, "GET", "/api/v1/auth-keys", NULL, NULL, &r),
		  401);
	CHECK_INT(fx_audit_count(&f, "authkey.create", NULL, NULL), 0);
	CHECK_INT(fx_audit_count(&f, "apikey.create", NULL, NULL), 0);
	http_resp_free(&r);
	fx_close(&f);
}

static const struct check_case cases[] = {
	CHECK_CASE(admin_creates_auth_key_shown_once_and_stored_hashed),
	CHECK_CASE(auth_key_fields_are_validated_by_name),
	CHECK_CASE(admin_key_without_user_makes_tagged_only_key_that_needs_a_tag),
	CHECK_CASE(key_tags_must_be_declared_and_owned_by_its_user),
	CHECK_CASE(member_creates_auth_keys_only_for_themself_and_untagged),
	CHECK_CASE(member_sees_and_revokes_only_their_own_auth_keys),
	CHECK_CASE(revoking_an_auth_key_is_idempotent_and_hides_it_from_lists),
	CHECK_CASE(usable_turns_false_for_used_one_off_and_expired_keys),
	CHECK_CASE(api_key_lifecycle_create_use_revoke_then_401),
	CHECK_CASE(expired_api_key_is_401),
	CHECK_CASE(api_key_body_and_ids_are_checked),
	CHECK_CASE(members_and_nodes_cannot_manage_api_keys),
	{0},
};

int main(int argc, char **argv)
{
	if (fx_skip())
		return 0;
	return check_main(argc, argv, cases);
}
