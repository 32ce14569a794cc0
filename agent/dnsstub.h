/* The agent's stub DNS server (docs/dns.md, "The stub resolver"): UDP and
 * TCP sockets on the loop, answers from the map (agent/dnsanswer.h), an
 * answer cache (agent/dnscache.h) and forwarding to upstreams over UDP
 * with a timeout, a retry on the next upstream, and TCP when the
 * upstream's answer is truncated.
 *
 * UDP answers respect the client's EDNS0 size (512 without EDNS0) and set
 * TC when they do not fit, so clients retry over TCP. TCP connections
 * carry length-prefixed queries one after the other, close after
 * DNSSTUB_TCP_IDLE_MS without a query, and are at most DNSSTUB_TCP_MAX:
 * a new one beyond that closes the one idle longest. A TCP listener
 * whose accept fails for want of descriptors backs off
 * (agent/listenpause.h) instead of spinning.
 * Malformed queries are dropped (answered FORMERR when the header can be
 * read) and logged at most once a second.
 *
 * Map-derived answers are computed for every query and never cached, so a
 * map change applies to the next query; the cache holds upstream answers
 * only and is flushed when the map's dns part changes (upstreams). */
#ifndef WEFT_AGENT_DNSSTUB_H
#define WEFT_AGENT_DNSSTUB_H

#include "agent/map.h"
#include "agent/resclient.h"
#include "shared/ip.h"
#include "shared/loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSSTUB_LISTEN_MAX 4
#define DNSSTUB_TCP_MAX 64
#define DNSSTUB_TCP_IDLE_MS 10000
#define DNSSTUB_PENDING_MAX 1024      /* forwards in flight */
#define DNSSTUB_UP_TIMEOUT_MS 1000    /* per try */
#define DNSSTUB_UP_TRIES 3

struct dnsstub;

struct dnsstub_cfg {
	struct loop *loop;
	/* Where to listen (UDP and TCP each); copied. None: the map's stub
	 * addresses on port 53, followed as the map changes. */
	const struct ip_endpoint *listen;
	size_t nlisten;
	/* The host's resolvers before the agent (agent/dnsanswer.h); copied. */
	const struct ip_endpoint *host;
	size_t nhost;
	bool loopback_loops;
	/* The map, borrowed for the stub's life (it follows map_apply). */
	const struct map *map;
	size_t cache_entries, cache_bytes; /* 0: defaults */
	/* Gives names under wildcard resources their addresses and tells
	 * the connectors (resclient_resolve), borrowed; NULL: such names
	 * are forwarded. */
	struct resclient *res;
};

/* The stub's counters since it started (docs/dns.md, "Counters"). */
struct dnsstub_stats {
	uint64_t queries;           /* every message received */
	uint64_t local;             /* answered from the map */
	uint64_t cache_hits;        /* answered from the cache */
	uint64_t forwarded;         /* sent to an upstream */
	uint64_t nxdomain, servfail; /* answers with that rcode */
	uint64_t malformed, truncated, tcp_fallback;
	uint64_t upstream_timeouts; /* tries without an answer in time */
	uint64_t upstream_failures; /* forwards answered SERVFAIL: every
				     * try failed */
	uint64_t loops;             /* queries whose upstreams (some or
				     * all) were left out as loops */
	uint64_t tcp_evicted;       /* idle TCP clients closed at the cap */
	uint64_t tcp_refused;       /* new TCP clients refused at the cap */
	uint64_t tcp_paused;        /* TCP listener pauses for want of
				     * descriptors (agent/listenpause.h) */
	uint64_t tcp_conns;         /* TCP clients now (a gauge) */
};

/* Binds every listen address (UDP and TCP). Returns 0 and *out, or
 * -errno / WEFT_ERR_* (nothing left open then). */
int dnsstub_new(const struct dnsstub_cfg *cfg, struct dnsstub **out);

/* Closes every socket and answers nothing more. NULL is fine. */
void dnsstub_del(struct dnsstub *s);

/* Tells the stub the map changed (call after map_apply): when the dns
 * part changed, flushes cached upstream answers and, without fixed listen
 * addresses, moves to the map's stub addresses (a failed bind is logged;
 * the stub answers nothing until the next change). */
void dnsstub_map_changed(struct dnsstub *s, const struct map_diff *diff);

/* dnsstub_new for the daemon: listens on *listen when its port is set
 * (--dns-listen), else on the map's stub addresses; wildcard names go to
 * res; the host's resolvers
 * are the nameservers of resolv_conf (the host's file from before the
 * agent; unreadable: none). */
int dnsstub_start(struct loop *loop, const struct map *map,
		  struct resclient *res, const struct ip_endpoint *listen,
		  const char *resolv_conf, struct dnsstub **out);

void dnsstub_stats(const struct dnsstub *s, struct dnsstub_stats *out);

/* Whether a loopback upstream (127.0.0.53, a local dnsmasq) would send
 * queries back to the stub, as installed on the host now
 * (dnshost_loopback_loops): then such upstreams are left out. NULL is
 * fine. */
void dnsstub_set_loopback_loops(struct dnsstub *s, bool on);

#endif
