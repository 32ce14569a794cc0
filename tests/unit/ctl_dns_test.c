/* DNS settings (controller/dnsconf.c, dnsstore.c, api_dns.c,
 * netmap_dns.c): validation with per-field errors, the REST round trip
 * over a real store (SQLite, and PostgreSQL as <name>_postgres), and the
 * settings in the map's "dns" part, full and as a delta. */
#include "check.h"
#include "ctl_fixture.h"
#include "netmap_fix.h"

#include "controller/dnsconf.h"
#include "controller/dnsstore.h"
#include "controller/ipam.h"
#include "shared/dnslimits.h"

#include <stdio.h>
#include <string.h>

static struct fx F;

/* dnsconf_parse on text; the normalised document goes to *out. */
static int parse(const char *text, json_t **out, struct dnsconf_err *e)
{
	json_t *doc = json_loads(text, 0, NULL);
	int rc;

	if (!doc) {
		check_report(false, __FILE__, __LINE__, "bad test JSON");
		return WEFT_ERR_PARSE;
	}
	rc = dnsconf_parse(doc, "weft.internal", out, e);
	json_decref(doc);
	return rc;
}

static void empty_document_gets_the_defaults(void)
{
	struct dnsconf_err e;
	json_t *o;

	REQUIRE_INT(parse("{}", &o, &e), 0);
	CHECK_JSON(o, "{\"domain\": \"weft.internal\", \"search\": true, "
		      "\"split\": [], \"upstreams\": [], \"records\": []}");
	json_decref(o);
}

static void document_is_normalised(void)
{
	struct dnsconf_err e;
	json_t *o;

	REQUIRE_INT(parse("{\"domain\": \"mesh.example\", \"search\": false,"
			  " \"split\": [{\"domain\": \"corp.example\", "
			  "\"upstreams\": [\"10.1.0.53:53\", \"10.1.0.54:5353\","
			  " \"[FD00:0::53]:53\", \"fd00::54\", "
			  "\"[fd00::55]:54\"]}], \"upstreams\": [\"192.0.2.53\"],"
			  " \"records\": [{\"name\": \"wiki.corp.example\", "
			  "\"type\": \"AAAA\", \"value\": \"FD00:0:0::7\"}]}",
			  &o, &e),
		    0);
	CHECK_JSON(o, "{\"domain\": \"mesh.example\", \"search\": false, "
		      "\"split\": [{\"domain\": \"corp.example\", \"upstreams\":"
		      " [\"10.1.0.53\", \"10.1.0.54:5353\", \"fd00::53\", "
		      "\"fd00::54\", \"[fd00::55]:54\"]}], \"upstreams\": "
		      "[\"192.0.2.53\"], \"records\": [{\"name\": "
		      "\"wiki.corp.example\", \"type\": \"AAAA\", \"value\": "
		      "\"fd00::7\"}]}");
	json_decref(o);
}

static void bad_fields_are_named(void)
{
	static const struct {
		const char *text, *field, *msg;
	} bad[] = {
		{"[]", "", "JSON object"},
		{"{\"domian\": \"x\"}", "domian", "unknown field"},
		{"{\"domain\": 5}", "domain", "must be a string"},
		{"{\"domain\": \"Mesh.example\"}", "domain", "not a DNS name"},
		{"{\"domain\": \"mesh.example.\"}", "domain", "not a DNS name"},
		{"{\"search\": \"yes\"}", "search", "true or false"},
		{"{\"upstreams\": \"10.0.0.1\"}", "upstreams", "an array"},
		{"{\"upstreams\": [\"ns.example\"]}", "upstreams[0]",
		 "IP, IP:port"},
		{"{\"upstreams\": [\"10.0.0.1:0\"]}", "upstreams[0]",
		 "IP, IP:port"},
		{"{\"split\": [\"corp.example\"]}", "split[0]", "an object"},
		{"{\"split\": [{\"domain\": \"corp.example\", \"upstreams\": "
		 "[], \"x\": 1}]}", "split[0].x", "unknown field"},
		{"{\"split\": [{\"domain\": \"corp.example\", \"upstreams\": "
		 "[]}]}", "split[0].upstreams", "at least 1"},
		{"{\"split\": [{\"domain\": \"corp.example\"}]}",
		 "split[0].upstreams", "an array"},
		{"{\"split\": [{\"domain\": \"a.weft.internal\", \"upstreams\":"
		 " [\"10.0.0.1\"]}]}", "split[0].domain", "mesh domain"},
		{"{\"split\": [{\"domain\": \"weft.internal\", \"upstreams\":"
		 " [\"10.0.0.1\"]}]}", "split[0].domain", "mesh domain"},
		{"{\"split\": [{\"domain\": \"a.example\", \"upstreams\": "
		 "[\"10.0.0.1\"]}, {\"domain\": \"a.example\", \"upstreams\": "
		 "[\"10.0.0.1\"]}]}", "split[1].domain", "given twice"},
		{"{\"split\": [{\"domain\": \"a.example\", \"upstreams\": "
		 "[\"10.0.0.1\", \"10.0.0.x\"]}]}", "split[0].upstreams[1]",
		 "IP, IP:port"},
		{"{\"records\": [{\"name\": \"a.example\", \"type\": \"CNAME\","
		 " \"value\": \"b.example\"}]}", "records[0].type",
		 "\"A\" or \"AAAA\""},
		{"{\"records\": [{\"name\": \"a.example\", \"type\": \"A\", "
		 "\"value\": \"fd00::1\"}]}", "records[0].value",
		 "IPv4 address"},
		{"{\"records\": [{\"name\": \"a_b.example\", \"type\": \"A\", "
		 "\"value\": \"10.0.0.1\"}]}", "records[0].name",
		 "not a DNS name"},
		{"{\"records\": [{\"name\": \"a.example\", \"type\": \"A\", "
		 "\"value\": \"10.0.0.1\", \"ttl\": 5}]}", "records[0].ttl",
		 "unknown field"},
	};
	struct dnsconf_err e;
	json_t *o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = NULL;
		CHECK_INT(parse(bad[i].text, &o, &e), WEFT_ERR_INVAL);
		CHECK(o == NULL);
		if (strcmp(e.field, bad[i].field) != 0 ||
		    !strstr(e.message, bad[i].msg))
			check_report(false, __FILE__, __LINE__,
				     "case %zu: got %s: %s", i, e.field,
				     e.message);
	}
}

static void limits_are_enforced(void)
{
	char text[8192], *p = text;
	struct dnsconf_err e;
	json_t *o = NULL;

	p += sprintf(p, "{\"upstreams\": [");
	for (int i = 0; i <= DNS_MAX_UPSTREAMS; i++)
		p += sprintf(p, "%s\"10.0.0.%d\"", i ? "," : "", i + 1);
	sprintf(p, "]}");
	CHECK_INT(parse(text, &o, &e), WEFT_ERR_TOOBIG);
	CHECK_STR(e.field, "upstreams");
	p = text;
	p += sprintf(p, "{\"split\": [");
	for (int i = 0; i <= DNS_MAX_SPLIT; i++)
		p += sprintf(p, "%s{\"domain\": \"d%d.example\", \"upstreams\":"
			     " [\"10.0.0.1\"]}", i ? "," : "", i);
	sprintf(p, "]}");
	CHECK_INT(parse(text, &o, &e), WEFT_ERR_TOOBIG);
	CHECK_STR(e.field, "split");
	CHECK(o == NULL);
}

static void rest_round_trip_is_audited_and_changes_the_map(void)
{
	static const char doc[] =
		"{\"search\": false, \"split\": [{\"domain\": \"corp.example\","
		" \"upstreams\": [\"10.1.0.53:53\"]}], \"records\": [{\"name\":"
		" \"wiki.corp.example\", \"type\": \"A\", \"value\": "
		"\"10.1.0.7\"}]}";
	char member[FX_AUTH_SIZE];
	int64_t alice, bob, v0;

	REQUIRE(fx_open_members(&F, &alice, &bob, member));
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/dns", F.admin, NULL), 200);
	CHECK_JSON(F.r.json, "{\"domain\": \"weft.internal\", \"search\": "
			     "true, \"split\": [], \"upstreams\": [], "
			     "\"records\": []}");
	CHECK_INT(fx_call(&F, "GET", "/api/v1/dns", member, NULL), 403);
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/dns", member, doc), 403);
	v0 = fx_netmap_version(&F);
	REQUIRE_INT(fx_call(&F, "PUT", "/api/v1/dns", F.admin, doc), 200);
	CHECK_STR(json_string_value(json_array_get(json_object_get(
			  json_array_get(json_object_get(F.r.json, "split"),
					 0), "upstreams"), 0)),
		  "10.1.0.53");
	CHECK_INT(fx_netmap_version(&F), v0 + 1);
	CHECK_INT(fx_audit_count(&F, "dns.update", NULL, NULL), 1);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/dns", F.admin, NULL), 200);
	CHECK_JSON(F.r.json, "{\"domain\": \"weft.internal\", \"search\": "
			     "false, \"split\": [{\"domain\": \"corp.example\","
			     " \"upstreams\": [\"10.1.0.53\"]}], \"upstreams\":"
			     " [], \"records\": [{\"name\": "
			     "\"wiki.corp.example\", \"type\": \"A\", "
			     "\"value\": \"10.1.0.7\"}]}");
	fx_close(&F);
}

static void rest_refuses_bad_documents_with_400_and_field(void)
{
	REQUIRE(fx_open(&F, NULL));
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/dns", F.admin, "{\"domain\":"),
		  400);
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/dns", F.admin,
			  "{\"search\": 1}"), 400);
	CHECK_STR(fx_err_field(&F.r), "search");
	CHECK_INT(fx_call(&F, "PUT", "/api/v1/dns", F.admin,
			  "{\"records\": [{\"name\": \"x.example\", \"type\": "
			  "\"A\", \"value\": \"::1\"}]}"), 400);
	CHECK_STR(fx_err_code(&F.r), "invalid");
	CHECK_STR(fx_err_field(&F.r), "records[0].value");
	CHECK(strstr(fx_err_msg(&F.r), "IPv4") != NULL);
	/* Nothing was stored or audited. */
	CHECK_INT(fx_audit_count(&F, "dns.update", NULL, NULL), 0);
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/dns", F.admin, NULL), 200);
	CHECK(json_is_true(json_object_get(F.r.json, "search")));
	fx_close(&F);
}

static void nodes_answer_their_dns_name_in_the_domain(void)
{
	char path[64];
	int64_t id;

	REQUIRE(fx_open(&F, NULL));
	id = fx_node(&F, "laptop", 0, "[\"tag:x\"]", 1, NULL);
	REQUIRE(id > 0);
	snprintf(path, sizeof(path), "/api/v1/nodes/%lld", (long long)id);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "dns_name"), "laptop.weft.internal");
	REQUIRE_INT(fx_call(&F, "PUT", "/api/v1/dns", F.admin,
			    "{\"domain\": \"mesh.example\"}"), 200);
	REQUIRE_INT(fx_call(&F, "GET", path, F.admin, NULL), 200);
	CHECK_STR(fx_jstr(F.r.json, "dns_name"), "laptop.mesh.example");
	REQUIRE_INT(fx_call(&F, "GET", "/api/v1/nodes", F.admin, NULL), 200);
	REQUIRE_INT(fx_nitems(&F), 1);
	CHECK_STR(fx_jstr(fx_item(&F, 0), "dns_name"), "laptop.mesh.example");
	fx_close(&F);
}

static void stub6_is_the_ula_with_6464_6464(void)
{
	struct store_tx *tx = NULL;
	struct ip_prefix ula;
	struct ip_addr a, want;
	char text[IP_ADDR_STRLEN];

	REQUIRE(fx_open(&F, NULL));
	REQUIRE_INT(store_begin(F.st, STORE_WRITE, &tx), 0);
	REQUIRE_INT(dnsstore_stub6(tx, &a), 0);
	CHECK_INT(a.family, 0);
	REQUIRE_INT(ipam_ula48(tx, &ula), 0);
	REQUIRE_INT(dnsstore_stub6(tx, &a), 0);
	REQUIRE_INT(store_commit(tx), 0);
	want = ula.addr;
	memcpy(&want.b[12], "\x64\x64\x64\x64", 4);
	CHECK(ip_addr_eq(&a, &want));
	/* The stub's IPv6 is the twin of the reserved 100.100.100.100, so
	 * ipam never gives it to a node (ctl_ipam_test checks the IPv4). */
	CHECK(ip_addr_format(&a, text, sizeof(text)) == 0 &&
	      strstr(text, "::6464:6464") != NULL);
	fx_close(&F);
}

static void settings_reach_every_map_as_a_dns_delta(void)
{
	struct dnsconf_err e;
	struct ip_addr stub6;
	struct fix f;
	json_t *conf, *m;
	int64_t v;

	fix_init(&f, 16);
	REQUIRE_INT(set_policy(&f, "{\"acls\": [{\"action\": \"accept\", "
				   "\"src\": [\"alice\"], \"dst\": "
				   "[\"alice:*\"]}]}"), 0);
	REQUIRE_INT(add(&f, 1, "alice", NULL, NULL), 0);
	REQUIRE_INT(add(&f, 2, "alice", NULL, NULL), 0);
	m = render(&f, 1, 0);
	CHECK_JSON(json_object_get(m, "dns"),
		   "{\"suffix\": \"weft.internal\", \"search\": true, \"stub\":"
		   " {\"ipv4\": \"100.100.100.100\", \"ipv6\": null}, "
		   "\"split\": [], \"upstreams\": [], \"records\": [], "
		   "\"resources\": []}");
	json_decref(m);
	v = f.v;
	REQUIRE_INT(parse("{\"search\": false, \"upstreams\": "
			  "[\"192.0.2.53\"]}", &conf, &e), 0);
	REQUIRE_INT(ip_addr_parse("fd12:3456:789a::6464:6464", &stub6), 0);
	netmap_dirty_reset(&f.dirty);
	REQUIRE_INT(netmap_dns_set(f.nm, ++f.v, conf, &stub6, &f.dirty), 0);
	json_decref(conf);
	CHECK(dirty_has(&f.dirty, 1) && dirty_has(&f.dirty, 2));
	m = render(&f, 2, v);
	CHECK(json_object_get(m, "peers") == NULL);
	CHECK_JSON(json_object_get(m, "dns"),
		   "{\"suffix\": \"weft.internal\", \"search\": false, "
		   "\"stub\": {\"ipv4\": \"100.100.100.100\", \"ipv6\": "
		   "\"fd12:3456:789a::6464:6464\"}, \"split\": [], "
		   "\"upstreams\": [\"192.0.2.53\"], \"records\": [], "
		   "\"resources\": []}");
	json_decref(m);
	/* A new domain renames every peer: the delta carries them. */
	v = f.v;
	REQUIRE_INT(parse("{\"domain\": \"mesh.example\"}", &conf, &e), 0);
	netmap_dirty_reset(&f.dirty);
	REQUIRE_INT(netmap_dns_set(f.nm, ++f.v, conf, NULL, &f.dirty), 0);
	json_decref(conf);
	m = render(&f, 2, v);
	CHECK_STR(fx_jstr(peer_in(m, 1), "dns_name"), "n1.mesh.example");
	CHECK_STR(fx_jstr(json_object_get(m, "dns"), "suffix"),
		  "mesh.example");
	json_decref(m);
	fix_free(&f);
}

static const struct check_case cases[] = {
	CHECK_CASE(empty_document_gets_the_defaults),
	CHECK_CASE(document_is_normalised),
	CHECK_CASE(bad_fields_are_named),
	CHECK_CASE(limits_are_enforced),
	CHECK_CASE(rest_round_trip_is_audited_and_changes_the_map),
	CHECK_CASE(rest_refuses_bad_documents_with_400_and_field),
	CHECK_CASE(nodes_answer_their_dns_name_in_the_domain),
	CHECK_CASE(stub6_is_the_ula_with_6464_6464),
	CHECK_CASE(settings_reach_every_map_as_a_dns_delta),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
