/* The agent's HTTP client (agent/httpc.c) over real loopback sockets
 * against a small scripted server thread: connection reuse, a kept
 * connection the server closed, timeouts, cancellation, refused
 * connections and garbled answers. TLS is covered by the agent_tls
 * integration test against the real controller. */
#include "check.h"
#include "agent/httpc.h"
#include "shared/err.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode {
	M_KEEP,       /* answer every request, keep the connection */
	M_CLOSE_AFTER, /* answer, then close without saying so */
	M_SILENT,     /* read the request, never answer */
	M_GARBAGE,    /* answer with something that is not HTTP */
};

struct server {
	int lfd;
	uint16_t port;
	enum mode mode;
	atomic_int accepts;
	atomic_int requests;
	atomic_bool stop;
	pthread_t thread;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one request head (no bodies are sent here). Returns false at the
 * connection's end or on stop. */
static bool read_request(struct server *s, int fd)
{
	char buf[4096];
	size_t len = 0;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return true;
		if (len == sizeof(buf) - 1)
			return false;
	}
	return false;
}

static void *serve(void *arg)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: "
				 "application/json\r\nContent-Length: 11\r\n"
				 "\r\n{\"ok\":true}";
	struct server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->lfd, .events = POLLIN};
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&s->accepts, 1);
		while (read_request(s, fd)) {
			atomic_fetch_add(&s->requests, 1);
			if (s->mode == M_SILENT)
				continue;
			if (s->mode == M_GARBAGE) {
				(void)!send(fd, "SSH-2.0-x\r\n\r\n", 13,
					    MSG_NOSIGNAL);
				break;
			}
			(void)!send(fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
			if (s->mode == M_CLOSE_AFTER)
				break;
		}
		close(fd);
	}
	return NULL;
}

static bool server_start(struct server *s, enum mode mode)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->lfd, 8) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0)
		return false;
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->thread, NULL, serve, s) == 0;
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

static int get(struct httpc *c, const struct server *s, int64_t timeout_ms,
	       httpc_cancel_cb *cancel, void *arg, struct httpc_resp *resp,
	       char *err, size_t errlen)
{
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz",
		 (unsigned)s->port);
	return httpc_request(c, &(struct httpc_req){
		.method = "GET", .url = url, .timeout_ms = timeout_ms,
		.cancel = cancel, .cancel_arg = arg}, resp, err, errlen);
}

static void kept_connection_is_reused(void)
{
	struct server s;
	struct httpc *c = NULL;
	struct httpc_resp r;
	char err[256];

	REQUIRE(server_start(&s, M_KEEP));
	REQUIRE_INT(httpc_new(NULL, "test", 4096, 2000, &c), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(get(c, &s, 2000, NULL, NULL, &r, err, sizeof(err)), 0);
		CHECK_INT(r.status, 200);
		CHECK_STR(r.body, "{\"ok\":true}");
		CHECK_INT(r.len, 11);
		free(r.body);
	}
	CHECK_INT(atomic_load(&s.requests), 3);
	CHECK_INT(atomic_load(&s.accepts), 1);
	httpc_del(c);
	server_stop(&s);
}

static void connection_the_server_closed_is_replaced(void)
{
	struct server s;
	struct httpc *c = NULL;
	struct httpc_resp r;
	char err[256];

	REQUIRE(server_start(&s, M_CLOSE_AFTER));
	REQUIRE_INT(httpc_new(NULL, "test", 4096, 2000, &c), 0);
	for (int i = 0; i < 3; i++) {
		if (!check_report(get(c, &s, 2000, NULL, NULL, &r, err,
				      sizeof(err)) == 0,
				  __FILE__, __LINE__, "request %d: %s", i, err))
			continue;
		CHECK_INT(r.status, 200);
		free(r.body);
		/* Once the close has arrived before the next request (found
		 * before sending), once not (found when the answer does not
		 * come: sent again on a new connection). */
		if (i == 0)
			usleep(20000);
	}
	CHECK_INT(atomic_load(&s.requests), 3);
	CHECK_INT(atomic_load(&s.accepts), 3);
	httpc_del(c);
	server_stop(&s);
}

static void silent_server_times_out(void)
{
	struct server s;
	struct httpc *c = NULL;
	struct httpc_resp r;
	char err[256];
	int64_t t0;

	REQUIRE(server_start(&s, M_SILENT));
	REQUIRE_INT(httpc_new(NULL, "test", 4096, 2000, &c), 0);
	t0 = now_ms();
	CHECK_INT(get(c, &s, 500, NULL, NULL, &r, err, sizeof(err)),
		  WEFT_ERR_TIMEOUT);
	CHECK(now_ms() - t0 >= 500);
	CHECK(now_ms() - t0 < 5000);
	CHECK(strstr(err, "timeout after 500 ms") != NULL);
	CHECK(r.body == NULL);
	httpc_del(c);
	server_stop(&s);
}

struct canceller {
	int64_t at;
	atomic_int calls;
};

static int cancel_later(void *arg)
{
	struct canceller *k = arg;

	atomic_fetch_add(&k->calls, 1);
	return now_ms() >= k->at ? WEFT_ERR_CLOSED : 0;
}

static void cancel_ends_a_held_request_within_a_slice(void)
{
	struct server s;
	struct httpc *c = NULL;
	struct httpc_resp r;
	struct canceller k;
	char err[256];
	int64_t t0;

	REQUIRE(server_start(&s, M_SILENT));
	REQUIRE_INT(httpc_new(NULL, "test", 4096, 2000, &c), 0);
	t0 = now_ms();
	k.at = t0 + 300;
	atomic_init(&k.calls, 0);
	CHECK_INT(get(c, &s, 60000, cancel_later, &k, &r, err, sizeof(err)),
		  WEFT_ERR_CLOSED);
	CHECK(now_ms() - t0 < 300 + 3 * HTTPC_SLICE_MS + 2000);
	CHECK(atomic_load(&k.calls) > 1);
	httpc_del(c);
	server_stop(&s);
}

static void refused_connection_and_garbage_are_reported(void)
{
	struct server s;
	struct httpc *c = NULL;
	struct httpc_resp r;
	char err[256], want[64];
	uint16_t port;

	/* a port nobody listens on: the server's, after it stopped */
	REQUIRE(server_start(&s, M_KEEP));
	port = s.port;
	server_stop(&s);
	REQUIRE_INT(httpc_new(NULL, "test", 4096, 2000, &c), 0);
	CHECK_INT(get(c, &s, 2000, NULL, NULL, &r, err, sizeof(err)),
		  -ECONNREFUSED);
	snprintf(want, sizeof(want), "connect to 127.0.0.1 port %u",
		 (unsigned)port);
	CHECK(strstr(err, want) != NULL);

	REQUIRE(server_start(&s, M_GARBAGE));
	CHECK_INT(get(c, &s, 2000, NULL, NULL, &r, err, sizeof(err)),
		  WEFT_ERR_PARSE);
	CHECK_STR(err, "bad answer: bad status line");
	/* a URL that is none */
	CHECK_INT(httpc_request(c, &(struct httpc_req){
		.method = "GET", .url = "ftp://x", .timeout_ms = 100},
		&r, err, sizeof(err)), WEFT_ERR_INVAL);
	httpc_del(c);
	server_stop(&s);
}

static const struct check_case cases[] = {
	CHECK_CASE(kept_connection_is_reused),
	CHECK_CASE(connection_the_server_closed_is_replaced),
	CHECK_CASE(silent_server_times_out),
	CHECK_CASE(cancel_ends_a_held_request_within_a_slice),
	CHECK_CASE(refused_connection_and_garbage_are_reported),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
