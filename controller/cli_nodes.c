/* The `nodes` group of the admin CLI: list, show, rename, tag, expire
 * and delete through /api/v1/nodes; a node is named by id or name. */
#include "controller/cli_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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

int cli_nodes_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};
	char idtext[32];

	(void)pos;
	if (cli_query_user(c, &q, f->user, idtext) < 0)
		return 1;
	cli_query_add(&q, "tag", f->tag);
	if (f->online)
		cli_query_add(&q, "online", "true");
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

int cli_nodes_show(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return node_call(c, pos[0], "GET", "", NULL);
}

/* PATCHes the node with body (NULL: out of memory), which it frees. */
static int node_patch(struct cli *c, const char *ref, json_t *body)
{
	int ret;

	if (!body)
		return cli_oom();
	ret = node_call(c, ref, "PATCH", "", body);
	json_decref(body);
	return ret;
}

int cli_nodes_rename(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return node_patch(c, pos[0], json_pack("{s:s}", "name", pos[1]));
}

int cli_nodes_tag(struct cli *c, const struct flags *f, char **pos)
{
	json_t *tags = split_tags(pos[1]);

	(void)f;
	return node_patch(c, pos[0],
			  tags ? json_pack("{s:o}", "tags", tags) : NULL);
}

int cli_nodes_expire(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return node_call(c, pos[0], "POST", "/expire", NULL);
}

int cli_nodes_delete(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return node_call(c, pos[0], "DELETE", "", NULL);
}
