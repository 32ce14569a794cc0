/* Connector choice per resource and the early-reject check: see
 * reschoice.h. */
#include "agent/reschoice.h"

#include "shared/err.h"

#include <stdlib.h>
#include <string.h>

struct reschoice {
	struct reschoice_entry *e;
	size_t n;
	uint64_t moves;
};

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix(uint64_t h)
{
	h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
	h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
	return h ^ (h >> 31);
}

uint64_t reschoice_weight(int64_t self, int64_t res, int64_t connector)
{
	uint64_t h = mix((uint64_t)self ^ 0x9E3779B97F4A7C15ull);

	h = mix(h ^ (uint64_t)res);
	return mix(h ^ (uint64_t)connector);
}

int64_t reschoice_pick(int64_t self, int64_t res, const int64_t *conn,
		       size_t n, int64_t current, reschoice_lost_fn lost,
		       void *ctx)
{
	int64_t best = 0, oldest = 0, since, oldest_since = 0;
	uint64_t bw = 0, ow = 0, w;
	size_t i;

	for (i = 0; i < n; i++) {
		bool is_lost = lost && lost(conn[i], &since, ctx);

		if (conn[i] == current && !is_lost)
			return current;
		w = reschoice_weight(self, res, conn[i]);
		if (!is_lost) {
			if (!best || w > bw) {
				best = conn[i];
				bw = w;
			}
		} else if (!oldest || since < oldest_since ||
			   (since == oldest_since && w > ow)) {
			oldest = conn[i];
			oldest_since = since;
			ow = w;
		}
	}
	return best ? best : oldest;
}

const char *reschoice_why_name(enum reschoice_why w)
{
	switch (w) {
	case RESCHOICE_NEW:
		return "new";
	case RESCHOICE_GONE:
		return "gone";
	case RESCHOICE_LOST:
		return "lost";
	case RESCHOICE_NONE:
		return "none";
	case RESCHOICE_BACK:
		return "back";
	}
	return "?";
}

int reschoice_new(struct reschoice **out)
{
	struct reschoice *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return WEFT_ERR_NOMEM;
	*out = rc;
	return 0;
}

void reschoice_del(struct reschoice *rc)
{
	if (!rc)
		return;
	free(rc->e);
	free(rc);
}

static bool listed(const struct map_res *r, int64_t id)
{
	for (size_t i = 0; i < r->nconnectors; i++)
		if (r->connectors[i] == id)
			return true;
	return false;
}

/* Picks for entry e (resource r) and records an event when it changed;
 * fresh: e is new in the table. */
static void repick(struct reschoice *rc, size_t idx, int64_t self,
		   const struct map_res *r, bool fresh, reschoice_lost_fn lost,
		   void *ctx, struct reschoice_event *ev, size_t *nev)
{
	struct reschoice_entry *e = &rc->e[idx];
	int64_t to = reschoice_pick(self, r->id, r->connectors,
				    r->nconnectors, e->connector, lost, ctx);
	enum reschoice_why why;

	if (!fresh && to == e->connector)
		return;
	if (fresh)
		why = to ? RESCHOICE_NEW : RESCHOICE_NONE;
	else if (!to)
		why = RESCHOICE_NONE;
	else if (!e->connector)
		why = RESCHOICE_BACK;
	else if (!listed(r, e->connector))
		why = RESCHOICE_GONE;
	else
		why = RESCHOICE_LOST;
	if (e->connector && to) {
		e->moves++;
		rc->moves++;
	}
	ev[(*nev)++] = (struct reschoice_event){
		.index = idx, .from = fresh ? 0 : e->connector, .to = to,
		.why = why};
	e->connector = to;
}

int reschoice_update(struct reschoice *rc, int64_t self,
		     const struct map_res *v, size_t n, reschoice_lost_fn lost,
		     void *ctx, struct reschoice_event **ev, size_t *nev)
{
	struct reschoice_entry *ne = calloc(n ? n : 1, sizeof(*ne));
	struct reschoice_event *evs = calloc(n ? n : 1, sizeof(*evs));
	struct reschoice_entry *old = rc->e;
	size_t nold = rc->n, i, j, k = 0;

	if (!ne || !evs) {
		free(ne);
		free(evs);
		return WEFT_ERR_NOMEM;
	}
	rc->e = ne;
	rc->n = n;
	for (i = 0; i < n; i++) {
		bool fresh = true;

		ne[i].id = v[i].id;
		/* Maps hold few resources, usually in the same order: look
		 * at the same position first. */
		for (j = 0; j < nold; j++) {
			size_t o = (i + j) % nold;

			if (old[o].id == v[i].id) {
				ne[i] = old[o];
				fresh = false;
				break;
			}
		}
		repick(rc, i, self, &v[i], fresh, lost, ctx, evs, &k);
	}
	free(old);
	*ev = evs;
	*nev = k;
	return 0;
}

int reschoice_recheck(struct reschoice *rc, int64_t self,
		      const struct map_res *v, size_t n,
		      reschoice_lost_fn lost, void *ctx,
		      struct reschoice_event **ev, size_t *nev)
{
	struct reschoice_event *evs;
	size_t i, k = 0;

	if (n != rc->n)
		return reschoice_update(rc, self, v, n, lost, ctx, ev, nev);
	evs = calloc(n ? n : 1, sizeof(*evs));
	if (!evs)
		return WEFT_ERR_NOMEM;
	for (i = 0; i < n; i++)
		repick(rc, i, self, &v[i], rc->e[i].id != v[i].id, lost, ctx,
		       evs, &k);
	*ev = evs;
	*nev = k;
	return 0;
}

const struct reschoice_entry *reschoice_entries(const struct reschoice *rc,
						size_t *n)
{
	*n = rc->n;
	return rc->e;
}

uint64_t reschoice_moves(const struct reschoice *rc)
{
	return rc->moves;
}

static bool port_in(const struct map_res_filter *f, uint16_t port)
{
	if (!f->nports)
		return true;
	for (size_t i = 0; i < f->nports; i++)
		if (port >= f->ports[i].lo && port <= f->ports[i].hi)
			return true;
	return false;
}

bool reschoice_allows(const struct map_res_filter *filters, size_t n,
		      const struct packet_info *pi)
{
	int want;

	if (!n)
		return true;
	switch (pi->proto) {
	case PACKET_PROTO_TCP:
		want = MAP_PROTO_TCP;
		break;
	case PACKET_PROTO_UDP:
		want = MAP_PROTO_UDP;
		break;
	case PACKET_PROTO_ICMP:
		want = pi->version == 4 ? MAP_PROTO_ICMP : -1;
		break;
	case PACKET_PROTO_ICMPV6:
		want = pi->version == 6 ? MAP_PROTO_ICMP : -1;
		break;
	default:
		want = -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (filters[i].proto != want)
			continue;
		if (want == MAP_PROTO_ICMP || !pi->has_ports)
			return true;
		return port_in(&filters[i], pi->dport);
	}
	return false;
}
