/* Fuzzes agent/filter. Input starting with '[' is a filter rule list: it
 * must compile or fail cleanly, and a compiled list is exercised with a
 * few fixed packets. Any other input is a sequence of packets (u16 length,
 * u8 flags, bytes) run through packet_parse and then, by a flag bit,
 * filter_track_out or filter_check_in against fixed rules. Invariants: a
 * packet the rules allow is never denied; the reply to a tracked flow is
 * allowed right after; the counters add up to the packets checked. */
#include "agent/filter.h"
#include "agent/mapjson.h"
#include "shared/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rules_json[] =
	"[{\"proto\":\"tcp\",\"src\":[\"100.64.0.0/10\",\"fd7a::/16\"],"
	"\"dst\":[{\"prefix\":\"100.64.0.2/32\",\"ports\":\"22,80-90\"},"
	"{\"prefix\":\"fd7a::2/128\",\"ports\":\"443\"}]},"
	"{\"proto\":\"icmp\",\"src\":[\"0.0.0.0/0\"],"
	"\"dst\":[{\"prefix\":\"100.64.0.2/32\",\"ports\":\"*\"}]},"
	"{\"proto\":\"any\",\"src\":[\"10.0.0.0/8\"],"
	"\"dst\":[{\"prefix\":\"10.1.0.0/16\",\"ports\":\"*\"}]}]";

static struct filter_rules *compile(const char *text, size_t n)
{
	struct filter_rules *r = NULL;
	char err[128];
	json_t *j = json_loadb(text, n, 0, NULL);
	int rc;

	if (!j)
		return NULL;
	{
		/* Read as agent/map.c reads the map's filter. */
		struct map_rule *mr = NULL;
		size_t nr = 0;

		/* "self" is the address the packets below are sent to. */
		struct ip_addr self[2] = {{.family = 4, .b = {100}},
					  {.family = 6, .b = {100}}};

		rc = mapjson_rules(j, &mr, &nr, err, sizeof(err));
		if (rc == 0)
			rc = filter_rules_compile(mr, nr, self, 2, &r, err,
						  sizeof(err));
		mapjson_rules_free(mr, nr);
	}
	json_decref(j);
	if (rc != 0 && rc != WEFT_ERR_INVAL && rc != WEFT_ERR_TOOBIG &&
	    rc != WEFT_ERR_NOMEM)
		abort();
	if ((rc == 0) != (r != NULL))
		abort();
	return r;
}

static void fuzz_rules(const uint8_t *data, size_t size)
{
	struct filter_rules *r = compile((const char *)data, size);
	struct packet_info pi;

	if (!r)
		return;
	memset(&pi, 0, sizeof(pi));
	for (int i = 0; i < 4; i++) {
		pi.version = i < 2 ? 4 : 6;
		pi.src.family = pi.dst.family = pi.version;
		pi.src.b[0] = 100;
		pi.dst.b[0] = (uint8_t)(i & 1 ? 10 : 100);
		pi.proto = i & 1 ? PACKET_PROTO_UDP : PACKET_PROTO_TCP;
		pi.has_ports = true;
		pi.dport = (uint16_t)(i * 1000 + 22);
		(void)filter_rules_allow(r, &pi);
	}
	filter_rules_del(r);
}

static void fuzz_packets(const uint8_t *data, size_t size)
{
	static struct filter_rules *fixed;
	struct filter_config cfg = {.ct_max = 64};
	struct filter *f = NULL;
	struct filter_stats st;
	struct packet_info pi, rep;
	uint64_t checked = 0;
	int64_t now = 1000;
	size_t off = 0, n;
	uint8_t flags, *pkt;

	if (!fixed) {
		fixed = compile(rules_json, sizeof(rules_json) - 1);
		if (!fixed)
			abort();
	}
	if (filter_new(&cfg, &f) != 0)
		return;
	while (size - off >= 3) {
		n = (size_t)data[off] << 8 | data[off + 1];
		flags = data[off + 2];
		off += 3;
		if (n > size - off)
			n = size - off;
		pkt = malloc(n ? n : 1);
		if (!pkt)
			break;
		if (n)
			memcpy(pkt, data + off, n);
		off += n;
		now += flags >> 4;
		if (packet_parse(pkt, n, &pi) == 0) {
			if (flags & 1) {
				filter_track_out(f, &pi, now);
			} else {
				/* The rules swap in and out; flows stay. */
				if (flags & 2) {
					filter_set_rules(f, NULL);
				} else {
					struct filter_rules *r = compile(
						rules_json,
						sizeof(rules_json) - 1);
					filter_set_rules(f, r);
				}
				bool ok = filter_check_in(f, &pi, now);
				checked++;
				if (!(flags & 2) && filter_rules_allow(fixed, &pi) && !ok)
					abort();
			}
			/* A tracked flow's reply gets in at once. */
			if ((flags & 1) && pi.has_ports) {
				rep = pi;
				rep.src = pi.dst;
				rep.dst = pi.src;
				rep.sport = pi.dport;
				rep.dport = pi.sport;
				rep.fragment = rep.later_fragment = false;
				if (!filter_check_in(f, &rep, now))
					abort();
				checked++;
			}
		}
		free(pkt);
	}
	filter_get_stats(f, now, &st);
	if (st.allowed + st.allowed_tracked + st.allowed_fragment +
		    st.denied != checked ||
	    st.ct_entries > 64)
		abort();
	filter_del(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && data[0] == '[')
		fuzz_rules(data, size);
	else
		fuzz_packets(data, size);
	return 0;
}
