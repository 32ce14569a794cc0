/* The connector's side of DNS and wildcard resources (docs/connectors.md,
 * "DNS resources"): clients send to a resource's mapped address; the
 * connector resolves the real name with its own resolver
 * (agent/resolver.h, the host's resolv.conf) and keeps, in its nftables
 * table (agent/connector_rules.h), the maps that DNAT each mapped address
 * to the real one:
 *   - dnat4 / dnat6: mapped -> real, for DNS resources (one name, the
 *     same mapped address for every client);
 *   - wdnat4 / wdnat6: client . mapped -> real, for the names under a
 *     wildcard resource, which every client numbers itself
 *     (agent/wildcard.h) and announces in a WILDCARD_PORT message;
 *   - nx4 / nx6 / wnx4 / wnx6: mapped addresses whose name does not
 *     exist (or has no address of that family): rejected with ICMP
 *     administratively prohibited (host unreachable would be a soft
 *     error to a TCP connect, which would wait for its timeout), counted
 *     in the counter dns_nxdomain;
 *   - mapped4 / mapped6: every mapped prefix served; what is not
 *     translated is dropped and counted (dns_unresolved), so a client's
 *     first packets before the first answer are lost and retransmitted.
 * Each answer's TTL (clamped to 1..300 s) decides when the name is asked
 * again; a new address replaces the map element, and conntrack keeps the
 * flows already translated on the old one. A failed lookup (timeout,
 * SERVFAIL) keeps the last answer (address or NXDOMAIN) and retries
 * after DNAT_RETRY_S.
 *
 * Glue on the loop thread: logs each change (event=dns_resource_resolved,
 * dns_resource_nxdomain, dns_resource_failed, wildcard_name_refused). */
#ifndef WEFT_AGENT_DNAT_H
#define WEFT_AGENT_DNAT_H

#include "agent/map.h"
#include "agent/resolver.h"
#include "shared/ip.h"
#include "shared/loop.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define DNAT_TTL_MIN 1
#define DNAT_TTL_MAX 300
#define DNAT_RETRY_S 5      /* after a failed lookup or NXDOMAIN */
#define DNAT_NAMES_MAX 4096 /* names tracked at once (wildcard: per client) */

/* Runs one nft script (one transaction) in the connector's context.
 * Returns 0 or a negative code with a reason in err. */
typedef int dnat_run_fn(void *ctx, const char *script, char *err,
			size_t errlen);

struct dnat_cfg {
	struct loop *loop;
	const char *table;       /* "weft_<tun>", copied */
	const char *resolv_conf; /* NULL: /etc/resolv.conf */
	const struct resolver_conf *conf; /* instead of the file (tests) */
	dnat_run_fn *run;
	void *ctx;
};

struct dnat;

/* Reads the resolver configuration unless cfg->conf gives it (a missing
 * file gives the resolver's defaults, logged) and creates an empty
 * translator. Returns 0 and *out,
 * WEFT_ERR_INVAL, WEFT_ERR_NOMEM. */
int dnat_new(const struct dnat_cfg *cfg, struct dnat **out);

/* Cancels every lookup and frees d; leaves the nft elements alone (the
 * connector deletes its whole table). NULL is fine. */
void dnat_del(struct dnat *d);

/* The "serves" part changed (v[0..n), borrowed for the call): starts
 * resolving new DNS resources, forgets names of resources no longer
 * served (removing their elements) and rewrites the mapped sets. */
void dnat_set_serves(struct dnat *d, const struct map_res *v, size_t n);

/* A WILDCARD_PORT message from src (a peer's mesh address, checked by
 * the data plane against the peer's routes). Each entry is taken when
 * its resource is a wildcard this node serves, the mapped address lies
 * in its block, the name under its domain, and m's filter lets src reach
 * the mapped address; other entries are refused (counted, logged). */
void dnat_on_message(struct dnat *d, const struct map *m,
		     const struct ip_addr *src, const uint8_t *p, size_t len);

/* For status: {"names": [{"name", "resource_id", "client" (wildcard) or
 * null, "family", "mapped", "real" or null, "state": pending | resolved |
 * nxdomain | failed, "ttl"}], "messages", "refused", "nft_errors"}. New
 * reference or NULL. */
json_t *dnat_json(const struct dnat *d);

#endif
