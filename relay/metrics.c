/* Relay metrics text; see metrics.h. */
#include "relay/metrics.h"

#include "shared/metricsd.h"

int metrics_render(const struct relay_stats *s, const struct metrics_engine *e,
		   struct buf *out)
{
	int r = 0;
	unsigned i;

#define TRY(x)                                                               \
	do {                                                                 \
		if ((r = (x)) < 0)                                           \
			return r;                                            \
	} while (0)
	TRY(metricsd_one(out, "weft_relay_connections", "gauge",
		"Control connections open now.", s->clients));
	TRY(metricsd_one(out, "weft_relay_nodes", "gauge",
		"Authenticated nodes connected now.", s->nodes));
	TRY(metricsd_one(out, "weft_relay_max_connections", "gauge",
		"Configured connection limit.", e->max_conns));
	TRY(metricsd_one(out, "weft_relay_handshakes_total", "counter",
		"QUIC handshakes completed.", e->handshakes));
	TRY(metricsd_one(out, "weft_relay_auth_ok_total", "counter",
		"Successful AUTH messages (first and refresh).", s->auth_ok));
	TRY(metricsd_family(out, "weft_relay_auth_failures_total", "counter",
		   "Connections closed for failed authentication, by reason."));
	for (i = 0; i < RELAY_AUTH_NREASONS; i++)
		TRY(metricsd_labelled(out, "weft_relay_auth_failures_total", "reason",
			     relay_auth_fail_name(i), s->auth_failed[i]));
	TRY(metricsd_one(out, "weft_relay_replaced_total", "counter",
		"Connections replaced by a newer one of the same node.",
		s->replaced));
	TRY(metricsd_one(out, "weft_relay_frames_forwarded_total", "counter",
		"Relay frames forwarded.", s->frames_forwarded));
	TRY(metricsd_one(out, "weft_relay_bytes_forwarded_total", "counter",
		"Payload bytes of forwarded relay frames.", s->bytes_forwarded));
	TRY(metricsd_family(out, "weft_relay_drops_total", "counter",
		   "Datagrams and messages dropped, by reason."));
	for (i = 0; i < RELAY_DROP_NREASONS; i++)
		TRY(metricsd_labelled(out, "weft_relay_drops_total", "reason",
			     relay_drop_name(i), s->drops[i]));
	TRY(metricsd_one(out, "weft_relay_peer_gone_sent_total", "counter",
		"PEER_GONE notices sent.", s->peer_gone_sent));
	TRY(metricsd_one(out, "weft_relay_qad_sent_total", "counter",
		"QAD messages sent.", s->qad_sent));
	TRY(metricsd_one(out, "weft_relay_stun_answered_total", "counter",
		"STUN Binding requests answered.", s->stun_answered));
	TRY(metricsd_one(out, "weft_relay_signals_forwarded_total", "counter",
		"SIGNAL messages delivered.", s->signals_forwarded));
	TRY(metricsd_one(out, "weft_relay_rate_limited_closes_total", "counter",
		"Connections closed with RATE_LIMITED.",
		s->rate_limited_closes));
	TRY(metricsd_one(out, "weft_relay_retry_sent_total", "counter",
		"Retry packets sent (address validation tokens issued).",
		e->retry_sent));
	TRY(metricsd_one(out, "weft_relay_retry_failed_total", "counter",
		"Initial packets whose Retry token did not verify.",
		e->retry_failed));
	TRY(metricsd_one(out, "weft_relay_retry_active", "gauge",
		"1 while the relay demands address validation with Retry.",
		e->retry_on ? 1 : 0));
	TRY(metricsd_family(out, "weft_relay_udp_datagrams_total", "counter",
		   "UDP datagrams sent and received on the QUIC sockets."));
	TRY(metricsd_labelled(out, "weft_relay_udp_datagrams_total", "dir",
			      "out", e->udp_sent));
	TRY(metricsd_labelled(out, "weft_relay_udp_datagrams_total", "dir",
			      "in", e->udp_recv));
	TRY(metricsd_family(out, "weft_relay_udp_messages_total", "counter",
		   "Socket messages that carried them (one per datagram "
		   "without UDP GSO/GRO)."));
	TRY(metricsd_labelled(out, "weft_relay_udp_messages_total", "dir",
			      "out", e->udp_send_msgs));
	TRY(metricsd_labelled(out, "weft_relay_udp_messages_total", "dir",
			      "in", e->udp_recv_msgs));
#undef TRY
	return r;
}
