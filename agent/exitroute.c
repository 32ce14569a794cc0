/* The exit node's rules and routes in the kernel: see exitroute.h. */
#include "agent/exitroute.h"

#include "shared/err.h"

#include <errno.h>
#include <sys/socket.h>

int exitroute_rule(const struct exit_rule *r, bool add)
{
	struct rtnl_req req;
	int rc = exitplan_rule_msg(&req, r, add);

	return rc < 0 ? rc : rtnl_talk(&req, NULL);
}

int exitroute_route(const struct exit_route *r, bool add)
{
	struct rtnl_req req;
	int rc = exitplan_route_msg(&req, r, add);

	return rc < 0 ? rc : rtnl_talk(&req, NULL);
}

struct find_ctx {
	const struct exit_cfg *cfg;
	struct exitroute_found *f;
};

static int on_rule(const struct nlmsghdr *h, void *arg)
{
	struct find_ctx *c = arg;
	struct exit_rule r;

	if (exitplan_parse_rule(h, &r) < 0 || !exitplan_rule_ours(c->cfg, &r))
		return 0;
	if (c->f->n < c->f->cap)
		c->f->rules[c->f->n++] = r;
	else
		c->f->more = true;
	return 0;
}

static int on_route(const struct nlmsghdr *h, void *arg)
{
	struct find_ctx *c = arg;
	struct exit_route r;

	if (exitplan_parse_route(h, &r) < 0 || r.table != c->cfg->table)
		return 0;
	if (c->f->nroutes < c->f->rcap)
		c->f->routes[c->f->nroutes++] = r;
	else
		c->f->more = true;
	return 0;
}

int exitroute_find(const struct exit_cfg *cfg, struct exitroute_found *f)
{
	static const uint8_t fams[] = {AF_INET, AF_INET6};
	struct find_ctx c = {.cfg = cfg, .f = f};
	size_t i;
	int rc;

	f->n = f->nroutes = 0;
	f->more = false;
	for (i = 0; i < sizeof(fams); i++) {
		rc = rtnl_dump(RTM_GETRULE, fams[i], on_rule, &c);
		/* A kernel without IPv6 has no IPv6 rules to find. */
		if (rc == -EAFNOSUPPORT && fams[i] == AF_INET6)
			continue;
		if (rc == 0)
			rc = rtnl_dump(RTM_GETROUTE, fams[i], on_route, &c);
		if (rc < 0)
			return rc;
	}
	return 0;
}
