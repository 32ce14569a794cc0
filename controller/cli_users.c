/* The `users` group of the admin CLI: create, list, delete and
 * set-password, through /api/v1/users (docs/api/README.md). */
#include "controller/cli_internal.h"

#include "controller/passwd.h"
#include "controller/pwread.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct col user_cols[] = {
	{"ID", "id", false},
	{"NAME", "name", false},
	{"ROLE", "role", false},
	{"DISPLAY NAME", "display_name", false},
	{"EMAIL", "email", false},
	{"CREATED", "created_at", false},
};

int cli_users_create(struct cli *c, const struct flags *f, char **pos)
{
	json_t *body = json_object();
	int ret;

	if (!body || cli_set_str(body, "name", pos[0]) ||
	    cli_set_str(body, "display_name", f->display_name) ||
	    cli_set_str(body, "email", f->email) ||
	    cli_set_str(body, "role", f->role))
		ret = cli_oom();
	else
		ret = cli_call_show(c, "POST", "/api/v1/users", body, false,
				    NULL);
	json_decref(body);
	return ret;
}

int cli_users_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};

	(void)pos;
	cli_query_add(&q, "name", f->name);
	return cli_list_cmd(c, "/api/v1/users", &q, user_cols, NCOLS(user_cols));
}

int cli_users_delete(struct cli *c, const struct flags *f, char **pos)
{
	char path[64];
	int64_t id;

	(void)f;
	if (cli_resolve_user(c, pos[0], &id) < 0)
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
int cli_users_set_password(struct cli *c, const struct flags *f,
			   char **pos)
{
	char pw[PASSWD_MAX + 2], path[64];
	json_t *body = NULL;
	char *text = NULL;
	int64_t id;
	int ret = 1;

	(void)f;
	if (cli_resolve_user(c, pos[0], &id) < 0)
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
	if (cli_call_text(c, "PUT", path, NULL, text, strlen(text), NULL) < 0)
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

