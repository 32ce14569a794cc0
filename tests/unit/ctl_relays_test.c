/* Relays API (controller/api_relays.c), in process over a real SQLite
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

static int create(const char *name, const char *region, const char *address,
		  const char *extra)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"region\":\"%s\",\"address\":\"%s\"%s}",
		 name, region, address, extra);
	return call("POST", "/api/v1/relays", "admin", body);
}

static void creates_relay(void)
{
	struct store_audit a;
	char idtext[24];
	int64_t v0;

	REQUIRE(setup());
	v0 = netmap_version();
	REQUIRE_INT(create("fra-1", "eu-central", "relay1.example.com:443",
			   ",\"public_key_pin\":\"sha256/AbC+/9=\""),
		    201);
	CHECK(ifield("id") > 0);
	CHECK_STR(sfield("name"), "fra-1");
	CHECK_STR(sfield("region"), "eu-central");
	CHECK_STR(sfield("address"), "relay1.example.com:443");
	CHECK_STR(sfield("public_key_pin"), "sha256/AbC+/9=");
	CHECK(json_is_string(field("created_at")));
	CHECK_INT(json_object_size(R.json), 6);
	CHECK_INT(netmap_version(), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, ifield("id"));
	REQUIRE_INT(audit_count("relay.create", idtext, &a), 1);
	CHECK_STR(a.target_type, "relay");
	CHECK(strstr(a.detail, "fra-1") != NULL);
}

static void pin_is_optional_and_shows_as_null(void)
{
	REQUIRE(setup());
	REQUIRE_INT(create("r", "us", "192.0.2.10:3478", ""), 201);
	CHECK(json_is_null(field("public_key_pin")));
	REQUIRE_INT(create("r2", "us", "192.0.2.11:3478",
			   ",\"public_key_pin\":\"\""),
		    201);
	CHECK(json_is_null(field("public_key_pin")));
}

static void accepts_and_normalizes_addresses(void)
{
	REQUIRE(setup());
	REQUIRE_INT(create("a", "r", "192.0.2.1:1", ""), 201);
	CHECK_STR(sfield("address"), "192.0.2.1:1");
	REQUIRE_INT(create("b", "r", "[2001:DB8:0::1]:65535", ""), 201);
	CHECK_STR(sfield("address"), "[2001:db8::1]:65535");
	REQUIRE_INT(create("c", "r", "relay:7000", ""), 201);
	CHECK_STR(sfield("address"), "relay:7000");
	REQUIRE_INT(create("d", "r", "Relay-2.Example.NET:443", ""), 201);
	CHECK_STR(sfield("address"), "Relay-2.Example.NET:443");
}

static void rejects_bad_addresses(void)
{
	static const char *bad[] = {
		"relay.example.com", "relay.example.com:", "relay.example.com:0",
		"relay.example.com:65536", "relay.example.com:080",
		"relay.example.com:44a", "2001:db8::1:443", "[192.0.2.1]:443",
		"192.0.2.1", ":443", "-relay.example.com:443",
		"relay..example.com:443", "10.0.0.256:443", "[2001:db8::1]",
		"relay example.com:443", "[fe80::1%eth0]:443",
	};

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(create("r", "eu", bad[i], ""), 400);
		CHECK_STR(err_field(), "address");
	}
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

static void rejects_bad_names_regions_and_pins(void)
{
	char extra[256];

	REQUIRE(setup());
	CHECK_INT(create("Fra", "eu", "192.0.2.1:443", ""), 400);
	CHECK_STR(err_field(), "name");
	CHECK_INT(create(".fra", "eu", "192.0.2.1:443", ""), 400);
	CHECK_STR(err_field(), "name");
	CHECK_INT(create("fra", "EU", "192.0.2.1:443", ""), 400);
	CHECK_STR(err_field(), "region");
	CHECK_INT(create("fra", "eu_west", "192.0.2.1:443", ""), 400);
	CHECK_STR(err_field(), "region");
	CHECK_INT(create("fra", "", "192.0.2.1:443", ""), 400);
	CHECK_STR(err_field(), "region");
	CHECK_INT(create("fra", "eu", "192.0.2.1:443",
			 ",\"public_key_pin\":\"sha256/a b\""),
		  400);
	CHECK_STR(err_field(), "public_key_pin");
	CHECK_INT(create("fra", "eu", "192.0.2.1:443",
			 ",\"public_key_pin\":\"sha256/\\u00e9\""),
		  400);
	CHECK_STR(err_field(), "public_key_pin");
	memset(extra, 0, sizeof(extra));
	strcpy(extra, ",\"public_key_pin\":\"");
	memset(extra + strlen(extra), 'a', 128);
	strcat(extra, "\"");
	CHECK_INT(create("fra", "eu", "192.0.2.1:443", extra), 400);
	CHECK_STR(err_field(), "public_key_pin");
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

static void rejects_malformed_unknown_mistyped_and_missing(void)
{
	REQUIRE(setup());
	CHECK_INT(call("POST", "/api/v1/relays", "admin", "{\"name\":"), 400);
	CHECK_STR(err_code(), "parse_error");
	CHECK_INT(call("POST", "/api/v1/relays", "admin",
		       "{\"region\":\"eu\",\"address\":\"192.0.2.1:443\"}"),
		  400);
	CHECK_STR(err_field(), "name");
	CHECK_INT(call("POST", "/api/v1/relays", "admin",
		       "{\"name\":\"a\",\"address\":\"192.0.2.1:443\"}"),
		  400);
	CHECK_STR(err_field(), "region");
	CHECK_INT(call("POST", "/api/v1/relays", "admin",
		       "{\"name\":\"a\",\"region\":\"eu\"}"),
		  400);
	CHECK_STR(err_field(), "address");
	CHECK_INT(create("a", "eu", "192.0.2.1:443", ",\"port\":443"), 400);
	CHECK_STR(err_field(), "port");
	CHECK_INT(call("POST", "/api/v1/relays", "admin",
		       "{\"name\":\"a\",\"region\":7,\"address\":\"x:1\"}"),
		  400);
	CHECK_STR(err_code(), "wrong_type");
	CHECK_STR(err_field(), "region");
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

static void duplicate_name_conflicts(void)
{
	int64_t v0;

	REQUIRE(setup());
	REQUIRE_INT(create("fra", "eu", "192.0.2.1:443", ""), 201);
	v0 = netmap_version();
	CHECK_INT(create("fra", "us", "192.0.2.2:443", ""), 409);
	CHECK_STR(err_code(), "already_exists");
	CHECK_STR(err_field(), "name");
	CHECK(strstr(err_message(), "fra") != NULL);
	CHECK_INT(netmap_version(), v0);
	CHECK_INT(audit_count("relay.create", NULL, NULL), 1);
}

static void gets_and_lists_relays_in_pages(void)
{
	char path[64];
	int64_t id;

	REQUIRE(setup());
	REQUIRE_INT(create("a", "eu", "192.0.2.1:443", ""), 201);
	id = ifield("id");
	REQUIRE_INT(create("b", "eu", "192.0.2.2:443", ""), 201);
	REQUIRE_INT(create("c", "us", "192.0.2.3:443", ""), 201);
	snprintf(path, sizeof(path), "/api/v1/relays/%" PRId64, id);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	CHECK_STR(sfield("name"), "a");
	REQUIRE_INT(call("GET", "/api/v1/relays?limit=2", "admin", NULL), 200);
	CHECK_INT(nitems(), 2);
	REQUIRE(json_is_string(field("next_cursor")));
	snprintf(path, sizeof(path), "/api/v1/relays?limit=2&cursor=%s",
		 sfield("next_cursor"));
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	REQUIRE_INT(nitems(), 1);
	CHECK_STR(json_string_value(json_object_get(item(0), "name")), "c");
	CHECK(json_is_null(field("next_cursor")));
	CHECK_INT(call("GET", "/api/v1/relays?limit=1001", "admin", NULL), 400);
}

static void missing_and_non_numeric_ids_are_404(void)
{
	REQUIRE(setup());
	CHECK_INT(call("GET", "/api/v1/relays/5", "admin", NULL), 404);
	CHECK_STR(err_code(), "not_found");
	CHECK(strstr(err_message(), "5") != NULL);
	CHECK_INT(call("GET", "/api/v1/relays/five", "admin", NULL), 404);
	CHECK_INT(call("PATCH", "/api/v1/relays/5", "admin",
		       "{\"region\":\"eu\"}"),
		  404);
	CHECK_STR(err_field(), "id");
	CHECK_INT(call("DELETE", "/api/v1/relays/5", "admin", NULL), 404);
}

static void patch_changes_region_address_and_pin_but_not_name(void)
{
	char path[64], idtext[24];
	int64_t id, v0;

	REQUIRE(setup());
	REQUIRE_INT(create("fra", "eu", "192.0.2.1:443",
			   ",\"public_key_pin\":\"sha256/x\""),
		    201);
	id = ifield("id");
	snprintf(path, sizeof(path), "/api/v1/relays/%" PRId64, id);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	v0 = netmap_version();
	REQUIRE_INT(call("PATCH", path, "admin",
			 "{\"region\":\"eu-west\",\"address\":\"[::1]:8443\"}"),
		    200);
	CHECK_STR(sfield("region"), "eu-west");
	CHECK_STR(sfield("address"), "[::1]:8443");
	CHECK_STR(sfield("public_key_pin"), "sha256/x");
	CHECK_STR(sfield("name"), "fra");
	CHECK_INT(netmap_version(), v0 + 1);
	CHECK_INT(audit_count("relay.update", idtext, NULL), 1);
	REQUIRE_INT(call("PATCH", path, "admin", "{\"public_key_pin\":\"\"}"),
		    200);
	CHECK(json_is_null(field("public_key_pin")));
	CHECK_INT(call("PATCH", path, "admin", "{\"name\":\"ber\"}"), 400);
	CHECK_STR(err_field(), "name");
	CHECK_INT(call("PATCH", path, "admin", "{\"address\":\"nope\"}"), 400);
	CHECK_STR(err_field(), "address");
	CHECK_INT(call("PATCH", path, "admin", "{\"region\":null}"), 400);
	CHECK_STR(err_code(), "wrong_type");
	CHECK_INT(audit_count("relay.update", idtext, NULL), 2);
	REQUIRE_INT(call("GET", path, "admin", NULL), 200);
	CHECK_STR(sfield("name"), "fra");
	CHECK_STR(sfield("address"), "[::1]:8443");
}

static void deletes_relay(void)
{
	char path[64], idtext[24];
	int64_t id, v0;

	REQUIRE(setup());
	REQUIRE_INT(create("fra", "eu", "192.0.2.1:443", ""), 201);
	id = ifield("id");
	v0 = netmap_version();
	snprintf(path, sizeof(path), "/api/v1/relays/%" PRId64, id);
	REQUIRE_INT(call("DELETE", path, "admin", NULL), 204);
	CHECK(R.json == NULL);
	CHECK_INT(netmap_version(), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	CHECK_INT(audit_count("relay.delete", idtext, NULL), 1);
	CHECK_INT(call("GET", path, "admin", NULL), 404);
	CHECK_INT(call("DELETE", path, "admin", NULL), 404);
}

static void only_admins_may_manage_relays(void)
{
	char cred[CRED_TEXT_SIZE], idtext[24];
	struct store_node node;
	struct store_tx *tx;
	struct cred cr;
	int64_t n;

	REQUIRE(setup());
	n = mk_node("n", F.alice, NULL, 0);
	REQUIRE(n > 0);
	snprintf(idtext, sizeof(idtext), "%" PRId64, n);
	REQUIRE(cred_new(CRED_NODE, idtext, cred, &cr) == 0);
	REQUIRE(store_begin(F.st, STORE_WRITE, &tx) == 0);
	REQUIRE(store_node_get(tx, n, &node) == 0);
	snprintf(node.cred_hash, sizeof(node.cred_hash), "%s", cr.hash);
	REQUIRE(store_node_update(tx, &node) == 0);
	REQUIRE(store_commit(tx) == 0);
	CHECK_INT(call("GET", "/api/v1/relays", cred, NULL), 403);
	CHECK_INT(call("DELETE", "/api/v1/relays/1", cred, NULL), 403);
	CHECK_INT(call("GET", "/api/v1/relays", "member", NULL), 403);
	CHECK_INT(call("POST", "/api/v1/relays", "member",
		       "{\"name\":\"a\",\"region\":\"eu\",\"address\":"
		       "\"192.0.2.1:443\"}"),
		  403);
	CHECK_STR(err_code(), "forbidden");
	CHECK_INT(call("GET", "/api/v1/relays", NULL, NULL), 401);
	/* A node credential whose secret does not match is unknown. */
	cred[strlen(cred) - 10] = cred[strlen(cred) - 10] == 'A' ? 'B' : 'A';
	CHECK_INT(call("GET", "/api/v1/relays", cred, NULL), 401);
	CHECK_INT(audit_count(NULL, NULL, NULL), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(creates_relay),
	CHECK_CASE(pin_is_optional_and_shows_as_null),
	CHECK_CASE(accepts_and_normalizes_addresses),
	CHECK_CASE(rejects_bad_addresses),
	CHECK_CASE(rejects_bad_names_regions_and_pins),
	CHECK_CASE(rejects_malformed_unknown_mistyped_and_missing),
	CHECK_CASE(duplicate_name_conflicts),
	CHECK_CASE(gets_and_lists_relays_in_pages),
	CHECK_CASE(missing_and_non_numeric_ids_are_404),
	CHECK_CASE(patch_changes_region_address_and_pin_but_not_name),
	CHECK_CASE(deletes_relay),
	CHECK_CASE(only_admins_may_manage_relays),
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
