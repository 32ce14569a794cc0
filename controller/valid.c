#include "controller/valid.h"

#include "shared/err.h"

#include <stdio.h>
#include <string.h>

bool valid_dns_name(const char *s, size_t n)
{
	size_t label = 0;
	bool digits = true;

	if (n < 1 || n > VALID_DNS_NAME_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char ch = i < n ? s[i] : '.';

		if (ch == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			if (i == n)
				break;
			label = 0;
			digits = true;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
		if (ch == '-' && label == 0)
			return false;
		if (ch < '0' || ch > '9')
			digits = false;
		label++;
	}
	return !digits;
}

/* Reads a port 1..65535 of decimal digits without a leading zero from
 * [*p, end); advances *p. */
static bool read_port(const char **p, const char *end, long *out)
{
	const char *s = *p;
	long v = 0;

	if (s == end || *s < '1' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (*s - '0');
		if (v > 65535)
			return false;
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

int valid_ports(const char *s, char out[STORE_PORTS_SIZE])
{
	char buf[STORE_PORTS_SIZE];
	const size_t cap = sizeof(buf);
	size_t o = 0;

	while (*s == ' ')
		s++;
	if (*s == '*') {
		const char *t = s + 1;

		while (*t == ' ')
			t++;
		if (*t != '\0')
			return WEFT_ERR_INVAL;
		snprintf(out, STORE_PORTS_SIZE, "*");
		return 0;
	}
	for (;;) {
		const char *end, *p;
		long lo, hi;
		int w;

		while (*s == ' ')
			s++;
		end = s + strcspn(s, ",");
		p = s;
		if (!read_port(&p, end, &lo))
			return WEFT_ERR_INVAL;
		hi = lo;
		if (p < end && *p == '-') {
			p++;
			if (!read_port(&p, end, &hi) || hi < lo)
				return WEFT_ERR_INVAL;
		}
		while (p < end && *p == ' ')
			p++;
		if (p != end)
			return WEFT_ERR_INVAL;
		w = lo == hi ? snprintf(buf + o, cap - o, "%s%ld",
					o ? "," : "", lo) :
			       snprintf(buf + o, cap - o, "%s%ld-%ld",
					o ? "," : "", lo, hi);
		if (w < 0 || (size_t)w >= cap - o)
			return WEFT_ERR_TOOBIG;
		o += (size_t)w;
		if (*end == '\0') {
			memcpy(out, buf, o + 1);
			return 0;
		}
		s = end + 1;
	}
}
