/* Time: monotonic clocks for timeouts, wall clock for timestamps, and
 * RFC 3339 / duration text. The text functions do no I/O and read no
 * clock, so they are pure and safe from any thread. */
#ifndef WEFT_CLOCK_H
#define WEFT_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Length of a formatted RFC 3339 time ("2026-11-21T23:59:59Z"), without
 * the NUL. */
#define CLOCK_RFC3339_LEN 20

/* Monotonic time (CLOCK_MONOTONIC) in milliseconds or microseconds since an
 * arbitrary start. Use for deadlines and intervals, never for dates. */
int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);

/* Wall-clock time (CLOCK_REALTIME) since the Unix epoch, in seconds or
 * milliseconds. It can jump; do not use it for timeouts. */
int64_t clock_wall_s(void);
int64_t clock_wall_ms(void);

/* Formats unix_s as UTC "YYYY-MM-DDTHH:MM:SSZ" with a NUL into buf (n
 * bytes). Returns 0, WEFT_ERR_TOOBIG when n <= CLOCK_RFC3339_LEN, or
 * WEFT_ERR_RANGE when the year is outside 0000..9999. buf is untouched on
 * failure. */
int clock_format_rfc3339(int64_t unix_s, char *buf, size_t n);

/* Parses an RFC 3339 date-time, "YYYY-MM-DDTHH:MM:SS" followed by an
 * optional fraction ".d+" (dropped: the result is rounded down to the
 * second) and "Z" or "+hh:mm"/"-hh:mm". 'T' and 'Z' may be lower case as
 * RFC 3339 allows. Everything else is rejected: missing fields, spaces,
 * impossible dates (2025-02-29), leap seconds (:60), trailing bytes.
 * Stores seconds since the epoch in *unix_s and returns 0, or returns
 * WEFT_ERR_PARSE (*unix_s untouched). */
int clock_parse_rfc3339(const char *s, int64_t *unix_s);

/* Length enough for any clock_format_duration output, with the NUL. */
#define CLOCK_DURATION_LEN 32

/* Parses a duration made of one or more <digits><unit> parts, units ms, s,
 * m, h and d, e.g. "500ms", "30s", "1h30m", "7d", or a bare "0". Stores the
 * total in milliseconds in *ms and returns 0; returns WEFT_ERR_PARSE for
 * empty text, signs, spaces, fractions, missing or unknown units, and
 * WEFT_ERR_RANGE when the total does not fit in int64_t. *ms is untouched
 * on failure. */
int clock_parse_duration(const char *s, int64_t *ms);

/* Formats ms (>= 0) as the shortest duration text clock_parse_duration
 * reads back to the same value ("1h30m", "500ms", "0") into buf (size
 * bytes, with the NUL). Returns 0, WEFT_ERR_INVAL for a negative ms or
 * WEFT_ERR_TOOBIG when size is too small (CLOCK_DURATION_LEN always
 * suffices); buf is untouched on failure. */
int clock_format_duration(int64_t ms, char *buf, size_t size);

#endif
