/* GET /api/v1/status: what the UI's overview shows, in one answer. The
 * node counts are the caller's: a member counts its own nodes, an admin
 * all of them. Relays (admins only) come with the number of online nodes
 * that report each as their home relay, the controller's view of whether
 * the relay is in use and reachable; it does not probe relays itself. */
#include "controller/api.h"

#include "controller/leader.h"
#include "shared/err.h"

#include <stdlib.h>
#include <string.h>

struct status_walk {
	int64_t total, online;
	json_t *home; /* relay name → online nodes that use it (admins) */
};

static int count_node(void *ctx, const struct store_node *n)
{
	struct status_walk *w = ctx;

	w->total++;
	if (!n->online)
		return 0;
	w->online++;
	if (w->home && n->home_relay[0]) {
		json_t *v = json_object_get(w->home, n->home_relay);

		if (json_object_set_new(w->home, n->home_relay,
					json_integer(v ? json_integer_value(v) + 1
						       : 1)) < 0)
			return WEFT_ERR_NOMEM;
	}
	return 0;
}

static int collect_relay(void *ctx, const struct store_relay *r)
{
	json_t **ctxv = ctx; /* [0] the array, [1] the home counts */
	json_t *v = json_object_get(ctxv[1], r->name);

	return json_array_append_new(
		       ctxv[0],
		       json_pack("{s:I, s:s, s:s, s:s, s:I}", "id",
				 (json_int_t)r->id, "name", r->name, "region",
				 r->region, "address", r->address,
				 "online_nodes",
				 (json_int_t)(v ? json_integer_value(v) : 0))) < 0
		       ? WEFT_ERR_NOMEM
		       : 0;
}

static void h_status(struct api_call *c)
{
	struct store_node_filter f = {.online = -1};
	struct status_walk w = {0};
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct store_tx *tx = NULL;
	json_t *relays = NULL, *body;
	int64_t next = 0;
	int rc;

	if (!c->who.admin)
		f.user_id = c->who.user_id ? c->who.user_id : -1;
	else
		w.home = json_object();
	rc = store_begin(c->st, STORE_READ, &tx);
	do {
		if (rc == 0)
			rc = store_node_list(tx, &f, &pg, count_node, &w, &next);
		pg.after = next;
	} while (rc == 0 && next);
	if (rc == 0 && c->who.admin) {
		json_t *ctxv[2] = {relays = json_array(), w.home};

		pg.after = 0;
		do {
			if (!relays || !w.home)
				rc = WEFT_ERR_NOMEM;
			if (rc == 0)
				rc = store_relay_list(tx, &pg, collect_relay,
						      ctxv, &next);
			pg.after = next;
		} while (rc == 0 && next);
	}
	store_rollback(tx);
	if (rc < 0) {
		api_fail(c, rc, NULL, NULL);
		goto out;
	}
	body = json_pack("{s:s, s:s, s:{s:I, s:I, s:I}}", "version",
			 WEFT_VERSION, "database", store_backend(c->st),
			 "nodes", "total", (json_int_t)w.total, "online",
			 (json_int_t)w.online, "offline",
			 (json_int_t)(w.total - w.online));
	if (body && relays)
		json_object_set(body, "relays", relays);
	/* Which replica runs the singleton jobs: ask each one. */
	if (body && c->who.admin)
		json_object_set_new(body, "leader",
				    json_boolean(leader_is(
					    api_options(c->api)->leader)));
	http_resp_json(c->resp, 200, body);
out:
	json_decref(relays);
	json_decref(w.home);
}

const struct api_route api_status_routes[] = {
	{"GET", "/api/v1/status", API_AUTH_USER, h_status},
	{0},
};
