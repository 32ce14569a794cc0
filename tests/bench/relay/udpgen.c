/* udpgen: traffic generator and sink for the relay benchmark.
 *
 *   udpgen send -b BIND [-d DEST] [-s SIZE] [-t SECONDS] [-f -n NODE] [RELAY]
 *   udpgen recv -b BIND [-s SIZE] [-t SECONDS] [-f] [RELAY]
 *   RELAY: -r ADDR:PORT -p PIN -k TOKEN_FILE
 *
 * send blasts SIZE-byte payloads (default 1200) to DEST for SECONDS
 * (default 5) with sendmmsg, as fast as the socket takes them. recv counts
 * what arrives with recvmmsg, from the first datagram until none came for
 * a second (or SECONDS, default 10, pass), and reports packets/s and
 * payload Mbit/s over the first..last interval. A message that UDP GRO
 * coalesced (the relay's QUIC socket turns GRO on) counts as the
 * datagrams in it, cut at its UDP_GRO segment size.
 *
 * -f: speak relay frames: send wraps each payload in RELAY_SEND to node
 * NODE (-n), recv counts only RELAY_RECV frames. With RELAY options the tool
 * first authenticates to weft-relay over QUIC with the token (exactly as
 * a node does), then blasts from the same UDP socket, so the relay knows
 * the sender and the receiver by their authenticated addresses. DEST
 * defaults to the relay.
 *
 * Output, one line on stdout:
 *   udpgen send: packets N seconds S pps P
 *   udpgen recv: packets N seconds S pps P mbps M messages K truncated T
 * (K: recvmmsg messages that carried counted datagrams; T: messages cut
 * because they did not fit a 64 KB buffer, should be 0). */
#include "shared/err.h"
#include "shared/ident.h"
#include "shared/ip.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/relayconn.h"
#include "shared/wire.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define BUF_SIZE 2048
#define RX_BUF_SIZE 65536 /* a whole UDP GRO message */
#define SOCK_BUF (8 << 20)
#define AUTH_TIMEOUT_MS 10000
#define IDLE_END_MS 1000

struct opts {
	bool send;
	struct ip_endpoint bind, dest, relay;
	bool have_dest, have_relay, frames;
	const char *pin, *token_file;
	uint64_t node;
	int size, seconds;
};

/* The QUIC control connection that authenticates the socket
 * (shared/relayconn, the relay client the agent and the probe use). */
struct auth {
	struct loop *loop;
	struct quic_endpoint *ep;
	struct relayconn *rc;
	struct ident *id;
	char *token;
	int state; /* 0 pending, 1 authenticated, -1 failed */
};

static void usage(void)
{
	fprintf(stderr,
		"usage: udpgen send|recv -b BIND [-d DEST] [-s SIZE] "
		"[-t SECONDS] [-f [-n NODE]] [-r RELAY -p PIN -k TOKEN_FILE]\n");
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses ADDR:PORT, where port 0 means any free port when any_port. */
static void parse_ep(const char *s, struct ip_endpoint *out, bool any_port)
{
	char buf[IP_ENDPOINT_STRLEN + 1];
	size_t n = strlen(s);
	bool zero = any_port && n >= 2 && n < sizeof(buf) &&
		    strcmp(s + n - 2, ":0") == 0;

	if (zero) {
		memcpy(buf, s, n + 1);
		buf[n - 1] = '1';
		s = buf;
	}
	if (ip_endpoint_parse(s, out) != 0) {
		fprintf(stderr, "udpgen: bad address '%s'\n", s);
		exit(2);
	}
	if (zero)
		out->port = 0;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	int opt;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "send") == 0)
		o->send = true;
	else if (strcmp(argv[1], "recv") != 0)
		usage();
	o->size = 1200;
	o->seconds = o->send ? 5 : 10;
	parse_ep("127.0.0.1:0", &o->bind, true);
	optind = 2;
	while ((opt = getopt(argc, argv, "b:d:s:t:fn:r:p:k:")) != -1) {
		switch (opt) {
		case 'b':
			parse_ep(optarg, &o->bind, true);
			break;
		case 'd':
			parse_ep(optarg, &o->dest, false);
			o->have_dest = true;
			break;
		case 's':
			o->size = atoi(optarg);
			break;
		case 't':
			o->seconds = atoi(optarg);
			break;
		case 'f':
			o->frames = true;
			break;
		case 'n':
			o->node = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			parse_ep(optarg, &o->relay, false);
			o->have_relay = true;
			break;
		case 'p':
			o->pin = optarg;
			break;
		case 'k':
			o->token_file = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->size < WIRE_PAYLOAD_MIN ||
	    o->size > WIRE_PAYLOAD_MAX || o->seconds <= 0)
		usage();
	if (o->have_relay && (!o->pin || !o->token_file))
		usage();
	if (!o->have_dest && o->have_relay) {
		o->dest = o->relay;
		o->have_dest = true;
	}
	if (o->send && (!o->have_dest || (o->frames && o->node == 0)))
		usage();
}

static int read_token(const char *path, char **out)
{
	char buf[WIRE_MSG_BODY_MAX + 2];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	*out = strdup(buf);
	return *out ? 0 : WEFT_ERR_NOMEM;
}

static void on_established(void *ctx)
{
	struct auth *a = ctx;

	if (relayconn_auth(a->rc, a->token) < 0)
		relayconn_close(a->rc, WIRE_CLOSE_PROTOCOL_ERROR,
				"cannot send AUTH");
}

static void on_msg(const struct wire_msg *m, void *ctx)
{
	struct auth *a = ctx;

	if (m->type == WIRE_MSG_AUTH_OK && a->state == 0) {
		a->state = 1;
		loop_stop(a->loop);
	}
}

static void on_closed(const struct quic_close_info *i, bool silent,
		      void *ctx)
{
	struct auth *a = ctx;

	(void)silent;
	fprintf(stderr, "udpgen: relay connection closed: code %llu %s\n",
		(unsigned long long)i->code, i->reason);
	a->state = -1;
	loop_stop(a->loop);
}

static const struct relayconn_callbacks auth_cbs = {
	.on_established = on_established,
	.on_msg = on_msg,
	.on_closed = on_closed,
};

/* The fd of the UDP socket bound to local: the QUIC endpoint does not hand
 * its socket out, and the benchmark must blast from exactly that one. */
static int find_socket(const struct ip_endpoint *local)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct ip_endpoint e;
		int type;
		socklen_t tlen = sizeof(type);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
		    type != SOCK_DGRAM ||
		    getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
		    ip_endpoint_from_sockaddr((struct sockaddr *)&ss, len,
					      &e) != 0)
			continue;
		if (e.port == local->port && ip_addr_eq(&e.addr, &local->addr))
			return fd;
	}
	return -1;
}

/* Connects to the relay, authenticates and returns the socket fd, or -1. */
static int relay_auth(const struct opts *o, struct auth *a)
{
	struct quic_endpoint_options eo = {0};
	struct ip_endpoint local;
	uint8_t pin[IDENT_KEY_LEN];
	double deadline = now_s() + AUTH_TIMEOUT_MS / 1000.0;

	if (ident_pin_from_b64(o->pin, pin) < 0) {
		fprintf(stderr, "udpgen: bad pin\n");
		return -1;
	}
	if (read_token(o->token_file, &a->token) < 0 ||
	    ident_generate(&a->id) < 0 || loop_new(&a->loop) < 0)
		return -1;
	eo.bind = o->bind;
	eo.id = a->id;
	if (quic_endpoint_new(a->loop, &eo, &a->ep) < 0 ||
	    relayconn_new(a->loop, a->ep, false, &auth_cbs, a, &a->rc) < 0)
		return -1;
	relayconn_set_relay(a->rc, &o->relay, pin);
	if (relayconn_connect(a->rc) < 0)
		return -1;
	while (a->state == 0 && now_s() < deadline)
		loop_run_once(a->loop, 100);
	if (a->state != 1) {
		fprintf(stderr, "udpgen: relay authentication failed\n");
		return -1;
	}
	quic_endpoint_local(a->ep, &local);
	return find_socket(&local);
}

static void auth_free(struct auth *a)
{
	relayconn_del(a->rc);
	quic_endpoint_del(a->ep);
	loop_del(a->loop);
	ident_del(a->id);
	free(a->token);
}

static int plain_socket(const struct ip_endpoint *at)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (ip_endpoint_to_sockaddr(at, &ss, &len) != 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void big_buffers(int fd)
{
	int size = SOCK_BUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static int do_send(int fd, const struct opts *o)
{
	static uint8_t pkt[BUF_SIZE], payload[WIRE_PAYLOAD_MAX];
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	struct sockaddr_storage to;
	socklen_t to_len;
	unsigned long long packets = 0;
	double start, end, t;
	size_t len = (size_t)o->size;

	if (ip_endpoint_to_sockaddr(&o->dest, &to, &to_len) != 0)
		return 1;
	memset(pkt, 0xa5, sizeof(pkt));
	memset(payload, 0xa5, sizeof(payload));
	if (o->frames) {
		struct wire_frame f = {.type = WIRE_RELAY_SEND, .node = o->node,
				       .payload = payload,
				       .payload_len = len};
		int n = wire_frame_encode(&f, pkt, WIRE_FRAME_MAX);

		if (n < 0)
			return 1;
		len = (size_t)n;
	}
	iov.iov_base = pkt;
	iov.iov_len = len;
	for (int i = 0; i < BATCH; i++) {
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = to_len;
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	start = now_s();
	end = start + o->seconds;
	while ((t = now_s()) < end) {
		int r = sendmmsg(fd, msgs, BATCH, MSG_DONTWAIT);

		if (r > 0) {
			packets += (unsigned)r;
		} else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};

			poll(&p, 1, 10);
		} else if (r < 0 && errno != EINTR && errno != ECONNREFUSED) {
			perror("udpgen: sendmmsg");
			return 1;
		}
	}
	t -= start;
	printf("udpgen send: packets %llu seconds %.3f pps %.0f\n", packets,
	       t, (double)packets / t);
	return 0;
}

/* The UDP_GRO segment size of a received message, 0 when it holds one
 * datagram. */
static size_t gro_size(struct msghdr *h)
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

static int do_recv(int fd, const struct opts *o)
{
	/* The relay's QUIC endpoint turns UDP GRO on for the socket, so one
	 * message may carry up to 64 KB of back-to-back datagrams (the
	 * relay sends with GSO): each needs room for all of them and its
	 * segment size. Counting such a message as one packet (and cutting
	 * it at 2 KB) was what made the relay look like it delivered 10 %. */
	static uint8_t bufs[BATCH][RX_BUF_SIZE];
	static union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cms[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	unsigned long long packets = 0, bytes = 0, messages = 0, truncated = 0;
	double deadline = now_s() + o->seconds, first = 0, last = 0, secs;

	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = RX_BUF_SIZE;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double t = now_s();
		int n;

		if (t >= deadline || (packets && t - last > IDLE_END_MS / 1e3))
			break;
		for (int i = 0; i < BATCH; i++) {
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = cms[i].buf;
			msgs[i].msg_hdr.msg_controllen = sizeof(cms[i].buf);
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			poll(&p, 1, 50);
			continue;
		}
		t = now_s();
		for (int i = 0; i < n; i++) {
			size_t len = msgs[i].msg_len;
			size_t seg = gro_size(&msgs[i].msg_hdr);
			bool counted = false;

			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				truncated++;
			if (!seg || seg > len)
				seg = len;
			for (size_t off = 0; off < len; off += seg) {
				const uint8_t *d = bufs[i] + off;
				size_t dl = len - off < seg ? len - off : seg;

				if (o->frames) {
					/* Only RELAY_RECV counts: QUIC
					 * packets of the control connection
					 * share the socket. */
					if (dl <= 9 || d[0] != WIRE_RELAY_RECV)
						continue;
					dl -= 9;
				}
				if (!packets)
					first = t;
				packets++;
				bytes += dl;
				last = t;
				counted = true;
			}
			messages += counted;
		}
	}
	secs = last - first;
	if (secs <= 0)
		secs = 1e-9;
	printf("udpgen recv: packets %llu seconds %.3f pps %.0f mbps %.1f "
	       "messages %llu truncated %llu\n",
	       packets, secs, packets ? (double)packets / secs : 0.0,
	       packets ? (double)bytes * 8 / secs / 1e6 : 0.0, messages,
	       truncated);
	return packets ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct auth a = {0};
	int fd, status = 1;

	parse_args(argc, argv, &o);
	if (o.have_relay)
		fd = relay_auth(&o, &a);
	else
		fd = plain_socket(&o.bind);
	if (fd < 0) {
		fprintf(stderr, "udpgen: no socket\n");
		goto out;
	}
	big_buffers(fd);
	printf("udpgen: ready\n");
	fflush(stdout);
	status = o.send ? do_send(fd, &o) : do_recv(fd, &o);
	if (!o.have_relay)
		close(fd);
out:
	auth_free(&a);
	return status;
}
