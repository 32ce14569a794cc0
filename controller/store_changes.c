/* The netmap change feed and cross-process notifications. */
#include "controller/store.h"
#include "controller/store_backend.h"
#include "controller/store_internal.h"
#include "shared/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHANNEL "weft_netmap"

struct store_listen {
	const struct store_ops *ops;
	struct store_listen_be *be;
};

int store_change_record(struct store_tx *tx, const char *kind,
			int64_t target_id, int64_t *version)
{
	const struct store_ops *ops;
	struct sqlv p[4];
	char payload[32];
	int64_t v;
	int rc;

	if (!kind || strlen(kind) >= sizeof(((struct store_change *)0)->kind))
		return WEFT_ERR_INVAL;
	rc = store_netmap_bump(tx, &v);
	if (rc)
		return rc;
	p[0] = sqlv_int(v);
	p[1] = sqlv_text(kind);
	p[2] = sqlv_int(target_id);
	p[3] = sqlv_int(store_now());
	rc = store_tx_query(tx,
			    "INSERT INTO netmap_changes (version, kind, "
			    "target_id, at) VALUES (?, ?, ?, ?)",
			    p, 4, NULL, NULL, NULL);
	if (rc)
		return rc;
	ops = store_ops_of(store_tx_store(tx));
	if (ops->notify) {
		snprintf(payload, sizeof(payload), "%" PRId64, v);
		rc = ops->notify(store_tx_conn(tx), CHANNEL, payload);
		if (rc)
			return rc;
	}
	if (version)
		*version = v;
	return 0;
}

struct list_ctx {
	int (*cb)(void *ctx, const struct store_change *c);
	void *ctx;
};

static int change_row(void *ctx, const struct sqlv *cols, int n)
{
	struct list_ctx *l = ctx;
	struct store_change c = {0};

	if (n != 4 || cols[0].type != SQLV_INT || cols[1].type != SQLV_TEXT ||
	    cols[2].type != SQLV_INT || cols[3].type != SQLV_INT)
		return WEFT_ERR_DB;
	c.version = cols[0].i;
	snprintf(c.kind, sizeof(c.kind), "%s", cols[1].s);
	c.target_id = cols[2].i;
	c.at = cols[3].i;
	return l->cb(l->ctx, &c);
}

int store_change_list(struct store_tx *tx, int64_t after, int limit,
		      int (*cb)(void *ctx, const struct store_change *c),
		      void *ctx)
{
	struct list_ctx l = {cb, ctx};
	struct sqlv p[2];

	if (!tx || !cb || limit < 1 || limit > 10000)
		return WEFT_ERR_INVAL;
	p[0] = sqlv_int(after);
	p[1] = sqlv_int(limit);
	return store_tx_query(tx,
			      "SELECT version, kind, target_id, at FROM "
			      "netmap_changes WHERE version > ? ORDER BY "
			      "version LIMIT ?",
			      p, 2, change_row, &l, NULL);
}

int store_change_prune(struct store_tx *tx, int64_t upto)
{
	struct sqlv p = sqlv_int(upto);
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	return store_tx_query(tx, "DELETE FROM netmap_changes WHERE version <= ?",
			      &p, 1, NULL, NULL, NULL);
}

int store_change_oldest(struct store_tx *tx, int64_t *version)
{
	struct store_one_int o = {0};
	int rc;

	rc = store_tx_query(tx, "SELECT COALESCE(MIN(version), 0) FROM "
				"netmap_changes",
			    NULL, 0, store_one_int_row, &o, NULL);
	if (rc)
		return rc;
	*version = o.found ? o.v : 0;
	return 0;
}

int store_listen_open(struct store *st, const char *dsn,
		      struct store_listen **out)
{
	const struct store_ops *ops = store_ops_of(st);
	struct store_listen *l;
	int rc;

	if (!ops->listen_open)
		return WEFT_ERR_UNSUPPORTED;
	l = calloc(1, sizeof(*l));
	if (!l)
		return WEFT_ERR_NOMEM;
	l->ops = ops;
	rc = ops->listen_open(store_be_of(st), dsn, CHANNEL, &l->be);
	if (rc) {
		free(l);
		return rc;
	}
	*out = l;
	return 0;
}

bool store_listen_supported(const struct store *st)
{
	return store_ops_of(st)->listen_open != NULL;
}

int store_listen_fd(struct store_listen *l)
{
	return l->ops->listen_fd(l->be);
}

int store_listen_drain(struct store_listen *l)
{
	return l->ops->listen_drain(l->be);
}

void store_listen_close(struct store_listen *l)
{
	if (!l)
		return;
	l->ops->listen_close(l->be);
	free(l);
}
