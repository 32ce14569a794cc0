/* The admin subcommands. Each one builds the request of the REST call it
 * mirrors (docs/api/README.md) and runs it in-process with api_handle_as()
 * as an admin principal "cli:<login>", so validation, audit rows and JSON
 * are the API's own: the CLI adds only argument parsing, name-to-id lookups
 * and output formatting. This file is the command-line front end (the
 * command table, flags, running one command) and the in-process API calls
 * and name lookups every group uses; cli_output.c prints the answers and
 * each command group has a file of its own (cli_internal.h lists them).
 * The CLI prints; the API modules it calls do not. */
#include "controller/cli.h"
#include "controller/cli_internal.h"

#include "controller/api.h"
#include "controller/ctl.h"
#include "controller/store.h"
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

static const char *query_get(void *ctx, const char *key)
{
	const struct query *q = ctx;

	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->key[i], key) == 0)
			return q->val[i];
	return NULL;
}

/* Adds key=val unless val is NULL. */
void cli_query_add(struct query *q, const char *key, const char *val)
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
bool cli_parse_id(const char *s, int64_t *out)
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
int cli_call_text(struct cli *c, const char *method, const char *path,
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
	rc = cli_call_text(c, method, path, q, text, text ? strlen(text) : 0, out);
	free(text);
	return rc;
}

int cli_call_show(struct cli *c, const char *method, const char *path,
		  const json_t *body, bool user, const char *secret)
{
	json_t *out = NULL;
	int ret;

	if (cli_call(c, method, path, NULL, body, &out) < 0)
		return 1;
	ret = cli_show_object(c, out, user);
	if (ret == 0 && secret && !c->json)
		cli_print_secret(out, secret);
	json_decref(out);
	return ret;
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
		cli_query_add(q, "limit", "1000");
		if (cursor[0])
			cli_query_add(q, "cursor", cursor);
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
int cli_resolve_user(struct cli *c, const char *ref, int64_t *id)
{
	struct query q = {0};
	json_t *items = NULL, *u;
	size_t i;
	int rc = -1;

	cli_query_add(&q, "name", ref);
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
	if (cli_parse_id(ref, id)) {
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

	if (cli_parse_id(ref, id))
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

/* Adds user_id=<id of ref> to q when ref (a user name or id) is given;
 * idtext holds the value and must live as long as q. Returns -1 (error
 * printed) when the user does not resolve. */
int cli_query_user(struct cli *c, struct query *q, const char *ref,
		   char idtext[32])
{
	int64_t uid;

	if (!ref)
		return 0;
	if (cli_resolve_user(c, ref, &uid) < 0)
		return -1;
	snprintf(idtext, 32, "%" PRId64, uid);
	cli_query_add(q, "user_id", idtext);
	return 0;
}

/* Sets key to a string in body unless s is NULL. */
int cli_set_str(json_t *body, const char *key, const char *s)
{
	if (!s)
		return 0;
	return json_object_set_new(body, key, json_string(s));
}

static const struct cmd cmds[] = {
	{"users", "create", "NAME", 1, F_DISPLAY_NAME | F_EMAIL | F_ROLE,
	 "create a user", cli_users_create},
	{"users", "list", "", 0, F_NAME, "list users", cli_users_list},
	{"users", "delete", "USER", 1, 0,
	 "delete a user (name or id) and its keys", cli_users_delete},
	{"users", "set-password", "USER", 1, 0,
	 "set a user's login password (read from stdin or a prompt)",
	 cli_users_set_password},
	{"keys", "create", "", 0,
	 F_USER | F_REUSABLE | F_EPHEMERAL | F_TAGS | F_EXPIRES,
	 "create an auth key to register nodes", cli_keys_create},
	{"keys", "list", "", 0, F_USER | F_ALL, "list auth keys",
	 cli_keys_list},
	{"keys", "revoke", "ID", 1, 0, "revoke an auth key", cli_keys_revoke},
	{"apikeys", "create", "", 0, F_USER | F_DESCRIPTION | F_EXPIRES,
	 "create an API key", cli_apikeys_create},
	{"apikeys", "list", "", 0, 0, "list API keys", cli_apikeys_list},
	{"apikeys", "revoke", "ID", 1, 0, "revoke an API key",
	 cli_apikeys_revoke},
	{"nodes", "list", "", 0, F_USER | F_TAG | F_ONLINE, "list nodes",
	 cli_nodes_list},
	{"nodes", "show", "NODE", 1, 0, "show a node (id or name)",
	 cli_nodes_show},
	{"nodes", "rename", "NODE NEWNAME", 2, 0, "rename a node",
	 cli_nodes_rename},
	{"nodes", "tag", "NODE TAGS", 2, 0,
	 "set a node's tags (\"tag:a,tag:b\"; \"\" clears)", cli_nodes_tag},
	{"nodes", "expire", "NODE", 1, 0,
	 "expire a node's key now (it must register again)",
	 cli_nodes_expire},
	{"nodes", "delete", "NODE", 1, 0, "delete a node", cli_nodes_delete},
	{"policy", "get", "", 0, 0,
	 "print the policy document (--json: with version and author)",
	 cli_policy_get},
	{"policy", "set", "FILE", 1, 0,
	 "validate FILE (\"-\" = stdin) and make it the policy",
	 cli_policy_set},
	{"policy", "check", "FILE", 1, 0,
	 "validate FILE and run its tests without saving", cli_policy_check},
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
	 cli_relays_set},
	{"relays", "list", "", 0, 0, "list relays", cli_relays_list},
	{"relays", "delete", "NAME", 1, 0, "delete a relay",
	 cli_relays_delete},
	/* A group without subcommands: the name is empty. */
	{"relay-key", "", "", 0, 0,
	 "print the public key relays verify tokens with (PEM)",
	 cli_relay_key},
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

