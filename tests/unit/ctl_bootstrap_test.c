/* controller/bootstrap.c: the first admin API key of a new database,
 * shown, written to a file or adopted from one, on both backends. */
#include "check.h"
#include "ctl_fixture.h"
#include "controller/bootstrap.h"
#include "controller/cred.h"
#include "controller/store.h"
#include "shared/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", check_tmpdir(), name);
	unlink(out);
}

static void put(const char *file, const char *text)
{
	FILE *f = fopen(file, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* True when the database holds exactly the key text names. */
static bool holds(struct store *st, const char *text)
{
	struct store_apikey k;
	struct store_tx *tx;
	struct cred cr;
	bool ok;

	if (cred_parse(text, &cr) < 0 ||
	    store_begin(st, STORE_READ, &tx) < 0)
		return false;
	ok = store_apikey_get_by_prefix(tx, cr.id, &k) == 0 &&
	     cred_hash_eq(k.hash, cr.hash);
	store_rollback(tx);
	return ok;
}

static void read_file(const char *file, char *out, size_t n)
{
	FILE *f = fopen(file, "r");

	out[0] = '\0';
	if (f) {
		if (!fgets(out, (int)n, f))
			out[0] = '\0';
		fclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
}

static void shows_a_new_key_once(void)
{
	struct store *st = fx_store_new("bs_show", NULL);
	char text[CRED_TEXT_SIZE];
	enum bootstrap_result res;

	REQUIRE(st);
	CHECK_INT(bootstrap_key(st, NULL, text, &res), 0);
	CHECK_INT(res, BOOTSTRAP_SHOWN);
	CHECK(strncmp(text, "weft_api_", 9) == 0);
	CHECK(holds(st, text));
	CHECK_INT(bootstrap_key(st, NULL, text, &res), 0);
	CHECK_INT(res, BOOTSTRAP_NONE);
	CHECK_STR(text, "");
	store_close(st);
}

static void writes_a_new_key_to_a_missing_file(void)
{
	struct store *st = fx_store_new("bs_write", NULL);
	char file[512], text[CRED_TEXT_SIZE], got[256];
	enum bootstrap_result res;
	struct stat sb;

	REQUIRE(st);
	path(file, sizeof(file), "bs_write.key");
	CHECK_INT(bootstrap_key(st, file, text, &res), 0);
	CHECK_INT(res, BOOTSTRAP_WRITTEN);
	CHECK_STR(text, "");
	REQUIRE_INT(stat(file, &sb), 0);
	CHECK_INT(sb.st_mode & 0777, 0600);
	read_file(file, got, sizeof(got));
	CHECK(holds(st, got));
	/* A database with a key leaves the file alone. */
	unlink(file);
	CHECK_INT(bootstrap_key(st, file, text, &res), 0);
	CHECK_INT(res, BOOTSTRAP_NONE);
	CHECK(access(file, F_OK) < 0 && errno == ENOENT);
	store_close(st);
}

static void adopts_the_key_a_file_holds(void)
{
	struct store *st = fx_store_new("bs_adopt", NULL);
	char file[512], text[CRED_TEXT_SIZE], mine[CRED_TEXT_SIZE + 8];
	enum bootstrap_result res;
	struct cred cr;

	REQUIRE(st);
	REQUIRE_INT(cred_new(CRED_API, NULL, text, &cr), 0);
	snprintf(mine, sizeof(mine), "  %s\r\n", text);
	path(file, sizeof(file), "bs_adopt.key");
	put(file, mine);
	CHECK_INT(bootstrap_key(st, file, text, &res), 0);
	CHECK_INT(res, BOOTSTRAP_ADOPTED);
	CHECK_STR(text, "");
	mine[strcspn(mine, "\r")] = '\0';
	CHECK(holds(st, mine + 2));
	store_close(st);
}

static void refuses_a_file_without_an_api_key(void)
{
	static const char *bad[] = {
		"", "not a key\n", "weft_api_\n",
		"weft_auth_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	};
	struct store *st = fx_store_new("bs_bad", NULL);
	char file[512], text[CRED_TEXT_SIZE], big[600];
	enum bootstrap_result res;

	REQUIRE(st);
	path(file, sizeof(file), "bs_bad.key");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(file, bad[i]);
		CHECK_INT(bootstrap_key(st, file, text, &res), WEFT_ERR_INVAL);
		CHECK_INT(res, BOOTSTRAP_NONE);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put(file, big);
	CHECK_INT(bootstrap_key(st, file, text, &res), WEFT_ERR_INVAL);
	/* Nothing was stored: the next start still makes the first key. */
	CHECK_INT(bootstrap_key(st, NULL, text, &res), 0);
	CHECK_INT(res, BOOTSTRAP_SHOWN);
	store_close(st);
}

static void an_unwritable_file_stores_nothing(void)
{
	struct store *st = fx_store_new("bs_unwritable", NULL);
	char file[512], text[CRED_TEXT_SIZE];
	enum bootstrap_result res;

	REQUIRE(st);
	snprintf(file, sizeof(file), "%s/no-such-dir/key", check_tmpdir());
	CHECK_INT(bootstrap_key(st, file, text, &res), -ENOENT);
	CHECK_INT(bootstrap_key(st, NULL, text, &res), 0);
	CHECK_INT(res, BOOTSTRAP_SHOWN);
	store_close(st);
}

static const struct check_case cases[] = {
	CHECK_CASE(shows_a_new_key_once),
	CHECK_CASE(writes_a_new_key_to_a_missing_file),
	CHECK_CASE(adopts_the_key_a_file_holds),
	CHECK_CASE(refuses_a_file_without_an_api_key),
	CHECK_CASE(an_unwritable_file_stores_nothing),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
