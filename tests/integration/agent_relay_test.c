/* weft-agent's relay client against a real controller and a real
 * weft-relay on loopback: the agent connects to the map's home relay,
 * authenticates with the map's relay token, reports the relay's QAD
 * address as an endpoint, and reconnects when the relay restarts. Agents
 * run with --no-tun (no root). */
#include "ag.h"
#include "check.h"
#include "fx.h"
#include "ih.h"
#include "rh.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define K (h->bootstrap_key)

static const char allow_policy[] =
	"{\"tagOwners\":{\"tag:test\":[]},"
	"\"acls\":[{\"action\":\"accept\",\"src\":[\"tag:test\"],"
	"\"dst\":[\"tag:test:*\"]}]}";

struct world {
	struct ih *h;
	struct rh_relay relay;
	char key[FX_KEY_SIZE];
	char ckey[600];
	const char *extra[3];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A controller with a policy and an auth key, a relay that trusts the
 * controller's token key, registered as the only relay. */
static bool world_start_with(struct world *w, const char *const *serve_args)
{
	struct ih_opts o = {.serve_args = serve_args};
	struct ih *h = NULL;
	char *pub = NULL;
	int st = -1;

	memset(w, 0, sizeof(*w));
	if (!CHECK(ih_new(&o, &h) == 0))
		return false;
	w->h = h;
	if (!CHECK(fx_policy(h, K, allow_policy, NULL) == 200) ||
	    !CHECK(fx_authkey(h, K, "{\"reusable\":true,"
				    "\"tags\":[\"tag:test\"]}", w->key) > 0))
		return false;
	if (!CHECK(ih_cli(h, &pub, &st, "relay-key", NULL, NULL) == 0) ||
	    !CHECK(st == 0) ||
	    !CHECK(rh_write_file("ctl.pub", pub, w->ckey, sizeof(w->ckey)) ==
		   0)) {
		free(pub);
		return false;
	}
	free(pub);
	w->extra[0] = "--controller-key";
	w->extra[1] = w->ckey;
	if (!CHECK(rh_relay_start(0, "relay.key", w->extra, &w->relay) == 0))
		return false;
	return CHECK(fx_reqf(h, "POST", "/api/v1/relays", K, NULL,
			     "{\"name\":\"local\",\"region\":\"test\","
			     "\"address\":\"127.0.0.1:%d\","
			     "\"public_key_pin\":\"%s\"}",
			     w->relay.port, w->relay.pin) == 201);
}

static bool world_start(struct world *w)
{
	return world_start_with(w, NULL);
}

static void world_stop(struct world *w)
{
	if (w->relay.pid)
		rh_relay_stop(&w->relay, SIGTERM, 5000, NULL);
	ih_del(w->h);
}

/* Polls `status` until its relay is connected with a QAD address and at
 * least min_connects authentications, or timeout_ms pass. Returns the
 * status (caller decrefs) or NULL. */
static json_t *wait_relay(struct ag *a, int64_t min_connects,
			  int64_t timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	do {
		json_t *j = NULL;

		if (ag_cli(a, "status", &j) == 0 &&
		    json_is_true(fx_get(j, "relay.connected")) &&
		    fx_str(j, "relay.qad") &&
		    fx_int(j, "relay.connects") >= min_connects)
			return j;
		json_decref(j);
		usleep(100000);
	} while (now_ms() < end);
	return NULL;
}

static bool array_has(const json_t *a, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* Waits until the controller lists s among the node's endpoints. */
static bool wait_node_endpoint(struct ih *h, int64_t id, const char *s,
			       int64_t timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	char path[64];

	snprintf(path, sizeof(path), "/api/v1/nodes/%lld", (long long)id);
	do {
		json_t *j = NULL;
		bool ok = fx_req(h, "GET", path, K, NULL, &j) == 200 &&
			  array_has(fx_get(j, "endpoints"), s);

		json_decref(j);
		if (ok)
			return true;
		usleep(100000);
	} while (now_ms() < end);
	return false;
}

/* Waits until the node's home_relay is name and GET /api/v1/status counts
 * one online node on that relay. */
static bool wait_home_relay(struct ih *h, int64_t id, const char *name,
			    int64_t timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	char path[64];

	snprintf(path, sizeof(path), "/api/v1/nodes/%lld", (long long)id);
	do {
		json_t *j = NULL, *s = NULL;
		bool ok = fx_req(h, "GET", path, K, NULL, &j) == 200 &&
			  fx_str(j, "home_relay") &&
			  strcmp(fx_str(j, "home_relay"), name) == 0 &&
			  fx_req(h, "GET", "/api/v1/status", K, NULL, &s) == 200;

		if (ok) {
			const json_t *r = json_array_get(fx_get(s, "relays"), 0);

			ok = r && fx_str(r, "name") &&
			     strcmp(fx_str(r, "name"), name) == 0 &&
			     fx_int(r, "online_nodes") == 1;
		}
		json_decref(j);
		json_decref(s);
		if (ok)
			return true;
		usleep(100000);
	} while (now_ms() < end);
	return false;
}

static void agent_connects_to_home_relay_and_reports_qad(void)
{
	struct world w;
	struct ag *a = NULL;
	json_t *st = NULL;
	char want[64];

	if (!world_start(&w))
		goto out;
	if (!CHECK(ag_start(w.h, "a", w.key, NULL, &a) == 0))
		goto out;
	st = wait_relay(a, 1, 20000);
	if (!CHECK(st != NULL))
		goto out;
	CHECK_STR(fx_str(st, "relay.name"), "local");
	snprintf(want, sizeof(want), "127.0.0.1:%d", w.relay.port);
	CHECK_STR(fx_str(st, "relay.address"), want);
	/* The relay sees the agent's socket from loopback. */
	snprintf(want, sizeof(want), "127.0.0.1:%lld",
		 (long long)fx_int(st, "port"));
	CHECK_STR(fx_str(st, "relay.qad"), want);
	CHECK(wait_node_endpoint(w.h, fx_int(st, "node.id"), want, 10000));
	/* It reports the relay as its home relay: the node shows it and the
	 * status API counts it as the relay's online node (relay health in
	 * the UI). */
	CHECK(wait_home_relay(w.h, fx_int(st, "node.id"), "local", 10000));
out:
	if (a && !st)
		ag_dump_log(a);
	json_decref(st);
	ag_del(a);
	world_stop(&w);
}

static void agent_reconnects_after_relay_restart(void)
{
	struct world w;
	struct ag *a = NULL;
	json_t *st = NULL;
	int port;

	if (!world_start(&w))
		goto out;
	if (!CHECK(ag_start(w.h, "b", w.key, NULL, &a) == 0))
		goto out;
	st = wait_relay(a, 1, 20000);
	if (!CHECK(st != NULL))
		goto out;
	json_decref(st);
	st = NULL;
	port = w.relay.port;
	CHECK_INT(rh_relay_stop(&w.relay, SIGTERM, 5000, NULL), 0);
	if (!CHECK(rh_relay_start(port, "relay.key", w.extra, &w.relay) == 0))
		goto out;
	st = wait_relay(a, 2, 20000);
	CHECK(st != NULL);
out:
	if (a && !st)
		ag_dump_log(a);
	json_decref(st);
	ag_del(a);
	world_stop(&w);
}

/* With short relay tokens the agent hands each renewed token to the relay
 * on the same connection: it stays connected past several token
 * lifetimes (the relay would close it with TOKEN_EXPIRED otherwise) and
 * never reconnects. */
static void agent_keeps_its_relay_connection_across_token_renewals(void)
{
	const char *args[] = {"--relay-token-ttl", "6s", NULL};
	struct world w;
	struct ag *a = NULL;
	json_t *st = NULL;

	if (!world_start_with(&w, args))
		goto out;
	if (!CHECK(ag_start(w.h, "r", w.key, NULL, &a) == 0))
		goto out;
	st = wait_relay(a, 1, 20000);
	if (!CHECK(st != NULL))
		goto out;
	json_decref(st);
	st = NULL;
	sleep(20); /* more than three 6 s lifetimes */
	if (!CHECK(ag_cli(a, "status", &st) == 0))
		goto out;
	CHECK(json_is_true(fx_get(st, "relay.connected")));
	CHECK_INT(fx_int(st, "relay.connects"), 1);
	CHECK(!rh_relay_log_has(&w.relay, "TOKEN_EXPIRED"));
	CHECK(!rh_relay_log_has(&w.relay, "reason=expired"));
out:
	if (a && !st)
		ag_dump_log(a);
	json_decref(st);
	ag_del(a);
	world_stop(&w);
}

/* The port of `metrics_listening addr=127.0.0.1:PORT` in the agent's
 * log, polled for up to timeout_ms; 0 when it never appeared. */
static int metrics_port(const struct ag *a, int64_t timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	do {
		char *log = ag_log(a), *p;
		int port = 0;

		p = log ? strstr(log, "metrics_listening") : NULL;
		p = p ? strstr(p, "addr=127.0.0.1:") : NULL;
		if (p)
			port = atoi(p + strlen("addr=127.0.0.1:"));
		free(log);
		if (port > 0)
			return port;
		usleep(100000);
	} while (now_ms() < end);
	return 0;
}

static void agent_serves_valid_metrics_and_healthz(void)
{
	static const char *const extra[] = {"--metrics-listen",
					    "127.0.0.1:0", NULL};
	struct world w;
	struct ag *a = NULL;
	json_t *st = NULL;
	char *body = NULL, path[600], cmd[700];
	long status = 0;
	int port;

	if (!world_start(&w))
		goto out;
	if (!CHECK(ag_start(w.h, "m", w.key, extra, &a) == 0))
		goto out;
	st = wait_relay(a, 1, 20000);
	if (!CHECK(st != NULL))
		goto out;
	port = metrics_port(a, 5000);
	if (!CHECK(port > 0))
		goto out;
	if (!CHECK(rh_http_get(port, "/healthz", &status, &body) == 0))
		goto out;
	CHECK_INT(status, 200);
	free(body);
	body = NULL;
	if (!CHECK(rh_http_get(port, "/metrics", &status, &body) == 0))
		goto out;
	CHECK_INT(status, 200);
	CHECK(strstr(body, "\nweft_agent_state{state=\"running\"} 1\n") !=
	      NULL);
	CHECK(strstr(body, "\nweft_agent_relay_connected 1\n") != NULL);
	CHECK(strstr(body, "\nweft_agent_packets_denied_total 0\n") != NULL);
	/* The relay connection's handshake went through the socket. */
	CHECK(strstr(body, "\nweft_agent_udp_datagrams_total{dir=\"out\"} 0\n") ==
	      NULL);
	CHECK(strstr(body, "\nweft_agent_udp_messages_total{dir=\"in\"} ") !=
	      NULL);
	CHECK(strstr(body, "\nweft_agent_udp_messages_total{dir=\"in\"} 0\n") ==
	      NULL);
	if (!CHECK(rh_write_file("agent-metrics.txt", body, path,
				 sizeof(path)) == 0))
		goto out;
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
	CHECK_INT(system(cmd), 0);
	free(body);
	body = NULL;
	if (CHECK(rh_http_get(port, "/nope", &status, &body) == 0))
		CHECK_INT(status, 404);
out:
	if (a && !st)
		ag_dump_log(a);
	free(body);
	json_decref(st);
	ag_del(a);
	world_stop(&w);
}

/* Polls GET /readyz until it answers want, up to timeout_ms. Returns
 * the last body (caller frees) or NULL when nothing answered. */
static char *wait_readyz(int port, long want, int64_t timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	char *body = NULL;
	long status = 0;

	do {
		free(body);
		body = NULL;
		if (rh_http_get(port, "/readyz", &status, &body) == 0 &&
		    status == want)
			break;
		usleep(100000);
	} while (now_ms() < end);
	return body;
}

/* /readyz says ready once registered with a map and the home relay
 * connected, names home_relay while the relay is down, and is ready again
 * when it is back. */
static void agent_readyz_follows_the_home_relay(void)
{
	static const char *const extra[] = {"--metrics-listen",
					    "127.0.0.1:0", NULL};
	static const char ready[] =
		"{\"status\":\"ready\",\"checks\":{\"registered\":\"ok\","
		"\"map\":\"ok\",\"home_relay\":\"ok\"}}";
	struct world w;
	struct ag *a = NULL;
	char *body = NULL;
	bool done = false;
	int port, rport;

	if (!world_start(&w))
		goto out;
	if (!CHECK(ag_start(w.h, "r", w.key, extra, &a) == 0))
		goto out;
	port = metrics_port(a, 5000);
	if (!CHECK(port > 0))
		goto out;
	body = wait_readyz(port, 200, 20000);
	CHECK_STR(body, ready);
	free(body);
	body = NULL;
	rport = w.relay.port;
	CHECK_INT(rh_relay_stop(&w.relay, SIGTERM, 5000, NULL), 0);
	body = wait_readyz(port, 503, 10000);
	CHECK_STR(body, "{\"status\":\"not_ready\",\"missing\":"
			"[\"home_relay\"],\"checks\":{\"registered\":\"ok\","
			"\"map\":\"ok\",\"home_relay\":\"missing\"}}");
	free(body);
	body = NULL;
	if (!CHECK(rh_relay_start(rport, "relay.key", w.extra, &w.relay) == 0))
		goto out;
	body = wait_readyz(port, 200, 20000);
	CHECK_STR(body, ready);
	done = true;
out:
	if (a && !done)
		ag_dump_log(a);
	free(body);
	ag_del(a);
	world_stop(&w);
}

static const struct check_case cases[] = {
	CHECK_CASE(agent_connects_to_home_relay_and_reports_qad),
	CHECK_CASE(agent_reconnects_after_relay_restart),
	CHECK_CASE(agent_keeps_its_relay_connection_across_token_renewals),
	CHECK_CASE(agent_serves_valid_metrics_and_healthz),
	CHECK_CASE(agent_readyz_follows_the_home_relay),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
