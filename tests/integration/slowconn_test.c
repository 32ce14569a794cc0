/* The controller's one listening socket (REST API, UI login, UI assets,
 * /healthz, /metrics) against hundreds of connections that never finish:
 * idle ones that send nothing, slowloris ones that trickle a request head
 * a byte at a time, and ones that declare a body and send only part of
 * it. While they are all open, a password login, the UI page, /healthz,
 * /metrics and an API call still answer, and the controller exits cleanly
 * afterwards. The times are printed, never asserted. */
#include "check.h"
#include "fx.h"
#include "ih.h"

#include "shared/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define K (h->bootstrap_key)

#define N_IDLE 300
#define N_HEAD 150
#define N_BODY 100
#define N_ALL (N_IDLE + N_HEAD + N_BODY)
#define ROUNDS 4

/* A connected TCP socket to the controller, or -1. */
static int dial(const struct ih *h)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)h->port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		s += w;
		n -= (size_t)w;
	}
	return true;
}

/* Everything the UI and an agent need from the socket, one request each;
 * prints how long each took. */
static void everything_answers(struct ih *h, int round)
{
	const char *login_hdr[] = {"Content-Type: application/json", NULL};
	char *text = NULL, *hdrs = NULL;
	long st = 0;
	int64_t t0 = clock_mono_ms();

	REQUIRE(ih_call_headers(h, "POST", "/api/v1/session", login_hdr,
				"{\"user\":\"root\",\"password\":\"root-password\"}",
				&st, &text, &hdrs) == 0);
	CHECK_INT(st, 201);
	CHECK(hdrs && strstr(hdrs, "__Host-weft_session=weft_session_"));
	free(text);
	free(hdrs);
	text = hdrs = NULL;
	fprintf(stderr, "# round %d: login %" PRId64 " ms\n", round,
		clock_mono_ms() - t0);

	t0 = clock_mono_ms();
	REQUIRE(ih_call_headers(h, "GET", "/", NULL, NULL, &st, &text, NULL) == 0);
	CHECK_INT(st, 200);
	CHECK(text && strstr(text, "<html"));
	free(text);
	text = NULL;
	CHECK_INT(fx_req(h, "GET", "/healthz", NULL, NULL, NULL), 200);
	REQUIRE(ih_call_raw(h, "GET", "/metrics", NULL, NULL, 0, &st, &text,
			    NULL) == 0);
	CHECK_INT(st, 200);
	free(text);
	CHECK_INT(fx_req(h, "GET", "/api/v1/users", K, NULL, NULL), 200);
	fprintf(stderr, "# round %d: page, healthz, metrics, users %" PRId64
		" ms\n", round, clock_mono_ms() - t0);
}

static void hundreds_of_slow_and_idle_connections_starve_nothing(void)
{
	struct ih *h = NULL;
	struct rlimit rl;
	int fds[N_ALL];
	int open_fds = 0, alive = 0;
	char path[64];
	int64_t root;

	/* Room for the connections on both ends (the controller inherits
	 * this limit). */
	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < 4096 && rl.rlim_max > rl.rlim_cur) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		REQUIRE(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	}
	REQUIRE(ih_new(NULL, &h) == 0);
	root = fx_user(h, K, "root", "admin");
	REQUIRE(root > 0);
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64 "/password", root);
	REQUIRE_INT(fx_req(h, "PUT", path, K,
			   "{\"password\":\"root-password\"}", NULL), 204);

	for (int i = 0; i < N_ALL; i++) {
		fds[i] = dial(h);
		REQUIRE(fds[i] >= 0);
		open_fds++;
		if (i >= N_IDLE && i < N_IDLE + N_HEAD)
			CHECK(send_all(fds[i], "GET /api/v1/session HTTP/1.1\r\n"
					       "Host: 127.0.0.1\r\n"));
		else if (i >= N_IDLE + N_HEAD)
			CHECK(send_all(fds[i],
				       "POST /api/v1/session HTTP/1.1\r\n"
				       "Host: 127.0.0.1\r\n"
				       "Content-Type: application/json\r\n"
				       "Content-Length: 4000\r\n\r\n"
				       "{\"user\":\"root\",\"password\":\""));
	}
	fprintf(stderr, "# %d idle, %d slow heads, %d slow bodies open\n",
		N_IDLE, N_HEAD, N_BODY);

	for (int round = 0; round < ROUNDS; round++) {
		/* One more byte on every slow connection, then everything
		 * else must still be served. */
		for (int i = N_IDLE; i < N_ALL; i++)
			send_all(fds[i], i < N_IDLE + N_HEAD ? "X" : "a");
		everything_answers(h, round);
		sleep(1);
	}

	/* The slow ones were not answered early (they never completed a
	 * request), and the idle ones are still connected: the test held
	 * what it meant to hold. */
	for (int i = 0; i < N_ALL; i++) {
		char b;
		ssize_t r = recv(fds[i], &b, 1, MSG_DONTWAIT);

		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			alive++;
	}
	fprintf(stderr, "# %d of %d connections still held open\n", alive,
		N_ALL);
	CHECK(alive > N_ALL * 9 / 10);

	for (int i = 0; i < open_fds; i++)
		close(fds[i]);
	everything_answers(h, ROUNDS);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(hundreds_of_slow_and_idle_connections_starve_nothing),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
