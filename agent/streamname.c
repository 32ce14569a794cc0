/* Names of stream targets resolved at the connector: see streamname.h. */
#include "agent/streamname.h"

#include "agent/resolver.h"
#include "agent/streamtarget.h"
#include "shared/dnswire.h"
#include "shared/err.h"
#include "shared/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOLV_CONF "/etc/resolv.conf"

struct streamname_op {
	struct streamname *sn;
	struct streamname_op *prev, *next;
	struct resolver_query *q;
	uint16_t type;
	streamname_cb *cb;
	void *ctx;
	char name[DNSWIRE_NAME_MAX];
};

struct streamname {
	struct loop *loop;
	struct resolver *res; /* at the first lookup */
	struct streamname_op *ops;
	char path[256];
};

int streamname_new(struct loop *l, const char *resolv_conf,
		   struct streamname **out)
{
	struct streamname *sn = calloc(1, sizeof(*sn));

	if (!sn)
		return WEFT_ERR_NOMEM;
	sn->loop = l;
	snprintf(sn->path, sizeof(sn->path), "%s",
		 resolv_conf ? resolv_conf : RESOLV_CONF);
	*out = sn;
	return 0;
}

static void op_free(struct streamname_op *op)
{
	struct streamname *sn = op->sn;

	if (op->prev)
		op->prev->next = op->next;
	else
		sn->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	if (op->q)
		resolver_cancel(op->q);
	free(op);
}

void streamname_del(struct streamname *sn)
{
	if (!sn)
		return;
	while (sn->ops)
		op_free(sn->ops);
	resolver_del(sn->res);
	free(sn);
}

void streamname_cancel(struct streamname_op *op)
{
	if (op)
		op_free(op);
}

static int ask(struct streamname_op *op, uint16_t type);

static void on_answer(void *ctx, int status, const struct ip_addr *addrs,
		      size_t n, uint32_t ttl)
{
	struct streamname_op *op = ctx;
	streamname_cb *cb = op->cb;
	void *cbctx = op->ctx;
	struct ip_addr a;
	size_t i;

	(void)ttl;
	op->q = NULL;
	for (i = 0; status == 0 && i < n; i++)
		if (streamtarget_dialable(&addrs[i]))
			break;
	if (status == 0 && i < n)
		a = addrs[i];
	else if (status == 0)
		status = WEFT_ERR_NOTFOUND;
	/* No IPv4 address to dial (or NXDOMAIN, which the resolver does not
	 * tell apart): an IPv6-only name has its AAAA record. */
	if (status == WEFT_ERR_NOTFOUND && op->type == DNS_TYPE_A &&
	    ask(op, DNS_TYPE_AAAA) == 0)
		return;
	op_free(op);
	cb(cbctx, status, status == 0 ? &a : NULL);
}

static int ask(struct streamname_op *op, uint16_t type)
{
	op->type = type;
	return resolver_query(op->sn->res, op->name, type, on_answer, op,
			      &op->q);
}

/* The resolver, made at the first lookup. */
static int resolver(struct streamname *sn)
{
	struct resolver_conf conf;
	int e;

	if (sn->res)
		return 0;
	e = resolver_conf_load(sn->path, &conf);
	if (e < 0)
		log_warn_err(e, "stream_resolv_conf", "path=%s note=\"using "
			     "127.0.0.1\"", sn->path);
	return resolver_new(sn->loop, &conf, &sn->res);
}

int streamname_lookup(struct streamname *sn, const char *name,
		      streamname_cb *cb, void *ctx,
		      struct streamname_op **out)
{
	struct streamname_op *op;
	int e;

	if (strlen(name) >= DNSWIRE_NAME_MAX)
		return WEFT_ERR_INVAL;
	e = resolver(sn);
	if (e < 0)
		return e;
	op = calloc(1, sizeof(*op));
	if (!op)
		return WEFT_ERR_NOMEM;
	op->sn = sn;
	op->cb = cb;
	op->ctx = ctx;
	memcpy(op->name, name, strlen(name) + 1);
	e = ask(op, DNS_TYPE_A);
	if (e < 0) {
		free(op);
		return e;
	}
	op->next = sn->ops;
	if (sn->ops)
		sn->ops->prev = op;
	sn->ops = op;
	*out = op;
	return 0;
}
