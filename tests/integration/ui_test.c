/* The admin web UI as a browser fetches it from a real controller over
 * real HTTP: the page and its security headers, the hashed assets it names
 * with their cache headers, ETag revalidation, gzip bodies that inflate to
 * the plain ones, client routes, missing assets, and the OpenAPI document
 * at /api/v1/openapi.yaml. */
#include "check.h"
#include "ih.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

struct got {
	long status;
	char *body;
	size_t len;
	char *head; /* all response header lines */
	size_t head_len;
};

static size_t grow(char **p, size_t *len, const void *data, size_t n)
{
	char *q = realloc(*p, *len + n + 1);

	if (!q)
		return 0;
	memcpy(q + *len, data, n);
	*len += n;
	q[*len] = '\0';
	*p = q;
	return n;
}

static size_t on_body(char *data, size_t sz, size_t n, void *arg)
{
	struct got *g = arg;

	return grow(&g->body, &g->len, data, sz * n);
}

static size_t on_head(char *data, size_t sz, size_t n, void *arg)
{
	struct got *g = arg;

	return grow(&g->head, &g->head_len, data, sz * n);
}

static void got_free(struct got *g)
{
	free(g->body);
	free(g->head);
	memset(g, 0, sizeof(*g));
}

/* GETs path with the extra request header lines (NULL-terminated, may be
 * NULL). The body is kept as sent: curl decodes no Content-Encoding. */
static int get(struct ih *h, const char *method, const char *path,
	       const char *const *hdrs, struct got *g)
{
	CURL *c = curl_easy_init();
	struct curl_slist *list = NULL;
	char url[512];
	CURLcode rc;

	memset(g, 0, sizeof(*g));
	if (!c)
		return -1;
	snprintf(url, sizeof(url), "%s%s", h->url, path);
	for (size_t i = 0; hdrs && hdrs[i]; i++)
		list = curl_slist_append(list, hdrs[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
	else
		fprintf(stderr, "GET %s: %s\n", url, curl_easy_strerror(rc));
	curl_slist_free_all(list);
	curl_easy_cleanup(c);
	if (!g->body)
		grow(&g->body, &g->len, "", 0);
	return rc == CURLE_OK ? 0 : -1;
}

/* The value of response header name (case-insensitive), copied into out;
 * NULL when absent. */
static const char *header(const struct got *g, const char *name, char *out,
			  size_t n)
{
	size_t nl = strlen(name);

	for (const char *p = g->head; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);

		if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;

			while (*v == ' ')
				v++;
			snprintf(out, n, "%.*s", (int)(ll - (size_t)(v - p)), v);
			return out;
		}
		p += ll + (eol ? 2 : 0);
	}
	return NULL;
}

static bool has_header(const struct got *g, const char *name,
		       const char *want)
{
	char v[2048];

	return header(g, name, v, sizeof(v)) && strcmp(v, want) == 0;
}

/* Inflates a gzip body; returns the malloc'd plain bytes or NULL. */
static char *gunzip(const char *in, size_t in_len, size_t *out_len)
{
	z_stream z = {0};
	size_t cap = in_len * 8 + 1024;
	char *out = malloc(cap);
	int rc;

	if (!out || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)in;
	z.avail_in = (unsigned)in_len;
	z.next_out = (unsigned char *)out;
	z.avail_out = (unsigned)cap;
	rc = inflate(&z, Z_FINISH);
	*out_len = z.total_out;
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

static struct ih *start(void)
{
	struct ih *h = NULL;

	if (ih_new(NULL, &h) < 0)
		return NULL;
	return h;
}

static void check_security_headers(const struct got *g)
{
	char csp[2048];

	REQUIRE(header(g, "Content-Security-Policy", csp, sizeof(csp)));
	CHECK(strstr(csp, "default-src 'self'") != NULL);
	CHECK(strstr(csp, "frame-ancestors 'none'") != NULL);
	CHECK(strstr(csp, "object-src 'none'") != NULL);
	CHECK(strstr(csp, "unsafe-inline") == NULL);
	CHECK(strstr(csp, "unsafe-eval") == NULL);
	CHECK(has_header(g, "X-Content-Type-Options", "nosniff"));
	CHECK(has_header(g, "Referrer-Policy", "no-referrer"));
}

/* The first "/assets/NAME.HASH.EXT" after "prefix" in the page. */
static bool asset_named(const char *page, const char *prefix, char *out,
			size_t n)
{
	const char *p = strstr(page, prefix);
	size_t len;

	if (!p)
		return false;
	len = strcspn(p, "\"");
	snprintf(out, n, "%.*s", (int)len, p);
	return true;
}

static void root_is_the_page_with_every_security_header(void)
{
	struct ih *h = start();
	struct got g;

	REQUIRE(h);
	REQUIRE_INT(get(h, "GET", "/", NULL, &g), 0);
	CHECK_INT(g.status, 200);
	CHECK(has_header(&g, "Content-Type", "text/html; charset=utf-8"));
	CHECK(has_header(&g, "Cache-Control", "no-cache"));
	CHECK(strstr(g.body, "<title>Weft</title>") != NULL);
	CHECK(strstr(g.body, "<script type=\"importmap\">") != NULL);
	check_security_headers(&g);
	got_free(&g);

	/* A client route is the same page; HEAD answers without a body. */
	REQUIRE_INT(get(h, "GET", "/nodes/12", NULL, &g), 0);
	CHECK_INT(g.status, 200);
	CHECK(strstr(g.body, "<title>Weft</title>") != NULL);
	got_free(&g);
	REQUIRE_INT(get(h, "HEAD", "/", NULL, &g), 0);
	CHECK_INT(g.status, 200);
	CHECK_INT(g.len, 0);
	check_security_headers(&g);
	got_free(&g);
	CHECK_INT(ih_del(h), 0);
}

static void hashed_assets_are_immutable_and_revalidate_by_etag(void)
{
	static const char *const gz[] = {"Accept-Encoding: gzip", NULL};
	struct ih *h = start();
	struct got page, js, js_gz, again;
	char name[256], etag[128], inm[200], v[128];
	const char *const cond[] = {inm, NULL};
	size_t plain_len = 0;
	char *plain;

	REQUIRE(h);
	REQUIRE_INT(get(h, "GET", "/", NULL, &page), 0);
	REQUIRE(asset_named(page.body, "/assets/app.", name, sizeof(name)));
	CHECK(strstr(name, ".js") || strstr(name, ".css"));

	REQUIRE_INT(get(h, "GET", name, NULL, &js), 0);
	CHECK_INT(js.status, 200);
	CHECK(has_header(&js, "Cache-Control",
			 "public, max-age=31536000, immutable"));
	CHECK(header(&js, "Content-Encoding", v, sizeof(v)) == NULL);
	CHECK(js.len > 0);
	check_security_headers(&js);
	REQUIRE(header(&js, "ETag", etag, sizeof(etag)));
	CHECK(etag[0] == '"');

	/* gzip when asked: the body inflates to exactly the plain one. */
	REQUIRE_INT(get(h, "GET", name, gz, &js_gz), 0);
	CHECK_INT(js_gz.status, 200);
	CHECK(has_header(&js_gz, "Content-Encoding", "gzip"));
	CHECK(has_header(&js_gz, "Vary", "Accept-Encoding"));
	CHECK(js_gz.len < js.len);
	plain = gunzip(js_gz.body, js_gz.len, &plain_len);
	REQUIRE(plain);
	CHECK_INT(plain_len, js.len);
	CHECK(plain_len == js.len && memcmp(plain, js.body, js.len) == 0);
	free(plain);

	/* Revalidation: the ETag gives 304 without a body, a stale one the
	 * asset. */
	snprintf(inm, sizeof(inm), "If-None-Match: W/\"x\", %s", etag);
	REQUIRE_INT(get(h, "GET", name, cond, &again), 0);
	CHECK_INT(again.status, 304);
	CHECK_INT(again.len, 0);
	CHECK(has_header(&again, "ETag", etag));
	got_free(&again);
	snprintf(inm, sizeof(inm), "If-None-Match: \"stale\"");
	REQUIRE_INT(get(h, "GET", name, cond, &again), 0);
	CHECK_INT(again.status, 200);
	CHECK_INT(again.len, js.len);
	got_free(&again);

	got_free(&page);
	got_free(&js);
	got_free(&js_gz);
	CHECK_INT(ih_del(h), 0);
}

static void every_module_the_page_imports_is_served(void)
{
	struct ih *h = start();
	struct got page, a;
	int n = 0;

	REQUIRE(h);
	REQUIRE_INT(get(h, "GET", "/", NULL, &page), 0);
	for (const char *p = strstr(page.body, "/assets/"); p;
	     p = strstr(p + 1, "/assets/")) {
		char name[256];

		size_t len = strcspn(p, "\"");

		/* An import map key ("/assets/pages/policy.js": the URL a
		 * relative import resolves to) is mapped, not served. */
		if (p[len] == '"' && p[len + 1] == ':')
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		REQUIRE_INT(get(h, "GET", name, NULL, &a), 0);
		if (!check_report(a.status == 200, __FILE__, __LINE__,
				  "%s: status %ld", name, a.status))
			continue;
		CHECK(has_header(&a, "Content-Type",
				 strstr(name, ".css") ? "text/css; charset=utf-8"
				 : strstr(name, ".svg")
					 ? "image/svg+xml"
					 : "text/javascript; charset=utf-8"));
		got_free(&a);
		n++;
	}
	/* app.js, app.css, the icon, the six vendored modules and the app's
	 * own (web/pages/, web/lib/). */
	CHECK(n >= 12);
	got_free(&page);
	CHECK_INT(ih_del(h), 0);
}

static void unknown_assets_are_404_and_api_paths_stay_json(void)
{
	struct ih *h = start();
	struct got g;

	REQUIRE(h);
	REQUIRE_INT(get(h, "GET", "/assets/app.000000000000.js", NULL, &g), 0);
	CHECK_INT(g.status, 404);
	check_security_headers(&g);
	got_free(&g);
	REQUIRE_INT(get(h, "GET", "/favicon.ico", NULL, &g), 0);
	CHECK_INT(g.status, 404);
	got_free(&g);
	/* Under /api/ the UI never answers, and API routes keep theirs. */
	REQUIRE_INT(get(h, "GET", "/api/v1/nope", NULL, &g), 0);
	CHECK_INT(g.status, 404);
	CHECK(strstr(g.body, "\"not_found\"") != NULL);
	got_free(&g);
	REQUIRE_INT(get(h, "GET", "/healthz", NULL, &g), 0);
	CHECK_INT(g.status, 200);
	CHECK(strstr(g.body, "\"ok\"") != NULL);
	got_free(&g);
	/* Other methods on UI paths are the API's 404. */
	REQUIRE_INT(get(h, "POST", "/", NULL, &g), 0);
	CHECK_INT(g.status, 404);
	got_free(&g);
	CHECK_INT(ih_del(h), 0);
}

static void openapi_document_is_served_as_built(void)
{
	static const char *const gz[] = {"Accept-Encoding: gzip", NULL};
	struct ih *h = start();
	const char *src = getenv("WEFT_SOURCE_DIR");
	char path[600], *want = NULL, *plain;
	struct got g;
	size_t plain_len = 0;

	REQUIRE(h);
	snprintf(path, sizeof(path), "%s/docs/api/openapi.yaml",
		 src ? src : ".");
	REQUIRE_INT(ih_read_file(path, &want), 0);
	REQUIRE_INT(get(h, "GET", "/api/v1/openapi.yaml", NULL, &g), 0);
	CHECK_INT(g.status, 200);
	CHECK(has_header(&g, "Content-Type", "application/yaml; charset=utf-8"));
	CHECK_INT(g.len, strlen(want));
	CHECK(strcmp(g.body, want) == 0);
	got_free(&g);
	REQUIRE_INT(get(h, "GET", "/api/v1/openapi.yaml", gz, &g), 0);
	CHECK(has_header(&g, "Content-Encoding", "gzip"));
	plain = gunzip(g.body, g.len, &plain_len);
	CHECK(plain && plain_len == strlen(want) &&
	      memcmp(plain, want, plain_len) == 0);
	free(plain);
	got_free(&g);
	free(want);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(root_is_the_page_with_every_security_header),
	CHECK_CASE(hashed_assets_are_immutable_and_revalidate_by_etag),
	CHECK_CASE(every_module_the_page_imports_is_served),
	CHECK_CASE(unknown_assets_are_404_and_api_paths_stay_json),
	CHECK_CASE(openapi_document_is_served_as_built),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
