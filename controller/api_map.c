/* The agent-facing map routes and the policy document:
 *   GET  /api/v1/map?since=V     the node's network map (long-poll)
 *   POST /api/v1/endpoints       the node's candidate endpoints
 *   GET  /api/v1/policy          the current policy document
 *   PUT  /api/v1/policy          replace it (validated, tests evaluated;
 *                                ?base_version=N refuses it with 409
 *                                when N is no longer the current one)
 *   GET  /api/v1/relay-key       the public key relays verify tokens with */
#include "controller/api.h"
#include "controller/resource.h"

#include "controller/hub.h"
#include "controller/policy.h"
#include "controller/relaykey.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/ip.h"
#include "shared/jsonx.h"
#include "shared/token.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENDPOINTS_MAX 32

static void h_map(struct api_call *c)
{
	const char *s = http_query(c->req, "since");
	int64_t since = 0;
	char *end;

	if (!api_options(c->api)->hub) {
		http_resp_error(c->resp, 503, "unavailable",
				"network maps are served by weft-controller serve",
				NULL);
		return;
	}
	if (s) {
		errno = 0;
		since = strtoll(s, &end, 10);
		if (!*s || *end || errno || since < 0) {
			http_resp_error(c->resp, 400, "invalid",
					"since must be a version number from an "
					"earlier answer",
					"since");
			return;
		}
	}
	hub_map_request(api_options(c->api)->hub, c->who.node_id, since,
			c->resp);
}

static void h_endpoints(struct api_call *c)
{
	struct jsonx_strings eps = {0};
	const char *home = NULL;
	bool has_home = false;
	const struct jsonx_field fields[] = {
		{"endpoints", JSONX_STRING_ARRAY, true, 0, ENDPOINTS_MAX,
		 IP_ENDPOINT_STRLEN, &eps, NULL},
		{"home_relay", JSONX_STRING, false, 0, STORE_NAME_SIZE - 1, 0,
		 &home, &has_home},
	};
	struct jsonx_err err = {0};
	struct store_tx *tx = NULL;
	struct store_node n;
	json_t *body, *arr = NULL;
	char *text = NULL;
	int rc;

	body = api_body(c);
	if (!body)
		return;
	if (jsonx_read(body, fields, 2, &err) < 0) {
		http_resp_error(c->resp, http_status_for(err.code),
				weft_errname(err.code), err.message,
				err.field[0] ? err.field : NULL);
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < eps.n; i++) {
		struct ip_endpoint ep;
		char canon[IP_ENDPOINT_STRLEN], field[32];

		if (ip_endpoint_parse(eps.items[i], &ep) < 0) {
			snprintf(field, sizeof(field), "endpoints[%zu]", i);
			http_resp_error(c->resp, 400, "invalid",
					"an endpoint is address:port, [v6]:port",
					field);
			goto out;
		}
		ip_endpoint_format(&ep, canon, sizeof(canon));
		json_array_append_new(arr, json_string(canon));
	}
	text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	if (!text) {
		api_fail(c, WEFT_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc == 0)
		rc = store_node_get(tx, c->who.node_id, &n);
	if (rc < 0)
		goto fail;
	if (strlen(text) >= sizeof(n.endpoints)) {
		rc = WEFT_ERR_TOOBIG;
		goto fail;
	}
	/* Agents report often; only a real change touches maps. */
	if (strcmp(n.endpoints, text) != 0 ||
	    (has_home && strcmp(n.home_relay, home) != 0)) {
		memcpy(n.endpoints, text, strlen(text) + 1);
		if (has_home)
			snprintf(n.home_relay, sizeof(n.home_relay), "%s", home);
		rc = store_node_update(tx, &n);
		if (rc == 0)
			rc = store_change_record(tx, "node", n.id, NULL);
		if (rc < 0)
			goto fail;
	}
	rc = store_commit(tx);
	tx = NULL;
	if (rc < 0)
		goto fail;
	http_resp_json(c->resp, 200,
		       json_pack("{s:o}", "endpoints", json_incref(arr)));
	goto out;
fail:
	api_fail(c, rc, NULL, NULL);
out:
	store_rollback(tx);
	free(text);
	json_decref(arr);
	free(eps.items);
	json_decref(body);
}

static json_t *policy_json(const struct store_policy *p)
{
	json_t *doc = json_loads(p->document, 0, NULL);
	char at[32] = "";

	clock_format_rfc3339(p->created_at, at, sizeof(at));
	return json_pack("{s:I, s:o, s:s, s:s, s:s}", "version",
			 (json_int_t)p->version, "document",
			 doc ? doc : json_object(), "text", p->document,
			 "author", p->author, "created_at", at);
}

static void h_get_policy(struct api_call *c)
{
	struct store_policy p = {0};
	struct store_tx *tx = NULL;
	int rc;

	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc == 0)
		rc = store_policy_get_current(tx, &p);
	store_rollback(tx);
	if (rc == WEFT_ERR_NOTFOUND) {
		/* Never set: the empty policy, which denies everything. */
		http_resp_json(c->resp, 200,
			       json_pack("{s:i, s:{}, s:s, s:n, s:n}", "version",
					 0, "document", "text", "{}", "author",
					 "created_at"));
		return;
	}
	if (rc < 0) {
		api_fail(c, rc, NULL, NULL);
		return;
	}
	http_resp_json(c->resp, 200, policy_json(&p));
	store_policy_free(&p);
}

static bool user_exists(void *ctx, const char *name)
{
	struct store_user u;

	return store_user_get_by_name(ctx, name, &u) == 0;
}

static bool resource_exists(void *ctx, const char *name)
{
	struct store_resource r;

	return store_resource_get_by_name(ctx, name, &r) == 0;
}

static bool resource_filters(void *ctx, const char *name,
			     struct policy_filter *out, size_t *n)
{
	struct store_resource r;

	return store_resource_get_by_name(ctx, name, &r) == 0 &&
	       resource_filters_from_text(r.filters, out, n) == 0;
}

void api_policy_names(struct store_tx *tx, struct policy_names *out)
{
	*out = (struct policy_names){user_exists, resource_exists, tx,
				     resource_filters};
}

static void policy_err_message(const struct policy_err *err, char *buf,
			       size_t n)
{
	snprintf(buf, n, "%s%s%s", err->path, err->path[0] ? ": " : "",
		 err->message);
}

json_t *api_policy_err_json(const struct policy_err *err)
{
	char msg[600];
	json_t *o;

	policy_err_message(err, msg, sizeof(msg));
	o = json_pack("{s:s}", "message", msg);
	if (o && err->path[0] &&
	    json_object_set_new(o, "path", json_string(err->path)) < 0) {
		json_decref(o);
		return NULL;
	}
	if (o && err->line > 0 &&
	    (json_object_set_new(o, "line", json_integer(err->line)) < 0 ||
	     json_object_set_new(o, "column", json_integer(err->column)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The 400/413 body of a refused policy: the usual error shape plus
 * error.details (path, line, column) for the editor. */
static void policy_error(struct api_call *c, int status,
			 const struct policy_err *err)
{
	char msg[600];
	json_t *body, *details;

	policy_err_message(err, msg, sizeof(msg));
	body = jsonx_error_body("invalid_policy", msg,
				err->path[0] ? err->path : NULL);
	details = api_policy_err_json(err);
	if (details)
		json_object_del(details, "message");
	if (!body || !details ||
	    json_object_set_new(json_object_get(body, "error"), "details",
				details) < 0) {
		json_decref(body);
		api_fail(c, WEFT_ERR_NOMEM, NULL, NULL);
		return;
	}
	http_resp_json(c->resp, status, body);
}

/* ?base_version=N: the version the editor started from; -1 when absent,
 * -2 (after a 400) when malformed. */
static int64_t base_version(struct api_call *c)
{
	const char *s = http_query(c->req, "base_version");
	char *end;
	long long v;

	if (!s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < 0) {
		http_resp_error(c->resp, 400, "invalid",
				"base_version must be a policy version (0 or more)",
				"base_version");
		return -2;
	}
	return v;
}

/* With a base version: 0 when it is still the current one, else
 * WEFT_ERR_CONFLICT (the 409 filled in) or a store error. */
static int check_base(struct api_call *c, struct store_tx *tx, int64_t base)
{
	struct store_policy cur = {0};
	int64_t now = 0;
	char msg[160];
	int rc;

	if (base < 0)
		return 0;
	rc = store_policy_get_current(tx, &cur);
	if (rc == 0)
		now = cur.version;
	store_policy_free(&cur);
	if (rc < 0 && rc != WEFT_ERR_NOTFOUND)
		return rc;
	if (now == base)
		return 0;
	snprintf(msg, sizeof(msg),
		 "the policy changed since version %" PRId64 " (now version %"
		 PRId64 "): reload it and apply your edits again", base, now);
	http_resp_error(c->resp, 409, "conflict", msg, "base_version");
	return WEFT_ERR_CONFLICT;
}

static void h_put_policy(struct api_call *c)
{
	struct policy_err err = {0};
	struct policy_names names;
	struct policy *p = NULL;
	struct store_tx *tx = NULL;
	struct store_policy saved = {0};
	int64_t version = 0, base = base_version(c);
	json_t *detail;
	char vtext[32];
	int rc;

	if (base == -2)
		return;
	if (c->req->body_len > POLICY_MAX_BYTES) {
		http_resp_error(c->resp, 413, "too_big",
				"policy documents are at most 1 MiB", NULL);
		return;
	}
	/* Names are checked against the database inside the write
	 * transaction, so a user deleted concurrently cannot slip in. */
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto fail;
	api_policy_names(tx, &names);
	rc = policy_parse(c->req->body, c->req->body_len, &names, &p, &err);
	if (rc < 0) {
		store_rollback(tx);
		tx = NULL;
		if (rc == WEFT_ERR_INVAL || rc == WEFT_ERR_PARSE ||
		    rc == WEFT_ERR_TOOBIG) {
			policy_error(c, rc == WEFT_ERR_TOOBIG ? 413 : 400, &err);
			return;
		}
		goto fail;
	}
	policy_free(p);
	rc = check_base(c, tx, base);
	if (rc == WEFT_ERR_CONFLICT) {
		store_rollback(tx);
		return;
	}
	if (rc < 0)
		goto fail;
	rc = store_policy_put(tx, c->req->body, c->who.actor, &version);
	if (rc < 0)
		goto fail;
	snprintf(vtext, sizeof(vtext), "%" PRId64, version);
	detail = json_pack("{s:I}", "version", (json_int_t)version);
	rc = api_audit(c, tx, "policy.update", "policy", vtext, detail);
	json_decref(detail);
	if (rc == 0)
		rc = store_change_record(tx, "policy", version, NULL);
	if (rc == 0)
		rc = store_policy_get(tx, version, &saved);
	if (rc < 0)
		goto fail;
	rc = store_commit(tx);
	tx = NULL;
	if (rc < 0)
		goto fail;
	http_resp_json(c->resp, 200, policy_json(&saved));
	store_policy_free(&saved);
	return;
fail:
	store_rollback(tx);
	store_policy_free(&saved);
	api_fail(c, rc, NULL, NULL);
}

static void h_relay_key(struct api_call *c)
{
	char *pub = NULL;
	int rc;

	rc = relaykey_public(c->st, &pub);
	if (rc < 0) {
		api_fail(c, rc, rc == WEFT_ERR_NOTFOUND
					? "no relay key yet: start weft-controller serve once"
					: NULL,
			 NULL);
		return;
	}
	http_resp_json(c->resp, 200,
		       json_pack("{s:s, s:s}", "algorithm", "ES256",
				 "public_key", pub));
	free(pub);
}

const struct api_route api_map_routes[] = {
	{"GET", "/api/v1/map", API_AUTH_NODE, h_map},
	{"POST", "/api/v1/endpoints", API_AUTH_NODE, h_endpoints},
	{"GET", "/api/v1/policy", API_AUTH_ADMIN, h_get_policy},
	{"PUT", "/api/v1/policy", API_AUTH_ADMIN, h_put_policy},
	{"GET", "/api/v1/relay-key", API_AUTH_NONE, h_relay_key},
	{0},
};
