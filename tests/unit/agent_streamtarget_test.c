/* agent/streamtarget: stream-mode targets that are resources, on the
 * opening side (which connector, which header host, the early reject)
 * and on the receiving side (which resource served, what the filter
 * checks, what is dialed). */
#include "agent/map.h"
#include "agent/streamtarget.h"

#include "check.h"
#include "shared/err.h"

#include <jansson.h>
#include <string.h>

#define KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define PEER(id, name, ip, ip6)                                              \
	"{\"id\": " #id ", \"name\": \"" name "\", \"dns_name\": \"" name     \
	".weft.internal.\", \"public_key\": \"" KEY "\", \"ipv4\": \"" ip    \
	"\", \"ipv6\": \"" ip6 "\", \"allowed_ips\": [], \"endpoints\": [], " \
	"\"home_relay\": null, \"online\": true, \"last_seen\": null, "       \
	"\"tags\": [], \"user\": \"alice\"}"

/* What the controller renders for a client (docs/internals/netmap.md):
 * the filters are this node's effective ones. */
static const char map_text[] =
	"{\"version\": 1, \"full\": true, \"self\": {\"id\": 1, \"name\": "
	"\"me\", \"ipv4\": \"100.64.0.1\", \"ipv6\": \"fd7a:115c:a1e0::1\", "
	"\"tags\": [], \"user\": \"alice\"}, \"peers\": ["
	PEER(2, "gw1", "100.64.0.2", "fd7a:115c:a1e0::2") ","
	PEER(3, "gw2", "100.64.0.3", "fd7a:115c:a1e0::3") "],"
	"\"filter\": [], \"dns\": {\"suffix\": \"weft.internal\", "
	"\"resources\": []}, \"relays\": [], \"resources\": ["
	"{\"id\": 8, \"name\": \"db\", \"type\": \"dns\", \"address\": "
	"\"db.corp.test\", \"prefixes\": [\"100.96.0.1/32\", "
	"\"fd7a:115c:a1e0:ffff::6460:1/128\"], \"filters\": [{\"protocol\": "
	"\"tcp\", \"ports\": [\"5432\", \"6000-6100\"]}], \"connectors\": "
	"[2, 3]},"
	"{\"id\": 9, \"name\": \"exit\", \"type\": \"internet\", \"address\": "
	"\"internet\", \"prefixes\": [\"0.0.0.0/0\", \"::/0\"], \"filters\": "
	"[], \"connectors\": [3]},"
	"{\"id\": 7, \"name\": \"web\", \"type\": \"ip\", \"address\": "
	"\"10.5.0.10\", \"prefixes\": [\"10.5.0.10/32\"], \"filters\": "
	"[{\"protocol\": \"tcp\", \"ports\": [\"443\"]}, {\"protocol\": "
	"\"icmp\", \"ports\": []}], \"connectors\": [2]},"
	"{\"id\": 5, \"name\": \"net\", \"type\": \"cidr\", \"address\": "
	"\"10.0.0.0/8\", \"prefixes\": [\"10.0.0.0/8\"], \"filters\": [], "
	"\"connectors\": [2]},"
	"{\"id\": 4, \"name\": \"lan\", \"type\": \"wildcard\", \"address\": "
	"\"*.wild.test\", \"prefixes\": [\"100.104.0.0/24\"], \"filters\": "
	"[{\"protocol\": \"tcp\", \"ports\": []}], \"connectors\": [3]},"
	"{\"id\": 6, \"name\": \"udp\", \"type\": \"dns\", \"address\": "
	"\"dns.corp.test\", \"prefixes\": [\"100.96.0.2/32\"], \"filters\": "
	"[{\"protocol\": \"udp\", \"ports\": [\"53\"]}], \"connectors\": [2]}"
	"], \"serves\": ["
	"{\"id\": 15, \"name\": \"lan\", \"type\": \"cidr\", \"address\": "
	"\"10.8.0.0/16\", \"prefixes\": [\"10.8.0.0/16\"], \"filters\": []},"
	"{\"id\": 16, \"name\": \"db2\", \"type\": \"dns\", \"address\": "
	"\"db2.corp.test\", \"prefixes\": [\"100.96.0.3/32\", "
	"\"fd7a:115c:a1e0:ffff::6460:3/128\"], \"filters\": []},"
	"{\"id\": 17, \"name\": \"w\", \"type\": \"wildcard\", \"address\": "
	"\"*.w.test\", \"prefixes\": [\"100.104.1.0/24\", "
	"\"fd7a:115c:a1e0:ffff::6468:100/120\"], \"filters\": []},"
	"{\"id\": 18, \"name\": \"v6\", \"type\": \"ip\", \"address\": "
	"\"2001:db8::5\", \"prefixes\": [\"2001:db8::5/128\"], \"filters\": []}"
	"]}";

/* A connector serving the internet resource. */
static const char exit_text[] =
	"{\"version\": 1, \"full\": true, \"self\": {\"id\": 1, \"name\": "
	"\"me\", \"ipv4\": \"100.64.0.1\", \"tags\": [], \"user\": "
	"\"alice\"}, \"peers\": [], \"filter\": [], \"relays\": [], "
	"\"serves\": [{\"id\": 9, \"name\": \"exit\", \"type\": "
	"\"internet\", \"address\": \"internet\", \"prefixes\": "
	"[\"0.0.0.0/0\", \"::/0\"], \"filters\": []}]}";

static struct map *load_text(const char *text)
{
	struct map *m = NULL;
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	char err[200] = "";

	if (!j || map_new(&m) < 0 ||
	    map_apply(m, j, NULL, err, sizeof(err)) < 0) {
		check_report(false, __FILE__, __LINE__, "map: %s %s", je.text,
			     err);
		map_del(m);
		m = NULL;
	}
	json_decref(j);
	return m;
}

static struct map *load(void)
{
	return load_text(map_text);
}

/* The caller's choice: resource id * 10 + 2 or 3, 0 for none; records
 * what it was asked. */
struct chooser {
	int64_t asked;
	bool none;
};

static int64_t choose(void *ctx, int64_t res_id)
{
	struct chooser *c = ctx;

	c->asked = res_id;
	if (c->none)
		return 0;
	return res_id == 9 || res_id == 4 ? 3 : 2;
}

static void nodes_come_before_resources(void)
{
	struct map *m = load();
	struct chooser c = {0};
	struct streamtarget t;

	REQUIRE(m != NULL);
	CHECK_INT(streamtarget_pick(m, "gw1", 22, choose, &c, &t), 0);
	CHECK_INT(t.peer, 2);
	CHECK_INT(t.res_id, 0);
	CHECK_STR(t.host, "100.64.0.2");
	/* The internet resource holds every address, a node's own first. */
	CHECK_INT(streamtarget_pick(m, "100.64.0.3", 80, choose, &c, &t), 0);
	CHECK_INT(t.peer, 3);
	CHECK_INT(t.res_id, 0);
	CHECK_INT(c.asked, 0);
	/* Our own address goes nowhere. */
	CHECK_INT(streamtarget_pick(m, "100.64.0.1", 80, choose, &c, &t),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(streamtarget_pick(m, "fd7a:115c:a1e0::1", 80, choose, &c,
				    &t), WEFT_ERR_NOTFOUND);
	map_del(m);
}

static void addresses_go_to_the_chosen_connector(void)
{
	struct map *m = load();
	struct chooser c = {0};
	struct streamtarget t;

	REQUIRE(m != NULL);
	/* The longest prefix: the ip resource inside the cidr one. */
	CHECK_INT(streamtarget_pick(m, "10.5.0.10", 443, choose, &c, &t), 0);
	CHECK_INT(t.res_id, 7);
	CHECK_INT(c.asked, 7);
	CHECK_INT(t.peer, 2);
	CHECK_STR(t.host, "10.5.0.10");
	CHECK_INT(streamtarget_pick(m, "10.5.0.11", 22, choose, &c, &t), 0);
	CHECK_INT(t.res_id, 5);
	CHECK_STR(t.host, "10.5.0.11");
	CHECK_INT(streamtarget_pick(m, "192.0.2.7", 25, choose, &c, &t), 0);
	CHECK_INT(t.res_id, 9);
	CHECK_INT(t.peer, 3);
	CHECK_INT(streamtarget_pick(m, "2001:db8::7", 25, choose, &c, &t), 0);
	CHECK_INT(t.res_id, 9);
	CHECK_STR(t.host, "2001:db8::7");
	/* A DNS resource's mapped address travels as its name. */
	CHECK_INT(streamtarget_pick(m, "100.96.0.1", 5432, choose, &c, &t),
		  0);
	CHECK_INT(t.res_id, 8);
	CHECK_STR(t.host, "db.corp.test");
	CHECK_INT(streamtarget_pick(m, "fd7a:115c:a1e0:ffff::6460:1", 5432,
				    choose, &c, &t), 0);
	CHECK_STR(t.host, "db.corp.test");
	/* A wildcard's block holds this client's own addresses only. */
	CHECK_INT(streamtarget_pick(m, "100.104.0.9", 80, choose, &c, &t),
		  WEFT_ERR_NOTFOUND);
	map_del(m);
}

static void names_travel_unresolved(void)
{
	struct map *m = load();
	struct chooser c = {0};
	struct streamtarget t;

	REQUIRE(m != NULL);
	CHECK_INT(streamtarget_pick(m, "DB.Corp.Test.", 6050, choose, &c, &t),
		  0);
	CHECK_INT(t.res_id, 8);
	CHECK_INT(t.peer, 2);
	CHECK_STR(t.host, "db.corp.test");
	CHECK_INT(streamtarget_pick(m, "a.B.wild.test", 8080, choose, &c, &t),
		  0);
	CHECK_INT(t.res_id, 4);
	CHECK_INT(t.peer, 3);
	CHECK_STR(t.host, "a.b.wild.test");
	/* Neither a node nor a resource; names never go to the internet
	 * resource. */
	CHECK_INT(streamtarget_pick(m, "other.test", 80, choose, &c, &t),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(streamtarget_pick(m, "wild.test", 80, choose, &c, &t),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(streamtarget_pick(m, "a..b", 80, choose, &c, &t),
		  WEFT_ERR_NOTFOUND);
	map_del(m);
}

static void filters_reject_early_and_no_connector_closes(void)
{
	struct map *m = load();
	struct chooser c = {0};
	struct streamtarget t;

	REQUIRE(m != NULL);
	CHECK_INT(streamtarget_pick(m, "10.5.0.10", 22, choose, &c, &t),
		  WEFT_ERR_FORBIDDEN);
	CHECK_INT(streamtarget_pick(m, "db.corp.test", 6101, choose, &c, &t),
		  WEFT_ERR_FORBIDDEN);
	CHECK_INT(streamtarget_pick(m, "db.corp.test", 6000, choose, &c, &t),
		  0);
	/* TCP to a resource granted UDP only. */
	CHECK_INT(streamtarget_pick(m, "dns.corp.test", 53, choose, &c, &t),
		  WEFT_ERR_FORBIDDEN);
	c.none = true;
	c.asked = 0;
	CHECK_INT(streamtarget_pick(m, "db.corp.test", 5432, choose, &c, &t),
		  WEFT_ERR_CLOSED);
	CHECK_INT(c.asked, 8);
	map_del(m);
}

static bool is(const struct ip_addr *a, const char *s)
{
	struct ip_addr b;

	return ip_addr_parse(s, &b) == 0 && ip_addr_eq(a, &b);
}

static void connectors_accept_what_they_serve(void)
{
	struct map *m = load();
	const struct map_res *v;
	struct map_peer p, p6;
	struct streamtarget_in in;
	size_t n;

	REQUIRE(m != NULL);
	v = map_serves(m, &n);
	memset(&p, 0, sizeof(p));
	p.id = 2;
	ip_addr_parse("100.64.0.2", &p.ipv4);
	ip_addr_parse("fd7a:115c:a1e0::2", &p.ipv6);
	p6 = p;
	memset(&p6.ipv4, 0, sizeof(p6.ipv4));

	CHECK_INT(streamtarget_accept(v, n, &p, "10.8.3.4", &in), 0);
	CHECK_INT(in.res_id, 15);
	CHECK(is(&in.addr, "10.8.3.4"));
	CHECK(is(&in.dst, "10.8.3.4"));
	CHECK(is(&in.src, "100.64.0.2"));
	CHECK_STR(in.name, "");
	CHECK_INT(streamtarget_accept(v, n, &p, "2001:db8::5", &in), 0);
	CHECK_INT(in.res_id, 18);
	CHECK(is(&in.src, "fd7a:115c:a1e0::2"));
	/* An IPv4 resource, asked by a peer without IPv4: no source (the
	 * filter then refuses). */
	CHECK_INT(streamtarget_accept(v, n, &p6, "10.8.0.1", &in), 0);
	CHECK_INT(in.src.family, 0);

	CHECK_INT(streamtarget_accept(v, n, &p, "Db2.Corp.Test.", &in), 0);
	CHECK_INT(in.res_id, 16);
	CHECK_STR(in.name, "db2.corp.test");
	CHECK_INT(in.addr.family, 0);
	CHECK(is(&in.dst, "100.96.0.3"));
	CHECK(is(&in.src, "100.64.0.2"));
	CHECK_INT(streamtarget_accept(v, n, &p6, "db2.corp.test", &in), 0);
	CHECK(is(&in.dst, "fd7a:115c:a1e0:ffff::6460:3"));
	CHECK(is(&in.src, "fd7a:115c:a1e0::2"));
	CHECK_INT(streamtarget_accept(v, n, &p, "x.y.w.test", &in), 0);
	CHECK_INT(in.res_id, 17);
	CHECK_STR(in.name, "x.y.w.test");
	CHECK(is(&in.dst, "100.104.1.0"));

	/* Not served: other addresses, other names (what it may reach
	 * itself), mapped addresses. */
	CHECK_INT(streamtarget_accept(v, n, &p, "10.9.0.1", &in),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(streamtarget_accept(v, n, &p, "db.corp.test", &in),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(streamtarget_accept(v, n, &p, "100.96.0.3", &in),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(streamtarget_accept(v, n, &p, "100.104.1.7", &in),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(streamtarget_accept(v, n, &p, "corp.test", &in),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(streamtarget_accept(v, n, &p, "w.test", &in),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(streamtarget_accept(v, n, &p, "a..b", &in), WEFT_ERR_INVAL);
	CHECK_INT(streamtarget_accept(NULL, 0, &p, "10.8.3.4", &in),
		  WEFT_ERR_NOTFOUND);
	map_del(m);
}

static void the_internet_resource_never_reaches_the_connector_itself(void)
{
	struct map *m = load_text(exit_text);
	const struct map_res *v;
	struct map_peer p;
	struct streamtarget_in in;
	size_t n;

	REQUIRE(m != NULL);
	v = map_serves(m, &n);
	memset(&p, 0, sizeof(p));
	ip_addr_parse("100.64.0.2", &p.ipv4);
	CHECK_INT(streamtarget_accept(v, n, &p, "192.0.2.1", &in), 0);
	CHECK_INT(in.res_id, 9);
	CHECK_INT(streamtarget_accept(v, n, &p, "127.0.0.1", &in),
		  WEFT_ERR_INVAL);
	CHECK_INT(streamtarget_accept(v, n, &p, "::1", &in), WEFT_ERR_INVAL);
	CHECK_INT(streamtarget_accept(v, n, &p, "::ffff:127.0.0.1", &in),
		  WEFT_ERR_INVAL);
	CHECK_INT(streamtarget_accept(v, n, &p, "0.0.0.0", &in),
		  WEFT_ERR_INVAL);
	map_del(m);
}

static void only_unicast_addresses_are_dialed(void)
{
	static const char *const yes[] = {
		"10.0.0.1", "192.168.1.1", "1.1.1.1", "169.254.1.1",
		"223.255.255.255", "2001:db8::1", "fd00::1",
	};
	static const char *const no[] = {
		"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.1.2.3", "224.0.0.1",
		"239.1.1.1", "255.255.255.255", "240.0.0.1", "::", "::1",
		"ff02::1", "fe80::1", "febf::1", "::ffff:10.0.0.1",
	};
	struct ip_addr a;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		REQUIRE_INT(ip_addr_parse(yes[i], &a), 0);
		if (!streamtarget_dialable(&a))
			check_report(false, __FILE__, __LINE__,
				     "%s not dialable", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		REQUIRE_INT(ip_addr_parse(no[i], &a), 0);
		if (streamtarget_dialable(&a))
			check_report(false, __FILE__, __LINE__,
				     "%s dialable", no[i]);
	}
	memset(&a, 0, sizeof(a));
	CHECK(!streamtarget_dialable(&a));
}

static void the_filter_sees_a_syn(void)
{
	struct ip_addr s, d;
	struct packet_info pi;

	ip_addr_parse("fd7a:115c:a1e0::2", &s);
	ip_addr_parse("2001:db8::5", &d);
	streamtarget_syn(&s, &d, 443, &pi);
	CHECK_INT(pi.version, 6);
	CHECK_INT(pi.proto, PACKET_PROTO_TCP);
	CHECK(ip_addr_eq(&pi.src, &s));
	CHECK(ip_addr_eq(&pi.dst, &d));
	CHECK(pi.has_ports);
	CHECK_INT(pi.sport, 0);
	CHECK_INT(pi.dport, 443);
	CHECK_INT(pi.tcp_flags, 0x02);
	CHECK_INT(pi.l3_len, 40);
	CHECK(!pi.fragment);
}

static const struct check_case cases[] = {
	CHECK_CASE(nodes_come_before_resources),
	CHECK_CASE(addresses_go_to_the_chosen_connector),
	CHECK_CASE(names_travel_unresolved),
	CHECK_CASE(filters_reject_early_and_no_connector_closes),
	CHECK_CASE(connectors_accept_what_they_serve),
	CHECK_CASE(the_internet_resource_never_reaches_the_connector_itself),
	CHECK_CASE(only_unicast_addresses_are_dialed),
	CHECK_CASE(the_filter_sees_a_syn),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
