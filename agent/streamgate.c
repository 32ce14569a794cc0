/* The receiving side's gate of stream mode: see streamgate.h. */
#include "agent/streamgate.h"

#include "agent/dataplane.h"
#include "agent/filter.h"
#include "agent/map.h"
#include "shared/clock.h"
#include "shared/log.h"

#include <string.h>

static void denied_log(struct streamgate *g, int64_t peer,
		       const struct packet_info *pi, const char *host)
{
	int64_t now = clock_mono_ms();
	char a[IP_ADDR_STRLEN], b[IP_ADDR_STRLEN], q[STREAMHDR_HOST_MAX + 8];

	if (g->logged_ms && now - g->logged_ms < 1000) {
		g->unlogged++;
		return;
	}
	ip_addr_format(&pi->src, a, sizeof(a));
	ip_addr_format(&pi->dst, b, sizeof(b));
	log_warn("stream_denied", "peer=%lld src=%s dst=%s dport=%u host=%s "
		 "suppressed=%llu", (long long)peer, a, b, (unsigned)pi->dport,
		 log_q(q, sizeof(q), host), (unsigned long long)g->unlogged);
	g->logged_ms = now;
	g->unlogged = 0;
}

int streamgate_decide(struct streamgate *g, struct dataplane *dp,
		      const struct map *m, int64_t peer,
		      const struct streamhdr *h, struct streamtarget_in *in)
{
	const struct map_peer *mp = map_peer(m, peer);
	const struct map_res *v;
	struct packet_info pi;
	struct ip_addr self;
	size_t n;

	memset(in, 0, sizeof(*in));
	v = map_serves(m, &n);
	if (mp && ip_addr_parse(h->host, &in->dst) == 0 &&
	    dataplane_self(dp, in->dst.family, &self) == 0 &&
	    ip_addr_eq(&self, &in->dst)) {
		in->src = in->dst.family == 4 ? mp->ipv4 : mp->ipv6;
	} else if (!mp || streamtarget_accept(v, n, mp, h->host, in) < 0) {
		return STREAM_ERR_TARGET;
	}
	streamtarget_syn(&in->src, &in->dst, h->port, &pi);
	if (pi.src.family != pi.dst.family ||
	    !filter_check_in(dataplane_filter(dp), &pi, clock_mono_ms())) {
		denied_log(g, peer, &pi, h->host);
		return STREAM_ERR_DENIED;
	}
	return 0;
}
