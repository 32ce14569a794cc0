/* The PostgreSQL backend's dedicated, unpooled session connections: the
 * LISTEN connection of the change feed and the connection holding the
 * leadership advisory lock. Both need one server session for their whole
 * life, which a transaction-mode pooler (PgBouncer) does not give: hence
 * their own DSN (serve --listen-dsn), defaulting to the pool's URL.
 *
 * Each names itself in pg_stat_activity as "weft-controller/PID/ROLE" (the
 * pool's connections as ".../pool"), so an operator (or a test) can tell
 * the replicas' sessions apart, and uses TCP keep-alives so that a
 * silently dead server is noticed in seconds. Settings in the DSN itself
 * take precedence. */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/store_backend.h"
#include "shared/err.h"

struct store_listen_be {
	PGconn *pg;
};

struct store_lock_be {
	PGconn *pg;
	int64_t key;
	bool held;
};

static void set_err(const char *what, PGconn *pg)
{
	char text[400];
	size_t n;

	snprintf(text, sizeof(text), "%s",
		 pg ? PQerrorMessage(pg) : "out of memory");
	n = strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	store_set_errmsg("%s: %s", what, text);
}

/* Connects to dsn (a URL or key=value string) as ROLE; NULL on failure
 * with the reason in store_errmsg(). */
static PGconn *session_connect(struct store_be *be, const char *dsn,
			       const char *role)
{
	char app[64];
	/* What the DSN says wins (its keys are expanded in place of
	 * dbname, after ours). */
	const char *keys[] = {"application_name", "connect_timeout",
			      "keepalives", "keepalives_idle",
			      "keepalives_interval", "keepalives_count", "dbname",
			      NULL};
	const char *vals[] = {app, "5", "1", "5", "2", "3",
			      dsn ? dsn : store_pg_url(be), NULL};
	PGconn *pg;

	snprintf(app, sizeof(app), "weft-controller/%ld/%s", (long)getpid(),
		 role);
	pg = PQconnectdbParams(keys, vals, 1);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		set_err(role, pg);
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, store_pg_discard_notice, NULL);
	return pg;
}

int pg_listen_open(struct store_be *be, const char *dsn, const char *channel,
		   struct store_listen_be **out)
{
	struct store_listen_be *l;
	PGresult *res;
	char sql[128];
	int rc = 0;

	l = calloc(1, sizeof(*l));
	if (!l)
		return WEFT_ERR_NOMEM;
	l->pg = session_connect(be, dsn, "listen");
	if (!l->pg) {
		rc = WEFT_ERR_DB;
		goto out;
	}
	snprintf(sql, sizeof(sql), "LISTEN %s", channel);
	res = PQexec(l->pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		set_err("LISTEN", l->pg);
		rc = WEFT_ERR_DB;
	}
	PQclear(res);
	if (rc == 0 && PQsetnonblocking(l->pg, 1) != 0) {
		store_set_errmsg("listen connection: cannot go non-blocking");
		rc = WEFT_ERR_DB;
	}
out:
	if (rc) {
		PQfinish(l->pg);
		free(l);
		return rc;
	}
	*out = l;
	return 0;
}

int pg_listen_fd(struct store_listen_be *l)
{
	return PQsocket(l->pg);
}

int pg_listen_drain(struct store_listen_be *l)
{
	PGnotify *n;
	int count = 0;

	if (!PQconsumeInput(l->pg) || PQstatus(l->pg) != CONNECTION_OK) {
		set_err("listen connection", l->pg);
		return WEFT_ERR_DB;
	}
	while ((n = PQnotifies(l->pg))) {
		count++;
		PQfreemem(n);
	}
	return count;
}

void pg_listen_close(struct store_listen_be *l)
{
	if (!l)
		return;
	PQfinish(l->pg);
	free(l);
}

int pg_lock_open(struct store_be *be, const char *dsn, int64_t key,
		 struct store_lock_be **out)
{
	struct store_lock_be *l = calloc(1, sizeof(*l));

	if (!l)
		return WEFT_ERR_NOMEM;
	l->pg = session_connect(be, dsn, "leader");
	if (!l->pg) {
		free(l);
		return WEFT_ERR_DB;
	}
	l->key = key;
	*out = l;
	return 0;
}

/* Once taken, the session lock is ours until the session ends: checking
 * that the session still answers is enough (taking it again would only
 * stack another reference). */
int pg_lock_try(struct store_lock_be *l)
{
	char sql[96];
	PGresult *res;
	int rc;

	if (l->held)
		snprintf(sql, sizeof(sql), "SELECT true");
	else
		snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%lld)",
			 (long long)l->key);
	res = PQexec(l->pg, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		set_err("leader connection", l->pg);
		rc = WEFT_ERR_DB;
	} else {
		rc = PQgetvalue(res, 0, 0)[0] == 't';
		if (rc)
			l->held = true;
	}
	PQclear(res);
	return rc;
}

void pg_lock_close(struct store_lock_be *l)
{
	if (!l)
		return;
	PQfinish(l->pg); /* ending the session releases the lock */
	free(l);
}
