/* Fuzzes the stub resolver's query path without sockets: the bytes are
 * a query (shared/dnswire.h parses it), the answer is decided against a
 * fixed map (agent/dnsanswer.h) and built as the stub builds it, and the
 * same bytes, read as an upstream answer, go through the cache's TTL scan
 * (agent/dnsttl.h). Nothing may read past the input or crash; a built
 * answer must parse again. */
#include "agent/dnsanswer.h"
#include "agent/dnsttl.h"
#include "agent/map.h"
#include "shared/dnswire.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char map_text[] =
	"{\"version\": 1, \"full\": true, \"self\": {\"id\": 1, \"name\": "
	"\"a\", \"ipv4\": \"100.64.0.1\", \"ipv6\": \"fd7a:115c:a1e0::1\"}, "
	"\"peers\": [{\"id\": 2, \"name\": \"c\", \"dns_name\": "
	"\"c.weft.internal\", \"public_key\": null, \"ipv4\": \"100.64.0.2\", "
	"\"ipv6\": \"fd7a:115c:a1e0::2\", \"allowed_ips\": [\"100.64.0.2/32\"], "
	"\"endpoints\": [], \"home_relay\": null, \"online\": true}], "
	"\"filter\": [], \"dns\": {\"suffix\": \"weft.internal\", "
	"\"resources\": [{\"name\": \"db\", \"address\": \"db.corp.example\"}]}, "
	"\"relays\": [], \"resources\": [{\"id\": 8, \"name\": \"db\", "
	"\"type\": \"dns\", \"address\": \"db.corp.example\", \"prefixes\": "
	"[\"100.96.0.1/32\"], \"filters\": [], \"connectors\": [2]}]}";

static struct map *the_map(void)
{
	static struct map *m;
	json_t *j;

	if (m)
		return m;
	j = json_loads(map_text, 0, NULL);
	if (!j || map_new(&m) < 0 || map_apply(m, j, NULL, NULL, 0) < 0)
		abort();
	json_decref(j);
	return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	struct ip_endpoint host = {.port = 53};
	struct dnsanswer_cfg cfg = {.host = &host, .nhost = 1};
	struct dns_answer rr[DNSANSWER_MAX_RR];
	uint16_t offs[512];
	struct dnsttl t = {.offs = offs, .max = 512};
	static struct dns_msg q, back;
	struct dnsanswer a;
	struct dns_reply r = {.answers = rr, .max_size = 512};
	int n;

	host.addr.family = 4;
	dnsttl_scan(data, size, &t);
	if (dnswire_parse(data, size, &q) < 0 || q.n_questions != 1 ||
	    dnsanswer_lookup(the_map(), &cfg, q.questions[0].name,
			     q.questions[0].type, &a) < 0 ||
	    a.action != DNSANSWER_LOCAL)
		return 0;
	for (size_t i = 0; i < a.nrr; i++) {
		memset(&rr[i], 0, sizeof(rr[i]));
		memcpy(rr[i].name, q.questions[0].name, DNSWIRE_NAME_MAX);
		rr[i].type = a.rr[i].type;
		rr[i].ttl = a.ttl;
		rr[i].addr = a.rr[i].addr;
		snprintf(rr[i].target, sizeof(rr[i].target), "%s",
			 a.rr[i].ptr);
	}
	r.rcode = (uint16_t)a.rcode;
	r.n_answers = a.nrr;
	n = dnswire_response_build(&q, &r, out, sizeof(out));
	if (n > 0 && dnswire_parse(out, (size_t)n, &back) < 0)
		abort();
	return 0;
}
