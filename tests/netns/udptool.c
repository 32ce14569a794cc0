/* udptool: the small UDP client/server the namespace tests drive, so that
 * they need neither socat nor python.
 *
 *   udptool echo [-b BIND] [-c N]       answer every datagram with the
 *                                       sender's address as "ADDR:PORT";
 *                                       exit after N answers if given
 *   udptool ask [-b BIND] [-t MS] DEST...
 *                                       from one socket, ask each echo
 *                                       server DEST and print the address
 *                                       it saw, one line per DEST
 *   udptool listen [-b BIND] [-t MS]    wait for one datagram, print
 *                                       "from ADDR:PORT"
 *   udptool send [-b BIND] [-c N] [-T TTL] DEST
 *                                       send N datagrams (default 3), with
 *                                       IP TTL / IPv6 hop limit TTL if given
 *   udptool punch [-b BIND] [-t MS] PEER
 *                                       send to PEER every 100 ms until a
 *                                       datagram from PEER arrives, keep
 *                                       sending 500 ms more, print "ok"
 *   udptool refused [-t MS] DEST        send from a connected socket and
 *                                       print "refused" when an ICMP port
 *                                       unreachable comes back,
 *                                       "unreachable" for another ICMP
 *                                       error (host, net, prohibited),
 *                                       else "silent"
 *
 * BIND defaults to 0.0.0.0:0, MS to 3000. Addresses are ADDR:PORT or
 * [ADDR6]:PORT. Exit status: 0 done, 1 timeout or error, 2 usage. */
#include "shared/ip.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DESTS 8

static void usage(void)
{
	fprintf(stderr, "usage: udptool echo|ask|listen|send|punch|refused "
			"[-b BIND] [-t MS] [-c N] [-T TTL] [DEST...]\n");
	exit(2);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses ADDR:PORT; port 0 ("any free port") only when any_port. */
static void parse_ep(const char *s, struct ip_endpoint *out, bool any_port)
{
	char buf[IP_ENDPOINT_STRLEN + 1];
	size_t n = strlen(s);
	int zero = any_port && n >= 2 && n < sizeof(buf) &&
		   strcmp(s + n - 2, ":0") == 0;

	if (zero) {
		memcpy(buf, s, n + 1);
		buf[n - 1] = '1';
		s = buf;
	}
	if (ip_endpoint_parse(s, out) != 0) {
		fprintf(stderr, "udptool: bad address '%s'\n", s);
		exit(2);
	}
	if (zero)
		out->port = 0;
}

static bool ep_eq(const struct ip_endpoint *x, const struct ip_endpoint *y)
{
	return ip_addr_eq(&x->addr, &y->addr) && x->port == y->port;
}

static const char *fmt_ep(const struct ip_endpoint *e, char *buf, size_t n)
{
	if (ip_endpoint_format(e, buf, n) != 0)
		snprintf(buf, n, "?");
	return buf;
}

static int open_socket(const struct ip_endpoint *bind_to)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (ip_endpoint_to_sockaddr(bind_to, &ss, &len) != 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0) {
		perror("udptool: socket/bind");
		exit(1);
	}
	return fd;
}

static void send_to(int fd, const struct ip_endpoint *to, const char *msg)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (ip_endpoint_to_sockaddr(to, &ss, &len) != 0)
		return;
	/* Errors (an ICMP error of an earlier datagram, a full buffer) do
	 * not matter here: every caller retries or judges by what arrives. */
	(void)sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&ss, len);
}

/* Waits up to ms for one datagram. Returns its length (text NUL-ended in
 * buf) and the sender in *from, or -1 on timeout. */
static int recv_until(int fd, long long deadline, char *buf, size_t cap,
		      struct ip_endpoint *from)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recvfrom(fd, buf, cap - 1, 0, (struct sockaddr *)&ss, &len);
		if (n < 0)
			continue;
		buf[n] = '\0';
		if (ip_endpoint_from_sockaddr((struct sockaddr *)&ss, len,
					      from) != 0)
			continue;
		ip_addr_unmap(&from->addr);
		return (int)n;
	}
}

static int do_echo(int fd, int count)
{
	char buf[2048], text[IP_ENDPOINT_STRLEN];
	struct ip_endpoint from;

	for (int i = 0; count <= 0 || i < count; i++) {
		while (recv_until(fd, now_ms() + 3600 * 1000, buf, sizeof(buf),
				  &from) < 0)
			;
		send_to(fd, &from, fmt_ep(&from, text, sizeof(text)));
	}
	return 0;
}

static int do_ask(int fd, const struct ip_endpoint *dests, int n, int ms)
{
	char buf[2048], text[IP_ENDPOINT_STRLEN];
	struct ip_endpoint from;

	for (int i = 0; i < n; i++) {
		long long deadline = now_ms() + ms;
		bool got = false;

		while (!got && now_ms() < deadline) {
			long long wait = now_ms() + 200;

			send_to(fd, &dests[i], "?");
			if (wait > deadline)
				wait = deadline;
			while (recv_until(fd, wait, buf, sizeof(buf), &from) >= 0) {
				if (ep_eq(&from, &dests[i])) {
					got = true;
					break;
				}
			}
		}
		if (!got) {
			fprintf(stderr, "udptool: no answer from %s\n",
				fmt_ep(&dests[i], text, sizeof(text)));
			return 1;
		}
		printf("%s\n", buf);
	}
	return 0;
}

static int do_listen(int fd, int ms)
{
	char buf[2048], text[IP_ENDPOINT_STRLEN];
	struct ip_endpoint from;

	if (recv_until(fd, now_ms() + ms, buf, sizeof(buf), &from) < 0) {
		printf("timeout\n");
		return 1;
	}
	printf("from %s\n", fmt_ep(&from, text, sizeof(text)));
	return 0;
}

static int do_send(int fd, const struct ip_endpoint *to, int count)
{
	for (int i = 0; i < count; i++) {
		send_to(fd, to, "hello");
		usleep(50 * 1000);
	}
	return 0;
}

static int do_punch(int fd, const struct ip_endpoint *peer, int ms)
{
	char buf[2048], text[IP_ENDPOINT_STRLEN];
	struct ip_endpoint from;
	long long deadline = now_ms() + ms, got_at = 0;

	while (now_ms() < deadline) {
		long long tick = now_ms() + 100;

		send_to(fd, peer, "punch");
		while (recv_until(fd, tick, buf, sizeof(buf), &from) >= 0) {
			if (!ep_eq(&from, peer)) {
				fprintf(stderr, "udptool: stray datagram from %s\n",
					fmt_ep(&from, text, sizeof(text)));
				continue;
			}
			if (got_at == 0)
				got_at = now_ms();
		}
		if (got_at != 0 && now_ms() - got_at >= 500) {
			printf("ok\n");
			return 0;
		}
	}
	if (got_at != 0) {
		printf("ok\n");
		return 0;
	}
	printf("timeout\n");
	return 1;
}

/* The errors an ICMP error turns into on a connected socket. */
static bool icmp_error(int e)
{
	return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH ||
	       e == EACCES;
}

static int do_refused(const struct ip_endpoint *to, int ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	long long deadline = now_ms() + ms;
	char buf[16];
	int fd;

	if (ip_endpoint_to_sockaddr(to, &ss, &len) != 0)
		return 1;
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
		perror("udptool: socket/connect");
		return 1;
	}
	while (now_ms() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (send(fd, "?", 1, 0) < 0 && icmp_error(errno))
			goto refused;
		if (poll(&p, 1, 100) > 0 && recv(fd, buf, sizeof(buf), 0) < 0 &&
		    icmp_error(errno))
			goto refused;
	}
	close(fd);
	printf("silent\n");
	return 0;
refused:
	close(fd);
	printf("%s\n", errno == ECONNREFUSED ? "refused" : "unreachable");
	return 0;
}

int main(int argc, char **argv)
{
	struct ip_endpoint bind_to, dests[MAX_DESTS];
	const char *cmd;
	int opt, ms = 3000, count = -1, ndest = 0, fd, ttl = 0;

	if (argc < 2)
		usage();
	cmd = argv[1];
	parse_ep("0.0.0.0:0", &bind_to, true);
	optind = 2;
	while ((opt = getopt(argc, argv, "b:t:c:T:")) != -1) {
		switch (opt) {
		case 'b':
			parse_ep(optarg, &bind_to, true);
			break;
		case 't':
			ms = atoi(optarg);
			break;
		case 'c':
			count = atoi(optarg);
			break;
		case 'T':
			ttl = atoi(optarg);
			if (ttl < 1 || ttl > 255)
				usage();
			break;
		default:
			usage();
		}
	}
	for (int i = optind; i < argc; i++) {
		if (ndest == MAX_DESTS)
			usage();
		parse_ep(argv[i], &dests[ndest++], false);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (strcmp(cmd, "refused") == 0)
		return ndest == 1 ? do_refused(&dests[0], ms) : (usage(), 2);
	fd = open_socket(&bind_to);
	if (ttl && (bind_to.addr.family == 6
			    ? setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS,
					 &ttl, sizeof(ttl))
			    : setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl,
					 sizeof(ttl))) != 0) {
		perror("udptool: TTL");
		return 1;
	}
	if (strcmp(cmd, "echo") == 0 && ndest == 0)
		return do_echo(fd, count);
	if (strcmp(cmd, "ask") == 0 && ndest > 0)
		return do_ask(fd, dests, ndest, ms);
	if (strcmp(cmd, "listen") == 0 && ndest == 0)
		return do_listen(fd, ms);
	if (strcmp(cmd, "send") == 0 && ndest == 1)
		return do_send(fd, &dests[0], count < 0 ? 3 : count);
	if (strcmp(cmd, "punch") == 0 && ndest == 1)
		return do_punch(fd, &dests[0], ms);
	usage();
	return 2;
}
