/* Relay tokens against the real controller, weft-relay and
 * weft-relay-probe: tokens are short-lived and renewed through the map, so
 * a node that is deleted (or expires) loses relay service within one token
 * lifetime even when it keeps its last token, and held polls hand out a
 * renewed token before the old one runs out. docs/relay.md "Token
 * lifetime". */
#include "check.h"
#include "fx.h"
#include "ih.h"
#include "lpoll.h"
#include "rh.h"

#include "shared/clock.h"
#include "shared/enc.h"
#include "shared/rand.h"
#include "shared/token.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define K (h->bootstrap_key)

static const char tag_policy[] = "{\"tagOwners\":{\"tag:test\":[]}}";

/* The token answer fields of a map answer as unix seconds (-1 if none). */
static int64_t token_exp(const json_t *map)
{
	int64_t t = -1;
	const char *s = fx_str(map, "relay_token_expires");

	if (!s || clock_parse_rfc3339(s, &t) < 0)
		return -1;
	return t;
}

/* Starts a controller with serve_args, a tag:test node, and (when relay is
 * not NULL) a relay that trusts the controller's token key. */
static struct ih *world(const char *const *serve_args, struct fx_node *n,
			struct rh_relay *relay)
{
	struct ih_opts o = {.serve_args = serve_args};
	struct ih *h = NULL;
	char key[FX_KEY_SIZE], ckey[600];
	const char *extra[3] = {"--controller-key", ckey, NULL};
	char *pub = NULL;
	int st = -1;

	if (!CHECK(ih_new(&o, &h) == 0))
		return NULL;
	if (!CHECK(fx_policy(h, K, tag_policy, NULL) == 200) ||
	    !CHECK(fx_authkey(h, K, "{\"tags\":[\"tag:test\"]}", key) > 0) ||
	    !CHECK(fx_node_register(h, key, "n1", n) == 201))
		goto fail;
	if (!relay)
		return h;
	if (!CHECK(ih_cli(h, &pub, &st, "relay-key", NULL, NULL) == 0) ||
	    !CHECK(st == 0) ||
	    !CHECK(rh_write_file("ctl.pub", pub, ckey, sizeof(ckey)) == 0) ||
	    !CHECK(rh_relay_start(0, "relay.key", extra, relay) == 0))
		goto fail;
	free(pub);
	return h;
fail:
	free(pub);
	ih_del(h);
	return NULL;
}

/* With the default settings a map's token lives at most 60 s: that bounds
 * how long a deleted node keeps relay service. */
static void default_token_lives_at_most_60_s(void)
{
	struct fx_node n;
	struct ih *h = world(NULL, &n, NULL);
	json_t *map = NULL;
	int64_t now = clock_wall_s(), exp;

	REQUIRE(h);
	CHECK_INT(fx_map(h, &n, 0, &map), 200);
	REQUIRE(fx_str(map, "relay_token"));
	exp = token_exp(map);
	CHECK(exp > now);
	CHECK(exp <= now + 60 + 2);
	json_decref(map);
	CHECK_INT(ih_del(h), 0);
}

/* A held poll is answered before the token runs out (well before the 30 s
 * keep-alive here) with a new token that lives longer. */
static void held_poll_renews_the_token_before_it_expires(void)
{
	const char *args[] = {"--relay-token-ttl", "9s", NULL};
	struct fx_node n;
	struct ih *h = world(args, &n, NULL);
	struct lpoll *p = NULL;
	json_t *map = NULL;
	char path[96], first[4096];
	int64_t exp1, t0;

	REQUIRE(h);
	REQUIRE_INT(fx_map(h, &n, 0, &map), 200);
	snprintf(first, sizeof(first), "%s",
		 fx_str(map, "relay_token") ? fx_str(map, "relay_token") : "");
	exp1 = token_exp(map);
	CHECK(exp1 > 0 && exp1 <= clock_wall_s() + 9 + 2);
	json_decref(map);
	snprintf(path, sizeof(path), "/api/v1/map?since=%" PRId64, n.version);
	t0 = clock_mono_ms();
	REQUIRE_INT(lpoll_start(h, path, n.cred, &p), 0);
	/* The first hold ends a third of the lifetime (3 s) before exp1. */
	CHECK_INT(lpoll_wait(&p, 1, 20000), 1);
	CHECK_INT(lpoll_status(p), 200);
	CHECK(lpoll_answered_at(p) - t0 < 20000);
	CHECK(clock_wall_s() < exp1);
	CHECK(fx_str(lpoll_json(p), "relay_token") &&
	      strcmp(fx_str(lpoll_json(p), "relay_token"), first) != 0);
	CHECK(token_exp(lpoll_json(p)) > exp1);
	lpoll_del(p);
	CHECK_INT(ih_del(h), 0);
}

/* A node that keeps its last token after being deleted is cut off by the
 * relay when that token expires: within the token lifetime, not 600 s. */
static void deleted_node_loses_relay_service_within_the_token_lifetime(void)
{
	const char *args[] = {"--relay-token-ttl", "8s", NULL};
	const char *stay[] = {"--stay", NULL};
	struct rh_relay relay = {0};
	struct rh_probe probe;
	struct fx_node n;
	struct ih *h = world(args, &n, &relay);
	json_t *map = NULL, *o = NULL;
	char tokfile[600], path[64];
	int64_t exp, deleted_at;

	REQUIRE(h);
	REQUIRE_INT(fx_map(h, &n, 0, &map), 200);
	REQUIRE(fx_str(map, "relay_token"));
	exp = token_exp(map);
	REQUIRE_INT(rh_write_file("node.jwt", fx_str(map, "relay_token"),
				  tokfile, sizeof(tokfile)), 0);
	json_decref(map);
	REQUIRE_INT(rh_probe_start(&relay, tokfile, stay, &probe), 0);
	/* Served: authenticated and told its address. */
	REQUIRE_INT(rh_probe_event(&probe, "qad", 10000, NULL), 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, n.id);
	CHECK_INT(fx_req(h, "DELETE", path, K, NULL, NULL), 204);
	deleted_at = clock_wall_s();
	/* The relay closes it when the token expires (8 s at most after it
	 * was signed); generous bound for a loaded machine. */
	if (CHECK(rh_probe_event(&probe, "closed", 30000, &o) == 0)) {
		CHECK_STR(fx_str(o, "name"), "TOKEN_EXPIRED");
		CHECK(clock_wall_s() >= exp);
		CHECK(clock_wall_s() - deleted_at <= 8 + 10);
	}
	json_decref(o);
	rh_probe_wait(&probe, 10000);
	CHECK_INT(rh_relay_stop(&relay, SIGTERM, 5000, NULL), 0);
	CHECK_INT(ih_del(h), 0);
}

/* Writes a fresh key-encryption key to path (0600); text gets its base64. */
static bool new_kek(const char *path, char text[64])
{
	uint8_t k[32];
	FILE *f;

	if (rand_bytes(k, sizeof(k)) < 0 ||
	    base64_encode(k, sizeof(k), text, 64, false) < 0)
		return false;
	f = fopen(path, "w");
	if (!f)
		return false;
	fprintf(f, "%s\n", text);
	return fclose(f) == 0 && chmod(path, 0600) == 0;
}

/* Makes the next start use the KEK in text: the data directory's file on
 * SQLite, WEFT_KEK on PostgreSQL (what the harness uses there). */
static bool use_kek(struct ih *h, const char *text)
{
	char path[700];
	FILE *f;

	if (ih_backend_is_pg())
		return setenv("WEFT_KEK", text, 1) == 0;
	snprintf(path, sizeof(path), "%s/relay-kek", h->data_dir);
	f = fopen(path, "w");
	return f && fprintf(f, "%s\n", text) > 0 && fclose(f) == 0;
}

/* The signing key is sealed in the database: `relay-key rotate-kek`
 * re-seals it under a new KEK while the controller runs; a controller
 * started with the old KEK then refuses to start with a clear message,
 * and one with the new KEK signs with the same key, so tokens issued
 * before verify with the relay key after. */
static void kek_rotation_keeps_tokens_and_a_wrong_kek_stops_the_start(void)
{
	struct fx_node n;
	struct ih *h = world(NULL, &n, NULL);
	json_t *map = NULL, *key = NULL;
	char path[700], text[64], *out = NULL, *log = NULL, *tok = NULL;
	int st = -1;

	REQUIRE(h);
	REQUIRE_INT(fx_map(h, &n, 0, &map), 200);
	REQUIRE(fx_str(map, "relay_token"));
	tok = strdup(fx_str(map, "relay_token"));
	json_decref(map);
	REQUIRE(tok);
	snprintf(path, sizeof(path), "%s/new-kek", h->data_dir);
	REQUIRE(new_kek(path, text));
	REQUIRE_INT(ih_cli(h, &out, &st, "relay-key", "rotate-kek",
			   "--new-kek-file", path, NULL), 0);
	CHECK_INT(st, 0);
	CHECK(out && strstr(out, "re-sealed") != NULL);
	free(out);
	/* Still the old KEK at the next start: refused, named. */
	CHECK(ih_restart(h) < 0);
	REQUIRE_INT(ih_read_file(h->log_path, &log), 0);
	CHECK(strstr(log, "wrong key-encryption key") != NULL);
	free(log);
	REQUIRE(use_kek(h, text));
	REQUIRE_INT(ih_restart(h), 0);
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/relay-key", NULL, NULL, &key),
		    200);
	REQUIRE(fx_str(key, "public_key"));
	CHECK_INT(token_verify(fx_str(key, "public_key"), tok, clock_wall_s(),
			       NULL), 0);
	json_decref(key);
	free(tok);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(default_token_lives_at_most_60_s),
	CHECK_CASE(held_poll_renews_the_token_before_it_expires),
	CHECK_CASE(deleted_node_loses_relay_service_within_the_token_lifetime),
	CHECK_CASE(kek_rotation_keeps_tokens_and_a_wrong_kek_stops_the_start),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
