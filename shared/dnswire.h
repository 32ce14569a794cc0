/* A small, strict DNS message codec (RFC 1035, EDNS0 from RFC 6891): just
 * what the agent's resolver client and its stub DNS server need.
 *
 * Parsing reads the header, the questions, the answers of type A, AAAA,
 * CNAME and PTR (other types and classes are checked for framing and
 * skipped), the authority section (framing only) and the additional
 * section (the EDNS0 OPT record: UDP size, DO bit, version, extended
 * rcode; other records skipped). Names are decompressed; a pointer must
 * point before the start of the name segment it is in, so loops and
 * forward pointers are rejected. Labels are at most 63 bytes, names at
 * most 255 on the wire; labels holding '.' or bytes outside printable
 * ASCII are rejected (they have no dotted-text form). A message shorter
 * than its counts say, or with bytes after its last record, is rejected.
 *
 * Names are lower-case dotted text without the trailing dot; the root is
 * "". Pure codec: no I/O, no allocation. */
#ifndef WEFT_DNSWIRE_H
#define WEFT_DNSWIRE_H

#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSWIRE_HEADER_LEN 12
#define DNSWIRE_NAME_MAX 254     /* 253 characters + NUL */
#define DNSWIRE_QUESTIONS_MAX 4  /* more questions: WEFT_ERR_UNSUPPORTED */
#define DNSWIRE_ANSWERS_MAX 16   /* later answers are checked, not kept */
#define DNSWIRE_UDP_MIN 512      /* RFC 1035 UDP payload without EDNS0 */

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_OPT = 41,
};

#define DNS_CLASS_IN 1

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
};

struct dns_question {
	char name[DNSWIRE_NAME_MAX];
	uint16_t type;
	uint16_t qclass;
};

/* One answer record of class IN. addr is set for A and AAAA, target for
 * CNAME and PTR. */
struct dns_answer {
	char name[DNSWIRE_NAME_MAX];
	uint16_t type;
	uint32_t ttl;
	struct ip_addr addr;
	char target[DNSWIRE_NAME_MAX];
};

struct dns_msg {
	uint16_t id;
	bool qr, aa, tc, rd, ra;
	uint8_t opcode;
	uint16_t rcode; /* 4 header bits, plus the OPT record's upper 8 bits */
	size_t n_questions;
	struct dns_question questions[DNSWIRE_QUESTIONS_MAX];
	size_t n_answers; /* kept ones, at most DNSWIRE_ANSWERS_MAX */
	struct dns_answer answers[DNSWIRE_ANSWERS_MAX];
	bool edns;             /* an OPT record was present */
	uint16_t edns_udp_size; /* its UDP payload size */
	uint8_t edns_version;
	bool edns_do;          /* DNSSEC OK */
};

/* Parses p[0..n) into *out (overwritten, also on failure). Returns 0;
 * WEFT_ERR_PARSE for a malformed message (truncated, trailing bytes, bad
 * name, wrong rdata length for A/AAAA, CNAME/PTR rdata not exactly one
 * name, two OPT records or one not owned by the root); WEFT_ERR_UNSUPPORTED
 * for more than DNSWIRE_QUESTIONS_MAX questions. */
int dnswire_parse(const uint8_t *p, size_t n, struct dns_msg *out);

/* True when s is a name this codec can put on the wire: "" (the root) or
 * labels of 1..63 printable ASCII bytes other than '.', 253 characters at
 * most, no trailing dot. Case is not checked. */
bool dnswire_name_valid(const char *s);

/* Builds a recursive query (RD set) for name and type with id in buf (cap
 * bytes). edns_udp_size > 0 adds an OPT record announcing that UDP size
 * (with the DO bit when dnssec_ok). Returns the length; WEFT_ERR_INVAL for
 * a name dnswire_name_valid rejects; WEFT_ERR_TOOBIG when cap is too
 * small (buf contents undefined). */
int dnswire_query_build(uint16_t id, const char *name, uint16_t type,
			uint16_t edns_udp_size, bool dnssec_ok, uint8_t *buf,
			size_t cap);

/* What a response built by dnswire_response_build says. */
struct dns_reply {
	uint16_t rcode;          /* DNS_RCODE_*, below 16 */
	const struct dns_answer *answers; /* A, AAAA or PTR; may be NULL */
	size_t n_answers;
	size_t max_size;         /* truncate to this (e.g. 512 or EDNS size) */
	uint16_t edns_udp_size;  /* announced in the OPT echo */
};

/* Builds the response to query q (one question) in buf (cap bytes): same
 * id, opcode, RD and question; QR and RA set; rcode and the answers from
 * r (owner names equal to the question's are compressed to it). An OPT
 * record is added when q had one, echoing its DO bit. When the answers
 * do not all fit in min(r->max_size, cap), as many as fit are kept and TC
 * is set. Returns the length; WEFT_ERR_INVAL when q has not exactly one
 * question, an answer is not A/AAAA/PTR, its address family does not
 * match its type, or a name is invalid; WEFT_ERR_TOOBIG when not even the
 * header, question and OPT fit. */
int dnswire_response_build(const struct dns_msg *q, const struct dns_reply *r,
			   uint8_t *buf, size_t cap);

/* Collects the addresses of type (A or AAAA) that m answers for name,
 * following CNAME records from name (at most 8 hops), into out (at most
 * max). *ttl gets the smallest TTL of the records used (CNAMEs included),
 * untouched when none is found. Returns how many addresses were stored. */
size_t dnswire_answer_addrs(const struct dns_msg *m, const char *name,
			    uint16_t type, struct ip_addr *out, size_t max,
			    uint32_t *ttl);

#endif
