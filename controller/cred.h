/* Bearer credentials: admin API keys, node auth keys and node credentials.
 *
 * A credential is text of the form  weft_<kind>_<id>_<secret>  where kind is
 * "api", "auth", "node" or "session" (browser sessions, in a cookie), id
 * is public (it names the database row: a random
 * hex prefix for keys, the node id for node credentials) and secret is 32
 * random bytes in base64url. Only the hex SHA-256 of the secret is stored;
 * lookups go by id and the hash is compared in constant time, so a
 * credential is never searched for by its secret. */
#ifndef WEFT_CRED_H
#define WEFT_CRED_H

#include <stdbool.h>
#include <stddef.h>

enum cred_kind { CRED_API, CRED_AUTH, CRED_NODE, CRED_SESSION };

#define CRED_TEXT_SIZE 96 /* longest credential text, NUL included */
#define CRED_ID_SIZE 32   /* longest id, NUL included */
#define CRED_HASH_SIZE 65 /* hex SHA-256, NUL included */

struct cred {
	enum cred_kind kind;
	char id[CRED_ID_SIZE];
	char hash[CRED_HASH_SIZE]; /* hex SHA-256 of the secret */
};

/* Makes a fresh credential. id NULL means a random 12-hex-digit id; else
 * the given id (node credentials use the node id). Writes the full text to
 * text (shown to the user once) and its id and hash to *out. Returns 0,
 * WEFT_ERR_INVAL for a bad id, or a random-source error. */
int cred_new(enum cred_kind kind, const char *id, char text[CRED_TEXT_SIZE],
	     struct cred *out);

/* Splits credential text into kind and id and hashes its secret. Returns
 * WEFT_ERR_AUTH for anything that is not a well-formed credential. */
int cred_parse(const char *text, struct cred *out);

/* Constant-time comparison of two hex hashes of equal length. */
bool cred_hash_eq(const char *a, const char *b);

/* "api", "auth", "node", "session". */
const char *cred_kind_name(enum cred_kind kind);

#endif
