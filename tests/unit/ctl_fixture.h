/* The fixture of the controller handler tests (tests/unit/ctl_*_test.c):
 * a fresh SQLite store in check_tmpdir(), the API over it, a bootstrap
 * admin key, requests issued in process, rows made directly in the store,
 * and readers for answers, audit rows and the netmap version.
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

struct fx {
	struct store *st;
	struct metrics *m;
	struct api *api;
	char admin[FX_AUTH_SIZE]; /* a bootstrap API key: no user, admin */
	struct http_resp r;       /* the answer of the last fx_call() */
	int seq;                  /* numbers fx_node()'s keys and addresses */
};

/* True when WEFT_STORE_BACKEND=postgres: these tests run on SQLite only,
 * the process-level integration tests cover PostgreSQL. */
bool fx_skip(void);

/* Opens a fresh database <tmpdir>/<name>.db (name NULL: a new numbered
 * one), the API with metrics over it and the admin key. Returns false on
 * any failure. */
bool fx_open(struct fx *f, const char *name);

/* Frees what fx_open made and f->r. */
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
