/* The agent's DNS status and metrics: see dnsstatus.h. */
#include "agent/dnsstatus.h"

#include "agent/dnshost.h"
#include "agent/dnsstub.h"
#include "shared/err.h"
#include "shared/metricsd.h"

#include <stddef.h>
#include <string.h>

/* One counter: its JSON key, its metric and what it counts. */
struct counter {
	const char *key, *metric, *help;
	size_t off;
};

#define C(f, help) {#f, "weft_agent_dns_" #f "_total", help, \
		     offsetof(struct dnsstub_stats, f)}
static const struct counter counters[] = {
	C(queries, "DNS messages the stub received."),
	C(local, "Queries the stub answered from the network map (mesh "
		 "names, resources, extra records)."),
	C(cache_hits, "Queries answered from the stub's cache."),
	C(forwarded, "Queries forwarded to an upstream resolver."),
	C(nxdomain, "Answers with NXDOMAIN."),
	C(servfail, "Answers with SERVFAIL."),
	C(malformed, "Queries that did not parse."),
	C(truncated, "UDP answers sent truncated (TC)."),
	C(tcp_fallback, "Truncated upstream answers asked again over TCP."),
	C(upstream_timeouts, "Tries that an upstream did not answer in "
			     "time."),
	C(upstream_failures, "Forwarded queries answered SERVFAIL because "
			     "every try failed."),
	C(loops, "Queries whose upstreams (some or all) were left out "
		 "because they lead back to the stub."),
	C(tcp_evicted, "Idle TCP clients closed to make room at the "
		       "connection cap."),
	C(tcp_refused, "TCP clients refused at the cap (every connection "
		       "busy)."),
	C(tcp_paused, "Pauses of a TCP listener whose accept failed for "
		      "want of descriptors or memory."),
};
#undef C

static uint64_t value(const struct dnsstub_stats *st, const struct counter *c)
{
	uint64_t v;

	memcpy(&v, (const char *)st + c->off, sizeof(v));
	return v;
}

json_t *dnsstatus_json(const struct dnshost *h, const struct dnsstub *s)
{
	struct dnsstub_stats st;
	json_t *j, *sj;

	if (!h)
		return json_null();
	j = dnshost_json(h);
	if (!j || !s)
		return j;
	dnsstub_stats(s, &st);
	sj = json_pack("{s:I}", "tcp_connections", (json_int_t)st.tcp_conns);
	for (size_t i = 0; sj && i < sizeof(counters) / sizeof(counters[0]);
	     i++)
		if (json_object_set_new(sj, counters[i].key,
					json_integer((json_int_t)value(
						&st, &counters[i]))) < 0) {
			json_decref(sj);
			sj = NULL;
		}
	if (!sj || json_object_set_new(j, "stub", sj) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int dnsstatus_metrics(struct buf *out, const struct dnsstub *s)
{
	struct dnsstub_stats st;
	int rc;

	memset(&st, 0, sizeof(st));
	if (s)
		dnsstub_stats(s, &st);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if ((rc = metricsd_one(out, counters[i].metric, "counter",
				       counters[i].help,
				       value(&st, &counters[i]))) < 0)
			return rc;
	return metricsd_one(out, "weft_agent_dns_tcp_connections", "gauge",
			    "TCP clients connected to the stub.", st.tcp_conns);
}
