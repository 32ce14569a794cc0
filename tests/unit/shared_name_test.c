/* shared/name.c: the one name rule, its DNS-label form for nodes and the
 * tag form, each at its accept/reject edges. */
#include "check.h"

#include "shared/name.h"

#include <stdio.h>
#include <string.h>

/* A string of n copies of ch (n < 100). */
static const char *rep(char ch, size_t n)
{
	static char buf[100];

	memset(buf, ch, n);
	buf[n] = '\0';
	return buf;
}

static void name_is_1_to_63_of_lower_alnum_dot_underscore_dash(void)
{
	CHECK(name_valid("a"));
	CHECK(name_valid("7"));
	CHECK(name_valid("a.b_c-d"));
	CHECK(name_valid("a-"));
	CHECK(name_valid("a."));
	CHECK(name_valid(rep('x', NAME_MAX_LEN)));
	CHECK(!name_valid(rep('x', NAME_MAX_LEN + 1)));
	CHECK(!name_valid(""));
}

static void name_starts_with_letter_or_digit_and_has_no_other_bytes(void)
{
	CHECK(!name_valid("-a"));
	CHECK(!name_valid(".a"));
	CHECK(!name_valid("_a"));
	CHECK(!name_valid("aB"));
	CHECK(!name_valid("a:b"));
	CHECK(!name_valid("a b"));
	CHECK(!name_valid("a\tb"));
	CHECK(!name_valid("\xc3\xa9"));
}

static void label_is_a_name_without_dots_underscores_or_edge_dashes(void)
{
	CHECK(name_valid_label("web-1"));
	CHECK(name_valid_label("1"));
	CHECK(name_valid_label(rep('z', NAME_MAX_LEN)));
	CHECK(!name_valid_label(rep('z', NAME_MAX_LEN + 1)));
	CHECK(!name_valid_label(""));
	CHECK(!name_valid_label("web-"));
	CHECK(!name_valid_label("-web"));
	CHECK(!name_valid_label("web.1"));
	CHECK(!name_valid_label("web_1"));
	CHECK(!name_valid_label("Web"));
	/* Every label is a name. */
	CHECK(name_valid("web-1"));
}

static void domain_is_labels_joined_by_dots_at_most_253_bytes(void)
{
	char long_name[600], half[140];

	CHECK(name_valid_domain("weft.internal"));
	CHECK(name_valid_domain("corp"));
	CHECK(name_valid_domain("a-1.b2.example"));
	CHECK(!name_valid_domain(""));
	CHECK(!name_valid_domain("weft.internal."));
	CHECK(!name_valid_domain(".weft"));
	CHECK(!name_valid_domain("a..b"));
	CHECK(!name_valid_domain("a.-b"));
	CHECK(!name_valid_domain("Corp.example"));
	CHECK(!name_valid_domain("a_b.example"));
	CHECK(!name_valid_domain("*.example"));
	/* 4 labels of 63 and dots: 255 bytes, too long; one byte less
	 * of the last label twice is 253. */
	snprintf(half, sizeof(half), "%s.", rep('a', 63));
	snprintf(long_name, sizeof(long_name), "%s%s%s%s", half, half, half,
		 half);
	long_name[strlen(long_name) - 1] = '\0';
	CHECK_INT(strlen(long_name), 255);
	CHECK(!name_valid_domain(long_name));
	long_name[253] = '\0';
	CHECK(name_valid_domain(long_name));
	strcpy(long_name, rep('a', 64));
	strcat(long_name, ".b");
	CHECK(!name_valid_domain(long_name));
}

static void under_domain_matches_whole_labels(void)
{
	CHECK(name_under_domain("corp.example", "corp.example"));
	CHECK(name_under_domain("a.corp.example", "corp.example"));
	CHECK(!name_under_domain("xcorp.example", "corp.example"));
	CHECK(!name_under_domain("example", "corp.example"));
}

static void tag_is_prefix_and_name_at_most_63_bytes_in_all(void)
{
	char tag[80];

	CHECK(name_valid_tag("tag:a"));
	CHECK(name_valid_tag("tag:db.prod_1-x"));
	strcpy(tag, NAME_TAG_PREFIX);
	strcat(tag, rep('a', NAME_TAG_MAX - strlen(NAME_TAG_PREFIX)));
	CHECK_INT(strlen(tag), 63);
	CHECK(name_valid_tag(tag));
	/* The name alone would still be valid; the tag is too long. */
	strcat(tag, "a");
	CHECK(name_valid(tag + strlen(NAME_TAG_PREFIX)));
	CHECK(!name_valid_tag(tag));
	CHECK(!name_valid_tag("tag:"));
	CHECK(!name_valid_tag("tag:.a"));
	CHECK(!name_valid_tag("tag:A"));
	CHECK(!name_valid_tag("TAG:a"));
	CHECK(!name_valid_tag("a"));
	CHECK(!name_valid_tag("group:a"));
}

static const struct check_case cases[] = {
	CHECK_CASE(name_is_1_to_63_of_lower_alnum_dot_underscore_dash),
	CHECK_CASE(name_starts_with_letter_or_digit_and_has_no_other_bytes),
	CHECK_CASE(label_is_a_name_without_dots_underscores_or_edge_dashes),
	CHECK_CASE(domain_is_labels_joined_by_dots_at_most_253_bytes),
	CHECK_CASE(under_domain_matches_whole_labels),
	CHECK_CASE(tag_is_prefix_and_name_at_most_63_bytes_in_all),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
