#include "controller/mapfeed.h"

#include "controller/dnsstore.h"
#include "controller/policy.h"
#include "controller/resource.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct names_ctx {
	struct store_tx *tx;
};

static bool user_exists(void *ctx, const char *name)
{
	struct names_ctx *c = ctx;
	struct store_user u;

	return store_user_get_by_name(c->tx, name, &u) == 0;
}

static bool resource_exists(void *ctx, const char *name)
{
	struct names_ctx *c = ctx;
	struct store_resource r;

	return store_resource_get_by_name(c->tx, name, &r) == 0;
}

static bool resource_filters(void *ctx, const char *name,
			     struct policy_filter *out, size_t *n)
{
	struct names_ctx *c = ctx;
	struct store_resource r;

	return store_resource_get_by_name(c->tx, name, &r) == 0 &&
	       resource_filters_from_text(r.filters, out, n) == 0;
}

/* The current policy, parsed; an empty policy when none was ever set. */
static int load_policy(struct store_tx *tx, struct policy **out)
{
	struct store_policy sp = {0};
	struct names_ctx nc = {tx};
	struct policy_names names = {user_exists, resource_exists, &nc,
				     resource_filters};
	struct policy_err err = {0};
	int rc;

	rc = store_policy_get_current(tx, &sp);
	if (rc == WEFT_ERR_NOTFOUND)
		return policy_new_empty(out);
	if (rc < 0)
		return rc;
	rc = policy_parse(sp.document, strlen(sp.document), &names, out, &err);
	if (rc == WEFT_ERR_INVAL) {
		char q1[160], q2[400];

		/* A document saved before resources had filters (migration
		 * 006) may have rules they narrow to nothing, or tests they
		 * now fail. Such a rule simply gives nothing (the engine
		 * narrows with the live filters): keep the rest of the
		 * policy rather than deny all. */
		names.resource_filters = NULL;
		if (policy_parse(sp.document, strlen(sp.document), &names, out,
				 NULL) == 0) {
			log_warn("policy_narrowed", "version=%" PRId64
				 " at=%s reason=%s", sp.version,
				 log_q(q1, sizeof(q1), err.path),
				 log_q(q2, sizeof(q2), err.message));
			rc = 0;
		}
	}
	if (rc < 0) {
		char q1[160], q2[400];

		/* Saved documents were valid when saved; a name deleted since
		 * (a user, a resource) can make one invalid. Deny all rather
		 * than keep a stale view. */
		log_error("policy_invalid", "version=%" PRId64 " at=%s reason=%s",
			  sp.version, log_q(q1, sizeof(q1), err.path),
			  log_q(q2, sizeof(q2), err.message));
		rc = policy_new_empty(out);
	}
	store_policy_free(&sp);
	return rc;
}

static int collect_route(void *ctx, const struct store_route *r)
{
	struct mapfeed_routes *c = ctx;

	if (!r->approved)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		char(*p)[STORE_CIDR_SIZE] = realloc(c->prefixes, cap * sizeof(*p));

		if (!p)
			return WEFT_ERR_NOMEM;
		c->prefixes = p;
		c->cap = cap;
	}
	memcpy(c->prefixes[c->n++], r->prefix, STORE_CIDR_SIZE);
	return 0;
}

/* The engine's input types mirror the store's fields of the same name. */
#define COPY_FIELD(dst, src)                                                 \
	do {                                                                 \
		_Static_assert(sizeof(dst) == sizeof(src), "field sizes");   \
		memcpy((dst), (src), sizeof(dst));                           \
	} while (0)

static void node_info(const struct store_node *sn, struct netmap_node_info *ni)
{
	memset(ni, 0, sizeof(*ni));
	ni->id = sn->id;
	COPY_FIELD(ni->name, sn->name);
	COPY_FIELD(ni->public_key, sn->public_key);
	COPY_FIELD(ni->ipv4, sn->ipv4);
	COPY_FIELD(ni->ipv6, sn->ipv6);
	COPY_FIELD(ni->tags, sn->tags);
	COPY_FIELD(ni->endpoints, sn->endpoints);
	COPY_FIELD(ni->home_relay, sn->home_relay);
	ni->last_seen = sn->last_seen;
	ni->online = sn->online;
}

/* A stored resource as the engine's input. Stored filters and tags were
 * validated by the API; a row that does not read (edited behind its
 * back) is WEFT_ERR_INVAL, which the caller logs and skips. */
static int resource_info(const struct store_resource *sr,
			 struct netmap_resource *r)
{
	json_t *tags;
	size_t i;
	int rc = 0;

	_Static_assert(NETMAP_RES_CONNECTORS_MAX == STORE_RES_CONNECTORS_MAX,
		       "connector limits");
	memset(r, 0, sizeof(*r));
	r->id = sr->id;
	COPY_FIELD(r->name, sr->name);
	COPY_FIELD(r->address, sr->address);
	COPY_FIELD(r->mapped_ipv4, sr->mapped_ipv4);
	COPY_FIELD(r->mapped_ipv6, sr->mapped_ipv6);
	if (sr->nconnector_nodes > NETMAP_RES_CONNECTORS_MAX ||
	    resource_filters_from_text(sr->filters, r->filters,
				       &r->nfilters) < 0)
		return WEFT_ERR_INVAL;
	memcpy(r->connector_nodes, sr->connector_nodes,
	       sr->nconnector_nodes * sizeof(r->connector_nodes[0]));
	r->nconnector_nodes = sr->nconnector_nodes;
	tags = json_loads(sr->connector_tags[0] ? sr->connector_tags : "[]", 0,
			  NULL);
	if (!json_is_array(tags) ||
	    json_array_size(tags) > NETMAP_RES_CONNECTORS_MAX)
		rc = WEFT_ERR_INVAL;
	for (i = 0; rc == 0 && i < json_array_size(tags); i++) {
		const char *t = json_string_value(json_array_get(tags, i));

		if (!t || strlen(t) >= sizeof(r->connector_tags[0]))
			rc = WEFT_ERR_INVAL;
		else
			memcpy(r->connector_tags[i], t, strlen(t) + 1);
	}
	r->nconnector_tags = rc == 0 ? i : 0;
	json_decref(tags);
	return rc;
}

/* resource_info, logging a row that does not read. */
static int resource_view(const struct store_resource *sr,
			 struct netmap_resource *r)
{
	int rc = resource_info(sr, r);

	if (rc == WEFT_ERR_INVAL)
		log_error("resource_invalid", "id=%" PRId64 " name=%s",
			  sr->id, sr->name);
	return rc;
}

static void relay_info(const struct store_relay *sr, struct netmap_relay *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sr->id;
	COPY_FIELD(r->name, sr->name);
	COPY_FIELD(r->region, sr->region);
	COPY_FIELD(r->address, sr->address);
	COPY_FIELD(r->public_key_pin, sr->public_key_pin);
}

/* Builds the engine's view of a stored node. */
static int node_view(struct store_tx *tx, const struct store_node *sn,
		     struct netmap_node *out, struct mapfeed_routes *rc_out)
{
	struct store_route_filter f = {.node_id = sn->id};
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct mapfeed_routes rc = {0};
	struct store_user u;
	int rc2;

	memset(out, 0, sizeof(*out));
	node_info(sn, &out->node);
	if (sn->user_id && store_user_get(tx, sn->user_id, &u) == 0)
		COPY_FIELD(out->user, u.name);
	rc2 = store_route_list(tx, &f, &pg, collect_route, &rc, NULL);
	if (rc2 < 0) {
		free(rc.prefixes);
		return rc2;
	}
	if (rc.n) {
		rc.ptrs = calloc(rc.n, sizeof(*rc.ptrs));
		if (!rc.ptrs) {
			free(rc.prefixes);
			return WEFT_ERR_NOMEM;
		}
		for (size_t i = 0; i < rc.n; i++)
			rc.ptrs[i] = rc.prefixes[i];
	}
	out->approved_routes = rc.ptrs;
	out->napproved = rc.n;
	*rc_out = rc;
	return 0;
}

static void routes_free(struct mapfeed_routes *rc)
{
	free(rc->prefixes);
	free(rc->ptrs);
}

static bool node_expired(const struct store_node *n, int64_t wall)
{
	return n->expires_at && n->expires_at <= wall;
}

static int collect_relay(void *ctx, const struct store_relay *r)
{
	struct mapfeed_relays *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct netmap_relay *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return WEFT_ERR_NOMEM;
		c->v = v;
		c->cap = cap;
	}
	relay_info(r, &c->v[c->n++]);
	return 0;
}

void mapfeed_change_free(struct mapfeed_change *s)
{
	routes_free(&s->routes);
	free(s->relays.v);
	policy_free(s->pol);
	json_decref(s->dns);
	memset(s, 0, sizeof(*s));
}

static int stage_node(struct store_tx *tx, int64_t id,
		      struct mapfeed_change *s)
{
	struct store_node sn;
	int r;

	r = store_node_get(tx, id, &sn);
	if (r == WEFT_ERR_NOTFOUND ||
	    (r == 0 && node_expired(&sn, clock_wall_s()))) {
		s->kind = MAPFEED_NODE_GONE;
		return 0;
	}
	if (r < 0)
		return r;
	s->kind = MAPFEED_NODE;
	s->online = sn.online;
	return node_view(tx, &sn, &s->node, &s->routes);
}

static int stage_resource(struct store_tx *tx, int64_t id,
			  struct mapfeed_change *s)
{
	struct store_resource sr;
	int rc;

	rc = store_resource_get(tx, id, &sr);
	if (rc == WEFT_ERR_NOTFOUND) {
		s->kind = MAPFEED_RESOURCE_GONE;
		return 0;
	}
	if (rc < 0)
		return rc;
	/* An unreadable row is left out of the maps, like a deleted one. */
	s->kind = resource_view(&sr, &s->res) == 0 ? MAPFEED_RESOURCE
						   : MAPFEED_RESOURCE_GONE;
	return 0;
}

static int stage_relays(struct store_tx *tx, struct mapfeed_change *s)
{
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	int64_t next = 0;
	int rc;

	s->kind = MAPFEED_RELAYS;
	do {
		rc = store_relay_list(tx, &pg, collect_relay, &s->relays, &next);
		pg.after = next;
	} while (rc == 0 && next);
	return rc;
}

static int stage_dns(const char *dns_suffix, struct store_tx *tx,
		     struct mapfeed_change *s)
{
	int rc = dnsstore_get(tx, dns_suffix, &s->dns);

	s->kind = MAPFEED_DNS;
	return rc < 0 ? rc : dnsstore_stub6(tx, &s->stub6);
}

int mapfeed_stage(struct store_tx *tx, const char *dns_suffix,
		  const char *kind, int64_t version, int64_t id,
		  struct mapfeed_change *s)
{
	memset(s, 0, sizeof(*s));
	s->version = version;
	s->id = id;
	if (strcmp(kind, "node") == 0)
		return stage_node(tx, id, s);
	if (strcmp(kind, "resource") == 0)
		return stage_resource(tx, id, s);
	if (strcmp(kind, "relay") == 0)
		return stage_relays(tx, s);
	if (strcmp(kind, "dns") == 0)
		return stage_dns(dns_suffix, tx, s);
	if (strcmp(kind, "policy") == 0 || strcmp(kind, "user") == 0) {
		/* Users matter through policy names and groups. */
		s->kind = MAPFEED_POLICY;
		return load_policy(tx, &s->pol);
	}
	return 0;
}

int mapfeed_apply(struct netmap *nm, struct mapfeed_change *s,
		  struct netmap_dirty *dirty)
{
	struct policy *p;

	switch (s->kind) {
	case MAPFEED_NODE_GONE:
		return netmap_node_remove(nm, s->version, s->id, dirty);
	case MAPFEED_NODE:
		return netmap_node_upsert(nm, s->version, &s->node, dirty);
	case MAPFEED_RESOURCE_GONE:
		return netmap_resource_remove(nm, s->version, s->id, dirty);
	case MAPFEED_RESOURCE:
		return netmap_resource_upsert(nm, s->version, &s->res, dirty);
	case MAPFEED_RELAYS:
		return netmap_relays_set(nm, s->version, s->relays.v,
					 s->relays.n, dirty);
	case MAPFEED_POLICY:
		p = s->pol;
		s->pol = NULL; /* the engine owns it, also on failure */
		return netmap_policy_set(nm, s->version, p, dirty);
	case MAPFEED_DNS:
		return netmap_dns_set(nm, s->version, s->dns, &s->stub6, dirty);
	case MAPFEED_SKIP:
		break;
	}
	return 0;
}

struct load_ctx {
	struct netmap *nm;
	struct store_tx *tx;
	int64_t version;
	struct netmap_dirty *dirty;
};

static int load_node(void *ctx, const struct store_node *sn)
{
	struct load_ctx *l = ctx;
	struct netmap_node nn;
	struct mapfeed_routes rc = {0};
	int r;

	if (node_expired(sn, clock_wall_s()))
		return 0;
	r = node_view(l->tx, sn, &nn, &rc);
	if (r == 0)
		r = netmap_node_upsert(l->nm, l->version, &nn, l->dirty);
	routes_free(&rc);
	return r;
}

static int load_resource(void *ctx, const struct store_resource *sr)
{
	struct load_ctx *l = ctx;
	struct netmap_resource r;

	if (resource_view(sr, &r) < 0)
		return 0;
	return netmap_resource_upsert(l->nm, l->version, &r, l->dirty);
}

int mapfeed_load(struct store_tx *tx, const char *dns_suffix,
		 struct netmap *nm, int64_t version,
		 struct netmap_dirty *dirty)
{
	static const char *const kinds[] = {"policy", "relay", "dns"};
	struct load_ctx l = {nm, tx, version, dirty};
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};
	struct mapfeed_change st;
	int64_t next;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(kinds) / sizeof(kinds[0]);
	     i++) {
		rc = mapfeed_stage(tx, dns_suffix, kinds[i], version, 0, &st);
		if (rc == 0)
			rc = mapfeed_apply(nm, &st, dirty);
		mapfeed_change_free(&st);
	}
	if (rc < 0)
		return rc;
	do {
		rc = store_resource_list(tx, &pg, load_resource, &l, &next);
		pg.after = next;
	} while (rc == 0 && next);
	if (rc < 0)
		return rc;
	pg.after = 0;
	do {
		rc = store_node_list(tx, NULL, &pg, load_node, &l, &next);
		pg.after = next;
	} while (rc == 0 && next);
	return rc;
}
