/* weft-relay as operators and outsiders meet it (issue 12): its metrics
 * server under a connection flood, /readyz, what --controller-key accepts
 * at start and on SIGHUP, and an RFC 3489 STUN client. The real relay
 * process on 127.0.0.1; no database, so the body runs only in the sqlite
 * registration and the postgres one skips. */
#include "check.h"
#include "rh.h"
#include "shared/token.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T_MS 20000
#define FLOOD 300

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts a probe for node with a token of priv and waits for its QAD;
 * returns 0 when it authenticated. */
static int probe_up(struct rh_relay *r, const char *priv, long long node,
		    struct rh_probe *p)
{
	const char *x[] = {"--stay", NULL};
	char path[600];

	if (!rh_token_file(priv, node, -5, 600, path, sizeof(path)) ||
	    rh_probe_start(r, path, x, p) < 0)
		return -EIO;
	return rh_probe_event(p, "qad", T_MS, NULL);
}

/* GET path; returns the status (0 when the server closed or refused the
 * connection without an answer) and the time it took in *ms. */
static long timed_get(int port, const char *path, long long *ms)
{
	long long t0 = now_ms();
	long status = 0;
	char *body = NULL;

	if (rh_http_get(port, path, &status, &body) < 0)
		status = 0;
	*ms = now_ms() - t0;
	free(body);
	return status;
}

/* Issue 12.7: 300 connections with partial requests on --metrics-listen,
 * closed after a second, left the server accepting nothing ever again. */
static void metrics_server_answers_after_300_slow_connections(void)
{
	static const char part[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct rh_relay r;
	int fds[FLOOD], i;
	long long ms;
	long st;

	if (rh_skip_unless_sqlite())
		return;
	REQUIRE_INT(rh_relay_start(0, "o1", NULL, &r), 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)r.metrics_port);
	for (i = 0; i < FLOOD; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] >= 0 &&
		    connect(fds[i], (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    i % 2 == 0)
			send(fds[i], part, sizeof(part) - 1, MSG_NOSIGNAL);
	}
	/* During the flood a fresh client is served or turned away, and
	 * either way at once rather than left waiting. */
	st = timed_get(r.metrics_port, "/healthz", &ms);
	fprintf(stderr, "# during the flood: status %ld in %lld ms\n", st, ms);
	CHECK(st == 200 || st == 503 || st == 0);
	CHECK(ms < 3000);
	usleep(1000 * 1000);
	for (i = 0; i < FLOOD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	st = timed_get(r.metrics_port, "/healthz", &ms);
	fprintf(stderr, "# after the flood: status %ld in %lld ms\n", st, ms);
	CHECK_INT(st, 200);
	CHECK(ms < 3000);
	CHECK_INT(timed_get(r.metrics_port, "/metrics", &ms), 200);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
}

static void readyz_names_its_checks(void)
{
	struct rh_relay r;
	char *body = NULL;
	long status = 0;

	if (rh_skip_unless_sqlite())
		return;
	REQUIRE_INT(rh_relay_start(0, "o2", NULL, &r), 0);
	REQUIRE_INT(rh_http_get(r.metrics_port, "/readyz", &status, &body),
		    0);
	CHECK_INT(status, 200);
	CHECK_STR(body, "{\"status\":\"ready\",\"checks\":{\"sockets\":\"ok\","
			"\"controller_key\":\"ok\",\"not_draining\":\"ok\"}}");
	free(body);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
}

/* Runs cmd and returns its output (at most cap - 1 bytes) in out. */
static int run_capture(const char *cmd, char *out, size_t cap)
{
	size_t n = 0;
	FILE *f = popen(cmd, "r");

	if (!f)
		return -1;
	while (n + 1 < cap && fgets(out + n, (int)(cap - n), f))
		n += strlen(out + n);
	out[n] = '\0';
	return pclose(f);
}

/* Runs weft-relay with --controller-key path to its end; returns the exit
 * status and its output in out. */
static int relay_run(const char *path, char *out, size_t cap)
{
	const char *b = getenv("WEFT_BUILD_DIR");
	char cmd[2048];
	int st;

	snprintf(cmd, sizeof(cmd),
		 "timeout 10 '%s/relay/weft-relay' --listen 127.0.0.1:0 "
		 "--key '%s/o3.key' --controller-key '%s' 2>&1",
		 b ? b : ".", rh_dir(), path);
	st = run_capture(cmd, out, cap);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void garbage_controller_key_stops_the_start(void)
{
	char path[600], out[8192];

	if (rh_skip_unless_sqlite())
		return;
	REQUIRE_INT(rh_write_file("garbage.pub", "not a key\n", path,
				  sizeof(path)), 0);
	CHECK_INT(relay_run(path, out, sizeof(out)), 1);
	CHECK(strstr(out, "event=controller_key_invalid") != NULL);
	CHECK(strstr(out, "problem=\"neither a PEM public key nor the "
			  "relay-key JSON\"") != NULL);
	CHECK(strstr(out, "GET /api/v1/relay-key") != NULL);
	CHECK(strstr(out, "relay listening") == NULL);
	/* The controller's private key by mistake. */
	REQUIRE_INT(rh_write_file("priv-as-pub.pem", rh_priv(), path,
				  sizeof(path)), 0);
	CHECK_INT(relay_run(path, out, sizeof(out)), 1);
	CHECK(strstr(out, "event=controller_key_invalid") != NULL);
}

/* The answer of GET /api/v1/relay-key, saved as is, works as the key. */
static void relay_key_json_works_as_controller_key(void)
{
	const char *x[] = {"--controller-key", NULL, NULL};
	json_t *o = json_pack("{s:s, s:s}", "algorithm", "ES256",
			      "public_key", rh_pub());
	char *text = json_dumps(o, 0), path[600];
	struct rh_relay r;
	struct rh_probe p;

	json_decref(o);
	if (rh_skip_unless_sqlite() || !text) {
		free(text);
		return;
	}
	REQUIRE_INT(rh_write_file("relay-key.json", text, path, sizeof(path)),
		    0);
	free(text);
	x[1] = path;
	REQUIRE_INT(rh_relay_start(0, "o4", x, &r), 0);
	CHECK_INT(probe_up(&r, rh_priv(), 1, &p), 0);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
	rh_probe_wait(&p, T_MS);
}

/* A SIGHUP that finds garbage in the key file keeps the key in force
 * (before: it loaded the garbage and every AUTH failed with bad_token). */
static void sighup_with_garbage_keeps_the_old_key(void)
{
	struct rh_relay r;
	struct rh_probe a, b;
	char path[600];

	if (rh_skip_unless_sqlite())
		return;
	REQUIRE_INT(rh_relay_start(0, "o5", NULL, &r), 0);
	REQUIRE_INT(probe_up(&r, rh_priv(), 1, &a), 0);
	REQUIRE_INT(rh_write_file("controller.pub", "garbage\n", path,
				  sizeof(path)), 0);
	kill(r.pid, SIGHUP);
	usleep(300000);
	CHECK(rh_relay_log_has(&r, "event=reload_failed what=controller_key"));
	CHECK(rh_relay_log_has(&r, "kept=previous_key"));
	CHECK(!rh_relay_log_has(&r, "event=reloaded what=controller_key"));
	CHECK_INT(probe_up(&r, rh_priv(), 2, &b), 0);
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
	rh_probe_wait(&a, T_MS);
	rh_probe_wait(&b, T_MS);
}

/* Issue 12.10: Debian's `stun` (RFC 3489, no magic cookie) got no
 * answer. Its test 1 prints the mapped address, which must be its own
 * socket; its full run no longer finds the server unreachable. */
static void rfc3489_stun_client_gets_its_mapped_address(void)
{
	struct rh_relay r;
	char cmd[256], out[8192], want[64];
	const char *p;
	int port = 0;

	if (rh_skip_unless_sqlite())
		return;
	if (system("command -v stun >/dev/null 2>&1") != 0) {
		printf("# skip: stun (Debian stun-client) not installed\n");
		return;
	}
	REQUIRE_INT(rh_relay_start(0, "o6", NULL, &r), 0);
	snprintf(cmd, sizeof(cmd), "timeout 20 stun 127.0.0.1:%d 1 -v 2>&1",
		 r.port);
	run_capture(cmd, out, sizeof(out));
	p = strstr(out, "Opened port ");
	CHECK(p && sscanf(p, "Opened port %d", &port) == 1);
	snprintf(want, sizeof(want), "MappedAddress = 127.0.0.1:%d\n", port);
	CHECK(port > 0 && strstr(out, want) != NULL);
	if (!strstr(out, want))
		fprintf(stderr, "# stun said:\n%s", out);
	snprintf(cmd, sizeof(cmd), "timeout 30 stun 127.0.0.1:%d 2>&1", r.port);
	run_capture(cmd, out, sizeof(out));
	CHECK(strstr(out, "Primary: ") != NULL);
	CHECK(strstr(out, "Blocked") == NULL);
	CHECK(rh_relay_log_has(&r, "relay_listening"));
	CHECK_INT(rh_relay_stop(&r, SIGTERM, 5000, NULL), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(metrics_server_answers_after_300_slow_connections),
	CHECK_CASE(readyz_names_its_checks),
	CHECK_CASE(garbage_controller_key_stops_the_start),
	CHECK_CASE(relay_key_json_works_as_controller_key),
	CHECK_CASE(sighup_with_garbage_keeps_the_old_key),
	CHECK_CASE(rfc3489_stun_client_gets_its_mapped_address),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
