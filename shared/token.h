/* Relay tokens: short-lived JWTs that the controller signs and relays check
 * offline with the controller's public key (ARCHITECTURE.md "Relay path").
 *
 * The algorithm is ES256 (ECDSA P-256 with SHA-256, RFC 7518 §3.4) because
 * Debian's libjwt 1.10.2 has no EdDSA. Tokens look like
 *   header  {"alg":"ES256","typ":"JWT"}
 *   payload {"iss":"weft-controller","aud":"weft-relay","sub":"<node id>",
 *            "node":<node id>,"ipv4":"100.64.0.7","ipv6":"fd7a::7",
 *            "iat":<unix s>,"exp":<unix s>}
 *
 * Signature form, checked against Debian's libjwt 1.10.2 (OpenSSL
 * backend): the signature segment is the JOSE form, the raw big-endian R||S
 * pair of 32 bytes each (64 bytes, 86 base64url characters), not ASN.1
 * DER. libjwt converts OpenSSL's DER to R||S when signing and back when
 * verifying, so tokens interoperate with other JOSE libraries (see the
 * test signature_is_raw_r_s_of_64_bytes). token_verify() additionally
 * refuses any signature that does not decode to exactly 64 bytes.
 *
 * libjwt 1.10's jwt_decode() trusts the alg of the token header and uses
 * the key it is given for whatever that alg is: a token with alg HS256
 * whose HMAC key is the public key PEM text verifies (algorithm
 * confusion). token_verify() therefore parses and checks the header itself
 * and only hands tokens with alg "ES256" to libjwt. Two more libjwt 1.10
 * facts: jwt_decode() with a NULL or empty key does not check the
 * signature at all (an ES256 token then "decodes" fine), so an empty
 * pub_pem is refused up front; and it rejects alg "none" when a key is
 * given, and DER signatures (EINVAL). */
#ifndef WEFT_TOKEN_H
#define WEFT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

/* Longest token text token_verify() accepts, in bytes. */
#define TOKEN_MAX_LEN 4096

/* Accepted clock skew: a token issued up to this many seconds in the
 * future still verifies. */
#define TOKEN_IAT_SKEW 60

#define TOKEN_ISSUER "weft-controller"
#define TOKEN_AUDIENCE "weft-relay"

/* The claims of a relay token. ipv4 and ipv6 are the node's mesh addresses
 * as text, "" for none. */
struct token_claims {
	int64_t node_id; /* > 0 */
	char ipv4[48];
	char ipv6[48];
	int64_t iat; /* issued at, unix seconds */
	int64_t exp; /* expires at, unix seconds; > iat */
};

/* Generates a fresh ECDSA P-256 key pair. *priv_pem gets the private key
 * as unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), which
 * token_sign() and libjwt load; *pub_pem the public key as SubjectPublicKeyInfo
 * PEM ("-----BEGIN PUBLIC KEY-----"). Both are malloc'd and owned by the
 * caller, who releases *priv_pem with token_key_free(). Returns 0,
 * WEFT_ERR_CRYPTO or WEFT_ERR_NOMEM; on failure nothing is written. */
int token_keygen(char **priv_pem, char **pub_pem);

/* Reads the text of a controller key file as relays get it: either the
 * public key PEM ("-----BEGIN PUBLIC KEY-----", what `weft-controller
 * relay-key` prints) or the JSON answer of GET /api/v1/relay-key
 * ({"algorithm":"ES256","public_key":"<PEM>"}). The key must be an ECDSA
 * P-256 public key. *pem gets the key re-encoded as PEM (malloc'd, owned
 * by the caller). Returns 0; WEFT_ERR_PARSE when text is neither a PEM
 * public key nor such a JSON object (garbage, a private key, a
 * certificate, JSON without "public_key"); WEFT_ERR_UNSUPPORTED for a
 * well-formed key of another algorithm or curve, or JSON naming an
 * algorithm other than ES256; WEFT_ERR_INVAL for NULL arguments;
 * WEFT_ERR_NOMEM. *pem is untouched on failure. */
int token_pubkey_parse(const char *text, char **pem);

/* Wipes and frees a PEM string from token_keygen() (or any NUL-terminated
 * secret on the heap). NULL ok. */
void token_key_free(char *pem);

/* Signs c with the private key priv_pem (PEM text as from token_keygen()).
 * *out gets the malloc'd token text, owned by the caller (free()). Returns
 * 0, WEFT_ERR_INVAL for claims that are not valid (node_id <= 0, exp <=
 * iat, an address that is not NUL-terminated), WEFT_ERR_CRYPTO when the
 * key cannot be used, WEFT_ERR_NOMEM. *out is untouched on failure. */
int token_sign(const char *priv_pem, const struct token_claims *c,
	       char **out);

/* Verifies token (NUL-terminated, untrusted) with the public key pub_pem
 * at time now (unix seconds) and on success fills *out (may be NULL).
 * Checks, in order: length <= TOKEN_MAX_LEN; three strict base64url
 * segments; a header that is a JSON object with alg exactly "ES256" (typ,
 * when present, "JWT"; no other members); a 64-byte signature that verifies
 * with pub_pem; a payload with iss TOKEN_ISSUER, aud TOKEN_AUDIENCE, node
 * > 0, sub equal to node as decimal text, iat <= now + TOKEN_IAT_SKEW and
 * iat < exp; and finally exp > now. Returns 0, WEFT_ERR_AUTH for any bad
 * token (and for a pub_pem that is not a usable key), WEFT_ERR_EXPIRED for
 * a token that is valid but expired, WEFT_ERR_INVAL for NULL arguments,
 * WEFT_ERR_NOMEM. *out is untouched on failure. */
int token_verify(const char *pub_pem, const char *token, int64_t now,
		 struct token_claims *out);

#endif
