#include "controller/relaykey.h"

#include "controller/kek.h"
#include "controller/store.h"
#include "shared/err.h"
#include "shared/token.h"

#include <stdlib.h>
#include <string.h>

/* PEM keys are a few hundred bytes, sealed ones about 4/3 of that; this
 * leaves room for larger curves. */
#define VALUE_MAX 8192

struct pair {
	char *priv; /* plain PEM, wiped on free */
	char *pub;
	bool legacy; /* found in plain text: must be sealed and rewritten */
};

static void pair_free(struct pair *p)
{
	token_key_free(p->priv);
	free(p->pub);
	p->priv = p->pub = NULL;
}

/* Reads a setting into a malloc'd string; *out NULL when unset. */
static int get(struct store_tx *tx, const char *key, char **out)
{
	char *buf = malloc(VALUE_MAX);
	int rc;

	*out = NULL;
	if (!buf)
		return WEFT_ERR_NOMEM;
	rc = store_setting_get(tx, key, buf, VALUE_MAX);
	if (rc == 0) {
		*out = buf;
		return 0;
	}
	explicit_bzero(buf, VALUE_MAX);
	free(buf);
	return rc == WEFT_ERR_NOTFOUND ? 0 : rc;
}

/* Loads the pair through tx: the sealed private key opened with kek, or a
 * plain one left by an older controller (p->legacy). Returns 0,
 * WEFT_ERR_NOTFOUND when no key exists, WEFT_ERR_CONFLICT when only half
 * of a pair does, WEFT_ERR_AUTH (sealed_id names the KEK it needs) or a
 * store error. */
static int load(struct store_tx *tx, const struct kek *kek, struct pair *p,
		char sealed_id[KEK_ID_SIZE])
{
	char *priv = NULL, *plain = NULL;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = get(tx, RELAYKEY_SETTING_PRIV, &priv);
	if (rc == 0)
		rc = get(tx, RELAYKEY_SETTING_PLAIN, &plain);
	if (rc == 0)
		rc = get(tx, RELAYKEY_SETTING_PUB, &p->pub);
	if (rc < 0)
		goto out;
	if (!priv && !plain && !p->pub) {
		rc = WEFT_ERR_NOTFOUND;
		goto out;
	}
	if ((!priv && !plain) || !p->pub) {
		rc = WEFT_ERR_CONFLICT;
		goto out;
	}
	if (priv && kek_is_sealed(priv)) {
		rc = kek_open(kek, RELAYKEY_SETTING_PRIV, priv, &p->priv,
			      sealed_id);
	} else {
		/* Plain PEM: under the old name (written before sealing
		 * existed, moved by migration 003) or the current one. */
		p->priv = priv ? priv : plain;
		if (priv)
			priv = NULL;
		else
			plain = NULL;
		p->legacy = true;
		rc = 0;
	}
out:
	token_key_free(priv);
	token_key_free(plain);
	if (rc < 0)
		pair_free(p);
	return rc;
}

/* Stores priv sealed under kek and removes any plain copy (write tx). */
static int store_sealed(struct store_tx *tx, const struct kek *kek,
			const char *priv, const char *pub)
{
	char *sealed = NULL;
	int rc;

	rc = kek_seal(kek, RELAYKEY_SETTING_PRIV, priv, &sealed);
	if (rc == 0)
		rc = store_setting_set(tx, RELAYKEY_SETTING_PRIV, sealed);
	if (rc == 0 && pub)
		rc = store_setting_set(tx, RELAYKEY_SETTING_PUB, pub);
	if (rc == 0)
		rc = store_setting_delete(tx, RELAYKEY_SETTING_PLAIN);
	free(sealed);
	return rc;
}

int relaykey_ensure(struct store *st, const struct kek *kek, char **priv_pem,
		    char **pub_pem, char sealed_id[KEK_ID_SIZE])
{
	struct store_tx *tx = NULL;
	struct pair p = {0};
	char *new_priv = NULL, *new_pub = NULL;
	int r;

	if (!st || !kek || !priv_pem || !pub_pem)
		return WEFT_ERR_INVAL;
	/* The common case: the pair exists, sealed; a read suffices. */
	r = store_begin(st, STORE_READ, &tx);
	if (r < 0)
		goto out;
	r = load(tx, kek, &p, sealed_id);
	store_rollback(tx);
	tx = NULL;
	if (r == 0 && !p.legacy)
		goto done;
	if (r < 0 && r != WEFT_ERR_NOTFOUND)
		goto out;
	pair_free(&p);
	/* Generate before taking the write lock, which other replicas wait
	 * for; losing the race only wastes one key generation. */
	if (r == WEFT_ERR_NOTFOUND) {
		r = token_keygen(&new_priv, &new_pub);
		if (r < 0)
			goto out;
	}
	r = store_begin(st, STORE_WRITE, &tx);
	if (r < 0)
		goto out;
	r = load(tx, kek, &p, sealed_id);
	if (r == 0 && p.legacy) {
		/* A plain key from before sealing existed: seal it in place. */
		r = store_sealed(tx, kek, p.priv, NULL);
	} else if (r == WEFT_ERR_NOTFOUND && new_priv) {
		r = store_sealed(tx, kek, new_priv, new_pub);
		if (r == 0) {
			p.priv = new_priv;
			p.pub = new_pub;
			new_priv = new_pub = NULL;
		}
	}
	/* else: another replica won (r == 0, sealed), or an error. */
	if (r == 0)
		r = store_commit(tx);
	else
		store_rollback(tx);
	tx = NULL;
	if (r < 0)
		goto out;
done:
	*priv_pem = p.priv;
	*pub_pem = p.pub;
	p.priv = p.pub = NULL;
	r = 0;
out:
	store_rollback(tx);
	pair_free(&p);
	token_key_free(new_priv);
	free(new_pub);
	return r;
}

int relaykey_rotate_kek(struct store *st, const struct kek *old,
			const struct kek *new, char sealed_id[KEK_ID_SIZE])
{
	struct store_tx *tx = NULL;
	struct pair p = {0};
	int r;

	if (!st || !old || !new)
		return WEFT_ERR_INVAL;
	r = store_begin(st, STORE_WRITE, &tx);
	if (r < 0)
		return r;
	r = load(tx, old, &p, sealed_id);
	if (r == 0)
		r = store_sealed(tx, new, p.priv, NULL);
	if (r == 0)
		r = store_commit(tx);
	else
		store_rollback(tx);
	pair_free(&p);
	return r;
}

int relaykey_public(struct store *st, char **pub_pem)
{
	struct store_tx *tx = NULL;
	char *pub = NULL;
	int r;

	if (!st || !pub_pem)
		return WEFT_ERR_INVAL;
	r = store_begin(st, STORE_READ, &tx);
	if (r < 0)
		return r;
	r = get(tx, RELAYKEY_SETTING_PUB, &pub);
	store_rollback(tx);
	if (r == 0 && !pub)
		r = WEFT_ERR_NOTFOUND;
	if (r == 0)
		*pub_pem = pub;
	return r;
}

int64_t relaykey_token_exp(int64_t now, int64_t ttl, int64_t node_expires_at)
{
	int64_t exp = now + ttl;

	if (node_expires_at && node_expires_at < exp)
		exp = node_expires_at;
	return exp;
}

bool relaykey_token_due(int64_t now, int64_t exp, int64_t ttl)
{
	return !exp || exp - now <= ttl / 2;
}

int64_t relaykey_hold_ms(int64_t now, int64_t iat, int64_t exp, int64_t ttl,
			 int64_t keepalive_ms)
{
	int64_t left_ms;

	if (!exp)
		left_ms = ttl * 1000 / 3;
	else if (exp - iat < ttl)
		return keepalive_ms;
	else
		left_ms = (exp - ttl / 3 - now) * 1000;
	if (left_ms < RELAYKEY_MIN_HOLD_MS)
		left_ms = RELAYKEY_MIN_HOLD_MS;
	return left_ms < keepalive_ms ? left_ms : keepalive_ms;
}
