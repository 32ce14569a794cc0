#include "shared/hash.h"

#include "shared/enc.h"
#include "shared/err.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

/* GnuTLS initialises itself from a library constructor (3.3 and later), so
 * no global init call is needed here. */

int hash_sha256(const void *p, size_t n, uint8_t out[static HASH_SHA256_LEN])
{
	uint8_t md[HASH_SHA256_LEN];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, n ? p : "", n, md) < 0)
		return WEFT_ERR_CRYPTO;
	memcpy(out, md, sizeof(md));
	return 0;
}

int hash_sha256_hex(const void *p, size_t n, char out[static 65])
{
	uint8_t md[HASH_SHA256_LEN];
	int r;

	r = hash_sha256(p, n, md);
	if (r < 0)
		return r;
	if (hex_encode(md, sizeof(md), out, 65) < 0)
		return WEFT_ERR_INTERNAL;
	return 0;
}

int hash_hmac_sha256(const void *key, size_t klen, const void *p, size_t n,
		     uint8_t out[static HASH_SHA256_LEN])
{
	uint8_t mac[HASH_SHA256_LEN];
	int r = 0;

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, klen ? key : "", klen,
			     n ? p : "", n, mac) < 0) {
		r = WEFT_ERR_CRYPTO;
		goto out;
	}
	memcpy(out, mac, sizeof(mac));
out:
	explicit_bzero(mac, sizeof(mac));
	return r;
}
