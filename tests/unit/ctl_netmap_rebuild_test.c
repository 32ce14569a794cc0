/* The network-map engine changed step by step equals an engine built from
 * scratch with the same policy, resources and nodes.
 *
 * A policy change classifies one node per identity and re-derives only
 * the peer sets whose wanted peers changed (controller/netmap.c,
 * "classes"); a shortcut that is wrong for one kind of node leaves peer
 * sets or filters that no rebuild would give. The walk mixes policies
 * that name nodes and policies that do not, tagged and untagged nodes,
 * subnet routers, connectors by id and by tag, and many nodes per
 * identity, and compares every node's full map after every step. */
#include "netmap_fix.h"

#define NODES 36
#define STEPS 160

/* The scale benchmark's policy with four groups, without the closing
 * "]}" of its acls. */
#define RING                                                                 \
	"{\"groups\":{\"group:g0\":[\"u0\"],\"group:g1\":[\"u1\"],"           \
	"\"group:g2\":[\"u2\"],\"group:g3\":[\"u3\"]},"                        \
	"\"acls\":["                                                          \
	"{\"action\":\"accept\",\"src\":[\"group:g0\"],"                      \
	"\"dst\":[\"group:g0:*\",\"group:g1:*\"]},"                              \
	"{\"action\":\"accept\",\"src\":[\"group:g1\"],"                      \
	"\"dst\":[\"group:g1:*\",\"group:g2:*\"]},"                              \
	"{\"action\":\"accept\",\"src\":[\"group:g2\"],"                      \
	"\"dst\":[\"group:g2:*\",\"group:g3:*\"]},"                              \
	"{\"action\":\"accept\",\"src\":[\"group:g3\"],"                      \
	"\"dst\":[\"group:g3:*\",\"group:g0:*\"]}"

static const char *const policies[] = {
	/* Names nodes: node:n7 in a group, node:n3 in a rule. */
	("{\"groups\":{\"group:a\":[\"u0\",\"u1\"],\"group:b\":[\"u2\","
	 "\"node:n7\"]},"
	 "\"tagOwners\":{\"tag:db\":[\"u0\"],\"tag:web\":[\"u0\"],"
	 "\"tag:conn\":[\"u0\"]},"
	 "\"hosts\":{\"lab\":\"10.1.0.0/16\"},"
	 "\"acls\":["
	 "{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"group:a\"],"
	 "\"dst\":[\"tag:db:5432\"]},"
	 "{\"action\":\"accept\",\"src\":[\"group:b\"],\"dst\":[\"group:b:*\"]},"
	 "{\"action\":\"accept\",\"src\":[\"node:n3\"],\"dst\":[\"u4:22\"]},"
	 "{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"u5\"],"
	 "\"dst\":[\"host:lab:22\",\"resource:wiki:443\"]}]}"),
	/* Users, groups, tags, routes and resources; no node names. */
	("{\"groups\":{\"group:a\":[\"u0\",\"u3\"],\"group:b\":[\"u2\","
	 "\"u4\"]},"
	 "\"tagOwners\":{\"tag:db\":[\"u0\"],\"tag:web\":[\"u0\"],"
	 "\"tag:conn\":[\"u0\"]},"
	 "\"acls\":["
	 "{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"*\"],"
	 "\"dst\":[\"tag:web:80,443\"]},"
	 "{\"action\":\"accept\",\"src\":[\"tag:db\"],\"dst\":[\"u4:*\"]},"
	 "{\"action\":\"accept\",\"src\":[\"group:a\"],"
	 "\"dst\":[\"10.1.2.0/24:*\",\"resource:wiki:*\","
	 "\"resource:docs:80\"]},"
	 "{\"action\":\"accept\",\"src\":[\"group:b\"],\"dst\":[\"group:a:22\"]}]}"),
	/* The scale benchmark's ring: gN reaches gN and gN+1. */
	(RING "]}"),
	/* The ring plus the benchmark's edit: new filters, the same peers. */
	(RING ",{\"action\":\"accept\",\"proto\":\"tcp\","
	 "\"src\":[\"10.0.0.0/8\"],\"dst\":[\"*:22\"]}]}"),
	/* Everybody reaches everybody. */
	("{\"acls\":[{\"action\":\"accept\",\"src\":[\"*\"],"
	 "\"dst\":[\"*:*\"]}]}"),
	/* Nothing. */
	("{}"),
};
#define NPOL (sizeof(policies) / sizeof(policies[0]))

struct world {
	struct netmap_node nodes[NODES + 1];
	bool live[NODES + 1];
	struct netmap_resource res[2];
	bool res_live[2];
	size_t pol;
};

static struct netmap_node random_node(int64_t id)
{
	static const char *const tags[] = {
		NULL, NULL, NULL, NULL, "[\"tag:db\"]", "[\"tag:web\"]",
		"[\"tag:conn\"]", "[\"tag:db\",\"tag:web\"]"};
	static const char *const r1[] = {"10.1.0.0/24", NULL};
	static const char *const r2[] = {"10.1.2.0/24", "10.7.0.0/16", NULL};
	static const char *const *const routes[] = {NULL, NULL, NULL, NULL,
						    NULL, r1, r2};
	static char users[6][4] = {"u0", "u1", "u2", "u3", "u4", "u5"};

	return mknode(id, users[pick(6)], tags[pick(8)], routes[pick(7)]);
}

static void random_resource(struct netmap_resource *r, size_t i)
{
	random_resource_of(r, (int64_t)i + 1, i ? "docs" : "wiki", NODES);
}

static struct policy *parse(size_t i)
{
	struct policy *p = NULL;

	if (policy_parse(policies[i], strlen(policies[i]), NULL, &p, NULL) < 0)
		return NULL;
	return p;
}

/* One random change, applied to f and recorded in w. */
static int step(struct fix *f, struct world *w)
{
	unsigned what = pick(10);
	int64_t id = 1 + pick(NODES);
	size_t i = pick(2);

	netmap_dirty_reset(&f->dirty);
	if (what < 4) {
		w->pol = pick(NPOL);
		return netmap_policy_set(f->nm, ++f->v, parse(w->pol),
					 &f->dirty);
	}
	if (what < 6 || !w->live[id]) {
		w->nodes[id] = random_node(id);
		w->live[id] = true;
		return netmap_node_upsert(f->nm, ++f->v, &w->nodes[id],
					  &f->dirty);
	}
	if (what == 6) {
		w->live[id] = false;
		return netmap_node_remove(f->nm, ++f->v, id, &f->dirty);
	}
	if (what == 7) {
		w->nodes[id].node.online ^= 1;
		return netmap_node_upsert(f->nm, ++f->v, &w->nodes[id],
					  &f->dirty);
	}
	if (what == 8 || !w->res_live[i]) {
		random_resource(&w->res[i], i);
		w->res_live[i] = true;
		return netmap_resource_upsert(f->nm, ++f->v, &w->res[i],
					      &f->dirty);
	}
	w->res_live[i] = false;
	return netmap_resource_remove(f->nm, ++f->v, w->res[i].id, &f->dirty);
}

/* An engine made from w in one go: policy, resources, then the nodes in
 * a shuffled order. */
static int rebuild(struct fix *g, const struct world *w)
{
	int64_t order[NODES];
	size_t n = 0;
	int rc;

	fix_init(g, 4);
	netmap_dirty_reset(&g->dirty);
	if ((rc = netmap_policy_set(g->nm, ++g->v, parse(w->pol),
				    &g->dirty)) < 0)
		return rc;
	for (size_t i = 0; i < 2; i++)
		if (w->res_live[i] &&
		    (rc = netmap_resource_upsert(g->nm, ++g->v, &w->res[i],
						 &g->dirty)) < 0)
			return rc;
	for (int64_t id = 1; id <= NODES; id++)
		if (w->live[id])
			order[n++] = id;
	for (size_t i = n; i > 1; i--) {
		size_t k = pick((unsigned)i);
		int64_t t = order[i - 1];

		order[i - 1] = order[k];
		order[k] = t;
	}
	for (size_t i = 0; i < n; i++)
		if ((rc = upsert(g, &w->nodes[order[i]])) < 0)
			return rc;
	return 0;
}

/* id's full map without what differs between two engines (versions), the
 * peers keyed by id. */
static char *full_text(struct fix *f, int64_t id)
{
	json_t *m = NULL, *peers, *byid, *e;
	char key[24], *s;
	size_t i;

	if (netmap_render(f->nm, id, 0, &m) < 0)
		return NULL;
	json_object_del(m, "version");
	peers = json_object_get(m, "peers");
	byid = json_object();
	json_array_foreach(peers, i, e) {
		snprintf(key, sizeof(key), "%lld",
			 (long long)json_integer_value(json_object_get(e,
								       "id")));
		json_object_set(byid, key, e);
	}
	json_object_set_new(m, "peers", byid);
	s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	return s;
}

static void changed_engine_equals_rebuilt_engine(void)
{
	struct fix f, g;
	struct world w;
	int compared = 0, peered = 0;

	memset(&w, 0, sizeof(w));
	rng_state = 0x6a09e667f3bcc908ULL;
	fix_init(&f, 4);
	w.pol = 2;
	REQUIRE_INT(netmap_policy_set(f.nm, ++f.v, parse(w.pol), &f.dirty),
		    0);
	for (int64_t id = 1; id <= NODES; id++) {
		w.nodes[id] = random_node(id);
		w.live[id] = true;
		REQUIRE_INT(upsert(&f, &w.nodes[id]), 0);
	}
	for (int s = 0; s < STEPS; s++) {
		bool ok = true;

		REQUIRE_INT(step(&f, &w), 0);
		REQUIRE_INT(rebuild(&g, &w), 0);
		for (int64_t id = 1; ok && id <= NODES; id++) {
			char *a, *b;
			int64_t *ids = NULL;
			size_t n = 0;

			if (!w.live[id])
				continue;
			a = full_text(&f, id);
			b = full_text(&g, id);
			ok = check_report(a && b && strcmp(a, b) == 0, __FILE__,
					  __LINE__, "step %d (policy %zu) node "
					  "%lld:\n  changed %s\n  rebuilt %s",
					  s, w.pol, (long long)id, a, b);
			compared++;
			if (netmap_peers(f.nm, id, &ids, &n) == 0 && n)
				peered++;
			free(ids);
			free(a);
			free(b);
		}
		fix_free(&g);
		if (!ok)
			break;
	}
	/* The walk compared many maps, most of them with peers. */
	CHECK(compared > STEPS * NODES / 2);
	CHECK(peered > compared / 2);
	fix_free(&f);
}

/* Many nodes per identity: each gets the memberships of its class and
 * the right peers, before and after an edit that changes no peer set. */
static void nodes_of_one_identity_share_memberships(void)
{
	struct fix f;
	char buf[64];

	fix_init(&f, 4);
	REQUIRE_INT(set_policy(&f, policies[2]), 0);
	for (int64_t id = 1; id <= 12; id++) {
		snprintf(buf, sizeof(buf), "u%lld", (long long)(id % 4));
		REQUIRE_INT(add(&f, id, buf, NULL, NULL), 0);
	}
	/* u0 = {4, 8, 12} reaches u0 and u1 = {1, 5, 9}; u3 reaches u0. */
	CHECK_PEERS(&f, 4, "[1,3,5,7,8,9,11,12]");
	REQUIRE_INT(set_policy(&f, policies[3]), 0);
	CHECK_INT(f.dirty.n, 12);
	CHECK_PEERS(&f, 4, "[1,3,5,7,8,9,11,12]");
	CHECK_PEERS(&f, 8, "[1,3,4,5,7,9,11,12]");
	/* The same users, but the policy now names n8: n8 alone changes. */
	REQUIRE_INT(set_policy(&f,
		"{\"groups\":{\"group:g0\":[\"u0\"]},"
		"\"acls\":[{\"action\":\"accept\",\"src\":[\"group:g0\"],"
		"\"dst\":[\"group:g0:*\"]},"
		"{\"action\":\"accept\",\"src\":[\"node:n8\"],"
		"\"dst\":[\"u1:*\"]}]}"), 0);
	CHECK_PEERS(&f, 4, "[8,12]");
	CHECK_PEERS(&f, 8, "[1,4,5,9,12]");
	CHECK_PEERS(&f, 1, "[8]");
	fix_free(&f);
}

static const struct check_case cases[] = {
	CHECK_CASE(changed_engine_equals_rebuilt_engine),
	CHECK_CASE(nodes_of_one_identity_share_memberships),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
