/* Resources API (controller/api_resources.c), in process over a real
 * SQLite store. */
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

/* POSTs {"name": name, "address": address, "connector_tag": "tag:c"} plus
 * extra (",\"ports\":\"80\"" or ""); returns the status. */
static int create(const char *name, const char *address, const char *extra)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"address\":\"%s\",\"connector_tag\":"
		 "\"tag:c\"%s}",
		 name, address, extra);
	return call("POST", "/api/v1/resources", "admin", body);
}

static void creates_resource_with_defaults(void)
{
	struct store_audit a;
	char idtext[24];
	int64_t v0;

	REQUIRE(setup());
	v0 = netmap_version();
	REQUIRE_INT(create("web", "10.0.0.5", ""), 201);
	CHECK(ifield("id") > 0);
	CHECK_STR(sfield("name"), "web");
	CHECK_STR(sfield("address"), "10.0.0.5");
	CHECK_STR(sfield("protocol"), "any");
	CHECK_STR(sfield("ports"), "*");
	CHECK(json_is_null(field("connector_node_id")));
	CHECK_STR(sfield("connector_tag"), "tag:c");
	CHECK(json_is_string(field("created_at")));
	CHECK_INT(json_object_size(R.json), 8);
	CHECK_INT(netmap_version(), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, ifield("id"));
	REQUIRE_INT(audit_count("resource.create", idtext, &a), 1);
	CHECK_STR(a.target_type, "resource");
	CHECK(strstr(a.detail, "10.0.0.5") != NULL);
}

static void creates_resource_served_by_a_node(void)
{
	char body[256];
	int64_t n;

	REQUIRE(setup());
	n = mk_node("connector", 0, "[\"tag:c\"]", 1);
	REQUIRE(n > 0);
	snprintf(body, sizeof(body),
		 "{\"name\":\"db\",\"address\":\"db.internal\",\"protocol\":"
		 "\"tcp\",\"ports\":\"5432\",\"connector_node_id\":%" PRId64 "}",
		 n);
	REQUIRE_INT(call("POST", "/api/v1/resources", "admin", body), 201);
	CHECK_INT(ifield("connector_node_id"), n);
	CHECK(json_is_null(field("connector_tag")));
	CHECK_STR(sfield("protocol"), "tcp");
	CHECK_STR(sfield("ports"), "5432");
	CHECK_STR(sfield("address"), "db.internal");
}

static void normalizes_addresses_and_ports(void)
{
	REQUIRE(setup());
	REQUIRE_INT(create("v6", "2001:DB8:0:0::1", ""), 201);
	CHECK_STR(sfield("address"), "2001:db8::1");
	REQUIRE_INT(create("net", "10.1.0.0/16", ""), 201);
	CHECK_STR(sfield("address"), "10.1.0.0/16");
	REQUIRE_INT(create("net6", "FD00:AB::/32", ""), 201);
	CHECK_STR(sfield("address"), "fd00:ab::/32");
	REQUIRE_INT(create("host", "Intranet.Example.com", ""), 201);
	CHECK_STR(sfield("address"), "Intranet.Example.com");
	REQUIRE_INT(create("single", "printer", ""), 201);
	CHECK_STR(sfield("address"), "printer");
	REQUIRE_INT(create("p", "10.0.0.1", ",\"ports\":\" 80 , 443,8000-8100\""),
		    201);
	CHECK_STR(sfield("ports"), "80,443,8000-8100");
	REQUIRE_INT(create("p2", "10.0.0.1", ",\"ports\":\"1,65535,7-7\""), 201);
	CHECK_STR(sfield("ports"), "1,65535,7");
	REQUIRE_INT(create("p3", "10.0.0.1", ",\"ports\":\" * \""), 201);
	CHECK_STR(sfield("ports"), "*");
}

static void rejects_bad_addresses(void)
{
	static const char *bad[] = {
		"10.0.0.256", "1.2.3.4/33", "10.0.0.0/", "-a.example",
		"a-.example", "a..b", "a.b.", ".a", "a_b.example", "10.0.0.1 ",
		"fe80::1%eth0", "host:80",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	};

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(create("r", bad[i], ""), 400);
		CHECK_STR(err_field(), "address");
	}
	CHECK_INT(create("r", "10.0.0.1/8", ""), 400);
	CHECK_STR(err_field(), "address");
	CHECK(strstr(err_message(), "10.0.0.0/8") != NULL);
	CHECK_INT(create("r", "", ""), 400);
	CHECK_STR(err_field(), "address");
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

static void rejects_bad_ports_and_protocols(void)
{
	static const char *bad[] = {
		"0", "65536", "90-80", "80,", ",80", "*,80", "08", "http",
		"80-", "1-2-3", "80;443", "8 0",
	};
	char extra[128];

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), ",\"ports\":\"%s\"", bad[i]);
		CHECK_INT(create("r", "10.0.0.1", extra), 400);
		CHECK_STR(err_field(), "ports");
	}
	CHECK_INT(create("r", "10.0.0.1", ",\"ports\":80"), 400);
	CHECK_STR(err_code(), "wrong_type");
	CHECK_INT(create("r", "10.0.0.1", ",\"protocol\":\"icmp\""), 400);
	CHECK_STR(err_field(), "protocol");
	CHECK_INT(create("r", "10.0.0.1", ",\"protocol\":\"TCP\""), 400);
	CHECK_STR(err_field(), "protocol");
	CHECK_INT(create("r", "10.0.0.1", ",\"protocol\":\"udp\""), 201);
}

static void needs_exactly_one_existing_connector(void)
{
	char body[256];
	int64_t n;

	REQUIRE(setup());
	n = mk_node("conn", 0, NULL, 0);
	REQUIRE(n > 0);
	CHECK_INT(call("POST", "/api/v1/resources", "admin",
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\"}"),
		  400);
	CHECK_STR(err_field(), "connector_node_id");
	snprintf(body, sizeof(body),
		 "{\"name\":\"r\",\"address\":\"10.0.0.1\",\"connector_node_id\":"
		 "%" PRId64 ",\"connector_tag\":\"tag:x\"}",
		 n);
	CHECK_INT(call("POST", "/api/v1/resources", "admin", body), 400);
	CHECK_STR(err_code(), "invalid");
	CHECK_INT(call("POST", "/api/v1/resources", "admin",
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connector_node_id\":999}"),
		  400);
	CHECK_STR(err_field(), "connector_node_id");
	CHECK(strstr(err_message(), "999") != NULL);
	CHECK_INT(call("POST", "/api/v1/resources", "admin",
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connector_node_id\":0}"),
		  400);
	CHECK_STR(err_field(), "connector_node_id");
	CHECK_INT(call("POST", "/api/v1/resources", "admin",
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connector_tag\":\"servers\"}"),
		  400);
	CHECK_STR(err_field(), "connector_tag");
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

static void rejects_bad_and_duplicate_names(void)
{
	static const char *bad[] = {"Web", "-web", "_w", "w b", "w/b", ""};
	int64_t v0;

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(create(bad[i], "10.0.0.1", ""), 400);
		CHECK_STR(err_field(), "name");
	}
	REQUIRE_INT(create("web.1_a-b", "10.0.0.1", ""), 201);
	v0 = netmap_version();
	CHECK_INT(create("web.1_a-b", "10.0.0.2", ""), 409);
	CHECK_STR(err_code(), "already_exists");
	CHECK_STR(err_field(), "name");
	CHECK(strstr(err_message(), "web.1_a-b") != NULL);
	CHECK_INT(netmap_version(), v0);
	CHECK_INT(audit_count("resource.create", NULL, NULL), 1);
}

static void create_rejects_malformed_unknown_mistyped_and_missing(void)
{
	REQUIRE(setup());
	CHECK_INT(call("POST", "/api/v1/resources", "admin", "{"), 400);
	CHECK_STR(err_code(), "parse_error");
	CHECK_INT(call("POST", "/api/v1/resources", "admin", ""), 400);
	CHECK_INT(call("POST", "/api/v1/resources", "admin",
		       "{\"address\":\"10.0.0.1\",\"connector_tag\":\"tag:c\"}"),
		  400);
	CHECK_STR(err_field(), "name");
	CHECK_INT(call("POST", "/api/v1/resources", "admin",
		       "{\"name\":\"r\",\"connector_tag\":\"tag:c\"}"),
		  400);
	CHECK_STR(err_field(), "address");
	CHECK_INT(create("r", "10.0.0.1", ",\"color\":\"red\""), 400);
	CHECK_STR(err_field(), "color");
	CHECK_INT(call("POST", "/api/v1/resources", "admin",
		       "{\"name\":1,\"address\":\"10.0.0.1\"}"),
		  400);
	CHECK_STR(err_code(), "wrong_type");
	CHECK_INT(call("POST", "/api/v1/resources", "admin",
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connector_node_id\":\"1\"}"),
		  400);
	CHECK_STR(err_field(), "connector_node_id");
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

static void gets_and_lists_resources_in_pages(void)
{
	char path[64];
	int64_t id;

	REQUIRE(setup());
	REQUIRE_INT(create("a", "10.0.0.1", ""), 201);
	REQUIRE_INT(create("b", "10.0.0.2", ""), 201);
	id = ifield("id");
	REQUIRE_INT(create("c", "10.0.0.3", ""), 201);
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	CHECK_STR(sfield("name"), "b");
	REQUIRE_INT(call("GET", "/api/v1/resources?limit=2", "admin", NULL), 200);
	CHECK_INT(nitems(), 2);
	REQUIRE(json_is_string(field("next_cursor")));
	snprintf(path, sizeof(path), "/api/v1/resources?limit=2&cursor=%s",
		 sfield("next_cursor"));
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	REQUIRE_INT(nitems(), 1);
	CHECK_STR(json_string_value(json_object_get(item(0), "name")), "c");
	CHECK(json_is_null(field("next_cursor")));
}

static void missing_and_non_numeric_ids_are_404(void)
{
	REQUIRE(setup());
	CHECK_INT(call("GET", "/api/v1/resources/7", "admin", NULL), 404);
	CHECK_STR(err_code(), "not_found");
	CHECK(strstr(err_message(), "7") != NULL);
	CHECK_INT(call("GET", "/api/v1/resources/x", "admin", NULL), 404);
	CHECK_INT(call("PATCH", "/api/v1/resources/7", "admin",
		       "{\"ports\":\"80\"}"),
		  404);
	CHECK_STR(err_field(), "id");
	CHECK_INT(call("DELETE", "/api/v1/resources/7", "admin", NULL), 404);
	CHECK_INT(call("DELETE", "/api/v1/resources/0", "admin", NULL), 404);
}

static void patch_revalidates_the_combined_resource(void)
{
	char path[64], body[128], idtext[24];
	int64_t id, n, v0;

	REQUIRE(setup());
	n = mk_node("conn", 0, NULL, 0);
	REQUIRE(n > 0);
	REQUIRE_INT(create("taken", "10.0.0.9", ""), 201);
	REQUIRE_INT(create("web", "10.0.0.1", ",\"ports\":\"80\""), 201);
	id = ifield("id");
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	v0 = netmap_version();
	REQUIRE_INT(call("PATCH", path, "admin",
			 "{\"ports\":\"443, 8443\",\"protocol\":\"tcp\"}"),
		    200);
	CHECK_STR(sfield("ports"), "443,8443");
	CHECK_STR(sfield("protocol"), "tcp");
	CHECK_STR(sfield("address"), "10.0.0.1");
	CHECK_STR(sfield("connector_tag"), "tag:c");
	CHECK_INT(netmap_version(), v0 + 1);
	CHECK_INT(audit_count("resource.update", idtext, NULL), 1);
	/* Naming a connector node replaces the tag, and back. */
	snprintf(body, sizeof(body), "{\"connector_node_id\":%" PRId64 "}", n);
	REQUIRE_INT(call("PATCH", path, "admin", body), 200);
	CHECK_INT(ifield("connector_node_id"), n);
	CHECK(json_is_null(field("connector_tag")));
	REQUIRE_INT(call("PATCH", path, "admin",
			 "{\"connector_tag\":\"tag:edge\"}"),
		    200);
	CHECK(json_is_null(field("connector_node_id")));
	CHECK_STR(sfield("connector_tag"), "tag:edge");
	CHECK_INT(call("PATCH", path, "admin", "{\"name\":\"taken\"}"), 409);
	CHECK_STR(err_field(), "name");
	CHECK_INT(call("PATCH", path, "admin", "{\"address\":\"10.0.0.1/8\"}"),
		  400);
	CHECK_STR(err_field(), "address");
	CHECK_INT(call("PATCH", path, "admin", "{\"owner\":\"x\"}"), 400);
	CHECK_STR(err_field(), "owner");
	CHECK_INT(audit_count("resource.update", idtext, NULL), 3);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	CHECK_STR(sfield("name"), "web");
	CHECK_STR(sfield("address"), "10.0.0.1");
	/* Keeping its own name is not a conflict. */
	CHECK_INT(call("PATCH", path, "admin", "{\"name\":\"web\"}"), 200);
}

static void resource_whose_connector_was_deleted_must_get_a_new_one(void)
{
	char path[64], body[256];
	int64_t id, n;

	REQUIRE(setup());
	n = mk_node("conn", 0, NULL, 0);
	REQUIRE(n > 0);
	snprintf(body, sizeof(body),
		 "{\"name\":\"r\",\"address\":\"10.0.0.1\",\"connector_node_id\":"
		 "%" PRId64 "}",
		 n);
	REQUIRE_INT(call("POST", "/api/v1/resources", "admin", body), 201);
	id = ifield("id");
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, n);
	REQUIRE_INT(call("DELETE", path, "admin", NULL), 204);
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	CHECK(json_is_null(field("connector_node_id")));
	CHECK(json_is_null(field("connector_tag")));
	CHECK_INT(call("PATCH", path, "admin", "{\"ports\":\"22\"}"), 400);
	CHECK_STR(err_field(), "connector_node_id");
	CHECK_INT(call("PATCH", path, "admin",
		       "{\"ports\":\"22\",\"connector_tag\":\"tag:c\"}"),
		  200);
	CHECK_STR(sfield("ports"), "22");
}

static void deletes_resource(void)
{
	char path[64], idtext[24];
	int64_t id, v0;

	REQUIRE(setup());
	REQUIRE_INT(create("web", "10.0.0.1", ""), 201);
	id = ifield("id");
	v0 = netmap_version();
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	REQUIRE_INT(call("DELETE", path, "admin", NULL), 204);
	CHECK(R.json == NULL);
	CHECK_INT(netmap_version(), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	CHECK_INT(audit_count("resource.delete", idtext, NULL), 1);
	CHECK_INT(call("GET", path, "admin", NULL), 404);
	REQUIRE_INT(call("GET", "/api/v1/resources", "admin", NULL), 200);
	CHECK_INT(nitems(), 0);
	/* The name is free again. */
	CHECK_INT(create("web", "10.0.0.1", ""), 201);
}

static void only_admins_may_manage_resources(void)
{
	REQUIRE(setup());
	CHECK_INT(call("GET", "/api/v1/resources", "member", NULL), 403);
	CHECK_STR(err_code(), "forbidden");
	CHECK_INT(call("POST", "/api/v1/resources", "member",
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connector_tag\":\"tag:c\"}"),
		  403);
	CHECK_INT(call("GET", "/api/v1/resources", NULL, NULL), 401);
	CHECK_INT(call("DELETE", "/api/v1/resources/1", "Basic xyz", NULL), 401);
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(creates_resource_with_defaults),
	CHECK_CASE(creates_resource_served_by_a_node),
	CHECK_CASE(normalizes_addresses_and_ports),
	CHECK_CASE(rejects_bad_addresses),
	CHECK_CASE(rejects_bad_ports_and_protocols),
	CHECK_CASE(needs_exactly_one_existing_connector),
	CHECK_CASE(rejects_bad_and_duplicate_names),
	CHECK_CASE(create_rejects_malformed_unknown_mistyped_and_missing),
	CHECK_CASE(gets_and_lists_resources_in_pages),
	CHECK_CASE(missing_and_non_numeric_ids_are_404),
	CHECK_CASE(patch_revalidates_the_combined_resource),
	CHECK_CASE(resource_whose_connector_was_deleted_must_get_a_new_one),
	CHECK_CASE(deletes_resource),
	CHECK_CASE(only_admins_may_manage_resources),
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
