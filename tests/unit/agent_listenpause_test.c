/* agent/listenpause: a listener whose accept fails with EMFILE is paused
 * and retried with a back-off instead of waking the loop again at once;
 * it takes its queued connections once descriptors are free again. Real
 * loop, real sockets, the process's own RLIMIT_NOFILE. */
#include "agent/listenpause.h"

#include "check.h"
#include "shared/clock.h"
#include "shared/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENTS 3

struct lis {
	struct listenpause *p;
	int calls, accepted;
};

/* Like the stream listeners' on_accept. */
static void on_accept(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct lis *s = ctx;
	int c;

	(void)io;
	(void)fd;
	(void)ev;
	s->calls++;
	while ((c = listenpause_accept(s->p)) >= 0) {
		close(c);
		s->accepted++;
	}
}

static void run_for(struct loop *l, int64_t ms, const struct lis *s,
		    int want_accepted)
{
	int64_t end = clock_mono_ms() + ms;

	while (clock_mono_ms() < end &&
	       (want_accepted < 0 || s->accepted < want_accepted))
		loop_run_once(l, 20);
}

static void pauses_without_spinning_and_recovers(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct rlimit old, low;
	struct loop *l = NULL;
	struct loop_io *io = NULL;
	struct lis s = {0};
	int fd, cl[CLIENTS], probe;
	uint64_t pauses;

	CHECK_INT(loop_new(&l), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	REQUIRE(fd >= 0);
	CHECK_INT(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	CHECK_INT(listen(fd, 16), 0);
	CHECK_INT(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	CHECK_INT(loop_io_add(l, fd, LOOP_READ, on_accept, &s, &io), 0);
	CHECK_INT(listenpause_new(l, io, fd, "127.0.0.1:test", &s.p), 0);
	for (int i = 0; i < CLIENTS; i++) {
		cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(cl[i] >= 0);
		CHECK_INT(connect(cl[i], (struct sockaddr *)&sin, sizeof(sin)),
			  0);
	}
	/* No descriptor left: the lowest free one is the limit. */
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(probe >= 0);
	close(probe);
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)probe;
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);

	/* 450 ms: paused at 0, retried after 100, 200 and 400 ms. A spinning
	 * listener would be called thousands of times. */
	run_for(l, 450, &s, -1);
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
	CHECK_INT(s.accepted, 0);
	CHECK(s.calls >= 3 && s.calls <= 5);
	pauses = listenpause_count(s.p);
	CHECK(pauses >= 3 && pauses <= 5);

	/* Descriptors again: the next retry (within 800 ms) takes all three
	 * and the episode ends (the queue is empty). */
	run_for(l, 2000, &s, CLIENTS);
	CHECK_INT(s.accepted, CLIENTS);
	CHECK(listenpause_count(s.p) == pauses);

	/* A new episode starts over at the shortest pause. */
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	close(cl[0]);
	cl[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(cl[0] >= 0 && cl[0] < probe);
	CHECK_INT(connect(cl[0], (struct sockaddr *)&sin, sizeof(sin)), 0);
	run_for(l, 50, &s, -1);
	CHECK(listenpause_count(s.p) == pauses + 1);
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
	run_for(l, 1000, &s, CLIENTS + 1);
	CHECK_INT(s.accepted, CLIENTS + 1);

	for (int i = 0; i < CLIENTS; i++)
		close(cl[i]);
	listenpause_del(s.p);
	loop_io_close(io, true);
	loop_del(l);
}

static void null_counts_zero(void)
{
	CHECK(listenpause_count(NULL) == 0);
	listenpause_del(NULL);
}

static const struct check_case cases[] = {
	CHECK_CASE(pauses_without_spinning_and_recovers),
	CHECK_CASE(null_counts_zero),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
