/* The exit node on a client: see exitnode.h. */
#include "agent/exitnode.h"

#include "agent/exitroute.h"
#include "agent/httpmsg.h"
#include "agent/map.h"
#include "agent/sysctl.h"
#include "shared/err.h"
#include "shared/log.h"

#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CLEANUP_ROUNDS 16
#define STALE_CAP 64

struct exitnode {
	struct exitnode_cfg cfg;
	char tun[IF_NAMESIZE];
	char controller[1024];
	int oif;

	bool on;
	bool warned;               /* exit_node_unavailable logged */
	struct exit_rule rules[EXIT_MAX_RULES]; /* installed */
	size_t nrules;
	struct exit_route routes[EXIT_MAX_ROUTES]; /* installed */
	size_t nroutes;
	struct ip_addr bypass[EXIT_MAX_BYPASS];
	size_t nbypass;
	int64_t res_id;
	char res_name[128];
	uint64_t stale_removed;
};

int exitnode_new(const struct exitnode_cfg *cfg, struct exitnode **out)
{
	struct exitnode *x;

	if (!cfg->tun || strlen(cfg->tun) >= IF_NAMESIZE)
		return WEFT_ERR_INVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return WEFT_ERR_NOMEM;
	x->cfg = *cfg;
	snprintf(x->tun, sizeof(x->tun), "%s", cfg->tun);
	snprintf(x->controller, sizeof(x->controller), "%s",
		 cfg->controller ? cfg->controller : "");
	x->cfg.tun = x->tun;
	x->cfg.controller = x->controller;
	x->oif = (int)if_nametoindex(x->tun);
	if (!x->oif) {
		free(x);
		return WEFT_ERR_INVAL;
	}
	*out = x;
	return 0;
}

static const char *fam(int family)
{
	return family == 4 ? "ipv4" : "ipv6";
}

static void log_rule(const char *event, const struct exit_rule *r)
{
	char s[160], q[200];

	exitplan_rule_format(r, s, sizeof(s));
	log_info(event, "family=%s rule=%s", fam(r->family),
		 log_q(q, sizeof(q), s));
}

static void log_route(struct exitnode *x, const char *event,
		      const struct exit_route *r)
{
	char s[160], q[200];

	exitplan_route_format(r, x->tun, s, sizeof(s));
	log_info(event, "family=%s route=%s", fam(r->dst.addr.family),
		 log_q(q, sizeof(q), s));
}

/* Removes what is installed: the rules first (from then on nothing is
 * looked up in the table), then the table's routes. */
static void remove_all(struct exitnode *x)
{
	size_t i;
	int rc;

	for (i = x->nrules; i-- > 0;) {
		rc = exitroute_rule(&x->rules[i], false);
		if (rc < 0 && rc != -ENOENT)
			log_warn_err(rc, "exit_rule_remove_failed", "family=%s",
				     fam(x->rules[i].family));
		else
			log_rule("exit_rule_removed", &x->rules[i]);
	}
	x->nrules = 0;
	for (i = x->nroutes; i-- > 0;) {
		rc = exitroute_route(&x->routes[i], false);
		/* Gone with the TUN, or removed by hand: nothing to do. */
		if (rc < 0 && rc != -ESRCH && rc != -ENODEV)
			log_warn_err(rc, "exit_route_remove_failed", "family=%s",
				     fam(x->routes[i].dst.addr.family));
		else
			log_route(x, "exit_route_removed", &x->routes[i]);
	}
	x->nroutes = 0;
}

/* Adds one route of the table; -EEXIST counts as added (ours, from a
 * run whose cleanup could not remove it). */
static int add_route(struct exitnode *x, const struct exit_route *r)
{
	int rc = exitroute_route(r, true);

	if (rc < 0 && rc != -EEXIST) {
		char s[160], q[200];

		exitplan_route_format(r, x->tun, s, sizeof(s));
		log_warn_err(rc, "exit_route_add_failed", "family=%s route=%s",
			     fam(r->dst.addr.family), log_q(q, sizeof(q), s));
		return rc;
	}
	x->routes[x->nroutes++] = *r;
	log_route(x, "exit_route_added", r);
	return 0;
}

/* Makes the table's routes want[0..n): removes the ones not wanted, adds
 * the missing ones. A default route that cannot be added is an error
 * (returned); a throw route that cannot is logged and skipped. */
static int sync_routes(struct exitnode *x, const struct exit_route *want,
		       size_t n)
{
	size_t i, j, k = 0;
	int rc;

	for (i = 0; i < x->nroutes; i++) {
		bool keep = false;

		for (j = 0; j < n && !keep; j++)
			keep = exitplan_route_eq(&x->routes[i], &want[j]);
		if (keep) {
			x->routes[k++] = x->routes[i];
			continue;
		}
		rc = exitroute_route(&x->routes[i], false);
		if (rc < 0 && rc != -ESRCH)
			log_warn_err(rc, "exit_route_remove_failed", "family=%s",
				     fam(x->routes[i].dst.addr.family));
		else
			log_route(x, "exit_route_removed", &x->routes[i]);
	}
	x->nroutes = k;
	for (j = 0; j < n; j++) {
		bool have = false;

		for (i = 0; i < x->nroutes && !have; i++)
			have = exitplan_route_eq(&x->routes[i], &want[j]);
		if (have)
			continue;
		rc = add_route(x, &want[j]);
		/* A kernel without IPv6 takes no ::/0: IPv4 alone then. */
		if (rc < 0 && !want[j].is_throw &&
		    !(want[j].dst.addr.family == 6 && rc == -EAFNOSUPPORT))
			return rc;
	}
	return 0;
}

/* The addresses of host (a name or a literal) into the bypass list. */
static void add_host(struct exitnode *x, const char *host)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL, *p;
	char q[300];
	int rc;

	if (!host || !*host)
		return;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0) {
		log_warn("exit_bypass_unresolved", "host=%s error=%s",
			 log_q(q, sizeof(q), host), gai_strerror(rc));
		return;
	}
	for (p = ai; p && x->nbypass < EXIT_MAX_BYPASS; p = p->ai_next) {
		struct ip_endpoint e;

		if (ip_endpoint_from_sockaddr(p->ai_addr, p->ai_addrlen,
					      &e) == 0)
			x->bypass[x->nbypass++] = e.addr;
	}
	freeaddrinfo(ai);
}

/* "host:port", "[v6]:port" or "a.b.c.d:port": the host part into buf. */
static void split_host(const char *hostport, char *buf, size_t cap)
{
	const char *colon = strrchr(hostport, ':');
	size_t n = colon ? (size_t)(colon - hostport) : strlen(hostport);

	if (n >= 2 && hostport[0] == '[' && hostport[n - 1] == ']') {
		hostport++;
		n -= 2;
	}
	if (n >= cap)
		n = 0;
	memcpy(buf, hostport, n);
	buf[n] = '\0';
}

/* What bypasses the tunnel for every process: the controller's and the
 * relays' addresses. */
static void find_bypass(struct exitnode *x, const struct map *m)
{
	struct httpmsg_url u;
	const struct map_relay *r;
	size_t n, i;
	char host[HTTPMSG_HOST_MAX];

	x->nbypass = 0;
	if (httpmsg_url_parse(x->controller, &u) == 0)
		add_host(x, u.host);
	r = map_relays(m, &n);
	for (i = 0; i < n; i++) {
		if (!r[i].address)
			continue;
		split_host(r[i].address, host, sizeof(host));
		add_host(x, host);
	}
}

/* Strict reverse-path filtering drops the replies to the agent's own
 * packets (their source is routed into the tunnel for unmarked packets):
 * say so. Effective per interface: max(all, interface). */
static void check_rp_filter(struct exitnode *x)
{
	char v[SYSCTL_VALUE_MAX], path[300], list[400] = "", q[500];
	struct dirent *e;
	DIR *d;
	int all = 0;
	size_t len = 0;

	if (sysctl_read("/proc/sys/net/ipv4/conf/all/rp_filter", v,
			sizeof(v)) == 0)
		all = atoi(v);
	d = opendir("/proc/sys/net/ipv4/conf");
	if (!d)
		return;
	while ((e = readdir(d))) {
		int one = 0;

		if (e->d_name[0] == '.' || !strcmp(e->d_name, "all") ||
		    !strcmp(e->d_name, "default") || !strcmp(e->d_name, "lo") ||
		    !strcmp(e->d_name, x->tun))
			continue;
		snprintf(path, sizeof(path),
			 "/proc/sys/net/ipv4/conf/%s/rp_filter", e->d_name);
		if (sysctl_read(path, v, sizeof(v)) == 0)
			one = atoi(v);
		if ((one > all ? one : all) != 1 ||
		    len + strlen(e->d_name) + 2 >= sizeof(list))
			continue;
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					len ? "," : "", e->d_name);
	}
	closedir(d);
	if (len)
		log_warn("exit_rp_filter_strict", "interfaces=%s note=\"strict "
			 "reverse-path filtering drops replies from peers' "
			 "direct endpoints; set rp_filter=2 (loose)\"",
			 log_q(q, sizeof(q), list));
}

static void turn_off(struct exitnode *x, const char *reason)
{
	if (!x->on)
		return;
	remove_all(x);
	x->on = false;
	log_info("exit_node_off", "reason=%s", reason);
}

/* Installs the table, then the rules. On failure removes what it added. */
static int turn_on(struct exitnode *x)
{
	struct exit_route want[EXIT_MAX_ROUTES];
	struct exit_rule r[EXIT_MAX_RULES];
	size_t n, i;
	int rc;

	n = exitplan_routes(&x->cfg.plan, x->oif, x->bypass, x->nbypass, want);
	rc = sync_routes(x, want, n);
	n = exitplan_rules(&x->cfg.plan, r);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = exitroute_rule(&r[i], true);
		if (rc == -EAFNOSUPPORT && r[i].family == 6) {
			rc = 0;
			continue;
		}
		if (rc == -EEXIST)
			rc = 0;
		if (rc < 0) {
			log_warn_err(rc, "exit_rule_add_failed", "family=%s",
				     fam(r[i].family));
			break;
		}
		x->rules[x->nrules++] = r[i];
		log_rule("exit_rule_added", &r[i]);
	}
	if (rc < 0) {
		remove_all(x);
		return rc;
	}
	x->on = true;
	check_rp_filter(x);
	return 0;
}

void exitnode_update(struct exitnode *x, const struct map *m,
		     bool relays_changed)
{
	struct exit_pick pk;
	char q[200];

	exitplan_pick(m, &pk);
	if (pk.res && !x->cfg.sock_mark) {
		if (!x->warned)
			log_warn("exit_node_unavailable", "resource=%s "
				 "reason=\"the agent's socket has no fwmark\"",
				 log_q(q, sizeof(q), pk.res->name));
		x->warned = true;
		pk.res = NULL;
	}
	if (!pk.res) {
		turn_off(x, pk.serves ? "serves_internet" : "not_granted");
		return;
	}
	snprintf(x->res_name, sizeof(x->res_name), "%s",
		 pk.res->name ? pk.res->name : "");
	x->res_id = pk.res->id;
	if (!x->on || relays_changed)
		find_bypass(x, m);
	if (!x->on) {
		if (turn_on(x) < 0)
			return;
		log_info("exit_node_on", "resource=%s lan=%s table=%u "
			 "fwmark=0x%x priority=%u", log_q(q, sizeof(q),
							   x->res_name),
			 x->cfg.plan.lan ? "true" : "false",
			 (unsigned)x->cfg.plan.table,
			 (unsigned)x->cfg.plan.fwmark,
			 (unsigned)x->cfg.plan.priority);
	} else if (relays_changed) {
		struct exit_route want[EXIT_MAX_ROUTES];
		size_t n = exitplan_routes(&x->cfg.plan, x->oif, x->bypass,
					   x->nbypass, want);

		sync_routes(x, want, n);
	}
}

int64_t exitnode_resource(const struct exitnode *x)
{
	return x && x->on ? x->res_id : 0;
}

void exitnode_cleanup(struct exitnode *x)
{
	struct exit_rule rules[STALE_CAP];
	struct exit_route routes[STALE_CAP];
	struct exitroute_found f = {.rules = rules, .cap = STALE_CAP,
				    .routes = routes, .rcap = STALE_CAP};
	size_t i, round;
	int rc;

	for (round = 0; round < CLEANUP_ROUNDS; round++) {
		rc = exitroute_find(&x->cfg.plan, &f);
		if (rc < 0) {
			log_warn_err(rc, "exit_stale_check_failed", NULL);
			return;
		}
		for (i = 0; i < f.n; i++) {
			rc = exitroute_rule(&rules[i], false);
			if (rc < 0) {
				log_warn_err(rc, "exit_stale_remove_failed",
					     "what=rule");
				return;
			}
			log_rule("exit_stale_removed", &rules[i]);
			x->stale_removed++;
		}
		for (i = 0; i < f.nroutes; i++) {
			rc = exitroute_route(&routes[i], false);
			if (rc < 0) {
				log_warn_err(rc, "exit_stale_remove_failed",
					     "what=route");
				return;
			}
			log_route(x, "exit_stale_removed", &routes[i]);
			x->stale_removed++;
		}
		if (!f.more)
			return;
	}
}

void exitnode_del(struct exitnode *x)
{
	if (!x)
		return;
	turn_off(x, "stopping");
	free(x);
}

json_t *exitnode_json(const struct exitnode *x)
{
	json_t *rules = json_array(), *routes = json_array(), *o;
	char s[160], mark[16];
	size_t i;

	for (i = 0; rules && i < x->nrules; i++)
		if (exitplan_rule_format(&x->rules[i], s, sizeof(s)) == 0)
			json_array_append_new(rules, json_string(s));
	for (i = 0; routes && i < x->nroutes; i++)
		if (exitplan_route_format(&x->routes[i], x->tun, s,
					  sizeof(s)) == 0)
			json_array_append_new(routes, json_string(s));
	snprintf(mark, sizeof(mark), "0x%x", (unsigned)x->cfg.plan.fwmark);
	o = json_pack("{s:b, s:o, s:b, s:I, s:s, s:I, s:o, s:o, s:I}",
		      "active", x->on,
		      "resource", x->on ? json_string(x->res_name) : json_null(),
		      "lan", x->cfg.plan.lan,
		      "table", (json_int_t)x->cfg.plan.table,
		      "fwmark", mark,
		      "priority", (json_int_t)x->cfg.plan.priority,
		      "rules", rules ? rules : json_null(),
		      "routes", routes ? routes : json_null(),
		      "stale_removed", (json_int_t)x->stale_removed);
	return o;
}
