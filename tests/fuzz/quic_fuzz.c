/* Feeds arbitrary datagrams into the QUIC engine.
 *
 * Set up once per process: a server and a client endpoint in one loop with
 * an established connection between them over the virtual (relayed) path.
 * Each input's first byte picks where the rest goes:
 *   0: the server endpoint, as is (unknown CIDs: new connections, Retry,
 *      stateless resets, Version Negotiation, garbage);
 *   1: the client connection: the DCID is overwritten with the client's
 *      connection ID, so the bytes reach ngtcp2's packet decoder;
 *   2: the same for the server's side of the connection;
 *   3: the client endpoint, as is.
 * Invariants: nothing crashes or leaks, unauthenticated bytes never close
 * the established connection, and the server never holds more connections
 * than max_conns. */
#include "shared/err.h"
#include "shared/ident.h"
#include "shared/ip.h"
#include "shared/loop.h"
#include "shared/quic.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CID_LEN 16 /* the engine's connection ID length */
#define MAX_CONNS 32
#define PKT_MAX 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct vpkt {
	struct vpkt *next;
	bool to_srv;
	size_t len;
	uint8_t d[];
};

struct fz {
	struct loop *l;
	struct ident *sid, *cid;
	struct quic_endpoint *srv, *cli;
	struct ip_endpoint srv_vaddr, cli_vaddr;
	struct quic_conn *cc, *sc;
	bool ready, established, closed;
	uint8_t cli_cid[CID_LEN], srv_cid[CID_LEN];
	bool have_cli_cid, have_srv_cid;
	struct vpkt *q, **qtail;
};

static struct fz fz;

static void on_established(struct quic_conn *c, void *ctx)
{
	fz.established = true;
}

static void on_closed(struct quic_conn *c, const struct quic_close_info *i,
		      void *ctx)
{
	fz.closed = true;
	if (c == fz.cc)
		fz.cc = NULL;
	if (c == fz.sc)
		fz.sc = NULL;
}

static const struct quic_conn_callbacks cbs = {
	.on_established = on_established,
	.on_closed = on_closed,
};

static bool accept_peer(struct quic_endpoint *ep, const char *alpn,
			const uint8_t key[IDENT_KEY_LEN], void *ctx)
{
	return true;
}

static void on_accept(struct quic_endpoint *ep, struct quic_conn *c,
		      const char *alpn, void *ctx)
{
	/* Only the first connection is the pair; fuzzed Initials may
	 * complete nothing, but keep the bookkeeping honest anyway. */
	if (!fz.sc)
		fz.sc = c;
	quic_conn_set_callbacks(c, c == fz.sc ? &cbs : NULL, NULL);
}

/* Packets of the established pair are shuttled to the other endpoint;
 * once set up, everything else (answers to fuzzed packets) is dropped.
 * Short-header packets reveal the receiver's connection ID. */
static int send_virtual(struct quic_endpoint *ep, struct quic_conn *c,
			const struct ip_endpoint *to, const uint8_t *d,
			size_t n, void *ctx)
{
	bool to_srv = ep == fz.cli;
	struct vpkt *p;

	if (fz.ready && (!c || (c != fz.cc && c != fz.sc)))
		return 0;
	if (n > 1 + CID_LEN && !(d[0] & 0x80)) {
		memcpy(to_srv ? fz.srv_cid : fz.cli_cid, d + 1, CID_LEN);
		*(to_srv ? &fz.have_srv_cid : &fz.have_cli_cid) = true;
	}
	p = malloc(sizeof(*p) + n);
	if (!p)
		return WEFT_ERR_NOMEM;
	p->next = NULL;
	p->to_srv = to_srv;
	p->len = n;
	memcpy(p->d, d, n);
	*fz.qtail = p;
	fz.qtail = &p->next;
	return 0;
}

static void shuttle(void)
{
	struct vpkt *p;

	while ((p = fz.q)) {
		fz.q = p->next;
		if (!fz.q)
			fz.qtail = &fz.q;
		quic_endpoint_input_virtual(p->to_srv ? fz.srv : fz.cli,
					    p->to_srv ? &fz.cli_vaddr
						      : &fz.srv_vaddr,
					    p->d, p->len);
		free(p);
	}
}

static void teardown(void)
{
	struct vpkt *p;

	quic_endpoint_del(fz.cli);
	quic_endpoint_del(fz.srv);
	while ((p = fz.q)) {
		fz.q = p->next;
		free(p);
	}
	loop_del(fz.l);
	ident_del(fz.sid);
	ident_del(fz.cid);
}

static const char *const alpns[] = {QUIC_ALPN_PEER, NULL};

static void setup(void)
{
	struct quic_endpoint_options so = {0}, co = {0};
	struct quic_connect_options o = {0};
	struct ip_endpoint a;
	int64_t end;

	fz.qtail = &fz.q;
	if (loop_new(&fz.l) < 0 || ident_generate(&fz.sid) < 0 ||
	    ident_generate(&fz.cid) < 0)
		abort();
	ip_endpoint_parse("127.0.0.1:1", &so.bind);
	so.bind.port = 0;
	co.bind = so.bind;
	so.id = fz.sid;
	so.alpns = alpns;
	so.accept_peer = accept_peer;
	so.on_accept = on_accept;
	so.send_virtual = send_virtual;
	so.max_conns = MAX_CONNS;
	so.idle_timeout_ms = 3600 * 1000;
	ip_endpoint_parse("127.255.0.2:1", &so.virtual_local);
	co.id = fz.cid;
	co.send_virtual = send_virtual;
	co.idle_timeout_ms = 3600 * 1000;
	ip_endpoint_parse("127.255.0.1:1", &co.virtual_local);
	if (quic_endpoint_new(fz.l, &so, &fz.srv) < 0 ||
	    quic_endpoint_new(fz.l, &co, &fz.cli) < 0)
		abort();
	quic_endpoint_local(fz.srv, &a);
	fz.srv_vaddr = so.virtual_local;
	fz.srv_vaddr.port = a.port;
	quic_endpoint_local(fz.cli, &a);
	fz.cli_vaddr = co.virtual_local;
	fz.cli_vaddr.port = a.port;
	o.remote = fz.srv_vaddr;
	o.is_virtual = true;
	o.alpn = QUIC_ALPN_PEER;
	ident_public_key(fz.sid, o.pin);
	if (quic_connect(fz.cli, &o, &cbs, NULL, &fz.cc) < 0)
		abort();
	/* Until both sides have sent a short-header packet, so both
	 * connection IDs are known. */
	end = loop_now_us(fz.l) + 5 * 1000 * 1000;
	while (!fz.established || !fz.have_cli_cid || !fz.have_srv_cid) {
		if (fz.closed || loop_now_us(fz.l) > end)
			abort();
		loop_run_once(fz.l, 5);
		shuttle();
		if (fz.established && (!fz.have_cli_cid || !fz.have_srv_cid))
			quic_conn_datagram(fz.cc, "x", 1);
	}
	fz.ready = true;
	atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pkt[PKT_MAX];
	size_t n;
	int mode;

	if (!fz.l)
		setup();
	if (size < 1 || size - 1 > sizeof(pkt))
		return 0;
	mode = data[0] & 3;
	n = size - 1;
	memcpy(pkt, data + 1, n);
	if ((mode == 1 || mode == 2) && n > 1 + CID_LEN) {
		/* A short-header packet for the connection. */
		pkt[0] = (uint8_t)((pkt[0] & 0x3f) | 0x40);
		memcpy(pkt + 1, mode == 1 ? fz.cli_cid : fz.srv_cid, CID_LEN);
	}
	if (mode == 0 || mode == 2)
		quic_endpoint_input_virtual(fz.srv, &fz.cli_vaddr, pkt, n);
	else
		quic_endpoint_input_virtual(fz.cli, &fz.srv_vaddr, pkt, n);
	/* Timers (reaping, the pair's ACKs) and the pair's own traffic. */
	loop_run_once(fz.l, 0);
	shuttle();
	if (fz.closed || !fz.cc || !fz.sc)
		abort();
	if (quic_endpoint_conn_count(fz.srv) > MAX_CONNS)
		abort();
	return 0;
}
