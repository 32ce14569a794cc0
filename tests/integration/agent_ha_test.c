/* weft-agent with several controller URLs (agent/ctlset.c): it uses the
 * first that answers, and when the one in use dies (kill -9) it moves to
 * another replica on the same PostgreSQL database, resumes its map there
 * with a delta and gets the changes made through that replica. Agents run
 * with --no-tun (no root). */
#include "ag.h"
#include "check.h"
#include "fx.h"
#include "ih.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Policies over tag:ha: everyone may reach everyone, or nobody. */
#define HA_POLICY(acls) \
	"{\"tagOwners\":{\"tag:ha\":[]},\"acls\":[" acls "]}"
#define HA_ALLOW "{\"action\":\"accept\",\"src\":[\"tag:ha\"]," \
	"\"dst\":[\"tag:ha:*\"]}"
#define HA_KEY "{\"reusable\":true,\"tags\":[\"tag:ha\"]}"

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is a running and reachable on the controller URL want? */
static bool on_url(struct ag *a, const char *want, json_t *j)
{
	const char *state = fx_str(j, "state");
	const char *url = fx_str(j, "controller.url");

	(void)a;
	return state && strcmp(state, "running") == 0 &&
	       fx_is_true(j, "controller.reachable") && url &&
	       strcmp(url, want) == 0;
}

/* Has a exactly the number of peers want points to? */
static bool has_npeers(struct ag *a, const char *want, json_t *j)
{
	(void)a;
	return json_array_size(json_object_get(j, "peers")) ==
	       (size_t)atoi(want);
}

/* Runs `weft-agent cmd --json` until ok says yes of its answer; returns
 * the ms it took, or -1 after timeout_ms. */
static int64_t wait_for(struct ag *a, const char *cmd,
			bool (*ok)(struct ag *, const char *, json_t *),
			const char *want, int64_t timeout_ms)
{
	int64_t t0 = mono_ms();

	do {
		json_t *j = NULL;
		bool yes = ag_cli(a, cmd, &j) == 0 && ok(a, want, j);

		json_decref(j);
		if (yes)
			return mono_ms() - t0;
		usleep(20000);
	} while (mono_ms() - t0 < timeout_ms);
	return -1;
}

#define wait_on(a, url, ms) wait_for(a, "status", on_url, url, ms)
#define wait_npeers(a, n, ms) wait_for(a, "peers", has_npeers, #n, ms)

/* How often a's log says it applied a full map. */
static int full_maps(struct ag *a)
{
	char *log = ag_log(a), *p = log;
	int n = 0;

	while (p && (p = strstr(p, "event=map_applied"))) {
		char *eol = strchr(p, '\n');

		if (strstr(p, "full=true") &&
		    (!eol || strstr(p, "full=true") < eol))
			n++;
		p = eol ? eol : p + 1;
	}
	free(log);
	return n;
}

static void a_dead_first_url_is_skipped(void)
{
	char key[FX_KEY_SIZE];
	struct ih *h = NULL, dead = {0};
	const char *extra[] = {"--controller", NULL, NULL};
	struct ag *a = NULL;
	int64_t t0 = mono_ms();

	REQUIRE_INT(ih_new(NULL, &h), 0);
	REQUIRE(fx_authkey(h, h->bootstrap_key, HA_KEY, key) > 0);
	/* Nothing listens on port 1: connection refused. */
	snprintf(dead.url, sizeof(dead.url), "http://127.0.0.1:1");
	extra[1] = h->url;
	REQUIRE_INT(ag_start(&dead, "alpha", key, extra, &a), 0);
	if (!CHECK(wait_on(a, h->url, 10000) >= 0))
		ag_dump_log(a);
	fprintf(stderr, "# registered through the second URL after %lld "
		"ms\n", (long long)(mono_ms() - t0));
	CHECK_INT(ag_del(a), 0);
	/* Restarted, it finds its credential (saved for the second URL)
	 * good for the list. */
	REQUIRE_INT(ag_start(&dead, "alpha", NULL, extra, &a), 0);
	if (!CHECK(wait_on(a, h->url, 10000) >= 0))
		ag_dump_log(a);
	CHECK_INT(ag_del(a), 0);
	ih_del(h);
}

static void the_agent_moves_to_another_replica_when_its_controller_dies(void)
{
	char key[FX_KEY_SIZE];
	struct ih *a_ctl = NULL, *b_ctl = NULL;
	const char *extra[] = {"--controller", NULL, NULL};
	struct ag *alpha = NULL, *beta = NULL;
	int64_t moved, took, t0;
	int fulls;

	if (!ih_backend_is_pg()) {
		fprintf(stderr, "# skipped: replicas share a PostgreSQL "
				"database\n");
		return;
	}
	REQUIRE_INT(ih_new(NULL, &a_ctl), 0);
	REQUIRE_INT(fx_policy(a_ctl, a_ctl->bootstrap_key, HA_POLICY(""), NULL),
		    200);
	REQUIRE(fx_authkey(a_ctl, a_ctl->bootstrap_key, HA_KEY, key) > 0);
	REQUIRE_INT(ih_replica(a_ctl, NULL, &b_ctl), 0);
	extra[1] = b_ctl->url;
	REQUIRE_INT(ag_start(a_ctl, "alpha", key, extra, &alpha), 0);
	REQUIRE_INT(ag_start(b_ctl, "beta", key, NULL, &beta), 0);
	REQUIRE(wait_on(alpha, a_ctl->url, 15000) >= 0);
	REQUIRE(wait_on(beta, b_ctl->url, 15000) >= 0);
	CHECK(wait_npeers(alpha, 0, 2000) >= 0);
	fulls = full_maps(alpha);

	REQUIRE_INT(ih_signal(a_ctl, SIGKILL), 0);
	t0 = mono_ms();
	moved = wait_on(alpha, b_ctl->url, 5000);
	fprintf(stderr, "# controller killed: agent running on the other "
		"replica after %lld ms\n", (long long)moved);
	if (!CHECK(moved >= 0))
		ag_dump_log(alpha);

	/* A policy change made through the replica reaches it. */
	t0 = mono_ms();
	REQUIRE_INT(fx_policy(b_ctl, b_ctl->bootstrap_key,
			      HA_POLICY(HA_ALLOW), NULL), 200);
	took = wait_npeers(alpha, 1, 5000);
	fprintf(stderr, "# policy change through the replica reached the "
		"agent after %lld ms\n", (long long)(mono_ms() - t0));
	if (!CHECK(took >= 0))
		ag_dump_log(alpha);
	CHECK(wait_npeers(beta, 1, 5000) >= 0);
	/* Resumed with deltas: no full map since the move. */
	if (!CHECK(full_maps(alpha) == fulls))
		ag_dump_log(alpha);
	CHECK_INT(ag_del(alpha), 0);
	CHECK_INT(ag_del(beta), 0);
	ih_del(b_ctl);
	ih_del(a_ctl);
}

static const struct check_case cases[] = {
	CHECK_CASE(a_dead_first_url_is_skipped),
	CHECK_CASE(the_agent_moves_to_another_replica_when_its_controller_dies),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
