/* The admin web UI: assets embedded in the binary at build time
 * (cmake/embed_web.mjs generates the table from web/) and the rules for
 * serving them. Pure code, no I/O and no knowledge of the API: the server
 * asks web_answer() what to send for a GET and sends it. */
#ifndef WEFT_WEB_H
#define WEFT_WEB_H

#include <stdbool.h>
#include <stddef.h>

struct web_asset {
	const char *path;          /* "/index.html", "/assets/app.HASH.js" */
	const char *content_type;
	const char *etag;          /* quoted, of the plain bytes */
	const char *etag_gz;       /* the same for the gzip variant */
	const unsigned char *plain;
	size_t plain_len;
	const unsigned char *gz;   /* gzip of plain, made at build time */
	size_t gz_len;
	int immutable;             /* content-hashed name: cache forever */
};

/* Generated: the UI's assets ({0}-terminated), the OpenAPI document, the
 * Content-Security-Policy (it carries the import map's hash) and the
 * UI's total gzipped size. */
extern const struct web_asset web_assets[];
extern const struct web_asset web_openapi;
extern const char web_csp[];
extern const size_t web_gz_total;

/* What to send for one GET/HEAD of the UI. Header values are static
 * strings; body points into the embedded table (never freed). */
struct web_answer {
	int status;                /* 200, 304 or 404 */
	const unsigned char *body;
	size_t len;
	bool gzip;                 /* Content-Encoding: gzip */
	const char *content_type;
	const char *etag;          /* NULL on 404 */
	const char *cache_control;
};

/* The answer for path given the request's Accept-Encoding and
 * If-None-Match headers (either may be NULL). "/" and unknown paths
 * without a dot in their last segment get index.html (client-side
 * routes); other unknown paths (missing assets) are 404. The server keeps
 * /api/ and the API's own routes away from here. */
void web_answer(const char *path, const char *accept_encoding,
		const char *if_none_match, struct web_answer *out);

/* Does an If-None-Match header value match etag ("*", or one of a list of
 * entity tags, weak or strong: RFC 9110 §13.1.2 uses weak comparison)?
 * NULL header: no. */
bool web_etag_matches(const char *if_none_match, const char *etag);

/* The headers every UI answer carries, as name/value pairs ending with a
 * NULL name. */
struct web_header {
	const char *name, *value;
};
extern const struct web_header web_security_headers[];

#endif
