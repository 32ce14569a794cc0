/* agent/wildcard: per-name addresses of wildcard resources and the
 * name -> address message to the connector. */
#include "agent/wildcard.h"
#include "check.h"
#include "shared/err.h"

#include <stdio.h>
#include <stdlib.h>

static struct ip_prefix prefix(const char *s)
{
	struct ip_prefix p;

	memset(&p, 0, sizeof(p));
	if (ip_prefix_parse(s, &p, 0) != 0)
		check_report(false, __FILE__, __LINE__, "bad prefix %s", s);
	return p;
}

static void matches_names_strictly_under_the_domain(void)
{
	CHECK(wildcard_matches("*.corp.example", "db.corp.example"));
	CHECK(wildcard_matches("*.corp.example", "a.b.corp.example"));
	CHECK(!wildcard_matches("*.corp.example", "corp.example"));
	CHECK(!wildcard_matches("*.corp.example", "xcorp.example"));
	CHECK(!wildcard_matches("*.corp.example", "db.corp.example.org"));
	CHECK(!wildcard_matches("corp.example", "db.corp.example"));
}

static void names_get_stable_distinct_addresses(void)
{
	struct wildcard_table *t = wildcard_table_new(), *t2;
	struct ip_prefix p4 = prefix("100.104.3.0/24");
	struct ip_prefix p6 = prefix("fd12:3456:789a:ffff::6468:300/120");
	struct ip_addr a4, a6, b4, b6, c4;
	char buf[IP_ADDR_STRLEN];

	CHECK(t != NULL);
	CHECK_INT(wildcard_resolve(t, 7, &p4, &p6, "x.wild.test", &a4, &a6),
		  0);
	CHECK(ip_prefix_contains(&p4, &a4) && ip_prefix_contains(&p6, &a6));
	CHECK(a4.b[3] >= 1 && a4.b[3] <= 254);
	CHECK_INT(a6.b[15], a4.b[3]);
	CHECK_INT(wildcard_resolve(t, 7, &p4, &p6, "y.wild.test", &b4, &b6),
		  0);
	CHECK(!ip_addr_eq(&a4, &b4));
	CHECK_INT(wildcard_resolve(t, 7, &p4, NULL, "x.wild.test", &c4, NULL),
		  0);
	CHECK(ip_addr_eq(&a4, &c4));
	/* A new table (a restarted agent) gives the first name the same. */
	t2 = wildcard_table_new();
	CHECK_INT(wildcard_resolve(t2, 7, &p4, NULL, "x.wild.test", &c4, NULL),
		  0);
	CHECK(ip_addr_eq(&a4, &c4));
	ip_addr_format(&a4, buf, sizeof(buf));
	printf("# x.wild.test -> %s\n", buf);
	CHECK_INT(wildcard_resolve(t, 7, &p6, NULL, "x.wild.test", &c4, NULL),
		  WEFT_ERR_INVAL);
	CHECK_INT(wildcard_resolve(t, 7, &p4, NULL, "x..test", &c4, NULL),
		  WEFT_ERR_INVAL);
	wildcard_table_del(t2);
	wildcard_table_del(t);
}

static void a_full_block_is_exhausted_and_forget_frees_it(void)
{
	struct wildcard_table *t = wildcard_table_new();
	struct ip_prefix p4 = prefix("100.104.0.0/24");
	bool seen[256] = {false};
	struct ip_addr a;
	char name[32];

	for (int i = 0; i < WILDCARD_HOSTS; i++) {
		snprintf(name, sizeof(name), "h%d.wild.test", i);
		CHECK_INT(wildcard_resolve(t, 1, &p4, NULL, name, &a, NULL), 0);
		CHECK(!seen[a.b[3]]);
		seen[a.b[3]] = true;
	}
	CHECK(!seen[0] && !seen[255]);
	CHECK_INT(wildcard_resolve(t, 1, &p4, NULL, "more.wild.test", &a,
				   NULL),
		  WEFT_ERR_EXHAUSTED);
	/* Another resource has its own block. */
	CHECK_INT(wildcard_resolve(t, 2, &p4, NULL, "more.wild.test", &a,
				   NULL),
		  0);
	wildcard_forget(t, 1);
	CHECK_INT(wildcard_resolve(t, 1, &p4, NULL, "more.wild.test", &a,
				   NULL),
		  0);
	wildcard_table_del(t);
}

struct collected {
	struct wildcard_entry e[4];
	size_t n;
};

static void collect(void *ctx, const struct wildcard_entry *e)
{
	struct collected *c = ctx;

	if (c->n < 4)
		c->e[c->n++] = *e;
}

static void each_lists_what_was_given_and_round_trips(void)
{
	struct wildcard_table *t = wildcard_table_new();
	struct ip_prefix p4 = prefix("100.104.3.0/24");
	struct wildcard_entry back[WILDCARD_MSG_ENTRIES];
	struct collected c = {.n = 0};
	struct ip_addr a, b;
	uint8_t buf[WILDCARD_MSG_MAX];
	size_t n = 0;
	int len;

	CHECK_INT(wildcard_resolve(t, 9, &p4, NULL, "x.wild.test", &a, NULL),
		  0);
	CHECK_INT(wildcard_resolve(t, 9, &p4, NULL, "y.wild.test", &b, NULL),
		  0);
	wildcard_each(t, 9, collect, &c);
	wildcard_each(t, 10, collect, &c);
	CHECK_INT((int)c.n, 2);
	len = wildcard_msg_build(c.e, c.n, buf, sizeof(buf));
	CHECK_INT(len, 5 + 2 * (13 + 11));
	CHECK_MEM(buf, "WFW1\2", 5);
	CHECK_INT(wildcard_msg_parse(buf, (size_t)len, back, &n), 0);
	CHECK_INT((int)n, 2);
	for (size_t i = 0; i < 2; i++) {
		CHECK(back[i].id == 9);
		CHECK(ip_addr_eq(&back[i].addr, &c.e[i].addr));
		CHECK_STR(back[i].name, c.e[i].name);
		CHECK(ip_addr_eq(&back[i].addr, &a) ||
		      ip_addr_eq(&back[i].addr, &b));
	}
	CHECK_INT(wildcard_msg_build(c.e, c.n, buf, 20), WEFT_ERR_TOOBIG);
	CHECK_INT(wildcard_msg_build(c.e, 0, buf, sizeof(buf)),
		  WEFT_ERR_INVAL);
	wildcard_table_del(t);
}

static void rejects_malformed_messages(void)
{
	struct wildcard_entry e = {.id = 3}, out[WILDCARD_MSG_ENTRIES];
	uint8_t buf[64], bad[64];
	size_t n;
	int len;

	e.addr.family = 4;
	e.addr.b[0] = 100;
	strcpy(e.name, "x.wild.test");
	len = wildcard_msg_build(&e, 1, buf, sizeof(buf));
	CHECK(len > 0);
	for (int i = 0; i < len; i++)
		CHECK_INT(wildcard_msg_parse(buf, (size_t)i, out, &n),
			  WEFT_ERR_PARSE);
	buf[len] = 0;
	CHECK_INT(wildcard_msg_parse(buf, (size_t)len + 1, out, &n),
		  WEFT_ERR_PARSE);
	memcpy(bad, buf, (size_t)len);
	bad[0] = 'X'; /* magic */
	CHECK_INT(wildcard_msg_parse(bad, (size_t)len, out, &n),
		  WEFT_ERR_PARSE);
	memcpy(bad, buf, (size_t)len);
	bad[4] = 0; /* count */
	CHECK_INT(wildcard_msg_parse(bad, (size_t)len, out, &n),
		  WEFT_ERR_PARSE);
	memcpy(bad, buf, (size_t)len);
	bad[12] = 0; /* id 0 */
	CHECK_INT(wildcard_msg_parse(bad, (size_t)len, out, &n),
		  WEFT_ERR_PARSE);
	memcpy(bad, buf, (size_t)len);
	bad[18] = 'X'; /* upper case */
	CHECK_INT(wildcard_msg_parse(bad, (size_t)len, out, &n),
		  WEFT_ERR_PARSE);
	memcpy(bad, buf, (size_t)len);
	bad[19] = '\0'; /* NUL inside the name */
	CHECK_INT(wildcard_msg_parse(bad, (size_t)len, out, &n),
		  WEFT_ERR_PARSE);
	memcpy(bad, buf, (size_t)len);
	bad[len - 1] = '.'; /* trailing dot */
	CHECK_INT(wildcard_msg_parse(bad, (size_t)len, out, &n),
		  WEFT_ERR_PARSE);
}

static const struct check_case cases[] = {
	CHECK_CASE(matches_names_strictly_under_the_domain),
	CHECK_CASE(names_get_stable_distinct_addresses),
	CHECK_CASE(a_full_block_is_exhausted_and_forget_frees_it),
	CHECK_CASE(each_lists_what_was_given_and_round_trips),
	CHECK_CASE(rejects_malformed_messages),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
