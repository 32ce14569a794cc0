#include "controller/model.h"

#include "controller/api.h"
#include "shared/err.h"
#include "shared/name.h"

#include <stdio.h>

json_t *model_node_json_bare(const struct store_node *n, const char *domain)
{
	char dns[STORE_NAME_SIZE + NAME_DNS_MAX + 2];

	snprintf(dns, sizeof(dns), "%s.%s", n->name, domain);
	return json_pack("{s:I, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:s, s:s, "
			 "s:o, s:o, s:b, s:o, s:o, s:b, s:o}",
			 "id", (json_int_t)n->id,
			 "name", n->name,
			 "dns_name", dns,
			 "user_id", api_id_json(n->user_id),
			 "public_key", n->public_key,
			 "ipv4", api_str_json(n->ipv4),
			 "ipv6", api_str_json(n->ipv6),
			 "tags", api_array_json(n->tags),
			 "os", n->os,
			 "version", n->version,
			 "endpoints", api_array_json(n->endpoints),
			 "home_relay", api_str_json(n->home_relay),
			 "online", n->online != 0,
			 "last_seen", api_time_json(n->last_seen),
			 "expires_at", api_time_json(n->expires_at),
			 "ephemeral", n->ephemeral != 0,
			 "created_at", api_time_json(n->created_at));
}

struct prefixes {
	json_t *advertised;
	json_t *approved;
};

static int prefixes_cb(void *ctx, const struct store_route *r)
{
	struct prefixes *p = ctx;

	if (r->advertised &&
	    json_array_append_new(p->advertised, json_string(r->prefix)) < 0)
		return WEFT_ERR_NOMEM;
	if (r->approved &&
	    json_array_append_new(p->approved, json_string(r->prefix)) < 0)
		return WEFT_ERR_NOMEM;
	return 0;
}

int model_node_add_routes(struct store_tx *tx, int64_t node_id, json_t *node)
{
	struct store_route_filter f = {.node_id = node_id};
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct prefixes p = {json_array(), json_array()};
	int64_t next;
	int rc;

	if (!p.advertised || !p.approved) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	do {
		rc = store_route_list(tx, &f, &pg, prefixes_cb, &p, &next);
		if (rc < 0)
			goto out;
		pg.after = next;
	} while (next);
	if (json_object_set_new(node, "routes",
				json_pack("{s:O, s:O}", "advertised",
					  p.advertised, "approved",
					  p.approved)) < 0)
		rc = WEFT_ERR_NOMEM;
out:
	json_decref(p.advertised);
	json_decref(p.approved);
	return rc;
}

int model_node_json(struct store_tx *tx, const char *domain,
		    const struct store_node *n, json_t **out)
{
	json_t *o = model_node_json_bare(n, domain);
	int rc;

	if (!o)
		return WEFT_ERR_NOMEM;
	rc = model_node_add_routes(tx, n->id, o);
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}
