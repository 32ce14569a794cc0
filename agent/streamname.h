/* The names a connector dials for stream mode (agent/streams.h; the
 * name of a DNS resource it serves or one under a wildcard resource),
 * resolved with its own resolver (agent/resolver.h) as agent/dnat.c
 * does for the TUN path: the nameservers of /etc/resolv.conf, read at
 * the first lookup (a missing file: the resolver's default, logged once
 * as event=stream_resolv_conf). An A query first; when it gives no
 * address streamtarget_dialable accepts, AAAA. No cache: each stream
 * asks, so an answer is never older than the stream.
 *
 * Glue on the loop thread; never blocks it (the queries are the
 * resolver's non-blocking UDP sockets). */
#ifndef WEFT_AGENT_STREAMNAME_H
#define WEFT_AGENT_STREAMNAME_H

#include "shared/ip.h"

struct loop;
struct streamname;
struct streamname_op;

/* The outcome of a lookup: status 0 with addr (lives for the call);
 * WEFT_ERR_NOTFOUND (NXDOMAIN, or neither an A nor an AAAA record with
 * an address to dial); WEFT_ERR_TIMEOUT, WEFT_ERR_PROTO, -errno (as
 * resolver_cb). The op is gone when this runs. */
typedef void streamname_cb(void *ctx, int status, const struct ip_addr *addr);

/* Returns 0 and *out (no resolver yet), or WEFT_ERR_NOMEM. resolv_conf
 * NULL: /etc/resolv.conf (copied). */
int streamname_new(struct loop *l, const char *resolv_conf,
		   struct streamname **out);

/* Cancels every lookup (no callbacks) and frees sn. NULL is fine. */
void streamname_del(struct streamname *sn);

/* Resolves name (lower case, no final dot); cb runs later, exactly once
 * unless cancelled. Returns 0 and *out (valid until cb runs or
 * streamname_cancel), WEFT_ERR_INVAL (a bad name), WEFT_ERR_NOMEM. */
int streamname_lookup(struct streamname *sn, const char *name,
		      streamname_cb *cb, void *ctx,
		      struct streamname_op **out);

/* Ends op without its callback. NULL is fine. */
void streamname_cancel(struct streamname_op *op);

#endif
