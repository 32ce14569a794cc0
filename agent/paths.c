#include "agent/paths.h"
#include "shared/enc.h"
#include "shared/err.h"
#include "shared/hash.h"

#include <stdlib.h>
#include <string.h>

#define SENT_MAX 64  /* probes of ours whose replies we still accept */
#define QUEUE_MAX 96 /* actions of one call: bursts to every candidate */
#define CANDS (PATHS_CAND_MAX + PATHS_PRFLX_MAX)

struct cand {
	struct ip_endpoint ep;
	int rank;
	bool prflx;                  /* learned from a probe or a reply */
	bool ok;                     /* a round trip succeeded this round */
	struct ip_endpoint observed; /* our address as the peer saw it */
};

struct sent {
	uint32_t seq;
	bool live;
	struct ip_endpoint ep;
};

struct paths {
	uint64_t self, peer;
	bool client;
	bool has_key;
	uint8_t open_ttl; /* opening probes' TTL, 0: none */
	bool relay_up;
	uint8_t key[PATHS_KEY_LEN];
	uint64_t now; /* the largest `now` seen; time never goes back */

	struct ip_endpoint local[PATHS_LOCAL_MAX];
	size_t nlocal;
	struct cand cand[CANDS];
	size_t ncand;

	enum paths_state state;

	/* PUNCHING */
	uint64_t round_start, round_end, next_burst, settle_at;
	unsigned bursts;
	bool opening; /* openers sent, real probes wait for the next burst */
	uint32_t seq;
	struct sent sent[SENT_MAX];

	/* replay window over the peer's probe sequence numbers */
	bool peer_seen;
	uint32_t peer_max;
	uint64_t peer_bits;

	/* back-off */
	unsigned fails;
	uint64_t cooldown_base; /* PATHS_COOLDOWN_MS unless set */
	uint64_t cooldown, retry_at;

	/* MIGRATING / FALLBACK */
	bool mig_out;
	uint64_t mig_deadline;
	struct ip_endpoint direct;

	/* DIRECT */
	uint64_t last_ack, ka_deadline;
	bool lost_sent;

	struct paths_stats stats;
	struct paths_action q[QUEUE_MAX];
	size_t qhead, qlen;
	uint64_t dropped;
};

static uint64_t tick(struct paths *p, uint64_t now)
{
	if (now > p->now)
		p->now = now;
	return p->now;
}

static void push(struct paths *p, const struct paths_action *a)
{
	if (p->qlen == QUEUE_MAX) {
		p->dropped++;
		return;
	}
	p->q[(p->qhead + p->qlen) % QUEUE_MAX] = *a;
	p->qlen++;
}

static void push_simple(struct paths *p, uint8_t type,
			const struct ip_endpoint *addr)
{
	struct paths_action a;

	memset(&a, 0, sizeof(a));
	a.type = type;
	if (addr)
		a.addr = *addr;
	push(p, &a);
}

static bool ep_eq(const struct ip_endpoint *a, const struct ip_endpoint *b)
{
	return a->port == b->port && ip_addr_eq(&a->addr, &b->addr);
}

static bool ep_valid(const struct ip_endpoint *e)
{
	return (e->addr.family == 4 || e->addr.family == 6) && e->port != 0;
}

/* Same /24 (IPv4) or /64 (IPv6): the cheap test for "one LAN". */
static bool same_lan(const struct ip_addr *a, const struct ip_addr *b)
{
	if (a->family != b->family)
		return false;
	return memcmp(a->b, b->b, a->family == 4 ? 3 : 8) == 0;
}

int paths_rank(const struct ip_endpoint *remote,
	       const struct ip_endpoint *locals, size_t n)
{
	const struct ip_addr *a = &remote->addr;
	int cls = 2;

	if (ip_addr_is_private(a) || ip_addr_is_link_local(a)) {
		cls = 1;
		for (size_t i = 0; i < n; i++)
			if (same_lan(a, &locals[i].addr))
				cls = 0;
	}
	return cls * 2 + (a->family == 4 ? 1 : 0);
}

int paths_txid(const uint8_t key[static PATHS_KEY_LEN], uint64_t sender,
	       uint64_t receiver, uint32_t seq,
	       uint8_t txid[static WIRE_TXID_LEN])
{
	static const char label[] = "weft-probe";
	uint8_t msg[sizeof(label) - 1 + 8 + 8 + 4];
	uint8_t mac[HASH_SHA256_LEN];
	size_t k = sizeof(label) - 1;
	int rc;

	memcpy(msg, label, k);
	for (int i = 0; i < 8; i++) {
		msg[k + (size_t)i] = (uint8_t)(sender >> (56 - 8 * i));
		msg[k + 8 + (size_t)i] = (uint8_t)(receiver >> (56 - 8 * i));
	}
	for (int i = 0; i < 4; i++)
		msg[k + 16 + (size_t)i] = (uint8_t)(seq >> (24 - 8 * i));
	rc = hash_hmac_sha256(key, PATHS_KEY_LEN, msg, sizeof(msg), mac);
	if (rc < 0)
		goto out;
	memcpy(txid, msg + k + 16, 4);
	memcpy(txid + 4, mac, WIRE_TXID_LEN - 4);
out:
	return rc;
}

static uint32_t txid_seq(const uint8_t *txid)
{
	return (uint32_t)txid[0] << 24 | (uint32_t)txid[1] << 16 |
	       (uint32_t)txid[2] << 8 | txid[3];
}

/* True when txid is the one `sender` would put on probe seq to
 * `receiver` under our key. */
static bool txid_ok(const struct paths *p, uint64_t sender, uint64_t receiver,
		    const uint8_t *txid)
{
	uint8_t want[WIRE_TXID_LEN];

	if (paths_txid(p->key, sender, receiver, txid_seq(txid), want) < 0)
		return false;
	return ct_memeq(want, txid, WIRE_TXID_LEN);
}

/* Accepts each of the peer's sequence numbers once, in a 64-wide window,
 * so a captured probe cannot be replayed to make us reply elsewhere. */
static bool replay_ok(struct paths *p, uint32_t seq)
{
	uint32_t d;

	if (!p->peer_seen) {
		p->peer_seen = true;
		p->peer_max = seq;
		p->peer_bits = 1;
		return true;
	}
	if (seq > p->peer_max) {
		d = seq - p->peer_max;
		p->peer_bits = d >= 64 ? 1 : (p->peer_bits << d) | 1;
		p->peer_max = seq;
		return true;
	}
	d = p->peer_max - seq;
	if (d >= 64 || (p->peer_bits & (1ull << d)))
		return false;
	p->peer_bits |= 1ull << d;
	return true;
}

static bool family_usable(const struct paths *p, const struct ip_addr *a)
{
	if (p->nlocal == 0)
		return true;
	for (size_t i = 0; i < p->nlocal; i++)
		if (p->local[i].addr.family == a->family)
			return true;
	return false;
}

static struct cand *find_cand(struct paths *p, const struct ip_endpoint *e)
{
	for (size_t i = 0; i < p->ncand; i++)
		if (ep_eq(&p->cand[i].ep, e))
			return &p->cand[i];
	return NULL;
}

/* Inserts e in rank order (stable: after its equals). Returns the new
 * candidate, or NULL when e is unusable, known or there is no room. */
static struct cand *add_cand(struct paths *p, const struct ip_endpoint *in,
			     bool prflx)
{
	struct ip_endpoint e = *in;
	size_t nprflx = 0, i;
	int rank;

	ip_addr_unmap(&e.addr);
	if (!ep_valid(&e) || ip_addr_is_loopback(&e.addr) ||
	    (!prflx && ip_addr_is_link_local(&e.addr)) ||
	    !family_usable(p, &e.addr) || find_cand(p, &e))
		return NULL;
	for (i = 0; i < p->ncand; i++)
		nprflx += p->cand[i].prflx;
	if (prflx ? nprflx >= PATHS_PRFLX_MAX
		  : p->ncand - nprflx >= PATHS_CAND_MAX)
		return NULL;
	rank = paths_rank(&e, p->local, p->nlocal);
	for (i = p->ncand; i > 0 && p->cand[i - 1].rank > rank; i--)
		p->cand[i] = p->cand[i - 1];
	memset(&p->cand[i], 0, sizeof(p->cand[i]));
	p->cand[i].ep = e;
	p->cand[i].rank = rank;
	p->cand[i].prflx = prflx;
	p->ncand++;
	return &p->cand[i];
}

static void send_probe_ttl(struct paths *p, const struct ip_endpoint *to,
			   uint8_t ttl)
{
	struct paths_action a;
	struct sent *s;

	memset(&a, 0, sizeof(a));
	a.ttl = ttl;
	p->seq++;
	if (paths_txid(p->key, p->self, p->peer, p->seq, a.txid) < 0)
		return;
	s = &p->sent[p->seq % SENT_MAX];
	s->seq = p->seq;
	s->live = true;
	s->ep = *to;
	a.type = PATHS_SEND_PROBE;
	a.addr = *to;
	push(p, &a);
}

static void send_probe(struct paths *p, const struct ip_endpoint *to)
{
	send_probe_ttl(p, to, 0);
}

/* An opener: a probe with the low TTL. It leaves through our NAT, which
 * maps it, and expires on the way, before the peer's NAT; a NAT that
 * accepts unsolicited packets would otherwise give a full-TTL probe
 * arriving before its own host sent anything a conntrack entry that takes
 * the peer's mapped port (docs/internals/paths.md). It is a real probe, so
 * where it does arrive (same LAN, no NAT in between) it is answered. */
static void send_opener(struct paths *p, const struct ip_endpoint *to)
{
	send_probe_ttl(p, to, p->open_ttl);
}

/* A candidate that came up during a round. With openers, it gets one and
 * the next bursts probe it: the peer may not have sent anything to us yet
 * (it learns our candidates from our call, as we learn its ones from its
 * call). Without, a probe at once. */
static void probe_new(struct paths *p, const struct ip_endpoint *to)
{
	if (p->open_ttl)
		send_opener(p, to);
	else
		send_probe(p, to);
}

static void burst(struct paths *p)
{
	p->opening = false;
	for (size_t i = 0; i < p->ncand; i++)
		send_probe(p, &p->cand[i].ep);
	p->bursts++;
	p->next_burst = p->bursts < PATHS_PROBE_BURSTS
				? p->round_start +
					  (uint64_t)p->bursts *
						  PATHS_PROBE_INTERVAL_MS
				: 0;
}

/* A valid probe from the peer is here: its NAT has mapped its socket to
 * us, so our real probes cannot poison that NAT any more and need not
 * wait for the next burst. (Its call proves nothing of the kind: the peer
 * may not know our candidates yet.) */
static void release(struct paths *p)
{
	if (p->opening && p->state == PATHS_PUNCHING)
		burst(p);
}

static bool can_punch(const struct paths *p)
{
	return p->has_key && p->ncand > 0;
}

/* Every round, ours or one we join, starts with openers when they are on;
 * the real probes then wait for the peer's first probe (release) or one
 * probe interval, whichever comes first. The interval covers the time the
 * peer needs to get our call (our candidates) and open its own NAT. */
static void start_round(struct paths *p, uint64_t now, bool call)
{
	size_t i, j;

	/* Peer-reflexive candidates belong to the round that found them. */
	for (i = j = 0; i < p->ncand; i++) {
		if (p->cand[i].prflx)
			continue;
		p->cand[j] = p->cand[i];
		p->cand[j].ok = false;
		j++;
	}
	p->ncand = j;
	for (i = 0; i < SENT_MAX; i++)
		p->sent[i].live = false;
	p->state = PATHS_PUNCHING;
	p->round_start = now;
	p->round_end = now + PATHS_ROUND_MS;
	p->settle_at = 0;
	p->bursts = 0;
	p->opening = false;
	p->stats.rounds++;
	if (call && p->relay_up)
		push_simple(p, PATHS_SIGNAL_CALL, NULL);
	if (!p->open_ttl) {
		burst(p);
		return;
	}
	for (i = 0; i < p->ncand; i++)
		send_opener(p, &p->cand[i].ep);
	p->opening = true;
	p->bursts = 1;
	p->next_burst = now + PATHS_PROBE_INTERVAL_MS;
}

static void maybe_start(struct paths *p, uint64_t now)
{
	if (p->state == PATHS_RELAY && can_punch(p) && now >= p->retry_at)
		start_round(p, now, true);
}

/* The peer is punching (it called, or its probes arrive): join it unless
 * our own retry is far off, which keeps a flapping peer from making us
 * probe faster than our back-off. */
static void join(struct paths *p, uint64_t now, bool call)
{
	if (p->state == PATHS_RELAY && can_punch(p) &&
	    p->retry_at <= now + PATHS_CALL_SLACK_MS)
		start_round(p, now, call);
}

static void fail(struct paths *p, uint64_t now)
{
	unsigned shift = p->fails < 20 ? p->fails : 20;

	p->fails++;
	p->cooldown = p->cooldown_base << shift;
	if (p->cooldown > PATHS_COOLDOWN_MAX_MS)
		p->cooldown = PATHS_COOLDOWN_MAX_MS;
	p->retry_at = now + p->cooldown;
	p->state = PATHS_RELAY;
	p->settle_at = 0;
	p->next_burst = 0;
}

static void migrate(struct paths *p, const struct ip_endpoint *to,
		    uint64_t now)
{
	p->direct = *to;
	p->state = PATHS_MIGRATING;
	p->mig_deadline = now + PATHS_MIGRATE_MS;
	if (p->client) {
		p->mig_out = true;
		push_simple(p, PATHS_MIGRATE_DIRECT, to);
	}
}

/* The winner of a round. The client migrates to the address the reply
 * came from; the server tells the client the address the client saw our
 * probe come from, which the client's NAT now lets through. */
static void choose(struct paths *p, const struct cand *c, uint64_t now)
{
	p->settle_at = 0;
	p->next_burst = 0;
	if (!p->client && p->relay_up)
		push_simple(p, PATHS_SIGNAL_USE, &c->observed);
	migrate(p, &c->ep, now);
}

/* After a success: take the best-ranked success now, unless a better
 * ranked candidate is still unanswered, in which case wait a little for
 * it (a LAN path answers within milliseconds of a NAT hairpin). */
static void decide(struct paths *p, uint64_t now, bool force)
{
	const struct cand *best = NULL;
	bool better_pending = false;

	for (size_t i = 0; i < p->ncand && !best; i++)
		if (p->cand[i].ok)
			best = &p->cand[i];
	if (!best)
		return;
	for (const struct cand *c = p->cand; c < best; c++)
		if (c->rank < best->rank)
			better_pending = true;
	if (better_pending && !force) {
		if (p->settle_at == 0)
			p->settle_at = now + PATHS_SETTLE_MS;
		if (now < p->settle_at)
			return;
	}
	choose(p, best, now);
}

static void enter_direct(struct paths *p, uint64_t now)
{
	p->state = PATHS_DIRECT;
	p->fails = 0;
	p->cooldown = 0;
	p->last_ack = now;
	p->ka_deadline = 0;
	p->lost_sent = false;
	p->stats.successes++;
	p->stats.last_change = now;
	p->stats.time_to_direct = now - p->round_start;
}

/* The direct path died. The client moves back to the relay at once; the
 * server cannot migrate and tells the client. */
static void lost(struct paths *p, uint64_t now)
{
	if (p->state != PATHS_DIRECT)
		return;
	if (!p->client) {
		if (!p->lost_sent && p->relay_up)
			push_simple(p, PATHS_SIGNAL_LOST, NULL);
		p->lost_sent = true;
		p->ka_deadline = 0;
		p->last_ack = now;
		return;
	}
	fail(p, now);
	p->state = PATHS_FALLBACK;
	p->mig_out = true;
	p->stats.fallbacks++;
	p->stats.last_change = now;
	push_simple(p, PATHS_MIGRATE_RELAY, NULL);
}

int paths_new(uint64_t self, uint64_t peer, uint64_t now, struct paths **out)
{
	struct paths *p;
	int rc = 0;

	if (self == 0 || peer == 0 || self == peer || !out) {
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	p->self = self;
	p->peer = peer;
	p->client = self < peer;
	p->relay_up = true;
	p->now = now;
	p->retry_at = now;
	p->cooldown_base = PATHS_COOLDOWN_MS;
	p->open_ttl = PATHS_OPEN_TTL;
	p->stats.last_change = now;
	*out = p;
out:
	return rc;
}

void paths_set_cooldown(struct paths *p, uint64_t ms)
{
	p->cooldown_base = ms ? ms : PATHS_COOLDOWN_MS;
}

void paths_set_open_ttl(struct paths *p, uint8_t ttl)
{
	p->open_ttl = ttl;
}

void paths_del(struct paths *p)
{
	if (!p)
		return;
	explicit_bzero(p->key, sizeof(p->key));
	free(p);
}

int paths_set_key(struct paths *p, const uint8_t key[static PATHS_KEY_LEN],
		  uint64_t now)
{
	now = tick(p, now);
	memcpy(p->key, key, PATHS_KEY_LEN);
	p->has_key = true;
	p->peer_seen = false;
	maybe_start(p, now);
	return 0;
}

int paths_set_local(struct paths *p, const struct ip_endpoint *eps, size_t n)
{
	if (!eps && n > 0)
		return WEFT_ERR_INVAL;
	p->nlocal = 0;
	for (size_t i = 0; i < n && p->nlocal < PATHS_LOCAL_MAX; i++)
		if (ep_valid(&eps[i]))
			p->local[p->nlocal++] = eps[i];
	return 0;
}

int paths_set_remote(struct paths *p, const struct ip_endpoint *eps, size_t n,
		     uint64_t now)
{
	size_t i, j;

	if (!eps && n > 0)
		return WEFT_ERR_INVAL;
	now = tick(p, now);
	for (i = j = 0; i < p->ncand; i++)
		if (p->cand[i].prflx)
			p->cand[j++] = p->cand[i];
	p->ncand = j;
	for (i = 0; i < n; i++) {
		struct cand *c = add_cand(p, &eps[i], false);

		if (c && p->state == PATHS_PUNCHING)
			probe_new(p, &c->ep);
	}
	maybe_start(p, now);
	return 0;
}

int paths_on_call(struct paths *p, const struct ip_endpoint *eps, size_t n,
		  uint64_t now)
{
	if (!eps && n > 0)
		return WEFT_ERR_INVAL;
	now = tick(p, now);
	for (size_t i = 0; i < n; i++) {
		struct cand *c = add_cand(p, &eps[i], false);

		if (c && p->state == PATHS_PUNCHING)
			probe_new(p, &c->ep);
	}
	join(p, now, true);
	return 0;
}

int paths_on_probe(struct paths *p, const struct ip_endpoint *from,
		   const uint8_t txid[static WIRE_TXID_LEN], uint64_t sender,
		   uint64_t now)
{
	struct paths_action a;
	struct cand *c;

	now = tick(p, now);
	if (!p->has_key || sender != p->peer || !from || !ep_valid(from) ||
	    !txid_ok(p, p->peer, p->self, txid) ||
	    !replay_ok(p, txid_seq(txid))) {
		p->stats.bad_probes++;
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.type = PATHS_SEND_REPLY;
	memcpy(a.txid, txid, WIRE_TXID_LEN);
	a.addr = *from;
	a.observed = *from;
	ip_addr_unmap(&a.observed.addr);
	push(p, &a);

	/* Its source is where the peer's NAT maps it for us: worth a probe
	 * of our own (ICE's triggered check). Join first: a new round
	 * forgets older peer-reflexive candidates, not this one. */
	join(p, now, false);
	release(p);
	c = add_cand(p, from, true);
	if (c && p->state == PATHS_PUNCHING)
		send_probe(p, &c->ep);
	return 0;
}

int paths_on_reply(struct paths *p, const struct ip_endpoint *from,
		   const uint8_t txid[static WIRE_TXID_LEN], uint64_t sender,
		   const struct ip_endpoint *observed, uint64_t now)
{
	struct ip_endpoint f;
	struct sent *s;
	struct cand *c;
	uint32_t seq = txid_seq(txid);

	now = tick(p, now);
	if (!p->has_key || sender != p->peer || !from || !ep_valid(from) ||
	    !observed || !txid_ok(p, p->self, p->peer, txid)) {
		p->stats.bad_probes++;
		return 0;
	}
	s = &p->sent[seq % SENT_MAX];
	if (!s->live || s->seq != seq) {
		p->stats.bad_probes++;
		return 0;
	}
	s->live = false;
	if (p->state != PATHS_PUNCHING)
		return 0;
	f = *from;
	ip_addr_unmap(&f.addr);
	from = &f;
	if (!ep_eq(from, &s->ep)) {
		/* The answer took another way back: probe that address too
		 * and count it only when it answers from itself. A symmetric
		 * NAT, which maps every flow anew, never does. */
		c = add_cand(p, from, true);
		if (c)
			send_probe(p, &c->ep);
		return 0;
	}
	c = find_cand(p, from);
	if (!c)
		c = add_cand(p, from, true);
	if (!c)
		return 0;
	c->ok = true;
	c->observed = *observed;
	decide(p, now, false);
	return 0;
}

int paths_on_use(struct paths *p, const struct ip_endpoint *addr,
		 uint64_t now)
{
	now = tick(p, now);
	if (!p->client || !addr || !ep_valid(addr) || p->mig_out)
		return 0;
	if (p->state != PATHS_RELAY && p->state != PATHS_PUNCHING)
		return 0;
	if (p->state == PATHS_RELAY)
		p->round_start = now;
	p->settle_at = 0;
	p->next_burst = 0;
	migrate(p, addr, now);
	return 0;
}

int paths_on_lost(struct paths *p, uint64_t now)
{
	now = tick(p, now);
	if (p->client)
		lost(p, now);
	return 0;
}

int paths_on_migrated(struct paths *p, bool ok, uint64_t now)
{
	now = tick(p, now);
	if (!p->client || !p->mig_out)
		return 0;
	p->mig_out = false;
	if (p->state == PATHS_MIGRATING) {
		if (ok)
			enter_direct(p, now);
		else
			fail(p, now);
	} else if (p->state == PATHS_FALLBACK) {
		/* The relay path must work again: retry until it does. */
		if (ok)
			p->state = PATHS_RELAY;
		else
			p->mig_deadline = now + PATHS_RETRY_RELAY_MS;
	}
	return 0;
}

int paths_on_peer_migrated(struct paths *p, bool direct,
			   const struct ip_endpoint *addr, uint64_t now)
{
	if (direct && (!addr || !ep_valid(addr)))
		return WEFT_ERR_INVAL;
	now = tick(p, now);
	if (p->client)
		return 0;
	if (direct) {
		p->direct = *addr;
		if (p->state != PATHS_DIRECT)
			enter_direct(p, now);
	} else if (p->state == PATHS_DIRECT) {
		p->stats.fallbacks++;
		p->stats.last_change = now;
		fail(p, now);
	}
	return 0;
}

int paths_on_ack(struct paths *p, uint64_t now)
{
	now = tick(p, now);
	if (p->state == PATHS_DIRECT) {
		p->last_ack = now;
		p->ka_deadline = 0;
	}
	return 0;
}

int paths_on_pto(struct paths *p, unsigned count, uint64_t now)
{
	now = tick(p, now);
	if (count >= PATHS_PTO_MAX)
		lost(p, now);
	return 0;
}

int paths_on_relay(struct paths *p, bool up, uint64_t now)
{
	tick(p, now);
	p->relay_up = up;
	return 0;
}

int paths_on_timer(struct paths *p, uint64_t now)
{
	now = tick(p, now);
	switch (p->state) {
	case PATHS_RELAY:
		maybe_start(p, now);
		break;
	case PATHS_PUNCHING:
		if (p->settle_at && now >= p->settle_at) {
			decide(p, now, true);
			if (p->state != PATHS_PUNCHING)
				break;
		}
		if (now >= p->round_end) {
			decide(p, now, true);
			if (p->state == PATHS_PUNCHING)
				fail(p, now);
			break;
		}
		if (p->next_burst && now >= p->next_burst)
			burst(p);
		break;
	case PATHS_MIGRATING:
		/* The client waits for QUIC's verdict, which path validation
		 * always delivers; the server gives the client a while. */
		if (!p->client && now >= p->mig_deadline)
			fail(p, now);
		break;
	case PATHS_FALLBACK:
		if (!p->mig_out && now >= p->mig_deadline) {
			p->mig_out = true;
			push_simple(p, PATHS_MIGRATE_RELAY, NULL);
		}
		break;
	case PATHS_DIRECT:
		if (p->ka_deadline) {
			if (now >= p->ka_deadline)
				lost(p, now);
		} else if (now >= p->last_ack + PATHS_KEEPALIVE_MS) {
			push_simple(p, PATHS_KEEPALIVE, &p->direct);
			p->ka_deadline = now + PATHS_KEEPALIVE_ACK_MS;
		}
		break;
	}
	return 0;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t paths_next_wakeup(const struct paths *p)
{
	uint64_t t = UINT64_MAX;

	switch (p->state) {
	case PATHS_RELAY:
		if (can_punch(p))
			t = p->retry_at;
		break;
	case PATHS_PUNCHING:
		t = p->round_end;
		if (p->next_burst)
			t = min64(t, p->next_burst);
		if (p->settle_at)
			t = min64(t, p->settle_at);
		break;
	case PATHS_MIGRATING:
		if (!p->client)
			t = p->mig_deadline;
		break;
	case PATHS_FALLBACK:
		if (!p->mig_out)
			t = p->mig_deadline;
		break;
	case PATHS_DIRECT:
		t = p->ka_deadline ? p->ka_deadline
				   : p->last_ack + PATHS_KEEPALIVE_MS;
		break;
	}
	return t < p->now ? p->now : t;
}

int paths_next_action(struct paths *p, struct paths_action *out)
{
	if (p->qlen == 0)
		return 0;
	*out = p->q[p->qhead];
	p->qhead = (p->qhead + 1) % QUEUE_MAX;
	p->qlen--;
	return 1;
}

uint64_t paths_dropped_actions(const struct paths *p)
{
	return p->dropped;
}

enum paths_state paths_state(const struct paths *p, struct ip_endpoint *direct,
			     struct paths_stats *stats)
{
	if (direct && (p->state == PATHS_DIRECT ||
		       p->state == PATHS_MIGRATING))
		*direct = p->direct;
	if (stats)
		*stats = p->stats;
	return p->state;
}

bool paths_migration_pending(const struct paths *p)
{
	return p->mig_out;
}

void paths_defer(struct paths *p, uint64_t until)
{
	if (until > p->retry_at)
		p->retry_at = until;
}

uint64_t paths_retry_at(const struct paths *p, uint64_t *cooldown)
{
	if (cooldown)
		*cooldown = p->cooldown;
	return p->retry_at;
}
