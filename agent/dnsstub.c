/* The stub DNS server (agent/dnsstub.h): sockets, forwarding and the
 * glue between the codec (shared/dnswire.h), the answers from the map
 * (agent/dnsanswer.h) and the cache (agent/dnscache.h). */
#include "agent/dnsstub.h"

#include "agent/dnsanswer.h"
#include "agent/dnsfile.h"
#include "agent/dnsplan.h"
#include "agent/dnscache.h"
#include "agent/dnsttl.h"
#include "agent/listenpause.h"
#include "agent/resclient.h"
#include "agent/resnames.h"
#include "shared/be.h"
#include "shared/dnswire.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/rand.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MSG_MAX 65535
#define TCP_HDR 2

struct tconn;

/* Who asked: a UDP source or a TCP connection. */
struct client {
	struct tconn *tc;             /* NULL: UDP */
	int ufd;
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t id;
	size_t max;                   /* largest UDP answer */
};

/* One forward in flight. */
struct pending {
	struct dnsstub *s;
	struct pending *prev, *next;
	struct client cl;
	struct dns_msg q;
	uint8_t *query;               /* the client's query, our id */
	size_t qlen;
	struct ip_endpoint up[DNS_MAX_UPSTREAMS];
	size_t nup, tries;
	uint16_t id;
	int fd;
	bool tcp;
	struct loop_io *io;
	struct loop_timer *timer;
	uint8_t *rbuf;                /* TCP: the answer being read */
	size_t rlen;
};

struct tconn {
	struct dnsstub *s;
	struct tconn *prev, *next;
	int fd;
	struct loop_io *io;
	struct loop_timer *idle;
	uint8_t in[TCP_HDR + MSG_MAX];
	size_t inlen;
	uint8_t *out;
	size_t outlen, outoff;
	struct pending *busy;         /* the query being answered */
	int64_t last_us;              /* accepted or last query */
};

struct dnsstub {
	struct loop *loop;
	const struct map *map;
	struct ip_endpoint listen[DNSSTUB_LISTEN_MAX];
	size_t nlisten;
	struct ip_endpoint host[DNS_MAX_UPSTREAMS];
	size_t nhost;
	bool loopback_loops;
	bool fixed;                   /* listen from the config */
	struct resclient *res;        /* wildcard names; NULL: forwarded */
	int ufd[DNSSTUB_LISTEN_MAX], lfd[DNSSTUB_LISTEN_MAX];
	struct loop_io *uio[DNSSTUB_LISTEN_MAX], *lio[DNSSTUB_LISTEN_MAX];
	struct listenpause *lpause[DNSSTUB_LISTEN_MAX]; /* TCP back-off */
	struct dnscache *cache;
	size_t npending, ntcp;
	struct pending *pendings;
	struct tconn *tconns;
	struct dnsstub_stats st;
	int64_t log_sec;
	unsigned log_count;
	uint8_t buf[MSG_MAX];
};

/* At most a few lines a second about bad input. */
static bool log_ok(struct dnsstub *s)
{
	int64_t sec = loop_now_us(s->loop) / 1000000;

	if (sec != s->log_sec) {
		s->log_sec = sec;
		s->log_count = 0;
	}
	return s->log_count++ < 3;
}

static void tconn_close(struct tconn *c);
/* Both lists are doubly linked through prev/next with a head pointer. */
#define LIST_ADD(head, e) do { (e)->next = (head); if (head) (head)->prev = (e); (head) = (e); } while (0)
#define LIST_DEL(head, e) do { if ((e)->prev) (e)->prev->next = (e)->next; else (head) = (e)->next; if ((e)->next) (e)->next->prev = (e)->prev; } while (0)
static void tconn_next(struct tconn *c);

static void send_udp(struct dnsstub *s, const struct client *cl,
		     const uint8_t *msg, size_t len)
{
	(void)s;
	if (sendto(cl->ufd, msg, len, MSG_DONTWAIT,
		   (const struct sockaddr *)&cl->ss, cl->sl) < 0 &&
	    log_enabled(LOG_LEVEL_DEBUG))
		log_debug("dns_send_failed", "errno=%d", errno);
}

static void send_tcp(struct tconn *c, const uint8_t *msg, size_t len)
{
	free(c->out);
	c->out = malloc(TCP_HDR + len);
	if (!c->out)
		return; /* the client times out and retries */
	be_put16(c->out, (uint16_t)len);
	memcpy(c->out + TCP_HDR, msg, len);
	c->outlen = TCP_HDR + len;
	c->outoff = 0;
	loop_io_set(c->io, LOOP_WRITE);
}

/* Sends msg (len bytes, with the client's id already in it) to cl; over
 * UDP an answer beyond the client's size goes as header and question
 * with TC set. */
static void reply(struct dnsstub *s, const struct client *cl,
		  const struct dns_msg *q, uint8_t *msg, size_t len)
{
	if (cl->tc) {
		send_tcp(cl->tc, msg, len);
		return;
	}
	if (len > cl->max) {
		struct dns_reply r = {.rcode = DNS_RCODE_NOERROR,
				      .max_size = cl->max,
				      .edns_udp_size = DNSWIRE_UDP_MIN};
		int n = dnswire_response_build(q, &r, s->buf, sizeof(s->buf));

		if (n < 0)
			return;
		s->buf[2] |= 0x02; /* TC */
		s->st.truncated++;
		msg = s->buf;
		len = (size_t)n;
	}
	send_udp(s, cl, msg, len);
}

static void count_rcode(struct dnsstub *s, const uint8_t *msg, size_t len)
{
	uint8_t rc = len >= 4 ? msg[3] & 0x0f : 0;

	if (rc == DNS_RCODE_NXDOMAIN)
		s->st.nxdomain++;
	else if (rc == DNS_RCODE_SERVFAIL)
		s->st.servfail++;
}

static void answer_rcode(struct dnsstub *s, const struct client *cl,
			 const struct dns_msg *q, uint16_t rcode)
{
	struct dns_reply r = {.rcode = rcode, .max_size = cl->max,
			      .edns_udp_size = 1232};
	uint8_t out[DNSWIRE_HEADER_LEN + DNSWIRE_NAME_MAX + 64];
	int n = dnswire_response_build(q, &r, out, sizeof(out));

	if (n < 0)
		return;
	count_rcode(s, out, (size_t)n);
	reply(s, cl, q, out, (size_t)n);
}

/* ---- forwarding ---- */

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	if (p->cl.tc)
		p->cl.tc->busy = NULL;
	loop_io_close(p->io, true);
	loop_timer_del(p->timer);
	p->s->npending--;
	LIST_DEL(p->s->pendings, p);
	free(p->query);
	free(p->rbuf);
	free(p);
}

static void pending_done(struct pending *p, uint8_t *msg, size_t len)
{
	struct dnsstub *s = p->s;
	struct tconn *tc = p->cl.tc;

	if (msg) {
		be_put16(msg, p->cl.id);
		count_rcode(s, msg, len);
		reply(s, &p->cl, &p->q, msg, len);
	} else {
		s->st.upstream_failures++;
		answer_rcode(s, &p->cl, &p->q, DNS_RCODE_SERVFAIL);
	}
	pending_free(p);
	if (tc && !tc->out)
		tconn_next(tc);
}

static void keep(struct dnsstub *s, const struct pending *p,
		 const uint8_t *msg, size_t len)
{
	uint16_t offs[DNSCACHE_TTLS_MAX];
	struct dnsttl t = {.offs = offs, .max = DNSCACHE_TTLS_MAX};
	uint8_t rc = msg[3] & 0x0f;
	struct dnscache_put cp = {
		.name = p->q.questions[0].name,
		.type = p->q.questions[0].type,
		.qclass = p->q.questions[0].qclass,
		.msg = msg, .len = len, .ttl_offsets = offs,
	};

	if ((rc != DNS_RCODE_NOERROR && rc != DNS_RCODE_NXDOMAIN) ||
	    (msg[2] & 0x02) || dnsttl_scan(msg, len, &t) < 0)
		return;
	cp.nttl = t.n;
	if (rc == DNS_RCODE_NOERROR && t.nanswers) {
		cp.ttl = t.min_answer_ttl;
	} else {
		cp.ttl = dnscache_neg_ttl(t.has_soa, t.soa_ttl, t.soa_minimum);
		cp.negative = 1;
	}
	dnscache_put(s->cache, &cp, loop_now_us(s->loop) / 1000);
}

static void up_io(struct loop_io *io, int fd, uint32_t ev, void *ctx);
static int up_send(struct pending *p);

static void up_timeout(struct loop_timer *t, void *ctx)
{
	struct pending *p = ctx;

	(void)t;
	p->s->st.upstream_timeouts++;
	if (++p->tries >= DNSSTUB_UP_TRIES || up_send(p) < 0)
		pending_done(p, NULL, 0);
}

/* Sends the query to the next upstream (UDP, or TCP when p->tcp). */
static int up_send(struct pending *p)
{
	const struct ip_endpoint *e = &p->up[p->tries % p->nup];
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	loop_io_close(p->io, true);
	p->io = NULL;
	p->rlen = 0;
	if (ip_endpoint_to_sockaddr(e, &ss, &sl) < 0)
		return WEFT_ERR_INVAL;
	fd = socket(ss.ss_family, (p->tcp ? SOCK_STREAM : SOCK_DGRAM) |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if ((connect(fd, (struct sockaddr *)&ss, sl) < 0 &&
	     errno != EINPROGRESS) ||
	    loop_io_add(p->s->loop, fd, p->tcp ? LOOP_WRITE : LOOP_READ,
			up_io, p, &p->io) < 0) {
		close(fd);
		return WEFT_ERR_CLOSED;
	}
	p->fd = fd;
	if (!p->tcp && send(fd, p->query, p->qlen, 0) < 0)
		return -errno;
	loop_timer_start(p->timer, DNSSTUB_UP_TIMEOUT_MS * 1000);
	return 0;
}

/* An upstream's answer: ours (id, question) or ignored. */
static void up_answer(struct pending *p, uint8_t *msg, size_t len)
{
	struct dns_msg m;

	if (dnswire_parse(msg, len, &m) < 0 || !m.qr || m.id != p->id ||
	    m.n_questions != 1 ||
	    strcmp(m.questions[0].name, p->q.questions[0].name) ||
	    m.questions[0].type != p->q.questions[0].type)
		return;
	if (m.tc && !p->tcp) {
		/* Truncated: ask the same upstream over TCP. */
		p->s->st.tcp_fallback++;
		p->tcp = true;
		if (up_send(p) < 0)
			pending_done(p, NULL, 0);
		return;
	}
	keep(p->s, p, msg, len);
	pending_done(p, msg, len);
}

static void up_tcp(struct pending *p, uint32_t ev)
{
	ssize_t n;

	if (ev & LOOP_WRITE) {
		uint8_t hdr[TCP_HDR];
		struct iovec iov[2] = {{hdr, TCP_HDR}, {p->query, p->qlen}};
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

		be_put16(hdr, (uint16_t)p->qlen);
		/* A query fits any fresh socket buffer: one send. */
		if (sendmsg(p->fd, &mh, MSG_NOSIGNAL) !=
		    (ssize_t)(TCP_HDR + p->qlen)) {
			up_timeout(p->timer, p);
			return;
		}
		loop_io_set(p->io, LOOP_READ);
		return;
	}
	if (!p->rbuf && !(p->rbuf = malloc(TCP_HDR + MSG_MAX))) {
		pending_done(p, NULL, 0);
		return;
	}
	n = recv(p->fd, p->rbuf + p->rlen, TCP_HDR + MSG_MAX - p->rlen, 0);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		up_timeout(p->timer, p);
		return;
	}
	p->rlen += (size_t)n;
	if (p->rlen >= TCP_HDR &&
	    p->rlen >= TCP_HDR + (size_t)be_get16(p->rbuf)) {
		uint8_t *msg = p->rbuf + TCP_HDR;
		size_t len = be_get16(p->rbuf);

		up_answer(p, msg, len);
	}
}

static void up_io(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct pending *p = ctx;
	struct dnsstub *s = p->s;
	ssize_t n;

	(void)io;
	if (p->tcp) {
		up_tcp(p, ev);
		return;
	}
	n = recv(fd, s->buf, sizeof(s->buf), 0);
	if (n > 0)
		up_answer(p, s->buf, (size_t)n);
}

static void forward(struct dnsstub *s, const struct client *cl,
		    const struct dns_msg *q, const uint8_t *query, size_t qlen,
		    const struct dnsanswer *a)
{
	struct pending *p;
	uint64_t r = 0;

	if (s->npending >= DNSSTUB_PENDING_MAX) {
		answer_rcode(s, cl, q, DNS_RCODE_SERVFAIL);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->query = malloc(qlen)) ||
	    loop_timer_new(s->loop, up_timeout, p, &p->timer) < 0) {
		if (p)
			free(p->query);
		free(p);
		answer_rcode(s, cl, q, DNS_RCODE_SERVFAIL);
		return;
	}
	s->npending++;
	LIST_ADD(s->pendings, p);
	s->st.forwarded++;
	p->s = s;
	p->cl = *cl;
	p->q = *q;
	memcpy(p->query, query, qlen);
	p->qlen = qlen;
	memcpy(p->up, a->up, a->nup * sizeof(a->up[0]));
	p->nup = a->nup;
	rand_u64(&r);
	p->id = (uint16_t)r;
	be_put16(p->query, p->id);
	if (cl->tc)
		cl->tc->busy = p;
	if (up_send(p) < 0) {
		p->tries++;
		if (p->tries >= DNSSTUB_UP_TRIES || up_send(p) < 0)
			pending_done(p, NULL, 0);
	}
}

/* ---- queries ---- */

static void answer_local(struct dnsstub *s, const struct client *cl,
			 const struct dns_msg *q, const struct dnsanswer *a)
{
	struct dns_answer rr[DNSANSWER_MAX_RR];
	struct dns_reply r = {.rcode = (uint16_t)a->rcode, .answers = rr,
			      .n_answers = a->nrr, .max_size = cl->max,
			      .edns_udp_size = 1232};
	int n;

	for (size_t i = 0; i < a->nrr; i++) {
		memset(&rr[i], 0, sizeof(rr[i]));
		memcpy(rr[i].name, q->questions[0].name, DNSWIRE_NAME_MAX);
		rr[i].type = a->rr[i].type;
		rr[i].ttl = a->ttl;
		rr[i].addr = a->rr[i].addr;
		snprintf(rr[i].target, sizeof(rr[i].target), "%s",
			 a->rr[i].ptr);
	}
	n = dnswire_response_build(q, &r, s->buf, sizeof(s->buf));
	if (n < 0)
		return;
	if (s->buf[2] & 0x02)
		s->st.truncated++;
	count_rcode(s, s->buf, (size_t)n);
	reply(s, cl, q, s->buf, (size_t)n);
}

/* A query that does not parse: FORMERR when it has a query header. */
static void malformed(struct dnsstub *s, const struct client *cl,
		      const uint8_t *msg, size_t len, int rc)
{
	uint8_t out[DNSWIRE_HEADER_LEN] = {0};

	s->st.malformed++;
	if (log_ok(s))
		log_info("dns_malformed_query", "len=%zu err=%s", len,
			 weft_strerror(rc));
	if (len < DNSWIRE_HEADER_LEN || (msg[2] & 0x80))
		return;
	memcpy(out, msg, 2);
	out[2] = 0x80 | (msg[2] & 0x79); /* QR, opcode, RD */
	out[3] = DNS_RCODE_FORMERR;
	reply(s, cl, NULL, out, sizeof(out));
}

/* A name under a wildcard resource: the address resclient gives it,
 * which also tells the resource's connector (dnsanswer_wildcard_fn). */
static int wildcard_addr(void *ctx, const char *name, struct ip_addr *v4,
			 struct ip_addr *v6)
{
	struct dnsstub *s = ctx;
	struct resnames_hit h;
	int rc = resclient_resolve(s->res, s->map, name, &h);
	char q[300];

	if (rc < 0) {
		if (log_ok(s))
			log_warn_err(rc, "dns_wildcard_failed", "name=%s",
				     log_q(q, sizeof(q), name));
		return rc;
	}
	*v4 = h.v4;
	*v6 = h.v6;
	return 0;
}

static void handle(struct dnsstub *s, struct client *cl, const uint8_t *msg,
		   size_t len)
{
	struct dnsanswer_cfg cfg = {
		.host = s->host, .nhost = s->nhost, .listen = s->listen,
		.nlisten = s->nlisten, .loopback_loops = s->loopback_loops,
		.wildcard = s->res ? wildcard_addr : NULL, .wildcard_ctx = s,
	};
	struct dns_msg q;
	struct dnsanswer a;
	size_t n;
	int rc = dnswire_parse(msg, len, &q);

	s->st.queries++;
	if (rc < 0 || q.qr || q.n_questions != 1) {
		malformed(s, cl, msg, len, rc < 0 ? rc : WEFT_ERR_PROTO);
		return;
	}
	cl->id = q.id;
	if (!cl->tc)
		cl->max = q.edns && q.edns_udp_size > DNSWIRE_UDP_MIN ?
			q.edns_udp_size : DNSWIRE_UDP_MIN;
	if (q.opcode != 0 || q.questions[0].qclass != DNS_CLASS_IN) {
		answer_rcode(s, cl, &q, DNS_RCODE_NOTIMP);
		return;
	}
	if (dnsanswer_lookup(s->map, &cfg, q.questions[0].name,
			     q.questions[0].type, &a) < 0) {
		answer_rcode(s, cl, &q, DNS_RCODE_FORMERR);
		return;
	}
	if (a.nloops)
		s->st.loops++;
	if (a.action == DNSANSWER_LOCAL) {
		s->st.local++;
		if (a.rcode == DNSANSWER_RCODE_SERVFAIL &&
		    strcmp(a.reason, "wildcard") && log_ok(s))
			log_warn("dns_no_upstream", "reason=%s", a.reason);
		answer_local(s, cl, &q, &a);
		return;
	}
	if (dnscache_get(s->cache, q.questions[0].name, q.questions[0].type,
			 q.questions[0].qclass, loop_now_us(s->loop) / 1000,
			 s->buf, sizeof(s->buf), &n) == 0) {
		s->st.cache_hits++;
		be_put16(s->buf, q.id);
		count_rcode(s, s->buf, n);
		reply(s, cl, &q, s->buf, n);
		return;
	}
	forward(s, cl, &q, msg, len, &a);
}

static void udp_io(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct dnsstub *s = ctx;
	uint8_t in[MSG_MAX];

	(void)io;
	(void)ev;
	for (int i = 0; i < 64; i++) {
		struct client cl = {.ufd = fd, .sl = sizeof(cl.ss)};
		ssize_t n = recvfrom(fd, in, sizeof(in), MSG_DONTWAIT,
				     (struct sockaddr *)&cl.ss, &cl.sl);

		if (n < 0)
			return;
		handle(s, &cl, in, (size_t)n);
	}
}

/* ---- TCP clients ---- */

static void tconn_close(struct tconn *c)
{
	if (c->busy) {
		c->busy->cl.tc = NULL;
		c->busy->cl.ufd = -1;
	}
	c->s->ntcp--;
	LIST_DEL(c->s->tconns, c);
	loop_io_close(c->io, true);
	loop_timer_del(c->idle);
	free(c->out);
	free(c);
}

/* Answers the next whole query in the input, if any. */
static void tconn_next(struct tconn *c)
{
	size_t len;
	struct client cl = {.tc = c, .max = MSG_MAX};

	loop_io_set(c->io, LOOP_READ);
	if (c->inlen < TCP_HDR)
		return;
	len = be_get16(c->in);
	if (c->inlen < TCP_HDR + len)
		return;
	loop_timer_start(c->idle, DNSSTUB_TCP_IDLE_MS * 1000);
	c->last_us = loop_now_us(c->s->loop);
	handle(c->s, &cl, c->in + TCP_HDR, len);
	memmove(c->in, c->in + TCP_HDR + len, c->inlen - TCP_HDR - len);
	c->inlen -= TCP_HDR + len;
	if (c->busy || c->out)
		loop_io_set(c->io, c->out ? LOOP_WRITE : 0);
}

static void tconn_io(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct tconn *c = ctx;
	ssize_t n;

	(void)io;
	if (c->out) {
		n = send(fd, c->out + c->outoff, c->outlen - c->outoff,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN) {
			tconn_close(c);
			return;
		}
		if (n > 0 && (c->outoff += (size_t)n) == c->outlen) {
			free(c->out);
			c->out = NULL;
			tconn_next(c);
		}
		return;
	}
	if (!(ev & (LOOP_READ | LOOP_ERROR)) || c->busy)
		return;
	n = recv(fd, c->in + c->inlen, sizeof(c->in) - c->inlen,
		 MSG_DONTWAIT);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		tconn_close(c);
		return;
	}
	c->inlen += (size_t)n;
	tconn_next(c);
}

static void tconn_idle(struct loop_timer *t, void *ctx)
{
	(void)t;
	tconn_close(ctx);
}

/* At the cap, a new connection pushes out the one that has waited
 * longest without a query, unless every connection has a query in
 * flight or an answer being sent: idle and slow clients cannot keep
 * real ones out. Returns false when there is no room. */
static bool tconn_room(struct dnsstub *s)
{
	struct tconn *old = NULL;

	if (s->ntcp < DNSSTUB_TCP_MAX)
		return true;
	for (struct tconn *c = s->tconns; c; c = c->next)
		if (!c->busy && !c->out && (!old || c->last_us < old->last_us))
			old = c;
	if (!old) {
		s->st.tcp_refused++;
		return false;
	}
	s->st.tcp_evicted++;
	tconn_close(old);
	return true;
}

/* Takes one TCP client on cfd, or closes it when there is no room. */
static void tconn_take(struct dnsstub *s, int cfd)
{
	struct tconn *c;

	if (!tconn_room(s) || !(c = calloc(1, sizeof(*c)))) {
		close(cfd);
		return;
	}
	c->s = s;
	c->fd = cfd;
	if (loop_io_add(s->loop, cfd, LOOP_READ, tconn_io, c, &c->io) < 0 ||
	    loop_timer_new(s->loop, tconn_idle, c, &c->idle) < 0) {
		loop_io_close(c->io, false);
		close(cfd);
		free(c);
		return;
	}
	s->ntcp++;
	LIST_ADD(s->tconns, c);
	c->last_us = loop_now_us(s->loop);
	loop_timer_start(c->idle, DNSSTUB_TCP_IDLE_MS * 1000);
}

static void listen_io(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct dnsstub *s = ctx;
	int cfd;

	(void)fd;
	(void)ev;
	for (size_t i = 0; i < DNSSTUB_LISTEN_MAX; i++) {
		if (s->lio[i] != io)
			continue;
		while ((cfd = listenpause_accept(s->lpause[i])) >= 0)
			tconn_take(s, cfd);
		return;
	}
}

/* ---- life ---- */

static int bind_one(const struct ip_endpoint *e, int type)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd;

	if (ip_endpoint_to_sockaddr(e, &ss, &sl) < 0)
		return WEFT_ERR_INVAL;
	fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* The stub address may arrive on the TUN after we start. */
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static void stub_unbind(struct dnsstub *s)
{
	for (size_t i = 0; i < DNSSTUB_LISTEN_MAX; i++) {
		if (s->uio[i])
			loop_io_close(s->uio[i], true);
		else if (s->ufd[i] >= 0)
			close(s->ufd[i]);
		if (s->lio[i])
			loop_io_close(s->lio[i], true);
		else if (s->lfd[i] >= 0)
			close(s->lfd[i]);
		s->st.tcp_paused += listenpause_count(s->lpause[i]);
		listenpause_del(s->lpause[i]);
		s->lpause[i] = NULL;
		s->uio[i] = s->lio[i] = NULL;
		s->ufd[i] = s->lfd[i] = -1;
	}
}

/* The back-off of TCP listener i, named "dns/<address>" in the logs. */
static int listen_pause(struct dnsstub *s, size_t i)
{
	char what[IP_ENDPOINT_STRLEN + 8] = "dns/";

	ip_endpoint_format(&s->listen[i], what + 4, IP_ENDPOINT_STRLEN);
	return listenpause_new(s->loop, s->lio[i], s->lfd[i], what,
			       &s->lpause[i]);
}

/* Opens UDP and TCP on every address of s->listen. */
static int stub_bind(struct dnsstub *s)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < s->nlisten; i++) {
		if ((rc = bind_one(&s->listen[i], SOCK_DGRAM)) < 0)
			break;
		s->ufd[i] = rc;
		if ((rc = bind_one(&s->listen[i], SOCK_STREAM)) < 0)
			break;
		s->lfd[i] = rc;
		rc = loop_io_add(s->loop, s->ufd[i], LOOP_READ, udp_io, s,
				 &s->uio[i]);
		if (rc == 0)
			rc = loop_io_add(s->loop, s->lfd[i], LOOP_READ,
					 listen_io, s, &s->lio[i]);
		if (rc == 0)
			rc = listen_pause(s, i);
	}
	if (rc < 0)
		stub_unbind(s);
	return rc;
}

int dnsstub_new(const struct dnsstub_cfg *cfg, struct dnsstub **out)
{
	struct dnsstub *s;
	uint64_t seed = 0;
	int rc;

	if (cfg->nlisten > DNSSTUB_LISTEN_MAX ||
	    cfg->nhost > DNS_MAX_UPSTREAMS)
		return WEFT_ERR_INVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return WEFT_ERR_NOMEM;
	for (size_t i = 0; i < DNSSTUB_LISTEN_MAX; i++)
		s->ufd[i] = s->lfd[i] = -1;
	s->loop = cfg->loop;
	s->map = cfg->map;
	if (cfg->nlisten)
		memcpy(s->listen, cfg->listen,
		       cfg->nlisten * sizeof(*s->listen));
	s->nlisten = cfg->nlisten;
	s->fixed = cfg->nlisten > 0;
	if (cfg->nhost)
		memcpy(s->host, cfg->host, cfg->nhost * sizeof(*s->host));
	s->nhost = cfg->nhost;
	s->loopback_loops = cfg->loopback_loops;
	s->res = cfg->res;
	rand_u64(&seed);
	rc = dnscache_new(cfg->cache_entries ? cfg->cache_entries : 10000,
			  cfg->cache_bytes ? cfg->cache_bytes : 8u << 20, seed,
			  &s->cache);
	if (rc == 0)
		rc = stub_bind(s);
	if (rc < 0) {
		dnsstub_del(s);
		return rc;
	}
	*out = s;
	return 0;
}

void dnsstub_del(struct dnsstub *s)
{
	if (!s)
		return;
	stub_unbind(s);
	while (s->pendings)
		pending_free(s->pendings);
	while (s->tconns)
		tconn_close(s->tconns);
	dnscache_del(s->cache);
	free(s);
}

static bool same_addrs(const struct ip_endpoint *a,
		       const struct ip_endpoint *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!ip_addr_eq(&a[i].addr, &b[i].addr) || a[i].port != b[i].port)
			return false;
	return true;
}

/* Without fixed addresses the stub listens on the map's stub addresses,
 * port 53, and follows them. */
static void follow_stub_addrs(struct dnsstub *s)
{
	const struct map_dns *dns = map_dns(s->map);
	struct ip_endpoint want[2] = {{.port = DNS_PORT}, {.port = DNS_PORT}};
	size_t n = 0;
	int rc;

	if (s->fixed || !dns)
		return;
	if (dns->stub4.family)
		want[n++].addr = dns->stub4;
	if (dns->stub6.family)
		want[n++].addr = dns->stub6;
	if (n == s->nlisten && same_addrs(want, s->listen, n))
		return;
	stub_unbind(s);
	memcpy(s->listen, want, sizeof(want));
	s->nlisten = n;
	rc = stub_bind(s);
	if (rc < 0)
		log_error_err(rc, "dns_stub_bind_failed", NULL);
	else
		log_info("dns_stub_listening", "addresses=%zu", n);
}

void dnsstub_map_changed(struct dnsstub *s, const struct map_diff *diff)
{
	if (!s || !diff->dns)
		return;
	dnscache_flush(s->cache);
	follow_stub_addrs(s);
}

void dnsstub_stats(const struct dnsstub *s, struct dnsstub_stats *out)
{
	*out = s->st;
	out->tcp_conns = s->ntcp;
	for (size_t i = 0; i < DNSSTUB_LISTEN_MAX; i++)
		out->tcp_paused += listenpause_count(s->lpause[i]);
}

void dnsstub_set_loopback_loops(struct dnsstub *s, bool on)
{
	if (s && s->loopback_loops != on) {
		s->loopback_loops = on;
		log_info("dns_stub_loopback", "loops=%s note=\"loopback "
			 "upstreams %s\"", on ? "true" : "false",
			 on ? "are left out" : "are asked again");
	}
}

int dnsstub_start(struct loop *loop, const struct map *map,
		  struct resclient *res, const struct ip_endpoint *listen,
		  const char *resolv_conf, struct dnsstub **out)
{
	struct ip_addr ns[DNS_MAX_UPSTREAMS];
	struct ip_endpoint host[DNS_MAX_UPSTREAMS];
	char *text = resolv_conf ? dnsfile_read(resolv_conf) : NULL;
	size_t n = text ? dnsplan_nameservers(text, ns, DNS_MAX_UPSTREAMS) : 0;
	struct dnsstub_cfg cfg = {
		.loop = loop, .map = map, .listen = listen,
		.nlisten = listen && listen->port ? 1 : 0, .host = host,
		.nhost = n, .res = res,
	};
	int rc;

	free(text);
	for (size_t i = 0; i < n; i++) {
		host[i].addr = ns[i];
		host[i].port = DNS_PORT;
	}
	rc = dnsstub_new(&cfg, out);
	if (rc == 0)
		log_info("dns_stub_started", "host_resolvers=%zu fixed=%s", n,
			 cfg.nlisten ? "true" : "false");
	return rc;
}
