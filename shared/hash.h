/* SHA-256 and HMAC-SHA-256 through GnuTLS. */
#ifndef WEFT_HASH_H
#define WEFT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_SHA256_LEN 32

/* Stores SHA-256(p[0..n)) in out. p may be NULL when n is 0. Returns 0 or
 * WEFT_ERR_CRYPTO (out untouched). */
int hash_sha256(const void *p, size_t n, uint8_t out[static HASH_SHA256_LEN]);

/* Stores SHA-256(p[0..n)) as 64 lower-case hex characters and a NUL in
 * out. Returns 0 or WEFT_ERR_CRYPTO (out untouched). */
int hash_sha256_hex(const void *p, size_t n, char out[static 65]);

/* Stores HMAC-SHA-256 with key[0..klen) over p[0..n) in out. key or p may
 * be NULL when its length is 0. Returns 0 or WEFT_ERR_CRYPTO (out
 * untouched). Compare MACs with ct_memeq(), never memcmp(). */
int hash_hmac_sha256(const void *key, size_t klen, const void *p, size_t n,
		     uint8_t out[static HASH_SHA256_LEN]);

#endif
