/* Agent map and peer-lookup benchmark (issue 13 point 3); run through
 * run.sh next to it. Not a test.
 *
 * Part 1, map application: builds the JSON text of a full map with N
 * peers (key, addresses, two allowed_ips, two endpoints, display fields)
 * and a 4-rule filter, then measures the agent's CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) for what the agent does with an answer:
 * json_loads (the reference: decoding the answer text, which any design
 * must do), map_apply (strict parse + diff), tunnels_apply, and the route
 * table and filter rebuild. Cases: the first full map, the same full map
 * again, a delta changing one peer's endpoints, a delta adding and
 * removing one peer. The median of R runs is printed with its ratio to
 * json_loads of the same text.
 *
 * Part 2, per-packet lookup: a tunnel table and route table with P peers
 * (no connections: our id is larger, so sends queue until the queue is
 * full and are then refused, a constant amount of work after the
 * lookup). Per packet, send: filter_routes_lookup(dst) + tunnels_send;
 * receive: tunnels_input_relay (a wake payload) +
 * filter_routes_lookup(src); key: tunnels_accept_peer. Packets go either
 * to one peer or round-robin over all P in a shuffled order. ns/packet
 * for P = 1 and P = 1,000 (and 10,000) and the ratio to P = 1 are
 * printed. */
#include "agent/filter.h"
#include "agent/map.h"
#include "agent/tunnel.h"
#include "shared/enc.h"
#include "shared/err.h"
#include "shared/loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 7

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return v[n / 2];
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "agentmap_bench: %s: %d\n", what, rc);
	exit(1);
}

/* Peer i's key: distinct bytes, base64. */
static void key_b64(int64_t i, char out[64])
{
	uint8_t k[IDENT_KEY_LEN];

	for (size_t j = 0; j < sizeof(k); j++)
		k[j] = (uint8_t)((uint64_t)i * 2654435761u >> (j % 4 * 8)) ^
		       (uint8_t)j;
	memcpy(k, &i, sizeof(i));
	base64_encode(k, sizeof(k), out, 64, false);
}

static void peer_text(char *buf, size_t n, int64_t id, int port)
{
	char key[64];

	key_b64(id, key);
	snprintf(buf, n,
		 "{\"id\": %lld, \"name\": \"node-%lld\", \"dns_name\": "
		 "\"node-%lld.weft.internal\", \"public_key\": \"%s\", "
		 "\"ipv4\": \"100.64.%d.%d\", \"ipv6\": \"fd7a:115c:a1e0::%llx\", "
		 "\"allowed_ips\": [\"100.64.%d.%d/32\", "
		 "\"fd7a:115c:a1e0::%llx/128\"], \"endpoints\": "
		 "[\"198.51.100.%d:%d\", \"[2001:db8::%llx]:41641\"], "
		 "\"home_relay\": \"fra\", \"online\": true, \"last_seen\": "
		 "\"2026-12-05T08:00:00Z\", \"tags\": [\"tag:server\"], "
		 "\"user\": null}",
		 (long long)id, (long long)id, (long long)id, key,
		 (int)(id >> 8 & 0xff), (int)(id & 0xff), (long long)id,
		 (int)(id >> 8 & 0xff), (int)(id & 0xff), (long long)id,
		 (int)(id % 250 + 1), port, (long long)id);
}

static const char filter_text[] =
	"[{\"proto\": \"tcp\", \"src\": [\"100.64.0.0/10\"], \"dst\": "
	"[{\"prefix\": \"100.64.0.1/32\", \"ports\": \"22,80-90,443\"}]},"
	"{\"proto\": \"udp\", \"src\": [\"100.64.0.0/10\"], \"dst\": "
	"[{\"prefix\": \"100.64.0.1/32\", \"ports\": \"53\"}]},"
	"{\"proto\": \"icmp\", \"src\": [\"100.64.0.0/10\", "
	"\"fd7a:115c:a1e0::/48\"], \"dst\": [{\"prefix\": \"100.64.0.1/32\", "
	"\"ports\": \"*\"}]},"
	"{\"proto\": \"any\", \"src\": [\"10.0.0.0/8\"], \"dst\": "
	"[{\"prefix\": \"10.1.0.0/16\", \"ports\": \"*\"}]}]";

/* A map answer: full with peers 2..n+1, or a delta. */
static char *full_text(size_t n, int64_t version)
{
	size_t cap = 256 + n * 700 + sizeof(filter_text), len;
	char *s = malloc(cap), p[700];

	if (!s)
		die("malloc", WEFT_ERR_NOMEM);
	len = (size_t)snprintf(s, cap,
			       "{\"version\": %lld, \"full\": true, \"self\": "
			       "{\"id\": 1, \"name\": \"me\", \"ipv4\": "
			       "\"100.64.0.1\", \"ipv6\": \"fd7a:115c:a1e0::1\"},"
			       " \"peers\": [",
			       (long long)version);
	for (size_t i = 0; i < n; i++) {
		peer_text(p, sizeof(p), (int64_t)i + 2, 41641);
		len += (size_t)snprintf(s + len, cap - len, "%s%s", i ? ", " : "",
					p);
	}
	snprintf(s + len, cap - len,
		 "], \"filter\": %s, \"dns\": {\"suffix\": \"weft.internal\", "
		 "\"resources\": []}, \"relays\": [{\"id\": 1, \"name\": "
		 "\"fra\", \"address\": \"127.0.0.1:4433\", \"public_key_pin\": "
		 "null}]}",
		 filter_text);
	return s;
}

struct agent {
	struct loop *l;
	struct map *m;
	struct tunnels *t;
	struct filter *f;
	struct filter_routes *rt;
};

/* What daemon.c does with an accepted answer (tunnels, routes, filter). */
static void apply_answer(struct agent *a, const json_t *j)
{
	const struct map_peer *const *peers;
	struct filter_route *rv;
	struct filter_rules *fr = NULL;
	const struct map_rule *mr;
	struct map_diff d;
	size_t n, nr = 0, cap = 0, i, k;
	int rc = map_apply(a->m, j, &d, NULL, 0);

	if (rc < 0)
		die("map_apply", rc);
	rc = tunnels_apply(a->t, a->m, &d);
	if (rc < 0)
		die("tunnels_apply", rc);
	if (d.addrs || d.self) {
		peers = map_peers(a->m, &n);
		for (i = 0; i < n; i++)
			cap += peers[i]->nallowed;
		rv = calloc(cap + 1, sizeof(*rv));
		for (i = 0; rv && i < n; i++)
			for (k = 0; k < peers[i]->nallowed; k++)
				rv[nr++] = (struct filter_route){
					.prefix = peers[i]->allowed_ips[k],
					.peer = peers[i]->id};
		filter_routes_del(a->rt);
		a->rt = NULL;
		if (!rv || filter_routes_new(rv, nr, &a->rt) < 0)
			die("routes", WEFT_ERR_NOMEM);
		free(rv);
	}
	if (d.filter || d.self) {
		const struct map_self *self = map_self(a->m);
		struct ip_addr own[FILTER_MAX_SELF];
		size_t nown = 0;

		if (self && self->ipv4.family)
			own[nown++] = self->ipv4;
		if (self && self->ipv6.family)
			own[nown++] = self->ipv6;
		mr = map_rules(a->m, &n);
		if (filter_rules_compile(mr, n, own, nown, &fr, NULL, 0) < 0)
			die("filter", WEFT_ERR_INVAL);
		filter_set_rules(a->f, fr);
	}
	map_diff_free(&d);
}

static void agent_init(struct agent *a)
{
	memset(a, 0, sizeof(*a));
	/* Our id is larger than every peer's: we never dial (no endpoint). */
	if (loop_new(&a->l) < 0 || map_new(&a->m) < 0 ||
	    tunnels_new(a->l, NULL, INT64_C(1) << 40, NULL, NULL, &a->t) < 0 ||
	    filter_new(NULL, &a->f) < 0)
		die("init", WEFT_ERR_NOMEM);
}

static void agent_free(struct agent *a)
{
	tunnels_del(a->t);
	map_del(a->m);
	filter_del(a->f);
	filter_routes_del(a->rt);
	loop_del(a->l);
}

/* Decodes text and applies it; adds the CPU time of each step. */
static void timed(struct agent *a, const char *text, double *decode,
		  double *apply)
{
	double t0 = cpu_ns(), t1, t2;
	json_t *j = json_loads(text, 0, NULL);

	t1 = cpu_ns();
	if (!j)
		die("json_loads", WEFT_ERR_PARSE);
	apply_answer(a, j);
	t2 = cpu_ns();
	json_decref(j);
	*decode = t1 - t0;
	*apply = t2 - t1;
}

static void bench_map(size_t n)
{
	char *full = full_text(n, 10), p[700], *delta1, *delta2;
	double dec[4][RUNS], app[4][RUNS];
	static const char *const names[4] = {
		"first full map", "same full map again",
		"delta: 1 peer's endpoints", "delta: +1 peer, -1 peer"};

	delta1 = malloc(2048);
	delta2 = malloc(2048);
	if (!delta1 || !delta2)
		die("malloc", WEFT_ERR_NOMEM);
	peer_text(p, sizeof(p), (int64_t)n / 2 + 2, 50000);
	snprintf(delta1, 2048, "{\"version\": 11, \"full\": false, "
		 "\"peers\": [%s]}", p);
	peer_text(p, sizeof(p), (int64_t)n + 2, 41641);
	snprintf(delta2, 2048, "{\"version\": 12, \"full\": false, "
		 "\"peers\": [%s], \"peers_removed\": [2]}", p);
	for (int r = 0; r < RUNS; r++) {
		struct agent a;

		agent_init(&a);
		timed(&a, full, &dec[0][r], &app[0][r]);
		timed(&a, full, &dec[1][r], &app[1][r]);
		timed(&a, delta1, &dec[2][r], &app[2][r]);
		timed(&a, delta2, &dec[3][r], &app[3][r]);
		if (map_peer_count(a.m) != n || tunnels_count(a.t) != n)
			die("peer count", WEFT_ERR_INTERNAL);
		agent_free(&a);
	}
	for (int c = 0; c < 4; c++) {
		double d = median(dec[c], RUNS), x = median(app[c], RUNS);

		printf("map peers=%-6zu %-28s json_loads %9.3f ms  "
		       "apply %9.3f ms  apply/json_loads %.2f\n",
		       n, names[c], d / 1e6, x / 1e6, x / d);
	}
	free(full);
	free(delta1);
	free(delta2);
}

/* ns per packet over `iters` packets to targets (round-robin). */
static void bench_lookup(size_t npeers, double out[3][2])
{
	struct agent a;
	char *full = full_text(npeers, 1);
	json_t *j = json_loads(full, 0, NULL);
	const struct map_peer *const *peers;
	size_t n, *order, iters = 2000000;
	uint8_t pkt[64] = {0x45}, wake = TUNNEL_WAKE;
	uint64_t found = 0;

	agent_init(&a);
	if (!j)
		die("json_loads", WEFT_ERR_PARSE);
	apply_answer(&a, j);
	json_decref(j);
	free(full);
	peers = map_peers(a.m, &n);
	order = malloc(n * sizeof(*order));
	if (!order)
		die("malloc", WEFT_ERR_NOMEM);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	srand(42);
	for (size_t i = n; i > 1; i--) {
		size_t k = (size_t)rand() % i, t = order[i - 1];

		order[i - 1] = order[k];
		order[k] = t;
	}
	/* Receive and key lookups first, while the peers' structs lie
	 * close together as they do in an agent (queues empty). */
	for (int mode = 0; mode < 2; mode++) {
		double t0, t1;
		size_t i;

		t0 = cpu_ns();
		for (i = 0; i < iters; i++) {
			const struct map_peer *p =
				peers[mode ? order[i % n] : 0];
			int64_t id = 0;

			tunnels_input_relay(a.t, p->id, &wake, 1);
			if (filter_routes_lookup(a.rt, &p->ipv4, &id) == 0 &&
			    id == p->id)
				found++;
		}
		t1 = cpu_ns();
		out[1][mode] = (t1 - t0) / (double)iters;
		t0 = cpu_ns();
		for (i = 0; i < iters; i++) {
			const struct map_peer *p =
				peers[mode ? order[i % n] : 0];

			found += tunnels_accept_peer(a.t, p->key);
		}
		t1 = cpu_ns();
		out[2][mode] = (t1 - t0) / (double)iters;
	}
	/* Send: every queue full first, so that a send after the lookup is
	 * refused at once (constant work; no connection exists). The
	 * queued packets (64 x 1.5 KiB per peer) spread the peers over
	 * much more memory than an agent's idle peers use, which shows in
	 * the round-robin numbers. */
	for (size_t i = 0; i < n; i++)
		for (int q = 0; q < TUNNEL_QUEUE_MAX; q++)
			tunnels_send(a.t, peers[i]->id, pkt, sizeof(pkt));
	for (int mode = 0; mode < 2; mode++) {
		double t0, t1;
		size_t i;

		t0 = cpu_ns();
		for (i = 0; i < iters; i++) {
			const struct map_peer *p =
				peers[mode ? order[i % n] : 0];
			int64_t id = 0;

			if (filter_routes_lookup(a.rt, &p->ipv4, &id) == 0 &&
			    tunnels_send(a.t, id, pkt, sizeof(pkt)) ==
				    WEFT_ERR_BUSY)
				found++;
		}
		t1 = cpu_ns();
		out[0][mode] = (t1 - t0) / (double)iters;
	}
	if (found != 6 * (uint64_t)iters)
		die("lookups missed", (int)(found % 1000));
	free(order);
	agent_free(&a);
}

int main(int argc, char **argv)
{
	static const size_t map_sizes[] = {1000, 10000};
	static const size_t lookup_sizes[] = {1, 1000, 10000};
	static const char *const paths[3] = {"send (route+tunnel)",
					     "receive (tunnel+route)",
					     "key (accept)"};
	double res[3][3][2][RUNS], med[3][3][2];

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < 2; i++)
		bench_map(map_sizes[i]);
	for (int r = 0; r < RUNS; r++)
		for (size_t s = 0; s < 3; s++) {
			double out[3][2];

			bench_lookup(lookup_sizes[s], out);
			for (int p = 0; p < 3; p++)
				for (int m = 0; m < 2; m++)
					res[s][p][m][r] = out[p][m];
		}
	for (size_t s = 0; s < 3; s++)
		for (int p = 0; p < 3; p++)
			for (int m = 0; m < 2; m++)
				med[s][p][m] = median(res[s][p][m], RUNS);
	for (int p = 0; p < 3; p++)
		for (int m = 0; m < 2; m++)
			for (size_t s = 0; s < 3; s++)
				printf("lookup %-24s %-11s peers=%-6zu %7.1f "
				       "ns/packet  ratio to 1 peer %.2f\n",
				       paths[p], m ? "round-robin" : "one peer",
				       lookup_sizes[s], med[s][p][m],
				       med[s][p][m] / med[0][p][m]);
	return 0;
}
