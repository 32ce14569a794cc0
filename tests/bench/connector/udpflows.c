/* udpflows: N concurrent UDP flows to echo servers, for the connector's
 * flow-table benchmark (tests/bench/connector/flows.sh).
 *
 *   udpflows -n N [-b PORT] [-r PPS] [-p PACKETS] [-w MS] [-H MS]
 *            [-c PID,...] DEST...
 *
 * Opens N UDP sockets (N source ports: PORT, PORT+1, ... with -b, else
 * ephemeral ones), each connected to one of the DESTs (ADDR:PORT,
 * round-robin), then:
 *   1. establish: one datagram per flow at PPS, then waits up to MS for
 *      the echoes; prints "established A of N";
 *   2. measure: PACKETS datagrams at PPS, flow after flow round-robin (so
 *      the packet stream has the same rate and sizes whatever N is:
 *      only the number of distinct flows differs), then waits up to MS
 *      for the echoes; reads utime+stime of each PID in -c before and
 *      after; prints "measure sent S echoed E flows_answered F of N
 *      flows_silent Z" and "cpu PID MS" for each PID;
 *   3. hold: prints "holding" and keeps the sockets open for -H MS (the
 *      caller samples memory meanwhile), then exits.
 * Every flow must get at least one echo in the measure phase: exit 0
 * then, 1 when a flow stayed silent or on errors, 2 usage. Needs
 * RLIMIT_NOFILE above N (raised here to N + 64 when allowed).
 * Defaults: PPS 10000, PACKETS 100000, MS 3000, hold 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DESTS 16
#define MAX_PIDS 4

struct flows {
	int *fd;
	uint32_t *echoed; /* echoes in the current phase */
	int n;
	int ep;
	long long echoes;
};

static void usage(void)
{
	fprintf(stderr, "usage: udpflows -n N [-r PPS] [-p PACKETS] [-w MS] "
			"[-H MS] [-c PID,...] ADDR:PORT...\n");
	exit(2);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void parse_dest(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *c = strrchr(s, ':');

	if (!c || (size_t)(c - s) >= sizeof(host))
		usage();
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = '\0';
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)atoi(c + 1));
	if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
		usage();
}

/* utime + stime of pid in ms, -1 when unreadable. */
static long long cpu_ms(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			 "%*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st) * 1000 / sysconf(_SC_CLK_TCK);
}

/* Reads every echo waiting, waiting at most ms for the first. */
static void drain(struct flows *fl, int ms)
{
	struct epoll_event ev[256];
	char buf[256];
	int k, i;

	k = epoll_wait(fl->ep, ev, 256, ms);
	for (i = 0; i < k; i++) {
		int idx = (int)ev[i].data.u32;

		while (recv(fl->fd[idx], buf, sizeof(buf), MSG_DONTWAIT) >= 0) {
			fl->echoed[idx]++;
			fl->echoes++;
		}
	}
}

/* Sends count datagrams at pps, flow after flow from flow 0, reading
 * echoes in between; then waits up to wait_ms for the rest (until every
 * flow answered and every echo came). Returns the datagrams sent. */
static long long run_phase(struct flows *fl, long long count, long pps,
			   int wait_ms)
{
	long long start = now_ns(), e0 = fl->echoes, sent = 0, i, due, end;
	char msg[32];
	int idx, nans;

	for (i = 0; i < count; i++) {
		idx = (int)(i % fl->n);
		due = start + i * 1000000000LL / pps;
		while (now_ns() < due)
			drain(fl, 0);
		snprintf(msg, sizeof(msg), "flow %d", idx);
		if (send(fl->fd[idx], msg, strlen(msg), 0) >= 0)
			sent++;
		if (!(i & 63))
			drain(fl, 0);
	}
	end = now_ns() + (long long)wait_ms * 1000000LL;
	while (now_ns() < end) {
		drain(fl, 20);
		for (nans = 0, idx = 0; idx < fl->n; idx++)
			nans += fl->echoed[idx] > 0;
		if (nans == fl->n && fl->echoes - e0 >= sent)
			break;
	}
	return sent;
}

static int answered(const struct flows *fl)
{
	int i, a = 0;

	for (i = 0; i < fl->n; i++)
		a += fl->echoed[i] > 0;
	return a;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dest[MAX_DESTS];
	int pids[MAX_PIDS], npids = 0, ndest = 0, wait_ms = 3000, hold_ms = 0;
	int base = 0;
	long long packets = 100000, sent, echoes0, cpu0[MAX_PIDS];
	long pps = 10000;
	struct flows fl = {0};
	struct rlimit rl;
	char *p;
	int opt, i, a;

	while ((opt = getopt(argc, argv, "n:b:r:p:w:H:c:")) != -1) {
		switch (opt) {
		case 'n': fl.n = atoi(optarg); break;
		case 'b': base = atoi(optarg); break;
		case 'r': pps = atol(optarg); break;
		case 'p': packets = atoll(optarg); break;
		case 'w': wait_ms = atoi(optarg); break;
		case 'H': hold_ms = atoi(optarg); break;
		case 'c':
			for (p = strtok(optarg, ","); p && npids < MAX_PIDS;
			     p = strtok(NULL, ","))
				pids[npids++] = atoi(p);
			break;
		default: usage();
		}
	}
	for (i = optind; i < argc && ndest < MAX_DESTS; i++)
		parse_dest(argv[i], &dest[ndest++]);
	if (fl.n <= 0 || pps <= 0 || packets <= 0 || !ndest || base < 0 ||
	    base + fl.n > 65536)
		usage();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)fl.n + 64) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)fl.n + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fl.fd = calloc((size_t)fl.n, sizeof(*fl.fd));
	fl.echoed = calloc((size_t)fl.n, sizeof(*fl.echoed));
	fl.ep = epoll_create1(0);
	if (!fl.fd || !fl.echoed || fl.ep < 0) {
		perror("udpflows");
		return 1;
	}
	for (i = 0; i < fl.n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		struct sockaddr_in me = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)(base + i))};

		fl.fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fl.fd[i] < 0 ||
		    (base && bind(fl.fd[i], (struct sockaddr *)&me,
				  sizeof(me)) < 0) ||
		    connect(fl.fd[i], (struct sockaddr *)&dest[i % ndest],
			    sizeof(dest[0])) < 0 ||
		    epoll_ctl(fl.ep, EPOLL_CTL_ADD, fl.fd[i], &ev) < 0) {
			fprintf(stderr, "udpflows: flow %d: %s\n", i,
				strerror(errno));
			return 1;
		}
	}
	run_phase(&fl, fl.n, pps, wait_ms);
	printf("established %d of %d\n", answered(&fl), fl.n);
	fflush(stdout);

	memset(fl.echoed, 0, (size_t)fl.n * sizeof(*fl.echoed));
	echoes0 = fl.echoes;
	for (i = 0; i < npids; i++)
		cpu0[i] = cpu_ms(pids[i]);
	sent = run_phase(&fl, packets, pps, wait_ms);
	a = answered(&fl);
	printf("measure sent %lld echoed %lld flows_answered %d of %d "
	       "flows_silent %d\n", sent, fl.echoes - echoes0, a, fl.n,
	       fl.n - a);
	for (i = 0; i < npids; i++)
		printf("cpu %d %lld\n", pids[i], cpu_ms(pids[i]) - cpu0[i]);
	printf("holding\n");
	fflush(stdout);
	if (hold_ms > 0)
		usleep((useconds_t)hold_ms * 1000);
	return a == fl.n ? 0 : 1;
}
