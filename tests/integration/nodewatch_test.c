/* GET /api/v1/nodes/watch, the admin UI's long-poll on the node list,
 * against the real controller process over HTTP: a watcher behind the
 * change feed is answered at once, a current one is held until a node is
 * registered, renamed or goes online (an agent's map poll), or until its
 * wait ends; the number of held watches per caller is bounded; bad
 * parameters and missing credentials are refused. */
#include "check.h"
#include "fx.h"
#include "ih.h"
#include "lpoll.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define K (h->bootstrap_key)

static struct ih *start(void)
{
	struct ih *h = NULL;

	if (ih_new(&(struct ih_opts){0}, &h) < 0)
		return NULL;
	return h;
}

/* The current version: a watch with no wait is answered at once. */
static int64_t current(struct ih *h, const char *token)
{
	json_t *j = NULL;
	int64_t v = -1;

	if (fx_req(h, "GET", "/api/v1/nodes/watch?wait=0", token, NULL, &j) ==
	    200)
		v = fx_int(j, "version");
	json_decref(j);
	return v;
}

/* The version once the hub has applied every committed change: the same
 * for 600 ms (the feed is read at least every 250 ms). */
static int64_t settled(struct ih *h, const char *token)
{
	int64_t v = current(h, token), prev = -2;

	for (int i = 0; i < 50 && v != prev; i++) {
		usleep(600 * 1000);
		prev = v;
		v = current(h, token);
	}
	return v;
}

static struct lpoll *watch(struct ih *h, const char *token, int64_t since,
			   int wait_s)
{
	struct lpoll *p = NULL;
	char path[128];

	snprintf(path, sizeof(path),
		 "/api/v1/nodes/watch?since=%" PRId64 "&wait=%d", since,
		 wait_s);
	if (lpoll_start(h, path, token, &p) < 0)
		return NULL;
	return p;
}

static bool held(struct lpoll *p, int64_t ms)
{
	return lpoll_wait(&p, 1, ms) == 0;
}

static void behind_is_answered_at_once_current_is_held_until_a_change(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE];
	struct fx_node n;
	struct lpoll *p;
	json_t *j = NULL;
	int64_t v;

	REQUIRE(h);
	REQUIRE(fx_authkey(h, K, NULL, key) > 0);
	v = settled(h, K);
	REQUIRE(v >= 0);
	/* Current: held, then woken by a registration. */
	p = watch(h, K, v, 30);
	REQUIRE(p);
	CHECK(held(p, 500));
	REQUIRE_INT(fx_node_register(h, key, "watched", &n), 201);
	CHECK_INT(lpoll_wait(&p, 1, 10000), 1);
	CHECK_INT(lpoll_status(p), 200);
	CHECK(fx_is_true(lpoll_json(p), "changed"));
	CHECK(fx_int(lpoll_json(p), "version") > v);
	{
		/* Behind (the old version): at once, changed. */
		char path[96];

		snprintf(path, sizeof(path),
			 "/api/v1/nodes/watch?since=%" PRId64 "&wait=30", v);
		CHECK_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
		CHECK(fx_is_true(j, "changed"));
		CHECK_INT(fx_int(j, "version"),
			  fx_int(lpoll_json(p), "version"));
		json_decref(j);
	}
	lpoll_del(p);
	v = settled(h, K);
	/* A rename wakes it too. */
	p = watch(h, K, v, 30);
	REQUIRE(p);
	CHECK(held(p, 300));
	{
		char path[64];

		snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, n.id);
		CHECK_INT(fx_req(h, "PATCH", path, K, "{\"name\":\"renamed\"}",
				 NULL), 200);
	}
	CHECK_INT(lpoll_wait(&p, 1, 10000), 1);
	CHECK(fx_is_true(lpoll_json(p), "changed"));
	lpoll_del(p);
	v = settled(h, K);
	/* Going online (the node's first map poll) wakes it. */
	p = watch(h, K, v, 30);
	REQUIRE(p);
	CHECK(held(p, 300));
	CHECK_INT(fx_map(h, &n, -1, NULL), 200);
	CHECK_INT(lpoll_wait(&p, 1, 10000), 1);
	CHECK(fx_is_true(lpoll_json(p), "changed"));
	lpoll_del(p);
	j = NULL;
	CHECK_INT(fx_req(h, "GET", "/api/v1/nodes", K, NULL, &j), 200);
	CHECK(fx_is_true(json_array_get(fx_get(j, "items"), 0), "online"));
	json_decref(j);
	CHECK_INT(ih_del(h), 0);
}

static void a_quiet_watch_ends_unchanged_after_its_wait(void)
{
	struct ih *h = start();
	struct lpoll *p;
	int64_t v;

	REQUIRE(h);
	v = settled(h, K);
	REQUIRE(v >= 0);
	p = watch(h, K, v, 1);
	REQUIRE(p);
	CHECK(held(p, 300));
	CHECK_INT(lpoll_wait(&p, 1, 10000), 1);
	CHECK_INT(lpoll_status(p), 200);
	CHECK(fx_get(lpoll_json(p), "changed") &&
	      !fx_is_true(lpoll_json(p), "changed"));
	CHECK_INT(fx_int(lpoll_json(p), "version"), v);
	lpoll_del(p);
	CHECK_INT(ih_del(h), 0);
}

static void held_watches_per_caller_are_bounded(void)
{
	struct ih *h = start();
	struct lpoll *p[5] = {0};
	char mkey[FX_KEY_SIZE];
	json_t *j = NULL;
	int64_t v, uid;

	REQUIRE(h);
	uid = fx_user(h, K, "member", NULL);
	REQUIRE(uid > 0);
	REQUIRE(fx_apikey(h, K, uid, mkey) > 0);
	v = settled(h, mkey);
	REQUIRE(v >= 0);
	for (int i = 0; i < 4; i++) {
		p[i] = watch(h, mkey, v, 30);
		REQUIRE(p[i]);
	}
	CHECK_INT(lpoll_wait(p, 4, 500), 0);
	CHECK_INT(fx_req(h, "GET", "/api/v1/nodes/watch?wait=30&since=999999",
			 mkey, NULL, &j), 429);
	CHECK_STR(fx_str(j, "error.code"), "too_many_watches");
	json_decref(j);
	/* Another caller is not affected. */
	p[4] = watch(h, K, v, 30);
	REQUIRE(p[4]);
	CHECK(held(p[4], 300));
	/* One change answers them all. */
	CHECK(fx_user(h, K, "other", NULL) > 0);
	{
		char key[FX_KEY_SIZE];
		struct fx_node n;

		REQUIRE(fx_authkey(h, K, NULL, key) > 0);
		REQUIRE_INT(fx_node_register(h, key, "wake", &n), 201);
	}
	CHECK_INT(lpoll_wait(p, 5, 10000), 5);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(lpoll_status(p[i]), 200);
		lpoll_del(p[i]);
	}
	CHECK_INT(ih_del(h), 0);
}

static void bad_parameters_and_no_credentials_are_refused(void)
{
	struct ih *h = start();
	json_t *j = NULL;

	REQUIRE(h);
	CHECK_INT(fx_req(h, "GET", "/api/v1/nodes/watch?wait=56", K, NULL, &j),
		  400);
	CHECK_STR(fx_str(j, "error.field"), "wait");
	json_decref(j);
	CHECK_INT(fx_req(h, "GET", "/api/v1/nodes/watch?since=-1", K, NULL,
			 NULL), 400);
	CHECK_INT(fx_req(h, "GET", "/api/v1/nodes/watch?since=x", K, NULL,
			 NULL), 400);
	CHECK_INT(fx_req(h, "GET", "/api/v1/nodes/watch", NULL, NULL, NULL),
		  401);
	CHECK_INT(ih_del(h), 0);
}

/* The controller stops promptly with watches held: they get 503. */
static void shutdown_answers_held_watches(void)
{
	struct ih *h = start();
	struct lpoll *p;
	int64_t v;

	REQUIRE(h);
	v = settled(h, K);
	p = watch(h, K, v, 55);
	REQUIRE(p);
	CHECK(held(p, 300));
	CHECK_INT(ih_signal(h, SIGTERM), 0);
	CHECK_INT(lpoll_wait(&p, 1, 10000), 1);
	CHECK(lpoll_status(p) == 503 || lpoll_status(p) == -1);
	lpoll_del(p);
	CHECK_INT(ih_del(h), 0);
}

/* GET /api/v1/status: an admin counts every node and sees relays with
 * the online nodes that use them; a member counts its own nodes only. */
static void status_counts_the_callers_nodes_and_relay_use(void)
{
	struct ih *h = start();
	char key[FX_KEY_SIZE], mkey[FX_KEY_SIZE], body[128];
	struct fx_node a, b;
	json_t *j = NULL;
	int64_t uid;

	REQUIRE(h);
	uid = fx_user(h, K, "mem", NULL);
	REQUIRE(uid > 0);
	REQUIRE(fx_apikey(h, K, uid, mkey) > 0);
	CHECK_INT(fx_req(h, "POST", "/api/v1/relays", K,
			 "{\"name\":\"r1\",\"region\":\"eu\","
			 "\"address\":\"127.0.0.1:3478\"}", NULL), 201);
	REQUIRE(fx_authkey(h, K, NULL, key) > 0);
	REQUIRE_INT(fx_node_register(h, key, "adm1", &a), 201);
	REQUIRE(fx_authkey(h, mkey, "{}", key) > 0);
	REQUIRE_INT(fx_node_register(h, key, "mem1", &b), 201);
	/* a goes online and reports r1 as its home relay. */
	snprintf(body, sizeof(body),
		 "{\"endpoints\":[\"127.0.0.1:1\"],\"home_relay\":\"r1\"}");
	CHECK_INT(fx_req(h, "POST", "/api/v1/endpoints", a.cred, body, NULL),
		  200);
	CHECK_INT(fx_map(h, &a, -1, NULL), 200);
	for (int i = 0; i < 100; i++) {
		json_decref(j);
		j = NULL;
		CHECK_INT(fx_req(h, "GET", "/api/v1/status", K, NULL, &j), 200);
		if (fx_int(j, "nodes.online") == 1)
			break;
		usleep(100 * 1000);
	}
	CHECK_INT(fx_int(j, "nodes.total"), 2);
	CHECK_INT(fx_int(j, "nodes.online"), 1);
	CHECK_INT(fx_int(j, "nodes.offline"), 1);
	CHECK(fx_str(j, "version") && *fx_str(j, "version"));
	CHECK_STR(fx_str(j, "database"),
		  ih_backend_is_pg() ? "postgres" : "sqlite");
	CHECK_INT(json_array_size(fx_get(j, "relays")), 1);
	CHECK_STR(fx_str(json_array_get(fx_get(j, "relays"), 0), "name"), "r1");
	CHECK_INT(fx_int(json_array_get(fx_get(j, "relays"), 0), "online_nodes"),
		  1);
	json_decref(j);
	j = NULL;
	CHECK_INT(fx_req(h, "GET", "/api/v1/status", mkey, NULL, &j), 200);
	CHECK_INT(fx_int(j, "nodes.total"), 1);
	CHECK_INT(fx_int(j, "nodes.online"), 0);
	CHECK(!fx_get(j, "relays"));
	json_decref(j);
	CHECK_INT(fx_req(h, "GET", "/api/v1/status", NULL, NULL, NULL), 401);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(status_counts_the_callers_nodes_and_relay_use),
	CHECK_CASE(behind_is_answered_at_once_current_is_held_until_a_change),
	CHECK_CASE(a_quiet_watch_ends_unchanged_after_its_wait),
	CHECK_CASE(held_watches_per_caller_are_bounded),
	CHECK_CASE(bad_parameters_and_no_credentials_are_refused),
	CHECK_CASE(shutdown_answers_held_watches),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
