/* The store's public API: open/close, migrations and transactions, plus
 * the generic entity mapping that store_entities.c builds on.
 *
 * Entity SQL is written once, over the generic interface of
 * store_backend.h. Most tables map one-to-one onto a value struct, so they
 * are described by a table of fields (column name, kind, offset, size) and
 * handled by a few generic functions here (store_ent_create, store_ent_get,
 * store_ent_update, store_ent_delete, store_ent_list); the field tables
 * and the public per-entity functions live in store_entities.c. The SQL
 * only uses what both SQLite and PostgreSQL accept: `?` placeholders,
 * INTEGER 0/1 booleans, TEXT, `INSERT ... RETURNING`,
 * `ON CONFLICT ... DO UPDATE`. */
#include "controller/store.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/store_backend.h"
#include "controller/store_internal.h"
#include "shared/err.h"

struct store {
	const struct store_ops *ops;
	struct store_be *be;
};

struct store_tx {
	struct store *st;
	struct store_conn *c;
	enum store_mode mode;
	bool aborted; /* a statement failed; only rollback is allowed */
};

static _Thread_local char errbuf[512];

struct store *store_tx_store(struct store_tx *tx)
{
	return tx->st;
}

struct store_conn *store_tx_conn(struct store_tx *tx)
{
	return tx->c;
}

const struct store_ops *store_ops_of(const struct store *st)
{
	return st->ops;
}

struct store_be *store_be_of(const struct store *st)
{
	return st->be;
}

const char *store_errmsg(void)
{
	return errbuf;
}

void store_set_errmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
}

int64_t store_now(void)
{
	return (int64_t)time(NULL);
}

/* --- running statements --- */

struct qwrap {
	store_row_fn fn;
	void *ctx;
	bool stopped;
};

static int wrap_row(void *ctx, const struct sqlv *cols, int n)
{
	struct qwrap *w = ctx;
	int rc = w->fn(w->ctx, cols, n);

	if (rc)
		w->stopped = true;
	return rc;
}

/* Runs one statement in tx. An engine error aborts the transaction (so
 * both engines behave alike: PostgreSQL would refuse further statements);
 * a non-zero return of fn is passed through and does not. */
int store_tx_query(struct store_tx *tx, const char *sql,
		   const struct sqlv *p, int np, store_row_fn fn, void *ctx,
		   int64_t *changes)
{
	struct qwrap w = {fn, ctx, false};
	int rc;

	if (tx->aborted) {
		store_set_errmsg("transaction was aborted by an earlier error");
		return WEFT_ERR_INVAL;
	}
	rc = tx->st->ops->query(tx->c, sql, p, np, fn ? wrap_row : NULL, &w,
				changes);
	if (rc && !w.stopped)
		tx->aborted = true;
	return rc;
}

int store_need_write(struct store_tx *tx)
{
	if (!tx)
		return WEFT_ERR_INVAL;
	if (tx->mode != STORE_WRITE) {
		store_set_errmsg("write attempted in a read transaction");
		return WEFT_ERR_INVAL;
	}
	return 0;
}

int store_one_int_row(void *ctx, const struct sqlv *cols, int n)
{
	struct store_one_int *o = ctx;

	if (n < 1 || (cols[0].type != SQLV_INT && cols[0].type != SQLV_NULL)) {
		store_set_errmsg("expected one integer column");
		return WEFT_ERR_DB;
	}
	o->found = true;
	o->v = cols[0].type == SQLV_INT ? cols[0].i : 0;
	return 0;
}

/* Copies s into a buffer of cap bytes or fails with TOOBIG. */
int store_copy_str(char *dst, size_t cap, const char *s, const char *what)
{
	size_t len = strlen(s);

	if (len >= cap) {
		store_set_errmsg("%s: %zu bytes, at most %zu allowed", what,
				 len, cap - 1);
		return WEFT_ERR_TOOBIG;
	}
	memcpy(dst, s, len + 1);
	return 0;
}

/* --- open, close, migrations --- */

static int read_version(struct store_tx *tx, int *out)
{
	struct store_one_int o = {0};
	int rc;

	rc = store_tx_query(tx, "SELECT COALESCE(MAX(version), 0) "
			    "FROM schema_migrations", NULL, 0,
			    store_one_int_row, &o, NULL);
	if (rc == 0)
		*out = (int)o.v;
	return rc;
}

static int newest_migration(const struct store *st)
{
	int newest = 0;

	for (const struct migration *m = st->ops->migrations; m->version; m++)
		newest = m->version;
	return newest;
}

static int migrate(struct store *st, int *applied, char *errmsg,
		   size_t errlen)
{
	struct store_tx *tx = NULL;
	int cur = 0, newest = newest_migration(st), n = 0, rc;

	/* The schema_migrations table itself is made under the write lock
	 * too, so two replicas starting together do not race on it. */
	rc = store_begin(st, STORE_WRITE, &tx);
	if (rc)
		goto out;
	rc = st->ops->exec_script(tx->c,
		"CREATE TABLE IF NOT EXISTS schema_migrations ("
		"version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
		"applied_at BIGINT NOT NULL)");
	if (rc == 0)
		rc = read_version(tx, &cur);
	if (rc) {
		store_rollback(tx);
		goto out;
	}
	rc = store_commit(tx);
	tx = NULL;
	if (rc)
		goto out;
	if (cur > newest) {
		store_set_errmsg("database schema version %d is newer than this "
				 "binary (%d); upgrade weft-controller",
				 cur, newest);
		rc = WEFT_ERR_SCHEMA_NEWER;
		goto out;
	}

	for (const struct migration *m = st->ops->migrations; m->version; m++) {
		struct sqlv p[3];

		if (m->version <= cur)
			continue;
		rc = store_begin(st, STORE_WRITE, &tx);
		if (rc)
			goto out;
		/* Another replica may have got here first. */
		rc = read_version(tx, &cur);
		if (rc == 0 && cur >= m->version) {
			store_rollback(tx);
			tx = NULL;
			continue;
		}
		if (rc == 0) {
			rc = st->ops->exec_script(tx->c, m->sql);
			if (rc)
				tx->aborted = true;
		}
		if (rc == 0) {
			p[0] = sqlv_int(m->version);
			p[1] = sqlv_text(m->name);
			p[2] = sqlv_int(store_now());
			rc = store_tx_query(tx, "INSERT INTO schema_migrations "
					    "(version, name, applied_at) "
					    "VALUES (?, ?, ?)",
					    p, 3, NULL, NULL, NULL);
		}
		if (rc) {
			char detail[sizeof(errbuf)];

			snprintf(detail, sizeof(detail), "%s", store_errmsg());
			store_set_errmsg("migration %03d_%s failed: %s",
					 m->version, m->name, detail);
			store_rollback(tx);
			tx = NULL;
			goto out;
		}
		rc = store_commit(tx);
		tx = NULL;
		if (rc)
			goto out;
		cur = m->version;
		n++;
	}
	if (applied)
		*applied = n;
out:
	if (rc && errmsg && errlen)
		snprintf(errmsg, errlen, "%s", store_errmsg());
	return rc;
}

int store_open(const char *url, struct store **out, char *errmsg,
	       size_t errlen)
{
	const struct store_ops *ops = NULL;
	struct store *st = NULL;
	int rc;

	if (errmsg && errlen)
		errmsg[0] = '\0';
	if (!url || !out) {
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	if (strncmp(url, "sqlite://", 9) == 0)
		ops = &store_sqlite_ops;
	else if (strncmp(url, "postgres://", 11) == 0 ||
		 strncmp(url, "postgresql://", 13) == 0)
		ops = &store_pg_ops;
	if (!ops) {
		if (errmsg && errlen)
			snprintf(errmsg, errlen, "unsupported database URL "
				 "(want sqlite://PATH or postgres://...)");
		store_set_errmsg("unsupported database URL");
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	st->ops = ops;
	rc = ops->open(url, &st->be, errmsg, errlen);
	if (rc)
		goto out;
	rc = migrate(st, NULL, errmsg, errlen);
	if (rc)
		goto out;
	*out = st;
	st = NULL;
out:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->be)
		st->ops->close(st->be);
	free(st);
}

const char *store_backend(const struct store *st)
{
	return st->ops->name;
}

int store_schema_version(struct store *st, int *out)
{
	struct store_tx *tx;
	int v = 0, rc;

	rc = store_begin(st, STORE_READ, &tx);
	if (rc)
		return rc;
	rc = read_version(tx, &v);
	if (rc) {
		store_rollback(tx);
		return rc;
	}
	rc = store_commit(tx);
	if (rc == 0)
		*out = v;
	return rc;
}

int store_migrate(struct store *st, int *applied)
{
	return migrate(st, applied, NULL, 0);
}

/* --- transactions --- */

int store_begin(struct store *st, enum store_mode mode, struct store_tx **out)
{
	struct store_tx *tx;
	int rc;

	if (!st || !out || (mode != STORE_READ && mode != STORE_WRITE))
		return WEFT_ERR_INVAL;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return WEFT_ERR_NOMEM;
	tx->st = st;
	tx->mode = mode;
	rc = st->ops->begin(st->be, mode, &tx->c);
	if (rc) {
		free(tx);
		return rc;
	}
	*out = tx;
	return 0;
}

int store_commit(struct store_tx *tx)
{
	int rc;

	if (!tx)
		return WEFT_ERR_INVAL;
	if (tx->aborted) {
		tx->st->ops->rollback(tx->c);
		store_set_errmsg("commit of a transaction aborted by an "
				 "earlier error; rolled back");
		rc = WEFT_ERR_INVAL;
	} else {
		rc = tx->st->ops->commit(tx->c);
	}
	free(tx);
	return rc;
}

void store_rollback(struct store_tx *tx)
{
	if (!tx)
		return;
	tx->st->ops->rollback(tx->c);
	free(tx);
}

/* --- generic entity mapping --- */

void store_qb_sql(struct store_qb *q, const char *s)
{
	size_t n = strlen(s);

	if (q->len + n >= sizeof(q->sql)) {
		q->err = WEFT_ERR_INTERNAL;
		return;
	}
	memcpy(q->sql + q->len, s, n + 1);
	q->len += n;
}

void store_qb_param(struct store_qb *q, struct sqlv v)
{
	if (q->np >= STORE_MAX_PARAMS) {
		q->err = WEFT_ERR_INTERNAL;
		return;
	}
	q->p[q->np++] = v;
}

static void qb_cols(struct store_qb *q, const struct store_entity *e)
{
	store_qb_sql(q, "id");
	for (int i = 0; i < e->nf; i++) {
		store_qb_sql(q, ", ");
		store_qb_sql(q, e->f[i].col);
	}
}

static int64_t *i64_at(const void *obj, size_t off)
{
	return (int64_t *)((char *)obj + off);
}

/* Appends field f of obj as a parameter (checking string sizes). */
static int bind_field(struct store_qb *q, const struct store_field *f,
		      const void *obj, int64_t created)
{
	const char *base = obj;
	const char *s;

	switch (f->kind) {
	case F_I64:
		store_qb_param(q, sqlv_int(*i64_at(obj, f->off)));
		return 0;
	case F_CREATED:
		store_qb_param(q, sqlv_int(created));
		return 0;
	case F_BOOL:
		store_qb_param(q, sqlv_int(*(const int *)(base + f->off) != 0));
		return 0;
	case F_REF:
		if (*i64_at(obj, f->off) == 0)
			store_qb_param(q, (struct sqlv){.type = SQLV_NULL});
		else
			store_qb_param(q, sqlv_int(*i64_at(obj, f->off)));
		return 0;
	case F_STR:
	case F_OPTSTR:
	case F_JSON:
		s = base + f->off;
		if (strnlen(s, f->size) >= f->size) {
			store_set_errmsg("%s: longer than %zu bytes", f->col,
					 f->size - 1);
			return WEFT_ERR_TOOBIG;
		}
		if (f->kind == F_OPTSTR && s[0] == '\0')
			store_qb_param(q, (struct sqlv){.type = SQLV_NULL});
		else if (f->kind == F_JSON && s[0] == '\0')
			store_qb_param(q, sqlv_text(f->dflt));
		else
			store_qb_param(q, sqlv_text(s));
		return 0;
	}
	return WEFT_ERR_INTERNAL;
}

/* Stores column v into field f of obj. */
static int decode_field(void *obj, const struct store_field *f,
			const struct sqlv *v)
{
	char *base = obj;

	switch (f->kind) {
	case F_I64:
	case F_CREATED:
	case F_REF:
	case F_BOOL:
		if (v->type == SQLV_TEXT) {
			store_set_errmsg("%s: expected an integer", f->col);
			return WEFT_ERR_DB;
		}
		if (f->kind == F_BOOL)
			*(int *)(base + f->off) = v->type == SQLV_INT && v->i;
		else
			*i64_at(obj, f->off) = v->type == SQLV_INT ? v->i : 0;
		return 0;
	case F_STR:
	case F_OPTSTR:
	case F_JSON:
		if (v->type == SQLV_INT) {
			store_set_errmsg("%s: expected text", f->col);
			return WEFT_ERR_DB;
		}
		return store_copy_str(base + f->off, f->size,
				      v->type == SQLV_TEXT ? v->s : "", f->col);
	}
	return WEFT_ERR_INTERNAL;
}

static int decode_row(const struct store_entity *e, void *obj,
		      const struct sqlv *cols, int n)
{
	int rc;

	if (n != e->nf + 1 || cols[0].type != SQLV_INT) {
		store_set_errmsg("%s: unexpected result shape", e->table);
		return WEFT_ERR_DB;
	}
	memset(obj, 0, e->size);
	*i64_at(obj, e->id_off) = cols[0].i;
	for (int i = 0; i < e->nf; i++) {
		rc = decode_field(obj, &e->f[i], &cols[i + 1]);
		if (rc)
			return rc;
	}
	return 0;
}

int store_ent_create(struct store_tx *tx, const struct store_entity *e,
		     void *obj)
{
	struct store_one_int id = {0};
	struct store_qb q = {0};
	int64_t created = 0;
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	store_qb_sql(&q, "INSERT INTO ");
	store_qb_sql(&q, e->table);
	store_qb_sql(&q, " (");
	for (int i = 0; i < e->nf; i++) {
		const struct store_field *f = &e->f[i];

		if (f->kind == F_CREATED) {
			created = *i64_at(obj, f->off);
			if (created == 0)
				created = store_now();
		}
		store_qb_sql(&q, i ? ", " : "");
		store_qb_sql(&q, f->col);
	}
	store_qb_sql(&q, ") VALUES (");
	for (int i = 0; i < e->nf; i++) {
		store_qb_sql(&q, i ? ", ?" : "?");
		rc = bind_field(&q, &e->f[i], obj, created);
		if (rc)
			return rc;
	}
	store_qb_sql(&q, ") RETURNING id");
	if (q.err)
		return q.err;
	rc = store_tx_query(tx, q.sql, q.p, q.np, store_one_int_row, &id, NULL);
	if (rc)
		return rc;
	if (!id.found)
		return WEFT_ERR_DB;
	*i64_at(obj, e->id_off) = id.v;
	for (int i = 0; i < e->nf; i++)
		if (e->f[i].kind == F_CREATED)
			*i64_at(obj, e->f[i].off) = created;
	return 0;
}

struct get_ctx {
	const struct store_entity *e;
	void *row;
	bool found;
};

static int get_row(void *ctx, const struct sqlv *cols, int n)
{
	struct get_ctx *g = ctx;
	int rc = decode_row(g->e, g->row, cols, n);

	if (rc == 0)
		g->found = true;
	return rc;
}

/* Reads the row whose column col equals key into out. */
int store_ent_get_by(struct store_tx *tx, const struct store_entity *e,
		     const char *col, struct sqlv key, void *out)
{
	struct get_ctx g = {e, NULL, false};
	struct store_qb q = {0};
	int rc;

	if (!tx || !out)
		return WEFT_ERR_INVAL;
	if (key.type == SQLV_TEXT && !key.s)
		return WEFT_ERR_INVAL;
	g.row = malloc(e->size);
	if (!g.row)
		return WEFT_ERR_NOMEM;
	store_qb_sql(&q, "SELECT ");
	qb_cols(&q, e);
	store_qb_sql(&q, " FROM ");
	store_qb_sql(&q, e->table);
	store_qb_sql(&q, " WHERE ");
	store_qb_sql(&q, col);
	store_qb_sql(&q, " = ?");
	store_qb_param(&q, key);
	rc = q.err;
	if (rc)
		goto out;
	rc = store_tx_query(tx, q.sql, q.p, q.np, get_row, &g, NULL);
	if (rc)
		goto out;
	if (!g.found) {
		store_set_errmsg("%s: no row with %s", e->table, col);
		rc = WEFT_ERR_NOTFOUND;
		goto out;
	}
	memcpy(out, g.row, e->size);
out:
	free(g.row);
	return rc;
}

int store_ent_get(struct store_tx *tx, const struct store_entity *e, int64_t id,
		  void *out)
{
	return store_ent_get_by(tx, e, "id", sqlv_int(id), out);
}

/* Runs a write statement that must touch a row, else NOTFOUND. */
int store_exec_one(struct store_tx *tx, const char *table, const char *sql,
		   const struct sqlv *p, int np)
{
	int64_t changes = 0;
	int rc;

	rc = store_tx_query(tx, sql, p, np, NULL, NULL, &changes);
	if (rc)
		return rc;
	if (changes == 0) {
		store_set_errmsg("%s: no such row", table);
		return WEFT_ERR_NOTFOUND;
	}
	return 0;
}

int store_ent_update(struct store_tx *tx, const struct store_entity *e,
		     const void *obj)
{
	struct store_qb q = {0};
	bool first = true;
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	if (!obj)
		return WEFT_ERR_INVAL;
	store_qb_sql(&q, "UPDATE ");
	store_qb_sql(&q, e->table);
	store_qb_sql(&q, " SET ");
	for (int i = 0; i < e->nf; i++) {
		const struct store_field *f = &e->f[i];

		if (f->kind == F_CREATED)
			continue;
		store_qb_sql(&q, first ? "" : ", ");
		store_qb_sql(&q, f->col);
		store_qb_sql(&q, " = ?");
		rc = bind_field(&q, f, obj, 0);
		if (rc)
			return rc;
		first = false;
	}
	store_qb_sql(&q, " WHERE id = ?");
	store_qb_param(&q, sqlv_int(*i64_at(obj, e->id_off)));
	if (q.err)
		return q.err;
	return store_exec_one(tx, e->table, q.sql, q.p, q.np);
}

int store_ent_delete(struct store_tx *tx, const struct store_entity *e,
		     int64_t id)
{
	struct store_qb q = {0};
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	store_qb_sql(&q, "DELETE FROM ");
	store_qb_sql(&q, e->table);
	store_qb_sql(&q, " WHERE id = ?");
	store_qb_param(&q, sqlv_int(id));
	if (q.err)
		return q.err;
	return store_exec_one(tx, e->table, q.sql, q.p, q.np);
}

struct list_ctx {
	const struct store_entity *e;
	void *row;
	int limit;
	int n;
	int64_t last;
	bool more;
	store_emit_fn emit;
	void *ectx;
};

static int list_row(void *ctx, const struct sqlv *cols, int n)
{
	struct list_ctx *l = ctx;
	int rc;

	if (l->n == l->limit) {
		l->more = true; /* the one extra row we asked for */
		return 0;
	}
	rc = decode_row(l->e, l->row, cols, n);
	if (rc)
		return rc;
	l->n++;
	l->last = *i64_at(l->row, l->e->id_off);
	return l->emit(l->ectx, l->row);
}

/* Starts q as "SELECT cols FROM table WHERE id > ?"; callers append
 * " AND ..." filters, then store_ent_list() finishes it. */
void store_list_start(struct store_qb *q, const struct store_entity *e,
		      const struct store_page *pg)
{
	store_qb_sql(q, "SELECT ");
	qb_cols(q, e);
	store_qb_sql(q, " FROM ");
	store_qb_sql(q, e->table);
	if (pg && pg->newest_first) {
		store_qb_sql(q, " WHERE id < ?");
		store_qb_param(q, sqlv_int(pg->after > 0 ? pg->after
							  : INT64_MAX));
	} else {
		store_qb_sql(q, " WHERE id > ?");
		store_qb_param(q, sqlv_int(pg ? pg->after : 0));
	}
}

int store_ent_list(struct store_tx *tx, const struct store_entity *e,
		   struct store_qb *q, const struct store_page *pg,
		   store_emit_fn emit, void *ectx, int64_t *next_cursor)
{
	struct list_ctx l = {e, NULL, STORE_PAGE_DEFAULT, 0, 0, false, emit,
			     ectx};
	int rc;

	if (!tx)
		return WEFT_ERR_INVAL;
	if (pg && pg->limit != 0)
		l.limit = pg->limit < 1 ? 1 :
			  pg->limit > STORE_PAGE_MAX ? STORE_PAGE_MAX : pg->limit;
	store_qb_sql(q, pg && pg->newest_first ? " ORDER BY id DESC LIMIT ?"
					       : " ORDER BY id LIMIT ?");
	store_qb_param(q, sqlv_int(l.limit + 1));
	if (q->err)
		return q->err;
	l.row = malloc(e->size);
	if (!l.row)
		return WEFT_ERR_NOMEM;
	rc = store_tx_query(tx, q->sql, q->p, q->np, list_row, &l, NULL);
	free(l.row);
	if (rc)
		return rc;
	if (next_cursor)
		*next_cursor = l.more ? l.last : 0;
	return 0;
}
