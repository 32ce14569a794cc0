/* POST /api/v1/policy/validate: checks a policy document without saving
 * it, for the editor. The answer is always 200 for a document that could
 * be checked:
 *   {"valid": bool,
 *    "errors": [{"message", "path", "line", "column"}],   (at most one)
 *    "tests":  [{"path", "src", "dst", "proto", "expect", "passed",
 *                "message", "line", "column"}]}
 * Every case of the document's tests block is run and listed, passed or
 * not (PUT stops at the first failing one), as long as the rest of the
 * document is valid. Nothing is stored or audited. */
#include "controller/api.h"

#include "controller/jsonloc.h"
#include "controller/policy.h"
#include "shared/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool proto_of(const json_t *v, enum policy_proto *out)
{
	static const struct {
		const char *name;
		enum policy_proto proto;
	} protos[] = {{"tcp", POLICY_TCP},
		      {"udp", POLICY_UDP},
		      {"icmp", POLICY_ICMP},
		      {"any", POLICY_ANY}};

	if (!v) {
		*out = POLICY_TCP;
		return true;
	}
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), protos[i].name) == 0) {
			*out = protos[i].proto;
			return true;
		}
	return false;
}

struct doc {
	const char *text;
	size_t len;
	const struct policy *p;
	json_t *out; /* the "tests" array of the answer */
};

/* Runs one accept/deny entry and appends its result. */
static int run_case(struct doc *d, const char *path, const char *src,
		    const char *dst, enum policy_proto proto, bool want)
{
	struct policy_err err = {0};
	struct jsonloc loc;
	bool allowed = false, passed;
	char msg[600]; /* "path: message" fits whole */
	json_t *o;
	int rc;

	rc = policy_allows(d->p, src, dst, proto, &allowed, &err);
	if (rc == WEFT_ERR_NOMEM)
		return rc;
	passed = rc == 0 && allowed == want;
	if (rc < 0)
		snprintf(msg, sizeof(msg), "%s: %s", err.path, err.message);
	else if (passed)
		snprintf(msg, sizeof(msg), "%s as expected",
			 want ? "accepted" : "denied");
	else
		snprintf(msg, sizeof(msg), "should be %s but is %s",
			 want ? "accepted" : "denied",
			 allowed ? "accepted" : "denied");
	(void)jsonloc_find(d->text, d->len, path, &loc);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:i, s:i}", "path",
		      path, "src", src, "dst", dst, "proto",
		      policy_proto_name(proto), "expect",
		      want ? "accept" : "deny", "passed", passed, "message",
		      msg, "line", loc.line, "column", loc.column);
	if (!o || json_array_append_new(d->out, o) < 0)
		return WEFT_ERR_NOMEM;
	return 0;
}

/* Runs every well-formed case of tests (malformed ones are the parse
 * error's business). */
static int run_tests(struct doc *d, const json_t *tests)
{
	static const char *const lists[] = {"accept", "deny"};
	const json_t *t;
	size_t i;

	if (!json_is_array(tests))
		return 0;
	json_array_foreach(tests, i, t) {
		const json_t *src = json_object_get(t, "src");
		enum policy_proto proto;

		if (!json_is_string(src) ||
		    !proto_of(json_object_get(t, "proto"), &proto))
			continue;
		for (size_t l = 0; l < 2; l++) {
			const json_t *arr = json_object_get(t, lists[l]), *e;
			size_t j;

			json_array_foreach(arr, j, e) {
				char path[64];
				int rc;

				if (!json_is_string(e))
					continue;
				snprintf(path, sizeof(path), "tests[%zu].%s[%zu]",
					 i, lists[l], j);
				rc = run_case(d, path, json_string_value(src),
					      json_string_value(e), proto,
					      l == 0);
				if (rc < 0)
					return rc;
			}
		}
	}
	return 0;
}

/* The policy without its tests block, parsed, so that the cases can be
 * run one by one after one of them failed the whole document. */
static int parse_without_tests(json_t *root, const struct policy_names *names,
			       struct policy **out)
{
	json_t *copy = json_copy(root);
	struct policy_err err;
	char *text;
	int rc;

	if (!copy)
		return WEFT_ERR_NOMEM;
	json_object_del(copy, "tests");
	text = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	if (!text)
		return WEFT_ERR_NOMEM;
	rc = policy_parse(text, strlen(text), names, out, &err);
	free(text);
	return rc;
}

static void h_validate(struct api_call *c)
{
	struct policy_err err = {0};
	struct policy_names names;
	struct policy *p = NULL;
	struct store_tx *tx = NULL;
	struct doc d = {c->req->body ? c->req->body : "", c->req->body_len,
			NULL, NULL};
	json_t *root = NULL, *errors = NULL, *e;
	int rc, prc;

	if (d.len > POLICY_MAX_BYTES) {
		http_resp_error(c->resp, 413, "too_big",
				"policy documents are at most 1 MiB", NULL);
		return;
	}
	errors = json_array();
	d.out = json_array();
	rc = errors && d.out ? 0 : WEFT_ERR_NOMEM;
	if (rc == 0)
		rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0)
		goto out;
	api_policy_names(tx, &names);
	prc = policy_parse(d.text, d.len, &names, &p, &err);
	if (prc == WEFT_ERR_NOMEM || prc == WEFT_ERR_DB) {
		rc = prc;
		goto out;
	}
	if (prc < 0) {
		e = api_policy_err_json(&err);
		if (!e || json_array_append_new(errors, e) < 0) {
			rc = WEFT_ERR_NOMEM;
			goto out;
		}
	}
	/* The cases can run when the document is valid, or when only the
	 * tests block failed. */
	if (prc == 0 || (prc == WEFT_ERR_INVAL &&
			 strncmp(err.path, "tests", 5) == 0))
		root = json_loadb(d.text, d.len, 0, NULL);
	if (json_is_object(root) && prc < 0)
		rc = parse_without_tests(root, &names, &p);
	if (rc == WEFT_ERR_NOMEM)
		goto out;
	if (json_is_object(root) && p) {
		d.p = p;
		rc = run_tests(&d, json_object_get(root, "tests"));
		if (rc < 0)
			goto out;
	}
	rc = 0;
	http_resp_json(c->resp, 200,
		       json_pack("{s:b, s:O, s:O}", "valid", prc == 0,
				 "errors", errors, "tests", d.out));
out:
	store_rollback(tx);
	policy_free(p);
	json_decref(root);
	json_decref(errors);
	json_decref(d.out);
	if (rc < 0)
		api_fail(c, rc, NULL, NULL);
}

const struct api_route api_policy_routes[] = {
	{"POST", "/api/v1/policy/validate", API_AUTH_ADMIN, h_validate},
	{0},
};
