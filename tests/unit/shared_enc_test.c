#include "check.h"
#include "shared/enc.h"
#include "shared/err.h"

#include <stdint.h>

static const char std_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decodes a NUL-terminated text; returns the result code. */
static int dec(const char *s, bool url)
{
	uint8_t out[64];
	size_t n;

	return base64_decode(s, strlen(s), out, sizeof(out), &n, url);
}

static void encodes_rfc4648_test_vectors(void)
{
	static const struct {
		const char *in, *std, *url;
	} v[] = {
		{"", "", ""},
		{"f", "Zg==", "Zg"},
		{"fo", "Zm8=", "Zm8"},
		{"foo", "Zm9v", "Zm9v"},
		{"foob", "Zm9vYg==", "Zm9vYg"},
		{"fooba", "Zm9vYmE=", "Zm9vYmE"},
		{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
	};
	char out[16];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].in);

		CHECK_INT(base64_encode(v[i].in, n, out, sizeof(out), false),
			  strlen(v[i].std));
		CHECK_STR(out, v[i].std);
		CHECK_INT(base64_encoded_len(n, false), strlen(v[i].std));
		CHECK_INT(base64_encode(v[i].in, n, out, sizeof(out), true),
			  strlen(v[i].url));
		CHECK_STR(out, v[i].url);
		CHECK_INT(base64_encoded_len(n, true), strlen(v[i].url));
	}
}

static void decodes_rfc4648_test_vectors(void)
{
	static const char *const std[] = {"", "Zg==", "Zm8=", "Zm9v",
					  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	static const char *const url[] = {"", "Zg", "Zm8", "Zm9v",
					  "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	uint8_t out[16];
	size_t n;

	for (size_t i = 0; i < 7; i++) {
		n = 99;
		CHECK_INT(base64_decode(std[i], strlen(std[i]), out, sizeof(out),
					&n, false), 0);
		CHECK_INT(n, i);
		CHECK_MEM(out, "foobar", i);
		n = 99;
		CHECK_INT(base64_decode(url[i], strlen(url[i]), out, sizeof(out),
					&n, true), 0);
		CHECK_INT(n, i);
		CHECK_MEM(out, "foobar", i);
	}
}

static void alphabets_differ_only_in_the_last_two_characters(void)
{
	const uint8_t in[] = {0xfb, 0xff, 0xbf};
	char out[8];

	CHECK_INT(base64_encode(in, 3, out, sizeof(out), false), 4);
	CHECK_STR(out, "+/+/");
	CHECK_INT(base64_encode(in, 3, out, sizeof(out), true), 4);
	CHECK_STR(out, "-_-_");
	CHECK_INT(dec("+/+/", true), WEFT_ERR_PARSE);
	CHECK_INT(dec("-_-_", false), WEFT_ERR_PARSE);
}

/* Checks the arithmetic character mapping against the alphabet, for every
 * index and every possible byte. */
static void every_character_maps_like_the_alphabet(void)
{
	for (int url = 0; url < 2; url++) {
		const char *alpha = url ? url_alphabet : std_alphabet;

		for (int i = 0; i < 64; i++) {
			uint8_t in[3] = {0, 0, (uint8_t)i};
			char out[8];

			base64_encode(in, 3, out, sizeof(out), url);
			if (!CHECK(out[3] == alpha[i]))
				break;
		}
		for (int c = 0; c < 256; c++) {
			/* c sits mid-text, where '=' is never valid. */
			char text[8] = {'A', 'A', 'A', (char)c,
					'A', 'A', 'A', 'A'};
			const char *hit = c ? memchr(alpha, c, 64) : NULL;
			uint8_t out[6] = {0};
			size_t n = 0;
			int r;

			r = base64_decode(text, 8, out, sizeof(out), &n, url);
			if (hit) {
				CHECK_INT(r, 0);
				CHECK_INT(out[2], hit - alpha);
			} else {
				CHECK_INT(r, WEFT_ERR_PARSE);
			}
		}
	}
}

static void every_byte_value_round_trips(void)
{
	uint8_t in[256], back[256];
	char text[400];
	size_t n;

	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	for (int url = 0; url < 2; url++) {
		for (size_t len = 0; len <= 256; len += (len < 8 ? 1 : 61)) {
			int t = base64_encode(in, len, text, sizeof(text), url);

			REQUIRE(t >= 0);
			REQUIRE_INT(base64_decode(text, (size_t)t, back,
						  sizeof(back), &n, url), 0);
			CHECK_INT(n, len);
			CHECK_MEM(back, in, len);
		}
	}
}

static void rejects_characters_outside_the_alphabet(void)
{
	CHECK_INT(dec("Zm9!", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm9.", true), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm\xc3\xa9", false), WEFT_ERR_PARSE);
	CHECK_INT(base64_decode("Zm\0v", 4, (uint8_t[8]){0}, 8,
				&(size_t){0}, false), WEFT_ERR_PARSE);
}

static void rejects_whitespace_anywhere(void)
{
	CHECK_INT(dec("Zm9v\n", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm9vYmFy\r\n", false), WEFT_ERR_PARSE);
	CHECK_INT(dec(" Zm9v", true), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm 9vYmFy", true), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm9\tvYmFy", true), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm9vYmF\n", false), WEFT_ERR_PARSE);
}

static void rejects_wrong_padding(void)
{
	/* Standard base64 must be padded to a multiple of four. */
	CHECK_INT(dec("Zg", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm8", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zg=", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zg===", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Z===", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("====", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("=", false), WEFT_ERR_PARSE);
	/* '=' only at the very end. */
	CHECK_INT(dec("Zg==Zg==", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Z=g=", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("=Zm8", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm9v====", false), WEFT_ERR_PARSE);
	/* base64url carries no padding at all. */
	CHECK_INT(dec("Zg==", true), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm8=", true), WEFT_ERR_PARSE);
	/* One leftover character can never be valid. */
	CHECK_INT(dec("Z", true), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm9vY", true), WEFT_ERR_PARSE);
}

static void rejects_nonzero_trailing_bits(void)
{
	/* "f" is Zg==; Zh== decodes to "f" too unless rejected. */
	CHECK_INT(dec("Zh==", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zv==", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm9=", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm/=", false), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zh", true), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm9", true), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zm_", true), WEFT_ERR_PARSE);
	CHECK_INT(dec("Zg==", false), 0);
	CHECK_INT(dec("Zm8=", false), 0);
}

static void decode_fits_exact_buffer_and_rejects_one_short(void)
{
	uint8_t out[6];
	size_t n = 42;

	CHECK_INT(base64_decode("Zm9vYmFy", 8, out, 6, &n, false), 0);
	CHECK_INT(n, 6);
	CHECK_MEM(out, "foobar", 6);
	memset(out, 0xee, sizeof(out));
	n = 42;
	CHECK_INT(base64_decode("Zm9vYmFy", 8, out, 5, &n, false),
		  WEFT_ERR_TOOBIG);
	CHECK_INT(base64_decode("Zm9vYmE", 7, out, 4, &n, true),
		  WEFT_ERR_TOOBIG);
	CHECK_INT(base64_decode("Zm9vYmE", 7, out, 5, &n, true), 0);
	CHECK_INT(n, 5);
	n = 42;
	CHECK_INT(base64_decode("Zm9vYmE=", 8, out, 4, &n, false),
		  WEFT_ERR_TOOBIG);
	CHECK_INT(n, 42);
}

static void failed_decode_leaves_outputs_untouched(void)
{
	uint8_t out[8];
	size_t n = 42;

	memset(out, 0xee, sizeof(out));
	/* The bad character comes last, after good ones. */
	CHECK_INT(base64_decode("Zm9vYmF!", 8, out, sizeof(out), &n, false),
		  WEFT_ERR_PARSE);
	CHECK_INT(hex_decode("00112g", 6, out, sizeof(out), &n),
		  WEFT_ERR_PARSE);
	CHECK_INT(n, 42);
	for (size_t i = 0; i < sizeof(out); i++)
		CHECK_INT(out[i], 0xee);
}

static void encode_fits_exact_buffer_and_rejects_one_short(void)
{
	char out[9];

	memset(out, '#', sizeof(out));
	CHECK_INT(base64_encode("foobar", 6, out, 8, false), WEFT_ERR_TOOBIG);
	CHECK_INT(out[0], '#');
	CHECK_INT(base64_encode("foobar", 6, out, 9, false), 8);
	CHECK_STR(out, "Zm9vYmFy");
	CHECK_INT(base64_encode("fooba", 5, out, 7, true), WEFT_ERR_TOOBIG);
	CHECK_INT(base64_encode("fooba", 5, out, 8, true), 7);
	CHECK_STR(out, "Zm9vYmE");
	CHECK_INT(base64_encode("", 0, out, 0, false), WEFT_ERR_TOOBIG);
	CHECK_INT(base64_encode("", 0, out, 1, false), 0);
	CHECK_STR(out, "");
	CHECK_INT(hex_encode("ab", 2, out, 4), WEFT_ERR_TOOBIG);
	CHECK_INT(hex_encode("ab", 2, out, 5), 4);
	CHECK_STR(out, "6162");
}

static void encoded_len_reports_overflow(void)
{
	CHECK_INT(base64_encoded_len(SIZE_MAX, false), SIZE_MAX);
	CHECK_INT(base64_encoded_len(SIZE_MAX - SIZE_MAX / 8, true), SIZE_MAX);
	CHECK(base64_encoded_len(SIZE_MAX / 2, true) < SIZE_MAX);
	CHECK_INT(base64_encoded_len(32, false), 44);
	CHECK_INT(base64_encoded_len(32, true), 43);
	CHECK_INT(base64_encode("", SIZE_MAX, (char[4]){0}, 4, false),
		  WEFT_ERR_TOOBIG);
	CHECK_INT(hex_encode("", SIZE_MAX / 2, (char[4]){0}, 4),
		  WEFT_ERR_TOOBIG);
}

static void hex_encodes_lower_case(void)
{
	const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
	char out[17];

	CHECK_INT(hex_encode(in, sizeof(in), out, sizeof(out)), 16);
	CHECK_STR(out, "00017f80abcdefff");
	CHECK_INT(hex_encode("foobar", 6, out, sizeof(out)), 12);
	CHECK_STR(out, "666f6f626172");
	CHECK_INT(hex_encode(NULL, 0, out, 1), 0);
	CHECK_STR(out, "");
}

static void hex_decodes_either_case(void)
{
	uint8_t out[8];
	size_t n = 0;

	CHECK_INT(hex_decode("00017F80abCDefFF", 16, out, sizeof(out), &n), 0);
	CHECK_INT(n, 8);
	CHECK_MEM(out, "\x00\x01\x7f\x80\xab\xcd\xef\xff", 8);
	CHECK_INT(hex_decode("", 0, out, 0, &n), 0);
	CHECK_INT(n, 0);
}

static void hex_every_byte_round_trips(void)
{
	uint8_t in[256], back[256];
	char text[513];
	size_t n;

	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	REQUIRE_INT(hex_encode(in, 256, text, sizeof(text)), 512);
	REQUIRE_INT(hex_decode(text, 512, back, sizeof(back), &n), 0);
	CHECK_INT(n, 256);
	CHECK_MEM(back, in, 256);
}

static void hex_rejects_odd_length_and_bad_characters(void)
{
	uint8_t out[8];
	size_t n;

	CHECK_INT(hex_decode("abc", 3, out, sizeof(out), &n), WEFT_ERR_PARSE);
	CHECK_INT(hex_decode("0g", 2, out, sizeof(out), &n), WEFT_ERR_PARSE);
	CHECK_INT(hex_decode("G0", 2, out, sizeof(out), &n), WEFT_ERR_PARSE);
	CHECK_INT(hex_decode(" 0", 2, out, sizeof(out), &n), WEFT_ERR_PARSE);
	CHECK_INT(hex_decode("0\n", 2, out, sizeof(out), &n), WEFT_ERR_PARSE);
	CHECK_INT(hex_decode("0\0", 2, out, sizeof(out), &n), WEFT_ERR_PARSE);
	CHECK_INT(hex_decode("0x12", 4, out, sizeof(out), &n), WEFT_ERR_PARSE);
	/* Bytes just outside each accepted range. */
	CHECK_INT(hex_decode("/0", 2, out, sizeof(out), &n), WEFT_ERR_PARSE);
	CHECK_INT(hex_decode(":0", 2, out, sizeof(out), &n), WEFT_ERR_PARSE);
	CHECK_INT(hex_decode("`0", 2, out, sizeof(out), &n), WEFT_ERR_PARSE);
	CHECK_INT(hex_decode("@0", 2, out, sizeof(out), &n), WEFT_ERR_PARSE);
	CHECK_INT(hex_decode("\xb0\x30", 2, out, sizeof(out), &n),
		  WEFT_ERR_PARSE);
}

static void hex_decode_fits_exact_buffer_and_rejects_one_short(void)
{
	uint8_t out[3];
	size_t n = 0;

	CHECK_INT(hex_decode("a1b2c3", 6, out, 3, &n), 0);
	CHECK_INT(n, 3);
	CHECK_MEM(out, "\xa1\xb2\xc3", 3);
	CHECK_INT(hex_decode("a1b2c3", 6, out, 2, &n), WEFT_ERR_TOOBIG);
}

static void ct_memeq_compares_every_byte(void)
{
	uint8_t a[32], b[32];

	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	CHECK(ct_memeq(a, b, sizeof(a)));
	CHECK(ct_memeq(a, b, 0));
	b[0] ^= 1;
	CHECK(!ct_memeq(a, b, sizeof(a)));
	CHECK(ct_memeq(a + 1, b + 1, sizeof(a) - 1));
	b[0] ^= 1;
	b[31] ^= 0x80;
	CHECK(!ct_memeq(a, b, sizeof(a)));
	CHECK(ct_memeq(a, b, sizeof(a) - 1));
}

static const struct check_case cases[] = {
	CHECK_CASE(encodes_rfc4648_test_vectors),
	CHECK_CASE(decodes_rfc4648_test_vectors),
	CHECK_CASE(alphabets_differ_only_in_the_last_two_characters),
	CHECK_CASE(every_character_maps_like_the_alphabet),
	CHECK_CASE(every_byte_value_round_trips),
	CHECK_CASE(rejects_characters_outside_the_alphabet),
	CHECK_CASE(rejects_whitespace_anywhere),
	CHECK_CASE(rejects_wrong_padding),
	CHECK_CASE(rejects_nonzero_trailing_bits),
	CHECK_CASE(decode_fits_exact_buffer_and_rejects_one_short),
	CHECK_CASE(failed_decode_leaves_outputs_untouched),
	CHECK_CASE(encode_fits_exact_buffer_and_rejects_one_short),
	CHECK_CASE(encoded_len_reports_overflow),
	CHECK_CASE(hex_encodes_lower_case),
	CHECK_CASE(hex_decodes_either_case),
	CHECK_CASE(hex_every_byte_round_trips),
	CHECK_CASE(hex_rejects_odd_length_and_bad_characters),
	CHECK_CASE(hex_decode_fits_exact_buffer_and_rejects_one_short),
	CHECK_CASE(ct_memeq_compares_every_byte),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
