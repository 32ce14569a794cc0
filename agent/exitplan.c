/* The exit node's rules and table, computed: see exitplan.h. */
#include "agent/exitplan.h"

#include "shared/err.h"

#include <linux/fib_rules.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int exitplan_cfg_check(const struct exit_cfg *cfg, char *err, size_t errlen)
{
	const char *why = NULL;

	if (cfg->table == 0 || cfg->table == RT_TABLE_DEFAULT ||
	    cfg->table == RT_TABLE_MAIN || cfg->table == RT_TABLE_LOCAL)
		why = "--exit-table must not be 0, 253 (default), 254 (main) "
		      "or 255 (local)";
	else if (cfg->fwmark == 0)
		why = "--exit-fwmark must not be 0 (unmarked packets carry 0)";
	else if (cfg->priority == 0 || cfg->priority > 32764)
		why = "--exit-rule-priority must be 1..32764 (it and the next "
		      "one come before the main table's rule, 32766)";
	if (!why)
		return 0;
	snprintf(err, errlen, "%s", why);
	return WEFT_ERR_INVAL;
}

size_t exitplan_rules(const struct exit_cfg *cfg, struct exit_rule *out)
{
	static const int fams[] = {4, 6};
	size_t n = 0, i;

	for (i = 0; i < 2; i++) {
		if (cfg->lan)
			out[n++] = (struct exit_rule){
				.family = fams[i], .priority = cfg->priority,
				.table = RT_TABLE_MAIN,
				.suppress_prefixlen = 0};
		out[n++] = (struct exit_rule){
			.family = fams[i], .priority = cfg->priority + 1,
			.table = cfg->table, .invert = true,
			.fwmark = cfg->fwmark, .fwmask = cfg->fwmark,
			.suppress_prefixlen = -1};
	}
	return n;
}

bool exitplan_route_eq(const struct exit_route *a, const struct exit_route *b)
{
	return a->table == b->table && a->is_throw == b->is_throw &&
	       a->oif == b->oif && a->dst.len == b->dst.len &&
	       ip_addr_eq(&a->dst.addr, &b->dst.addr);
}

static bool route_in(const struct exit_route *v, size_t n,
		     const struct exit_route *r)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (exitplan_route_eq(&v[i], r))
			return true;
	return false;
}

size_t exitplan_routes(const struct exit_cfg *cfg, int oif,
		       const struct ip_addr *bypass, size_t nbypass,
		       struct exit_route *out)
{
	size_t n = 0, i;

	memset(out, 0, 2 * sizeof(*out));
	out[0].dst.addr.family = 4;
	out[1].dst.addr.family = 6;
	for (i = 0; i < 2; i++) {
		out[i].table = cfg->table;
		out[i].oif = oif;
	}
	n = 2;
	for (i = 0; i < nbypass && n < EXIT_MAX_ROUTES; i++) {
		struct exit_route r = {.table = cfg->table, .is_throw = true};

		if (bypass[i].family != 4 && bypass[i].family != 6)
			continue;
		r.dst.addr = bypass[i];
		r.dst.len = bypass[i].family == 4 ? 32 : 128;
		if (!route_in(out, n, &r))
			out[n++] = r;
	}
	return n;
}

bool exitplan_rule_ours(const struct exit_cfg *cfg, const struct exit_rule *r)
{
	if (r->priority == cfg->priority)
		return r->table == RT_TABLE_MAIN && r->suppress_prefixlen >= 0;
	return r->priority == cfg->priority + 1 && r->table == cfg->table;
}

bool exitplan_rule_eq(const struct exit_rule *a, const struct exit_rule *b)
{
	return a->family == b->family && a->priority == b->priority &&
	       a->table == b->table && a->invert == b->invert &&
	       a->fwmask == b->fwmask &&
	       (!a->fwmask || a->fwmark == b->fwmark) &&
	       a->suppress_prefixlen == b->suppress_prefixlen;
}

static const char *table_name(uint32_t t, char *buf, size_t cap)
{
	if (t == RT_TABLE_MAIN)
		return "main";
	if (t == RT_TABLE_LOCAL)
		return "local";
	if (t == RT_TABLE_DEFAULT)
		return "default";
	snprintf(buf, cap, "%u", (unsigned)t);
	return buf;
}

int exitplan_rule_format(const struct exit_rule *r, char *buf, size_t cap)
{
	char mark[32] = "", sup[40] = "", tb[16];
	int n;

	if (r->fwmask)
		snprintf(mark, sizeof(mark), " fwmark 0x%x/0x%x",
			 (unsigned)r->fwmark, (unsigned)r->fwmask);
	if (r->suppress_prefixlen >= 0)
		snprintf(sup, sizeof(sup), " suppress_prefixlength %d",
			 (int)r->suppress_prefixlen);
	n = snprintf(buf, cap, "%u: %sfrom all%s lookup %s%s",
		     (unsigned)r->priority, r->invert ? "not " : "", mark,
		     table_name(r->table, tb, sizeof(tb)), sup);
	return n < 0 || (size_t)n >= cap ? WEFT_ERR_TOOBIG : 0;
}

int exitplan_route_format(const struct exit_route *r, const char *ifname,
			  char *buf, size_t cap)
{
	char p[IP_PREFIX_STRLEN] = "?", tb[16];
	int n;

	ip_prefix_format(&r->dst, p, sizeof(p));
	if (r->is_throw)
		n = snprintf(buf, cap, "throw %s table %s", p,
			     table_name(r->table, tb, sizeof(tb)));
	else
		n = snprintf(buf, cap, "%s dev %s table %s", p,
			     ifname ? ifname : "?",
			     table_name(r->table, tb, sizeof(tb)));
	return n < 0 || (size_t)n >= cap ? WEFT_ERR_TOOBIG : 0;
}

static uint8_t af(int family)
{
	return family == 4 ? AF_INET : AF_INET6;
}

int exitplan_rule_msg(struct rtnl_req *req, const struct exit_rule *r,
		      bool add)
{
	struct fib_rule_hdr *f;
	uint32_t sup;
	int rc;

	if (r->family != 4 && r->family != 6)
		return WEFT_ERR_INVAL;
	f = rtnl_init(req, add ? RTM_NEWRULE : RTM_DELRULE,
		      add ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof(*f));
	f->family = af(r->family);
	f->action = FR_ACT_TO_TBL;
	f->table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	if (r->invert)
		f->flags |= FIB_RULE_INVERT;
	rc = rtnl_attr(req, FRA_PRIORITY, &r->priority, sizeof(r->priority));
	if (rc == 0)
		rc = rtnl_attr(req, FRA_TABLE, &r->table, sizeof(r->table));
	if (rc == 0 && r->fwmask) {
		rc = rtnl_attr(req, FRA_FWMARK, &r->fwmark, sizeof(r->fwmark));
		if (rc == 0)
			rc = rtnl_attr(req, FRA_FWMASK, &r->fwmask,
				       sizeof(r->fwmask));
	}
	if (rc == 0 && r->suppress_prefixlen >= 0) {
		sup = (uint32_t)r->suppress_prefixlen;
		rc = rtnl_attr(req, FRA_SUPPRESS_PREFIXLEN, &sup, sizeof(sup));
	}
	return rc < 0 ? WEFT_ERR_INVAL : 0;
}

int exitplan_route_msg(struct rtnl_req *req, const struct exit_route *r,
		       bool add)
{
	struct rtmsg *rt;
	struct ip_prefix m = r->dst;
	uint32_t oif = (uint32_t)r->oif;
	size_t alen;
	int rc = 0;

	if ((m.addr.family != 4 || m.len > 32) &&
	    (m.addr.family != 6 || m.len > 128))
		return WEFT_ERR_INVAL;
	if (!r->is_throw && r->oif <= 0)
		return WEFT_ERR_INVAL;
	ip_prefix_mask(&m);
	alen = m.addr.family == 4 ? 4 : 16;
	rt = rtnl_init(req, add ? RTM_NEWROUTE : RTM_DELROUTE,
		       add ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof(*rt));
	rt->rtm_family = af(m.addr.family);
	rt->rtm_dst_len = m.len;
	rt->rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	rt->rtm_protocol = RTPROT_STATIC;
	rt->rtm_scope = r->is_throw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rt->rtm_type = r->is_throw ? RTN_THROW : RTN_UNICAST;
	if (m.len)
		rc = rtnl_attr(req, RTA_DST, m.addr.b, alen);
	if (rc == 0)
		rc = rtnl_attr(req, RTA_TABLE, &r->table, sizeof(r->table));
	if (rc == 0 && !r->is_throw)
		rc = rtnl_attr(req, RTA_OIF, &oif, sizeof(oif));
	return rc < 0 ? WEFT_ERR_INVAL : 0;
}

/* A u32 attribute, or dflt without it; WEFT_ERR_PARSE for a short one. */
static int attr_u32(const struct rtattr *a, uint32_t dflt, uint32_t *out)
{
	*out = dflt;
	if (!a)
		return 0;
	if (RTA_PAYLOAD(a) < sizeof(*out))
		return WEFT_ERR_PARSE;
	memcpy(out, RTA_DATA(a), sizeof(*out));
	return 0;
}

static int family_of(uint8_t f)
{
	return f == AF_INET ? 4 : f == AF_INET6 ? 6 : 0;
}

int exitplan_parse_rule(const struct nlmsghdr *h, struct exit_rule *out)
{
	struct rtattr *tb[FRA_MAX + 1];
	struct fib_rule_hdr f;
	uint32_t sup;
	int rc;

	memset(out, 0, sizeof(*out));
	if (h->nlmsg_type != RTM_NEWRULE)
		return WEFT_ERR_UNSUPPORTED;
	rc = rtnl_parse(h, sizeof(f), tb, FRA_MAX);
	if (rc < 0)
		return rc;
	memcpy(&f, NLMSG_DATA(h), sizeof(f));
	out->family = family_of(f.family);
	out->invert = (f.flags & FIB_RULE_INVERT) != 0;
	if (attr_u32(tb[FRA_TABLE], f.table, &out->table) < 0 ||
	    attr_u32(tb[FRA_PRIORITY], 0, &out->priority) < 0 ||
	    attr_u32(tb[FRA_FWMARK], 0, &out->fwmark) < 0 ||
	    attr_u32(tb[FRA_FWMASK], tb[FRA_FWMARK] ? 0xffffffffu : 0,
		     &out->fwmask) < 0 ||
	    attr_u32(tb[FRA_SUPPRESS_PREFIXLEN], 0xffffffffu, &sup) < 0)
		return WEFT_ERR_PARSE;
	/* The kernel reports a mark of 0 with mask 0 as no mark at all. */
	if (!out->fwmask)
		out->fwmark = 0;
	out->suppress_prefixlen = sup > 128 ? -1 : (int32_t)sup;
	if (!out->family || f.action != FR_ACT_TO_TBL)
		return WEFT_ERR_UNSUPPORTED;
	return 0;
}

int exitplan_parse_route(const struct nlmsghdr *h, struct exit_route *out)
{
	struct rtattr *tb[RTA_MAX + 1];
	struct rtmsg rt;
	size_t alen;
	uint32_t oif;
	int rc;

	memset(out, 0, sizeof(*out));
	if (h->nlmsg_type != RTM_NEWROUTE)
		return WEFT_ERR_UNSUPPORTED;
	rc = rtnl_parse(h, sizeof(rt), tb, RTA_MAX);
	if (rc < 0)
		return rc;
	memcpy(&rt, NLMSG_DATA(h), sizeof(rt));
	out->dst.addr.family = (uint8_t)family_of(rt.rtm_family);
	alen = out->dst.addr.family == 4 ? 4 : 16;
	if (attr_u32(tb[RTA_TABLE], rt.rtm_table, &out->table) < 0 ||
	    attr_u32(tb[RTA_OIF], 0, &oif) < 0)
		return WEFT_ERR_PARSE;
	out->oif = (int)oif;
	if (tb[RTA_DST] && RTA_PAYLOAD(tb[RTA_DST]) != alen)
		return WEFT_ERR_PARSE;
	if (!out->dst.addr.family || rt.rtm_dst_len > alen * 8)
		return WEFT_ERR_UNSUPPORTED;
	if (tb[RTA_DST])
		memcpy(out->dst.addr.b, RTA_DATA(tb[RTA_DST]), alen);
	out->dst.len = rt.rtm_dst_len;
	ip_prefix_mask(&out->dst);
	out->is_throw = rt.rtm_type == RTN_THROW;
	if (out->is_throw)
		out->oif = 0; /* a throw route goes nowhere */
	if (tb[RTA_MULTIPATH] ||
	    (rt.rtm_type != RTN_UNICAST && rt.rtm_type != RTN_THROW))
		return WEFT_ERR_UNSUPPORTED;
	return 0;
}

void exitplan_pick(const struct map *m, struct exit_pick *out)
{
	const struct map_res *res, *serves;
	size_t nres, nserves, i;

	memset(out, 0, sizeof(*out));
	serves = map_serves(m, &nserves);
	for (i = 0; i < nserves; i++)
		if (serves[i].type == MAP_RES_INTERNET) {
			out->serves = true;
			return;
		}
	res = map_resources(m, &nres);
	for (i = 0; i < nres && !out->res; i++)
		if (res[i].type == MAP_RES_INTERNET)
			out->res = &res[i];
}
