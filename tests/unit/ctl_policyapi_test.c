/* The policy editor's API (issue 14): PUT /api/v1/policy names the line
 * and column of what it refuses, POST /api/v1/policy/validate checks a
 * document without saving it and runs each of its tests. In process over
 * a real store (SQLite, and PostgreSQL as ctl_policyapi_test_postgres). */
#include "check.h"
#include "ctl_fixture.h"

#include "controller/api.h"

#include <string.h>

static struct fx F;
static char member[FX_AUTH_SIZE];
static int64_t alice, bob;

static bool setup(void)
{
	return fx_open_members(&F, &alice, &bob, member);
}

static const json_t *details(void)
{
	return json_object_get(json_object_get(F.r.json, "error"), "details");
}

static int64_t saved_version(void)
{
	if (fx_call(&F, "GET", "/api/v1/policy", F.admin, NULL) != 200)
		return -1;
	return fx_jint(F.r.json, "version");
}

/* An unknown user on line 4: the refusal points at it. */
static const char bad_user[] =
	"{\n"
	"  \"acls\": [\n"
	"    {\"action\": \"accept\", \"src\": [\"alice\"], \"dst\": [\"*:22\"]},\n"
	"    {\"action\": \"accept\", \"src\": [\"carol\"], \"dst\": [\"*:22\"]}\n"
	"  ]\n"
	"}\n";

static void put_names_the_line_of_an_invalid_value(void)
{
	const json_t *d;

	REQUIRE(setup());
	REQUIRE_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, bad_user), 400);
	CHECK_STR(fx_err_code(&F.r), "invalid_policy");
	CHECK_STR(fx_err_field(&F.r), "acls[1].src[0]");
	CHECK(strstr(fx_err_msg(&F.r), "unknown user \"carol\"") != NULL);
	d = details();
	REQUIRE(json_is_object(d));
	CHECK_STR(fx_jstr(d, "path"), "acls[1].src[0]");
	CHECK_INT(fx_jint(d, "line"), 4);
	CHECK_INT(fx_jint(d, "column"), 34);
	CHECK_INT(saved_version(), 0);
}

static void put_names_the_line_of_a_syntax_error(void)
{
	const json_t *d;

	REQUIRE(setup());
	REQUIRE_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin,
			    "{\n  \"acls\": [\n    {\"src\": [\"*\"],,}\n  ]\n}"),
		    400);
	CHECK_STR(fx_err_code(&F.r), "invalid_policy");
	d = details();
	REQUIRE(json_is_object(d));
	CHECK(json_object_get(d, "path") == NULL);
	CHECK_INT(fx_jint(d, "line"), 3);
	CHECK(fx_jint(d, "column") > 0);
	CHECK_INT(saved_version(), 0);
}

static const char with_tests[] =
	"{\n"
	"  \"acls\": [{\"action\": \"accept\", \"src\": [\"alice\"],"
	" \"dst\": [\"*:22\"]}],\n"
	"  \"tests\": [\n"
	"    {\"src\": \"alice\", \"accept\": [\"10.0.0.1:22\"],\n"
	"     \"deny\": [\"10.0.0.1:80\"]},\n"
	"    {\"src\": \"bob\", \"accept\": [\"10.0.0.1:22\"]}\n"
	"  ]\n"
	"}\n";

static const json_t *test_at(size_t i)
{
	return json_array_get(json_object_get(F.r.json, "tests"), i);
}

static void validate_runs_every_test_and_saves_nothing(void)
{
	const json_t *t, *e;
	int audits;

	REQUIRE(setup());
	audits = fx_audit_count(&F, "policy.update", NULL, NULL);
	REQUIRE_INT(fx_call(&F, "POST", "/api/v1/policy/validate", F.admin,
			    with_tests),
		    200);
	CHECK(json_is_false(json_object_get(F.r.json, "valid")));
	/* The error PUT would give: the first failing case. */
	REQUIRE_INT(json_array_size(json_object_get(F.r.json, "errors")), 1);
	e = json_array_get(json_object_get(F.r.json, "errors"), 0);
	CHECK_STR(fx_jstr(e, "path"), "tests[1].accept[0]");
	CHECK_INT(fx_jint(e, "line"), 6);
	CHECK(strstr(fx_jstr(e, "message"), "should be accepted") != NULL);
	/* And every case, passed or not. */
	REQUIRE_INT(json_array_size(json_object_get(F.r.json, "tests")), 3);
	t = test_at(0);
	CHECK_STR(fx_jstr(t, "path"), "tests[0].accept[0]");
	CHECK_STR(fx_jstr(t, "src"), "alice");
	CHECK_STR(fx_jstr(t, "dst"), "10.0.0.1:22");
	CHECK_STR(fx_jstr(t, "proto"), "tcp");
	CHECK_STR(fx_jstr(t, "expect"), "accept");
	CHECK(json_is_true(json_object_get(t, "passed")));
	CHECK_INT(fx_jint(t, "line"), 4);
	CHECK_INT(fx_jint(t, "column"), 33);
	t = test_at(1);
	CHECK_STR(fx_jstr(t, "expect"), "deny");
	CHECK(json_is_true(json_object_get(t, "passed")));
	CHECK_INT(fx_jint(t, "line"), 5);
	t = test_at(2);
	CHECK_STR(fx_jstr(t, "src"), "bob");
	CHECK(json_is_false(json_object_get(t, "passed")));
	CHECK_STR(fx_jstr(t, "message"), "should be accepted but is denied");
	CHECK_INT(fx_jint(t, "line"), 6);
	CHECK_INT(saved_version(), 0);
	CHECK_INT(fx_audit_count(&F, "policy.update", NULL, NULL), audits);
}

static void validate_accepts_a_valid_document(void)
{
	static const char ok[] =
		"{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"],"
		" \"dst\": [\"*:*\"]}],"
		" \"tests\": [{\"src\": \"bob\", \"proto\": \"udp\","
		" \"accept\": [\"10.0.0.1:53\"]}]}";

	REQUIRE(setup());
	REQUIRE_INT(fx_call(&F, "POST", "/api/v1/policy/validate", F.admin, ok),
		    200);
	CHECK(json_is_true(json_object_get(F.r.json, "valid")));
	CHECK_INT(json_array_size(json_object_get(F.r.json, "errors")), 0);
	REQUIRE_INT(json_array_size(json_object_get(F.r.json, "tests")), 1);
	CHECK_STR(fx_jstr(test_at(0), "proto"), "udp");
	CHECK(json_is_true(json_object_get(test_at(0), "passed")));
	CHECK_INT(saved_version(), 0);
}

static void validate_reports_an_invalid_document_without_tests(void)
{
	const json_t *e;

	REQUIRE(setup());
	REQUIRE_INT(fx_call(&F, "POST", "/api/v1/policy/validate", F.admin,
			    bad_user),
		    200);
	CHECK(json_is_false(json_object_get(F.r.json, "valid")));
	e = json_array_get(json_object_get(F.r.json, "errors"), 0);
	CHECK_STR(fx_jstr(e, "path"), "acls[1].src[0]");
	CHECK_INT(fx_jint(e, "line"), 4);
	CHECK_INT(fx_jint(e, "column"), 34);
	CHECK_INT(json_array_size(json_object_get(F.r.json, "tests")), 0);
	REQUIRE_INT(fx_call(&F, "POST", "/api/v1/policy/validate", F.admin,
			    "{\"acls\": 1,\n\"x\"}"),
		    200);
	e = json_array_get(json_object_get(F.r.json, "errors"), 0);
	CHECK_INT(fx_jint(e, "line"), 2);
	CHECK(json_object_get(e, "path") == NULL);
}

static void validate_is_for_admins(void)
{
	REQUIRE(setup());
	CHECK_INT(fx_call(&F, "POST", "/api/v1/policy/validate", member, "{}"),
		  403);
	CHECK_INT(fx_call(&F, "POST", "/api/v1/policy/validate", NULL, "{}"),
		  401);
}

static void put_with_a_stale_base_version_is_refused(void)
{
	REQUIRE(setup());
	/* Version 0 (never set) is a base too. */
	REQUIRE_INT(fx_call(&F, "PUT", "/api/v1/policy?base_version=0", F.admin,
			    "{\"hosts\": {\"a\": \"10.0.0.1\"}}"),
		    200);
	CHECK_INT(fx_jint(F.r.json, "version"), 1);
	/* A second editor that also started from 0 loses, nothing saved. */
	REQUIRE_INT(fx_call(&F, "PUT", "/api/v1/policy?base_version=0", F.admin,
			    "{\"hosts\": {\"b\": \"10.0.0.2\"}}"),
		    409);
	CHECK_STR(fx_err_code(&F.r), "conflict");
	CHECK_STR(fx_err_field(&F.r), "base_version");
	CHECK(strstr(fx_err_msg(&F.r), "since version 0 (now version 1)") != NULL);
	CHECK_INT(saved_version(), 1);
	CHECK(json_object_get(json_object_get(F.r.json, "document"), "hosts") !=
	      NULL);
	CHECK_INT(fx_audit_count(&F, "policy.update", NULL, NULL), 1);
	/* The current base saves; no base at all still overwrites. */
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/policy?base_version=1", F.admin,
			  "{}"),
		  200);
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, "{}"), 200);
	CHECK_INT(fx_jint(F.r.json, "version"), 3);
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/policy?base_version=x", F.admin,
			  "{}"),
		  400);
	CHECK_STR(fx_err_field(&F.r), "base_version");
	CHECK_INT(saved_version(), 3);
}

/* GET gives the document back as text exactly as it was saved (layout,
 * key order), beside the parsed document; "{}" before the first save. */
static void get_keeps_the_saved_text(void)
{
	static const char doc[] =
		"{\n  // not JSON: refused\n}";
	static const char kept[] =
		"{\n\t\"hosts\":   {\"z\": \"10.0.0.9\",\n\t\t\"a\": \"10.0.0.1\"}\n}\n";

	REQUIRE(setup());
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/policy", F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "text"), "{}");
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, doc), 400);
	REQUIRE_INT(fx_call(&F, "PUT", "/api/v1/policy", F.admin, kept), 200);
	CHECK_STR(fx_jstr(F.r.json, "text"), kept);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/policy", F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "text"), kept);
	CHECK(json_object_get(json_object_get(F.r.json, "document"), "hosts"));
}

static const struct check_case cases[] = {
	CHECK_CASE(get_keeps_the_saved_text),
	CHECK_CASE(put_with_a_stale_base_version_is_refused),
	CHECK_CASE(put_names_the_line_of_an_invalid_value),
	CHECK_CASE(put_names_the_line_of_a_syntax_error),
	CHECK_CASE(validate_runs_every_test_and_saves_nothing),
	CHECK_CASE(validate_accepts_a_valid_document),
	CHECK_CASE(validate_reports_an_invalid_document_without_tests),
	CHECK_CASE(validate_is_for_admins),
	{0},
};

int main(int argc, char **argv)
{
	int rc = check_main(argc, argv, cases);

	fx_close(&F);
	return rc;
}
