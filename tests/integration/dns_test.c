/* The DNS settings against the real controller process over HTTP (docs/
 * dns.md): GET/PUT round trip, 400/413 JSON errors for bad bodies, and a
 * change reaching a node's held long-poll as a "dns" delta, and the
 * dns CLI on the same database. */
#include "check.h"
#include "fx.h"
#include "ih.h"
#include "lpoll.h"
#include "shared/clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define K (h->bootstrap_key)

/* PUTs body and checks a 400 answer naming field (NULL: any) with code. */
static void check_bad(struct ih *h, const char *body, const char *code,
		      const char *field, int line)
{
	json_t *j = NULL;
	long st = fx_req(h, "PUT", "/api/v1/dns", K, body, &j);

	check_report(st == 400, __FILE__, line, "status %ld, want 400", st);
	check_report(fx_str(j, "error.code") &&
			     strcmp(fx_str(j, "error.code"), code) == 0,
		     __FILE__, line, "code %s, want %s",
		     fx_str(j, "error.code"), code);
	check_report(fx_str(j, "error.message") != NULL, __FILE__, line,
		     "no message");
	check_report(!field || (fx_str(j, "error.field") &&
				strcmp(fx_str(j, "error.field"), field) == 0),
		     __FILE__, line, "field %s, want %s",
		     fx_str(j, "error.field"), field);
	json_decref(j);
}

static void put_then_get_and_bad_bodies_are_json_errors(void)
{
	static const char doc[] =
		"{\"domain\": \"mesh.example\", \"search\": false, \"split\": "
		"[{\"domain\": \"corp.example\", \"upstreams\": [\"10.1.0.53\","
		" \"[fd00::53]:5353\"]}], \"upstreams\": [\"192.0.2.53:53\"], "
		"\"records\": [{\"name\": \"wiki.corp.example\", \"type\": "
		"\"A\", \"value\": \"10.1.0.7\"}]}";
	struct ih *h = NULL;
	json_t *j = NULL, *put = NULL;
	char *big;

	REQUIRE_INT(ih_new(NULL, &h), 0);
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/dns", K, NULL, &j), 200);
	CHECK_STR(fx_str(j, "domain"), "weft.internal");
	CHECK(fx_is_true(j, "search"));
	json_decref(j);
	REQUIRE_INT(fx_req(h, "PUT", "/api/v1/dns", K, doc, &put), 200);
	CHECK_STR(fx_str(put, "upstreams.0"), "192.0.2.53");
	CHECK_STR(fx_str(put, "split.0.upstreams.1"), "[fd00::53]:5353");
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/dns", K, NULL, &j), 200);
	CHECK(json_equal(j, put));
	json_decref(j);
	json_decref(put);
	CHECK_INT(fx_audit_count(h, K, "dns.update", NULL, NULL), 1);

	check_bad(h, "{\"domain\": ", "parse_error", NULL, __LINE__);
	check_bad(h, "[1, 2]", "wrong_type", NULL, __LINE__);
	check_bad(h, "{\"search\": \"no\"}", "invalid", "search", __LINE__);
	check_bad(h, "{\"split\": {}}", "invalid", "split", __LINE__);
	check_bad(h, "{\"upstreams\": [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\","
		  " \"7\", \"8\", \"9\"]}", "invalid", "upstreams", __LINE__);
	/* PUT replaces the whole document: the domain is given again. */
	check_bad(h, "{\"domain\": \"mesh.example\", \"split\": [{\"domain\":"
		  " \"x.mesh.example\", \"upstreams\": [\"10.0.0.1\"]}]}",
		  "invalid",
		  "split[0].domain", __LINE__);
	check_bad(h, "{\"records\": [{\"name\": \"a.example\", \"type\": "
		  "\"AAAA\", \"value\": \"10.0.0.1\"}]}", "invalid",
		  "records[0].value", __LINE__);
	/* Oversized: beyond the settings' size limit, refused unread. */
	big = malloc(300 * 1024);
	REQUIRE(big);
	memset(big, ' ', 300 * 1024 - 3);
	memcpy(big + 300 * 1024 - 3, "{}", 3);
	CHECK_INT(fx_req(h, "PUT", "/api/v1/dns", K, big, &j), 413);
	CHECK(fx_str(j, "error.code") != NULL);
	json_decref(j);
	free(big);
	/* None of that changed the settings or was audited. */
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/dns", K, NULL, &j), 200);
	CHECK_STR(fx_str(j, "domain"), "mesh.example");
	json_decref(j);
	CHECK_INT(fx_audit_count(h, K, "dns.update", NULL, NULL), 1);
	/* Admin only. */
	CHECK_INT(fx_req(h, "GET", "/api/v1/dns", NULL, NULL, NULL), 401);
	CHECK_INT(ih_del(h), 0);
}

static void a_change_reaches_a_held_poll_as_a_dns_delta(void)
{
	struct ih *h = NULL;
	struct fx_node n;
	struct lpoll *p = NULL;
	char key[FX_KEY_SIZE], path[96];
	const char *v6;
	json_t *j = NULL;
	int64_t t0;

	REQUIRE_INT(ih_new(NULL, &h), 0);
	REQUIRE(fx_authkey(h, K, "{\"tags\":[\"tag:a\"]}", key) > 0);
	REQUIRE_INT(fx_node_register(h, key, "Lap_Top", &n), 201);
	CHECK_STR(n.name, "lap-top");
	REQUIRE_INT(fx_map(h, &n, -1, &j), 200);
	CHECK_STR(fx_str(j, "dns.suffix"), "weft.internal");
	CHECK(fx_is_true(j, "dns.search"));
	CHECK_STR(fx_str(j, "dns.stub.ipv4"), "100.100.100.100");
	v6 = fx_str(j, "dns.stub.ipv6");
	CHECK(v6 && strstr(v6, "::6464:6464") != NULL);
	CHECK(v6 && strcmp(v6, fx_str(j, "self.ipv6")) != 0);
	json_decref(j);
	/* Wait for the map to settle (online), then hold a poll. */
	usleep(400 * 1000);
	for (int i = 0; i < 6 && !p; i++) {
		snprintf(path, sizeof(path), "/api/v1/map?since=%" PRId64,
			 n.version);
		REQUIRE_INT(lpoll_start(h, path, n.cred, &p), 0);
		if (lpoll_wait(&p, 1, 1000) == 0)
			break;
		if (lpoll_status(p) == 200)
			n.version = fx_int(lpoll_json(p), "version");
		lpoll_del(p);
		p = NULL;
	}
	REQUIRE(p);
	REQUIRE_INT(fx_req(h, "PUT", "/api/v1/dns", K,
			   "{\"search\": false, \"upstreams\": [\"192.0.2.53\"]}",
			   NULL),
		    200);
	t0 = clock_mono_ms();
	REQUIRE_INT(lpoll_wait(&p, 1, 2000), 1);
	printf("dns change reached the held poll in %" PRId64 " ms\n",
	       lpoll_answered_at(p) - t0);
	CHECK(lpoll_answered_at(p) - t0 < 1000);
	j = lpoll_json(p);
	CHECK_INT(lpoll_status(p), 200);
	CHECK(!fx_is_true(j, "full"));
	CHECK(fx_get(j, "dns.search") && !fx_is_true(j, "dns.search"));
	CHECK_STR(fx_str(j, "dns.upstreams.0"), "192.0.2.53");
	CHECK(fx_get(j, "peers") == NULL);
	lpoll_del(p);
	/* The node's answer shows its DNS name. */
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, n.id);
	REQUIRE_INT(fx_req(h, "GET", path, K, NULL, &j), 200);
	CHECK_STR(fx_str(j, "dns_name"), "lap-top.weft.internal");
	json_decref(j);
	CHECK_INT(ih_del(h), 0);
}

static void cli_sets_and_shows_the_settings(void)
{
	const char *good = fx_write_file("dns.json",
					 "{\"search\": false, \"records\": "
					 "[{\"name\": \"nas.home\", \"type\": "
					 "\"AAAA\", \"value\": \"fd00::9\"}]}");
	const char *bad = fx_write_file("bad.json", "{\"upstreams\": "
					"[\"dns.example\"]}");
	struct ih *h = NULL;
	json_t *j = NULL;
	char *out = NULL;
	int st = -1;

	REQUIRE(good && bad);
	REQUIRE_INT(ih_new(NULL, &h), 0);
	REQUIRE_INT(ih_cli(h, &out, &st, "dns", "set", good, NULL), 0);
	CHECK_INT(st, 0);
	CHECK(out && strstr(out, "DNS settings saved") != NULL);
	free(out);
	out = NULL;
	REQUIRE_INT(ih_cli(h, &out, &st, "dns", "set", bad, NULL), 0);
	CHECK_INT(st, 1); /* the field and reason go to stderr (the log) */
	free(out);
	out = NULL;
	REQUIRE_INT(ih_cli(h, &out, &st, "dns", "show", NULL), 0);
	CHECK_INT(st, 0);
	CHECK(out && strstr(out, "nas.home") != NULL);
	free(out);
	/* The server answers what the CLI stored. */
	REQUIRE_INT(fx_req(h, "GET", "/api/v1/dns", K, NULL, &j), 200);
	CHECK_STR(fx_str(j, "records.0.value"), "fd00::9");
	json_decref(j);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(put_then_get_and_bad_bodies_are_json_errors),
	CHECK_CASE(a_change_reaches_a_held_poll_as_a_dns_delta),
	CHECK_CASE(cli_sets_and_shows_the_settings),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
