/* weft-relay end to end on 127.0.0.1: the real relay process and
 * weft-relay-probe clients. No database is involved, so the body runs only
 * in the sqlite registration of this test and the postgres one skips. */
#include "check.h"
#include "rh.h"
#include "shared/ident.h"
#include "shared/token.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_MS 20000

static bool skip(void)
{
	const char *b = getenv("WEFT_STORE_BACKEND");

	if (b && strcmp(b, "sqlite") != 0) {
		printf("# skip: relay tests need no database (run under sqlite)\n");
		return true;
	}
	return false;
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* Starts a probe for node with a fresh token and waits for its QAD. */
static int probe_up(struct rh_relay *r, long long node,
		    const char *const *extra, struct rh_probe *p)
{
	char path[600];

	if (!rh_token_file(rh_priv(), node, -5, 600, path, sizeof(path)) ||
	    rh_probe_start(r, path, extra, p) < 0)
		return -EIO;
	return rh_probe_event(p, "qad", T_MS, NULL);
}

static void two_clients_exchange_10000_frames_in_order(void)
{
	struct rh_relay r;
	struct rh_probe a, b;
	const char *ra[] = {"--recv-frames", "10000", "--expect-signals", "1",
			    "--timeout", "30s", NULL};
	const char *sa[] = {"--send-frames", "10000", "--to", "2",
			    "--interval-us", "50", "--frame-size", "1200",
			    "--signal-to", "2", "--signal-text", "call-me-maybe",
			    "--stun", "--timeout", "30s", NULL};
	json_t *o = NULL, *local = NULL;
	char want[64];

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k1", NULL, &r), 0);
	REQUIRE_INT(probe_up(&r, 2, ra, &b), 0);
	REQUIRE_INT(rh_probe_start(&r, rh_token_file(rh_priv(), 1, -5, 600,
			(char[600]){0}, 600), sa, &a), 0);
	/* QAD reports the probe's own socket as the relay saw it. */
	REQUIRE_INT(rh_probe_event(&a, "local", T_MS, &local), 0);
	snprintf(want, sizeof(want), "127.0.0.1:%s",
		 strrchr(jstr(local, "addr"), ':') + 1);
	REQUIRE_INT(rh_probe_event(&a, "qad", T_MS, &o), 0);
	CHECK_STR(jstr(o, "addr"), want);
	json_decref(o);
	REQUIRE_INT(rh_probe_event(&a, "stun", T_MS, &o), 0);
	CHECK_STR(jstr(o, "addr"), want);
	json_decref(o);
	REQUIRE_INT(rh_probe_event(&b, "signal", T_MS, &o), 0);
	CHECK_INT(jint(o, "from"), 1);
	CHECK_STR(jstr(o, "text"), "call-me-maybe");
	json_decref(o);
	REQUIRE_INT(rh_probe_event(&b, "frames_received", 30000, &o), 0);
	CHECK_INT(jint(o, "count"), 10000);
	CHECK_INT(jint(o, "lost"), 0);
	CHECK_INT(jint(o, "reordered"), 0);
	json_decref(o);
	json_decref(local);
	CHECK_INT(rh_probe_wait(&a, T_MS), 0);
	CHECK_INT(rh_probe_wait(&b, T_MS), 0);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
}

/* Connects with the token file and returns the close event's name. */
static void expect_close_status(struct rh_relay *r, const char *token_file,
				const char *const *extra, const char *name,
				int status)
{
	struct rh_probe p;
	json_t *o = NULL;

	REQUIRE_INT(rh_probe_start(r, token_file, extra, &p), 0);
	if (rh_probe_event(&p, "closed", T_MS, &o) == 0) {
		CHECK_STR(jstr(o, "name"), name);
		CHECK(json_is_true(json_object_get(o, "remote")));
	} else {
		CHECK(!"no close event");
	}
	json_decref(o);
	CHECK_INT(rh_probe_wait(&p, T_MS), status);
}

static void expect_close(struct rh_relay *r, const char *token_file,
			 const char *const *extra, const char *name)
{
	expect_close_status(r, token_file, extra, name, 3);
}

static void bad_tokens_are_rejected_with_their_close_codes(void)
{
	struct rh_relay r;
	char path[600], hdr_payload[512];
	const char *none;

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k2", NULL, &r), 0);
	expect_close(&r, rh_token_file(rh_other_priv(), 5, -5, 600, path,
				       sizeof(path)), NULL, "AUTH_FAILED");
	expect_close(&r, rh_token_file(rh_priv(), 5, -100, -50, path,
				       sizeof(path)), NULL, "TOKEN_EXPIRED");
	/* alg none: a valid payload with the signature cut off. */
	{
		const char *tok = rh_token_file(rh_priv(), 5, -5, 600, path,
						sizeof(path));
		FILE *f = fopen(tok, "r");
		char *dot;

		REQUIRE(f && fgets(hdr_payload, sizeof(hdr_payload), f));
		fclose(f);
		dot = strchr(hdr_payload, '.');
		REQUIRE(dot);
		/* {"alg":"none","typ":"JWT"} */
		snprintf(path, sizeof(path),
			 "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0%.*s.",
			 (int)(strrchr(hdr_payload, '.') - dot), dot);
		REQUIRE_INT(rh_write_file("none.tok", path, path, sizeof(path)),
			    0);
		none = path;
		expect_close(&r, none, NULL, "AUTH_FAILED");
	}
	CHECK(rh_relay_log_has(&r, "event=auth_failed reason=bad_token"));
	CHECK(rh_relay_log_has(&r, "event=auth_failed reason=expired"));
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
}

static void silent_client_is_closed_auth_required(void)
{
	struct rh_relay r;
	const char *x[] = {"--no-auth", NULL};

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k3", NULL, &r), 0);
	expect_close(&r, NULL, x, "AUTH_REQUIRED");
	CHECK(rh_relay_log_has(&r, "event=auth_failed reason=timeout"));
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
}

static void token_expiring_while_connected_closes_token_expired(void)
{
	struct rh_relay r;
	char path[600];
	const char *x[] = {"--stay", NULL};

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k4", NULL, &r), 0);
	/* --stay: the probe is done at once and exits 0 when closed. */
	expect_close_status(&r, rh_token_file(rh_priv(), 8, -5, 2, path,
					      sizeof(path)), x,
			    "TOKEN_EXPIRED", 0);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
}

static void unknown_destination_gets_peer_gone(void)
{
	struct rh_relay r;
	struct rh_probe a;
	const char *x[] = {"--send-frames", "3", "--to", "777", "--stay",
			   "--signal-to", "778", NULL};
	json_t *o = NULL;
	bool frame = false, control = false;
	int i;

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k5", NULL, &r), 0);
	REQUIRE_INT(probe_up(&r, 1, x, &a), 0);
	for (i = 0; i < 2; i++) {
		REQUIRE_INT(rh_probe_event(&a, "peer_gone", T_MS, &o), 0);
		CHECK_INT(jint(o, "reason"), 1);
		if (strcmp(jstr(o, "via"), "frame") == 0) {
			CHECK_INT(jint(o, "node"), 777);
			frame = true;
		} else {
			CHECK_INT(jint(o, "node"), 778);
			control = true;
		}
		json_decref(o);
		o = NULL;
	}
	CHECK(frame && control);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
	rh_probe_wait(&a, T_MS);
}

static long long metric(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while ((p = strstr(p, name))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

static void rate_limit_drops_show_in_valid_metrics(void)
{
	struct rh_relay r;
	struct rh_probe a, b;
	const char *lim[] = {"--forward-rate", "200/200", NULL};
	const char *rx[] = {"--stay", NULL};
	const char *tx[] = {"--send-frames", "3000", "--to", "2",
			    "--interval-us", "200", NULL};
	char *body = NULL, path[600], cmd[800];
	long status = 0;
	json_t *o = NULL;

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k6", lim, &r), 0);
	REQUIRE_INT(probe_up(&r, 2, rx, &b), 0);
	REQUIRE_INT(probe_up(&r, 1, tx, &a), 0);
	REQUIRE_INT(rh_probe_event(&a, "peer_gone", T_MS, &o), 0);
	CHECK_INT(jint(o, "reason"), 3);
	json_decref(o);
	CHECK_INT(rh_probe_wait(&a, T_MS), 0);
	REQUIRE_INT(rh_http_get(r.metrics_port, "/metrics", &status, &body), 0);
	CHECK_INT(status, 200);
	fprintf(stderr, "# forwarded %lld, rate-limited %lld\n",
		metric(body, "weft_relay_frames_forwarded_total"),
		metric(body, "weft_relay_drops_total{reason=\"rate_limited\"}"));
	/* 3000 frames in about 0.6 s against a bucket of 200 + 200/s. */
	CHECK(metric(body, "weft_relay_drops_total{reason=\"rate_limited\"}") >
	      1500);
	CHECK(metric(body, "weft_relay_frames_forwarded_total") >= 200);
	CHECK(metric(body, "weft_relay_frames_forwarded_total") < 1000);
	CHECK_INT(metric(body, "weft_relay_connections"), 1);
	REQUIRE_INT(rh_write_file("metrics.txt", body, path, sizeof(path)), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
	CHECK_INT(system(cmd), 0);
	free(body);
	body = NULL;
	REQUIRE_INT(rh_http_get(r.metrics_port, "/healthz", &status, &body), 0);
	CHECK_INT(status, 200);
	free(body);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
	rh_probe_wait(&b, T_MS);
}

static void sigterm_drains_clients_and_exits_zero_quickly(void)
{
	struct rh_relay r;
	struct rh_probe a, b;
	const char *x[] = {"--stay", NULL};
	json_t *o = NULL;
	long ms = 0;

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k7", NULL, &r), 0);
	REQUIRE_INT(probe_up(&r, 1, x, &a), 0);
	REQUIRE_INT(probe_up(&r, 2, x, &b), 0);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 3000, &ms), 0);
	CHECK(ms < 3000);
	REQUIRE_INT(rh_probe_event(&a, "closed", T_MS, &o), 0);
	CHECK_STR(jstr(o, "name"), "SHUTTING_DOWN");
	json_decref(o);
	REQUIRE_INT(rh_probe_event(&b, "closed", T_MS, &o), 0);
	CHECK_STR(jstr(o, "name"), "SHUTTING_DOWN");
	json_decref(o);
	rh_probe_wait(&a, T_MS);
	rh_probe_wait(&b, T_MS);
}

static void sighup_reloads_controller_key_and_keeps_serving(void)
{
	struct rh_relay r;
	struct rh_probe a, b;
	const char *rx[] = {"--recv-frames", "100", NULL};
	const char *tx[] = {"--send-frames", "100", "--to", "1", NULL};
	char *npriv = NULL, *npub = NULL, path[600], ck[600];
	json_t *o = NULL;

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k8", NULL, &r), 0);
	REQUIRE_INT(probe_up(&r, 1, rx, &a), 0);
	/* Rotate the controller key: tokens of the new key only. */
	REQUIRE_INT(token_keygen(&npriv, &npub), 0);
	REQUIRE_INT(rh_write_file("controller.pub", npub, ck, sizeof(ck)), 0);
	kill(r.pid, SIGHUP);
	usleep(300000);
	CHECK(rh_relay_log_has(&r, "event=reloaded what=controller_key"));
	REQUIRE_INT(rh_probe_start(&r, rh_token_file(npriv, 2, -5, 600, path,
						     sizeof(path)), tx, &b), 0);
	REQUIRE_INT(rh_probe_event(&b, "qad", T_MS, NULL), 0);
	/* The connection from before the reload still gets frames. */
	REQUIRE_INT(rh_probe_event(&a, "frames_received", T_MS, &o), 0);
	CHECK_INT(jint(o, "count"), 100);
	json_decref(o);
	CHECK_INT(rh_probe_wait(&a, T_MS), 0);
	CHECK_INT(rh_probe_wait(&b, T_MS), 0);
	expect_close(&r, rh_token_file(rh_priv(), 3, -5, 600, path,
				       sizeof(path)), NULL, "AUTH_FAILED");
	/* A broken key file keeps the key in force. */
	REQUIRE_INT(rh_write_file("controller.pub", "", ck, sizeof(ck)), 0);
	kill(r.pid, SIGHUP);
	usleep(300000);
	CHECK(rh_relay_log_has(&r, "event=reload_failed what=controller_key"));
	REQUIRE_INT(rh_probe_start(&r, rh_token_file(npriv, 4, -5, 600, path,
						     sizeof(path)), NULL, &b), 0);
	CHECK_INT(rh_probe_wait(&b, T_MS), 0);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
	token_key_free(npriv);
	free(npub);
}

/* SIGHUP with a new key file: new connections get the new key (and pin),
 * the connection from before keeps working, the old pin stops matching. */
static void sighup_with_a_new_relay_key_serves_new_connections_with_it(void)
{
	struct rh_relay r, old;
	struct rh_probe a, b, c;
	const char *rx[] = {"--recv-frames", "100", NULL};
	const char *tx[] = {"--send-frames", "100", "--to", "1", NULL};
	struct ident *id = NULL;
	char path[600], pin[64];
	json_t *o = NULL;

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k10", NULL, &r), 0);
	old = r;
	REQUIRE_INT(probe_up(&r, 1, rx, &a), 0);
	REQUIRE_INT(ident_generate(&id), 0);
	REQUIRE_INT(ident_save(id, r.key_path), 0);
	REQUIRE_INT(ident_public_b64(id, pin), 0);
	ident_del(id);
	CHECK(strcmp(pin, r.pin) != 0);
	kill(r.pid, SIGHUP);
	usleep(300000);
	CHECK(rh_relay_log_has(&r, "event=reloaded what=key"));
	snprintf(r.pin, sizeof(r.pin), "%s", pin);
	REQUIRE_INT(rh_probe_start(&r, rh_token_file(rh_priv(), 2, -5, 600,
						     path, sizeof(path)),
				   tx, &b), 0);
	REQUIRE_INT(rh_probe_event(&b, "qad", T_MS, NULL), 0);
	REQUIRE_INT(rh_probe_event(&a, "frames_received", T_MS, &o), 0);
	CHECK_INT(jint(o, "count"), 100);
	json_decref(o);
	CHECK_INT(rh_probe_wait(&a, T_MS), 0);
	CHECK_INT(rh_probe_wait(&b, T_MS), 0);
	/* The old pin no longer matches the relay's key. */
	REQUIRE_INT(rh_probe_start(&old, rh_token_file(rh_priv(), 3, -5, 600,
						       path, sizeof(path)),
				   NULL, &c), 0);
	CHECK(rh_probe_wait(&c, T_MS) != 0);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
}

/* --retry always: every handshake goes through a Retry round trip and still
 * succeeds. --retry auto switches Retry on once handshakes come faster than
 * --retry-rate per second, and new clients still get in. */
static void retry_validates_addresses_always_or_above_the_rate(void)
{
	static const char *const always[] = {"--retry", "always", NULL};
	static const char *const autom[] = {"--retry", "auto", "--retry-rate",
					    "1", NULL};
	const char *x[] = {"--stay", NULL};
	struct rh_relay r;
	struct rh_probe p[5];
	char *body = NULL;
	long status = 0;

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k11", always, &r), 0);
	for (int i = 0; i < 3; i++)
		REQUIRE_INT(probe_up(&r, 10 + i, x, &p[i]), 0);
	REQUIRE_INT(rh_http_get(r.metrics_port, "/metrics", &status, &body), 0);
	CHECK_INT(metric(body, "weft_relay_connections"), 3);
	CHECK(metric(body, "weft_relay_retry_sent_total") >= 3);
	CHECK_INT(metric(body, "weft_relay_retry_failed_total"), 0);
	/* Handshakes went through the socket; a message carries at least
	 * one datagram. */
	CHECK(metric(body, "weft_relay_udp_datagrams_total{dir=\"in\"}") >=
	      metric(body, "weft_relay_udp_messages_total{dir=\"in\"}"));
	CHECK(metric(body, "weft_relay_udp_messages_total{dir=\"in\"}") >= 3);
	CHECK(metric(body, "weft_relay_udp_datagrams_total{dir=\"out\"}") >=
	      metric(body, "weft_relay_udp_messages_total{dir=\"out\"}"));
	CHECK(metric(body, "weft_relay_udp_messages_total{dir=\"out\"}") >= 3);
	free(body);
	body = NULL;
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
	for (int i = 0; i < 3; i++)
		rh_probe_wait(&p[i], T_MS);

	REQUIRE_INT(rh_relay_start(0, "k12", autom, &r), 0);
	for (int i = 0; i < 4; i++)
		REQUIRE_INT(probe_up(&r, 20 + i, x, &p[i]), 0);
	/* The rate is judged once a second. */
	usleep(1500 * 1000);
	REQUIRE_INT(rh_http_get(r.metrics_port, "/metrics", &status, &body), 0);
	CHECK_INT(metric(body, "weft_relay_retry_active"), 1);
	free(body);
	body = NULL;
	REQUIRE_INT(probe_up(&r, 30, x, &p[4]), 0);
	REQUIRE_INT(rh_http_get(r.metrics_port, "/metrics", &status, &body), 0);
	CHECK(metric(body, "weft_relay_retry_sent_total") >= 1);
	CHECK_INT(metric(body, "weft_relay_connections"), 5);
	free(body);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
	for (int i = 0; i < 5; i++)
		rh_probe_wait(&p[i], T_MS);
}

static void client_reconnects_after_relay_restart(void)
{
	struct rh_relay r;
	struct rh_probe a;
	const char *x[] = {"--stay", "--reconnect", "--timeout", "20s", NULL};
	json_t *o = NULL;
	char pin[64];
	int port;

	if (skip())
		return;
	REQUIRE_INT(rh_relay_start(0, "k9", NULL, &r), 0);
	port = r.port;
	snprintf(pin, sizeof(pin), "%s", r.pin);
	REQUIRE_INT(probe_up(&r, 1, x, &a), 0);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 3000, NULL), 0);
	REQUIRE_INT(rh_probe_event(&a, "closed", T_MS, &o), 0);
	CHECK_STR(jstr(o, "name"), "SHUTTING_DOWN");
	json_decref(o);
	usleep(300000);
	/* Same port, same key file: nothing else is needed. */
	REQUIRE_INT(rh_relay_start(port, "k9", NULL, &r), 0);
	CHECK_STR(r.pin, pin);
	REQUIRE_INT(rh_probe_event(&a, "auth_ok", T_MS, &o), 0);
	CHECK_INT(jint(o, "node"), 1);
	json_decref(o);
	REQUIRE_INT(rh_probe_event(&a, "qad", T_MS, NULL), 0);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 3000, NULL), 0);
	rh_probe_wait(&a, T_MS);
}

static void turnutils_stunclient_gets_mapped_address(void)
{
	struct rh_relay r;
	char cmd[256], line[512];
	bool seen = false;
	FILE *f;

	if (skip())
		return;
	if (system("command -v turnutils_stunclient >/dev/null 2>&1") != 0) {
		printf("# skip: turnutils_stunclient (coturn) not installed\n");
		return;
	}
	REQUIRE_INT(rh_relay_start(0, "k10", NULL, &r), 0);
	snprintf(cmd, sizeof(cmd),
		 "timeout 10 turnutils_stunclient -p %d 127.0.0.1 2>&1", r.port);
	f = popen(cmd, "r");
	REQUIRE(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "reflexive addr: 127.0.0.1:"))
			seen = true;
	CHECK_INT(pclose(f), 0);
	CHECK(seen);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(two_clients_exchange_10000_frames_in_order),
	CHECK_CASE(bad_tokens_are_rejected_with_their_close_codes),
	CHECK_CASE(silent_client_is_closed_auth_required),
	CHECK_CASE(token_expiring_while_connected_closes_token_expired),
	CHECK_CASE(unknown_destination_gets_peer_gone),
	CHECK_CASE(rate_limit_drops_show_in_valid_metrics),
	CHECK_CASE(sigterm_drains_clients_and_exits_zero_quickly),
	CHECK_CASE(sighup_reloads_controller_key_and_keeps_serving),
	CHECK_CASE(sighup_with_a_new_relay_key_serves_new_connections_with_it),
	CHECK_CASE(retry_validates_addresses_always_or_above_the_rate),
	CHECK_CASE(client_reconnects_after_relay_restart),
	CHECK_CASE(turnutils_stunclient_gets_mapped_address),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
