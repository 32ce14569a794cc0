/* Client output: see cli.h. Tables are computed in two passes: the width
 * of each column, then the rows. */
#include "agent/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define COLS_MAX 16
#define CELL_MAX 256

static const char *str_or(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : def;
}

/* A cell as text: strings as is, arrays joined with ',', booleans as
 * yes/no, integers in decimal, reals with one decimal, null and missing
 * as "-". */
static void cell(const json_t *v, char *buf, size_t n)
{
	size_t i, len = 0;
	const json_t *x;

	buf[0] = '\0';
	if (!v || json_is_null(v)) {
		snprintf(buf, n, "-");
	} else if (json_is_string(v)) {
		snprintf(buf, n, "%s", json_string_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "no");
	} else if (json_is_integer(v)) {
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		snprintf(buf, n, "%.1f", json_real_value(v));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			const char *s = json_string_value(x);
			int w;

			if (len >= n || (!s && !json_is_integer(x)))
				continue;
			if (s)
				w = snprintf(buf + len, n - len, "%s%s",
					     i ? "," : "", s);
			else
				w = snprintf(buf + len, n - len, "%s%lld",
					     i ? "," : "",
					     (long long)json_integer_value(x));
			len += w > 0 ? (size_t)w : 0;
		}
	}
	if (!buf[0])
		snprintf(buf, n, "-");
}

struct col {
	const char *title;
	const char *key; /* "a.b": member b of member a */
};

static const json_t *at(const json_t *r, const char *key)
{
	const char *dot = strchr(key, '.');
	char head[32];

	if (!dot || (size_t)(dot - key) >= sizeof(head))
		return json_object_get(r, key);
	memcpy(head, key, (size_t)(dot - key));
	head[dot - key] = '\0';
	return json_object_get(json_object_get(r, head), dot + 1);
}

static int table(const json_t *rows, const struct col *cols, size_t ncols,
		 FILE *out)
{
	size_t width[COLS_MAX] = {0}, i, c;
	char buf[CELL_MAX];
	const json_t *r;

	for (c = 0; c < ncols; c++)
		width[c] = strlen(cols[c].title);
	json_array_foreach(rows, i, r) {
		for (c = 0; c < ncols; c++) {
			cell(at(r, cols[c].key), buf, sizeof(buf));
			if (strlen(buf) > width[c])
				width[c] = strlen(buf);
		}
	}
	for (c = 0; c < ncols; c++)
		fprintf(out, "%-*s%s", c + 1 < ncols ? (int)width[c] : 0,
			cols[c].title, c + 1 < ncols ? "  " : "\n");
	json_array_foreach(rows, i, r) {
		for (c = 0; c < ncols; c++) {
			cell(at(r, cols[c].key), buf, sizeof(buf));
			fprintf(out, "%-*s%s", c + 1 < ncols ? (int)width[c] : 0,
				buf, c + 1 < ncols ? "  " : "\n");
		}
	}
	return ferror(out) ? -EIO : 0;
}

static long long num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* The data-plane counters of status (docs/agent.md), two lines: what
 * came out of peer tunnels, and what could not go into one. */
static void print_dataplane(const json_t *dp, FILE *out)
{
	if (!json_is_object(dp))
		return;
	fprintf(out, "dataplane:   in: allowed %lld (return traffic %lld), "
		     "denied %lld (%lld not to this node), malformed %lld, "
		     "spoofed %lld, undelivered "
		     "%lld, echo answered %lld, tun write errors %lld; "
		     "flows %lld\n",
		num(dp, "allowed"), num(dp, "allowed_tracked"),
		num(dp, "denied"), num(dp, "denied_forward"),
		num(dp, "malformed"), num(dp, "spoofed"),
		num(dp, "undelivered"), num(dp, "echo_answered"),
		num(dp, "tun_write_errors"), num(dp, "flows"));
	fprintf(out, "             out: malformed %lld, no route %lld, "
		     "refused early %lld, dropped %lld\n",
		num(dp, "tx_malformed"), num(dp, "tx_noroute"),
		num(dp, "denied_early"), num(dp, "tx_dropped"));
}

/* The connector line: its nftables table and the forwarding settings. */
static void print_connector(const json_t *c, FILE *out)
{
	if (!json_is_object(c)) {
		fprintf(out, "connector:   off\n");
		return;
	}
	fprintf(out, "connector:   forwarding from %s, table %s %s (handle "
		     "%lld), ip_forward %s, ipv6 forwarding %s\n",
		str_or(c, "tun", "?"), str_or(c, "family", "?"),
		str_or(c, "table", "?"), num(c, "handle"),
		str_or(c, "ipv4_forwarding", "-"),
		str_or(c, "ipv6_forwarding", "-"));
}

/* The exit node line: off, or the resource, its connector and the
 * table. */
static void print_exit(const json_t *x, FILE *out)
{
	if (!json_is_true(json_object_get(x, "active"))) {
		fprintf(out, "exit node:   off\n");
		return;
	}
	fprintf(out, "exit node:   %s via %s (id %lld), table %lld, fwmark %s, "
		     "lan %s\n", str_or(x, "resource", "?"),
		str_or(x, "connector_name", "none online"),
		num(x, "connector"), num(x, "table"), str_or(x, "fwmark", "?"),
		json_is_true(json_object_get(x, "lan")) ? "outside" : "inside");
}

/* The stub's counters (agent/dnsstatus.h) on one line. */
static void print_stub(const json_t *st, FILE *out)
{
	static const char *const keys[] = {
		"queries", "local", "cache_hits", "forwarded", "nxdomain",
		"servfail", "upstream_timeouts", "upstream_failures", "loops",
		"tcp_connections", "tcp_evicted",
	};

	if (!json_is_object(st))
		return;
	fprintf(out, "             dns stub:");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		fprintf(out, " %s %lld", keys[i], (long long)json_integer_value(
				json_object_get(st, keys[i])));
	fputc('\n', out);
}

/* The DNS line: the mode in effect, why, and what is installed. */
static void print_dns(const json_t *d, FILE *out)
{
	char ns[CELL_MAX], dom[CELL_MAX];

	if (!json_is_object(d))
		return;
	cell(json_object_get(d, "nameservers"), ns, sizeof(ns));
	cell(json_object_get(d, "domains"), dom, sizeof(dom));
	fprintf(out, "dns:         %s (asked %s: %s), stub %s, %s, domains "
		     "%s, search %s, default route %s\n",
		str_or(d, "mode", "?"), str_or(d, "requested", "?"),
		str_or(d, "reason", "-"), ns,
		json_is_true(json_object_get(d, "installed")) ? "installed"
							     : "not installed",
		dom, str_or(d, "search", "-"),
		json_is_true(json_object_get(d, "default_route")) ? "yes"
								   : "no");
	if (str_or(d, "error", NULL))
		fprintf(out, "             dns error: %s\n",
			str_or(d, "error", ""));
	print_stub(json_object_get(d, "stub"), out);
}

static int print_streams(const json_t *st, FILE *out);

int cli_print_status(const json_t *a, FILE *out)
{
	const json_t *node = json_object_get(a, "node");
	const json_t *ctl = json_object_get(a, "controller");
	const json_t *map = json_object_get(a, "map");
	const json_t *relays = json_object_get(a, "relays");
	const json_t *relay = json_object_get(a, "relay");
	char buf[CELL_MAX];
	json_int_t peers;

	fprintf(out, "state:       %s (since %s)\n", str_or(a, "state", "?"),
		str_or(a, "state_since", "-"));
	fprintf(out, "node:        %s (id %lld)\n", str_or(node, "name", "-"),
		(long long)json_integer_value(json_object_get(node, "id")));
	fprintf(out, "mesh ips:    %s, %s\n", str_or(node, "ipv4", "-"),
		str_or(node, "ipv6", "-"));
	fprintf(out, "controller:  %s (%s", str_or(ctl, "url", "?"),
		json_is_true(json_object_get(ctl, "reachable"))
			? "reachable" : "unreachable");
	fprintf(out, ", last contact %s)\n", str_or(ctl, "last_contact",
						    "never"));
	if (str_or(ctl, "last_error", NULL))
		fprintf(out, "             last error: %s\n",
			str_or(ctl, "last_error", ""));
	if (json_is_object(relay)) {
		fprintf(out, "relay:       %s at %s (%s", str_or(relay, "name",
								 "?"),
			str_or(relay, "address", "?"),
			json_is_true(json_object_get(relay, "connected"))
				? "connected" : "not connected");
		fprintf(out, ", seen as %s)\n", str_or(relay, "qad", "-"));
	} else {
		cell(relays, buf, sizeof(buf));
		fprintf(out, "relay:       none (relays in map: %s)\n",
			json_array_size(relays) ? buf : "none");
	}
	peers = json_integer_value(json_object_get(map, "peers"));
	fprintf(out, "map:         version %lld, %lld peer%s, updated %s\n",
		(long long)json_integer_value(json_object_get(map, "version")),
		(long long)peers, peers == 1 ? "" : "s",
		str_or(map, "updated", "never"));
	cell(json_object_get(a, "endpoints"), buf, sizeof(buf));
	fprintf(out, "endpoints:   %s (udp port %lld)\n", buf,
		(long long)json_integer_value(json_object_get(a, "port")));
	if (str_or(a, "tun", NULL))
		fprintf(out, "tun:         %s\n", str_or(a, "tun", ""));
	else
		fprintf(out, "tun:         none (control plane only)\n");
	print_connector(json_object_get(a, "connector"), out);
	if (json_integer_value(json_object_get(json_object_get(a, "resources"),
					       "count")))
		fprintf(out, "resources:   %lld, %lld without a connector, "
			     "%lld connector%s lost, %lld move%s\n",
			num(json_object_get(a, "resources"), "count"),
			num(json_object_get(a, "resources"),
			    "without_connector"),
			num(json_object_get(a, "resources"), "lost"),
			num(json_object_get(a, "resources"), "lost") == 1
				? "" : "s",
			num(json_object_get(a, "resources"), "moves"),
			num(json_object_get(a, "resources"), "moves") == 1
				? "" : "s");
	print_exit(json_object_get(a, "exit_node"), out);
	print_dns(json_object_get(a, "dns"), out);
	print_dataplane(json_object_get(a, "dataplane"), out);
	return print_streams(json_object_get(a, "streams"), out);
}

int cli_print_peers(const json_t *a, FILE *out)
{
	static const struct col cols[] = {
		{"NAME", "name"},       {"IPV4", "ipv4"},
		{"IPV6", "ipv6"},       {"ONLINE", "online"},
		{"PATH", "path"},       {"DIRECT ADDR", "direct_addr"},
		{"PATH CHANGED", "path_changed"}, {"RTT MS", "rtt_ms"},
		{"RX BYTES", "rx_bytes"}, {"TX BYTES", "tx_bytes"},
		{"STREAMS", "streams.active"}, {"OPENED", "streams.opened"},
		{"REFUSED", "streams.refused"},
		{"LAST SEEN", "last_seen"}, {"ENDPOINTS", "endpoints"},
	};
	const json_t *peers = json_object_get(a, "peers");

	if (json_array_size(peers) == 0) {
		fprintf(out, "no peers (the policy lets this node reach no "
			     "other node, or no map yet)\n");
		return ferror(out) ? -EIO : 0;
	}
	return table(peers, cols, sizeof(cols) / sizeof(cols[0]), out);
}

static const struct col fwd_cols[] = {
	{"LISTEN", "listen"},     {"TARGET", "target"},
	{"STATIC", "static"},     {"ACCEPTED", "accepted"},
	{"ACTIVE", "active"},     {"FAILED", "failed"},
	{"BYTES TX", "bytes_tx"}, {"BYTES RX", "bytes_rx"},
	{"PAUSES", "accept_pauses"},
};

int cli_print_forwards(const json_t *a, FILE *out)
{
	const json_t *f = json_object_get(a, "forwards");

	if (json_array_size(f) == 0) {
		fprintf(out, "no forwards\n");
		return ferror(out) ? -EIO : 0;
	}
	return table(f, fwd_cols, sizeof(fwd_cols) / sizeof(fwd_cols[0]), out);
}

/* The stream-mode lines of status: the counters, then the forwards. */
static int print_streams(const json_t *st, FILE *out)
{
	if (!json_is_object(st))
		return 0;
	fprintf(out, "streams:     active %lld, opened %lld, accepted %lld, "
		     "failed %lld, refused (peer limit %lld, total limit %lld, "
		     "policy %lld, target %lld, service %lld), resets %lld, "
		     "idle closed %lld, bytes tx %lld rx %lld, accept pauses "
		     "%lld\n", num(st, "active"), num(st, "opened"),
		num(st, "accepted"), num(st, "failed"),
		num(st, "refused_peer_limit"), num(st, "refused_total_limit"),
		num(st, "refused_policy"), num(st, "refused_target"),
		num(st, "refused_service"), num(st, "resets"),
		num(st, "idle_closed"), num(st, "bytes_tx"),
		num(st, "bytes_rx"), num(st, "accept_pauses"));
	if (!json_array_size(json_object_get(st, "forwards")))
		return ferror(out) ? -EIO : 0;
	fprintf(out, "forwards:\n");
	return cli_print_forwards(st, out);
}

int cli_print_routes(const json_t *a, FILE *out)
{
	static const struct col cols[] = {
		{"PREFIX", "prefix"},
		{"PEER", "peer"},
		{"KIND", "kind"},
		{"ACCEPTED", "accepted"},
	};
	static const struct col rcols[] = {
		{"RESOURCE", "name"},
		{"TYPE", "type"},
		{"ADDRESS", "address"},
		{"PREFIXES", "prefixes"},
		{"CONNECTORS", "connectors"},
		{"VIA", "via"},
		{"MOVES", "moves"},
	};
	const json_t *routes = json_object_get(a, "routes");
	const json_t *res = json_object_get(a, "resources");
	const json_t *serves = json_object_get(a, "serves");
	int rc;

	if (json_array_size(routes) == 0)
		fprintf(out, "no routes\n");
	else if ((rc = table(routes, cols, sizeof(cols) / sizeof(cols[0]),
			     out)) < 0)
		return rc;
	/* Resources follow when there are any (docs/connectors.md). */
	if (json_array_size(res)) {
		fputc('\n', out);
		if ((rc = table(res, rcols, sizeof(rcols) / sizeof(rcols[0]),
				out)) < 0)
			return rc;
	}
	if (json_array_size(serves)) {
		fprintf(out, "\nserves:\n");
		return table(serves, rcols, 4, out);
	}
	return ferror(out) ? -EIO : 0;
}

static const char *field(const json_t *a, const char *key)
{
	const char *v = json_string_value(json_object_get(a, key));

	return v ? v : "?";
}

int cli_print_resolve(const json_t *a, FILE *out)
{
	const char *v4 = json_string_value(json_object_get(a, "ipv4"));
	const char *v6 = json_string_value(json_object_get(a, "ipv6"));

	fprintf(out, "%s", field(a, "name"));
	if (v4)
		fprintf(out, " %s", v4);
	if (v6)
		fprintf(out, " %s", v6);
	fprintf(out, " (resource %s, %s)\n", field(a, "resource"),
		field(a, "type"));
	return ferror(out) ? -EIO : 0;
}
