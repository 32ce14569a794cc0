/* Feeds arbitrary bytes to the agent's HTTP response parser
 * (agent/httpmsg.c) whole, split in two at a point taken from the input,
 * and byte by byte: all three must end the same way (same result, status
 * and body), a complete body must fit the limit, and the connection's end
 * must be handled in any state. The input's first line also goes to the
 * URL parser, and a parsed URL to the request writer. */
#include "agent/httpmsg.h"
#include "shared/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	int rc;
	int status;
	size_t len;
	char body[BODY_MAX + 1];
};

static void finish(struct httpmsg_resp *r, int rc, struct outcome *o)
{
	const char *b;

	if (rc == 0)
		rc = httpmsg_resp_eof(r);
	o->rc = rc;
	o->status = rc == 1 ? httpmsg_resp_status(r) : 0;
	o->len = 0;
	if (rc != 1)
		return;
	b = httpmsg_resp_body(r, &o->len);
	if (o->len > BODY_MAX || b[o->len] != '\0')
		abort();
	memcpy(o->body, b, o->len);
}

static void same(const struct outcome *a, const struct outcome *b)
{
	if (a->rc != b->rc || a->status != b->status || a->len != b->len ||
	    memcmp(a->body, b->body, a->len) != 0)
		abort();
}

static void check_url(const uint8_t *data, size_t size)
{
	char line[2048];
	size_t n = 0;
	struct httpmsg_url u;
	struct buf b;

	while (n < size && n < sizeof(line) - 1 && data[n] != '\n' &&
	       data[n] != '\0')
		n++;
	memcpy(line, data, n);
	line[n] = '\0';
	if (httpmsg_url_parse(line, &u) != 0)
		return;
	if (u.port == 0 || !u.host[0] || u.path[0] != '/')
		abort();
	buf_init(&b, 8192);
	(void)httpmsg_request(&b, &(struct httpmsg_req){
		.method = "GET", .url = &u, .user_agent = "fuzz",
		.authorization = "Bearer x"});
	/* whatever the URL, the head has one blank line: at its end */
	if (b.len && (strstr(buf_cstr(&b), "\r\n\r\n") !=
		      (const char *)b.data + b.len - 4))
		abort();
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome whole, split, bytes;
	struct httpmsg_resp *r = NULL;
	size_t used = 0, at, i;
	int rc;

	check_url(data, size);
	if (httpmsg_resp_new(BODY_MAX, &r) != 0)
		abort();

	rc = httpmsg_resp_feed(r, data, size, &used);
	if (used > size || (rc == 0 && used != size))
		abort();
	finish(r, rc, &whole);

	httpmsg_resp_reset(r);
	at = size ? data[size - 1] % (size + 1) : 0;
	rc = httpmsg_resp_feed(r, data, at, &used);
	if (rc == 0)
		rc = httpmsg_resp_feed(r, data + at, size - at, &used);
	finish(r, rc, &split);
	same(&whole, &split);

	httpmsg_resp_reset(r);
	for (i = 0, rc = 0; i < size && rc == 0 && i < 16384; i++)
		rc = httpmsg_resp_feed(r, data + i, 1, &used);
	if (i == size || rc != 0) {
		finish(r, rc, &bytes);
		same(&whole, &bytes);
	}
	httpmsg_resp_del(r);
	return 0;
}
