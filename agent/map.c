/* The agent's network map: see map.h. Peers live in an idmap from id to a
 * referenced jansson object; the other parts are kept as referenced
 * objects. Answers are validated before anything is changed, so a bad
 * answer leaves the previous map intact. */
#include "agent/map.h"

#include "shared/err.h"
#include "shared/idmap.h"

#include <stdlib.h>
#include <string.h>

/* Parts replaced whole when present, in rendering order. */
static const char *const parts[] = {"self", "filter", "dns", "relays"};
#define NPARTS (sizeof(parts) / sizeof(parts[0]))

struct map {
	int64_t version;
	bool needs_full;
	json_t *part[NPARTS];
	struct idmap peers; /* id -> json_t * (one reference each) */
};

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

static void peers_clear(struct idmap *peers)
{
	void *val;

	for (size_t i = 0; idmap_next(peers, &i, NULL, &val);)
		json_decref(val);
	idmap_free(peers);
	idmap_init(peers);
}

void map_del(struct map *m)
{
	if (!m)
		return;
	peers_clear(&m->peers);
	for (size_t i = 0; i < NPARTS; i++)
		json_decref(m->part[i]);
	free(m);
}

static bool is_id(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) > 0;
}

/* Checks the shape of an answer; says nothing about the values inside the
 * parts, which the agent reads defensively. */
static int validate(const json_t *a)
{
	const json_t *v;
	size_t i;

	if (!json_is_object(a))
		return WEFT_ERR_TYPE;
	v = json_object_get(a, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return WEFT_ERR_PARSE;
	if (!json_is_boolean(json_object_get(a, "full")))
		return WEFT_ERR_PARSE;
	for (i = 0; i < NPARTS; i++) {
		v = json_object_get(a, parts[i]);
		if (!v)
			continue;
		if (strcmp(parts[i], "self") == 0 || strcmp(parts[i], "dns") == 0
			    ? !json_is_object(v)
			    : !json_is_array(v))
			return WEFT_ERR_TYPE;
	}
	v = json_object_get(a, "peers");
	if (v) {
		const json_t *p;

		if (!json_is_array(v))
			return WEFT_ERR_TYPE;
		json_array_foreach(v, i, p) {
			if (!json_is_object(p) ||
			    !is_id(json_object_get(p, "id")))
				return WEFT_ERR_TYPE;
		}
	}
	v = json_object_get(a, "peers_removed");
	if (v) {
		const json_t *id;

		if (!json_is_array(v))
			return WEFT_ERR_TYPE;
		json_array_foreach(v, i, id) {
			if (!is_id(id))
				return WEFT_ERR_TYPE;
		}
	}
	return 0;
}

/* Upserts the peers of answer into peers. On failure peers may hold part
 * of them. */
static int put_peers(struct idmap *peers, const json_t *arr)
{
	const json_t *p;
	size_t i;

	json_array_foreach(arr, i, p) {
		int64_t id = json_integer_value(json_object_get(p, "id"));
		json_t *old = idmap_get(peers, id);
		int rc;

		rc = idmap_put(peers, id, json_incref((json_t *)p));
		if (rc < 0) {
			json_decref((json_t *)p);
			return rc;
		}
		json_decref(old);
	}
	return 0;
}

int map_apply(struct map *m, const json_t *a)
{
	const json_t *removed, *peers, *v;
	bool full;
	size_t i;
	int rc;

	rc = validate(a);
	if (rc < 0)
		return rc;
	full = json_is_true(json_object_get(a, "full"));
	if (!full && m->needs_full)
		return WEFT_ERR_PROTO;
	peers = json_object_get(a, "peers");
	removed = json_object_get(a, "peers_removed");
	if (full) {
		struct idmap fresh;

		idmap_init(&fresh);
		rc = peers ? put_peers(&fresh, peers) : 0;
		if (rc < 0) {
			peers_clear(&fresh);
			goto out;
		}
		peers_clear(&m->peers);
		m->peers = fresh;
		/* A full map has every part: a missing one is empty. */
		for (i = 0; i < NPARTS; i++) {
			json_decref(m->part[i]);
			m->part[i] = NULL;
		}
	} else {
		json_array_foreach(removed, i, v)
			json_decref(idmap_del(&m->peers, json_integer_value(v)));
		rc = peers ? put_peers(&m->peers, peers) : 0;
		if (rc < 0) {
			m->needs_full = true;
			goto out;
		}
	}
	for (i = 0; i < NPARTS; i++) {
		v = json_object_get(a, parts[i]);
		if (!v)
			continue;
		json_decref(m->part[i]);
		m->part[i] = json_incref((json_t *)v);
	}
	m->version = json_integer_value(json_object_get(a, "version"));
	m->needs_full = false;
out:
	return rc;
}

int64_t map_version(const struct map *m)
{
	return m->version;
}

bool map_needs_full(const struct map *m)
{
	return m->needs_full;
}

const json_t *map_part(const struct map *m, const char *name)
{
	for (size_t i = 0; i < NPARTS; i++)
		if (strcmp(parts[i], name) == 0)
			return m->part[i];
	return NULL;
}

size_t map_peer_count(const struct map *m)
{
	return m->peers.n;
}

const json_t *map_peer(const struct map *m, int64_t id)
{
	return id > 0 ? idmap_get(&m->peers, id) : NULL;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

json_t *map_peers(const struct map *m)
{
	int64_t *ids = NULL, id;
	json_t *arr = json_array();
	size_t n = 0;

	if (!arr)
		return NULL;
	if (m->peers.n) {
		ids = malloc(m->peers.n * sizeof(*ids));
		if (!ids)
			goto fail;
	}
	for (size_t i = 0; idmap_next(&m->peers, &i, &id, NULL);)
		ids[n++] = id;
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_id);
	for (size_t i = 0; i < n; i++)
		if (json_array_append(arr, idmap_get(&m->peers, ids[i])) < 0)
			goto fail;
	free(ids);
	return arr;
fail:
	free(ids);
	json_decref(arr);
	return NULL;
}

json_t *map_to_json(const struct map *m)
{
	json_t *o = json_pack("{s:I, s:b}", "version", (json_int_t)m->version,
			      "full", 1);
	json_t *peers = map_peers(m);

	if (!o || !peers || json_object_set_new(o, "peers", peers) < 0) {
		if (!o)
			json_decref(peers);
		json_decref(o);
		return NULL;
	}
	for (size_t i = 0; i < NPARTS; i++)
		if (m->part[i] &&
		    json_object_set(o, parts[i], m->part[i]) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

bool map_is_mesh_prefix(const json_t *peer, const char *prefix)
{
	const char *v4 = json_string_value(json_object_get(peer, "ipv4"));
	const char *v6 = json_string_value(json_object_get(peer, "ipv6"));
	size_t n = strcspn(prefix, "/");

	return (v4 && strlen(v4) == n && strncmp(v4, prefix, n) == 0 &&
		strcmp(prefix + n, "/32") == 0) ||
	       (v6 && strlen(v6) == n && strncmp(v6, prefix, n) == 0 &&
		strcmp(prefix + n, "/128") == 0);
}
