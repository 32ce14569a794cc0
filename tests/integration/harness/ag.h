/* weft-agent processes for the integration tests: `weft-agent up
 * --no-tun` against a controller of ih.h, each with its own state
 * directory and local API socket under the test's temporary directory,
 * and the client commands run as the real binary with --json.
 *
 * The binary is $WEFT_AGENT_BIN, else $WEFT_BUILD_DIR/agent/weft-agent.
 * Agents get SIGKILL when the test process dies (PR_SET_PDEATHSIG); start
 * them from the main thread. */
#ifndef WEFT_AG_H
#define WEFT_AG_H

#include "ih.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ag {
	pid_t pid;           /* 0 once it exited and was reaped */
	int exit_status;     /* as ih_del reports it, once reaped */
	char name[64];
	char dir[512];       /* state directory */
	char sock[600];      /* local API socket */
	char log_path[600];  /* its stderr */
};

/* Starts `weft-agent up --controller <h->url> --state-dir <tmp>/agent-NAME
 * --socket ... --no-tun --hostname NAME` plus --auth-key authkey (unless
 * NULL) and the NULL-terminated extra flags (may be NULL). The same name
 * gives the same state directory, so starting it again is a restart.
 * Does not wait for anything. Returns 0 and *out, or a negative code. */
int ag_start(struct ih *h, const char *name, const char *authkey,
	     const char *const *extra, struct ag **out);

/* Runs `weft-agent CMD --json --socket <a->sock>` and parses its stdout.
 * Returns the command's exit status (0 with *json set, caller decrefs),
 * or -1 when it could not be run or printed no JSON. */
int ag_cli(struct ag *a, const char *cmd, json_t **json);

/* Like ag_cli with one positional argument after the flags (arg NULL:
 * none), e.g. `weft-agent ping --json --socket S PEER`. */
int ag_cli_arg(struct ag *a, const char *cmd, const char *arg, json_t **json);

/* Runs `weft-agent CMD --socket <a->sock> [--json] [ARG]` (arg NULL:
 * none) and hands its stdout over as text in *out (malloc'd, caller
 * frees). Returns the command's exit status, or -1 when it could not be
 * run. */
int ag_cli_text(struct ag *a, const char *cmd, const char *arg, bool json,
		char **out);

/* Polls `status` until its state is want ("running") or timeout_ms pass.
 * Returns true when reached. */
bool ag_wait_state(struct ag *a, const char *want, int64_t timeout_ms);

/* Waits up to timeout_ms for the agent to exit. Returns its exit status
 * (also kept in a->exit_status), or -1 while it still runs. */
int ag_wait_exit(struct ag *a, int64_t timeout_ms);

/* Reads the agent's stderr so far (malloc'd, caller frees) or NULL. */
char *ag_log(const struct ag *a);

/* Prints the agent's log to stderr. */
void ag_dump_log(const struct ag *a);

/* Stops the agent (SIGTERM, SIGKILL after 5 s) if it runs and frees a.
 * Returns its exit status. NULL is fine (0). The state directory stays. */
int ag_del(struct ag *a);

#endif
