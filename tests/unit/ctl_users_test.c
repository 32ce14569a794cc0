/* /api/v1/users driven in-process against a real SQLite store. */
#include "check.h"

#include "controller/api.h"
#include "controller/cred.h"
#include "controller/metrics.h"
#include "controller/store.h"
#include "shared/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- fixture: a real SQLite store, the API over it, an admin key --- */

struct fx {
	struct store *st;
	struct metrics *m;
	struct api *api;
	char admin[CRED_TEXT_SIZE + 8]; /* "Bearer weft_api_..." */
};

static bool skip_backend(void)
{
	const char *be = getenv("WEFT_STORE_BACKEND");

	/* The process-level integration tests cover PostgreSQL. */
	return be && strcmp(be, "postgres") == 0;
}

static bool fx_open(struct fx *f, const char *name)
{
	struct store_apikey k = {.created_at = 1};
	struct store_tx *tx = NULL;
	char url[512], text[CRED_TEXT_SIZE];
	struct cred cr;

	memset(f, 0, sizeof(*f));
	snprintf(url, sizeof(url), "sqlite://%s/%s.db", check_tmpdir(), name);
	if (store_open(url, &f->st, NULL, 0) < 0 || metrics_new(&f->m) < 0 ||
	    api_new(f->st, f->m, NULL, &f->api) < 0)
		return false;
	/* A bootstrap key: no user, so an admin. */
	if (cred_new(CRED_API, NULL, text, &cr) < 0)
		return false;
	snprintf(k.prefix, sizeof(k.prefix), "%s", cr.id);
	snprintf(k.hash, sizeof(k.hash), "%s", cr.hash);
	if (store_begin(f->st, STORE_WRITE, &tx) < 0)
		return false;
	if (store_apikey_create(tx, &k) < 0) {
		store_rollback(tx);
		return false;
	}
	if (store_commit(tx) < 0)
		return false;
	snprintf(f->admin, sizeof(f->admin), "Bearer %s", text);
	return true;
}

static void fx_close(struct fx *f)
{
	api_del(f->api);
	metrics_del(f->m);
	store_close(f->st);
}

struct query {
	const char *s; /* "a=1&b=2" */
	char buf[256];
};

static const char *query_get(void *ctx, const char *key)
{
	struct query *q = ctx;
	size_t klen = strlen(key);

	for (const char *p = q->s; p && *p;) {
		const char *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=' &&
		    n - klen - 1 < sizeof(q->buf)) {
			memcpy(q->buf, p + klen + 1, n - klen - 1);
			q->buf[n - klen - 1] = '\0';
			return q->buf;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/* Runs one request; resp is freed first, so one resp can be reused. */
static int req(struct fx *f, const char *auth, const char *method,
	       const char *path, const char *query, const char *body,
	       struct http_resp *resp)
{
	struct query q = {.s = query};
	struct http_req r = {
		.method = method, .path = path, .authorization = auth,
		.body = body ? body : "", .body_len = body ? strlen(body) : 0,
		.query = query ? query_get : NULL, .query_ctx = &q,
	};

	http_resp_free(resp);
	memset(resp, 0, sizeof(*resp));
	api_handle(f->api, &r, resp);
	return resp->status;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int64_t jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *err_code(const struct http_resp *r)
{
	return jstr(json_object_get(r->json, "error"), "code");
}

static const char *err_field(const struct http_resp *r)
{
	return jstr(json_object_get(r->json, "error"), "field");
}

static const char *err_msg(const struct http_resp *r)
{
	return jstr(json_object_get(r->json, "error"), "message");
}

struct audit_seen {
	int n;
	struct store_audit last;
};

static int see_audit(void *ctx, const struct store_audit *a)
{
	struct audit_seen *s = ctx;

	s->n++;
	s->last = *a;
	return 0;
}

/* Counts audit rows with this action; *last (may be NULL) gets the newest. */
static int audit_rows(struct fx *f, const char *action,
		      struct store_audit *last)
{
	struct store_audit_filter af = {.action = action};
	struct store_page pg = {.after = 0, .limit = 1000};
	struct store_tx *tx = NULL;
	struct audit_seen s = {0};

	if (store_begin(f->st, STORE_READ, &tx) < 0)
		return -1;
	if (store_audit_list(tx, &af, &pg, see_audit, &s, NULL) < 0)
		s.n = -1;
	store_rollback(tx);
	if (last)
		*last = s.last;
	return s.n;
}

/* Creates a user directly in the store; returns its id or -1. */
static int64_t fx_user(struct fx *f, const char *name, const char *role)
{
	struct store_user u = {.created_at = 1};
	struct store_tx *tx = NULL;

	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.role, sizeof(u.role), "%s", role);
	if (store_begin(f->st, STORE_WRITE, &tx) < 0)
		return -1;
	if (store_user_create(tx, &u) < 0) {
		store_rollback(tx);
		return -1;
	}
	return store_commit(tx) < 0 ? -1 : u.id;
}

/* Creates an API key for user_id directly in the store and writes
 * "Bearer <key>" into bearer; returns the key's id or -1. */
static int64_t fx_apikey(struct fx *f, int64_t user_id,
			 char bearer[CRED_TEXT_SIZE + 8])
{
	struct store_apikey k = {.user_id = user_id, .created_at = 1};
	struct store_tx *tx = NULL;
	char text[CRED_TEXT_SIZE];
	struct cred cr;

	if (cred_new(CRED_API, NULL, text, &cr) < 0)
		return -1;
	snprintf(k.prefix, sizeof(k.prefix), "%s", cr.id);
	snprintf(k.hash, sizeof(k.hash), "%s", cr.hash);
	if (store_begin(f->st, STORE_WRITE, &tx) < 0)
		return -1;
	if (store_apikey_create(tx, &k) < 0) {
		store_rollback(tx);
		return -1;
	}
	if (store_commit(tx) < 0)
		return -1;
	snprintf(bearer, CRED_TEXT_SIZE + 8, "Bearer %s", text);
	return k.id;
}

/* Creates a node of user_id (0 = none) with a node credential directly in
 * the store; writes "Bearer <credential>" into bearer (may be NULL). */
static int64_t fx_node(struct fx *f, const char *name, int64_t user_id,
		       char *bearer)
{
	struct store_node n = {.user_id = user_id, .created_at = 1};
	struct store_tx *tx = NULL;
	char text[CRED_TEXT_SIZE], id[24];
	struct cred cr;

	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.public_key, sizeof(n.public_key), "pk-%s", name);
	if (store_begin(f->st, STORE_WRITE, &tx) < 0)
		return -1;
	if (store_node_create(tx, &n) < 0)
		goto fail;
	snprintf(id, sizeof(id), "%" PRId64, n.id);
	if (cred_new(CRED_NODE, id, text, &cr) < 0)
		goto fail;
	snprintf(n.cred_hash, sizeof(n.cred_hash), "%s", cr.hash);
	if (store_node_update(tx, &n) < 0)
		goto fail;
	if (store_commit(tx) < 0)
		return -1;
	if (bearer)
		snprintf(bearer, CRED_TEXT_SIZE + 8, "Bearer %s", text);
	return n.id;
fail:
	store_rollback(tx);
	return -1;
}
/* --- end of fixture --- */

static void admin_creates_user_with_defaults_and_audit_row(void)
{
	struct fx f;
	struct http_resp r = {0};
	struct store_audit a;
	char id[24];

	REQUIRE(fx_open(&f, "create"));
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"alice\"}", &r), 201);
	CHECK(jint(r.json, "id") > 0);
	CHECK_STR(jstr(r.json, "name"), "alice");
	CHECK_STR(jstr(r.json, "display_name"), "");
	CHECK_STR(jstr(r.json, "email"), "");
	CHECK_STR(jstr(r.json, "role"), "member");
	CHECK(jstr(r.json, "created_at") &&
	      strlen(jstr(r.json, "created_at")) == 20);
	snprintf(id, sizeof(id), "%" PRId64, jint(r.json, "id"));
	CHECK_INT(audit_rows(&f, "user.create", &a), 1);
	CHECK_STR(a.target_type, "user");
	CHECK_STR(a.target_id, id);
	CHECK(strncmp(a.actor, "apikey:", 7) == 0);
	CHECK(strstr(a.detail, "\"alice\"") != NULL);

	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"bob.b_2-x\",\"display_name\":\"Bob B\","
		      "\"email\":\"bob@example.com\",\"role\":\"admin\"}", &r),
		  201);
	CHECK_STR(jstr(r.json, "display_name"), "Bob B");
	CHECK_STR(jstr(r.json, "email"), "bob@example.com");
	CHECK_STR(jstr(r.json, "role"), "admin");
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
		CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL, bad[i],
			      &r), 400);
		CHECK_STR(err_field(&r), "name");
	}
	/* 63 characters is the longest name. */
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		      &r), 201);
	CHECK_INT(audit_rows(&f, "user.create", NULL), 1);
	http_resp_free(&r);
	fx_close(&f);
}

static void create_rejects_malformed_bodies_naming_the_field(void)
{
	struct fx f;
	struct http_resp r = {0};

	REQUIRE(fx_open(&f, "malformed"));
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":", &r), 400);
	CHECK_STR(err_code(&r), "parse_error");
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":7}", &r), 400);
	CHECK_STR(err_code(&r), "wrong_type");
	CHECK_STR(err_field(&r), "name");
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"x\",\"admin\":true}", &r), 400);
	CHECK_STR(err_code(&r), "invalid");
	CHECK_STR(err_field(&r), "admin");
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"role\":\"member\"}", &r), 400);
	CHECK_STR(err_field(&r), "name");
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"x\",\"role\":\"root\"}", &r), 400);
	CHECK_STR(err_field(&r), "role");
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"x\",\"email\":\"no-at-sign\"}", &r), 400);
	CHECK_STR(err_field(&r), "email");
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL, "[]", &r),
		  400);
	CHECK_INT(audit_rows(&f, "user.create", NULL), 0);
	http_resp_free(&r);
	fx_close(&f);
}

static void duplicate_name_is_409_naming_the_user(void)
{
	struct fx f;
	struct http_resp r = {0};

	REQUIRE(fx_open(&f, "dup"));
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"alice\"}", &r), 201);
	CHECK_INT(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"alice\"}", &r), 409);
	CHECK_STR(err_code(&r), "already_exists");
	CHECK_STR(err_field(&r), "name");
	CHECK_STR(err_msg(&r), "a user named alice exists");
	CHECK_INT(audit_rows(&f, "user.create", NULL), 1);
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
	CHECK_INT(req(&f, f.admin, "GET", "/api/v1/users", "limit=2", NULL, &r),
		  200);
	items = json_object_get(r.json, "items");
	CHECK_INT(json_array_size(items), 2);
	CHECK_STR(jstr(json_array_get(items, 0), "name"), "alice");
	REQUIRE(jstr(r.json, "next_cursor"));
	snprintf(q, sizeof(q), "limit=2&cursor=%s", jstr(r.json, "next_cursor"));
	CHECK_INT(req(&f, f.admin, "GET", "/api/v1/users", q, NULL, &r), 200);
	items = json_object_get(r.json, "items");
	CHECK_INT(json_array_size(items), 1);
	CHECK_STR(jstr(json_array_get(items, 0), "name"), "carol");
	CHECK(json_is_null(json_object_get(r.json, "next_cursor")));

	CHECK_INT(req(&f, f.admin, "GET", "/api/v1/users", "name=bob", NULL,
		      &r), 200);
	items = json_object_get(r.json, "items");
	CHECK_INT(json_array_size(items), 1);
	CHECK_STR(jstr(json_array_get(items, 0), "name"), "bob");
	CHECK_INT(req(&f, f.admin, "GET", "/api/v1/users", "limit=0", NULL, &r),
		  400);
	CHECK_STR(err_field(&r), "limit");
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
	CHECK_INT(req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK_INT(jint(r.json, "id"), id);
	CHECK_STR(jstr(r.json, "role"), "admin");
	CHECK_INT(req(&f, f.admin, "GET", "/api/v1/users/999", NULL, NULL, &r),
		  404);
	CHECK_STR(err_code(&r), "not_found");
	CHECK_STR(err_msg(&r), "no user with id 999");
	CHECK_INT(req(&f, f.admin, "GET", "/api/v1/users/abc", NULL, NULL, &r),
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
	REQUIRE(req(&f, f.admin, "POST", "/api/v1/users", NULL,
		    "{\"name\":\"alice\",\"email\":\"a@x.org\"}", &r) == 201);
	id = jint(r.json, "id");
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64, id);
	CHECK_INT(req(&f, f.admin, "PATCH", path, NULL,
		      "{\"role\":\"admin\",\"display_name\":\"Alice A\"}", &r),
		  200);
	CHECK_STR(jstr(r.json, "role"), "admin");
	CHECK_STR(jstr(r.json, "display_name"), "Alice A");
	CHECK_STR(jstr(r.json, "email"), "a@x.org");
	CHECK_STR(jstr(r.json, "name"), "alice");
	CHECK_INT(audit_rows(&f, "user.update", &a), 1);
	CHECK(strstr(a.detail, "\"role\":\"admin\"") != NULL);

	/* Stored, not just echoed. */
	CHECK_INT(req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
	CHECK_STR(jstr(r.json, "role"), "admin");

	CHECK_INT(req(&f, f.admin, "PATCH", path, NULL, "{\"name\":\"eve\"}",
		      &r), 400);
	CHECK_STR(err_field(&r), "name");
	CHECK_INT(req(&f, f.admin, "PATCH", path, NULL, "{\"role\":\"owner\"}",
		      &r), 400);
	CHECK_STR(err_field(&r), "role");
	CHECK_INT(req(&f, f.admin, "PATCH", "/api/v1/users/4242", NULL,
		      "{\"role\":\"admin\"}", &r), 404);
	CHECK_STR(err_msg(&r), "no user with id 4242");
	CHECK_INT(audit_rows(&f, "user.update", NULL), 1);
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
	CHECK_INT(req(&f, key, "GET", "/api/v1/users", NULL, NULL, &r), 200);
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64, id);
	CHECK_INT(req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 204);
	CHECK(r.json == NULL);
	CHECK_INT(audit_rows(&f, "user.delete", NULL), 1);
	CHECK_INT(req(&f, f.admin, "GET", path, NULL, NULL, &r), 404);
	CHECK_INT(req(&f, key, "GET", "/api/v1/users", NULL, NULL, &r), 401);
	CHECK_INT(req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 404);
	CHECK_INT(audit_rows(&f, "user.delete", NULL), 1);
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
	REQUIRE(fx_node(&f, "laptop", id, NULL) > 0);
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64, id);
	CHECK_INT(req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 409);
	CHECK_STR(err_code(&r), "conflict");
	CHECK(err_msg(&r) && strstr(err_msg(&r), "alice still owns nodes"));
	CHECK_INT(audit_rows(&f, "user.delete", NULL), 0);
	CHECK_INT(req(&f, f.admin, "GET", path, NULL, NULL, &r), 200);
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
	REQUIRE(fx_node(&f, "box", 0, node) > 0);
	CHECK_INT(req(&f, member, "GET", "/api/v1/users", NULL, NULL, &r), 403);
	CHECK_STR(err_code(&r), "forbidden");
	CHECK_INT(req(&f, member, "POST", "/api/v1/users", NULL,
		      "{\"name\":\"eve\"}", &r), 403);
	CHECK_INT(req(&f, node, "GET", "/api/v1/users", NULL, NULL, &r), 403);
	CHECK_INT(req(&f, NULL, "GET", "/api/v1/users", NULL, NULL, &r), 401);
	CHECK_STR(err_code(&r), "unauthenticated");
	CHECK_INT(req(&f, "Bearer weft_api_0123456789ab_nope", "GET",
		      "/api/v1/users", NULL, NULL, &r), 401);
	CHECK_INT(audit_rows(&f, "user.create", NULL), 0);
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
	{0},
};

int main(int argc, char **argv)
{
	if (skip_backend())
		return 0;
	return check_main(argc, argv, cases);
}
