/* Feeds arbitrary bytes, as the host of a stream header a peer sends, to
 * the connector's target check (agent/streamtarget.h) over a fixed set of
 * served resources. What it accepts must be a resource of the set, with
 * an address inside it that may be dialed, or a valid lower-case name
 * the resource covers; the filter's packet must come from the peer's
 * address of its destination's family. */
#include "agent/resnames.h"
#include "agent/streamtarget.h"
#include "shared/err.h"

#include <jansson.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a connector serves (the map's "serves"), parsed once. */
static const char serves_text[] =
	"{\"version\": 1, \"full\": true, \"self\": {\"id\": 1, \"name\": "
	"\"c\", \"ipv4\": \"100.64.0.1\", \"tags\": [], \"user\": \"u\"}, "
	"\"peers\": [], \"filter\": [], \"relays\": [], \"serves\": ["
	"{\"id\": 1, \"name\": \"lan\", \"type\": \"cidr\", \"address\": "
	"\"10.8.0.0/16\", \"prefixes\": [\"10.8.0.0/16\"], \"filters\": []},"
	"{\"id\": 2, \"name\": \"db\", \"type\": \"dns\", \"address\": "
	"\"db.corp.test\", \"prefixes\": [\"100.96.0.1/32\", "
	"\"fd7a:115c:a1e0:ffff::6460:1/128\"], \"filters\": []},"
	"{\"id\": 3, \"name\": \"w\", \"type\": \"wildcard\", \"address\": "
	"\"*.wild.test\", \"prefixes\": [\"100.104.0.0/24\"], "
	"\"filters\": []},"
	"{\"id\": 4, \"name\": \"v6\", \"type\": \"ip\", \"address\": "
	"\"2001:db8::5\", \"prefixes\": [\"2001:db8::5/128\"], "
	"\"filters\": []},"
	"{\"id\": 5, \"name\": \"exit\", \"type\": \"internet\", "
	"\"address\": \"internet\", \"prefixes\": [\"0.0.0.0/0\", "
	"\"::/0\"], \"filters\": []}]}";

static const struct map_res *serves(size_t *n)
{
	static struct map *m;
	json_t *j;

	if (!m) {
		j = json_loads(serves_text, 0, NULL);
		if (!j || map_new(&m) < 0 ||
		    map_apply(m, j, NULL, NULL, 0) < 0)
			abort();
		json_decref(j);
	}
	return map_serves(m, n);
}

static bool covered(const struct map_res *r, const struct ip_addr *a)
{
	for (size_t i = 0; i < r->nprefixes; i++)
		if (ip_prefix_contains(&r->prefixes[i], a))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	const struct map_res *v = serves(&n);
	char host[STREAMHDR_HOST_MAX + 1], low[DNSWIRE_NAME_MAX];
	struct streamtarget_in in;
	struct map_peer p;
	const struct map_res *r;

	if (size > STREAMHDR_HOST_MAX || memchr(data, 0, size))
		return 0;
	memcpy(host, data, size);
	host[size] = '\0';
	memset(&p, 0, sizeof(p));
	ip_addr_parse("100.64.0.2", &p.ipv4);
	ip_addr_parse("fd7a:115c:a1e0::2", &p.ipv6);
	if (streamtarget_accept(v, n, &p, host, &in) != 0)
		return 0;
	if (in.res_id < 1 || in.res_id > (int64_t)n || v[in.res_id - 1].id !=
	    in.res_id)
		abort();
	r = &v[in.res_id - 1];
	if (!covered(r, &in.dst) ||
	    !ip_addr_eq(&in.src, in.dst.family == 4 ? &p.ipv4 : &p.ipv6))
		abort();
	if (in.addr.family) {
		if (!streamtarget_dialable(&in.addr) ||
		    !ip_addr_eq(&in.addr, &in.dst) || in.name[0] ||
		    (r->type != MAP_RES_IP && r->type != MAP_RES_CIDR &&
		     r->type != MAP_RES_INTERNET))
			abort();
		return 0;
	}
	if (resnames_normalise(host, low) != 0 || strcmp(low, in.name) != 0 ||
	    resnames_find(v, n, in.name) != r)
		abort();
	return 0;
}
