#include "ih.h"

#include "check.h"
#include "shared/enc.h"
#include "shared/err.h"
#include "shared/rand.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 30000
#define STOP_GRACE_MS 5000
#define CLI_TIMEOUT_MS 60000
#define ANSWER_MAX (64u * 1024 * 1024)
#define MAX_LIVE 64
#define CLI_MAX_ARGS 64

/* Controllers still running, so the atexit handler can stop them. Only the
 * main thread starts and stops controllers, but calls run on many threads;
 * the lock keeps the table consistent anyway. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ih *live[MAX_LIVE];
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int seq;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool ih_backend_is_pg(void)
{
	const char *b = getenv("WEFT_STORE_BACKEND");

	return b && strcmp(b, "postgres") == 0;
}

static const char *controller_bin(void)
{
	const char *b = getenv("WEFT_CONTROLLER_BIN");

	return b && *b ? b : "weft-controller";
}

static bool read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, (int)cap, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ok && buf[0];
}

/* The unix socket directory of the pg.sh server. */
static int pg_host(char *buf, size_t cap)
{
	const char *dir = getenv("WEFT_PG_DIR");
	char path[512];

	if (!dir || !*dir) {
		fprintf(stderr, "ih: WEFT_PG_DIR is not set\n");
		return WEFT_ERR_INVAL;
	}
	snprintf(path, sizeof(path), "%s/host", dir);
	if (!read_line(path, buf, cap)) {
		fprintf(stderr, "ih: no PostgreSQL server (%s)\n", path);
		return WEFT_ERR_NOTFOUND;
	}
	return 0;
}

int ih_pg_admin(const char *sql)
{
	char host[256], url[512];
	PGconn *c;
	PGresult *r;
	int rc;

	rc = pg_host(host, sizeof(host));
	if (rc < 0)
		return rc;
	snprintf(url, sizeof(url),
		 "postgresql:///postgres?host=%s&user=postgres", host);
	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "ih: %s", PQerrorMessage(c));
		PQfinish(c);
		return WEFT_ERR_DB;
	}
	r = PQexec(c, sql);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : WEFT_ERR_DB;
	if (rc < 0)
		fprintf(stderr, "ih: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return rc;
}

static void drop_db(struct ih *h)
{
	char sql[128];

	if (!h->db_name[0])
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
		 h->db_name);
	ih_pg_admin(sql);
	h->db_name[0] = '\0';
}

static int status_of(int ws)
{
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return 255;
}

/* Waits up to ms for pid; returns its status or -1 if still running. */
static int wait_for(pid_t pid, int64_t ms)
{
	int64_t deadline = now_ms() + ms;
	int ws;

	for (;;) {
		pid_t r = waitpid(pid, &ws, WNOHANG);

		if (r == pid)
			return status_of(ws);
		if (r < 0 && errno != EINTR)
			return 255;
		if (now_ms() >= deadline)
			return -1;
		usleep(10000);
	}
}

/* SIGTERM, then SIGKILL after the grace period; returns the status. */
static int stop_pid(pid_t pid, int64_t grace_ms)
{
	int st;

	kill(pid, SIGTERM);
	st = wait_for(pid, grace_ms);
	if (st < 0) {
		fprintf(stderr, "ih: controller %d ignored SIGTERM; killing it\n",
			(int)pid);
		kill(pid, SIGKILL);
		st = wait_for(pid, 60000);
	}
	return st;
}

static void live_set(struct ih *h, bool on)
{
	pthread_mutex_lock(&live_lock);
	for (size_t i = 0; i < MAX_LIVE; i++) {
		if (on && !live[i]) {
			live[i] = h;
			break;
		}
		if (!on && live[i] == h) {
			live[i] = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&live_lock);
}

/* Runs at exit (before check's tmpdir removal, registered earlier): a test
 * that failed half-way still leaves no process and no database behind. */
static void stop_all(void)
{
	pthread_mutex_lock(&live_lock);
	for (size_t i = 0; i < MAX_LIVE; i++) {
		struct ih *h = live[i];

		if (!h)
			continue;
		if (h->pid > 0) {
			kill(h->pid, SIGKILL);
			wait_for(h->pid, 10000);
			h->pid = 0;
		}
		drop_db(h);
	}
	pthread_mutex_unlock(&live_lock);
	curl_global_cleanup();
}

static void global_init(void)
{
	check_tmpdir(); /* registers its cleanup before ours */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	atexit(stop_all);
	/* PostgreSQL has no default key-encryption key (SQLite makes one in
	 * the data directory): give every controller of this run, and the
	 * CLI, the same fresh one, as the replicas of one deployment share
	 * theirs. */
	if (ih_backend_is_pg() && !getenv("WEFT_KEK")) {
		uint8_t k[32];
		char text[64];

		if (rand_bytes(k, sizeof(k)) == 0 &&
		    base64_encode(k, sizeof(k), text, sizeof(text), false) > 0)
			setenv("WEFT_KEK", text, 1);
	}
}

int ih_read_file(const char *path, char **text)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			char *n = realloc(s, cap + 65536);

			if (!n) {
				rc = WEFT_ERR_NOMEM;
				goto out;
			}
			s = n;
			cap += 65536;
		}
		size_t got = fread(s + len, 1, cap - len - 1, f);

		len += got;
		if (got == 0)
			break;
	}
	s[len] = '\0';
	*text = s;
	s = NULL;
out:
	free(s);
	fclose(f);
	return rc;
}

void ih_dump_log(const struct ih *h)
{
	char *log = NULL;

	if (ih_read_file(h->log_path, &log) < 0)
		return;
	fprintf(stderr, "---- controller log %s ----\n%s---- end ----\n",
		h->log_path, log);
	free(log);
}

/* Child side of fork: wires fds, asks for SIGKILL when the parent dies,
 * and execs. Never returns. */
/* The standard input of the next ih_cli run (NULL: /dev/null). Set by
 * ih_cli_input on the main thread only. */
static const char *cli_input;

static void exec_child(pid_t parent, int out_fd, const char *log_path,
		       char **argv)
{
	int log_fd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	if (cli_input) {
		int p[2];
		size_t n = strlen(cli_input);

		/* Small inputs fit the pipe buffer: write all, then read. */
		if (n > 4096 || pipe(p) < 0 ||
		    write(p[1], cli_input, n) != (ssize_t)n || close(p[1]) < 0 ||
		    dup2(p[0], 0) < 0)
			_exit(127);
	}
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (log_fd < 0 || dup2(out_fd, 1) < 0 || dup2(log_fd, 2) < 0)
		_exit(127);
	execv(argv[0], argv);
	_exit(127);
}

/* Reads the controller's stdout until it listens; fills the bootstrap key
 * and port. */
static int await_listening(struct ih *h)
{
	static const char listening[] = "weft-controller listening on ";
	char buf[8192];
	size_t len = 0;
	int64_t deadline = now_ms() + START_TIMEOUT_MS;
	bool want_key = false;

	for (;;) {
		char *nl;

		while ((nl = memchr(buf, '\n', len))) {
			char *line = buf, *p;

			*nl = '\0';
			p = line + strspn(line, " \t");
			if (strstr(p, "It is shown only now:")) {
				want_key = true;
			} else if (want_key && strncmp(p, "weft_api_", 9) == 0) {
				snprintf(h->bootstrap_key,
					 sizeof(h->bootstrap_key), "%.*s",
					 (int)strcspn(p, " \t\r"), p);
				want_key = false;
			} else if (strncmp(p, listening, sizeof(listening) - 1) == 0) {
				const char *url = p + sizeof(listening) - 1;
				const char *colon = strrchr(url, ':');

				h->port = colon ? atoi(colon + 1) : 0;
				if (h->port <= 0)
					return WEFT_ERR_PARSE;
				/* Call 127.0.0.1: it is what the certificate
				 * names and what we listen on. */
				snprintf(h->url, sizeof(h->url),
					 "%s://127.0.0.1:%d",
					 strncmp(url, "https:", 6) == 0 ? "https"
									 : "http",
					 h->port);
				return 0;
			}
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		if (len == sizeof(buf))
			len = 0; /* an absurd line: drop it */

		int64_t left = deadline - now_ms();
		struct pollfd pfd = {.fd = h->out_fd, .events = POLLIN};
		ssize_t n;

		if (left <= 0) {
			fprintf(stderr, "ih: controller did not listen within "
					"%d ms\n", START_TIMEOUT_MS);
			return WEFT_ERR_TIMEOUT;
		}
		if (poll(&pfd, 1, (int)(left < 200 ? left : 200)) < 0 &&
		    errno != EINTR)
			return -errno;
		n = read(h->out_fd, buf + len, sizeof(buf) - len);
		if (n == 0) {
			fprintf(stderr, "ih: controller exited during startup\n");
			return WEFT_ERR_CLOSED;
		}
		if (n > 0)
			len += (size_t)n;
		else if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

static int make_db(struct ih *h)
{
	char host[256], sql[128];
	int rc;

	if (!ih_backend_is_pg()) {
		snprintf(h->db_url, sizeof(h->db_url), "sqlite://%s/weft.db",
			 h->data_dir);
		return 0;
	}
	rc = pg_host(host, sizeof(host));
	if (rc < 0)
		return rc;
	snprintf(h->db_name, sizeof(h->db_name), "weft_it_%d_%d",
		 (int)getpid(), seq);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", h->db_name);
	rc = ih_pg_admin(sql);
	if (rc < 0) {
		h->db_name[0] = '\0';
		return rc;
	}
	snprintf(h->db_url, sizeof(h->db_url),
		 "postgresql:///%s?host=%s&user=postgres", h->db_name, host);
	return 0;
}

/* Makes h's data directory and log path (a new one per controller). */
static int new_dir(struct ih *h)
{
	seq++;
	snprintf(h->data_dir, sizeof(h->data_dir), "%s/ctl%d", check_tmpdir(),
		 seq);
	snprintf(h->log_path, sizeof(h->log_path), "%s/controller.log",
		 h->data_dir);
	return mkdir(h->data_dir, 0700) < 0 ? -errno : 0;
}

/* Runs `serve` for h (its data directory and database are set) and waits
 * until it listens. Frees h on failure. */
static int spawn(struct ih *h, const struct ih_opts *o, bool want_key,
		 struct ih **out)
{
	char *argv[32];
	int pipefd[2] = {-1, -1};
	size_t n = 0;
	pid_t parent = getpid(), pid;
	int rc;

	argv[n++] = (char *)controller_bin();
	argv[n++] = "serve";
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--data-dir";
	argv[n++] = h->data_dir;
	argv[n++] = "--db";
	argv[n++] = h->db_url;
	if (o && o->tls_cert) {
		argv[n++] = "--tls-cert";
		argv[n++] = (char *)o->tls_cert;
		argv[n++] = "--tls-key";
		argv[n++] = (char *)o->tls_key;
		snprintf(h->cainfo, sizeof(h->cainfo), "%s", o->tls_cert);
	}
	for (size_t i = 0; o && o->serve_args && o->serve_args[i] &&
			   n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
		argv[n++] = (char *)o->serve_args[i];
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (pid == 0)
		exec_child(parent, pipefd[1], h->log_path, argv);
	h->pid = pid;
	live_set(h, true);
	close(pipefd[1]);
	pipefd[1] = -1;
	h->out_fd = pipefd[0];
	pipefd[0] = -1;
	fcntl(h->out_fd, F_SETFL, O_NONBLOCK);
	rc = await_listening(h);
	if (rc == 0 && want_key && !h->bootstrap_key[0]) {
		fprintf(stderr, "ih: controller printed no bootstrap key\n");
		rc = WEFT_ERR_PARSE;
	}
	if (rc < 0)
		ih_dump_log(h);
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (rc < 0) {
		ih_del(h);
		return rc;
	}
	*out = h;
	return 0;
}

int ih_new(const struct ih_opts *o, struct ih **out)
{
	struct ih *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return WEFT_ERR_NOMEM;
	pthread_once(&global_once, global_init);
	h->out_fd = -1;
	rc = new_dir(h);
	if (rc == 0)
		rc = make_db(h);
	if (rc < 0) {
		ih_del(h);
		return rc;
	}
	return spawn(h, o, true, out);
}

int ih_replica(const struct ih *of, const struct ih_opts *o, struct ih **out)
{
	struct ih *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return WEFT_ERR_NOMEM;
	h->out_fd = -1;
	rc = new_dir(h);
	if (rc < 0) {
		ih_del(h);
		return rc;
	}
	snprintf(h->db_url, sizeof(h->db_url), "%s", of->db_url);
	snprintf(h->bootstrap_key, sizeof(h->bootstrap_key), "%s",
		 of->bootstrap_key);
	return spawn(h, o, false, out);
}

int ih_del(struct ih *h)
{
	int st = 0;

	if (!h)
		return 0;
	if (h->pid > 0) {
		st = stop_pid(h->pid, STOP_GRACE_MS);
		h->pid = 0;
		if (st != 0) {
			fprintf(stderr, "ih: controller exited with status %d\n",
				st);
			ih_dump_log(h);
		}
	}
	live_set(h, false);
	drop_db(h);
	if (h->out_fd >= 0)
		close(h->out_fd);
	free(h);
	return st;
}

int ih_restart(struct ih *h)
{
	char listen[32], *argv[16];
	int pipefd[2] = {-1, -1};
	pid_t parent = getpid(), pid;
	size_t n = 0;
	int rc;

	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		wait_for(h->pid, 10000);
		h->pid = 0;
	}
	if (h->out_fd >= 0) {
		close(h->out_fd);
		h->out_fd = -1;
	}
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", h->port);
	argv[n++] = (char *)controller_bin();
	argv[n++] = "serve";
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--data-dir";
	argv[n++] = h->data_dir;
	argv[n++] = "--db";
	argv[n++] = h->db_url;
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return rc;
	}
	if (pid == 0)
		exec_child(parent, pipefd[1], h->log_path, argv);
	h->pid = pid;
	close(pipefd[1]);
	h->out_fd = pipefd[0];
	fcntl(h->out_fd, F_SETFL, O_NONBLOCK);
	rc = await_listening(h);
	if (rc < 0)
		ih_dump_log(h);
	return rc;
}

int ih_signal(struct ih *h, int sig)
{
	if (h->pid <= 0)
		return -ESRCH;
	return kill(h->pid, sig) < 0 ? -errno : 0;
}

struct answer {
	char *data;
	size_t len, cap;
	bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct answer *a = ctx;
	size_t n = size * nmemb;

	if (a->len + n + 1 > ANSWER_MAX) {
		a->too_big = true;
		return 0;
	}
	if (a->len + n + 1 > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		char *d;

		while (cap < a->len + n + 1)
			cap *= 2;
		d = realloc(a->data, cap);
		if (!d)
			return 0;
		a->data = d;
		a->cap = cap;
	}
	memcpy(a->data + a->len, ptr, n);
	a->len += n;
	a->data[a->len] = '\0';
	return n;
}

/* An easy handle with what every call shares: URL, TLS trust, timeouts,
 * a fresh connection, and the answer collector. */
static CURL *easy_for(struct ih *h, const char *path, struct answer *a)
{
	CURL *c = curl_easy_init();
	char url[4096];

	if (!c)
		return NULL;
	snprintf(url, sizeof(url), "%s%s", h->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	if (h->cainfo[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, h->cainfo);
	return c;
}

/* Sends one request with the given header list (taken over) and body;
 * the answer's headers go to hdr_out when it is not NULL. */
static int perform(struct ih *h, const char *method, const char *path,
		   struct curl_slist *hdrs, const char *body, size_t body_len,
		   long *status, char **text, size_t *text_len,
		   char **hdr_out)
{
	struct answer a = {0}, ha = {0};
	struct curl_slist *t;
	CURLcode cc;
	CURL *c;
	long st = 0;
	int rc = 0;

	c = easy_for(h, path, &a);
	if (!c) {
		curl_slist_free_all(hdrs);
		return WEFT_ERR_NOMEM;
	}
	if (hdr_out) {
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &ha);
	}
	if (body) {
		t = curl_slist_append(hdrs, "Content-Type: application/json");
		hdrs = t ? t : hdrs;
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	else if (strcmp(method, "POST") == 0 && !body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		fprintf(stderr, "ih: %s %s: %s\n", method, path,
			curl_easy_strerror(cc));
		rc = -EIO;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	if (!a.data)
		a.data = calloc(1, 1);
	if (hdr_out && !ha.data)
		ha.data = calloc(1, 1);
	if (!a.data || (hdr_out && !ha.data)) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	*status = st;
	*text = a.data;
	if (text_len)
		*text_len = a.len;
	a.data = NULL;
	if (hdr_out) {
		*hdr_out = ha.data;
		ha.data = NULL;
	}
out:
	free(a.data);
	free(ha.data);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

int ih_call_headers(struct ih *h, const char *method, const char *path,
		    const char *const *headers, const char *body, long *status,
		    char **text, char **resp_headers)
{
	struct curl_slist *hdrs = NULL, *t;

	hdrs = curl_slist_append(hdrs, "Expect:");
	for (size_t i = 0; headers && headers[i]; i++) {
		t = curl_slist_append(hdrs, headers[i]);
		hdrs = t ? t : hdrs;
	}
	return perform(h, method, path, hdrs, body, body ? strlen(body) : 0,
		       status, text, NULL, resp_headers);
}

int ih_call_raw(struct ih *h, const char *method, const char *path,
		const char *token, const char *body, size_t body_len,
		long *status, char **text, size_t *text_len)
{
	struct curl_slist *hdrs = NULL, *t;
	char auth[512];

	/* No "Expect: 100-continue": send bodies at once, as agents do. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		t = curl_slist_append(hdrs, auth);
		hdrs = t ? t : hdrs;
	}
	return perform(h, method, path, hdrs, body, body_len, status, text,
		       text_len, NULL);
}

int ih_call(struct ih *h, const char *method, const char *path,
	    const char *token, const char *body, long *status, json_t **json)
{
	json_t *j = NULL;
	char *text = NULL;
	size_t len = 0;
	long st = 0;
	int rc;

	rc = ih_call_raw(h, method, path, token, body, body ? strlen(body) : 0,
			 &st, &text, &len);
	if (rc < 0)
		return rc;
	if (len) {
		json_error_t err;

		j = json_loadb(text, len, JSON_DECODE_ANY, &err);
		if (!j) {
			fprintf(stderr, "ih: %s %s: answer %ld is not JSON: "
					"%.200s\n", method, path, st, text);
			rc = WEFT_ERR_PARSE;
			goto out;
		}
	}
	*status = st;
	if (json)
		*json = j;
	else
		json_decref(j);
out:
	free(text);
	return rc;
}

int ih_peer_cert(struct ih *h, char **pem)
{
	struct answer a = {0};
	struct curl_certinfo *ci = NULL;
	CURLcode cc;
	CURL *c;
	int rc = WEFT_ERR_NOTFOUND;

	c = easy_for(h, "/healthz", &a);
	if (!c)
		return WEFT_ERR_NOMEM;
	curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		fprintf(stderr, "ih: peer certificate: %s\n",
			curl_easy_strerror(cc));
		rc = -EIO;
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci ||
	    ci->num_of_certs < 1)
		goto out;
	for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next) {
		if (strncmp(s->data, "Cert:", 5) == 0) {
			char *p = strdup(s->data + 5);

			if (!p) {
				rc = WEFT_ERR_NOMEM;
				goto out;
			}
			*pem = p;
			rc = 0;
			break;
		}
	}
out:
	free(a.data);
	curl_easy_cleanup(c);
	return rc;
}

static int cli_v(struct ih *h, char **out, int *exit_status,
		 const char *group, const char *verb, va_list ap);

int ih_cli(struct ih *h, char **out, int *exit_status, const char *group,
	   const char *verb, ...)
{
	va_list ap;
	int rc;

	va_start(ap, verb);
	rc = cli_v(h, out, exit_status, group, verb, ap);
	va_end(ap);
	return rc;
}

int ih_cli_input(struct ih *h, const char *input, char **out,
		 int *exit_status, const char *group, const char *verb, ...)
{
	va_list ap;
	int rc;

	cli_input = input;
	va_start(ap, verb);
	rc = cli_v(h, out, exit_status, group, verb, ap);
	va_end(ap);
	cli_input = NULL;
	return rc;
}

static int cli_v(struct ih *h, char **out, int *exit_status,
		 const char *group, const char *verb, va_list ap)
{
	struct answer a = {0};
	char *argv[CLI_MAX_ARGS];
	int pipefd[2] = {-1, -1};
	int64_t deadline = now_ms() + CLI_TIMEOUT_MS;
	pid_t parent = getpid(), pid = -1;
	size_t n = 0;
	const char *arg;
	int st, rc = 0;

	pthread_once(&global_once, global_init);
	argv[n++] = (char *)controller_bin();
	argv[n++] = (char *)group;
	if (verb)
		argv[n++] = (char *)verb;
	/* Flags end at the first positional argument, so --db goes first. */
	argv[n++] = "--db";
	argv[n++] = h->db_url;
	while ((arg = va_arg(ap, const char *)) && n < CLI_MAX_ARGS - 1)
		argv[n++] = (char *)arg;
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (pid == 0)
		exec_child(parent, pipefd[1], h->log_path, argv);
	close(pipefd[1]);
	pipefd[1] = -1;
	for (;;) {
		char buf[4096];
		struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t got;

		if (left <= 0) {
			fprintf(stderr, "ih: weft-controller %s %s timed out\n",
				group, verb ? verb : "");
			kill(pid, SIGKILL);
			break;
		}
		int pr = poll(&pfd, 1, (int)left);

		if (pr < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (pr <= 0)
			continue;
		got = read(pipefd[0], buf, sizeof(buf));
		if (got == 0)
			break;
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rc = -errno;
			break;
		}
		if (on_data(buf, 1, (size_t)got, &a) != (size_t)got) {
			rc = WEFT_ERR_NOMEM;
			break;
		}
	}
	if (rc < 0)
		kill(pid, SIGKILL);
	st = wait_for(pid, rc < 0 ? 10000 : CLI_TIMEOUT_MS);
	if (st < 0) {
		kill(pid, SIGKILL);
		st = wait_for(pid, 10000);
	}
	if (rc < 0)
		goto out;
	if (!a.data) {
		a.data = calloc(1, 1);
		if (!a.data) {
			rc = WEFT_ERR_NOMEM;
			goto out;
		}
	}
	*out = a.data;
	*exit_status = st;
	a.data = NULL;
out:
	free(a.data);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return rc;
}
