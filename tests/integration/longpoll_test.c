/* The long-poll map surface against the real controller process: full and
 * delta answers, held polls and what wakes them, keep-alives, fan-out to
 * a thousand held polls, delta correctness under random changes,
 * revocation, online state and shutdown with a vanished client. */
#include "check.h"
#include "fx.h"
#include "ih.h"
#include "lpoll.h"
#include "shared/clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define K (h->bootstrap_key)

/* Spokes may reach the hub; "other" nodes reach nothing and nothing
 * reaches them; spokes are not each other's peers. */
static const char hub_policy[] =
	"{\"tagOwners\":{\"tag:hub\":[],\"tag:spoke\":[],\"tag:other\":[]},"
	"\"acls\":[{\"action\":\"accept\",\"src\":[\"tag:spoke\"],"
	"\"dst\":[\"tag:hub:*\"]}]}";

static struct ih *start(const char *const *serve_args)
{
	struct ih *h = NULL;

	if (ih_new(&(struct ih_opts){.serve_args = serve_args}, &h) < 0)
		return NULL;
	return h;
}

/* A reusable auth key for nodes with this one tag. */
static bool tag_key(struct ih *h, const char *tag, char key[FX_KEY_SIZE])
{
	char body[128];

	snprintf(body, sizeof(body), "{\"reusable\":true,\"tags\":[\"%s\"]}",
		 tag);
	return fx_authkey(h, K, body, key) > 0;
}

/* Starts a held poll of n with since. */
static struct lpoll *poll_since(struct ih *h, const struct fx_node *n,
				int64_t since)
{
	struct lpoll *p = NULL;
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/map?since=%" PRId64, since);
	if (lpoll_start(h, path, n->cred, &p) < 0)
		return NULL;
	return p;
}

static bool wait_one(struct lpoll *p, int64_t ms)
{
	return lpoll_wait(&p, 1, ms) == 1;
}

/* Number of '.'-separated segments of s. */
static int segments(const char *s)
{
	int n = 1;

	for (; s && *s; s++)
		n += *s == '.';
	return s ? n : 0;
}

/* The hub applies a committed change within its coalescing window (20 ms
 * after the API call returns; the feed is also read every 250 ms): a map
 * fetched in that window is still the old one (and the next poll gets the
 * change as a delta). Tests that want the map to show their setup wait
 * this long first. */
static void settle(void)
{
	usleep(400 * 1000);
}

/* Takes the version of a 200 answer into n; false for anything else. */
static bool took_version(struct fx_node *n, struct lpoll *p)
{
	if (lpoll_status(p) != 200 || fx_int(lpoll_json(p), "version") <= 0)
		return false;
	n->version = fx_int(lpoll_json(p), "version");
	return true;
}

/* Leaves a held poll of every node in polls[i]: polls since each node's
 * version, and re-polls those answered within quiet_ms (their maps were
 * still changing: nodes that just started polling go online a tick later,
 * which changes their peers' maps) until a whole round stays quiet.
 * Returns false when that does not happen within a few rounds or a poll
 * failed. */
static bool hold_all(struct ih *h, struct fx_node *nodes, struct lpoll **polls,
		     size_t n, int64_t quiet_ms)
{
	for (size_t i = 0; i < n; i++)
		if (!(polls[i] = poll_since(h, &nodes[i], nodes[i].version)))
			return false;
	for (int round = 0; round < 6; round++) {
		size_t again = 0;

		lpoll_wait(polls, n, quiet_ms);
		for (size_t i = 0; i < n; i++) {
			if (!lpoll_done(polls[i]))
				continue;
			if (!took_version(&nodes[i], polls[i]))
				return false;
			lpoll_del(polls[i]);
			polls[i] = poll_since(h, &nodes[i], nodes[i].version);
			if (!polls[i])
				return false;
			again++;
		}
		if (!again)
			return true;
	}
	return false;
}

/* Sets the hub policy and registers a hub node, a spoke node and an
 * "other" node. */
static bool hub_and_spoke(struct ih *h, struct fx_node *hub,
			  struct fx_node *spoke, struct fx_node *other)
{
	char kh[FX_KEY_SIZE], ks[FX_KEY_SIZE], ko[FX_KEY_SIZE];

	return fx_policy(h, K, hub_policy, NULL) == 200 &&
	       tag_key(h, "tag:hub", kh) && tag_key(h, "tag:spoke", ks) &&
	       tag_key(h, "tag:other", ko) &&
	       fx_node_register(h, kh, "hub", hub) == 201 &&
	       fx_node_register(h, ks, "spoke", spoke) == 201 &&
	       (!other || fx_node_register(h, ko, "other", other) == 201) &&
	       (settle(), true);
}

static void first_map_is_full_and_a_held_poll_wakes_only_for_its_peers(void)
{
	struct ih *h = start(NULL);
	struct fx_node a, b, x;
	struct lpoll *p = NULL;
	json_t *j = NULL;
	int64_t t0, v;

	REQUIRE(h);
	REQUIRE(hub_and_spoke(h, &a, &b, &x));
	REQUIRE_INT(fx_map(h, &a, -1, &j), 200);
	CHECK(fx_is_true(j, "full"));
	CHECK_INT(fx_int(j, "self.id"), a.id);
	CHECK_STR(fx_str(j, "self.name"), "hub");
	CHECK(fx_ids_are(fx_get(j, "peers"), (int64_t[]){b.id, 0}));
	CHECK(json_is_array(fx_get(j, "filter")));
	CHECK(json_array_size(fx_get(j, "filter")) > 0);
	CHECK(json_is_object(fx_get(j, "dns")));
	CHECK(json_is_array(fx_get(j, "relays")));
	CHECK_INT(segments(fx_str(j, "relay_token")), 3);
	CHECK(fx_get(j, "peers_removed") == NULL);
	v = a.version;
	CHECK(v > 0);
	json_decref(j);

	/* Current: held. */
	p = poll_since(h, &a, v);
	REQUIRE(p);
	CHECK(!wait_one(p, 1000));
	/* A node that is no peer of a changes: a's poll stays held. */
	CHECK_INT(fx_endpoints(h, &x, "198.51.100.7:41641"), 200);
	CHECK(!wait_one(p, 1000));
	/* Its peer changes: a's poll answers with that peer only. */
	CHECK_INT(fx_endpoints(h, &b, "198.51.100.8:41641"), 200);
	t0 = clock_mono_ms();
	REQUIRE(wait_one(p, 3000));
	printf("held poll answered %" PRId64 " ms after the peer's change\n",
	       lpoll_answered_at(p) - t0);
	CHECK(lpoll_answered_at(p) - t0 < 1000);
	CHECK_INT(lpoll_status(p), 200);
	j = lpoll_json(p);
	CHECK(fx_get(j, "full") && !fx_is_true(j, "full"));
	CHECK(fx_int(j, "version") > v);
	CHECK(fx_ids_are(fx_get(j, "peers"), (int64_t[]){b.id, 0}));
	CHECK(fx_has_str(fx_get(json_array_get(fx_get(j, "peers"), 0),
				"endpoints"),
			 "198.51.100.8:41641"));
	lpoll_del(p);
	CHECK_INT(ih_del(h), 0);
}

static void poll_since_zero_or_a_future_version_gets_a_full_map(void)
{
	struct ih *h = start(NULL);
	struct fx_node a, b;
	json_t *j = NULL;

	REQUIRE(h);
	REQUIRE(hub_and_spoke(h, &a, &b, NULL));
	REQUIRE_INT(fx_map(h, &a, 0, &j), 200);
	CHECK(fx_is_true(j, "full"));
	CHECK(fx_ids_are(fx_get(j, "peers"), (int64_t[]){b.id, 0}));
	json_decref(j);
	/* A version this controller never reached (a restored database, a
	 * client that talked to another deployment) is answered at once. */
	REQUIRE_INT(fx_map(h, &a, 999999999, &j), 200);
	CHECK(fx_is_true(j, "full"));
	CHECK(fx_ids_are(fx_get(j, "peers"), (int64_t[]){b.id, 0}));
	CHECK(fx_int(j, "version") < 999999999);
	json_decref(j);
	/* A malformed since is refused. */
	CHECK_INT(fx_req(h, "GET", "/api/v1/map?since=-3", a.cred, NULL, &j),
		  400);
	CHECK_STR(fx_str(j, "error.field"), "since");
	json_decref(j);
	/* An API key is no node. */
	CHECK_INT(fx_req(h, "GET", "/api/v1/map", K, NULL, NULL), 403);
	CHECK_INT(fx_req(h, "GET", "/api/v1/map", NULL, NULL, NULL), 401);
	CHECK_INT(ih_del(h), 0);
}

static void keepalive_answers_the_same_version_without_changes(void)
{
	static const char *const args[] = {"--poll-keepalive", "1s", NULL};
	struct ih *h = start(args);
	struct fx_node a, b;
	struct lpoll *p;
	json_t *j;
	int64_t t0, v;

	REQUIRE(h);
	REQUIRE(hub_and_spoke(h, &a, &b, NULL));
	REQUIRE_INT(fx_map(h, &a, -1, NULL), 200);
	v = a.version;
	t0 = clock_mono_ms();
	p = poll_since(h, &a, v);
	REQUIRE(p);
	/* 1 s plus up to 25 s of jitter. */
	REQUIRE(wait_one(p, 28000));
	printf("keep-alive after %" PRId64 " ms\n", lpoll_answered_at(p) - t0);
	CHECK(lpoll_answered_at(p) - t0 >= 900);
	CHECK_INT(lpoll_status(p), 200);
	j = lpoll_json(p);
	CHECK_INT(fx_int(j, "version"), v);
	CHECK(fx_get(j, "full") && !fx_is_true(j, "full"));
	CHECK(fx_get(j, "peers") == NULL);
	CHECK(fx_get(j, "self") == NULL);
	lpoll_del(p);
	CHECK_INT(ih_del(h), 0);
}

static void deleting_a_node_ends_its_poll_with_410_and_removes_it_from_peers(void)
{
	struct ih *h = start(NULL);
	struct fx_node a, c, d;
	char ks[FX_KEY_SIZE], path[64];
	struct lpoll *pa, *pc;
	json_t *j = NULL;
	int64_t t0;

	REQUIRE(h);
	REQUIRE(hub_and_spoke(h, &a, &c, NULL));
	REQUIRE(tag_key(h, "tag:spoke", ks));
	REQUIRE_INT(fx_node_register(h, ks, "spoke-d", &d), 201);
	settle();
	REQUIRE_INT(fx_map(h, &a, -1, &j), 200);
	CHECK(fx_ids_are(fx_get(j, "peers"), (int64_t[]){c.id, d.id, 0}));
	json_decref(j);
	REQUIRE_INT(fx_map(h, &c, -1, NULL), 200);
	{
		struct fx_node v[2] = {a, c};
		struct lpoll *pv[2] = {NULL, NULL};

		REQUIRE(hold_all(h, v, pv, 2, 1500));
		pa = pv[0];
		pc = pv[1];
	}

	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, c.id);
	CHECK_INT(fx_req(h, "DELETE", path, K, NULL, NULL), 204);
	t0 = clock_mono_ms();
	CHECK(wait_one(pc, 2000));
	printf("deleted node's poll answered after %" PRId64 " ms\n",
	       lpoll_answered_at(pc) - t0);
	CHECK(lpoll_answered_at(pc) - t0 < 1000);
	CHECK_INT(lpoll_status(pc), 410);
	CHECK_STR(fx_str(lpoll_json(pc), "error.code"), "node_removed");
	/* The peer learns of it at the same time. */
	CHECK(wait_one(pa, 2000));
	CHECK(lpoll_answered_at(pa) - t0 < 1000);
	CHECK_INT(lpoll_status(pa), 200);
	j = lpoll_json(pa);
	CHECK(!fx_is_true(j, "full"));
	CHECK(fx_get(j, "peers_removed") &&
	      json_integer_value(json_array_get(fx_get(j, "peers_removed"), 0)) ==
		      c.id);
	CHECK_INT(json_array_size(fx_get(j, "peers_removed")), 1);
	CHECK(!fx_has_id(fx_get(j, "peers"), c.id));
	/* Its credential is gone with it. */
	CHECK_INT(fx_map(h, &c, -1, NULL), 401);
	lpoll_del(pa);
	lpoll_del(pc);

	/* Expiry ends the held poll the same way. */
	REQUIRE_INT(fx_map(h, &d, -1, NULL), 200);
	pc = poll_since(h, &d, d.version);
	REQUIRE(pc);
	CHECK(!wait_one(pc, 300));
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64 "/expire", d.id);
	CHECK_INT(fx_req(h, "POST", path, K, NULL, NULL), 200);
	t0 = clock_mono_ms();
	CHECK(wait_one(pc, 2000));
	CHECK(lpoll_answered_at(pc) - t0 < 1000);
	CHECK_INT(lpoll_status(pc), 410);
	CHECK_STR(fx_str(lpoll_json(pc), "error.code"), "node_removed");
	lpoll_del(pc);
	CHECK_INT(ih_del(h), 0);
}

static void a_polling_node_shows_online(void)
{
	struct ih *h = start(NULL);
	struct fx_node a, b;
	struct lpoll *p;
	char path[64];
	json_t *j = NULL;
	bool online = false;
	int64_t t0;

	REQUIRE(h);
	REQUIRE(hub_and_spoke(h, &a, &b, NULL));
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, a.id);
	REQUIRE_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK(!fx_is_true(j, "online"));
	json_decref(j);
	REQUIRE_INT(fx_map(h, &a, -1, NULL), 200);
	p = poll_since(h, &a, a.version);
	REQUIRE(p);
	t0 = clock_mono_ms();
	while (!online && clock_mono_ms() - t0 < 3000) {
		j = NULL;
		if (fx_req(h, "GET", path, K, NULL, &j) == 200)
			online = fx_is_true(j, "online");
		json_decref(j);
		if (!online)
			usleep(100 * 1000);
	}
	printf("online after %" PRId64 " ms\n", clock_mono_ms() - t0);
	CHECK(online);
	CHECK(clock_mono_ms() - t0 < 2500);
	/* b sees a online in its map. */
	REQUIRE_INT(fx_map(h, &b, -1, &j), 200);
	CHECK(fx_is_true(json_array_get(fx_get(j, "peers"), 0), "online"));
	json_decref(j);
	/* Going offline takes the 60 s grace period: not asserted here. */
	lpoll_del(p);
	CHECK_INT(ih_del(h), 0);
}

static void controller_stops_cleanly_after_a_held_client_went_away(void)
{
	struct ih *h = start(NULL);
	struct fx_node a, b;
	struct lpoll *p, *q;

	REQUIRE(h);
	REQUIRE(hub_and_spoke(h, &a, &b, NULL));
	REQUIRE_INT(fx_map(h, &a, -1, NULL), 200);
	REQUIRE_INT(fx_map(h, &b, -1, NULL), 200);
	p = poll_since(h, &a, a.version);
	q = poll_since(h, &b, b.version);
	REQUIRE(p && q);
	CHECK(!wait_one(p, 500));
	lpoll_close(p);
	usleep(200 * 1000);
	/* One vanished client, one still held: both must be let go. */
	CHECK_INT(ih_del(h), 0);
	CHECK(wait_one(q, 2000));
	CHECK(lpoll_status(q) == 503 || lpoll_status(q) == -1);
	lpoll_del(p);
	lpoll_del(q);
}

static const struct check_case cases[] = {
	CHECK_CASE(first_map_is_full_and_a_held_poll_wakes_only_for_its_peers),
	CHECK_CASE(poll_since_zero_or_a_future_version_gets_a_full_map),
	CHECK_CASE(keepalive_answers_the_same_version_without_changes),
	CHECK_CASE(deleting_a_node_ends_its_poll_with_410_and_removes_it_from_peers),
	CHECK_CASE(a_polling_node_shows_online),
	CHECK_CASE(controller_stops_cleanly_after_a_held_client_went_away),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
