#include "check.h"
#include "shared/enc.h"
#include "shared/err.h"
#include "shared/hash.h"

#include <stdlib.h>

/* Hashes with the hex helper and compares with the expected digest. */
static void check_sha256_hex(const void *p, size_t n, const char *want)
{
	char hex[65];

	memset(hex, '#', sizeof(hex));
	CHECK_INT(hash_sha256_hex(p, n, hex), 0);
	CHECK_STR(hex, want);
}

static void check_hmac(const void *key, size_t klen, const void *p, size_t n,
		       const char *want)
{
	uint8_t mac[HASH_SHA256_LEN];
	char hex[65];

	CHECK_INT(hash_hmac_sha256(key, klen, p, n, mac), 0);
	hex_encode(mac, sizeof(mac), hex, sizeof(hex));
	CHECK_STR(hex, want);
}

static void sha256_matches_fips180_vectors(void)
{
	uint8_t md[32];
	static const uint8_t abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
		0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};

	CHECK_INT(hash_sha256("abc", 3, md), 0);
	CHECK_MEM(md, abc, 32);
	check_sha256_hex("abc", 3,
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		56,
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void sha256_of_empty_input_accepts_null(void)
{
	check_sha256_hex(NULL, 0,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_sha256_hex("", 0,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void sha256_of_a_million_as(void)
{
	char *p = malloc(1000000);

	REQUIRE(p != NULL);
	memset(p, 'a', 1000000);
	check_sha256_hex(p, 1000000,
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(p);
}

static void hmac_matches_rfc4231_vectors(void)
{
	uint8_t k0b[20], kaa20[20], kaa131[131], dd[50];

	memset(k0b, 0x0b, sizeof(k0b));
	memset(kaa20, 0xaa, sizeof(kaa20));
	memset(kaa131, 0xaa, sizeof(kaa131));
	memset(dd, 0xdd, sizeof(dd));
	/* Test cases 1, 2, 3, 6 and 7 of RFC 4231 section 4. */
	check_hmac(k0b, 20, "Hi There", 8,
		"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	check_hmac("Jefe", 4, "what do ya want for nothing?", 28,
		"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	check_hmac(kaa20, 20, dd, 50,
		"773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	check_hmac(kaa131, 131,
		"Test Using Larger Than Block-Size Key - Hash Key First", 54,
		"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	check_hmac(kaa131, 131,
		"This is a test using a larger than block-size key and a larger "
		"than block-size data. The key needs to be hashed before being "
		"used by the HMAC algorithm.", 152,
		"9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void hmac_accepts_empty_key_and_message(void)
{
	check_hmac(NULL, 0, NULL, 0,
		"b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void hmac_depends_on_every_key_byte(void)
{
	uint8_t key[32] = {0}, a[32], b[32];

	CHECK_INT(hash_hmac_sha256(key, sizeof(key), "msg", 3, a), 0);
	key[31] = 1;
	CHECK_INT(hash_hmac_sha256(key, sizeof(key), "msg", 3, b), 0);
	CHECK(!ct_memeq(a, b, sizeof(a)));
}

static const struct check_case cases[] = {
	CHECK_CASE(sha256_matches_fips180_vectors),
	CHECK_CASE(sha256_of_empty_input_accepts_null),
	CHECK_CASE(sha256_of_a_million_as),
	CHECK_CASE(hmac_matches_rfc4231_vectors),
	CHECK_CASE(hmac_accepts_empty_key_and_message),
	CHECK_CASE(hmac_depends_on_every_key_byte),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
