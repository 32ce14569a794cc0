/* Browser sessions against the real controller process over real HTTP:
 * password login, wrong password, logout, the CSRF rule, a member's view
 * through its session, the login rate limit, and `users set-password`.
 * The client sends the headers a browser would (Cookie, Origin,
 * X-Weft-Request) and reads Set-Cookie itself: over plain HTTP a browser
 * would drop the Secure cookie, curl is told nothing about it. */
#include "check.h"
#include "fx.h"
#include "ih.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define K (h->bootstrap_key)

/* One browser-like request; cookie ("__Host-weft_session=...") and
 * origin may be NULL; xweft adds X-Weft-Request: 1. The answer's headers
 * go to *hdrs when it is not NULL (caller frees). */
static long breq(struct ih *h, const char *method, const char *path,
		 const char *cookie, const char *origin, bool xweft,
		 const char *body, json_t **json, char **hdrs)
{
	char c[256], o[256];
	const char *list[4];
	size_t n = 0;
	char *text = NULL;
	long st = 0;

	if (cookie) {
		snprintf(c, sizeof(c), "Cookie: %s", cookie);
		list[n++] = c;
	}
	if (origin) {
		snprintf(o, sizeof(o), "Origin: %s", origin);
		list[n++] = o;
	}
	if (xweft)
		list[n++] = "X-Weft-Request: 1";
	list[n] = NULL;
	if (ih_call_headers(h, method, path, list, body, &st, &text, hdrs) < 0)
		return -1;
	if (json)
		*json = text[0] ? json_loads(text, 0, NULL) : NULL;
	free(text);
	return st;
}

/* The value of header name in a raw header block ("" when absent). */
static void header(const char *hdrs, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *p = hdrs; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;

			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)strcspn(v, "\r\n"), v);
			return;
		}
	}
}

/* Logs user in; the Cookie value goes to cookie. Returns the status. */
static long login(struct ih *h, const char *user, const char *pw,
		  char cookie[256], char **hdrs)
{
	char body[256], sc[512];
	char *hd = NULL;
	long st;

	snprintf(body, sizeof(body), "{\"user\":\"%s\",\"password\":\"%s\"}",
		 user, pw);
	st = breq(h, "POST", "/api/v1/session", NULL, NULL, false, body, NULL,
		  &hd);
	header(hd, "Set-Cookie", sc, sizeof(sc));
	snprintf(cookie, 256, "%.*s", (int)strcspn(sc, ";"), sc);
	if (hdrs)
		*hdrs = hd;
	else
		free(hd);
	return st;
}

static void set_pw(struct ih *h, int64_t id, const char *pw)
{
	char path[64], body[128];

	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64 "/password", id);
	snprintf(body, sizeof(body), "{\"password\":\"%s\"}", pw);
	CHECK_INT(fx_req(h, "PUT", path, K, body, NULL), 204);
}

static void login_logout_csrf_and_a_members_view(void)
{
	struct ih *h = NULL;
	json_t *j = NULL;
	char cookie[256], admin_cookie[256], origin[160], sc[512], path[96];
	char akey[FX_KEY_SIZE];
	char *hd = NULL;
	int64_t alice, bob, root;
	struct fx_node n;

	REQUIRE(ih_new(NULL, &h) == 0);
	alice = fx_user(h, K, "alice", "member");
	bob = fx_user(h, K, "bob", "member");
	root = fx_user(h, K, "root", "admin");
	REQUIRE(alice > 0 && bob > 0 && root > 0);
	set_pw(h, alice, "alice-password");
	set_pw(h, root, "root-password");
	/* bob owns a node. */
	REQUIRE(fx_authkey(h, K, "{\"user_id\":2}", akey) > 0);
	REQUIRE_INT(fx_node_register(h, akey, "bobs-laptop", &n), 201);

	/* Wrong password: 401 and no cookie. */
	CHECK_INT(login(h, "alice", "alice-passwort", cookie, &hd), 401);
	header(hd, "Set-Cookie", sc, sizeof(sc));
	CHECK_STR(sc, "");
	free(hd);
	/* The right one: 201 and the __Host- cookie. */
	CHECK_INT(login(h, "alice", "alice-password", cookie, &hd), 201);
	header(hd, "Set-Cookie", sc, sizeof(sc));
	CHECK(strncmp(sc, "__Host-weft_session=weft_session_", 33) == 0);
	CHECK(strstr(sc, "HttpOnly") && strstr(sc, "Secure") &&
	      strstr(sc, "SameSite=Strict") && strstr(sc, "Path=/"));
	free(hd);
	CHECK_INT(breq(h, "GET", "/api/v1/session", cookie, NULL, false, NULL,
		       &j, NULL), 200);
	CHECK_STR(fx_str(j, "user.name"), "alice");
	CHECK_STR(fx_str(j, "role"), "member");
	json_decref(j);

	/* A member's session: its own nodes only, no users, no bob's. */
	CHECK_INT(breq(h, "GET", "/api/v1/nodes", cookie, NULL, false, NULL,
		       &j, NULL), 200);
	CHECK_INT((int)json_array_size(fx_get(j, "items")), 0);
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/nodes?user_id=%" PRId64, bob);
	CHECK_INT(breq(h, "GET", path, cookie, NULL, false, NULL, NULL, NULL),
		  403);
	snprintf(path, sizeof(path), "/api/v1/nodes/%" PRId64, n.id);
	CHECK_INT(breq(h, "GET", path, cookie, NULL, false, NULL, NULL, NULL),
		  404);
	CHECK_INT(breq(h, "GET", "/api/v1/users", cookie, NULL, false, NULL,
		       NULL, NULL), 403);
	/* An admin's session sees bob's node. */
	CHECK_INT(login(h, "root", "root-password", admin_cookie, NULL), 201);
	CHECK_INT(breq(h, "GET", "/api/v1/nodes", admin_cookie, NULL, false,
		       NULL, &j, NULL), 200);
	CHECK(fx_has_id(fx_get(j, "items"), n.id));
	json_decref(j);

	/* CSRF: a write with the cookie but without the header and a same
	 * origin is refused with the API's JSON error. */
	snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", h->port);
	CHECK_INT(breq(h, "POST", "/api/v1/users", admin_cookie, NULL, false,
		       "{\"name\":\"carol\"}", &j, NULL), 403);
	CHECK_STR(fx_str(j, "error.code"), "forbidden");
	json_decref(j);
	CHECK_INT(breq(h, "POST", "/api/v1/users", admin_cookie,
		       "https://evil.example", true, "{\"name\":\"carol\"}",
		       NULL, NULL), 403);
	CHECK_INT(breq(h, "POST", "/api/v1/users", admin_cookie, origin, false,
		       "{\"name\":\"carol\"}", NULL, NULL), 403);
	CHECK_INT(breq(h, "POST", "/api/v1/users", admin_cookie, origin, true,
		       "{\"name\":\"carol\"}", NULL, NULL), 201);

	/* Logout: the old cookie is refused afterwards. */
	CHECK_INT(breq(h, "DELETE", "/api/v1/session", cookie, origin, true,
		       NULL, NULL, &hd), 204);
	header(hd, "Set-Cookie", sc, sizeof(sc));
	CHECK(strstr(sc, "Max-Age=0") != NULL);
	free(hd);
	CHECK_INT(breq(h, "GET", "/api/v1/session", cookie, NULL, false, NULL,
		       NULL, NULL), 401);
	CHECK_INT(breq(h, "GET", "/api/v1/nodes", cookie, NULL, false, NULL,
		       NULL, NULL), 401);
	/* Bearer keys work as before. */
	CHECK_INT(fx_req(h, "GET", "/api/v1/users", K, NULL, NULL), 200);
	CHECK_INT(fx_audit_count(h, K, "session.login_failed", NULL, NULL), 1);
	CHECK_INT(ih_del(h), 0);
}

/* A member changes her own password through her session: only with the
 * current one (a wrong one counts as a failed login); the change ends
 * her sessions. An admin sets another user's password without it. */
static void changing_ones_own_password_needs_the_current_one(void)
{
	struct ih *h = NULL;
	json_t *j = NULL;
	char cookie[256], origin[160], path[96];
	int64_t erin;

	REQUIRE(ih_new(NULL, &h) == 0);
	erin = fx_user(h, K, "erin", "member");
	REQUIRE(erin > 0);
	set_pw(h, erin, "erin-password");
	snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", h->port);
	snprintf(path, sizeof(path), "/api/v1/users/%" PRId64 "/password", erin);
	REQUIRE_INT(login(h, "erin", "erin-password", cookie, NULL), 201);

	CHECK_INT(breq(h, "PUT", path, cookie, origin, true,
		       "{\"password\":\"stolen-session\"}", &j, NULL), 400);
	CHECK_STR(fx_str(j, "error.field"), "current_password");
	json_decref(j);
	CHECK_INT(breq(h, "PUT", path, cookie, origin, true,
		       "{\"password\":\"stolen-session\","
		       "\"current_password\":\"a-guess-1234\"}", &j, NULL), 403);
	CHECK_STR(fx_str(j, "error.field"), "current_password");
	json_decref(j);
	CHECK_INT(fx_audit_count(h, K, "session.login_failed", NULL, NULL), 1);
	/* Nothing changed: the old password still logs in. */
	CHECK_INT(login(h, "erin", "erin-password", cookie, NULL), 201);

	CHECK_INT(breq(h, "PUT", path, cookie, origin, true,
		       "{\"password\":\"erin-new-password\","
		       "\"current_password\":\"erin-password\"}", NULL, NULL),
		  204);
	CHECK_INT(breq(h, "GET", "/api/v1/session", cookie, NULL, false, NULL,
		       NULL, NULL), 401);
	CHECK_INT(login(h, "erin", "erin-password", cookie, NULL), 401);
	CHECK_INT(login(h, "erin", "erin-new-password", cookie, NULL), 201);
	/* An admin needs no current password for someone else. */
	set_pw(h, erin, "erin-third-password");
	CHECK_INT(login(h, "erin", "erin-third-password", cookie, NULL), 201);
	CHECK_INT(ih_del(h), 0);
}

static void failed_logins_are_rate_limited(void)
{
	struct ih *h = NULL;
	char cookie[256], ra[32];
	char *hd = NULL;
	int64_t dave;

	REQUIRE(ih_new(NULL, &h) == 0);
	dave = fx_user(h, K, "dave", "member");
	REQUIRE(dave > 0);
	set_pw(h, dave, "dave-password");
	for (int i = 0; i < 5; i++)
		CHECK_INT(login(h, "dave", "not-daves-password", cookie, NULL),
			  401);
	CHECK_INT(login(h, "dave", "dave-password", cookie, &hd), 429);
	header(hd, "Retry-After", ra, sizeof(ra));
	CHECK(atoi(ra) >= 1 && atoi(ra) <= 30);
	free(hd);
	CHECK_INT(fx_audit_count(h, K, "session.login_failed", NULL, NULL), 5);
	/* Per client address: 20 failures, whatever the user names and
	 * however many connections (each has its own source port). The
	 * bucket gains a try every 6 s, so on a slow machine (argon2 under
	 * the sanitizers) a few more may pass before the 429: count them. */
	REQUIRE(fx_user(h, K, "frank", "member") > 0);
	{
		long st = 401;
		int tries = 0;

		while (tries < 40 && st == 401) {
			char name[32];

			snprintf(name, sizeof(name), "guess%d", tries++);
			st = login(h, name, "not-a-password", cookie, NULL);
		}
		CHECK_INT(st, 429);
		CHECK(tries >= 16); /* 5 + 15 failures came first */
	}
	CHECK_INT(login(h, "frank", "any-password", cookie, &hd), 429);
	header(hd, "Retry-After", ra, sizeof(ra));
	CHECK(atoi(ra) >= 1 && atoi(ra) <= 6);
	free(hd);
	CHECK_INT(ih_del(h), 0);
}

/* A failed login as user from the client a proxy names in
 * X-Forwarded-For. Returns the status. */
static long login_via(struct ih *h, const char *user, const char *xff)
{
	char hx[96], body[128];
	const char *list[] = {hx, NULL};
	char *text = NULL;
	long st = 0;

	snprintf(hx, sizeof(hx), "X-Forwarded-For: %s", xff);
	snprintf(body, sizeof(body),
		 "{\"user\":\"%s\",\"password\":\"wrong-password\"}", user);
	if (ih_call_headers(h, "POST", "/api/v1/session", list, body, &st,
			    &text, NULL) < 0)
		return -1;
	free(text);
	return st;
}

/* Failed logins (user u0, u1, ... from xff_even and xff_odd in turn)
 * until the answer is not 401; returns how many were sent (-1 when the
 * 40th was still 401). The address bucket holds 20 tries and gains one
 * every 6 s, so a slow machine (argon2 under the sanitizers) may get a
 * few more than 20 before the 429. */
static int tries_until_limited(struct ih *h, const char *xff_even,
			       const char *xff_odd, long *last)
{
	char name[32];
	int tries = 0;

	*last = 401;
	while (*last == 401) {
		if (tries == 40)
			return -1;
		snprintf(name, sizeof(name), "u%d", tries);
		*last = login_via(h, name, tries % 2 ? xff_odd : xff_even);
		tries++;
	}
	return tries;
}

static void behind_a_trusted_proxy_the_forwarded_client_is_limited(void)
{
	static const char *const args[] = {"--trusted-proxy", "127.0.0.1/32",
					   NULL};
	struct ih_opts o = {.serve_args = args};
	struct ih *h = NULL;
	json_t *j = NULL;
	long st;
	int tries;

	REQUIRE(ih_new(&o, &h) == 0);
	tries = tries_until_limited(h, "198.51.100.1, 203.0.113.7",
				    "198.51.100.1, 203.0.113.7", &st);
	CHECK_INT(st, 429);
	CHECK(tries >= 21);
	/* 203.0.113.7 is out of tries; another client of the proxy is not,
	 * and neither is a spoofed left entry. */
	CHECK_INT(login_via(h, "zed", "203.0.113.7"), 429);
	CHECK_INT(login_via(h, "zed", "203.0.113.8"), 401);
	CHECK_INT(login_via(h, "zed", "203.0.113.7, 203.0.113.9"), 401);
	CHECK_INT(fx_req(h, "GET", "/api/v1/audit?action=session.login_failed&limit=1",
			 K, NULL, &j), 200);
	{
		char *d = json_dumps(j, 0);

		CHECK(d && strstr(d, "203.0.113") != NULL);
		free(d);
	}
	json_decref(j);
	CHECK_INT(ih_del(h), 0);
}

static void an_untrusted_peer_cannot_pick_its_address(void)
{
	struct ih *h = NULL;
	long st;
	int tries;

	REQUIRE(ih_new(NULL, &h) == 0);
	/* Without --trusted-proxy the header is ignored: all 20 failures
	 * count against 127.0.0.1 whatever it claims. */
	tries = tries_until_limited(h, "203.0.113.2", "203.0.113.1", &st);
	CHECK_INT(st, 429);
	CHECK(tries >= 21);
	CHECK_INT(login_via(h, "zed", "203.0.113.3"), 429);
	CHECK_INT(ih_del(h), 0);
}

static void cli_sets_a_password_read_from_stdin(void)
{
	struct ih *h = NULL;
	char cookie[256];
	char *out = NULL;
	int st = -1;

	REQUIRE(ih_new(NULL, &h) == 0);
	REQUIRE(fx_user(h, K, "erin", "member") > 0);
	/* No input: exit 1, nothing set. */
	CHECK_INT(ih_cli_input(h, "", &out, &st, "users", "set-password",
			       "erin", NULL), 0);
	CHECK(st != 0);
	free(out);
	CHECK_INT(login(h, "erin", "erin-password", cookie, NULL), 401);
	/* A password on stdin: set, and it logs in. */
	CHECK_INT(ih_cli_input(h, "erin-password\n", &out, &st, "users",
			       "set-password", "erin", NULL), 0);
	CHECK_INT(st, 0);
	CHECK(out && strstr(out, "password set for user erin") != NULL);
	CHECK(out && strstr(out, "erin-password") == NULL);
	free(out);
	CHECK_INT(login(h, "erin", "erin-password", cookie, NULL), 201);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(login_logout_csrf_and_a_members_view),
	CHECK_CASE(failed_logins_are_rate_limited),
	CHECK_CASE(cli_sets_a_password_read_from_stdin),
	CHECK_CASE(behind_a_trusted_proxy_the_forwarded_client_is_limited),
	CHECK_CASE(an_untrusted_peer_cannot_pick_its_address),
	CHECK_CASE(changing_ones_own_password_needs_the_current_one),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
