/* `--dns resolved`: per-link DNS on the agent's TUN through
 * systemd-resolved's D-Bus API (org.freedesktop.resolve1.Manager on the
 * system bus, sd-bus; docs/dns.md, "--dns modes").
 *
 * Applying a plan makes these calls, each with a DNSBUS_TIMEOUT_US
 * timeout: SetLinkDNS (the stub addresses), SetLinkDomains (the suffix
 * and the split domains routing-only, "~domain"; the suffix as a search
 * domain instead when search is on), SetLinkDefaultRoute (true only in
 * full-DNS mode); then the optional SetLinkDNSOverTLS, SetLinkLLMNR and
 * SetLinkMulticastDNS ("no"), best-effort: one failing is logged and
 * the rest still run. A failing required call is logged and the plan
 * counts as not applied (status shows the error). RevertLink when the
 * agent stops. NameOwnerChanged for org.freedesktop.resolve1 re-applies
 * the plan when resolved (re)starts.
 *
 * The bus is the system bus: $DBUS_SYSTEM_BUS_ADDRESS or the default
 * socket. Runs on the loop thread; the calls block it for at most their
 * timeouts. */
#ifndef WEFT_AGENT_DNSBUS_H
#define WEFT_AGENT_DNSBUS_H

#include "agent/dnsplan.h"

#include <jansson.h>
#include <stdbool.h>

#define DNSBUS_TIMEOUT_US 1000000

struct loop;
struct dnsbus;

/* Whether org.freedesktop.resolve1 has an owner on the system bus now
 * (auto mode). */
bool dnsbus_resolved_running(void);

/* Connects to the system bus for the link ifindex and watches for
 * resolved's restarts; applies nothing yet. Returns 0, WEFT_ERR_NOMEM or
 * sd-bus's -errno (no bus). */
int dnsbus_new(struct loop *loop, int ifindex, struct dnsbus **out);

/* Applies p to the link (see above). Returns 0 or the first required
 * call's error. */
int dnsbus_apply(struct dnsbus *b, const struct dnsplan *p);

/* RevertLink when something was applied, then disconnects and frees b.
 * NULL is fine. */
void dnsbus_del(struct dnsbus *b);

/* For status: {"ifindex", "applied", "calls_failed", "last_error",
 * "reapplied"}. */
json_t *dnsbus_json(const struct dnsbus *b);

#endif
