/* /api/v1/audit: the append-only audit log, oldest first (order=newest:
 * newest first), filtered by actor, action, target type and time (since,
 * until: both inclusive). */
#include "controller/api.h"

#include "shared/clock.h"
#include "shared/err.h"

#include <stdio.h>
#include <string.h>

/* The detail column as an object; anything else (which the API never
 * writes) shows as {} rather than failing the list. */
static json_t *detail_json(const char *text)
{
	json_t *d = text[0] ? json_loads(text, 0, NULL) : NULL;

	if (!json_is_object(d)) {
		json_decref(d);
		d = json_object();
	}
	return d;
}

static json_t *audit_json(const struct store_audit *a)
{
	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:o}",
			 "id", (json_int_t)a->id,
			 "at", api_time_json(a->at),
			 "actor", a->actor,
			 "action", a->action,
			 "target_type", a->target_type,
			 "target_id", a->target_id,
			 "detail", detail_json(a->detail));
}

static int collect(void *ctx, const struct store_audit *a)
{
	json_t *o = audit_json(a);

	if (!o || json_array_append_new(ctx, o) < 0)
		return WEFT_ERR_NOMEM;
	return 0;
}

static void h_list_audit(struct api_call *c)
{
	struct store_audit_filter f = {
		.actor = http_query(c->req, "actor"),
		.action = http_query(c->req, "action"),
		.target_type = http_query(c->req, "target_type"),
	};
	const char *times[2] = {http_query(c->req, "since"),
				http_query(c->req, "until")};
	int64_t *at[2] = {&f.since, &f.until};
	struct store_tx *tx = NULL;
	struct store_page pg;
	json_t *items;
	int64_t next = 0;
	int rc;

	const char *order = http_query(c->req, "order");

	if (!api_page(c, &pg))
		return;
	if (order && strcmp(order, "oldest") != 0 &&
	    strcmp(order, "newest") != 0) {
		http_resp_error(c->resp, 400, "invalid",
				"order must be \"oldest\" or \"newest\"",
				"order");
		return;
	}
	pg.newest_first = order && strcmp(order, "newest") == 0;
	for (size_t i = 0; i < 2; i++) {
		const char *name = i ? "until" : "since";
		char msg[96];

		if (!times[i] || clock_parse_rfc3339(times[i], at[i]) == 0)
			continue;
		snprintf(msg, sizeof(msg),
			 "%s must be an RFC 3339 time such as "
			 "2026-11-21T23:59:59Z", name);
		http_resp_error(c->resp, 400, "invalid", msg, name);
		return;
	}
	items = json_array();
	if (!items) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0)
		goto out;
	rc = store_audit_list(tx, &f, &pg, collect, items, &next);
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

const struct api_route api_audit_routes[] = {
	{"GET", "/api/v1/audit", API_AUTH_ADMIN, h_list_audit},
	{0},
};
