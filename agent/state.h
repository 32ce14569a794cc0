/* The agent's control-plane state machine and its retry back-off.
 *
 *   Disconnected --connect (no credential)--> Authenticating
 *   Disconnected --connect (credential)-----> Syncing
 *   Authenticating --registered--> Syncing
 *   Syncing / Running / Reconnecting --map--> Running
 *   Running --fail--> Reconnecting (the last map stays in force)
 *   Authenticating / Syncing / Reconnecting --fail--> the same state
 *   any but Disconnected --fatal or stop--> Disconnected (the agent exits)
 *
 * Pure code: no I/O, no clock; the random input of the jitter is passed
 * in, so tests can pin it. */
#ifndef WEFT_AGENT_STATE_H
#define WEFT_AGENT_STATE_H

#include <stdint.h>

enum state {
	STATE_DISCONNECTED = 0,
	STATE_AUTHENTICATING,
	STATE_SYNCING,
	STATE_RUNNING,
	STATE_RECONNECTING,
};

enum state_event {
	STATE_EV_CONNECT_NEW, /* start without a node credential */
	STATE_EV_CONNECT,     /* start with a stored node credential */
	STATE_EV_REGISTERED,  /* registration answered with a credential */
	STATE_EV_MAP,         /* a map answer (keep-alives too) was applied */
	STATE_EV_FAIL,        /* the controller could not be reached, 5xx */
	STATE_EV_FATAL,       /* auth error, node removed or expired */
	STATE_EV_STOP,        /* asked to stop */
};

/* The lower-case name of a state ("running"); "unknown" for a bad value. */
const char *state_name(enum state s);

/* The state that cur moves to on ev. Returns 0 and *out, or
 * WEFT_ERR_INVAL when ev is not expected in cur (*out untouched). */
int state_next(enum state cur, enum state_event ev, enum state *out);

/* Exponential back-off with jitter: the n-th retry waits about
 * min_ms * 2^n, capped at max_ms, spread by +-25 % but never outside
 * [min_ms, max_ms]. Caller storage; plain value type. */
struct state_backoff {
	int64_t min_ms, max_ms;
	int64_t base_ms; /* the un-jittered delay of the next retry */
};

/* Sets b to its first delay. min_ms must be > 0 and <= max_ms. */
void state_backoff_init(struct state_backoff *b, int64_t min_ms,
			int64_t max_ms);

/* Back to the first delay (after a success). */
void state_backoff_reset(struct state_backoff *b);

/* The delay before the next retry, using rnd (any 64-bit random value)
 * for the jitter, and doubles the base for the retry after it. */
int64_t state_backoff_next(struct state_backoff *b, uint64_t rnd);

#endif
