/* Stream targets that are resources: see streamtarget.h. */
#include "agent/streamtarget.h"

#include "agent/reschoice.h"
#include "agent/resclient.h"
#include "agent/resnames.h"
#include "agent/streamfwd.h"
#include "shared/err.h"

#include <stdio.h>
#include <string.h>

/* The entry of v[0..n) whose prefixes hold a with the longest prefix,
 * or NULL. */
static const struct map_res *by_addr(const struct map_res *v, size_t n,
				     const struct ip_addr *a)
{
	const struct map_res *best = NULL;
	int len = -1;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < v[i].nprefixes; j++)
			if (v[i].prefixes[j].len > len &&
			    ip_prefix_contains(&v[i].prefixes[j], a)) {
				best = &v[i];
				len = v[i].prefixes[j].len;
			}
	return best;
}

/* Whether r is reached at its own addresses (not mapped ones). */
static bool by_address(const struct map_res *r)
{
	return r->type == MAP_RES_IP || r->type == MAP_RES_CIDR ||
	       r->type == MAP_RES_INTERNET;
}

int streamtarget_pick(const struct map *m, const char *target,
		      uint16_t port, streamtarget_choice_fn *choice,
		      void *ctx, struct streamtarget *out)
{
	char host[IP_ADDR_STRLEN], name[DNSWIRE_NAME_MAX];
	const struct map_res *v, *r = NULL;
	const struct map_self *self;
	struct packet_info pi;
	struct ip_addr a;
	int64_t peer;
	size_t n;

	peer = streamfwd_resolve(m, target, host);
	if (peer) {
		memset(out, 0, sizeof(*out));
		out->peer = peer;
		snprintf(out->host, sizeof(out->host), "%s", host);
		return 0;
	}
	v = map_resources(m, &n);
	if (ip_addr_parse(target, &a) == 0) {
		/* Our own address is never sent away (an internet resource
		 * holds it too). */
		self = map_self(m);
		if (self && (ip_addr_eq(&a, &self->ipv4) ||
			     ip_addr_eq(&a, &self->ipv6)))
			return WEFT_ERR_NOTFOUND;
		r = by_addr(v, n, &a);
		if (r && by_address(r))
			ip_addr_format(&a, name, sizeof(name));
		else if (r && r->type == MAP_RES_DNS)
			snprintf(name, sizeof(name), "%s", r->address);
		else
			r = NULL;
	} else if (resnames_normalise(target, name) == 0) {
		r = resnames_find(v, n, name);
	}
	if (!r || strlen(name) > STREAMHDR_HOST_MAX)
		return WEFT_ERR_NOTFOUND;
	memset(&a, 0, sizeof(a));
	streamtarget_syn(&a, &a, port, &pi);
	if (!reschoice_allows(r->filters, r->nfilters, &pi))
		return WEFT_ERR_FORBIDDEN;
	peer = choice(ctx, r->id);
	if (!peer)
		return WEFT_ERR_CLOSED;
	memset(out, 0, sizeof(*out));
	out->peer = peer;
	out->res_id = r->id;
	memcpy(out->host, name, strlen(name) + 1);
	return 0;
}

static int64_t rc_choice(void *ctx, int64_t res_id)
{
	return resclient_connector(ctx, res_id);
}

int streamtarget_find(const struct map *m, const struct resclient *rc,
		      const char *target, uint16_t port,
		      struct streamtarget *out)
{
	return streamtarget_pick(m, target, port, rc_choice, (void *)rc, out);
}

static const struct ip_prefix *prefix_of(const struct map_res *r,
					 uint8_t family)
{
	for (size_t i = 0; i < r->nprefixes; i++)
		if (r->prefixes[i].addr.family == family)
			return &r->prefixes[i];
	return NULL;
}

int streamtarget_accept(const struct map_res *serves, size_t n,
			const struct map_peer *peer, const char *host,
			struct streamtarget_in *out)
{
	const struct map_res *r;
	const struct ip_prefix *p;
	struct streamtarget_in in;

	memset(&in, 0, sizeof(in));
	if (ip_addr_parse(host, &in.addr) == 0) {
		r = by_addr(serves, n, &in.addr);
		if (!r || !by_address(r))
			return WEFT_ERR_NOTFOUND;
		if (!streamtarget_dialable(&in.addr))
			return WEFT_ERR_INVAL;
		in.dst = in.addr;
	} else {
		if (resnames_normalise(host, in.name) < 0)
			return WEFT_ERR_INVAL;
		r = resnames_find(serves, n, in.name);
		if (!r)
			return WEFT_ERR_NOTFOUND;
		p = peer->ipv4.family ? prefix_of(r, 4) : NULL;
		if (!p)
			p = prefix_of(r, 6);
		if (!p)
			p = prefix_of(r, 4);
		if (!p)
			return WEFT_ERR_NOTFOUND;
		in.dst = p->addr;
	}
	in.res_id = r->id;
	in.src = in.dst.family == 4 ? peer->ipv4 : peer->ipv6;
	*out = in;
	return 0;
}

bool streamtarget_dialable(const struct ip_addr *a)
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	static const uint8_t zero[16];

	if (a->family == 4)
		return a->b[0] != 0 && a->b[0] != 127 && a->b[0] < 224;
	if (a->family != 6)
		return false;
	return memcmp(a->b, zero, 15) != 0 && a->b[0] != 0xff &&
	       !(a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80) &&
	       memcmp(a->b, mapped, 12) != 0;
}

void streamtarget_syn(const struct ip_addr *src, const struct ip_addr *dst,
		      uint16_t port, struct packet_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	pi->src = *src;
	pi->dst = *dst;
	pi->version = dst->family ? dst->family : 4;
	pi->proto = PACKET_PROTO_TCP;
	pi->l3_len = pi->version == 4 ? 20 : 40;
	pi->len = (uint16_t)(pi->l3_len + 20);
	pi->has_ports = true;
	pi->dport = port;
	pi->tcp_flags = 0x02;
}
