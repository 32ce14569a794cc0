/* `weft-agent ping`: echo requests the agent builds itself, answered by
 * the peer's kernel (TUN) or by its built-in responder (--no-tun), and
 * that responder.
 *
 * The table remembers the last PING_SLOTS pings by sequence number, so
 * the local API can poll for a reply. Pure code: no I/O; the caller
 * passes the clock. Runs on the loop thread. */
#ifndef WEFT_AGENT_PING_H
#define WEFT_AGENT_PING_H

#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PING_SLOTS 16
#define PING_ID 0x5746 /* "WF": the echo identifier of agent pings */

struct packet_info;
struct pings;

/* Creates an empty table. Returns 0 and *out, or WEFT_ERR_NOMEM. */
int ping_new(struct pings **out);

/* Frees p. NULL is fine. */
void ping_del(struct pings *p);

/* Builds the next echo request from src to dst (same family) into pkt
 * (cap bytes, 128 are enough). Returns 0 with *n and the request's *seq
 * (never 0), or a packet_echo error. The ping counts only once
 * ping_sent records it. */
int ping_build(struct pings *p, const struct ip_addr *src,
	       const struct ip_addr *dst, uint8_t *pkt, size_t cap,
	       size_t *n, uint16_t *seq);

/* Records that request seq went to peer at now_us (monotonic). */
void ping_sent(struct pings *p, uint16_t seq, int64_t peer, int64_t now_us);

/* An allowed packet from peer (pi parsed from pkt) addressed to us:
 * returns true for an echo reply with our identifier PING_ID (taken; its
 * round trip is recorded when it answers a ping the table holds), false
 * for anything else (someone else's, to deliver). */
bool ping_take_reply(struct pings *p, int64_t peer,
		     const struct packet_info *pi, const uint8_t *pkt,
		     int64_t now_us);

/* The state of ping seq: 0 with *peer and *rtt_us once answered,
 * WEFT_ERR_BUSY while waiting (*peer set), WEFT_ERR_NOTFOUND for a
 * ping the table does not (or no longer) hold. */
int ping_result(const struct pings *p, uint16_t seq, int64_t *peer,
		int64_t *rtt_us);

/* Whether pi is an echo reply (reply) or request (!reply): ICMP or
 * ICMPv6, code 0, not a fragment. */
bool ping_is_echo(const struct packet_info *pi, bool reply);

/* The built-in responder: the echo reply to request pi (parsed from
 * pkt) into out (cap bytes). Returns 0 and *n, WEFT_ERR_INVAL when pi
 * is no echo request, or a packet_echo error. */
int ping_answer(const struct packet_info *pi, const uint8_t *pkt,
		uint8_t *out, size_t cap, size_t *n);

#endif
