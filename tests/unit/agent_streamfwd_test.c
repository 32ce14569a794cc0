/* agent/streamfwd: --forward values and their targets in the map. */
#include "agent/map.h"
#include "agent/streamfwd.h"

#include "check.h"
#include "shared/err.h"
#include "shared/loop.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* A listening TCP socket on a free loopback port; *port gets it. */
static int listener(uint16_t *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static const json_t *entry(const json_t *list, size_t i, const char *key)
{
	return json_object_get(json_array_get(list, i), key);
}

static void adds_lists_and_removes_at_runtime(void)
{
	struct loop *l = NULL;
	struct streamfwd *f = NULL;
	char err[256], spec[64], spec2[64], addr[32];
	uint16_t p1, p2;
	int busy = listener(&p2), fd;
	json_t *list;

	REQUIRE(busy >= 0);
	fd = listener(&p1);
	REQUIRE(fd >= 0);
	close(fd); /* p1 is free now */
	snprintf(spec, sizeof(spec), "127.0.0.1:%u=db:80", (unsigned)p1);
	snprintf(spec2, sizeof(spec2), "127.0.0.1:%u=db:80", (unsigned)p2);
	CHECK_INT(loop_new(&l), 0);
	CHECK_INT(streamfwd_new(l, NULL, NULL, NULL, (const char *const[]){spec}, 1,
				&f, err, sizeof(err)),
		  0);

	list = streamfwd_list_json(f);
	CHECK_INT(json_array_size(list), 1);
	CHECK(json_is_true(entry(list, 0, "static")));
	CHECK_STR(json_string_value(entry(list, 0, "target")), "db:80");
	CHECK_INT(json_integer_value(entry(list, 0, "accepted")), 0);
	json_decref(list);

	/* The same listen address again, in another spelling too. */
	CHECK_INT(streamfwd_add(f, spec, false, err, sizeof(err)),
		  WEFT_ERR_EXISTS);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)p1);
	CHECK(strstr(err, addr) && strstr(err, "already"));
	/* An address another socket holds. */
	CHECK_INT(streamfwd_add(f, spec2, false, err, sizeof(err)),
		  -EADDRINUSE);
	CHECK(strstr(err, "cannot listen on 127.0.0.1:") != NULL);
	/* The parser's sentence. */
	CHECK_INT(streamfwd_add(f, "nonsense", false, err, sizeof(err)),
		  WEFT_ERR_PARSE);
	CHECK_STR(err, "--forward nonsense: want LISTEN=TARGET, like "
		       "127.0.0.1:5432=db:5432");

	/* Removing (a static one is allowed) frees the port. */
	CHECK_INT(streamfwd_remove(f, addr, err, sizeof(err)), 0);
	list = streamfwd_list_json(f);
	CHECK_INT(json_array_size(list), 0);
	json_decref(list);
	CHECK_INT(streamfwd_remove(f, addr, err, sizeof(err)),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(streamfwd_remove(f, "x", err, sizeof(err)), WEFT_ERR_PARSE);

	/* A runtime one, listed as not static, after the port was free. */
	close(busy);
	CHECK_INT(streamfwd_add(f, spec2, false, err, sizeof(err)), 0);
	CHECK_INT(streamfwd_add(f, spec, false, err, sizeof(err)), 0);
	list = streamfwd_list_json(f);
	CHECK_INT(json_array_size(list), 2);
	CHECK(json_is_false(entry(list, 0, "static")));
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)p2);
	CHECK_STR(json_string_value(entry(list, 0, "listen")), addr);
	json_decref(list);
	CHECK(streamfwd_pauses(f) == 0);
	streamfwd_del(f);
	loop_del(l);
}

static const struct check_case cases[] = {
	CHECK_CASE(adds_lists_and_removes_at_runtime),
	CHECK_CASE(parses_forwards),
	CHECK_CASE(rejects_bad_forwards),
	CHECK_CASE(resolves_names_and_addresses),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
