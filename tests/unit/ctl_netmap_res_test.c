/* Resources in the network-map engine (controller/netmap_res.c): the
 * "resources" section of the nodes that may reach a resource (prefixes,
 * filters narrowed for that node, online connectors), the "serves"
 * section of connectors, the connectors' packet filters, and deltas that
 * touch exactly the sections a change affects. */
#include "netmap_fix.h"

#include <string.h>

/* A resource named name at address, served by node (0: none) and tag
 * (NULL: none), with filters given as text "tcp:443,8000-8100 udp icmp"
 * (NULL: none). DNS and wildcard resources get mapped prefixes. */
static int set_res(struct fix *f, int64_t id, const char *name,
		   const char *address, int64_t node, const char *tag,
		   const char *filters)
{
	struct netmap_resource r;
	char buf[256], *save = NULL;

	memset(&r, 0, sizeof(r));
	r.id = id;
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.address, sizeof(r.address), "%s", address);
	if (strncmp(address, "*.", 2) == 0) {
		snprintf(r.mapped_ipv4, sizeof(r.mapped_ipv4), "100.104.0.0/24");
		snprintf(r.mapped_ipv6, sizeof(r.mapped_ipv6),
			 "fd7a:115c:a1e0:ffff::6468:0/120");
	} else if (strchr(address, '.') && !strchr(address, '/') &&
		   (address[0] < '0' || address[0] > '9')) {
		snprintf(r.mapped_ipv4, sizeof(r.mapped_ipv4), "100.96.0.1/32");
		snprintf(r.mapped_ipv6, sizeof(r.mapped_ipv6),
			 "fd7a:115c:a1e0:ffff::6460:1/128");
	}
	if (node)
		r.connector_nodes[r.nconnector_nodes++] = node;
	if (tag)
		snprintf(r.connector_tags[r.nconnector_tags++],
			 sizeof(r.connector_tags[0]), "%s", tag);
	snprintf(buf, sizeof(buf), "%s", filters ? filters : "");
	for (char *w = strtok_r(buf, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		struct policy_filter *pf = &r.filters[r.nfilters++];
		char *ports = strchr(w, ':'), *s2 = NULL;

		if (ports)
			*ports++ = '\0';
		pf->proto = strcmp(w, "tcp") == 0 ? POLICY_TCP :
			    strcmp(w, "udp") == 0 ? POLICY_UDP : POLICY_ICMP;
		for (char *p = ports ? strtok_r(ports, ",", &s2) : NULL; p;
		     p = strtok_r(NULL, ",", &s2)) {
			unsigned lo, hi;

			if (sscanf(p, "%u-%u", &lo, &hi) != 2)
				lo = hi = (unsigned)atoi(p);
			pf->ports[pf->nports++] =
				(struct policy_ports){(uint16_t)lo, (uint16_t)hi};
		}
	}
	netmap_dirty_reset(&f->dirty);
	return netmap_resource_upsert(f->nm, ++f->v, &r, &f->dirty);
}

/* Node id with online set. */
static int set_online(struct fix *f, int64_t id, const char *user,
		      const char *tags, int online)
{
	struct netmap_node n = mknode(id, user, tags, NULL);

	n.node.online = online;
	return upsert(f, &n);
}

static json_t *part(struct fix *f, int64_t id, int64_t since,
		    const char *name)
{
	json_t *m = render(f, id, since);
	json_t *p = m ? json_incref(json_object_get(m, name)) : NULL;

	json_decref(m);
	return p;
}

#define CHECK_PART(f, id, since, name, expected)                             \
	do {                                                                 \
		json_t *p_ = part((f), (id), (since), (name));                \
		CHECK_JSON(p_, (expected));                                  \
		json_decref(p_);                                             \
	} while (0)

#define CHECK_NO_PART(f, id, since, name)                                    \
	do {                                                                 \
		json_t *p_ = part((f), (id), (since), (name));                \
		CHECK(p_ == NULL);                                           \
		json_decref(p_);                                             \
	} while (0)

static const char *const policy_web =
	"{\"tagOwners\":{\"tag:conn\":[]},\"acls\":["
	"{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"alice\"],"
	"\"dst\":[\"resource:web:443\"]},"
	"{\"action\":\"accept\",\"src\":[\"alice\"],"
	"\"dst\":[\"resource:db:*\"]}]}";

/* alice's laptop 1, connector 2 (by id, online), connector 3 (tag,
 * offline), bob's laptop 4; web: 10.5.0.10 with tcp 443 and 8443, icmp;
 * db: db.corp.test with tcp 5432. */
static void world(struct fix *f)
{
	fix_init(f, 8);
	REQUIRE_INT(set_policy(f, policy_web), 0);
	REQUIRE_INT(add(f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(set_online(f, 2, "ops", NULL, 1), 0);
	REQUIRE_INT(set_online(f, 3, "ops", "[\"tag:conn\"]", 0), 0);
	REQUIRE_INT(add(f, 4, "bob", NULL, NULL), 0);
	REQUIRE_INT(set_res(f, 7, "web", "10.5.0.10", 2, "tag:conn",
			    "tcp:443,8443 icmp"), 0);
	REQUIRE_INT(set_res(f, 8, "db", "db.corp.test", 2, NULL, "tcp:5432"),
		    0);
}

static void clients_get_narrowed_filters_and_online_connectors(void)
{
	struct fix f;
	json_t *flt;

	world(&f);
	CHECK_PEERS(&f, 1, "[2,3]");
	/* The rule gives tcp 443 to web (filters narrow, never widen) and
	 * everything to db, which admits tcp 5432 only; 3 is offline. */
	CHECK_PART(&f, 1, 0, "resources",
		"[{\"id\":8,\"name\":\"db\",\"type\":\"dns\","
		"\"address\":\"db.corp.test\",\"prefixes\":[\"100.96.0.1/32\","
		"\"fd7a:115c:a1e0:ffff::6460:1/128\"],\"filters\":[{\"protocol\":"
		"\"tcp\",\"ports\":[\"5432\"]}],\"connectors\":[2]},"
		"{\"id\":7,\"name\":\"web\",\"type\":\"ip\",\"address\":"
		"\"10.5.0.10\",\"prefixes\":[\"10.5.0.10/32\"],\"filters\":"
		"[{\"protocol\":\"tcp\",\"ports\":[\"443\"]}],\"connectors\":[2]}]");
	CHECK_PART(&f, 4, 0, "resources", "[]");
	CHECK_PART(&f, 1, 0, "serves", "[]");
	/* The connector admits what the policy allows, narrowed, on the
	 * resource's prefixes: the mapped ones for the DNS name. */
	flt = filter_of(&f, 2);
	CHECK_JSON(flt,
		"[{\"proto\":\"tcp\",\"src\":[\"100.64.0.1/32\","
		"\"fd7a:115c:a1e0::1/128\"],\"dst\":[{\"prefix\":"
		"\"10.5.0.10/32\",\"ports\":\"443\"}]},"
		"{\"proto\":\"tcp\",\"src\":[\"100.64.0.1/32\","
		"\"fd7a:115c:a1e0::1/128\"],\"dst\":[{\"prefix\":"
		"\"100.96.0.1/32\",\"ports\":\"5432\"},{\"prefix\":"
		"\"fd7a:115c:a1e0:ffff::6460:1/128\",\"ports\":\"5432\"}]}]");
	json_decref(flt);
	/* Meanwhile ip/cidr resources stay in the connectors' allowed_ips;
	 * mapped prefixes never do. */
	{
		json_t *m = render(&f, 1, 0);

		CHECK_JSON(json_object_get(peer_in(m, 2), "allowed_ips"),
			   "[\"10.5.0.10/32\",\"100.64.0.2/32\","
			   "\"fd7a:115c:a1e0::2/128\"]");
		CHECK_JSON(json_object_get(peer_in(m, 3), "allowed_ips"),
			   "[\"10.5.0.10/32\",\"100.64.0.3/32\","
			   "\"fd7a:115c:a1e0::3/128\"]");
		json_decref(m);
	}
	fix_free(&f);
}

static void connectors_get_what_they_serve_unnarrowed(void)
{
	struct fix f;

	world(&f);
	CHECK_PART(&f, 2, 0, "serves",
		"[{\"id\":8,\"name\":\"db\",\"type\":\"dns\",\"address\":"
		"\"db.corp.test\",\"prefixes\":[\"100.96.0.1/32\","
		"\"fd7a:115c:a1e0:ffff::6460:1/128\"],\"filters\":[{\"protocol\":"
		"\"tcp\",\"ports\":[\"5432\"]}]},"
		"{\"id\":7,\"name\":\"web\",\"type\":\"ip\",\"address\":"
		"\"10.5.0.10\",\"prefixes\":[\"10.5.0.10/32\"],\"filters\":"
		"[{\"protocol\":\"tcp\",\"ports\":[\"443\",\"8443\"]},"
		"{\"protocol\":\"icmp\",\"ports\":[]}]}]");
	CHECK_PART(&f, 3, 0, "serves",
		"[{\"id\":7,\"name\":\"web\",\"type\":\"ip\",\"address\":"
		"\"10.5.0.10\",\"prefixes\":[\"10.5.0.10/32\"],\"filters\":"
		"[{\"protocol\":\"tcp\",\"ports\":[\"443\",\"8443\"]},"
		"{\"protocol\":\"icmp\",\"ports\":[]}]}]");
	CHECK_PART(&f, 4, 0, "serves", "[]");
	fix_free(&f);
}

static void any_rule_splits_by_the_protocols_filters_admit(void)
{
	struct fix f;
	json_t *flt;

	fix_init(&f, 8);
	REQUIRE_INT(set_policy(&f,
		"{\"acls\":[{\"action\":\"accept\",\"src\":[\"alice\"],"
		"\"dst\":[\"resource:exit:*\",\"resource:lan:*\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "ops", NULL, NULL), 0);
	REQUIRE_INT(set_res(&f, 5, "exit", "internet", 2, NULL,
			    "tcp:80,443 udp:53 icmp"), 0);
	REQUIRE_INT(set_res(&f, 6, "lan", "*.corp.test", 2, NULL, NULL), 0);
	flt = filter_of(&f, 2);
	/* Sorted by their text, which starts with dst. */
	CHECK_JSON(flt,
		"[{\"proto\":\"icmp\",\"src\":[\"100.64.0.1/32\","
		"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
		"{\"prefix\":\"0.0.0.0/0\",\"ports\":\"*\"},"
		"{\"prefix\":\"::/0\",\"ports\":\"*\"}]},"
		"{\"proto\":\"any\",\"src\":[\"100.64.0.1/32\","
		"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
		"{\"prefix\":\"100.104.0.0/24\",\"ports\":\"*\"},"
		"{\"prefix\":\"fd7a:115c:a1e0:ffff::6468:0/120\",\"ports\":\"*\"}]},"
		"{\"proto\":\"udp\",\"src\":[\"100.64.0.1/32\","
		"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
		"{\"prefix\":\"0.0.0.0/0\",\"ports\":\"53\"},"
		"{\"prefix\":\"::/0\",\"ports\":\"53\"}]},"
		"{\"proto\":\"tcp\",\"src\":[\"100.64.0.1/32\","
		"\"fd7a:115c:a1e0::1/128\"],\"dst\":["
		"{\"prefix\":\"0.0.0.0/0\",\"ports\":\"80,443\"},"
		"{\"prefix\":\"::/0\",\"ports\":\"80,443\"}]}]");
	json_decref(flt);
	CHECK_PART(&f, 1, 0, "resources",
		"[{\"id\":5,\"name\":\"exit\",\"type\":\"internet\",\"address\":"
		"\"internet\",\"prefixes\":[\"0.0.0.0/0\",\"::/0\"],\"filters\":"
		"[{\"protocol\":\"tcp\",\"ports\":[\"80\",\"443\"]},{\"protocol\":"
		"\"udp\",\"ports\":[\"53\"]},{\"protocol\":\"icmp\",\"ports\":[]}],"
		"\"connectors\":[2]},"
		"{\"id\":6,\"name\":\"lan\",\"type\":\"wildcard\",\"address\":"
		"\"*.corp.test\",\"prefixes\":[\"100.104.0.0/24\","
		"\"fd7a:115c:a1e0:ffff::6468:0/120\"],\"filters\":[],"
		"\"connectors\":[2]}]");
	/* The exit node's default routes never go into allowed_ips. */
	{
		json_t *m = render(&f, 1, 0);

		CHECK_JSON(json_object_get(peer_in(m, 2), "allowed_ips"),
			   "[\"100.64.0.2/32\",\"fd7a:115c:a1e0::2/128\"]");
		json_decref(m);
	}
	fix_free(&f);
}

static void connector_online_flip_updates_its_clients_only(void)
{
	struct fix f;
	int64_t v;

	world(&f);
	v = f.v;
	REQUIRE_INT(set_online(&f, 3, "ops", "[\"tag:conn\"]", 1), 0);
	CHECK(dirty_has(&f.dirty, 1));
	CHECK_PART(&f, 1, v, "resources",
		"[{\"id\":8,\"name\":\"db\",\"type\":\"dns\","
		"\"address\":\"db.corp.test\",\"prefixes\":[\"100.96.0.1/32\","
		"\"fd7a:115c:a1e0:ffff::6460:1/128\"],\"filters\":[{\"protocol\":"
		"\"tcp\",\"ports\":[\"5432\"]}],\"connectors\":[2]},"
		"{\"id\":7,\"name\":\"web\",\"type\":\"ip\",\"address\":"
		"\"10.5.0.10\",\"prefixes\":[\"10.5.0.10/32\"],\"filters\":"
		"[{\"protocol\":\"tcp\",\"ports\":[\"443\"]}],\"connectors\":"
		"[2,3]}]");
	/* Content, not presence: the hub answers it at once. */
	CHECK_INT(netmap_node_content_version(f.nm, 1), f.v);
	CHECK_NO_PART(&f, 3, v, "serves");
	CHECK_NO_PART(&f, 2, v, "resources");
	CHECK(!dirty_has(&f.dirty, 4));
	/* A flip of a node that connects nothing touches no section. */
	v = f.v;
	REQUIRE_INT(set_online(&f, 4, "bob", NULL, 0), 0);
	CHECK_NO_PART(&f, 1, v, "resources");
	fix_free(&f);
}

static void resource_edits_update_clients_and_connectors(void)
{
	struct fix f;
	int64_t v;
	json_t *flt;

	world(&f);
	REQUIRE_INT(add(&f, 5, "carol", NULL, NULL), 0);
	v = f.v;
	/* web admits 8000-8100 instead of 8443: alice's tcp 443 stays, so
	 * her section is re-sent (the resource changed) but the connector
	 * filter text does not change; the serves sections do. */
	REQUIRE_INT(set_res(&f, 7, "web", "10.5.0.10", 2, "tag:conn",
			    "tcp:443,8000-8100"), 0);
	CHECK(dirty_has(&f.dirty, 1) && dirty_has(&f.dirty, 2) &&
	      dirty_has(&f.dirty, 3));
	CHECK(!dirty_has(&f.dirty, 4) && !dirty_has(&f.dirty, 5));
	CHECK_PART(&f, 3, v, "serves",
		"[{\"id\":7,\"name\":\"web\",\"type\":\"ip\",\"address\":"
		"\"10.5.0.10\",\"prefixes\":[\"10.5.0.10/32\"],\"filters\":"
		"[{\"protocol\":\"tcp\",\"ports\":[\"443\",\"8000-8100\"]}]}]");
	CHECK_NO_PART(&f, 2, v, "filter");
	/* Now 443 goes: alice's access narrows to nothing on web. */
	v = f.v;
	REQUIRE_INT(set_res(&f, 7, "web", "10.5.0.10", 2, "tag:conn",
			    "tcp:8000-8100"), 0);
	flt = part(&f, 2, v, "filter");
	CHECK_JSON(flt,
		"[{\"proto\":\"tcp\",\"src\":[\"100.64.0.1/32\","
		"\"fd7a:115c:a1e0::1/128\"],\"dst\":[{\"prefix\":"
		"\"100.96.0.1/32\",\"ports\":\"5432\"},{\"prefix\":"
		"\"fd7a:115c:a1e0:ffff::6460:1/128\",\"ports\":\"5432\"}]}]");
	json_decref(flt);
	/* web is then out of alice's reach: not listed, not routed. */
	{
		json_t *res = part(&f, 1, v, "resources"), *m;

		CHECK_INT(json_array_size(res), 1);
		CHECK_STR(json_string_value(json_object_get(
				  json_array_get(res, 0), "name")), "db");
		json_decref(res);
		m = render(&f, 1, 0);
		CHECK_JSON(json_object_get(peer_in(m, 2), "allowed_ips"),
			   "[\"100.64.0.2/32\",\"fd7a:115c:a1e0::2/128\"]");
		json_decref(m);
	}
	REQUIRE_INT(set_res(&f, 7, "web", "10.5.0.10", 2, "tag:conn",
			    "tcp:443,8000-8100"), 0);
	/* A tag that makes node 5 a connector: its serves section and the
	 * clients' connector lists. */
	v = f.v;
	REQUIRE_INT(set_online(&f, 5, "carol", "[\"tag:conn\"]", 1), 0);
	CHECK(dirty_has(&f.dirty, 1));
	CHECK(!dirty_has(&f.dirty, 4));
	{
		json_t *res = part(&f, 1, v, "resources");

		CHECK_JSON(json_object_get(json_array_get(res, 1),
					   "connectors"), "[2,5]");
		json_decref(res);
	}
	CHECK_PART(&f, 5, v, "serves",
		"[{\"id\":7,\"name\":\"web\",\"type\":\"ip\",\"address\":"
		"\"10.5.0.10\",\"prefixes\":[\"10.5.0.10/32\"],\"filters\":"
		"[{\"protocol\":\"tcp\",\"ports\":[\"443\",\"8000-8100\"]}]}]");
	/* The connector goes away: clients hear it. */
	v = f.v;
	netmap_dirty_reset(&f.dirty);
	REQUIRE_INT(netmap_node_remove(f.nm, ++f.v, 2, &f.dirty), 0);
	{
		json_t *res = part(&f, 1, v, "resources");

		CHECK_JSON(json_object_get(json_array_get(res, 0),
					   "connectors"), "[]");
		CHECK_JSON(json_object_get(json_array_get(res, 1),
					   "connectors"), "[5]");
		json_decref(res);
	}
	/* Removing the resource empties the sections. */
	v = f.v;
	netmap_dirty_reset(&f.dirty);
	REQUIRE_INT(netmap_resource_remove(f.nm, ++f.v, 7, &f.dirty), 0);
	CHECK_PART(&f, 5, v, "serves", "[]");
	CHECK_NO_PART(&f, 4, v, "resources");
	fix_free(&f);
}

static void policy_edits_narrow_client_sections_not_serves(void)
{
	struct fix f;
	int64_t v;

	world(&f);
	v = f.v;
	REQUIRE_INT(set_policy(&f,
		"{\"tagOwners\":{\"tag:conn\":[]},\"acls\":["
		"{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"alice\"],"
		"\"dst\":[\"resource:web:8443\"]},"
		"{\"action\":\"accept\",\"src\":[\"alice\"],"
		"\"dst\":[\"resource:db:*\"]}]}"), 0);
	{
		json_t *res = part(&f, 1, v, "resources");

		CHECK_JSON(json_object_get(json_array_get(res, 1), "filters"),
			   "[{\"protocol\":\"tcp\",\"ports\":[\"8443\"]}]");
		json_decref(res);
	}
	CHECK_NO_PART(&f, 2, v, "serves");
	CHECK_NO_PART(&f, 4, v, "resources");
	/* The same policy again changes nothing. */
	v = f.v;
	REQUIRE_INT(set_policy(&f,
		"{\"tagOwners\":{\"tag:conn\":[]},\"acls\":["
		"{\"action\":\"accept\",\"proto\":\"tcp\",\"src\":[\"alice\"],"
		"\"dst\":[\"resource:web:8443\"]},"
		"{\"action\":\"accept\",\"src\":[\"alice\"],"
		"\"dst\":[\"resource:db:*\"]}]}"), 0);
	CHECK_NO_PART(&f, 1, v, "resources");
	CHECK_INT(f.dirty.n, 0);
	fix_free(&f);
}

static void malformed_resources_are_refused(void)
{
	struct fix f;
	struct netmap_resource r;

	fix_init(&f, 8);
	memset(&r, 0, sizeof(r));
	r.id = 1;
	snprintf(r.name, sizeof(r.name), "x");
	snprintf(r.address, sizeof(r.address), "not an address");
	CHECK_INT(netmap_resource_upsert(f.nm, ++f.v, &r, &f.dirty),
		  WEFT_ERR_INVAL);
	snprintf(r.address, sizeof(r.address), "db.corp.test");
	snprintf(r.mapped_ipv4, sizeof(r.mapped_ipv4), "fd00::/120");
	CHECK_INT(netmap_resource_upsert(f.nm, ++f.v, &r, &f.dirty),
		  WEFT_ERR_INVAL);
	r.mapped_ipv4[0] = '\0';
	r.nfilters = 1;
	r.filters[0].proto = POLICY_ANY;
	CHECK_INT(netmap_resource_upsert(f.nm, ++f.v, &r, &f.dirty),
		  WEFT_ERR_INVAL);
	r.filters[0].proto = POLICY_TCP;
	r.filters[0].nports = 1;
	r.filters[0].ports[0] = (struct policy_ports){90, 80};
	CHECK_INT(netmap_resource_upsert(f.nm, ++f.v, &r, &f.dirty),
		  WEFT_ERR_INVAL);
	r.nfilters = 0;
	r.nconnector_nodes = NETMAP_RES_CONNECTORS_MAX + 1;
	CHECK_INT(netmap_resource_upsert(f.nm, ++f.v, &r, &f.dirty),
		  WEFT_ERR_INVAL);
	r.nconnector_nodes = 0;
	CHECK_INT(netmap_resource_upsert(f.nm, ++f.v, &r, &f.dirty), 0);
	fix_free(&f);
}

static const struct check_case cases[] = {
	CHECK_CASE(clients_get_narrowed_filters_and_online_connectors),
	CHECK_CASE(connectors_get_what_they_serve_unnarrowed),
	CHECK_CASE(any_rule_splits_by_the_protocols_filters_admit),
	CHECK_CASE(connector_online_flip_updates_its_clients_only),
	CHECK_CASE(resource_edits_update_clients_and_connectors),
	CHECK_CASE(policy_edits_narrow_client_sections_not_serves),
	CHECK_CASE(malformed_resources_are_refused),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
