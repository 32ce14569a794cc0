/* What the peer tunnels show: counters over all peers for the metrics
 * and one peer's state for `weft-agent peers` (see tunnel.h). */
#include "agent/tunnel_internal.h"

#include "shared/err.h"
#include "shared/quic.h"

#include <string.h>

static const char *const pm_state_names[] = {
	[PATHS_RELAY] = "relay",
	[PATHS_PUNCHING] = "punching",
	[PATHS_MIGRATING] = "migrating",
	[PATHS_DIRECT] = "direct",
	[PATHS_FALLBACK] = "fallback",
};

static json_t *punch_json(struct peer *p, uint64_t now)
{
	struct paths_stats st = {0};
	enum paths_state s = PATHS_RELAY;
	uint64_t retry = 0;
	json_t *o;

	if (p->pm) {
		s = paths_state(p->pm, NULL, &st);
		retry = paths_retry_at(p->pm, NULL);
	}
	o = json_pack("{s:s?, s:I, s:I, s:I}",
		      "state", p->pm ? pm_state_names[s] : NULL,
		      "rounds", (json_int_t)(p->rounds_done + st.rounds),
		      "successes",
		      (json_int_t)(p->successes_done + st.successes),
		      "fallbacks",
		      (json_int_t)(p->fallbacks_done + st.fallbacks));
	if (!o)
		return NULL;
	if (json_object_set_new(o, "time_to_direct_ms",
				p->pm && st.successes
					? json_integer((json_int_t)
							       st.time_to_direct)
					: json_null()) < 0 ||
	    json_object_set_new(o, "next_try_ms",
				p->pm && s == PATHS_RELAY && retry > now
					? json_integer((json_int_t)(retry - now))
					: json_null()) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int tunnels_peer_json(struct tunnels *t, int64_t peer, json_t *obj)
{
	struct peer *p = tunnel_find(t, peer);
	struct quic_conn_stats s = {0};
	char addr[IP_ENDPOINT_STRLEN];
	bool up = p && p->c && p->up;
	bool direct;
	uint64_t rx, tx;
	int rc = 0;

	if (up)
		quic_conn_stats(p->c, &s);
	direct = up && !s.is_virtual;
	rx = (p ? p->rx_done : 0) + s.bytes_recv;
	tx = (p ? p->tx_done : 0) + s.bytes_sent;
	rc |= json_object_set_new(obj, "path",
				  json_string(!up ? "none"
					      : direct ? "direct" : "relay"));
	rc |= json_object_set_new(
		obj, "direct_addr",
		direct && ip_endpoint_format(&s.remote, addr, sizeof(addr)) >= 0
			? json_string(addr)
			: json_null());
	rc |= json_object_set_new(obj, "path_changed",
				  up && p->path_changed
					  ? json_integer(p->path_changed)
					  : json_null());
	rc |= json_object_set_new(obj, "rx_bytes", json_integer((json_int_t)rx));
	rc |= json_object_set_new(obj, "tx_bytes", json_integer((json_int_t)tx));
	rc |= json_object_set_new(obj, "rtt_ms",
				  up ? json_real((double)s.rtt_us / 1000.0)
				     : json_null());
	rc |= json_object_set_new(obj, "last_handshake",
				  p && p->last_handshake
					  ? json_integer(p->last_handshake)
					  : json_null());
	rc |= json_object_set_new(obj, "dropped",
				  json_integer(p ? (json_int_t)p->dropped : 0));
	rc |= json_object_set_new(
		obj, "stale",
		json_integer(p ? (json_int_t)(p->stale + s.dgrams_stale) : 0));
	rc |= json_object_set_new(obj, "rejoins",
				  json_integer(p ? (json_int_t)p->rejoins : 0));
	rc |= json_object_set_new(obj, "punch",
				  p ? punch_json(p, tunnel_now_ms(t)) : json_null());
	return rc ? WEFT_ERR_NOMEM : 0;
}

void tunnels_stats(struct tunnels *t, struct tunnels_stats *out)
{
	void *v;

	memset(out, 0, sizeof(*out));
	out->last_time_to_direct_ms = t->last_ttd_ms;
	for (size_t i = 0; idmap_next(&t->byid, &i, NULL, &v);) {
		struct peer *p = v;
		struct paths_stats st = {0};
		struct quic_conn_stats qs;

		if (p->pm)
			paths_state(p->pm, NULL, &st);
		out->punch_rounds += p->rounds_done + st.rounds;
		out->punch_successes += p->successes_done + st.successes;
		out->fallbacks += p->fallbacks_done + st.fallbacks;
		out->stale += p->stale;
		if (p->c) {
			quic_conn_stats(p->c, &qs);
			out->stale += qs.dgrams_stale;
			if (p->up && !qs.is_virtual)
				out->direct_peers++;
		}
	}
}
