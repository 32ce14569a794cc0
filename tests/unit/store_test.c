/* The store suite, run once per backend: ctest runs it as store_sqlite and
 * store_postgres (WEFT_STORE_BACKEND=sqlite|postgres). For PostgreSQL the
 * server comes from tests/harness/pg.sh (WEFT_PG_DIR holds its url and
 * host) and every case gets a fresh database, dropped at its end. */
#include "check.h"
#include "controller/migrations.h"
#include "controller/store.h"
#include "shared/err.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool use_pg;
static char db_url[512];   /* the current case's database */
static char db_name[64];   /* PostgreSQL database name or sqlite file */
static char pg_host[256];
static int db_seq;

static bool read_line(const char *dir, const char *file, char *buf, size_t cap)
{
	char path[512];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = fgets(buf, (int)cap, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ok && buf[0];
}

static int pg_admin_query(const char *sql)
{
	char url[512];
	PGconn *c;
	PGresult *r;
	int rc = 0;

	snprintf(url, sizeof(url), "postgresql:///postgres?host=%s&user=postgres",
		 pg_host);
	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "admin connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
		rc = -1;
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

/* Points db_url at a new, empty database. */
static bool fresh_db(void)
{
	char sql[128];

	db_seq++;
	if (!use_pg) {
		snprintf(db_name, sizeof(db_name), "case%d.db", db_seq);
		snprintf(db_url, sizeof(db_url), "sqlite://%s/%s",
			 check_tmpdir(), db_name);
		return true;
	}
	snprintf(db_name, sizeof(db_name), "weft_t_%d_%d", (int)getpid(), db_seq);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db_name);
	if (pg_admin_query(sql) != 0)
		return false;
	snprintf(db_url, sizeof(db_url), "postgresql:///%s?host=%s&user=postgres",
		 db_name, pg_host);
	return true;
}

static void drop_db(void)
{
	char sql[128];

	if (!use_pg || !db_name[0])
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
		 db_name);
	pg_admin_query(sql);
	db_name[0] = '\0';
}

/* Runs sql directly on the current case's database, behind the store. */
static int raw_exec(const char *sql)
{
	int rc = -1;

	if (use_pg) {
		PGconn *c = PQconnectdb(db_url);
		PGresult *r = NULL;

		if (PQstatus(c) == CONNECTION_OK) {
			r = PQexec(c, sql);
			rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
		}
		PQclear(r);
		PQfinish(c);
	} else {
		sqlite3 *db = NULL;

		if (sqlite3_open(db_url + strlen("sqlite://"), &db) == SQLITE_OK)
			rc = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
		sqlite3_close(db);
	}
	return rc;
}

static struct store *open_fresh(void)
{
	struct store *st = NULL;
	char err[256];
	int rc;

	if (!fresh_db()) {
		CHECK(!"cannot create a test database");
		return NULL;
	}
	rc = store_open(db_url, &st, err, sizeof(err));
	if (!check_report(rc == 0, __FILE__, __LINE__, "store_open(%s): %s: %s",
			  db_url, weft_errname(rc), err))
		return NULL;
	return st;
}

static void finish(struct store *st)
{
	store_close(st);
	drop_db();
}

static struct store_tx *wtx(struct store *st)
{
	struct store_tx *tx = NULL;

	CHECK_INT(store_begin(st, STORE_WRITE, &tx), 0);
	return tx;
}

static struct store_tx *rtx(struct store *st)
{
	struct store_tx *tx = NULL;

	CHECK_INT(store_begin(st, STORE_READ, &tx), 0);
	return tx;
}

static struct store_user mkuser(const char *name)
{
	struct store_user u = {0};

	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.display_name, sizeof(u.display_name), "User %s", name);
	snprintf(u.email, sizeof(u.email), "%s@example.com", name);
	snprintf(u.role, sizeof(u.role), "member");
	return u;
}

static struct store_node mknode(const char *name, int64_t user_id, int octet)
{
	struct store_node n = {0};

	snprintf(n.name, sizeof(n.name), "%s", name);
	n.user_id = user_id;
	snprintf(n.public_key, sizeof(n.public_key), "nodekey:%s", name);
	snprintf(n.ipv4, sizeof(n.ipv4), "100.64.0.%d", octet);
	return n;
}

/* --- migrations and open --- */

/* The newest migration this binary carries. */
static int newest_migration(void)
{
	const struct migration *m = use_pg ? migrations_postgres
					   : migrations_sqlite;
	int v = 0;

	for (; m->version; m++)
		v = m->version;
	return v;
}

static void migrations_apply_to_empty_database(void)
{
	struct store *st = open_fresh();
	struct store_tx *tx;
	int64_t v = -1;
	int ver = 0;

	REQUIRE(st);
	CHECK_STR(store_backend(st), use_pg ? "postgres" : "sqlite");
	CHECK_INT(store_schema_version(st, &ver), 0);
	CHECK(ver >= 2);
	CHECK_INT(ver, newest_migration());
	tx = rtx(st);
	CHECK_INT(store_netmap_version(tx, &v), 0);
	CHECK_INT(v, 0);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void reopening_applies_nothing_twice(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("alice"), got;
	struct store_tx *tx;
	int applied = -1, ver = 0;

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_user_create(tx, &u), 0);
	CHECK_INT(store_commit(tx), 0);
	store_close(st);
	st = NULL;

	CHECK_INT(store_open(db_url, &st, NULL, 0), 0);
	REQUIRE(st);
	CHECK_INT(store_migrate(st, &applied), 0);
	CHECK_INT(applied, 0);
	CHECK_INT(store_schema_version(st, &ver), 0);
	CHECK_INT(ver, newest_migration());
	tx = rtx(st);
	CHECK_INT(store_user_get_by_name(tx, "alice", &got), 0);
	CHECK_INT(got.id, u.id);
	store_rollback(tx);
	finish(st);
}

static void refuses_database_newer_than_binary(void)
{
	struct store *st = open_fresh(), *st2 = NULL;
	char err[256] = "", want[16];
	int rc;

	REQUIRE(st);
	store_close(st);
	snprintf(want, sizeof(want), "(%d)", newest_migration());
	CHECK_INT(raw_exec("INSERT INTO schema_migrations (version, name, "
			   "applied_at) VALUES (999, 'future', 0)"), 0);
	rc = store_open(db_url, &st2, err, sizeof(err));
	CHECK_INT(rc, WEFT_ERR_SCHEMA_NEWER);
	CHECK(st2 == NULL);
	CHECK(strstr(err, "999") != NULL);
	CHECK(strstr(err, want) != NULL);
	CHECK(strstr(err, "upgrade weft-controller") != NULL);
	store_close(st2);
	drop_db();
}

static void rejects_unsupported_urls(void)
{
	struct store *st = NULL;
	char err[256] = "";

	CHECK_INT(store_open("mysql://localhost/weft", &st, err, sizeof(err)),
		  WEFT_ERR_INVAL);
	CHECK(strstr(err, "sqlite://") != NULL);
	CHECK_INT(store_open("sqlite://", &st, err, sizeof(err)), WEFT_ERR_INVAL);
	CHECK_INT(store_open("sqlite://:memory:", &st, err, sizeof(err)),
		  WEFT_ERR_INVAL);
	CHECK(st == NULL);
}

static void reports_unopenable_database(void)
{
	struct store *st = NULL;
	char err[512] = "", url[512];
	int rc;

	if (use_pg)
		snprintf(url, sizeof(url), "postgresql:///weft_missing_db?host=%s"
			 "&user=postgres", pg_host);
	else
		snprintf(url, sizeof(url), "sqlite://%s/no/such/dir/x.db",
			 check_tmpdir());
	rc = store_open(url, &st, err, sizeof(err));
	CHECK_INT(rc, WEFT_ERR_DB);
	CHECK(st == NULL);
	CHECK(strstr(err, use_pg ? "cannot connect" : "cannot open") != NULL);
}

/* --- entity round trips --- */

static void check_user_eq(const struct store_user *a, const struct store_user *b)
{
	CHECK_INT(a->id, b->id);
	CHECK_STR(a->name, b->name);
	CHECK_STR(a->display_name, b->display_name);
	CHECK_STR(a->email, b->email);
	CHECK_STR(a->role, b->role);
	CHECK_INT(a->created_at, b->created_at);
}

static void user_round_trip(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("alice"), got;
	struct store_tx *tx;
	int64_t before = time(NULL);

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_user_create(tx, &u), 0);
	CHECK(u.id > 0);
	CHECK(u.created_at >= before && u.created_at <= time(NULL));
	CHECK_INT(store_commit(tx), 0);

	tx = rtx(st);
	memset(&got, 0x55, sizeof(got));
	CHECK_INT(store_user_get(tx, u.id, &got), 0);
	check_user_eq(&got, &u);
	CHECK_INT(store_user_get_by_name(tx, "alice", &got), 0);
	check_user_eq(&got, &u);
	store_rollback(tx);

	tx = wtx(st);
	snprintf(u.display_name, sizeof(u.display_name), "Alice A.");
	snprintf(u.role, sizeof(u.role), "admin");
	snprintf(u.email, sizeof(u.email), "a@example.org");
	CHECK_INT(store_user_update(tx, &u), 0);
	CHECK_INT(store_user_get(tx, u.id, &got), 0);
	check_user_eq(&got, &u);
	CHECK_INT(store_user_delete(tx, u.id), 0);
	CHECK_INT(store_user_get(tx, u.id, &got), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_user_delete(tx, u.id), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_user_update(tx, &u), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void apikey_round_trip(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("bob");
	struct store_apikey k = {0}, boot = {0}, got;
	struct store_tx *tx;

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_user_create(tx, &u), 0);
	snprintf(k.prefix, sizeof(k.prefix), "wk_abc123");
	memset(k.hash, 'a', 64);
	k.user_id = u.id;
	snprintf(k.description, sizeof(k.description), "ci deploy key");
	k.expires_at = 2000000000;
	k.last_used_at = 1700000000;
	k.created_at = 1600000000; /* kept when given */
	CHECK_INT(store_apikey_create(tx, &k), 0);
	CHECK_INT(k.created_at, 1600000000);
	snprintf(boot.prefix, sizeof(boot.prefix), "wk_boot");
	memset(boot.hash, 'b', 64);
	CHECK_INT(store_apikey_create(tx, &boot), 0); /* no user */
	CHECK_INT(store_commit(tx), 0);

	tx = rtx(st);
	CHECK_INT(store_apikey_get_by_prefix(tx, "wk_abc123", &got), 0);
	CHECK_INT(got.id, k.id);
	CHECK_STR(got.prefix, "wk_abc123");
	CHECK_STR(got.hash, k.hash);
	CHECK_INT(strlen(got.hash), 64);
	CHECK_INT(got.user_id, u.id);
	CHECK_STR(got.description, "ci deploy key");
	CHECK_INT(got.expires_at, 2000000000);
	CHECK_INT(got.revoked_at, 0);
	CHECK_INT(got.last_used_at, 1700000000);
	CHECK_INT(got.created_at, 1600000000);
	CHECK_INT(store_apikey_get(tx, boot.id, &got), 0);
	CHECK_INT(got.user_id, 0);
	CHECK_STR(got.prefix, "wk_boot");
	store_rollback(tx);

	tx = wtx(st);
	k.revoked_at = 1800000000;
	k.last_used_at = 1800000001;
	CHECK_INT(store_apikey_update(tx, &k), 0);
	CHECK_INT(store_apikey_get(tx, k.id, &got), 0);
	CHECK_INT(got.revoked_at, 1800000000);
	CHECK_INT(got.last_used_at, 1800000001);
	CHECK_INT(store_apikey_delete(tx, k.id), 0);
	CHECK_INT(store_apikey_get_by_prefix(tx, "wk_abc123", &got),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(store_apikey_delete(tx, k.id), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void authkey_round_trip(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("carol");
	struct store_authkey k = {0}, got;
	struct store_tx *tx;

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_user_create(tx, &u), 0);
	snprintf(k.prefix, sizeof(k.prefix), "ak_1");
	memset(k.hash, 'c', 64);
	k.user_id = u.id;
	k.reusable = 1;
	k.ephemeral = 7; /* any non-zero is true */
	snprintf(k.tags, sizeof(k.tags), "[\"tag:ci\",\"tag:web\"]");
	k.expires_at = 1900000000;
	CHECK_INT(store_authkey_create(tx, &k), 0);
	CHECK_INT(store_authkey_use(tx, k.id), 0);
	CHECK_INT(store_authkey_use(tx, k.id), 0);
	CHECK_INT(store_commit(tx), 0);

	tx = rtx(st);
	CHECK_INT(store_authkey_get_by_prefix(tx, "ak_1", &got), 0);
	CHECK_INT(got.id, k.id);
	CHECK_STR(got.hash, k.hash);
	CHECK_INT(got.user_id, u.id);
	CHECK_INT(got.reusable, 1);
	CHECK_INT(got.ephemeral, 1);
	CHECK_STR(got.tags, "[\"tag:ci\",\"tag:web\"]");
	CHECK_INT(got.expires_at, 1900000000);
	CHECK_INT(got.revoked_at, 0);
	CHECK_INT(got.used_count, 2);
	CHECK_INT(got.created_at, k.created_at);
	store_rollback(tx);

	tx = wtx(st);
	got.reusable = 0;
	got.revoked_at = 1950000000;
	got.tags[0] = '\0'; /* stored as [] */
	CHECK_INT(store_authkey_update(tx, &got), 0);
	CHECK_INT(store_authkey_get(tx, k.id, &got), 0);
	CHECK_INT(got.reusable, 0);
	CHECK_INT(got.revoked_at, 1950000000);
	CHECK_STR(got.tags, "[]");
	CHECK_INT(got.used_count, 2);
	CHECK_INT(store_authkey_delete(tx, k.id), 0);
	CHECK_INT(store_authkey_get(tx, k.id, &got), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_authkey_use(tx, k.id), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void check_node_eq(const struct store_node *a, const struct store_node *b)
{
	CHECK_INT(a->id, b->id);
	CHECK_STR(a->name, b->name);
	CHECK_INT(a->user_id, b->user_id);
	CHECK_STR(a->public_key, b->public_key);
	CHECK_STR(a->ipv4, b->ipv4);
	CHECK_STR(a->ipv6, b->ipv6);
	CHECK_STR(a->tags, b->tags);
	CHECK_STR(a->os, b->os);
	CHECK_STR(a->version, b->version);
	CHECK_STR(a->cred_hash, b->cred_hash);
	CHECK_STR(a->endpoints, b->endpoints);
	CHECK_STR(a->home_relay, b->home_relay);
	CHECK_INT(a->last_seen, b->last_seen);
	CHECK_INT(a->online, b->online);
	CHECK_INT(a->expires_at, b->expires_at);
	CHECK_INT(a->ephemeral, b->ephemeral);
	CHECK_INT(a->auth_key_id, b->auth_key_id);
	CHECK_INT(a->created_at, b->created_at);
	CHECK_INT(a->updated_at, b->updated_at);
}

static void node_round_trip(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("dave");
	struct store_authkey ak = {0};
	struct store_node n, got, bare = {0};
	struct store_tx *tx;
	int64_t cnt = -1;

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_user_create(tx, &u), 0);
	snprintf(ak.prefix, sizeof(ak.prefix), "ak_n");
	CHECK_INT(store_authkey_create(tx, &ak), 0);
	n = mknode("laptop", u.id, 1);
	snprintf(n.ipv6, sizeof(n.ipv6), "fd7a:115c:a1e0::1");
	snprintf(n.tags, sizeof(n.tags), "[\"tag:dev\"]");
	snprintf(n.os, sizeof(n.os), "linux");
	snprintf(n.version, sizeof(n.version), "0.1.0");
	memset(n.cred_hash, 'd', 64);
	snprintf(n.endpoints, sizeof(n.endpoints), "[\"192.0.2.1:41641\"]");
	snprintf(n.home_relay, sizeof(n.home_relay), "fra1");
	n.last_seen = 1700000100;
	n.online = 1;
	n.expires_at = 1800000000;
	n.ephemeral = 1;
	n.auth_key_id = ak.id;
	CHECK_INT(store_node_create(tx, &n), 0);
	CHECK(n.id > 0);
	CHECK(n.created_at > 0);
	CHECK_INT(n.updated_at, n.created_at);
	/* A node without addresses: empty ipv4/ipv6 are NULL, not '' (so
	 * two of them do not collide), and empty JSON becomes []. */
	snprintf(bare.name, sizeof(bare.name), "bare");
	snprintf(bare.public_key, sizeof(bare.public_key), "nodekey:bare");
	CHECK_INT(store_node_create(tx, &bare), 0);
	CHECK_INT(store_commit(tx), 0);

	tx = rtx(st);
	CHECK_INT(store_node_get(tx, n.id, &got), 0);
	check_node_eq(&got, &n);
	CHECK_INT(store_node_get_by_name(tx, "laptop", &got), 0);
	CHECK_INT(got.id, n.id);
	CHECK_INT(store_node_get_by_key(tx, "nodekey:laptop", &got), 0);
	CHECK_INT(got.id, n.id);
	CHECK_INT(store_node_get_by_ipv4(tx, "100.64.0.1", &got), 0);
	CHECK_INT(got.id, n.id);
	CHECK_INT(store_node_get(tx, bare.id, &got), 0);
	CHECK_STR(got.ipv4, "");
	CHECK_STR(got.ipv6, "");
	CHECK_STR(got.tags, "[]");
	CHECK_STR(got.endpoints, "[]");
	CHECK_INT(got.user_id, 0);
	CHECK_INT(got.auth_key_id, 0);
	CHECK_INT(store_node_count(tx, -1, &cnt), 0);
	CHECK_INT(cnt, 2);
	CHECK_INT(store_node_count(tx, 1, &cnt), 0);
	CHECK_INT(cnt, 1);
	CHECK_INT(store_node_count(tx, 0, &cnt), 0);
	CHECK_INT(cnt, 1);
	store_rollback(tx);

	tx = wtx(st);
	snprintf(n.ipv4, sizeof(n.ipv4), "100.64.0.9");
	snprintf(n.endpoints, sizeof(n.endpoints), "[]");
	n.online = 0;
	n.user_id = 0;
	CHECK_INT(store_node_update(tx, &n), 0);
	CHECK_INT(store_node_get(tx, n.id, &got), 0);
	CHECK_STR(got.ipv4, "100.64.0.9");
	CHECK_STR(got.endpoints, "[]");
	CHECK_INT(got.online, 0);
	CHECK_INT(got.user_id, 0);
	CHECK_INT(got.created_at, n.created_at);
	CHECK(got.updated_at >= n.created_at);
	CHECK_INT(store_node_get_by_ipv4(tx, "100.64.0.1", &got),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(store_node_touch(tx, n.id, 1700009999, 1), 0);
	CHECK_INT(store_node_get(tx, n.id, &got), 0);
	CHECK_INT(got.last_seen, 1700009999);
	CHECK_INT(got.online, 1);
	CHECK_STR(got.name, "laptop");
	CHECK_INT(store_node_delete(tx, n.id), 0);
	CHECK_INT(store_node_get(tx, n.id, &got), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_node_touch(tx, n.id, 1, 1), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_node_update(tx, &n), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_node_delete(tx, n.id), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void route_round_trip(void)
{
	struct store *st = open_fresh();
	struct store_node n = mknode("router", 0, 1);
	struct store_route r = {0}, r2 = {0}, got;
	struct store_tx *tx;

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_node_create(tx, &n), 0);
	r.node_id = n.id;
	snprintf(r.prefix, sizeof(r.prefix), "10.0.0.0/24");
	r.advertised = 1;
	CHECK_INT(store_route_create(tx, &r), 0);
	CHECK_INT(store_commit(tx), 0);

	tx = wtx(st);
	CHECK_INT(store_route_get(tx, r.id, &got), 0);
	CHECK_INT(got.id, r.id);
	CHECK_INT(got.node_id, n.id);
	CHECK_STR(got.prefix, "10.0.0.0/24");
	CHECK_INT(got.advertised, 1);
	CHECK_INT(got.approved, 0);
	CHECK_INT(got.created_at, r.created_at);
	got.approved = 1;
	CHECK_INT(store_route_update(tx, &got), 0);
	CHECK_INT(store_route_get(tx, r.id, &got), 0);
	CHECK_INT(got.approved, 1);
	CHECK_INT(store_route_delete(tx, r.id), 0);
	CHECK_INT(store_route_get(tx, r.id, &got), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_route_delete(tx, r.id), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_commit(tx), 0);

	/* (node_id, prefix) is unique. */
	tx = wtx(st);
	r2.node_id = n.id;
	snprintf(r2.prefix, sizeof(r2.prefix), "10.1.0.0/16");
	CHECK_INT(store_route_create(tx, &r2), 0);
	r2.id = 0;
	CHECK_INT(store_route_create(tx, &r2), WEFT_ERR_EXISTS);
	CHECK_INT(r2.id, 0);
	store_rollback(tx);
	finish(st);
}

static void resource_round_trip(void)
{
	struct store *st = open_fresh();
	struct store_node n = mknode("connector", 0, 1);
	struct store_node n2 = mknode("connector2", 0, 2);
	struct store_resource r = {0}, got, other = {0};
	struct store_tx *tx;

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_node_create(tx, &n), 0);
	CHECK_INT(store_node_create(tx, &n2), 0);
	snprintf(r.name, sizeof(r.name), "intranet");
	snprintf(r.address, sizeof(r.address), "intranet.corp.example");
	snprintf(r.filters, sizeof(r.filters),
		 "[{\"protocol\":\"tcp\",\"ports\":[\"80\",\"443\"]}]");
	r.connector_nodes[0] = n.id;
	r.connector_nodes[1] = n2.id;
	r.nconnector_nodes = 2;
	snprintf(r.connector_tags, sizeof(r.connector_tags),
		 "[\"tag:connector\"]");
	snprintf(r.mapped_ipv4, sizeof(r.mapped_ipv4), "100.96.0.1/32");
	snprintf(r.mapped_ipv6, sizeof(r.mapped_ipv6),
		 "fd00:1:2:ffff::6460:1/128");
	CHECK_INT(store_resource_create(tx, &r), 0);
	CHECK_INT(store_commit(tx), 0);

	tx = wtx(st);
	CHECK_INT(store_resource_get_by_name(tx, "intranet", &got), 0);
	CHECK_INT(got.id, r.id);
	CHECK_STR(got.address, "intranet.corp.example");
	CHECK_STR(got.filters, r.filters);
	CHECK_INT(got.nconnector_nodes, 2);
	CHECK_INT(got.connector_nodes[0], n.id);
	CHECK_INT(got.connector_nodes[1], n2.id);
	CHECK_STR(got.connector_tags, "[\"tag:connector\"]");
	CHECK_STR(got.mapped_ipv4, "100.96.0.1/32");
	CHECK_STR(got.mapped_ipv6, "fd00:1:2:ffff::6460:1/128");
	CHECK_INT(got.created_at, r.created_at);
	snprintf(got.address, sizeof(got.address), "10.2.0.0/16");
	got.filters[0] = got.connector_tags[0] = '\0';
	got.mapped_ipv4[0] = got.mapped_ipv6[0] = '\0';
	got.connector_nodes[0] = n2.id;
	got.nconnector_nodes = 1;
	CHECK_INT(store_resource_update(tx, &got), 0);
	CHECK_INT(store_resource_get(tx, r.id, &got), 0);
	CHECK_STR(got.address, "10.2.0.0/16");
	CHECK_STR(got.filters, "[]");
	CHECK_STR(got.connector_tags, "[]");
	CHECK_STR(got.mapped_ipv4, "");
	CHECK_INT(got.nconnector_nodes, 1);
	CHECK_INT(got.connector_nodes[0], n2.id);
	CHECK_INT(store_commit(tx), 0);

	/* Mapped prefixes are unique; a connector must exist. */
	tx = wtx(st);
	snprintf(other.name, sizeof(other.name), "other");
	snprintf(other.address, sizeof(other.address), "other.example");
	other.connector_nodes[0] = 999;
	other.nconnector_nodes = 1;
	CHECK_INT(store_resource_create(tx, &other), WEFT_ERR_CONFLICT);
	store_rollback(tx);
	tx = wtx(st);
	CHECK_INT(store_resource_get(tx, r.id, &got), 0);
	snprintf(got.mapped_ipv4, sizeof(got.mapped_ipv4), "100.96.0.2/32");
	CHECK_INT(store_resource_update(tx, &got), 0);
	other.nconnector_nodes = 0;
	snprintf(other.mapped_ipv4, sizeof(other.mapped_ipv4), "100.96.0.2/32");
	CHECK_INT(store_resource_create(tx, &other), WEFT_ERR_EXISTS);
	store_rollback(tx);

	tx = wtx(st);
	CHECK_INT(store_resource_delete(tx, r.id), 0);
	CHECK_INT(store_resource_get(tx, r.id, &got), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_resource_delete(tx, r.id), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

/* Builds the schema of migrations 1..upto in the current case's database
 * directly (as an older controller left it). */
static bool schema_upto(int upto)
{
	const struct migration *m = use_pg ? migrations_postgres
					   : migrations_sqlite;
	char sql[256];

	if (raw_exec("CREATE TABLE schema_migrations (version INTEGER "
		     "PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT "
		     "NOT NULL)") < 0)
		return false;
	for (; m->version && m->version <= upto; m++) {
		if (raw_exec(m->sql) < 0)
			return false;
		snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations "
			 "VALUES (%d, '%s', 0)", m->version, m->name);
		if (raw_exec(sql) < 0)
			return false;
	}
	return true;
}

struct res_rows {
	struct store_resource v[8];
	size_t n;
};

static int collect_res(void *ctx, const struct store_resource *r)
{
	struct res_rows *rows = ctx;

	if (rows->n < 8)
		rows->v[rows->n++] = *r;
	return 0;
}

static void migration_6_converts_resources_of_the_old_shape(void)
{
	struct store *st = NULL;
	struct store_page pg = {0};
	struct res_rows rows = {0};
	struct store_resource nr = {0};
	struct store_tx *tx;
	char err[256];
	int ver;

	REQUIRE(fresh_db());
	REQUIRE(schema_upto(5));
	REQUIRE_INT(raw_exec(
		"INSERT INTO nodes (id, name, public_key, created_at, updated_at) "
		"VALUES (5, 'c1', 'k1', 1, 1), (6, 'c2', 'k2', 1, 1);"
		"INSERT INTO resources (id, name, address, protocol, ports, "
		"connector_node_id, connector_tag, created_at) VALUES "
		"(1, 'all', '10.0.0.0/16', 'any', '*', 5, '', 11),"
		"(2, 'empty', '10.0.0.1', 'any', '', NULL, 'tag:conn', 12),"
		"(3, 'web', 'web.corp', 'tcp', '80,443,8000-8100', 6, '', 13),"
		"(4, 'dns', '10.0.0.2', 'udp', '53', NULL, 'tag:dns', 14),"
		"(5, 'both', '10.0.0.3', 'any', '22,3000-3001', 5, 'tag:x', 15),"
		"(6, 'tcpall', '10.0.0.4', 'tcp', '*', NULL, '', 16),"
		"(9, 'gone', '10.0.0.9', 'any', '*', NULL, 'tag:c', 17);"
		"DELETE FROM resources WHERE id = 9"), 0);
	/* Rows written with explicit ids: move PostgreSQL's identity on as
	 * the old controller's own inserts would have. */
	if (use_pg)
		REQUIRE_INT(raw_exec("ALTER TABLE resources ALTER COLUMN id "
				     "RESTART WITH 10; ALTER TABLE nodes ALTER "
				     "COLUMN id RESTART WITH 7"), 0);
	REQUIRE_INT(store_open(db_url, &st, err, sizeof(err)), 0);
	CHECK_INT(store_schema_version(st, &ver), 0);
	CHECK_INT(ver, newest_migration());
	tx = rtx(st);
	CHECK_INT(store_resource_list(tx, &pg, collect_res, &rows, NULL), 0);
	store_rollback(tx);
	REQUIRE_INT(rows.n, 6);
	CHECK_STR(rows.v[0].filters, "[]");
	CHECK_INT(rows.v[0].nconnector_nodes, 1);
	CHECK_INT(rows.v[0].connector_nodes[0], 5);
	CHECK_STR(rows.v[0].connector_tags, "[]");
	CHECK_INT(rows.v[0].created_at, 11);
	CHECK_STR(rows.v[1].filters, "[]");
	CHECK_INT(rows.v[1].nconnector_nodes, 0);
	CHECK_STR(rows.v[1].connector_tags, "[\"tag:conn\"]");
	CHECK_STR(rows.v[2].filters,
		  "[{\"protocol\":\"tcp\",\"ports\":[\"80\",\"443\","
		  "\"8000-8100\"]}]");
	CHECK_INT(rows.v[2].connector_nodes[0], 6);
	CHECK_STR(rows.v[2].address, "web.corp");
	CHECK_STR(rows.v[2].mapped_ipv4, "");
	CHECK_STR(rows.v[3].filters,
		  "[{\"protocol\":\"udp\",\"ports\":[\"53\"]}]");
	CHECK_STR(rows.v[3].connector_tags, "[\"tag:dns\"]");
	CHECK_STR(rows.v[4].filters,
		  "[{\"protocol\":\"tcp\",\"ports\":[\"22\",\"3000-3001\"]},"
		  "{\"protocol\":\"udp\",\"ports\":[\"22\",\"3000-3001\"]}]");
	CHECK_INT(rows.v[4].connector_nodes[0], 5);
	CHECK_STR(rows.v[4].connector_tags, "[\"tag:x\"]");
	CHECK_STR(rows.v[5].filters,
		  "[{\"protocol\":\"tcp\",\"ports\":[]}]");
	/* The connector set follows its nodes; ids are not reused. */
	tx = wtx(st);
	CHECK_INT(store_node_delete(tx, 5), 0);
	CHECK_INT(store_resource_get(tx, 1, &rows.v[0]), 0);
	CHECK_INT(rows.v[0].nconnector_nodes, 0);
	snprintf(nr.name, sizeof(nr.name), "new");
	snprintf(nr.address, sizeof(nr.address), "10.0.0.10");
	CHECK_INT(store_resource_create(tx, &nr), 0);
	CHECK(nr.id > 9);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void relay_round_trip(void)
{
	struct store *st = open_fresh();
	struct store_relay r = {0}, got;
	struct store_tx *tx;

	REQUIRE(st);
	tx = wtx(st);
	snprintf(r.name, sizeof(r.name), "fra1");
	snprintf(r.region, sizeof(r.region), "eu-central");
	snprintf(r.address, sizeof(r.address), "relay-fra1.example.com:443");
	snprintf(r.public_key_pin, sizeof(r.public_key_pin), "sha256:abcd");
	CHECK_INT(store_relay_create(tx, &r), 0);
	CHECK_INT(store_relay_get_by_name(tx, "fra1", &got), 0);
	CHECK_INT(got.id, r.id);
	CHECK_STR(got.region, "eu-central");
	CHECK_STR(got.address, "relay-fra1.example.com:443");
	CHECK_STR(got.public_key_pin, "sha256:abcd");
	CHECK_INT(got.created_at, r.created_at);
	snprintf(got.region, sizeof(got.region), "eu-west");
	CHECK_INT(store_relay_update(tx, &got), 0);
	CHECK_INT(store_relay_get(tx, r.id, &got), 0);
	CHECK_STR(got.region, "eu-west");
	CHECK_STR(got.name, "fra1");
	CHECK_INT(store_relay_delete(tx, r.id), 0);
	CHECK_INT(store_relay_get(tx, r.id, &got), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_relay_delete(tx, r.id), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

/* --- lists --- */

struct ids {
	int64_t v[1024];
	int n;
	int stop_after; /* 0 = never */
};

static int collect_user(void *ctx, const struct store_user *row)
{
	struct ids *ids = ctx;

	ids->v[ids->n++] = row->id;
	return ids->stop_after && ids->n == ids->stop_after ? 42 : 0;
}

static int collect_node(void *ctx, const struct store_node *row)
{
	struct ids *ids = ctx;

	ids->v[ids->n++] = row->id;
	return 0;
}

static int collect_audit(void *ctx, const struct store_audit *row)
{
	struct ids *ids = ctx;

	ids->v[ids->n++] = row->id;
	return 0;
}

static int collect_authkey(void *ctx, const struct store_authkey *row)
{
	struct ids *ids = ctx;

	ids->v[ids->n++] = row->id;
	return 0;
}

static int collect_apikey(void *ctx, const struct store_apikey *row)
{
	struct ids *ids = ctx;

	ids->v[ids->n++] = row->id;
	return 0;
}

static int collect_route(void *ctx, const struct store_route *row)
{
	struct ids *ids = ctx;

	ids->v[ids->n++] = row->id;
	return 0;
}

static int collect_resource(void *ctx, const struct store_resource *row)
{
	struct ids *ids = ctx;

	ids->v[ids->n++] = row->id;
	return 0;
}

static int collect_relay(void *ctx, const struct store_relay *row)
{
	struct ids *ids = ctx;

	ids->v[ids->n++] = row->id;
	return 0;
}

static void walk_users(struct store *st, int limit, const int64_t *want,
		       int nwant)
{
	struct store_page pg = {.after = 0, .limit = limit};
	struct ids got = {0};
	struct store_tx *tx = rtx(st);
	int pages = 0;

	for (;;) {
		int64_t next = -1;
		int before = got.n;

		REQUIRE_INT(store_user_list(tx, NULL, &pg, collect_user, &got,
					    &next), 0);
		pages++;
		CHECK(got.n - before <= limit);
		if (next == 0)
			break;
		CHECK_INT(got.n - before, limit);
		CHECK_INT(next, got.v[got.n - 1]);
		pg.after = next;
		if (pages > nwant + 1)
			break;
	}
	store_rollback(tx);
	CHECK_INT(got.n, nwant);
	CHECK_INT(pages, (nwant + limit - 1) / limit);
	for (int i = 0; i < got.n && i < nwant; i++)
		CHECK_INT(got.v[i], want[i]);
}

static void pagination_walks_every_row_once(void)
{
	struct store *st = open_fresh();
	struct store_tx *tx;
	int64_t ids[10];

	REQUIRE(st);
	tx = wtx(st);
	for (int i = 0; i < 10; i++) {
		char name[16];
		struct store_user u;

		snprintf(name, sizeof(name), "user%d", i);
		u = mkuser(name);
		CHECK_INT(store_user_create(tx, &u), 0);
		ids[i] = u.id;
		if (i)
			CHECK(ids[i] > ids[i - 1]);
	}
	CHECK_INT(store_commit(tx), 0);
	walk_users(st, 1, ids, 10);
	walk_users(st, 3, ids, 10);
	walk_users(st, 10, ids, 10);
	walk_users(st, 1000, ids, 10);
	finish(st);
}

static void list_clamps_limit_and_stops_on_callback(void)
{
	struct store *st = open_fresh();
	struct store_page pg = {.after = 0, .limit = -5}, big = {.after = 0, .limit = 100000};
	struct store_tx *tx;
	struct ids got = {0};
	int64_t next = -1;

	REQUIRE(st);
	tx = wtx(st);
	for (int i = 0; i < 5; i++) {
		char name[16];
		struct store_user u;

		snprintf(name, sizeof(name), "user%d", i);
		u = mkuser(name);
		CHECK_INT(store_user_create(tx, &u), 0);
	}
	CHECK_INT(store_commit(tx), 0);

	tx = rtx(st);
	CHECK_INT(store_user_list(tx, NULL, &pg, collect_user, &got, &next), 0);
	CHECK_INT(got.n, 1); /* clamped up to 1 */
	CHECK_INT(next, got.v[0]);
	got.n = 0;
	CHECK_INT(store_user_list(tx, NULL, &big, collect_user, &got, &next), 0);
	CHECK_INT(got.n, 5);
	CHECK_INT(next, 0);
	got.n = 0;
	got.stop_after = 2;
	next = -1;
	CHECK_INT(store_user_list(tx, NULL, NULL, collect_user, &got, &next), 42);
	CHECK_INT(got.n, 2);
	/* A callback's stop does not abort the transaction. */
	got.n = 0;
	got.stop_after = 0;
	CHECK_INT(store_user_list(tx, NULL, NULL, collect_user, &got, &next), 0);
	CHECK_INT(got.n, 5);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void list_filters_select_matching_rows(void)
{
	struct store *st = open_fresh();
	struct store_user a = mkuser("a"), b = mkuser("b");
	struct store_node n1, n2, n3, n4;
	struct store_node_filter nf;
	struct store_authkey k1 = {0}, k2 = {0}, k3 = {0};
	struct store_authkey_filter af;
	struct store_apikey p1 = {0}, p2 = {0};
	struct store_apikey_filter pf;
	struct store_user_filter uf = {"b"};
	struct store_route r1 = {0}, r2 = {0};
	struct store_route_filter rf;
	struct store_tx *tx;
	struct ids got = {0};

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_user_create(tx, &a), 0);
	CHECK_INT(store_user_create(tx, &b), 0);
	n1 = mknode("n1", a.id, 1);
	snprintf(n1.tags, sizeof(n1.tags), "[\"tag:web\"]");
	n1.online = 1;
	n2 = mknode("n2", b.id, 2);
	snprintf(n2.tags, sizeof(n2.tags), "[\"tag:webserver\", \"tag:db\"]");
	n3 = mknode("n3", 0, 3);
	snprintf(n3.tags, sizeof(n3.tags), "[\"tag:db\",\"tag:web\"]");
	n3.online = 1;
	n4 = mknode("n4", 0, 4);
	snprintf(n4.tags, sizeof(n4.tags), "[\"Tag:Web\",\"tagxa\"]");
	CHECK_INT(store_node_create(tx, &n1), 0);
	CHECK_INT(store_node_create(tx, &n2), 0);
	CHECK_INT(store_node_create(tx, &n3), 0);
	CHECK_INT(store_node_create(tx, &n4), 0);
	snprintf(k1.prefix, sizeof(k1.prefix), "k1");
	k1.user_id = a.id;
	snprintf(k2.prefix, sizeof(k2.prefix), "k2");
	k2.user_id = a.id;
	k2.revoked_at = 5;
	snprintf(k3.prefix, sizeof(k3.prefix), "k3");
	k3.user_id = b.id;
	CHECK_INT(store_authkey_create(tx, &k1), 0);
	CHECK_INT(store_authkey_create(tx, &k2), 0);
	CHECK_INT(store_authkey_create(tx, &k3), 0);
	snprintf(p1.prefix, sizeof(p1.prefix), "p1");
	p1.user_id = a.id;
	snprintf(p2.prefix, sizeof(p2.prefix), "p2");
	p2.user_id = b.id;
	CHECK_INT(store_apikey_create(tx, &p1), 0);
	CHECK_INT(store_apikey_create(tx, &p2), 0);
	r1.node_id = n1.id;
	snprintf(r1.prefix, sizeof(r1.prefix), "10.0.0.0/8");
	r2.node_id = n2.id;
	snprintf(r2.prefix, sizeof(r2.prefix), "10.0.0.0/8");
	CHECK_INT(store_route_create(tx, &r1), 0);
	CHECK_INT(store_route_create(tx, &r2), 0);
	CHECK_INT(store_commit(tx), 0);

	tx = rtx(st);
	nf = (struct store_node_filter){0, "tag:web", -1};
	CHECK_INT(store_node_list(tx, &nf, NULL, collect_node, &got, NULL), 0);
	CHECK_INT(got.n, 2); /* not tag:webserver, not Tag:Web */
	CHECK_INT(got.v[0], n1.id);
	CHECK_INT(got.v[1], n3.id);
	got.n = 0;
	nf = (struct store_node_filter){0, "tag_xa", -1}; /* _ is literal */
	CHECK_INT(store_node_list(tx, &nf, NULL, collect_node, &got, NULL), 0);
	CHECK_INT(got.n, 0);
	nf = (struct store_node_filter){0, "tag:db", 1};
	CHECK_INT(store_node_list(tx, &nf, NULL, collect_node, &got, NULL), 0);
	CHECK_INT(got.n, 1);
	CHECK_INT(got.v[0], n3.id);
	got.n = 0;
	nf = (struct store_node_filter){b.id, NULL, -1};
	CHECK_INT(store_node_list(tx, &nf, NULL, collect_node, &got, NULL), 0);
	CHECK_INT(got.n, 1);
	CHECK_INT(got.v[0], n2.id);
	got.n = 0;
	nf = (struct store_node_filter){0, NULL, 0};
	CHECK_INT(store_node_list(tx, &nf, NULL, collect_node, &got, NULL), 0);
	CHECK_INT(got.n, 2);
	CHECK_INT(got.v[0], n2.id);
	CHECK_INT(got.v[1], n4.id);
	got.n = 0;
	nf = (struct store_node_filter){0, "bad\"tag", -1};
	CHECK_INT(store_node_list(tx, &nf, NULL, collect_node, &got, NULL),
		  WEFT_ERR_INVAL);

	af = (struct store_authkey_filter){a.id, 0};
	CHECK_INT(store_authkey_list(tx, &af, NULL, collect_authkey, &got, NULL), 0);
	CHECK_INT(got.n, 1);
	CHECK_INT(got.v[0], k1.id);
	got.n = 0;
	af = (struct store_authkey_filter){a.id, 1};
	CHECK_INT(store_authkey_list(tx, &af, NULL, collect_authkey, &got, NULL), 0);
	CHECK_INT(got.n, 2);
	got.n = 0;
	CHECK_INT(store_authkey_list(tx, NULL, NULL, collect_authkey, &got, NULL), 0);
	CHECK_INT(got.n, 3);
	got.n = 0;

	pf = (struct store_apikey_filter){b.id};
	CHECK_INT(store_apikey_list(tx, &pf, NULL, collect_apikey, &got, NULL), 0);
	CHECK_INT(got.n, 1);
	CHECK_INT(got.v[0], p2.id);
	got.n = 0;

	CHECK_INT(store_user_list(tx, &uf, NULL, collect_user, &got, NULL), 0);
	CHECK_INT(got.n, 1);
	CHECK_INT(got.v[0], b.id);
	got.n = 0;

	rf = (struct store_route_filter){n2.id};
	CHECK_INT(store_route_list(tx, &rf, NULL, collect_route, &got, NULL), 0);
	CHECK_INT(got.n, 1);
	CHECK_INT(got.v[0], r2.id);
	got.n = 0;
	CHECK_INT(store_route_list(tx, NULL, NULL, collect_route, &got, NULL), 0);
	CHECK_INT(got.n, 2);
	store_rollback(tx);
	finish(st);
}

static void audit_log_appends_and_filters(void)
{
	struct store *st = open_fresh();
	struct store_audit e[4] = {{0}};
	struct store_audit_filter f;
	struct store_tx *tx;
	struct ids got = {0};
	const char *actors[4] = {"admin", "admin", "alice", "admin"};
	const char *actions[4] = {"node.create", "node.delete", "node.create",
				  "policy.put"};

	REQUIRE(st);
	tx = wtx(st);
	for (int i = 0; i < 4; i++) {
		e[i].at = 1000 + i * 100;
		snprintf(e[i].actor, sizeof(e[i].actor), "%s", actors[i]);
		snprintf(e[i].action, sizeof(e[i].action), "%s", actions[i]);
		snprintf(e[i].target_type, sizeof(e[i].target_type), "%s",
			 i == 3 ? "policy" : "node");
		snprintf(e[i].target_id, sizeof(e[i].target_id), "%d", i);
		if (i == 0)
			snprintf(e[i].detail, sizeof(e[i].detail),
				 "{\"name\":\"laptop\"}");
		CHECK_INT(store_audit_create(tx, &e[i]), 0);
		CHECK(e[i].id > 0);
	}
	CHECK_INT(store_commit(tx), 0);

	tx = rtx(st);
	f = (struct store_audit_filter){"admin", NULL, NULL, 0, 0};
	CHECK_INT(store_audit_list(tx, &f, NULL, collect_audit, &got, NULL), 0);
	CHECK_INT(got.n, 3);
	got.n = 0;
	f = (struct store_audit_filter){NULL, "node.create", NULL, 0, 0};
	CHECK_INT(store_audit_list(tx, &f, NULL, collect_audit, &got, NULL), 0);
	CHECK_INT(got.n, 2);
	CHECK_INT(got.v[0], e[0].id);
	CHECK_INT(got.v[1], e[2].id);
	got.n = 0;
	f = (struct store_audit_filter){"admin", NULL, "node", 1100, 0};
	CHECK_INT(store_audit_list(tx, &f, NULL, collect_audit, &got, NULL), 0);
	CHECK_INT(got.n, 1);
	CHECK_INT(got.v[0], e[1].id);
	got.n = 0;
	/* until is inclusive, alone and with since. */
	f = (struct store_audit_filter){NULL, NULL, NULL, 0, 1100};
	CHECK_INT(store_audit_list(tx, &f, NULL, collect_audit, &got, NULL), 0);
	CHECK_INT(got.n, 2);
	got.n = 0;
	f = (struct store_audit_filter){NULL, NULL, NULL, 1100, 1100};
	CHECK_INT(store_audit_list(tx, &f, NULL, collect_audit, &got, NULL), 0);
	CHECK_INT(got.n, 1);
	CHECK_INT(got.v[0], e[1].id);
	got.n = 0;
	f = (struct store_audit_filter){NULL, NULL, "policy", 0, 0};
	CHECK_INT(store_audit_list(tx, &f, NULL, collect_audit, &got, NULL), 0);
	CHECK_INT(got.n, 1);
	CHECK_INT(got.v[0], e[3].id);
	store_rollback(tx);
	finish(st);
}

struct audit_copy {
	struct store_audit a[4];
	int n;
};

static int copy_audit(void *ctx, const struct store_audit *row)
{
	struct audit_copy *c = ctx;

	if (c->n < 4)
		c->a[c->n++] = *row;
	return 0;
}

static void audit_entries_keep_every_field(void)
{
	struct store *st = open_fresh();
	struct store_audit e = {0}, bare = {0};
	struct audit_copy got = {0};
	struct store_tx *tx;

	REQUIRE(st);
	tx = wtx(st);
	e.at = 1234;
	snprintf(e.actor, sizeof(e.actor), "apikey:wk_1");
	snprintf(e.action, sizeof(e.action), "route.approve");
	snprintf(e.target_type, sizeof(e.target_type), "route");
	snprintf(e.target_id, sizeof(e.target_id), "17");
	snprintf(e.detail, sizeof(e.detail), "{\"prefix\":\"10.0.0.0/8\"}");
	CHECK_INT(store_audit_create(tx, &e), 0);
	snprintf(bare.actor, sizeof(bare.actor), "system");
	snprintf(bare.action, sizeof(bare.action), "node.expire");
	CHECK_INT(store_audit_create(tx, &bare), 0);
	CHECK(bare.at > 0); /* defaults to now */
	CHECK_INT(store_audit_list(tx, NULL, NULL, copy_audit, &got, NULL), 0);
	REQUIRE_INT(got.n, 2);
	CHECK_INT(got.a[0].id, e.id);
	CHECK_INT(got.a[0].at, 1234);
	CHECK_STR(got.a[0].actor, "apikey:wk_1");
	CHECK_STR(got.a[0].action, "route.approve");
	CHECK_STR(got.a[0].target_type, "route");
	CHECK_STR(got.a[0].target_id, "17");
	CHECK_STR(got.a[0].detail, "{\"prefix\":\"10.0.0.0/8\"}");
	CHECK_INT(got.a[1].at, bare.at);
	CHECK_STR(got.a[1].detail, "{}");
	CHECK_STR(got.a[1].target_type, "");
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void lists_cover_resources_and_relays(void)
{
	struct store *st = open_fresh();
	struct store_resource res[3] = {{0}};
	struct store_relay rel[2] = {{0}};
	struct store_page pg = {.after = 0, .limit = 2};
	struct store_tx *tx;
	struct ids got = {0};
	int64_t next = -1;

	REQUIRE(st);
	tx = wtx(st);
	for (int i = 0; i < 3; i++) {
		snprintf(res[i].name, sizeof(res[i].name), "res%d", i);
		snprintf(res[i].address, sizeof(res[i].address), "10.9.0.%d", i);
		CHECK_INT(store_resource_create(tx, &res[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(rel[i].name, sizeof(rel[i].name), "relay%d", i);
		snprintf(rel[i].address, sizeof(rel[i].address), "r%d:443", i);
		CHECK_INT(store_relay_create(tx, &rel[i]), 0);
	}
	CHECK_INT(store_commit(tx), 0);

	tx = rtx(st);
	CHECK_INT(store_resource_list(tx, &pg, collect_resource, &got, &next), 0);
	CHECK_INT(got.n, 2);
	CHECK_INT(next, res[1].id);
	pg.after = next;
	CHECK_INT(store_resource_list(tx, &pg, collect_resource, &got, &next), 0);
	CHECK_INT(got.n, 3);
	CHECK_INT(got.v[2], res[2].id);
	CHECK_INT(next, 0);
	got.n = 0;
	CHECK_INT(store_relay_list(tx, NULL, collect_relay, &got, &next), 0);
	CHECK_INT(got.n, 2);
	CHECK_INT(got.v[0], rel[0].id);
	CHECK_INT(got.v[1], rel[1].id);
	CHECK_INT(next, 0);
	store_rollback(tx);
	finish(st);
}

/* --- constraints --- */

/* IN_TX(st, call) runs call in its own write transaction, with the
 * transaction in t_, commits it when call succeeded and rolls it back
 * otherwise, and yields the first failure. */
static struct store_tx *t_;

static int in_tx_end(struct store_tx *tx, int rc)
{
	if (!tx)
		return -1;
	if (rc == 0)
		return store_commit(tx);
	store_rollback(tx);
	return rc;
}

#define IN_TX(st, call) (t_ = wtx(st), in_tx_end(t_, t_ ? (call) : -1))

static void unique_violation_maps_to_exists(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("erin"), u2 = mkuser("erin");
	struct store_node n = mknode("box", 0, 1), dup;
	struct store_apikey k = {0}, k2 = {0};
	struct store_authkey a = {0}, a2 = {0};
	struct store_relay r = {0}, r2 = {0};
	struct store_resource s = {0}, s2 = {0};

	REQUIRE(st);
	CHECK_INT(IN_TX(st, store_user_create(t_, &u)), 0);
	CHECK_INT(IN_TX(st, store_user_create(t_, &u2)), WEFT_ERR_EXISTS);
	CHECK(strstr(store_errmsg(), "name") != NULL);
	CHECK_INT(u2.id, 0);

	CHECK_INT(IN_TX(st, store_node_create(t_, &n)), 0);
	dup = mknode("box", 0, 2); /* same name */
	CHECK_INT(IN_TX(st, store_node_create(t_, &dup)), WEFT_ERR_EXISTS);
	dup = mknode("box2", 0, 3);
	snprintf(dup.public_key, sizeof(dup.public_key), "%s", n.public_key);
	CHECK_INT(IN_TX(st, store_node_create(t_, &dup)), WEFT_ERR_EXISTS);
	dup = mknode("box3", 0, 1); /* same ipv4 */
	CHECK_INT(IN_TX(st, store_node_create(t_, &dup)), WEFT_ERR_EXISTS);
	CHECK(strstr(store_errmsg(), "ipv4") != NULL);
	dup = mknode("box4", 0, 4);
	CHECK_INT(IN_TX(st, store_node_create(t_, &dup)), 0);
	snprintf(dup.ipv4, sizeof(dup.ipv4), "100.64.0.1"); /* update too */
	CHECK_INT(IN_TX(st, store_node_update(t_, &dup)), WEFT_ERR_EXISTS);

	snprintf(k.prefix, sizeof(k.prefix), "wk_same");
	k2 = k;
	CHECK_INT(IN_TX(st, store_apikey_create(t_, &k)), 0);
	CHECK_INT(IN_TX(st, store_apikey_create(t_, &k2)), WEFT_ERR_EXISTS);
	snprintf(a.prefix, sizeof(a.prefix), "ak_same");
	a2 = a;
	CHECK_INT(IN_TX(st, store_authkey_create(t_, &a)), 0);
	CHECK_INT(IN_TX(st, store_authkey_create(t_, &a2)), WEFT_ERR_EXISTS);
	snprintf(r.name, sizeof(r.name), "relay");
	r2 = r;
	CHECK_INT(IN_TX(st, store_relay_create(t_, &r)), 0);
	CHECK_INT(IN_TX(st, store_relay_create(t_, &r2)), WEFT_ERR_EXISTS);
	snprintf(s.name, sizeof(s.name), "res");
	s2 = s;
	CHECK_INT(IN_TX(st, store_resource_create(t_, &s)), 0);
	CHECK_INT(IN_TX(st, store_resource_create(t_, &s2)), WEFT_ERR_EXISTS);
	finish(st);
}

static void foreign_key_violation_maps_to_conflict(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("frank");
	struct store_node n = mknode("orphan", 9999, 1), owned;
	struct store_route r = {0};
	struct store_apikey k = {0};

	REQUIRE(st);
	CHECK_INT(IN_TX(st, store_node_create(t_, &n)), WEFT_ERR_CONFLICT);
	CHECK_INT(n.id, 0);
	r.node_id = 9999;
	snprintf(r.prefix, sizeof(r.prefix), "10.0.0.0/8");
	CHECK_INT(IN_TX(st, store_route_create(t_, &r)), WEFT_ERR_CONFLICT);
	k.user_id = 9999;
	snprintf(k.prefix, sizeof(k.prefix), "wk_x");
	CHECK_INT(IN_TX(st, store_apikey_create(t_, &k)), WEFT_ERR_CONFLICT);

	/* A user who still owns nodes cannot be deleted. */
	CHECK_INT(IN_TX(st, store_user_create(t_, &u)), 0);
	owned = mknode("owned", u.id, 2);
	CHECK_INT(IN_TX(st, store_node_create(t_, &owned)), 0);
	CHECK_INT(IN_TX(st, store_user_delete(t_, u.id)), WEFT_ERR_CONFLICT);
	CHECK_INT(IN_TX(st, store_node_delete(t_, owned.id)), 0);
	CHECK_INT(IN_TX(st, store_user_delete(t_, u.id)), 0);
	finish(st);
}

static void deletes_cascade_to_dependent_rows(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("gina");
	struct store_authkey k1 = {0}, k2 = {0}, kgot;
	struct store_apikey p = {0}, pgot;
	struct store_node n = mknode("gw", 0, 1), ngot;
	struct store_route r1 = {0}, r2 = {0}, rgot;
	struct store_resource res = {0}, resgot;
	struct store_tx *tx;

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_user_create(tx, &u), 0);
	snprintf(k1.prefix, sizeof(k1.prefix), "k1");
	k1.user_id = u.id;
	snprintf(k2.prefix, sizeof(k2.prefix), "k2");
	k2.user_id = u.id;
	CHECK_INT(store_authkey_create(tx, &k1), 0);
	CHECK_INT(store_authkey_create(tx, &k2), 0);
	snprintf(p.prefix, sizeof(p.prefix), "p");
	p.user_id = u.id;
	CHECK_INT(store_apikey_create(tx, &p), 0);
	n.auth_key_id = k1.id;
	CHECK_INT(store_node_create(tx, &n), 0);
	r1.node_id = n.id;
	snprintf(r1.prefix, sizeof(r1.prefix), "10.0.0.0/8");
	r2.node_id = n.id;
	snprintf(r2.prefix, sizeof(r2.prefix), "192.168.0.0/16");
	CHECK_INT(store_route_create(tx, &r1), 0);
	CHECK_INT(store_route_create(tx, &r2), 0);
	snprintf(res.name, sizeof(res.name), "db");
	snprintf(res.address, sizeof(res.address), "db.internal");
	res.connector_nodes[0] = n.id;
	res.nconnector_nodes = 1;
	CHECK_INT(store_resource_create(tx, &res), 0);
	CHECK_INT(store_commit(tx), 0);

	tx = wtx(st);
	/* user -> auth keys, api keys; the node's auth_key_id is cleared */
	CHECK_INT(store_user_delete(tx, u.id), 0);
	CHECK_INT(store_authkey_get(tx, k1.id, &kgot), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_authkey_get(tx, k2.id, &kgot), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_apikey_get(tx, p.id, &pgot), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_node_get(tx, n.id, &ngot), 0);
	CHECK_INT(ngot.auth_key_id, 0);
	/* node -> routes; the resource loses its connector */
	CHECK_INT(store_node_delete(tx, n.id), 0);
	CHECK_INT(store_route_get(tx, r1.id, &rgot), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_route_get(tx, r2.id, &rgot), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_resource_get(tx, res.id, &resgot), 0);
	CHECK_INT(resgot.nconnector_nodes, 0);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void string_too_long_is_refused(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("x"), got;
	struct store_node n = mknode("n", 0, 1);
	struct store_tx *tx;
	char big[STORE_SETTING_KEY_SIZE + 1];

	REQUIRE(st);
	tx = wtx(st);
	memset(u.name, 'a', sizeof(u.name)); /* no room for the NUL */
	CHECK_INT(store_user_create(tx, &u), WEFT_ERR_TOOBIG);
	CHECK(strstr(store_errmsg(), "name") != NULL);
	CHECK_INT(u.id, 0);
	memset(n.tags, '[', sizeof(n.tags));
	CHECK_INT(store_node_create(tx, &n), WEFT_ERR_TOOBIG);
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(store_setting_set(tx, big, "v"), WEFT_ERR_TOOBIG);
	/* TOOBIG does not abort the transaction: the longest that fits works */
	memset(u.name, 'a', sizeof(u.name) - 1);
	u.name[sizeof(u.name) - 1] = '\0';
	CHECK_INT(store_user_create(tx, &u), 0);
	CHECK_INT(store_commit(tx), 0);
	tx = rtx(st);
	CHECK_INT(store_user_get(tx, u.id, &got), 0);
	CHECK_INT(strlen(got.name), STORE_NAME_SIZE - 1);
	store_rollback(tx);
	finish(st);
}

static void missing_rows_report_not_found(void)
{
	struct store *st = open_fresh();
	struct store_tx *tx;
	struct store_user u;
	struct store_apikey k;
	struct store_authkey a;
	struct store_node n;
	struct store_route r;
	struct store_resource s;
	struct store_relay l;
	struct store_policy p = {0};
	char buf[16] = "untouched";

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_user_get(tx, 4242, &u), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_user_get_by_name(tx, "nobody", &u), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_apikey_get_by_prefix(tx, "wk_none", &k), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_authkey_get_by_prefix(tx, "ak_none", &a), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_node_get_by_key(tx, "nodekey:none", &n), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_node_get_by_name(tx, "none", &n), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_route_get(tx, 1, &r), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_resource_get_by_name(tx, "none", &s), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_relay_get_by_name(tx, "none", &l), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_policy_get_current(tx, &p), WEFT_ERR_NOTFOUND);
	CHECK(p.document == NULL);
	CHECK_INT(store_policy_get(tx, 1, &p), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_setting_get(tx, "ula_prefix", buf, sizeof(buf)),
		  WEFT_ERR_NOTFOUND);
	CHECK_STR(buf, "untouched");
	CHECK_INT(store_relay_delete(tx, 7), WEFT_ERR_NOTFOUND);
	/* NOTFOUND leaves the transaction usable */
	CHECK_INT(store_netmap_bump(tx, NULL), 0);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

/* --- counters, settings, policy --- */

static void netmap_version_bumps_monotonically(void)
{
	struct store *st = open_fresh();
	struct store_tx *tx;
	int64_t v = -1, prev = 0;

	REQUIRE(st);
	for (int i = 1; i <= 5; i++) {
		tx = wtx(st);
		CHECK_INT(store_netmap_bump(tx, &v), 0);
		CHECK_INT(v, prev + 1);
		prev = v;
		CHECK_INT(store_commit(tx), 0);
	}
	tx = wtx(st);
	CHECK_INT(store_netmap_bump(tx, &v), 0);
	CHECK_INT(v, 6);
	store_rollback(tx);
	tx = rtx(st);
	CHECK_INT(store_netmap_version(tx, &v), 0);
	CHECK_INT(v, 5);
	store_rollback(tx);
	finish(st);
}

static void settings_upsert(void)
{
	struct store *st = open_fresh();
	struct store_tx *tx;
	char buf[64], small[4] = "abc";

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_setting_set(tx, "ula_prefix", "fd7a:115c:a1e0::/48"), 0);
	CHECK_INT(store_setting_set(tx, "dns_suffix", "mesh.example"), 0);
	CHECK_INT(store_commit(tx), 0);
	tx = wtx(st);
	CHECK_INT(store_setting_get(tx, "ula_prefix", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "fd7a:115c:a1e0::/48");
	CHECK_INT(store_setting_set(tx, "ula_prefix", "fd00:1::/48"), 0);
	CHECK_INT(store_setting_get(tx, "ula_prefix", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "fd00:1::/48");
	CHECK_INT(store_setting_get(tx, "dns_suffix", small, sizeof(small)),
		  WEFT_ERR_TOOBIG);
	CHECK_STR(small, "abc");
	CHECK_INT(store_setting_set(tx, "", "x"), WEFT_ERR_INVAL);
	CHECK_INT(store_commit(tx), 0);
	tx = rtx(st);
	CHECK_INT(store_setting_get(tx, "ula_prefix", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "fd00:1::/48");
	CHECK_INT(store_setting_get(tx, "dns_suffix", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "mesh.example");
	store_rollback(tx);
	finish(st);
}

static void policy_versions_append(void)
{
	struct store *st = open_fresh();
	struct store_policy cur = {0}, old = {0};
	struct store_tx *tx;
	int64_t v1 = 0, v2 = 0, v3 = 0;
	size_t biglen = 300000;
	char *big = malloc(biglen + 1), *huge;

	REQUIRE(st);
	REQUIRE(big);
	for (size_t i = 0; i < biglen; i++)
		big[i] = (char)('a' + i % 26);
	big[biglen] = '\0';
	tx = wtx(st);
	CHECK_INT(store_policy_put(tx, "{\"acls\":[]}", "admin", &v1), 0);
	CHECK_INT(store_policy_put(tx, "{\"acls\":[1]}", "alice", &v2), 0);
	CHECK(v2 > v1);
	CHECK_INT(store_commit(tx), 0);

	tx = rtx(st);
	CHECK_INT(store_policy_get_current(tx, &cur), 0);
	CHECK_INT(cur.version, v2);
	CHECK_STR(cur.document, "{\"acls\":[1]}");
	CHECK_STR(cur.author, "alice");
	CHECK(cur.created_at > 0);
	CHECK_INT(store_policy_get(tx, v1, &old), 0);
	CHECK_STR(old.document, "{\"acls\":[]}");
	CHECK_STR(old.author, "admin");
	store_policy_free(&cur);
	store_policy_free(&old);
	CHECK(cur.document == NULL);
	store_policy_free(NULL);
	store_rollback(tx);

	tx = wtx(st);
	CHECK_INT(store_policy_put(tx, big, NULL, &v3), 0);
	CHECK_INT(store_policy_get_current(tx, &cur), 0);
	CHECK_INT(cur.version, v3);
	CHECK(cur.document && strcmp(cur.document, big) == 0);
	CHECK_STR(cur.author, "");
	store_policy_free(&cur);
	huge = malloc(STORE_POLICY_MAX + 2);
	if (huge) {
		memset(huge, 'x', STORE_POLICY_MAX + 1);
		huge[STORE_POLICY_MAX + 1] = '\0';
		CHECK_INT(store_policy_put(tx, huge, "admin", NULL),
			  WEFT_ERR_TOOBIG);
		free(huge);
	}
	CHECK_INT(store_commit(tx), 0);
	free(big);
	finish(st);
}

/* --- transactions --- */

static void writes_on_read_tx_are_refused(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("h");
	struct store_node n = mknode("n", 0, 1);
	struct store_relay r = {0};
	struct store_audit a = {0};
	struct store_tx *tx;
	int64_t cnt = -1;

	REQUIRE(st);
	tx = rtx(st);
	CHECK_INT(store_user_create(tx, &u), WEFT_ERR_INVAL);
	CHECK_INT(store_node_create(tx, &n), WEFT_ERR_INVAL);
	CHECK_INT(store_relay_create(tx, &r), WEFT_ERR_INVAL);
	CHECK_INT(store_audit_create(tx, &a), WEFT_ERR_INVAL);
	CHECK_INT(store_user_update(tx, &u), WEFT_ERR_INVAL);
	CHECK_INT(store_user_delete(tx, 1), WEFT_ERR_INVAL);
	CHECK_INT(store_node_touch(tx, 1, 1, 1), WEFT_ERR_INVAL);
	CHECK_INT(store_authkey_use(tx, 1), WEFT_ERR_INVAL);
	CHECK_INT(store_netmap_bump(tx, NULL), WEFT_ERR_INVAL);
	CHECK_INT(store_setting_set(tx, "k", "v"), WEFT_ERR_INVAL);
	CHECK_INT(store_policy_put(tx, "{}", "a", NULL), WEFT_ERR_INVAL);
	/* refusals are not statement failures: the read goes on */
	CHECK_INT(store_node_count(tx, -1, &cnt), 0);
	CHECK_INT(cnt, 0);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void rollback_discards_writes(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("ivan"), got;
	struct store_tx *tx;
	char buf[8];

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_user_create(tx, &u), 0);
	CHECK_INT(store_setting_set(tx, "k", "v"), 0);
	CHECK_INT(store_user_get(tx, u.id, &got), 0); /* visible inside */
	store_rollback(tx);
	store_rollback(NULL);
	tx = rtx(st);
	CHECK_INT(store_user_get_by_name(tx, "ivan", &got), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_setting_get(tx, "k", buf, sizeof(buf)), WEFT_ERR_NOTFOUND);
	store_rollback(tx);
	finish(st);
}

static void failed_statement_aborts_transaction(void)
{
	struct store *st = open_fresh();
	struct store_user a = mkuser("jo"), b = mkuser("kim"), dup = mkuser("jo"),
			  got;
	struct store_tx *tx;

	REQUIRE(st);
	CHECK_INT(IN_TX(st, store_user_create(t_, &a)), 0);
	tx = wtx(st);
	CHECK_INT(store_user_create(tx, &b), 0);
	CHECK_INT(store_user_create(tx, &dup), WEFT_ERR_EXISTS);
	CHECK_INT(store_user_get(tx, a.id, &got), WEFT_ERR_INVAL);
	CHECK_INT(store_commit(tx), WEFT_ERR_INVAL);
	tx = rtx(st);
	CHECK_INT(store_user_get_by_name(tx, "kim", &got), WEFT_ERR_NOTFOUND);
	CHECK_INT(store_user_get_by_name(tx, "jo", &got), 0);
	store_rollback(tx);
	finish(st);
}

struct reader_arg {
	struct store *st;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int begin_rc, get_rc;
};

static void *reader_thread(void *p)
{
	struct reader_arg *ra = p;
	struct store_tx *tx = NULL;
	struct store_user got;

	ra->begin_rc = store_begin(ra->st, STORE_READ, &tx);
	if (ra->begin_rc == 0) {
		ra->get_rc = store_user_get_by_name(tx, "writer", &got);
		store_rollback(tx);
	}
	pthread_mutex_lock(&ra->mu);
	ra->done = true;
	pthread_cond_signal(&ra->cv);
	pthread_mutex_unlock(&ra->mu);
	return NULL;
}

static void readers_proceed_during_open_write(void)
{
	struct store *st = open_fresh();
	struct store_user u = mkuser("writer"), got;
	struct reader_arg ra = {0};
	struct store_tx *tx, *r;
	struct timespec deadline;
	pthread_t th;
	bool done;

	REQUIRE(st);
	ra.st = st;
	pthread_mutex_init(&ra.mu, NULL);
	pthread_cond_init(&ra.cv, NULL);
	tx = wtx(st);
	CHECK_INT(store_user_create(tx, &u), 0);

	REQUIRE_INT(pthread_create(&th, NULL, reader_thread, &ra), 0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 3;
	pthread_mutex_lock(&ra.mu);
	while (!ra.done &&
	       pthread_cond_timedwait(&ra.cv, &ra.mu, &deadline) == 0)
		;
	done = ra.done;
	pthread_mutex_unlock(&ra.mu);
	CHECK(done); /* the reader finished while the write was open */

	CHECK_INT(store_commit(tx), 0);
	pthread_join(th, NULL);
	CHECK_INT(ra.begin_rc, 0);
	CHECK_INT(ra.get_rc, WEFT_ERR_NOTFOUND); /* the old state */

	r = rtx(st);
	CHECK_INT(store_user_get_by_name(r, "writer", &got), 0);
	CHECK_INT(got.id, u.id);
	store_rollback(r);
	pthread_cond_destroy(&ra.cv);
	pthread_mutex_destroy(&ra.mu);
	finish(st);
}

/* PostgreSQL only: a connection the server dropped fails the call that
 * finds it with WEFT_ERR_DB and is reset for the next one. */
static void broken_connection_is_reset(void)
{
	struct store *st;
	struct store_tx *tx = NULL;
	char sql[256];
	int64_t v = -1;
	int rc;

	if (!use_pg)
		return;
	st = open_fresh();
	REQUIRE(st);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM "
		 "pg_stat_activity WHERE datname = '%s'", db_name);
	REQUIRE_INT(pg_admin_query(sql), 0);
	rc = store_begin(st, STORE_READ, &tx);
	if (rc == 0) {
		rc = store_netmap_version(tx, &v);
		store_rollback(tx);
	}
	CHECK_INT(rc, WEFT_ERR_DB);
	CHECK(strstr(store_errmsg(), "postgres") != NULL);
	tx = rtx(st);
	REQUIRE(tx);
	CHECK_INT(store_netmap_version(tx, &v), 0);
	CHECK_INT(v, 0);
	store_rollback(tx);
	finish(st);
}

#define WRITERS 8
#define ROWS_PER_WRITER 50

struct writer_arg {
	struct store *st;
	int idx;
	int failures;
	int last_rc;
};

static void *writer_thread(void *p)
{
	struct writer_arg *wa = p;

	for (int i = 0; i < ROWS_PER_WRITER; i++) {
		struct store_tx *tx = NULL;
		struct store_user u = {0};
		int64_t v;
		int rc;

		snprintf(u.name, sizeof(u.name), "w%d-%d", wa->idx, i);
		rc = store_begin(wa->st, STORE_WRITE, &tx);
		if (rc == 0) {
			rc = store_user_create(tx, &u);
			if (rc == 0)
				rc = store_netmap_bump(tx, &v);
			if (rc == 0)
				rc = store_commit(tx);
			else
				store_rollback(tx);
		}
		if (rc) {
			wa->failures++;
			wa->last_rc = rc;
		}
	}
	return NULL;
}

static void concurrent_writers_all_succeed(void)
{
	struct store *st = open_fresh();
	struct writer_arg wa[WRITERS];
	pthread_t th[WRITERS];
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct ids *got;
	struct store_tx *tx;
	int64_t v = 0, next = -1;

	REQUIRE(st);
	for (int i = 0; i < WRITERS; i++) {
		wa[i] = (struct writer_arg){st, i, 0, 0};
		REQUIRE_INT(pthread_create(&th[i], NULL, writer_thread, &wa[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(th[i], NULL);
		check_report(wa[i].failures == 0, __FILE__, __LINE__,
			     "writer %d: %d failures, last %s: %s", i,
			     wa[i].failures, weft_errname(wa[i].last_rc),
			     store_errmsg());
	}
	got = calloc(1, sizeof(*got));
	REQUIRE(got);
	tx = rtx(st);
	CHECK_INT(store_user_list(tx, NULL, &pg, collect_user, got, &next), 0);
	CHECK_INT(next, 0);
	CHECK_INT(got->n, WRITERS * ROWS_PER_WRITER);
	for (int i = 1; i < got->n; i++)
		CHECK(got->v[i] > got->v[i - 1]); /* unique, ascending */
	CHECK_INT(store_netmap_version(tx, &v), 0);
	CHECK_INT(v, WRITERS * ROWS_PER_WRITER); /* no lost update */
	store_rollback(tx);
	free(got);
	finish(st);
}

static int collect_change(void *ctx, const struct store_change *c)
{
	struct store_change *out = ctx;
	int i = 0;

	while (out[i].version)
		i++;
	if (i >= 7)
		return 1;
	out[i] = *c;
	return 0;
}

static void change_feed_lists_changes_after_a_version(void)
{
	struct store *st = open_fresh();
	struct store_change got[8];
	struct store_tx *tx;
	int64_t v = 0, oldest = -1;

	REQUIRE(st);
	tx = wtx(st);
	CHECK_INT(store_change_record(tx, "node", 7, &v), 0);
	CHECK_INT(v, 1);
	CHECK_INT(store_change_record(tx, "policy", 0, &v), 0);
	CHECK_INT(v, 2);
	CHECK_INT(store_commit(tx), 0);
	/* A rolled-back change leaves neither a row nor a version. */
	tx = wtx(st);
	CHECK_INT(store_change_record(tx, "node", 8, &v), 0);
	store_rollback(tx);
	tx = wtx(st);
	CHECK_INT(store_change_record(tx, "resource", 3, &v), 0);
	CHECK_INT(v, 3);
	CHECK_INT(store_commit(tx), 0);

	memset(got, 0, sizeof(got));
	tx = rtx(st);
	CHECK_INT(store_change_list(tx, 0, 100, collect_change, got), 0);
	CHECK_INT(got[0].version, 1);
	CHECK_STR(got[0].kind, "node");
	CHECK_INT(got[0].target_id, 7);
	CHECK(got[0].at > 0);
	CHECK_INT(got[1].version, 2);
	CHECK_STR(got[1].kind, "policy");
	CHECK_INT(got[2].version, 3);
	CHECK_STR(got[2].kind, "resource");
	CHECK_INT(got[3].version, 0);
	memset(got, 0, sizeof(got));
	CHECK_INT(store_change_list(tx, 2, 100, collect_change, got), 0);
	CHECK_INT(got[0].version, 3);
	CHECK_INT(got[1].version, 0);
	CHECK_INT(store_netmap_version(tx, &v), 0);
	CHECK_INT(v, 3);
	store_rollback(tx);

	tx = wtx(st);
	CHECK_INT(store_change_prune(tx, 2), 0);
	CHECK_INT(store_change_oldest(tx, &oldest), 0);
	CHECK_INT(oldest, 3);
	CHECK_INT(store_change_record(tx, "toolongkindname_x", 1, NULL),
		  WEFT_ERR_INVAL);
	CHECK_INT(store_commit(tx), 0);
	finish(st);
}

static void listeners_hear_commits_not_rollbacks(void)
{
	struct store *st = open_fresh();
	struct store_listen *l = NULL;
	struct store_tx *tx;
	struct pollfd pfd;
	int rc, got = 0;

	REQUIRE(st);
	rc = store_listen_open(st, NULL, &l);
	if (strcmp(store_backend(st), "sqlite") == 0) {
		CHECK_INT(rc, WEFT_ERR_UNSUPPORTED);
		finish(st);
		return;
	}
	REQUIRE_INT(rc, 0);
	tx = wtx(st);
	CHECK_INT(store_change_record(tx, "node", 1, NULL), 0);
	store_rollback(tx);
	tx = wtx(st);
	CHECK_INT(store_change_record(tx, "node", 2, NULL), 0);
	CHECK_INT(store_commit(tx), 0);
	pfd.fd = store_listen_fd(l);
	pfd.events = POLLIN;
	for (int i = 0; i < 50 && got == 0; i++) {
		if (poll(&pfd, 1, 100) > 0) {
			rc = store_listen_drain(l);
			CHECK(rc >= 0);
			if (rc > 0)
				got += rc;
		}
	}
	CHECK_INT(got, 1);
	store_listen_close(l);
	finish(st);
}

static const struct check_case cases[] = {
	CHECK_CASE(migrations_apply_to_empty_database),
	CHECK_CASE(migration_6_converts_resources_of_the_old_shape),
	CHECK_CASE(change_feed_lists_changes_after_a_version),
	CHECK_CASE(listeners_hear_commits_not_rollbacks),
	CHECK_CASE(reopening_applies_nothing_twice),
	CHECK_CASE(refuses_database_newer_than_binary),
	CHECK_CASE(rejects_unsupported_urls),
	CHECK_CASE(reports_unopenable_database),
	CHECK_CASE(user_round_trip),
	CHECK_CASE(apikey_round_trip),
	CHECK_CASE(authkey_round_trip),
	CHECK_CASE(node_round_trip),
	CHECK_CASE(route_round_trip),
	CHECK_CASE(resource_round_trip),
	CHECK_CASE(relay_round_trip),
	CHECK_CASE(pagination_walks_every_row_once),
	CHECK_CASE(list_clamps_limit_and_stops_on_callback),
	CHECK_CASE(list_filters_select_matching_rows),
	CHECK_CASE(audit_log_appends_and_filters),
	CHECK_CASE(audit_entries_keep_every_field),
	CHECK_CASE(lists_cover_resources_and_relays),
	CHECK_CASE(unique_violation_maps_to_exists),
	CHECK_CASE(foreign_key_violation_maps_to_conflict),
	CHECK_CASE(deletes_cascade_to_dependent_rows),
	CHECK_CASE(string_too_long_is_refused),
	CHECK_CASE(missing_rows_report_not_found),
	CHECK_CASE(netmap_version_bumps_monotonically),
	CHECK_CASE(settings_upsert),
	CHECK_CASE(policy_versions_append),
	CHECK_CASE(writes_on_read_tx_are_refused),
	CHECK_CASE(rollback_discards_writes),
	CHECK_CASE(failed_statement_aborts_transaction),
	CHECK_CASE(readers_proceed_during_open_write),
	CHECK_CASE(concurrent_writers_all_succeed),
	CHECK_CASE(broken_connection_is_reset),
	{0},
};

int main(int argc, char **argv)
{
	const char *backend = getenv("WEFT_STORE_BACKEND");
	const char *pgdir = getenv("WEFT_PG_DIR");

	use_pg = backend && strcmp(backend, "postgres") == 0;
	if (use_pg && (!pgdir || !read_line(pgdir, "host", pg_host,
					    sizeof(pg_host)))) {
		fprintf(stderr, "WEFT_STORE_BACKEND=postgres needs the server "
			"started by tests/harness/pg.sh (WEFT_PG_DIR=%s)\n",
			pgdir ? pgdir : "(unset)");
		return 1;
	}
	return check_main(argc, argv, cases);
}
