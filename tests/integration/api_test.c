/* Every REST endpoint's success path against the real controller process
 * (docs/api/README.md is the contract), pagination of every list, and an
 * audit row for every mutation. Each case starts its own controller on a
 * fresh database. */
#include "check.h"
#include "fx.h"
#include "ih.h"
#include "shared/clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K (h->bootstrap_key)

static struct ih *start(void)
{
	struct ih *h = NULL;

	if (ih_new(NULL, &h) < 0)
		return NULL;
	return h;
}

static void path_id(char *buf, size_t cap, const char *base, int64_t id)
{
	snprintf(buf, cap, "%s/%" PRId64, base, id);
}

/* Checks the standard not-found answer for a deleted object. */
static void check_gone(struct ih *h, const char *path, int64_t id)
{
	json_t *j = NULL;
	char idtext[32];
	const char *msg;

	CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 404);
	CHECK_STR(fx_str(j, "error.code"), "not_found");
	msg = fx_str(j, "error.message");
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	check_report(msg && strstr(msg, idtext), __FILE__, __LINE__,
		     "GET %s: 404 message \"%s\" should name id %s", path,
		     msg ? msg : "(null)", idtext);
	json_decref(j);
}

static int audit(struct ih *h, const char *action, const char *type,
		 int64_t id)
{
	char idtext[32];

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	return fx_audit_count(h, K, action, type, id ? idtext : NULL);
}

static void users_are_created_read_updated_listed_and_deleted(void)
{
	struct ih *h = start();
	json_t *j = NULL;
	char path[128];
	int64_t id, now = clock_wall_s();

	REQUIRE(h);
	CHECK_INT(fx_req(h, "POST", "/api/v1/users", K,
			 "{\"name\":\"alice\",\"display_name\":\"Alice\","
			 "\"email\":\"alice@example.com\"}", &j), 201);
	id = fx_int(j, "id");
	CHECK(id > 0);
	CHECK_STR(fx_str(j, "name"), "alice");
	CHECK_STR(fx_str(j, "display_name"), "Alice");
	CHECK_STR(fx_str(j, "email"), "alice@example.com");
	CHECK_STR(fx_str(j, "role"), "member");
	CHECK(fx_time_near(j, "created_at", now, 60));
	json_decref(j);

	path_id(path, sizeof(path), "/api/v1/users", id);
	CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK_INT(fx_int(j, "id"), id);
	CHECK_STR(fx_str(j, "name"), "alice");
	json_decref(j);

	CHECK_INT(fx_req(h, "GET", "/api/v1/users?name=alice", K, NULL, &j),
		  200);
	CHECK_INT(json_array_size(fx_get(j, "items")), 1);
	CHECK(fx_has_id(fx_get(j, "items"), id));
	CHECK(fx_is_null(j, "next_cursor"));
	json_decref(j);
	CHECK_INT(fx_req(h, "GET", "/api/v1/users?name=nobody", K, NULL, &j),
		  200);
	CHECK_INT(json_array_size(fx_get(j, "items")), 0);
	json_decref(j);

	CHECK_INT(fx_req(h, "PATCH", path, K,
			 "{\"role\":\"admin\",\"display_name\":\"Alice A.\"}",
			 &j), 200);
	CHECK_STR(fx_str(j, "role"), "admin");
	CHECK_STR(fx_str(j, "display_name"), "Alice A.");
	CHECK_STR(fx_str(j, "name"), "alice");
	CHECK_STR(fx_str(j, "email"), "alice@example.com");
	json_decref(j);
	CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK_STR(fx_str(j, "role"), "admin");
	json_decref(j);

	CHECK_INT(fx_req(h, "DELETE", path, K, NULL, &j), 204);
	CHECK(j == NULL);
	json_decref(j);
	check_gone(h, path, id);

	CHECK_INT(audit(h, "user.create", "user", id), 1);
	CHECK_INT(audit(h, "user.delete", "user", id), 1);
	CHECK_INT(audit(h, "user.", "user", id), 3);
	CHECK_INT(ih_del(h), 0);
}

static void second_user_with_a_taken_name_is_409(void)
{
	struct ih *h = start();
	json_t *j = NULL;

	REQUIRE(h);
	CHECK(fx_user(h, K, "bob", NULL) > 0);
	CHECK_INT(fx_req(h, "POST", "/api/v1/users", K, "{\"name\":\"bob\"}",
			 &j), 409);
	CHECK_STR(fx_str(j, "error.code"), "already_exists");
	json_decref(j);
	CHECK_INT(audit(h, "user.create", "user", 0), 1);
	CHECK_INT(ih_del(h), 0);
}

static void user_who_owns_nodes_cannot_be_deleted(void)
{
	struct ih *h = start();
	char body[128], key[FX_KEY_SIZE], upath[64], npath[64];
	json_t *j = NULL;
	int64_t uid, nid;

	REQUIRE(h);
	uid = fx_user(h, K, "carol", NULL);
	REQUIRE(uid > 0);
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", uid);
	REQUIRE(fx_authkey(h, K, body, key) > 0);
	REQUIRE_INT(fx_register(h, key, "carol-laptop", NULL, &j), 201);
	nid = fx_int(j, "node.id");
	CHECK_INT(fx_int(j, "node.user_id"), uid);
	json_decref(j);

	path_id(upath, sizeof(upath), "/api/v1/users", uid);
	CHECK_INT(fx_req(h, "DELETE", upath, K, NULL, &j), 409);
	CHECK_STR(fx_str(j, "error.code"), "conflict");
	json_decref(j);
	CHECK_INT(fx_req(h, "GET", upath, K, NULL, NULL), 200);

	path_id(npath, sizeof(npath), "/api/v1/nodes", nid);
	CHECK_INT(fx_req(h, "DELETE", npath, K, NULL, NULL), 204);
	CHECK_INT(fx_req(h, "DELETE", upath, K, NULL, NULL), 204);
	CHECK_INT(audit(h, "user.delete", "user", uid), 1);
	CHECK_INT(ih_del(h), 0);
}

static void auth_keys_show_the_key_once_and_revoke_to_unusable(void)
{
	struct ih *h = start();
	json_t *j = NULL, *all;
	char path[64];
	const char *key, *prefix;
	int64_t id, id2, now = clock_wall_s();

	REQUIRE(h);
	/* Auth-key tags must be declared in tagOwners. */
	REQUIRE_INT(fx_policy(h, K, "{\"tagOwners\":{\"tag:web\":[],"
				    "\"tag:a\":[],\"tag:b\":[]}}", NULL), 200);
	CHECK_INT(fx_req(h, "POST", "/api/v1/auth-keys", K,
			 "{\"reusable\":true,\"tags\":[\"tag:web\"],"
			 "\"expires_in\":\"90m\"}", &j), 201);
	id = fx_int(j, "id");
	key = fx_str(j, "key");
	prefix = fx_str(j, "prefix");
	CHECK(id > 0);
	CHECK(key && strncmp(key, "weft_auth_", 10) == 0);
	CHECK(prefix && *prefix && key && strstr(key, prefix));
	CHECK(fx_is_true(j, "reusable"));
	CHECK(json_is_false(fx_get(j, "ephemeral")));
	CHECK(fx_has_str(fx_get(j, "tags"), "tag:web"));
	CHECK_INT(json_array_size(fx_get(j, "tags")), 1);
	CHECK(fx_time_near(j, "expires_at", now + 90 * 60, 60));
	CHECK(fx_is_null(j, "revoked_at"));
	CHECK(fx_is_null(j, "user_id"));
	CHECK_INT(fx_int(j, "used_count"), 0);
	CHECK(fx_is_true(j, "usable"));
	CHECK(fx_time_near(j, "created_at", now, 60));
	json_decref(j);

	path_id(path, sizeof(path), "/api/v1/auth-keys", id);
	CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK_INT(fx_int(j, "id"), id);
	CHECK(fx_get(j, "key") == NULL);
	CHECK(fx_is_true(j, "usable"));
	json_decref(j);

	/* A key of no user must give its nodes tags: they need an owner. */
	CHECK_INT(fx_req(h, "POST", "/api/v1/auth-keys", K, "{}", &j), 400);
	CHECK_STR(fx_str(j, "error.field"), "tags");
	json_decref(j);

	/* Defaults: one-off, not ephemeral, 24 hours. */
	CHECK_INT(fx_req(h, "POST", "/api/v1/auth-keys", K,
			 "{\"tags\":[\"tag:a\",\"tag:b\"]}", &j), 201);
	id2 = fx_int(j, "id");
	CHECK(json_is_false(fx_get(j, "reusable")));
	CHECK(json_is_false(fx_get(j, "ephemeral")));
	CHECK_INT(json_array_size(fx_get(j, "tags")), 2);
	CHECK(fx_time_near(j, "expires_at", now + 24 * 3600, 60));
	json_decref(j);

	CHECK_INT(fx_req(h, "DELETE", path, K, NULL, &j), 200);
	CHECK_INT(fx_int(j, "id"), id);
	CHECK(fx_time_near(j, "revoked_at", clock_wall_s(), 60));
	CHECK(json_is_false(fx_get(j, "usable")));
	CHECK(fx_get(j, "key") == NULL);
	json_decref(j);

	all = fx_list_all(h, K, "/api/v1/auth-keys", 100, NULL);
	CHECK(all && !fx_has_id(all, id) && fx_has_id(all, id2));
	json_decref(all);
	all = fx_list_all(h, K, "/api/v1/auth-keys?include_revoked=true", 100,
			  NULL);
	CHECK(all && fx_has_id(all, id) && fx_has_id(all, id2));
	json_decref(all);

	CHECK_INT(audit(h, "authkey.create", "authkey", id), 1);
	CHECK_INT(audit(h, "authkey.create", "authkey", id2), 1);
	CHECK_INT(audit(h, "authkey.revoke", "authkey", id), 1);
	CHECK_INT(ih_del(h), 0);
}

static void one_off_auth_key_counts_its_use_and_becomes_unusable(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE], path[64];
	json_t *j = NULL;
	int64_t id;

	REQUIRE(h);
	id = fx_authkey(h, K, NULL, key);
	REQUIRE(id > 0);
	CHECK_INT(fx_register(h, key, "once", NULL, NULL), 201);
	path_id(path, sizeof(path), "/api/v1/auth-keys", id);
	CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK_INT(fx_int(j, "used_count"), 1);
	CHECK(json_is_false(fx_get(j, "usable")));
	CHECK(fx_is_null(j, "revoked_at"));
	json_decref(j);
	CHECK_INT(ih_del(h), 0);
}

static void api_keys_authenticate_until_revoked(void)
{
	struct ih *h = start();
	char body[160], path[64], key[FX_KEY_SIZE];
	json_t *j = NULL, *all;
	int64_t uid, id;

	REQUIRE(h);
	uid = fx_user(h, K, "root", "admin");
	REQUIRE(uid > 0);
	snprintf(body, sizeof(body),
		 "{\"user_id\":%" PRId64 ",\"description\":\"ci runner\"}", uid);
	CHECK_INT(fx_req(h, "POST", "/api/v1/api-keys", K, body, &j), 201);
	id = fx_int(j, "id");
	CHECK(id > 0);
	CHECK(fx_str(j, "key") && strncmp(fx_str(j, "key"), "weft_api_", 9) == 0);
	snprintf(key, sizeof(key), "%s", fx_str(j, "key") ? fx_str(j, "key") : "");
	CHECK(fx_str(j, "prefix") && strstr(key, fx_str(j, "prefix")));
	CHECK_INT(fx_int(j, "user_id"), uid);
	CHECK_STR(fx_str(j, "description"), "ci runner");
	CHECK(fx_is_null(j, "expires_at"));
	CHECK(fx_is_null(j, "revoked_at"));
	CHECK(fx_is_null(j, "last_used_at"));
	json_decref(j);

	/* The new key works on an admin call and records its use. */
	CHECK_INT(fx_req(h, "GET", "/api/v1/users", key, NULL, NULL), 200);
	path_id(path, sizeof(path), "/api/v1/api-keys", id);
	CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK(fx_get(j, "key") == NULL);
	CHECK(fx_time_near(j, "last_used_at", clock_wall_s(), 60));
	json_decref(j);

	snprintf(body, sizeof(body), "/api/v1/api-keys?user_id=%" PRId64, uid);
	all = fx_list_all(h, K, body, 100, NULL);
	CHECK(all && json_array_size(all) == 1 && fx_has_id(all, id));
	json_decref(all);

	/* With an expiry. */
	CHECK_INT(fx_req(h, "POST", "/api/v1/api-keys", K,
			 "{\"expires_in\":\"30d\"}", &j), 201);
	CHECK(fx_time_near(j, "expires_at", clock_wall_s() + 30 * 86400, 60));
	CHECK(fx_is_null(j, "user_id"));
	json_decref(j);

	CHECK_INT(fx_req(h, "DELETE", path, K, NULL, &j), 200);
	CHECK(fx_time_near(j, "revoked_at", clock_wall_s(), 60));
	json_decref(j);
	CHECK_INT(fx_req(h, "GET", "/api/v1/users", key, NULL, &j), 401);
	CHECK_STR(fx_str(j, "error.code"), "unauthenticated");
	json_decref(j);

	CHECK_INT(audit(h, "apikey.create", "apikey", id), 1);
	CHECK_INT(audit(h, "apikey.revoke", "apikey", id), 1);
	CHECK_INT(ih_del(h), 0);
}

static void nodes_register_rename_tag_expire_and_delete(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE], path[64], pub[FX_PUBKEY_SIZE], cred[160];
	json_t *j = NULL, *n, *all;
	const char *ip4, *ip6;
	int64_t id, id2, now = clock_wall_s();
	char ip4c[64] = "", ip6c[64] = "";

	REQUIRE(h);
	REQUIRE(fx_authkey(h, K, "{\"reusable\":true,\"tags\":[\"tag:web\"]}",
			   key) > 0);
	REQUIRE_INT(fx_pubkey(pub), 0);
	CHECK_INT(fx_reqf(h, "POST", "/api/v1/register", NULL, &j,
			  "{\"auth_key\":\"%s\",\"public_key\":\"%s\","
			  "\"hostname\":\"laptop\",\"os\":\"linux\","
			  "\"version\":\"0.1.0\"}", key, pub), 201);
	n = fx_get(j, "node");
	id = fx_int(n, "id");
	CHECK(id > 0);
	snprintf(cred, sizeof(cred), "weft_node_%" PRId64 "_", id);
	CHECK(fx_str(j, "credential") &&
	      strncmp(fx_str(j, "credential"), cred, strlen(cred)) == 0);
	snprintf(cred, sizeof(cred), "%s",
		 fx_str(j, "credential") ? fx_str(j, "credential") : "");
	CHECK_STR(fx_str(n, "name"), "laptop");
	CHECK_STR(fx_str(n, "public_key"), pub);
	CHECK_STR(fx_str(n, "os"), "linux");
	CHECK_STR(fx_str(n, "version"), "0.1.0");
	CHECK(fx_is_null(n, "user_id"));
	CHECK(fx_has_str(fx_get(n, "tags"), "tag:web"));
	CHECK(json_is_false(fx_get(n, "ephemeral")));
	CHECK(json_is_boolean(fx_get(n, "online")));
	CHECK(fx_time_near(n, "created_at", now, 60));
	CHECK(json_is_array(fx_get(n, "routes.advertised")));
	CHECK(json_is_array(fx_get(n, "routes.approved")));
	ip4 = fx_str(n, "ipv4");
	ip6 = fx_str(n, "ipv6");
	CHECK(fx_in_prefix(ip4, "100.64.0.0/10"));
	CHECK(fx_in_prefix(ip6, "fd00::/8"));
	snprintf(ip4c, sizeof(ip4c), "%s", ip4 ? ip4 : "");
	snprintf(ip6c, sizeof(ip6c), "%s", ip6 ? ip6 : "");
	json_decref(j);

	/* The same public key again: the same node, a new credential. */
	CHECK_INT(fx_reqf(h, "POST", "/api/v1/register", NULL, &j,
			  "{\"auth_key\":\"%s\",\"public_key\":\"%s\","
			  "\"hostname\":\"laptop\",\"os\":\"linux\","
			  "\"version\":\"0.1.1\"}", key, pub), 200);
	CHECK_INT(fx_int(j, "node.id"), id);
	CHECK_STR(fx_str(j, "node.ipv4"), ip4c);
	CHECK_STR(fx_str(j, "node.ipv6"), ip6c);
	CHECK(fx_str(j, "credential") && strcmp(fx_str(j, "credential"), cred));
	json_decref(j);

	/* A second node with the same hostname gets a suffix. */
	CHECK_INT(fx_register(h, key, "laptop", NULL, &j), 201);
	id2 = fx_int(j, "node.id");
	CHECK_STR(fx_str(j, "node.name"), "laptop-2");
	CHECK(fx_str(j, "node.ipv4") && strcmp(fx_str(j, "node.ipv4"), ip4c));
	json_decref(j);

	path_id(path, sizeof(path), "/api/v1/nodes", id);
	CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK_INT(fx_int(j, "id"), id);
	CHECK_STR(fx_str(j, "ipv4"), ip4c);
	json_decref(j);
	all = fx_list_all(h, K, "/api/v1/nodes", 100, NULL);
	CHECK(all && json_array_size(all) == 2 && fx_has_id(all, id2));
	json_decref(all);
	all = fx_list_all(h, K, "/api/v1/nodes?tag=tag:web", 100, NULL);
	CHECK(all && json_array_size(all) == 2);
	json_decref(all);
	all = fx_list_all(h, K, "/api/v1/nodes?tag=tag:other", 100, NULL);
	CHECK(all && json_array_size(all) == 0);
	json_decref(all);

	CHECK_INT(fx_req(h, "PATCH", path, K,
			 "{\"name\":\"web-1\",\"tags\":[\"tag:db\"]}", &j), 200);
	CHECK_STR(fx_str(j, "name"), "web-1");
	CHECK(fx_has_str(fx_get(j, "tags"), "tag:db"));
	CHECK(!fx_has_str(fx_get(j, "tags"), "tag:web"));
	json_decref(j);
	CHECK_INT(fx_req(h, "PATCH", path, K, "{\"name\":\"laptop-2\"}", &j),
		  409);
	CHECK_STR(fx_str(j, "error.code"), "already_exists");
	json_decref(j);

	snprintf(cred, sizeof(cred), "%s/expire", path);
	CHECK_INT(fx_req(h, "POST", cred, K, NULL, &j), 200);
	CHECK_INT(fx_int(j, "id"), id);
	CHECK(fx_time_near(j, "expires_at", clock_wall_s(), 60));
	json_decref(j);

	CHECK_INT(fx_req(h, "DELETE", path, K, NULL, &j), 204);
	CHECK(j == NULL);
	json_decref(j);
	check_gone(h, path, id);

	CHECK_INT(audit(h, "node.register", "node", id), 2);
	CHECK_INT(audit(h, "node.register", "node", id2), 1);
	CHECK_INT(audit(h, "node.expire", "node", id), 1);
	CHECK_INT(audit(h, "node.delete", "node", id), 1);
	/* register ×2, rename/retag (one row or two), expire, delete */
	CHECK(audit(h, "node.", "node", id) >= 5);
	CHECK_INT(ih_del(h), 0);
}

static void advertised_routes_are_listed_and_approved(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE], path[96];
	json_t *j = NULL, *all, *r;
	int64_t nid, rid = 0;

	REQUIRE(h);
	REQUIRE(fx_authkey(h, K, NULL, key) > 0);
	REQUIRE_INT(fx_register(h, key, "gateway",
				"[\"10.0.0.0/24\",\"192.168.1.0/24\"]", &j),
		    201);
	nid = fx_int(j, "node.id");
	CHECK(fx_has_str(fx_get(j, "node.routes.advertised"), "10.0.0.0/24"));
	CHECK(fx_has_str(fx_get(j, "node.routes.advertised"),
			 "192.168.1.0/24"));
	CHECK_INT(json_array_size(fx_get(j, "node.routes.approved")), 0);
	json_decref(j);

	snprintf(path, sizeof(path), "/api/v1/routes?node_id=%" PRId64, nid);
	all = fx_list_all(h, K, path, 100, NULL);
	REQUIRE(all);
	CHECK_INT(json_array_size(all), 2);
	for (size_t i = 0; i < json_array_size(all); i++) {
		r = json_array_get(all, i);
		CHECK_INT(fx_int(r, "node_id"), nid);
		CHECK(fx_is_true(r, "advertised"));
		CHECK(json_is_false(fx_get(r, "approved")));
		if (fx_str(r, "prefix") &&
		    strcmp(fx_str(r, "prefix"), "10.0.0.0/24") == 0)
			rid = fx_int(r, "id");
	}
	json_decref(all);
	REQUIRE(rid > 0);

	path_id(path, sizeof(path), "/api/v1/routes", rid);
	CHECK_INT(fx_req(h, "PATCH", path, K, "{\"approved\":true}", &j), 200);
	CHECK_INT(fx_int(j, "id"), rid);
	CHECK(fx_is_true(j, "approved"));
	CHECK_STR(fx_str(j, "prefix"), "10.0.0.0/24");
	json_decref(j);

	path_id(path, sizeof(path), "/api/v1/nodes", nid);
	CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK_INT(json_array_size(fx_get(j, "routes.approved")), 1);
	CHECK(fx_has_str(fx_get(j, "routes.approved"), "10.0.0.0/24"));
	json_decref(j);

	all = fx_list_all(h, K, "/api/v1/routes", 100, NULL);
	CHECK(all && json_array_size(all) == 2);
	json_decref(all);
	CHECK(audit(h, "route.", "route", rid) >= 1);
	CHECK_INT(ih_del(h), 0);
}

static void resources_are_created_read_updated_and_deleted(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE], path[64];
	json_t *j = NULL, *all;
	int64_t nid, id, id2, id3;

	REQUIRE(h);
	REQUIRE(fx_authkey(h, K, NULL, key) > 0);
	REQUIRE_INT(fx_register(h, key, "connector", NULL, &j), 201);
	nid = fx_int(j, "node.id");
	json_decref(j);

	CHECK_INT(fx_reqf(h, "POST", "/api/v1/resources", K, &j,
			  "{\"name\":\"db\",\"address\":\"10.0.0.5\","
			  "\"filters\":[{\"protocol\":\"tcp\",\"ports\":"
			  "[\"5432\"]}],\"connectors\":{\"nodes\":[%" PRId64
			  "]}}", nid), 201);
	id = fx_int(j, "id");
	CHECK(id > 0);
	CHECK_STR(fx_str(j, "name"), "db");
	CHECK_STR(fx_str(j, "address"), "10.0.0.5");
	CHECK_STR(fx_str(j, "type"), "ip");
	CHECK_STR(fx_str(j, "filters.0.protocol"), "tcp");
	CHECK_STR(fx_str(j, "filters.0.ports.0"), "5432");
	CHECK_INT(fx_int(j, "connectors.nodes.0"), nid);
	CHECK(fx_is_null(j, "mapped"));
	CHECK(fx_str(j, "created_at") != NULL);
	json_decref(j);

	CHECK_INT(fx_reqf(h, "POST", "/api/v1/resources", K, &j,
			  "{\"name\":\"wiki\",\"address\":\"wiki.corp.example\","
			  "\"connectors\":{\"nodes\":[%" PRId64 "]}}", nid), 201);
	id2 = fx_int(j, "id");
	CHECK_STR(fx_str(j, "type"), "dns");
	CHECK_STR(fx_str(j, "mapped.ipv4"), "100.96.0.1/32");
	json_decref(j);

	CHECK_INT(fx_reqf(h, "POST", "/api/v1/resources", K, &j,
			  "{\"name\":\"lan\",\"address\":\"10.1.0.0/16\","
			  "\"filters\":[{\"protocol\":\"udp\",\"ports\":"
			  "[\"80\",\"443\",\"8000-8100\"]}],\"connectors\":"
			  "{\"nodes\":[%" PRId64 "]}}", nid), 201);
	id3 = fx_int(j, "id");
	CHECK_STR(fx_str(j, "address"), "10.1.0.0/16");
	CHECK_STR(fx_str(j, "filters.0.ports.2"), "8000-8100");
	json_decref(j);

	path_id(path, sizeof(path), "/api/v1/resources", id);
	CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK_STR(fx_str(j, "name"), "db");
	json_decref(j);
	all = fx_list_all(h, K, "/api/v1/resources", 100, NULL);
	CHECK(all && json_array_size(all) == 3 && fx_has_id(all, id2) &&
	      fx_has_id(all, id3));
	json_decref(all);

	CHECK_INT(fx_req(h, "PATCH", path, K,
			 "{\"filters\":[{\"protocol\":\"tcp\",\"ports\":"
			 "[\"5432\",\"6432\"]},{\"protocol\":\"icmp\"}]}", &j),
		  200);
	CHECK_STR(fx_str(j, "filters.0.ports.1"), "6432");
	CHECK_STR(fx_str(j, "filters.1.protocol"), "icmp");
	CHECK_STR(fx_str(j, "address"), "10.0.0.5");
	CHECK_INT(fx_int(j, "connectors.nodes.0"), nid);
	json_decref(j);

	CHECK_INT(fx_req(h, "DELETE", path, K, NULL, NULL), 204);
	check_gone(h, path, id);
	CHECK_INT(audit(h, "resource.create", "resource", 0), 3);
	CHECK_INT(audit(h, "resource.delete", "resource", id), 1);
	CHECK_INT(audit(h, "resource.", "resource", id), 3);
	CHECK_INT(ih_del(h), 0);
}

static void relays_are_created_read_updated_and_deleted(void)
{
	struct ih *h = start();
	char path[64];
	json_t *j = NULL, *all;
	int64_t id, id2;

	REQUIRE(h);
	CHECK_INT(fx_req(h, "POST", "/api/v1/relays", K,
			 "{\"name\":\"fra1\",\"region\":\"eu\","
			 "\"address\":\"relay1.example.com:443\"}", &j), 201);
	id = fx_int(j, "id");
	CHECK(id > 0);
	CHECK_STR(fx_str(j, "name"), "fra1");
	CHECK_STR(fx_str(j, "region"), "eu");
	CHECK_STR(fx_str(j, "address"), "relay1.example.com:443");
	CHECK(fx_str(j, "created_at") != NULL);
	json_decref(j);
	CHECK_INT(fx_req(h, "POST", "/api/v1/relays", K,
			 "{\"name\":\"nyc1\",\"region\":\"us\","
			 "\"address\":\"[2001:db8::1]:7443\"}", &j), 201);
	id2 = fx_int(j, "id");
	CHECK_STR(fx_str(j, "address"), "[2001:db8::1]:7443");
	json_decref(j);

	path_id(path, sizeof(path), "/api/v1/relays", id);
	CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK_STR(fx_str(j, "name"), "fra1");
	json_decref(j);
	all = fx_list_all(h, K, "/api/v1/relays", 100, NULL);
	CHECK(all && json_array_size(all) == 2 && fx_has_id(all, id2));
	json_decref(all);

	CHECK_INT(fx_req(h, "PATCH", path, K,
			 "{\"region\":\"eu-central\","
			 "\"address\":\"192.0.2.10:8443\"}", &j), 200);
	CHECK_STR(fx_str(j, "region"), "eu-central");
	CHECK_STR(fx_str(j, "address"), "192.0.2.10:8443");
	CHECK_STR(fx_str(j, "name"), "fra1");
	json_decref(j);

	CHECK_INT(fx_req(h, "DELETE", path, K, NULL, NULL), 204);
	check_gone(h, path, id);
	CHECK_INT(audit(h, "relay.create", "relay", 0), 2);
	CHECK_INT(audit(h, "relay.delete", "relay", id), 1);
	CHECK_INT(audit(h, "relay.", "relay", id), 3);
	CHECK_INT(ih_del(h), 0);
}

static void audit_log_filters_by_action_actor_type_and_time(void)
{
	struct ih *h = start();
	json_t *all, *row;
	char actor[160] = "", path[256];
	int64_t uid;

	REQUIRE(h);
	uid = fx_user(h, K, "dave", NULL);
	REQUIRE(uid > 0);
	REQUIRE(fx_user(h, K, "erin", NULL) > 0);
	REQUIRE(fx_authkey(h, K, NULL, (char[FX_KEY_SIZE]){0}) > 0);

	all = fx_list_all(h, K, "/api/v1/audit?action=user.create", 100, NULL);
	REQUIRE(all);
	CHECK_INT(json_array_size(all), 2);
	for (size_t i = 0; i < json_array_size(all); i++) {
		row = json_array_get(all, i);
		CHECK_STR(fx_str(row, "action"), "user.create");
		CHECK_STR(fx_str(row, "target_type"), "user");
		CHECK(fx_int(row, "id") > 0);
		CHECK(fx_time_near(row, "at", clock_wall_s(), 60));
		CHECK(fx_str(row, "actor") &&
		      strncmp(fx_str(row, "actor"), "apikey:", 7) == 0);
		if (fx_str(row, "actor"))
			snprintf(actor, sizeof(actor), "%s",
				 fx_str(row, "actor"));
	}
	json_decref(all);
	CHECK_INT(audit(h, "user.create", "user", uid), 1);

	snprintf(path, sizeof(path), "/api/v1/audit?actor=%s", actor);
	all = fx_list_all(h, K, path, 100, NULL);
	CHECK(all && json_array_size(all) >= 3);
	for (size_t i = 0; all && i < json_array_size(all); i++)
		CHECK_STR(fx_str(json_array_get(all, i), "actor"), actor);
	json_decref(all);

	all = fx_list_all(h, K, "/api/v1/audit?target_type=authkey", 100, NULL);
	CHECK(all && json_array_size(all) == 1);
	json_decref(all);

	all = fx_list_all(h, K, "/api/v1/audit?since=2999-01-01T00:00:00Z", 100,
			  NULL);
	CHECK(all && json_array_size(all) == 0);
	json_decref(all);
	all = fx_list_all(h, K, "/api/v1/audit?since=2000-01-01T00:00:00Z", 100,
			  NULL);
	CHECK(all && json_array_size(all) >= 3);
	json_decref(all);
	CHECK_INT(ih_del(h), 0);
}

/* Expects exactly want items in pages of 10, ending with a null cursor. */
static void check_pages(struct ih *h, const char *path, size_t want)
{
	int pages = 0;
	json_t *all = fx_list_all(h, K, path, 10, &pages);

	check_report(all && json_array_size(all) == want, __FILE__, __LINE__,
		     "%s: %zu items, want %zu", path,
		     all ? json_array_size(all) : 0, want);
	check_report(pages == (int)(want + 9) / 10 ||
			     (want % 10 == 0 && pages == (int)want / 10 + 1),
		     __FILE__, __LINE__, "%s: %d pages for %zu items", path,
		     pages, want);
	json_decref(all);
}

static void every_list_pages_through_25_items_by_10(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE], name[64], route[64];
	int pages = 0, total;
	json_t *all;

	REQUIRE(h);
	REQUIRE(fx_authkey(h, K, "{\"reusable\":true,\"tags\":[\"tag:test\"]}", key) > 0);
	for (int i = 0; i < 25; i++) {
		char k2[FX_KEY_SIZE];

		snprintf(name, sizeof(name), "user%02d", i);
		CHECK(fx_user(h, K, name, NULL) > 0);
		CHECK(fx_authkey(h, K, NULL, k2) > 0);
		CHECK(fx_apikey(h, K, 0, k2) > 0);
		snprintf(name, sizeof(name), "node%02d", i);
		snprintf(route, sizeof(route), "[\"10.%d.0.0/16\"]", i);
		CHECK_INT(fx_register(h, key, name, route, NULL), 201);
		CHECK_INT(fx_reqf(h, "POST", "/api/v1/relays", K, NULL,
				  "{\"name\":\"relay%02d\",\"region\":\"r\","
				  "\"address\":\"relay%d.example.com:443\"}",
				  i, i), 201);
		CHECK_INT(fx_reqf(h, "POST", "/api/v1/resources", K, NULL,
				  "{\"name\":\"res%02d\",\"address\":\"10.9.0.%d\","
				  "\"connectors\":{\"tags\":[\"tag:test\"]}}",
				  i, i + 1), 201);
	}
	check_pages(h, "/api/v1/users", 25);
	check_pages(h, "/api/v1/auth-keys", 26);  /* + the reusable key */
	check_pages(h, "/api/v1/api-keys", 26);   /* + the bootstrap key */
	check_pages(h, "/api/v1/nodes", 25);
	check_pages(h, "/api/v1/routes", 25);
	check_pages(h, "/api/v1/resources", 25);
	check_pages(h, "/api/v1/relays", 25);

	/* Audit: 25 of each of six mutations, the reusable key and the
	 * bootstrap key. */
	all = fx_list_all(h, K, "/api/v1/audit", 10, &pages);
	REQUIRE(all);
	total = (int)json_array_size(all);
	CHECK(total >= 25 * 6 + 1);
	CHECK(pages == (total + 9) / 10 || pages == total / 10 + 1);
	json_decref(all);
	CHECK_INT(audit(h, "user.create", "user", 0), 25);
	CHECK_INT(audit(h, "authkey.create", "authkey", 0), 26);
	CHECK_INT(audit(h, "apikey.create", "apikey", 0), 26);
	CHECK_INT(audit(h, "node.register", "node", 0), 25);
	CHECK_INT(audit(h, "relay.create", "relay", 0), 25);
	CHECK_INT(audit(h, "resource.create", "resource", 0), 25);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(users_are_created_read_updated_listed_and_deleted),
	CHECK_CASE(second_user_with_a_taken_name_is_409),
	CHECK_CASE(user_who_owns_nodes_cannot_be_deleted),
	CHECK_CASE(auth_keys_show_the_key_once_and_revoke_to_unusable),
	CHECK_CASE(one_off_auth_key_counts_its_use_and_becomes_unusable),
	CHECK_CASE(api_keys_authenticate_until_revoked),
	CHECK_CASE(nodes_register_rename_tag_expire_and_delete),
	CHECK_CASE(advertised_routes_are_listed_and_approved),
	CHECK_CASE(resources_are_created_read_updated_and_deleted),
	CHECK_CASE(relays_are_created_read_updated_and_deleted),
	CHECK_CASE(audit_log_filters_by_action_actor_type_and_time),
	CHECK_CASE(every_list_pages_through_25_items_by_10),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
