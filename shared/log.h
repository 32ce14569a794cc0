/* Structured logging to stderr (or a chosen file descriptor).
 *
 * Every line is a sequence of key=value fields:
 *
 *   ts=2026-11-21T23:59:59.123Z level=info event=node_registered node=5 name=laptop
 *
 * `event` is a short snake_case name; `fmt` and its arguments supply further
 * key=value fields (fmt may be NULL). Wrap values that come from users or
 * the network in log_q() so spaces, quotes and control bytes cannot forge
 * fields or lines. Each line is emitted with a single write(2) of at most
 * LOG_LINE_MAX bytes, so lines from concurrent threads never interleave;
 * longer lines are cut and end in " log_truncated=true". Control bytes
 * that reach a line unquoted (say a raw %s with a newline) become '?', so one
 * call is always one line. The level is checked before anything is
 * formatted, so filtered calls are cheap. Logging never changes errno.
 *
 * All functions are thread-safe. */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Longest line written, including the trailing newline. It equals the usual
 * PIPE_BUF so a line written to a pipe is also atomic for the reader. */
#define LOG_LINE_MAX 4096

/* Names avoid LOG_DEBUG/LOG_INFO, which <syslog.h> defines as macros. */
enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* Parses "debug", "info", "warn" or "error" (any case) into *out.
 * Returns 0, or WEFT_ERR_PARSE (leaving *out alone) for anything else. */
int log_level_parse(const char *s, enum log_level *out);

/* The lower-case name of a level ("info"); "unknown" for a bad value. */
const char *log_level_name(enum log_level level);

/* Sets or gets the minimum level written. The default is info. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* True when a message at `level` would be written. */
bool log_enabled(enum log_level level);

/* Sets the level from the WEFT_LOG_LEVEL environment variable when it is
 * set. An unknown value keeps the current level and logs a warning.
 * Call it once at start-up, before threads; command-line flags override it
 * by calling log_set_level() afterwards. */
void log_init_from_env(void);

/* Sends log lines to fd (default 2). The caller keeps ownership of fd and
 * must keep it open while logging may happen. */
void log_set_fd(int fd);

void log_debug(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_info(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_warn(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_error(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like log_warn/log_error, and append err="<weft_strerror(err)>" to the
 * line. err is a WEFT_ERR_* code or a negative errno value. */
void log_warn_err(int err, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_error_err(int err, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes a level=fatal line (whatever the level) and aborts. Only for
 * broken invariants, never for bad input or failing system calls. */
void log_fatalx(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Makes s safe to use as a log value. Returns s itself when it is non-empty
 * and holds only printable ASCII other than '"', '\\' and '='; otherwise
 * writes into buf (n bytes) a double-quoted copy with '"', '\\' and '\n'
 * escaped as \" \\ \n and other control or non-ASCII bytes as \xNN, and
 * returns buf. A copy that does not fit is cut at a whole escape and ends in
 * `..."`. A NULL s is treated as "". When n is too small for even `"..."`
 * a static string is returned. The result lives as long as s or buf. */
const char *log_q(char *buf, size_t n, const char *s);

#endif
