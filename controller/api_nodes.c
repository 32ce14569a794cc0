/* /api/v1/nodes and /api/v1/routes: list, show, rename/retag, expire and
 * delete nodes; list routes and approve or unapprove them.
 *
 * Members (API keys of users with role member) may list and show only the
 * nodes they own; another user's node answers 404 so that its existence is
 * not revealed. Everything that changes a node or a route changes network
 * maps, so those transactions bump the netmap version. */
#include "controller/api.h"
#include "controller/hub.h"
#include "controller/watch.h"

#include "controller/model.h"
#include "controller/valid.h"
#include "shared/err.h"
#include "shared/jsonx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAGS_MAX 16

static json_t *route_json(const struct store_route *r)
{
	return json_pack("{s:I, s:I, s:s, s:b, s:b, s:o}",
			 "id", (json_int_t)r->id,
			 "node_id", (json_int_t)r->node_id,
			 "prefix", r->prefix,
			 "advertised", r->advertised != 0,
			 "approved", r->approved != 0,
			 "created_at", api_time_json(r->created_at));
}

/* --- nodes --- */

struct collect {
	json_t *items;
	const char *domain;
};

static int collect_node(void *ctx, const struct store_node *n)
{
	struct collect *k = ctx;
	json_t *o = model_node_json_bare(n, k->domain);

	if (!o || json_array_append_new(k->items, o) < 0)
		return WEFT_ERR_NOMEM;
	return 0;
}

static void h_list_nodes(struct api_call *c)
{
	struct store_node_filter f = {.online = -1};
	const char *tag = http_query(c->req, "tag");
	struct store_tx *tx = NULL;
	struct store_page pg;
	json_t *items = NULL;
	char domain[NAME_DNS_MAX + 1];
	int64_t next = 0;
	int rc;

	if (!api_page(c, &pg) || !api_query_id(c, "user_id", &f.user_id) ||
	    !api_query_bool(c, "online", &f.online))
		return;
	if (tag && !valid_tag(tag)) {
		http_resp_error(c->resp, 400, "invalid",
				"tag must look like tag:<name>", "tag");
		return;
	}
	f.tag = tag;
	if (!c->who.admin) {
		/* A member is always a user; user_id 0 would mean "any". */
		if (!c->who.user_id ||
		    (f.user_id && f.user_id != c->who.user_id)) {
			http_resp_error(c->resp, 403, "forbidden",
					"members may list only their own nodes",
					"user_id");
			return;
		}
		f.user_id = c->who.user_id;
	}
	items = json_array();
	if (!items) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc == 0)
		rc = api_dns_domain(c, tx, domain);
	if (rc < 0)
		goto out;
	rc = store_node_list(tx, &f, &pg, collect_node,
			     &(struct collect){items, domain}, &next);
	if (rc < 0)
		goto out;
	/* Routes are read after the walk: no query runs inside another. */
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *o = json_array_get(items, i);

		rc = model_node_add_routes(
			tx, json_integer_value(json_object_get(o, "id")), o);
		if (rc < 0)
			goto out;
	}
	http_resp_json(c->resp, 200, api_list_body(items, next));
	items = NULL;
out:
	store_rollback(tx);
	json_decref(items);
	if (rc < 0)
		api_fail(c, rc, NULL, NULL);
}

/* A number query parameter in [lo, hi]; def when absent. False (and a 400
 * answer) when it is malformed or out of range. */
static bool query_range(struct api_call *c, const char *name, int64_t lo,
			int64_t hi, int64_t def, int64_t *out)
{
	const char *s = http_query(c->req, name);
	char *end, msg[96];
	long long v;

	*out = def;
	if (!s)
		return true;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi) {
		snprintf(msg, sizeof(msg), "%s must be a whole number from %" PRId64
			 " to %" PRId64, name, lo, hi);
		http_resp_error(c->resp, 400, "invalid", msg, name);
		return false;
	}
	*out = v;
	return true;
}

/* GET /api/v1/nodes/watch?since=V&wait=S: answered when the node list may
 * have changed since version V (at once when it did already), or after S
 * seconds with "changed": false. */
static void h_watch_nodes(struct api_call *c)
{
	struct hub *hub = api_options(c->api)->hub;
	int64_t since, wait;

	if (!query_range(c, "since", 0, INT64_MAX, 0, &since) ||
	    !query_range(c, "wait", 0, WATCH_WAIT_MAX_S, 25, &wait))
		return;
	if (!hub) {
		http_resp_error(c->resp, 503, "unavailable",
				"node watches are served by weft-controller serve",
				NULL);
		return;
	}
	/* Callers are told apart by user; the bootstrap key (no user) by its
	 * key id. */
	hub_watch_nodes(hub, c->who.user_id ? c->who.user_id : -c->who.apikey_id,
			since, wait * 1000, c->resp);
}

/* Reads node id inside tx; members get NOTFOUND for nodes of others. */
static int get_visible_node(struct api_call *c, struct store_tx *tx, int64_t id,
			    struct store_node *n)
{
	int rc = store_node_get(tx, id, n);

	if (rc == 0 && !c->who.admin &&
	    (!c->who.user_id || n->user_id != c->who.user_id))
		rc = WEFT_ERR_NOTFOUND;
	return rc;
}

static int load_node(struct api_call *c, struct store_tx *tx, int64_t id,
		     json_t **out)
{
	char domain[NAME_DNS_MAX + 1];
	struct store_node n;
	int rc = get_visible_node(c, tx, id, &n);

	if (rc == 0)
		rc = api_dns_domain(c, tx, domain);
	if (rc == 0)
		rc = model_node_json(tx, domain, &n, out);
	return rc;
}

static void h_get_node(struct api_call *c)
{
	api_get_by_id(c, "node", load_node);
}

/* Canonical JSON text of a tag list, checking every tag and refusing
 * repeats; on a bad tag fills msg/field. */
static int tags_text(const struct jsonx_strings *tags, char *buf, size_t cap,
		     char *msg, size_t msglen, char *field, size_t fieldlen)
{
	json_t *a = json_array();
	char *s = NULL;
	int rc = 0;

	if (!a)
		return WEFT_ERR_NOMEM;
	for (size_t i = 0; i < tags->n; i++) {
		const char *t = tags->items[i];

		snprintf(field, fieldlen, "tags[%zu]", i);
		if (!valid_tag(t)) {
			snprintf(msg, msglen, VALID_TAG_MESSAGE, field);
			rc = WEFT_ERR_INVAL;
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(tags->items[j], t) == 0) {
				snprintf(msg, msglen, "tags[%zu] repeats %s",
					 i, t);
				rc = WEFT_ERR_INVAL;
				goto out;
			}
		}
		if (json_array_append_new(a, json_string(t)) < 0) {
			rc = WEFT_ERR_NOMEM;
			goto out;
		}
	}
	s = json_dumps(a, JSON_COMPACT);
	if (!s) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	if (strlen(s) >= cap) {
		snprintf(field, fieldlen, "tags");
		snprintf(msg, msglen, "tags are too long");
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	memcpy(buf, s, strlen(s) + 1);
out:
	free(s);
	json_decref(a);
	return rc;
}

/* Commits tx (always consumed) and answers with the node read back inside
 * it. */
static int commit_with_node(struct api_call *c, struct store_tx *tx,
			    int64_t id, int status)
{
	char domain[NAME_DNS_MAX + 1];
	struct store_node n;
	json_t *o = NULL;
	int rc;

	rc = store_node_get(tx, id, &n);
	if (rc == 0)
		rc = api_dns_domain(c, tx, domain);
	if (rc == 0)
		rc = model_node_json(tx, domain, &n, &o);
	if (rc < 0) {
		store_rollback(tx);
		return rc;
	}
	rc = store_commit(tx);
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	http_resp_json(c->resp, status, o);
	return 0;
}

static void h_patch_node(struct api_call *c)
{
	const char *name = NULL;
	struct jsonx_strings tags = {0};
	bool has_name = false, has_tags = false;
	const struct jsonx_field fields[] = {
		{"name", JSONX_STRING, false, 1, VALID_NAME_MAX, 0, &name,
		 &has_name},
		{"tags", JSONX_STRING_ARRAY, false, 0, TAGS_MAX, VALID_TAG_MAX,
		 &tags, &has_tags},
	};
	struct store_tx *tx = NULL;
	struct store_node n, other;
	char newtags[STORE_JSON_SIZE];
	char msg[256] = "", field[32] = "";
	char old_name[STORE_NAME_SIZE], idtext[24];
	const char *action;
	json_t *body = NULL, *detail = NULL;
	bool renamed, retagged;
	int64_t id;
	int rc = 0;

	if (!api_param_id(c, 0, &id))
		return;
	body = api_read_body(c, fields, sizeof(fields) / sizeof(fields[0]));
	if (!body)
		return;
	if (has_name && !valid_node_name(name)) {
		snprintf(field, sizeof(field), "name");
		snprintf(msg, sizeof(msg),
			 "name must be a DNS label: 1 to 63 of a-z 0-9 -, "
			 "not starting or ending with -");
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	if (has_tags) {
		rc = tags_text(&tags, newtags, sizeof(newtags), msg, sizeof(msg),
			       field, sizeof(field));
		if (rc < 0)
			goto out;
	}
	field[0] = '\0';
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = store_node_get(tx, id, &n);
	if (rc == WEFT_ERR_NOTFOUND) {
		snprintf(field, sizeof(field), "id");
		snprintf(msg, sizeof(msg), "no node with id %" PRId64, id);
	}
	if (rc < 0)
		goto out;
	snprintf(old_name, sizeof(old_name), "%s", n.name);
	renamed = has_name && strcmp(name, n.name) != 0;
	retagged = has_tags && strcmp(newtags, n.tags) != 0;
	if (!renamed && !retagged) {
		/* Nothing changes: answer the node, write nothing. */
		rc = commit_with_node(c, tx, id, 200);
		tx = NULL;
		goto out;
	}
	if (renamed) {
		rc = store_node_get_by_name(tx, name, &other);
		if (rc == 0) {
			snprintf(field, sizeof(field), "name");
			snprintf(msg, sizeof(msg), "a node named %s exists",
				 name);
			rc = WEFT_ERR_EXISTS;
			goto out;
		}
		if (rc != WEFT_ERR_NOTFOUND)
			goto out;
		snprintf(n.name, sizeof(n.name), "%s", name);
	}
	if (retagged)
		memcpy(n.tags, newtags, strlen(newtags) + 1);
	rc = store_node_update(tx, &n);
	if (rc == WEFT_ERR_EXISTS) {
		snprintf(field, sizeof(field), "name");
		snprintf(msg, sizeof(msg), "a node named %s exists", n.name);
	}
	if (rc < 0)
		goto out;
	detail = json_object();
	if (!detail ||
	    (renamed &&
	     (json_object_set_new(detail, "old_name", json_string(old_name)) <
		      0 ||
	      json_object_set_new(detail, "name", json_string(n.name)) < 0)) ||
	    (retagged &&
	     json_object_set_new(detail, "tags", api_array_json(n.tags)) < 0)) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	action = renamed && retagged ? "node.update" :
		 renamed ? "node.rename" : "node.retag";
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	rc = api_audit(c, tx, action, "node", idtext, detail);
	if (rc < 0)
		goto out;
	rc = store_change_record(tx, "node", id, NULL);
	if (rc < 0)
		goto out;
	rc = commit_with_node(c, tx, id, 200);
	tx = NULL;
out:
	store_rollback(tx);
	if (rc < 0)
		api_fail(c, rc, msg[0] ? msg : NULL, field[0] ? field : NULL);
	free(tags.items);
	json_decref(detail);
	json_decref(body);
}

static void h_expire_node(struct api_call *c)
{
	struct store_tx *tx = NULL;
	struct store_node n;
	char idtext[24];
	int64_t id;
	int rc;

	if (!api_param_id(c, 0, &id))
		return;
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = store_node_get(tx, id, &n);
	if (rc < 0)
		goto out;
	n.expires_at = c->now;
	rc = store_node_update(tx, &n);
	if (rc < 0)
		goto out;
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	rc = api_audit(c, tx, "node.expire", "node", idtext, NULL);
	if (rc < 0)
		goto out;
	rc = store_change_record(tx, "node", id, NULL);
	if (rc < 0)
		goto out;
	rc = commit_with_node(c, tx, id, 200);
	tx = NULL;
out:
	store_rollback(tx);
	if (rc == WEFT_ERR_NOTFOUND)
		api_not_found(c, "node", id);
	else if (rc < 0)
		api_fail(c, rc, NULL, NULL);
}

static int remove_node(struct store_tx *tx, int64_t id, char *name,
		       size_t cap, char *msg, size_t msglen)
{
	struct store_node n;
	int rc = store_node_get(tx, id, &n);

	(void)msg;
	(void)msglen;
	if (rc == 0)
		rc = store_node_delete(tx, id);
	if (rc == 0)
		snprintf(name, cap, "%s", n.name);
	return rc;
}

static void h_delete_node(struct api_call *c)
{
	api_delete_by_id(c, "node", "node.delete", remove_node);
}

/* --- routes --- */

static int collect_route(void *ctx, const struct store_route *r)
{
	json_t *o = route_json(r);

	if (!o || json_array_append_new(ctx, o) < 0)
		return WEFT_ERR_NOMEM;
	return 0;
}

static int list_routes(struct store_tx *tx, const void *filter,
		       const struct store_page *pg, json_t *items,
		       int64_t *next)
{
	return store_route_list(tx, filter, pg, collect_route, items, next);
}

static void h_list_routes(struct api_call *c)
{
	struct store_route_filter f = {0};
	struct store_page pg;

	if (!api_page(c, &pg) || !api_query_id(c, "node_id", &f.node_id))
		return;
	api_list(c, &pg, list_routes, &f);
}

static void h_patch_route(struct api_call *c)
{
	bool approved = false;
	const struct jsonx_field fields[] = {
		{"approved", JSONX_BOOL, true, 0, 0, 0, &approved, NULL},
	};
	struct store_tx *tx = NULL;
	struct store_route r;
	json_t *body = NULL, *detail = NULL, *o = NULL;
	char idtext[24];
	int64_t id;
	int rc = 0;

	if (!api_param_id(c, 0, &id))
		return;
	body = api_read_body(c, fields, sizeof(fields) / sizeof(fields[0]));
	if (!body)
		return;
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = store_route_get(tx, id, &r);
	if (rc < 0)
		goto out;
	if ((r.approved != 0) != approved) {
		r.approved = approved;
		rc = store_route_update(tx, &r);
		if (rc < 0)
			goto out;
		detail = json_pack("{s:I, s:s}", "node_id",
				   (json_int_t)r.node_id, "prefix", r.prefix);
		if (!detail) {
			rc = WEFT_ERR_NOMEM;
			goto out;
		}
		snprintf(idtext, sizeof(idtext), "%" PRId64, id);
		rc = api_audit(c, tx,
			       approved ? "route.approve" : "route.unapprove",
			       "route", idtext, detail);
		if (rc < 0)
			goto out;
		rc = store_change_record(tx, "node", r.node_id, NULL);
		if (rc < 0)
			goto out;
	}
	o = route_json(&r);
	if (!o) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = store_commit(tx);
	tx = NULL;
	if (rc < 0)
		goto out;
	http_resp_json(c->resp, 200, o);
	o = NULL;
out:
	store_rollback(tx);
	json_decref(o);
	json_decref(detail);
	json_decref(body);
	if (rc == WEFT_ERR_NOTFOUND)
		api_not_found(c, "route", id);
	else if (rc < 0)
		api_fail(c, rc, NULL, NULL);
}

const struct api_route api_nodes_routes[] = {
	{"GET", "/api/v1/nodes", API_AUTH_USER, h_list_nodes},
	{"GET", "/api/v1/nodes/watch", API_AUTH_USER, h_watch_nodes},
	{"GET", "/api/v1/nodes/{id}", API_AUTH_USER, h_get_node},
	{"PATCH", "/api/v1/nodes/{id}", API_AUTH_ADMIN, h_patch_node},
	{"POST", "/api/v1/nodes/{id}/expire", API_AUTH_ADMIN, h_expire_node},
	{"DELETE", "/api/v1/nodes/{id}", API_AUTH_ADMIN, h_delete_node},
	{"GET", "/api/v1/routes", API_AUTH_ADMIN, h_list_routes},
	{"PATCH", "/api/v1/routes/{id}", API_AUTH_ADMIN, h_patch_route},
	{0},
};
