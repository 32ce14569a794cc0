/* agent/tun against the real kernel, inside a network namespace this test
 * creates (`ip netns add weft-tun-<pid>`) and always deletes: the cases run
 * in a child process that joins the namespace, and the parent deletes it
 * whatever happened to the child. Exits 77 (ctest: skipped) when it is not
 * root or may not create namespaces. Nothing leaves the namespace. */
#include "check.h"
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
 * MLD reports). Returns its length, 0 after 3 s. */
static size_t read_packet(struct tun *t, uint8_t proto, uint16_t dport,
			  uint8_t *buf, size_t cap, struct packet_info *pi)
{
	struct pollfd pfd = {.fd = tun_fd(t), .events = POLLIN};
	size_t n;
	int i;

	for (i = 0; i < 30; i++) {
		if (poll(&pfd, 1, 100) < 0)
			return 0;
		while (tun_read(t, buf, cap, &n) == 0) {
			if (packet_parse(buf, n, pi) == 0 && pi->proto == proto &&
			    (!dport || pi->dport == dport))
				return n;
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

/* A UDP packet src:sport -> dst:dport carrying msg, with valid checksums. */
static size_t udp_packet(uint8_t *p, const char *src, uint16_t sport,
			 const char *dst, uint16_t dport, const char *msg)
{
	size_t m = strlen(msg), h = strchr(src, ':') ? 40 : 20, ulen = 8 + m;
	uint8_t *u = p + h, pseudo[40];
	uint32_t s;

	memset(p, 0, h + ulen);
	if (h == 20) {
		p[0] = 0x45;
		put16(p + 2, (uint16_t)(20 + ulen));
		p[8] = 64;
		p[9] = PACKET_PROTO_UDP;
		inet_pton(AF_INET, src, p + 12);
		inet_pton(AF_INET, dst, p + 16);
		put16(p + 10, csum(p, 20, 0));
		memset(pseudo, 0, 12);
		memcpy(pseudo, p + 12, 8);
		pseudo[9] = PACKET_PROTO_UDP;
		put16(pseudo + 10, (uint16_t)ulen);
		s = (uint16_t)~csum(pseudo, 12, 0);
	} else {
		p[0] = 0x60;
		put16(p + 4, (uint16_t)ulen);
		p[6] = PACKET_PROTO_UDP;
		p[7] = 64;
		inet_pton(AF_INET6, src, p + 8);
		inet_pton(AF_INET6, dst, p + 24);
		memset(pseudo, 0, 40);
		memcpy(pseudo, p + 8, 32);
		put16(pseudo + 34, (uint16_t)ulen);
		pseudo[39] = PACKET_PROTO_UDP;
		s = (uint16_t)~csum(pseudo, 40, 0);
	}
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)ulen);
	memcpy(u + 8, msg, m);
	put16(u + 6, csum(u, ulen, s));
	return h + ulen;
}

/* A UDP socket bound to addr:port (port 0: any). */
static int udp_socket(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	struct ip_endpoint ep;
	socklen_t len;
	int fd;

	if (ip_addr_parse(addr, &ep.addr) != 0)
		return -1;
	ep.port = port;
	if (ip_endpoint_to_sockaddr(&ep, &ss, &len) != 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int send_to(int fd, const char *addr, uint16_t port, const char *msg,
		   bool do_connect)
{
	struct sockaddr_storage ss;
	struct ip_endpoint ep;
	socklen_t len;

	if (ip_addr_parse(addr, &ep.addr) != 0)
		return -1;
	ep.port = port;
	if (ip_endpoint_to_sockaddr(&ep, &ss, &len) != 0)
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
	static const char *const cases[][2] = {
		{"100.64.0.1", "100.64.0.2"},
		{"fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2"},
	};
	struct tun *t = setup();
	uint8_t buf[2048];
	struct packet_info pi;
	struct ip_addr want;
	size_t n;

	REQUIRE(t != NULL);
	for (int i = 0; i < 2; i++) {
		int fd = udp_socket(cases[i][0], 40000);

		if (!CHECK(fd >= 0))
			break;
		CHECK(send_to(fd, cases[i][1], 9999, "hello tun", false) == 9);
		n = read_packet(t, PACKET_PROTO_UDP, 9999, buf, sizeof(buf), &pi);
		close(fd);
		if (!CHECK(n > 0))
			continue;
		CHECK_INT(pi.version, i ? 6 : 4);
		CHECK_INT(pi.sport, 40000);
		CHECK(ip_addr_parse(cases[i][0], &want) == 0 &&
		      ip_addr_eq(&pi.src, &want));
		CHECK(ip_addr_parse(cases[i][1], &want) == 0 &&
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
		n = read_packet(t, PACKET_PROTO_UDP, 4444, buf, sizeof(buf), &pi);
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
