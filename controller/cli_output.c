/* The admin CLI's output: an answer as a table (list subcommands), as
 * "key  value" lines (one object) or as the API's JSON (--json), with user
 * ids shown by name and control characters in stored text made harmless.
 * The printing half of cli.c; every command group uses it. */
#include "controller/cli_internal.h"

#include "shared/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest text shown in one table cell or field. */
#define CELL_MAX (64 * 1024)
#define MAX_COLS 12

/* Loads the id → name map used by USER columns. Returns 0 or -1. */
static int load_users(struct cli *c)
{
	struct query q = {0};
	json_t *items = NULL, *u;
	char idtext[32];
	size_t i;

	if (c->users)
		return 0;
	if (cli_fetch_all(c, "/api/v1/users", &q, &items) < 0)
		return -1;
	c->users = json_object();
	if (!c->users) {
		json_decref(items);
		cli_oom();
		return -1;
	}
	json_array_foreach(items, i, u) {
		json_t *id = json_object_get(u, "id");
		json_t *name = json_object_get(u, "name");

		if (!json_is_integer(id) || !json_is_string(name))
			continue;
		snprintf(idtext, sizeof(idtext), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(id));
		json_object_set(c->users, idtext, name);
	}
	json_decref(items);
	return 0;
}

/* Appends s with control characters replaced, so that text stored through
 * the API cannot move the cursor or recolour an admin's terminal. */
static void append_safe(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		buf_putc(b, ch < 0x20 || ch == 0x7f ? '?' : ch);
	}
}

/* Appends the readable form of a JSON value: "-" for null, missing or
 * empty, yes/no for booleans, comma-separated arrays. */
static void value_text(const json_t *v, struct buf *b)
{
	size_t i;
	json_t *e;
	char *s;

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		if (json_string_length(v) == 0)
			buf_putc(b, '-');
		else
			append_safe(b, json_string_value(v));
		break;
	case JSON_INTEGER:
		buf_appendf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		buf_appendf(b, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		buf_append_str(b, "yes");
		break;
	case JSON_FALSE:
		buf_append_str(b, "no");
		break;
	case JSON_ARRAY:
		if (json_array_size(v) == 0)
			buf_putc(b, '-');
		json_array_foreach(v, i, e) {
			if (i)
				buf_putc(b, ',');
			value_text(e, b);
		}
		break;
	case JSON_OBJECT:
		s = json_dumps(v, JSON_COMPACT);
		if (s)
			append_safe(b, s);
		free(s);
		break;
	case JSON_NULL:
		buf_putc(b, '-');
		break;
	}
}

/* The text of one cell: a user id becomes the user's name when known. */
static void cell_text(const struct cli *c, const json_t *row,
		      const struct col *col, struct buf *b)
{
	const json_t *v = json_object_get(row, col->key);
	char idtext[32];

	buf_reset(b);
	if (col->user && json_is_integer(v) && c->users) {
		snprintf(idtext, sizeof(idtext), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		if (json_object_get(c->users, idtext))
			v = json_object_get(c->users, idtext);
	}
	value_text(v, b);
}

/* Display width of UTF-8 text: one column per code point. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void print_cells(const char *const *cells, const size_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fputs(cells[i], stdout);
		if (i + 1 == n)
			break;
		for (size_t k = width(cells[i]); k < w[i] + 2; k++)
			putchar(' ');
	}
	putchar('\n');
}

/* Prints items as a table with upper-case headers and columns as wide as
 * their widest cell. */
static void print_table(const struct cli *c, const struct col *cols,
			size_t ncol, const json_t *items)
{
	const char *cells[MAX_COLS];
	struct buf b[MAX_COLS];
	size_t w[MAX_COLS], i, k;
	json_t *row;

	for (k = 0; k < ncol; k++) {
		buf_init(&b[k], CELL_MAX);
		w[k] = width(cols[k].head);
		cells[k] = cols[k].head;
	}
	json_array_foreach(items, i, row) {
		for (k = 0; k < ncol; k++) {
			cell_text(c, row, &cols[k], &b[k]);
			if (width(buf_cstr(&b[k])) > w[k])
				w[k] = width(buf_cstr(&b[k]));
		}
	}
	print_cells(cells, w, ncol);
	json_array_foreach(items, i, row) {
		for (k = 0; k < ncol; k++) {
			cell_text(c, row, &cols[k], &b[k]);
			cells[k] = buf_cstr(&b[k]);
		}
		print_cells(cells, w, ncol);
	}
	for (k = 0; k < ncol; k++)
		buf_free(&b[k]);
}

/* Prints one object as "key  value" lines; nested objects (a node's
 * routes) become "routes.advertised" and so on. The one-time secret `key`
 * is left out: cli_print_secret shows it with its warning. */
static void print_object(const struct cli *c, const json_t *o)
{
	const char *k, *sk;
	json_t *v, *sv;
	struct buf b;
	size_t w = 0, kw;
	int pass;

	buf_init(&b, CELL_MAX);
	for (pass = 0; pass < 2; pass++) {
		json_object_foreach((json_t *)o, k, v) {
			if (strcmp(k, "key") == 0)
				continue;
			if (!json_is_object(v)) {
				kw = strlen(k);
				if (pass == 0) {
					w = kw > w ? kw : w;
					continue;
				}
				buf_reset(&b);
				value_text(v, &b);
				printf("%-*s  %s", (int)w, k, buf_cstr(&b));
				if (strcmp(k, "user_id") == 0 &&
				    json_is_integer(v) && c->users) {
					char idtext[32];
					const char *name;

					snprintf(idtext, sizeof(idtext),
						 "%" JSON_INTEGER_FORMAT,
						 json_integer_value(v));
					name = json_string_value(json_object_get(
						c->users, idtext));
					if (name)
						printf(" (%s)", name);
				}
				putchar('\n');
				continue;
			}
			json_object_foreach(v, sk, sv) {
				kw = strlen(k) + 1 + strlen(sk);
				if (pass == 0) {
					w = kw > w ? kw : w;
					continue;
				}
				buf_reset(&b);
				value_text(sv, &b);
				printf("%s.%-*s  %s\n", k,
				       (int)(w - strlen(k) - 1), sk,
				       buf_cstr(&b));
			}
		}
	}
	buf_free(&b);
}

void cli_print_secret(const json_t *o, const char *what)
{
	const char *key = json_string_value(json_object_get(o, "key"));

	if (!key)
		return;
	printf("\nThis %s is shown only once; store it now:\n\n    %s\n", what,
	       key);
}

int cli_print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2));

	if (!s)
		return cli_oom();
	puts(s);
	free(s);
	return 0;
}

/* Prints a single object answer: JSON, or the key/value view. */
int cli_show_object(struct cli *c, const json_t *o, bool user)
{
	if (c->json)
		return cli_print_json(o);
	if (user && json_is_integer(json_object_get(o, "user_id")) &&
	    load_users(c) < 0)
		return 1;
	print_object(c, o);
	return 0;
}

/* Prints a whole collection: {"items": [...], "next_cursor": null} with
 * --json (every page merged), else a table. */
static int show_list(struct cli *c, json_t *items, const struct col *cols,
		     size_t ncol)
{
	json_t *o;
	int rc;

	if (c->json) {
		o = api_list_body(json_incref(items), 0);
		if (!o)
			return cli_oom();
		rc = cli_print_json(o);
		json_decref(o);
		return rc;
	}
	for (size_t k = 0; k < ncol; k++)
		if (cols[k].user && load_users(c) < 0)
			return 1;
	print_table(c, cols, ncol, items);
	return 0;
}


/* GETs every page of path (filters in q) and prints the rows: the body of
 * every list subcommand. Returns the exit status. */
int cli_list_cmd(struct cli *c, const char *path, struct query *q,
		    const struct col *cols, size_t ncol)
{
	json_t *items = NULL;
	int ret = 1;

	if (cli_fetch_all(c, path, q, &items) == 0)
		ret = show_list(c, items, cols, ncol);
	json_decref(items);
	return ret;
}

