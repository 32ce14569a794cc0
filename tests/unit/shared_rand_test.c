#include "check.h"
#include "shared/enc.h"
#include "shared/err.h"
#include "shared/rand.h"

#include <stdlib.h>

static void rand_bytes_fills_large_buffers(void)
{
	size_t n = 1 << 20, zeros = 0;
	uint8_t *p = calloc(1, n);

	REQUIRE(p != NULL);
	CHECK_INT(rand_bytes(p, n), 0);
	for (size_t i = 0; i < n; i++)
		zeros += p[i] == 0;
	/* About n/256 = 4096 zero bytes are expected; an unfilled tail
	 * would leave far more. */
	CHECK(zeros > 3000 && zeros < 5200);
	CHECK(p[n - 1] != 0 || p[n - 2] != 0 || p[n - 3] != 0);
	CHECK_INT(rand_bytes(p, 0), 0);
	free(p);
}

static void rand_u64_values_differ(void)
{
	uint64_t a = 0, b = 0;

	CHECK_INT(rand_u64(&a), 0);
	CHECK_INT(rand_u64(&b), 0);
	CHECK(a != b);
}

static void rand_uniform_rejects_zero_bound(void)
{
	uint64_t v = 42;

	CHECK_INT(rand_uniform(0, &v), WEFT_ERR_INVAL);
	CHECK_INT(v, 42);
}

static void rand_uniform_stays_below_bound(void)
{
	static const uint64_t bounds[] = {
		1, 2, 3, 7, 10, 1000, (1ull << 32) + 1, (1ull << 63) + 1,
		UINT64_MAX,
	};

	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		for (int k = 0; k < 2000; k++) {
			uint64_t v;

			REQUIRE_INT(rand_uniform(bounds[i], &v), 0);
			if (!CHECK(v < bounds[i]))
				break;
		}
	}
}

static void rand_uniform_hits_every_value_evenly(void)
{
	enum { BOUND = 6, DRAWS = 60000 };
	int count[BOUND] = {0};

	for (int k = 0; k < DRAWS; k++) {
		uint64_t v;

		REQUIRE_INT(rand_uniform(BOUND, &v), 0);
		REQUIRE(v < BOUND);
		count[v]++;
	}
	/* Expected 10000 each, standard deviation about 91: 700 is over
	 * seven deviations, so this never fails by chance. */
	for (int i = 0; i < BOUND; i++)
		CHECK(count[i] > 9300 && count[i] < 10700);
}

static void rand_token_is_base64url_of_the_requested_size(void)
{
	char a[64], b[64];
	uint8_t raw[64];
	size_t n;

	CHECK_INT(rand_token(a, sizeof(a), 32), 0);
	CHECK_INT(strlen(a), 43);
	CHECK_INT(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789-_"), 43);
	CHECK_INT(base64_decode(a, strlen(a), raw, sizeof(raw), &n, true), 0);
	CHECK_INT(n, 32);
	CHECK_INT(rand_token(b, sizeof(b), 32), 0);
	CHECK(strcmp(a, b) != 0);
	CHECK_INT(rand_token(a, sizeof(a), 1), 0);
	CHECK_INT(strlen(a), 2);
}

static void rand_token_needs_room_for_text_and_nul(void)
{
	char out[44];

	memset(out, '#', sizeof(out));
	CHECK_INT(rand_token(out, 43, 32), WEFT_ERR_TOOBIG);
	CHECK_INT(out[0], '#');
	CHECK_INT(rand_token(out, 44, 32), 0);
	CHECK_INT(strlen(out), 43);
}

static void rand_token_rejects_bad_sizes(void)
{
	char out[512];

	CHECK_INT(rand_token(out, sizeof(out), 0), WEFT_ERR_RANGE);
	CHECK_INT(rand_token(out, sizeof(out), RAND_TOKEN_MAX + 1),
		  WEFT_ERR_RANGE);
	CHECK_INT(rand_token(out, sizeof(out), RAND_TOKEN_MAX), 0);
	CHECK_INT(strlen(out), base64_encoded_len(RAND_TOKEN_MAX, true));
}

static const struct check_case cases[] = {
	CHECK_CASE(rand_bytes_fills_large_buffers),
	CHECK_CASE(rand_u64_values_differ),
	CHECK_CASE(rand_uniform_rejects_zero_bound),
	CHECK_CASE(rand_uniform_stays_below_bound),
	CHECK_CASE(rand_uniform_hits_every_value_evenly),
	CHECK_CASE(rand_token_is_base64url_of_the_requested_size),
	CHECK_CASE(rand_token_needs_room_for_text_and_nul),
	CHECK_CASE(rand_token_rejects_bad_sizes),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
