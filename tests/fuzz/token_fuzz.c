/* Fuzzes token_verify with untrusted token text, and the claim checks
 * behind a valid signature.
 *
 * The key pair is fixed (a throwaway test key, generated once with
 * token_keygen) rather than made at start-up, so that the seed corpus can
 * hold tokens that really verify and the fuzzer starts from the deep end.
 *
 * Input: the first byte picks the mode, the rest is
 *   even: token text handed to token_verify as is;
 *   odd:  a JSON payload that libjwt signs with ES256 and the fixed key,
 *         so every claim rule is reached with a good signature.
 * Invariants: no crash or leak; only 0, AUTH or EXPIRED come back (NOMEM
 * aside); an accepted token yields claims that obey every documented rule
 * and that survive token_sign -> token_verify unchanged. */
#include "shared/err.h"
#include "shared/token.h"

#include <jwt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000

static const char priv_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGUAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHoweAIBAQQhAL9nCIt/GkGBPMcP\n"
	"zyHOuwBHVFV6pRUHwNUIc4aETQRloAoGCCqGSM49AwEHoUQDQgAEPfxC7SVbIsNr\n"
	"+rM12bGgPVaYacdvIetN7VZz/j+A6rp3UNv0ceQ2Ord1GLkkYTpmq7GXB0+62hug\n"
	"5OjHx3hLKg==\n"
	"-----END PRIVATE KEY-----\n";

static const char pub_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPfxC7SVbIsNr+rM12bGgPVaYacdv\n"
	"IetN7VZz/j+A6rp3UNv0ceQ2Ord1GLkkYTpmq7GXB0+62hug5OjHx3hLKg==\n"
	"-----END PUBLIC KEY-----\n";

static void check_accepted(const struct token_claims *c)
{
	struct token_claims again;
	char *tok = NULL;

	if (c->node_id <= 0 || c->exp <= NOW || c->iat >= c->exp ||
	    c->iat > NOW + TOKEN_IAT_SKEW)
		abort();
	if (!memchr(c->ipv4, '\0', sizeof(c->ipv4)) ||
	    !memchr(c->ipv6, '\0', sizeof(c->ipv6)))
		abort();
	if (token_sign(priv_pem, c, &tok) != 0)
		abort();
	memset(&again, 0, sizeof(again));
	if (token_verify(pub_pem, tok, NOW, &again) != 0 ||
	    again.node_id != c->node_id || again.iat != c->iat ||
	    again.exp != c->exp || strcmp(again.ipv4, c->ipv4) != 0 ||
	    strcmp(again.ipv6, c->ipv6) != 0)
		abort();
	free(tok);
}

static void verify(const char *tok)
{
	struct token_claims c;
	int r;

	memset(&c, 0, sizeof(c));
	r = token_verify(pub_pem, tok, NOW, &c);
	if (r == 0)
		check_accepted(&c);
	else if (r != WEFT_ERR_AUTH && r != WEFT_ERR_EXPIRED &&
		 r != WEFT_ERR_NOMEM)
		abort();
}

/* Signs payload JSON with libjwt; NULL when libjwt refuses it. */
static char *sign_payload(const char *json)
{
	jwt_t *jwt = NULL;
	char *tok = NULL;

	if (jwt_new(&jwt))
		return NULL;
	if (jwt_set_alg(jwt, JWT_ALG_ES256, (const unsigned char *)priv_pem,
			(int)strlen(priv_pem)) == 0 &&
	    jwt_add_grants_json(jwt, json) == 0)
		tok = jwt_encode_str(jwt);
	jwt_free(jwt);
	return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *tok;

	if (size == 0 || size > 2 * TOKEN_MAX_LEN)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] & 1) {
		tok = sign_payload(s);
		if (tok)
			verify(tok);
		free(tok);
	} else {
		verify(s);
	}
	free(s);
	return 0;
}
