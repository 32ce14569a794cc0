/* The DNS settings in the engine and the map's "dns" part (docs/dns.md):
 * the settings change every node's part, a new domain every peer entry
 * (their dns_name). */
#include "controller/netmap.h"
#include "controller/netmap_model.h"

#include "shared/dnslimits.h"
#include "shared/err.h"

#include <stdlib.h>
#include <string.h>

int netmap_dns_set(struct netmap *nm, int64_t version, const json_t *conf,
		   const struct ip_addr *stub6, struct netmap_dirty *dirty)
{
	const char *domain = json_string_value(json_object_get(conf, "domain"));
	json_t *copy;
	char *suffix;
	bool renamed;
	int rc = WEFT_ERR_NOMEM;

	if (!nm || !domain)
		return WEFT_ERR_INVAL;
	copy = json_deep_copy(conf);
	suffix = strdup(domain);
	if (!copy || !suffix || (rc = netmap_change_begin(nm, version,
							  dirty)) < 0) {
		json_decref(copy);
		free(suffix);
		return copy && suffix ? rc : WEFT_ERR_NOMEM;
	}
	renamed = strcmp(nm->suffix, suffix) != 0;
	free(nm->suffix);
	nm->suffix = suffix;
	json_decref(nm->dns);
	nm->dns = copy;
	memset(&nm->stub6, 0, sizeof(nm->stub6));
	if (stub6 && stub6->family == 6)
		nm->stub6 = *stub6;
	rc = 0;
	for (size_t i = 0; rc == 0 && i < nm->nnodes; i++) {
		struct nnode *n = nm->nodes[i];

		n->dns_v = version;
		if (renamed)
			n->peers_v = version;
		rc = netmap_mark(nm, n);
	}
	return netmap_change_end(nm, rc);
}

/* A copy of the settings' list key, an empty list without settings. */
static json_t *list_of(const struct netmap *nm, const char *key)
{
	const json_t *v = nm->dns ? json_object_get(nm->dns, key) : NULL;

	return v ? json_deep_copy(v) : json_array();
}

json_t *netmap_dns_render(const struct netmap *nm, const struct reach *rc)
{
	const json_t *search = nm->dns ? json_object_get(nm->dns, "search")
				       : NULL;
	char v6[IP_ADDR_STRLEN];
	json_t *res = json_array(), *stub6 = json_null();

	for (size_t i = 0; res && i < rc->nres; i++) {
		if (json_array_append_new(res, json_pack("{ss ss}", "name",
				rc->res[i]->r.name, "address",
				rc->res[i]->r.address)) < 0) {
			json_decref(res);
			return NULL;
		}
	}
	if (nm->stub6.family == 6 &&
	    ip_addr_format(&nm->stub6, v6, sizeof(v6)) == 0)
		stub6 = json_string(v6);
	return json_pack("{ss sb s{ss so} so so so so}", "suffix", nm->suffix,
			 "search", !search || json_is_true(search), "stub",
			 "ipv4", DNS_STUB_IPV4, "ipv6", stub6, "split",
			 list_of(nm, "split"), "upstreams",
			 list_of(nm, "upstreams"), "records",
			 list_of(nm, "records"), "resources", res);
}
