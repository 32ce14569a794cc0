/* The deployment's DNS settings (docs/dns.md, "Controller settings"):
 * checked and normalised here, pure code without I/O. The settings are a
 * JSON object
 *   {"domain": "weft.internal", "search": true,
 *    "split": [{"domain": "corp.example", "upstreams": ["10.1.0.53"]}],
 *    "upstreams": ["192.0.2.53"],
 *    "records": [{"name": "wiki.corp.example", "type": "A",
 *                 "value": "10.1.0.7"}]}
 * stored as one row of the settings table (key DNSCONF_KEY) and rendered
 * into every map's "dns" part. */
#ifndef WEFT_CTL_DNSCONF_H
#define WEFT_CTL_DNSCONF_H

#include <jansson.h>
#include <stddef.h>

#define DNSCONF_KEY "dns"
#define DNSCONF_KEY_DOMAIN "dns.domain"
/* Largest settings document (the limits keep a valid one far below). */
#define DNSCONF_MAX_BYTES (256 * 1024)

/* Where a document is wrong: field is a path such as
 * "split[2].upstreams[0]", message says what is wrong with it. */
struct dnsconf_err {
	char field[64];
	char message[200];
};

/* Checks doc and writes the normalised settings into *out (a new
 * object with every field): absent fields get their defaults (domain
 * def_domain, search true, empty lists); upstreams become "IP" for port 53
 * and "IP:port" / "[IPv6]:port" otherwise; addresses are in their
 * canonical text. Refused: unknown fields, wrong JSON types, a domain,
 * split domain or record name that is not a lower-case DNS name without
 * a trailing dot, a split domain that is the mesh domain or under it or
 * is given twice, a split domain without upstreams, an upstream that is
 * not IP, IP:port or [IPv6]:port, a record type other than A or AAAA or a
 * value of the other family, and more than DNS_MAX_SPLIT split domains,
 * DNS_MAX_UPSTREAMS upstreams (each list) or DNS_MAX_RECORDS records.
 * Returns 0, WEFT_ERR_INVAL (or WEFT_ERR_TOOBIG beyond a limit) with *e
 * filled, or WEFT_ERR_NOMEM. */
int dnsconf_parse(const json_t *doc, const char *def_domain, json_t **out,
		  struct dnsconf_err *e);

#endif
