/* What the admin subcommands share (internal to controller/cli*.c):
 *
 *   cli.c            the command table, argument parsing, running one
 *                    command; the in-process API calls and name lookups
 *   cli_output.c     tables, key/value views and JSON of the answers
 *   cli_users.c      the `users` group
 *   cli_keys.c       the `keys` and `apikeys` groups
 *   cli_nodes.c      the `nodes` group
 *   cli_policy.c     the `policy` group
 *   cli_relays.c     the `relays` group and `relay-key`
 *   cli_resources.c  the `resources` group
 *   cli_dns.c        the `dns` group */
#ifndef WEFT_CLI_INTERNAL_H
#define WEFT_CLI_INTERNAL_H

#include "controller/api.h"
#include "shared/conf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_QUERY 6

/* Query parameters of one request. */
struct query {
	const char *key[MAX_QUERY];
	const char *val[MAX_QUERY];
	size_t n;
};

struct cli {
	struct api *api;
	struct store *st;
	struct principal who;
	bool json;
	json_t *users; /* {"<id>": "<name>"} for USER columns, or NULL */
};

/* Every flag a subcommand may take; each command picks some by mask. */
struct flags {
	const char *display_name, *email, *role, *name, *user, *description;
	const char *expires, *tag, *region, *address, *pin, *filters;
	const char *new_name;
	struct conf_list tags, connectors;
	bool reusable, ephemeral, all, online, json;
};

enum {
	F_DISPLAY_NAME = 1u << 0,
	F_EMAIL = 1u << 1,
	F_ROLE = 1u << 2,
	F_NAME = 1u << 3,
	F_USER = 1u << 4,
	F_DESCRIPTION = 1u << 5,
	F_EXPIRES = 1u << 6,
	F_TAG = 1u << 7,
	F_TAGS = 1u << 8,
	F_REUSABLE = 1u << 9,
	F_EPHEMERAL = 1u << 10,
	F_ALL = 1u << 11,
	F_ONLINE = 1u << 12,
	F_REGION = 1u << 13,
	F_ADDRESS = 1u << 14,
	F_PIN = 1u << 15,
	F_FILTERS = 1u << 16,
	F_CONNECTORS = 1u << 17,
	F_NEW_NAME = 1u << 18,
};
#define NFLAGS 19

struct cmd {
	const char *group;
	const char *name;
	const char *args; /* positional part of the usage line */
	int npos;         /* exact number of positional arguments */
	unsigned flags;
	const char *summary;
	/* Returns the exit status: 0, 1 (failed) or 2 (bad usage). */
	int (*fn)(struct cli *c, const struct flags *f, char **pos);
};

/* Table columns: a JSON key of each item; user columns show the name of
 * the user whose id the key holds. */
struct col {
	const char *head;
	const char *key;
	bool user;
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

/* "out of memory" on stderr; returns 1 (the exit status). */
int cli_oom(void);

/* --- cli.c: calls and lookups --- */

/* Adds key=val to q unless val is NULL (or q is full). key and val are
 * borrowed for as long as q is used. */
void cli_query_add(struct query *q, const char *key, const char *val);

/* A positive decimal id, nothing else. */
bool cli_parse_id(const char *s, int64_t *out);

/* Runs one API call with body as the request's text (borrowed; NULL for
 * none). On a 2xx answer returns 0 and, when out is not NULL, hands the
 * answer's JSON (NULL for 204) to the caller. Otherwise prints the API's
 * error message and returns -1. */
int cli_call_text(struct cli *c, const char *method, const char *path,
		  struct query *q, const char *body, size_t body_len,
		  json_t **out);

/* Runs one API call with a JSON body (NULL for none). On a 2xx answer
 * returns 0 and, when out is not NULL, hands the answer's JSON (NULL for
 * 204) to the caller. Otherwise prints the API's error and returns -1. */
int cli_call(struct cli *c, const char *method, const char *path,
	     struct query *q, const json_t *body, json_t **out);

/* Runs one API call (cli_call) and shows the object it answers
 * (cli_show_object; user: with the user's name), followed by its one-time
 * secret when secret names the kind of key (cli_print_secret). Returns
 * the exit status. */
int cli_call_show(struct cli *c, const char *method, const char *path,
		  const json_t *body, bool user, const char *secret);

/* GETs every page of a collection into *out (a JSON array the caller
 * owns). Returns 0 or -1 (error printed). */
int cli_fetch_all(struct cli *c, const char *path, struct query *q,
		  json_t **out);

/* Finds a node by id when ref is a number, else by exact name. Returns 0
 * or -1 (error printed). */
int cli_resolve_node(struct cli *c, const char *ref, int64_t *id);

/* Finds a user by exact name, or else by id when ref is a number (a name
 * wins over an id, since "42" is a valid user name). Returns 0 or -1
 * (error printed). */
int cli_resolve_user(struct cli *c, const char *ref, int64_t *id);

/* Adds user_id=<id of ref> to q when ref (a user name or id) is given;
 * idtext holds the value and must live as long as q. Returns -1 (error
 * printed) when the user does not resolve. */
int cli_query_user(struct cli *c, struct query *q, const char *ref,
		   char idtext[32]);

/* Sets key to a string in body unless s is NULL; 0 or -1. */
int cli_set_str(json_t *body, const char *key, const char *s);

/* --- cli_output.c --- */

/* Prints one object (JSON with --json); user: resolve user_id. Returns
 * the exit status. */
int cli_show_object(struct cli *c, const json_t *o, bool user);

/* GETs every page of path and prints the rows. Returns the exit status. */
int cli_list_cmd(struct cli *c, const char *path, struct query *q,
		 const struct col *cols, size_t ncol);

/* Prints v as indented JSON; returns the exit status. */
int cli_print_json(const json_t *v);

/* Prints the one-time secret "key" of a new key o, with a warning that it
 * is shown only once; what names the kind of key. Nothing without one. */
void cli_print_secret(const json_t *o, const char *what);

/* --- the command groups: each returns the exit status --- */

/* The `users` group (cli_users.c). */
int cli_users_create(struct cli *c, const struct flags *f, char **pos);
int cli_users_list(struct cli *c, const struct flags *f, char **pos);
int cli_users_delete(struct cli *c, const struct flags *f, char **pos);
int cli_users_set_password(struct cli *c, const struct flags *f,
			   char **pos);

/* The `keys` and `apikeys` groups (cli_keys.c). */
int cli_keys_create(struct cli *c, const struct flags *f, char **pos);
int cli_keys_list(struct cli *c, const struct flags *f, char **pos);
int cli_keys_revoke(struct cli *c, const struct flags *f, char **pos);
int cli_apikeys_create(struct cli *c, const struct flags *f, char **pos);
int cli_apikeys_list(struct cli *c, const struct flags *f, char **pos);
int cli_apikeys_revoke(struct cli *c, const struct flags *f, char **pos);

/* The `nodes` group (cli_nodes.c). */
int cli_nodes_list(struct cli *c, const struct flags *f, char **pos);
int cli_nodes_show(struct cli *c, const struct flags *f, char **pos);
int cli_nodes_rename(struct cli *c, const struct flags *f, char **pos);
int cli_nodes_tag(struct cli *c, const struct flags *f, char **pos);
int cli_nodes_expire(struct cli *c, const struct flags *f, char **pos);
int cli_nodes_delete(struct cli *c, const struct flags *f, char **pos);

/* The `policy` group (cli_policy.c). */
int cli_policy_get(struct cli *c, const struct flags *f, char **pos);
int cli_policy_set(struct cli *c, const struct flags *f, char **pos);
int cli_policy_check(struct cli *c, const struct flags *f, char **pos);

/* The `relays` group and `relay-key` (cli_relays.c). */
int cli_relays_set(struct cli *c, const struct flags *f, char **pos);
int cli_relays_list(struct cli *c, const struct flags *f, char **pos);
int cli_relays_delete(struct cli *c, const struct flags *f, char **pos);
int cli_relay_key(struct cli *c, const struct flags *f, char **pos);

/* The `resources` group (cli_resources.c). */
int cli_resources_list(struct cli *c, const struct flags *f, char **pos);
int cli_resources_show(struct cli *c, const struct flags *f, char **pos);
int cli_resources_create(struct cli *c, const struct flags *f, char **pos);
int cli_resources_update(struct cli *c, const struct flags *f, char **pos);
int cli_resources_delete(struct cli *c, const struct flags *f, char **pos);

/* The `dns` group (cli_dns.c). */
int cli_dns_show(struct cli *c, const struct flags *f, char **pos);
int cli_dns_set(struct cli *c, const struct flags *f, char **pos);

#endif
