#include "check.h"
#include "agent/reschoice.h"
#include "shared/err.h"

#include <stdlib.h>

/* ---- the pick ---- */

static int64_t best_by_weight(int64_t self, int64_t res, const int64_t *c,
			      size_t n)
{
	int64_t best = 0;
	uint64_t bw = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t w = reschoice_weight(self, res, c[i]);

		if (!best || w > bw) {
			best = c[i];
			bw = w;
		}
	}
	return best;
}

static void pick_is_the_heaviest_and_ignores_order(void)
{
	int64_t a[] = {4, 9, 17, 23}, b[] = {23, 17, 9, 4};

	for (int64_t self = 1; self < 200; self++) {
		int64_t x = reschoice_pick(self, 7, a, 4, 0, NULL, NULL);

		CHECK_INT(x, reschoice_pick(self, 7, b, 4, 0, NULL, NULL));
		CHECK_INT(x, best_by_weight(self, 7, a, 4));
	}
	CHECK_INT(reschoice_pick(1, 7, a, 0, 0, NULL, NULL), 0);
	/* The weight is a fixed function: the same on every run. */
	CHECK(reschoice_weight(1, 2, 3) == reschoice_weight(1, 2, 3));
	CHECK(reschoice_weight(1, 2, 3) != reschoice_weight(1, 3, 2));
}

/* Clients spread over the connectors of a resource, and resources of one
 * client spread too. */
static void clients_and_resources_spread_over_connectors(void)
{
	int64_t c[] = {10, 11, 12};
	int count[3] = {0}, rcount[3] = {0};

	for (int64_t self = 1; self <= 3000; self++) {
		int64_t x = reschoice_pick(self, 5, c, 3, 0, NULL, NULL);

		count[x - 10]++;
	}
	for (int64_t res = 1; res <= 3000; res++)
		rcount[reschoice_pick(42, res, c, 3, 0, NULL, NULL) - 10]++;
	for (int i = 0; i < 3; i++) {
		CHECK(count[i] > 850 && count[i] < 1150);
		CHECK(rcount[i] > 850 && rcount[i] < 1150);
	}
}

/* Lost connectors for the tests: ids in lost_ids with their times. */
struct lost_set {
	int64_t id[4], since[4];
	size_t n;
};

static bool lost_in(int64_t c, int64_t *since, void *ctx)
{
	const struct lost_set *l = ctx;

	for (size_t i = 0; i < l->n; i++)
		if (l->id[i] == c) {
			*since = l->since[i];
			return true;
		}
	return false;
}

static void keeps_the_current_choice_while_listed_and_alive(void)
{
	int64_t c[] = {4, 9, 17};
	int64_t best = reschoice_pick(3, 1, c, 3, 0, NULL, NULL);
	int64_t other = best == 4 ? 9 : 4;
	struct lost_set none = {0};

	CHECK_INT(reschoice_pick(3, 1, c, 3, other, lost_in, &none), other);
	/* A current choice that left the list is replaced by the best. */
	CHECK_INT(reschoice_pick(3, 1, c, 3, 99, lost_in, &none), best);
}

static void replaces_a_lost_choice_by_the_best_alive(void)
{
	int64_t c[] = {4, 9, 17};
	int64_t best = reschoice_pick(3, 1, c, 3, 0, NULL, NULL);
	struct lost_set l = {.id = {best}, .since = {100}, .n = 1};
	int64_t rest[2], x;
	size_t k = 0;

	for (size_t i = 0; i < 3; i++)
		if (c[i] != best)
			rest[k++] = c[i];
	x = reschoice_pick(3, 1, c, 3, best, lost_in, &l);
	CHECK(x != best);
	CHECK_INT(x, best_by_weight(3, 1, rest, 2));
}

/* All lost: the one lost longest ago, whatever the weights. */
static void all_lost_picks_the_one_lost_longest_ago(void)
{
	int64_t c[] = {4, 9, 17};
	struct lost_set l = {.id = {4, 9, 17}, .since = {500, 200, 300},
			     .n = 3};

	CHECK_INT(reschoice_pick(3, 1, c, 3, 4, lost_in, &l), 9);
	l.since[1] = 900;
	CHECK_INT(reschoice_pick(3, 1, c, 3, 9, lost_in, &l), 17);
}

/* ---- the table ---- */

static struct map_res res(int64_t id, int64_t *conn, size_t n)
{
	struct map_res r = {.id = id, .name = "r", .connectors = conn,
			    .nconnectors = n};

	return r;
}

static void update_reports_new_gone_none_and_back(void)
{
	struct reschoice *rc = NULL;
	struct reschoice_event *ev = NULL;
	const struct reschoice_entry *e;
	int64_t c2[] = {4, 9}, c1[2];
	struct map_res v[2];
	size_t nev = 0, n;
	int64_t first;

	REQUIRE_INT(reschoice_new(&rc), 0);
	v[0] = res(1, c2, 2);
	v[1] = res(2, NULL, 0);
	REQUIRE_INT(reschoice_update(rc, 3, v, 2, NULL, NULL, &ev, &nev), 0);
	REQUIRE_INT(nev, 2);
	first = reschoice_pick(3, 1, c2, 2, 0, NULL, NULL);
	CHECK_INT(ev[0].index, 0);
	CHECK_INT(ev[0].to, first);
	CHECK_INT(ev[0].why, RESCHOICE_NEW);
	CHECK_INT(ev[1].to, 0);
	CHECK_INT(ev[1].why, RESCHOICE_NONE);
	free(ev);

	/* The same map again: nothing to say. */
	REQUIRE_INT(reschoice_update(rc, 3, v, 2, NULL, NULL, &ev, &nev), 0);
	CHECK_INT(nev, 0);
	free(ev);

	/* The chosen connector leaves resource 1; resource 2 gets one;
	 * the order of the resources changes. */
	c1[0] = first == 4 ? 9 : 4;
	v[0] = res(2, c2, 2);
	v[1] = res(1, c1, 1);
	REQUIRE_INT(reschoice_update(rc, 3, v, 2, NULL, NULL, &ev, &nev), 0);
	REQUIRE_INT(nev, 2);
	CHECK_INT(ev[0].index, 0);
	CHECK_INT(ev[0].why, RESCHOICE_BACK);
	CHECK_INT(ev[1].index, 1);
	CHECK_INT(ev[1].from, first);
	CHECK_INT(ev[1].to, c1[0]);
	CHECK_INT(ev[1].why, RESCHOICE_GONE);
	free(ev);
	e = reschoice_entries(rc, &n);
	REQUIRE_INT(n, 2);
	CHECK_INT(e[0].id, 2);
	CHECK_INT(e[1].id, 1);
	CHECK_INT(e[1].connector, c1[0]);
	CHECK_INT(e[1].moves, 1);
	CHECK_INT(reschoice_moves(rc), 1);

	/* None left: not a move. */
	v[1] = res(1, NULL, 0);
	REQUIRE_INT(reschoice_update(rc, 3, v, 2, NULL, NULL, &ev, &nev), 0);
	REQUIRE_INT(nev, 1);
	CHECK_INT(ev[0].why, RESCHOICE_NONE);
	CHECK_INT(ev[0].from, c1[0]);
	free(ev);
	CHECK_INT(reschoice_moves(rc), 1);
	reschoice_del(rc);
}

static void recheck_moves_off_a_lost_connector_and_stays_there(void)
{
	struct reschoice *rc = NULL;
	struct reschoice_event *ev = NULL;
	int64_t c[] = {4, 9};
	struct map_res v[1] = {res(1, c, 2)};
	struct lost_set l = {0};
	size_t nev = 0;
	int64_t first, second;

	REQUIRE_INT(reschoice_new(&rc), 0);
	REQUIRE_INT(reschoice_update(rc, 3, v, 1, lost_in, &l, &ev, &nev), 0);
	free(ev);
	first = reschoice_entries(rc, &nev)[0].connector;
	second = first == 4 ? 9 : 4;
	l.id[0] = first;
	l.since[0] = 1000;
	l.n = 1;
	REQUIRE_INT(reschoice_recheck(rc, 3, v, 1, lost_in, &l, &ev, &nev), 0);
	REQUIRE_INT(nev, 1);
	CHECK_INT(ev[0].from, first);
	CHECK_INT(ev[0].to, second);
	CHECK_INT(ev[0].why, RESCHOICE_LOST);
	free(ev);
	/* The first one answers again: the flows stay where they are. */
	l.n = 0;
	REQUIRE_INT(reschoice_recheck(rc, 3, v, 1, lost_in, &l, &ev, &nev), 0);
	CHECK_INT(nev, 0);
	free(ev);
	CHECK_INT(reschoice_entries(rc, &nev)[0].connector, second);
	CHECK_INT(reschoice_moves(rc), 1);
	reschoice_del(rc);
}

/* ---- early reject ---- */

static struct packet_info pkt(uint8_t version, uint8_t proto, uint16_t dport)
{
	struct packet_info pi = {.version = version, .proto = proto};

	if (proto == PACKET_PROTO_TCP || proto == PACKET_PROTO_UDP) {
		pi.has_ports = true;
		pi.dport = dport;
	} else if (proto == PACKET_PROTO_ICMP || proto == PACKET_PROTO_ICMPV6) {
		pi.has_icmp = true;
	}
	return pi;
}

static void filters_admit_their_protocols_and_ports_only(void)
{
	struct map_res_filter f[2] = {
		{.proto = MAP_PROTO_TCP, .ports = {{443, 443}, {8000, 8100}},
		 .nports = 2},
		{.proto = MAP_PROTO_ICMP},
	};
	struct packet_info pi;

	pi = pkt(4, PACKET_PROTO_TCP, 443);
	CHECK(reschoice_allows(f, 2, &pi));
	pi = pkt(6, PACKET_PROTO_TCP, 8050);
	CHECK(reschoice_allows(f, 2, &pi));
	pi = pkt(4, PACKET_PROTO_TCP, 22);
	CHECK(!reschoice_allows(f, 2, &pi));
	pi = pkt(4, PACKET_PROTO_TCP, 8101);
	CHECK(!reschoice_allows(f, 2, &pi));
	pi = pkt(4, PACKET_PROTO_UDP, 443);
	CHECK(!reschoice_allows(f, 2, &pi));
	pi = pkt(4, PACKET_PROTO_ICMP, 0);
	CHECK(reschoice_allows(f, 2, &pi));
	pi = pkt(6, PACKET_PROTO_ICMPV6, 0);
	CHECK(reschoice_allows(f, 2, &pi));
	/* ICMP's number in the other family is not ICMP. */
	pi = pkt(6, PACKET_PROTO_ICMP, 0);
	CHECK(!reschoice_allows(f, 2, &pi));
	pi = pkt(4, 47, 0); /* GRE */
	CHECK(!reschoice_allows(f, 2, &pi));
	/* A later fragment has no ports: its protocol decides (the
	 * connector checks the first fragment's ports). */
	pi = pkt(4, PACKET_PROTO_TCP, 0);
	pi.has_ports = false;
	pi.fragment = pi.later_fragment = true;
	CHECK(reschoice_allows(f, 2, &pi));
	pi.proto = PACKET_PROTO_UDP;
	CHECK(!reschoice_allows(f, 2, &pi));
}

static void no_filters_admit_everything_and_no_ports_every_port(void)
{
	struct map_res_filter f[1] = {{.proto = MAP_PROTO_UDP}};
	struct packet_info pi = pkt(4, 47, 0);

	CHECK(reschoice_allows(NULL, 0, &pi));
	pi = pkt(4, PACKET_PROTO_UDP, 65535);
	CHECK(reschoice_allows(f, 1, &pi));
	pi = pkt(4, PACKET_PROTO_TCP, 1);
	CHECK(!reschoice_allows(f, 1, &pi));
}

static const struct check_case cases[] = {
	CHECK_CASE(pick_is_the_heaviest_and_ignores_order),
	CHECK_CASE(clients_and_resources_spread_over_connectors),
	CHECK_CASE(keeps_the_current_choice_while_listed_and_alive),
	CHECK_CASE(replaces_a_lost_choice_by_the_best_alive),
	CHECK_CASE(all_lost_picks_the_one_lost_longest_ago),
	CHECK_CASE(update_reports_new_gone_none_and_back),
	CHECK_CASE(recheck_moves_off_a_lost_connector_and_stays_there),
	CHECK_CASE(filters_admit_their_protocols_and_ports_only),
	CHECK_CASE(no_filters_admit_everything_and_no_ports_every_port),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
