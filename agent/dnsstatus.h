/* The agent's DNS in `weft-agent status` and /metrics (docs/dns.md,
 * "Counters"): what the host side installed (agent/dnshost.h) and the
 * stub resolver's counters (agent/dnsstub.h). */
#ifndef WEFT_AGENT_DNSSTATUS_H
#define WEFT_AGENT_DNSSTATUS_H

#include <jansson.h>

struct buf;
struct dnshost;
struct dnsstub;

/* The status's "dns" object: dnshost_json with "stub", the counters
 * (without a stub: null). h NULL: JSON null. New reference or NULL. */
json_t *dnsstatus_json(const struct dnshost *h, const struct dnsstub *s);

/* Appends the stub's counters as weft_agent_dns_* metrics (zeros
 * without a stub). Returns 0 or a negative WEFT_ERR_*. */
int dnsstatus_metrics(struct buf *out, const struct dnsstub *s);

#endif
