/* The long-poll map surface against the real controller process: full and
 * delta answers, held polls and what wakes them, keep-alives, fan-out to
 * a thousand held polls, delta correctness under random changes,
 * revocation, online state and shutdown with a vanished client. */
#include "check.h"
#include "fx.h"
#include "ih.h"
#include "lpoll.h"
#include "shared/clock.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

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
	return lpoll_map(h, n->cred, since);
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
	for (int round = 0; round < 20; round++) {
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
	int64_t t0;

	REQUIRE(h);
	REQUIRE(hub_and_spoke(h, &a, &b, NULL));
	REQUIRE_INT(fx_map(h, &a, 0, &j), 200);
	CHECK(fx_is_true(j, "full"));
	CHECK(fx_ids_are(fx_get(j, "peers"), (int64_t[]){b.id, 0}));
	json_decref(j);
	/* A version this controller never reached (a restored database, a
	 * client that talked to another deployment) gets a full map once
	 * the controller has waited a moment for its feed to get there (a
	 * client of another replica is often a few milliseconds ahead). */
	t0 = clock_mono_ms();
	REQUIRE_INT(fx_map(h, &a, 999999999, &j), 200);
	CHECK(clock_mono_ms() - t0 < 5000);
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
	/* 1 s plus up to 5/6 s of jitter. */
	REQUIRE(wait_one(p, 5000));
	printf("keep-alive after %" PRId64 " ms\n", lpoll_answered_at(p) - t0);
	CHECK(lpoll_answered_at(p) - t0 >= 900);
	CHECK(lpoll_answered_at(p) - t0 < 3000);
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
	/* Its credential now fails as expired. */
	CHECK_INT(fx_req(h, "GET", "/api/v1/map", d.cred, NULL, &j), 401);
	CHECK_STR(fx_str(j, "error.message"), "node expired");
	json_decref(j);
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
	/* b sees a online in its map (once the hub applied the change). */
	settle();
	REQUIRE_INT(fx_map(h, &b, -1, &j), 200);
	CHECK(fx_is_true(json_array_get(fx_get(j, "peers"), 0), "online"));
	json_decref(j);
	/* Going offline: see a_node_that_stops_polling_goes_offline_... */
	lpoll_del(p);
	CHECK_INT(ih_del(h), 0);
}

/* With short keep-alive and grace: a node whose client went away is
 * answered at its keep-alive, then marked offline after the grace, and its
 * peers' held polls learn it. */
static void a_node_that_stops_polling_goes_offline_and_peers_are_told(void)
{
	static const char *const args[] = {"--poll-keepalive", "1s",
					   "--offline-grace", "2s", NULL};
	struct ih *h = start(args);
	struct fx_node a, b;
	struct lpoll *pa, *pb = NULL;
	char path[64];
	json_t *j = NULL;
	bool offline = false;
	int64_t t0;

	REQUIRE(h);
	REQUIRE(hub_and_spoke(h, &a, &b, NULL));
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, a.id);
	REQUIRE_INT(fx_map(h, &a, -1, NULL), 200);
	pa = poll_since(h, &a, a.version);
	REQUIRE(pa);
	/* Wait until a is online (and b's map says so). */
	for (t0 = clock_mono_ms(); clock_mono_ms() - t0 < 3000;) {
		j = NULL;
		if (fx_req(h, "GET", path, K, NULL, &j) == 200 &&
		    fx_is_true(j, "online")) {
			json_decref(j);
			break;
		}
		json_decref(j);
		usleep(100 * 1000);
	}
	settle();
	REQUIRE_INT(fx_map(h, &b, -1, NULL), 200);
	/* a's client goes away; b holds a poll. */
	lpoll_close(pa);
	t0 = clock_mono_ms();
	while (!offline && clock_mono_ms() - t0 < 9000) {
		if (!pb || lpoll_status(pb)) {
			if (pb) {
				j = lpoll_json(pb);
				json_t *peer = json_array_get(fx_get(j, "peers"), 0);

				if (peer && fx_int(peer, "id") == a.id &&
				    fx_get(peer, "online") &&
				    !fx_is_true(peer, "online"))
					offline = true;
				if (fx_get(j, "version"))
					b.version = fx_int(j, "version");
				lpoll_del(pb);
				pb = NULL;
			}
			if (!offline)
				pb = poll_since(h, &b, b.version);
			REQUIRE(offline || pb);
		}
		if (pb)
			wait_one(pb, 500);
	}
	printf("peer learned offline after %" PRId64 " ms\n",
	       clock_mono_ms() - t0);
	CHECK(offline);
	REQUIRE_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK(fx_get(j, "online") && !fx_is_true(j, "online"));
	json_decref(j);
	lpoll_del(pb);
	lpoll_del(pa);
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
	{
		struct fx_node v[2] = {a, b};
		struct lpoll *pv[2] = {NULL, NULL};

		REQUIRE(hold_all(h, v, pv, 2, 1500));
		p = pv[0];
		q = pv[1];
	}
	lpoll_close(p);
	usleep(200 * 1000);
	/* One vanished client, one still held: both must be let go and the
	 * process must exit cleanly (no leak, no hang). The held one is
	 * answered 503 shutting_down by hub_drain, but the HTTP server is
	 * stopped right after and may close the connection before that
	 * answer is written, so a closed connection is accepted too. */
	CHECK_INT(ih_del(h), 0);
	CHECK(wait_one(q, 2000));
	printf("held poll at shutdown: status %ld\n", lpoll_status(q));
	CHECK(lpoll_status(q) == -1 ||
	      (lpoll_status(q) == 503 &&
	       fx_str(lpoll_json(q), "error.code") &&
	       strcmp(fx_str(lpoll_json(q), "error.code"), "shutting_down") == 0));
	lpoll_del(p);
	lpoll_del(q);
}

#define NBURST 24

/* A held poll whose peers come online in a burst is woken at most once
 * per presence interval (issue 12.15: 10k agents connecting at once woke
 * every node ~45 times), while a content change still reaches it at
 * once. */
static void peers_coming_online_wake_a_held_poll_at_most_once_per_interval(void)
{
	static const char *const args[] = {"--presence-interval", "4s", NULL};
	struct ih *h = start(args);
	struct fx_node hub, spokes[NBURST + 1];
	char kh[FX_KEY_SIZE], ks[FX_KEY_SIZE];
	struct lpoll *hp = NULL;
	int answers = 0;
	int64_t t0, elapsed, t_ans, t_change;
	bool got = false, has_ep = false;

	REQUIRE(h);
	REQUIRE_INT(fx_policy(h, K, hub_policy, NULL), 200);
	REQUIRE(tag_key(h, "tag:hub", kh) && tag_key(h, "tag:spoke", ks));
	REQUIRE_INT(fx_node_register(h, kh, "hub", &hub), 201);
	for (int i = 0; i <= NBURST; i++) {
		char name[16];

		snprintf(name, sizeof(name), "spoke-%d", i);
		REQUIRE_INT(fx_node_register(h, ks, name, &spokes[i]), 201);
	}
	settle();
	REQUIRE_INT(fx_map(h, &hub, -1, NULL), 200);
	{
		struct fx_node v[1] = {hub};
		struct lpoll *pv[1] = {NULL};

		REQUIRE(hold_all(h, v, pv, 1, 1500));
		hub = v[0];
		hp = pv[0];
	}
	/* The burst: a spoke comes online every 300 ms for ~7 s; each
	 * online flip changes the hub's map (a peer's presence). */
	t0 = clock_mono_ms();
	for (int i = 0; i < NBURST; i++) {
		REQUIRE_INT(fx_map(h, &spokes[i], -1, NULL), 200);
		if (lpoll_wait(&hp, 1, 300) == 1) {
			REQUIRE(took_version(&hub, hp));
			answers++;
			lpoll_del(hp);
			REQUIRE((hp = poll_since(h, &hub, hub.version)));
		}
	}
	/* The last flips (one tick later) and the held-back answer. */
	while (lpoll_wait(&hp, 1, 6000) == 1) {
		REQUIRE(took_version(&hub, hp));
		answers++;
		lpoll_del(hp);
		REQUIRE((hp = poll_since(h, &hub, hub.version)));
	}
	elapsed = clock_mono_ms() - t0 - 6000;
	printf("%d spokes online in %" PRId64 " ms: the hub's poll was "
	       "answered %d times\n", NBURST, elapsed, answers);
	CHECK(answers >= 1);
	/* One answer per tick (1 s) without coalescing; with it at most one
	 * per 4 s, plus the first one and the one after the burst. */
	CHECK(answers <= (int)(elapsed / 4000) + 2);

	/* One more spoke comes online; right after that presence answer a
	 * content change (a spoke's endpoints) must not wait for the
	 * interval. */
	REQUIRE_INT(fx_map(h, &spokes[NBURST], -1, NULL), 200);
	REQUIRE(lpoll_wait(&hp, 1, 10000) == 1);
	t_ans = clock_mono_ms();
	REQUIRE(took_version(&hub, hp));
	lpoll_del(hp);
	REQUIRE((hp = poll_since(h, &hub, hub.version)));
	REQUIRE_INT(fx_endpoints(h, &spokes[0], "203.0.113.9:41641"), 200);
	t_change = clock_mono_ms();
	while (!has_ep && lpoll_wait(&hp, 1, 3000) == 1) {
		json_t *peers = fx_get(lpoll_json(hp), "peers");

		got = true;
		for (size_t i = 0; i < json_array_size(peers); i++)
			has_ep |= fx_has_str(fx_get(json_array_get(peers, i),
						    "endpoints"),
					     "203.0.113.9:41641");
		REQUIRE(took_version(&hub, hp));
		lpoll_del(hp);
		REQUIRE((hp = poll_since(h, &hub, hub.version)));
	}
	printf("content change answered %" PRId64 " ms after it, %" PRId64
	       " ms after the presence answer\n", clock_mono_ms() - t_change,
	       clock_mono_ms() - t_ans);
	CHECK(got && has_ep);
	/* The interval is 4 s; the content answer comes well before. */
	CHECK(clock_mono_ms() - t_ans < 2500);
	lpoll_del(hp);
	CHECK_INT(ih_del(h), 0);
}

#define NSPOKES 1000
#define REG_THREADS 8

struct reg_job {
	pthread_t thread;
	struct ih *h;
	const char *key;
	struct fx_node *nodes;
	size_t from, to;
	size_t ok;
};

static void *register_range(void *arg)
{
	struct reg_job *j = arg;

	for (size_t i = j->from; i < j->to; i++) {
		char name[32];

		snprintf(name, sizeof(name), "spoke-%zu", i);
		j->ok += fx_node_register(j->h, j->key, name, &j->nodes[i]) == 201;
	}
	return NULL;
}

static void thousand_held_polls_all_answer_one_hub_change(void)
{
	struct ih *h = start(NULL);
	struct fx_node hub, *spokes = calloc(NSPOKES, sizeof(*spokes));
	struct lpoll **polls = calloc(NSPOKES, sizeof(*polls));
	struct reg_job jobs[REG_THREADS];
	char kh[FX_KEY_SIZE], ks[FX_KEY_SIZE];
	size_t ok = 0, answered, with_hub = 0;
	int64_t t0, last = 0;

	REQUIRE(h);
	REQUIRE(spokes && polls);
	REQUIRE_INT(fx_policy(h, K, hub_policy, NULL), 200);
	REQUIRE(tag_key(h, "tag:hub", kh) && tag_key(h, "tag:spoke", ks));
	REQUIRE_INT(fx_node_register(h, kh, "hub", &hub), 201);
	for (size_t t = 0; t < REG_THREADS; t++) {
		jobs[t] = (struct reg_job){.h = h, .key = ks, .nodes = spokes,
			.from = t * NSPOKES / REG_THREADS,
			.to = (t + 1) * NSPOKES / REG_THREADS};
		REQUIRE(pthread_create(&jobs[t].thread, NULL, register_range,
				       &jobs[t]) == 0);
	}
	for (size_t t = 0; t < REG_THREADS; t++) {
		pthread_join(jobs[t].thread, NULL);
		ok += jobs[t].ok;
	}
	REQUIRE_INT(ok, NSPOKES);
	settle();
	/* Every node fetches its first map (and goes online), then holds. */
	REQUIRE_INT(fx_map(h, &hub, -1, NULL), 200);
	for (size_t i = 0; i < NSPOKES; i++)
		spokes[i].version = 0;
	REQUIRE(hold_all(h, spokes, polls, NSPOKES, 2500));
	CHECK_INT(lpoll_wait(polls, NSPOKES, 0), 0);

	/* One change to the hub reaches every spoke. */
	REQUIRE_INT(fx_endpoints(h, &hub, "203.0.113.1:41641"), 200);
	t0 = clock_mono_ms();
	answered = lpoll_wait(polls, NSPOKES, 10000);
	for (size_t i = 0; i < NSPOKES; i++) {
		json_t *j = lpoll_json(polls[i]);

		if (!lpoll_done(polls[i]))
			continue;
		if (lpoll_answered_at(polls[i]) > last)
			last = lpoll_answered_at(polls[i]);
		with_hub += lpoll_status(polls[i]) == 200 &&
			    !fx_is_true(j, "full") &&
			    fx_ids_are(fx_get(j, "peers"),
				       (int64_t[]){hub.id, 0}) &&
			    fx_has_str(fx_get(json_array_get(fx_get(j, "peers"), 0),
					      "endpoints"),
				       "203.0.113.1:41641");
	}
	printf("%zu held polls answered in %" PRId64 " ms after one change\n",
	       answered, last - t0);
	CHECK_INT(answered, NSPOKES);
	CHECK_INT(with_hub, NSPOKES);
	CHECK(last - t0 < 5000);
	for (size_t i = 0; i < NSPOKES; i++)
		lpoll_del(polls[i]);
	free(polls);
	free(spokes);
	CHECK_INT(ih_del(h), 0);
}

/* --- compression --- */

struct raw_answer {
	char *body;
	size_t len;
	char encoding[64]; /* Content-Encoding, "" when none */
};

static size_t raw_body(char *p, size_t sz, size_t n, void *ctx)
{
	struct raw_answer *a = ctx;
	char *nb = realloc(a->body, a->len + sz * n + 1);

	if (!nb)
		return 0;
	a->body = nb;
	memcpy(a->body + a->len, p, sz * n);
	a->len += sz * n;
	a->body[a->len] = '\0';
	return sz * n;
}

static size_t raw_header(char *p, size_t sz, size_t n, void *ctx)
{
	struct raw_answer *a = ctx;
	static const char name[] = "content-encoding:";
	size_t len = sz * n;

	if (len > sizeof(name) && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		size_t i = sizeof(name) - 1, k = 0;

		while (i < len && p[i] == ' ')
			i++;
		while (i < len && p[i] != '\r' && p[i] != '\n' &&
		       k + 1 < sizeof(a->encoding))
			a->encoding[k++] = p[i++];
		a->encoding[k] = '\0';
	}
	return len;
}

/* GET path as node n, with "Accept-Encoding: gzip" when gzip is set; the
 * body exactly as it came (libcurl does not decode it). */
static long get_raw(struct ih *h, const struct fx_node *n, const char *path,
		    bool gzip, struct raw_answer *a)
{
	struct curl_slist *hdrs = NULL;
	char url[512], auth[256];
	long st = -1;
	CURL *c = curl_easy_init();

	memset(a, 0, sizeof(*a));
	if (!c)
		return -1;
	snprintf(url, sizeof(url), "%s%s", h->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", n->cred);
	hdrs = curl_slist_append(hdrs, auth);
	if (gzip)
		hdrs = curl_slist_append(hdrs, "Accept-Encoding: gzip");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, raw_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return st;
}

/* Inflates a gzip member; NULL when it is not a valid one. */
static char *gunzip(const char *p, size_t n, size_t *out_len)
{
	z_stream z;
	size_t cap = 4 * n + 1024, len = 0;
	char *out = malloc(cap + 1);
	int rc = Z_OK;

	memset(&z, 0, sizeof(z));
	if (!out || inflateInit2(&z, 16 + 15) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	while (rc == Z_OK) {
		if (len == cap) {
			char *nb = realloc(out, 2 * cap + 1);

			if (!nb)
				break;
			out = nb;
			cap *= 2;
		}
		z.next_out = (Bytef *)out + len;
		z.avail_out = (uInt)(cap - len);
		rc = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
	}
	inflateEnd(&z);
	/* The whole input is one complete member, checksum and length
	 * verified by zlib. */
	if (rc != Z_STREAM_END || z.avail_in != 0) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	*out_len = len;
	return out;
}

static void map_is_gzipped_only_when_the_client_asks(void)
{
	struct ih *h = start(NULL);
	struct fx_node hub, spokes[8];
	struct raw_answer plain, gz, plain2;
	char ks[FX_KEY_SIZE], kh[FX_KEY_SIZE];
	json_t *jp = NULL, *jg = NULL;
	char *inflated = NULL;
	size_t ilen = 0;

	REQUIRE(h);
	REQUIRE_INT(fx_policy(h, K, hub_policy, NULL), 200);
	REQUIRE(tag_key(h, "tag:hub", kh) && tag_key(h, "tag:spoke", ks));
	REQUIRE_INT(fx_node_register(h, kh, "hub", &hub), 201);
	for (int i = 0; i < 8; i++) {
		char name[16];

		snprintf(name, sizeof(name), "spoke-%d", i);
		REQUIRE_INT(fx_node_register(h, ks, name, &spokes[i]), 201);
	}
	settle();
	/* The hub's full map: 8 peers and a filter listing the spokes. */
	REQUIRE_INT(get_raw(h, &hub, "/api/v1/map?since=0", false, &plain), 200);
	REQUIRE_INT(get_raw(h, &hub, "/api/v1/map?since=0", true, &gz), 200);
	REQUIRE_INT(get_raw(h, &hub, "/api/v1/map?since=0", false, &plain2),
		    200);
	printf("map: %zu bytes plain, %zu gzip\n", plain.len, gz.len);
	CHECK_STR(plain.encoding, "");
	CHECK_STR(plain2.encoding, "");
	CHECK_STR(gz.encoding, "gzip");
	CHECK(gz.len < plain.len);
	inflated = gunzip(gz.body, gz.len, &ilen);
	REQUIRE(inflated);
	jp = json_loadb(plain.body, plain.len, 0, NULL);
	jg = json_loadb(inflated, ilen, 0, NULL);
	REQUIRE(jp && jg);
	CHECK(json_array_size(fx_get(jp, "filter")) > 0);
	CHECK(json_array_size(fx_get(jp, "peers")) == 8);
	CHECK(json_equal(jp, jg));
	json_decref(jp);
	json_decref(jg);
	free(inflated);
	free(plain.body);
	free(plain2.body);
	free(gz.body);
	CHECK_INT(ih_del(h), 0);
}

/* --- delta correctness --- */

#define NNODES 20
#define NCHANGES 100
#define MAXNODES 128

static const char policy_a[] =
	"{\"groups\":{\"group:dev\":[\"alice\"],\"group:ops\":[\"bob\",\"carol\"]},"
	"\"tagOwners\":{\"tag:srv\":[],\"tag:db\":[]},"
	"\"acls\":["
	"{\"action\":\"accept\",\"src\":[\"group:dev\"],\"dst\":[\"tag:srv:*\"]},"
	"{\"action\":\"accept\",\"src\":[\"group:ops\"],"
	"\"dst\":[\"group:dev:22\",\"tag:db:5432\"]}]}";

static const char policy_b[] =
	"{\"groups\":{\"group:dev\":[\"alice\",\"bob\"],\"group:ops\":[\"carol\"]},"
	"\"tagOwners\":{\"tag:srv\":[],\"tag:db\":[]},"
	"\"acls\":["
	"{\"action\":\"accept\",\"src\":[\"group:ops\"],\"dst\":[\"tag:srv:443\"]},"
	"{\"action\":\"accept\",\"proto\":\"udp\",\"src\":[\"group:dev\"],"
	"\"dst\":[\"group:ops:*\",\"tag:db:53\"]}]}";

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
	/* xorshift64*: reproducible from the printed seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * 2685821657736338717ULL) % n;
}

static int peer_cmp(const void *a, const void *b)
{
	int64_t x = fx_int(*(json_t *const *)a, "id");
	int64_t y = fx_int(*(json_t *const *)b, "id");

	return x < y ? -1 : x > y;
}

/* The parts of a map a client keeps, with peers sorted by id. */
static json_t *canon(const json_t *m)
{
	static const char *const keys[] = {"self", "filter", "dns", "relays"};
	json_t *o = json_object(), *peers = json_array();
	json_t *v[MAXNODES * 2];
	size_t n = 0;

	for (size_t i = 0; i < 4; i++)
		json_object_set(o, keys[i], fx_get(m, keys[i]));
	for (size_t i = 0; i < json_array_size(fx_get(m, "peers")) &&
			   n < MAXNODES * 2; i++)
		v[n++] = json_array_get(fx_get(m, "peers"), i);
	qsort(v, n, sizeof(v[0]), peer_cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append(peers, v[i]);
	json_object_set_new(o, "peers", peers);
	return o;
}

/* Applies a map answer to the client's copy (replaced by a full map). */
static void apply(json_t **copy, const json_t *ans, int *deltas)
{
	static const char *const keys[] = {"self", "filter", "dns", "relays"};
	json_t *peers;
	size_t i;

	if (fx_is_true(ans, "full")) {
		json_decref(*copy);
		*copy = canon(ans);
		return;
	}
	(*deltas)++;
	for (i = 0; i < 4; i++)
		if (fx_get(ans, keys[i]))
			json_object_set(*copy, keys[i], fx_get(ans, keys[i]));
	peers = json_object_get(*copy, "peers");
	for (i = 0; i < json_array_size(fx_get(ans, "peers")); i++) {
		json_t *p = json_array_get(fx_get(ans, "peers"), i);
		int64_t id = fx_int(p, "id");
		size_t k;

		for (k = 0; k < json_array_size(peers); k++)
			if (fx_int(json_array_get(peers, k), "id") == id)
				break;
		if (k < json_array_size(peers))
			json_array_set(peers, k, p);
		else
			json_array_append(peers, p);
	}
	for (i = 0; i < json_array_size(fx_get(ans, "peers_removed")); i++) {
		int64_t id = json_integer_value(
			json_array_get(fx_get(ans, "peers_removed"), i));

		for (size_t k = 0; k < json_array_size(peers); k++)
			if (fx_int(json_array_get(peers, k), "id") == id) {
				json_array_remove(peers, k);
				break;
			}
	}
	{
		json_t *c = canon(*copy);

		json_decref(*copy);
		*copy = c;
	}
}

struct world {
	struct ih *h;
	struct fx_node nodes[MAXNODES];
	bool live[MAXNODES];
	bool user_owned[MAXNODES];
	size_t n;
	char keys[4][FX_KEY_SIZE]; /* alice, bob, carol, tag:srv */
	int registered;
};

static bool add_node(struct world *w, size_t key)
{
	char name[32];

	if (w->n == MAXNODES)
		return false;
	snprintf(name, sizeof(name), "node-%d", w->registered++);
	if (fx_node_register(w->h, w->keys[key], name, &w->nodes[w->n]) != 201)
		return false;
	w->live[w->n] = true;
	w->user_owned[w->n] = key < 3;
	w->n++;
	return true;
}

/* A random live node other than the watched node 0 (or 0 itself when
 * self_ok). */
static size_t pick(struct world *w, bool self_ok)
{
	for (;;) {
		size_t i = (size_t)rnd(w->n);

		if (w->live[i] && (self_ok || i != 0))
			return i;
	}
}

/* Makes one random change through the API; returns its description. */
static const char *change(struct world *w, int step, bool *policy_b_on)
{
	struct ih *h = w->h;
	char path[64], body[128];
	uint64_t r = rnd(100);
	size_t i;
	long st;

	if (r < 30) {
		i = pick(w, true);
		snprintf(body, sizeof(body), "198.51.100.%d:%d", step % 250 + 1,
			 40000 + step);
		st = fx_endpoints(h, &w->nodes[i], body);
		CHECK_INT(st, 200);
		return "endpoints";
	}
	if (r < 45) {
		i = pick(w, true);
		snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64,
			 w->nodes[i].id);
		snprintf(body, sizeof(body), "{\"name\":\"renamed-%d\"}", step);
		CHECK_INT(fx_req(h, "PATCH", path, K, body, NULL), 200);
		return "rename";
	}
	if (r < 60) {
		static const char *const tags[] = {"[]", "[\"tag:srv\"]",
						   "[\"tag:db\"]"};

		i = pick(w, true);
		if (!w->user_owned[i])
			return change(w, step, policy_b_on);
		snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64,
			 w->nodes[i].id);
		snprintf(body, sizeof(body), "{\"tags\":%s}", tags[rnd(3)]);
		CHECK_INT(fx_req(h, "PATCH", path, K, body, NULL), 200);
		return "retag";
	}
	if (r < 70) {
		size_t live = 0;

		for (size_t k = 0; k < w->n; k++)
			live += w->live[k];
		if (live > 5) {
			i = pick(w, false);
			snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64,
				 w->nodes[i].id);
			CHECK_INT(fx_req(h, "DELETE", path, K, NULL, NULL), 204);
			w->live[i] = false;
			return "delete";
		}
	}
	if (r < 85) {
		CHECK(add_node(w, (size_t)rnd(4)));
		return "register";
	}
	*policy_b_on = !*policy_b_on;
	CHECK_INT(fx_policy(h, K, *policy_b_on ? policy_b : policy_a, NULL),
		  200);
	return "policy";
}

/* Applies every answer the watched node's poll gets until it stays
 * quiet for quiet_ms; leaves a new held poll in *p. */
static void drain(struct world *w, struct lpoll **p, json_t **copy,
		  int64_t quiet_ms, int *deltas)
{
	while (*p && wait_one(*p, quiet_ms)) {
		if (!CHECK(took_version(&w->nodes[0], *p)))
			return;
		apply(copy, lpoll_json(*p), deltas);
		lpoll_del(*p);
		*p = poll_since(w->h, &w->nodes[0], w->nodes[0].version);
	}
}

/* True when copy equals a fresh full map of the watched node. */
static bool matches_full_map(struct world *w, const json_t *copy, int step)
{
	struct fx_node me = w->nodes[0];
	json_t *full = NULL, *c;
	bool eq;

	if (fx_map(w->h, &me, 0, &full) != 200) {
		json_decref(full);
		return false;
	}
	c = canon(full);
	eq = json_equal(c, copy);
	if (!eq) {
		char *a = json_dumps(copy, JSON_SORT_KEYS);
		char *b = json_dumps(c, JSON_SORT_KEYS);

		fprintf(stderr, "after change %d:\n delta copy: %s\n full map:   %s\n",
			step, a, b);
		free(a);
		free(b);
	}
	json_decref(c);
	json_decref(full);
	return eq;
}

static void deltas_applied_by_a_client_equal_a_fresh_full_map(void)
{
	static struct world w;
	struct ih *h = start(NULL);
	struct lpoll *p = NULL;
	json_t *copy = NULL, *first = NULL;
	const char *seed_env = getenv("WEFT_TEST_SEED");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : 20261121;
	bool on_b = false;
	int deltas = 0, kinds[6] = {0};
	int64_t uid;

	REQUIRE(h);
	memset(&w, 0, sizeof(w));
	w.h = h;
	rng_state = seed ? seed : 1;
	printf("seed %" PRIu64 " (set WEFT_TEST_SEED to repeat)\n", seed);
	for (int u = 0; u < 3; u++) {
		static const char *const names[] = {"alice", "bob", "carol"};
		char body[96];

		uid = fx_user(h, K, names[u], NULL);
		REQUIRE(uid > 0);
		snprintf(body, sizeof(body),
			 "{\"user_id\":%" PRId64 ",\"reusable\":true}", uid);
		REQUIRE(fx_authkey(h, K, body, w.keys[u]) > 0);
	}
	REQUIRE(tag_key(h, "tag:srv", w.keys[3]));
	REQUIRE_INT(fx_policy(h, K, policy_a, NULL), 200);
	/* Node 0, alice's, is the one watched. */
	REQUIRE(add_node(&w, 0));
	for (int i = 1; i < NNODES; i++)
		REQUIRE(add_node(&w, (size_t)(i % 4)));
	settle();
	REQUIRE_INT(fx_map(h, &w.nodes[0], -1, &first), 200);
	copy = canon(first);
	json_decref(first);
	p = poll_since(h, &w.nodes[0], w.nodes[0].version);
	REQUIRE(p);
	for (int step = 1; step <= NCHANGES; step++) {
		const char *what = change(&w, step, &on_b);

		kinds[what[0] == 'e'   ? 0
		      : what[0] == 'r' && what[2] == 'n' ? 1
		      : what[0] == 'r' && what[2] == 't' ? 2
		      : what[0] == 'd' ? 3
		      : what[0] == 'r' ? 4 : 5]++;
		drain(&w, &p, &copy, 150, &deltas);
		if (step % 10 == 0) {
			/* Let late answers in, then compare. */
			drain(&w, &p, &copy, 1200, &deltas);
			if (!CHECK(matches_full_map(&w, copy, step)))
				break;
		}
	}
	printf("changes: %d endpoints, %d renames, %d retags, %d deletes, "
	       "%d registrations, %d policy swaps; %d delta answers\n",
	       kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5],
	       deltas);
	CHECK(deltas >= 20);
	CHECK(kinds[3] > 0 && kinds[5] > 0);
	lpoll_del(p);
	json_decref(copy);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(first_map_is_full_and_a_held_poll_wakes_only_for_its_peers),
	CHECK_CASE(poll_since_zero_or_a_future_version_gets_a_full_map),
	CHECK_CASE(keepalive_answers_the_same_version_without_changes),
	CHECK_CASE(deleting_a_node_ends_its_poll_with_410_and_removes_it_from_peers),
	CHECK_CASE(a_polling_node_shows_online),
	CHECK_CASE(a_node_that_stops_polling_goes_offline_and_peers_are_told),
	CHECK_CASE(peers_coming_online_wake_a_held_poll_at_most_once_per_interval),
	CHECK_CASE(thousand_held_polls_all_answer_one_hub_change),
	CHECK_CASE(deltas_applied_by_a_client_equal_a_fresh_full_map),
	CHECK_CASE(map_is_gzipped_only_when_the_client_asks),
	CHECK_CASE(controller_stops_cleanly_after_a_held_client_went_away),
	{0},
};

int main(int argc, char **argv)
{
	struct rlimit rl;

	/* A thousand held polls need a socket each here and in the
	 * controller, which inherits this limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return check_main(argc, argv, cases);
}
