/* The policy document and the relay key against the real controller
 * process: PUT/GET and validation errors, default deny, access removed by
 * a policy change reaching held polls, relay tokens that verify with the
 * published key, and the policy/relay-key CLI on the same database. */
#include "check.h"
#include "fx.h"
#include "ih.h"
#include "lpoll.h"
#include "controller/store.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/token.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define K (h->bootstrap_key)

static const char hub_policy[] =
	"{\"tagOwners\":{\"tag:hub\":[],\"tag:spoke\":[]},"
	"\"acls\":[{\"action\":\"accept\",\"src\":[\"tag:spoke\"],"
	"\"dst\":[\"tag:hub:*\"]}]}";

/* The same tags, no rules: nothing is allowed. */
static const char deny_policy[] =
	"{\"tagOwners\":{\"tag:hub\":[],\"tag:spoke\":[]}}";

static struct ih *start(void)
{
	struct ih *h = NULL;

	if (ih_new(NULL, &h) < 0)
		return NULL;
	return h;
}

/* See longpoll_test.c: the hub applies a commit within ~20 ms (250 ms
 * for commits by another process). */
static void settle(void)
{
	usleep(400 * 1000);
}

static bool two_nodes(struct ih *h, struct fx_node *hub, struct fx_node *spoke)
{
	char kh[FX_KEY_SIZE], ks[FX_KEY_SIZE];

	return fx_authkey(h, K, "{\"reusable\":true,\"tags\":[\"tag:hub\"]}",
			  kh) > 0 &&
	       fx_authkey(h, K, "{\"reusable\":true,\"tags\":[\"tag:spoke\"]}",
			  ks) > 0 &&
	       fx_node_register(h, kh, "hub", hub) == 201 &&
	       fx_node_register(h, ks, "spoke", spoke) == 201;
}

static struct lpoll *poll_since(struct ih *h, const struct fx_node *n)
{
	struct lpoll *p = NULL;
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/map?since=%" PRId64, n->version);
	if (lpoll_start(h, path, n->cred, &p) < 0)
		return NULL;
	return p;
}

/* A poll of n held for quiet_ms (re-polled while its map still changes,
 * e.g. when peers go online). NULL on failure. */
static struct lpoll *held(struct ih *h, struct fx_node *n, int64_t quiet_ms)
{
	for (int i = 0; i < 6; i++) {
		struct lpoll *p = poll_since(h, n);

		if (!p)
			return NULL;
		if (lpoll_wait(&p, 1, quiet_ms) == 0)
			return p;
		if (lpoll_status(p) == 200)
			n->version = fx_int(lpoll_json(p), "version");
		lpoll_del(p);
	}
	return NULL;
}

static void put_policy_is_returned_by_get_with_a_higher_version(void)
{
	struct ih *h = start();
	json_t *j = NULL, *doc;
	int64_t v1;

	REQUIRE(h);
	/* Never set: the empty policy at version 0. */
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/policy", K, NULL, &j), 200);
	CHECK_INT(fx_int(j, "version"), 0);
	CHECK_INT(json_object_size(fx_get(j, "document")), 0);
	json_decref(j);

	REQUIRE_INT(fx_policy(h, K, hub_policy, &j), 200);
	v1 = fx_int(j, "version");
	CHECK(v1 > 0);
	json_decref(j);
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/policy", K, NULL, &j), 200);
	CHECK_INT(fx_int(j, "version"), v1);
	doc = json_loads(hub_policy, 0, NULL);
	CHECK(json_equal(fx_get(j, "document"), doc));
	json_decref(doc);
	CHECK(fx_time_near(j, "created_at", clock_wall_s(), 60));
	json_decref(j);

	REQUIRE_INT(fx_policy(h, K, deny_policy, &j), 200);
	CHECK(fx_int(j, "version") > v1);
	json_decref(j);
	CHECK_INT(fx_audit_count(h, K, "policy.update", "policy", NULL), 2);
	/* Members cannot read or set it; nodes neither. */
	CHECK_INT(fx_req(h, "GET", "/api/v1/policy", NULL, NULL, NULL), 401);
	CHECK_INT(ih_del(h), 0);
}

/* PUTs doc and checks the 400 answer names field (NULL: none) and
 * contains msg. */
static void check_invalid(struct ih *h, const char *doc, const char *field,
			  const char *msg, int line)
{
	json_t *j = NULL;
	long st = fx_policy(h, K, doc, &j);
	const char *m = fx_str(j, "error.message");

	check_report(st == 400, __FILE__, line, "status %ld, want 400", st);
	check_report(fx_str(j, "error.code") &&
			     strcmp(fx_str(j, "error.code"), "invalid_policy") == 0,
		     __FILE__, line, "code %s", fx_str(j, "error.code"));
	check_report(field ? fx_str(j, "error.field") &&
				     strcmp(fx_str(j, "error.field"), field) == 0
			   : fx_get(j, "error.field") == NULL,
		     __FILE__, line, "field %s, want %s",
		     fx_str(j, "error.field"), field);
	check_report(m && strstr(m, msg), __FILE__, line,
		     "message \"%s\" lacks \"%s\"", m ? m : "", msg);
	json_decref(j);
}

static void invalid_policies_are_rejected_naming_the_path(void)
{
	struct ih *h = start();
	json_t *j = NULL;
	int64_t v;

	REQUIRE(h);
	REQUIRE(fx_user(h, K, "alice", NULL) > 0);
	REQUIRE_INT(fx_policy(h, K, hub_policy, &j), 200);
	v = fx_int(j, "version");
	json_decref(j);

	check_invalid(h,
		      "{\"acls\":[{\"action\":\"accept\",\"src\":[\"group:nope\"],"
		      "\"dst\":[\"*:*\"]}]}",
		      "acls[0].src[0]", "unknown group \"group:nope\"", __LINE__);
	check_invalid(h,
		      "{\"acls\":[{\"action\":\"accept\",\"src\":[\"*\"],"
		      "\"dst\":[\"*:22\",\"*:70000\"]}]}",
		      "acls[0].dst[1]", "port 70000 is out of range (1-65535)",
		      __LINE__);
	check_invalid(h,
		      "{\"acls\":[{\"action\":\"accept\",\"src\":[\"bob\"],"
		      "\"dst\":[\"*:*\"]}]}",
		      "acls[0].src[0]", "unknown user \"bob\"", __LINE__);
	check_invalid(h,
		      "{\"groups\":{\"group:eng\":[\"alice\"]},"
		      "\"tagOwners\":{\"tag:db\":[]},"
		      "\"acls\":[{\"action\":\"accept\",\"src\":[\"group:eng\"],"
		      "\"dst\":[\"tag:db:22\"]}],"
		      "\"tests\":[{\"src\":\"alice\",\"accept\":[\"tag:db:22\"]},"
		      "{\"src\":\"alice\",\"accept\":[\"tag:db:5432\"]}]}",
		      "tests[1].accept[0]",
		      "alice -> tag:db:5432 (tcp) should be accepted but is denied",
		      __LINE__);
	/* A wrong key is named by its own path. */
	check_invalid(h, "{\"acl\":[]}", "acl",
		      "unknown key \"acl\" (did you mean \"acls\"?)", __LINE__);
	/* Not JSON at all: still invalid_policy, with the position. */
	REQUIRE_INT(fx_req(h, "PUT", "/api/v1/policy", K, "{\"acls\": [", &j),
		    400);
	CHECK_STR(fx_str(j, "error.code"), "invalid_policy");
	CHECK(fx_str(j, "error.message") &&
	      strstr(fx_str(j, "error.message"), "invalid JSON"));
	json_decref(j);

	/* The current policy stays in force and nothing was audited. */
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/policy", K, NULL, &j), 200);
	CHECK_INT(fx_int(j, "version"), v);
	json_decref(j);
	CHECK_INT(fx_audit_count(h, K, "policy.update", "policy", NULL), 1);
	CHECK_INT(ih_del(h), 0);
}

static void without_a_policy_a_node_has_no_peers_and_an_empty_filter(void)
{
	struct ih *h = start();
	struct fx_node a, b;
	json_t *j = NULL;

	REQUIRE(h);
	REQUIRE(two_nodes(h, &a, &b));
	settle();
	REQUIRE_INT(fx_map(h, &a, -1, &j), 200);
	CHECK(fx_is_true(j, "full"));
	CHECK_INT(fx_int(j, "self.id"), a.id);
	CHECK(json_is_array(fx_get(j, "peers")));
	CHECK_INT(json_array_size(fx_get(j, "peers")), 0);
	CHECK(json_is_array(fx_get(j, "filter")));
	CHECK_INT(json_array_size(fx_get(j, "filter")), 0);
	json_decref(j);
	CHECK_INT(ih_del(h), 0);
}

static void a_policy_change_that_removes_access_removes_the_peer_at_once(void)
{
	struct ih *h = start();
	struct fx_node a, b;
	struct lpoll *pa, *pb;
	json_t *j = NULL;
	int64_t t0;

	REQUIRE(h);
	REQUIRE_INT(fx_policy(h, K, hub_policy, NULL), 200);
	REQUIRE(two_nodes(h, &a, &b));
	settle();
	REQUIRE_INT(fx_map(h, &a, -1, &j), 200);
	CHECK(fx_ids_are(fx_get(j, "peers"), (int64_t[]){b.id, 0}));
	CHECK(json_array_size(fx_get(j, "filter")) > 0);
	json_decref(j);
	REQUIRE_INT(fx_map(h, &b, -1, NULL), 200);
	pa = held(h, &a, 1500);
	pb = held(h, &b, 1500);
	REQUIRE(pa && pb);

	REQUIRE_INT(fx_policy(h, K, deny_policy, NULL), 200);
	t0 = clock_mono_ms();
	CHECK_INT(lpoll_wait((struct lpoll *[]){pa, pb}, 2, 2000), 2);
	printf("policy change reached both held polls in %" PRId64 " ms\n",
	       (lpoll_answered_at(pa) > lpoll_answered_at(pb)
			? lpoll_answered_at(pa)
			: lpoll_answered_at(pb)) - t0);
	CHECK(lpoll_answered_at(pa) - t0 < 1000);
	CHECK(lpoll_answered_at(pb) - t0 < 1000);
	j = lpoll_json(pa);
	CHECK_INT(lpoll_status(pa), 200);
	CHECK(!fx_is_true(j, "full"));
	CHECK_INT(json_array_size(fx_get(j, "peers_removed")), 1);
	CHECK_INT(json_integer_value(json_array_get(fx_get(j, "peers_removed"), 0)),
		  b.id);
	/* The hub no longer accepts anything from the spoke. */
	CHECK(json_is_array(fx_get(j, "filter")));
	CHECK_INT(json_array_size(fx_get(j, "filter")), 0);
	j = lpoll_json(pb);
	CHECK_INT(json_integer_value(json_array_get(fx_get(j, "peers_removed"), 0)),
		  a.id);
	lpoll_del(pa);
	lpoll_del(pb);
	CHECK_INT(ih_del(h), 0);
}

static void relay_token_in_a_map_verifies_with_the_relay_key(void)
{
	struct ih *h = start();
	struct fx_node a, b;
	struct token_claims c = {0};
	json_t *key = NULL, *map = NULL, *node = NULL;
	const char *pem, *tok;
	char path[64], *bad;

	REQUIRE(h);
	REQUIRE(two_nodes(h, &a, &b));
	settle();
	/* No credential needed: the key is public. */
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/relay-key", NULL, NULL, &key), 200);
	CHECK_STR(fx_str(key, "algorithm"), "ES256");
	pem = fx_str(key, "public_key");
	REQUIRE(pem);
	CHECK(strncmp(pem, "-----BEGIN PUBLIC KEY-----", 26) == 0);
	CHECK(strstr(pem, "-----END PUBLIC KEY-----") != NULL);

	REQUIRE_INT(fx_map(h, &a, -1, &map), 200);
	tok = fx_str(map, "relay_token");
	REQUIRE(tok);
	CHECK_INT(token_verify(pem, tok, clock_wall_s(), &c), 0);
	CHECK_INT(c.node_id, a.id);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, a.id);
	REQUIRE_INT(fx_req(h, "GET", path, K, NULL, &node), 200);
	CHECK_STR(c.ipv4, fx_str(node, "ipv4"));
	CHECK_STR(c.ipv6, fx_str(node, "ipv6"));
	CHECK(c.exp > clock_wall_s());
	CHECK(fx_time_near(map, "relay_token_expires", c.exp, 1));
	/* Past its expiry the token is refused; a changed one is no token. */
	CHECK_INT(token_verify(pem, tok, c.exp + 1, NULL), WEFT_ERR_EXPIRED);
	bad = strdup(tok);
	REQUIRE(bad);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
	CHECK_INT(token_verify(pem, bad, clock_wall_s(), NULL), WEFT_ERR_AUTH);
	free(bad);
	json_decref(node);
	json_decref(map);
	json_decref(key);
	CHECK_INT(ih_del(h), 0);
}

static void cli_sets_checks_and_prints_the_policy_and_relay_key(void)
{
	struct ih *h = start();
	struct fx_node a, b;
	const char *good = fx_write_file("good.json", hub_policy);
	const char *bad = fx_write_file(
		"bad.json", "{\"acls\":[{\"action\":\"accept\",\"src\":[\"*\"],"
			    "\"dst\":[\"*:0\"]}]}");
	struct lpoll *pa;
	json_t *j = NULL, *doc = json_loads(hub_policy, 0, NULL), *api = NULL;
	char *out = NULL;
	int st = -1;
	int64_t v0;

	REQUIRE(h);
	REQUIRE(good && bad && doc);
	REQUIRE(two_nodes(h, &a, &b));
	settle();
	/* Default deny: a is held with no peers. */
	REQUIRE_INT(fx_map(h, &a, -1, &j), 200);
	CHECK_INT(json_array_size(fx_get(j, "peers")), 0);
	json_decref(j);
	pa = held(h, &a, 1500);
	REQUIRE(pa);

	/* check: validates without saving (the version stays that of the
	 * tagOwners two_nodes declared for its keys). */
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/policy", K, NULL, &j), 200);
	v0 = fx_int(j, "version");
	json_decref(j);
	REQUIRE_INT(ih_cli(h, &out, &st, "policy", "check", bad, NULL), 0);
	CHECK_INT(st, 1);
	CHECK(strstr(out, "acls[0].dst[0]") != NULL);
	CHECK(strstr(out, "port 0 is out of range") != NULL);
	free(out);
	REQUIRE_INT(ih_cli(h, &out, &st, "policy", "check", good, NULL), 0);
	CHECK_INT(st, 0);
	CHECK_STR(out, "ok\n");
	free(out);
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/policy", K, NULL, &j), 200);
	CHECK_INT(fx_int(j, "version"), v0);
	json_decref(j);

	/* set + get --json round trip; the running server sees it. */
	REQUIRE_INT(ih_cli(h, &out, &st, "policy", "set", good, NULL), 0);
	CHECK_INT(st, 0);
	free(out);
	REQUIRE_INT(ih_cli(h, &out, &st, "policy", "get", "--json", NULL), 0);
	CHECK_INT(st, 0);
	j = json_loads(out, 0, NULL);
	free(out);
	CHECK(json_equal(fx_get(j, "document"), doc));
	CHECK(fx_int(j, "version") > 0);
	CHECK(fx_str(j, "author") && strncmp(fx_str(j, "author"), "cli:", 4) == 0);
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/policy", K, NULL, &api), 200);
	CHECK_INT(fx_int(api, "version"), fx_int(j, "version"));
	json_decref(api);
	json_decref(j);
	/* A commit by another process reaches held polls through the change
	 * feed (read every 250 ms, or LISTEN/NOTIFY on PostgreSQL). */
	CHECK(lpoll_wait(&pa, 1, 3000) == 1);
	CHECK_INT(lpoll_status(pa), 200);
	CHECK(fx_ids_are(fx_get(lpoll_json(pa), "peers"), (int64_t[]){b.id, 0}));
	lpoll_del(pa);
	/* An invalid file is refused by set too, naming the path. */
	REQUIRE_INT(ih_cli(h, &out, &st, "policy", "set", bad, NULL), 0);
	CHECK_INT(st, 1);
	free(out);

	/* relay-key prints the PEM the API serves. */
	REQUIRE_INT(ih_cli(h, &out, &st, "relay-key", NULL, NULL), 0);
	CHECK_INT(st, 0);
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/relay-key", NULL, NULL, &api), 200);
	CHECK(strncmp(out, "-----BEGIN PUBLIC KEY-----", 26) == 0);
	CHECK(fx_str(api, "public_key") && fx_pem_eq(out, fx_str(api, "public_key")));
	json_decref(api);
	free(out);
	json_decref(doc);
	CHECK_INT(ih_del(h), 0);
}

static void resources_reach_clients_and_connectors_through_the_hub(void)
{
	static const char policy[] =
		"{\"tagOwners\":{\"tag:hub\":[],\"tag:spoke\":[]},"
		"\"acls\":[{\"action\":\"accept\",\"proto\":\"tcp\","
		"\"src\":[\"tag:spoke\"],\"dst\":[\"resource:db:*\"]}]}";
	struct ih *h = start();
	struct fx_node hub, spoke;
	struct lpoll *p;
	json_t *j = NULL;
	char path[64];
	int64_t id;

	REQUIRE(h);
	REQUIRE_INT(fx_policy(h, K, deny_policy, NULL), 200);
	REQUIRE(two_nodes(h, &hub, &spoke));
	REQUIRE_INT(fx_req(h, "POST", "/api/v1/resources", K,
			   "{\"name\":\"db\",\"address\":\"db.corp.test\","
			   "\"filters\":[{\"protocol\":\"tcp\",\"ports\":"
			   "[\"5432\"]}],\"connectors\":{\"tags\":"
			   "[\"tag:hub\"]}}", &j), 201);
	id = fx_int(j, "id");
	json_decref(j);
	REQUIRE_INT(fx_policy(h, K, policy, NULL), 200);
	settle();
	REQUIRE_INT(fx_map(h, &spoke, -1, &j), 200);
	CHECK_STR(fx_str(j, "resources.0.name"), "db");
	CHECK_STR(fx_str(j, "resources.0.type"), "dns");
	CHECK_STR(fx_str(j, "resources.0.prefixes.0"), "100.96.0.1/32");
	CHECK_STR(fx_str(j, "resources.0.filters.0.ports.0"), "5432");
	CHECK(json_is_array(fx_get(j, "resources.0.connectors")));
	CHECK_INT(json_array_size(fx_get(j, "serves")), 0);
	CHECK(fx_ids_are(fx_get(j, "peers"), (int64_t[]){hub.id, 0}));
	json_decref(j);
	REQUIRE_INT(fx_map(h, &hub, -1, &j), 200);
	CHECK_STR(fx_str(j, "serves.0.address"), "db.corp.test");
	CHECK_STR(fx_str(j, "serves.0.prefixes.0"), "100.96.0.1/32");
	CHECK_STR(fx_str(j, "filter.0.dst.0.prefix"), "100.96.0.1/32");
	CHECK_STR(fx_str(j, "filter.0.dst.0.ports"), "5432");
	json_decref(j);
	/* An edit reaches a held poll as a delta with the new section. */
	p = held(h, &spoke, 1500);
	REQUIRE(p);
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	REQUIRE_INT(fx_req(h, "PATCH", path, K,
			   "{\"filters\":[{\"protocol\":\"tcp\",\"ports\":"
			   "[\"5432\",\"6432\"]}]}", NULL), 200);
	CHECK_INT(lpoll_wait(&p, 1, 2000), 1);
	j = lpoll_json(p);
	CHECK(!fx_is_true(j, "full"));
	CHECK_STR(fx_str(j, "resources.0.filters.0.ports.1"), "6432");
	lpoll_del(p);
	CHECK_INT(ih_del(h), 0);
}

/* A saved policy whose rule a resource's filters narrow to nothing
 * (filters written behind the API's back, as migration 006 did to
 * policies saved before filters counted): after a restart the rest of the
 * policy stands, the narrowed rule gives nothing. */
static void a_policy_narrowed_to_nothing_after_saving_still_loads(void)
{
	static const char policy[] =
		"{\"tagOwners\":{\"tag:hub\":[],\"tag:spoke\":[]},"
		"\"acls\":[{\"action\":\"accept\",\"src\":[\"tag:spoke\"],"
		"\"dst\":[\"tag:hub:*\"]},{\"action\":\"accept\",\"proto\":"
		"\"tcp\",\"src\":[\"tag:spoke\"],\"dst\":[\"resource:db:22\"]}]}";
	struct ih *h = start();
	struct fx_node hub, spoke;
	struct store *st = NULL;
	struct store_tx *tx = NULL;
	struct store_resource r;
	json_t *j = NULL;

	REQUIRE(h);
	REQUIRE_INT(fx_policy(h, K, deny_policy, NULL), 200);
	REQUIRE(two_nodes(h, &hub, &spoke));
	REQUIRE_INT(fx_req(h, "POST", "/api/v1/resources", K,
			   "{\"name\":\"db\",\"address\":\"10.9.0.1\","
			   "\"connectors\":{\"tags\":[\"tag:hub\"]}}", NULL), 201);
	REQUIRE_INT(fx_policy(h, K, policy, NULL), 200);
	REQUIRE_INT(store_open(h->db_url, &st, NULL, 0), 0);
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	REQUIRE_INT(store_resource_get_by_name(tx, "db", &r), 0);
	snprintf(r.filters, sizeof(r.filters),
		 "[{\"protocol\":\"tcp\",\"ports\":[\"443\"]}]");
	CHECK_INT(store_resource_update(tx, &r), 0);
	CHECK_INT(store_change_record(tx, "resource", r.id, NULL), 0);
	CHECK_INT(store_commit(tx), 0);
	store_close(st);
	REQUIRE_INT(ih_restart(h), 0);
	settle();
	REQUIRE_INT(fx_map(h, &spoke, -1, &j), 200);
	CHECK(fx_ids_are(fx_get(j, "peers"), (int64_t[]){hub.id, 0}));
	CHECK_INT(json_array_size(fx_get(j, "resources")), 0);
	json_decref(j);
	REQUIRE_INT(fx_map(h, &hub, -1, &j), 200);
	/* The hub still admits the spoke (first rule); nothing for db. */
	CHECK_INT(json_array_size(fx_get(j, "filter")), 1);
	CHECK_STR(fx_str(j, "filter.0.dst.0.prefix"), "self");
	json_decref(j);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(put_policy_is_returned_by_get_with_a_higher_version),
	CHECK_CASE(invalid_policies_are_rejected_naming_the_path),
	CHECK_CASE(without_a_policy_a_node_has_no_peers_and_an_empty_filter),
	CHECK_CASE(a_policy_change_that_removes_access_removes_the_peer_at_once),
	CHECK_CASE(relay_token_in_a_map_verifies_with_the_relay_key),
	CHECK_CASE(resources_reach_clients_and_connectors_through_the_hub),
	CHECK_CASE(a_policy_narrowed_to_nothing_after_saving_still_loads),
	CHECK_CASE(cli_sets_checks_and_prints_the_policy_and_relay_key),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
