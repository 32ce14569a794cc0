#include "shared/clock.h"

#include "shared/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SECS_PER_DAY 86400

static int64_t read_clock(clockid_t id, int64_t div_ns, int64_t mul_s)
{
	struct timespec ts;

	/* Cannot fail for these clock ids with a valid pointer. */
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * mul_s + ts.tv_nsec / div_ns;
}

int64_t clock_mono_ms(void)
{
	return read_clock(CLOCK_MONOTONIC, 1000000, 1000);
}

int64_t clock_mono_us(void)
{
	return read_clock(CLOCK_MONOTONIC, 1000, 1000000);
}

int64_t clock_wall_s(void)
{
	return read_clock(CLOCK_REALTIME, 1000000000, 1);
}

int64_t clock_wall_ms(void)
{
	return read_clock(CLOCK_REALTIME, 1000000, 1000);
}

/* Calendar arithmetic on the proleptic Gregorian calendar, done here
 * rather than with gmtime/timegm so that it is pure, independent of time_t
 * and TZ, and exact in both directions. Years are shifted to start in March
 * so that the leap day is the last day of a year; a 400-year era has
 * exactly 146097 days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static void put_digits(char *p, int64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

int clock_format_rfc3339(int64_t unix_s, char *buf, size_t n)
{
	static const int64_t min_s = -62167219200LL; /* 0000-01-01T00:00:00Z */
	static const int64_t max_s = 253402300799LL; /* 9999-12-31T23:59:59Z */
	int64_t days, secs, y;
	int m, d;

	if (n <= CLOCK_RFC3339_LEN)
		return WEFT_ERR_TOOBIG;
	if (unix_s < min_s || unix_s > max_s)
		return WEFT_ERR_RANGE;
	/* Floor division, so times before 1970 land on the right day. */
	days = unix_s / SECS_PER_DAY;
	secs = unix_s % SECS_PER_DAY;
	if (secs < 0) {
		secs += SECS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	put_digits(buf, y, 4);
	buf[4] = '-';
	put_digits(buf + 5, m, 2);
	buf[7] = '-';
	put_digits(buf + 8, d, 2);
	buf[10] = 'T';
	put_digits(buf + 11, secs / 3600, 2);
	buf[13] = ':';
	put_digits(buf + 14, secs / 60 % 60, 2);
	buf[16] = ':';
	put_digits(buf + 17, secs % 60, 2);
	buf[19] = 'Z';
	buf[20] = '\0';
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads exactly `width` digits at *p into *v and advances *p. */
static bool take_digits(const char **p, int width, int *v)
{
	int r = 0;

	for (int i = 0; i < width; i++) {
		if (!is_digit((*p)[i]))
			return false;
		r = r * 10 + ((*p)[i] - '0');
	}
	*p += width;
	*v = r;
	return true;
}

static bool take_char(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

int clock_parse_rfc3339(const char *s, int64_t *unix_s)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;

	if (!s)
		return WEFT_ERR_PARSE;
	if (!take_digits(&p, 4, &y) || !take_char(&p, '-') ||
	    !take_digits(&p, 2, &mo) || !take_char(&p, '-') ||
	    !take_digits(&p, 2, &d))
		return WEFT_ERR_PARSE;
	if (!take_char(&p, 'T') && !take_char(&p, 't'))
		return WEFT_ERR_PARSE;
	if (!take_digits(&p, 2, &h) || !take_char(&p, ':') ||
	    !take_digits(&p, 2, &mi) || !take_char(&p, ':') ||
	    !take_digits(&p, 2, &sec))
		return WEFT_ERR_PARSE;
	if (take_char(&p, '.')) {
		if (!is_digit(*p))
			return WEFT_ERR_PARSE;
		while (is_digit(*p))
			p++;
	}
	if (take_char(&p, 'Z') || take_char(&p, 'z')) {
		sign = 0;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (!take_digits(&p, 2, &oh) || !take_char(&p, ':') ||
		    !take_digits(&p, 2, &om))
			return WEFT_ERR_PARSE;
	} else {
		return WEFT_ERR_PARSE;
	}
	if (*p != '\0')
		return WEFT_ERR_PARSE;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 59 || oh > 23 || om > 59)
		return WEFT_ERR_PARSE;
	/* Local time minus its offset is UTC. */
	*unix_s = days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 +
		  mi * 60 + sec - sign * (oh * 3600 + om * 60);
	return 0;
}

int clock_parse_duration(const char *s, int64_t *ms)
{
	const char *p = s;
	int64_t total = 0;

	if (!s || !*s)
		return WEFT_ERR_PARSE;
	/* A zero needs no unit; "00" and "0 " still do. */
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		int64_t v = 0, unit;

		if (!is_digit(*p))
			return WEFT_ERR_PARSE;
		while (is_digit(*p)) {
			int dig = *p++ - '0';

			if (v > (INT64_MAX - dig) / 10)
				return WEFT_ERR_RANGE;
			v = v * 10 + dig;
		}
		if (p[0] == 'm' && p[1] == 's') {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else if (*p == 'd') {
			unit = 86400 * 1000;
			p++;
		} else {
			return WEFT_ERR_PARSE;
		}
		if (v > INT64_MAX / unit || v * unit > INT64_MAX - total)
			return WEFT_ERR_RANGE;
		total += v * unit;
	}
	*ms = total;
	return 0;
}

int clock_format_duration(int64_t ms, char *buf, size_t size)
{
	static const struct {
		int64_t ms;
		const char *name;
	} units[] = {
		{86400 * 1000, "d"}, {3600 * 1000, "h"},
		{60 * 1000, "m"}, {1000, "s"}, {1, "ms"},
	};
	char tmp[CLOCK_DURATION_LEN];
	size_t len = 0;

	if (ms < 0)
		return WEFT_ERR_INVAL;
	if (ms == 0) {
		tmp[len++] = '0';
		tmp[len] = '\0';
	}
	/* INT64_MAX is "106751991167d7h12m55s807ms", 26 bytes: tmp never
	 * truncates. */
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		int64_t v = ms / units[i].ms;

		if (v == 0)
			continue;
		ms -= v * units[i].ms;
		len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "%lld%s",
					(long long)v, units[i].name);
	}
	if (len >= size)
		return WEFT_ERR_TOOBIG;
	memcpy(buf, tmp, len + 1);
	return 0;
}
