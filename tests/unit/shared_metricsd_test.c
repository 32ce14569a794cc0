/* shared/metricsd over real loopback sockets: the server runs in its own
 * loop thread, the test is an ordinary HTTP client, a flood of slow or
 * idle clients, or a slowloris that trickles bytes. */
#include "check.h"
#include "shared/err.h"
#include "shared/loop.h"
#include "shared/metricsd.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FLOOD 300

struct srv {
	struct loop *loop;
	struct metricsd *m;
	pthread_t thread;
	int port;
	int ready_b; /* whether check "b" holds; atomic access */
};

static int fill(struct buf *out, void *ctx)
{
	return metricsd_one(out, "test_up", "gauge", "Always 1.", 1);
}

static size_t ready(struct metricsd_check *ck, size_t cap, void *ctx)
{
	struct srv *s = ctx;

	if (cap < 2)
		return 0;
	ck[0] = (struct metricsd_check){"a", true};
	ck[1] = (struct metricsd_check){"b",
		__atomic_load_n(&s->ready_b, __ATOMIC_SEQ_CST) != 0};
	return 2;
}

static void *run(void *arg)
{
	struct srv *s = arg;

	loop_run(s->loop);
	return NULL;
}

static int srv_start(struct srv *s, bool with_ready)
{
	struct ip_endpoint e;
	int r;

	memset(s, 0, sizeof(*s));
	r = ip_endpoint_parse("127.0.0.1:1", &e);
	e.port = 0;
	if (r == 0)
		r = loop_new(&s->loop);
	if (r == 0)
		r = metricsd_new(s->loop, &e, fill, s, &s->m);
	if (r < 0)
		return r;
	if (with_ready)
		metricsd_set_ready(s->m, ready, s);
	s->port = metricsd_port(s->m);
	return pthread_create(&s->thread, NULL, run, s) == 0 ? 0 : -EIO;
}

static void srv_stop(struct srv *s)
{
	loop_stop(s->loop);
	pthread_join(s->thread, NULL);
	metricsd_del(s->m);
	loop_del(s->loop);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connected TCP socket to 127.0.0.1:port, or -1. */
static int dial(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return fd;
	close(fd);
	return -1;
}

/* Reads from fd until EOF or timeout_ms. Returns bytes read (0 for a
 * close without data), -ETIMEDOUT, or -errno (a reset). */
static int read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	size_t n = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		ssize_t k;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		k = recv(fd, buf + n, cap - 1 - n, 0);
		if (k < 0)
			return n ? (int)n : -errno;
		if (k == 0 || n + (size_t)k >= cap - 1) {
			n += (size_t)(k > 0 ? k : 0);
			buf[n] = '\0';
			return (int)n;
		}
		n += (size_t)k;
	}
}

/* GET path over a fresh connection (HTTP/1.0, so the server closes).
 * Returns the status code, 0 when the server closed without an answer,
 * or a negative code (-ETIMEDOUT when nothing came within timeout_ms).
 * body (may be NULL) gets what follows the head. */
static int get(int port, const char *path, int timeout_ms,
	       char *body, size_t cap)
{
	char buf[8192], req[256];
	int fd = dial(port), n, status = 0;
	char *p;

	if (fd < 0)
		return -errno;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		return 0;
	}
	n = read_all(fd, buf, sizeof(buf), timeout_ms);
	close(fd);
	if (n < 0)
		return n == -ETIMEDOUT ? n : 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return 0;
	p = strstr(buf, "\r\n\r\n");
	if (body && cap)
		snprintf(body, cap, "%s", p ? p + 4 : "");
	return status;
}

static void serves_metrics_healthz_and_404(void)
{
	struct srv s;
	char body[1024];

	REQUIRE_INT(srv_start(&s, false), 0);
	CHECK_INT(get(s.port, "/healthz", 5000, body, sizeof(body)),
		  200);
	CHECK_STR(body, "ok\n");
	CHECK_INT(get(s.port, "/metrics", 5000, body, sizeof(body)),
		  200);
	CHECK(strstr(body, "\ntest_up 1\n") != NULL);
	CHECK_INT(get(s.port, "/nope", 5000, NULL, 0), 404);
	/* No readiness callback: no /readyz. */
	CHECK_INT(get(s.port, "/readyz", 5000, NULL, 0), 404);
	srv_stop(&s);
}

static void readyz_names_what_is_missing(void)
{
	struct srv s;
	char body[1024];

	REQUIRE_INT(srv_start(&s, true), 0);
	CHECK_INT(get(s.port, "/readyz", 5000, body, sizeof(body)),
		  503);
	CHECK_STR(body, "{\"status\":\"not_ready\",\"missing\":[\"b\"],"
			"\"checks\":{\"a\":\"ok\",\"b\":\"missing\"}}");
	__atomic_store_n(&s.ready_b, 1, __ATOMIC_SEQ_CST);
	CHECK_INT(get(s.port, "/readyz", 5000, body, sizeof(body)),
		  200);
	CHECK_STR(body, "{\"status\":\"ready\",\"checks\":{\"a\":\"ok\","
			"\"b\":\"ok\"}}");
	srv_stop(&s);
}

/* Opens FLOOD connections that send partial (or no) request heads. */
static int flood(int port, int *fds, bool partial)
{
	static const char part[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
	int i;

	for (i = 0; i < FLOOD; i++) {
		fds[i] = dial(port);
		if (fds[i] < 0)
			return -1;
		if (partial)
			send(fds[i], part, sizeof(part) - 1, MSG_NOSIGNAL);
	}
	return 0;
}

/* The fault of issue 12: after FLOOD connections at the connection limit
 * closed, the server never accepted again. A fresh client during the
 * flood is served (or refused with an answer or a close, never left
 * hanging), and /healthz answers at once after the flood. */
static void survives_flood(bool partial)
{
	struct srv s;
	int fds[FLOOD], i, st;
	long long t0;

	REQUIRE_INT(srv_start(&s, false), 0);
	for (i = 0; i < FLOOD; i++)
		fds[i] = -1;
	CHECK_INT(flood(s.port, fds, partial), 0);
	st = get(s.port, "/healthz", 3000, NULL, 0);
	fprintf(stderr, "# during the flood: %d\n", st);
	CHECK(st == 200 || st == 503 || st == 0);
	usleep(1000 * 1000);
	for (i = 0; i < FLOOD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	t0 = now_ms();
	CHECK_INT(get(s.port, "/healthz", 3000, NULL, 0), 200);
	fprintf(stderr, "# after the flood: answered in %lld ms\n",
		now_ms() - t0);
	for (i = 0; i < 3; i++)
		CHECK_INT(get(s.port, "/metrics", 3000, NULL, 0), 200);
	srv_stop(&s);
}

static void answers_after_300_partial_requests_close(void)
{
	survives_flood(true);
}

static void answers_after_300_idle_connections_close(void)
{
	survives_flood(false);
}

/* Held open connections must not starve the server: a client arriving
 * while FLOOD idle connections stay open is still served, because it
 * evicts the oldest connection without a request. */
static void fresh_client_is_served_while_idle_connections_stay(void)
{
	struct srv s;
	int fds[FLOOD], i;

	REQUIRE_INT(srv_start(&s, false), 0);
	for (i = 0; i < FLOOD; i++)
		fds[i] = -1;
	CHECK_INT(flood(s.port, fds, false), 0);
	usleep(200 * 1000);
	for (i = 0; i < 3; i++)
		CHECK_INT(get(s.port, "/healthz", 3000, NULL, 0), 200);
	for (i = 0; i < FLOOD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	srv_stop(&s);
}

/* A client that trickles a byte every 300 ms never goes idle, yet is
 * closed once the request-head deadline passes. */
static void slowloris_is_closed_after_the_head_timeout(void)
{
	static const char part[] = "GET /healthz HTTP/1.1\r\nX-a: ";
	struct srv s;
	long long t0, closed_ms = -1;
	int fd;

	REQUIRE_INT(srv_start(&s, false), 0);
	fd = dial(s.port);
	REQUIRE(fd >= 0);
	t0 = now_ms();
	send(fd, part, sizeof(part) - 1, MSG_NOSIGNAL);
	while (now_ms() - t0 < 20000) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c;

		if (poll(&p, 1, 300) == 1 && recv(fd, &c, 1, 0) <= 0) {
			closed_ms = now_ms() - t0;
			break;
		}
		if (send(fd, "a", 1, MSG_NOSIGNAL) != 1) {
			closed_ms = now_ms() - t0;
			break;
		}
	}
	fprintf(stderr, "# slowloris closed after %lld ms\n", closed_ms);
	CHECK(closed_ms >= METRICSD_HEAD_TIMEOUT_MS - 1000);
	CHECK(closed_ms >= 0 && closed_ms < METRICSD_HEAD_TIMEOUT_MS + 5000);
	close(fd);
	srv_stop(&s);
}

/* CPU time of the process so far, in ms. */
static long long cpu_ms(void)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000LL +
	       (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1000;
}

/* With the process out of descriptors the server's accept fails with
 * EMFILE: it pauses accepting (100 ms at a time) instead of spinning its
 * loop thread, and answers the queued clients once descriptors are free
 * again. */
static void out_of_descriptors_pauses_accepting(void)
{
	static const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct rlimit old, low;
	struct srv s;
	char buf[1024];
	int fd[3], probe;
	long long cpu;

	REQUIRE_INT(srv_start(&s, false), 0);
	a.sin_port = htons((uint16_t)s.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 3; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		REQUIRE(fd[i] >= 0);
	}
	/* No descriptor left: the lowest free one is the limit. The
	 * clients' sockets exist already; connecting needs none. */
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	REQUIRE(probe >= 0);
	close(probe);
	REQUIRE_INT(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)probe;
	REQUIRE_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	cpu = cpu_ms();
	for (int i = 0; i < 3; i++) {
		CHECK_INT(connect(fd[i], (struct sockaddr *)&a, sizeof(a)), 0);
		CHECK(send(fd[i], req, sizeof(req) - 1, MSG_NOSIGNAL) ==
		      (ssize_t)sizeof(req) - 1);
	}
	usleep(450 * 1000);
	cpu = cpu_ms() - cpu;
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
	/* A spinning loop thread would take about 450 ms of CPU. */
	printf("out of descriptors for 450 ms: %lld ms CPU\n", cpu);
	CHECK(cpu < 100);
	for (int i = 0; i < 3; i++) {
		CHECK(read_all(fd[i], buf, sizeof(buf), 5000) > 0);
		CHECK(strncmp(buf, "HTTP/1.1 200", 12) == 0 ||
		      strncmp(buf, "HTTP/1.0 200", 12) == 0);
		close(fd[i]);
	}
	srv_stop(&s);
}

static const struct check_case cases[] = {
	CHECK_CASE(serves_metrics_healthz_and_404),
	CHECK_CASE(readyz_names_what_is_missing),
	CHECK_CASE(answers_after_300_partial_requests_close),
	CHECK_CASE(answers_after_300_idle_connections_close),
	CHECK_CASE(fresh_client_is_served_while_idle_connections_stay),
	CHECK_CASE(slowloris_is_closed_after_the_head_timeout),
	CHECK_CASE(out_of_descriptors_pauses_accepting),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
