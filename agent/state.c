/* State machine and back-off: see state.h. */
#include "agent/state.h"

#include "shared/err.h"

#include <stddef.h>

static const char *const names[] = {
	[STATE_DISCONNECTED] = "disconnected",
	[STATE_AUTHENTICATING] = "authenticating",
	[STATE_SYNCING] = "syncing",
	[STATE_RUNNING] = "running",
	[STATE_RECONNECTING] = "reconnecting",
};

const char *state_name(enum state s)
{
	if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[s];
}

int state_next(enum state cur, enum state_event ev, enum state *out)
{
	enum state next;

	if ((unsigned)cur >= sizeof(names) / sizeof(names[0]))
		return WEFT_ERR_INVAL;
	if (cur == STATE_DISCONNECTED) {
		if (ev == STATE_EV_CONNECT_NEW)
			next = STATE_AUTHENTICATING;
		else if (ev == STATE_EV_CONNECT)
			next = STATE_SYNCING;
		else
			return WEFT_ERR_INVAL;
		*out = next;
		return 0;
	}
	switch (ev) {
	case STATE_EV_REGISTERED:
		if (cur != STATE_AUTHENTICATING)
			return WEFT_ERR_INVAL;
		next = STATE_SYNCING;
		break;
	case STATE_EV_MAP:
		if (cur == STATE_AUTHENTICATING)
			return WEFT_ERR_INVAL;
		next = STATE_RUNNING;
		break;
	case STATE_EV_FAIL:
		next = cur == STATE_RUNNING ? STATE_RECONNECTING : cur;
		break;
	case STATE_EV_FATAL:
	case STATE_EV_STOP:
		next = STATE_DISCONNECTED;
		break;
	default:
		return WEFT_ERR_INVAL;
	}
	*out = next;
	return 0;
}

void state_backoff_init(struct state_backoff *b, int64_t min_ms,
			int64_t max_ms)
{
	b->min_ms = min_ms;
	b->max_ms = max_ms;
	b->base_ms = min_ms;
}

void state_backoff_reset(struct state_backoff *b)
{
	b->base_ms = b->min_ms;
}

int64_t state_backoff_next(struct state_backoff *b, uint64_t rnd)
{
	int64_t base = b->base_ms, spread = base / 2, d;

	/* base - 25 % + [0, 50 %]: agents that lost the controller together
	 * come back spread out instead of in one burst. */
	d = base - base / 4 + (int64_t)(rnd % (uint64_t)(spread + 1));
	if (d < b->min_ms)
		d = b->min_ms;
	if (d > b->max_ms)
		d = b->max_ms;
	b->base_ms = base > b->max_ms / 2 ? b->max_ms : base * 2;
	return d;
}
