/* The exit node on a client (docs/connectors.md, "The internet resource
 * (exit node)"): when the map grants this node an internet resource, its
 * default traffic goes into the TUN and on to the chosen connector,
 * while the controller, the relays and everything the agent sends itself
 * stay outside the tunnel. agent/exitplan.h has the rules and the table;
 * this module decides when they are in place, installs them
 * (agent/exitroute.h), removes them when the grant goes away and when
 * the agent stops, and removes what a crashed run left behind at start.
 * Every change is logged once (event=exit_*).
 *
 * Needs CAP_NET_ADMIN (kept after the privilege drop). Resolves the
 * controller's and the relays' host names with a blocking getaddrinfo
 * when the exit turns on and when the relay list changes. Runs on the
 * loop thread. */
#ifndef WEFT_AGENT_EXITNODE_H
#define WEFT_AGENT_EXITNODE_H

#include "agent/exitplan.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct map;
struct exitnode;

struct exitnode_cfg {
	struct exit_cfg plan;
	const char *tun;        /* the agent's TUN device, required */
	const char *controller; /* base URL: its host bypasses the tunnel */
	/* The mark the agent's UDP socket really carries (0: setting it
	 * failed): without it the exit stays off, or the agent's own
	 * packets would loop into the tunnel. */
	uint32_t sock_mark;
};

/* Creates an exit node that is off (touches nothing). cfg is copied.
 * Returns 0 and *out, WEFT_ERR_INVAL (no such TUN), WEFT_ERR_NOMEM. */
int exitnode_new(const struct exitnode_cfg *cfg, struct exitnode **out);

/* Turns the exit off (restoring the routing as it was) and frees x.
 * NULL is fine. */
void exitnode_del(struct exitnode *x);

/* Removes the rules (at the configured priorities, see
 * exitplan_rule_ours) and every route of the configured table that an
 * earlier run left, logging each (event=exit_stale_removed). Call once
 * at start, before the first map. */
void exitnode_cleanup(struct exitnode *x);

/* Brings the routing in line with the map m: on while m grants an
 * internet resource that this node does not serve, off otherwise; the
 * throw routes follow the relays when relays_changed. Which connector
 * the default traffic reaches is the data plane's business: the
 * internet resource's 0.0.0.0/0 and ::/0 go to the connector
 * agent/resclient.h chose for it, like any resource's prefixes (none
 * online: refused with ICMP unreachable, never sent outside the
 * tunnel). */
void exitnode_update(struct exitnode *x, const struct map *m,
		     bool relays_changed);

/* The id of the internet resource the exit is on for, 0 while off. */
int64_t exitnode_resource(const struct exitnode *x);

/* For `weft-agent status`: {"active", "resource", "lan", "table",
 * "fwmark", "priority", "rules": [...], "routes": [...],
 * "stale_removed"} (the status command adds the connector). New
 * reference or NULL (out of memory). */
json_t *exitnode_json(const struct exitnode *x);

#endif
