#include "check.h"
#include "agent/dnscache.h"
#include "shared/be.h"
#include "shared/err.h"

#include <stdio.h>

/* The cache does not read the message beyond the TTL offsets it is given,
 * so a message here is any bytes with TTLs at 4 and 12. */
static void msg_make(uint8_t *m, uint32_t t1, uint32_t t2)
{
	memset(m, 0xab, 20);
	be_put32(m + 4, t1);
	be_put32(m + 12, t2);
}

static const uint16_t offs[] = {4, 12};

static int put(struct dnscache *c, const char *name, uint16_t type,
	       const uint8_t *m, uint32_t ttl, int64_t now)
{
	struct dnscache_put p = {
		.name = name, .type = type, .qclass = 1, .msg = m, .len = 20,
		.ttl_offsets = offs, .nttl = 2, .ttl = ttl,
	};

	return dnscache_put(c, &p, now);
}

static void hit_lowers_ttls_by_elapsed_seconds(void)
{
	struct dnscache *c;
	uint8_t m[20], out[64];
	size_t n = 0;

	REQUIRE(dnscache_new(16, 4096, 1, &c) == 0);
	msg_make(m, 300, 60);
	CHECK_INT(put(c, "www.example.com", 1, m, 60, 1000), 0);
	CHECK_INT(dnscache_get(c, "www.example.com", 1, 1, 1000, out,
			       sizeof(out), &n), 0);
	CHECK_INT(n, 20);
	/* TTLs never exceed what the entry lives. */
	CHECK_INT(be_get32(out + 4), 60);
	CHECK_INT(be_get32(out + 12), 60);
	CHECK_INT(dnscache_get(c, "www.example.com", 1, 1, 1000 + 10999, out,
			       sizeof(out), &n), 0);
	CHECK_INT(be_get32(out + 4), 50);
	CHECK_INT(be_get32(out + 12), 50);
	CHECK_MEM(out + 16, m + 16, 4);
	dnscache_del(c);
}

static void entry_expires_with_its_ttl(void)
{
	struct dnscache *c;
	uint8_t m[20], out[64];
	size_t n;
	struct dnscache_stats st;

	REQUIRE(dnscache_new(16, 4096, 1, &c) == 0);
	msg_make(m, 5, 5);
	CHECK_INT(put(c, "a.example", 1, m, 5, 0), 0);
	CHECK_INT(dnscache_get(c, "a.example", 1, 1, 4999, out, sizeof(out),
			       &n), 0);
	CHECK_INT(be_get32(out + 4), 1);
	CHECK_INT(dnscache_get(c, "a.example", 1, 1, 5000, out, sizeof(out),
			       &n), WEFT_ERR_NOTFOUND);
	dnscache_stats(c, &st);
	CHECK_INT(st.entries, 0);
	CHECK_INT(st.expired, 1);
	CHECK_INT(st.hits, 1);
	dnscache_del(c);
}

static void key_is_name_type_class_and_case_blind(void)
{
	struct dnscache *c;
	uint8_t m[20], out[64];
	size_t n;
	struct dnscache_put p = {
		.name = "X.Example", .type = 28, .qclass = 3, .msg = m,
		.len = 20, .ttl_offsets = offs, .nttl = 2, .ttl = 30,
	};

	REQUIRE(dnscache_new(16, 4096, 1, &c) == 0);
	msg_make(m, 30, 30);
	CHECK_INT(dnscache_put(c, &p, 0), 0);
	CHECK_INT(dnscache_get(c, "x.EXAMPLE", 28, 3, 0, out, sizeof(out),
			       &n), 0);
	CHECK_INT(dnscache_get(c, "x.example", 1, 3, 0, out, sizeof(out),
			       &n), WEFT_ERR_NOTFOUND);
	CHECK_INT(dnscache_get(c, "x.example", 28, 1, 0, out, sizeof(out),
			       &n), WEFT_ERR_NOTFOUND);
	CHECK_INT(dnscache_get(c, "x.example.", 28, 3, 0, out, sizeof(out),
			       &n), WEFT_ERR_NOTFOUND);
	dnscache_del(c);
}

static void put_replaces_the_same_key(void)
{
	struct dnscache *c;
	uint8_t m[20], out[64];
	size_t n;
	struct dnscache_stats st;

	REQUIRE(dnscache_new(16, 4096, 1, &c) == 0);
	msg_make(m, 100, 100);
	CHECK_INT(put(c, "a.example", 1, m, 100, 0), 0);
	msg_make(m, 7, 7);
	CHECK_INT(put(c, "a.example", 1, m, 7, 0), 0);
	dnscache_stats(c, &st);
	CHECK_INT(st.entries, 1);
	CHECK_INT(dnscache_get(c, "a.example", 1, 1, 0, out, sizeof(out),
			       &n), 0);
	CHECK_INT(be_get32(out + 4), 7);
	dnscache_del(c);
}

static void least_recently_used_is_evicted_at_the_entry_bound(void)
{
	struct dnscache *c;
	uint8_t m[20], out[64];
	size_t n;
	char name[32];
	struct dnscache_stats st;

	REQUIRE(dnscache_new(3, 4096, 1, &c) == 0);
	msg_make(m, 60, 60);
	CHECK_INT(put(c, "n0", 1, m, 60, 0), 0);
	CHECK_INT(put(c, "n1", 1, m, 60, 0), 0);
	CHECK_INT(put(c, "n2", 1, m, 60, 0), 0);
	/* n0 used: n1 is now the oldest. */
	CHECK_INT(dnscache_get(c, "n0", 1, 1, 0, out, sizeof(out), &n), 0);
	CHECK_INT(put(c, "n3", 1, m, 60, 0), 0);
	CHECK_INT(dnscache_get(c, "n1", 1, 1, 0, out, sizeof(out), &n),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(dnscache_get(c, "n0", 1, 1, 0, out, sizeof(out), &n), 0);
	CHECK_INT(dnscache_get(c, "n3", 1, 1, 0, out, sizeof(out), &n), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "many%d.example", i);
		CHECK_INT(put(c, name, 1, m, 60, 0), 0);
	}
	dnscache_stats(c, &st);
	CHECK_INT(st.entries, 3);
	CHECK_INT(st.evictions, 1001);
	CHECK_INT(dnscache_get(c, "many999.example", 1, 1, 0, out,
			       sizeof(out), &n), 0);
	dnscache_del(c);
}

static void byte_bound_evicts_and_refuses_what_never_fits(void)
{
	struct dnscache *c;
	uint8_t m[20], out[64];
	size_t n;
	struct dnscache_stats st;

	REQUIRE(dnscache_new(100, 50, 1, &c) == 0);
	msg_make(m, 60, 60);
	CHECK_INT(put(c, "a", 1, m, 60, 0), 0);
	CHECK_INT(put(c, "b", 1, m, 60, 0), 0);
	CHECK_INT(put(c, "c", 1, m, 60, 0), 0);
	dnscache_stats(c, &st);
	CHECK_INT(st.entries, 2);
	CHECK(st.bytes <= 50);
	CHECK_INT(dnscache_get(c, "a", 1, 1, 0, out, sizeof(out), &n),
		  WEFT_ERR_NOTFOUND);
	dnscache_del(c);
	REQUIRE(dnscache_new(100, 10, 1, &c) == 0);
	CHECK_INT(put(c, "a", 1, m, 60, 0), WEFT_ERR_TOOBIG);
	dnscache_del(c);
}

static void negative_ttl_follows_soa_with_bounds(void)
{
	CHECK_INT(dnscache_neg_ttl(1, 3600, 30), 30);
	CHECK_INT(dnscache_neg_ttl(1, 20, 300), 20);
	CHECK_INT(dnscache_neg_ttl(0, 0, 0), DNSCACHE_NEG_TTL_DEFAULT);
	CHECK_INT(dnscache_neg_ttl(1, 86400, 86400), DNSCACHE_NEG_TTL_MAX);
}

static void negative_entries_are_capped(void)
{
	struct dnscache *c;
	uint8_t m[20], out[64];
	size_t n;
	struct dnscache_put p = {
		.name = "gone.example", .type = 1, .qclass = 1, .msg = m,
		.len = 20, .ttl_offsets = offs, .nttl = 2, .ttl = 99999,
		.negative = 1,
	};

	REQUIRE(dnscache_new(16, 4096, 1, &c) == 0);
	msg_make(m, 99999, 99999);
	CHECK_INT(dnscache_put(c, &p, 0), 0);
	CHECK_INT(dnscache_get(c, "gone.example", 1, 1, 0, out, sizeof(out),
			       &n), 0);
	CHECK_INT(be_get32(out + 4), DNSCACHE_NEG_TTL_MAX);
	CHECK_INT(dnscache_get(c, "gone.example", 1, 1,
			       DNSCACHE_NEG_TTL_MAX * 1000, out, sizeof(out),
			       &n), WEFT_ERR_NOTFOUND);
	dnscache_del(c);
}

static void bad_input_is_refused_and_zero_ttl_not_kept(void)
{
	struct dnscache *c;
	uint8_t m[20], out[8];
	size_t n;
	uint16_t bad[] = {17};
	struct dnscache_put p = {
		.name = "a", .type = 1, .qclass = 1, .msg = m, .len = 20,
		.ttl_offsets = bad, .nttl = 1, .ttl = 10,
	};
	struct dnscache_stats st;

	CHECK_INT(dnscache_new(0, 1, 1, &c), WEFT_ERR_INVAL);
	REQUIRE(dnscache_new(16, 4096, 1, &c) == 0);
	msg_make(m, 10, 10);
	CHECK_INT(dnscache_put(c, &p, 0), WEFT_ERR_INVAL);
	CHECK_INT(put(c, "a", 1, m, 0, 0), 0);
	dnscache_stats(c, &st);
	CHECK_INT(st.entries, 0);
	CHECK_INT(put(c, "a", 1, m, 10, 0), 0);
	CHECK_INT(dnscache_get(c, "a", 1, 1, 0, out, sizeof(out), &n),
		  WEFT_ERR_TOOBIG);
	dnscache_flush(c);
	dnscache_stats(c, &st);
	CHECK_INT(st.entries, 0);
	CHECK_INT(st.bytes, 0);
	dnscache_del(c);
	dnscache_del(NULL);
}

static const struct check_case cases[] = {
	CHECK_CASE(hit_lowers_ttls_by_elapsed_seconds),
	CHECK_CASE(entry_expires_with_its_ttl),
	CHECK_CASE(key_is_name_type_class_and_case_blind),
	CHECK_CASE(put_replaces_the_same_key),
	CHECK_CASE(least_recently_used_is_evicted_at_the_entry_bound),
	CHECK_CASE(byte_bound_evicts_and_refuses_what_never_fits),
	CHECK_CASE(negative_ttl_follows_soa_with_bounds),
	CHECK_CASE(negative_entries_are_capped),
	CHECK_CASE(bad_input_is_refused_and_zero_ttl_not_kept),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
