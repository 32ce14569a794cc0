/* flowtable: the agent's flow table (agent/filter.c) on its own, for
 * tests/bench/connector/flows.sh.
 *
 *   flowtable [LOOKUPS]
 *
 * For 10, 1,000 and 10,000 UDP flows (one local address, distinct source
 * ports, two remote servers, as in the netns benchmark) in a filter with
 * the default table (ct_max 16,384): inserts them (filter_track_out), then
 * times LOOKUPS (default 4,000,000) replies through filter_check_in, in a
 * shuffled order over the flows, best of three; prints ns per insert,
 * ns per lookup, live entries and evictions per size, and the lookup
 * ratio 10,000 / 10 flows. Then the table's fill limit: for loads of 50 to
 * 100 % of the slots, how many live flows were evicted. */
#include "agent/filter.h"
#include "shared/ip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The outbound packet of flow i and its reply. */
static void flow(int i, struct packet_info *out, struct packet_info *rep)
{
	memset(out, 0, sizeof(*out));
	ip_addr_parse("100.64.0.1", &out->src);
	ip_addr_parse(i % 2 ? "192.168.77.11" : "192.168.77.10", &out->dst);
	out->version = 4;
	out->proto = PACKET_PROTO_UDP;
	out->has_ports = true;
	out->sport = (uint16_t)(1024 + i / 2);
	out->dport = 7000;
	*rep = *out;
	rep->src = out->dst;
	rep->dst = out->src;
	rep->sport = out->dport;
	rep->dport = out->sport;
}

static struct filter *filled(int n, struct packet_info *rep,
			     long long *insert_ns)
{
	struct filter *f = NULL;
	struct packet_info out;
	long long t;
	int i;

	if (filter_new(NULL, &f) != 0)
		exit(1);
	t = now_ns();
	for (i = 0; i < n; i++) {
		flow(i, &out, &rep[i]);
		filter_track_out(f, &out, 1000);
	}
	*insert_ns = now_ns() - t;
	return f;
}

/* ns per lookup: best of three runs of `lookups` in order[]. */
static double lookup_ns(struct filter *f, const struct packet_info *rep,
			const int *order, int n, long lookups, int *misses)
{
	double best = 0;
	long k;
	int r;

	*misses = 0;
	for (r = 0; r < 3; r++) {
		long long t = now_ns();

		for (k = 0; k < lookups; k++)
			*misses += !filter_check_in(f, &rep[order[k % n]],
						    1001);
		t = now_ns() - t;
		if (!r || (double)t / (double)lookups < best)
			best = (double)t / (double)lookups;
	}
	return best;
}

int main(int argc, char **argv)
{
	static const int sizes[] = {10, 1000, 10000};
	long lookups = argc > 1 ? atol(argv[1]) : 4000000;
	struct packet_info *rep = calloc(16384, sizeof(*rep));
	int *order = calloc(16384, sizeof(*order));
	double ns[3];
	size_t s;
	int i, load;

	if (!rep || !order || lookups <= 0)
		return 1;
	printf("%-8s %12s %12s %10s %10s\n", "flows", "insert ns", "lookup ns",
	       "entries", "evicted");
	for (s = 0; s < 3; s++) {
		int n = sizes[s], misses;
		struct filter_stats st;
		long long ins;
		struct filter *f = filled(n, rep, &ins);

		srand(1);
		for (i = 0; i < n; i++)
			order[i] = i;
		for (i = n - 1; i > 0; i--) {
			int j = rand() % (i + 1), x = order[i];

			order[i] = order[j];
			order[j] = x;
		}
		ns[s] = lookup_ns(f, rep, order, n, lookups, &misses);
		filter_get_stats(f, 1001, &st);
		printf("%-8d %12.1f %12.1f %10u %10llu%s\n", n,
		       (double)ins / n, ns[s], st.ct_entries,
		       (unsigned long long)st.ct_evicted,
		       misses ? "  (replies denied!)" : "");
		filter_del(f);
	}
	printf("ratio lookup 10000 / 10 flows: %.2f\n", ns[2] / ns[0]);
	printf("fill limit of the default table (16,384 slots):\n");
	for (load = 50; load <= 100; load += 10) {
		int n = 16384 * load / 100;
		struct packet_info *big = calloc((size_t)n, sizeof(*big));
		struct filter_stats st;
		long long ins;
		struct filter *f;

		if (!big)
			return 1;
		f = filled(n, big, &ins);
		filter_get_stats(f, 1001, &st);
		printf("  %3d %% (%5d flows): %llu evicted (%.2f %%)\n", load,
		       n, (unsigned long long)st.ct_evicted,
		       100.0 * (double)st.ct_evicted / n);
		filter_del(f);
		free(big);
	}
	free(rep);
	free(order);
	return 0;
}
