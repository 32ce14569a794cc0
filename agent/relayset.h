/* The relays of the map as the agent uses them: one relay client
 * (agent/relayc.h) per relay in the map (at most RELAYSET_MAX), the home
 * relay among them, and which relay carries frames to which peer.
 *
 * Home relay: the connected relay with the lowest round-trip time (QUIC's
 * smoothed RTT of its control connection). The choice is made once the
 * relays have connected (or START_MS after the first one did) and again
 * every second: the agent moves to another relay only when the home relay
 * is gone or another one is at least 30 % and 5 ms faster and has been up
 * for RELAYSET_STABLE_MS; a relay that comes back is thus used again only
 * after it stayed up that long (unless no other relay is up). A home relay
 * whose connection ends is replaced at once.
 *
 * Peers are reached through their own home relay (the map's
 * peers[].home_relay), like DERP: the agent keeps a connection to every
 * relay of the map, so it can send there. When that relay is not
 * connected from here, frames go through our home relay (the peer keeps
 * a connection to it too), then through any connected relay. Frames and
 * signals from every relay are taken.
 *
 * Runs on the loop thread; reports through the relay callbacks (events
 * carry the relay's name) and never logs. */
#ifndef WEFT_AGENT_RELAYSET_H
#define WEFT_AGENT_RELAYSET_H

#include "agent/map.h"
#include "agent/relayc.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAYSET_MAX 8
#define RELAYSET_STABLE_MS 10000

struct relayset;

/* Fills *t for r. Names are looked up with a blocking getaddrinfo (IPv4):
 * relay lists change rarely, and an address literal needs no lookup.
 * Returns 0, WEFT_ERR_INVAL (no name, no pin, no "host:port") or
 * WEFT_ERR_NOTFOUND (the name does not resolve). */
int relayset_target(const struct map_relay *r, struct relayc_target *t);

/* One relay as the home choice sees it. */
struct relayset_cand {
	bool up;              /* authenticated now */
	int64_t up_since_ms;  /* since when, if up */
	uint64_t rtt_us;      /* smoothed RTT, if up */
};

/* The home relay among c[0..n): cur is the present one (-1: none),
 * started_ms when the first relay came up (the start, when stability is
 * not asked yet). Returns the index to use, or -1 when none is up. Pure:
 * no I/O. */
int relayset_choose(const struct relayset_cand *c, size_t n, int cur,
		    int64_t started_ms, int64_t now_ms);

/* Creates an empty set on ep (borrowed, must outlive s); cbs copied; the
 * callbacks get ctx. RELAYC_HOME events tell a new home relay. Returns 0
 * or WEFT_ERR_NOMEM / a loop error. */
int relayset_new(struct loop *l, struct quic_endpoint *ep,
		 const struct relayc_callbacks *cbs, void *ctx,
		 struct relayset **out);

/* Closes every connection (without callbacks) and frees s. NULL is fine.
 * Must not be called from one of its callbacks. */
void relayset_del(struct relayset *s);

/* Takes the map's relays (and peers, for their home relays; m borrowed
 * until the next call or relayset_del) and the relay token (NULL: keep
 * the last one). Relays no longer in the map are dropped, new ones
 * connected. Returns how many relays of the map cannot be used (no pin,
 * no address, beyond RELAYSET_MAX); *bad names the first (borrowed from
 * m) or is NULL. Must not be called from one of its callbacks. */
size_t relayset_update(struct relayset *s, const struct map *m,
		       const char *token, const char **bad);

/* The home relay's client, or (before a choice) the first relay's, or
 * NULL without relays. Borrowed. */
struct relayc *relayset_home(const struct relayset *s);

/* Is any relay connected (authenticated)? */
bool relayset_up(const struct relayset *s);

/* A non-QUIC datagram from the endpoint: handed to the relay it came
 * from. */
void relayset_input(struct relayset *s, const struct ip_endpoint *from,
		    const uint8_t *data, size_t len);

/* Sends a relay frame / a signal to node dst through the relay chosen
 * for it (above). Returns as relayc_send / relayc_signal;
 * WEFT_ERR_CLOSED when no relay is connected. */
int relayset_send(struct relayset *s, uint64_t dst, const void *payload,
		  size_t len);
int relayset_signal(struct relayset *s, uint64_t dst, const void *data,
		    size_t len);

/* The relays for status: [{"name", "connected", "rtt_ms", "home"}], a
 * new reference, NULL when out of memory. */
json_t *relayset_json(const struct relayset *s);

#endif
