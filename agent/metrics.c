/* The agent's metrics: see metrics.h. */
#include "agent/metrics.h"

#include "agent/daemon.h"
#include "agent/dataplane.h"
#include "agent/dnsstatus.h"
#include "agent/filter.h"
#include "agent/streamfwd.h"
#include "agent/streams.h"
#include "agent/map.h"
#include "agent/relayc.h"
#include "agent/resclient.h"
#include "agent/state.h"
#include "agent/tunnel.h"
#include "agent/view.h"
#include "shared/buf.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/metricsd.h"
#include "shared/quic.h"

#include <stdio.h>
#include <string.h>

/* "addr:port", where port 0 (any free port) is allowed. */
static int metrics_addr(const char *s, struct ip_endpoint *out)
{
	size_t n = strlen(s);
	char tmp[IP_ENDPOINT_STRLEN + 1];
	int rc;

	if (n >= 2 && strcmp(s + n - 2, ":0") == 0 && n < sizeof(tmp)) {
		memcpy(tmp, s, n + 1);
		tmp[n - 1] = '1';
		rc = ip_endpoint_parse(tmp, out);
		if (rc == 0)
			out->port = 0;
		return rc;
	}
	return ip_endpoint_parse(s, out);
}

/* Per-peer byte counters, labelled by peer name. */
static int metrics_peers(const struct agent_view *v, struct buf *out,
			 const char *key, const char *name, const char *help)
{
	size_t n, i;
	const struct map_peer *const *peers = map_peers(v->map, &n);
	json_t *pj;
	int rc;

	rc = metricsd_family(out, name, "counter", help);
	for (i = 0; i < n && rc >= 0; i++) {
		const char *pn = peers[i]->name;

		pj = json_object();
		if (!pj || tunnels_peer_json(dataplane_tunnels(v->dp),
					     peers[i]->id, pj) < 0) {
			json_decref(pj);
			rc = WEFT_ERR_NOMEM;
			break;
		}
		rc = metricsd_labelled(out, name, "peer", pn ? pn : "",
				       (uint64_t)json_integer_value(
					       json_object_get(pj, key)));
		json_decref(pj);
	}
	return rc;
}

/* Per forward (by its listen address): one family per field of
 * streamfwd_list_json. */
static int metrics_forwards(const struct agent_view *v, struct buf *out)
{
	static const struct {
		const char *name, *key, *type, *help;
	} fam[] = {
		{"weft_agent_forward_connections_total", "accepted", "counter",
		 "Connections a stream-mode forward accepted."},
		{"weft_agent_forward_failed_total", "failed", "counter",
		 "Of those, the ones refused (a limit, no such peer, no "
		 "connection, refused by the peer)."},
		{"weft_agent_forward_active", "active", "gauge",
		 "A forward's streams open now."},
		{"weft_agent_forward_tx_bytes_total", "bytes_tx", "counter",
		 "Bytes a forward's clients sent."},
		{"weft_agent_forward_rx_bytes_total", "bytes_rx", "counter",
		 "Bytes a forward's clients received."},
	};
	json_t *list = streamfwd_list_json(v->fwd), *f;
	int rc = list ? 0 : WEFT_ERR_NOMEM;
	size_t i;

	for (size_t k = 0; rc == 0 && k < sizeof(fam) / sizeof(fam[0]); k++) {
		rc = metricsd_family(out, fam[k].name, fam[k].type,
				     fam[k].help);
		json_array_foreach(list, i, f) {
			if (rc == 0)
				rc = metricsd_labelled(
					out, fam[k].name, "listen",
					json_string_value(json_object_get(
						f, "listen")),
					(uint64_t)json_integer_value(
						json_object_get(f,
								fam[k].key)));
		}
	}
	json_decref(list);
	return rc;
}

/* Stream mode (agent/streams.h). */
static int metrics_streams(const struct agent_view *v, struct buf *out)
{
	struct streams_stats st = {0};
	static const char *const what[] = {
		"opened", "accepted", "refused_peer_limit",
		"refused_total_limit", "refused_policy", "refused_target",
		"refused_service", "failed", "resets", "idle_closed",
		"accepted_resource", "refused_resolve", "refused_early"};
	uint64_t val[13];
	int rc;

	if (v->streams)
		streams_get_stats(v->streams, &st);
	val[0] = st.opened, val[1] = st.accepted;
	val[2] = st.refused_peer_limit, val[3] = st.refused_total_limit;
	val[4] = st.refused_policy, val[5] = st.refused_target;
	val[6] = st.refused_service, val[7] = st.failed, val[8] = st.resets;
	val[9] = st.idle_closed, val[10] = st.accepted_resource;
	val[11] = st.refused_resolve, val[12] = st.refused_early;
	rc = metricsd_family(out, "weft_agent_streams_total", "counter",
			     "Stream-mode TCP streams, by what became of "
			     "them.");
	for (size_t i = 0; rc == 0 && i < 13; i++)
		rc = metricsd_labelled(out, "weft_agent_streams_total",
				       "event", what[i], val[i]);
	if (rc == 0)
		rc = metricsd_one(out, "weft_agent_streams_active", "gauge",
				  "Stream-mode streams open now.", st.active);
	if (rc == 0)
		rc = metricsd_family(out, "weft_agent_stream_bytes_total",
				     "counter", "TCP payload bytes of "
				     "stream mode, by direction.");
	if (rc == 0)
		rc = metricsd_labelled(out, "weft_agent_stream_bytes_total",
				       "dir", "tx", st.bytes_tx);
	if (rc == 0)
		rc = metricsd_labelled(out, "weft_agent_stream_bytes_total",
				       "dir", "rx", st.bytes_rx);
	if (rc == 0)
		rc = metricsd_one(out, "weft_agent_stream_accept_pauses_total",
				  "counter", "Pauses of stream-mode listeners "
				  "whose accept failed for want of descriptors "
				  "or memory.", streamfwd_pauses(v->fwd));
	return rc == 0 ? metrics_forwards(v, out) : rc;
}

static int metrics_fill(struct buf *out, void *ctx)
{
	const struct agent_view *v = ctx;
	struct relayc *relay = dataplane_relay(v->dp);
	struct tunnels *tun = dataplane_tunnels(v->dp);
	struct quic_endpoint *ep = dataplane_endpoint(v->dp);
	struct dataplane_stats ds;
	struct relayc_status rs;
	struct filter_stats fs;
	struct tunnels_stats ts;
	struct quic_endpoint_stats qs;
	int rc = 0, i;

	relayc_status(relay, &rs);
	filter_get_stats(dataplane_filter(v->dp), clock_mono_ms(), &fs);
	dataplane_stats(v->dp, &ds);
#define TRY(x)                                                               \
	do {                                                                 \
		if ((rc = (x)) < 0)                                          \
			return rc;                                           \
	} while (0)
	TRY(metricsd_family(out, "weft_agent_state", "gauge",
			    "1 for the agent's current state, 0 for the "
			    "others."));
	for (i = 0; i <= STATE_RECONNECTING; i++)
		TRY(metricsd_labelled(out, "weft_agent_state", "state",
				      state_name((enum state)i),
				      v->state == (enum state)i));
	TRY(metricsd_one(out, "weft_agent_controller_reachable", "gauge",
			 "1 when the last controller request got an answer.",
			 v->reachable));
	TRY(metricsd_one(out, "weft_agent_map_version", "gauge",
			 "Version of the network map in use.",
			 (uint64_t)map_version(v->map)));
	TRY(metricsd_one(out, "weft_agent_peers", "gauge",
			 "Peers in the network map.",
			 (uint64_t)map_peer_count(v->map)));
	TRY(metricsd_one(out, "weft_agent_relay_connected", "gauge",
			 "1 while authenticated to the home relay.",
			 rs.have_relay && rs.connected));
	TRY(metricsd_one(out, "weft_agent_relay_connects_total", "counter",
			 "Successful relay authentications.",
			 rs.have_relay ? rs.connects : 0));
	TRY(metrics_peers(v, out, "rx_bytes", "weft_agent_peer_rx_bytes_total",
			  "Bytes received from a peer."));
	TRY(metrics_peers(v, out, "tx_bytes", "weft_agent_peer_tx_bytes_total",
			  "Bytes sent to a peer."));
	TRY(metricsd_family(out, "weft_agent_packets_allowed_total", "counter",
			    "Received packets the filter let in, by why."));
	TRY(metricsd_labelled(out, "weft_agent_packets_allowed_total", "by",
			      "rule", fs.allowed));
	TRY(metricsd_labelled(out, "weft_agent_packets_allowed_total", "by",
			      "tracked", fs.allowed_tracked));
	TRY(metricsd_labelled(out, "weft_agent_packets_allowed_total", "by",
			      "fragment", fs.allowed_fragment));
	TRY(metricsd_one(out, "weft_agent_packets_denied_total", "counter",
			 "Received packets the filter dropped.", fs.denied));
	TRY(metricsd_one(out, "weft_agent_packets_denied_forward_total",
			 "counter", "Of those, the ones not to this node's own "
			 "addresses (what a connector did not forward).",
			 ds.rx_denied_forward));
	TRY(metricsd_one(out, "weft_agent_packets_denied_early_total",
			 "counter", "Packets to a resource its filters do not "
			 "allow, refused at this client (ICMP "
			 "admin-prohibited or TCP reset) instead of sent.",
			 ds.tx_denied_early));
	TRY(metricsd_one(out, "weft_agent_resource_connector_moves_total",
			 "counter", "Resources moved from one connector to "
			 "another (the connector left or was lost).",
			 resclient_moves(v->res)));
	TRY(metrics_streams(v, out));
	TRY(metricsd_one(out, "weft_agent_flows", "gauge",
			 "Tracked flows not yet expired.", fs.ct_entries));
	TRY(metricsd_one(out, "weft_agent_flows_evicted_total", "counter",
			 "Live tracked flows pushed out of the full flow "
			 "table (their replies are denied from then on).",
			 fs.ct_evicted));
	TRY(metricsd_family(out, "weft_agent_rx_drops_total", "counter",
			    "Received packets dropped, by reason."));
	TRY(metricsd_labelled(out, "weft_agent_rx_drops_total", "reason",
			      "malformed", ds.rx_malformed));
	TRY(metricsd_labelled(out, "weft_agent_rx_drops_total", "reason",
			      "spoofed", ds.rx_spoofed));
	TRY(metricsd_labelled(out, "weft_agent_rx_drops_total", "reason",
			      "undelivered", ds.rx_undelivered));
	TRY(metricsd_labelled(out, "weft_agent_rx_drops_total", "reason",
			      "tun_write_error", ds.rx_tun_errors));
	TRY(metricsd_family(out, "weft_agent_tx_drops_total", "counter",
			    "Packets from the TUN not sent, by reason."));
	TRY(metricsd_labelled(out, "weft_agent_tx_drops_total", "reason",
			      "malformed", ds.tx_malformed));
	TRY(metricsd_labelled(out, "weft_agent_tx_drops_total", "reason",
			      "noroute", ds.tx_noroute));
	TRY(metricsd_labelled(out, "weft_agent_tx_drops_total", "reason",
			      "dropped", ds.tx_dropped));
	memset(&ts, 0, sizeof(ts));
	if (tun)
		tunnels_stats(tun, &ts);
	TRY(metricsd_labelled(out, "weft_agent_tx_drops_total", "reason",
			      "stale", ts.stale));
	TRY(metricsd_one(out, "weft_agent_punch_rounds_total", "counter",
			 "Hole punching rounds started.", ts.punch_rounds));
	TRY(metricsd_one(out, "weft_agent_punch_successes_total", "counter",
			 "Migrations to a direct path that validated.",
			 ts.punch_successes));
	TRY(metricsd_one(out, "weft_agent_path_fallbacks_total", "counter",
			 "Moves back to the relay after a direct path died.",
			 ts.fallbacks));
	TRY(metricsd_one(out, "weft_agent_direct_peers", "gauge",
			 "Peers whose connection is on a direct path.",
			 ts.direct_peers));
	TRY(metricsd_family(out, "weft_agent_time_to_direct_seconds", "gauge",
			    "Seconds from the start of the last successful "
			    "punch round to the direct path (0: none yet)."));
	TRY(buf_appendf(out, "weft_agent_time_to_direct_seconds %.3f\n",
		       ts.last_time_to_direct_ms > 0
			       ? (double)ts.last_time_to_direct_ms / 1000.0
			       : 0.0));
	TRY(metricsd_one(out, "weft_agent_echo_answered_total", "counter",
			 "Echo requests answered by the built-in responder.",
			 ds.echo_answered));
	memset(&qs, 0, sizeof(qs));
	if (ep)
		quic_endpoint_stats(ep, &qs);
	TRY(metricsd_family(out, "weft_agent_udp_datagrams_total", "counter",
			    "UDP datagrams sent and received on the socket."));
	TRY(metricsd_labelled(out, "weft_agent_udp_datagrams_total", "dir",
			      "out", qs.udp_sent));
	TRY(metricsd_labelled(out, "weft_agent_udp_datagrams_total", "dir",
			      "in", qs.udp_recv));
	TRY(metricsd_family(out, "weft_agent_udp_messages_total", "counter",
			    "Socket messages that carried them (one per "
			    "datagram without UDP GSO/GRO)."));
	TRY(metricsd_labelled(out, "weft_agent_udp_messages_total", "dir",
			      "out", qs.udp_send_msgs));
	TRY(metricsd_labelled(out, "weft_agent_udp_messages_total", "dir",
			      "in", qs.udp_recv_msgs));
	TRY(dnsstatus_metrics(out, v->stub));
#undef TRY
	return rc;
}

/* /readyz: registered, a network map applied, and the map's home relay
 * connected. A map without relays has no home relay to wait for, so
 * that check holds then (docs/agent.md). */
static size_t readyz(struct metricsd_check *ck, size_t cap, void *ctx)
{
	const struct agent_view *v = ctx;
	struct relayc_status rs;

	if (cap < 3)
		return 0;
	relayc_status(dataplane_relay(v->dp), &rs);
	ck[0] = (struct metricsd_check){"registered", v->node_id > 0};
	ck[1] = (struct metricsd_check){"map", v->last_map > 0};
	ck[2] = (struct metricsd_check){
		"home_relay",
		v->last_map > 0 && (!rs.have_relay || rs.connected)};
	return 3;
}

int metrics_start(const struct agent_view *v, const char *listen,
		  struct metricsd **out, char *msg, size_t msglen)
{
	struct ip_endpoint me;
	char text[IP_ENDPOINT_STRLEN];
	int rc;

	if (metrics_addr(listen, &me) < 0) {
		snprintf(msg, msglen, "bad --metrics-listen %s (want "
			 "ADDR:PORT)", listen);
		return WEFT_ERR_INVAL;
	}
	/* metricsd hands ctx back as it got it; fill only reads v. */
	rc = metricsd_new(v->loop, &me, metrics_fill, (void *)v, out);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot serve metrics on %s: %s", listen,
			 weft_strerror(rc));
		return rc;
	}
	metricsd_set_ready(*out, readyz, (void *)v);
	me.port = metricsd_port(*out);
	if (ip_endpoint_format(&me, text, sizeof(text)) < 0)
		text[0] = '\0';
	log_info("metrics_listening", "addr=%s", text);
	return 0;
}
