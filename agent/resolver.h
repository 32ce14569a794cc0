/* An asynchronous DNS client on the agent's event loop: A and AAAA
 * lookups over UDP to the nameservers of resolv.conf, with timeouts,
 * retries over the servers, and the answer's TTL. The connector uses it to
 * resolve the real names behind DNS and wildcard resources.
 *
 * Each query uses its own connected, non-blocking UDP socket (a fresh
 * source port) and a random id; answers from elsewhere, with another id or
 * another question are ignored. Servers are tried in order, each try
 * waiting timeout_ms, the whole list attempts times (as glibc does).
 * NXDOMAIN and an answer without addresses end the query at once; SERVFAIL,
 * REFUSED, a truncated answer (no TCP fallback) or a malformed one move on
 * to the next try. */
#ifndef WEFT_AGENT_RESOLVER_H
#define WEFT_AGENT_RESOLVER_H

#include "shared/ip.h"
#include "shared/loop.h"

#include <stddef.h>
#include <stdint.h>

#define RESOLVER_SERVERS_MAX 3 /* as glibc's MAXNS */
#define RESOLVER_ADDRS_MAX 8   /* addresses passed to the callback */

struct resolver_conf {
	struct ip_endpoint servers[RESOLVER_SERVERS_MAX];
	size_t n_servers;
	int timeout_ms; /* per try; resolv.conf "options timeout:N" (s) */
	int attempts;   /* rounds over the servers; "options attempts:N" */
};

/* Parses resolv.conf text: "nameserver ADDR" lines (IPv4 or IPv6, port
 * 53; the first RESOLVER_SERVERS_MAX are kept, others and ones with a
 * zone id are skipped), "options timeout:N attempts:N" (clamped to 1..30
 * and 1..5); comments (# or ;) and other keywords are ignored. Without a
 * nameserver line the server is 127.0.0.1, like glibc. Defaults: timeout
 * 5 s, 2 attempts. Never fails. */
void resolver_conf_parse(const char *text, struct resolver_conf *out);

/* Reads path (e.g. /etc/resolv.conf) and parses it. Returns 0 or -errno
 * (*out then holds the defaults). */
int resolver_conf_load(const char *path, struct resolver_conf *out);

/* The outcome of a lookup: status 0 with 1..n addresses and the smallest
 * TTL of the records used; WEFT_ERR_NOTFOUND (NXDOMAIN, or the name has
 * no address of that type), WEFT_ERR_TIMEOUT (no server answered),
 * WEFT_ERR_PROTO (every answer was SERVFAIL, REFUSED, truncated or
 * malformed), or -errno (no socket could be used). addrs lives for the
 * call only. The query is gone when this runs; the callback may start
 * new queries or delete the resolver. */
typedef void resolver_cb(void *ctx, int status, const struct ip_addr *addrs,
			 size_t n, uint32_t ttl);

struct resolver;
struct resolver_query;

/* Creates a resolver on l with a copy of conf (at least one server).
 * Returns 0 and *out, WEFT_ERR_INVAL or WEFT_ERR_NOMEM. */
int resolver_new(struct loop *l, const struct resolver_conf *conf,
		 struct resolver **out);

/* Cancels every pending query (no callbacks) and frees r. NULL is fine. */
void resolver_del(struct resolver *r);

/* Looks up name (dotted text, no trailing dot) for type DNS_TYPE_A or
 * DNS_TYPE_AAAA; cb runs later on the loop, exactly once unless the query
 * is cancelled. Returns 0 (and *out when out is not NULL: valid until cb
 * runs or the query is cancelled), WEFT_ERR_INVAL for a bad name or type,
 * WEFT_ERR_NOMEM. */
int resolver_query(struct resolver *r, const char *name, uint16_t type,
		   resolver_cb *cb, void *ctx, struct resolver_query **out);

/* Cancels q: its callback never runs. */
void resolver_cancel(struct resolver_query *q);

#endif
