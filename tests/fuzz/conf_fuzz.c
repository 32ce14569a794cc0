/* Fuzzes the config-file parser. Invariants checked:
 * - a failed parse sets a message, returns a negative code and leaves every
 *   destination alone;
 * - a successful parse yields values that, written back out as a config
 *   file (strings quoted and escaped), parse to exactly the same values;
 * - a duration that parses formats back to text that parses to the same
 *   number of milliseconds. */
#include "shared/clock.h"
#include "shared/conf.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vals {
	const char *str;
	int64_t num;
	bool flag;
	int64_t wait;
	struct conf_list items;
};

#define NOPTS 5

static void make_opts(struct conf_opt *o, struct vals *v, const char *str)
{
	struct conf_opt t[NOPTS] = {
		{"str", CONF_STRING, &v->str, NULL, "", 0, 0},
		{"num", CONF_INT, &v->num, NULL, "", -5000000, 5000000},
		{"flag", CONF_BOOL, &v->flag, NULL, "", 0, 0},
		{"wait", CONF_DURATION, &v->wait, NULL, "", 0, 0},
		{"items", CONF_LIST, &v->items, NULL, "", 0, 0},
	};

	memcpy(o, t, sizeof(t));
	v->str = str;
	v->num = 4242;
	v->flag = true;
	v->wait = 777;
	v->items.items = NULL;
	v->items.n = 0;
}

static void put_quoted(FILE *f, const char *key, const char *s)
{
	fprintf(f, "%s = \"", key);
	for (; *s; s++) {
		if (*s == '\n')
			abort(); /* a value can never span lines */
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputs("\"\n", f);
}

static char *serialize(const struct vals *v, size_t *len)
{
	char dur[CLOCK_DURATION_LEN], *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	fputs("# written back by conf_fuzz\n", f);
	put_quoted(f, "str", v->str);
	fprintf(f, "num = %lld\n", (long long)v->num);
	fprintf(f, "flag = %s\n", v->flag ? "true" : "false");
	if (clock_format_duration(v->wait, dur, sizeof(dur)) != 0)
		abort();
	fprintf(f, "wait = %s\n", dur);
	fputs("items =\n", f);
	for (size_t i = 0; i < v->items.n; i++)
		put_quoted(f, "items", v->items.items[i]);
	if (fclose(f) != 0)
		abort();
	return buf;
}

static bool same(const struct vals *a, const struct vals *b)
{
	if (strcmp(a->str, b->str) != 0 || a->num != b->num ||
	    a->flag != b->flag || a->wait != b->wait ||
	    a->items.n != b->items.n)
		return false;
	for (size_t i = 0; i < a->items.n; i++) {
		if (strcmp(a->items.items[i], b->items.items[i]) != 0)
			return false;
	}
	return true;
}

static void check_duration(const uint8_t *data, size_t size)
{
	char text[64], out[CLOCK_DURATION_LEN];
	int64_t ms, back;

	if (size >= sizeof(text))
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (clock_parse_duration(text, &ms) != 0)
		return;
	if (ms < 0 || clock_format_duration(ms, out, sizeof(out)) != 0 ||
	    clock_parse_duration(out, &back) != 0 || back != ms)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sentinel[] = "sentinel";
	struct conf_opt opts[NOPTS], opts2[NOPTS];
	struct conf_err err = {{0}};
	struct vals v, v2;
	struct conf *c = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	check_duration(data, size);
	if (conf_new(&c) != 0)
		abort();
	make_opts(opts, &v, sentinel);
	rc = conf_parse_file_text(c, opts, NOPTS, "fuzz", (const char *)data,
				  size, &err);
	if (rc != 0) {
		if (rc > 0 || err.message[0] == '\0')
			abort();
		if (v.str != sentinel || v.num != 4242 || !v.flag ||
		    v.wait != 777 || v.items.items || v.items.n)
			abort();
		goto out;
	}
	if (!v.str || (v.items.n > 0) != (v.items.items != NULL))
		abort();
	for (size_t i = 0; i < v.items.n; i++) {
		const char *it = v.items.items[i];
		size_t n = strlen(it);

		if (n == 0 || strchr(it, ',') || it[0] == ' ' ||
		    it[n - 1] == ' ')
			abort();
	}

	text = serialize(&v, &len);
	make_opts(opts2, &v2, "other");
	v2.flag = !v.flag;
	if (conf_parse_file_text(c, opts2, NOPTS, "again", text, len, &err) != 0)
		abort();
	if (!same(&v, &v2))
		abort();
out:
	free(text);
	conf_del(c);
	return 0;
}
