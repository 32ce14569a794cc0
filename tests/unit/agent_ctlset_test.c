/* The agent's controller URL list and its failover rule
 * (agent/ctlset.c). */
#include "check.h"
#include "agent/ctlset.h"
#include "shared/err.h"

#include <stdio.h>
#include <string.h>

static struct ctlset *parse(const char *spec)
{
	struct ctlset *s = NULL;
	char msg[256];

	CHECK_INT(ctlset_parse(spec, false, NULL, &s, msg, sizeof(msg)), 0);
	return s;
}

static void comma_separated_urls_are_trimmed_and_deduplicated(void)
{
	struct ctlset *s = parse(" https://a.example/ ,https://b.example:8443,"
				 ",https://a.example,http://127.0.0.1:80//");

	REQUIRE(s);
	CHECK_INT(ctlset_count(s), 3);
	CHECK_STR(ctlset_url(s, 0), "https://a.example");
	CHECK_STR(ctlset_url(s, 1), "https://b.example:8443");
	CHECK_STR(ctlset_url(s, 2), "http://127.0.0.1:80");
	CHECK_STR(ctlset_current(s), "https://a.example");
	CHECK(ctlset_has(s, "https://b.example:8443/"));
	CHECK(!ctlset_has(s, "https://c.example"));
	ctlset_del(s);
}

static void bad_lists_are_refused_with_the_reason(void)
{
	struct ctlset *s = NULL;
	char msg[256], many[2048] = "";
	bool plain = false;

	CHECK_INT(ctlset_parse("", false, NULL, &s, msg, sizeof(msg)),
		  WEFT_ERR_INVAL);
	CHECK(strstr(msg, "no controller URL") != NULL);
	CHECK_INT(ctlset_parse(" , ", false, NULL, &s, msg, sizeof(msg)),
		  WEFT_ERR_INVAL);
	CHECK_INT(ctlset_parse("https://a,ftp://b", false, NULL, &s, msg,
			       sizeof(msg)), WEFT_ERR_INVAL);
	CHECK(strstr(msg, "ftp://b") != NULL);
	CHECK_INT(ctlset_parse("https://a,http://b.example", false, NULL, &s,
			       msg, sizeof(msg)), WEFT_ERR_FORBIDDEN);
	CHECK(strstr(msg, "http://b.example") != NULL);
	CHECK(s == NULL);
	CHECK_INT(ctlset_parse("https://a,http://b.example", true, &plain, &s,
			       msg, sizeof(msg)), 0);
	CHECK(plain);
	ctlset_del(s);
	for (int i = 0; i <= CTLSET_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "https://h%d,", i);
	s = NULL;
	CHECK_INT(ctlset_parse(many, false, NULL, &s, msg, sizeof(msg)),
		  WEFT_ERR_INVAL);
	CHECK(s == NULL);
}

static void a_failure_moves_to_the_next_url_and_backs_off_after_a_round(void)
{
	struct ctlset *s = parse("https://a,https://b,https://c");

	REQUIRE(s);
	CHECK(!ctlset_failed(s)); /* a failed: b next, at once */
	CHECK_STR(ctlset_current(s), "https://b");
	CHECK(!ctlset_failed(s)); /* b failed: c next, at once */
	CHECK_STR(ctlset_current(s), "https://c");
	CHECK(ctlset_failed(s));  /* all three failed: back off */
	CHECK_STR(ctlset_current(s), "https://a");
	CHECK(ctlset_failed(s));  /* still failing: keep backing off */
	CHECK_STR(ctlset_current(s), "https://b");
	ctlset_ok(s);
	CHECK_STR(ctlset_current(s), "https://b");
	CHECK(!ctlset_failed(s)); /* a new round after a success */
	ctlset_del(s);
}

static void the_url_that_works_stays_in_use(void)
{
	struct ctlset *s = parse("https://a,https://b");

	REQUIRE(s);
	CHECK(!ctlset_failed(s));
	ctlset_ok(s);
	/* b keeps answering: a coming back changes nothing (no primary). */
	for (int i = 0; i < 5; i++)
		ctlset_ok(s);
	CHECK_STR(ctlset_current(s), "https://b");
	ctlset_del(s);
}

static void one_url_backs_off_on_every_failure(void)
{
	struct ctlset *s = parse("https://only");

	REQUIRE(s);
	CHECK(ctlset_failed(s));
	CHECK_STR(ctlset_current(s), "https://only");
	ctlset_ok(s);
	CHECK(ctlset_failed(s));
	ctlset_del(s);
}

static const struct check_case cases[] = {
	CHECK_CASE(comma_separated_urls_are_trimmed_and_deduplicated),
	CHECK_CASE(bad_lists_are_refused_with_the_reason),
	CHECK_CASE(a_failure_moves_to_the_next_url_and_backs_off_after_a_round),
	CHECK_CASE(the_url_that_works_stays_in_use),
	CHECK_CASE(one_url_backs_off_on_every_failure),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
