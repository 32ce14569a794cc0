/* The agent's data plane: see dataplane.h. */
#include "agent/dataplane.h"

#include "agent/filter.h"
#include "agent/gro.h"
#include "agent/packet.h"
#include "agent/ping.h"
#include "agent/relayc.h"
#include "agent/relayset.h"
#include "agent/reschoice.h"
#include "agent/streams.h"
#include "agent/tun.h"
#include "agent/tunnel.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/ident.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* TUN reads per wakeup (each up to 64 KiB with TSO). */
#define TUN_BATCH 64

/* At most one forward_denied line per this many ms. */
#define FWD_LOG_MS 10000

/* Route values below zero stand for resources (peer ids are positive);
 * among equal prefixes the smaller value wins, so a resource's route
 * beats a connector's accepted subnet route for the same prefix. */
#define RES_ROUTE(i) (-(int64_t)(i) - 1)
#define RES_INDEX(v) ((size_t)(-(v) - 1))

struct dataplane {
	struct loop *loop;
	struct dataplane_hooks hooks;
	struct quic_endpoint *ep;
	struct relayset *relays;
	struct tunnels *tun;
	struct filter *filter;
	struct filter_routes *routes; /* peers' allowed_ips and resources:
				       * a route's value is a peer id, or
				       * RES_ROUTE(i) for resource i */
	struct filter_route *proutes; /* the peers' part, as set */
	size_t nproutes;
	struct dataplane_res *res;    /* resources */
	size_t nres;
	struct pings *pings;
	struct ip_addr self4, self6;  /* our mesh addresses, family 0: none */
	bool dual_stack;              /* the socket speaks IPv4 and IPv6 */
	uint32_t fwmark;              /* the socket's mark, 0: none */
	uint16_t port;
	struct dataplane_stats st;
	int64_t fwd_logged_ms;        /* the last forward_denied line */
	uint64_t fwd_unlogged;        /* denied since then, not logged */
	dataplane_msg_fn *msg_fn;     /* dataplane_set_msg */
	void *msg_ctx;
	uint16_t msg_port;

	struct tun *tundev;           /* NULL with --no-tun */
	struct gro *gro;              /* TUN receive coalescing */
	uint8_t *rxbuf;               /* GRO_MAX bytes: one TUN read */
	uint8_t *segbuf;              /* GRO_MAX bytes: one segment of it */
	struct loop_timer *gro_flush; /* writes what gro holds, at once */
	struct loop_io *tun_io;
	struct ip_addr tun4, tun6;    /* addresses on the device */
	struct ip_prefix *tun_routes; /* routes we installed through it */
	size_t ntun_routes;
};

int dataplane_new(struct loop *l, const struct dataplane_hooks *h,
		  struct dataplane **out)
{
	struct dataplane *dp = calloc(1, sizeof(*dp));

	if (!dp || filter_new(NULL, &dp->filter) < 0 ||
	    ping_new(&dp->pings) < 0) {
		dataplane_del(dp);
		return WEFT_ERR_NOMEM;
	}
	dp->loop = l;
	if (h)
		dp->hooks = *h;
	*out = dp;
	return 0;
}

void dataplane_del(struct dataplane *dp)
{
	if (!dp)
		return;
	loop_io_close(dp->tun_io, false);
	if (dp->gro_flush)
		loop_timer_del(dp->gro_flush);
	free(dp->gro);
	free(dp->rxbuf);
	free(dp->segbuf);
	tun_del(dp->tundev);
	free(dp->tun_routes);
	tunnels_del(dp->tun);
	relayset_del(dp->relays);
	quic_endpoint_del(dp->ep);
	filter_del(dp->filter);
	filter_routes_del(dp->routes);
	free(dp->proutes);
	free(dp->res);
	ping_del(dp->pings);
	free(dp);
}

struct relayc *dataplane_relay(const struct dataplane *dp)
{
	return dp->relays ? relayset_home(dp->relays) : NULL;
}

struct relayset *dataplane_relays(const struct dataplane *dp)
{
	return dp->relays;
}

struct tunnels *dataplane_tunnels(const struct dataplane *dp)
{
	return dp->tun;
}

struct quic_endpoint *dataplane_endpoint(const struct dataplane *dp)
{
	return dp->ep;
}

struct filter *dataplane_filter(const struct dataplane *dp)
{
	return dp->filter;
}

struct pings *dataplane_pings(const struct dataplane *dp)
{
	return dp->pings;
}

uint32_t dataplane_fwmark(const struct dataplane *dp)
{
	return dp->fwmark;
}

uint16_t dataplane_port(const struct dataplane *dp)
{
	return dp->port;
}

const char *dataplane_tun_name(const struct dataplane *dp)
{
	return dp->tundev ? tun_name(dp->tundev) : NULL;
}

void dataplane_stats(const struct dataplane *dp, struct dataplane_stats *out)
{
	*out = dp->st;
}

/* ---- TUN: addresses and routes ---- */

/* The mesh range around a mesh address: the /10 (IPv4) or /48 (IPv6) it
 * lies in, which is the controller's default pool (100.64.0.0/10,
 * fd7a:115c:a1e0::/48) and any pool of that size. */
static void mesh_range(const struct ip_addr *a, struct ip_prefix *out)
{
	out->addr = *a;
	out->len = a->family == 4 ? 10 : 48;
	ip_prefix_mask(out);
}

static bool prefix_in(const struct ip_prefix *v, size_t n,
		      const struct ip_prefix *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].len == p->len && ip_addr_eq(&v[i].addr, &p->addr))
			return true;
	return false;
}

/* Puts our mesh address a on the device in place of *cur. */
static void tun_set_addr(struct dataplane *dp, const struct ip_addr *a,
			 struct ip_addr *cur)
{
	struct ip_prefix p;
	char s[IP_ADDR_STRLEN];
	int rc;

	if (a->family == cur->family && (!a->family || ip_addr_eq(a, cur)))
		return;
	if (cur->family) {
		p.addr = *cur;
		p.len = cur->family == 4 ? 32 : 128;
		tun_del_addr(dp->tundev, &p);
		memset(cur, 0, sizeof(*cur));
	}
	if (!a->family)
		return;
	p.addr = *a;
	p.len = a->family == 4 ? 32 : 128;
	ip_addr_format(a, s, sizeof(s));
	rc = tun_add_addr(dp->tundev, &p);
	if (rc == 0)
		rc = tun_wait_local(dp->tundev, a, 2000);
	if (rc < 0) {
		log_warn_err(rc, "tun_addr_failed", "tun=%s addr=%s",
			     tun_name(dp->tundev), s);
		return;
	}
	*cur = *a;
	log_info("tun_addr", "tun=%s addr=%s", tun_name(dp->tundev), s);
}

/* Makes the device's routes the mesh ranges of our addresses plus the
 * accepted subnet routes (rv, n): adds what is new, removes what is
 * gone. A route that exists through another device is left alone. */
static void tun_sync_routes(struct dataplane *dp,
			    const struct filter_route *rv, size_t n)
{
	struct ip_prefix *want, *keep;
	size_t nwant = 0, nkeep = 0, i;
	char s[IP_PREFIX_STRLEN];
	int rc;

	want = calloc(n + 2, sizeof(*want));
	keep = calloc(n + 2 + dp->ntun_routes, sizeof(*keep));
	if (!want || !keep) {
		log_warn("tun_routes_not_updated", "reason=out_of_memory");
		goto out;
	}
	if (dp->tun4.family)
		mesh_range(&dp->tun4, &want[nwant++]);
	if (dp->tun6.family)
		mesh_range(&dp->tun6, &want[nwant++]);
	for (i = 0; i < n; i++) {
		struct ip_prefix r, m4 = {0}, m6 = {0};

		r = rv[i].prefix;
		/* A default route (the internet resource) is the exit
		 * node's business: never in the main table from here. */
		if (r.len == 0)
			continue;
		if (dp->tun4.family)
			mesh_range(&dp->tun4, &m4);
		if (dp->tun6.family)
			mesh_range(&dp->tun6, &m6);
		if ((m4.addr.family &&
		     ip_prefix_contains_prefix(&m4, &r)) ||
		    (m6.addr.family &&
		     ip_prefix_contains_prefix(&m6, &r)) ||
		    prefix_in(want, nwant, &r))
			continue;
		want[nwant++] = r;
	}
	for (i = 0; i < dp->ntun_routes; i++) {
		if (prefix_in(want, nwant, &dp->tun_routes[i])) {
			keep[nkeep++] = dp->tun_routes[i];
			continue;
		}
		ip_prefix_format(&dp->tun_routes[i], s, sizeof(s));
		rc = tun_del_route(dp->tundev, &dp->tun_routes[i]);
		if (rc < 0 && rc != -ESRCH)
			log_warn_err(rc, "tun_route_del_failed", "prefix=%s", s);
		else
			log_info("tun_route_deleted", "prefix=%s", s);
	}
	for (i = 0; i < nwant; i++) {
		if (prefix_in(keep, nkeep, &want[i]))
			continue;
		ip_prefix_format(&want[i], s, sizeof(s));
		rc = tun_add_route(dp->tundev, &want[i]);
		if (rc < 0) {
			log_warn_err(rc, "tun_route_add_failed", "prefix=%s",
				     s);
			continue;
		}
		log_info("tun_route_added", "tun=%s prefix=%s",
			 tun_name(dp->tundev), s);
		keep[nkeep++] = want[i];
	}
	free(dp->tun_routes);
	dp->tun_routes = keep;
	dp->ntun_routes = nkeep;
	keep = NULL;
out:
	free(want);
	free(keep);
}

void dataplane_set_self(struct dataplane *dp, const struct ip_addr *v4,
			const struct ip_addr *v6)
{
	dp->self4 = *v4;
	dp->self6 = *v6;
	if (!dp->tundev)
		return;
	tun_set_addr(dp, &dp->self4, &dp->tun4);
	tun_set_addr(dp, &dp->self6, &dp->tun6);
}

int dataplane_self(const struct dataplane *dp, int family,
		   struct ip_addr *out)
{
	const struct ip_addr *a = family == 4 ? &dp->self4 : &dp->self6;

	if (!a->family)
		return WEFT_ERR_NOTFOUND;
	*out = *a;
	return 0;
}

/* The route table from the peers' routes and the resources' prefixes;
 * the TUN's routes follow. */
static int rebuild_routes(struct dataplane *dp)
{
	struct filter_routes *rt = NULL;
	struct filter_route *all;
	size_t n = dp->nproutes, i, k;
	int rc;

	all = calloc(n + 2 * dp->nres + 1, sizeof(*all));
	if (!all)
		return WEFT_ERR_NOMEM;
	if (n)
		memcpy(all, dp->proutes, n * sizeof(*all));
	for (i = 0; i < dp->nres; i++)
		for (k = 0; k < dp->res[i].nprefixes; k++)
			all[n++] = (struct filter_route){
				.prefix = dp->res[i].prefixes[k],
				.peer = RES_ROUTE(i)};
	rc = filter_routes_new(all, n, &rt);
	if (rc == 0) {
		filter_routes_del(dp->routes);
		dp->routes = rt;
		if (dp->tundev)
			tun_sync_routes(dp, all, n);
	}
	free(all);
	return rc;
}

int dataplane_set_routes(struct dataplane *dp, const struct filter_route *rv,
			 size_t n)
{
	struct filter_route *copy = calloc(n ? n : 1, sizeof(*copy)), *old;
	size_t nold = dp->nproutes;
	int rc;

	if (!copy)
		return WEFT_ERR_NOMEM;
	if (n)
		memcpy(copy, rv, n * sizeof(*copy));
	old = dp->proutes;
	dp->proutes = copy;
	dp->nproutes = n;
	rc = rebuild_routes(dp);
	if (rc < 0) {
		dp->proutes = old;
		dp->nproutes = nold;
		old = copy;
	}
	free(old);
	return rc;
}

int dataplane_set_resources(struct dataplane *dp,
			    const struct dataplane_res *v, size_t n)
{
	struct dataplane_res *copy = calloc(n ? n : 1, sizeof(*copy)), *old;
	size_t nold = dp->nres;
	int rc;

	if (!copy)
		return WEFT_ERR_NOMEM;
	if (n)
		memcpy(copy, v, n * sizeof(*copy));
	old = dp->res;
	dp->res = copy;
	dp->nres = n;
	rc = rebuild_routes(dp);
	if (rc < 0) {
		dp->res = old;
		dp->nres = nold;
		old = copy;
	}
	free(old);
	return rc;
}

void dataplane_set_res_connector(struct dataplane *dp, size_t i,
				 int64_t connector)
{
	if (i < dp->nres)
		dp->res[i].connector = connector;
}

/* The peer a route value leads to: the value itself, or a resource's
 * connector (0: none). */
static int64_t route_peer(const struct dataplane *dp, int64_t v)
{
	if (v > 0)
		return v;
	return RES_INDEX(v) < dp->nres ? dp->res[RES_INDEX(v)].connector : 0;
}

/* A packet to resource r that its filters do not allow: refused here,
 * so the application fails at once (TCP: reset, so connect() gets
 * ECONNREFUSED; others: ICMP administratively prohibited). */
static void refuse_early(struct dataplane *dp, const uint8_t *pkt,
			 size_t len, const struct packet_info *pi)
{
	uint8_t err[TUNNEL_PKT_MAX];
	size_t n;
	int rc;

	dp->st.tx_denied_early++;
	if (pi->proto == PACKET_PROTO_TCP)
		rc = packet_tcp_reset(pkt, len, pi, err, sizeof(err), &n);
	else
		rc = packet_icmp_error(pkt, len, pi,
				       PACKET_ICMP_ADMIN_PROHIBITED, 0, err,
				       sizeof(err), &n);
	if (rc == 0)
		tun_write(dp->tundev, err, n);
}

void dataplane_set_rules(struct dataplane *dp, struct filter_rules *rules)
{
	filter_set_rules(dp->filter, rules);
}

void dataplane_set_msg(struct dataplane *dp, uint16_t port,
		       dataplane_msg_fn *fn, void *ctx)
{
	dp->msg_port = port;
	dp->msg_fn = fn;
	dp->msg_ctx = ctx;
}

void dataplane_set_local(struct dataplane *dp, const struct ip_endpoint *eps,
			 size_t n)
{
	struct ip_endpoint v[16], me;
	size_t i, k = 0;

	if (!dp->tun || quic_endpoint_local(dp->ep, &me) < 0)
		return;
	for (i = 0; i < n && k < sizeof(v) / sizeof(v[0]); i++)
		if (dp->dual_stack || eps[i].addr.family == me.addr.family)
			v[k++] = eps[i];
	tunnels_set_local(dp->tun, v, k);
}

/* ---- TUN -> peers ---- */

/* A packet from the local host for the mesh: route by destination
 * (unroutable: ICMP unreachable back into the TUN), track the flow so
 * the peer's replies pass our filter, send it into the peer's tunnel. */
static void tun_packet(struct dataplane *dp, const uint8_t *pkt, size_t len)
{
	struct packet_info pi;
	uint8_t err[TUNNEL_PKT_MAX];
	size_t n;
	int64_t peer;
	int rc;

	if (packet_parse(pkt, len, &pi) < 0) {
		dp->st.tx_malformed++;
		return;
	}
	if (!dp->routes ||
	    filter_routes_lookup(dp->routes, &pi.dst, &peer) < 0)
		peer = 0;
	if (peer < 0 && RES_INDEX(peer) < dp->nres) {
		const struct dataplane_res *r = &dp->res[RES_INDEX(peer)];

		if (!reschoice_allows(r->filters, r->nfilters, &pi)) {
			refuse_early(dp, pkt, len, &pi);
			return;
		}
	}
	if (!(peer = route_peer(dp, peer))) {
		dp->st.tx_noroute++;
		if (packet_icmp_error(pkt, len, &pi, PACKET_ICMP_NO_ROUTE, 0,
				      err, sizeof(err), &n) == 0)
			tun_write(dp->tundev, err, n);
		return;
	}
	filter_track_out(dp->filter, &pi, clock_mono_ms());
	rc = tunnels_send(dp->tun, peer, pkt, len);
	if (rc == 0)
		return;
	dp->st.tx_dropped++;
	/* Larger than the connection's DATAGRAM limit (before PMTUD, or on
	 * a small path): tell an IPv4 sender with DF set the limit that
	 * always fits, so TCP shrinks its segments. IPv6 hosts ignore
	 * Packet Too Big below 1280: those are retransmitted later. */
	if (rc == WEFT_ERR_TOOBIG && pi.version == 4 && (pkt[6] & 0x40) &&
	    packet_icmp_error(pkt, len, &pi, PACKET_ICMP_TOO_BIG,
			      TUN_MTU_QUIC_MIN, err, sizeof(err), &n) == 0)
		tun_write(dp->tundev, err, n);
}

static void on_tun_segment(const uint8_t *seg, size_t len, void *ctx)
{
	tun_packet(ctx, seg, len);
}

static void on_tun_readable(struct loop_io *io, int fd, uint32_t revents,
			    void *ctx)
{
	struct dataplane *dp = ctx;
	size_t len, mss;
	int i, rc;

	(void)io;
	(void)fd;
	(void)revents;
	/* A bounded batch per wakeup keeps the loop fair; the relay frames
	 * it produces leave in one batched send at the uncork. */
	quic_endpoint_cork(dp->ep);
	for (i = 0; i < TUN_BATCH; i++) {
		rc = tun_read_gso(dp->tundev, dp->rxbuf, GRO_MAX, &len, &mss);
		if (rc == -EPROTO)
			continue;
		if (rc < 0)
			break;
		if (!mss) {
			tun_packet(dp, dp->rxbuf, len);
		} else if (gro_split_tcp(dp->rxbuf, len, mss, dp->segbuf,
					 GRO_MAX, on_tun_segment, dp) < 0) {
			dp->st.tx_malformed++;
		}
	}
	quic_endpoint_uncork(dp->ep);
}

int dataplane_ping(struct dataplane *dp, int64_t peer,
		   const struct ip_addr *dst, uint16_t *seq)
{
	struct packet_info pi;
	struct ip_addr src;
	uint8_t pkt[128];
	uint16_t s;
	size_t n;
	int rc;

	rc = dataplane_self(dp, dst->family, &src);
	if (rc == 0)
		rc = ping_build(dp->pings, &src, dst, pkt, sizeof(pkt), &n, &s);
	if (rc == 0)
		rc = packet_parse(pkt, n, &pi);
	if (rc == 0) {
		/* Like a packet from the TUN: the reply is return traffic. */
		filter_track_out(dp->filter, &pi, clock_mono_ms());
		rc = tunnels_send(dp->tun, peer, pkt, n);
	}
	if (rc < 0)
		return rc;
	ping_sent(dp->pings, s, peer, clock_mono_us());
	*seq = s;
	return 0;
}

/* ---- peers -> TUN ---- */

/* Writes what the coalescer holds to the TUN. */
static void gro_write(struct dataplane *dp)
{
	struct gro_out o;
	int rc;

	if (!gro_finish(dp->gro, &o))
		return;
	rc = o.gso ? tun_write_tcp_gso(dp->tundev, o.pkt, o.len, o.v6,
				       o.hdr_len, o.seg_size, o.csum_start,
				       o.csum_offset)
		   : tun_write(dp->tundev, o.pkt, o.len);
	if (rc < 0)
		dp->st.rx_tun_errors++;
}

static void on_gro_flush(struct loop_timer *t, void *ctx)
{
	(void)t;
	gro_write(ctx);
}

/* Hands an allowed packet to the kernel: TCP runs are coalesced until
 * the loop has handled the current batch of input (a zero-delay timer
 * runs after the I/O callbacks of the iteration). */
static void tun_deliver(struct dataplane *dp, const uint8_t *pkt, size_t len)
{
	if (gro_offer(dp->gro, pkt, len)) {
		if (!loop_timer_active(dp->gro_flush))
			loop_timer_start(dp->gro_flush, 0);
		return;
	}
	gro_write(dp);
	if (gro_offer(dp->gro, pkt, len))
		loop_timer_start(dp->gro_flush, 0);
	else if (tun_write(dp->tundev, pkt, len) < 0)
		dp->st.rx_tun_errors++;
}

static bool is_self(const struct dataplane *dp, const struct ip_addr *a)
{
	return (dp->self4.family && ip_addr_eq(a, &dp->self4)) ||
	       (dp->self6.family && ip_addr_eq(a, &dp->self6));
}

/* An allowed packet for this host. Replies to our own pings are taken
 * here; with a TUN everything else goes to the kernel. Without one the
 * agent answers echo requests to its own mesh addresses itself and
 * counts everything else as undelivered. */
static void deliver_local(struct dataplane *dp, int64_t peer,
			  const uint8_t *pkt, const struct packet_info *pi)
{
	uint8_t out[TUNNEL_PKT_MAX];
	size_t n;
	bool mine = is_self(dp, &pi->dst);

	if (mine && ping_take_reply(dp->pings, peer, pi, pkt,
				    clock_mono_us()))
		return;
	if (dp->tundev) {
		tun_deliver(dp, pkt, pi->len);
		return;
	}
	if (!mine || !ping_is_echo(pi, false)) {
		dp->st.rx_undelivered++;
		return;
	}
	if (ping_answer(pi, pkt, out, sizeof(out), &n) == 0 &&
	    tunnels_send(dp->tun, peer, out, n) == 0)
		dp->st.echo_answered++;
}

/* A packet from peer for someone else that the filter refused (a
 * connector not serving its destination, or not to that peer):
 * counted, and logged at most every FWD_LOG_MS with the count of those
 * left out since the last line. */
static void forward_denied(struct dataplane *dp, int64_t peer,
			   const struct packet_info *pi, int64_t now)
{
	char s[IP_ADDR_STRLEN], d[IP_ADDR_STRLEN];

	dp->st.rx_denied_forward++;
	if (dp->fwd_logged_ms && now - dp->fwd_logged_ms < FWD_LOG_MS) {
		dp->fwd_unlogged++;
		return;
	}
	ip_addr_format(&pi->src, s, sizeof(s));
	ip_addr_format(&pi->dst, d, sizeof(d));
	log_warn("forward_denied", "peer=%lld src=%s dst=%s proto=%u "
		 "dport=%u suppressed=%llu", (long long)peer, s, d,
		 (unsigned)pi->proto, (unsigned)pi->dport,
		 (unsigned long long)dp->fwd_unlogged);
	dp->fwd_logged_ms = now;
	dp->fwd_unlogged = 0;
}

/* A packet out of peer's tunnel: parsed, its source checked against the
 * addresses routed to that peer (no spoofing other nodes), then the
 * filter decides. */
static void on_tunnel_packet(int64_t peer, const uint8_t *pkt, size_t len,
			     void *ctx)
{
	struct dataplane *dp = ctx;
	struct packet_info pi;
	int64_t from = 0, now = clock_mono_ms();

	if (packet_parse(pkt, len, &pi) < 0) {
		dp->st.rx_malformed++;
		return;
	}
	if (!dp->routes ||
	    filter_routes_lookup(dp->routes, &pi.src, &from) < 0 ||
	    route_peer(dp, from) != peer) {
		dp->st.rx_spoofed++;
		return;
	}
	if (dp->msg_fn && pi.proto == PACKET_PROTO_UDP && pi.has_ports && !pi.fragment &&
	    pi.dport == dp->msg_port && is_self(dp, &pi.dst)) {
		dp->msg_fn(dp->msg_ctx, peer, &pi.src, pkt + pi.l3_len + 8,
			   (size_t)(pi.len - pi.l3_len - 8));
		return;
	}
	if (!filter_check_in(dp->filter, &pi, now)) {
		if (!is_self(dp, &pi.dst))
			forward_denied(dp, peer, &pi, now);
		return;
	}
	deliver_local(dp, peer, pkt, &pi);
}

/* ---- the TUN device ---- */

int dataplane_open_tun(struct dataplane *dp, const char *name)
{
	char q[64];
	bool tso6;
	int rc;

	rc = tun_cleanup_stale(name);
	if (rc == 0)
		log_warn("tun_stale_removed", "tun=%s",
			 log_q(q, sizeof(q), name));
	rc = tun_new(name, &dp->tundev);
	if (rc == 0)
		rc = tun_set_mtu(dp->tundev, TUN_MTU_DEFAULT);
	if (rc == 0)
		rc = tun_set_up(dp->tundev, true);
	if (rc == 0)
		rc = loop_io_add(dp->loop, tun_fd(dp->tundev), LOOP_READ,
				 on_tun_readable, dp, &dp->tun_io);
	if (rc == 0 && (!(dp->gro = malloc(sizeof(*dp->gro))) ||
			!(dp->rxbuf = malloc(GRO_MAX)) ||
			!(dp->segbuf = malloc(GRO_MAX))))
		rc = WEFT_ERR_NOMEM;
	/* Without TSO every read is one packet: slower, still correct. */
	if (rc == 0) {
		if (tun_enable_tso(dp->tundev, &tso6) < 0)
			log_warn("tun_no_offload", "tun=%s",
				 tun_name(dp->tundev));
		else if (!tso6)
			log_warn("tun_no_offload", "tun=%s family=ipv6",
				 tun_name(dp->tundev));
	}
	if (rc == 0) {
		gro_init(dp->gro);
		rc = loop_timer_new(dp->loop, on_gro_flush, dp,
				    &dp->gro_flush);
	}
	if (rc < 0)
		return rc;
	log_info("tun_created", "tun=%s mtu=%d", tun_name(dp->tundev),
		 TUN_MTU_DEFAULT);
	return 0;
}

/* ---- endpoint, relay and tunnels wired together ---- */

static void on_relay_event(const struct relayc_event *ev, void *ctx)
{
	struct dataplane *dp = ctx;

	/* The relay path is up while any relay is (relayset.h); a renewed
	 * token changes nothing. A new home relay changes the route of the
	 * frames to peers without one: their connections probe at once. */
	if (dp->tun && ((ev->kind == RELAYC_AUTHED && !ev->again) ||
			ev->kind == RELAYC_CLOSED || ev->kind == RELAYC_HOME))
		tunnels_set_relay_up(dp->tun, relayset_up(dp->relays));
	if (dp->hooks.on_relay_event)
		dp->hooks.on_relay_event(ev, dp->hooks.ctx);
}

static void on_relay_frame(uint64_t src, const uint8_t *payload, size_t len,
			   void *ctx)
{
	struct dataplane *dp = ctx;

	if (dp->tun && src <= INT64_MAX)
		tunnels_input_relay(dp->tun, (int64_t)src, payload, len);
}

static void on_relay_signal(uint64_t src, const uint8_t *data, size_t len,
			    void *ctx)
{
	struct dataplane *dp = ctx;

	if (dp->tun && src <= INT64_MAX)
		tunnels_input_signal(dp->tun, (int64_t)src, data, len);
}

static int tunnel_send_relay(int64_t dst, const uint8_t *payload, size_t len,
			     void *ctx)
{
	struct dataplane *dp = ctx;

	return relayset_send(dp->relays, (uint64_t)dst, payload, len);
}

static int tunnel_send_signal(int64_t dst, const uint8_t *data, size_t len,
			      void *ctx)
{
	struct dataplane *dp = ctx;

	return relayset_signal(dp->relays, (uint64_t)dst, data, len);
}

static void on_path_change(int64_t peer, bool direct,
			   const struct ip_endpoint *addr, void *ctx)
{
	struct dataplane *dp = ctx;

	if (dp->hooks.on_path_change)
		dp->hooks.on_path_change(peer, direct, addr, dp->hooks.ctx);
}

static void on_peer_lost(int64_t peer, bool lost, void *ctx)
{
	struct dataplane *dp = ctx;

	if (dp->hooks.on_peer_lost)
		dp->hooks.on_peer_lost(peer, lost, dp->hooks.ctx);
}

/* QUIC packets of a tunnel on its virtual (relay) path go to the relay
 * for the node the virtual address stands for. */
static int send_virtual(struct quic_endpoint *ep, struct quic_conn *c,
			const struct ip_endpoint *to, const uint8_t *data,
			size_t len, void *ctx)
{
	struct dataplane *dp = ctx;
	int64_t id = tunnel_vaddr_id(to);

	(void)ep;
	(void)c;
	if (!id)
		return WEFT_ERR_INVAL;
	return relayset_send(dp->relays, (uint64_t)id, data, len);
}

static void on_udp_other(struct quic_endpoint *ep,
			 const struct ip_endpoint *from, const uint8_t *data,
			 size_t len, void *ctx)
{
	struct dataplane *dp = ctx;
	struct wire_frame f;

	(void)ep;
	/* Punch probes come from peers, everything else from the relay. */
	if (wire_classify(data, len) == WIRE_KIND_FRAME &&
	    (data[0] == WIRE_PROBE || data[0] == WIRE_PROBE_REPLY)) {
		if (dp->tun && wire_frame_decode(data, len, &f) == 0)
			tunnels_input_frame(dp->tun, from, &f);
		return;
	}
	relayset_input(dp->relays, from, data, len);
}

static bool accept_peer(struct quic_endpoint *ep, const char *alpn,
			const uint8_t key[IDENT_KEY_LEN], void *ctx)
{
	struct dataplane *dp = ctx;

	(void)ep;
	return dp->tun && strcmp(alpn, QUIC_ALPN_PEER) == 0 &&
	       tunnels_accept_peer(dp->tun, key);
}

static void on_accept(struct quic_endpoint *ep, struct quic_conn *c,
		      const char *alpn, void *ctx)
{
	struct dataplane *dp = ctx;

	(void)ep;
	(void)alpn;
	if (dp->tun)
		tunnels_on_accept(dp->tun, c);
	else
		quic_conn_close(c, 0, "no tunnels");
}

static const struct relayc_callbacks relay_cbs = {
	.on_event = on_relay_event,
	.on_frame = on_relay_frame,
	.on_signal = on_relay_signal,
};

static const struct tunnel_callbacks tunnel_cbs = {
	.on_packet = on_tunnel_packet,
	.send_relay = tunnel_send_relay,
	.send_signal = tunnel_send_signal,
	.on_path_change = on_path_change,
	.on_peer_lost = on_peer_lost,
};

/* The agent's one UDP socket (ARCHITECTURE.md) as a QUIC endpoint with
 * the node identity: [::] with IPv4 on the same socket (dual stack), so
 * that relay, peers and direct paths of both families share one port;
 * 0.0.0.0 where the kernel has no IPv6. */
static int open_endpoint(struct dataplane *dp, const struct ident *id,
			 uint16_t port, uint32_t fwmark)
{
	static const char *const alpns[] = {QUIC_ALPN_PEER, NULL};
	struct quic_endpoint_options o = {.id = id,
					  .alpns = alpns,
					  .accept_peer = accept_peer,
					  .on_accept = on_accept,
					  .on_other = on_udp_other,
					  .send_virtual = send_virtual,
					  .stable_reset = true,
					  /* Stream mode counts and refuses
					   * streams itself (agent/streams.h). */
					  .max_streams_bidi = STREAMS_QUIC_MAX,
					  .ctx = dp};
	struct ip_endpoint local;
	int rc;

	o.fwmark = fwmark;
	o.bind.addr.family = 6;
	o.bind.port = port;
	o.dual_stack = true;
	tunnel_vlocal(&o.virtual_local);
	rc = quic_endpoint_new(dp->loop, &o, &dp->ep);
	if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL ||
	    rc == -EPROTONOSUPPORT) {
		log_info("ipv6_unavailable", "err=%s", weft_strerror(rc));
		o.bind.addr.family = 4;
		o.dual_stack = false;
		rc = quic_endpoint_new(dp->loop, &o, &dp->ep);
	}
	if (rc < 0)
		return rc;
	dp->dual_stack = o.dual_stack;
	quic_endpoint_local(dp->ep, &local);
	dp->port = local.port;
	return 0;
}

int dataplane_open(struct dataplane *dp,
		   const struct dataplane_endpoint_cfg *cfg)
{
	int rc = open_endpoint(dp, cfg->id, cfg->port, cfg->fwmark);

	if (rc == -EPERM && cfg->fwmark) {
		log_warn_err(rc, "fwmark_unavailable", "fwmark=0x%x "
			     "note=\"the exit node stays off\"",
			     (unsigned)cfg->fwmark);
		rc = open_endpoint(dp, cfg->id, cfg->port, 0);
	} else if (rc == 0) {
		dp->fwmark = cfg->fwmark;
	}
	if (rc == 0)
		rc = relayset_new(dp->loop, dp->ep, &relay_cbs, dp,
				  &dp->relays);
	if (rc == 0)
		rc = tunnels_new(dp->loop, dp->ep, cfg->node_id, &tunnel_cbs,
				 dp, &dp->tun);
	if (rc < 0)
		return rc;
	tunnels_set_cooldown(dp->tun, cfg->punch_cooldown_ms);
	tunnels_set_idle(dp->tun, cfg->peer_idle_ms);
	tunnels_set_open_ttl(dp->tun, cfg->punch_ttl);
	tunnels_set_direct(dp->tun, cfg->direct);
	return 0;
}
