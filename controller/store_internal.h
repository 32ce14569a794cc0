/* What store.c and store_entities.c share (internal to controller/store*.c).
 *
 * store.c runs statements inside transactions and maps structs onto rows
 * generically: a table is described by a list of fields (column name,
 * kind, offset, size) and handled by store_ent_create, store_ent_get,
 * store_ent_update, store_ent_delete and store_ent_list. store_entities.c
 * holds the field lists and the public per-entity functions, thin wrappers
 * that add filters and type-safe callbacks, plus the tables that do not map
 * onto one struct (policy, netmap, settings).
 *
 * Every function here sets store_errmsg() when it fails for a reason the
 * engine did not already describe. */
#ifndef WEFT_STORE_INTERNAL_H
#define WEFT_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/store.h"
#include "controller/store_backend.h"

static inline struct sqlv sqlv_int(int64_t i)
{
	return (struct sqlv){.type = SQLV_INT, .i = i};
}

/* s is borrowed: it must outlive the statement the value is bound to. */
static inline struct sqlv sqlv_text(const char *s)
{
	return (struct sqlv){.type = SQLV_TEXT, .s = s};
}

/* Wall-clock seconds for created_at/updated_at columns. */
int64_t store_now(void);

/* The store a transaction belongs to, and the backend connection it runs
 * on. */
struct store *store_tx_store(struct store_tx *tx);
struct store_conn *store_tx_conn(struct store_tx *tx);
const struct store_ops *store_ops_of(const struct store *st);
struct store_be *store_be_of(const struct store *st);

/* --- running statements --- */

/* Runs one statement in tx. An engine error aborts the transaction (so
 * both engines behave alike: PostgreSQL would refuse further statements);
 * a non-zero return of fn is passed through and does not. Returns 0, fn's
 * value, a backend error, or WEFT_ERR_INVAL when tx is already aborted. */
int store_tx_query(struct store_tx *tx, const char *sql,
		   const struct sqlv *p, int np, store_row_fn fn, void *ctx,
		   int64_t *changes);

/* Returns 0 if tx is a write transaction, else WEFT_ERR_INVAL. */
int store_need_write(struct store_tx *tx);

/* Runs a write statement that must touch a row: returns 0, WEFT_ERR_NOTFOUND
 * when it changed nothing, or store_tx_query's error. table names the
 * table in the error message. */
int store_exec_one(struct store_tx *tx, const char *table, const char *sql,
		   const struct sqlv *p, int np);

/* Result of a query for one integer: found says whether a row came back;
 * a NULL column reads as 0. */
struct store_one_int {
	bool found;
	int64_t v;
};

/* Row callback filling a struct store_one_int (ctx). Returns 0 or
 * WEFT_ERR_DB when the first column is not an integer. */
int store_one_int_row(void *ctx, const struct sqlv *cols, int n);

/* Copies s into dst (cap bytes). Returns 0 or WEFT_ERR_TOOBIG, naming
 * `what` in the message; dst is untouched on failure. */
int store_copy_str(char *dst, size_t cap, const char *s, const char *what);

/* --- generic entity mapping --- */

enum store_fkind {
	F_I64,     /* int64_t */
	F_BOOL,    /* int, stored 0/1 */
	F_REF,     /* int64_t id reference, 0 <-> NULL */
	F_STR,     /* char[size] */
	F_OPTSTR,  /* char[size], "" <-> NULL (nullable unique columns) */
	F_JSON,    /* char[size], "" stored as dflt */
	F_CREATED, /* int64_t set to now when 0, never updated */
};

/* One column other than id, and where it lives in the struct. */
struct store_field {
	const char *col;
	enum store_fkind kind;
	size_t off;
	size_t size;
	const char *dflt;
};

/* A table whose rows map one-to-one onto a struct with an int64_t id. */
struct store_entity {
	const char *table;
	size_t size;   /* of the struct */
	size_t id_off; /* of its int64_t id */
	const struct store_field *f;
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

/* A small SQL text + parameter builder with a hard size limit. Start from
 * {0}; the first overflow sets err to WEFT_ERR_INTERNAL and later appends
 * are ignored, so callers check err once before running the statement. */
struct store_qb {
	char sql[2048];
	size_t len;
	struct sqlv p[STORE_MAX_PARAMS];
	int np;
	int err;
};

/* Appends SQL text s to q. */
void store_qb_sql(struct store_qb *q, const char *s);

/* Appends parameter v to q; text values are borrowed, not copied. */
void store_qb_param(struct store_qb *q, struct sqlv v);

/* Inserts obj (a struct e describes) and stores the new id, and created_at
 * when it was 0, back into obj. Returns 0, WEFT_ERR_INVAL outside a write
 * transaction, WEFT_ERR_TOOBIG for an unterminated string field, or a
 * backend error (WEFT_ERR_EXISTS for a duplicate); obj is untouched on
 * failure. */
int store_ent_create(struct store_tx *tx, const struct store_entity *e,
		     void *obj);

/* Reads the row whose column col equals key into out (a struct e
 * describes). Returns 0, WEFT_ERR_NOTFOUND, WEFT_ERR_INVAL or a backend
 * error; out is untouched on failure. */
int store_ent_get_by(struct store_tx *tx, const struct store_entity *e,
		     const char *col, struct sqlv key, void *out);

/* store_ent_get_by on the id column. */
int store_ent_get(struct store_tx *tx, const struct store_entity *e,
		  int64_t id, void *out);

/* Writes every field of obj but created_at to the row with obj's id.
 * Returns 0, WEFT_ERR_NOTFOUND, WEFT_ERR_INVAL, WEFT_ERR_TOOBIG or a
 * backend error. */
int store_ent_update(struct store_tx *tx, const struct store_entity *e,
		     const void *obj);

/* Deletes the row with id. Returns 0, WEFT_ERR_NOTFOUND, WEFT_ERR_INVAL or
 * a backend error. */
int store_ent_delete(struct store_tx *tx, const struct store_entity *e,
		     int64_t id);

/* Called by store_ent_list with each row (a struct the entity describes,
 * valid during the call only); a non-zero return stops the listing. */
typedef int (*store_emit_fn)(void *ctx, const void *row);

/* Starts q as "SELECT cols FROM table WHERE id > ?"; callers append
 * " AND ..." filters, then store_ent_list() finishes it. */
void store_list_start(struct store_qb *q, const struct store_entity *e,
		      const struct store_page *pg);

/* Finishes q with ordering and the page limit, runs it and hands each row
 * to emit. Sets *next_cursor (may be NULL) to the last id when more rows
 * follow, else 0. Returns 0, emit's non-zero value, q's builder error or a
 * backend error. */
int store_ent_list(struct store_tx *tx, const struct store_entity *e,
		   struct store_qb *q, const struct store_page *pg,
		   store_emit_fn emit, void *ectx, int64_t *next_cursor);

#endif
