/* controller/web.c against the assets the build embedded: which paths get
 * which asset, cache headers, gzip choice, If-None-Match parsing. */
#include "check.h"
#include "controller/web.h"

#include <stdio.h>
#include <string.h>

static const struct web_asset *index_asset(void)
{
	for (const struct web_asset *a = web_assets; a->path; a++)
		if (strcmp(a->path, "/index.html") == 0)
			return a;
	return NULL;
}

static void if_none_match_lists_weak_and_star(void)
{
	CHECK(web_etag_matches("\"abc\"", "\"abc\""));
	CHECK(web_etag_matches("W/\"abc\"", "\"abc\""));
	CHECK(web_etag_matches("\"x\", W/\"y\" ,\"abc\"", "\"abc\""));
	CHECK(web_etag_matches("*", "\"abc\""));
	CHECK(!web_etag_matches("\"abcd\"", "\"abc\""));
	CHECK(!web_etag_matches("\"ab\"", "\"abc\""));
	CHECK(!web_etag_matches("abc", "\"abc\""));
	CHECK(!web_etag_matches("\"abc", "\"abc\""));
	CHECK(!web_etag_matches("", "\"abc\""));
	CHECK(!web_etag_matches(NULL, "\"abc\""));
	CHECK(web_etag_matches("junk, \"abc\"", "\"abc\""));
}

static void every_asset_is_gzip_of_its_plain_bytes_and_hashed(void)
{
	size_t total = 0;
	int n = 0;

	for (const struct web_asset *a = web_assets; a->path; a++, n++) {
		CHECK(a->plain_len > 0);
		CHECK(a->gz_len > 18); /* header + trailer at least */
		CHECK(a->gz[0] == 0x1f && a->gz[1] == 0x8b);
		CHECK(a->etag[0] == '"' && a->etag_gz[0] == '"');
		CHECK(strcmp(a->etag, a->etag_gz) != 0);
		/* Hashed names are immutable, index.html is not. */
		CHECK_INT(a->immutable, strncmp(a->path, "/assets/", 8) == 0);
		total += a->gz_len;
	}
	CHECK(n >= 9);
	CHECK_INT(total, web_gz_total);
	CHECK(web_gz_total <= 150 * 1024);
	CHECK(index_asset() != NULL);
}

static void paths_map_to_index_assets_or_404(void)
{
	const struct web_asset *idx = index_asset();
	const struct web_asset *js = NULL;
	struct web_answer a;
	char inm[128];

	REQUIRE(idx);
	for (const struct web_asset *x = web_assets; x->path; x++)
		if (x->immutable)
			js = x;
	REQUIRE(js);

	web_answer("/", NULL, NULL, &a);
	CHECK_INT(a.status, 200);
	CHECK(a.body == idx->plain && a.len == idx->plain_len && !a.gzip);
	CHECK_STR(a.cache_control, "no-cache");
	CHECK_STR(a.etag, idx->etag);

	web_answer("/policy", "br, gzip;q=0.5", NULL, &a);
	CHECK_INT(a.status, 200);
	CHECK(a.body == idx->gz && a.len == idx->gz_len && a.gzip);
	CHECK_STR(a.etag, idx->etag_gz);

	web_answer("/nodes/12", "gzip;q=0", NULL, &a);
	CHECK(a.body == idx->plain && !a.gzip);

	web_answer(js->path, "gzip", NULL, &a);
	CHECK_INT(a.status, 200);
	CHECK(a.body == js->gz);
	CHECK_STR(a.cache_control, "public, max-age=31536000, immutable");
	CHECK_STR(a.content_type, js->content_type);

	/* Either variant's tag revalidates. */
	snprintf(inm, sizeof(inm), "%s", js->etag);
	web_answer(js->path, "gzip", inm, &a);
	CHECK_INT(a.status, 304);
	CHECK(a.len == 0);
	CHECK_STR(a.etag, js->etag_gz);
	web_answer(js->path, NULL, js->etag_gz, &a);
	CHECK_INT(a.status, 304);
	web_answer(js->path, NULL, idx->etag, &a);
	CHECK_INT(a.status, 200);

	web_answer("/assets/app.000000000000.js", NULL, NULL, &a);
	CHECK_INT(a.status, 404);
	CHECK(a.etag == NULL);
	web_answer("/favicon.ico", NULL, NULL, &a);
	CHECK_INT(a.status, 404);
	web_answer("/a.b/c", NULL, NULL, &a);
	CHECK_INT(a.status, 200); /* the last segment has no dot */
}

static void security_headers_forbid_inline_script_and_framing(void)
{
	const char *csp = NULL;

	for (const struct web_header *h = web_security_headers; h->name; h++)
		if (strcmp(h->name, "Content-Security-Policy") == 0)
			csp = h->value;
	REQUIRE(csp);
	CHECK(strstr(csp, "unsafe-inline") == NULL);
	CHECK(strstr(csp, "unsafe-eval") == NULL);
	CHECK(strstr(csp, "frame-ancestors 'none'") != NULL);
	CHECK(strstr(csp, "script-src 'self' 'sha256-") != NULL);
}

static const struct check_case cases[] = {
	CHECK_CASE(if_none_match_lists_weak_and_star),
	CHECK_CASE(every_asset_is_gzip_of_its_plain_bytes_and_hashed),
	CHECK_CASE(paths_map_to_index_assets_or_404),
	CHECK_CASE(security_headers_forbid_inline_script_and_framing),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
