/* The map's relays: see relayset.h.
 *
 * One slot per relay, each with its own relay client on the shared
 * endpoint; the slot is the client's callback context, so an event says
 * which relay it is about. A timer re-evaluates the home relay every
 * CHOOSE_MS; the end of the home relay's connection does at once. */
#include "agent/relayset.h"

#include "shared/clock.h"
#include "shared/err.h"
#include "shared/loop.h"

#include <netdb.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Resolves "host:port" or "addr:port". */
static int relay_addr(const char *s, struct ip_endpoint *out)
{
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_DGRAM}, *ai = NULL;
	char host[256];
	const char *colon = s ? strrchr(s, ':') : NULL;
	int rc;

	if (!s)
		return WEFT_ERR_INVAL;
	if (ip_endpoint_parse(s, out) == 0)
		return 0;
	if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
		return WEFT_ERR_INVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
		return WEFT_ERR_NOTFOUND;
	rc = ip_endpoint_from_sockaddr(ai->ai_addr, ai->ai_addrlen, out);
	freeaddrinfo(ai);
	return rc;
}

int relayset_target(const struct map_relay *r, struct relayc_target *t)
{
	int rc;

	if (!r->name || !*r->name || !r->has_pin)
		return WEFT_ERR_INVAL;
	memset(t, 0, sizeof(*t));
	rc = relay_addr(r->address, &t->addr);
	if (rc < 0)
		return rc;
	snprintf(t->name, sizeof(t->name), "%s", r->name);
	memcpy(t->pin, r->pin, sizeof(t->pin));
	return 0;
}

/* ---- the home choice ---- */

/* How long after the first relay came up the choice waits for the others
 * to connect (and needs no stability) before it picks among those up. */
#define START_MS 1500
#define CHOOSE_MS 1000

/* Is a (RTT) enough better than b to move: 30 % and 5 ms faster. */
static bool much_better(uint64_t a, uint64_t b)
{
	return a + 5000 <= b && a * 10 <= b * 7;
}

int relayset_choose(const struct relayset_cand *c, size_t n, int cur,
		    int64_t started_ms, int64_t now_ms)
{
	bool starting = now_ms - started_ms < START_MS;
	int best = -1, best_any = -1;

	for (size_t i = 0; i < n; i++) {
		if (!c[i].up)
			continue;
		if (best_any < 0 || c[i].rtt_us < c[best_any].rtt_us)
			best_any = (int)i;
		if (!starting && now_ms - c[i].up_since_ms < RELAYSET_STABLE_MS)
			continue;
		if (best < 0 || c[i].rtt_us < c[best].rtt_us)
			best = (int)i;
	}
	if (cur >= 0 && (size_t)cur < n && c[cur].up) {
		if (best >= 0 && best != cur &&
		    much_better(c[best].rtt_us, c[cur].rtt_us))
			return best;
		return cur;
	}
	/* No home (or it is gone): the best stable relay, else the best up
	 * (a relay that just came back is better than none). */
	return best >= 0 ? best : best_any;
}

/* ---- the set ---- */

struct slot {
	struct relayset *s;
	struct relayc *rc;
	char name[RELAYC_NAME_MAX];
	bool up;
	int64_t up_since_ms;
};

struct relayset {
	struct loop *loop;
	struct quic_endpoint *ep;
	struct relayc_callbacks cbs;
	void *ctx;
	struct loop_timer *timer;
	const struct map *map;
	char *token;
	struct slot *slots[RELAYSET_MAX];
	size_t n;
	int home;           /* index into slots, -1: none */
	int64_t started_ms; /* the first relay came up; -1: not yet */
};

static int64_t now_ms(void)
{
	return clock_mono_ms();
}

static void choose(struct relayset *s)
{
	struct relayset_cand c[RELAYSET_MAX];
	struct relayc_event ev = {.kind = RELAYC_HOME};
	int next;

	if (s->started_ms < 0)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct relayc_status st;

		relayc_status(s->slots[i]->rc, &st);
		c[i].up = s->slots[i]->up;
		c[i].up_since_ms = s->slots[i]->up_since_ms;
		c[i].rtt_us = st.rtt_us;
	}
	/* While starting, wait for every relay (or START_MS). */
	if (s->home < 0 && now_ms() - s->started_ms < START_MS) {
		for (size_t i = 0; i < s->n; i++)
			if (!c[i].up)
				return;
	}
	next = relayset_choose(c, s->n, s->home, s->started_ms, now_ms());
	if (next == s->home || next < 0)
		return;
	s->home = next;
	ev.name = s->slots[next]->name;
	if (s->cbs.on_event)
		s->cbs.on_event(&ev, s->ctx);
}

static void on_timer(struct loop_timer *t, void *ctx)
{
	struct relayset *s = ctx;

	choose(s);
	loop_timer_start(t, CHOOSE_MS * 1000);
}

static void on_event(const struct relayc_event *ev, void *ctx)
{
	struct slot *sl = ctx;
	struct relayset *s = sl->s;

	if (ev->kind == RELAYC_AUTHED && !sl->up) {
		sl->up = true;
		sl->up_since_ms = now_ms();
		if (s->started_ms < 0)
			s->started_ms = sl->up_since_ms;
	} else if (ev->kind == RELAYC_CLOSED) {
		sl->up = false;
	}
	if (s->cbs.on_event)
		s->cbs.on_event(ev, s->ctx);
	if ((ev->kind == RELAYC_CLOSED && s->home >= 0 &&
	     s->slots[s->home] == sl) ||
	    (ev->kind == RELAYC_AUTHED && s->home < 0))
		choose(s);
}

static void on_frame(uint64_t src, const uint8_t *p, size_t len, void *ctx)
{
	struct slot *sl = ctx;

	if (sl->s->cbs.on_frame)
		sl->s->cbs.on_frame(src, p, len, sl->s->ctx);
}

static void on_peer_gone(uint64_t node, uint8_t reason, void *ctx)
{
	struct slot *sl = ctx;

	if (sl->s->cbs.on_peer_gone)
		sl->s->cbs.on_peer_gone(node, reason, sl->s->ctx);
}

static void on_signal(uint64_t src, const uint8_t *p, size_t len, void *ctx)
{
	struct slot *sl = ctx;

	if (sl->s->cbs.on_signal)
		sl->s->cbs.on_signal(src, p, len, sl->s->ctx);
}

static const struct relayc_callbacks slot_cbs = {
	.on_event = on_event,
	.on_frame = on_frame,
	.on_peer_gone = on_peer_gone,
	.on_signal = on_signal,
};

int relayset_new(struct loop *l, struct quic_endpoint *ep,
		 const struct relayc_callbacks *cbs, void *ctx,
		 struct relayset **out)
{
	struct relayset *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return WEFT_ERR_NOMEM;
	s->loop = l;
	s->ep = ep;
	s->cbs = *cbs;
	s->ctx = ctx;
	s->home = -1;
	s->started_ms = -1;
	rc = loop_timer_new(l, on_timer, s, &s->timer);
	if (rc < 0) {
		free(s);
		return rc;
	}
	loop_timer_start(s->timer, CHOOSE_MS * 1000);
	*out = s;
	return 0;
}

static void slot_del(struct slot *sl)
{
	if (!sl)
		return;
	relayc_del(sl->rc);
	free(sl);
}

void relayset_del(struct relayset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		slot_del(s->slots[i]);
	loop_timer_del(s->timer);
	free(s->token);
	free(s);
}

/* The slot of the relay named name, or -1. */
static int find(const struct relayset *s, const char *name)
{
	for (size_t i = 0; name && i < s->n; i++)
		if (s->slots[i] && strcmp(s->slots[i]->name, name) == 0)
			return (int)i;
	return -1;
}

static struct slot *slot_new(struct relayset *s, const char *name)
{
	struct slot *sl = calloc(1, sizeof(*sl));

	if (!sl)
		return NULL;
	sl->s = s;
	snprintf(sl->name, sizeof(sl->name), "%s", name);
	if (relayc_new(s->loop, s->ep, &slot_cbs, sl, &sl->rc) < 0) {
		free(sl);
		return NULL;
	}
	return sl;
}

size_t relayset_update(struct relayset *s, const struct map *m,
		       const char *token, const char **bad)
{
	struct slot *keep[RELAYSET_MAX] = {0};
	struct relayc_target tk[RELAYSET_MAX];
	struct slot *home = s->home >= 0 ? s->slots[s->home] : NULL;
	size_t nr, nbad = 0, n = 0;
	const struct map_relay *r = map_relays(m, &nr);

	*bad = NULL;
	s->map = m;
	if (token && (!s->token || strcmp(token, s->token) != 0)) {
		free(s->token);
		s->token = strdup(token);
	}
	for (size_t i = 0; i < nr; i++) {
		struct relayc_target t;
		int at = find(s, r[i].name);
		struct slot *sl;

		if (n == RELAYSET_MAX || relayset_target(&r[i], &t) < 0) {
			if (!nbad++)
				*bad = r[i].name;
			continue;
		}
		sl = at >= 0 ? s->slots[at] : slot_new(s, r[i].name);
		if (at >= 0)
			s->slots[at] = NULL;
		if (!sl) {
			if (!nbad++)
				*bad = r[i].name;
			continue;
		}
		tk[n] = t;
		keep[n++] = sl;
	}
	for (size_t i = 0; i < s->n; i++)
		slot_del(s->slots[i]); /* gone from the map */
	s->home = -1;
	for (size_t i = 0; i < n; i++) {
		s->slots[i] = keep[i];
		if (keep[i] == home)
			s->home = (int)i;
	}
	s->n = n;
	/* Only now, with the set whole again: a new address closes the old
	 * connection, whose event reads the set (relayset_up, choose). */
	for (size_t i = 0; i < n; i++) {
		relayc_set_token(keep[i]->rc, s->token);
		relayc_set_relay(keep[i]->rc, &tk[i]);
	}
	if (s->home < 0)
		choose(s);
	return nbad;
}

struct relayc *relayset_home(const struct relayset *s)
{
	if (s->home >= 0)
		return s->slots[s->home]->rc;
	return s->n ? s->slots[0]->rc : NULL;
}

bool relayset_up(const struct relayset *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->slots[i]->up)
			return true;
	return false;
}

void relayset_input(struct relayset *s, const struct ip_endpoint *from,
		    const uint8_t *data, size_t len)
{
	/* Each client takes only what comes from its relay's address. */
	for (size_t i = 0; i < s->n; i++)
		relayc_input(s->slots[i]->rc, from, data, len);
}

/* The relay for frames to dst: its home relay, ours, any. */
static struct relayc *route(const struct relayset *s, uint64_t dst)
{
	const struct map_peer *p =
		s->map && dst <= INT64_MAX ? map_peer(s->map, (int64_t)dst)
					   : NULL;
	int at = p ? find(s, p->home_relay) : -1;

	if (at >= 0 && s->slots[at]->up)
		return s->slots[at]->rc;
	if (s->home >= 0 && s->slots[s->home]->up)
		return s->slots[s->home]->rc;
	for (size_t i = 0; i < s->n; i++)
		if (s->slots[i]->up)
			return s->slots[i]->rc;
	return NULL;
}

int relayset_send(struct relayset *s, uint64_t dst, const void *payload,
		  size_t len)
{
	struct relayc *rc = route(s, dst);

	return rc ? relayc_send(rc, dst, payload, len) : WEFT_ERR_CLOSED;
}

int relayset_signal(struct relayset *s, uint64_t dst, const void *data,
		    size_t len)
{
	struct relayc *rc = route(s, dst);

	return rc ? relayc_signal(rc, dst, data, len) : WEFT_ERR_CLOSED;
}

json_t *relayset_json(const struct relayset *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < s->n; i++) {
		struct relayc_status st;

		relayc_status(s->slots[i]->rc, &st);
		if (json_array_append_new(a, json_pack(
			    "{s:s, s:b, s:f, s:b}", "name", s->slots[i]->name,
			    "connected", st.connected, "rtt_ms",
			    (double)st.rtt_us / 1000.0, "home",
			    (int)i == s->home)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
