/* udpfwd: the plain UDP forwarder the relay benchmark compares weft-relay
 * with. One thread, one socket, batches of recvmmsg/sendmmsg; each datagram
 * from a mapped source goes out unchanged to its fixed destination, others
 * are dropped. That is the least work a userspace relay can do per packet,
 * so "relay pps / udpfwd pps" says what the relay's own work costs.
 *
 *   udpfwd -l ADDR:PORT -m FROM=TO [-m FROM=TO ...] [-t SECONDS]
 *
 * Runs until SIGINT/SIGTERM (or -t), then prints one line:
 *   udpfwd: received N forwarded M unmapped U send_errors E */
#include "shared/ip.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define MAX_MAPS 8
#define BUF_SIZE 2048
#define SOCK_BUF (8 << 20)

struct map {
	struct ip_endpoint from;
	struct sockaddr_storage to;
	socklen_t to_len;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: udpfwd -l ADDR:PORT -m FROM=TO [-m FROM=TO...] "
			"[-t SECONDS]\n");
	exit(2);
}

static void parse_ep(const char *s, struct ip_endpoint *out)
{
	if (ip_endpoint_parse(s, out) != 0) {
		fprintf(stderr, "udpfwd: bad address '%s'\n", s);
		exit(2);
	}
}

static void parse_map(const char *s, struct map *m)
{
	char buf[2 * IP_ENDPOINT_STRLEN + 2];
	struct ip_endpoint to;
	char *eq;

	if (strlen(s) >= sizeof(buf))
		usage();
	strcpy(buf, s);
	eq = strchr(buf, '=');
	if (!eq)
		usage();
	*eq = '\0';
	parse_ep(buf, &m->from);
	parse_ep(eq + 1, &to);
	if (ip_endpoint_to_sockaddr(&to, &m->to, &m->to_len) != 0)
		usage();
}

static const struct map *lookup(const struct map *maps, int n,
				const struct sockaddr_storage *ss,
				socklen_t len)
{
	struct ip_endpoint from;

	if (ip_endpoint_from_sockaddr((const struct sockaddr *)ss, len,
				      &from) != 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		if (maps[i].from.port == from.port &&
		    ip_addr_eq(&maps[i].from.addr, &from.addr))
			return &maps[i];
	}
	return NULL;
}

static int open_socket(const struct ip_endpoint *at)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, size = SOCK_BUF;

	if (ip_endpoint_to_sockaddr(at, &ss, &len) != 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* FORCE works as root and ignores rmem_max; the plain ones are the
	 * fallback. Neither failing matters for correctness. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static uint8_t bufs[BATCH][BUF_SIZE];
	struct sockaddr_storage src[BATCH];
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iov_in[BATCH], iov_out[BATCH];
	struct map maps[MAX_MAPS];
	struct ip_endpoint listen_at;
	struct sigaction sa = {0};
	unsigned long long received = 0, forwarded = 0, unmapped = 0, errs = 0;
	bool have_listen = false;
	int opt, nmaps = 0, seconds = 0, fd;

	while ((opt = getopt(argc, argv, "l:m:t:")) != -1) {
		switch (opt) {
		case 'l':
			parse_ep(optarg, &listen_at);
			have_listen = true;
			break;
		case 'm':
			if (nmaps == MAX_MAPS)
				usage();
			parse_map(optarg, &maps[nmaps++]);
			break;
		case 't':
			seconds = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!have_listen || nmaps == 0 || optind != argc)
		usage();
	fd = open_socket(&listen_at);
	if (fd < 0) {
		perror("udpfwd: socket");
		return 1;
	}
	/* No SA_RESTART: the signal must interrupt recvmmsg. */
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	if (seconds > 0)
		alarm((unsigned)seconds);
	printf("udpfwd: listening\n");
	fflush(stdout);

	for (int i = 0; i < BATCH; i++) {
		iov_in[i].iov_base = bufs[i];
		iov_in[i].iov_len = BUF_SIZE;
	}
	while (!stop) {
		int n, k = 0, sent = 0;

		for (int i = 0; i < BATCH; i++) {
			memset(&in[i].msg_hdr, 0, sizeof(in[i].msg_hdr));
			in[i].msg_hdr.msg_name = &src[i];
			in[i].msg_hdr.msg_namelen = sizeof(src[i]);
			in[i].msg_hdr.msg_iov = &iov_in[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			perror("udpfwd: recvmmsg");
			break;
		}
		received += (unsigned)n;
		for (int i = 0; i < n; i++) {
			const struct map *m = lookup(maps, nmaps, &src[i],
						     in[i].msg_hdr.msg_namelen);

			if (!m) {
				unmapped++;
				continue;
			}
			iov_out[k].iov_base = bufs[i];
			iov_out[k].iov_len = in[i].msg_len;
			memset(&out[k].msg_hdr, 0, sizeof(out[k].msg_hdr));
			out[k].msg_hdr.msg_name = (void *)&m->to;
			out[k].msg_hdr.msg_namelen = m->to_len;
			out[k].msg_hdr.msg_iov = &iov_out[k];
			out[k].msg_hdr.msg_iovlen = 1;
			k++;
		}
		while (sent < k) {
			int r = sendmmsg(fd, out + sent, (unsigned)(k - sent), 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				/* Count the one that failed and go on with
				 * the rest, as a relay would. */
				errs++;
				sent++;
				continue;
			}
			forwarded += (unsigned)r;
			sent += r;
		}
	}
	printf("udpfwd: received %llu forwarded %llu unmapped %llu "
	       "send_errors %llu\n", received, forwarded, unmapped, errs);
	close(fd);
	return 0;
}
