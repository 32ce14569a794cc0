/* Relays API (controller/api_relays.c), in process over a real store
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

static int create(const char *name, const char *region, const char *address,
		  const char *extra)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"region\":\"%s\",\"address\":\"%s\"%s}",
		 name, region, address, extra);
	return fx_call(&F, "POST", "/api/v1/relays", F.admin, body);
}

static void creates_relay(void)
{
	struct store_audit a;
	char idtext[24];
	int64_t v0;

	REQUIRE(setup());
	v0 = fx_netmap_version(&F);
	REQUIRE_INT(create("fra-1", "eu-central", "relay1.example.com:443",
			   ",\"public_key_pin\":\"sha256/AbC+/9=\""),
		    201);
	CHECK(fx_jint(F.r.json, "id") > 0);
	CHECK_STR(fx_jstr(F.r.json, "name"), "fra-1");
	CHECK_STR(fx_jstr(F.r.json, "region"), "eu-central");
	CHECK_STR(fx_jstr(F.r.json, "address"), "relay1.example.com:443");
	CHECK_STR(fx_jstr(F.r.json, "public_key_pin"), "sha256/AbC+/9=");
	CHECK(json_is_string(json_object_get(F.r.json, "created_at")));
	CHECK_INT(json_object_size(F.r.json), 6);
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, fx_jint(F.r.json, "id"));
	REQUIRE_INT(fx_audit_count(&F, "relay.create", idtext, &a), 1);
	CHECK_STR(a.target_type, "relay");
	CHECK(strstr(a.detail, "fra-1") != NULL);
}

static void pin_is_optional_and_shows_as_null(void)
{
	REQUIRE(setup());
	REQUIRE_INT(create("r", "us", "192.0.2.10:3478", ""), 201);
	CHECK(json_is_null(json_object_get(F.r.json, "public_key_pin")));
	REQUIRE_INT(create("r2", "us", "192.0.2.11:3478",
			   ",\"public_key_pin\":\"\""),
		    201);
	CHECK(json_is_null(json_object_get(F.r.json, "public_key_pin")));
}

static void accepts_and_normalizes_addresses(void)
{
	REQUIRE(setup());
	REQUIRE_INT(create("a", "r", "192.0.2.1:1", ""), 201);
	CHECK_STR(fx_jstr(F.r.json, "address"), "192.0.2.1:1");
	REQUIRE_INT(create("b", "r", "[2001:DB8:0::1]:65535", ""), 201);
	CHECK_STR(fx_jstr(F.r.json, "address"), "[2001:db8::1]:65535");
	REQUIRE_INT(create("c", "r", "relay:7000", ""), 201);
	CHECK_STR(fx_jstr(F.r.json, "address"), "relay:7000");
	REQUIRE_INT(create("d", "r", "Relay-2.Example.NET:443", ""), 201);
	CHECK_STR(fx_jstr(F.r.json, "address"), "Relay-2.Example.NET:443");
}

static void rejects_bad_addresses(void)
{
	static const char *bad[] = {
		"relay.example.com", "relay.example.com:", "relay.example.com:0",
		"relay.example.com:65536", "relay.example.com:080",
		"relay.example.com:44a", "2001:db8::1:443", "[192.0.2.1]:443",
		"192.0.2.1", ":443", "-relay.example.com:443",
		"relay..example.com:443", "10.0.0.256:443", "[2001:db8::1]",
		"relay example.com:443", "[fe80::1%eth0]:443",
	};

	REQUIRE(setup());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(create("r", "eu", bad[i], ""), 400);
		CHECK_STR(fx_err_field(&F.r), "address");
	}
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
}

static void rejects_bad_names_regions_and_pins(void)
{
	char extra[256];

	REQUIRE(setup());
	CHECK_INT(create("Fra", "eu", "192.0.2.1:443", ""), 400);
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK_INT(create(".fra", "eu", "192.0.2.1:443", ""), 400);
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK_INT(create("fra", "EU", "192.0.2.1:443", ""), 400);
	CHECK_STR(fx_err_field(&F.r), "region");
	CHECK_INT(create("fra", "eu_west", "192.0.2.1:443", ""), 400);
	CHECK_STR(fx_err_field(&F.r), "region");
	CHECK_INT(create("fra", "", "192.0.2.1:443", ""), 400);
	CHECK_STR(fx_err_field(&F.r), "region");
	CHECK_INT(create("fra", "eu", "192.0.2.1:443",
			 ",\"public_key_pin\":\"sha256/a b\""),
		  400);
	CHECK_STR(fx_err_field(&F.r), "public_key_pin");
	CHECK_INT(create("fra", "eu", "192.0.2.1:443",
			 ",\"public_key_pin\":\"sha256/\\u00e9\""),
		  400);
	CHECK_STR(fx_err_field(&F.r), "public_key_pin");
	memset(extra, 0, sizeof(extra));
	strcpy(extra, ",\"public_key_pin\":\"");
	memset(extra + strlen(extra), 'a', 128);
	strcat(extra, "\"");
	CHECK_INT(create("fra", "eu", "192.0.2.1:443", extra), 400);
	CHECK_STR(fx_err_field(&F.r), "public_key_pin");
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
}

static void rejects_malformed_unknown_mistyped_and_missing(void)
{
	REQUIRE(setup());
	CHECK_INT(fx_call(&F, "POST", "/api/v1/relays", F.admin, "{\"name\":"), 400);
	CHECK_STR(fx_err_code(&F.r), "parse_error");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/relays", F.admin,
		       "{\"region\":\"eu\",\"address\":\"192.0.2.1:443\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/relays", F.admin,
		       "{\"name\":\"a\",\"address\":\"192.0.2.1:443\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "region");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/relays", F.admin,
		       "{\"name\":\"a\",\"region\":\"eu\"}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "address");
	CHECK_INT(create("a", "eu", "192.0.2.1:443", ",\"port\":443"), 400);
	CHECK_STR(fx_err_field(&F.r), "port");
	CHECK_INT(fx_call(&F, "POST", "/api/v1/relays", F.admin,
		       "{\"name\":\"a\",\"region\":7,\"address\":\"x:1\"}"),
		  400);
	CHECK_STR(fx_err_code(&F.r), "wrong_type");
	CHECK_STR(fx_err_field(&F.r), "region");
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
}

static void duplicate_name_conflicts(void)
{
	int64_t v0;

	REQUIRE(setup());
	REQUIRE_INT(create("fra", "eu", "192.0.2.1:443", ""), 201);
	v0 = fx_netmap_version(&F);
	CHECK_INT(create("fra", "us", "192.0.2.2:443", ""), 409);
	CHECK_STR(fx_err_code(&F.r), "already_exists");
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK(strstr(fx_err_msg(&F.r), "fra") != NULL);
	CHECK_INT(fx_netmap_version(&F), v0);
	CHECK_INT(fx_audit_count(&F, "relay.create", NULL, NULL), 1);
}

static void gets_and_lists_relays_in_pages(void)
{
	char path[64];
	int64_t id;

	REQUIRE(setup());
	REQUIRE_INT(create("a", "eu", "192.0.2.1:443", ""), 201);
	id = fx_jint(F.r.json, "id");
	REQUIRE_INT(create("b", "eu", "192.0.2.2:443", ""), 201);
	REQUIRE_INT(create("c", "us", "192.0.2.3:443", ""), 201);
	snprintf(path, sizeof(path), "/api/v1/relays/%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "name"), "a");
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/relays?limit=2", F.admin, NULL), 200);
	CHECK_INT(fx_nitems(&F), 2);
	REQUIRE(json_is_string(json_object_get(F.r.json, "next_cursor")));
	snprintf(path, sizeof(path), "/api/v1/relays?limit=2&cursor=%s",
		 fx_jstr(F.r.json, "next_cursor"));
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_STR(json_string_value(json_object_get(fx_item(&F, 0), "name")), "c");
	CHECK(json_is_null(json_object_get(F.r.json, "next_cursor")));
	CHECK_INT(fx_call(&F, "GET", "/api/v1/relays?limit=1001", F.admin, NULL), 400);
}

static void missing_and_non_numeric_ids_are_404(void)
{
	REQUIRE(setup());
	CHECK_INT(fx_call(&F, "GET", "/api/v1/relays/5", F.admin, NULL), 404);
	CHECK_STR(fx_err_code(&F.r), "not_found");
	CHECK(strstr(fx_err_msg(&F.r), "5") != NULL);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/relays/five", F.admin, NULL), 404);
	CHECK_INT(fx_call(&F, "PATCH", "/api/v1/relays/5", F.admin,
		       "{\"region\":\"eu\"}"),
		  404);
	CHECK_STR(fx_err_field(&F.r), "id");
	CHECK_INT(fx_call(&F, "DELETE", "/api/v1/relays/5", F.admin, NULL), 404);
}

static void patch_changes_region_address_and_pin_but_not_name(void)
{
	char path[64], idtext[24];
	int64_t id, v0;

	REQUIRE(setup());
	REQUIRE_INT(create("fra", "eu", "192.0.2.1:443",
			   ",\"public_key_pin\":\"sha256/x\""),
		    201);
	id = fx_jint(F.r.json, "id");
	snprintf(path, sizeof(path), "/api/v1/relays/%" PRId64, id);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	v0 = fx_netmap_version(&F);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin,
			 "{\"region\":\"eu-west\",\"address\":\"[::1]:8443\"}"),
		    200);
	CHECK_STR(fx_jstr(F.r.json, "region"), "eu-west");
	CHECK_STR(fx_jstr(F.r.json, "address"), "[::1]:8443");
	CHECK_STR(fx_jstr(F.r.json, "public_key_pin"), "sha256/x");
	CHECK_STR(fx_jstr(F.r.json, "name"), "fra");
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	CHECK_INT(fx_audit_count(&F, "relay.update", idtext, NULL), 1);
	REQUIRE_INT(fx_call(&F, "PATCH", path, F.admin, "{\"public_key_pin\":\"\"}"),
		    200);
	CHECK(json_is_null(json_object_get(F.r.json, "public_key_pin")));
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"name\":\"ber\"}"), 400);
	CHECK_STR(fx_err_field(&F.r), "name");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"address\":\"nope\"}"), 400);
	CHECK_STR(fx_err_field(&F.r), "address");
	CHECK_INT(fx_call(&F, "PATCH", path, F.admin, "{\"region\":null}"), 400);
	CHECK_STR(fx_err_code(&F.r), "wrong_type");
	CHECK_INT(fx_audit_count(&F, "relay.update", idtext, NULL), 2);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "name"), "fra");
	CHECK_STR(fx_jstr(F.r.json, "address"), "[::1]:8443");
}

static void deletes_relay(void)
{
	char path[64], idtext[24];
	int64_t id, v0;

	REQUIRE(setup());
	REQUIRE_INT(create("fra", "eu", "192.0.2.1:443", ""), 201);
	id = fx_jint(F.r.json, "id");
	v0 = fx_netmap_version(&F);
	snprintf(path, sizeof(path), "/api/v1/relays/%" PRId64, id);
	REQUIRE_INT(fx_call(&F, "DELETE", path, F.admin, NULL), 204);
	CHECK(F.r.json == NULL);
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	CHECK_INT(fx_audit_count(&F, "relay.delete", idtext, NULL), 1);
	CHECK_INT(fx_call(&F, "GET", path, F.admin, NULL), 404);
	CHECK_INT(fx_call(&F, "DELETE", path, F.admin, NULL), 404);
}

static void only_admins_may_manage_relays(void)
{
	char cred[FX_AUTH_SIZE];

	REQUIRE(setup());
	REQUIRE(fx_node(&F, "n", alice, NULL, 0, cred) > 0);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/relays", cred, NULL), 403);
	CHECK_INT(fx_call(&F, "DELETE", "/api/v1/relays/1", cred, NULL), 403);
	CHECK_INT(fx_call(&F, "GET", "/api/v1/relays", member, NULL), 403);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/relays", member,
		       "{\"name\":\"a\",\"region\":\"eu\",\"address\":"
		       "\"192.0.2.1:443\"}"),
		  403);
	CHECK_STR(fx_err_code(&F.r), "forbidden");
	CHECK_INT(fx_call(&F, "GET", "/api/v1/relays", NULL, NULL), 401);
	/* A node credential whose secret does not match is unknown. */
	cred[strlen(cred) - 10] = cred[strlen(cred) - 10] == 'A' ? 'B' : 'A';
	CHECK_INT(fx_call(&F, "GET", "/api/v1/relays", cred, NULL), 401);
	CHECK_INT(fx_audit_count(&F, NULL, NULL, NULL), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(creates_relay),
	CHECK_CASE(pin_is_optional_and_shows_as_null),
	CHECK_CASE(accepts_and_normalizes_addresses),
	CHECK_CASE(rejects_bad_addresses),
	CHECK_CASE(rejects_bad_names_regions_and_pins),
	CHECK_CASE(rejects_malformed_unknown_mistyped_and_missing),
	CHECK_CASE(duplicate_name_conflicts),
	CHECK_CASE(gets_and_lists_relays_in_pages),
	CHECK_CASE(missing_and_non_numeric_ids_are_404),
	CHECK_CASE(patch_changes_region_address_and_pin_but_not_name),
	CHECK_CASE(deletes_relay),
	CHECK_CASE(only_admins_may_manage_relays),
	{0},
};

int main(int argc, char **argv)
{
	atexit(teardown);
	return check_main(argc, argv, cases);
}
