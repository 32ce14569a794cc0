#include "shared/token.h"

#include "shared/enc.h"
#include "shared/err.h"
#include "shared/jsonx.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <inttypes.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ES256 signatures are R||S, 32 bytes each (RFC 7518 §3.4). */
#define SIG_LEN 64

/* Segment limits: the whole token is at most TOKEN_MAX_LEN characters, so
 * no decoded segment can exceed 3/4 of that. */
#define SEG_MAX (TOKEN_MAX_LEN / 4 * 3)

/* Copies a gnutls datum into a malloc'd NUL-terminated string. */
static char *datum_strdup(const gnutls_datum_t *d)
{
	char *s;

	s = malloc((size_t)d->size + 1);
	if (!s)
		return NULL;
	memcpy(s, d->data, d->size);
	s[d->size] = '\0';
	return s;
}

int token_keygen(char **priv_pem, char **pub_pem)
{
	gnutls_x509_privkey_t x509 = NULL;
	gnutls_privkey_t pk = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t priv_d = {NULL, 0}, pub_d = {NULL, 0};
	char *priv_s = NULL, *pub_s = NULL;
	int r = WEFT_ERR_CRYPTO;

	if (!priv_pem || !pub_pem)
		return WEFT_ERR_INVAL;
	if (gnutls_x509_privkey_init(&x509) < 0) {
		x509 = NULL;
		goto out;
	}
	if (gnutls_x509_privkey_generate(x509, GNUTLS_PK_ECDSA,
			GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
		goto out;
	/* Unencrypted PKCS#8 ("BEGIN PRIVATE KEY"): OpenSSL, and so libjwt,
	 * loads it with PEM_read_bio_PrivateKey. */
	if (gnutls_x509_privkey_export2_pkcs8(x509, GNUTLS_X509_FMT_PEM, NULL,
					      GNUTLS_PKCS_PLAIN, &priv_d) < 0)
		goto out;
	if (gnutls_privkey_init(&pk) < 0) {
		pk = NULL;
		goto out;
	}
	if (gnutls_privkey_import_x509(pk, x509, 0) < 0)
		goto out;
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		goto out;
	}
	if (gnutls_pubkey_import_privkey(pub, pk, 0, 0) < 0)
		goto out;
	if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &pub_d) < 0)
		goto out;
	r = WEFT_ERR_NOMEM;
	priv_s = datum_strdup(&priv_d);
	pub_s = datum_strdup(&pub_d);
	if (!priv_s || !pub_s)
		goto out;
	*priv_pem = priv_s;
	*pub_pem = pub_s;
	priv_s = pub_s = NULL;
	r = 0;
out:
	if (priv_d.data) {
		explicit_bzero(priv_d.data, priv_d.size);
		gnutls_free(priv_d.data);
	}
	gnutls_free(pub_d.data);
	token_key_free(priv_s);
	free(pub_s);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(pk); /* before x509: pk borrows it */
	gnutls_x509_privkey_deinit(x509);
	return r;
}

int token_pubkey_parse(const char *text, char **pem)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in, out = {NULL, 0};
	gnutls_ecc_curve_t curve;
	json_t *j = NULL;
	const char *p, *alg;
	char *s;
	int r = WEFT_ERR_PARSE;

	if (!text || !pem)
		return WEFT_ERR_INVAL;
	p = text + strspn(text, " \t\r\n");
	if (*p == '{') {
		j = json_loads(p, JSON_REJECT_DUPLICATES, NULL);
		p = json_string_value(json_object_get(j, "public_key"));
		alg = json_string_value(json_object_get(j, "algorithm"));
		if (!p)
			goto out;
		if (json_object_get(j, "algorithm") &&
		    (!alg || strcmp(alg, "ES256") != 0)) {
			r = WEFT_ERR_UNSUPPORTED;
			goto out;
		}
	}
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		r = WEFT_ERR_NOMEM;
		goto out;
	}
	in.data = (unsigned char *)p;
	in.size = (unsigned)strlen(p);
	if (gnutls_pubkey_import(pub, &in, GNUTLS_X509_FMT_PEM) < 0)
		goto out;
	r = WEFT_ERR_UNSUPPORTED;
	if (gnutls_pubkey_get_pk_algorithm(pub, NULL) != GNUTLS_PK_ECDSA ||
	    gnutls_pubkey_export_ecc_raw(pub, &curve, NULL, NULL) < 0 ||
	    curve != GNUTLS_ECC_CURVE_SECP256R1)
		goto out;
	r = WEFT_ERR_NOMEM;
	if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &out) < 0)
		goto out;
	s = datum_strdup(&out);
	if (!s)
		goto out;
	*pem = s;
	r = 0;
out:
	gnutls_free(out.data);
	gnutls_pubkey_deinit(pub);
	json_decref(j);
	return r;
}

void token_key_free(char *pem)
{
	if (!pem)
		return;
	explicit_bzero(pem, strlen(pem));
	free(pem);
}

static int claims_valid(const struct token_claims *c)
{
	if (c->node_id <= 0 || c->exp <= c->iat)
		return 0;
	if (!memchr(c->ipv4, '\0', sizeof(c->ipv4)) ||
	    !memchr(c->ipv6, '\0', sizeof(c->ipv6)))
		return 0;
	return 1;
}

/* Maps a libjwt errno-style result to ours. */
static int jwt_err(int e)
{
	return e == ENOMEM ? WEFT_ERR_NOMEM : WEFT_ERR_CRYPTO;
}

int token_sign(const char *priv_pem, const struct token_claims *c,
	       char **out)
{
	jwt_t *jwt = NULL;
	char sub[24];
	char *s;
	size_t klen;
	int e, r;

	if (!priv_pem || !c || !out || !claims_valid(c))
		return WEFT_ERR_INVAL;
	klen = strlen(priv_pem);
	if (klen == 0 || klen > INT32_MAX)
		return WEFT_ERR_INVAL;
	snprintf(sub, sizeof(sub), "%" PRId64, c->node_id);
	e = jwt_new(&jwt);
	if (e) {
		jwt = NULL;
		r = jwt_err(e);
		goto out;
	}
	e = jwt_set_alg(jwt, JWT_ALG_ES256, (const unsigned char *)priv_pem,
			(int)klen);
	if (!e)
		e = jwt_add_grant(jwt, "iss", TOKEN_ISSUER);
	if (!e)
		e = jwt_add_grant(jwt, "aud", TOKEN_AUDIENCE);
	if (!e)
		e = jwt_add_grant(jwt, "sub", sub);
	/* long is 64 bits on every platform Weft builds for (LP64). */
	if (!e)
		e = jwt_add_grant_int(jwt, "node", (long)c->node_id);
	if (!e)
		e = jwt_add_grant(jwt, "ipv4", c->ipv4);
	if (!e)
		e = jwt_add_grant(jwt, "ipv6", c->ipv6);
	if (!e)
		e = jwt_add_grant_int(jwt, "iat", (long)c->iat);
	if (!e)
		e = jwt_add_grant_int(jwt, "exp", (long)c->exp);
	if (e) {
		r = jwt_err(e);
		goto out;
	}
	/* The key is only parsed here; a key libjwt cannot load makes the
	 * encoding fail (errno is not reliable, so this is CRYPTO). */
	s = jwt_encode_str(jwt);
	if (!s) {
		r = WEFT_ERR_CRYPTO;
		goto out;
	}
	*out = s;
	r = 0;
out:
	jwt_free(jwt);
	return r;
}

/* Decodes one base64url segment of n characters into buf (cap bytes) and
 * NUL-terminates it, so JSON segments can be parsed in place. */
static int decode_seg(const char *s, size_t n, unsigned char *buf,
		      size_t cap, size_t *outlen)
{
	size_t len;

	if (n == 0)
		return WEFT_ERR_AUTH;
	if (base64_decode(s, n, buf, cap - 1, &len, true) < 0)
		return WEFT_ERR_AUTH;
	buf[len] = '\0';
	*outlen = len;
	return 0;
}

static int check_header(const unsigned char *h, size_t n)
{
	static const char *const allowed[] = {"alg", "typ", NULL};
	const char *alg = NULL, *typ = NULL;
	json_t *obj = NULL;
	int r = WEFT_ERR_AUTH;

	if (jsonx_parse((const char *)h, n, SEG_MAX, &obj, NULL) < 0)
		goto out;
	if (jsonx_check_keys(obj, allowed, NULL) < 0)
		goto out;
	if (jsonx_get_string(obj, "alg", true, 1, 16, &alg, NULL) < 0 ||
	    strcmp(alg, "ES256") != 0)
		goto out;
	if (jsonx_get_string(obj, "typ", false, 1, 16, &typ, NULL) < 0 ||
	    (typ && strcmp(typ, "JWT") != 0))
		goto out;
	r = 0;
out:
	json_decref(obj);
	return r;
}

/* Checks the payload claims except exp > now and fills *c. */
static int check_payload(const unsigned char *p, size_t n, int64_t now,
			 struct token_claims *c)
{
	const char *iss = NULL, *aud = NULL, *sub = NULL;
	const char *ipv4 = "", *ipv6 = "";
	char want_sub[24];
	json_t *obj = NULL;
	int r = WEFT_ERR_AUTH;

	if (jsonx_parse((const char *)p, n, SEG_MAX, &obj, NULL) < 0)
		goto out;
	/* Unknown members are allowed so that newer controllers can add
	 * claims without breaking older relays. */
	if (jsonx_get_string(obj, "iss", true, 0, 64, &iss, NULL) < 0 ||
	    jsonx_get_string(obj, "aud", true, 0, 64, &aud, NULL) < 0 ||
	    jsonx_get_string(obj, "sub", true, 1, 20, &sub, NULL) < 0 ||
	    jsonx_get_int(obj, "node", true, 1, INT64_MAX, &c->node_id,
			  NULL) < 0 ||
	    jsonx_get_string(obj, "ipv4", false, 0, sizeof(c->ipv4) - 1,
			     &ipv4, NULL) < 0 ||
	    jsonx_get_string(obj, "ipv6", false, 0, sizeof(c->ipv6) - 1,
			     &ipv6, NULL) < 0 ||
	    jsonx_get_int(obj, "iat", true, INT64_MIN, INT64_MAX, &c->iat,
			  NULL) < 0 ||
	    jsonx_get_int(obj, "exp", true, INT64_MIN, INT64_MAX, &c->exp,
			  NULL) < 0)
		goto out;
	if (strcmp(iss, TOKEN_ISSUER) != 0 || strcmp(aud, TOKEN_AUDIENCE) != 0)
		goto out;
	snprintf(want_sub, sizeof(want_sub), "%" PRId64, c->node_id);
	if (strcmp(sub, want_sub) != 0)
		goto out;
	if (c->exp <= c->iat)
		goto out;
	if (now <= INT64_MAX - TOKEN_IAT_SKEW && c->iat > now + TOKEN_IAT_SKEW)
		goto out;
	/* Lengths were bounded above, so these copies cannot truncate. */
	snprintf(c->ipv4, sizeof(c->ipv4), "%s", ipv4);
	snprintf(c->ipv6, sizeof(c->ipv6), "%s", ipv6);
	r = 0;
out:
	json_decref(obj);
	return r;
}

int token_verify(const char *pub_pem, const char *token, int64_t now,
		 struct token_claims *out)
{
	unsigned char hdr[SEG_MAX + 1], pay[SEG_MAX + 1], sig[SIG_LEN + 1];
	const char *dot1, *dot2;
	struct token_claims c;
	size_t len, klen, hlen, plen, slen;
	jwt_t *jwt = NULL;
	int r;

	if (!pub_pem || !token)
		return WEFT_ERR_INVAL;
	klen = strlen(pub_pem);
	if (klen == 0 || klen > INT32_MAX)
		return WEFT_ERR_AUTH;
	len = strnlen(token, TOKEN_MAX_LEN + 1);
	if (len == 0 || len > TOKEN_MAX_LEN)
		return WEFT_ERR_AUTH;

	/* Exactly three segments: two dots, none in the signature. */
	dot1 = memchr(token, '.', len);
	if (!dot1)
		return WEFT_ERR_AUTH;
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return WEFT_ERR_AUTH;

	memset(&c, 0, sizeof(c));
	r = decode_seg(token, (size_t)(dot1 - token), hdr, sizeof(hdr), &hlen);
	if (r < 0)
		return r;
	r = decode_seg(dot1 + 1, (size_t)(dot2 - dot1 - 1), pay, sizeof(pay),
		       &plen);
	if (r < 0)
		return r;
	r = decode_seg(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig,
		       sizeof(sig), &slen);
	if (r < 0)
		return r;
	if (slen != SIG_LEN)
		return WEFT_ERR_AUTH;

	/* The alg check happens before libjwt sees the token, which would
	 * otherwise verify "none" and HS256-with-the-public-key tokens. */
	r = check_header(hdr, hlen);
	if (r < 0)
		return r;

	r = jwt_decode(&jwt, token, (const unsigned char *)pub_pem, (int)klen);
	if (r) {
		jwt = NULL;
		r = r == ENOMEM ? WEFT_ERR_NOMEM : WEFT_ERR_AUTH;
		goto out;
	}
	if (jwt_get_alg(jwt) != JWT_ALG_ES256) {
		r = WEFT_ERR_AUTH;
		goto out;
	}

	/* Claims are read from our own strict parse of the same bytes that
	 * libjwt verified (duplicate keys rejected, types never coerced). */
	r = check_payload(pay, plen, now, &c);
	if (r < 0)
		goto out;
	if (c.exp <= now) {
		r = WEFT_ERR_EXPIRED;
		goto out;
	}
	if (out)
		*out = c;
	r = 0;
out:
	jwt_free(jwt);
	return r;
}
