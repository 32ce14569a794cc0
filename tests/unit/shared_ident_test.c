#include "check.h"
#include "shared/enc.h"
#include "shared/err.h"
#include "shared/ident.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void generated_identities_have_distinct_keys(void)
{
	struct ident *a = NULL, *b = NULL;
	uint8_t ka[IDENT_KEY_LEN], kb[IDENT_KEY_LEN];

	REQUIRE_INT(ident_generate(&a), 0);
	REQUIRE_INT(ident_generate(&b), 0);
	CHECK_INT(ident_public_key(a, ka), 0);
	CHECK_INT(ident_public_key(b, kb), 0);
	CHECK(memcmp(ka, kb, IDENT_KEY_LEN) != 0);
	ident_del(a);
	ident_del(b);
	ident_del(NULL);
}

static void save_then_load_keeps_the_key_and_mode_0600(void)
{
	struct ident *a = NULL, *b = NULL;
	uint8_t ka[IDENT_KEY_LEN], kb[IDENT_KEY_LEN];
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/node.key", check_tmpdir());
	REQUIRE_INT(ident_generate(&a), 0);
	REQUIRE_INT(ident_save(a, path), 0);
	REQUIRE_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	REQUIRE_INT(ident_load(path, &b), 0);
	ident_public_key(a, ka);
	ident_public_key(b, kb);
	CHECK_MEM(ka, kb, IDENT_KEY_LEN);
	/* Saving again replaces the file in place. */
	CHECK_INT(ident_save(b, path), 0);
	ident_del(a);
	ident_del(b);
}

static void load_rejects_missing_and_garbage_files(void)
{
	struct ident *id = (struct ident *)0x1;
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/nope.key", check_tmpdir());
	CHECK_INT(ident_load(path, &id), -ENOENT);
	snprintf(path, sizeof(path), "%s/garbage.key", check_tmpdir());
	f = fopen(path, "w");
	REQUIRE(f);
	fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	      f);
	fclose(f);
	CHECK_INT(ident_load(path, &id), WEFT_ERR_PARSE);
	CHECK(id == (struct ident *)0x1);
}

static void load_rejects_non_ed25519_keys(void)
{
	gnutls_x509_privkey_t k;
	gnutls_datum_t pem = {0};
	struct ident *id = NULL;
	char path[512];
	FILE *f;

	REQUIRE(gnutls_x509_privkey_init(&k) == 0);
	REQUIRE(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA, 256, 0) == 0);
	REQUIRE(gnutls_x509_privkey_export2_pkcs8(k, GNUTLS_X509_FMT_PEM, NULL,
						  GNUTLS_PKCS_PLAIN, &pem) == 0);
	snprintf(path, sizeof(path), "%s/ecdsa.key", check_tmpdir());
	f = fopen(path, "w");
	REQUIRE(f);
	fwrite(pem.data, 1, pem.size, f);
	fclose(f);
	CHECK_INT(ident_load(path, &id), WEFT_ERR_UNSUPPORTED);
	gnutls_free(pem.data);
	gnutls_x509_privkey_deinit(k);
}

static void public_b64_round_trips_through_pin_decoder(void)
{
	struct ident *a = NULL;
	uint8_t k[IDENT_KEY_LEN], pin[IDENT_KEY_LEN];
	char b64[IDENT_B64_LEN];

	REQUIRE_INT(ident_generate(&a), 0);
	CHECK_INT(ident_public_b64(a, b64), 0);
	CHECK_INT(strlen(b64), 44);
	CHECK_INT(ident_pin_from_b64(b64, pin), 0);
	ident_public_key(a, k);
	CHECK_MEM(k, pin, IDENT_KEY_LEN);
	ident_del(a);
}

static void pin_decoder_rejects_wrong_lengths_and_text(void)
{
	uint8_t pin[IDENT_KEY_LEN] = {7};

	CHECK_INT(ident_pin_from_b64("AAAA", pin), WEFT_ERR_PARSE);
	CHECK_INT(ident_pin_from_b64("not base64 at all!!", pin),
		  WEFT_ERR_PARSE);
	CHECK_INT(ident_pin_from_b64(
			  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pin),
		  WEFT_ERR_PARSE);
	CHECK_INT(ident_pin_from_b64(NULL, pin), WEFT_ERR_PARSE);
	CHECK_INT(pin[0], 7);
}

/* The certificate carries the same key, so a peer that extracts it from
 * the TLS handshake sees the registered public key. */
static void certificate_carries_the_public_key(void)
{
	gnutls_certificate_credentials_t cred;
	gnutls_x509_crt_t *crts = NULL;
	unsigned ncrt = 0;
	gnutls_datum_t der = {0};
	struct ident *a = NULL;
	uint8_t k[IDENT_KEY_LEN], fromcert[IDENT_KEY_LEN];
	char cn[64];
	size_t cnlen = sizeof(cn);

	REQUIRE_INT(ident_generate(&a), 0);
	REQUIRE(gnutls_certificate_allocate_credentials(&cred) == 0);
	REQUIRE_INT(ident_set_credentials(a, cred), 0);
	REQUIRE(gnutls_certificate_get_x509_crt(cred, 0, &crts, &ncrt) == 0);
	REQUIRE(ncrt == 1);
	CHECK(gnutls_x509_crt_get_dn_by_oid(crts[0],
					    GNUTLS_OID_X520_COMMON_NAME, 0, 0,
					    cn, &cnlen) == 0);
	CHECK_STR(cn, "weft-node");
	CHECK(gnutls_x509_crt_get_expiration_time(crts[0]) >
	      time(NULL) + 9LL * 365 * 24 * 3600);
	REQUIRE(gnutls_x509_crt_export2(crts[0], GNUTLS_X509_FMT_DER, &der) ==
		0);
	CHECK_INT(ident_key_from_cert(&der, fromcert), 0);
	ident_public_key(a, k);
	CHECK_MEM(k, fromcert, IDENT_KEY_LEN);
	der.size /= 2;
	CHECK_INT(ident_key_from_cert(&der, fromcert), WEFT_ERR_PARSE);
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crts[0]);
	gnutls_free(crts);
	gnutls_certificate_free_credentials(cred);
	ident_del(a);
}

static const struct check_case cases[] = {
	CHECK_CASE(generated_identities_have_distinct_keys),
	CHECK_CASE(save_then_load_keeps_the_key_and_mode_0600),
	CHECK_CASE(load_rejects_missing_and_garbage_files),
	CHECK_CASE(load_rejects_non_ed25519_keys),
	CHECK_CASE(public_b64_round_trips_through_pin_decoder),
	CHECK_CASE(pin_decoder_rejects_wrong_lengths_and_text),
	CHECK_CASE(certificate_carries_the_public_key),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
