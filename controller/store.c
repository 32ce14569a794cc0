/* The store's public API: transactions, migrations and entity CRUD.
 *
 * Entity SQL is written once, here, over the generic interface of
 * store_backend.h. Most tables map one-to-one onto a value struct, so they
 * are described by a table of fields (column name, kind, offset, size) and
 * handled by a few generic functions (ent_create, ent_get, ent_update,
 * ent_delete, ent_list); the public per-entity functions are thin wrappers
 * that add filters and type-safe callbacks. The SQL only uses what both
 * SQLite and PostgreSQL accept: `?` placeholders, INTEGER 0/1 booleans,
 * TEXT, `INSERT ... RETURNING`, `ON CONFLICT ... DO UPDATE`. */
#include "controller/store.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/store_backend.h"
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

static int64_t now(void)
{
	return (int64_t)time(NULL);
}

static struct sqlv v_int(int64_t i)
{
	return (struct sqlv){.type = SQLV_INT, .i = i};
}

static struct sqlv v_text(const char *s)
{
	return (struct sqlv){.type = SQLV_TEXT, .s = s};
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
static int tx_query(struct store_tx *tx, const char *sql,
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

static int need_write(struct store_tx *tx)
{
	if (!tx)
		return WEFT_ERR_INVAL;
	if (tx->mode != STORE_WRITE) {
		store_set_errmsg("write attempted in a read transaction");
		return WEFT_ERR_INVAL;
	}
	return 0;
}

struct one_int {
	bool found;
	int64_t v;
};

static int one_int_row(void *ctx, const struct sqlv *cols, int n)
{
	struct one_int *o = ctx;

	if (n < 1 || (cols[0].type != SQLV_INT && cols[0].type != SQLV_NULL)) {
		store_set_errmsg("expected one integer column");
		return WEFT_ERR_DB;
	}
	o->found = true;
	o->v = cols[0].type == SQLV_INT ? cols[0].i : 0;
	return 0;
}

/* Copies s into a buffer of cap bytes or fails with TOOBIG. */
static int copy_str(char *dst, size_t cap, const char *s, const char *what)
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
	struct one_int o = {0};
	int rc;

	rc = tx_query(tx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
		      NULL, 0, one_int_row, &o, NULL);
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
			p[0] = v_int(m->version);
			p[1] = v_text(m->name);
			p[2] = v_int(now());
			rc = tx_query(tx, "INSERT INTO schema_migrations "
				      "(version, name, applied_at) VALUES (?, ?, ?)",
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

enum fkind {
	F_I64,     /* int64_t */
	F_BOOL,    /* int, stored 0/1 */
	F_REF,     /* int64_t id reference, 0 <-> NULL */
	F_STR,     /* char[size] */
	F_OPTSTR,  /* char[size], "" <-> NULL (nullable unique columns) */
	F_JSON,    /* char[size], "" stored as dflt */
	F_CREATED, /* int64_t set to now when 0, never updated */
};

struct field {
	const char *col;
	enum fkind kind;
	size_t off;
	size_t size;
	const char *dflt;
};

struct entity {
	const char *table;
	size_t size;   /* of the struct */
	size_t id_off; /* of its int64_t id */
	const struct field *f;
	int nf;
};

#define MEMBER_SIZE(t, m) sizeof(((t *)0)->m)
#define FI(t, m) {#m, F_I64, offsetof(t, m), 0, NULL}
#define FB(t, m) {#m, F_BOOL, offsetof(t, m), 0, NULL}
#define FR(t, m) {#m, F_REF, offsetof(t, m), 0, NULL}
#define FS(t, m) {#m, F_STR, offsetof(t, m), MEMBER_SIZE(t, m), NULL}
#define FO(t, m) {#m, F_OPTSTR, offsetof(t, m), MEMBER_SIZE(t, m), NULL}
#define FJ(t, m, d) {#m, F_JSON, offsetof(t, m), MEMBER_SIZE(t, m), d}
#define FC(t, m) {#m, F_CREATED, offsetof(t, m), 0, NULL}
#define NFIELDS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A small SQL text + parameter builder with a hard size limit. */
struct qb {
	char sql[2048];
	size_t len;
	struct sqlv p[STORE_MAX_PARAMS];
	int np;
	int err;
};

static void qb_sql(struct qb *q, const char *s)
{
	size_t n = strlen(s);

	if (q->len + n >= sizeof(q->sql)) {
		q->err = WEFT_ERR_INTERNAL;
		return;
	}
	memcpy(q->sql + q->len, s, n + 1);
	q->len += n;
}

static void qb_param(struct qb *q, struct sqlv v)
{
	if (q->np >= STORE_MAX_PARAMS) {
		q->err = WEFT_ERR_INTERNAL;
		return;
	}
	q->p[q->np++] = v;
}

static void qb_cols(struct qb *q, const struct entity *e)
{
	qb_sql(q, "id");
	for (int i = 0; i < e->nf; i++) {
		qb_sql(q, ", ");
		qb_sql(q, e->f[i].col);
	}
}

static int64_t *i64_at(const void *obj, size_t off)
{
	return (int64_t *)((char *)obj + off);
}

/* Appends field f of obj as a parameter (checking string sizes). */
static int bind_field(struct qb *q, const struct field *f, const void *obj,
		      int64_t created)
{
	const char *base = obj;
	const char *s;

	switch (f->kind) {
	case F_I64:
		qb_param(q, v_int(*i64_at(obj, f->off)));
		return 0;
	case F_CREATED:
		qb_param(q, v_int(created));
		return 0;
	case F_BOOL:
		qb_param(q, v_int(*(const int *)(base + f->off) != 0));
		return 0;
	case F_REF:
		if (*i64_at(obj, f->off) == 0)
			qb_param(q, (struct sqlv){.type = SQLV_NULL});
		else
			qb_param(q, v_int(*i64_at(obj, f->off)));
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
			qb_param(q, (struct sqlv){.type = SQLV_NULL});
		else if (f->kind == F_JSON && s[0] == '\0')
			qb_param(q, v_text(f->dflt));
		else
			qb_param(q, v_text(s));
		return 0;
	}
	return WEFT_ERR_INTERNAL;
}

/* Stores column v into field f of obj. */
static int decode_field(void *obj, const struct field *f, const struct sqlv *v)
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
		return copy_str(base + f->off, f->size,
				v->type == SQLV_TEXT ? v->s : "", f->col);
	}
	return WEFT_ERR_INTERNAL;
}

static int decode_row(const struct entity *e, void *obj,
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

static int ent_create(struct store_tx *tx, const struct entity *e, void *obj)
{
	struct one_int id = {0};
	struct qb q = {0};
	int64_t created = 0;
	int rc;

	rc = need_write(tx);
	if (rc)
		return rc;
	qb_sql(&q, "INSERT INTO ");
	qb_sql(&q, e->table);
	qb_sql(&q, " (");
	for (int i = 0; i < e->nf; i++) {
		const struct field *f = &e->f[i];

		if (f->kind == F_CREATED) {
			created = *i64_at(obj, f->off);
			if (created == 0)
				created = now();
		}
		qb_sql(&q, i ? ", " : "");
		qb_sql(&q, f->col);
	}
	qb_sql(&q, ") VALUES (");
	for (int i = 0; i < e->nf; i++) {
		qb_sql(&q, i ? ", ?" : "?");
		rc = bind_field(&q, &e->f[i], obj, created);
		if (rc)
			return rc;
	}
	qb_sql(&q, ") RETURNING id");
	if (q.err)
		return q.err;
	rc = tx_query(tx, q.sql, q.p, q.np, one_int_row, &id, NULL);
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
	const struct entity *e;
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
static int ent_get_by(struct store_tx *tx, const struct entity *e,
		      const char *col, struct sqlv key, void *out)
{
	struct get_ctx g = {e, NULL, false};
	struct qb q = {0};
	int rc;

	if (!tx || !out)
		return WEFT_ERR_INVAL;
	if (key.type == SQLV_TEXT && !key.s)
		return WEFT_ERR_INVAL;
	g.row = malloc(e->size);
	if (!g.row)
		return WEFT_ERR_NOMEM;
	qb_sql(&q, "SELECT ");
	qb_cols(&q, e);
	qb_sql(&q, " FROM ");
	qb_sql(&q, e->table);
	qb_sql(&q, " WHERE ");
	qb_sql(&q, col);
	qb_sql(&q, " = ?");
	qb_param(&q, key);
	rc = q.err;
	if (rc)
		goto out;
	rc = tx_query(tx, q.sql, q.p, q.np, get_row, &g, NULL);
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

static int ent_get(struct store_tx *tx, const struct entity *e, int64_t id,
		   void *out)
{
	return ent_get_by(tx, e, "id", v_int(id), out);
}

/* Runs a write statement that must touch a row, else NOTFOUND. */
static int exec_one(struct store_tx *tx, const char *table, const char *sql,
		    const struct sqlv *p, int np)
{
	int64_t changes = 0;
	int rc;

	rc = tx_query(tx, sql, p, np, NULL, NULL, &changes);
	if (rc)
		return rc;
	if (changes == 0) {
		store_set_errmsg("%s: no such row", table);
		return WEFT_ERR_NOTFOUND;
	}
	return 0;
}

static int ent_update(struct store_tx *tx, const struct entity *e,
		      const void *obj)
{
	struct qb q = {0};
	bool first = true;
	int rc;

	rc = need_write(tx);
	if (rc)
		return rc;
	if (!obj)
		return WEFT_ERR_INVAL;
	qb_sql(&q, "UPDATE ");
	qb_sql(&q, e->table);
	qb_sql(&q, " SET ");
	for (int i = 0; i < e->nf; i++) {
		const struct field *f = &e->f[i];

		if (f->kind == F_CREATED)
			continue;
		qb_sql(&q, first ? "" : ", ");
		qb_sql(&q, f->col);
		qb_sql(&q, " = ?");
		rc = bind_field(&q, f, obj, 0);
		if (rc)
			return rc;
		first = false;
	}
	qb_sql(&q, " WHERE id = ?");
	qb_param(&q, v_int(*i64_at(obj, e->id_off)));
	if (q.err)
		return q.err;
	return exec_one(tx, e->table, q.sql, q.p, q.np);
}

static int ent_delete(struct store_tx *tx, const struct entity *e, int64_t id)
{
	struct qb q = {0};
	int rc;

	rc = need_write(tx);
	if (rc)
		return rc;
	qb_sql(&q, "DELETE FROM ");
	qb_sql(&q, e->table);
	qb_sql(&q, " WHERE id = ?");
	qb_param(&q, v_int(id));
	if (q.err)
		return q.err;
	return exec_one(tx, e->table, q.sql, q.p, q.np);
}

typedef int (*emit_fn)(void *ctx, const void *row);

struct list_ctx {
	const struct entity *e;
	void *row;
	int limit;
	int n;
	int64_t last;
	bool more;
	emit_fn emit;
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
 * " AND ..." filters, then ent_list() finishes it. */
static void list_start(struct qb *q, const struct entity *e,
		       const struct store_page *pg)
{
	qb_sql(q, "SELECT ");
	qb_cols(q, e);
	qb_sql(q, " FROM ");
	qb_sql(q, e->table);
	qb_sql(q, " WHERE id > ?");
	qb_param(q, v_int(pg ? pg->after : 0));
}

static int ent_list(struct store_tx *tx, const struct entity *e,
		    struct qb *q, const struct store_page *pg, emit_fn emit,
		    void *ectx, int64_t *next_cursor)
{
	struct list_ctx l = {e, NULL, STORE_PAGE_DEFAULT, 0, 0, false, emit,
			     ectx};
	int rc;

	if (!tx)
		return WEFT_ERR_INVAL;
	if (pg && pg->limit != 0)
		l.limit = pg->limit < 1 ? 1 :
			  pg->limit > STORE_PAGE_MAX ? STORE_PAGE_MAX : pg->limit;
	qb_sql(q, " ORDER BY id LIMIT ?");
	qb_param(q, v_int(l.limit + 1));
	if (q->err)
		return q->err;
	l.row = malloc(e->size);
	if (!l.row)
		return WEFT_ERR_NOMEM;
	rc = tx_query(tx, q->sql, q->p, q->np, list_row, &l, NULL);
	free(l.row);
	if (rc)
		return rc;
	if (next_cursor)
		*next_cursor = l.more ? l.last : 0;
	return 0;
}

/* --- users --- */

static const struct field user_fields[] = {
	FS(struct store_user, name),
	FS(struct store_user, display_name),
	FS(struct store_user, email),
	FS(struct store_user, role),
	FC(struct store_user, created_at),
};
static const struct entity users = {"users", sizeof(struct store_user),
	offsetof(struct store_user, id), user_fields, NFIELDS(user_fields)};

int store_user_create(struct store_tx *tx, struct store_user *u)
{
	return u ? ent_create(tx, &users, u) : WEFT_ERR_INVAL;
}

int store_user_get(struct store_tx *tx, int64_t id, struct store_user *out)
{
	return ent_get(tx, &users, id, out);
}

int store_user_get_by_name(struct store_tx *tx, const char *name,
			   struct store_user *out)
{
	return ent_get_by(tx, &users, "name", v_text(name), out);
}

int store_user_update(struct store_tx *tx, const struct store_user *u)
{
	return ent_update(tx, &users, u);
}

int store_user_delete(struct store_tx *tx, int64_t id)
{
	return ent_delete(tx, &users, id);
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
	struct qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	list_start(&q, &users, pg);
	if (f && f->name) {
		qb_sql(&q, " AND name = ?");
		qb_param(&q, v_text(f->name));
	}
	return ent_list(tx, &users, &q, pg, user_emit, &em, next_cursor);
}

/* --- api keys --- */

static const struct field apikey_fields[] = {
	FS(struct store_apikey, prefix),
	FS(struct store_apikey, hash),
	FR(struct store_apikey, user_id),
	FS(struct store_apikey, description),
	FI(struct store_apikey, expires_at),
	FI(struct store_apikey, revoked_at),
	FI(struct store_apikey, last_used_at),
	FC(struct store_apikey, created_at),
};
static const struct entity apikeys = {"api_keys", sizeof(struct store_apikey),
	offsetof(struct store_apikey, id), apikey_fields, NFIELDS(apikey_fields)};

int store_apikey_create(struct store_tx *tx, struct store_apikey *k)
{
	return k ? ent_create(tx, &apikeys, k) : WEFT_ERR_INVAL;
}

int store_apikey_get(struct store_tx *tx, int64_t id, struct store_apikey *out)
{
	return ent_get(tx, &apikeys, id, out);
}

int store_apikey_get_by_prefix(struct store_tx *tx, const char *prefix,
			       struct store_apikey *out)
{
	return ent_get_by(tx, &apikeys, "prefix", v_text(prefix), out);
}

int store_apikey_update(struct store_tx *tx, const struct store_apikey *k)
{
	return ent_update(tx, &apikeys, k);
}

int store_apikey_delete(struct store_tx *tx, int64_t id)
{
	return ent_delete(tx, &apikeys, id);
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
	struct qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	list_start(&q, &apikeys, pg);
	if (f && f->user_id) {
		qb_sql(&q, " AND user_id = ?");
		qb_param(&q, v_int(f->user_id));
	}
	return ent_list(tx, &apikeys, &q, pg, apikey_emit, &em, next_cursor);
}

/* --- auth keys --- */

static const struct field authkey_fields[] = {
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
static const struct entity authkeys = {"auth_keys",
	sizeof(struct store_authkey), offsetof(struct store_authkey, id),
	authkey_fields, NFIELDS(authkey_fields)};

int store_authkey_create(struct store_tx *tx, struct store_authkey *k)
{
	return k ? ent_create(tx, &authkeys, k) : WEFT_ERR_INVAL;
}

int store_authkey_get(struct store_tx *tx, int64_t id,
		      struct store_authkey *out)
{
	return ent_get(tx, &authkeys, id, out);
}

int store_authkey_get_by_prefix(struct store_tx *tx, const char *prefix,
				struct store_authkey *out)
{
	return ent_get_by(tx, &authkeys, "prefix", v_text(prefix), out);
}

int store_authkey_update(struct store_tx *tx, const struct store_authkey *k)
{
	return ent_update(tx, &authkeys, k);
}

int store_authkey_delete(struct store_tx *tx, int64_t id)
{
	return ent_delete(tx, &authkeys, id);
}

int store_authkey_use(struct store_tx *tx, int64_t id)
{
	struct sqlv p[1] = {v_int(id)};
	int rc = need_write(tx);

	if (rc)
		return rc;
	return exec_one(tx, "auth_keys",
			"UPDATE auth_keys SET used_count = used_count + 1 "
			"WHERE id = ?", p, 1);
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
	struct qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	list_start(&q, &authkeys, pg);
	if (f && f->user_id) {
		qb_sql(&q, " AND user_id = ?");
		qb_param(&q, v_int(f->user_id));
	}
	if (f && !f->include_revoked)
		qb_sql(&q, " AND revoked_at = 0");
	return ent_list(tx, &authkeys, &q, pg, authkey_emit, &em, next_cursor);
}

/* --- nodes --- */

static const struct field node_fields[] = {
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
static const struct entity nodes = {"nodes", sizeof(struct store_node),
	offsetof(struct store_node, id), node_fields, NFIELDS(node_fields)};

int store_node_create(struct store_tx *tx, struct store_node *n)
{
	int64_t t = now();
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
	rc = ent_create(tx, &nodes, n);
	if (rc) {
		n->created_at = old_created;
		n->updated_at = old_updated;
	}
	return rc;
}

int store_node_get(struct store_tx *tx, int64_t id, struct store_node *out)
{
	return ent_get(tx, &nodes, id, out);
}

int store_node_get_by_name(struct store_tx *tx, const char *name,
			   struct store_node *out)
{
	return ent_get_by(tx, &nodes, "name", v_text(name), out);
}

int store_node_get_by_key(struct store_tx *tx, const char *public_key,
			  struct store_node *out)
{
	return ent_get_by(tx, &nodes, "public_key", v_text(public_key), out);
}

int store_node_get_by_ipv4(struct store_tx *tx, const char *ipv4,
			   struct store_node *out)
{
	return ent_get_by(tx, &nodes, "ipv4", v_text(ipv4), out);
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
	copy->updated_at = now();
	rc = ent_update(tx, &nodes, copy);
	free(copy);
	return rc;
}

int store_node_delete(struct store_tx *tx, int64_t id)
{
	return ent_delete(tx, &nodes, id);
}

int store_node_touch(struct store_tx *tx, int64_t id, int64_t last_seen,
		     int online)
{
	struct sqlv p[3] = {v_int(last_seen), v_int(online != 0), v_int(id)};
	int rc = need_write(tx);

	if (rc)
		return rc;
	return exec_one(tx, "nodes",
			"UPDATE nodes SET last_seen = ?, online = ? WHERE id = ?",
			p, 3);
}

int store_node_count(struct store_tx *tx, int online, int64_t *n)
{
	struct one_int o = {0};
	struct sqlv p[1] = {v_int(online != 0)};
	int rc;

	if (!tx || !n)
		return WEFT_ERR_INVAL;
	if (online < 0)
		rc = tx_query(tx, "SELECT COUNT(*) FROM nodes", NULL, 0,
			      one_int_row, &o, NULL);
	else
		rc = tx_query(tx, "SELECT COUNT(*) FROM nodes WHERE online = ?",
			      p, 1, one_int_row, &o, NULL);
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
	struct qb q = {0};
	int rc;

	if (!cb)
		return WEFT_ERR_INVAL;
	list_start(&q, &nodes, pg);
	if (f && f->user_id) {
		qb_sql(&q, " AND user_id = ?");
		qb_param(&q, v_int(f->user_id));
	}
	if (f && f->tag) {
		rc = tag_pattern(f->tag, pat, sizeof(pat));
		if (rc)
			return rc;
		qb_sql(&q, " AND tags LIKE ? ESCAPE '\\'");
		qb_param(&q, v_text(pat));
	}
	if (f && f->online >= 0) {
		qb_sql(&q, " AND online = ?");
		qb_param(&q, v_int(f->online != 0));
	}
	return ent_list(tx, &nodes, &q, pg, node_emit, &em, next_cursor);
}

/* --- routes --- */

static const struct field route_fields[] = {
	FI(struct store_route, node_id),
	FS(struct store_route, prefix),
	FB(struct store_route, advertised),
	FB(struct store_route, approved),
	FC(struct store_route, created_at),
};
static const struct entity routes = {"routes", sizeof(struct store_route),
	offsetof(struct store_route, id), route_fields, NFIELDS(route_fields)};

int store_route_create(struct store_tx *tx, struct store_route *r)
{
	return r ? ent_create(tx, &routes, r) : WEFT_ERR_INVAL;
}

int store_route_get(struct store_tx *tx, int64_t id, struct store_route *out)
{
	return ent_get(tx, &routes, id, out);
}

int store_route_update(struct store_tx *tx, const struct store_route *r)
{
	return ent_update(tx, &routes, r);
}

int store_route_delete(struct store_tx *tx, int64_t id)
{
	return ent_delete(tx, &routes, id);
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
	struct qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	list_start(&q, &routes, pg);
	if (f && f->node_id) {
		qb_sql(&q, " AND node_id = ?");
		qb_param(&q, v_int(f->node_id));
	}
	return ent_list(tx, &routes, &q, pg, route_emit, &em, next_cursor);
}

/* --- resources --- */

static const struct field resource_fields[] = {
	FS(struct store_resource, name),
	FS(struct store_resource, address),
	FS(struct store_resource, protocol),
	FS(struct store_resource, ports),
	FR(struct store_resource, connector_node_id),
	FS(struct store_resource, connector_tag),
	FC(struct store_resource, created_at),
};
static const struct entity resources = {"resources",
	sizeof(struct store_resource), offsetof(struct store_resource, id),
	resource_fields, NFIELDS(resource_fields)};

int store_resource_create(struct store_tx *tx, struct store_resource *r)
{
	return r ? ent_create(tx, &resources, r) : WEFT_ERR_INVAL;
}

int store_resource_get(struct store_tx *tx, int64_t id,
		       struct store_resource *out)
{
	return ent_get(tx, &resources, id, out);
}

int store_resource_get_by_name(struct store_tx *tx, const char *name,
			       struct store_resource *out)
{
	return ent_get_by(tx, &resources, "name", v_text(name), out);
}

int store_resource_update(struct store_tx *tx, const struct store_resource *r)
{
	return ent_update(tx, &resources, r);
}

int store_resource_delete(struct store_tx *tx, int64_t id)
{
	return ent_delete(tx, &resources, id);
}

struct resource_emit {
	int (*cb)(void *ctx, const struct store_resource *row);
	void *ctx;
};

static int resource_emit(void *ctx, const void *row)
{
	struct resource_emit *e = ctx;

	return e->cb(e->ctx, row);
}

int store_resource_list(struct store_tx *tx, const struct store_page *pg,
			int (*cb)(void *ctx, const struct store_resource *row),
			void *ctx, int64_t *next_cursor)
{
	struct resource_emit em = {cb, ctx};
	struct qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	list_start(&q, &resources, pg);
	return ent_list(tx, &resources, &q, pg, resource_emit, &em,
			next_cursor);
}

/* --- relays --- */

static const struct field relay_fields[] = {
	FS(struct store_relay, name),
	FS(struct store_relay, region),
	FS(struct store_relay, address),
	FS(struct store_relay, public_key_pin),
	FC(struct store_relay, created_at),
};
static const struct entity relays = {"relays", sizeof(struct store_relay),
	offsetof(struct store_relay, id), relay_fields, NFIELDS(relay_fields)};

int store_relay_create(struct store_tx *tx, struct store_relay *r)
{
	return r ? ent_create(tx, &relays, r) : WEFT_ERR_INVAL;
}

int store_relay_get(struct store_tx *tx, int64_t id, struct store_relay *out)
{
	return ent_get(tx, &relays, id, out);
}

int store_relay_get_by_name(struct store_tx *tx, const char *name,
			    struct store_relay *out)
{
	return ent_get_by(tx, &relays, "name", v_text(name), out);
}

int store_relay_update(struct store_tx *tx, const struct store_relay *r)
{
	return ent_update(tx, &relays, r);
}

int store_relay_delete(struct store_tx *tx, int64_t id)
{
	return ent_delete(tx, &relays, id);
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
	struct qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	list_start(&q, &relays, pg);
	return ent_list(tx, &relays, &q, pg, relay_emit, &em, next_cursor);
}

/* --- audit log --- */

static const struct field audit_fields[] = {
	FC(struct store_audit, at),
	FS(struct store_audit, actor),
	FS(struct store_audit, action),
	FS(struct store_audit, target_type),
	FS(struct store_audit, target_id),
	FJ(struct store_audit, detail, "{}"),
};
static const struct entity audits = {"audit_log", sizeof(struct store_audit),
	offsetof(struct store_audit, id), audit_fields, NFIELDS(audit_fields)};

int store_audit_create(struct store_tx *tx, struct store_audit *a)
{
	return a ? ent_create(tx, &audits, a) : WEFT_ERR_INVAL;
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
	struct qb q = {0};

	if (!cb)
		return WEFT_ERR_INVAL;
	list_start(&q, &audits, pg);
	if (f && f->actor) {
		qb_sql(&q, " AND actor = ?");
		qb_param(&q, v_text(f->actor));
	}
	if (f && f->action) {
		qb_sql(&q, " AND action = ?");
		qb_param(&q, v_text(f->action));
	}
	if (f && f->target_type) {
		qb_sql(&q, " AND target_type = ?");
		qb_param(&q, v_text(f->target_type));
	}
	if (f && f->since) {
		qb_sql(&q, " AND at >= ?");
		qb_param(&q, v_int(f->since));
	}
	return ent_list(tx, &audits, &q, pg, audit_emit, &em, next_cursor);
}

/* --- policy --- */

int store_policy_put(struct store_tx *tx, const char *document,
		     const char *author, int64_t *version)
{
	struct one_int o = {0};
	struct sqlv p[3];
	int rc;

	rc = need_write(tx);
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
	p[0] = v_text(document);
	p[1] = v_text(author);
	p[2] = v_int(now());
	rc = tx_query(tx, "INSERT INTO policy (document, author, created_at) "
		      "VALUES (?, ?, ?) RETURNING version", p, 3, one_int_row,
		      &o, NULL);
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
	rc = copy_str(pc->p.author, sizeof(pc->p.author),
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
	rc = tx_query(tx, sql, p, np, policy_row, &pc, NULL);
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
	struct sqlv p[1] = {v_int(version)};

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
	struct one_int o = {0};
	int rc;

	if (!tx || !v)
		return WEFT_ERR_INVAL;
	rc = tx_query(tx, "SELECT version FROM netmap WHERE id = 1", NULL, 0,
		      one_int_row, &o, NULL);
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
	struct one_int o = {0};
	int rc;

	rc = need_write(tx);
	if (rc)
		return rc;
	rc = tx_query(tx, "UPDATE netmap SET version = version + 1 "
		      "WHERE id = 1 RETURNING version", NULL, 0, one_int_row,
		      &o, NULL);
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
	rc = copy_str(sc->buf, sc->cap, c[0].s, "setting value");
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
	struct sqlv p[1] = {v_text(key)};
	int rc;

	if (!tx || !buf || cap == 0)
		return WEFT_ERR_INVAL;
	rc = check_key(key);
	if (rc)
		return rc;
	rc = tx_query(tx, "SELECT value FROM settings WHERE key = ?", p, 1,
		      setting_row, &sc, NULL);
	if (rc == 0 && !sc.found) {
		store_set_errmsg("setting %s is not set", key);
		rc = WEFT_ERR_NOTFOUND;
	}
	return rc;
}

int store_setting_set(struct store_tx *tx, const char *key, const char *value)
{
	struct sqlv p[2] = {v_text(key), v_text(value)};
	int rc;

	rc = need_write(tx);
	if (rc)
		return rc;
	if (!value)
		return WEFT_ERR_INVAL;
	rc = check_key(key);
	if (rc)
		return rc;
	return tx_query(tx, "INSERT INTO settings (key, value) VALUES (?, ?) "
			"ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			p, 2, NULL, NULL, NULL);
}
