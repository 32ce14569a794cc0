/* The endpoint's UDP socket: receive in recvmmsg batches, send in
 * sendmmsg batches (with UDP GSO where it works), and the path helpers
 * that tell the socket's local address from the virtual (relayed) one. */
#include "shared/quic_internal.h"

#include "shared/err.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* At most this many bytes in one GSO message (a UDP datagram's limit,
 * less room for headers). */
#define GSO_MAX_BYTES 65000

/* One message's control data: a UDP_SEGMENT (uint16_t) or an IP_TTL /
 * IPV6_HOPLIMIT (int). */
union gso_cmsg {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

static bool sa_eq(const struct sockaddr *a, socklen_t alen,
		  const struct sockaddr_storage *b, socklen_t blen)
{
	struct ip_endpoint x, y;

	if (!a || alen == 0)
		return false;
	if (ip_endpoint_from_sockaddr(a, alen, &x) < 0 ||
	    ip_endpoint_from_sockaddr((const struct sockaddr *)b, blen, &y) <
		    0)
		return false;
	return x.port == y.port && ip_addr_eq(&x.addr, &y.addr);
}
bool quic_io_path_is_virtual(const struct quic_endpoint *ep,
			     const ngtcp2_path *p)
{
	return ep->has_virtual &&
	       sa_eq(p->local.addr, p->local.addrlen, &ep->vlocal,
		     ep->vlocallen);
}

void quic_io_path(ngtcp2_path *p, struct sockaddr_storage *local,
		  socklen_t locallen, struct sockaddr_storage *remote,
		    socklen_t remotelen)
{
	p->local.addr = (ngtcp2_sockaddr *)local;
	p->local.addrlen = locallen;
	p->remote.addr = (ngtcp2_sockaddr *)remote;
	p->remote.addrlen = remotelen;
	p->user_data = NULL;
}

int quic_io_sockaddr(const struct quic_endpoint *ep,
		     const struct ip_endpoint *e, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	if (ip_endpoint_to_sockaddr(e, ss, len) < 0)
		return WEFT_ERR_INVAL;
	if (ss->ss_family == ep->local.ss_family ||
	    (ep->o.dual_stack && ss->ss_family == AF_INET))
		return 0;
	return WEFT_ERR_INVAL;
}

void quic_io_path_real(struct quic_endpoint *ep, ngtcp2_path *p,
		       struct sockaddr_storage *remote, socklen_t remotelen)
{
	if (ep->o.dual_stack && remote->ss_family == AF_INET)
		quic_io_path(p, &ep->local4, sizeof(struct sockaddr_in), remote,
			     remotelen);
	else
		quic_io_path(p, &ep->local, ep->locallen, remote, remotelen);
}

/* Sets t's destination: sa as given, or IPv4-mapped when the socket is a
 * dual-stack IPv6 one and sa is IPv4. */
static void set_dest(const struct quic_endpoint *ep, struct txpkt *t,
		     const struct sockaddr *sa, socklen_t len)
{
	if (ep->o.dual_stack && sa->sa_family == AF_INET) {
		struct sockaddr_in s4;
		struct sockaddr_in6 s6;

		memcpy(&s4, sa, sizeof(s4));
		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_port = s4.sin_port;
		s6.sin6_addr.s6_addr[10] = 0xff;
		s6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6.sin6_addr.s6_addr[12], &s4.sin_addr, 4);
		memcpy(&t->to, &s6, sizeof(s6));
		t->tolen = sizeof(s6);
		return;
	}
	memcpy(&t->to, sa, len);
	t->tolen = len;
}

/* On a dual-stack socket, rewrites an IPv4-mapped source in place as the
 * plain IPv4 address ngtcp2's paths use. */
static void unmap_source(const struct quic_endpoint *ep,
			 struct sockaddr_storage *ss, socklen_t *len)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0,
					   0, 0, 0, 0, 0xff, 0xff};
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;

	if (!ep->o.dual_stack || ss->ss_family != AF_INET6 ||
	    *len < (socklen_t)sizeof(s6))
		return;
	memcpy(&s6, ss, sizeof(s6));
	if (memcmp(s6.sin6_addr.s6_addr, prefix, sizeof(prefix)) != 0)
		return;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = s6.sin6_port;
	memcpy(&s4.sin_addr, &s6.sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
	*len = sizeof(s4);
}

/* Whether two queued packets go to the same address. */
static bool same_dest(const struct txpkt *a, const struct txpkt *b)
{
	return a->tolen == b->tolen && memcmp(&a->to, &b->to, a->tolen) == 0;
}

/* Whether t goes out as IPv4: to an IPv4 or an IPv4-mapped address (a
 * dual-stack socket sends those through the IPv4 stack, which reads
 * SOL_IP control messages). */
static bool dest_is_v4(const struct txpkt *t)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0,
					   0, 0, 0, 0, 0xff, 0xff};
	struct sockaddr_in6 s6;

	if (t->to.ss_family == AF_INET)
		return true;
	if (t->to.ss_family != AF_INET6 || t->tolen < sizeof(s6))
		return false;
	memcpy(&s6, &t->to, sizeof(s6));
	return memcmp(s6.sin6_addr.s6_addr, prefix, sizeof(prefix)) == 0;
}

/* Puts t's TTL on message h as a control message. */
static void set_ttl(struct msghdr *h, union gso_cmsg *cm,
		    const struct txpkt *t)
{
	struct cmsghdr *c;
	int v = t->ttl;

	memset(cm, 0, sizeof(*cm));
	h->msg_control = cm->buf;
	h->msg_controllen = sizeof(cm->buf);
	c = CMSG_FIRSTHDR(h);
	if (dest_is_v4(t)) {
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_TTL;
	} else {
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_HOPLIMIT;
	}
	c->cmsg_len = CMSG_LEN(sizeof(v));
	memcpy(CMSG_DATA(c), &v, sizeof(v));
}

/* Fills m with the messages for tx[from..ntx): with GSO, each run of
 * packets to one destination with equal sizes (the last may be shorter)
 * becomes one message that the kernel cuts at UDP_SEGMENT; without, one
 * packet per message. first[k] is message k's first packet. Returns the
 * number of messages. */
static unsigned build_msgs(struct quic_endpoint *ep, unsigned from,
			   struct mmsghdr *m, struct iovec *iov,
			   union gso_cmsg *cm, unsigned *first)
{
	unsigned i, j, nm = 0;

	for (i = from; i < ep->ntx; i++) {
		iov[i].iov_base = ep->tx[i].d;
		iov[i].iov_len = ep->tx[i].len;
	}
	for (i = from; i < ep->ntx; i = j) {
		struct msghdr *h = &m[nm].msg_hdr;
		size_t seg = ep->tx[i].len, total = seg;

		/* A packet with its own TTL travels alone. */
		for (j = i + 1; ep->gso && !ep->tx[i].ttl && j < ep->ntx; j++) {
			if (!same_dest(&ep->tx[i], &ep->tx[j]) || ep->tx[j].ttl ||
			    ep->tx[j - 1].len != seg || ep->tx[j].len > seg ||
			    total + ep->tx[j].len > GSO_MAX_BYTES)
				break;
			total += ep->tx[j].len;
		}
		if (j == i)
			j = i + 1;
		memset(&m[nm], 0, sizeof(m[nm]));
		h->msg_name = &ep->tx[i].to;
		h->msg_namelen = ep->tx[i].tolen;
		h->msg_iov = &iov[i];
		h->msg_iovlen = j - i;
		if (j - i > 1) {
			struct cmsghdr *c;
			uint16_t v = (uint16_t)seg;

			memset(&cm[nm], 0, sizeof(cm[nm]));
			h->msg_control = cm[nm].buf;
			h->msg_controllen = sizeof(cm[nm].buf);
			c = CMSG_FIRSTHDR(h);
			c->cmsg_level = IPPROTO_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(v));
			memcpy(CMSG_DATA(c), &v, sizeof(v));
		} else if (ep->tx[i].ttl) {
			set_ttl(h, &cm[nm], &ep->tx[i]);
		}
		first[nm++] = i;
	}
	return nm;
}

void quic_io_flush(struct quic_endpoint *ep)
{
	struct mmsghdr m[TX_BATCH];
	struct iovec iov[TX_BATCH];
	union gso_cmsg cm[TX_BATCH];
	unsigned first[TX_BATCH];
	unsigned from = 0, nm, done, k;
	int n;

	while (from < ep->ntx) {
		nm = build_msgs(ep, from, m, iov, cm, first);
		from = ep->ntx;
		/* Best effort: a full socket buffer drops the rest, which
		 * QUIC's loss recovery handles like any other loss. */
		for (done = 0; done < nm;) {
			n = sendmmsg(ep->fd, m + done, nm - done, MSG_DONTWAIT);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && m[done].msg_hdr.msg_iovlen > 1 &&
			    (errno == EIO || errno == EINVAL ||
			     errno == ENOPROTOOPT)) {
				/* The kernel or the device cannot segment
				 * (EIO: no checksum offload): stop using GSO
				 * and send this message's packets and the
				 * rest one by one. */
				ep->gso = false;
				from = first[done];
				break;
			}
			if (n <= 0) {
				/* Skip the message that failed (e.g.
				 * unreachable). */
				done++;
				continue;
			}
			for (k = done; k < done + (unsigned)n; k++) {
				if (m[k].msg_hdr.msg_iovlen > 1)
					ep->st.gso_sends++;
				ep->st.udp_sent += m[k].msg_hdr.msg_iovlen;
			}
			ep->st.udp_send_msgs += (unsigned)n;
			done += (unsigned)n;
		}
	}
	ep->ntx = 0;
}

/* Sends one packet on path: to the virtual hook or into the batch. */
void quic_io_send(struct quic_endpoint *ep, struct quic_conn *c,
		  const ngtcp2_path *path, const uint8_t *d, size_t n)
{
	struct txpkt *t;
	struct ip_endpoint to;

	if (c) {
		c->st.pkts_sent++;
		c->st.bytes_sent += n;
	}
	if (quic_io_path_is_virtual(ep, path)) {
		if (ep->o.send_virtual &&
		    ip_endpoint_from_sockaddr(path->remote.addr,
					      path->remote.addrlen, &to) == 0)
			ep->o.send_virtual(ep, c, &to, d, n, ep->o.ctx);
		return;
	}
	if (n > TX_BUFSZ || path->remote.addrlen > sizeof(t->to))
		return;
	if (ep->ntx == TX_BATCH)
		quic_io_flush(ep);
	t = &ep->tx[ep->ntx++];
	set_dest(ep, t, path->remote.addr, path->remote.addrlen);
	memcpy(t->d, d, n);
	t->len = n;
	t->ttl = 0;
}

/* The segment size of a message that UDP GRO built from several
 * datagrams, or 0 for a single datagram. */
static size_t gro_segment(struct msghdr *h)
{
	struct cmsghdr *c;
	int v;

	for (c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(v))) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v > 0 ? (size_t)v : 0;
		}
	}
	return 0;
}

/* Feeds one received message to quic_ep_input: with UDP GRO it holds
 * datagrams of seg bytes each, the last one possibly shorter. */
static void input_message(struct quic_endpoint *ep, unsigned i)
{
	struct msghdr *h = &ep->rxm[i].msg_hdr;
	const uint8_t *d = ep->rxbuf + (size_t)i * ep->rxbufsz;
	size_t len = ep->rxm[i].msg_len, seg = gro_segment(h), off;
	ngtcp2_path path;

	if (h->msg_flags & MSG_TRUNC)
		return;
	ep->st.udp_recv_msgs++;
	ep->st.udp_recv += seg && seg < len ? (len + seg - 1) / seg : 1;
	unmap_source(ep, &ep->rxfrom[i], &h->msg_namelen);
	quic_io_path_real(ep, &path, &ep->rxfrom[i], h->msg_namelen);
	if (!seg || seg >= len) {
		quic_ep_input(ep, &path, d, len);
		return;
	}
	ep->st.gro_recvs++;
	for (off = 0; off < len; off += seg)
		quic_ep_input(ep, &path, d + off,
			      len - off < seg ? len - off : seg);
}

static void read_batches(struct quic_endpoint *ep, int fd)
{
	int round, n, i;

	for (round = 0; round < RX_ROUNDS; round++) {
		for (i = 0; i < RX_BATCH; i++) {
			struct msghdr *h = &ep->rxm[i].msg_hdr;

			h->msg_namelen = sizeof(ep->rxfrom[i]);
			h->msg_control = ep->gro ? ep->rxcm[i].buf : NULL;
			h->msg_controllen = ep->gro ? sizeof(ep->rxcm[i].buf)
						    : 0;
			h->msg_flags = 0;
			ep->rxm[i].msg_len = 0;
		}
		n = recvmmsg(fd, ep->rxm, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		/* Raw datagrams sent while handling one batch (a relay
		 * forwarding frames, acknowledgements on a relayed path)
		 * leave together in one sendmmsg/GSO flush after it. */
		quic_endpoint_cork(ep);
		for (i = 0; i < n; i++)
			input_message(ep, (unsigned)i);
		quic_endpoint_uncork(ep);
		if (n < RX_BATCH)
			return;
	}
}

static void on_readable(struct loop_io *io, int fd, uint32_t revents,
			void *ctx)
{
	struct quic_endpoint *ep = ctx;

	(void)io;
	(void)revents;
	read_batches(ep, fd);
}

/* Gives every receive message its buffer (rxbufsz bytes each). */
static int alloc_rx(struct quic_endpoint *ep)
{
	int i;

	ep->rxbufsz = ep->gro ? RX_GRO_BUFSZ : RX_BUFSZ;
	ep->rxbuf = malloc(RX_BATCH * ep->rxbufsz);
	if (!ep->rxbuf)
		return WEFT_ERR_NOMEM;
	for (i = 0; i < RX_BATCH; i++) {
		ep->rxiov[i].iov_base = ep->rxbuf + (size_t)i * ep->rxbufsz;
		ep->rxiov[i].iov_len = ep->rxbufsz;
		ep->rxm[i].msg_hdr.msg_iov = &ep->rxiov[i];
		ep->rxm[i].msg_hdr.msg_iovlen = 1;
		ep->rxm[i].msg_hdr.msg_name = &ep->rxfrom[i];
	}
	return 0;
}

int quic_io_open(struct quic_endpoint *ep, const struct sockaddr_storage *ss,
		 socklen_t sslen)
{
	int one = 1, zero = 0, bufsz = 4 << 20;

	ep->tx = calloc(TX_BATCH, sizeof(*ep->tx));
	if (!ep->tx)
		return WEFT_ERR_NOMEM;
	ep->fd = socket(ss->ss_family,
			SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ep->fd < 0)
		return -errno;
	if (ss->ss_family == AF_INET6) {
		int v6only = ep->o.dual_stack ? 0 : 1;

		if (setsockopt(ep->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			       sizeof(v6only)) < 0 &&
		    ep->o.dual_stack)
			return -errno;
	}
	if (ep->o.fwmark && setsockopt(ep->fd, SOL_SOCKET, SO_MARK,
				       &ep->o.fwmark, sizeof(ep->o.fwmark)) < 0)
		return -errno;
	/* One socket carries every connection (and, on a relay, every
	 * forwarded frame): the default ~200 KB buffers overflow on the first
	 * burst. Ask for more; the *FORCE variants pass rmem_max/wmem_max
	 * when we have CAP_NET_ADMIN, the plain ones are capped by them. */
	if (setsockopt(ep->fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
		       sizeof(bufsz)) < 0)
		setsockopt(ep->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (setsockopt(ep->fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz,
		       sizeof(bufsz)) < 0)
		setsockopt(ep->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (bind(ep->fd, (const struct sockaddr *)ss, sslen) < 0)
		return -errno;
	ep->locallen = sizeof(ep->local);
	if (getsockname(ep->fd, (struct sockaddr *)&ep->local, &ep->locallen) <
	    0)
		return -errno;
	if (ep->o.dual_stack) {
		struct sockaddr_in s4 = {.sin_family = AF_INET};

		s4.sin_port = ((struct sockaddr_in6 *)&ep->local)->sin6_port;
		memcpy(&ep->local4, &s4, sizeof(s4));
	}
	/* GSO where the kernel knows UDP_SEGMENT (Linux 4.18); setting the
	 * socket default to 0 changes nothing but tells us. Whether the
	 * device can do it shows at the first send (see quic_io_flush). */
	if (!ep->o.no_gso && setsockopt(ep->fd, IPPROTO_UDP, UDP_SEGMENT,
					&zero, sizeof(zero)) == 0)
		ep->gso = true;
	/* GRO where the kernel knows UDP_GRO (Linux 5.0): a GSO burst from a
	 * peer then arrives as one message instead of being cut up in the
	 * kernel (docs/internals/quic.md). */
	if (!ep->o.no_gro && setsockopt(ep->fd, IPPROTO_UDP, UDP_GRO, &one,
					sizeof(one)) == 0)
		ep->gro = true;
	return alloc_rx(ep);
}

int quic_io_start(struct quic_endpoint *ep)
{
	return loop_io_add(ep->loop, ep->fd, LOOP_READ, on_readable, ep,
			   &ep->io);
}

void quic_io_close(struct quic_endpoint *ep)
{
	quic_io_flush(ep);
	if (ep->io)
		loop_io_close(ep->io, true);
	else if (ep->fd >= 0)
		close(ep->fd);
	ep->io = NULL;
	ep->fd = -1;
	free(ep->rxbuf);
	free(ep->tx);
	ep->rxbuf = NULL;
	ep->tx = NULL;
}

int quic_endpoint_send_raw(struct quic_endpoint *ep,
			   const struct ip_endpoint *to, const void *data,
			   size_t len)
{
	return quic_endpoint_send_raw_ttl(ep, to, data, len, 0);
}

int quic_endpoint_send_raw_ttl(struct quic_endpoint *ep,
			       const struct ip_endpoint *to, const void *data,
			       size_t len, uint8_t ttl)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct txpkt *t;

	if (!len || len > TX_BUFSZ || (((const uint8_t *)data)[0] & 0xc0) ||
	    quic_io_sockaddr(ep, to, &ss, &sslen) < 0)
		return WEFT_ERR_INVAL;
	if (ep->ntx == TX_BATCH)
		quic_io_flush(ep);
	t = &ep->tx[ep->ntx++];
	set_dest(ep, t, (const struct sockaddr *)&ss, sslen);
	memcpy(t->d, data, len);
	t->len = len;
	t->ttl = ttl;
	quic_io_push(ep);
	return 0;
}

void quic_io_push(struct quic_endpoint *ep)
{
	if (!ep->cork)
		quic_io_flush(ep);
}

void quic_endpoint_cork(struct quic_endpoint *ep)
{
	ep->cork++;
}

void quic_endpoint_uncork(struct quic_endpoint *ep)
{
	if (ep->cork && --ep->cork == 0 && ep->ntx)
		quic_io_flush(ep);
}
