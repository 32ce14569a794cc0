#include "controller/api.h"

#include "controller/cookie.h"
#include "controller/cred.h"
#include "controller/hub.h"
#include "controller/metrics.h"
#include "controller/ratelimit.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/jsonx.h"
#include "shared/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An API key's last_used_at is written at most this often, so that a busy
 * key does not turn every read into a database write. */
#define LAST_USED_GRANULARITY_S 60

/* Login failures (docs/api/README.md, "Sessions"): 5 per user name and
 * 20 per client address, then one more every 30 s / 6 s. */
#define LOGIN_USER_BURST 5
#define LOGIN_USER_REFILL_S 30
#define LOGIN_ADDR_BURST 20
#define LOGIN_ADDR_REFILL_S 6
#define LOGIN_SLOTS 4096

struct api {
	struct store *st;
	struct metrics *metrics;
	struct api_options opt;
	char *public_url;
	struct ratelimit *login_user, *login_addr;
};

static const struct api_route *const route_tables[] = {
	api_users_routes,     api_keys_routes,   api_nodes_routes,
	api_resources_routes, api_relays_routes, api_audit_routes,
	api_register_routes,  api_ops_routes,    api_map_routes,
	api_session_routes,   api_status_routes, api_policy_routes,
	api_dns_routes,
};

int api_new(struct store *st, struct metrics *m, const struct api_options *opt,
	    struct api **out)
{
	struct api *api = calloc(1, sizeof(*api));

	if (!api)
		return WEFT_ERR_NOMEM;
	if (ratelimit_new(LOGIN_USER_BURST, LOGIN_USER_REFILL_S, LOGIN_SLOTS,
			  &api->login_user) < 0 ||
	    ratelimit_new(LOGIN_ADDR_BURST, LOGIN_ADDR_REFILL_S, LOGIN_SLOTS,
			  &api->login_addr) < 0) {
		api_del(api);
		return WEFT_ERR_NOMEM;
	}
	api->st = st;
	api->metrics = m;
	if (opt)
		api->opt = *opt;
	if (api->opt.public_url) {
		api->public_url = strdup(api->opt.public_url);
		if (!api->public_url) {
			api_del(api);
			return WEFT_ERR_NOMEM;
		}
		api->opt.public_url = api->public_url;
	}
	*out = api;
	return 0;
}

void api_del(struct api *api)
{
	if (!api)
		return;
	ratelimit_del(api->login_user);
	ratelimit_del(api->login_addr);
	free(api->public_url);
	free(api);
}

struct ratelimit *api_login_limit_user(const struct api *api)
{
	return api->login_user;
}

struct ratelimit *api_login_limit_addr(const struct api *api)
{
	return api->login_addr;
}

const struct api_options *api_options(const struct api *api)
{
	return &api->opt;
}

struct metrics *api_metrics(const struct api *api)
{
	return api->metrics;
}

void api_each_route(void (*fn)(void *ctx, const struct api_route *r),
		    void *ctx)
{
	for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]);
	     t++)
		for (const struct api_route *r = route_tables[t]; r->method; r++)
			fn(ctx, r);
}

/* Matches path against pattern; on success copies {x} segments into
 * req->param_buf and points req->params at them. */
static bool match(const char *pattern, const char *path, struct http_req *req)
{
	const char *p = pattern, *s = path;
	size_t used = 0, np = 0;

	while (*p && *s) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			size_t n = strcspn(s, "/");

			if (!pe || n == 0 || np == HTTP_MAX_PARAMS ||
			    used + n + 1 > sizeof(req->param_buf))
				return false;
			memcpy(req->param_buf + used, s, n);
			req->param_buf[used + n] = '\0';
			req->params[np++] = req->param_buf + used;
			used += n + 1;
			p = pe + 1;
			s += n;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	if (*p || *s)
		return false;
	req->nparams = np;
	return true;
}

static const struct api_route *route(struct http_req *req, bool *wrong_method)
{
	*wrong_method = false;
	for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]);
	     t++) {
		for (const struct api_route *r = route_tables[t]; r->method;
		     r++) {
			if (!match(r->pattern, req->path, req))
				continue;
			if (strcmp(r->method, req->method) == 0)
				return r;
			*wrong_method = true;
		}
	}
	return NULL;
}

bool api_routes_path(const char *path)
{
	struct http_req req = {.path = path, .method = ""};
	bool wrong_method;

	return route(&req, &wrong_method) || wrong_method;
}

static int auth_apikey(struct api_call *c, const struct cred *cr,
		       struct principal *who, const char **why)
{
	struct store_apikey k;
	struct store_user u;
	struct store_tx *tx = NULL;
	int rc;

	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0)
		return rc;
	rc = store_apikey_get_by_prefix(tx, cr->id, &k);
	if (rc == WEFT_ERR_NOTFOUND || (rc == 0 && !cred_hash_eq(k.hash, cr->hash))) {
		*why = "unknown API key";
		rc = WEFT_ERR_AUTH;
		goto out;
	}
	if (rc < 0)
		goto out;
	if (k.revoked_at) {
		*why = "API key revoked";
		rc = WEFT_ERR_AUTH;
		goto out;
	}
	if (k.expires_at && k.expires_at <= c->now) {
		*why = "API key expired";
		rc = WEFT_ERR_EXPIRED;
		goto out;
	}
	who->kind = PRINCIPAL_APIKEY;
	who->apikey_id = k.id;
	who->user_id = k.user_id;
	who->admin = k.user_id == 0;
	if (k.user_id) {
		rc = store_user_get(tx, k.user_id, &u);
		if (rc < 0)
			goto out;
		who->admin = strcmp(u.role, "admin") == 0;
	}
	snprintf(who->actor, sizeof(who->actor), "apikey:%s", k.prefix);
	store_rollback(tx);
	tx = NULL;
	if (c->now - k.last_used_at >= LAST_USED_GRANULARITY_S) {
		/* Best effort: a failure here must not fail the request. */
		if (store_begin(c->st, STORE_WRITE, &tx) == 0 &&
		    store_apikey_get(tx, k.id, &k) == 0) {
			k.last_used_at = c->now;
			if (store_apikey_update(tx, &k) == 0) {
				store_commit(tx);
				tx = NULL;
			}
		}
	}
	rc = 0;
out:
	store_rollback(tx);
	return rc;
}

int api_apikey_auth(struct api_call *c, const char *text,
		    struct principal *who, const char **why)
{
	struct cred cr;

	if (cred_parse(text, &cr) < 0 || cr.kind != CRED_API) {
		*why = "malformed API key";
		return WEFT_ERR_AUTH;
	}
	return auth_apikey(c, &cr, who, why);
}

static int auth_node(struct api_call *c, const struct cred *cr,
		     struct principal *who, const char **why)
{
	struct store_node n;
	struct store_tx *tx = NULL;
	char *end;
	long long id;
	int rc;

	id = strtoll(cr->id, &end, 10);
	if (*end || id <= 0) {
		*why = "malformed node credential";
		return WEFT_ERR_AUTH;
	}
	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0)
		return rc;
	rc = store_node_get(tx, id, &n);
	store_rollback(tx);
	if (rc == WEFT_ERR_NOTFOUND ||
	    (rc == 0 && !cred_hash_eq(n.cred_hash, cr->hash))) {
		*why = "unknown node credential";
		return WEFT_ERR_AUTH;
	}
	if (rc < 0)
		return rc;
	if (n.expires_at && n.expires_at <= c->now) {
		*why = "node expired";
		return WEFT_ERR_EXPIRED;
	}
	who->kind = PRINCIPAL_NODE;
	who->node_id = n.id;
	snprintf(who->actor, sizeof(who->actor), "node:%" PRId64, n.id);
	return 0;
}

/* Resolves the Authorization header, or without one the session cookie,
 * into c->who. Returns 0, WEFT_ERR_AUTH or WEFT_ERR_EXPIRED (401) with
 * *why set, or a store error. */
static int authenticate(struct api_call *c, const char **why)
{
	const char *h = c->req->authorization;
	char token[CRED_TEXT_SIZE];
	struct cred cr;
	int rc;

	if (!h || !*h) {
		rc = cookie_get(c->req->cookie, COOKIE_SESSION, token,
				sizeof(token));
		if (rc == WEFT_ERR_NOTFOUND) {
			*why = "missing Authorization: Bearer header";
			return WEFT_ERR_AUTH;
		}
		if (rc < 0) {
			*why = "malformed session cookie";
			return WEFT_ERR_AUTH;
		}
		return api_session_auth(c, token, &c->who, why);
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		*why = "Authorization must use the Bearer scheme";
		return WEFT_ERR_AUTH;
	}
	h += 7;
	while (*h == ' ')
		h++;
	if (cred_parse(h, &cr) < 0) {
		*why = "malformed bearer token";
		return WEFT_ERR_AUTH;
	}
	switch (cr.kind) {
	case CRED_API:
		return auth_apikey(c, &cr, &c->who, why);
	case CRED_NODE:
		return auth_node(c, &cr, &c->who, why);
	case CRED_AUTH:
		break;
	case CRED_SESSION:
		*why = "a session token goes in the session cookie";
		return WEFT_ERR_AUTH;
	}
	*why = "auth keys register nodes; use an API key here";
	return WEFT_ERR_AUTH;
}

static bool allowed(const struct api_route *r, const struct principal *who,
		    const char **why)
{
	switch (r->auth) {
	case API_AUTH_NONE:
		return true;
	case API_AUTH_ADMIN:
		*why = "this call needs an admin API key";
		return (who->kind == PRINCIPAL_APIKEY ||
			who->kind == PRINCIPAL_SESSION) &&
		       who->admin;
	case API_AUTH_USER:
		*why = "this call needs an API key";
		return who->kind == PRINCIPAL_APIKEY ||
		       who->kind == PRINCIPAL_SESSION;
	case API_AUTH_NODE:
		*why = "this call needs a node credential";
		return who->kind == PRINCIPAL_NODE;
	}
	return false;
}

static void dispatch(struct api *api, const struct principal *as,
		     struct http_req *req, struct http_resp *resp)
{
	struct api_call c = {
		.api = api, .st = api->st, .req = req, .resp = resp,
		.now = clock_wall_s(),
	};
	const struct api_route *r;
	const char *why = NULL;
	bool wrong_method;
	int rc;

	resp->route = "other";
	r = route(req, &wrong_method);
	if (!r) {
		if (wrong_method)
			http_resp_error(resp, 405, "method_not_allowed",
					"method not allowed on this path", NULL);
		else
			http_resp_error(resp, 404, "not_found",
					"no such API path", NULL);
		return;
	}
	resp->route = r->pattern;
	if (as) {
		c.who = *as;
	} else if (r->auth != API_AUTH_NONE) {
		rc = authenticate(&c, &why);
		if (rc < 0) {
			char q[128];

			metrics_inc(api->metrics, METRICS_AUTH_FAILURES);
			log_info("auth_failed", "route=%s remote=%s reason=%s",
				 r->pattern, req->remote,
				 log_q(q, sizeof(q), why ? why : weft_strerror(rc)));
			/* An expired credential says so, so the agent can
			 * tell "renew" from "wrong key". */
			if (rc == WEFT_ERR_AUTH || rc == WEFT_ERR_EXPIRED)
				http_resp_error(resp, 401,
						rc == WEFT_ERR_EXPIRED
							? "expired"
							: "unauthenticated",
						why, NULL);
			else
				api_fail(&c, rc, NULL, NULL);
			return;
		}
	}
	if (!allowed(r, &c.who, &why)) {
		http_resp_error(resp, 403, "forbidden", why, NULL);
		return;
	}
	if (c.who.kind == PRINCIPAL_SESSION && !api_csrf_ok(&c, &why)) {
		http_resp_error(resp, 403, "forbidden", why, NULL);
		return;
	}
	r->fn(&c);
	/* A successful mutation may have recorded a change: let the hub read
	 * the feed now rather than at its next poll. */
	if (api->opt.hub && strcmp(req->method, "GET") != 0 &&
	    resp->status < 400)
		hub_kick(api->opt.hub);
	if (!resp->json && !resp->text && !resp->hold && resp->status != 204)
		http_resp_error(resp, 500, "internal", "handler gave no answer",
				NULL);
}

void api_handle(struct api *api, struct http_req *req, struct http_resp *resp)
{
	dispatch(api, NULL, req, resp);
}

void api_handle_as(struct api *api, const struct principal *who,
		   struct http_req *req, struct http_resp *resp)
{
	dispatch(api, who, req, resp);
}

json_t *api_body(struct api_call *c)
{
	struct jsonx_err err = {0};
	json_t *obj = NULL;

	if (jsonx_parse(c->req->body, c->req->body_len, HTTP_BODY_MAX, &obj,
			&err) < 0) {
		http_resp_error(c->resp, http_status_for(err.code),
				weft_errname(err.code), err.message,
				err.field[0] ? err.field : NULL);
		return NULL;
	}
	return obj;
}

json_t *api_read_body(struct api_call *c, const struct jsonx_field *f,
		      size_t n)
{
	struct jsonx_err err = {0};
	json_t *body = api_body(c);

	if (!body)
		return NULL;
	if (jsonx_read(body, f, n, &err) < 0) {
		http_resp_error(c->resp, http_status_for(err.code),
				weft_errname(err.code), err.message,
				err.field[0] ? err.field : NULL);
		json_decref(body);
		return NULL;
	}
	return body;
}

static bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool api_param_id(struct api_call *c, size_t i, int64_t *out)
{
	if (i >= c->req->nparams ||
	    !parse_i64(c->req->params[i], 1, INT64_MAX, out)) {
		http_resp_error(c->resp, 404, "not_found",
				"id must be a positive integer", "id");
		return false;
	}
	return true;
}

bool api_page(struct api_call *c, struct store_page *pg)
{
	const char *limit = http_query(c->req, "limit");
	const char *cursor = http_query(c->req, "cursor");
	int64_t v;

	*pg = (struct store_page){.after = 0, .limit = STORE_PAGE_DEFAULT};
	if (limit) {
		if (!parse_i64(limit, 1, STORE_PAGE_MAX, &v)) {
			http_resp_error(c->resp, 400, "out_of_range",
					"limit must be an integer from 1 to 1000",
					"limit");
			return false;
		}
		pg->limit = (int)v;
	}
	if (cursor) {
		if (!parse_i64(cursor, 0, INT64_MAX, &v)) {
			http_resp_error(c->resp, 400, "invalid",
					"cursor must be a value returned as next_cursor",
					"cursor");
			return false;
		}
		pg->after = v;
	}
	return true;
}

bool api_query_id(struct api_call *c, const char *key, int64_t *out)
{
	const char *s = http_query(c->req, key);
	char msg[96];

	if (s && !parse_i64(s, 1, INT64_MAX, out)) {
		snprintf(msg, sizeof(msg), "%s must be a positive integer", key);
		http_resp_error(c->resp, 400, "invalid", msg, key);
		return false;
	}
	return true;
}

bool api_query_bool(struct api_call *c, const char *key, int *out)
{
	const char *s = http_query(c->req, key);
	char msg[96];

	if (!s)
		return true;
	if (strcmp(s, "true") == 0) {
		*out = 1;
	} else if (strcmp(s, "false") == 0) {
		*out = 0;
	} else {
		snprintf(msg, sizeof(msg), "%s must be true or false", key);
		http_resp_error(c->resp, 400, "invalid", msg, key);
		return false;
	}
	return true;
}

void api_not_found(struct api_call *c, const char *what, int64_t id)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "no %s with id %" PRId64, what, id);
	http_resp_error(c->resp, 404, "not_found", msg, "id");
}

void api_fail(struct api_call *c, int err, const char *message,
	      const char *field)
{
	if (err == WEFT_ERR_DB || err == WEFT_ERR_BUSY ||
	    err == WEFT_ERR_INTERNAL || err == WEFT_ERR_NOMEM) {
		char q[256];

		log_error_err(err, "api_error", "route=%s detail=%s",
			      c->resp->route ? c->resp->route : "?",
			      log_q(q, sizeof(q), store_errmsg()));
		/* Never leak engine messages to clients. */
		message = NULL;
	}
	http_resp_err(c->resp, err, message, field);
}

int api_audit(struct api_call *c, struct store_tx *tx, const char *action,
	      const char *target_type, const char *target_id,
	      const json_t *detail)
{
	struct store_audit a = {.at = c->now};
	char *d = NULL;
	int rc;

	if (snprintf(a.actor, sizeof(a.actor), "%s",
		     c->who.actor[0] ? c->who.actor : "anonymous") >=
		    (int)sizeof(a.actor) ||
	    snprintf(a.action, sizeof(a.action), "%s", action) >=
		    (int)sizeof(a.action) ||
	    snprintf(a.target_type, sizeof(a.target_type), "%s",
		     target_type) >= (int)sizeof(a.target_type) ||
	    snprintf(a.target_id, sizeof(a.target_id), "%s", target_id) >=
		    (int)sizeof(a.target_id))
		return WEFT_ERR_TOOBIG;
	if (detail) {
		d = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
		if (!d)
			return WEFT_ERR_NOMEM;
		if (strlen(d) >= sizeof(a.detail)) {
			free(d);
			return WEFT_ERR_TOOBIG;
		}
		memcpy(a.detail, d, strlen(d) + 1);
		free(d);
	}
	rc = store_audit_create(tx, &a);
	return rc;
}

int api_commit_audited(struct api_call *c, struct store_tx *tx,
		       const char *action, const char *kind, int64_t id,
		       const json_t *detail)
{
	char idtext[24];
	int rc;

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	rc = api_audit(c, tx, action, kind, idtext, detail);
	if (rc < 0) {
		store_rollback(tx);
		return rc;
	}
	return store_commit(tx);
}

int api_commit_change(struct api_call *c, struct store_tx *tx,
		      const char *action, const char *kind, int64_t id,
		      const json_t *detail)
{
	int rc = store_change_record(tx, kind, id, NULL);

	if (rc < 0) {
		store_rollback(tx);
		return rc;
	}
	return api_commit_audited(c, tx, action, kind, id, detail);
}

int api_finish_change(struct api_call *c, struct store_tx *tx,
		      const char *action, const char *kind, int64_t id,
		      json_t *o, int status)
{
	int rc;

	if (!o) {
		store_rollback(tx);
		return WEFT_ERR_NOMEM;
	}
	rc = api_commit_change(c, tx, action, kind, id, o);
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	http_resp_json(c->resp, status, o);
	return 0;
}

void api_get_by_id(struct api_call *c, const char *what, api_load_fn load)
{
	struct store_tx *tx = NULL;
	json_t *o = NULL;
	int64_t id;
	int rc;

	if (!api_param_id(c, 0, &id))
		return;
	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0)
		goto out;
	rc = load(c, tx, id, &o);
	if (rc < 0)
		goto out;
	http_resp_json(c->resp, 200, o);
out:
	store_rollback(tx);
	if (rc == WEFT_ERR_NOTFOUND)
		api_not_found(c, what, id);
	else if (rc < 0)
		api_fail(c, rc, NULL, NULL);
}

void api_delete_by_id(struct api_call *c, const char *what,
		      const char *action, api_remove_fn remove)
{
	struct store_tx *tx = NULL;
	json_t *detail = NULL;
	char name[STORE_NAME_SIZE], msg[256] = "";
	int64_t id;
	int rc;

	if (!api_param_id(c, 0, &id))
		return;
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = remove(tx, id, name, sizeof(name), msg, sizeof(msg));
	if (rc < 0)
		goto out;
	detail = json_pack("{s:s}", "name", name);
	if (!detail) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = api_commit_change(c, tx, action, what, id, detail);
	tx = NULL;
	if (rc < 0)
		goto out;
	http_resp_free(c->resp);
	c->resp->status = 204;
out:
	store_rollback(tx);
	json_decref(detail);
	if (rc == WEFT_ERR_NOTFOUND)
		api_not_found(c, what, id);
	else if (rc < 0)
		api_fail(c, rc, msg[0] ? msg : NULL, NULL);
}

void api_edit_row(struct api_call *c, const struct api_edit *e, bool create,
		  void *in, void *row)
{
	struct store_tx *tx = NULL;
	const char *field = NULL;
	char msg[256] = "", action[48];
	json_t *body;
	int64_t id = 0;
	int rc;

	if (!create && !api_param_id(c, 0, &id))
		return;
	body = e->read(c, create, in);
	if (!body)
		return;
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	if (!create) {
		rc = e->get(tx, id, row);
		if (rc == WEFT_ERR_NOTFOUND) {
			field = "id";
			snprintf(msg, sizeof(msg), "no %s with id %" PRId64,
				 e->what, id);
		}
		if (rc < 0)
			goto out;
	}
	rc = e->apply(tx, in, row, msg, sizeof(msg), &field);
	if (rc < 0)
		goto out;
	rc = e->save(tx, row, create, c->now, msg, sizeof(msg), &field);
	if (rc < 0)
		goto out;
	snprintf(action, sizeof(action), "%s.%s", e->what,
		 create ? "create" : "update");
	rc = api_finish_change(c, tx, action, e->what, e->id(row),
			       e->to_json(row), create ? 201 : 200);
	tx = NULL;
out:
	store_rollback(tx);
	if (rc < 0)
		api_fail(c, rc, msg[0] ? msg : NULL, field);
	json_decref(body);
}

void api_list(struct api_call *c, const struct store_page *pg,
	      api_list_fn list, const void *filter)
{
	struct store_tx *tx = NULL;
	json_t *items;
	int64_t next = 0;
	int rc;

	items = json_array();
	if (!items) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0)
		goto out;
	rc = list(tx, filter, pg, items, &next);
	if (rc < 0)
		goto out;
	http_resp_json(c->resp, 200, api_list_body(items, next));
	items = NULL;
out:
	store_rollback(tx);
	json_decref(items);
	if (rc < 0)
		api_fail(c, rc, NULL, NULL);
}

json_t *api_list_body(json_t *items, int64_t next_cursor)
{
	json_t *o;
	char buf[32];

	if (!items)
		return NULL;
	if (next_cursor) {
		snprintf(buf, sizeof(buf), "%" PRId64, next_cursor);
		o = json_pack("{s:o, s:s}", "items", items, "next_cursor", buf);
	} else {
		o = json_pack("{s:o, s:n}", "items", items, "next_cursor");
	}
	return o;
}

json_t *api_time_json(int64_t t)
{
	char buf[CLOCK_RFC3339_LEN + 1];

	if (!t || clock_format_rfc3339(t, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

json_t *api_str_json(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

json_t *api_id_json(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

json_t *api_array_json(const char *text)
{
	json_t *a = text[0] ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) :
			      NULL;

	if (!json_is_array(a)) {
		json_decref(a);
		a = json_array();
	}
	return a;
}
