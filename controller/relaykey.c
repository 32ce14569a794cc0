#include "controller/relaykey.h"

#include "controller/store.h"
#include "shared/err.h"
#include "shared/token.h"

#include <stdlib.h>
#include <string.h>

/* PEM keys are a few hundred bytes; this leaves room for larger curves. */
#define VALUE_MAX 8192

/* Reads both settings. Returns 0 with both filled, WEFT_ERR_NOTFOUND when
 * neither is set, WEFT_ERR_CONFLICT when only one is, or a store error. */
static int read_pair(struct store_tx *tx, char *priv, char *pub)
{
	int rp, ru;

	rp = store_setting_get(tx, RELAYKEY_SETTING_PRIV, priv, VALUE_MAX);
	if (rp < 0 && rp != WEFT_ERR_NOTFOUND)
		return rp;
	ru = store_setting_get(tx, RELAYKEY_SETTING_PUB, pub, VALUE_MAX);
	if (ru < 0 && ru != WEFT_ERR_NOTFOUND)
		return ru;
	if (rp == 0 && ru == 0)
		return 0;
	if (rp == WEFT_ERR_NOTFOUND && ru == WEFT_ERR_NOTFOUND)
		return WEFT_ERR_NOTFOUND;
	return WEFT_ERR_CONFLICT;
}

/* Hands out malloc'd copies of priv and pub, or neither. */
static int copy_pair(const char *priv, const char *pub, char **priv_pem,
		     char **pub_pem)
{
	char *a, *b;

	a = strdup(priv);
	b = strdup(pub);
	if (!a || !b) {
		token_key_free(a);
		free(b);
		return WEFT_ERR_NOMEM;
	}
	*priv_pem = a;
	*pub_pem = b;
	return 0;
}

int relaykey_ensure(struct store *st, char **priv_pem, char **pub_pem)
{
	struct store_tx *tx = NULL;
	char *priv, *pub;
	char *new_priv = NULL, *new_pub = NULL;
	int r;

	if (!st || !priv_pem || !pub_pem)
		return WEFT_ERR_INVAL;
	priv = malloc(VALUE_MAX);
	pub = malloc(VALUE_MAX);
	if (!priv || !pub) {
		r = WEFT_ERR_NOMEM;
		goto out;
	}

	/* The common case: the pair exists; a read transaction suffices. */
	r = store_begin(st, STORE_READ, &tx);
	if (r < 0)
		goto out;
	r = read_pair(tx, priv, pub);
	store_rollback(tx);
	tx = NULL;
	if (r == 0) {
		r = copy_pair(priv, pub, priv_pem, pub_pem);
		goto out;
	}
	if (r != WEFT_ERR_NOTFOUND)
		goto out;

	/* Generate before taking the write lock, which other replicas wait
	 * for; losing the race only wastes one key generation. */
	r = token_keygen(&new_priv, &new_pub);
	if (r < 0)
		goto out;
	r = store_begin(st, STORE_WRITE, &tx);
	if (r < 0)
		goto out;
	r = read_pair(tx, priv, pub);
	if (r == 0) {
		/* Another replica won: keep its pair. */
		store_rollback(tx);
		tx = NULL;
		r = copy_pair(priv, pub, priv_pem, pub_pem);
		goto out;
	}
	if (r != WEFT_ERR_NOTFOUND)
		goto out;
	r = store_setting_set(tx, RELAYKEY_SETTING_PRIV, new_priv);
	if (r < 0)
		goto out;
	r = store_setting_set(tx, RELAYKEY_SETTING_PUB, new_pub);
	if (r < 0)
		goto out;
	r = store_commit(tx);
	tx = NULL;
	if (r < 0)
		goto out;
	*priv_pem = new_priv;
	*pub_pem = new_pub;
	new_priv = new_pub = NULL;
	r = 0;
out:
	store_rollback(tx);
	token_key_free(new_priv);
	free(new_pub);
	if (priv)
		explicit_bzero(priv, VALUE_MAX);
	free(priv);
	free(pub);
	return r;
}

int relaykey_public(struct store *st, char **pub_pem)
{
	struct store_tx *tx = NULL;
	char *pub, *copy;
	int r;

	if (!st || !pub_pem)
		return WEFT_ERR_INVAL;
	pub = malloc(VALUE_MAX);
	if (!pub)
		return WEFT_ERR_NOMEM;
	r = store_begin(st, STORE_READ, &tx);
	if (r < 0)
		goto out;
	r = store_setting_get(tx, RELAYKEY_SETTING_PUB, pub, VALUE_MAX);
	store_rollback(tx);
	if (r < 0)
		goto out;
	copy = strdup(pub);
	if (!copy) {
		r = WEFT_ERR_NOMEM;
		goto out;
	}
	*pub_pem = copy;
	r = 0;
out:
	free(pub);
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
