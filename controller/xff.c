#include "controller/xff.h"

#include "shared/err.h"

#include <stdbool.h>
#include <string.h>

int xff_trust_add(struct xff_trust *t, const char *s)
{
	struct ip_prefix p;
	int rc;

	rc = ip_prefix_parse(s, &p, IP_PREFIX_BARE_ADDR);
	if (rc < 0)
		return rc;
	if (t->n == XFF_MAX_TRUSTED)
		return WEFT_ERR_TOOBIG;
	ip_prefix_mask(&p);
	t->p[t->n++] = p;
	return 0;
}

static bool trusted(const struct xff_trust *t, const struct ip_addr *a)
{
	struct ip_addr u = *a;

	ip_addr_unmap(&u);
	for (size_t i = 0; i < t->n; i++)
		if (ip_prefix_contains(&t->p[i], a) ||
		    ip_prefix_contains(&t->p[i], &u))
			return true;
	return false;
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

void xff_client(const struct xff_trust *t, const struct ip_addr *peer,
		const char *xff, struct ip_addr *out)
{
	const char *end;

	*out = *peer;
	if (!t || !t->n || !xff || !trusted(t, peer))
		return;
	end = xff + strlen(xff);
	while (end > xff) {
		const char *start = end, *a, *b;
		char buf[IP_ADDR_STRLEN + 1];
		struct ip_addr addr;
		size_t n;

		while (start > xff && start[-1] != ',')
			start--;
		a = start;
		b = end;
		while (a < b && blank(*a))
			a++;
		while (b > a && blank(b[-1]))
			b--;
		n = (size_t)(b - a);
		if (n == 0 || n > IP_ADDR_STRLEN)
			return;
		memcpy(buf, a, n);
		buf[n] = '\0';
		if (ip_addr_parse(buf, &addr) < 0)
			return;
		*out = addr;
		if (!trusted(t, &addr))
			return;
		end = start > xff ? start - 1 : xff;
	}
}
