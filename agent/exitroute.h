/* The exit node's rules and table routes in the kernel (agent/exitplan.h
 * says what they are): added, removed, and found again after a crash,
 * over rtnetlink (agent/rtnl.h). Needs CAP_NET_ADMIN for changes. Never
 * logs (agent/exitnode.c does). Linux only. */
#ifndef WEFT_AGENT_EXITROUTE_H
#define WEFT_AGENT_EXITROUTE_H

#include "agent/exitplan.h"

#include <stdbool.h>
#include <stddef.h>

/* Adds (NLM_F_EXCL) or deletes one rule or route. Returns 0 or the
 * kernel's -errno (-EEXIST: already there; -ENOENT / -ESRCH: not there),
 * WEFT_ERR_INVAL, WEFT_ERR_TIMEOUT. */
int exitroute_rule(const struct exit_rule *r, bool add);
int exitroute_route(const struct exit_route *r, bool add);

/* What is in the kernel now: the rules of both families that are ours
 * (exitplan_rule_ours) into rules (cap entries), every route of both
 * families in cfg->table into routes (rcap). Entries beyond the caps are
 * left out (*more set). Returns 0 or a dump error. */
struct exitroute_found {
	struct exit_rule *rules;
	size_t cap, n;
	struct exit_route *routes;
	size_t rcap, nroutes;
	bool more;
};

int exitroute_find(const struct exit_cfg *cfg, struct exitroute_found *f);

#endif
