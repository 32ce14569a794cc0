#include "shared/loop.h"

#include "shared/err.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 64
#define MAX_SIGNO 64
#define NOT_IN_HEAP SIZE_MAX

struct loop_io {
	struct loop *loop;
	int fd;
	uint32_t events;
	loop_io_cb *cb;
	void *ctx;
	bool closed;
	/* Live watchers form a doubly-linked list; closed ones wait for the
	 * safe point on a singly-linked list through next. */
	struct loop_io *prev, *next;
};

struct loop_timer {
	struct loop *loop;
	loop_timer_cb *cb;
	void *ctx;
	int64_t deadline;
	uint64_t seq; /* start order, breaks ties between equal deadlines */
	size_t idx;   /* position in the heap, or NOT_IN_HEAP */
	bool dead;
	struct loop_timer *prev, *next;
};

struct call {
	loop_fn *fn;
	void *ctx;
};

struct post {
	loop_fn *fn;
	void *ctx;
	struct post *next;
};

struct sigreg {
	loop_signal_cb *cb;
	void *ctx;
};

struct loop {
	int epfd;
	int wakefd; /* eventfd for loop_post and loop_stop */
	int sigfd;  /* signalfd, or -1 until loop_signal */
	struct loop_io *wake_io, *sig_io;
	sigset_t sigmask;
	bool no_pwait2; /* the kernel lacks epoll_pwait2 */
	struct sigreg sigs[MAX_SIGNO + 1];

	int64_t now_us;
	atomic_bool stop;
	bool in_iter;

	struct loop_io *ios, *closed_ios;
	struct loop_timer *timers, *dead_timers;
	size_t ntimers;

	/* Min-heap ordered by (deadline, seq). Its capacity always covers
	 * every live timer, so arming never allocates. */
	struct loop_timer **heap;
	size_t nheap, capheap;
	uint64_t seq;

	struct call *defer;
	size_t ndefer, capdefer;

	pthread_mutex_t mu; /* guards the post queue */
	struct post *post_head, **post_tail;
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t loop_now_us(const struct loop *l)
{
	return l->now_us;
}

/* ---- timer heap ---- */

static bool before(const struct loop_timer *a, const struct loop_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void heap_place(struct loop *l, struct loop_timer *t, size_t i)
{
	l->heap[i] = t;
	t->idx = i;
}

static void sift_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(t, l->heap[parent]))
			break;
		heap_place(l, l->heap[parent], i);
		i = parent;
	}
	heap_place(l, t, i);
}

static void sift_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= l->nheap)
			break;
		if (child + 1 < l->nheap &&
		    before(l->heap[child + 1], l->heap[child]))
			child++;
		if (!before(l->heap[child], t))
			break;
		heap_place(l, l->heap[child], i);
		i = child;
	}
	heap_place(l, t, i);
}

static void heap_remove(struct loop *l, struct loop_timer *t)
{
	size_t i = t->idx;
	struct loop_timer *last = l->heap[--l->nheap];

	t->idx = NOT_IN_HEAP;
	if (last == t)
		return;
	heap_place(l, last, i);
	sift_down(l, i);
	sift_up(l, last->idx);
}

/* ---- internal watchers ---- */

static void wake_cb(struct loop_io *io, int fd, uint32_t revents, void *ctx)
{
	struct loop *l = ctx;
	struct post *p, *next;
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
	pthread_mutex_lock(&l->mu);
	p = l->post_head;
	l->post_head = NULL;
	l->post_tail = &l->post_head;
	pthread_mutex_unlock(&l->mu);
	for (; p; p = next) {
		next = p->next;
		p->fn(p->ctx);
		free(p);
	}
}

static void sig_cb(struct loop_io *io, int fd, uint32_t revents, void *ctx)
{
	struct loop *l = ctx;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		struct sigreg *r;

		if (si.ssi_signo > MAX_SIGNO)
			continue;
		r = &l->sigs[si.ssi_signo];
		if (r->cb)
			r->cb((int)si.ssi_signo, r->ctx);
	}
}

/* ---- lifecycle ---- */

int loop_new(struct loop **out)
{
	struct loop *l;
	int rc;

	l = calloc(1, sizeof(*l));
	if (!l)
		return WEFT_ERR_NOMEM;
	rc = -pthread_mutex_init(&l->mu, NULL);
	if (rc < 0) {
		free(l);
		return rc;
	}
	l->epfd = -1;
	l->wakefd = -1;
	l->sigfd = -1;
	l->post_tail = &l->post_head;
	sigemptyset(&l->sigmask);
	atomic_init(&l->stop, false);
	l->now_us = mono_us();

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		rc = -errno;
		goto out;
	}
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wakefd < 0) {
		rc = -errno;
		goto out;
	}
	rc = loop_io_add(l, l->wakefd, LOOP_READ, wake_cb, l, &l->wake_io);
out:
	if (rc < 0) {
		loop_del(l);
		return rc;
	}
	*out = l;
	return 0;
}

static void free_closed(struct loop *l)
{
	while (l->closed_ios) {
		struct loop_io *io = l->closed_ios;

		l->closed_ios = io->next;
		free(io);
	}
	while (l->dead_timers) {
		struct loop_timer *t = l->dead_timers;

		l->dead_timers = t->next;
		free(t);
	}
}

void loop_del(struct loop *l)
{
	struct post *p;

	if (!l)
		return;
	free_closed(l);
	while (l->ios) {
		struct loop_io *io = l->ios;

		l->ios = io->next;
		free(io);
	}
	while (l->timers) {
		struct loop_timer *t = l->timers;

		l->timers = t->next;
		free(t);
	}
	while ((p = l->post_head)) {
		l->post_head = p->next;
		free(p);
	}
	free(l->heap);
	free(l->defer);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	if (l->epfd >= 0)
		close(l->epfd);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* ---- running ---- */

/* How long to wait in microseconds (-1: forever): until the next timer,
 * at most timeout_ms. */
static int64_t next_timeout_us(const struct loop *l, int timeout_ms)
{
	int64_t diff, max = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000;

	if (timeout_ms == 0 || l->ndefer > 0)
		return 0;
	if (l->nheap == 0)
		return max;
	diff = l->heap[0]->deadline - l->now_us;
	if (diff <= 0)
		return 0;
	if (max >= 0 && max < diff)
		return max;
	return diff;
}

/* epoll_pwait2 (Linux 5.11) waits with nanosecond precision, which QUIC
 * pacing needs: a pacing gap of 100 us rounded up to epoll_wait's 1 ms
 * caps a connection near 100 Mbit/s. Older kernels fall back to
 * milliseconds, rounded up so that we never wake early and spin. */
static int wait_events(struct loop *l, struct epoll_event *ev, int timeout_ms)
{
	int64_t us = next_timeout_us(l, timeout_ms), ms;
	struct timespec ts;
	int n;

	if (!l->no_pwait2) {
		ts.tv_sec = (time_t)(us / 1000000);
		ts.tv_nsec = (long)(us % 1000000) * 1000;
		n = epoll_pwait2(l->epfd, ev, MAX_EVENTS, us < 0 ? NULL : &ts,
				 NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		l->no_pwait2 = true;
	}
	ms = us < 0 ? -1 : us / 1000 + (us % 1000 != 0);
	if (ms > INT_MAX)
		ms = INT_MAX;
	return epoll_wait(l->epfd, ev, MAX_EVENTS, (int)ms);
}

static uint32_t to_revents(const struct loop_io *io, uint32_t ev)
{
	uint32_t r = 0;

	if (ev & EPOLLIN)
		r |= LOOP_READ;
	if (ev & EPOLLOUT)
		r |= LOOP_WRITE;
	/* An earlier callback of this batch may have narrowed the interest
	 * since the event was fetched. */
	r &= io->events;
	if (ev & (EPOLLERR | EPOLLHUP))
		r |= LOOP_ERROR | io->events;
	return r;
}

static void run_timers(struct loop *l)
{
	/* Timers armed by these callbacks wait for the next iteration, even
	 * with a zero delay, so a re-arming timer cannot starve I/O. Such a
	 * timer has seq >= limit and a deadline >= now, so every older due
	 * timer sorts before it and the check below stops at the right
	 * place. */
	uint64_t limit = l->seq;

	while (l->nheap > 0) {
		struct loop_timer *t = l->heap[0];

		if (t->deadline > l->now_us || t->seq >= limit)
			break;
		heap_remove(l, t);
		t->cb(t, t->ctx);
	}
}

static void run_deferred(struct loop *l)
{
	struct call *calls = l->defer;
	size_t n = l->ndefer, cap = l->capdefer;

	if (n == 0)
		return;
	/* Functions deferred from here on go to a fresh queue that the next
	 * iteration runs. */
	l->defer = NULL;
	l->ndefer = 0;
	l->capdefer = 0;
	for (size_t i = 0; i < n; i++)
		calls[i].fn(calls[i].ctx);
	if (!l->defer) {
		l->defer = calls;
		l->capdefer = cap;
	} else {
		free(calls);
	}
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int n, rc = 0;

	l->now_us = mono_us();
	n = wait_events(l, ev, timeout_ms);
	if (n < 0) {
		if (errno != EINTR)
			rc = -errno;
		n = 0;
	}
	l->in_iter = true;
	l->now_us = mono_us();
	for (int i = 0; i < n; i++) {
		struct loop_io *io = ev[i].data.ptr;
		uint32_t revents;

		/* Closed by an earlier callback of this batch: the struct is
		 * still allocated, so this check is safe. */
		if (io->closed)
			continue;
		revents = to_revents(io, ev[i].events);
		if (revents)
			io->cb(io, io->fd, revents, io->ctx);
	}
	run_timers(l);
	run_deferred(l);
	free_closed(l);
	l->in_iter = false;
	return rc;
}

int loop_run(struct loop *l)
{
	int rc;

	for (;;) {
		rc = loop_run_once(l, -1);
		if (rc < 0)
			break;
		if (atomic_exchange(&l->stop, false))
			break;
	}
	return rc;
}

void loop_stop(struct loop *l)
{
	uint64_t one = 1;

	/* Only an atomic store and write(2): safe in signal handlers. */
	atomic_store(&l->stop, true);
	(void)!write(l->wakefd, &one, sizeof(one));
}

/* ---- I/O watchers ---- */

static uint32_t to_epoll(uint32_t events)
{
	return ((events & LOOP_READ) ? EPOLLIN : 0) |
	       ((events & LOOP_WRITE) ? EPOLLOUT : 0);
}

int loop_io_add(struct loop *l, int fd, uint32_t events, loop_io_cb *cb,
		void *ctx, struct loop_io **out)
{
	struct epoll_event ev = {0};
	struct loop_io *io;

	io = calloc(1, sizeof(*io));
	if (!io)
		return WEFT_ERR_NOMEM;
	io->loop = l;
	io->fd = fd;
	io->events = events & (LOOP_READ | LOOP_WRITE);
	io->cb = cb;
	io->ctx = ctx;
	ev.events = to_epoll(io->events);
	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int rc = -errno;

		free(io);
		return rc;
	}
	io->next = l->ios;
	if (l->ios)
		l->ios->prev = io;
	l->ios = io;
	*out = io;
	return 0;
}

int loop_io_set(struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = {0};

	if (io->closed)
		return WEFT_ERR_CLOSED;
	events &= LOOP_READ | LOOP_WRITE;
	ev.events = to_epoll(events);
	ev.data.ptr = io;
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

void loop_io_close(struct loop_io *io, bool close_fd)
{
	struct loop *l;

	if (!io || io->closed)
		return;
	l = io->loop;
	/* Fails harmlessly if the owner closed the fd already. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	if (close_fd)
		close(io->fd);
	io->closed = true;
	if (io->prev)
		io->prev->next = io->next;
	else
		l->ios = io->next;
	if (io->next)
		io->next->prev = io->prev;
	if (l->in_iter) {
		io->prev = NULL;
		io->next = l->closed_ios;
		l->closed_ios = io;
	} else {
		free(io);
	}
}

/* ---- timers ---- */

int loop_timer_new(struct loop *l, loop_timer_cb *cb, void *ctx,
		   struct loop_timer **out)
{
	struct loop_timer *t;

	if (l->capheap < l->ntimers + 1) {
		size_t cap = l->capheap ? l->capheap * 2 : 16;
		struct loop_timer **heap = realloc(l->heap, cap * sizeof(*heap));

		if (!heap)
			return WEFT_ERR_NOMEM;
		l->heap = heap;
		l->capheap = cap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return WEFT_ERR_NOMEM;
	t->loop = l;
	t->cb = cb;
	t->ctx = ctx;
	t->idx = NOT_IN_HEAP;
	t->next = l->timers;
	if (l->timers)
		l->timers->prev = t;
	l->timers = t;
	l->ntimers++;
	*out = t;
	return 0;
}

void loop_timer_start(struct loop_timer *t, int64_t delay_us)
{
	struct loop *l = t->loop;

	if (t->dead)
		return;
	if (t->idx != NOT_IN_HEAP)
		heap_remove(l, t);
	if (delay_us < 0)
		delay_us = 0;
	if (delay_us > INT64_MAX - l->now_us)
		t->deadline = INT64_MAX;
	else
		t->deadline = l->now_us + delay_us;
	t->seq = l->seq++;
	l->heap[l->nheap++] = t;
	sift_up(l, l->nheap - 1);
}

void loop_timer_stop(struct loop_timer *t)
{
	if (t->idx != NOT_IN_HEAP)
		heap_remove(t->loop, t);
}

bool loop_timer_active(const struct loop_timer *t)
{
	return t->idx != NOT_IN_HEAP;
}

void loop_timer_del(struct loop_timer *t)
{
	struct loop *l;

	if (!t || t->dead)
		return;
	l = t->loop;
	loop_timer_stop(t);
	t->dead = true;
	if (t->prev)
		t->prev->next = t->next;
	else
		l->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	l->ntimers--;
	if (l->in_iter) {
		t->prev = NULL;
		t->next = l->dead_timers;
		l->dead_timers = t;
	} else {
		free(t);
	}
}

/* ---- deferred and posted functions ---- */

int loop_defer(struct loop *l, loop_fn *fn, void *ctx)
{
	if (l->ndefer == l->capdefer) {
		size_t cap = l->capdefer ? l->capdefer * 2 : 16;
		struct call *calls = realloc(l->defer, cap * sizeof(*calls));

		if (!calls)
			return WEFT_ERR_NOMEM;
		l->defer = calls;
		l->capdefer = cap;
	}
	l->defer[l->ndefer].fn = fn;
	l->defer[l->ndefer].ctx = ctx;
	l->ndefer++;
	return 0;
}

int loop_post(struct loop *l, loop_fn *fn, void *ctx)
{
	struct post *p = malloc(sizeof(*p));
	uint64_t one = 1;

	if (!p)
		return WEFT_ERR_NOMEM;
	p->fn = fn;
	p->ctx = ctx;
	p->next = NULL;
	pthread_mutex_lock(&l->mu);
	*l->post_tail = p;
	l->post_tail = &p->next;
	pthread_mutex_unlock(&l->mu);
	/* Written after the unlock: the loop may run p as soon as it sees
	 * the wake-up. EAGAIN (counter full) still leaves it readable. */
	(void)!write(l->wakefd, &one, sizeof(one));
	return 0;
}

/* ---- signals ---- */

int loop_signal(struct loop *l, int signo, loop_signal_cb *cb, void *ctx)
{
	sigset_t one, mask;
	int fd, rc;

	if (signo <= 0 || signo > MAX_SIGNO || signo == SIGKILL ||
	    signo == SIGSTOP || !cb)
		return WEFT_ERR_INVAL;
	sigemptyset(&one);
	if (sigaddset(&one, signo) < 0)
		return WEFT_ERR_INVAL;
	mask = l->sigmask;
	sigaddset(&mask, signo);
	rc = -pthread_sigmask(SIG_BLOCK, &one, NULL);
	if (rc < 0)
		return rc;
	fd = signalfd(l->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sigfd < 0) {
		rc = loop_io_add(l, fd, LOOP_READ, sig_cb, l, &l->sig_io);
		if (rc < 0) {
			close(fd);
			return rc;
		}
		l->sigfd = fd;
	}
	l->sigmask = mask;
	l->sigs[signo].cb = cb;
	l->sigs[signo].ctx = ctx;
	return 0;
}
