/* The client side of resources: see resclient.h. */
#include "agent/resclient.h"

#include "agent/dataplane.h"
#include "agent/map.h"
#include "agent/reschoice.h"
#include "agent/resnames.h"
#include "agent/tunnel.h"
#include "agent/wildsend.h"
#include "shared/err.h"
#include "shared/log.h"

#include <stdlib.h>
#include <string.h>

struct resclient {
	struct reschoice *choice;
	int64_t *watched;    /* connector ids we watch, ascending */
	size_t nwatched;
	struct wildcard_table *wild; /* names given under wildcard resources */
	struct wildsend *ws;         /* ... told to their connectors */
};

int resclient_new(struct resclient **out)
{
	struct resclient *rc = calloc(1, sizeof(*rc));

	if (!rc || !(rc->wild = wildcard_table_new()) ||
	    wildsend_new(&rc->ws) < 0 || reschoice_new(&rc->choice) < 0) {
		if (rc) {
			wildcard_table_del(rc->wild);
			wildsend_del(rc->ws);
		}
		free(rc);
		return WEFT_ERR_NOMEM;
	}
	*out = rc;
	return 0;
}

void resclient_del(struct resclient *rc)
{
	if (!rc)
		return;
	reschoice_del(rc->choice);
	wildcard_table_del(rc->wild);
	wildsend_del(rc->ws);
	free(rc->watched);
	free(rc);
}

static bool lost_fn(int64_t connector, int64_t *since, void *ctx)
{
	return tunnels_peer_lost(ctx, connector, since);
}

static const char *peer_name(const struct map *m, int64_t id)
{
	const struct map_peer *p = id ? map_peer(m, id) : NULL;

	return p && p->name ? p->name : "";
}

struct names {
	struct wildcard_entry v[WILDCARD_HOSTS];
	size_t n;
};

static void collect(void *ctx, const struct wildcard_entry *e)
{
	struct names *ns = ctx;

	if (ns->n < WILDCARD_HOSTS)
		ns->v[ns->n++] = *e;
}

/* Tells connector every name given under the wildcard resource r. */
static void announce(struct resclient *rc, const struct map *m,
		     const struct map_res *r, int64_t connector)
{
	struct names *ns;
	int err;
	char q[200];

	if (r->type != MAP_RES_WILDCARD || !connector ||
	    !(ns = calloc(1, sizeof(*ns))))
		return;
	wildcard_each(rc->wild, r->id, collect, ns);
	err = ns->n ? wildsend_send(rc->ws, map_peer(m, connector), ns->v,
				    ns->n) : 0;
	if (err < 0)
		log_warn_err(err, "wildcard_announce_failed", "resource=%s "
			     "connector_id=%lld names=%zu",
			     log_q(q, sizeof(q), r->name),
			     (long long)connector, ns->n);
	free(ns);
}

/* Tells connector the names of every wildcard resource it is chosen
 * for. */
static void announce_to(struct resclient *rc, const struct map *m,
			int64_t connector)
{
	size_t n, ne, i;
	const struct map_res *v = map_resources(m, &n);
	const struct reschoice_entry *e = reschoice_entries(rc->choice, &ne);

	for (i = 0; i < ne && i < n; i++)
		if (e[i].connector == connector && e[i].id == v[i].id)
			announce(rc, m, &v[i], connector);
}

/* Logs the events and hands the new choices to the data plane. A
 * connector chosen while lost gets a fresh connection attempt; a new
 * connector of a wildcard resource hears its names. */
static void act(struct resclient *rc, const struct map *m,
		struct dataplane *dp, const struct reschoice_event *ev,
		size_t nev)
{
	size_t nres;
	const struct map_res *v = map_resources(m, &nres);
	struct tunnels *t = dataplane_tunnels(dp);
	char q1[200], q2[200], q3[200];

	for (size_t i = 0; i < nev; i++) {
		const struct map_res *r = &v[ev[i].index];

		dataplane_set_res_connector(dp, ev[i].index, ev[i].to);
		announce(rc, m, r, ev[i].to);
		if (t && ev[i].to && tunnels_peer_lost(t, ev[i].to, NULL))
			tunnels_retry(t, ev[i].to);
		log_info("resource_connector", "resource=%s id=%lld "
			 "connector=%s connector_id=%lld from=%s from_id=%lld "
			 "why=%s candidates=%zu",
			 log_q(q1, sizeof(q1), r->name), (long long)r->id,
			 log_q(q2, sizeof(q2), peer_name(m, ev[i].to)),
			 (long long)ev[i].to,
			 log_q(q3, sizeof(q3), peer_name(m, ev[i].from)),
			 (long long)ev[i].from, reschoice_why_name(ev[i].why),
			 r->nconnectors);
	}
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static bool has_id(const int64_t *v, size_t n, int64_t id)
{
	return bsearch(&id, v, n, sizeof(*v), cmp_id) != NULL;
}

/* Watches every connector of v, and no longer the ones that left. */
static void watch(struct resclient *rc, const struct map_res *v, size_t n,
		  struct tunnels *t)
{
	int64_t *ids;
	size_t k = 0, i, j;

	for (i = 0; i < n; i++)
		k += v[i].nconnectors;
	ids = calloc(k ? k : 1, sizeof(*ids));
	if (!ids) {
		log_warn("resource_watch_failed", "reason=out_of_memory");
		return;
	}
	k = 0;
	for (i = 0; i < n; i++)
		for (j = 0; j < v[i].nconnectors; j++)
			ids[k++] = v[i].connectors[j];
	if (k)
		qsort(ids, k, sizeof(*ids), cmp_id);
	for (i = j = 0; i < k; i++)
		if (!j || ids[j - 1] != ids[i])
			ids[j++] = ids[i];
	k = j;
	for (i = 0; i < rc->nwatched; i++)
		if (!has_id(ids, k, rc->watched[i]))
			tunnels_watch(t, rc->watched[i], false);
	/* Again for all: a peer that left the map and came back is a new
	 * tunnel entry. */
	for (i = 0; i < k; i++)
		tunnels_watch(t, ids[i], true);
	free(rc->watched);
	rc->watched = ids;
	rc->nwatched = k;
}

void resclient_apply(struct resclient *rc, const struct map *m,
		     const struct map_diff *diff, struct dataplane *dp)
{
	size_t n, ne, nev = 0, i;
	const struct map_res *v = map_resources(m, &n);
	const struct map_self *self = map_self(m);
	const struct reschoice_entry *e;
	struct reschoice_event *ev = NULL;
	struct dataplane_res *dr;
	struct tunnels *t = dataplane_tunnels(dp);
	int rc2;

	/* A connector whose entry changed may have restarted (new
	 * endpoints) and forgotten the wildcard names: tell it again. */
	for (i = 0; i < diff->nchanged; i++)
		announce_to(rc, m, diff->changed[i]);
	if (!diff->full && !diff->resources && !diff->nadded &&
	    !diff->nremoved)
		return;
	if (t)
		watch(rc, v, n, t);
	rc2 = reschoice_update(rc->choice, self ? self->id : 0, v, n,
			       t ? lost_fn : NULL, t, &ev, &nev);
	dr = calloc(n ? n : 1, sizeof(*dr));
	if (rc2 < 0 || !dr) {
		log_warn("resources_not_updated", "reason=out_of_memory");
		free(ev);
		free(dr);
		return;
	}
	e = reschoice_entries(rc->choice, &ne);
	for (i = 0; i < n; i++) {
		memcpy(dr[i].prefixes, v[i].prefixes, sizeof(dr[i].prefixes));
		dr[i].nprefixes = v[i].nprefixes;
		memcpy(dr[i].filters, v[i].filters, sizeof(dr[i].filters));
		dr[i].nfilters = v[i].nfilters;
		dr[i].connector = e[i].connector;
	}
	if (dataplane_set_resources(dp, dr, n) < 0)
		log_warn("resources_not_updated", "reason=out_of_memory");
	else
		act(rc, m, dp, ev, nev);
	free(dr);
	free(ev);
}

void resclient_on_lost(struct resclient *rc, int64_t peer, bool lost,
		       const struct map *m, struct dataplane *dp)
{
	size_t n, nev = 0, ne, i;
	const struct map_res *v = map_resources(m, &n);
	const struct map_self *self = map_self(m);
	const struct reschoice_entry *e;
	struct reschoice_event *ev = NULL;
	struct tunnels *t = dataplane_tunnels(dp);
	char q[200];

	log_info("resource_connector_lost", "connector=%s connector_id=%lld "
		 "lost=%s", log_q(q, sizeof(q), peer_name(m, peer)),
		 (long long)peer, lost ? "true" : "false");
	if (reschoice_recheck(rc->choice, self ? self->id : 0, v, n, lost_fn,
			      t, &ev, &nev) < 0) {
		log_warn("resources_not_updated", "reason=out_of_memory");
		return;
	}
	act(rc, m, dp, ev, nev);
	free(ev);
	/* Still in use although lost (nothing better): start over with a
	 * fresh connection, so it is used again as soon as it is back. */
	/* Back (a restarted connector lost what it was told): again. */
	if (!lost)
		announce_to(rc, m, peer);
	e = reschoice_entries(rc->choice, &ne);
	for (i = 0; t && lost && i < ne; i++)
		if (e[i].connector == peer) {
			tunnels_retry(t, peer);
			break;
		}
}

void resclient_annotate(const struct resclient *rc, const struct map *m,
			const struct dataplane *dp, json_t *arr)
{
	size_t n, i;
	const struct reschoice_entry *e = reschoice_entries(rc->choice, &n);
	struct tunnels *t = dataplane_tunnels(dp);

	for (i = 0; i < n && i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i), *c = json_null();

		/* Entries follow the map's order; after a failed update
		 * they may not: show nothing rather than a wrong one. */
		if (json_integer_value(json_object_get(o, "id")) != e[i].id)
			continue;
		if (e[i].connector)
			c = json_pack("{s:I, s:s, s:b}", "id",
				      (json_int_t)e[i].connector, "name",
				      peer_name(m, e[i].connector), "lost",
				      t && tunnels_peer_lost(t, e[i].connector,
							     NULL));
		json_object_set_new(o, "connector", c ? c : json_null());
		json_object_set_new(o, "via", json_string(
				peer_name(m, e[i].connector)));
		json_object_set_new(o, "moves",
				    json_integer((json_int_t)e[i].moves));
	}
}

json_t *resclient_json(const struct resclient *rc,
		       const struct dataplane *dp)
{
	size_t n, i, none = 0, lost = 0;
	const struct reschoice_entry *e = reschoice_entries(rc->choice, &n);
	struct tunnels *t = dataplane_tunnels(dp);

	for (i = 0; i < n; i++)
		none += !e[i].connector;
	for (i = 0; t && i < rc->nwatched; i++)
		lost += tunnels_peer_lost(t, rc->watched[i], NULL);
	return json_pack("{s:I, s:I, s:I, s:I}", "count", (json_int_t)n,
			 "without_connector", (json_int_t)none, "moves",
			 (json_int_t)reschoice_moves(rc->choice), "lost",
			 (json_int_t)lost);
}

int64_t resclient_connector(const struct resclient *rc, int64_t res_id)
{
	size_t n, i;
	const struct reschoice_entry *e = reschoice_entries(rc->choice, &n);

	for (i = 0; i < n; i++)
		if (e[i].id == res_id)
			return e[i].connector;
	return 0;
}

uint64_t resclient_moves(const struct resclient *rc)
{
	return reschoice_moves(rc->choice);
}

int resclient_resolve(struct resclient *rc, const struct map *m,
		      const char *name, struct resnames_hit *out)
{
	size_t n;
	const struct map_res *v = map_resources(m, &n);

	int err = resnames_resolve(v, n, rc->wild, name, out);
	int64_t connector;
	struct wildcard_entry e;
	int send_err;
	char q[200];

	if (err < 0 || out->res->type != MAP_RES_WILDCARD ||
	    out->v4.family != 4 ||
	    !(connector = resclient_connector(rc, out->res->id)))
		return err;
	/* Only this name: the others went when they were answered, and all
	 * go again when the connector changes or comes back (act). UDP may
	 * lose it; the next answer for the name sends it again. */
	memset(&e, 0, sizeof(e));
	e.id = out->res->id;
	e.addr = out->v4;
	snprintf(e.name, sizeof(e.name), "%s", out->name);
	send_err = wildsend_send(rc->ws, map_peer(m, connector), &e, 1);
	if (send_err < 0)
		log_warn_err(send_err, "wildcard_announce_failed",
			     "resource=%s connector_id=%lld names=1",
			     log_q(q, sizeof(q), out->res->name),
			     (long long)connector);
	return err;
}
