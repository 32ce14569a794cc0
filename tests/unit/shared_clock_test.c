#include "check.h"
#include "shared/clock.h"
#include "shared/err.h"

#include <stdio.h>
#include <time.h>

static void monotonic_clocks_advance_together(void)
{
	int64_t ms1 = clock_mono_ms(), us1 = clock_mono_us();
	struct timespec nap = {0, 20 * 1000 * 1000};
	int64_t ms2, us2;

	nanosleep(&nap, NULL);
	ms2 = clock_mono_ms();
	us2 = clock_mono_us();
	CHECK(ms2 - ms1 >= 20);
	CHECK(us2 - us1 >= 20000);
	CHECK(us2 / 1000 - ms2 >= -1 && us2 / 1000 - ms2 <= 1);
}

static void wall_clock_is_unix_time(void)
{
	int64_t s = clock_wall_s(), ms = clock_wall_ms();

	CHECK(s > 1577836800); /* after 2020-01-01 */
	CHECK(ms / 1000 - s >= 0 && ms / 1000 - s <= 1);
	CHECK(s - (int64_t)time(NULL) >= -1 && s - (int64_t)time(NULL) <= 1);
}

static void formats_known_times(void)
{
	static const struct {
		int64_t t;
		const char *s;
	} v[] = {
		{0, "1970-01-01T00:00:00Z"},
		{-1, "1969-12-31T23:59:59Z"},
		{-86400, "1969-12-31T00:00:00Z"},
		{951782400, "2000-02-29T00:00:00Z"},
		{1700000000, "2023-11-14T22:13:20Z"},
		{1795305599, "2026-11-21T23:59:59Z"},
		{4107542400, "2100-03-01T00:00:00Z"},
		{-62167219200LL, "0000-01-01T00:00:00Z"},
		{253402300799LL, "9999-12-31T23:59:59Z"},
	};
	char buf[CLOCK_RFC3339_LEN + 1];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CHECK_INT(clock_format_rfc3339(v[i].t, buf, sizeof(buf)), 0);
		CHECK_STR(buf, v[i].s);
	}
}

static void format_rejects_small_buffers_and_far_years(void)
{
	char buf[32];

	strcpy(buf, "untouched");
	CHECK_INT(clock_format_rfc3339(0, buf, CLOCK_RFC3339_LEN),
		  WEFT_ERR_TOOBIG);
	CHECK_INT(clock_format_rfc3339(-62167219201LL, buf, sizeof(buf)),
		  WEFT_ERR_RANGE);
	CHECK_INT(clock_format_rfc3339(253402300800LL, buf, sizeof(buf)),
		  WEFT_ERR_RANGE);
	CHECK_INT(clock_format_rfc3339(INT64_MIN, buf, sizeof(buf)),
		  WEFT_ERR_RANGE);
	CHECK_STR(buf, "untouched");
}

/* Cross-checks the calendar arithmetic against the C library over the
 * whole supported range, and that parsing undoes formatting. */
static void format_agrees_with_gmtime_and_parse_round_trips(void)
{
	const int64_t lo = -62167219200LL, hi = 253402300799LL;
	char buf[CLOCK_RFC3339_LEN + 1], ref[64];

	for (int64_t t = lo; t <= hi; t += 7777777 + (t & 0xffff)) {
		time_t tt = (time_t)t;
		struct tm tm;
		int64_t back = 0;

		REQUIRE_INT(clock_format_rfc3339(t, buf, sizeof(buf)), 0);
		REQUIRE(gmtime_r(&tt, &tm) != NULL);
		snprintf(ref, sizeof(ref), "%04d-%02d-%02dT%02d:%02d:%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		if (!CHECK(strcmp(buf, ref) == 0))
			break;
		REQUIRE_INT(clock_parse_rfc3339(buf, &back), 0);
		if (!CHECK(back == t))
			break;
	}
}

static void parses_offsets_fractions_and_lower_case(void)
{
	const int64_t base = 1795305599; /* 2026-11-21T23:59:59Z */
	int64_t t = 0;

	CHECK_INT(clock_parse_rfc3339("2026-11-21T23:59:59Z", &t), 0);
	CHECK_INT(t, base);
	CHECK_INT(clock_parse_rfc3339("2026-11-21t23:59:59z", &t), 0);
	CHECK_INT(t, base);
	CHECK_INT(clock_parse_rfc3339("2026-11-21T23:59:59.999999999Z", &t), 0);
	CHECK_INT(t, base);
	CHECK_INT(clock_parse_rfc3339("2026-11-21T23:59:59.1+00:00", &t), 0);
	CHECK_INT(t, base);
	CHECK_INT(clock_parse_rfc3339("2026-11-22T00:59:59+01:00", &t), 0);
	CHECK_INT(t, base);
	CHECK_INT(clock_parse_rfc3339("2026-11-21T18:29:59-05:30", &t), 0);
	CHECK_INT(t, base);
	CHECK_INT(clock_parse_rfc3339("2026-11-21T23:59:59-00:00", &t), 0);
	CHECK_INT(t, base);
	CHECK_INT(clock_parse_rfc3339("1969-12-31T23:59:59.5Z", &t), 0);
	CHECK_INT(t, -1);
	CHECK_INT(clock_parse_rfc3339("2024-02-29T12:00:00Z", &t), 0);
	CHECK_INT(clock_parse_rfc3339("2000-02-29T00:00:00Z", &t), 0);
	CHECK_INT(t, 951782400);
}

static void rejects_malformed_rfc3339(void)
{
	static const char *const bad[] = {
		"",
		"2026-11-21",
		"2026-11-21T23:59:59",          /* no zone */
		"2026-11-21 23:59:59Z",         /* space for T */
		"2026-11-21T23:59Z",            /* no seconds */
		"26-11-21T23:59:59Z",
		"2026-1-21T23:59:59Z",
		"2026-11-21T23:59:59.Z",        /* empty fraction */
		"2026-11-21T23:59:59,5Z",
		"2026-11-21T23:59:59Z ",        /* trailing space */
		" 2026-11-21T23:59:59Z",
		"2026-11-21T23:59:59ZZ",
		"2026-11-21T23:59:59+0100",
		"2026-11-21T23:59:59+01",
		"2026-11-21T23:59:59+24:00",
		"2026-11-21T23:59:59+01:60",
		"2026-00-21T23:59:59Z",
		"2026-13-21T23:59:59Z",
		"2026-11-00T23:59:59Z",
		"2026-11-31T23:59:59Z",
		"2025-02-29T00:00:00Z",         /* not a leap year */
		"2100-02-29T00:00:00Z",
		"2026-11-21T24:00:00Z",
		"2026-11-21T23:60:00Z",
		"2026-11-21T23:59:60Z",         /* leap second */
		"+2026-11-21T23:59:59Z",
		"2026-11-21T23:59:5aZ",
		"2026\xef\xbc\x8d\x31\x31-21T23:59:59Z",
	};
	int64_t t = 77;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!check_report(clock_parse_rfc3339(bad[i], &t) ==
					  WEFT_ERR_PARSE,
				  __FILE__, __LINE__, "accepted \"%s\"", bad[i]))
			continue;
	}
	CHECK_INT(clock_parse_rfc3339(NULL, &t), WEFT_ERR_PARSE);
	CHECK_INT(t, 77);
}

static void parses_durations(void)
{
	static const struct {
		const char *s;
		int64_t ms;
	} v[] = {
		{"500ms", 500},
		{"0s", 0},
		{"30s", 30000},
		{"5m", 300000},
		{"2h", 7200000},
		{"7d", 604800000},
		{"1h30m", 5400000},
		{"1d2h3m4s5ms", 93784005},
		{"5m5ms", 300005},
		{"90s", 90000},
		{"007s", 7000},
		{"2d", 172800000},
		{"1m1s1ms", 61001},
		{"0", 0},
	};
	int64_t ms;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ms = -1;
		CHECK_INT(clock_parse_duration(v[i].s, &ms), 0);
		CHECK_INT(ms, v[i].ms);
	}
}

static void rejects_malformed_durations(void)
{
	static const char *const bad[] = {
		"", "-5s", "+5s", "5", "s", "5x", "5 s", " 5s", "5s ",
		"1.5h", "5M", "5S", "5sm", "1h-30m", "ms", "5us", "1h30",
		"1x", "1.5s", "10mss", "00", "0 ", " 0", "-0",
	};
	int64_t ms = 77;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_report(clock_parse_duration(bad[i], &ms) == WEFT_ERR_PARSE,
			     __FILE__, __LINE__, "accepted \"%s\"", bad[i]);
	CHECK_INT(clock_parse_duration(NULL, &ms), WEFT_ERR_PARSE);
	CHECK_INT(ms, 77);
}

static void rejects_durations_that_overflow(void)
{
	int64_t ms = 77;

	/* INT64_MAX ms itself fits; one more does not. */
	CHECK_INT(clock_parse_duration("9223372036854775807ms", &ms), 0);
	CHECK_INT(ms, INT64_MAX);
	ms = 77;
	CHECK_INT(clock_parse_duration("9223372036854775808ms", &ms),
		  WEFT_ERR_RANGE);
	CHECK_INT(clock_parse_duration("99999999999999999999999s", &ms),
		  WEFT_ERR_RANGE);
	CHECK_INT(clock_parse_duration("106751991168d", &ms), WEFT_ERR_RANGE);
	CHECK_INT(clock_parse_duration("9223372036854775807ms1ms", &ms),
		  WEFT_ERR_RANGE);
	CHECK_INT(clock_parse_duration("9999999999999999999ms", &ms),
		  WEFT_ERR_RANGE);
	CHECK_INT(clock_parse_duration("9223372036854776s", &ms), WEFT_ERR_RANGE);
	/* One millisecond past INT64_MAX, reached only by the last part. */
	CHECK_INT(clock_parse_duration("106751991167d7h12m55s808ms", &ms),
		  WEFT_ERR_RANGE);
	CHECK_INT(ms, 77);
	CHECK_INT(clock_parse_duration("106751991167d", &ms), 0);
	CHECK_INT(ms, 106751991167LL * 86400000);
}

static void formats_durations_that_parse_back(void)
{
	static const int64_t vals[] = {0, 1, 999, 1000, 61001, 5400000,
				       172800000, INT64_MAX};
	char buf[CLOCK_DURATION_LEN], small[3] = "ab";
	int64_t back;

	CHECK_INT(clock_format_duration(5400000, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "1h30m");
	CHECK_INT(clock_format_duration(0, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "0");
	CHECK_INT(clock_format_duration(INT64_MAX, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "106751991167d7h12m55s807ms");
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		CHECK_INT(clock_format_duration(vals[i], buf, sizeof(buf)), 0);
		CHECK_INT(clock_parse_duration(buf, &back), 0);
		CHECK_INT(back, vals[i]);
	}
	CHECK_INT(clock_format_duration(-1, buf, sizeof(buf)), WEFT_ERR_INVAL);
	CHECK_INT(clock_format_duration(5400000, small, sizeof(small)),
		  WEFT_ERR_TOOBIG);
	CHECK_STR(small, "ab");
	/* "1h30m" needs 6 bytes with the NUL: 5 is one short. */
	CHECK_INT(clock_format_duration(5400000, buf, 5), WEFT_ERR_TOOBIG);
	CHECK_INT(clock_format_duration(5400000, buf, 6), 0);
	CHECK_STR(buf, "1h30m");
}

static const struct check_case cases[] = {
	CHECK_CASE(monotonic_clocks_advance_together),
	CHECK_CASE(wall_clock_is_unix_time),
	CHECK_CASE(formats_known_times),
	CHECK_CASE(format_rejects_small_buffers_and_far_years),
	CHECK_CASE(format_agrees_with_gmtime_and_parse_round_trips),
	CHECK_CASE(parses_offsets_fractions_and_lower_case),
	CHECK_CASE(rejects_malformed_rfc3339),
	CHECK_CASE(parses_durations),
	CHECK_CASE(rejects_malformed_durations),
	CHECK_CASE(rejects_durations_that_overflow),
	CHECK_CASE(formats_durations_that_parse_back),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
