/* The agent daemon: see daemon.h.
 *
 * The main loop owns everything the local API reports (state, map,
 * reachability); the control thread only hands results over through
 * control_cb, which runs on the loop. */
#include "agent/daemon.h"

#include "agent/commands.h"
#include "agent/connector.h"
#include "agent/control.h"
#include "agent/ctlset.h"
#include "agent/dataplane.h"
#include "agent/dnshost.h"
#include "agent/dnsstub.h"
#include "agent/exitnode.h"
#include "agent/filter.h"
#include "agent/ifwatch.h"
#include "agent/ifaddr.h"
#include "agent/localapi.h"
#include "agent/map.h"
#include "agent/metrics.h"
#include "agent/priv.h"
#include "agent/relayc.h"
#include "agent/relayset.h"
#include "agent/resclient.h"
#include "agent/state.h"
#include "agent/statedir.h"
#include "agent/streamfwd.h"
#include "agent/tunnel.h"
#include "agent/view.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/ident.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/metricsd.h"
#include "shared/quic.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The daemon: its view (what the local API and metrics read) first. */
struct daemon {
	struct agent_view v;
	struct control *ctl;
	struct ctlset *ctls;      /* the --controller URLs */
	struct localapi *api;
	struct metricsd *metrics; /* NULL without --metrics-listen */
	struct loop_timer *ep_timer;
	struct loop_timer *ep_soon;   /* endpoints again, shortly after an
				       * interface or address change */
	struct ifwatch *ifw;          /* those changes, from rtnetlink */
	json_t *endpoints;     /* what we last handed to the control thread */
	char home_relay[CONTROL_RELAY_NAME_MAX]; /* and the home relay */

	bool conn_failed;      /* the last connector start failed */

	int exit_rc;
	char *msg;
	size_t msglen;
};

static void say(struct daemon *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct daemon *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->msg, d->msglen, fmt, ap);
	va_end(ap);
}

static void set_state(struct daemon *d, enum state_event ev)
{
	enum state next;

	if (state_next(d->v.state, ev, &next) < 0 || next == d->v.state)
		return;
	log_info("agent_state", "from=%s to=%s", state_name(d->v.state),
		 state_name(next));
	d->v.state = next;
	d->v.state_since = clock_wall_s();
}

/* Ends the daemon with rc and a message for the user. */
static void fail(struct daemon *d, int rc)
{
	d->exit_rc = rc;
	set_state(d, STATE_EV_FATAL);
	loop_stop(d->v.loop);
}

/* ---- control events ---- */

/* ---- relay ---- */

/* Hands the map's relays and the answer's relay token to the relay set
 * (agent/relayset.h: a connection to each, the home relay by RTT). */
static void update_relay(struct daemon *d, const json_t *answer)
{
	const char *tok = json_string_value(json_object_get(answer,
							    "relay_token"));
	const char *bad = NULL;
	char q[300];
	size_t n = relayset_update(dataplane_relays(d->v.dp), d->v.map, tok,
				   &bad);

	if (n)
		log_warn("relay_unusable", "count=%zu name=%s note=\"needs "
			 "an IPv4 address and a public_key_pin; at most %d "
			 "relays\"", n, log_q(q, sizeof(q), bad),
			 RELAYSET_MAX);
}

static void check_endpoints(struct daemon *d);

/* Hands the map's changed peers to the tunnel table. */
static void update_tunnels(struct daemon *d, const struct map_diff *diff)
{
	const struct map_self *self = map_self(d->v.map);
	struct tunnels *t = dataplane_tunnels(d->v.dp);

	if (self && self->id > 0)
		tunnels_set_self(t, self->id);
	if (tunnels_apply(t, d->v.map, diff) < 0)
		log_warn("tunnels_not_updated", "reason=out_of_memory");
}

/* ---- data plane ---- */

/* Appends r to *rv (n used, cap allocated). Returns 0 or
 * WEFT_ERR_NOMEM (*rv freed). */
static int push_route(struct filter_route **rv, size_t *n, size_t *cap,
		      const struct filter_route *r)
{
	struct filter_route *nv;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		nv = realloc(*rv, *cap * sizeof(**rv));
		if (!nv) {
			free(*rv);
			*rv = NULL;
			return WEFT_ERR_NOMEM;
		}
		*rv = nv;
	}
	(*rv)[(*n)++] = *r;
	return 0;
}

/* The routes from the peers' allowed_ips: their mesh addresses always,
 * subnet routes with --accept-routes (resources, the exit node's
 * default routes among them, are agent/resclient.h's). Returns 0 with
 * *out (caller frees) and *n, or WEFT_ERR_NOMEM. */
static int build_routes(struct daemon *d, struct filter_route **out,
			size_t *nout)
{
	struct filter_route *rv = NULL;
	size_t n = 0, cap = 0, i, j, npeers;
	const struct map_peer *const *peers = map_peers(d->v.map, &npeers);
	int rc = 0;

	for (i = 0; rc == 0 && i < npeers; i++) {
		const struct map_peer *p = peers[i];

		for (j = 0; rc == 0 && j < p->nallowed; j++) {
			struct filter_route r = {.peer = p->id,
						 .prefix = p->allowed_ips[j]};

			if (map_is_mesh_prefix(p, &r.prefix) ||
			    d->v.cfg->accept_routes)
				rc = push_route(&rv, &n, &cap, &r);
		}
	}
	if (rc < 0)
		return rc;
	*out = rv;
	*nout = n;
	return 0;
}

/* Applies the map to the data plane, only what the update touched: our
 * mesh addresses and the route table (and the TUN's addresses and
 * routes) when peers' addresses or ours changed, the filter rules
 * (swapped into the live filter, so tracked flows survive) when they or
 * our own addresses (what a rule's "self" stands for) changed. A filter
 * the agent cannot compile denies everything: the data plane fails
 * closed. */
static void update_dataplane(struct daemon *d, const struct map_diff *diff)
{
	const struct map_self *self = map_self(d->v.map);
	const struct map_rule *mr;
	struct filter_route *rv = NULL;
	struct filter_rules *rules = NULL;
	struct ip_addr self4 = {0}, self6 = {0}, own[FILTER_MAX_SELF];
	char err[200] = "", q[300];
	size_t n = 0, nrules, nown = 0;
	int rc;

	if (diff->addrs || diff->self) {
		if (self) {
			self4 = self->ipv4;
			self6 = self->ipv6;
		}
		dataplane_set_self(d->v.dp, &self4, &self6);
		rc = build_routes(d, &rv, &n);
		if (rc == 0)
			rc = dataplane_set_routes(d->v.dp, rv, n);
		if (rc < 0)
			log_warn_err(rc, "routes_not_updated", NULL);
		free(rv);
	}
	if (!diff->filter && !diff->self)
		return;
	if (self && self->ipv4.family)
		own[nown++] = self->ipv4;
	if (self && self->ipv6.family)
		own[nown++] = self->ipv6;
	mr = map_rules(d->v.map, &nrules);
	if (map_has_filter(d->v.map)) {
		rc = filter_rules_compile(mr, nrules, own, nown, &rules, err,
					  sizeof(err));
		if (rc < 0) {
			log_warn_err(rc, "filter_rejected", "reason=%s "
				     "note=\"denying all inbound packets\"",
				     log_q(q, sizeof(q), err));
			rules = NULL;
		}
	}
	dataplane_set_rules(d->v.dp, rules);
}

/* ---- connector ---- */

/* Whether this node forwards for resources it serves: --connector, or
 * the map's "serves" part names something. */
static bool connector_wanted(const struct daemon *d)
{
	size_t n = 0;

	map_serves(d->v.map, &n);
	return d->v.cfg->connector || n > 0;
}

/* Starts or stops connector forwarding to match connector_wanted: at
 * start (before privileges are dropped) and after every map that
 * replaced "serves" (or any map after a failed start: no retry storm
 * on every presence update). Works later too: the agent keeps
 * CAP_NET_ADMIN, which is all it needs. */
static int update_connector(struct daemon *d, const struct map_diff *diff)
{
	char err[300], q[400];
	bool want = connector_wanted(d);
	int rc;

	if (!d->v.conn) {
		if (want && diff->serves && !d->v.cfg->no_tun)
			log_warn("connector_unavailable", "reason=tun_name "
				 "note=\"this node serves resources but its "
				 "TUN name cannot appear in nft rules\"");
		else if (want && diff->serves)
			log_warn("connector_unavailable", "reason=no_tun "
				 "note=\"this node serves resources but runs "
				 "with --no-tun: only stream-mode clients "
				 "reach them\"");
		return 0;
	}
	if (want == connector_running(d->v.conn) ||
	    (d->conn_failed && !diff->serves && !diff->full))
		return 0;
	rc = connector_apply(d->v.conn, want, err, sizeof(err));
	d->conn_failed = rc < 0;
	if (rc < 0)
		log_error_err(rc, "connector_failed", "tun=%s error=%s",
			      dataplane_tun_name(d->v.dp),
			      log_q(q, sizeof(q), err));
	return rc;
}

/* The connector for our TUN (it touches nothing until started), and
 * forwarding set up when wanted. */
static int start_connector(struct daemon *d)
{
	const struct connector_cfg cc = {.tun = dataplane_tun_name(d->v.dp),
					 .loop = d->v.loop};
	char err[300];
	int rc;

	if (!cc.tun) {
		if (!connector_wanted(d))
			return 0;
		say(d, "--connector needs a TUN device: drop --no-tun");
		return WEFT_ERR_INVAL;
	}
	rc = connector_new(&cc, &d->v.conn);
	if (rc == WEFT_ERR_INVAL && !connector_wanted(d))
		return 0; /* a TUN name nft cannot take: never a connector */
	if (rc < 0) {
		say(d, rc == WEFT_ERR_INVAL
			       ? "--connector needs a TUN name of A-Z a-z 0-9 "
				 "_ . - only, not %s"
			       : "out of memory (%s)", cc.tun);
		return rc;
	}
	if (!connector_wanted(d))
		return 0;
	rc = connector_apply(d->v.conn, true, err, sizeof(err));
	if (rc < 0)
		say(d, "cannot set up connector forwarding: %s", err);
	return rc;
}

/* ---- exit node ---- */

/* The exit node for our TUN (off until a map grants the internet), after
 * removing what a crashed run left behind. */
static int start_exitnode(struct daemon *d)
{
	const struct daemon_cfg *cfg = d->v.cfg;
	struct exitnode_cfg ec = {
		.plan = {.table = (uint32_t)cfg->exit_table,
			 .fwmark = (uint32_t)cfg->exit_fwmark,
			 .priority = (uint32_t)cfg->exit_priority,
			 .lan = !cfg->exit_no_lan},
		.tun = dataplane_tun_name(d->v.dp),
		.controller = cfg->controller,
		.sock_mark = dataplane_fwmark(d->v.dp)};
	int rc;

	if (!ec.tun)
		return 0;
	rc = exitnode_new(&ec, &d->v.exit);
	if (rc < 0) {
		say(d, "cannot set up the exit node on %s: %s", ec.tun,
		    weft_strerror(rc));
		return rc;
	}
	exitnode_cleanup(d->v.exit);
	return 0;
}

/* The exit node follows the map. */
static void update_exit(struct daemon *d, const struct map_diff *diff)
{
	if (d->v.exit)
		exitnode_update(d->v.exit, d->v.map, diff->relays);
}

static void on_relay_event(const struct relayc_event *ev, void *ctx)
{
	struct daemon *d = ctx;
	char a[IP_ENDPOINT_STRLEN] = "?", q[300], why[QUIC_REASON_MAX * 2];

	ip_endpoint_format(&ev->addr, a, sizeof(a));
	switch (ev->kind) {
	case RELAYC_CONNECTING:
		log_info("relay_connecting", "relay=%s addr=%s",
			 log_q(q, sizeof(q), ev->name), a);
		break;
	case RELAYC_AUTHED:
		/* A renewed token on the same connection is routine. */
		if (ev->again)
			log_debug("relay_token_renewed", "relay=%s",
				  log_q(q, sizeof(q), ev->name));
		else
			log_info("relay_connected", "relay=%s addr=%s node=%llu",
				 log_q(q, sizeof(q), ev->name), a,
				 (unsigned long long)ev->node);
		break;
	case RELAYC_HOME: /* chosen by RTT: publish it */
		log_info("relay_home", "relay=%s", log_q(q, sizeof(q), ev->name));
		check_endpoints(d);
		break;
	case RELAYC_QAD:
		if (ev->again)
			break;
		log_info("relay_qad", "relay=%s addr=%s",
			 log_q(q, sizeof(q), ev->name), a);
		check_endpoints(d);
		break;
	case RELAYC_CLOSED:
		log_info("relay_closed", "relay=%s err=%s app=%s code=0x%llx "
			 "remote=%s reason=%s retry_ms=%lld",
			 log_q(q, sizeof(q), ev->name),
			 weft_errname(ev->close->err),
			 ev->close->app ? "true" : "false",
			 (unsigned long long)ev->close->code,
			 ev->close->remote ? "true" : "false",
			 log_q(why, sizeof(why), ev->close->reason),
			 (long long)ev->retry_ms);
		break;
	}
}

static void on_peer_lost(int64_t peer, bool lost, void *ctx)
{
	struct daemon *d = ctx;

	resclient_on_lost(d->v.res, peer, lost, d->v.map, d->v.dp);
}

static void on_path_change(int64_t peer, bool direct,
			   const struct ip_endpoint *addr, void *ctx)
{
	struct daemon *d = ctx;
	const struct map_peer *mp = map_peer(d->v.map, peer);
	const char *name = mp ? mp->name : NULL;
	char a[IP_ENDPOINT_STRLEN] = "-", q[200];

	if (direct)
		ip_endpoint_format(addr, a, sizeof(a));
	log_info("peer_path", "peer=%s id=%lld path=%s addr=%s",
		 log_q(q, sizeof(q), name ? name : ""), (long long)peer,
		 direct ? "direct" : "relay", a);
}

/* Applies a map answer. The map's diff is the one place where the parts
 * of the agent learn what changed (docs/internals/agentmap.md). A refused
 * answer keeps the previous map; after a refused delta the next poll asks
 * for a full map, while a refused full map is not asked for again at
 * once (it would be the same): the next delta is refused for want of a
 * base and brings a fresh full map. */
static void on_map(struct daemon *d, const struct control_event *ev)
{
	const json_t *answer = ev->json;
	int64_t before = map_version(d->v.map);
	struct map_diff diff;
	char err[200], q[300];
	int rc = map_apply(d->v.map, answer, &diff, err, sizeof(err));

	if (rc < 0) {
		log_warn_err(rc, "map_rejected", "version=%lld full=%s "
			     "reason=%s", (long long)json_integer_value(
				     json_object_get(answer, "version")),
			     json_is_true(json_object_get(answer, "full"))
				     ? "true" : "false",
			     log_q(q, sizeof(q), err));
		if (!json_is_true(json_object_get(answer, "full")))
			control_want_full(d->ctl);
		return;
	}
	d->v.last_map = clock_wall_s();
	update_relay(d, answer);
	update_tunnels(d, &diff);
	update_exit(d, &diff);
	if (diff.dns || diff.resources || diff.full)
		dnshost_update(d->v.dns, d->v.map, d->v.dp, d->v.stub,
			       exitnode_resource(d->v.exit) != 0);
	dnsstub_map_changed(d->v.stub, &diff);
	update_dataplane(d, &diff);
	resclient_apply(d->v.res, d->v.map, &diff, d->v.dp);
	update_connector(d, &diff);
	connector_map(d->v.conn, d->v.map, &diff, d->v.dp);
	map_diff_free(&diff);
	if (map_version(d->v.map) != before ||
	    json_is_true(json_object_get(answer, "full")))
		log_info("map_applied", "version=%lld full=%s peers=%zu "
			 "bytes=%zu gzip=%s", (long long)map_version(d->v.map),
			 json_is_true(json_object_get(answer, "full"))
				 ? "true" : "false",
			 map_peer_count(d->v.map), ev->wire_bytes,
			 ev->gzipped ? "true" : "false");
	set_state(d, STATE_EV_MAP);
}

static void on_control(const struct control_event *ev, void *ctx)
{
	struct daemon *d = ctx;
	char q[300], q2[64];

	if (ev->kind != CONTROL_FAIL) {
		if (!d->v.reachable || strcmp(d->v.ctl_url, ev->url) != 0)
			log_info("controller_reachable", "url=%s",
				 log_q(q, sizeof(q), ev->url));
		snprintf(d->v.ctl_url, sizeof(d->v.ctl_url), "%s", ev->url);
		d->v.reachable = true;
		d->v.last_contact = clock_wall_s();
		d->v.last_error[0] = '\0';
	}
	switch (ev->kind) {
	case CONTROL_REGISTERED:
		json_decref(d->v.node);
		d->v.node = json_incref(json_object_get(ev->json, "node"));
		d->v.node_id = ev->node_id;
		log_info("node_registered", "node=%lld name=%s ipv4=%s new=%s",
			 (long long)ev->node_id,
			 log_q(q, sizeof(q), json_string_value(json_object_get(
						     d->v.node, "name"))),
			 log_q(q2, sizeof(q2), json_string_value(json_object_get(
						       d->v.node, "ipv4"))),
			 ev->http_status == 201 ? "true" : "false");
		set_state(d, STATE_EV_REGISTERED);
		break;
	case CONTROL_MAP:
		on_map(d, ev);
		break;
	case CONTROL_CONTACT: /* the map held is current again */
		set_state(d, STATE_EV_MAP);
		break;
	case CONTROL_ENDPOINTS:
		json_decref(d->v.reported);
		d->v.reported = json_incref(ev->json);
		log_info("endpoints_reported", "count=%zu",
			 json_array_size(ev->json));
		break;
	case CONTROL_FAIL:
		if (d->v.reachable || strcmp(d->v.last_error, ev->message) != 0)
			log_warn("controller_unreachable", "url=%s next=%s "
				 "retry_ms=%lld error=%s", ev->url, ev->next_url,
				 (long long)ev->retry_ms,
				 log_q(q, sizeof(q), ev->message));
		d->v.reachable = false;
		snprintf(d->v.last_error, sizeof(d->v.last_error), "%s",
			 ev->message);
		set_state(d, STATE_EV_FAIL);
		break;
	case CONTROL_FATAL:
		log_error("control_fatal", "code=%s error=%s",
			  weft_errname(ev->code),
			  log_q(q, sizeof(q), ev->message));
		say(d, "%s", ev->message);
		if (d->v.node_id && (ev->code == WEFT_ERR_AUTH ||
				   ev->code == WEFT_ERR_EXPIRED ||
				   ev->code == WEFT_ERR_NOTFOUND))
			statedir_cred_remove(d->v.cfg->state_dir);
		fail(d, ev->code < 0 ? ev->code : WEFT_ERR_INTERNAL);
		break;
	}
}

/* ---- endpoints ---- */

static bool has_string(const json_t *a, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* Our published endpoints that the socket can use are our direct-path
 * candidates: both families on the usual dual-stack socket, IPv4 alone
 * where the kernel has no IPv6 (the path manager then skips the peer's
 * candidates of a family we lack). */
static void push_local(struct daemon *d)
{
	struct ip_endpoint v[IFADDR_MAX];
	const json_t *e;
	size_t i, n = 0;

	json_array_foreach(d->endpoints, i, e) {
		if (n < IFADDR_MAX && json_is_string(e) &&
		    ip_endpoint_parse(json_string_value(e), &v[n]) == 0)
			n++;
	}
	dataplane_set_local(d->v.dp, v, n);
}

static void check_endpoints(struct daemon *d)
{
	const char *skip = d->v.cfg->no_tun ? NULL : d->v.cfg->tun;
	json_t *eps = NULL;
	int rc;

	struct relayc_status rs;
	char qad[IP_ENDPOINT_STRLEN];
	const char *home;

	rc = ifaddr_endpoints(dataplane_port(d->v.dp), skip, &eps);
	if (rc < 0) {
		log_warn_err(rc, "endpoints_unavailable", NULL);
		return;
	}
	/* The relay's view of us first: it is the address behind NAT. */
	relayc_status(dataplane_relay(d->v.dp), &rs);
	if (rs.have_qad && ip_endpoint_format(&rs.qad, qad, sizeof(qad)) >= 0
	    && !has_string(eps, qad)) {
		if (json_array_size(eps) >= IFADDR_MAX)
			json_array_remove(eps, IFADDR_MAX - 1);
		json_array_insert_new(eps, 0, json_string(qad));
	}
	/* The relay we are connected to is our home relay: peers and the
	 * controller's relay health see it. */
	home = rs.connected ? rs.name : "";
	if (d->endpoints && json_equal(d->endpoints, eps) &&
	    strcmp(d->home_relay, home) == 0) {
		json_decref(eps);
		return;
	}
	if (control_set_endpoints(d->ctl, eps, home) < 0) {
		json_decref(eps);
		return;
	}
	snprintf(d->home_relay, sizeof(d->home_relay), "%s", home);
	json_decref(d->endpoints);
	d->endpoints = eps;
	push_local(d);
}

static void on_ep_soon(struct loop_timer *t, void *ctx)
{
	(void)t;
	check_endpoints(ctx);
}

/* An interface or address changed: look again once the burst of messages
 * that one change brings (link, addresses, routes) has passed. */
static void on_if_change(void *ctx)
{
	struct daemon *d = ctx;

	loop_timer_start(d->ep_soon, 200 * 1000);
}

static void on_ep_timer(struct loop_timer *t, void *ctx)
{
	struct daemon *d = ctx;

	check_endpoints(d);
	loop_timer_start(t, (d->v.cfg->endpoint_check_ms > 0
				     ? d->v.cfg->endpoint_check_ms
				     : 10000) * 1000);
}

static void on_signal(int signo, void *ctx)
{
	struct daemon *d = ctx;

	log_info("agent_down", "signal=%d", signo);
	loop_stop(d->v.loop);
}

/* ---- start and stop ---- */

/* Decides how to start: with the stored credential, or registering. */
static int load_cred(struct daemon *d, struct statedir_cred *cred,
		     bool *have)
{
	const struct daemon_cfg *cfg = d->v.cfg;
	int rc = statedir_cred_load(cfg->state_dir, cred);
	char q[600];

	*have = false;
	if (rc == 0 && ctlset_has(d->ctls, cred->controller)) {
		*have = true;
		d->v.node_id = cred->node_id;
		log_info("credential_loaded", "node=%lld",
			 (long long)cred->node_id);
		return 0;
	}
	if (rc == 0)
		log_warn("credential_other_controller", "stored=%s",
			 log_q(q, sizeof(q), cred->controller));
	else if (rc != -ENOENT)
		log_warn_err(rc, "credential_unreadable", "dir=%s",
			     log_q(q, sizeof(q), cfg->state_dir));
	if (!cfg->auth_key || !*cfg->auth_key) {
		say(d, "this node is not registered with %s yet: give "
		       "--auth-key (or WEFT_AUTH_KEY)", cfg->controller);
		return WEFT_ERR_INVAL;
	}
	return 0;
}

/* Checks the controller URL and loads (or creates) the node key and the
 * stored credential. */
static int prepare(struct daemon *d, struct ident **id,
		   char pub[IDENT_B64_LEN], struct statedir_cred *cred,
		   bool *have_cred)
{
	const struct daemon_cfg *cfg = d->v.cfg;
	bool plain = false, created = false;
	char q[600];
	int rc;

	rc = ctlset_parse(cfg->controller, cfg->insecure_http, &plain,
			  &d->ctls, q, sizeof(q));
	if (rc == WEFT_ERR_FORBIDDEN) {
		say(d, "refusing plain http to %s: use https, or "
		       "--insecure-http if you really mean it", q);
		return rc;
	}
	if (rc < 0) {
		say(d, "--controller must be http(s) URLs without a path, "
		       "like https://weft.example.com (%s)", q);
		return rc;
	}
	snprintf(d->v.ctl_url, sizeof(d->v.ctl_url), "%s",
		 ctlset_current(d->ctls));
	if (plain)
		log_warn("insecure_http", "url=%s note=\"the node credential "
			 "and map travel unencrypted\"",
			 log_q(q, sizeof(q), cfg->controller));
	rc = statedir_prepare(cfg->state_dir);
	if (rc < 0) {
		say(d, "cannot use state directory %s: %s", cfg->state_dir,
		    weft_strerror(rc));
		return rc;
	}
	rc = statedir_identity(cfg->state_dir, id, &created);
	if (rc < 0) {
		say(d, "cannot load or create the node key in %s: %s",
		    cfg->state_dir, weft_strerror(rc));
		return rc;
	}
	ident_public_b64(*id, pub);
	log_info(created ? "node_key_created" : "node_key_loaded",
		 "public_key=%s", pub);
	return load_cred(d, cred, have_cred);
}

/* The data plane: socket, relay client, tunnels and (unless --no-tun)
 * the TUN device. */
static int start_dataplane(struct daemon *d, const struct ident *id)
{
	const struct daemon_cfg *cfg = d->v.cfg;
	const struct dataplane_hooks hooks = {.on_relay_event = on_relay_event,
					      .on_path_change = on_path_change,
					      .on_peer_lost = on_peer_lost,
					      .ctx = d};
	const struct dataplane_endpoint_cfg ec = {
		.id = id,
		.port = (uint16_t)cfg->port,
		.node_id = d->v.node_id,
		.punch_cooldown_ms = (uint64_t)cfg->punch_cooldown_ms,
		.peer_idle_ms = (uint64_t)cfg->peer_idle_ms,
		.punch_ttl = (int)cfg->punch_ttl,
		.direct = !cfg->no_direct,
		.fwmark = cfg->no_tun ? 0 : (uint32_t)cfg->exit_fwmark};
	int rc = dataplane_new(d->v.loop, &hooks, &d->v.dp);

	if (rc < 0) {
		say(d, "out of memory");
		return rc;
	}
	rc = dataplane_open(d->v.dp, &ec);
	if (rc < 0) {
		say(d, "cannot bind UDP port %lld: %s", (long long)cfg->port,
		    weft_strerror(rc));
		return rc;
	}
	if ((rc = streamfwd_start(&d->v, d->msg, d->msglen)) < 0 || cfg->no_tun)
		return rc;
	rc = dataplane_open_tun(d->v.dp,
				cfg->tun && *cfg->tun ? cfg->tun : "weft0");
	if (rc < 0)
		say(d, "cannot create the TUN device %s: %s (run as root, or "
		       "use --no-tun)", cfg->tun ? cfg->tun : "weft0",
		    weft_strerror(rc));
	return rc;
}

/* The local API, metrics, signals, timers and the interface watch. */
static int start_services(struct daemon *d)
{
	const struct daemon_cfg *cfg = d->v.cfg;
	int rc;

	rc = localapi_new(d->v.loop, cfg->socket_path, commands_handle, &d->v,
			  &d->api);
	if (rc < 0) {
		say(d, rc == -EADDRINUSE
			   ? "another weft-agent is running (socket %s)"
			   : "cannot create the local API socket %s: %s",
		    cfg->socket_path, weft_strerror(rc));
		return rc;
	}
	if (cfg->metrics_listen) {
		rc = metrics_start(&d->v, cfg->metrics_listen, &d->metrics,
				   d->msg, d->msglen);
		if (rc < 0)
			return rc;
	}
	/* Signals first: the control thread must inherit the blocked mask. */
	rc = loop_signal(d->v.loop, SIGTERM, on_signal, d);
	if (rc == 0)
		rc = loop_signal(d->v.loop, SIGINT, on_signal, d);
	if (rc == 0)
		rc = loop_timer_new(d->v.loop, on_ep_timer, d, &d->ep_timer);
	if (rc == 0)
		rc = loop_timer_new(d->v.loop, on_ep_soon, d, &d->ep_soon);
	if (rc < 0) {
		say(d, "cannot set up the event loop: %s", weft_strerror(rc));
		return rc;
	}
	/* Without it the poll below still notices changes, later. */
	rc = ifwatch_new(d->v.loop, on_if_change, d, &d->ifw);
	if (rc < 0)
		log_warn_err(rc, "ifwatch_unavailable", NULL);
	return 0;
}

/* Everything that needs root is open now: keep CAP_NET_ADMIN for the
 * TUN's addresses and routes (nothing without a TUN), drop the rest,
 * and switch to --user. The state directory (and the local API socket)
 * first become the user's, so the credential can still be written. Runs
 * before the control thread exists: capabilities are per thread. */
static int drop_privileges(struct daemon *d)
{
	const struct daemon_cfg *cfg = d->v.cfg;
	struct priv_target t = {.net_admin = !cfg->no_tun,
				.bind_service = !cfg->dns_listen.port,
				.uid = geteuid(), .gid = getegid()};
	uint64_t eff = 0;
	char q[300];
	int rc;

	if (cfg->user) {
		rc = priv_lookup_user(cfg->user, &t.uid, &t.gid);
		if (rc < 0) {
			say(d, "no such user for --user: %s", cfg->user);
			return rc == WEFT_ERR_NOTFOUND ? WEFT_ERR_INVAL : rc;
		}
		t.set_user = true;
	}
	/* As root, a state directory left to another user by an earlier
	 * --user run is taken back (and given to --user). */
	if (geteuid() == 0) {
		rc = priv_chown_dir(cfg->state_dir, t.uid, t.gid);
		if (rc == 0 && t.set_user && lchown(cfg->socket_path, t.uid,
						    t.gid) < 0)
			rc = -errno;
		if (rc < 0) {
			say(d, "cannot give %s to uid %u: %s", cfg->state_dir,
			    (unsigned)t.uid, weft_strerror(rc));
			return rc;
		}
	}
	rc = priv_drop(&t);
	if (rc < 0) {
		say(d, "cannot drop privileges: %s", weft_strerror(rc));
		return rc;
	}
	priv_effective(&eff);
	log_info("privileges_dropped", "user=%s uid=%u gid=%u cap_eff=0x%llx",
		 log_q(q, sizeof(q), cfg->user ? cfg->user : ""),
		 (unsigned)getuid(), (unsigned)getgid(),
		 (unsigned long long)eff);
	return 0;
}

/* The control thread, with the stored credential or registering. */
static int start_control(struct daemon *d, const char *pub,
			 struct statedir_cred *cred, bool have_cred)
{
	const struct daemon_cfg *cfg = d->v.cfg;
	struct control_cfg cc = {0};
	char host[256];
	int rc;

	if (!cfg->hostname) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "node");
		host[sizeof(host) - 1] = '\0';
	}
	cc.url = cfg->controller;
	cc.ca_file = cfg->ca_file;
	cc.auth_key = cfg->auth_key;
	cc.state_dir = cfg->state_dir;
	cc.public_key = pub;
	cc.hostname = cfg->hostname ? cfg->hostname : host;
	cc.routes = cfg->routes;
	cc.nroutes = cfg->nroutes;
	cc.fwmark = dataplane_fwmark(d->v.dp);
	set_state(d, have_cred ? STATE_EV_CONNECT : STATE_EV_CONNECT_NEW);
	rc = control_new(d->v.loop, &cc, have_cred ? cred : NULL, on_control,
			 d, &d->ctl);
	if (rc < 0)
		say(d, "cannot start the control thread: %s",
		    weft_strerror(rc));
	return rc;
}

int daemon_run(const struct daemon_cfg *cfg, char *msg, size_t msglen)
{
	struct daemon d = {.v.cfg = cfg, .msg = msg, .msglen = msglen};
	struct statedir_cred cred;
	struct ident *id = NULL;
	char pub[IDENT_B64_LEN], q[600];
	bool have_cred = false;
	int rc;

	msg[0] = '\0';
	rc = prepare(&d, &id, pub, &cred, &have_cred);
	if (rc < 0)
		goto out;
	rc = map_new(&d.v.map);
	if (rc == 0)
		rc = resclient_new(&d.v.res);
	if (rc == 0)
		rc = loop_new(&d.v.loop);
	if (rc < 0) {
		say(&d, "out of memory");
		goto out;
	}
	rc = start_dataplane(&d, id);
	if (rc == 0)
		rc = start_connector(&d);
	if (rc == 0)
		rc = start_exitnode(&d);
	if (rc == 0 && (rc = dnshost_new(d.v.loop, &(struct dnshost_cfg){
		.mode = cfg->dns_mode, .tun = dataplane_tun_name(
		d.v.dp), .resolv_conf = cfg->resolv_conf, .state_dir =
		cfg->state_dir}, &d.v.dns)) < 0)
		say(&d, "cannot set up DNS: %s", weft_strerror(rc));
	/* No TUN: the stub's mesh addresses are nowhere local; it runs only
	 * on an explicit --dns-listen. */
	if (rc == 0 && (!cfg->no_tun || cfg->dns_listen.port) &&
	    (rc = dnsstub_start(d.v.loop, d.v.map, d.v.res,
		&cfg->dns_listen, dnshost_original(d.v.dns), &d.v.stub)) < 0)
		say(&d, "cannot start the DNS stub: %s", weft_strerror(rc));
	if (rc == 0)
		rc = start_services(&d);
	if (rc == 0)
		rc = drop_privileges(&d);
	if (rc == 0)
		rc = start_control(&d, pub, &cred, have_cred);
	explicit_bzero(&cred, sizeof(cred));
	if (rc < 0)
		goto out;
	log_info("agent_started", "controller=%s socket=%s port=%u",
		 log_q(q, sizeof(q), cfg->controller), cfg->socket_path,
		 (unsigned)dataplane_port(d.v.dp));
	check_endpoints(&d);
	loop_timer_start(d.ep_timer, (cfg->endpoint_check_ms > 0
					      ? cfg->endpoint_check_ms
					      : 10000) * 1000);
	rc = loop_run(d.v.loop);
	if (rc == 0)
		rc = d.exit_rc;
	if (rc == 0)
		set_state(&d, STATE_EV_STOP);
out:
	control_del(d.ctl);
	/* The tables go first, while the TUN they name still exists. */
	exitnode_del(d.v.exit);
	dnshost_del(d.v.dns);
	dnsstub_del(d.v.stub);
	connector_del(d.v.conn);
	streamfwd_stop(&d.v);
	dataplane_del(d.v.dp);
	localapi_del(d.api);
	metricsd_del(d.metrics);
	loop_timer_del(d.ep_timer);
	loop_timer_del(d.ep_soon);
	ifwatch_del(d.ifw);
	loop_del(d.v.loop);
	map_del(d.v.map);
	resclient_del(d.v.res);
	json_decref(d.v.node);
	json_decref(d.endpoints);
	json_decref(d.v.reported);
	ident_del(id);
	ctlset_del(d.ctls);
	if (rc < 0 && !msg[0])
		say(&d, "%s", weft_strerror(rc));
	return rc;
}
