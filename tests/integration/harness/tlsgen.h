/* Self-signed certificates for the HTTPS integration tests, made with the
 * GnuTLS API so the tests need no certtool. */
#ifndef WEFT_TLSGEN_H
#define WEFT_TLSGEN_H

/* Writes a fresh ECDSA P-256 key (PEM, mode 0600) to key_path and a
 * self-signed certificate for it (PEM) to cert_path, valid for a day, for
 * DNS name localhost and IP 127.0.0.1, with common name cn. Each call makes
 * a new key and serial, so two calls give distinguishable certificates.
 * Returns 0 or a negative WEFT_ERR_* / -errno code. */
int tlsgen_selfsigned(const char *cert_path, const char *key_path,
		      const char *cn);

#endif
