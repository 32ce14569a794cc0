/* weft-controller: `serve` runs the REST API and web UI; the other
 * subcommands administer the same database directly. */
#include "controller/api.h"
#include "controller/bootstrap.h"
#include "controller/cli.h"
#include "controller/cred.h"
#include "controller/ctl.h"
#include "controller/datalock.h"
#include "controller/housekeep.h"
#include "controller/xff.h"
#include "controller/hub.h"
#include "controller/kek.h"
#include "controller/leader.h"
#include "controller/metrics.h"
#include "controller/relaykey.h"
#include "controller/server.h"
#include "controller/store.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/token.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often housekeeping (ephemeral node removal, ended sessions) runs. */
#define HOUSEKEEP_INTERVAL_US (10 * 1000 * 1000)

struct serve {
	struct loop *loop;
	struct server *srv;
	struct store *st;
	struct loop_timer *housekeep;
	struct hub *hub;
	struct leader *leader;
	int64_t ephemeral_grace_s;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: weft-controller <command> [flags]\n\n"
		"commands:\n"
		"  serve      run the REST API (and web UI)\n"
		"  migrate    apply pending database migrations and exit\n"
		"  users      create | list | delete | set-password users\n"
		"  keys       create | list | revoke auth keys (node registration)\n"
		"  apikeys    create | list | revoke admin API keys\n"
		"  nodes      list | show | rename | tag | expire | delete nodes\n"
		"  relays     set | list | delete relays handed to agents\n"
		"  policy     get | set | check the ACL policy document\n"
		"  relay-key  print the public key relays verify tokens with;\n"
		"             relay-key rotate-kek re-seals the signing key\n"
		"  version    print the version\n\n"
		"Every command takes --data-dir DIR or --db URL (also WEFT_DATA_DIR,\n"
		"WEFT_DB) and --help.\n");
}

/* Makes the first admin API key of a new database (controller/bootstrap.h)
 * and says so: the key itself only when no file is given. */
static int first_key(struct store *st, const char *file)
{
	char text[CRED_TEXT_SIZE];
	enum bootstrap_result res;
	int rc;

	rc = bootstrap_key(st, file, text, &res);
	if (rc == WEFT_ERR_INVAL) {
		fprintf(stderr, "weft-controller: --bootstrap-key-file %s: not "
				"an admin API key (weft_api_...)\n", file);
		return rc;
	}
	if (rc < 0 && rc > WEFT_ERR_BASE) { /* -errno: the file */
		fprintf(stderr, "weft-controller: --bootstrap-key-file %s: "
				"%s\n", file, weft_strerror(rc));
		return rc;
	}
	if (rc < 0) {
		fprintf(stderr, "weft-controller: cannot create the first API "
				"key: %s\n", store_errmsg());
		return rc;
	}
	if (res == BOOTSTRAP_SHOWN)
		printf("\nA new database: created the first admin API key. It "
		       "is shown only now:\n\n    %s\n\n"
		       "Use it as \"Authorization: Bearer <key>\". Create more "
		       "with\n    weft-controller apikeys create --description "
		       "NAME\nor POST /api/v1/api-keys, and revoke this one when "
		       "you have.\n\n", text);
	else if (res == BOOTSTRAP_WRITTEN)
		printf("\nA new database: created the first admin API key and "
		       "wrote it to %s (mode 0600).\n\n", file);
	else if (res == BOOTSTRAP_ADOPTED)
		printf("\nA new database: the first admin API key is the one in "
		       "%s.\n\n", file);
	fflush(stdout);
	memset(text, 0, sizeof(text));
	return 0;
}

static void on_stop(int signo, void *ctx)
{
	struct serve *s = ctx;

	log_info("shutdown", "signal=%s", strsignal(signo));
	loop_stop(s->loop);
}

static void on_hup(int signo, void *ctx)
{
	struct serve *s = ctx;
	char err[512], q[600];

	(void)signo;
	if (!server_is_tls(s->srv)) {
		log_info("reload", "tls=off");
		return;
	}
	if (server_reload_tls(s->srv, err, sizeof(err)) < 0)
		log_error("tls_reload_failed", "reason=%s",
			  log_q(q, sizeof(q), err));
	else
		log_info("tls_reloaded", NULL);
}

static void on_housekeep(struct loop_timer *t, void *ctx)
{
	struct serve *s = ctx;
	int deleted = 0, rc;

	loop_timer_start(t, HOUSEKEEP_INTERVAL_US);
	if (!leader_is(s->leader))
		return; /* another replica's job */
	rc = housekeep_run(s->st, clock_wall_s(), s->ephemeral_grace_s,
			   &deleted);
	if (rc < 0) {
		char q[256];

		log_warn_err(rc, "housekeeping_failed", "detail=%s",
			     log_q(q, sizeof(q), store_errmsg()));
	} else if (deleted) {
		log_info("ephemeral_nodes_removed", "count=%d", deleted);
	}
}

/* A new leader does the chores at once rather than at its next round. */
static void on_elected(void *ctx)
{
	struct serve *s = ctx;

	if (s->housekeep)
		loop_timer_start(s->housekeep, 0);
}

static int cmd_serve(int argc, char **argv)
{
	struct ctl_common common = {0};
	const char *listen = NULL, *cert = NULL, *key = NULL, *url = NULL;
	int64_t threads = 0, grace_ms = 0;
	struct conf_opt opts[CTL_COMMON_NOPTS + 15];
	const char *kek_file = NULL, *key_file = NULL, *listen_dsn = NULL;
	struct datalock *dlock = NULL;
	char db_url[4096];
	char sealed_id[KEK_ID_SIZE] = "";
	struct kek kek;
	struct serve s = {0};
	struct metrics *m = NULL;
	struct api *api = NULL;
	struct conf *cf = NULL;
	char errmsg[512], *priv = NULL, *pub = NULL;
	const char *dns_suffix = NULL;
	int64_t keepalive_ms = 0, offline_ms = 0, token_ttl_ms = 0;
	int64_t presence_ms = 0;
	struct conf_list proxies = {0};
	struct xff_trust trust = {0};
	size_t n = 0;
	int rc, ret = 1;

	ctl_common_opts(&common, opts);
	n = CTL_COMMON_NOPTS;
	opts[n++] = (struct conf_opt){"listen", CONF_STRING, &listen,
		"127.0.0.1:8080", "address:port to serve on (port 0 = any)", 0, 0};
	opts[n++] = (struct conf_opt){"tls-cert", CONF_STRING, &cert, NULL,
		"PEM certificate chain; serves HTTPS when set", 0, 0};
	opts[n++] = (struct conf_opt){"tls-key", CONF_STRING, &key, NULL,
		"PEM private key for --tls-cert", 0, 0};
	opts[n++] = (struct conf_opt){"public-url", CONF_STRING, &url, NULL,
		"URL agents use to reach this controller", 0, 0};
	opts[n++] = (struct conf_opt){"trusted-proxy", CONF_LIST, &proxies,
		NULL, "reverse proxies (addresses or prefixes) whose "
		"X-Forwarded-For names the client (login rate limit, logs, "
		"audit)", 0, 0};
	opts[n++] = (struct conf_opt){"threads", CONF_INT, &threads, "2",
		"HTTP worker threads", 1, 64};
	opts[n++] = (struct conf_opt){"ephemeral-grace", CONF_DURATION,
		&grace_ms, "5m",
		"remove ephemeral nodes this long after they were last seen",
		1000, 365LL * 24 * 3600 * 1000};
	opts[n++] = (struct conf_opt){"dns-suffix", CONF_STRING, &dns_suffix,
		"weft.internal", "DNS suffix of node names in maps", 0, 0};
	opts[n++] = (struct conf_opt){"poll-keepalive", CONF_DURATION,
		&keepalive_ms, "30s",
		"held map polls answer \"no change\" after this plus up to 5/6 "
		"of it (30s: after 30-55s)",
		1000, 3600 * 1000};
	opts[n++] = (struct conf_opt){"offline-grace", CONF_DURATION,
		&offline_ms, "60s",
		"a node that has not polled for this long is marked offline",
		1000, 24 * 3600 * 1000};
	opts[n++] = (struct conf_opt){"relay-token-ttl", CONF_DURATION,
		&token_ttl_ms, "60s",
		"relay token lifetime: how long a deleted node keeps relay "
		"service; renewed through the map (docs/relay.md)",
		5000, 3600 * 1000};
	opts[n++] = (struct conf_opt){"kek-file", CONF_STRING, &kek_file, NULL,
		"key-encryption key sealing the relay signing key (also "
		"WEFT_KEK); default <data-dir>/" CTL_KEK_FILE " on SQLite", 0, 0};
	opts[n++] = (struct conf_opt){"bootstrap-key-file", CONF_STRING,
		&key_file, NULL, "on a new database: adopt the admin API key "
		"this file holds, or write a new one to it (mode 0600) "
		"instead of printing it", 0, 0};
	opts[n++] = (struct conf_opt){"presence-interval", CONF_DURATION,
		&presence_ms, "2s",
		"a held poll is woken at most once per this interval by peers "
		"only going online/offline (content changes: at once)",
		1, 600 * 1000};
	opts[n++] = (struct conf_opt){"listen-dsn", CONF_STRING, &listen_dsn,
		NULL, "PostgreSQL: the server for this replica's two session "
		"connections (change-feed LISTEN, leadership lock) when --db "
		"goes through a transaction-mode pooler such as PgBouncer "
		"(default: --db)", 0, 0};
	rc = ctl_parse("serve [flags]", opts, n, argc, argv, false, &cf, NULL,
		       NULL);
	if (rc != 0) {
		ret = rc > 0 ? 0 : 2;
		goto out;
	}
	for (size_t i = 0; i < proxies.n; i++) {
		if (xff_trust_add(&trust, proxies.items[i]) < 0) {
			fprintf(stderr, "weft-controller: --trusted-proxy %s: "
					"not an address or prefix (at most %d)\n",
				proxies.items[i], XFF_MAX_TRUSTED);
			ret = 2;
			goto out;
		}
	}
	/* SQLite: one serve per database file, taken before migrations. */
	if (ctl_db_url(&common, db_url, sizeof(db_url)) < 0)
		goto out;
	if (datalock_take(db_url, &dlock, errmsg, sizeof(errmsg)) < 0) {
		fprintf(stderr, "weft-controller: %s\n", errmsg);
		goto out;
	}
	if (listen_dsn && strncmp(db_url, "sqlite://", 9) == 0) {
		fprintf(stderr, "weft-controller: --listen-dsn needs a "
				"PostgreSQL --db\n");
		ret = 2;
		goto out;
	}
	if (ctl_open_store(&common, &s.st) < 0)
		goto out;
	s.ephemeral_grace_s = grace_ms / 1000;
	if (first_key(s.st, key_file) < 0)
		goto out;
	if (ctl_load_kek(&common, kek_file, true, &kek) < 0)
		goto out;
	rc = relaykey_ensure(s.st, &kek, &priv, &pub, sealed_id);
	if (rc == WEFT_ERR_AUTH)
		fprintf(stderr, "weft-controller: wrong key-encryption key: the "
				"relay signing key in the database is sealed "
				"under key %s, this controller has key %s "
				"(--kek-file / WEFT_KEK)\n",
			sealed_id[0] ? sealed_id : "?", kek.id);
	else if (rc < 0)
		fprintf(stderr, "weft-controller: cannot set up the relay "
				"signing key: %s\n", weft_strerror(rc));
	kek_wipe(&kek);
	if (rc < 0)
		goto out;
	/* Signals are blocked (by loop_signal) before any thread starts, so
	 * that only the loop's signalfd receives them. */
	rc = loop_new(&s.loop);
	if (rc == 0)
		rc = loop_signal(s.loop, SIGTERM, on_stop, &s);
	if (rc == 0)
		rc = loop_signal(s.loop, SIGINT, on_stop, &s);
	if (rc == 0)
		rc = loop_signal(s.loop, SIGHUP, on_hup, &s);
	if (rc < 0) {
		fprintf(stderr, "weft-controller: %s\n", weft_strerror(rc));
		goto out;
	}
	rc = hub_start(s.st,
		       &(struct hub_options){
			       .keepalive_min_ms = keepalive_ms,
			       .keepalive_max_ms = keepalive_ms +
						   keepalive_ms * 5 / 6,
			       .offline_grace_ms = offline_ms,
			       .presence_min_ms = presence_ms,
			       .dns_suffix = dns_suffix,
			       .token_ttl_s = token_ttl_ms / 1000,
			       .relay_signing_key = priv,
			       .listen_dsn = listen_dsn},
		       &s.hub, errmsg, sizeof(errmsg));
	if (rc < 0) {
		fprintf(stderr, "weft-controller: %s\n", errmsg);
		goto out;
	}
	rc = leader_new(s.st, listen_dsn, s.loop, on_elected, &s, &s.leader);
	if (rc == 0)
		rc = metrics_new(&m);
	if (rc == 0)
		rc = api_new(s.st, m,
			     &(struct api_options){
				     .public_url = url,
				     .ephemeral_grace_s = s.ephemeral_grace_s,
				     .hub = s.hub,
				     .dns_suffix = dns_suffix,
				     .leader = s.leader},
			     &api);
	if (rc == 0)
		rc = loop_timer_new(s.loop, on_housekeep, &s, &s.housekeep);
	if (rc < 0) {
		fprintf(stderr, "weft-controller: %s\n", weft_strerror(rc));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = server_start(&(struct server_options){.listen = listen,
						   .tls_cert = cert,
						   .tls_key = key,
						   .threads = (unsigned)threads,
						   .trusted_proxies = &trust},
			  api, &s.srv, errmsg, sizeof(errmsg));
	if (rc < 0) {
		fprintf(stderr, "weft-controller: %s\n", errmsg);
		goto out;
	}
	log_info("listening", "addr=%s port=%d tls=%s db=%s", listen,
		 server_port(s.srv), cert ? "on" : "off", store_backend(s.st));
	{
		/* One plain line on stdout that people and tests can read. */
		char host[128];
		const char *colon = strrchr(listen, ':');
		size_t hl = colon ? (size_t)(colon - listen) : 0;

		snprintf(host, sizeof(host), "%.*s", (int)hl, listen);
		printf("weft-controller listening on %s://%s:%d\n",
		       cert ? "https" : "http", hl ? host : "0.0.0.0",
		       server_port(s.srv));
		fflush(stdout);
	}
	loop_timer_start(s.housekeep, 0);
	rc = loop_run(s.loop);
	ret = rc < 0 ? 1 : 0;
out:
	/* Held polls are answered first: the HTTP server cannot stop while
	 * connections are suspended. */
	if (s.hub)
		hub_drain(s.hub);
	server_stop(s.srv);
	hub_stop(s.hub);
	leader_del(s.leader);
	loop_del(s.loop);
	token_key_free(priv);
	token_key_free(pub);
	api_del(api);
	metrics_del(m);
	store_close(s.st);
	datalock_release(dlock);
	conf_del(cf);
	return ret;
}

static int cmd_migrate(int argc, char **argv)
{
	struct ctl_common common = {0};
	struct conf_opt opts[CTL_COMMON_NOPTS];
	struct store *st = NULL;
	struct conf *cf = NULL;
	int version = 0, rc, ret = 1;

	ctl_common_opts(&common, opts);
	rc = ctl_parse("migrate [flags]", opts, CTL_COMMON_NOPTS, argc, argv, true,
		       &cf, NULL, NULL);
	if (rc != 0) {
		ret = rc > 0 ? 0 : 2;
		goto out;
	}
	/* Opening applies every pending migration, or refuses a newer
	 * database with a clear message. */
	if (ctl_open_store(&common, &st) < 0)
		goto out;
	if (store_schema_version(st, &version) < 0)
		goto out;
	printf("database schema at version %d (%s)\n", version,
	       store_backend(st));
	ret = 0;
out:
	store_close(st);
	conf_del(cf);
	return ret;
}

/* relay-key rotate-kek: re-seals the relay signing key under a new
 * key-encryption key. The signing key itself, and so every relay's
 * --controller-key and every token, stays the same. */
static int cmd_rotate_kek(int argc, char **argv)
{
	struct ctl_common common = {0};
	struct conf_opt opts[CTL_COMMON_NOPTS + 2];
	const char *kek_file = NULL, *new_file = NULL;
	char sealed_id[KEK_ID_SIZE] = "";
	struct kek old, new;
	struct store *st = NULL;
	struct conf *cf = NULL;
	size_t n;
	int rc, ret = 1;

	memset(&old, 0, sizeof(old));
	memset(&new, 0, sizeof(new));
	ctl_common_opts(&common, opts);
	n = CTL_COMMON_NOPTS;
	opts[n++] = (struct conf_opt){"kek-file", CONF_STRING, &kek_file, NULL,
		"the current key-encryption key (also WEFT_KEK; default "
		"<data-dir>/" CTL_KEK_FILE " on SQLite)", 0, 0};
	opts[n++] = (struct conf_opt){"new-kek-file", CONF_STRING, &new_file,
		NULL, "the new key-encryption key (required; base64 of 32 "
		"random bytes)", 0, 0};
	rc = ctl_parse("relay-key rotate-kek --new-kek-file FILE [flags]", opts,
		       n, argc, argv, true, &cf, NULL, NULL);
	if (rc != 0) {
		ret = rc > 0 ? 0 : 2;
		goto out;
	}
	if (!new_file || !*new_file) {
		fprintf(stderr, "weft-controller: relay-key rotate-kek needs "
				"--new-kek-file FILE\n");
		ret = 2;
		goto out;
	}
	if (ctl_open_store(&common, &st) < 0 ||
	    ctl_load_kek(&common, kek_file, false, &old) < 0)
		goto out;
	rc = kek_load_file(new_file, &new);
	if (rc < 0) {
		fprintf(stderr, "weft-controller: cannot read the new "
				"key-encryption key %s: %s\n",
			new_file, weft_strerror(rc));
		goto out;
	}
	rc = relaykey_rotate_kek(st, &old, &new, sealed_id);
	if (rc == WEFT_ERR_AUTH) {
		fprintf(stderr, "weft-controller: wrong current key-encryption "
				"key: the signing key is sealed under key %s, "
				"not %s\n", sealed_id[0] ? sealed_id : "?", old.id);
		goto out;
	}
	if (rc < 0) {
		fprintf(stderr, "weft-controller: cannot re-seal the relay "
				"signing key: %s\n", weft_strerror(rc));
		goto out;
	}
	printf("relay signing key re-sealed: key-encryption key %s -> %s\n"
	       "Give %s to every controller (--kek-file or WEFT_KEK%s) "
	       "before it next starts;\nrunning controllers keep signing.\n",
	       old.id, new.id, new_file,
	       ", or replace <data-dir>/" CTL_KEK_FILE " on SQLite");
	ret = 0;
out:
	kek_wipe(&old);
	kek_wipe(&new);
	store_close(st);
	conf_del(cf);
	return ret;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("weft-controller %s\n", WEFT_VERSION);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "migrate") == 0)
		return cmd_migrate(argc - 1, argv + 1);
	if (strcmp(cmd, "relay-key") == 0 && argc > 2 &&
	    strcmp(argv[2], "rotate-kek") == 0)
		return cmd_rotate_kek(argc - 2, argv + 2);
	if (cli_has(cmd))
		return cli_main(argc - 1, argv + 1);
	fprintf(stderr, "weft-controller: unknown command \"%s\"\n\n", cmd);
	usage(stderr);
	return 2;
}
