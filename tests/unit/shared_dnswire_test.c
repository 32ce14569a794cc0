#include "check.h"
#include "shared/dnswire.h"
#include "shared/err.h"
#include "shared/ip.h"

#include <stdlib.h>

/* Bytes captured from dig 9.18 and dnsmasq 2.90 (--addn-hosts with
 * db.corp.test = 10.9.0.5 and fd00::5, --cname=alias.corp.test,db.corp.test,
 * --local=/corp.test/, --local-ttl=60). */

/* dig db.corp.test A: EDNS0 with a COOKIE option, UDP size 1232. */
static const uint8_t dig_query[] = {
	0x4a, 0x81, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x02, 0x64, 0x62, 0x04, 0x63, 0x6f, 0x72, 0x70, 0x04, 0x74, 0x65, 0x73,
	0x74, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x08, 0x61, 0x10, 0xcd,
	0xb8, 0x3f, 0xc5, 0xa4, 0x55,
};

/* dig +noedns www.example.com AAAA. */
static const uint8_t dig_plain_query[] = {
	0x1b, 0x08, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x03, 0x77, 0x77, 0x77, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
	0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x1c, 0x00, 0x01,
};

/* dnsmasq's answer to dig_query: 10.9.0.5, TTL 60, owner compressed. */
static const uint8_t dnsmasq_a[] = {
	0x4a, 0x81, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
	0x02, 0x64, 0x62, 0x04, 0x63, 0x6f, 0x72, 0x70, 0x04, 0x74, 0x65, 0x73,
	0x74, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01,
	0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 0x0a, 0x09, 0x00, 0x05, 0x00, 0x00,
	0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* The AAAA answer for db.corp.test: fd00::5. */
static const uint8_t dnsmasq_aaaa[] = {
	0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
	0x02, 0x64, 0x62, 0x04, 0x63, 0x6f, 0x72, 0x70, 0x04, 0x74, 0x65, 0x73,
	0x74, 0x00, 0x00, 0x1c, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x1c, 0x00, 0x01,
	0x00, 0x00, 0x00, 0x3c, 0x00, 0x10, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00,
	0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* dx.corp.test A: NXDOMAIN. */
static const uint8_t dnsmasq_nx[] = {
	0x4a, 0x81, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x02, 0x64, 0x78, 0x04, 0x63, 0x6f, 0x72, 0x70, 0x04, 0x74, 0x65, 0x73,
	0x74, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00,
};

/* alias.corp.test A: a CNAME to db.corp.test, whose A record's owner is a
 * pointer into the CNAME's rdata (offset 45). */
static const uint8_t dnsmasq_cname[] = {
	0x4a, 0x81, 0x85, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x05, 0x61, 0x6c, 0x69, 0x61, 0x73, 0x04, 0x63, 0x6f, 0x72, 0x70, 0x04,
	0x74, 0x65, 0x73, 0x74, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00,
	0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x0e, 0x02, 0x64, 0x62,
	0x04, 0x63, 0x6f, 0x72, 0x70, 0x04, 0x74, 0x65, 0x73, 0x74, 0x00, 0xc0,
	0x2d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 0x0a,
	0x09, 0x00, 0x05,
};

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	memset(&a, 0, sizeof(a));
	if (ip_addr_parse(s, &a) != 0)
		check_report(false, __FILE__, __LINE__, "bad address %s", s);
	return a;
}

static struct dns_msg *msg(void)
{
	struct dns_msg *m = calloc(1, sizeof(*m));

	CHECK(m != NULL);
	return m;
}

static void parses_a_dig_query_with_edns(void)
{
	struct dns_msg *m = msg();

	CHECK_INT(dnswire_parse(dig_query, sizeof(dig_query), m), 0);
	CHECK_INT(m->id, 0x4a81);
	CHECK(!m->qr && m->rd && m->opcode == 0);
	CHECK_INT((int)m->n_questions, 1);
	CHECK_STR(m->questions[0].name, "db.corp.test");
	CHECK_INT(m->questions[0].type, DNS_TYPE_A);
	CHECK_INT(m->questions[0].qclass, DNS_CLASS_IN);
	CHECK(m->edns);
	CHECK_INT(m->edns_udp_size, 1232);
	CHECK(!m->edns_do);
	CHECK_INT((int)m->n_answers, 0);
	free(m);
}

static void parses_a_query_without_edns(void)
{
	struct dns_msg *m = msg();

	CHECK_INT(dnswire_parse(dig_plain_query, sizeof(dig_plain_query), m),
		  0);
	CHECK_STR(m->questions[0].name, "www.example.com");
	CHECK_INT(m->questions[0].type, DNS_TYPE_AAAA);
	CHECK(!m->edns);
	free(m);
}

static void parses_a_and_aaaa_answers_with_ttl(void)
{
	struct dns_msg *m = msg();
	struct ip_addr got[4];
	struct ip_addr want4 = addr("10.9.0.5"), want6 = addr("fd00::5");
	uint32_t ttl = 0;

	CHECK_INT(dnswire_parse(dnsmasq_a, sizeof(dnsmasq_a), m), 0);
	CHECK(m->qr && m->ra && m->rcode == DNS_RCODE_NOERROR);
	CHECK_INT((int)m->n_answers, 1);
	CHECK_STR(m->answers[0].name, "db.corp.test");
	CHECK_INT((int)m->answers[0].ttl, 60);
	CHECK_INT((int)dnswire_answer_addrs(m, "db.corp.test", DNS_TYPE_A,
					    got, 4, &ttl),
		  1);
	CHECK(ip_addr_eq(&got[0], &want4));
	CHECK_INT((int)ttl, 60);
	CHECK_INT(dnswire_parse(dnsmasq_aaaa, sizeof(dnsmasq_aaaa), m), 0);
	CHECK_INT((int)dnswire_answer_addrs(m, "db.corp.test", DNS_TYPE_AAAA,
					    got, 4, &ttl),
		  1);
	CHECK(ip_addr_eq(&got[0], &want6));
	CHECK_INT((int)dnswire_answer_addrs(m, "db.corp.test", DNS_TYPE_A, got,
					    4, &ttl),
		  0);
	free(m);
}

static void parses_nxdomain(void)
{
	struct dns_msg *m = msg();

	CHECK_INT(dnswire_parse(dnsmasq_nx, sizeof(dnsmasq_nx), m), 0);
	CHECK_INT(m->rcode, DNS_RCODE_NXDOMAIN);
	CHECK_INT((int)m->n_answers, 0);
	CHECK_STR(m->questions[0].name, "dx.corp.test");
	free(m);
}

static void follows_a_cname_with_a_pointer_into_rdata(void)
{
	struct dns_msg *m = msg();
	struct ip_addr got[2], want = addr("10.9.0.5");
	uint32_t ttl = 0;

	CHECK_INT(dnswire_parse(dnsmasq_cname, sizeof(dnsmasq_cname), m), 0);
	CHECK_INT((int)m->n_answers, 2);
	CHECK_INT(m->answers[0].type, DNS_TYPE_CNAME);
	CHECK_STR(m->answers[0].target, "db.corp.test");
	CHECK_STR(m->answers[1].name, "db.corp.test");
	CHECK_INT((int)dnswire_answer_addrs(m, "alias.corp.test", DNS_TYPE_A,
					    got, 2, &ttl),
		  1);
	CHECK(ip_addr_eq(&got[0], &want));
	free(m);
}

static void rejects_every_truncation_and_trailing_bytes(void)
{
	const struct {
		const uint8_t *p;
		size_t n;
	} all[] = {
		{dig_query, sizeof(dig_query)},
		{dnsmasq_a, sizeof(dnsmasq_a)},
		{dnsmasq_aaaa, sizeof(dnsmasq_aaaa)},
		{dnsmasq_cname, sizeof(dnsmasq_cname)},
	};
	struct dns_msg *m = msg();
	uint8_t buf[128];

	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		for (size_t n = 0; n < all[k].n; n++)
			CHECK_INT(dnswire_parse(all[k].p, n, m),
				  WEFT_ERR_PARSE);
		memcpy(buf, all[k].p, all[k].n);
		buf[all[k].n] = 0;
		CHECK_INT(dnswire_parse(buf, all[k].n + 1, m), WEFT_ERR_PARSE);
	}
	free(m);
}

static void rejects_pointer_loops_and_forward_pointers(void)
{
	struct dns_msg *m = msg();
	/* Question name is a pointer to itself. */
	uint8_t self[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
			  0xc0, 12, 0, 1, 0, 1};
	/* Pointer to a later label. */
	uint8_t fwd[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
			 0xc0, 14, 1, 'a', 0, 0, 1, 0, 1};
	/* Labels at 12 then a pointer back to 12: a loop through labels. */
	uint8_t loop[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
			  1, 'a', 0xc0, 12, 0, 1, 0, 1};

	CHECK_INT(dnswire_parse(self, sizeof(self), m), WEFT_ERR_PARSE);
	CHECK_INT(dnswire_parse(fwd, sizeof(fwd), m), WEFT_ERR_PARSE);
	CHECK_INT(dnswire_parse(loop, sizeof(loop), m), WEFT_ERR_PARSE);
	free(m);
}

static void enforces_label_and_name_limits(void)
{
	struct dns_msg *m = msg();
	uint8_t buf[400] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t n = 12;

	/* A 64-byte label. */
	buf[n++] = 64;
	memset(buf + n, 'a', 64);
	n += 64;
	buf[n++] = 0;
	memcpy(buf + n, "\0\1\0\1", 4);
	CHECK_INT(dnswire_parse(buf, n + 4, m), WEFT_ERR_PARSE);
	/* 4 labels of 63: 257 bytes on the wire. */
	n = 12;
	for (int i = 0; i < 4; i++) {
		buf[n++] = 63;
		memset(buf + n, 'b', 63);
		n += 63;
	}
	buf[n++] = 0;
	memcpy(buf + n, "\0\1\0\1", 4);
	CHECK_INT(dnswire_parse(buf, n + 4, m), WEFT_ERR_PARSE);
	/* 3 x 63 + 61 = 255 bytes on the wire: the longest name. */
	n = 12;
	for (int i = 0; i < 4; i++) {
		buf[n++] = i < 3 ? 63 : 61;
		memset(buf + n, 'c', buf[n - 1]);
		n += buf[n - 1];
	}
	buf[n++] = 0;
	memcpy(buf + n, "\0\1\0\1", 4);
	CHECK_INT(dnswire_parse(buf, n + 4, m), 0);
	CHECK_INT((int)strlen(m->questions[0].name), 253);
	/* A dot inside a label has no text form. */
	buf[14] = '.';
	CHECK_INT(dnswire_parse(buf, n + 4, m), WEFT_ERR_PARSE);
	free(m);
}

static void lowercases_names(void)
{
	struct dns_msg *m = msg();
	uint8_t q[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		       2, 'D', 'b', 4, 'C', 'O', 'R', 'P', 0, 0, 1, 0, 1};

	CHECK_INT(dnswire_parse(q, sizeof(q), m), 0);
	CHECK_STR(m->questions[0].name, "db.corp");
	free(m);
}

static void rejects_bad_answers_and_opt_records(void)
{
	struct dns_msg *m = msg();
	const uint8_t opt_a[] = {0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 1,
				 0, 0, 1, 0, 1,
				 1, 'a', 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
	const uint8_t opt_twice[] = {
		0, 1, 0x80, 3, 0, 1, 0, 0, 0, 0, 0, 2,
		0, 0, 1, 0, 1,
		0, 0, 41, 4, 0xd0, 1, 0, 0x80, 0, 0, 0,
		0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
	uint8_t once[sizeof(opt_twice) - 11];

	/* A record with rdlength 5 (and one more byte to keep framing). */
	uint8_t a5[sizeof(dnsmasq_a) - 11 + 1];
	memcpy(a5, dnsmasq_a, 46);
	a5[11] = 0; /* no OPT */
	a5[41] = 5;
	a5[46] = 0;
	CHECK_INT(dnswire_parse(a5, sizeof(a5), m), WEFT_ERR_PARSE);
	/* OPT owned by a non-root name, then two OPT records. */
	CHECK_INT(dnswire_parse(opt_a, sizeof(opt_a), m), WEFT_ERR_PARSE);
	CHECK_INT(dnswire_parse(opt_twice, sizeof(opt_twice), m),
		  WEFT_ERR_PARSE);
	memcpy(once, opt_twice, sizeof(once));
	once[11] = 1;
	CHECK_INT(dnswire_parse(once, sizeof(once), m), 0);
	CHECK(m->edns && m->edns_do && m->edns_udp_size == 1232);
	CHECK_INT(m->rcode, 0x13); /* extended rcode 1, header rcode 3 */
	free(m);
}

static void skips_other_types_and_keeps_at_most_the_limit(void)
{
	struct dns_msg *m = msg();
	uint8_t buf[1024];
	size_t n = 12;
	uint16_t count = DNSWIRE_ANSWERS_MAX + 3;

	memset(buf, 0, n);
	buf[2] = 0x80;
	buf[6] = (uint8_t)(count >> 8);
	buf[7] = (uint8_t)count;
	for (int i = 0; i < count; i++) {
		/* root owner; TXT for the first, A after */
		uint8_t rr[] = {0, 0, i == 0 ? 16 : 1, 0, 1, 0, 0, 0, 9,
				0, 4, 10, 0, 0, (uint8_t)i};
		memcpy(buf + n, rr, sizeof(rr));
		n += sizeof(rr);
	}
	CHECK_INT(dnswire_parse(buf, n, m), 0);
	CHECK_INT((int)m->n_answers, DNSWIRE_ANSWERS_MAX);
	CHECK_INT(m->answers[0].addr.b[3], 1);
	CHECK_STR(m->answers[0].name, "");
	free(m);
}

static void rejects_too_many_questions(void)
{
	struct dns_msg *m = msg();
	uint8_t q[] = {0, 1, 0, 0, 0, DNSWIRE_QUESTIONS_MAX + 1, 0, 0, 0, 0,
		       0, 0};

	CHECK_INT(dnswire_parse(q, sizeof(q), m), WEFT_ERR_UNSUPPORTED);
	free(m);
}

static void builds_queries_that_parse_back(void)
{
	struct dns_msg *m = msg();
	uint8_t buf[300];
	int n;

	n = dnswire_query_build(0xbeef, "db.corp.test", DNS_TYPE_AAAA, 1232,
				true, buf, sizeof(buf));
	CHECK_INT(n, 12 + 14 + 4 + 11);
	CHECK_INT(dnswire_parse(buf, (size_t)n, m), 0);
	CHECK_INT(m->id, 0xbeef);
	CHECK(m->rd && !m->qr);
	CHECK_STR(m->questions[0].name, "db.corp.test");
	CHECK_INT(m->questions[0].type, DNS_TYPE_AAAA);
	CHECK(m->edns && m->edns_do && m->edns_udp_size == 1232);
	n = dnswire_query_build(7, "www.example.com", DNS_TYPE_AAAA, 0, false,
				buf, sizeof(buf));
	CHECK_INT(n, (int)sizeof(dig_plain_query));
	/* dig also sets AD; the rest is the same bytes. */
	CHECK_MEM(buf + 4, dig_plain_query + 4, (size_t)n - 4);
	CHECK_INT(dnswire_query_build(7, "a..b", DNS_TYPE_A, 0, false, buf,
				      sizeof(buf)),
		  WEFT_ERR_INVAL);
	CHECK_INT(dnswire_query_build(7, "a.b.", DNS_TYPE_A, 0, false, buf,
				      sizeof(buf)),
		  WEFT_ERR_INVAL);
	CHECK_INT(dnswire_query_build(7, "a.b", DNS_TYPE_A, 0, false, buf, 20),
		  WEFT_ERR_TOOBIG);
	free(m);
}

static void validates_names(void)
{
	char long_label[70], long_name[260];

	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	memset(long_name, 'a', 254);
	for (int i = 1; i < 254; i += 2)
		long_name[i] = '.';
	long_name[253] = '\0';
	CHECK(dnswire_name_valid(""));
	CHECK(dnswire_name_valid("db.corp.test"));
	CHECK(dnswire_name_valid("_sip._tcp.example"));
	CHECK(dnswire_name_valid(long_name));
	long_name[253] = 'a';
	long_name[254] = '\0';
	CHECK(!dnswire_name_valid(long_name));
	CHECK(!dnswire_name_valid(long_label));
	CHECK(!dnswire_name_valid("."));
	CHECK(!dnswire_name_valid("a b"));
	CHECK(!dnswire_name_valid(".a"));
}

static void response_answers_the_dig_query_like_dnsmasq(void)
{
	struct dns_msg *q = msg(), *r = msg();
	struct dns_answer an;
	struct dns_reply reply = {.rcode = DNS_RCODE_NOERROR,
				  .answers = &an,
				  .n_answers = 1,
				  .max_size = 1232,
				  .edns_udp_size = 1232};
	uint8_t buf[600];
	int n;

	memset(&an, 0, sizeof(an));
	strcpy(an.name, "db.corp.test");
	an.type = DNS_TYPE_A;
	an.ttl = 60;
	an.addr = addr("10.9.0.5");
	CHECK_INT(dnswire_parse(dig_query, sizeof(dig_query), q), 0);
	n = dnswire_response_build(q, &reply, buf, sizeof(buf));
	/* dnsmasq sets AA on local data; we are a forwarder and do not. */
	CHECK_INT(n, (int)sizeof(dnsmasq_a));
	buf[2] |= 0x04;
	CHECK_MEM(buf, dnsmasq_a, sizeof(dnsmasq_a));
	CHECK_INT(dnswire_parse(buf, (size_t)n, r), 0);
	free(q);
	free(r);
}

static void response_carries_rcodes_ptr_and_no_edns_when_not_asked(void)
{
	struct dns_msg *q = msg(), *r = msg();
	struct dns_answer an;
	struct dns_reply reply = {.rcode = DNS_RCODE_NXDOMAIN,
				  .max_size = 512};
	uint8_t buf[512];
	int n;

	CHECK_INT(dnswire_parse(dig_plain_query, sizeof(dig_plain_query), q),
		  0);
	n = dnswire_response_build(q, &reply, buf, sizeof(buf));
	CHECK_INT(dnswire_parse(buf, (size_t)n, r), 0);
	CHECK(r->qr && !r->tc && !r->edns);
	CHECK_INT(r->rcode, DNS_RCODE_NXDOMAIN);
	CHECK_INT(r->id, 0x1b08);
	memset(&an, 0, sizeof(an));
	strcpy(an.name, "5.0.9.10.in-addr.arpa");
	an.type = DNS_TYPE_PTR;
	an.ttl = 30;
	strcpy(an.target, "db.corp.test");
	reply.rcode = DNS_RCODE_NOERROR;
	reply.answers = &an;
	reply.n_answers = 1;
	n = dnswire_response_build(q, &reply, buf, sizeof(buf));
	CHECK_INT(dnswire_parse(buf, (size_t)n, r), 0);
	CHECK_INT((int)r->n_answers, 1);
	CHECK_STR(r->answers[0].target, "db.corp.test");
	CHECK_STR(r->answers[0].name, "5.0.9.10.in-addr.arpa");
	/* A type mismatch is refused. */
	an.type = DNS_TYPE_A;
	CHECK_INT(dnswire_response_build(q, &reply, buf, sizeof(buf)),
		  WEFT_ERR_INVAL);
	free(q);
	free(r);
}

static void response_truncates_and_sets_tc(void)
{
	struct dns_msg *q = msg(), *r = msg();
	struct dns_answer an[40];
	struct dns_reply reply = {.answers = an,
				  .n_answers = 40,
				  .max_size = 512,
				  .edns_udp_size = 1232};
	uint8_t buf[2048];
	int n;

	memset(an, 0, sizeof(an));
	for (int i = 0; i < 40; i++) {
		strcpy(an[i].name, "db.corp.test");
		an[i].type = DNS_TYPE_AAAA;
		an[i].addr = addr("fd00::1");
		an[i].addr.b[15] = (uint8_t)i;
	}
	CHECK_INT(dnswire_parse(dig_query, sizeof(dig_query), q), 0);
	n = dnswire_response_build(q, &reply, buf, sizeof(buf));
	CHECK(n > 0 && n <= 512);
	CHECK_INT(dnswire_parse(buf, (size_t)n, r), 0);
	CHECK(r->tc && r->edns);
	/* 512 - 12 header - 18 question - 11 OPT = 471; 28 per answer. */
	CHECK_INT(buf[7], 471 / 28);
	reply.max_size = 4096;
	n = dnswire_response_build(q, &reply, buf, sizeof(buf));
	CHECK_INT(dnswire_parse(buf, (size_t)n, r), 0);
	CHECK(!r->tc);
	CHECK_INT(buf[7], 40);
	reply.max_size = 20;
	CHECK_INT(dnswire_response_build(q, &reply, buf, sizeof(buf)),
		  WEFT_ERR_TOOBIG);
	free(q);
	free(r);
}

static const struct check_case cases[] = {
	CHECK_CASE(parses_a_dig_query_with_edns),
	CHECK_CASE(parses_a_query_without_edns),
	CHECK_CASE(parses_a_and_aaaa_answers_with_ttl),
	CHECK_CASE(parses_nxdomain),
	CHECK_CASE(follows_a_cname_with_a_pointer_into_rdata),
	CHECK_CASE(rejects_every_truncation_and_trailing_bytes),
	CHECK_CASE(rejects_pointer_loops_and_forward_pointers),
	CHECK_CASE(enforces_label_and_name_limits),
	CHECK_CASE(lowercases_names),
	CHECK_CASE(rejects_bad_answers_and_opt_records),
	CHECK_CASE(skips_other_types_and_keeps_at_most_the_limit),
	CHECK_CASE(rejects_too_many_questions),
	CHECK_CASE(builds_queries_that_parse_back),
	CHECK_CASE(validates_names),
	CHECK_CASE(response_answers_the_dig_query_like_dnsmasq),
	CHECK_CASE(response_carries_rcodes_ptr_and_no_edns_when_not_asked),
	CHECK_CASE(response_truncates_and_sets_tc),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
