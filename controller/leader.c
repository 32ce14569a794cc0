#include "controller/leader.h"

#include "controller/store.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/loop.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define TRY_US (1000 * 1000)
/* After a failed connection, tries wait up to this long (doubling from
 * TRY_US): each costs up to a connect timeout on the serve loop. */
#define RETRY_MAX_US (16 * 1000 * 1000)
/* pg_advisory_lock key of the leadership ("weft" + 1; the write lock of
 * store_pg.c is 2003199604). */
#define LEADER_KEY 2003199605

struct leader {
	struct store *st;
	char *dsn;
	struct store_lock *lock;
	struct loop_timer *timer;
	void (*on_elected)(void *ctx);
	void *ctx;
	bool always;      /* one process owns the database */
	bool warned;      /* the current connection outage was logged */
	int64_t retry_us; /* delay before the next try after a failure */
	atomic_bool leads;
};

static void set_leads(struct leader *l, bool leads)
{
	if (atomic_exchange(&l->leads, leads) == leads)
		return;
	log_info(leads ? "leader_elected" : "leader_lost", NULL);
	if (leads && l->on_elected)
		l->on_elected(l->ctx);
}

static void on_try(struct loop_timer *t, void *ctx)
{
	struct leader *l = ctx;
	char q[256];
	int rc;

	if (!l->lock) {
		rc = store_lock_open(l->st, l->dsn, LEADER_KEY, &l->lock);
		if (rc < 0)
			goto broken;
	}
	rc = store_lock_try(l->lock);
	if (rc < 0)
		goto broken;
	l->warned = false;
	l->retry_us = TRY_US;
	set_leads(l, rc == 1);
	loop_timer_start(t, TRY_US);
	return;
broken:
	if (!l->warned)
		log_warn_err(rc, "leader_connection_failed", "detail=%s",
			     log_q(q, sizeof(q), store_errmsg()));
	l->warned = true;
	store_lock_close(l->lock);
	l->lock = NULL;
	set_leads(l, false);
	loop_timer_start(t, l->retry_us);
	l->retry_us = l->retry_us * 2 > RETRY_MAX_US ? RETRY_MAX_US
						      : l->retry_us * 2;
}

int leader_new(struct store *st, const char *dsn, struct loop *loop,
	       void (*on_elected)(void *ctx), void *ctx, struct leader **out)
{
	struct leader *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return WEFT_ERR_NOMEM;
	l->st = st;
	l->on_elected = on_elected;
	l->ctx = ctx;
	l->always = !store_lock_supported(st);
	l->retry_us = TRY_US;
	atomic_init(&l->leads, l->always);
	if (dsn && !(l->dsn = strdup(dsn))) {
		free(l);
		return WEFT_ERR_NOMEM;
	}
	if (!l->always) {
		rc = loop_timer_new(loop, on_try, l, &l->timer);
		if (rc < 0) {
			leader_del(l);
			return rc;
		}
		loop_timer_start(l->timer, 0);
	}
	*out = l;
	return 0;
}

bool leader_is(const struct leader *l)
{
	return l && atomic_load(&((struct leader *)l)->leads);
}

void leader_del(struct leader *l)
{
	if (!l)
		return;
	loop_timer_del(l->timer);
	store_lock_close(l->lock);
	free(l->dsn);
	free(l);
}
