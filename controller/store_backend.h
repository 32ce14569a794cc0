/* The store's backend interface (internal to controller/store*.c).
 *
 * A backend offers a handful of generic SQL operations; every entity query
 * is written once, in store.c and store_entities.c (see store_internal.h),
 * in SQL that both engines accept, with `?` placeholders. Backends own
 * connection handling, transactions and the mapping of engine errors to
 * WEFT_ERR_* codes (see docs/internals/store.md).
 *
 * Each backend defines its own `struct store_be` (the opened database) and
 * `struct store_conn` (one connection inside a transaction); store.c only
 * ever holds pointers to them. */
#ifndef WEFT_STORE_BACKEND_H
#define WEFT_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "controller/migrations.h"
#include "controller/store.h"

/* A typed SQL value: a query parameter or a result column. */
struct sqlv {
	enum sqlv_type { SQLV_NULL, SQLV_INT, SQLV_TEXT } type;
	int64_t i;     /* SQLV_INT */
	const char *s; /* SQLV_TEXT, NUL-terminated */
};

/* Called once per result row with ncols values; text pointers are valid
 * during the call only. A non-zero return stops the query, which then
 * returns that value. */
typedef int (*store_row_fn)(void *ctx, const struct sqlv *cols, int ncols);

struct store_be;
struct store_conn;
struct store_listen_be;
struct store_lock_be;

/* Most parameters one statement may bind. */
#define STORE_MAX_PARAMS 32

struct store_ops {
	const char *name; /* "sqlite", "postgres" */
	const struct migration *migrations;

	/* Connects to url (the backend's own scheme, already checked by
	 * store.c). On failure writes a human reason to errmsg. */
	int (*open)(const char *url, struct store_be **out, char *errmsg,
		    size_t errlen);
	/* Closes every connection; no transaction may be open. NULL ok. */
	void (*close)(struct store_be *be);
	/* Takes a connection for a read or write transaction and begins it.
	 * Blocks while the pool (or, for writes, the writer) is busy. */
	int (*begin)(struct store_be *be, enum store_mode mode,
		     struct store_conn **out);
	/* Commits and gives the connection back, whatever the outcome. */
	int (*commit)(struct store_conn *c);
	/* Rolls back and gives the connection back. */
	void (*rollback)(struct store_conn *c);
	/* Runs several ';'-separated statements without parameters. */
	int (*exec_script)(struct store_conn *c, const char *sql);
	/* Runs one statement with `?` placeholders bound to params. Rows go
	 * to row (may be NULL); *changes (may be NULL) gets the number of
	 * rows inserted, updated or deleted. */
	int (*query)(struct store_conn *c, const char *sql,
		     const struct sqlv *params, int nparams, store_row_fn row,
		     void *ctx, int64_t *changes);

	/* Change notifications between processes; NULL when the engine has
	 * none (SQLite). notify runs inside a write transaction and is
	 * delivered at commit. */
	int (*notify)(struct store_conn *c, const char *channel,
		      const char *payload);
	/* listen_open and lock_open use a dedicated connection to dsn, or
	 * to the pool's URL when dsn is NULL. */
	int (*listen_open)(struct store_be *be, const char *dsn,
			   const char *channel, struct store_listen_be **out);
	int (*listen_fd)(struct store_listen_be *l);
	int (*listen_drain)(struct store_listen_be *l);
	void (*listen_close)(struct store_listen_be *l);

	/* A lock held by one process at a time among all that share the
	 * database, released when its holder's connection ends (store.h
	 * store_lock_*); NULL when one process owns the database (SQLite). */
	int (*lock_open)(struct store_be *be, const char *dsn, int64_t key,
			 struct store_lock_be **out);
	int (*lock_try)(struct store_lock_be *l);
	void (*lock_close)(struct store_lock_be *l);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* PostgreSQL backend internals shared by store_pg.c and
 * store_pg_session.c (the dedicated LISTEN and lock connections). */
const char *store_pg_url(const struct store_be *be);
void store_pg_discard_notice(void *arg, const char *msg);
int pg_listen_open(struct store_be *be, const char *dsn, const char *channel,
		   struct store_listen_be **out);
int pg_listen_fd(struct store_listen_be *l);
int pg_listen_drain(struct store_listen_be *l);
void pg_listen_close(struct store_listen_be *l);
int pg_lock_open(struct store_be *be, const char *dsn, int64_t key,
		 struct store_lock_be **out);
int pg_lock_try(struct store_lock_be *l);
void pg_lock_close(struct store_lock_be *l);

/* Sets this thread's store_errmsg() text (printf-style). */
void store_set_errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
