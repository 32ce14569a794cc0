#include "shared/conf.h"

#include "shared/clock.h"
#include "shared/err.h"
#include "shared/name.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config file is a few hundred bytes; anything this large is a mistake. */
#define MAX_FILE_SIZE (1 << 20)
#define MAX_NAME_LEN NAME_MAX_LEN

/* Sources in increasing precedence. A list option set by a higher source
 * replaces what a lower one gave; repeats within one source accumulate. */
enum source { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG };

struct conf {
	void **owned; /* every allocation handed out to callers */
	size_t nowned, capowned;
	const char *config_path;
	const char *const *limit; /* options read from env/file; NULL = all */
};

void conf_limit_sources(struct conf *c, const char *const *names)
{
	c->limit = names;
}

/* May opt come from the environment or the config file? */
static bool outside_ok(const struct conf *c, const struct conf_opt *opt)
{
	if (!c->limit)
		return true;
	for (const char *const *n = c->limit; *n; n++)
		if (strcmp(*n, opt->name) == 0)
			return true;
	return false;
}

/* Values are staged here and copied to the dsts only when the whole parse
 * succeeded, so a failed parse leaves the caller's variables alone. */
struct slot {
	bool set;
	enum source src;
	const char *s;
	int64_t i;
	bool b;
	const char **items; /* malloc'd; owned by the slot until commit */
	size_t nitems, capitems;
	bool items_owned; /* items was handed to the struct conf */
};

/* One flag from argv, applied after the config file and environment. */
struct flagval {
	size_t opt;
	const char *val;
};

static void seterr(struct conf_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void seterr(struct conf_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

int conf_new(struct conf **out)
{
	struct conf *c = calloc(1, sizeof(*c));

	if (!c)
		return WEFT_ERR_NOMEM;
	*out = c;
	return 0;
}

void conf_del(struct conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nowned; i++)
		free(c->owned[i]);
	free(c->owned);
	free(c);
}

const char *conf_config_path(const struct conf *c)
{
	return c->config_path;
}

/* Hands p over to c; frees p if that fails. */
static int own(struct conf *c, void *p)
{
	if (c->nowned == c->capowned) {
		size_t cap = c->capowned ? c->capowned * 2 : 16;
		void **o = realloc(c->owned, cap * sizeof(*o));

		if (!o) {
			free(p);
			return WEFT_ERR_NOMEM;
		}
		c->owned = o;
		c->capowned = cap;
	}
	c->owned[c->nowned++] = p;
	return 0;
}

static const char *intern(struct conf *c, const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	if (own(c, p) < 0)
		return NULL;
	return p;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	/* strtoll skips leading blanks and accepts '+'; we do not. */
	if (!(is_digit(*s) || (*s == '-' && is_digit(s[1]))))
		return WEFT_ERR_INVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return WEFT_ERR_INVAL;
	if (errno == ERANGE)
		return WEFT_ERR_RANGE;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "1", "yes"};
	static const char *const no[] = {"false", "0", "no"};

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return WEFT_ERR_INVAL;
}

static bool has_bounds(const struct conf_opt *o)
{
	return o->min != 0 || o->max != 0;
}

static int list_push(struct slot *s, const char *item)
{
	if (s->nitems == s->capitems) {
		size_t cap = s->capitems ? s->capitems * 2 : 4;
		const char **items = realloc(s->items, cap * sizeof(*items));

		if (!items)
			return WEFT_ERR_NOMEM;
		s->items = items;
		s->capitems = cap;
	}
	s->items[s->nitems++] = item;
	return 0;
}

static int assign_list(struct conf *c, struct slot *s, const char *val)
{
	const char *p = val;

	while (*p) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *b = p, *e = end;
		const char *item;

		while (b < e && is_blank(*b))
			b++;
		while (e > b && is_blank(e[-1]))
			e--;
		if (e > b) {
			item = intern(c, b, (size_t)(e - b));
			if (!item || list_push(s, item) < 0)
				return WEFT_ERR_NOMEM;
		}
		p = comma ? comma + 1 : end;
	}
	return 0;
}

/* Parses val into s as option o's type, from source src. On failure writes
 * the reason (without the source prefix) to why. */
static int assign(struct conf *c, const struct conf_opt *o, struct slot *s,
		  enum source src, const char *val, char *why, size_t whylen)
{
	char lo[CLOCK_DURATION_LEN], hi[CLOCK_DURATION_LEN];
	const char *str;
	int64_t v = 0;
	bool b;
	int rc;

	switch (o->type) {
	case CONF_STRING:
		str = intern(c, val, strlen(val));
		if (!str) {
			snprintf(why, whylen, "out of memory");
			return WEFT_ERR_NOMEM;
		}
		s->s = str;
		break;
	case CONF_INT:
		rc = parse_int(val, &v);
		if (rc == WEFT_ERR_INVAL) {
			snprintf(why, whylen, "value \"%.64s\" is not an integer",
				 val);
			return rc;
		}
		if (rc < 0 || (has_bounds(o) && (v < o->min || v > o->max))) {
			if (has_bounds(o))
				snprintf(why, whylen,
					 "value %.64s out of range %lld..%lld",
					 val, (long long)o->min,
					 (long long)o->max);
			else
				snprintf(why, whylen, "value %.64s out of range",
					 val);
			return WEFT_ERR_RANGE;
		}
		s->i = v;
		break;
	case CONF_DURATION:
		rc = clock_parse_duration(val, &v);
		if (rc == WEFT_ERR_PARSE) {
			/* Malformed values are WEFT_ERR_INVAL for every type;
			 * WEFT_ERR_PARSE means a malformed config line. */
			snprintf(why, whylen,
				 "value \"%.64s\" is not a duration (like 30s, 500ms, 1h30m)",
				 val);
			return WEFT_ERR_INVAL;
		}
		if (rc < 0 || (has_bounds(o) && (v < o->min || v > o->max))) {
			if (has_bounds(o) &&
			    clock_format_duration(o->min, lo, sizeof(lo)) == 0 &&
			    clock_format_duration(o->max, hi, sizeof(hi)) == 0)
				snprintf(why, whylen,
					 "value %.64s out of range %s..%s", val,
					 lo, hi);
			else
				snprintf(why, whylen, "value %.64s out of range",
					 val);
			return WEFT_ERR_RANGE;
		}
		s->i = v;
		break;
	case CONF_BOOL:
		if (parse_bool(val, &b) < 0) {
			snprintf(why, whylen,
				 "value \"%.64s\" is not a boolean (true, false, yes, no, 1, 0)",
				 val);
			return WEFT_ERR_INVAL;
		}
		s->b = b;
		break;
	case CONF_LIST:
		if (!s->set || s->src != src)
			s->nitems = 0;
		rc = assign_list(c, s, val);
		if (rc < 0) {
			snprintf(why, whylen, "out of memory");
			return rc;
		}
		break;
	}
	s->set = true;
	s->src = src;
	return 0;
}

static int check_table(const struct conf_opt *opts, size_t n,
		       struct conf_err *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct conf_opt *o = &opts[i];

		if (!o->name || !name_valid_label(o->name) || strcmp(o->name, "config") == 0 ||
		    strcmp(o->name, "help") == 0 || !o->dst ||
		    o->type > CONF_LIST || (has_bounds(o) && o->min > o->max)) {
			seterr(err, "option table: bad entry %zu (\"%.64s\")", i,
			       o->name ? o->name : "");
			return WEFT_ERR_INVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(opts[j].name, o->name) == 0) {
				seterr(err, "option table: duplicate \"%s\"",
				       o->name);
				return WEFT_ERR_INVAL;
			}
		}
	}
	return 0;
}

static void slots_free(struct slot *slots, size_t n)
{
	if (!slots)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!slots[i].items_owned)
			free(slots[i].items);
	}
	free(slots);
}

/* Copies every set slot to its dst. Only the first loop can fail, and it
 * runs before any dst is written. */
static int commit(struct conf *c, const struct conf_opt *opts, size_t n,
		  struct slot *slots)
{
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct slot *s = &slots[i];

		if (!s->items)
			continue;
		if (s->nitems == 0) {
			free(s->items);
			s->items = NULL;
			continue;
		}
		rc = own(c, s->items);
		if (rc < 0) {
			s->items = NULL; /* own() freed it */
			return rc;
		}
		s->items_owned = true;
	}
	for (size_t i = 0; i < n; i++) {
		const struct conf_opt *o = &opts[i];
		struct slot *s = &slots[i];
		struct conf_list *l;

		if (!s->set)
			continue;
		switch (o->type) {
		case CONF_STRING:
			*(const char **)o->dst = s->s;
			break;
		case CONF_INT:
		case CONF_DURATION:
			*(int64_t *)o->dst = s->i;
			break;
		case CONF_BOOL:
			*(bool *)o->dst = s->b;
			break;
		case CONF_LIST:
			l = o->dst;
			l->items = s->items;
			l->n = s->nitems;
			break;
		}
	}
	return 0;
}

static const struct conf_opt *find_opt(const struct conf_opt *opts, size_t n,
				       const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(opts[i].name) == len &&
		    memcmp(opts[i].name, name, len) == 0)
			return &opts[i];
	}
	return NULL;
}

/* Reads a quoted value starting after the opening quote at *pp (end at
 * end) into out, which has room for end - *pp + 1 bytes. Leaves *pp after
 * the closing quote. */
static int unquote(const char **pp, const char *end, char *out,
		   const char **why)
{
	const char *p = *pp;
	size_t len = 0;

	for (;;) {
		if (p == end) {
			*why = "unterminated quoted value";
			return WEFT_ERR_PARSE;
		}
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (p + 1 == end || (p[1] != '"' && p[1] != '\\')) {
				*why = "unknown escape in quoted value (only \\\" and \\\\)";
				return WEFT_ERR_PARSE;
			}
			p++;
		}
		out[len++] = *p++;
	}
	out[len] = '\0';
	*pp = p + 1;
	return 0;
}

/* Parses one non-blank, non-comment line [p, end) into key and value. */
static int split_line(const char *p, const char *end, const char **key,
		      size_t *keylen, char *val, const char **why)
{
	const char *v;
	int rc;

	*key = p;
	while (p < end && !is_blank(*p) && *p != '=')
		p++;
	*keylen = (size_t)(p - *key);
	while (p < end && is_blank(*p))
		p++;
	if (*keylen == 0 || p == end || *p != '=') {
		*why = "expected key = value";
		return WEFT_ERR_PARSE;
	}
	p++;
	while (p < end && is_blank(*p))
		p++;
	if (p < end && *p == '"') {
		p++;
		rc = unquote(&p, end, val, why);
		if (rc < 0)
			return rc;
		while (p < end && is_blank(*p))
			p++;
		if (p < end && *p != '#') {
			*why = "unexpected text after quoted value";
			return WEFT_ERR_PARSE;
		}
		return 0;
	}
	/* Unquoted: up to a '#' that follows a blank (or starts the value),
	 * trailing blanks dropped. */
	for (v = p; v < end; v++) {
		if (*v == '#' && (v == p || is_blank(v[-1])))
			break;
	}
	while (v > p && is_blank(v[-1]))
		v--;
	memcpy(val, p, (size_t)(v - p));
	val[v - p] = '\0';
	return 0;
}

static int parse_text(struct conf *c, const struct conf_opt *opts, size_t n,
		      struct slot *slots, const char *name, const char *text,
		      size_t len, struct conf_err *err)
{
	char why[160];
	size_t pos = 0;
	int lineno = 0, rc = 0;
	char *val = NULL;

	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		const char *end = nl ? nl : text + len;
		const char *p = line, *key, *reason;
		const struct conf_opt *o;
		size_t keylen;

		pos = (size_t)(end - text) + (nl ? 1 : 0);
		lineno++;
		if (memchr(line, '\0', (size_t)(end - line))) {
			seterr(err, "config %s:%d: NUL byte in line", name,
			       lineno);
			rc = WEFT_ERR_PARSE;
			goto out;
		}
		while (p < end && is_blank(*p))
			p++;
		if (p == end || *p == '#')
			continue;
		free(val);
		val = malloc((size_t)(end - p) + 1);
		if (!val) {
			seterr(err, "config %s: out of memory", name);
			rc = WEFT_ERR_NOMEM;
			goto out;
		}
		rc = split_line(p, end, &key, &keylen, val, &reason);
		if (rc < 0) {
			seterr(err, "config %s:%d: %s", name, lineno, reason);
			goto out;
		}
		o = find_opt(opts, n, key, keylen);
		if (c->limit && (!o || !outside_ok(c, o)))
			continue;
		if (!o) {
			seterr(err, "config %s:%d: unknown key \"%.*s\"", name,
			       lineno, keylen > 64 ? 64 : (int)keylen, key);
			rc = WEFT_ERR_INVAL;
			goto out;
		}
		rc = assign(c, o, &slots[o - opts], SRC_FILE, val, why,
			    sizeof(why));
		if (rc < 0) {
			seterr(err, "config %s:%d: key \"%s\": %s", name, lineno,
			       o->name, why);
			goto out;
		}
	}
out:
	free(val);
	return rc;
}

int conf_parse_file_text(struct conf *c, const struct conf_opt *opts,
			 size_t n, const char *name, const char *text,
			 size_t len, struct conf_err *err)
{
	struct slot *slots = NULL;
	int rc;

	rc = check_table(opts, n, err);
	if (rc < 0)
		goto out;
	slots = calloc(n ? n : 1, sizeof(*slots));
	if (!slots) {
		seterr(err, "out of memory");
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = parse_text(c, opts, n, slots, name ? name : "(text)", text, len,
			err);
	if (rc < 0)
		goto out;
	rc = commit(c, opts, n, slots);
	if (rc < 0)
		seterr(err, "out of memory");
out:
	slots_free(slots, n);
	return rc;
}

/* Reads path into a malloc'd buffer. */
static int read_file(const char *path, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	/* Read at most one byte past the limit to notice a file that is too
	 * big, whatever st_size says (pipes, /proc). */
	buf = malloc(MAX_FILE_SIZE + 1);
	if (!buf) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	while (len <= MAX_FILE_SIZE) {
		r = read(fd, buf + len, MAX_FILE_SIZE + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > MAX_FILE_SIZE) {
		rc = WEFT_ERR_TOOBIG;
		goto out;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

/* "data-dir" -> "WEFT_DATA_DIR"; size must exceed MAX_NAME_LEN + 5. */
static void env_name(const char *name, char *buf, size_t size)
{
	size_t i;

	memcpy(buf, "WEFT_", 5);
	for (i = 5; *name && i + 1 < size; name++, i++) {
		char ch = *name;

		if (ch == '-')
			ch = '_';
		else if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		buf[i] = ch;
	}
	buf[i] = '\0';
}

/* Splits argv into flags and positional arguments. Scanning goes on after
 * an error so that --help still wins; the first error is kept. */
static int scan_args(const struct conf_opt *opts, size_t n, int argc,
		     char **argv, struct flagval *fv, size_t *nfv,
		     char **pos, int *npos, const char **config, bool *help,
		     struct conf_err *err)
{
	bool flags_done = false;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val;
		const struct conf_opt *o;
		size_t len;
		int r = 0;

		if (flags_done || a[0] != '-' || a[1] == '\0') {
			flags_done = true;
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			flags_done = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			*help = true;
			continue;
		}
		if (a[1] != '-') {
			if (rc == 0)
				seterr(err, "unknown flag %.64s", a);
			rc = rc ? rc : WEFT_ERR_INVAL;
			continue;
		}
		name = a + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		val = eq ? eq + 1 : NULL;
		o = find_opt(opts, n, name, len);
		if (!o && !(len == 6 && memcmp(name, "config", 6) == 0)) {
			if (rc == 0)
				seterr(err, "unknown flag --%.*s",
				       len > 64 ? 64 : (int)len, name);
			rc = rc ? rc : WEFT_ERR_INVAL;
			continue;
		}
		if (!val && o && o->type == CONF_BOOL) {
			val = "true";
		} else if (!val) {
			if (i + 1 < argc)
				val = argv[++i];
			else
				r = WEFT_ERR_INVAL;
		}
		if (r < 0) {
			if (rc == 0)
				seterr(err, "flag --%.*s: missing value",
				       (int)len, name);
			rc = rc ? rc : r;
			continue;
		}
		if (!o) {
			*config = val;
			continue;
		}
		fv[*nfv].opt = (size_t)(o - opts);
		fv[*nfv].val = val;
		(*nfv)++;
	}
	return rc;
}

static int load_config(struct conf *c, const struct conf_opt *opts, size_t n,
		       struct slot *slots, const char *path,
		       struct conf_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = read_file(path, &text, &len);
	if (rc < 0) {
		seterr(err, "config %.128s: %s", path, weft_strerror(rc));
		return rc;
	}
	rc = parse_text(c, opts, n, slots, path, text, len, err);
	free(text);
	return rc;
}

static int load_env(struct conf *c, const struct conf_opt *opts, size_t n,
		    struct slot *slots, struct conf_err *err)
{
	char why[160], env[MAX_NAME_LEN + 8];
	const char *v;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (!outside_ok(c, &opts[i]))
			continue;
		env_name(opts[i].name, env, sizeof(env));
		v = getenv(env);
		if (!v)
			continue;
		rc = assign(c, &opts[i], &slots[i], SRC_ENV, v, why,
			    sizeof(why));
		if (rc < 0) {
			seterr(err, "%s: %s", env, why);
			return rc;
		}
	}
	return 0;
}

int conf_parse(struct conf *c, const struct conf_opt *opts, size_t n,
	       int argc, char **argv, char ***positional, int *npositional,
	       struct conf_err *err)
{
	struct conf_err scan_err = {{0}};
	struct slot *slots = NULL;
	struct flagval *fv = NULL;
	char **pos = NULL;
	const char *config = NULL, *config_copy = NULL;
	char why[160];
	size_t nfv = 0;
	int npos = 0, rc;
	bool help = false;

	rc = check_table(opts, n, err);
	if (rc < 0)
		goto out;
	slots = calloc(n ? n : 1, sizeof(*slots));
	fv = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*fv));
	pos = calloc((size_t)(argc > 0 ? argc : 0) + 1, sizeof(*pos));
	if (!slots || !fv || !pos) {
		seterr(err, "out of memory");
		rc = WEFT_ERR_NOMEM;
		goto out;
	}

	rc = scan_args(opts, n, argc, argv, fv, &nfv, pos, &npos, &config,
		       &help, &scan_err);
	if (help) {
		rc = CONF_HELP;
		goto out;
	}
	if (rc == 0 && npos > 0 && !positional) {
		seterr(&scan_err, "unexpected argument \"%.64s\"", pos[0]);
		rc = WEFT_ERR_INVAL;
	}
	if (rc < 0) {
		if (err)
			*err = scan_err;
		goto out;
	}

	for (size_t i = 0; i < n; i++) {
		slots[i].set = true;
		slots[i].src = SRC_DEFAULT;
		if (!opts[i].def)
			continue;
		rc = assign(c, &opts[i], &slots[i], SRC_DEFAULT, opts[i].def,
			    why, sizeof(why));
		if (rc < 0) {
			seterr(err, "option %s: bad default: %s", opts[i].name,
			       why);
			if (rc != WEFT_ERR_NOMEM)
				rc = WEFT_ERR_INVAL;
			goto out;
		}
	}

	/* An empty WEFT_CONFIG names no file, the same as an unset one. */
	if (!config) {
		config = getenv("WEFT_CONFIG");
		if (config && !*config)
			config = NULL;
	}
	if (config) {
		rc = load_config(c, opts, n, slots, config, err);
		if (rc < 0)
			goto out;
		config_copy = intern(c, config, strlen(config));
		if (!config_copy) {
			seterr(err, "out of memory");
			rc = WEFT_ERR_NOMEM;
			goto out;
		}
	}
	rc = load_env(c, opts, n, slots, err);
	if (rc < 0)
		goto out;

	for (size_t i = 0; i < nfv; i++) {
		const struct conf_opt *o = &opts[fv[i].opt];

		rc = assign(c, o, &slots[fv[i].opt], SRC_FLAG, fv[i].val, why,
			    sizeof(why));
		if (rc < 0) {
			seterr(err, "flag --%s: %s", o->name, why);
			goto out;
		}
	}

	if (positional) {
		rc = own(c, pos);
		if (rc < 0) {
			pos = NULL;
			seterr(err, "out of memory");
			goto out;
		}
	}
	rc = commit(c, opts, n, slots);
	if (rc < 0) {
		seterr(err, "out of memory");
		if (positional)
			pos = NULL;
		goto out;
	}
	c->config_path = config_copy;
	if (positional) {
		*positional = pos;
		*npositional = npos;
		pos = NULL;
	}
out:
	free(pos);
	free(fv);
	slots_free(slots, n);
	return rc;
}

static const char *metavar(enum conf_type t)
{
	switch (t) {
	case CONF_STRING:
		return " VALUE";
	case CONF_INT:
		return " N";
	case CONF_BOOL:
		return "[=BOOL]";
	case CONF_DURATION:
		return " DURATION";
	case CONF_LIST:
		return " VALUE[,VALUE...]";
	}
	return "";
}

int conf_usage(const struct conf_opt *opts, size_t n, FILE *out)
{
	return conf_usage_for(NULL, opts, n, out);
}

int conf_usage_for(const struct conf *c, const struct conf_opt *opts, size_t n,
		   FILE *out)
{
	char env[MAX_NAME_LEN + 8], lo[CLOCK_DURATION_LEN], hi[CLOCK_DURATION_LEN];

	fprintf(out, "Options:\n");
	for (size_t i = 0; i < n; i++) {
		const struct conf_opt *o = &opts[i];

		env_name(o->name, env, sizeof(env));
		fprintf(out, "  --%s%s\n", o->name, metavar(o->type));
		fprintf(out, "      %s", o->help ? o->help : "");
		if (o->type == CONF_INT && has_bounds(o))
			fprintf(out, " (%lld..%lld)", (long long)o->min,
				(long long)o->max);
		if (o->type == CONF_DURATION && has_bounds(o) &&
		    clock_format_duration(o->min, lo, sizeof(lo)) == 0 &&
		    clock_format_duration(o->max, hi, sizeof(hi)) == 0)
			fprintf(out, " (%s..%s)", lo, hi);
		if (o->type == CONF_LIST)
			fprintf(out, " (repeatable)");
		if (c && !outside_ok(c, o)) {
			if (o->def && *o->def)
				fprintf(out, "\n      default: %s", o->def);
			fprintf(out, "\n");
			continue;
		}
		fprintf(out, "\n      ");
		if (o->def && *o->def)
			fprintf(out, "default: %s, ", o->def);
		fprintf(out, "env: %s\n", env);
	}
	fprintf(out, "  --config FILE\n"
		     "      read options from FILE (key = value lines)\n"
		     "      env: WEFT_CONFIG\n"
		     "  -h, --help\n"
		     "      show this help\n");
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
