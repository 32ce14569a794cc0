#include "lpoll.h"

#include "shared/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ANSWER_MAX (4 * 1024 * 1024)

struct lpoll {
	int fd;
	bool done;
	long status;
	json_t *json;
	int64_t answered_ms;
	char *data;
	size_t len, cap;
};

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int lpoll_start(struct ih *h, const char *path, const char *token,
		struct lpoll **out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct lpoll *p = calloc(1, sizeof(*p));
	char req[2048];
	int n, rc;

	if (!p)
		return -ENOMEM;
	p->answered_ms = -1;
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		rc = -errno;
		goto fail;
	}
	sa.sin_port = htons((uint16_t)h->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto fail;
	}
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s%s"
		     "Connection: close\r\n\r\n",
		     path, h->port, token ? "Authorization: Bearer " : "",
		     token ? token : "", token ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req)) {
		rc = -EINVAL;
		goto fail;
	}
	rc = send_all(p->fd, req, (size_t)n);
	if (rc < 0)
		goto fail;
	fcntl(p->fd, F_SETFL, O_NONBLOCK);
	*out = p;
	return 0;
fail:
	lpoll_del(p);
	return rc;
}

/* Finishes p: parses what arrived (complete says whether it is whole). */
static void finish(struct lpoll *p, bool complete)
{
	const char *body;
	long st = -1;

	p->done = true;
	p->answered_ms = clock_mono_ms();
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	body = p->data ? strstr(p->data, "\r\n\r\n") : NULL;
	if (!complete || !body || sscanf(p->data, "HTTP/1.%*d %ld", &st) != 1) {
		p->status = -1;
		return;
	}
	p->status = st;
	body += 4;
	if (*body)
		p->json = json_loads(body, JSON_DECODE_ANY, NULL);
}

/* True when data holds the headers and a Content-Length body. */
static bool whole(const struct lpoll *p)
{
	const char *end, *cl;
	size_t hdr, want;

	if (!p->data)
		return false;
	end = strstr(p->data, "\r\n\r\n");
	if (!end)
		return false;
	hdr = (size_t)(end - p->data) + 4;
	cl = strcasestr(p->data, "\r\nContent-Length:");
	if (!cl || cl > end)
		return false;
	want = strtoul(cl + 17, NULL, 10);
	return p->len >= hdr + want;
}

/* Reads what is there; finishes p at EOF, on error or once whole. */
static void pump(struct lpoll *p)
{
	for (;;) {
		char buf[16384];
		ssize_t r = recv(p->fd, buf, sizeof(buf), 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			finish(p, r == 0);
			return;
		}
		if (p->len + (size_t)r + 1 > ANSWER_MAX) {
			finish(p, false);
			return;
		}
		if (p->len + (size_t)r + 1 > p->cap) {
			size_t cap = p->cap ? p->cap : 8192;
			char *d;

			while (cap < p->len + (size_t)r + 1)
				cap *= 2;
			d = realloc(p->data, cap);
			if (!d) {
				finish(p, false);
				return;
			}
			p->data = d;
			p->cap = cap;
		}
		memcpy(p->data + p->len, buf, (size_t)r);
		p->len += (size_t)r;
		p->data[p->len] = '\0';
	}
	if (whole(p))
		finish(p, true);
}

size_t lpoll_wait(struct lpoll *const *v, size_t n, int64_t timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	struct pollfd *pfd = calloc(n ? n : 1, sizeof(*pfd));
	struct lpoll **who = calloc(n ? n : 1, sizeof(*who));
	size_t done = 0;

	if (!pfd || !who)
		goto out;
	for (;;) {
		size_t np = 0;
		int64_t left = deadline - clock_mono_ms();
		int r;

		done = 0;
		for (size_t i = 0; i < n; i++) {
			if (!v[i])
				continue;
			if (v[i]->done) {
				done++;
				continue;
			}
			pfd[np] = (struct pollfd){.fd = v[i]->fd, .events = POLLIN};
			who[np++] = v[i];
		}
		if (!np || left <= 0)
			break;
		r = poll(pfd, np, (int)left);
		if (r < 0 && errno != EINTR)
			break;
		for (size_t i = 0; r > 0 && i < np; i++)
			if (pfd[i].revents)
				pump(who[i]);
	}
out:
	free(pfd);
	free(who);
	return done;
}

bool lpoll_done(const struct lpoll *p)
{
	return p->done;
}

long lpoll_status(const struct lpoll *p)
{
	return p->done ? p->status : 0;
}

json_t *lpoll_json(const struct lpoll *p)
{
	return p->json;
}

int64_t lpoll_answered_at(const struct lpoll *p)
{
	return p->done ? p->answered_ms : -1;
}

void lpoll_close(struct lpoll *p)
{
	if (p->done)
		return;
	finish(p, false);
}

void lpoll_del(struct lpoll *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	json_decref(p->json);
	free(p->data);
	free(p);
}

struct lpoll *lpoll_map(struct ih *h, const char *cred, int64_t since)
{
	struct lpoll *p = NULL;
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/map?since=%" PRId64, since);
	if (lpoll_start(h, path, cred, &p) < 0)
		return NULL;
	return p;
}
