/* agent/map: full maps and deltas as GET /api/v1/map answers them
 * (docs/internals/netmap.md) add up to the full map of the same version. */
#include "agent/map.h"
#include "agent/mapjson.h"

#include "check.h"
#include "shared/err.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		check_report(false, __FILE__, __LINE__, "bad test JSON: %s",
			     e.text);
	return j;
}

/* Applies text to m and returns map_apply's code. */
static int apply(struct map *m, const char *text)
{
	json_t *a = parse(text);
	int rc = a ? map_apply(m, a, NULL, NULL, 0) : WEFT_ERR_PARSE;

	json_decref(a);
	return rc;
}

/* Any valid key: the map checks keys, not who holds them. */
#define KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

#define PEER(id, name, ip, online)                                           \
	"{\"id\": " #id ", \"name\": \"" name "\", \"dns_name\": \"" name     \
	".weft.internal\", \"public_key\": \"" KEY "\", \"ipv4\": \"" ip     \
	"\", \"ipv6\": \"fd7a:115c:a1e0::" #id "\", \"allowed_ips\": [\"" ip  \
	"/32\"], \"endpoints\": [], \"home_relay\": null, \"online\": " online \
	", \"last_seen\": null, \"tags\": [], \"user\": \"alice\"}"

#define SELF "{\"id\": 1, \"name\": \"laptop\", \"ipv4\": \"100.64.0.1\", " \
	"\"ipv6\": \"fd7a:115c:a1e0::1\", \"tags\": [], \"user\": \"alice\"}"

static const char full_v10[] =
	"{\"version\": 10, \"full\": true, \"self\": " SELF ", \"peers\": ["
	PEER(2, "lab-gw", "100.64.0.2", "true") ","
	PEER(3, "db", "100.64.0.3", "false") ","
	PEER(5, "ci", "100.64.0.5", "true") "],"
	"\"filter\": [], \"dns\": {\"suffix\": \"weft.internal\", "
	"\"resources\": []}, \"relays\": []}";

/* A delta from 10: peer 3 went online, 5 left, 7 joined, the filter
 * changed. */
static const char delta_v12[] =
	"{\"version\": 12, \"full\": false, \"peers\": ["
	PEER(3, "db", "100.64.0.3", "true") ","
	PEER(7, "web", "100.64.0.7", "true") "],"
	"\"peers_removed\": [5],"
	"\"filter\": [{\"proto\": \"tcp\", \"src\": [\"100.64.0.2/32\"], "
	"\"dst\": [{\"prefix\": \"self\", \"ports\": \"22\"}]}]}";

/* A delta from 12: self renamed, relays set, 2 removed. */
static const char delta_v15[] =
	"{\"version\": 15, \"full\": false, \"self\": {\"id\": 1, \"name\": "
	"\"laptop-2\", \"ipv4\": \"100.64.0.1\", \"ipv6\": "
	"\"fd7a:115c:a1e0::1\", \"tags\": [], \"user\": \"alice\"},"
	"\"peers_removed\": [2], \"relays\": [{\"id\": 1, \"name\": \"fra\", "
	"\"region\": \"eu\", \"address\": \"relay.example:443\", "
	"\"public_key_pin\": null}]}";

/* What the controller renders as the full map at version 15. */
static const char full_v15[] =
	"{\"version\": 15, \"full\": true, \"self\": {\"id\": 1, \"name\": "
	"\"laptop-2\", \"ipv4\": \"100.64.0.1\", \"ipv6\": "
	"\"fd7a:115c:a1e0::1\", \"tags\": [], \"user\": \"alice\"}, "
	"\"peers\": ["
	PEER(3, "db", "100.64.0.3", "true") ","
	PEER(7, "web", "100.64.0.7", "true") "],"
	"\"filter\": [{\"proto\": \"tcp\", \"src\": [\"100.64.0.2/32\"], "
	"\"dst\": [{\"prefix\": \"self\", \"ports\": \"22\"}]}],"
	"\"dns\": {\"suffix\": \"weft.internal\", \"resources\": []},"
	"\"relays\": [{\"id\": 1, \"name\": \"fra\", \"region\": \"eu\", "
	"\"address\": \"relay.example:443\", \"public_key_pin\": null}]}";

static bool map_equals(const struct map *m, const char *want_text)
{
	json_t *got = map_to_json(m), *want = parse(want_text);
	bool eq = got && want && json_equal(got, want);

	if (!eq) {
		char *g = got ? json_dumps(got, JSON_SORT_KEYS) : NULL;

		check_report(false, __FILE__, __LINE__, "map differs: %s",
			     g ? g : "(null)");
		free(g);
	}
	json_decref(got);
	json_decref(want);
	return eq;
}

static void full_map_then_deltas_equal_the_full_map(void)
{
	struct map *m;

	REQUIRE_INT(map_new(&m), 0);
	CHECK(map_needs_full(m));
	CHECK_INT(apply(m, full_v10), 0);
	CHECK(!map_needs_full(m));
	CHECK_INT(map_version(m), 10);
	CHECK_INT(map_peer_count(m), 3);
	CHECK_INT(apply(m, delta_v12), 0);
	CHECK_INT(map_version(m), 12);
	CHECK(map_peer(m, 5) == NULL);
	CHECK(map_peer(m, 3) && map_peer(m, 3)->online);
	CHECK_INT(apply(m, delta_v15), 0);
	CHECK_INT(map_version(m), 15);
	CHECK(map_equals(m, full_v15));
	map_del(m);
}

static void peers_removed_drops_only_those_ids(void)
{
	struct map *m;

	REQUIRE_INT(map_new(&m), 0);
	CHECK_INT(apply(m, full_v10), 0);
	CHECK_INT(apply(m, "{\"version\": 11, \"full\": false, "
			   "\"peers_removed\": [3, 99]}"), 0);
	CHECK_INT(map_peer_count(m), 2);
	CHECK(map_peer(m, 2) != NULL);
	CHECK(map_peer(m, 3) == NULL);
	CHECK(map_peer(m, 5) != NULL);
	map_del(m);
}

static void keepalive_changes_nothing_but_keeps_version(void)
{
	struct map *m;
	json_t *before;

	REQUIRE_INT(map_new(&m), 0);
	CHECK_INT(apply(m, full_v10), 0);
	before = map_to_json(m);
	CHECK_INT(apply(m, "{\"version\": 10, \"full\": false, "
			   "\"relay_token\": \"x\"}"), 0);
	CHECK_INT(map_version(m), 10);
	{
		json_t *after = map_to_json(m);

		CHECK(json_equal(before, after));
		json_decref(after);
	}
	json_decref(before);
	map_del(m);
}

static void full_map_replaces_every_peer_and_part(void)
{
	struct map *m;

	REQUIRE_INT(map_new(&m), 0);
	CHECK_INT(apply(m, full_v10), 0);
	CHECK_INT(apply(m, delta_v15), 0);
	CHECK(map_part(m, "relays") != NULL);
	CHECK_INT(apply(m, "{\"version\": 3, \"full\": true, \"self\": " SELF
			   ", \"peers\": [" PEER(9, "new", "100.64.0.9", "true")
			   "]}"), 0);
	CHECK_INT(map_version(m), 3);
	CHECK(map_equals(m, "{\"version\": 3, \"full\": true, \"self\": " SELF
			    ", \"peers\": [" PEER(9, "new", "100.64.0.9",
						  "true") "]}"));
	CHECK(map_part(m, "relays") == NULL);
	map_del(m);
}

static void peers_are_listed_by_id(void)
{
	struct map *m;
	const struct map_peer *const *peers;
	size_t n;

	REQUIRE_INT(map_new(&m), 0);
	CHECK_INT(apply(m, "{\"version\": 1, \"full\": true, \"peers\": ["
			   "{\"id\": 30}, {\"id\": 4}, {\"id\": 200}, "
			   "{\"id\": 17}]}"), 0);
	peers = map_peers(m, &n);
	REQUIRE(peers != NULL);
	REQUIRE_INT(n, 4);
	CHECK_INT(peers[0]->id, 4);
	CHECK_INT(peers[1]->id, 17);
	CHECK_INT(peers[3]->id, 200);
	map_del(m);
}

static void delta_before_any_full_map_is_refused(void)
{
	struct map *m;

	REQUIRE_INT(map_new(&m), 0);
	CHECK_INT(apply(m, delta_v12), WEFT_ERR_PROTO);
	CHECK_INT(map_version(m), 0);
	CHECK_INT(map_peer_count(m), 0);
	{
		size_t n = 1;

		map_peers(m, &n);
		CHECK(n == 0);
	}
	CHECK(map_needs_full(m));
	map_del(m);
}

static void malformed_answers_leave_the_map_unchanged(void)
{
	static const char *const bad[] = {
		"[]",
		"{\"full\": true}",
		"{\"version\": \"12\", \"full\": false}",
		"{\"version\": -1, \"full\": true}",
		"{\"version\": 12}",
		"{\"version\": 12, \"full\": false, \"peers\": [{\"name\": "
		"\"no-id\"}]}",
		"{\"version\": 12, \"full\": false, \"peers\": [{\"id\": 0}]}",
		"{\"version\": 12, \"full\": false, \"peers\": {}}",
		"{\"version\": 12, \"full\": false, \"peers_removed\": [\"2\"]}",
		/* the removal comes first: nothing may change before the
		 * bad peer is seen */
		"{\"version\": 12, \"full\": false, \"peers_removed\": [2], "
		"\"peers\": [7]}",
		"{\"version\": 12, \"full\": false, \"self\": []}",
		"{\"version\": 12, \"full\": false, \"filter\": {}}",
		"{\"version\": 12, \"full\": false, \"dns\": \"x\"}",
		"{\"version\": 12, \"full\": true, \"relays\": null}",
	};
	struct map *m;
	json_t *before;

	REQUIRE_INT(map_new(&m), 0);
	CHECK_INT(apply(m, full_v10), 0);
	before = map_to_json(m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *after;

		CHECK(apply(m, bad[i]) < 0);
		after = map_to_json(m);
		if (!CHECK(json_equal(before, after)))
			fprintf(stderr, "changed by: %s\n", bad[i]);
		json_decref(after);
	}
	CHECK_INT(map_version(m), 10);
	json_decref(before);
	map_del(m);
}


static int apply_diff(struct map *m, const char *text, struct map_diff *d,
		      char *err, size_t errlen)
{
	json_t *a = parse(text);
	int rc = a ? map_apply(m, a, d, err, errlen) : WEFT_ERR_PARSE;

	json_decref(a);
	return rc;
}

static bool ids_are(const int64_t *v, size_t n, const int64_t *want,
		    size_t nwant)
{
	return n == nwant && (n == 0 || memcmp(v, want, n * sizeof(*v)) == 0);
}

static void diff_lists_added_removed_and_changed_peers(void)
{
	static const int64_t all[] = {2, 3, 5}, seven[] = {7}, five[] = {5},
			     three[] = {3}, two[] = {2};
	struct map_diff d;
	struct map *m;

	REQUIRE_INT(map_new(&m), 0);
	REQUIRE_INT(apply_diff(m, full_v10, &d, NULL, 0), 0);
	CHECK(d.full && d.self && d.filter && d.dns && d.relays);
	CHECK(ids_are(d.added, d.nadded, all, 3));
	CHECK_INT(d.nremoved + d.nchanged, 0);
	map_diff_free(&d);
	REQUIRE_INT(apply_diff(m, delta_v12, &d, NULL, 0), 0);
	CHECK(!d.full && !d.self && d.filter && !d.dns && !d.relays);
	CHECK(ids_are(d.added, d.nadded, seven, 1));
	CHECK(ids_are(d.removed, d.nremoved, five, 1));
	CHECK(ids_are(d.changed, d.nchanged, three, 1));
	map_diff_free(&d);
	REQUIRE_INT(apply_diff(m, delta_v15, &d, NULL, 0), 0);
	CHECK(d.self && d.relays && !d.filter);
	CHECK(ids_are(d.removed, d.nremoved, two, 1));
	CHECK_INT(d.nadded + d.nchanged, 0);
	map_diff_free(&d);
	map_del(m);
}

static void resent_unchanged_peer_is_no_change(void)
{
	struct map_diff d;
	struct map *m;

	REQUIRE_INT(map_new(&m), 0);
	REQUIRE_INT(apply(m, full_v10), 0);
	REQUIRE_INT(apply_diff(m, "{\"version\": 11, \"full\": false, "
				  "\"peers\": [" PEER(2, "lab-gw", "100.64.0.2",
						      "true") "]}",
			       &d, NULL, 0), 0);
	CHECK(!map_diff_any(&d));
	CHECK_INT(map_version(m), 11);
	CHECK_STR(map_peer(m, 2)->name, "lab-gw");
	map_diff_free(&d);
	/* A full map equal to what we hold changes no peer either. */
	REQUIRE_INT(apply_diff(m, full_v10, &d, NULL, 0), 0);
	CHECK_INT(d.nadded + d.nremoved + d.nchanged, 0);
	map_diff_free(&d);
	map_del(m);
}

static void peers_and_parts_are_typed(void)
{
	static const char text[] =
		"{\"version\": 4, \"full\": true, \"self\": " SELF ", "
		"\"peers\": [{\"id\": 2, \"name\": \"gw\", \"public_key\": \""
		KEY "\", \"ipv4\": \"100.64.0.2\", \"ipv6\": null, "
		"\"allowed_ips\": [\"10.1.0.9/24\", \"100.64.0.2/32\"], "
		"\"endpoints\": [\"192.0.2.7:41641\", \"[2001:db8::1]:9\"], "
		"\"online\": true, \"future_field\": {\"x\": 1}}], "
		"\"filter\": [{\"proto\": \"udp\", \"src\": [\"100.64.0.0/10\"],"
		" \"dst\": [{\"prefix\": \"100.64.0.1\", \"ports\": \"53,60-70\"},"
		" {\"prefix\": \"self\", \"ports\": \"*\"}]}],"
		"\"dns\": {\"suffix\": \"weft.internal\", \"resources\": "
		"[{\"name\": \"db\", \"address\": \"10.1.0.5\"}]},"
		"\"relays\": [{\"id\": 1, \"name\": \"fra\", \"address\": "
		"\"relay.example:443\", \"public_key_pin\": \"" KEY "\"}]}";
	const struct map_peer *p;
	const struct map_rule *r;
	const struct map_relay *rl;
	const struct map_dns *dns;
	struct ip_prefix want;
	size_t n;
	struct map *m;

	REQUIRE_INT(map_new(&m), 0);
	REQUIRE_INT(apply(m, text), 0);
	p = map_peer(m, 2);
	REQUIRE(p != NULL);
	CHECK_STR(p->name, "gw");
	CHECK(p->dns_name == NULL);
	CHECK(p->has_key && p->key[0] == 0 && p->key[31] == 31);
	CHECK_INT(p->ipv4.family, 4);
	CHECK_INT(p->ipv6.family, 0);
	REQUIRE_INT(p->nallowed, 2);
	/* Host bits are cleared. */
	REQUIRE_INT(ip_prefix_parse("10.1.0.0/24", &want, 0), 0);
	CHECK(p->allowed_ips[0].len == 24 &&
	      ip_addr_eq(&p->allowed_ips[0].addr, &want.addr));
	REQUIRE_INT(p->nendpoints, 2);
	CHECK_INT(p->endpoints[1].addr.family, 6);
	CHECK_INT(p->endpoints[1].port, 9);
	CHECK(p->online);
	CHECK(map_self(m) && map_self(m)->id == 1 &&
	      map_self(m)->ipv4.family == 4);
	r = map_rules(m, &n);
	REQUIRE_INT(n, 1);
	CHECK_INT(r[0].proto, MAP_PROTO_UDP);
	REQUIRE_INT(r[0].ndst, 2);
	CHECK(!r[0].dst[0].self);
	CHECK_INT(r[0].dst[0].prefix.len, 32);
	/* "self" is kept as a token; filter.c resolves it. */
	CHECK(r[0].dst[1].self && r[0].dst[1].all_ports);
	REQUIRE_INT(r[0].dst[0].nports, 2);
	CHECK(r[0].dst[0].ports[1].lo == 60 && r[0].dst[0].ports[1].hi == 70);
	dns = map_dns(m);
	REQUIRE(dns != NULL);
	REQUIRE_INT(dns->nresources, 1);
	CHECK_STR(dns->resources[0].address, "10.1.0.5");
	rl = map_relays(m, &n);
	REQUIRE_INT(n, 1);
	CHECK(rl[0].has_pin && rl[0].pin[1] == 1);
	CHECK_STR(rl[0].address, "relay.example:443");
	map_del(m);
}

static void bad_values_are_refused_with_a_reason(void)
{
	static const char *const bad[] = {
		"{\"version\": 11, \"full\": false, \"peers\": [{\"id\": 4, "
		"\"public_key\": \"k4\"}]}",
		"{\"version\": 11, \"full\": false, \"peers\": [{\"id\": 4, "
		"\"ipv4\": \"fd7a::4\"}]}",
		"{\"version\": 11, \"full\": false, \"peers\": [{\"id\": 4, "
		"\"allowed_ips\": [\"10.0.0.0/33\"]}]}",
		"{\"version\": 11, \"full\": false, \"peers\": [{\"id\": 4, "
		"\"endpoints\": [\"example.com:80\"]}]}",
		"{\"version\": 11, \"full\": false, \"peers\": [{\"id\": 4, "
		"\"online\": \"yes\"}]}",
		"{\"version\": 11, \"full\": false, \"peers\": [{\"id\": 4, "
		"\"name\": 7}]}",
		"{\"version\": 11, \"full\": false, \"filter\": [{\"proto\": "
		"\"tcp\", \"src\": [], \"dst\": [], \"x\": 1}]}",
		"{\"version\": 11, \"full\": false, \"filter\": [{\"proto\": "
		"\"tcp\", \"src\": [], \"dst\": [{\"prefix\": \"1.2.3.4\", "
		"\"ports\": \"0\"}]}]}",
		"{\"version\": 11, \"full\": false, \"relays\": [{\"id\": 1, "
		"\"name\": \"fra\", \"public_key_pin\": \"nope\"}]}",
		"{\"version\": 11, \"full\": false, \"dns\": {\"resources\": "
		"[{\"name\": \"db\"}]}}",
		"{\"version\": 11, \"full\": false, \"self\": {\"id\": -1}}",
	};
	struct map *m;
	json_t *before;
	char err[200];

	REQUIRE_INT(map_new(&m), 0);
	REQUIRE_INT(apply(m, full_v10), 0);
	before = map_to_json(m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *after;

		err[0] = '\0';
		if (!CHECK(apply_diff(m, bad[i], NULL, err, sizeof(err)) < 0))
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(err[0] != '\0');
		after = map_to_json(m);
		CHECK(json_equal(before, after));
		json_decref(after);
		CHECK(map_needs_full(m));
		/* Back in step for the next case. */
		REQUIRE_INT(apply(m, full_v10), 0);
	}
	json_decref(before);
	map_del(m);
}

static void refused_full_map_makes_the_next_delta_wait_for_a_full(void)
{
	struct map *m;

	REQUIRE_INT(map_new(&m), 0);
	REQUIRE_INT(apply(m, full_v10), 0);
	CHECK(apply(m, "{\"version\": 20, \"full\": true, \"peers\": "
		       "[{\"id\": 2, \"endpoints\": [\"nope\"]}]}") < 0);
	/* The old map is still in use ... */
	CHECK_INT(map_peer_count(m), 3);
	CHECK_INT(map_version(m), 10);
	/* ... but a delta on top of the refused version cannot apply. */
	CHECK_INT(apply(m, "{\"version\": 21, \"full\": false, "
			   "\"peers_removed\": [3]}"), WEFT_ERR_PROTO);
	CHECK_INT(map_peer_count(m), 3);
	CHECK_INT(apply(m, full_v15), 0);
	CHECK(!map_needs_full(m));
	map_del(m);
}

static void diff_says_when_routes_must_change(void)
{
	struct map_diff d;
	struct map *m;

	REQUIRE_INT(map_new(&m), 0);
	REQUIRE_INT(apply(m, full_v10), 0);
	/* Only the endpoints and online flag: same addresses. */
	REQUIRE_INT(apply_diff(m, "{\"version\": 11, \"full\": false, "
				  "\"peers\": [{\"id\": 3, \"name\": \"db\", "
				  "\"ipv4\": \"100.64.0.3\", \"ipv6\": "
				  "\"fd7a:115c:a1e0::3\", \"allowed_ips\": "
				  "[\"100.64.0.3/32\"], \"endpoints\": "
				  "[\"192.0.2.3:41641\"], \"online\": true}]}",
			       &d, NULL, 0), 0);
	CHECK_INT(d.nchanged, 1);
	CHECK(!d.addrs);
	map_diff_free(&d);
	/* A subnet route more. */
	REQUIRE_INT(apply_diff(m, "{\"version\": 12, \"full\": false, "
				  "\"peers\": [{\"id\": 3, \"ipv4\": "
				  "\"100.64.0.3\", \"allowed_ips\": "
				  "[\"100.64.0.3/32\", \"10.9.0.0/16\"]}]}",
			       &d, NULL, 0), 0);
	CHECK(d.addrs);
	map_diff_free(&d);
	/* A peer leaving always changes routes. */
	REQUIRE_INT(apply_diff(m, "{\"version\": 13, \"full\": false, "
				  "\"peers_removed\": [2]}", &d, NULL, 0), 0);
	CHECK(d.addrs);
	map_diff_free(&d);
	map_del(m);
}

/* What the controller renders for a client (docs/internals/netmap.md). */
#define RESOURCES                                                           \
	"[{\"id\": 8, \"name\": \"db\", \"type\": \"dns\", \"address\": "     \
	"\"db.corp.test\", \"prefixes\": [\"100.96.0.1/32\", "               \
	"\"fd7a:115c:a1e0:ffff::6460:1/128\"], \"filters\": [{\"protocol\": " \
	"\"tcp\", \"ports\": [\"5432\", \"6000-6100\"]}], \"connectors\": "   \
	"[2, 3]},"                                                           \
	"{\"id\": 9, \"name\": \"exit\", \"type\": \"internet\", \"address\": " \
	"\"internet\", \"prefixes\": [\"0.0.0.0/0\", \"::/0\"], \"filters\": " \
	"[], \"connectors\": []},"                                           \
	"{\"id\": 7, \"name\": \"web\", \"type\": \"ip\", \"address\": "      \
	"\"10.5.0.10\", \"prefixes\": [\"10.5.0.10/32\"], \"filters\": "      \
	"[{\"protocol\": \"tcp\", \"ports\": [\"443\"]}, {\"protocol\": "     \
	"\"icmp\", \"ports\": []}], \"connectors\": [2], \"later\": 1}]"

#define SERVES                                                              \
	"[{\"id\": 4, \"name\": \"lan\", \"type\": \"wildcard\", \"address\": " \
	"\"*.corp.test\", \"prefixes\": [\"100.104.0.0/24\"], \"filters\": "   \
	"[{\"protocol\": \"udp\", \"ports\": []}]},"                         \
	"{\"id\": 5, \"name\": \"net\", \"type\": \"cidr\", \"address\": "    \
	"\"10.8.0.0/16\", \"prefixes\": [\"10.8.0.0/16\"], \"filters\": []}]"

static void resources_and_serves_are_typed_and_replaced_by_deltas(void)
{
	const struct map_res *r;
	struct map_diff d;
	struct map *m;
	json_t *back;
	size_t n;

	REQUIRE_INT(map_new(&m), 0);
	r = map_resources(m, &n);
	CHECK(r == NULL && n == 0);
	REQUIRE_INT(apply_diff(m, "{\"version\": 10, \"full\": true, "
				  "\"self\": " SELF ", \"peers\": [], "
				  "\"resources\": " RESOURCES ", \"serves\": "
				  SERVES "}", &d, NULL, 0), 0);
	CHECK(d.resources && d.serves);
	map_diff_free(&d);
	r = map_resources(m, &n);
	REQUIRE_INT(n, 3);
	CHECK_INT(r[0].id, 8);
	CHECK_STR(r[0].name, "db");
	CHECK_INT(r[0].type, MAP_RES_DNS);
	CHECK_STR(r[0].address, "db.corp.test");
	REQUIRE_INT(r[0].nprefixes, 2);
	CHECK_INT(r[0].prefixes[0].len, 32);
	CHECK_INT(r[0].prefixes[1].addr.family, 6);
	REQUIRE_INT(r[0].nfilters, 1);
	CHECK_INT(r[0].filters[0].proto, MAP_PROTO_TCP);
	REQUIRE_INT(r[0].filters[0].nports, 2);
	CHECK_INT(r[0].filters[0].ports[1].lo, 6000);
	CHECK_INT(r[0].filters[0].ports[1].hi, 6100);
	REQUIRE_INT(r[0].nconnectors, 2);
	CHECK_INT(r[0].connectors[1], 3);
	CHECK_INT(r[1].type, MAP_RES_INTERNET);
	CHECK_INT(r[1].nprefixes, 2);
	CHECK_INT(r[1].nfilters, 0);
	CHECK_INT(r[1].nconnectors, 0);
	CHECK_INT(r[2].filters[1].proto, MAP_PROTO_ICMP);
	CHECK_INT(r[2].filters[1].nports, 0);
	r = map_serves(m, &n);
	REQUIRE_INT(n, 2);
	CHECK_INT(r[0].type, MAP_RES_WILDCARD);
	CHECK_STR(r[0].address, "*.corp.test");
	CHECK_INT(r[0].nconnectors, 0);
	CHECK_INT(r[1].type, MAP_RES_CIDR);
	/* Shown as the map said it (unknown fields left out). */
	back = mapjson_res_json(map_resources(m, &n), n, false);
	CHECK(back && json_array_size(back) == 3);
	CHECK_STR(json_string_value(json_object_get(
			  json_array_get(back, 0), "address")), "db.corp.test");
	CHECK(!json_object_get(json_array_get(back, 2), "later"));
	json_decref(back);
	/* A delta without them keeps them; one with them replaces them. */
	REQUIRE_INT(apply_diff(m, "{\"version\": 11, \"full\": false, "
				  "\"peers_removed\": [5]}", &d, NULL, 0), 0);
	CHECK(!d.resources && !d.serves);
	map_diff_free(&d);
	map_resources(m, &n);
	CHECK_INT(n, 3);
	REQUIRE_INT(apply_diff(m, "{\"version\": 12, \"full\": false, "
				  "\"resources\": []}", &d, NULL, 0), 0);
	CHECK(d.resources && !d.serves && map_diff_any(&d));
	map_diff_free(&d);
	map_resources(m, &n);
	CHECK_INT(n, 0);
	map_serves(m, &n);
	CHECK_INT(n, 2);
	/* A full map without them has none. */
	REQUIRE_INT(apply(m, full_v10), 0);
	map_serves(m, &n);
	CHECK_INT(n, 0);
	map_del(m);
}

static void bad_resources_are_refused_with_a_reason(void)
{
	static const char *const bad[] = {
		/* not an array, not objects, no id */
		"\"resources\": {}",
		"\"resources\": [1]",
		"\"resources\": [{\"name\": \"x\", \"type\": \"ip\", "
		"\"address\": \"10.0.0.1\", \"prefixes\": [\"10.0.0.1/32\"]}]",
		/* unknown type, missing name */
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"url\", "
		"\"address\": \"10.0.0.1\", \"prefixes\": [\"10.0.0.1/32\"]}]",
		"\"resources\": [{\"id\": 1, \"type\": \"ip\", "
		"\"address\": \"10.0.0.1\", \"prefixes\": [\"10.0.0.1/32\"]}]",
		/* address, prefixes and type disagree */
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"ip\", "
		"\"address\": \"10.0.0.1\", \"prefixes\": [\"10.0.0.2/32\"]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"ip\", "
		"\"address\": \"10.0.0.0/8\", \"prefixes\": [\"10.0.0.0/8\"]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"cidr\", "
		"\"address\": \"10.0.0.1/8\", \"prefixes\": [\"10.0.0.0/8\"]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": "
		"\"internet\", \"address\": \"internet\", \"prefixes\": "
		"[\"0.0.0.0/0\"]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"*.corp\", \"prefixes\": []}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [\"100.96.0.1/32\", "
		"\"100.96.0.2/32\"]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [\"a\", \"b\", \"c\"]}]",
		/* filters */
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [], \"filters\": "
		"[{\"protocol\": \"sctp\"}]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [], \"filters\": "
		"[{\"protocol\": \"tcp\"}, {\"protocol\": \"tcp\"}]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [], \"filters\": "
		"[{\"protocol\": \"tcp\", \"ports\": [\"0\"]}]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [], \"filters\": "
		"[{\"protocol\": \"tcp\", \"ports\": [\"9-8\"]}]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [], \"filters\": "
		"[{\"protocol\": \"icmp\", \"ports\": [\"8\"]}]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [], \"filters\": "
		"[{\"protocol\": \"tcp\"}, {\"protocol\": \"udp\"}, "
		"{\"protocol\": \"icmp\"}, {\"protocol\": \"tcp\"}]}]",
		/* connectors */
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [], \"connectors\": [0]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [], \"connectors\": [3, 2]}]",
		"\"resources\": [{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		"\"address\": \"db\", \"prefixes\": [], \"connectors\": \"2\"}]",
		"\"serves\": [{\"id\": 1, \"name\": \"x\", \"type\": \"cidr\", "
		"\"address\": \"10.0.0.0/8\", \"prefixes\": []}]",
	};
	struct map *m;
	json_t *before;
	char err[200], text[1024];

	REQUIRE_INT(map_new(&m), 0);
	REQUIRE_INT(apply(m, full_v10), 0);
	before = map_to_json(m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *after;

		snprintf(text, sizeof(text),
			 "{\"version\": 11, \"full\": false, %s}", bad[i]);
		err[0] = '\0';
		if (!CHECK(apply_diff(m, text, NULL, err, sizeof(err)) < 0))
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(err[0] != '\0');
		after = map_to_json(m);
		CHECK(json_equal(before, after));
		json_decref(after);
		REQUIRE_INT(apply(m, full_v10), 0);
	}
	json_decref(before);
	map_del(m);
}

static void resource_limits_are_enforced(void)
{
	json_t *a = json_array(), *one;
	struct map_res *v = NULL;
	char err[200];
	size_t n = 0;

	REQUIRE(a);
	one = parse("{\"id\": 1, \"name\": \"x\", \"type\": \"dns\", "
		    "\"address\": \"db\", \"prefixes\": []}");
	for (int i = 0; i < MAP_MAX_RES; i++)
		json_array_append(a, one);
	CHECK_INT(mapjson_res(a, true, &v, &n, err, sizeof(err)), 0);
	CHECK_INT(n, MAP_MAX_RES);
	mapjson_res_free(v, n);
	json_array_append(a, one);
	CHECK_INT(mapjson_res(a, true, &v, &n, err, sizeof(err)),
		  WEFT_ERR_TOOBIG);
	json_decref(one);
	json_decref(a);
	/* 33 port ranges in one filter. */
	a = json_array();
	for (int i = 1; i <= MAP_RES_PORTS + 1; i++) {
		char p[8];

		snprintf(p, sizeof(p), "%d", i);
		json_array_append_new(a, json_string(p));
	}
	one = json_pack("[{s:I, s:s, s:s, s:s, s:[], s:[{s:s, s:O}]}]", "id",
			(json_int_t)1, "name", "x", "type", "dns", "address",
			"db", "prefixes", "filters", "protocol", "tcp",
			"ports", a);
	CHECK_INT(mapjson_res(one, true, &v, &n, err, sizeof(err)),
		  WEFT_ERR_INVAL);
	json_decref(one);
	json_decref(a);
}

static const struct check_case cases[] = {
	CHECK_CASE(full_map_then_deltas_equal_the_full_map),
	CHECK_CASE(peers_removed_drops_only_those_ids),
	CHECK_CASE(keepalive_changes_nothing_but_keeps_version),
	CHECK_CASE(full_map_replaces_every_peer_and_part),
	CHECK_CASE(peers_are_listed_by_id),
	CHECK_CASE(delta_before_any_full_map_is_refused),
	CHECK_CASE(malformed_answers_leave_the_map_unchanged),
	CHECK_CASE(diff_lists_added_removed_and_changed_peers),
	CHECK_CASE(resent_unchanged_peer_is_no_change),
	CHECK_CASE(peers_and_parts_are_typed),
	CHECK_CASE(bad_values_are_refused_with_a_reason),
	CHECK_CASE(refused_full_map_makes_the_next_delta_wait_for_a_full),
	CHECK_CASE(diff_says_when_routes_must_change),
	CHECK_CASE(resources_and_serves_are_typed_and_replaced_by_deltas),
	CHECK_CASE(bad_resources_are_refused_with_a_reason),
	CHECK_CASE(resource_limits_are_enforced),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
