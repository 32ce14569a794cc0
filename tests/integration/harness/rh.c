#include "rh.h"

#include "check.h"
#include "shared/token.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct {
	char dir[512];
	char *priv, *pub, *opriv, *opub;
	unsigned seq;
} H;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void init(void)
{
	if (H.dir[0])
		return;
	snprintf(H.dir, sizeof(H.dir), "%s/relay", check_tmpdir());
	mkdir(H.dir, 0700);
	if (token_keygen(&H.priv, &H.pub) < 0 ||
	    token_keygen(&H.opriv, &H.opub) < 0) {
		fprintf(stderr, "rh: token_keygen failed\n");
		abort();
	}
}

const char *rh_dir(void)
{
	init();
	return H.dir;
}

const char *rh_priv(void)
{
	init();
	return H.priv;
}

const char *rh_pub(void)
{
	init();
	return H.pub;
}

const char *rh_other_priv(void)
{
	init();
	return H.opriv;
}

int rh_write_file(const char *name, const char *text, char *out, size_t n)
{
	FILE *f;

	init();
	snprintf(out, n, "%s/%s", H.dir, name);
	f = fopen(out, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -EIO;
}

const char *rh_token_file(const char *priv, long long node, long iat_rel,
			  long exp_rel, char *path, size_t n)
{
	struct token_claims c = {.node_id = node};
	char name[64], *tok = NULL;
	long long now = (long long)time(NULL);
	int r;

	c.iat = now + iat_rel;
	c.exp = now + exp_rel;
	if (token_sign(priv, &c, &tok) < 0)
		return NULL;
	snprintf(name, sizeof(name), "token-%u", H.seq++);
	r = rh_write_file(name, tok, path, n);
	free(tok);
	return r == 0 ? path : NULL;
}

static pid_t spawn(char **argv, const char *log_path, int *out_fd)
{
	int fds[2];
	pid_t parent = getpid(), pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int log_fd;

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
		    getppid() != parent)
			_exit(127);
		log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (log_fd < 0 || dup2(fds[1], 1) < 0 || dup2(log_fd, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	*out_fd = fds[0];
	return pid;
}

static const char *bin(const char *name, char *buf, size_t n)
{
	const char *b = getenv("WEFT_BUILD_DIR");

	snprintf(buf, n, "%s/relay/%s", b ? b : ".", name);
	return buf;
}

/* Reads one line from fd into buf/len (a line buffer), up to deadline.
 * Returns 1 with line set, 0 on EOF, -ETIMEDOUT. */
static int read_line(int fd, char *buf, size_t cap, size_t *len,
		     long long deadline, char *line, size_t linecap)
{
	for (;;) {
		char *nl = memchr(buf, '\n', *len);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long long left;
		ssize_t k;

		if (nl) {
			size_t l = (size_t)(nl - buf);

			snprintf(line, linecap, "%.*s", (int)l, buf);
			memmove(buf, nl + 1, *len - l - 1);
			*len -= l + 1;
			return 1;
		}
		if (*len == cap)
			*len = 0; /* overlong line: drop it */
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		k = read(fd, buf + *len, cap - *len);
		if (k <= 0)
			return 0;
		*len += (size_t)k;
	}
}

int rh_relay_start(int port, const char *key_name, const char *const *extra,
		   struct rh_relay *out)
{
	char b[600], listen[64], line[512], lbuf[4096];
	char *argv[40];
	size_t len = 0;
	int n = 0, fd = -1, r;
	long long deadline = now_ms() + 10000;
	pid_t pid;

	init();
	memset(out, 0, sizeof(*out));
	snprintf(out->dir, sizeof(out->dir), "%s", H.dir);
	snprintf(out->key_path, sizeof(out->key_path), "%s/%s", H.dir,
		 key_name);
	snprintf(out->log_path, sizeof(out->log_path), "%s/%s.log", H.dir,
		 key_name);
	r = rh_write_file("controller.pub", H.pub, out->ckey_path,
			  sizeof(out->ckey_path));
	if (r < 0)
		return r;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	argv[n++] = (char *)bin("weft-relay", b, sizeof(b));
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--key";
	argv[n++] = out->key_path;
	argv[n++] = "--controller-key";
	argv[n++] = out->ckey_path;
	argv[n++] = "--metrics-listen";
	argv[n++] = "127.0.0.1:0";
	while (extra && *extra && n < 38)
		argv[n++] = (char *)*extra++;
	argv[n] = NULL;
	pid = spawn(argv, out->log_path, &fd);
	if (pid < 0)
		return -errno;
	out->pid = pid;
	for (;;) {
		r = read_line(fd, lbuf, sizeof(lbuf), &len, deadline, line,
			      sizeof(line));
		if (r <= 0)
			break;
		if (sscanf(line, "metrics listening on 127.0.0.1:%d",
			   &out->metrics_port) == 1)
			continue;
		if (sscanf(line, "relay pin: %63s", out->pin) == 1)
			continue;
		if (sscanf(line, "relay listening on 127.0.0.1:%d",
			   &out->port) == 1)
			break;
	}
	close(fd);
	if (!out->port || !out->pin[0]) {
		fprintf(stderr, "rh: relay did not start\n");
		rh_relay_dump_log(out);
		rh_relay_stop(out, SIGKILL, 1000, NULL);
		return -EIO;
	}
	return 0;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		if (w < 0)
			return -errno;
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return 128 + SIGKILL;
		}
		usleep(10000);
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int rh_relay_stop(struct rh_relay *r, int sig, int timeout_ms,
		  long *elapsed_ms)
{
	long long t0 = now_ms();
	int st;

	if (!r->pid)
		return 0;
	kill(r->pid, sig);
	st = wait_exit(r->pid, timeout_ms);
	r->pid = 0;
	if (elapsed_ms)
		*elapsed_ms = (long)(now_ms() - t0);
	return st;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = calloc(1, (size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n)
		b[0] = '\0';
	fclose(f);
	return b;
}

void rh_relay_dump_log(const struct rh_relay *r)
{
	char *t = slurp(r->log_path);

	fprintf(stderr, "--- relay log %s ---\n%s--- end ---\n", r->log_path,
		t ? t : "(none)\n");
	free(t);
}

bool rh_relay_log_has(const struct rh_relay *r, const char *needle)
{
	char *t = slurp(r->log_path);
	bool has = t && strstr(t, needle);

	free(t);
	return has;
}

int rh_probe_start(const struct rh_relay *r, const char *token_file,
		   const char *const *extra, struct rh_probe *p)
{
	char b[600], relay[64];
	char *argv[48];
	int n = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->log_path, sizeof(p->log_path), "%s/probe-%u.log", H.dir,
		 H.seq++);
	snprintf(relay, sizeof(relay), "127.0.0.1:%d", r->port);
	argv[n++] = (char *)bin("weft-relay-probe", b, sizeof(b));
	argv[n++] = "--relay";
	argv[n++] = relay;
	argv[n++] = "--pin";
	argv[n++] = (char *)r->pin;
	if (token_file) {
		argv[n++] = "--token-file";
		argv[n++] = (char *)token_file;
	}
	while (extra && *extra && n < 46)
		argv[n++] = (char *)*extra++;
	argv[n] = NULL;
	p->pid = spawn(argv, p->log_path, &p->out_fd);
	return p->pid < 0 ? -errno : 0;
}

int rh_probe_event(struct rh_probe *p, const char *event, int timeout_ms,
		   json_t **obj)
{
	long long deadline = now_ms() + timeout_ms;
	char line[4096];

	for (;;) {
		int r = read_line(p->out_fd, p->buf, sizeof(p->buf), &p->len,
				  deadline, line, sizeof(line));
		json_t *o;
		const char *ev;

		if (r <= 0) {
			fprintf(stderr, "rh: probe %d: no \"%s\" event (%s)\n",
				(int)p->pid, event,
				r == 0 ? "exited" : "timeout");
			return r == 0 ? -EPIPE : -ETIMEDOUT;
		}
		o = json_loads(line, 0, NULL);
		ev = json_string_value(json_object_get(o, "event"));
		if (ev && strcmp(ev, event) == 0) {
			if (obj)
				*obj = o;
			else
				json_decref(o);
			return 0;
		}
		json_decref(o);
	}
}

int rh_probe_wait(struct rh_probe *p, int timeout_ms)
{
	int st;

	if (!p->pid)
		return 0;
	st = wait_exit(p->pid, timeout_ms);
	p->pid = 0;
	close(p->out_fd);
	return st;
}

static size_t on_body(char *d, size_t sz, size_t nm, void *ctx)
{
	char **b = ctx;
	size_t old = *b ? strlen(*b) : 0, n = sz * nm;
	char *nb = realloc(*b, old + n + 1);

	if (!nb)
		return 0;
	memcpy(nb + old, d, n);
	nb[old + n] = '\0';
	*b = nb;
	return n;
}

int rh_http_get(int port, const char *path, long *status, char **body)
{
	CURL *c = curl_easy_init();
	char url[256];
	char *b = calloc(1, 1);
	CURLcode cc;

	if (!c || !b) {
		curl_easy_cleanup(c);
		free(b);
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK) {
		free(b);
		return -EIO;
	}
	*body = b;
	return 0;
}

bool rh_skip_unless_sqlite(void)
{
	const char *b = getenv("WEFT_STORE_BACKEND");

	if (b && strcmp(b, "sqlite") != 0) {
		printf("# skip: relay tests need no database (run under sqlite)\n");
		return true;
	}
	return false;
}
