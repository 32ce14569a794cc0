/* Listener back-off: see listenpause.h. */
#include "agent/listenpause.h"

#include "shared/err.h"
#include "shared/log.h"
#include "shared/loop.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

struct listenpause {
	struct loop_io *io;
	int fd;
	struct loop_timer *tm;
	int64_t delay_ms;   /* the next pause; 0: not in an episode */
	uint64_t pauses;    /* all of them */
	uint64_t episode;   /* pauses in this episode */
	char what[64];
};

/* The episode is over: the queue is empty. */
static void resumed(struct listenpause *p)
{
	if (p->episode)
		log_info("listener_resumed", "listen=%s pauses=%llu", p->what,
			 (unsigned long long)p->episode);
	p->delay_ms = 0;
	p->episode = 0;
}

static void on_timer(struct loop_timer *tm, void *ctx)
{
	struct listenpause *p = ctx;
	struct pollfd pf = {.fd = p->fd, .events = POLLIN};

	(void)tm;
	/* accept fails with EMFILE even when nothing is queued: an empty
	 * queue ends the episode here, a queued connection wakes the
	 * listener at once. */
	if (poll(&pf, 1, 0) == 0)
		resumed(p);
	loop_io_set(p->io, LOOP_READ);
}

int listenpause_new(struct loop *l, struct loop_io *io, int fd,
		    const char *what, struct listenpause **out)
{
	struct listenpause *p = calloc(1, sizeof(*p));

	if (!p || loop_timer_new(l, on_timer, p, &p->tm) < 0) {
		free(p);
		return WEFT_ERR_NOMEM;
	}
	p->io = io;
	p->fd = fd;
	snprintf(p->what, sizeof(p->what), "%s", what);
	*out = p;
	return 0;
}

void listenpause_del(struct listenpause *p)
{
	if (!p)
		return;
	loop_timer_del(p->tm);
	free(p);
}

/* After accept4 returned a connection (err 0) or failed with errno err:
 * whether to go on accepting. */
static bool go_on(struct listenpause *p, int err)
{
	if (err == EINTR || err == ECONNABORTED)
		return true;
	if (err == 0)
		return true;
	if (err == EAGAIN || err == EWOULDBLOCK) {
		resumed(p);
		return false;
	}
	if (!p->episode)
		log_warn_err(-err, "listener_paused", "listen=%s retry_ms=%d",
			     p->what, LISTENPAUSE_MIN_MS);
	p->delay_ms = p->delay_ms ? p->delay_ms * 2 : LISTENPAUSE_MIN_MS;
	if (p->delay_ms > LISTENPAUSE_MAX_MS)
		p->delay_ms = LISTENPAUSE_MAX_MS;
	p->pauses++;
	p->episode++;
	loop_io_set(p->io, 0);
	loop_timer_start(p->tm, p->delay_ms * 1000);
	return false;
}

int listenpause_accept(struct listenpause *p)
{
	int c;

	do
		c = accept4(p->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (go_on(p, c < 0 ? errno : 0) && c < 0);
	return c;
}

uint64_t listenpause_count(const struct listenpause *p)
{
	return p ? p->pauses : 0;
}
