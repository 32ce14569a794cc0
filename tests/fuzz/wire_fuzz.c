/* Feeds arbitrary bytes to every Weft wire decoder: the datagram
 * classifier, the frame decoder, the one-message decoder and the stream
 * reader (in chunks whose sizes come from the input itself). Whatever
 * decodes must re-encode to exactly the bytes it came from, and the
 * stream reader must agree with the one-message decoder. */
#include "shared/err.h"
#include "shared/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_frame(const uint8_t *data, size_t size)
{
	static uint8_t buf[WIRE_FRAME_MAX];
	struct wire_frame f;
	int rc = wire_frame_decode(data, size, &f);

	if (rc != 0) {
		if (rc != WEFT_ERR_PARSE)
			abort();
		return;
	}
	if (wire_classify(data, size) != WIRE_KIND_FRAME)
		abort();
	if (wire_frame_encode(&f, buf, sizeof(buf)) != (int)size ||
	    memcmp(buf, data, size) != 0)
		abort();
	if (size > 1 && wire_frame_encode(&f, buf, size - 1) != WEFT_ERR_TOOBIG)
		abort();
}

static void check_msg(const uint8_t *data, size_t size)
{
	static uint8_t buf[WIRE_MSG_MAX];
	struct wire_msg m;
	int rc = wire_msg_decode(data, size, &m);

	if (rc != 0) {
		if (rc != WEFT_ERR_PARSE)
			abort();
		return;
	}
	if (wire_msg_encode(&m, buf, sizeof(buf)) != (int)size ||
	    memcmp(buf, data, size) != 0)
		abort();
}

static void check_stream(const uint8_t *data, size_t size)
{
	static uint8_t buf[WIRE_MSG_MAX];
	struct wire_reader *r;
	size_t off = 0, done = 0, step = 0;
	int rc = 0;

	if (wire_reader_new(&r) != 0)
		abort();
	while (off < size && rc >= 0) {
		/* Chunk sizes 1..64 or a big one, chosen by the data. */
		size_t want = data[step++ % size] % 65;
		struct wire_msg m;

		if (want == 0)
			want = 5000;
		if (want > size - off)
			want = size - off;
		off += wire_reader_feed(r, data + off, want);
		while ((rc = wire_reader_next(r, &m)) == 1) {
			int n = wire_msg_encode(&m, buf, sizeof(buf));

			/* The message is exactly the next bytes of the
			 * stream, and decodes alone to the same thing. */
			if (n < WIRE_MSG_HDR_LEN || (size_t)n > size - done ||
			    memcmp(buf, data + done, (size_t)n) != 0)
				abort();
			if (wire_msg_decode(data + done, (size_t)n, &m) != 0)
				abort();
			done += (size_t)n;
		}
		if (rc < 0 && rc != WEFT_ERR_PARSE)
			abort();
	}
	if (rc == 0 && wire_reader_pending(r) != size - done)
		abort();
	wire_reader_del(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum wire_kind k = wire_classify(data, size);

	if (k != WIRE_KIND_DROP && k != WIRE_KIND_QUIC &&
	    k != WIRE_KIND_STUN && k != WIRE_KIND_FRAME)
		abort();
	check_frame(data, size);
	check_msg(data, size);
	check_stream(data, size);
	return 0;
}
