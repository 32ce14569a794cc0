/* GET and PUT /api/v1/dns: the deployment's DNS settings (dnsconf.h,
 * docs/dns.md). PUT replaces the whole document, audits "dns.update" and
 * records a netmap change of kind "dns", which brings the settings into
 * every node's map. Both answer the settings as stored (normalised). */
#include "controller/api.h"

#include "controller/dnsconf.h"
#include "controller/dnsstore.h"
#include "controller/http.h"
#include "shared/dnslimits.h"
#include "shared/err.h"

static const char *default_domain(const struct api_call *c)
{
	const char *s = api_options(c->api)->dns_suffix;

	return s ? s : DNS_DEFAULT_SUFFIX;
}

int api_dns_domain(struct api_call *c, struct store_tx *tx,
		   char out[NAME_DNS_MAX + 1])
{
	return dnsstore_domain(tx, default_domain(c), out);
}

static void h_get_dns(struct api_call *c)
{
	struct store_tx *tx = NULL;
	json_t *conf = NULL;
	int rc = store_begin(c->st, STORE_READ, &tx);

	if (rc == 0)
		rc = dnsstore_get(tx, default_domain(c), &conf);
	store_rollback(tx);
	if (rc < 0) {
		api_fail(c, rc, NULL, NULL);
		return;
	}
	http_resp_json(c->resp, 200, conf);
}

static void h_put_dns(struct api_call *c)
{
	struct dnsconf_err e;
	struct store_tx *tx = NULL;
	json_t *body, *conf = NULL;
	int rc;

	if (c->req->body_len > DNSCONF_MAX_BYTES) {
		http_resp_error(c->resp, 413, "too_big",
				"DNS settings are at most 256 KiB", NULL);
		return;
	}
	if (!(body = api_body(c)))
		return;
	rc = dnsconf_parse(body, default_domain(c), &conf, &e);
	json_decref(body);
	if (rc == WEFT_ERR_INVAL || rc == WEFT_ERR_TOOBIG) {
		http_resp_error(c->resp, 400, "invalid", e.message,
				e.field[0] ? e.field : NULL);
		return;
	}
	if (rc == 0)
		rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc == 0)
		rc = dnsstore_put(tx, conf);
	if (rc < 0) {
		store_rollback(tx);
		json_decref(conf);
		api_fail(c, rc, NULL, NULL);
		return;
	}
	/* The audit detail is the new document; answers it too. */
	rc = api_finish_change(c, tx, "dns.update", "dns", 0, conf, 200);
	if (rc < 0)
		api_fail(c, rc, NULL, NULL);
}

const struct api_route api_dns_routes[] = {
	{"GET", "/api/v1/dns", API_AUTH_ADMIN, h_get_dns},
	{"PUT", "/api/v1/dns", API_AUTH_ADMIN, h_put_dns},
	{0},
};
