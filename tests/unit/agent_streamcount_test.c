/* agent/streamcount: a forward's counts shared by reference with its
 * streams, and the per-peer counts of the peers answer. */
#include "agent/streamcount.h"

#include "check.h"

#include <jansson.h>

static void forward_counts_live_until_the_last_reference(void)
{
	struct streamcount *c = streamcount_new();

	REQUIRE(c);
	CHECK_INT(c->refs, 1);
	c->refs++; /* a stream takes one */
	streamcount_put(c); /* the forward is removed */
	CHECK_INT(c->refs, 1);
	c->bytes_rx += 10; /* the stream still counts */
	streamcount_put(c); /* the stream ends: freed (ASan checks) */
	streamcount_put(NULL);
}

static void peers_count_opened_and_refused(void)
{
	struct streamcount_peers p;
	json_t *e = json_object(), *s;

	streamcount_peers_init(&p);
	streamcount_peer_add(&p, 7, false);
	streamcount_peer_add(&p, 7, false);
	streamcount_peer_add(&p, 7, true);
	streamcount_peer_add(&p, 0, true); /* no peer: not counted */
	CHECK_INT(streamcount_peer_json(&p, 7, 3, e), 0);
	s = json_object_get(e, "streams");
	CHECK_INT(json_integer_value(json_object_get(s, "active")), 3);
	CHECK_INT(json_integer_value(json_object_get(s, "opened")), 2);
	CHECK_INT(json_integer_value(json_object_get(s, "refused")), 1);
	CHECK_INT(streamcount_peer_json(&p, 8, 0, e), 0);
	s = json_object_get(e, "streams");
	CHECK_INT(json_integer_value(json_object_get(s, "opened")), 0);
	CHECK_INT(streamcount_peer_json(NULL, 7, 0, e), 0);
	CHECK_INT(json_integer_value(json_object_get(
			  json_object_get(e, "streams"), "refused")),
		  0);
	json_decref(e);
	streamcount_peers_free(&p);
}

static const struct check_case cases[] = {
	CHECK_CASE(forward_counts_live_until_the_last_reference),
	CHECK_CASE(peers_count_opened_and_refused),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
