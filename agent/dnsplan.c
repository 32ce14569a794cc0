/* What the agent installs on the host: see dnsplan.h. */
#include "agent/dnsplan.h"

#include "shared/err.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HEADER "# Written by weft-agent (--dns file)"

static const char *const mode_names[] = {
	[DNS_MODE_AUTO] = "auto",
	[DNS_MODE_RESOLVED] = "resolved",
	[DNS_MODE_FILE] = "file",
	[DNS_MODE_OFF] = "off",
};

int dnsplan_mode_parse(const char *s, enum dns_mode *out)
{
	size_t i;

	for (i = 0; s && i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum dns_mode)i;
			return 0;
		}
	return WEFT_ERR_INVAL;
}

const char *dnsplan_mode_name(enum dns_mode m)
{
	return (unsigned)m < sizeof(mode_names) / sizeof(mode_names[0])
		       ? mode_names[m] : "?";
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return WEFT_ERR_INVAL;
}

static bool is_stub(const struct dnsplan *p, const struct ip_addr *a)
{
	struct ip_addr u = *a;
	size_t i;

	ip_addr_unmap(&u);
	for (i = 0; i < p->nns; i++)
		if (ip_addr_eq(&p->ns[i], &u))
			return true;
	return false;
}

/* A DNS name as the map gives them: lower case, labels of 1..63 of
 * a-z 0-9 - _, dots between, no trailing dot, at most 253 bytes. */
static bool domain_ok(const char *d)
{
	size_t label = 0, len = strlen(d);

	if (!len || len > DNSPLAN_NAME_MAX - 1)
		return false;
	for (; *d; d++) {
		if (*d == '.') {
			if (!label)
				return false;
			label = 0;
		} else if ((*d >= 'a' && *d <= 'z') ||
			   (*d >= '0' && *d <= '9') || *d == '-' ||
			   *d == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

static int add_domain(struct dnsplan *p, const char *d, char *err,
		      size_t errlen)
{
	size_t i;

	if (!domain_ok(d))
		return fail(err, errlen, "bad DNS domain \"%.64s\"", d);
	for (i = 0; i < p->ndomains; i++)
		if (strcmp(p->domains[i], d) == 0)
			return 0;
	if (p->ndomains == DNSPLAN_MAX_DOMAINS)
		return fail(err, errlen, "more than %d DNS domains",
			    DNSPLAN_MAX_DOMAINS);
	snprintf(p->domains[p->ndomains++], DNSPLAN_NAME_MAX, "%s", d);
	return 0;
}

/* An upstream that is one of the stub's addresses: a loop. */
static int check_upstreams(const struct dnsplan *p,
			   const struct ip_endpoint *u, size_t n, char *err,
			   size_t errlen)
{
	char a[IP_ENDPOINT_STRLEN];
	size_t i;

	for (i = 0; i < n; i++)
		if (is_stub(p, &u[i].addr)) {
			ip_endpoint_format(&u[i], a, sizeof(a));
			return fail(err, errlen, "upstream %s is the stub "
				    "itself (a loop)", a);
		}
	return 0;
}

int dnsplan_build(const struct map_dns *dns, bool exit_node,
		  struct dnsplan *out, char *err, size_t errlen)
{
	struct dnsplan *p = out;
	size_t i;
	int rc;

	memset(p, 0, sizeof(*p));
	if (dns->stub4.family == 4)
		p->ns[p->nns++] = dns->stub4;
	if (dns->stub6.family == 6)
		p->ns[p->nns++] = dns->stub6;
	if (!p->nns)
		return fail(err, errlen, "no stub address");
	if (dns->suffix && *dns->suffix) {
		rc = add_domain(p, dns->suffix, err, errlen);
		if (rc < 0)
			return rc;
		if (dns->search)
			snprintf(p->search, sizeof(p->search), "%s",
				 dns->suffix);
	}
	for (i = 0; i < dns->nsplit; i++) {
		rc = add_domain(p, dns->split[i].domain ? dns->split[i].domain
							: "", err, errlen);
		if (rc == 0)
			rc = check_upstreams(p, dns->split[i].upstreams,
					     dns->split[i].nupstreams, err,
					     errlen);
		if (rc < 0)
			return rc;
	}
	rc = check_upstreams(p, dns->upstreams, dns->nupstreams, err, errlen);
	if (rc < 0)
		return rc;
	p->default_route = exit_node || dns->nupstreams > 0;
	return 0;
}

bool dnsplan_loops(const struct dnsplan *p, enum dns_mode mode,
		   const struct ip_addr *ups, size_t n, char *err,
		   size_t errlen)
{
	struct ip_addr resolved;
	char s[IP_ADDR_STRLEN];
	bool all = mode == DNS_MODE_FILE ||
		   (mode == DNS_MODE_RESOLVED && p->default_route);
	size_t i;

	ip_addr_parse(DNSPLAN_RESOLVED_STUB, &resolved);
	for (i = 0; i < n; i++) {
		ip_addr_format(&ups[i], s, sizeof(s));
		if (is_stub(p, &ups[i])) {
			fail(err, errlen, "upstream %s is the stub itself", s);
			return true;
		}
		if (all && ip_addr_eq(&ups[i], &resolved)) {
			fail(err, errlen, "upstream %s is systemd-resolved, "
			     "which would send the names back to the stub", s);
			return true;
		}
	}
	return false;
}

size_t dnsplan_nameservers(const char *text, struct ip_addr *out,
			   size_t max)
{
	const char *line = text, *end;
	char a[IP_ADDR_STRLEN + 32];
	size_t n = 0, len;

	while (line && *line && n < max) {
		end = strchr(line, '\n');
		len = end ? (size_t)(end - line) : strlen(line);
		while (len && isblank((unsigned char)*line)) {
			line++;
			len--;
		}
		if (len > 11 && strncmp(line, "nameserver", 10) == 0 &&
		    isblank((unsigned char)line[10])) {
			const char *v = line + 11, *stop = line + len;
			size_t k = 0;

			while (v < stop && isblank((unsigned char)*v))
				v++;
			while (v < stop && !isspace((unsigned char)*v) &&
			       *v != '%' && k + 1 < sizeof(a))
				a[k++] = *v++;
			a[k] = '\0';
			if (ip_addr_parse(a, &out[n]) == 0) {
				ip_addr_unmap(&out[n]);
				n++;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return n;
}

int dnsplan_resolv_conf(const struct dnsplan *p, const char *backup,
			char *buf, size_t cap)
{
	char a[IP_ADDR_STRLEN];
	size_t len = 0, i;
	int w;

#define PUT(...)                                                       \
	do {                                                           \
		w = snprintf(buf + len, cap - len, __VA_ARGS__);       \
		if (w < 0 || (size_t)w >= cap - len)                   \
			return WEFT_ERR_TOOBIG;                        \
		len += (size_t)w;                                      \
	} while (0)

	if (!cap)
		return WEFT_ERR_TOOBIG;
	PUT("%s: every name goes to its stub\n"
	    "# resolver. The original is kept in\n"
	    "#   %s\n"
	    "# and comes back when the agent stops. Edits here are\n"
	    "# overwritten while it runs.\n", HEADER, backup ? backup : "-");
	for (i = 0; i < p->nns; i++) {
		ip_addr_format(&p->ns[i], a, sizeof(a));
		PUT("nameserver %s\n", a);
	}
	if (p->search[0])
		PUT("search %s\n", p->search);
	PUT("options edns0 trust-ad\n");
#undef PUT
	return (int)len;
}

bool dnsplan_is_ours(const char *text)
{
	return text && strncmp(text, HEADER, strlen(HEADER)) == 0;
}

bool dnsplan_eq(const struct dnsplan *a, const struct dnsplan *b)
{
	size_t i;

	if (a->nns != b->nns || a->ndomains != b->ndomains ||
	    a->default_route != b->default_route ||
	    strcmp(a->search, b->search) != 0)
		return false;
	for (i = 0; i < a->nns; i++)
		if (!ip_addr_eq(&a->ns[i], &b->ns[i]))
			return false;
	for (i = 0; i < a->ndomains; i++)
		if (strcmp(a->domains[i], b->domains[i]) != 0)
			return false;
	return true;
}
