/* The admin subcommands of weft-controller (users, keys, apikeys, nodes,
 * policy, relay-key).
 * Each one opens the database named by --data-dir/--db and runs the same
 * code path as the REST call it mirrors (api_handle_as with a "cli:<user>"
 * principal), so validation, audit rows and JSON output are identical.
 * Output is a table for people, or the API's JSON with --json. */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include <stdbool.h>

/* True when cmd names an admin subcommand group. */
bool cli_has(const char *cmd);

/* Runs `argv[0] argv[1] ...` (argv[0] is the group: "users", ...). Returns
 * the process exit status: 0 ok, 1 the operation failed, 2 bad usage. */
int cli_main(int argc, char **argv);

#endif
