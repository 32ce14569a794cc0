#include "check.h"
#include "agent/dnsanswer.h"
#include "agent/map.h"
#include "agent/resnames.h"
#include "shared/err.h"

#include <jansson.h>
#include <stdio.h>

#define PEER(id, name, ip)                                                   \
	"{\"id\": " #id ", \"name\": \"" name "\", \"dns_name\": \"" name    \
	".mesh.example\", \"public_key\": null, \"ipv4\": \"" ip "\", "      \
	"\"ipv6\": \"fd7a:115c:a1e0::" #id "\", \"allowed_ips\": [\"" ip     \
	"/32\"], \"endpoints\": [], \"home_relay\": null, \"online\": true}"

#define SELF "{\"id\": 1, \"name\": \"laptop\", \"ipv4\": \"100.64.0.1\", " \
	"\"ipv6\": \"fd7a:115c:a1e0::1\"}"

#define RES_DB "{\"id\": 8, \"name\": \"db\", \"type\": \"dns\", "           \
	"\"address\": \"db.corp.example\", \"prefixes\": [\"100.96.0.1/32\", " \
	"\"fd7a:115c:a1e0:ffff::6460:1/128\"], \"filters\": [], "            \
	"\"connectors\": [2]}"

#define RES_WILD "{\"id\": 9, \"name\": \"wild\", \"type\": \"wildcard\", " \
	"\"address\": \"*.wild.example\", \"prefixes\": [\"100.104.0.0/24\", " \
	"\"fd7a:115c:a1e0:ffff::6468:0/120\"], \"filters\": [], "         \
	"\"connectors\": [2]}"

#define DNS(search, upstreams)                                               \
	"\"dns\": {\"suffix\": \"mesh.example\", \"search\": " search ", "   \
	"\"stub\": {\"ipv4\": \"100.100.100.100\", \"ipv6\": "               \
	"\"fd7a:115c:a1e0::6464:6464\"}, \"split\": ["                       \
	"{\"domain\": \"corp.example\", \"upstreams\": [\"10.1.0.53\"]}, "   \
	"{\"domain\": \"eu.corp.example\", \"upstreams\": "                  \
	"[\"10.2.0.53:5353\", \"100.100.100.100\"]}, "                       \
	"{\"domain\": \"loop.example\", \"upstreams\": "                     \
	"[\"100.100.100.100\", \"[fd7a:115c:a1e0::6464:6464]:53\"]}], "      \
	"\"upstreams\": [" upstreams "], \"records\": ["                     \
	"{\"name\": \"wiki.corp.example\", \"type\": \"A\", "                \
	"\"value\": \"10.1.0.7\"}], \"resources\": [{\"name\": \"db\", "     \
	"\"address\": \"db.corp.example\"}]}"

static const char map_text[] =
	"{\"version\": 3, \"full\": true, \"self\": " SELF ", \"peers\": ["
	PEER(2, "gw", "100.64.0.2") "," PEER(3, "web", "100.64.0.3") "],"
	"\"filter\": [], " DNS("true", "") ", \"relays\": [], "
	"\"resources\": [" RES_DB "]}";

/* The map with the wildcard resource granted (wild) or not. */
#define MAP_WILD(res)                                                        \
	"{\"version\": 3, \"full\": true, \"self\": " SELF ", \"peers\": ["   \
	PEER(2, "gw", "100.64.0.2") "], \"filter\": [], " DNS("true", "")     \
	", \"relays\": [], \"resources\": [" res "]}"

static struct map *map_load(const char *text)
{
	struct map *m = NULL;
	json_t *j = json_loads(text, 0, NULL);
	char err[256] = "";

	if (!j || map_new(&m) < 0)
		goto out;
	if (map_apply(m, j, NULL, err, sizeof(err)) < 0) {
		check_report(false, __FILE__, __LINE__, "map: %s", err);
		map_del(m);
		m = NULL;
	}
out:
	json_decref(j);
	return m;
}

static struct ip_endpoint host_resolver(void)
{
	struct ip_endpoint e;

	ip_endpoint_parse("192.0.2.1:53", &e);
	return e;
}

static int ask(const struct map *m, const char *name, uint16_t type,
	       struct dnsanswer *out)
{
	static struct ip_endpoint host, listen;
	struct dnsanswer_cfg cfg = {.host = &host, .nhost = 1,
				    .listen = &listen, .nlisten = 1};

	host = host_resolver();
	ip_endpoint_parse("127.0.0.1:5300", &listen);
	return dnsanswer_lookup(m, &cfg, name, type, out);
}

static const char *addr_text(const struct dnsanswer_rr *rr)
{
	static char buf[IP_ADDR_STRLEN];

	ip_addr_format(&rr->addr, buf, sizeof(buf));
	return buf;
}

static void node_names_answer_peer_and_self(void)
{
	struct map *m = map_load(map_text);
	struct dnsanswer a;

	REQUIRE(m);
	CHECK_INT(ask(m, "gw.mesh.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_NOERROR);
	REQUIRE(a.nrr == 1);
	CHECK_STR(addr_text(&a.rr[0]), "100.64.0.2");
	CHECK_INT(a.ttl, DNSANSWER_TTL);
	CHECK_INT(ask(m, "GW.Mesh.Example.", DNSANSWER_T_AAAA, &a), 0);
	REQUIRE(a.nrr == 1);
	CHECK_STR(addr_text(&a.rr[0]), "fd7a:115c:a1e0::2");
	CHECK_INT(ask(m, "laptop.mesh.example", DNSANSWER_T_ANY, &a), 0);
	REQUIRE(a.nrr == 2);
	CHECK_STR(addr_text(&a.rr[0]), "100.64.0.1");
	/* A node has no MX: NOERROR without records (NODATA). */
	CHECK_INT(ask(m, "web.mesh.example", 15, &a), 0);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_NOERROR);
	CHECK_INT(a.nrr, 0);
	map_del(m);
}

static void unknown_names_under_the_suffix_are_nxdomain(void)
{
	struct map *m = map_load(map_text);
	struct dnsanswer a;

	REQUIRE(m);
	CHECK_INT(ask(m, "nope.mesh.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_NXDOMAIN);
	CHECK_INT(ask(m, "x.gw.mesh.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_NXDOMAIN);
	CHECK_INT(a.nrr, 0);
	CHECK_INT(ask(m, "mesh.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_NOERROR);
	CHECK_INT(a.nrr, 0);
	map_del(m);
}

static void bare_names_only_with_search_on(void)
{
	struct map *m = map_load(map_text);
	char off[sizeof(map_text) + 8];
	char *p;
	struct dnsanswer a;

	REQUIRE(m);
	CHECK_INT(ask(m, "web", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	REQUIRE(a.nrr == 1);
	CHECK_STR(addr_text(&a.rr[0]), "100.64.0.3");
	/* A bare name that is no node goes on to the upstreams. */
	CHECK_INT(ask(m, "printer", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	map_del(m);
	snprintf(off, sizeof(off), "%s", map_text);
	p = strstr(off, "\"search\": true");
	REQUIRE(p);
	memcpy(p, "\"search\":false", 14);
	m = map_load(off);
	REQUIRE(m);
	CHECK_INT(ask(m, "web", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	map_del(m);
}

static void ptr_for_mesh_and_mapped_addresses(void)
{
	struct map *m = map_load(map_text);
	struct dnsanswer a;

	REQUIRE(m);
	CHECK_INT(ask(m, "2.0.64.100.in-addr.arpa", DNSANSWER_T_PTR, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	REQUIRE(a.nrr == 1);
	CHECK_STR(a.rr[0].ptr, "gw.mesh.example");
	CHECK_INT(ask(m, "1.0.64.100.in-addr.arpa.", DNSANSWER_T_PTR, &a), 0);
	REQUIRE(a.nrr == 1);
	CHECK_STR(a.rr[0].ptr, "laptop.mesh.example");
	CHECK_INT(ask(m, "3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
		      "0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa", DNSANSWER_T_PTR, &a),
		  0);
	REQUIRE(a.nrr == 1);
	CHECK_STR(a.rr[0].ptr, "web.mesh.example");
	CHECK_INT(ask(m, "1.0.96.100.in-addr.arpa", DNSANSWER_T_PTR, &a), 0);
	REQUIRE(a.nrr == 1);
	CHECK_STR(a.rr[0].ptr, "db.corp.example");
	/* Another mesh address: NXDOMAIN; outside the mesh: forwarded. */
	CHECK_INT(ask(m, "9.0.64.100.in-addr.arpa", DNSANSWER_T_PTR, &a), 0);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_NXDOMAIN);
	CHECK_INT(ask(m, "9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
		      "0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa", DNSANSWER_T_PTR, &a),
		  0);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_NXDOMAIN);
	CHECK_INT(ask(m, "1.2.0.192.in-addr.arpa", DNSANSWER_T_PTR, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	/* Not an address: leading zeros, a short name, bad nibbles. */
	CHECK_INT(ask(m, "02.0.64.100.in-addr.arpa", DNSANSWER_T_PTR, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	CHECK_INT(ask(m, "0.64.100.in-addr.arpa", DNSANSWER_T_PTR, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	CHECK_INT(ask(m, "g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
		      "0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa", DNSANSWER_T_PTR, &a),
		  0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	map_del(m);
}

static void granted_resource_names_get_mapped_addresses(void)
{
	struct map *m = map_load(map_text);
	struct dnsanswer a;

	REQUIRE(m);
	CHECK_INT(ask(m, "db.corp.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	REQUIRE(a.nrr == 1);
	CHECK_STR(addr_text(&a.rr[0]), "100.96.0.1");
	CHECK_INT(ask(m, "DB.corp.example", DNSANSWER_T_AAAA, &a), 0);
	REQUIRE(a.nrr == 1);
	CHECK_STR(addr_text(&a.rr[0]), "fd7a:115c:a1e0:ffff::6460:1");
	map_del(m);
}

static void a_resource_the_map_lacks_is_not_answered_locally(void)
{
	char text[sizeof(map_text)];
	char *p;
	struct map *m;
	struct dnsanswer a;

	/* The policy no longer grants db: it leaves the resources part. */
	snprintf(text, sizeof(text), "%s", map_text);
	p = strstr(text, "\"resources\": [{\"id\"");
	REQUIRE(p);
	strcpy(p, "\"resources\": []}");
	m = map_load(text);
	REQUIRE(m);
	CHECK_INT(ask(m, "db.corp.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	map_del(m);
}

static void extra_records_answer_their_type(void)
{
	struct map *m = map_load(map_text);
	struct dnsanswer a;

	REQUIRE(m);
	CHECK_INT(ask(m, "wiki.corp.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	REQUIRE(a.nrr == 1);
	CHECK_STR(addr_text(&a.rr[0]), "10.1.0.7");
	CHECK_INT(ask(m, "wiki.corp.example", DNSANSWER_T_AAAA, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	CHECK_INT(a.nrr, 0);
	map_del(m);
}

static void split_domains_take_the_longest_match(void)
{
	struct map *m = map_load(map_text);
	struct dnsanswer a;
	char buf[IP_ENDPOINT_STRLEN];

	REQUIRE(m);
	CHECK_INT(ask(m, "x.corp.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	CHECK_STR(a.reason, "split");
	REQUIRE(a.nup == 1);
	ip_endpoint_format(&a.up[0], buf, sizeof(buf));
	CHECK_STR(buf, "10.1.0.53:53");
	/* The stub among them is dropped. */
	CHECK_INT(ask(m, "a.eu.corp.example", DNSANSWER_T_A, &a), 0);
	REQUIRE(a.nup == 1);
	ip_endpoint_format(&a.up[0], buf, sizeof(buf));
	CHECK_STR(buf, "10.2.0.53:5353");
	CHECK_INT(ask(m, "xcorp.example", DNSANSWER_T_A, &a), 0);
	CHECK_STR(a.reason, "host");
	REQUIRE(a.nup == 1);
	ip_endpoint_format(&a.up[0], buf, sizeof(buf));
	CHECK_STR(buf, "192.0.2.1:53");
	map_del(m);
}

static void global_upstreams_replace_the_host_resolvers(void)
{
	char text[sizeof(map_text) + 64];
	struct map *m;
	struct dnsanswer a;
	char buf[IP_ENDPOINT_STRLEN];

	snprintf(text, sizeof(text),
		 "{\"version\": 3, \"full\": true, \"self\": " SELF ", "
		 "\"peers\": [], \"filter\": [], %s, \"relays\": []}",
		 DNS("true", "\"192.0.2.53\", \"[2001:db8::53]:5353\""));
	m = map_load(text);
	REQUIRE(m);
	CHECK_INT(ask(m, "example.org", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	CHECK_STR(a.reason, "global");
	REQUIRE(a.nup == 2);
	ip_endpoint_format(&a.up[1], buf, sizeof(buf));
	CHECK_STR(buf, "[2001:db8::53]:5353");
	map_del(m);
}

static void upstreams_that_loop_give_servfail(void)
{
	struct map *m = map_load(map_text);
	struct dnsanswer a;
	struct ip_endpoint host[2];
	struct dnsanswer_cfg cfg = {.host = host, .nhost = 2,
				    .listen = host + 1, .nlisten = 1};

	REQUIRE(m);
	CHECK_INT(ask(m, "a.loop.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_SERVFAIL);
	CHECK_STR(a.reason, "loop");
	/* The host's resolvers: 127.0.0.53 and the stub's own socket. */
	ip_endpoint_parse("127.0.0.53:53", &host[0]);
	ip_endpoint_parse("127.0.0.1:5300", &host[1]);
	CHECK_INT(dnsanswer_lookup(m, &cfg, "example.org", 1, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	CHECK_INT(a.nup, 1);
	CHECK_INT(a.nloops, 1);
	cfg.loopback_loops = true;
	CHECK_INT(dnsanswer_lookup(m, &cfg, "example.org", 1, &a), 0);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_SERVFAIL);
	CHECK_STR(a.reason, "loop");
	CHECK_INT(a.nloops, 2);
	cfg.nhost = 0;
	CHECK_INT(dnsanswer_lookup(m, &cfg, "example.org", 1, &a), 0);
	CHECK_STR(a.reason, "no_upstream");
	map_del(m);
}

static void empty_map_forwards_and_long_names_are_refused(void)
{
	struct map *m;
	struct dnsanswer a;
	char longname[300];

	REQUIRE(map_new(&m) == 0);
	CHECK_INT(ask(m, "example.org", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	CHECK_INT(ask(m, "x.weft.internal", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_NXDOMAIN);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_INT(ask(m, longname, DNSANSWER_T_A, &a), WEFT_ERR_INVAL);
	map_del(m);
}

/* What resclient_resolve does for the stub, without telling a connector:
 * resnames_resolve over the map's resources with a real table. */
struct wild_ctx {
	struct map *m;
	struct wildcard_table *wt;
	int calls;
	int fail;        /* != 0: return this instead */
};

static int wild_fn(void *ctx, const char *name, struct ip_addr *v4,
		   struct ip_addr *v6)
{
	struct wild_ctx *w = ctx;
	struct resnames_hit h;
	size_t n;
	const struct map_res *v = map_resources(w->m, &n);
	int rc;

	w->calls++;
	if (w->fail)
		return w->fail;
	rc = resnames_resolve(v, n, w->wt, name, &h);
	if (rc == 0) {
		*v4 = h.v4;
		*v6 = h.v6;
	}
	return rc;
}

static int ask_wild(struct wild_ctx *w, const char *name, uint16_t type,
		    struct dnsanswer *out)
{
	static struct ip_endpoint host;
	struct dnsanswer_cfg cfg = {.host = &host, .nhost = 1,
				    .wildcard = wild_fn, .wildcard_ctx = w};

	host = host_resolver();
	return dnsanswer_lookup(w->m, &cfg, name, type, out);
}

static void wildcard_names_get_their_own_addresses(void)
{
	struct wild_ctx w = {.m = map_load(MAP_WILD(RES_DB "," RES_WILD)),
			     .wt = wildcard_table_new()};
	struct dnsanswer a;
	struct ip_prefix p4, p6;
	struct ip_addr x4;

	REQUIRE(w.m && w.wt);
	ip_prefix_parse("100.104.0.0/24", &p4, 0);
	ip_prefix_parse("fd7a:115c:a1e0:ffff::6468:0/120", &p6, 0);
	CHECK_INT(ask_wild(&w, "X.Wild.Example.", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_NOERROR);
	CHECK_INT(a.ttl, DNSANSWER_TTL);
	REQUIRE(a.nrr == 1);
	CHECK_INT(a.rr[0].type, DNSANSWER_T_A);
	CHECK(ip_prefix_contains(&p4, &a.rr[0].addr));
	CHECK(a.rr[0].addr.b[3] != 0 && a.rr[0].addr.b[3] != 255);
	x4 = a.rr[0].addr;
	CHECK_INT(ask_wild(&w, "x.wild.example", DNSANSWER_T_AAAA, &a), 0);
	REQUIRE(a.nrr == 1);
	CHECK(ip_prefix_contains(&p6, &a.rr[0].addr));
	CHECK_INT(a.rr[0].addr.b[15], x4.b[3]);
	CHECK_INT(ask_wild(&w, "a.b.wild.example", DNSANSWER_T_ANY, &a), 0);
	REQUIRE(a.nrr == 2);
	CHECK(!ip_addr_eq(&a.rr[0].addr, &x4));
	CHECK_INT(w.calls, 3);
	/* Other types: the name exists, no address is given away. */
	CHECK_INT(ask_wild(&w, "new.wild.example", 16, &a), 0);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_NOERROR);
	CHECK_INT(a.nrr, 0);
	CHECK_INT(w.calls, 3);
	/* The domain itself is no name under it. */
	CHECK_INT(ask_wild(&w, "wild.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	/* The exact DNS resource still answers with its own address. */
	CHECK_INT(ask(w.m, "db.corp.example", DNSANSWER_T_A, &a), 0);
	REQUIRE(a.nrr == 1);
	CHECK_STR(addr_text(&a.rr[0]), "100.96.0.1");
	/* Without the callback such names are forwarded. */
	CHECK_INT(ask(w.m, "x.wild.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	/* A full block (or no memory) is SERVFAIL, not a wrong address. */
	w.fail = WEFT_ERR_EXHAUSTED;
	CHECK_INT(ask_wild(&w, "full.wild.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_LOCAL);
	CHECK_INT(a.rcode, DNSANSWER_RCODE_SERVFAIL);
	CHECK_STR(a.reason, "wildcard");
	CHECK_INT(a.nrr, 0);
	wildcard_table_del(w.wt);
	map_del(w.m);
}

static void a_wildcard_the_map_lacks_is_not_answered_locally(void)
{
	struct wild_ctx w = {.m = map_load(MAP_WILD(RES_DB)),
			     .wt = wildcard_table_new()};
	struct dnsanswer a;

	REQUIRE(w.m && w.wt);
	CHECK_INT(ask_wild(&w, "x.wild.example", DNSANSWER_T_A, &a), 0);
	CHECK_INT(a.action, DNSANSWER_FORWARD);
	CHECK_INT(w.calls, 0);
	wildcard_table_del(w.wt);
	map_del(w.m);
}

static const struct check_case cases[] = {
	CHECK_CASE(node_names_answer_peer_and_self),
	CHECK_CASE(unknown_names_under_the_suffix_are_nxdomain),
	CHECK_CASE(bare_names_only_with_search_on),
	CHECK_CASE(ptr_for_mesh_and_mapped_addresses),
	CHECK_CASE(granted_resource_names_get_mapped_addresses),
	CHECK_CASE(a_resource_the_map_lacks_is_not_answered_locally),
	CHECK_CASE(wildcard_names_get_their_own_addresses),
	CHECK_CASE(a_wildcard_the_map_lacks_is_not_answered_locally),
	CHECK_CASE(extra_records_answer_their_type),
	CHECK_CASE(split_domains_take_the_longest_match),
	CHECK_CASE(global_upstreams_replace_the_host_resolvers),
	CHECK_CASE(upstreams_that_loop_give_servfail),
	CHECK_CASE(empty_map_forwards_and_long_names_are_refused),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
