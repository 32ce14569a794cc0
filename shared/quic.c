/* The QUIC engine's endpoint: lifecycle, routing of incoming datagrams by
 * connection ID, and the packets an endpoint sends without a connection
 * (Retry, stateless reset, Version Negotiation). Connections live in
 * quic_conn.c, streams and datagrams in quic_stream.c, TLS in quic_tls.c,
 * the CID map in quic_cid.c, the socket in quic_io.c. */
#include "shared/quic_internal.h"

#include "shared/err.h"
#include "shared/ident.h"
#include "shared/rand.h"

#include <stdlib.h>
#include <string.h>

static void send_retry(struct quic_endpoint *ep, const ngtcp2_pkt_hd *hd,
		       const ngtcp2_path *path)
{
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
	uint8_t buf[TX_BUFSZ];
	ngtcp2_cid scid;
	ngtcp2_ssize tlen, n;

	if (quic_cid_gen(&scid, SCID_LEN) < 0)
		return;
	tlen = ngtcp2_crypto_generate_retry_token(
		token, ep->secret, SECRET_LEN, hd->version, path->remote.addr,
		path->remote.addrlen, &scid, &hd->dcid, quic_now_ts(ep));
	if (tlen < 0)
		return;
	n = ngtcp2_crypto_write_retry(buf, sizeof(buf), hd->version, &hd->scid,
				      &scid, &hd->dcid, token, (size_t)tlen);
	if (n > 0) {
		quic_io_send(ep, NULL, path, buf, (size_t)n);
		quic_io_flush(ep);
		ep->st.retry_sent++;
	}
}

/* A long-header packet for no known connection: maybe a new client. */
static void server_accept(struct quic_endpoint *ep, const ngtcp2_path *path,
			  const uint8_t *data, size_t len)
{
	ngtcp2_pkt_hd hd;
	ngtcp2_cid odcid;
	bool have_odcid = false;

	if (!ep->nalpns || ep->nlive >= ep->o.max_conns)
		return;
	if (ngtcp2_accept(&hd, data, len) != 0 || hd.type != NGTCP2_PKT_INITIAL)
		return;
	if (hd.token.len && hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
		/* Address validated by our Retry, or a forgery: drop those. */
		if (ngtcp2_crypto_verify_retry_token(
			    &odcid, hd.token.base, hd.token.len, ep->secret,
			    SECRET_LEN, hd.version, path->remote.addr,
			    path->remote.addrlen, &hd.dcid, RETRY_TOKEN_TIMEOUT,
			    quic_now_ts(ep)) != 0) {
			ep->st.retry_failed++;
			return;
		}
		have_odcid = true;
	} else if (ep->o.retry) {
		/* The place where a server demands address validation. */
		send_retry(ep, &hd, path);
		return;
	}
	quic_conn_accept(ep, path, &hd, have_odcid ? &odcid : NULL, data, len);
}

/* Whether one more stateless packet (reset, Version Negotiation) may go
 * out now: a token bucket in GCRA form, stateless_rate per second with a
 * burst of as many. These answer packets nobody authenticated, so a
 * flood of them must not turn the endpoint into a reflector. */
static bool stateless_allowed(struct quic_endpoint *ep)
{
	int64_t now = loop_now_us(ep->loop);
	int64_t step = 1000000 / (int64_t)ep->o.stateless_rate;
	int64_t tat = ep->stateless_tat > now ? ep->stateless_tat : now;

	if (tat - now + step > step * (int64_t)ep->o.stateless_rate) {
		ep->st.stateless_limited++;
		return false;
	}
	ep->stateless_tat = tat + step;
	ep->st.stateless_sent++;
	return true;
}

static void send_stateless_reset(struct quic_endpoint *ep,
				 const ngtcp2_path *path, const uint8_t *dcid,
				 size_t dcidlen, size_t inlen)
{
	uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
	uint8_t rnd[300], buf[300];
	ngtcp2_cid cid;
	size_t outlen;
	ngtcp2_ssize n;

	/* Smaller than what triggered it, so two endpoints cannot loop. */
	if (inlen < 42 || !stateless_allowed(ep))
		return;
	outlen = inlen - 1 > sizeof(buf) ? sizeof(buf) : inlen - 1;
	ngtcp2_cid_init(&cid, dcid, dcidlen);
	if (ngtcp2_crypto_generate_stateless_reset_token(
		    token, ep->reset_secret, SECRET_LEN, &cid) != 0 ||
	    rand_bytes(rnd, outlen - NGTCP2_STATELESS_RESET_TOKENLEN) < 0)
		return;
	n = ngtcp2_pkt_write_stateless_reset(
		buf, sizeof(buf), token, rnd,
		outlen - NGTCP2_STATELESS_RESET_TOKENLEN);
	if (n > 0) {
		quic_io_send(ep, NULL, path, buf, (size_t)n);
		quic_io_flush(ep);
	}
}

static void send_version_negotiation(struct quic_endpoint *ep,
				     const ngtcp2_path *path,
				     const ngtcp2_version_cid *vc, size_t inlen)
{
	uint32_t sv[] = {NGTCP2_PROTO_VER_V1};
	uint8_t buf[256], r;
	ngtcp2_ssize n;

	/* Only for packets as large as a client Initial: no amplification. */
	if (!ep->nalpns || inlen < NGTCP2_MAX_UDP_PAYLOAD_SIZE ||
	    !stateless_allowed(ep) || rand_bytes(&r, 1) < 0)
		return;
	n = ngtcp2_pkt_write_version_negotiation(buf, sizeof(buf), r, vc->scid,
						 vc->scidlen, vc->dcid,
						 vc->dcidlen, sv, 1);
	if (n > 0) {
		quic_io_send(ep, NULL, path, buf, (size_t)n);
		quic_io_flush(ep);
	}
}
/* A short-header packet for no known CID may be a stateless reset: its
 * first bytes are random, so it cannot be routed by CID. ngtcp2 recognises
 * one when the packet reaches the connection it resets, so hand it to the
 * live connections whose current path it came from (usually one: the
 * relay or a peer). Only clients: they are the ones a restarted server
 * leaves waiting, and a server endpoint with many connections then scans
 * nothing but flags. Returns whether one of them ended on it. */
static bool reset_for_conn(struct quic_endpoint *ep, const ngtcp2_path *path,
			   const uint8_t *data, size_t len)
{
	struct ip_endpoint from, rem;
	struct quic_conn *c, *next;

	if (len < NGTCP2_STATELESS_RESET_TOKENLEN + 5 ||
	    ip_endpoint_from_sockaddr(path->remote.addr, path->remote.addrlen,
				      &from) < 0)
		return false;
	for (c = ep->conns; c; c = next) {
		const ngtcp2_path *cp;

		next = c->next;
		if (c->server || c->dead || !c->nc || c->in_cb)
			continue;
		cp = ngtcp2_conn_get_path(c->nc);
		if (ip_endpoint_from_sockaddr(cp->remote.addr,
					      cp->remote.addrlen, &rem) < 0 ||
		    rem.port != from.port || !ip_addr_eq(&rem.addr, &from.addr))
			continue;
		quic_conn_input(c, path, data, len);
		if (c->dead)
			return true;
	}
	return false;
}

void quic_ep_input(struct quic_endpoint *ep, const ngtcp2_path *path,
		   const uint8_t *data, size_t len)
{
	ngtcp2_version_cid vc;
	struct quic_conn *c;
	int rv;

	if (len == 0)
		return;
	if (!(data[0] & 0x40)) {
		struct ip_endpoint from;

		if (!quic_io_path_is_virtual(ep, path) && ep->o.on_other &&
		    ip_endpoint_from_sockaddr(path->remote.addr,
					      path->remote.addrlen, &from) == 0)
			ep->o.on_other(ep, &from, data, len, ep->o.ctx);
		return;
	}
	rv = ngtcp2_pkt_decode_version_cid(&vc, data, len, SCID_LEN);
	if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
		send_version_negotiation(ep, path, &vc, len);
		return;
	}
	if (rv != 0)
		return;
	c = quic_cidmap_get(&ep->cids, vc.dcid, vc.dcidlen);
	if (c) {
		quic_conn_input(c, path, data, len);
		return;
	}
	if (data[0] & 0x80)
		server_accept(ep, path, data, len);
	else if (!reset_for_conn(ep, path, data, len))
		send_stateless_reset(ep, path, vc.dcid, vc.dcidlen, len);
}

static void on_reap(struct loop_timer *t, void *ctx)
{
	struct quic_endpoint *ep = ctx;
	struct quic_conn *c, *next;

	for (c = ep->conns; c; c = next) {
		next = c->next;
		if (c->dead && !c->lingering)
			quic_conn_reap(c);
	}
}

static int ep_options(struct quic_endpoint *ep,
		      const struct quic_endpoint_options *o)
{
	unsigned i;

	if (!o->id)
		return WEFT_ERR_INVAL;
	ep->o = *o;
	ep->o.alpns = NULL;
	for (i = 0; o->alpns && o->alpns[i]; i++) {
		if (i >= QUIC_MAX_ALPNS || !o->alpns[i][0] ||
		    strlen(o->alpns[i]) >= sizeof(ep->alpn_store[i]))
			return WEFT_ERR_INVAL;
		strcpy(ep->alpn_store[i], o->alpns[i]);
	}
	ep->nalpns = i;
	if ((ep->nalpns && !o->accept_peer) ||
	    (o->dual_stack && o->bind.addr.family != 6))
		return WEFT_ERR_INVAL;
	if (!ep->o.max_conns)
		ep->o.max_conns = 1024;
	if (!ep->o.max_stream_buffer)
		ep->o.max_stream_buffer = 1 << 20;
	if (!ep->o.max_streams_bidi)
		ep->o.max_streams_bidi = 100;
	if (!ep->o.idle_timeout_ms)
		ep->o.idle_timeout_ms = 30000;
	if (!ep->o.keepalive_ms)
		ep->o.keepalive_ms = 20000;
	if (ep->o.keepalive_ms > 25000)
		ep->o.keepalive_ms = 25000;
	if (!ep->o.handshake_timeout_ms)
		ep->o.handshake_timeout_ms = 10000;
	if (!ep->o.dgram_max_age_ms)
		ep->o.dgram_max_age_ms = 1000;
	if (!ep->o.stateless_rate)
		ep->o.stateless_rate = 100;
	if (ep->o.stateless_rate > 1000000)
		ep->o.stateless_rate = 1000000;
	return 0;
}

int quic_endpoint_new(struct loop *l, const struct quic_endpoint_options *o,
		      struct quic_endpoint **out)
{
	struct quic_endpoint *ep;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int r;

	if (!l || !o || ip_endpoint_to_sockaddr(&o->bind, &ss, &sslen) < 0)
		return WEFT_ERR_INVAL;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return WEFT_ERR_NOMEM;
	ep->loop = l;
	ep->fd = -1;
	r = ep_options(ep, o);
	if (r < 0)
		goto out;
	if (o->virtual_local.addr.family) {
		struct ip_endpoint v = o->virtual_local;

		if ((v.addr.family != o->bind.addr.family &&
		     !o->dual_stack) ||
		    ip_addr_eq(&v.addr, &o->bind.addr)) {
			r = WEFT_ERR_INVAL;
			goto out;
		}
		ep->has_virtual = true;
	}
	r = rand_bytes(ep->secret, sizeof(ep->secret));
	if (r == 0)
		r = o->stable_reset
			    ? ident_derive(o->id, "weft quic stateless reset",
					   ep->reset_secret)
			    : rand_bytes(ep->reset_secret,
					 sizeof(ep->reset_secret));
	if (r == 0)
		r = rand_bytes(&ep->cids.seed, sizeof(ep->cids.seed));
	if (r < 0)
		goto out;
	r = quic_tls_cred_init(ep);
	if (r < 0)
		goto out;
	r = quic_io_open(ep, &ss, sslen);
	if (r < 0)
		goto out;
	if (ep->has_virtual) {
		struct ip_endpoint v = o->virtual_local, real;

		ip_endpoint_from_sockaddr((struct sockaddr *)&ep->local,
					  ep->locallen, &real);
		if (!v.port)
			v.port = real.port;
		ip_endpoint_to_sockaddr(&v, &ep->vlocal, &ep->vlocallen);
	}
	r = loop_timer_new(l, on_reap, ep, &ep->reap);
	if (r < 0)
		goto out;
	r = quic_io_start(ep);
	if (r < 0)
		goto out;
	*out = ep;
out:
	if (r < 0)
		quic_endpoint_del(ep);
	return r;
}

void quic_endpoint_del(struct quic_endpoint *ep)
{
	struct quic_conn *c, *next;

	if (!ep)
		return;
	for (c = ep->conns; c; c = next) {
		next = c->next;
		if (!c->dead && c->nc && !c->in_cb) {
			c->cbs.on_closed = NULL;
			c->close_code = 0;
			strcpy(c->close_reason, "shutdown");
			quic_conn_app_close(c);
		}
		quic_conn_reap(c);
	}
	quic_io_close(ep);
	loop_timer_del(ep->reap);
	quic_cidmap_free(&ep->cids);
	if (ep->cred)
		gnutls_certificate_free_credentials(ep->cred);
	for (size_t i = 0; i < ep->nold_creds; i++)
		gnutls_certificate_free_credentials(ep->old_creds[i]);
	free(ep->old_creds);
	explicit_bzero(ep->secret, sizeof(ep->secret));
	explicit_bzero(ep->reset_secret, sizeof(ep->reset_secret));
	free(ep);
}

int quic_endpoint_local(const struct quic_endpoint *ep,
			struct ip_endpoint *out)
{
	return ip_endpoint_from_sockaddr((const struct sockaddr *)&ep->local,
					 ep->locallen, out);
}

unsigned quic_endpoint_conn_count(const struct quic_endpoint *ep)
{
	return ep->nlive;
}

int quic_endpoint_set_ident(struct quic_endpoint *ep, const struct ident *id)
{
	gnutls_certificate_credentials_t cred, *old;
	int r;

	old = realloc(ep->old_creds, (ep->nold_creds + 1) * sizeof(*old));
	if (!old)
		return WEFT_ERR_NOMEM;
	ep->old_creds = old;
	r = quic_tls_cred_new(id, &cred);
	if (r < 0)
		return r;
	ep->old_creds[ep->nold_creds++] = ep->cred;
	ep->cred = cred;
	return 0;
}

void quic_endpoint_set_retry(struct quic_endpoint *ep, bool on)
{
	ep->o.retry = on;
}

void quic_endpoint_stats(const struct quic_endpoint *ep,
			 struct quic_endpoint_stats *out)
{
	*out = ep->st;
	out->conns = ep->nlive;
	out->gso = ep->gso;
	out->gro = ep->gro;
}

int quic_endpoint_input_virtual(struct quic_endpoint *ep,
				const struct ip_endpoint *from,
				const void *data, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	ngtcp2_version_cid vc;
	ngtcp2_path path;
	struct quic_conn *c;

	if (!ep->has_virtual || ip_endpoint_to_sockaddr(from, &ss, &sslen) < 0)
		return WEFT_ERR_INVAL;
	if (len && (((const uint8_t *)data)[0] & 0x40) &&
	    ngtcp2_pkt_decode_version_cid(&vc, data, len, SCID_LEN) == 0 &&
	    (c = quic_cidmap_get(&ep->cids, vc.dcid, vc.dcidlen)) && c->in_cb)
		return WEFT_ERR_BUSY;
	quic_io_path(&path, &ep->vlocal, ep->vlocallen, &ss, sslen);
	quic_ep_input(ep, &path, data, len);
	return 0;
}
