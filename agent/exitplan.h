/* The exit node's policy routing, computed (docs/connectors.md, "The
 * internet resource"): which connector carries this node's default
 * traffic, the `ip rule` entries and the contents of the agent's own
 * routing table, how they are written for the log, and how the kernel's
 * netlink messages for rules and routes are built and read. Pure: no
 * I/O (agent/exitroute.h installs them, agent/exitnode.h decides when).
 *
 * With the exit on, for each family (IPv4, IPv6):
 *
 *   P:   from all lookup main suppress_prefixlength 0   (LAN access)
 *   P+1: not from all fwmark M/M lookup T
 *
 * and table T holds `default dev <tun>` plus a `throw` route for each
 * bypass address (the controller, the relays), so those fall through to
 * the main table for every process. The agent's own sockets carry mark
 * M: rule P+1 skips them and they use the main table (never the
 * tunnel). Rule P lets the main table's more specific routes win (the
 * LAN, the mesh routes on the TUN); without LAN access
 * (--exit-node-lan=false) it is left out and everything else goes to
 * the tunnel. */
#ifndef WEFT_AGENT_EXITPLAN_H
#define WEFT_AGENT_EXITPLAN_H

#include "agent/map.h"
#include "agent/rtnl.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults of --exit-table, --exit-fwmark and --exit-rule-priority. */
#define EXIT_TABLE_DEFAULT 5745
#define EXIT_FWMARK_DEFAULT 0x1671u /* 5745 */
#define EXIT_PRIORITY_DEFAULT 5745

#define EXIT_MAX_RULES 4         /* two per family */
#define EXIT_MAX_BYPASS 64       /* addresses with a throw route */
#define EXIT_MAX_ROUTES (2 + EXIT_MAX_BYPASS)

struct exit_cfg {
	uint32_t table;     /* T: 1..2^32-1 except 253, 254, 255 */
	uint32_t fwmark;    /* M: the agent's sockets' mark, not 0 */
	uint32_t priority;  /* P (and P+1): 1..32764 */
	bool lan;           /* keep the main table's specific routes */
};

/* A policy-routing rule as the agent reads and writes it: a lookup in
 * table, optionally for packets whose mark (masked) is fwmark (or, with
 * invert, is not), optionally ignoring routes of suppress_prefixlen or
 * shorter. */
struct exit_rule {
	int family;                 /* 4 or 6 */
	uint32_t priority;
	uint32_t table;
	bool invert;
	uint32_t fwmark, fwmask;    /* fwmask 0: no mark match */
	int32_t suppress_prefixlen; /* -1: none */
};

/* A route in one table: through the device oif, or a throw route. */
struct exit_route {
	struct ip_prefix dst;       /* host bits cleared */
	uint32_t table;
	bool is_throw;
	int oif;                    /* 0 for a throw route */
};

/* Checks cfg. Returns 0, or WEFT_ERR_INVAL with the flag and why in err
 * (errlen bytes). */
int exitplan_cfg_check(const struct exit_cfg *cfg, char *err, size_t errlen);

/* The rules to install: out has room for EXIT_MAX_RULES; returns how
 * many (IPv4 first, each family's P before P+1). */
size_t exitplan_rules(const struct exit_cfg *cfg, struct exit_rule *out);

/* Table T's routes: the two default routes through oif, then a throw
 * route (/32, /128) for each address of bypass (duplicates once, family
 * 0 skipped, at most EXIT_MAX_BYPASS). out has room for
 * EXIT_MAX_ROUTES; returns how many. */
size_t exitplan_routes(const struct exit_cfg *cfg, int oif,
		       const struct ip_addr *bypass, size_t nbypass,
		       struct exit_route *out);

/* Whether a rule found in the kernel is one of ours, left by this or an
 * earlier run: at P with lookup main and suppress_prefixlength, or at
 * P+1 with lookup T. */
bool exitplan_rule_ours(const struct exit_cfg *cfg, const struct exit_rule *r);

bool exitplan_rule_eq(const struct exit_rule *a, const struct exit_rule *b);
bool exitplan_route_eq(const struct exit_route *a, const struct exit_route *b);

/* The rule as `ip rule` shows it, e.g. "5746: not from all fwmark
 * 0x1671/0x1671 lookup 5745" (IPv6 alike). Returns 0 or
 * WEFT_ERR_TOOBIG. */
int exitplan_rule_format(const struct exit_rule *r, char *buf, size_t cap);

/* The route, with ifname for oif and the prefix always in full:
 * "0.0.0.0/0 dev weft0 table 5745", "::/0 dev weft0 table 5745",
 * "throw 203.0.113.1/32 table 5745". Returns 0 or WEFT_ERR_TOOBIG. */
int exitplan_route_format(const struct exit_route *r, const char *ifname,
			  char *buf, size_t cap);

/* The netlink request adding (RTM_NEWRULE, RTM_NEWROUTE; create,
 * exclusive) or deleting (RTM_DELRULE, RTM_DELROUTE) r. Returns 0 or
 * WEFT_ERR_INVAL. */
int exitplan_rule_msg(struct rtnl_req *req, const struct exit_rule *r,
		      bool add);
int exitplan_route_msg(struct rtnl_req *req, const struct exit_route *r,
		       bool add);

/* Reads a rule (RTM_NEWRULE of a dump) or a route (RTM_NEWROUTE) from
 * the kernel. Returns 0, WEFT_ERR_PARSE for a malformed message, or
 * WEFT_ERR_UNSUPPORTED for one the agent never makes (another family,
 * a rule that is not a table lookup, a route that is neither unicast nor
 * throw or has several next hops): such entries are never ours. */
int exitplan_parse_rule(const struct nlmsghdr *h, struct exit_rule *out);
int exitplan_parse_route(const struct nlmsghdr *h, struct exit_route *out);

/* Whether this node routes its default traffic through an exit. */
struct exit_pick {
	const struct map_res *res;  /* the internet resource this node may
				     * reach, or NULL */
	bool serves;                /* this node is an exit itself */
};

/* Reads the map: the first internet resource among the node's
 * resources. A node that serves an internet resource itself never
 * routes its own traffic through another exit: res stays NULL and
 * serves is true. Which of the resource's connectors carries the
 * traffic is the per-resource choice of agent/resclient.h, as for any
 * other resource. */
void exitplan_pick(const struct map *m, struct exit_pick *out);

#endif
