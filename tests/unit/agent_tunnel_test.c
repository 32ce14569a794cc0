/* agent/tunnel.c: the virtual addresses that stand for peers on the
 * relayed path, and the peer table built from the map. */
#include "agent/signal.h"
#include "agent/tunnel.h"
#include "check.h"
#include "shared/err.h"
#include "shared/loop.h"

#include <jansson.h>
#include <string.h>

static void virtual_address_round_trips_to_the_node_id(void)
{
	static const int64_t ids[] = {1, 2, 255, 256, 0x0fffffff, 0x10000000,
				      ((int64_t)65534 << 28) | 0x0fffffff};
	struct ip_endpoint e;
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		CHECK_INT(tunnel_vaddr(ids[i], &e), 0);
		CHECK_INT(e.addr.family, 4);
		CHECK((e.addr.b[0] & 0xf0) == 240);
		CHECK(e.port != 0);
		CHECK(tunnel_vaddr_id(&e) == ids[i]);
	}
}

static void virtual_addresses_of_different_nodes_differ(void)
{
	struct ip_endpoint a, b;

	CHECK_INT(tunnel_vaddr(5, &a), 0);
	CHECK_INT(tunnel_vaddr(5 + ((int64_t)1 << 28), &b), 0);
	CHECK(a.port != b.port || !ip_addr_eq(&a.addr, &b.addr));
}

static void rejects_ids_that_cannot_be_encoded(void)
{
	struct ip_endpoint e;

	CHECK_INT(tunnel_vaddr(0, &e), WEFT_ERR_INVAL);
	CHECK_INT(tunnel_vaddr(-3, &e), WEFT_ERR_INVAL);
	CHECK_INT(tunnel_vaddr((int64_t)65535 << 28, &e), WEFT_ERR_INVAL);
}

static void non_virtual_addresses_map_to_no_node(void)
{
	struct ip_endpoint e = {0}, v;

	CHECK_INT(ip_endpoint_parse("127.0.0.1:4000", &e), 0);
	CHECK(tunnel_vaddr_id(&e) == 0);
	tunnel_vlocal(&v);
	CHECK_INT(v.addr.b[0], 240);
	CHECK(tunnel_vaddr_id(&v) == 0); /* 240.0.0.0 port 1 is node 0 */
}

static void unknown_peer_is_refused_and_leaving_peer_is_forgotten(void)
{
	static const char key_b64[] =
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	uint8_t key[IDENT_KEY_LEN], pkt[20] = {0x45};
	struct loop *l = NULL;
	struct tunnels *t = NULL;
	struct map_peer mp = {.id = 3, .has_key = true};
	const struct map_peer *peers[] = {&mp};
	json_t *o;
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	REQUIRE(loop_new(&l) == 0);
	REQUIRE(tunnels_new(l, NULL, 9, NULL, NULL, &t) == 0);
	CHECK_INT(ident_pin_from_b64(key_b64, mp.key), 0);
	CHECK_INT(tunnels_set_peers(t, peers, 1), 0);
	/* Node 9 serves node 3 (the smaller id is the client). */
	CHECK(tunnels_accept_peer(t, key));
	CHECK_INT(tunnels_send(t, 4, pkt, sizeof(pkt)), WEFT_ERR_NOTFOUND);
	o = json_object();
	CHECK_INT(tunnels_peer_json(t, 3, o), 0);
	CHECK_STR(json_string_value(json_object_get(o, "path")), "none");
	json_decref(o);
	CHECK_INT(tunnels_set_peers(t, NULL, 0), 0);
	CHECK(!tunnels_accept_peer(t, key));
	tunnels_del(t);
	loop_del(l);
}


#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
#define KEY_C "AgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICE="

static int apply(struct map *m, struct tunnels *t, const char *text)
{
	json_t *a = json_loads(text, 0, NULL);
	struct map_diff d;
	int rc = a ? map_apply(m, a, &d, NULL, 0) : WEFT_ERR_PARSE;

	if (rc == 0)
		rc = tunnels_apply(t, m, &d);
	map_diff_free(&d);
	json_decref(a);
	return rc;
}

static void tunnels_follow_the_map_diff(void)
{
	uint8_t a[IDENT_KEY_LEN], b[IDENT_KEY_LEN], c[IDENT_KEY_LEN];
	uint8_t pkt[20] = {0x45};
	struct loop *l = NULL;
	struct tunnels *t = NULL;
	struct map *m = NULL;

	REQUIRE_INT(ident_pin_from_b64(KEY_A, a), 0);
	REQUIRE_INT(ident_pin_from_b64(KEY_B, b), 0);
	REQUIRE_INT(ident_pin_from_b64(KEY_C, c), 0);
	REQUIRE(loop_new(&l) == 0);
	REQUIRE(tunnels_new(l, NULL, 9, NULL, NULL, &t) == 0);
	REQUIRE_INT(map_new(&m), 0);
	CHECK_INT(apply(m, t, "{\"version\": 1, \"full\": true, \"peers\": ["
			      "{\"id\": 3, \"public_key\": \"" KEY_A "\"},"
			      "{\"id\": 5, \"public_key\": \"" KEY_B "\"},"
			      "{\"id\": 6}]}"), 0);
	/* Peer 6 has no key: no tunnel. */
	CHECK_INT(tunnels_count(t), 2);
	CHECK(tunnels_accept_peer(t, a));
	CHECK(tunnels_accept_peer(t, b));
	CHECK_INT(tunnels_send(t, 6, pkt, sizeof(pkt)), WEFT_ERR_NOTFOUND);
	/* 3 leaves, 5 changes key: the old key is no longer accepted. */
	CHECK_INT(apply(m, t, "{\"version\": 2, \"full\": false, "
			      "\"peers_removed\": [3], \"peers\": ["
			      "{\"id\": 5, \"public_key\": \"" KEY_C "\"}]}"),
		  0);
	CHECK_INT(tunnels_count(t), 1);
	CHECK(!tunnels_accept_peer(t, a));
	CHECK(!tunnels_accept_peer(t, b));
	CHECK(tunnels_accept_peer(t, c));
	CHECK_INT(tunnels_send(t, 3, pkt, sizeof(pkt)), WEFT_ERR_NOTFOUND);
	/* A full map without 5 removes it too. */
	CHECK_INT(apply(m, t, "{\"version\": 3, \"full\": true, \"peers\": ["
			      "{\"id\": 4, \"public_key\": \"" KEY_A "\"}]}"),
		  0);
	CHECK_INT(tunnels_count(t), 1);
	CHECK(!tunnels_accept_peer(t, c));
	/* 4 < 9: we serve it. */
	CHECK(tunnels_accept_peer(t, a));
	tunnels_del(t);
	map_del(m);
	loop_del(l);
}

static int count_wake(int64_t dst, const uint8_t *payload, size_t len,
		      void *ctx)
{
	int *n = ctx;

	if (dst == 3 && len == 1 && payload[0] == TUNNEL_WAKE)
		(*n)++;
	return 0;
}

/* Runs l for about ms milliseconds, or until *wakes reaches until. */
static void run_for(struct loop *l, int64_t ms, const int *wakes, int until)
{
	int64_t end = loop_now_us(l) + ms * 1000;

	while (loop_now_us(l) < end && *wakes < until)
		loop_run_once(l, 20);
}

/* A packet for a peer that must dial us waits in its queue, and the
 * peer's own timer wakes the peer again (once a second) while packets
 * wait. A packet waits at most TUNNEL_QUEUE_AGE_MS (one wake period), so
 * the test sends a second one between the wakes: sends are rate-limited
 * like the timer, so the second wake can only come from the timer. */
static void queued_packet_keeps_waking_the_peer(void)
{
	static const struct tunnel_callbacks cbs = {.send_relay = count_wake};
	uint8_t pkt[20] = {0x45};
	struct loop *l = NULL;
	struct tunnels *t = NULL;
	struct map_peer mp = {.id = 3, .has_key = true};
	const struct map_peer *peers[] = {&mp};
	int wakes = 0;

	REQUIRE(loop_new(&l) == 0);
	REQUIRE(tunnels_new(l, NULL, 9, &cbs, &wakes, &t) == 0);
	CHECK_INT(tunnels_set_peers(t, peers, 1), 0);
	CHECK_INT(tunnels_send(t, 3, pkt, sizeof(pkt)), 0);
	CHECK_INT(wakes, 1);
	run_for(l, 300, &wakes, 2);
	CHECK_INT(tunnels_send(t, 3, pkt, sizeof(pkt)), 0);
	CHECK_INT(wakes, 1); /* the send does not wake again so soon */
	run_for(l, 5000, &wakes, 2);
	CHECK_INT(wakes, 2);
	/* The peer leaves with a packet queued: its timer goes with it. */
	run_for(l, 300, &wakes, 3);
	CHECK_INT(tunnels_send(t, 3, pkt, sizeof(pkt)), 0);
	CHECK_INT(tunnels_set_peers(t, NULL, 0), 0);
	wakes = 0;
	run_for(l, 1500, &wakes, 1);
	CHECK_INT(wakes, 0);
	tunnels_del(t);
	loop_del(l);
}

/* A path signal from a peer we have no connection with means the peer
 * still uses one we lost (we restarted): as its server we wake it at
 * once, so it replaces the stale connection, and count a rejoin. A
 * second signal within the wake period does not wake again; a malformed
 * one does nothing. */
static void signal_without_connection_wakes_the_peer(void)
{
	static const struct tunnel_callbacks cbs = {.send_relay = count_wake};
	struct signal sg = {.type = SIGNAL_LOST};
	uint8_t buf[SIGNAL_MAX], bad[1] = {0x7f};
	struct loop *l = NULL;
	struct tunnels *t = NULL;
	struct map_peer mp = {.id = 3, .has_key = true};
	const struct map_peer *peers[] = {&mp};
	int wakes = 0, n;
	json_t *o;

	REQUIRE(loop_new(&l) == 0);
	REQUIRE(tunnels_new(l, NULL, 9, &cbs, &wakes, &t) == 0);
	CHECK_INT(tunnels_set_peers(t, peers, 1), 0);
	n = signal_encode(&sg, buf, sizeof(buf));
	REQUIRE(n > 0);
	tunnels_input_signal(t, 3, bad, sizeof(bad));
	CHECK_INT(wakes, 0);
	tunnels_input_signal(t, 3, buf, (size_t)n);
	CHECK_INT(wakes, 1);
	tunnels_input_signal(t, 3, buf, (size_t)n);
	CHECK_INT(wakes, 1);
	tunnels_input_signal(t, 5, buf, (size_t)n); /* not a peer */
	CHECK_INT(wakes, 1);
	o = json_object();
	CHECK_INT(tunnels_peer_json(t, 3, o), 0);
	CHECK_INT(json_integer_value(json_object_get(o, "rejoins")), 2);
	json_decref(o);
	tunnels_del(t);
	loop_del(l);
}

/* A packet that waited a second for a connection (here: one that never
 * comes) is dropped and counted as stale, not sent late. */
static void queued_packets_age_out_and_are_counted(void)
{
	uint8_t pkt[20] = {0x45};
	struct loop *l = NULL;
	struct tunnels *t = NULL;
	struct tunnels_stats ts;
	struct map_peer mp = {.id = 3, .has_key = true};
	const struct map_peer *peers[] = {&mp};
	json_t *o;
	int64_t end;

	for (int i = 0; i < IDENT_KEY_LEN; i++)
		mp.key[i] = (uint8_t)i;
	REQUIRE(loop_new(&l) == 0);
	REQUIRE(tunnels_new(l, NULL, 9, NULL, NULL, &t) == 0);
	CHECK_INT(tunnels_set_peers(t, peers, 1), 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(tunnels_send(t, 3, pkt, sizeof(pkt)), 0);
	end = loop_now_us(l) + 600 * 1000;
	while (loop_now_us(l) < end)
		loop_run_once(l, 50);
	tunnels_stats(t, &ts);
	CHECK_INT(ts.stale, 0); /* not yet a second */
	end = loop_now_us(l) + (TUNNEL_QUEUE_AGE_MS + 200) * 1000;
	while (loop_now_us(l) < end)
		loop_run_once(l, 50);
	tunnels_stats(t, &ts);
	CHECK_INT(ts.stale, 3);
	o = json_object();
	CHECK_INT(tunnels_peer_json(t, 3, o), 0);
	CHECK_INT(json_integer_value(json_object_get(o, "stale")), 3);
	json_decref(o);
	tunnels_del(t);
	loop_del(l);
}

struct lost_log {
	int64_t peer;
	bool lost;
	int n;
	int64_t at_us;
	struct loop *l;
};

static void on_lost(int64_t peer, bool lost, void *ctx)
{
	struct lost_log *g = ctx;

	g->peer = peer;
	g->lost = lost;
	g->n++;
	g->at_us = loop_now_us(g->l);
}

/* A watched peer whose connection never comes up while packets wait for
 * it is reported lost after TUNNEL_LOST_CONNECT_MS, once; an unwatched
 * one is never reported, and unwatching forgets the loss. */
static void watched_peer_without_answer_is_reported_lost_once(void)
{
	static const struct tunnel_callbacks cbs = {.on_peer_lost = on_lost};
	uint8_t pkt[20] = {0x45};
	struct loop *l = NULL;
	struct tunnels *t = NULL;
	struct map_peer mp[2] = {{.id = 3, .has_key = true},
				 {.id = 4, .has_key = true}};
	const struct map_peer *peers[] = {&mp[0], &mp[1]};
	struct lost_log g = {0};
	int64_t since = 0, t0, end;

	mp[1].key[0] = 1;
	REQUIRE(loop_new(&l) == 0);
	g.l = l;
	REQUIRE(tunnels_new(l, NULL, 9, &cbs, &g, &t) == 0);
	CHECK_INT(tunnels_set_peers(t, peers, 2), 0);
	CHECK_INT(tunnels_watch(t, 3, true), 0);
	CHECK_INT(tunnels_watch(t, 7, true), WEFT_ERR_NOTFOUND);
	t0 = loop_now_us(l);
	CHECK_INT(tunnels_send(t, 3, pkt, sizeof(pkt)), 0);
	CHECK_INT(tunnels_send(t, 4, pkt, sizeof(pkt)), 0);
	end = t0 + (TUNNEL_LOST_CONNECT_MS + 700) * 1000;
	while (loop_now_us(l) < end)
		loop_run_once(l, 20);
	CHECK_INT(g.n, 1);
	CHECK_INT(g.peer, 3);
	CHECK(g.lost);
	CHECK(g.at_us - t0 >= TUNNEL_LOST_CONNECT_MS * 1000);
	CHECK(g.at_us - t0 < (TUNNEL_LOST_CONNECT_MS + 300) * 1000);
	CHECK(tunnels_peer_lost(t, 3, &since));
	CHECK(since > 0);
	CHECK(!tunnels_peer_lost(t, 4, NULL));
	/* More packets: still lost, not reported again. */
	CHECK_INT(tunnels_send(t, 3, pkt, sizeof(pkt)), 0);
	end = loop_now_us(l) + 1200 * 1000;
	while (loop_now_us(l) < end)
		loop_run_once(l, 20);
	CHECK_INT(g.n, 1);
	CHECK_INT(tunnels_watch(t, 3, false), 0);
	CHECK(!tunnels_peer_lost(t, 3, NULL));
	tunnels_del(t);
	loop_del(l);
}

/* Streams waiting for a watched peer's connection (stream mode asks
 * tunnels_stream_conn again every 20 ms) count like waiting packets:
 * the peer is reported lost after TUNNEL_LOST_CONNECT_MS. */
static void streams_waiting_for_a_watched_peer_make_it_lost(void)
{
	static const struct tunnel_callbacks cbs = {.on_peer_lost = on_lost};
	struct map_peer mp = {.id = 5, .has_key = true};
	const struct map_peer *one = &mp;
	struct lost_log g = {0};
	struct tunnels *t = NULL;
	struct loop *l = NULL;
	int64_t t0, end;

	REQUIRE(loop_new(&l) == 0);
	g.l = l;
	REQUIRE(tunnels_new(l, NULL, 9, &cbs, &g, &t) == 0);
	CHECK_INT(tunnels_set_peers(t, &one, 1), 0);
	CHECK_INT(tunnels_watch(t, 5, true), 0);
	t0 = loop_now_us(l);
	end = t0 + (TUNNEL_LOST_CONNECT_MS + 700) * 1000;
	while (loop_now_us(l) < end && !g.n) {
		CHECK(tunnels_stream_conn(t, 5) == NULL);
		loop_run_once(l, 20);
	}
	CHECK_INT(g.n, 1);
	CHECK(g.lost);
	CHECK(g.at_us - t0 >= TUNNEL_LOST_CONNECT_MS * 1000);
	CHECK(tunnels_peer_lost(t, 5, NULL));
	tunnels_del(t);
	loop_del(l);
}

static const struct check_case cases[] = {
	CHECK_CASE(queued_packets_age_out_and_are_counted),
	CHECK_CASE(virtual_address_round_trips_to_the_node_id),
	CHECK_CASE(virtual_addresses_of_different_nodes_differ),
	CHECK_CASE(rejects_ids_that_cannot_be_encoded),
	CHECK_CASE(non_virtual_addresses_map_to_no_node),
	CHECK_CASE(unknown_peer_is_refused_and_leaving_peer_is_forgotten),
	CHECK_CASE(tunnels_follow_the_map_diff),
	CHECK_CASE(queued_packet_keeps_waking_the_peer),
	CHECK_CASE(signal_without_connection_wakes_the_peer),
	CHECK_CASE(watched_peer_without_answer_is_reported_lost_once),
	CHECK_CASE(streams_waiting_for_a_watched_peer_make_it_lost),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
