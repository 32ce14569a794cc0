/* Fuzzes the address, prefix and endpoint parsers of shared/ip.c with
 * arbitrary bytes (made NUL-terminated). Whatever parses must format and
 * re-parse to the same value, format canonically (a fixed point), agree
 * with inet_pton, and behave sanely in the prefix and pool helpers. */
#include "shared/err.h"
#include "shared/ip.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct bits {
	const uint8_t *data;
	size_t size;
};

/* Marks addresses as used from the input bytes so pool walks vary. */
static bool in_use(const struct ip_addr *a, void *ctx)
{
	const struct bits *b = ctx;
	size_t n = a->family == 4 ? 4 : 16;

	if (b->size == 0)
		return false;
	return (b->data[a->b[n - 1] % b->size] & 1) != 0;
}

static void check_addr(const char *s, const struct ip_addr *a)
{
	char buf[IP_ADDR_STRLEN], again[IP_ADDR_STRLEN];
	struct ip_addr b, next;
	uint8_t raw[16];

	if (ip_addr_format(a, buf, sizeof(buf)) != 0)
		abort();
	if (ip_addr_parse(buf, &b) != 0 || memcmp(a, &b, sizeof(b)) != 0)
		abort();
	if (ip_addr_format(&b, again, sizeof(again)) != 0 || strcmp(buf, again))
		abort();
	/* Anything we accept, the C library accepts as the same address. */
	if (inet_pton(a->family == 4 ? AF_INET : AF_INET6, s, raw) != 1 ||
	    memcmp(raw, a->b, a->family == 4 ? 4 : 16) != 0)
		abort();
	if (ip_addr_cmp(a, &b) != 0 || !ip_addr_eq(a, &b))
		abort();
	if (ip_addr_next(a, &next) == 0 && ip_addr_cmp(a, &next) >= 0)
		abort();
	(void)ip_addr_is_private(a);
	(void)ip_addr_is_loopback(a);
	(void)ip_addr_is_link_local(a);
}

static void check_prefix(const struct ip_prefix *p, unsigned flags,
			 const struct bits *b)
{
	char buf[IP_PREFIX_STRLEN];
	struct ip_prefix q, masked = *p;
	struct ip_addr nth, got;

	if (ip_prefix_format(p, buf, sizeof(buf)) != 0)
		abort();
	if (ip_prefix_parse(buf, &q, flags & ~IP_PREFIX_BARE_ADDR) != 0 ||
	    memcmp(p, &q, sizeof(q)) != 0)
		abort();
	ip_prefix_mask(&masked);
	if ((flags & IP_PREFIX_STRICT) && memcmp(&masked, p, sizeof(masked)))
		abort();
	if (!ip_prefix_contains(p, &p->addr) || !ip_prefix_contains_prefix(p, p) ||
	    !ip_prefix_overlaps(p, &masked) || !ip_prefix_contains_prefix(&masked, p))
		abort();
	if (ip_prefix_nth(p, 0, &nth) != 0 || memcmp(&nth, &masked.addr, sizeof(nth)))
		abort();
	if (ip_prefix_nth(p, 5, &nth) == 0 && !ip_prefix_contains(p, &nth))
		abort();
	if (ip_alloc_next(p, &p->addr, in_use, (void *)b, 64, &got) == 0 &&
	    !ip_prefix_contains(p, &got))
		abort();
}

static void check_endpoint(const struct ip_endpoint *e)
{
	char buf[IP_ENDPOINT_STRLEN];
	struct ip_endpoint f, g;
	struct sockaddr_storage ss;
	socklen_t len;

	if (e->port == 0)
		abort();
	if (ip_endpoint_format(e, buf, sizeof(buf)) != 0)
		abort();
	if (ip_endpoint_parse(buf, &f) != 0 || memcmp(e, &f, sizeof(f)) != 0)
		abort();
	if (ip_endpoint_to_sockaddr(e, &ss, &len) != 0)
		abort();
	if (ip_endpoint_from_sockaddr((struct sockaddr *)&ss, len, &g) != 0)
		abort();
	f = *e;
	ip_addr_unmap(&f.addr);
	if (memcmp(&f, &g, sizeof(g)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bits b = {data, size};
	struct ip_addr a;
	struct ip_prefix p;
	struct ip_endpoint e;
	char *s = malloc(size + 1);
	int r;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (ip_addr_parse(s, &a) == 0)
		check_addr(s, &a);
	for (unsigned flags = 0; flags < 4; flags++) {
		r = ip_prefix_parse(s, &p, flags);
		if (r == 0)
			check_prefix(&p, flags, &b);
		else if (r != WEFT_ERR_PARSE && r != WEFT_ERR_RANGE &&
			 r != WEFT_ERR_INVAL)
			abort();
	}
	r = ip_endpoint_parse(s, &e);
	if (r == 0)
		check_endpoint(&e);
	else if (r != WEFT_ERR_PARSE && r != WEFT_ERR_RANGE)
		abort();

	free(s);
	return 0;
}
