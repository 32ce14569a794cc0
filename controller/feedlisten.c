#include "controller/feedlisten.h"

#include "controller/store.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/loop.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Reopening waits 1 s after a failed try, doubling up to 30 s: a server
 * that does not answer costs a connect timeout on the owner's thread per
 * try. */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000

struct feedlisten {
	struct store *st;
	struct loop *loop;
	char *dsn;
	void (*on_change)(void *ctx, bool catch_up);
	void *ctx;
	struct store_listen *listener;
	struct loop_io *io;
	bool needed;    /* the backend notifies */
	bool warned;    /* the current outage was logged */
	int64_t retry_ms, next_try_ms;
	atomic_bool up;
};

static void close_listener(struct feedlisten *f)
{
	if (f->io)
		loop_io_close(f->io, false);
	f->io = NULL;
	store_listen_close(f->listener);
	f->listener = NULL;
	atomic_store(&f->up, false);
}

static void on_readable(struct loop_io *io, int fd, uint32_t revents,
			void *ctx)
{
	struct feedlisten *f = ctx;
	int rc;

	(void)io;
	(void)fd;
	(void)revents;
	rc = store_listen_drain(f->listener);
	if (rc < 0) {
		char q[256];

		/* The owner's feed poll keeps it correct meanwhile. */
		log_warn("listen_lost", "detail=%s",
			 log_q(q, sizeof(q), store_errmsg()));
		f->warned = true;
		close_listener(f);
		return;
	}
	if (rc > 0)
		f->on_change(f->ctx, false);
}

/* Opens the connection; true when it is up. */
static bool open_listener(struct feedlisten *f)
{
	char q[256];

	if (store_listen_open(f->st, f->dsn, &f->listener) < 0)
		goto fail;
	if (loop_io_add(f->loop, store_listen_fd(f->listener), LOOP_READ,
			on_readable, f, &f->io) < 0) {
		store_listen_close(f->listener);
		f->listener = NULL;
		goto fail;
	}
	atomic_store(&f->up, true);
	f->retry_ms = 0;
	return true;
fail:
	f->retry_ms = f->retry_ms ? f->retry_ms * 2 : RETRY_MIN_MS;
	if (f->retry_ms > RETRY_MAX_MS)
		f->retry_ms = RETRY_MAX_MS;
	f->next_try_ms = clock_mono_ms() + f->retry_ms;
	if (!f->warned)
		log_warn("listen_failed", "detail=%s",
			 log_q(q, sizeof(q), store_errmsg()));
	f->warned = true;
	return false;
}

int feedlisten_new(struct store *st, const char *dsn, struct loop *loop,
		   void (*on_change)(void *ctx, bool catch_up), void *ctx,
		   struct feedlisten **out)
{
	struct feedlisten *f = calloc(1, sizeof(*f));

	if (!f)
		return WEFT_ERR_NOMEM;
	f->st = st;
	f->loop = loop;
	f->on_change = on_change;
	f->ctx = ctx;
	f->needed = store_listen_supported(st);
	if (dsn && !(f->dsn = strdup(dsn))) {
		free(f);
		return WEFT_ERR_NOMEM;
	}
	atomic_init(&f->up, !f->needed);
	if (f->needed)
		open_listener(f);
	*out = f;
	return 0;
}

void feedlisten_tick(struct feedlisten *f)
{
	if (!f->needed || f->listener || clock_mono_ms() < f->next_try_ms ||
	    !open_listener(f))
		return;
	log_info("listen_restored", NULL);
	f->warned = false;
	f->on_change(f->ctx, true);
}

bool feedlisten_up(const struct feedlisten *f)
{
	return atomic_load(&((struct feedlisten *)f)->up);
}

void feedlisten_del(struct feedlisten *f)
{
	if (!f)
		return;
	close_listener(f);
	free(f->dsn);
	free(f);
}
