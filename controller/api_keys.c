/* /api/v1/auth-keys (keys that register nodes) and /api/v1/api-keys (keys
 * that call the API). Secrets are made by cred_new(), shown once in the
 * create answer and stored only as hashes; "deleting" a key revokes it so
 * that its audit trail and the nodes it registered keep a meaning. */
#include "controller/api.h"

#include "controller/cred.h"
#include "controller/tagown.h"
#include "controller/valid.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/jsonx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAGS_MAX 16
#define EXPIRES_IN_MAX_S (365 * 86400LL)
#define AUTHKEY_DEFAULT_EXPIRES_IN "24h"

/* --- helpers --- */

/* Validates tags and builds a JSON array of them without duplicates (first
 * occurrence kept). Returns 0 with a new reference in *out, WEFT_ERR_INVAL
 * with msg and field ("tags[i]") written, or WEFT_ERR_NOMEM. */
static int tags_array(const struct jsonx_strings *tags, json_t **out,
		      char *msg, size_t msglen, char *field, size_t fieldlen)
{
	json_t *arr = json_array();
	size_t i, j;

	if (!arr)
		return WEFT_ERR_NOMEM;
	for (i = 0; i < tags->n; i++) {
		if (!valid_tag(tags->items[i])) {
			snprintf(field, fieldlen, "tags[%zu]", i);
			snprintf(msg, msglen, VALID_TAG_MESSAGE, field);
			json_decref(arr);
			return WEFT_ERR_INVAL;
		}
		for (j = 0; j < i; j++)
			if (strcmp(tags->items[i], tags->items[j]) == 0)
				break;
		if (j == i &&
		    json_array_append_new(arr, json_string(tags->items[i])) < 0) {
			json_decref(arr);
			return WEFT_ERR_NOMEM;
		}
	}
	*out = arr;
	return 0;
}

/* Turns an expires_in duration into an absolute time. Returns 0,
 * WEFT_ERR_INVAL or WEFT_ERR_RANGE with *msg set. */
static int expires_at(const char *text, int64_t now, int64_t *out,
		      const char **msg)
{
	int64_t ms;
	int rc = clock_parse_duration(text, &ms);

	if (rc == WEFT_ERR_PARSE) {
		*msg = "expires_in must be a duration such as \"90m\", \"24h\" or \"30d\"";
		return WEFT_ERR_INVAL;
	}
	if (rc < 0 || ms < 1000 || ms / 1000 > EXPIRES_IN_MAX_S) {
		*msg = "expires_in must be from 1s to 365d";
		return WEFT_ERR_RANGE;
	}
	*out = now + ms / 1000;
	return 0;
}

/* The user a key is being created for must exist. */
static int check_user(struct store_tx *tx, int64_t user_id, char *msg,
		      size_t cap)
{
	struct store_user u;
	int rc;

	if (!user_id)
		return 0;
	rc = store_user_get(tx, user_id, &u);
	if (rc == WEFT_ERR_NOTFOUND) {
		snprintf(msg, cap, "no user with id %" PRId64, user_id);
		return WEFT_ERR_INVAL;
	}
	return rc;
}

/* --- auth keys --- */

static bool authkey_usable(const struct store_authkey *k, int64_t now)
{
	return !k->revoked_at && !(k->expires_at && k->expires_at <= now) &&
	       (k->reusable || k->used_count == 0);
}

static json_t *authkey_json(const struct store_authkey *k, int64_t now)
{
	json_t *tags = json_loads(k->tags, JSON_REJECT_DUPLICATES, NULL);

	if (!json_is_array(tags)) {
		json_decref(tags);
		tags = json_array();
	}
	return json_pack("{s:I, s:s, s:o, s:b, s:b, s:o, s:o, s:o, s:I, s:o, s:b}",
			 "id", (json_int_t)k->id, "prefix", k->prefix,
			 "user_id", api_id_json(k->user_id), "reusable", k->reusable,
			 "ephemeral", k->ephemeral, "tags", tags, "expires_at",
			 api_time_json(k->expires_at), "revoked_at",
			 api_time_json(k->revoked_at), "used_count",
			 (json_int_t)k->used_count, "created_at",
			 api_time_json(k->created_at), "usable",
			 authkey_usable(k, now));
}

static void h_create_authkey(struct api_call *c)
{
	int64_t user_id = 0;
	bool has_user = false, has_tags = false, reusable = false,
	     ephemeral = false;
	struct jsonx_strings tags = {0};
	const char *expires_in = AUTHKEY_DEFAULT_EXPIRES_IN;
	const struct jsonx_field f[] = {
		{"user_id", JSONX_INT, false, 1, INT64_MAX, 0, &user_id, &has_user},
		{"reusable", JSONX_BOOL, false, 0, 0, 0, &reusable, NULL},
		{"ephemeral", JSONX_BOOL, false, 0, 0, 0, &ephemeral, NULL},
		{"tags", JSONX_STRING_ARRAY, false, 0, TAGS_MAX, VALID_TAG_MAX,
		 &tags, &has_tags},
		{"expires_in", JSONX_STRING, false, 1, 32, 0, &expires_in, NULL},
	};
	struct store_authkey k = {.created_at = c->now};
	struct store_tx *tx = NULL;
	const char *msg = NULL, *field = NULL;
	char text[CRED_TEXT_SIZE] = "", umsg[160], tagfield[32], idtext[24];
	char tagmsg[320];
	json_t *body, *tagarr = NULL, *detail = NULL, *answer;
	char *tagtext = NULL;
	struct cred cr;
	int rc;

	body = api_read_body(c, f, sizeof(f) / sizeof(f[0]));
	if (!body)
		return;
	rc = tags_array(&tags, &tagarr, umsg, sizeof(umsg), tagfield,
			sizeof(tagfield));
	if (rc == WEFT_ERR_INVAL) {
		msg = umsg;
		field = tagfield;
	}
	if (rc < 0)
		goto out;
	field = "expires_in";
	rc = expires_at(expires_in, c->now, &k.expires_at, &msg);
	if (rc < 0)
		goto out;
	field = NULL;
	if (!c->who.admin) {
		/* Members act for themselves only, and tags are an admin's
		 * call: a tag can grant access the member does not have. */
		if (has_user && user_id != c->who.user_id) {
			msg = "members may only create auth keys for themselves";
			field = "user_id";
			rc = WEFT_ERR_FORBIDDEN;
			goto out;
		}
		if (json_array_size(tagarr)) {
			msg = "only admins may create tagged auth keys";
			field = "tags";
			rc = WEFT_ERR_FORBIDDEN;
			goto out;
		}
		user_id = c->who.user_id;
	} else if (!has_user && !json_array_size(tagarr)) {
		msg = "an auth key without user_id registers tagged nodes and needs at least one tag";
		field = "tags";
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	tagtext = json_dumps(tagarr, JSON_COMPACT);
	if (!tagtext) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	if (strlen(tagtext) >= sizeof(k.tags)) {
		msg = "tags are too long";
		field = "tags";
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	memcpy(k.tags, tagtext, strlen(tagtext) + 1);
	k.user_id = user_id;
	k.reusable = reusable;
	k.ephemeral = ephemeral;

	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = check_user(tx, user_id, umsg, sizeof(umsg));
	if (rc == WEFT_ERR_INVAL) {
		msg = umsg;
		field = "user_id";
	}
	if (rc < 0)
		goto out;
	rc = tagown_check(tx, user_id, tagarr, tagmsg, sizeof(tagmsg), tagfield,
			  sizeof(tagfield));
	if (rc == WEFT_ERR_INVAL) {
		msg = tagmsg;
		field = tagfield;
	}
	if (rc < 0)
		goto out;
	rc = cred_new(CRED_AUTH, NULL, text, &cr);
	if (rc < 0)
		goto out;
	snprintf(k.prefix, sizeof(k.prefix), "%s", cr.id);
	snprintf(k.hash, sizeof(k.hash), "%s", cr.hash);
	rc = store_authkey_create(tx, &k);
	if (rc < 0)
		goto out;
	snprintf(idtext, sizeof(idtext), "%" PRId64, k.id);
	detail = json_pack("{s:o, s:b, s:b, s:O, s:o}", "user_id",
			   api_id_json(k.user_id), "reusable", k.reusable,
			   "ephemeral", k.ephemeral, "tags", tagarr,
			   "expires_at", api_time_json(k.expires_at));
	rc = detail ? api_audit(c, tx, "authkey.create", "authkey", idtext,
				detail)
		    : WEFT_ERR_NOMEM;
	if (rc < 0)
		goto out;
	rc = store_commit(tx);
	tx = NULL;
	if (rc < 0)
		goto out;
	answer = authkey_json(&k, c->now);
	if (answer && json_object_set_new(answer, "key", json_string(text)) < 0) {
		json_decref(answer);
		answer = NULL;
	}
	http_resp_json(c->resp, 201, answer);
out:
	if (rc < 0) {
		store_rollback(tx);
		api_fail(c, rc, msg, field);
	}
	memset(text, 0, sizeof(text));
	free(tagtext);
	free(tags.items);
	json_decref(detail);
	json_decref(tagarr);
	json_decref(body);
}

struct authkey_list {
	json_t *items;
	int64_t now;
};

static int add_authkey(void *ctx, const struct store_authkey *k)
{
	struct authkey_list *l = ctx;

	return json_array_append_new(l->items, authkey_json(k, l->now)) < 0
		       ? WEFT_ERR_NOMEM
		       : 0;
}

static void h_list_authkeys(struct api_call *c)
{
	struct store_authkey_filter kf = {0};
	struct authkey_list l = {.now = c->now};
	struct store_page pg;
	struct store_tx *tx = NULL;
	int64_t next = 0;
	int rc;

	if (!api_page(c, &pg) || !api_query_id(c, "user_id", &kf.user_id) ||
	    !api_query_bool(c, "include_revoked", &kf.include_revoked))
		return;
	if (!c->who.admin) {
		if (kf.user_id && kf.user_id != c->who.user_id) {
			http_resp_error(c->resp, 403, "forbidden",
					"members may only list their own auth keys",
					"user_id");
			return;
		}
		kf.user_id = c->who.user_id;
	}
	l.items = json_array();
	if (!l.items) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0)
		goto out;
	rc = store_authkey_list(tx, &kf, &pg, add_authkey, &l, &next);
	if (rc < 0)
		goto out;
	http_resp_json(c->resp, 200, api_list_body(l.items, next));
	l.items = NULL;
out:
	store_rollback(tx);
	json_decref(l.items);
	if (rc < 0)
		api_fail(c, rc, NULL, NULL);
}

/* Loads auth key id as the caller may see it: a member sees only their own
 * keys, and someone else's key is "not found" so that its existence is not
 * revealed. On NOTFOUND writes a message naming the id into msg. */
static int get_authkey(struct api_call *c, struct store_tx *tx, int64_t id,
		       struct store_authkey *k, char *msg, size_t cap)
{
	struct store_authkey got;
	int rc = store_authkey_get(tx, id, &got);

	if (rc == 0 && !c->who.admin && got.user_id != c->who.user_id)
		rc = WEFT_ERR_NOTFOUND;
	if (rc == WEFT_ERR_NOTFOUND)
		snprintf(msg, cap, "no auth key with id %" PRId64, id);
	if (rc == 0)
		*k = got;
	return rc;
}

static int load_authkey(struct api_call *c, struct store_tx *tx, int64_t id,
			json_t **out)
{
	struct store_authkey k;
	char msg[80];
	int rc = get_authkey(c, tx, id, &k, msg, sizeof(msg));

	if (rc == 0)
		*out = authkey_json(&k, c->now);
	return rc;
}

static void h_get_authkey(struct api_call *c)
{
	api_get_by_id(c, "auth key", load_authkey);
}

static void h_revoke_authkey(struct api_call *c)
{
	struct store_authkey k;
	struct store_tx *tx = NULL;
	char msg[80] = "", idtext[24];
	int64_t id;
	int rc;

	if (!api_param_id(c, 0, &id))
		return;
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = get_authkey(c, tx, id, &k, msg, sizeof(msg));
	if (rc < 0)
		goto out;
	/* Revoking twice changes nothing and writes no second audit row. */
	if (!k.revoked_at) {
		k.revoked_at = c->now;
		rc = store_authkey_update(tx, &k);
		if (rc < 0)
			goto out;
		snprintf(idtext, sizeof(idtext), "%" PRId64, k.id);
		rc = api_audit(c, tx, "authkey.revoke", "authkey", idtext, NULL);
		if (rc < 0)
			goto out;
	}
	rc = store_commit(tx);
	tx = NULL;
	if (rc < 0)
		goto out;
	http_resp_json(c->resp, 200, authkey_json(&k, c->now));
out:
	if (rc < 0) {
		store_rollback(tx);
		api_fail(c, rc, msg[0] ? msg : NULL, msg[0] ? "id" : NULL);
	}
}

/* --- API keys --- */

static json_t *apikey_json(const struct store_apikey *k)
{
	return json_pack("{s:I, s:s, s:o, s:s, s:o, s:o, s:o, s:o}", "id",
			 (json_int_t)k->id, "prefix", k->prefix, "user_id",
			 api_id_json(k->user_id), "description", k->description,
			 "expires_at", api_time_json(k->expires_at), "revoked_at",
			 api_time_json(k->revoked_at), "last_used_at",
			 api_time_json(k->last_used_at), "created_at",
			 api_time_json(k->created_at));
}

static void h_create_apikey(struct api_call *c)
{
	int64_t user_id = 0;
	const char *description = "", *expires_in = NULL;
	const struct jsonx_field f[] = {
		{"user_id", JSONX_INT, false, 1, INT64_MAX, 0, &user_id, NULL},
		{"description", JSONX_STRING, false, 0, STORE_DESC_SIZE - 1, 0,
		 &description, NULL},
		{"expires_in", JSONX_STRING, false, 1, 32, 0, &expires_in, NULL},
	};
	struct store_apikey k = {.created_at = c->now};
	struct store_tx *tx = NULL;
	const char *msg = NULL, *field = NULL;
	char text[CRED_TEXT_SIZE] = "", umsg[80], idtext[24];
	json_t *body, *detail = NULL, *answer;
	struct cred cr;
	int rc = 0;

	body = api_read_body(c, f, sizeof(f) / sizeof(f[0]));
	if (!body)
		return;
	if (expires_in) {
		field = "expires_in";
		rc = expires_at(expires_in, c->now, &k.expires_at, &msg);
		if (rc < 0)
			goto out;
		field = NULL;
	}
	k.user_id = user_id;
	snprintf(k.description, sizeof(k.description), "%s", description);
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = check_user(tx, user_id, umsg, sizeof(umsg));
	if (rc == WEFT_ERR_INVAL) {
		msg = umsg;
		field = "user_id";
	}
	if (rc < 0)
		goto out;
	rc = cred_new(CRED_API, NULL, text, &cr);
	if (rc < 0)
		goto out;
	snprintf(k.prefix, sizeof(k.prefix), "%s", cr.id);
	snprintf(k.hash, sizeof(k.hash), "%s", cr.hash);
	rc = store_apikey_create(tx, &k);
	if (rc < 0)
		goto out;
	snprintf(idtext, sizeof(idtext), "%" PRId64, k.id);
	detail = json_pack("{s:o, s:s, s:o}", "user_id", api_id_json(k.user_id),
			   "description", k.description, "expires_at",
			   api_time_json(k.expires_at));
	rc = detail ? api_audit(c, tx, "apikey.create", "apikey", idtext,
				detail)
		    : WEFT_ERR_NOMEM;
	if (rc < 0)
		goto out;
	rc = store_commit(tx);
	tx = NULL;
	if (rc < 0)
		goto out;
	answer = apikey_json(&k);
	if (answer && json_object_set_new(answer, "key", json_string(text)) < 0) {
		json_decref(answer);
		answer = NULL;
	}
	http_resp_json(c->resp, 201, answer);
out:
	if (rc < 0) {
		store_rollback(tx);
		api_fail(c, rc, msg, field);
	}
	memset(text, 0, sizeof(text));
	json_decref(detail);
	json_decref(body);
}

static int add_apikey(void *ctx, const struct store_apikey *k)
{
	return json_array_append_new(ctx, apikey_json(k)) < 0 ? WEFT_ERR_NOMEM
							     : 0;
}

static int list_apikeys(struct store_tx *tx, const void *filter,
			const struct store_page *pg, json_t *items,
			int64_t *next)
{
	return store_apikey_list(tx, filter, pg, add_apikey, items, next);
}

static void h_list_apikeys(struct api_call *c)
{
	struct store_apikey_filter kf = {0};
	struct store_page pg;

	if (!api_page(c, &pg) || !api_query_id(c, "user_id", &kf.user_id))
		return;
	api_list(c, &pg, list_apikeys, &kf);
}

static int get_apikey(struct store_tx *tx, int64_t id, struct store_apikey *k,
		      char *msg, size_t cap)
{
	int rc = store_apikey_get(tx, id, k);

	if (rc == WEFT_ERR_NOTFOUND)
		snprintf(msg, cap, "no API key with id %" PRId64, id);
	return rc;
}

static int load_apikey(struct api_call *c, struct store_tx *tx, int64_t id,
		       json_t **out)
{
	struct store_apikey k;
	int rc = store_apikey_get(tx, id, &k);

	(void)c;
	if (rc == 0)
		*out = apikey_json(&k);
	return rc;
}

static void h_get_apikey(struct api_call *c)
{
	api_get_by_id(c, "API key", load_apikey);
}

static void h_revoke_apikey(struct api_call *c)
{
	struct store_apikey k;
	struct store_tx *tx = NULL;
	char msg[80] = "", idtext[24];
	int64_t id;
	int rc;

	if (!api_param_id(c, 0, &id))
		return;
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = get_apikey(tx, id, &k, msg, sizeof(msg));
	if (rc < 0)
		goto out;
	if (!k.revoked_at) {
		k.revoked_at = c->now;
		rc = store_apikey_update(tx, &k);
		if (rc < 0)
			goto out;
		snprintf(idtext, sizeof(idtext), "%" PRId64, k.id);
		rc = api_audit(c, tx, "apikey.revoke", "apikey", idtext, NULL);
		if (rc < 0)
			goto out;
	}
	rc = store_commit(tx);
	tx = NULL;
	if (rc < 0)
		goto out;
	http_resp_json(c->resp, 200, apikey_json(&k));
out:
	if (rc < 0) {
		store_rollback(tx);
		api_fail(c, rc, msg[0] ? msg : NULL, msg[0] ? "id" : NULL);
	}
}

const struct api_route api_keys_routes[] = {
	{"POST", "/api/v1/auth-keys", API_AUTH_USER, h_create_authkey},
	{"GET", "/api/v1/auth-keys", API_AUTH_USER, h_list_authkeys},
	{"GET", "/api/v1/auth-keys/{id}", API_AUTH_USER, h_get_authkey},
	{"DELETE", "/api/v1/auth-keys/{id}", API_AUTH_USER, h_revoke_authkey},
	{"POST", "/api/v1/api-keys", API_AUTH_ADMIN, h_create_apikey},
	{"GET", "/api/v1/api-keys", API_AUTH_ADMIN, h_list_apikeys},
	{"GET", "/api/v1/api-keys/{id}", API_AUTH_ADMIN, h_get_apikey},
	{"DELETE", "/api/v1/api-keys/{id}", API_AUTH_ADMIN, h_revoke_apikey},
	{0},
};
