#include "shared/rand.h"

#include "shared/enc.h"
#include "shared/err.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int rand_bytes(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* Reads above 32 MiB, or interrupted ones, come back short. */
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int rand_u64(uint64_t *out)
{
	uint64_t v;
	int r;

	r = rand_bytes(&v, sizeof(v));
	if (r < 0)
		return r;
	*out = v;
	return 0;
}

int rand_uniform(uint64_t bound, uint64_t *out)
{
	uint64_t min, v;
	int r;

	if (bound == 0)
		return WEFT_ERR_INVAL;
	/* 2^64 mod bound: values below it would make the low residues more
	 * likely, so they are drawn again. Fewer than half of all draws are
	 * ever rejected, whatever the bound. */
	min = -bound % bound;
	do {
		r = rand_u64(&v);
		if (r < 0)
			return r;
	} while (v < min);
	*out = v % bound;
	return 0;
}

int rand_token(char *out, size_t cap, size_t nbytes)
{
	uint8_t raw[RAND_TOKEN_MAX];
	int r;

	if (nbytes == 0 || nbytes > RAND_TOKEN_MAX)
		return WEFT_ERR_RANGE;
	if (cap <= base64_encoded_len(nbytes, true))
		return WEFT_ERR_TOOBIG;
	r = rand_bytes(raw, nbytes);
	if (r < 0)
		goto out;
	r = base64_encode(raw, nbytes, out, cap, true);
	if (r >= 0)
		r = 0;
out:
	explicit_bzero(raw, sizeof(raw));
	return r;
}
