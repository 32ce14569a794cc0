/* The key-encryption key (KEK) that seals secrets the controller keeps in
 * its database (today: the relay-token signing key, see relaykey.h), so
 * that a copy of the database alone does not hold them.
 *
 * A KEK is 32 random bytes, written as one line of standard base64 (like a
 * WireGuard key) in a file (mode 0600) or in the WEFT_KEK variable; every
 * replica sharing a database needs the same one. Sealed values are text:
 *   "kek1:" <16 hex: the KEK's id> ":" base64(nonce[12] || ciphertext || tag[16])
 * made with AES-256-GCM (GnuTLS); the label (the setting's name) is the
 * associated data, so a sealed value cannot be moved to another setting.
 * The id is the first 8 bytes of SHA-256("weft-kek-id" || key): it names
 * the KEK in errors without revealing it. */
#ifndef WEFT_KEK_H
#define WEFT_KEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEK_LEN 32
#define KEK_ID_SIZE 17 /* 16 hex + NUL */
#define KEK_SEALED_PREFIX "kek1:"

/* A loaded KEK (plain value type; wipe it with kek_wipe). */
struct kek {
	uint8_t key[KEK_LEN];
	char id[KEK_ID_SIZE];
};

/* Parses the base64 text of a KEK (surrounding whitespace ignored).
 * Returns 0 or WEFT_ERR_PARSE (not base64 of exactly 32 bytes). */
int kek_parse(const char *text, struct kek *out);

/* Reads a KEK file. Returns 0, -errno (e.g. -ENOENT) or WEFT_ERR_PARSE. */
int kek_load_file(const char *path, struct kek *out);

/* Creates path (mode 0600, never overwriting: -EEXIST) with a fresh KEK.
 * Returns 0 or a negative code; *out gets the key. */
int kek_generate_file(const char *path, struct kek *out);

/* Seals plain (NUL-terminated) under k with label as associated data.
 * *out is malloc'd sealed text (free()). Returns 0, WEFT_ERR_CRYPTO or
 * WEFT_ERR_NOMEM. */
int kek_seal(const struct kek *k, const char *label, const char *plain,
	     char **out);

/* Opens a sealed value. *out is malloc'd plain text; wipe and free it
 * with token_key_free(). Returns 0; WEFT_ERR_PARSE for text that is not a
 * sealed value; WEFT_ERR_AUTH when it was sealed under another KEK (*id
 * names that one when not NULL) or was altered; WEFT_ERR_NOMEM. */
int kek_open(const struct kek *k, const char *label, const char *sealed,
	     char **out, char id[KEK_ID_SIZE]);

/* True for text that looks like kek_seal() output. */
bool kek_is_sealed(const char *value);

/* Wipes k. NULL ok. */
void kek_wipe(struct kek *k);

#endif
