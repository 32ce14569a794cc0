/* Node identity: an Ed25519 key pair and a self-signed X.509 certificate
 * for it (CN "weft-node", valid 10 years from creation), built in memory
 * whenever the key is generated or loaded. Only the private key is ever
 * stored on disk. Peers are identified by the 32-byte Ed25519 public key
 * ("pin"); the certificate is just how TLS 1.3 carries it. */
#ifndef WEFT_IDENT_H
#define WEFT_IDENT_H

#include <gnutls/gnutls.h>
#include <stdint.h>

#define IDENT_KEY_LEN 32
#define IDENT_B64_LEN 45 /* 44 characters of base64 and a NUL */

struct ident;

/* Generates a fresh key pair and its certificate. Returns 0 and *out
 * (free with ident_del), or WEFT_ERR_NOMEM / WEFT_ERR_CRYPTO; *out is
 * untouched on failure. */
int ident_generate(struct ident **out);

/* Loads a PEM Ed25519 private key from path and builds the certificate.
 * Returns 0 and *out, -errno when the file cannot be read, WEFT_ERR_PARSE
 * for a file that is not a PEM private key, WEFT_ERR_UNSUPPORTED for a key
 * that is not Ed25519, WEFT_ERR_TOOBIG for a file over 64 KiB. */
int ident_load(const char *path, struct ident **out);

/* Writes the private key as PEM (PKCS#8) to path with mode 0600,
 * atomically: a temporary file in the same directory, fsync, rename.
 * Returns 0, -errno, or WEFT_ERR_CRYPTO. */
int ident_save(const struct ident *id, const char *path);

/* Wipes and frees id. NULL is fine. */
void ident_del(struct ident *id);

/* Copies the raw 32-byte public key into out. Returns 0. */
int ident_public_key(const struct ident *id, uint8_t out[IDENT_KEY_LEN]);

/* Derives a 32-byte secret for purpose `label` from the private key
 * (HMAC-SHA256 keyed with the private scalar): the same key file gives the
 * same secret in every process, and the secret reveals nothing about the
 * key. Returns 0 or WEFT_ERR_CRYPTO (out untouched). */
int ident_derive(const struct ident *id, const char *label,
		 uint8_t out[static 32]);

/* Writes the public key as standard padded base64 (44 characters and a
 * NUL): the public_key the controller registers. Returns 0. */
int ident_public_b64(const struct ident *id, char out[IDENT_B64_LEN]);

/* Decodes a base64 public key as written by ident_public_b64 into out.
 * Returns 0 or WEFT_ERR_PARSE (not base64 or not 32 bytes); out is
 * untouched on failure. */
int ident_pin_from_b64(const char *b64, uint8_t out[IDENT_KEY_LEN]);

/* Installs the certificate and private key into cred (GnuTLS copies
 * them, so id may be freed afterwards). Returns 0 or WEFT_ERR_CRYPTO. */
int ident_set_credentials(const struct ident *id,
			  gnutls_certificate_credentials_t cred);

/* Extracts the Ed25519 public key from a DER certificate into out.
 * Returns 0, WEFT_ERR_PARSE for an unreadable certificate, or
 * WEFT_ERR_UNSUPPORTED when its key is not Ed25519. The certificate's
 * signature is not checked: TLS proves possession of the key, and the key
 * is what callers pin. */
int ident_key_from_cert(const gnutls_datum_t *der,
			uint8_t out[IDENT_KEY_LEN]);

#endif
