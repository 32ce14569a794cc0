/* PostgreSQL backend of the store.
 *
 * A small pool of libpq connections (mutex + condvar), opened lazily. Write
 * transactions take a transaction-scoped advisory lock right after BEGIN,
 * which serializes writers across every controller replica sharing the
 * database: read-modify-write sequences (address allocation, netmap
 * version) then need no retry loop, and write transactions never fail
 * with serialization errors. Read transactions run REPEATABLE READ READ
 * ONLY, so a read sees one snapshot and never waits for writers.
 *
 * Statements use the `?` placeholders of store_entities.c, rewritten to $1..$n, and
 * travel with PQexecParams and text-format parameters. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/store_backend.h"
#include "shared/err.h"

#define NCONNS 8
/* pg_advisory_xact_lock key of the store's write lock ("weft"). */
#define WRITE_LOCK_KEY "2003199604"

/* Type OIDs from PostgreSQL's catalog (pg_type.dat); stable forever. */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25

struct store_conn {
	struct store_be *be;
	PGconn *pg;
	bool in_use;
};

struct store_be {
	char *url;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct store_conn conns[NCONNS];
};

void store_pg_discard_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void trim_nl(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* Connects c (or reconnects it when the connection broke). */
static int connect_conn(struct store_conn *c, char *errmsg, size_t errlen)
{
	if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
		return 0;
	if (c->pg) {
		PQreset(c->pg);
	} else {
		/* Named in pg_stat_activity, unless the URL names itself
		 * (its keys come later and win). */
		char app[64];
		const char *keys[] = {"application_name", "dbname", NULL};
		const char *vals[] = {app, c->be->url, NULL};

		snprintf(app, sizeof(app), "weft-controller/%ld/pool",
			 (long)getpid());
		c->pg = PQconnectdbParams(keys, vals, 1);
	}
	if (!c->pg)
		return WEFT_ERR_NOMEM;
	if (PQstatus(c->pg) != CONNECTION_OK) {
		char text[400];

		snprintf(text, sizeof(text), "%s", PQerrorMessage(c->pg));
		trim_nl(text);
		store_set_errmsg("postgres: %s", text);
		if (errmsg && errlen)
			snprintf(errmsg, errlen, "cannot connect: %s", text);
		PQfinish(c->pg);
		c->pg = NULL;
		return WEFT_ERR_DB;
	}
	PQsetNoticeProcessor(c->pg, store_pg_discard_notice, NULL);
	return 0;
}

/* Maps a failed result (may be NULL) to WEFT_ERR_*, records the message
 * and resets a broken connection so the next user gets a fresh one. */
static int map_err(struct store_conn *c, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	char text[400];
	int rc = WEFT_ERR_DB;

	if (!msg || !*msg)
		msg = PQerrorMessage(c->pg);
	snprintf(text, sizeof(text), "%s", msg);
	trim_nl(text);
	store_set_errmsg("postgres: %s", text);
	if (state) {
		if (strcmp(state, "23505") == 0)
			rc = WEFT_ERR_EXISTS;
		else if (strcmp(state, "23503") == 0)
			rc = WEFT_ERR_CONFLICT;
		else if (strcmp(state, "40001") == 0 ||
			 strcmp(state, "40P01") == 0 ||
			 strcmp(state, "55P03") == 0)
			rc = WEFT_ERR_BUSY;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD)
		PQreset(c->pg);
	return rc;
}

static int exec_cmd(struct store_conn *c, const char *sql)
{
	PGresult *res = PQexec(c->pg, sql);
	ExecStatusType s = PQresultStatus(res);
	int rc = 0;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		rc = map_err(c, res);
	PQclear(res);
	return rc;
}

static void pg_close(struct store_be *be)
{
	if (!be)
		return;
	for (int i = 0; i < NCONNS; i++)
		PQfinish(be->conns[i].pg);
	pthread_cond_destroy(&be->cv);
	pthread_mutex_destroy(&be->mu);
	free(be->url);
	free(be);
}

static int pg_open(const char *url, struct store_be **out, char *errmsg,
		   size_t errlen)
{
	struct store_be *be;
	int rc;

	be = calloc(1, sizeof(*be));
	if (!be)
		return WEFT_ERR_NOMEM;
	be->url = strdup(url);
	if (!be->url) {
		free(be);
		return WEFT_ERR_NOMEM;
	}
	pthread_mutex_init(&be->mu, NULL);
	pthread_cond_init(&be->cv, NULL);
	for (int i = 0; i < NCONNS; i++)
		be->conns[i].be = be;
	/* Connect one now so a bad URL or a down server shows at open. */
	rc = connect_conn(&be->conns[0], errmsg, errlen);
	if (rc) {
		pg_close(be);
		return rc;
	}
	*out = be;
	return 0;
}

static void release(struct store_conn *c)
{
	struct store_be *be = c->be;

	pthread_mutex_lock(&be->mu);
	c->in_use = false;
	pthread_cond_signal(&be->cv);
	pthread_mutex_unlock(&be->mu);
}

static int pg_begin(struct store_be *be, enum store_mode mode,
		    struct store_conn **out)
{
	struct store_conn *c = NULL;
	int rc;

	pthread_mutex_lock(&be->mu);
	for (;;) {
		/* Prefer a connection that is already open. */
		for (int i = 0; i < NCONNS && !c; i++)
			if (!be->conns[i].in_use && be->conns[i].pg)
				c = &be->conns[i];
		for (int i = 0; i < NCONNS && !c; i++)
			if (!be->conns[i].in_use)
				c = &be->conns[i];
		if (c)
			break;
		pthread_cond_wait(&be->cv, &be->mu);
	}
	c->in_use = true;
	pthread_mutex_unlock(&be->mu);

	rc = connect_conn(c, NULL, 0);
	if (rc == 0 && mode == STORE_WRITE)
		rc = exec_cmd(c, "BEGIN; SELECT pg_advisory_xact_lock("
			      WRITE_LOCK_KEY ")");
	else if (rc == 0)
		rc = exec_cmd(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (rc) {
		if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
			PQclear(PQexec(c->pg, "ROLLBACK"));
		release(c);
		return rc;
	}
	*out = c;
	return 0;
}

static void pg_rollback(struct store_conn *c)
{
	if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		PQclear(PQexec(c->pg, "ROLLBACK"));
	release(c);
}

static int pg_commit(struct store_conn *c)
{
	PGresult *res = PQexec(c->pg, "COMMIT");
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = map_err(c, res);
	} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		/* The server answers ROLLBACK for an aborted transaction. */
		store_set_errmsg("postgres: transaction was rolled back");
		rc = WEFT_ERR_DB;
	}
	PQclear(res);
	if (rc && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		PQclear(PQexec(c->pg, "ROLLBACK"));
	release(c);
	return rc;
}

static int pg_exec_script(struct store_conn *c, const char *sql)
{
	return exec_cmd(c, sql);
}

/* Rewrites `?` to $1..$n outside quoted literals and identifiers. The
 * caller frees *out. Returns the number of placeholders or a negative
 * code. */
static int rewrite(const char *sql, char **out)
{
	size_t len = strlen(sql), o = 0;
	char quote = 0, *buf;
	int n = 0;

	/* "$NN" is at most 3 bytes longer than "?" for n < 1000. */
	buf = malloc(len * 4 + 1);
	if (!buf)
		return WEFT_ERR_NOMEM;
	for (const char *s = sql; *s; s++) {
		if (quote) {
			if (*s == quote)
				quote = 0;
		} else if (*s == '\'' || *s == '"') {
			quote = *s;
		} else if (*s == '?') {
			o += (size_t)sprintf(buf + o, "$%d", ++n);
			continue;
		}
		buf[o++] = *s;
	}
	buf[o] = '\0';
	*out = buf;
	return n;
}

static int pg_query(struct store_conn *c, const char *sql,
		    const struct sqlv *params, int nparams, store_row_fn row,
		    void *ctx, int64_t *changes)
{
	char ints[STORE_MAX_PARAMS][24];
	const char *values[STORE_MAX_PARAMS];
	Oid types[STORE_MAX_PARAMS];
	struct sqlv cols[64];
	PGresult *res = NULL;
	char *text = NULL;
	int rc, n, nrows, ncols;
	ExecStatusType s;

	if (nparams > STORE_MAX_PARAMS)
		return WEFT_ERR_INTERNAL;
	n = rewrite(sql, &text);
	if (n < 0)
		return n;
	if (n != nparams) {
		store_set_errmsg("postgres: %d parameters bound, statement has %d",
				 nparams, n);
		rc = WEFT_ERR_INTERNAL;
		goto out;
	}
	for (int i = 0; i < nparams; i++) {
		switch (params[i].type) {
		case SQLV_NULL:
			values[i] = NULL;
			types[i] = 0;
			break;
		case SQLV_INT:
			snprintf(ints[i], sizeof(ints[i]), "%lld",
				 (long long)params[i].i);
			values[i] = ints[i];
			types[i] = OID_INT8;
			break;
		case SQLV_TEXT:
			values[i] = params[i].s;
			types[i] = OID_TEXT;
			break;
		}
	}
	res = PQexecParams(c->pg, text, nparams, types, values, NULL, NULL, 0);
	s = PQresultStatus(res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		rc = map_err(c, res);
		goto out;
	}
	nrows = PQntuples(res);
	ncols = PQnfields(res);
	if (ncols > (int)(sizeof(cols) / sizeof(cols[0]))) {
		store_set_errmsg("postgres: too many result columns");
		rc = WEFT_ERR_INTERNAL;
		goto out;
	}
	for (int r = 0; row && r < nrows; r++) {
		for (int i = 0; i < ncols; i++) {
			const char *v = PQgetvalue(res, r, i);

			if (PQgetisnull(res, r, i)) {
				cols[i] = (struct sqlv){.type = SQLV_NULL};
				continue;
			}
			switch (PQftype(res, i)) {
			case OID_INT2:
			case OID_INT4:
			case OID_INT8:
				cols[i] = (struct sqlv){.type = SQLV_INT,
					.i = strtoll(v, NULL, 10)};
				break;
			case OID_BOOL:
				cols[i] = (struct sqlv){.type = SQLV_INT,
					.i = v[0] == 't'};
				break;
			default:
				cols[i] = (struct sqlv){.type = SQLV_TEXT, .s = v};
				break;
			}
		}
		rc = row(ctx, cols, ncols);
		if (rc)
			goto out;
	}
	if (changes) {
		const char *t = PQcmdTuples(res);

		*changes = *t ? strtoll(t, NULL, 10) : 0;
	}
	rc = 0;
out:
	PQclear(res);
	free(text);
	return rc;
}

static int pg_notify(struct store_conn *c, const char *channel,
		     const char *payload)
{
	struct sqlv p[2] = {{SQLV_TEXT, 0, channel}, {SQLV_TEXT, 0, payload}};

	return pg_query(c, "SELECT pg_notify(?, ?)", p, 2, NULL, NULL, NULL);
}

const char *store_pg_url(const struct store_be *be)
{
	return be->url;
}

const struct store_ops store_pg_ops = {
	.name = "postgres",
	.migrations = migrations_postgres,
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.exec_script = pg_exec_script,
	.query = pg_query,
	.notify = pg_notify,
	.listen_open = pg_listen_open,
	.listen_fd = pg_listen_fd,
	.listen_drain = pg_listen_drain,
	.listen_close = pg_listen_close,
	.lock_open = pg_lock_open,
	.lock_try = pg_lock_try,
	.lock_close = pg_lock_close,
};
