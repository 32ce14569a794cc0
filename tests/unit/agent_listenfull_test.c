/* The agent's local API and DNS stub TCP listeners when the process runs
 * out of descriptors (agent/listenpause.h): clients queue, the listener
 * pauses instead of waking the loop again at once (the loop turns only
 * at its timeout and the back-off retries), and every queued client is
 * served once descriptors are free again. Real localapi and dnsstub
 * objects on a real loop, real sockets, the process's own
 * RLIMIT_NOFILE. */
#include "agent/dnsstatus.h"
#include "agent/dnsstub.h"
#include "agent/localapi.h"
#include "agent/map.h"

#include "check.h"
#include "shared/buf.h"
#include "shared/clock.h"
#include "shared/dnswire.h"
#include "shared/loop.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CLIENTS 3
/* How long the test keeps the process out of descriptors, and how many
 * loop turns (each at most TURN_MS) that may take: TURNS_MAX leaves room
 * for the back-off's retries; a spinning listener turns thousands of
 * times. */
#define STARVE_MS 450
#define TURN_MS 20
#define TURNS_MAX (STARVE_MS / TURN_MS + 15)

/* Lowers RLIMIT_NOFILE to the lowest free descriptor: the next accept
 * fails with EMFILE. *old gets the limit to restore. */
static void starve(struct rlimit *old)
{
	struct rlimit low;
	int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);

	REQUIRE(probe >= 0);
	close(probe);
	REQUIRE_INT(getrlimit(RLIMIT_NOFILE, old), 0);
	low = *old;
	low.rlim_cur = (rlim_t)probe;
	REQUIRE_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
}

/* Runs the loop for ms; returns how many times it turned. */
static int turns_for(struct loop *l, int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;
	int n = 0;

	while (clock_mono_ms() < end) {
		loop_run_once(l, TURN_MS);
		n++;
	}
	return n;
}

/* Runs the loop until every client fd has something to read, at most
 * ms. Returns whether they all have. */
static bool run_until_readable(struct loop *l, const int *fd, int n,
			       int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;

	while (clock_mono_ms() < end) {
		int ready = 0;

		loop_run_once(l, TURN_MS);
		for (int i = 0; i < n; i++) {
			struct pollfd p = {.fd = fd[i], .events = POLLIN};

			ready += poll(&p, 1, 0) == 1;
		}
		if (ready == n)
			return true;
	}
	return false;
}

/* Starves the process of descriptors for STARVE_MS while clients wait
 * on l: checks the loop did not spin. */
static void starve_and_check(struct loop *l)
{
	struct rlimit old;
	struct rusage r0, r1;
	int turns;
	long cpu_ms;

	getrusage(RUSAGE_SELF, &r0);
	starve(&old);
	turns = turns_for(l, STARVE_MS);
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
	getrusage(RUSAGE_SELF, &r1);
	cpu_ms = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec +
		  r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000 +
		 (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
		  r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1000;
	printf("out of descriptors for %d ms: %d loop turns, %ld ms CPU\n",
	       STARVE_MS, turns, cpu_ms);
	CHECK(turns <= TURNS_MAX);
}

static json_t *answer(const char *cmd, const json_t *req, void *ctx)
{
	(void)req;
	(void)ctx;
	return json_pack("{s:s}", "cmd", cmd);
}

static void localapi_pauses_and_serves_again(void)
{
	static const char req[] = "{\"cmd\": \"status\"}\n";
	char dir[] = "/tmp/weft-listenfull-XXXXXX", path[64], got[64];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct localapi *a = NULL;
	struct loop *l = NULL;
	int cl[CLIENTS];
	ssize_t n;

	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	REQUIRE_INT(loop_new(&l), 0);
	REQUIRE_INT(localapi_new(l, path, answer, NULL, &a), 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (int i = 0; i < CLIENTS; i++) {
		cl[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		REQUIRE(cl[i] >= 0);
		CHECK_INT(connect(cl[i], (struct sockaddr *)&sa, sizeof(sa)),
			  0);
		CHECK(send(cl[i], req, sizeof(req) - 1, 0) ==
		      (ssize_t)sizeof(req) - 1);
	}

	starve_and_check(l);

	/* Descriptors again: the next retry takes and answers all three. */
	CHECK(run_until_readable(l, cl, CLIENTS, 2000));
	for (int i = 0; i < CLIENTS; i++) {
		n = recv(cl[i], got, sizeof(got) - 1, MSG_DONTWAIT);
		CHECK(n > 0);
		got[n > 0 ? n : 0] = '\0';
		CHECK_STR(got, "{\"cmd\":\"status\"}\n");
		close(cl[i]);
	}
	localapi_del(a);
	loop_del(l);
	rmdir(dir);
}

/* A free TCP port on 127.0.0.1 (the stub binds UDP and TCP on one). */
static void free_port(uint16_t *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(fd >= 0);
	REQUIRE_INT(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	REQUIRE_INT(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	*port = ntohs(sin.sin_port);
}

static void dnsstub_pauses_and_serves_again(void)
{
	struct ip_endpoint at = {.addr = {.family = AF_INET}};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct dnsstub *s = NULL;
	struct dnsstub_stats st;
	struct map *m = NULL;
	struct loop *l = NULL;
	struct buf metrics;
	uint8_t q[2 + 512], got[2 + 512];
	int cl[CLIENTS], qlen;
	ssize_t n;

	REQUIRE_INT(loop_new(&l), 0);
	REQUIRE_INT(map_new(&m), 0);
	REQUIRE_INT(ip_addr_parse("127.0.0.1", &at.addr), 0);
	free_port(&at.port);
	{
		struct dnsstub_cfg cfg = {.loop = l, .listen = &at,
					  .nlisten = 1, .map = m};

		REQUIRE_INT(dnsstub_new(&cfg, &s), 0);
	}
	qlen = dnswire_query_build(7, "example.com", DNS_TYPE_A, 0, false,
				   q + 2, sizeof(q) - 2);
	REQUIRE(qlen > 0);
	q[0] = (uint8_t)(qlen >> 8);
	q[1] = (uint8_t)qlen;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(at.port);
	for (int i = 0; i < CLIENTS; i++) {
		cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		REQUIRE(cl[i] >= 0);
		CHECK_INT(connect(cl[i], (struct sockaddr *)&sin, sizeof(sin)),
			  0);
		CHECK(send(cl[i], q, (size_t)qlen + 2, 0) == qlen + 2);
	}

	starve_and_check(l);
	dnsstub_stats(s, &st);
	CHECK(st.tcp_paused >= 3 && st.tcp_paused <= 5);
	CHECK(st.tcp_conns == 0);

	/* Descriptors again: the next retry takes all three; with no
	 * upstream each is answered SERVFAIL at once. */
	CHECK(run_until_readable(l, cl, CLIENTS, 2000));
	for (int i = 0; i < CLIENTS; i++) {
		n = recv(cl[i], got, sizeof(got), MSG_DONTWAIT);
		CHECK(n > 4);
		if (n > 4)
			CHECK(got[2] == 0 && got[3] == 7); /* the query's id */
		close(cl[i]);
	}
	dnsstub_stats(s, &st);
	CHECK(st.queries == CLIENTS);

	/* The pauses are a counter of the stub's metrics. */
	buf_init(&metrics, 1 << 16);
	CHECK_INT(dnsstatus_metrics(&metrics, s), 0);
	CHECK_INT(buf_putc(&metrics, '\0'), 0);
	CHECK(metrics.data && strstr((const char *)metrics.data,
				     "weft_agent_dns_tcp_paused_total "));
	buf_free(&metrics);
	dnsstub_del(s);
	map_del(m);
	loop_del(l);
}

static const struct check_case cases[] = {
	CHECK_CASE(localapi_pauses_and_serves_again),
	CHECK_CASE(dnsstub_pauses_and_serves_again),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
