/* The local API's commands: see commands.h. */
#include "agent/commands.h"

#include "agent/connector.h"
#include "agent/dnsstatus.h"
#include "agent/exitnode.h"
#include "agent/mapjson.h"
#include "agent/daemon.h"
#include "agent/dataplane.h"
#include "agent/filter.h"
#include "agent/streamfwd.h"
#include "agent/streams.h"
#include "agent/map.h"
#include "agent/mapjson.h"
#include "agent/ping.h"
#include "agent/resclient.h"
#include "agent/resnames.h"
#include "agent/relayc.h"
#include "agent/relayset.h"
#include "agent/state.h"
#include "agent/tunnel.h"
#include "agent/view.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/ip.h"
#include "shared/log.h"
#include "shared/loop.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static json_t *time_or_null(int64_t s)
{
	char buf[CLOCK_RFC3339_LEN + 8];

	if (s <= 0 || clock_format_rfc3339(s, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

/* self from the map, else the node from registration. */
static const json_t *self_of(const struct agent_view *v)
{
	const struct map_self *self = map_self(v->map);

	return self ? self->json : v->node;
}

static json_t *copy_field(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v ? json_incref(v) : json_null();
}

static json_t *relay_answer(const struct agent_view *v)
{
	struct relayc_status rs;
	char a[IP_ENDPOINT_STRLEN], q[IP_ENDPOINT_STRLEN];

	relayc_status(dataplane_relay(v->dp), &rs);
	if (!rs.have_relay)
		return json_null();
	ip_endpoint_format(&rs.addr, a, sizeof(a));
	if (rs.have_qad)
		ip_endpoint_format(&rs.qad, q, sizeof(q));
	return json_pack("{s:s, s:s, s:b, s:o, s:I}", "name", rs.name,
			 "address", a, "connected", rs.connected, "qad",
			 rs.have_qad ? json_string(q) : json_null(),
			 "connects", (json_int_t)rs.connects);
}

static json_t *status_answer(const struct agent_view *v)
{
	const json_t *self = self_of(v);
	size_t nrelays, i;
	const struct map_relay *relays = map_relays(v->map, &nrelays);
	json_t *names = json_array(), *st;
	json_t *links = v->dp && dataplane_relays(v->dp)
				? relayset_json(dataplane_relays(v->dp)) : NULL;

	for (i = 0; names && i < nrelays; i++)
		if (relays[i].name)
			json_array_append_new(names,
					      json_string(relays[i].name));
	st = json_pack(
		"{s:s, s:o, s:{s:I, s:o, s:o, s:o}, s:{s:s, s:b, s:o, s:o}, "
		"s:o, s:o, s:{s:I, s:o, s:I}, s:o, s:I, s:o, s:b}",
		"state", state_name(v->state),
		"state_since", time_or_null(v->state_since),
		"node", "id", (json_int_t)(v->node_id ? v->node_id
			: json_integer_value(json_object_get(self, "id"))),
		"name", copy_field(self, "name"),
		"ipv4", copy_field(self, "ipv4"),
		"ipv6", copy_field(self, "ipv6"),
		"controller", "url", v->ctl_url,
		"reachable", v->reachable,
		"last_contact", time_or_null(v->last_contact),
		"last_error", v->last_error[0] ? json_string(v->last_error)
					       : json_null(),
		"relay", relay_answer(v),
		"relays", names ? names : json_array(),
		"map", "version", (json_int_t)map_version(v->map),
		"updated", time_or_null(v->last_map),
		"peers", (json_int_t)map_peer_count(v->map),
		"endpoints", v->reported ? json_incref(v->reported)
					 : json_array(),
		"port", (json_int_t)dataplane_port(v->dp),
		"tun", dataplane_tun_name(v->dp)
			       ? json_string(dataplane_tun_name(v->dp))
			       : json_null(),
		"accept_routes", v->cfg->accept_routes);
	/* Every relay's connection and RTT; "relay" is the home one. */
	if (st && links && json_object_set_new(st, "relay_links", links) == 0)
		links = NULL;
	json_decref(links);
	return st;
}

/* The connector's part of status: null unless it forwards. */
static json_t *connector_answer(const struct agent_view *v)
{
	json_t *c = connector_json(v->conn);

	return c ? c : json_null();
}

/* The exit node's part of status: null without a TUN. */
/* The exit node and the connector its traffic goes to (the resource's
 * choice). */
static json_t *exit_answer(const struct agent_view *v)
{
	json_t *x = v->exit ? exitnode_json(v->exit) : NULL;
	int64_t res = exitnode_resource(v->exit);
	int64_t c = res ? resclient_connector(v->res, res) : 0;
	const struct map_peer *p = c ? map_peer(v->map, c) : NULL;

	if (!x)
		return json_null();
	if (json_object_set_new(x, "connector", c ? json_integer(c)
						  : json_null()) < 0 ||
	    json_object_set_new(x, "connector_name",
				p && p->name ? json_string(p->name)
					     : json_null()) < 0) {
		json_decref(x);
		return NULL;
	}
	return x;
}

static json_t *peers_answer(const struct agent_view *v)
{
	size_t n, i;
	const struct map_peer *const *peers = map_peers(v->map, &n);
	json_t *out = json_array();

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		const json_t *p = peers[i]->json;
		json_t *e = json_pack(
			"{s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o, "
			"s:o, s:o, s:o}",
			"id", copy_field(p, "id"),
			"name", copy_field(p, "name"),
			"dns_name", copy_field(p, "dns_name"),
			"ipv4", copy_field(p, "ipv4"),
			"ipv6", copy_field(p, "ipv6"),
			"online", copy_field(p, "online"),
			"path", "none", /* tunnels_peer_json sets it */
			"endpoints", copy_field(p, "endpoints"),
			"home_relay", copy_field(p, "home_relay"),
			"last_seen", copy_field(p, "last_seen"),
			"allowed_ips", copy_field(p, "allowed_ips"),
			"tags", copy_field(p, "tags"),
			"user", copy_field(p, "user"));

		if (e && (tunnels_peer_json(dataplane_tunnels(v->dp),
					    peers[i]->id, e) < 0 ||
			  streams_peer_json(v->streams, peers[i]->id, e) <
				  0)) {
			json_decref(e);
			e = NULL;
		}
		/* Unix seconds become a time like the map's last_seen. */
		if (e && json_object_set_new(
				 e, "path_changed",
				 time_or_null(json_integer_value(json_object_get(
					 e, "path_changed")))) < 0) {
			json_decref(e);
			e = NULL;
		}
		if (!e || json_array_append_new(out, e) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	return json_pack("{s:o}", "peers", out);
}

static json_t *routes_answer(const struct agent_view *v)
{
	size_t n, i, j;
	const struct map_peer *const *peers = map_peers(v->map, &n);
	json_t *out = json_array();

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct map_peer *p = peers[i];

		for (j = 0; j < p->nallowed; j++) {
			char prefix[IP_PREFIX_STRLEN];
			bool mesh = map_is_mesh_prefix(p, &p->allowed_ips[j]);
			json_t *e;

			if (ip_prefix_format(&p->allowed_ips[j], prefix,
					     sizeof(prefix)) < 0)
				continue;
			e = json_pack("{s:s, s:o, s:I, s:s, s:b}", "prefix",
				      prefix, "peer", copy_field(p->json, "name"),
				      "peer_id", (json_int_t)p->id, "kind",
				      mesh ? "mesh" : "subnet", "accepted",
				      mesh || v->cfg->accept_routes);
			if (!e || json_array_append_new(out, e) < 0) {
				json_decref(out);
				return NULL;
			}
		}
	}
	{
		size_t nres, nserves;
		const struct map_res *res = map_resources(v->map, &nres);
		const struct map_res *serves = map_serves(v->map, &nserves);
		json_t *rj = mapjson_res_json(res, nres, false);

		/* What this node may reach, with the connector its traffic
		 * goes to now, and what it connects. */
		if (rj)
			resclient_annotate(v->res, v->map, v->dp, rj);
		return json_pack("{s:o, s:o, s:o}", "routes", out, "resources",
				 rj, "serves",
				 mapjson_res_json(serves, nserves, true));
	}
}

static json_t *api_error(const char *code, const char *message)
{
	return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
			 message);
}

static bool str_is(const char *v, const char *want)
{
	return v && strcmp(v, want) == 0;
}

static bool addr_is(const struct ip_addr *a, const struct ip_addr *want)
{
	return a->family && want->family && ip_addr_eq(a, want);
}

/* {"cmd": "ping", "peer": NAME|ID|MESH-IP}: sends one echo request into
 * the peer's tunnel (connecting it if needed) and answers at once with
 * {"ping": SEQ, ...}; the CLI polls "ping_result" for the reply. The
 * mesh IPv6 address is used when the peer was named by it, else IPv4. */
static json_t *cmd_ping(const struct agent_view *v, const json_t *req)
{
	const char *want = json_string_value(json_object_get(req, "peer"));
	size_t n, i;
	const struct map_peer *const *peers = map_peers(v->map, &n);
	const struct map_peer *found = NULL;
	struct ip_addr dst, src, want_ip = {0};
	char idbuf[32], addr[IP_ADDR_STRLEN], why[160];
	uint16_t seq;
	int rc;

	if (!want || !*want)
		return api_error("invalid", "ping needs a peer");
	if (ip_addr_parse(want, &want_ip) < 0)
		memset(&want_ip, 0, sizeof(want_ip));
	for (i = 0; i < n && !found; i++) {
		const struct map_peer *p = peers[i];

		snprintf(idbuf, sizeof(idbuf), "%lld", (long long)p->id);
		if (str_is(p->name, want) || str_is(p->dns_name, want) ||
		    addr_is(&p->ipv4, &want_ip) || addr_is(&p->ipv6, &want_ip) ||
		    strcmp(idbuf, want) == 0)
			found = p;
	}
	if (!found)
		return api_error("not_found", "no such peer in this node's map");
	dst = found->ipv4;
	if (addr_is(&found->ipv6, &want_ip) || !dst.family)
		dst = found->ipv6;
	if (!dst.family || ip_addr_format(&dst, addr, sizeof(addr)) < 0)
		return api_error("invalid", "the peer has no mesh address");
	if (dataplane_self(v->dp, dst.family, &src) < 0)
		return api_error("unavailable", "this node has no mesh address "
				 "of that family yet");
	rc = dataplane_ping(v->dp, found->id, &dst, &seq);
	if (rc < 0) {
		snprintf(why, sizeof(why), "cannot send to the peer: %s",
			 weft_strerror(rc));
		return api_error("unavailable", why);
	}
	return json_pack("{s:i, s:I, s:o, s:s}", "ping", (int)seq, "id",
			 (json_int_t)found->id, "peer",
			 copy_field(found->json, "name"), "address", addr);
}

/* {"cmd": "ping_result", "ping": SEQ}: {"done": false} while waiting,
 * then {"done": true, "rtt_ms": .., "path": ..}. */
static json_t *cmd_ping_result(const struct agent_view *v, const json_t *req)
{
	json_int_t seq = json_integer_value(json_object_get(req, "ping"));
	int64_t peer = 0, rtt_us = 0;
	json_t *pj, *ans;
	int rc;

	if (seq <= 0 || seq > UINT16_MAX)
		return api_error("invalid", "ping_result needs a ping number");
	rc = ping_result(dataplane_pings(v->dp), (uint16_t)seq, &peer, &rtt_us);
	if (rc == WEFT_ERR_NOTFOUND)
		return api_error("not_found", "unknown or expired ping");
	if (rc < 0)
		return json_pack("{s:b}", "done", 0);
	pj = json_object();
	if (!pj || tunnels_peer_json(dataplane_tunnels(v->dp), peer, pj) < 0) {
		json_decref(pj);
		return NULL;
	}
	ans = json_pack("{s:b, s:f, s:O}", "done", 1, "rtt_ms",
			(double)rtt_us / 1000.0, "path",
			json_object_get(pj, "path") ? json_object_get(pj, "path")
						    : json_null());
	json_decref(pj);
	return ans;
}

static json_t *dataplane_answer(const struct agent_view *v)
{
	struct filter_stats fs;
	struct dataplane_stats ds;
	struct tunnels_stats ts = {0};

	filter_get_stats(dataplane_filter(v->dp), clock_mono_ms(), &fs);
	dataplane_stats(v->dp, &ds);
	if (dataplane_tunnels(v->dp))
		tunnels_stats(dataplane_tunnels(v->dp), &ts);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I, s:I, s:I, s:I}",
			 "allowed", (json_int_t)fs.allowed,
			 "allowed_tracked", (json_int_t)fs.allowed_tracked,
			 "denied", (json_int_t)fs.denied,
			 "denied_forward", (json_int_t)ds.rx_denied_forward,
			 "flows", (json_int_t)fs.ct_entries,
			 "flows_evicted", (json_int_t)fs.ct_evicted,
			 "malformed", (json_int_t)ds.rx_malformed,
			 "spoofed", (json_int_t)ds.rx_spoofed,
			 "undelivered", (json_int_t)ds.rx_undelivered,
			 "echo_answered", (json_int_t)ds.echo_answered,
			 "tun_write_errors", (json_int_t)ds.rx_tun_errors,
			 "tx_malformed", (json_int_t)ds.tx_malformed,
			 "tx_noroute", (json_int_t)ds.tx_noroute,
			 "denied_early", (json_int_t)ds.tx_denied_early,
			 "tx_dropped", (json_int_t)ds.tx_dropped,
			 "tx_stale", (json_int_t)ts.stale);
}

static json_t *addr_or_null(const struct ip_addr *a)
{
	char buf[IP_ADDR_STRLEN];

	if (!a->family || ip_addr_format(a, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

/* `resolve`: the mapped address of a DNS or wildcard resource's name. */
static json_t *cmd_resolve(const struct agent_view *v, const json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	struct resnames_hit h;
	int rc;

	if (!name || !*name)
		return api_error("invalid", "resolve needs a name");
	rc = resclient_resolve(v->res, v->map, name, &h);
	if (rc == WEFT_ERR_INVAL)
		return api_error("invalid", "not a valid DNS name");
	if (rc == WEFT_ERR_NOTFOUND)
		return api_error("not_found", "no DNS or wildcard resource "
					      "this node may reach has that "
					      "name");
	if (rc < 0)
		return api_error(weft_errname(rc), weft_strerror(rc));
	return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "name", h.name,
			 "resource", h.res->name, "resource_id",
			 (json_int_t)h.res->id, "type",
			 mapjson_res_type(h.res->type), "ipv4",
			 addr_or_null(&h.v4), "ipv6", addr_or_null(&h.v6));
}

/* forward_add {"spec": LISTEN=TARGET}, forward_remove {"listen":
 * ADDR:PORT}: {"ok": true} or an error with the sentence of
 * streamfwd_add / streamfwd_remove; forward_list: {"forwards": [...]}. */
static json_t *cmd_forward(const struct agent_view *v, const char *cmd,
			   const json_t *req)
{
	const char *arg = json_string_value(json_object_get(
		req, strcmp(cmd, "forward_add") == 0 ? "spec" : "listen"));
	char err[512], q[128];
	int rc;

	if (!v->fwd)
		return api_error("unavailable", "stream mode is not running");
	if (strcmp(cmd, "forward_list") == 0)
		return json_pack("{s:o}", "forwards",
				 streamfwd_list_json(v->fwd));
	if (!arg || !*arg)
		return api_error("invalid", strcmp(cmd, "forward_add") == 0
			? "forward add needs LISTEN=TARGET"
			: "forward remove needs the LISTEN address");
	if (strcmp(cmd, "forward_add") == 0)
		rc = streamfwd_add(v->fwd, arg, false, err, sizeof(err));
	else
		rc = streamfwd_remove(v->fwd, arg, err, sizeof(err));
	if (rc == 0) {
		log_info(strcmp(cmd, "forward_add") == 0 ? "forward_added"
							 : "forward_removed",
			 "forward=%s", log_q(q, sizeof(q), arg));
		return json_pack("{s:b}", "ok", 1);
	}
	return api_error(rc == WEFT_ERR_PARSE ? "invalid"
			 : rc == WEFT_ERR_NOTFOUND ? "not_found"
			 : rc == WEFT_ERR_EXISTS || rc == -EADDRINUSE
				 ? "exists" : "unavailable", err);
}

json_t *commands_handle(const char *cmd, const json_t *req, void *ctx)
{
	const struct agent_view *v = ctx;
	json_t *ans;

	if (strcmp(cmd, "status") == 0) {
		ans = status_answer(v);
		if (ans && (json_object_set_new(ans, "dataplane",
						dataplane_answer(v)) < 0 ||
			    json_object_set_new(ans, "connector",
						connector_answer(v)) < 0 ||
			    json_object_set_new(ans, "streams",
						streamfwd_json(v)) < 0 ||
			    json_object_set_new(ans, "resources",
						resclient_json(v->res,
							       v->dp)) < 0 ||
			    json_object_set_new(ans, "exit_node",
						exit_answer(v)) < 0 ||
			    json_object_set_new(ans, "dns",
						dnsstatus_json(v->dns,
							       v->stub)) < 0)) {
			json_decref(ans);
			ans = NULL;
		}
		return ans;
	}
	if (strcmp(cmd, "peers") == 0)
		return peers_answer(v);
	if (strcmp(cmd, "routes") == 0)
		return routes_answer(v);
	if (strcmp(cmd, "ping") == 0)
		return cmd_ping(v, req);
	if (strcmp(cmd, "resolve") == 0)
		return cmd_resolve(v, req);
	if (strcmp(cmd, "ping_result") == 0)
		return cmd_ping_result(v, req);
	if (strncmp(cmd, "forward_", 8) == 0 &&
	    (strcmp(cmd + 8, "add") == 0 || strcmp(cmd + 8, "list") == 0 ||
	     strcmp(cmd + 8, "remove") == 0))
		return cmd_forward(v, cmd, req);
	if (strcmp(cmd, "down") == 0) {
		log_info("agent_down", "reason=local_api");
		loop_stop(v->loop);
		return json_pack("{s:b}", "ok", 1);
	}
	return api_error("invalid", "unknown command");
}

