/* agent/exitplan: the exit node's rules and table (what `ip rule` and
 * `ip route show table 5745` then show), its netlink messages read back
 * as the kernel sends them, and the choice of the exit connector. */
#include "agent/exitplan.h"
#include "agent/map.h"
#include "agent/rtnl.h"

#include "check.h"
#include "shared/err.h"

#include <jansson.h>
#include <linux/fib_rules.h>
#include <string.h>
#include <sys/socket.h>

static const struct exit_cfg dflt = {.table = EXIT_TABLE_DEFAULT,
				     .fwmark = EXIT_FWMARK_DEFAULT,
				     .priority = EXIT_PRIORITY_DEFAULT,
				     .lan = true};

static void rule_text(const struct exit_rule *r, const char *want)
{
	char s[160];

	REQUIRE(exitplan_rule_format(r, s, sizeof(s)) == 0);
	CHECK_STR(s, want);
}

static void route_text(const struct exit_route *r, const char *want)
{
	char s[160];

	REQUIRE(exitplan_route_format(r, "weft0", s, sizeof(s)) == 0);
	CHECK_STR(s, want);
}

static void rules_with_lan_suppress_main_then_send_unmarked_to_table(void)
{
	struct exit_rule r[EXIT_MAX_RULES];
	size_t n = exitplan_rules(&dflt, r);

	REQUIRE(n == 4);
	CHECK_INT(r[0].family, 4);
	CHECK_INT(r[1].family, 4);
	CHECK_INT(r[2].family, 6);
	CHECK_INT(r[3].family, 6);
	rule_text(&r[0], "5745: from all lookup main suppress_prefixlength 0");
	rule_text(&r[1], "5746: not from all fwmark 0x1671/0x1671 lookup 5745");
	rule_text(&r[2], "5745: from all lookup main suppress_prefixlength 0");
	rule_text(&r[3], "5746: not from all fwmark 0x1671/0x1671 lookup 5745");
	CHECK(exitplan_rule_eq(&r[0], &r[0]));
	CHECK(!exitplan_rule_eq(&r[0], &r[1]));
	CHECK(!exitplan_rule_eq(&r[1], &r[3])); /* the family differs */
}

static void rules_without_lan_have_no_suppress_rule(void)
{
	struct exit_cfg c = dflt;
	struct exit_rule r[EXIT_MAX_RULES];
	size_t n;

	c.lan = false;
	c.table = 100;
	c.fwmark = 0x80000;
	c.priority = 200;
	n = exitplan_rules(&c, r);
	REQUIRE(n == 2);
	rule_text(&r[0], "201: not from all fwmark 0x80000/0x80000 lookup 100");
	CHECK_INT(r[1].family, 6);
	CHECK_INT(r[1].priority, 201);
}

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	memset(&a, 0, sizeof(a));
	check_report(ip_addr_parse(s, &a) == 0, __FILE__, __LINE__,
		     "parse %s", s);
	return a;
}

static void table_has_defaults_then_one_throw_per_bypass_address(void)
{
	struct ip_addr by[5];
	struct exit_route r[EXIT_MAX_ROUTES];
	size_t n;

	by[0] = addr("203.0.113.1");
	by[1] = addr("2001:db8::7");
	by[2] = addr("203.0.113.1"); /* controller and relay on one host */
	memset(&by[3], 0, sizeof(by[3])); /* unresolved: skipped */
	by[4] = addr("198.51.100.3");
	n = exitplan_routes(&dflt, 9, by, 5, r);
	REQUIRE(n == 5);
	route_text(&r[0], "0.0.0.0/0 dev weft0 table 5745");
	route_text(&r[1], "::/0 dev weft0 table 5745");
	route_text(&r[2], "throw 203.0.113.1/32 table 5745");
	route_text(&r[3], "throw 2001:db8::7/128 table 5745");
	route_text(&r[4], "throw 198.51.100.3/32 table 5745");
	CHECK_INT(r[0].oif, 9);
	CHECK_INT(r[2].oif, 0);
	CHECK(!exitplan_route_eq(&r[0], &r[1]));
}

static void table_keeps_at_most_the_bypass_limit(void)
{
	struct ip_addr by[EXIT_MAX_BYPASS + 10];
	struct exit_route r[EXIT_MAX_ROUTES];
	size_t i;

	for (i = 0; i < EXIT_MAX_BYPASS + 10; i++) {
		by[i] = addr("10.0.0.0");
		by[i].b[2] = (uint8_t)(i / 256);
		by[i].b[3] = (uint8_t)i;
	}
	CHECK_INT(exitplan_routes(&dflt, 3, by, EXIT_MAX_BYPASS + 10, r),
		  EXIT_MAX_ROUTES);
}

static void cfg_check_refuses_reserved_tables_no_mark_and_late_priority(void)
{
	struct exit_cfg c;
	char err[200];

	CHECK_INT(exitplan_cfg_check(&dflt, err, sizeof(err)), 0);
	c = dflt;
	c.table = 254;
	CHECK_INT(exitplan_cfg_check(&c, err, sizeof(err)), WEFT_ERR_INVAL);
	CHECK(strstr(err, "--exit-table") != NULL);
	c.table = 0;
	CHECK_INT(exitplan_cfg_check(&c, err, sizeof(err)), WEFT_ERR_INVAL);
	c.table = 255;
	CHECK_INT(exitplan_cfg_check(&c, err, sizeof(err)), WEFT_ERR_INVAL);
	c.table = 253;
	CHECK_INT(exitplan_cfg_check(&c, err, sizeof(err)), WEFT_ERR_INVAL);
	c = dflt;
	c.fwmark = 0;
	CHECK_INT(exitplan_cfg_check(&c, err, sizeof(err)), WEFT_ERR_INVAL);
	CHECK(strstr(err, "--exit-fwmark") != NULL);
	c = dflt;
	c.priority = 32765; /* its +1 would be main's 32766 */
	CHECK_INT(exitplan_cfg_check(&c, err, sizeof(err)), WEFT_ERR_INVAL);
	c.priority = 0;
	CHECK_INT(exitplan_cfg_check(&c, err, sizeof(err)), WEFT_ERR_INVAL);
	c.priority = 32764;
	c.table = 4000000000u;
	CHECK_INT(exitplan_cfg_check(&c, err, sizeof(err)), 0);
}

static void ours_is_decided_by_priority_and_table(void)
{
	struct exit_rule r[EXIT_MAX_RULES], o;

	exitplan_rules(&dflt, r);
	CHECK(exitplan_rule_ours(&dflt, &r[0]));
	CHECK(exitplan_rule_ours(&dflt, &r[1]));
	/* Left by a run with another mark: still ours (same table). */
	o = r[1];
	o.fwmark = o.fwmask = 0x99;
	CHECK(exitplan_rule_ours(&dflt, &o));
	/* Someone else's rules at our priorities are not. */
	o = r[0];
	o.suppress_prefixlen = -1;
	CHECK(!exitplan_rule_ours(&dflt, &o));
	o = r[1];
	o.table = 100;
	CHECK(!exitplan_rule_ours(&dflt, &o));
	o = r[1];
	o.priority = 32766;
	o.table = RT_TABLE_MAIN;
	CHECK(!exitplan_rule_ours(&dflt, &o));
}

/* The add request read back as the kernel dumps it (RTM_NEWRULE, same
 * attributes). */
static void rule_messages_read_back_equal(void)
{
	struct exit_cfg c = dflt;
	struct exit_rule r[EXIT_MAX_RULES], back;
	struct rtnl_req req;
	size_t i, n;

	for (int pass = 0; pass < 2; pass++) {
		c.table = pass ? 100 : 70000; /* in the header / FRA_TABLE */
		n = exitplan_rules(&c, r);
		for (i = 0; i < n; i++) {
			REQUIRE(exitplan_rule_msg(&req, &r[i], true) == 0);
			CHECK_INT(req.u.h.nlmsg_type, RTM_NEWRULE);
			CHECK(req.u.h.nlmsg_flags & NLM_F_EXCL);
			REQUIRE(exitplan_parse_rule(&req.u.h, &back) == 0);
			CHECK(exitplan_rule_eq(&back, &r[i]));
			CHECK(exitplan_rule_ours(&c, &back));
		}
	}
	REQUIRE(exitplan_rule_msg(&req, &r[1], false) == 0);
	CHECK_INT(req.u.h.nlmsg_type, RTM_DELRULE);
	CHECK_INT(exitplan_parse_rule(&req.u.h, &back), WEFT_ERR_UNSUPPORTED);
	back = r[0];
	back.family = 5;
	CHECK_INT(exitplan_rule_msg(&req, &back, true), WEFT_ERR_INVAL);
}

static void route_messages_read_back_equal(void)
{
	struct ip_addr by[2] = {addr("203.0.113.1"), addr("2001:db8::1")};
	struct exit_route r[EXIT_MAX_ROUTES], back;
	struct rtnl_req req;
	size_t i, n = exitplan_routes(&dflt, 4, by, 2, r);

	for (i = 0; i < n; i++) {
		REQUIRE(exitplan_route_msg(&req, &r[i], true) == 0);
		REQUIRE(exitplan_parse_route(&req.u.h, &back) == 0);
		CHECK(exitplan_route_eq(&back, &r[i]));
	}
	back = r[0];
	back.oif = 0; /* a default route needs its device */
	CHECK_INT(exitplan_route_msg(&req, &back, true), WEFT_ERR_INVAL);
	back = r[2];
	back.dst.len = 33;
	CHECK_INT(exitplan_route_msg(&req, &back, true), WEFT_ERR_INVAL);
}

/* A rule dump entry with the kernel's "no suppress" (-1) and a FRA_TABLE
 * that overrides the header's table. */
static void parses_rules_as_the_kernel_dumps_them(void)
{
	struct rtnl_req req;
	struct fib_rule_hdr *f = rtnl_init(&req, RTM_NEWRULE, 0, sizeof(*f));
	uint32_t prio = 32766, table = RT_TABLE_MAIN, sup = 0xffffffffu;
	struct exit_rule r;

	f->family = AF_INET6;
	f->action = FR_ACT_TO_TBL;
	f->table = RT_TABLE_MAIN;
	rtnl_attr(&req, FRA_TABLE, &table, sizeof(table));
	rtnl_attr(&req, FRA_SUPPRESS_PREFIXLEN, &sup, sizeof(sup));
	rtnl_attr(&req, FRA_PRIORITY, &prio, sizeof(prio));
	REQUIRE(exitplan_parse_rule(&req.u.h, &r) == 0);
	CHECK_INT(r.family, 6);
	CHECK_INT(r.priority, 32766);
	CHECK_INT(r.table, RT_TABLE_MAIN);
	CHECK_INT(r.suppress_prefixlen, -1);
	CHECK_INT(r.fwmask, 0);
	CHECK(!exitplan_rule_ours(&dflt, &r));
	/* Not a lookup (blackhole): never ours. */
	f->action = FR_ACT_BLACKHOLE;
	CHECK_INT(exitplan_parse_rule(&req.u.h, &r), WEFT_ERR_UNSUPPORTED);
}

static void parse_refuses_short_and_overlong_messages(void)
{
	struct exit_rule r[EXIT_MAX_RULES], back;
	struct exit_route rt[EXIT_MAX_ROUTES], rback;
	struct rtnl_req req;
	struct rtattr *a;

	exitplan_rules(&dflt, r);
	REQUIRE(exitplan_rule_msg(&req, &r[1], true) == 0);
	/* The last attribute claims more than the message holds. */
	a = (struct rtattr *)(req.u.buf + NLMSG_LENGTH(
		NLMSG_ALIGN(sizeof(struct fib_rule_hdr))));
	a->rta_len = (uint16_t)(req.u.h.nlmsg_len + 8);
	CHECK_INT(exitplan_parse_rule(&req.u.h, &back), WEFT_ERR_PARSE);
	/* Shorter than the family header. */
	req.u.h.nlmsg_len = NLMSG_LENGTH(4);
	CHECK_INT(exitplan_parse_rule(&req.u.h, &back), WEFT_ERR_PARSE);
	/* A u32 attribute of two bytes. */
	exitplan_routes(&dflt, 3, NULL, 0, rt);
	REQUIRE(exitplan_route_msg(&req, &rt[0], true) == 0);
	{
		uint16_t two = 1;
		struct rtnl_req q2;
		struct rtmsg *m = rtnl_init(&q2, RTM_NEWROUTE, 0, sizeof(*m));

		m->rtm_family = AF_INET;
		m->rtm_type = RTN_UNICAST;
		rtnl_attr(&q2, RTA_OIF, &two, sizeof(two));
		CHECK_INT(exitplan_parse_route(&q2.u.h, &rback),
			  WEFT_ERR_PARSE);
		/* A local route is never ours. */
		m->rtm_type = RTN_LOCAL;
		q2.u.h.nlmsg_len = NLMSG_LENGTH(sizeof(*m));
		CHECK_INT(exitplan_parse_route(&q2.u.h, &rback),
			  WEFT_ERR_UNSUPPORTED);
		/* An IPv4 destination of 16 bytes. */
		m->rtm_type = RTN_UNICAST;
		m->rtm_dst_len = 32;
		rtnl_attr(&q2, RTA_DST, "0123456789abcdef", 16);
		CHECK_INT(exitplan_parse_route(&q2.u.h, &rback),
			  WEFT_ERR_PARSE);
	}
}

static void attributes_beyond_the_request_buffer_are_refused(void)
{
	struct rtnl_req req;
	static const uint8_t big[RTNL_REQ_MAX];
	uint32_t v = 1;
	uint32_t len;

	rtnl_init(&req, RTM_NEWRULE, 0, sizeof(struct fib_rule_hdr));
	len = req.u.h.nlmsg_len;
	CHECK_INT(rtnl_attr(&req, FRA_TABLE, big, sizeof(big)),
		  WEFT_ERR_TOOBIG);
	CHECK_INT(req.u.h.nlmsg_len, len);
	CHECK_INT(rtnl_attr(&req, FRA_TABLE, &v, sizeof(v)), 0);
	CHECK(req.u.h.nlmsg_len > len);
}

/* ---- the exit connector ---- */

#define KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define PEER(id, online)                                                     \
	"{\"id\": " #id ", \"name\": \"p" #id "\", \"public_key\": \"" KEY    \
	"\", \"ipv4\": \"100.64.0." #id "\", \"allowed_ips\": [\"100.64.0." #id \
	"/32\"], \"endpoints\": [], \"online\": " online "}"
#define INTERNET(conns)                                                      \
	"{\"id\": 9, \"name\": \"internet\", \"type\": \"internet\", "       \
	"\"address\": \"internet\", \"prefixes\": [\"0.0.0.0/0\", \"::/0\"], " \
	"\"filters\": [], \"connectors\": " conns "}"
#define SITE                                                                 \
	"{\"id\": 7, \"name\": \"web\", \"type\": \"ip\", \"address\": "      \
	"\"10.5.0.10\", \"prefixes\": [\"10.5.0.10/32\"], \"filters\": [], "  \
	"\"connectors\": [2]}"

static struct map *map_of(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	struct map *m = NULL;
	char err[200] = "";

	if (!check_report(j != NULL, __FILE__, __LINE__, "JSON: %s", e.text))
		return NULL;
	if (map_new(&m) == 0 && map_apply(m, j, NULL, err, sizeof(err)) < 0) {
		check_report(false, __FILE__, __LINE__, "map: %s", err);
		map_del(m);
		m = NULL;
	}
	json_decref(j);
	return m;
}

#define MAP(peers, resources, serves)                                        \
	"{\"version\": 3, \"full\": true, \"self\": {\"id\": 1, \"name\": "   \
	"\"a\", \"ipv4\": \"100.64.0.1\"}, \"peers\": [" peers "], "          \
	"\"filter\": [], \"relays\": [], \"resources\": " resources ", "     \
	"\"serves\": " serves "}"

static void finds_the_internet_resource(void)
{
	struct exit_pick pk;
	struct map *m = map_of(MAP(PEER(2, "true") "," PEER(3, "true") ","
				   PEER(4, "false"),
				   "[" SITE "," INTERNET("[2, 3]") "]", "[]"));

	REQUIRE(m);
	exitplan_pick(m, &pk);
	REQUIRE(pk.res != NULL);
	CHECK_STR(pk.res->name, "internet");
	CHECK(!pk.serves);
	map_del(m);

	/* No connector online: still granted (the exit stays on, and the
	 * data plane refuses the traffic). */
	m = map_of(MAP(PEER(4, "false"), "[" INTERNET("[4]") "]", "[]"));
	REQUIRE(m);
	exitplan_pick(m, &pk);
	CHECK(pk.res != NULL);
	map_del(m);
}

static void no_internet_resource_or_serving_it_means_no_exit(void)
{
	struct exit_pick pk;
	struct map *m = map_of(MAP(PEER(2, "true"), "[" SITE "]", "[]"));

	REQUIRE(m);
	exitplan_pick(m, &pk);
	CHECK(pk.res == NULL);
	CHECK(!pk.serves);
	map_del(m);
	/* A connector that serves the internet keeps its own traffic out
	 * of any tunnel, even when also granted another exit. */
	m = map_of(MAP(PEER(2, "true"), "[" INTERNET("[2]") "]",
		       "[{\"id\": 9, \"name\": \"internet\", \"type\": "
		       "\"internet\", \"address\": \"internet\", \"prefixes\": "
		       "[\"0.0.0.0/0\", \"::/0\"], \"filters\": []}]"));
	REQUIRE(m);
	exitplan_pick(m, &pk);
	CHECK(pk.res == NULL);
	CHECK(pk.serves);
	map_del(m);
}

static const struct check_case cases[] = {
	CHECK_CASE(rules_with_lan_suppress_main_then_send_unmarked_to_table),
	CHECK_CASE(rules_without_lan_have_no_suppress_rule),
	CHECK_CASE(table_has_defaults_then_one_throw_per_bypass_address),
	CHECK_CASE(table_keeps_at_most_the_bypass_limit),
	CHECK_CASE(cfg_check_refuses_reserved_tables_no_mark_and_late_priority),
	CHECK_CASE(ours_is_decided_by_priority_and_table),
	CHECK_CASE(rule_messages_read_back_equal),
	CHECK_CASE(route_messages_read_back_equal),
	CHECK_CASE(parses_rules_as_the_kernel_dumps_them),
	CHECK_CASE(parse_refuses_short_and_overlong_messages),
	CHECK_CASE(attributes_beyond_the_request_buffer_are_refused),
	CHECK_CASE(finds_the_internet_resource),
	CHECK_CASE(no_internet_resource_or_serving_it_means_no_exit),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
