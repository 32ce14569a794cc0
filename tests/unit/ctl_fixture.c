#include "ctl_fixture.h"

#include "check.h"
#include "controller/metrics.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool fx_pg(void)
{
	const char *be = getenv("WEFT_STORE_BACKEND");

	return be && strcmp(be, "postgres") == 0;
}

/* The PostgreSQL databases made and not dropped yet, so that the exit of
 * the program drops what a failed case left. */
#define MAX_PG_DBS 64
static char pg_dbs[MAX_PG_DBS][64];
static char pg_host_buf[256];

/* The unix socket directory of the server pg.sh started. */
static const char *pg_host(void)
{
	const char *dir = getenv("WEFT_PG_DIR");
	char path[512];
	FILE *fp;

	if (pg_host_buf[0] || !dir)
		return pg_host_buf[0] ? pg_host_buf : NULL;
	snprintf(path, sizeof(path), "%s/host", dir);
	fp = fopen(path, "r");
	if (!fp)
		return NULL;
	if (!fgets(pg_host_buf, sizeof(pg_host_buf), fp))
		pg_host_buf[0] = '\0';
	fclose(fp);
	pg_host_buf[strcspn(pg_host_buf, "\n")] = '\0';
	return pg_host_buf[0] ? pg_host_buf : NULL;
}

static bool pg_admin(const char *sql)
{
	char url[FX_URL_SIZE];
	PGconn *c;
	PGresult *r;
	bool ok;

	snprintf(url, sizeof(url), "postgresql:///postgres?host=%s&user=postgres",
		 pg_host());
	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "fixture: admin connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return false;
	}
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "fixture: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok;
}

static void pg_drop(char *name)
{
	char sql[128];

	/* Names are ours and short (weft_u_<pid>_<n>); the check keeps gcc's
	 * -Wformat-truncation content. */
	if (snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
		     name) < (int)sizeof(sql))
		pg_admin(sql);
	name[0] = '\0';
}

static void pg_drop_all(void)
{
	for (size_t i = 0; i < MAX_PG_DBS; i++)
		if (pg_dbs[i][0])
			pg_drop(pg_dbs[i]);
}

bool fx_db_new(const char *name, char url[FX_URL_SIZE])
{
	static int seq;
	static bool hooked;
	char sql[128], *slot = NULL;

	seq++;
	if (!fx_pg()) {
		if (name)
			snprintf(url, FX_URL_SIZE, "sqlite://%s/%s.db",
				 check_tmpdir(), name);
		else
			snprintf(url, FX_URL_SIZE, "sqlite://%s/case%d.db",
				 check_tmpdir(), seq);
		return true;
	}
	if (!pg_host()) {
		fprintf(stderr, "fixture: WEFT_STORE_BACKEND=postgres needs the "
			"server of tests/harness/pg.sh in WEFT_PG_DIR\n");
		return false;
	}
	for (size_t i = 0; i < MAX_PG_DBS && !slot; i++)
		if (!pg_dbs[i][0])
			slot = pg_dbs[i];
	if (!slot) {
		fprintf(stderr, "fixture: more than %d databases open\n",
			MAX_PG_DBS);
		return false;
	}
	if (!hooked) {
		atexit(pg_drop_all);
		hooked = true;
	}
	/* The name only helps a reader of the server's log. */
	snprintf(slot, sizeof(pg_dbs[0]), "weft_u_%d_%d", (int)getpid(), seq);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", slot);
	if (!pg_admin(sql)) {
		slot[0] = '\0';
		return false;
	}
	snprintf(url, FX_URL_SIZE, "postgresql:///%s?host=%s&user=postgres",
		 slot, pg_host());
	return true;
}

void fx_db_drop(const char *url)
{
	const char *p = "postgresql:///";
	size_t n;

	if (!url || strncmp(url, p, strlen(p)) != 0)
		return;
	url += strlen(p);
	n = strcspn(url, "?");
	for (size_t i = 0; i < MAX_PG_DBS; i++)
		if (pg_dbs[i][0] && strlen(pg_dbs[i]) == n &&
		    strncmp(pg_dbs[i], url, n) == 0)
			pg_drop(pg_dbs[i]);
}

struct store *fx_store_new(const char *name, char *url)
{
	char buf[FX_URL_SIZE], err[256] = "";
	struct store *st = NULL;

	if (!fx_db_new(name, buf))
		return NULL;
	if (store_open(buf, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "store_open %s: %s\n", buf, err);
		fx_db_drop(buf);
		return NULL;
	}
	if (url)
		memcpy(url, buf, sizeof(buf));
	return st;
}

bool fx_open(struct fx *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->st = fx_store_new(name, f->url);
	return f->st && metrics_new(&f->m) == 0 &&
	       api_new(f->st, f->m, NULL, &f->api) == 0 &&
	       fx_apikey(f, 0, f->admin) > 0;
}

bool fx_open_members(struct fx *f, int64_t *alice, int64_t *bob,
		     char member[FX_AUTH_SIZE])
{
	fx_close(f);
	if (!fx_open(f, NULL))
		return false;
	*alice = fx_user(f, "alice", "member");
	*bob = fx_user(f, "bob", "member");
	return *alice > 0 && *bob > 0 && fx_apikey(f, *alice, member) > 0;
}

void fx_close(struct fx *f)
{
	http_resp_free(&f->r);
	api_del(f->api);
	metrics_del(f->m);
	store_close(f->st);
	fx_db_drop(f->url);
	memset(f, 0, sizeof(*f));
}

/* A query string "a=1&b=2" split once into pairs, so that every value a
 * handler looks up stays valid for the whole request. */
struct query {
	char buf[512];
	const char *k[16], *v[16];
	size_t n;
};

static const char *query_get(void *ctx, const char *key)
{
	struct query *q = ctx;

	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->k[i], key) == 0)
			return q->v[i];
	return NULL;
}

static void query_split(struct query *q, const char *s)
{
	char *p;

	snprintf(q->buf, sizeof(q->buf), "%s", s);
	q->n = 0;
	for (p = q->buf; p && *p && q->n < 16;) {
		char *amp = strchr(p, '&'), *eq;

		if (amp)
			*amp = '\0';
		eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			q->k[q->n] = p;
			q->v[q->n++] = eq + 1;
		}
		p = amp ? amp + 1 : NULL;
	}
}

int fx_req(struct fx *f, const char *auth, const char *method,
	   const char *path, const char *query, const char *body,
	   struct http_resp *resp)
{
	struct query q = {0};
	struct http_req r = {
		.method = method, .path = path, .authorization = auth,
		.body = body ? body : "", .body_len = body ? strlen(body) : 0,
		.query = query ? query_get : NULL, .query_ctx = &q,
	};

	if (query)
		query_split(&q, query);
	snprintf(r.remote, sizeof(r.remote), "127.0.0.1");
	http_resp_free(resp);
	memset(resp, 0, sizeof(*resp));
	api_handle(f->api, &r, resp);
	return resp->status;
}

int fx_call(struct fx *f, const char *method, const char *target,
	    const char *auth, const char *body)
{
	const char *qs = strchr(target, '?');
	char path[512];

	snprintf(path, sizeof(path), "%.*s",
		 qs ? (int)(qs - target) : (int)strlen(target), target);
	return fx_req(f, auth, method, path, qs ? qs + 1 : NULL, body, &f->r);
}

const char *fx_jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int64_t fx_jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

size_t fx_nitems(const struct fx *f)
{
	return json_array_size(json_object_get(f->r.json, "items"));
}

json_t *fx_item(const struct fx *f, size_t i)
{
	return json_array_get(json_object_get(f->r.json, "items"), i);
}

const char *fx_err_code(const struct http_resp *r)
{
	return fx_jstr(json_object_get(r->json, "error"), "code");
}

const char *fx_err_field(const struct http_resp *r)
{
	const char *s = fx_jstr(json_object_get(r->json, "error"), "field");

	return s ? s : "";
}

const char *fx_err_msg(const struct http_resp *r)
{
	const char *s = fx_jstr(json_object_get(r->json, "error"), "message");

	return s ? s : "";
}

int64_t fx_user(struct fx *f, const char *name, const char *role)
{
	struct store_user u = {.created_at = 1};
	struct store_tx *tx = NULL;

	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.role, sizeof(u.role), "%s", role);
	if (store_begin(f->st, STORE_WRITE, &tx) < 0)
		return -1;
	if (store_user_create(tx, &u) < 0) {
		store_rollback(tx);
		return -1;
	}
	return store_commit(tx) < 0 ? -1 : u.id;
}

int64_t fx_apikey(struct fx *f, int64_t user_id, char auth[FX_AUTH_SIZE])
{
	struct store_apikey k = {.user_id = user_id, .created_at = 1};
	struct store_tx *tx = NULL;
	char text[CRED_TEXT_SIZE];
	struct cred cr;

	if (cred_new(CRED_API, NULL, text, &cr) < 0)
		return -1;
	snprintf(k.prefix, sizeof(k.prefix), "%s", cr.id);
	snprintf(k.hash, sizeof(k.hash), "%s", cr.hash);
	if (store_begin(f->st, STORE_WRITE, &tx) < 0)
		return -1;
	if (store_apikey_create(tx, &k) < 0) {
		store_rollback(tx);
		return -1;
	}
	if (store_commit(tx) < 0)
		return -1;
	snprintf(auth, FX_AUTH_SIZE, "Bearer %s", text);
	return k.id;
}

int64_t fx_node(struct fx *f, const char *name, int64_t user_id,
		const char *tags, int online, char *auth)
{
	struct store_node n = {.user_id = user_id, .online = online};
	struct store_tx *tx = NULL;
	char text[CRED_TEXT_SIZE], id[24];
	struct cred cr;
	int s = ++f->seq;

	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.public_key, sizeof(n.public_key), "key-%d", s);
	snprintf(n.ipv4, sizeof(n.ipv4), "100.64.%d.%d", s / 250, s % 250 + 1);
	snprintf(n.ipv6, sizeof(n.ipv6), "fd7a:115c:a1e0::%x", s);
	snprintf(n.tags, sizeof(n.tags), "%s", tags ? tags : "[]");
	snprintf(n.os, sizeof(n.os), "linux");
	snprintf(n.version, sizeof(n.version), "0.1.0");
	snprintf(n.endpoints, sizeof(n.endpoints), "[\"192.0.2.1:41641\"]");
	n.created_at = 1700000000;
	n.last_seen = online ? 1700000100 : 0;
	if (store_begin(f->st, STORE_WRITE, &tx) < 0)
		return -1;
	if (store_node_create(tx, &n) < 0)
		goto fail;
	if (auth) {
		snprintf(id, sizeof(id), "%" PRId64, n.id);
		if (cred_new(CRED_NODE, id, text, &cr) < 0)
			goto fail;
		snprintf(n.cred_hash, sizeof(n.cred_hash), "%s", cr.hash);
		if (store_node_update(tx, &n) < 0)
			goto fail;
	}
	if (store_commit(tx) < 0)
		return -1;
	if (auth)
		snprintf(auth, FX_AUTH_SIZE, "Bearer %s", text);
	return n.id;
fail:
	store_rollback(tx);
	return -1;
}

int64_t fx_route(struct fx *f, int64_t node_id, const char *prefix,
		 int approved)
{
	struct store_route r = {.node_id = node_id, .advertised = 1,
				.approved = approved, .created_at = 1700000000};
	struct store_tx *tx = NULL;

	snprintf(r.prefix, sizeof(r.prefix), "%s", prefix);
	if (store_begin(f->st, STORE_WRITE, &tx) < 0)
		return -1;
	if (store_route_create(tx, &r) < 0) {
		store_rollback(tx);
		return -1;
	}
	return store_commit(tx) < 0 ? -1 : r.id;
}

struct audit_find {
	const char *target_id;
	struct store_audit last;
	int n;
};

static int audit_cb(void *ctx, const struct store_audit *a)
{
	struct audit_find *af = ctx;

	if (af->target_id && strcmp(a->target_id, af->target_id) != 0)
		return 0;
	af->last = *a;
	af->n++;
	return 0;
}

int fx_audit_count(struct fx *f, const char *action, const char *target_id,
		   struct store_audit *last)
{
	struct store_audit_filter af = {.action = action};
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct audit_find find = {.target_id = target_id};
	struct store_tx *tx = NULL;
	int64_t next = 0;

	if (store_begin(f->st, STORE_READ, &tx) < 0)
		return -1;
	do {
		if (store_audit_list(tx, &af, &pg, audit_cb, &find, &next) < 0) {
			find.n = -1;
			break;
		}
		pg.after = next;
	} while (next);
	store_rollback(tx);
	if (last)
		*last = find.last;
	return find.n;
}

int64_t fx_netmap_version(struct fx *f)
{
	struct store_tx *tx = NULL;
	int64_t v = -1;

	if (store_begin(f->st, STORE_READ, &tx) == 0)
		store_netmap_version(tx, &v);
	store_rollback(tx);
	return v;
}
