/* Login passwords: argon2id hashing (controller/passwd.h), the hash in the
 * store and PUT /api/v1/users/{id}/password, on SQLite and PostgreSQL (as
 * <name>_postgres). */
#include "check.h"
#include "ctl_fixture.h"

#include "controller/passwd.h"
#include "controller/store.h"
#include "shared/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hash_is_argon2id_with_documented_parameters_and_fresh_salt(void)
{
	char a[PASSWD_HASH_SIZE], b[PASSWD_HASH_SIZE];

	REQUIRE_INT(passwd_hash("correct horse", 13, a), 0);
	REQUIRE_INT(passwd_hash("correct horse", 13, b), 0);
	CHECK(strncmp(a, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	CHECK(strcmp(a, b) != 0); /* a new salt each time */
	CHECK(strstr(a, "correct") == NULL);
	CHECK_INT(passwd_verify(a, "correct horse", 13), 0);
	CHECK_INT(passwd_verify(b, "correct horse", 13), 0);
	CHECK_INT(passwd_verify(a, "correct hors", 12), WEFT_ERR_AUTH);
	CHECK_INT(passwd_verify(a, "Correct horse", 13), WEFT_ERR_AUTH);
	/* No hash, a malformed one, another argon2 type: never a match. */
	CHECK_INT(passwd_verify("", "correct horse", 13), WEFT_ERR_AUTH);
	CHECK_INT(passwd_verify(NULL, "correct horse", 13), WEFT_ERR_AUTH);
	CHECK_INT(passwd_verify("$argon2id$v=19$garbage", "x", 1),
		  WEFT_ERR_AUTH);
	a[3] = 'i'; /* "$argon2i..." would be argon2i: refused */
	a[8] = '$';
	CHECK_INT(passwd_verify(a, "correct horse", 13), WEFT_ERR_AUTH);
	/* Length rules. */
	CHECK(!passwd_ok("short", 5));
	CHECK(passwd_ok("12345678", 8));
	CHECK(!passwd_ok("1234\0" "5678", 9));
	CHECK_INT(passwd_hash("short", 5, a), WEFT_ERR_INVAL);
}

static void store_keeps_the_hash_apart_from_the_user_row(void)
{
	struct fx f = {0};
	struct store_tx *tx = NULL;
	char h[STORE_PWHASH_SIZE], enc[PASSWD_HASH_SIZE];
	int64_t alice;

	REQUIRE(fx_open(&f, "pwstore"));
	alice = fx_user(&f, "alice", "member");
	REQUIRE(alice > 0);
	REQUIRE_INT(passwd_hash("alice's secret", 14, enc), 0);
	REQUIRE_INT(store_begin(f.st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_user_password_get(tx, alice, h), 0);
	CHECK_STR(h, "");
	CHECK_INT(store_user_password_set(tx, alice, enc), 0);
	CHECK_INT(store_user_password_set(tx, alice + 100, enc),
		  WEFT_ERR_NOTFOUND);
	REQUIRE_INT(store_commit(tx), 0);
	REQUIRE_INT(store_begin(f.st, STORE_READ, &tx), 0);
	CHECK_INT(store_user_password_get(tx, alice, h), 0);
	CHECK_STR(h, enc);
	CHECK_INT(store_user_password_get(tx, alice + 100, h),
		  WEFT_ERR_NOTFOUND);
	store_rollback(tx);
	CHECK_INT(passwd_verify(h, "alice's secret", 14), 0);
	/* The user's JSON never carries it. */
	CHECK_INT(fx_call(&f, "GET", "/api/v1/users", f.admin, NULL), 200);
	{
		char *text = json_dumps(f.r.json, 0);

		REQUIRE(text != NULL);
		CHECK(strstr(text, "argon2") == NULL);
		CHECK(strstr(text, "password_hash") == NULL);
		CHECK(strstr(text, "\"has_password\": true") != NULL);
		free(text);
	}
	fx_close(&f);
}

static void set_password_admin_for_anyone_member_for_itself(void)
{
	struct fx f = {0};
	struct store_tx *tx = NULL;
	struct store_audit a;
	char member[FX_AUTH_SIZE], path[64], h[STORE_PWHASH_SIZE];
	int64_t alice, bob;

	REQUIRE(fx_open_members(&f, &alice, &bob, member));
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64 "/password", bob);
	CHECK_INT(fx_call(&f, "PUT", path, f.admin,
			  "{\"password\":\"bob-password-1\"}"), 204);
	/* alice (a member) may not set bob's ... */
	CHECK_INT(fx_call(&f, "PUT", path, member,
			  "{\"password\":\"alice-sets-bob\"}"), 403);
	/* ... but her own. */
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64 "/password",
		 alice);
	CHECK_INT(fx_call(&f, "PUT", path, member,
			  "{\"password\":\"alice-password\"}"), 204);
	CHECK_INT(fx_call(&f, "PUT", path, member, "{\"password\":\"short\"}"),
		  400);
	CHECK_STR(fx_err_field(&f.r), "password");
	CHECK_INT(fx_call(&f, "PUT", path, member, "{}"), 400);
	CHECK_INT(fx_call(&f, "PUT", path, NULL,
			  "{\"password\":\"anonymous-x\"}"), 401);
	CHECK_INT(fx_call(&f, "PUT", "/api/v1/users/999/password", f.admin,
			  "{\"password\":\"nobody-pass\"}"), 404);

	REQUIRE_INT(store_begin(f.st, STORE_READ, &tx), 0);
	CHECK_INT(store_user_password_get(tx, bob, h), 0);
	CHECK_INT(passwd_verify(h, "bob-password-1", 14), 0);
	CHECK_INT(passwd_verify(h, "alice-sets-bob", 14), WEFT_ERR_AUTH);
	CHECK_INT(store_user_password_get(tx, alice, h), 0);
	CHECK_INT(passwd_verify(h, "alice-password", 14), 0);
	store_rollback(tx);

	/* Audited, without the password. */
	CHECK_INT(fx_audit_count(&f, "user.set_password", NULL, &a), 2);
	CHECK(strstr(a.detail, "alice-password") == NULL);
	CHECK(strstr(a.detail, "argon2") == NULL);
	fx_close(&f);
}

static const struct check_case cases[] = {
	CHECK_CASE(hash_is_argon2id_with_documented_parameters_and_fresh_salt),
	CHECK_CASE(store_keeps_the_hash_apart_from_the_user_row),
	CHECK_CASE(set_password_admin_for_anyone_member_for_itself),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
