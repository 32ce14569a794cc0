/* The connector's nftables table as text: see connector_rules.h. */
#include "agent/connector_rules.h"

#include "shared/err.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TUN_NAME_MAX 15 /* IFNAMSIZ - 1 */

bool connector_rules_name_ok(const char *tun)
{
	size_t i, n = tun ? strlen(tun) : 0;

	if (n == 0 || n > TUN_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = tun[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

int connector_rules_table(const char *tun, char *out, size_t cap)
{
	int n;

	if (!connector_rules_name_ok(tun))
		return WEFT_ERR_INVAL;
	n = snprintf(out, cap, "weft_%s", tun);
	return n < 0 || (size_t)n >= cap ? WEFT_ERR_TOOBIG : 0;
}

/* Appends to out at *len; false once cap is exceeded. */
static bool add(char *out, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool add(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(out + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len) {
		*len = cap;
		return false;
	}
	*len += (size_t)n;
	return true;
}

int connector_rules_script(const char *tun, uint64_t stale, char *out,
			   size_t cap)
{
	char table[CONNECTOR_TABLE_MAX];
	size_t len = 0;
	bool ok = true;
	int rc;

	rc = connector_rules_table(tun, table, sizeof(table));
	if (rc < 0)
		return rc;
	if (cap)
		out[0] = '\0';
	if (stale)
		ok = add(out, cap, &len, "delete table inet handle %llu\n",
			 (unsigned long long)stale);
	/* The SYN clamp comes first: a later accept ends this chain. Only
	 * lowering: the kernel never raises an MSS it clamps. */
	ok = ok && add(out, cap, &len,
		"table inet %s {\n"
		"\tset mapped4 { type ipv4_addr; flags interval; auto-merge; }\n"
		"\tset mapped6 { type ipv6_addr; flags interval; auto-merge; }\n"
		"\tmap dnat4 { type ipv4_addr : ipv4_addr; }\n"
		"\tmap dnat6 { type ipv6_addr : ipv6_addr; }\n"
		"\tmap wdnat4 { type ipv4_addr . ipv4_addr : ipv4_addr; }\n"
		"\tmap wdnat6 { type ipv6_addr . ipv6_addr : ipv6_addr; }\n"
		"\tset nx4 { type ipv4_addr; }\n"
		"\tset nx6 { type ipv6_addr; }\n"
		"\tset wnx4 { type ipv4_addr . ipv4_addr; }\n"
		"\tset wnx6 { type ipv6_addr . ipv6_addr; }\n"
		"\tcounter dns_unresolved { }\n"
		"\tcounter dns_nxdomain { }\n"
		"\tchain prerouting {\n"
		"\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
		"\t\tiifname \"%s\" dnat ip to ip daddr map @dnat4 "
		"comment \"weft: DNS resources, mapped to real\"\n"
		"\t\tiifname \"%s\" dnat ip6 to ip6 daddr map @dnat6\n"
		"\t\tiifname \"%s\" dnat ip to ip saddr . ip daddr map @wdnat4 "
		"comment \"weft: wildcard names, per client\"\n"
		"\t\tiifname \"%s\" dnat ip6 to ip6 saddr . ip6 daddr map "
		"@wdnat6\n"
		"\t}\n"
		/* In prerouting, not forward: a packet for a mapped address
		 * is routed back out of the TUN it came from, and the
		 * kernel sends no ICMP error for a packet rejected in
		 * forward on such a hairpin (seen on Linux 6.18). */
		"\tchain nxdomain {\n"
		"\t\ttype filter hook prerouting priority filter; "
		"policy accept;\n"
		"\t\tiifname \"%s\" ip daddr @nx4 counter name dns_nxdomain "
		"reject with icmpx type admin-prohibited\n"
		"\t\tiifname \"%s\" ip6 daddr @nx6 counter name dns_nxdomain "
		"reject with icmpx type admin-prohibited\n"
		"\t\tiifname \"%s\" ip saddr . ip daddr @wnx4 counter name "
		"dns_nxdomain reject with icmpx type admin-prohibited\n"
		"\t\tiifname \"%s\" ip6 saddr . ip6 daddr @wnx6 counter name "
		"dns_nxdomain reject with icmpx type admin-prohibited\n"
		"\t}\n"
		"\tchain forward {\n"
		"\t\ttype filter hook forward priority filter; policy accept;\n"
		"\t\tiifname \"%s\" tcp flags & (syn|rst) == syn "
		"tcp option maxseg size set rt mtu "
		"comment \"weft: MSS of SYNs from mesh clients\"\n"
		"\t\toifname \"%s\" tcp flags & (syn|rst) == syn "
		"tcp option maxseg size set rt mtu "
		"comment \"weft: MSS of SYNs to mesh clients\"\n"
		"\t\tiifname \"%s\" ip daddr @mapped4 counter name "
		"dns_unresolved drop comment \"weft: DNS names not resolved "
		"yet\"\n"
		"\t\tiifname \"%s\" ip6 daddr @mapped6 counter name "
		"dns_unresolved drop\n"
		"\t\tiifname \"%s\" oifname != \"%s\" counter accept "
		"comment \"weft: mesh clients to the LAN\"\n"
		"\t\toifname \"%s\" ct state established,related counter "
		"accept comment \"weft: replies to mesh clients\"\n"
		"\t}\n"
		"\tchain postrouting {\n"
		"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		"\t\tiifname \"%s\" oifname != \"%s\" counter masquerade "
		"comment \"weft: mesh clients leave with this host's address\"\n"
		"\t}\n"
		"}\n", table, tun, tun, tun, tun, tun, tun, tun, tun, tun, tun, tun, tun,
		tun, tun, tun, tun, tun);
	return ok ? 0 : WEFT_ERR_TOOBIG;
}

/* The object under key in an element of the nftables array, directly or
 * wrapped in {"add": {...}} (the echo of a transaction). */
static json_t *element(json_t *e, const char *key)
{
	json_t *o = json_object_get(e, key);

	if (!o)
		o = json_object_get(json_object_get(e, "add"), key);
	return json_is_object(o) ? o : NULL;
}

static bool is_str(json_t *o, const char *key, const char *want)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && strcmp(s, want) == 0;
}

static json_t *load(const char *json)
{
	json_t *root = json ? json_loads(json, 0, NULL) : NULL;

	if (root && !json_is_array(json_object_get(root, "nftables"))) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int connector_rules_find_table(const char *json, const char *table,
			       uint64_t *handle, size_t *nrules)
{
	json_t *root = load(json), *arr, *e, *o, *h;
	uint64_t found = 0;
	size_t i, rules = 0;

	if (!root)
		return WEFT_ERR_PARSE;
	arr = json_object_get(root, "nftables");
	json_array_foreach(arr, i, e) {
		if ((o = element(e, "table")) && is_str(o, "family", "inet") &&
		    is_str(o, "name", table)) {
			h = json_object_get(o, "handle");
			if (json_is_integer(h) && json_integer_value(h) > 0)
				found = (uint64_t)json_integer_value(h);
		} else if ((o = element(e, "rule")) &&
			   is_str(o, "family", "inet") &&
			   is_str(o, "table", table)) {
			rules++;
		}
	}
	json_decref(root);
	if (!found)
		return WEFT_ERR_NOTFOUND;
	*handle = found;
	if (nrules)
		*nrules = rules;
	return 0;
}

int connector_rules_forward_drops(const char *json, const char *own,
				  char *out, size_t cap, size_t *n)
{
	json_t *root = load(json), *e, *o;
	size_t i, len = 0, count = 0;
	bool full = false;

	if (!root)
		return WEFT_ERR_PARSE;
	if (cap)
		out[0] = '\0';
	json_array_foreach(json_object_get(root, "nftables"), i, e) {
		const char *fam, *tab, *name;

		o = element(e, "chain");
		if (!o || !is_str(o, "hook", "forward") ||
		    !is_str(o, "policy", "drop"))
			continue;
		fam = json_string_value(json_object_get(o, "family"));
		tab = json_string_value(json_object_get(o, "table"));
		name = json_string_value(json_object_get(o, "name"));
		if (!fam || !tab || !name ||
		    (strcmp(fam, "inet") == 0 && strcmp(tab, own) == 0))
			continue;
		if (!full && !add(out, cap, &len, "%s%s %s %s",
				  count ? ", " : "", fam, tab, name)) {
			full = true;
			if (cap >= 4)
				memcpy(out + cap - 4, "...", 4);
		}
		count++;
	}
	json_decref(root);
	*n = count;
	return 0;
}
