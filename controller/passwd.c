#include "controller/passwd.h"

#include "shared/err.h"
#include "shared/rand.h"

#include <argon2.h>
#include <pthread.h>
#include <string.h>

bool passwd_ok(const char *pw, size_t len)
{
	return pw && len >= PASSWD_MIN && len <= PASSWD_MAX &&
	       !memchr(pw, '\0', len);
}

int passwd_hash(const char *pw, size_t len, char out[PASSWD_HASH_SIZE])
{
	uint8_t salt[PASSWD_SALT_BYTES];
	int rc;

	if (!passwd_ok(pw, len))
		return WEFT_ERR_INVAL;
	rc = rand_bytes(salt, sizeof(salt));
	if (rc < 0)
		return rc;
	rc = argon2id_hash_encoded(PASSWD_T, PASSWD_M_KIB, PASSWD_P, pw, len,
				   salt, sizeof(salt), PASSWD_TAG_BYTES, out,
				   PASSWD_HASH_SIZE);
	memset(salt, 0, sizeof(salt));
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
		return WEFT_ERR_NOMEM;
	return rc == ARGON2_OK ? 0 : WEFT_ERR_CRYPTO;
}

/* A hash of a random password, verified against when a user has no hash
 * so that the answer takes as long as a real check. */
static char dummy[PASSWD_HASH_SIZE];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
	char pw[32];

	if (rand_token(pw, sizeof(pw), 16) < 0 ||
	    passwd_hash(pw, strlen(pw), dummy) < 0)
		dummy[0] = '\0';
	memset(pw, 0, sizeof(pw));
}

int passwd_verify(const char *encoded, const char *pw, size_t len)
{
	bool real = encoded && strncmp(encoded, "$argon2id$", 10) == 0;

	if (!pw || len > PASSWD_MAX)
		return WEFT_ERR_AUTH;
	if (!real) {
		pthread_once(&dummy_once, make_dummy);
		if (dummy[0])
			(void)argon2id_verify(dummy, pw, len);
		return WEFT_ERR_AUTH;
	}
	return argon2id_verify(encoded, pw, len) == ARGON2_OK ? 0
							       : WEFT_ERR_AUTH;
}
