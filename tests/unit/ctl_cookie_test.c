/* The Cookie header parser (controller/cookie.h). */
#include "check.h"

#include "controller/cookie.h"
#include "shared/err.h"

#include <string.h>

static void finds_the_named_cookie_among_others(void)
{
	char v[64];

	CHECK_INT(cookie_get("__Host-weft_session=abc", COOKIE_SESSION, v,
			     sizeof(v)), 0);
	CHECK_STR(v, "abc");
	CHECK_INT(cookie_get("theme=dark; __Host-weft_session=weft_x-1_Z; "
			     "other=1", COOKIE_SESSION, v, sizeof(v)), 0);
	CHECK_STR(v, "weft_x-1_Z");
	/* No space after ';', spaces and tabs around '=' and the value. */
	CHECK_INT(cookie_get("a=1;__Host-weft_session = v2 \t;b", COOKIE_SESSION,
			     v, sizeof(v)), 0);
	CHECK_STR(v, "v2");
	/* The first one wins. */
	CHECK_INT(cookie_get("__Host-weft_session=one; __Host-weft_session=two",
			     COOKIE_SESSION, v, sizeof(v)), 0);
	CHECK_STR(v, "one");
	/* Quotes are removed; an empty value is a value. */
	CHECK_INT(cookie_get("__Host-weft_session=\"q\"", COOKIE_SESSION, v,
			     sizeof(v)), 0);
	CHECK_STR(v, "q");
	CHECK_INT(cookie_get("__Host-weft_session=", COOKIE_SESSION, v,
			     sizeof(v)), 0);
	CHECK_STR(v, "");
}

static void names_match_exactly(void)
{
	char v[64];

	CHECK_INT(cookie_get("__host-weft_session=x", COOKIE_SESSION, v,
			     sizeof(v)), WEFT_ERR_NOTFOUND);
	CHECK_INT(cookie_get("weft_session=x", COOKIE_SESSION, v, sizeof(v)),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(cookie_get("x__Host-weft_session=x", COOKIE_SESSION, v,
			     sizeof(v)), WEFT_ERR_NOTFOUND);
	/* A name that only appears inside another pair's value. */
	CHECK_INT(cookie_get("a=__Host-weft_session=x", COOKIE_SESSION, v,
			     sizeof(v)), WEFT_ERR_NOTFOUND);
	CHECK_INT(cookie_get("__Host-weft_session", COOKIE_SESSION, v,
			     sizeof(v)), WEFT_ERR_NOTFOUND);
	CHECK_INT(cookie_get("", COOKIE_SESSION, v, sizeof(v)),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(cookie_get(";;; ; ", COOKIE_SESSION, v, sizeof(v)),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(cookie_get(NULL, COOKIE_SESSION, v, sizeof(v)),
		  WEFT_ERR_NOTFOUND);
}

static void refuses_bad_octets_and_long_values(void)
{
	char v[8];

	strcpy(v, "junk");
	CHECK_INT(cookie_get("__Host-weft_session=a b", COOKIE_SESSION, v,
			     sizeof(v)), WEFT_ERR_PARSE);
	CHECK_STR(v, "");
	CHECK_INT(cookie_get("__Host-weft_session=a,b", COOKIE_SESSION, v,
			     sizeof(v)), WEFT_ERR_PARSE);
	CHECK_INT(cookie_get("__Host-weft_session=a\\b", COOKIE_SESSION, v,
			     sizeof(v)), WEFT_ERR_PARSE);
	CHECK_INT(cookie_get("__Host-weft_session=\"", COOKIE_SESSION, v,
			     sizeof(v)), WEFT_ERR_PARSE);
	CHECK_INT(cookie_get("__Host-weft_session=\xc3\xa9", COOKIE_SESSION, v,
			     sizeof(v)), WEFT_ERR_PARSE);
	CHECK_INT(cookie_get("__Host-weft_session=1234567", COOKIE_SESSION, v,
			     sizeof(v)), 0);
	CHECK_INT(cookie_get("__Host-weft_session=12345678", COOKIE_SESSION, v,
			     sizeof(v)), WEFT_ERR_TOOBIG);
	CHECK_STR(v, "");
}

static const struct check_case cases[] = {
	CHECK_CASE(finds_the_named_cookie_among_others),
	CHECK_CASE(names_match_exactly),
	CHECK_CASE(refuses_bad_octets_and_long_values),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
