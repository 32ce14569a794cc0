/* agent/tun against the real kernel, inside a network namespace this test
 * creates (`ip netns add weft-tun-<pid>`) and always deletes: the cases run
 * in a child process that joins the namespace, and the parent deletes it
 * whatever happened to the child. Exits 77 (ctest: skipped) when it is not
 * root or may not create namespaces. Nothing leaves the namespace. */
#include "check.h"
#include "agent/gro.h"
#include "agent/packet.h"
#include "agent/tun.h"
#include "shared/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEV "weft0"

/* Per IP version: this host's mesh address and a peer's (routed to the
 * TUN by setup). */
static const char *const mesh[2][2] = {
	{"100.64.0.1", "100.64.0.2"},
	{"fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2"},
};

static int sh(const char *fmt, const char *arg)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), fmt, arg);
	return system(cmd);
}

static bool link_exists(const char *name)
{
	return sh("ip link show dev %s >/dev/null 2>&1", name) == 0;
}

static struct ip_prefix pfx(const char *s)
{
	struct ip_prefix p;

	if (ip_prefix_parse(s, &p, 0) != 0)
		abort();
	return p;
}

/* A device with the mesh layout of docs/internals/dataplane.md. */
static struct tun *setup(void)
{
	struct tun *t = NULL;
	struct ip_prefix p;

	if (tun_new(DEV, &t) != 0)
		return NULL;
	p = pfx("100.64.0.1/32");
	if (tun_set_mtu(t, TUN_MTU_DEFAULT) != 0 || tun_add_addr(t, &p) != 0)
		goto fail;
	p = pfx("fd7a:115c:a1e0::1/128");
	if (tun_add_addr(t, &p) != 0 || tun_set_up(t, true) != 0)
		goto fail;
	p = pfx("100.64.0.0/10");
	if (tun_add_route(t, &p) != 0)
		goto fail;
	p = pfx("fd7a:115c:a1e0::/48");
	if (tun_add_route(t, &p) != 0 ||
	    tun_wait_local(t, &p.addr, 0) != WEFT_ERR_TIMEOUT)
		goto fail;
	p = pfx("fd7a:115c:a1e0::1/128");
	if (tun_wait_local(t, &p.addr, 2000) != 0)
		goto fail;
	return t;
fail:
	tun_del(t);
	return NULL;
}

/* Reads packets from t until one with protocol proto and destination
 * port dport (0: any) arrives; skips the rest (router solicitations,
 * MLD reports). With mss, a TCP super-segment (tun_enable_tso) is
 * returned too, with its segment size in *mss (0 for a packet); without,
 * super-segments are skipped. Returns its length, 0 after 3 s. */
static size_t read_packet(struct tun *t, uint8_t proto, uint16_t dport,
			  uint8_t *buf, size_t cap, struct packet_info *pi,
			  size_t *mss)
{
	struct pollfd pfd = {.fd = tun_fd(t), .events = POLLIN};
	size_t n, m;
	int i;

	for (i = 0; i < 30; i++) {
		if (poll(&pfd, 1, 100) < 0)
			return 0;
		while (tun_read_gso(t, buf, cap, &n, &m) == 0) {
			if ((!m || mss) && packet_parse(buf, n, pi) == 0 &&
			    pi->proto == proto &&
			    (!dport || pi->dport == dport)) {
				if (mss)
					*mss = m;
				return n;
			}
		}
	}
	return 0;
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The folded pseudo-header sum of the IPv4 or IPv6 header p for l4 bytes
 * of protocol proto. */
static uint32_t pseudo_sum(const uint8_t *p, uint8_t proto, size_t l4)
{
	uint8_t ph[40] = {0};

	if (p[0] >> 4 == 4) {
		memcpy(ph, p + 12, 8);
		ph[9] = proto;
		put16(ph + 10, (uint16_t)l4);
		return (uint16_t)~csum(ph, 12, 0);
	}
	memcpy(ph, p + 8, 32);
	put16(ph + 34, (uint16_t)l4);
	ph[39] = proto;
	return (uint16_t)~csum(ph, 40, 0);
}

/* Writes an IPv4 or IPv6 header (by the form of src) src -> dst for l4
 * bytes of protocol proto into p. Returns its length. */
static size_t ip_header(uint8_t *p, const char *src, const char *dst,
			uint8_t proto, size_t l4)
{
	size_t h = strchr(src, ':') ? 40 : 20;

	memset(p, 0, h);
	if (h == 20) {
		p[0] = 0x45;
		put16(p + 2, (uint16_t)(20 + l4));
		p[8] = 64;
		p[9] = proto;
		inet_pton(AF_INET, src, p + 12);
		inet_pton(AF_INET, dst, p + 16);
		put16(p + 10, csum(p, 20, 0));
	} else {
		p[0] = 0x60;
		put16(p + 4, (uint16_t)l4);
		p[6] = proto;
		p[7] = 64;
		inet_pton(AF_INET6, src, p + 8);
		inet_pton(AF_INET6, dst, p + 24);
	}
	return h;
}

/* A UDP packet src:sport -> dst:dport carrying msg, with valid checksums. */
static size_t udp_packet(uint8_t *p, const char *src, uint16_t sport,
			 const char *dst, uint16_t dport, const char *msg)
{
	size_t m = strlen(msg), ulen = 8 + m;
	size_t h = ip_header(p, src, dst, PACKET_PROTO_UDP, ulen);
	uint8_t *u = p + h;

	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)ulen);
	put16(u + 6, 0);
	memcpy(u + 8, msg, m);
	put16(u + 6, csum(u, ulen, pseudo_sum(p, PACKET_PROTO_UDP, ulen)));
	return h + ulen;
}

/* The sockaddr of addr:port. Returns 0 or -1. */
static int sockaddr_of(const char *addr, uint16_t port,
		       struct sockaddr_storage *ss, socklen_t *len)
{
	struct ip_endpoint ep;

	if (ip_addr_parse(addr, &ep.addr) != 0)
		return -1;
	ep.port = port;
	return ip_endpoint_to_sockaddr(&ep, ss, len) == 0 ? 0 : -1;
}

/* A socket of type (SOCK_DGRAM, SOCK_STREAM, with flags) bound to
 * addr:port (port 0: any). */
static int bound_socket(int type, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (sockaddr_of(addr, port, &ss, &len) != 0)
		return -1;
	fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int udp_socket(const char *addr, uint16_t port)
{
	return bound_socket(SOCK_DGRAM, addr, port);
}

static int send_to(int fd, const char *addr, uint16_t port, const char *msg,
		   bool do_connect)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (sockaddr_of(addr, port, &ss, &len) != 0)
		return -1;
	if (do_connect && connect(fd, (struct sockaddr *)&ss, len) < 0)
		return -1;
	return (int)sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&ss,
			   len);
}

static int mtu_of(const char *name)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), mtu = -1;

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, name);
	if (fd >= 0 && ioctl(fd, SIOCGIFMTU, &ifr) == 0)
		mtu = ifr.ifr_mtu;
	if (fd >= 0)
		close(fd);
	return mtu;
}

static void creates_configures_and_deletes_the_device(void)
{
	struct tun *t = setup(), *t2 = NULL;

	REQUIRE(t != NULL);
	CHECK_STR(tun_name(t), DEV);
	CHECK(tun_ifindex(t) > 0);
	CHECK_INT(tun_ifindex(t), if_nametoindex(DEV));
	CHECK_INT(mtu_of(DEV), TUN_MTU_DEFAULT);
	CHECK(link_exists(DEV));
	CHECK(sh("ip -4 addr show dev %s | grep -q 'inet 100.64.0.1/32'", DEV) == 0);
	CHECK(sh("ip -6 addr show dev %s | grep -q 'fd7a:115c:a1e0::1/128'", DEV) == 0);
	CHECK(sh("ip route show dev %s | grep -q '^100.64.0.0/10'", DEV) == 0);
	CHECK_INT(tun_new(DEV, &t2), WEFT_ERR_EXISTS);
	CHECK(t2 == NULL);
	CHECK_INT(tun_set_mtu(t, 67), WEFT_ERR_RANGE);
	tun_del(t);
	CHECK_INT(if_nametoindex(DEV), 0);
	CHECK(!link_exists(DEV));
	tun_del(NULL);
}

static void kernel_picks_a_name_when_none_is_given(void)
{
	struct tun *t = NULL;

	REQUIRE_INT(tun_new(NULL, &t), 0);
	CHECK(strncmp(tun_name(t), "weft", 4) == 0);
	CHECK(link_exists(tun_name(t)));
	tun_del(t);
	CHECK_INT(tun_new("a-name-too-long-for-linux", &t), WEFT_ERR_INVAL);
}

static void udp_to_a_routed_address_is_read_from_the_tun(void)
{
	struct tun *t = setup();
	uint8_t buf[2048];
	struct packet_info pi;
	struct ip_addr want;
	size_t n;

	REQUIRE(t != NULL);
	for (int i = 0; i < 2; i++) {
		int fd = udp_socket(mesh[i][0], 40000);

		if (!CHECK(fd >= 0))
			break;
		CHECK(send_to(fd, mesh[i][1], 9999, "hello tun", false) == 9);
		n = read_packet(t, PACKET_PROTO_UDP, 9999, buf, sizeof(buf), &pi,
				NULL);
		close(fd);
		if (!CHECK(n > 0))
			continue;
		CHECK_INT(pi.version, i ? 6 : 4);
		CHECK_INT(pi.sport, 40000);
		CHECK(ip_addr_parse(mesh[i][0], &want) == 0 &&
		      ip_addr_eq(&pi.src, &want));
		CHECK(ip_addr_parse(mesh[i][1], &want) == 0 &&
		      ip_addr_eq(&pi.dst, &want));
		CHECK(n == (size_t)pi.l3_len + 8 + 9 &&
		      memcmp(buf + pi.l3_len + 8, "hello tun", 9) == 0);
	}
	tun_del(t);
}

static void packets_written_to_the_tun_reach_local_sockets(void)
{
	static const char *const cases[][2] = {
		{"100.64.0.2", "100.64.0.1"},
		{"fd7a:115c:a1e0::2", "fd7a:115c:a1e0::1"},
	};
	struct tun *t = setup();
	uint8_t pkt[256];
	char got[64];

	REQUIRE(t != NULL);
	for (int i = 0; i < 2; i++) {
		int fd = udp_socket(cases[i][1], 7000);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		size_t n = udp_packet(pkt, cases[i][0], 5555, cases[i][1], 7000,
				      "from a peer");
		ssize_t r = -1;

		if (!CHECK(fd >= 0))
			break;
		CHECK_INT(tun_write(t, pkt, n), 0);
		if (CHECK(poll(&pfd, 1, 3000) == 1))
			r = recv(fd, got, sizeof(got), 0);
		CHECK(r == 11 && memcmp(got, "from a peer", 11) == 0);
		close(fd);
	}
	tun_del(t);
}

static void icmp_unreachable_written_to_the_tun_fails_the_sender(void)
{
	static const struct {
		const char *src, *dst;
		int err;
	} cases[] = {
		{"100.64.0.1", "100.64.0.9", EHOSTUNREACH},
		{"fd7a:115c:a1e0::1", "fd7a:115c:a1e0::9", EACCES},
	};
	struct tun *t = setup();
	uint8_t buf[2048], reply[1280];
	struct packet_info pi;
	size_t n, m = 0;
	char c;

	REQUIRE(t != NULL);
	for (int i = 0; i < 2; i++) {
		int fd = udp_socket(cases[i].src, 0);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		if (!CHECK(fd >= 0))
			break;
		CHECK(send_to(fd, cases[i].dst, 4444, "x", true) == 1);
		n = read_packet(t, PACKET_PROTO_UDP, 4444, buf, sizeof(buf), &pi,
				NULL);
		if (CHECK(n > 0) &&
		    CHECK(packet_icmp_error(buf, n, &pi,
					    PACKET_ICMP_ADMIN_PROHIBITED, 0,
					    reply, sizeof(reply), &m) == 0)) {
			CHECK_INT(tun_write(t, reply, m), 0);
			/* The kernel accepted the checksums and matched the
			 * quoted packet to the socket: recv fails. */
			CHECK(poll(&pfd, 1, 3000) == 1);
			errno = 0;
			CHECK(recv(fd, &c, 1, MSG_DONTWAIT) < 0);
			CHECK_INT(errno, cases[i].err);
		}
		close(fd);
	}
	tun_del(t);
}

#define TCP_SYN 0x02
#define TCP_ACK 0x10

/* The far end of a TCP connection, played by the test through the TUN:
 * its address and port, the local host's, the next sequence number it
 * sends and the one it acknowledges. */
struct peer {
	const char *addr, *local;
	uint16_t port, local_port;
	uint32_t seq, ack;
};

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* A TCP segment from pr to the local host with flags, TCP options
 * opt[0..olen) (a multiple of 4) and payload data[0..dlen), window 65535,
 * valid checksums. Returns its length. */
static size_t tcp_packet(uint8_t *p, const struct peer *pr, uint8_t flags,
			 const char *opt, size_t olen, const uint8_t *data,
			 size_t dlen)
{
	size_t l4 = 20 + olen + dlen;
	size_t h = ip_header(p, pr->addr, pr->local, PACKET_PROTO_TCP, l4);
	uint8_t *t = p + h;

	memset(t, 0, 20);
	put16(t, pr->port);
	put16(t + 2, pr->local_port);
	put32(t + 4, pr->seq);
	put32(t + 8, pr->ack);
	t[12] = (uint8_t)((20 + olen) / 4 << 4);
	t[13] = flags;
	put16(t + 14, 65535);
	memcpy(t + 20, opt, olen);
	if (dlen)
		memcpy(t + 20 + olen, data, dlen);
	put16(t + 16, csum(t, l4, pseudo_sum(p, PACKET_PROTO_TCP, l4)));
	return h + l4;
}

/* Whether p[0..len) has a valid IPv4 header checksum (IPv6 has none) and
 * a valid TCP checksum, the TCP header starting at l3. */
static bool tcp_checksums_ok(const uint8_t *p, size_t len, size_t l3)
{
	return (p[0] >> 4 != 4 || csum(p, l3, 0) == 0) &&
	       csum(p + l3, len - l3,
		    pseudo_sum(p, PACKET_PROTO_TCP, len - l3)) == 0;
}

/* Reads the local host's next TCP packet to pr->port (a SYN, SYN-ACK or
 * ACK of the handshake) and takes its sequence number + 1 as what pr
 * acknowledges. Returns its TCP flags, 0 after 3 s. */
static uint8_t handshake_packet(struct tun *t, struct peer *pr)
{
	uint8_t buf[2048];
	struct packet_info pi;
	size_t n = read_packet(t, PACKET_PROTO_TCP, pr->port, buf,
			       sizeof(buf), &pi, NULL);

	if (!n)
		return 0;
	pr->local_port = pi.sport;
	pr->ack = get32(buf + pi.l3_len + 4) + 1;
	return pi.tcp_flags;
}

#define RUN_SEGS 8
#define RUN_SEG 1000

/* Sends data[0..RUN_SEGS * RUN_SEG) from pr as RUN_SEGS segments,
 * coalesced by agent/gro into one GSO packet and written with
 * tun_write_tcp_gso, as the agent does. Returns whether that worked. */
static bool write_run(struct tun *t, struct peer *pr, const uint8_t *data)
{
	static struct gro g;
	uint8_t pkt[2048];
	struct gro_out o;
	size_t n;

	gro_init(&g);
	for (int i = 0; i < RUN_SEGS; i++) {
		n = tcp_packet(pkt, pr, TCP_ACK, "", 0, data + i * RUN_SEG,
			       RUN_SEG);
		if (!CHECK(gro_offer(&g, pkt, n)))
			return false;
		pr->seq += RUN_SEG;
	}
	return CHECK(gro_finish(&g, &o)) && CHECK(o.gso) &&
	       CHECK(o.v6 == (pkt[0] >> 4 == 6)) &&
	       CHECK(tun_write_tcp_gso(t, o.pkt, o.len, o.v6, o.hdr_len,
				       o.seg_size, o.csum_start,
				       o.csum_offset) == 0);
}

static void fill(uint8_t *p, size_t n, unsigned mod)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i % mod);
}

/* The peer pr opens a connection to the listening socket lfd and sends a
 * run as one GSO packet: the kernel's TCP stack takes it as those
 * segments, delivers the bytes in order and acknowledges them. */
static void gso_run_reaches_a_socket(struct tun *t, struct peer *pr, int lfd)
{
	static uint8_t data[RUN_SEGS * RUN_SEG], got[sizeof(data)];
	struct pollfd pfd = {.fd = lfd, .events = POLLIN};
	uint8_t pkt[2048];
	struct packet_info pi;
	size_t n, have = 0;
	ssize_t r;
	int cfd = -1;

	fill(data, sizeof(data), 251);
	n = tcp_packet(pkt, pr, TCP_SYN, "\x02\x04\x04\xb0", 4, NULL, 0);
	REQUIRE_INT(tun_write(t, pkt, n), 0);
	REQUIRE_INT(handshake_packet(t, pr), TCP_SYN | TCP_ACK);
	pr->seq++;
	n = tcp_packet(pkt, pr, TCP_ACK, "", 0, NULL, 0);
	REQUIRE_INT(tun_write(t, pkt, n), 0);
	REQUIRE(poll(&pfd, 1, 3000) == 1);
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(cfd >= 0);

	if (!write_run(t, pr, data))
		goto out;
	pfd.fd = cfd;
	while (have < sizeof(got) && poll(&pfd, 1, 3000) == 1) {
		r = recv(cfd, got + have, sizeof(got) - have, MSG_DONTWAIT);
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	CHECK_INT(have, sizeof(data));
	CHECK(memcmp(got, data, sizeof(data)) == 0);
	/* The kernel acknowledges all of it (at once or in steps). */
	do {
		n = read_packet(t, PACKET_PROTO_TCP, pr->port, pkt,
				sizeof(pkt), &pi, NULL);
	} while (n && get32(pkt + pi.l3_len + 8) != pr->seq);
	CHECK(n > 0);
out:
	close(cfd);
}

static void a_coalesced_tcp_run_written_as_gso_reaches_a_socket(void)
{
	struct tun *t = setup();

	REQUIRE(t != NULL);
	for (int i = 0; i < 2; i++) {
		struct peer pr = {.addr = mesh[i][1], .local = mesh[i][0],
				  .port = (uint16_t)(40001 + i),
				  .local_port = 7100, .seq = 1000};
		int lfd = bound_socket(SOCK_STREAM | SOCK_NONBLOCK,
				       mesh[i][0], 7100);

		if (!CHECK(lfd >= 0) || !CHECK(listen(lfd, 4) == 0))
			break;
		gso_run_reaches_a_socket(t, &pr, lfd);
		close(lfd);
	}
	tun_del(t);
}

#define STREAM_BYTES 40000
#define STREAM_MSS 1000

/* What the test's peer received of a stream from a local socket. */
struct stream {
	uint32_t next; /* the sequence number expected next */
	size_t got;
	uint8_t data[STREAM_BYTES];
	bool ok; /* every segment valid, in order, at most STREAM_MSS */
};

static void on_stream_segment(const uint8_t *p, size_t len, void *ctx)
{
	struct stream *st = ctx;
	struct packet_info pi;
	size_t thl, pay;

	if (packet_parse(p, len, &pi) != 0 || pi.proto != PACKET_PROTO_TCP ||
	    !tcp_checksums_ok(p, len, pi.l3_len)) {
		st->ok = false;
		return;
	}
	thl = (size_t)(p[pi.l3_len + 12] >> 4) * 4;
	pay = len - pi.l3_len - thl;
	if (get32(p + pi.l3_len + 4) != st->next || pay > STREAM_MSS ||
	    pay > sizeof(st->data) - st->got) {
		st->ok = false;
		return;
	}
	memcpy(st->data + st->got, p + pi.l3_len + thl, pay);
	st->got += pay;
	st->next += (uint32_t)pay;
}

/* Receives what the local socket fd (connected to pr, with sent[] to
 * send) hands to the TUN, acknowledging as it comes. Returns how many
 * reads were TCP super-segments. */
static int receive_stream(struct tun *t, struct peer *pr, int fd,
			  const uint8_t *sent, struct stream *st)
{
	static uint8_t buf[GRO_MAX], scratch[GRO_MAX];
	uint8_t ack[128];
	struct packet_info pi;
	size_t n, mss, pushed = 0;
	ssize_t r;
	int gso = 0;

	while (st->ok && st->got < STREAM_BYTES) {
		r = send(fd, sent + pushed, STREAM_BYTES - pushed,
			 MSG_DONTWAIT);
		if (r > 0)
			pushed += (size_t)r;
		n = read_packet(t, PACKET_PROTO_TCP, pr->port, buf,
				sizeof(buf), &pi, &mss);
		if (!n)
			break;
		if (!mss)
			on_stream_segment(buf, n, st);
		else if (gro_split_tcp(buf, n, mss, scratch, sizeof(scratch),
				       on_stream_segment, st) > 1)
			gso++;
		else
			st->ok = false;
		pr->ack = st->next;
		n = tcp_packet(ack, pr, TCP_ACK, "", 0, NULL, 0);
		if (tun_write(t, ack, n) < 0)
			st->ok = false;
	}
	return gso;
}

/* With TSO the kernel hands a local socket's stream to the TUN as
 * super-segments, which gro_split_tcp cuts into valid segments carrying
 * the stream in order. */
static void a_stream_is_read_as_super_segments(struct tun *t,
					       struct peer *pr, int fd)
{
	static uint8_t sent[STREAM_BYTES];
	static struct stream st;
	struct sockaddr_storage ss;
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	socklen_t len;
	uint8_t pkt[128];
	size_t n;
	int err = -1;

	fill(sent, sizeof(sent), 253);
	REQUIRE(sockaddr_of(pr->addr, pr->port, &ss, &len) == 0);
	REQUIRE(connect(fd, (struct sockaddr *)&ss, len) < 0 &&
		errno == EINPROGRESS);
	REQUIRE_INT(handshake_packet(t, pr), TCP_SYN);
	/* MSS 1000, and nothing else: no timestamps, no window scaling. */
	n = tcp_packet(pkt, pr, TCP_SYN | TCP_ACK, "\x02\x04\x03\xe8", 4,
		       NULL, 0);
	REQUIRE_INT(tun_write(t, pkt, n), 0);
	pr->seq++;
	REQUIRE(poll(&pfd, 1, 3000) == 1);
	len = sizeof(err);
	REQUIRE(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
	REQUIRE_INT(err, 0);

	memset(&st, 0, sizeof(st));
	st.next = pr->ack;
	st.ok = true;
	CHECK(receive_stream(t, pr, fd, sent, &st) > 0);
	CHECK(st.ok);
	CHECK_INT(st.got, STREAM_BYTES);
	CHECK(memcmp(st.data, sent, st.got) == 0);
}

static void tcp_from_a_socket_is_read_as_super_segments_with_tso(void)
{
	struct tun *t = setup();
	bool tso6 = false;

	REQUIRE(t != NULL);
	CHECK_INT(tun_enable_tso(t, &tso6), 0);
	CHECK(tso6);
	for (int i = 0; i < 2; i++) {
		struct peer pr = {.addr = mesh[i][1], .local = mesh[i][0],
				  .port = (uint16_t)(7200 + i), .seq = 5000};
		int fd = bound_socket(SOCK_STREAM | SOCK_NONBLOCK,
				      mesh[i][0], 0);

		if (!CHECK(fd >= 0))
			break;
		a_stream_is_read_as_super_segments(t, &pr, fd);
		close(fd);
	}
	tun_del(t);
}

/* Where the kernel forwards a GSO packet (to a subnet behind this node)
 * it segments it and completes the checksums itself from the
 * pseudo-header sum in the TCP checksum field: the segments that leave
 * through a second TUN (without offloads) must all be valid, which holds
 * only when the GSO type and the pseudo-header sum are right. */
static void a_forwarded_gso_run_leaves_as_valid_segments(void)
{
	static const char *const cases[][3] = {
		{"100.64.0.2", "192.0.2.5", "192.0.2.0/24"},
		{"fd7a:115c:a1e0::2", "2001:db8::5", "2001:db8::/64"},
	};
	static uint8_t data[RUN_SEGS * RUN_SEG], buf[2048];
	static struct stream st;
	struct tun *t = setup(), *lan = NULL;
	struct packet_info pi;
	struct ip_prefix p;
	size_t n;

	fill(data, sizeof(data), 241);
	REQUIRE(t != NULL);
	REQUIRE(sh("echo 1 >/proc/sys/net/ipv4/ip_forward", "") == 0);
	REQUIRE(sh("echo 1 >/proc/sys/net/ipv6/conf/all/forwarding", "") ==
		0);
	REQUIRE_INT(tun_new("weft-lan", &lan), 0);
	CHECK_INT(tun_set_mtu(lan, TUN_MTU_DEFAULT), 0);
	CHECK_INT(tun_set_up(lan, true), 0);
	for (int i = 0; i < 2; i++) {
		struct peer pr = {.addr = cases[i][0], .local = cases[i][1],
				  .port = (uint16_t)(40100 + i),
				  .local_port = 80, .seq = 1};

		p = pfx(cases[i][2]);
		if (!CHECK(tun_add_route(lan, &p) == 0) ||
		    !write_run(t, &pr, data))
			continue;
		memset(&st, 0, sizeof(st));
		st.next = 1;
		st.ok = true;
		while (st.ok && st.got < sizeof(data) &&
		       (n = read_packet(lan, PACKET_PROTO_TCP, 80, buf,
					sizeof(buf), &pi, NULL)))
			on_stream_segment(buf, n, &st);
		CHECK(st.ok);
		CHECK_INT(st.got, sizeof(data));
		CHECK(memcmp(st.data, data, st.got) == 0);
	}
	tun_del(lan);
	tun_del(t);
}

static void routes_can_be_removed_and_are_not_taken_over(void)
{
	struct tun *t = setup();
	struct ip_prefix p = pfx("100.64.0.0/10"), host = pfx("100.64.5.5/10");
	int fd = udp_socket("0.0.0.0", 0);

	REQUIRE(t != NULL);
	REQUIRE(fd >= 0);
	CHECK_INT(tun_add_route(t, &p), -EEXIST);
	CHECK_INT(tun_del_route(t, &host), 0); /* host bits are ignored */
	errno = 0;
	CHECK(send_to(fd, "100.64.0.2", 9, "x", false) < 0);
	CHECK_INT(errno, ENETUNREACH);
	CHECK_INT(tun_del_route(t, &p), -ESRCH);
	CHECK_INT(tun_add_route(t, &p), 0);
	CHECK(send_to(fd, "100.64.0.2", 9, "x", false) == 1);
	p = pfx("100.64.0.1/32");
	CHECK_INT(tun_del_addr(t, &p), 0);
	CHECK_INT(tun_del_addr(t, &p), -EADDRNOTAVAIL);
	close(fd);
	tun_del(t);
}

/* Why the default MTU is 1280 and not TUN_MTU_QUIC_MIN. */
static void ipv6_needs_an_mtu_of_at_least_1280(void)
{
	struct tun *t = NULL;
	struct ip_prefix p = pfx("fd7a:115c:a1e0::1/128");

	REQUIRE_INT(tun_new(DEV, &t), 0);
	CHECK_INT(tun_set_mtu(t, TUN_MTU_QUIC_MIN), 0);
	CHECK(tun_add_addr(t, &p) < 0);
	CHECK_INT(tun_set_mtu(t, TUN_MTU_DEFAULT), 0);
	CHECK_INT(tun_add_addr(t, &p), 0);
	tun_del(t);
}

static void cleanup_stale_removes_leftover_tun_devices_only(void)
{
	struct ifreq ifr;
	struct tun *busy = NULL;
	int fd;

	/* A crashed older run that made its device persistent. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	REQUIRE(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "weft-stale");
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	REQUIRE(ioctl(fd, TUNSETIFF, &ifr) == 0);
	REQUIRE(ioctl(fd, TUNSETPERSIST, 1) == 0);
	close(fd);
	REQUIRE(link_exists("weft-stale"));

	CHECK_INT(tun_cleanup_stale("weft-stale"), 0);
	CHECK(!link_exists("weft-stale"));
	CHECK_INT(tun_cleanup_stale("weft-stale"), WEFT_ERR_NOTFOUND);
	/* Not a TUN: left alone. */
	CHECK_INT(tun_cleanup_stale("lo"), WEFT_ERR_CONFLICT);
	CHECK(link_exists("lo"));
	/* In use by a live process (here: us). */
	REQUIRE_INT(tun_new("weft-busy", &busy), 0);
	CHECK_INT(tun_cleanup_stale("weft-busy"), WEFT_ERR_BUSY);
	CHECK(link_exists("weft-busy"));
	tun_del(busy);
	CHECK_INT(tun_cleanup_stale("bad/name"), WEFT_ERR_INVAL);
}

static const struct check_case cases[] = {
	CHECK_CASE(creates_configures_and_deletes_the_device),
	CHECK_CASE(kernel_picks_a_name_when_none_is_given),
	CHECK_CASE(udp_to_a_routed_address_is_read_from_the_tun),
	CHECK_CASE(packets_written_to_the_tun_reach_local_sockets),
	CHECK_CASE(icmp_unreachable_written_to_the_tun_fails_the_sender),
	CHECK_CASE(a_coalesced_tcp_run_written_as_gso_reaches_a_socket),
	CHECK_CASE(tcp_from_a_socket_is_read_as_super_segments_with_tso),
	CHECK_CASE(a_forwarded_gso_run_leaves_as_valid_segments),
	CHECK_CASE(routes_can_be_removed_and_are_not_taken_over),
	CHECK_CASE(ipv6_needs_an_mtu_of_at_least_1280),
	CHECK_CASE(cleanup_stale_removes_leftover_tun_devices_only),
	{0},
};

int main(int argc, char **argv)
{
	char ns[64], path[128];
	int status = 0, fd;
	pid_t pid;

	if (geteuid() != 0) {
		printf("SKIP: the TUN namespace test needs root\n");
		return 77;
	}
	snprintf(ns, sizeof(ns), "weft-tun-%ld", (long)getpid());
	if (sh("ip netns add %s 2>/dev/null", ns) != 0) {
		printf("SKIP: `ip netns add` is not permitted here\n");
		return 77;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			perror("setns");
			exit(1);
		}
		close(fd);
		sh("ip link set lo up", "");
		exit(check_main(argc, argv, cases));
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		status = 1 << 8;
	/* Always, whatever the child did. */
	if (sh("ip netns del %s", ns) != 0)
		fprintf(stderr, "could not delete namespace %s\n", ns);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "test process died of signal %d\n",
			WTERMSIG(status));
		return 1;
	}
	return WEXITSTATUS(status);
}
