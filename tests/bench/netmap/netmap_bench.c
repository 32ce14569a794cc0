/* Network-map engine benchmark (issue 12 point 16); run through run.sh
 * next to it. Not a test.
 *
 * The controller's part of a policy edit without HTTP or a store: N nodes
 * of G users, the policy of tests/bench/controller (group gN = {uN}; gN
 * reaches gN and g(N+1), so every node has about 3N/G peers), then the
 * edit that benchmark makes (one rule more: every node's filter changes,
 * no peer set does). Measured in CPU time (CLOCK_PROCESS_CPUTIME_ID):
 *   apply   netmap_policy_set of the edit
 *   render  netmap_render_shared + json_dumps of every node's delta since
 *           the version before the edit (what the hub sends each poll)
 * and, as the reference in the same run, "reapply": netmap_policy_set of
 * a policy identical to the current one (the engine's floor for any
 * policy change of this size: it must at least classify every node). The
 * median of R runs is printed. */
#include "controller/netmap.h"
#include "controller/policy.h"
#include "shared/err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 5

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "netmap_bench: %s failed (%d)\n", what, rc);
	exit(1);
}

static char *policy_text(int G, int extra)
{
	json_t *groups = json_object(), *acls = json_array(), *doc;
	char *s;

	for (int g = 0; g < G; g++) {
		char gn[32], user[32], d1[40], d2[40];

		snprintf(gn, sizeof(gn), "group:g%d", g);
		snprintf(user, sizeof(user), "u%d", g);
		snprintf(d1, sizeof(d1), "group:g%d:*", g);
		snprintf(d2, sizeof(d2), "group:g%d:*", (g + 1) % G);
		json_object_set_new(groups, gn, json_pack("[s]", user));
		json_array_append_new(acls,
				      json_pack("{ss s[s] s[ss]}", "action",
						"accept", "src", gn, "dst", d1,
						d2));
	}
	if (extra)
		json_array_append_new(acls,
				      json_pack("{ss ss s[s] s[s]}", "action",
						"accept", "proto", "tcp", "src",
						"10.0.0.0/8", "dst", "*:22"));
	doc = json_pack("{so so}", "groups", groups, "acls", acls);
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return s;
}

static struct policy *parse(const char *text)
{
	struct policy *p;
	int rc = policy_parse(text, strlen(text), NULL, &p, NULL);

	if (rc < 0)
		die("policy_parse", rc);
	return p;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct run {
	double apply, render, reapply;
	size_t bytes, shared; /* answers' bytes; of them, shared filters */
};

static void one_run(int N, int G, const char *p0, const char *p1,
		    struct run *out)
{
	struct netmap_options opt = {.dns_suffix = "weft.internal",
				     .tombstones_per_node = 64};
	struct netmap_dirty d = {0};
	struct netmap *nm;
	int64_t v = 1, before;
	double t;
	int rc;

	if ((rc = netmap_new(&opt, &nm)) < 0)
		die("netmap_new", rc);
	if ((rc = netmap_policy_set(nm, v++, parse(p0), &d)) < 0)
		die("netmap_policy_set", rc);
	for (int i = 0; i < N; i++) {
		struct netmap_node n = {0};

		n.node.id = i + 1;
		snprintf(n.node.name, sizeof(n.node.name), "n%d", i);
		snprintf(n.node.public_key, sizeof(n.node.public_key),
			 "k%043d", i);
		snprintf(n.node.ipv4, sizeof(n.node.ipv4), "100.64.%d.%d",
			 (i + 1) / 256, (i + 1) % 256);
		snprintf(n.node.ipv6, sizeof(n.node.ipv6), "fd7a::%x", i + 1);
		snprintf(n.node.endpoints, sizeof(n.node.endpoints),
			 "[\"192.0.2.%d:41641\"]", i % 250 + 1);
		snprintf(n.node.home_relay, sizeof(n.node.home_relay), "r1");
		n.node.online = 1;
		snprintf(n.user, sizeof(n.user), "u%d", i % G);
		netmap_dirty_reset(&d);
		if ((rc = netmap_node_upsert(nm, v++, &n, &d)) < 0)
			die("netmap_node_upsert", rc);
	}
	before = v - 1;

	netmap_dirty_reset(&d);
	t = cpu_ms();
	if ((rc = netmap_policy_set(nm, v++, parse(p0), &d)) < 0)
		die("netmap_policy_set", rc);
	out->reapply = cpu_ms() - t;
	before = v - 1;

	netmap_dirty_reset(&d);
	t = cpu_ms();
	if ((rc = netmap_policy_set(nm, v++, parse(p1), &d)) < 0)
		die("netmap_policy_set", rc);
	out->apply = cpu_ms() - t;
	if (d.n != (size_t)N)
		fprintf(stderr, "netmap_bench: %zu of %d nodes dirty\n", d.n,
			N);

	out->bytes = out->shared = 0;
	t = cpu_ms();
	for (int i = 0; i < N; i++) {
		struct netmap_shared *f = NULL;
		json_t *m = NULL;
		char *s;

		if ((rc = netmap_render_shared(nm, i + 1, before, &m, &f)) < 0)
			die("netmap_render_shared", rc);
		s = json_dumps(m, JSON_COMPACT);
		out->bytes += strlen(s) + (f ? f->len : 0);
		out->shared += f ? f->len : 0;
		free(s);
		json_decref(m);
	}
	out->render = cpu_ms() - t;
	netmap_dirty_free(&d);
	netmap_del(nm);
}

int main(int argc, char **argv)
{
	int N = argc > 1 ? atoi(argv[1]) : 10000;
	int G = argc > 2 ? atoi(argv[2]) : 100;
	char *p0, *p1;
	double a[RUNS], r[RUNS], z[RUNS];
	struct run x = {0};

	if (N < G || G < 2) {
		fprintf(stderr, "usage: netmap_bench [NODES [GROUPS]]\n");
		return 2;
	}
	p0 = policy_text(G, 0);
	p1 = policy_text(G, 1);
	for (int i = 0; i < RUNS; i++) {
		one_run(N, G, p0, p1, &x);
		a[i] = x.apply;
		r[i] = x.render;
		z[i] = x.reapply;
	}
	qsort(a, RUNS, sizeof(*a), cmp_d);
	qsort(r, RUNS, sizeof(*r), cmp_d);
	qsort(z, RUNS, sizeof(*z), cmp_d);
	printf("nodes %d, groups %d, %d peers each, median of %d runs (CPU ms)\n",
	       N, G, 3 * N / G - 1, RUNS);
	printf("  reapply same policy   %8.1f ms (reference)\n", z[RUNS / 2]);
	printf("  policy edit: apply    %8.1f ms  %.2fx reference\n",
	       a[RUNS / 2], a[RUNS / 2] / z[RUNS / 2]);
	printf("  policy edit: render   %8.1f ms  (%.1f us/node; answers "
	       "%zu bytes, %zu of them shared filter text)\n",
	       r[RUNS / 2], r[RUNS / 2] * 1e3 / N, x.bytes, x.shared);
	printf("  apply + render        %8.1f ms\n", a[RUNS / 2] + r[RUNS / 2]);
	free(p0);
	free(p1);
	return 0;
}
