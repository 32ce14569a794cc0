/* Secure random numbers from the kernel (getrandom(2)). Nothing is
 * buffered in user space, so there is no state to reseed after fork(). */
#ifndef WEFT_RAND_H
#define WEFT_RAND_H

#include <stddef.h>
#include <stdint.h>

/* Largest nbytes rand_token() accepts. */
#define RAND_TOKEN_MAX 256

/* Fills buf with n random bytes, blocking until the kernel pool is
 * initialised. Returns 0 or -errno (buf may then be partly written). */
int rand_bytes(void *buf, size_t n);

/* Stores a random 64-bit value in *out. Returns 0 or -errno. */
int rand_u64(uint64_t *out);

/* Stores a uniformly distributed value in [0, bound) in *out, without
 * modulo bias. Returns 0, WEFT_ERR_INVAL when bound is 0, or -errno. */
int rand_uniform(uint64_t bound, uint64_t *out);

/* Writes nbytes (1..RAND_TOKEN_MAX) random bytes as base64url text
 * (unpadded, NUL-terminated) into out, which has cap bytes; suitable for
 * API keys and other bearer secrets. Returns 0, WEFT_ERR_RANGE for a bad
 * nbytes, WEFT_ERR_TOOBIG when cap is too small, or -errno. On failure out
 * is untouched. */
int rand_token(char *out, size_t cap, size_t nbytes);

#endif
