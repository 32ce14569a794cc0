/* Human-readable output of the client commands (`weft-agent status`,
 * `peers`, `routes`): the local API's JSON answers as short reports and
 * aligned tables. */
#ifndef WEFT_AGENT_CLI_H
#define WEFT_AGENT_CLI_H

#include <jansson.h>
#include <stdio.h>

/* Print the answer of the named command to out. An answer of another
 * shape prints what it can. Return 0 or -EIO when writing failed. */
int cli_print_status(const json_t *ans, FILE *out);
int cli_print_peers(const json_t *ans, FILE *out);
int cli_print_routes(const json_t *ans, FILE *out);

/* `forward list`: the answer's "forwards" as a table, or "no forwards". */
int cli_print_forwards(const json_t *ans, FILE *out);

/* `resolve`: "NAME IPV4 IPV6 (resource NAME, TYPE)". Returns 0. */
int cli_print_resolve(const json_t *a, FILE *out);

#endif
