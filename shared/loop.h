/* The event loop: one per process (or per thread that owns I/O), built on
 * epoll, with timers in a binary min-heap, frees deferred to a safe point at
 * the end of each iteration, and thread-safe wake-ups.
 *
 * One iteration: wait for I/O (no longer than the next timer, not at all if
 * deferred work is pending), update the cached time, run I/O callbacks and
 * posted functions, run due timers, run deferred functions, then free
 * watchers and timers that were closed or deleted during the iteration.
 * Because frees wait for that safe point, a callback may close or delete any
 * watcher or timer, including its own and ones whose events are pending in
 * the same batch, and no later callback of the iteration touches freed
 * memory. Outside an iteration, closing or deleting frees at once.
 *
 * Except where a function says otherwise, everything here must be called
 * from the thread that runs the loop. */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

/* Interest and readiness bits. LOOP_ERROR is reported only (hang-up or
 * socket error); the watcher's requested bits are reported with it so that
 * its next read or write returns the error. */
#define LOOP_READ 0x1u
#define LOOP_WRITE 0x2u
#define LOOP_ERROR 0x4u

struct loop;
struct loop_io;
struct loop_timer;

typedef void loop_io_cb(struct loop_io *io, int fd, uint32_t revents,
			void *ctx);
typedef void loop_timer_cb(struct loop_timer *t, void *ctx);
typedef void loop_fn(void *ctx);
typedef void loop_signal_cb(int signo, void *ctx);

/* Creates a loop. Returns 0 or a negative code (WEFT_ERR_NOMEM, -errno
 * from epoll/eventfd). */
int loop_new(struct loop **out);

/* Frees l with every watcher and timer still registered, and drops posted
 * and deferred functions that have not run (without calling them). Does not
 * close the fds of watchers that are still open: those belong to their
 * owners. NULL is fine. No other thread may be posting to l. */
void loop_del(struct loop *l);

/* Runs iterations until loop_stop. Returns 0 after a stop, or a negative
 * code if waiting failed. Must not be called from a loop callback. */
int loop_run(struct loop *l);

/* Runs one iteration, waiting at most timeout_ms for I/O (-1: until
 * something happens; 0: not at all). Returns 0 or a negative code. Must
 * not be called from a loop callback. */
int loop_run_once(struct loop *l, int timeout_ms);

/* Makes loop_run return after the current iteration; a stop requested while
 * the loop is not running ends the next loop_run after one iteration.
 * Thread-safe and async-signal-safe. */
void loop_stop(struct loop *l);

/* Monotonic time (CLOCK_MONOTONIC) in microseconds, cached: read at
 * loop_new and in each iteration before and after waiting, so callbacks of
 * one batch see the same value. Timer delays count from it; a timer armed
 * after long work outside the loop therefore fires early by that much. */
int64_t loop_now_us(const struct loop *l);

/* Watches fd for events (LOOP_READ | LOOP_WRITE; 0 watches only for
 * errors), level-triggered. cb runs on the loop thread with the ready bits.
 * fd stays owned by the caller unless closed through loop_io_close. Returns
 * 0 and *out, or WEFT_ERR_NOMEM / -errno (e.g. -EEXIST when fd is watched
 * already); *out is untouched on failure. */
int loop_io_add(struct loop *l, int fd, uint32_t events, loop_io_cb *cb,
		void *ctx, struct loop_io **out);

/* Changes the events io waits for. Returns 0, WEFT_ERR_CLOSED if io was
 * closed, or -errno. */
int loop_io_set(struct loop_io *io, uint32_t events);

/* Stops watching at once (no callback runs for io afterwards, even for an
 * event already fetched in this iteration) and closes the fd if close_fd.
 * The struct is freed at the end of the iteration; io must not be used by
 * the caller after this call. NULL is fine. */
void loop_io_close(struct loop_io *io, bool close_fd);

/* Creates a stopped timer. Returns 0 and *out, or WEFT_ERR_NOMEM. */
int loop_timer_new(struct loop *l, loop_timer_cb *cb, void *ctx,
		   struct loop_timer **out);

/* Arms t to fire once, delay_us after loop_now_us (negative counts as 0).
 * Re-arming an active timer moves it. Timers with equal deadlines fire in
 * the order they were started. O(log n); never fails. */
void loop_timer_start(struct loop_timer *t, int64_t delay_us);

/* Disarms t if it is active. O(log n). */
void loop_timer_stop(struct loop_timer *t);

/* Whether t is armed and has not fired yet. */
bool loop_timer_active(const struct loop_timer *t);

/* Stops t and frees it at the end of the iteration; safe inside t's own
 * callback. t must not be used afterwards. NULL is fine. */
void loop_timer_del(struct loop_timer *t);

/* Runs fn(ctx) at the end of the current iteration, after the callbacks,
 * before frees. Functions deferred while deferred functions run go to the
 * next iteration, which then does not block. Returns 0 or WEFT_ERR_NOMEM. */
int loop_defer(struct loop *l, loop_fn *fn, void *ctx);

/* Runs fn(ctx) on the loop thread in a coming iteration, in posting order.
 * Thread-safe. Returns 0 or WEFT_ERR_NOMEM. */
int loop_post(struct loop *l, loop_fn *fn, void *ctx);

/* Delivers signo to cb on the loop thread through a signalfd. Blocks signo
 * in the calling thread, so call it before starting other threads (which
 * inherit the mask) or the signal may go to a thread that does not block
 * it. Calling it again for signo replaces the callback. The signal stays
 * blocked after loop_del. Returns 0, WEFT_ERR_INVAL (bad signo), or
 * WEFT_ERR_NOMEM / -errno. */
int loop_signal(struct loop *l, int signo, loop_signal_cb *cb, void *ctx);

#endif
