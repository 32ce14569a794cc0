/* agent/streamfwd: --forward values and their targets in the map. */
#include "agent/map.h"
#include "agent/streamfwd.h"

#include "check.h"
#include "shared/err.h"

#include <jansson.h>
#include <string.h>

#define KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define PEER(id, name, ip, ip6)                                              \
	"{\"id\": " #id ", \"name\": \"" name "\", \"dns_name\": \"" name     \
	".weft.internal.\", \"public_key\": \"" KEY "\", \"ipv4\": " ip      \
	", \"ipv6\": \"" ip6 "\", \"allowed_ips\": [], \"endpoints\": [], "    \
	"\"home_relay\": null, \"online\": true, \"last_seen\": null, "       \
	"\"tags\": [], \"user\": \"alice\"}"

static const char map_text[] =
	"{\"version\": 1, \"full\": true, \"self\": {\"id\": 1, \"name\": "
	"\"me\", \"ipv4\": \"100.64.0.1\", \"ipv6\": \"fd7a:115c:a1e0::1\", "
	"\"tags\": [], \"user\": \"alice\"}, \"peers\": ["
	PEER(2, "db", "\"100.64.0.2\"", "fd7a:115c:a1e0::2") ","
	PEER(3, "v6only", "null", "fd7a:115c:a1e0::3") "],"
	"\"filter\": [], \"dns\": {\"suffix\": \"weft.internal\", "
	"\"resources\": []}, \"relays\": []}";

static void parses_forwards(void)
{
	struct streamfwd_spec s;
	char err[256], a[IP_ADDR_STRLEN + 8];

	CHECK_INT(streamfwd_parse("127.0.0.1:5432=db:5432", &s, err,
				  sizeof(err)), 0);
	ip_endpoint_format(&s.listen, a, sizeof(a));
	CHECK_STR(a, "127.0.0.1:5432");
	CHECK_STR(s.target, "db");
	CHECK_INT(s.port, 5432);
	CHECK_INT(streamfwd_parse("[::1]:80=[fd7a:115c:a1e0::2]:8080", &s,
				  err, sizeof(err)), 0);
	ip_endpoint_format(&s.listen, a, sizeof(a));
	CHECK_STR(a, "[::1]:80");
	CHECK_STR(s.target, "fd7a:115c:a1e0::2");
	CHECK_INT(s.port, 8080);
	CHECK_INT(streamfwd_parse("127.0.0.1:1=100.64.0.2:65535", &s, err,
				  sizeof(err)), 0);
	CHECK_STR(s.target, "100.64.0.2");
}

static void rejects_bad_forwards(void)
{
	static const char *const bad[] = {
		"127.0.0.1:5432",          /* no target */
		"localhost:5432=db:5432",  /* listen needs an address */
		"127.0.0.1=db:5432",       /* listen needs a port */
		"127.0.0.1:5432=db",       /* target needs a port */
		"127.0.0.1:5432=db:0",
		"127.0.0.1:5432=db:65536",
		"127.0.0.1:5432=db:05432",
		"127.0.0.1:5432=db:54x",
		"127.0.0.1:5432=:5432",
		"127.0.0.1:5432=fd00::1:5432", /* IPv6 needs brackets */
		"127.0.0.1:5432=d b:5432",
		"127.0.0.1:5432=d/b:5432",
		"127.0.0.1:5432=[]:5432",
	};
	struct streamfwd_spec s;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_INT(streamfwd_parse(bad[i], &s, err, sizeof(err)),
			  WEFT_ERR_PARSE);
		CHECK(strstr(err, "--forward") != NULL);
	}
}

static void resolves_names_and_addresses(void)
{
	struct map *m = NULL;
	json_error_t je;
	json_t *j = json_loads(map_text, 0, &je);
	char host[IP_ADDR_STRLEN];

	REQUIRE(j != NULL);
	REQUIRE_INT(map_new(&m), 0);
	REQUIRE_INT(map_apply(m, j, NULL, NULL, 0), 0);
	CHECK_INT(streamfwd_resolve(m, "db", host), 2);
	CHECK_STR(host, "100.64.0.2");
	CHECK_INT(streamfwd_resolve(m, "DB.", host), 2);
	CHECK_INT(streamfwd_resolve(m, "db.weft.internal", host), 2);
	CHECK_INT(streamfwd_resolve(m, "db.weft.internal.", host), 2);
	CHECK_INT(streamfwd_resolve(m, "fd7a:115c:a1e0::2", host), 2);
	CHECK_STR(host, "fd7a:115c:a1e0::2");
	CHECK_INT(streamfwd_resolve(m, "100.64.0.2", host), 2);
	CHECK_INT(streamfwd_resolve(m, "v6only", host), 3);
	CHECK_STR(host, "fd7a:115c:a1e0::3");
	CHECK_INT(streamfwd_resolve(m, "me", host), 0);
	CHECK_INT(streamfwd_resolve(m, "100.64.0.1", host), 0);
	CHECK_INT(streamfwd_resolve(m, "d", host), 0);
	CHECK_INT(streamfwd_resolve(m, ".", host), 0);
	json_decref(j);
	map_del(m);
}

static const struct check_case cases[] = {
	CHECK_CASE(parses_forwards),
	CHECK_CASE(rejects_bad_forwards),
	CHECK_CASE(resolves_names_and_addresses),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
