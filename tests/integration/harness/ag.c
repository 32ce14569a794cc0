#include "ag.h"

#include "check.h"
#include "shared/err.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 48
#define CLI_TIMEOUT_MS 20000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *agent_bin(void)
{
	static char path[600];
	const char *b = getenv("WEFT_AGENT_BIN");
	const char *dir = getenv("WEFT_BUILD_DIR");

	if (b && *b)
		return b;
	if (dir && *dir) {
		snprintf(path, sizeof(path), "%s/agent/weft-agent", dir);
		return path;
	}
	return "weft-agent";
}

static int status_of(int ws)
{
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return 255;
}

/* fork + exec with stdout to out_fd (-1: /dev/null) and stderr appended
 * to log_path. Returns the pid or -errno. */
static pid_t spawn(char **argv, int out_fd, const char *log_path)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int log_fd, null_fd;

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
		    getppid() != parent)
			_exit(127);
		log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		null_fd = open("/dev/null", O_RDWR);
		if (log_fd < 0 || null_fd < 0 || dup2(null_fd, 0) < 0 ||
		    dup2(out_fd >= 0 ? out_fd : null_fd, 1) < 0 ||
		    dup2(log_fd, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int ag_start(struct ih *h, const char *name, const char *authkey,
	     const char *const *extra, struct ag **out)
{
	struct ag *a = calloc(1, sizeof(*a));
	char *argv[MAX_ARGS];
	size_t n = 0;
	pid_t pid;

	if (!a)
		return WEFT_ERR_NOMEM;
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->dir, sizeof(a->dir), "%s/agent-%s", check_tmpdir(), name);
	snprintf(a->sock, sizeof(a->sock), "%s/agent-%s.sock", check_tmpdir(),
		 name);
	snprintf(a->log_path, sizeof(a->log_path), "%s/agent-%s.log",
		 check_tmpdir(), name);
	argv[n++] = (char *)agent_bin();
	argv[n++] = "up";
	argv[n++] = "--controller";
	argv[n++] = h->url;
	argv[n++] = "--state-dir";
	argv[n++] = a->dir;
	argv[n++] = "--socket";
	argv[n++] = a->sock;
	argv[n++] = "--no-tun";
	argv[n++] = "--hostname";
	argv[n++] = a->name;
	if (h->cainfo[0]) {
		argv[n++] = "--controller-ca";
		argv[n++] = h->cainfo;
	}
	if (authkey) {
		argv[n++] = "--auth-key";
		argv[n++] = (char *)authkey;
	}
	for (size_t i = 0; extra && extra[i] && n < MAX_ARGS - 1; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	pid = spawn(argv, -1, a->log_path);
	if (pid < 0) {
		free(a);
		return (int)pid;
	}
	a->pid = pid;
	*out = a;
	return 0;
}

int ag_cli(struct ag *a, const char *cmd, json_t **json)
{
	return ag_cli_arg(a, cmd, NULL, json);
}

/* Runs argv with stdout captured into buf (NUL-terminated, cut at n - 1
 * bytes) for at most CLI_TIMEOUT_MS. Returns the exit status or -1. */
static int run_captured(struct ag *a, char **argv, char *buf, size_t n)
{
	size_t len = 0;
	int64_t deadline = now_ms() + CLI_TIMEOUT_MS;
	int pipefd[2], ws;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid = spawn(argv, pipefd[1], a->log_path);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return -1;
	}
	for (;;) {
		struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
		ssize_t k;

		if (now_ms() >= deadline ||
		    poll(&p, 1, (int)(deadline - now_ms())) <= 0)
			break;
		k = read(pipefd[0], buf + len, n - 1 - len);
		if (k <= 0)
			break;
		len += (size_t)k;
		if (len == n - 1)
			break;
	}
	close(pipefd[0]);
	buf[len] = '\0';
	if (now_ms() >= deadline)
		kill(pid, SIGKILL);
	if (waitpid(pid, &ws, 0) != pid)
		return -1;
	return status_of(ws);
}

int ag_cli_arg(struct ag *a, const char *cmd, const char *arg, json_t **json)
{
	char *argv[] = {(char *)agent_bin(), (char *)cmd, "--json",
			"--socket", a->sock, (char *)arg, NULL};
	char buf[1 << 16];
	int st = run_captured(a, argv, buf, sizeof(buf));
	json_t *j;

	if (st < 0)
		return -1;
	j = json_loads(buf, 0, NULL);
	if (!j)
		return st ? st : -1;
	*json = j;
	return st;
}

int ag_cli_text(struct ag *a, const char *cmd, const char *arg, bool json,
		char **out)
{
	char *argv[] = {(char *)agent_bin(), (char *)cmd, "--socket",
			a->sock, json ? "--json" : (char *)arg,
			json ? (char *)arg : NULL, NULL};
	char buf[1 << 16];
	int st = run_captured(a, argv, buf, sizeof(buf));

	if (st < 0)
		return -1;
	*out = strdup(buf);
	return *out ? st : -1;
}

bool ag_wait_state(struct ag *a, const char *want, int64_t timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	do {
		json_t *j = NULL;
		const char *state;
		bool ok;

		ok = ag_cli(a, "status", &j) == 0;
		state = json_string_value(json_object_get(j, "state"));
		ok = ok && state && strcmp(state, want) == 0;

		json_decref(j);
		if (ok)
			return true;
		usleep(50000);
	} while (now_ms() < deadline);
	return false;
}

int ag_wait_exit(struct ag *a, int64_t timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int ws;

	if (a->pid <= 0)
		return a->exit_status;
	for (;;) {
		pid_t r = waitpid(a->pid, &ws, WNOHANG);

		if (r == a->pid) {
			a->pid = 0;
			a->exit_status = status_of(ws);
			return a->exit_status;
		}
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			return -1;
		usleep(10000);
	}
}

char *ag_log(const struct ag *a)
{
	char *text = NULL;

	return ih_read_file(a->log_path, &text) == 0 ? text : NULL;
}

void ag_dump_log(const struct ag *a)
{
	char *log = ag_log(a);

	fprintf(stderr, "---- agent %s log ----\n%s---- end ----\n", a->name,
		log ? log : "(none)\n");
	free(log);
}

int ag_del(struct ag *a)
{
	int st;

	if (!a)
		return 0;
	if (a->pid > 0) {
		kill(a->pid, SIGTERM);
		if (ag_wait_exit(a, 5000) < 0) {
			kill(a->pid, SIGKILL);
			ag_wait_exit(a, 10000);
		}
	}
	st = a->exit_status;
	free(a);
	return st;
}
