#include "check.h"
#include "agent/paths.h"
#include "shared/err.h"

#include <stdio.h>
#include <stdlib.h>

/* Node 1 is the QUIC client (smaller id), node 2 the server. */
#define A_ID 1
#define B_ID 2
#define T0 1000000

static const uint8_t key[PATHS_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

#define ACTS_MAX 256
struct acts {
	struct paths_action a[ACTS_MAX];
	size_t n;
};

static struct ip_endpoint ep(const char *s)
{
	struct ip_endpoint e;

	if (ip_endpoint_parse(s, &e) != 0)
		abort();
	return e;
}

static bool ep_is(const struct ip_endpoint *e, const char *s)
{
	struct ip_endpoint w = ep(s);

	return e->port == w.port && ip_addr_eq(&e->addr, &w.addr);
}

static void drain(struct paths *p, struct acts *out)
{
	out->n = 0;
	while (out->n < ACTS_MAX && paths_next_action(p, &out->a[out->n]))
		out->n++;
}

static size_t count(const struct acts *x, int type)
{
	size_t k = 0;

	for (size_t i = 0; i < x->n; i++)
		k += x->a[i].type == type;
	return k;
}

/* Counts the probes in x with TTL ttl (0: the socket's default). */
static size_t count_ttl(const struct acts *x, uint8_t ttl)
{
	size_t k = 0;

	for (size_t i = 0; i < x->n; i++)
		k += x->a[i].type == PATHS_SEND_PROBE && x->a[i].ttl == ttl;
	return k;
}

static const struct paths_action *first(const struct acts *x, int type)
{
	for (size_t i = 0; i < x->n; i++)
		if (x->a[i].type == type)
			return &x->a[i];
	return NULL;
}

/* A client (node 1) at a public address, keyed, probing remote. */
static struct paths *client_with(const char *remote, struct acts *x)
{
	struct paths *p = NULL;
	struct ip_endpoint l = ep("203.0.113.1:4000"), r = ep(remote);

	if (paths_new(A_ID, B_ID, T0, &p) != 0)
		abort();
	paths_set_local(p, &l, 1);
	paths_set_remote(p, &r, 1, T0);
	paths_set_key(p, key, T0);
	drain(p, x);
	return p;
}

/* Answers probe a as the peer would, from `from`, seeing it come from
 * the address observed. */
static void reply(struct paths *p, const struct paths_action *a,
		  const char *from, uint64_t now)
{
	struct ip_endpoint f = ep(from), o = ep("203.0.113.1:4000");

	paths_on_reply(p, &f, a->txid, B_ID, &o, now);
}

static void ranks_lan_then_private_then_public_ipv6_first(void)
{
	struct ip_endpoint l[2] = {ep("192.168.1.10:4000"),
				   ep("[fd00:1:2:3::10]:4000")};
	struct ip_endpoint lan = ep("192.168.1.20:5000");
	struct ip_endpoint lan6 = ep("[fd00:1:2:3::20]:5000");
	struct ip_endpoint priv = ep("10.0.0.5:5000");
	struct ip_endpoint pub6 = ep("[2001:db8::1]:5000");
	struct ip_endpoint pub4 = ep("198.51.100.2:5000");

	CHECK(paths_rank(&lan6, l, 2) < paths_rank(&lan, l, 2));
	CHECK(paths_rank(&lan, l, 2) < paths_rank(&priv, l, 2));
	CHECK(paths_rank(&priv, l, 2) < paths_rank(&pub6, l, 2));
	CHECK(paths_rank(&pub6, l, 2) < paths_rank(&pub4, l, 2));
	/* Without our LAN address the same private address is just private. */
	CHECK_INT(paths_rank(&lan, NULL, 0), paths_rank(&priv, NULL, 0));
}

static void probes_every_candidate_in_rank_order_and_skips_noise(void)
{
	struct paths *p = NULL;
	struct ip_endpoint l = ep("192.168.1.10:4000");
	struct ip_endpoint r[5] = {ep("198.51.100.2:5000"),
				   ep("10.0.0.5:5000"),
				   ep("192.168.1.20:5000"),
				   ep("169.254.1.1:5000"),
				   ep("[2001:db8::1]:5000")};
	struct acts x;

	REQUIRE_INT(paths_new(A_ID, B_ID, T0, &p), 0);
	paths_set_local(p, &l, 1);
	paths_set_key(p, key, T0);
	drain(p, &x);
	CHECK_INT(x.n, 0); /* nothing to probe yet */
	paths_set_remote(p, r, 5, T0);
	drain(p, &x);
	/* A call through the relay, then one probe per usable candidate:
	 * no link-local, no IPv6 (we have no IPv6 address). A round begins
	 * with openers (low TTL); the real probes follow in the same order
	 * (opener_round_* below). */
	REQUIRE_INT(x.n, 4);
	CHECK_INT(x.a[0].type, PATHS_SIGNAL_CALL);
	CHECK_INT(x.a[1].ttl, PATHS_OPEN_TTL);
	CHECK(ep_is(&x.a[1].addr, "192.168.1.20:5000"));
	CHECK(ep_is(&x.a[2].addr, "10.0.0.5:5000"));
	CHECK(ep_is(&x.a[3].addr, "198.51.100.2:5000"));
	CHECK(memcmp(x.a[1].txid, x.a[2].txid, WIRE_TXID_LEN) != 0);
	CHECK_INT(paths_state(p, NULL, NULL), PATHS_PUNCHING);
	paths_del(p);
}

/* Two managers talking over a lossless network without NAT. */
struct side {
	struct paths *p;
	struct ip_endpoint addr;
	uint64_t id;
	size_t migrates, uses;
};

static void deliver(struct side *from, struct side *to, uint64_t now)
{
	struct acts x;

	drain(from->p, &x);
	for (size_t i = 0; i < x.n; i++) {
		const struct paths_action *a = &x.a[i];

		switch (a->type) {
		case PATHS_SEND_PROBE:
			paths_on_probe(to->p, &from->addr, a->txid, from->id,
				       now);
			break;
		case PATHS_SEND_REPLY:
			paths_on_reply(to->p, &from->addr, a->txid, from->id,
				       &a->observed, now);
			break;
		case PATHS_SIGNAL_CALL:
			paths_on_call(to->p, &from->addr, 1, now);
			break;
		case PATHS_SIGNAL_USE:
			from->uses++;
			paths_on_use(to->p, &a->addr, now);
			break;
		case PATHS_MIGRATE_DIRECT:
			from->migrates++;
			/* QUIC validates the path; the server follows. */
			paths_on_migrated(from->p, true, now);
			paths_on_peer_migrated(to->p, true, &from->addr, now);
			break;
		case PATHS_MIGRATE_RELAY:
			from->migrates++;
			break;
		}
	}
}

static void punch_round_migrates_client_once_and_server_never(void)
{
	struct side a = {.addr = ep("203.0.113.1:4000"), .id = A_ID};
	struct side b = {.addr = ep("198.51.100.2:5000"), .id = B_ID};
	struct ip_endpoint got;
	struct paths_stats st;
	uint64_t now = T0;

	REQUIRE_INT(paths_new(A_ID, B_ID, now, &a.p), 0);
	REQUIRE_INT(paths_new(B_ID, A_ID, now, &b.p), 0);
	paths_set_local(a.p, &a.addr, 1);
	paths_set_local(b.p, &b.addr, 1);
	paths_set_key(a.p, key, now);
	paths_set_key(b.p, key, now);
	/* A learns B from the map and calls; B learns A from the call. */
	paths_set_remote(a.p, &b.addr, 1, now);
	for (int step = 0; step < 400; step++, now += 10) {
		paths_on_timer(a.p, now);
		paths_on_timer(b.p, now);
		for (int k = 0; k < 4; k++) {
			deliver(&a, &b, now);
			deliver(&b, &a, now);
		}
	}
	CHECK_INT(a.migrates, 1);
	CHECK_INT(b.migrates, 0);
	CHECK_INT(paths_state(a.p, &got, &st), PATHS_DIRECT);
	CHECK(ep_is(&got, "198.51.100.2:5000"));
	CHECK_INT(st.successes, 1);
	CHECK(st.time_to_direct < 1000);
	CHECK_INT(paths_state(b.p, &got, NULL), PATHS_DIRECT);
	CHECK(ep_is(&got, "203.0.113.1:4000"));
	paths_del(a.p);
	paths_del(b.p);
}

static void server_signals_use_with_observed_address_and_never_migrates(void)
{
	struct paths *p = NULL;
	struct ip_endpoint l = ep("198.51.100.2:5000");
	struct ip_endpoint r = ep("203.0.113.1:4000");
	struct ip_endpoint seen = ep("198.51.100.2:5000");
	struct acts x;

	REQUIRE_INT(paths_new(B_ID, A_ID, T0, &p), 0);
	paths_set_local(p, &l, 1);
	paths_set_key(p, key, T0);
	paths_on_call(p, &r, 1, T0);
	drain(p, &x);
	REQUIRE(first(&x, PATHS_SEND_PROBE) != NULL);
	paths_on_reply(p, &r, first(&x, PATHS_SEND_PROBE)->txid, A_ID, &seen,
		       T0 + 30);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_MIGRATE_DIRECT), 0);
	REQUIRE_INT(count(&x, PATHS_SIGNAL_USE), 1);
	CHECK(ep_is(&first(&x, PATHS_SIGNAL_USE)->addr, "198.51.100.2:5000"));
	CHECK_INT(paths_state(p, NULL, NULL), PATHS_MIGRATING);
	CHECK(!paths_migration_pending(p));
	/* The client never followed: back to relay with a cooldown. */
	paths_on_timer(p, T0 + 30 + PATHS_MIGRATE_MS);
	CHECK_INT(paths_state(p, NULL, NULL), PATHS_RELAY);
	CHECK_INT(paths_retry_at(p, NULL),
		  T0 + 30 + PATHS_MIGRATE_MS + PATHS_COOLDOWN_MS);
	paths_del(p);
}

static void ignores_replies_with_bad_tags_unknown_txids_or_wrong_sender(void)
{
	struct acts x;
	struct paths *p = client_with("198.51.100.2:5000", &x);
	struct paths_action bad;
	struct ip_endpoint f = ep("198.51.100.2:5000");
	struct ip_endpoint o = ep("203.0.113.1:4000");
	struct paths_stats st;
	uint8_t other[PATHS_KEY_LEN] = {9};
	uint8_t txid[WIRE_TXID_LEN];

	REQUIRE(first(&x, PATHS_SEND_PROBE) != NULL);
	bad = *first(&x, PATHS_SEND_PROBE);
	bad.txid[WIRE_TXID_LEN - 1] ^= 1;
	reply(p, &bad, "198.51.100.2:5000", T0 + 10);
	/* A correctly tagged txid that we never sent. */
	REQUIRE_INT(paths_txid(key, A_ID, B_ID, 999, txid), 0);
	paths_on_reply(p, &f, txid, B_ID, &o, T0 + 10);
	/* Tagged under another key. */
	REQUIRE_INT(paths_txid(other, A_ID, B_ID, 1, txid), 0);
	paths_on_reply(p, &f, txid, B_ID, &o, T0 + 10);
	/* Our own probe reflected back (sender is us, not the peer). */
	paths_on_reply(p, &f, first(&x, PATHS_SEND_PROBE)->txid, A_ID, &o,
		       T0 + 10);
	drain(p, &x);
	CHECK_INT(x.n, 0);
	CHECK_INT(paths_state(p, NULL, &st), PATHS_PUNCHING);
	CHECK_INT(st.bad_probes, 4);
	paths_del(p);
}

static void answers_valid_probes_once_and_ignores_forged_ones(void)
{
	struct acts x;
	struct paths *p = client_with("198.51.100.2:5000", &x);
	struct ip_endpoint f = ep("198.51.100.2:5000");
	uint8_t txid[WIRE_TXID_LEN];

	REQUIRE_INT(paths_txid(key, B_ID, A_ID, 7, txid), 0);
	paths_on_probe(p, &f, txid, B_ID, T0 + 5);
	drain(p, &x);
	REQUIRE_INT(count(&x, PATHS_SEND_REPLY), 1);
	CHECK(ep_is(&first(&x, PATHS_SEND_REPLY)->addr, "198.51.100.2:5000"));
	CHECK(ep_is(&first(&x, PATHS_SEND_REPLY)->observed,
		    "198.51.100.2:5000"));
	CHECK_MEM(first(&x, PATHS_SEND_REPLY)->txid, txid, WIRE_TXID_LEN);
	/* Replayed, from elsewhere: no reflection. */
	f = ep("192.0.2.66:9999");
	paths_on_probe(p, &f, txid, B_ID, T0 + 6);
	/* Wrong direction: a txid made for probes from us to the peer. */
	REQUIRE_INT(paths_txid(key, A_ID, B_ID, 8, txid), 0);
	paths_on_probe(p, &f, txid, B_ID, T0 + 6);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SEND_REPLY), 0);
	paths_del(p);
}

static void uses_peer_reflexive_address_after_it_answers_itself(void)
{
	struct acts x;
	struct paths *p = client_with("198.51.100.2:5000", &x);
	const struct paths_action *pr;
	struct ip_endpoint got;

	/* The answer comes back from another port of the peer's NAT. */
	reply(p, first(&x, PATHS_SEND_PROBE), "198.51.100.2:6000", T0 + 20);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_MIGRATE_DIRECT), 0);
	pr = first(&x, PATHS_SEND_PROBE);
	REQUIRE(pr != NULL);
	CHECK(ep_is(&pr->addr, "198.51.100.2:6000"));
	reply(p, pr, "198.51.100.2:6000", T0 + 40);
	drain(p, &x);
	REQUIRE_INT(count(&x, PATHS_MIGRATE_DIRECT), 1);
	CHECK(ep_is(&first(&x, PATHS_MIGRATE_DIRECT)->addr,
		    "198.51.100.2:6000"));
	CHECK(paths_migration_pending(p));
	CHECK_INT(paths_state(p, &got, NULL), PATHS_MIGRATING);
	CHECK(ep_is(&got, "198.51.100.2:6000"));
	paths_del(p);
}

static void lan_candidate_wins_over_public_that_answered_first(void)
{
	struct paths *p = NULL;
	struct ip_endpoint l = ep("192.168.1.10:4000");
	struct ip_endpoint r[2] = {ep("198.51.100.2:5000"),
				   ep("192.168.1.20:5000")};
	struct acts x;
	struct paths_action lan, pub;

	REQUIRE_INT(paths_new(A_ID, B_ID, T0, &p), 0);
	paths_set_local(p, &l, 1);
	paths_set_key(p, key, T0);
	paths_set_remote(p, r, 2, T0);
	drain(p, &x);
	REQUIRE_INT(count(&x, PATHS_SEND_PROBE), 2);
	lan = x.a[1];
	pub = x.a[2];
	REQUIRE(ep_is(&lan.addr, "192.168.1.20:5000"));
	reply(p, &pub, "198.51.100.2:5000", T0 + 5);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_MIGRATE_DIRECT), 0);
	CHECK_INT(paths_next_wakeup(p), T0 + 5 + PATHS_SETTLE_MS);
	reply(p, &lan, "192.168.1.20:5000", T0 + 6);
	drain(p, &x);
	REQUIRE_INT(count(&x, PATHS_MIGRATE_DIRECT), 1);
	CHECK(ep_is(&first(&x, PATHS_MIGRATE_DIRECT)->addr,
		    "192.168.1.20:5000"));
	paths_del(p);
}

static void public_candidate_used_when_lan_stays_silent(void)
{
	struct paths *p = NULL;
	struct ip_endpoint l = ep("192.168.1.10:4000");
	struct ip_endpoint r[2] = {ep("198.51.100.2:5000"),
				   ep("192.168.1.20:5000")};
	struct acts x;

	REQUIRE_INT(paths_new(A_ID, B_ID, T0, &p), 0);
	paths_set_local(p, &l, 1);
	paths_set_key(p, key, T0);
	paths_set_remote(p, r, 2, T0);
	drain(p, &x);
	reply(p, &x.a[2], "198.51.100.2:5000", T0 + 5);
	paths_on_timer(p, T0 + 5 + PATHS_SETTLE_MS);
	drain(p, &x);
	REQUIRE_INT(count(&x, PATHS_MIGRATE_DIRECT), 1);
	CHECK(ep_is(&first(&x, PATHS_MIGRATE_DIRECT)->addr,
		    "198.51.100.2:5000"));
	paths_del(p);
}

/* Runs a round with no answers to its end; returns the probes sent. */
static size_t silent_round(struct paths *p, uint64_t start)
{
	struct acts x;
	size_t probes = 0;

	for (uint64_t t = start; t <= start + PATHS_ROUND_MS; t += 50) {
		paths_on_timer(p, t);
		drain(p, &x);
		probes += count(&x, PATHS_SEND_PROBE);
		CHECK_INT(count(&x, PATHS_MIGRATE_DIRECT), 0);
	}
	return probes;
}

static void reach_direct(struct paths *p, uint64_t now)
{
	struct acts x;

	paths_on_timer(p, now);
	drain(p, &x);
	if (!first(&x, PATHS_SEND_PROBE))
		abort();
	reply(p, first(&x, PATHS_SEND_PROBE), "198.51.100.2:5000", now);
	paths_on_migrated(p, true, now);
	drain(p, &x);
}

static void failed_round_stays_on_relay_and_backs_off_until_success(void)
{
	struct acts x;
	struct paths *p = client_with("198.51.100.2:5000", &x);
	uint64_t cd, t;

	/* The opener, then a burst every interval but the first. */
	CHECK_INT(count(&x, PATHS_SEND_PROBE), 1);
	CHECK_INT(silent_round(p, T0) + 1, PATHS_PROBE_BURSTS);
	CHECK_INT(paths_state(p, NULL, NULL), PATHS_RELAY);
	CHECK_INT(paths_retry_at(p, &cd), T0 + PATHS_ROUND_MS +
						  PATHS_COOLDOWN_MS);
	CHECK_INT(cd, PATHS_COOLDOWN_MS);
	/* Nothing until the cooldown ends, then a new round with a call. */
	paths_on_timer(p, T0 + PATHS_ROUND_MS + PATHS_COOLDOWN_MS - 1);
	drain(p, &x);
	CHECK_INT(x.n, 0);
	t = T0 + PATHS_ROUND_MS + PATHS_COOLDOWN_MS;
	CHECK_INT(paths_next_wakeup(p), t);
	paths_on_timer(p, t);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SIGNAL_CALL), 1);
	CHECK_INT(count(&x, PATHS_SEND_PROBE), 1);
	silent_round(p, t);
	paths_retry_at(p, &cd);
	CHECK_INT(cd, 2 * PATHS_COOLDOWN_MS);
	/* It keeps failing: the back-off is capped. */
	for (int i = 0; i < 10; i++) {
		t = paths_retry_at(p, NULL);
		silent_round(p, t);
	}
	paths_retry_at(p, &cd);
	CHECK_INT(cd, PATHS_COOLDOWN_MAX_MS);
	/* A success resets it: the next failure costs the base cooldown. */
	t = paths_retry_at(p, NULL);
	reach_direct(p, t);
	REQUIRE_INT(paths_state(p, NULL, NULL), PATHS_DIRECT);
	paths_on_pto(p, PATHS_PTO_MAX, t + 100);
	paths_retry_at(p, &cd);
	CHECK_INT(cd, PATHS_COOLDOWN_MS);
	paths_del(p);
}

static void peer_probe_near_retry_starts_round_and_probes_its_source(void)
{
	struct acts x;
	struct paths *p = client_with("198.51.100.2:5000", &x);
	struct ip_endpoint f = ep("198.51.100.2:7000");
	uint8_t txid[WIRE_TXID_LEN];
	uint64_t t;
	size_t i;

	silent_round(p, T0);
	REQUIRE_INT(paths_state(p, NULL, NULL), PATHS_RELAY);
	REQUIRE_INT(paths_txid(key, B_ID, A_ID, 1, txid), 0);
	/* Far from our retry: answered, but no round. */
	paths_on_probe(p, &f, txid, B_ID, T0 + 5000);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SEND_REPLY), 1);
	CHECK_INT(count(&x, PATHS_SEND_PROBE), 0);
	/* Within the slack: we join, probing its source too. */
	t = paths_retry_at(p, NULL) - PATHS_CALL_SLACK_MS;
	REQUIRE_INT(paths_txid(key, B_ID, A_ID, 2, txid), 0);
	paths_on_probe(p, &f, txid, B_ID, t);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SEND_REPLY), 1);
	/* The opener, then (the probe released it) the real probe, and the
	 * probe to the probe's source. */
	CHECK_INT(count_ttl(&x, PATHS_OPEN_TTL), 1);
	REQUIRE_INT(count_ttl(&x, 0), 2);
	for (i = 0; i < x.n; i++)
		if (x.a[i].type == PATHS_SEND_PROBE &&
		    ep_is(&x.a[i].addr, "198.51.100.2:7000"))
			break;
	REQUIRE(i < x.n);
	reply(p, &x.a[i], "198.51.100.2:7000", t + 20);
	drain(p, &x);
	REQUIRE_INT(count(&x, PATHS_MIGRATE_DIRECT), 1);
	CHECK(ep_is(&first(&x, PATHS_MIGRATE_DIRECT)->addr,
		    "198.51.100.2:7000"));
	paths_del(p);
}

static void direct_path_loss_falls_back_at_once_then_cools_down(void)
{
	struct acts x;
	struct paths *p = client_with("198.51.100.2:5000", &x);
	struct paths_stats st;
	uint64_t t = T0 + 50;

	reply(p, first(&x, PATHS_SEND_PROBE), "198.51.100.2:5000", t);
	paths_on_migrated(p, true, t);
	drain(p, &x);
	REQUIRE_INT(paths_state(p, NULL, NULL), PATHS_DIRECT);
	paths_on_pto(p, PATHS_PTO_MAX - 1, t + 300);
	drain(p, &x);
	CHECK_INT(x.n, 0);
	paths_on_pto(p, PATHS_PTO_MAX, t + 600);
	drain(p, &x);
	REQUIRE_INT(x.n, 1);
	CHECK_INT(x.a[0].type, PATHS_MIGRATE_RELAY);
	CHECK_INT(paths_state(p, NULL, &st), PATHS_FALLBACK);
	CHECK_INT(st.fallbacks, 1);
	CHECK(paths_migration_pending(p));
	/* A failed move back is retried, one at a time. */
	paths_on_migrated(p, false, t + 700);
	paths_on_timer(p, t + 700 + PATHS_RETRY_RELAY_MS);
	drain(p, &x);
	REQUIRE_INT(x.n, 1);
	CHECK_INT(x.a[0].type, PATHS_MIGRATE_RELAY);
	paths_on_migrated(p, true, t + 2000);
	CHECK_INT(paths_state(p, NULL, NULL), PATHS_RELAY);
	CHECK_INT(paths_retry_at(p, NULL), t + 600 + PATHS_COOLDOWN_MS);
	paths_on_timer(p, t + 600 + PATHS_COOLDOWN_MS - 1);
	drain(p, &x);
	CHECK_INT(x.n, 0);
	paths_on_timer(p, t + 600 + PATHS_COOLDOWN_MS);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SEND_PROBE), 1);
	paths_del(p);
}

static void server_reports_lost_path_and_client_falls_back(void)
{
	struct paths *p = NULL;
	struct ip_endpoint a = ep("203.0.113.1:4000");
	struct acts x;

	REQUIRE_INT(paths_new(B_ID, A_ID, T0, &p), 0);
	paths_on_peer_migrated(p, true, &a, T0);
	REQUIRE_INT(paths_state(p, NULL, NULL), PATHS_DIRECT);
	paths_on_pto(p, PATHS_PTO_MAX, T0 + 10);
	paths_on_pto(p, PATHS_PTO_MAX + 1, T0 + 20);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SIGNAL_LOST), 1);
	CHECK_INT(count(&x, PATHS_MIGRATE_RELAY), 0);
	paths_on_peer_migrated(p, false, NULL, T0 + 30);
	CHECK_INT(paths_state(p, NULL, NULL), PATHS_RELAY);
	paths_del(p);

	p = client_with("198.51.100.2:5000", &x);
	reply(p, first(&x, PATHS_SEND_PROBE), "198.51.100.2:5000", T0 + 1);
	paths_on_migrated(p, true, T0 + 1);
	drain(p, &x);
	paths_on_lost(p, T0 + 2);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_MIGRATE_RELAY), 1);
	paths_del(p);
}

static void keepalive_within_25s_when_idle_and_no_ack_means_dead(void)
{
	struct acts x;
	struct paths *p = client_with("198.51.100.2:5000", &x);
	uint64_t t = T0 + 50, w;

	reply(p, first(&x, PATHS_SEND_PROBE), "198.51.100.2:5000", t);
	paths_on_migrated(p, true, t);
	drain(p, &x);
	w = paths_next_wakeup(p);
	CHECK(w > t && w <= t + 25000);
	paths_on_timer(p, w - 1);
	drain(p, &x);
	CHECK_INT(x.n, 0);
	paths_on_timer(p, w);
	drain(p, &x);
	REQUIRE_INT(count(&x, PATHS_KEEPALIVE), 1);
	/* Acked: the next keepalive is again at most 25 s away. */
	paths_on_ack(p, w + 40);
	CHECK(paths_next_wakeup(p) <= w + 40 + 25000);
	CHECK_INT(paths_next_wakeup(p), w + 40 + PATHS_KEEPALIVE_MS);
	/* Traffic keeps it quiet. */
	paths_on_ack(p, w + 10000);
	paths_on_timer(p, w + 10000 + PATHS_KEEPALIVE_MS - 1);
	drain(p, &x);
	CHECK_INT(x.n, 0);
	/* Not acked: dead, fall back. */
	t = w + 10000 + PATHS_KEEPALIVE_MS;
	paths_on_timer(p, t);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_KEEPALIVE), 1);
	paths_on_timer(p, t + PATHS_KEEPALIVE_ACK_MS);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_MIGRATE_RELAY), 1);
	CHECK_INT(paths_state(p, NULL, NULL), PATHS_FALLBACK);
	paths_del(p);
}

static void symmetric_nat_never_migrates_and_respects_cooldown(void)
{
	struct acts x;
	struct paths *p = client_with("198.51.100.2:5000", &x);
	struct ip_endpoint o = ep("203.0.113.1:4000");
	uint16_t port = 40000;
	size_t rounds = 0;

	/* Each answer comes from a fresh port of the peer's NAT, never one
	 * we probed; so do the peer's own probes. */
	for (uint64_t t = T0; t < T0 + 200000; t += 25) {
		char s[32];
		struct ip_endpoint f;
		uint8_t txid[WIRE_TXID_LEN];

		paths_on_timer(p, t);
		drain(p, &x);
		CHECK_INT(count(&x, PATHS_MIGRATE_DIRECT), 0);
		rounds += count(&x, PATHS_SIGNAL_CALL);
		for (size_t i = 0; i < x.n; i++) {
			if (x.a[i].type != PATHS_SEND_PROBE)
				continue;
			snprintf(s, sizeof(s), "198.51.100.2:%u", port++);
			f = ep(s);
			paths_on_reply(p, &f, x.a[i].txid, B_ID, &o, t + 10);
		}
		if (paths_state(p, NULL, NULL) == PATHS_PUNCHING &&
		    t % 500 == 0) {
			snprintf(s, sizeof(s), "198.51.100.2:%u", port++);
			f = ep(s);
			paths_txid(key, B_ID, A_ID, (uint32_t)(t / 25), txid);
			paths_on_probe(p, &f, txid, B_ID, t);
		}
		drain(p, &x);
		CHECK_INT(count(&x, PATHS_MIGRATE_DIRECT), 0);
	}
	CHECK(paths_state(p, NULL, NULL) != PATHS_DIRECT);
	/* Rounds at 0, 32 s and 94 s (cooldowns 30 s and 60 s), then the
	 * next one waits 120 s, after the end of the test. */
	CHECK_INT(rounds, 2);
	paths_del(p);
}

/* A deferred manager (a reconnect after a lost direct path) probes only
 * once the deferral passed, then like any other. */
static void deferred_manager_waits_before_its_first_round(void)
{
	struct paths *p = NULL;
	struct ip_endpoint l = ep("203.0.113.1:4000"), r = ep("198.51.100.7:5000");
	struct acts x;

	REQUIRE_INT(paths_new(A_ID, B_ID, T0, &p), 0);
	paths_set_local(p, &l, 1);
	paths_set_key(p, key, T0);
	paths_defer(p, T0 + 30000);
	paths_set_remote(p, &r, 1, T0);
	drain(p, &x);
	CHECK_INT((int)count(&x, PATHS_SEND_PROBE), 0);
	CHECK(paths_next_wakeup(p) >= T0 + 30000);
	paths_on_timer(p, T0 + 29999);
	drain(p, &x);
	CHECK_INT((int)count(&x, PATHS_SEND_PROBE), 0);
	paths_on_timer(p, T0 + 30000);
	drain(p, &x);
	CHECK_INT((int)count(&x, PATHS_SEND_PROBE), 1);
	CHECK_INT(paths_state(p, NULL, NULL), PATHS_PUNCHING);
	/* Deferring into the past changes nothing. */
	paths_defer(p, T0);
	paths_del(p);
}

static void no_key_means_no_probes_and_no_replies(void)
{
	struct paths *p = NULL;
	struct ip_endpoint r = ep("198.51.100.2:5000");
	uint8_t txid[WIRE_TXID_LEN];
	struct acts x;

	REQUIRE_INT(paths_new(A_ID, B_ID, T0, &p), 0);
	paths_set_remote(p, &r, 1, T0);
	paths_on_timer(p, T0 + 100000);
	REQUIRE_INT(paths_txid(key, B_ID, A_ID, 1, txid), 0);
	paths_on_probe(p, &r, txid, B_ID, T0 + 100000);
	drain(p, &x);
	CHECK_INT(x.n, 0);
	CHECK_INT(paths_next_wakeup(p), UINT64_MAX);
	CHECK_INT(paths_new(A_ID, A_ID, T0, &p), WEFT_ERR_INVAL);
	paths_del(p);
	paths_del(NULL);
}

/* A round we start: the call, an opener with the low TTL to each
 * candidate, and the real probes (default TTL) one interval later. */
static void opener_round_opens_with_low_ttl_then_probes_after_interval(void)
{
	struct paths *p = NULL;
	struct ip_endpoint l = ep("192.168.1.10:4000");
	struct ip_endpoint r[2] = {ep("198.51.100.2:5000"),
				   ep("192.168.1.20:5000")};
	struct ip_endpoint late = ep("198.51.100.3:5000");
	struct acts x;

	REQUIRE_INT(paths_new(A_ID, B_ID, T0, &p), 0);
	paths_set_local(p, &l, 1);
	paths_set_key(p, key, T0);
	paths_set_remote(p, r, 2, T0);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SIGNAL_CALL), 1);
	CHECK_INT(count_ttl(&x, PATHS_OPEN_TTL), 2);
	CHECK_INT(count_ttl(&x, 0), 0);
	CHECK_INT(paths_next_wakeup(p), T0 + PATHS_PROBE_INTERVAL_MS);
	/* Candidates that come up meanwhile (a map update: all three are
	 * new to the round) get openers too. */
	{
		struct ip_endpoint r3[3] = {r[0], r[1], late};

		paths_set_remote(p, r3, 3, T0 + 10);
	}
	drain(p, &x);
	CHECK_INT(count_ttl(&x, PATHS_OPEN_TTL), 3);
	CHECK_INT(count_ttl(&x, 0), 0);
	paths_on_timer(p, T0 + PATHS_PROBE_INTERVAL_MS - 1);
	drain(p, &x);
	CHECK_INT(x.n, 0);
	paths_on_timer(p, T0 + PATHS_PROBE_INTERVAL_MS);
	drain(p, &x);
	CHECK_INT(count_ttl(&x, 0), 3);
	CHECK_INT(count_ttl(&x, PATHS_OPEN_TTL), 0);
	/* A later candidate (the peer's call: it may not know ours yet)
	 * gets an opener, and real probes from the next burst on. */
	late = ep("198.51.100.4:5000");
	paths_on_call(p, &late, 1, T0 + 300);
	drain(p, &x);
	CHECK_INT(count_ttl(&x, 0), 0);
	CHECK_INT(count_ttl(&x, PATHS_OPEN_TTL), 1);
	paths_on_timer(p, T0 + 2 * PATHS_PROBE_INTERVAL_MS);
	drain(p, &x);
	CHECK_INT(count_ttl(&x, 0), 4);
	paths_del(p);
}

/* The peer's first probe shows that its NAT has mapped it to us, so our
 * real probes cannot poison that NAT: they go at once instead of at the
 * end of the interval. Its call shows nothing of the kind (it may not
 * know our candidates yet): the probes keep waiting. */
static void peer_probe_while_opening_releases_real_probes(void)
{
	struct acts x;
	struct paths *p = client_with("198.51.100.2:5000", &x);
	struct ip_endpoint f = ep("198.51.100.2:5000");
	uint8_t txid[WIRE_TXID_LEN];

	CHECK_INT(count_ttl(&x, PATHS_OPEN_TTL), 1);
	CHECK_INT(count_ttl(&x, 0), 0);
	paths_on_call(p, &f, 1, T0 + 10);
	drain(p, &x);
	CHECK_INT(x.n, 0);
	REQUIRE_INT(paths_txid(key, B_ID, A_ID, 1, txid), 0);
	paths_on_probe(p, &f, txid, B_ID, T0 + 20);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SEND_REPLY), 1);
	REQUIRE_INT(count_ttl(&x, 0), 1);
	CHECK(ep_is(&first(&x, PATHS_SEND_PROBE)->addr, "198.51.100.2:5000"));
	CHECK_INT(count_ttl(&x, PATHS_OPEN_TTL), 0);
	/* The bursts keep their schedule from the round's start. */
	CHECK_INT(paths_next_wakeup(p), T0 + 2 * PATHS_PROBE_INTERVAL_MS);
	paths_del(p);
}

/* A round the peer started (its call came first) opens too: the peer may
 * not have known our candidates when it sent its openers. Its first real
 * probe releases ours. */
static void joined_round_opens_too(void)
{
	struct paths *p = NULL;
	struct ip_endpoint l = ep("198.51.100.2:5000");
	struct ip_endpoint r = ep("203.0.113.1:4000");
	uint8_t txid[WIRE_TXID_LEN];
	struct acts x;

	REQUIRE_INT(paths_new(B_ID, A_ID, T0, &p), 0);
	paths_set_local(p, &l, 1);
	paths_set_key(p, key, T0);
	paths_on_call(p, &r, 1, T0);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SIGNAL_CALL), 1); /* our candidates */
	CHECK_INT(count_ttl(&x, PATHS_OPEN_TTL), 1);
	CHECK_INT(count_ttl(&x, 0), 0);
	REQUIRE_INT(paths_txid(key, A_ID, B_ID, 1, txid), 0);
	paths_on_probe(p, &r, txid, A_ID, T0 + 5);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SEND_REPLY), 1);
	CHECK_INT(count_ttl(&x, 0), 1);
	paths_del(p);
}

/* paths_set_open_ttl(0): no openers, real probes at once. */
static void open_ttl_zero_sends_no_openers(void)
{
	struct paths *p = NULL;
	struct ip_endpoint l = ep("203.0.113.1:4000");
	struct ip_endpoint r = ep("198.51.100.2:5000");
	struct acts x;

	REQUIRE_INT(paths_new(A_ID, B_ID, T0, &p), 0);
	paths_set_open_ttl(p, 0);
	paths_set_local(p, &l, 1);
	paths_set_key(p, key, T0);
	paths_set_remote(p, &r, 1, T0);
	drain(p, &x);
	CHECK_INT(count(&x, PATHS_SIGNAL_CALL), 1);
	CHECK_INT(count_ttl(&x, 0), 1);
	CHECK_INT(count(&x, PATHS_SEND_PROBE), 1);
	CHECK_INT(silent_round(p, T0), PATHS_PROBE_BURSTS - 1);
	/* Another TTL is used as set. */
	paths_set_open_ttl(p, 5);
	paths_on_timer(p, paths_retry_at(p, NULL));
	drain(p, &x);
	CHECK_INT(count_ttl(&x, 5), 1);
	CHECK_INT(count(&x, PATHS_SEND_PROBE), 1);
	paths_del(p);
}

static const struct check_case cases[] = {
	CHECK_CASE(ranks_lan_then_private_then_public_ipv6_first),
	CHECK_CASE(probes_every_candidate_in_rank_order_and_skips_noise),
	CHECK_CASE(punch_round_migrates_client_once_and_server_never),
	CHECK_CASE(server_signals_use_with_observed_address_and_never_migrates),
	CHECK_CASE(ignores_replies_with_bad_tags_unknown_txids_or_wrong_sender),
	CHECK_CASE(answers_valid_probes_once_and_ignores_forged_ones),
	CHECK_CASE(uses_peer_reflexive_address_after_it_answers_itself),
	CHECK_CASE(lan_candidate_wins_over_public_that_answered_first),
	CHECK_CASE(public_candidate_used_when_lan_stays_silent),
	CHECK_CASE(failed_round_stays_on_relay_and_backs_off_until_success),
	CHECK_CASE(peer_probe_near_retry_starts_round_and_probes_its_source),
	CHECK_CASE(direct_path_loss_falls_back_at_once_then_cools_down),
	CHECK_CASE(server_reports_lost_path_and_client_falls_back),
	CHECK_CASE(keepalive_within_25s_when_idle_and_no_ack_means_dead),
	CHECK_CASE(symmetric_nat_never_migrates_and_respects_cooldown),
	CHECK_CASE(deferred_manager_waits_before_its_first_round),
	CHECK_CASE(no_key_means_no_probes_and_no_replies),
	CHECK_CASE(opener_round_opens_with_low_ttl_then_probes_after_interval),
	CHECK_CASE(peer_probe_while_opening_releases_real_probes),
	CHECK_CASE(joined_round_opens_too),
	CHECK_CASE(open_ttl_zero_sends_no_openers),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
