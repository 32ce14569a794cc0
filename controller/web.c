/* Serving the embedded admin UI (web.h). */
#include "controller/web.h"

#include "controller/http.h"

#include <string.h>

#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define CACHE_REVALIDATE "no-cache"

const struct web_header web_security_headers[] = {
	{"Content-Security-Policy", web_csp},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Frame-Options", "DENY"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{NULL, NULL},
};

static const struct web_asset *find(const char *path)
{
	for (const struct web_asset *a = web_assets; a->path; a++)
		if (strcmp(a->path, path) == 0)
			return a;
	return NULL;
}

/* A client route: no dot in the last segment ("/nodes/12"), so it can be
 * told from a missing file ("/assets/old.1234.js"). */
static bool is_route(const char *path)
{
	const char *last = strrchr(path, '/');

	return path[0] == '/' && !strchr(last ? last : path, '.');
}

/* Skips spaces and commas. */
static const char *skip_sep(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	return p;
}

bool web_etag_matches(const char *inm, const char *etag)
{
	size_t elen;

	if (!inm || !etag)
		return false;
	elen = strlen(etag);
	for (const char *p = skip_sep(inm); *p; p = skip_sep(p)) {
		const char *end;

		if (*p == '*')
			return true;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"') {
			/* Not an entity tag: skip to the next list item. */
			p += strcspn(p, ",");
			continue;
		}
		end = strchr(p + 1, '"');
		if (!end)
			return false;
		if ((size_t)(end + 1 - p) == elen && memcmp(p, etag, elen) == 0)
			return true;
		p = end + 1;
	}
	return false;
}

void web_answer(const char *path, const char *accept_encoding,
		const char *if_none_match, struct web_answer *out)
{
	const struct web_asset *a = path ? find(path) : NULL;

	memset(out, 0, sizeof(*out));
	if (!a && path && (strcmp(path, "/") == 0 || is_route(path)))
		a = find("/index.html");
	if (!a) {
		static const char msg[] = "not found\n";

		out->status = 404;
		out->body = (const unsigned char *)msg;
		out->len = sizeof(msg) - 1;
		out->content_type = "text/plain; charset=utf-8";
		out->cache_control = "no-store";
		return;
	}
	out->status = 200;
	out->content_type = a->content_type;
	out->cache_control = a->immutable ? CACHE_IMMUTABLE : CACHE_REVALIDATE;
	out->gzip = http_accepts_gzip(accept_encoding);
	out->etag = out->gzip ? a->etag_gz : a->etag;
	if (web_etag_matches(if_none_match, a->etag) ||
	    web_etag_matches(if_none_match, a->etag_gz)) {
		out->status = 304;
		return;
	}
	out->body = out->gzip ? a->gz : a->plain;
	out->len = out->gzip ? a->gz_len : a->plain_len;
}
