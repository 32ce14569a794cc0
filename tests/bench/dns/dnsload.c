/* dnsload: a UDP DNS load generator for tests/bench/dns/run.sh.
 *
 *   dnsload -s ADDR:PORT -q NAME [-u] [-w WINDOW] [-t SECONDS]
 *
 * Keeps WINDOW queries (A, no EDNS0) outstanding on one socket for
 * SECONDS, each answer sending the next query. -u makes every name unique
 * ("q<N>.NAME"), so a cache never answers. Prints one line: answers/s,
 * the mean, median, 99th percentile and largest latency in microseconds,
 * the answers, and how often a whole window was resent (nothing came
 * back for 1 s: lost queries). */
#include "shared/clock.h"
#include "shared/dnswire.h"
#include "shared/ip.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SLOTS 65536
#define SAMPLES 1000000

static int64_t sent_at[SLOTS];
static uint32_t lat[SAMPLES];

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void send_one(int fd, uint16_t id, const char *name, bool uniq,
		     uint64_t seq)
{
	char full[DNSWIRE_NAME_MAX];
	uint8_t buf[512];
	int n;

	if (uniq)
		snprintf(full, sizeof(full), "q%llu.%s",
			 (unsigned long long)seq, name);
	else
		snprintf(full, sizeof(full), "%s", name);
	n = dnswire_query_build(id, full, DNS_TYPE_A, 0, false, buf,
				sizeof(buf));
	if (n > 0 && send(fd, buf, (size_t)n, 0) == n)
		sent_at[id] = clock_mono_us();
}

int main(int argc, char **argv)
{
	const char *server = NULL, *name = NULL;
	int window = 64, seconds = 5, opt, fd;
	bool uniq = false;
	struct ip_endpoint ep;
	struct sockaddr_storage ss;
	socklen_t sl;
	uint64_t seq = 0, answers = 0, nlat = 0, resends = 0;
	int64_t t0, end;
	double sum = 0;

	while ((opt = getopt(argc, argv, "s:q:uw:t:")) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'q': name = optarg; break;
		case 'u': uniq = true; break;
		case 'w': window = atoi(optarg); break;
		case 't': seconds = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!server || !name || window < 1 || window > 4096 || seconds < 1 ||
	    ip_endpoint_parse(server, &ep) < 0 ||
	    ip_endpoint_to_sockaddr(&ep, &ss, &sl) < 0) {
		fprintf(stderr, "usage: dnsload -s ADDR:PORT -q NAME [-u] "
			"[-w WINDOW] [-t SECONDS]\n");
		return 2;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		perror("dnsload: socket");
		return 1;
	}
	for (int i = 0; i < window; i++, seq++)
		send_one(fd, (uint16_t)seq, name, uniq, seq);
	t0 = clock_mono_us();
	end = t0 + (int64_t)seconds * 1000000;
	while (clock_mono_us() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint8_t buf[4096];
		ssize_t n;

		if (poll(&p, 1, 1000) == 0) {
			/* Everything lost: start the window again. */
			resends++;
			for (int i = 0; i < window; i++, seq++)
				send_one(fd, (uint16_t)seq, name, uniq, seq);
			continue;
		}
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 12)
			continue;
		{
			uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);
			int64_t now = clock_mono_us();

			if (sent_at[id]) {
				uint32_t us = (uint32_t)(now - sent_at[id]);

				sent_at[id] = 0;
				answers++;
				sum += us;
				if (nlat < SAMPLES)
					lat[nlat++] = us;
			}
		}
		send_one(fd, (uint16_t)seq, name, uniq, seq);
		seq++;
	}
	qsort(lat, nlat, sizeof(lat[0]), cmp_u32);
	printf("qps=%.0f mean_us=%.1f p50_us=%u p99_us=%u max_us=%u "
	       "answers=%llu resends=%llu\n",
	       answers / ((clock_mono_us() - t0) / 1e6),
	       answers ? sum / answers : 0.0, nlat ? lat[nlat / 2] : 0,
	       nlat ? lat[nlat * 99 / 100] : 0, nlat ? lat[nlat - 1] : 0,
	       (unsigned long long)answers, (unsigned long long)resends);
	close(fd);
	return answers ? 0 : 1;
}
