#include "shared/dnswire.h"

#include "shared/be.h"
#include "shared/err.h"

#include <string.h>

#define NAME_WIRE_MAX 255
#define LABEL_MAX 63
#define PTR_HOPS_MAX 127 /* a 255-byte name has at most 127 labels */
#define OPT_LEN 11       /* root name, type, class, ttl, rdlength */

struct rd {
	const uint8_t *p;
	size_t n;
	size_t off;
};

static bool label_byte_ok(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '.';
}

/* Reads the (possibly compressed) name at r->off into out (lower-cased
 * dotted text; may be NULL to only check it) and moves r->off past its
 * in-place part. Each pointer must point before the segment it ends, so
 * the segment starts strictly decrease and decoding always stops. */
static int read_name(struct rd *r, char *out)
{
	size_t pos = r->off, seg = r->off, wire = 0, len = 0, end = 0;
	unsigned hops = 0;
	bool jumped = false;

	for (;;) {
		uint8_t l;

		if (pos >= r->n)
			return WEFT_ERR_PARSE;
		l = r->p[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= r->n)
				return WEFT_ERR_PARSE;
			to = (size_t)(l & 0x3f) << 8 | r->p[pos + 1];
			if (to >= seg || ++hops > PTR_HOPS_MAX)
				return WEFT_ERR_PARSE;
			if (!jumped)
				end = pos + 2;
			jumped = true;
			pos = seg = to;
			continue;
		}
		if (l & 0xc0)
			return WEFT_ERR_PARSE; /* 0x40, 0x80: no such labels */
		wire += (size_t)l + 1;
		if (wire > NAME_WIRE_MAX || pos + 1 + l > r->n)
			return WEFT_ERR_PARSE;
		if (l == 0) {
			if (!jumped)
				end = pos + 1;
			break;
		}
		if (len > 0 && out)
			out[len] = '.';
		len += len > 0;
		for (size_t i = 0; i < l; i++) {
			uint8_t c = r->p[pos + 1 + i];

			if (!label_byte_ok(c))
				return WEFT_ERR_PARSE;
			if (out)
				out[len] = (char)(c >= 'A' && c <= 'Z' ?
							  c + 32 : c);
			len++;
		}
		pos += 1 + l;
	}
	if (out)
		out[len] = '\0';
	r->off = end;
	return 0;
}

static int read_u16(struct rd *r, uint16_t *v)
{
	if (r->n - r->off < 2)
		return WEFT_ERR_PARSE;
	*v = be_get16(r->p + r->off);
	r->off += 2;
	return 0;
}

static int read_question(struct rd *r, struct dns_question *q)
{
	int rc = read_name(r, q->name);

	if (rc == 0)
		rc = read_u16(r, &q->type);
	if (rc == 0)
		rc = read_u16(r, &q->qclass);
	return rc;
}

/* Reads the rdata of an A/AAAA/CNAME/PTR record of class IN into a. */
static int read_rdata(struct rd *r, size_t rdlen, struct dns_answer *a)
{
	struct rd sub;
	int rc;

	if (a->type == DNS_TYPE_A || a->type == DNS_TYPE_AAAA) {
		size_t want = a->type == DNS_TYPE_A ? 4 : 16;

		if (rdlen != want)
			return WEFT_ERR_PARSE;
		a->addr.family = a->type == DNS_TYPE_A ? 4 : 6;
		memcpy(a->addr.b, r->p + r->off, want);
		return 0;
	}
	/* CNAME or PTR: exactly one name, which may point anywhere before. */
	sub = *r;
	rc = read_name(&sub, a->target);
	if (rc == 0 && sub.off != r->off + rdlen)
		rc = WEFT_ERR_PARSE;
	return rc;
}

static bool kept_type(uint16_t type)
{
	return type == DNS_TYPE_A || type == DNS_TYPE_AAAA ||
	       type == DNS_TYPE_CNAME || type == DNS_TYPE_PTR;
}

/* Reads one resource record of the given section (0 answer, 1 authority,
 * 2 additional) and keeps what the message wants from it. */
static int read_rr(struct rd *r, int section, struct dns_msg *m)
{
	struct dns_answer a;
	uint16_t qclass, rdlen;
	uint32_t ttl;
	int rc;

	memset(&a, 0, sizeof(a));
	rc = read_name(r, a.name);
	if (rc == 0)
		rc = read_u16(r, &a.type);
	if (rc == 0)
		rc = read_u16(r, &qclass);
	if (rc != 0 || r->n - r->off < 6)
		return WEFT_ERR_PARSE;
	ttl = be_get32(r->p + r->off);
	rdlen = be_get16(r->p + r->off + 4);
	r->off += 6;
	if (r->n - r->off < rdlen)
		return WEFT_ERR_PARSE;
	if (a.type == DNS_TYPE_OPT) {
		if (section != 2 || m->edns || a.name[0] != '\0')
			return WEFT_ERR_PARSE;
		m->edns = true;
		m->edns_udp_size = qclass;
		m->rcode = (uint16_t)(m->rcode | (ttl >> 24) << 4);
		m->edns_version = (uint8_t)(ttl >> 16);
		m->edns_do = (ttl & 0x8000) != 0;
	} else if (section == 0 && qclass == DNS_CLASS_IN &&
		   kept_type(a.type)) {
		a.ttl = ttl & 0x7fffffffu; /* RFC 2181 §8: top bit set means 0 */
		if (ttl & 0x80000000u)
			a.ttl = 0;
		rc = read_rdata(r, rdlen, &a);
		if (rc != 0)
			return rc;
		if (m->n_answers < DNSWIRE_ANSWERS_MAX)
			m->answers[m->n_answers++] = a;
	}
	r->off += rdlen;
	return 0;
}

int dnswire_parse(const uint8_t *p, size_t n, struct dns_msg *out)
{
	struct rd r = {.p = p, .n = n, .off = DNSWIRE_HEADER_LEN};
	uint16_t flags, counts[4];
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (n < DNSWIRE_HEADER_LEN)
		return WEFT_ERR_PARSE;
	out->id = be_get16(p);
	flags = be_get16(p + 2);
	out->qr = flags & 0x8000;
	out->opcode = (uint8_t)(flags >> 11 & 0xf);
	out->aa = flags & 0x0400;
	out->tc = flags & 0x0200;
	out->rd = flags & 0x0100;
	out->ra = flags & 0x0080;
	out->rcode = flags & 0xf;
	for (int i = 0; i < 4; i++)
		counts[i] = be_get16(p + 4 + 2 * i);
	if (counts[0] > DNSWIRE_QUESTIONS_MAX)
		return WEFT_ERR_UNSUPPORTED;
	for (size_t i = 0; rc == 0 && i < counts[0]; i++)
		rc = read_question(&r, &out->questions[i]);
	out->n_questions = counts[0];
	for (int s = 0; s < 3 && rc == 0; s++)
		for (size_t i = 0; rc == 0 && i < counts[s + 1]; i++)
			rc = read_rr(&r, s, out);
	if (rc == 0 && r.off != n)
		rc = WEFT_ERR_PARSE;
	return rc;
}

bool dnswire_name_valid(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0)
		return true;
	if (len > DNSWIRE_NAME_MAX - 1)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > LABEL_MAX)
				return false;
			label = 0;
		} else if (!label_byte_ok((uint8_t)s[i])) {
			return false;
		} else {
			label++;
		}
	}
	return true;
}

struct wr {
	uint8_t *p;
	size_t cap;
	size_t off;
};

static int put(struct wr *w, const void *src, size_t n)
{
	if (w->cap - w->off < n)
		return WEFT_ERR_TOOBIG;
	memcpy(w->p + w->off, src, n);
	w->off += n;
	return 0;
}

static int put16(struct wr *w, uint16_t v)
{
	uint8_t b[2];

	be_put16(b, v);
	return put(w, b, 2);
}

static int put32(struct wr *w, uint32_t v)
{
	uint8_t b[4];

	be_put32(b, v);
	return put(w, b, 4);
}

/* Writes name (already validated) uncompressed. */
static int put_name(struct wr *w, const char *name)
{
	const char *s = name;
	int rc = 0;

	while (*s && rc == 0) {
		size_t l = strcspn(s, ".");
		uint8_t lb = (uint8_t)l;

		rc = put(w, &lb, 1);
		if (rc == 0)
			rc = put(w, s, l);
		s += l + (s[l] == '.');
	}
	return rc == 0 ? put(w, "", 1) : rc;
}

static int put_opt(struct wr *w, uint16_t udp_size, bool dnssec_ok)
{
	int rc = put(w, "", 1);

	if (rc == 0)
		rc = put16(w, DNS_TYPE_OPT);
	if (rc == 0)
		rc = put16(w, udp_size);
	if (rc == 0)
		rc = put32(w, dnssec_ok ? 0x8000u : 0);
	return rc == 0 ? put16(w, 0) : rc;
}

int dnswire_query_build(uint16_t id, const char *name, uint16_t type,
			uint16_t edns_udp_size, bool dnssec_ok, uint8_t *buf,
			size_t cap)
{
	struct wr w = {.p = buf, .cap = cap};
	uint8_t h[DNSWIRE_HEADER_LEN] = {0};
	int rc;

	if (!dnswire_name_valid(name))
		return WEFT_ERR_INVAL;
	be_put16(h, id);
	be_put16(h + 2, 0x0100); /* RD */
	be_put16(h + 4, 1);
	be_put16(h + 10, edns_udp_size > 0);
	rc = put(&w, h, sizeof(h));
	if (rc == 0)
		rc = put_name(&w, name);
	if (rc == 0)
		rc = put16(&w, type);
	if (rc == 0)
		rc = put16(&w, DNS_CLASS_IN);
	if (rc == 0 && edns_udp_size > 0)
		rc = put_opt(&w, edns_udp_size, dnssec_ok);
	return rc == 0 ? (int)w.off : rc;
}

static int put_answer(struct wr *w, const struct dns_question *q,
		      const struct dns_answer *a)
{
	size_t len_at;
	int rc;

	if (strcmp(a->name, q->name) == 0)
		rc = put16(w, 0xc000 | DNSWIRE_HEADER_LEN);
	else
		rc = put_name(w, a->name);
	if (rc == 0)
		rc = put16(w, a->type);
	if (rc == 0)
		rc = put16(w, DNS_CLASS_IN);
	if (rc == 0)
		rc = put32(w, a->ttl);
	len_at = w->off;
	if (rc == 0)
		rc = put16(w, 0);
	if (rc != 0)
		return rc;
	if (a->type == DNS_TYPE_PTR)
		rc = put_name(w, a->target);
	else
		rc = put(w, a->addr.b, a->type == DNS_TYPE_A ? 4 : 16);
	if (rc == 0)
		be_put16(w->p + len_at, (uint16_t)(w->off - len_at - 2));
	return rc;
}

static bool answer_ok(const struct dns_answer *a)
{
	if (!dnswire_name_valid(a->name))
		return false;
	if (a->type == DNS_TYPE_A)
		return a->addr.family == 4;
	if (a->type == DNS_TYPE_AAAA)
		return a->addr.family == 6;
	return a->type == DNS_TYPE_PTR && dnswire_name_valid(a->target);
}

int dnswire_response_build(const struct dns_msg *q, const struct dns_reply *r,
			   uint8_t *buf, size_t cap)
{
	const struct dns_question *qq = &q->questions[0];
	size_t limit = r->max_size < cap ? r->max_size : cap;
	size_t reserve = q->edns ? OPT_LEN : 0, fitted = 0;
	struct wr w = {.p = buf};
	uint8_t h[DNSWIRE_HEADER_LEN] = {0};
	uint16_t flags;
	int rc;

	if (q->n_questions != 1 || !dnswire_name_valid(qq->name) ||
	    r->rcode > 0xf)
		return WEFT_ERR_INVAL;
	for (size_t i = 0; i < r->n_answers; i++)
		if (!answer_ok(&r->answers[i]))
			return WEFT_ERR_INVAL;
	if (limit < reserve)
		return WEFT_ERR_TOOBIG;
	w.cap = limit - reserve;
	rc = put(&w, h, sizeof(h));
	if (rc == 0)
		rc = put_name(&w, qq->name);
	if (rc == 0)
		rc = put16(&w, qq->type);
	if (rc == 0)
		rc = put16(&w, qq->qclass);
	if (rc != 0)
		return rc;
	for (; fitted < r->n_answers; fitted++) {
		size_t before = w.off;

		if (put_answer(&w, qq, &r->answers[fitted]) != 0) {
			w.off = before;
			break;
		}
	}
	flags = (uint16_t)(0x8000 | (q->opcode & 0xf) << 11 |
			   (q->rd ? 0x0100 : 0) | 0x0080 | r->rcode);
	if (fitted < r->n_answers)
		flags |= 0x0200; /* TC */
	be_put16(buf, q->id);
	be_put16(buf + 2, flags);
	be_put16(buf + 4, 1);
	be_put16(buf + 6, (uint16_t)fitted);
	if (q->edns) {
		w.cap = limit;
		be_put16(buf + 10, 1);
		rc = put_opt(&w, r->edns_udp_size, q->edns_do);
	}
	return rc == 0 ? (int)w.off : rc;
}

size_t dnswire_answer_addrs(const struct dns_msg *m, const char *name,
			    uint16_t type, struct ip_addr *out, size_t max,
			    uint32_t *ttl)
{
	const char *want = name;
	uint32_t min_ttl = UINT32_MAX;
	size_t got = 0;

	for (int hop = 0; hop <= 8; hop++) {
		const char *next = NULL;

		for (size_t i = 0; i < m->n_answers; i++) {
			const struct dns_answer *a = &m->answers[i];

			if (strcmp(a->name, want) != 0)
				continue;
			if (a->type == type && got < max) {
				out[got++] = a->addr;
				min_ttl = a->ttl < min_ttl ? a->ttl : min_ttl;
			} else if (a->type == DNS_TYPE_CNAME && !next) {
				next = a->target;
				min_ttl = a->ttl < min_ttl ? a->ttl : min_ttl;
			}
		}
		if (got > 0 || !next)
			break;
		want = next;
	}
	if (got > 0)
		*ttl = min_ttl;
	return got;
}
