/* A minimal test runner for unit and integration tests.
 *
 * A test file defines behaviour-named test functions and a table:
 *
 *   static void parses_ipv4_cidr(void) { CHECK_INT(x, 0); ... }
 *   static const struct check_case cases[] = {
 *       CHECK_CASE(parses_ipv4_cidr), {0}
 *   };
 *   int main(int argc, char **argv) { return check_main(argc, argv, cases); }
 *
 * A failed CHECK records the failure and continues; REQUIRE returns from the
 * test at once. `prog NAME` runs one case; `prog` runs all of them. The exit
 * status is non-zero when any case failed. */
#ifndef WEFT_CHECK_H
#define WEFT_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct check_case {
	const char *name;
	void (*fn)(void);
};

#define CHECK_CASE(fn) {#fn, fn}

int check_main(int argc, char **argv, const struct check_case *cases);

/* Records a failure; returns cond so callers can chain. */
bool check_report(bool cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define CHECK(c) check_report(!!(c), __FILE__, __LINE__, "CHECK(%s)", #c)

#define CHECK_INT(a, b)                                                      \
	do {                                                                 \
		long long a_ = (long long)(a), b_ = (long long)(b);          \
		check_report(a_ == b_, __FILE__, __LINE__,                   \
			     "%s == %s: %lld != %lld", #a, #b, a_, b_);      \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *a_ = (a), *b_ = (b);                             \
		check_report(a_ && b_ && strcmp(a_, b_) == 0, __FILE__,      \
			     __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
			     a_ ? a_ : "(null)", b_ ? b_ : "(null)");        \
	} while (0)

#define CHECK_MEM(a, b, n)                                                   \
	check_report(memcmp((a), (b), (n)) == 0, __FILE__, __LINE__,         \
		     "memcmp(%s, %s, %s) != 0", #a, #b, #n)

/* Like CHECK, but leaves the current test function on failure. */
#define REQUIRE(c)                                                           \
	do {                                                                 \
		if (!CHECK(c))                                               \
			return;                                              \
	} while (0)

#define REQUIRE_INT(a, b)                                                    \
	do {                                                                 \
		long long ra_ = (long long)(a), rb_ = (long long)(b);        \
		if (!check_report(ra_ == rb_, __FILE__, __LINE__,            \
				  "%s == %s: %lld != %lld", #a, #b, ra_,     \
				  rb_))                                      \
			return;                                              \
	} while (0)

/* A fresh temporary directory for this test process (created on first use,
 * removed with its contents at exit). */
const char *check_tmpdir(void);

#endif
