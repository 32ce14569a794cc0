/* Private to the peer tunnels (agent/tunnel*.c): the table and peer
 * bodies and the functions the tunnel files call across each other.
 * Nothing outside agent/tunnel*.c includes this.
 *
 *   tunnel.c        the peer table, connections, packet queues, timers
 *   tunnel_paths.c  the direct path: drives each peer's path manager
 *                   (agent/paths.h) and carries out its actions
 *   tunnel_stats.c  counters for the metrics and the per-peer JSON
 *   tunnel_stream.c the connections' streams, handed to stream mode */
#ifndef WEFT_AGENT_TUNNEL_INTERNAL_H
#define WEFT_AGENT_TUNNEL_INTERNAL_H

#include "agent/paths.h"
#include "agent/tunnel.h"
#include "shared/idmap.h"
#include "shared/loop.h"

#include <stdbool.h>
#include <stdint.h>

#define LOCAL_MAX 16 /* our own candidates used */

struct pkt;
struct quic_conn;

struct peer {
	struct tunnels *t;
	int64_t id;
	uint8_t key[IDENT_KEY_LEN];
	struct quic_conn *c;
	bool up;                 /* datagrams can flow */
	struct pkt *q[TUNNEL_QUEUE_MAX];
	unsigned qhead, qlen;
	bool flushing;           /* flush runs: its callbacks must not */
	int64_t last_active_us;
	int64_t last_wake_us;
	int64_t last_handshake;  /* wall seconds */
	uint64_t rx_done, tx_done; /* bytes of closed connections */
	uint64_t dropped;
	uint64_t stale;          /* aged out here or in closed connections */
	bool mark;
	struct loop_timer *tick; /* queue retry, idle close */
	struct loop_timer *ptm;  /* the path manager's next wake-up */
	struct peer *key_next;   /* same key hash (see key_hash) */
	/* direct path */
	struct paths *pm;        /* while the connection is up */
	struct ip_endpoint rem[PATHS_CAND_MAX]; /* candidates from the map */
	size_t nrem;
	uint64_t seen_pkts;      /* pkts_recv at the last watch */
	uint64_t unanswered_since; /* ms: sent, nothing received since */
	uint64_t retry_not_before; /* ms: back-off carried to the next pm */
	int64_t fallback_since;  /* ms: in PATHS_FALLBACK since, 0: not */
	int64_t lost_told;       /* server: ms + 1 it sent SIGNAL_LOST; 0 */
	int64_t path_changed;    /* wall seconds */
	bool said_relay;         /* the last path change reported: relay */
	int64_t path_since_us;   /* loop time the current path began */
	int64_t up_since_us;     /* loop time the connection came up */
	uint64_t rejoins;        /* the peer used a connection we lost */
	uint64_t rounds_done, successes_done, fallbacks_done; /* closed pms */
	/* liveness watch of a connector (tunnel_watch.c) */
	bool watched;
	bool heard;              /* something arrived: report from the timer */
	int64_t lost_since;      /* ms; 0: not lost */
	uint64_t w_seen_pkts;    /* pkts_recv at the last watch */
	int64_t w_unanswered;    /* ms: in flight, nothing back since; 0 */
	int64_t w_want;          /* ms: packets wait for a connection since */
	bool w_stream;           /* streams asked for the connection while
				  * it was not up, since the last watch */
	struct loop_timer *wtm;  /* NULL until first watched */
};

struct tunnels {
	struct loop *loop;
	struct quic_endpoint *ep;
	int64_t self;
	struct tunnel_callbacks cbs;
	void *ctx;
	struct idmap byid;       /* id -> struct peer * */
	struct idmap bykey;      /* key_hash -> struct peer * (chained) */
	uint64_t seed;           /* of key_hash */
	/* direct paths */
	struct ip_endpoint local[LOCAL_MAX];
	size_t nlocal;
	uint64_t cooldown_ms;
	int64_t idle_us; /* tunnels_set_idle */
	int open_ttl; /* tunnels_set_open_ttl */
	bool relay_up;
	bool no_direct;
	int64_t last_ttd_ms;
	struct tunnel_stream_callbacks scbs; /* tunnel_stream.c */
	void *sctx;
};

static inline uint64_t tunnel_now_ms(const struct tunnels *t)
{
	return (uint64_t)(loop_now_us(t->loop) / 1000);
}

/* tunnel.c */

/* The peer with node id, or NULL. */
struct peer *tunnel_find(const struct tunnels *t, int64_t id);
/* Closes p's connection without touching p afterwards. */
void tunnel_drop_conn(struct peer *p, const char *why);
/* Dials p on the relay path unless p has a connection. */
void tunnel_connect(struct peer *p);
/* The peer still uses a connection we no longer have (we restarted or
 * dropped it): unless we have one, dial it (we are the client) or wake
 * it (we are the server), so it replaces its stale connection. */
void tunnel_rejoin(struct peer *p);

/* tunnel_stream.c: the connection's stream callbacks (ctx is p), and
 * p's connection c ending. */
void tunnel_stream_data(struct quic_conn *c, int64_t sid, const uint8_t *d,
			size_t len, bool fin, void *ctx);
void tunnel_stream_writable(struct quic_conn *c, int64_t sid, void *ctx);
void tunnel_stream_closed(struct quic_conn *c, int64_t sid, uint64_t code,
			  void *ctx);
void tunnel_stream_conn_gone(struct peer *p, struct quic_conn *c);

/* tunnel_watch.c */

/* A packet for p was sent or queued: watch for an answer. */
void tunnel_watch_sent(struct peer *p);
/* Something arrived from p (a datagram, a new connection). Not reported
 * here (this runs in QUIC callbacks): the watch timer reports it. */
void tunnel_watch_heard(struct peer *p);
/* Frees p's watch timer. */
void tunnel_watch_free(struct peer *p);

/* tunnel_paths.c */

/* Gives p's connection a path manager once it is up (unless direct paths
 * are off or the connection's probe key cannot be had). */
void tunnel_pm_start(struct peer *p);
/* Frees p's manager, keeping its counters. NULL manager is fine. */
void tunnel_pm_free(struct peer *p);
/* The peer's candidates from its map entry. */
void tunnel_pm_set_remote(struct peer *p, const struct map_peer *mp);
/* p's path timer (loop_timer callback, ctx is p). */
void tunnel_pm_on_timer(struct loop_timer *tm, void *ctx);
/* The connection's on_path callback (ctx is p). */
void tunnel_pm_on_path(struct quic_conn *c, bool is_virtual, bool ok,
		       void *ctx);

#endif
