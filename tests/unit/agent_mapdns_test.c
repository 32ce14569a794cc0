/* agent/mapdns: the map's "dns" part (docs/dns.md) is read into typed
 * fields, an older controller's part gets the defaults, and every bad
 * entry refuses the part with a reason naming it. */
#include "agent/map.h"
#include "agent/mapjson.h"

#include "check.h"
#include "shared/dnslimits.h"
#include "shared/err.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* The JSON of the last read_dns: d's strings are borrowed from it. */
static json_t *held;

/* Reads text as a dns part; err gets the reason. */
static int read_dns(const char *text, struct map_dns *d, char *err,
		    size_t errlen)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j) {
		check_report(false, __FILE__, __LINE__, "bad test JSON: %s",
			     e.text);
		return WEFT_ERR_PARSE;
	}
	err[0] = '\0';
	json_decref(held);
	held = j;
	return mapjson_dns(j, d, err, errlen);
}

static bool addr_is(const struct ip_addr *a, const char *text)
{
	struct ip_addr b;

	return ip_addr_parse(text, &b) == 0 && ip_addr_eq(a, &b);
}

static void full_part_is_typed(void)
{
	static const char text[] =
		"{\"suffix\": \"weft.internal\", \"search\": false, "
		"\"stub\": {\"ipv4\": \"100.100.100.100\", "
		"\"ipv6\": \"fd12:3456:789a::6464:6464\"}, "
		"\"split\": [{\"domain\": \"corp.example\", \"upstreams\": "
		"[\"10.1.0.53\", \"10.1.0.54:5353\", \"[fd00::53]:53\", "
		"\"fd00::54\"]}, {\"domain\": \"lab\", \"upstreams\": "
		"[\"10.2.0.1\"]}], "
		"\"upstreams\": [\"192.0.2.53\"], "
		"\"records\": [{\"name\": \"wiki.corp.example\", \"type\": \"A\","
		" \"value\": \"10.1.0.7\"}, {\"name\": \"v6.corp.example\", "
		"\"type\": \"AAAA\", \"value\": \"fd00::7\"}], "
		"\"resources\": [{\"name\": \"db\", \"address\": "
		"\"db.corp.example\"}], \"later_field\": 1}";
	struct map_dns d;
	char err[200];

	REQUIRE_INT(read_dns(text, &d, err, sizeof(err)), 0);
	CHECK_STR(d.suffix, "weft.internal");
	CHECK(!d.search);
	CHECK(addr_is(&d.stub4, "100.100.100.100"));
	CHECK(addr_is(&d.stub6, "fd12:3456:789a::6464:6464"));
	REQUIRE_INT(d.nsplit, 2);
	CHECK_STR(d.split[0].domain, "corp.example");
	REQUIRE_INT(d.split[0].nupstreams, 4);
	CHECK(addr_is(&d.split[0].upstreams[0].addr, "10.1.0.53"));
	CHECK_INT(d.split[0].upstreams[0].port, 53);
	CHECK_INT(d.split[0].upstreams[1].port, 5353);
	CHECK(addr_is(&d.split[0].upstreams[2].addr, "fd00::53"));
	CHECK_INT(d.split[0].upstreams[2].port, 53);
	CHECK(addr_is(&d.split[0].upstreams[3].addr, "fd00::54"));
	CHECK_INT(d.split[0].upstreams[3].port, 53);
	CHECK_STR(d.split[1].domain, "lab");
	REQUIRE_INT(d.split[1].nupstreams, 1);
	CHECK(addr_is(&d.split[1].upstreams[0].addr, "10.2.0.1"));
	REQUIRE_INT(d.nupstreams, 1);
	CHECK(addr_is(&d.upstreams[0].addr, "192.0.2.53"));
	REQUIRE_INT(d.nrecords, 2);
	CHECK_STR(d.records[0].name, "wiki.corp.example");
	CHECK_INT(d.records[0].type, 4);
	CHECK(addr_is(&d.records[0].value, "10.1.0.7"));
	CHECK_INT(d.records[1].type, 6);
	REQUIRE_INT(d.nresources, 1);
	CHECK_STR(d.resources[0].address, "db.corp.example");
	mapjson_dns_free(&d);
}

static void older_part_gets_defaults(void)
{
	struct map_dns d;
	char err[200];

	REQUIRE_INT(read_dns("{\"suffix\": \"weft.internal\", \"resources\": "
			     "[]}", &d, err, sizeof(err)),
		    0);
	CHECK(d.search);
	CHECK(addr_is(&d.stub4, DNS_STUB_IPV4));
	CHECK_INT(d.stub6.family, 0);
	CHECK(d.nsplit == 0 && d.nupstreams == 0 && d.nrecords == 0 &&
	      d.nresources == 0);
	mapjson_dns_free(&d);
	/* null means absent, as the controller renders "none". */
	REQUIRE_INT(read_dns("{\"suffix\": null, \"search\": null, \"stub\": "
			     "{\"ipv4\": null, \"ipv6\": null}, \"split\": "
			     "null, \"records\": null}", &d, err, sizeof(err)),
		    0);
	CHECK(d.suffix == NULL && d.search);
	CHECK(addr_is(&d.stub4, DNS_STUB_IPV4));
	mapjson_dns_free(&d);
}

static void bad_entries_are_refused_with_a_reason(void)
{
	static const struct {
		const char *text, *reason;
		int rc;
	} bad[] = {
		{"[]", "not an object", WEFT_ERR_TYPE},
		{"{\"suffix\": \"Weft.Internal\"}", "not a DNS name",
		 WEFT_ERR_INVAL},
		{"{\"suffix\": \"weft.internal.\"}", "not a DNS name",
		 WEFT_ERR_INVAL},
		{"{\"suffix\": 7}", "suffix is not a string", WEFT_ERR_TYPE},
		{"{\"search\": \"yes\"}", "search: not a boolean",
		 WEFT_ERR_TYPE},
		{"{\"stub\": \"100.100.100.100\"}", "stub: not an object",
		 WEFT_ERR_TYPE},
		{"{\"stub\": {\"ipv4\": \"fd00::1\"}}", "ipv4 is not",
		 WEFT_ERR_INVAL},
		{"{\"stub\": {\"ipv6\": \"100.100.100.100\"}}", "ipv6 is not",
		 WEFT_ERR_INVAL},
		{"{\"split\": {}}", "split: not an array", WEFT_ERR_TYPE},
		{"{\"split\": [{\"domain\": \"corp.example\"}]}",
		 "split[0]: needs domain", WEFT_ERR_TYPE},
		{"{\"split\": [{\"domain\": \"corp.example\", \"upstreams\": "
		 "[]}]}", "split[0]: needs 1 to 8", WEFT_ERR_TOOBIG},
		{"{\"split\": [{\"domain\": \"-corp.example\", \"upstreams\": "
		 "[\"10.0.0.1\"]}]}", "split[0]: domain", WEFT_ERR_INVAL},
		{"{\"split\": [{\"domain\": \"corp.example\", \"upstreams\": "
		 "[\"10.0.0.1:0\"]}]}", "bad upstream \"10.0.0.1:0\"",
		 WEFT_ERR_INVAL},
		{"{\"split\": [{\"domain\": \"corp.example\", \"upstreams\": "
		 "[\"fd00::1:53\"]}, {\"domain\": \"x\", \"upstreams\": "
		 "[\"ns.example\"]}]}", "split[1]: bad upstream",
		 WEFT_ERR_INVAL},
		{"{\"split\": [{\"domain\": \"a.example\", \"upstreams\": "
		 "[\"10.0.0.1\"]}, {\"domain\": \"a.example\", \"upstreams\": "
		 "[\"10.0.0.2\"]}]}", "split[1]: domain given twice",
		 WEFT_ERR_INVAL},
		{"{\"suffix\": \"mesh.example\", \"split\": [{\"domain\": "
		 "\"x.mesh.example\", \"upstreams\": [\"10.0.0.1\"]}]}",
		 "mesh suffix", WEFT_ERR_INVAL},
		{"{\"upstreams\": [\"10.0.0.1\", 53]}", "not a string",
		 WEFT_ERR_TYPE},
		{"{\"upstreams\": [\"[10.0.0.1]:53\"]}", "bad upstream",
		 WEFT_ERR_INVAL},
		{"{\"records\": [{\"name\": \"a.example\", \"type\": \"MX\", "
		 "\"value\": \"10.0.0.1\"}]}", "records[0]: type is not A",
		 WEFT_ERR_INVAL},
		{"{\"records\": [{\"name\": \"a.example\", \"type\": \"AAAA\", "
		 "\"value\": \"10.0.0.1\"}]}", "records[0]: value",
		 WEFT_ERR_INVAL},
		{"{\"records\": [{\"name\": \"a..example\", \"type\": \"A\", "
		 "\"value\": \"10.0.0.1\"}]}", "records[0]: name",
		 WEFT_ERR_INVAL},
		{"{\"records\": [{\"name\": \"a.example\", \"type\": \"A\"}]}",
		 "must be strings", WEFT_ERR_TYPE},
		{"{\"resources\": [{\"name\": \"db\"}]}", "resources[0]",
		 WEFT_ERR_TYPE},
	};
	struct map_dns d;
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&d, 0x5a, sizeof(d));
		CHECK_INT(read_dns(bad[i].text, &d, err, sizeof(err)),
			  bad[i].rc);
		if (!strstr(err, bad[i].reason))
			check_report(false, __FILE__, __LINE__,
				     "case %zu: reason \"%s\" lacks \"%s\"", i,
				     err, bad[i].reason);
	}
}

static void limits_are_enforced(void)
{
	char text[16384], *p = text;
	struct map_dns d;
	char err[200];
	size_t i;

	p += sprintf(p, "{\"upstreams\": [");
	for (i = 0; i <= DNS_MAX_UPSTREAMS; i++)
		p += sprintf(p, "%s\"10.0.0.%zu\"", i ? "," : "", i + 1);
	sprintf(p, "]}");
	CHECK_INT(read_dns(text, &d, err, sizeof(err)), WEFT_ERR_TOOBIG);
	p = text;
	p += sprintf(p, "{\"split\": [");
	for (i = 0; i <= DNS_MAX_SPLIT; i++)
		p += sprintf(p, "%s{\"domain\": \"d%zu.example\", "
			     "\"upstreams\": [\"10.0.0.1\"]}", i ? "," : "", i);
	sprintf(p, "]}");
	CHECK_INT(read_dns(text, &d, err, sizeof(err)), WEFT_ERR_TOOBIG);
	/* Exactly at the limit is fine. */
	p = strrchr(text, '{');
	strcpy(p - 1, "]}");
	REQUIRE_INT(read_dns(text, &d, err, sizeof(err)), 0);
	CHECK_INT(d.nsplit, DNS_MAX_SPLIT);
	mapjson_dns_free(&d);
}

/* Through map_apply: a refused dns part refuses the whole answer and the
 * map keeps its part; a delta replaces it. */
static void map_keeps_its_part_when_a_dns_part_is_refused(void)
{
	struct map *m;
	json_t *a;
	char err[200];

	REQUIRE_INT(map_new(&m), 0);
	a = json_loads("{\"version\": 1, \"full\": true, \"peers\": [], "
		       "\"dns\": {\"suffix\": \"weft.internal\", \"upstreams\":"
		       " [\"192.0.2.53:5353\"]}}", 0, NULL);
	REQUIRE_INT(map_apply(m, a, NULL, err, sizeof(err)), 0);
	json_decref(a);
	REQUIRE(map_dns(m) != NULL);
	REQUIRE_INT(map_dns(m)->nupstreams, 1);
	CHECK_INT(map_dns(m)->upstreams[0].port, 5353);
	a = json_loads("{\"version\": 2, \"full\": false, \"dns\": "
		       "{\"records\": [{\"name\": \"x\", \"type\": \"TXT\", "
		       "\"value\": \"\"}]}}", 0, NULL);
	CHECK_INT(map_apply(m, a, NULL, err, sizeof(err)), WEFT_ERR_INVAL);
	json_decref(a);
	CHECK(strstr(err, "records[0]") != NULL);
	CHECK_INT(map_dns(m)->nupstreams, 1);
	map_del(m);
}

static const struct check_case cases[] = {
	CHECK_CASE(full_part_is_typed),
	CHECK_CASE(older_part_gets_defaults),
	CHECK_CASE(bad_entries_are_refused_with_a_reason),
	CHECK_CASE(limits_are_enforced),
	CHECK_CASE(map_keeps_its_part_when_a_dns_part_is_refused),
	{0},
};

int main(int argc, char **argv)
{
	int rc = check_main(argc, argv, cases);

	json_decref(held);
	return rc;
}
