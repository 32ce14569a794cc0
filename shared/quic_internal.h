/* Private to the QUIC engine (shared/quic*.c): the endpoint and connection
 * bodies and the functions the engine's files call across each other.
 * Nothing outside shared/quic*.c includes this.
 *
 *   quic.c         endpoint lifecycle, datagram routing, stateless replies
 *   quic_conn.c    connection lifecycle, write loop, ngtcp2 callbacks
 *   quic_stream.c  stream send buffers, the datagram queue and their API
 *   quic_tls.c     GnuTLS sessions, peer key check, ALPN
 *   quic_cid.c     the connection-ID map
 *   quic_io.c      the UDP socket: recvmmsg / sendmmsg batching */
#ifndef WEFT_QUIC_INTERNAL_H
#define WEFT_QUIC_INTERNAL_H

#include "shared/idmap.h"
#include "shared/loop.h"
#include "shared/quic.h"

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#define SCID_LEN 16
#define RX_BATCH 32
/* With UDP GRO one message holds several datagrams of one sender. */
#define RX_GRO_BUFSZ 65535
#define RX_BUFSZ 2048
#define RX_ROUNDS 8
#define TX_BATCH 32
#define TX_BUFSZ 1500
#define MAX_PKTS_PER_WRITE 64
#define DGRAM_QUEUE 128
#define DGRAM_SLOT NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE
/* Acknowledgement frequency (fill_settings in quic_conn.c). */
#define ACK_THRESH 10
#define ACK_DELAY_MAX (5 * NGTCP2_MILLISECONDS)
#define CHUNK_SIZE 16384
#define SECRET_LEN 32
#define RETRY_TOKEN_TIMEOUT (10 * NGTCP2_SECONDS)

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
	bool hold;         /* received bytes wait for quic_conn_stream_consume */
	unsigned blocked_gen;
};

struct dgram {
	int64_t at; /* loop time it was queued, us */
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
	/* After the close (dead): lingering while in the closing or draining
	 * period; close_pkt is our CONNECTION_CLOSE (closing only), resent
	 * when close_rx packets have arrived, a threshold that doubles. */
	bool lingering;
	uint8_t *close_pkt;
	size_t close_len;
	ngtcp2_path_storage close_ps;
	uint64_t close_rx, close_next;
	struct idmap streams; /* stream id + 1 -> struct qstream */
	struct dgram *dq;     /* ring of DGRAM_QUEUE, allocated on first use */
	unsigned dq_head, dq_n;
	uint64_t dgram_id;
	bool dq_want;         /* BUSY was returned: call on_datagram_writable */
	/* Datagrams held back to keep PROBE_RESERVE of the congestion
	 * window for keep-alive PINGs, sent every PTO << probe_shift
	 * (quic_conn.c, probe_update); probe_inflight: bytes in flight at
	 * the last write while held. */
	bool probing;
	unsigned probe_shift;
	uint64_t probe_inflight;
	struct quic_conn_stats st;
};

struct txpkt {
	struct sockaddr_storage to;
	socklen_t tolen;
	size_t len;
	uint8_t ttl; /* IP TTL / IPv6 hop limit; 0: the socket's default */
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
	/* Credentials replaced by quic_endpoint_set_ident: sessions made
	 * before the swap still point at them, so they live until the
	 * endpoint does. */
	gnutls_certificate_credentials_t *old_creds;
	size_t nold_creds;
	struct sockaddr_storage local;
	socklen_t locallen;
	/* dual_stack: 0.0.0.0 with local's port, the local address of IPv4
	 * paths (ngtcp2 sees IPv4 peers as plain IPv4 on it; the socket
	 * needs them IPv4-mapped, see quic_io.c) */
	struct sockaddr_storage local4;
	struct sockaddr_storage vlocal;
	socklen_t vlocallen;
	bool has_virtual;
	bool creating; /* inside ngtcp2_conn_*_new, see cb_rand */
	struct cidmap cids;
	struct quic_conn *conns; /* live and dead, until reaped */
	unsigned nlive;
	uint8_t secret[SECRET_LEN];       /* Retry tokens */
	uint8_t reset_secret[SECRET_LEN]; /* stateless reset tokens */
	int64_t stateless_tat; /* rate limit: theoretical arrival time, us */
	struct quic_endpoint_stats st;
	/* receive batch */
	struct mmsghdr rxm[RX_BATCH];
	struct iovec rxiov[RX_BATCH];
	struct sockaddr_storage rxfrom[RX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} rxcm[RX_BATCH];
	uint8_t *rxbuf; /* RX_BATCH buffers of rxbufsz bytes */
	size_t rxbufsz;
	/* send batch */
	struct txpkt *tx;
	unsigned ntx;
	unsigned cork; /* >0: raw sends wait in tx for the uncork */
	bool gso; /* UDP_SEGMENT in use */
	bool gro; /* UDP_GRO in use */
};

/* ngtcp2's clock: CLOCK_MONOTONIC read at each call, in nanoseconds (the
 * loop's clock too, but the loop caches it once per iteration). A cached
 * time would be older than packets sent earlier in the same iteration, so
 * an ACK that arrives meanwhile gave RTT samples of 0, a minimum RTT of 0
 * and, through ngtcp2 0.12's cap on window growth, a congestion window
 * that depended on luck (docs/internals/quic.md). */
static inline ngtcp2_tstamp quic_now_ts(const struct quic_endpoint *ep)
{
	struct timespec t;

	(void)ep;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (ngtcp2_tstamp)t.tv_sec * NGTCP2_SECONDS +
	       (ngtcp2_tstamp)t.tv_nsec;
}

/* ---- quic.c ---- */

/* Routes one datagram that arrived on path (socket or virtual). */
void quic_ep_input(struct quic_endpoint *ep, const ngtcp2_path *path,
		   const uint8_t *data, size_t len);

/* ---- quic_conn.c ---- */

/* Allocates a connection linked into ep (counted live). Returns 0,
 * WEFT_ERR_EXHAUSTED (max_conns), WEFT_ERR_NOMEM. */
int quic_conn_alloc(struct quic_endpoint *ep, bool server,
		    struct quic_conn **out);
/* Frees a connection that never got going (no callbacks). */
void quic_conn_abort(struct quic_conn *c);
/* Unlinks c from ep and its CIDs from the map, and frees it. */
void quic_conn_reap(struct quic_conn *c);
/* Closes c with its queued application code and reason; no callback
 * when cbs.on_closed was cleared. */
void quic_conn_app_close(struct quic_conn *c);
/* Creates the server connection for a client Initial that passed the
 * address checks and feeds it the packet. odcid: the original DCID when
 * the token came from our Retry, else NULL. */
void quic_conn_accept(struct quic_endpoint *ep, const ngtcp2_path *path,
		      const ngtcp2_pkt_hd *hd, const ngtcp2_cid *odcid,
		      const uint8_t *data, size_t len);
/* One received packet for c. */
void quic_conn_input(struct quic_conn *c, const ngtcp2_path *path,
		     const uint8_t *data, size_t len);
/* Sends or closes as queued, unless an ngtcp2 call is running for c. */
void quic_conn_after(struct quic_conn *c);

/* ---- quic_stream.c ---- */

struct qstream *quic_stream_get(struct quic_conn *c, int64_t id);
/* Returns 0, WEFT_ERR_NOMEM or WEFT_ERR_EXISTS. */
int quic_stream_add(struct quic_conn *c, int64_t id);
void quic_stream_free(struct quic_conn *c, int64_t id);
void quic_stream_free_all(struct quic_conn *c);
/* A stream with bytes or a FIN to send that did not block in this write
 * round, or NULL. */
struct qstream *quic_stream_next(struct quic_conn *c);
/* The unsent bytes of s that are contiguous in one chunk. */
void quic_stream_unsent(const struct qstream *s, ngtcp2_vec *v);
/* The peer acknowledged [offset, offset + len) of stream id. */
void quic_stream_acked(struct quic_conn *c, int64_t id, uint64_t offset,
		       uint64_t len);

/* ---- quic_tls.c ---- */

/* Certificate credentials of ep->o.id with the engine's peer check.
 * Returns 0 and ep->cred, WEFT_ERR_NOMEM, WEFT_ERR_CRYPTO. */
int quic_tls_cred_init(struct quic_endpoint *ep);

/* Like quic_tls_cred_init for another identity, into *out. */
int quic_tls_cred_new(const struct ident *id,
		      gnutls_certificate_credentials_t *out);
/* Creates c's GnuTLS session (client: offering alpn) and attaches it to
 * c->nc. Returns 0, WEFT_ERR_NOMEM, WEFT_ERR_CRYPTO; c->tls may be set
 * on failure and is freed with c. */
int quic_tls_setup(struct quic_conn *c, const char *alpn);
/* Copies the negotiated ALPN into c->alpn once known. */
void quic_tls_read_alpn(struct quic_conn *c);
/* WEFT_ERR_AUTH / WEFT_ERR_UNSUPPORTED / WEFT_ERR_PROTO for a transport
 * error code (CRYPTO_ERROR + alert for TLS alerts). */
int quic_tls_alert_err(uint64_t code);

/* ---- quic_cid.c ---- */

/* Fills cid with len random bytes. Returns 0 or WEFT_ERR_CRYPTO. */
int quic_cid_gen(ngtcp2_cid *cid, size_t len);
struct quic_conn *quic_cidmap_get(const struct cidmap *m, const uint8_t *b,
				  size_t n);
/* Returns 0, WEFT_ERR_INVAL, WEFT_ERR_EXISTS, WEFT_ERR_NOMEM. */
int quic_cidmap_put(struct cidmap *m, const ngtcp2_cid *cid,
		    struct quic_conn *c);
/* Removes cid if it belongs to owner (any owner when NULL). */
void quic_cidmap_del(struct cidmap *m, const uint8_t *b, size_t n,
		     const struct quic_conn *owner);
/* Removes every entry of c (slow path, used when bookkeeping missed one). */
void quic_cidmap_del_conn(struct cidmap *m, struct quic_conn *c);
void quic_cidmap_free(struct cidmap *m);

/* ---- quic_io.c ---- */

/* Allocates the batches, opens and binds the socket and records the local
 * address. Returns 0, WEFT_ERR_NOMEM or -errno. */
int quic_io_open(struct quic_endpoint *ep, const struct sockaddr_storage *ss,
		 socklen_t sslen);
/* Registers the socket in the loop. Returns 0 or what loop_io_add does. */
int quic_io_start(struct quic_endpoint *ep);
/* Closes the socket and frees the batches. */
void quic_io_close(struct quic_endpoint *ep);
/* Sends one packet on path: to send_virtual or into the batch. c may be
 * NULL (stateless packets). */
void quic_io_send(struct quic_endpoint *ep, struct quic_conn *c,
		  const ngtcp2_path *path, const uint8_t *d, size_t n);
/* The socket address for a real (not virtual) remote e, as ngtcp2 paths
 * hold it (plain IPv4 or IPv6). WEFT_ERR_INVAL when the socket cannot
 * reach e's family. */
int quic_io_sockaddr(const struct quic_endpoint *ep,
		     const struct ip_endpoint *e, struct sockaddr_storage *ss,
		     socklen_t *len);
/* Fills p for a real path to remote: the local side is the socket's
 * address in remote's family (local4 for IPv4 on a dual-stack endpoint,
 * so that ngtcp2 tells an IPv4 and an IPv6 path of one socket apart). */
void quic_io_path_real(struct quic_endpoint *ep, ngtcp2_path *p,
		       struct sockaddr_storage *remote, socklen_t remotelen);
/* Hands the batch to the kernel (best effort). */
void quic_io_flush(struct quic_endpoint *ep);
/* quic_io_flush unless the endpoint is corked: then the batch grows (up
 * to TX_BATCH) and leaves at the uncork, in fewer, larger GSO sends. */
void quic_io_push(struct quic_endpoint *ep);
void quic_io_path(ngtcp2_path *p, struct sockaddr_storage *local,
		  socklen_t locallen, struct sockaddr_storage *remote,
		  socklen_t remotelen);
/* Whether p's local address is ep's virtual one. */
bool quic_io_path_is_virtual(const struct quic_endpoint *ep,
			     const ngtcp2_path *p);

#endif
