/* Resources API (controller/api_resources.c), in process over a real store
 * (SQLite, and PostgreSQL as <name>_postgres). */
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
 * bob, a member without one (fx_open_members). */
static struct fx F;
static char member[FX_AUTH_SIZE];
static int64_t alice, bob;

static bool setup(void)
{
	return fx_open_members(&F, &alice, &bob, member);
}

static void teardown(void)
{
	fx_close(&F);
}

/* POSTs {"name": name, "address": address, "connector_tag": "tag:c"} plus
 * extra (",\"ports\":\"80\"" or ""); returns the status. */
static int create(const char *name, const char *address, const char *extra)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"address\":\"%s\",\"connector_tag\":"
		 "\"tag:c\"%s}",
		 name, address, extra);
	return fx_call(&F, "POST", "/api/v1/resources", F.admin, body);
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
	CHECK_STR(fx_jstr(F.r.json, "protocol"), "any");
	CHECK_STR(fx_jstr(F.r.json, "ports"), "*");
	CHECK(json_is_null(json_object_get(F.r.json, "connector_node_id")));
	CHECK_STR(fx_jstr(F.r.json, "connector_tag"), "tag:c");
	CHECK(json_is_string(json_object_get(F.r.json, "created_at")));
	CHECK_INT(json_object_size(F.r.json), 8);
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, fx_jint(F.r.json, "id"));
	REQUIRE_INT(fx_audit_count(&F, "resource.create", idtext, &a), 1);
	CHECK_STR(a.target_type, "resource");
	CHECK(strstr(a.detail, "10.0.0.5") != NULL);
}

static void creates_resource_served_by_a_node(void)
{
	char body[256];
	int64_t n;

	REQUIRE(setup());
	n = fx_node(&F, "connector", 0, "[\"tag:c\"]", 1, NULL);
	REQUIRE(n > 0);
	snprintf(body, sizeof(body),
		 "{\"name\":\"db\",\"address\":\"db.internal\",\"protocol\":"
		 "\"tcp\",\"ports\":\"5432\",\"connector_node_id\":%" PRId64 "}",
		 n);
	REQUIRE_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin, body), 201);
	CHECK_INT(fx_jint(F.r.json, "connector_node_id"), n);
	CHECK(json_is_null(json_object_get(F.r.json, "connector_tag")));
	CHECK_STR(fx_jstr(F.r.json, "protocol"), "tcp");
	CHECK_STR(fx_jstr(F.r.json, "ports"), "5432");
	CHECK_STR(fx_jstr(F.r.json, "address"), "db.internal");
}

static void normalizes_addresses_and_ports(void)
{
	REQUIRE(setup());
	REQUIRE_INT(create("v6", "2001:DB8:0:0::1", ""), 201);
	CHECK_STR(fx_jstr(F.r.json, "address"), "2001:db8::1");
	REQUIRE_INT(create("net", "10.1.0.0/16", ""), 201);
	CHECK_STR(fx_jstr(F.r.json, "address"), "10.1.0.0/16");
	REQUIRE_INT(create("net6", "FD00:AB::/32", ""), 201);
	CHECK_STR(fx_jstr(F.r.json, "address"), "fd00:ab::/32");
	REQUIRE_INT(create("host", "Intranet.Example.com", ""), 201);
	CHECK_STR(fx_jstr(F.r.json, "address"), "Intranet.Example.com");
	REQUIRE_INT(create("single", "printer", ""), 201);
	CHECK_STR(fx_jstr(F.r.json, "address"), "printer");
	REQUIRE_INT(create("p", "10.0.0.1", ",\"ports\":\" 80 , 443,8000-8100\""),
		    201);
	CHECK_STR(fx_jstr(F.r.json, "ports"), "80,443,8000-8100");
	REQUIRE_INT(create("p2", "10.0.0.1", ",\"ports\":\"1,65535,7-7\""), 201);
	CHECK_STR(fx_jstr(F.r.json, "ports"), "1,65535,7");
	REQUIRE_INT(create("p3", "10.0.0.1", ",\"ports\":\" * \""), 201);
	CHECK_STR(fx_jstr(F.r.json, "ports"), "*");
}

static void rejects_bad_addresses(void)
{
	static const char *bad[] = {
		"10.0.0.256", "1.2.3.4/33", "10.0.0.0/", "-a.example",
		"a-.example", "a..b", "a.b.", ".a", "a_b.example", "10.0.0.1 ",
		"fe80::1%eth0", "host:80",
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
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
}

static void rejects_bad_ports_and_protocols(void)
{
	static const char *bad[] = {
		"0", "65536", "90-80", "80,", ",80", "*,80", "08", "http",
		"80-", "1-2-3", "80;443", "8 0",
	};
	char extra[128];

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), ",\"ports\":\"%s\"", bad[i]);
		CHECK_INT(create("r", "10.0.0.1", extra), 400);
		CHECK_STR(fx_err_field(&F.r), "ports");
	}
	CHECK_INT(create("r", "10.0.0.1", ",\"ports\":80"), 400);
	CHECK_STR(fx_err_code(&F.r), "wrong_type");
	CHECK_INT(create("r", "10.0.0.1", ",\"protocol\":\"icmp\""), 400);
	CHECK_STR(fx_err_field(&F.r), "protocol");
	CHECK_INT(create("r", "10.0.0.1", ",\"protocol\":\"TCP\""), 400);
	CHECK_STR(fx_err_field(&F.r), "protocol");
	CHECK_INT(create("r", "10.0.0.1", ",\"protocol\":\"udp\""), 201);
}

static void needs_exactly_one_existing_connector(void)
{
	char body[256];
	int64_t n;

	REQUIRE(setup());
	n = fx_node(&F, "conn", 0, NULL, 0, NULL);
	REQUIRE(n > 0);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connector_node_id");
	snprintf(body, sizeof(body),
		 "{\"name\":\"r\",\"address\":\"10.0.0.1\",\"connector_node_id\":"
		 "%" PRId64 ",\"connector_tag\":\"tag:x\"}",
		 n);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin, body), 400);
	CHECK_STR(fx_err_code(&F.r), "invalid");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connector_node_id\":999}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connector_node_id");
	CHECK(strstr(fx_err_msg(&F.r), "999") != NULL);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connector_node_id\":0}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connector_node_id");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"address\":\"10.0.0.1\","
		       "\"connector_tag\":\"servers\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connector_tag");
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
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
		       "{\"address\":\"10.0.0.1\",\"connector_tag\":\"tag:c\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin,
		       "{\"name\":\"r\",\"connector_tag\":\"tag:c\"}"),
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
		       "\"connector_node_id\":\"1\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "connector_node_id");
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
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
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/resources?limit=2", F.admin, NULL), 200);
	CHECK_INT(fx_nitems(&F), 2);
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
		       "{\"ports\":\"80\"}"),
		  404);
	CHECK_STR(fx_err_field(&F.r), "id");
	CHECK_INT(fx_call(&F, "DELETE", "/api/v1/resources/7", F.admin, NULL), 404);
	CHECK_INT(fx_call(&F, "DELETE", "/api/v1/resources/0", F.admin, NULL), 404);
}

static void patch_revalidates_the_combined_resource(void)
{
	char path[64], body[128], idtext[24];
	int64_t id, n, v0;

	REQUIRE(setup());
	n = fx_node(&F, "conn", 0, NULL, 0, NULL);
	REQUIRE(n > 0);
	REQUIRE_INT(create("taken", "10.0.0.9", ""), 201);
	REQUIRE_INT(create("web", "10.0.0.1", ",\"ports\":\"80\""), 201);
	id = fx_jint(F.r.json, "id");
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	v0 = fx_netmap_version(&F);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin,
			 "{\"ports\":\"443, 8443\",\"protocol\":\"tcp\"}"),
		    200);
	CHECK_STR(fx_jstr(F.r.json, "ports"), "443,8443");
	CHECK_STR(fx_jstr(F.r.json, "protocol"), "tcp");
	CHECK_STR(fx_jstr(F.r.json, "address"), "10.0.0.1");
	CHECK_STR(fx_jstr(F.r.json, "connector_tag"), "tag:c");
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	CHECK_INT(fx_audit_count(&F, "resource.update", idtext, NULL), 1);
	/* Naming a connector node replaces the tag, and back. */
	snprintf(body, sizeof(body), "{\"connector_node_id\":%" PRId64 "}", n);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin, body), 200);
	CHECK_INT(fx_jint(F.r.json, "connector_node_id"), n);
	CHECK(json_is_null(json_object_get(F.r.json, "connector_tag")));
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin,
			 "{\"connector_tag\":\"tag:edge\"}"),
		    200);
	CHECK(json_is_null(json_object_get(F.r.json, "connector_node_id")));
	CHECK_STR(fx_jstr(F.r.json, "connector_tag"), "tag:edge");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":\"taken\"}"), 409);
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"address\":\"10.0.0.1/8\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "address");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"owner\":\"x\"}"), 400);
	CHECK_STR(fx_err_field(&F.r), "owner");
	CHECK_INT(fx_audit_count(&F, "resource.update", idtext, NULL), 3);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "name"), "web");
	CHECK_STR(fx_jstr(F.r.json, "address"), "10.0.0.1");
	/* Keeping its own name is not a conflict. */
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":\"web\"}"), 200);
}

static void resource_whose_connector_was_deleted_must_get_a_new_one(void)
{
	char path[64], body[256];
	int64_t id, n;

	REQUIRE(setup());
	n = fx_node(&F, "conn", 0, NULL, 0, NULL);
	REQUIRE(n > 0);
	snprintf(body, sizeof(body),
		 "{\"name\":\"r\",\"address\":\"10.0.0.1\",\"connector_node_id\":"
		 "%" PRId64 "}",
		 n);
	REQUIRE_INT(fx_call(&F, "POST", "/api/v1/resources", F.admin, body), 201);
	id = fx_jint(F.r.json, "id");
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, n);
	REQUIRE_INT(fx_call(&F, "DELETE", path, F.admin, NULL), 204);
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK(json_is_null(json_object_get(F.r.json, "connector_node_id")));
	CHECK(json_is_null(json_object_get(F.r.json, "connector_tag")));
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"ports\":\"22\"}"), 400);
	CHECK_STR(fx_err_field(&F.r), "connector_node_id");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin,
		       "{\"ports\":\"22\",\"connector_tag\":\"tag:c\"}"),
		  200);
	CHECK_STR(fx_jstr(F.r.json, "ports"), "22");
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
		       "\"connector_tag\":\"tag:c\"}"),
		  403);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/resources", NULL, NULL), 401);
	CHECK_INT(fx_call(&F, "DELETE", "/api/v1/resources/1", "Basic xyz", NULL), 401);
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(creates_resource_with_defaults),
	CHECK_CASE(creates_resource_served_by_a_node),
	CHECK_CASE(normalizes_addresses_and_ports),
	CHECK_CASE(rejects_bad_addresses),
	CHECK_CASE(rejects_bad_ports_and_protocols),
	CHECK_CASE(needs_exactly_one_existing_connector),
	CHECK_CASE(rejects_bad_and_duplicate_names),
	CHECK_CASE(create_rejects_malformed_unknown_mistyped_and_missing),
	CHECK_CASE(gets_and_lists_resources_in_pages),
	CHECK_CASE(missing_and_non_numeric_ids_are_404),
	CHECK_CASE(patch_revalidates_the_combined_resource),
	CHECK_CASE(resource_whose_connector_was_deleted_must_get_a_new_one),
	CHECK_CASE(deletes_resource),
	CHECK_CASE(only_admins_may_manage_resources),
	{0},
};

int main(int argc, char **argv)
{
	atexit(teardown);
	return check_main(argc, argv, cases);
}
