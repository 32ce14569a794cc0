/* Operational endpoints: liveness, readiness and Prometheus metrics. They
 * need no credentials, so they reveal nothing but health and counters. */
#include "controller/api.h"

#include "controller/hub.h"
#include "controller/leader.h"
#include "controller/metrics.h"
#include "controller/web.h"
#include "shared/buf.h"
#include "shared/err.h"

#include <stdlib.h>
#include <string.h>

/* Largest metrics page; the series count is bounded by metrics.c. */
#define METRICS_TEXT_MAX (4u << 20)

static void h_healthz(struct api_call *c)
{
	http_resp_json(c->resp, 200, json_pack("{s:s}", "status", "ok"));
}

/* Is the hub's LISTEN connection up (or not needed)? */
static bool listening(struct api_call *c)
{
	struct hub *hub = api_options(c->api)->hub;
	struct hub_stats hs;

	if (!hub)
		return true;
	hub_stats(hub, &hs);
	return hs.listening;
}

static void h_readyz(struct api_call *c)
{
	struct store_tx *tx = NULL;
	int version = 0;
	int rc;

	/* A read transaction proves a connection can be had; the schema
	 * version proves the database answers queries. */
	rc = store_begin(c->st, STORE_READ, &tx);
	store_rollback(tx);
	if (rc == 0)
		rc = store_schema_version(c->st, &version);
	if (rc < 0) {
		http_resp_error(c->resp, 503, "not_ready",
				"the database is unreachable", NULL);
		return;
	}
	/* Without its LISTEN connection a replica learns of other replicas'
	 * changes only by its slower fallback poll. */
	if (!listening(c)) {
		http_resp_error(c->resp, 503, "not_ready",
				"the change feed's LISTEN connection is down",
				NULL);
		return;
	}
	http_resp_json(c->resp, 200,
		       json_pack("{s:s, s:i, s:s}", "status", "ready",
				 "schema_version", version, "database",
				 store_backend(c->st)));
}

static void h_metrics(struct api_call *c)
{
	struct metrics *m = api_metrics(c->api);
	struct buf b;
	int rc;

	if (!m) {
		http_resp_error(c->resp, 404, "not_found",
				"metrics are not enabled", NULL);
		return;
	}
	buf_init(&b, METRICS_TEXT_MAX);
	rc = metrics_render(m, c->st, &b);
	if (rc == 0)
		rc = buf_appendf(&b,
			"# HELP weft_leader Whether this replica runs the singleton jobs (housekeeping).\n"
			"# TYPE weft_leader gauge\n"
			"weft_leader %d\n"
			"# HELP weft_feed_listen_up Whether the change feed's LISTEN connection is up (1 on SQLite).\n"
			"# TYPE weft_feed_listen_up gauge\n"
			"weft_feed_listen_up %d\n",
			leader_is(api_options(c->api)->leader), listening(c));
	if (rc == 0 && !b.data)
		rc = buf_reserve(&b, 1);
	if (rc < 0) {
		buf_free(&b);
		api_fail(c, rc, NULL, NULL);
		return;
	}
	buf_cstr(&b);
	http_resp_free(c->resp);
	/* The buffer's memory is malloc'd and NUL-terminated: hand it over. */
	c->resp->status = 200;
	c->resp->text = (char *)b.data;
	c->resp->text_len = b.len;
	c->resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* The OpenAPI document the binary was built with (embedded from
 * docs/api/openapi.yaml like the UI's assets). */
static void h_openapi(struct api_call *c)
{
	char *t = malloc(web_openapi.plain_len + 1);

	if (!t) {
		api_fail(c, WEFT_ERR_NOMEM, NULL, NULL);
		return;
	}
	memcpy(t, web_openapi.plain, web_openapi.plain_len);
	t[web_openapi.plain_len] = '\0';
	http_resp_free(c->resp);
	c->resp->status = 200;
	c->resp->text = t;
	c->resp->text_len = web_openapi.plain_len;
	c->resp->content_type = web_openapi.content_type;
}

const struct api_route api_ops_routes[] = {
	{"GET", "/api/v1/openapi.yaml", API_AUTH_NONE, h_openapi},
	{"GET", "/healthz", API_AUTH_NONE, h_healthz},
	{"GET", "/readyz", API_AUTH_NONE, h_readyz},
	{"GET", "/metrics", API_AUTH_NONE, h_metrics},
	{0},
};
