/* The controller process as an operator sees it: health and readiness
 * probes, Prometheus metrics (checked by promtool), HTTPS with certificate
 * reload on SIGHUP, clean shutdown on SIGTERM, and the OpenAPI document
 * matching the routes the server really serves. */
#include "check.h"
#include "controller/api.h"
#include "fx.h"
#include "ih.h"
#include "tlsgen.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct ih *start(void)
{
	struct ih *h = NULL;

	if (ih_new(NULL, &h) < 0)
		return NULL;
	return h;
}

static void unknown_path_is_the_routers_404_and_sigterm_stops_cleanly(void)
{
	struct ih *h = start();
	json_t *j = NULL;

	REQUIRE(h);
	CHECK(strncmp(h->bootstrap_key, "weft_api_", 9) == 0);
	CHECK_INT(fx_req(h, "GET", "/api/v1/no-such-thing", h->bootstrap_key,
			 NULL, &j), 404);
	CHECK_STR(fx_str(j, "error.code"), "not_found");
	CHECK_STR(fx_str(j, "error.message"), "no such API path");
	json_decref(j);
	CHECK_INT(ih_del(h), 0);
}


static void healthz_and_readyz_answer_without_credentials(void)
{
	struct ih *h = start();
	json_t *j = NULL;

	REQUIRE(h);
	CHECK_INT(fx_req(h, "GET", "/healthz", NULL, NULL, &j), 200);
	CHECK_STR(fx_str(j, "status"), "ok");
	json_decref(j);
	CHECK_INT(fx_req(h, "GET", "/readyz", NULL, NULL, &j), 200);
	CHECK_STR(fx_str(j, "status"), "ready");
	CHECK(fx_int(j, "schema_version") >= 1);
	json_decref(j);
	CHECK_INT(ih_del(h), 0);
}

static void readyz_is_503_when_the_database_is_gone(void)
{
	struct ih *h;
	json_t *j = NULL;
	char sql[128];

	/* Only PostgreSQL can lose its database under a running process; an
	 * open SQLite file stays readable after unlink. */
	if (!ih_backend_is_pg())
		return;
	h = start();
	REQUIRE(h);
	CHECK_INT(fx_req(h, "GET", "/readyz", NULL, NULL, NULL), 200);
	snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)",
		 h->db_name);
	CHECK_INT(ih_pg_admin(sql), 0);
	CHECK_INT(fx_req(h, "GET", "/readyz", NULL, NULL, &j), 503);
	CHECK(fx_str(j, "error.code") != NULL);
	json_decref(j);
	/* Liveness is not readiness: the process still runs. */
	CHECK_INT(fx_req(h, "GET", "/healthz", NULL, NULL, NULL), 200);
	CHECK_INT(ih_del(h), 0);
}

/* Runs promtool check metrics on text; returns its exit status and prints
 * its complaints. */
static int promtool_check(const char *text)
{
	char in[600], outp[600], cmd[1400];
	char *report = NULL;
	FILE *f;
	int st;

	snprintf(in, sizeof(in), "%s/metrics.txt", check_tmpdir());
	snprintf(outp, sizeof(outp), "%s/promtool.out", check_tmpdir());
	f = fopen(in, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' > '%s' 2>&1",
		 in, outp);
	st = system(cmd);
	if (st != 0 && ih_read_file(outp, &report) == 0) {
		fprintf(stderr, "promtool check metrics:\n%s\n", report);
		free(report);
	}
	return st == -1 ? -1 : WEXITSTATUS(st);
}

static void metrics_pass_promtool_and_count_requests(void)
{
	struct ih *h = start();
	char *text = NULL;
	long st = 0;

	REQUIRE(h);
	/* Some traffic first: a success, an auth failure, an unknown path. */
	CHECK_INT(fx_req(h, "GET", "/healthz", NULL, NULL, NULL), 200);
	CHECK_INT(fx_req(h, "GET", "/api/v1/users", "weft_api_0_bad", NULL,
			 NULL), 401);
	CHECK_INT(fx_req(h, "GET", "/api/v1/nope", NULL, NULL, NULL), 404);
	REQUIRE(ih_call_raw(h, "GET", "/metrics", NULL, NULL, 0, &st, &text,
			    NULL) == 0);
	CHECK_INT(st, 200);
	CHECK(strstr(text, "# TYPE ") != NULL);
	CHECK(strstr(text, "# HELP ") != NULL);
	CHECK(strstr(text, "/healthz") != NULL);
	CHECK(strstr(text, "401") != NULL);
	CHECK_INT(promtool_check(text), 0);
	free(text);
	CHECK_INT(ih_del(h), 0);
}

static void https_serves_the_certificate_and_sighup_swaps_it(void)
{
	char cert[600], key[600], *first = NULL, *served = NULL;
	struct ih *h = NULL;
	json_t *j = NULL;
	bool swapped = false;

	snprintf(cert, sizeof(cert), "%s/tls.crt", check_tmpdir());
	snprintf(key, sizeof(key), "%s/tls.key", check_tmpdir());
	REQUIRE_INT(tlsgen_selfsigned(cert, key, "weft test one"), 0);
	REQUIRE(ih_new(&(struct ih_opts){.tls_cert = cert, .tls_key = key},
		       &h) == 0);
	CHECK(strncmp(h->url, "https://", 8) == 0);
	CHECK_INT(fx_req(h, "GET", "/healthz", NULL, NULL, &j), 200);
	CHECK_STR(fx_str(j, "status"), "ok");
	json_decref(j);
	REQUIRE_INT(ih_read_file(cert, &first), 0);
	CHECK_INT(ih_peer_cert(h, &served), 0);
	CHECK(served && fx_pem_eq(served, first));
	free(served);
	served = NULL;

	/* A new pair on disk, then SIGHUP. Our CA file is the new certificate,
	 * so a handshake succeeds only once the server serves it. */
	CHECK_INT(tlsgen_selfsigned(cert, key, "weft test two"), 0);
	CHECK_INT(ih_signal(h, SIGHUP), 0);
	for (int i = 0; i < 100 && !swapped; i++) {
		char *now = NULL;

		if (ih_peer_cert(h, &served) == 0 &&
		    ih_read_file(cert, &now) == 0)
			swapped = fx_pem_eq(served, now) && !fx_pem_eq(now, first);
		free(now);
		free(served);
		served = NULL;
		if (!swapped)
			usleep(50000);
	}
	CHECK(swapped);
	CHECK_INT(fx_req(h, "GET", "/healthz", NULL, NULL, NULL), 200);
	free(first);
	CHECK_INT(ih_del(h), 0);
}

/* --- the OpenAPI document against the real route table --- */

#define MAX_ROUTES 128

struct route_set {
	char items[MAX_ROUTES][160]; /* "GET /api/v1/users/{}" */
	size_t n;
};

/* "/api/v1/users/{id}" → "/api/v1/users/{}" so parameter names may
 * differ between the document and the code. */
static void normalize(const char *method, const char *path, char *out,
		      size_t cap)
{
	size_t o = (size_t)snprintf(out, cap, "%s ", method);

	for (const char *p = path; *p && o + 3 < cap; p++) {
		if (*p == '{') {
			out[o++] = '{';
			out[o++] = '}';
			p = strchr(p, '}');
			if (!p)
				break;
			continue;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

static void set_add(struct route_set *s, const char *method, const char *path)
{
	if (s->n < MAX_ROUTES)
		normalize(method, path, s->items[s->n++], sizeof(s->items[0]));
}

static bool set_has(const struct route_set *s, const char *item)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->items[i], item) == 0)
			return true;
	return false;
}

static void add_route(void *ctx, const struct api_route *r)
{
	set_add(ctx, r->method, r->pattern);
}

/* Reads the (method, path) pairs of openapi.yaml's paths: section: path
 * keys are indented two spaces, operations four. */
static int read_openapi(struct route_set *s, struct route_set *raw)
{
	static const char *const methods[] = {"get", "post", "put", "patch",
					      "delete", NULL};
	const char *src = getenv("WEFT_SOURCE_DIR");
	char path[600], cur[256] = "", *text = NULL, *line, *save = NULL;
	bool in_paths = false;
	int rc;

	snprintf(path, sizeof(path), "%s/docs/api/openapi.yaml",
		 src ? src : ".");
	rc = ih_read_file(path, &text);
	if (rc < 0) {
		fprintf(stderr, "cannot read %s\n", path);
		return rc;
	}
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t len = strcspn(line, "#");

		while (len && (line[len - 1] == ' ' || line[len - 1] == '\r'))
			len--;
		line[len] = '\0';
		if (!len)
			continue;
		if (line[0] != ' ') {
			in_paths = strcmp(line, "paths:") == 0;
			continue;
		}
		if (!in_paths)
			continue;
		if (strncmp(line, "  /", 3) == 0 && line[len - 1] == ':') {
			snprintf(cur, sizeof(cur), "%.*s", (int)(len - 3),
				 line + 2);
			continue;
		}
		if (strncmp(line, "    ", 4) != 0 || line[4] == ' ' || !cur[0])
			continue;
		for (size_t m = 0; methods[m]; m++) {
			size_t ml = strlen(methods[m]);
			char up[8];

			if (strncmp(line + 4, methods[m], ml) != 0 ||
			    line[4 + ml] != ':')
				continue;
			for (size_t i = 0; i <= ml; i++)
				up[i] = (char)(methods[m][i] >= 'a' ?
					       methods[m][i] - 32 : methods[m][i]);
			set_add(s, up, cur);
			/* A route too long for an item is cut short; the
			 * result is checked so gcc does not reject the
			 * truncation (-Werror=format-truncation). */
			if (raw->n < MAX_ROUTES &&
			    snprintf(raw->items[raw->n], sizeof(raw->items[0]),
				     "%s %s", up, cur) >= 0)
				raw->n++;
		}
	}
	free(text);
	return 0;
}

static void openapi_lists_exactly_the_routes_the_server_serves(void)
{
	static struct route_set doc, raw, code;
	struct ih *h;

	memset(&doc, 0, sizeof(doc));
	memset(&raw, 0, sizeof(raw));
	memset(&code, 0, sizeof(code));
	REQUIRE_INT(read_openapi(&doc, &raw), 0);
	CHECK(doc.n >= 30);
	api_each_route(add_route, &code);
	for (size_t i = 0; i < doc.n; i++)
		check_report(set_has(&code, doc.items[i]), __FILE__, __LINE__,
			     "openapi.yaml documents %s, the server has no "
			     "such route", doc.items[i]);
	for (size_t i = 0; i < code.n; i++)
		check_report(set_has(&doc, code.items[i]), __FILE__, __LINE__,
			     "the server serves %s, openapi.yaml does not "
			     "document it", code.items[i]);

	/* And the running server routes every documented operation: any
	 * answer but the router's own 404/405 will do. */
	h = start();
	REQUIRE(h);
	for (size_t i = 0; i < raw.n; i++) {
		char method[16], path[256], url[300];
		size_t o = 0;
		json_t *j = NULL;
		long st;

		if (sscanf(raw.items[i], "%15s %255s", method, path) != 2)
			continue;
		for (const char *p = path; *p && o + 8 < sizeof(url); p++) {
			if (*p == '{') {
				o += (size_t)snprintf(url + o, sizeof(url) - o,
						      "999999");
				p = strchr(p, '}');
				if (!p)
					break;
				continue;
			}
			url[o++] = *p;
		}
		url[o] = '\0';
		{
			char *text = NULL;

			/* /metrics answers text; the rest JSON. */
			if (ih_call_raw(h, method, url, h->bootstrap_key, NULL,
					0, &st, &text, NULL) < 0)
				st = -1;
			j = text ? json_loads(text, 0, NULL) : NULL;
			free(text);
		}
		check_report(st > 0 && st != 405 &&
				     !(st == 404 &&
				       fx_str(j, "error.message") &&
				       strcmp(fx_str(j, "error.message"),
					      "no such API path") == 0),
			     __FILE__, __LINE__,
			     "%s %s: the server does not route it (%ld)",
			     method, url, st);
		json_decref(j);
	}
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(unknown_path_is_the_routers_404_and_sigterm_stops_cleanly),
	CHECK_CASE(healthz_and_readyz_answer_without_credentials),
	CHECK_CASE(readyz_is_503_when_the_database_is_gone),
	CHECK_CASE(metrics_pass_promtool_and_count_requests),
	CHECK_CASE(https_serves_the_certificate_and_sighup_swaps_it),
	CHECK_CASE(openapi_lists_exactly_the_routes_the_server_serves),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
