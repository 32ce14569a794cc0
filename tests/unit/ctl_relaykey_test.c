/* The relay signing key in the store, on a real store (SQLite, and
 * PostgreSQL as <name>_postgres). */
#include "check.h"
#include "ctl_fixture.h"
#include "controller/relaykey.h"
#include "controller/store.h"
#include "shared/err.h"
#include "shared/token.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000
#define THREADS 4

/* A fresh database per case; url (FX_URL_SIZE bytes) gets its store URL. */
static struct store *open_new(char *url, size_t cap)
{
	return cap >= FX_URL_SIZE ? fx_store_new(NULL, url) : NULL;
}

static struct store *reopen(const char *url)
{
	struct store *st = NULL;
	char err[256];

	if (store_open(url, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open %s: %s\n", url, err);
		return NULL;
	}
	return st;
}

static int get_setting(struct store *st, const char *key, char *buf,
		       size_t cap)
{
	struct store_tx *tx = NULL;
	int r;

	r = store_begin(st, STORE_READ, &tx);
	if (r < 0)
		return r;
	r = store_setting_get(tx, key, buf, cap);
	store_rollback(tx);
	return r;
}

static int set_setting(struct store *st, const char *key, const char *value)
{
	struct store_tx *tx = NULL;
	int r;

	r = store_begin(st, STORE_WRITE, &tx);
	if (r < 0)
		return r;
	r = store_setting_set(tx, key, value);
	if (r < 0) {
		store_rollback(tx);
		return r;
	}
	return store_commit(tx);
}

static void first_call_generates_and_persists_the_pair(void)
{
	char url[512], buf[8192];
	char *priv = NULL, *pub = NULL, *pub2 = (char *)"untouched";
	struct store *st = open_new(url, sizeof(url));

	REQUIRE(st != NULL);
	CHECK_INT(relaykey_public(st, &pub2), WEFT_ERR_NOTFOUND);
	CHECK_STR(pub2, "untouched");
	REQUIRE_INT(relaykey_ensure(st, &priv, &pub), 0);
	CHECK(strncmp(priv, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	CHECK(strncmp(pub, "-----BEGIN PUBLIC KEY-----", 26) == 0);
	CHECK_INT(get_setting(st, RELAYKEY_SETTING_PRIV, buf, sizeof(buf)), 0);
	CHECK_STR(buf, priv);
	CHECK_INT(get_setting(st, RELAYKEY_SETTING_PUB, buf, sizeof(buf)), 0);
	CHECK_STR(buf, pub);
	CHECK_INT(relaykey_public(st, &pub2), 0);
	CHECK_STR(pub2, pub);
	if (strcmp(pub2, "untouched") != 0)
		free(pub2);
	token_key_free(priv);
	free(pub);
	store_close(st);
}

static void later_calls_and_reopened_store_return_the_same_pair(void)
{
	char url[512];
	char *priv = NULL, *pub = NULL, *priv2 = NULL, *pub2 = NULL;
	struct store *st = open_new(url, sizeof(url)), *st2;

	REQUIRE(st != NULL);
	REQUIRE_INT(relaykey_ensure(st, &priv, &pub), 0);
	REQUIRE_INT(relaykey_ensure(st, &priv2, &pub2), 0);
	CHECK_STR(priv2, priv);
	CHECK_STR(pub2, pub);
	token_key_free(priv2);
	free(pub2);
	store_close(st);

	/* Another process (or replica) opening the same database. */
	st2 = reopen(url);
	REQUIRE(st2 != NULL);
	priv2 = pub2 = NULL;
	CHECK_INT(relaykey_ensure(st2, &priv2, &pub2), 0);
	CHECK_STR(priv2, priv);
	CHECK_STR(pub2, pub);
	token_key_free(priv2);
	free(pub2);
	pub2 = NULL;
	CHECK_INT(relaykey_public(st2, &pub2), 0);
	CHECK_STR(pub2, pub);
	free(pub2);
	store_close(st2);
	token_key_free(priv);
	free(pub);
}

static void token_signed_with_stored_key_verifies_with_public_key(void)
{
	char url[512];
	char *priv = NULL, *pub = NULL, *other_priv = NULL, *other_pub = NULL;
	char *tok = NULL;
	struct store *st = open_new(url, sizeof(url));
	struct token_claims c, got;

	REQUIRE(st != NULL);
	REQUIRE_INT(relaykey_ensure(st, &priv, &pub), 0);
	memset(&c, 0, sizeof(c));
	c.node_id = 9;
	snprintf(c.ipv4, sizeof(c.ipv4), "100.64.0.9");
	c.iat = NOW;
	c.exp = NOW + 600;
	REQUIRE_INT(token_sign(priv, &c, &tok), 0);
	CHECK_INT(token_verify(pub, tok, NOW + 1, &got), 0);
	CHECK_INT(got.node_id, 9);
	CHECK_STR(got.ipv4, "100.64.0.9");
	/* And not with a key that is not the stored one. */
	REQUIRE_INT(token_keygen(&other_priv, &other_pub), 0);
	CHECK_INT(token_verify(other_pub, tok, NOW + 1, NULL), WEFT_ERR_AUTH);
	free(tok);
	token_key_free(other_priv);
	free(other_pub);
	token_key_free(priv);
	free(pub);
	store_close(st);
}

/* A pair stored by another replica before this one's first call wins. */
static void pair_stored_elsewhere_is_used_not_replaced(void)
{
	char url[512];
	char *priv = NULL, *pub = NULL, *mine = NULL, *mine_pub = NULL;
	struct store *st = open_new(url, sizeof(url));

	REQUIRE(st != NULL);
	REQUIRE_INT(token_keygen(&priv, &pub), 0);
	REQUIRE_INT(set_setting(st, RELAYKEY_SETTING_PRIV, priv), 0);
	REQUIRE_INT(set_setting(st, RELAYKEY_SETTING_PUB, pub), 0);
	CHECK_INT(relaykey_ensure(st, &mine, &mine_pub), 0);
	CHECK_STR(mine, priv);
	CHECK_STR(mine_pub, pub);
	token_key_free(mine);
	free(mine_pub);
	token_key_free(priv);
	free(pub);
	store_close(st);
}

static void half_stored_pair_is_a_conflict_and_left_alone(void)
{
	char url[512], buf[8192];
	char *priv = (char *)"untouched", *pub = (char *)"untouched";
	struct store *st = open_new(url, sizeof(url));

	REQUIRE(st != NULL);
	REQUIRE_INT(set_setting(st, RELAYKEY_SETTING_PUB, "old public key"), 0);
	CHECK_INT(relaykey_ensure(st, &priv, &pub), WEFT_ERR_CONFLICT);
	CHECK_STR(priv, "untouched");
	CHECK_STR(pub, "untouched");
	CHECK_INT(get_setting(st, RELAYKEY_SETTING_PUB, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "old public key");
	CHECK_INT(get_setting(st, RELAYKEY_SETTING_PRIV, buf, sizeof(buf)),
		  WEFT_ERR_NOTFOUND);
	store_close(st);
}

static pthread_barrier_t start;

struct racer {
	const char *url;
	char *priv, *pub;
	int r;
};

static void *race(void *arg)
{
	struct racer *rc = arg;
	struct store *st = reopen(rc->url);

	/* Opened (the slow part) first, so every first call overlaps. */
	pthread_barrier_wait(&start);
	rc->r = st ? relaykey_ensure(st, &rc->priv, &rc->pub) : -1;
	store_close(st);
	return NULL;
}

/* Replicas starting together, each with its own connection, all end up
 * with one pair. */
static void concurrent_first_calls_agree_on_one_pair(void)
{
	char url[512];
	struct store *st = open_new(url, sizeof(url));
	struct racer rc[THREADS];
	pthread_t th[THREADS];
	char *pub = NULL;

	REQUIRE(st != NULL);
	store_close(st); /* created and migrated; the racers reopen it */
	memset(rc, 0, sizeof(rc));
	REQUIRE_INT(pthread_barrier_init(&start, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		rc[i].url = url;
		if (pthread_create(&th[i], NULL, race, &rc[i]) != 0)
			abort(); /* the others would wait at the barrier */
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < THREADS; i++) {
		CHECK_INT(rc[i].r, 0);
		if (rc[i].r == 0 && rc[0].r == 0) {
			CHECK_STR(rc[i].priv, rc[0].priv);
			CHECK_STR(rc[i].pub, rc[0].pub);
		}
	}
	st = reopen(url);
	REQUIRE(st != NULL);
	CHECK_INT(relaykey_public(st, &pub), 0);
	if (rc[0].r == 0)
		CHECK_STR(pub, rc[0].pub);
	free(pub);
	store_close(st);
	for (int i = 0; i < THREADS; i++) {
		token_key_free(rc[i].priv);
		free(rc[i].pub);
	}
}

static const struct check_case cases[] = {
	CHECK_CASE(first_call_generates_and_persists_the_pair),
	CHECK_CASE(later_calls_and_reopened_store_return_the_same_pair),
	CHECK_CASE(token_signed_with_stored_key_verifies_with_public_key),
	CHECK_CASE(pair_stored_elsewhere_is_used_not_replaced),
	CHECK_CASE(half_stored_pair_is_a_conflict_and_left_alone),
	CHECK_CASE(concurrent_first_calls_agree_on_one_pair),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
