/* Nodes and routes API (controller/api_nodes.c), in process over a real
 * SQLite store. Nodes are made directly in the store: registration has its
 * own tests. */
#include "check.h"
#include "controller/api.h"
#include "controller/cred.h"
#include "controller/store.h"
#include "shared/clock.h"

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

static int64_t ifield(const char *key)
{
	return json_integer_value(field(key));
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

static int64_t netmap_version(void)
{
	struct store_tx *tx;
	int64_t v = -1;

	if (store_begin(F.st, STORE_READ, &tx) < 0)
		return -1;
	store_netmap_version(tx, &v);
	store_rollback(tx);
	return v;
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

/* A node made directly in the store (registration is not under test
 * here): name, owner (0 = tagged), tags JSON text, online. */
static int64_t mk_node(const char *name, int64_t user_id, const char *tags,
		       int online)
{
	struct store_node n = {.user_id = user_id, .online = online};
	struct store_tx *tx;
	int s = ++F.seq;

	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.public_key, sizeof(n.public_key), "key-%d", s);
	snprintf(n.ipv4, sizeof(n.ipv4), "100.64.%d.%d", s / 250, s % 250 + 1);
	snprintf(n.ipv6, sizeof(n.ipv6), "fd7a:115c:a1e0::%x", s);
	snprintf(n.tags, sizeof(n.tags), "%s", tags ? tags : "[]");
	snprintf(n.os, sizeof(n.os), "linux");
	snprintf(n.version, sizeof(n.version), "0.1.0");
	snprintf(n.endpoints, sizeof(n.endpoints), "[\"192.0.2.1:41641\"]");
	n.created_at = 1700000000;
	n.last_seen = online ? 1700000100 : 0;
	if (store_begin(F.st, STORE_WRITE, &tx) < 0)
		return 0;
	if (store_node_create(tx, &n) < 0) {
		store_rollback(tx);
		return 0;
	}
	return store_commit(tx) < 0 ? 0 : n.id;
}

static int64_t mk_route(int64_t node_id, const char *prefix, int approved)
{
	struct store_route r = {.node_id = node_id, .advertised = 1,
				.approved = approved, .created_at = 1700000000};
	struct store_tx *tx;

	snprintf(r.prefix, sizeof(r.prefix), "%s", prefix);
	if (store_begin(F.st, STORE_WRITE, &tx) < 0)
		return 0;
	if (store_route_create(tx, &r) < 0) {
		store_rollback(tx);
		return 0;
	}
	return store_commit(tx) < 0 ? 0 : r.id;
}

/* Gives node id a credential and writes its text. */
static bool mk_node_cred(int64_t id, char text[CRED_TEXT_SIZE])
{
	struct store_node n;
	struct store_tx *tx;
	struct cred cr;
	char idtext[24];

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	if (cred_new(CRED_NODE, idtext, text, &cr) < 0 ||
	    store_begin(F.st, STORE_WRITE, &tx) < 0)
		return false;
	if (store_node_get(tx, id, &n) < 0) {
		store_rollback(tx);
		return false;
	}
	snprintf(n.cred_hash, sizeof(n.cred_hash), "%s", cr.hash);
	if (store_node_update(tx, &n) < 0) {
		store_rollback(tx);
		return false;
	}
	return store_commit(tx) == 0;
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
	id = mk_node("laptop", F.alice, "[\"tag:dev\"]", 1);
	REQUIRE(id > 0);
	REQUIRE(mk_route(id, "10.0.0.0/24", 1) > 0);
	REQUIRE(mk_route(id, "10.1.0.0/16", 0) > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	CHECK_INT(ifield("id"), id);
	CHECK_STR(sfield("name"), "laptop");
	CHECK_INT(ifield("user_id"), F.alice);
	CHECK_STR(sfield("public_key"), "key-1");
	CHECK_STR(sfield("ipv4"), "100.64.0.2");
	CHECK_STR(sfield("ipv6"), "fd7a:115c:a1e0::1");
	CHECK(json_is_array(field("tags")));
	CHECK(array_has(field("tags"), "tag:dev"));
	CHECK_STR(sfield("os"), "linux");
	CHECK_STR(sfield("version"), "0.1.0");
	CHECK(array_has(field("endpoints"), "192.0.2.1:41641"));
	CHECK(json_is_null(field("home_relay")));
	CHECK(json_is_true(field("online")));
	CHECK_STR(sfield("last_seen"), "2023-11-14T22:15:00Z");
	CHECK(json_is_null(field("expires_at")));
	CHECK(json_is_false(field("ephemeral")));
	CHECK_STR(sfield("created_at"), "2023-11-14T22:13:20Z");
	CHECK_INT(json_object_size(R.json), 17);
	routes = field("routes");
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
	id = mk_node("server", 0, "[\"tag:prod\"]", 0);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	CHECK(json_is_null(field("user_id")));
	CHECK(json_is_false(field("online")));
	CHECK(json_is_null(field("last_seen")));
	CHECK_INT(json_array_size(json_object_get(field("routes"), "advertised")),
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
		REQUIRE(mk_node(name, F.alice, NULL, 0) > 0);
	}
	for (;;) {
		json_t *next;

		snprintf(path, sizeof(path), "/api/v1/nodes?limit=10%s%s",
			 cursor[0] ? "&cursor=" : "", cursor);
		REQUIRE_INT(call("GET", path, "admin", NULL), 200);
		pages++;
		for (size_t i = 0; i < nitems(); i++) {
			int64_t id = json_integer_value(
				json_object_get(item(i), "id"));

			REQUIRE(id >= 1 && id <= 25);
			CHECK(!seen[id]);
			seen[id] = true;
			total++;
			CHECK(json_is_object(json_object_get(item(i), "routes")));
		}
		next = field("next_cursor");
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
	a = mk_node("a", F.alice, "[\"tag:web\",\"tag:db\"]", 1);
	b = mk_node("b", F.bob, "[\"tag:web\"]", 0);
	c = mk_node("c", 0, "[\"tag:dbx\"]", 1);
	REQUIRE(a && b && c);
	REQUIRE_INT(call("GET", "/api/v1/nodes?tag=tag:db", "admin", NULL), 200);
	REQUIRE_INT(nitems(), 1);
	CHECK_INT(json_integer_value(json_object_get(item(0), "id")), a);
	REQUIRE_INT(call("GET", "/api/v1/nodes?tag=tag:web", "admin", NULL),
		    200);
	CHECK_INT(nitems(), 2);
	REQUIRE_INT(call("GET", "/api/v1/nodes?online=true", "admin", NULL),
		    200);
	REQUIRE_INT(nitems(), 2);
	CHECK_INT(json_integer_value(json_object_get(item(1), "id")), c);
	REQUIRE_INT(call("GET", "/api/v1/nodes?online=false", "admin", NULL),
		    200);
	REQUIRE_INT(nitems(), 1);
	CHECK_INT(json_integer_value(json_object_get(item(0), "id")), b);
	snprintf(path, sizeof(path), "/api/v1/nodes?user_id=%" PRId64, F.bob);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	REQUIRE_INT(nitems(), 1);
	CHECK_INT(json_integer_value(json_object_get(item(0), "id")), b);
	snprintf(path, sizeof(path),
		 "/api/v1/nodes?user_id=%" PRId64 "&tag=tag:web&online=true",
		 F.alice);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	CHECK_INT(nitems(), 1);
	CHECK(json_is_null(field("next_cursor")));
}

static void rejects_bad_list_filters(void)
{
	REQUIRE(setup());
	CHECK_INT(call("GET", "/api/v1/nodes?user_id=abc", "admin", NULL), 400);
	CHECK_STR(err_field(), "user_id");
	CHECK_INT(call("GET", "/api/v1/nodes?user_id=0", "admin", NULL), 400);
	CHECK_INT(call("GET", "/api/v1/nodes?online=yes", "admin", NULL), 400);
	CHECK_STR(err_field(), "online");
	CHECK_INT(call("GET", "/api/v1/nodes?tag=web", "admin", NULL), 400);
	CHECK_STR(err_field(), "tag");
	CHECK_INT(call("GET", "/api/v1/nodes?limit=0", "admin", NULL), 400);
	CHECK_STR(err_field(), "limit");
	CHECK_INT(call("GET", "/api/v1/nodes?cursor=x", "admin", NULL), 400);
	CHECK_STR(err_field(), "cursor");
}

static void member_sees_only_own_nodes(void)
{
	char path[64];
	int64_t mine, theirs, tagged;

	REQUIRE(setup());
	mine = mk_node("mine", F.alice, NULL, 0);
	theirs = mk_node("theirs", F.bob, NULL, 0);
	tagged = mk_node("tagged", 0, "[\"tag:x\"]", 0);
	REQUIRE(mine && theirs && tagged);
	REQUIRE_INT(call("GET", "/api/v1/nodes", "member", NULL), 200);
	REQUIRE_INT(nitems(), 1);
	CHECK_INT(json_integer_value(json_object_get(item(0), "id")), mine);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, mine);
	CHECK_INT(call("GET", path, "member", NULL), 200);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, theirs);
	CHECK_INT(call("GET", path, "member", NULL), 404);
	CHECK_STR(err_code(), "not_found");
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, tagged);
	CHECK_INT(call("GET", path, "member", NULL), 404);
	snprintf(path, sizeof(path), "/api/v1/nodes?user_id=%" PRId64, F.bob);
	CHECK_INT(call("GET", path, "member", NULL), 403);
	snprintf(path, sizeof(path), "/api/v1/nodes?user_id=%" PRId64, F.alice);
	CHECK_INT(call("GET", path, "member", NULL), 200);
	CHECK_INT(nitems(), 1);
	REQUIRE_INT(call("GET", "/api/v1/nodes", "admin", NULL), 200);
	CHECK_INT(nitems(), 3);
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
	tagged = mk_node("tagged", 0, "[\"tag:x\"]", 0);
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
	id = mk_node("mine", F.alice, NULL, 0);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	CHECK_INT(call("PATCH", path, "member", "{\"name\":\"x\"}"), 403);
	CHECK_STR(err_code(), "forbidden");
	CHECK_INT(call("DELETE", path, "member", NULL), 403);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64 "/expire", id);
	CHECK_INT(call("POST", path, "member", NULL), 403);
	CHECK_INT(call("GET", "/api/v1/routes", "member", NULL), 403);
	CHECK(node_exists(id));
}

static void node_credential_is_refused_and_missing_token_unauthenticated(void)
{
	char cred[CRED_TEXT_SIZE];
	int64_t id;

	REQUIRE(setup());
	id = mk_node("n", F.alice, NULL, 0);
	REQUIRE(id > 0 && mk_node_cred(id, cred));
	CHECK_INT(call("GET", "/api/v1/nodes", cred, NULL), 403);
	CHECK_INT(call("DELETE", "/api/v1/nodes/1", cred, NULL), 403);
	CHECK_INT(call("GET", "/api/v1/routes", cred, NULL), 403);
	CHECK_INT(call("GET", "/api/v1/nodes", NULL, NULL), 401);
	CHECK_STR(err_code(), "unauthenticated");
	CHECK_INT(call("GET", "/api/v1/nodes", "weft_api_nope_nope", NULL), 401);
	CHECK_INT(call("PATCH", "/api/v1/routes/1", NULL, "{}"), 401);
	CHECK(node_exists(id));
}

static void missing_and_non_numeric_node_ids_are_404(void)
{
	REQUIRE(setup());
	CHECK_INT(call("GET", "/api/v1/nodes/42", "admin", NULL), 404);
	CHECK_STR(err_code(), "not_found");
	CHECK(strstr(err_message(), "42") != NULL);
	CHECK_INT(call("GET", "/api/v1/nodes/abc", "admin", NULL), 404);
	CHECK_INT(call("GET", "/api/v1/nodes/-1", "admin", NULL), 404);
	CHECK_INT(call("PATCH", "/api/v1/nodes/42", "admin", "{\"name\":\"a\"}"),
		  404);
	CHECK_STR(err_field(), "id");
	CHECK_INT(call("POST", "/api/v1/nodes/42/expire", "admin", NULL), 404);
	CHECK_INT(call("DELETE", "/api/v1/nodes/42", "admin", NULL), 404);
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

/* --- nodes: changing --- */

static void renames_node_with_audit_and_netmap_bump(void)
{
	struct store_audit a;
	char path[64], idtext[24];
	int64_t id, v0;

	REQUIRE(setup());
	id = mk_node("old", F.alice, NULL, 0);
	REQUIRE(id > 0);
	v0 = netmap_version();
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	REQUIRE_INT(call("PATCH", path, "admin", "{\"name\":\"new-name-2\"}"),
		    200);
	CHECK_STR(sfield("name"), "new-name-2");
	CHECK(json_is_object(field("routes")));
	CHECK_INT(netmap_version(), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	REQUIRE_INT(audit_count("node.rename", idtext, &a), 1);
	CHECK_STR(a.target_type, "node");
	CHECK(strncmp(a.actor, "apikey:", 7) == 0);
	CHECK(strstr(a.detail, "\"old_name\":\"old\"") != NULL);
	CHECK_INT(call("GET", path, "admin", NULL), 200);
	CHECK_STR(sfield("name"), "new-name-2");
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
	id = mk_node("ok", F.alice, NULL, 0);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(call("PATCH", path, "admin", bad[i]), 400);
		CHECK_STR(err_field(), "name");
	}
	/* 63 characters is the longest label. */
	CHECK_INT(call("PATCH", path, "admin",
		       "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		       "aaaaaaaaaaaaaaaaaa\"}"),
		  200);
	CHECK_INT(audit_count("node.rename", NULL, NULL), 1);
}

static void rename_to_a_taken_name_conflicts(void)
{
	char path[64];
	int64_t a, b, v0;

	REQUIRE(setup());
	a = mk_node("alpha", F.alice, NULL, 0);
	b = mk_node("beta", F.alice, NULL, 0);
	REQUIRE(a && b);
	v0 = netmap_version();
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, b);
	CHECK_INT(call("PATCH", path, "admin", "{\"name\":\"alpha\"}"), 409);
	CHECK_STR(err_code(), "already_exists");
	CHECK_STR(err_field(), "name");
	CHECK(strstr(err_message(), "alpha") != NULL);
	CHECK_INT(netmap_version(), v0);
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
	/* Renaming to its own name changes nothing and is fine. */
	CHECK_INT(call("PATCH", path, "admin", "{\"name\":\"beta\"}"), 200);
	CHECK_INT(netmap_version(), v0);
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

static void sets_and_clears_tags(void)
{
	char path[64], idtext[24];
	int64_t id, v0;

	REQUIRE(setup());
	id = mk_node("n", F.alice, NULL, 0);
	REQUIRE(id > 0);
	v0 = netmap_version();
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	REQUIRE_INT(call("PATCH", path, "admin",
			 "{\"tags\":[\"tag:web\",\"tag:prod-1\"]}"),
		    200);
	CHECK_INT(json_array_size(field("tags")), 2);
	CHECK(array_has(field("tags"), "tag:prod-1"));
	CHECK_INT(audit_count("node.retag", idtext, NULL), 1);
	CHECK_INT(netmap_version(), v0 + 1);
	REQUIRE_INT(call("GET", "/api/v1/nodes?tag=tag:web", "admin", NULL),
		    200);
	CHECK_INT(nitems(), 1);
	REQUIRE_INT(call("PATCH", path, "admin",
			 "{\"name\":\"m\",\"tags\":[]}"),
		    200);
	CHECK_INT(json_array_size(field("tags")), 0);
	CHECK_STR(sfield("name"), "m");
	CHECK_INT(audit_count("node.update", idtext, NULL), 1);
	CHECK_INT(netmap_version(), v0 + 2);
}

static void rejects_bad_tags(void)
{
	char path[64], body[1024];
	size_t o;
	int64_t id;

	REQUIRE(setup());
	id = mk_node("n", F.alice, "[\"tag:keep\"]", 0);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	CHECK_INT(call("PATCH", path, "admin", "{\"tags\":[\"tag:a\",\"web\"]}"),
		  400);
	CHECK_STR(err_field(), "tags[1]");
	CHECK_INT(call("PATCH", path, "admin", "{\"tags\":[\"tag:\"]}"), 400);
	CHECK_INT(call("PATCH", path, "admin", "{\"tags\":[\"tag:A\"]}"), 400);
	CHECK_INT(call("PATCH", path, "admin",
		       "{\"tags\":[\"tag:a\",\"tag:a\"]}"),
		  400);
	CHECK_STR(err_field(), "tags[1]");
	CHECK_INT(call("PATCH", path, "admin", "{\"tags\":[1]}"), 400);
	CHECK_STR(err_code(), "wrong_type");
	CHECK_INT(call("PATCH", path, "admin", "{\"tags\":\"tag:a\"}"), 400);
	CHECK_STR(err_field(), "tags");
	o = (size_t)snprintf(body, sizeof(body), "{\"tags\":[");
	for (int i = 0; i < 17; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%s\"tag:t%d\"",
				      i ? "," : "", i);
	snprintf(body + o, sizeof(body) - o, "]}");
	CHECK_INT(call("PATCH", path, "admin", body), 400);
	CHECK_STR(err_field(), "tags");
	CHECK_INT(call("GET", path, "admin", NULL), 200);
	CHECK(array_has(field("tags"), "tag:keep"));
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

static void patch_rejects_malformed_unknown_and_mistyped_bodies(void)
{
	char path[64];
	int64_t id;

	REQUIRE(setup());
	id = mk_node("n", F.alice, NULL, 0);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	CHECK_INT(call("PATCH", path, "admin", "{\"name\":"), 400);
	CHECK_STR(err_code(), "parse_error");
	CHECK_INT(call("PATCH", path, "admin", "[]"), 400);
	CHECK_INT(call("PATCH", path, "admin", "{\"owner\":1}"), 400);
	CHECK_STR(err_field(), "owner");
	CHECK_INT(call("PATCH", path, "admin", "{\"name\":5}"), 400);
	CHECK_STR(err_code(), "wrong_type");
	CHECK_STR(err_field(), "name");
	CHECK_INT(call("PATCH", path, "admin", "{\"name\":null}"), 400);
	CHECK_INT(call("GET", path, "admin", NULL), 200);
	CHECK_STR(sfield("name"), "n");
}

static void expire_sets_expires_at_to_now_and_stops_the_credential(void)
{
	char path[64], cred[CRED_TEXT_SIZE], idtext[24], want[32];
	int64_t id, v0, before;

	REQUIRE(setup());
	id = mk_node("n", F.alice, NULL, 0);
	REQUIRE(id > 0 && mk_node_cred(id, cred));
	CHECK_INT(call("GET", "/api/v1/nodes", cred, NULL), 403);
	v0 = netmap_version();
	before = clock_wall_s();
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64 "/expire", id);
	REQUIRE_INT(call("POST", path, "admin", NULL), 200);
	REQUIRE(json_is_string(field("expires_at")));
	/* expires_at is the request's "now", within the test's second(s). */
	clock_format_rfc3339(before, want, sizeof(want));
	CHECK(strcmp(sfield("expires_at"), want) >= 0);
	clock_format_rfc3339(clock_wall_s(), want, sizeof(want));
	CHECK(strcmp(sfield("expires_at"), want) <= 0);
	CHECK_INT(netmap_version(), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	CHECK_INT(audit_count("node.expire", idtext, NULL), 1);
	/* An expired node's credential no longer authenticates. */
	CHECK_INT(call("GET", "/api/v1/nodes", cred, NULL), 401);
}

static void deletes_node_and_its_routes(void)
{
	struct store_audit a;
	char path[64], idtext[24];
	int64_t id, other, v0;

	REQUIRE(setup());
	id = mk_node("gone", F.alice, NULL, 0);
	other = mk_node("stays", F.alice, NULL, 0);
	REQUIRE(id && other);
	REQUIRE(mk_route(id, "10.0.0.0/24", 1) > 0);
	REQUIRE(mk_route(other, "10.9.0.0/24", 1) > 0);
	v0 = netmap_version();
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, id);
	REQUIRE_INT(call("DELETE", path, "admin", NULL), 204);
	CHECK(R.json == NULL);
	CHECK(!node_exists(id));
	CHECK(node_exists(other));
	CHECK_INT(netmap_version(), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	REQUIRE_INT(audit_count("node.delete", idtext, &a), 1);
	CHECK(strstr(a.detail, "gone") != NULL);
	CHECK_INT(call("GET", path, "admin", NULL), 404);
	REQUIRE_INT(call("GET", "/api/v1/routes", "admin", NULL), 200);
	REQUIRE_INT(nitems(), 1);
	CHECK_INT(json_integer_value(json_object_get(item(0), "node_id")),
		  other);
	CHECK_INT(call("DELETE", path, "admin", NULL), 404);
}

/* --- routes --- */

static void lists_routes_filtered_by_node(void)
{
	char path[64];
	int64_t a, b, r1;
	json_t *r;

	REQUIRE(setup());
	a = mk_node("a", F.alice, NULL, 0);
	b = mk_node("b", F.alice, NULL, 0);
	REQUIRE(a && b);
	r1 = mk_route(a, "10.0.0.0/24", 0);
	REQUIRE(r1 > 0);
	REQUIRE(mk_route(a, "fd00:1::/64", 1) > 0);
	REQUIRE(mk_route(b, "192.168.1.0/24", 0) > 0);
	REQUIRE_INT(call("GET", "/api/v1/routes", "admin", NULL), 200);
	CHECK_INT(nitems(), 3);
	snprintf(path, sizeof(path), "/api/v1/routes?node_id=%" PRId64, a);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	REQUIRE_INT(nitems(), 2);
	r = item(0);
	CHECK_INT(json_integer_value(json_object_get(r, "id")), r1);
	CHECK_INT(json_integer_value(json_object_get(r, "node_id")), a);
	CHECK_STR(json_string_value(json_object_get(r, "prefix")),
		  "10.0.0.0/24");
	CHECK(json_is_true(json_object_get(r, "advertised")));
	CHECK(json_is_false(json_object_get(r, "approved")));
	CHECK_STR(json_string_value(json_object_get(r, "created_at")),
		  "2023-11-14T22:13:20Z");
	CHECK_INT(json_object_size(r), 6);
	REQUIRE_INT(call("GET", "/api/v1/routes?node_id=999", "admin", NULL),
		    200);
	CHECK_INT(nitems(), 0);
	CHECK_INT(call("GET", "/api/v1/routes?node_id=x", "admin", NULL), 400);
	CHECK_STR(err_field(), "node_id");
	REQUIRE_INT(call("GET", "/api/v1/routes?limit=1", "admin", NULL), 200);
	CHECK_INT(nitems(), 1);
	CHECK_STR(sfield("next_cursor"), "1");
}

static void approving_a_route_bumps_netmap_and_audits(void)
{
	char path[64], idtext[24];
	int64_t n, r, v0;

	REQUIRE(setup());
	n = mk_node("a", F.alice, NULL, 0);
	REQUIRE(n > 0);
	r = mk_route(n, "10.0.0.0/24", 0);
	REQUIRE(r > 0);
	v0 = netmap_version();
	snprintf(path, sizeof(path), "/api/v1/routes/%" PRId64, r);
	snprintf(idtext, sizeof(idtext), "%" PRId64, r);
	REQUIRE_INT(call("PATCH", path, "admin", "{\"approved\":true}"), 200);
	CHECK(json_is_true(field("approved")));
	CHECK_INT(ifield("node_id"), n);
	CHECK_INT(netmap_version(), v0 + 1);
	CHECK_INT(audit_count("route.approve", idtext, NULL), 1);
	/* The node shows the route as approved. */
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, n);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	CHECK(array_has(json_object_get(field("routes"), "approved"),
			"10.0.0.0/24"));
	/* Approving again changes nothing. */
	snprintf(path, sizeof(path), "/api/v1/routes/%" PRId64, r);
	REQUIRE_INT(call("PATCH", path, "admin", "{\"approved\":true}"), 200);
	CHECK_INT(netmap_version(), v0 + 1);
	CHECK_INT(audit_count("route.approve", idtext, NULL), 1);
	REQUIRE_INT(call("PATCH", path, "admin", "{\"approved\":false}"), 200);
	CHECK(json_is_false(field("approved")));
	CHECK_INT(netmap_version(), v0 + 2);
	CHECK_INT(audit_count("route.unapprove", idtext, NULL), 1);
}

static void patch_route_needs_a_boolean_approved(void)
{
	char path[64];
	int64_t n, r;

	REQUIRE(setup());
	n = mk_node("a", F.alice, NULL, 0);
	REQUIRE(n > 0);
	r = mk_route(n, "10.0.0.0/24", 0);
	REQUIRE(r > 0);
	snprintf(path, sizeof(path), "/api/v1/routes/%" PRId64, r);
	CHECK_INT(call("PATCH", path, "admin", "{}"), 400);
	CHECK_STR(err_code(), "invalid");
	CHECK_STR(err_field(), "approved");
	CHECK_INT(call("PATCH", path, "admin", "{\"approved\":1}"), 400);
	CHECK_STR(err_code(), "wrong_type");
	CHECK_INT(call("PATCH", path, "admin",
		       "{\"approved\":true,\"prefix\":\"10.0.0.0/8\"}"),
		  400);
	CHECK_STR(err_field(), "prefix");
	CHECK_INT(call("PATCH", path, "admin", "not json"), 400);
	CHECK_INT(call("PATCH", "/api/v1/routes/999", "admin",
		       "{\"approved\":true}"),
		  404);
	CHECK(strstr(err_message(), "999") != NULL);
	CHECK_INT(call("PATCH", "/api/v1/routes/x", "admin",
		       "{\"approved\":true}"),
		  404);
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
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
	const char *backend = getenv("WEFT_STORE_BACKEND");

	/* The process-level integration tests cover PostgreSQL. */
	if (backend && strcmp(backend, "postgres") == 0)
		return 0;
	atexit(teardown);
	return check_main(argc, argv, cases);
}
