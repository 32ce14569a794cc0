#include "check.h"
#include "agent/filter.h"
#include "agent/mapjson.h"
#include "shared/err.h"

#include <stdio.h>
#include <stdlib.h>

#define A4 "100.64.0.1"
#define B4 "100.64.0.2"
#define C4 "100.64.0.3"
#define A6 "fd7a:115c:a1e0::1"
#define B6 "fd7a:115c:a1e0::2"

/* A parsed packet as packet_parse would report it. proto is 6, 17, 1/58
 * (ICMP: sport is the type, dport the echo identifier) or anything else. */
static struct packet_info pk(uint8_t proto, const char *src, uint16_t sport,
			     const char *dst, uint16_t dport)
{
	struct packet_info pi;

	memset(&pi, 0, sizeof(pi));
	if (ip_addr_parse(src, &pi.src) != 0 || ip_addr_parse(dst, &pi.dst) != 0)
		abort();
	pi.version = pi.src.family;
	pi.proto = proto;
	if (proto == PACKET_PROTO_TCP || proto == PACKET_PROTO_UDP) {
		pi.has_ports = true;
		pi.sport = sport;
		pi.dport = dport;
	} else if (proto == PACKET_PROTO_ICMP || proto == PACKET_PROTO_ICMPV6) {
		pi.has_icmp = true;
		pi.icmp_type = (uint8_t)sport;
		pi.icmp_id = dport;
	}
	return pi;
}

/* The map's filter array read as agent/map.c reads it, then compiled
 * for a node whose own addresses ("self") are self[0..nself). */
static int compile_json(const json_t *j, const struct ip_addr *self,
			size_t nself, struct filter_rules **r, char *err,
			size_t errlen)
{
	struct map_rule *mr = NULL;
	size_t n = 0;
	int rc = mapjson_rules(j, &mr, &n, err, errlen);

	if (rc == 0)
		rc = filter_rules_compile(mr, n, self, nself, r, err, errlen);
	mapjson_rules_free(mr, n);
	return rc;
}

static struct filter_rules *compile_self(const char *text,
					 const struct ip_addr *self,
					 size_t nself)
{
	struct filter_rules *r = NULL;
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	char err[200] = "";
	int rc;

	if (!j)
		return NULL;
	rc = compile_json(j, self, nself, &r, err, sizeof(err));
	json_decref(j);
	if (rc != 0)
		fprintf(stderr, "compile: %s\n", err);
	return rc == 0 ? r : NULL;
}

static struct filter_rules *compile(const char *text)
{
	return compile_self(text, NULL, 0);
}

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	if (ip_addr_parse(s, &a) != 0)
		abort();
	return a;
}

static int compile_rc(const char *text, char *err, size_t errlen)
{
	struct filter_rules *r = NULL;
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	int rc;

	if (!j)
		return 1;
	rc = compile_json(j, NULL, 0, &r, err, errlen);
	json_decref(j);
	filter_rules_del(r);
	return rc;
}

/* b's filter from docs/internals/netmap.md: a may reach b on tcp/5432. */
static const char *const db_rule =
	"[{\"proto\":\"tcp\",\"src\":[\"" A4 "/32\",\"" A6 "/128\"],"
	"\"dst\":[{\"prefix\":\"" B4 "/32\",\"ports\":\"5432\"},"
	"{\"prefix\":\"" B6 "/128\",\"ports\":\"5432\"}]}]";

static void allows_exactly_what_a_tcp_rule_names(void)
{
	struct filter_rules *r = compile(db_rule);
	struct {
		struct packet_info pi;
		bool allow;
	} t[] = {
		{pk(6, A4, 40000, B4, 5432), true},
		{pk(6, A6, 40000, B6, 5432), true},
		{pk(6, A4, 40000, B4, 5433), false},
		{pk(6, A4, 40000, B4, 5431), false},
		{pk(17, A4, 40000, B4, 5432), false},
		{pk(1, A4, 8, B4, 1), false},
		{pk(6, C4, 40000, B4, 5432), false},
		{pk(6, A4, 40000, C4, 5432), false},
		{pk(6, B4, 5432, A4, 40000), false},
		{pk(6, "fd7a:115c:a1e0::3", 1, B6, 5432), false},
	};

	REQUIRE(r != NULL);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!check_report(filter_rules_allow(r, &t[i].pi) == t[i].allow,
				  __FILE__, __LINE__, "case %zu", i))
			break;
	filter_rules_del(r);
}

static void port_lists_and_ranges_are_inclusive(void)
{
	struct filter_rules *r = compile(
		"[{\"proto\":\"udp\",\"src\":[\"0.0.0.0/0\"],\"dst\":[{"
		"\"prefix\":\"" B4 "\",\"ports\":\"22,80-90,443\"}]}]");
	static const struct {
		uint16_t port;
		bool allow;
	} t[] = {{21, false}, {22, true}, {23, false}, {79, false},
		 {80, true},  {85, true},  {90, true},  {91, false},
		 {443, true}, {444, false}, {0, false}};

	REQUIRE(r != NULL);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct packet_info pi = pk(17, C4, 1, B4, t[i].port);

		check_report(filter_rules_allow(r, &pi) == t[i].allow, __FILE__,
			     __LINE__, "port %u", t[i].port);
	}
	filter_rules_del(r);
}

static void any_matches_every_protocol_and_portless_ones_need_star(void)
{
	struct filter_rules *r = compile(
		"[{\"proto\":\"any\",\"src\":[\"" A4 "\"],\"dst\":["
		"{\"prefix\":\"" B4 "/32\",\"ports\":\"5432\"},"
		"{\"prefix\":\"10.0.0.0/8\",\"ports\":\"*\"}]}]");
	struct packet_info pi;

	REQUIRE(r != NULL);
	pi = pk(6, A4, 1, B4, 5432);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(17, A4, 1, B4, 5432);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(17, A4, 1, B4, 53);
	CHECK(!filter_rules_allow(r, &pi));
	pi = pk(1, A4, 8, B4, 1); /* ICMP ignores ports */
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(47, A4, 0, B4, 0); /* GRE has no ports: needs "*" */
	CHECK(!filter_rules_allow(r, &pi));
	pi = pk(47, A4, 0, "10.9.8.7", 0);
	CHECK(filter_rules_allow(r, &pi));
	/* A TCP fragment without ports is like a portless protocol. */
	pi = pk(6, A4, 1, B4, 5432);
	pi.has_ports = false;
	CHECK(!filter_rules_allow(r, &pi));
	filter_rules_del(r);
}

static void icmp_rule_matches_icmp_and_icmpv6_only(void)
{
	struct filter_rules *r = compile(
		"[{\"proto\":\"icmp\",\"src\":[\"" A4 "/32\",\"" A6 "/128\"],"
		"\"dst\":[{\"prefix\":\"" B4 "/32\",\"ports\":\"*\"},"
		"{\"prefix\":\"" B6 "/128\",\"ports\":\"*\"}]}]");
	struct packet_info pi;

	REQUIRE(r != NULL);
	pi = pk(1, A4, 8, B4, 1);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(58, A6, 128, B6, 1);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(58, A4, 8, B4, 1); /* ICMPv6's number over IPv4 */
	pi.has_icmp = false;
	CHECK(!filter_rules_allow(r, &pi));
	pi = pk(6, A4, 1, B4, 80);
	CHECK(!filter_rules_allow(r, &pi));
	pi = pk(17, A6, 1, B6, 80);
	CHECK(!filter_rules_allow(r, &pi));
	filter_rules_del(r);
}

static void bare_addresses_and_host_bits_are_normalised(void)
{
	struct filter_rules *r = compile(
		"[{\"proto\":\"tcp\",\"src\":[\"10.1.2.3/8\",\"" A6 "\"],"
		"\"dst\":[{\"prefix\":\"" B4 "\",\"ports\":\"*\"},"
		"{\"prefix\":\"" B6 "\",\"ports\":\"*\"}]}]");
	struct packet_info pi;

	REQUIRE(r != NULL);
	pi = pk(6, "10.200.0.1", 1, B4, 1);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(6, "11.0.0.1", 1, B4, 1);
	CHECK(!filter_rules_allow(r, &pi));
	pi = pk(6, A6, 1, B6, 1); /* a bare IPv6 address is a /128 */
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(6, "fd7a:115c:a1e0::5", 1, B6, 1);
	CHECK(!filter_rules_allow(r, &pi));
	filter_rules_del(r);
}

static void large_source_sets_are_searched_exactly(void)
{
	char *text = malloc(64 * 1024), addr[64];
	size_t off = 0;
	struct filter_rules *r;
	struct packet_info pi;

	REQUIRE(text != NULL);
	off += (size_t)sprintf(text + off, "[{\"proto\":\"any\",\"src\":[");
	/* Every even host of 100.64.0.0/22 plus a /24 and a /16. */
	for (int i = 0; i < 1024; i += 2)
		off += (size_t)sprintf(text + off, "\"100.64.%d.%d/32\",",
				       i / 256, i % 256);
	sprintf(text + off, "\"10.9.9.0/24\",\"172.16.0.0/16\"],\"dst\":["
			    "{\"prefix\":\"" B4 "\",\"ports\":\"*\"}]}]");
	r = compile(text);
	free(text);
	REQUIRE(r != NULL);
	for (int i = 0; i < 1024; i++) {
		snprintf(addr, sizeof(addr), "100.64.%d.%d", i / 256, i % 256);
		pi = pk(6, addr, 1, B4, 1);
		if (!check_report(filter_rules_allow(r, &pi) == (i % 2 == 0),
				  __FILE__, __LINE__, "%s", addr))
			break;
	}
	pi = pk(6, "10.9.9.77", 1, B4, 1);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(6, "10.9.10.1", 1, B4, 1);
	CHECK(!filter_rules_allow(r, &pi));
	pi = pk(6, "172.16.255.255", 1, B4, 1);
	CHECK(filter_rules_allow(r, &pi));
	filter_rules_del(r);
}

/* b's filter as the controller sends it: "self" for b's own addresses
 * (both families) next to an explicit subnet b routes. */
static const char *const self_rule =
	"[{\"proto\":\"tcp\",\"src\":[\"" A4 "/32\",\"" A6 "/128\"],"
	"\"dst\":[{\"prefix\":\"self\",\"ports\":\"22,5432\"},"
	"{\"prefix\":\"10.1.0.0/24\",\"ports\":\"443\"}]}]";

static void self_matches_our_own_addresses_only(void)
{
	const struct ip_addr both[] = {addr(B4), addr(B6)}, v4[] = {addr(B4)};
	struct filter_rules *r = compile_self(self_rule, both, 2);
	struct {
		struct packet_info pi;
		bool allow;
	} t[] = {
		{pk(6, A4, 40000, B4, 5432), true},
		{pk(6, A6, 40000, B6, 22), true},
		{pk(6, A4, 40000, B4, 23), false},
		{pk(6, A4, 40000, "10.1.0.9", 443), true},
		/* "self" is not the subnet's ports, nor anyone else's. */
		{pk(6, A4, 40000, B4, 443), false},
		{pk(6, A4, 40000, "10.1.0.9", 22), false},
		{pk(6, A4, 40000, C4, 22), false},
		{pk(6, A4, 40000, A4, 22), false},
		{pk(6, A6, 40000, "fd7a:115c:a1e0::3", 22), false},
		{pk(6, C4, 40000, B4, 22), false},
		{pk(17, A4, 40000, B4, 22), false},
	};

	REQUIRE(r != NULL);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check_report(filter_rules_allow(r, &t[i].pi) == t[i].allow,
			     __FILE__, __LINE__, "case %zu", i);
	filter_rules_del(r);

	/* Only an IPv4 address: "self" is that one. */
	r = compile_self(self_rule, v4, 1);
	REQUIRE(r != NULL);
	{
		struct packet_info a = pk(6, A4, 1, B4, 22);
		struct packet_info b = pk(6, A6, 1, B6, 22);

		CHECK(filter_rules_allow(r, &a));
		CHECK(!filter_rules_allow(r, &b));
	}
	filter_rules_del(r);

	/* No address of our own: "self" admits nothing, the subnet still
	 * passes. */
	r = compile_self(self_rule, NULL, 0);
	REQUIRE(r != NULL);
	{
		struct packet_info a = pk(6, A4, 1, B4, 22);
		struct packet_info b = pk(6, A4, 1, "10.1.0.9", 443);

		CHECK(!filter_rules_allow(r, &a));
		CHECK(filter_rules_allow(r, &b));
	}
	filter_rules_del(r);
}

static void self_is_only_a_dst_and_self_addresses_are_checked(void)
{
	const struct ip_addr bad[] = {{.family = 0}}, three[] = {
		addr(B4), addr(B6), addr(C4)};
	struct filter_rules *r = NULL;
	struct map_rule *mr = NULL;
	json_t *j = json_loads(self_rule, 0, NULL);
	char err[128];
	size_t n = 0;

	/* "self" names no sender, and it is spelled exactly. */
	CHECK_INT(compile_rc("[{\"proto\":\"tcp\",\"src\":[\"self\"],"
			     "\"dst\":[]}]", err, sizeof(err)), WEFT_ERR_INVAL);
	CHECK_INT(compile_rc("[{\"proto\":\"tcp\",\"src\":[],\"dst\":["
			     "{\"prefix\":\"Self\",\"ports\":\"1\"}]}]",
			     err, sizeof(err)), WEFT_ERR_INVAL);
	CHECK_INT(compile_rc("[{\"proto\":\"tcp\",\"src\":[],\"dst\":["
			     "{\"prefix\":\"self/32\",\"ports\":\"1\"}]}]",
			     err, sizeof(err)), WEFT_ERR_INVAL);
	CHECK_INT(compile_rc("[{\"proto\":\"tcp\",\"src\":[],\"dst\":["
			     "{\"prefix\":\"self\"}]}]", err, sizeof(err)),
		  WEFT_ERR_INVAL);
	REQUIRE(j != NULL);
	REQUIRE_INT(mapjson_rules(j, &mr, &n, err, sizeof(err)), 0);
	REQUIRE_INT(n, 1);
	CHECK(mr[0].dst[0].self && !mr[0].dst[1].self);
	CHECK_INT(filter_rules_compile(mr, n, bad, 1, &r, err, sizeof(err)),
		  WEFT_ERR_INVAL);
	CHECK_INT(filter_rules_compile(mr, n, three, 3, &r, err, sizeof(err)),
		  WEFT_ERR_INVAL);
	CHECK_INT(filter_rules_compile(mr, n, NULL, 1, &r, err, sizeof(err)),
		  WEFT_ERR_INVAL);
	CHECK(r == NULL);
	mapjson_rules_free(mr, n);
	json_decref(j);
}

static void rejects_malformed_filters_with_a_reason(void)
{
	static const struct {
		const char *json;
		int rc;
	} t[] = {
		{"{}", WEFT_ERR_INVAL},
		{"[1]", WEFT_ERR_INVAL},
		{"[{\"proto\":\"sctp\",\"src\":[],\"dst\":[]}]", WEFT_ERR_INVAL},
		{"[{\"src\":[],\"dst\":[]}]", WEFT_ERR_INVAL},
		{"[{\"proto\":\"tcp\",\"src\":[],\"dst\":[],\"x\":1}]", WEFT_ERR_INVAL},
		{"[{\"proto\":\"tcp\",\"src\":{},\"dst\":[]}]", WEFT_ERR_INVAL},
		{"[{\"proto\":\"tcp\",\"src\":[\"1.2.3.4/33\"],\"dst\":[]}]", WEFT_ERR_INVAL},
		{"[{\"proto\":\"tcp\",\"src\":[7],\"dst\":[]}]", WEFT_ERR_INVAL},
		{"[{\"proto\":\"tcp\",\"src\":[],\"dst\":[\"1.2.3.4/32\"]}]", WEFT_ERR_INVAL},
		{"[{\"proto\":\"tcp\",\"src\":[],\"dst\":[{\"prefix\":\"1.2.3.4/32\"}]}]", WEFT_ERR_INVAL},
		{"[{\"proto\":\"tcp\",\"src\":[],\"dst\":[{\"prefix\":\"1.2.3.4/32\",\"ports\":\"1\",\"y\":2}]}]", WEFT_ERR_INVAL},
		{"[{\"proto\":\"tcp\",\"src\":[],\"dst\":[{\"prefix\":\"x\",\"ports\":\"1\"}]}]", WEFT_ERR_INVAL},
	};
	static const char *const bad_ports[] = {
		"", "0", "01", "65536", "90-80", "1,", ",1", "1-", "-1", "a",
		"1 ", "*,1", "1-2-3", "+1",
	};
	char json[4096], err[128];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err[0] = '\0';
		if (!check_report(compile_rc(t[i].json, err, sizeof(err)) == t[i].rc,
				  __FILE__, __LINE__, "%s", t[i].json))
			continue;
		check_report(err[0] != '\0', __FILE__, __LINE__, "no reason: %s",
			     t[i].json);
	}
	for (size_t i = 0; i < sizeof(bad_ports) / sizeof(bad_ports[0]); i++) {
		snprintf(json, sizeof(json),
			 "[{\"proto\":\"tcp\",\"src\":[],\"dst\":[{\"prefix\":"
			 "\"1.2.3.4/32\",\"ports\":\"%s\"}]}]",
			 bad_ports[i]);
		check_report(compile_rc(json, err, sizeof(err)) == WEFT_ERR_INVAL,
			     __FILE__, __LINE__, "ports \"%s\"", bad_ports[i]);
	}
	/* 64 port items are fine, 65 are too many. */
	strcpy(json, "[{\"proto\":\"tcp\",\"src\":[],\"dst\":[{\"prefix\":"
		     "\"1.2.3.4/32\",\"ports\":\"1");
	for (int i = 2; i <= 64; i++)
		sprintf(json + strlen(json), ",%d", i);
	strcat(json, "\"}]}]");
	CHECK_INT(compile_rc(json, err, sizeof(err)), 0);
	strcpy(strstr(json, ",64\"") + 3, ",65\"}]}]");
	CHECK_INT(compile_rc(json, err, sizeof(err)), WEFT_ERR_TOOBIG);
	/* Edges that are valid. */
	CHECK_INT(compile_rc("[]", err, sizeof(err)), 0);
	CHECK_INT(compile_rc("[{\"proto\":\"udp\",\"src\":[],\"dst\":[{\"prefix\""
			     ":\"::/0\",\"ports\":\"1-65535\"}]}]",
			     err, sizeof(err)),
		  0);
}

/* An exit connector's filter as the controller sends it for an internet
 * resource (docs/internals/netmap.md): the granted client to 0.0.0.0/0
 * and ::/0, here narrowed to tcp 443 and icmp. Anything the client sends
 * to any address passes; other senders and other ports do not. */
static void an_exit_connector_admits_its_clients_to_any_address(void)
{
	struct filter_rules *r = compile(
		"[{\"proto\":\"tcp\",\"src\":[\"" A4 "/32\",\"" A6 "/128\"],"
		"\"dst\":[{\"prefix\":\"0.0.0.0/0\",\"ports\":\"443\"},"
		"{\"prefix\":\"::/0\",\"ports\":\"443\"}]},"
		"{\"proto\":\"icmp\",\"src\":[\"" A4 "/32\",\"" A6 "/128\"],"
		"\"dst\":[{\"prefix\":\"0.0.0.0/0\",\"ports\":\"*\"},"
		"{\"prefix\":\"::/0\",\"ports\":\"*\"}]}]");
	struct packet_info pi;

	REQUIRE(r != NULL);
	pi = pk(6, A4, 40000, "198.51.100.10", 443);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(6, A4, 40000, "8.8.8.8", 443);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(6, A6, 40000, "2001:db8::1", 443);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(1, A4, 8, "198.51.100.10", 7);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(58, A6, 128, "2001:db8::1", 7);
	CHECK(filter_rules_allow(r, &pi));
	pi = pk(6, A4, 40000, "198.51.100.10", 80);
	CHECK(!filter_rules_allow(r, &pi));
	pi = pk(17, A4, 40000, "198.51.100.10", 443);
	CHECK(!filter_rules_allow(r, &pi));
	pi = pk(6, B4, 40000, "198.51.100.10", 443);
	CHECK(!filter_rules_allow(r, &pi));
	filter_rules_del(r);
}

static struct filter *new_filter(uint32_t ct_max, const char *rules)
{
	struct filter_config cfg = {.ct_max = ct_max,
				    .tcp_idle_ms = 10000,
				    .udp_idle_ms = 5000,
				    .icmp_idle_ms = 2000,
				    .frag_idle_ms = 1000};
	struct filter *f = NULL;

	if (filter_new(&cfg, &f) != 0)
		return NULL;
	if (rules)
		filter_set_rules(f, compile(rules));
	return f;
}

static void denies_by_default_and_counts_verdicts(void)
{
	struct filter *f = new_filter(0, NULL);
	struct packet_info pi = pk(6, A4, 1, B4, 5432);
	struct filter_stats st;

	REQUIRE(f != NULL);
	CHECK(!filter_check_in(f, &pi, 1000));
	filter_set_rules(f, compile(db_rule));
	CHECK(filter_check_in(f, &pi, 1000));
	CHECK(filter_check_in(f, &pi, 1000));
	pi.dport = 22;
	CHECK(!filter_check_in(f, &pi, 1000));
	filter_get_stats(f, 1000, &st);
	CHECK_INT(st.allowed, 2);
	CHECK_INT(st.denied, 2);
	CHECK_INT(st.allowed_tracked, 0);
	filter_set_rules(f, NULL);
	pi.dport = 5432;
	CHECK(!filter_check_in(f, &pi, 1000));
	filter_del(f);
	filter_del(NULL);
	filter_rules_del(NULL);
}

/* The DNS stub's addresses sit on the TUN for the local resolver only:
 * a peer's query to them is dropped even when a rule covers the whole
 * CGNAT range and when the stub itself sent a packet to that peer. */
static void peers_never_reach_the_dns_stub_addresses(void)
{
	static const char *const wide =
		"[{\"proto\":\"any\",\"src\":[\"100.64.0.0/10\",\"fd7a::/16\"],"
		"\"dst\":[{\"prefix\":\"100.64.0.0/10\",\"ports\":\"*\"},"
		"{\"prefix\":\"fd7a::/16\",\"ports\":\"*\"}]}]";
	struct ip_addr stub[3] = {addr("100.100.100.100"),
				  addr("fd7a:115c:a1e0::6464:6464"),
				  addr("100.64.0.9")};
	struct filter *f = new_filter(0, wide);
	struct packet_info q4 = pk(17, B4, 40000, "100.100.100.100", 53);
	struct packet_info q6 = pk(6, B6, 40000, "fd7a:115c:a1e0::6464:6464",
				   53);
	struct packet_info other = pk(17, B4, 40000, A4, 53);
	struct packet_info out = pk(17, "100.100.100.100", 53, B4, 40000);
	struct filter_stats st;

	REQUIRE(f != NULL);
	CHECK(filter_check_in(f, &q4, 1000)); /* the rule covers it */
	filter_set_local_only(f, stub, 3); /* the third is ignored */
	CHECK(!filter_check_in(f, &q4, 1000));
	CHECK(!filter_check_in(f, &q6, 1000));
	CHECK(filter_check_in(f, &other, 1000));
	q4.sport = 40000;
	filter_track_out(f, &out, 1000);
	CHECK(!filter_check_in(f, &q4, 1001));
	filter_get_stats(f, 1001, &st);
	CHECK_INT(st.denied, 3);
	other = pk(17, B4, 40000, "100.64.0.9", 53);
	CHECK(filter_check_in(f, &other, 1001));
	filter_set_local_only(f, NULL, 0);
	CHECK(filter_check_in(f, &q4, 1002));
	filter_del(f);
}

/* a's filter has nothing for b: only replies to a's own flows get in. */
static void replies_to_outbound_flows_are_allowed(void)
{
	struct filter *f = new_filter(0, "[]");
	struct packet_info out, in;
	struct filter_stats st;

	REQUIRE(f != NULL);
	in = pk(6, B4, 5201, A4, 40000);
	CHECK(!filter_check_in(f, &in, 1000));
	out = pk(6, A4, 40000, B4, 5201);
	filter_track_out(f, &out, 1000);
	CHECK(filter_check_in(f, &in, 1001));
	/* Same hosts, other ports or protocol: not the flow. */
	in = pk(6, B4, 5201, A4, 40001);
	CHECK(!filter_check_in(f, &in, 1002));
	in = pk(6, B4, 5202, A4, 40000);
	CHECK(!filter_check_in(f, &in, 1002));
	in = pk(17, B4, 5201, A4, 40000);
	CHECK(!filter_check_in(f, &in, 1002));
	in = pk(6, C4, 5201, A4, 40000);
	CHECK(!filter_check_in(f, &in, 1002));
	/* b opening a connection to a's port is still denied. */
	in = pk(6, B4, 40000, A4, 5201);
	CHECK(!filter_check_in(f, &in, 1002));
	/* IPv6 and UDP flows likewise. */
	out = pk(17, A6, 5353, B6, 53);
	filter_track_out(f, &out, 1000);
	in = pk(17, B6, 53, A6, 5353);
	CHECK(filter_check_in(f, &in, 1003));
	filter_get_stats(f, 1003, &st);
	CHECK_INT(st.allowed_tracked, 2);
	CHECK_INT(st.ct_entries, 2);
	filter_del(f);
}

/* An ICMP error from b about a packet a sent. */
static struct packet_info icmp_error(uint8_t type, const struct packet_info *sent)
{
	struct packet_info e = pk(sent->version == 4 ? 1 : 58, "0.0.0.0", type,
				  "0.0.0.0", 0);

	e.version = sent->version;
	e.src = sent->dst;
	e.dst = sent->src;
	e.has_quote = true;
	e.quote.proto = sent->proto;
	e.quote.src = sent->src;
	e.quote.dst = sent->dst;
	e.quote.has_ports = sent->has_ports;
	e.quote.sport = sent->sport;
	e.quote.dport = sent->dport;
	e.quote.has_icmp = sent->has_icmp;
	e.quote.icmp_type = sent->icmp_type;
	e.quote.icmp_id = sent->icmp_id;
	return e;
}

static void icmp_errors_about_our_own_flows_are_allowed(void)
{
	struct filter *f = new_filter(0, "[]");
	struct packet_info out = pk(6, A4, 40000, B4, 5201), err, other;
	struct filter_stats st;

	REQUIRE(f != NULL);
	err = icmp_error(3, &out);
	CHECK(!filter_check_in(f, &err, 1000));
	filter_track_out(f, &out, 1000);
	CHECK(filter_check_in(f, &err, 1001));
	/* Another flow, or a quote that is not ours, stays out. */
	other = pk(6, A4, 40001, B4, 5201);
	err = icmp_error(3, &other);
	CHECK(!filter_check_in(f, &err, 1002));
	err = icmp_error(3, &out);
	err.dst = addr(C4);
	CHECK(!filter_check_in(f, &err, 1002));
	err = icmp_error(3, &out);
	err.has_quote = false;
	CHECK(!filter_check_in(f, &err, 1002));
	/* UDP over IPv6 and ping likewise; an expired flow does not. */
	out = pk(17, A6, 5353, B6, 53);
	filter_track_out(f, &out, 1000);
	err = icmp_error(1, &out);
	CHECK(filter_check_in(f, &err, 1003));
	other = pk(1, A4, 8, B4, 77);
	filter_track_out(f, &other, 1000);
	err = icmp_error(11, &other);
	CHECK(filter_check_in(f, &err, 1004));
	filter_get_stats(f, 1004, &st);
	CHECK_INT(st.allowed_tracked, 3);
	err = icmp_error(1, &out);
	CHECK(!filter_check_in(f, &err, 7000));
	filter_del(f);
}

static void echo_replies_match_the_request_identifier(void)
{
	struct filter *f = new_filter(0, "[]");
	struct packet_info out, in;

	REQUIRE(f != NULL);
	out = pk(1, A4, 8, B4, 77);
	filter_track_out(f, &out, 1000);
	in = pk(1, B4, 0, A4, 77);
	CHECK(filter_check_in(f, &in, 1001));
	in = pk(1, B4, 0, A4, 78);
	CHECK(!filter_check_in(f, &in, 1001));
	in = pk(1, B4, 8, A4, 77); /* b's own echo request */
	CHECK(!filter_check_in(f, &in, 1001));
	out = pk(58, A6, 128, B6, 9);
	filter_track_out(f, &out, 1000);
	in = pk(58, B6, 129, A6, 9);
	CHECK(filter_check_in(f, &in, 1001));
	/* Echo replies a sends (to b's pings) create no flow. */
	out = pk(1, A4, 0, C4, 5);
	filter_track_out(f, &out, 1000);
	in = pk(1, C4, 8, A4, 5);
	CHECK(!filter_check_in(f, &in, 1001));
	/* ICMP flows expire after icmp_idle_ms (2 s here). */
	in = pk(1, B4, 0, A4, 77);
	CHECK(filter_check_in(f, &in, 2999));
	CHECK(!filter_check_in(f, &in, 2999 + 2000));
	filter_del(f);
}

static void flows_expire_when_idle_and_traffic_refreshes_them(void)
{
	struct filter *f = new_filter(0, "[]");
	struct packet_info out = pk(17, A4, 1000, B4, 53);
	struct packet_info in = pk(17, B4, 53, A4, 1000);
	struct filter_stats st;

	REQUIRE(f != NULL);
	filter_track_out(f, &out, 1000);
	/* udp_idle_ms is 5 s: a reply at 5.999 s keeps the flow alive. */
	CHECK(filter_check_in(f, &in, 5999));
	CHECK(filter_check_in(f, &in, 10998));
	CHECK(!filter_check_in(f, &in, 15998));
	filter_get_stats(f, 15998, &st);
	CHECK_INT(st.ct_entries, 0);
	/* Outbound traffic refreshes too. */
	filter_track_out(f, &out, 20000);
	filter_track_out(f, &out, 24000);
	CHECK(filter_check_in(f, &in, 28000));
	filter_del(f);
}

static void replies_the_rules_allow_are_not_tracked(void)
{
	/* b may reach a on tcp/22: a's answers from port 22 need no state. */
	struct filter *f = new_filter(
		0, "[{\"proto\":\"tcp\",\"src\":[\"" B4 "\"],\"dst\":[{"
		   "\"prefix\":\"" A4 "\",\"ports\":\"22\"}]}]");
	struct packet_info out = pk(6, A4, 22, B4, 50000);
	struct filter_stats st;

	REQUIRE(f != NULL);
	filter_track_out(f, &out, 1000);
	filter_get_stats(f, 1000, &st);
	CHECK_INT(st.ct_entries, 0);
	out = pk(6, A4, 50000, B4, 22);
	filter_track_out(f, &out, 1000);
	filter_get_stats(f, 1000, &st);
	CHECK_INT(st.ct_entries, 1);
	filter_del(f);
}

static void full_table_evicts_the_least_recently_used_flow(void)
{
	/* ct_max 8 is one bucket of 8 slots: every flow shares it. */
	struct filter *f = new_filter(8, "[]");
	struct packet_info out, in;
	struct filter_stats st;
	int i;

	REQUIRE(f != NULL);
	for (i = 0; i < 8; i++) {
		out = pk(6, A4, (uint16_t)(40000 + i), B4, 80);
		filter_track_out(f, &out, 1000 + i);
	}
	/* Touch the first flow, so the second is now the oldest. */
	in = pk(6, B4, 80, A4, 40000);
	CHECK(filter_check_in(f, &in, 2000));
	out = pk(6, A4, 50000, B4, 80);
	filter_track_out(f, &out, 2001);
	filter_get_stats(f, 2001, &st);
	CHECK_INT(st.ct_entries, 8);
	CHECK_INT(st.ct_evicted, 1);
	in = pk(6, B4, 80, A4, 40001);
	CHECK(!filter_check_in(f, &in, 2002));
	for (i = 0; i < 8; i++) {
		if (i == 1)
			continue;
		in = pk(6, B4, 80, A4, (uint16_t)(40000 + i));
		check_report(filter_check_in(f, &in, 2002), __FILE__, __LINE__,
			     "flow %d", i);
	}
	in = pk(6, B4, 80, A4, 50000);
	CHECK(filter_check_in(f, &in, 2002));
	/* An expired slot is reused without counting an eviction. */
	out = pk(6, A4, 50001, B4, 80);
	filter_track_out(f, &out, 2002 + 10000);
	filter_get_stats(f, 2002 + 10000, &st);
	CHECK_INT(st.ct_evicted, 1);
	filter_del(f);
}

/* 10,000 UDP flows (one client, many source ports, two servers) in a
 * table sized for them (ct_max 10000: 16,384 slots): every one is kept
 * and its replies pass. With one bucket per flow, buckets that drew
 * more than 8 flows evicted live ones (about 2 % of them); with two
 * choices a flow goes to the emptier of its buckets. */
static void a_table_sized_for_its_flows_keeps_every_one(void)
{
	struct filter *f = new_filter(10000, "[]");
	struct packet_info p;
	struct filter_stats st;
	int i, lost = 0;

	REQUIRE(f != NULL);
	for (i = 0; i < 10000; i++) {
		p = pk(17, A4, (uint16_t)(20000 + i % 5000),
		       i < 5000 ? "192.168.77.10" : "192.168.77.11", 7000);
		filter_track_out(f, &p, 1000);
	}
	filter_get_stats(f, 1001, &st);
	CHECK_INT(st.ct_evicted, 0);
	CHECK_INT(st.ct_entries, 10000);
	for (i = 0; i < 10000; i++) {
		p = pk(17, i < 5000 ? "192.168.77.10" : "192.168.77.11", 7000,
		       A4, (uint16_t)(20000 + i % 5000));
		lost += !filter_check_in(f, &p, 1001);
	}
	CHECK_INT(lost, 0);
	filter_del(f);
}

static void new_rules_keep_tracked_flows_and_apply_at_once(void)
{
	struct filter *f = new_filter(0, db_rule);
	struct packet_info out = pk(6, B4, 41000, A4, 443);
	struct packet_info reply = pk(6, A4, 443, B4, 41000);
	struct packet_info db = pk(6, A4, 40000, B4, 5432);
	struct packet_info ssh = pk(6, A4, 40000, B4, 22);

	REQUIRE(f != NULL);
	/* This is b's filter: b opens a flow to a:443. */
	filter_track_out(f, &out, 1000);
	CHECK(filter_check_in(f, &reply, 1001));
	CHECK(filter_check_in(f, &db, 1001));
	CHECK(!filter_check_in(f, &ssh, 1001));
	filter_set_rules(f, compile("[{\"proto\":\"tcp\",\"src\":[\"" A4 "\"],"
				    "\"dst\":[{\"prefix\":\"" B4 "\","
				    "\"ports\":\"22\"}]}]"));
	CHECK(filter_check_in(f, &reply, 1002));
	CHECK(!filter_check_in(f, &db, 1002));
	CHECK(filter_check_in(f, &ssh, 1002));
	filter_del(f);
}

static void later_fragments_follow_their_first_fragment(void)
{
	struct filter *f = new_filter(
		0, "[{\"proto\":\"udp\",\"src\":[\"" B4 "\"],\"dst\":[{"
		   "\"prefix\":\"" A4 "\",\"ports\":\"53\"}]}]");
	struct packet_info first = pk(17, B4, 999, A4, 53), later, other;
	struct filter_stats st;

	REQUIRE(f != NULL);
	first.fragment = true;
	first.frag_id = 42;
	later = pk(17, B4, 0, A4, 0);
	later.has_ports = false;
	later.fragment = later.later_fragment = true;
	later.frag_id = 42;
	other = later;
	other.frag_id = 43;

	CHECK(!filter_check_in(f, &later, 1000)); /* before its first */
	CHECK(filter_check_in(f, &first, 1000));
	CHECK(filter_check_in(f, &later, 1001));
	CHECK(!filter_check_in(f, &other, 1001));
	CHECK(!filter_check_in(f, &later, 1000 + 1000)); /* frag_idle_ms */
	/* A denied first fragment lets nothing of its datagram through. */
	first.dport = 54;
	first.frag_id = 43;
	CHECK(!filter_check_in(f, &first, 3000));
	CHECK(!filter_check_in(f, &other, 3000));
	/* Fragments of a tracked reply pass too. */
	first = pk(17, C4, 53, A4, 1234);
	first.fragment = true;
	first.frag_id = 7;
	later.src = first.src;
	later.frag_id = 7;
	other = pk(17, A4, 1234, C4, 53);
	filter_track_out(f, &other, 3000);
	CHECK(filter_check_in(f, &first, 3001));
	CHECK(filter_check_in(f, &later, 3002));
	filter_get_stats(f, 3002, &st);
	CHECK_INT(st.allowed_fragment, 2);
	filter_del(f);
}

static void rejects_oversized_connection_tables(void)
{
	struct filter_config cfg = {.ct_max = (1u << 24) + 1};
	struct filter *f = (struct filter *)1;

	CHECK_INT(filter_new(&cfg, &f), WEFT_ERR_INVAL);
	CHECK(f == (struct filter *)1);
	CHECK_INT(filter_new(NULL, &f), 0);
	filter_del(f);
}

static struct filter_route rt(const char *prefix, int64_t peer)
{
	struct filter_route r;

	if (ip_prefix_parse(prefix, &r.prefix, 0) != 0)
		abort();
	r.peer = peer;
	return r;
}

static int64_t lookup(const struct filter_routes *t, const char *addr)
{
	struct ip_addr a;
	int64_t peer = -1;

	if (ip_addr_parse(addr, &a) != 0)
		abort();
	if (filter_routes_lookup(t, &a, &peer) != 0)
		return 0;
	return peer;
}

static void route_lookup_picks_the_longest_prefix(void)
{
	struct filter_route r[] = {
		rt("100.64.0.2/32", 2), rt("10.1.0.0/16", 3),
		rt("10.1.2.0/24", 4),   rt("fd7a:115c:a1e0::2/128", 2),
		rt("10.1.2.128/25", 5), rt("fd00::/8", 6),
		rt("192.168.1.7/16", 7), /* host bits set: cleared */
	};
	struct filter_routes *t = NULL;

	REQUIRE_INT(filter_routes_new(r, sizeof(r) / sizeof(r[0]), &t), 0);
	CHECK_INT(lookup(t, "100.64.0.2"), 2);
	CHECK_INT(lookup(t, "100.64.0.3"), 0);
	CHECK_INT(lookup(t, "10.1.9.9"), 3);
	CHECK_INT(lookup(t, "10.1.2.1"), 4);
	CHECK_INT(lookup(t, "10.1.2.127"), 4);
	CHECK_INT(lookup(t, "10.1.2.128"), 5);
	CHECK_INT(lookup(t, "10.1.2.255"), 5);
	CHECK_INT(lookup(t, "10.2.0.0"), 0);
	CHECK_INT(lookup(t, "192.168.200.1"), 7);
	CHECK_INT(lookup(t, "fd7a:115c:a1e0::2"), 2);
	CHECK_INT(lookup(t, "fd7a:115c:a1e0::3"), 6);
	CHECK_INT(lookup(t, "2001:db8::1"), 0);
	CHECK_INT(lookup(t, "::ffff:100.64.0.2"), 0);
	filter_routes_del(t);
	filter_routes_del(NULL);
}

static void route_ties_go_to_the_smaller_peer_id(void)
{
	struct filter_route a[] = {rt("10.0.0.0/8", 9), rt("10.0.0.0/8", 4),
				   rt("0.0.0.0/0", 8)};
	struct filter_route b[] = {rt("0.0.0.0/0", 8), rt("10.0.0.0/8", 4),
				   rt("10.0.0.0/8", 9)};
	struct filter_routes *t = NULL;
	struct ip_prefix bad = {.addr = {.family = 5}};
	struct filter_route badr = {bad, 1};

	REQUIRE_INT(filter_routes_new(a, 3, &t), 0);
	CHECK_INT(lookup(t, "10.3.3.3"), 4);
	CHECK_INT(lookup(t, "8.8.8.8"), 8);
	filter_routes_del(t);
	REQUIRE_INT(filter_routes_new(b, 3, &t), 0);
	CHECK_INT(lookup(t, "10.3.3.3"), 4);
	filter_routes_del(t);
	REQUIRE_INT(filter_routes_new(NULL, 0, &t), 0);
	CHECK_INT(lookup(t, "10.3.3.3"), 0);
	filter_routes_del(t);
	t = NULL;
	CHECK_INT(filter_routes_new(&badr, 1, &t), WEFT_ERR_INVAL);
	CHECK(t == NULL);
}

/* Host routes live in their own hash table: every one is found, ties go
 * to the smaller id, and a subnet route still covers the addresses no
 * host route names. */
static void many_host_routes_are_each_found(void)
{
	struct filter_route *r = calloc(2002, sizeof(*r));
	struct filter_routes *t = NULL;
	char a[64];
	size_t n = 0;

	REQUIRE(r != NULL);
	for (int i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "100.64.%d.%d/32", i / 200, i % 200 + 1);
		r[n++] = rt(a, 1000 + i);
		snprintf(a, sizeof(a), "fd7a:115c:a1e0::%x/128", i + 1);
		r[n++] = rt(a, 1000 + i);
	}
	r[n++] = rt("100.64.0.1/32", 7); /* same host as peer 1000 */
	r[n++] = rt("100.64.4.0/24", 3);
	REQUIRE_INT(filter_routes_new(r, n, &t), 0);
	CHECK_INT(lookup(t, "100.64.0.1"), 7);
	CHECK_INT(lookup(t, "100.64.0.2"), 1001);
	CHECK_INT(lookup(t, "100.64.4.200"), 1999);
	CHECK_INT(lookup(t, "100.64.4.201"), 3);
	CHECK_INT(lookup(t, "fd7a:115c:a1e0::3e8"), 1999);
	CHECK_INT(lookup(t, "fd7a:115c:a1e0::3e9"), 0);
	CHECK_INT(lookup(t, "100.64.5.1"), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "fd7a:115c:a1e0::%x", i + 1);
		if (lookup(t, a) != 1000 + i) {
			CHECK_INT(lookup(t, a), 1000 + i);
			break;
		}
	}
	filter_routes_del(t);
	free(r);
}

static const struct check_case cases[] = {
	CHECK_CASE(peers_never_reach_the_dns_stub_addresses),
	CHECK_CASE(allows_exactly_what_a_tcp_rule_names),
	CHECK_CASE(port_lists_and_ranges_are_inclusive),
	CHECK_CASE(any_matches_every_protocol_and_portless_ones_need_star),
	CHECK_CASE(icmp_rule_matches_icmp_and_icmpv6_only),
	CHECK_CASE(bare_addresses_and_host_bits_are_normalised),
	CHECK_CASE(large_source_sets_are_searched_exactly),
	CHECK_CASE(self_matches_our_own_addresses_only),
	CHECK_CASE(self_is_only_a_dst_and_self_addresses_are_checked),
	CHECK_CASE(rejects_malformed_filters_with_a_reason),
	CHECK_CASE(an_exit_connector_admits_its_clients_to_any_address),
	CHECK_CASE(denies_by_default_and_counts_verdicts),
	CHECK_CASE(replies_to_outbound_flows_are_allowed),
	CHECK_CASE(echo_replies_match_the_request_identifier),
	CHECK_CASE(icmp_errors_about_our_own_flows_are_allowed),
	CHECK_CASE(flows_expire_when_idle_and_traffic_refreshes_them),
	CHECK_CASE(replies_the_rules_allow_are_not_tracked),
	CHECK_CASE(full_table_evicts_the_least_recently_used_flow),
	CHECK_CASE(a_table_sized_for_its_flows_keeps_every_one),
	CHECK_CASE(new_rules_keep_tracked_flows_and_apply_at_once),
	CHECK_CASE(later_fragments_follow_their_first_fragment),
	CHECK_CASE(rejects_oversized_connection_tables),
	CHECK_CASE(route_lookup_picks_the_longest_prefix),
	CHECK_CASE(route_ties_go_to_the_smaller_peer_id),
	CHECK_CASE(many_host_routes_are_each_found),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
