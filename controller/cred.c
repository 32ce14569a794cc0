#include "controller/cred.h"

#include "shared/enc.h"
#include "shared/err.h"
#include "shared/hash.h"
#include "shared/rand.h"

#include <stdio.h>
#include <string.h>

#define SECRET_BYTES 32
#define SECRET_TEXT 43 /* base64url of 32 bytes, no padding */

static const char *const kinds[] = {
	[CRED_API] = "api",
	[CRED_AUTH] = "auth",
	[CRED_NODE] = "node",
	[CRED_SESSION] = "session",
};
#define NKINDS ((int)(sizeof(kinds) / sizeof(kinds[0])))

const char *cred_kind_name(enum cred_kind kind)
{
	return kinds[kind];
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= CRED_ID_SIZE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

int cred_new(enum cred_kind kind, const char *id, char text[CRED_TEXT_SIZE],
	     struct cred *out)
{
	uint8_t raw[6];
	char idbuf[CRED_ID_SIZE];
	char secret[SECRET_TEXT + 1];
	struct cred c = {.kind = kind};
	int rc;

	if (!id) {
		rc = rand_bytes(raw, sizeof(raw));
		if (rc < 0)
			return rc;
		rc = hex_encode(raw, sizeof(raw), idbuf, sizeof(idbuf));
		if (rc < 0)
			return rc;
		id = idbuf;
	}
	if (!valid_id(id))
		return WEFT_ERR_INVAL;
	rc = rand_token(secret, sizeof(secret), SECRET_BYTES);
	if (rc < 0)
		return rc;
	rc = hash_sha256_hex(secret, strlen(secret), c.hash);
	if (rc < 0)
		goto out;
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(text, CRED_TEXT_SIZE, "weft_%s_%s_%s", kinds[kind], id, secret);
	*out = c;
	rc = 0;
out:
	memset(secret, 0, sizeof(secret));
	return rc;
}

int cred_parse(const char *text, struct cred *out)
{
	struct cred c;
	const char *p, *sep;
	size_t idlen;
	int k;

	if (!text || strncmp(text, "weft_", 5) != 0)
		return WEFT_ERR_AUTH;
	p = text + 5;
	for (k = 0; k < NKINDS; k++) {
		size_t n = strlen(kinds[k]);

		if (strncmp(p, kinds[k], n) == 0 && p[n] == '_') {
			p += n + 1;
			break;
		}
	}
	if (k == NKINDS)
		return WEFT_ERR_AUTH;
	sep = strchr(p, '_');
	if (!sep)
		return WEFT_ERR_AUTH;
	idlen = (size_t)(sep - p);
	if (idlen == 0 || idlen >= sizeof(c.id))
		return WEFT_ERR_AUTH;
	memcpy(c.id, p, idlen);
	c.id[idlen] = '\0';
	if (!valid_id(c.id))
		return WEFT_ERR_AUTH;
	p = sep + 1;
	/* The secret is exactly the base64url text cred_new makes. */
	{
		uint8_t raw[SECRET_BYTES];
		size_t rawlen;

		if (strlen(p) != SECRET_TEXT ||
		    base64_decode(p, SECRET_TEXT, raw, sizeof(raw), &rawlen,
				  true) < 0 ||
		    rawlen != SECRET_BYTES)
			return WEFT_ERR_AUTH;
		memset(raw, 0, sizeof(raw));
	}
	if (hash_sha256_hex(p, SECRET_TEXT, c.hash) < 0)
		return WEFT_ERR_CRYPTO;
	c.kind = (enum cred_kind)k;
	*out = c;
	return 0;
}

bool cred_hash_eq(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (n != strlen(b))
		return false;
	return ct_memeq(a, b, n);
}
