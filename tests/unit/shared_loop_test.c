#include "check.h"
#include "shared/err.h"
#include "shared/loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Runs iterations until *done or about two seconds pass. */
static void run_until(struct loop *l, const bool *done)
{
	for (int i = 0; i < 2000 && !*done; i++) {
		if (loop_run_once(l, 1) < 0)
			return;
	}
}

/* ---- timers ---- */

#define NTIMERS 1000

struct fired {
	struct loop_timer *timers[NTIMERS];
	int64_t delay[NTIMERS];
	int order[NTIMERS];
	int n;
	bool done;
};

struct tctx {
	struct fired *f;
	int id;
};

static void record_cb(struct loop_timer *t, void *ctx)
{
	struct tctx *c = ctx;

	c->f->order[c->f->n++] = c->id;
	if (c->f->n == NTIMERS)
		c->f->done = true;
}

static void random_deadlines_fire_in_deadline_then_start_order(void)
{
	static struct fired f;
	static struct tctx ctx[NTIMERS];
	struct loop *l = NULL;

	memset(&f, 0, sizeof(f));
	REQUIRE_INT(loop_new(&l), 0);
	srand(12345);
	for (int i = 0; i < NTIMERS; i++) {
		ctx[i].f = &f;
		ctx[i].id = i;
		/* 0..19 ms in whole ms, so many deadlines are equal. */
		f.delay[i] = (rand() % 20) * 1000;
		REQUIRE_INT(loop_timer_new(l, record_cb, &ctx[i], &f.timers[i]), 0);
		loop_timer_start(f.timers[i], f.delay[i]);
	}
	run_until(l, &f.done);
	REQUIRE_INT(f.n, NTIMERS);
	for (int i = 1; i < NTIMERS; i++) {
		int a = f.order[i - 1], b = f.order[i];

		if (!check_report(f.delay[a] < f.delay[b] ||
					  (f.delay[a] == f.delay[b] && a < b),
				  __FILE__, __LINE__,
				  "timer %d (%lld us) fired before %d (%lld us)",
				  a, (long long)f.delay[a], b,
				  (long long)f.delay[b]))
			break;
	}
	for (int i = 0; i < NTIMERS; i++)
		CHECK(!loop_timer_active(f.timers[i]));
	loop_del(l); /* frees the timers */
}

static void count_cb(struct loop_timer *t, void *ctx)
{
	(*(int *)ctx)++;
}

static void stopped_timer_never_fires_and_rearm_moves_it(void)
{
	struct loop *l = NULL;
	struct loop_timer *a = NULL, *b = NULL, *c = NULL;
	int na = 0, nb = 0, nc = 0;
	int64_t start;

	REQUIRE_INT(loop_new(&l), 0);
	REQUIRE_INT(loop_timer_new(l, count_cb, &na, &a), 0);
	REQUIRE_INT(loop_timer_new(l, count_cb, &nb, &b), 0);
	REQUIRE_INT(loop_timer_new(l, count_cb, &nc, &c), 0);
	CHECK(!loop_timer_active(a));

	loop_timer_start(a, 1000);
	loop_timer_start(b, 1000);
	loop_timer_start(c, 1000);
	CHECK(loop_timer_active(a));
	loop_timer_stop(a);
	loop_timer_stop(a); /* stopping twice is harmless */
	CHECK(!loop_timer_active(a));
	loop_timer_start(b, 60 * 1000000LL); /* moved far out */

	start = loop_now_us(l);
	while (nc == 0 && loop_now_us(l) - start < 2000000)
		loop_run_once(l, 100);
	CHECK_INT(nc, 1);
	CHECK_INT(na, 0);
	CHECK_INT(nb, 0);
	CHECK(loop_timer_active(b));
	CHECK(!loop_timer_active(c));

	/* Re-arming nearer fires it; a fired timer can be started again. */
	loop_timer_start(b, 0);
	loop_timer_start(c, 0);
	loop_run_once(l, 100);
	CHECK_INT(nb, 1);
	CHECK_INT(nc, 2);
	CHECK_INT(na, 0);
	loop_timer_del(a);
	loop_timer_del(b);
	loop_timer_del(c);
	loop_del(l);
}

static void rearm_cb(struct loop_timer *t, void *ctx)
{
	(*(int *)ctx)++;
	loop_timer_start(t, 0);
}

static void zero_delay_rearm_in_callback_waits_for_next_iteration(void)
{
	struct loop *l = NULL;
	struct loop_timer *t = NULL;
	int n = 0;

	REQUIRE_INT(loop_new(&l), 0);
	REQUIRE_INT(loop_timer_new(l, rearm_cb, &n, &t), 0);
	loop_timer_start(t, 0);
	/* Would never return if the re-armed timer ran in the same pass. */
	CHECK_INT(loop_run_once(l, 0), 0);
	CHECK_INT(n, 1);
	CHECK(loop_timer_active(t));
	CHECK_INT(loop_run_once(l, -1), 0);
	CHECK_INT(n, 2);
	loop_del(l);
}

struct deleter {
	struct loop_timer *self, *victim;
	int fired;
};

static void delete_self_and_victim_cb(struct loop_timer *t, void *ctx)
{
	struct deleter *d = ctx;

	d->fired++;
	loop_timer_del(d->victim);
	loop_timer_del(t);
	/* The struct stays valid until the iteration ends. */
	CHECK(!loop_timer_active(t));
}

static void timer_deletes_itself_and_another_in_its_callback(void)
{
	struct loop *l = NULL;
	struct deleter d = {0};
	struct loop_timer *keep = NULL;
	int victim_fired = 0, kept = 0;

	REQUIRE_INT(loop_new(&l), 0);
	REQUIRE_INT(loop_timer_new(l, delete_self_and_victim_cb, &d, &d.self), 0);
	REQUIRE_INT(loop_timer_new(l, count_cb, &victim_fired, &d.victim), 0);
	REQUIRE_INT(loop_timer_new(l, count_cb, &kept, &keep), 0);
	/* All due in the same iteration; self runs first. */
	loop_timer_start(d.self, 0);
	loop_timer_start(d.victim, 0);
	loop_timer_start(keep, 0);
	loop_run_once(l, 100);
	CHECK_INT(d.fired, 1);
	CHECK_INT(victim_fired, 0);
	CHECK_INT(kept, 1);
	loop_run_once(l, 0);
	CHECK_INT(d.fired, 1);
	loop_timer_del(keep);
	loop_del(l);
}

/* ---- I/O ---- */

struct reader {
	struct loop *loop;
	int calls;
	uint32_t revents;
	char buf[16];
	ssize_t got;
	bool done;
};

static void read_cb(struct loop_io *io, int fd, uint32_t revents, void *ctx)
{
	struct reader *r = ctx;

	r->calls++;
	r->revents = revents;
	if (revents & LOOP_READ)
		r->got = read(fd, r->buf, sizeof(r->buf));
	r->done = true;
}

static void reports_read_and_write_readiness_on_socketpair(void)
{
	struct loop *l = NULL;
	struct loop_io *io = NULL;
	struct reader r = {0};
	int sv[2];

	REQUIRE_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	REQUIRE_INT(loop_new(&l), 0);
	REQUIRE_INT(loop_io_add(l, sv[0], LOOP_READ, read_cb, &r, &io), 0);
	CHECK_INT(loop_io_add(l, sv[0], LOOP_READ, read_cb, &r, &io), -EEXIST);

	/* Nothing to read: no callback. */
	CHECK_INT(loop_run_once(l, 0), 0);
	CHECK_INT(r.calls, 0);

	REQUIRE_INT(write(sv[1], "hi", 2), 2);
	run_until(l, &r.done);
	CHECK_INT(r.calls, 1);
	CHECK_INT(r.revents, LOOP_READ);
	CHECK_INT(r.got, 2);
	CHECK_MEM(r.buf, "hi", 2);

	/* Switch interest to writing: a fresh socket is writable at once. */
	r.done = false;
	CHECK_INT(loop_io_set(io, LOOP_WRITE), 0);
	run_until(l, &r.done);
	CHECK_INT(r.revents, LOOP_WRITE);

	/* Peer hang-up is reported as an error together with read. */
	r.done = false;
	CHECK_INT(loop_io_set(io, LOOP_READ), 0);
	close(sv[1]);
	run_until(l, &r.done);
	CHECK(r.revents & LOOP_READ);
	CHECK_INT(r.got, 0); /* EOF */

	loop_io_close(io, true);
	loop_del(l);
}

struct pair {
	struct loop_io *io[2];
	int calls[2];
	int total;
};

struct side {
	struct pair *p;
	int me;
};

static void close_other_cb(struct loop_io *io, int fd, uint32_t revents,
			   void *ctx)
{
	struct side *s = ctx;
	struct pair *p = s->p;

	p->calls[s->me]++;
	p->total++;
	/* Close the other watcher, whose event is pending in this batch,
	 * then ourselves. */
	loop_io_close(p->io[1 - s->me], true);
	loop_io_close(io, true);
	CHECK_INT(loop_io_set(io, LOOP_READ), WEFT_ERR_CLOSED);
}

static void closing_a_watcher_from_another_callback_in_same_batch_is_safe(void)
{
	struct loop *l = NULL;
	struct pair p = {0};
	struct side s[2] = {{&p, 0}, {&p, 1}};
	int a[2], b[2];

	REQUIRE_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	REQUIRE_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	REQUIRE_INT(loop_new(&l), 0);
	REQUIRE_INT(loop_io_add(l, a[0], LOOP_READ, close_other_cb, &s[0],
				&p.io[0]), 0);
	REQUIRE_INT(loop_io_add(l, b[0], LOOP_READ, close_other_cb, &s[1],
				&p.io[1]), 0);
	/* Both readable before the loop waits, so one epoll batch holds both
	 * events. */
	REQUIRE_INT(write(a[1], "x", 1), 1);
	REQUIRE_INT(write(b[1], "y", 1), 1);
	CHECK_INT(loop_run_once(l, 1000), 0);
	CHECK_INT(p.total, 1);
	CHECK_INT(p.calls[0] + p.calls[1], 1);
	CHECK_INT(loop_run_once(l, 0), 0);
	CHECK_INT(p.total, 1);
	/* close_fd closed both read ends: the peers see it. */
	CHECK_INT(send(a[1], "x", 1, MSG_NOSIGNAL), -1);
	CHECK_INT(errno, EPIPE);
	CHECK_INT(send(b[1], "y", 1, MSG_NOSIGNAL), -1);
	CHECK_INT(errno, EPIPE);
	close(a[1]);
	close(b[1]);
	loop_del(l);
}

/* ---- deferred functions ---- */

struct trace {
	char log[64];
	size_t n;
	struct loop *loop;
};

static void trace_add(struct trace *t, char c)
{
	if (t->n + 1 < sizeof(t->log))
		t->log[t->n++] = c;
}

static void defer_fn(void *ctx)
{
	trace_add(ctx, 'D');
}

static void defer_again_fn(void *ctx)
{
	struct trace *t = ctx;

	trace_add(t, 'd');
	/* Deferred from a deferred function: next iteration. */
	loop_defer(t->loop, defer_fn, t);
}

static void defer_io_cb(struct loop_io *io, int fd, uint32_t revents,
			void *ctx)
{
	struct trace *t = ctx;
	char c;

	trace_add(t, 'I');
	CHECK_INT(loop_defer(t->loop, defer_again_fn, t), 0);
	CHECK_INT(read(fd, &c, 1), 1);
}

static void defer_timer_cb(struct loop_timer *tm, void *ctx)
{
	trace_add(ctx, 'T');
}

static void deferred_functions_run_after_callbacks(void)
{
	struct loop *l = NULL;
	struct loop_io *io = NULL;
	struct loop_timer *tm = NULL;
	struct trace t = {.n = 0};
	int sv[2];

	REQUIRE_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	REQUIRE_INT(loop_new(&l), 0);
	t.loop = l;
	REQUIRE_INT(loop_io_add(l, sv[0], LOOP_READ, defer_io_cb, &t, &io), 0);
	REQUIRE_INT(loop_timer_new(l, defer_timer_cb, &t, &tm), 0);
	CHECK_INT(loop_defer(l, defer_fn, &t), 0);
	loop_timer_start(tm, 0);
	REQUIRE_INT(write(sv[1], "x", 1), 1);
	CHECK_INT(loop_run_once(l, 1000), 0);
	CHECK_STR(t.log, "ITDd");
	/* The second-generation deferral makes the next wait non-blocking. */
	CHECK_INT(loop_run_once(l, -1), 0);
	CHECK_STR(t.log, "ITDdD");
	loop_io_close(io, true);
	close(sv[1]);
	loop_del(l);
}

/* ---- cross-thread ---- */

#define NTHREADS 4
#define NPOSTS 1000

struct poster {
	struct loop *loop;
	pthread_t loop_thread;
	int hits[NTHREADS][NPOSTS];
	int total; /* touched on the loop thread only */
	bool wrong_thread;
	bool done;
};

struct post_arg {
	struct poster *p;
	int thread, i;
};

static struct post_arg post_args[NTHREADS][NPOSTS];

static void post_fn(void *ctx)
{
	struct post_arg *a = ctx;
	struct poster *p = a->p;

	if (!pthread_equal(pthread_self(), p->loop_thread))
		p->wrong_thread = true;
	p->hits[a->thread][a->i]++;
	if (++p->total == NTHREADS * NPOSTS)
		p->done = true;
}

static void *post_thread(void *arg)
{
	struct post_arg *row = arg;

	for (int i = 0; i < NPOSTS; i++) {
		if (loop_post(row[i].p->loop, post_fn, &row[i]) != 0)
			abort();
	}
	return NULL;
}

static void posts_from_four_threads_each_run_once_on_loop_thread(void)
{
	static struct poster p;
	pthread_t th[NTHREADS];
	struct loop *l = NULL;

	memset(&p, 0, sizeof(p));
	REQUIRE_INT(loop_new(&l), 0);
	p.loop = l;
	p.loop_thread = pthread_self();
	for (int t = 0; t < NTHREADS; t++) {
		for (int i = 0; i < NPOSTS; i++)
			post_args[t][i] = (struct post_arg){&p, t, i};
	}
	for (int t = 0; t < NTHREADS; t++)
		REQUIRE_INT(pthread_create(&th[t], NULL, post_thread,
					   post_args[t]), 0);
	run_until(l, &p.done);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	/* Anything still queued runs now; the count must not grow. */
	loop_run_once(l, 0);
	CHECK_INT(p.total, NTHREADS * NPOSTS);
	CHECK(!p.wrong_thread);
	for (int t = 0; t < NTHREADS; t++) {
		for (int i = 0; i < NPOSTS; i++) {
			if (!check_report(p.hits[t][i] == 1, __FILE__, __LINE__,
					  "post %d/%d ran %d times", t, i,
					  p.hits[t][i]))
				goto out;
		}
	}
out:
	loop_del(l);
}

static void *stop_thread(void *arg)
{
	struct timespec ts = {0, 50 * 1000000};

	nanosleep(&ts, NULL);
	loop_stop(arg);
	return NULL;
}

static void loop_stop_from_another_thread_ends_loop_run(void)
{
	struct loop *l = NULL;
	struct loop_timer *far = NULL;
	int n = 0;
	pthread_t th;
	struct timespec t0, t1;
	int64_t elapsed_ms;

	REQUIRE_INT(loop_new(&l), 0);
	/* A far timer that must not be what ends the wait. */
	REQUIRE_INT(loop_timer_new(l, count_cb, &n, &far), 0);
	loop_timer_start(far, 30 * 1000000LL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	REQUIRE_INT(pthread_create(&th, NULL, stop_thread, l), 0);
	CHECK_INT(loop_run(l), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(elapsed_ms >= 40);
	CHECK(elapsed_ms < 5000);
	CHECK_INT(n, 0);
	CHECK(loop_timer_active(far));
	loop_del(l); /* frees the still-armed timer */
}

static void stop_from_callback(struct loop_timer *t, void *ctx)
{
	loop_stop(ctx);
}

static void loop_run_returns_after_stop_inside_callback(void)
{
	struct loop *l = NULL;
	struct loop_timer *t = NULL;

	REQUIRE_INT(loop_new(&l), 0);
	REQUIRE_INT(loop_timer_new(l, stop_from_callback, l, &t), 0);
	loop_timer_start(t, 1000);
	CHECK_INT(loop_run(l), 0);
	/* The stop was consumed: a second run needs a second stop. */
	loop_timer_start(t, 1000);
	CHECK_INT(loop_run(l), 0);
	loop_del(l);
}

/* ---- signals ---- */

struct sig_seen {
	int signo;
	int count;
	bool done;
};

static void sig_cb(int signo, void *ctx)
{
	struct sig_seen *s = ctx;

	s->signo = signo;
	s->count++;
	s->done = true;
}

static void delivers_sigusr1_through_signalfd(void)
{
	struct loop *l = NULL;
	struct sig_seen s = {0};

	REQUIRE_INT(loop_new(&l), 0);
	CHECK_INT(loop_signal(l, SIGKILL, sig_cb, &s), WEFT_ERR_INVAL);
	CHECK_INT(loop_signal(l, 0, sig_cb, &s), WEFT_ERR_INVAL);
	REQUIRE_INT(loop_signal(l, SIGUSR1, sig_cb, &s), 0);
	REQUIRE_INT(loop_signal(l, SIGUSR2, sig_cb, &s), 0);
	/* Blocked now, so this stays pending for the signalfd instead of
	 * killing the test. */
	REQUIRE_INT(kill(getpid(), SIGUSR1), 0);
	run_until(l, &s.done);
	CHECK_INT(s.signo, SIGUSR1);
	CHECK_INT(s.count, 1);
	s.done = false;
	REQUIRE_INT(raise(SIGUSR2), 0);
	run_until(l, &s.done);
	CHECK_INT(s.signo, SIGUSR2);
	CHECK_INT(s.count, 2);
	loop_del(l);
}

/* ---- teardown ---- */

static void never_fn(void *ctx)
{
	(*(int *)ctx)++;
}

static void loop_del_frees_everything_left_behind(void)
{
	struct loop *l = NULL;
	struct loop_io *io = NULL;
	struct loop_timer *t = NULL;
	int ran = 0, sv[2];

	loop_del(NULL);
	REQUIRE_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	REQUIRE_INT(loop_new(&l), 0);
	REQUIRE_INT(loop_io_add(l, sv[0], LOOP_READ, read_cb, NULL, &io), 0);
	REQUIRE_INT(loop_timer_new(l, count_cb, &ran, &t), 0);
	loop_timer_start(t, 1000000);
	CHECK_INT(loop_defer(l, never_fn, &ran), 0);
	CHECK_INT(loop_post(l, never_fn, &ran), 0);
	loop_del(l); /* LeakSanitizer checks that nothing is left */
	CHECK_INT(ran, 0);
	/* The caller's fd stays open. */
	CHECK_INT(write(sv[1], "x", 1), 1);
	close(sv[0]);
	close(sv[1]);
}

static const struct check_case cases[] = {
	CHECK_CASE(random_deadlines_fire_in_deadline_then_start_order),
	CHECK_CASE(stopped_timer_never_fires_and_rearm_moves_it),
	CHECK_CASE(zero_delay_rearm_in_callback_waits_for_next_iteration),
	CHECK_CASE(timer_deletes_itself_and_another_in_its_callback),
	CHECK_CASE(reports_read_and_write_readiness_on_socketpair),
	CHECK_CASE(closing_a_watcher_from_another_callback_in_same_batch_is_safe),
	CHECK_CASE(deferred_functions_run_after_callbacks),
	CHECK_CASE(posts_from_four_threads_each_run_once_on_loop_thread),
	CHECK_CASE(loop_stop_from_another_thread_ends_loop_run),
	CHECK_CASE(loop_run_returns_after_stop_inside_callback),
	CHECK_CASE(delivers_sigusr1_through_signalfd),
	CHECK_CASE(loop_del_frees_everything_left_behind),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
