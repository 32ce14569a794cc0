/* Controller replicas: two `weft-controller serve` processes on one
 * PostgreSQL database (issue 17). A held poll on one replica learns of
 * changes made through the other; a poller whose replica is killed resumes
 * on the other with a delta; housekeeping leadership is held by exactly
 * one replica and moves when it dies; a LISTEN connection cut by the
 * server loses no change; a replica whose LISTEN connection cannot be had
 * is not ready but still correct; sessions made on one replica work on the
 * other. On SQLite: a second serve on one database refuses to start while
 * the admin CLI keeps working. */
#include "check.h"
#include "fx.h"
#include "ih.h"
#include "lpoll.h"
#include "shared/clock.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define K (a->bootstrap_key)
#define EP "192.0.2.7:41641"

static const char spoke_policy[] =
	"{\"tagOwners\":{\"tag:hub\":[],\"tag:spoke\":[]},"
	"\"acls\":[{\"action\":\"accept\",\"src\":[\"tag:spoke\"],"
	"\"dst\":[\"tag:hub:*\"]}]}";
/* Same tags, no rule: nobody is anybody's peer. */
static const char closed_policy[] =
	"{\"tagOwners\":{\"tag:hub\":[],\"tag:spoke\":[]},\"acls\":[]}";

static bool skip_unless_pg(void)
{
	if (ih_backend_is_pg())
		return false;
	printf("skipped: replicas need PostgreSQL\n");
	return true;
}

static bool tag_key(struct ih *h, const char *tag, char key[FX_KEY_SIZE])
{
	char body[128];

	snprintf(body, sizeof(body), "{\"reusable\":true,\"tags\":[\"%s\"]}",
		 tag);
	return fx_authkey(h, h->bootstrap_key, body, key) > 0;
}

static struct lpoll *poll_since(struct ih *h, const struct fx_node *n,
				int64_t since)
{
	return lpoll_map(h, n->cred, since);
}

/* Polls n on h since its version until a poll is held (the answers before
 * it are changes still settling: nodes going online). Returns the held
 * poll or NULL. */
static struct lpoll *hold(struct ih *h, struct fx_node *n)
{
	for (int i = 0; i < 20; i++) {
		struct lpoll *p = poll_since(h, n, n->version);

		if (!p)
			return NULL;
		if (lpoll_wait(&p, 1, 600) == 0)
			return p;
		if (lpoll_status(p) != 200) {
			lpoll_del(p);
			return NULL;
		}
		n->version = fx_int(lpoll_json(p), "version");
		lpoll_del(p);
	}
	return NULL;
}

/* Does the peer list of map m hold id? */
static bool has_peer(const json_t *m, int64_t id)
{
	return fx_has_id(fx_get(m, "peers"), id);
}

/* Does the peers_removed list (of ids) of map m hold id? */
static bool removed_peer(const json_t *m, int64_t id)
{
	const json_t *arr = fx_get(m, "peers_removed");

	for (size_t i = 0; i < json_array_size(arr); i++)
		if (json_integer_value(json_array_get(arr, i)) == id)
			return true;
	return false;
}

/* Does peer id of map m list endpoint ep? */
static bool peer_has_endpoint(const json_t *m, int64_t id, const char *ep)
{
	const json_t *peers = fx_get(m, "peers");

	for (size_t i = 0; i < json_array_size(peers); i++) {
		const json_t *p = json_array_get(peers, i);

		if (fx_int(p, "id") == id)
			return fx_has_str(fx_get(p, "endpoints"), ep);
	}
	return false;
}

/* Waits for p (a held poll of n on h) and the polls after it until an
 * answer removes peer id, within ms. Every answer must be a delta. */
static bool await_removal(struct ih *h, struct fx_node *n, struct lpoll *p,
			  int64_t id, int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;
	bool seen = false;

	while (p && lpoll_wait(&p, 1, end - clock_mono_ms()) == 1 &&
	       lpoll_status(p) == 200 && !fx_is_true(lpoll_json(p), "full")) {
		n->version = fx_int(lpoll_json(p), "version");
		seen = removed_peer(lpoll_json(p), id);
		lpoll_del(p);
		p = seen ? NULL : poll_since(h, n, n->version);
	}
	lpoll_del(p);
	return seen;
}

/* Hub policy set through a; a hub node and a spoke node registered
 * through a. */
static bool hub_and_spoke(struct ih *a, struct fx_node *hub,
			  struct fx_node *spoke, char ks[FX_KEY_SIZE])
{
	char kh[FX_KEY_SIZE];

	return fx_policy(a, K, spoke_policy, NULL) == 200 &&
	       tag_key(a, "tag:hub", kh) && tag_key(a, "tag:spoke", ks) &&
	       fx_node_register(a, kh, "hub", hub) == 201 &&
	       fx_node_register(a, ks, "spoke", spoke) == 201;
}

static struct ih *replica(struct ih *a, const char *const *args)
{
	struct ih *b = NULL;

	if (ih_replica(a, &(struct ih_opts){.serve_args = args}, &b) < 0)
		return NULL;
	return b;
}

/* Starts a (on a fresh database) and its replica b. */
static bool pair(struct ih **a, struct ih **b, const char *const *args)
{
	*b = NULL;
	if (ih_new(NULL, a) < 0)
		return false;
	*b = replica(*a, args);
	return *b != NULL;
}

/* pair() with the hub policy and a hub and a spoke node (through a). */
static bool pair_with_nodes(struct ih **a, struct ih **b,
			    struct fx_node *hub, struct fx_node *spoke,
			    char ks[FX_KEY_SIZE])
{
	return pair(a, b, NULL) && hub_and_spoke(*a, hub, spoke, ks);
}

static bool same_version(struct ih *a, struct ih *b, struct fx_node *n)
{
	for (int i = 0; i < 20; i++) {
		int64_t va, vb;

		usleep(200 * 1000);
		if (fx_map(a, n, 0, NULL) != 200)
			return false;
		va = n->version;
		if (fx_map(b, n, 0, NULL) != 200)
			return false;
		vb = n->version;
		if (va == vb)
			return true;
	}
	return false;
}


static void a_change_through_a_reaches_polls_on_a_and_b_promptly(void)
{
	struct ih *a = NULL, *b = NULL;
	struct fx_node hub, spoke, late;
	struct lpoll *pa, *pb;
	char ks[FX_KEY_SIZE];
	int64_t t0, took;
	json_t *m;

	if (skip_unless_pg())
		return;
	REQUIRE(pair_with_nodes(&a, &b, &hub, &spoke, ks));
	/* The hub polls B; a spoke registered through A shows up there. */
	REQUIRE_INT(fx_map(b, &hub, 0, NULL), 200);
	REQUIRE((pb = hold(b, &hub)) != NULL);
	t0 = clock_mono_ms();
	REQUIRE_INT(fx_node_register(a, ks, "late", &late), 201);
	CHECK_INT(lpoll_wait(&pb, 1, 5000), 1);
	took = clock_mono_ms() - t0;
	m = lpoll_json(pb);
	CHECK_INT(lpoll_status(pb), 200);
	CHECK(fx_is_true(m, "full") == false);
	CHECK(has_peer(m, late.id));
	printf("registration through A reached a poll on B in %" PRId64
	       " ms\n", took);
	/* LISTEN/NOTIFY, not the 2 s fallback poll. */
	CHECK(took < 1000);
	hub.version = fx_int(m, "version");
	lpoll_del(pb);

	/* A policy edit through A wakes the hub on A and the spoke on B. */
	REQUIRE_INT(fx_map(a, &spoke, 0, NULL), 200);
	REQUIRE((pa = hold(a, &hub)) != NULL);
	REQUIRE((pb = hold(b, &spoke)) != NULL);
	t0 = clock_mono_ms();
	REQUIRE_INT(fx_policy(a, K, closed_policy, NULL), 200);
	CHECK(await_removal(a, &hub, pa, spoke.id, 5000));
	CHECK(await_removal(b, &spoke, pb, hub.id, 5000));
	took = clock_mono_ms() - t0;
	printf("policy edit through A reached polls on A and B in %" PRId64
	       " ms\n", took);
	CHECK(took < 1000);
	/* Versions are the database's, not the process's: once both
	 * replicas applied the feed, they give one node the same version. */
	CHECK(same_version(a, b, &hub));
	printf("policy edit through A reached polls on A and B in %" PRId64
	       " ms\n", took);
	CHECK(took < 1000);
	CHECK_INT(ih_del(b), 0);
	CHECK_INT(ih_del(a), 0);
}

static void a_poller_of_a_killed_replica_resumes_on_b_with_a_delta(void)
{
	struct ih *a = NULL, *b = NULL;
	struct fx_node hub, spoke, late;
	struct lpoll *p;
	char ks[FX_KEY_SIZE];
	int64_t t0, took;
	bool seen_ep = false, seen_late = false;
	int deltas = 0, fulls = 0;

	if (skip_unless_pg())
		return;
	REQUIRE(pair_with_nodes(&a, &b, &hub, &spoke, ks));
	REQUIRE_INT(fx_map(a, &hub, 0, NULL), 200);
	REQUIRE((p = hold(a, &hub)) != NULL);
	/* A change through A that the held poll may or may not see before
	 * A dies, then kill -9 A. */
	REQUIRE_INT(fx_endpoints(a, &spoke, EP), 200);
	REQUIRE_INT(ih_signal(a, SIGKILL), 0);
	t0 = clock_mono_ms();
	CHECK_INT(lpoll_wait(&p, 1, 5000), 1);
	if (lpoll_status(p) == 200) { /* the endpoint change won the race */
		hub.version = fx_int(lpoll_json(p), "version");
		seen_ep = peer_has_endpoint(lpoll_json(p), spoke.id, EP);
	}
	lpoll_del(p);
	/* Changes keep coming through B while A is dead. */
	REQUIRE_INT(fx_node_register(b, ks, "late", &late), 201);
	/* The poller now polls B from the version A gave it, as long as it
	 * takes B to apply the registration: deltas only, and together
	 * they hold both changes. */
	while (!seen_late && clock_mono_ms() - t0 < 5000) {
		json_t *m = NULL;

		if (fx_map(b, &hub, hub.version, &m) != 200)
			break;
		deltas += !fx_is_true(m, "full");
		fulls += fx_is_true(m, "full");
		seen_late = has_peer(m, late.id);
		seen_ep = seen_ep || peer_has_endpoint(m, spoke.id, EP);
		json_decref(m);
	}
	took = clock_mono_ms() - t0;
	printf("poller resumed on B %" PRId64 " ms after A died: %d deltas, "
	       "%d full maps\n", took, deltas, fulls);
	CHECK(seen_late);
	CHECK(seen_ep);
	CHECK_INT(fulls, 0);
	CHECK(took < 5000);
	CHECK_INT(ih_del(b), 0);
	ih_del(a); /* 137: killed */
}

static void a_client_a_moment_ahead_of_b_gets_a_delta_there(void)
{
	static const char *const args[] = {"--poll-keepalive", "1s", NULL};
	struct ih *a = NULL, *b = NULL;
	struct fx_node hub, spoke, more;
	char ks[FX_KEY_SIZE], name[16];
	int fulls = 0;

	if (skip_unless_pg())
		return;
	REQUIRE(pair(&a, &b, args));
	REQUIRE(hub_and_spoke(a, &hub, &spoke, ks));
	REQUIRE_INT(fx_map(a, &hub, 0, NULL), 200);
	/* A load balancer alternating between replicas: the version A just
	 * gave may be one B's feed read has not reached yet. */
	for (int i = 0; i < 10; i++) {
		json_t *m = NULL;

		snprintf(name, sizeof(name), "more%d", i);
		REQUIRE_INT(fx_node_register(a, ks, name, &more), 201);
		REQUIRE_INT(fx_map(a, &hub, hub.version, NULL), 200);
		REQUIRE_INT(fx_map(b, &hub, hub.version, &m), 200);
		fulls += fx_is_true(m, "full");
		json_decref(m);
	}
	CHECK_INT(fulls, 0);
	CHECK_INT(ih_del(b), 0);
	CHECK_INT(ih_del(a), 0);
}

static bool leads(struct ih *h)
{
	json_t *j = NULL;
	bool yes = false;

	if (h->pid > 0 && fx_req(h, "GET", "/api/v1/status",
				 h->bootstrap_key, NULL, &j) == 200)
		yes = fx_is_true(j, "leader");
	json_decref(j);
	return yes;
}

/* Waits up to ms for exactly one of a, b to lead; returns it or NULL. */
static struct ih *leader_of(struct ih *a, struct ih *b, int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;

	do {
		bool la = leads(a), lb = leads(b);

		if (la != lb)
			return la ? a : b;
		usleep(100 * 1000);
	} while (clock_mono_ms() < end);
	return NULL;
}

static bool metric_is(struct ih *h, const char *line)
{
	char *text = NULL;
	long st = 0;
	bool yes;

	if (ih_call_raw(h, "GET", "/metrics", NULL, NULL, 0, &st, &text,
			NULL) < 0)
		return false;
	yes = st == 200 && strstr(text, line) != NULL;
	free(text);
	return yes;
}

static void housekeeping_leads_on_one_replica_and_moves_when_it_dies(void)
{
	struct ih *a = NULL, *b = NULL, *first, *next;
	int64_t t0, took;

	if (skip_unless_pg())
		return;
	REQUIRE(pair(&a, &b, NULL));
	REQUIRE((first = leader_of(a, b, 5000)) != NULL);
	/* It stays that way. */
	usleep(1500 * 1000);
	CHECK(leader_of(a, b, 0) == first);
	CHECK(metric_is(first, "\nweft_leader 1\n"));
	CHECK(metric_is(first == a ? b : a, "\nweft_leader 0\n"));
	REQUIRE_INT(ih_signal(first, SIGKILL), 0);
	t0 = clock_mono_ms();
	next = leader_of(a, b, 10000);
	took = clock_mono_ms() - t0;
	CHECK(next != NULL && next != first);
	printf("leadership moved %" PRId64 " ms after the leader died\n",
	       took);
	CHECK(took < 5000);
	if (first == a) {
		CHECK_INT(ih_del(b), 0);
		ih_del(a);
	} else {
		/* a owns the database: b dies first, a is stopped last. */
		ih_del(b);
		CHECK_INT(ih_del(a), 0);
	}
}

static bool log_has(const struct ih *h, const char *what)
{
	char *log = NULL;
	bool yes;

	if (ih_read_file(h->log_path, &log) < 0)
		return false;
	yes = strstr(log, what) != NULL;
	free(log);
	return yes;
}

static void a_terminated_listen_connection_loses_no_change(void)
{
	struct ih *a = NULL, *b = NULL;
	struct fx_node hub, spoke, late;
	struct lpoll *p;
	char ks[FX_KEY_SIZE], sql[256];
	long st = 0;

	if (skip_unless_pg())
		return;
	REQUIRE(pair_with_nodes(&a, &b, &hub, &spoke, ks));
	REQUIRE_INT(fx_map(b, &hub, 0, NULL), 200);
	REQUIRE((p = hold(b, &hub)) != NULL);
	snprintf(sql, sizeof(sql),
		 "DO $$ BEGIN PERFORM pg_terminate_backend(pid) FROM "
		 "pg_stat_activity WHERE application_name = "
		 "'weft-controller/%d/listen'; END $$",
		 (int)b->pid);
	REQUIRE_INT(fx_sql(a, sql), 0);
	/* Committed while B may have no LISTEN connection. */
	REQUIRE_INT(fx_node_register(a, ks, "late", &late), 201);
	CHECK_INT(lpoll_wait(&p, 1, 5000), 1);
	CHECK_INT(lpoll_status(p), 200);
	CHECK(has_peer(lpoll_json(p), late.id));
	lpoll_del(p);
	/* B noticed, came back, and is ready again. */
	for (int i = 0; i < 50 && !log_has(b, "listen_restored"); i++)
		usleep(100 * 1000);
	CHECK(log_has(b, "listen_lost"));
	CHECK(log_has(b, "listen_restored"));
	CHECK_INT(fx_req(b, "GET", "/readyz", NULL, NULL, NULL), 200);
	(void)st;
	CHECK_INT(ih_del(b), 0);
	CHECK_INT(ih_del(a), 0);
}

static void a_replica_without_its_listen_connection_is_not_ready(void)
{
	static const char *const args[] = {
		"--listen-dsn", "postgresql:///nosuchdb?host=127.0.0.1&port=1",
		NULL};
	struct ih *a = NULL, *b = NULL;
	struct fx_node hub, spoke, late;
	json_t *m = NULL;
	char ks[FX_KEY_SIZE];

	if (skip_unless_pg())
		return;
	REQUIRE(pair(&a, &b, args));
	CHECK_INT(fx_req(a, "GET", "/readyz", NULL, NULL, NULL), 200);
	CHECK_INT(fx_req(b, "GET", "/readyz", NULL, NULL, NULL), 503);
	CHECK(metric_is(b, "\nweft_feed_listen_up 0\n"));
	CHECK(metric_is(a, "\nweft_feed_listen_up 1\n"));
	/* Its session lock uses the same DSN: never the leader. */
	CHECK(leader_of(a, b, 3000) == a);
	/* Still correct through the fallback poll of the feed. */
	REQUIRE(hub_and_spoke(a, &hub, &spoke, ks));
	REQUIRE_INT(fx_node_register(a, ks, "late", &late), 201);
	usleep(2500 * 1000);
	REQUIRE_INT(fx_map(b, &hub, 0, &m), 200);
	CHECK(has_peer(m, late.id));
	json_decref(m);
	CHECK_INT(ih_del(b), 0);
	CHECK_INT(ih_del(a), 0);
}

static void a_session_and_an_api_key_made_on_a_work_on_b(void)
{
	struct ih *a = NULL, *b = NULL;
	char body[256], sc[512], cookie[256], ka[160], kb[160];
	const char *hdrs[2] = {NULL, NULL};
	char *text = NULL, *hd = NULL, *p;
	json_t *j = NULL;
	long st = 0;
	int64_t uid;

	if (skip_unless_pg())
		return;
	REQUIRE(pair(&a, &b, NULL));
	uid = fx_user(a, K, "alice", "admin");
	REQUIRE(uid > 0);
	snprintf(body, sizeof(body), "{\"password\":\"correct horse 1\"}");
	snprintf(sc, sizeof(sc), "/api/v1/users/%" PRId64 "/password", uid);
	REQUIRE_INT(fx_req(a, "PUT", sc, K, body, NULL), 204);
	snprintf(body, sizeof(body),
		 "{\"user\":\"alice\",\"password\":\"correct horse 1\"}");
	REQUIRE(ih_call_headers(a, "POST", "/api/v1/session", NULL, body, &st,
				&text, &hd) == 0);
	REQUIRE_INT(st, 201);
	p = hd ? strcasestr(hd, "\nSet-Cookie: ") : NULL;
	REQUIRE(p != NULL);
	p += strlen("\nSet-Cookie: ");
	snprintf(cookie, sizeof(cookie), "Cookie: %.*s", (int)strcspn(p, ";\r\n"),
		 p);
	free(text);
	free(hd);
	text = NULL;
	hdrs[0] = cookie;
	REQUIRE(ih_call_headers(b, "GET", "/api/v1/session", hdrs, NULL, &st,
				&text, NULL) == 0);
	CHECK_INT(st, 200);
	CHECK(text && strstr(text, "alice"));
	free(text);
	/* The bootstrap key was made by A; B takes it too. */
	CHECK_INT(fx_req(b, "GET", "/api/v1/users", K, NULL, &j), 200);
	json_decref(j);
	/* One relay signing key: both replicas hand out the same public
	 * key, so a relay token signed by either verifies. */
	REQUIRE_INT(fx_req(a, "GET", "/api/v1/relay-key", K, NULL, &j), 200);
	snprintf(ka, sizeof(ka), "%s", fx_str(j, "public_key") ? fx_str(j, "public_key") : "a");
	json_decref(j);
	REQUIRE_INT(fx_req(b, "GET", "/api/v1/relay-key", K, NULL, &j), 200);
	snprintf(kb, sizeof(kb), "%s", fx_str(j, "public_key") ? fx_str(j, "public_key") : "b");
	json_decref(j);
	CHECK_STR(ka, kb);
	CHECK_INT(ih_del(b), 0);
	CHECK_INT(ih_del(a), 0);
}

static void a_second_serve_on_one_sqlite_database_refuses(void)
{
	struct ih *a = NULL;
	char *out = NULL;
	int status = -1;

	if (ih_backend_is_pg()) {
		printf("skipped: SQLite only\n");
		return;
	}
	REQUIRE(ih_new(NULL, &a) == 0);
	REQUIRE_INT(ih_cli(a, &out, &status, "serve", NULL, "--listen",
			   "127.0.0.1:0", NULL), 0);
	free(out);
	CHECK_INT(status, 1);
	CHECK(log_has(a, "another weft-controller serve (pid"));
	CHECK(log_has(a, "is using this SQLite database"));
	/* The admin CLI still works on the same database. */
	out = NULL;
	REQUIRE_INT(ih_cli(a, &out, &status, "users", "list", NULL), 0);
	CHECK_INT(status, 0);
	free(out);
	/* And the running serve is unaffected. */
	CHECK_INT(fx_req(a, "GET", "/readyz", NULL, NULL, NULL), 200);
	CHECK_INT(ih_del(a), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(a_change_through_a_reaches_polls_on_a_and_b_promptly),
	CHECK_CASE(a_poller_of_a_killed_replica_resumes_on_b_with_a_delta),
	CHECK_CASE(a_client_a_moment_ahead_of_b_gets_a_delta_there),
	CHECK_CASE(housekeeping_leads_on_one_replica_and_moves_when_it_dies),
	CHECK_CASE(a_terminated_listen_connection_loses_no_change),
	CHECK_CASE(a_replica_without_its_listen_connection_is_not_ready),
	CHECK_CASE(a_session_and_an_api_key_made_on_a_work_on_b),
	CHECK_CASE(a_second_serve_on_one_sqlite_database_refuses),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
