#include "netmap_fix.h"

/* --- fixtures --- */

static int set_resource(struct fix *f, int64_t id, const char *name,
			const char *address, int64_t node, const char *tag)
{
	struct netmap_resource r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.address, sizeof(r.address), "%s", address);
	if (node)
		r.connector_nodes[r.nconnector_nodes++] = node;
	if (tag)
		snprintf(r.connector_tags[r.nconnector_tags++],
			 sizeof(r.connector_tags[0]), "%s", tag);
	netmap_dirty_reset(&f->dirty);
	return netmap_resource_upsert(f->nm, ++f->v, &r, &f->dirty);
}

static int dirty_push(struct netmap_dirty *d, int64_t id)
{
	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 16;
		int64_t *nv = realloc(d->ids, ncap * sizeof(*nv));

		if (!nv)
			return WEFT_ERR_NOMEM;
		d->ids = nv;
		d->cap = ncap;
	}
	d->ids[d->n++] = id;
	return 0;
}

#define OK(expr) check_report((expr) == 0, __FILE__, __LINE__, "%s != 0", #expr)

/* --- compilation --- */

static void no_policy_means_no_peers_and_empty_filter(void)
{
	struct fix f;
	json_t *m;

	fix_init(&f, 8);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "bob", NULL, NULL), 0);
	CHECK_PEERS(&f, 1, "[]");
	CHECK_PEERS(&f, 2, "[]");
	m = render(&f, 1, 0);
	CHECK_JSON(json_object_get(m, "peers"), "[]");
	CHECK_JSON(json_object_get(m, "filter"), "[]");
	CHECK_JSON(json_object_get(m, "self"),
		   "{\"id\":1,\"name\":\"n1\",\"ipv4\":\"100.64.0.1\","
		   "\"ipv6\":\"fd7a:115c:a1e0::1\",\"tags\":[],"
		   "\"user\":\"alice\"}");
	CHECK_JSON(json_object_get(m, "dns"),
		   "{\"suffix\":\"weft.internal\",\"search\":true,"
		   "\"stub\":{\"ipv4\":\"100.100.100.100\",\"ipv6\":null},"
		   "\"split\":[],\"upstreams\":[],\"records\":[],"
		   "\"resources\":[]}");
	CHECK(json_is_true(json_object_get(m, "full")));
	json_decref(m);
	fix_free(&f);
}

static void group_members_peer_only_within_their_group(void)
{
	struct fix f;
	json_t *flt;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"groups\":{\"group:eng\":[\"alice\",\"bob\"],"
		"\"group:ops\":[\"carol\"]},"
		"\"acls\":[{\"action\":\"accept\",\"src\":[\"group:eng\"],"
		"\"dst\":[\"group:eng:*\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "bob", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 3, "carol", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 4, "alice", NULL, NULL), 0);
	CHECK_PEERS(&f, 1, "[2,4]");
	CHECK_PEERS(&f, 2, "[1,4]");
	CHECK_PEERS(&f, 3, "[]");
	CHECK_PEERS(&f, 4, "[1,2]");
	flt = filter_of(&f, 2);
	CHECK_JSON(flt, "[{\"proto\":\"any\",\"src\":[\"100.64.0.1/32\","
			"\"100.64.0.2/32\",\"100.64.0.4/32\","
			"\"fd7a:115c:a1e0::1/128\",\"fd7a:115c:a1e0::2/128\","
			"\"fd7a:115c:a1e0::4/128\"],\"dst\":["
			"{\"prefix\":\"self\",\"ports\":\"*\"}]}]");
	json_decref(flt);
	flt = filter_of(&f, 3);
	CHECK_JSON(flt, "[]");
	json_decref(flt);
	fix_free(&f);
}

static void tagged_node_is_not_matched_by_its_user(void)
{
	struct fix f;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"tagOwners\":{\"tag:db\":[\"alice\"]},"
		"\"acls\":[{\"action\":\"accept\",\"src\":[\"alice\"],"
		"\"dst\":[\"alice:22\"]},"
		"{\"action\":\"accept\",\"src\":[\"bob\"],"
		"\"dst\":[\"tag:db:5432\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 3, "alice", "[\"tag:db\"]", NULL), 0);
	REQUIRE_INT(add(&f, 4, "bob", NULL, NULL), 0);
	CHECK_PEERS(&f, 1, "[2]");
	CHECK_PEERS(&f, 2, "[1]");
	CHECK_PEERS(&f, 3, "[4]");
	CHECK_PEERS(&f, 4, "[3]");
	/* Retagging moves the node between identities. */
	REQUIRE_INT(add(&f, 3, "alice", NULL, NULL), 0);
	CHECK_PEERS(&f, 1, "[2,3]");
	CHECK_PEERS(&f, 3, "[1,2]");
	CHECK_PEERS(&f, 4, "[]");
	fix_free(&f);
}

static void filter_merges_ports_of_matching_selectors(void)
{
	struct fix f;
	json_t *flt;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"tagOwners\":{\"tag:db\":[\"alice\"],\"tag:web\":[\"alice\"]},"
		"\"acls\":[{\"action\":\"accept\",\"proto\":\"tcp\","
		"\"src\":[\"alice\"],"
		"\"dst\":[\"tag:db:5432,80-89\",\"tag:web:90,443\","
		"\"tag:db:22\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "alice", "[\"tag:db\",\"tag:web\"]", NULL), 0);
	REQUIRE_INT(add(&f, 3, "alice", "[\"tag:web\"]", NULL), 0);
	flt = filter_of(&f, 2);
	CHECK_JSON(flt, "[{\"proto\":\"tcp\",\"src\":[\"100.64.0.1/32\","
			"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
			"{\"prefix\":\"self\","
			"\"ports\":\"22,80-90,443,5432\"}]}]");
	json_decref(flt);
	flt = filter_of(&f, 3);
	CHECK_JSON(flt, "[{\"proto\":\"tcp\",\"src\":[\"100.64.0.1/32\","
			"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
			"{\"prefix\":\"self\",\"ports\":\"90,443\"}]}]");
	json_decref(flt);
	CHECK_PEERS(&f, 1, "[2,3]");
	fix_free(&f);
}

static void subnet_router_is_peer_for_hosts_it_routes(void)
{
	static const char *const lab[] = {"10.1.0.0/24", NULL};
	static const char *const other[] = {"10.9.0.0/24", NULL};
	struct fix f;
	json_t *m, *flt;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"tagOwners\":{\"tag:router\":[\"alice\"]},"
		"\"hosts\":{\"lab\":\"10.1.0.0/16\"},"
		"\"acls\":[{\"action\":\"accept\",\"proto\":\"tcp\","
		"\"src\":[\"alice\"],\"dst\":[\"host:lab:22\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "alice", "[\"tag:router\"]", lab), 0);
	REQUIRE_INT(add(&f, 3, "alice", "[\"tag:router\"]", other), 0);
	CHECK_PEERS(&f, 1, "[2]");
	CHECK_PEERS(&f, 2, "[1]");
	CHECK_PEERS(&f, 3, "[]");
	flt = filter_of(&f, 2);
	CHECK_JSON(flt, "[{\"proto\":\"tcp\",\"src\":[\"100.64.0.1/32\","
			"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
			"{\"prefix\":\"10.1.0.0/24\",\"ports\":\"22\"}]}]");
	json_decref(flt);
	m = render(&f, 1, 0);
	CHECK_JSON(json_object_get(peer_in(m, 2), "allowed_ips"),
		   "[\"10.1.0.0/24\",\"100.64.0.2/32\","
		   "\"fd7a:115c:a1e0::2/128\"]");
	CHECK_JSON(json_object_get(m, "filter"), "[]");
	json_decref(m);
	/* The router routes nothing towards the client: no extra prefixes. */
	m = render(&f, 2, 0);
	CHECK_JSON(json_object_get(peer_in(m, 1), "allowed_ips"),
		   "[\"100.64.0.1/32\",\"fd7a:115c:a1e0::1/128\"]");
	json_decref(m);
	fix_free(&f);
}

static void resource_via_connector_node_is_peer_and_enforced(void)
{
	struct fix f;
	json_t *m, *flt;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"acls\":[{\"action\":\"accept\",\"proto\":\"tcp\","
		"\"src\":[\"alice\"],\"dst\":[\"resource:wiki:443\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "bob", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 3, "bob", NULL, NULL), 0);
	CHECK_PEERS(&f, 1, "[]");
	REQUIRE_INT(set_resource(&f, 7, "wiki", "10.5.0.10", 2, NULL), 0);
	CHECK(dirty_has(&f.dirty, 1));
	CHECK(dirty_has(&f.dirty, 2));
	CHECK(!dirty_has(&f.dirty, 3));
	CHECK_PEERS(&f, 1, "[2]");
	CHECK_PEERS(&f, 2, "[1]");
	CHECK_PEERS(&f, 3, "[]");
	flt = filter_of(&f, 2);
	CHECK_JSON(flt, "[{\"proto\":\"tcp\",\"src\":[\"100.64.0.1/32\","
			"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
			"{\"prefix\":\"10.5.0.10/32\",\"ports\":\"443\"}]}]");
	json_decref(flt);
	m = render(&f, 1, 0);
	CHECK_JSON(json_object_get(peer_in(m, 2), "allowed_ips"),
		   "[\"10.5.0.10/32\",\"100.64.0.2/32\","
		   "\"fd7a:115c:a1e0::2/128\"]");
	CHECK_JSON(json_object_get(json_object_get(m, "dns"), "resources"),
		   "[{\"name\":\"wiki\",\"address\":\"10.5.0.10\"}]");
	json_decref(m);
	/* Bob may not reach the wiki: no DNS entry for it. */
	m = render(&f, 3, 0);
	CHECK_JSON(json_object_get(json_object_get(m, "dns"), "resources"),
		   "[]");
	json_decref(m);
	/* Moving the resource to another connector moves the peer. */
	REQUIRE_INT(set_resource(&f, 7, "wiki", "10.5.0.10", 3, NULL), 0);
	CHECK_PEERS(&f, 1, "[3]");
	CHECK_PEERS(&f, 2, "[]");
	REQUIRE_INT(netmap_resource_remove(f.nm, ++f.v, 7, &f.dirty), 0);
	CHECK_PEERS(&f, 1, "[]");
	CHECK_PEERS(&f, 3, "[]");
	fix_free(&f);
}

static void resource_via_connector_tag_uses_every_tagged_node(void)
{
	struct fix f;
	json_t *flt;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"tagOwners\":{\"tag:conn\":[\"alice\"]},"
		"\"acls\":[{\"action\":\"accept\",\"proto\":\"tcp\","
		"\"src\":[\"alice\"],\"dst\":[\"resource:net:*\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "alice", "[\"tag:conn\"]", NULL), 0);
	REQUIRE_INT(add(&f, 3, "alice", "[\"tag:conn\"]", NULL), 0);
	REQUIRE_INT(add(&f, 4, "alice", "[\"tag:other\"]", NULL), 0);
	REQUIRE_INT(set_resource(&f, 9, "net", "10.8.0.0/16", 0, "tag:conn"), 0);
	CHECK_PEERS(&f, 1, "[2,3]");
	CHECK_PEERS(&f, 2, "[1]");
	CHECK_PEERS(&f, 4, "[]");
	flt = filter_of(&f, 3);
	CHECK_JSON(flt, "[{\"proto\":\"tcp\",\"src\":[\"100.64.0.1/32\","
			"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
			"{\"prefix\":\"10.8.0.0/16\",\"ports\":\"*\"}]}]");
	json_decref(flt);
	/* A node that gains the tag becomes a connector incrementally. */
	REQUIRE_INT(add(&f, 4, "alice", "[\"tag:conn\"]", NULL), 0);
	CHECK_PEERS(&f, 1, "[2,3,4]");
	CHECK(dirty_has(&f.dirty, 1));
	fix_free(&f);
}

static void filter_is_directional(void)
{
	struct fix f;
	json_t *flt;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"acls\":[{\"action\":\"accept\",\"proto\":\"tcp\","
		"\"src\":[\"node:n1\"],\"dst\":[\"node:n2:80\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "bob", NULL, NULL), 0);
	CHECK_PEERS(&f, 1, "[2]");
	CHECK_PEERS(&f, 2, "[1]");
	flt = filter_of(&f, 2);
	CHECK_JSON(flt, "[{\"proto\":\"tcp\",\"src\":[\"100.64.0.1/32\","
			"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
			"{\"prefix\":\"self\",\"ports\":\"80\"}]}]");
	json_decref(flt);
	flt = filter_of(&f, 1);
	CHECK_JSON(flt, "[]");
	json_decref(flt);
	fix_free(&f);
}

static void peer_relation_is_symmetric(void)
{
	struct fix f;

	rng_state = 0x9e3779b97f4a7c15ULL;
	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"groups\":{\"group:a\":[\"u0\",\"u1\"]},"
		"\"tagOwners\":{\"tag:x\":[\"u0\"],\"tag:y\":[\"u0\"]},"
		"\"acls\":[{\"action\":\"accept\",\"src\":[\"group:a\"],"
		"\"dst\":[\"tag:x:22\"]},"
		"{\"action\":\"accept\",\"src\":[\"tag:y\"],"
		"\"dst\":[\"u2:*\"]}]}"), 0);
	for (int64_t id = 1; id <= 40; id++) {
		static const char *const tags[] = {NULL, "[\"tag:x\"]",
						   "[\"tag:y\"]"};
		char user[8];

		snprintf(user, sizeof(user), "u%u", pick(3));
		REQUIRE_INT(add(&f, id, user, tags[pick(3)], NULL), 0);
	}
	for (int64_t a = 1; a <= 40; a++) {
		int64_t *ids = NULL;
		size_t n = 0;

		REQUIRE_INT(netmap_peers(f.nm, a, &ids, &n), 0);
		for (size_t i = 0; i < n; i++) {
			int64_t *back = NULL;
			size_t nb = 0;
			bool found = false;

			CHECK(ids[i] != a);
			CHECK_INT(netmap_peers(f.nm, ids[i], &back, &nb), 0);
			for (size_t k = 0; k < nb; k++)
				found |= back[k] == a;
			CHECK(found);
			free(back);
		}
		free(ids);
	}
	fix_free(&f);
}

/* --- deltas --- */

static void online_change_dirties_only_peers_with_just_that_peer(void)
{
	struct fix f;
	struct netmap_node n;
	json_t *d;
	int64_t since;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"groups\":{\"group:a\":[\"alice\"],\"group:b\":[\"bob\"]},"
		"\"acls\":[{\"action\":\"accept\",\"src\":[\"group:a\"],"
		"\"dst\":[\"group:a:*\"]},{\"action\":\"accept\","
		"\"src\":[\"group:b\"],\"dst\":[\"group:b:*\"]}]}"), 0);
	for (int64_t id = 1; id <= 6; id++)
		REQUIRE_INT(add(&f, id, id <= 3 ? "alice" : "bob", NULL, NULL), 0);
	since = netmap_node_version(f.nm, 2);
	n = mknode(1, "alice", NULL, NULL);
	n.node.online = 0;
	REQUIRE_INT(upsert(&f, &n), 0);
	CHECK_INT(f.dirty.n, 2);
	CHECK(dirty_has(&f.dirty, 2));
	CHECK(dirty_has(&f.dirty, 3));
	CHECK(!dirty_has(&f.dirty, 1));
	CHECK(netmap_node_version(f.nm, 2) > since);
	d = render(&f, 2, since);
	REQUIRE(d);
	CHECK(json_is_false(json_object_get(d, "full")));
	CHECK_INT(json_array_size(json_object_get(d, "peers")), 1);
	CHECK_INT(json_integer_value(json_object_get(
		json_array_get(json_object_get(d, "peers"), 0), "id")), 1);
	CHECK(json_is_false(json_object_get(json_array_get(
		json_object_get(d, "peers"), 0), "online")));
	CHECK(!json_object_get(d, "filter"));
	CHECK(!json_object_get(d, "self"));
	CHECK(!json_object_get(d, "dns"));
	CHECK(!json_object_get(d, "relays"));
	CHECK(!json_object_get(d, "peers_removed"));
	json_decref(d);
	/* Nothing changed since the current version: an empty delta. */
	d = render(&f, 2, netmap_node_version(f.nm, 2));
	CHECK_INT(json_object_size(d), 2);
	json_decref(d);
	fix_free(&f);
}

static void removed_node_appears_in_peers_removed(void)
{
	struct fix f;
	json_t *d;
	int64_t since;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"acls\":[{\"action\":\"accept\",\"src\":[\"*\"],"
		"\"dst\":[\"*:*\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "bob", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 3, "carol", NULL, NULL), 0);
	since = netmap_node_version(f.nm, 1);
	netmap_dirty_reset(&f.dirty);
	REQUIRE_INT(netmap_node_remove(f.nm, ++f.v, 3, &f.dirty), 0);
	CHECK(dirty_has(&f.dirty, 1));
	CHECK(dirty_has(&f.dirty, 2));
	/* The removed node itself is reported so its long-poll ends. */
	CHECK(dirty_has(&f.dirty, 3));
	CHECK(!netmap_has_node(f.nm, 3));
	CHECK_PEERS(&f, 1, "[2]");
	d = render(&f, 1, since);
	REQUIRE(d);
	CHECK(json_is_false(json_object_get(d, "full")));
	CHECK_JSON(json_object_get(d, "peers_removed"), "[3]");
	CHECK(!json_object_get(d, "peers"));
	/* Node 1's filter no longer lists node 3's addresses. */
	CHECK_JSON(json_object_get(d, "filter"),
		   "[{\"proto\":\"any\",\"src\":[\"100.64.0.1/32\","
		   "\"100.64.0.2/32\",\"fd7a:115c:a1e0::1/128\","
		   "\"fd7a:115c:a1e0::2/128\"],\"dst\":["
		   "{\"prefix\":\"self\",\"ports\":\"*\"}]}]");
	json_decref(d);
	fix_free(&f);
}

static void map_version_never_decreases(void)
{
	struct fix f;
	struct netmap_node n;
	int64_t last = 0;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"acls\":[{\"action\":\"accept\",\"src\":[\"*\"],"
		"\"dst\":[\"*:*\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	for (int64_t id = 2; id <= 10; id++) {
		int64_t v;

		REQUIRE_INT(add(&f, id, "bob", NULL, NULL), 0);
		n = mknode(id, "bob", NULL, NULL);
		n.node.last_seen = id;
		REQUIRE_INT(upsert(&f, &n), 0);
		v = netmap_node_version(f.nm, 1);
		CHECK(v > last);
		CHECK_INT(v, f.v);
		last = v;
		if (id % 3 == 0) {
			REQUIRE_INT(netmap_node_remove(f.nm, ++f.v, id,
						       &f.dirty), 0);
			CHECK(netmap_node_version(f.nm, 1) > last);
			last = netmap_node_version(f.nm, 1);
		}
	}
	/* Changes must come in version order. */
	n = mknode(1, "alice", NULL, NULL);
	CHECK_INT(netmap_node_upsert(f.nm, f.v - 1, &n, &f.dirty),
		  WEFT_ERR_INVAL);
	fix_free(&f);
}

static void delta_older_than_horizon_is_full_map(void)
{
	struct fix f;
	json_t *d;
	int64_t since;

	fix_init(&f, 2);
	REQUIRE_INT(set_policy(&f,
		"{\"acls\":[{\"action\":\"accept\",\"src\":[\"*\"],"
		"\"dst\":[\"*:*\"]}]}"), 0);
	for (int64_t id = 1; id <= 5; id++)
		REQUIRE_INT(add(&f, id, "alice", NULL, NULL), 0);
	since = netmap_node_version(f.nm, 1);
	netmap_dirty_reset(&f.dirty);
	REQUIRE_INT(netmap_node_remove(f.nm, ++f.v, 2, &f.dirty), 0);
	REQUIRE_INT(netmap_node_remove(f.nm, ++f.v, 3, &f.dirty), 0);
	/* Two tombstones fit: still a delta. */
	d = render(&f, 1, since);
	CHECK(json_is_false(json_object_get(d, "full")));
	CHECK_JSON(json_object_get(d, "peers_removed"), "[2,3]");
	json_decref(d);
	REQUIRE_INT(netmap_node_remove(f.nm, ++f.v, 4, &f.dirty), 0);
	/* The tombstone of 2 is gone: a client at since must start over. */
	d = render(&f, 1, since);
	CHECK(json_is_true(json_object_get(d, "full")));
	CHECK(!json_object_get(d, "peers_removed"));
	CHECK_INT(json_array_size(json_object_get(d, "peers")), 1);
	json_decref(d);
	/* A client that saw the removal of 2 still gets a delta. */
	d = render(&f, 1, since + 1);
	CHECK(json_is_false(json_object_get(d, "full")));
	CHECK_JSON(json_object_get(d, "peers_removed"), "[3,4]");
	json_decref(d);
	fix_free(&f);
}

/* A client's copy of its map: peers keyed by id. */
static json_t *client_from_full(const json_t *full)
{
	json_t *c = json_deep_copy(full), *peers = json_object();
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(full, "peers"), i, p) {
		char key[32];

		snprintf(key, sizeof(key), "%lld",
			 (long long)json_integer_value(json_object_get(p, "id")));
		json_object_set(peers, key, p);
	}
	json_object_set_new(c, "peers", peers);
	json_object_del(c, "full");
	return c;
}

static void client_apply(json_t **client, const json_t *delta)
{
	static const char *const parts[] = {"self", "filter", "dns", "relays",
					    "resources", "serves"};
	json_t *peers;
	size_t i;
	json_t *p;

	if (json_is_true(json_object_get(delta, "full")) || !*client) {
		json_decref(*client);
		*client = client_from_full(delta);
		return;
	}
	peers = json_object_get(*client, "peers");
	json_array_foreach(json_object_get(delta, "peers_removed"), i, p) {
		char key[32];

		snprintf(key, sizeof(key), "%lld",
			 (long long)json_integer_value(p));
		json_object_del(peers, key);
	}
	json_array_foreach(json_object_get(delta, "peers"), i, p) {
		char key[32];

		snprintf(key, sizeof(key), "%lld",
			 (long long)json_integer_value(json_object_get(p, "id")));
		json_object_set(peers, key, p);
	}
	for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
		json_t *v = json_object_get(delta, parts[k]);

		if (v)
			json_object_set(*client, parts[k], v);
	}
	json_object_set(*client, "version", json_object_get(delta, "version"));
}

#define NODES_MAX 64

static const char *const policy_a =
	"{\"groups\":{\"group:a\":[\"u0\",\"u1\"],\"group:b\":[\"u2\",\"u3\"],"
	"\"group:c\":[\"u4\",\"node:n7\"]},"
	"\"tagOwners\":{\"tag:db\":[\"u0\"],\"tag:web\":[\"u0\"],"
	"\"tag:conn\":[\"u0\"]},"
	"\"hosts\":{\"lab\":\"10.1.0.0/16\"},"
	"\"acls\":["
	"{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"group:a\"],"
	"\"dst\":[\"tag:db:5432\"]},"
	"{\"action\":\"accept\",\"src\":[\"group:b\"],\"dst\":[\"group:b:*\"]},"
	"{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"tag:web\"],"
	"\"dst\":[\"tag:db:5432,6432\"]},"
	"{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"group:c\"],"
	"\"dst\":[\"host:lab:22\"]},"
	"{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"u0\","
	"\"192.168.7.0/24\"],\"dst\":[\"resource:wiki:443\","
	"\"resource:docs:80\"]}]}";

static const char *const policy_b =
	"{\"groups\":{\"group:a\":[\"u0\",\"u3\"]},"
	"\"tagOwners\":{\"tag:db\":[\"u0\"],\"tag:web\":[\"u0\"],"
	"\"tag:conn\":[\"u0\"]},"
	"\"acls\":["
	"{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"*\"],"
	"\"dst\":[\"tag:web:80,443\"]},"
	"{\"action\":\"accept\",\"src\":[\"tag:db\"],\"dst\":[\"u4:*\"]},"
	"{\"action\":\"accept\",\"src\":[\"group:a\"],"
	"\"dst\":[\"10.1.2.0/24:*\",\"resource:wiki:*\"]}]}";

static struct netmap_node random_node(int64_t id)
{
	static const char *const tags[] = {
		NULL, NULL, NULL, "[\"tag:db\"]", "[\"tag:web\"]",
		"[\"tag:conn\"]", "[\"tag:db\",\"tag:web\"]"};
	static const char *const r1[] = {"10.1.0.0/24", NULL};
	static const char *const r2[] = {"10.1.2.0/24", "10.7.0.0/16", NULL};
	static const char *const *const routes[] = {NULL, NULL, NULL, r1, r2};
	static char users[5][4] = {"u0", "u1", "u2", "u3", "u4"};
	struct netmap_node n = mknode(id, users[pick(5)], tags[pick(7)],
				      routes[pick(5)]);

	n.node.online = (int)pick(2);
	return n;
}

static void deltas_applied_to_full_map_equal_fresh_full_map(void)
{
	struct fix f;
	struct netmap_node nodes[NODES_MAX + 1];
	bool live[NODES_MAX + 1] = {false};
	json_t *client[NODES_MAX + 1] = {NULL};
	int64_t seen[NODES_MAX + 1] = {0};
	int polls = 0, deltas = 0;

	rng_state = 0x2545f4914f6cdd1dULL;
	fix_init(&f, 4);
	REQUIRE_INT(set_policy(&f, policy_a), 0);
	for (int64_t id = 1; id <= 30; id++) {
		nodes[id] = random_node(id);
		REQUIRE_INT(upsert(&f, &nodes[id]), 0);
		live[id] = true;
	}
	for (int step = 0; step <= 100; step++) {
		int64_t before[NODES_MAX + 1];
		struct netmap_dirty all = {0};
		unsigned batch = 1 + pick(3);

		for (int64_t id = 1; id <= NODES_MAX; id++)
			before[id] = live[id] ?
				netmap_node_version(f.nm, id) : 0;
		for (unsigned b = 0; step < 100 && b < batch; b++) {
			int64_t id = 1 + pick(NODES_MAX);
			unsigned what = pick(11);
			int rc = 0;

			netmap_dirty_reset(&f.dirty);
			if (!live[id] || what == 0) {
				if (live[id]) {
					rc = netmap_node_remove(f.nm, ++f.v,
								id, &f.dirty);
					live[id] = false;
					json_decref(client[id]);
					client[id] = NULL;
				} else {
					nodes[id] = random_node(id);
					rc = netmap_node_upsert(f.nm, ++f.v,
						&nodes[id], &f.dirty);
					live[id] = true;
				}
			} else if (what == 1) {
				struct netmap_node n = random_node(id);

				/* Retag / new owner / new routes. */
				nodes[id].approved_routes = n.approved_routes;
				nodes[id].napproved = n.napproved;
				memcpy(nodes[id].node.tags, n.node.tags,
				       sizeof(n.node.tags));
				memcpy(nodes[id].user, n.user, sizeof(n.user));
				if (pick(2))
					snprintf(nodes[id].node.ipv4,
						 sizeof(nodes[id].node.ipv4),
						 "100.66.%u.%lld", pick(200),
						 (long long)id);
				rc = netmap_node_upsert(f.nm, ++f.v,
							&nodes[id], &f.dirty);
			} else if (what <= 3) {
				nodes[id].node.online ^= 1;
				rc = netmap_node_upsert(f.nm, ++f.v,
							&nodes[id], &f.dirty);
			} else if (what <= 5) {
				snprintf(nodes[id].node.endpoints,
					 sizeof(nodes[id].node.endpoints),
					 "[\"198.51.100.%u:%u\"]", pick(250),
					 1024 + pick(60000));
				rc = netmap_node_upsert(f.nm, ++f.v,
							&nodes[id], &f.dirty);
			} else if (what == 6) {
				struct policy *p = NULL;
				const char *doc = pick(2) ? policy_a : policy_b;

				REQUIRE_INT(policy_parse(doc, strlen(doc),
							 NULL, &p, NULL), 0);
				rc = netmap_policy_set(f.nm, ++f.v, p,
						       &f.dirty);
			} else if (what == 7) {
				bool docs = pick(2);
				struct netmap_resource r;

				random_resource_of(&r, docs ? 2 : 1,
						   docs ? "docs" : "wiki",
						   NODES_MAX);
				rc = netmap_resource_upsert(f.nm, ++f.v, &r,
							    &f.dirty);
			} else if (what == 8) {
				rc = netmap_resource_remove(f.nm, ++f.v,
							    1 + pick(2),
							    &f.dirty);
			} else if (what == 10) {
				/* Renumber: new mesh addresses. */
				snprintf(nodes[id].node.ipv4,
					 sizeof(nodes[id].node.ipv4),
					 "100.65.%u.%lld", pick(200),
					 (long long)id);
				rc = netmap_node_upsert(f.nm, ++f.v,
							&nodes[id], &f.dirty);
			} else {
				struct netmap_relay rl[2];

				memset(rl, 0, sizeof(rl));
				rl[0].id = 1 + pick(3);
				snprintf(rl[0].name, sizeof(rl[0].name), "r1");
				snprintf(rl[0].address, sizeof(rl[0].address),
					 "relay%u.example:443", pick(5));
				rl[1].id = 10;
				rc = netmap_relays_set(f.nm, ++f.v, rl,
						       1 + pick(2), &f.dirty);
			}
			REQUIRE_INT(rc, 0);
			for (size_t k = 0; k < f.dirty.n; k++) {
				bool dup = false;

				for (size_t j = 0; j < k; j++)
					dup |= f.dirty.ids[j] == f.dirty.ids[k];
				CHECK(!dup);
				REQUIRE_INT(dirty_push(&all,
							       f.dirty.ids[k]),
					    0);
			}
		}
		/* Nodes not reported dirty kept their version. */
		for (int64_t id = 1; id <= NODES_MAX; id++) {
			bool was_dirty = false;

			if (!live[id] || !before[id])
				continue;
			for (size_t k = 0; k < all.n; k++)
				was_dirty |= all.ids[k] == id;
			if (!was_dirty)
				CHECK_INT(netmap_node_version(f.nm, id),
					  before[id]);
			else
				CHECK(netmap_node_version(f.nm, id) >=
				      before[id]);
		}
		netmap_dirty_free(&all);
		/* Some clients poll now, the rest later (multi-step deltas,
		 * some beyond the horizon); everybody polls at the end. */
		for (int64_t id = 1; id <= NODES_MAX; id++) {
			json_t *d, *fresh, *want;
			char *a, *b;

			if (!live[id] || (step < 100 && pick(3) == 0))
				continue;
			d = render(&f, id, client[id] ? seen[id] : 0);
			REQUIRE(d);
			polls++;
			deltas += json_is_false(json_object_get(d, "full"));
			CHECK_INT(json_integer_value(json_object_get(d,
				  "version")), netmap_node_version(f.nm, id));
			client_apply(&client[id], d);
			seen[id] = json_integer_value(json_object_get(d,
								      "version"));
			json_decref(d);
			fresh = render(&f, id, 0);
			REQUIRE(fresh);
			want = client_from_full(fresh);
			a = json_dumps(client[id], JSON_COMPACT | JSON_SORT_KEYS);
			b = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
			if (!check_report(a && b && strcmp(a, b) == 0, __FILE__,
					  __LINE__, "step %d node %lld:\n  "
					  "applied %s\n  fresh   %s", step,
					  (long long)id, a, b)) {
				free(a);
				free(b);
				json_decref(fresh);
				json_decref(want);
				goto out;
			}
			free(a);
			free(b);
			json_decref(fresh);
			json_decref(want);
		}
	}
	/* The walk must have exercised deltas, not only full maps. */
	CHECK(deltas > polls / 2);
out:
	for (int64_t id = 0; id <= NODES_MAX; id++)
		json_decref(client[id]);
	fix_free(&f);
}

/* Polls id's delta since *seen into *client and checks it against a
 * fresh full map. */
static void poll_and_compare(struct fix *f, int64_t id, json_t **client,
			     int64_t *seen)
{
	json_t *d = render(f, id, *seen), *fresh = render(f, id, 0), *want;
	char *a, *b;

	if (!d || !fresh) {
		json_decref(d);
		json_decref(fresh);
		return;
	}
	client_apply(client, d);
	*seen = json_integer_value(json_object_get(d, "version"));
	want = client_from_full(fresh);
	a = json_dumps(*client, JSON_COMPACT | JSON_SORT_KEYS);
	b = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
	check_report(a && b && strcmp(a, b) == 0, __FILE__, __LINE__,
		     "node %lld:\n  applied %s\n  fresh   %s", (long long)id,
		     a, b);
	free(a);
	free(b);
	json_decref(d);
	json_decref(fresh);
	json_decref(want);
}

static void router_allowed_ips_follow_what_the_node_may_reach(void)
{
	static const char *const lab[] = {"10.1.0.0/24", NULL};
	struct fix f;
	json_t *client = NULL, *m;
	int64_t seen = 0;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"groups\":{\"group:lab\":[\"u3\"]},"
		"\"hosts\":{\"lab\":\"10.1.0.0/16\"},"
		"\"acls\":[{\"action\":\"accept\",\"src\":[\"*\"],"
		"\"dst\":[\"*:*\"]},{\"action\":\"accept\","
		"\"src\":[\"group:lab\"],\"dst\":[\"host:lab:22\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "u2", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "u1", NULL, lab), 0);
	poll_and_compare(&f, 1, &client, &seen);
	CHECK_JSON(json_object_get(json_object_get(json_object_get(client,
		   "peers"), "2"), "allowed_ips"),
		   "[\"100.64.0.2/32\",\"fd7a:115c:a1e0::2/128\"]");
	/* Node 1 joins group:lab: the router's entry now routes the lab,
	 * although the router itself did not change. */
	REQUIRE_INT(add(&f, 1, "u3", NULL, NULL), 0);
	m = render(&f, 1, seen);
	CHECK(peer_in(m, 2) != NULL);
	json_decref(m);
	poll_and_compare(&f, 1, &client, &seen);
	CHECK_JSON(json_object_get(json_object_get(json_object_get(client,
		   "peers"), "2"), "allowed_ips"),
		   "[\"10.1.0.0/24\",\"100.64.0.2/32\","
		   "\"fd7a:115c:a1e0::2/128\"]");
	json_decref(client);
	fix_free(&f);
}

static void renumbered_node_updates_filters_of_its_receivers(void)
{
	struct fix f;
	struct netmap_node n;
	json_t *client = NULL, *flt;
	int64_t seen = 0;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"acls\":[{\"action\":\"accept\",\"proto\":\"udp\","
		"\"src\":[\"node:n1\"],\"dst\":[\"node:n2:53\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "bob", NULL, NULL), 0);
	poll_and_compare(&f, 2, &client, &seen);
	n = mknode(1, "alice", NULL, NULL);
	snprintf(n.node.ipv4, sizeof(n.node.ipv4), "100.64.9.9");
	REQUIRE_INT(upsert(&f, &n), 0);
	CHECK(dirty_has(&f.dirty, 2));
	poll_and_compare(&f, 2, &client, &seen);
	flt = filter_of(&f, 2);
	CHECK_JSON(flt, "[{\"proto\":\"udp\",\"src\":[\"100.64.9.9/32\","
			"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
			"{\"prefix\":\"self\",\"ports\":\"53\"}]}]");
	json_decref(flt);
	/* The receiver's own addresses are "self" in its filter: renumbering
	 * it changes its self part, not its filter. */
	n = mknode(2, "bob", NULL, NULL);
	snprintf(n.node.ipv4, sizeof(n.node.ipv4), "100.64.9.10");
	REQUIRE_INT(upsert(&f, &n), 0);
	{
		json_t *d = render(&f, 2, seen);

		REQUIRE(d);
		CHECK(json_object_get(d, "self"));
		CHECK(!json_object_get(d, "filter"));
		json_decref(d);
	}
	poll_and_compare(&f, 2, &client, &seen);
	/* Without addresses a node admits nothing; with its first one back
	 * its filter returns. */
	n = mknode(2, "bob", NULL, NULL);
	n.node.ipv4[0] = n.node.ipv6[0] = '\0';
	REQUIRE_INT(upsert(&f, &n), 0);
	poll_and_compare(&f, 2, &client, &seen);
	flt = filter_of(&f, 2);
	CHECK_JSON(flt, "[]");
	json_decref(flt);
	n = mknode(2, "bob", NULL, NULL);
	n.node.ipv4[0] = '\0';
	REQUIRE_INT(upsert(&f, &n), 0);
	poll_and_compare(&f, 2, &client, &seen);
	flt = filter_of(&f, 2);
	CHECK_JSON(flt, "[{\"proto\":\"udp\",\"src\":[\"100.64.9.9/32\","
			"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
			"{\"prefix\":\"self\",\"ports\":\"53\"}]}]");
	json_decref(flt);
	json_decref(client);
	fix_free(&f);
}

static void readded_peer_is_not_in_peers_removed(void)
{
	struct fix f;
	json_t *d;
	int64_t since;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"tagOwners\":{\"tag:x\":[\"alice\"]},"
		"\"acls\":[{\"action\":\"accept\",\"src\":[\"alice\"],"
		"\"dst\":[\"alice:*\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "alice", NULL, NULL), 0);
	since = netmap_node_version(f.nm, 1);
	REQUIRE_INT(add(&f, 2, "alice", "[\"tag:x\"]", NULL), 0);
	CHECK_PEERS(&f, 1, "[]");
	d = render(&f, 1, since);
	CHECK_JSON(json_object_get(d, "peers_removed"), "[2]");
	json_decref(d);
	REQUIRE_INT(add(&f, 2, "alice", NULL, NULL), 0);
	CHECK_PEERS(&f, 1, "[2]");
	d = render(&f, 1, since);
	CHECK(!json_object_get(d, "peers_removed"));
	CHECK(peer_in(d, 2) != NULL);
	json_decref(d);
	fix_free(&f);
}

static void resource_address_change_reaches_clients_as_delta(void)
{
	struct fix f;
	json_t *client = NULL;
	int64_t seen = 0;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"acls\":[{\"action\":\"accept\",\"proto\":\"tcp\","
		"\"src\":[\"alice\"],\"dst\":[\"resource:wiki:443\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "bob", NULL, NULL), 0);
	REQUIRE_INT(set_resource(&f, 7, "wiki", "10.5.0.10", 2, NULL), 0);
	poll_and_compare(&f, 1, &client, &seen);
	REQUIRE_INT(set_resource(&f, 7, "wiki", "10.5.0.0/28", 2, NULL), 0);
	CHECK(dirty_has(&f.dirty, 1));
	CHECK(dirty_has(&f.dirty, 2));
	poll_and_compare(&f, 1, &client, &seen);
	CHECK_JSON(json_object_get(json_object_get(json_object_get(client,
		   "peers"), "2"), "allowed_ips"),
		   "[\"10.5.0.0/28\",\"100.64.0.2/32\","
		   "\"fd7a:115c:a1e0::2/128\"]");
	CHECK_JSON(json_object_get(json_object_get(client, "dns"),
				   "resources"),
		   "[{\"name\":\"wiki\",\"address\":\"10.5.0.0/28\"}]");
	json_decref(client);
	fix_free(&f);
}

/* Peer and self entries follow the REST node object: ids are integers,
 * timestamps RFC 3339 UTC text or null, empty optional strings null. */
static void peer_entry_uses_the_rest_api_conventions(void)
{
	struct fix f;
	struct netmap_node n;
	json_t *m, *d;
	int64_t since;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"acls\":[{\"action\":\"accept\",\"src\":[\"*\"],"
		"\"dst\":[\"*:*\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	n = mknode(2, "bob", NULL, NULL);
	n.node.last_seen = 1700000100;
	REQUIRE_INT(upsert(&f, &n), 0);
	m = render(&f, 1, 0);
	CHECK_JSON(peer_in(m, 2),
		   "{\"id\":2,\"name\":\"n2\","
		   "\"dns_name\":\"n2.weft.internal\","
		   "\"public_key\":\"key-2\",\"ipv4\":\"100.64.0.2\","
		   "\"ipv6\":\"fd7a:115c:a1e0::2\","
		   "\"allowed_ips\":[\"100.64.0.2/32\","
		   "\"fd7a:115c:a1e0::2/128\"],"
		   "\"endpoints\":[\"192.0.2.2:41641\"],"
		   "\"home_relay\":\"r1\",\"online\":true,"
		   "\"last_seen\":\"2023-11-14T22:15:00Z\","
		   "\"tags\":[],\"user\":\"bob\"}");
	CHECK_JSON(json_object_get(m, "self"),
		   "{\"id\":1,\"name\":\"n1\",\"ipv4\":\"100.64.0.1\","
		   "\"ipv6\":\"fd7a:115c:a1e0::1\",\"tags\":[],"
		   "\"user\":\"alice\"}");
	json_decref(m);
	/* Never seen, no home relay, no IPv6, tagged: all null. */
	since = netmap_node_version(f.nm, 1);
	n = mknode(2, "bob", "[\"tag:db\"]", NULL);
	n.node.last_seen = 0;
	n.node.home_relay[0] = '\0';
	n.node.ipv6[0] = '\0';
	n.node.online = 0;
	REQUIRE_INT(upsert(&f, &n), 0);
	d = render(&f, 1, since);
	CHECK_JSON(peer_in(d, 2),
		   "{\"id\":2,\"name\":\"n2\","
		   "\"dns_name\":\"n2.weft.internal\","
		   "\"public_key\":\"key-2\",\"ipv4\":\"100.64.0.2\","
		   "\"ipv6\":null,\"allowed_ips\":[\"100.64.0.2/32\"],"
		   "\"endpoints\":[\"192.0.2.2:41641\"],"
		   "\"home_relay\":null,\"online\":false,"
		   "\"last_seen\":null,\"tags\":[\"tag:db\"],\"user\":null}");
	json_decref(d);
	m = render(&f, 2, 0);
	CHECK_JSON(json_object_get(m, "self"),
		   "{\"id\":2,\"name\":\"n2\",\"ipv4\":\"100.64.0.2\","
		   "\"ipv6\":null,\"tags\":[\"tag:db\"],\"user\":null}");
	json_decref(m);
	fix_free(&f);
}

/* Like the REST relay object, a relay without a pin has a null pin. */
static void relay_without_pin_has_null_pin(void)
{
	struct fix f;
	struct netmap_relay rl[2];
	json_t *m;

	fix_init(&f, 8);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	memset(rl, 0, sizeof(rl));
	rl[0].id = 3;
	snprintf(rl[0].name, sizeof(rl[0].name), "fra");
	snprintf(rl[0].region, sizeof(rl[0].region), "eu");
	snprintf(rl[0].address, sizeof(rl[0].address), "fra.example:443");
	rl[1] = rl[0];
	rl[1].id = 2;
	snprintf(rl[1].name, sizeof(rl[1].name), "ams");
	snprintf(rl[1].public_key_pin, sizeof(rl[1].public_key_pin),
		 "sha256/abc");
	REQUIRE_INT(netmap_relays_set(f.nm, ++f.v, rl, 2, &f.dirty), 0);
	m = render(&f, 1, 0);
	CHECK_JSON(json_object_get(m, "relays"),
		   "[{\"id\":2,\"name\":\"ams\",\"region\":\"eu\","
		   "\"address\":\"fra.example:443\","
		   "\"public_key_pin\":\"sha256/abc\"},"
		   "{\"id\":3,\"name\":\"fra\",\"region\":\"eu\","
		   "\"address\":\"fra.example:443\","
		   "\"public_key_pin\":null}]");
	json_decref(m);
	fix_free(&f);
}

static void online_flip_in_2000_nodes_dirties_only_its_peers(void)
{
	char *doc = malloc(64 * 1024);
	size_t len = 0;
	struct fix f;
	struct netmap_node n;
	int64_t *peers = NULL;
	size_t npeers = 0;

	REQUIRE(doc);
	len += (size_t)sprintf(doc + len, "{\"groups\":{");
	for (int g = 0; g < 20; g++)
		len += (size_t)sprintf(doc + len, "%s\"group:g%d\":[\"u%d\"]",
				       g ? "," : "", g, g);
	len += (size_t)sprintf(doc + len, "},\"acls\":[");
	for (int g = 0; g < 20; g++)
		len += (size_t)sprintf(doc + len,
				       "%s{\"action\":\"accept\","
				       "\"src\":[\"group:g%d\"],"
				       "\"dst\":[\"group:g%d:*\"]}",
				       g ? "," : "", g, g);
	sprintf(doc + len, "]}");
	fix_init(&f, 16);
	if (!OK(set_policy(&f, doc)))
		goto out;
	for (int64_t id = 1; id <= 2000; id++) {
		char user[8];

		snprintf(user, sizeof(user), "u%lld", (long long)(id % 20));
		if (!OK(add(&f, id, user, NULL, NULL)))
			goto out;
	}
	n = mknode(20, "u0", NULL, NULL);
	n.node.online = 0;
	if (!OK(upsert(&f, &n)))
		goto out;
	CHECK_INT(f.dirty.n, 99);
	CHECK_INT(netmap_peers(f.nm, 20, &peers, &npeers), 0);
	CHECK_INT(npeers, 99);
	for (size_t i = 0; i < f.dirty.n; i++)
		CHECK(f.dirty.ids[i] % 20 == 0 && f.dirty.ids[i] != 20);
	free(peers);
out:
	free(doc);
	fix_free(&f);
}

/* --- cost --- */

/* A policy of ngroups groups group:gN = [uN], with one rule per group
 * group:gN -> group:gN:*, group:g(N+1):* (wrapping), as the controller
 * benchmark uses. Caller frees. */
static char *ring_policy(int ngroups)
{
	char *doc = malloc((size_t)ngroups * 160 + 64);
	size_t len = 0;

	if (!doc)
		return NULL;
	len += (size_t)sprintf(doc + len, "{\"groups\":{");
	for (int g = 0; g < ngroups; g++)
		len += (size_t)sprintf(doc + len, "%s\"group:g%d\":[\"u%d\"]",
				       g ? "," : "", g, g);
	len += (size_t)sprintf(doc + len, "},\"acls\":[");
	for (int g = 0; g < ngroups; g++)
		len += (size_t)sprintf(doc + len,
				       "%s{\"action\":\"accept\","
				       "\"src\":[\"group:g%d\"],"
				       "\"dst\":[\"group:g%d:*\",\"group:g%d:*\"]}",
				       g ? "," : "", g, g, (g + 1) % ngroups);
	sprintf(doc + len, "]}");
	return doc;
}

/* Nodes 1..n, node id owned by u(id mod ngroups). */
static bool add_ring_nodes(struct fix *f, int ngroups, int64_t n)
{
	for (int64_t id = 1; id <= n; id++) {
		char user[16];

		snprintf(user, sizeof(user), "u%lld", (long long)(id % ngroups));
		if (!OK(add(f, id, user, NULL, NULL)))
			return false;
	}
	return true;
}

static uint64_t peer_visits(struct fix *f)
{
	struct netmap_stats st;

	netmap_stats(f->nm, &st);
	return st.peer_visits;
}

static void one_peer_delta_in_2000_nodes_visits_only_that_peer(void)
{
	char *doc = ring_policy(20);
	struct fix f;
	struct netmap_node n;
	json_t *d;
	int64_t since;
	uint64_t before;

	REQUIRE(doc);
	fix_init(&f, 16);
	if (!OK(set_policy(&f, doc)) || !add_ring_nodes(&f, 20, 2000))
		goto out;
	/* Node 2 (u2) sees groups g1, g2, g3: 299 peers, node 1 among them. */
	since = netmap_node_version(f.nm, 2);
	n = mknode(1, "u1", NULL, NULL);
	n.node.online = 0;
	if (!OK(upsert(&f, &n)))
		goto out;
	before = peer_visits(&f);
	d = render(&f, 2, since);
	CHECK_INT(peer_visits(&f) - before, 1);
	CHECK_INT(json_array_size(json_object_get(d, "peers")), 1);
	CHECK_INT(json_integer_value(json_object_get(
		json_array_get(json_object_get(d, "peers"), 0), "id")), 1);
	json_decref(d);
	/* A full map visits every peer. */
	before = peer_visits(&f);
	d = render(&f, 2, 0);
	CHECK_INT(peer_visits(&f) - before, 299);
	CHECK_INT(json_array_size(json_object_get(d, "peers")), 299);
	json_decref(d);
out:
	free(doc);
	fix_free(&f);
}

static void delta_beyond_the_journal_still_lists_every_changed_peer(void)
{
	char *doc = ring_policy(2);
	struct fix f;
	json_t *d;
	int64_t since;
	size_t changed = 0;

	REQUIRE(doc);
	fix_init(&f, 16);
	/* Two groups that see each other: everybody is everybody's peer. */
	if (!OK(set_policy(&f, doc)) || !add_ring_nodes(&f, 2, 100))
		goto out;
	since = netmap_node_version(f.nm, 1);
	/* Far more peer changes than the journal holds. */
	for (int64_t id = 2; id <= 100; id += 2) {
		struct netmap_node n = mknode(id, id % 2 ? "u1" : "u0", NULL,
					      NULL);

		n.node.online = 0;
		if (!OK(upsert(&f, &n)))
			goto out;
		changed++;
	}
	d = render(&f, 1, since);
	CHECK(json_is_false(json_object_get(d, "full")));
	CHECK_INT(json_array_size(json_object_get(d, "peers")), changed);
	json_decref(d);
	/* A delta since the middle of the run is small again. */
	since = netmap_node_version(f.nm, 1);
	for (int64_t id = 3; id <= 9; id += 2) {
		struct netmap_node n = mknode(id, "u1", NULL, NULL);

		n.node.online = 0;
		if (!OK(upsert(&f, &n)))
			goto out;
	}
	d = render(&f, 1, since);
	CHECK_INT(json_array_size(json_object_get(d, "peers")), 4);
	json_decref(d);
out:
	free(doc);
	fix_free(&f);
}

static uint64_t src_builds(struct fix *f)
{
	struct netmap_stats st;

	netmap_stats(f->nm, &st);
	return st.src_builds;
}

static bool filter_has_src(const json_t *flt, const char *prefix)
{
	size_t i, k;
	json_t *r, *p;

	json_array_foreach(flt, i, r)
		json_array_foreach(json_object_get(r, "src"), k, p)
			if (strcmp(json_string_value(p), prefix) == 0)
				return true;
	return false;
}

static void rule_source_list_is_built_once_for_all_receivers(void)
{
	char *doc = ring_policy(4);
	struct fix f;
	struct netmap_node n;
	json_t *flt;
	uint64_t before;

	REQUIRE(doc);
	fix_init(&f, 16);
	if (!OK(set_policy(&f, doc)) || !add_ring_nodes(&f, 4, 400))
		goto out;
	/* Every node enforces two rules; there are four. */
	before = src_builds(&f);
	for (int64_t id = 1; id <= 400; id++)
		json_decref(filter_of(&f, id));
	CHECK_INT(src_builds(&f) - before, 4);
	/* New mesh addresses: only the rule listing the node is rebuilt,
	 * and its receivers (groups g1 and g2) see the new address. */
	n = mknode(1, "u1", NULL, NULL);
	snprintf(n.node.ipv4, sizeof(n.node.ipv4), "100.99.0.1");
	if (!OK(upsert(&f, &n)))
		goto out;
	before = src_builds(&f);
	for (int64_t id = 1; id <= 400; id++)
		json_decref(filter_of(&f, id));
	CHECK_INT(src_builds(&f) - before, 1);
	flt = filter_of(&f, 2);
	CHECK(filter_has_src(flt, "100.99.0.1/32"));
	CHECK(!filter_has_src(flt, "100.64.0.1/32"));
	json_decref(flt);
	/* A new owner moves the node from group g1 to g3: both rules are
	 * rebuilt; g3's receivers list it, g1's do not. */
	n.user[1] = '3';
	if (!OK(upsert(&f, &n)))
		goto out;
	before = src_builds(&f);
	for (int64_t id = 1; id <= 400; id++)
		json_decref(filter_of(&f, id));
	CHECK_INT(src_builds(&f) - before, 2);
	flt = filter_of(&f, 5); /* u1: enforces g1 and g0 */
	CHECK(!filter_has_src(flt, "100.99.0.1/32"));
	json_decref(flt);
	flt = filter_of(&f, 4); /* u0: enforces g0 and g3 */
	CHECK(filter_has_src(flt, "100.99.0.1/32"));
	json_decref(flt);
out:
	free(doc);
	fix_free(&f);
}

static void same_policy_again_dirties_no_node(void)
{
	char *doc = ring_policy(4);
	struct fix f;

	REQUIRE(doc);
	fix_init(&f, 16);
	if (!OK(set_policy(&f, doc)) || !add_ring_nodes(&f, 4, 40))
		goto out;
	if (!OK(set_policy(&f, doc)))
		goto out;
	CHECK_INT(f.dirty.n, 0);
out:
	free(doc);
	fix_free(&f);
}

static void policy_port_change_dirties_only_that_rules_receivers(void)
{
	static const char *const before =
		"{\"acls\":["
		"{\"action\":\"accept\",\"src\":[\"alice\"],"
		"\"dst\":[\"bob:22\"]},"
		"{\"action\":\"accept\",\"src\":[\"alice\"],"
		"\"dst\":[\"carol:80\"]}]}";
	static const char *const after =
		"{\"acls\":["
		"{\"action\":\"accept\",\"src\":[\"alice\"],"
		"\"dst\":[\"bob:22\"]},"
		"{\"action\":\"accept\",\"src\":[\"alice\"],"
		"\"dst\":[\"carol:80-81\"]}]}";
	struct fix f;
	json_t *flt;

	fix_init(&f, 16);
	REQUIRE_INT(set_policy(&f, before), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "bob", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 3, "carol", NULL, NULL), 0);
	REQUIRE_INT(set_policy(&f, after), 0);
	CHECK_INT(f.dirty.n, 1);
	CHECK(dirty_has(&f.dirty, 3));
	flt = filter_of(&f, 3);
	CHECK_JSON(flt, "[{\"proto\":\"any\","
		   "\"src\":[\"100.64.0.1/32\",\"fd7a:115c:a1e0::1/128\"],"
		   "\"dst\":[{\"prefix\":\"self\",\"ports\":\"80-81\"}]}]");
	json_decref(flt);
	fix_free(&f);
}

static void rejects_bad_input_without_changing_state(void)
{
	struct fix f;
	struct netmap_node n;

	fix_init(&f, 8);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	n = mknode(2, "bob", "not json", NULL);
	CHECK_INT(upsert(&f, &n), WEFT_ERR_INVAL);
	n = mknode(2, "bob", "[\"tag:a\", 5]", NULL);
	CHECK_INT(upsert(&f, &n), WEFT_ERR_INVAL);
	n = mknode(2, "bob", NULL, NULL);
	snprintf(n.node.ipv4, sizeof(n.node.ipv4), "fd7a::9");
	CHECK_INT(upsert(&f, &n), WEFT_ERR_INVAL);
	{
		static const char *const bad[] = {"10.0.0.0/33", NULL};

		n = mknode(2, "bob", NULL, bad);
		CHECK_INT(upsert(&f, &n), WEFT_ERR_INVAL);
	}
	CHECK(!netmap_has_node(f.nm, 2));
	CHECK(netmap_has_node(f.nm, 1));
	CHECK_INT(netmap_render(f.nm, 2, 0, &(json_t *){NULL}),
		  WEFT_ERR_NOTFOUND);
	fix_free(&f);
}

/* The hub's rendering (netmap_render_shared) sends the filter as text: it
 * must say exactly what netmap_render's JSON says, for every node of a
 * mixed world (groups, tags, routers, resources), and two nodes with the
 * same filter share one rendering. */
static void shared_filter_text_equals_the_json_filter_and_is_rendered_once(void)
{
	static const char *const r1[] = {"10.1.0.0/24", NULL};
	struct netmap_stats st0, st1;
	struct netmap_shared *a = NULL, *b = NULL;
	struct fix f;

	rng_state = 0x9e3779b97f4a7c15ULL;
	fix_init(&f, 4);
	REQUIRE_INT(set_policy(&f, policy_a), 0);
	REQUIRE_INT(set_resource(&f, 1, "wiki", "10.20.0.0/24", 0, "tag:conn"),
		    0);
	for (int64_t id = 1; id <= 40; id++) {
		struct netmap_node n = random_node(id);

		REQUIRE_INT(upsert(&f, &n), 0);
	}
	for (int64_t id = 1; id <= 40; id++) {
		struct netmap_shared *sh = NULL;
		json_t *m = NULL, *ms = NULL, *ft;

		REQUIRE_INT(netmap_render(f.nm, id, 0, &m), 0);
		REQUIRE_INT(netmap_render_shared(f.nm, id, 0, &ms, &sh), 0);
		REQUIRE(sh);
		CHECK(!json_object_get(ms, "filter"));
		ft = json_loadb(sh->text, sh->len, 0, NULL);
		CHECK(ft && json_equal(ft, json_object_get(m, "filter")));
		json_object_del(m, "filter");
		CHECK(json_equal(m, ms));
		json_decref(ft);
		json_decref(m);
		json_decref(ms);
	}
	fix_free(&f);

	/* Two routers of the same subnet enforce the same filter. */
	fix_init(&f, 4);
	REQUIRE_INT(set_policy(&f, "{\"acls\":[{\"action\":\"accept\","
			       "\"proto\":\"tcp\",\"src\":[\"alice\"],"
			       "\"dst\":[\"10.1.0.0/16:22\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "bob", NULL, r1), 0);
	REQUIRE_INT(add(&f, 3, "bob", NULL, r1), 0);
	netmap_stats(f.nm, &st0);
	{
		json_t *m2 = NULL, *m3 = NULL;

		REQUIRE_INT(netmap_render_shared(f.nm, 2, 0, &m2, &a), 0);
		REQUIRE_INT(netmap_render_shared(f.nm, 3, 0, &m3, &b), 0);
		json_decref(m2);
		json_decref(m3);
	}
	netmap_stats(f.nm, &st1);
	REQUIRE(a && b);
	CHECK(a == b);
	CHECK_INT(st1.filter_renders - st0.filter_renders, 1);
	CHECK(a->len > 2 && memmem(a->text, a->len, "10.1.0.0/24", 11));
	fix_free(&f);
}

/* A filter names its receiver's own addresses as "self", so the nodes of
 * one group get byte-identical filter text, rendered once and shared; a
 * router's routes and a connector's resource prefixes stay explicit, next
 * to "self" when the node is also a destination itself. */
static void group_members_share_one_filter_text(void)
{
	static const char *const r1[] = {"10.1.0.0/24", NULL};
	struct netmap_shared *sh[6] = {0};
	struct netmap_stats st0, st1;
	struct fix f;
	json_t *flt;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"groups\":{\"group:a\":[\"u1\"],\"group:b\":[\"u2\"]},"
		"\"acls\":[{\"action\":\"accept\",\"src\":[\"group:a\"],"
		"\"dst\":[\"group:a:*\",\"group:b:22\"]},"
		"{\"action\":\"accept\",\"proto\":\"tcp\","
		"\"src\":[\"group:b\"],\"dst\":[\"group:b:80\","
		"\"10.1.0.0/16:443\"]}]}"), 0);
	for (int64_t id = 1; id <= 3; id++)
		REQUIRE_INT(add(&f, id, "u1", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 4, "u2", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 5, "u2", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 6, "u2", NULL, r1), 0);
	netmap_stats(f.nm, &st0);
	for (int64_t id = 1; id <= 6; id++) {
		json_t *m = NULL;

		REQUIRE_INT(netmap_render_shared(f.nm, id, 0, &m, &sh[id - 1]),
			    0);
		json_decref(m);
		REQUIRE(sh[id - 1]);
	}
	netmap_stats(f.nm, &st1);
	/* Three distinct filters: group a, group b, b's router. */
	CHECK_INT(st1.filter_renders - st0.filter_renders, 3);
	CHECK(sh[0] == sh[1] && sh[1] == sh[2]);
	CHECK(sh[3] == sh[4]);
	CHECK(sh[0] != sh[3] && sh[3] != sh[5]);
	CHECK(sh[0]->len == sh[1]->len &&
	      memcmp(sh[0]->text, sh[2]->text, sh[0]->len) == 0);
	/* No node's own address is in a dst. */
	for (size_t i = 0; i < 6; i++) {
		static const char own[] = "\"prefix\":\"100.64.";

		CHECK(!memmem(sh[i]->text, sh[i]->len, own, sizeof(own) - 1));
	}
	flt = filter_of(&f, 4);
	CHECK_JSON(flt, "[{\"proto\":\"any\",\"src\":[\"100.64.0.1/32\","
		   "\"100.64.0.2/32\",\"100.64.0.3/32\","
		   "\"fd7a:115c:a1e0::1/128\",\"fd7a:115c:a1e0::2/128\","
		   "\"fd7a:115c:a1e0::3/128\"],\"dst\":["
		   "{\"prefix\":\"self\",\"ports\":\"22\"}]},"
		   "{\"proto\":\"tcp\",\"src\":[\"100.64.0.4/32\","
		   "\"100.64.0.5/32\",\"100.64.0.6/32\","
		   "\"fd7a:115c:a1e0::4/128\",\"fd7a:115c:a1e0::5/128\","
		   "\"fd7a:115c:a1e0::6/128\"],\"dst\":["
		   "{\"prefix\":\"self\",\"ports\":\"80\"}]}]");
	json_decref(flt);
	flt = filter_of(&f, 6);
	CHECK_JSON(flt, "[{\"proto\":\"any\",\"src\":[\"100.64.0.1/32\","
		   "\"100.64.0.2/32\",\"100.64.0.3/32\","
		   "\"fd7a:115c:a1e0::1/128\",\"fd7a:115c:a1e0::2/128\","
		   "\"fd7a:115c:a1e0::3/128\"],\"dst\":["
		   "{\"prefix\":\"self\",\"ports\":\"22\"}]},"
		   "{\"proto\":\"tcp\",\"src\":[\"100.64.0.4/32\","
		   "\"100.64.0.5/32\",\"100.64.0.6/32\","
		   "\"fd7a:115c:a1e0::4/128\",\"fd7a:115c:a1e0::5/128\","
		   "\"fd7a:115c:a1e0::6/128\"],\"dst\":["
		   "{\"prefix\":\"self\",\"ports\":\"80\"},"
		   "{\"prefix\":\"10.1.0.0/24\",\"ports\":\"443\"}]}]");
	json_decref(flt);
	fix_free(&f);
}

static const struct check_case cases[] = {
	CHECK_CASE(no_policy_means_no_peers_and_empty_filter),
	CHECK_CASE(group_members_peer_only_within_their_group),
	CHECK_CASE(tagged_node_is_not_matched_by_its_user),
	CHECK_CASE(filter_merges_ports_of_matching_selectors),
	CHECK_CASE(subnet_router_is_peer_for_hosts_it_routes),
	CHECK_CASE(resource_via_connector_node_is_peer_and_enforced),
	CHECK_CASE(resource_via_connector_tag_uses_every_tagged_node),
	CHECK_CASE(filter_is_directional),
	CHECK_CASE(peer_relation_is_symmetric),
	CHECK_CASE(online_change_dirties_only_peers_with_just_that_peer),
	CHECK_CASE(removed_node_appears_in_peers_removed),
	CHECK_CASE(map_version_never_decreases),
	CHECK_CASE(delta_older_than_horizon_is_full_map),
	CHECK_CASE(deltas_applied_to_full_map_equal_fresh_full_map),
	CHECK_CASE(router_allowed_ips_follow_what_the_node_may_reach),
	CHECK_CASE(renumbered_node_updates_filters_of_its_receivers),
	CHECK_CASE(readded_peer_is_not_in_peers_removed),
	CHECK_CASE(resource_address_change_reaches_clients_as_delta),
	CHECK_CASE(peer_entry_uses_the_rest_api_conventions),
	CHECK_CASE(relay_without_pin_has_null_pin),
	CHECK_CASE(online_flip_in_2000_nodes_dirties_only_its_peers),
	CHECK_CASE(one_peer_delta_in_2000_nodes_visits_only_that_peer),
	CHECK_CASE(delta_beyond_the_journal_still_lists_every_changed_peer),
	CHECK_CASE(rule_source_list_is_built_once_for_all_receivers),
	CHECK_CASE(same_policy_again_dirties_no_node),
	CHECK_CASE(policy_port_change_dirties_only_that_rules_receivers),
	CHECK_CASE(rejects_bad_input_without_changing_state),
	CHECK_CASE(shared_filter_text_equals_the_json_filter_and_is_rendered_once),
	CHECK_CASE(group_members_share_one_filter_text),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
