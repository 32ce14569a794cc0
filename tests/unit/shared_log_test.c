#include "check.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Log output is captured through a pipe whose read end is non-blocking, so
 * "nothing was written" reads back as an empty string. */
static int cap[2] = {-1, -1};

static void capture_start(void)
{
	if (pipe(cap) != 0) {
		perror("pipe");
		exit(2);
	}
	fcntl(cap[0], F_SETFL, O_NONBLOCK);
	log_set_fd(cap[1]);
	log_set_level(LOG_LEVEL_INFO);
}

/* Reads everything written so far into buf (NUL-terminated) and restores
 * stderr logging. */
static size_t capture_end(char *buf, size_t n)
{
	size_t len = 0;
	ssize_t r;

	while (len + 1 < n && (r = read(cap[0], buf + len, n - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	log_set_fd(2);
	log_set_level(LOG_LEVEL_INFO);
	close(cap[0]);
	close(cap[1]);
	return len;
}

struct field {
	char *key;
	char *val;
};

/* Splits one line (without its newline) into key=value fields in place,
 * undoing log_q quoting. Returns the field count, or -1 when the line is
 * not well-formed. */
static int parse_fields(char *s, struct field *f, int max)
{
	int n = 0;

	while (*s) {
		char *o;

		if (n == max)
			return -1;
		f[n].key = s;
		while (*s && *s != '=' && *s != ' ')
			s++;
		if (*s != '=' || s == f[n].key)
			return -1;
		*s++ = '\0';
		f[n].val = o = s;
		if (*s == '"') {
			s++;
			while (*s && *s != '"') {
				if (*s == '\\') {
					s++;
					if (*s == 'n')
						*o++ = '\n';
					else if (*s == 'x') {
						unsigned v;

						if (sscanf(s + 1, "%2x", &v) != 1)
							return -1;
						*o++ = (char)v;
						s += 2;
					} else if (*s == '"' || *s == '\\')
						*o++ = *s;
					else
						return -1;
					s++;
				} else {
					*o++ = *s++;
				}
			}
			if (*s != '"')
				return -1;
			s++;
		} else {
			while (*s && *s != ' ')
				o = ++s;
		}
		if (*s == ' ')
			s++;
		else if (*s)
			return -1;
		*o = '\0';
		n++;
	}
	return n;
}

static const char *field(struct field *f, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return f[i].val;
	return NULL;
}

static void parses_level_names_in_any_case(void)
{
	enum log_level l = LOG_LEVEL_ERROR;

	CHECK_INT(log_level_parse("DEBUG", &l), 0);
	CHECK_INT(l, LOG_LEVEL_DEBUG);
	CHECK_INT(log_level_parse("Info", &l), 0);
	CHECK_INT(l, LOG_LEVEL_INFO);
	CHECK_INT(log_level_parse("warn", &l), 0);
	CHECK_INT(l, LOG_LEVEL_WARN);
	CHECK_INT(log_level_parse("eRRoR", &l), 0);
	CHECK_INT(l, LOG_LEVEL_ERROR);
	CHECK_STR(log_level_name(LOG_LEVEL_WARN), "warn");
}

static void rejects_unknown_level_names(void)
{
	enum log_level l = LOG_LEVEL_WARN;

	CHECK_INT(log_level_parse("warning", &l), WEFT_ERR_PARSE);
	CHECK_INT(log_level_parse("", &l), WEFT_ERR_PARSE);
	CHECK_INT(log_level_parse("inf", &l), WEFT_ERR_PARSE);
	CHECK_INT(log_level_parse(" info", &l), WEFT_ERR_PARSE);
	CHECK_INT(log_level_parse(NULL, &l), WEFT_ERR_PARSE);
	CHECK_INT(l, LOG_LEVEL_WARN);
}

static void debug_line_does_not_appear_at_info_level(void)
{
	char out[1024];

	capture_start();
	CHECK(!log_enabled(LOG_LEVEL_DEBUG));
	log_debug("hidden_event", "k=%d", 1);
	log_info("visible_event", NULL);
	capture_end(out, sizeof(out));
	CHECK(strstr(out, "hidden_event") == NULL);
	CHECK(strstr(out, "event=visible_event") != NULL);
	CHECK(strchr(out, '\n') == strrchr(out, '\n'));
}

static void lines_below_the_level_are_dropped(void)
{
	char out[2048];

	capture_start();
	log_set_level(LOG_LEVEL_WARN);
	CHECK_INT(log_get_level(), LOG_LEVEL_WARN);
	log_debug("d_event", NULL);
	log_info("i_event", NULL);
	log_warn("w_event", NULL);
	log_warn_err(WEFT_ERR_BUSY, "we_event", NULL);
	log_error("e_event", NULL);
	log_set_level(LOG_LEVEL_ERROR);
	log_warn("w2_event", NULL);
	log_warn_err(WEFT_ERR_BUSY, "we2_event", NULL);
	log_error_err(WEFT_ERR_BUSY, "ee_event", NULL);
	capture_end(out, sizeof(out));
	CHECK(strstr(out, "d_event") == NULL);
	CHECK(strstr(out, "i_event") == NULL);
	CHECK(strstr(out, "level=warn event=w_event\n") != NULL);
	CHECK(strstr(out, "level=warn event=we_event err=") != NULL);
	CHECK(strstr(out, "level=error event=e_event\n") != NULL);
	CHECK(strstr(out, "w2_event") == NULL);
	CHECK(strstr(out, "we2_event") == NULL);
	CHECK(strstr(out, "level=error event=ee_event err=") != NULL);
}

static void line_parses_back_into_timestamp_level_event_and_fields(void)
{
	char out[1024], q[64];
	struct field f[16];
	int64_t ts, now = clock_wall_s();
	int n;

	capture_start();
	log_info("node_registered", "node=%d name=%s note=%s", 5, "laptop",
		 log_q(q, sizeof(q), "two words"));
	capture_end(out, sizeof(out));
	REQUIRE(strlen(out) > 0 && out[strlen(out) - 1] == '\n');
	out[strlen(out) - 1] = '\0';
	REQUIRE(strchr(out, '\n') == NULL);
	n = parse_fields(out, f, 16);
	REQUIRE_INT(n, 6);
	CHECK_STR(f[0].key, "ts");
	CHECK_STR(f[1].key, "level");
	CHECK_STR(f[2].key, "event");
	CHECK_STR(field(f, n, "level"), "info");
	CHECK_STR(field(f, n, "event"), "node_registered");
	CHECK_STR(field(f, n, "node"), "5");
	CHECK_STR(field(f, n, "name"), "laptop");
	CHECK_STR(field(f, n, "note"), "two words");
	/* 2026-11-21T23:59:59.123Z: UTC with milliseconds, and now. */
	REQUIRE_INT(strlen(f[0].val), 24);
	CHECK(f[0].val[19] == '.' && f[0].val[23] == 'Z');
	REQUIRE_INT(clock_parse_rfc3339(f[0].val, &ts), 0);
	CHECK(ts >= now - 5 && ts <= now + 5);
}

static void null_format_writes_only_the_event(void)
{
	char out[256];
	char *p;

	capture_start();
	log_info("started", NULL);
	capture_end(out, sizeof(out));
	p = strstr(out, " level=info event=started\n");
	/* "ts=" and a 24-character timestamp come first; nothing follows. */
	CHECK(strncmp(out, "ts=", 3) == 0);
	CHECK(p == out + 3 + 24);
	CHECK_INT(strlen(out), 3 + 24 + strlen(" level=info event=started\n"));
}

static void err_variants_append_quoted_strerror(void)
{
	char out[1024];
	struct field f[16];
	char *second;
	int n;

	capture_start();
	log_warn_err(WEFT_ERR_NOTFOUND, "lookup_failed", "id=%d", 3);
	log_error_err(-ENOENT, "open_failed", NULL);
	capture_end(out, sizeof(out));
	CHECK(strstr(out, " event=lookup_failed id=3 err=\"not found\"\n") != NULL);
	second = strchr(out, '\n');
	REQUIRE(second != NULL);
	*second++ = '\0';
	n = parse_fields(out, f, 16);
	REQUIRE_INT(n, 5);
	CHECK_STR(field(f, n, "level"), "warn");
	CHECK_STR(field(f, n, "err"), weft_strerror(WEFT_ERR_NOTFOUND));
	REQUIRE(strlen(second) > 0);
	second[strlen(second) - 1] = '\0';
	n = parse_fields(second, f, 16);
	REQUIRE_INT(n, 4);
	CHECK_STR(field(f, n, "level"), "error");
	CHECK_STR(field(f, n, "err"), strerror(ENOENT));
}

static void overlong_line_is_truncated_with_marker(void)
{
	static char big[10000], out[3 * LOG_LINE_MAX];
	size_t len;

	memset(big, 'v', sizeof(big) - 1);
	capture_start();
	log_info("big_line", "v=%s", big);
	log_info("after_big", NULL);
	capture_end(out, sizeof(out));
	len = strchr(out, '\n') - out + 1;
	CHECK(len <= LOG_LINE_MAX);
	CHECK(len > LOG_LINE_MAX - 64);
	CHECK(strncmp(out, "ts=", 3) == 0);
	CHECK(strncmp(out + len - 20, " log_truncated=true\n", 20) == 0);
	CHECK(strstr(out + len, "event=after_big\n") != NULL);
}

static void line_that_just_fits_is_not_truncated(void)
{
	char val[LOG_LINE_MAX], out[2 * LOG_LINE_MAX];
	size_t head, len;

	/* Measure the fixed part, then fill exactly to the usable limit. */
	capture_start();
	log_info("fit", "v=");
	capture_end(out, sizeof(out));
	head = strlen(out) - 1;
	len = LOG_LINE_MAX - strlen(" log_truncated=true") - 1 - head;
	memset(val, 'x', len);
	val[len] = '\0';
	capture_start();
	log_info("fit", "v=%s", val);
	capture_end(out, sizeof(out));
	CHECK_INT(strlen(out), head + len + 1);
	CHECK(strstr(out, "log_truncated") == NULL);

	val[len] = 'x';
	val[len + 1] = '\0';
	capture_start();
	log_info("fit", "v=%s", val);
	capture_end(out, sizeof(out));
	CHECK(strstr(out, "x log_truncated=true\n") != NULL);
}

static void raw_newline_in_a_field_cannot_split_the_line(void)
{
	char out[512];

	capture_start();
	log_info("injected", "v=%s", "a\nts=forged level=error\r");
	capture_end(out, sizeof(out));
	CHECK(strchr(out, '\n') == out + strlen(out) - 1);
	CHECK(strstr(out, "v=a?ts=forged level=error?\n") != NULL);
}

static void unsafe_event_name_is_quoted(void)
{
	char out[512];

	capture_start();
	log_info("bad event", NULL);
	log_info(NULL, NULL);
	capture_end(out, sizeof(out));
	CHECK(strstr(out, "event=\"bad event\"\n") != NULL);
	CHECK(strstr(out, "event=\"\"\n") != NULL);
}

static void log_q_returns_safe_strings_unchanged(void)
{
	const char *s = "laptop-01.example.com:443/x@y+z";
	char buf[64];

	CHECK(log_q(buf, sizeof(buf), s) == s);
	CHECK(log_q(NULL, 0, "plain") != NULL);
	CHECK_STR(log_q(NULL, 0, "plain"), "plain");
}

static void log_q_quotes_and_escapes_unsafe_strings(void)
{
	char buf[64];

	CHECK_STR(log_q(buf, sizeof(buf), "two words"), "\"two words\"");
	CHECK_STR(log_q(buf, sizeof(buf), "a\"b\\c"), "\"a\\\"b\\\\c\"");
	CHECK_STR(log_q(buf, sizeof(buf), "line\nnext"), "\"line\\nnext\"");
	CHECK_STR(log_q(buf, sizeof(buf), "\x01\t\x7f\xc3"),
		  "\"\\x01\\x09\\x7f\\xc3\"");
	CHECK_STR(log_q(buf, sizeof(buf), "k=v"), "\"k=v\"");
	CHECK_STR(log_q(buf, sizeof(buf), ""), "\"\"");
	CHECK_STR(log_q(buf, sizeof(buf), NULL), "\"\"");
}

static void log_q_truncates_at_a_whole_escape(void)
{
	char buf[10];
	const char *r;

	/* "\"abcdefg\"" is 9 chars + NUL: fits exactly. */
	r = log_q(buf, sizeof(buf), "abc efg");
	CHECK_STR(r, "\"abc efg\"");
	r = log_q(buf, sizeof(buf), "abc efgh");
	CHECK_STR(r, "\"abc ...\"");
	/* Never half of a \xNN escape. */
	r = log_q(buf, sizeof(buf), "\x01\x02\x03");
	CHECK_STR(r, "\"\\x01...\"");
	CHECK(strlen(r) < sizeof(buf));
	r = log_q(buf, 6, "\x01\x02\x03");
	CHECK_STR(r, "\"...\"");
	r = log_q(buf, 5, "a b");
	CHECK_STR(r, "\"...\"");
	CHECK(r != buf);
}

static void init_from_env_reads_weft_log_level(void)
{
	char out[512];

	capture_start();
	setenv("WEFT_LOG_LEVEL", "DEBUG", 1);
	log_init_from_env();
	CHECK_INT(log_get_level(), LOG_LEVEL_DEBUG);

	log_set_level(LOG_LEVEL_ERROR);
	unsetenv("WEFT_LOG_LEVEL");
	log_init_from_env();
	CHECK_INT(log_get_level(), LOG_LEVEL_ERROR);

	log_set_level(LOG_LEVEL_INFO);
	setenv("WEFT_LOG_LEVEL", "loud stuff", 1);
	log_init_from_env();
	CHECK_INT(log_get_level(), LOG_LEVEL_INFO);
	unsetenv("WEFT_LOG_LEVEL");
	capture_end(out, sizeof(out));
	CHECK(strstr(out, "level=warn event=log_level_invalid "
			  "var=WEFT_LOG_LEVEL value=\"loud stuff\"\n") != NULL);
}

static void logging_leaves_errno_alone(void)
{
	char out[256];

	capture_start();
	errno = EAGAIN;
	log_info("x", "a=%d", 1);
	CHECK_INT(errno, EAGAIN);
	capture_end(out, sizeof(out));
}

static void fatalx_logs_then_aborts(void)
{
	char out[512];
	pid_t pid;
	int status = 0;

	capture_start();
	log_set_level(LOG_LEVEL_ERROR);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		log_fatalx("invariant_broken", "slot=%d", 7);
		_exit(0);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	capture_end(out, sizeof(out));
	CHECK(strstr(out, " level=fatal event=invariant_broken slot=7\n") != NULL);
}

enum { THREADS = 8, LINES = 400, PAD = 300 };

struct reader {
	int fd;
	char *data;
	size_t len;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	size_t max = (size_t)THREADS * LINES * (PAD + 128);
	ssize_t n;

	r->data = malloc(max + 1);
	if (!r->data)
		return NULL;
	while (r->len < max && (n = read(r->fd, r->data + r->len, max - r->len)) > 0)
		r->len += (size_t)n;
	r->data[r->len] = '\0';
	return NULL;
}

static void *write_lines(void *arg)
{
	int t = (int)(intptr_t)arg;
	char pad[PAD + 1];

	memset(pad, 'a' + t, PAD);
	pad[PAD] = '\0';
	for (int i = 0; i < LINES; i++)
		log_info("concurrent", "t=%d seq=%d pad=%s", t, i, pad);
	return NULL;
}

static void concurrent_threads_produce_whole_lines(void)
{
	pthread_t writers[THREADS], rd;
	struct reader r = {0};
	int next[THREADS] = {0}, total = 0;
	char *line, *save = NULL;

	REQUIRE(pipe(cap) == 0);
	r.fd = cap[0];
	log_set_fd(cap[1]);
	REQUIRE(pthread_create(&rd, NULL, read_all, &r) == 0);
	for (int t = 0; t < THREADS; t++)
		REQUIRE(pthread_create(&writers[t], NULL, write_lines,
				       (void *)(intptr_t)t) == 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(writers[t], NULL);
	log_set_fd(2);
	close(cap[1]);
	pthread_join(rd, NULL);
	close(cap[0]);
	REQUIRE(r.data != NULL);
	CHECK(r.len > 0 && r.data[r.len - 1] == '\n');

	for (line = strtok_r(r.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct field f[8];
		const char *pad;
		int n = parse_fields(line, f, 8), t, seq;

		if (!CHECK(n == 6))
			break;
		t = atoi(field(f, n, "t"));
		seq = atoi(field(f, n, "seq"));
		pad = field(f, n, "pad");
		if (!CHECK(t >= 0 && t < THREADS && seq == next[t] &&
			   strlen(pad) == PAD && pad[0] == 'a' + t &&
			   pad[PAD - 1] == 'a' + t))
			break;
		next[t]++;
		total++;
	}
	CHECK_INT(total, THREADS * LINES);
	free(r.data);
}

static const struct check_case cases[] = {
	CHECK_CASE(parses_level_names_in_any_case),
	CHECK_CASE(rejects_unknown_level_names),
	CHECK_CASE(debug_line_does_not_appear_at_info_level),
	CHECK_CASE(lines_below_the_level_are_dropped),
	CHECK_CASE(line_parses_back_into_timestamp_level_event_and_fields),
	CHECK_CASE(null_format_writes_only_the_event),
	CHECK_CASE(err_variants_append_quoted_strerror),
	CHECK_CASE(overlong_line_is_truncated_with_marker),
	CHECK_CASE(line_that_just_fits_is_not_truncated),
	CHECK_CASE(raw_newline_in_a_field_cannot_split_the_line),
	CHECK_CASE(unsafe_event_name_is_quoted),
	CHECK_CASE(log_q_returns_safe_strings_unchanged),
	CHECK_CASE(log_q_quotes_and_escapes_unsafe_strings),
	CHECK_CASE(log_q_truncates_at_a_whole_escape),
	CHECK_CASE(init_from_env_reads_weft_log_level),
	CHECK_CASE(logging_leaves_errno_alone),
	CHECK_CASE(fatalx_logs_then_aborts),
	CHECK_CASE(concurrent_threads_produce_whole_lines),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
