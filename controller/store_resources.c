/* The resources table and its connector nodes (resource_connectors): the
 * row maps onto struct store_resource through the generic entity code,
 * the connector nodes are read and written here. A resource's connector
 * set is small (STORE_RES_CONNECTORS_MAX), so it is replaced as a whole on
 * every update. */
#include "controller/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "controller/store_backend.h"
#include "controller/store_internal.h"
#include "shared/err.h"

static const struct store_field resource_fields[] = {
	FS(struct store_resource, name),
	FS(struct store_resource, address),
	FJ(struct store_resource, filters, "[]"),
	FJ(struct store_resource, connector_tags, "[]"),
	FO(struct store_resource, mapped_ipv4),
	FO(struct store_resource, mapped_ipv6),
	FC(struct store_resource, created_at),
};
static const struct store_entity resources = {"resources",
	sizeof(struct store_resource), offsetof(struct store_resource, id),
	resource_fields, NFIELDS(resource_fields)};

struct conn_ctx {
	struct store_resource *r;
	int err;
};

static int conn_row(void *ctx, const struct sqlv *cols, int n)
{
	struct conn_ctx *c = ctx;
	struct store_resource *r = c->r;

	if (n != 1 || cols[0].type != SQLV_INT)
		return WEFT_ERR_DB;
	if (r->nconnector_nodes == STORE_RES_CONNECTORS_MAX) {
		store_set_errmsg("resource %lld has too many connectors",
				 (long long)r->id);
		return WEFT_ERR_TOOBIG;
	}
	r->connector_nodes[r->nconnector_nodes++] = cols[0].i;
	return 0;
}

/* Reads r's connector nodes (ascending) into r. */
static int load_connectors(struct store_tx *tx, struct store_resource *r)
{
	struct conn_ctx c = {r, 0};
	struct sqlv p[1] = {sqlv_int(r->id)};

	r->nconnector_nodes = 0;
	return store_tx_query(tx, "SELECT node_id FROM resource_connectors "
			      "WHERE resource_id = ? ORDER BY node_id",
			      p, 1, conn_row, &c, NULL);
}

/* Replaces r's connector nodes by r->connector_nodes. */
static int save_connectors(struct store_tx *tx, const struct store_resource *r)
{
	struct sqlv p[2] = {sqlv_int(r->id)};
	int rc;

	if (r->nconnector_nodes > STORE_RES_CONNECTORS_MAX)
		return WEFT_ERR_INVAL;
	rc = store_tx_query(tx, "DELETE FROM resource_connectors "
			    "WHERE resource_id = ?", p, 1, NULL, NULL, NULL);
	for (size_t i = 0; rc == 0 && i < r->nconnector_nodes; i++) {
		p[1] = sqlv_int(r->connector_nodes[i]);
		rc = store_tx_query(tx, "INSERT INTO resource_connectors "
				    "(resource_id, node_id) VALUES (?, ?) "
				    "ON CONFLICT DO NOTHING",
				    p, 2, NULL, NULL, NULL);
	}
	return rc;
}

int store_resource_create(struct store_tx *tx, struct store_resource *r)
{
	struct store_resource copy;
	int rc;

	if (!r || r->nconnector_nodes > STORE_RES_CONNECTORS_MAX)
		return WEFT_ERR_INVAL;
	copy = *r;
	rc = store_ent_create(tx, &resources, &copy);
	if (rc == 0)
		rc = save_connectors(tx, &copy);
	if (rc == 0)
		*r = copy;
	return rc;
}

int store_resource_get(struct store_tx *tx, int64_t id,
		       struct store_resource *out)
{
	struct store_resource r;
	int rc = store_ent_get(tx, &resources, id, &r);

	if (rc == 0)
		rc = load_connectors(tx, &r);
	if (rc == 0)
		*out = r;
	return rc;
}

int store_resource_get_by_name(struct store_tx *tx, const char *name,
			       struct store_resource *out)
{
	struct store_resource r;
	int rc = store_ent_get_by(tx, &resources, "name", sqlv_text(name), &r);

	if (rc == 0)
		rc = load_connectors(tx, &r);
	if (rc == 0)
		*out = r;
	return rc;
}

int store_resource_update(struct store_tx *tx, const struct store_resource *r)
{
	int rc;

	if (!r || r->nconnector_nodes > STORE_RES_CONNECTORS_MAX)
		return WEFT_ERR_INVAL;
	rc = store_ent_update(tx, &resources, r);
	if (rc == 0)
		rc = save_connectors(tx, r);
	return rc;
}

int store_resource_delete(struct store_tx *tx, int64_t id)
{
	return store_ent_delete(tx, &resources, id);
}

struct resource_emit {
	struct store_tx *tx;
	int (*cb)(void *ctx, const struct store_resource *row);
	void *ctx;
};

/* The connector query runs while the list's rows are read: both engines
 * allow a second statement on the connection then (SQLite steps them
 * side by side; libpq has the whole result already). */
static int resource_emit(void *ctx, const void *row)
{
	struct resource_emit *e = ctx;
	struct store_resource r;
	int rc;

	memcpy(&r, row, sizeof(r));
	rc = load_connectors(e->tx, &r);
	return rc ? rc : e->cb(e->ctx, &r);
}

int store_resource_list(struct store_tx *tx, const struct store_page *pg,
			int (*cb)(void *ctx, const struct store_resource *row),
			void *ctx, int64_t *next_cursor)
{
	struct resource_emit em = {tx, cb, ctx};
	struct store_qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	store_list_start(&q, &resources, pg);
	return store_ent_list(tx, &resources, &q, pg, resource_emit, &em,
			      next_cursor);
}
