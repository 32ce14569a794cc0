/* The relay signing key in the store, on a real SQLite file. */
#include "check.h"
#include "controller/kek.h"
#include "controller/relaykey.h"
#include "controller/store.h"
#include "controller/store_internal.h"
#include "shared/err.h"
#include "shared/token.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000
#define THREADS 4

static int db_seq;
static struct kek test_kek, other_kek;

/* A fresh database file per case; url gets its store URL. */
static struct store *open_new(char *url, size_t cap)
{
	struct store *st = NULL;
	char err[256];

	snprintf(url, cap, "sqlite://%s/relaykey-%d.db", check_tmpdir(),
		 ++db_seq);
	if (store_open(url, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open %s: %s\n", url, err);
		return NULL;
	}
	return st;
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
	REQUIRE_INT(relaykey_ensure(st, &test_kek, &priv, &pub, NULL), 0);
	CHECK(strncmp(priv, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	CHECK(strncmp(pub, "-----BEGIN PUBLIC KEY-----", 26) == 0);
	/* Persisted sealed (stored_row_is_sealed_not_the_plain_key). */
	CHECK_INT(get_setting(st, RELAYKEY_SETTING_PRIV, buf, sizeof(buf)), 0);
	CHECK(kek_is_sealed(buf));
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
	REQUIRE_INT(relaykey_ensure(st, &test_kek, &priv, &pub, NULL), 0);
	REQUIRE_INT(relaykey_ensure(st, &test_kek, &priv2, &pub2, NULL), 0);
	CHECK_STR(priv2, priv);
	CHECK_STR(pub2, pub);
	token_key_free(priv2);
	free(pub2);
	store_close(st);

	/* Another process (or replica) opening the same database. */
	st2 = reopen(url);
	REQUIRE(st2 != NULL);
	priv2 = pub2 = NULL;
	CHECK_INT(relaykey_ensure(st2, &test_kek, &priv2, &pub2, NULL), 0);
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
	REQUIRE_INT(relaykey_ensure(st, &test_kek, &priv, &pub, NULL), 0);
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
	CHECK_INT(relaykey_ensure(st, &test_kek, &mine, &mine_pub, NULL), 0);
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
	CHECK_INT(relaykey_ensure(st, &test_kek, &priv, &pub, NULL), WEFT_ERR_CONFLICT);
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
	rc->r = st ? relaykey_ensure(st, &test_kek, &rc->priv, &rc->pub, NULL) : -1;
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

/* The private key is stored sealed: the row holds neither the PEM nor its
 * base64 body, and opens to the same key with the KEK. */
static void stored_row_is_sealed_not_the_plain_key(void)
{
	char url[512], buf[8192], line[40], *body;
	char *priv = NULL, *pub = NULL, *opened = NULL;
	struct store *st = open_new(url, sizeof(url));

	REQUIRE(st != NULL);
	REQUIRE_INT(relaykey_ensure(st, &test_kek, &priv, &pub, NULL), 0);
	REQUIRE_INT(get_setting(st, RELAYKEY_SETTING_PRIV, buf, sizeof(buf)), 0);
	CHECK(strncmp(buf, KEK_SEALED_PREFIX, strlen(KEK_SEALED_PREFIX)) == 0);
	CHECK(strstr(buf, "PRIVATE KEY") == NULL);
	/* Not even a line of the PEM's base64 body. */
	body = strchr(priv, '\n');
	REQUIRE(body != NULL && strlen(body) > 33);
	snprintf(line, sizeof(line), "%.32s", body + 1);
	CHECK(strstr(buf, line) == NULL);
	CHECK(strncmp(buf + strlen(KEK_SEALED_PREFIX), test_kek.id, 16) == 0);
	CHECK_INT(kek_open(&test_kek, RELAYKEY_SETTING_PRIV, buf, &opened,
			   NULL), 0);
	CHECK_STR(opened, priv);
	/* Bound to its setting: the same text under another label fails. */
	token_key_free(opened);
	opened = NULL;
	CHECK_INT(kek_open(&test_kek, "other.setting", buf, &opened, NULL),
		  WEFT_ERR_AUTH);
	CHECK(opened == NULL);
	token_key_free(priv);
	free(pub);
	store_close(st);
}

/* Another KEK cannot open it: a clear WEFT_ERR_AUTH naming the KEK the key
 * was sealed under, and nothing is changed. */
static void wrong_kek_is_refused_with_the_sealing_kek_named(void)
{
	char url[512], before[8192], after[8192], id[KEK_ID_SIZE] = "";
	char *priv = NULL, *pub = NULL, *p2 = (char *)"untouched";
	char *u2 = (char *)"untouched";
	struct store *st = open_new(url, sizeof(url));

	REQUIRE(st != NULL);
	REQUIRE_INT(relaykey_ensure(st, &test_kek, &priv, &pub, NULL), 0);
	REQUIRE_INT(get_setting(st, RELAYKEY_SETTING_PRIV, before,
				sizeof(before)), 0);
	CHECK_INT(relaykey_ensure(st, &other_kek, &p2, &u2, id),
		  WEFT_ERR_AUTH);
	CHECK_STR(id, test_kek.id);
	CHECK_STR(p2, "untouched");
	CHECK_STR(u2, "untouched");
	REQUIRE_INT(get_setting(st, RELAYKEY_SETTING_PRIV, after,
				sizeof(after)), 0);
	CHECK_STR(after, before);
	token_key_free(priv);
	free(pub);
	store_close(st);
}

/* rotate-kek re-seals the same signing key: tokens signed before verify
 * with the public key after, the new KEK opens it and the old one no
 * longer does. */
static void kek_rotation_keeps_tokens_verifiable(void)
{
	char url[512], id[KEK_ID_SIZE] = "";
	char *priv = NULL, *pub = NULL, *priv2 = NULL, *pub2 = NULL;
	char *tok = NULL, *x = NULL, *y = NULL;
	struct token_claims c = {.node_id = 7, .ipv4 = "100.64.0.7",
				 .iat = NOW, .exp = NOW + 60};
	struct store *st = open_new(url, sizeof(url));

	REQUIRE(st != NULL);
	REQUIRE_INT(relaykey_ensure(st, &test_kek, &priv, &pub, NULL), 0);
	REQUIRE_INT(token_sign(priv, &c, &tok), 0);
	CHECK_INT(relaykey_rotate_kek(st, &other_kek, &test_kek, id),
		  WEFT_ERR_AUTH);
	CHECK_INT(relaykey_rotate_kek(st, &test_kek, &other_kek, NULL), 0);
	REQUIRE_INT(relaykey_ensure(st, &other_kek, &priv2, &pub2, NULL), 0);
	CHECK_STR(priv2, priv);
	CHECK_STR(pub2, pub);
	CHECK_INT(token_verify(pub2, tok, NOW + 1, NULL), 0);
	CHECK_INT(relaykey_ensure(st, &test_kek, &x, &y, NULL), WEFT_ERR_AUTH);
	free(tok);
	token_key_free(priv);
	token_key_free(priv2);
	free(pub);
	free(pub2);
	store_close(st);
}

/* A plain key written by an older controller, under the old name (moved
 * by migration 003) or the current one, is kept (relays trust it), sealed
 * in place, and its plain copy deleted. */
static void plain_rows_from_before_sealing_are_sealed_at_start(void)
{
	static const char *const names[] = {RELAYKEY_SETTING_PLAIN,
					    RELAYKEY_SETTING_PRIV};
	size_t i;

	for (i = 0; i < 2; i++) {
		char url[512], buf[8192];
		char *priv = NULL, *pub = NULL, *mine = NULL, *mine_pub = NULL;
		struct store *st = open_new(url, sizeof(url));

		REQUIRE(st != NULL);
		REQUIRE_INT(token_keygen(&priv, &pub), 0);
		REQUIRE_INT(set_setting(st, names[i], priv), 0);
		REQUIRE_INT(set_setting(st, RELAYKEY_SETTING_PUB, pub), 0);
		CHECK_INT(relaykey_ensure(st, &test_kek, &mine, &mine_pub,
					  NULL), 0);
		CHECK_STR(mine, priv);
		CHECK_STR(mine_pub, pub);
		CHECK_INT(get_setting(st, RELAYKEY_SETTING_PLAIN, buf,
				      sizeof(buf)), WEFT_ERR_NOTFOUND);
		REQUIRE_INT(get_setting(st, RELAYKEY_SETTING_PRIV, buf,
					sizeof(buf)), 0);
		CHECK(kek_is_sealed(buf));
		CHECK(strstr(buf, "PRIVATE KEY") == NULL);
		token_key_free(mine);
		free(mine_pub);
		token_key_free(priv);
		free(pub);
		store_close(st);
	}
}

/* Migration 003 moves a plain row out of relay.signing_key: replayed on a
 * database whose row is plain, it leaves sealed rows alone. */
static void migration_003_moves_only_plain_rows(void)
{
	char url[512], buf[8192], path[600], *sql = NULL;
	struct store *st = open_new(url, sizeof(url));
	struct store_tx *tx = NULL;
	FILE *f;
	size_t n;

	REQUIRE(st != NULL);
	snprintf(path, sizeof(path), "%s/schema/sqlite/003_relay_key_sealed.sql",
		 getenv("WEFT_SOURCE_DIR") ? getenv("WEFT_SOURCE_DIR") : ".");
	f = fopen(path, "r");
	REQUIRE(f != NULL);
	sql = calloc(1, 4096);
	REQUIRE(sql != NULL);
	n = fread(sql, 1, 4095, f);
	fclose(f);
	REQUIRE(n > 0);
	REQUIRE_INT(set_setting(st, RELAYKEY_SETTING_PRIV,
				"-----BEGIN PRIVATE KEY-----\nx\n"), 0);
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_tx_query(tx, sql, NULL, 0, NULL, NULL, NULL), 0);
	CHECK_INT(store_commit(tx), 0);
	CHECK_INT(get_setting(st, RELAYKEY_SETTING_PRIV, buf, sizeof(buf)),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(get_setting(st, RELAYKEY_SETTING_PLAIN, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "-----BEGIN PRIVATE KEY-----\nx\n");
	free(sql);
	store_close(st);
}

/* Token lifetime rules: 60 s tokens, never past the node's expiry,
 * renewed at half-life; holds end when a third is left, except for a
 * token the node's expiry cut short (renewal cannot extend it). */
static void token_lifetime_rules_bound_holds_and_follow_node_expiry(void)
{
	const int64_t ttl = RELAYKEY_TOKEN_TTL_S, ka = 45000;

	CHECK_INT(ttl, 60);
	CHECK_INT(relaykey_token_exp(NOW, ttl, 0), NOW + 60);
	CHECK_INT(relaykey_token_exp(NOW, ttl, NOW + 10), NOW + 10);
	CHECK_INT(relaykey_token_exp(NOW, ttl, NOW + 600), NOW + 60);
	CHECK(relaykey_token_due(NOW, 0, ttl));
	CHECK(!relaykey_token_due(NOW, NOW + 31, ttl));
	CHECK(relaykey_token_due(NOW, NOW + 30, ttl));
	/* Fresh token: hold until 20 s are left (40 s), within keep-alive. */
	CHECK_INT(relaykey_hold_ms(NOW, NOW, NOW + 60, ttl, ka), 40000);
	CHECK_INT(relaykey_hold_ms(NOW, NOW, NOW + 60, ttl, 30000), 30000);
	/* 25 s left: answer in 5 s; stale or expired: the 2 s floor. */
	CHECK_INT(relaykey_hold_ms(NOW + 35, NOW, NOW + 60, ttl, ka), 5000);
	CHECK_INT(relaykey_hold_ms(NOW + 100, NOW, NOW + 60, ttl, ka),
		  RELAYKEY_MIN_HOLD_MS);
	/* No token on this replica yet: within a third of the lifetime. */
	CHECK_INT(relaykey_hold_ms(NOW, 0, 0, ttl, ka), 20000);
	/* Cut short by the node's expiry: the keep-alive, no busy loop. */
	CHECK_INT(relaykey_hold_ms(NOW + 5, NOW, NOW + 10, ttl, ka), ka);
}

static const struct check_case cases[] = {
	CHECK_CASE(first_call_generates_and_persists_the_pair),
	CHECK_CASE(later_calls_and_reopened_store_return_the_same_pair),
	CHECK_CASE(token_signed_with_stored_key_verifies_with_public_key),
	CHECK_CASE(pair_stored_elsewhere_is_used_not_replaced),
	CHECK_CASE(half_stored_pair_is_a_conflict_and_left_alone),
	CHECK_CASE(concurrent_first_calls_agree_on_one_pair),
	CHECK_CASE(stored_row_is_sealed_not_the_plain_key),
	CHECK_CASE(wrong_kek_is_refused_with_the_sealing_kek_named),
	CHECK_CASE(kek_rotation_keeps_tokens_verifiable),
	CHECK_CASE(plain_rows_from_before_sealing_are_sealed_at_start),
	CHECK_CASE(migration_003_moves_only_plain_rows),
	CHECK_CASE(token_lifetime_rules_bound_holds_and_follow_node_expiry),
	{0},
};

int main(int argc, char **argv)
{
	if (kek_parse("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		      &test_kek) < 0 ||
	    kek_parse("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
		      &other_kek) < 0)
		return 1;
	return check_main(argc, argv, cases);
}
