/* The JSON value locator (controller/jsonloc.h). */
#include "check.h"

#include "controller/jsonloc.h"
#include "shared/err.h"

#include <string.h>

static int rc_at(const char *json, const char *path, int *line, int *col)
{
	struct jsonloc loc = {0, 0};
	int rc = jsonloc_find(json, strlen(json), path, &loc);

	*line = loc.line;
	*col = loc.column;
	return rc;
}

static const char doc[] =
	"{\n"
	"  \"groups\": {\"group:eng\": [\"alice\", \"bob\"]},\n"
	"  \"acls\": [\n"
	"    {\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"]},\n"
	"    {\"action\": \"accept\",\n"
	"     \"src\": [\"group:eng\"],\n"
	"     \"dst\": [\"tag:db:5432\", \"tag:web:443\"]}\n"
	"  ]\n"
	"}\n";

static void finds_values_by_path(void)
{
	int l, c;

	CHECK_INT(rc_at(doc, "", &l, &c), 0);
	CHECK_INT(l, 1);
	CHECK_INT(c, 1);
	CHECK_INT(rc_at(doc, "acls", &l, &c), 0);
	CHECK_INT(l, 3);
	CHECK_INT(c, 11);
	CHECK_INT(rc_at(doc, "acls[1].dst[1]", &l, &c), 0);
	CHECK_INT(l, 7);
	CHECK_INT(c, 29);
	CHECK_INT(rc_at(doc, "acls[1].src[0]", &l, &c), 0);
	CHECK_INT(l, 6);
	CHECK_INT(c, 14);
	CHECK_INT(rc_at(doc, "acls[0]", &l, &c), 0);
	CHECK_INT(l, 4);
	CHECK_INT(c, 5);
	/* A key with ':' in it, then an index. */
	CHECK_INT(rc_at(doc, "groups.group:eng[1]", &l, &c), 0);
	CHECK_INT(l, 2);
	CHECK_INT(c, 37);
}

static void a_missing_step_stops_at_the_deepest_value(void)
{
	int l, c;

	CHECK_INT(rc_at(doc, "acls[1].dst[7]", &l, &c), WEFT_ERR_NOTFOUND);
	CHECK_INT(l, 7);
	CHECK_INT(c, 13);
	CHECK_INT(rc_at(doc, "acls[1].proto", &l, &c), WEFT_ERR_NOTFOUND);
	CHECK_INT(l, 5);
	CHECK_INT(c, 5);
	CHECK_INT(rc_at(doc, "hosts", &l, &c), WEFT_ERR_NOTFOUND);
	CHECK_INT(l, 1);
	CHECK_INT(rc_at(doc, "acls.x", &l, &c), WEFT_ERR_NOTFOUND);
	CHECK_INT(l, 3);
	CHECK_INT(rc_at(doc, "acls[x]", &l, &c), WEFT_ERR_NOTFOUND);
	CHECK_INT(rc_at("", "acls", &l, &c), WEFT_ERR_NOTFOUND);
	CHECK_INT(l, 1);
	CHECK_INT(c, 1);
	CHECK_INT(jsonloc_find(NULL, 0, "", &(struct jsonloc){0}),
		  WEFT_ERR_INVAL);
}

static void keys_are_compared_whole_and_unescaped(void)
{
	int l, c;

	/* "ac" is a prefix of "acls" but not the key. */
	CHECK_INT(rc_at("{\"ac\": 1,\n \"acls\": 2}", "acls", &l, &c), 0);
	CHECK_INT(l, 2);
	CHECK_INT(c, 10);
	CHECK_INT(rc_at("{\"a\\\"b\": [1,\n 2]}", "a\"b[1]", &l, &c), 0);
	CHECK_INT(l, 2);
	CHECK_INT(c, 2);
	/* A key with a dot, and a \u escape that never matches. */
	CHECK_INT(rc_at("{\"a.b\": {\"c\": 3}}", "a.b.c", &l, &c), 0);
	CHECK_INT(c, 15);
	CHECK_INT(rc_at("{\"\\u0061\": 1}", "a", &l, &c), WEFT_ERR_NOTFOUND);
	/* Values skipped on the way: nested containers, escapes, numbers. */
	CHECK_INT(rc_at("{\"x\": [{\"y\": \"]}\\\"\"}, -1.5e3, true], \"z\": null}",
			"z", &l, &c), 0);
	CHECK_INT(c, 43);
}

static void columns_count_characters(void)
{
	int l, c;

	/* "é" is two bytes, one character. */
	CHECK_INT(rc_at("{\"k\": \"\xc3\xa9\", \"m\": 1}", "m", &l, &c), 0);
	CHECK_INT(c, 17);
}

static void malformed_text_stops_the_walk(void)
{
	int l, c;

	CHECK_INT(rc_at("{\"a\": [1, 2", "a[5]", &l, &c), WEFT_ERR_NOTFOUND);
	CHECK_INT(c, 7);
	CHECK_INT(rc_at("{\"a\" 1}", "a", &l, &c), WEFT_ERR_NOTFOUND);
	CHECK_INT(rc_at("{\"a\": 1, \"b", "b", &l, &c), WEFT_ERR_NOTFOUND);
	CHECK_INT(rc_at("[[[[", "[0][0][0][0]", &l, &c), WEFT_ERR_NOTFOUND);
}

static const struct check_case cases[] = {
	CHECK_CASE(finds_values_by_path),
	CHECK_CASE(a_missing_step_stops_at_the_deepest_value),
	CHECK_CASE(keys_are_compared_whole_and_unescaped),
	CHECK_CASE(columns_count_characters),
	CHECK_CASE(malformed_text_stops_the_walk),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
