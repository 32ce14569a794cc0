/* The agent's network map: see map.h. Peers live in an idmap from id to a
 * struct map_peer (which holds a reference to its JSON object), plus an
 * array sorted by id for listing, rebuilt when the set of peers changes.
 * An answer is parsed into fresh structs first (mapjson.h); only when all
 * of it is good does it replace anything, so a bad answer leaves the
 * previous map intact. The diff compares each touched peer's entry
 * before and after: O(changes) for a delta, O(peers) for a full map. */
#include "agent/map.h"

#include "agent/mapjson.h"
#include "shared/err.h"
#include "shared/idmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parts replaced whole when present, in rendering order. */
enum { P_SELF, P_FILTER, P_DNS, P_RELAYS, P_RESOURCES, P_SERVES, NPARTS };
static const char *const part_names[NPARTS] = {"self", "filter", "dns",
					       "relays", "resources",
					       "serves"};

/* The non-peer parts, typed, with the JSON they came from. */
struct parts {
	json_t *json[NPARTS];
	struct map_self self;
	struct map_rule *rules;
	size_t nrules;
	struct map_dns dns;
	struct map_relay *relays;
	size_t nrelays;
	struct map_res *res[2]; /* resources, serves */
	size_t nres[2];
};

struct map {
	int64_t version;
	bool needs_full;
	struct parts parts;
	struct idmap peers; /* id -> struct map_peer * */
	struct map_peer **sorted;
	int64_t *sorted_ids; /* their ids: sorted may point at freed peers
			      * while a delta is applied */
	size_t nsorted;
};

static void peer_free(struct map_peer *p)
{
	if (!p)
		return;
	json_decref((json_t *)p->json);
	mapjson_peer_free(p);
}

static void parts_free_one(struct parts *ps, int i)
{
	switch (i) {
	case P_SELF:
		memset(&ps->self, 0, sizeof(ps->self));
		break;
	case P_FILTER:
		mapjson_rules_free(ps->rules, ps->nrules);
		ps->rules = NULL;
		ps->nrules = 0;
		break;
	case P_DNS:
		mapjson_dns_free(&ps->dns);
		break;
	case P_RELAYS:
		free(ps->relays);
		ps->relays = NULL;
		ps->nrelays = 0;
		break;
	case P_RESOURCES:
	case P_SERVES:
		mapjson_res_free(ps->res[i - P_RESOURCES],
				 ps->nres[i - P_RESOURCES]);
		ps->res[i - P_RESOURCES] = NULL;
		ps->nres[i - P_RESOURCES] = 0;
		break;
	}
	json_decref(ps->json[i]);
	ps->json[i] = NULL;
}

/* Moves part i from src to dst (freeing what dst had). */
static void parts_move_one(struct parts *dst, struct parts *src, int i)
{
	parts_free_one(dst, i);
	dst->json[i] = src->json[i];
	src->json[i] = NULL;
	switch (i) {
	case P_SELF:
		dst->self = src->self;
		break;
	case P_FILTER:
		dst->rules = src->rules;
		dst->nrules = src->nrules;
		src->rules = NULL;
		src->nrules = 0;
		break;
	case P_DNS:
		dst->dns = src->dns;
		memset(&src->dns, 0, sizeof(src->dns));
		break;
	case P_RELAYS:
		dst->relays = src->relays;
		dst->nrelays = src->nrelays;
		src->relays = NULL;
		src->nrelays = 0;
		break;
	case P_RESOURCES:
	case P_SERVES:
		dst->res[i - P_RESOURCES] = src->res[i - P_RESOURCES];
		dst->nres[i - P_RESOURCES] = src->nres[i - P_RESOURCES];
		src->res[i - P_RESOURCES] = NULL;
		src->nres[i - P_RESOURCES] = 0;
		break;
	}
}

static void peers_clear(struct idmap *peers)
{
	void *val;

	for (size_t i = 0; idmap_next(peers, &i, NULL, &val);)
		peer_free(val);
	idmap_free(peers);
	idmap_init(peers);
}

int map_new(struct map **out)
{
	struct map *m = calloc(1, sizeof(*m));

	if (!m)
		return WEFT_ERR_NOMEM;
	idmap_init(&m->peers);
	m->needs_full = true;
	*out = m;
	return 0;
}

void map_del(struct map *m)
{
	if (!m)
		return;
	peers_clear(&m->peers);
	for (int i = 0; i < NPARTS; i++)
		parts_free_one(&m->parts, i);
	free(m->sorted);
	free(m->sorted_ids);
	free(m);
}

void map_diff_free(struct map_diff *d)
{
	if (!d)
		return;
	free(d->added);
	free(d->removed);
	free(d->changed);
	memset(d, 0, sizeof(*d));
}

bool map_diff_any(const struct map_diff *d)
{
	return d->nadded || d->nremoved || d->nchanged || d->self ||
	       d->filter || d->dns || d->relays || d->resources || d->serves;
}

/* ---- parsing an answer ---- */

/* An answer read into structs, not yet applied. */
struct answer {
	int64_t version;
	bool full;
	struct map_peer **peers; /* in answer order; duplicates possible */
	size_t npeers;
	const json_t *removed;   /* array of positive ids, or NULL */
	struct parts parts;
	bool has[NPARTS];
};

static void answer_free(struct answer *a)
{
	for (size_t i = 0; i < a->npeers; i++)
		peer_free(a->peers[i]);
	free(a->peers);
	for (int i = 0; i < NPARTS; i++)
		parts_free_one(&a->parts, i);
}

static int bad(char *err, size_t errlen, int rc, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", what);
	return rc;
}

static int parse_part(struct parts *ps, int i, const json_t *v, char *err,
		      size_t errlen)
{
	int rc = 0;

	switch (i) {
	case P_SELF:
		rc = mapjson_self(v, &ps->self, err, errlen);
		break;
	case P_FILTER:
		if (!json_is_array(v))
			return bad(err, errlen, WEFT_ERR_TYPE,
				   "filter is not an array");
		rc = mapjson_rules(v, &ps->rules, &ps->nrules, err, errlen);
		break;
	case P_DNS:
		rc = mapjson_dns(v, &ps->dns, err, errlen);
		break;
	case P_RELAYS:
		rc = mapjson_relays(v, &ps->relays, &ps->nrelays, err, errlen);
		break;
	case P_RESOURCES:
	case P_SERVES:
		rc = mapjson_res(v, i == P_SERVES, &ps->res[i - P_RESOURCES],
				 &ps->nres[i - P_RESOURCES], err, errlen);
		break;
	}
	if (rc == 0)
		ps->json[i] = json_incref((json_t *)v);
	return rc;
}

static int parse_answer(const json_t *j, struct answer *a, char *err,
			size_t errlen)
{
	const json_t *v, *peers;
	size_t i;
	int rc;

	memset(a, 0, sizeof(*a));
	if (!json_is_object(j))
		return bad(err, errlen, WEFT_ERR_TYPE, "answer is not an object");
	v = json_object_get(j, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(err, errlen, WEFT_ERR_PARSE,
			   "version is not an integer >= 0");
	a->version = json_integer_value(v);
	v = json_object_get(j, "full");
	if (!json_is_boolean(v))
		return bad(err, errlen, WEFT_ERR_PARSE, "full is not a boolean");
	a->full = json_is_true(v);
	v = json_object_get(j, "peers_removed");
	if (v) {
		const json_t *id;

		if (!json_is_array(v))
			return bad(err, errlen, WEFT_ERR_TYPE,
				   "peers_removed is not an array");
		json_array_foreach(v, i, id)
			if (!json_is_integer(id) || json_integer_value(id) <= 0)
				return bad(err, errlen, WEFT_ERR_TYPE,
					   "peers_removed holds a non-id");
		a->removed = v;
	}
	peers = json_object_get(j, "peers");
	if (peers && !json_is_array(peers))
		return bad(err, errlen, WEFT_ERR_TYPE, "peers is not an array");
	if (json_array_size(peers) > MAP_MAX_PEERS)
		return bad(err, errlen, WEFT_ERR_TOOBIG, "too many peers");
	if (json_array_size(peers)) {
		a->peers = calloc(json_array_size(peers), sizeof(*a->peers));
		if (!a->peers)
			return bad(err, errlen, WEFT_ERR_NOMEM, "out of memory");
	}
	json_array_foreach(peers, i, v) {
		rc = mapjson_peer(v, &a->peers[i], err, errlen);
		if (rc < 0)
			goto fail;
		json_incref((json_t *)v);
		a->npeers++;
	}
	for (int k = 0; k < NPARTS; k++) {
		v = json_object_get(j, part_names[k]);
		if (!v)
			continue;
		rc = parse_part(&a->parts, k, v, err, errlen);
		if (rc < 0)
			goto fail;
		a->has[k] = true;
	}
	return 0;
fail:
	answer_free(a);
	return rc;
}

/* ---- applying it ---- */

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return (a > b) - (a < b);
}

static int cmp_peer(const void *x, const void *y)
{
	return cmp_i64(&(*(struct map_peer *const *)x)->id,
		       &(*(struct map_peer *const *)y)->id);
}

static bool peer_same(const struct map_peer *a, const struct map_peer *b)
{
	return json_equal((json_t *)a->json, (json_t *)b->json);
}

/* Whether the addresses of a peer (what routes are made of) differ. */
static bool addrs_differ(const struct map_peer *a, const struct map_peer *b)
{
	return a->nallowed != b->nallowed ||
	       memcmp(&a->ipv4, &b->ipv4, sizeof(a->ipv4)) != 0 ||
	       memcmp(&a->ipv6, &b->ipv6, sizeof(a->ipv6)) != 0 ||
	       (a->nallowed && memcmp(a->allowed_ips, b->allowed_ips,
				      a->nallowed * sizeof(*a->allowed_ips)));
}

/* Growable id list for the diff; `addrs` is the diff's flag. */
struct ids {
	int64_t *v;
	size_t n, cap;
	bool addrs;
};

static int ids_add(struct ids *l, int64_t id)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		int64_t *nv = realloc(l->v, nc * sizeof(*nv));

		if (!nv)
			return WEFT_ERR_NOMEM;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = id;
	return 0;
}

/* Classifies id from its entry before (old, may be NULL) and after. */
static int classify(struct ids *add, struct ids *rem, struct ids *chg,
		    int64_t id, const struct map_peer *old,
		    const struct map_peer *now)
{
	if (!old && now)
		return ids_add(add, id);
	if (old && !now)
		return ids_add(rem, id);
	if (old && now && !peer_same(old, now)) {
		if (addrs_differ(old, now))
			chg->addrs = true;
		return ids_add(chg, id);
	}
	return 0;
}

static int rebuild_sorted(struct map *m)
{
	struct map_peer **v = NULL;
	int64_t *ids = NULL;
	size_t n = 0;
	void *val;

	if (m->peers.n) {
		v = malloc(m->peers.n * sizeof(*v));
		ids = malloc(m->peers.n * sizeof(*ids));
		if (!v || !ids) {
			/* Never leave the list pointing at freed peers. */
			free(v);
			free(ids);
			free(m->sorted);
			free(m->sorted_ids);
			m->sorted = NULL;
			m->sorted_ids = NULL;
			m->nsorted = 0;
			return WEFT_ERR_NOMEM;
		}
	}
	for (size_t i = 0; idmap_next(&m->peers, &i, NULL, &val);)
		v[n++] = val;
	if (n)
		qsort(v, n, sizeof(*v), cmp_peer);
	for (size_t i = 0; i < n; i++)
		ids[i] = v[i]->id;
	free(m->sorted);
	free(m->sorted_ids);
	m->sorted = v;
	m->sorted_ids = ids;
	m->nsorted = n;
	return 0;
}

/* The same ids, new entries: points the sorted list at them. */
static void patch_sorted(struct map *m, const struct ids *touched)
{
	for (size_t i = 0; i < touched->n; i++) {
		size_t lo = 0, hi = m->nsorted, mid;
		int64_t id = touched->v[i];

		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (m->sorted_ids[mid] < id)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < m->nsorted && m->sorted_ids[lo] == id)
			m->sorted[lo] = idmap_get(&m->peers, id);
	}
}

/* A full map: the answer's peers become the table. */
static int apply_full(struct map *m, struct answer *a, struct ids *add,
		      struct ids *rem, struct ids *chg)
{
	struct idmap fresh;
	struct map_peer *old;
	int64_t id;
	void *val;
	int rc = 0;

	idmap_init(&fresh);
	for (size_t i = 0; i < a->npeers && rc == 0; i++) {
		old = idmap_get(&fresh, a->peers[i]->id);
		rc = idmap_put(&fresh, a->peers[i]->id, a->peers[i]);
		if (rc == 0) {
			peer_free(old); /* a duplicate id: the last wins */
			a->peers[i] = NULL;
		}
	}
	for (size_t i = 0; rc == 0 && idmap_next(&fresh, &i, &id, &val);)
		rc = classify(add, rem, chg, id, idmap_get(&m->peers, id), val);
	for (size_t i = 0; rc == 0 && idmap_next(&m->peers, &i, &id, &val);)
		if (!idmap_get(&fresh, id))
			rc = ids_add(rem, id);
	if (rc < 0) {
		peers_clear(&fresh);
		return rc;
	}
	peers_clear(&m->peers);
	m->peers = fresh;
	return 0;
}

/* A delta: removals, then upserts. Each touched id's first entry is
 * kept in `before` until the diff is known. */
static int apply_delta(struct map *m, struct answer *a, struct ids *add,
		       struct ids *rem, struct ids *chg, struct ids *touched)
{
	static struct map_peer absent; /* "not a peer before" */
	struct idmap before;
	struct map_peer *old;
	const json_t *v;
	int64_t id;
	void *val;
	size_t i;
	int rc = 0;

	idmap_init(&before);
	json_array_foreach(a->removed, i, v) {
		id = json_integer_value(v);
		if (idmap_get(&before, id))
			continue;
		old = idmap_del(&m->peers, id);
		rc = idmap_put(&before, id, old ? old : &absent);
		if (rc < 0) {
			peer_free(old);
			goto out;
		}
	}
	for (i = 0; i < a->npeers; i++) {
		struct map_peer *p = a->peers[i];

		old = idmap_get(&m->peers, p->id);
		if (!idmap_get(&before, p->id)) {
			rc = idmap_put(&before, p->id, old ? old : &absent);
			if (rc < 0)
				goto out;
		} else {
			peer_free(old); /* a duplicate: not the first entry */
		}
		rc = idmap_put(&m->peers, p->id, p);
		if (rc < 0)
			goto out;
		a->peers[i] = NULL;
		rc = ids_add(touched, p->id);
		if (rc < 0)
			goto out;
	}
out:
	for (i = 0; idmap_next(&before, &i, &id, &val);) {
		old = val == &absent ? NULL : val;
		if (rc == 0)
			rc = classify(add, rem, chg, id, old,
				      idmap_get(&m->peers, id));
		peer_free(old);
	}
	idmap_free(&before);
	return rc;
}

int map_apply(struct map *m, const json_t *j, struct map_diff *diff,
	      char *err, size_t errlen)
{
	struct ids add = {0}, rem = {0}, chg = {0}, touched = {0};
	struct answer a;
	int rc;

	if (diff)
		memset(diff, 0, sizeof(*diff));
	if (err && errlen)
		err[0] = '\0';
	rc = parse_answer(j, &a, err, errlen);
	if (rc < 0) {
		if (rc != WEFT_ERR_NOMEM)
			m->needs_full = true;
		return rc;
	}
	if (!a.full && m->needs_full) {
		rc = bad(err, errlen, WEFT_ERR_PROTO, "a delta without a base");
		goto out;
	}
	rc = a.full ? apply_full(m, &a, &add, &rem, &chg)
		    : apply_delta(m, &a, &add, &rem, &chg, &touched);
	if (rc == 0 && (a.full || add.n || rem.n))
		rc = rebuild_sorted(m);
	else if (rc == 0)
		patch_sorted(m, &touched);
	if (rc < 0) {
		/* A delta may be half applied: only a full map repairs it.
		 * The list must not keep pointers to replaced peers. */
		rebuild_sorted(m);
		m->needs_full = true;
		bad(err, errlen, rc, "out of memory");
		goto out;
	}
	for (int k = 0; k < NPARTS; k++) {
		/* A full map has every part: a missing one is empty. */
		if (a.has[k] || a.full)
			parts_move_one(&m->parts, &a.parts, k);
	}
	m->version = a.version;
	m->needs_full = false;
	if (diff) {
		if (add.n)
			qsort(add.v, add.n, sizeof(*add.v), cmp_i64);
		if (rem.n)
			qsort(rem.v, rem.n, sizeof(*rem.v), cmp_i64);
		if (chg.n)
			qsort(chg.v, chg.n, sizeof(*chg.v), cmp_i64);
		diff->full = a.full;
		diff->added = add.v;
		diff->nadded = add.n;
		diff->removed = rem.v;
		diff->nremoved = rem.n;
		diff->changed = chg.v;
		diff->nchanged = chg.n;
		diff->addrs = add.n || rem.n || chg.addrs;
		diff->self = a.full || a.has[P_SELF];
		diff->filter = a.full || a.has[P_FILTER];
		diff->dns = a.full || a.has[P_DNS];
		diff->relays = a.full || a.has[P_RELAYS];
		diff->resources = a.full || a.has[P_RESOURCES];
		diff->serves = a.full || a.has[P_SERVES];
		memset(&add, 0, sizeof(add));
		memset(&rem, 0, sizeof(rem));
		memset(&chg, 0, sizeof(chg));
	}
out:
	free(add.v);
	free(rem.v);
	free(chg.v);
	free(touched.v);
	answer_free(&a);
	return rc;
}

/* ---- reading ---- */

int64_t map_version(const struct map *m)
{
	return m->version;
}

bool map_needs_full(const struct map *m)
{
	return m->needs_full;
}

const struct map_self *map_self(const struct map *m)
{
	return m->parts.json[P_SELF] ? &m->parts.self : NULL;
}

const struct map_dns *map_dns(const struct map *m)
{
	return m->parts.json[P_DNS] ? &m->parts.dns : NULL;
}

const struct map_rule *map_rules(const struct map *m, size_t *n)
{
	*n = m->parts.nrules;
	return m->parts.rules;
}

bool map_has_filter(const struct map *m)
{
	return m->parts.json[P_FILTER] != NULL;
}

const struct map_relay *map_relays(const struct map *m, size_t *n)
{
	*n = m->parts.nrelays;
	return m->parts.relays;
}

const struct map_res *map_resources(const struct map *m, size_t *n)
{
	*n = m->parts.nres[0];
	return m->parts.res[0];
}

const struct map_res *map_serves(const struct map *m, size_t *n)
{
	*n = m->parts.nres[1];
	return m->parts.res[1];
}

size_t map_peer_count(const struct map *m)
{
	return m->peers.n;
}

const struct map_peer *map_peer(const struct map *m, int64_t id)
{
	return id > 0 ? idmap_get(&m->peers, id) : NULL;
}

const struct map_peer *const *map_peers(const struct map *m, size_t *n)
{
	*n = m->nsorted;
	return (const struct map_peer *const *)m->sorted;
}

const json_t *map_part(const struct map *m, const char *name)
{
	for (int i = 0; i < NPARTS; i++)
		if (strcmp(part_names[i], name) == 0)
			return m->parts.json[i];
	return NULL;
}

json_t *map_to_json(const struct map *m)
{
	json_t *o = json_pack("{s:I, s:b}", "version", (json_int_t)m->version,
			      "full", 1);
	json_t *peers = json_array();

	if (!o || !peers || json_object_set_new(o, "peers", peers) < 0) {
		if (!o)
			json_decref(peers);
		json_decref(o);
		return NULL;
	}
	for (size_t i = 0; i < m->nsorted; i++)
		if (json_array_append(peers, (json_t *)m->sorted[i]->json) < 0)
			goto fail;
	for (int i = 0; i < NPARTS; i++)
		if (m->parts.json[i] &&
		    json_object_set(o, part_names[i], m->parts.json[i]) < 0)
			goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

bool map_is_mesh_prefix(const struct map_peer *p,
			const struct ip_prefix *prefix)
{
	return (prefix->len == 32 && p->ipv4.family &&
		ip_addr_eq(&prefix->addr, &p->ipv4)) ||
	       (prefix->len == 128 && p->ipv6.family &&
		ip_addr_eq(&prefix->addr, &p->ipv6));
}
