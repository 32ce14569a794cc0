/* What the admin subcommands share (internal to controller/cli*.c):
 * cli.c holds the command table, argument parsing and output, and the
 * commands of most groups; cli_resources.c the `resources` group,
 * cli_dns.c the `dns` group. */
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

/* Runs one API call with a JSON body (NULL for none). On a 2xx answer
 * returns 0 and, when out is not NULL, hands the answer's JSON (NULL for
 * 204) to the caller. Otherwise prints the API's error and returns -1. */
int cli_call(struct cli *c, const char *method, const char *path,
	     struct query *q, const json_t *body, json_t **out);

/* GETs every page of a collection into *out (a JSON array the caller
 * owns). Returns 0 or -1 (error printed). */
int cli_fetch_all(struct cli *c, const char *path, struct query *q,
		  json_t **out);

/* Finds a node by id when ref is a number, else by exact name. Returns 0
 * or -1 (error printed). */
int cli_resolve_node(struct cli *c, const char *ref, int64_t *id);

/* Prints one object (JSON with --json); user: resolve user_id. Returns
 * the exit status. */
int cli_show_object(struct cli *c, const json_t *o, bool user);

/* GETs every page of path and prints the rows. Returns the exit status. */
int cli_list_cmd(struct cli *c, const char *path, struct query *q,
		 const struct col *cols, size_t ncol);

/* Sets key to a string in body unless s is NULL; 0 or -1. */
int cli_set_str(json_t *body, const char *key, const char *s);

/* Prints v as indented JSON; returns the exit status. */
int cli_print_json(const json_t *v);

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
