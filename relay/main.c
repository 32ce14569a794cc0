/* weft-relay: the stateless QUIC relay. This file reads flags, loads the
 * keys, starts the server and the metrics endpoint, and handles signals:
 * SIGTERM/SIGINT close every connection with SHUTTING_DOWN and exit 0,
 * SIGHUP reloads the controller key (and reports a changed relay key). */
#include "relay/limits.h"
#include "relay/metrics.h"
#include "shared/metricsd.h"
#include "relay/server.h"
#include "shared/conf.h"
#include "shared/err.h"
#include "shared/ident.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/token.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE_MAX (64 * 1024)
/* Time between closing every connection on SIGTERM and leaving the loop,
 * so the CONNECTION_CLOSE packets leave the sockets. */
#define DRAIN_US 200000

struct flags {
	struct conf_list listen;
	const char *key;
	const char *controller_key;
	const char *metrics_listen;
	const char *forward_rate;
	const char *signal_rate;
	const char *retry;
	const char *log_level;
	int64_t max_conns;
	int64_t retry_rate;
	int64_t idle_timeout_ms;
	int64_t stream_buffer;
};

struct relay_main {
	struct loop *loop;
	struct server *srv;
	struct metricsd *metrics;
	struct loop_timer *drain;
	const struct flags *f;
	uint8_t pin[IDENT_KEY_LEN];
	bool ckey_loaded;
	bool stopping;
};

/* Reads a whole small text file. Returns 0 and *out (malloc'd,
 * NUL-terminated), -errno, or WEFT_ERR_TOOBIG. */
static int read_text(const char *path, char **out)
{
	char *b = NULL;
	size_t n = 0;
	ssize_t k;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	b = malloc(KEY_FILE_MAX + 1);
	if (!b) {
		r = WEFT_ERR_NOMEM;
		goto out;
	}
	while ((k = read(fd, b + n, KEY_FILE_MAX + 1 - n)) > 0) {
		n += (size_t)k;
		if (n > KEY_FILE_MAX) {
			r = WEFT_ERR_TOOBIG;
			goto out;
		}
	}
	if (k < 0) {
		r = -errno;
		goto out;
	}
	b[n] = '\0';
	*out = b;
	b = NULL;
out:
	free(b);
	close(fd);
	return r;
}

/* What a controller key file must hold, for the error messages. */
#define CKEY_EXPECTED                                                        \
	"\"the controller's ES256 (ECDSA P-256) public key: the PEM that "  \
	"weft-controller relay-key prints (-----BEGIN PUBLIC KEY-----) or "   \
	"the JSON answer of GET /api/v1/relay-key\""

/* Reads and checks the controller key file. Returns 0 and *pem (malloc'd)
 * or a negative code, after logging why at level error (start) or warn
 * (reload: the key in force stays). A key that does not parse is refused
 * here because the relay would otherwise start and then fail every AUTH
 * with bad_token. */
static int load_controller_key(const char *path, bool reload, char **pem)
{
	char *text = NULL, q[512];
	const char *problem = "unreadable";
	bool bad_text;
	int r;

	r = read_text(path, &text);
	if (r == 0)
		r = token_pubkey_parse(text, pem);
	bad_text = text && (r == WEFT_ERR_PARSE || r == WEFT_ERR_UNSUPPORTED);
	if (text && r == WEFT_ERR_UNSUPPORTED)
		problem = "\"a key of another algorithm or curve\"";
	else if (bad_text)
		problem = "\"neither a PEM public key nor the relay-key JSON\"";
	if (r < 0)
		(reload ? log_warn_err : log_error_err)(
			r, reload ? "reload_failed" : "controller_key_invalid",
			"what=controller_key path=%s problem=%s%s%s%s",
			log_q(q, sizeof(q), path), problem,
			bad_text ? " expected=" : "",
			bad_text ? CKEY_EXPECTED : "",
			reload ? " kept=previous_key" : "");
	free(text);
	return r;
}

/* Loads the relay key, generating and saving it when the file is
 * missing. */
static int load_ident(const char *path, bool create, struct ident **out)
{
	int r = ident_load(path, out);

	if (r != -ENOENT || !create)
		return r;
	r = ident_generate(out);
	if (r < 0)
		return r;
	r = ident_save(*out, path);
	if (r < 0) {
		ident_del(*out);
		*out = NULL;
		return r;
	}
	log_info("relay_key_generated", "path=%s", path);
	return 0;
}

/* ip_endpoint_parse with port 0 allowed (any free port), for tests. */
static int parse_listen(const char *s, struct ip_endpoint *out)
{
	size_t n = strlen(s);
	char tmp[IP_ENDPOINT_STRLEN + 1];
	int r;

	if (n >= 2 && strcmp(s + n - 2, ":0") == 0 && n < sizeof(tmp)) {
		memcpy(tmp, s, n + 1);
		tmp[n - 1] = '1';
		r = ip_endpoint_parse(tmp, out);
		if (r == 0)
			out->port = 0;
		return r;
	}
	return ip_endpoint_parse(s, out);
}

static int parse_retry(const char *s, enum server_retry *out)
{
	if (strcmp(s, "auto") == 0)
		*out = SERVER_RETRY_AUTO;
	else if (strcmp(s, "always") == 0)
		*out = SERVER_RETRY_ALWAYS;
	else if (strcmp(s, "never") == 0)
		*out = SERVER_RETRY_NEVER;
	else
		return WEFT_ERR_PARSE;
	return 0;
}

static void on_drained(struct loop_timer *t, void *ctx)
{
	struct relay_main *m = ctx;

	loop_stop(m->loop);
}

static void on_term(int signo, void *ctx)
{
	struct relay_main *m = ctx;

	if (m->stopping)
		return;
	m->stopping = true;
	log_info("relay_stopping", "signal=%d connections=%u", signo,
		 server_conn_count(m->srv));
	server_shutdown(m->srv);
	loop_timer_start(m->drain, DRAIN_US);
}

static void on_hup(int signo, void *ctx)
{
	struct relay_main *m = ctx;
	struct ident *id = NULL;
	uint8_t pin[IDENT_KEY_LEN];
	char *pem = NULL, q[512];
	int r;

	r = load_controller_key(m->f->controller_key, true, &pem);
	if (r == 0) {
		r = server_set_controller_key(m->srv, pem);
		if (r < 0)
			log_warn_err(r, "reload_failed",
				     "what=controller_key path=%s",
				     log_q(q, sizeof(q), m->f->controller_key));
		else
			log_info("reloaded", "what=controller_key path=%s",
				 log_q(q, sizeof(q), m->f->controller_key));
	}
	free(pem);
	/* A changed key file becomes the identity of new connections; open
	 * ones finish with the old key. The pin changes with it: the
	 * controller's relay list must get the new pin (see docs/relay.md). */
	r = ident_load(m->f->key, &id);
	if (r < 0) {
		log_warn_err(r, "reload_failed", "what=key path=%s", m->f->key);
		return;
	}
	ident_public_key(id, pin);
	if (memcmp(pin, m->pin, sizeof(pin)) != 0) {
		char b64[64];

		r = server_set_ident(m->srv, id);
		if (r < 0) {
			log_warn_err(r, "reload_failed", "what=key path=%s",
				     m->f->key);
		} else {
			memcpy(m->pin, pin, sizeof(pin));
			ident_public_b64(id, b64);
			log_info("reloaded", "what=key path=%s pin=%s",
				 m->f->key, b64);
			printf("relay pin: %s\n", b64);
			fflush(stdout);
		}
	}
	ident_del(id);
}

static int metrics_fill(struct buf *out, void *ctx)
{
	return server_metrics(ctx, out);
}

/* /readyz. The relay only starts serving once its sockets are bound and
 * a valid controller key is loaded, so those two hold while it runs; the
 * answer turns 503 during the drain after SIGTERM, so that a load
 * balancer stops sending new clients before the process goes. */
static size_t relay_ready(struct metricsd_check *ck, size_t cap, void *ctx)
{
	struct relay_main *m = ctx;
	struct ip_endpoint e;
	bool bound = true;
	size_t i;

	if (cap < 3)
		return 0;
	for (i = 0; i < m->f->listen.n; i++)
		if (server_local(m->srv, i, &e) < 0 || e.port == 0)
			bound = false;
	ck[0] = (struct metricsd_check){"sockets", bound};
	ck[1] = (struct metricsd_check){"controller_key", m->ckey_loaded};
	ck[2] = (struct metricsd_check){"not_draining", !m->stopping};
	return 3;
}

int main(int argc, char **argv)
{
	struct flags f = {0};
	const struct conf_opt opts[] = {
		{"listen", CONF_LIST, &f.listen, "0.0.0.0:3478",
		 "UDP address to serve QUIC, relay frames and STUN on "
		 "(IPv6: [::]:3478)", 0, 0},
		{"key", CONF_STRING, &f.key, "relay.key",
		 "the relay's Ed25519 key (PEM); generated when missing", 0, 0},
		{"controller-key", CONF_STRING, &f.controller_key, NULL,
		 "the controller's token public key: the PEM from "
		 "`weft-controller relay-key` or the JSON of "
		 "GET /api/v1/relay-key", 0, 0},
		{"metrics-listen", CONF_STRING, &f.metrics_listen, NULL,
		 "TCP address for /metrics and /healthz (off when unset)", 0,
		 0},
		{"max-conns", CONF_INT, &f.max_conns, "1024",
		 "control connections per listen address", 1, 1000000},
		{"forward-rate", CONF_STRING, &f.forward_rate, "250000/500000",
		 "relay frames per second per node, RATE[/BURST] (0: no limit)",
		 0, 0},
		{"signal-rate", CONF_STRING, &f.signal_rate, "20/50",
		 "signals per second per node, RATE[/BURST] (0: no limit)", 0,
		 0},
		{"retry", CONF_STRING, &f.retry, "auto",
		 "address validation with QUIC Retry: always, auto or never", 0,
		 0},
		{"retry-rate", CONF_INT, &f.retry_rate, "200",
		 "auto Retry above this many handshakes per second", 1,
		 1000000},
		{"idle-timeout", CONF_DURATION, &f.idle_timeout_ms, "30s",
		 "close connections idle this long", 1000, 3600000},
		{"stream-buffer", CONF_INT, &f.stream_buffer, "65536",
		 "bytes queued per control stream before the client is dropped",
		 4096, 16777216},
		{"log-level", CONF_STRING, &f.log_level, NULL,
		 "debug, info, warn or error", 0, 0},
	};
	size_t nopts = sizeof(opts) / sizeof(opts[0]);
	struct ip_endpoint listen[SERVER_MAX_LISTEN];
	struct server_options so = {0};
	struct relay_main m = {0};
	struct conf *conf = NULL;
	struct conf_err cerr;
	struct ident *id = NULL;
	char *ckey = NULL;
	char b64[IDENT_B64_LEN], text[IP_ENDPOINT_STRLEN];
	enum log_level lvl;
	int r, status = 1;
	size_t i;

	if (argc > 1 && (strcmp(argv[1], "--version") == 0 ||
			 strcmp(argv[1], "version") == 0)) {
		printf("weft-relay %s\n", WEFT_VERSION);
		return 0;
	}
	log_init_from_env();
	signal(SIGPIPE, SIG_IGN);
	if (conf_new(&conf) < 0)
		return 1;
	r = conf_parse(conf, opts, nopts, argc, argv, NULL, NULL, &cerr);
	if (r == CONF_HELP) {
		printf("usage: weft-relay [flags]\n\n");
		conf_usage(opts, nopts, stdout);
		status = 0;
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "weft-relay: %s\n", cerr.message);
		status = 2;
		goto out;
	}
	if (f.log_level) {
		if (log_level_parse(f.log_level, &lvl) < 0) {
			fprintf(stderr, "weft-relay: bad --log-level\n");
			status = 2;
			goto out;
		}
		log_set_level(lvl);
	}
	if (!f.controller_key) {
		fprintf(stderr, "weft-relay: --controller-key is required\n");
		status = 2;
		goto out;
	}
	if (f.listen.n == 0 || f.listen.n > SERVER_MAX_LISTEN) {
		fprintf(stderr, "weft-relay: give 1 to %d --listen addresses\n",
			SERVER_MAX_LISTEN);
		status = 2;
		goto out;
	}
	for (i = 0; i < f.listen.n; i++) {
		if (parse_listen(f.listen.items[i], &listen[i]) < 0) {
			fprintf(stderr, "weft-relay: bad --listen %s\n",
				f.listen.items[i]);
			status = 2;
			goto out;
		}
	}
	if (limits_rate_parse(f.forward_rate, &so.relay.forward) < 0 ||
	    limits_rate_parse(f.signal_rate, &so.relay.signal) < 0 ||
	    parse_retry(f.retry, &so.retry) < 0) {
		fprintf(stderr, "weft-relay: bad --forward-rate, --signal-rate "
				"or --retry\n");
		status = 2;
		goto out;
	}
	r = load_controller_key(f.controller_key, false, &ckey);
	if (r < 0)
		goto out;
	r = load_ident(f.key, true, &id);
	if (r < 0) {
		log_error_err(r, "relay_key_unusable", "path=%s", f.key);
		goto out;
	}
	ident_public_key(id, m.pin);
	m.f = &f;
	m.ckey_loaded = true;
	r = loop_new(&m.loop);
	if (r < 0)
		goto out;
	so.listen = listen;
	so.nlisten = f.listen.n;
	so.id = id;
	so.controller_key = ckey;
	so.max_conns = (unsigned)f.max_conns;
	so.retry_rate = (uint32_t)f.retry_rate;
	so.idle_timeout_ms = (uint32_t)f.idle_timeout_ms;
	so.max_stream_buffer = (size_t)f.stream_buffer;
	r = server_new(m.loop, &so, &m.srv);
	if (r < 0) {
		log_error_err(r, "relay_start_failed", NULL);
		goto out;
	}
	if (f.metrics_listen) {
		struct ip_endpoint me;

		if (parse_listen(f.metrics_listen, &me) < 0) {
			fprintf(stderr, "weft-relay: bad --metrics-listen\n");
			status = 2;
			goto out;
		}
		r = metricsd_new(m.loop, &me, metrics_fill, m.srv, &m.metrics);
		if (r < 0) {
			log_error_err(r, "metrics_start_failed", "listen=%s",
				      f.metrics_listen);
			goto out;
		}
		metricsd_set_ready(m.metrics, relay_ready, &m);
		me.port = metricsd_port(m.metrics);
		ip_endpoint_format(&me, text, sizeof(text));
		printf("metrics listening on %s\n", text);
	}
	if (loop_timer_new(m.loop, on_drained, &m, &m.drain) < 0 ||
	    loop_signal(m.loop, SIGTERM, on_term, &m) < 0 ||
	    loop_signal(m.loop, SIGINT, on_term, &m) < 0 ||
	    loop_signal(m.loop, SIGHUP, on_hup, &m) < 0)
		goto out;
	ident_public_b64(id, b64);
	printf("relay pin: %s\n", b64);
	for (i = 0; i < f.listen.n; i++) {
		struct ip_endpoint e;

		server_local(m.srv, i, &e);
		ip_endpoint_format(&e, text, sizeof(text));
		printf("relay listening on %s\n", text);
		log_info("relay_listening", "addr=%s pin=%s", text, b64);
	}
	fflush(stdout);
	r = loop_run(m.loop);
	if (r < 0) {
		log_error_err(r, "loop_failed", NULL);
		goto out;
	}
	log_info("relay_stopped", NULL);
	status = 0;
out:
	metricsd_del(m.metrics);
	server_del(m.srv);
	loop_timer_del(m.drain);
	loop_del(m.loop);
	ident_del(id);
	free(ckey);
	conf_del(conf);
	return status;
}
