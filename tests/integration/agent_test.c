/* weft-agent's control plane against a real controller: registration,
 * peers under a policy, live policy changes, restarts, auth errors, node
 * removal and controller loss. Agents run with --no-tun (no root). */
#include "ag.h"
#include "check.h"
#include "fx.h"
#include "ih.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define K (h->bootstrap_key)

static const char allow_policy[] =
	"{\"tagOwners\":{\"tag:test\":[]},"
	"\"acls\":[{\"action\":\"accept\",\"src\":[\"tag:test\"],"
	"\"dst\":[\"tag:test:*\"]}]}";
static const char deny_policy[] = "{\"tagOwners\":{\"tag:test\":[]},"
				  "\"acls\":[]}";

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A controller with a policy and a reusable tag:test auth key. */
static struct ih *start(const char *policy, char key[FX_KEY_SIZE])
{
	struct ih *h = NULL;

	if (!CHECK(ih_new(NULL, &h) == 0))
		return NULL;
	if (!CHECK(fx_policy(h, K, policy, NULL) == 200) ||
	    !CHECK(fx_authkey(h, K, "{\"reusable\":true,"
				    "\"tags\":[\"tag:test\"]}", key) > 0)) {
		ih_del(h);
		return NULL;
	}
	return h;
}

static json_t *cli(struct ag *a, const char *cmd)
{
	json_t *j = NULL;

	if (ag_cli(a, cmd, &j) != 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The names in `peers --json`, comma-joined, into buf. */
static const char *peer_names(struct ag *a, char *buf, size_t n)
{
	json_t *j = cli(a, "peers"), *p;
	size_t i, len = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(j, "peers"), i, p) {
		int w = snprintf(buf + len, n - len, "%s%s", i ? "," : "",
				 json_string_value(json_object_get(p, "name")));

		if (w > 0 && (size_t)w < n - len)
			len += (size_t)w;
	}
	json_decref(j);
	return buf;
}

/* Waits until a's peers are exactly want; returns the ms it took or -1. */
static int64_t wait_peers(struct ag *a, const char *want, int64_t timeout_ms)
{
	int64_t t0 = now_ms();
	char buf[512];

	do {
		if (strcmp(peer_names(a, buf, sizeof(buf)), want) == 0)
			return now_ms() - t0;
		usleep(20000);
	} while (now_ms() - t0 < timeout_ms);
	fprintf(stderr, "peers of %s: \"%s\", want \"%s\"\n", a->name, buf,
		want);
	return -1;
}

/* The nodes of `weft-controller nodes list --json`. */
static json_t *nodes_list(struct ih *h)
{
	char *out = NULL;
	int st = -1;
	json_t *j = NULL, *items;

	if (ih_cli(h, &out, &st, "nodes", "list", "--json", NULL) < 0 ||
	    st != 0) {
		free(out);
		return NULL;
	}
	j = json_loads(out, 0, NULL);
	free(out);
	items = json_is_object(j) ? json_object_get(j, "items") : j;
	json_incref(items);
	json_decref(j);
	return items;
}

static bool status_is(struct ag *a, const char *state, bool reachable)
{
	json_t *j = cli(a, "status");
	const char *s = json_string_value(json_object_get(j, "state"));
	bool ok = s && strcmp(s, state) == 0 &&
		  json_is_true(fx_get(j, "controller.reachable")) == reachable;

	json_decref(j);
	return ok;
}

static bool wait_status(struct ag *a, const char *state, bool reachable,
			int64_t timeout_ms)
{
	int64_t t0 = now_ms();

	do {
		if (status_is(a, state, reachable))
			return true;
		usleep(50000);
	} while (now_ms() - t0 < timeout_ms);
	return false;
}

static int mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void agent_registers_and_appears_in_nodes_list(void)
{
	char key[FX_KEY_SIZE], path[700];
	struct ih *h = start(allow_policy, key);
	struct ag *a = NULL;
	json_t *st = NULL, *nodes = NULL;

	REQUIRE(h);
	REQUIRE_INT(ag_start(h, "alpha", key, NULL, &a), 0);
	if (!CHECK(ag_wait_state(a, "running", 15000)))
		ag_dump_log(a);
	st = cli(a, "status");
	CHECK_STR(fx_str(st, "node.name"), "alpha");
	CHECK(fx_in_prefix(fx_str(st, "node.ipv4"), "100.64.0.0/10"));
	CHECK(fx_is_true(st, "controller.reachable"));
	CHECK(fx_int(st, "map.version") > 0);
	nodes = nodes_list(h);
	REQUIRE(nodes != NULL);
	CHECK_INT(json_array_size(nodes), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(nodes, 0),
						    "name")), "alpha");
	CHECK_INT(json_integer_value(json_object_get(json_array_get(nodes, 0),
						     "id")),
		  fx_int(st, "node.id"));
	/* State on disk: a private directory and private files. */
	CHECK_INT(mode_of(a->dir), 0700);
	snprintf(path, sizeof(path), "%s/node.key", a->dir);
	CHECK_INT(mode_of(path), 0600);
	snprintf(path, sizeof(path), "%s/credential.json", a->dir);
	CHECK_INT(mode_of(path), 0600);
	CHECK_INT(mode_of(a->sock) & 0777, 0600);
	json_decref(st);
	json_decref(nodes);
	CHECK_INT(ag_del(a), 0);
	ih_del(h);
}

static void two_agents_see_each_other_under_a_policy(void)
{
	char key[FX_KEY_SIZE];
	struct ih *h = start(allow_policy, key);
	struct ag *a = NULL, *b = NULL;
	json_t *j = NULL, *p;

	REQUIRE(h);
	REQUIRE_INT(ag_start(h, "alpha", key, NULL, &a), 0);
	REQUIRE_INT(ag_start(h, "beta", key, NULL, &b), 0);
	CHECK(wait_peers(a, "beta", 15000) >= 0);
	CHECK(wait_peers(b, "alpha", 15000) >= 0);
	j = cli(a, "peers");
	p = json_array_get(json_object_get(j, "peers"), 0);
	CHECK(fx_in_prefix(fx_str(p, "ipv4"), "100.64.0.0/10"));
	CHECK(fx_str(p, "ipv6") != NULL);
	CHECK_STR(fx_str(p, "path"), "none"); /* no tunnels yet */
	CHECK(json_is_boolean(json_object_get(p, "online")));
	json_decref(j);
	/* routes: the peer's mesh addresses */
	j = cli(a, "routes");
	CHECK_INT(json_array_size(json_object_get(j, "routes")), 2);
	CHECK_STR(fx_str(json_array_get(json_object_get(j, "routes"), 0),
			 "kind"), "mesh");
	json_decref(j);
	CHECK_INT(ag_del(a), 0);
	CHECK_INT(ag_del(b), 0);
	ih_del(h);
}

static void policy_change_reaches_peers_within_a_second(void)
{
	char key[FX_KEY_SIZE];
	struct ih *h = start(deny_policy, key);
	struct ag *a = NULL, *b = NULL;
	int64_t t0, took;

	REQUIRE(h);
	REQUIRE_INT(ag_start(h, "alpha", key, NULL, &a), 0);
	REQUIRE_INT(ag_start(h, "beta", key, NULL, &b), 0);
	CHECK(ag_wait_state(a, "running", 15000));
	CHECK(ag_wait_state(b, "running", 15000));
	CHECK(wait_peers(a, "", 1000) >= 0);
	t0 = now_ms();
	REQUIRE_INT(fx_policy(h, K, allow_policy, NULL), 200);
	took = wait_peers(a, "beta", 5000);
	CHECK(took >= 0);
	if (!CHECK(now_ms() - t0 < 1500))
		fprintf(stderr, "policy reached the agent after %lld ms\n",
			(long long)(now_ms() - t0));
	CHECK(wait_peers(b, "alpha", 1500) >= 0);
	/* and back */
	REQUIRE_INT(fx_policy(h, K, deny_policy, NULL), 200);
	CHECK(wait_peers(a, "", 1500) >= 0);
	CHECK(wait_peers(b, "", 1500) >= 0);
	ag_del(a);
	ag_del(b);
	ih_del(h);
}

static void restart_keeps_node_id_and_mesh_ip(void)
{
	char key[FX_KEY_SIZE], id1[64] = "", ip1[64] = "";
	struct ih *h = start(allow_policy, key);
	struct ag *a = NULL;
	json_t *st, *nodes;

	REQUIRE(h);
	REQUIRE_INT(ag_start(h, "alpha", key, NULL, &a), 0);
	REQUIRE(ag_wait_state(a, "running", 15000));
	st = cli(a, "status");
	snprintf(id1, sizeof(id1), "%lld", (long long)fx_int(st, "node.id"));
	snprintf(ip1, sizeof(ip1), "%s", fx_str(st, "node.ipv4") ? fx_str(st, "node.ipv4") : "");
	json_decref(st);
	CHECK_INT(ag_del(a), 0);
	/* No auth key the second time: the stored credential is enough. */
	REQUIRE_INT(ag_start(h, "alpha", NULL, NULL, &a), 0);
	if (!CHECK(ag_wait_state(a, "running", 15000)))
		ag_dump_log(a);
	st = cli(a, "status");
	{
		char id2[64];

		snprintf(id2, sizeof(id2), "%lld",
			 (long long)fx_int(st, "node.id"));
		CHECK_STR(id2, id1);
	}
	CHECK_STR(fx_str(st, "node.ipv4"), ip1);
	json_decref(st);
	nodes = nodes_list(h);
	CHECK_INT(json_array_size(nodes), 1);
	json_decref(nodes);
	CHECK_INT(fx_audit_count(h, K, "node.register", NULL, NULL), 1);
	CHECK_INT(ag_del(a), 0);
	ih_del(h);
}

static void bad_auth_key_exits_1_with_a_clear_message(void)
{
	char key[FX_KEY_SIZE], *log;
	struct ih *h = start(allow_policy, key);
	struct ag *a = NULL;
	json_t *nodes;

	REQUIRE(h);
	REQUIRE_INT(ag_start(h, "alpha", "weft_auth_000000000000_nope", NULL,
			     &a), 0);
	CHECK_INT(ag_wait_exit(a, 15000), 1);
	log = ag_log(a);
	CHECK(log && strstr(log, "weft-agent: registration refused (HTTP "
				 "401): invalid auth key"));
	free(log);
	nodes = nodes_list(h);
	CHECK_INT(json_array_size(nodes), 0);
	json_decref(nodes);
	ag_del(a);
	ih_del(h);
}

static void plain_http_to_another_host_is_refused(void)
{
	char key[FX_KEY_SIZE], *log;
	struct ih *h = start(allow_policy, key);
	struct ag *a = NULL;
	struct ih fake;

	REQUIRE(h);
	fake = *h;
	snprintf(fake.url, sizeof(fake.url), "http://192.0.2.1:%d", h->port);
	REQUIRE_INT(ag_start(&fake, "alpha", key, NULL, &a), 0);
	CHECK_INT(ag_wait_exit(a, 15000), 1);
	log = ag_log(a);
	CHECK(log && strstr(log, "refusing plain http"));
	free(log);
	ag_del(a);
	ih_del(h);
}

static void deleted_node_makes_the_agent_exit_with_removed(void)
{
	char key[FX_KEY_SIZE], path[64], *log;
	struct ih *h = start(allow_policy, key);
	struct ag *a = NULL, *b = NULL;
	json_t *st;
	int64_t id;

	REQUIRE(h);
	REQUIRE_INT(ag_start(h, "alpha", key, NULL, &a), 0);
	REQUIRE_INT(ag_start(h, "beta", key, NULL, &b), 0);
	REQUIRE(wait_peers(b, "alpha", 15000) >= 0);
	st = cli(a, "status");
	id = fx_int(st, "node.id");
	json_decref(st);
	snprintf(path, sizeof(path), "/api/v1/nodes/%lld", (long long)id);
	REQUIRE_INT(fx_req(h, "DELETE", path, K, NULL, NULL), 204);
	CHECK_INT(ag_wait_exit(a, 3000), 1);
	log = ag_log(a);
	CHECK(log && strstr(log, "weft-agent: node removed"));
	free(log);
	/* its peer drops it */
	CHECK(wait_peers(b, "", 1500) >= 0);
	ag_del(a);
	ag_del(b);
	ih_del(h);
}

static void controller_loss_keeps_the_map_and_resyncs(void)
{
	char key[FX_KEY_SIZE];
	struct ih *h = start(allow_policy, key);
	struct ag *a = NULL, *b = NULL;
	json_t *st, *nodes;
	int64_t id, t0, resync_ms;
	bool ok_a, ok_b;

	REQUIRE(h);
	REQUIRE_INT(ag_start(h, "alpha", key, NULL, &a), 0);
	REQUIRE_INT(ag_start(h, "beta", key, NULL, &b), 0);
	REQUIRE(wait_peers(a, "beta", 15000) >= 0);
	REQUIRE(wait_peers(b, "alpha", 15000) >= 0);
	st = cli(a, "status");
	id = fx_int(st, "node.id");
	json_decref(st);
	REQUIRE_INT(ih_signal(h, SIGKILL), 0);
	CHECK(wait_status(a, "reconnecting", false, 5000));
	CHECK(wait_peers(a, "beta", 100) >= 0); /* the last map stays */
	st = cli(a, "status");
	CHECK(fx_str(st, "controller.last_error") != NULL);
	json_decref(st);
	/* Down long enough for the back-off to reach 4-8 s. */
	sleep(6);
	REQUIRE_INT(ih_restart(h), 0);
	/* Both agents are running and reachable within seconds of the
	 * restart (a /healthz probe about every second, then a full-map poll
	 * answered at once). Before: the next retry came after the back-off
	 * and the poll at the current version was held for the keep-alive
	 * (30-55 s). The bound is generous for a busy machine. */
	t0 = now_ms();
	ok_a = wait_status(a, "running", true, 40000);
	ok_b = wait_status(b, "running", true, 40000);
	resync_ms = now_ms() - t0;
	fprintf(stderr, "# controller restarted: both agents running and "
			"reachable after %lld ms\n", (long long)resync_ms);
	if (!CHECK(ok_a && ok_b) || !CHECK(resync_ms <= 12000)) {
		ag_dump_log(a);
		ag_dump_log(b);
	}
	st = cli(a, "status");
	CHECK_INT(fx_int(st, "node.id"), id);
	json_decref(st);
	CHECK(wait_peers(a, "beta", 5000) >= 0);
	nodes = nodes_list(h);
	CHECK_INT(json_array_size(nodes), 2);
	json_decref(nodes);
	CHECK_INT(ag_del(a), 0);
	CHECK_INT(ag_del(b), 0);
	ih_del(h);
}

static void down_stops_the_agent_cleanly(void)
{
	char key[FX_KEY_SIZE];
	struct ih *h = start(allow_policy, key);
	struct ag *a = NULL;
	json_t *j = NULL;
	int64_t t0;

	REQUIRE(h);
	REQUIRE_INT(ag_start(h, "alpha", key, NULL, &a), 0);
	REQUIRE(ag_wait_state(a, "running", 15000));
	t0 = now_ms();
	CHECK_INT(ag_cli(a, "down", &j), 0);
	CHECK(fx_is_true(j, "ok"));
	json_decref(j);
	CHECK_INT(ag_wait_exit(a, 5000), 0);
	CHECK(now_ms() - t0 < 3000);
	CHECK(access(a->sock, F_OK) != 0); /* socket removed */
	/* a client now says plainly that nothing runs */
	j = NULL;
	CHECK_INT(ag_cli(a, "status", &j), 1);
	json_decref(j);
	ag_del(a);
	ih_del(h);
}

static const struct check_case cases[] = {
	CHECK_CASE(agent_registers_and_appears_in_nodes_list),
	CHECK_CASE(two_agents_see_each_other_under_a_policy),
	CHECK_CASE(policy_change_reaches_peers_within_a_second),
	CHECK_CASE(restart_keeps_node_id_and_mesh_ip),
	CHECK_CASE(bad_auth_key_exits_1_with_a_clear_message),
	CHECK_CASE(plain_http_to_another_host_is_refused),
	CHECK_CASE(deleted_node_makes_the_agent_exit_with_removed),
	CHECK_CASE(controller_loss_keeps_the_map_and_resyncs),
	CHECK_CASE(down_stops_the_agent_cleanly),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
