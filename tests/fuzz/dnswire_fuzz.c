/* Feeds arbitrary bytes to the DNS message parser. Whatever parses must
 * hold only valid names and consistent answers; a parsed message with one
 * question must be answerable: the response built from it (with its own
 * A/AAAA answers copied, truncated to a limit taken from the input) must
 * parse back with the same id, question and OPT echo, no larger than the
 * limit, TC set exactly when answers were dropped. A parsed question must
 * also survive being built into a query and parsed again. */
#include "shared/dnswire.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dns_msg m, back;
static uint8_t buf[4096];

static void check_parsed(void)
{
	for (size_t i = 0; i < m.n_questions; i++)
		if (!dnswire_name_valid(m.questions[i].name))
			abort();
	if (m.n_answers > DNSWIRE_ANSWERS_MAX)
		abort();
	for (size_t i = 0; i < m.n_answers; i++) {
		const struct dns_answer *a = &m.answers[i];

		if (!dnswire_name_valid(a->name) || a->ttl > 0x7fffffffu)
			abort();
		if ((a->type == DNS_TYPE_A && a->addr.family != 4) ||
		    (a->type == DNS_TYPE_AAAA && a->addr.family != 6) ||
		    ((a->type == DNS_TYPE_CNAME || a->type == DNS_TYPE_PTR) &&
		     !dnswire_name_valid(a->target)))
			abort();
	}
}

static void check_query_round_trip(void)
{
	const struct dns_question *q = &m.questions[0];
	int n = dnswire_query_build(m.id, q->name, q->type, m.edns_udp_size,
				    m.edns_do, buf, sizeof(buf));

	if (n <= 0 || dnswire_parse(buf, (size_t)n, &back) != 0 ||
	    back.id != m.id || strcmp(back.questions[0].name, q->name) != 0 ||
	    back.questions[0].type != q->type ||
	    back.edns != (m.edns_udp_size > 0))
		abort();
}

static void check_response(size_t limit)
{
	struct dns_answer an[DNSWIRE_ANSWERS_MAX];
	struct dns_reply r = {.answers = an, .max_size = limit,
			      .edns_udp_size = 1232};
	int n;

	for (size_t i = 0; i < m.n_answers; i++)
		if (m.answers[i].type == DNS_TYPE_A ||
		    m.answers[i].type == DNS_TYPE_AAAA ||
		    m.answers[i].type == DNS_TYPE_PTR)
			an[r.n_answers++] = m.answers[i];
	r.rcode = m.rcode & 0xf;
	n = dnswire_response_build(&m, &r, buf, sizeof(buf));
	if (n == WEFT_ERR_TOOBIG)
		return;
	if (n <= 0 || (size_t)n > limit ||
	    dnswire_parse(buf, (size_t)n, &back) != 0 || back.id != m.id ||
	    !back.qr || back.edns != m.edns || back.edns_do != m.edns_do ||
	    back.rcode != r.rcode ||
	    strcmp(back.questions[0].name, m.questions[0].name) != 0 ||
	    back.tc != (back.n_answers < r.n_answers))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc = dnswire_parse(data, size, &m);

	if (rc != 0) {
		if (rc != WEFT_ERR_PARSE && rc != WEFT_ERR_UNSUPPORTED)
			abort();
		return 0;
	}
	check_parsed();
	if (m.n_questions != 1)
		return 0;
	check_query_round_trip();
	check_response(size > 0 ? 12 + (size_t)data[size - 1] * 8 : 512);
	return 0;
}
