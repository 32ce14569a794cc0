/* The stub's answers from the map (agent/dnsanswer.h). Node names are
 * found by a scan of the peers: only names under the mesh suffix (and
 * bare names with search on) get there, and the scan is a string compare
 * per peer. */
#include "agent/dnsanswer.h"

#include "agent/wildcard.h"
#include "shared/err.h"
#include "shared/name.h"

#include <stdio.h>
#include <string.h>

static void add_addr(struct dnsanswer *out, uint16_t qtype,
		     const struct ip_addr *a)
{
	uint16_t t = a->family == 4 ? DNSANSWER_T_A : DNSANSWER_T_AAAA;

	if (!a->family || out->nrr >= DNSANSWER_MAX_RR ||
	    (qtype != t && qtype != DNSANSWER_T_ANY))
		return;
	out->rr[out->nrr].type = t;
	out->rr[out->nrr].addr = *a;
	out->nrr++;
}

static void add_ptr(struct dnsanswer *out, const char *name,
		    const char *suffix)
{
	struct dnsanswer_rr *rr = &out->rr[0];

	rr->type = DNSANSWER_T_PTR;
	if (suffix)
		snprintf(rr->ptr, sizeof(rr->ptr), "%s.%s", name, suffix);
	else
		snprintf(rr->ptr, sizeof(rr->ptr), "%s", name);
	out->nrr = 1;
}

static void local(struct dnsanswer *out, int rcode)
{
	out->action = DNSANSWER_LOCAL;
	out->rcode = rcode;
	out->ttl = DNSANSWER_TTL;
}

/* The node (self or a peer) called label: its addresses into out.
 * Returns whether there is one. */
static bool answer_node(const struct map *m, const char *label,
			uint16_t qtype, struct dnsanswer *out)
{
	const struct map_self *self = map_self(m);
	const struct map_peer *const *peers;
	size_t n;

	if (self && self->name && strcmp(self->name, label) == 0) {
		add_addr(out, qtype, &self->ipv4);
		add_addr(out, qtype, &self->ipv6);
		return true;
	}
	peers = map_peers(m, &n);
	for (size_t i = 0; i < n; i++) {
		if (peers[i]->name && strcmp(peers[i]->name, label) == 0) {
			add_addr(out, qtype, &peers[i]->ipv4);
			add_addr(out, qtype, &peers[i]->ipv6);
			return true;
		}
	}
	return false;
}

/* A DNS resource whose real name is name: its mapped addresses. */
static bool answer_resource(const struct map *m, const char *name,
			    uint16_t qtype, struct dnsanswer *out)
{
	size_t n;
	const struct map_res *r = map_resources(m, &n);

	for (size_t i = 0; i < n; i++) {
		if (r[i].type != MAP_RES_DNS || strcmp(r[i].address, name))
			continue;
		for (size_t k = 0; k < r[i].nprefixes; k++)
			add_addr(out, qtype, &r[i].prefixes[k].addr);
		return true;
	}
	return false;
}

/* A name under a wildcard resource: its addresses from cfg->wildcard.
 * Returns whether name is one (and out the answer). */
static bool answer_wildcard(const struct map *m,
			    const struct dnsanswer_cfg *cfg, const char *name,
			    uint16_t qtype, struct dnsanswer *out)
{
	size_t n, i;
	const struct map_res *r = map_resources(m, &n);
	struct ip_addr v4, v6;

	for (i = 0; i < n; i++)
		if (r[i].type == MAP_RES_WILDCARD &&
		    wildcard_matches(r[i].address, name))
			break;
	if (!cfg->wildcard || i == n)
		return false;
	local(out, DNSANSWER_RCODE_NOERROR);
	/* Other types give no address away (and tell no connector). */
	if (qtype != DNSANSWER_T_A && qtype != DNSANSWER_T_AAAA &&
	    qtype != DNSANSWER_T_ANY)
		return true;
	memset(&v4, 0, sizeof(v4));
	memset(&v6, 0, sizeof(v6));
	if (cfg->wildcard(cfg->wildcard_ctx, name, &v4, &v6) < 0) {
		out->rcode = DNSANSWER_RCODE_SERVFAIL;
		out->reason = "wildcard";
		return true;
	}
	add_addr(out, qtype, &v4);
	add_addr(out, qtype, &v6);
	return true;
}

static bool answer_records(const struct map_dns *dns, const char *name,
			   uint16_t qtype, struct dnsanswer *out)
{
	bool found = false;

	for (size_t i = 0; dns && i < dns->nrecords; i++) {
		if (strcmp(dns->records[i].name, name))
			continue;
		found = true;
		add_addr(out, qtype, &dns->records[i].value);
	}
	return found;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "d.c.b.a.in-addr.arpa" or the 32 nibbles of "...ip6.arpa" into *a.
 * Returns whether name is one of these (a full address, no prefix). */
static bool parse_reverse(const char *name, struct ip_addr *a)
{
	size_t n = strlen(name);
	static const char v4[] = ".in-addr.arpa", v6[] = ".ip6.arpa";

	memset(a, 0, sizeof(*a));
	if (n > sizeof(v4) - 1 && !strcmp(name + n - (sizeof(v4) - 1), v4)) {
		const char *p = name;

		for (int i = 3; i >= 0; i--) {
			unsigned v = 0, digits = 0;

			for (; *p >= '0' && *p <= '9'; p++, digits++)
				v = v * 10 + (unsigned)(*p - '0');
			if (!digits || digits > 3 || v > 255 ||
			    (digits > 1 && p[-(int)digits] == '0') ||
			    *p != '.')
				return false;
			a->b[i] = (uint8_t)v;
			p++;
		}
		a->family = 4;
		return p == name + n - (sizeof(v4) - 2);
	}
	if (n == 64 + sizeof(v6) - 2 &&
	    !strcmp(name + 64, v6 + 1)) {
		for (int i = 0; i < 32; i++) {
			int v = nibble(name[2 * i]);

			if (v < 0 || name[2 * i + 1] != '.')
				return false;
			a->b[15 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
		}
		a->family = 6;
		return true;
	}
	return false;
}

/* Whether a lies in the mesh: 100.64.0.0/10 or this node's IPv6 /48. */
static bool in_mesh(const struct map *m, const struct ip_addr *a)
{
	const struct map_self *self = map_self(m);
	struct ip_prefix p = {.len = 10};

	if (a->family == 4) {
		ip_addr_parse("100.64.0.0", &p.addr);
		return ip_prefix_contains(&p, a);
	}
	if (!self || self->ipv6.family != 6)
		return false;
	p.addr = self->ipv6;
	p.len = 48;
	return ip_prefix_contains(&p, a);
}

static void answer_ptr(const struct map *m, const char *suffix,
		       const struct ip_addr *a, struct dnsanswer *out)
{
	const struct map_self *self = map_self(m);
	const struct map_peer *const *peers;
	const struct map_res *r;
	size_t n;

	local(out, DNSANSWER_RCODE_NOERROR);
	if (self && self->name && (ip_addr_eq(&self->ipv4, a) ||
				   ip_addr_eq(&self->ipv6, a))) {
		add_ptr(out, self->name, suffix);
		return;
	}
	peers = map_peers(m, &n);
	for (size_t i = 0; i < n; i++) {
		const struct map_peer *p = peers[i];

		if (!p->name || (!ip_addr_eq(&p->ipv4, a) &&
				 !ip_addr_eq(&p->ipv6, a)))
			continue;
		if (p->dns_name)
			add_ptr(out, p->dns_name, NULL);
		else
			add_ptr(out, p->name, suffix);
		return;
	}
	r = map_resources(m, &n);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; r[i].type == MAP_RES_DNS &&
				   k < r[i].nprefixes; k++) {
			if (ip_addr_eq(&r[i].prefixes[k].addr, a)) {
				add_ptr(out, r[i].address, NULL);
				return;
			}
		}
	}
	out->rcode = DNSANSWER_RCODE_NXDOMAIN;
}

static bool is_loop(const struct map_dns *dns, const struct dnsanswer_cfg *cfg,
		    const struct ip_endpoint *e)
{
	if (e->port == DNS_PORT && dns &&
	    (ip_addr_eq(&e->addr, &dns->stub4) ||
	     ip_addr_eq(&e->addr, &dns->stub6)))
		return true;
	for (size_t i = 0; i < cfg->nlisten; i++)
		if (ip_addr_eq(&cfg->listen[i].addr, &e->addr) &&
		    cfg->listen[i].port == e->port)
			return true;
	return cfg->loopback_loops && ip_addr_is_loopback(&e->addr);
}

static void forward(const struct map_dns *dns, const struct dnsanswer_cfg *cfg,
		    const char *name, struct dnsanswer *out)
{
	const struct ip_endpoint *up = cfg->host;
	size_t nup = cfg->nhost, best = 0;

	out->reason = "host";
	if (dns && dns->nupstreams) {
		up = dns->upstreams;
		nup = dns->nupstreams;
		out->reason = "global";
	}
	for (size_t i = 0; dns && i < dns->nsplit; i++) {
		size_t len = strlen(dns->split[i].domain);

		if (len > best && name_under_domain(name,
						    dns->split[i].domain)) {
			best = len;
			up = dns->split[i].upstreams;
			nup = dns->split[i].nupstreams;
			out->reason = "split";
		}
	}
	for (size_t i = 0; i < nup && out->nup < DNS_MAX_UPSTREAMS; i++) {
		if (is_loop(dns, cfg, &up[i]))
			out->nloops++;
		else
			out->up[out->nup++] = up[i];
	}
	if (out->nup) {
		out->action = DNSANSWER_FORWARD;
		return;
	}
	local(out, DNSANSWER_RCODE_SERVFAIL);
	out->reason = nup ? "loop" : "no_upstream";
}

int dnsanswer_lookup(const struct map *m, const struct dnsanswer_cfg *cfg,
		     const char *qname, uint16_t qtype, struct dnsanswer *out)
{
	const struct map_dns *dns = map_dns(m);
	const char *suffix = dns && dns->suffix ? dns->suffix
						: DNS_DEFAULT_SUFFIX;
	char name[DNSANSWER_NAME_MAX + 1];
	size_t n = strlen(qname), slen = strlen(suffix);
	struct ip_addr a;

	memset(out, 0, sizeof(*out));
	if (n && qname[n - 1] == '.')
		n--;
	if (n > DNSANSWER_NAME_MAX)
		return WEFT_ERR_INVAL;
	for (size_t i = 0; i < n; i++)
		name[i] = qname[i] >= 'A' && qname[i] <= 'Z' ?
			(char)(qname[i] - 'A' + 'a') : qname[i];
	name[n] = '\0';

	if (qtype == DNSANSWER_T_PTR && parse_reverse(name, &a)) {
		answer_ptr(m, suffix, &a, out);
		if (out->nrr || in_mesh(m, &a))
			return 0;
		memset(out, 0, sizeof(*out));
	}
	if (n > slen && name_under_domain(name, suffix)) {
		name[n - slen - 1] = '\0';
		local(out, strchr(name, '.') || !answer_node(m, name, qtype, out)
			   ? DNSANSWER_RCODE_NXDOMAIN : DNSANSWER_RCODE_NOERROR);
		if (out->rcode == DNSANSWER_RCODE_NXDOMAIN)
			out->nrr = 0;
		return 0;
	}
	if (n == slen && !strcmp(name, suffix)) {
		local(out, DNSANSWER_RCODE_NOERROR);
		return 0;
	}
	if ((dns ? dns->search : true) && n && !strchr(name, '.') &&
	    answer_node(m, name, qtype, out)) {
		local(out, DNSANSWER_RCODE_NOERROR);
		return 0;
	}
	if (answer_resource(m, name, qtype, out) ||
	    answer_records(dns, name, qtype, out)) {
		local(out, DNSANSWER_RCODE_NOERROR);
		return 0;
	}
	if (answer_wildcard(m, cfg, name, qtype, out))
		return 0;
	forward(dns, cfg, name, out);
	return 0;
}
