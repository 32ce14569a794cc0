/* The `policy` group of the admin CLI: `policy get` prints the document
 * (GET /api/v1/policy), `policy set FILE` saves one (PUT), and `policy
 * check FILE` validates one against this database and runs its tests
 * without saving (docs/policy.md). */
#include "controller/cli_internal.h"

#include "controller/policy.h"
#include "controller/store.h"
#include "shared/err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the policy file at path into *text (malloc'd, NUL-terminated, at
 * most one byte over the policy size limit so that the parser can say the
 * file is too big). Returns 0 or -1 (error printed). */
static int read_policy_file(const char *path, char **text, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n;
	int rc = -1;

	if (!f) {
		fprintf(stderr, "weft-controller: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	buf = malloc(POLICY_MAX_BYTES + 2);
	if (!buf) {
		cli_oom();
		goto out;
	}
	n = fread(buf, 1, POLICY_MAX_BYTES + 1, f);
	if (ferror(f)) {
		fprintf(stderr, "weft-controller: %s: read error\n", path);
		free(buf);
		goto out;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	rc = 0;
out:
	if (f != stdin)
		fclose(f);
	return rc;
}

int cli_policy_get(struct cli *c, const struct flags *f, char **pos)
{
	json_t *out = NULL;
	int ret;

	(void)f;
	(void)pos;
	if (cli_call(c, "GET", "/api/v1/policy", NULL, NULL, &out) < 0)
		return 1;
	/* Without --json only the document, so that `policy get > FILE`,
	 * an edit and `policy set FILE` round-trip. */
	ret = cli_print_json(c->json ? out : json_object_get(out, "document"));
	json_decref(out);
	return ret;
}

int cli_policy_set(struct cli *c, const struct flags *f, char **pos)
{
	json_t *out = NULL;
	char *text = NULL;
	size_t len = 0;
	int ret = 1;

	(void)f;
	if (read_policy_file(pos[0], &text, &len) < 0)
		return 1;
	if (cli_call_text(c, "PUT", "/api/v1/policy", NULL, text, len, &out) < 0)
		goto out;
	if (c->json)
		ret = cli_print_json(out);
	else {
		printf("policy version %" PRId64 " saved\n",
		       (int64_t)json_integer_value(json_object_get(out, "version")));
		ret = 0;
	}
out:
	json_decref(out);
	free(text);
	return ret;
}

/* Validates a document as PUT /api/v1/policy would (names against this
 * database, then the document's tests) without saving it. The verdict is
 * the command's output: "ok", or the path and message on stdout and exit
 * status 1. */
int cli_policy_check(struct cli *c, const struct flags *f, char **pos)
{
	struct policy_names names;
	struct policy_err err = {0};
	struct policy *p = NULL;
	struct store_tx *tx = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc, ret = 1;

	(void)f;
	if (read_policy_file(pos[0], &text, &len) < 0)
		return 1;
	rc = store_begin(c->st, STORE_READ, &tx);
	if (rc < 0) {
		fprintf(stderr, "weft-controller: cannot read the database: %s\n",
			store_errmsg());
		goto out;
	}
	api_policy_names(tx, &names);
	rc = policy_parse(text, len, &names, &p, &err);
	if (rc == 0) {
		if (c->json) {
			json_t *j = json_pack("{s:b}", "valid", 1);

			ret = j ? cli_print_json(j) : cli_oom();
			json_decref(j);
		} else {
			ret = puts("ok") < 0;
		}
	} else if (rc == WEFT_ERR_INVAL || rc == WEFT_ERR_PARSE ||
		   rc == WEFT_ERR_TOOBIG) {
		if (c->json) {
			json_t *j = json_pack("{s:b, s:{s:s, s:s}}", "valid", 0,
					      "error", "path", err.path,
					      "message", err.message);

			cli_print_json(j);
			json_decref(j);
		} else {
			printf("%s%s%s\n", err.path, err.path[0] ? ": " : "",
			       err.message);
		}
	} else {
		fprintf(stderr, "weft-controller: cannot check the policy: %s\n",
			weft_strerror(rc));
	}
out:
	policy_free(p);
	store_rollback(tx);
	free(text);
	return ret;
}
