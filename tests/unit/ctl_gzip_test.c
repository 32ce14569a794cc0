/* Accept-Encoding reading and response bodies with a shared part, plain
 * and gzipped (controller/http.c, controller/gz.c). */
#include "check.h"
#include "controller/gz.h"
#include "controller/http.h"
#include "shared/err.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void accept_encoding_is_read_per_rfc_9110(void)
{
	CHECK(http_accepts_gzip("gzip"));
	CHECK(http_accepts_gzip("deflate, gzip"));
	CHECK(http_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
	CHECK(http_accepts_gzip("x-gzip"));
	CHECK(http_accepts_gzip("*"));
	CHECK(!http_accepts_gzip(NULL));
	CHECK(!http_accepts_gzip(""));
	CHECK(!http_accepts_gzip("identity"));
	CHECK(!http_accepts_gzip("deflate, br"));
	CHECK(!http_accepts_gzip("gzip;q=0"));
	CHECK(!http_accepts_gzip("gzipx"));
	CHECK(!http_accepts_gzip("xgzip, br"));
}

/* {"a":"xxx…","filter":<shared>} with a 4 KB shared part. */
static void resp_with_shared(struct http_resp *r, char **want, size_t *wlen)
{
	static const char head[] = "{\"a\":\"hello\",\"filter\":";
	char shared[4096];
	struct http_shared *sh = NULL;

	for (size_t i = 0; i < sizeof(shared); i++)
		shared[i] = "0123456789abcdef\"[]"[i % 16];
	memset(r, 0, sizeof(*r));
	r->status = 200;
	r->text_len = sizeof(head) - 1 + 1;
	r->text = malloc(r->text_len + 1);
	REQUIRE(r->text);
	memcpy(r->text, head, sizeof(head) - 1);
	memcpy(r->text + sizeof(head) - 1, "}", 2);
	REQUIRE_INT(http_shared_new(shared, sizeof(shared), &sh), 0);
	r->splice = sh;
	r->splice_at = sizeof(head) - 1;
	*wlen = sizeof(head) - 1 + sizeof(shared) + 1;
	*want = malloc(*wlen);
	REQUIRE(*want);
	memcpy(*want, head, sizeof(head) - 1);
	memcpy(*want + sizeof(head) - 1, shared, sizeof(shared));
	(*want)[*wlen - 1] = '}';
}

static void shared_part_is_spliced_plain_and_in_gzip(void)
{
	struct http_resp r;
	char *want = NULL, *body = NULL, *out;
	size_t wlen = 0, len = 0;
	bool gz = true;
	z_stream z;

	resp_with_shared(&r, &want, &wlen);
	REQUIRE_INT(http_resp_body(&r, false, &body, &len, &gz), 0);
	CHECK(!gz);
	CHECK_INT(len, wlen);
	CHECK(memcmp(body, want, wlen) == 0);
	free(body);
	/* Twice: the second answer reuses the shared part's compressed
	 * segment. */
	for (int round = 0; round < 2; round++) {
		REQUIRE_INT(http_resp_body(&r, true, &body, &len, &gz), 0);
		CHECK(gz);
		CHECK(len < wlen);
		out = malloc(wlen + 1);
		REQUIRE(out);
		memset(&z, 0, sizeof(z));
		REQUIRE(inflateInit2(&z, 16 + 15) == Z_OK);
		z.next_in = (Bytef *)body;
		z.avail_in = (uInt)len;
		z.next_out = (Bytef *)out;
		z.avail_out = (uInt)wlen + 1;
		CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
		CHECK_INT(z.total_out, wlen);
		CHECK(memcmp(out, want, wlen) == 0);
		inflateEnd(&z);
		free(out);
		free(body);
	}
	http_resp_free(&r);
	free(want);
}

static void small_bodies_stay_plain(void)
{
	struct http_resp r = {0};
	char *body = NULL;
	size_t len = 0;
	bool gz = true;

	http_resp_json(&r, 200, json_pack("{si}", "version", 3));
	REQUIRE_INT(http_resp_body(&r, true, &body, &len, &gz), 0);
	CHECK(!gz);
	CHECK_STR(body, "{\"version\":3}");
	free(body);
	http_resp_free(&r);
}

/* Segments up to 1 KB are stored blocks (5 bytes more than their
 * input), larger ones are compressed; any mix joins into one member that
 * inflates to the concatenation, in this thread and with its stream
 * reused. */
static void small_segments_are_stored_and_mixes_inflate(void)
{
	static const size_t sizes[] = {0, 1, 1024, 1025, 70000, 3, 300};
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	struct gz_seg seg[N];
	const struct gz_seg *parts[N];
	unsigned char *in, *out, *gz = NULL;
	size_t total = 0, off = 0, gzlen = 0;
	z_stream z;

	for (size_t i = 0; i < N; i++)
		total += sizes[i];
	in = malloc(total);
	out = malloc(total + 1);
	REQUIRE(in && out);
	for (size_t i = 0; i < total; i++)
		in[i] = (unsigned char)"{\"peer\":[1,2,3]} "[i % 18];
	for (size_t i = 0; i < N; i++) {
		REQUIRE_INT(gz_seg_make(in + off, sizes[i], &seg[i]), 0);
		parts[i] = &seg[i];
		if (sizes[i] <= 1024)
			CHECK_INT(seg[i].len, sizes[i] + 5);
		else
			CHECK(seg[i].len < sizes[i] / 4);
		off += sizes[i];
	}
	REQUIRE_INT(gz_join(parts, N, &gz, &gzlen), 0);
	memset(&z, 0, sizeof(z));
	REQUIRE(inflateInit2(&z, 16 + 15) == Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = out;
	z.avail_out = (uInt)total + 1;
	CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
	CHECK_INT(z.avail_in, 0);
	CHECK_INT(z.total_out, total);
	CHECK(memcmp(out, in, total) == 0);
	inflateEnd(&z);
	for (size_t i = 0; i < N; i++)
		gz_seg_free(&seg[i]);
	free(gz);
	free(in);
	free(out);
}

static const struct check_case cases[] = {
	CHECK_CASE(small_segments_are_stored_and_mixes_inflate),
	CHECK_CASE(accept_encoding_is_read_per_rfc_9110),
	CHECK_CASE(shared_part_is_spliced_plain_and_in_gzip),
	CHECK_CASE(small_bodies_stay_plain),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
