/* QUIC connections: creation (client and server), the write loop, the
 * ngtcp2 callbacks, closing, and the connection API that is not about
 * streams or datagrams. */
#include "shared/quic_internal.h"

#include "shared/err.h"
#include "shared/rand.h"

#include <stdlib.h>
#include <string.h>

static void conn_write(struct quic_conn *c);
static void conn_fail(struct quic_conn *c, int liberr);

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
	/* Against the loop's cached clock, which the timer's deadline is
	 * counted from: the timer then never fires before exp. */
	now = (ngtcp2_tstamp)loop_now_us(c->ep->loop) * NGTCP2_MICROSECONDS;
	loop_timer_start(c->timer,
			 exp > now ? (int64_t)((exp - now + 999) / 1000) : 0);
}

void quic_conn_reap(struct quic_conn *c)
{
	struct quic_endpoint *ep = c->ep;
	size_t i;

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
				quic_cidmap_del(&ep->cids, scids[i].data,
						scids[i].datalen, c);
			free(scids);
		}
	}
	if (c->have_initial_dcid)
		quic_cidmap_del(&ep->cids, c->initial_dcid.data,
				c->initial_dcid.datalen, c);
	if (c->ncids)
		quic_cidmap_del_conn(&ep->cids, c);
	quic_stream_free_all(c);
	if (c->nc)
		ngtcp2_conn_del(c->nc);
	if (c->tls)
		gnutls_deinit(c->tls);
	loop_timer_del(c->timer);
	if (c->lingering)
		ep->st.closing--;
	free(c->close_pkt);
	free(c->dq);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

/* Marks c dead, tells the application once, and either schedules the
 * free or, with linger, keeps c (and its CIDs) for the closing or
 * draining period of RFC 9000 §10.2: three PTOs in which packets for c
 * are absorbed instead of drawing stateless resets, and a lost
 * CONNECTION_CLOSE (close_pkt) is sent again. */
static void conn_dead(struct quic_conn *c, const struct quic_close_info *i,
		      bool linger)
{
	struct quic_endpoint *ep = c->ep;

	if (c->dead)
		return;
	c->dead = true;
	ep->nlive--;
	loop_timer_stop(c->timer);
	if (linger && c->nc) {
		ngtcp2_duration pto = ngtcp2_conn_get_pto(c->nc);

		c->lingering = true;
		ep->st.closing++;
		loop_timer_start(c->timer,
				 (int64_t)(3 * pto / NGTCP2_MICROSECONDS) + 1);
	} else {
		loop_timer_start(ep->reap, 0);
	}
	if (c->cbs.on_closed && (!c->server || c->accepted))
		c->cbs.on_closed(c, i, c->ctx);
}

/* The closing or draining period is over: free c at the next reap. */
static void conn_linger_end(struct quic_conn *c)
{
	if (!c->lingering)
		return;
	c->lingering = false;
	c->ep->st.closing--;
	loop_timer_start(c->ep->reap, 0);
}

/* A packet for c while closing: resend our CONNECTION_CLOSE after 1, 2,
 * 4, ... packets, so a peer cannot make us send more than it does and
 * the rate falls off (RFC 9000 §10.2.1). Draining: stay silent. */
static void conn_linger_input(struct quic_conn *c)
{
	if (!c->lingering || !c->close_pkt)
		return;
	if (++c->close_rx < c->close_next)
		return;
	c->close_next *= 2;
	c->ep->st.close_resent++;
	quic_io_send(c->ep, c, &c->close_ps.path, c->close_pkt, c->close_len);
	quic_io_flush(c->ep);
}

/* Writes the terminal packet for ccerr (best effort) and keeps it for the
 * closing period. */
static void write_close(struct quic_conn *c,
			const ngtcp2_connection_close_error *ccerr)
{
	ngtcp2_pkt_info pi;
	uint8_t buf[TX_BUFSZ];
	ngtcp2_ssize n;

	if (ngtcp2_conn_is_in_closing_period(c->nc) ||
	    ngtcp2_conn_is_in_draining_period(c->nc))
		return;
	ngtcp2_path_storage_zero(&c->close_ps);
	n = ngtcp2_conn_write_connection_close(c->nc, &c->close_ps.path, &pi,
					       buf, NGTCP2_MAX_UDP_PAYLOAD_SIZE,
					       ccerr, quic_now_ts(c->ep));
	if (n <= 0)
		return;
	quic_io_send(c->ep, c, &c->close_ps.path, buf, (size_t)n);
	quic_io_flush(c->ep);
	c->close_pkt = malloc((size_t)n);
	if (!c->close_pkt)
		return; /* no resends, the peer will time out or be reset */
	memcpy(c->close_pkt, buf, (size_t)n);
	c->close_len = (size_t)n;
	c->close_next = 1;
}

/* Closes c locally with an application code. */
void quic_conn_app_close(struct quic_conn *c)
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
	conn_dead(c, &i, c->close_pkt != NULL);
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
			i.err = quic_tls_alert_err(ccerr.error_code);
		}
		conn_dead(c, &i, i.remote || c->close_pkt != NULL);
		return;
	}
	if (liberr == NGTCP2_ERR_IDLE_CLOSE ||
	    liberr == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
		/* RFC 9000 §10.1: the state is discarded silently. */
		i.err = WEFT_ERR_TIMEOUT;
		conn_dead(c, &i, false);
		return;
	}
	if (liberr == NGTCP2_ERR_DROP_CONN) {
		i.err = WEFT_ERR_CLOSED;
		conn_dead(c, &i, false);
		return;
	}
	ngtcp2_connection_close_error_default(&ccerr);
	if (liberr == NGTCP2_ERR_CRYPTO) {
		alert = ngtcp2_conn_get_tls_alert(c->nc);
		ngtcp2_connection_close_error_set_transport_error_tls_alert(
			&ccerr, alert, NULL, 0);
		i.code = NGTCP2_CRYPTO_ERROR + alert;
		i.err = quic_tls_alert_err(i.code);
	} else {
		ngtcp2_connection_close_error_set_transport_error_liberr(
			&ccerr, liberr, NULL, 0);
		i.code = ccerr.error_code;
		i.err = WEFT_ERR_PROTO;
	}
	if (c->auth_failed)
		i.err = WEFT_ERR_AUTH;
	write_close(c, &ccerr);
	conn_dead(c, &i, c->close_pkt != NULL);
}

/* Work that waits until no ngtcp2 call is running for c. */
void quic_conn_after(struct quic_conn *c)
{
	if (c->dead || c->in_cb)
		return;
	if (c->close_pending)
		quic_conn_app_close(c);
	else
		conn_write(c);
}

/* Drops the oldest queued datagram if it waited longer than
 * dgram_max_age_ms; returns whether it did. */
static bool dgram_stale(struct quic_conn *c)
{
	int64_t now = loop_now_us(c->ep->loop);

	if (now - c->dq[c->dq_head].at <=
	    (int64_t)c->ep->o.dgram_max_age_ms * 1000)
		return false;
	c->st.dgrams_stale++;
	c->dq_head = (c->dq_head + 1) % DGRAM_QUEUE;
	c->dq_n--;
	return true;
}

/* ngtcp2 0.12 arms no probe timeout (PTO) for packets that carry only
 * DATAGRAM frames (it does from 0.14). If such packets fill the
 * congestion window and are lost with their path, no ACK ever frees the
 * window, no probe may exceed it, and the connection is silent until it
 * idles out. So datagrams leave this much of the window free, and while
 * they are held back the keep-alive timeout is the PTO, doubled at each
 * PING sent: a PING that gets through after the path heals is
 * acknowledged, and the ACK declares the lost datagram packets lost. */
#define PROBE_RESERVE 1024
/* The longest wait between those PINGs: at most this long after the path
 * heals, and about 20 PINGs of some 40 bytes (within the reserve) in the
 * 30 s idle timeout. */
#define PROBE_MAX_NS (2000 * NGTCP2_MILLISECONDS)

/* Whether a datagram packet fits the window with PROBE_RESERVE left. */
static bool dgram_room(struct quic_conn *c)
{
	return ngtcp2_conn_get_cwnd_left(c->nc) >=
	       ngtcp2_conn_get_path_max_tx_udp_payload_size(c->nc) +
		       PROBE_RESERVE;
}

/* Sets the keep-alive timeout while the window has no room for datagrams
 * (held; whether any are queued or not, as they go stale after 1 s) or
 * back to keepalive_ms. */
static void probe_update(struct quic_conn *c, bool held)
{
	ngtcp2_duration ka = (ngtcp2_duration)c->ep->o.keepalive_ms *
			     NGTCP2_MILLISECONDS;
	ngtcp2_duration t;
	ngtcp2_conn_stat cs;

	if (!held) {
		if (c->probing)
			ngtcp2_conn_set_keep_alive_timeout(c->nc, ka);
		c->probing = false;
		return;
	}
	ngtcp2_conn_get_conn_stat(c->nc, &cs);
	if (!c->probing) {
		c->probing = true;
		c->probe_shift = 0;
	} else if (cs.bytes_in_flight > c->probe_inflight &&
		   c->probe_shift < 16) {
		c->probe_shift++; /* a PING (or more) went out and is unacked */
	}
	c->probe_inflight = cs.bytes_in_flight;
	t = ngtcp2_conn_get_pto(c->nc) << c->probe_shift;
	if (t > PROBE_MAX_NS)
		t = PROBE_MAX_NS;
	ngtcp2_conn_set_keep_alive_timeout(c->nc, t < ka ? t : ka);
}

void quic_conn_probe(struct quic_conn *c)
{
	if (c->dead || !c->probing)
		return;
	/* Expired at once; probe_update starts the backoff again after. */
	c->probe_shift = 0;
	c->probe_inflight = UINT64_MAX;
	ngtcp2_conn_set_keep_alive_timeout(c->nc, 1);
	quic_conn_after(c);
}

static void conn_write(struct quic_conn *c)
{
	struct quic_endpoint *ep = c->ep;
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	uint8_t buf[TX_BUFSZ];
	ngtcp2_tstamp ts = quic_now_ts(ep);
	size_t pktmax, maxpkts, npkts = 0;
	ngtcp2_ssize nw, ndata;
	ngtcp2_vec v;
	int accepted;

	if (c->dead || c->in_cb)
		return;
	c->write_gen++;
	/* The buffer must hold the largest packet ngtcp2 may write, not the
	 * current path's size: path MTU discovery probes are larger than the
	 * path's size by design, and with a path-sized buffer they were never
	 * written (every path stayed at 1200 bytes). ngtcp2 keeps ordinary
	 * packets to the path's size itself. */
	pktmax = ngtcp2_conn_get_max_tx_udp_payload_size(c->nc);
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

		if (c->dq_n && c->accepted && dgram_stale(c)) {
			continue;
		} else if (c->dq_n && c->accepted && dgram_room(c)) {
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
		} else if ((s = quic_stream_next(c))) {
			uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;

			quic_stream_unsent(s, &v);
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
			quic_io_flush(ep);
			conn_fail(c, (int)nw);
			return;
		}
		if (nw == 0)
			break;
		quic_io_send(ep, c, &ps.path, buf, (size_t)nw);
		npkts++;
		ngtcp2_path_storage_zero(&ps);
	}
	c->in_cb--;
	ngtcp2_conn_update_pkt_tx_time(c->nc, ts);
	quic_io_push(ep);
	probe_update(c, c->accepted && !dgram_room(c));
	conn_arm_timer(c);
	if (c->dq_want && c->dq_n <= DGRAM_QUEUE / 2) {
		c->dq_want = false;
		if (c->cbs.on_datagram_writable) {
			c->in_cb++;
			c->cbs.on_datagram_writable(c, c->ctx);
			c->in_cb--;
			quic_conn_after(c);
		}
	}
}

static void on_conn_timer(struct loop_timer *t, void *ctx)
{
	struct quic_conn *c = ctx;
	int rv;

	if (c->dead) {
		conn_linger_end(c);
		return;
	}
	c->in_cb++;
	rv = ngtcp2_conn_handle_expiry(c->nc, quic_now_ts(c->ep));
	c->in_cb--;
	if (rv != 0) {
		conn_fail(c, rv);
		return;
	}
	quic_conn_after(c);
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
		if (quic_cid_gen(cid, cidlen) < 0)
			return NGTCP2_ERR_CALLBACK_FAILURE;
	} while (quic_cidmap_get(&c->ep->cids, cid->data, cid->datalen));
	if (ngtcp2_crypto_generate_stateless_reset_token(
		    token, c->ep->reset_secret, SECRET_LEN, cid) != 0 ||
	    quic_cidmap_put(&c->ep->cids, cid, c) < 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cb_remove_cid(ngtcp2_conn *nc, const ngtcp2_cid *cid, void *ud)
{
	struct quic_conn *c = ud;

	quic_cidmap_del(&c->ep->cids, cid->data, cid->datalen, c);
	return 0;
}

static int cb_handshake_completed(ngtcp2_conn *nc, void *ud)
{
	struct quic_conn *c = ud;

	quic_tls_read_alpn(c);
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
	struct qstream *s;

	if (c->cbs.on_stream_data && c->accepted)
		c->cbs.on_stream_data(c, id, data, len,
				      flags & NGTCP2_STREAM_DATA_FLAG_FIN,
				      c->ctx);
	/* Consumed at once (flow control only bounds what is in flight)
	 * unless the application holds the stream's bytes. The connection's
	 * window always moves on: one held stream must not stall others. */
	s = quic_stream_get(c, id);
	if (!s || !s->hold)
		ngtcp2_conn_extend_max_stream_offset(nc, id, len);
	ngtcp2_conn_extend_max_offset(nc, len);
	return 0;
}

static int cb_acked_stream_data(ngtcp2_conn *nc, int64_t id, uint64_t offset,
				uint64_t len, void *ud, void *sud)
{
	quic_stream_acked(ud, id, offset, len);
	return 0;
}

static int cb_stream_open(ngtcp2_conn *nc, int64_t id, void *ud)
{
	struct quic_conn *c = ud;

	if (!ngtcp2_is_bidi_stream(id))
		return 0;
	return quic_stream_add(c, id) < 0 ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int cb_stream_close(ngtcp2_conn *nc, uint32_t flags, int64_t id,
			   uint64_t app_code, void *ud, void *sud)
{
	struct quic_conn *c = ud;

	if (!quic_stream_get(c, id))
		return 0;
	quic_stream_free(c, id);
	if (!ngtcp2_conn_is_local_stream(nc, id))
		ngtcp2_conn_extend_max_streams_bidi(nc, 1);
	if (c->cbs.on_stream_closed && c->accepted)
		c->cbs.on_stream_closed(
			c, id,
			(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)
				? app_code
				: 0,
			c->ctx);
	return 0;
}

static int cb_path_validation(ngtcp2_conn *nc, uint32_t flags,
			      const ngtcp2_path *path,
			      ngtcp2_path_validation_result res, void *ud)
{
	struct quic_conn *c = ud;

	if (c->cbs.on_path && c->accepted)
		c->cbs.on_path(c, quic_io_path_is_virtual(c->ep, path),
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

/* The socket address of a path's remote: a virtual one in the virtual
 * local address's family, a real one as the socket reaches it. */
static int remote_sockaddr(const struct quic_endpoint *ep, bool is_virtual,
			   const struct ip_endpoint *e,
			   struct sockaddr_storage *ss, socklen_t *len)
{
	if (!is_virtual)
		return quic_io_sockaddr(ep, e, ss, len);
	if (ip_endpoint_to_sockaddr(e, ss, len) < 0 ||
	    ss->ss_family != ep->vlocal.ss_family)
		return WEFT_ERR_INVAL;
	return 0;
}

static void fill_settings(const struct quic_endpoint *ep, ngtcp2_settings *s,
			  ngtcp2_transport_params *p)
{
	ngtcp2_settings_default(s);
	s->rand_ctx.native_handle = (void *)&ep->creating;
	s->initial_ts = quic_now_ts(ep);
	/* Low, so that a LAN handshake does not wait on a 333 ms guess. */
	s->initial_rtt = 10 * NGTCP2_MILLISECONDS;
	/* Acknowledge every ACK_THRESH-th ack-eliciting packet rather than
	 * ngtcp2's every second one, and at the latest after ACK_DELAY_MAX
	 * (which the peer learns as max_ack_delay): a tunnel at line rate
	 * otherwise sends an ACK-only packet for every two data packets and
	 * spends more time on ACKs than on data (docs/internals/quic.md). */
	s->ack_thresh = ACK_THRESH;
	s->handshake_timeout =
		(ngtcp2_duration)ep->o.handshake_timeout_ms * NGTCP2_MILLISECONDS;
	ngtcp2_transport_params_default(p);
	p->initial_max_stream_data_bidi_local = 1 << 20;
	p->initial_max_stream_data_bidi_remote = 1 << 20;
	p->initial_max_stream_data_uni = 0;
	p->initial_max_data = 4 << 20;
	p->initial_max_streams_bidi = ep->o.max_streams_bidi;
	p->initial_max_streams_uni = 0;
	p->max_idle_timeout =
		(ngtcp2_duration)ep->o.idle_timeout_ms * NGTCP2_MILLISECONDS;
	p->max_datagram_frame_size = 65535;
	p->active_connection_id_limit = 8;
	p->max_udp_payload_size = RX_BUFSZ;
	p->max_ack_delay = ACK_DELAY_MAX;
	/* Never let the peer clear the fixed bit (RFC 9287): the socket is
	 * shared with non-QUIC traffic told apart by exactly that bit. */
	p->grease_quic_bit = 0; /* ignored by 0.12, see cb_rand */
}
int quic_conn_alloc(struct quic_endpoint *ep, bool server,
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

void quic_conn_abort(struct quic_conn *c)
{
	c->ep->nlive--;
	quic_conn_reap(c);
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
	    remote_sockaddr(ep, o->is_virtual, &o->remote, &rs, &rslen) < 0)
		return WEFT_ERR_INVAL;
	r = quic_conn_alloc(ep, false, &c);
	if (r < 0)
		return r;
	if (cbs)
		c->cbs = *cbs;
	c->ctx = ctx;
	memcpy(c->pin, o->pin, IDENT_KEY_LEN);
	r = quic_cid_gen(&dcid, 16);
	if (r == 0)
		r = quic_cid_gen(&scid, SCID_LEN);
	if (r < 0)
		goto out;
	if (o->is_virtual)
		quic_io_path(&path, &ep->vlocal, ep->vlocallen, &rs, rslen);
	else
		quic_io_path_real(ep, &path, &rs, rslen);
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
	r = quic_tls_setup(c, o->alpn);
	if (r < 0)
		goto out;
	r = quic_cidmap_put(&ep->cids, &scid, c);
	if (r < 0)
		goto out;
	/* The first flight leaves from the loop, so that a failure is
	 * reported through on_closed rather than from inside this call. */
	loop_timer_start(c->timer, 0);
	*out = c;
out:
	if (r < 0)
		quic_conn_abort(c);
	return r;
}

void quic_conn_accept(struct quic_endpoint *ep, const ngtcp2_path *path,
		      const ngtcp2_pkt_hd *hd, const ngtcp2_cid *odcid,
		      const uint8_t *data, size_t len)
{
	ngtcp2_cid scid;
	ngtcp2_callbacks ncb;
	ngtcp2_settings s;
	ngtcp2_transport_params p;
	struct quic_conn *c = NULL;
	int rv;

	if (quic_conn_alloc(ep, true, &c) < 0)
		return;
	if (quic_cid_gen(&scid, SCID_LEN) < 0)
		goto fail;
	fill_callbacks(&ncb, true);
	fill_settings(ep, &s, &p);
	if (odcid) {
		p.original_dcid = *odcid;
		p.retry_scid = hd->dcid;
		p.retry_scid_present = 1;
		s.token = hd->token;
	} else {
		p.original_dcid = hd->dcid;
	}
	if (ngtcp2_crypto_generate_stateless_reset_token(
		    p.stateless_reset_token, ep->reset_secret, SECRET_LEN,
		    &scid) != 0)
		goto fail;
	p.stateless_reset_token_present = 1;
	ep->creating = true;
	rv = ngtcp2_conn_server_new(&c->nc, &hd->scid, &scid, path,
				    hd->version, &ncb, &s, &p, NULL, c);
	ep->creating = false;
	if (rv != 0)
		goto fail;
	ngtcp2_conn_set_keep_alive_timeout(
		c->nc, (ngtcp2_duration)ep->o.keepalive_ms * NGTCP2_MILLISECONDS);
	if (quic_tls_setup(c, NULL) < 0 ||
	    quic_cidmap_put(&ep->cids, &scid, c) < 0)
		goto fail;
	c->initial_dcid = hd->dcid;
	if (quic_cidmap_put(&ep->cids, &hd->dcid, c) < 0)
		goto fail;
	c->have_initial_dcid = true;
	quic_conn_input(c, path, data, len);
	return;
fail:
	quic_conn_abort(c);
}

void quic_conn_input(struct quic_conn *c, const ngtcp2_path *path,
		     const uint8_t *data, size_t len)
{
	int rv;

	if (c->dead) {
		conn_linger_input(c);
		return;
	}
	if (c->in_cb)
		return;
	c->st.pkts_recv++;
	c->st.bytes_recv += len;
	c->in_cb++;
	rv = ngtcp2_conn_read_pkt(c->nc, path, NULL, data, len,
				  quic_now_ts(c->ep));
	c->in_cb--;
	if (rv != 0) {
		conn_fail(c, rv);
		return;
	}
	quic_conn_after(c);
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

int quic_conn_close(struct quic_conn *c, uint64_t app_code,
		    const char *reason)
{
	if (c->dead || c->close_pending)
		return WEFT_ERR_CLOSED;
	c->close_code = app_code;
	copy_reason(c->close_reason, (const uint8_t *)(reason ? reason : ""),
		    reason ? strlen(reason) : 0);
	c->close_pending = true;
	quic_conn_after(c);
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
	out->pto_count = cs.pto_count;
	out->bytes_in_flight = cs.bytes_in_flight;
	out->is_virtual =
		quic_io_path_is_virtual(c->ep, ngtcp2_conn_get_path(c->nc));
	quic_conn_remote(c, &out->remote);
}

static int migrate(struct quic_conn *c, bool is_virtual,
		   const struct ip_endpoint *remote, bool immediate)
{
	struct quic_endpoint *ep = c->ep;
	struct sockaddr_storage rs;
	socklen_t rslen;
	ngtcp2_path path;
	int rv;

	if (c->dead || c->close_pending)
		return WEFT_ERR_CLOSED;
	if (c->server || (is_virtual && !ep->has_virtual) ||
	    remote_sockaddr(ep, is_virtual, remote, &rs, &rslen) < 0)
		return WEFT_ERR_INVAL;
	if (!c->accepted || c->in_cb)
		return WEFT_ERR_BUSY;
	if (is_virtual)
		quic_io_path(&path, &ep->vlocal, ep->vlocallen, &rs, rslen);
	else
		quic_io_path_real(ep, &path, &rs, rslen);
	rv = immediate ? ngtcp2_conn_initiate_immediate_migration(
				 c->nc, &path, quic_now_ts(ep))
		       : ngtcp2_conn_initiate_migration(c->nc, &path,
							quic_now_ts(ep));
	if (rv == NGTCP2_ERR_INVALID_ARGUMENT)
		return WEFT_ERR_INVAL;
	if (rv == NGTCP2_ERR_INVALID_STATE || rv == NGTCP2_ERR_CONN_ID_BLOCKED)
		return WEFT_ERR_BUSY;
	if (rv != 0)
		return WEFT_ERR_NOMEM;
	conn_write(c);
	return 0;
}

int quic_conn_migrate(struct quic_conn *c, bool is_virtual,
		      const struct ip_endpoint *remote)
{
	return migrate(c, is_virtual, remote, false);
}

int quic_conn_migrate_now(struct quic_conn *c, bool is_virtual,
			  const struct ip_endpoint *remote)
{
	return migrate(c, is_virtual, remote, true);
}
