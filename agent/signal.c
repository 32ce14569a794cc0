/* Peer-to-peer signals: see signal.h. */
#include "agent/signal.h"

#include "shared/err.h"

#include <string.h>

static int put_ep(const struct ip_endpoint *e, uint8_t *buf, size_t cap,
		  size_t *off)
{
	size_t alen = e->addr.family == 4 ? 4 : 16;

	if ((e->addr.family != 4 && e->addr.family != 6) || e->port == 0)
		return WEFT_ERR_INVAL;
	if (cap - *off < 1 + alen + 2)
		return WEFT_ERR_TOOBIG;
	buf[(*off)++] = e->addr.family;
	memcpy(buf + *off, e->addr.b, alen);
	*off += alen;
	buf[(*off)++] = (uint8_t)(e->port >> 8);
	buf[(*off)++] = (uint8_t)e->port;
	return 0;
}

static int get_ep(const uint8_t *p, size_t n, size_t *off,
		  struct ip_endpoint *e)
{
	size_t alen;

	if (*off >= n || (p[*off] != 4 && p[*off] != 6))
		return WEFT_ERR_PARSE;
	alen = p[*off] == 4 ? 4 : 16;
	if (n - *off < 1 + alen + 2)
		return WEFT_ERR_PARSE;
	memset(e, 0, sizeof(*e));
	e->addr.family = p[(*off)++];
	memcpy(e->addr.b, p + *off, alen);
	*off += alen;
	e->port = (uint16_t)(p[*off] << 8 | p[*off + 1]);
	*off += 2;
	return e->port ? 0 : WEFT_ERR_PARSE;
}

int signal_encode(const struct signal *s, uint8_t *buf, size_t cap)
{
	size_t off = 0, i;
	int rc;

	if (cap < 1)
		return WEFT_ERR_TOOBIG;
	buf[off++] = s->type;
	switch (s->type) {
	case SIGNAL_CALL:
		if (s->n < 1 || s->n > SIGNAL_EPS_MAX)
			return WEFT_ERR_INVAL;
		if (cap < 2)
			return WEFT_ERR_TOOBIG;
		buf[off++] = (uint8_t)s->n;
		for (i = 0; i < s->n; i++)
			if ((rc = put_ep(&s->eps[i], buf, cap, &off)) < 0)
				return rc;
		break;
	case SIGNAL_USE:
		if ((rc = put_ep(&s->eps[0], buf, cap, &off)) < 0)
			return rc;
		break;
	case SIGNAL_LOST:
		break;
	default:
		return WEFT_ERR_INVAL;
	}
	return (int)off;
}

int signal_decode(const uint8_t *p, size_t n, struct signal *out)
{
	size_t off = 1, i;

	if (n < 1)
		return WEFT_ERR_PARSE;
	memset(out, 0, sizeof(*out));
	out->type = p[0];
	switch (p[0]) {
	case SIGNAL_CALL:
		if (n < 2 || p[1] < 1 || p[1] > SIGNAL_EPS_MAX)
			return WEFT_ERR_PARSE;
		out->n = p[1];
		off = 2;
		for (i = 0; i < out->n; i++)
			if (get_ep(p, n, &off, &out->eps[i]) < 0)
				return WEFT_ERR_PARSE;
		break;
	case SIGNAL_USE:
		out->n = 1;
		if (get_ep(p, n, &off, &out->eps[0]) < 0)
			return WEFT_ERR_PARSE;
		break;
	case SIGNAL_LOST:
		break;
	default:
		return WEFT_ERR_PARSE;
	}
	return off == n ? 0 : WEFT_ERR_PARSE;
}
