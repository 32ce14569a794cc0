/* agent/dnsplan: what the agent installs on the host for each map and
 * mode, the resolv.conf text it writes, and the loop check. */
#include "agent/dnsplan.h"

#include "check.h"
#include "shared/err.h"

#include <stdio.h>
#include <string.h>

static struct ip_addr addr(const char *s)
{
	struct ip_addr a = {0};

	ip_addr_parse(s, &a);
	return a;
}

static bool same(const struct ip_addr *a, const char *s)
{
	struct ip_addr b = addr(s);

	return ip_addr_eq(a, &b);
}

static struct map_dns base(void)
{
	struct map_dns in = {.suffix = "weft.internal", .search = true,
			     .stub4 = addr("100.100.100.100"),
			     .stub6 = addr("fd7a:1:2::6464:6464")};
	return in;
}

static struct ip_endpoint ep(const char *s)
{
	struct ip_endpoint e = {0};

	ip_endpoint_parse(s, &e);
	return e;
}

static void routing_domains_are_suffix_then_splits_without_duplicates(void)
{
	struct map_dns_split split[] = {{.domain = "corp.example"},
					{.domain = "lab.example"},
					{.domain = "corp.example"}};
	struct map_dns in = base();
	struct dnsplan p;
	char err[128];

	in.split = split;
	in.nsplit = 3;
	REQUIRE_INT(dnsplan_build(&in, false, &p, err, sizeof(err)), 0);
	REQUIRE_INT(p.ndomains, 3);
	CHECK_STR(p.domains[0], "weft.internal");
	CHECK_STR(p.domains[1], "corp.example");
	CHECK_STR(p.domains[2], "lab.example");
	CHECK_STR(p.search, "weft.internal");
	REQUIRE_INT(p.nns, 2);
	CHECK_INT(p.ns[0].family, 4);
	CHECK_INT(p.ns[1].family, 6);
	CHECK(!p.default_route);
}

static void search_off_installs_no_search_domain(void)
{
	struct map_dns in = base();
	struct dnsplan p;

	in.search = false;
	REQUIRE_INT(dnsplan_build(&in, false, &p, NULL, 0), 0);
	CHECK_STR(p.search, "");
	CHECK_INT(p.ndomains, 1);
}

static void default_route_only_with_exit_node_or_global_upstreams(void)
{
	struct ip_endpoint ups[] = {ep("192.0.2.53:53"), ep("[2001:db8::53]:5353")};
	struct map_dns in = base();
	struct dnsplan p;

	REQUIRE_INT(dnsplan_build(&in, true, &p, NULL, 0), 0);
	CHECK(p.default_route);
	in.upstreams = ups;
	in.nupstreams = 2;
	REQUIRE_INT(dnsplan_build(&in, false, &p, NULL, 0), 0);
	CHECK(p.default_route);
}

static void global_upstream_that_is_the_stub_is_refused(void)
{
	struct ip_endpoint ups[] = {ep("100.100.100.100:53")};
	struct ip_endpoint ups6[] = {ep("[fd7a:1:2::6464:6464]:53")};
	struct map_dns_split split[] = {{.domain = "corp.example",
					 .upstreams = ups, .nupstreams = 1}};
	struct map_dns in = base();
	struct dnsplan p;
	char err[128] = "";

	in.upstreams = ups;
	in.nupstreams = 1;
	CHECK_INT(dnsplan_build(&in, false, &p, err, sizeof(err)), WEFT_ERR_INVAL);
	CHECK(strstr(err, "loop") != NULL);
	in.upstreams = ups6;
	CHECK_INT(dnsplan_build(&in, false, &p, err, sizeof(err)), WEFT_ERR_INVAL);
	/* A split domain's upstream likewise. */
	in = base();
	in.split = split;
	in.nsplit = 1;
	CHECK_INT(dnsplan_build(&in, false, &p, err, sizeof(err)), WEFT_ERR_INVAL);
	CHECK(strstr(err, "100.100.100.100:53") != NULL);
}

static void bad_domains_and_no_stub_are_refused(void)
{
	struct map_dns_split bad[] = {{.domain = "Corp.Example"}};
	struct map_dns_split dot[] = {{.domain = "corp.example."}};
	struct map_dns in = base();
	struct dnsplan p;
	char err[128] = "";

	in.split = bad;
	in.nsplit = 1;
	CHECK_INT(dnsplan_build(&in, false, &p, err, sizeof(err)), WEFT_ERR_INVAL);
	CHECK(strstr(err, "Corp.Example") != NULL);
	in.split = dot;
	CHECK_INT(dnsplan_build(&in, false, &p, NULL, 0), WEFT_ERR_INVAL);
	in = base();
	in.stub4.family = 0;
	in.stub6.family = 0;
	CHECK_INT(dnsplan_build(&in, false, &p, NULL, 0), WEFT_ERR_INVAL);
}

static void too_many_domains_are_refused(void)
{
	static char names[DNSPLAN_MAX_DOMAINS + 1][16];
	static struct map_dns_split split[DNSPLAN_MAX_DOMAINS + 1];
	struct map_dns in = base();
	struct dnsplan p;
	size_t i;

	for (i = 0; i < DNSPLAN_MAX_DOMAINS; i++) {
		snprintf(names[i], sizeof(names[i]), "d%zu.example", i);
		split[i].domain = names[i];
	}
	in.split = split;
	in.nsplit = DNSPLAN_MAX_DOMAINS - 1;
	CHECK_INT(dnsplan_build(&in, false, &p, NULL, 0), 0); /* + the suffix */
	in.nsplit = DNSPLAN_MAX_DOMAINS;
	CHECK_INT(dnsplan_build(&in, false, &p, NULL, 0), WEFT_ERR_INVAL);
}

static void resolv_conf_names_the_stub_search_and_backup(void)
{
	struct map_dns in = base();
	struct dnsplan p;
	char buf[DNSPLAN_RESOLV_MAX], tiny[40];
	int n;

	REQUIRE_INT(dnsplan_build(&in, false, &p, NULL, 0), 0);
	n = dnsplan_resolv_conf(&p, "/var/lib/weft/resolv.conf.orig", buf,
				sizeof(buf));
	REQUIRE(n > 0);
	CHECK_INT(n, strlen(buf));
	CHECK(dnsplan_is_ours(buf));
	CHECK(strstr(buf, "/var/lib/weft/resolv.conf.orig") != NULL);
	CHECK(strstr(buf, "\nnameserver 100.100.100.100\n"
			  "nameserver fd7a:1:2::6464:6464\n"
			  "search weft.internal\n"
			  "options edns0 trust-ad\n") != NULL);
	CHECK_INT(dnsplan_resolv_conf(&p, "x", tiny, sizeof(tiny)),
		  WEFT_ERR_TOOBIG);
	CHECK(!dnsplan_is_ours("nameserver 1.1.1.1\n"));
}

static void nameservers_are_read_from_resolv_conf_text(void)
{
	struct ip_addr a[4];
	size_t n = dnsplan_nameservers("# comment nameserver 9.9.9.9\n"
				       "nameserver 192.0.2.1\n"
				       "  nameserver\t2001:db8::1 \n"
				       "nameserver fe80::1%eth0\n"
				       "nameserver bogus\n"
				       "search example.com\n"
				       "nameserver 192.0.2.2", a, 4);

	REQUIRE_INT(n, 4);
	CHECK(same(&a[0], "192.0.2.1"));
	CHECK(same(&a[1], "2001:db8::1"));
	CHECK(same(&a[2], "fe80::1"));
	CHECK(same(&a[3], "192.0.2.2"));
	CHECK_INT(dnsplan_nameservers("nameserver 1.1.1.1\nnameserver "
				      "1.0.0.1\n", a, 1), 1);
}

static void host_upstreams_that_lead_back_to_the_stub_loop(void)
{
	struct map_dns in = base();
	struct dnsplan p;
	struct ip_addr ups[2] = {addr("192.0.2.1"), addr("127.0.0.53")};
	struct ip_addr stub[1] = {addr("100.100.100.100")};
	char err[160] = "";

	REQUIRE_INT(dnsplan_build(&in, false, &p, NULL, 0), 0);
	CHECK(!dnsplan_loops(&p, DNS_MODE_FILE, ups, 1, err, sizeof(err)));
	/* resolv.conf sends everything to the stub: resolved reading it
	 * would send it back. */
	CHECK(dnsplan_loops(&p, DNS_MODE_FILE, ups, 2, err, sizeof(err)));
	CHECK(strstr(err, "127.0.0.53") != NULL);
	/* Routing-only domains in resolved: other names never reach us. */
	CHECK(!dnsplan_loops(&p, DNS_MODE_RESOLVED, ups, 2, NULL, 0));
	p.default_route = true;
	CHECK(dnsplan_loops(&p, DNS_MODE_RESOLVED, ups, 2, NULL, 0));
	CHECK(dnsplan_loops(&p, DNS_MODE_OFF, stub, 1, err, sizeof(err)));
	CHECK(strstr(err, "stub itself") != NULL);
}

static void modes_parse_and_plans_compare(void)
{
	struct map_dns in = base();
	struct dnsplan a, b;
	enum dns_mode m;

	CHECK_INT(dnsplan_mode_parse("resolved", &m), 0);
	CHECK_INT(m, DNS_MODE_RESOLVED);
	CHECK_INT(dnsplan_mode_parse("auto", &m), 0);
	CHECK_INT(m, DNS_MODE_AUTO);
	CHECK_INT(dnsplan_mode_parse("File", &m), WEFT_ERR_INVAL);
	CHECK_STR(dnsplan_mode_name(DNS_MODE_OFF), "off");
	REQUIRE_INT(dnsplan_build(&in, false, &a, NULL, 0), 0);
	REQUIRE_INT(dnsplan_build(&in, false, &b, NULL, 0), 0);
	CHECK(dnsplan_eq(&a, &b));
	in.search = false;
	REQUIRE_INT(dnsplan_build(&in, false, &b, NULL, 0), 0);
	CHECK(!dnsplan_eq(&a, &b));
}

static const struct check_case cases[] = {
	CHECK_CASE(routing_domains_are_suffix_then_splits_without_duplicates),
	CHECK_CASE(search_off_installs_no_search_domain),
	CHECK_CASE(default_route_only_with_exit_node_or_global_upstreams),
	CHECK_CASE(global_upstream_that_is_the_stub_is_refused),
	CHECK_CASE(bad_domains_and_no_stub_are_refused),
	CHECK_CASE(too_many_domains_are_refused),
	CHECK_CASE(resolv_conf_names_the_stub_search_and_backup),
	CHECK_CASE(nameservers_are_read_from_resolv_conf_text),
	CHECK_CASE(host_upstreams_that_lead_back_to_the_stub_loop),
	CHECK_CASE(modes_parse_and_plans_compare),
	{0}
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
