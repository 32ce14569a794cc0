/* The DNS settings (dnsconf.h) in the database: one row of the settings
 * table (key DNSCONF_KEY) holding the normalised JSON document, the same
 * on SQLite and PostgreSQL. A change is written with a netmap change of
 * kind "dns" (by the caller), which brings it into every map. */
#ifndef WEFT_CTL_DNSSTORE_H
#define WEFT_CTL_DNSSTORE_H

#include "controller/store.h"
#include "shared/ip.h"
#include "shared/name.h"

#include <jansson.h>

/* The settings as a new normalised object: the stored ones, or the
 * defaults (domain def_domain) when none are stored. Returns 0,
 * WEFT_ERR_INTERNAL for a stored document that no longer reads, or a
 * store error. */
int dnsstore_get(struct store_tx *tx, const char *def_domain, json_t **out);

/* The mesh domain alone (cheap, for node answers): the stored one, else
 * def. 0 or a store error. */
int dnsstore_domain(struct store_tx *tx, const char *def,
		    char out[NAME_DNS_MAX + 1]);

/* Stores conf (normalised by dnsconf_parse), its domain also on its own
 * (key DNSCONF_KEY_DOMAIN) for dnsstore_domain. 0 or a store error. */
int dnsstore_put(struct store_tx *tx, const json_t *conf);

/* The stub resolver's IPv6 address, <ula48>::6464:6464, into *out;
 * family 0 while the deployment has no ULA /48 yet. 0 or a store
 * error. */
int dnsstore_stub6(struct store_tx *tx, struct ip_addr *out);

#endif
