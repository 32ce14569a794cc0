/* The direct path of the peer tunnels (docs/internals/paths.md): one path
 * manager (agent/paths.h) per peer connection, fed with the connection's
 * QUIC counters, probes, signals and path validation results; its actions
 * (probes, signals, migrations) run from the peer's path timer, never
 * inside a QUIC or relay callback. */
#include "agent/tunnel_internal.h"

#include "agent/signal.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/quic.h"
#include "shared/wire.h"

#include <string.h>

#define WATCH_MS 100 /* how often a direct path's QUIC counters are read */
#define DEAD_MS 300  /* sent on the direct path, nothing back: dead */

static void pm_arm(struct peer *p);
static void report_path(struct peer *p, bool direct,
			const struct ip_endpoint *addr);

/* Runs the peer's path timer at once: managers' actions always execute
 * from there, never inside a QUIC or relay callback. */
static void pm_kick(struct peer *p)
{
	loop_timer_start(p->ptm, 0);
}

void tunnel_pm_free(struct peer *p)
{
	struct paths_stats st;

	if (!p->pm)
		return;
	paths_state(p->pm, NULL, &st);
	p->rounds_done += st.rounds;
	p->successes_done += st.successes;
	p->fallbacks_done += st.fallbacks;
	paths_del(p->pm);
	p->pm = NULL;
	p->fallback_since = 0;
	p->lost_told = 0;
	loop_timer_stop(p->ptm);
}

static void send_probe_frame(struct peer *p, uint8_t type,
			     const struct paths_action *a)
{
	struct wire_frame f = {.type = type, .node = (uint64_t)p->t->self};
	uint8_t buf[128];
	int n;

	memcpy(f.txid, a->txid, WIRE_TXID_LEN);
	if (type == WIRE_PROBE_REPLY)
		f.addr = a->observed;
	n = wire_frame_encode(&f, buf, sizeof(buf));
	if (n > 0)
		quic_endpoint_send_raw_ttl(p->t->ep, &a->addr, buf, (size_t)n,
					   a->ttl);
}

static void send_signal(struct peer *p, const struct signal *sg)
{
	uint8_t buf[SIGNAL_MAX];
	int n = signal_encode(sg, buf, sizeof(buf));

	if (n > 0 && p->t->cbs.send_signal)
		p->t->cbs.send_signal(p->id, buf, (size_t)n, p->t->ctx);
}

static void run_action(struct peer *p, const struct paths_action *a)
{
	struct tunnels *t = p->t;
	struct signal sg = {0};
	struct ip_endpoint v;
	int rc;

	switch (a->type) {
	case PATHS_SEND_PROBE:
		send_probe_frame(p, WIRE_PROBE, a);
		break;
	case PATHS_SEND_REPLY:
		send_probe_frame(p, WIRE_PROBE_REPLY, a);
		break;
	case PATHS_SIGNAL_CALL:
		if (!t->nlocal)
			break;
		sg.type = SIGNAL_CALL;
		sg.n = t->nlocal < SIGNAL_EPS_MAX ? t->nlocal : SIGNAL_EPS_MAX;
		memcpy(sg.eps, t->local, sg.n * sizeof(sg.eps[0]));
		send_signal(p, &sg);
		break;
	case PATHS_SIGNAL_USE:
		sg.type = SIGNAL_USE;
		sg.n = 1;
		sg.eps[0] = a->addr;
		send_signal(p, &sg);
		break;
	case PATHS_SIGNAL_LOST:
		sg.type = SIGNAL_LOST;
		send_signal(p, &sg);
		p->lost_told = (int64_t)tunnel_now_ms(t) + 1;
		break;
	case PATHS_MIGRATE_DIRECT:
		rc = p->c ? quic_conn_migrate(p->c, false, &a->addr)
			  : WEFT_ERR_CLOSED;
		if (rc < 0)
			paths_on_migrated(p->pm, false, tunnel_now_ms(t));
		break;
	case PATHS_MIGRATE_RELAY:
		if (!p->c || tunnel_vaddr(p->id, &v) < 0) {
			paths_on_migrated(p->pm, false, tunnel_now_ms(t));
			break;
		}
		/* The direct path is dead: move at once (see quic.h). */
		rc = quic_conn_migrate_now(p->c, true, &v);
		/* The traffic moves now, whatever the validation says. */
		if (rc == 0)
			report_path(p, false, NULL);
		/* Already on the relay path: nothing to validate. */
		if (rc == WEFT_ERR_INVAL)
			paths_on_migrated(p->pm, true, tunnel_now_ms(t));
		else if (rc < 0)
			paths_on_migrated(p->pm, false, tunnel_now_ms(t));
		break;
	case PATHS_KEEPALIVE:
		/* An empty DATAGRAM is ack-eliciting; the peer ignores it. */
		if (p->c)
			quic_conn_datagram(p->c, NULL, 0);
		break;
	}
}

/* Executes what the last paths call queued (actions may queue more). */
static void pm_drain(struct peer *p)
{
	struct paths_action a;
	int guard = 0;

	while (p->pm && guard++ < 256 && paths_next_action(p->pm, &a) == 1)
		run_action(p, &a);
	pm_arm(p);
}

void tunnel_pm_start(struct peer *p)
{
	struct tunnels *t = p->t;
	uint8_t key[PATHS_KEY_LEN];
	uint64_t now = tunnel_now_ms(t);

	if (p->pm || !p->c || !t->self || t->no_direct)
		return;
	if (quic_conn_export(p->c, TUNNEL_PROBE_LABEL, key, sizeof(key)) < 0)
		return;
	if (paths_new((uint64_t)t->self, (uint64_t)p->id, now, &p->pm) < 0) {
		explicit_bzero(key, sizeof(key));
		return;
	}
	paths_set_cooldown(p->pm, t->cooldown_ms);
	if (t->open_ttl)
		paths_set_open_ttl(p->pm,
				   t->open_ttl < 0 ? 0 : (uint8_t)t->open_ttl);
	paths_on_relay(p->pm, t->relay_up, now);
	paths_set_local(p->pm, t->local, t->nlocal);
	paths_set_key(p->pm, key, now);
	explicit_bzero(key, sizeof(key));
	paths_defer(p->pm, p->retry_not_before);
	paths_set_remote(p->pm, p->rem, p->nrem, now);
	p->seen_pkts = p->unanswered_since = 0;
	pm_kick(p);
}

/* Feeds the direct path's QUIC counters to the manager: a packet
 * received counts as an ack; ack-eliciting bytes in flight and nothing
 * received for DEAD_MS (the peer acknowledges within its 25 ms ack delay)
 * make the path dead. And gives up on a fall-back migration that gets no
 * answer: a connection must never stay on a dead path. */
static void pm_watch(struct peer *p, uint64_t now)
{
	struct quic_conn_stats st;
	enum paths_state s = paths_state(p->pm, NULL, NULL);
	uint64_t dead_ms;

	if (!p->c)
		return;
	quic_conn_stats(p->c, &st);
	if (s == PATHS_DIRECT && !st.is_virtual) {
		dead_ms = 3 * (st.rtt_us / 1000 + 25);
		if (dead_ms < DEAD_MS)
			dead_ms = DEAD_MS;
		if (st.pkts_recv != p->seen_pkts) {
			paths_on_ack(p->pm, now);
			p->unanswered_since = 0;
			p->lost_told = 0;
		} else if (!st.bytes_in_flight) {
			p->unanswered_since = 0;
		} else if (!p->unanswered_since) {
			p->unanswered_since = now;
		}
		if (p->unanswered_since &&
		    now - p->unanswered_since >= dead_ms) {
			p->unanswered_since = 0;
			paths_on_pto(p->pm, PATHS_PTO_MAX, now);
		}
	} else {
		p->unanswered_since = 0;
		p->lost_told = 0;
	}
	p->seen_pkts = st.pkts_recv;
	/* The server told its client the direct path died and the client
	 * neither moved to the relay nor answered: it restarted (on a new
	 * port) or never got the signal. Give the connection up; the
	 * wake-up makes the client dial again. */
	if (p->lost_told &&
	    (int64_t)now - (p->lost_told - 1) > TUNNEL_FALLBACK_MS) {
		p->lost_told = 0;
		p->fallback_since = -1;
		return;
	}
	if (s != PATHS_FALLBACK) {
		p->fallback_since = 0;
		return;
	}
	if (!p->fallback_since)
		p->fallback_since = (int64_t)now;
	else if ((int64_t)now - p->fallback_since > TUNNEL_FALLBACK_MS &&
		 p->t->self < p->id)
		p->fallback_since = -1; /* reconnect below, outside the pm */
}

void tunnel_pm_on_timer(struct loop_timer *tm, void *ctx)
{
	struct peer *p = ctx;
	struct tunnels *t = p->t;
	uint64_t now = tunnel_now_ms(t);

	(void)tm;
	if (!p->pm)
		return;
	pm_watch(p, now);
	if (p->fallback_since == -1) {
		/* The relay path did not validate in time (client), or the
		 * client did not follow (server): start over on the relay
		 * with a new connection (the client dials, the server wakes
		 * it), keeping the back-off for the next punch. */
		uint64_t cd = 0;

		paths_retry_at(p->pm, &cd);
		p->retry_not_before =
			now + (cd ? cd
				  : t->cooldown_ms ? t->cooldown_ms
						   : PATHS_COOLDOWN_MS);
		tunnel_drop_conn(p, "path lost");
		tunnel_rejoin(p);
		/* The new connection starts on the relay. */
		report_path(p, false, NULL);
		return;
	}
	paths_on_timer(p->pm, now);
	pm_drain(p);
	pm_arm(p);
}

/* Arms p's path timer for its manager's next wake-up (and the direct
 * path's watch while one is in use). */
static void pm_arm(struct peer *p)
{
	uint64_t now = tunnel_now_ms(p->t), w;
	enum paths_state s;

	if (!p->pm) {
		loop_timer_stop(p->ptm);
		return;
	}
	w = paths_next_wakeup(p->pm);
	s = paths_state(p->pm, NULL, NULL);
	if (s != PATHS_RELAY && s != PATHS_PUNCHING && now + WATCH_MS < w)
		w = now + WATCH_MS;
	if (w == UINT64_MAX) {
		loop_timer_stop(p->ptm);
		return;
	}
	loop_timer_start(p->ptm, w > now ? (int64_t)(w - now) * 1000 : 0);
}

/* Reports a path change through on_path_change, once per move to the
 * relay (an immediate move and its validation are one change). */
static void report_path(struct peer *p, bool direct,
			const struct ip_endpoint *addr)
{
	if (!direct && p->said_relay)
		return;
	p->said_relay = !direct;
	if (p->t->cbs.on_path_change)
		p->t->cbs.on_path_change(p->id, direct, addr, p->t->ctx);
}

/* Path validation results. The manager's actions (a migration among
 * them) run from the path timer, never inside ngtcp2's callback. */
void tunnel_pm_on_path(struct quic_conn *c, bool is_virtual, bool ok,
		       void *ctx)
{
	struct peer *p = ctx;
	struct ip_endpoint r;
	enum paths_state s;
	uint64_t now;

	if (!p || !p->pm || p->c != c)
		return;
	now = tunnel_now_ms(p->t);
	s = paths_state(p->pm, NULL, NULL);
	if (p->t->self < p->id) {
		/* Only the result of the move we asked for counts. */
		if ((s == PATHS_MIGRATING && !is_virtual) ||
		    (s == PATHS_FALLBACK && is_virtual))
			paths_on_migrated(p->pm, ok, now);
	} else if (ok) {
		quic_conn_remote(c, &r);
		paths_on_peer_migrated(p->pm, !is_virtual, &r, now);
	}
	if (ok) {
		struct paths_stats st;

		quic_conn_remote(c, &r);
		report_path(p, !is_virtual, &r);
		p->path_changed = clock_wall_s();
		p->path_since_us = loop_now_us(p->t->loop);
		if (paths_state(p->pm, NULL, &st) == PATHS_DIRECT &&
		    s != PATHS_DIRECT)
			p->t->last_ttd_ms = (int64_t)st.time_to_direct;
	}
	pm_kick(p);
}

void tunnel_pm_set_remote(struct peer *p, const struct map_peer *mp)
{
	size_t n = mp->nendpoints < PATHS_CAND_MAX ? mp->nendpoints
						   : PATHS_CAND_MAX;

	if (n)
		memcpy(p->rem, mp->endpoints, n * sizeof(*p->rem));
	p->nrem = n;
	if (p->pm) {
		paths_set_remote(p->pm, p->rem, p->nrem, tunnel_now_ms(p->t));
		pm_kick(p);
	}
}

void tunnels_set_local(struct tunnels *t, const struct ip_endpoint *eps,
		       size_t n)
{
	void *v;

	t->nlocal = n < LOCAL_MAX ? n : LOCAL_MAX;
	if (t->nlocal)
		memcpy(t->local, eps, t->nlocal * sizeof(*eps));
	for (size_t i = 0; idmap_next(&t->byid, &i, NULL, &v);) {
		struct peer *p = v;

		if (p->pm) {
			paths_set_local(p->pm, t->local, t->nlocal);
			pm_kick(p);
		}
	}
}

void tunnels_set_direct(struct tunnels *t, bool on)
{
	t->no_direct = !on;
}

void tunnels_set_cooldown(struct tunnels *t, uint64_t ms)
{
	t->cooldown_ms = ms;
}

void tunnels_set_open_ttl(struct tunnels *t, int ttl)
{
	t->open_ttl = ttl > 255 ? 255 : ttl;
}

void tunnels_set_relay_up(struct tunnels *t, bool up)
{
	void *v;

	t->relay_up = up;
	for (size_t i = 0; idmap_next(&t->byid, &i, NULL, &v);) {
		struct peer *p = v;

		if (p->pm) {
			paths_on_relay(p->pm, up, tunnel_now_ms(t));
			pm_kick(p);
		}
		if (p->c) /* relay frames may take another relay now */
			quic_conn_probe(p->c);
	}
}

void tunnels_input_frame(struct tunnels *t, const struct ip_endpoint *from,
			 const struct wire_frame *f)
{
	struct peer *p;

	if (f->node > INT64_MAX || !(p = tunnel_find(t, (int64_t)f->node)) ||
	    !p->pm)
		return;
	if (f->type == WIRE_PROBE)
		paths_on_probe(p->pm, from, f->txid, f->node, tunnel_now_ms(t));
	else if (f->type == WIRE_PROBE_REPLY)
		paths_on_reply(p->pm, from, f->txid, f->node, &f->addr,
			       tunnel_now_ms(t));
	pm_kick(p);
}

void tunnels_input_signal(struct tunnels *t, int64_t src,
			  const uint8_t *data, size_t len)
{
	struct peer *p = tunnel_find(t, src);
	struct signal sg;
	uint64_t now = tunnel_now_ms(t);

	if (!p || signal_decode(data, len, &sg) < 0)
		return;
	/* Signals come only from a peer that has a connection to us. */
	if (!p->c) {
		p->rejoins++;
		tunnel_rejoin(p);
		return;
	}
	if (!p->pm)
		return;
	switch (sg.type) {
	case SIGNAL_CALL:
		paths_on_call(p->pm, sg.eps, sg.n, now);
		break;
	case SIGNAL_USE:
		paths_on_use(p->pm, &sg.eps[0], now);
		break;
	case SIGNAL_LOST:
		paths_on_lost(p->pm, now);
		break;
	}
	pm_kick(p);
}
