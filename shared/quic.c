#include "shared/quic.h"

#include "shared/enc.h"
#include "shared/err.h"
#include "shared/idmap.h"
#include "shared/loop.h"
#include "shared/rand.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCID_LEN 16
#define RX_BATCH 32
#define RX_BUFSZ 2048
#define RX_ROUNDS 8
#define TX_BATCH 32
#define TX_BUFSZ 1500
#define MAX_PKTS_PER_WRITE 64
#define DGRAM_QUEUE 128
#define DGRAM_SLOT NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE
#define CHUNK_SIZE 16384
#define SECRET_LEN 32
#define RETRY_TOKEN_TIMEOUT (10 * NGTCP2_SECONDS)

#define TLS_PRIORITY                                                         \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:"            \
	"+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:-GROUP-ALL:"           \
	"+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"                   \
	"%DISABLE_TLS13_COMPAT_MODE"

/* TLS alerts that mean "your certificate/key was refused". */
#define ALERT_BAD_CERTIFICATE 42
#define ALERT_UNSUPPORTED_CERTIFICATE 43
#define ALERT_CERTIFICATE_UNKNOWN 46
#define ALERT_ACCESS_DENIED 49
#define ALERT_CERTIFICATE_REQUIRED 116
#define ALERT_NO_APPLICATION_PROTOCOL 120

/* Stream send buffer: fixed chunks, because ngtcp2 keeps pointers to
 * sent data for retransmission until it is acknowledged, so bytes must
 * not move once handed over. */
struct chunk {
	struct chunk *next;
	size_t len;
	uint8_t d[CHUNK_SIZE];
};

struct qstream {
	int64_t id;
	struct chunk *head, *tail;
	uint64_t head_off; /* stream offset of head->d[0] */
	uint64_t acked;    /* everything below is acknowledged */
	uint64_t sent;     /* everything below was handed to ngtcp2 */
	uint64_t end;      /* everything below was written by the app */
	bool fin_pending, fin_sent, want_writable;
	unsigned blocked_gen;
};

struct dgram {
	uint16_t len;
	uint8_t d[DGRAM_SLOT];
};

struct cid_ent {
	struct cid_ent *next;
	struct quic_conn *c;
	uint8_t len;
	uint8_t b[NGTCP2_MAX_CIDLEN];
};

struct cidmap {
	struct cid_ent **b;
	size_t nb, n;
	uint64_t seed;
};

struct quic_conn {
	struct quic_endpoint *ep;
	struct quic_conn *prev, *next;
	ngtcp2_conn *nc;
	gnutls_session_t tls;
	ngtcp2_crypto_conn_ref ref;
	struct loop_timer *timer;
	struct quic_conn_callbacks cbs;
	void *ctx;
	bool server;
	bool dead;
	bool accepted;      /* server: on_accept ran; client: established */
	bool auth_failed;
	bool have_peer_key;
	bool close_pending;
	int in_cb;          /* depth of calls into ngtcp2 */
	unsigned ncids;     /* entries in the endpoint's cidmap */
	unsigned write_gen;
	uint8_t pin[IDENT_KEY_LEN];
	uint8_t peer_key[IDENT_KEY_LEN];
	char alpn[32];
	ngtcp2_cid initial_dcid; /* server: the client's first DCID */
	bool have_initial_dcid;
	uint64_t close_code;
	char close_reason[QUIC_REASON_MAX + 1];
	struct idmap streams; /* stream id + 1 -> struct qstream */
	struct dgram *dq;     /* ring of DGRAM_QUEUE, allocated on first use */
	unsigned dq_head, dq_n;
	uint64_t dgram_id;
	struct quic_conn_stats st;
};

struct txpkt {
	struct sockaddr_storage to;
	socklen_t tolen;
	size_t len;
	uint8_t d[TX_BUFSZ];
};

struct quic_endpoint {
	struct loop *loop;
	int fd;
	struct loop_io *io;
	struct loop_timer *reap;
	struct quic_endpoint_options o;
	char alpn_store[QUIC_MAX_ALPNS][32];
	unsigned nalpns;
	gnutls_certificate_credentials_t cred;
	struct sockaddr_storage local;
	socklen_t locallen;
	struct sockaddr_storage vlocal;
	socklen_t vlocallen;
	bool has_virtual;
	bool creating; /* inside ngtcp2_conn_*_new, see cb_rand */
	struct cidmap cids;
	struct quic_conn *conns; /* live and dead, until reaped */
	unsigned nlive;
	uint8_t secret[SECRET_LEN];
	struct quic_endpoint_stats est;
	/* receive batch */
	struct mmsghdr rxm[RX_BATCH];
	struct iovec rxiov[RX_BATCH];
	struct sockaddr_storage rxfrom[RX_BATCH];
	uint8_t (*rxbuf)[RX_BUFSZ];
	/* send batch */
	struct txpkt *tx;
	unsigned ntx;
};

static void conn_write(struct quic_conn *c);
static void conn_fail(struct quic_conn *c, int liberr);

/* ---- small helpers ---- */

static ngtcp2_tstamp now_ts(const struct quic_endpoint *ep)
{
	return (ngtcp2_tstamp)loop_now_us(ep->loop) * NGTCP2_MICROSECONDS;
}

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

static bool path_is_virtual(const struct quic_endpoint *ep,
			    const ngtcp2_path *p)
{
	return ep->has_virtual &&
	       sa_eq(p->local.addr, p->local.addrlen, &ep->vlocal,
		     ep->vlocallen);
}

/* Copies text into a bounded NUL-terminated buffer of printable ASCII. */
static void copy_reason(char *dst, const uint8_t *src, size_t n)
{
	size_t i;

	if (n > QUIC_REASON_MAX)
		n = QUIC_REASON_MAX;
	for (i = 0; i < n; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	dst[n] = '\0';
}

static int gen_cid(ngtcp2_cid *cid, size_t len)
{
	uint8_t b[NGTCP2_MAX_CIDLEN];

	if (rand_bytes(b, len) < 0)
		return WEFT_ERR_CRYPTO;
	ngtcp2_cid_init(cid, b, len);
	return 0;
}

/* ---- connection ID map (chained, keyed hash) ---- */

static uint64_t cid_hash(const struct cidmap *m, const uint8_t *b, size_t n)
{
	uint64_t h = m->seed ^ 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static struct quic_conn *cidmap_get(const struct cidmap *m, const uint8_t *b,
				    size_t n)
{
	struct cid_ent *e;

	if (!m->nb)
		return NULL;
	for (e = m->b[cid_hash(m, b, n) & (m->nb - 1)]; e; e = e->next)
		if (e->len == n && memcmp(e->b, b, n) == 0)
			return e->c;
	return NULL;
}

static int cidmap_grow(struct cidmap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64, i;
	struct cid_ent **b, *e, *next;

	b = calloc(nb, sizeof(*b));
	if (!b)
		return WEFT_ERR_NOMEM;
	for (i = 0; i < m->nb; i++) {
		for (e = m->b[i]; e; e = next) {
			size_t k = cid_hash(m, e->b, e->len) & (nb - 1);

			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

static int cidmap_put(struct cidmap *m, const ngtcp2_cid *cid,
		      struct quic_conn *c)
{
	struct cid_ent *e;
	size_t k;

	if (cid->datalen > NGTCP2_MAX_CIDLEN)
		return WEFT_ERR_INVAL;
	if (cidmap_get(m, cid->data, cid->datalen))
		return WEFT_ERR_EXISTS;
	if (m->n >= m->nb && cidmap_grow(m) < 0)
		return WEFT_ERR_NOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return WEFT_ERR_NOMEM;
	e->c = c;
	e->len = (uint8_t)cid->datalen;
	memcpy(e->b, cid->data, cid->datalen);
	k = cid_hash(m, e->b, e->len) & (m->nb - 1);
	e->next = m->b[k];
	m->b[k] = e;
	m->n++;
	c->ncids++;
	return 0;
}

static void cidmap_del(struct cidmap *m, const uint8_t *b, size_t n,
		       const struct quic_conn *owner)
{
	struct cid_ent **pe, *e;

	if (!m->nb)
		return;
	for (pe = &m->b[cid_hash(m, b, n) & (m->nb - 1)]; (e = *pe);
	     pe = &e->next) {
		if (e->len == n && memcmp(e->b, b, n) == 0 &&
		    (!owner || e->c == owner)) {
			*pe = e->next;
			e->c->ncids--;
			free(e);
			m->n--;
			return;
		}
	}
}

/* Removes every entry of c (slow path, used when bookkeeping missed one). */
static void cidmap_del_conn(struct cidmap *m, struct quic_conn *c)
{
	struct cid_ent **pe, *e;
	size_t i;

	for (i = 0; i < m->nb && c->ncids; i++) {
		pe = &m->b[i];
		while ((e = *pe)) {
			if (e->c == c) {
				*pe = e->next;
				free(e);
				m->n--;
				c->ncids--;
			} else {
				pe = &e->next;
			}
		}
	}
}

static void cidmap_free(struct cidmap *m)
{
	struct cid_ent *e, *next;
	size_t i;

	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* ---- sending ---- */

static void tx_flush(struct quic_endpoint *ep)
{
	struct mmsghdr m[TX_BATCH];
	struct iovec iov[TX_BATCH];
	unsigned i, done = 0;
	int n;

	if (!ep->ntx)
		return;
	memset(m, 0, sizeof(struct mmsghdr) * ep->ntx);
	for (i = 0; i < ep->ntx; i++) {
		iov[i].iov_base = ep->tx[i].d;
		iov[i].iov_len = ep->tx[i].len;
		m[i].msg_hdr.msg_name = &ep->tx[i].to;
		m[i].msg_hdr.msg_namelen = ep->tx[i].tolen;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	/* Best effort: a full socket buffer drops the rest, which QUIC's
	 * loss recovery handles like any other loss. */
	while (done < ep->ntx) {
		n = sendmmsg(ep->fd, m + done, ep->ntx - done, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Skip the packet that failed (e.g. unreachable). */
			done++;
			continue;
		}
		done += (unsigned)n;
	}
	ep->ntx = 0;
}

/* Sends one packet on path: to the virtual hook or into the batch. */
static void send_pkt(struct quic_endpoint *ep, struct quic_conn *c,
		     const ngtcp2_path *path, const uint8_t *d, size_t n)
{
	struct txpkt *t;
	struct ip_endpoint to;

	if (c) {
		c->st.pkts_sent++;
		c->st.bytes_sent += n;
	}
	if (path_is_virtual(ep, path)) {
		if (ep->o.send_virtual &&
		    ip_endpoint_from_sockaddr(path->remote.addr,
					      path->remote.addrlen, &to) == 0)
			ep->o.send_virtual(ep, c, &to, d, n, ep->o.ctx);
		return;
	}
	if (n > TX_BUFSZ || path->remote.addrlen > sizeof(t->to))
		return;
	if (ep->ntx == TX_BATCH)
		tx_flush(ep);
	t = &ep->tx[ep->ntx++];
	memcpy(&t->to, path->remote.addr, path->remote.addrlen);
	t->tolen = path->remote.addrlen;
	memcpy(t->d, d, n);
	t->len = n;
}

static void conn_arm_timer(struct quic_conn *c)
{
	ngtcp2_tstamp exp, now;

	if (c->dead)
		return;
	exp = ngtcp2_conn_get_expiry(c->nc);
	if (exp == UINT64_MAX) {
		loop_timer_stop(c->timer);
		return;
	}
	now = now_ts(c->ep);
	loop_timer_start(c->timer,
			 exp > now ? (int64_t)((exp - now + 999) / 1000) : 0);
}

/* ---- closing ---- */

static void reap_conn(struct quic_conn *c)
{
	struct quic_endpoint *ep = c->ep;
	size_t i;
	int64_t id;
	void *v;

	if (c->prev)
		c->prev->next = c->next;
	else
		ep->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->nc) {
		size_t n = ngtcp2_conn_get_num_scid(c->nc);
		ngtcp2_cid *scids = n ? calloc(n, sizeof(*scids)) : NULL;

		if (scids) {
			n = ngtcp2_conn_get_scid(c->nc, scids);
			for (i = 0; i < n; i++)
				cidmap_del(&ep->cids, scids[i].data,
					   scids[i].datalen, c);
			free(scids);
		}
	}
	if (c->have_initial_dcid)
		cidmap_del(&ep->cids, c->initial_dcid.data,
			   c->initial_dcid.datalen, c);
	if (c->ncids)
		cidmap_del_conn(&ep->cids, c);
	for (i = 0; idmap_next(&c->streams, &i, &id, &v);) {
		struct qstream *s = v;
		struct chunk *ch, *next;

		for (ch = s->head; ch; ch = next) {
			next = ch->next;
			free(ch);
		}
		free(s);
	}
	idmap_free(&c->streams);
	if (c->nc)
		ngtcp2_conn_del(c->nc);
	if (c->tls)
		gnutls_deinit(c->tls);
	loop_timer_del(c->timer);
	free(c->dq);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

static void on_reap(struct loop_timer *t, void *ctx)
{
	struct quic_endpoint *ep = ctx;
	struct quic_conn *c, *next;

	for (c = ep->conns; c; c = next) {
		next = c->next;
		if (c->dead)
			reap_conn(c);
	}
}

/* Marks c dead, tells the application once, and schedules the free. */
static void conn_dead(struct quic_conn *c, const struct quic_close_info *i)
{
	if (c->dead)
		return;
	c->dead = true;
	c->ep->nlive--;
	loop_timer_stop(c->timer);
	loop_timer_start(c->ep->reap, 0);
	if (c->cbs.on_closed && (!c->server || c->accepted))
		c->cbs.on_closed(c, i, c->ctx);
}

/* Writes the terminal packet for ccerr (best effort). */
static void write_close(struct quic_conn *c,
			const ngtcp2_connection_close_error *ccerr)
{
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	uint8_t buf[TX_BUFSZ];
	ngtcp2_ssize n;

	if (ngtcp2_conn_is_in_closing_period(c->nc) ||
	    ngtcp2_conn_is_in_draining_period(c->nc))
		return;
	ngtcp2_path_storage_zero(&ps);
	n = ngtcp2_conn_write_connection_close(c->nc, &ps.path, &pi, buf,
					       NGTCP2_MAX_UDP_PAYLOAD_SIZE,
					       ccerr, now_ts(c->ep));
	if (n > 0) {
		send_pkt(c->ep, c, &ps.path, buf, (size_t)n);
		tx_flush(c->ep);
	}
}

static int alert_err(uint64_t code)
{
	uint64_t alert;

	if (code < NGTCP2_CRYPTO_ERROR || code > NGTCP2_CRYPTO_ERROR + 0xff)
		return WEFT_ERR_PROTO;
	alert = code - NGTCP2_CRYPTO_ERROR;
	switch (alert) {
	case ALERT_BAD_CERTIFICATE:
	case ALERT_UNSUPPORTED_CERTIFICATE:
	case ALERT_CERTIFICATE_UNKNOWN:
	case ALERT_ACCESS_DENIED:
	case ALERT_CERTIFICATE_REQUIRED:
		return WEFT_ERR_AUTH;
	case ALERT_NO_APPLICATION_PROTOCOL:
		return WEFT_ERR_UNSUPPORTED;
	default:
		return WEFT_ERR_PROTO;
	}
}

/* Closes c locally with an application code. */
static void conn_app_close(struct quic_conn *c)
{
	ngtcp2_connection_close_error ccerr;
	struct quic_close_info i = {0};

	ngtcp2_connection_close_error_default(&ccerr);
	ngtcp2_connection_close_error_set_application_error(
		&ccerr, c->close_code, (const uint8_t *)c->close_reason,
		strlen(c->close_reason));
	write_close(c, &ccerr);
	i.app = true;
	i.code = c->close_code;
	i.reason = c->close_reason;
	conn_dead(c, &i);
}

/* Ends c after ngtcp2 reported liberr. */
static void conn_fail(struct quic_conn *c, int liberr)
{
	ngtcp2_connection_close_error ccerr;
	struct quic_close_info i = {0};
	uint8_t alert;

	if (c->dead)
		return;
	i.reason = "";
	if (liberr == NGTCP2_ERR_DRAINING || liberr == NGTCP2_ERR_CLOSING) {
		ngtcp2_conn_get_connection_close_error(c->nc, &ccerr);
		copy_reason(c->close_reason, ccerr.reason,
			    ccerr.reason ? ccerr.reasonlen : 0);
		i.reason = c->close_reason;
		i.remote = liberr == NGTCP2_ERR_DRAINING;
		i.code = ccerr.error_code;
		if (ccerr.type ==
		    NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION) {
			i.app = true;
		} else if (ccerr.error_code == NGTCP2_NO_ERROR ||
			   ccerr.error_code == NGTCP2_APPLICATION_ERROR) {
			i.err = WEFT_ERR_CLOSED;
		} else {
			i.err = alert_err(ccerr.error_code);
		}
		conn_dead(c, &i);
		return;
	}
	if (liberr == NGTCP2_ERR_IDLE_CLOSE ||
	    liberr == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
		i.err = WEFT_ERR_TIMEOUT;
		conn_dead(c, &i);
		return;
	}
	if (liberr == NGTCP2_ERR_DROP_CONN) {
		i.err = WEFT_ERR_CLOSED;
		conn_dead(c, &i);
		return;
	}
	ngtcp2_connection_close_error_default(&ccerr);
	if (liberr == NGTCP2_ERR_CRYPTO) {
		alert = ngtcp2_conn_get_tls_alert(c->nc);
		ngtcp2_connection_close_error_set_transport_error_tls_alert(
			&ccerr, alert, NULL, 0);
		i.code = NGTCP2_CRYPTO_ERROR + alert;
		i.err = alert_err(i.code);
	} else {
		ngtcp2_connection_close_error_set_transport_error_liberr(
			&ccerr, liberr, NULL, 0);
		i.code = ccerr.error_code;
		i.err = WEFT_ERR_PROTO;
	}
	if (c->auth_failed)
		i.err = WEFT_ERR_AUTH;
	write_close(c, &ccerr);
	conn_dead(c, &i);
}

/* Work that waits until no ngtcp2 call is running for c. */
static void conn_after(struct quic_conn *c)
{
	if (c->dead || c->in_cb)
		return;
	if (c->close_pending)
		conn_app_close(c);
	else
		conn_write(c);
}

/* ---- streams ---- */

static struct qstream *stream_get(struct quic_conn *c, int64_t id)
{
	if (id < 0 || id == INT64_MAX)
		return NULL;
	return idmap_get(&c->streams, id + 1);
}

static int stream_add(struct quic_conn *c, int64_t id)
{
	struct qstream *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return WEFT_ERR_NOMEM;
	s->id = id;
	r = idmap_put(&c->streams, id + 1, s);
	if (r < 0)
		free(s);
	return r;
}

static void stream_free(struct quic_conn *c, int64_t id)
{
	struct qstream *s = idmap_del(&c->streams, id + 1);
	struct chunk *ch, *next;

	if (!s)
		return;
	for (ch = s->head; ch; ch = next) {
		next = ch->next;
		free(ch);
	}
	free(s);
}

static bool stream_has_work(const struct qstream *s)
{
	return s->sent < s->end || (s->fin_pending && !s->fin_sent);
}

/* The unsent bytes of s that are contiguous in one chunk. */
static void stream_unsent(const struct qstream *s, ngtcp2_vec *v)
{
	const struct chunk *ch = s->head;
	uint64_t off = s->head_off;

	v->base = NULL;
	v->len = 0;
	while (ch && off + ch->len <= s->sent) {
		off += ch->len;
		ch = ch->next;
	}
	if (!ch)
		return;
	v->base = (uint8_t *)ch->d + (s->sent - off);
	v->len = ch->len - (size_t)(s->sent - off);
}

static struct qstream *next_stream(struct quic_conn *c)
{
	size_t i;
	int64_t id;
	void *v;

	for (i = 0; idmap_next(&c->streams, &i, &id, &v);) {
		struct qstream *s = v;

		if (s->blocked_gen != c->write_gen && stream_has_work(s))
			return s;
	}
	return NULL;
}

/* ---- the write loop ---- */

static void conn_write(struct quic_conn *c)
{
	struct quic_endpoint *ep = c->ep;
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	uint8_t buf[TX_BUFSZ];
	ngtcp2_tstamp ts = now_ts(ep);
	size_t pktmax, maxpkts, npkts = 0;
	ngtcp2_ssize nw, ndata;
	ngtcp2_vec v;
	int accepted;

	if (c->dead || c->in_cb)
		return;
	c->write_gen++;
	pktmax = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->nc);
	if (pktmax > TX_BUFSZ)
		pktmax = TX_BUFSZ;
	maxpkts = ngtcp2_conn_get_send_quantum(c->nc) /
		  ngtcp2_conn_get_max_tx_udp_payload_size(c->nc);
	if (maxpkts < 1)
		maxpkts = 1;
	if (maxpkts > MAX_PKTS_PER_WRITE)
		maxpkts = MAX_PKTS_PER_WRITE;
	c->in_cb++;
	ngtcp2_path_storage_zero(&ps);
	while (npkts < maxpkts) {
		struct qstream *s = NULL;

		if (c->dq_n && c->accepted) {
			struct dgram *g = &c->dq[c->dq_head];

			v.base = g->d;
			v.len = g->len;
			accepted = 0;
			nw = ngtcp2_conn_writev_datagram(
				c->nc, &ps.path, &pi, buf, pktmax, &accepted,
				NGTCP2_WRITE_DATAGRAM_FLAG_MORE, c->dgram_id,
				&v, v.len ? 1 : 0, ts);
			if (accepted || nw == NGTCP2_ERR_INVALID_ARGUMENT ||
			    nw == NGTCP2_ERR_INVALID_STATE) {
				if (accepted) {
					c->st.dgrams_sent++;
					c->dgram_id++;
				} else {
					c->st.dgrams_dropped++;
				}
				c->dq_head = (c->dq_head + 1) % DGRAM_QUEUE;
				c->dq_n--;
			}
			if (nw == NGTCP2_ERR_WRITE_MORE ||
			    nw == NGTCP2_ERR_INVALID_ARGUMENT ||
			    nw == NGTCP2_ERR_INVALID_STATE)
				continue;
		} else if ((s = next_stream(c))) {
			uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;

			stream_unsent(s, &v);
			if (s->fin_pending && s->sent + v.len == s->end)
				flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
			ndata = -1;
			nw = ngtcp2_conn_writev_stream(c->nc, &ps.path, &pi,
						       buf, pktmax, &ndata,
						       flags, s->id, &v,
						       v.len ? 1 : 0, ts);
			if (ndata >= 0) {
				s->sent += (uint64_t)ndata;
				if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) &&
				    s->sent == s->end)
					s->fin_sent = true;
			}
			if (nw == NGTCP2_ERR_WRITE_MORE)
				continue;
			if (nw == NGTCP2_ERR_STREAM_DATA_BLOCKED ||
			    nw == NGTCP2_ERR_STREAM_SHUT_WR ||
			    nw == NGTCP2_ERR_STREAM_NOT_FOUND) {
				s->blocked_gen = c->write_gen;
				continue;
			}
		} else {
			nw = ngtcp2_conn_write_pkt(c->nc, &ps.path, &pi, buf,
						   pktmax, ts);
		}
		if (nw < 0) {
			c->in_cb--;
			tx_flush(ep);
			conn_fail(c, (int)nw);
			return;
		}
		if (nw == 0)
			break;
		send_pkt(ep, c, &ps.path, buf, (size_t)nw);
		npkts++;
		ngtcp2_path_storage_zero(&ps);
	}
	c->in_cb--;
	ngtcp2_conn_update_pkt_tx_time(c->nc, ts);
	tx_flush(ep);
	conn_arm_timer(c);
}

static void on_conn_timer(struct loop_timer *t, void *ctx)
{
	struct quic_conn *c = ctx;
	int rv;

	if (c->dead)
		return;
	c->in_cb++;
	rv = ngtcp2_conn_handle_expiry(c->nc, now_ts(c->ep));
	c->in_cb--;
	if (rv != 0) {
		conn_fail(c, rv);
		return;
	}
	conn_after(c);
}

/* ---- ngtcp2 callbacks ---- */

/* ngtcp2 0.12 always advertises grease_quic_bit and, when creating a
 * connection, draws one random byte to decide whether to clear the fixed
 * bit in its own packets (RFC 9287). The socket is shared with non-QUIC
 * frames told apart by that bit, so while a connection is being created
 * (rand_ctx points at the endpoint's flag) a one-byte draw gets its low
 * bit cleared: the coin always says "keep the fixed bit". */
static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *rctx)
{
	const bool *creating = rctx ? rctx->native_handle : NULL;

	if (rand_bytes(dest, len) < 0)
		memset(dest, 0, len); /* getrandom(2) does not fail once seeded */
	if (creating && *creating && len == 1)
		dest[0] &= 0xfe;
}

static int cb_get_new_cid(ngtcp2_conn *nc, ngtcp2_cid *cid, uint8_t *token,
			  size_t cidlen, void *ud)
{
	struct quic_conn *c = ud;

	do {
		if (gen_cid(cid, cidlen) < 0)
			return NGTCP2_ERR_CALLBACK_FAILURE;
	} while (cidmap_get(&c->ep->cids, cid->data, cid->datalen));
	if (ngtcp2_crypto_generate_stateless_reset_token(
		    token, c->ep->secret, SECRET_LEN, cid) != 0 ||
	    cidmap_put(&c->ep->cids, cid, c) < 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cb_remove_cid(ngtcp2_conn *nc, const ngtcp2_cid *cid, void *ud)
{
	struct quic_conn *c = ud;

	cidmap_del(&c->ep->cids, cid->data, cid->datalen, c);
	return 0;
}

static void read_alpn(struct quic_conn *c)
{
	gnutls_datum_t d;

	if (c->alpn[0] || gnutls_alpn_get_selected_protocol(c->tls, &d) < 0)
		return;
	if (d.size >= sizeof(c->alpn))
		return;
	memcpy(c->alpn, d.data, d.size);
	c->alpn[d.size] = '\0';
}

static int cb_handshake_completed(ngtcp2_conn *nc, void *ud)
{
	struct quic_conn *c = ud;

	read_alpn(c);
	if (!c->have_peer_key || !c->alpn[0])
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (c->server) {
		/* The client's Finished arrived after its certificate was
		 * accepted, so the peer is authenticated now. */
		c->accepted = true;
		if (c->ep->o.on_accept)
			c->ep->o.on_accept(c->ep, c, c->alpn, c->ep->o.ctx);
	}
	return 0;
}

static int cb_handshake_confirmed(ngtcp2_conn *nc, void *ud)
{
	struct quic_conn *c = ud;

	if (c->server)
		return 0;
	/* Only now does the client know that the server took its
	 * certificate: HANDSHAKE_DONE follows the server's check. */
	c->accepted = true;
	if (c->cbs.on_established)
		c->cbs.on_established(c, c->ctx);
	return 0;
}

static int cb_recv_datagram(ngtcp2_conn *nc, uint32_t flags,
			    const uint8_t *data, size_t len, void *ud)
{
	struct quic_conn *c = ud;

	c->st.dgrams_recv++;
	if (c->cbs.on_datagram && c->accepted)
		c->cbs.on_datagram(c, data, len, c->ctx);
	return 0;
}

static int cb_recv_stream_data(ngtcp2_conn *nc, uint32_t flags, int64_t id,
			       uint64_t offset, const uint8_t *data,
			       size_t len, void *ud, void *sud)
{
	struct quic_conn *c = ud;

	if (c->cbs.on_stream_data && c->accepted)
		c->cbs.on_stream_data(c, id, data, len,
				      flags & NGTCP2_STREAM_DATA_FLAG_FIN,
				      c->ctx);
	/* Consumed at once: flow control only bounds what is in flight. */
	ngtcp2_conn_extend_max_stream_offset(nc, id, len);
	ngtcp2_conn_extend_max_offset(nc, len);
	return 0;
}

static int cb_acked_stream_data(ngtcp2_conn *nc, int64_t id, uint64_t offset,
				uint64_t len, void *ud, void *sud)
{
	struct quic_conn *c = ud;
	struct qstream *s = stream_get(c, id);
	struct chunk *ch;

	if (!s)
		return 0;
	if (offset + len > s->acked)
		s->acked = offset + len;
	while ((ch = s->head) && ch->len == CHUNK_SIZE &&
	       s->head_off + CHUNK_SIZE <= s->acked) {
		s->head = ch->next;
		if (!s->head)
			s->tail = NULL;
		s->head_off += CHUNK_SIZE;
		free(ch);
	}
	if (s->want_writable &&
	    s->end - s->acked <= c->ep->o.max_stream_buffer / 2) {
		s->want_writable = false;
		if (c->cbs.on_stream_writable)
			c->cbs.on_stream_writable(c, id, c->ctx);
	}
	return 0;
}

static int cb_stream_open(ngtcp2_conn *nc, int64_t id, void *ud)
{
	struct quic_conn *c = ud;

	if (!ngtcp2_is_bidi_stream(id))
		return 0;
	return stream_add(c, id) < 0 ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int cb_stream_close(ngtcp2_conn *nc, uint32_t flags, int64_t id,
			   uint64_t app_code, void *ud, void *sud)
{
	struct quic_conn *c = ud;

	if (!stream_get(c, id))
		return 0;
	stream_free(c, id);
	if (!ngtcp2_conn_is_local_stream(nc, id))
		ngtcp2_conn_extend_max_streams_bidi(nc, 1);
	if (c->cbs.on_stream_closed && c->accepted)
		c->cbs.on_stream_closed(c, id, c->ctx);
	return 0;
}

static int cb_path_validation(ngtcp2_conn *nc, uint32_t flags,
			      const ngtcp2_path *path,
			      ngtcp2_path_validation_result res, void *ud)
{
	struct quic_conn *c = ud;

	if (c->cbs.on_path && c->accepted)
		c->cbs.on_path(c, path_is_virtual(c->ep, path),
			       res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS,
			       c->ctx);
	return 0;
}

static void fill_callbacks(ngtcp2_callbacks *cb, bool server)
{
	memset(cb, 0, sizeof(*cb));
	if (server) {
		cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
	} else {
		cb->client_initial = ngtcp2_crypto_client_initial_cb;
		cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
	}
	cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
	cb->encrypt = ngtcp2_crypto_encrypt_cb;
	cb->decrypt = ngtcp2_crypto_decrypt_cb;
	cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
	cb->update_key = ngtcp2_crypto_update_key_cb;
	cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
	cb->delete_crypto_cipher_ctx =
		ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
	cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
	cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
	cb->rand = cb_rand;
	cb->get_new_connection_id = cb_get_new_cid;
	cb->remove_connection_id = cb_remove_cid;
	cb->handshake_completed = cb_handshake_completed;
	cb->handshake_confirmed = cb_handshake_confirmed;
	cb->recv_datagram = cb_recv_datagram;
	cb->recv_stream_data = cb_recv_stream_data;
	cb->acked_stream_data_offset = cb_acked_stream_data;
	cb->stream_open = cb_stream_open;
	cb->stream_close = cb_stream_close;
	cb->path_validation = cb_path_validation;
}

static void fill_settings(const struct quic_endpoint *ep, ngtcp2_settings *s,
			  ngtcp2_transport_params *p)
{
	ngtcp2_settings_default(s);
	s->rand_ctx.native_handle = (void *)&ep->creating;
	s->initial_ts = now_ts(ep);
	/* Low, so that a LAN handshake does not wait on a 333 ms guess. */
	s->initial_rtt = 10 * NGTCP2_MILLISECONDS;
	s->handshake_timeout =
		(ngtcp2_duration)ep->o.handshake_timeout_ms * NGTCP2_MILLISECONDS;
	ngtcp2_transport_params_default(p);
	p->initial_max_stream_data_bidi_local = 1 << 20;
	p->initial_max_stream_data_bidi_remote = 1 << 20;
	p->initial_max_stream_data_uni = 0;
	p->initial_max_data = 4 << 20;
	p->initial_max_streams_bidi = 100;
	p->initial_max_streams_uni = 0;
	p->max_idle_timeout =
		(ngtcp2_duration)ep->o.idle_timeout_ms * NGTCP2_MILLISECONDS;
	p->max_datagram_frame_size = 65535;
	p->active_connection_id_limit = 8;
	p->max_udp_payload_size = RX_BUFSZ;
	/* Never let the peer clear the fixed bit (RFC 9287): the socket is
	 * shared with non-QUIC traffic told apart by exactly that bit. */
	p->grease_quic_bit = 0; /* ignored by 0.12, see cb_rand */
}

/* ---- TLS ---- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
	struct quic_conn *c = ref->user_data;

	return c->nc;
}

/* Certificate check for both sides: pin (client) or accept_peer (server). */
static int tls_verify(gnutls_session_t s)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(s);
	struct quic_conn *c = ref->user_data;
	const gnutls_datum_t *certs;
	uint8_t key[IDENT_KEY_LEN];
	unsigned n = 0;

	if (gnutls_certificate_type_get2(s, GNUTLS_CTYPE_PEERS) !=
	    GNUTLS_CRT_X509)
		goto fail;
	certs = gnutls_certificate_get_peers(s, &n);
	if (!certs || n < 1 || ident_key_from_cert(&certs[0], key) < 0)
		goto fail;
	if (c->server) {
		read_alpn(c);
		if (!c->alpn[0] || !c->ep->o.accept_peer ||
		    !c->ep->o.accept_peer(c->ep, c->alpn, key, c->ep->o.ctx))
			goto fail;
	} else if (!ct_memeq(key, c->pin, IDENT_KEY_LEN)) {
		goto fail;
	}
	memcpy(c->peer_key, key, IDENT_KEY_LEN);
	c->have_peer_key = true;
	return 0;
fail:
	c->auth_failed = true;
	return GNUTLS_E_CERTIFICATE_ERROR;
}

static int tls_setup(struct quic_conn *c, const char *alpn)
{
	struct quic_endpoint *ep = c->ep;
	gnutls_datum_t protos[QUIC_MAX_ALPNS];
	unsigned i, n = 0;

	if (gnutls_init(&c->tls, c->server ? GNUTLS_SERVER : GNUTLS_CLIENT) <
	    0)
		return WEFT_ERR_NOMEM;
	if (gnutls_priority_set_direct(c->tls, TLS_PRIORITY, NULL) < 0)
		return WEFT_ERR_CRYPTO;
	if ((c->server ? ngtcp2_crypto_gnutls_configure_server_session(c->tls)
		       : ngtcp2_crypto_gnutls_configure_client_session(
				 c->tls)) != 0)
		return WEFT_ERR_CRYPTO;
	c->ref.get_conn = get_conn;
	c->ref.user_data = c;
	gnutls_session_set_ptr(c->tls, &c->ref);
	if (gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, ep->cred) <
	    0)
		return WEFT_ERR_CRYPTO;
	if (c->server) {
		for (i = 0; i < ep->nalpns; i++) {
			protos[n].data = (unsigned char *)ep->alpn_store[i];
			protos[n++].size = (unsigned)strlen(ep->alpn_store[i]);
		}
		gnutls_certificate_server_set_request(c->tls,
						      GNUTLS_CERT_REQUIRE);
	} else {
		protos[0].data = (unsigned char *)alpn;
		protos[0].size = (unsigned)strlen(alpn);
		n = 1;
	}
	if (gnutls_alpn_set_protocols(c->tls, protos, n,
				      GNUTLS_ALPN_MANDATORY) < 0)
		return WEFT_ERR_CRYPTO;
	ngtcp2_conn_set_tls_native_handle(c->nc, c->tls);
	return 0;
}

/* ---- connection creation ---- */

static int conn_alloc(struct quic_endpoint *ep, bool server,
		      struct quic_conn **out)
{
	struct quic_conn *c;
	int r;

	if (ep->nlive >= ep->o.max_conns)
		return WEFT_ERR_EXHAUSTED;
	c = calloc(1, sizeof(*c));
	if (!c)
		return WEFT_ERR_NOMEM;
	c->ep = ep;
	c->server = server;
	idmap_init(&c->streams);
	r = loop_timer_new(ep->loop, on_conn_timer, c, &c->timer);
	if (r < 0) {
		free(c);
		return r;
	}
	c->next = ep->conns;
	if (ep->conns)
		ep->conns->prev = c;
	ep->conns = c;
	ep->nlive++;
	*out = c;
	return 0;
}

/* Frees a connection that never got going (no callbacks). */
static void conn_abort(struct quic_conn *c)
{
	c->ep->nlive--;
	reap_conn(c);
}

static void sa_path(ngtcp2_path *p, struct sockaddr_storage *local,
		    socklen_t locallen, struct sockaddr_storage *remote,
		    socklen_t remotelen)
{
	p->local.addr = (ngtcp2_sockaddr *)local;
	p->local.addrlen = locallen;
	p->remote.addr = (ngtcp2_sockaddr *)remote;
	p->remote.addrlen = remotelen;
	p->user_data = NULL;
}

int quic_connect(struct quic_endpoint *ep,
		 const struct quic_connect_options *o,
		 const struct quic_conn_callbacks *cbs, void *ctx,
		 struct quic_conn **out)
{
	struct sockaddr_storage rs;
	socklen_t rslen;
	ngtcp2_callbacks ncb;
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	ngtcp2_cid dcid, scid;
	ngtcp2_path path;
	struct quic_conn *c = NULL;
	int r;

	if (!o || !o->alpn || !o->alpn[0] || strlen(o->alpn) >= 32 ||
	    (o->is_virtual && !ep->has_virtual) ||
	    ip_endpoint_to_sockaddr(&o->remote, &rs, &rslen) < 0)
		return WEFT_ERR_INVAL;
	if (rs.ss_family != ep->local.ss_family)
		return WEFT_ERR_INVAL;
	r = conn_alloc(ep, false, &c);
	if (r < 0)
		return r;
	if (cbs)
		c->cbs = *cbs;
	c->ctx = ctx;
	memcpy(c->pin, o->pin, IDENT_KEY_LEN);
	r = gen_cid(&dcid, 16);
	if (r == 0)
		r = gen_cid(&scid, SCID_LEN);
	if (r < 0)
		goto out;
	if (o->is_virtual)
		sa_path(&path, &ep->vlocal, ep->vlocallen, &rs, rslen);
	else
		sa_path(&path, &ep->local, ep->locallen, &rs, rslen);
	fill_callbacks(&ncb, false);
	fill_settings(ep, &s, &p);
	ep->creating = true;
	r = ngtcp2_conn_client_new(&c->nc, &dcid, &scid, &path,
				   NGTCP2_PROTO_VER_V1, &ncb, &s, &p, NULL, c);
	ep->creating = false;
	if (r != 0) {
		r = WEFT_ERR_NOMEM;
		goto out;
	}
	ngtcp2_conn_set_keep_alive_timeout(
		c->nc, (ngtcp2_duration)ep->o.keepalive_ms * NGTCP2_MILLISECONDS);
	r = tls_setup(c, o->alpn);
	if (r < 0)
		goto out;
	r = cidmap_put(&ep->cids, &scid, c);
	if (r < 0)
		goto out;
	/* The first flight leaves from the loop, so that a failure is
	 * reported through on_closed rather than from inside this call. */
	loop_timer_start(c->timer, 0);
	*out = c;
out:
	if (r < 0)
		conn_abort(c);
	return r;
}

static void send_retry(struct quic_endpoint *ep, const ngtcp2_pkt_hd *hd,
		       const ngtcp2_path *path)
{
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
	uint8_t buf[TX_BUFSZ];
	ngtcp2_cid scid;
	ngtcp2_ssize tlen, n;

	if (gen_cid(&scid, SCID_LEN) < 0)
		return;
	tlen = ngtcp2_crypto_generate_retry_token(
		token, ep->secret, SECRET_LEN, hd->version, path->remote.addr,
		path->remote.addrlen, &scid, &hd->dcid, now_ts(ep));
	if (tlen < 0)
		return;
	n = ngtcp2_crypto_write_retry(buf, sizeof(buf), hd->version, &hd->scid,
				      &scid, &hd->dcid, token, (size_t)tlen);
	if (n > 0) {
		send_pkt(ep, NULL, path, buf, (size_t)n);
		tx_flush(ep);
		ep->est.retry_sent++;
	}
}

static void conn_input(struct quic_conn *c, const ngtcp2_path *path,
		       const uint8_t *data, size_t len);

/* A long-header packet for no known connection: maybe a new client. */
static void server_accept(struct quic_endpoint *ep, const ngtcp2_path *path,
			  const uint8_t *data, size_t len)
{
	ngtcp2_pkt_hd hd;
	ngtcp2_cid odcid, scid;
	bool have_odcid = false;
	ngtcp2_callbacks ncb;
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	struct quic_conn *c = NULL;
	int rv;

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
			    now_ts(ep)) != 0) {
			ep->est.retry_failed++;
			return;
		}
		have_odcid = true;
	} else if (ep->o.retry) {
		/* The place where a server demands address validation. */
		send_retry(ep, &hd, path);
		return;
	}
	if (conn_alloc(ep, true, &c) < 0)
		return;
	if (gen_cid(&scid, SCID_LEN) < 0)
		goto fail;
	fill_callbacks(&ncb, true);
	fill_settings(ep, &s, &p);
	if (have_odcid) {
		p.original_dcid = odcid;
		p.retry_scid = hd.dcid;
		p.retry_scid_present = 1;
		s.token = hd.token;
	} else {
		p.original_dcid = hd.dcid;
	}
	if (ngtcp2_crypto_generate_stateless_reset_token(
		    p.stateless_reset_token, ep->secret, SECRET_LEN, &scid) != 0)
		goto fail;
	p.stateless_reset_token_present = 1;
	ep->creating = true;
	rv = ngtcp2_conn_server_new(&c->nc, &hd.scid, &scid, path, hd.version,
				    &ncb, &s, &p, NULL, c);
	ep->creating = false;
	if (rv != 0)
		goto fail;
	ngtcp2_conn_set_keep_alive_timeout(
		c->nc, (ngtcp2_duration)ep->o.keepalive_ms * NGTCP2_MILLISECONDS);
	if (tls_setup(c, NULL) < 0 || cidmap_put(&ep->cids, &scid, c) < 0)
		goto fail;
	c->initial_dcid = hd.dcid;
	if (cidmap_put(&ep->cids, &hd.dcid, c) < 0)
		goto fail;
	c->have_initial_dcid = true;
	conn_input(c, path, data, len);
	return;
fail:
	conn_abort(c);
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
	if (inlen < 42)
		return;
	outlen = inlen - 1 > sizeof(buf) ? sizeof(buf) : inlen - 1;
	ngtcp2_cid_init(&cid, dcid, dcidlen);
	if (ngtcp2_crypto_generate_stateless_reset_token(
		    token, ep->secret, SECRET_LEN, &cid) != 0 ||
	    rand_bytes(rnd, outlen - NGTCP2_STATELESS_RESET_TOKENLEN) < 0)
		return;
	n = ngtcp2_pkt_write_stateless_reset(
		buf, sizeof(buf), token, rnd,
		outlen - NGTCP2_STATELESS_RESET_TOKENLEN);
	if (n > 0) {
		send_pkt(ep, NULL, path, buf, (size_t)n);
		tx_flush(ep);
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
	    rand_bytes(&r, 1) < 0)
		return;
	n = ngtcp2_pkt_write_version_negotiation(buf, sizeof(buf), r, vc->scid,
						 vc->scidlen, vc->dcid,
						 vc->dcidlen, sv, 1);
	if (n > 0) {
		send_pkt(ep, NULL, path, buf, (size_t)n);
		tx_flush(ep);
	}
}

static void conn_input(struct quic_conn *c, const ngtcp2_path *path,
		       const uint8_t *data, size_t len)
{
	int rv;

	if (c->dead || c->in_cb)
		return;
	c->st.pkts_recv++;
	c->st.bytes_recv += len;
	c->in_cb++;
	rv = ngtcp2_conn_read_pkt(c->nc, path, NULL, data, len,
				  now_ts(c->ep));
	c->in_cb--;
	if (rv != 0) {
		conn_fail(c, rv);
		return;
	}
	conn_after(c);
}

/* Routes one datagram that arrived on path. */
static void ep_input(struct quic_endpoint *ep, const ngtcp2_path *path,
		     const uint8_t *data, size_t len)
{
	ngtcp2_version_cid vc;
	struct quic_conn *c;
	int rv;

	if (len == 0)
		return;
	if (!(data[0] & 0x40)) {
		struct ip_endpoint from;

		if (!path_is_virtual(ep, path) && ep->o.on_other &&
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
	c = cidmap_get(&ep->cids, vc.dcid, vc.dcidlen);
	if (c) {
		conn_input(c, path, data, len);
		return;
	}
	if (data[0] & 0x80)
		server_accept(ep, path, data, len);
	else
		send_stateless_reset(ep, path, vc.dcid, vc.dcidlen, len);
}

static void on_readable(struct loop_io *io, int fd, uint32_t revents,
			void *ctx)
{
	struct quic_endpoint *ep = ctx;
	ngtcp2_path path;
	int round, n, i;

	for (round = 0; round < RX_ROUNDS; round++) {
		for (i = 0; i < RX_BATCH; i++) {
			ep->rxm[i].msg_hdr.msg_namelen = sizeof(ep->rxfrom[i]);
			ep->rxm[i].msg_hdr.msg_flags = 0;
			ep->rxm[i].msg_len = 0;
		}
		n = recvmmsg(fd, ep->rxm, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			struct msghdr *h = &ep->rxm[i].msg_hdr;

			if (h->msg_flags & MSG_TRUNC)
				continue;
			sa_path(&path, &ep->local, ep->locallen,
				&ep->rxfrom[i], h->msg_namelen);
			ep_input(ep, &path, ep->rxbuf[i], ep->rxm[i].msg_len);
		}
		if (n < RX_BATCH)
			return;
	}
}

/* ---- endpoint ---- */

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
	if (ep->nalpns && !o->accept_peer)
		return WEFT_ERR_INVAL;
	if (!ep->o.max_conns)
		ep->o.max_conns = 1024;
	if (!ep->o.max_stream_buffer)
		ep->o.max_stream_buffer = 1 << 20;
	if (!ep->o.idle_timeout_ms)
		ep->o.idle_timeout_ms = 30000;
	if (!ep->o.keepalive_ms)
		ep->o.keepalive_ms = 20000;
	if (ep->o.keepalive_ms > 25000)
		ep->o.keepalive_ms = 25000;
	if (!ep->o.handshake_timeout_ms)
		ep->o.handshake_timeout_ms = 10000;
	return 0;
}

int quic_endpoint_new(struct loop *l, const struct quic_endpoint_options *o,
		      struct quic_endpoint **out)
{
	struct quic_endpoint *ep;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int r, i, one = 1;

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

		if (v.addr.family != o->bind.addr.family ||
		    ip_addr_eq(&v.addr, &o->bind.addr)) {
			r = WEFT_ERR_INVAL;
			goto out;
		}
		ep->has_virtual = true;
	}
	ep->rxbuf = calloc(RX_BATCH, RX_BUFSZ);
	ep->tx = calloc(TX_BATCH, sizeof(*ep->tx));
	if (!ep->rxbuf || !ep->tx) {
		r = WEFT_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < RX_BATCH; i++) {
		ep->rxiov[i].iov_base = ep->rxbuf[i];
		ep->rxiov[i].iov_len = RX_BUFSZ;
		ep->rxm[i].msg_hdr.msg_iov = &ep->rxiov[i];
		ep->rxm[i].msg_hdr.msg_iovlen = 1;
		ep->rxm[i].msg_hdr.msg_name = &ep->rxfrom[i];
	}
	r = rand_bytes(ep->secret, sizeof(ep->secret));
	if (r == 0)
		r = rand_bytes(&ep->cids.seed, sizeof(ep->cids.seed));
	if (r < 0)
		goto out;
	if (gnutls_certificate_allocate_credentials(&ep->cred) < 0) {
		ep->cred = NULL;
		r = WEFT_ERR_NOMEM;
		goto out;
	}
	r = ident_set_credentials(o->id, ep->cred);
	if (r < 0)
		goto out;
	gnutls_certificate_set_verify_function(ep->cred, tls_verify);
	ep->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (ep->fd < 0) {
		r = -errno;
		goto out;
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(ep->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(ep->fd, (struct sockaddr *)&ss, sslen) < 0) {
		r = -errno;
		goto out;
	}
	ep->locallen = sizeof(ep->local);
	if (getsockname(ep->fd, (struct sockaddr *)&ep->local, &ep->locallen) <
	    0) {
		r = -errno;
		goto out;
	}
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
	r = loop_io_add(l, ep->fd, LOOP_READ, on_readable, ep, &ep->io);
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
			conn_app_close(c);
		}
		reap_conn(c);
	}
	tx_flush(ep);
	if (ep->io)
		loop_io_close(ep->io, true);
	else if (ep->fd >= 0)
		close(ep->fd);
	loop_timer_del(ep->reap);
	cidmap_free(&ep->cids);
	if (ep->cred)
		gnutls_certificate_free_credentials(ep->cred);
	free(ep->rxbuf);
	free(ep->tx);
	explicit_bzero(ep->secret, sizeof(ep->secret));
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

void quic_endpoint_set_retry(struct quic_endpoint *ep, bool on)
{
	ep->o.retry = on;
}

void quic_endpoint_stats(const struct quic_endpoint *ep,
			 struct quic_endpoint_stats *out)
{
	*out = ep->est;
}

int quic_endpoint_send_raw(struct quic_endpoint *ep,
			   const struct ip_endpoint *to, const void *data,
			   size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	ssize_t n;

	if (!len || (((const uint8_t *)data)[0] & 0xc0) ||
	    ip_endpoint_to_sockaddr(to, &ss, &sslen) < 0)
		return WEFT_ERR_INVAL;
	n = sendto(ep->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss,
		   sslen);
	if (n < 0)
		return -errno;
	return 0;
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
	    (c = cidmap_get(&ep->cids, vc.dcid, vc.dcidlen)) && c->in_cb)
		return WEFT_ERR_BUSY;
	sa_path(&path, &ep->vlocal, ep->vlocallen, &ss, sslen);
	ep_input(ep, &path, data, len);
	return 0;
}

/* ---- connection API ---- */

void quic_conn_set_callbacks(struct quic_conn *c,
			     const struct quic_conn_callbacks *cbs, void *ctx)
{
	if (cbs)
		c->cbs = *cbs;
	else
		memset(&c->cbs, 0, sizeof(c->cbs));
	c->ctx = ctx;
}

size_t quic_conn_datagram_max(struct quic_conn *c)
{
	const ngtcp2_transport_params *rp;
	size_t pkt, overhead, max;

	if (c->dead || !c->accepted)
		return 0;
	rp = ngtcp2_conn_get_remote_transport_params(c->nc);
	if (!rp || !rp->max_datagram_frame_size)
		return 0;
	pkt = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->nc);
	/* Short header (1 + DCID + up to 4 packet number bytes), AEAD tag,
	 * DATAGRAM frame type and length. */
	overhead = 1 + ngtcp2_conn_get_dcid(c->nc)->datalen + 4 + 16 + 1 + 2;
	if (pkt > DGRAM_SLOT)
		pkt = DGRAM_SLOT;
	max = pkt > overhead ? pkt - overhead : 0;
	if (rp->max_datagram_frame_size < 3)
		return 0;
	if (max > rp->max_datagram_frame_size - 3)
		max = rp->max_datagram_frame_size - 3;
	return max;
}

int quic_conn_datagram(struct quic_conn *c, const void *data, size_t len)
{
	struct dgram *g;
	size_t max;

	if (c->dead || c->close_pending)
		return WEFT_ERR_CLOSED;
	max = quic_conn_datagram_max(c);
	if (!max)
		return WEFT_ERR_UNSUPPORTED;
	if (len > max)
		return WEFT_ERR_TOOBIG;
	if (!c->dq) {
		c->dq = malloc(sizeof(*c->dq) * DGRAM_QUEUE);
		if (!c->dq)
			return WEFT_ERR_NOMEM;
	}
	if (c->dq_n == DGRAM_QUEUE)
		return WEFT_ERR_BUSY;
	g = &c->dq[(c->dq_head + c->dq_n) % DGRAM_QUEUE];
	if (len)
		memcpy(g->d, data, len);
	g->len = (uint16_t)len;
	c->dq_n++;
	conn_after(c);
	return 0;
}

int quic_conn_stream_open(struct quic_conn *c, int64_t *id)
{
	int64_t sid;
	int r;

	if (c->dead || c->close_pending)
		return WEFT_ERR_CLOSED;
	r = ngtcp2_conn_open_bidi_stream(c->nc, &sid, NULL);
	if (r == NGTCP2_ERR_STREAM_ID_BLOCKED)
		return WEFT_ERR_BUSY;
	if (r != 0)
		return WEFT_ERR_NOMEM;
	r = stream_add(c, sid);
	if (r < 0) {
		ngtcp2_conn_shutdown_stream(c->nc, sid, 0);
		return r;
	}
	*id = sid;
	return 0;
}

int quic_conn_stream_send(struct quic_conn *c, int64_t id, const void *data,
			  size_t len, bool fin)
{
	struct qstream *s;
	const uint8_t *p = data;
	size_t room, take = 0;

	if (c->dead || c->close_pending)
		return WEFT_ERR_CLOSED;
	s = stream_get(c, id);
	if (!s)
		return WEFT_ERR_NOTFOUND;
	if (s->fin_pending)
		return WEFT_ERR_CLOSED;
	if (len > INT32_MAX)
		len = INT32_MAX;
	room = c->ep->o.max_stream_buffer > s->end - s->acked
		       ? c->ep->o.max_stream_buffer - (size_t)(s->end - s->acked)
		       : 0;
	while (take < len && take < room) {
		struct chunk *ch = s->tail;
		size_t n;

		if (!ch || ch->len == CHUNK_SIZE) {
			ch = malloc(sizeof(*ch));
			if (!ch) {
				if (!take)
					return WEFT_ERR_NOMEM;
				break;
			}
			ch->next = NULL;
			ch->len = 0;
			if (s->tail)
				s->tail->next = ch;
			else
				s->head = ch;
			s->tail = ch;
		}
		n = CHUNK_SIZE - ch->len;
		if (n > len - take)
			n = len - take;
		if (n > room - take)
			n = room - take;
		memcpy(ch->d + ch->len, p + take, n);
		ch->len += n;
		take += n;
	}
	s->end += take;
	if (take < len)
		s->want_writable = true;
	else if (fin)
		s->fin_pending = true;
	if (take || fin)
		conn_after(c);
	return (int)take;
}

int quic_conn_stream_shutdown(struct quic_conn *c, int64_t id,
			      uint64_t app_code)
{
	if (c->dead || !stream_get(c, id))
		return WEFT_ERR_NOTFOUND;
	ngtcp2_conn_shutdown_stream(c->nc, id, app_code);
	conn_after(c);
	return 0;
}

int quic_conn_close(struct quic_conn *c, uint64_t app_code,
		    const char *reason)
{
	if (c->dead || c->close_pending)
		return WEFT_ERR_CLOSED;
	c->close_code = app_code;
	copy_reason(c->close_reason, (const uint8_t *)(reason ? reason : ""),
		    reason ? strlen(reason) : 0);
	c->close_pending = true;
	conn_after(c);
	return 0;
}

int quic_conn_peer_key(const struct quic_conn *c, uint8_t out[IDENT_KEY_LEN])
{
	if (!c->have_peer_key)
		return WEFT_ERR_AUTH;
	memcpy(out, c->peer_key, IDENT_KEY_LEN);
	return 0;
}

const char *quic_conn_alpn(const struct quic_conn *c)
{
	return c->alpn;
}

int quic_conn_remote(struct quic_conn *c, struct ip_endpoint *out)
{
	const ngtcp2_path *p = ngtcp2_conn_get_path(c->nc);

	return ip_endpoint_from_sockaddr(p->remote.addr, p->remote.addrlen,
					 out);
}

void quic_conn_stats(struct quic_conn *c, struct quic_conn_stats *out)
{
	ngtcp2_conn_stat cs;

	*out = c->st;
	ngtcp2_conn_get_conn_stat(c->nc, &cs);
	out->rtt_us = cs.smoothed_rtt / NGTCP2_MICROSECONDS;
	out->min_rtt_us = cs.min_rtt == UINT64_MAX
				  ? 0
				  : cs.min_rtt / NGTCP2_MICROSECONDS;
	out->cwnd = cs.cwnd;
	out->is_virtual = path_is_virtual(c->ep, ngtcp2_conn_get_path(c->nc));
	quic_conn_remote(c, &out->remote);
}

int quic_conn_migrate(struct quic_conn *c, bool is_virtual,
		      const struct ip_endpoint *remote)
{
	struct quic_endpoint *ep = c->ep;
	struct sockaddr_storage rs;
	socklen_t rslen;
	ngtcp2_path path;
	int rv;

	if (c->dead || c->close_pending)
		return WEFT_ERR_CLOSED;
	if (c->server || (is_virtual && !ep->has_virtual) ||
	    ip_endpoint_to_sockaddr(remote, &rs, &rslen) < 0 ||
	    rs.ss_family != ep->local.ss_family)
		return WEFT_ERR_INVAL;
	if (!c->accepted || c->in_cb)
		return WEFT_ERR_BUSY;
	if (is_virtual)
		sa_path(&path, &ep->vlocal, ep->vlocallen, &rs, rslen);
	else
		sa_path(&path, &ep->local, ep->locallen, &rs, rslen);
	rv = ngtcp2_conn_initiate_migration(c->nc, &path, now_ts(ep));
	if (rv == NGTCP2_ERR_INVALID_ARGUMENT)
		return WEFT_ERR_INVAL;
	if (rv == NGTCP2_ERR_INVALID_STATE || rv == NGTCP2_ERR_CONN_ID_BLOCKED)
		return WEFT_ERR_BUSY;
	if (rv != 0)
		return WEFT_ERR_NOMEM;
	conn_write(c);
	return 0;
}
