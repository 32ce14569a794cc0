/* The REST API: routing, authentication and the handlers of /api/v1.
 *
 * api_handle() takes a fully read request and fills a response; it does no
 * network I/O, so tests and fuzzers drive it directly. Handlers are grouped
 * by resource in api_<resource>.c, each exporting a route table. */
#ifndef WEFT_API_H
#define WEFT_API_H

#include "controller/http.h"
#include "controller/store.h"
#include "shared/jsonx.h"
#include "shared/name.h"

#include <stdint.h>

struct metrics;
struct hub;

struct api_options {
	const char *public_url;     /* how agents reach us; may be NULL */
	int64_t ephemeral_grace_s;  /* offline ephemeral nodes live this long */
	struct hub *hub;            /* long-poll hub (borrowed); NULL in the
				     * CLI, where the map routes answer 503 */
	const char *dns_suffix;     /* the mesh domain while no DNS settings
				     * are stored (borrowed); NULL:
				     * weft.internal */
	const struct leader *leader; /* replica leadership (borrowed); NULL
				      * in the CLI */
};

/* Who made the request. */
enum principal_kind {
	PRINCIPAL_NONE,
	PRINCIPAL_APIKEY,
	PRINCIPAL_NODE,
	PRINCIPAL_SESSION, /* a browser session cookie (api_session.c): may
			    * do what an API key of its user may */
};

struct principal {
	enum principal_kind kind;
	int64_t apikey_id;
	int64_t user_id;  /* 0 for the bootstrap key and for nodes */
	bool admin;       /* API key of an admin user or the bootstrap key */
	int64_t node_id;
	int64_t session_id;
	/* "apikey:<prefix>", "node:<id>", "user:<name>/session:<prefix>",
	 * "apikey:<prefix>/session:<prefix>" */
	char actor[STORE_ACTOR_SIZE];
};

/* Who may call a route. */
enum api_auth {
	API_AUTH_NONE,  /* anyone (registration checks its own auth key) */
	API_AUTH_ADMIN, /* an admin API key */
	API_AUTH_USER,  /* any valid API key; the handler limits members */
	API_AUTH_NODE,  /* a node credential */
};

struct api;

/* Everything a handler needs for one request. */
struct api_call {
	struct api *api;
	struct store *st;
	struct http_req *req;
	struct http_resp *resp;
	struct principal who;
	int64_t now; /* wall clock, unix seconds */
};

struct api_route {
	const char *method;
	const char *pattern; /* "/api/v1/nodes/{id}": {x} matches one segment */
	enum api_auth auth;
	void (*fn)(struct api_call *c);
};

/* Creates the API over an open store (borrowed; must outlive the API) and
 * metrics (borrowed, may be NULL). */
int api_new(struct store *st, struct metrics *m, const struct api_options *opt,
	    struct api **out);
void api_del(struct api *api);

/* Routes, authenticates and runs one request. Safe to call from several
 * threads at once. Never fails: every problem becomes an error response. */
void api_handle(struct api *api, struct http_req *req, struct http_resp *resp);

/* Like api_handle, but runs as the given principal without looking at the
 * Authorization header. The admin CLI uses it so that every subcommand does
 * exactly what the REST call does, audit rows included. */
void api_handle_as(struct api *api, const struct principal *who,
		   struct http_req *req, struct http_resp *resp);

/* Calls fn for every route the API serves (for the OpenAPI check). */
void api_each_route(void (*fn)(void *ctx, const struct api_route *r),
		    void *ctx);

/* Does any API route (of any method) match path? The server hands the
 * paths no route claims to the web UI. */
bool api_routes_path(const char *path);

const struct api_options *api_options(const struct api *api);
/* The login rate limits (controller/ratelimit.h) of POST /api/v1/session:
 * failures per user name and per client address. */
struct ratelimit *api_login_limit_user(const struct api *api);
struct ratelimit *api_login_limit_addr(const struct api *api);
/* Checks the login limits for user (may be NULL) and the caller's address;
 * when either is out of tries, answers 429 with Retry-After and returns
 * true. */
bool api_login_limited(struct api_call *c, const char *user);
/* Records a failed password check (never the password): a log line, the
 * audit entry session.login_failed, and a token taken from the user's and
 * the address's buckets. */
void api_login_failed(struct api_call *c, const char *user,
		      const char *reason);

/* Resolves API key text ("weft_api_...") into *who as the Bearer header
 * would. Returns 0, WEFT_ERR_AUTH / WEFT_ERR_EXPIRED with *why set, or a
 * store error. */
int api_apikey_auth(struct api_call *c, const char *text,
		    struct principal *who, const char **why);

/* The CSRF rule for session-authenticated requests (api_session.c):
 * GET/HEAD pass; anything else needs an X-Weft-Request header and either
 * Sec-Fetch-Site: same-origin or an Origin equal to the controller's
 * (--public-url's origin, or http(s)://<Host>). false with *why set. */
bool api_csrf_ok(struct api_call *c, const char **why);

/* Resolves a session cookie's token into *who (api_session.c). Returns 0,
 * WEFT_ERR_AUTH / WEFT_ERR_EXPIRED with *why set, or a store error. */
int api_session_auth(struct api_call *c, const char *token,
		     struct principal *who, const char **why);
struct metrics *api_metrics(const struct api *api);

/* Route tables, one per resource module, each ending with {0}. */
extern const struct api_route api_users_routes[];
extern const struct api_route api_keys_routes[];
extern const struct api_route api_nodes_routes[];
extern const struct api_route api_resources_routes[];
extern const struct api_route api_relays_routes[];
extern const struct api_route api_audit_routes[];
extern const struct api_route api_register_routes[];
extern const struct api_route api_ops_routes[];
extern const struct api_route api_map_routes[];
extern const struct api_route api_session_routes[];
extern const struct api_route api_status_routes[];
extern const struct api_route api_policy_routes[];
extern const struct api_route api_dns_routes[];

/* --- the policy document (api_map.c) --- */

struct policy_err;
struct policy_names;

/* The names a policy may refer to, checked in tx (users and resources). */
void api_policy_names(struct store_tx *tx, struct policy_names *out);

/* An error of policy_parse as a JSON object {"message", "path", "line",
 * "column"} (path, line and column left out when unknown); message is
 * "path: what" like the PUT error. NULL when out of memory. */
json_t *api_policy_err_json(const struct policy_err *err);

/* --- helpers for handlers --- */

/* The mesh domain for node answers (dns_name): the stored DNS settings'
 * domain, else the server's --dns-suffix (api_dns.c). 0 or a store
 * error. */
int api_dns_domain(struct api_call *c, struct store_tx *tx,
		   char out[NAME_DNS_MAX + 1]);

/* Parses the body as a JSON object of at most HTTP_BODY_MAX bytes; on
 * failure fills the error response and returns NULL. */
json_t *api_body(struct api_call *c);

/* Parses the body and reads fields[0..n) with jsonx_read(); on failure
 * fills the error response (400 naming the field) and returns NULL. The
 * caller json_decref()s the body; strings read from it are borrowed from
 * it. */
json_t *api_read_body(struct api_call *c, const struct jsonx_field *f,
		      size_t n);

/* Parses path parameter i as a positive id; on failure fills a 400/404
 * response and returns false. */
bool api_param_id(struct api_call *c, size_t i, int64_t *out);

/* Reads the `limit` and `cursor` query parameters into *pg; on failure
 * fills a 400 response and returns false. */
bool api_page(struct api_call *c, struct store_page *pg);

/* Reads the query parameter key as a positive integer into *out (untouched
 * when absent); on failure fills a 400 naming key and returns false. */
bool api_query_id(struct api_call *c, const char *key, int64_t *out);

/* Reads the query parameter key as "true" (1) or "false" (0) into *out
 * (untouched when absent); on failure fills a 400 naming key and returns
 * false. */
bool api_query_bool(struct api_call *c, const char *key, int *out);

/* Fills a 404 "no <what> with id <id>" naming the field "id". */
void api_not_found(struct api_call *c, const char *what, int64_t id);

/* Fills the response for a store/validation error; message may be NULL. */
void api_fail(struct api_call *c, int err, const char *message,
	      const char *field);

/* Appends an audit row inside tx. detail (may be NULL) is borrowed. */
int api_audit(struct api_call *c, struct store_tx *tx, const char *action,
	      const char *target_type, const char *target_id,
	      const json_t *detail);

/* Audits action on (kind, id) with detail (borrowed, may be NULL) and
 * commits. tx is consumed either way. Returns 0 or a negative code. */
int api_commit_audited(struct api_call *c, struct store_tx *tx,
		       const char *action, const char *kind, int64_t id,
		       const json_t *detail);

/* Audits action on (kind, id) with detail (borrowed, may be NULL), records
 * a netmap change of kind for id and commits. tx is consumed either way.
 * Returns 0 or a negative code. */
int api_commit_change(struct api_call *c, struct store_tx *tx,
		      const char *action, const char *kind, int64_t id,
		      const json_t *detail);

/* api_commit_change() with o as the detail, then answers o with status.
 * Takes ownership of o (NULL means out of memory) and consumes tx either
 * way. Returns 0 or a negative code; on failure nothing is answered. */
int api_finish_change(struct api_call *c, struct store_tx *tx,
		      const char *action, const char *kind, int64_t id,
		      json_t *o, int status);

/* Loads row id into *out (a new reference) inside a read tx; returns 0,
 * WEFT_ERR_NOTFOUND or another negative code. */
typedef int (*api_load_fn)(struct api_call *c, struct store_tx *tx,
			   int64_t id, json_t **out);

/* Handler body for GET .../{id}: answers 200 with what load gives, or a
 * 404 "no <what> with id <id>", or the error. */
void api_get_by_id(struct api_call *c, const char *what, api_load_fn load);

/* Deletes row id inside a write tx and writes its name (for the audit
 * detail) into name (cap bytes); returns 0, WEFT_ERR_NOTFOUND or another
 * negative code, with a message for the client in msg (msglen bytes) when
 * it refuses (e.g. WEFT_ERR_CONFLICT). */
typedef int (*api_remove_fn)(struct store_tx *tx, int64_t id, char *name,
			     size_t cap, char *msg, size_t msglen);

/* Handler body for DELETE .../{id}: removes the row, audits action with
 * {"name": ...} on (what, id), records a netmap change of kind what,
 * commits and answers 204; or 404 "no <what> with id <id>", or the
 * error. */
void api_delete_by_id(struct api_call *c, const char *what,
		      const char *action, api_remove_fn remove);

/* One kind of row that POST creates and PATCH .../{id} changes (relays,
 * resources). The body and row structs are the caller's, passed through as
 * void pointers. apply and save explain a refusal in msg (msglen bytes)
 * and name the field to blame. */
struct api_edit {
	const char *what; /* "relay": audit target, netmap kind, messages */
	/* Parses the body (create: the fields of a create) into in; on
	 * failure answers 400 and returns NULL. Strings in in borrow from
	 * the returned body. */
	json_t *(*read)(struct api_call *c, bool create, void *in);
	/* Loads row id into row: 0, WEFT_ERR_NOTFOUND or another code. */
	int (*get)(struct store_tx *tx, int64_t id, void *row);
	/* Validates in and applies it to row. */
	int (*apply)(struct store_tx *tx, const void *in, void *row, char *msg,
		     size_t msglen, const char **field);
	/* Stores row, a new one (create, made at now) or a changed one;
	 * WEFT_ERR_EXISTS when its name is taken. */
	int (*save)(struct store_tx *tx, void *row, bool create, int64_t now,
		    char *msg, size_t msglen, const char **field);
	/* The row as answered and audited, a new reference. */
	json_t *(*to_json)(const void *row);
	int64_t (*id)(const void *row);
};

/* Handler body for POST (create) and PATCH .../{id}: reads the body into
 * in, loads row id (PATCH; row holds a new row's defaults on create),
 * applies the body and saves the row in one write transaction, audits
 * "<what>.create" or "<what>.update" with the row as detail, records a
 * netmap change and answers the row with 201 or 200. Answers 404 "no
 * <what> with id <id>" for a PATCH of a missing row, 400 or 409 with the
 * message and field apply/save gave, or the store's error. */
void api_edit_row(struct api_call *c, const struct api_edit *e, bool create,
		  void *in, void *row);

/* Appends one page of rows matching filter (borrowed, may be NULL) to
 * items as JSON and sets *next to the next cursor (0 at the end); returns
 * 0 or a negative code. */
typedef int (*api_list_fn)(struct store_tx *tx, const void *filter,
			   const struct store_page *pg, json_t *items,
			   int64_t *next);

/* Handler body for a list GET once the page and filter are parsed:
 * answers 200 with api_list_body() of what list gives, or the error. */
void api_list(struct api_call *c, const struct store_page *pg,
	      api_list_fn list, const void *filter);

/* Wraps a list in {"items": [...], "next_cursor": "..."|null}. Takes
 * ownership of items. */
json_t *api_list_body(json_t *items, int64_t next_cursor);

/* --- JSON for answers ---
 *
 * Each returns a new reference (NULL only when out of memory, which
 * json_pack's "o" turns into a failed pack). */

/* An RFC 3339 UTC time; null for 0 (never / not set). */
json_t *api_time_json(int64_t t);

/* The string; null when it is empty. */
json_t *api_str_json(const char *s);

/* The id; null for 0 (no row). */
json_t *api_id_json(int64_t id);

/* A JSON-array text column parsed into an array; text the API did not
 * write (empty, or not an array) shows as [] rather than failing the
 * answer. */
json_t *api_array_json(const char *text);

#endif
