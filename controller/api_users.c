/* /api/v1/users: people who own nodes and API keys. Admin only. */
#include "controller/api.h"

#include "controller/passwd.h"
#include "controller/valid.h"
#include "shared/err.h"
#include "shared/jsonx.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Empty, or local@domain without spaces or control characters. Deliberately
 * loose: the address is shown to admins, never used to send mail. */
static bool valid_email(const char *s)
{
	const char *at = strchr(s, '@');

	if (!*s)
		return true;
	if (!at || at == s || !at[1] || strchr(at + 1, '@'))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool valid_role(const char *s)
{
	return strcmp(s, "admin") == 0 || strcmp(s, "member") == 0;
}

/* has_password starts false; mark_passwords() sets it from the store. */
static json_t *user_json(const struct store_user *u)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:o}", "id",
			 (json_int_t)u->id, "name", u->name, "display_name",
			 u->display_name, "email", u->email, "role", u->role,
			 "has_password", 0, "created_at",
			 api_time_json(u->created_at));
}

struct pw_mark {
	json_t *items;
	size_t i;
};

/* Items are in id order, like the ids the store reports. */
static int mark_one(void *ctx, int64_t id)
{
	struct pw_mark *m = ctx;
	json_t *o;

	for (; m->i < json_array_size(m->items); m->i++) {
		o = json_array_get(m->items, m->i);
		if (json_integer_value(json_object_get(o, "id")) == id)
			return json_object_set_new(o, "has_password",
						   json_true()) < 0
				       ? WEFT_ERR_NOMEM
				       : 0;
	}
	return 0;
}

/* Sets has_password on the user objects in items (an array in id order)
 * whose user has a password. Only whether one is set leaves the store. */
static int mark_passwords(struct store_tx *tx, json_t *items)
{
	struct pw_mark m = {items, 0};
	size_t n = json_array_size(items);

	if (!n)
		return 0;
	return store_user_password_ids(
		tx, json_integer_value(json_object_get(json_array_get(items, 0), "id")),
		json_integer_value(json_object_get(json_array_get(items, n - 1), "id")),
		mark_one, &m);
}

/* user_json() with has_password from the store; NULL when out of memory,
 * *rc the store's error. */
static json_t *user_json_tx(struct store_tx *tx, const struct store_user *u,
			    int *rc)
{
	json_t *one = json_array(), *o = user_json(u);

	*rc = WEFT_ERR_NOMEM;
	if (one && o && json_array_append(one, o) == 0)
		*rc = mark_passwords(tx, one);
	json_decref(one);
	if (*rc < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Checks the fields that create and update share; returns the bad field's
 * name or NULL. */
static const char *bad_field(const char *email, const char *role,
			     const char **msg)
{
	if (email && !valid_email(email)) {
		*msg = "email must look like name@example.com";
		return "email";
	}
	if (role && !valid_role(role)) {
		*msg = "role must be \"admin\" or \"member\"";
		return "role";
	}
	return NULL;
}

static void h_create_user(struct api_call *c)
{
	const char *name = NULL, *display = "", *email = "", *role = "member";
	const struct jsonx_field f[] = {
		{"name", JSONX_STRING, true, 1, STORE_NAME_SIZE - 1, 0, &name, NULL},
		{"display_name", JSONX_STRING, false, 0, STORE_DISPLAY_SIZE - 1, 0,
		 &display, NULL},
		{"email", JSONX_STRING, false, 0, STORE_EMAIL_SIZE - 1, 0, &email,
		 NULL},
		{"role", JSONX_STRING, false, 0, STORE_ROLE_SIZE - 1, 0, &role, NULL},
	};
	struct store_user u = {.created_at = c->now}, old;
	struct store_tx *tx = NULL;
	const char *msg = NULL, *field = NULL;
	char text[160], id[24];
	json_t *body, *detail = NULL;
	int rc;

	body = api_read_body(c, f, sizeof(f) / sizeof(f[0]));
	if (!body)
		return;
	if (!valid_name(name)) {
		msg = "name must be 1-63 characters of a-z 0-9 . _ - starting with a letter or digit";
		field = "name";
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	field = bad_field(email, role, &msg);
	if (field) {
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.display_name, sizeof(u.display_name), "%s", display);
	snprintf(u.email, sizeof(u.email), "%s", email);
	snprintf(u.role, sizeof(u.role), "%s", role);

	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = store_user_get_by_name(tx, u.name, &old);
	if (rc == 0) {
		snprintf(text, sizeof(text), "a user named %s exists", u.name);
		msg = text;
		field = "name";
		rc = WEFT_ERR_EXISTS;
		goto out;
	}
	if (rc != WEFT_ERR_NOTFOUND)
		goto out;
	rc = store_user_create(tx, &u);
	if (rc == WEFT_ERR_EXISTS) {
		snprintf(text, sizeof(text), "a user named %s exists", u.name);
		msg = text;
		field = "name";
	}
	if (rc < 0)
		goto out;
	snprintf(id, sizeof(id), "%" PRId64, u.id);
	detail = json_pack("{s:s, s:s}", "name", u.name, "role", u.role);
	rc = detail ? api_audit(c, tx, "user.create", "user", id, detail)
		    : WEFT_ERR_NOMEM;
	if (rc < 0)
		goto out;
	rc = store_commit(tx);
	tx = NULL;
	if (rc < 0)
		goto out;
	http_resp_json(c->resp, 201, user_json(&u));
out:
	if (rc < 0) {
		store_rollback(tx);
		api_fail(c, rc, msg, field);
	}
	json_decref(detail);
	json_decref(body);
}

static int add_user(void *ctx, const struct store_user *u)
{
	return json_array_append_new(ctx, user_json(u)) < 0 ? WEFT_ERR_NOMEM : 0;
}

static int list_users(struct store_tx *tx, const void *filter,
		      const struct store_page *pg, json_t *items, int64_t *next)
{
	int rc = store_user_list(tx, filter, pg, add_user, items, next);

	return rc < 0 ? rc : mark_passwords(tx, items);
}

static void h_list_users(struct api_call *c)
{
	struct store_user_filter f = {.name = http_query(c->req, "name")};
	struct store_page pg;

	if (!api_page(c, &pg))
		return;
	api_list(c, &pg, list_users, &f);
}

/* Loads user id into *u. Returns store_user_get's code; on NOTFOUND also
 * writes a message naming the id into msg (cap bytes). */
static int get_user(struct store_tx *tx, int64_t id, struct store_user *u,
		    char *msg, size_t cap)
{
	int rc = store_user_get(tx, id, u);

	if (rc == WEFT_ERR_NOTFOUND)
		snprintf(msg, cap, "no user with id %" PRId64, id);
	return rc;
}

static int load_user(struct api_call *c, struct store_tx *tx, int64_t id,
		     json_t **out)
{
	struct store_user u;
	int rc = store_user_get(tx, id, &u);

	(void)c;
	if (rc == 0)
		*out = user_json_tx(tx, &u, &rc);
	return rc;
}

static void h_get_user(struct api_call *c)
{
	api_get_by_id(c, "user", load_user);
}

static void h_update_user(struct api_call *c)
{
	const char *display = NULL, *email = NULL, *role = NULL;
	const struct jsonx_field f[] = {
		{"display_name", JSONX_STRING, false, 0, STORE_DISPLAY_SIZE - 1, 0,
		 &display, NULL},
		{"email", JSONX_STRING, false, 0, STORE_EMAIL_SIZE - 1, 0, &email,
		 NULL},
		{"role", JSONX_STRING, false, 0, STORE_ROLE_SIZE - 1, 0, &role, NULL},
	};
	struct store_user u;
	struct store_tx *tx = NULL;
	const char *msg = NULL, *field = NULL;
	char text[80] = "";
	json_t *body, *detail = NULL, *answer = NULL;
	int64_t id;
	int rc;

	if (!api_param_id(c, 0, &id))
		return;
	body = api_read_body(c, f, sizeof(f) / sizeof(f[0]));
	if (!body)
		return;
	field = bad_field(email, role, &msg);
	if (field) {
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = get_user(tx, id, &u, text, sizeof(text));
	if (rc == WEFT_ERR_NOTFOUND) {
		msg = text;
		field = "id";
	}
	if (rc < 0)
		goto out;
	detail = json_object();
	if (!detail) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	if (display) {
		snprintf(u.display_name, sizeof(u.display_name), "%s", display);
		json_object_set_new(detail, "display_name", json_string(display));
	}
	if (email) {
		snprintf(u.email, sizeof(u.email), "%s", email);
		json_object_set_new(detail, "email", json_string(email));
	}
	if (role && strcmp(role, u.role) != 0) {
		snprintf(u.role, sizeof(u.role), "%s", role);
		json_object_set_new(detail, "role", json_string(role));
		/* A session must not outlive the role it was opened with. */
		rc = store_session_delete_user(tx, u.id, NULL);
		if (rc < 0)
			goto out;
	}
	rc = store_user_update(tx, &u);
	if (rc < 0)
		goto out;
	answer = user_json_tx(tx, &u, &rc);
	if (rc < 0)
		goto out;
	rc = api_commit_audited(c, tx, "user.update", "user", u.id, detail);
	tx = NULL;
	if (rc < 0)
		goto out;
	http_resp_json(c->resp, 200, answer);
	answer = NULL;
out:
	if (rc < 0) {
		store_rollback(tx);
		api_fail(c, rc, msg, field);
	}
	json_decref(answer);
	json_decref(detail);
	json_decref(body);
}

static int count_row(void *ctx, const struct store_node *n)
{
	(void)n;
	++*(int *)ctx;
	return 0;
}

static void h_delete_user(struct api_call *c)
{
	struct store_node_filter nf = {.online = -1};
	struct store_page one = {.after = 0, .limit = 1};
	struct store_user u;
	struct store_tx *tx = NULL;
	const char *msg = NULL, *field = NULL;
	char text[160] = "";
	json_t *detail = NULL;
	int64_t id;
	int nodes = 0;
	int rc;

	if (!api_param_id(c, 0, &id))
		return;
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = get_user(tx, id, &u, text, sizeof(text));
	if (rc == WEFT_ERR_NOTFOUND) {
		msg = text;
		field = "id";
	}
	if (rc < 0)
		goto out;
	nf.user_id = u.id;
	rc = store_node_list(tx, &nf, &one, count_row, &nodes, NULL);
	if (rc < 0)
		goto out;
	snprintf(text, sizeof(text),
		 "user %s still owns nodes; delete them first", u.name);
	if (nodes) {
		msg = text;
		rc = WEFT_ERR_CONFLICT;
		goto out;
	}
	/* The store refuses too (foreign key) if a node appeared meanwhile. */
	rc = store_user_delete(tx, u.id);
	if (rc == WEFT_ERR_CONFLICT)
		msg = text;
	if (rc < 0)
		goto out;
	detail = json_pack("{s:s}", "name", u.name);
	if (!detail) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = api_commit_audited(c, tx, "user.delete", "user", u.id, detail);
	tx = NULL;
	if (rc < 0)
		goto out;
	http_resp_free(c->resp);
	c->resp->status = 204;
out:
	if (rc < 0) {
		store_rollback(tx);
		api_fail(c, rc, msg, field);
	}
	json_decref(detail);
}

/* PUT /api/v1/users/{id}/password {"password": "..."}: an admin for
 * anyone, a member for itself. Ends the user's sessions. */
/* Changing one's own password needs the current one when there is one:
 * a session or key left open somewhere must not be enough to lock its
 * owner out. A wrong one counts as a failed login (rate limit, audit).
 * Answers the error and returns false when the change must not go on. */
static bool own_password_ok(struct api_call *c, int64_t id, const char *cur)
{
	char stored[STORE_PWHASH_SIZE] = "", name[STORE_NAME_SIZE] = "";
	struct store_user u = {0};
	struct store_tx *tx = NULL;
	int rc;

	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc == 0)
		rc = store_user_get(tx, id, &u);
	if (rc == 0)
		rc = store_user_password_get(tx, id, stored);
	store_rollback(tx);
	if (rc < 0) {
		api_fail(c, rc, NULL, NULL);
		return false;
	}
	snprintf(name, sizeof(name), "%s", u.name);
	if (!stored[0])
		return true;
	if (!cur) {
		http_resp_error(c->resp, 400, "invalid",
				"give your current password to change it",
				"current_password");
		return false;
	}
	if (api_login_limited(c, name))
		goto refused;
	if (passwd_verify(stored, cur, strlen(cur)) < 0) {
		api_login_failed(c, name, "wrong current password");
		http_resp_error(c->resp, 403, "forbidden",
				"the current password is wrong",
				"current_password");
		goto refused;
	}
	memset(stored, 0, sizeof(stored));
	return true;
refused:
	memset(stored, 0, sizeof(stored));
	return false;
}

static void h_set_password(struct api_call *c)
{
	const char *pw = NULL, *cur = NULL;
	const struct jsonx_field f[] = {
		{"password", JSONX_STRING, true, 0, PASSWD_MAX, 0, &pw, NULL},
		{"current_password", JSONX_STRING, false, 0, PASSWD_MAX, 0,
		 &cur, NULL},
	};
	char hash[PASSWD_HASH_SIZE] = "", text[80] = "";
	struct store_user u;
	struct store_tx *tx = NULL;
	const char *msg = NULL, *field = NULL;
	json_t *body = NULL, *detail = NULL;
	int64_t id, ended = 0;
	int rc;

	if (!api_param_id(c, 0, &id))
		return;
	if (!c->who.admin && c->who.user_id != id) {
		http_resp_error(c->resp, 403, "forbidden",
				"members may set only their own password",
				"id");
		return;
	}
	body = api_read_body(c, f, sizeof(f) / sizeof(f[0]));
	if (!body)
		return;
	if (!passwd_ok(pw, strlen(pw))) {
		msg = "password must be 8 to 1024 bytes";
		field = "password";
		rc = WEFT_ERR_INVAL;
		goto out;
	}
	if (c->who.user_id == id && !own_password_ok(c, id, cur))
		goto done;
	/* Hash before the transaction: argon2 takes its time and memory. */
	rc = passwd_hash(pw, strlen(pw), hash);
	if (rc < 0)
		goto out;
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = get_user(tx, id, &u, text, sizeof(text));
	if (rc == WEFT_ERR_NOTFOUND) {
		msg = text;
		field = "id";
	}
	if (rc < 0)
		goto out;
	rc = store_user_password_set(tx, u.id, hash);
	if (rc < 0)
		goto out;
	rc = store_session_delete_user(tx, u.id, &ended);
	if (rc < 0)
		goto out;
	detail = json_pack("{s:s, s:I}", "name", u.name, "sessions_ended",
			   (json_int_t)ended);
	if (!detail) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = api_commit_audited(c, tx, "user.set_password", "user", u.id,
				detail);
	tx = NULL;
	if (rc < 0)
		goto out;
	http_resp_free(c->resp);
	c->resp->status = 204;
out:
	if (rc < 0) {
		store_rollback(tx);
		api_fail(c, rc, msg, field);
	}
done:
	memset(hash, 0, sizeof(hash));
	json_decref(detail);
	json_decref(body); /* the password's only copy; jansson frees it */
}

const struct api_route api_users_routes[] = {
	{"POST", "/api/v1/users", API_AUTH_ADMIN, h_create_user},
	{"GET", "/api/v1/users", API_AUTH_ADMIN, h_list_users},
	{"GET", "/api/v1/users/{id}", API_AUTH_ADMIN, h_get_user},
	{"PATCH", "/api/v1/users/{id}", API_AUTH_ADMIN, h_update_user},
	{"DELETE", "/api/v1/users/{id}", API_AUTH_ADMIN, h_delete_user},
	{"PUT", "/api/v1/users/{id}/password", API_AUTH_USER, h_set_password},
	{0},
};
