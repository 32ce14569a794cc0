/* Rendering of the network map: peer entries, filters, DNS data and relay
 * lists, full or as a delta since a version (see netmap.h and
 * docs/internals/netmap.md). Reads the model, never changes it. */
#include "controller/netmap_model.h"

#include "shared/clock.h"

#include <stdio.h>
#include <string.h>

/* --- prefix helpers --- */

static json_t *pvec_json(const struct pvec *a)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < a->n; i++) {
		char buf[IP_PREFIX_STRLEN];

		if (ip_prefix_format(&a->v[i], buf, sizeof(buf)) < 0 ||
		    json_array_append_new(arr, json_string(buf)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* --- rendering --- */

/* Map JSON follows the REST API's conventions (docs/api/README.md): empty
 * optional strings and zero timestamps are null, timestamps are RFC 3339
 * UTC text. */
static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *ts_or_null(int64_t t)
{
	char buf[CLOCK_RFC3339_LEN + 1];

	if (t == 0 || clock_format_rfc3339(t, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

static json_t *tags_json(const struct nrec *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < r->ntags; i++) {
		if (json_array_append_new(arr, json_string(r->tags[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *render_self(const struct nnode *n)
{
	const struct nrec *r = &n->rec;

	return json_pack("{sI ss so so so so}", "id", (json_int_t)r->id,
			 "name", r->name, "ipv4", str_or_null(r->ipv4),
			 "ipv6", str_or_null(r->ipv6), "tags", tags_json(r),
			 "user", str_or_null(rec_user(r)));
}

/* m's entry in the map of a node whose reach is rc. allowed_ips: m's own
 * addresses, each approved route of m that overlaps an address the node
 * may reach, and the IP/CIDR resources m connects that the node may
 * reach (until agents choose a connector per resource from the
 * "resources" section; never the mapped prefixes of DNS resources nor
 * the internet resource's default routes). */
static json_t *render_peer(const struct netmap *nm, const struct reach *rc,
			   const struct nnode *m)
{
	const struct nrec *r = &m->rec;
	struct pvec allowed = {0};
	json_t *out = NULL;
	char dns[NETMAP_NAME_SIZE + 256];

	if (netmap_own_prefixes(r, &allowed) < 0)
		goto out;
	for (size_t i = 0; i < r->nroutes; i++) {
		for (size_t k = 0; k < rc->prefixes.n; k++) {
			if (ip_prefix_overlaps(&r->routes[i],
					       &rc->prefixes.v[k])) {
				if (pvec_push(&allowed, &r->routes[i]) < 0)
					goto out;
				break;
			}
		}
	}
	for (size_t i = 0; i < rc->nres; i++)
		if (rc->res[i]->is_prefix &&
		    netmap_res_served_by(&rc->res[i]->r, r) &&
		    pvec_push(&allowed, &rc->res[i]->prefixes[0]) < 0)
			goto out;
	pvec_sort_unique(&allowed);
	snprintf(dns, sizeof(dns), "%s.%s", r->name, nm->suffix);
	out = json_pack("{sI ss ss ss so so so sO so sb so so so}",
			"id", (json_int_t)r->id, "name", r->name,
			"dns_name", dns, "public_key", r->public_key,
			"ipv4", str_or_null(r->ipv4),
			"ipv6", str_or_null(r->ipv6),
			"allowed_ips", pvec_json(&allowed),
			"endpoints", r->endpoints,
			"home_relay", str_or_null(r->home_relay),
			"online", r->online != 0,
			"last_seen", ts_or_null(r->last_seen),
			"tags", tags_json(r), "user", str_or_null(rec_user(r)));
out:
	free(allowed.v);
	return out;
}

/* --- filters --- */

/* Canonical ports text of the sorted ranges e[0..n): merged, "*" for all. */
static char *ports_str(const struct dent *e, size_t n)
{
	char *buf = malloc(n * 12 + 2);
	size_t len = 0, i = 0;

	if (!buf)
		return NULL;
	buf[0] = '\0';
	while (i < n) {
		unsigned lo = e[i].lo, hi = e[i].hi;

		for (i++; i < n && e[i].lo <= hi + 1; i++)
			if (e[i].hi > hi)
				hi = e[i].hi;
		if (lo == 0 && hi == 65535) {
			len = (size_t)sprintf(buf, "*");
			break;
		}
		len += (size_t)sprintf(buf + len, len ? ",%u" : "%u", lo);
		if (hi != lo)
			len += (size_t)sprintf(buf + len, "-%u", hi);
	}
	return buf;
}

static json_t *ports_json(const struct dent *e, size_t n)
{
	char *buf = ports_str(e, n);
	json_t *out = buf ? json_string(buf) : NULL;

	free(buf);
	return out;
}

/* The "prefix" text of dst entry e into buf: "self" or the prefix. */
static int dent_prefix_text(const struct dent *e, char *buf, size_t n)
{
	if (dent_is_self(e))
		return snprintf(buf, n, "%s", DENT_SELF_TEXT) < (int)n ?
			0 : WEFT_ERR_RANGE;
	return ip_prefix_format(&e->p, buf, n);
}

/* The dst list of a canonical item as json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) of dst_json() would write it (prefix and ports texts
 * need no escaping). */
static char *dst_text(const struct dent *v, size_t n)
{
	size_t cap = 3, len = 0, i = 0;
	char *out;

	for (size_t k = 0; k < n; k++)
		cap += IP_PREFIX_STRLEN + 12 + 32;
	if (!(out = malloc(cap)))
		return NULL;
	out[len++] = '[';
	while (i < n) {
		size_t j = i;
		char buf[IP_PREFIX_STRLEN], *ports;

		while (j < n && cmp_prefix(&v[j].p, &v[i].p) == 0)
			j++;
		if (dent_prefix_text(&v[i], buf, sizeof(buf)) < 0 ||
		    !(ports = ports_str(&v[i], j - i))) {
			free(out);
			return NULL;
		}
		len += (size_t)snprintf(out + len, cap - len,
					"%s{\"ports\":\"%s\",\"prefix\":\"%s\"}",
					i ? "," : "", ports, buf);
		free(ports);
		i = j;
	}
	out[len++] = ']';
	out[len] = '\0';
	return out;
}

/* The dst list of a canonical (sorted) item. */
static json_t *dst_json(const struct dent *v, size_t n)
{
	json_t *arr = json_array();
	size_t i = 0;

	if (!arr)
		return NULL;
	while (i < n) {
		size_t j = i;
		char buf[IP_PREFIX_STRLEN];

		while (j < n && cmp_prefix(&v[j].p, &v[i].p) == 0)
			j++;
		if (dent_prefix_text(&v[i], buf, sizeof(buf)) < 0 ||
		    json_array_append_new(arr, json_pack("{ss so}", "prefix",
				buf, "ports", ports_json(&v[i], j - i))) < 0) {
			json_decref(arr);
			return NULL;
		}
		i = j;
	}
	return arr;
}

struct rendered {
	json_t *j;
	char *text;
};

static int cmp_rendered(const void *a, const void *b)
{
	return strcmp(((const struct rendered *)a)->text,
		      ((const struct rendered *)b)->text);
}

/* One filter entry's text as json_dumps(JSON_COMPACT | JSON_SORT_KEYS)
 * would write it, built from the source list's cached text rather than by
 * dumping hundreds of prefixes again. Filters are sorted by this text, and
 * the shared rendering (netmap_render_shared) sends it as it is. */
static char *item_text(const struct fitem *it)
{
	/* Protocol names are plain lower-case words. */
	const char *proto = policy_proto_name(it->proto);
	char *dtext = dst_text(it->dst, it->ndst), *out = NULL;

	if (dtext && asprintf(&out, "{\"dst\":%s,\"proto\":\"%s\",\"src\":%s}",
			      dtext, proto, it->src->text) < 0)
		out = NULL;
	free(dtext);
	return out;
}

/* One filter entry as JSON, and its text (item_text). */
static int render_item(const struct fitem *it, struct rendered *out)
{
	json_t *src = json_array(), *dst = dst_json(it->dst, it->ndst);
	int rc = WEFT_ERR_NOMEM;

	for (size_t i = 0; src && i < it->src->prefixes.n; i++)
		if (json_array_append_new(src, json_string_nocheck(
				it->src->strs[i])) < 0)
			goto out;
	if (!src || !dst || !(out->text = item_text(it)))
		goto out;
	out->j = json_pack("{ss sO sO}", "proto", policy_proto_name(it->proto),
			   "src", src, "dst", dst);
	if (!out->j) {
		free(out->text);
		out->text = NULL;
		goto out;
	}
	rc = 0;
out:
	json_decref(src);
	json_decref(dst);
	return rc;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A compiled filter as compact JSON text, equal in content and order to
 * filter_json(): no JSON values are built, the item texts are joined. */
static char *filter_text(const struct fcomp *f)
{
	char **items = NULL, *out = NULL;
	size_t nitems = 0, len = 2, w = 0;

	if (f->n && !(items = calloc(f->n, sizeof(*items))))
		return NULL;
	for (size_t i = 0; i < f->n; i++) {
		if (!(items[i] = item_text(&f->v[i])))
			goto out;
		nitems++;
		len += strlen(items[i]) + 1;
	}
	if (nitems)
		qsort(items, nitems, sizeof(*items), cmp_str_ptr);
	if (!(out = malloc(len + 1)))
		goto out;
	out[w++] = '[';
	for (size_t i = 0; i < nitems; i++) {
		size_t n;

		if (i && strcmp(items[i], items[i - 1]) == 0)
			continue;
		if (w > 1)
			out[w++] = ',';
		n = strlen(items[i]);
		memcpy(out + w, items[i], n);
		w += n;
	}
	out[w++] = ']';
	out[w] = '\0';
out:
	for (size_t i = 0; i < nitems; i++)
		free(items[i]);
	free(items);
	return out;
}

/* A compiled filter as JSON: its items sorted by their text and without
 * duplicates, so equal filters render equally. */
static json_t *filter_json(const struct fcomp *f)
{
	struct rendered *items = NULL;
	size_t nitems = 0;
	json_t *arr = NULL;

	if (f->n && !(items = calloc(f->n, sizeof(*items))))
		goto out;
	for (size_t i = 0; i < f->n; i++) {
		if (render_item(&f->v[i], &items[nitems]) < 0)
			goto out;
		nitems++;
	}
	if (nitems)
		qsort(items, nitems, sizeof(*items), cmp_rendered);
	arr = json_array();
	for (size_t i = 0; arr && i < nitems; i++) {
		if (i && strcmp(items[i].text, items[i - 1].text) == 0)
			continue;
		if (json_array_append(arr, items[i].j) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
out:
	for (size_t i = 0; i < nitems; i++) {
		json_decref(items[i].j);
		free(items[i].text);
	}
	free(items);
	return arr;
}

/* n's packet filter: the rules of D(n) ∪ V(n). */
static json_t *render_filter(const struct netmap *nm, const struct nnode *n)
{
	struct fcomp f = {0};
	json_t *arr = NULL;

	if (netmap_filter_compile(nm, n, &f) == 0)
		arr = filter_json(&f);
	if (arr)
		nm->stats->filter_renders++;
	netmap_filter_free(&f);
	return arr;
}

/* --- the cache of rendered filters ---
 *
 * A policy edit changes the filter of every node, but nodes with the
 * same rules get the same filter. Entries are keyed by the compiled
 * filter's content, so an entry is never stale: whatever node compiles to
 * an equal filter gets the same text. A filter names the receiver's own
 * addresses as "self", so it depends on the node's rules (and, for
 * routers and connectors, what they serve), not on who the node is: in
 * the benchmark, 10,000 nodes share 100 filters of ~9 KB (2 MB leaves
 * room for those; at 1 MB they were close to emptying the cache in the
 * middle of a fan-out). Memory is bounded (it is a cache: when full, it
 * is emptied); a miss builds the text without JSON values, from the
 * rules' cached source-list texts. */
#define FCACHE_MAX_ENTRIES 256
#define FCACHE_MAX_BYTES (2u << 20)

struct fent {
	struct fcomp f;        /* owns its items (and source-list refs) */
	struct netmap_shared sh;
	char *text;
	struct fent *next;     /* same hash key */
};

struct fcache {
	struct idmap by_hash;  /* hash key → struct fent * chain */
	size_t n, bytes;
};

int netmap_fcache_new(struct fcache **out)
{
	struct fcache *c = calloc(1, sizeof(*c));

	if (!c)
		return WEFT_ERR_NOMEM;
	idmap_init(&c->by_hash);
	*out = c;
	return 0;
}

void netmap_fcache_clear(struct fcache *c)
{
	void *v;

	if (!c)
		return;
	for (size_t pos = 0; idmap_next(&c->by_hash, &pos, NULL, &v);) {
		struct fent *e = v, *next;

		for (; e; e = next) {
			next = e->next;
			if (e->sh.aux_free)
				e->sh.aux_free(e->sh.aux);
			netmap_filter_free(&e->f);
			free(e->text);
			free(e);
		}
	}
	idmap_free(&c->by_hash);
	idmap_init(&c->by_hash);
	c->n = c->bytes = 0;
}

void netmap_fcache_free(struct fcache *c)
{
	netmap_fcache_clear(c);
	free(c);
}

/* idmap keys are > 0. */
static int64_t fcache_key(uint64_t h)
{
	return (int64_t)(h & INT64_MAX) | 1;
}

/* n's filter as shared text: from the cache, or rendered once and cached.
 * NULL when out of memory. */
static struct netmap_shared *shared_filter(const struct netmap *nm,
					   const struct nnode *n)
{
	struct fcache *c = nm->fcache;
	struct fcomp f = {0};
	struct fent *e = NULL, *head;
	int64_t key;

	if (netmap_filter_compile(nm, n, &f) < 0)
		return NULL;
	key = fcache_key(netmap_filter_hash(&f));
	head = idmap_get(&c->by_hash, key);
	for (e = head; e; e = e->next) {
		if (netmap_filter_eq(&e->f, &f)) {
			netmap_filter_free(&f);
			return &e->sh;
		}
	}
	if (c->n >= FCACHE_MAX_ENTRIES || c->bytes >= FCACHE_MAX_BYTES) {
		netmap_fcache_clear(c);
		head = NULL;
	}
	if (!(e = calloc(1, sizeof(*e))) || !(e->text = filter_text(&f)))
		goto fail;
	nm->stats->filter_renders++;
	e->f = f;
	memset(&f, 0, sizeof(f));
	e->sh.text = e->text;
	e->sh.len = strlen(e->text);
	e->next = head;
	if (idmap_put(&c->by_hash, key, e) < 0)
		goto fail;
	c->n++;
	c->bytes += e->sh.len;
	return &e->sh;
fail:
	if (e) {
		netmap_filter_free(&e->f);
		free(e->text);
		free(e);
	}
	netmap_filter_free(&f);
	return NULL;
}

static json_t *render_relays(const struct netmap *nm)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < nm->nrelays; i++) {
		const struct netmap_relay *r = &nm->relays[i];

		if (json_array_append_new(arr, json_pack("{sI ss ss ss so}",
				"id", (json_int_t)r->id, "name", r->name,
				"region", r->region, "address", r->address,
				"public_key_pin",
				str_or_null(r->public_key_pin))) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* Renders id's map into *out; with filter_out, the filter goes there as
 * shared text instead of into *out. */
static int render_map(const struct netmap *nm, int64_t id, int64_t since,
		      json_t **out, struct netmap_shared **filter_out)
{
	const struct nnode *n;
	struct reach rc = {0};
	struct ivec peers = {0}, gone = {0};
	json_t *map = NULL, *arr = NULL;
	bool full;
	int err = WEFT_ERR_NOMEM;

	if (!nm || !out)
		return WEFT_ERR_INVAL;
	if (nm->broken)
		return WEFT_ERR_INTERNAL;
	if (!(n = node_get(nm, id)))
		return WEFT_ERR_NOTFOUND;
	full = since <= 0 || since < n->horizon || since < n->created_v;
	if (netmap_reach_build(nm, n, &rc) < 0)
		goto out;
	map = json_pack("{sI sb}", "version", (json_int_t)n->version, "full",
			full);
	if (!map)
		goto out;
	if ((full || n->self_v > since) &&
	    json_object_set_new(map, "self", render_self(n)) < 0)
		goto out;
	if (!full && n->peers_v <= since && since >= n->jhorizon) {
		/* The journal reaches back to since: the peers whose entry
		 * changed after it are all in there, and only they are. */
		for (size_t i = 0; i < n->njournal; i++) {
			const struct jent *e = &n->journal[(n->jhead + i) %
							   NETMAP_JOURNAL];

			if (e->v > since && ivec_push(&peers, e->id) < 0)
				goto out;
		}
	} else if (netmap_collect_peers(&peers, n) < 0) {
		goto out;
	}
	ivec_sort_unique(&peers);
	arr = json_array();
	for (size_t i = 0; arr && i < peers.n; i++) {
		const struct nnode *m = node_get(nm, peers.v[i]);
		const int64_t *atp = idmap_i64_get(&n->peers, peers.v[i]);
		int64_t at;

		nm->stats->peer_visits++;
		/* A journaled peer may be gone since. */
		if (!m || !atp)
			continue;
		at = *atp;
		if (!full && at <= since && m->info_v <= since &&
		    n->peers_v <= since)
			continue;
		if (json_array_append_new(arr, render_peer(nm, &rc, m)) < 0)
			goto out;
	}
	if (!arr || ((full || json_array_size(arr)) &&
		     json_object_set(map, "peers", arr) < 0))
		goto out;
	if (!full) {
		for (size_t i = 0; i < n->ntombs; i++) {
			const struct tomb *t = &n->tombs[(n->tomb_head + i) %
							  nm->tomb_cap];

			if (t->removed_at > since &&
			    !idmap_i64_get(&n->peers, t->id) &&
			    ivec_push(&gone, t->id) < 0)
				goto out;
		}
		ivec_sort_unique(&gone);
		if (gone.n) {
			json_t *ids = json_array();

			for (size_t i = 0; ids && i < gone.n; i++)
				if (json_array_append_new(ids,
					json_integer(gone.v[i])) < 0) {
					json_decref(ids);
					ids = NULL;
				}
			if (json_object_set_new(map, "peers_removed", ids) < 0)
				goto out;
		}
	}
	if (filter_out)
		*filter_out = NULL;
	if (full || n->filter_v > since) {
		if (!filter_out) {
			if (json_object_set_new(map, "filter",
						render_filter(nm, n)) < 0)
				goto out;
		} else if (!(*filter_out = shared_filter(nm, n))) {
			goto out;
		}
	}
	if ((full || n->dns_v > since) &&
	    json_object_set_new(map, "dns", netmap_dns_render(nm, &rc)) < 0)
		goto out;
	if ((full || n->relays_v > since) &&
	    json_object_set_new(map, "relays", render_relays(nm)) < 0)
		goto out;
	if ((full || n->res_v > since) &&
	    json_object_set_new(map, "resources",
				netmap_res_render(nm, n, &rc)) < 0)
		goto out;
	if ((full || n->serves_v > since) &&
	    json_object_set_new(map, "serves", netmap_serves_render(nm, n)) < 0)
		goto out;
	*out = map;
	map = NULL;
	err = 0;
out:
	json_decref(map);
	json_decref(arr);
	ivec_free(&peers);
	ivec_free(&gone);
	netmap_reach_free(&rc);
	return err;
}

int netmap_render(const struct netmap *nm, int64_t id, int64_t since,
		  json_t **out)
{
	return render_map(nm, id, since, out, NULL);
}

int netmap_render_shared(const struct netmap *nm, int64_t id, int64_t since,
			 json_t **out, struct netmap_shared **filter)
{
	if (!filter)
		return WEFT_ERR_INVAL;
	return render_map(nm, id, since, out, filter);
}
