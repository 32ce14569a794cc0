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
 * reach. */
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
		    pvec_push(&allowed, &rc->res[i]->prefix) < 0)
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
static json_t *ports_json(const struct dent *e, size_t n)
{
	char *buf = malloc(n * 12 + 2);
	size_t len = 0, i = 0;
	json_t *out;

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
	out = json_string(buf);
	free(buf);
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
		if (ip_prefix_format(&v[i].p, buf, sizeof(buf)) < 0 ||
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

/* One filter entry and its text as json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) would write it, built from the source list's cached
 * text rather than by dumping hundreds of prefixes again. */
static int render_item(const struct fitem *it, struct rendered *out)
{
	json_t *src = json_array(), *dst = dst_json(it->dst, it->ndst);
	const char *proto = policy_proto_name(it->proto);
	char *dtext = NULL;
	int rc = WEFT_ERR_NOMEM;

	for (size_t i = 0; src && i < it->src->prefixes.n; i++)
		if (json_array_append_new(src, json_string_nocheck(
				it->src->strs[i])) < 0)
			goto out;
	if (!src || !dst || !(dtext = json_dumps(dst, JSON_COMPACT |
						 JSON_SORT_KEYS)))
		goto out;
	/* Protocol names are plain lower-case words. */
	if (asprintf(&out->text, "{\"dst\":%s,\"proto\":\"%s\",\"src\":%s}",
		     dtext, proto, it->src->text) < 0) {
		out->text = NULL;
		goto out;
	}
	out->j = json_pack("{ss sO sO}", "proto", proto, "src", src, "dst", dst);
	if (!out->j) {
		free(out->text);
		out->text = NULL;
		goto out;
	}
	rc = 0;
out:
	free(dtext);
	json_decref(src);
	json_decref(dst);
	return rc;
}

/* n's packet filter: the rules of D(n) ∪ V(n), sorted by their text and
 * without duplicates, so equal filters render equally. */
static json_t *render_filter(const struct netmap *nm, const struct nnode *n)
{
	struct fcomp f = {0};
	struct rendered *items = NULL;
	size_t nitems = 0;
	json_t *arr = NULL;

	if (netmap_filter_compile(nm, n, &f) < 0)
		goto out;
	if (f.n && !(items = calloc(f.n, sizeof(*items))))
		goto out;
	for (size_t i = 0; i < f.n; i++) {
		if (render_item(&f.v[i], &items[nitems]) < 0)
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
	netmap_filter_free(&f);
	return arr;
}

static json_t *render_dns(const struct netmap *nm, const struct reach *rc)
{
	json_t *res = json_array();

	for (size_t i = 0; res && i < rc->nres; i++) {
		if (json_array_append_new(res, json_pack("{ss ss}", "name",
				rc->res[i]->r.name, "address",
				rc->res[i]->r.address)) < 0) {
			json_decref(res);
			return NULL;
		}
	}
	return json_pack("{ss so}", "suffix", nm->suffix, "resources", res);
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

int netmap_render(const struct netmap *nm, int64_t id, int64_t since,
		  json_t **out)
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
	if ((full || n->filter_v > since) &&
	    json_object_set_new(map, "filter", render_filter(nm, n)) < 0)
		goto out;
	if ((full || n->dns_v > since) &&
	    json_object_set_new(map, "dns", render_dns(nm, &rc)) < 0)
		goto out;
	if ((full || n->relays_v > since) &&
	    json_object_set_new(map, "relays", render_relays(nm)) < 0)
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
