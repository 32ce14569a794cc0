/* Fixtures shared by the network-map engine tests (ctl_netmap*_test.c):
 * an engine with its dirty list and version counter, nodes with addresses
 * derived from their id, and a small deterministic random generator. */
#ifndef WEFT_TEST_NETMAP_FIX_H
#define WEFT_TEST_NETMAP_FIX_H

#include "check.h"
#include "controller/netmap.h"
#include "shared/err.h"

#include <stdio.h>
#include <stdlib.h>

struct fix {
	struct netmap *nm;
	struct netmap_dirty dirty;
	int64_t v;
};

static inline void fix_init(struct fix *f, size_t tombs)
{
	struct netmap_options opt = {
		.dns_suffix = "weft.internal",
		.tombstones_per_node = tombs,
	};

	memset(f, 0, sizeof(*f));
	CHECK_INT(netmap_new(&opt, &f->nm), 0);
}

static inline void fix_free(struct fix *f)
{
	netmap_del(f->nm);
	netmap_dirty_free(&f->dirty);
}

/* A node with addresses derived from id: 100.64.<id/256>.<id%256> and
 * fd7a:115c:a1e0::<id>. tags is JSON array text or NULL; routes a
 * NULL-terminated list or NULL. */
static inline struct netmap_node mknode(int64_t id, const char *user,
					const char *tags,
					const char *const *routes)
{
	struct netmap_node n;

	memset(&n, 0, sizeof(n));
	n.node.id = id;
	snprintf(n.node.name, sizeof(n.node.name), "n%lld", (long long)id);
	snprintf(n.user, sizeof(n.user), "%s", user ? user : "");
	snprintf(n.node.ipv4, sizeof(n.node.ipv4), "100.64.%lld.%lld",
		 (long long)(id / 256), (long long)(id % 256));
	snprintf(n.node.ipv6, sizeof(n.node.ipv6), "fd7a:115c:a1e0::%llx",
		 (long long)id);
	snprintf(n.node.tags, sizeof(n.node.tags), "%s", tags ? tags : "[]");
	snprintf(n.node.public_key, sizeof(n.node.public_key), "key-%lld",
		 (long long)id);
	snprintf(n.node.endpoints, sizeof(n.node.endpoints),
		 "[\"192.0.2.%lld:41641\"]", (long long)(id % 250));
	snprintf(n.node.home_relay, sizeof(n.node.home_relay), "r1");
	n.node.online = 1;
	n.approved_routes = routes;
	while (routes && routes[n.napproved])
		n.napproved++;
	return n;
}

static inline int upsert(struct fix *f, const struct netmap_node *n)
{
	netmap_dirty_reset(&f->dirty);
	return netmap_node_upsert(f->nm, ++f->v, n, &f->dirty);
}

static inline int add(struct fix *f, int64_t id, const char *user,
		      const char *tags, const char *const *routes)
{
	struct netmap_node n = mknode(id, user, tags, routes);

	return upsert(f, &n);
}

static inline int set_policy(struct fix *f, const char *json)
{
	struct policy *p = NULL;
	struct policy_err err;
	int rc = policy_parse(json, strlen(json), NULL, &p, &err);

	if (rc < 0) {
		fprintf(stderr, "policy: %s: %s\n", err.path, err.message);
		return rc;
	}
	netmap_dirty_reset(&f->dirty);
	return netmap_policy_set(f->nm, ++f->v, p, &f->dirty);
}

static inline json_t *render(struct fix *f, int64_t id, int64_t since)
{
	json_t *m = NULL;

	CHECK_INT(netmap_render(f->nm, id, since, &m), 0);
	return m;
}

/* Compares a JSON value with the expected JSON text, reporting both. */
static inline bool json_is(const json_t *got, const char *expected, const char *file,
		    int line)
{
	json_t *want = json_loads(expected, 0, NULL);
	char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *w = want ? json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	bool ok = g && w && strcmp(g, w) == 0;

	check_report(ok, file, line, "json\n    got  %s\n    want %s",
		     g ? g : "(null)", w ? w : "(bad expected json)");
	free(g);
	free(w);
	json_decref(want);
	return ok;
}

#define CHECK_JSON(got, expected) json_is((got), (expected), __FILE__, __LINE__)

static inline json_t *filter_of(struct fix *f, int64_t id)
{
	json_t *m = render(f, id, 0);
	json_t *flt = m ? json_incref(json_object_get(m, "filter")) : NULL;

	json_decref(m);
	return flt;
}

static inline const json_t *peer_in(const json_t *map, int64_t id)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(map, "peers"), i, p)
		if (json_integer_value(json_object_get(p, "id")) == id)
			return p;
	return NULL;
}

static inline bool dirty_has(const struct netmap_dirty *d, int64_t id)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->ids[i] == id)
			return true;
	return false;
}

/* "[2,3]" style text of id's peers. */
static inline void peers_text(struct fix *f, int64_t id, char *buf, size_t n)
{
	int64_t *ids = NULL;
	size_t cnt = 0, len = 0;

	buf[0] = '\0';
	if (!CHECK(netmap_peers(f->nm, id, &ids, &cnt) == 0))
		return;
	len += (size_t)snprintf(buf + len, n - len, "[");
	for (size_t i = 0; i < cnt && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%lld",
					i ? "," : "", (long long)ids[i]);
	if (len < n)
		snprintf(buf + len, n - len, "]");
	free(ids);
}

#define CHECK_PEERS(f, id, expected)                                         \
	do {                                                                 \
		char pbuf_[4096];                                            \
		peers_text((f), (id), pbuf_, sizeof(pbuf_));                 \
		CHECK_STR(pbuf_, (expected));                                \
	} while (0)

static uint64_t rng_state;

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static inline unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* A resource of every kind the engine knows, at random: an IP, a CIDR, a
 * DNS name or a wildcard (with mapped prefixes) or the internet; no
 * filters or some of tcp/udp/icmp; one to three connectors among nodes
 * 1..max_node and tag:conn. */
static inline void random_resource_of(struct netmap_resource *r, int64_t id,
				      const char *name, unsigned max_node)
{
	static const char *const addr[] = {"10.20.0.0/24", "10.20.1.5",
					   "wiki.corp.example",
					   "*.corp.example", "internet"};
	static const char *const m4[] = {"", "", "100.96.0.1/32",
					 "100.104.0.0/24", ""};
	static const char *const m6[] = {"", "", "fd7a:115c:a1e0:ffff::6460:1/128",
					 "fd7a:115c:a1e0:ffff::6468:0/120", ""};
	unsigned a = pick(5), f = pick(4);

	memset(r, 0, sizeof(*r));
	r->id = id;
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->address, sizeof(r->address), "%s", addr[a]);
	snprintf(r->mapped_ipv4, sizeof(r->mapped_ipv4), "%s", m4[a]);
	snprintf(r->mapped_ipv6, sizeof(r->mapped_ipv6), "%s", m6[a]);
	if (f == 1 || f == 3) {
		r->filters[r->nfilters].proto = POLICY_TCP;
		r->filters[r->nfilters].ports[0] =
			(struct policy_ports){80, 90};
		r->filters[r->nfilters].ports[1] =
			(struct policy_ports){443, 443};
		r->filters[r->nfilters++].nports = 2;
	}
	if (f == 2 || f == 3) {
		r->filters[r->nfilters].proto = POLICY_UDP;
		r->filters[r->nfilters++].nports = 0;
		r->filters[r->nfilters++].proto = POLICY_ICMP;
	}
	for (unsigned k = pick(3); k > 0; k--)
		r->connector_nodes[r->nconnector_nodes++] = 1 + pick(max_node);
	if (!r->nconnector_nodes || pick(2))
		snprintf(r->connector_tags[r->nconnector_tags++],
			 sizeof(r->connector_tags[0]), "tag:conn");
}

#endif
