/* Agent pings and the built-in echo responder: see ping.h. */
#include "agent/ping.h"

#include "agent/packet.h"
#include "shared/err.h"

#include <stdlib.h>

#define PING_DATA "weft-agent ping."

struct ping {
	uint16_t seq;    /* 0: free */
	int64_t peer;
	int64_t sent_us; /* monotonic */
	int64_t rtt_us;  /* -1 until the reply came */
};

struct pings {
	struct ping slot[PING_SLOTS];
	uint16_t seq;
};

int ping_new(struct pings **out)
{
	struct pings *p = calloc(1, sizeof(*p));

	if (!p)
		return WEFT_ERR_NOMEM;
	*out = p;
	return 0;
}

void ping_del(struct pings *p)
{
	free(p);
}

int ping_build(struct pings *p, const struct ip_addr *src,
	       const struct ip_addr *dst, uint8_t *pkt, size_t cap,
	       size_t *n, uint16_t *seq)
{
	if (++p->seq == 0)
		p->seq = 1;
	*seq = p->seq;
	return packet_echo(src, dst, false, PING_ID, p->seq,
			   (const uint8_t *)PING_DATA, sizeof(PING_DATA) - 1,
			   pkt, cap, n);
}

void ping_sent(struct pings *p, uint16_t seq, int64_t peer, int64_t now_us)
{
	p->slot[seq % PING_SLOTS] = (struct ping){
		.seq = seq, .peer = peer, .sent_us = now_us, .rtt_us = -1};
}

bool ping_is_echo(const struct packet_info *pi, bool reply)
{
	uint8_t want = pi->version == 4 ? (reply ? 0 : 8)
					: (reply ? 129 : 128);

	return pi->has_icmp && !pi->fragment && pi->icmp_code == 0 &&
	       pi->icmp_type == want;
}

/* The sequence number of an echo packet (after type, code, checksum and
 * identifier). */
static uint16_t echo_seq(const struct packet_info *pi, const uint8_t *pkt)
{
	const uint8_t *icmp = pkt + pi->l3_len;

	return (uint16_t)(icmp[6] << 8 | icmp[7]);
}

bool ping_take_reply(struct pings *p, int64_t peer,
		     const struct packet_info *pi, const uint8_t *pkt,
		     int64_t now_us)
{
	struct ping *pg;
	uint16_t seq;

	if (!ping_is_echo(pi, true) || pi->icmp_id != PING_ID)
		return false;
	seq = echo_seq(pi, pkt);
	pg = &p->slot[seq % PING_SLOTS];
	if (seq && pg->seq == seq && pg->peer == peer && pg->rtt_us < 0)
		pg->rtt_us = now_us - pg->sent_us;
	return true;
}

int ping_result(const struct pings *p, uint16_t seq, int64_t *peer,
		int64_t *rtt_us)
{
	const struct ping *pg = &p->slot[seq % PING_SLOTS];

	if (!seq || pg->seq != seq)
		return WEFT_ERR_NOTFOUND;
	*peer = pg->peer;
	if (pg->rtt_us < 0)
		return WEFT_ERR_BUSY;
	*rtt_us = pg->rtt_us;
	return 0;
}

int ping_answer(const struct packet_info *pi, const uint8_t *pkt,
		uint8_t *out, size_t cap, size_t *n)
{
	const uint8_t *icmp = pkt + pi->l3_len;

	if (!ping_is_echo(pi, false))
		return WEFT_ERR_INVAL;
	return packet_echo(&pi->dst, &pi->src, true, pi->icmp_id,
			   echo_seq(pi, pkt), icmp + 8,
			   (size_t)(pi->len - pi->l3_len - 8), out, cap, n);
}
