/* Resources API (controller/api_resources.c), in process over a real store
 * (SQLite, and PostgreSQL as <name>_postgres): addresses and their types,
 * filters, connector sets, mapped prefixes of DNS resources, and the
 * policy staying valid across resource edits. */
#include "check.h"
#include "ctl_fixture.h"

#include "controller/api.h"
#include "controller/cred.h"
#include "controller/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fixture (ctl_fixture.h) with alice, a member with an API key, and
 * bob, a member without one (fx_open_members); the policy declares the
 * connector tags tag:c and tag:edge. */
static struct fx F;
static char member[FX_AUTH_SIZE];
static int64_t alice, bob;

#define TAGS_POLICY "{\"tagOwners\":{\"tag:c\":[],\"tag:edge\":[]}}"

static bool setup(void)
{
	return fx_open_members(&F, &alice, &bob, member) &&
	       fx_call(&F, "PUT", "/api/v1/policy", F.admin, TAGS_POLICY) == 200;
}

static void teardown(void)
{
	fx_close(&F);
}

/* POSTs {"name": name, "address": address, "connectors": {"tags":
 * ["tag:c"]}} plus extra (",\"filters\":[...]" or ""); returns the
 * status. */
static int create(const char *name, const char *address, const char *extra)
{
	char body[2048];

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"address\":\"%s\",\"connectors\":"
		 "{\"tags\":[\"tag:c\"]}%s}",
		 name, address, extra);
	return fx_call(&F, "POST", "/api/v1/resources", F.admin, body);
}

/* The compact JSON of o[key] (freed by the next call). */
static const char *jtext(const json_t *o, const char *key)
{
	static char *last;

	free(last);
	last = json_dumps(json_object_get(o, key),
			  JSON_COMPACT | JSON_ENCODE_ANY);
	return last ? last : "";
}

static void creates_resource_with_defaults(void)
{
	struct store_audit a;
	char idtext[24];
	int64_t v0;

	REQUIRE(setup());
	v0 = fx_netmap_version(&F);
	REQUIRE_INT(create("web", "10.0.0.5", ""), 201);
	CHECK(fx_jint(F.r.json, "id") > 0);
	CHECK_STR(fx_jstr(F.r.json, "name"), "web");
	CHECK_STR(fx_jstr(F.r.json, "address"), "10.0.0.5");
	CHECK_STR(fx_jstr(F.r.json, "type"), "ip");
	CHECK_STR(jtext(F.r.json, "filters"), "[]");
	CHECK_STR(jtext(F.r.json, "connectors"),
		  "{\"nodes\":[],\"tags\":[\"tag:c\"]}");
	CHECK(json_is_null(json_object_get(F.r.json, "mapped")));
	CHECK(json_is_string(json_object_get(F.r.json, "created_at")));
	CHECK_INT(json_object_size(F.r.json), 8);
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, fx_jint(F.r.json, "id"));
	REQUIRE_INT(fx_audit_count(&F, "resource.create", idtext, &a), 1);
	CHECK_STR(a.target_type, "resource");
	CHECK(strstr(a.detail, "10.0.0.5") != NULL);
}

static void creates_resource_served_by_a_set_of_connectors(void)
{
	char body[512], want[128];
	int64_t n1, n2;

	REQUIRE(setup());
	n1 = fx_node(&F, "c1", 0, "[\"tag:c\"]", 1, NULL);
	n2 = fx_node(&F, "c2", 0, NULL, 1, NULL);
	REQUIRE(n1 > 0 && n2 > 0);
	/* A set: order and repeats do not matter. */
	snprintf(body, sizeof(body),
		 "{\"name\":\"db\",\"address\":\"db.internal\",\"filters\":"
		 "[{\"protocol\":\"tcp\",\"ports\":[\"5432\"]}],\"connectors\":"
		 "{\"nodes\":[%" PRId64 ",%" PRId64 ",%" PRId64 "],\"tags\":"
		 "[\"tag:edge\",\"tag:c\",\"tag:edge\"]}}",
		 n2, n1, n2);
	REQUIRE_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin, body), 201);
	snprintf(want, sizeof(want),
		 "{\"nodes\":[%" PRId64 ",%" PRId64 "],\"tags\":[\"tag:c\","
		 "\"tag:edge\"]}", n1, n2);
	CHECK_STR(jtext(F.r.json, "connectors"), want);
	CHECK_STR(jtext(F.r.json, "filters"),
		  "[{\"protocol\":\"tcp\",\"ports\":[\"5432\"]}]");
	CHECK_STR(fx_jstr(F.r.json, "type"), "dns");
}

static void derives_types_and_normalizes_addresses(void)
{
	static const struct {
		const char *in, *out, *type;
	} cases[] = {
		{"2001:DB8:0:0::1", "2001:db8::1", "ip"},
		{"10.1.0.0/16", "10.1.0.0/16", "cidr"},
		{"FD00:AB::/32", "fd00:ab::/32", "cidr"},
		{"10.0.0.7/32", "10.0.0.7/32", "cidr"},
		{"Intranet.Example.com", "intranet.example.com", "dns"},
		{"printer", "printer", "dns"},
		{"*.Corp.Test", "*.corp.test", "wildcard"},
		{"internet", "internet", "internet"},
	};
	char name[16];

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "r%zu", i);
		REQUIRE_INT(create(name, cases[i].in, ""), 201);
		CHECK_STR(fx_jstr(F.r.json, "address"), cases[i].out);
		CHECK_STR(fx_jstr(F.r.json, "type"), cases[i].type);
	}
}

static void rejects_bad_addresses(void)
{
	static const char *bad[] = {
		"10.0.0.256", "1.2.3.4/33", "10.0.0.0/", "-a.example",
		"a-.example", "a..b", "a.b.", ".a", "a_b.example", "10.0.0.1 ",
		"fe80::1%eth0", "host:80", "*", "*.", "a.*.b", "**.b", "*b.c",
		"*.10.0.0.1", "Internet ", "0.0.0.0/0 ",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	};

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(create("r", bad[i], ""), 400);
		CHECK_STR(fx_err_field(&F.r), "address");
	}
	CHECK_INT(create("r", "10.0.0.1/8", ""), 400);
	CHECK_STR(fx_err_field(&F.r), "address");
	CHECK(strstr(fx_err_msg(&F.r), "10.0.0.0/8") != NULL);
	CHECK_INT(create("r", "", ""), 400);
	CHECK_STR(fx_err_field(&F.r), "address");
	CHECK_INT(fx_audit_count(&F, "resource.create", NULL, NULL), 0);
}

static void reads_filters_in_canonical_order(void)
{
	REQUIRE(setup());
	REQUIRE_INT(create("f", "10.0.0.1",
			   ",\"filters\":[{\"protocol\":\"icmp\"},"
			   "{\"protocol\":\"udp\",\"ports\":[]},"
			   "{\"protocol\":\"tcp\",\"ports\":[\"8000-8100\","
			   "\"443\",\"1\",\"65535\",\"7-7\"]}]"),
		    201);
	CHECK_STR(jtext(F.r.json, "filters"),
		  "[{\"protocol\":\"tcp\",\"ports\":[\"1\",\"7\",\"443\","
		  "\"8000-8100\",\"65535\"]},{\"protocol\":\"udp\",\"ports\":"
		  "[]},{\"protocol\":\"icmp\",\"ports\":[]}]");
	REQUIRE_INT(create("g", "10.0.0.1", ",\"filters\":[]"), 201);
	CHECK_STR(jtext(F.r.json, "filters"), "[]");
	REQUIRE_INT(create("h", "10.0.0.1",
			   ",\"filters\":[{\"protocol\":\"udp\",\"ports\":null}]"),
		    201);
	CHECK_STR(jtext(F.r.json, "filters"),
		  "[{\"protocol\":\"udp\",\"ports\":[]}]");
}

static void rejects_bad_filters_naming_the_value(void)
{
	static const struct {
		const char *filters, *field;
	} bad[] = {
		{"[{\"protocol\":\"sctp\"}]", "filters[0].protocol"},
		{"[{\"protocol\":\"any\"}]", "filters[0].protocol"},
		{"[{\"protocol\":\"TCP\"}]", "filters[0].protocol"},
		{"[{\"ports\":[\"80\"]}]", "filters[0].protocol"},
		{"[{\"protocol\":\"tcp\",\"ports\":[\"0\"]}]",
		 "filters[0].ports[0]"},
		{"[{\"protocol\":\"tcp\",\"ports\":[\"80\",\"65536\"]}]",
		 "filters[0].ports[1]"},
		{"[{\"protocol\":\"tcp\",\"ports\":[\"90-80\"]}]",
		 "filters[0].ports[0]"},
		{"[{\"protocol\":\"tcp\",\"ports\":[\"08\"]}]",
		 "filters[0].ports[0]"},
		{"[{\"protocol\":\"tcp\",\"ports\":[\"http\"]}]",
		 "filters[0].ports[0]"},
		{"[{\"protocol\":\"tcp\",\"ports\":[\"80-\"]}]",
		 "filters[0].ports[0]"},
		{"[{\"protocol\":\"tcp\",\"ports\":[\"*\"]}]",
		 "filters[0].ports[0]"},
		{"[{\"protocol\":\"tcp\",\"ports\":[80]}]", "filters[0].ports[0]"},
		{"[{\"protocol\":\"tcp\",\"ports\":\"80\"}]", "filters[0].ports"},
		{"[{\"protocol\":\"tcp\"},{\"protocol\":\"udp\",\"ports\":"
		 "[\"53\",\"1-100\"]}]", "filters[1].ports[1]"},
		{"[{\"protocol\":\"tcp\",\"ports\":[\"80-90\",\"85\"]}]",
		 "filters[0].ports[1]"},
		{"[{\"protocol\":\"icmp\",\"ports\":[\"8\"]}]", "filters[0].ports"},
		{"[{\"protocol\":\"tcp\"},{\"protocol\":\"tcp\"}]",
		 "filters[1].protocol"},
		{"[{\"protocol\":\"tcp\",\"color\":1}]", "filters[0].color"},
		{"[\"tcp\"]", "filters[0]"},
		{"[{\"protocol\":\"tcp\"},{\"protocol\":\"udp\"},"
		 "{\"protocol\":\"icmp\"},{\"protocol\":\"tcp\"}]", "filters"},
	};
	char extra[512], ports[400];
	size_t len = 0;

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), ",\"filters\":%s", bad[i].filters);
		CHECK_INT(create("r", "10.0.0.1", extra), 400);
		CHECK_STR(fx_err_field(&F.r), bad[i].field);
	}
	/* At most 32 port ranges per protocol. */
	for (int p = 1; p <= 33; p++)
		len += (size_t)snprintf(ports + len, sizeof(ports) - len,
					"%s\"%d\"", p > 1 ? "," : "", p);
	snprintf(extra, sizeof(extra),
		 ",\"filters\":[{\"protocol\":\"tcp\",\"ports\":[%s]}]", ports);
	CHECK_INT(create("r", "10.0.0.1", extra), 400);
	CHECK_STR(fx_err_field(&F.r), "filters[0].ports");
	CHECK_INT(create("r", "10.0.0.1", ",\"filters\":\"tcp\""), 400);
	CHECK_STR(fx_err_field(&F.r), "filters");
	CHECK_INT(fx_audit_count(&F, "resource.create", NULL, NULL), 0);
}

static void needs_existing_connector_nodes_or_declared_tags(void)
{
	char body[512], nodes[256];
	size_t len = 0;
	int64_t n;

	REQUIRE(setup());
	n = fx_node(&F, "conn", 0, NULL, 0, NULL);
	REQUIRE(n > 0);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connectors");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connectors\":{}}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connectors");
	CHECK(strstr(fx_err_msg(&F.r), "at least one connector") != NULL);
	snprintf(body, sizeof(body),
		 "{\"name\":\"r\",\"address\":\"10.0.0.1\",\"connectors\":"
		 "{\"nodes\":[%" PRId64 ",999]}}", n);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin, body), 400);
	CHECK_STR(fx_err_field(&F.r), "connectors.nodes[1]");
	CHECK(strstr(fx_err_msg(&F.r), "999") != NULL);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connectors\":{\"nodes\":[0]}}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connectors.nodes[0]");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connectors\":{\"nodes\":[\"1\"]}}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connectors.nodes[0]");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connectors\":{\"tags\":[\"servers\"]}}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connectors.tags[0]");
	/* A tag the policy does not declare, as auth keys refuse it. */
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connectors\":{\"tags\":[\"tag:c\",\"tag:nope\"]}}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connectors.tags[1]");
	CHECK(strstr(fx_err_msg(&F.r), "tagOwners") != NULL);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connectors\":{\"tags\":[\"tag:c\"],\"zone\":1}}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connectors.zone");
	for (int i = 1; i <= 17; i++)
		len += (size_t)snprintf(nodes + len, sizeof(nodes) - len,
					"%s%" PRId64, i > 1 ? "," : "", n);
	snprintf(body, sizeof(body),
		 "{\"name\":\"r\",\"address\":\"10.0.0.1\",\"connectors\":"
		 "{\"nodes\":[%s]}}", nodes);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin, body), 400);
	CHECK_STR(fx_err_field(&F.r), "connectors.nodes");
	CHECK_INT(fx_audit_count(&F, "resource.create", NULL, NULL), 0);
}

static void old_fields_are_gone(void)
{
	REQUIRE(setup());
	CHECK_INT(create("r", "10.0.0.1", ",\"protocol\":\"tcp\""), 400);
	CHECK_STR(fx_err_field(&F.r), "protocol");
	CHECK_INT(create("r", "10.0.0.1", ",\"ports\":\"80\""), 400);
	CHECK_STR(fx_err_field(&F.r), "ports");
	CHECK_INT(create("r", "10.0.0.1", ",\"connector_tag\":\"tag:c\""), 400);
	CHECK_STR(fx_err_field(&F.r), "connector_tag");
	CHECK_INT(create("r", "10.0.0.1", ",\"connector_node_id\":1"), 400);
	CHECK_STR(fx_err_field(&F.r), "connector_node_id");
	/* type and mapped are derived: read only. */
	CHECK_INT(create("r", "10.0.0.1", ",\"type\":\"ip\""), 400);
	CHECK_STR(fx_err_field(&F.r), "type");
}

static void rejects_bad_and_duplicate_names(void)
{
	static const char *bad[] = {"Web", "-web", "_w", "w b", "w/b", ""};
	int64_t v0;

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(create(bad[i], "10.0.0.1", ""), 400);
		CHECK_STR(fx_err_field(&F.r), "name");
	}
	REQUIRE_INT(create("web.1_a-b", "10.0.0.1", ""), 201);
	v0 = fx_netmap_version(&F);
	CHECK_INT(create("web.1_a-b", "10.0.0.2", ""), 409);
	CHECK_STR(fx_err_code(&F.r), "already_exists");
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK(strstr(fx_err_msg(&F.r), "web.1_a-b") != NULL);
	CHECK_INT(fx_netmap_version(&F), v0);
	CHECK_INT(fx_audit_count(&F, "resource.create", NULL, NULL), 1);
}

static void create_rejects_malformed_unknown_mistyped_and_missing(void)
{
	REQUIRE(setup());
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin, "{"), 400);
	CHECK_STR(fx_err_code(&F.r), "parse_error");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin, ""), 400);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"address\":\"10.0.0.1\",\"connectors\":{\"tags\":"
		       "[\"tag:c\"]}}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"connectors\":{\"tags\":[\"tag:c\"]}}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "address");
	CHECK_INT(create("r", "10.0.0.1", ",\"color\":\"red\""), 400);
	CHECK_STR(fx_err_field(&F.r), "color");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":1,\"address\":\"10.0.0.1\"}"),
		  400);
	CHECK_STR(fx_err_code(&F.r), "wrong_type");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connectors\":[1]}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connectors");
	CHECK_INT(fx_audit_count(&F, "resource.create", NULL, NULL), 0);
}

static void gets_and_lists_resources_in_pages(void)
{
	char path[64];
	int64_t id;

	REQUIRE(setup());
	REQUIRE_INT(create("a", "10.0.0.1", ""), 201);
	REQUIRE_INT(create("b", "10.0.0.2", ""), 201);
	id = fx_jint(F.r.json, "id");
	REQUIRE_INT(create("c", "10.0.0.3", ""), 201);
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "name"), "b");
	CHECK_STR(jtext(F.r.json, "connectors"),
		  "{\"nodes\":[],\"tags\":[\"tag:c\"]}");
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/resources?limit=2", F.admin, NULL), 200);
	CHECK_INT(fx_nitems(&F), 2);
	CHECK_STR(fx_jstr(fx_item(&F, 1), "type"), "ip");
	REQUIRE(json_is_string(json_object_get(F.r.json, "next_cursor")));
	snprintf(path, sizeof(path), "/api/v1/resources?limit=2&cursor=%s",
		 fx_jstr(F.r.json, "next_cursor"));
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_STR(json_string_value(json_object_get(fx_item(&F, 0), "name")), "c");
	CHECK(json_is_null(json_object_get(F.r.json, "next_cursor")));
}

static void missing_and_non_numeric_ids_are_404(void)
{
	REQUIRE(setup());
	CHECK_INT(fx_call(&F, "GET", "/api/v1/resources/7", F.admin, NULL), 404);
	CHECK_STR(fx_err_code(&F.r), "not_found");
	CHECK(strstr(fx_err_msg(&F.r), "7") != NULL);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/resources/x", F.admin, NULL), 404);
	CHECK_INT(fx_call(&F, "PATCH", "/api/v1/resources/7", F.admin,
		       "{\"filters\":[]}"),
		  404);
	CHECK_STR(fx_err_field(&F.r), "id");
	CHECK_INT(fx_call(&F, "DELETE", "/api/v1/resources/7", F.admin, NULL), 404);
	CHECK_INT(fx_call(&F, "DELETE", "/api/v1/resources/0", F.admin, NULL), 404);
}

static void patch_revalidates_the_combined_resource(void)
{
	char path[64], body[128], idtext[24], want[96];
	int64_t id, n, v0;

	REQUIRE(setup());
	n = fx_node(&F, "conn", 0, NULL, 0, NULL);
	REQUIRE(n > 0);
	REQUIRE_INT(create("taken", "10.0.0.9", ""), 201);
	REQUIRE_INT(create("web", "10.0.0.1",
			   ",\"filters\":[{\"protocol\":\"tcp\"}]"), 201);
	id = fx_jint(F.r.json, "id");
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	v0 = fx_netmap_version(&F);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin,
			 "{\"filters\":[{\"protocol\":\"tcp\",\"ports\":"
			 "[\"8443\",\"443\"]}]}"),
		    200);
	CHECK_STR(jtext(F.r.json, "filters"),
		  "[{\"protocol\":\"tcp\",\"ports\":[\"443\",\"8443\"]}]");
	CHECK_STR(fx_jstr(F.r.json, "address"), "10.0.0.1");
	CHECK_STR(jtext(F.r.json, "connectors"),
		  "{\"nodes\":[],\"tags\":[\"tag:c\"]}");
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	CHECK_INT(fx_audit_count(&F, "resource.update", idtext, NULL), 1);
	/* connectors is replaced as a whole. */
	snprintf(body, sizeof(body), "{\"connectors\":{\"nodes\":[%" PRId64
		 "]}}", n);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin, body), 200);
	snprintf(want, sizeof(want), "{\"nodes\":[%" PRId64 "],\"tags\":[]}", n);
	CHECK_STR(jtext(F.r.json, "connectors"), want);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin,
			 "{\"connectors\":{\"tags\":[\"tag:edge\"]}}"),
		    200);
	CHECK_STR(jtext(F.r.json, "connectors"),
		  "{\"nodes\":[],\"tags\":[\"tag:edge\"]}");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin,
		       "{\"connectors\":{\"tags\":[]}}"), 400);
	CHECK_STR(fx_err_field(&F.r), "connectors");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":\"taken\"}"), 409);
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"address\":\"10.0.0.1/8\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "address");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin,
		       "{\"filters\":[{\"protocol\":\"udp\",\"ports\":[\"0\"]}]}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "filters[0].ports[0]");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"owner\":\"x\"}"), 400);
	CHECK_STR(fx_err_field(&F.r), "owner");
	CHECK_INT(fx_audit_count(&F, "resource.update", idtext, NULL), 3);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "name"), "web");
	CHECK_STR(fx_jstr(F.r.json, "address"), "10.0.0.1");
	/* Keeping its own name is not a conflict. */
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":\"web\"}"), 200);
}

/* The mapped prefixes of the resource answered last: "ipv4 ipv6". */
static const char *mapped(void)
{
	static char buf[160];
	const json_t *m = json_object_get(F.r.json, "mapped");

	if (!json_is_object(m))
		return "null";
	snprintf(buf, sizeof(buf), "%s %s", fx_jstr(m, "ipv4"),
		 fx_jstr(m, "ipv6"));
	return buf;
}

static void dns_resources_get_stable_mapped_prefixes(void)
{
	char path[64], p1[160], want[160];
	int64_t id1;
	const char *colon;

	REQUIRE(setup());
	REQUIRE_INT(create("db", "db.corp.test", ""), 201);
	id1 = fx_jint(F.r.json, "id");
	CHECK_STR(fx_jstr(json_object_get(F.r.json, "mapped"), "ipv4"),
		  "100.96.0.1/32");
	/* The IPv6 twin: the deployment's /48, subnet ffff, the IPv4
	 * address in the low 32 bits. */
	colon = fx_jstr(json_object_get(F.r.json, "mapped"), "ipv6");
	REQUIRE(colon != NULL);
	CHECK(strstr(colon, ":ffff::6460:1/128") != NULL);
	CHECK(strncmp(colon, "fd", 2) == 0);
	REQUIRE_INT(create("wiki", "wiki.corp.test", ""), 201);
	CHECK_STR(fx_jstr(json_object_get(F.r.json, "mapped"), "ipv4"),
		  "100.96.0.2/32");
	REQUIRE_INT(create("corp", "*.corp.test", ""), 201);
	CHECK_STR(fx_jstr(json_object_get(F.r.json, "mapped"), "ipv4"),
		  "100.104.0.0/24");
	CHECK(strstr(fx_jstr(json_object_get(F.r.json, "mapped"), "ipv6"),
		     ":ffff::6468:0/120") != NULL);
	REQUIRE_INT(create("net", "10.9.0.0/16", ""), 201);
	CHECK_STR(mapped(), "null");
	REQUIRE_INT(create("exit", "internet", ""), 201);
	CHECK_STR(mapped(), "null");

	/* Stable across edits of the name, address and filters. */
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id1);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	snprintf(p1, sizeof(p1), "%s", mapped());
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin,
			 "{\"address\":\"db2.corp.test\",\"name\":\"db2\","
			 "\"filters\":[{\"protocol\":\"tcp\"}]}"),
		    200);
	CHECK_STR(mapped(), p1);
	/* A DNS name turned wildcard gets a block; an IP none. */
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin,
			 "{\"address\":\"*.lab.test\"}"), 200);
	CHECK_STR(fx_jstr(json_object_get(F.r.json, "mapped"), "ipv4"),
		  "100.104.1.0/24");
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin,
			 "{\"address\":\"10.0.0.1\"}"), 200);
	CHECK_STR(mapped(), "null");
	/* Freed: the next DNS resource takes the lowest free slot. */
	REQUIRE_INT(create("db3", "db3.corp.test", ""), 201);
	CHECK_STR(fx_jstr(json_object_get(F.r.json, "mapped"), "ipv4"),
		  "100.96.0.1/32");
	snprintf(want, sizeof(want), "%s", mapped());
	CHECK(strstr(want, ":ffff::6460:1/128") != NULL);
}

static void node_deletion_leaves_the_other_connectors(void)
{
	char path[64], body[256];
	int64_t id, n;

	REQUIRE(setup());
	n = fx_node(&F, "conn", 0, NULL, 0, NULL);
	REQUIRE(n > 0);
	snprintf(body, sizeof(body),
		 "{\"name\":\"r\",\"address\":\"10.0.0.1\",\"connectors\":"
		 "{\"nodes\":[%" PRId64 "],\"tags\":[\"tag:c\"]}}", n);
	REQUIRE_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin, body), 201);
	snprintf(body, sizeof(body),
		 "{\"name\":\"only\",\"address\":\"10.0.0.2\",\"connectors\":"
		 "{\"nodes\":[%" PRId64 "]}}", n);
	REQUIRE_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin, body), 201);
	id = fx_jint(F.r.json, "id");
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, n);
	REQUIRE_INT(fx_call(&F, "DELETE", path, F.admin, NULL), 204);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/resources", F.admin, NULL), 200);
	CHECK_STR(jtext(fx_item(&F, 0), "connectors"),
		  "{\"nodes\":[],\"tags\":[\"tag:c\"]}");
	/* A resource left without connectors must get one with its next
	 * edit. */
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(jtext(F.r.json, "connectors"), "{\"nodes\":[],\"tags\":[]}");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"filters\":[]}"), 400);
	CHECK_STR(fx_err_field(&F.r), "connectors");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin,
		       "{\"connectors\":{\"tags\":[\"tag:c\"]}}"),
		  200);
}

static void edits_that_would_break_the_policy_are_refused(void)
{
	static const char *policy =
		"{\"tagOwners\":{\"tag:c\":[]},\"acls\":[{\"action\":"
		"\"accept\",\"src\":[\"alice\"],\"proto\":\"tcp\",\"dst\":"
		"[\"resource:web:443\"]}]}";
	char path[64];
	int64_t id, v0;

	REQUIRE(setup());
	REQUIRE_INT(create("web", "10.0.0.1",
			   ",\"filters\":[{\"protocol\":\"tcp\",\"ports\":"
			   "[\"443\"]}]"), 201);
	id = fx_jint(F.r.json, "id");
	REQUIRE_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, policy), 200);
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	v0 = fx_netmap_version(&F);
	/* udp only: the rule would give nothing. */
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin,
		       "{\"filters\":[{\"protocol\":\"udp\"}]}"),
		  409);
	CHECK_STR(fx_err_field(&F.r), "filters");
	CHECK(strstr(fx_err_msg(&F.r), "acls[0].dst[0]") != NULL);
	/* Renaming or deleting a resource the policy names. */
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":\"www\"}"), 409);
	CHECK(strstr(fx_err_msg(&F.r), "resource:web") != NULL);
	CHECK_INT(fx_call(&F, "DELETE", path, F.admin, NULL), 409);
	CHECK(strstr(fx_err_msg(&F.r), "resource:web") != NULL);
	CHECK_INT(fx_netmap_version(&F), v0);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(jtext(F.r.json, "filters"),
		  "[{\"protocol\":\"tcp\",\"ports\":[\"443\"]}]");
	/* Widening is fine. */
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin,
		       "{\"filters\":[{\"protocol\":\"tcp\",\"ports\":"
		       "[\"400-500\"]}]}"),
		  200);
}

static void policy_rules_a_resource_narrows_to_nothing_are_refused(void)
{
	char doc[1024];
	static const char *tmpl =
		"{\"tagOwners\":{\"tag:c\":[]},\"acls\":[{\"action\":"
		"\"accept\",\"src\":[\"alice\"],\"proto\":\"%s\",\"dst\":"
		"[\"10.1.0.0/16:*\",\"resource:web:%s\"]}]%s}";

	REQUIRE(setup());
	REQUIRE_INT(create("web", "10.0.0.1",
			   ",\"filters\":[{\"protocol\":\"tcp\",\"ports\":"
			   "[\"443\",\"8000-8100\"]},{\"protocol\":"
			   "\"icmp\"}]"), 201);
	snprintf(doc, sizeof(doc), tmpl, "tcp", "22", "");
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, doc), 400);
	CHECK_STR(fx_err_field(&F.r), "acls[0].dst[1]");
	CHECK(strstr(fx_err_msg(&F.r), "allows nothing") != NULL);
	snprintf(doc, sizeof(doc), tmpl, "udp", "*", "");
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, doc), 400);
	/* Some overlap narrows and is fine; so is icmp. */
	snprintf(doc, sizeof(doc), tmpl, "tcp", "1-500", "");
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, doc), 200);
	snprintf(doc, sizeof(doc), tmpl, "icmp", "*", "");
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, doc), 200);
	/* Tests judge resources with their filters: the rule says every
	 * port, the resource admits 443 and 8000-8100. */
	snprintf(doc, sizeof(doc), tmpl, "tcp", "*",
		 ",\"tests\":[{\"src\":\"alice\",\"accept\":"
		 "[\"resource:web:443\",\"resource:web:8080\"],\"deny\":"
		 "[\"resource:web:22\"]},{\"src\":\"alice\",\"proto\":\"udp\","
		 "\"deny\":[\"resource:web:443\"]}]");
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, doc), 200);
	snprintf(doc, sizeof(doc), tmpl, "tcp", "*",
		 ",\"tests\":[{\"src\":\"alice\",\"accept\":"
		 "[\"resource:web:22\"]}]");
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, doc), 400);
	CHECK(strstr(fx_err_msg(&F.r), "should be accepted") != NULL);
}

static void deletes_resource(void)
{
	char path[64], idtext[24];
	int64_t id, v0;

	REQUIRE(setup());
	REQUIRE_INT(create("web", "10.0.0.1", ""), 201);
	id = fx_jint(F.r.json, "id");
	v0 = fx_netmap_version(&F);
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "DELETE", path, F.admin, NULL), 204);
	CHECK(F.r.json == NULL);
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	CHECK_INT(fx_audit_count(&F, "resource.delete", idtext, NULL), 1);
	CHECK_INT(fx_call(&F, "GET", path, F.admin, NULL), 404);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/resources", F.admin, NULL), 200);
	CHECK_INT(fx_nitems(&F), 0);
	/* The name is free again. */
	CHECK_INT(create("web", "10.0.0.1", ""), 201);
}

static void only_admins_may_manage_resources(void)
{
	REQUIRE(setup());
	CHECK_INT(fx_call(&F, "GET", "/api/v1/resources", member, NULL), 403);
	CHECK_STR(fx_err_code(&F.r), "forbidden");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", member,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connectors\":{\"tags\":[\"tag:c\"]}}"),
		  403);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/resources", NULL, NULL), 401);
	CHECK_INT(fx_call(&F, "DELETE", "/api/v1/resources/1", "Basic xyz", NULL), 401);
	CHECK_INT(fx_audit_count(&F, "resource.create", NULL, NULL), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(creates_resource_with_defaults),
	CHECK_CASE(creates_resource_served_by_a_set_of_connectors),
	CHECK_CASE(derives_types_and_normalizes_addresses),
	CHECK_CASE(rejects_bad_addresses),
	CHECK_CASE(reads_filters_in_canonical_order),
	CHECK_CASE(rejects_bad_filters_naming_the_value),
	CHECK_CASE(needs_existing_connector_nodes_or_declared_tags),
	CHECK_CASE(old_fields_are_gone),
	CHECK_CASE(rejects_bad_and_duplicate_names),
	CHECK_CASE(create_rejects_malformed_unknown_mistyped_and_missing),
	CHECK_CASE(gets_and_lists_resources_in_pages),
	CHECK_CASE(missing_and_non_numeric_ids_are_404),
	CHECK_CASE(patch_revalidates_the_combined_resource),
	CHECK_CASE(dns_resources_get_stable_mapped_prefixes),
	CHECK_CASE(node_deletion_leaves_the_other_connectors),
	CHECK_CASE(edits_that_would_break_the_policy_are_refused),
	CHECK_CASE(policy_rules_a_resource_narrows_to_nothing_are_refused),
	CHECK_CASE(deletes_resource),
	CHECK_CASE(only_admins_may_manage_resources),
	{0},
};

int main(int argc, char **argv)
{
	atexit(teardown);
	return check_main(argc, argv, cases);
}
