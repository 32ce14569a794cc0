/* weft-agent: `up` runs the node daemon in the foreground; `status`,
 * `peers`, `routes`, `ping`, `resolve`, `forward` and `down` talk to the
 * running daemon over its local API socket. See docs/agent.md. */
#include "agent/cli.h"
#include "agent/daemon.h"
#include "agent/dnsplan.h"
#include "agent/exitplan.h"
#include "agent/localapi.h"
#include "agent/streamfwd.h"
#include "shared/clock.h"
#include "shared/conf.h"
#include "shared/err.h"
#include "shared/log.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define CALL_TIMEOUT_MS 10000

static void usage(FILE *out)
{
	fprintf(out,
		"usage: weft-agent <command> [flags]\n\n"
		"commands:\n"
		"  up       join the mesh: run the agent in the foreground\n"
		"  status   state, node, mesh IPs, controller, map version\n"
		"  peers    the peers this node may talk to\n"
		"  routes   the routes the map gives this node\n"
		"  ping     ping a peer through its tunnel\n"
		"  resolve  the mapped address of a DNS or wildcard resource's "
		"name\n"
		"  forward  add LISTEN=TARGET, list, remove LISTEN: stream-mode "
		"port forwards\n"
		"  down     stop the running agent\n"
		"  version  print the version\n\n"
		"Every command takes --help. Client commands take --json,\n"
		"--socket PATH and --state-dir DIR.\n");
}

/* Where state lives by default: /var/lib/weft for root, else under the
 * user's home. */
static const char *default_state_dir(char *buf, size_t n)
{
	const char *home = getenv("HOME");

	if (geteuid() == 0 || !home || !*home)
		return "/var/lib/weft";
	snprintf(buf, n, "%s/.local/state/weft", home);
	return buf;
}

static const char *default_socket(const char *state_dir, char *buf, size_t n)
{
	if (geteuid() == 0)
		return "/run/weft/agent.sock";
	snprintf(buf, n, "%s/agent.sock", state_dir);
	return buf;
}

/* Stream mode holds two descriptors per stream (a TCP connection on each
 * agent): the soft limit on open files goes up to the hard one, so the
 * default --max-streams fits where the soft limit is 1024. */
static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* A proxy's ADDR:PORT (NULL: none) is one, else says so. */
static bool endpoint_ok(const char *flag, const char *v)
{
	struct ip_endpoint e;

	if (!v || ip_endpoint_parse(v, &e) == 0)
		return true;
	fprintf(stderr, "weft-agent up: %s %s is not ADDRESS:PORT\n", flag, v);
	return false;
}

static int cmd_up(int argc, char **argv)
{
	const char *auth_key = NULL, *state_dir = NULL;
	const char *hostname = NULL, *tun = NULL, *ca = NULL, *sock = NULL;
	const char *log_level = NULL, *metrics = NULL, *user = NULL;
	const char *dns = NULL, *resolv_conf = NULL, *dns_listen = NULL;
	const char *socks5 = NULL, *http_proxy = NULL;
	struct conf_list routes = {0}, forwards = {0}, controllers = {0};
	bool accept = false, insecure = false, no_tun = false, no_direct = false;
	bool connector = false, exit_lan = true;
	int64_t exit_table = EXIT_TABLE_DEFAULT;
	int64_t exit_fwmark = EXIT_FWMARK_DEFAULT;
	int64_t exit_prio = EXIT_PRIORITY_DEFAULT;
	int64_t port = 0, cooldown_ms = 30000, poll_ms = 10000, ttl = 2;
	int64_t peer_streams = 0, all_streams = 0, stream_idle_ms = 0;
	int64_t peer_idle_ms = 0;
	const struct conf_opt opts[] = {
		{"controller", CONF_LIST, &controllers, NULL,
		 "controller URL (https://...); repeat it or comma-separate "
		 "several replicas: the agent moves to the next one when "
		 "the one in use fails", 0, 0},
		{"auth-key", CONF_STRING, &auth_key, NULL,
		 "auth key for the first registration", 0, 0},
		{"state-dir", CONF_STRING, &state_dir, NULL,
		 "node key and credential (default /var/lib/weft for root, "
		 "~/.local/state/weft otherwise)", 0, 0},
		{"hostname", CONF_STRING, &hostname, NULL,
		 "name to register (default: the host name)", 0, 0},
		{"tun", CONF_STRING, &tun, "weft0",
		 "TUN device the agent creates for mesh traffic (see "
		 "--no-tun)", 0, 0},
		{"advertise-routes", CONF_LIST, &routes, NULL,
		 "subnet routes to offer, CIDRs (sent at registration)", 0, 0},
		{"accept-routes", CONF_BOOL, &accept, "false",
		 "use subnet routes other nodes advertise", 0, 0},
		{"controller-ca", CONF_STRING, &ca, NULL,
		 "PEM CA file to verify the controller (default: system "
		 "store)", 0, 0},
		{"insecure-http", CONF_BOOL, &insecure, "false",
		 "allow plain http to a non-loopback controller", 0, 0},
		{"socket", CONF_STRING, &sock, NULL,
		 "local API socket (default /run/weft/agent.sock for root, "
		 "<state-dir>/agent.sock otherwise)", 0, 0},
		{"no-tun", CONF_BOOL, &no_tun, "false",
		 "run without a TUN device and without privileges: peers "
		 "are reached through stream mode (--forward) and ping",
		 0, 0},
		{"forward", CONF_LIST, &forwards, NULL,
		 "stream-mode port forward LISTEN=NODE:PORT, like "
		 "127.0.0.1:8080=web:80", 0, 0},
		{"socks5", CONF_STRING, &socks5, NULL,
		 "stream-mode SOCKS5 proxy (CONNECT to node names and mesh "
		 "addresses) on ADDR:PORT, like 127.0.0.1:1080", 0, 0},
		{"http-proxy", CONF_STRING, &http_proxy, NULL,
		 "stream-mode HTTP CONNECT proxy (to node names and mesh "
		 "addresses) on ADDR:PORT, like 127.0.0.1:3128", 0, 0},
		{"max-streams-per-peer", CONF_INT, &peer_streams, "1024",
		 "stream mode: streams open at once with one peer (either "
		 "side); more are refused and counted", 1, STREAMS_QUIC_MAX},
		{"max-streams", CONF_INT, &all_streams, "4096",
		 "stream mode: streams open at once with all peers", 1,
		 1000000},
		{"stream-idle-timeout", CONF_DURATION, &stream_idle_ms, "1h",
		 "stream mode: reset a stream after this long without a byte "
		 "either way", 100, 604800000},
		{"peer-idle-timeout", CONF_DURATION, &peer_idle_ms, "5m",
		 "close a peer connection after this long without packets "
		 "or stream bytes either way while no stream is open on it "
		 "(it is set up again on the next packet)", 1000,
		 86400000},
		{"port", CONF_INT, &port, "0",
		 "UDP port for peer traffic (0: any free port)", 0, 65535},
		{"metrics-listen", CONF_STRING, &metrics, NULL,
		 "TCP address for /metrics and /healthz, like 127.0.0.1:9101 "
		 "(off when unset)", 0, 0},
		{"user", CONF_STRING, &user, NULL,
		 "run as this user once the TUN and sockets are set up "
		 "(keeping only CAP_NET_ADMIN)", 0, 0},
		{"connector", CONF_BOOL, &connector, "false",
		 "forward for the resources this node serves: IP forwarding "
		 "on and the agent's own nftables table (masquerade, MSS "
		 "clamp), removed again on exit", 0, 0},
		{"exit-node-lan", CONF_BOOL, &exit_lan, "true",
		 "with an exit node (an internet resource), keep reaching "
		 "the local networks directly (false: only the mesh and "
		 "the exit)", 0, 0},
		{"exit-table", CONF_INT, &exit_table, "5745",
		 "routing table of the exit node's default routes (not "
		 "253-255)", 1, 4294967295LL},
		{"exit-fwmark", CONF_INT, &exit_fwmark, "5745",
		 "firewall mark of the agent's own sockets, which never "
		 "enter the tunnel (decimal; 5745 = 0x1671)", 1,
		 4294967295LL},
		{"exit-rule-priority", CONF_INT, &exit_prio, "5745",
		 "priority of the exit node's first ip rule (the second "
		 "one gets the next number)", 1, 32764},
		{"dns", CONF_STRING, &dns, "auto",
		 "how the host uses the agent's DNS stub: auto, resolved "
		 "(systemd-resolved per-link DNS), file (the agent's "
		 "resolv.conf), off (change nothing)", 0, 0},
		{"resolv-conf", CONF_STRING, &resolv_conf, "/etc/resolv.conf",
		 "the resolv.conf that --dns file replaces", 0, 0},
		{"dns-listen", CONF_STRING, &dns_listen, "",
		 "where the DNS stub listens (ADDR:PORT); empty: the map's "
		 "stub addresses on port 53", 0, 0},
		{"no-direct", CONF_BOOL, &no_direct, "false",
		 "never punch direct paths: all peer traffic goes through "
		 "the relay", 0, 0},
		{"endpoint-poll", CONF_DURATION, &poll_ms, "10s",
		 "how often to look for new interface addresses besides the "
		 "kernel's change events", 1000, 3600000},
		{"punch-cooldown", CONF_DURATION, &cooldown_ms, "30s",
		 "wait before punching again after a failed attempt or a lost "
		 "direct path (doubles while failing, up to 10m)", 1, 600000},
		{"punch-ttl", CONF_INT, &ttl, "2",
		 "IP TTL (IPv6 hop limit) of the openers, the probes that "
		 "open our own NAT's mapping before a punch round's real "
		 "probes: N passes N-1 NATs in front of this host and must "
		 "expire before the peer's NAT (0: no openers)", 0, 255},
		{"log-level", CONF_STRING, &log_level, "info",
		 "debug, info, warn or error", 0, 0},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	struct daemon_cfg cfg = {0};
	struct conf_err err;
	struct conf *cf = NULL;
	char sdbuf[PATH_MAX], sockbuf[PATH_MAX + 16], msg[512], urlbuf[4096];
	enum log_level level;
	int rc, status = 2;

	if (conf_new(&cf) < 0)
		return 1;
	rc = conf_parse(cf, opts, nopts, argc, argv, NULL, NULL, &err);
	if (rc == CONF_HELP) {
		printf("usage: weft-agent up --controller URL [--auth-key KEY] "
		       "[flags]\n\n");
		conf_usage(opts, nopts, stdout);
		status = 0;
		goto out;
	}
	if (rc < 0) {
		fprintf(stderr, "weft-agent up: %s\n", err.message);
		goto out;
	}
	if (!controllers.n) {
		fprintf(stderr, "weft-agent up: --controller URL is required\n");
		goto out;
	}
	if (log_level_parse(log_level, &level) < 0) {
		fprintf(stderr, "weft-agent up: bad --log-level %s\n",
			log_level);
		goto out;
	}
	log_set_level(level);
	raise_nofile();
	if (!state_dir || !*state_dir)
		state_dir = default_state_dir(sdbuf, sizeof(sdbuf));
	if (!sock || !*sock)
		sock = default_socket(state_dir, sockbuf, sizeof(sockbuf));
	/* One comma-separated list (agent/ctlset.h drops trailing '/'). */
	urlbuf[0] = '\0';
	for (size_t i = 0; i < controllers.n; i++) {
		size_t len = strlen(urlbuf);

		if ((size_t)snprintf(urlbuf + len, sizeof(urlbuf) - len, "%s%s",
				     i ? "," : "", controllers.items[i]) >=
		    sizeof(urlbuf) - len) {
			fprintf(stderr, "weft-agent up: --controller is too "
					"long\n");
			goto out;
		}
	}
	cfg.controller = urlbuf;
	cfg.auth_key = auth_key;
	cfg.state_dir = state_dir;
	cfg.hostname = hostname;
	cfg.tun = tun;
	cfg.ca_file = ca;
	cfg.socket_path = sock;
	cfg.routes = routes.items;
	cfg.nroutes = routes.n;
	cfg.accept_routes = accept;
	cfg.insecure_http = insecure;
	cfg.no_tun = no_tun;
	cfg.forwards = forwards.items;
	cfg.nforwards = forwards.n;
	cfg.socks5 = socks5 && *socks5 ? socks5 : NULL;
	/* Bad stream-mode flags fail now, not after the registration. */
	for (size_t i = 0; i < forwards.n; i++) {
		struct streamfwd_spec fs;

		if (streamfwd_parse(forwards.items[i], &fs, msg,
				    sizeof(msg)) < 0) {
			fprintf(stderr, "weft-agent up: %s\n", msg);
			goto out;
		}
	}
	cfg.http_proxy = http_proxy && *http_proxy ? http_proxy : NULL;
	cfg.stream_limits.per_peer = (unsigned)peer_streams;
	cfg.stream_limits.total = (unsigned)all_streams;
	cfg.stream_limits.idle_ms = stream_idle_ms;
	if (!endpoint_ok("--socks5", cfg.socks5) ||
	    !endpoint_ok("--http-proxy", cfg.http_proxy))
		goto out;
	cfg.port = port;
	cfg.punch_cooldown_ms = cooldown_ms;
	cfg.peer_idle_ms = peer_idle_ms;
	cfg.punch_ttl = ttl ? ttl : -1;
	cfg.endpoint_check_ms = poll_ms;
	cfg.no_direct = no_direct;
	cfg.connector = connector;
	cfg.exit_table = exit_table;
	cfg.exit_fwmark = exit_fwmark;
	cfg.exit_priority = exit_prio;
	cfg.exit_no_lan = !exit_lan;
	{
		const struct exit_cfg ec = {.table = (uint32_t)exit_table,
					    .fwmark = (uint32_t)exit_fwmark,
					    .priority = (uint32_t)exit_prio};

		if (exitplan_cfg_check(&ec, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "weft-agent up: %s\n", msg);
			goto out;
		}
	}
	if (dnsplan_mode_parse(dns, &cfg.dns_mode) < 0) {
		fprintf(stderr, "weft-agent up: --dns must be auto, resolved, "
			"file or off (not \"%s\")\n", dns ? dns : "");
		goto out;
	}
	cfg.resolv_conf = resolv_conf;
	if (dns_listen && *dns_listen &&
	    ip_endpoint_parse(dns_listen, &cfg.dns_listen) < 0) {
		fprintf(stderr, "weft-agent up: --dns-listen must be ADDR:PORT "
			"(not \"%s\")\n", dns_listen);
		goto out;
	}
	cfg.user = user && *user ? user : NULL;
	cfg.metrics_listen = metrics && *metrics ? metrics : NULL;
	signal(SIGPIPE, SIG_IGN);
	rc = daemon_run(&cfg, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "weft-agent: %s\n", msg);
		status = 1;
		goto out;
	}
	status = 0;
out:
	conf_del(cf);
	return status;
}

/* The local API request of `forward add SPEC | list | remove LISTEN`,
 * or NULL for other words. */
static json_t *forward_request(char **pos, int npos)
{
	if (npos == 1 && strcmp(pos[0], "list") == 0)
		return json_pack("{s:s}", "cmd", "forward_list");
	if (npos == 2 && strcmp(pos[0], "add") == 0)
		return json_pack("{s:s, s:s}", "cmd", "forward_add", "spec",
				 pos[1]);
	if (npos == 2 && strcmp(pos[0], "remove") == 0)
		return json_pack("{s:s, s:s}", "cmd", "forward_remove",
				 "listen", pos[1]);
	return NULL;
}

static int cmd_client(const char *cmd, int argc, char **argv)
{
	static const char *const env_names[] = {"socket", "state-dir", NULL};
	const char *state_dir = NULL, *sock = NULL;
	bool json = false;
	const struct conf_opt opts[] = {
		{"json", CONF_BOOL, &json, "false", "print JSON for scripts",
		 0, 0},
		{"socket", CONF_STRING, &sock, NULL,
		 "the agent's local API socket", 0, 0},
		{"state-dir", CONF_STRING, &state_dir, NULL,
		 "the agent's state directory (finds the socket)", 0, 0},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	char sdbuf[PATH_MAX], sockbuf[PATH_MAX + 16];
	struct conf_err err;
	struct conf *cf = NULL;
	json_t *req = NULL, *ans = NULL, *e;
	bool resolve = strcmp(cmd, "resolve") == 0;
	bool forward = strcmp(cmd, "forward") == 0;
	char **pos = NULL;
	int npos = 0, rc, status = 2;

	if (conf_new(&cf) < 0)
		return 1;
	conf_limit_sources(cf, env_names);
	rc = conf_parse(cf, opts, nopts, argc, argv, &pos, &npos, &err);
	if (rc == CONF_HELP) {
		printf("usage: weft-agent %s [--json] [--socket PATH]%s\n\n",
		       cmd, resolve ? " NAME" : forward ? " add LISTEN=TARGET"
			     " | list | remove LISTEN" : "");
		conf_usage_for(cf, opts, nopts, stdout);
		status = 0;
		goto out;
	}
	if (rc < 0) {
		fprintf(stderr, "weft-agent %s: %s\n", cmd, err.message);
		goto out;
	}
	if (forward) {
		req = forward_request(pos, npos);
		if (!req) {
			fprintf(stderr, "weft-agent forward: want add "
				"LISTEN=TARGET, list or remove LISTEN\n");
			goto out;
		}
	} else if (npos != (resolve ? 1 : 0)) {
		fprintf(stderr, "weft-agent %s: %s\n", cmd,
			resolve ? "give exactly one name" : "takes no arguments");
		goto out;
	}
	if (!state_dir || !*state_dir)
		state_dir = default_state_dir(sdbuf, sizeof(sdbuf));
	if (!sock || !*sock)
		sock = default_socket(state_dir, sockbuf, sizeof(sockbuf));
	status = 1;
	if (!req)
		req = resolve ? json_pack("{s:s, s:s}", "cmd", cmd, "name",
					  pos[0])
			      : json_pack("{s:s}", "cmd", cmd);
	rc = req ? localapi_call(sock, req, CALL_TIMEOUT_MS, &ans)
		 : WEFT_ERR_NOMEM;
	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		fprintf(stderr, "weft-agent %s: the agent is not running (no "
				"answer on %s)\n", cmd, sock);
		goto out;
	}
	if (rc < 0) {
		fprintf(stderr, "weft-agent %s: cannot talk to the agent at "
				"%s: %s\n", cmd, sock, weft_strerror(rc));
		goto out;
	}
	e = json_object_get(ans, "error");
	if (e) {
		const char *m = json_string_value(json_object_get(e, "message"));

		fprintf(stderr, "weft-agent %s: %s\n", cmd, m ? m : "error");
		goto out;
	}
	if (json) {
		rc = json_dumpf(ans, stdout, JSON_INDENT(2) | JSON_SORT_KEYS |
					       LOCALAPI_JSON_REALS);
		putchar('\n');
	} else if (strcmp(cmd, "status") == 0) {
		rc = cli_print_status(ans, stdout);
	} else if (strcmp(cmd, "peers") == 0) {
		rc = cli_print_peers(ans, stdout);
	} else if (strcmp(cmd, "routes") == 0) {
		rc = cli_print_routes(ans, stdout);
	} else if (resolve) {
		rc = cli_print_resolve(ans, stdout);
	} else if (forward) {
		rc = json_object_get(ans, "forwards")
			     ? cli_print_forwards(ans, stdout)
			     : printf("forward %s %s\n", pos[1],
				      strcmp(pos[0], "add") == 0 ? "added"
								: "removed");
	} else {
		printf("weft-agent stopped\n");
		rc = 0;
	}
	status = rc < 0 || fflush(stdout) != 0 ? 1 : 0;
out:
	json_decref(req);
	json_decref(ans);
	conf_del(cf);
	return status;
}

/* One local API call for `ping`; prints why it failed. Returns the answer
 * (caller decrefs) or NULL. */
static json_t *ping_call(const char *sock, json_t *req)
{
	json_t *ans = NULL, *e;
	int rc;

	rc = req ? localapi_call(sock, req, CALL_TIMEOUT_MS, &ans)
		 : WEFT_ERR_NOMEM;
	json_decref(req);
	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		fprintf(stderr, "weft-agent ping: the agent is not running (no "
				"answer on %s)\n", sock);
		return NULL;
	}
	if (rc < 0) {
		fprintf(stderr, "weft-agent ping: cannot talk to the agent at "
				"%s: %s\n", sock, weft_strerror(rc));
		return NULL;
	}
	e = json_object_get(ans, "error");
	if (e) {
		const char *m = json_string_value(json_object_get(e, "message"));

		fprintf(stderr, "weft-agent ping: %s\n", m ? m : "error");
		json_decref(ans);
		return NULL;
	}
	return ans;
}

/* `weft-agent ping PEER`: asks the daemon to send one echo request
 * through the peer's tunnel, then polls for the reply. Exit status 0 when
 * the peer answered, 1 when not within --timeout. */
static int cmd_ping(int argc, char **argv)
{
	static const char *const env_names[] = {"socket", "state-dir", NULL};
	const char *state_dir = NULL, *sock = NULL;
	bool json = false;
	int64_t timeout_ms = 0;
	const struct conf_opt opts[] = {
		{"json", CONF_BOOL, &json, "false", "print JSON for scripts",
		 0, 0},
		{"socket", CONF_STRING, &sock, NULL,
		 "the agent's local API socket", 0, 0},
		{"state-dir", CONF_STRING, &state_dir, NULL,
		 "the agent's state directory (finds the socket)", 0, 0},
		{"timeout", CONF_DURATION, &timeout_ms, "5s",
		 "how long to wait for the reply", 1, 600000},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	char sdbuf[PATH_MAX], sockbuf[PATH_MAX + 16];
	struct conf_err err;
	struct conf *cf = NULL;
	char **pos = NULL;
	int npos = 0, rc, status = 2;
	json_t *start = NULL, *res = NULL;
	json_int_t seq;
	int64_t end;

	if (conf_new(&cf) < 0)
		return 1;
	conf_limit_sources(cf, env_names);
	rc = conf_parse(cf, opts, nopts, argc, argv, &pos, &npos, &err);
	if (rc == CONF_HELP) {
		printf("usage: weft-agent ping [--json] [--socket PATH] "
		       "[--timeout 5s] PEER\n\nPEER is a peer's name, node id "
		       "or mesh IP (IPv6 to ping over IPv6).\n\n");
		conf_usage_for(cf, opts, nopts, stdout);
		status = 0;
		goto out;
	}
	if (rc < 0) {
		fprintf(stderr, "weft-agent ping: %s\n", err.message);
		goto out;
	}
	if (npos != 1) {
		fprintf(stderr, "weft-agent ping: give exactly one peer\n");
		goto out;
	}
	if (!state_dir || !*state_dir)
		state_dir = default_state_dir(sdbuf, sizeof(sdbuf));
	if (!sock || !*sock)
		sock = default_socket(state_dir, sockbuf, sizeof(sockbuf));
	status = 1;
	start = ping_call(sock, json_pack("{s:s, s:s}", "cmd", "ping", "peer",
					  pos[0]));
	if (!start)
		goto out;
	seq = json_integer_value(json_object_get(start, "ping"));
	end = clock_mono_ms() + timeout_ms;
	for (;;) {
		res = ping_call(sock, json_pack("{s:s, s:I}", "cmd",
						"ping_result", "ping", seq));
		if (!res || json_is_true(json_object_get(res, "done")) ||
		    clock_mono_ms() >= end)
			break;
		json_decref(res);
		res = NULL;
		usleep(10000);
	}
	if (!res)
		goto out;
	if (json_object_update(res, start) < 0)
		goto out;
	if (json) {
		json_dumpf(res, stdout, JSON_INDENT(2) | JSON_SORT_KEYS |
					  LOCALAPI_JSON_REALS);
		putchar('\n');
	} else if (json_is_true(json_object_get(res, "done"))) {
		const char *path = json_string_value(json_object_get(res,
								     "path"));

		printf("pong from %s (%s) via %s in %.2f ms\n",
		       json_string_value(json_object_get(res, "peer")),
		       json_string_value(json_object_get(res, "address")),
		       path ? path : "?",
		       json_real_value(json_object_get(res, "rtt_ms")));
	} else {
		printf("no answer from %s (%s) within %lld ms\n",
		       json_string_value(json_object_get(res, "peer")),
		       json_string_value(json_object_get(res, "address")),
		       (long long)timeout_ms);
	}
	status = json_is_true(json_object_get(res, "done")) &&
			 fflush(stdout) == 0 ? 0 : 1;
out:
	json_decref(start);
	json_decref(res);
	conf_del(cf);
	return status;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	log_init_from_env();
	if (!cmd || strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "--help") == 0) {
		usage(cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("weft-agent %s\n", WEFT_VERSION);
		return 0;
	}
	if (strcmp(cmd, "up") == 0)
		return cmd_up(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "peers") == 0 ||
	    strcmp(cmd, "routes") == 0 || strcmp(cmd, "down") == 0 ||
	    strcmp(cmd, "resolve") == 0 || strcmp(cmd, "forward") == 0)
		return cmd_client(cmd, argc - 1, argv + 1);
	if (strcmp(cmd, "ping") == 0)
		return cmd_ping(argc - 1, argv + 1);
	fprintf(stderr, "weft-agent: unknown command %s\n\n", cmd);
	usage(stderr);
	return 2;
}
