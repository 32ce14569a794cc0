/* Login passwords, hashed with argon2id (RFC 9106) from Debian's
 * libargon2.
 *
 * Parameters (the OWASP minimum for argon2id, chosen so that a login on a
 * small controller costs tens of milliseconds, not seconds): memory
 * 19 MiB (m=19456 KiB), 2 passes (t=2), 1 lane (p=1), a 16-byte random
 * salt per hash (so per user and per change), a 32-byte tag. The result is
 * the standard encoded string "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<tag>"
 * which carries its own parameters: hashes made with other parameters
 * (older or newer controllers) still verify.
 *
 * A password is 8..PASSWD_MAX bytes of any content except NUL. Passwords
 * are never logged, stored or answered; callers wipe their copies. */
#ifndef WEFT_PASSWD_H
#define WEFT_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWD_MIN 8
#define PASSWD_MAX 1024
#define PASSWD_HASH_SIZE 256 /* encoded hash, NUL included */

#define PASSWD_M_KIB 19456
#define PASSWD_T 2
#define PASSWD_P 1
#define PASSWD_SALT_BYTES 16
#define PASSWD_TAG_BYTES 32

/* Is pw (len bytes) an acceptable new password? */
bool passwd_ok(const char *pw, size_t len);

/* Hashes pw with a fresh random salt into out. Returns 0, WEFT_ERR_INVAL
 * (not passwd_ok), WEFT_ERR_NOMEM or WEFT_ERR_CRYPTO. */
int passwd_hash(const char *pw, size_t len, char out[PASSWD_HASH_SIZE]);

/* Checks pw against an encoded argon2id hash. Returns 0 on a match,
 * WEFT_ERR_AUTH otherwise (also for an empty or malformed hash, which
 * means "no password"). Takes about as long for a missing hash as for a
 * real one, so a caller can verify against "" to hide that a user has no
 * password. */
int passwd_verify(const char *encoded, const char *pw, size_t len);

#endif
