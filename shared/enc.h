/* Text encodings for keys, tokens and hashes: base64 (RFC 4648 §4, padded),
 * base64url (RFC 4648 §5, unpadded) and lower-case hex.
 *
 * These routines handle secrets, so they run in time that depends only on
 * the input length (and, for base64, the amount of padding, which the
 * output length reveals anyway): characters are computed arithmetically,
 * never looked up in tables indexed by data, and validity is gathered in a
 * flag that is tested once at the end.
 *
 * Decoders are strict, so every byte string has exactly one accepted text
 * form per alphabet (hex decoding also accepts upper case). */
#ifndef WEFT_ENC_H
#define WEFT_ENC_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the base64 text for n bytes, not counting the NUL: padded to a
 * multiple of 4 for standard base64, unpadded for base64url (url). Returns
 * SIZE_MAX when the length is not representable. */
size_t base64_encoded_len(size_t n, bool url);

/* Encodes n bytes from in as base64 (or base64url) text into out, which has
 * cap bytes, and NUL-terminates it. Returns the text length, or
 * WEFT_ERR_TOOBIG (out untouched) when cap < base64_encoded_len(n) + 1 or
 * the length does not fit in an int. */
int base64_encode(const void *in, size_t n, char *out, size_t cap, bool url);

/* Decodes n characters of base64 (or base64url) text into out (cap bytes)
 * and stores the byte count in *outlen. Returns 0; WEFT_ERR_PARSE for a
 * character outside the alphabet (including whitespace and NUL), wrong
 * padding (standard: length not a multiple of 4, '=' other than one or two
 * at the end; url: any '=' or a length of 4k+1), or non-zero unused bits in
 * the last character; WEFT_ERR_TOOBIG when the result does not fit in cap.
 * On failure out and *outlen are untouched. */
int base64_decode(const char *in, size_t n, void *out, size_t cap,
		  size_t *outlen, bool url);

/* Encodes n bytes as lower-case hex into out (cap bytes) with a NUL.
 * Returns the text length (2n), or WEFT_ERR_TOOBIG (out untouched) when
 * cap < 2n + 1 or 2n does not fit in an int. */
int hex_encode(const void *in, size_t n, char *out, size_t cap);

/* Decodes n hex characters (either case) into out (cap bytes) and stores
 * the byte count in *outlen. Returns 0; WEFT_ERR_PARSE for an odd length or
 * a non-hex character; WEFT_ERR_TOOBIG when n / 2 > cap. On failure out and
 * *outlen are untouched. */
int hex_decode(const char *in, size_t n, void *out, size_t cap,
	       size_t *outlen);

/* Compares n bytes in time that depends only on n. True when equal. */
bool ct_memeq(const void *a, const void *b, size_t n);

#endif
