/* agent/resolver: lookups against DNS servers on real UDP sockets on
 * 127.0.0.1, answering with the shared codec (or not at all). */
#include "agent/resolver.h"
#include "check.h"
#include "shared/dnswire.h"
#include "shared/err.h"
#include "shared/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum mode { ANSWER, SILENT, SERVFAIL, NXDOMAIN, WRONG_ID_FIRST };

struct server {
	int fd;
	enum mode mode;
	int queries;
	struct ip_endpoint ep;
	struct loop_io *io;
};

struct result {
	bool done;
	int calls;
	int status;
	size_t n;
	struct ip_addr addrs[RESOLVER_ADDRS_MAX];
	uint32_t ttl;
};

static void answer(struct server *s, const uint8_t *p, size_t n,
		   const struct sockaddr_storage *from, socklen_t fl)
{
	struct dns_msg *q = calloc(1, sizeof(*q));
	struct dns_answer an[2];
	struct dns_reply r = {.max_size = 1232, .edns_udp_size = 1232,
			      .answers = an};
	uint8_t buf[1500];
	int len;

	CHECK(q != NULL);
	CHECK_INT(dnswire_parse(p, n, q), 0);
	memset(an, 0, sizeof(an));
	r.rcode = s->mode == SERVFAIL ? DNS_RCODE_SERVFAIL :
		  s->mode == NXDOMAIN ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR;
	if (r.rcode == DNS_RCODE_NOERROR &&
	    strcmp(q->questions[0].name, "db.corp.test") == 0) {
		for (int i = 0; i < 2; i++) {
			strcpy(an[i].name, "db.corp.test");
			an[i].type = q->questions[0].type;
			an[i].ttl = 60 - (uint32_t)i * 20;
			ip_addr_parse(an[i].type == DNS_TYPE_A ? "10.9.0.5" :
								 "fd00::5",
				      &an[i].addr);
			an[i].addr.b[an[i].type == DNS_TYPE_A ? 3 : 15] +=
				(uint8_t)i;
		}
		r.n_answers = 2;
	}
	len = dnswire_response_build(q, &r, buf, sizeof(buf));
	CHECK(len > 0);
	if (s->mode == WRONG_ID_FIRST) {
		buf[0] ^= 0xff;
		sendto(s->fd, buf, (size_t)len, 0,
		       (const struct sockaddr *)from, fl);
		buf[0] ^= 0xff;
	}
	sendto(s->fd, buf, (size_t)len, 0, (const struct sockaddr *)from, fl);
	free(q);
}

static void on_query(struct loop_io *io, int fd, uint32_t revents, void *ctx)
{
	struct server *s = ctx;
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	uint8_t buf[1500];
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
			     (struct sockaddr *)&from, &fl);

	(void)io;
	(void)revents;
	if (n <= 0)
		return;
	s->queries++;
	if (s->mode != SILENT)
		answer(s, buf, (size_t)n, &from, fl);
}

static void server_start(struct loop *l, struct server *s, enum mode mode)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	CHECK(s->fd >= 0);
	CHECK_INT(bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	CHECK_INT(getsockname(s->fd, (struct sockaddr *)&sin, &sl), 0);
	CHECK_INT(ip_endpoint_from_sockaddr((struct sockaddr *)&sin, sl,
					    &s->ep),
		  0);
	CHECK_INT(loop_io_add(l, s->fd, LOOP_READ, on_query, s, &s->io), 0);
}

static void on_result(void *ctx, int status, const struct ip_addr *addrs,
		      size_t n, uint32_t ttl)
{
	struct result *res = ctx;

	res->done = true;
	res->calls++;
	res->status = status;
	res->n = n;
	memcpy(res->addrs, addrs ? addrs : res->addrs, n * sizeof(*addrs));
	res->ttl = ttl;
}

static void run_until(struct loop *l, struct result *res, int max_ms)
{
	for (int i = 0; i < max_ms / 10 && !res->done; i++)
		CHECK_INT(loop_run_once(l, 10), 0);
}

/* Resolves name/type against servers (modes), timeout 150 ms, 2 rounds. */
static struct result lookup(const enum mode *modes, size_t n_servers,
			    const char *name, uint16_t type, int *queries)
{
	struct server s[RESOLVER_SERVERS_MAX];
	struct resolver_conf conf = {.timeout_ms = 150, .attempts = 2};
	struct result res = {0};
	struct resolver *r = NULL;
	struct loop *l = NULL;

	CHECK_INT(loop_new(&l), 0);
	for (size_t i = 0; i < n_servers; i++) {
		server_start(l, &s[i], modes[i]);
		conf.servers[i] = s[i].ep;
	}
	conf.n_servers = n_servers;
	CHECK_INT(resolver_new(l, &conf, &r), 0);
	CHECK_INT(resolver_query(r, name, type, on_result, &res, NULL), 0);
	CHECK(!res.done);
	run_until(l, &res, 3000);
	CHECK_INT(res.calls, 1);
	for (size_t i = 0; i < n_servers; i++) {
		queries[i] = s[i].queries;
		loop_io_close(s[i].io, true);
	}
	resolver_del(r);
	loop_del(l);
	return res;
}

static void resolves_a_and_aaaa_with_the_smallest_ttl(void)
{
	enum mode m[] = {ANSWER};
	int queries[1];
	struct ip_addr want;
	struct result res = lookup(m, 1, "DB.corp.test", DNS_TYPE_A, queries);

	CHECK_INT(res.status, 0);
	CHECK_INT((int)res.n, 2);
	CHECK_INT((int)res.ttl, 40);
	ip_addr_parse("10.9.0.5", &want);
	CHECK(ip_addr_eq(&res.addrs[0], &want));
	res = lookup(m, 1, "db.corp.test", DNS_TYPE_AAAA, queries);
	CHECK_INT(res.status, 0);
	ip_addr_parse("fd00::6", &want);
	CHECK(ip_addr_eq(&res.addrs[1], &want));
	CHECK_INT(queries[0], 1);
}

static void unknown_names_and_nxdomain_are_not_found(void)
{
	enum mode ok[] = {ANSWER}, nx[] = {NXDOMAIN, ANSWER};
	int queries[2];
	struct result res = lookup(ok, 1, "other.corp.test", DNS_TYPE_A,
				   queries);

	CHECK_INT(res.status, WEFT_ERR_NOTFOUND);
	CHECK_INT((int)res.n, 0);
	/* NXDOMAIN is final: the second server is not asked. */
	res = lookup(nx, 2, "db.corp.test", DNS_TYPE_A, queries);
	CHECK_INT(res.status, WEFT_ERR_NOTFOUND);
	CHECK_INT(queries[1], 0);
}

static void a_silent_server_is_skipped_after_its_timeout(void)
{
	enum mode m[] = {SILENT, ANSWER};
	int queries[2];
	struct result res = lookup(m, 2, "db.corp.test", DNS_TYPE_A, queries);

	CHECK_INT(res.status, 0);
	CHECK_INT(queries[0], 1);
	CHECK_INT(queries[1], 1);
}

static void servfail_moves_to_the_next_server_at_once(void)
{
	enum mode m[] = {SERVFAIL, ANSWER};
	int queries[2];
	struct result res = lookup(m, 2, "db.corp.test", DNS_TYPE_A, queries);

	CHECK_INT(res.status, 0);
	CHECK_INT(queries[0], 1);
}

static void only_failures_end_in_timeout_or_proto(void)
{
	enum mode silent[] = {SILENT, SILENT}, bad[] = {SERVFAIL};
	int queries[2];
	struct result res = lookup(silent, 2, "db.corp.test", DNS_TYPE_A,
				   queries);

	CHECK_INT(res.status, WEFT_ERR_TIMEOUT);
	CHECK_INT(queries[0], 2); /* two rounds */
	CHECK_INT(queries[1], 2);
	res = lookup(bad, 1, "db.corp.test", DNS_TYPE_A, queries);
	CHECK_INT(res.status, WEFT_ERR_PROTO);
	CHECK_INT(queries[0], 2);
}

static void an_answer_with_another_id_is_ignored(void)
{
	enum mode m[] = {WRONG_ID_FIRST};
	int queries[1];
	struct result res = lookup(m, 1, "db.corp.test", DNS_TYPE_A, queries);

	CHECK_INT(res.status, 0);
	CHECK_INT(queries[0], 1);
}

static void cancelled_and_deleted_queries_never_call_back(void)
{
	struct server s;
	struct resolver_conf conf = {.timeout_ms = 50, .attempts = 1};
	struct result a = {0}, b = {0};
	struct resolver_query *qa = NULL;
	struct resolver *r = NULL;
	struct loop *l = NULL;

	CHECK_INT(loop_new(&l), 0);
	server_start(l, &s, SILENT);
	conf.servers[0] = s.ep;
	conf.n_servers = 1;
	CHECK_INT(resolver_new(l, &conf, &r), 0);
	CHECK_INT(resolver_query(r, "db.corp.test", DNS_TYPE_A, on_result, &a,
				 &qa),
		  0);
	CHECK_INT(resolver_query(r, "db.corp.test", DNS_TYPE_A, on_result, &b,
				 NULL),
		  0);
	resolver_cancel(qa);
	CHECK_INT(loop_run_once(l, 10), 0);
	resolver_del(r);
	for (int i = 0; i < 10; i++)
		CHECK_INT(loop_run_once(l, 10), 0);
	CHECK_INT(a.calls + b.calls, 0);
	CHECK_INT(resolver_query(NULL, "a..b", DNS_TYPE_A, on_result, &a,
				 NULL),
		  WEFT_ERR_INVAL);
	loop_io_close(s.io, true);
	loop_del(l);
}

static void parses_resolv_conf(void)
{
	struct resolver_conf c;
	char buf[IP_ENDPOINT_STRLEN];

	resolver_conf_parse("# generated\nsearch corp.test\n"
			    "nameserver 10.9.0.53 ; site DNS\n"
			    "nameserver fd00::53\n"
			    "nameserver fe80::1%eth0\n"
			    "nameserver 10.0.0.2\nnameserver 10.0.0.3\n"
			    "options ndots:2 timeout:1 attempts:9\n",
			    &c);
	CHECK_INT((int)c.n_servers, 3);
	ip_endpoint_format(&c.servers[0], buf, sizeof(buf));
	CHECK_STR(buf, "10.9.0.53:53");
	ip_endpoint_format(&c.servers[1], buf, sizeof(buf));
	CHECK_STR(buf, "[fd00::53]:53");
	ip_endpoint_format(&c.servers[2], buf, sizeof(buf));
	CHECK_STR(buf, "10.0.0.2:53");
	CHECK_INT(c.timeout_ms, 1000);
	CHECK_INT(c.attempts, 5);
	resolver_conf_parse("", &c);
	CHECK_INT((int)c.n_servers, 1);
	ip_endpoint_format(&c.servers[0], buf, sizeof(buf));
	CHECK_STR(buf, "127.0.0.1:53");
	CHECK_INT(c.timeout_ms, 5000);
	CHECK_INT(c.attempts, 2);
	CHECK(resolver_conf_load("/nonexistent/resolv.conf", &c) == -ENOENT);
}

static const struct check_case cases[] = {
	CHECK_CASE(resolves_a_and_aaaa_with_the_smallest_ttl),
	CHECK_CASE(unknown_names_and_nxdomain_are_not_found),
	CHECK_CASE(a_silent_server_is_skipped_after_its_timeout),
	CHECK_CASE(servfail_moves_to_the_next_server_at_once),
	CHECK_CASE(only_failures_end_in_timeout_or_proto),
	CHECK_CASE(an_answer_with_another_id_is_ignored),
	CHECK_CASE(cancelled_and_deleted_queries_never_call_back),
	CHECK_CASE(parses_resolv_conf),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
