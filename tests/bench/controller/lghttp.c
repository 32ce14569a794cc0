/* The controller benchmark's helpers (tests/bench/controller/loadgen.c):
 * clock, exit on error, quantiles, the controller's memory and CPU time
 * from /proc, HTTP/1.1 framing, and a blocking keep-alive client for
 * setup, admin calls and changes. */
#include "lghttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p)
		die("out of memory");
	return p;
}


static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of v[0..n), which it sorts. */
double quantile(double *v, size_t n, double q)
{
	size_t k;

	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	k = (size_t)ceil(q * (double)n);
	return v[k ? k - 1 : 0];
}

/* VmRSS of pid in KB, or -1. */
long rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* utime + stime of pid in ms, or -1. */
double cpu_ms(int pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut = 0, st = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* --- HTTP/1.1 framing, shared by both clients --- */

/* Looks for a complete response in buf[0..len). Returns 1 with *status,
 * *body (offset) and *total (bytes of the whole response) when complete, 0
 * when more bytes are needed, -1 when it is not a response we understand
 * (no Content-Length: the controller always sends one). */
int http_parse(const char *buf, size_t len, int *status, size_t *body,
	       size_t *total, bool *close_after, bool *gz)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	const char *p;
	long long cl = -1;

	if (!end)
		return len > 65536 ? -1 : 0;
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
		return -1;
	*status = atoi(buf + 9);
	*close_after = false;
	*gz = false;
	for (p = memchr(buf, '\n', (size_t)(end - buf)); p && p < end;
	     p = memchr(p + 1, '\n', (size_t)(end - p))) {
		if (strncasecmp(p + 1, "Content-Length:", 15) == 0)
			cl = atoll(p + 16);
		else if (strncasecmp(p + 1, "Connection: close", 17) == 0)
			*close_after = true;
		else if (strncasecmp(p + 1, "Content-Encoding: gzip", 22) == 0)
			*gz = true;
	}
	if (cl < 0)
		return -1;
	*body = (size_t)(end + 4 - buf);
	if (len < *body + (size_t)cl)
		return 0;
	*total = *body + (size_t)cl;
	return 1;
}

int fmt_request(char *out, size_t cap, const char *method, const char *path,
		const char *token, const char *body, bool gzip)
{
	size_t blen = body ? strlen(body) : 0;
	int n;

	n = snprintf(out, cap,
		     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		     "%s%s%s%s"
		     "Content-Length: %zu\r\n%s\r\n",
		     method, path, token ? "Authorization: Bearer " : "",
		     token ? token : "", token ? "\r\n" : "",
		     gzip ? "Accept-Encoding: gzip\r\n" : "", blen,
		     body ? "Content-Type: application/json\r\n" : "");
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int connect_local(int port, bool nonblock)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	int fd, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
				     (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* --- a blocking keep-alive client (setup, admin calls, changes) --- */

void hc_init(struct hc *c, int port)
{
	memset(c, 0, sizeof(*c));
	c->port = port;
	c->fd = -1;
}

void hc_free(struct hc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
}

int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One request. *resp points into the client's buffer (NUL-terminated)
 * until the next call. Returns 0 or -1 (connection failed twice). */
int hc_call(struct hc *c, const char *method, const char *path,
	    const char *token, const char *body, int *status,
	    const char **resp)
{
	char head[1024];
	int hl = fmt_request(head, sizeof(head), method, path, token, body,
			     false);

	if (hl < 0)
		return -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		size_t len = 0, boff = 0, total = 0;
		bool close_after = false, gz = false;
		int r = 0;

		if (c->fd < 0 && (c->fd = connect_local(c->port, false)) < 0) {
			c->fd = -1;
			return -1;
		}
		if (write_all(c->fd, head, (size_t)hl) < 0 ||
		    (body && write_all(c->fd, body, strlen(body)) < 0))
			goto again;
		for (;;) {
			ssize_t n;

			if (c->cap - len < 65536) {
				size_t cap = c->cap ? c->cap * 2 : 262144;
				char *nb = realloc(c->buf, cap);

				if (!nb || cap > RESP_MAX)
					die("response too large");
				c->buf = nb;
				c->cap = cap;
			}
			n = recv(c->fd, c->buf + len, c->cap - len - 1, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
			r = http_parse(c->buf, len, status, &boff, &total,
				       &close_after, &gz);
			if (r != 0)
				break;
		}
		if (r == 1) {
			c->buf[total] = '\0';
			*resp = c->buf + boff;
			if (close_after) {
				close(c->fd);
				c->fd = -1;
			}
			return 0;
		}
		if (r < 0 || len > 0)
			return -1; /* a bad answer, not a stale connection */
again:
		/* The server closed an idle keep-alive connection. */
		close(c->fd);
		c->fd = -1;
	}
	return -1;
}

json_t *hc_json(struct hc *c, const char *method, const char *path,
		const char *token, json_t *body, int want)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	const char *resp = NULL;
	json_t *j = NULL;
	int status = 0;

	if (hc_call(c, method, path, token, text, &status, &resp) < 0)
		die("%s %s: no answer", method, path);
	if (status != want)
		die("%s %s: status %d, want %d: %.300s", method, path, status,
		    want, resp);
	if (*resp && !(j = json_loads(resp, 0, NULL)))
		die("%s %s: answer is not JSON", method, path);
	free(text);
	return j;
}

/* The map version at the start of a map answer ({"version":N,...}; the
 * controller writes it first). Falls back to parsing the JSON. */
int64_t map_version(const char *body)
{
	static const char key[] = "{\"version\":";
	json_t *j;
	int64_t v = -1;

	if (strncmp(body, key, sizeof(key) - 1) == 0)
		return strtoll(body + sizeof(key) - 1, NULL, 10);
	j = json_loads(body, 0, NULL);
	if (j && json_is_integer(json_object_get(j, "version")))
		v = json_integer_value(json_object_get(j, "version"));
	json_decref(j);
	return v;
}
