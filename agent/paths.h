/* The path manager of one peer connection: decides when to punch a direct
 * UDP path to the peer, which address wins, and when the QUIC connection
 * moves between the relayed path and the direct path.
 *
 * It is pure protocol code in the style of ngtcp2: no sockets, no threads,
 * no clock reads. Every call takes `now` (milliseconds on a monotonic
 * clock) and queues actions (send this probe, migrate to that address, ...)
 * that the caller drains with paths_next_action() after each call and
 * executes. paths_next_wakeup() says when to call paths_on_timer() next.
 * docs/internals/paths.md describes the state machine and its timers.
 *
 * Probes never move traffic: only a QUIC migration with path validation
 * does, and only the QUIC client (the smaller node id) migrates. The
 * server side tells the client through the relay when it saw a probe
 * round trip succeed first (PATHS_SIGNAL_USE).
 *
 * Probe transaction ids authenticate themselves: txid = seq (u32, big
 * endian) || the first 8 bytes of HMAC-SHA256(probe key, "weft-probe" ||
 * sender id || receiver id || seq). The probe key is 32 bytes the two
 * agents agree on over their end-to-end QUIC connection; without it the
 * manager neither probes nor answers probes. */
#ifndef WEFT_AGENT_PATHS_H
#define WEFT_AGENT_PATHS_H

#include "shared/ip.h"
#include "shared/wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PATHS_KEY_LEN 32
#define PATHS_CAND_MAX 16        /* remote candidates kept (map + calls) */
#define PATHS_PRFLX_MAX 8        /* peer-reflexive candidates on top */
#define PATHS_LOCAL_MAX 16       /* our own candidates kept for ranking */

/* Timers, in milliseconds. */
#define PATHS_PROBE_INTERVAL_MS 250  /* between probe bursts in a round */
#define PATHS_PROBE_BURSTS 8         /* bursts per round: every 250 ms */
#define PATHS_ROUND_MS 2000          /* a round fails after this */
#define PATHS_SETTLE_MS 100          /* wait for a better-ranked success */
#define PATHS_MIGRATE_MS 5000        /* a migration with no result failed */
#define PATHS_KEEPALIVE_MS 20000     /* idle time before a keepalive */
#define PATHS_KEEPALIVE_ACK_MS 5000  /* a keepalive with no ack: path dead */
#define PATHS_PTO_MAX 3              /* this many PTOs in a row: path dead */
#define PATHS_COOLDOWN_MS 30000      /* first retry delay after a failure */
#define PATHS_COOLDOWN_MAX_MS 600000 /* back-off cap */
#define PATHS_CALL_SLACK_MS 5000     /* a peer's call pulls our retry in */
#define PATHS_RETRY_RELAY_MS 1000    /* re-issue a failed move to relay */
#define PATHS_OPEN_TTL 2             /* openers: past our NAT, no further */

enum paths_state {
	PATHS_RELAY = 0,  /* on the relay; punching later (or never) */
	PATHS_PUNCHING,   /* a probe round is running */
	PATHS_MIGRATING,  /* client: migration to direct outstanding;
			   * server: waiting for the client to migrate */
	PATHS_DIRECT,     /* on the direct path, watched by keepalives */
	PATHS_FALLBACK,   /* client: migration back to relay outstanding */
};

enum paths_action_type {
	PATHS_SEND_PROBE = 1,  /* PROBE with txid to addr */
	PATHS_SEND_REPLY,      /* PROBE_REPLY with txid, observed to addr */
	PATHS_SIGNAL_CALL,     /* "call me maybe" with our candidates, relay */
	PATHS_SIGNAL_USE,      /* server -> client: migrate to addr, relay */
	PATHS_SIGNAL_LOST,     /* server -> client: direct path died, relay */
	PATHS_MIGRATE_DIRECT,  /* client: quic_conn_migrate to addr */
	PATHS_MIGRATE_RELAY,   /* client: quic_conn_migrate to the relay */
	PATHS_KEEPALIVE,       /* send a QUIC PING on the direct path */
};

struct paths_action {
	uint8_t type;                /* enum paths_action_type */
	uint8_t ttl;                 /* SEND_PROBE: IP TTL / IPv6 hop limit,
				      * 0 for the socket's default */
	uint8_t txid[WIRE_TXID_LEN]; /* SEND_PROBE, SEND_REPLY */
	struct ip_endpoint addr;     /* destination or migration target */
	struct ip_endpoint observed; /* SEND_REPLY: where the probe came from */
};

/* Counters for metrics and `weft-agent peers`. */
struct paths_stats {
	uint64_t rounds;     /* punch rounds started */
	uint64_t successes;  /* migrations to direct that validated */
	uint64_t fallbacks;  /* moves back to the relay after path loss */
	uint64_t bad_probes; /* probes and replies ignored (tag, txid, id) */
	uint64_t last_change; /* `now` of the last path change */
	uint64_t time_to_direct; /* ms from the round start to direct */
};

struct paths;

/* Allocates the manager for the connection between node self and node
 * peer (distinct, non-zero) into *out; the QUIC client is the smaller id.
 * It starts on the relay with no key and no candidates. Returns 0,
 * WEFT_ERR_INVAL or WEFT_ERR_NOMEM (*out untouched). */
int paths_new(uint64_t self, uint64_t peer, uint64_t now, struct paths **out);

/* Sets the first retry delay after a failure (0: PATHS_COOLDOWN_MS); it
 * doubles with every further failure up to PATHS_COOLDOWN_MAX_MS. */
void paths_set_cooldown(struct paths *p, uint64_t ms);

/* Sets the IP TTL (IPv6 hop limit) of the openers, the probes that start
 * each round we start (default PATHS_OPEN_TTL; 0: no openers). An opener
 * creates our NAT's mapping towards each candidate but expires before the
 * peer's NAT, so a NAT that accepts unsolicited packets is not poisoned by
 * a probe that arrives before its own host sent anything; the round's real
 * probes then wait for the peer's first probe or one probe interval. A
 * round we join (the peer called first) sends its real probes at once.
 * docs/internals/paths.md has the details and the measurements. */
void paths_set_open_ttl(struct paths *p, uint8_t ttl);

/* Frees p and wipes its key. Accepts NULL. */
void paths_del(struct paths *p);

/* Sets the 32-byte probe key (copied). The first key allows punching to
 * start; a new key forgets the peer's replay window. Returns 0. */
int paths_set_key(struct paths *p, const uint8_t key[static PATHS_KEY_LEN],
		  uint64_t now);

/* Replaces our own candidates (copied, at most PATHS_LOCAL_MAX kept),
 * used to rank the peer's. Returns 0 or WEFT_ERR_INVAL for NULL with n>0. */
int paths_set_local(struct paths *p, const struct ip_endpoint *eps, size_t n);

/* Replaces the peer's candidates from the network map (copied; unusable
 * ones such as link-local, loopback, port 0 or families we have no
 * address of are skipped). Starts a round if one is due. Returns 0 or
 * WEFT_ERR_INVAL. */
int paths_set_remote(struct paths *p, const struct ip_endpoint *eps, size_t n,
		     uint64_t now);

/* A "call me maybe" from the peer via the relay: merges its candidates
 * and starts a round unless one runs or our retry is more than
 * PATHS_CALL_SLACK_MS away. Returns 0 or WEFT_ERR_INVAL. */
int paths_on_call(struct paths *p, const struct ip_endpoint *eps, size_t n,
		  uint64_t now);

/* A PROBE from `from` carrying txid and sender. A valid one is answered;
 * others (bad tag, wrong sender, replay, no key) are ignored and counted.
 * Returns 0. */
int paths_on_probe(struct paths *p, const struct ip_endpoint *from,
		   const uint8_t txid[static WIRE_TXID_LEN], uint64_t sender,
		   uint64_t now);

/* A PROBE_REPLY from `from`. Counts as a success only when txid is one of
 * our outstanding probes and it came from the address that probe went to;
 * from another address it adds a peer-reflexive candidate to probe.
 * Returns 0. */
int paths_on_reply(struct paths *p, const struct ip_endpoint *from,
		   const uint8_t txid[static WIRE_TXID_LEN], uint64_t sender,
		   const struct ip_endpoint *observed, uint64_t now);

/* Client: "use addr" from the server via the relay. Migrates to addr when
 * on the relay with no migration outstanding. Ignored on the server.
 * Returns 0. */
int paths_on_use(struct paths *p, const struct ip_endpoint *addr,
		 uint64_t now);

/* Client: the server says the direct path died; falls back at once.
 * Returns 0. */
int paths_on_lost(struct paths *p, uint64_t now);

/* Client: the result of the outstanding migration (ok: validated). Ignored
 * when none is outstanding. Returns 0. */
int paths_on_migrated(struct paths *p, bool ok, uint64_t now);

/* Server: the QUIC server saw its client move to the direct path at addr
 * (direct) or back to the relay (!direct; addr may be NULL). Returns 0 or
 * WEFT_ERR_INVAL for direct without addr. */
int paths_on_peer_migrated(struct paths *p, bool direct,
			   const struct ip_endpoint *addr, uint64_t now);

/* QUIC saw an ACK (or any packet) on the direct path. Returns 0. */
int paths_on_ack(struct paths *p, uint64_t now);

/* QUIC's consecutive PTO count on the direct path; PATHS_PTO_MAX or more
 * means the path is dead. Returns 0. */
int paths_on_pto(struct paths *p, unsigned count, uint64_t now);

/* The control connection to the relay went up or down. Signals are not
 * queued while it is down. Returns 0. */
int paths_on_relay(struct paths *p, bool up, uint64_t now);

/* Runs the timers that are due at now. Returns 0. */
int paths_on_timer(struct paths *p, uint64_t now);

/* When paths_on_timer wants to run next: never before the `now` of the
 * last call, UINT64_MAX when nothing is scheduled. */
uint64_t paths_next_wakeup(const struct paths *p);

/* Takes the oldest queued action into *out. Returns 1, or 0 when none is
 * queued (*out untouched). The queue holds one call's actions; drain it
 * after every call (actions that do not fit are dropped and counted in
 * paths_dropped_actions). */
int paths_next_action(struct paths *p, struct paths_action *out);

/* Actions dropped because the queue was full (a caller bug). */
uint64_t paths_dropped_actions(const struct paths *p);

/* Current state, the direct address when in PATHS_DIRECT or migrating
 * (may be NULL), and the counters (may be NULL). */
enum paths_state paths_state(const struct paths *p, struct ip_endpoint *direct,
			     struct paths_stats *stats);

/* True while a migration this side asked for has no result yet. */
bool paths_migration_pending(const struct paths *p);

/* No punch round of our own before until (a new manager for a peer whose
 * last connection lost its direct path keeps that back-off). A call or a
 * probe from the peer may still start one. */
void paths_defer(struct paths *p, uint64_t until);

/* When the next punch round may start (meaningful in PATHS_RELAY), and
 * the current back-off delay in ms. */
uint64_t paths_retry_at(const struct paths *p, uint64_t *cooldown);

/* Preference class of a remote candidate seen from our candidates locals:
 * 0 same LAN (private, same /24 or /64 as one of ours), 1 private or
 * CGNAT, 2 public; times two, plus one for IPv4 (IPv6 first within a
 * class). Lower is better. */
int paths_rank(const struct ip_endpoint *remote,
	       const struct ip_endpoint *locals, size_t n);

/* Builds the txid of probe seq from sender to receiver into txid.
 * Returns 0 or WEFT_ERR_CRYPTO. Exposed for tests and tools. */
int paths_txid(const uint8_t key[static PATHS_KEY_LEN], uint64_t sender,
	       uint64_t receiver, uint32_t seq,
	       uint8_t txid[static WIRE_TXID_LEN]);

#endif
