/* What the agent installs on the host so that it uses the stub resolver
 * (docs/dns.md, "How the agent installs itself"): from the map's "dns"
 * part and the --dns mode, the nameservers (the stub addresses), the
 * routing domains, the search domain and whether the TUN becomes the
 * default DNS route; the resolv.conf text of `--dns file`; and the loop
 * check that refuses a configuration whose upstreams lead back to the
 * stub. Pure: no I/O, no logging. */
#ifndef WEFT_AGENT_DNSPLAN_H
#define WEFT_AGENT_DNSPLAN_H

#include "agent/map.h"
#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>

#define DNSPLAN_NAME_MAX 254     /* a DNS name and its NUL */
#define DNSPLAN_MAX_DOMAINS 128  /* routing domains: the suffix + splits */
#define DNSPLAN_MAX_NS 2         /* the stub's IPv4 and IPv6 address */
#define DNSPLAN_RESOLV_MAX 8192  /* the resolv.conf text we write */

/* systemd-resolved's stub listener, what /etc/resolv.conf names on
 * hosts that run it. */
#define DNSPLAN_RESOLVED_STUB "127.0.0.53"

enum dns_mode {
	DNS_MODE_AUTO,
	DNS_MODE_RESOLVED,
	DNS_MODE_FILE,
	DNS_MODE_OFF,
};

/* "auto", "resolved", "file", "off": 0 and *out, or WEFT_ERR_INVAL. */
int dnsplan_mode_parse(const char *s, enum dns_mode *out);
const char *dnsplan_mode_name(enum dns_mode m);

struct dnsplan {
	struct ip_addr ns[DNSPLAN_MAX_NS]; /* stub addresses, IPv4 first */
	size_t nns;
	/* Routing-only domains (resolved: "~" + each), suffix first, then
	 * the split domains in map order, duplicates left out. */
	char domains[DNSPLAN_MAX_DOMAINS][DNSPLAN_NAME_MAX];
	size_t ndomains;
	char search[DNSPLAN_NAME_MAX]; /* "" when search is off */
	/* Full-DNS mode: every name goes to the stub (resolved: the link
	 * is the default DNS route). On with an exit node or global
	 * upstreams in the map. */
	bool default_route;
};

/* Builds *out from the map's "dns" part (agent/map.h; its suffix, search,
 * stub addresses, split domains and global upstreams) and whether an
 * exit node is on. Refuses (WEFT_ERR_INVAL, err says why) no stub
 * address, a bad suffix or split domain, more than DNSPLAN_MAX_DOMAINS
 * domains, and a global or split upstream that is a stub address (the
 * stub would forward to itself). */
int dnsplan_build(const struct map_dns *dns, bool exit_node,
		  struct dnsplan *out, char *err, size_t errlen);

/* Whether the upstreams the stub would fall back to (the host's resolvers
 * before the agent, ups[0..n)) loop back: one of them is a stub address
 * of p, or it is 127.0.0.53 (systemd-resolved's stub) while every name
 * reaches the stub through resolved or resolv.conf (resolved would send
 * the query back to us). true with a reason in err. */
bool dnsplan_loops(const struct dnsplan *p, enum dns_mode mode,
		   const struct ip_addr *ups, size_t n, char *err,
		   size_t errlen);

/* The nameserver addresses of a resolv.conf text (at most max, in order;
 * lines other than "nameserver ADDR" and bad addresses are skipped;
 * scoped IPv6 addresses "fe80::1%eth0" lose the scope). Returns how
 * many. */
size_t dnsplan_nameservers(const char *text, struct ip_addr *out,
			   size_t max);

/* Writes the resolv.conf text of p into buf (cap bytes): a header saying
 * the agent wrote it and that the original is in backup, the stub's
 * nameservers, "search" with the search domain, "options edns0
 * trust-ad". Returns the length, or WEFT_ERR_TOOBIG. */
int dnsplan_resolv_conf(const struct dnsplan *p, const char *backup,
			char *buf, size_t cap);

/* Whether text is a resolv.conf the agent wrote (its header). */
bool dnsplan_is_ours(const char *text);

/* Same plan (what resolved or resolv.conf would get). */
bool dnsplan_eq(const struct dnsplan *a, const struct dnsplan *b);

#endif
