#include "check.h"
#include "shared/buf.h"
#include "shared/err.h"

#include <stdint.h>

static void new_buffer_is_empty_and_allocates_nothing(void)
{
	struct buf b;

	buf_init(&b, 100);
	CHECK(b.data == NULL);
	CHECK_INT(b.len, 0);
	CHECK_INT(b.max, 100);
	CHECK_STR(buf_cstr(&b), "");
	CHECK(b.data == NULL);
	buf_free(&b);
	buf_free(NULL);
}

static void appends_bytes_strings_and_chars(void)
{
	struct buf b;

	buf_init(&b, 1024);
	CHECK_INT(buf_append(&b, "abc", 3), 0);
	CHECK_INT(buf_putc(&b, '-'), 0);
	CHECK_INT(buf_append_str(&b, "xyz"), 0);
	CHECK_INT(buf_append(&b, NULL, 0), 0);
	CHECK_INT(buf_putc(&b, 0x1ff), 0);
	CHECK_INT(b.len, 8);
	CHECK_MEM(b.data, "abc-xyz\xff", 8);
	b.len--;
	CHECK_STR(buf_cstr(&b), "abc-xyz");
	CHECK_INT(b.len, 7);
	buf_free(&b);
}

static void grows_across_many_appends(void)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		REQUIRE_INT(buf_putc(&b, 'a' + i % 26), 0);
	CHECK_INT(b.len, 10000);
	CHECK(b.cap > b.len);
	for (int i = 0; i < 10000; i++)
		if (!CHECK(b.data[i] == 'a' + i % 26))
			break;
	CHECK_INT(strlen(buf_cstr(&b)), 10000);
	buf_free(&b);
}

static void append_exactly_to_max_succeeds(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK_INT(buf_append(&b, "12345678", 8), 0);
	CHECK_INT(b.len, 8);
	CHECK_STR(buf_cstr(&b), "12345678");
	CHECK(b.cap <= 9);
	buf_free(&b);
}

static void append_past_max_fails_and_leaves_buffer_unchanged(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK_INT(buf_append(&b, "1234", 4), 0);
	CHECK_INT(buf_append(&b, "56789", 5), WEFT_ERR_TOOBIG);
	CHECK_INT(b.len, 4);
	CHECK_STR(buf_cstr(&b), "1234");
	CHECK_INT(buf_append_str(&b, "5678"), 0);
	CHECK_INT(buf_putc(&b, '9'), WEFT_ERR_TOOBIG);
	CHECK_INT(buf_appendf(&b, "%d", 9), WEFT_ERR_TOOBIG);
	CHECK_STR(buf_cstr(&b), "12345678");
	CHECK_INT(buf_reserve(&b, 1), WEFT_ERR_TOOBIG);
	CHECK_INT(buf_reserve(&b, 0), 0);
	buf_free(&b);
}

static void zero_max_accepts_nothing(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK_INT(buf_putc(&b, 'x'), WEFT_ERR_TOOBIG);
	CHECK_INT(buf_append(&b, "", 0), 0);
	CHECK_INT(b.len, 0);
	CHECK_STR(buf_cstr(&b), "");
	buf_free(&b);
}

static void huge_sizes_fail_without_overflow(void)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	CHECK_INT(buf_append(&b, "ab", 2), 0);
	/* len + extra wraps around, and len + extra + 1 for the NUL too. */
	CHECK_INT(buf_reserve(&b, SIZE_MAX), WEFT_ERR_TOOBIG);
	CHECK_INT(buf_reserve(&b, SIZE_MAX - 2), WEFT_ERR_TOOBIG);
	CHECK_STR(buf_cstr(&b), "ab");
	buf_free(&b);
}

static void appendf_formats_into_small_and_large_space(void)
{
	struct buf b;
	char big[500];

	buf_init(&b, 4096);
	CHECK_INT(buf_appendf(&b, "node=%d name=%s", 5, "laptop"), 0);
	CHECK_STR(buf_cstr(&b), "node=5 name=laptop");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(buf_appendf(&b, " big=%s", big), 0);
	CHECK_INT(b.len, 18 + 5 + 499);
	CHECK(memcmp(b.data + 18, " big=zzz", 8) == 0);
	CHECK_INT(b.data[b.len - 1], 'z');
	CHECK_INT(buf_appendf(&b, "%s", ""), 0);
	CHECK_INT(b.len, 18 + 5 + 499);
	buf_free(&b);
}

static void appendf_exactly_to_max_succeeds(void)
{
	struct buf b;

	buf_init(&b, 6);
	CHECK_INT(buf_appendf(&b, "%s", "abc"), 0);
	CHECK_INT(buf_appendf(&b, "%d", 123), 0);
	CHECK_STR(buf_cstr(&b), "abc123");
	buf_free(&b);

	buf_init(&b, 6);
	CHECK_INT(buf_appendf(&b, "%d", 1234567), WEFT_ERR_TOOBIG);
	CHECK_INT(b.len, 0);
	buf_free(&b);
}

static void reset_keeps_memory_for_reuse(void)
{
	struct buf b;
	uint8_t *mem;

	buf_init(&b, 64);
	CHECK_INT(buf_append_str(&b, "hello"), 0);
	mem = b.data;
	buf_reset(&b);
	CHECK_INT(b.len, 0);
	CHECK(b.data == mem);
	CHECK_STR(buf_cstr(&b), "");
	CHECK_INT(buf_append_str(&b, "hi"), 0);
	CHECK_STR(buf_cstr(&b), "hi");
	buf_free(&b);
}

static void free_leaves_a_reusable_empty_buffer(void)
{
	struct buf b;

	buf_init(&b, 16);
	CHECK_INT(buf_append_str(&b, "data"), 0);
	buf_free(&b);
	CHECK(b.data == NULL);
	CHECK_INT(b.len, 0);
	CHECK_INT(b.cap, 0);
	CHECK_INT(b.max, 16);
	CHECK_INT(buf_append_str(&b, "again"), 0);
	CHECK_STR(buf_cstr(&b), "again");
	buf_free(&b);
}

static void reserve_makes_room_without_changing_content(void)
{
	struct buf b;
	uint8_t *mem;

	buf_init(&b, 1000);
	CHECK_INT(buf_append_str(&b, "abc"), 0);
	CHECK_INT(buf_reserve(&b, 500), 0);
	CHECK(b.cap >= 3 + 500 + 1);
	CHECK_INT(b.len, 3);
	mem = b.data;
	for (int i = 0; i < 500; i++)
		buf_putc(&b, 'x');
	CHECK(b.data == mem);
	CHECK_INT(b.len, 503);
	buf_free(&b);
}

static void cstr_stops_at_embedded_nul_but_len_counts_all(void)
{
	struct buf b;

	buf_init(&b, 16);
	CHECK_INT(buf_append(&b, "a\0b", 3), 0);
	CHECK_INT(b.len, 3);
	CHECK_STR(buf_cstr(&b), "a");
	buf_free(&b);
}

static const struct check_case cases[] = {
	CHECK_CASE(new_buffer_is_empty_and_allocates_nothing),
	CHECK_CASE(appends_bytes_strings_and_chars),
	CHECK_CASE(grows_across_many_appends),
	CHECK_CASE(append_exactly_to_max_succeeds),
	CHECK_CASE(append_past_max_fails_and_leaves_buffer_unchanged),
	CHECK_CASE(zero_max_accepts_nothing),
	CHECK_CASE(huge_sizes_fail_without_overflow),
	CHECK_CASE(appendf_formats_into_small_and_large_space),
	CHECK_CASE(appendf_exactly_to_max_succeeds),
	CHECK_CASE(reset_keeps_memory_for_reuse),
	CHECK_CASE(free_leaves_a_reusable_empty_buffer),
	CHECK_CASE(reserve_makes_room_without_changing_content),
	CHECK_CASE(cstr_stops_at_embedded_nul_but_len_counts_all),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
