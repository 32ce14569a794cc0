/* dnsconns: holds many TCP connections to a DNS server that never finish
 * a query, for the stub's connection cap (dns_load_test.sh):
 *
 *   dnsconns [-i IDLE] [-d DRIP] [-s SECONDS] DEST
 *
 * opens IDLE connections that send nothing (default 300) and DRIP
 * connections that send a length prefix of 512 and then one byte every
 * 200 ms (default 50), all at once, and keeps them SECONDS (default 12)
 * while watching which the server closes. Prints "opened N" once every
 * connect finished (a refused connect counts as closed at once), then at
 * the end one line:
 *   "idle_closed=N drip_closed=N open=N first_close_ms=T last_close_ms=T"
 * (times from the "opened" line; -1 when none closed). DEST is
 * ADDR:PORT or [ADDR6]:PORT. Exit status: 0 done, 1 failure, 2 usage. */
#include "shared/ip.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DRIP_MS 200

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fprintf(stderr, "usage: dnsconns [-i IDLE] [-d DRIP] [-s SECONDS] "
		"DEST\n");
	exit(2);
}

static int dial(const struct sockaddr_storage *ss, socklen_t sl)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)ss, sl) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	int nidle = 300, ndrip = 50, secs = 12, opt, n, open_now = 0;
	int closed[2] = {0, 0};
	long long t0, first = -1, last = -1, next_drip;
	struct rlimit rl = {4096, 4096};
	struct ip_endpoint dest;
	struct sockaddr_storage ss;
	socklen_t sl;
	struct pollfd *pf;

	while ((opt = getopt(argc, argv, "i:d:s:")) != -1) {
		if (opt == 'i')
			nidle = atoi(optarg);
		else if (opt == 'd')
			ndrip = atoi(optarg);
		else if (opt == 's')
			secs = atoi(optarg);
		else
			usage();
	}
	if (optind + 1 != argc || nidle < 0 || ndrip < 0 || secs < 1 ||
	    nidle + ndrip > 2000 || ip_endpoint_parse(argv[optind], &dest) < 0 ||
	    ip_endpoint_to_sockaddr(&dest, &ss, &sl) < 0)
		usage();
	setrlimit(RLIMIT_NOFILE, &rl);
	n = nidle + ndrip;
	pf = calloc((size_t)n, sizeof(*pf));
	if (!pf)
		return 1;
	for (int i = 0; i < n; i++) {
		pf[i].fd = dial(&ss, sl);
		pf[i].events = POLLIN;
		if (pf[i].fd < 0)
			closed[i >= nidle]++;
		else if (i >= nidle)
			send(pf[i].fd, "\002\000", 2, MSG_NOSIGNAL);
	}
	t0 = now_ms();
	if (closed[0] + closed[1])
		first = last = 0;
	printf("opened %d\n", n - closed[0] - closed[1]);
	fflush(stdout);
	next_drip = t0 + DRIP_MS;
	while (now_ms() < t0 + secs * 1000LL) {
		if (poll(pf, (nfds_t)n, DRIP_MS) < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < n; i++) {
			char b[64];

			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN |
							       POLLHUP |
							       POLLERR)))
				continue;
			if (recv(pf[i].fd, b, sizeof(b), MSG_DONTWAIT) > 0)
				continue; /* an answer: not expected, ignored */
			close(pf[i].fd);
			pf[i].fd = -1;
			closed[i >= nidle]++;
			last = now_ms() - t0;
			if (first < 0)
				first = last;
		}
		if (now_ms() >= next_drip) {
			next_drip += DRIP_MS;
			for (int i = nidle; i < n; i++)
				if (pf[i].fd >= 0)
					send(pf[i].fd, "\000", 1,
					     MSG_NOSIGNAL | MSG_DONTWAIT);
		}
	}
	for (int i = 0; i < n; i++)
		if (pf[i].fd >= 0) {
			open_now++;
			close(pf[i].fd);
		}
	printf("idle_closed=%d drip_closed=%d open=%d first_close_ms=%lld "
	       "last_close_ms=%lld\n", closed[0], closed[1], open_now, first,
	       last);
	free(pf);
	return 0;
}
