#include "fx.h"

#include "check.h"
#include "shared/clock.h"
#include "shared/enc.h"
#include "shared/ip.h"
#include "shared/err.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <ctype.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long fx_req(struct ih *h, const char *method, const char *path,
	    const char *token, const char *body, json_t **json)
{
	json_t *j = NULL;
	long st = 0;

	if (json)
		*json = NULL;
	if (ih_call(h, method, path, token, body, &st, &j) < 0)
		return -1;
	if (json)
		*json = j;
	else
		json_decref(j);
	return st;
}

long fx_reqf(struct ih *h, const char *method, const char *path,
	     const char *token, json_t **json, const char *fmt, ...)
{
	char *body = NULL;
	va_list ap;
	long st;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&body, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	st = fx_req(h, method, path, token, body, json);
	free(body);
	return st;
}

json_t *fx_get(const json_t *obj, const char *path)
{
	char key[128];
	const char *p = path;
	json_t *cur = (json_t *)obj;

	while (cur && *p) {
		size_t n = strcspn(p, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		if (json_is_array(cur) && key[0] >= '0' && key[0] <= '9')
			cur = json_array_get(cur, (size_t)strtoul(key, NULL, 10));
		else
			cur = json_is_object(cur) ? json_object_get(cur, key)
						  : NULL;
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

const char *fx_str(const json_t *obj, const char *path)
{
	return json_string_value(fx_get(obj, path));
}

int64_t fx_int(const json_t *obj, const char *path)
{
	json_t *v = fx_get(obj, path);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

bool fx_is_null(const json_t *obj, const char *path)
{
	return json_is_null(fx_get(obj, path));
}

bool fx_is_true(const json_t *obj, const char *path)
{
	return json_is_true(fx_get(obj, path));
}

bool fx_time_near(const json_t *obj, const char *path, int64_t want,
		  int64_t slack)
{
	const char *s = fx_str(obj, path);
	int64_t t;

	if (!s || clock_parse_rfc3339(s, &t) < 0)
		return false;
	return t >= want - slack && t <= want + slack;
}

bool fx_in_prefix(const char *addr, const char *prefix)
{
	struct ip_addr a;
	struct ip_prefix p;

	return addr && ip_addr_parse(addr, &a) == 0 &&
	       ip_prefix_parse(prefix, &p, 0) == 0 &&
	       ip_prefix_contains(&p, &a);
}

bool fx_has_str(const json_t *arr, const char *s)
{
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *v = json_string_value(json_array_get(arr, i));

		if (v && strcmp(v, s) == 0)
			return true;
	}
	return false;
}

bool fx_has_id(const json_t *arr, int64_t id)
{
	for (size_t i = 0; i < json_array_size(arr); i++)
		if (fx_int(json_array_get(arr, i), "id") == id)
			return true;
	return false;
}

int64_t fx_user(struct ih *h, const char *token, const char *name,
		const char *role)
{
	json_t *j = NULL;
	int64_t id = -1;
	long st;

	if (role)
		st = fx_reqf(h, "POST", "/api/v1/users", token, &j,
			     "{\"name\":\"%s\",\"role\":\"%s\"}", name, role);
	else
		st = fx_reqf(h, "POST", "/api/v1/users", token, &j,
			     "{\"name\":\"%s\"}", name);
	if (st == 201)
		id = fx_int(j, "id");
	json_decref(j);
	return id;
}

static int64_t created_key(long st, json_t *j, const char *kind,
			   char key[FX_KEY_SIZE])
{
	const char *k = fx_str(j, "key");
	int64_t id = -1;

	if (st == 201 && k && strncmp(k, kind, strlen(kind)) == 0 &&
	    strlen(k) < FX_KEY_SIZE) {
		snprintf(key, FX_KEY_SIZE, "%s", k);
		id = fx_int(j, "id");
	}
	json_decref(j);
	return id;
}

int64_t fx_apikey(struct ih *h, const char *token, int64_t user_id,
		  char key[FX_KEY_SIZE])
{
	json_t *j = NULL;
	long st;

	if (user_id)
		st = fx_reqf(h, "POST", "/api/v1/api-keys", token, &j,
			     "{\"user_id\":%" PRId64 "}", user_id);
	else
		st = fx_req(h, "POST", "/api/v1/api-keys", token, "{}", &j);
	return created_key(st, j, "weft_api_", key);
}

/* Declares the tags of an auth-key body in the policy's tagOwners, with
 * the key's user as an owner, when the current policy does not already
 * allow them, as an admin must before making such a key. Best effort: a
 * failure shows as the key's refusal. */
static void declare_key_tags(struct ih *h, const char *token, const char *body)
{
	json_t *b = json_loads(body, 0, NULL), *pol = NULL, *doc, *owners;
	json_t *tags = json_object_get(b, "tags"), *user = NULL, *t;
	const char *uname = NULL;
	bool changed = false;
	char path[64], *text = NULL;
	size_t i;

	if (!json_array_size(tags))
		goto out;
	if (json_integer_value(json_object_get(b, "user_id")) > 0) {
		snprintf(path, sizeof(path), "/api/v1/users/%" PRId64,
			 (int64_t)json_integer_value(json_object_get(b, "user_id")));
		if (fx_req(h, "GET", path, token, NULL, &user) == 200)
			uname = fx_str(user, "name");
	}
	if (fx_req(h, "GET", "/api/v1/policy", token, NULL, &pol) != 200)
		goto out;
	doc = json_object_get(pol, "document");
	if (!json_is_object(doc))
		goto out;
	owners = json_object_get(doc, "tagOwners");
	if (!owners) {
		owners = json_object();
		json_object_set_new(doc, "tagOwners", owners);
	}
	json_array_foreach(tags, i, t) {
		const char *tag = json_string_value(t);
		json_t *o = tag ? json_object_get(owners, tag) : NULL;

		if (!tag)
			continue;
		if (!o) {
			o = json_array();
			json_object_set_new(owners, tag, o);
			changed = true;
		}
		if (uname && !fx_has_str(o, uname)) {
			json_array_append_new(o, json_string(uname));
			changed = true;
		}
	}
	if (changed && (text = json_dumps(doc, JSON_COMPACT)))
		fx_policy(h, token, text, NULL);
out:
	free(text);
	json_decref(user);
	json_decref(pol);
	json_decref(b);
}

int64_t fx_authkey(struct ih *h, const char *token, const char *body,
		   char key[FX_KEY_SIZE])
{
	json_t *j = NULL;
	long st;

	if (!body)
		body = "{\"tags\":[\"tag:test\"]}";
	declare_key_tags(h, token, body);
	st = fx_req(h, "POST", "/api/v1/auth-keys", token, body, &j);
	return created_key(st, j, "weft_auth_", key);
}

int fx_pubkey(char out[FX_PUBKEY_SIZE])
{
	gnutls_privkey_t pk = NULL;
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x = {0};
	int rc;

	rc = gnutls_privkey_init(&pk);
	if (rc == 0)
		rc = gnutls_privkey_generate(pk, GNUTLS_PK_EDDSA_ED25519, 0, 0);
	if (rc == 0)
		rc = gnutls_privkey_export_ecc_raw2(pk, &curve, &x, NULL, NULL,
						    0);
	if (rc < 0 || x.size != 32) {
		rc = WEFT_ERR_CRYPTO;
		goto out;
	}
	rc = base64_encode(x.data, x.size, out, FX_PUBKEY_SIZE, false);
	if (rc > 0)
		rc = 0;
out:
	gnutls_free(x.data);
	gnutls_privkey_deinit(pk);
	return rc;
}

long fx_register(struct ih *h, const char *authkey, const char *hostname,
		 const char *routes, json_t **answer)
{
	char pub[FX_PUBKEY_SIZE];

	if (answer)
		*answer = NULL;
	if (fx_pubkey(pub) < 0)
		return -1;
	if (routes)
		return fx_reqf(h, "POST", "/api/v1/register", NULL, answer,
			       "{\"auth_key\":\"%s\",\"public_key\":\"%s\","
			       "\"hostname\":\"%s\",\"os\":\"linux\","
			       "\"version\":\"0.1.0\",\"advertised_routes\":%s}",
			       authkey, pub, hostname, routes);
	return fx_reqf(h, "POST", "/api/v1/register", NULL, answer,
		       "{\"auth_key\":\"%s\",\"public_key\":\"%s\","
		       "\"hostname\":\"%s\",\"os\":\"linux\","
		       "\"version\":\"0.1.0\"}",
		       authkey, pub, hostname);
}

long fx_node_register(struct ih *h, const char *authkey, const char *hostname,
		      struct fx_node *out)
{
	json_t *j = NULL;
	long st = fx_register(h, authkey, hostname, NULL, &j);

	memset(out, 0, sizeof(*out));
	out->id = fx_int(j, "node.id");
	snprintf(out->name, sizeof(out->name), "%s",
		 fx_str(j, "node.name") ? fx_str(j, "node.name") : "");
	snprintf(out->cred, sizeof(out->cred), "%s",
		 fx_str(j, "credential") ? fx_str(j, "credential") : "");
	json_decref(j);
	return st;
}

long fx_map(struct ih *h, struct fx_node *n, int64_t since, json_t **json)
{
	char path[96];
	json_t *j = NULL;
	long st;

	if (since >= 0)
		snprintf(path, sizeof(path), "/api/v1/map?since=%" PRId64, since);
	else
		snprintf(path, sizeof(path), "/api/v1/map");
	st = fx_req(h, "GET", path, n->cred, NULL, &j);
	if (st == 200 && fx_int(j, "version") > 0)
		n->version = fx_int(j, "version");
	if (json)
		*json = j;
	else
		json_decref(j);
	return st;
}

long fx_endpoints(struct ih *h, const struct fx_node *n, const char *ep)
{
	return fx_reqf(h, "POST", "/api/v1/endpoints", n->cred, NULL,
		       "{\"endpoints\":[\"%s\"]}", ep);
}

long fx_policy(struct ih *h, const char *token, const char *doc,
	       json_t **json)
{
	return fx_req(h, "PUT", "/api/v1/policy", token, doc, json);
}

bool fx_ids_are(const json_t *arr, const int64_t *ids)
{
	size_t n = 0;

	for (; ids[n]; n++)
		if (!fx_has_id(arr, ids[n]))
			return false;
	return json_is_array(arr) && json_array_size(arr) == n;
}

/* The id of a list item as text: ids are integers; audit rows too. */
static bool item_id(json_t *item, char *buf, size_t cap)
{
	json_t *id = json_object_get(item, "id");

	if (!json_is_integer(id))
		return false;
	snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
	return true;
}

json_t *fx_list_all(struct ih *h, const char *token, const char *path,
		    int limit, int *pages)
{
	json_t *all = json_array(), *seen = json_object();
	char cursor[64] = "", url[1024];
	int npages = 0;
	bool ok = all && seen;

	while (ok) {
		json_t *page = NULL, *items, *next;
		long st;

		if (cursor[0])
			snprintf(url, sizeof(url), "%s%climit=%d&cursor=%s",
				 path, strchr(path, '?') ? '&' : '?', limit,
				 cursor);
		else
			snprintf(url, sizeof(url), "%s%climit=%d", path,
				 strchr(path, '?') ? '&' : '?', limit);
		st = fx_req(h, "GET", url, token, NULL, &page);
		npages++;
		items = json_object_get(page, "items");
		next = json_object_get(page, "next_cursor");
		ok = check_report(st == 200 && json_is_array(items) &&
					  (json_is_null(next) ||
					   json_is_string(next)),
				  __FILE__, __LINE__,
				  "GET %s: status %ld, want 200 with items and "
				  "next_cursor", url, st);
		if (ok)
			ok = check_report(json_array_size(items) <=
						  (size_t)limit,
					  __FILE__, __LINE__,
					  "GET %s: %zu items over limit %d",
					  url, json_array_size(items), limit);
		if (ok && json_is_string(next))
			ok = check_report(json_array_size(items) == (size_t)limit,
					  __FILE__, __LINE__,
					  "GET %s: a short page (%zu items) "
					  "must be the last one",
					  url, json_array_size(items));
		for (size_t i = 0; ok && i < json_array_size(items); i++) {
			json_t *it = json_array_get(items, i);
			char id[32];

			ok = check_report(item_id(it, id, sizeof(id)) &&
						  !json_object_get(seen, id),
					  __FILE__, __LINE__,
					  "GET %s: item without id or seen "
					  "twice (%s)", url, id);
			if (ok) {
				json_object_set_new(seen, id, json_true());
				json_array_append(all, it);
			}
		}
		if (ok && json_is_string(next)) {
			snprintf(cursor, sizeof(cursor), "%s",
				 json_string_value(next));
			ok = check_report(npages < 10000, __FILE__, __LINE__,
					  "GET %s: pagination does not end",
					  path);
		} else if (ok) {
			json_decref(page);
			break;
		}
		json_decref(page);
	}
	json_decref(seen);
	if (!ok) {
		json_decref(all);
		return NULL;
	}
	if (pages)
		*pages = npages;
	return all;
}

int fx_audit_count(struct ih *h, const char *token, const char *action,
		   const char *target_type, const char *target_id)
{
	json_t *rows = fx_list_all(h, token, "/api/v1/audit", 1000, NULL);
	size_t alen = strlen(action);
	bool prefix = alen && action[alen - 1] == '.';
	int n = 0;

	if (!rows)
		return -1;
	for (size_t i = 0; i < json_array_size(rows); i++) {
		json_t *r = json_array_get(rows, i);
		const char *a = fx_str(r, "action");
		const char *tt = fx_str(r, "target_type");
		json_t *tid = json_object_get(r, "target_id");
		char idbuf[32];
		const char *ti = json_string_value(tid);

		if (json_is_integer(tid)) {
			snprintf(idbuf, sizeof(idbuf), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(tid));
			ti = idbuf;
		}
		if (!a || (prefix ? strncmp(a, action, alen) != 0
				  : strcmp(a, action) != 0))
			continue;
		if (target_type && (!tt || strcmp(tt, target_type) != 0))
			continue;
		if (target_id && (!ti || strcmp(ti, target_id) != 0))
			continue;
		n++;
	}
	json_decref(rows);
	return n;
}

int fx_sql(struct ih *h, const char *sql)
{
	int rc = WEFT_ERR_DB;

	if (strncmp(h->db_url, "sqlite://", 9) == 0) {
		sqlite3 *db = NULL;

		if (sqlite3_open(h->db_url + 9, &db) == SQLITE_OK) {
			sqlite3_busy_timeout(db, 10000);
			if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
				rc = 0;
			else
				fprintf(stderr, "fx_sql: %s\n",
					sqlite3_errmsg(db));
		}
		sqlite3_close(db);
	} else {
		PGconn *c = PQconnectdb(h->db_url);
		PGresult *r = NULL;

		if (PQstatus(c) == CONNECTION_OK) {
			r = PQexec(c, sql);
			if (PQresultStatus(r) == PGRES_COMMAND_OK)
				rc = 0;
		}
		if (rc < 0)
			fprintf(stderr, "fx_sql: %s", PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
	}
	return rc;
}

bool fx_pem_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a && isspace((unsigned char)*a))
			a++;
		while (*b && isspace((unsigned char)*b))
			b++;
		if (*a != *b)
			return false;
		if (!*a)
			return true;
		a++;
		b++;
	}
}

const char *fx_write_file(const char *name, const char *text)
{
	static char path[4][600];
	static int k;
	char *p = path[k++ % 4];
	FILE *f;

	snprintf(p, sizeof(path[0]), "%s/%s", check_tmpdir(), name);
	f = fopen(p, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	return fclose(f) == 0 ? p : NULL;
}
