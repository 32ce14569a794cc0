/* agent/signal: encoding and strict decoding of the relay-carried signals
 * for direct paths. */
#include "agent/signal.h"

#include "check.h"
#include "shared/err.h"

#include <string.h>

static struct ip_endpoint ep(const char *s)
{
	struct ip_endpoint e = {0};

	CHECK_INT(ip_endpoint_parse(s, &e), 0);
	return e;
}

static void a_call_round_trips_with_both_families(void)
{
	struct signal s = {.type = SIGNAL_CALL, .n = 3}, d;
	uint8_t buf[SIGNAL_MAX];
	int n;

	s.eps[0] = ep("203.0.113.11:41641");
	s.eps[1] = ep("[2001:db8::7]:41641");
	s.eps[2] = ep("10.1.0.11:5");
	n = signal_encode(&s, buf, sizeof(buf));
	CHECK_INT(n, 2 + 7 + 19 + 7);
	REQUIRE_INT(signal_decode(buf, (size_t)n, &d), 0);
	CHECK_INT(d.type, SIGNAL_CALL);
	CHECK_INT((int)d.n, 3);
	for (int i = 0; i < 3; i++)
		CHECK(memcmp(&d.eps[i], &s.eps[i], sizeof(s.eps[i])) == 0);
}

static void use_and_lost_round_trip(void)
{
	struct signal s = {.type = SIGNAL_USE, .n = 1}, d;
	uint8_t buf[SIGNAL_MAX];
	int n;

	s.eps[0] = ep("198.51.100.2:7");
	n = signal_encode(&s, buf, sizeof(buf));
	CHECK_INT(n, 8);
	REQUIRE_INT(signal_decode(buf, (size_t)n, &d), 0);
	CHECK_INT(d.type, SIGNAL_USE);
	CHECK_INT(d.eps[0].port, 7);
	s.type = SIGNAL_LOST;
	n = signal_encode(&s, buf, sizeof(buf));
	CHECK_INT(n, 1);
	REQUIRE_INT(signal_decode(buf, (size_t)n, &d), 0);
	CHECK_INT(d.type, SIGNAL_LOST);
}

static void bad_signals_are_refused(void)
{
	struct signal s = {.type = SIGNAL_CALL, .n = 1}, d;
	uint8_t buf[SIGNAL_MAX];
	int n;

	s.eps[0] = ep("198.51.100.2:7");
	n = signal_encode(&s, buf, sizeof(buf));
	REQUIRE(n > 0);
	/* every truncation, and one trailing byte */
	for (int k = 0; k < n; k++)
		CHECK_INT(signal_decode(buf, (size_t)k, &d), WEFT_ERR_PARSE);
	buf[n] = 0;
	CHECK_INT(signal_decode(buf, (size_t)n + 1, &d), WEFT_ERR_PARSE);
	/* count 0 and above the limit, family 5, port 0, unknown type */
	buf[1] = 0;
	CHECK_INT(signal_decode(buf, (size_t)n, &d), WEFT_ERR_PARSE);
	buf[1] = SIGNAL_EPS_MAX + 1;
	CHECK_INT(signal_decode(buf, (size_t)n, &d), WEFT_ERR_PARSE);
	buf[1] = 1;
	buf[2] = 5;
	CHECK_INT(signal_decode(buf, (size_t)n, &d), WEFT_ERR_PARSE);
	buf[2] = 4;
	buf[7] = buf[8] = 0;
	CHECK_INT(signal_decode(buf, (size_t)n, &d), WEFT_ERR_PARSE);
	buf[0] = 9;
	CHECK_INT(signal_decode(buf, 1, &d), WEFT_ERR_PARSE);
	/* the encoder refuses what the decoder would */
	s.n = 0;
	CHECK_INT(signal_encode(&s, buf, sizeof(buf)), WEFT_ERR_INVAL);
	s.n = 1;
	s.eps[0].port = 0;
	CHECK_INT(signal_encode(&s, buf, sizeof(buf)), WEFT_ERR_INVAL);
	s.eps[0].port = 1;
	CHECK_INT(signal_encode(&s, buf, 5), WEFT_ERR_TOOBIG);
}

static const struct check_case cases[] = {
	CHECK_CASE(a_call_round_trips_with_both_families),
	CHECK_CASE(use_and_lost_round_trip),
	CHECK_CASE(bad_signals_are_refused),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
