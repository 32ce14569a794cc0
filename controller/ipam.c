#include "controller/ipam.h"

#include "shared/err.h"
#include "shared/rand.h"

#include <string.h>

/* Tailscale-style "quad 100" service address; kept free so a DNS or
 * metadata service can live there later without renumbering anyone. */
#define RESERVED4 "100.100.100.100"

/* At most the whole /10 is probed. Each probe is one indexed lookup, and in
 * practice the first candidate after the last one handed out is free. */
#define MAX_PROBE (1u << 22)

struct probe {
	struct store_tx *tx;
	struct ip_addr reserved;
	int err;
};

/* A store error stops the search: the address is reported free, the error
 * is remembered and the caller discards the result. */
static bool in_use(const struct ip_addr *a, void *ctx)
{
	struct probe *p = ctx;
	struct store_node n;
	char text[IP_ADDR_STRLEN];
	int rc;

	if (ip_addr_eq(a, &p->reserved))
		return true;
	rc = ip_addr_format(a, text, sizeof(text));
	if (rc == 0)
		rc = store_node_get_by_ipv4(p->tx, text, &n);
	if (rc == WEFT_ERR_NOTFOUND)
		return false;
	if (rc < 0) {
		p->err = rc;
		return false;
	}
	return true;
}

int ipam_ula48(struct store_tx *tx, struct ip_prefix *out)
{
	char text[STORE_CIDR_SIZE];
	struct ip_prefix p = {0};
	int rc;

	rc = store_setting_get(tx, IPAM_KEY_ULA48, text, sizeof(text));
	if (rc == 0) {
		if (ip_prefix_parse(text, &p, IP_PREFIX_STRICT) < 0 ||
		    p.addr.family != 6 || p.len != 48 || p.addr.b[0] != 0xfd)
			return WEFT_ERR_INTERNAL;
		*out = p;
		return 0;
	}
	if (rc != WEFT_ERR_NOTFOUND)
		return rc;
	/* RFC 4193 §3.2: fd00::/8 followed by a 40-bit random Global ID. */
	p.addr.family = 6;
	p.addr.b[0] = 0xfd;
	rc = rand_bytes(&p.addr.b[1], 5);
	if (rc < 0)
		return rc;
	p.len = 48;
	rc = ip_prefix_format(&p, text, sizeof(text));
	if (rc < 0)
		return rc;
	rc = store_setting_set(tx, IPAM_KEY_ULA48, text);
	if (rc < 0)
		return rc;
	*out = p;
	return 0;
}

int ipam_assign(struct store_tx *tx, char ipv4[STORE_IP_SIZE],
		char ipv6[STORE_IP_SIZE])
{
	struct probe pr = {.tx = tx};
	struct ip_prefix pool, ula;
	struct ip_addr last, a4, a6;
	const struct ip_addr *after = NULL;
	char text4[STORE_IP_SIZE], text6[STORE_IP_SIZE];
	int rc;

	if (ip_prefix_parse(IPAM_POOL4, &pool, IP_PREFIX_STRICT) < 0 ||
	    ip_addr_parse(RESERVED4, &pr.reserved) < 0)
		return WEFT_ERR_INTERNAL;
	rc = ipam_ula48(tx, &ula);
	if (rc < 0)
		return rc;
	rc = store_setting_get(tx, IPAM_KEY_LAST4, text4, sizeof(text4));
	if (rc == 0) {
		/* A value outside the pool restarts at its beginning, which
		 * ip_alloc_next does by itself. */
		if (ip_addr_parse(text4, &last) < 0)
			return WEFT_ERR_INTERNAL;
		after = &last;
	} else if (rc != WEFT_ERR_NOTFOUND) {
		return rc;
	}
	rc = ip_alloc_next(&pool, after, in_use, &pr, MAX_PROBE, &a4);
	if (pr.err < 0)
		return pr.err;
	if (rc < 0)
		return rc;
	a6 = ula.addr;
	memcpy(&a6.b[12], a4.b, 4);
	if (ip_addr_format(&a4, text4, sizeof(text4)) < 0 ||
	    ip_addr_format(&a6, text6, sizeof(text6)) < 0)
		return WEFT_ERR_INTERNAL;
	rc = store_setting_set(tx, IPAM_KEY_LAST4, text4);
	if (rc < 0)
		return rc;
	memcpy(ipv4, text4, sizeof(text4));
	memcpy(ipv6, text6, sizeof(text6));
	return 0;
}
