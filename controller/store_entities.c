/* The store's per-entity functions: the field lists that describe each
 * table for the generic mapping in store.c, the public store_<entity>_*
 * wrappers that add filters and type-safe callbacks, and the tables that do
 * not map onto one struct (policy, netmap version, settings). */
#include "controller/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "controller/store_backend.h"
#include "controller/store_internal.h"
#include "shared/err.h"

/* --- users --- */

static const struct store_field user_fields[] = {
	FS(struct store_user, name),
	FS(struct store_user, display_name),
	FS(struct store_user, email),
	FS(struct store_user, role),
	FC(struct store_user, created_at),
};
static const struct store_entity users = {"users", sizeof(struct store_user),
	offsetof(struct store_user, id), user_fields, NFIELDS(user_fields)};

int store_user_create(struct store_tx *tx, struct store_user *u)
{
	return u ? store_ent_create(tx, &users, u) : WEFT_ERR_INVAL;
}

int store_user_get(struct store_tx *tx, int64_t id, struct store_user *out)
{
	return store_ent_get(tx, &users, id, out);
}

int store_user_get_by_name(struct store_tx *tx, const char *name,
			   struct store_user *out)
{
	return store_ent_get_by(tx, &users, "name", sqlv_text(name), out);
}

int store_user_update(struct store_tx *tx, const struct store_user *u)
{
	return store_ent_update(tx, &users, u);
}

int store_user_delete(struct store_tx *tx, int64_t id)
{
	return store_ent_delete(tx, &users, id);
}

struct user_emit {
	int (*cb)(void *ctx, const struct store_user *row);
	void *ctx;
};

static int user_emit(void *ctx, const void *row)
{
	struct user_emit *u = ctx;

	return u->cb(u->ctx, row);
}

int store_user_list(struct store_tx *tx, const struct store_user_filter *f,
		    const struct store_page *pg,
		    int (*cb)(void *ctx, const struct store_user *row),
		    void *ctx, int64_t *next_cursor)
{
	struct user_emit em = {cb, ctx};
	struct store_qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	store_list_start(&q, &users, pg);
	if (f && f->name) {
		store_qb_sql(&q, " AND name = ?");
		store_qb_param(&q, sqlv_text(f->name));
	}
	return store_ent_list(tx, &users, &q, pg, user_emit, &em, next_cursor);
}

/* --- api keys --- */

static const struct store_field apikey_fields[] = {
	FS(struct store_apikey, prefix),
	FS(struct store_apikey, hash),
	FR(struct store_apikey, user_id),
	FS(struct store_apikey, description),
	FI(struct store_apikey, expires_at),
	FI(struct store_apikey, revoked_at),
	FI(struct store_apikey, last_used_at),
	FC(struct store_apikey, created_at),
};
static const struct store_entity apikeys = {"api_keys",
	sizeof(struct store_apikey), offsetof(struct store_apikey, id),
	apikey_fields, NFIELDS(apikey_fields)};

int store_apikey_create(struct store_tx *tx, struct store_apikey *k)
{
	return k ? store_ent_create(tx, &apikeys, k) : WEFT_ERR_INVAL;
}

int store_apikey_get(struct store_tx *tx, int64_t id, struct store_apikey *out)
{
	return store_ent_get(tx, &apikeys, id, out);
}

int store_apikey_get_by_prefix(struct store_tx *tx, const char *prefix,
			       struct store_apikey *out)
{
	return store_ent_get_by(tx, &apikeys, "prefix", sqlv_text(prefix), out);
}

int store_apikey_update(struct store_tx *tx, const struct store_apikey *k)
{
	return store_ent_update(tx, &apikeys, k);
}

int store_apikey_delete(struct store_tx *tx, int64_t id)
{
	return store_ent_delete(tx, &apikeys, id);
}

struct apikey_emit {
	int (*cb)(void *ctx, const struct store_apikey *row);
	void *ctx;
};

static int apikey_emit(void *ctx, const void *row)
{
	struct apikey_emit *a = ctx;

	return a->cb(a->ctx, row);
}

int store_apikey_list(struct store_tx *tx, const struct store_apikey_filter *f,
		      const struct store_page *pg,
		      int (*cb)(void *ctx, const struct store_apikey *row),
		      void *ctx, int64_t *next_cursor)
{
	struct apikey_emit em = {cb, ctx};
	struct store_qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	store_list_start(&q, &apikeys, pg);
	if (f && f->user_id) {
		store_qb_sql(&q, " AND user_id = ?");
		store_qb_param(&q, sqlv_int(f->user_id));
	}
	return store_ent_list(tx, &apikeys, &q, pg, apikey_emit, &em,
			      next_cursor);
}

/* --- auth keys --- */

static const struct store_field authkey_fields[] = {
	FS(struct store_authkey, prefix),
	FS(struct store_authkey, hash),
	FR(struct store_authkey, user_id),
	FB(struct store_authkey, reusable),
	FB(struct store_authkey, ephemeral),
	FJ(struct store_authkey, tags, "[]"),
	FI(struct store_authkey, expires_at),
	FI(struct store_authkey, revoked_at),
	FI(struct store_authkey, used_count),
	FC(struct store_authkey, created_at),
};
static const struct store_entity authkeys = {"auth_keys",
	sizeof(struct store_authkey), offsetof(struct store_authkey, id),
	authkey_fields, NFIELDS(authkey_fields)};

int store_authkey_create(struct store_tx *tx, struct store_authkey *k)
{
	return k ? store_ent_create(tx, &authkeys, k) : WEFT_ERR_INVAL;
}

int store_authkey_get(struct store_tx *tx, int64_t id,
		      struct store_authkey *out)
{
	return store_ent_get(tx, &authkeys, id, out);
}

int store_authkey_get_by_prefix(struct store_tx *tx, const char *prefix,
				struct store_authkey *out)
{
	return store_ent_get_by(tx, &authkeys, "prefix", sqlv_text(prefix),
				out);
}

int store_authkey_update(struct store_tx *tx, const struct store_authkey *k)
{
	return store_ent_update(tx, &authkeys, k);
}

int store_authkey_delete(struct store_tx *tx, int64_t id)
{
	return store_ent_delete(tx, &authkeys, id);
}

int store_authkey_use(struct store_tx *tx, int64_t id)
{
	struct sqlv p[1] = {sqlv_int(id)};
	int rc = store_need_write(tx);

	if (rc)
		return rc;
	return store_exec_one(tx, "auth_keys",
			      "UPDATE auth_keys "
			      "SET used_count = used_count + 1 WHERE id = ?",
			      p, 1);
}

struct authkey_emit {
	int (*cb)(void *ctx, const struct store_authkey *row);
	void *ctx;
};

static int authkey_emit(void *ctx, const void *row)
{
	struct authkey_emit *a = ctx;

	return a->cb(a->ctx, row);
}

int store_authkey_list(struct store_tx *tx,
		       const struct store_authkey_filter *f,
		       const struct store_page *pg,
		       int (*cb)(void *ctx, const struct store_authkey *row),
		       void *ctx, int64_t *next_cursor)
{
	struct authkey_emit em = {cb, ctx};
	struct store_qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	store_list_start(&q, &authkeys, pg);
	if (f && f->user_id) {
		store_qb_sql(&q, " AND user_id = ?");
		store_qb_param(&q, sqlv_int(f->user_id));
	}
	if (f && !f->include_revoked)
		store_qb_sql(&q, " AND revoked_at = 0");
	return store_ent_list(tx, &authkeys, &q, pg, authkey_emit, &em,
			      next_cursor);
}

/* --- nodes --- */

static const struct store_field node_fields[] = {
	FS(struct store_node, name),
	FR(struct store_node, user_id),
	FS(struct store_node, public_key),
	FO(struct store_node, ipv4),
	FO(struct store_node, ipv6),
	FJ(struct store_node, tags, "[]"),
	FS(struct store_node, os),
	FS(struct store_node, version),
	FS(struct store_node, cred_hash),
	FJ(struct store_node, endpoints, "[]"),
	FS(struct store_node, home_relay),
	FI(struct store_node, last_seen),
	FB(struct store_node, online),
	FI(struct store_node, expires_at),
	FB(struct store_node, ephemeral),
	FR(struct store_node, auth_key_id),
	FC(struct store_node, created_at),
	FI(struct store_node, updated_at),
};
static const struct store_entity nodes = {"nodes", sizeof(struct store_node),
	offsetof(struct store_node, id), node_fields, NFIELDS(node_fields)};

int store_node_create(struct store_tx *tx, struct store_node *n)
{
	int64_t t = store_now();
	int64_t old_created, old_updated;
	int rc;

	if (!n)
		return WEFT_ERR_INVAL;
	old_created = n->created_at;
	old_updated = n->updated_at;
	if (n->created_at == 0)
		n->created_at = t;
	if (n->updated_at == 0)
		n->updated_at = n->created_at;
	rc = store_ent_create(tx, &nodes, n);
	if (rc) {
		n->created_at = old_created;
		n->updated_at = old_updated;
	}
	return rc;
}

int store_node_get(struct store_tx *tx, int64_t id, struct store_node *out)
{
	return store_ent_get(tx, &nodes, id, out);
}

int store_node_get_by_name(struct store_tx *tx, const char *name,
			   struct store_node *out)
{
	return store_ent_get_by(tx, &nodes, "name", sqlv_text(name), out);
}

int store_node_get_by_key(struct store_tx *tx, const char *public_key,
			  struct store_node *out)
{
	return store_ent_get_by(tx, &nodes, "public_key",
				sqlv_text(public_key), out);
}

int store_node_get_by_ipv4(struct store_tx *tx, const char *ipv4,
			   struct store_node *out)
{
	return store_ent_get_by(tx, &nodes, "ipv4", sqlv_text(ipv4), out);
}

int store_node_update(struct store_tx *tx, const struct store_node *n)
{
	struct store_node *copy;
	int rc;

	if (!n)
		return WEFT_ERR_INVAL;
	copy = malloc(sizeof(*copy));
	if (!copy)
		return WEFT_ERR_NOMEM;
	*copy = *n;
	copy->updated_at = store_now();
	rc = store_ent_update(tx, &nodes, copy);
	free(copy);
	return rc;
}

int store_node_delete(struct store_tx *tx, int64_t id)
{
	return store_ent_delete(tx, &nodes, id);
}

int store_node_touch(struct store_tx *tx, int64_t id, int64_t last_seen,
		     int online)
{
	struct sqlv p[3] = {sqlv_int(last_seen), sqlv_int(online != 0),
			    sqlv_int(id)};
	int rc = store_need_write(tx);

	if (rc)
		return rc;
	return store_exec_one(tx, "nodes",
			      "UPDATE nodes SET last_seen = ?, online = ? "
			      "WHERE id = ?", p, 3);
}

int store_node_count(struct store_tx *tx, int online, int64_t *n)
{
	struct store_one_int o = {0};
	struct sqlv p[1] = {sqlv_int(online != 0)};
	int rc;

	if (!tx || !n)
		return WEFT_ERR_INVAL;
	if (online < 0)
		rc = store_tx_query(tx, "SELECT COUNT(*) FROM nodes", NULL, 0,
				    store_one_int_row, &o, NULL);
	else
		rc = store_tx_query(tx, "SELECT COUNT(*) FROM nodes "
				    "WHERE online = ?", p, 1, store_one_int_row,
				    &o, NULL);
	if (rc == 0)
		*n = o.v;
	return rc;
}

struct node_emit {
	int (*cb)(void *ctx, const struct store_node *row);
	void *ctx;
};

static int node_emit(void *ctx, const void *row)
{
	struct node_emit *e = ctx;

	return e->cb(e->ctx, row);
}

/* Tags are JSON array text, so "has tag T" is a substring match on the
 * quoted tag: portable (LIKE, case-sensitive on both engines, see the
 * SQLite backend) and exact as long as tags need no JSON escaping, which
 * is why tags with '"' or '\' are refused here. */
static int tag_pattern(const char *tag, char *buf, size_t cap)
{
	size_t o = 0;

	if (strchr(tag, '"') || strchr(tag, '\\')) {
		store_set_errmsg("tag filter must not contain '\"' or '\\'");
		return WEFT_ERR_INVAL;
	}
	if (strlen(tag) * 2 + 5 > cap) {
		store_set_errmsg("tag filter too long");
		return WEFT_ERR_TOOBIG;
	}
	buf[o++] = '%';
	buf[o++] = '"';
	for (const char *s = tag; *s; s++) {
		if (*s == '%' || *s == '_')
			buf[o++] = '\\';
		buf[o++] = *s;
	}
	buf[o++] = '"';
	buf[o++] = '%';
	buf[o] = '\0';
	return 0;
}

int store_node_list(struct store_tx *tx, const struct store_node_filter *f,
		    const struct store_page *pg,
		    int (*cb)(void *ctx, const struct store_node *row),
		    void *ctx, int64_t *next_cursor)
{
	struct node_emit em = {cb, ctx};
	char pat[2 * STORE_NAME_SIZE + 8];
	struct store_qb q = {0};
	int rc;

	if (!cb)
		return WEFT_ERR_INVAL;
	store_list_start(&q, &nodes, pg);
	if (f && f->user_id) {
		store_qb_sql(&q, " AND user_id = ?");
		store_qb_param(&q, sqlv_int(f->user_id));
	}
	if (f && f->tag) {
		rc = tag_pattern(f->tag, pat, sizeof(pat));
		if (rc)
			return rc;
		store_qb_sql(&q, " AND tags LIKE ? ESCAPE '\\'");
		store_qb_param(&q, sqlv_text(pat));
	}
	if (f && f->online >= 0) {
		store_qb_sql(&q, " AND online = ?");
		store_qb_param(&q, sqlv_int(f->online != 0));
	}
	return store_ent_list(tx, &nodes, &q, pg, node_emit, &em, next_cursor);
}

/* --- routes --- */

static const struct store_field route_fields[] = {
	FI(struct store_route, node_id),
	FS(struct store_route, prefix),
	FB(struct store_route, advertised),
	FB(struct store_route, approved),
	FC(struct store_route, created_at),
};
static const struct store_entity routes = {"routes", sizeof(struct store_route),
	offsetof(struct store_route, id), route_fields, NFIELDS(route_fields)};

int store_route_create(struct store_tx *tx, struct store_route *r)
{
	return r ? store_ent_create(tx, &routes, r) : WEFT_ERR_INVAL;
}

int store_route_get(struct store_tx *tx, int64_t id, struct store_route *out)
{
	return store_ent_get(tx, &routes, id, out);
}

int store_route_update(struct store_tx *tx, const struct store_route *r)
{
	return store_ent_update(tx, &routes, r);
}

int store_route_delete(struct store_tx *tx, int64_t id)
{
	return store_ent_delete(tx, &routes, id);
}

struct route_emit {
	int (*cb)(void *ctx, const struct store_route *row);
	void *ctx;
};

static int route_emit(void *ctx, const void *row)
{
	struct route_emit *e = ctx;

	return e->cb(e->ctx, row);
}

int store_route_list(struct store_tx *tx, const struct store_route_filter *f,
		     const struct store_page *pg,
		     int (*cb)(void *ctx, const struct store_route *row),
		     void *ctx, int64_t *next_cursor)
{
	struct route_emit em = {cb, ctx};
	struct store_qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	store_list_start(&q, &routes, pg);
	if (f && f->node_id) {
		store_qb_sql(&q, " AND node_id = ?");
		store_qb_param(&q, sqlv_int(f->node_id));
	}
	return store_ent_list(tx, &routes, &q, pg, route_emit, &em,
			      next_cursor);
}

/* --- relays --- */

static const struct store_field relay_fields[] = {
	FS(struct store_relay, name),
	FS(struct store_relay, region),
	FS(struct store_relay, address),
	FS(struct store_relay, public_key_pin),
	FC(struct store_relay, created_at),
};
static const struct store_entity relays = {"relays", sizeof(struct store_relay),
	offsetof(struct store_relay, id), relay_fields, NFIELDS(relay_fields)};

int store_relay_create(struct store_tx *tx, struct store_relay *r)
{
	return r ? store_ent_create(tx, &relays, r) : WEFT_ERR_INVAL;
}

int store_relay_get(struct store_tx *tx, int64_t id, struct store_relay *out)
{
	return store_ent_get(tx, &relays, id, out);
}

int store_relay_get_by_name(struct store_tx *tx, const char *name,
			    struct store_relay *out)
{
	return store_ent_get_by(tx, &relays, "name", sqlv_text(name), out);
}

int store_relay_update(struct store_tx *tx, const struct store_relay *r)
{
	return store_ent_update(tx, &relays, r);
}

int store_relay_delete(struct store_tx *tx, int64_t id)
{
	return store_ent_delete(tx, &relays, id);
}

struct relay_emit {
	int (*cb)(void *ctx, const struct store_relay *row);
	void *ctx;
};

static int relay_emit(void *ctx, const void *row)
{
	struct relay_emit *e = ctx;

	return e->cb(e->ctx, row);
}

int store_relay_list(struct store_tx *tx, const struct store_page *pg,
		     int (*cb)(void *ctx, const struct store_relay *row),
		     void *ctx, int64_t *next_cursor)
{
	struct relay_emit em = {cb, ctx};
	struct store_qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	store_list_start(&q, &relays, pg);
	return store_ent_list(tx, &relays, &q, pg, relay_emit, &em,
			      next_cursor);
}

/* --- audit log --- */

static const struct store_field audit_fields[] = {
	FC(struct store_audit, at),
	FS(struct store_audit, actor),
	FS(struct store_audit, action),
	FS(struct store_audit, target_type),
	FS(struct store_audit, target_id),
	FJ(struct store_audit, detail, "{}"),
};
static const struct store_entity audits = {"audit_log",
	sizeof(struct store_audit), offsetof(struct store_audit, id),
	audit_fields, NFIELDS(audit_fields)};

int store_audit_create(struct store_tx *tx, struct store_audit *a)
{
	return a ? store_ent_create(tx, &audits, a) : WEFT_ERR_INVAL;
}

struct audit_emit {
	int (*cb)(void *ctx, const struct store_audit *row);
	void *ctx;
};

static int audit_emit(void *ctx, const void *row)
{
	struct audit_emit *e = ctx;

	return e->cb(e->ctx, row);
}

int store_audit_list(struct store_tx *tx, const struct store_audit_filter *f,
		     const struct store_page *pg,
		     int (*cb)(void *ctx, const struct store_audit *row),
		     void *ctx, int64_t *next_cursor)
{
	struct audit_emit em = {cb, ctx};
	struct store_qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	store_list_start(&q, &audits, pg);
	if (f && f->actor) {
		store_qb_sql(&q, " AND actor = ?");
		store_qb_param(&q, sqlv_text(f->actor));
	}
	if (f && f->action) {
		store_qb_sql(&q, " AND action = ?");
		store_qb_param(&q, sqlv_text(f->action));
	}
	if (f && f->target_type) {
		store_qb_sql(&q, " AND target_type = ?");
		store_qb_param(&q, sqlv_text(f->target_type));
	}
	if (f && f->since) {
		store_qb_sql(&q, " AND at >= ?");
		store_qb_param(&q, sqlv_int(f->since));
	}
	if (f && f->until) {
		store_qb_sql(&q, " AND at <= ?");
		store_qb_param(&q, sqlv_int(f->until));
	}
	return store_ent_list(tx, &audits, &q, pg, audit_emit, &em,
			      next_cursor);
}

/* --- policy --- */

int store_policy_put(struct store_tx *tx, const char *document,
		     const char *author, int64_t *version)
{
	struct store_one_int o = {0};
	struct sqlv p[3];
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	if (!document)
		return WEFT_ERR_INVAL;
	if (!author)
		author = "";
	if (strlen(document) > STORE_POLICY_MAX) {
		store_set_errmsg("policy document larger than %d bytes",
				 STORE_POLICY_MAX);
		return WEFT_ERR_TOOBIG;
	}
	if (strlen(author) >= STORE_ACTOR_SIZE) {
		store_set_errmsg("author: longer than %d bytes",
				 STORE_ACTOR_SIZE - 1);
		return WEFT_ERR_TOOBIG;
	}
	p[0] = sqlv_text(document);
	p[1] = sqlv_text(author);
	p[2] = sqlv_int(store_now());
	rc = store_tx_query(tx, "INSERT INTO policy "
			    "(document, author, created_at) "
			    "VALUES (?, ?, ?) RETURNING version", p, 3,
			    store_one_int_row, &o, NULL);
	if (rc)
		return rc;
	if (!o.found)
		return WEFT_ERR_DB;
	if (version)
		*version = o.v;
	return 0;
}

struct policy_ctx {
	struct store_policy p;
	bool found;
};

static int policy_row(void *ctx, const struct sqlv *c, int n)
{
	struct policy_ctx *pc = ctx;
	int rc;

	if (n != 4 || c[0].type != SQLV_INT || c[1].type != SQLV_TEXT ||
	    c[3].type != SQLV_INT) {
		store_set_errmsg("policy: unexpected result shape");
		return WEFT_ERR_DB;
	}
	rc = store_copy_str(pc->p.author, sizeof(pc->p.author),
			    c[2].type == SQLV_TEXT ? c[2].s : "", "author");
	if (rc)
		return rc;
	pc->p.document = strdup(c[1].s);
	if (!pc->p.document)
		return WEFT_ERR_NOMEM;
	pc->p.version = c[0].i;
	pc->p.created_at = c[3].i;
	pc->found = true;
	return 0;
}

static int policy_get(struct store_tx *tx, const char *sql,
		      const struct sqlv *p, int np, struct store_policy *out)
{
	struct policy_ctx pc = {0};
	int rc;

	if (!tx || !out)
		return WEFT_ERR_INVAL;
	rc = store_tx_query(tx, sql, p, np, policy_row, &pc, NULL);
	if (rc == 0 && !pc.found) {
		store_set_errmsg("policy: no such version");
		rc = WEFT_ERR_NOTFOUND;
	}
	if (rc) {
		free(pc.p.document);
		return rc;
	}
	*out = pc.p;
	return 0;
}

int store_policy_get_current(struct store_tx *tx, struct store_policy *out)
{
	return policy_get(tx, "SELECT version, document, author, created_at "
			  "FROM policy ORDER BY version DESC LIMIT 1",
			  NULL, 0, out);
}

int store_policy_get(struct store_tx *tx, int64_t version,
		     struct store_policy *out)
{
	struct sqlv p[1] = {sqlv_int(version)};

	return policy_get(tx, "SELECT version, document, author, created_at "
			  "FROM policy WHERE version = ?", p, 1, out);
}

void store_policy_free(struct store_policy *p)
{
	if (!p)
		return;
	free(p->document);
	p->document = NULL;
}

/* --- netmap version --- */

int store_netmap_version(struct store_tx *tx, int64_t *v)
{
	struct store_one_int o = {0};
	int rc;

	if (!tx || !v)
		return WEFT_ERR_INVAL;
	rc = store_tx_query(tx, "SELECT version FROM netmap WHERE id = 1",
			    NULL, 0, store_one_int_row, &o, NULL);
	if (rc)
		return rc;
	if (!o.found) {
		store_set_errmsg("netmap row missing");
		return WEFT_ERR_DB;
	}
	*v = o.v;
	return 0;
}

int store_netmap_bump(struct store_tx *tx, int64_t *newv)
{
	struct store_one_int o = {0};
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	rc = store_tx_query(tx, "UPDATE netmap SET version = version + 1 "
			    "WHERE id = 1 RETURNING version", NULL, 0,
			    store_one_int_row, &o, NULL);
	if (rc)
		return rc;
	if (!o.found) {
		store_set_errmsg("netmap row missing");
		return WEFT_ERR_DB;
	}
	if (newv)
		*newv = o.v;
	return 0;
}

/* --- settings --- */

struct setting_ctx {
	char *buf;
	size_t cap;
	bool found;
};

static int setting_row(void *ctx, const struct sqlv *c, int n)
{
	struct setting_ctx *sc = ctx;
	int rc;

	if (n != 1 || c[0].type != SQLV_TEXT) {
		store_set_errmsg("settings: unexpected result shape");
		return WEFT_ERR_DB;
	}
	rc = store_copy_str(sc->buf, sc->cap, c[0].s, "setting value");
	if (rc == 0)
		sc->found = true;
	return rc;
}

static int check_key(const char *key)
{
	if (!key || !key[0])
		return WEFT_ERR_INVAL;
	if (strlen(key) >= STORE_SETTING_KEY_SIZE) {
		store_set_errmsg("setting key longer than %d bytes",
				 STORE_SETTING_KEY_SIZE - 1);
		return WEFT_ERR_TOOBIG;
	}
	return 0;
}

int store_setting_get(struct store_tx *tx, const char *key, char *buf,
		      size_t cap)
{
	struct setting_ctx sc = {buf, cap, false};
	struct sqlv p[1] = {sqlv_text(key)};
	int rc;

	if (!tx || !buf || cap == 0)
		return WEFT_ERR_INVAL;
	rc = check_key(key);
	if (rc)
		return rc;
	rc = store_tx_query(tx, "SELECT value FROM settings WHERE key = ?",
			    p, 1, setting_row, &sc, NULL);
	if (rc == 0 && !sc.found) {
		store_set_errmsg("setting %s is not set", key);
		rc = WEFT_ERR_NOTFOUND;
	}
	return rc;
}

int store_setting_set(struct store_tx *tx, const char *key, const char *value)
{
	struct sqlv p[2] = {sqlv_text(key), sqlv_text(value)};
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	if (!value)
		return WEFT_ERR_INVAL;
	rc = check_key(key);
	if (rc)
		return rc;
	return store_tx_query(tx, "INSERT INTO settings (key, value) "
			      "VALUES (?, ?) ON CONFLICT (key) "
			      "DO UPDATE SET value = excluded.value",
			      p, 2, NULL, NULL, NULL);
}

int store_setting_delete(struct store_tx *tx, const char *key)
{
	struct sqlv p[1] = {sqlv_text(key)};
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	rc = check_key(key);
	if (rc)
		return rc;
	return store_tx_query(tx, "DELETE FROM settings WHERE key = ?", p, 1,
			      NULL, NULL, NULL);
}
