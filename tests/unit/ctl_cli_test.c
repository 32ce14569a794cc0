/* The admin subcommands, run in-process through cli_main() with stdout and
 * stderr captured, against a real database per test (SQLite, and
 * PostgreSQL as ctl_cli_test_postgres). */
#include "check.h"
#include "ctl_fixture.h"

#include "controller/cli.h"
#include "controller/relaykey.h"
#include "controller/store.h"
#include "shared/clock.h"
#include "shared/token.h"

#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 32
#define OUT_MAX (256 * 1024)

/* The database URL the current test uses. */
static char db_url[FX_URL_SIZE];

struct run {
	int rc;
	char out[OUT_MAX];
	char err[OUT_MAX];
};

static struct run r; /* too big for the stack under ASan */

/* Points db_url at a fresh database (the previous one is dropped); on
 * failure db_url names no database and the case fails when it uses it. */
static void use_db(const char *name)
{
	fx_db_drop(db_url);
	if (!fx_db_new(name, db_url))
		snprintf(db_url, sizeof(db_url), "postgresql:///no-such-db");
}

static void slurp(const char *path, char *dst, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(dst, 1, size - 1, f);
		fclose(f);
	}
	dst[n] = '\0';
}

/* Runs `weft-controller GROUP SUB --db <db_url> ARGS...` (the arguments
 * end with NULL) and leaves the exit status and output in r. */
static int cli(const char *first, ...)
{
	char *argv[MAX_ARGS + 3];
	char outp[600], errp[600];
	int argc = 0, so, se, fo, fe;
	va_list ap;
	const char *a;

	/* --db goes right after the subcommand, before any "--". */
	va_start(ap, first);
	for (a = first; a && argc < MAX_ARGS; a = va_arg(ap, const char *)) {
		argv[argc++] = (char *)a;
		if (argc == 2) {
			argv[argc++] = (char *)"--db";
			argv[argc++] = db_url;
		}
	}
	va_end(ap);
	argv[argc] = NULL;

	snprintf(outp, sizeof(outp), "%s/stdout.txt", check_tmpdir());
	snprintf(errp, sizeof(errp), "%s/stderr.txt", check_tmpdir());
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fo, 1);
	dup2(fe, 2);
	r.rc = cli_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	close(fo);
	close(fe);
	slurp(outp, r.out, sizeof(r.out));
	slurp(errp, r.err, sizeof(r.err));
	return r.rc;
}

/* Parses r.out as JSON (NULL with a failure recorded when it is not). */
static json_t *out_json(void)
{
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);

	check_report(j != NULL, __FILE__, __LINE__, "stdout is not JSON: %s",
		     r.out);
	return j;
}

static json_t *items_of(json_t *list)
{
	return json_object_get(list, "items");
}

/* Saves a policy whose tagOwners declare tag:ci, owned by alice (who must
 * exist when owner is true): auth keys may only carry declared tags. */
static void declare_ci(bool owner)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ci-policy.json", check_tmpdir());
	f = fopen(path, "w");
	REQUIRE(f);
	fputs(owner ? "{\"tagOwners\": {\"tag:ci\": [\"alice\"]}}\n"
		    : "{\"tagOwners\": {\"tag:ci\": []}}\n", f);
	fclose(f);
	REQUIRE_INT(cli("policy", "set", path, NULL), 0);
}

/* The byte offset of word in line (or -1). */
static long col_of(const char *line, const char *word)
{
	const char *p = strstr(line, word);

	return p ? (long)(p - line) : -1;
}

/* Copies line n (0-based) of text into buf. */
static void line_n(const char *text, int n, char *buf, size_t size)
{
	const char *p = text, *e;

	while (n-- > 0 && p) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p) {
		buf[0] = '\0';
		return;
	}
	e = strchr(p, '\n');
	snprintf(buf, size, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
}

static int64_t create_user(const char *name)
{
	json_t *j;
	int64_t id;

	if (cli("users", "create", name, "--json", NULL) != 0)
		return 0;
	j = out_json();
	id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	return id;
}

/* Puts a node straight into the store, as registration would. */
static int64_t add_node(const char *name, int64_t user_id, const char *ipv4)
{
	struct store *st = NULL;
	struct store_tx *tx = NULL;
	struct store_node n = {0};

	if (store_open(db_url, &st, NULL, 0) < 0)
		return 0;
	snprintf(n.name, sizeof(n.name), "%s", name);
	n.user_id = user_id;
	snprintf(n.public_key, sizeof(n.public_key), "key-%s", name);
	snprintf(n.ipv4, sizeof(n.ipv4), "%s", ipv4);
	snprintf(n.ipv6, sizeof(n.ipv6), "fd7a:115c:a1e0::%s",
		 strrchr(ipv4, '.') + 1);
	snprintf(n.tags, sizeof(n.tags), "[]");
	snprintf(n.endpoints, sizeof(n.endpoints), "[]");
	snprintf(n.os, sizeof(n.os), "linux");
	snprintf(n.cred_hash, sizeof(n.cred_hash), "%064d", 0);
	if (store_begin(st, STORE_WRITE, &tx) < 0 ||
	    store_node_create(tx, &n) < 0 || store_commit(tx) < 0)
		n.id = 0;
	store_close(st);
	return n.id;
}

struct audit_seen {
	int count;
	char actor[STORE_ACTOR_SIZE];
	char target_id[STORE_TARGET_SIZE];
};

static int audit_cb(void *ctx, const struct store_audit *a)
{
	struct audit_seen *s = ctx;

	s->count++;
	snprintf(s->actor, sizeof(s->actor), "%s", a->actor);
	snprintf(s->target_id, sizeof(s->target_id), "%s", a->target_id);
	return 0;
}

/* Audit rows with this action in the current database. */
static struct audit_seen audit_rows(const char *action)
{
	struct audit_seen s = {0};
	struct store_audit_filter f = {.action = action};
	struct store *st = NULL;
	struct store_tx *tx = NULL;

	if (store_open(db_url, &st, NULL, 0) == 0 &&
	    store_begin(st, STORE_READ, &tx) == 0) {
		store_audit_list(tx, &f, NULL, audit_cb, &s, NULL);
		store_rollback(tx);
	}
	store_close(st);
	return s;
}

static void group_help_lists_subcommands_and_exits_0(void)
{
	use_db("help");
	CHECK_INT(cli("users", "--help", NULL), 0);
	CHECK(strstr(r.out, "create NAME") != NULL);
	CHECK(strstr(r.out, "delete USER") != NULL);
	CHECK_INT(cli("nodes", "help", NULL), 0);
	CHECK(strstr(r.out, "rename NODE NEWNAME") != NULL);
}

static void subcommand_help_lists_its_flags_and_exits_0(void)
{
	use_db("subhelp");
	CHECK_INT(cli("keys", "create", "--help", NULL), 0);
	CHECK(strstr(r.out, "usage: weft-controller keys create") != NULL);
	CHECK(strstr(r.out, "--reusable") != NULL);
	CHECK(strstr(r.out, "--json") != NULL);
	CHECK(strstr(r.out, "--role") == NULL);
}

static void unknown_subcommand_exits_2_with_usage(void)
{
	use_db("unknown");
	CHECK_INT(cli("users", "frobnicate", NULL), 2);
	CHECK(strstr(r.err, "unknown subcommand \"frobnicate\"") != NULL);
	CHECK(strstr(r.err, "usage: weft-controller users") != NULL);
	CHECK_INT(r.out[0], '\0');
}

static void missing_subcommand_exits_2(void)
{
	use_db("nosub");
	CHECK_INT(cli("apikeys", NULL), 2);
	CHECK(strstr(r.err, "usage: weft-controller apikeys") != NULL);
}

static void missing_or_extra_arguments_exit_2(void)
{
	use_db("args");
	CHECK_INT(cli("users", "create", NULL), 2);
	CHECK(strstr(r.err, "missing arguments") != NULL);
	CHECK_INT(cli("nodes", "rename", "a", "b", "c", NULL), 2);
	CHECK(strstr(r.err, "too many arguments") != NULL);
}

static void unknown_flag_exits_2(void)
{
	use_db("flag");
	CHECK_INT(cli("users", "list", "--reusable", NULL), 2);
	CHECK(strstr(r.err, "unknown flag --reusable") != NULL);
	CHECK_INT(cli("users", "create", "alice", "--role", NULL), 2);
	CHECK(strstr(r.err, "--role: missing value") != NULL);
	CHECK_INT(audit_rows("user.create").count, 0);
}

static void created_user_appears_in_json_list(void)
{
	json_t *j, *u;

	use_db("create");
	REQUIRE_INT(cli("users", "create", "alice", "--role", "admin",
			"--email", "alice@example.com", NULL), 0);
	REQUIRE_INT(cli("users", "list", "--json", NULL), 0);
	j = out_json();
	REQUIRE(j);
	CHECK_INT(json_array_size(items_of(j)), 1);
	u = json_array_get(items_of(j), 0);
	CHECK_STR(json_string_value(json_object_get(u, "name")), "alice");
	CHECK_STR(json_string_value(json_object_get(u, "role")), "admin");
	CHECK_STR(json_string_value(json_object_get(u, "email")),
		  "alice@example.com");
	CHECK(json_is_null(json_object_get(j, "next_cursor")));
	/* Pretty-printed with a 2-space indent. */
	CHECK(strstr(r.out, "\n  \"items\"") != NULL);
	json_decref(j);
}

static void user_create_is_audited_with_the_login_name(void)
{
	struct passwd *pw = getpwuid(geteuid());
	struct audit_seen s;
	char actor[STORE_ACTOR_SIZE];
	int64_t id;

	use_db("audit");
	id = create_user("alice");
	REQUIRE(id > 0);
	s = audit_rows("user.create");
	CHECK_INT(s.count, 1);
	if (pw) {
		snprintf(actor, sizeof(actor), "cli:%s", pw->pw_name);
		CHECK_STR(s.actor, actor);
	}
	CHECK(strncmp(s.actor, "cli:", 4) == 0);
}

static void invalid_user_name_fails_with_the_api_message(void)
{
	use_db("badname");
	CHECK_INT(cli("users", "create", "-bad", NULL), 2); /* a flag */
	CHECK_INT(cli("users", "create", "--", "Bad Name!", NULL), 1);
	CHECK(strncmp(r.err, "weft-controller: ", 17) == 0);
	CHECK(strstr(r.err, "name") != NULL);
	CHECK_INT(audit_rows("user.create").count, 0);
}

static void user_table_has_headers_and_aligned_columns(void)
{
	char head[512], row1[512], row2[512];

	use_db("table");
	REQUIRE(create_user("alice") > 0);
	REQUIRE_INT(cli("users", "create", "bartholomew", "--role", "admin",
			NULL), 0);
	REQUIRE_INT(cli("users", "list", NULL), 0);
	line_n(r.out, 0, head, sizeof(head));
	line_n(r.out, 1, row1, sizeof(row1));
	line_n(r.out, 2, row2, sizeof(row2));
	CHECK(strncmp(head, "ID  NAME ", 9) == 0);
	CHECK(col_of(head, "ROLE") > 0);
	CHECK(col_of(head, "CREATED") > col_of(head, "ROLE"));
	/* The NAME column is as wide as "bartholomew". */
	CHECK_INT(col_of(head, "ROLE"), col_of(head, "NAME") + 11 + 2);
	CHECK_INT(col_of(row1, "member"), col_of(head, "ROLE"));
	CHECK_INT(col_of(row2, "admin"), col_of(head, "ROLE"));
	CHECK_INT(col_of(row1, "alice"), col_of(head, "NAME"));
	/* Unset e-mail shows as "-"; no trailing blanks. */
	CHECK(strstr(row1, " - ") != NULL);
	CHECK(row1[strlen(row1) - 1] != ' ');
}

static void table_replaces_control_characters(void)
{
	use_db("ctrl");
	REQUIRE_INT(cli("users", "create", "eve", "--display-name",
			"Eve\x1b[2J\n", NULL), 0);
	CHECK(strchr(r.out, '\x1b') == NULL);
	REQUIRE_INT(cli("users", "list", NULL), 0);
	CHECK(strchr(r.out, '\x1b') == NULL);
	CHECK(strstr(r.out, "Eve?[2J?") != NULL);
}

static void deleting_missing_user_exits_1_with_message(void)
{
	use_db("delmissing");
	CHECK_INT(cli("users", "delete", "nobody", NULL), 1);
	CHECK(strstr(r.err, "weft-controller: ") == r.err);
	CHECK(strstr(r.err, "nobody") != NULL);
	CHECK_INT(cli("users", "delete", "4711", NULL), 1);
	CHECK(strstr(r.err, "weft-controller: ") == r.err);
	CHECK(strstr(r.err, "4711") != NULL);
}

static void user_is_deleted_by_name_or_id(void)
{
	json_t *j;
	int64_t bob;
	char idtext[32];

	use_db("delete");
	REQUIRE(create_user("alice") > 0);
	bob = create_user("bob");
	REQUIRE(bob > 0);
	CHECK_INT(cli("users", "delete", "alice", NULL), 0);
	CHECK(strstr(r.out, "deleted user alice") != NULL);
	snprintf(idtext, sizeof(idtext), "%lld", (long long)bob);
	CHECK_INT(cli("users", "delete", idtext, NULL), 0);
	REQUIRE_INT(cli("users", "list", "--json", NULL), 0);
	j = out_json();
	CHECK_INT(json_array_size(items_of(j)), 0);
	json_decref(j);
	CHECK_INT(audit_rows("user.delete").count, 2);
}

static void reusable_key_is_printed_once_with_a_warning(void)
{
	int64_t alice, created = 0, expires = 0;
	json_t *j, *k;
	const char *p;

	use_db("keys");
	alice = create_user("alice");
	REQUIRE(alice > 0);
	declare_ci(true);
	REQUIRE_INT(cli("keys", "create", "--user", "alice", "--reusable",
			"--tags", "tag:ci", "--expires", "2h", NULL), 0);
	p = strstr(r.out, "weft_auth_");
	REQUIRE(p != NULL);
	CHECK(strstr(r.out, "shown only once") != NULL);
	CHECK(strstr(r.out, "shown only once") < p);
	CHECK(strstr(r.out, "(alice)") != NULL);
	REQUIRE_INT(cli("keys", "list", "--json", NULL), 0);
	CHECK(strstr(r.out, "weft_auth_") == NULL);
	j = out_json();
	REQUIRE(j);
	CHECK_INT(json_array_size(items_of(j)), 1);
	k = json_array_get(items_of(j), 0);
	CHECK(json_is_true(json_object_get(k, "reusable")));
	CHECK(json_is_false(json_object_get(k, "ephemeral")));
	CHECK_INT(json_integer_value(json_object_get(k, "user_id")), alice);
	CHECK_STR(json_string_value(
			  json_array_get(json_object_get(k, "tags"), 0)),
		  "tag:ci");
	CHECK(json_object_get(k, "key") == NULL);
	CHECK(clock_parse_rfc3339(json_string_value(json_object_get(
					  k, "created_at")), &created) == 0);
	CHECK(clock_parse_rfc3339(json_string_value(json_object_get(
					  k, "expires_at")), &expires) == 0);
	CHECK_INT(expires - created, 2 * 3600);
	json_decref(j);
	/* The table names the user and shows booleans as yes/no. */
	REQUIRE_INT(cli("keys", "list", NULL), 0);
	CHECK(strncmp(r.out, "ID  PREFIX", 10) == 0);
	CHECK(strstr(r.out, "alice") != NULL);
	CHECK(strstr(r.out, "yes") != NULL);
	CHECK(strstr(r.out, "tag:ci") != NULL);
}

static void revoked_key_is_listed_only_with_all(void)
{
	json_t *j;
	char idtext[32];

	use_db("revoke");
	declare_ci(false);
	REQUIRE_INT(cli("keys", "create", "--tags", "tag:ci", "--json", NULL),
		    0);
	j = out_json();
	REQUIRE(j);
	CHECK(strncmp(json_string_value(json_object_get(j, "key")),
		      "weft_auth_", 10) == 0);
	snprintf(idtext, sizeof(idtext), "%lld",
		 (long long)json_integer_value(json_object_get(j, "id")));
	json_decref(j);
	REQUIRE_INT(cli("keys", "revoke", idtext, NULL), 0);
	CHECK(strstr(r.out, "revoked auth key") != NULL);
	REQUIRE_INT(cli("keys", "list", "--json", NULL), 0);
	j = out_json();
	CHECK_INT(json_array_size(items_of(j)), 0);
	json_decref(j);
	REQUIRE_INT(cli("keys", "list", "--all", "--json", NULL), 0);
	j = out_json();
	CHECK_INT(json_array_size(items_of(j)), 1);
	CHECK(json_is_string(json_object_get(json_array_get(items_of(j), 0),
					     "revoked_at")));
	json_decref(j);
	CHECK_INT(audit_rows("authkey.revoke").count, 1);
}

/* Tags need a tagOwners entry, and a user's key needs the user to own
 * them: the CLI refuses with the API's message and saves nothing. */
static void key_tags_need_the_users_tag_ownership(void)
{
	json_t *j;

	use_db("tagowners");
	REQUIRE(create_user("alice") > 0);
	REQUIRE(create_user("bob") > 0);
	CHECK_INT(cli("keys", "create", "--tags", "tag:ci", NULL), 1);
	CHECK(strstr(r.err, "tag:ci") != NULL);
	CHECK(strstr(r.err, "tagOwners") != NULL);
	declare_ci(true);
	CHECK_INT(cli("keys", "create", "--user", "bob", "--tags", "tag:ci",
		      NULL), 1);
	CHECK(strstr(r.err, "bob") != NULL);
	CHECK(strstr(r.err, "does not own") != NULL);
	REQUIRE_INT(cli("keys", "list", "--all", "--json", NULL), 0);
	j = out_json();
	CHECK_INT(json_array_size(items_of(j)), 0);
	json_decref(j);
	CHECK_INT(cli("keys", "create", "--user", "alice", "--tags", "tag:ci",
		      NULL), 0);
	CHECK_INT(cli("keys", "create", "--tags", "tag:ci", NULL), 0);
}

static void revoking_needs_a_numeric_id(void)
{
	use_db("revokeid");
	CHECK_INT(cli("keys", "revoke", "abc", NULL), 2);
	CHECK(strstr(r.err, "positive integer") != NULL);
	CHECK_INT(cli("apikeys", "revoke", "99", NULL), 1);
	CHECK(strstr(r.err, "weft-controller: ") == r.err);
}

static void unknown_user_for_a_key_fails(void)
{
	use_db("keyuser");
	CHECK_INT(cli("keys", "create", "--user", "ghost", NULL), 1);
	CHECK(strstr(r.err, "no user named \"ghost\"") != NULL);
	CHECK_INT(audit_rows("authkey.create").count, 0);
}

static void api_key_json_has_the_secret_once(void)
{
	json_t *j, *k;

	use_db("apikeys");
	REQUIRE_INT(cli("apikeys", "create", "--description", "ci robot",
			"--json", NULL), 0);
	j = out_json();
	REQUIRE(j);
	CHECK(strncmp(json_string_value(json_object_get(j, "key")),
		      "weft_api_", 9) == 0);
	CHECK_STR(json_string_value(json_object_get(j, "description")),
		  "ci robot");
	json_decref(j);
	REQUIRE_INT(cli("apikeys", "list", "--json", NULL), 0);
	CHECK(strstr(r.out, "weft_api_") == NULL);
	j = out_json();
	REQUIRE(j);
	k = json_array_get(items_of(j), 0);
	CHECK_STR(json_string_value(json_object_get(k, "description")),
		  "ci robot");
	json_decref(j);
	REQUIRE_INT(cli("apikeys", "list", NULL), 0);
	CHECK(strstr(r.out, "DESCRIPTION") != NULL);
	CHECK(strstr(r.out, "ci robot") != NULL);
	REQUIRE_INT(cli("apikeys", "create", "--description", "x", NULL), 0);
	CHECK(strstr(r.out, "weft_api_") != NULL);
	CHECK(strstr(r.out, "shown only once") != NULL);
}

static void nodes_are_listed_filtered_and_shown_by_name(void)
{
	json_t *j;
	int64_t alice, n1;

	use_db("nodes");
	alice = create_user("alice");
	REQUIRE(alice > 0);
	n1 = add_node("laptop", alice, "100.64.0.1");
	REQUIRE(n1 > 0);
	REQUIRE(add_node("server", 0, "100.64.0.2") > 0);
	REQUIRE_INT(cli("nodes", "list", "--json", NULL), 0);
	j = out_json();
	CHECK_INT(json_array_size(items_of(j)), 2);
	json_decref(j);
	REQUIRE_INT(cli("nodes", "list", "--user", "alice", "--json", NULL), 0);
	j = out_json();
	CHECK_INT(json_array_size(items_of(j)), 1);
	CHECK_STR(json_string_value(json_object_get(
			  json_array_get(items_of(j), 0), "name")),
		  "laptop");
	json_decref(j);
	REQUIRE_INT(cli("nodes", "list", NULL), 0);
	CHECK(strncmp(r.out, "ID  NAME", 8) == 0);
	CHECK(strstr(r.out, "100.64.0.2") != NULL);
	CHECK(strstr(r.out, "alice") != NULL);
	REQUIRE_INT(cli("nodes", "show", "laptop", "--json", NULL), 0);
	j = out_json();
	CHECK_INT(json_integer_value(json_object_get(j, "id")), n1);
	json_decref(j);
	REQUIRE_INT(cli("nodes", "show", "laptop", NULL), 0);
	CHECK(strstr(r.out, "100.64.0.1") != NULL);
	CHECK(strstr(r.out, "(alice)") != NULL);
	CHECK_INT(cli("nodes", "show", "ghost", NULL), 1);
	CHECK(strstr(r.err, "no node named \"ghost\"") != NULL);
}

static void nodes_are_renamed_tagged_expired_and_deleted(void)
{
	json_t *j, *tags;
	int64_t id;
	char idtext[32];

	use_db("nodeops");
	id = add_node("laptop", 0, "100.64.0.1");
	REQUIRE(id > 0);
	snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
	REQUIRE_INT(cli("nodes", "rename", idtext, "desk", "--json", NULL), 0);
	j = out_json();
	CHECK_STR(json_string_value(json_object_get(j, "name")), "desk");
	json_decref(j);
	CHECK_INT(audit_rows("node.rename").count, 1);
	REQUIRE_INT(cli("nodes", "tag", "desk", "tag:a, tag:b", "--json", NULL),
		    0);
	j = out_json();
	tags = json_object_get(j, "tags");
	CHECK_INT(json_array_size(tags), 2);
	CHECK_STR(json_string_value(json_array_get(tags, 1)), "tag:b");
	json_decref(j);
	REQUIRE_INT(cli("nodes", "tag", "desk", "", "--json", NULL), 0);
	j = out_json();
	CHECK_INT(json_array_size(json_object_get(j, "tags")), 0);
	json_decref(j);
	REQUIRE_INT(cli("nodes", "expire", "desk", "--json", NULL), 0);
	j = out_json();
	CHECK(json_is_string(json_object_get(j, "expires_at")));
	json_decref(j);
	REQUIRE_INT(cli("nodes", "delete", "desk", NULL), 0);
	CHECK(strstr(r.out, "deleted node desk") != NULL);
	CHECK_INT(cli("nodes", "show", idtext, NULL), 1);
	CHECK(strstr(r.err, "weft-controller: ") == r.err);
	CHECK_INT(audit_rows("node.delete").count, 1);
}

/* Writes text to name in the test directory; returns the path. */
static const char *policy_file(const char *name, const char *text)
{
	static char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", check_tmpdir(), name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

static const char tag_policy[] =
	"{\"tagOwners\": {\"tag:web\": [\"alice\"]},\n"
	" \"acls\": [{\"action\": \"accept\", \"src\": [\"alice\"],"
	" \"dst\": [\"tag:web:443\"]}],\n"
	" \"tests\": [{\"src\": \"alice\", \"accept\": [\"tag:web:443\"]}]}\n";

static void policy_set_then_get_round_trips_the_document(void)
{
	json_t *j, *want = json_loads(tag_policy, 0, NULL);
	const char *path;

	use_db("policy_rt");
	REQUIRE(create_user("alice") > 0);
	path = policy_file("rt.json", tag_policy);
	REQUIRE_INT(cli("policy", "set", path, NULL), 0);
	CHECK(strstr(r.out, "policy version 1 saved") != NULL);
	CHECK_INT(audit_rows("policy.update").count, 1);
	REQUIRE_INT(cli("policy", "get", "--json", NULL), 0);
	j = out_json();
	CHECK(json_equal(json_object_get(j, "document"), want));
	CHECK_INT(json_integer_value(json_object_get(j, "version")), 1);
	CHECK(strncmp(json_string_value(json_object_get(j, "author")), "cli:",
		      4) == 0);
	json_decref(j);
	/* Without --json: the document alone, ready to edit and set again. */
	REQUIRE_INT(cli("policy", "get", NULL), 0);
	j = out_json();
	CHECK(json_equal(j, want));
	json_decref(j);
	json_decref(want);
}

static void policy_get_without_a_policy_prints_an_empty_document(void)
{
	json_t *j;

	use_db("policy_none");
	REQUIRE_INT(cli("policy", "get", NULL), 0);
	j = out_json();
	CHECK(json_is_object(j) && json_object_size(j) == 0);
	json_decref(j);
}

static void policy_set_refuses_an_invalid_file_and_keeps_the_old_one(void)
{
	const char *path;

	use_db("policy_bad");
	path = policy_file("bad.json",
			  "{\"acls\": [{\"action\": \"accept\", "
			  "\"src\": [\"group:x\"], \"dst\": [\"*:*\"]}]}");
	CHECK_INT(cli("policy", "set", path, NULL), 1);
	CHECK(strstr(r.err, "acls[0].src[0]") != NULL);
	CHECK(strstr(r.err, "unknown group \"group:x\"") != NULL);
	CHECK_INT(audit_rows("policy.update").count, 0);
	CHECK_INT(cli("policy", "set", "/nonexistent/policy.json", NULL), 1);
	CHECK(strstr(r.err, "/nonexistent/policy.json") != NULL);
}

static void policy_check_validates_names_and_tests_without_saving(void)
{
	const char *path;

	use_db("policy_check");
	/* alice does not exist yet: the names come from the database. */
	path = policy_file("check.json", tag_policy);
	CHECK_INT(cli("policy", "check", path, NULL), 1);
	CHECK(strstr(r.out, "tagOwners.tag:web[0]") != NULL ||
	      strstr(r.out, "unknown user \"alice\"") != NULL);
	REQUIRE(create_user("alice") > 0);
	CHECK_INT(cli("policy", "check", path, NULL), 0);
	CHECK_STR(r.out, "ok\n");
	/* A failing test case names its path. */
	path = policy_file("failing.json",
			   "{\"tagOwners\": {\"tag:web\": []},"
			   " \"tests\": [{\"src\": \"alice\","
			   " \"accept\": [\"tag:web:443\"]}]}");
	CHECK_INT(cli("policy", "check", path, NULL), 1);
	CHECK_STR(r.out, "tests[0].accept[0]: alice -> tag:web:443 (tcp) "
			 "should be accepted but is denied\n");
	CHECK_INT(cli("policy", "check", path, "--json", NULL), 1);
	{
		json_t *j = out_json();

		CHECK(json_is_false(json_object_get(j, "valid")));
		CHECK_STR(json_string_value(json_object_get(
				  json_object_get(j, "error"), "path")),
			  "tests[0].accept[0]");
		json_decref(j);
	}
	/* Nothing was saved. */
	CHECK_INT(audit_rows("policy.update").count, 0);
	REQUIRE_INT(cli("policy", "get", "--json", NULL), 0);
	CHECK(strstr(r.out, "\"version\": 0") != NULL);
}

static void relay_key_prints_the_public_pem_once_serve_made_one(void)
{
	struct kek test_kek;
	struct store *st = NULL;
	char *priv = NULL, *pub = NULL;
	json_t *j;

	use_db("relaykey");
	setenv("WEFT_DB", db_url, 1);
	/* No key before the first serve. */
	CHECK_INT(cli("relay-key", NULL), 1);
	CHECK(strstr(r.err, "no relay key yet") != NULL);
	REQUIRE_INT(store_open(db_url, &st, NULL, 0), 0);
	REQUIRE_INT(kek_parse("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
			      &test_kek), 0);
	REQUIRE_INT(relaykey_ensure(st, &test_kek, &priv, &pub, NULL), 0);
	store_close(st);
	CHECK_INT(cli("relay-key", NULL), 0);
	CHECK_STR(r.out, pub);
	CHECK(strncmp(r.out, "-----BEGIN PUBLIC KEY-----", 26) == 0);
	unsetenv("WEFT_DB");
	REQUIRE_INT(cli("relay-key", "--json", NULL), 0);
	j = out_json();
	CHECK_STR(json_string_value(json_object_get(j, "public_key")), pub);
	CHECK_STR(json_string_value(json_object_get(j, "algorithm")), "ES256");
	json_decref(j);
	CHECK_INT(cli("relay-key", "extra", "--json", NULL), 2);
	token_key_free(priv);
	free(pub);
}

/* Only --data-dir/--db/--log-level come from WEFT_* and the config file:
 * a stray WEFT_ALL or WEFT_JSON, or serve's config file, changes nothing. */
static void command_flags_ignore_environment_and_foreign_config_keys(void)
{
	char conf[512], idtext[32];
	json_t *j;
	FILE *f;

	use_db("envflags");
	declare_ci(false);
	REQUIRE_INT(cli("keys", "create", "--tags", "tag:ci", "--json", NULL),
		    0);
	j = out_json();
	REQUIRE(j);
	snprintf(idtext, sizeof(idtext), "%lld",
		 (long long)json_integer_value(json_object_get(j, "id")));
	json_decref(j);
	REQUIRE_INT(cli("keys", "revoke", idtext, NULL), 0);

	setenv("WEFT_ALL", "true", 1);
	setenv("WEFT_JSON", "true", 1);
	REQUIRE_INT(cli("keys", "list", NULL), 0);
	/* A table (not JSON), and without the revoked key. */
	CHECK(r.out[0] != '{');
	CHECK(strstr(r.out, "tag:ci") == NULL);
	unsetenv("WEFT_ALL");
	unsetenv("WEFT_JSON");

	snprintf(conf, sizeof(conf), "%s/serve.conf", check_tmpdir());
	f = fopen(conf, "w");
	REQUIRE(f);
	fprintf(f, "listen = 0.0.0.0:443\ntls-cert = /x.pem\nall = true\n");
	fclose(f);
	setenv("WEFT_CONFIG", conf, 1);
	CHECK_INT(cli("keys", "list", "--json", NULL), 0);
	j = out_json();
	CHECK(j && json_array_size(items_of(j)) == 0);
	json_decref(j);
	unsetenv("WEFT_CONFIG");
}

static void relays_set_creates_then_updates_by_name(void)
{
	json_t *j;

	use_db("relays");
	REQUIRE_INT(cli("relays", "set", "fra1", "--region", "eu-central",
			"--address", "relay.example.net:3478", "--pin",
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", NULL), 0);
	REQUIRE_INT(cli("relays", "set", "fra1", "--address",
			"192.0.2.7:3478", "--json", NULL), 0);
	j = out_json();
	REQUIRE(j);
	CHECK_STR(json_string_value(json_object_get(j, "address")),
		  "192.0.2.7:3478");
	CHECK_STR(json_string_value(json_object_get(j, "region")),
		  "eu-central");
	json_decref(j);
	REQUIRE_INT(cli("relays", "list", "--json", NULL), 0);
	j = out_json();
	CHECK_INT(json_array_size(items_of(j)), 1);
	json_decref(j);
	CHECK_INT(audit_rows("relay.create").count, 1);
	REQUIRE_INT(cli("relays", "delete", "fra1", NULL), 0);
	CHECK_INT(cli("relays", "delete", "fra1", NULL), 1);
	CHECK(strstr(r.err, "no relay named") != NULL);
}

static void resources_are_created_updated_shown_and_deleted(void)
{
	json_t *j;
	int64_t n1, n2;
	char n2text[24];

	use_db("resources");
	declare_ci(false);
	n1 = add_node("gw1", 0, "100.64.0.1");
	n2 = add_node("gw2", 0, "100.64.0.2");
	REQUIRE(n1 > 0 && n2 > 0);
	snprintf(n2text, sizeof(n2text), "%lld", (long long)n2);
	REQUIRE_INT(cli("resources", "create", "db", "--address",
			"DB.corp.test", "--filters", "tcp:5432,6000-6100 icmp",
			"--connectors", "gw1,tag:ci", "--json", NULL), 0);
	j = out_json();
	REQUIRE(j);
	CHECK_STR(json_string_value(json_object_get(j, "address")),
		  "db.corp.test");
	CHECK_STR(json_string_value(json_object_get(j, "type")), "dns");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j,
			"mapped"), "ipv4")), "100.96.0.1/32");
	CHECK_INT(json_integer_value(json_array_get(json_object_get(
			json_object_get(j, "connectors"), "nodes"), 0)), n1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(
			json_object_get(j, "filters"), 0), "protocol")), "tcp");
	CHECK_INT(json_array_size(json_object_get(json_array_get(
			json_object_get(j, "filters"), 0), "ports")), 2);
	json_decref(j);
	/* The API's validation, with the field path. */
	CHECK_INT(cli("resources", "create", "bad", "--address", "10.0.0.1",
		      "--filters", "tcp:0", "--connectors", "gw1", NULL), 1);
	CHECK(strstr(r.err, "filters[0].ports[0]") != NULL);
	CHECK_INT(cli("resources", "create", "bad", "--address", "10.0.0.1",
		      "--connectors", "nosuchnode", NULL), 1);
	CHECK(strstr(r.err, "nosuchnode") != NULL);
	/* Update by name: new name, filters, connectors by id. */
	REQUIRE_INT(cli("resources", "update", "db", "--name", "pg",
			"--filters", "", "--connectors", n2text, "--json",
			NULL), 0);
	j = out_json();
	REQUIRE(j);
	CHECK_STR(json_string_value(json_object_get(j, "name")), "pg");
	CHECK_INT(json_array_size(json_object_get(j, "filters")), 0);
	CHECK_INT(json_integer_value(json_array_get(json_object_get(
			json_object_get(j, "connectors"), "nodes"), 0)), n2);
	json_decref(j);
	REQUIRE_INT(cli("resources", "update", "pg", "--filters",
			"[{\"protocol\":\"udp\"}]", "--json", NULL), 0);
	j = out_json();
	CHECK_STR(json_string_value(json_object_get(json_array_get(
			json_object_get(j, "filters"), 0), "protocol")), "udp");
	json_decref(j);
	REQUIRE_INT(cli("resources", "list", NULL), 0);
	CHECK(strstr(r.out, "TYPE") != NULL);
	CHECK(strstr(r.out, "db.corp.test") != NULL);
	REQUIRE_INT(cli("resources", "show", "pg", NULL), 0);
	CHECK(strstr(r.out, "100.96.0.1/32") != NULL);
	CHECK_INT(audit_rows("resource.update").count, 2);
	REQUIRE_INT(cli("resources", "delete", "pg", NULL), 0);
	CHECK_INT(cli("resources", "delete", "pg", NULL), 1);
	CHECK(strstr(r.err, "no resource named") != NULL);
}

static const struct check_case cases[] = {
	CHECK_CASE(relays_set_creates_then_updates_by_name),
	CHECK_CASE(resources_are_created_updated_shown_and_deleted),
	CHECK_CASE(command_flags_ignore_environment_and_foreign_config_keys),
	CHECK_CASE(group_help_lists_subcommands_and_exits_0),
	CHECK_CASE(subcommand_help_lists_its_flags_and_exits_0),
	CHECK_CASE(unknown_subcommand_exits_2_with_usage),
	CHECK_CASE(missing_subcommand_exits_2),
	CHECK_CASE(missing_or_extra_arguments_exit_2),
	CHECK_CASE(unknown_flag_exits_2),
	CHECK_CASE(created_user_appears_in_json_list),
	CHECK_CASE(user_create_is_audited_with_the_login_name),
	CHECK_CASE(invalid_user_name_fails_with_the_api_message),
	CHECK_CASE(user_table_has_headers_and_aligned_columns),
	CHECK_CASE(table_replaces_control_characters),
	CHECK_CASE(deleting_missing_user_exits_1_with_message),
	CHECK_CASE(user_is_deleted_by_name_or_id),
	CHECK_CASE(reusable_key_is_printed_once_with_a_warning),
	CHECK_CASE(revoked_key_is_listed_only_with_all),
	CHECK_CASE(key_tags_need_the_users_tag_ownership),
	CHECK_CASE(revoking_needs_a_numeric_id),
	CHECK_CASE(unknown_user_for_a_key_fails),
	CHECK_CASE(api_key_json_has_the_secret_once),
	CHECK_CASE(nodes_are_listed_filtered_and_shown_by_name),
	CHECK_CASE(nodes_are_renamed_tagged_expired_and_deleted),
	CHECK_CASE(policy_set_then_get_round_trips_the_document),
	CHECK_CASE(policy_get_without_a_policy_prints_an_empty_document),
	CHECK_CASE(policy_set_refuses_an_invalid_file_and_keeps_the_old_one),
	CHECK_CASE(policy_check_validates_names_and_tests_without_saving),
	CHECK_CASE(relay_key_prints_the_public_pem_once_serve_made_one),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
