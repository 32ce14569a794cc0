/* Command-line flags, environment variables and an optional config file,
 * described by one table of options per program or subcommand.
 *
 * Precedence, highest first: command-line flag, environment variable, config
 * file, default. An option named "data-dir" is set by `--data-dir VALUE` or
 * `--data-dir=VALUE`, by the environment variable WEFT_DATA_DIR (prefix
 * WEFT_, upper case, '-' becomes '_') and by the config-file key `data-dir`.
 *
 * An environment variable that is set but empty counts as set: an empty
 * string, an empty list, or an error for numbers and booleans. An empty
 * WEFT_CONFIG, though, names no file.
 *
 * The config file is named by `--config FILE` or WEFT_CONFIG; there is none
 * by default; a file named but missing is an error. Its lines are `key = value`; blank lines and lines starting
 * with '#' are ignored, and in an unquoted value a '#' after whitespace
 * starts a comment. A value may be double-quoted, with \" and \\ as the only
 * escapes. Unknown keys are errors, reported with file and line.
 *
 * Flags end at `--` or at the first positional argument (POSIX style), so a
 * program with subcommands parses its global flags, takes the subcommand
 * from the positional arguments and calls conf_parse again on them with the
 * subcommand's table. */
#ifndef WEFT_CONF_H
#define WEFT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* conf_parse's positive return when -h or --help was given: the caller
 * prints conf_usage and exits successfully. */
#define CONF_HELP 1

enum conf_type {
	CONF_STRING,   /* dst: const char ** (NULL when no default) */
	CONF_INT,      /* dst: int64_t *, decimal, checked against min..max */
	CONF_BOOL,     /* dst: bool *, true/false/1/0/yes/no */
	CONF_DURATION, /* dst: int64_t * in milliseconds, "1h30m", "500ms" */
	CONF_LIST,     /* dst: struct conf_list *, repeatable, comma-separated */
};

/* The value of a CONF_LIST option. Items are trimmed of surrounding blanks;
 * empty items are dropped, so "" is the empty list. items is NULL when n is
 * 0. Everything is owned by the struct conf that filled it in. */
struct conf_list {
	const char **items;
	size_t n;
};

/* One option. def is the default in the same text form a flag takes; a
 * NULL def means NULL, 0, false or the empty list. min and max bound
 * CONF_INT values and CONF_DURATION values (in milliseconds); when both are
 * 0 there is no bound. The names "config" and "help" are reserved. */
struct conf_opt {
	const char *name;
	enum conf_type type;
	void *dst;
	const char *def;
	const char *help;
	int64_t min, max;
};

/* Why parsing failed, ready to print after the program name. */
struct conf_err {
	char message[256];
};

struct conf;

/* Creates an empty parser context. It owns every string and list that
 * conf_parse and conf_parse_file_text hand out. Returns 0 or
 * WEFT_ERR_NOMEM. */
int conf_new(struct conf **out);

/* Frees c and every value it handed out; NULL is fine. */
void conf_del(struct conf *c);

/* Limits the environment and the config file to the options named in
 * names (NULL-terminated, borrowed for c's lifetime); every other option is
 * then read from the command line only. For per-invocation choices of a
 * command-line tool (--json, --user): a stray WEFT_USER in someone's shell
 * or a shared config file must not silently change what a command does.
 * Config-file keys of other options are then ignored, not errors, so the
 * tool can share serve's config file. */
void conf_limit_sources(struct conf *c, const char *const *names);

/* Fills the dst of every option in opts[0..n) from defaults, the config
 * file, the environment (read with getenv now) and argv, in that order of
 * increasing precedence. argv[0] is the program or subcommand name and is
 * skipped. Positional arguments (the first non-flag argument and all after
 * it, or all after `--`) are stored in *positional, a NULL-terminated array
 * owned by c of pointers into argv, with their count in *npositional; with
 * positional == NULL any positional argument is an error.
 *
 * Returns 0, CONF_HELP when -h/--help appeared among the flags, or a
 * negative code with err->message set (err may be NULL):
 * WEFT_ERR_INVAL (unknown flag or key, missing or malformed value, bad
 * table), WEFT_ERR_RANGE (value out of min..max), WEFT_ERR_PARSE (malformed
 * config line), WEFT_ERR_TOOBIG (config file over 1 MiB), -errno (config
 * file unreadable), WEFT_ERR_NOMEM. On any return but 0, no dst and no
 * out-parameter is touched. */
int conf_parse(struct conf *c, const struct conf_opt *opts, size_t n,
	       int argc, char **argv, char ***positional, int *npositional,
	       struct conf_err *err);

/* Parses config-file text (len bytes, need not be NUL-terminated) and sets
 * the dst of each option the text names; other dsts are left alone. A list
 * key may repeat and its values accumulate; a repeated scalar key keeps the
 * last value. name is used only in error messages ("config NAME:LINE: ...").
 * Returns 0 or a negative code as conf_parse does, with no dst touched on
 * failure. Strings handed out live until conf_del(c). */
int conf_parse_file_text(struct conf *c, const struct conf_opt *opts,
			 size_t n, const char *name, const char *text,
			 size_t len, struct conf_err *err);

/* The config file path conf_parse last used, or NULL if none was named.
 * Owned by c. */
const char *conf_config_path(const struct conf *c);

/* Writes a usage table for opts to out: each flag with its value form,
 * help text, default and environment variable, plus --config and --help.
 * Returns 0 or -EIO if writing failed. */
int conf_usage(const struct conf_opt *opts, size_t n, FILE *out);

/* Like conf_usage, and leaves out the environment variable of options that
 * conf_limit_sources(c, ...) confines to the command line. c may be NULL. */
int conf_usage_for(const struct conf *c, const struct conf_opt *opts, size_t n,
		   FILE *out);

#endif
