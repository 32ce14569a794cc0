#include "check.h"
#include "relay/addrmap.h"
#include "relay/limits.h"
#include "shared/err.h"

static void bucket_allows_burst_then_drops(void)
{
	struct limits_rate r = {.rate = 10, .burst = 5};
	struct limits_bucket b;
	int i, ok = 0;

	limits_bucket_init(&b, &r, 1000);
	for (i = 0; i < 20; i++)
		ok += limits_bucket_take(&b, &r, 1000);
	CHECK_INT(ok, 5);
}

static void bucket_refills_at_the_rate(void)
{
	struct limits_rate r = {.rate = 10, .burst = 5};
	struct limits_bucket b;
	int64_t t = 0;
	int i, ok = 0;

	limits_bucket_init(&b, &r, t);
	for (i = 0; i < 5; i++)
		CHECK(limits_bucket_take(&b, &r, t));
	CHECK(!limits_bucket_take(&b, &r, t));
	/* 10/s: one token per 100 ms. */
	CHECK(!limits_bucket_take(&b, &r, t + 99999));
	CHECK(limits_bucket_take(&b, &r, t + 100000));
	/* Over 10 s of steady demand every 10 ms, about 100 pass. */
	for (t = 100000; t < 10100000; t += 10000)
		ok += limits_bucket_take(&b, &r, t);
	CHECK(ok >= 99 && ok <= 101);
}

static void bucket_never_exceeds_burst_after_long_idle(void)
{
	struct limits_rate r = {.rate = 1000000, .burst = 3};
	struct limits_bucket b;
	int i, ok = 0;

	limits_bucket_init(&b, &r, 0);
	for (i = 0; i < 10; i++)
		ok += limits_bucket_take(&b, &r, INT64_MAX / 2);
	CHECK_INT(ok, 3);
}

static void backwards_clock_refills_nothing(void)
{
	struct limits_rate r = {.rate = 1, .burst = 1};
	struct limits_bucket b;

	limits_bucket_init(&b, &r, 5000000);
	CHECK(limits_bucket_take(&b, &r, 5000000));
	CHECK(!limits_bucket_take(&b, &r, 1000));
	CHECK(!limits_bucket_take(&b, &r, 5000000));
}

static void rate_zero_is_unlimited(void)
{
	struct limits_rate r = {0, 1};
	struct limits_bucket b;
	int i;

	limits_bucket_init(&b, &r, 0);
	for (i = 0; i < 1000; i++)
		REQUIRE(limits_bucket_take(&b, &r, 0));
}

static void parses_rate_and_optional_burst(void)
{
	struct limits_rate r = {7, 7};

	CHECK_INT(limits_rate_parse("100/250", &r), 0);
	CHECK_INT(r.rate, 100);
	CHECK_INT(r.burst, 250);
	CHECK_INT(limits_rate_parse("40", &r), 0);
	CHECK_INT(r.burst, 40);
	CHECK_INT(limits_rate_parse("0", &r), 0);
	CHECK_INT(r.rate, 0);
	CHECK_INT(r.burst, 1);
	CHECK_INT(limits_rate_parse("", &r), WEFT_ERR_PARSE);
	CHECK_INT(limits_rate_parse("-1", &r), WEFT_ERR_PARSE);
	CHECK_INT(limits_rate_parse("10/0", &r), WEFT_ERR_PARSE);
	CHECK_INT(limits_rate_parse("10/", &r), WEFT_ERR_PARSE);
	CHECK_INT(limits_rate_parse("010", &r), WEFT_ERR_PARSE);
	CHECK_INT(limits_rate_parse("99999999", &r), WEFT_ERR_PARSE);
	CHECK_INT(r.rate, 0); /* untouched by the failures */
}

static struct ip_endpoint ep4(uint8_t last, uint16_t port)
{
	struct ip_endpoint e = {.addr = {.family = 4, .b = {10, 0, 0, last}},
				.port = port};
	return e;
}

static void addrmap_distinguishes_ports_and_families(void)
{
	struct addrmap m;
	struct ip_endpoint a = ep4(1, 1000), b = ep4(1, 1001), c = a;
	int x, y, z;

	c.addr.family = 6;
	addrmap_init(&m);
	CHECK_INT(addrmap_put(&m, &a, &x), 0);
	CHECK_INT(addrmap_put(&m, &b, &y), 0);
	CHECK_INT(addrmap_put(&m, &c, &z), 0);
	CHECK(addrmap_get(&m, &a) == &x);
	CHECK(addrmap_get(&m, &b) == &y);
	CHECK(addrmap_get(&m, &c) == &z);
	CHECK(addrmap_del(&m, &b) == &y);
	CHECK(addrmap_get(&m, &b) == NULL);
	CHECK(addrmap_get(&m, &a) == &x);
	addrmap_free(&m);
}

static void addrmap_survives_many_inserts_and_deletes(void)
{
	static int vals[2000];
	struct addrmap m;
	int i;

	addrmap_init(&m);
	for (i = 0; i < 2000; i++)
		REQUIRE(addrmap_put(&m, &(struct ip_endpoint){ep4((uint8_t)i,
			(uint16_t)(i + 1)).addr, (uint16_t)(i + 1)},
				    &vals[i]) == 0);
	for (i = 0; i < 2000; i += 2)
		CHECK(addrmap_del(&m, &(struct ip_endpoint){ep4((uint8_t)i,
			(uint16_t)(i + 1)).addr, (uint16_t)(i + 1)}) == &vals[i]);
	for (i = 0; i < 2000; i++) {
		struct ip_endpoint e = ep4((uint8_t)i, (uint16_t)(i + 1));
		void *want = (i % 2) ? &vals[i] : NULL;

		CHECK(addrmap_get(&m, &e) == want);
	}
	CHECK_INT(m.n, 1000);
	addrmap_free(&m);
}

static const struct check_case cases[] = {
	CHECK_CASE(bucket_allows_burst_then_drops),
	CHECK_CASE(bucket_refills_at_the_rate),
	CHECK_CASE(bucket_never_exceeds_burst_after_long_idle),
	CHECK_CASE(backwards_clock_refills_nothing),
	CHECK_CASE(rate_zero_is_unlimited),
	CHECK_CASE(parses_rate_and_optional_burst),
	CHECK_CASE(addrmap_distinguishes_ports_and_families),
	CHECK_CASE(addrmap_survives_many_inserts_and_deletes),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
