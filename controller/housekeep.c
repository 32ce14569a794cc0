#include "controller/housekeep.h"

#include "controller/store.h"
#include "shared/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>

/* The change feed keeps this many versions: a node that was offline for
 * fewer changes than this gets a delta when it comes back. */
#define FEED_KEEP 100000

struct expired {
	int64_t now, grace_s;
	int64_t *ids;
	size_t n, cap;
};

static int64_t gone_since(const struct store_node *n)
{
	return n->last_seen ? n->last_seen : n->created_at;
}

static bool is_expired(const struct store_node *n, int64_t now, int64_t grace)
{
	return n->ephemeral && !n->online && gone_since(n) + grace < now;
}

static int collect(void *ctx, const struct store_node *n)
{
	struct expired *e = ctx;

	if (!is_expired(n, e->now, e->grace_s))
		return 0;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		int64_t *ids = realloc(e->ids, cap * sizeof(*ids));

		if (!ids)
			return WEFT_ERR_NOMEM;
		e->ids = ids;
		e->cap = cap;
	}
	e->ids[e->n++] = n->id;
	return 0;
}

/* Deletes one node if it is still expired: another replica or an agent
 * coming back may have changed it since the scan. */
static int remove_node(struct store *st, int64_t id, int64_t now,
		       int64_t grace, int *removed)
{
	struct store_tx *tx = NULL;
	struct store_node n;
	struct store_audit a = {.at = now};
	int rc;

	rc = store_begin(st, STORE_WRITE, &tx);
	if (rc < 0)
		return rc;
	rc = store_node_get(tx, id, &n);
	if (rc == WEFT_ERR_NOTFOUND || (rc == 0 && !is_expired(&n, now, grace))) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = store_node_delete(tx, id);
	if (rc < 0)
		goto out;
	snprintf(a.actor, sizeof(a.actor), "system");
	snprintf(a.action, sizeof(a.action), "node.delete");
	snprintf(a.target_type, sizeof(a.target_type), "node");
	snprintf(a.target_id, sizeof(a.target_id), "%" PRId64, id);
	snprintf(a.detail, sizeof(a.detail),
		 "{\"reason\":\"ephemeral node offline past grace\","
		 "\"name\":\"%s\"}", n.name);
	rc = store_audit_create(tx, &a);
	if (rc == 0)
		rc = store_change_record(tx, "node", id, NULL);
	if (rc < 0)
		goto out;
	rc = store_commit(tx);
	tx = NULL;
	if (rc == 0)
		(*removed)++;
out:
	store_rollback(tx);
	return rc;
}

int housekeep_run(struct store *st, int64_t now, int64_t grace_s,
		  int *deleted)
{
	struct expired e = {.now = now, .grace_s = grace_s};
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct store_tx *tx = NULL;
	int64_t next = 0;
	int removed = 0, rc;

	rc = store_begin(st, STORE_READ, &tx);
	if (rc < 0)
		return rc;
	do {
		rc = store_node_list(tx, NULL, &pg, collect, &e, &next);
		pg.after = next;
	} while (rc == 0 && next);
	store_rollback(tx);
	for (size_t i = 0; rc == 0 && i < e.n; i++)
		rc = remove_node(st, e.ids[i], now, grace_s, &removed);
	free(e.ids);
	/* Sessions past their end or idle timeout (already refused at use;
	 * this only keeps the table small). */
	if (rc == 0 && (rc = store_begin(st, STORE_WRITE, &tx)) == 0) {
		int64_t version = 0;

		rc = store_session_delete_stale(tx, now, NULL);
		if (rc == 0)
			rc = store_netmap_version(tx, &version);
		if (rc == 0 && version > FEED_KEEP)
			rc = store_change_prune(tx, version - FEED_KEEP);
		if (rc == 0)
			rc = store_commit(tx);
		else
			store_rollback(tx);
	}
	if (deleted)
		*deleted = removed;
	return rc;
}
