/* Bad input against the real controller: every class of malformed or
 * invalid request body, oversized bodies, and each way authentication and
 * authorization fail. Problems must be 4xx answers with the standard error
 * body naming the field at fault, and must change nothing. */
#include "check.h"
#include "fx.h"
#include "ih.h"

#include "shared/clock.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define K (h->bootstrap_key)

static struct ih *start(void)
{
	struct ih *h = NULL;

	if (ih_new(NULL, &h) < 0)
		return NULL;
	return h;
}

/* Sends body and expects status with error.code code (NULL = any) and
 * error.field field (NULL = any). */
static void expect(struct ih *h, const char *method, const char *path,
		   const char *token, const char *body, long status,
		   const char *code, const char *field, int line)
{
	json_t *j = NULL;
	long st = fx_req(h, method, path, token, body, &j);
	const char *c = fx_str(j, "error.code"), *f = fx_str(j, "error.field");

	check_report(st == status, __FILE__, line, "%s %s %s: status %ld, want %ld",
		     method, path, body ? body : "", st, status);
	check_report(c && fx_str(j, "error.message"), __FILE__, line,
		     "%s %s: no error.code/message", method, path);
	if (code)
		check_report(c && strcmp(c, code) == 0, __FILE__, line,
			     "%s %s %s: code %s, want %s", method, path,
			     body ? body : "", c ? c : "(none)", code);
	if (field)
		check_report(f && strcmp(f, field) == 0, __FILE__, line,
			     "%s %s %s: field %s, want %s", method, path,
			     body ? body : "", f ? f : "(none)", field);
	json_decref(j);
}

#define EXPECT(h, m, p, t, b, s, c, f) expect(h, m, p, t, b, s, c, f, __LINE__)

static int count(struct ih *h, const char *path)
{
	json_t *all = fx_list_all(h, K, path, 1000, NULL);
	int n = all ? (int)json_array_size(all) : -1;

	json_decref(all);
	return n;
}

static void malformed_json_is_400_parse_error(void)
{
	struct ih *h = start();

	REQUIRE(h);
	EXPECT(h, "POST", "/api/v1/users", K, "{\"name\":", 400, "parse_error",
	       NULL);
	EXPECT(h, "POST", "/api/v1/users", K, "name=alice", 400, "parse_error",
	       NULL);
	EXPECT(h, "POST", "/api/v1/users", K, "", 400, NULL, NULL);
	EXPECT(h, "POST", "/api/v1/users", K, "[{\"name\":\"alice\"}]", 400,
	       NULL, NULL);
	EXPECT(h, "POST", "/api/v1/register", NULL, "{\"auth_key\":\"x\"", 400,
	       "parse_error", NULL);
	EXPECT(h, "POST", "/api/v1/relays", K, "{\"name\":\"a\"}}", 400,
	       "parse_error", NULL);
	CHECK_INT(count(h, "/api/v1/users"), 0);
	CHECK_INT(count(h, "/api/v1/relays"), 0);
	CHECK_INT(ih_del(h), 0);
}

static void wrong_types_are_400_naming_the_field(void)
{
	struct ih *h = start();

	REQUIRE(h);
	EXPECT(h, "POST", "/api/v1/users", K, "{\"name\":5}", 400, "wrong_type",
	       "name");
	EXPECT(h, "POST", "/api/v1/auth-keys", K, "{\"reusable\":\"yes\"}", 400,
	       "wrong_type", "reusable");
	EXPECT(h, "POST", "/api/v1/auth-keys", K, "{\"tags\":\"tag:a\"}", 400,
	       "wrong_type", "tags");
	EXPECT(h, "POST", "/api/v1/api-keys", K, "{\"user_id\":\"1\"}", 400,
	       "wrong_type", "user_id");
	EXPECT(h, "POST", "/api/v1/relays", K,
	       "{\"name\":\"r\",\"region\":1,\"address\":\"a.example:1\"}", 400,
	       "wrong_type", "region");
	EXPECT(h, "POST", "/api/v1/resources", K,
	       "{\"name\":\"r\",\"address\":\"10.0.0.1\",\"connectors\":"
	       "\"7\"}", 400, "wrong_type", "connectors");
	CHECK_INT(count(h, "/api/v1/users"), 0);
	CHECK_INT(count(h, "/api/v1/auth-keys"), 0);
	CHECK_INT(ih_del(h), 0);
}

static void unknown_fields_are_400_naming_them(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE], pub[FX_PUBKEY_SIZE], body[512];

	REQUIRE(h);
	EXPECT(h, "POST", "/api/v1/users", K,
	       "{\"name\":\"bob\",\"colour\":\"red\"}", 400, NULL, "colour");
	EXPECT(h, "POST", "/api/v1/auth-keys", K, "{\"resuable\":true}", 400,
	       NULL, "resuable");
	REQUIRE(fx_authkey(h, K, NULL, key) > 0);
	REQUIRE_INT(fx_pubkey(pub), 0);
	snprintf(body, sizeof(body),
		 "{\"auth_key\":\"%s\",\"public_key\":\"%s\",\"hostname\":"
		 "\"a\",\"os\":\"linux\",\"version\":\"1\",\"admin\":true}",
		 key, pub);
	EXPECT(h, "POST", "/api/v1/register", NULL, body, 400, NULL, "admin");
	/* The key was not spent by the rejected request. */
	CHECK_INT(fx_register(h, key, "a", NULL, NULL), 201);
	CHECK_INT(count(h, "/api/v1/users"), 0);
	CHECK_INT(ih_del(h), 0);
}

static void missing_required_fields_are_400_naming_them(void)
{
	struct ih *h = start();
	json_t *j = NULL;
	const char *f;

	REQUIRE(h);
	EXPECT(h, "POST", "/api/v1/users", K, "{}", 400, NULL, "name");
	EXPECT(h, "POST", "/api/v1/resources", K, "{\"name\":\"x\"}", 400, NULL,
	       "address");
	EXPECT(h, "POST", "/api/v1/relays", K,
	       "{\"name\":\"x\",\"region\":\"eu\"}", 400, NULL, "address");
	CHECK_INT(fx_req(h, "POST", "/api/v1/register", NULL, "{}", &j), 400);
	f = fx_str(j, "error.field");
	CHECK(f && (strcmp(f, "auth_key") == 0 || strcmp(f, "public_key") == 0 ||
		    strcmp(f, "hostname") == 0));
	json_decref(j);
	CHECK_INT(count(h, "/api/v1/resources"), 0);
	CHECK_INT(ih_del(h), 0);
}

static void invalid_values_are_400_naming_the_field(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE], body[512], path[64];
	json_t *j = NULL;
	int64_t nid;

	REQUIRE(h);
	EXPECT(h, "POST", "/api/v1/users", K, "{\"name\":\"Bad Name\"}", 400,
	       NULL, "name");
	EXPECT(h, "POST", "/api/v1/users", K, "{\"name\":\"-dash\"}", 400, NULL,
	       "name");
	EXPECT(h, "POST", "/api/v1/users", K,
	       "{\"name\":\"ok\",\"role\":\"root\"}", 400, NULL, "role");
	EXPECT(h, "POST", "/api/v1/auth-keys", K, "{\"expires_in\":\"400d\"}",
	       400, NULL, "expires_in");
	EXPECT(h, "POST", "/api/v1/auth-keys", K, "{\"expires_in\":\"soon\"}",
	       400, NULL, "expires_in");
	EXPECT(h, "POST", "/api/v1/auth-keys", K, "{\"tags\":[\"web\"]}", 400,
	       NULL, "tags[0]");
	/* Ids in bodies that name no row are 400; 404 is for path ids. */
	EXPECT(h, "POST", "/api/v1/auth-keys", K, "{\"user_id\":999999}", 400,
	       "invalid", "user_id");
	EXPECT(h, "POST", "/api/v1/resources", K,
	       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
	       "\"connectors\":{\"nodes\":[999999]}}", 400, NULL,
	       "connectors.nodes[0]");
	EXPECT(h, "POST", "/api/v1/resources", K,
	       "{\"name\":\"r\",\"address\":\"10.0.0.1\",\"filters\":"
	       "[{\"protocol\":\"sctp\"}],\"connectors\":{\"tags\":"
	       "[\"tag:c\"]}}", 400, NULL, "filters[0].protocol");
	EXPECT(h, "POST", "/api/v1/resources", K,
	       "{\"name\":\"r\",\"address\":\"10.0.0.1\",\"filters\":"
	       "[{\"protocol\":\"tcp\",\"ports\":[\"99999\"]}],"
	       "\"connectors\":{\"tags\":[\"tag:c\"]}}", 400, NULL,
	       "filters[0].ports[0]");
	EXPECT(h, "POST", "/api/v1/resources", K,
	       "{\"name\":\"r\",\"address\":\"10.0.0.1\"}", 400, NULL, NULL);
	EXPECT(h, "POST", "/api/v1/resources", K,
	       "{\"name\":\"r\",\"address\":\"not an address!\","
	       "\"connectors\":{\"tags\":[\"tag:c\"]}}", 400, NULL,
	       "address");
	EXPECT(h, "POST", "/api/v1/relays", K,
	       "{\"name\":\"r\",\"region\":\"eu\",\"address\":\"nohost\"}", 400,
	       NULL, "address");
	EXPECT(h, "POST", "/api/v1/relays", K,
	       "{\"name\":\"r\",\"region\":\"eu\",\"address\":\"h.example:99999\"}",
	       400, NULL, "address");

	REQUIRE(fx_authkey(h, K, "{\"reusable\":true,\"tags\":[\"tag:test\"]}", key) > 0);
	snprintf(body, sizeof(body),
		 "{\"auth_key\":\"%s\",\"public_key\":\"c2hvcnQ=\",\"hostname\":"
		 "\"a\",\"os\":\"linux\",\"version\":\"1\"}", key);
	EXPECT(h, "POST", "/api/v1/register", NULL, body, 400, NULL,
	       "public_key");
	CHECK_INT(fx_register(h, key, "gw", "[\"not-a-prefix\"]", &j), 400);
	CHECK_STR(fx_str(j, "error.field"), "advertised_routes[0]");
	json_decref(j);
	REQUIRE_INT(fx_register(h, key, "gw", NULL, &j), 201);
	nid = fx_int(j, "node.id");
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, nid);
	EXPECT(h, "PATCH", path, K, "{\"name\":\"-bad-\"}", 400, NULL, "name");
	EXPECT(h, "PATCH", path, K, "{\"tags\":[\"tag:\"]}", 400, NULL,
	       "tags[0]");

	EXPECT(h, "GET", "/api/v1/users?limit=0", K, NULL, 400, NULL, "limit");
	EXPECT(h, "GET", "/api/v1/users?limit=1001", K, NULL, 400, NULL,
	       "limit");
	EXPECT(h, "GET", "/api/v1/users?cursor=abc", K, NULL, 400, NULL,
	       "cursor");
	EXPECT(h, "GET", "/api/v1/audit?since=yesterday", K, NULL, 400, NULL,
	       "since");
	CHECK_INT(count(h, "/api/v1/users"), 0);
	CHECK_INT(count(h, "/api/v1/relays"), 0);
	CHECK_INT(count(h, "/api/v1/resources"), 0);
	CHECK_INT(count(h, "/api/v1/nodes"), 1);
	CHECK_INT(ih_del(h), 0);
}

static void body_over_one_mebibyte_is_413(void)
{
	struct ih *h = start();
	size_t n = 1024 * 1024 + 64;
	char *body = malloc(n + 1), *text = NULL;
	json_t *j;
	long st = 0;

	REQUIRE(h);
	REQUIRE(body);
	/* Valid JSON, just too long. */
	memset(body, 'a', n);
	memcpy(body, "{\"name\":\"", 9);
	memcpy(body + n - 2, "\"}", 2);
	body[n] = '\0';
	CHECK_INT(ih_call_raw(h, "POST", "/api/v1/users", K, body, n, &st,
			      &text, NULL), 0);
	CHECK_INT(st, 413);
	j = text ? json_loads(text, 0, NULL) : NULL;
	CHECK_STR(fx_str(j, "error.code"), "too_big");
	json_decref(j);
	free(text);
	text = NULL;
	CHECK_INT(ih_call_raw(h, "POST", "/api/v1/register", NULL, body, n, &st,
			      &text, NULL), 0);
	CHECK_INT(st, 413);
	free(text);
	free(body);
	/* The server is still fine. */
	CHECK_INT(fx_req(h, "GET", "/healthz", NULL, NULL, NULL), 200);
	CHECK_INT(count(h, "/api/v1/users"), 0);
	CHECK_INT(ih_del(h), 0);
}

/* Sends head (a whole request head, nothing after it) on a new TCP
 * connection to h and reads until the server closes or deadline_ms passes.
 * Returns the bytes read into buf (NUL-terminated), or -1; *closed tells
 * whether the server closed the connection. */
static ssize_t raw_exchange(struct ih *h, const char *head, char *buf,
			    size_t cap, int64_t deadline_ms, bool *closed)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int64_t end = clock_mono_ms() + deadline_ms;
	size_t len = 0;
	int fd;

	*closed = false;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sa.sin_port = htons((uint16_t)h->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, head, strlen(head), MSG_NOSIGNAL) != (ssize_t)strlen(head)) {
		close(fd);
		return -1;
	}
	while (len + 1 < cap) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int64_t left = end - clock_mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0) {
			*closed = true;
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return (ssize_t)len;
}

/* A declared body over the limit is refused from its Content-Length alone:
 * the client sends the head only and gets the JSON 413 at once, and the
 * connection is closed (the body would never be read). */
static void declared_100_mb_body_is_413_before_it_is_sent(void)
{
	struct ih *h = start();
	char head[512], *buf = malloc(8192);
	const char *body;
	bool closed = false;
	int64_t t0;
	json_t *j;

	REQUIRE(h);
	REQUIRE(buf);
	snprintf(head, sizeof(head),
		 "POST /api/v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Authorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\n"
		 "Content-Length: 104857600\r\n\r\n", K);
	t0 = clock_mono_ms();
	/* Generous: without the early answer this waits for a body that
	 * never comes and reads nothing. */
	CHECK(raw_exchange(h, head, buf, 8192, 10000, &closed) > 0);
	CHECK(clock_mono_ms() - t0 < 10000);
	CHECK(strncmp(buf, "HTTP/1.1 413", 12) == 0);
	CHECK(strcasestr(buf, "\r\ncontent-type: application/json") != NULL);
	CHECK(strcasestr(buf, "\r\nconnection: close") != NULL);
	CHECK(closed);
	body = strstr(buf, "\r\n\r\n");
	j = body ? json_loads(body + 4, 0, NULL) : NULL;
	CHECK_STR(fx_str(j, "error.code"), "too_big");
	json_decref(j);
	/* The same with "Expect: 100-continue" (curl's way): 413, no 100. */
	snprintf(head, sizeof(head),
		 "PUT /api/v1/policy HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Authorization: Bearer %s\r\nExpect: 100-continue\r\n"
		 "Content-Length: 104857600\r\n\r\n", K);
	CHECK(raw_exchange(h, head, buf, 8192, 10000, &closed) > 0);
	CHECK(strncmp(buf, "HTTP/1.1 413", 12) == 0);
	CHECK(closed);
	/* Nothing was created and the server is fine. */
	CHECK_INT(fx_req(h, "GET", "/healthz", NULL, NULL, NULL), 200);
	CHECK_INT(count(h, "/api/v1/users"), 0);
	free(buf);
	CHECK_INT(ih_del(h), 0);
}

/* Auth-key tags need a tagOwners entry, and a user's key needs the user
 * to own the tag: 400 naming the tag, nothing created. */
static void auth_key_tags_outside_tag_owners_are_400(void)
{
	struct ih *h = start();
	char body[128];
	int64_t alice;
	json_t *j = NULL;

	REQUIRE(h);
	alice = fx_user(h, K, "alice", "member");
	REQUIRE(alice > 0);
	EXPECT(h, "POST", "/api/v1/auth-keys", K, "{\"tags\":[\"tag:web\"]}",
	       400, "invalid", "tags[0]");
	REQUIRE_INT(fx_policy(h, K, "{\"tagOwners\":{\"tag:web\":[\"alice\"],"
				    "\"tag:db\":[]}}", NULL), 200);
	snprintf(body, sizeof(body),
		 "{\"user_id\":%" PRId64 ",\"tags\":[\"tag:web\",\"tag:db\"]}",
		 alice);
	CHECK_INT(fx_req(h, "POST", "/api/v1/auth-keys", K, body, &j), 400);
	CHECK_STR(fx_str(j, "error.field"), "tags[1]");
	CHECK(fx_str(j, "error.message") &&
	      strstr(fx_str(j, "error.message"), "does not own tag \"tag:db\""));
	json_decref(j);
	CHECK_INT(count(h, "/api/v1/auth-keys"), 0);
	snprintf(body, sizeof(body),
		 "{\"user_id\":%" PRId64 ",\"tags\":[\"tag:web\"]}", alice);
	CHECK_INT(fx_req(h, "POST", "/api/v1/auth-keys", K, body, NULL), 201);
	CHECK_INT(fx_req(h, "POST", "/api/v1/auth-keys", K,
			 "{\"tags\":[\"tag:db\"]}", NULL), 201);
	CHECK_INT(count(h, "/api/v1/auth-keys"), 2);
	CHECK_INT(ih_del(h), 0);
}

static void missing_bad_revoked_and_expired_api_keys_are_401(void)
{
	struct ih *h = start();
	char bad[FX_KEY_SIZE], key[FX_KEY_SIZE], sql[160], path[64];
	char auth[FX_KEY_SIZE];
	int64_t id;
	size_t n;

	REQUIRE(h);
	EXPECT(h, "GET", "/api/v1/users", NULL, NULL, 401, "unauthenticated",
	       NULL);
	EXPECT(h, "GET", "/api/v1/users", "garbage", NULL, 401,
	       "unauthenticated", NULL);
	/* Right shape and id, wrong secret. */
	snprintf(bad, sizeof(bad), "%s", K);
	n = strlen(bad);
	bad[n - 1] = bad[n - 1] == 'A' ? 'B' : 'A';
	EXPECT(h, "GET", "/api/v1/users", bad, NULL, 401, "unauthenticated",
	       NULL);
	EXPECT(h, "GET", "/api/v1/users", "weft_api_000000000000_"
	       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, 401,
	       "unauthenticated", NULL);
	/* An auth key is not an API key. */
	REQUIRE(fx_authkey(h, K, NULL, auth) > 0);
	EXPECT(h, "GET", "/api/v1/users", auth, NULL, 401, "unauthenticated",
	       NULL);

	id = fx_apikey(h, K, 0, key);
	REQUIRE(id > 0);
	CHECK_INT(fx_req(h, "GET", "/api/v1/users", key, NULL, NULL), 200);
	snprintf(sql, sizeof(sql),
		 "UPDATE api_keys SET expires_at = 1000 WHERE id = %" PRId64, id);
	REQUIRE_INT(fx_sql(h, sql), 0);
	/* Expired says so (code "expired"), unlike unknown or revoked. */
	EXPECT(h, "GET", "/api/v1/users", key, NULL, 401, "expired", NULL);

	id = fx_apikey(h, K, 0, key);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/api-keys/%" PRId64, id);
	CHECK_INT(fx_req(h, "DELETE", path, K, NULL, NULL), 200);
	EXPECT(h, "GET", "/api/v1/users", key, NULL, 401, "unauthenticated",
	       NULL);
	/* The bootstrap key still works and no user was created. */
	CHECK_INT(count(h, "/api/v1/users"), 0);
	CHECK_INT(ih_del(h), 0);
}

static void member_key_on_admin_routes_is_403(void)
{
	struct ih *h = start();
	char mkey[FX_KEY_SIZE], body[128], akey[FX_KEY_SIZE];
	json_t *j = NULL, *all;
	int64_t mid, oid, mnode = 0, onode = 0;

	REQUIRE(h);
	mid = fx_user(h, K, "mallory", "member");
	oid = fx_user(h, K, "olivia", NULL);
	REQUIRE(mid > 0 && oid > 0);
	REQUIRE(fx_apikey(h, K, mid, mkey) > 0);

	EXPECT(h, "GET", "/api/v1/users", mkey, NULL, 403, "forbidden", NULL);
	EXPECT(h, "POST", "/api/v1/users", mkey, "{\"name\":\"x\"}", 403,
	       "forbidden", NULL);
	EXPECT(h, "POST", "/api/v1/api-keys", mkey, "{}", 403, "forbidden",
	       NULL);
	EXPECT(h, "POST", "/api/v1/relays", mkey,
	       "{\"name\":\"r\",\"region\":\"eu\",\"address\":\"r.example:1\"}",
	       403, "forbidden", NULL);
	EXPECT(h, "GET", "/api/v1/audit", mkey, NULL, 403, "forbidden", NULL);
	EXPECT(h, "DELETE", "/api/v1/nodes/1", mkey, NULL, 403, "forbidden",
	       NULL);

	/* Members manage their own auth keys, untagged, and nobody else's. */
	CHECK_INT(fx_req(h, "POST", "/api/v1/auth-keys", mkey, "{}", &j), 201);
	CHECK_INT(fx_int(j, "user_id"), mid);
	snprintf(akey, sizeof(akey), "%s", fx_str(j, "key") ? fx_str(j, "key") : "");
	json_decref(j);
	snprintf(body, sizeof(body), "{\"user_id\":%" PRId64 "}", oid);
	EXPECT(h, "POST", "/api/v1/auth-keys", mkey, body, 403, "forbidden",
	       NULL);
	EXPECT(h, "POST", "/api/v1/auth-keys", mkey, "{\"tags\":[\"tag:x\"]}",
	       403, "forbidden", NULL);

	/* Members see their own nodes only. */
	CHECK_INT(fx_register(h, akey, "mine", NULL, &j), 201);
	mnode = fx_int(j, "node.id");
	json_decref(j);
	REQUIRE(fx_authkey(h, K, body, akey) > 0);
	CHECK_INT(fx_register(h, akey, "theirs", NULL, &j), 201);
	onode = fx_int(j, "node.id");
	json_decref(j);
	CHECK_INT(fx_req(h, "GET", "/api/v1/nodes", mkey, NULL, &j), 200);
	all = fx_get(j, "items");
	CHECK(json_array_size(all) == 1 && fx_has_id(all, mnode) &&
	      !fx_has_id(all, onode));
	json_decref(j);
	CHECK_INT(count(h, "/api/v1/users"), 2);
	CHECK_INT(ih_del(h), 0);
}

static void node_credential_on_admin_route_is_403(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE], cred[160];
	json_t *j = NULL;

	REQUIRE(h);
	REQUIRE(fx_authkey(h, K, NULL, key) > 0);
	REQUIRE_INT(fx_register(h, key, "n1", NULL, &j), 201);
	snprintf(cred, sizeof(cred), "%s",
		 fx_str(j, "credential") ? fx_str(j, "credential") : "");
	json_decref(j);
	EXPECT(h, "GET", "/api/v1/users", cred, NULL, 403, "forbidden", NULL);
	EXPECT(h, "GET", "/api/v1/nodes", cred, NULL, 403, "forbidden", NULL);
	CHECK_INT(ih_del(h), 0);
}

static void register_with_expired_revoked_or_spent_auth_key_is_401(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE], sql[160], path[64];
	json_t *j = NULL;
	const char *msg;
	int64_t id;

	REQUIRE(h);
	/* Expired. */
	id = fx_authkey(h, K, "{\"reusable\":true,\"tags\":[\"tag:test\"]}", key);
	REQUIRE(id > 0);
	snprintf(sql, sizeof(sql),
		 "UPDATE auth_keys SET expires_at = 1000 WHERE id = %" PRId64, id);
	REQUIRE_INT(fx_sql(h, sql), 0);
	CHECK_INT(fx_register(h, key, "late", NULL, &j), 401);
	msg = fx_str(j, "error.message");
	CHECK(msg && strstr(msg, "expired"));
	json_decref(j);

	/* Revoked. */
	id = fx_authkey(h, K, "{\"reusable\":true,\"tags\":[\"tag:test\"]}", key);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/auth-keys/%" PRId64, id);
	CHECK_INT(fx_req(h, "DELETE", path, K, NULL, NULL), 200);
	CHECK_INT(fx_register(h, key, "revoked", NULL, &j), 401);
	msg = fx_str(j, "error.message");
	CHECK(msg && strstr(msg, "revoked"));
	json_decref(j);

	/* One-off, used once. */
	REQUIRE(fx_authkey(h, K, NULL, key) > 0);
	CHECK_INT(fx_register(h, key, "first", NULL, NULL), 201);
	CHECK_INT(fx_register(h, key, "second", NULL, &j), 401);
	CHECK_STR(fx_str(j, "error.code"), "unauthenticated");
	msg = fx_str(j, "error.message");
	CHECK(msg && strstr(msg, "used"));
	json_decref(j);

	/* Unknown. */
	CHECK_INT(fx_register(h, "weft_auth_000000000000_"
			      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			      "nobody", NULL, &j), 401);
	json_decref(j);
	CHECK_INT(count(h, "/api/v1/nodes"), 1);
	CHECK_INT(fx_audit_count(h, K, "node.register", "node", NULL), 1);
	CHECK_INT(ih_del(h), 0);
}

static void unknown_ids_and_methods_are_404_and_405(void)
{
	static const char *const things[] = {
		"users", "auth-keys", "api-keys", "nodes", "resources", "relays",
		NULL,
	};
	struct ih *h = start();
	char path[96];
	json_t *j = NULL;

	REQUIRE(h);
	for (size_t i = 0; things[i]; i++) {
		const char *msg;

		snprintf(path, sizeof(path), "/api/v1/%s/999999", things[i]);
		CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 404);
		CHECK_STR(fx_str(j, "error.code"), "not_found");
		msg = fx_str(j, "error.message");
		check_report(msg && strstr(msg, "999999"), __FILE__, __LINE__,
			     "GET %s: message \"%s\" does not name the id",
			     path, msg ? msg : "(null)");
		json_decref(j);
		snprintf(path, sizeof(path), "/api/v1/%s/abc", things[i]);
		EXPECT(h, "GET", path, K, NULL, 404, "not_found", NULL);
	}
	EXPECT(h, "PATCH", "/api/v1/routes/999999", K, "{\"approved\":true}",
	       404, "not_found", NULL);
	EXPECT(h, "PUT", "/api/v1/users", K, "{}", 405, "method_not_allowed",
	       NULL);
	EXPECT(h, "DELETE", "/api/v1/audit", K, NULL, 405, "method_not_allowed",
	       NULL);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(malformed_json_is_400_parse_error),
	CHECK_CASE(wrong_types_are_400_naming_the_field),
	CHECK_CASE(unknown_fields_are_400_naming_them),
	CHECK_CASE(missing_required_fields_are_400_naming_them),
	CHECK_CASE(invalid_values_are_400_naming_the_field),
	CHECK_CASE(body_over_one_mebibyte_is_413),
	CHECK_CASE(declared_100_mb_body_is_413_before_it_is_sent),
	CHECK_CASE(auth_key_tags_outside_tag_owners_are_400),
	CHECK_CASE(missing_bad_revoked_and_expired_api_keys_are_401),
	CHECK_CASE(member_key_on_admin_routes_is_403),
	CHECK_CASE(node_credential_on_admin_route_is_403),
	CHECK_CASE(register_with_expired_revoked_or_spent_auth_key_is_401),
	CHECK_CASE(unknown_ids_and_methods_are_404_and_405),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
