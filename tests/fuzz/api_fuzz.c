/* Fuzzes the REST API's request-body handling end to end: routing, strict
 * JSON parsing, validation, the store (a real SQLite file) and the answer.
 * The first input byte picks one endpoint that takes a JSON body, the rest
 * is the body. The text @KEY@ in a body is replaced by a valid reusable auth
 * key, so registration gets past the key check.
 *
 * Invariants: every answer has a documented status (no 5xx: a bad body
 * must never look like a server fault), every error answer carries
 * {"error": {"code": string, "message": string}}, every success answer is
 * a JSON object (or no body for 204). */
#include "controller/api.h"
#include "controller/http.h"
#include "controller/store.h"

#include <ftw.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct target {
	const char *method;
	const char *path;
	bool as_admin; /* false: no principal (registration) */
};

static const struct target targets[] = {
	{"POST", "/api/v1/users", true},
	{"POST", "/api/v1/auth-keys", true},
	{"POST", "/api/v1/api-keys", true},
	{"PATCH", "/api/v1/users/1", true},
	{"PATCH", "/api/v1/nodes/1", true},
	{"PATCH", "/api/v1/routes/1", true},
	{"POST", "/api/v1/resources", true},
	{"PATCH", "/api/v1/resources/1", true},
	{"POST", "/api/v1/relays", true},
	{"PATCH", "/api/v1/relays/1", true},
	{"POST", "/api/v1/register", false},
};

#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

static const struct principal admin = {
	.kind = PRINCIPAL_APIKEY,
	.apikey_id = 0,
	.user_id = 0,
	.admin = true,
	.actor = "fuzz",
};

static char dir[256];
static struct store *st;
static struct api *api;
static char authkey[128];

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	api_del(api);
	store_close(st);
	if (dir[0])
		nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Runs one request; the answer is left in *resp (caller frees). */
static void run(const char *method, const char *path, bool as_admin,
		const char *body, size_t len, struct http_resp *resp)
{
	struct http_req req = {
		.method = method, .path = path, .body = body, .body_len = len,
	};

	memset(resp, 0, sizeof(*resp));
	snprintf(req.remote, sizeof(req.remote), "fuzz");
	if (as_admin)
		api_handle_as(api, &admin, &req, resp);
	else
		api_handle(api, &req, resp);
}

/* Setup that must work: dies loudly otherwise, since every later input
 * would only test the failure. */
static json_t *must(const char *method, const char *path, const char *body,
		    bool as_admin)
{
	struct http_resp resp;
	json_t *j;

	run(method, path, as_admin, body, strlen(body), &resp);
	if (resp.status != 201 || !resp.json) {
		fprintf(stderr, "api_fuzz setup: %s %s: %d\n", method, path,
			resp.status);
		abort();
	}
	j = json_incref(resp.json);
	http_resp_free(&resp);
	return j;
}

/* A store with one of everything the PATCH targets name (all id 1). */
static void setup(void)
{
	char url[512], errmsg[256], body[512];
	const char *tmp = getenv("TMPDIR");
	json_t *j;

	snprintf(dir, sizeof(dir), "%s/weft-api-fuzz-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	atexit(teardown);
	snprintf(url, sizeof(url), "sqlite://%s/fuzz.db", dir);
	if (store_open(url, &st, errmsg, sizeof(errmsg)) < 0) {
		fprintf(stderr, "api_fuzz: %s\n", errmsg);
		abort();
	}
	if (api_new(st, NULL, NULL, &api) < 0)
		abort();
	json_decref(must("POST", "/api/v1/users", "{\"name\":\"alice\"}", true));
	/* Auth-key tags must be declared in tagOwners. */
	{
		static const char pol[] = "{\"tagOwners\":{\"tag:fuzz\":[]}}";
		struct http_resp resp;

		run("PUT", "/api/v1/policy", true, pol, strlen(pol), &resp);
		if (resp.status != 200)
			abort();
		http_resp_free(&resp);
	}
	j = must("POST", "/api/v1/auth-keys",
		 "{\"reusable\":true,\"tags\":[\"tag:fuzz\"],"
		 "\"expires_in\":\"365d\"}", true);
	snprintf(authkey, sizeof(authkey), "%s",
		 json_string_value(json_object_get(j, "key")));
	json_decref(j);
	snprintf(body, sizeof(body),
		 "{\"auth_key\":\"%s\",\"public_key\":"
		 "\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\","
		 "\"hostname\":\"node\",\"os\":\"linux\",\"version\":\"1\","
		 "\"advertised_routes\":[\"10.0.0.0/24\"]}", authkey);
	json_decref(must("POST", "/api/v1/register", body, false));
	json_decref(must("POST", "/api/v1/resources",
			 "{\"name\":\"db\",\"address\":\"10.0.0.5\","
			 "\"filters\":[{\"protocol\":\"tcp\",\"ports\":"
			 "[\"5432\"]}],\"connectors\":{\"nodes\":[1]}}",
			 true));
	json_decref(must("POST", "/api/v1/resources",
			 "{\"name\":\"wiki\",\"address\":\"*.corp.test\","
			 "\"connectors\":{\"nodes\":[1]}}", true));
	json_decref(must("POST", "/api/v1/relays",
			 "{\"name\":\"r1\",\"region\":\"eu\","
			 "\"address\":\"relay.example.com:443\"}", true));
}

/* Copies the body NUL-terminated, with every @KEY@ replaced by the auth
 * key. */
static char *expand(const uint8_t *data, size_t size, size_t *len)
{
	static const char mark[] = "@KEY@";
	size_t klen = strlen(authkey), n = 0, cap = size + 1;
	char *out;

	for (size_t i = 0; i + 5 <= size; i++)
		if (memcmp(data + i, mark, 5) == 0)
			cap += klen;
	out = malloc(cap);
	if (!out)
		abort();
	for (size_t i = 0; i < size;) {
		if (i + 5 <= size && memcmp(data + i, mark, 5) == 0) {
			memcpy(out + n, authkey, klen);
			n += klen;
			i += 5;
		} else {
			out[n++] = (char)data[i++];
		}
	}
	out[n] = '\0';
	*len = n;
	return out;
}

static bool documented(int status)
{
	switch (status) {
	case 200: case 201: case 204: case 400: case 401: case 403:
	case 404: case 409: case 413:
		return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct target *t;
	struct http_resp resp;
	size_t len;
	char *body;

	if (!api)
		setup();
	if (size < 1)
		return 0;
	t = &targets[data[0] % NTARGETS];
	body = expand(data + 1, size - 1, &len);
	run(t->method, t->path, t->as_admin, body, len, &resp);
	if (!documented(resp.status)) {
		fprintf(stderr, "%s %s: undocumented status %d\n", t->method,
			t->path, resp.status);
		abort();
	}
	if (resp.status >= 400) {
		json_t *e = json_object_get(resp.json, "error");

		if (!json_is_string(json_object_get(e, "code")) ||
		    !json_is_string(json_object_get(e, "message")))
			abort();
	} else if (resp.status == 204) {
		if (resp.json)
			abort();
	} else if (!json_is_object(resp.json)) {
		abort();
	}
	http_resp_free(&resp);
	free(body);
	return 0;
}
