/* What the stub resolver answers for one question, decided from the
 * network map alone (docs/dns.md, "Names" and "The stub resolver"):
 *
 * - `<node>.<suffix>` (and the bare `<node>` when the map's search is on):
 *   A/AAAA of that peer or of this node;
 * - PTR for the mesh addresses of nodes and the mapped addresses of DNS
 *   resources (in-addr.arpa, ip6.arpa); another address in the mesh
 *   ranges is NXDOMAIN;
 * - the name of a DNS resource in the map's resources section (only what
 *   the policy lets this node reach is there): its mapped addresses;
 * - the map's extra records;
 * - a name under a wildcard resource in the map's resources section: its
 *   own addresses in the resource's block, from cfg->wildcard (the stub
 *   passes agent/resclient.h's resclient_resolve, which also tells the
 *   connector the name); only A, AAAA and ANY ask for them, other types
 *   are NOERROR without records;
 * - any other name under the suffix: NXDOMAIN;
 * - everything else is forwarded: to the upstreams of the longest
 *   matching split domain, else the map's global upstreams, else the
 *   host's earlier resolvers. An upstream that is the stub itself (or a
 *   loopback resolver the caller says routes back to it) is never used:
 *   with none left the answer is SERVFAIL with reason "loop".
 *
 * Pure code, no I/O. Local answers carry DNSANSWER_TTL so that resolvers
 * in front of the stub (systemd-resolved caches) see a policy change
 * within a second; the stub computes them from memory, so that costs
 * nothing. */
#ifndef WEFT_AGENT_DNSANSWER_H
#define WEFT_AGENT_DNSANSWER_H

#include "agent/map.h"
#include "shared/dnslimits.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSANSWER_TTL 1
#define DNSANSWER_MAX_RR 16
#define DNSANSWER_NAME_MAX 255        /* text, without the NUL */

/* Types and codes it speaks of (RFC 1035, 3596). */
#define DNSANSWER_T_A 1
#define DNSANSWER_T_PTR 12
#define DNSANSWER_T_AAAA 28
#define DNSANSWER_T_ANY 255
#define DNSANSWER_RCODE_NOERROR 0
#define DNSANSWER_RCODE_SERVFAIL 2
#define DNSANSWER_RCODE_NXDOMAIN 3

enum dnsanswer_action {
	DNSANSWER_LOCAL,              /* answer with rcode and rr[] */
	DNSANSWER_FORWARD,            /* ask up[] */
};

struct dnsanswer_rr {
	uint16_t type;                /* A, AAAA or PTR */
	struct ip_addr addr;          /* A, AAAA */
	char ptr[DNSANSWER_NAME_MAX + 1]; /* PTR target, no trailing dot */
};

struct dnsanswer {
	enum dnsanswer_action action;
	int rcode;
	uint32_t ttl;
	struct dnsanswer_rr rr[DNSANSWER_MAX_RR];
	size_t nrr;
	struct ip_endpoint up[DNS_MAX_UPSTREAMS];
	size_t nup;
	size_t nloops;   /* upstreams left out because they loop */
	/* Why a local SERVFAIL or which source the upstreams came from:
	 * "loop", "no_upstream", "wildcard"; "split", "global", "host".
	 * Static. */
	const char *reason;
};

/* Gives name (lower case, no trailing dot, under a wildcard resource of
 * the map) its addresses: returns 0 with *v4 and *v6 (family 0: none),
 * or an error (the answer is then SERVFAIL, reason "wildcard"). */
typedef int dnsanswer_wildcard_fn(void *ctx, const char *name,
				  struct ip_addr *v4, struct ip_addr *v6);

struct dnsanswer_cfg {
	/* The resolvers the host had before the agent installed itself. */
	const struct ip_endpoint *host;
	size_t nhost;
	/* The stub's own sockets (besides the map's stub addresses on port
	 * 53), never an upstream. */
	const struct ip_endpoint *listen;
	size_t nlisten;
	/* True when a loopback resolver (127.0.0.53) would send queries
	 * back to the stub (resolved with the stub as its default route). */
	bool loopback_loops;
	/* NULL: names under wildcard resources are forwarded. */
	dnsanswer_wildcard_fn *wildcard;
	void *wildcard_ctx;
};

/* Decides the answer for (qname, qtype) of class IN against m (which may
 * lack any part). qname is the question's name in text, any case, with
 * or without the trailing dot. Fills *out and returns 0, or returns
 * WEFT_ERR_INVAL for a name longer than DNSANSWER_NAME_MAX. */
int dnsanswer_lookup(const struct map *m, const struct dnsanswer_cfg *cfg,
		     const char *qname, uint16_t qtype,
		     struct dnsanswer *out);

#endif
