#include "check.h"
#include "shared/enc.h"
#include "shared/err.h"
#include "shared/token.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000

/* One key pair for the whole file; generated lazily, freed at exit. */
static char *priv_key, *pub_key;

static void free_keys(void)
{
	token_key_free(priv_key);
	free(pub_key);
}

static int keys(void)
{
	if (priv_key)
		return 1;
	if (token_keygen(&priv_key, &pub_key) != 0)
		return 0;
	atexit(free_keys);
	return 1;
}

static struct token_claims sample(void)
{
	struct token_claims c;

	memset(&c, 0, sizeof(c));
	c.node_id = 42;
	snprintf(c.ipv4, sizeof(c.ipv4), "100.64.0.42");
	snprintf(c.ipv6, sizeof(c.ipv6), "fd7a:115c:a1e0::2a");
	c.iat = NOW - 10;
	c.exp = NOW + 300;
	return c;
}

/* Signs a token with libjwt directly: any alg and key, arbitrary grants
 * given as a JSON object. Returns a malloc'd token or NULL. */
static char *raw_sign(jwt_alg_t alg, const char *key, const char *grants)
{
	jwt_t *jwt = NULL;
	char *s = NULL;

	if (jwt_new(&jwt))
		return NULL;
	if (jwt_set_alg(jwt, alg, (const unsigned char *)key,
			key ? (int)strlen(key) : 0) == 0 &&
	    jwt_add_grants_json(jwt, grants) == 0)
		s = jwt_encode_str(jwt);
	jwt_free(jwt);
	return s;
}

/* Builds header.payload.signature from JSON header and payload text and
 * raw signature bytes (sig may be NULL for an empty segment). */
static char *assemble(const char *hdr, const char *pay,
		      const unsigned char *sig, size_t siglen)
{
	char h[1024], p[2048], s[256] = "";
	char *out;

	if (base64_encode(hdr, strlen(hdr), h, sizeof(h), true) < 0 ||
	    base64_encode(pay, strlen(pay), p, sizeof(p), true) < 0)
		return NULL;
	if (sig && base64_encode(sig, siglen, s, sizeof(s), true) < 0)
		return NULL;
	if (asprintf(&out, "%s.%s.%s", h, p, s) < 0)
		return NULL;
	return out;
}

static const char *good_payload =
	"{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\",\"sub\":\"42\","
	"\"node\":42,\"ipv4\":\"100.64.0.42\",\"ipv6\":\"\","
	"\"iat\":1699999990,\"exp\":1700000300}";

/* Decodes the signature segment of tok into sig (cap bytes). */
static int sig_of(const char *tok, unsigned char *sig, size_t cap,
		  size_t *n)
{
	const char *d = strrchr(tok, '.');

	if (!d)
		return -1;
	return base64_decode(d + 1, strlen(d + 1), sig, cap, n, true);
}

static void keygen_writes_pkcs8_and_spki_pem(void)
{
	REQUIRE(keys());
	CHECK(strncmp(priv_key, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	CHECK(strstr(priv_key, "-----END PRIVATE KEY-----") != NULL);
	CHECK(strncmp(pub_key, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
	CHECK(strstr(pub_key, "-----END PUBLIC KEY-----") != NULL);
}

static void keygen_makes_a_fresh_pair_each_time(void)
{
	char *priv2 = NULL, *pub2 = NULL;

	REQUIRE(keys());
	REQUIRE_INT(token_keygen(&priv2, &pub2), 0);
	CHECK(strcmp(priv2, priv_key) != 0);
	CHECK(strcmp(pub2, pub_key) != 0);
	token_key_free(priv2);
	free(pub2);
}

static void sign_then_verify_returns_all_claims(void)
{
	struct token_claims c = sample(), got;
	char *tok = NULL;

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	memset(&got, 0x55, sizeof(got));
	CHECK_INT(token_verify(pub_key, tok, NOW, &got), 0);
	CHECK_INT(got.node_id, 42);
	CHECK_STR(got.ipv4, "100.64.0.42");
	CHECK_STR(got.ipv6, "fd7a:115c:a1e0::2a");
	CHECK_INT(got.iat, NOW - 10);
	CHECK_INT(got.exp, NOW + 300);
	CHECK_INT(token_verify(pub_key, tok, NOW, NULL), 0);
	free(tok);
}

static void token_has_es256_header_and_documented_claims(void)
{
	struct token_claims c = sample();
	unsigned char buf[1024];
	char *tok = NULL, *d1, *d2;
	size_t n;

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	d1 = strchr(tok, '.');
	REQUIRE(d1 != NULL);
	d2 = strchr(d1 + 1, '.');
	REQUIRE(d2 != NULL);
	REQUIRE_INT(base64_decode(tok, (size_t)(d1 - tok), buf,
				  sizeof(buf) - 1, &n, true), 0);
	buf[n] = '\0';
	CHECK(strstr((char *)buf, "\"alg\":\"ES256\"") != NULL);
	CHECK(strstr((char *)buf, "\"typ\":\"JWT\"") != NULL);
	REQUIRE_INT(base64_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf,
				  sizeof(buf) - 1, &n, true), 0);
	buf[n] = '\0';
	CHECK(strstr((char *)buf, "\"iss\":\"weft-controller\"") != NULL);
	CHECK(strstr((char *)buf, "\"aud\":\"weft-relay\"") != NULL);
	CHECK(strstr((char *)buf, "\"sub\":\"42\"") != NULL);
	CHECK(strstr((char *)buf, "\"node\":42") != NULL);
	CHECK(strstr((char *)buf, "\"iat\":1699999990") != NULL);
	CHECK(strstr((char *)buf, "\"exp\":1700000300") != NULL);
	free(tok);
}

/* The JOSE form: 64 bytes R||S that GnuTLS, an independent
 * implementation, verifies once they are wrapped into DER. */
static void signature_is_raw_r_s_of_64_bytes(void)
{
	struct token_claims c = sample();
	unsigned char sig[128];
	gnutls_datum_t r, s, der = {NULL, 0}, data, pem;
	gnutls_pubkey_t pub = NULL;
	char *tok = NULL;
	size_t n = 0;

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	REQUIRE_INT(sig_of(tok, sig, sizeof(sig), &n), 0);
	CHECK_INT(n, 64);

	r.data = sig;
	r.size = 32;
	s.data = sig + 32;
	s.size = 32;
	REQUIRE_INT(gnutls_encode_rs_value(&der, &r, &s), 0);
	data.data = (unsigned char *)tok;
	data.size = (unsigned)(strrchr(tok, '.') - tok);
	pem.data = (unsigned char *)pub_key;
	pem.size = (unsigned)strlen(pub_key);
	CHECK_INT(gnutls_pubkey_init(&pub), 0);
	CHECK_INT(gnutls_pubkey_import(pub, &pem, GNUTLS_X509_FMT_PEM), 0);
	CHECK(gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0,
					 &data, &der) >= 0);
	gnutls_pubkey_deinit(pub);
	gnutls_free(der.data);
	free(tok);
}

static void der_encoded_signature_is_rejected(void)
{
	struct token_claims c = sample();
	unsigned char sig[128];
	gnutls_datum_t r, s, der = {NULL, 0};
	char *tok = NULL, *bad = NULL, text[256];
	size_t n = 0;

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	REQUIRE_INT(sig_of(tok, sig, sizeof(sig), &n), 0);
	REQUIRE_INT(n, 64);
	r.data = sig;
	r.size = 32;
	s.data = sig + 32;
	s.size = 32;
	REQUIRE_INT(gnutls_encode_rs_value(&der, &r, &s), 0);
	REQUIRE(base64_encode(der.data, der.size, text, sizeof(text), true) >
		0);
	*(strrchr(tok, '.') + 1) = '\0';
	REQUIRE(asprintf(&bad, "%s%s", tok, text) > 0);
	CHECK_INT(token_verify(pub_key, bad, NOW, NULL), WEFT_ERR_AUTH);
	gnutls_free(der.data);
	free(bad);
	free(tok);
}

static void verify_with_other_key_fails(void)
{
	struct token_claims c = sample();
	char *priv2 = NULL, *pub2 = NULL, *tok = NULL;

	REQUIRE(keys());
	REQUIRE_INT(token_keygen(&priv2, &pub2), 0);
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	CHECK_INT(token_verify(pub2, tok, NOW, NULL), WEFT_ERR_AUTH);
	token_key_free(priv2);
	free(pub2);
	free(tok);
}

static void verify_with_garbage_key_fails(void)
{
	struct token_claims c = sample();
	char *tok = NULL;

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	CHECK_INT(token_verify("not a key", tok, NOW, NULL), WEFT_ERR_AUTH);
	CHECK_INT(token_verify("", tok, NOW, NULL), WEFT_ERR_AUTH);
	/* The private key is not a public key. */
	CHECK_INT(token_verify(priv_key, tok, NOW, NULL), WEFT_ERR_AUTH);
	free(tok);
}

static void expired_token_reports_expired(void)
{
	struct token_claims c = sample(), got;
	char *tok = NULL;

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	got.node_id = 7;
	CHECK_INT(token_verify(pub_key, tok, c.exp, &got), WEFT_ERR_EXPIRED);
	CHECK_INT(token_verify(pub_key, tok, c.exp + 1000, &got),
		  WEFT_ERR_EXPIRED);
	CHECK_INT(got.node_id, 7);
	CHECK_INT(token_verify(pub_key, tok, c.exp - 1, &got), 0);
	free(tok);
}

static void expired_token_with_bad_signature_is_auth_not_expired(void)
{
	struct token_claims c = sample();
	char *tok = NULL, *p;

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	p = strrchr(tok, '.') + 5;
	*p = *p == 'A' ? 'B' : 'A';
	CHECK_INT(token_verify(pub_key, tok, c.exp + 10, NULL), WEFT_ERR_AUTH);
	free(tok);
}

static void token_from_the_future_beyond_skew_fails(void)
{
	struct token_claims c = sample();
	char *tok = NULL;

	REQUIRE(keys());
	c.iat = NOW + TOKEN_IAT_SKEW;
	c.exp = c.iat + 300;
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	CHECK_INT(token_verify(pub_key, tok, NOW, NULL), 0);
	CHECK_INT(token_verify(pub_key, tok, NOW - 1, NULL), WEFT_ERR_AUTH);
	free(tok);
}

static void tampered_payload_fails(void)
{
	struct token_claims c = sample();
	char *tok = NULL, *forged = NULL, hdr[256], *d1, *d2;
	const char *pay = "{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\","
			  "\"sub\":\"1\",\"node\":1,\"ipv4\":\"100.64.0.1\","
			  "\"iat\":1699999990,\"exp\":1700000300}";
	char p64[512];

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	d1 = strchr(tok, '.');
	d2 = strrchr(tok, '.');
	REQUIRE(d1 && d2 && d1 < d2);
	/* Another node's claims under the original header and signature. */
	snprintf(hdr, sizeof(hdr), "%.*s", (int)(d1 - tok), tok);
	REQUIRE(base64_encode(pay, strlen(pay), p64, sizeof(p64), true) > 0);
	REQUIRE(asprintf(&forged, "%s.%s%s", hdr, p64, d2) > 0);
	CHECK_INT(token_verify(pub_key, forged, NOW, NULL), WEFT_ERR_AUTH);
	/* One flipped character inside the payload. */
	d1[3] = d1[3] == 'x' ? 'y' : 'x';
	CHECK_INT(token_verify(pub_key, tok, NOW, NULL), WEFT_ERR_AUTH);
	free(forged);
	free(tok);
}

static void tampered_signature_fails(void)
{
	struct token_claims c = sample();
	unsigned char sig[64];
	char *tok = NULL, *bad = NULL, text[128];
	size_t n = 0;

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	REQUIRE_INT(sig_of(tok, sig, sizeof(sig), &n), 0);
	sig[10] ^= 1;
	REQUIRE(base64_encode(sig, n, text, sizeof(text), true) > 0);
	*(strrchr(tok, '.') + 1) = '\0';
	REQUIRE(asprintf(&bad, "%s%s", tok, text) > 0);
	CHECK_INT(token_verify(pub_key, bad, NOW, NULL), WEFT_ERR_AUTH);
	free(bad);
	/* A truncated signature, and none at all. */
	REQUIRE(asprintf(&bad, "%s%.85s", tok, text) > 0);
	CHECK_INT(token_verify(pub_key, bad, NOW, NULL), WEFT_ERR_AUTH);
	CHECK_INT(token_verify(pub_key, tok, NOW, NULL), WEFT_ERR_AUTH);
	free(bad);
	free(tok);
}

static void alg_none_token_fails(void)
{
	char *tok;

	REQUIRE(keys());
	tok = assemble("{\"alg\":\"none\"}", good_payload, NULL, 0);
	REQUIRE(tok != NULL);
	CHECK(strncmp(tok, "eyJhbGciOiJub25lIn0.", 20) == 0);
	CHECK_INT(token_verify(pub_key, tok, NOW, NULL), WEFT_ERR_AUTH);
	free(tok);
	/* Also with a plausible 64-byte signature attached. */
	tok = assemble("{\"alg\":\"none\",\"typ\":\"JWT\"}", good_payload,
		       (const unsigned char *)"0123456789abcdef0123456789abcdef"
					      "0123456789abcdef0123456789abcdef",
		       64);
	REQUIRE(tok != NULL);
	CHECK_INT(token_verify(pub_key, tok, NOW, NULL), WEFT_ERR_AUTH);
	free(tok);
}

/* Algorithm confusion: the public key is public, so anyone can HMAC with
 * its PEM text. libjwt alone accepts such a token (pinned here because it
 * is why token_verify checks the header first); token_verify must not. */
static void hs256_token_keyed_with_public_key_fails(void)
{
	jwt_t *jwt = NULL;
	char *tok;

	REQUIRE(keys());
	tok = raw_sign(JWT_ALG_HS256, pub_key, good_payload);
	REQUIRE(tok != NULL);
	/* Proves the token is a working attack on bare libjwt 1.10.2, not
	 * one that fails for some unrelated reason. */
	CHECK_INT(jwt_decode(&jwt, tok, (const unsigned char *)pub_key,
			     (int)strlen(pub_key)), 0);
	if (jwt)
		CHECK_INT(jwt_get_alg(jwt), JWT_ALG_HS256);
	jwt_free(jwt);
	CHECK_INT(token_verify(pub_key, tok, NOW, NULL), WEFT_ERR_AUTH);
	free(tok);
}

static void other_header_algs_fail(void)
{
	static const char *hdrs[] = {
		"{\"alg\":\"ES384\",\"typ\":\"JWT\"}",
		"{\"alg\":\"es256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"ES256 \",\"typ\":\"JWT\"}",
		"{\"typ\":\"JWT\"}",
		"{\"alg\":null}",
		"{\"alg\":[\"ES256\"]}",
		"{\"alg\":\"ES256\",\"alg\":\"ES256\"}",
		"{\"alg\":\"ES256\",\"typ\":\"JWE\"}",
		"{\"alg\":\"ES256\",\"crit\":[\"x\"]}",
		"[\"ES256\"]",
		"",
	};
	unsigned char sig[64];
	char *good = NULL, *tok;
	struct token_claims c = sample();
	size_t n = 0;

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &good), 0);
	REQUIRE_INT(sig_of(good, sig, sizeof(sig), &n), 0);
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		tok = assemble(hdrs[i], good_payload, sig, sizeof(sig));
		REQUIRE(tok != NULL);
		if (!check_report(token_verify(pub_key, tok, NOW, NULL) ==
					  WEFT_ERR_AUTH,
				  __FILE__, __LINE__, "header %s", hdrs[i]))
			fprintf(stderr, "  token %s\n", tok);
		free(tok);
	}
	free(good);
}

/* Validly signed tokens whose claims are wrong. */
static void bad_claims_fail(void)
{
	static const char *payloads[] = {
		/* wrong aud, wrong iss */
		"{\"iss\":\"weft-controller\",\"aud\":\"weft-api\",\"sub\":\"42\","
		"\"node\":42,\"iat\":1699999990,\"exp\":1700000300}",
		"{\"iss\":\"evil\",\"aud\":\"weft-relay\",\"sub\":\"42\","
		"\"node\":42,\"iat\":1699999990,\"exp\":1700000300}",
		/* aud as an array, iss missing */
		"{\"iss\":\"weft-controller\",\"aud\":[\"weft-relay\"],"
		"\"sub\":\"42\",\"node\":42,\"iat\":1699999990,"
		"\"exp\":1700000300}",
		"{\"aud\":\"weft-relay\",\"sub\":\"42\","
		"\"node\":42,\"iat\":1699999990,\"exp\":1700000300}",
		/* sub not the node, sub with a leading zero */
		"{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\",\"sub\":\"43\","
		"\"node\":42,\"iat\":1699999990,\"exp\":1700000300}",
		"{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\",\"sub\":\"042\","
		"\"node\":42,\"iat\":1699999990,\"exp\":1700000300}",
		/* node 0, negative, as a string, as a real */
		"{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\",\"sub\":\"0\","
		"\"node\":0,\"iat\":1699999990,\"exp\":1700000300}",
		"{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\",\"sub\":\"-1\","
		"\"node\":-1,\"iat\":1699999990,\"exp\":1700000300}",
		"{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\",\"sub\":\"42\","
		"\"node\":\"42\",\"iat\":1699999990,\"exp\":1700000300}",
		"{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\",\"sub\":\"42\","
		"\"node\":42.0,\"iat\":1699999990,\"exp\":1700000300}",
		/* exp missing, exp not after iat, ipv4 too long */
		"{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\",\"sub\":\"42\","
		"\"node\":42,\"iat\":1699999990}",
		"{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\",\"sub\":\"42\","
		"\"node\":42,\"iat\":1700000300,\"exp\":1700000300}",
		"{\"iss\":\"weft-controller\",\"aud\":\"weft-relay\",\"sub\":\"42\","
		"\"node\":42,\"iat\":1699999990,\"exp\":1700000300,\"ipv4\":"
		"\"0123456789012345678901234567890123456789012345678\"}",
	};

	REQUIRE(keys());
	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		char *tok = raw_sign(JWT_ALG_ES256, priv_key, payloads[i]);

		REQUIRE(tok != NULL);
		check_report(token_verify(pub_key, tok, NOW, NULL) ==
				     WEFT_ERR_AUTH,
			     __FILE__, __LINE__, "payload %s", payloads[i]);
		free(tok);
	}
}

static void good_payload_signed_by_libjwt_verifies(void)
{
	struct token_claims got;
	char *tok;

	/* The control case for bad_claims_fail: same path, good claims. */
	REQUIRE(keys());
	tok = raw_sign(JWT_ALG_ES256, priv_key, good_payload);
	REQUIRE(tok != NULL);
	CHECK_INT(token_verify(pub_key, tok, NOW, &got), 0);
	CHECK_INT(got.node_id, 42);
	CHECK_STR(got.ipv6, "");
	free(tok);
}

static void malformed_tokens_fail(void)
{
	struct token_claims c = sample();
	char *tok = NULL, *s = NULL, *big;

	REQUIRE(keys());
	REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
	CHECK_INT(token_verify(pub_key, "", NOW, NULL), WEFT_ERR_AUTH);
	CHECK_INT(token_verify(pub_key, "garbage", NOW, NULL), WEFT_ERR_AUTH);
	CHECK_INT(token_verify(pub_key, "..", NOW, NULL), WEFT_ERR_AUTH);
	CHECK_INT(token_verify(pub_key, "a.b.c", NOW, NULL), WEFT_ERR_AUTH);
	CHECK_INT(token_verify(pub_key, "\xff\xfe.\x01.", NOW, NULL),
		  WEFT_ERR_AUTH);
	/* Four segments, a trailing dot, surrounding whitespace, padding. */
	REQUIRE(asprintf(&s, "%s.AAAA", tok) > 0);
	CHECK_INT(token_verify(pub_key, s, NOW, NULL), WEFT_ERR_AUTH);
	free(s);
	REQUIRE(asprintf(&s, "%s.", tok) > 0);
	CHECK_INT(token_verify(pub_key, s, NOW, NULL), WEFT_ERR_AUTH);
	free(s);
	REQUIRE(asprintf(&s, " %s\n", tok) > 0);
	CHECK_INT(token_verify(pub_key, s, NOW, NULL), WEFT_ERR_AUTH);
	free(s);
	REQUIRE(asprintf(&s, "%s==", tok) > 0);
	CHECK_INT(token_verify(pub_key, s, NOW, NULL), WEFT_ERR_AUTH);
	free(s);
	/* Over-long: a valid token followed by junk past TOKEN_MAX_LEN. */
	big = malloc(TOKEN_MAX_LEN + 2);
	REQUIRE(big != NULL);
	memset(big, 'A', TOKEN_MAX_LEN + 1);
	big[TOKEN_MAX_LEN + 1] = '\0';
	memcpy(big, tok, strlen(tok));
	CHECK_INT(token_verify(pub_key, big, NOW, NULL), WEFT_ERR_AUTH);
	free(big);
	CHECK_INT(token_verify(NULL, tok, NOW, NULL), WEFT_ERR_INVAL);
	CHECK_INT(token_verify(pub_key, NULL, NOW, NULL), WEFT_ERR_INVAL);
	free(tok);
}

static void sign_rejects_invalid_claims_and_keys(void)
{
	struct token_claims c = sample();
	char *tok = (char *)"untouched";

	REQUIRE(keys());
	c.node_id = 0;
	CHECK_INT(token_sign(priv_key, &c, &tok), WEFT_ERR_INVAL);
	c = sample();
	c.exp = c.iat;
	CHECK_INT(token_sign(priv_key, &c, &tok), WEFT_ERR_INVAL);
	c = sample();
	memset(c.ipv4, 'x', sizeof(c.ipv4));
	CHECK_INT(token_sign(priv_key, &c, &tok), WEFT_ERR_INVAL);
	c = sample();
	CHECK_INT(token_sign(pub_key, &c, &tok), WEFT_ERR_CRYPTO);
	CHECK_INT(token_sign("junk", &c, &tok), WEFT_ERR_CRYPTO);
	CHECK_STR(tok, "untouched");
}

/* A public key PEM of another curve (P-384), malloc'd, or NULL. */
static char *p384_pub(void)
{
	gnutls_x509_privkey_t x = NULL;
	gnutls_privkey_t pk = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d = {NULL, 0};
	char *s = NULL;

	if (gnutls_x509_privkey_init(&x) == 0 &&
	    gnutls_x509_privkey_generate(x, GNUTLS_PK_ECDSA,
			GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1), 0) == 0 &&
	    gnutls_privkey_init(&pk) == 0 &&
	    gnutls_privkey_import_x509(pk, x, 0) == 0 &&
	    gnutls_pubkey_init(&pub) == 0 &&
	    gnutls_pubkey_import_privkey(pub, pk, 0, 0) == 0 &&
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &d) == 0)
		s = strndup((const char *)d.data, d.size);
	gnutls_free(d.data);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(pk);
	gnutls_x509_privkey_deinit(x);
	return s;
}

static void pubkey_parse_takes_pem_or_the_relay_key_json(void)
{
	char *pem = NULL, *json = NULL, *esc;
	json_t *o;

	REQUIRE(keys());
	CHECK_INT(token_pubkey_parse(pub_key, &pem), 0);
	CHECK_STR(pem, pub_key);
	free(pem);
	pem = NULL;
	/* What curl prints for GET /api/v1/relay-key. */
	o = json_pack("{s:s, s:s}", "algorithm", "ES256", "public_key",
		      pub_key);
	json = json_dumps(o, 0);
	json_decref(o);
	REQUIRE(json);
	CHECK_INT(token_pubkey_parse(json, &pem), 0);
	CHECK_STR(pem, pub_key);
	free(pem);
	pem = NULL;
	/* The key verifies tokens signed by its private half. */
	{
		struct token_claims c = sample(), got;
		char *tok = NULL;

		REQUIRE_INT(token_sign(priv_key, &c, &tok), 0);
		CHECK_INT(token_pubkey_parse(json, &pem), 0);
		CHECK_INT(token_verify(pem, tok, NOW, &got), 0);
		free(tok);
		free(pem);
		pem = NULL;
	}
	free(json);
	/* Leading blank lines are fine. */
	REQUIRE(asprintf(&esc, "\n\n%s", pub_key) > 0);
	CHECK_INT(token_pubkey_parse(esc, &pem), 0);
	free(esc);
	free(pem);
}

static void pubkey_parse_rejects_what_is_not_a_p256_public_key(void)
{
	char *pem = (char *)"untouched", *other = p384_pub(), *j;

	REQUIRE(keys());
	REQUIRE(other);
	CHECK_INT(token_pubkey_parse("", &pem), WEFT_ERR_PARSE);
	CHECK_INT(token_pubkey_parse("garbage\n", &pem), WEFT_ERR_PARSE);
	CHECK_INT(token_pubkey_parse("-----BEGIN PUBLIC KEY-----\nAAAA\n"
				     "-----END PUBLIC KEY-----\n", &pem),
		  WEFT_ERR_PARSE);
	/* The controller's private key is not what the relay wants. */
	CHECK_INT(token_pubkey_parse(priv_key, &pem), WEFT_ERR_PARSE);
	CHECK_INT(token_pubkey_parse("{\"algorithm\":\"ES256\"}", &pem),
		  WEFT_ERR_PARSE);
	CHECK_INT(token_pubkey_parse("{\"public_key\": 7", &pem),
		  WEFT_ERR_PARSE);
	CHECK_INT(token_pubkey_parse(other, &pem), WEFT_ERR_UNSUPPORTED);
	REQUIRE(asprintf(&j, "{\"algorithm\":\"RS256\",\"public_key\":"
			     "\"x\"}") > 0);
	CHECK_INT(token_pubkey_parse(j, &pem), WEFT_ERR_UNSUPPORTED);
	free(j);
	CHECK_INT(token_pubkey_parse(NULL, &pem), WEFT_ERR_INVAL);
	CHECK_STR(pem, "untouched");
	free(other);
}

static const struct check_case cases[] = {
	CHECK_CASE(keygen_writes_pkcs8_and_spki_pem),
	CHECK_CASE(keygen_makes_a_fresh_pair_each_time),
	CHECK_CASE(sign_then_verify_returns_all_claims),
	CHECK_CASE(token_has_es256_header_and_documented_claims),
	CHECK_CASE(signature_is_raw_r_s_of_64_bytes),
	CHECK_CASE(der_encoded_signature_is_rejected),
	CHECK_CASE(verify_with_other_key_fails),
	CHECK_CASE(verify_with_garbage_key_fails),
	CHECK_CASE(expired_token_reports_expired),
	CHECK_CASE(expired_token_with_bad_signature_is_auth_not_expired),
	CHECK_CASE(token_from_the_future_beyond_skew_fails),
	CHECK_CASE(tampered_payload_fails),
	CHECK_CASE(tampered_signature_fails),
	CHECK_CASE(alg_none_token_fails),
	CHECK_CASE(hs256_token_keyed_with_public_key_fails),
	CHECK_CASE(other_header_algs_fail),
	CHECK_CASE(bad_claims_fail),
	CHECK_CASE(good_payload_signed_by_libjwt_verifies),
	CHECK_CASE(malformed_tokens_fail),
	CHECK_CASE(sign_rejects_invalid_claims_and_keys),
	CHECK_CASE(pubkey_parse_takes_pem_or_the_relay_key_json),
	CHECK_CASE(pubkey_parse_rejects_what_is_not_a_p256_public_key),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
