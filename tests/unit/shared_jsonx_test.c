#include "check.h"
#include "shared/err.h"
#include "shared/jsonx.h"

#include <stdio.h>
#include <stdlib.h>

/* Parses a test document that must be a valid object. */
static json_t *doc(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &je);

	check_report(j != NULL, __FILE__, __LINE__, "bad test JSON: %s", je.text);
	return j;
}

static int parse_str(const char *s, json_t **out, struct jsonx_err *err)
{
	return jsonx_parse(s, strlen(s), 4096, out, err);
}

static void parse_returns_object(void)
{
	struct jsonx_err err = {0};
	json_t *j = NULL;

	REQUIRE_INT(parse_str("{\"name\": \"laptop\", \"n\": 3}", &j, &err), 0);
	CHECK(json_is_object(j));
	CHECK_STR(json_string_value(json_object_get(j, "name")), "laptop");
	json_decref(j);
}

static void parse_rejects_body_over_limit(void)
{
	const char *body = "{\"name\": \"laptop\"}";
	struct jsonx_err err = {0};
	json_t *j = (json_t *)&err; /* sentinel: must stay untouched */

	CHECK_INT(jsonx_parse(body, strlen(body), strlen(body) - 1, &j, &err),
		  WEFT_ERR_TOOBIG);
	CHECK_INT(err.code, WEFT_ERR_TOOBIG);
	CHECK(strstr(err.message, "larger than 17 bytes") != NULL);
	CHECK(j == (json_t *)&err);
	REQUIRE_INT(jsonx_parse(body, strlen(body), strlen(body), &j, &err), 0);
	json_decref(j);
}

static void parse_reports_line_and_column_of_syntax_error(void)
{
	struct jsonx_err err = {0};
	json_t *j = NULL;

	CHECK_INT(parse_str("{\n  \"a\": 1,\n  \"b\": }", &j, &err), WEFT_ERR_PARSE);
	CHECK_INT(err.code, WEFT_ERR_PARSE);
	CHECK(strstr(err.message, "line 3") != NULL);
	CHECK(strstr(err.message, "column") != NULL);
	CHECK_STR(err.field, "");
	CHECK(j == NULL);
	CHECK_INT(parse_str("", &j, &err), WEFT_ERR_PARSE);
	CHECK_INT(parse_str("{\"a\": 1} {}", &j, &err), WEFT_ERR_PARSE);
	CHECK_INT(parse_str("{'a': 1}", &j, &err), WEFT_ERR_PARSE);
	CHECK_INT(parse_str("{\"a\": 1,}", &j, &err), WEFT_ERR_PARSE);
}

static void parse_rejects_duplicate_keys(void)
{
	struct jsonx_err err = {0};
	json_t *j = NULL;

	CHECK_INT(parse_str("{\"admin\": false, \"admin\": true}", &j, &err),
		  WEFT_ERR_PARSE);
	CHECK(strstr(err.message, "duplicate") != NULL);
	CHECK(j == NULL);
}

static void parse_rejects_non_object_top_level(void)
{
	static const char *const bad[] = {"[]", "[1]", "1", "\"s\"", "null", "true"};
	struct jsonx_err err = {0};
	json_t *j = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse_str(bad[i], &j, &err);

		check_report(r == WEFT_ERR_TYPE, __FILE__, __LINE__,
			     "%s gave %d", bad[i], r);
	}
	CHECK(strstr(err.message, "object") != NULL);
	CHECK(j == NULL);
}

static void parse_rejects_nul_characters(void)
{
	struct jsonx_err err = {0};
	json_t *j = NULL;
	static const char raw[] = "{\"a\": \"x\0y\"}";

	CHECK_INT(parse_str("{\"a\": \"x\\u0000y\"}", &j, &err), WEFT_ERR_PARSE);
	CHECK_INT(parse_str("{\"a\\u0000b\": 1}", &j, &err), WEFT_ERR_PARSE);
	CHECK_INT(jsonx_parse(raw, sizeof(raw) - 1, 100, &j, &err), WEFT_ERR_PARSE);
	CHECK(j == NULL);
}

static void parse_bounds_nesting_depth(void)
{
	enum { DEPTH = 5000 };
	char *s = malloc(DEPTH * 2 + 16);
	struct jsonx_err err = {0};
	json_t *j = NULL;
	size_t n = 0;

	REQUIRE(s != NULL);
	n += (size_t)sprintf(s, "{\"a\":");
	for (int i = 0; i < DEPTH; i++)
		s[n++] = '[';
	for (int i = 0; i < DEPTH; i++)
		s[n++] = ']';
	s[n++] = '}';
	CHECK_INT(jsonx_parse(s, n, n, &j, &err), WEFT_ERR_PARSE);
	CHECK(j == NULL);
	free(s);
}

static void parse_error_message_stays_valid_utf8(void)
{
	static const char bin[] = "{\"a\": \"\xff\xfe\x01\"}";
	char dup[64];
	struct jsonx_err err = {0};
	json_t *j = NULL, *body;
	size_t n = 0;

	CHECK_INT(jsonx_parse(bin, sizeof(bin) - 1, 100, &j, &err), WEFT_ERR_PARSE);
	body = jsonx_error_body("parse_error", err.message, NULL);
	CHECK(body != NULL);
	json_decref(body);

	/* jansson quotes short offending tokens verbatim (here a key of
	 * multi-byte characters); the message keeps printable ASCII only. */
	for (int k = 0; k < 2; k++) {
		dup[n++] = k ? ',' : '{';
		dup[n++] = '"';
		for (int i = 0; i < 5; i++) {
			memcpy(dup + n, "\xc3\xa9", 2);
			n += 2;
		}
		memcpy(dup + n, "\":1", 3);
		n += 3;
	}
	dup[n++] = '}';
	CHECK_INT(jsonx_parse(dup, n, sizeof(dup), &j, &err), WEFT_ERR_PARSE);
	CHECK(strstr(err.message, "duplicate") != NULL);
	for (const char *c = err.message; *c; c++)
		if (!CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f))
			break;
	body = jsonx_error_body("parse_error", err.message, NULL);
	CHECK(body != NULL);
	json_decref(body);
	CHECK(j == NULL);
}

static void reads_string_within_bounds(void)
{
	json_t *j = doc("{\"name\": \"web-1\", \"empty\": \"\"}");
	struct jsonx_err err = {0};
	const char *s = NULL;

	REQUIRE_INT(jsonx_get_string(j, "name", true, 1, 63, &s, &err), 0);
	CHECK_STR(s, "web-1");
	CHECK_INT(jsonx_get_string(j, "name", true, 1, 4, &s, &err), WEFT_ERR_RANGE);
	CHECK_STR(err.field, "name");
	CHECK_STR(err.message, "field \"name\" must be 1 to 4 bytes long");
	CHECK_INT(jsonx_get_string(j, "name", true, 0, 4, &s, &err), WEFT_ERR_RANGE);
	CHECK_STR(err.message, "field \"name\" must be at most 4 bytes long");
	CHECK_INT(jsonx_get_string(j, "name", true, 6, 10, &s, &err), WEFT_ERR_RANGE);
	CHECK_INT(jsonx_get_string(j, "empty", true, 1, 10, &s, &err), WEFT_ERR_RANGE);
	CHECK_STR(err.message, "field \"empty\" must not be empty");
	CHECK_STR(s, "web-1");
	REQUIRE_INT(jsonx_get_string(j, "empty", true, 0, 10, &s, &err), 0);
	CHECK_STR(s, "");
	json_decref(j);
}

static void reports_wrong_type_naming_the_field(void)
{
	json_t *j = doc("{\"expiry\": 3600, \"n\": null}");
	struct jsonx_err err = {0};
	const char *s = "default";

	CHECK_INT(jsonx_get_string(j, "expiry", true, 0, 100, &s, &err),
		  WEFT_ERR_TYPE);
	CHECK_INT(err.code, WEFT_ERR_TYPE);
	CHECK_STR(err.field, "expiry");
	CHECK_STR(err.message, "field \"expiry\" must be a string");
	CHECK_STR(s, "default");
	/* null is not "absent". */
	CHECK_INT(jsonx_get_string(j, "n", false, 0, 100, &s, &err), WEFT_ERR_TYPE);
	CHECK_STR(err.field, "n");
	json_decref(j);
}

static void missing_required_field_is_invalid_and_optional_is_untouched(void)
{
	json_t *j = doc("{}");
	struct jsonx_err err = {0};
	const char *s = "default";
	int64_t i = 42;
	bool b = true;

	CHECK_INT(jsonx_get_string(j, "name", true, 0, 10, &s, &err), WEFT_ERR_INVAL);
	CHECK_INT(err.code, WEFT_ERR_INVAL);
	CHECK_STR(err.field, "name");
	CHECK_STR(err.message, "field \"name\" is required");
	CHECK_INT(jsonx_get_string(j, "name", false, 1, 10, &s, &err), 0);
	CHECK_STR(s, "default");
	CHECK_INT(jsonx_get_int(j, "n", false, 0, 10, &i, &err), 0);
	CHECK_INT(i, 42);
	CHECK_INT(jsonx_get_bool(j, "b", false, &b, &err), 0);
	CHECK(b);
	json_decref(j);
}

static void reads_integers_and_rejects_reals_booleans_strings(void)
{
	json_t *j = doc("{\"port\": 443, \"neg\": -5, \"real\": 1.5, \"one\": 1.0,"
			" \"exp\": 1e3, \"flag\": true, \"str\": \"7\","
			" \"big\": 9223372036854775807}");
	struct jsonx_err err = {0};
	int64_t v = -1;

	REQUIRE_INT(jsonx_get_int(j, "port", true, 1, 65535, &v, &err), 0);
	CHECK_INT(v, 443);
	REQUIRE_INT(jsonx_get_int(j, "neg", true, -10, 0, &v, &err), 0);
	CHECK_INT(v, -5);
	REQUIRE_INT(jsonx_get_int(j, "big", true, INT64_MIN, INT64_MAX, &v, &err), 0);
	CHECK(v == INT64_MAX);
	v = 7;
	CHECK_INT(jsonx_get_int(j, "real", true, 0, 10, &v, &err), WEFT_ERR_TYPE);
	CHECK_STR(err.message, "field \"real\" must be an integer");
	CHECK_INT(jsonx_get_int(j, "one", true, 0, 10, &v, &err), WEFT_ERR_TYPE);
	CHECK_INT(jsonx_get_int(j, "exp", true, 0, 10000, &v, &err), WEFT_ERR_TYPE);
	CHECK_INT(jsonx_get_int(j, "flag", true, 0, 10, &v, &err), WEFT_ERR_TYPE);
	CHECK_INT(jsonx_get_int(j, "str", true, 0, 10, &v, &err), WEFT_ERR_TYPE);
	CHECK_INT(jsonx_get_int(j, "port", true, 1, 100, &v, &err), WEFT_ERR_RANGE);
	CHECK_STR(err.field, "port");
	CHECK_STR(err.message, "field \"port\" must be between 1 and 100");
	CHECK_INT(jsonx_get_int(j, "neg", true, 0, 100, &v, &err), WEFT_ERR_RANGE);
	CHECK_INT(v, 7);
	json_decref(j);
}

static void reads_booleans_only(void)
{
	json_t *j = doc("{\"t\": true, \"f\": false, \"zero\": 0, \"s\": \"true\"}");
	struct jsonx_err err = {0};
	bool b = false;

	REQUIRE_INT(jsonx_get_bool(j, "t", true, &b, &err), 0);
	CHECK(b);
	REQUIRE_INT(jsonx_get_bool(j, "f", true, &b, &err), 0);
	CHECK(!b);
	CHECK_INT(jsonx_get_bool(j, "zero", true, &b, &err), WEFT_ERR_TYPE);
	CHECK_STR(err.message, "field \"zero\" must be a boolean");
	CHECK_INT(jsonx_get_bool(j, "s", true, &b, &err), WEFT_ERR_TYPE);
	json_decref(j);
}

static void reads_string_array_as_null_terminated_borrowed_list(void)
{
	json_t *j = doc("{\"tags\": [\"tag:web\", \"tag:db\"], \"none\": []}");
	struct jsonx_err err = {0};
	const char **items = NULL;
	size_t n = 99;

	REQUIRE_INT(jsonx_get_string_array(j, "tags", true, 8, 32, &items, &n, &err), 0);
	REQUIRE_INT(n, 2);
	CHECK_STR(items[0], "tag:web");
	CHECK_STR(items[1], "tag:db");
	CHECK(items[2] == NULL);
	CHECK(items[0] == json_string_value(json_array_get(json_object_get(j, "tags"), 0)));
	free(items);
	items = NULL;
	REQUIRE_INT(jsonx_get_string_array(j, "none", true, 8, 32, &items, &n, &err), 0);
	CHECK_INT(n, 0);
	CHECK(items != NULL && items[0] == NULL);
	free(items);
	items = NULL;
	n = 5;
	REQUIRE_INT(jsonx_get_string_array(j, "absent", false, 8, 32, &items, &n, &err), 0);
	CHECK(items == NULL);
	CHECK_INT(n, 5);
	json_decref(j);
}

static void string_array_names_the_bad_item(void)
{
	json_t *j = doc("{\"tags\": [\"a\", 2, \"c\"], \"long\": [\"ok\", \"toolong\"],"
			" \"many\": [\"a\", \"b\", \"c\"], \"obj\": {\"a\": \"b\"}}");
	struct jsonx_err err = {0};
	const char **items = NULL;
	size_t n = 0;

	CHECK_INT(jsonx_get_string_array(j, "tags", true, 8, 32, &items, &n, &err),
		  WEFT_ERR_TYPE);
	CHECK_STR(err.field, "tags[1]");
	CHECK_STR(err.message, "field \"tags[1]\" must be a string");
	CHECK_INT(jsonx_get_string_array(j, "long", true, 8, 4, &items, &n, &err),
		  WEFT_ERR_RANGE);
	CHECK_STR(err.field, "long[1]");
	CHECK_INT(jsonx_get_string_array(j, "many", true, 2, 4, &items, &n, &err),
		  WEFT_ERR_RANGE);
	CHECK_STR(err.field, "many");
	CHECK_STR(err.message, "field \"many\" must have at most 2 items");
	CHECK_INT(jsonx_get_string_array(j, "obj", true, 2, 4, &items, &n, &err),
		  WEFT_ERR_TYPE);
	CHECK_STR(err.message, "field \"obj\" must be an array of strings");
	CHECK(items == NULL);
	json_decref(j);
}

static void reads_borrowed_objects_and_arrays(void)
{
	json_t *j = doc("{\"spec\": {\"a\": 1}, \"list\": [1, \"x\", null]}");
	struct jsonx_err err = {0};
	json_t *o = NULL, *a = NULL;

	REQUIRE_INT(jsonx_get_object(j, "spec", true, &o, &err), 0);
	CHECK(o == json_object_get(j, "spec"));
	REQUIRE_INT(jsonx_get_array(j, "list", true, 1, 3, &a, &err), 0);
	CHECK(a == json_object_get(j, "list"));
	CHECK_INT(jsonx_get_array(j, "list", true, 4, 10, &a, &err), WEFT_ERR_RANGE);
	CHECK_STR(err.message, "field \"list\" must have 4 to 10 items");
	CHECK_INT(jsonx_get_object(j, "list", true, &o, &err), WEFT_ERR_TYPE);
	CHECK_STR(err.message, "field \"list\" must be an object");
	CHECK_INT(jsonx_get_array(j, "spec", true, 0, 10, &a, &err), WEFT_ERR_TYPE);
	json_decref(j);
}

static void check_keys_names_first_unknown_field(void)
{
	static const char *const allowed[] = {"name", "tags", NULL};
	json_t *j = doc("{\"name\": \"x\", \"nmae\": 1, \"zzz\": 2}");
	json_t *ok = doc("{\"tags\": [], \"name\": \"x\"}");
	struct jsonx_err err = {0};

	CHECK_INT(jsonx_check_keys(j, allowed, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.field, "nmae");
	CHECK_STR(err.message, "unknown field \"nmae\"");
	CHECK_INT(jsonx_check_keys(ok, allowed, &err), 0);
	json_decref(j);
	json_decref(ok);
}

/* A typical request body: create an auth key. */
struct authkey_req {
	const char *description;
	int64_t expiry;
	bool reusable;
	struct jsonx_strings tags;
	json_t *meta;
	bool has_expiry, has_tags;
};

static void authkey_fields(struct authkey_req *r, struct jsonx_field f[5])
{
	struct jsonx_field t[5] = {
		{.name = "description", .type = JSONX_STRING, .required = true,
		 .min = 1, .max = 64, .out = &r->description},
		{.name = "expiry", .type = JSONX_INT, .min = 60, .max = 86400 * 90,
		 .out = &r->expiry, .present = &r->has_expiry},
		{.name = "reusable", .type = JSONX_BOOL, .out = &r->reusable},
		{.name = "tags", .type = JSONX_STRING_ARRAY, .min = 0, .max = 4,
		 .item_max_len = 32, .out = &r->tags, .present = &r->has_tags},
		{.name = "meta", .type = JSONX_ANY, .out = &r->meta},
	};

	memcpy(f, t, sizeof(t));
}

static void read_fills_every_given_field(void)
{
	json_t *j = doc("{\"description\": \"ci\", \"expiry\": 3600,"
			" \"reusable\": true, \"tags\": [\"tag:ci\"], \"meta\": null}");
	struct authkey_req r = {.expiry = -1, .has_expiry = false, .has_tags = true};
	struct jsonx_field f[5];
	struct jsonx_err err = {0};

	authkey_fields(&r, f);
	REQUIRE_INT(jsonx_read(j, f, 5, &err), 0);
	CHECK_STR(r.description, "ci");
	CHECK_INT(r.expiry, 3600);
	CHECK(r.has_expiry);
	CHECK(r.reusable);
	CHECK(r.has_tags);
	REQUIRE_INT(r.tags.n, 1);
	CHECK_STR(r.tags.items[0], "tag:ci");
	CHECK(r.tags.items[1] == NULL);
	CHECK(json_is_null(r.meta));
	free(r.tags.items);
	json_decref(j);
}

static void read_leaves_absent_optional_fields_as_initialised(void)
{
	json_t *j = doc("{\"description\": \"ci\"}");
	struct authkey_req r = {.expiry = 7, .reusable = true, .has_expiry = true,
				.has_tags = true};
	struct jsonx_field f[5];
	struct jsonx_err err = {0};

	authkey_fields(&r, f);
	REQUIRE_INT(jsonx_read(j, f, 5, &err), 0);
	CHECK_INT(r.expiry, 7);
	CHECK(r.reusable);
	CHECK(!r.has_expiry);
	CHECK(!r.has_tags);
	CHECK(r.tags.items == NULL);
	CHECK(r.meta == NULL);
	json_decref(j);
}

static void read_rejects_unknown_key_before_anything_else(void)
{
	/* "description" is missing too, but a typo is the likelier cause. */
	json_t *j = doc("{\"descripton\": \"ci\", \"expiry\": \"soon\"}");
	struct authkey_req r = {0};
	struct jsonx_field f[5];
	struct jsonx_err err = {0};

	authkey_fields(&r, f);
	CHECK_INT(jsonx_read(j, f, 5, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.field, "descripton");
	CHECK_STR(err.message, "unknown field \"descripton\"");
	json_decref(j);
}

static void read_reports_first_bad_field_and_writes_nothing(void)
{
	json_t *j = doc("{\"description\": \"ci\", \"tags\": [\"ok\"],"
			" \"expiry\": 10, \"reusable\": 1}");
	struct authkey_req r = {.description = "orig", .expiry = 5,
				.has_expiry = true, .has_tags = false};
	struct jsonx_field f[5];
	struct jsonx_err err = {0};

	authkey_fields(&r, f);
	CHECK_INT(jsonx_read(j, f, 5, &err), WEFT_ERR_RANGE);
	CHECK_STR(err.field, "expiry");
	CHECK_STR(err.message, "field \"expiry\" must be between 60 and 7776000");
	CHECK_STR(r.description, "orig");
	CHECK_INT(r.expiry, 5);
	CHECK(r.has_expiry);
	CHECK(!r.has_tags);
	CHECK(r.tags.items == NULL);

	json_object_set_new(j, "expiry", json_integer(600));
	CHECK_INT(jsonx_read(j, f, 5, &err), WEFT_ERR_TYPE);
	CHECK_STR(err.field, "reusable");
	CHECK_STR(r.description, "orig");
	json_decref(j);
}

static void read_requires_required_fields(void)
{
	json_t *j = doc("{\"reusable\": false}");
	struct authkey_req r = {0};
	struct jsonx_field f[5];
	struct jsonx_err err = {0};

	authkey_fields(&r, f);
	CHECK_INT(jsonx_read(j, f, 5, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.field, "description");
	CHECK_STR(err.message, "field \"description\" is required");
	json_decref(j);
}

static void read_without_out_only_validates(void)
{
	json_t *j = doc("{\"legacy\": \"x\", \"n\": 2}");
	int64_t n = 0;
	bool legacy_given = false;
	const struct jsonx_field f[] = {
		{.name = "legacy", .type = JSONX_STRING, .max = 8,
		 .present = &legacy_given},
		{.name = "n", .type = JSONX_INT, .min = 0, .max = 9, .out = &n},
	};
	struct jsonx_err err = {0};

	REQUIRE_INT(jsonx_read(j, f, 2, &err), 0);
	CHECK(legacy_given);
	CHECK_INT(n, 2);
	json_decref(j);
}

static void read_rejects_non_object(void)
{
	json_t *a = json_array();
	struct jsonx_err err = {0};
	const struct jsonx_field f[] = {{.name = "x", .type = JSONX_ANY}};

	CHECK_INT(jsonx_read(a, f, 1, &err), WEFT_ERR_TYPE);
	CHECK_INT(jsonx_read_prefixed(a, "spec", f, 1, &err), WEFT_ERR_TYPE);
	CHECK_STR(err.field, "spec");
	CHECK_STR(err.message, "field \"spec\" must be an object");
	json_decref(a);
}

static void nested_read_prefixes_field_names(void)
{
	json_t *j = doc("{\"spec\": {\"name\": 5, \"ports\": [\"x\"]}}");
	json_t *spec = NULL;
	const char *name = NULL;
	struct jsonx_strings ports = {0};
	const struct jsonx_field f[] = {
		{.name = "name", .type = JSONX_STRING, .max = 10, .out = &name},
		{.name = "ports", .type = JSONX_STRING_ARRAY, .max = 1,
		 .item_max_len = 0, .out = &ports},
	};
	struct jsonx_err err = {0};

	REQUIRE_INT(jsonx_get_object(j, "spec", true, &spec, &err), 0);
	CHECK_INT(jsonx_read_prefixed(spec, "spec", f, 2, &err), WEFT_ERR_TYPE);
	CHECK_STR(err.field, "spec.name");
	CHECK_STR(err.message, "field \"spec.name\" must be a string");
	json_object_set_new(spec, "name", json_string("web"));
	CHECK_INT(jsonx_read_prefixed(spec, "spec", f, 2, &err), WEFT_ERR_RANGE);
	CHECK_STR(err.field, "spec.ports[0]");
	json_object_set_new(spec, "extra", json_true());
	CHECK_INT(jsonx_read_prefixed(spec, "spec", f, 2, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.field, "spec.extra");
	CHECK(name == NULL);
	CHECK(ports.items == NULL);
	json_decref(j);
}

static void long_utf8_field_names_are_cut_on_character_boundaries(void)
{
	char key[401], body[512];
	json_t *j, *eb;
	struct jsonx_err err = {0};
	static const char *const allowed[] = {NULL};

	/* 200 two-byte characters: any cut at an odd byte would split one. */
	for (int i = 0; i < 200; i++)
		memcpy(key + 2 * i, "\xc3\xa9", 2);
	key[400] = '\0';
	snprintf(body, sizeof(body), "{\"%s\": 1}", key);
	j = doc(body);
	REQUIRE(j != NULL);
	CHECK_INT(jsonx_check_keys(j, allowed, &err), WEFT_ERR_INVAL);
	CHECK(strlen(err.field) % 2 == 0);
	CHECK(strlen(err.field) > 100);
	eb = jsonx_error_body("invalid", err.message, err.field);
	CHECK(eb != NULL);
	json_decref(eb);
	json_decref(j);
}

static void error_body_has_api_shape(void)
{
	json_t *b = jsonx_error_body("invalid", "field \"name\" is required", "name");
	json_t *e;
	char *s;

	REQUIRE(b != NULL);
	s = json_dumps(b, JSON_SORT_KEYS | JSON_COMPACT);
	CHECK_STR(s, "{\"error\":{\"code\":\"invalid\",\"field\":\"name\","
		     "\"message\":\"field \\\"name\\\" is required\"}}");
	free(s);
	json_decref(b);

	b = jsonx_error_body("not_found", "no such node", NULL);
	REQUIRE(b != NULL);
	e = json_object_get(b, "error");
	CHECK(json_object_get(e, "field") == NULL);
	CHECK_INT(json_object_size(e), 2);
	json_decref(b);

	CHECK(jsonx_error_body(NULL, "x", NULL) == NULL);
	CHECK(jsonx_error_body("x", NULL, NULL) == NULL);
	CHECK(jsonx_error_body("x", "bad \xff utf8", NULL) == NULL);
	CHECK(jsonx_error_body("x", "y", "bad \xff") == NULL);
}

static const struct check_case cases[] = {
	CHECK_CASE(parse_returns_object),
	CHECK_CASE(parse_rejects_body_over_limit),
	CHECK_CASE(parse_reports_line_and_column_of_syntax_error),
	CHECK_CASE(parse_rejects_duplicate_keys),
	CHECK_CASE(parse_rejects_non_object_top_level),
	CHECK_CASE(parse_rejects_nul_characters),
	CHECK_CASE(parse_bounds_nesting_depth),
	CHECK_CASE(parse_error_message_stays_valid_utf8),
	CHECK_CASE(reads_string_within_bounds),
	CHECK_CASE(reports_wrong_type_naming_the_field),
	CHECK_CASE(missing_required_field_is_invalid_and_optional_is_untouched),
	CHECK_CASE(reads_integers_and_rejects_reals_booleans_strings),
	CHECK_CASE(reads_booleans_only),
	CHECK_CASE(reads_string_array_as_null_terminated_borrowed_list),
	CHECK_CASE(string_array_names_the_bad_item),
	CHECK_CASE(reads_borrowed_objects_and_arrays),
	CHECK_CASE(check_keys_names_first_unknown_field),
	CHECK_CASE(read_fills_every_given_field),
	CHECK_CASE(read_leaves_absent_optional_fields_as_initialised),
	CHECK_CASE(read_rejects_unknown_key_before_anything_else),
	CHECK_CASE(read_reports_first_bad_field_and_writes_nothing),
	CHECK_CASE(read_requires_required_fields),
	CHECK_CASE(read_without_out_only_validates),
	CHECK_CASE(read_rejects_non_object),
	CHECK_CASE(nested_read_prefixes_field_names),
	CHECK_CASE(long_utf8_field_names_are_cut_on_character_boundaries),
	CHECK_CASE(error_body_has_api_shape),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
