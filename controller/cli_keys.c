/* The `keys` (auth keys, which register nodes) and `apikeys` (API keys)
 * groups of the admin CLI: create, list and revoke through
 * /api/v1/auth-keys and /api/v1/api-keys. A new key's secret is printed
 * once, after the key. */
#include "controller/cli_internal.h"

#include <inttypes.h>
#include <stdio.h>

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
	if (cli_resolve_user(c, ref, &id) < 0)
		return 1;
	if (json_object_set_new(body, "user_id", json_integer(id)))
		return cli_oom();
	return 0;
}

/* POSTs a new key to path: --user, then what fill adds from the flags
 * (0, or -1 when out of memory); shows the key and its secret (what names
 * its kind). Returns the exit status. */
static int create_key(struct cli *c, const struct flags *f, const char *path,
		      const char *what,
		      int (*fill)(json_t *body, const struct flags *f))
{
	json_t *body = json_object();
	int ret = 1;

	if (!body)
		return cli_oom();
	if (set_user(c, body, f->user))
		goto out;
	if (fill(body, f) < 0) {
		ret = cli_oom();
		goto out;
	}
	ret = cli_call_show(c, "POST", path, body, true, what);
out:
	json_decref(body);
	return ret;
}

static int authkey_fill(json_t *body, const struct flags *f)
{
	json_t *tags;

	if ((f->reusable &&
	     json_object_set_new(body, "reusable", json_true())) ||
	    (f->ephemeral &&
	     json_object_set_new(body, "ephemeral", json_true())) ||
	    cli_set_str(body, "expires_in", f->expires))
		return -1;
	if (!f->tags.n)
		return 0;
	tags = json_array();
	for (size_t i = 0; tags && i < f->tags.n; i++)
		if (json_array_append_new(tags, json_string(f->tags.items[i])))
			break;
	if (!tags || json_array_size(tags) != f->tags.n) {
		json_decref(tags);
		return -1;
	}
	return json_object_set_new(body, "tags", tags);
}

int cli_keys_create(struct cli *c, const struct flags *f, char **pos)
{
	(void)pos;
	return create_key(c, f, "/api/v1/auth-keys", "auth key",
			  authkey_fill);
}

int cli_keys_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};
	char idtext[32];

	(void)pos;
	if (cli_query_user(c, &q, f->user, idtext) < 0)
		return 1;
	if (f->all)
		cli_query_add(&q, "include_revoked", "true");
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

	if (!cli_parse_id(ref, &id)) {
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

int cli_keys_revoke(struct cli *c, const struct flags *f, char **pos)
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

static int apikey_fill(json_t *body, const struct flags *f)
{
	if (cli_set_str(body, "description", f->description) ||
	    cli_set_str(body, "expires_in", f->expires))
		return -1;
	return 0;
}

int cli_apikeys_create(struct cli *c, const struct flags *f, char **pos)
{
	(void)pos;
	return create_key(c, f, "/api/v1/api-keys", "API key", apikey_fill);
}

int cli_apikeys_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};

	(void)f;
	(void)pos;
	return cli_list_cmd(c, "/api/v1/api-keys", &q, apikey_cols,
			NCOLS(apikey_cols));
}

int cli_apikeys_revoke(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return revoke_key(c, "api-keys", "API key", pos[0]);
}
