/* The local API's commands (docs/agent.md): "status", "peers", "routes",
 * "ping", "ping_result", "resolve", "forward_add", "forward_list",
 * "forward_remove" and "down", answered from the daemon's view.
 * Runs on the loop thread. */
#ifndef WEFT_AGENT_COMMANDS_H
#define WEFT_AGENT_COMMANDS_H

#include <jansson.h>

/* A localapi_handler with ctx = a struct agent_view (borrowed, must
 * outlive the local API): returns the new answer, or NULL when out of
 * memory. "down" stops the view's loop. */
json_t *commands_handle(const char *cmd, const json_t *req, void *ctx);

#endif
