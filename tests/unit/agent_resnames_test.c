/* agent/resnames: which mapped address a name has for this client. */
#include "agent/resnames.h"
#include "check.h"
#include "shared/err.h"

static struct map_res res(int64_t id, enum map_res_type type,
			  const char *address, const char *p4, const char *p6)
{
	struct map_res r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.name = address;
	r.type = type;
	r.address = address;
	if (p4 && ip_prefix_parse(p4, &r.prefixes[r.nprefixes++], 0) != 0)
		check_report(false, __FILE__, __LINE__, "bad prefix %s", p4);
	if (p6 && ip_prefix_parse(p6, &r.prefixes[r.nprefixes++], 0) != 0)
		check_report(false, __FILE__, __LINE__, "bad prefix %s", p6);
	return r;
}

static bool is(const struct ip_addr *a, const char *s)
{
	struct ip_addr b;

	return ip_addr_parse(s, &b) == 0 && ip_addr_eq(a, &b);
}

static void dns_names_get_their_mapped_addresses(void)
{
	struct map_res v[] = {
		res(1, MAP_RES_CIDR, "10.0.0.0/8", "10.0.0.0/8", NULL),
		res(2, MAP_RES_DNS, "db.corp.test", "100.96.0.1/32",
		    "fd12:3456:789a:ffff::6460:1/128"),
	};
	struct wildcard_table *wt = wildcard_table_new();
	struct resnames_hit h;

	CHECK_INT(resnames_resolve(v, 2, wt, "DB.Corp.Test.", &h), 0);
	CHECK(h.res == &v[1]);
	CHECK_STR(h.name, "db.corp.test");
	CHECK(is(&h.v4, "100.96.0.1"));
	CHECK(is(&h.v6, "fd12:3456:789a:ffff::6460:1"));
	CHECK_INT(resnames_resolve(v, 2, wt, "x.db.corp.test", &h),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(resnames_resolve(v, 2, wt, "10.0.0.1", &h),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(resnames_resolve(v, 2, wt, "a..b", &h), WEFT_ERR_INVAL);
	CHECK_INT(resnames_resolve(v, 2, wt, ".", &h), WEFT_ERR_INVAL);
	wildcard_table_del(wt);
}

static void wildcard_names_get_stable_addresses_in_the_block(void)
{
	struct map_res v[] = {
		res(3, MAP_RES_WILDCARD, "*.wild.test", "100.104.0.0/24",
		    "fd12:3456:789a:ffff::6468:0/120"),
		res(4, MAP_RES_WILDCARD, "*.in.wild.test", "100.104.1.0/24",
		    NULL),
		res(5, MAP_RES_DNS, "x.in.wild.test", "100.96.0.2/32", NULL),
	};
	struct wildcard_table *wt = wildcard_table_new();
	struct resnames_hit h, again;
	struct ip_prefix p;

	CHECK_INT(resnames_resolve(v, 3, wt, "x.wild.test", &h), 0);
	CHECK(h.res == &v[0]);
	CHECK(ip_prefix_contains(&v[0].prefixes[0], &h.v4));
	CHECK(ip_prefix_contains(&v[0].prefixes[1], &h.v6));
	CHECK_INT(h.v6.b[15], h.v4.b[3]);
	CHECK_INT(resnames_resolve(v, 3, wt, "X.wild.test", &again), 0);
	CHECK(ip_addr_eq(&h.v4, &again.v4));
	/* The longest wildcard wins; an exact DNS resource beats both. */
	CHECK_INT(resnames_resolve(v, 3, wt, "y.in.wild.test", &h), 0);
	CHECK(h.res == &v[1]);
	CHECK_INT(h.v6.family, 0);
	ip_prefix_parse("100.104.1.0/24", &p, 0);
	CHECK(ip_prefix_contains(&p, &h.v4));
	CHECK_INT(resnames_resolve(v, 3, wt, "x.in.wild.test", &h), 0);
	CHECK(h.res == &v[2]);
	CHECK(is(&h.v4, "100.96.0.2"));
	CHECK_INT(resnames_resolve(v, 3, wt, "wild.test", &h),
		  WEFT_ERR_NOTFOUND);
	wildcard_table_del(wt);
}

static const struct check_case cases[] = {
	CHECK_CASE(dns_names_get_their_mapped_addresses),
	CHECK_CASE(wildcard_names_get_stable_addresses_in_the_block),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
