/* DNS settings in the settings table: see dnsstore.h. */
#include "controller/dnsstore.h"

#include "controller/dnsconf.h"
#include "controller/ipam.h"
#include "shared/dnslimits.h"
#include "shared/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dnsstore_get(struct store_tx *tx, const char *def_domain, json_t **out)
{
	char *text = malloc(DNSCONF_MAX_BYTES);
	struct dnsconf_err e;
	json_t *doc;
	int rc;

	*out = NULL;
	if (!text)
		return WEFT_ERR_NOMEM;
	rc = store_setting_get(tx, DNSCONF_KEY, text, DNSCONF_MAX_BYTES);
	if (rc == WEFT_ERR_NOTFOUND)
		strcpy(text, "{}");
	else if (rc < 0) {
		free(text);
		return rc;
	}
	doc = json_loads(text, 0, NULL);
	free(text);
	if (!doc)
		return WEFT_ERR_INTERNAL;
	rc = dnsconf_parse(doc, def_domain, out, &e);
	json_decref(doc);
	return rc == WEFT_ERR_NOMEM ? rc : rc < 0 ? WEFT_ERR_INTERNAL : 0;
}

int dnsstore_put(struct store_tx *tx, const json_t *conf)
{
	char *text = json_dumps(conf, JSON_COMPACT);
	int rc;

	if (!text)
		return WEFT_ERR_NOMEM;
	rc = strlen(text) < DNSCONF_MAX_BYTES
		     ? store_setting_set(tx, DNSCONF_KEY, text)
		     : WEFT_ERR_TOOBIG;
	free(text);
	if (rc == 0)
		rc = store_setting_set(tx, DNSCONF_KEY_DOMAIN,
				       json_string_value(json_object_get(
					       conf, "domain")));
	return rc;
}

int dnsstore_domain(struct store_tx *tx, const char *def,
		    char out[NAME_DNS_MAX + 1])
{
	int rc = store_setting_get(tx, DNSCONF_KEY_DOMAIN, out,
				   NAME_DNS_MAX + 1);

	if (rc == WEFT_ERR_NOTFOUND) {
		snprintf(out, NAME_DNS_MAX + 1, "%s", def);
		return 0;
	}
	return rc;
}

int dnsstore_stub6(struct store_tx *tx, struct ip_addr *out)
{
	char text[STORE_CIDR_SIZE];
	struct ip_prefix p;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = store_setting_get(tx, IPAM_KEY_ULA48, text, sizeof(text));
	if (rc == WEFT_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (ip_prefix_parse(text, &p, IP_PREFIX_STRICT) < 0 ||
	    p.addr.family != 6)
		return WEFT_ERR_INTERNAL;
	*out = p.addr;
	out->b[12] = (uint8_t)(DNS_STUB_V6_LOW >> 24);
	out->b[13] = (uint8_t)(DNS_STUB_V6_LOW >> 16);
	out->b[14] = (uint8_t)(DNS_STUB_V6_LOW >> 8);
	out->b[15] = (uint8_t)DNS_STUB_V6_LOW;
	return 0;
}
