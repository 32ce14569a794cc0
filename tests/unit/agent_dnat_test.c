/* agent/dnat: the connector's translation of DNS and wildcard resources,
 * with a DNS server on a real UDP socket on 127.0.0.1 and the nft
 * scripts collected instead of run (the table itself is exercised
 * against a real kernel in tests/netns/dns_resource_test.sh). */
#include "agent/dnat.h"
#include "agent/wildcard.h"
#include "check.h"
#include "shared/dnswire.h"
#include "shared/err.h"
#include "shared/loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The site's DNS: db.corp.test and x.wild.test have one A record (real,
 * TTL 1), other names NXDOMAIN, AAAA questions get no answer. */
struct site {
	int fd;
	struct loop_io *io;
	struct ip_endpoint ep;
	char real[IP_ADDR_STRLEN];
};

static void on_query(struct loop_io *io, int fd, uint32_t revents, void *ctx)
{
	struct site *s = ctx;
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	uint8_t buf[1500];
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
			     (struct sockaddr *)&from, &fl);
	struct dns_msg *q = calloc(1, sizeof(*q));
	struct dns_answer an;
	struct dns_reply r = {.max_size = 1232, .answers = &an};
	const char *name;
	int len;

	(void)io;
	(void)revents;
	if (n <= 0 || !q || dnswire_parse(buf, (size_t)n, q) < 0) {
		free(q);
		return;
	}
	name = q->questions[0].name;
	memset(&an, 0, sizeof(an));
	if (strcmp(name, "db.corp.test") != 0 &&
	    strcmp(name, "x.wild.test") != 0) {
		r.rcode = DNS_RCODE_NXDOMAIN;
	} else if (q->questions[0].type == DNS_TYPE_A) {
		snprintf(an.name, sizeof(an.name), "%s", name);
		an.type = DNS_TYPE_A;
		an.ttl = 1;
		ip_addr_parse(s->real, &an.addr);
		r.n_answers = 1;
	}
	len = dnswire_response_build(q, &r, buf, sizeof(buf));
	if (len > 0)
		sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&from, fl);
	free(q);
}

static void site_start(struct loop *l, struct site *s)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);

	memset(s, 0, sizeof(*s));
	snprintf(s->real, sizeof(s->real), "10.9.0.5");
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	REQUIRE(s->fd >= 0);
	REQUIRE_INT(bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	REQUIRE_INT(getsockname(s->fd, (struct sockaddr *)&sin, &sl), 0);
	REQUIRE_INT(ip_endpoint_from_sockaddr((struct sockaddr *)&sin, sl,
					      &s->ep), 0);
	REQUIRE_INT(loop_io_add(l, s->fd, LOOP_READ, on_query, s, &s->io), 0);
}

/* What the translator asked nft to do, all scripts one after another. */
struct nft_log {
	char text[16384];
	size_t len;
};

static int run(void *ctx, const char *script, char *err, size_t errlen)
{
	struct nft_log *g = ctx;
	int n = snprintf(g->text + g->len, sizeof(g->text) - g->len, "%s",
			 script);

	(void)err;
	(void)errlen;
	if (n > 0 && (size_t)n < sizeof(g->text) - g->len)
		g->len += (size_t)n;
	return 0;
}

struct lab {
	struct loop *l;
	struct site site;
	struct nft_log nft;
	struct map *m;
	struct dnat *d;
};

#define KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define PEER(id, ip)                                                        \
	"{\"id\": " #id ", \"name\": \"n" #id "\", \"public_key\": \"" KEY   \
	"\", \"ipv4\": \"" ip "\", \"ipv6\": \"fd7a:115c:a1e0::" #id "\", "  \
	"\"allowed_ips\": [\"" ip "/32\"], \"endpoints\": [], "              \
	"\"home_relay\": null, \"online\": true}"

/* Connector 1 serves db, gone and wild; the filter lets 100.64.0.2 (not
 * 100.64.0.3) reach wild's block. */
static const char map_json[] =
	"{\"version\": 3, \"full\": true, \"self\": {\"id\": 1, \"name\": "
	"\"c\", \"ipv4\": \"100.64.0.1\", \"ipv6\": \"fd7a:115c:a1e0::1\"}, "
	"\"peers\": [" PEER(2, "100.64.0.2") ", " PEER(3, "100.64.0.3") "], "
	"\"filter\": [{\"proto\": \"tcp\", \"src\": [\"100.64.0.2/32\"], "
	"\"dst\": [{\"prefix\": \"100.104.0.0/24\", \"ports\": \"*\"}]}, "
	"{\"proto\": \"tcp\", \"src\": [\"100.64.0.3/32\"], "
	"\"dst\": [{\"prefix\": \"100.96.0.1/32\", \"ports\": \"*\"}]}], "
	"\"serves\": ["
	"{\"id\": 1, \"name\": \"db\", \"type\": \"dns\", \"address\": "
	"\"db.corp.test\", \"prefixes\": [\"100.96.0.1/32\", "
	"\"fd7a:115c:a1e0:ffff::6460:1/128\"], \"filters\": []}, "
	"{\"id\": 2, \"name\": \"gone\", \"type\": \"dns\", \"address\": "
	"\"gone.corp.test\", \"prefixes\": [\"100.96.0.2/32\"], "
	"\"filters\": []}, "
	"{\"id\": 3, \"name\": \"wild\", \"type\": \"wildcard\", \"address\": "
	"\"*.wild.test\", \"prefixes\": [\"100.104.0.0/24\", "
	"\"fd7a:115c:a1e0:ffff::6468:0/120\"], \"filters\": []}]}";

static void lab_up(struct lab *b)
{
	struct resolver_conf rc = {.n_servers = 1, .timeout_ms = 500,
				   .attempts = 1};
	struct dnat_cfg cfg = {.table = "weft_t", .conf = &rc, .run = run};
	const struct map_res *v;
	json_t *j;
	size_t n;

	memset(b, 0, sizeof(*b));
	REQUIRE_INT(loop_new(&b->l), 0);
	site_start(b->l, &b->site);
	rc.servers[0] = b->site.ep;
	cfg.loop = b->l;
	cfg.ctx = &b->nft;
	REQUIRE_INT(map_new(&b->m), 0);
	j = json_loads(map_json, 0, NULL);
	REQUIRE(j != NULL);
	REQUIRE_INT(map_apply(b->m, j, NULL, NULL, 0), 0);
	json_decref(j);
	REQUIRE_INT(dnat_new(&cfg, &b->d), 0);
	v = map_serves(b->m, &n);
	REQUIRE_INT(n, 3);
	dnat_set_serves(b->d, v, n);
}

static void lab_down(struct lab *b)
{
	dnat_del(b->d);
	map_del(b->m);
	loop_io_close(b->site.io, true);
	loop_del(b->l);
}

/* Runs the loop until the scripts hold want, for at most ms. */
static bool wait_for(struct lab *b, const char *want, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (strstr(b->nft.text, want))
			return true;
		loop_run_once(b->l, 10);
	}
	return strstr(b->nft.text, want) != NULL;
}

static void names_are_translated_and_follow_their_ttl(void)
{
	struct lab b;

	lab_up(&b);
	CHECK(strstr(b.nft.text, "flush set inet weft_t mapped4\n") != NULL);
	CHECK(strstr(b.nft.text, "add element inet weft_t mapped4 { "
				 "100.96.0.1/32, 100.96.0.2/32, "
				 "100.104.0.0/24 }\n") != NULL);
	CHECK(wait_for(&b, "add element inet weft_t dnat4 { 100.96.0.1 : "
			   "10.9.0.5 }\n", 2000));
	/* No AAAA record: rejected like a name that does not exist. */
	CHECK(wait_for(&b, "add element inet weft_t nx6 { "
			   "fd7a:115c:a1e0:ffff::6460:1 }\n", 2000));
	CHECK(wait_for(&b, "add element inet weft_t nx4 { 100.96.0.2 }\n",
		       2000));
	/* The site moves the name: after the TTL (1 s) the element is
	 * replaced in one script. */
	snprintf(b.site.real, sizeof(b.site.real), "10.9.0.6");
	CHECK(wait_for(&b, "delete element inet weft_t dnat4 { 100.96.0.1 }\n"
			   "add element inet weft_t dnat4 { 100.96.0.1 : "
			   "10.9.0.6 }\n", 3000));
	lab_down(&b);
}

static void message(struct lab *b, const char *src, int64_t id,
		    const char *addr, const char *name)
{
	struct wildcard_entry e = {.id = id};
	struct ip_addr s;
	uint8_t buf[WILDCARD_MSG_MAX];
	int len;

	ip_addr_parse(src, &s);
	ip_addr_parse(addr, &e.addr);
	snprintf(e.name, sizeof(e.name), "%s", name);
	len = wildcard_msg_build(&e, 1, buf, sizeof(buf));
	REQUIRE(len > 0);
	dnat_on_message(b->d, b->m, &s, buf, (size_t)len);
}

static json_int_t field(const struct dnat *d, const char *key)
{
	json_t *j = dnat_json(d);
	json_int_t v = json_integer_value(json_object_get(j, key));

	json_decref(j);
	return v;
}

static void wildcard_names_are_taken_from_granted_clients_only(void)
{
	struct lab b;
	static const uint8_t junk[] = "WFW1\x01garbage";
	struct ip_addr s;

	lab_up(&b);
	message(&b, "100.64.0.2", 3, "100.104.0.26", "x.wild.test");
	CHECK(wait_for(&b, "add element inet weft_t wdnat4 { 100.64.0.2 . "
			   "100.104.0.26 : 10.9.0.5 }\n", 2000));
	/* Its IPv6 twin: the client's IPv6 address, the same host byte. */
	CHECK(wait_for(&b, "add element inet weft_t wnx6 { "
			   "fd7a:115c:a1e0::2 . fd7a:115c:a1e0:ffff::6468:1a "
			   "}\n", 2000));
	CHECK_INT(field(b.d, "messages"), 1);
	CHECK_INT(field(b.d, "refused"), 0);
	/* Told again: nothing new. */
	message(&b, "100.64.0.2", 3, "100.104.0.26", "x.wild.test");
	CHECK_INT(field(b.d, "refused"), 0);

	message(&b, "100.64.0.3", 3, "100.104.0.27", "y.wild.test");
	message(&b, "100.64.0.2", 3, "100.104.0.28", "y.other.test");
	message(&b, "100.64.0.2", 3, "100.105.0.1", "y.wild.test");
	message(&b, "100.64.0.2", 1, "100.96.0.1", "db.corp.test");
	message(&b, "100.64.0.2", 99, "100.104.0.29", "y.wild.test");
	ip_addr_parse("100.64.0.2", &s);
	dnat_on_message(b.d, b.m, &s, junk, sizeof(junk) - 1);
	CHECK_INT(field(b.d, "refused"), 6);
	loop_run_once(b.l, 50);
	CHECK(strstr(b.nft.text, "100.104.0.27") == NULL);
	CHECK(strstr(b.nft.text, "100.104.0.28") == NULL);
	CHECK(strstr(b.nft.text, "100.105.0.1") == NULL);
	CHECK(strstr(b.nft.text, "100.104.0.29") == NULL);
	lab_down(&b);
}

static void names_of_resources_no_longer_served_go(void)
{
	struct lab b;
	json_t *j;

	lab_up(&b);
	REQUIRE(wait_for(&b, "dnat4 { 100.96.0.1 : 10.9.0.5 }\n", 2000));
	b.nft.len = 0;
	b.nft.text[0] = '\0';
	dnat_set_serves(b.d, NULL, 0);
	CHECK(strstr(b.nft.text, "delete element inet weft_t dnat4 { "
				 "100.96.0.1 }\n") != NULL);
	CHECK(strstr(b.nft.text, "add element inet weft_t mapped4") == NULL);
	j = dnat_json(b.d);
	CHECK_INT(json_array_size(json_object_get(j, "names")), 0);
	json_decref(j);
	lab_down(&b);
}

static const struct check_case cases[] = {
	CHECK_CASE(names_are_translated_and_follow_their_ttl),
	CHECK_CASE(wildcard_names_are_taken_from_granted_clients_only),
	CHECK_CASE(names_of_resources_no_longer_served_go),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
