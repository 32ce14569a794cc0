/* The admin subcommands. Each one builds the request of the REST call it
 * mirrors (docs/api/README.md) and runs it in-process with api_handle_as()
 * as an admin principal "cli:<login>", so validation, audit rows and JSON
 * are the API's own: the CLI adds only argument parsing, name-to-id lookups
 * and output formatting. This file is the command-line front end and
 * prints; the API modules it calls do not. */
#include "controller/cli.h"
#include "controller/cli_internal.h"

#include "controller/api.h"
#include "controller/ctl.h"
#include "controller/passwd.h"
#include "controller/policy.h"
#include "controller/pwread.h"
#include "controller/store.h"
#include "shared/buf.h"
#include "shared/conf.h"
#include "shared/err.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest text shown in one table cell or field. */
#define CELL_MAX (64 * 1024)
#define MAX_COLS 12

static const char *query_get(void *ctx, const char *key)
{
	const struct query *q = ctx;

	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->key[i], key) == 0)
			return q->val[i];
	return NULL;
}

/* Adds key=val unless val is NULL. */
static void query_add(struct query *q, const char *key, const char *val)
{
	if (!val || q->n == MAX_QUERY)
		return;
	q->key[q->n] = key;
	q->val[q->n] = val;
	q->n++;
}

int cli_oom(void)
{
	fprintf(stderr, "weft-controller: out of memory\n");
	return 1;
}

/* A positive decimal id, nothing else. */
static bool parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		return false;
	*out = v;
	return true;
}

static void print_api_error(const struct http_resp *resp)
{
	const json_t *e = json_object_get(resp->json, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *field = json_string_value(json_object_get(e, "field"));

	if (!msg) {
		fprintf(stderr, "weft-controller: the API answered status %d\n",
			resp->status);
		return;
	}
	if (field && !strstr(msg, field))
		fprintf(stderr, "weft-controller: %s: %s\n", field, msg);
	else
		fprintf(stderr, "weft-controller: %s\n", msg);
}

/* Runs one API call. On a 2xx answer returns 0 and, when out is not NULL,
 * hands the answer's JSON (NULL for 204) to the caller. Otherwise prints
 * the API's error message and returns -1. body is borrowed. */
static int call_text(struct cli *c, const char *method, const char *path,
		     struct query *q, const char *body, size_t body_len,
		     json_t **out)
{
	struct http_req req = {0};
	struct http_resp resp = {0};
	int rc = -1;

	req.method = method;
	req.path = path;
	req.body = body ? body : "";
	req.body_len = body ? body_len : 0;
	if (q) {
		req.query = query_get;
		req.query_ctx = q;
	}
	snprintf(req.remote, sizeof(req.remote), "cli");
	api_handle_as(c->api, &c->who, &req, &resp);
	if (resp.status >= 200 && resp.status < 300) {
		if (out) {
			*out = resp.json;
			resp.json = NULL;
		}
		rc = 0;
	} else {
		print_api_error(&resp);
	}
	http_resp_free(&resp);
	return rc;
}

/* Like call_text with a JSON body (NULL for none). */
int cli_call(struct cli *c, const char *method, const char *path,
		struct query *q, const json_t *body, json_t **out)
{
	char *text = NULL;
	int rc;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			cli_oom();
			return -1;
		}
	}
	rc = call_text(c, method, path, q, text, text ? strlen(text) : 0, out);
	free(text);
	return rc;
}

/* GETs every page of a collection into *out (a JSON array the caller
 * owns). q (may hold filters) gets limit and cursor added and is restored
 * before returning. Returns 0 or -1 (error printed). */
int cli_fetch_all(struct cli *c, const char *path, struct query *q,
		     json_t **out)
{
	json_t *all = json_array(), *page = NULL, *items, *next;
	size_t base = q->n;
	char cursor[32] = "";
	int rc = -1;

	if (!all) {
		cli_oom();
		return -1;
	}
	for (;;) {
		q->n = base;
		query_add(q, "limit", "1000");
		if (cursor[0])
			query_add(q, "cursor", cursor);
		if (cli_call(c, "GET", path, q, NULL, &page) < 0)
			goto out;
		items = json_object_get(page, "items");
		next = json_object_get(page, "next_cursor");
		if (!json_is_array(items) || json_array_extend(all, items) < 0) {
			fprintf(stderr, "weft-controller: unexpected answer "
					"from GET %s\n", path);
			goto out;
		}
		/* A cursor that does not move would loop for ever. */
		if (!json_is_string(next) ||
		    strcmp(json_string_value(next), cursor) == 0)
			break;
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		json_decref(page);
		page = NULL;
	}
	*out = all;
	all = NULL;
	rc = 0;
out:
	q->n = base;
	json_decref(page);
	json_decref(all);
	return rc;
}

/* Finds a user by exact name, or else by id when ref is a number (a name
 * wins over an id, since "42" is a valid user name). Returns 0 or -1
 * (error printed). */
static int resolve_user(struct cli *c, const char *ref, int64_t *id)
{
	struct query q = {0};
	json_t *items = NULL, *u;
	size_t i;
	int rc = -1;

	query_add(&q, "name", ref);
	if (cli_fetch_all(c, "/api/v1/users", &q, &items) < 0)
		return -1;
	json_array_foreach(items, i, u) {
		const char *name = json_string_value(json_object_get(u, "name"));
		json_t *v = json_object_get(u, "id");

		if (name && strcmp(name, ref) == 0 && json_is_integer(v)) {
			*id = json_integer_value(v);
			rc = 0;
			goto out;
		}
	}
	if (parse_id(ref, id)) {
		rc = 0;
		goto out;
	}
	fprintf(stderr, "weft-controller: no user named \"%s\"\n", ref);
out:
	json_decref(items);
	return rc;
}

/* Finds a node by id when ref is a number, else by exact name. Returns 0
 * or -1 (error printed). */
int cli_resolve_node(struct cli *c, const char *ref, int64_t *id)
{
	struct query q = {0};
	json_t *items = NULL, *n;
	size_t i;
	int rc = -1;

	if (parse_id(ref, id))
		return 0;
	if (cli_fetch_all(c, "/api/v1/nodes", &q, &items) < 0)
		return -1;
	json_array_foreach(items, i, n) {
		const char *name = json_string_value(json_object_get(n, "name"));
		json_t *v = json_object_get(n, "id");

		if (name && strcmp(name, ref) == 0 && json_is_integer(v)) {
			*id = json_integer_value(v);
			rc = 0;
			goto out;
		}
	}
	fprintf(stderr, "weft-controller: no node named \"%s\"\n", ref);
out:
	json_decref(items);
	return rc;
}

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
 * is left out: print_secret shows it with its warning. */
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

static void print_secret(const json_t *o, const char *what)
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

/* Adds user_id=<id of ref> to q when ref (a user name or id) is given;
 * idtext holds the value and must live as long as q. Returns -1 (error
 * printed) when the user does not resolve. */
static int query_user(struct cli *c, struct query *q, const char *ref,
		      char idtext[32])
{
	int64_t uid;

	if (!ref)
		return 0;
	if (resolve_user(c, ref, &uid) < 0)
		return -1;
	snprintf(idtext, 32, "%" PRId64, uid);
	query_add(q, "user_id", idtext);
	return 0;
}

/* Sets key to a string in body unless s is NULL. */
int cli_set_str(json_t *body, const char *key, const char *s)
{
	if (!s)
		return 0;
	return json_object_set_new(body, key, json_string(s));
}

/* Splits "tag:a, tag:b" into a JSON array, dropping empty items, so that
 * "" is the empty list. */
static json_t *split_tags(const char *s)
{
	json_t *a = json_array();
	const char *p = s;

	while (a && *p) {
		size_t n = strcspn(p, ",");
		const char *e = p + n;

		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > p &&
		    json_array_append_new(a, json_stringn(p, (size_t)(e - p)))) {
			json_decref(a);
			return NULL;
		}
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return a;
}

/* --- users --- */

static const struct col user_cols[] = {
	{"ID", "id", false},
	{"NAME", "name", false},
	{"ROLE", "role", false},
	{"DISPLAY NAME", "display_name", false},
	{"EMAIL", "email", false},
	{"CREATED", "created_at", false},
};

static int users_create(struct cli *c, const struct flags *f, char **pos)
{
	json_t *body = json_object(), *out = NULL;
	int ret = 1;

	if (!body || cli_set_str(body, "name", pos[0]) ||
	    cli_set_str(body, "display_name", f->display_name) ||
	    cli_set_str(body, "email", f->email) || cli_set_str(body, "role", f->role)) {
		ret = cli_oom();
		goto out;
	}
	if (cli_call(c, "POST", "/api/v1/users", NULL, body, &out) < 0)
		goto out;
	ret = cli_show_object(c, out, false);
out:
	json_decref(body);
	json_decref(out);
	return ret;
}

static int users_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};

	(void)pos;
	query_add(&q, "name", f->name);
	return cli_list_cmd(c, "/api/v1/users", &q, user_cols, NCOLS(user_cols));
}

static int users_delete(struct cli *c, const struct flags *f, char **pos)
{
	char path[64];
	int64_t id;

	(void)f;
	if (resolve_user(c, pos[0], &id) < 0)
		return 1;
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64, id);
	if (cli_call(c, "DELETE", path, NULL, NULL, NULL) < 0)
		return 1;
	if (!c->json)
		printf("deleted user %s (id %" PRId64 ")\n", pos[0], id);
	return 0;
}

/* Reads a password (controller/pwread.h) and sends it as the REST call
 * PUT /api/v1/users/{id}/password does. Every copy is wiped. */
static int users_set_password(struct cli *c, const struct flags *f,
			      char **pos)
{
	char pw[PASSWD_MAX + 2], path[64];
	json_t *body = NULL;
	char *text = NULL;
	int64_t id;
	int ret = 1;

	(void)f;
	if (resolve_user(c, pos[0], &id) < 0)
		return 1;
	if (pwread(stdin, pw, sizeof(pw)) < 0)
		return 1;
	body = json_pack("{s:s}", "password", pw);
	memset(pw, 0, sizeof(pw));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text) {
		ret = cli_oom();
		goto out;
	}
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64 "/password", id);
	if (call_text(c, "PUT", path, NULL, text, strlen(text), NULL) < 0)
		goto out;
	if (!c->json)
		printf("password set for user %s; its sessions ended\n",
		       pos[0]);
	ret = 0;
out:
	if (text) {
		memset(text, 0, strlen(text));
		free(text);
	}
	json_decref(body);
	return ret;
}

/* --- auth keys --- */

static const struct col authkey_cols[] = {
	{"ID", "id", false},
	{"PREFIX", "prefix", false},
	{"USER", "user_id", true},
	{"REUSABLE", "reusable", false},
	{"EPHEMERAL", "ephemeral", false},
	{"TAGS", "tags", false},
	{"USED", "used_count", false},
	{"USABLE", "usable", false},
	{"EXPIRES", "expires_at", false},
	{"REVOKED", "revoked_at", false},
};

/* Adds "user_id" for --user to body. Returns 0, or 1 (error printed). */
static int set_user(struct cli *c, json_t *body, const char *ref)
{
	int64_t id;

	if (!ref)
		return 0;
	if (resolve_user(c, ref, &id) < 0)
		return 1;
	if (json_object_set_new(body, "user_id", json_integer(id)))
		return cli_oom();
	return 0;
}

static int keys_create(struct cli *c, const struct flags *f, char **pos)
{
	json_t *body = json_object(), *out = NULL, *tags = NULL;
	int ret = 1;

	(void)pos;
	if (!body)
		return cli_oom();
	if (set_user(c, body, f->user))
		goto out;
	if ((f->reusable &&
	     json_object_set_new(body, "reusable", json_true())) ||
	    (f->ephemeral &&
	     json_object_set_new(body, "ephemeral", json_true())) ||
	    cli_set_str(body, "expires_in", f->expires)) {
		ret = cli_oom();
		goto out;
	}
	if (f->tags.n) {
		tags = json_array();
		for (size_t i = 0; tags && i < f->tags.n; i++)
			if (json_array_append_new(tags,
						  json_string(f->tags.items[i])))
				break;
		if (!tags || json_array_size(tags) != f->tags.n ||
		    json_object_set(body, "tags", tags)) {
			ret = cli_oom();
			goto out;
		}
	}
	if (cli_call(c, "POST", "/api/v1/auth-keys", NULL, body, &out) < 0)
		goto out;
	ret = cli_show_object(c, out, true);
	if (ret == 0 && !c->json)
		print_secret(out, "auth key");
out:
	json_decref(tags);
	json_decref(body);
	json_decref(out);
	return ret;
}

static int keys_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};
	char idtext[32];

	(void)pos;
	if (query_user(c, &q, f->user, idtext) < 0)
		return 1;
	if (f->all)
		query_add(&q, "include_revoked", "true");
	return cli_list_cmd(c, "/api/v1/auth-keys", &q, authkey_cols,
			NCOLS(authkey_cols));
}

/* DELETE on a key collection revokes and answers the revoked key. */
static int revoke_key(struct cli *c, const char *collection,
		      const char *what, const char *ref)
{
	json_t *out = NULL;
	char path[96];
	int64_t id;
	int ret = 1;

	if (!parse_id(ref, &id)) {
		fprintf(stderr, "weft-controller: %s id must be a positive "
				"integer, not \"%s\"\n", what, ref);
		return 2;
	}
	snprintf(path, sizeof(path), "/api/v1/%s/%" PRId64, collection, id);
	if (cli_call(c, "DELETE", path, NULL, NULL, &out) < 0)
		return 1;
	if (c->json) {
		ret = cli_print_json(out);
	} else {
		printf("revoked %s %" PRId64 " (prefix %s)\n", what, id,
		       json_string_value(json_object_get(out, "prefix"))
			       ? json_string_value(json_object_get(out, "prefix"))
			       : "-");
		ret = 0;
	}
	json_decref(out);
	return ret;
}

static int keys_revoke(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return revoke_key(c, "auth-keys", "auth key", pos[0]);
}

/* --- API keys --- */

static const struct col apikey_cols[] = {
	{"ID", "id", false},
	{"PREFIX", "prefix", false},
	{"USER", "user_id", true},
	{"DESCRIPTION", "description", false},
	{"EXPIRES", "expires_at", false},
	{"REVOKED", "revoked_at", false},
	{"LAST USED", "last_used_at", false},
	{"CREATED", "created_at", false},
};

static int apikeys_create(struct cli *c, const struct flags *f, char **pos)
{
	json_t *body = json_object(), *out = NULL;
	int ret = 1;

	(void)pos;
	if (!body)
		return cli_oom();
	if (set_user(c, body, f->user))
		goto out;
	if (cli_set_str(body, "description", f->description) ||
	    cli_set_str(body, "expires_in", f->expires)) {
		ret = cli_oom();
		goto out;
	}
	if (cli_call(c, "POST", "/api/v1/api-keys", NULL, body, &out) < 0)
		goto out;
	ret = cli_show_object(c, out, true);
	if (ret == 0 && !c->json)
		print_secret(out, "API key");
out:
	json_decref(body);
	json_decref(out);
	return ret;
}

static int apikeys_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};

	(void)f;
	(void)pos;
	return cli_list_cmd(c, "/api/v1/api-keys", &q, apikey_cols,
			NCOLS(apikey_cols));
}

static int apikeys_revoke(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return revoke_key(c, "api-keys", "API key", pos[0]);
}

/* --- nodes --- */

static const struct col node_cols[] = {
	{"ID", "id", false},
	{"NAME", "name", false},
	{"USER", "user_id", true},
	{"IPV4", "ipv4", false},
	{"IPV6", "ipv6", false},
	{"TAGS", "tags", false},
	{"ONLINE", "online", false},
	{"LAST SEEN", "last_seen", false},
	{"EXPIRES", "expires_at", false},
};

static int nodes_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};
	char idtext[32];

	(void)pos;
	if (query_user(c, &q, f->user, idtext) < 0)
		return 1;
	query_add(&q, "tag", f->tag);
	if (f->online)
		query_add(&q, "online", "true");
	return cli_list_cmd(c, "/api/v1/nodes", &q, node_cols, NCOLS(node_cols));
}

/* Runs method on /api/v1/nodes/<node>[suffix] and shows the node it
 * answers (nothing for 204). */
static int node_call(struct cli *c, const char *ref, const char *method,
		     const char *suffix, const json_t *body)
{
	json_t *out = NULL;
	char path[96];
	int64_t id;
	int ret = 1;

	if (cli_resolve_node(c, ref, &id) < 0)
		return 1;
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64 "%s", id, suffix);
	if (cli_call(c, method, path, NULL, body, &out) < 0)
		return 1;
	if (out) {
		ret = cli_show_object(c, out, true);
	} else {
		if (!c->json)
			printf("deleted node %s (id %" PRId64 ")\n", ref, id);
		ret = 0;
	}
	json_decref(out);
	return ret;
}

static int nodes_show(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return node_call(c, pos[0], "GET", "", NULL);
}

static int nodes_rename(struct cli *c, const struct flags *f, char **pos)
{
	json_t *body = json_pack("{s:s}", "name", pos[1]);
	int ret;

	(void)f;
	if (!body)
		return cli_oom();
	ret = node_call(c, pos[0], "PATCH", "", body);
	json_decref(body);
	return ret;
}

static int nodes_tag(struct cli *c, const struct flags *f, char **pos)
{
	json_t *tags = split_tags(pos[1]), *body;
	int ret;

	(void)f;
	body = tags ? json_pack("{s:o}", "tags", tags) : NULL;
	if (!body)
		return cli_oom();
	ret = node_call(c, pos[0], "PATCH", "", body);
	json_decref(body);
	return ret;
}

static int nodes_expire(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return node_call(c, pos[0], "POST", "/expire", NULL);
}

static int nodes_delete(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return node_call(c, pos[0], "DELETE", "", NULL);
}

/* Reads the policy file at path into *text (malloc'd, NUL-terminated, at
 * most one byte over the policy size limit so that the parser can say the
 * file is too big). Returns 0 or -1 (error printed). */
static int read_policy_file(const char *path, char **text, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n;
	int rc = -1;

	if (!f) {
		fprintf(stderr, "weft-controller: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	buf = malloc(POLICY_MAX_BYTES + 2);
	if (!buf) {
		cli_oom();
		goto out;
	}
	n = fread(buf, 1, POLICY_MAX_BYTES + 1, f);
	if (ferror(f)) {
		fprintf(stderr, "weft-controller: %s: read error\n", path);
		free(buf);
		goto out;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	rc = 0;
out:
	if (f != stdin)
		fclose(f);
	return rc;
}

static int policy_get(struct cli *c, const struct flags *f, char **pos)
{
	json_t *out = NULL;
	int ret;

	(void)f;
	(void)pos;
	if (cli_call(c, "GET", "/api/v1/policy", NULL, NULL, &out) < 0)
		return 1;
	/* Without --json only the document, so that `policy get > FILE`,
	 * an edit and `policy set FILE` round-trip. */
	ret = cli_print_json(c->json ? out : json_object_get(out, "document"));
	json_decref(out);
	return ret;
}

static int policy_set(struct cli *c, const struct flags *f, char **pos)
{
	json_t *out = NULL;
	char *text = NULL;
	size_t len = 0;
	int ret = 1;

	(void)f;
	if (read_policy_file(pos[0], &text, &len) < 0)
		return 1;
	if (call_text(c, "PUT", "/api/v1/policy", NULL, text, len, &out) < 0)
		goto out;
	if (c->json)
		ret = cli_print_json(out);
	else {
		printf("policy version %" PRId64 " saved\n",
		       (int64_t)json_integer_value(json_object_get(out, "version")));
		ret = 0;
	}
out:
	json_decref(out);
	free(text);
	return ret;
}

/* Validates a document as PUT /api/v1/policy would (names against this
 * database, then the document's tests) without saving it. The verdict is
 * the command's output: "ok", or the path and message on stdout and exit
 * status 1. */
static int policy_check(struct cli *c, const struct flags *f, char **pos)
{
	struct policy_names names;
	struct policy_err err = {0};
	struct policy *p = NULL;
	struct store_tx *tx = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc, ret = 1;

	(void)f;
	if (read_policy_file(pos[0], &text, &len) < 0)
		return 1;
	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0) {
		fprintf(stderr, "weft-controller: cannot read the database: %s\n",
			store_errmsg());
		goto out;
	}
	api_policy_names(tx, &names);
	rc = policy_parse(text, len, &names, &p, &err);
	if (rc == 0) {
		if (c->json) {
			json_t *j = json_pack("{s:b}", "valid", 1);

			ret = j ? cli_print_json(j) : cli_oom();
			json_decref(j);
		} else {
			ret = puts("ok") < 0;
		}
	} else if (rc == WEFT_ERR_INVAL || rc == WEFT_ERR_PARSE ||
		   rc == WEFT_ERR_TOOBIG) {
		if (c->json) {
			json_t *j = json_pack("{s:b, s:{s:s, s:s}}", "valid", 0,
					      "error", "path", err.path,
					      "message", err.message);

			cli_print_json(j);
			json_decref(j);
		} else {
			printf("%s%s%s\n", err.path, err.path[0] ? ": " : "",
			       err.message);
		}
	} else {
		fprintf(stderr, "weft-controller: cannot check the policy: %s\n",
			weft_strerror(rc));
	}
out:
	policy_free(p);
	store_rollback(tx);
	free(text);
	return ret;
}

static int relay_key(struct cli *c, const struct flags *f, char **pos)
{
	json_t *out = NULL;
	const char *pem;
	int ret = 1;

	(void)f;
	(void)pos;
	if (cli_call(c, "GET", "/api/v1/relay-key", NULL, NULL, &out) < 0)
		return 1;
	pem = json_string_value(json_object_get(out, "public_key"));
	if (c->json)
		ret = cli_print_json(out);
	else if (pem) {
		/* The PEM text already ends with a newline. */
		fputs(pem, stdout);
		ret = 0;
	}
	json_decref(out);
	return ret;
}

/* --- relays --- */

static const struct col relay_cols[] = {
	{"ID", "id", false},
	{"NAME", "name", false},
	{"REGION", "region", false},
	{"ADDRESS", "address", false},
	{"PIN", "public_key_pin", false},
};

/* The id of the relay called name, 0 when there is none, -1 on error. */
static int64_t find_relay(struct cli *c, const char *name)
{
	struct query q = {0};
	json_t *items = NULL, *it;
	int64_t id = 0;
	size_t i;

	if (cli_fetch_all(c, "/api/v1/relays", &q, &items) < 0)
		return -1;
	json_array_foreach(items, i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));

		if (n && strcmp(n, name) == 0)
			id = json_integer_value(json_object_get(it, "id"));
	}
	json_decref(items);
	return id;
}

/* Creates the relay, or updates the one with that name: what a deploy
 * script wants to run on every start. */
static int relays_set(struct cli *c, const struct flags *f, char **pos)
{
	json_t *body = json_object(), *out = NULL;
	char path[64];
	int64_t id;
	int ret = 1;

	if (!body)
		return cli_oom();
	id = find_relay(c, pos[0]);
	if (id < 0)
		goto out;
	if ((!id && cli_set_str(body, "name", pos[0])) ||
	    cli_set_str(body, "region", f->region) ||
	    cli_set_str(body, "address", f->address) ||
	    cli_set_str(body, "public_key_pin", f->pin)) {
		ret = cli_oom();
		goto out;
	}
	if (id) {
		snprintf(path, sizeof(path), "/api/v1/relays/%lld", (long long)id);
		if (cli_call(c, "PATCH", path, NULL, body, &out) < 0)
			goto out;
	} else if (cli_call(c, "POST", "/api/v1/relays", NULL, body, &out) < 0) {
		goto out;
	}
	ret = cli_show_object(c, out, false);
out:
	json_decref(body);
	json_decref(out);
	return ret;
}

static int relays_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};

	(void)f;
	(void)pos;
	return cli_list_cmd(c, "/api/v1/relays", &q, relay_cols,
			NCOLS(relay_cols));
}

static int relays_delete(struct cli *c, const struct flags *f, char **pos)
{
	char path[64];
	int64_t id;

	(void)f;
	id = find_relay(c, pos[0]);
	if (id < 0)
		return 1;
	if (id == 0) {
		fprintf(stderr, "weft-controller: no relay named \"%s\"\n",
			pos[0]);
		return 1;
	}
	snprintf(path, sizeof(path), "/api/v1/relays/%lld", (long long)id);
	if (cli_call(c, "DELETE", path, NULL, NULL, NULL) < 0)
		return 1;
	if (!c->json)
		printf("deleted relay %s\n", pos[0]);
	return 0;
}

static const struct cmd cmds[] = {
	{"users", "create", "NAME", 1, F_DISPLAY_NAME | F_EMAIL | F_ROLE,
	 "create a user", users_create},
	{"users", "list", "", 0, F_NAME, "list users", users_list},
	{"users", "delete", "USER", 1, 0,
	 "delete a user (name or id) and its keys", users_delete},
	{"users", "set-password", "USER", 1, 0,
	 "set a user's login password (read from stdin or a prompt)",
	 users_set_password},
	{"keys", "create", "", 0,
	 F_USER | F_REUSABLE | F_EPHEMERAL | F_TAGS | F_EXPIRES,
	 "create an auth key to register nodes", keys_create},
	{"keys", "list", "", 0, F_USER | F_ALL, "list auth keys", keys_list},
	{"keys", "revoke", "ID", 1, 0, "revoke an auth key", keys_revoke},
	{"apikeys", "create", "", 0, F_USER | F_DESCRIPTION | F_EXPIRES,
	 "create an API key", apikeys_create},
	{"apikeys", "list", "", 0, 0, "list API keys", apikeys_list},
	{"apikeys", "revoke", "ID", 1, 0, "revoke an API key", apikeys_revoke},
	{"nodes", "list", "", 0, F_USER | F_TAG | F_ONLINE, "list nodes",
	 nodes_list},
	{"nodes", "show", "NODE", 1, 0, "show a node (id or name)", nodes_show},
	{"nodes", "rename", "NODE NEWNAME", 2, 0, "rename a node",
	 nodes_rename},
	{"nodes", "tag", "NODE TAGS", 2, 0,
	 "set a node's tags (\"tag:a,tag:b\"; \"\" clears)", nodes_tag},
	{"nodes", "expire", "NODE", 1, 0,
	 "expire a node's key now (it must register again)", nodes_expire},
	{"nodes", "delete", "NODE", 1, 0, "delete a node", nodes_delete},
	{"policy", "get", "", 0, 0,
	 "print the policy document (--json: with version and author)",
	 policy_get},
	{"policy", "set", "FILE", 1, 0,
	 "validate FILE (\"-\" = stdin) and make it the policy", policy_set},
	{"policy", "check", "FILE", 1, 0,
	 "validate FILE and run its tests without saving", policy_check},
	{"dns", "show", "", 0, 0, "print the DNS settings (JSON)",
	 cli_dns_show},
	{"dns", "set", "FILE", 1, 0,
	 "make the JSON document in FILE (\"-\" = stdin) the DNS settings",
	 cli_dns_set},
	{"resources", "list", "", 0, 0, "list resources", cli_resources_list},
	{"resources", "show", "RESOURCE", 1, 0,
	 "show a resource (name or id)", cli_resources_show},
	{"resources", "create", "NAME", 1, F_ADDRESS | F_FILTERS | F_CONNECTORS,
	 "add a resource (--address, --connectors, --filters)",
	 cli_resources_create},
	{"resources", "update", "RESOURCE", 1,
	 F_ADDRESS | F_FILTERS | F_CONNECTORS | F_NEW_NAME,
	 "change a resource (--name, --address, --filters, --connectors)",
	 cli_resources_update},
	{"resources", "delete", "RESOURCE", 1, 0, "delete a resource",
	 cli_resources_delete},
	{"relays", "set", "NAME", 1, F_REGION | F_ADDRESS | F_PIN,
	 "add the relay NAME, or update it (--region, --address, --pin)",
	 relays_set},
	{"relays", "list", "", 0, 0, "list relays", relays_list},
	{"relays", "delete", "NAME", 1, 0, "delete a relay", relays_delete},
	/* A group without subcommands: the name is empty. */
	{"relay-key", "", "", 0, 0,
	 "print the public key relays verify tokens with (PEM)", relay_key},
	{0},
};

/* Fills out with the options of mask plus --json; returns their count. */
static size_t flag_opts(struct flags *f, unsigned mask, struct conf_opt *out)
{
	const struct conf_opt all[NFLAGS] = {
		{"display-name", CONF_STRING, &f->display_name, NULL,
		 "the user's full name", 0, 0},
		{"email", CONF_STRING, &f->email, NULL, "the user's e-mail",
		 0, 0},
		{"role", CONF_STRING, &f->role, NULL,
		 "admin or member (default member)", 0, 0},
		{"name", CONF_STRING, &f->name, NULL, "only the user so named",
		 0, 0},
		{"user", CONF_STRING, &f->user, NULL, "user name or id", 0, 0},
		{"description", CONF_STRING, &f->description, NULL,
		 "what the key is for", 0, 0},
		{"expires", CONF_STRING, &f->expires, NULL,
		 "lifetime: 90m, 24h, 30d (at most 365d)", 0, 0},
		{"tag", CONF_STRING, &f->tag, NULL, "only nodes with this tag",
		 0, 0},
		{"tags", CONF_LIST, &f->tags, NULL,
		 "tags for the nodes it registers (tag:a,tag:b)", 0, 0},
		{"reusable", CONF_BOOL, &f->reusable, NULL,
		 "registers any number of nodes (default one)", 0, 0},
		{"ephemeral", CONF_BOOL, &f->ephemeral, NULL,
		 "its nodes are removed when they go offline", 0, 0},
		{"all", CONF_BOOL, &f->all, NULL, "include revoked keys", 0, 0},
		{"online", CONF_BOOL, &f->online, NULL, "only online nodes", 0,
		 0},
		{"region", CONF_STRING, &f->region, NULL,
		 "the relay's region (a-z 0-9 -)", 0, 0},
		{"address", CONF_STRING, &f->address, NULL,
		 "relays: where agents reach it (host:port); resources: an "
		 "IP, CIDR, DNS name, *.domain or internet", 0, 0},
		{"pin", CONF_STRING, &f->pin, NULL,
		 "the relay's key pin, as weft-relay prints it", 0, 0},
		{"filters", CONF_STRING, &f->filters, NULL,
		 "what the resource admits: \"tcp:443,8000-8100 udp icmp\" "
		 "(\"\" = everything) or the JSON list", 0, 0},
		{"connectors", CONF_LIST, &f->connectors, NULL,
		 "nodes (names or ids) and tags serving the resource "
		 "(node1,tag:edge)", 0, 0},
		{"name", CONF_STRING, &f->new_name, NULL,
		 "a new name for the resource", 0, 0},
	};
	size_t n = 0;

	for (size_t i = 0; i < NFLAGS; i++)
		if (mask & (1u << i))
			out[n++] = all[i];
	out[n++] = (struct conf_opt){"json", CONF_BOOL, &f->json, NULL,
		"print the API's JSON answer", 0, 0};
	return n;
}

static bool takes_value(const struct conf_opt *opts, size_t n,
			const char *name)
{
	if (strcmp(name, "config") == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(opts[i].name, name) == 0)
			return opts[i].type != CONF_BOOL;
	return false;
}

/* conf_parse stops reading flags at the first positional argument, but
 * people type `users create alice --role admin`. Returns a copy of argv
 * (the caller frees the array) with the flags first, then "--", then the
 * positional arguments in their order; NULL when out of memory. */
static char **permute(int argc, char **argv, const struct conf_opt *opts,
		      size_t n, int *outc)
{
	static char dashdash[] = "--";
	char **out = calloc((size_t)argc + 2, sizeof(*out));
	char **pos = calloc((size_t)argc + 1, sizeof(*pos));
	int no = 0, np = 0;

	if (!out || !pos) {
		free(out);
		free(pos);
		return NULL;
	}
	out[no++] = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			while (++i < argc)
				pos[np++] = argv[i];
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			pos[np++] = argv[i];
			continue;
		}
		out[no++] = argv[i];
		if (a[1] == '-' && !strchr(a, '=') &&
		    takes_value(opts, n, a + 2)) {
			if (i + 1 == argc) {
				/* Leave the flag last so that conf_parse
				 * reports its missing value. */
				np = 0;
				break;
			}
			out[no++] = argv[++i];
		}
	}
	if (np)
		out[no++] = dashdash;
	for (int i = 0; i < np; i++)
		out[no++] = pos[i];
	free(pos);
	*outc = no;
	return out;
}

static void group_usage(FILE *out, const char *group)
{
	fprintf(out, "usage: weft-controller %s <subcommand> [flags]\n\n"
		     "subcommands:\n", group);
	for (const struct cmd *c = cmds; c->group; c++) {
		char head[64];

		if (strcmp(c->group, group) != 0)
			continue;
		snprintf(head, sizeof(head), "%s %s", c->name, c->args);
		fprintf(out, "  %-20s %s\n", head, c->summary);
	}
	fprintf(out, "\nEvery subcommand takes --json, --data-dir DIR or --db URL, "
		     "and --help.\n");
}

static void set_actor(struct principal *who)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw && pw->pw_name && *pw->pw_name)
		snprintf(who->actor, sizeof(who->actor), "cli:%s", pw->pw_name);
	else
		snprintf(who->actor, sizeof(who->actor), "cli:uid%u",
			 (unsigned)geteuid());
}

static int run(const struct cmd *cmd, int argc, char **argv)
{
	struct ctl_common common = {0};
	struct conf_opt opts[CTL_COMMON_NOPTS + NFLAGS + 1];
	struct flags f = {0};
	struct cli c = {0};
	struct store *st = NULL;
	struct conf *cf = NULL;
	char usage[128], name[64], **args = NULL, **pos = NULL;
	int nargs = 0, npos = 0, rc, ret = 2;
	size_t n;

	ctl_common_opts(&common, opts);
	n = CTL_COMMON_NOPTS +
	    flag_opts(&f, cmd->flags, opts + CTL_COMMON_NOPTS);
	snprintf(name, sizeof(name), "%s%s%s", cmd->group,
		 cmd->name[0] ? " " : "", cmd->name);
	snprintf(usage, sizeof(usage), "%s%s%s [flags]", name,
		 cmd->args[0] ? " " : "", cmd->args);
	args = permute(argc, argv, opts, n, &nargs);
	if (!args) {
		ret = cli_oom();
		goto out;
	}
	args[0] = name;
	rc = ctl_parse(usage, opts, n, nargs, args, true, &cf, &pos, &npos);
	if (rc != 0) {
		ret = rc > 0 ? 0 : 2;
		goto out;
	}
	if (npos != cmd->npos) {
		fprintf(stderr, "weft-controller %s: %s\n"
				"usage: weft-controller %s (see --help)\n",
			name, npos < cmd->npos ? "missing arguments"
					       : "too many arguments",
			usage);
		goto out;
	}
	ret = 1;
	if (ctl_open_store(&common, &st) < 0)
		goto out;
	if (api_new(st, NULL, NULL, &c.api) < 0) {
		ret = cli_oom();
		goto out;
	}
	c.st = st;
	c.who.kind = PRINCIPAL_APIKEY;
	c.who.admin = true;
	set_actor(&c.who);
	c.json = f.json;
	ret = cmd->fn(&c, &f, pos);
out:
	fflush(stdout);
	json_decref(c.users);
	api_del(c.api);
	store_close(st);
	conf_del(cf);
	free(args);
	return ret;
}

bool cli_has(const char *cmd)
{
	for (const struct cmd *c = cmds; c->group; c++)
		if (strcmp(c->group, cmd) == 0)
			return true;
	return false;
}

int cli_main(int argc, char **argv)
{
	const char *group = argv[0], *sub;

	if (!cli_has(group)) {
		fprintf(stderr, "weft-controller: unknown command \"%s\"\n",
			group);
		return 2;
	}
	/* A group without subcommands runs its one command directly. */
	for (const struct cmd *c = cmds; c->group; c++)
		if (strcmp(c->group, group) == 0 && !c->name[0])
			return run(c, argc, argv);
	if (argc < 2) {
		group_usage(stderr, group);
		return 2;
	}
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 ||
	    strcmp(sub, "help") == 0) {
		group_usage(stdout, group);
		return 0;
	}
	for (const struct cmd *c = cmds; c->group; c++)
		if (strcmp(c->group, group) == 0 && strcmp(c->name, sub) == 0)
			return run(c, argc - 1, argv + 1);
	fprintf(stderr, "weft-controller %s: unknown subcommand \"%s\"\n\n",
		group, sub);
	group_usage(stderr, group);
	return 2;
}
