/* udpdelay: a UDP forwarder that delays every datagram, for namespace
 * tests on kernels without the netem qdisc (relay_ha_test.sh makes some
 * relays "far" from one host with it).
 *
 *   udpdelay LISTEN UPSTREAM UPSTREAM_BIND DELAY_MS
 *
 * Datagrams arriving on LISTEN (from one client: the last sender) go to
 * UPSTREAM from a socket bound to UPSTREAM_BIND; answers from UPSTREAM go
 * back to the client from LISTEN; each DELAY_MS later than it came, in
 * order. At most QUEUE_MAX datagrams wait (more are dropped, as a full
 * link would). Runs until killed. Exit status: 1 error, 2 usage. */
#include "shared/ip.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX 8192
#define DGRAM_MAX 1600

struct item {
	long long due;
	int up; /* 1: to the upstream, 0: to the client */
	size_t len;
	unsigned char data[DGRAM_MAX];
};

static struct item queue[QUEUE_MAX];
static size_t head, count;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int bound(const char *addr, struct sockaddr_storage *ss,
		 socklen_t *len)
{
	struct ip_endpoint e;
	int fd;

	if (ip_endpoint_parse(addr, &e) < 0 ||
	    ip_endpoint_to_sockaddr(&e, ss, len) < 0) {
		fprintf(stderr, "udpdelay: bad address %s\n", addr);
		exit(2);
	}
	fd = socket(ss->ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)ss, *len) < 0) {
		fprintf(stderr, "udpdelay: bind %s: %s\n", addr,
			strerror(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ls, us, bs, client;
	socklen_t llen, ulen, blen, clen = 0;
	struct ip_endpoint ue;
	int lfd, ufd;
	long long delay;

	if (argc != 5)
		return fprintf(stderr, "usage: udpdelay LISTEN UPSTREAM "
			       "UPSTREAM_BIND DELAY_MS\n"), 2;
	delay = atoll(argv[4]);
	lfd = bound(argv[1], &ls, &llen);
	ufd = bound(argv[3], &bs, &blen);
	if (ip_endpoint_parse(argv[2], &ue) < 0 ||
	    ip_endpoint_to_sockaddr(&ue, &us, &ulen) < 0 ||
	    connect(ufd, (struct sockaddr *)&us, ulen) < 0) {
		fprintf(stderr, "udpdelay: upstream %s\n", argv[2]);
		return 1;
	}
	printf("udpdelay ready\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p[2] = {{.fd = lfd, .events = POLLIN},
				      {.fd = ufd, .events = POLLIN}};
		long long wait = count ? queue[head].due - now_ms() : 1000;

		if (poll(p, 2, wait < 0 ? 0 : (int)wait) < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < 2; i++) {
			struct item *it;
			ssize_t n;

			/* POLLERR: an ICMP error (the upstream is gone);
			 * recv takes it, or poll would report it forever. */
			if (!(p[i].revents & (POLLIN | POLLERR)))
				continue;
			it = &queue[(head + count) % QUEUE_MAX];
			if (i == 0) {
				clen = sizeof(client);
				n = recvfrom(lfd, it->data, DGRAM_MAX, 0,
					     (struct sockaddr *)&client, &clen);
			} else {
				n = recv(ufd, it->data, DGRAM_MAX, 0);
			}
			if (n <= 0 || count == QUEUE_MAX)
				continue;
			it->len = (size_t)n;
			it->up = i == 0;
			it->due = now_ms() + delay;
			count++;
		}
		while (count && queue[head].due <= now_ms()) {
			struct item *it = &queue[head];

			if (it->up)
				send(ufd, it->data, it->len, 0);
			else if (clen)
				sendto(lfd, it->data, it->len, 0,
				       (struct sockaddr *)&client, clen);
			head = (head + 1) % QUEUE_MAX;
			count--;
		}
	}
}
