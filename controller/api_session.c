/* /api/v1/session: browser sessions. POST logs in with a user's password
 * or an API key and sets the session cookie, GET says who the caller is,
 * DELETE logs out. The cookie authenticates every other route as the
 * user (or key) would (api.c), under the CSRF rule of api_csrf_ok().
 *
 * A session lives SESSION_TTL_S at most and ends after SESSION_IDLE_S
 * without use; it ends too at logout, when its user or API key is
 * deleted, and when the user's password or role changes. Login failures
 * are rate limited per user name and per client address and audited as
 * session.login_failed (never with the password). */
#include "controller/api.h"

#include "controller/cookie.h"
#include "controller/cred.h"
#include "controller/passwd.h"
#include "controller/ratelimit.h"
#include "shared/err.h"
#include "shared/ip.h"
#include "shared/jsonx.h"
#include "shared/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SESSION_TTL_S (12 * 3600)
#define SESSION_IDLE_S 3600
/* last_used_at is written at most this often. */
#define SESSION_TOUCH_S 60

#define COOKIE_ATTRS "; Path=/; Secure; HttpOnly; SameSite=Strict"

static bool same_text(const char *a, const char *b, size_t n)
{
	return strlen(a) == n && strncasecmp(a, b, n) == 0;
}

/* Does origin ("scheme://host[:port]") name this controller? */
static bool origin_ok(struct api_call *c, const char *origin)
{
	const char *pub = api_options(c->api)->public_url;
	const char *host = c->req->host;

	if (pub) {
		const char *p = strstr(pub, "://");
		size_t n = p ? (size_t)(p + 3 - pub) + strcspn(p + 3, "/")
			     : 0;

		if (n && same_text(origin, pub, n))
			return true;
	}
	if (!host || !*host)
		return false;
	if (strncasecmp(origin, "https://", 8) == 0)
		return strcasecmp(origin + 8, host) == 0;
	if (strncasecmp(origin, "http://", 7) == 0)
		return strcasecmp(origin + 7, host) == 0;
	return false;
}

bool api_csrf_ok(struct api_call *c, const char **why)
{
	const struct http_req *r = c->req;
	const char *site = r->sec_fetch_site;

	if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
		return true;
	if (!r->x_weft_request || !*r->x_weft_request) {
		*why = "a request authenticated by the session cookie must "
		       "send the X-Weft-Request header";
		return false;
	}
	if (site && strcmp(site, "same-origin") == 0)
		return true;
	if (r->origin && origin_ok(c, r->origin))
		return true;
	*why = "cross-origin request refused: Origin (or Sec-Fetch-Site) "
	       "must name this controller";
	return false;
}

/* Fills who for session s (read inside tx). */
static int session_principal(struct api_call *c, struct store_tx *tx,
			     const struct store_session *s,
			     struct principal *who, const char **why)
{
	struct store_apikey k;
	struct store_user u;
	int rc;

	memset(who, 0, sizeof(*who));
	who->kind = PRINCIPAL_SESSION;
	who->session_id = s->id;
	who->user_id = s->user_id;
	who->apikey_id = s->apikey_id;
	who->admin = s->user_id == 0; /* a bootstrap key's session */
	if (s->apikey_id) {
		rc = store_apikey_get(tx, s->apikey_id, &k);
		if (rc < 0)
			return rc;
		if (k.revoked_at || (k.expires_at && k.expires_at <= c->now)) {
			*why = "the session's API key is revoked or expired";
			return WEFT_ERR_AUTH;
		}
		snprintf(who->actor, sizeof(who->actor),
			 "apikey:%s/session:%s", k.prefix, s->prefix);
	}
	if (s->user_id) {
		rc = store_user_get(tx, s->user_id, &u);
		if (rc < 0)
			return rc;
		who->admin = strcmp(u.role, "admin") == 0;
		if (!s->apikey_id)
			snprintf(who->actor, sizeof(who->actor),
				 "user:%s/session:%s", u.name, s->prefix);
	}
	return 0;
}

int api_session_auth(struct api_call *c, const char *token,
		     struct principal *who, const char **why)
{
	struct store_session s;
	struct store_tx *tx = NULL;
	struct cred cr;
	int rc;

	if (cred_parse(token, &cr) < 0 || cr.kind != CRED_SESSION) {
		*why = "malformed session cookie";
		return WEFT_ERR_AUTH;
	}
	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0)
		return rc;
	rc = store_session_get_by_prefix(tx, cr.id, &s);
	if (rc == WEFT_ERR_NOTFOUND ||
	    (rc == 0 && !cred_hash_eq(s.hash, cr.hash))) {
		*why = "no such session (logged out, or ended)";
		rc = WEFT_ERR_AUTH;
		goto out;
	}
	if (rc < 0)
		goto out;
	if (s.expires_at <= c->now ||
	    c->now - s.last_used_at >= s.idle_timeout_s) {
		*why = "session expired; log in again";
		rc = WEFT_ERR_AUTH;
		goto out;
	}
	rc = session_principal(c, tx, &s, who, why);
	if (rc == WEFT_ERR_NOTFOUND) {
		*why = "no such session (logged out, or ended)";
		rc = WEFT_ERR_AUTH;
	}
	if (rc < 0)
		goto out;
	store_rollback(tx);
	tx = NULL;
	if (c->now - s.last_used_at >= SESSION_TOUCH_S &&
	    store_begin(c->st, STORE_WRITE, &tx) == 0 &&
	    store_session_get_by_prefix(tx, cr.id, &s) == 0) {
		/* Best effort, like an API key's last_used_at. */
		s.last_used_at = c->now;
		if (store_session_update(tx, &s) == 0) {
			store_commit(tx);
			tx = NULL;
		}
	}
out:
	store_rollback(tx);
	return rc;
}

/* The answer of GET and POST: who the caller is. */
static json_t *whoami_json(struct api_call *c, const struct principal *who,
			   const struct store_session *s)
{
	struct store_user u;
	struct store_tx *tx = NULL;
	json_t *o, *user = json_null();

	if (who->user_id && store_begin(c->st, STORE_READ, &tx) == 0) {
		if (store_user_get(tx, who->user_id, &u) == 0)
			user = json_pack("{s:I, s:s, s:s, s:s}", "id",
					 (json_int_t)u.id, "name", u.name,
					 "display_name", u.display_name,
					 "role", u.role);
		store_rollback(tx);
	}
	o = json_pack("{s:s, s:o, s:s, s:s}", "auth",
		      who->kind == PRINCIPAL_SESSION ? "session" : "api_key",
		      "user", user ? user : json_null(), "role",
		      who->admin ? "admin" : "member", "actor", who->actor);
	if (o && s)
		json_object_set_new(
			o, "session",
			json_pack("{s:o, s:o, s:I, s:s}", "created_at",
				  api_time_json(s->created_at), "expires_at",
				  api_time_json(s->expires_at),
				  "idle_timeout_s",
				  (json_int_t)s->idle_timeout_s, "login",
				  s->apikey_id ? "api_key" : "password"));
	return o;
}

static void set_cookie(struct http_resp *r, const char *value, int64_t max_age)
{
	char buf[256];

	snprintf(buf, sizeof(buf), COOKIE_SESSION "=%s" COOKIE_ATTRS
		 "; Max-Age=%" PRId64, value, max_age);
	free(r->set_cookie);
	r->set_cookie = strdup(buf);
	memset(buf, 0, sizeof(buf));
}

/* The client's address without its port: the per-address bucket must
 * not change with every new connection's source port. */
static void client_addr(const struct api_call *c, char *buf, size_t n)
{
	struct ip_endpoint ep;

	if (ip_endpoint_parse(c->req->remote, &ep) == 0) {
		ip_addr_unmap(&ep.addr);
		if (ip_addr_format(&ep.addr, buf, n) == 0)
			return;
	}
	snprintf(buf, n, "%s", c->req->remote);
}

void api_login_failed(struct api_call *c, const char *user,
		      const char *reason)
{
	struct store_tx *tx = NULL;
	json_t *d;
	char q[160], qr[160], addr[64];

	client_addr(c, addr, sizeof(addr));
	if (user)
		ratelimit_fail(api_login_limit_user(c->api), user, c->now);
	ratelimit_fail(api_login_limit_addr(c->api), addr, c->now);
	log_info("login_failed", "user=%s remote=%s reason=%s",
		 log_q(q, sizeof(q), user ? user : "-"), c->req->remote,
		 log_q(qr, sizeof(qr), reason));
	d = json_pack("{s:s, s:s}", "remote", c->req->remote, "reason",
		      reason);
	if (d && store_begin(c->st, STORE_WRITE, &tx) == 0) {
		if (api_audit(c, tx, "session.login_failed", "user",
			      user ? user : "", d) == 0) {
			store_commit(tx);
			tx = NULL;
		}
		store_rollback(tx);
	}
	json_decref(d);
}

bool api_login_limited(struct api_call *c, const char *user)
{
	char q[160], addr[64];
	int wu, wa, wait;

	client_addr(c, addr, sizeof(addr));
	wu = user ? ratelimit_check(api_login_limit_user(c->api), user, c->now)
		  : 0;
	wa = ratelimit_check(api_login_limit_addr(c->api), addr, c->now);
	wait = wu > wa ? wu : wa;
	if (!wait)
		return false;
	log_info("login_limited", "user=%s remote=%s retry_after=%d",
		 log_q(q, sizeof(q), user ? user : "-"), c->req->remote, wait);
	http_resp_error(c->resp, 429, "rate_limited",
			"too many failed logins; try again later", NULL);
	c->resp->retry_after = wait;
	return true;
}

/* Checks name's password; fills *who with the user on success. */
static int check_password(struct api_call *c, const char *name,
			  const char *pw, struct principal *who)
{
	char hash[STORE_PWHASH_SIZE] = "";
	struct store_user u = {0};
	struct store_tx *tx = NULL;
	int rc;

	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0)
		return rc;
	rc = store_user_get_by_name(tx, name, &u);
	if (rc == 0)
		rc = store_user_password_get(tx, u.id, hash);
	store_rollback(tx);
	if (rc < 0 && rc != WEFT_ERR_NOTFOUND)
		return rc;
	/* Unknown users and users without a password take as long. */
	if (passwd_verify(hash, pw, strlen(pw)) < 0 || rc < 0) {
		memset(hash, 0, sizeof(hash));
		return WEFT_ERR_AUTH;
	}
	memset(hash, 0, sizeof(hash));
	memset(who, 0, sizeof(*who));
	who->user_id = u.id;
	return 0;
}

static void h_login(struct api_call *c)
{
	const char *user = NULL, *pw = NULL, *key = NULL;
	const struct jsonx_field f[] = {
		{"user", JSONX_STRING, false, 1, STORE_NAME_SIZE - 1, 0, &user,
		 NULL},
		{"password", JSONX_STRING, false, 1, PASSWD_MAX, 0, &pw, NULL},
		{"api_key", JSONX_STRING, false, 1, CRED_TEXT_SIZE - 1, 0, &key,
		 NULL},
	};
	char text[CRED_TEXT_SIZE], idtext[24];
	struct store_session s = {0};
	struct store_tx *tx = NULL;
	struct principal who = {0};
	const char *why = NULL;
	struct cred cr;
	json_t *body, *o;
	int rc;

	body = api_read_body(c, f, sizeof(f) / sizeof(f[0]));
	if (!body)
		return;
	if (!key == !(user && pw)) {
		http_resp_error(c->resp, 400, "invalid",
				"give either \"user\" and \"password\", or "
				"\"api_key\"",
				key ? "api_key" : (user ? "password" : "user"));
		goto done;
	}
	if (api_login_limited(c, key ? NULL : user))
		goto done;
	if (key) {
		rc = api_apikey_auth(c, key, &who, &why);
		if (rc == WEFT_ERR_AUTH || rc == WEFT_ERR_EXPIRED) {
			api_login_failed(c, NULL, why);
			http_resp_error(c->resp, 401, "unauthenticated", why,
					"api_key");
			goto done;
		}
	} else {
		rc = check_password(c, user, pw, &who);
		if (rc == WEFT_ERR_AUTH) {
			api_login_failed(c, user, "wrong user name or password");
			http_resp_error(c->resp, 401, "unauthenticated",
					"wrong user name or password", NULL);
			goto done;
		}
	}
	if (rc < 0)
		goto fail;

	rc = cred_new(CRED_SESSION, NULL, text, &cr);
	if (rc < 0)
		goto fail;
	snprintf(s.prefix, sizeof(s.prefix), "%s", cr.id);
	snprintf(s.hash, sizeof(s.hash), "%s", cr.hash);
	s.user_id = who.user_id;
	s.apikey_id = key ? who.apikey_id : 0;
	s.created_at = c->now;
	s.last_used_at = c->now;
	s.expires_at = c->now + SESSION_TTL_S;
	s.idle_timeout_s = SESSION_IDLE_S;
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto fail;
	rc = store_session_create(tx, &s);
	if (rc < 0)
		goto fail;
	rc = session_principal(c, tx, &s, &c->who, &why);
	if (rc < 0)
		goto fail;
	snprintf(idtext, sizeof(idtext), "%" PRId64, s.id);
	o = json_pack("{s:s, s:s}", "login", key ? "api_key" : "password",
		      "remote", c->req->remote);
	rc = o ? api_audit(c, tx, "session.create", "session", idtext, o)
	       : WEFT_ERR_NOMEM;
	json_decref(o);
	if (rc < 0)
		goto fail;
	rc = store_commit(tx);
	tx = NULL;
	if (rc < 0)
		goto fail;
	http_resp_json(c->resp, 201, whoami_json(c, &c->who, &s));
	set_cookie(c->resp, text, SESSION_TTL_S);
	memset(text, 0, sizeof(text));
	goto done;
fail:
	store_rollback(tx);
	memset(text, 0, sizeof(text));
	api_fail(c, rc, NULL, NULL);
done:
	json_decref(body);
}

/* The caller's session row, when it authenticated with one. */
static int own_session(struct api_call *c, struct store_session *s)
{
	char token[CRED_TEXT_SIZE];
	struct store_tx *tx = NULL;
	struct cred cr;
	int rc;

	if (c->who.kind != PRINCIPAL_SESSION ||
	    cookie_get(c->req->cookie, COOKIE_SESSION, token, sizeof(token)) <
		    0 ||
	    cred_parse(token, &cr) < 0)
		return WEFT_ERR_NOTFOUND;
	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0)
		return rc;
	rc = store_session_get_by_prefix(tx, cr.id, s);
	store_rollback(tx);
	return rc;
}

static void h_whoami(struct api_call *c)
{
	struct store_session s;
	int rc = own_session(c, &s);

	if (rc < 0 && rc != WEFT_ERR_NOTFOUND) {
		api_fail(c, rc, NULL, NULL);
		return;
	}
	http_resp_json(c->resp, 200, whoami_json(c, &c->who, rc ? NULL : &s));
}

static void h_logout(struct api_call *c)
{
	struct store_session s;
	struct store_tx *tx = NULL;
	int rc = own_session(c, &s);

	if (rc == WEFT_ERR_NOTFOUND) {
		http_resp_error(c->resp, 400, "invalid",
				"no session: this request was not "
				"authenticated by a session cookie",
				NULL);
		return;
	}
	if (rc < 0)
		goto fail;
	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto fail;
	rc = store_session_delete(tx, s.id);
	if (rc < 0)
		goto fail;
	rc = api_commit_audited(c, tx, "session.delete", "session", s.id,
				NULL);
	tx = NULL;
	if (rc < 0)
		goto fail;
	http_resp_free(c->resp);
	c->resp->status = 204;
	set_cookie(c->resp, "", 0);
	return;
fail:
	store_rollback(tx);
	api_fail(c, rc, NULL, NULL);
}

const struct api_route api_session_routes[] = {
	{"POST", "/api/v1/session", API_AUTH_NONE, h_login},
	{"GET", "/api/v1/session", API_AUTH_USER, h_whoami},
	{"DELETE", "/api/v1/session", API_AUTH_USER, h_logout},
	{0},
};
