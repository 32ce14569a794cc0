/* tcptool: the small TCP client/server the connector test drives, so that
 * it checks content and the peer's address without socat or python.
 *
 *   tcptool serve [-c N] BIND     accept connections one after another:
 *                                 read until EOF, answer "ADDR:PORT BYTES
 *                                 HASH" (the peer as seen here, the bytes
 *                                 read and their FNV-1a hash), print the
 *                                 same line on stdout; exit after N
 *   tcptool send [-t MS] [-n BYTES] [-w MS] DEST
 *                                 connect, wait -w MS (an established,
 *                                 idle flow), send BYTES (default 4 MiB) of a fixed
 *                                 pseudo-random stream, read the answer,
 *                                 print "peer=ADDR:PORT bytes=N ms=T" and
 *                                 exit 0 when count and hash match
 *   tcptool connect [-t MS] DEST  print "connected", "refused" (a reset),
 *                                 "unreachable" (an ICMP error) or
 *                                 "timeout" (exit 0 only for connected)
 *
 * Addresses are ADDR:PORT or [ADDR6]:PORT; MS defaults to 10000. Exit
 * status: 0 done, 1 failure or mismatch, 2 usage. */
#include "shared/ip.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct stream {
	uint64_t x;    /* xorshift state */
	uint64_t hash; /* FNV-1a of what passed */
};

static void usage(void)
{
	fprintf(stderr, "usage: tcptool serve [-c N] BIND | send [-t MS] "
			"[-n BYTES] [-w MS] DEST | connect [-t MS] DEST\n");
	exit(2);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void parse_ep(const char *s, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	struct ip_endpoint e;

	if (ip_endpoint_parse(s, &e) != 0 ||
	    ip_endpoint_to_sockaddr(&e, ss, len) != 0) {
		fprintf(stderr, "tcptool: bad address '%s'\n", s);
		exit(2);
	}
}

static void hash_bytes(struct stream *st, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		st->hash ^= p[i];
		st->hash *= 0x100000001b3ULL;
	}
}

static void fill(struct stream *st, uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		st->x ^= st->x << 13;
		st->x ^= st->x >> 7;
		st->x ^= st->x << 17;
		p[i] = (uint8_t)st->x;
	}
}

static void stream_init(struct stream *st)
{
	st->x = 0x9e3779b97f4a7c15ULL;
	st->hash = 0xcbf29ce484222325ULL;
}

static int serve(int argc, char **argv)
{
	struct sockaddr_storage ss, peer;
	socklen_t len, plen;
	long count = -1;
	int opt, lfd, fd, one = 1;

	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c')
			count = atol(optarg);
		else
			usage();
	}
	if (optind != argc - 1)
		usage();
	parse_ep(argv[optind], &ss, &len);
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(lfd, 8) != 0) {
		perror("tcptool: listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	while (count != 0) {
		struct stream st;
		struct ip_endpoint pe;
		char addr[IP_ENDPOINT_STRLEN] = "?", line[160];
		uint8_t buf[65536];
		uint64_t total = 0;
		ssize_t n;

		plen = sizeof(peer);
		fd = accept(lfd, (struct sockaddr *)&peer, &plen);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			perror("tcptool: accept");
			return 1;
		}
		if (ip_endpoint_from_sockaddr((struct sockaddr *)&peer, plen,
					      &pe) == 0)
			ip_endpoint_format(&pe, addr, sizeof(addr));
		stream_init(&st);
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			hash_bytes(&st, buf, (size_t)n);
			total += (uint64_t)n;
		}
		snprintf(line, sizeof(line), "%s %" PRIu64 " %016" PRIx64 "\n",
			 addr, total, st.hash);
		(void)!write(fd, line, strlen(line));
		close(fd);
		printf("%s", line);
		fflush(stdout);
		if (count > 0)
			count--;
	}
	return 0;
}

/* Connects fd to ss within the deadline. Returns 0, ECONNREFUSED, or
 * ETIMEDOUT (or another errno). */
static int connect_by(int fd, const struct sockaddr_storage *ss,
		      socklen_t len, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int flags = fcntl(fd, F_GETFL), err = 0;
	socklen_t elen = sizeof(err);
	long long left;

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (connect(fd, (const struct sockaddr *)ss, len) != 0 &&
	    errno != EINPROGRESS)
		return errno;
	left = deadline - now_ms();
	if (left <= 0 || poll(&p, 1, (int)left) <= 0)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
		return errno;
	fcntl(fd, F_SETFL, flags);
	return err;
}

static int client(int argc, char **argv, bool send_data)
{
	struct sockaddr_storage ss;
	socklen_t len;
	long long ms = 10000, t0, bytes = 4 << 20, left, wait = 0;
	struct stream st;
	char ans[200], want[160];
	struct timeval tv;
	size_t got = 0;
	int opt, fd, rc;

	while ((opt = getopt(argc, argv, "t:n:w:")) != -1) {
		if (opt == 't')
			ms = atoll(optarg);
		else if (opt == 'n' && send_data)
			bytes = atoll(optarg);
		else if (opt == 'w' && send_data)
			wait = atoll(optarg);
		else
			usage();
	}
	if (optind != argc - 1 || ms <= 0 || bytes < 0 || wait < 0 ||
	    wait > 600000)
		usage();
	parse_ep(argv[optind], &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	t0 = now_ms();
	rc = fd < 0 ? errno : connect_by(fd, &ss, len, t0 + ms);
	if (!send_data) {
		printf("%s\n", rc == 0 ? "connected"
			       : rc == ECONNREFUSED ? "refused"
			       : rc == EHOSTUNREACH || rc == ENETUNREACH ||
					 rc == EACCES ? "unreachable"
			       : "timeout");
		return rc == 0 ? 0 : 1;
	}
	if (rc != 0) {
		fprintf(stderr, "tcptool: connect: %s\n", strerror(rc));
		return 1;
	}
	if (wait)
		poll(NULL, 0, (int)wait);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	stream_init(&st);
	for (left = bytes; left > 0;) {
		uint8_t buf[65536];
		size_t n = left < (long long)sizeof(buf) ? (size_t)left
							 : sizeof(buf);
		ssize_t w;

		fill(&st, buf, n);
		hash_bytes(&st, buf, n);
		for (size_t off = 0; off < n; off += (size_t)w) {
			w = write(fd, buf + off, n - off);
			if (w <= 0) {
				fprintf(stderr, "tcptool: write after %lld "
						"bytes: %s\n", bytes - left,
					strerror(errno));
				return 1;
			}
		}
		left -= (long long)n;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n = read(fd, ans + got, sizeof(ans) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	ans[got] = '\0';
	ans[strcspn(ans, "\n")] = '\0';
	close(fd);
	snprintf(want, sizeof(want), " %lld %016" PRIx64, bytes, st.hash);
	/* The answer is "PEER BYTES HASH": check the part after PEER. */
	if (!strchr(ans, ' ') || strcmp(strchr(ans, ' '), want) != 0) {
		fprintf(stderr, "tcptool: server answered '%s', want "
				"'PEER%s'\n", ans, want);
		return 1;
	}
	*strchr(ans, ' ') = '\0';
	printf("peer=%s bytes=%lld ms=%lld\n", ans, bytes, now_ms() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "serve") == 0)
		return serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "send") == 0)
		return client(argc - 1, argv + 1, true);
	if (strcmp(argv[1], "connect") == 0)
		return client(argc - 1, argv + 1, false);
	usage();
	return 2;
}
