#include "check.h"
#include "shared/conf.h"
#include "shared/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* The option set most tests use, with fresh storage per test. */
struct vals {
	const char *listen;
	int64_t port;
	bool verbose;
	int64_t timeout;
	struct conf_list peers;
	const char *data_dir;
};

#define NOPTS 6

static void make_opts(struct conf_opt *o, struct vals *v)
{
	struct conf_opt t[NOPTS] = {
		{"listen", CONF_STRING, &v->listen, "0.0.0.0", "listen address", 0, 0},
		{"port", CONF_INT, &v->port, "8080", "listen port", 1, 65535},
		{"verbose", CONF_BOOL, &v->verbose, "false", "log more", 0, 0},
		{"timeout", CONF_DURATION, &v->timeout, "30s", "request timeout", 0, 0},
		{"peer", CONF_LIST, &v->peers, NULL, "peer address", 0, 0},
		{"data-dir", CONF_STRING, &v->data_dir, "/var/lib/weft", "state", 0, 0},
	};

	memcpy(o, t, sizeof(t));
	memset(v, 0, sizeof(*v));
}

static void clear_env(void)
{
	static const char *const names[] = {
		"WEFT_LISTEN", "WEFT_PORT", "WEFT_VERBOSE", "WEFT_TIMEOUT",
		"WEFT_PEER", "WEFT_DATA_DIR", "WEFT_CONFIG",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unsetenv(names[i]);
}

static const char *write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", check_tmpdir(), name);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

/* Runs conf_parse over a NULL-terminated argument list. */
static int parse(struct conf *c, struct conf_opt *opts, char **args,
		 char ***pos, int *npos, struct conf_err *err)
{
	int argc = 0;

	while (args[argc])
		argc++;
	return conf_parse(c, opts, NOPTS, argc, args, pos, npos, err);
}

static void applies_defaults_when_nothing_is_given(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	char *args[] = {"prog", NULL};

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, NULL), 0);
	CHECK_STR(v.listen, "0.0.0.0");
	CHECK_INT(v.port, 8080);
	CHECK(!v.verbose);
	CHECK_INT(v.timeout, 30000);
	CHECK_INT(v.peers.n, 0);
	CHECK(v.peers.items == NULL);
	CHECK_STR(v.data_dir, "/var/lib/weft");
	CHECK(conf_config_path(c) == NULL);
	conf_del(c);
}

static void flag_beats_env_beats_file_beats_default(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	const char *path = write_file("prec.conf",
				      "listen = 10.0.0.1\n"
				      "port = 1000\n"
				      "timeout = 1m\n");
	char *args[] = {"prog", "--config", (char *)path, "--listen", "10.0.0.3",
			NULL};

	clear_env();
	setenv("WEFT_LISTEN", "10.0.0.2", 1);
	setenv("WEFT_PORT", "2000", 1);
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, NULL), 0);
	CHECK_STR(v.listen, "10.0.0.3");  /* flag over env and file */
	CHECK_INT(v.port, 2000);           /* env over file */
	CHECK_INT(v.timeout, 60000);       /* file over default */
	CHECK_STR(v.data_dir, "/var/lib/weft"); /* default */
	CHECK_STR(conf_config_path(c), path);
	conf_del(c);
	clear_env();
}

static void limited_sources_read_only_named_options_from_env_and_file(void)
{
	static const char *const outside[] = {"data-dir", NULL};
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	const char *path = write_file("limited.conf",
				      "port = 1000\n"
				      "data-dir = /from/file\n"
				      "tls-cert = /foreign/key.pem\n");
	char *args[] = {"prog", "--config", (char *)path, NULL};

	clear_env();
	setenv("WEFT_LISTEN", "10.0.0.2", 1);
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	conf_limit_sources(c, outside);
	/* Unknown and non-outside keys in the file are skipped, not errors. */
	CHECK_INT(parse(c, opts, args, NULL, NULL, NULL), 0);
	CHECK_STR(v.data_dir, "/from/file");
	CHECK(v.port != 1000);
	CHECK(v.listen == NULL || strcmp(v.listen, "10.0.0.2") != 0);
	conf_del(c);
	clear_env();
}

static void accepts_flag_value_after_equals_or_as_next_argument(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	char *args[] = {"prog", "--port=9000", "--data-dir", "/tmp/x",
			"--listen=", NULL};

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, NULL), 0);
	CHECK_INT(v.port, 9000);
	CHECK_STR(v.data_dir, "/tmp/x");
	CHECK_STR(v.listen, "");
	conf_del(c);
}

static void maps_option_name_to_weft_env_variable(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	char *args[] = {"prog", NULL};

	clear_env();
	setenv("WEFT_DATA_DIR", "/srv/weft", 1);
	setenv("WEFT_VERBOSE", "yes", 1);
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, NULL), 0);
	CHECK_STR(v.data_dir, "/srv/weft");
	CHECK(v.verbose);
	conf_del(c);
	clear_env();
}

static void rejects_unknown_flag_naming_it(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	char *args[] = {"prog", "--lisen", "x", NULL};
	char *args_short[] = {"prog", "-p", NULL};

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.message, "unknown flag --lisen");
	CHECK_INT(parse(c, opts, args_short, NULL, NULL, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.message, "unknown flag -p");
	conf_del(c);
}

static void rejects_non_integer_flag_value_with_reason(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	char *args[] = {"prog", "--port", "x", NULL};
	char *args_space[] = {"prog", "--port= 80", NULL};

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.message, "flag --port: value \"x\" is not an integer");
	CHECK_INT(parse(c, opts, args_space, NULL, NULL, &err), WEFT_ERR_INVAL);
	conf_del(c);
}

static void rejects_flag_without_value(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	char *args[] = {"prog", "--port", NULL};

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.message, "flag --port: missing value");
	conf_del(c);
}

static void rejects_env_value_out_of_range(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	char *args[] = {"prog", NULL};
	char *args_big[] = {"prog", "--port", "99999999999999999999", NULL};

	clear_env();
	setenv("WEFT_PORT", "70000", 1);
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, &err), WEFT_ERR_RANGE);
	CHECK_STR(err.message, "WEFT_PORT: value 70000 out of range 1..65535");
	unsetenv("WEFT_PORT");
	CHECK_INT(parse(c, opts, args_big, NULL, NULL, &err), WEFT_ERR_RANGE);
	conf_del(c);
}

static void leaves_outputs_untouched_on_failure(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	char *args[] = {"prog", "--listen", "a", "extra", "--port", "x", NULL};
	char **pos = (char **)1;
	int npos = -1;

	clear_env();
	make_opts(opts, &v);
	v.listen = "before";
	v.port = 7;
	REQUIRE_INT(conf_new(&c), 0);
	/* "extra" stops flag parsing, so --port x is positional: fine. */
	CHECK_INT(parse(c, opts, args, &pos, &npos, NULL), 0);
	CHECK_STR(v.listen, "a");
	CHECK_INT(npos, 3);

	v.listen = "before";
	v.port = 7;
	pos = (char **)1;
	npos = -1;
	args[3] = "--port";
	args[4] = "x";
	args[5] = NULL;
	CHECK(parse(c, opts, args, &pos, &npos, NULL) < 0);
	CHECK_STR(v.listen, "before");
	CHECK_INT(v.port, 7);
	CHECK(pos == (char **)1);
	CHECK_INT(npos, -1);
	conf_del(c);
}

static void parses_bool_flag_forms(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	char *bare[] = {"prog", "--verbose", NULL};
	char *off[] = {"prog", "--verbose=false", NULL};
	char *bad[] = {"prog", "--verbose=maybe", NULL};
	char *next[] = {"prog", "--verbose", "false", NULL};
	char **pos;
	int npos;

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, bare, NULL, NULL, NULL), 0);
	CHECK(v.verbose);
	setenv("WEFT_VERBOSE", "1", 1);
	CHECK_INT(parse(c, opts, off, NULL, NULL, NULL), 0);
	CHECK(!v.verbose);
	unsetenv("WEFT_VERBOSE");
	CHECK_INT(parse(c, opts, bad, NULL, NULL, &err), WEFT_ERR_INVAL);
	CHECK(strstr(err.message, "flag --verbose: value \"maybe\" is not a boolean") ==
	      err.message);
	/* A bare bool flag never takes the next argument as its value. */
	CHECK_INT(parse(c, opts, next, &pos, &npos, NULL), 0);
	CHECK(v.verbose);
	CHECK_INT(npos, 1);
	CHECK_STR(pos[0], "false");
	conf_del(c);
}

static void rejects_bad_duration_flag_and_bounds(void)
{
	int64_t iv = 0;
	struct conf_opt opts[] = {
		{"interval", CONF_DURATION, &iv, "5s", "", 1000, 60000},
	};
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	char *bad[] = {"prog", "--interval", "soon", NULL};
	char *big[] = {"prog", "--interval=2m", NULL};

	clear_env();
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(conf_parse(c, opts, 1, 3, bad, NULL, NULL, &err),
		  WEFT_ERR_INVAL);
	CHECK(strstr(err.message, "flag --interval: value \"soon\" is not a duration") ==
	      err.message);
	CHECK_INT(conf_parse(c, opts, 1, 2, big, NULL, NULL, &err),
		  WEFT_ERR_RANGE);
	CHECK_STR(err.message, "flag --interval: value 2m out of range 1s..1m");
	CHECK_INT(iv, 0);
	conf_del(c);
}

static void collects_list_from_repeats_and_commas(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	const char *path = write_file("list.conf",
				      "peer = file1\n"
				      "peer = file2, file3\n");
	char *args[] = {"prog", "--peer", "a, b", "--peer=c", "--peer", ",", NULL};
	char *none[] = {"prog", NULL};

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, NULL), 0);
	REQUIRE_INT(v.peers.n, 3);
	CHECK_STR(v.peers.items[0], "a");
	CHECK_STR(v.peers.items[1], "b");
	CHECK_STR(v.peers.items[2], "c");

	/* A list from a higher source replaces, not extends, a lower one. */
	setenv("WEFT_CONFIG", path, 1);
	CHECK_INT(parse(c, opts, none, NULL, NULL, NULL), 0);
	REQUIRE_INT(v.peers.n, 3);
	CHECK_STR(v.peers.items[0], "file1");
	CHECK_STR(v.peers.items[2], "file3");
	setenv("WEFT_PEER", "env1,env2", 1);
	CHECK_INT(parse(c, opts, none, NULL, NULL, NULL), 0);
	REQUIRE_INT(v.peers.n, 2);
	CHECK_STR(v.peers.items[1], "env2");
	setenv("WEFT_PEER", "", 1);
	CHECK_INT(parse(c, opts, none, NULL, NULL, NULL), 0);
	CHECK_INT(v.peers.n, 0);
	conf_del(c);
	clear_env();
}

static void stops_flags_at_double_dash_and_first_positional(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	char *dd[] = {"prog", "--port", "1", "--", "--port", "-", NULL};
	char *sub[] = {"prog", "--verbose", "user", "add", "--port", "2", NULL};
	char *stray[] = {"prog", "file", NULL};
	char **pos = NULL;
	int npos = 0;

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, dd, &pos, &npos, NULL), 0);
	CHECK_INT(v.port, 1);
	REQUIRE_INT(npos, 2);
	CHECK_STR(pos[0], "--port");
	CHECK_STR(pos[1], "-");
	CHECK(pos[2] == NULL);

	/* Global flags, then a subcommand parsed with its own table. */
	CHECK_INT(parse(c, opts, sub, &pos, &npos, NULL), 0);
	CHECK(v.verbose);
	CHECK_INT(v.port, 8080);
	REQUIRE_INT(npos, 4);
	CHECK_STR(pos[0], "user");
	CHECK_INT(conf_parse(c, opts, NOPTS, npos - 1, pos + 1, &pos, &npos,
			     NULL), 0);
	CHECK_INT(v.port, 2);
	CHECK_INT(npos, 0);

	CHECK_INT(parse(c, opts, stray, NULL, NULL, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.message, "unexpected argument \"file\"");
	conf_del(c);
}

static void help_flag_returns_conf_help_even_after_errors(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	char *h[] = {"prog", "-h", NULL};
	char *help[] = {"prog", "--lisen", "--help", NULL};
	char *after[] = {"prog", "--", "--help", NULL};
	char **pos;
	int npos;

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, h, NULL, NULL, NULL), CONF_HELP);
	CHECK_INT(parse(c, opts, help, NULL, NULL, NULL), CONF_HELP);
	CHECK(v.listen == NULL); /* nothing assigned */
	CHECK_INT(parse(c, opts, after, &pos, &npos, NULL), 0);
	CHECK_INT(npos, 1);
	conf_del(c);
}

static void config_file_parses_comments_quotes_and_escapes(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	static const char text[] =
		"# comment line\n"
		"\n"
		"   listen   =   \"a \\\"quoted\\\" # value\\\\\"   # trailing\r\n"
		"data-dir = /srv/with#hash # comment\n"
		"  port=443\n"
		"verbose = yes\n"
		"timeout = 1h30m";

	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(conf_parse_file_text(c, opts, NOPTS, "t.conf", text,
				       sizeof(text) - 1, &err), 0);
	CHECK_STR(v.listen, "a \"quoted\" # value\\");
	CHECK_STR(v.data_dir, "/srv/with#hash");
	CHECK_INT(v.port, 443);
	CHECK(v.verbose);
	CHECK_INT(v.timeout, 5400000);
	CHECK_INT(v.peers.n, 0); /* not named: untouched */
	conf_del(c);
}

static void file_values_outlive_the_text_buffer(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	char *text = strdup("listen = heap\npeer = x,y\n");

	make_opts(opts, &v);
	REQUIRE(text != NULL);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(conf_parse_file_text(c, opts, NOPTS, "t", text, strlen(text),
				       NULL), 0);
	memset(text, 'Z', strlen(text));
	free(text);
	CHECK_STR(v.listen, "heap");
	REQUIRE_INT(v.peers.n, 2);
	CHECK_STR(v.peers.items[1], "y");
	conf_del(c);
}

static void rejects_bad_config_lines_with_file_and_line(void)
{
	static const struct {
		const char *text;
		int rc;
		const char *message;
	} cases[] = {
		{"port = 1\n\nfoo = 1\n", WEFT_ERR_INVAL,
		 "config f.conf:3: unknown key \"foo\""},
		{"port\n", WEFT_ERR_PARSE, "config f.conf:1: expected key = value"},
		{"= 5\n", WEFT_ERR_PARSE, "config f.conf:1: expected key = value"},
		{"# x\nlisten = \"open\n", WEFT_ERR_PARSE,
		 "config f.conf:2: unterminated quoted value"},
		{"listen = \"a\\n\"\n", WEFT_ERR_PARSE,
		 "config f.conf:1: unknown escape in quoted value (only \\\" and \\\\)"},
		{"listen = \"a\" b\n", WEFT_ERR_PARSE,
		 "config f.conf:1: unexpected text after quoted value"},
		{"port = 0\n", WEFT_ERR_RANGE,
		 "config f.conf:1: key \"port\": value 0 out of range 1..65535"},
		{"config = x\n", WEFT_ERR_INVAL,
		 "config f.conf:1: unknown key \"config\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf_opt opts[NOPTS];
		struct vals v;
		struct conf *c = NULL;
		struct conf_err err = {{0}};

		make_opts(opts, &v);
		REQUIRE_INT(conf_new(&c), 0);
		CHECK_INT(conf_parse_file_text(c, opts, NOPTS, "f.conf",
					       cases[i].text,
					       strlen(cases[i].text), &err),
			  cases[i].rc);
		CHECK_STR(err.message, cases[i].message);
		CHECK(v.port == 0 && v.listen == NULL);
		conf_del(c);
	}
}

static void rejects_nul_byte_in_config_text(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	static const char text[] = "listen = a\0b\n";

	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(conf_parse_file_text(c, opts, NOPTS, "n", text,
				       sizeof(text) - 1, &err), WEFT_ERR_PARSE);
	CHECK_STR(err.message, "config n:1: NUL byte in line");
	conf_del(c);
}

static void missing_config_file_named_explicitly_is_an_error(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	char *args[] = {"prog", "--config=/nonexistent/weft.conf", NULL};
	char *none[] = {"prog", NULL};

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, &err), -ENOENT);
	CHECK(strstr(err.message, "config /nonexistent/weft.conf: ") ==
	      err.message);
	setenv("WEFT_CONFIG", "/nonexistent/env.conf", 1);
	CHECK_INT(parse(c, opts, none, NULL, NULL, &err), -ENOENT);
	/* An empty WEFT_CONFIG names no file. */
	setenv("WEFT_CONFIG", "", 1);
	CHECK_INT(parse(c, opts, none, NULL, NULL, &err), 0);
	conf_del(c);
	clear_env();
}

static void reports_config_file_line_for_bad_value(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	const char *path = write_file("bad.conf", "# x\nverbose = perhaps\n");
	char *args[] = {"prog", "--config", (char *)path, NULL};
	char expect[600];

	clear_env();
	make_opts(opts, &v);
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(parse(c, opts, args, NULL, NULL, &err), WEFT_ERR_INVAL);
	snprintf(expect, sizeof(expect),
		 "config %s:2: key \"verbose\": value \"perhaps\" is not a boolean",
		 path);
	CHECK(strncmp(err.message, expect, strlen(expect)) == 0);
	conf_del(c);
}

static void rejects_bad_option_tables_and_defaults(void)
{
	const char *s = NULL;
	int64_t i = 0;
	struct conf_opt reserved[] = {{"config", CONF_STRING, &s, NULL, "", 0, 0}};
	struct conf_opt upper[] = {{"Data", CONF_STRING, &s, NULL, "", 0, 0}};
	struct conf_opt dup[] = {
		{"a", CONF_STRING, &s, NULL, "", 0, 0},
		{"a", CONF_STRING, &s, NULL, "", 0, 0},
	};
	struct conf_opt baddef[] = {{"n", CONF_INT, &i, "ten", "", 0, 0}};
	struct conf *c = NULL;
	struct conf_err err = {{0}};
	char *args[] = {"prog", NULL};

	clear_env();
	REQUIRE_INT(conf_new(&c), 0);
	CHECK_INT(conf_parse(c, reserved, 1, 1, args, NULL, NULL, &err),
		  WEFT_ERR_INVAL);
	CHECK_INT(conf_parse(c, upper, 1, 1, args, NULL, NULL, &err),
		  WEFT_ERR_INVAL);
	CHECK_INT(conf_parse(c, dup, 2, 1, args, NULL, NULL, &err),
		  WEFT_ERR_INVAL);
	CHECK_STR(err.message, "option table: duplicate \"a\"");
	CHECK_INT(conf_parse(c, baddef, 1, 1, args, NULL, NULL, &err),
		  WEFT_ERR_INVAL);
	CHECK(strstr(err.message, "option n: bad default: ") == err.message);
	conf_del(c);
}

static void usage_lists_flags_defaults_and_env_names(void)
{
	struct conf_opt opts[NOPTS];
	struct vals v;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	REQUIRE(f != NULL);
	make_opts(opts, &v);
	CHECK_INT(conf_usage(opts, NOPTS, f), 0);
	fclose(f);
	REQUIRE(buf != NULL);
	CHECK(strstr(buf, "--data-dir VALUE\n") != NULL);
	CHECK(strstr(buf, "default: /var/lib/weft, env: WEFT_DATA_DIR") != NULL);
	CHECK(strstr(buf, "--port N\n      listen port (1..65535)") != NULL);
	CHECK(strstr(buf, "--verbose[=BOOL]") != NULL);
	CHECK(strstr(buf, "--timeout DURATION") != NULL);
	CHECK(strstr(buf, "default: 30s, env: WEFT_TIMEOUT") != NULL);
	CHECK(strstr(buf, "--peer VALUE[,VALUE...]") != NULL);
	CHECK(strstr(buf, "env: WEFT_CONFIG") != NULL);
	CHECK(strstr(buf, "--help") != NULL);
	free(buf);
}

static const struct check_case cases[] = {
	CHECK_CASE(applies_defaults_when_nothing_is_given),
	CHECK_CASE(flag_beats_env_beats_file_beats_default),
	CHECK_CASE(limited_sources_read_only_named_options_from_env_and_file),
	CHECK_CASE(accepts_flag_value_after_equals_or_as_next_argument),
	CHECK_CASE(maps_option_name_to_weft_env_variable),
	CHECK_CASE(rejects_unknown_flag_naming_it),
	CHECK_CASE(rejects_non_integer_flag_value_with_reason),
	CHECK_CASE(rejects_flag_without_value),
	CHECK_CASE(rejects_env_value_out_of_range),
	CHECK_CASE(leaves_outputs_untouched_on_failure),
	CHECK_CASE(parses_bool_flag_forms),
	CHECK_CASE(rejects_bad_duration_flag_and_bounds),
	CHECK_CASE(collects_list_from_repeats_and_commas),
	CHECK_CASE(stops_flags_at_double_dash_and_first_positional),
	CHECK_CASE(help_flag_returns_conf_help_even_after_errors),
	CHECK_CASE(config_file_parses_comments_quotes_and_escapes),
	CHECK_CASE(file_values_outlive_the_text_buffer),
	CHECK_CASE(rejects_bad_config_lines_with_file_and_line),
	CHECK_CASE(rejects_nul_byte_in_config_text),
	CHECK_CASE(missing_config_file_named_explicitly_is_an_error),
	CHECK_CASE(reports_config_file_line_for_bad_value),
	CHECK_CASE(rejects_bad_option_tables_and_defaults),
	CHECK_CASE(usage_lists_flags_defaults_and_env_names),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
