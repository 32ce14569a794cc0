/* Liveness of watched peers (tunnel.h, tunnels_watch): the signal a
 * client fails over between connectors on, long before the controller
 * calls a dead connector offline.
 *
 * A watched peer's timer runs every TUNNEL_WATCH_MS only while there is
 * something to decide: data in flight on its connection, packets waiting
 * for a connection, or a lost peer whose connection may still answer.
 * Otherwise it is stopped, so idle connectors cost nothing. Verdicts are
 * reported from the timer only: what arrives in a QUIC callback just
 * sets `heard` and kicks the timer. */
#include "agent/tunnel_internal.h"

#include "shared/err.h"
#include "shared/quic.h"

static int64_t now_ms(const struct peer *p)
{
	return (int64_t)tunnel_now_ms(p->t);
}

static void report(struct peer *p, bool lost)
{
	if (p->t->cbs.on_peer_lost)
		p->t->cbs.on_peer_lost(p->id, lost, p->t->ctx);
}

/* Whether the timer has anything to look at. */
static bool worth_watching(const struct peer *p)
{
	return p->watched && (p->heard || p->w_unanswered || p->w_want ||
			      p->qlen || p->w_stream ||
			      (p->c && p->lost_since));
}

static void watch_arm(struct peer *p, int64_t delay_us)
{
	if (!p->wtm)
		return;
	if (!worth_watching(p)) {
		loop_timer_stop(p->wtm);
		return;
	}
	if (!loop_timer_active(p->wtm) || delay_us == 0)
		loop_timer_start(p->wtm, delay_us);
}

static void set_lost(struct peer *p, bool lost)
{
	if (lost == (p->lost_since != 0))
		return;
	p->lost_since = lost ? now_ms(p) : 0;
	if (lost && !p->lost_since)
		p->lost_since = 1;
	report(p, lost);
}

/* The connection's QUIC counters: a packet received answers everything;
 * ack-eliciting bytes in flight with nothing back for the limit make the
 * peer lost (the peer acknowledges within its 25 ms ack delay). */
static void check_conn(struct peer *p, int64_t now)
{
	struct quic_conn_stats st;
	int64_t limit;

	quic_conn_stats(p->c, &st);
	limit = 3 * ((int64_t)(st.rtt_us / 1000) + 25);
	if (limit < TUNNEL_LOST_MS)
		limit = TUNNEL_LOST_MS;
	if (st.pkts_recv != p->w_seen_pkts) {
		p->w_seen_pkts = st.pkts_recv;
		p->w_unanswered = 0;
		/* Acks on a connection we gave up on: it answers again. */
		if (p->lost_since && p->up)
			set_lost(p, false);
		return;
	}
	if (!st.bytes_in_flight) {
		p->w_unanswered = 0;
		return;
	}
	if (!p->w_unanswered)
		p->w_unanswered = now;
	else if (now - p->w_unanswered >= limit)
		set_lost(p, true);
}

static void on_watch(struct loop_timer *tm, void *ctx)
{
	struct peer *p = ctx;
	int64_t now = now_ms(p);

	(void)tm;
	if (p->heard) {
		p->heard = false;
		p->w_want = 0;
		p->w_unanswered = 0;
		if (p->c)
			check_conn(p, now); /* takes the current counters */
		set_lost(p, false);
	}
	if (p->c && p->up) {
		p->w_want = 0;
		p->w_stream = false;
		check_conn(p, now);
	} else if (p->qlen || p->w_stream) {
		/* Packets or streams wait for a connection (being set up,
		 * or the peer was woken to set it up); waiting streams ask
		 * again every few tens of ms. */
		p->w_stream = false;
		if (!p->w_want)
			p->w_want = now;
		else if (now - p->w_want >= TUNNEL_LOST_CONNECT_MS)
			set_lost(p, true);
	} else {
		p->w_want = 0;
	}
	if (p->lost_since)
		p->w_unanswered = 0;
	watch_arm(p, (int64_t)TUNNEL_WATCH_MS * 1000);
}

void tunnel_watch_sent(struct peer *p)
{
	if (!p->c || !p->up) {
		if (!p->w_want)
			p->w_want = now_ms(p);
	}
	/* In flight from now on; check_conn starts the clock. */
	if (p->wtm && !loop_timer_active(p->wtm))
		loop_timer_start(p->wtm, (int64_t)TUNNEL_WATCH_MS * 1000);
}

void tunnel_watch_heard(struct peer *p)
{
	if (!p->watched)
		return;
	p->heard = true;
	watch_arm(p, 0);
}

void tunnel_watch_free(struct peer *p)
{
	loop_timer_del(p->wtm);
	p->wtm = NULL;
}

int tunnels_watch(struct tunnels *t, int64_t peer, bool on)
{
	struct peer *p = tunnel_find(t, peer);
	int rc;

	if (!p)
		return WEFT_ERR_NOTFOUND;
	if (!on) {
		p->watched = false;
		p->lost_since = 0;
		p->heard = false;
		p->w_unanswered = p->w_want = 0;
		p->w_stream = false;
		if (p->wtm)
			loop_timer_stop(p->wtm);
		return 0;
	}
	if (!p->wtm) {
		rc = loop_timer_new(t->loop, on_watch, p, &p->wtm);
		if (rc < 0)
			return rc;
	}
	p->watched = true;
	return 0;
}

bool tunnels_peer_lost(const struct tunnels *t, int64_t peer, int64_t *since)
{
	const struct peer *p = tunnel_find(t, peer);

	if (!p || !p->watched || !p->lost_since)
		return false;
	if (since)
		*since = p->lost_since;
	return true;
}

void tunnels_retry(struct tunnels *t, int64_t peer)
{
	struct peer *p = tunnel_find(t, peer);

	if (!p || !p->lost_since)
		return;
	tunnel_drop_conn(p, "lost, retrying");
	p->w_unanswered = 0;
	p->w_want = 0;
}
