/* POST /api/v1/register and the ops endpoints, driven in-process against a
 * real SQLite store. */
#include "check.h"
#include "ctl_fixture.h"

#include "controller/api.h"
#include "controller/cred.h"
#include "controller/metrics.h"
#include "controller/store.h"
#include "shared/clock.h"
#include "shared/enc.h"
#include "shared/err.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The base64 of a 32-byte key whose bytes are all seed. */
static void pubkey(int seed, char out[64])
{
	unsigned char raw[32];

	memset(raw, seed & 0xff, sizeof(raw));
	raw[0] = (unsigned char)(seed >> 8);
	base64_encode(raw, sizeof(raw), out, 64, false);
}

/* Creates an auth key through the API; returns its text in key. */
static int64_t authkey(struct fx *f, const char *body, char key[CRED_TEXT_SIZE])
{
	struct http_resp r = {0};
	int64_t id = -1;

	if (fx_req(f, f->admin, "POST", "/api/v1/auth-keys", NULL, body, &r) == 201) {
		id = fx_jint(r.json, "id");
		snprintf(key, CRED_TEXT_SIZE, "%s", fx_jstr(r.json, "key"));
	}
	http_resp_free(&r);
	return id;
}

/* Declares the tags these tests put on keys in tagOwners (admins only):
 * an auth key may carry declared tags only. */
static void declare_tags(struct fx *f)
{
	REQUIRE_INT(fx_call(f, "PUT", "/api/v1/policy", f->admin,
			    "{\"tagOwners\": {\"tag:a\": [], \"tag:server\": [],"
			    " \"tag:prod\": []}}"), 200);
}

/* Registers; extra is appended inside the JSON object (may be ""). */
static int do_register(struct fx *f, const char *key, int seed,
		       const char *hostname, const char *extra,
		       struct http_resp *r)
{
	char body[2048], pk[64];
	int n;

	pubkey(seed, pk);
	n = snprintf(body, sizeof(body),
		     "{\"auth_key\":\"%s\",\"public_key\":\"%s\",\"hostname\":\"%s\"%s}",
		     key, pk, hostname, extra);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -1;
	return fx_req(f, NULL, "POST", "/api/v1/register", NULL, body, r);
}

static const json_t *jnode(const struct http_resp *r)
{
	return json_object_get(r->json, "node");
}

static int64_t count_nodes(struct fx *f)
{
	struct store_tx *tx = NULL;
	int64_t n = -1;

	if (store_begin(f->st, STORE_READ, &tx) == 0)
		store_node_count(tx, -1, &n);
	store_rollback(tx);
	return n;
}

static void registers_a_new_node_with_addresses_routes_and_credential(void)
{
	struct fx f;
	struct http_resp r = {0};
	struct store_tx *tx = NULL;
	struct store_node n;
	struct store_authkey k;
	struct store_audit a;
	struct cred cr, kc;
	const json_t *node, *routes;
	char body[64], key[CRED_TEXT_SIZE], cred[CRED_TEXT_SIZE];
	char bearer[CRED_TEXT_SIZE + 8], prefix[64], pk[64], actor[64];
	int64_t alice, v0;

	REQUIRE(fx_open(&f, "reg_new"));
	alice = fx_user(&f, "alice", "member");
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", alice);
	REQUIRE(authkey(&f, body, key) > 0);
	v0 = fx_netmap_version(&f);
	CHECK_INT(do_register(&f, key, 1, "Laptop", ",\"os\":\"linux\","
			      "\"version\":\"0.1.0\",\"advertised_routes\":"
			      "[\"10.0.0.0/24\",\"fd00:1::/64\",\"10.0.0.0/24\"]",
			      &r), 201);
	node = jnode(&r);
	REQUIRE(node);
	CHECK_STR(fx_jstr(node, "name"), "laptop");
	CHECK_INT(fx_jint(node, "user_id"), alice);
	pubkey(1, pk);
	CHECK_STR(fx_jstr(node, "public_key"), pk);
	CHECK_STR(fx_jstr(node, "ipv4"), "100.64.0.1");
	REQUIRE(fx_jstr(node, "ipv6"));
	CHECK(strncmp(fx_jstr(node, "ipv6"), "fd", 2) == 0);
	CHECK(strstr(fx_jstr(node, "ipv6"), ":6440:1") != NULL);
	CHECK_STR(fx_jstr(node, "os"), "linux");
	CHECK_STR(fx_jstr(node, "version"), "0.1.0");
	CHECK_INT(json_array_size(json_object_get(node, "tags")), 0);
	CHECK_INT(json_array_size(json_object_get(node, "endpoints")), 0);
	CHECK(json_is_false(json_object_get(node, "ephemeral")));
	CHECK(json_is_false(json_object_get(node, "online")));
	CHECK(json_is_null(json_object_get(node, "home_relay")));
	CHECK(json_is_null(json_object_get(node, "expires_at")));
	CHECK(fx_jstr(node, "created_at") != NULL);
	routes = json_object_get(node, "routes");
	CHECK_INT(json_array_size(json_object_get(routes, "advertised")), 2);
	CHECK_STR(json_string_value(json_array_get(
			  json_object_get(routes, "advertised"), 0)),
		  "10.0.0.0/24");
	CHECK_INT(json_array_size(json_object_get(routes, "approved")), 0);

	/* The credential names the node and only its hash is stored. */
	REQUIRE(fx_jstr(r.json, "credential"));
	snprintf(cred, sizeof(cred), "%s", fx_jstr(r.json, "credential"));
	snprintf(prefix, sizeof(prefix), "weft_node_%" PRId64 "_",
		 fx_jint(node, "id"));
	CHECK(strncmp(cred, prefix, strlen(prefix)) == 0);
	REQUIRE_INT(cred_parse(cred, &cr), 0);
	REQUIRE_INT(cred_parse(key, &kc), 0);
	REQUIRE_INT(store_begin(f.st, STORE_READ, &tx), 0);
	CHECK_INT(store_node_get(tx, fx_jint(node, "id"), &n), 0);
	CHECK_INT(store_authkey_get_by_prefix(tx, kc.id, &k), 0);
	store_rollback(tx);
	CHECK_STR(n.cred_hash, cr.hash);
	CHECK_INT(n.auth_key_id, k.id);
	CHECK_INT(k.used_count, 1);
	CHECK(fx_netmap_version(&f) > v0);

	CHECK_INT(fx_audit_count(&f, "node.register", NULL, &a), 1);
	snprintf(actor, sizeof(actor), "authkey:%s", kc.id);
	CHECK_STR(a.actor, actor);
	CHECK_STR(a.target_type, "node");
	CHECK(strstr(a.detail, cred + strlen(prefix)) == NULL);

	/* A valid node credential: admin routes answer 403, not 401. */
	snprintf(bearer, sizeof(bearer), "Bearer %s", cred);
	CHECK_INT(fx_req(&f, bearer, "GET", "/api/v1/users", NULL, NULL, &r), 403);
	http_resp_free(&r);
	fx_close(&f);
}

static void register_rejects_malformed_bodies_naming_the_field(void)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
		{"{\"auth_key\":\"k\",\"hostname\":\"h\"}", "public_key"},
		{"{\"public_key\":\"PK\",\"hostname\":\"h\"}", "auth_key"},
		{"{\"auth_key\":\"k\",\"public_key\":\"PK\"}", "hostname"},
		{"{\"auth_key\":7,\"public_key\":\"PK\",\"hostname\":\"h\"}", "auth_key"},
		{"{\"auth_key\":\"k\",\"public_key\":\"not base64!\",\"hostname\":\"h\"}", "public_key"},
		/* 31 bytes */
		{"{\"auth_key\":\"k\",\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\",\"hostname\":\"h\"}", "public_key"},
		/* url alphabet, no padding */
		{"{\"auth_key\":\"k\",\"public_key\":\"-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-\",\"hostname\":\"h\"}", "public_key"},
		{"{\"auth_key\":\"k\",\"public_key\":\"PK\",\"hostname\":\"\"}", "hostname"},
		{"{\"auth_key\":\"k\",\"public_key\":\"PK\",\"hostname\":\"h\",\"os\":\"li\\nnux\"}", "os"},
		{"{\"auth_key\":\"k\",\"public_key\":\"PK\",\"hostname\":\"h\",\"version\":5}", "version"},
		{"{\"auth_key\":\"k\",\"public_key\":\"PK\",\"hostname\":\"h\",\"advertised_routes\":[\"10.0.0.1/24\"]}", "advertised_routes[0]"},
		{"{\"auth_key\":\"k\",\"public_key\":\"PK\",\"hostname\":\"h\",\"advertised_routes\":[\"10.0.0.0/24\",\"banana\"]}", "advertised_routes[1]"},
		{"{\"auth_key\":\"k\",\"public_key\":\"PK\",\"hostname\":\"h\",\"advertised_routes\":\"10.0.0.0/8\"}", "advertised_routes"},
		{"{\"auth_key\":\"k\",\"public_key\":\"PK\",\"hostname\":\"h\",\"user_id\":1}", "user_id"},
	};
	struct fx f;
	struct http_resp r = {0};
	char pk[64], body[4096], host[300];
	size_t n;

	REQUIRE(fx_open(&f, "reg_bad"));
	pubkey(9, pk);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *p = strstr(bad[i].body, "\"PK\"");

		/* Put a valid key where the body says PK. */
		if (p)
			snprintf(body, sizeof(body), "%.*s\"%s\"%s",
				 (int)(p - bad[i].body), bad[i].body, pk, p + 4);
		else
			snprintf(body, sizeof(body), "%s", bad[i].body);
		CHECK_INT(fx_req(&f, NULL, "POST", "/api/v1/register", NULL, body,
			      &r), 400);
		CHECK_STR(fx_err_field(&r), bad[i].field);
	}
	memset(host, 'a', 256);
	host[256] = '\0';
	CHECK_INT(do_register(&f, "k", 1, host, "", &r), 400);
	CHECK_STR(fx_err_field(&r), "hostname");
	n = (size_t)snprintf(body, sizeof(body), ",\"advertised_routes\":[");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
				      "%s\"10.%d.0.0/16\"", i ? "," : "", i);
	snprintf(body + n, sizeof(body) - n, "]");
	CHECK_INT(do_register(&f, "k", 1, "h", body, &r), 400);
	CHECK_STR(fx_err_field(&r), "advertised_routes");
	CHECK_INT(fx_req(&f, NULL, "POST", "/api/v1/register", NULL, "{", &r), 400);
	CHECK_STR(fx_err_code(&r), "parse_error");
	CHECK_INT(count_nodes(&f), 0);
	CHECK_INT(fx_audit_count(&f, "node.register", NULL, NULL), 0);
	http_resp_free(&r);
	fx_close(&f);
}

static void bad_auth_keys_are_401_saying_why(void)
{
	struct fx f;
	struct http_resp r = {0};
	struct store_tx *tx = NULL;
	struct store_authkey k;
	struct cred cr;
	char once[CRED_TEXT_SIZE], revoked[CRED_TEXT_SIZE];
	char expired[CRED_TEXT_SIZE], unknown[CRED_TEXT_SIZE], path[64];
	char apikey[CRED_TEXT_SIZE + 8];
	int64_t rid, eid;

	REQUIRE(fx_open(&f, "reg_401"));
	declare_tags(&f);
	REQUIRE(authkey(&f, "{\"tags\":[\"tag:a\"]}", once) > 0);
	rid = authkey(&f, "{\"tags\":[\"tag:a\"],\"reusable\":true}", revoked);
	eid = authkey(&f, "{\"tags\":[\"tag:a\"],\"reusable\":true}", expired);
	REQUIRE(rid > 0 && eid > 0);
	REQUIRE_INT(cred_new(CRED_AUTH, NULL, unknown, &cr), 0);
	REQUIRE(fx_apikey(&f, 0, apikey) > 0);

	CHECK_INT(do_register(&f, unknown, 1, "h", "", &r), 401);
	CHECK_STR(fx_err_code(&r), "unauthenticated");
	CHECK_STR(fx_err_msg(&r), "invalid auth key");
	CHECK_INT(do_register(&f, "hello", 1, "h", "", &r), 401);
	CHECK_STR(fx_err_msg(&r), "invalid auth key");
	/* An API key is not an auth key. */
	CHECK_INT(do_register(&f, apikey + 7, 1, "h", "", &r), 401);
	CHECK_STR(fx_err_msg(&r), "invalid auth key");
	/* The right prefix with a wrong secret. */
	{
		char forged[CRED_TEXT_SIZE];
		char *last;

		snprintf(forged, sizeof(forged), "%s", once);
		last = strrchr(forged, '_');
		REQUIRE(last);
		last[1] = last[1] == 'A' ? 'B' : 'A';
		CHECK_INT(do_register(&f, forged, 1, "h", "", &r), 401);
		CHECK_STR(fx_err_msg(&r), "invalid auth key");
	}

	snprintf(path, sizeof(path), "/api/v1/auth-keys/%" PRId64, rid);
	REQUIRE_INT(fx_req(&f, f.admin, "DELETE", path, NULL, NULL, &r), 200);
	CHECK_INT(do_register(&f, revoked, 1, "h", "", &r), 401);
	CHECK_STR(fx_err_msg(&r), "auth key revoked");

	REQUIRE_INT(store_begin(f.st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_authkey_get(tx, eid, &k), 0);
	k.expires_at = clock_wall_s() - 1;
	CHECK_INT(store_authkey_update(tx, &k), 0);
	CHECK_INT(store_commit(tx), 0);
	CHECK_INT(do_register(&f, expired, 1, "h", "", &r), 401);
	CHECK_STR(fx_err_code(&r), "expired");
	CHECK_STR(fx_err_msg(&r), "auth key expired");

	CHECK_INT(do_register(&f, once, 1, "h", "", &r), 201);
	CHECK_INT(do_register(&f, once, 2, "h", "", &r), 401);
	CHECK_STR(fx_err_msg(&r), "auth key already used");
	CHECK_STR(fx_err_field(&r), "auth_key");
	/* Even the node it registered cannot use it again. */
	CHECK_INT(do_register(&f, once, 1, "h", "", &r), 401);

	CHECK_INT(count_nodes(&f), 1);
	CHECK_INT(fx_audit_count(&f, "node.register", NULL, NULL), 1);
	CHECK_INT(fx_req(&f, NULL, "GET", "/metrics", NULL, NULL, &r), 200);
	CHECK(r.text && strstr(r.text, "weft_auth_failures_total 8\n"));
	CHECK(r.text && strstr(r.text, "weft_registrations_total 1\n"));
	http_resp_free(&r);
	fx_close(&f);
}

static void reusable_key_registers_many_nodes_with_deduplicated_names(void)
{
	struct fx f;
	struct http_resp r = {0};
	char key[CRED_TEXT_SIZE], ips[3][64];
	static const char *const want[] = {"laptop", "laptop-2", "laptop-3"};

	REQUIRE(fx_open(&f, "reg_reuse"));
	declare_tags(&f);
	REQUIRE(authkey(&f, "{\"tags\":[\"tag:a\"],\"reusable\":true}", key) > 0);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(do_register(&f, key, 10 + i, "laptop", "", &r), 201);
		CHECK_STR(fx_jstr(jnode(&r), "name"), want[i]);
		snprintf(ips[i], sizeof(ips[i]), "%s", fx_jstr(jnode(&r), "ipv4"));
	}
	CHECK(strcmp(ips[0], ips[1]) && strcmp(ips[1], ips[2]) &&
	      strcmp(ips[0], ips[2]));
	CHECK_INT(fx_req(&f, f.admin, "GET", "/api/v1/auth-keys/1", NULL, NULL, &r),
		  200);
	CHECK_INT(fx_jint(r.json, "used_count"), 3);
	CHECK(json_is_true(json_object_get(r.json, "usable")));
	CHECK_INT(fx_audit_count(&f, "node.register", NULL, NULL), 3);
	http_resp_free(&r);
	fx_close(&f);
}

static void same_public_key_gets_the_same_node_and_a_fresh_credential(void)
{
	struct fx f;
	struct http_resp r = {0};
	char key[CRED_TEXT_SIZE], old[CRED_TEXT_SIZE + 8], now[CRED_TEXT_SIZE + 8];
	char v4[64], v6[64];
	int64_t id;
	const json_t *routes;

	REQUIRE(fx_open(&f, "reg_again"));
	declare_tags(&f);
	REQUIRE(authkey(&f, "{\"tags\":[\"tag:a\"],\"reusable\":true}", key) > 0);
	CHECK_INT(do_register(&f, key, 5, "db", ",\"os\":\"linux\","
			      "\"advertised_routes\":[\"10.1.0.0/16\"]", &r), 201);
	id = fx_jint(jnode(&r), "id");
	snprintf(v4, sizeof(v4), "%s", fx_jstr(jnode(&r), "ipv4"));
	snprintf(v6, sizeof(v6), "%s", fx_jstr(jnode(&r), "ipv6"));
	snprintf(old, sizeof(old), "Bearer %s", fx_jstr(r.json, "credential"));

	CHECK_INT(do_register(&f, key, 5, "renamed-host", ",\"os\":\"freebsd\","
			      "\"version\":\"0.2.0\",\"advertised_routes\":[]",
			      &r), 200);
	CHECK_INT(fx_jint(jnode(&r), "id"), id);
	CHECK_STR(fx_jstr(jnode(&r), "name"), "db");
	CHECK_STR(fx_jstr(jnode(&r), "ipv4"), v4);
	CHECK_STR(fx_jstr(jnode(&r), "ipv6"), v6);
	CHECK_STR(fx_jstr(jnode(&r), "os"), "freebsd");
	CHECK_STR(fx_jstr(jnode(&r), "version"), "0.2.0");
	routes = json_object_get(jnode(&r), "routes");
	CHECK_INT(json_array_size(json_object_get(routes, "advertised")), 0);
	snprintf(now, sizeof(now), "Bearer %s", fx_jstr(r.json, "credential"));
	CHECK(strcmp(old, now) != 0);
	CHECK_INT(count_nodes(&f), 1);
	CHECK_INT(fx_audit_count(&f, "node.register", NULL, NULL), 2);

	/* The old credential is gone; the new one is a valid node token. */
	CHECK_INT(fx_req(&f, old, "GET", "/api/v1/users", NULL, NULL, &r), 401);
	CHECK_INT(fx_req(&f, now, "GET", "/api/v1/users", NULL, NULL, &r), 403);
	http_resp_free(&r);
	fx_close(&f);
}

static void tags_user_and_ephemeral_flag_come_from_the_key(void)
{
	struct fx f;
	struct http_resp r = {0};
	char key[CRED_TEXT_SIZE], body[96];
	const json_t *tags;
	int64_t bob;

	REQUIRE(fx_open(&f, "reg_tags"));
	declare_tags(&f);
	REQUIRE(authkey(&f, "{\"tags\":[\"tag:server\",\"tag:prod\"],"
			    "\"ephemeral\":true}", key) > 0);
	CHECK_INT(do_register(&f, key, 1, "ci-runner", "", &r), 201);
	CHECK(json_is_null(json_object_get(jnode(&r), "user_id")));
	CHECK(json_is_true(json_object_get(jnode(&r), "ephemeral")));
	tags = json_object_get(jnode(&r), "tags");
	CHECK_INT(json_array_size(tags), 2);
	CHECK_STR(json_string_value(json_array_get(tags, 0)), "tag:server");

	bob = fx_user(&f, "bob", "member");
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", bob);
	REQUIRE(authkey(&f, body, key) > 0);
	CHECK_INT(do_register(&f, key, 2, "bobs-pc", "", &r), 201);
	CHECK_INT(fx_jint(jnode(&r), "user_id"), bob);
	CHECK(json_is_false(json_object_get(jnode(&r), "ephemeral")));
	http_resp_free(&r);
	fx_close(&f);
}

static void hostnames_become_dns_labels(void)
{
	static const struct {
		const char *host, *name;
	} cases[] = {
		{"My MacBook Pro.local", "my-macbook-pro"},
		{"--\\u00fcn\\u00efcode--", "n-code"},
		{"...", "node"},
		{"DB_01", "db-01"},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-2"},
		{"node", "node-2"},
		{"Taken", "taken-2"},
	};
	struct fx f;
	struct http_resp r = {0};
	char key[CRED_TEXT_SIZE];

	REQUIRE(fx_open(&f, "reg_names"));
	declare_tags(&f);
	/* A node made some other way holds a name too. */
	REQUIRE(fx_node(&f, "taken", 0, NULL, 0, NULL) > 0);
	REQUIRE(authkey(&f, "{\"tags\":[\"tag:a\"],\"reusable\":true}", key) > 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(do_register(&f, key, 100 + (int)i, cases[i].host, "",
				      &r), 201);
		CHECK_STR(fx_jstr(jnode(&r), "name"), cases[i].name);
	}
	http_resp_free(&r);
	fx_close(&f);
}

static void another_owners_key_cannot_take_over_a_node(void)
{
	struct fx f;
	struct http_resp r = {0};
	char ka[CRED_TEXT_SIZE], kb[CRED_TEXT_SIZE], body[96];
	char cred[CRED_TEXT_SIZE + 8];
	int64_t alice, bob;

	REQUIRE(fx_open(&f, "reg_takeover"));
	alice = fx_user(&f, "alice", "member");
	bob = fx_user(&f, "bob", "member");
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", alice);
	REQUIRE(authkey(&f, body, ka) > 0);
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", bob);
	REQUIRE(authkey(&f, body, kb) > 0);
	CHECK_INT(do_register(&f, ka, 7, "alices", "", &r), 201);
	snprintf(cred, sizeof(cred), "Bearer %s", fx_jstr(r.json, "credential"));
	CHECK_INT(do_register(&f, kb, 7, "mine-now", "", &r), 403);
	CHECK_STR(fx_err_field(&r), "public_key");
	/* Alice's node keeps its credential. */
	CHECK_INT(fx_req(&f, cred, "GET", "/api/v1/users", NULL, NULL, &r), 403);
	CHECK_INT(fx_audit_count(&f, "node.register", NULL, NULL), 1);
	http_resp_free(&r);
	fx_close(&f);
}

struct worker {
	struct fx *f;
	const char *key;
	int first, count;
	int ok;
	char ipv4[8][STORE_IP_SIZE];
};

static void *register_many(void *arg)
{
	struct worker *w = arg;
	struct http_resp r = {0};

	for (int i = 0; i < w->count; i++) {
		if (do_register(w->f, w->key, w->first + i, "box", "", &r) == 201) {
			snprintf(w->ipv4[i], STORE_IP_SIZE, "%s",
				 fx_jstr(jnode(&r), "ipv4"));
			w->ok++;
		}
	}
	http_resp_free(&r);
	return NULL;
}

static void concurrent_registrations_all_succeed_with_unique_addresses(void)
{
	enum { THREADS = 8 };
	static const int per[THREADS] = {7, 7, 6, 6, 6, 6, 6, 6}; /* 50 */
	struct fx f;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	char key[CRED_TEXT_SIZE];
	int first = 1000, total = 0;

	REQUIRE(fx_open(&f, "reg_threads"));
	declare_tags(&f);
	REQUIRE(authkey(&f, "{\"tags\":[\"tag:a\"],\"reusable\":true}", key) > 0);
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].f = &f;
		w[i].key = key;
		w[i].first = first;
		w[i].count = per[i];
		first += per[i];
		REQUIRE_INT(pthread_create(&t[i], NULL, register_many, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += w[i].ok;
	}
	CHECK_INT(total, 50);
	for (int a = 0; a < THREADS; a++)
		for (int i = 0; i < w[a].ok; i++)
			for (int b = a; b < THREADS; b++)
				for (int j = b == a ? i + 1 : 0; j < w[b].ok; j++)
					CHECK(strcmp(w[a].ipv4[i], w[b].ipv4[j]) != 0);
	CHECK_INT(count_nodes(&f), 50);
	CHECK_INT(fx_audit_count(&f, "node.register", NULL, NULL), 50);
	fx_close(&f);
}

static void healthz_readyz_and_metrics_answer_without_credentials(void)
{
	struct fx f;
	struct http_resp r = {0};
	char key[CRED_TEXT_SIZE];

	REQUIRE(fx_open(&f, "ops"));
	declare_tags(&f);
	CHECK_INT(fx_req(&f, NULL, "GET", "/healthz", NULL, NULL, &r), 200);
	CHECK_STR(fx_jstr(r.json, "status"), "ok");
	CHECK_INT(fx_req(&f, NULL, "GET", "/readyz", NULL, NULL, &r), 200);
	CHECK_STR(fx_jstr(r.json, "status"), "ready");
	CHECK_STR(fx_jstr(r.json, "database"), "sqlite");
	CHECK(fx_jint(r.json, "schema_version") >= 1);
	CHECK_INT(fx_req(&f, NULL, "POST", "/healthz", NULL, "{}", &r), 405);

	REQUIRE(authkey(&f, "{\"tags\":[\"tag:a\"]}", key) > 0);
	CHECK_INT(do_register(&f, key, 1, "h", "", &r), 201);
	CHECK_INT(fx_req(&f, NULL, "GET", "/metrics", NULL, NULL, &r), 200);
	CHECK(r.json == NULL);
	REQUIRE(r.text);
	CHECK_INT(strlen(r.text), r.text_len);
	CHECK_STR(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	CHECK(strstr(r.text, "# TYPE weft_registrations_total counter\n"));
	CHECK(strstr(r.text, "weft_registrations_total 1\n"));
	CHECK(strstr(r.text, "weft_auth_failures_total 0\n"));
	CHECK(strstr(r.text, "# TYPE weft_http_requests_total counter\n"));
	CHECK(strstr(r.text, "weft_database_up 1\n"));
	CHECK(strstr(r.text, "weft_nodes 1\n"));
	http_resp_free(&r);
	fx_close(&f);
}

/* Registration and GET /api/v1/nodes/{id} render the node in one place
 * (controller/model.c): the answers are the same object, routes included. */
static void registered_node_answer_equals_get_node(void)
{
	struct fx f;
	struct http_resp r = {0}, g = {0};
	char body[64], key[CRED_TEXT_SIZE], path[64];
	int64_t alice;

	REQUIRE(fx_open(&f, "reg_same_as_get"));
	alice = fx_user(&f, "alice", "member");
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", alice);
	REQUIRE(authkey(&f, body, key) > 0);
	REQUIRE_INT(do_register(&f, key, 7, "db.local",
				",\"os\":\"linux\",\"version\":\"1.2.3\","
				"\"advertised_routes\":[\"10.7.0.0/16\"]",
				&r), 201);
	REQUIRE(jnode(&r));
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64,
		 fx_jint(jnode(&r), "id"));
	REQUIRE_INT(fx_req(&f, f.admin, "GET", path, NULL, NULL, &g), 200);
	CHECK(json_equal(jnode(&r), g.json));
	CHECK(json_object_get(g.json, "routes") != NULL);
	http_resp_free(&r);
	http_resp_free(&g);
	fx_close(&f);
}

static const struct check_case cases[] = {
	CHECK_CASE(registered_node_answer_equals_get_node),
	CHECK_CASE(registers_a_new_node_with_addresses_routes_and_credential),
	CHECK_CASE(register_rejects_malformed_bodies_naming_the_field),
	CHECK_CASE(bad_auth_keys_are_401_saying_why),
	CHECK_CASE(reusable_key_registers_many_nodes_with_deduplicated_names),
	CHECK_CASE(same_public_key_gets_the_same_node_and_a_fresh_credential),
	CHECK_CASE(tags_user_and_ephemeral_flag_come_from_the_key),
	CHECK_CASE(hostnames_become_dns_labels),
	CHECK_CASE(another_owners_key_cannot_take_over_a_node),
	CHECK_CASE(concurrent_registrations_all_succeed_with_unique_addresses),
	CHECK_CASE(healthz_readyz_and_metrics_answer_without_credentials),
	{0},
};

int main(int argc, char **argv)
{
	if (fx_skip())
		return 0;
	return check_main(argc, argv, cases);
}
