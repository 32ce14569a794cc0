/* dnsconns: holds many TCP connections to a DNS server that never finish
 * a query, for the stub's connection cap (dns_load_test.sh):
 *
 *   dnsconns [-i IDLE] [-d DRIP] [-s SECONDS] DEST
 *   dnsconns -b BUSY -q DOMAIN DEST
 *
 * opens IDLE connections that send nothing (default 300) and DRIP
 * connections that send a length prefix of 512 and then one byte every
 * 200 ms (default 50), all at once, and keeps them SECONDS (default 12)
 * while watching which the server closes. Prints "opened N" once every
 * connect finished (a refused connect counts as closed at once), then at
 * the end one line:
 *   "idle_closed=N drip_closed=N open=N first_close_ms=T last_close_ms=T"
 * (times from the "opened" line; -1 when none closed).
 *
 * -b: BUSY connections each send one whole query (A b<N>.DOMAIN, for a
 * domain whose upstream does not answer, so the server keeps them all
 * busy), then one more connection is opened and watched for 500 ms;
 * prints "busy=N extra=closed" when the server closed it at once, else
 * "busy=N extra=open".
 *
 * DEST is ADDR:PORT or [ADDR6]:PORT. Exit status: 0 done, 1 failure,
 * 2 usage. */
#include "shared/be.h"
#include "shared/dnswire.h"
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
		"DEST | -b BUSY -q DOMAIN DEST\n");
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

/* -b: BUSY connections with a query each, then one more. */
static int busy(int n, const char *domain, const struct sockaddr_storage *ss,
		socklen_t sl)
{
	struct pollfd extra;
	int *fds = calloc((size_t)n, sizeof(*fds)), sent = 0;
	char b[64];

	if (!fds)
		return 1;
	for (int i = 0; i < n; i++) {
		uint8_t q[2 + 512];
		char name[300];
		int len;

		snprintf(name, sizeof(name), "b%d.%s", i, domain);
		len = dnswire_query_build((uint16_t)i, name, DNS_TYPE_A, 0,
					  false, q + 2, sizeof(q) - 2);
		fds[i] = dial(ss, sl);
		if (len < 0 || fds[i] < 0)
			continue;
		be_put16(q, (uint16_t)len);
		if (send(fds[i], q, (size_t)len + 2, MSG_NOSIGNAL) == len + 2)
			sent++;
	}
	usleep(300000);
	extra.fd = dial(ss, sl);
	extra.events = POLLIN;
	printf("busy=%d extra=%s\n", sent,
	       extra.fd < 0 || (poll(&extra, 1, 500) > 0 &&
				recv(extra.fd, b, sizeof(b), 0) <= 0)
		       ? "closed" : "open");
	if (extra.fd >= 0)
		close(extra.fd);
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	int nidle = 300, ndrip = 50, secs = 12, nbusy = 0, opt, n,
	    open_now = 0;
	const char *domain = NULL;
	int closed[2] = {0, 0};
	long long t0, first = -1, last = -1, next_drip;
	struct rlimit rl = {4096, 4096};
	struct ip_endpoint dest;
	struct sockaddr_storage ss;
	socklen_t sl;
	struct pollfd *pf;

	while ((opt = getopt(argc, argv, "i:d:s:b:q:")) != -1) {
		if (opt == 'b')
			nbusy = atoi(optarg);
		else if (opt == 'q')
			domain = optarg;
		else if (opt == 'i')
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
	    ip_endpoint_to_sockaddr(&dest, &ss, &sl) < 0 || nbusy < 0 ||
	    nbusy > 2000 || (nbusy > 0) != (domain != NULL))
		usage();
	if (nbusy)
		return busy(nbusy, domain, &ss, sl);
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
