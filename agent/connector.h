/* Connector forwarding (docs/connectors.md): what a node that serves
 * resources sets up on its host so that packets from mesh clients,
 * allowed by its filter and written to its TUN, reach the LAN and their
 * replies come back:
 *   - IPv4 and IPv6 forwarding on (net.ipv4.ip_forward,
 *     net.ipv6.conf.all.forwarding); left on when it stops (see the
 *     doc for why);
 *   - the agent's own nftables table, `inet weft_<tun>`
 *     (agent/connector_rules.h): masquerade of what leaves the TUN for
 *     another interface, MSS clamping, counted forward accepts. A table
 *     of that name found at start (left by a crashed agent) is replaced
 *     in the same transaction; the table is removed again by its handle
 *     when the connector stops, so a table another agent has put in its
 *     place since is left alone.
 *
 * Needs CAP_NET_ADMIN in the network namespace, for the start as for
 * the stop (the agent keeps it after dropping privileges, agent/priv.h).
 * Like dataplane.c this is the daemon's glue to the host: it logs every
 * change it makes once (event=connector_setup, connector_teardown,
 * connector_stale_removed) through shared/log. Runs on the loop thread. */
#ifndef WEFT_AGENT_CONNECTOR_H
#define WEFT_AGENT_CONNECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct connector;
struct dataplane;
struct loop;
struct map;
struct map_diff;

/* Where the two forwarding settings live; tests may point them
 * elsewhere. NULL members take the /proc/sys defaults. */
struct connector_cfg {
	const char *tun;          /* the agent's TUN device, required */
	const char *ipv4_forward; /* /proc/sys/net/ipv4/ip_forward */
	const char *ipv6_forward; /* /proc/sys/net/ipv6/conf/all/forwarding */
	struct loop *loop;        /* for DNS resources (agent/dnat.h); NULL:
				   * none are translated */
};

/* Creates a stopped connector for cfg->tun (copied). Touches nothing on
 * the host. Returns 0 and *out, WEFT_ERR_INVAL when the TUN name cannot
 * appear in nft rules (connector_rules_name_ok), WEFT_ERR_NOMEM. */
int connector_new(const struct connector_cfg *cfg, struct connector **out);

/* Stops c (connector_stop) and frees it. NULL is fine. */
void connector_del(struct connector *c);

/* Sets up forwarding (nothing when already started): both forwarding
 * settings on, then the table, replacing a stale one. Returns 0, or a
 * negative code with a sentence for the user in err (errlen bytes):
 * -errno of a forwarding setting, WEFT_ERR_UNSUPPORTED when nftables
 * refused (no nf_tables in the kernel, no CAP_NET_ADMIN; nft's own
 * message follows), WEFT_ERR_NOMEM. A failed start leaves no table. */
int connector_start(struct connector *c, char *err, size_t errlen);

/* Removes the table (by the handle it got at start) and logs it; the
 * forwarding settings stay as they are. Nothing when not started. */
void connector_stop(struct connector *c);

/* Starts or stops c so that it runs exactly when want: the one call the
 * daemon makes whenever the answer to "do I serve something?" may have
 * changed. Returns connector_start's result (0 when nothing to do). */
int connector_apply(struct connector *c, bool want, char *err,
		    size_t errlen);

bool connector_running(const struct connector *c);

/* After a map update (m: the map after it), while running: the DNS and
 * wildcard resources of m's "serves" to the translator (agent/dnat.h,
 * created at the first call after a start, gone at the stop), which
 * hears the wildcard messages that reach dp. NULL c is fine. */
void connector_map(struct connector *c, const struct map *m,
		   const struct map_diff *diff, struct dataplane *dp);

/* For `weft-agent status`: {"family": "inet", "table", "handle", "tun",
 * "ipv4_forwarding", "ipv6_forwarding", "replaced_stale", "dns" (dnat_json, or null)} while running
 * (the settings as read at start, null where the kernel has none), JSON
 * null otherwise. New reference or NULL (out of memory). */
json_t *connector_json(const struct connector *c);

#endif
