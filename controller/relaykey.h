/* The controller's relay-token signing key, kept in the store's settings
 * so that every controller replica sharing the database signs with the
 * same key and relays need to trust only one public key.
 *
 * Settings used: "relay.signing_key" (the PKCS#8 PEM private key sealed
 * under the key-encryption key, kek.h), "relay.public_key"
 * (SubjectPublicKeyInfo PEM, see shared/token.h), and
 * "relay.signing_key.plain": a plain key written by a controller from
 * before sealing (moved there by migration 003), sealed and deleted at
 * the next relaykey_ensure(). docs/operations.md "Secrets at rest". */
#ifndef WEFT_RELAYKEY_H
#define WEFT_RELAYKEY_H

#include "controller/kek.h"

#include <stdbool.h>
#include <stdint.h>

struct store;

#define RELAYKEY_SETTING_PRIV "relay.signing_key"
#define RELAYKEY_SETTING_PUB "relay.public_key"
#define RELAYKEY_SETTING_PLAIN "relay.signing_key.plain"

/* Loads the key pair, opening the private key with kek; generates and
 * stores a pair (sealed) on first use, and seals a plain key left by an
 * older controller. Generation happens outside any transaction; the pair
 * is then stored in one write transaction that first re-reads the
 * settings, so when another replica stored a pair meanwhile that one is
 * used and the fresh one discarded. On success *priv_pem and *pub_pem are
 * malloc'd copies owned by the caller, who releases *priv_pem with
 * token_key_free() (it wipes) and *pub_pem with free(). Returns 0,
 * WEFT_ERR_AUTH when the stored key was sealed under another KEK (or
 * altered; sealed_id, may be NULL, gets the id of the KEK it was sealed
 * under), WEFT_ERR_CONFLICT when only half of the pair exists (never
 * silently replaced: relays may trust the old key), WEFT_ERR_TOOBIG for a
 * stored value over 8 KB, a store error, or an error of token_keygen().
 * Must not be called while this thread holds a write transaction.
 * Out-parameters are untouched on failure. */
int relaykey_ensure(struct store *st, const struct kek *kek, char **priv_pem,
		    char **pub_pem, char sealed_id[KEK_ID_SIZE]);

/* Re-seals the signing key under new (opened with old; a plain legacy key
 * needs no old) in one write transaction. The key itself, and so every
 * token and every relay's --controller-key, stays valid. Returns 0,
 * WEFT_ERR_NOTFOUND (no key yet), WEFT_ERR_AUTH (old is not the KEK it
 * was sealed under; sealed_id names that one) or a store error. */
int relaykey_rotate_kek(struct store *st, const struct kek *old,
			const struct kek *new, char sealed_id[KEK_ID_SIZE]);

/* Reads the public key; *pub_pem is a malloc'd copy the caller free()s.
 * Returns 0, WEFT_ERR_NOTFOUND when no key was ever generated, or a store
 * error. *pub_pem is untouched on failure. */
int relaykey_public(struct store *st, char **pub_pem);

/* --- relay token lifetime (docs/relay.md "Token lifetime") ---
 *
 * Relays check tokens offline and cannot be told that a node was deleted,
 * so a token's lifetime is how long a deleted node keeps relay service.
 * Tokens therefore live RELAYKEY_TOKEN_TTL_S (60 s) and are renewed
 * through the map: a held poll is answered (a keep-alive carrying the new
 * token) once a third of the lifetime is left, which at the default fits
 * inside the 30-55 s keep-alive anyway, so renewal adds no answers beyond
 * shortening the longest holds from 55 s to 40 s. All times are seconds
 * except where _ms says so. These are pure functions of their arguments. */

#define RELAYKEY_TOKEN_TTL_S 60
/* The shortest hold the renewal deadline may force (a token that could not
 * be renewed, e.g. signing failed, must not make a node poll in a loop). */
#define RELAYKEY_MIN_HOLD_MS 2000

/* The expiry of a token signed at now: now + ttl, but never past the
 * node's own expiry (node_expires_at, 0 = none), so that an expired node
 * loses relay service when it expires. A result <= now means no token. */
int64_t relaykey_token_exp(int64_t now, int64_t ttl, int64_t node_expires_at);

/* Should the token (iat, exp; exp 0 = none yet) be signed anew for an
 * answer at now? Yes when none exists or half its lifetime has passed. */
bool relaykey_token_due(int64_t now, int64_t exp, int64_t ttl);

/* How long to hold a poll at now (ms): keepalive_ms, but short enough that
 * the answer renews the token while a third of its lifetime is left (at
 * least RELAYKEY_MIN_HOLD_MS). A node without a token on this replica yet
 * (exp 0) is answered within a third of the lifetime; a token cut short by
 * the node's expiry (exp - iat < ttl) cannot be extended, so it does not
 * shorten the hold. */
int64_t relaykey_hold_ms(int64_t now, int64_t iat, int64_t exp, int64_t ttl,
			 int64_t keepalive_ms);

#endif
