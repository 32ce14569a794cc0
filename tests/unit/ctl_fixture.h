/* The fixture of the controller tests (tests/unit/ctl_*_test.c): a fresh
 * database per case on the backend of the run, the API over it, a
 * bootstrap admin key, requests issued in process, rows made directly in
 * the store, and readers for answers, audit rows and the netmap version.
 *
 * Every ctl test that uses a store runs twice (tests/CMakeLists.txt): as
 * <name> on SQLite files in check_tmpdir(), and as <name>_postgres with
 * WEFT_STORE_BACKEND=postgres on the server tests/harness/pg.sh started
 * (WEFT_PG_DIR), one new database per case, dropped again.
 *
 * Authorization values are whole header values ("Bearer weft_api_..."):
 * pass f->admin, one written by fx_apikey()/fx_node(), or NULL for an
 * anonymous request. Helpers that make rows return the new id, or -1 when
 * the store refused (tests REQUIRE a positive id). */
#ifndef WEFT_CTL_FIXTURE_H
#define WEFT_CTL_FIXTURE_H

#include "controller/api.h"
#include "controller/cred.h"
#include "controller/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* "Bearer " + a credential. */
#define FX_AUTH_SIZE (CRED_TEXT_SIZE + 8)
#define FX_URL_SIZE 512

struct fx {
	struct store *st;
	struct metrics *m;
	struct api *api;
	char admin[FX_AUTH_SIZE]; /* a bootstrap API key: no user, admin */
	char url[FX_URL_SIZE];    /* the store's database */
	struct http_resp r;       /* the answer of the last fx_call() */
	int seq;                  /* numbers fx_node()'s keys and addresses */
};

/* True when this run uses PostgreSQL (WEFT_STORE_BACKEND=postgres). */
bool fx_pg(void);

/* Makes a fresh, empty database and writes its store URL to url: a new
 * SQLite file <tmpdir>/<name>.db (name NULL: a numbered one), or a new
 * PostgreSQL database. Returns false on failure. */
bool fx_db_new(const char *name, char url[FX_URL_SIZE]);

/* Drops a PostgreSQL database fx_db_new made, once no store has it open
 * (SQLite files stay in the temporary directory). Databases not dropped
 * by then are dropped when the test program exits. */
void fx_db_drop(const char *url);

/* A store over a fresh database (fx_db_new); its URL goes to url unless
 * url is NULL. NULL on failure. */
struct store *fx_store_new(const char *name, char *url);

/* Opens a fresh database (fx_db_new), the API with metrics over it and
 * the admin key. Returns false on any failure. */
bool fx_open(struct fx *f, const char *name);

/* The setting most handler tests share: closes f (zeroed or open), opens
 * it again (fx_open) and makes alice, a member with an API key whose
 * Authorization value goes to member, and bob, a member without one.
 * Returns false on any failure. */
bool fx_open_members(struct fx *f, int64_t *alice, int64_t *bob,
		     char member[FX_AUTH_SIZE]);

/* Frees what fx_open made and f->r, and drops its database. */
void fx_close(struct fx *f);

/* Runs one request; query is "a=1&b=2" or NULL, body NULL for none. resp
 * is freed first, so one can be reused. Returns the status. */
int fx_req(struct fx *f, const char *auth, const char *method,
	   const char *path, const char *query, const char *body,
	   struct http_resp *resp);

/* Like fx_req into f->r, with the query in target ("/api/v1/x?limit=2"). */
int fx_call(struct fx *f, const char *method, const char *target,
	    const char *auth, const char *body);

/* Members of a JSON object (NULL / 0 when absent or of another type). */
const char *fx_jstr(const json_t *o, const char *key);
int64_t fx_jint(const json_t *o, const char *key);

/* The "items" of a list answer in f->r: how many, and item i (borrowed;
 * NULL past the end). */
size_t fx_nitems(const struct fx *f);
json_t *fx_item(const struct fx *f, size_t i);

/* The error body's code (NULL when none), field and message ("" when
 * none). */
const char *fx_err_code(const struct http_resp *r);
const char *fx_err_field(const struct http_resp *r);
const char *fx_err_msg(const struct http_resp *r);

/* A user made in the store. */
int64_t fx_user(struct fx *f, const char *name, const char *role);

/* An API key of user_id (0: a bootstrap-style admin key) made in the
 * store; its Authorization value goes to auth. */
int64_t fx_apikey(struct fx *f, int64_t user_id, char auth[FX_AUTH_SIZE]);

/* A node made in the store, as registration would leave it: owner
 * (0 = tagged), tags JSON text (NULL = []), online; public key
 * "key-<n>", addresses 100.64.x.y / fd7a:115c:a1e0::<n>, os linux,
 * version 0.1.0, one endpoint, created at 1700000000. When auth is not
 * NULL the node gets a credential whose Authorization value goes there. */
int64_t fx_node(struct fx *f, const char *name, int64_t user_id,
		const char *tags, int online, char *auth);

/* An advertised route of node_id made in the store. */
int64_t fx_route(struct fx *f, int64_t node_id, const char *prefix,
		 int approved);

/* How many audit rows have this action (and target id, unless NULL); the
 * newest goes to *last when last is not NULL. -1 on a store error. */
int fx_audit_count(struct fx *f, const char *action, const char *target_id,
		   struct store_audit *last);

/* The current netmap version, -1 on a store error. */
int64_t fx_netmap_version(struct fx *f);

#endif
