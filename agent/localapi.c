/* The local API socket: see localapi.h. */
#include "agent/localapi.h"

#include "agent/listenpause.h"
#include "shared/buf.h"
#include "shared/err.h"
#include "shared/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_MAX 4096
#define ANSWER_MAX (8u * 1024 * 1024)

struct conn {
	struct localapi *api;
	struct loop_io *io;
	int fd;
	char in[REQUEST_MAX];
	size_t inlen;
	struct buf out;
	size_t outoff;
	bool answered;
};

struct localapi {
	struct loop *loop;
	struct loop_io *io;
	int fd;
	struct listenpause *pause; /* out of descriptors: back off */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	localapi_handler *handler;
	void *ctx;
	struct conn *conns[LOCALAPI_MAX_CONNS];
};

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return WEFT_ERR_TOOBIG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

static void conn_close(struct conn *c)
{
	struct localapi *a = c->api;

	for (size_t i = 0; i < LOCALAPI_MAX_CONNS; i++)
		if (a->conns[i] == c)
			a->conns[i] = NULL;
	loop_io_close(c->io, true);
	buf_free(&c->out);
	free(c);
}

static bool peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	return cr.uid == 0 || cr.uid == geteuid();
}

static json_t *error_answer(const char *code, const char *message)
{
	return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
			 message);
}

/* Builds the answer to the request line in c->in[0..len). */
static json_t *answer_for(struct conn *c, size_t len)
{
	json_t *req = json_loadb(c->in, len, JSON_REJECT_DUPLICATES, NULL);
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	json_t *ans;

	if (!peer_allowed(c->fd))
		ans = error_answer("forbidden", "permission denied");
	else if (!json_is_object(req) || !cmd)
		ans = error_answer("invalid",
				   "a request is {\"cmd\": \"...\"} on one line");
	else
		ans = c->api->handler(cmd, req, c->api->ctx);
	json_decref(req);
	return ans;
}

/* Writes what is left of the answer. Returns true when done or failed
 * (the connection is closed then). */
static bool flush(struct conn *c)
{
	while (c->outoff < c->out.len) {
		ssize_t n = send(c->fd, (const char *)c->out.data + c->outoff,
				 c->out.len - c->outoff, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (n <= 0)
			break;
		c->outoff += (size_t)n;
	}
	conn_close(c);
	return true;
}

static void on_conn(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct conn *c = ctx;
	json_t *ans;
	char *text;
	char *nl;
	ssize_t n;

	if (c->answered) {
		flush(c);
		return;
	}
	n = recv(fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->inlen += (size_t)n;
	nl = memchr(c->in, '\n', c->inlen);
	if (!nl && c->inlen < sizeof(c->in))
		return;
	ans = nl ? answer_for(c, (size_t)(nl - c->in))
		 : error_answer("too_big", "request longer than 4096 bytes");
	text = ans ? json_dumps(ans, JSON_COMPACT | LOCALAPI_JSON_REALS)
		   : NULL;
	json_decref(ans);
	c->answered = true;
	if (!text || buf_append_str(&c->out, text) < 0 ||
	    buf_putc(&c->out, '\n') < 0) {
		free(text);
		conn_close(c);
		return;
	}
	free(text);
	if (!flush(c))
		loop_io_set(c->io, LOOP_WRITE);
}

/* Takes one connection on cfd, or closes it when every slot is taken. */
static void take(struct localapi *a, int cfd)
{
	struct conn *c;
	size_t slot;

	for (slot = 0; slot < LOCALAPI_MAX_CONNS && a->conns[slot]; slot++)
		;
	c = slot < LOCALAPI_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		close(cfd);
		return;
	}
	c->api = a;
	c->fd = cfd;
	buf_init(&c->out, ANSWER_MAX);
	if (loop_io_add(a->loop, cfd, LOOP_READ, on_conn, c, &c->io) < 0) {
		close(cfd);
		buf_free(&c->out);
		free(c);
		return;
	}
	a->conns[slot] = c;
}

static void on_accept(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct localapi *a = ctx;
	int cfd;

	(void)io;
	(void)fd;
	(void)ev;
	while ((cfd = listenpause_accept(a->pause)) >= 0)
		take(a, cfd);
}

/* Whether a daemon answers on path already. */
static bool someone_listens(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool yes;

	if (fd < 0)
		return false;
	yes = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return yes;
}

static void make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (strlen(path) >= sizeof(dir))
		return;
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	mkdir(dir, 0755); /* an error shows up at bind */
}

int localapi_new(struct loop *l, const char *path, localapi_handler *h,
		 void *ctx, struct localapi **out)
{
	struct localapi *a = NULL;
	struct sockaddr_un sa;
	mode_t old;
	int rc;

	rc = make_addr(path, &sa);
	if (rc < 0)
		return rc;
	a = calloc(1, sizeof(*a));
	if (!a)
		return WEFT_ERR_NOMEM;
	a->fd = -1;
	a->loop = l;
	a->handler = h;
	a->ctx = ctx;
	make_parent(path);
	if (someone_listens(&sa)) {
		rc = -EADDRINUSE;
		goto out;
	}
	unlink(path); /* a stale socket of a daemon that died */
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		rc = -errno;
		goto out;
	}
	/* The umask makes the socket 0600 from its first moment. */
	old = umask(0177);
	rc = bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (rc < 0)
		goto out;
	memcpy(a->path, sa.sun_path, sizeof(a->path));
	if (chmod(path, 0600) < 0 || listen(a->fd, 16) < 0) {
		rc = -errno;
		goto out;
	}
	rc = loop_io_add(l, a->fd, LOOP_READ, on_accept, a, &a->io);
	if (rc == 0) {
		rc = listenpause_new(l, a->io, a->fd, "localapi", &a->pause);
		if (rc < 0)
			loop_io_close(a->io, false);
	}
out:
	if (rc < 0) {
		if (a->path[0])
			unlink(a->path);
		if (a->fd >= 0)
			close(a->fd);
		free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void localapi_del(struct localapi *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < LOCALAPI_MAX_CONNS; i++)
		if (a->conns[i])
			conn_close(a->conns[i]);
	listenpause_del(a->pause);
	loop_io_close(a->io, true);
	unlink(a->path);
	free(a);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline. Returns 0, WEFT_ERR_TIMEOUT or
 * -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return WEFT_ERR_TIMEOUT;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

int localapi_call(const char *path, const json_t *req, int timeout_ms,
		  json_t **answer)
{
	struct sockaddr_un sa;
	int64_t deadline = now_ms() + timeout_ms;
	struct buf in;
	char *text = NULL;
	size_t len, off = 0;
	int fd = -1, rc;

	buf_init(&in, ANSWER_MAX);
	rc = make_addr(path, &sa);
	if (rc < 0)
		return rc;
	text = json_dumps(req, JSON_COMPACT);
	if (!text)
		return WEFT_ERR_NOMEM;
	len = strlen(text);
	text[len] = '\n'; /* replaces the NUL; len + 1 bytes are sent */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto out;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (off < len + 1) {
		ssize_t n = send(fd, text + off, len + 1 - off, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc < 0)
				goto out;
			continue;
		}
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		off += (size_t)n;
	}
	for (;;) {
		char chunk[16384];
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rc = wait_fd(fd, POLLIN, deadline);
			if (rc < 0)
				goto out;
			continue;
		}
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		rc = buf_append(&in, chunk, (size_t)n);
		if (rc < 0)
			goto out;
		if (memchr(chunk, '\n', (size_t)n))
			break;
	}
	{
		json_t *j = in.len ? json_loadb((const char *)in.data, in.len,
						0, NULL)
				   : NULL;

		rc = j ? 0 : WEFT_ERR_PARSE;
		if (j)
			*answer = j;
	}
out:
	if (fd >= 0)
		close(fd);
	free(text);
	buf_free(&in);
	return rc;
}
