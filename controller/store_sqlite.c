/* SQLite backend of the store.
 *
 * One writer connection, guarded by a mutex, runs every write transaction
 * (BEGIN IMMEDIATE), so writers in this process queue on the mutex rather
 * than spinning on SQLITE_BUSY. A small pool of reader connections serves
 * read transactions; with WAL each reader sees the last committed snapshot
 * and never waits for the writer. The busy timeout covers the remaining
 * cases (another process writing, WAL recovery). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/store_backend.h"
#include "shared/err.h"

/* Reader connections: WEFT_SQLITE_READERS (1..READERS_MAX), default 4.
 * Tests run the long-poll suite with one reader: a thread that waits for
 * a reader while holding something another reader's holder needs shows
 * up there as a hang. */
#define READERS_DEFAULT 4
#define READERS_MAX 64
#define BUSY_TIMEOUT_MS 5000

struct store_conn {
	struct store_be *be;
	sqlite3 *db;
	bool writer;
	bool in_use; /* readers only, under be->mu */
};

struct store_be {
	pthread_mutex_t wlock; /* held for a whole write transaction */
	pthread_mutex_t mu;    /* reader pool */
	pthread_cond_t cv;
	struct store_conn writer;
	int nreaders;
	struct store_conn readers[READERS_MAX];
};

/* Maps an extended result code to WEFT_ERR_* and records the message. */
static int map_err(sqlite3 *db, int rc)
{
	int ext = db ? sqlite3_extended_errcode(db) : rc;

	store_set_errmsg("sqlite: %s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	switch (ext) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return WEFT_ERR_EXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return WEFT_ERR_CONFLICT;
	}
	switch (ext & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return WEFT_ERR_BUSY;
	case SQLITE_NOMEM:
		return WEFT_ERR_NOMEM;
	}
	return WEFT_ERR_DB;
}

static int exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : map_err(db, rc);
}

static int open_conn(struct store_be *be, struct store_conn *c,
		     const char *path, bool writer, char *errmsg,
		     size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int rc;

	c->be = be;
	c->writer = writer;
	if (writer)
		flags |= SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(errmsg, errlen, "cannot open %s: %s", path,
			 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		c->db = NULL;
		return WEFT_ERR_DB;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	/* case_sensitive_like makes LIKE behave as on PostgreSQL (the node
	 * tag filter relies on it). */
	rc = exec(c->db, writer ?
		  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
		  "PRAGMA foreign_keys=ON; PRAGMA case_sensitive_like=ON;" :
		  "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
		  "PRAGMA case_sensitive_like=ON; PRAGMA query_only=ON;");
	if (rc) {
		snprintf(errmsg, errlen, "cannot set up %s: %s", path,
			 sqlite3_errmsg(c->db));
		sqlite3_close(c->db);
		c->db = NULL;
	}
	return rc;
}

static int readers_wanted(void)
{
	const char *e = getenv("WEFT_SQLITE_READERS");
	char *end;
	long n;

	if (!e || !*e)
		return READERS_DEFAULT;
	n = strtol(e, &end, 10);
	if (*end || n < 1)
		return READERS_DEFAULT;
	return n > READERS_MAX ? READERS_MAX : (int)n;
}

static void sq_close(struct store_be *be)
{
	if (!be)
		return;
	for (int i = 0; i < be->nreaders; i++)
		sqlite3_close(be->readers[i].db);
	sqlite3_close(be->writer.db);
	pthread_cond_destroy(&be->cv);
	pthread_mutex_destroy(&be->mu);
	pthread_mutex_destroy(&be->wlock);
	free(be);
}

static int sq_open(const char *url, struct store_be **out, char *errmsg,
		   size_t errlen)
{
	char dummy[1];
	const char *path = url + strlen("sqlite://");
	struct store_be *be;
	int rc;

	if (!errmsg || !errlen) {
		errmsg = dummy;
		errlen = sizeof(dummy);
	}
	if (!*path || strcmp(path, ":memory:") == 0 || strchr(path, '?')) {
		snprintf(errmsg, errlen, "sqlite URL needs a file path "
			 "(sqlite:///abs/path.db or sqlite://rel/path.db)");
		return WEFT_ERR_INVAL;
	}
	be = calloc(1, sizeof(*be));
	if (!be)
		return WEFT_ERR_NOMEM;
	be->nreaders = readers_wanted();
	pthread_mutex_init(&be->wlock, NULL);
	pthread_mutex_init(&be->mu, NULL);
	pthread_cond_init(&be->cv, NULL);
	/* The writer first: it creates the file and switches it to WAL. */
	rc = open_conn(be, &be->writer, path, true, errmsg, errlen);
	for (int i = 0; rc == 0 && i < be->nreaders; i++)
		rc = open_conn(be, &be->readers[i], path, false, errmsg, errlen);
	if (rc) {
		sq_close(be);
		return rc;
	}
	*out = be;
	return 0;
}

static int sq_begin(struct store_be *be, enum store_mode mode,
		    struct store_conn **out)
{
	struct store_conn *c = NULL;
	int rc;

	if (mode == STORE_WRITE) {
		pthread_mutex_lock(&be->wlock);
		rc = exec(be->writer.db, "BEGIN IMMEDIATE");
		if (rc) {
			pthread_mutex_unlock(&be->wlock);
			return rc;
		}
		*out = &be->writer;
		return 0;
	}
	pthread_mutex_lock(&be->mu);
	for (;;) {
		for (int i = 0; i < be->nreaders && !c; i++)
			if (!be->readers[i].in_use)
				c = &be->readers[i];
		if (c)
			break;
		pthread_cond_wait(&be->cv, &be->mu);
	}
	c->in_use = true;
	pthread_mutex_unlock(&be->mu);
	rc = exec(c->db, "BEGIN");
	if (rc) {
		pthread_mutex_lock(&be->mu);
		c->in_use = false;
		pthread_cond_signal(&be->cv);
		pthread_mutex_unlock(&be->mu);
		return rc;
	}
	*out = c;
	return 0;
}

static void release(struct store_conn *c)
{
	struct store_be *be = c->be;

	if (c->writer) {
		pthread_mutex_unlock(&be->wlock);
		return;
	}
	pthread_mutex_lock(&be->mu);
	c->in_use = false;
	pthread_cond_signal(&be->cv);
	pthread_mutex_unlock(&be->mu);
}

static void sq_rollback(struct store_conn *c)
{
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	release(c);
}

static int sq_commit(struct store_conn *c)
{
	int rc = exec(c->db, "COMMIT");

	if (rc && !sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	release(c);
	return rc;
}

static int sq_exec_script(struct store_conn *c, const char *sql)
{
	return exec(c->db, sql);
}

static int bind(sqlite3_stmt *st, const struct sqlv *p, int np)
{
	int rc = SQLITE_OK;

	for (int i = 0; i < np && rc == SQLITE_OK; i++) {
		switch (p[i].type) {
		case SQLV_NULL:
			rc = sqlite3_bind_null(st, i + 1);
			break;
		case SQLV_INT:
			rc = sqlite3_bind_int64(st, i + 1, p[i].i);
			break;
		case SQLV_TEXT:
			rc = sqlite3_bind_text(st, i + 1, p[i].s, -1,
					       SQLITE_STATIC);
			break;
		}
	}
	return rc;
}

static int sq_query(struct store_conn *c, const char *sql,
		    const struct sqlv *params, int nparams, store_row_fn row,
		    void *ctx, int64_t *changes)
{
	struct sqlv cols[64];
	sqlite3_stmt *st = NULL;
	int rc, n;

	rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = map_err(c->db, rc);
		goto out;
	}
	if (sqlite3_bind_parameter_count(st) != nparams) {
		store_set_errmsg("sqlite: %d parameters bound, statement has %d",
				 nparams, sqlite3_bind_parameter_count(st));
		rc = WEFT_ERR_INTERNAL;
		goto out;
	}
	rc = bind(st, params, nparams);
	if (rc != SQLITE_OK) {
		rc = map_err(c->db, rc);
		goto out;
	}
	n = sqlite3_column_count(st);
	if (n > (int)(sizeof(cols) / sizeof(cols[0]))) {
		store_set_errmsg("sqlite: too many result columns");
		rc = WEFT_ERR_INTERNAL;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!row)
			continue;
		for (int i = 0; i < n; i++) {
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_NULL:
				cols[i] = (struct sqlv){.type = SQLV_NULL};
				break;
			case SQLITE_INTEGER:
				cols[i] = (struct sqlv){.type = SQLV_INT,
					.i = sqlite3_column_int64(st, i)};
				break;
			default:
				cols[i] = (struct sqlv){.type = SQLV_TEXT,
					.s = (const char *)sqlite3_column_text(st, i)};
				if (!cols[i].s) {
					rc = WEFT_ERR_NOMEM;
					goto out;
				}
				break;
			}
		}
		rc = row(ctx, cols, n);
		if (rc)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = map_err(c->db, rc);
		goto out;
	}
	rc = 0;
	if (changes)
		*changes = sqlite3_changes64(c->db);
out:
	sqlite3_finalize(st);
	return rc;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.migrations = migrations_sqlite,
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.exec_script = sq_exec_script,
	.query = sq_query,
};
