/* The agent daemon: see daemon.h.
 *
 * The main loop owns everything the local API reports (state, map,
 * reachability); the control thread only hands results over through
 * control_cb, which runs on the loop. */
#include "agent/daemon.h"

#include "agent/control.h"
#include "agent/filter.h"
#include "agent/gro.h"
#include "agent/ifwatch.h"
#include "agent/ifaddr.h"
#include "agent/localapi.h"
#include "agent/map.h"
#include "agent/packet.h"
#include "agent/relayc.h"
#include "agent/state.h"
#include "agent/statedir.h"
#include "agent/tun.h"
#include "agent/tunnel.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/ident.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/metricsd.h"
#include "shared/quic.h"
#include "shared/wire.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* `weft-agent ping`: echo requests the agent builds itself, answered by
 * the peer's kernel (TUN) or by its built-in responder (--no-tun). */
#define PING_SLOTS 16
#define PING_ID 0x5746 /* "WF": the echo identifier of agent pings */
#define PING_DATA "weft-agent ping."

struct ping {
	uint16_t seq;    /* 0: free */
	int64_t peer;
	int64_t sent_us; /* monotonic */
	int64_t rtt_us;  /* -1 until the reply came */
};

struct daemon {
	const struct daemon_cfg *cfg;
	struct loop *loop;
	struct control *ctl;
	struct localapi *api;
	struct metricsd *metrics; /* NULL without --metrics-listen */
	struct map *map;
	struct loop_timer *ep_timer;
	struct loop_timer *ep_soon;   /* endpoints again, shortly after an
				       * interface or address change */
	struct ifwatch *ifw;          /* those changes, from rtnetlink */
	struct quic_endpoint *ep;
	struct relayc *relay;
	struct tunnels *tun;
	struct filter *filter;
	struct filter_routes *routes; /* peers' allowed_ips: send side */
	struct ip_addr self4, self6;  /* our mesh addresses, family 0: none */
	bool dual_stack;              /* the socket speaks IPv4 and IPv6 */
	struct ping pings[PING_SLOTS];
	uint16_t ping_seq;
	uint64_t rx_malformed;  /* unparsable packets from tunnels */
	uint64_t rx_spoofed;    /* source outside the sender's allowed_ips */
	uint64_t rx_undelivered; /* allowed, but nowhere to deliver (no TUN) */
	uint64_t echo_answered; /* by the built-in responder */
	struct tun *tundev;           /* NULL with --no-tun */
	struct gro *gro;              /* TUN receive coalescing */
	uint8_t *rxbuf;               /* GRO_MAX bytes: one TUN read */
	struct loop_timer *gro_flush; /* writes what gro holds, at once */
	struct loop_io *tun_io;
	struct ip_addr tun4, tun6;    /* addresses on the device */
	struct ip_prefix *tun_routes; /* routes we installed through it */
	size_t ntun_routes;
	uint64_t tx_malformed;  /* unparsable packets from the TUN */
	uint64_t tx_noroute;    /* to no peer: ICMP unreachable */
	uint64_t tx_dropped;    /* tunnels_send refused (queue full, ...) */
	uint64_t rx_tun_errors; /* tun_write failed */
	uint16_t port;

	enum state state;
	int64_t state_since;   /* wall seconds */
	int64_t node_id;
	json_t *node;          /* node object from registration, or NULL */
	bool reachable;
	int64_t last_contact;  /* wall seconds of the last answer, 0 = never */
	int64_t last_map;      /* wall seconds of the last applied map */
	char last_error[256];
	json_t *endpoints;     /* what we last handed to the control thread */
	json_t *reported;      /* what the controller acknowledged */

	int exit_rc;
	char *msg;
	size_t msglen;
};

static void say(struct daemon *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct daemon *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->msg, d->msglen, fmt, ap);
	va_end(ap);
}

static void set_state(struct daemon *d, enum state_event ev)
{
	enum state next;

	if (state_next(d->state, ev, &next) < 0 || next == d->state)
		return;
	log_info("agent_state", "from=%s to=%s", state_name(d->state),
		 state_name(next));
	d->state = next;
	d->state_since = clock_wall_s();
}

/* Ends the daemon with rc and a message for the user. */
static void fail(struct daemon *d, int rc)
{
	d->exit_rc = rc;
	set_state(d, STATE_EV_FATAL);
	loop_stop(d->loop);
}

/* ---- control events ---- */

/* ---- relay ---- */

/* Resolves "host:port" or "addr:port". Names are looked up with a
 * blocking getaddrinfo on the loop: relay lists change rarely, and an
 * address literal (what run.sh registers) needs no lookup. */
static int relay_addr(const char *s, struct ip_endpoint *out)
{
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_DGRAM}, *ai = NULL;
	char host[256];
	const char *colon = s ? strrchr(s, ':') : NULL;
	int rc;

	if (!s)
		return WEFT_ERR_INVAL;
	if (ip_endpoint_parse(s, out) == 0)
		return 0;
	if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
		return WEFT_ERR_INVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
		return WEFT_ERR_NOTFOUND;
	rc = ip_endpoint_from_sockaddr(ai->ai_addr, ai->ai_addrlen, out);
	freeaddrinfo(ai);
	return rc;
}

/* Points the relay client at the map's first relay (the home relay) and
 * hands it the answer's relay token. */
static void update_relay(struct daemon *d, const json_t *answer)
{
	size_t nrelays;
	const struct map_relay *r = map_relays(d->map, &nrelays);
	const char *tok = json_string_value(json_object_get(answer,
							    "relay_token"));
	struct relayc_target t = {0};
	const char *name, *addr;
	char q[300];

	if (tok)
		relayc_set_token(d->relay, tok);
	if (!nrelays) {
		relayc_set_relay(d->relay, NULL);
		return;
	}
	name = r->name;
	addr = r->address;
	memcpy(t.pin, r->pin, sizeof(t.pin));
	if (!name || !r->has_pin || relay_addr(addr, &t.addr) < 0) {
		log_warn("relay_unusable", "name=%s address=%s note=\"needs "
			 "an IPv4 address and a public_key_pin\"",
			 log_q(q, sizeof(q), name), addr ? addr : "-");
		relayc_set_relay(d->relay, NULL);
		return;
	}
	snprintf(t.name, sizeof(t.name), "%s", name);
	relayc_set_relay(d->relay, &t);
}

static void check_endpoints(struct daemon *d);

/* Hands the map's changed peers to the tunnel table. */
static void update_tunnels(struct daemon *d, const struct map_diff *diff)
{
	const struct map_self *self = map_self(d->map);

	if (self && self->id > 0)
		tunnels_set_self(d->tun, self->id);
	if (tunnels_apply(d->tun, d->map, diff) < 0)
		log_warn("tunnels_not_updated", "reason=out_of_memory");
}

/* ---- data plane ---- */


/* Whether p is the peer's own mesh address (/32 or /128). */
static bool is_mesh_route(const struct map_peer *mp,
			  const struct ip_prefix *p)
{
	return (p->len == 32 && mp->ipv4.family &&
		ip_addr_eq(&p->addr, &mp->ipv4)) ||
	       (p->len == 128 && mp->ipv6.family &&
		ip_addr_eq(&p->addr, &mp->ipv6));
}

static bool is_self(const struct daemon *d, const struct ip_addr *a)
{
	return (d->self4.family && ip_addr_eq(a, &d->self4)) ||
	       (d->self6.family && ip_addr_eq(a, &d->self6));
}

/* The routes from the peers' allowed_ips: their mesh addresses always,
 * subnet routes with --accept-routes. Returns 0 with *out (caller frees)
 * and *n, or WEFT_ERR_NOMEM. */
static int build_routes(struct daemon *d, struct filter_route **out,
			size_t *nout)
{
	struct filter_route *rv = NULL, *nv;
	size_t n = 0, cap = 0, i, j, npeers;
	const struct map_peer *const *peers = map_peers(d->map, &npeers);

	for (i = 0; i < npeers; i++) {
		const struct map_peer *p = peers[i];

		for (j = 0; j < p->nallowed; j++) {
			struct filter_route r = {.peer = p->id,
						 .prefix = p->allowed_ips[j]};

			if (!is_mesh_route(p, &r.prefix) &&
			    !d->cfg->accept_routes)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				nv = realloc(rv, cap * sizeof(*rv));
				if (!nv) {
					free(rv);
					return WEFT_ERR_NOMEM;
				}
				rv = nv;
			}
			rv[n++] = r;
		}
	}
	*out = rv;
	*nout = n;
	return 0;
}

static void tun_set_addr(struct daemon *d, const struct ip_addr *a,
			 struct ip_addr *cur);
static void tun_sync_routes(struct daemon *d, const struct filter_route *rv,
			    size_t n);

/* Applies the map to the data plane: our mesh addresses, the route table
 * (and the TUN's addresses and routes), and the filter rules (swapped
 * into the live filter, so tracked flows survive). A filter the agent
 * cannot compile denies everything: the data plane fails closed. */
static void update_dataplane(struct daemon *d, const struct map_diff *diff)
{
	const struct map_self *self = map_self(d->map);
	const struct map_rule *mr;
	struct filter_route *rv = NULL;
	struct filter_routes *rt = NULL;
	struct filter_rules *rules = NULL;
	char err[200] = "", q[300];
	size_t n = 0, nrules;
	int rc;

	/* Only what the update touched: peers (their allowed_ips), our
	 * addresses, the filter. */
	if (diff->addrs || diff->self) {
		memset(&d->self4, 0, sizeof(d->self4));
		memset(&d->self6, 0, sizeof(d->self6));
		if (self) {
			d->self4 = self->ipv4;
			d->self6 = self->ipv6;
		}
		rc = build_routes(d, &rv, &n);
		if (rc == 0)
			rc = filter_routes_new(rv, n, &rt);
		if (rc == 0) {
			filter_routes_del(d->routes);
			d->routes = rt;
		} else {
			log_warn_err(rc, "routes_not_updated", NULL);
		}
		if (d->tundev) {
			tun_set_addr(d, &d->self4, &d->tun4);
			tun_set_addr(d, &d->self6, &d->tun6);
			if (rc == 0)
				tun_sync_routes(d, rv, n);
		}
		free(rv);
	}
	if (!diff->filter)
		return;
	mr = map_rules(d->map, &nrules);
	if (map_has_filter(d->map)) {
		rc = filter_rules_compile(mr, nrules, &rules, err, sizeof(err));
		if (rc < 0) {
			log_warn_err(rc, "filter_rejected", "reason=%s "
				     "note=\"denying all inbound packets\"",
				     log_q(q, sizeof(q), err));
			rules = NULL;
		}
	}
	filter_set_rules(d->filter, rules);
}

/* ---- TUN ---- */

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
static void tun_set_addr(struct daemon *d, const struct ip_addr *a,
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
		tun_del_addr(d->tundev, &p);
		memset(cur, 0, sizeof(*cur));
	}
	if (!a->family)
		return;
	p.addr = *a;
	p.len = a->family == 4 ? 32 : 128;
	ip_addr_format(a, s, sizeof(s));
	rc = tun_add_addr(d->tundev, &p);
	if (rc == 0)
		rc = tun_wait_local(d->tundev, a, 2000);
	if (rc < 0) {
		log_warn_err(rc, "tun_addr_failed", "tun=%s addr=%s",
			     tun_name(d->tundev), s);
		return;
	}
	*cur = *a;
	log_info("tun_addr", "tun=%s addr=%s", tun_name(d->tundev), s);
}

/* Makes the device's routes the mesh ranges of our addresses plus the
 * accepted subnet routes (routes, n): adds what is new, removes what is
 * gone. A route that exists through another device is left alone. */
static void tun_sync_routes(struct daemon *d, const struct filter_route *rv,
			    size_t n)
{
	struct ip_prefix *want, *keep;
	size_t nwant = 0, nkeep = 0, i;
	char s[IP_PREFIX_STRLEN];
	int rc;

	want = calloc(n + 2, sizeof(*want));
	keep = calloc(n + 2 + d->ntun_routes, sizeof(*keep));
	if (!want || !keep) {
		log_warn("tun_routes_not_updated", "reason=out_of_memory");
		goto out;
	}
	if (d->tun4.family)
		mesh_range(&d->tun4, &want[nwant++]);
	if (d->tun6.family)
		mesh_range(&d->tun6, &want[nwant++]);
	for (i = 0; i < n; i++) {
		struct ip_prefix r, m4 = {0}, m6 = {0};

		r = rv[i].prefix;
		if (d->tun4.family)
			mesh_range(&d->tun4, &m4);
		if (d->tun6.family)
			mesh_range(&d->tun6, &m6);
		if ((m4.addr.family &&
		     ip_prefix_contains_prefix(&m4, &r)) ||
		    (m6.addr.family &&
		     ip_prefix_contains_prefix(&m6, &r)) ||
		    prefix_in(want, nwant, &r))
			continue;
		want[nwant++] = r;
	}
	for (i = 0; i < d->ntun_routes; i++) {
		if (prefix_in(want, nwant, &d->tun_routes[i])) {
			keep[nkeep++] = d->tun_routes[i];
			continue;
		}
		ip_prefix_format(&d->tun_routes[i], s, sizeof(s));
		rc = tun_del_route(d->tundev, &d->tun_routes[i]);
		if (rc < 0 && rc != -ESRCH)
			log_warn_err(rc, "tun_route_del_failed", "prefix=%s", s);
		else
			log_info("tun_route_deleted", "prefix=%s", s);
	}
	for (i = 0; i < nwant; i++) {
		if (prefix_in(keep, nkeep, &want[i]))
			continue;
		ip_prefix_format(&want[i], s, sizeof(s));
		rc = tun_add_route(d->tundev, &want[i]);
		if (rc < 0) {
			log_warn_err(rc, "tun_route_add_failed", "prefix=%s",
				     s);
			continue;
		}
		log_info("tun_route_added", "tun=%s prefix=%s",
			 tun_name(d->tundev), s);
		keep[nkeep++] = want[i];
	}
	free(d->tun_routes);
	d->tun_routes = keep;
	d->ntun_routes = nkeep;
	keep = NULL;
out:
	free(want);
	free(keep);
}

/* A packet from the local host for the mesh: route by destination
 * (unroutable: ICMP unreachable back into the TUN), track the flow so
 * the peer's replies pass our filter, send it into the peer's tunnel. */
static void tun_packet(struct daemon *d, const uint8_t *pkt, size_t len)
{
	struct packet_info pi;
	uint8_t err[TUNNEL_PKT_MAX];
	size_t n;
	int64_t peer;
	int rc;

	if (packet_parse(pkt, len, &pi) < 0) {
		d->tx_malformed++;
		return;
	}
	if (!d->routes ||
	    filter_routes_lookup(d->routes, &pi.dst, &peer) < 0) {
		d->tx_noroute++;
		if (packet_icmp_error(pkt, len, &pi, PACKET_ICMP_NO_ROUTE, 0,
				      err, sizeof(err), &n) == 0)
			tun_write(d->tundev, err, n);
		return;
	}
	filter_track_out(d->filter, &pi, clock_mono_ms());
	rc = tunnels_send(d->tun, peer, pkt, len);
	if (rc == 0)
		return;
	d->tx_dropped++;
	/* Larger than the connection's DATAGRAM limit (before PMTUD, or on
	 * a small path): tell an IPv4 sender with DF set the limit that
	 * always fits, so TCP shrinks its segments. IPv6 hosts ignore
	 * Packet Too Big below 1280: those are retransmitted later. */
	if (rc == WEFT_ERR_TOOBIG && pi.version == 4 && (pkt[6] & 0x40) &&
	    packet_icmp_error(pkt, len, &pi, PACKET_ICMP_TOO_BIG,
			      TUN_MTU_QUIC_MIN, err, sizeof(err), &n) == 0)
		tun_write(d->tundev, err, n);
}

/* TUN reads per wakeup (each up to 64 KiB with TSO). */
#define TUN_BATCH 64

static void on_tun_segment(const uint8_t *seg, size_t len, void *ctx)
{
	tun_packet(ctx, seg, len);
}

static void on_tun_readable(struct loop_io *io, int fd, uint32_t revents,
			    void *ctx)
{
	struct daemon *d = ctx;
	size_t len, mss;
	int i, rc;

	(void)io;
	(void)fd;
	(void)revents;
	/* A bounded batch per wakeup keeps the loop fair; the relay frames
	 * it produces leave in one batched send at the uncork. */
	quic_endpoint_cork(d->ep);
	for (i = 0; i < TUN_BATCH; i++) {
		rc = tun_read_gso(d->tundev, d->rxbuf, GRO_MAX, &len, &mss);
		if (rc == -EPROTO)
			continue;
		if (rc < 0)
			break;
		if (!mss) {
			tun_packet(d, d->rxbuf, len);
		} else if (gro_split_tcp(d->rxbuf, len, mss, on_tun_segment,
					 d) < 0) {
			d->tx_malformed++;
		}
	}
	quic_endpoint_uncork(d->ep);
}

/* Creates and opens the TUN device (removing a stale one of that name
 * first), sets the MTU (docs/internals/dataplane.md) and brings it up.
 * Addresses and routes follow the map (update_dataplane). */
static void on_gro_flush(struct loop_timer *t, void *ctx);

static int tun_open(struct daemon *d)
{
	const char *name = d->cfg->tun && *d->cfg->tun ? d->cfg->tun
							: "weft0";
	char q[64];
	bool tso6;
	int rc;

	rc = tun_cleanup_stale(name);
	if (rc == 0)
		log_warn("tun_stale_removed", "tun=%s",
			 log_q(q, sizeof(q), name));
	rc = tun_new(name, &d->tundev);
	if (rc == 0)
		rc = tun_set_mtu(d->tundev, TUN_MTU_DEFAULT);
	if (rc == 0)
		rc = tun_set_up(d->tundev, true);
	if (rc == 0)
		rc = loop_io_add(d->loop, tun_fd(d->tundev), LOOP_READ,
				 on_tun_readable, d, &d->tun_io);
	if (rc == 0 && (!(d->gro = malloc(sizeof(*d->gro))) ||
			!(d->rxbuf = malloc(GRO_MAX))))
		rc = WEFT_ERR_NOMEM;
	/* Without TSO every read is one packet: slower, still correct. */
	if (rc == 0) {
		if (tun_enable_tso(d->tundev, &tso6) < 0)
			log_warn("tun_no_offload", "tun=%s",
				 tun_name(d->tundev));
		else if (!tso6)
			log_warn("tun_no_offload", "tun=%s family=ipv6",
				 tun_name(d->tundev));
	}
	if (rc == 0) {
		gro_init(d->gro);
		rc = loop_timer_new(d->loop, on_gro_flush, d, &d->gro_flush);
	}
	if (rc < 0)
		return rc;
	log_info("tun_created", "tun=%s mtu=%d", tun_name(d->tundev),
		 TUN_MTU_DEFAULT);
	return 0;
}

static bool is_echo(const struct packet_info *pi, bool reply)
{
	uint8_t want = pi->version == 4 ? (reply ? 0 : 8)
					: (reply ? 129 : 128);

	return pi->has_icmp && !pi->fragment && pi->icmp_code == 0 &&
	       pi->icmp_type == want;
}

static void ping_answered(struct daemon *d, int64_t peer, uint16_t id,
			  uint16_t seq)
{
	struct ping *pg = &d->pings[seq % PING_SLOTS];

	if (id == PING_ID && seq && pg->seq == seq && pg->peer == peer &&
	    pg->rtt_us < 0)
		pg->rtt_us = clock_mono_us() - pg->sent_us;
}

/* Writes what the coalescer holds to the TUN. */
static void gro_write(struct daemon *d)
{
	struct gro_out o;
	int rc;

	if (!gro_finish(d->gro, &o))
		return;
	rc = o.gso ? tun_write_tcp_gso(d->tundev, o.pkt, o.len, o.v6,
				       o.hdr_len, o.seg_size, o.csum_start,
				       o.csum_offset)
		   : tun_write(d->tundev, o.pkt, o.len);
	if (rc < 0)
		d->rx_tun_errors++;
}

static void on_gro_flush(struct loop_timer *t, void *ctx)
{
	(void)t;
	gro_write(ctx);
}

/* Hands an allowed packet to the kernel: TCP runs are coalesced until
 * the loop has handled the current batch of input (a zero-delay timer
 * runs after the I/O callbacks of the iteration). */
static void tun_deliver(struct daemon *d, const uint8_t *pkt, size_t len)
{
	if (gro_offer(d->gro, pkt, len)) {
		if (!loop_timer_active(d->gro_flush))
			loop_timer_start(d->gro_flush, 0);
		return;
	}
	gro_write(d);
	if (gro_offer(d->gro, pkt, len))
		loop_timer_start(d->gro_flush, 0);
	else if (tun_write(d->tundev, pkt, len) < 0)
		d->rx_tun_errors++;
}

/* An allowed packet for this host. Replies to our own pings are taken
 * here; with a TUN everything else goes to the kernel. Without one the
 * agent answers echo requests to its own mesh addresses itself and
 * counts everything else as undelivered. */
static void deliver_local(struct daemon *d, int64_t peer, const uint8_t *pkt,
			  const struct packet_info *pi)
{
	uint8_t out[TUNNEL_PKT_MAX];
	const uint8_t *icmp = pkt + pi->l3_len;
	uint16_t seq = 0;
	size_t n;
	bool mine = is_self(d, &pi->dst);

	if (mine && (is_echo(pi, true) || is_echo(pi, false)))
		seq = (uint16_t)(icmp[6] << 8 | icmp[7]);
	if (mine && is_echo(pi, true) && pi->icmp_id == PING_ID) {
		ping_answered(d, peer, pi->icmp_id, seq);
		return;
	}
	if (d->tundev) {
		tun_deliver(d, pkt, pi->len);
		return;
	}
	if (!mine || !is_echo(pi, false)) {
		d->rx_undelivered++;
		return;
	}
	if (packet_echo(&pi->dst, &pi->src, true, pi->icmp_id, seq, icmp + 8,
			(size_t)(pi->len - pi->l3_len - 8), out, sizeof(out),
			&n) == 0 &&
	    tunnels_send(d->tun, peer, out, n) == 0)
		d->echo_answered++;
}

/* A packet out of peer's tunnel: parsed, its source checked against the
 * addresses routed to that peer (no spoofing other nodes), then the
 * filter decides. */
static void on_tunnel_packet(int64_t peer, const uint8_t *pkt, size_t len,
			     void *ctx)
{
	struct daemon *d = ctx;
	struct packet_info pi;
	int64_t from = 0;

	if (packet_parse(pkt, len, &pi) < 0) {
		d->rx_malformed++;
		return;
	}
	if (!d->routes ||
	    filter_routes_lookup(d->routes, &pi.src, &from) < 0 ||
	    from != peer) {
		d->rx_spoofed++;
		return;
	}
	if (!filter_check_in(d->filter, &pi, clock_mono_ms()))
		return;
	deliver_local(d, peer, pkt, &pi);
}

static void on_relay_event(const struct relayc_event *ev, void *ctx)
{
	struct daemon *d = ctx;
	char a[IP_ENDPOINT_STRLEN] = "?", q[300], why[QUIC_REASON_MAX * 2];

	ip_endpoint_format(&ev->addr, a, sizeof(a));
	switch (ev->kind) {
	case RELAYC_CONNECTING:
		log_info("relay_connecting", "relay=%s addr=%s",
			 log_q(q, sizeof(q), ev->name), a);
		break;
	case RELAYC_AUTHED:
		if (d->tun)
			tunnels_set_relay_up(d->tun, true);
		log_info("relay_connected", "relay=%s addr=%s node=%llu",
			 log_q(q, sizeof(q), ev->name), a,
			 (unsigned long long)ev->node);
		break;
	case RELAYC_QAD:
		log_info("relay_qad", "relay=%s addr=%s",
			 log_q(q, sizeof(q), ev->name), a);
		check_endpoints(d);
		break;
	case RELAYC_CLOSED:
		if (d->tun)
			tunnels_set_relay_up(d->tun, false);
		log_info("relay_closed", "relay=%s err=%s app=%s code=0x%llx "
			 "remote=%s reason=%s retry_ms=%lld",
			 log_q(q, sizeof(q), ev->name),
			 weft_errname(ev->close->err),
			 ev->close->app ? "true" : "false",
			 (unsigned long long)ev->close->code,
			 ev->close->remote ? "true" : "false",
			 log_q(why, sizeof(why), ev->close->reason),
			 (long long)ev->retry_ms);
		break;
	}
}

static void on_udp_other(struct quic_endpoint *ep,
			 const struct ip_endpoint *from, const uint8_t *data,
			 size_t len, void *ctx)
{
	struct daemon *d = ctx;
	struct wire_frame f;

	(void)ep;
	/* Punch probes come from peers, everything else from the relay. */
	if (wire_classify(data, len) == WIRE_KIND_FRAME &&
	    (data[0] == WIRE_PROBE || data[0] == WIRE_PROBE_REPLY)) {
		if (d->tun && wire_frame_decode(data, len, &f) == 0)
			tunnels_input_frame(d->tun, from, &f);
		return;
	}
	relayc_input(d->relay, from, data, len);
}

static void on_relay_signal(uint64_t src, const uint8_t *data, size_t len,
			    void *ctx)
{
	struct daemon *d = ctx;

	if (d->tun && src <= INT64_MAX)
		tunnels_input_signal(d->tun, (int64_t)src, data, len);
}

static void on_path_change(int64_t peer, bool direct,
			   const struct ip_endpoint *addr, void *ctx)
{
	struct daemon *d = ctx;
	const struct map_peer *mp = map_peer(d->map, peer);
	const char *name = mp ? mp->name : NULL;
	char a[IP_ENDPOINT_STRLEN] = "-", q[200];

	if (direct)
		ip_endpoint_format(addr, a, sizeof(a));
	log_info("peer_path", "peer=%s id=%lld path=%s addr=%s",
		 log_q(q, sizeof(q), name ? name : ""), (long long)peer,
		 direct ? "direct" : "relay", a);
}

static int tunnel_send_signal(int64_t dst, const uint8_t *data, size_t len,
			      void *ctx)
{
	struct daemon *d = ctx;

	return relayc_signal(d->relay, (uint64_t)dst, data, len);
}

static void on_relay_frame(uint64_t src, const uint8_t *payload, size_t len,
			   void *ctx)
{
	struct daemon *d = ctx;

	if (d->tun && src <= INT64_MAX)
		tunnels_input_relay(d->tun, (int64_t)src, payload, len);
}

static int send_virtual(struct quic_endpoint *ep, struct quic_conn *c,
			const struct ip_endpoint *to, const uint8_t *data,
			size_t len, void *ctx)
{
	struct daemon *d = ctx;
	int64_t id = tunnel_vaddr_id(to);

	(void)ep;
	(void)c;
	if (!id)
		return WEFT_ERR_INVAL;
	return relayc_send(d->relay, (uint64_t)id, data, len);
}

static int tunnel_send_relay(int64_t dst, const uint8_t *payload, size_t len,
			     void *ctx)
{
	struct daemon *d = ctx;

	return relayc_send(d->relay, (uint64_t)dst, payload, len);
}

static bool accept_peer(struct quic_endpoint *ep, const char *alpn,
			const uint8_t key[IDENT_KEY_LEN], void *ctx)
{
	struct daemon *d = ctx;

	(void)ep;
	return d->tun && strcmp(alpn, QUIC_ALPN_PEER) == 0 &&
	       tunnels_accept_peer(d->tun, key);
}

static void on_accept(struct quic_endpoint *ep, struct quic_conn *c,
		      const char *alpn, void *ctx)
{
	struct daemon *d = ctx;

	(void)ep;
	(void)alpn;
	if (d->tun)
		tunnels_on_accept(d->tun, c);
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
};

/* Applies a map answer. The map's diff is the one place where the parts
 * of the agent learn what changed (docs/internals/agentmap.md). A refused
 * answer keeps the previous map; after a refused delta the next poll asks
 * for a full map, while a refused full map is not asked for again at
 * once (it would be the same): the next delta is refused for want of a
 * base and brings a fresh full map. */
static void on_map(struct daemon *d, const json_t *answer)
{
	int64_t before = map_version(d->map);
	struct map_diff diff;
	char err[200], q[300];
	int rc = map_apply(d->map, answer, &diff, err, sizeof(err));

	if (rc < 0) {
		log_warn_err(rc, "map_rejected", "version=%lld full=%s "
			     "reason=%s", (long long)json_integer_value(
				     json_object_get(answer, "version")),
			     json_is_true(json_object_get(answer, "full"))
				     ? "true" : "false",
			     log_q(q, sizeof(q), err));
		if (!json_is_true(json_object_get(answer, "full")))
			control_want_full(d->ctl);
		return;
	}
	d->last_map = clock_wall_s();
	update_relay(d, answer);
	update_tunnels(d, &diff);
	update_dataplane(d, &diff);
	map_diff_free(&diff);
	if (map_version(d->map) != before ||
	    json_is_true(json_object_get(answer, "full")))
		log_info("map_applied", "version=%lld full=%s peers=%zu",
			 (long long)map_version(d->map),
			 json_is_true(json_object_get(answer, "full"))
				 ? "true" : "false",
			 map_peer_count(d->map));
	set_state(d, STATE_EV_MAP);
}

static void on_control(const struct control_event *ev, void *ctx)
{
	struct daemon *d = ctx;
	char q[300], q2[64];

	if (ev->kind != CONTROL_FAIL) {
		if (!d->reachable)
			log_info("controller_reachable", "url=%s",
				 log_q(q, sizeof(q), d->cfg->controller));
		d->reachable = true;
		d->last_contact = clock_wall_s();
		d->last_error[0] = '\0';
	}
	switch (ev->kind) {
	case CONTROL_REGISTERED:
		json_decref(d->node);
		d->node = json_incref(json_object_get(ev->json, "node"));
		d->node_id = ev->node_id;
		log_info("node_registered", "node=%lld name=%s ipv4=%s new=%s",
			 (long long)ev->node_id,
			 log_q(q, sizeof(q), json_string_value(json_object_get(
						     d->node, "name"))),
			 log_q(q2, sizeof(q2), json_string_value(json_object_get(
						       d->node, "ipv4"))),
			 ev->http_status == 201 ? "true" : "false");
		set_state(d, STATE_EV_REGISTERED);
		break;
	case CONTROL_MAP:
		on_map(d, ev->json);
		break;
	case CONTROL_ENDPOINTS:
		json_decref(d->reported);
		d->reported = json_incref(ev->json);
		log_info("endpoints_reported", "count=%zu",
			 json_array_size(ev->json));
		break;
	case CONTROL_FAIL:
		if (d->reachable || strcmp(d->last_error, ev->message) != 0)
			log_warn("controller_unreachable", "retry_ms=%lld "
				 "error=%s", (long long)ev->retry_ms,
				 log_q(q, sizeof(q), ev->message));
		d->reachable = false;
		snprintf(d->last_error, sizeof(d->last_error), "%s",
			 ev->message);
		set_state(d, STATE_EV_FAIL);
		break;
	case CONTROL_FATAL:
		log_error("control_fatal", "code=%s error=%s",
			  weft_errname(ev->code),
			  log_q(q, sizeof(q), ev->message));
		say(d, "%s", ev->message);
		if (d->node_id && (ev->code == WEFT_ERR_AUTH ||
				   ev->code == WEFT_ERR_EXPIRED ||
				   ev->code == WEFT_ERR_NOTFOUND))
			statedir_cred_remove(d->cfg->state_dir);
		fail(d, ev->code < 0 ? ev->code : WEFT_ERR_INTERNAL);
		break;
	}
}

/* ---- endpoints ---- */

static bool has_string(const json_t *a, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* Our published endpoints that the socket can use are our direct-path
 * candidates: both families on the usual dual-stack socket, IPv4 alone
 * where the kernel has no IPv6 (the path manager then skips the peer's
 * candidates of a family we lack). */
static void push_local(struct daemon *d)
{
	struct ip_endpoint v[16], me;
	const json_t *e;
	size_t i, n = 0;

	if (!d->tun || quic_endpoint_local(d->ep, &me) < 0)
		return;
	json_array_foreach(d->endpoints, i, e) {
		if (n < sizeof(v) / sizeof(v[0]) && json_is_string(e) &&
		    ip_endpoint_parse(json_string_value(e), &v[n]) == 0 &&
		    (d->dual_stack || v[n].addr.family == me.addr.family))
			n++;
	}
	tunnels_set_local(d->tun, v, n);
}

static void check_endpoints(struct daemon *d)
{
	const char *skip = d->cfg->no_tun ? NULL : d->cfg->tun;
	json_t *eps = NULL;
	int rc;

	struct relayc_status rs;
	char qad[IP_ENDPOINT_STRLEN];

	rc = ifaddr_endpoints(d->port, skip, &eps);
	if (rc < 0) {
		log_warn_err(rc, "endpoints_unavailable", NULL);
		return;
	}
	/* The relay's view of us first: it is the address behind NAT. */
	relayc_status(d->relay, &rs);
	if (rs.have_qad && ip_endpoint_format(&rs.qad, qad, sizeof(qad)) >= 0
	    && !has_string(eps, qad)) {
		if (json_array_size(eps) >= IFADDR_MAX)
			json_array_remove(eps, IFADDR_MAX - 1);
		json_array_insert_new(eps, 0, json_string(qad));
	}
	if (d->endpoints && json_equal(d->endpoints, eps)) {
		json_decref(eps);
		return;
	}
	if (control_set_endpoints(d->ctl, eps) < 0) {
		json_decref(eps);
		return;
	}
	json_decref(d->endpoints);
	d->endpoints = eps;
	push_local(d);
}

static void on_ep_soon(struct loop_timer *t, void *ctx)
{
	(void)t;
	check_endpoints(ctx);
}

/* An interface or address changed: look again once the burst of messages
 * that one change brings (link, addresses, routes) has passed. */
static void on_if_change(void *ctx)
{
	struct daemon *d = ctx;

	loop_timer_start(d->ep_soon, 200 * 1000);
}

static void on_ep_timer(struct loop_timer *t, void *ctx)
{
	struct daemon *d = ctx;

	check_endpoints(d);
	loop_timer_start(t, (d->cfg->endpoint_check_ms > 0
				     ? d->cfg->endpoint_check_ms
				     : 10000) * 1000);
}

/* ---- metrics ---- */

/* "addr:port", where port 0 (any free port) is allowed. */
static int metrics_addr(const char *s, struct ip_endpoint *out)
{
	size_t n = strlen(s);
	char tmp[IP_ENDPOINT_STRLEN + 1];
	int rc;

	if (n >= 2 && strcmp(s + n - 2, ":0") == 0 && n < sizeof(tmp)) {
		memcpy(tmp, s, n + 1);
		tmp[n - 1] = '1';
		rc = ip_endpoint_parse(tmp, out);
		if (rc == 0)
			out->port = 0;
		return rc;
	}
	return ip_endpoint_parse(s, out);
}

/* The map's peers as received, sorted by id, for showing them. Returns
 * NULL when out of memory; caller decrefs. */
static json_t *peers_json(const struct daemon *d)
{
	size_t n, i;
	const struct map_peer *const *v = map_peers(d->map, &n);
	json_t *a = json_array();

	for (i = 0; a && i < n; i++)
		if (json_array_append(a, (json_t *)v[i]->json) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* Per-peer byte counters, labelled by peer name. */
static int metrics_peers(struct daemon *d, struct buf *out, const char *key,
			 const char *name, const char *help)
{
	json_t *peers = peers_json(d), *p, *pj;
	size_t i;
	int rc;

	rc = metricsd_family(out, name, "counter", help);
	json_array_foreach(peers, i, p) {
		const char *pn = json_string_value(json_object_get(p, "name"));

		if (rc < 0)
			break;
		pj = json_object();
		if (!pj || tunnels_peer_json(d->tun, json_integer_value(
				json_object_get(p, "id")), pj) < 0) {
			json_decref(pj);
			rc = WEFT_ERR_NOMEM;
			break;
		}
		rc = metricsd_labelled(out, name, "peer", pn ? pn : "",
				       (uint64_t)json_integer_value(
					       json_object_get(pj, key)));
		json_decref(pj);
	}
	json_decref(peers);
	return rc;
}

static int metrics_fill(struct buf *out, void *ctx)
{
	struct daemon *d = ctx;
	struct relayc_status rs;
	struct filter_stats fs;
	struct tunnels_stats ts;
	struct quic_endpoint_stats qs;
	int rc = 0, i;

	relayc_status(d->relay, &rs);
	filter_get_stats(d->filter, clock_mono_ms(), &fs);
#define TRY(x)                                                               \
	do {                                                                 \
		if ((rc = (x)) < 0)                                          \
			return rc;                                           \
	} while (0)
	TRY(metricsd_family(out, "weft_agent_state", "gauge",
			    "1 for the agent's current state, 0 for the "
			    "others."));
	for (i = 0; i <= STATE_RECONNECTING; i++)
		TRY(metricsd_labelled(out, "weft_agent_state", "state",
				      state_name((enum state)i),
				      d->state == (enum state)i));
	TRY(metricsd_one(out, "weft_agent_controller_reachable", "gauge",
			 "1 when the last controller request got an answer.",
			 d->reachable));
	TRY(metricsd_one(out, "weft_agent_map_version", "gauge",
			 "Version of the network map in use.",
			 (uint64_t)map_version(d->map)));
	TRY(metricsd_one(out, "weft_agent_peers", "gauge",
			 "Peers in the network map.",
			 (uint64_t)map_peer_count(d->map)));
	TRY(metricsd_one(out, "weft_agent_relay_connected", "gauge",
			 "1 while authenticated to the home relay.",
			 rs.have_relay && rs.connected));
	TRY(metricsd_one(out, "weft_agent_relay_connects_total", "counter",
			 "Successful relay authentications.",
			 rs.have_relay ? rs.connects : 0));
	TRY(metrics_peers(d, out, "rx_bytes", "weft_agent_peer_rx_bytes_total",
			  "Bytes received from a peer."));
	TRY(metrics_peers(d, out, "tx_bytes", "weft_agent_peer_tx_bytes_total",
			  "Bytes sent to a peer."));
	TRY(metricsd_family(out, "weft_agent_packets_allowed_total", "counter",
			    "Received packets the filter let in, by why."));
	TRY(metricsd_labelled(out, "weft_agent_packets_allowed_total", "by",
			      "rule", fs.allowed));
	TRY(metricsd_labelled(out, "weft_agent_packets_allowed_total", "by",
			      "tracked", fs.allowed_tracked));
	TRY(metricsd_labelled(out, "weft_agent_packets_allowed_total", "by",
			      "fragment", fs.allowed_fragment));
	TRY(metricsd_one(out, "weft_agent_packets_denied_total", "counter",
			 "Received packets the filter dropped.", fs.denied));
	TRY(metricsd_one(out, "weft_agent_flows", "gauge",
			 "Tracked flows not yet expired.", fs.ct_entries));
	TRY(metricsd_family(out, "weft_agent_rx_drops_total", "counter",
			    "Received packets dropped, by reason."));
	TRY(metricsd_labelled(out, "weft_agent_rx_drops_total", "reason",
			      "malformed", d->rx_malformed));
	TRY(metricsd_labelled(out, "weft_agent_rx_drops_total", "reason",
			      "spoofed", d->rx_spoofed));
	TRY(metricsd_labelled(out, "weft_agent_rx_drops_total", "reason",
			      "undelivered", d->rx_undelivered));
	TRY(metricsd_labelled(out, "weft_agent_rx_drops_total", "reason",
			      "tun_write_error", d->rx_tun_errors));
	TRY(metricsd_family(out, "weft_agent_tx_drops_total", "counter",
			    "Packets from the TUN not sent, by reason."));
	TRY(metricsd_labelled(out, "weft_agent_tx_drops_total", "reason",
			      "malformed", d->tx_malformed));
	TRY(metricsd_labelled(out, "weft_agent_tx_drops_total", "reason",
			      "noroute", d->tx_noroute));
	TRY(metricsd_labelled(out, "weft_agent_tx_drops_total", "reason",
			      "dropped", d->tx_dropped));
	memset(&ts, 0, sizeof(ts));
	if (d->tun)
		tunnels_stats(d->tun, &ts);
	TRY(metricsd_one(out, "weft_agent_punch_rounds_total", "counter",
			 "Hole punching rounds started.", ts.punch_rounds));
	TRY(metricsd_one(out, "weft_agent_punch_successes_total", "counter",
			 "Migrations to a direct path that validated.",
			 ts.punch_successes));
	TRY(metricsd_one(out, "weft_agent_path_fallbacks_total", "counter",
			 "Moves back to the relay after a direct path died.",
			 ts.fallbacks));
	TRY(metricsd_one(out, "weft_agent_direct_peers", "gauge",
			 "Peers whose connection is on a direct path.",
			 ts.direct_peers));
	TRY(metricsd_family(out, "weft_agent_time_to_direct_seconds", "gauge",
			    "Seconds from the start of the last successful "
			    "punch round to the direct path (0: none yet)."));
	TRY(buf_appendf(out, "weft_agent_time_to_direct_seconds %.3f\n",
		       ts.last_time_to_direct_ms > 0
			       ? (double)ts.last_time_to_direct_ms / 1000.0
			       : 0.0));
	TRY(metricsd_one(out, "weft_agent_echo_answered_total", "counter",
			 "Echo requests answered by the built-in responder.",
			 d->echo_answered));
	memset(&qs, 0, sizeof(qs));
	if (d->ep)
		quic_endpoint_stats(d->ep, &qs);
	TRY(metricsd_family(out, "weft_agent_udp_datagrams_total", "counter",
			    "UDP datagrams sent and received on the socket."));
	TRY(metricsd_labelled(out, "weft_agent_udp_datagrams_total", "dir",
			      "out", qs.udp_sent));
	TRY(metricsd_labelled(out, "weft_agent_udp_datagrams_total", "dir",
			      "in", qs.udp_recv));
	TRY(metricsd_family(out, "weft_agent_udp_messages_total", "counter",
			    "Socket messages that carried them (one per "
			    "datagram without UDP GSO/GRO)."));
	TRY(metricsd_labelled(out, "weft_agent_udp_messages_total", "dir",
			      "out", qs.udp_send_msgs));
	TRY(metricsd_labelled(out, "weft_agent_udp_messages_total", "dir",
			      "in", qs.udp_recv_msgs));
#undef TRY
	return rc;
}

/* /readyz: registered, a network map applied, and the map's home relay
 * connected. A map without relays has no home relay to wait for, so
 * that check holds then (docs/agent.md). */
static size_t readyz(struct metricsd_check *ck, size_t cap, void *ctx)
{
	struct daemon *d = ctx;
	struct relayc_status rs;

	if (cap < 3)
		return 0;
	relayc_status(d->relay, &rs);
	ck[0] = (struct metricsd_check){"registered", d->node_id > 0};
	ck[1] = (struct metricsd_check){"map", d->last_map > 0};
	ck[2] = (struct metricsd_check){
		"home_relay",
		d->last_map > 0 && (!rs.have_relay || rs.connected)};
	return 3;
}

static int metrics_start(struct daemon *d)
{
	struct ip_endpoint me;
	char text[IP_ENDPOINT_STRLEN];
	int rc;

	if (metrics_addr(d->cfg->metrics_listen, &me) < 0) {
		say(d, "bad --metrics-listen %s (want ADDR:PORT)",
		    d->cfg->metrics_listen);
		return WEFT_ERR_INVAL;
	}
	rc = metricsd_new(d->loop, &me, metrics_fill, d, &d->metrics);
	if (rc < 0) {
		say(d, "cannot serve metrics on %s: %s",
		    d->cfg->metrics_listen, weft_strerror(rc));
		return rc;
	}
	metricsd_set_ready(d->metrics, readyz, d);
	me.port = metricsd_port(d->metrics);
	if (ip_endpoint_format(&me, text, sizeof(text)) < 0)
		text[0] = '\0';
	log_info("metrics_listening", "addr=%s", text);
	return 0;
}

/* ---- local API ---- */

static json_t *time_or_null(int64_t s)
{
	char buf[CLOCK_RFC3339_LEN + 8];

	if (s <= 0 || clock_format_rfc3339(s, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

/* self from the map, else the node from registration. */
static const json_t *self_of(const struct daemon *d)
{
	const json_t *self = map_part(d->map, "self");

	return self ? self : d->node;
}

static json_t *copy_field(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v ? json_incref(v) : json_null();
}

static json_t *relay_answer(struct daemon *d)
{
	struct relayc_status rs;
	char a[IP_ENDPOINT_STRLEN], q[IP_ENDPOINT_STRLEN];

	relayc_status(d->relay, &rs);
	if (!rs.have_relay)
		return json_null();
	ip_endpoint_format(&rs.addr, a, sizeof(a));
	if (rs.have_qad)
		ip_endpoint_format(&rs.qad, q, sizeof(q));
	return json_pack("{s:s, s:s, s:b, s:o, s:I}", "name", rs.name,
			 "address", a, "connected", rs.connected, "qad",
			 rs.have_qad ? json_string(q) : json_null(),
			 "connects", (json_int_t)rs.connects);
}

static json_t *status_answer(struct daemon *d)
{
	const json_t *self = self_of(d), *relays = map_part(d->map, "relays");
	json_t *names = json_array(), *r;
	size_t i;

	json_array_foreach(relays, i, r)
		json_array_append(names, json_object_get(r, "name"));
	return json_pack(
		"{s:s, s:o, s:{s:I, s:o, s:o, s:o}, s:{s:s, s:b, s:o, s:o}, "
		"s:o, s:o, s:{s:I, s:o, s:I}, s:o, s:I, s:o, s:b}",
		"state", state_name(d->state),
		"state_since", time_or_null(d->state_since),
		"node", "id", (json_int_t)(d->node_id ? d->node_id
			: json_integer_value(json_object_get(self, "id"))),
		"name", copy_field(self, "name"),
		"ipv4", copy_field(self, "ipv4"),
		"ipv6", copy_field(self, "ipv6"),
		"controller", "url", d->cfg->controller,
		"reachable", d->reachable,
		"last_contact", time_or_null(d->last_contact),
		"last_error", d->last_error[0] ? json_string(d->last_error)
					       : json_null(),
		"relay", relay_answer(d),
		"relays", names ? names : json_array(),
		"map", "version", (json_int_t)map_version(d->map),
		"updated", time_or_null(d->last_map),
		"peers", (json_int_t)map_peer_count(d->map),
		"endpoints", d->reported ? json_incref(d->reported)
					 : json_array(),
		"port", (json_int_t)d->port,
		"tun", d->tundev ? json_string(tun_name(d->tundev))
				 : json_null(),
		"accept_routes", d->cfg->accept_routes);
}

static json_t *peers_answer(struct daemon *d)
{
	json_t *peers = peers_json(d), *out = json_array(), *p;
	size_t i;

	if (!peers || !out)
		goto fail;
	json_array_foreach(peers, i, p) {
		json_t *e = json_pack(
			"{s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o, "
			"s:o, s:o, s:o}",
			"id", copy_field(p, "id"),
			"name", copy_field(p, "name"),
			"dns_name", copy_field(p, "dns_name"),
			"ipv4", copy_field(p, "ipv4"),
			"ipv6", copy_field(p, "ipv6"),
			"online", copy_field(p, "online"),
			"path", "none", /* tunnels_peer_json sets it */
			"endpoints", copy_field(p, "endpoints"),
			"home_relay", copy_field(p, "home_relay"),
			"last_seen", copy_field(p, "last_seen"),
			"allowed_ips", copy_field(p, "allowed_ips"),
			"tags", copy_field(p, "tags"),
			"user", copy_field(p, "user"));

		if (e && tunnels_peer_json(d->tun, json_integer_value(
				json_object_get(p, "id")), e) < 0) {
			json_decref(e);
			e = NULL;
		}
		/* Unix seconds become a time like the map's last_seen. */
		if (e && json_object_set_new(
				 e, "path_changed",
				 time_or_null(json_integer_value(json_object_get(
					 e, "path_changed")))) < 0) {
			json_decref(e);
			e = NULL;
		}
		if (!e || json_array_append_new(out, e) < 0)
			goto fail;
	}
	json_decref(peers);
	return json_pack("{s:o}", "peers", out);
fail:
	json_decref(peers);
	json_decref(out);
	return NULL;
}

/* Whether prefix is the peer's own mesh address. */
static bool is_mesh_prefix(const json_t *peer, const char *prefix)
{
	const char *v4 = json_string_value(json_object_get(peer, "ipv4"));
	const char *v6 = json_string_value(json_object_get(peer, "ipv6"));
	size_t n = strcspn(prefix, "/");

	return (v4 && strlen(v4) == n && strncmp(v4, prefix, n) == 0 &&
		strcmp(prefix + n, "/32") == 0) ||
	       (v6 && strlen(v6) == n && strncmp(v6, prefix, n) == 0 &&
		strcmp(prefix + n, "/128") == 0);
}

static json_t *routes_answer(struct daemon *d)
{
	json_t *peers = peers_json(d), *out = json_array(), *p, *a;
	size_t i, j;

	if (!peers || !out)
		goto fail;
	json_array_foreach(peers, i, p) {
		json_array_foreach(json_object_get(p, "allowed_ips"), j, a) {
			const char *prefix = json_string_value(a);
			bool mesh;
			json_t *e;

			if (!prefix)
				continue;
			mesh = is_mesh_prefix(p, prefix);
			e = json_pack("{s:s, s:o, s:o, s:s, s:b}", "prefix",
				      prefix, "peer", copy_field(p, "name"),
				      "peer_id", copy_field(p, "id"), "kind",
				      mesh ? "mesh" : "subnet", "accepted",
				      mesh || d->cfg->accept_routes);
			if (!e || json_array_append_new(out, e) < 0)
				goto fail;
		}
	}
	json_decref(peers);
	return json_pack("{s:o}", "routes", out);
fail:
	json_decref(peers);
	json_decref(out);
	return NULL;
}

static json_t *api_error(const char *code, const char *message)
{
	return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
			 message);
}

static bool field_is(const json_t *o, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v && strcmp(v, want) == 0;
}

/* {"cmd": "ping", "peer": NAME|ID|MESH-IP}: sends one echo request into
 * the peer's tunnel (connecting it if needed) and answers at once with
 * {"ping": SEQ, ...}; the CLI polls "ping_result" for the reply. The
 * mesh IPv6 address is used when the peer was named by it, else IPv4. */
static json_t *ping_start(struct daemon *d, const json_t *req)
{
	const char *want = json_string_value(json_object_get(req, "peer"));
	json_t *peers = peers_json(d), *p, *found = NULL, *ans = NULL;
	const char *addr;
	struct ip_addr dst;
	const struct ip_addr *src;
	struct packet_info pi;
	uint8_t pkt[128];
	char idbuf[32], why[160];
	int64_t id = 0;
	uint16_t seq;
	size_t i, n;
	int rc;

	if (!peers)
		return NULL;
	if (!want || !*want) {
		ans = api_error("invalid", "ping needs a peer");
		goto out;
	}
	json_array_foreach(peers, i, p) {
		snprintf(idbuf, sizeof(idbuf), "%lld", (long long)
			 json_integer_value(json_object_get(p, "id")));
		if (field_is(p, "name", want) || field_is(p, "dns_name", want) ||
		    field_is(p, "ipv4", want) || field_is(p, "ipv6", want) ||
		    strcmp(idbuf, want) == 0) {
			found = p;
			break;
		}
	}
	if (!found) {
		ans = api_error("not_found", "no such peer in this node's map");
		goto out;
	}
	id = json_integer_value(json_object_get(found, "id"));
	addr = json_string_value(json_object_get(found, "ipv4"));
	if (field_is(found, "ipv6", want) || !addr)
		addr = json_string_value(json_object_get(found, "ipv6"));
	if (!addr || ip_addr_parse(addr, &dst) < 0) {
		ans = api_error("invalid", "the peer has no mesh address");
		goto out;
	}
	src = dst.family == 4 ? &d->self4 : &d->self6;
	if (!src->family) {
		ans = api_error("unavailable", "this node has no mesh address "
				"of that family yet");
		goto out;
	}
	if (++d->ping_seq == 0)
		d->ping_seq = 1;
	seq = d->ping_seq;
	rc = packet_echo(src, &dst, false, PING_ID, seq,
			 (const uint8_t *)PING_DATA, sizeof(PING_DATA) - 1,
			 pkt, sizeof(pkt), &n);
	if (rc == 0)
		rc = packet_parse(pkt, n, &pi);
	if (rc == 0) {
		/* Like a packet from the TUN: the reply is return traffic. */
		filter_track_out(d->filter, &pi, clock_mono_ms());
		rc = tunnels_send(d->tun, id, pkt, n);
	}
	if (rc < 0) {
		snprintf(why, sizeof(why), "cannot send to the peer: %s",
			 weft_strerror(rc));
		ans = api_error("unavailable", why);
		goto out;
	}
	d->pings[seq % PING_SLOTS] = (struct ping){
		.seq = seq, .peer = id, .sent_us = clock_mono_us(),
		.rtt_us = -1};
	ans = json_pack("{s:i, s:I, s:O, s:s}", "ping", (int)seq, "id",
			(json_int_t)id, "peer", json_object_get(found, "name"),
			"address", addr);
out:
	json_decref(peers);
	return ans;
}

/* {"cmd": "ping_result", "ping": SEQ}: {"done": false} while waiting,
 * then {"done": true, "rtt_ms": .., "path": ..}. */
static json_t *ping_result(struct daemon *d, const json_t *req)
{
	json_int_t seq = json_integer_value(json_object_get(req, "ping"));
	const struct ping *pg;
	json_t *pj, *ans;

	if (seq <= 0 || seq > UINT16_MAX)
		return api_error("invalid", "ping_result needs a ping number");
	pg = &d->pings[seq % PING_SLOTS];
	if (pg->seq != seq)
		return api_error("not_found", "unknown or expired ping");
	if (pg->rtt_us < 0)
		return json_pack("{s:b}", "done", 0);
	pj = json_object();
	if (!pj || tunnels_peer_json(d->tun, pg->peer, pj) < 0) {
		json_decref(pj);
		return NULL;
	}
	ans = json_pack("{s:b, s:f, s:O}", "done", 1, "rtt_ms",
			(double)pg->rtt_us / 1000.0, "path",
			json_object_get(pj, "path") ? json_object_get(pj, "path")
						    : json_null());
	json_decref(pj);
	return ans;
}

static json_t *dataplane_answer(struct daemon *d)
{
	struct filter_stats fs;

	filter_get_stats(d->filter, clock_mono_ms(), &fs);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I}",
			 "allowed", (json_int_t)fs.allowed,
			 "allowed_tracked", (json_int_t)fs.allowed_tracked,
			 "denied", (json_int_t)fs.denied,
			 "flows", (json_int_t)fs.ct_entries,
			 "malformed", (json_int_t)d->rx_malformed,
			 "spoofed", (json_int_t)d->rx_spoofed,
			 "undelivered", (json_int_t)d->rx_undelivered,
			 "echo_answered", (json_int_t)d->echo_answered,
			 "tun_write_errors", (json_int_t)d->rx_tun_errors,
			 "tx_malformed", (json_int_t)d->tx_malformed,
			 "tx_noroute", (json_int_t)d->tx_noroute,
			 "tx_dropped", (json_int_t)d->tx_dropped);
}

static json_t *on_request(const char *cmd, const json_t *req, void *ctx)
{
	struct daemon *d = ctx;
	json_t *ans;

	if (strcmp(cmd, "status") == 0) {
		ans = status_answer(d);
		if (ans && json_object_set_new(ans, "dataplane",
					       dataplane_answer(d)) < 0) {
			json_decref(ans);
			ans = NULL;
		}
		return ans;
	}
	if (strcmp(cmd, "peers") == 0)
		return peers_answer(d);
	if (strcmp(cmd, "routes") == 0)
		return routes_answer(d);
	if (strcmp(cmd, "ping") == 0)
		return ping_start(d, req);
	if (strcmp(cmd, "ping_result") == 0)
		return ping_result(d, req);
	if (strcmp(cmd, "down") == 0) {
		log_info("agent_down", "reason=local_api");
		loop_stop(d->loop);
		return json_pack("{s:b}", "ok", 1);
	}
	return api_error("invalid", "unknown command");
}

static void on_signal(int signo, void *ctx)
{
	struct daemon *d = ctx;

	log_info("agent_down", "signal=%d", signo);
	loop_stop(d->loop);
}

/* ---- start and stop ---- */

/* The agent's one UDP socket (ARCHITECTURE.md) as a QUIC endpoint with
 * the node identity: [::] with IPv4 on the same socket (dual stack), so
 * that relay, peers and direct paths of both families share one port;
 * 0.0.0.0 where the kernel has no IPv6. */
static int open_endpoint(struct daemon *d, const struct ident *id)
{
	static const char *const alpns[] = {QUIC_ALPN_PEER, NULL};
	struct quic_endpoint_options o = {.id = id,
					  .alpns = alpns,
					  .accept_peer = accept_peer,
					  .on_accept = on_accept,
					  .on_other = on_udp_other,
					  .send_virtual = send_virtual,
					  .ctx = d};
	struct ip_endpoint local;
	int rc;

	o.bind.addr.family = 6;
	o.bind.port = (uint16_t)d->cfg->port;
	o.dual_stack = true;
	tunnel_vlocal(&o.virtual_local);
	rc = quic_endpoint_new(d->loop, &o, &d->ep);
	if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL || rc == -EPROTONOSUPPORT) {
		log_info("ipv6_unavailable", "err=%s", weft_strerror(rc));
		o.bind.addr.family = 4;
		o.dual_stack = false;
		rc = quic_endpoint_new(d->loop, &o, &d->ep);
	}
	if (rc < 0)
		return rc;
	d->dual_stack = o.dual_stack;
	quic_endpoint_local(d->ep, &local);
	d->port = local.port;
	return 0;
}

/* Decides how to start: with the stored credential, or registering. */
static int load_cred(struct daemon *d, struct statedir_cred *cred,
		     bool *have)
{
	const struct daemon_cfg *cfg = d->cfg;
	int rc = statedir_cred_load(cfg->state_dir, cred);
	char q[600];

	*have = false;
	if (rc == 0 && strcmp(cred->controller, cfg->controller) == 0) {
		*have = true;
		d->node_id = cred->node_id;
		log_info("credential_loaded", "node=%lld",
			 (long long)cred->node_id);
		return 0;
	}
	if (rc == 0)
		log_warn("credential_other_controller", "stored=%s",
			 log_q(q, sizeof(q), cred->controller));
	else if (rc != -ENOENT)
		log_warn_err(rc, "credential_unreadable", "dir=%s",
			     log_q(q, sizeof(q), cfg->state_dir));
	if (!cfg->auth_key || !*cfg->auth_key) {
		say(d, "this node is not registered with %s yet: give "
		       "--auth-key (or WEFT_AUTH_KEY)", cfg->controller);
		return WEFT_ERR_INVAL;
	}
	return 0;
}

int daemon_run(const struct daemon_cfg *cfg, char *msg, size_t msglen)
{
	struct daemon d = {.cfg = cfg, .msg = msg,
			   .msglen = msglen};
	struct control_cfg cc = {0};
	struct statedir_cred cred;
	struct ident *id = NULL;
	char host[256], pub[IDENT_B64_LEN], q[600];
	bool plain = false, created = false, have_cred = false;
	int rc;

	msg[0] = '\0';
	rc = control_check_url(cfg->controller, cfg->insecure_http, &plain);
	if (rc == WEFT_ERR_FORBIDDEN) {
		say(&d, "refusing plain http to %s: use https, or "
			"--insecure-http if you really mean it",
		    cfg->controller);
		goto out;
	}
	if (rc < 0) {
		say(&d, "--controller must be an http(s) URL without a path, "
			"like https://weft.example.com");
		goto out;
	}
	if (plain)
		log_warn("insecure_http", "url=%s note=\"the node credential "
			 "and map travel unencrypted\"",
			 log_q(q, sizeof(q), cfg->controller));
	rc = statedir_prepare(cfg->state_dir);
	if (rc < 0) {
		say(&d, "cannot use state directory %s: %s", cfg->state_dir,
		    weft_strerror(rc));
		goto out;
	}
	rc = statedir_identity(cfg->state_dir, &id, &created);
	if (rc < 0) {
		say(&d, "cannot load or create the node key in %s: %s",
		    cfg->state_dir, weft_strerror(rc));
		goto out;
	}
	ident_public_b64(id, pub);
	log_info(created ? "node_key_created" : "node_key_loaded",
		 "public_key=%s", pub);
	rc = load_cred(&d, &cred, &have_cred);
	if (rc < 0)
		goto out;
	rc = map_new(&d.map);
	if (rc == 0)
		rc = filter_new(NULL, &d.filter);
	if (rc == 0)
		rc = loop_new(&d.loop);
	if (rc < 0) {
		say(&d, "out of memory");
		goto out;
	}
	rc = open_endpoint(&d, id);
	if (rc == 0)
		rc = relayc_new(d.loop, d.ep, &relay_cbs, &d, &d.relay);
	if (rc == 0)
		rc = tunnels_new(d.loop, d.ep, d.node_id, &tunnel_cbs, &d,
				 &d.tun);
	if (rc == 0) {
		tunnels_set_cooldown(d.tun, (uint64_t)cfg->punch_cooldown_ms);
		tunnels_set_direct(d.tun, !cfg->no_direct);
	}
	if (rc < 0) {
		say(&d, "cannot bind UDP port %lld: %s", (long long)cfg->port,
		    weft_strerror(rc));
		goto out;
	}
	if (!cfg->no_tun) {
		rc = tun_open(&d);
		if (rc < 0) {
			say(&d, "cannot create the TUN device %s: %s (run as "
				"root, or use --no-tun)",
			    cfg->tun ? cfg->tun : "weft0", weft_strerror(rc));
			goto out;
		}
	}
	rc = localapi_new(d.loop, cfg->socket_path, on_request, &d, &d.api);
	if (rc < 0) {
		say(&d, rc == -EADDRINUSE
			    ? "another weft-agent is running (socket %s)"
			    : "cannot create the local API socket %s: %s",
		    cfg->socket_path, weft_strerror(rc));
		goto out;
	}
	if (cfg->metrics_listen) {
		rc = metrics_start(&d);
		if (rc < 0)
			goto out;
	}
	/* Signals first: the control thread must inherit the blocked mask. */
	rc = loop_signal(d.loop, SIGTERM, on_signal, &d);
	if (rc == 0)
		rc = loop_signal(d.loop, SIGINT, on_signal, &d);
	if (rc == 0)
		rc = loop_timer_new(d.loop, on_ep_timer, &d, &d.ep_timer);
	if (rc == 0)
		rc = loop_timer_new(d.loop, on_ep_soon, &d, &d.ep_soon);
	if (rc < 0) {
		say(&d, "cannot set up the event loop: %s", weft_strerror(rc));
		goto out;
	}
	/* Without it the poll below still notices changes, later. */
	rc = ifwatch_new(d.loop, on_if_change, &d, &d.ifw);
	if (rc < 0)
		log_warn_err(rc, "ifwatch_unavailable", NULL);
	if (!cfg->hostname) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "node");
		host[sizeof(host) - 1] = '\0';
	}
	cc.url = cfg->controller;
	cc.ca_file = cfg->ca_file;
	cc.auth_key = cfg->auth_key;
	cc.state_dir = cfg->state_dir;
	cc.public_key = pub;
	cc.hostname = cfg->hostname ? cfg->hostname : host;
	cc.routes = cfg->routes;
	cc.nroutes = cfg->nroutes;
	set_state(&d, have_cred ? STATE_EV_CONNECT : STATE_EV_CONNECT_NEW);
	rc = control_new(d.loop, &cc, have_cred ? &cred : NULL, on_control,
			 &d, &d.ctl);
	explicit_bzero(&cred, sizeof(cred));
	if (rc < 0) {
		say(&d, "cannot start the control thread: %s",
		    weft_strerror(rc));
		goto out;
	}
	log_info("agent_started", "controller=%s socket=%s port=%u",
		 log_q(q, sizeof(q), cfg->controller), cfg->socket_path,
		 (unsigned)d.port);
	check_endpoints(&d);
	loop_timer_start(d.ep_timer, (cfg->endpoint_check_ms > 0
					      ? cfg->endpoint_check_ms
					      : 10000) * 1000);
	rc = loop_run(d.loop);
	if (rc == 0)
		rc = d.exit_rc;
	if (rc == 0)
		set_state(&d, STATE_EV_STOP);
out:
	control_del(d.ctl);
	loop_io_close(d.tun_io, false);
	if (d.gro_flush)
		loop_timer_del(d.gro_flush);
	free(d.gro);
	free(d.rxbuf);
	tun_del(d.tundev);
	free(d.tun_routes);
	tunnels_del(d.tun);
	relayc_del(d.relay);
	quic_endpoint_del(d.ep);
	localapi_del(d.api);
	metricsd_del(d.metrics);
	loop_timer_del(d.ep_timer);
	loop_timer_del(d.ep_soon);
	ifwatch_del(d.ifw);
	loop_del(d.loop);
	map_del(d.map);
	filter_del(d.filter);
	filter_routes_del(d.routes);
	json_decref(d.node);
	json_decref(d.endpoints);
	json_decref(d.reported);
	ident_del(id);
	if (rc < 0 && !msg[0])
		say(&d, "%s", weft_strerror(rc));
	return rc;
}
