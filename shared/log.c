#include "shared/log.h"

#include "shared/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define TRUNC_MARKER " log_truncated=true"

/* Level and fd are read on every call from any thread; relaxed atomics are
 * enough because nothing else is published through them. */
static atomic_int min_level = LOG_LEVEL_INFO;
static atomic_int out_fd = 2;

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

int log_level_parse(const char *s, enum log_level *out)
{
	if (!s)
		return WEFT_ERR_PARSE;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return WEFT_ERR_PARSE;
}

const char *log_level_name(enum log_level level)
{
	if ((int)level < LOG_LEVEL_DEBUG || level > LOG_LEVEL_ERROR)
		return "unknown";
	return level_names[level];
}

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&min_level, (int)level, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&min_level,
						    memory_order_relaxed);
}

bool log_enabled(enum log_level level)
{
	return (int)level >= atomic_load_explicit(&min_level,
						  memory_order_relaxed);
}

void log_set_fd(int fd)
{
	atomic_store_explicit(&out_fd, fd, memory_order_relaxed);
}

void log_init_from_env(void)
{
	const char *v = getenv("WEFT_LOG_LEVEL");
	enum log_level level;
	char q[64];

	if (!v || !*v)
		return;
	if (log_level_parse(v, &level) == 0)
		log_set_level(level);
	else
		log_warn("log_level_invalid", "var=WEFT_LOG_LEVEL value=%s",
			 log_q(q, sizeof(q), v));
}

static bool safe_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/* Writes the escaped form of c into esc (at most 4 bytes), returns its
 * length. */
static size_t escape(unsigned char c, char esc[4])
{
	static const char hex[] = "0123456789abcdef";

	if (c == '"' || c == '\\') {
		esc[0] = '\\';
		esc[1] = (char)c;
		return 2;
	}
	if (c == '\n') {
		esc[0] = '\\';
		esc[1] = 'n';
		return 2;
	}
	if (c < 0x20 || c >= 0x7f) {
		esc[0] = '\\';
		esc[1] = 'x';
		esc[2] = hex[c >> 4];
		esc[3] = hex[c & 15];
		return 4;
	}
	esc[0] = (char)c;
	return 1;
}

/* Writes s double-quoted and escaped into buf, which must hold at least
 * 6 bytes. Returns the length written, not counting the NUL. */
static size_t quote(char *buf, size_t n, const char *s)
{
	const unsigned char *p;
	size_t full = 2, o = 0, limit;
	char esc[4];

	for (p = (const unsigned char *)s; *p; p++)
		full += escape(*p, esc);
	/* Either everything fits, or keep room for `..."` and the NUL. */
	limit = full + 1 <= n ? full - 1 : n - 5;
	buf[o++] = '"';
	for (p = (const unsigned char *)s; *p; p++) {
		size_t k = escape(*p, esc);

		if (o + k > limit)
			break;
		memcpy(buf + o, esc, k);
		o += k;
	}
	if (*p) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return o;
}

const char *log_q(char *buf, size_t n, const char *s)
{
	const unsigned char *p;

	if (!s)
		s = "";
	for (p = (const unsigned char *)s; *p && safe_char(*p); p++)
		;
	if (*p == '\0' && p != (const unsigned char *)s)
		return s;
	if (n < 6)
		return "\"...\"";
	quote(buf, n, s);
	return buf;
}

/* A line under construction. Text past `limit` is dropped and marks the
 * line truncated; the bytes after limit are kept for the marker and the
 * newline. */
struct line {
	char buf[LOG_LINE_MAX + 1];
	size_t len;
	size_t limit;
	bool truncated;
};

static void line_add(struct line *l, const char *s, size_t n)
{
	if (n > l->limit - l->len) {
		n = l->limit - l->len;
		l->truncated = true;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void line_addv(struct line *l, const char *fmt, va_list ap)
{
	size_t room = l->limit - l->len;
	size_t start = l->len;
	int r;

	/* vsnprintf needs room + 1 for its NUL; buf has one spare byte at
	 * the very end and limit is well below it. */
	r = vsnprintf(l->buf + l->len, room + 1, fmt, ap);
	if (r < 0)
		return;
	if ((size_t)r > room) {
		l->len = l->limit;
		l->truncated = true;
	} else {
		l->len += (size_t)r;
	}
	/* The caller's text may hold raw control bytes; never let them break
	 * the one-call-one-line rule. */
	for (size_t i = start; i < l->len; i++) {
		if ((unsigned char)l->buf[i] < 0x20 || l->buf[i] == 0x7f)
			l->buf[i] = '?';
	}
}

static void line_write(struct line *l)
{
	int fd = atomic_load_explicit(&out_fd, memory_order_relaxed);
	const char *p = l->buf;
	size_t left;

	if (l->truncated) {
		memcpy(l->buf + l->len, TRUNC_MARKER, strlen(TRUNC_MARKER));
		l->len += strlen(TRUNC_MARKER);
	}
	l->buf[l->len++] = '\n';
	left = l->len;
	/* One write for the whole line; a short write (only possible on
	 * regular files or sockets under pressure) is finished with more. */
	while (left > 0) {
		ssize_t w = write(fd, p, left);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		p += w;
		left -= (size_t)w;
	}
}

static void emit(const char *level, bool with_err, int err, const char *event,
		 const char *fmt, va_list ap)
{
	int saved_errno = errno;
	struct line l;
	struct timespec ts;
	struct tm tm;
	char head[160], evq[128];
	int r;

	l.len = 0;
	l.limit = LOG_LINE_MAX - strlen(TRUNC_MARKER) - 1;
	l.truncated = false;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	r = snprintf(head, sizeof(head),
		     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, level);
	if (r > 0)
		line_add(&l, head, (size_t)r < sizeof(head) ? (size_t)r
							      : sizeof(head) - 1);
	event = log_q(evq, sizeof(evq), event);
	line_add(&l, event, strlen(event));

	if (fmt && *fmt) {
		line_add(&l, " ", 1);
		line_addv(&l, fmt, ap);
	}
	if (with_err) {
		char q[256];
		size_t n = quote(q, sizeof(q), weft_strerror(err));

		line_add(&l, " err=", 5);
		line_add(&l, q, n);
	}
	line_write(&l);
	errno = saved_errno;
}

#define DEFINE_LOG_FN(name, lvl)                                              \
	void name(const char *event, const char *fmt, ...)                     \
	{                                                                      \
		va_list ap;                                                    \
                                                                               \
		if (!log_enabled(lvl))                                         \
			return;                                                \
		va_start(ap, fmt);                                             \
		emit(level_names[lvl], false, 0, event, fmt, ap);              \
		va_end(ap);                                                    \
	}

DEFINE_LOG_FN(log_debug, LOG_LEVEL_DEBUG)
DEFINE_LOG_FN(log_info, LOG_LEVEL_INFO)
DEFINE_LOG_FN(log_warn, LOG_LEVEL_WARN)
DEFINE_LOG_FN(log_error, LOG_LEVEL_ERROR)

void log_warn_err(int err, const char *event, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(LOG_LEVEL_WARN))
		return;
	va_start(ap, fmt);
	emit(level_names[LOG_LEVEL_WARN], true, err, event, fmt, ap);
	va_end(ap);
}

void log_error_err(int err, const char *event, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(LOG_LEVEL_ERROR))
		return;
	va_start(ap, fmt);
	emit(level_names[LOG_LEVEL_ERROR], true, err, event, fmt, ap);
	va_end(ap);
}

void log_fatalx(const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("fatal", false, 0, event, fmt, ap);
	va_end(ap);
	abort();
}
