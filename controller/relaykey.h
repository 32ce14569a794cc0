/* The controller's relay-token signing key, kept in the store's settings
 * so that every controller replica sharing the database signs with the
 * same key and relays need to trust only one public key.
 *
 * Settings used: "relay.signing_key" (PKCS#8 PEM private key) and
 * "relay.public_key" (SubjectPublicKeyInfo PEM), see shared/token.h. */
#ifndef WEFT_RELAYKEY_H
#define WEFT_RELAYKEY_H

struct store;

#define RELAYKEY_SETTING_PRIV "relay.signing_key"
#define RELAYKEY_SETTING_PUB "relay.public_key"

/* Loads the key pair, generating and storing one on first use. Generation
 * happens outside any transaction; the pair is then stored in one write
 * transaction that first re-reads the settings, so when another replica
 * stored a pair meanwhile that one is used and the fresh one discarded.
 * On success *priv_pem and *pub_pem are malloc'd copies owned by the
 * caller, who releases *priv_pem with token_key_free() (it wipes) and
 * *pub_pem with free(). Returns 0, WEFT_ERR_CONFLICT when only one of the
 * two settings exists (never silently replaced: relays may trust the old
 * key), WEFT_ERR_TOOBIG for a stored value over 8 KB, a store error, or an
 * error of token_keygen(). Must not be called while this thread holds a
 * write transaction. Out-parameters are untouched on failure. */
int relaykey_ensure(struct store *st, char **priv_pem, char **pub_pem);

/* Reads the public key; *pub_pem is a malloc'd copy the caller free()s.
 * Returns 0, WEFT_ERR_NOTFOUND when no key was ever generated, or a store
 * error. *pub_pem is untouched on failure. */
int relaykey_public(struct store *st, char **pub_pem);

#endif
