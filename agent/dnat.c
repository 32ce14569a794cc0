/* DNS and wildcard resources on the connector: see dnat.h.
 *
 * Every name is asked for A and AAAA on its own (a family whose mapped
 * address the resource lacks is not asked). The element of a name is
 * replaced in one nft transaction (delete the old, add the new), so no
 * packet sees the name untranslated in between. */
#include "agent/dnat.h"

#include "agent/wildcard.h"
#include "shared/dnswire.h"
#include "shared/err.h"
#include "shared/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOLV_CONF "/etc/resolv.conf"
#define TABLE_MAX 32
#define ELEM_SCRIPT_MAX 1024
#define REFUSED_LOG_US (10 * 1000000LL)

enum fam_state { ST_PENDING, ST_RESOLVED, ST_NXDOMAIN, ST_FAILED };

static const char *const state_names[] = {
	[ST_PENDING] = "pending", [ST_RESOLVED] = "resolved",
	[ST_NXDOMAIN] = "nxdomain", [ST_FAILED] = "failed",
};

struct dnat_name;

struct dnat_fam {
	struct dnat_name *owner;
	int family;             /* 4 or 6 */
	struct ip_addr mapped;  /* family 0: the resource has none */
	struct ip_addr client;  /* wildcard: the client's address */
	struct ip_addr real;    /* in the map now; family 0: none */
	bool nx;                /* in the nx set now */
	enum fam_state state;
	bool failing;           /* the last lookup failed (logged once) */
	uint32_t ttl;
	struct resolver_query *q;
	struct loop_timer *timer;
};

struct dnat_name {
	struct dnat *d;
	int64_t res_id;
	bool wild;
	bool keep;              /* mark of dnat_set_serves */
	char name[DNSWIRE_NAME_MAX];
	struct dnat_fam f[2];   /* IPv4, IPv6 */
};

struct dnat_wild {
	int64_t id;
	char pattern[DNSWIRE_NAME_MAX + 2];
	struct ip_prefix p4, p6; /* family 0: none */
};

struct dnat {
	struct loop *loop;
	char table[TABLE_MAX];
	struct resolver *res;
	dnat_run_fn *run;
	void *ctx;
	struct dnat_name **v;
	size_t n, cap;
	struct dnat_wild *wild;
	size_t nwild;
	uint64_t messages, refused, nft_errors, refused_unlogged;
	int64_t refused_logged_us;
};

/* ---- nft elements ---- */

/* The element's key, "mapped" or "client . mapped". */
static void key_text(const struct dnat_fam *f, char *out, size_t cap)
{
	char m[IP_ADDR_STRLEN], c[IP_ADDR_STRLEN];

	ip_addr_format(&f->mapped, m, sizeof(m));
	if (!f->owner->wild) {
		snprintf(out, cap, "%s", m);
		return;
	}
	ip_addr_format(&f->client, c, sizeof(c));
	snprintf(out, cap, "%s . %s", c, m);
}

/* Replaces f's elements by real (family 0: none) and nx in one
 * transaction. Returns 0 or the run's error (f unchanged). */
static int install(struct dnat_fam *f, const struct ip_addr *real, bool nx)
{
	struct dnat *d = f->owner->d;
	char script[ELEM_SCRIPT_MAX], key[2 * IP_ADDR_STRLEN + 4];
	char r[IP_ADDR_STRLEN], err[256], q[300], q2[300];
	const char *w = f->owner->wild ? "w" : "";
	int len = 0, rc;

	key_text(f, key, sizeof(key));
	if (f->real.family)
		len += snprintf(script + len, sizeof(script) - (size_t)len,
				"delete element inet %s %sdnat%d { %s }\n",
				d->table, w, f->family, key);
	if (f->nx)
		len += snprintf(script + len, sizeof(script) - (size_t)len,
				"delete element inet %s %snx%d { %s }\n",
				d->table, w, f->family, key);
	if (real->family) {
		ip_addr_format(real, r, sizeof(r));
		len += snprintf(script + len, sizeof(script) - (size_t)len,
				"add element inet %s %sdnat%d { %s : %s }\n",
				d->table, w, f->family, key, r);
	}
	if (nx)
		len += snprintf(script + len, sizeof(script) - (size_t)len,
				"add element inet %s %snx%d { %s }\n",
				d->table, w, f->family, key);
	if (len == 0)
		return 0;
	rc = d->run(d->ctx, script, err, sizeof(err));
	if (rc < 0) {
		d->nft_errors++;
		log_warn_err(rc, "dns_resource_nft_failed", "name=%s family=%d "
			     "error=%s", log_q(q, sizeof(q), f->owner->name),
			     f->family, log_q(q2, sizeof(q2), err));
		return rc;
	}
	f->real = *real;
	f->nx = nx;
	return 0;
}

/* ---- lookups ---- */

static void fam_lookup(struct dnat_fam *f);

static void on_timer(struct loop_timer *t, void *ctx)
{
	(void)t;
	fam_lookup(ctx);
}

static bool has_addr(const struct ip_addr *v, size_t n,
		     const struct ip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (ip_addr_eq(&v[i], a))
			return true;
	return false;
}

/* An answer: keeps the address in use while the name still has it
 * (round-robin names do not move flows), else takes the first. */
static void on_answer(void *ctx, int status, const struct ip_addr *addrs,
		      size_t n, uint32_t ttl)
{
	struct dnat_fam *f = ctx;
	const struct ip_addr none = {0};
	char qb[300], m[IP_ADDR_STRLEN], r[IP_ADDR_STRLEN];
	char old[IP_ADDR_STRLEN] = "-";
	int64_t again = DNAT_RETRY_S;
	const char *name;

	f->q = NULL;
	ip_addr_format(&f->mapped, m, sizeof(m));
	name = log_q(qb, sizeof(qb), f->owner->name);
	if (status == 0 && n > 0) {
		const struct ip_addr *pick =
			has_addr(addrs, n, &f->real) ? &f->real : &addrs[0];
		bool same = f->state == ST_RESOLVED && !f->nx &&
			    ip_addr_eq(pick, &f->real);

		ttl = ttl < DNAT_TTL_MIN ? DNAT_TTL_MIN
		      : ttl > DNAT_TTL_MAX ? DNAT_TTL_MAX : ttl;
		f->ttl = ttl;
		again = ttl;
		if (f->real.family)
			ip_addr_format(&f->real, old, sizeof(old));
		if (!same && install(f, pick, false) == 0) {
			ip_addr_format(pick, r, sizeof(r));
			log_info("dns_resource_resolved", "name=%s family=%d "
				 "mapped=%s real=%s old=%s ttl=%u", name,
				 f->family, m, r, old, (unsigned)ttl);
			f->state = ST_RESOLVED;
		} else if (!same) {
			again = DNAT_RETRY_S; /* nft refused: soon again */
		}
	} else if (status == WEFT_ERR_NOTFOUND) {
		if (f->state != ST_NXDOMAIN && install(f, &none, true) == 0) {
			log_warn("dns_resource_nxdomain", "name=%s family=%d "
				 "mapped=%s note=\"no such name or no address "
				 "of this family: clients get ICMP "
				 "admin-prohibited\"", name, f->family, m);
			f->state = ST_NXDOMAIN;
		}
	} else {
		/* Keep the last answer: better a stale one than none while
		 * the site's DNS is away. Logged once per outage. */
		if (!f->failing)
			log_warn_err(status, "dns_resource_failed", "name=%s "
				     "family=%d mapped=%s kept=%s retry_s=%d",
				     name, f->family, m, state_names[f->state],
				     DNAT_RETRY_S);
		f->failing = true;
		if (f->state == ST_PENDING)
			f->state = ST_FAILED;
		loop_timer_start(f->timer, again * 1000000LL);
		return;
	}
	f->failing = false;
	loop_timer_start(f->timer, again * 1000000LL);
}

static void fam_lookup(struct dnat_fam *f)
{
	struct dnat *d = f->owner->d;
	int rc;

	if (!f->mapped.family || f->q)
		return;
	rc = resolver_query(d->res, f->owner->name,
			    f->family == 4 ? DNS_TYPE_A : DNS_TYPE_AAAA,
			    on_answer, f, &f->q);
	if (rc < 0) {
		f->q = NULL;
		loop_timer_start(f->timer, DNAT_RETRY_S * 1000000LL);
	}
}

/* ---- names ---- */

static void name_free(struct dnat_name *nm, bool remove)
{
	const struct ip_addr none = {0};

	for (int i = 0; i < 2; i++) {
		struct dnat_fam *f = &nm->f[i];

		if (f->q)
			resolver_cancel(f->q);
		loop_timer_del(f->timer);
		if (remove && f->mapped.family)
			install(f, &none, false);
	}
	free(nm);
}

/* A new name; mapped[0] IPv4, mapped[1] IPv6 (family 0: none);
 * client likewise for wildcard names (NULL otherwise). Starts its
 * lookups. Returns NULL when out of memory or full (logged). */
static struct dnat_name *name_add(struct dnat *d, int64_t id, bool wild,
				  const char *name,
				  const struct ip_addr mapped[2],
				  const struct ip_addr *client)
{
	struct dnat_name *nm, **v;
	int i;

	if (d->n >= DNAT_NAMES_MAX)
		return NULL;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;

		v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		d->v = v;
		d->cap = cap;
	}
	nm = calloc(1, sizeof(*nm));
	if (!nm)
		return NULL;
	nm->d = d;
	nm->res_id = id;
	nm->wild = wild;
	nm->keep = true;
	snprintf(nm->name, sizeof(nm->name), "%s", name);
	for (i = 0; i < 2; i++) {
		nm->f[i].owner = nm;
		nm->f[i].family = i ? 6 : 4;
		nm->f[i].mapped = mapped[i];
		if (client)
			nm->f[i].client = client[i];
		if (loop_timer_new(d->loop, on_timer, &nm->f[i],
				   &nm->f[i].timer) < 0) {
			name_free(nm, false);
			return NULL;
		}
	}
	d->v[d->n++] = nm;
	for (i = 0; i < 2; i++)
		fam_lookup(&nm->f[i]);
	return nm;
}

int dnat_new(const struct dnat_cfg *cfg, struct dnat **out)
{
	const char *path = cfg->resolv_conf ? cfg->resolv_conf : RESOLV_CONF;
	struct resolver_conf rc;
	struct dnat *d;
	int e;

	if (!cfg->loop || !cfg->run || !cfg->table ||
	    strlen(cfg->table) >= TABLE_MAX)
		return WEFT_ERR_INVAL;
	if (cfg->conf)
		rc = *cfg->conf;
	else if ((e = resolver_conf_load(path, &rc)) < 0)
		log_warn_err(e, "dns_resource_resolv_conf", "path=%s note=\"using "
			     "127.0.0.1\"", path);
	d = calloc(1, sizeof(*d));
	if (!d)
		return WEFT_ERR_NOMEM;
	e = resolver_new(cfg->loop, &rc, &d->res);
	if (e < 0) {
		free(d);
		return e;
	}
	d->loop = cfg->loop;
	snprintf(d->table, sizeof(d->table), "%s", cfg->table);
	d->run = cfg->run;
	d->ctx = cfg->ctx;
	*out = d;
	return 0;
}

void dnat_del(struct dnat *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		name_free(d->v[i], false);
	free(d->v);
	free(d->wild);
	resolver_del(d->res);
	free(d);
}

static const struct ip_prefix *prefix_of(const struct map_res *r, int fam)
{
	for (size_t i = 0; i < r->nprefixes; i++)
		if (r->prefixes[i].addr.family == fam)
			return &r->prefixes[i];
	return NULL;
}

static const struct dnat_wild *wild_find(const struct dnat *d, int64_t id)
{
	for (size_t i = 0; i < d->nwild; i++)
		if (d->wild[i].id == id)
			return &d->wild[i];
	return NULL;
}

/* Whether the served DNS resource r still has nm as it is. */
static bool same_dns(const struct dnat_name *nm, const struct map_res *r)
{
	const struct ip_prefix *p4 = prefix_of(r, 4), *p6 = prefix_of(r, 6);

	return !nm->wild && nm->res_id == r->id &&
	       strcmp(nm->name, r->address) == 0 &&
	       (p4 ? ip_addr_eq(&p4->addr, &nm->f[0].mapped)
		   : !nm->f[0].mapped.family) &&
	       (p6 ? ip_addr_eq(&p6->addr, &nm->f[1].mapped)
		   : !nm->f[1].mapped.family);
}

/* The mapped sets: every prefix of a DNS or wildcard resource served. */
static void write_mapped(struct dnat *d, const struct map_res *v, size_t n)
{
	size_t cap = 256 + n * 2 * (IP_ADDR_STRLEN + 8), len = 0;
	char *s = malloc(cap), p[IP_ADDR_STRLEN + 8], err[256], q[300];
	int fam, rc;

	if (!s)
		return;
	len += (size_t)snprintf(s, cap, "flush set inet %s mapped4\n"
				"flush set inet %s mapped6\n", d->table,
				d->table);
	for (fam = 4; fam <= 6; fam += 2) {
		bool any = false;

		for (size_t i = 0; i < n; i++) {
			const struct ip_prefix *px = prefix_of(&v[i], fam);

			if ((v[i].type != MAP_RES_DNS &&
			     v[i].type != MAP_RES_WILDCARD) || !px)
				continue;
			ip_prefix_format(px, p, sizeof(p));
			if (any)
				len += (size_t)snprintf(s + len, cap - len,
							", %s", p);
			else
				len += (size_t)snprintf(s + len, cap - len,
					"add element inet %s mapped%d { %s",
					d->table, fam, p);
			any = true;
		}
		if (any)
			len += (size_t)snprintf(s + len, cap - len, " }\n");
	}
	rc = d->run(d->ctx, s, err, sizeof(err));
	if (rc < 0) {
		d->nft_errors++;
		log_warn_err(rc, "dns_resource_nft_failed", "what=mapped_sets "
			     "error=%s", log_q(q, sizeof(q), err));
	}
	free(s);
}

void dnat_set_serves(struct dnat *d, const struct map_res *v, size_t n)
{
	struct dnat_wild *w = NULL;
	size_t i, j, nw = 0;

	for (i = 0; i < n; i++)
		nw += v[i].type == MAP_RES_WILDCARD;
	if (nw && !(w = calloc(nw, sizeof(*w)))) {
		log_warn("dns_resource_failed", "reason=out_of_memory");
		return;
	}
	for (i = 0, nw = 0; i < n; i++) {
		const struct ip_prefix *p4 = prefix_of(&v[i], 4);
		const struct ip_prefix *p6 = prefix_of(&v[i], 6);

		if (v[i].type != MAP_RES_WILDCARD)
			continue;
		w[nw].id = v[i].id;
		snprintf(w[nw].pattern, sizeof(w[nw].pattern), "%s",
			 v[i].address);
		if (p4)
			w[nw].p4 = *p4;
		if (p6)
			w[nw].p6 = *p6;
		nw++;
	}
	free(d->wild);
	d->wild = w;
	d->nwild = nw;

	for (i = 0; i < d->n; i++) {
		const struct dnat_wild *x;
		struct dnat_name *nm = d->v[i];

		nm->keep = false;
		if (nm->wild) {
			x = wild_find(d, nm->res_id);
			nm->keep = x && x->p4.addr.family &&
				   ip_prefix_contains(&x->p4, &nm->f[0].mapped);
			continue;
		}
		for (j = 0; j < n && !nm->keep; j++)
			nm->keep = v[j].type == MAP_RES_DNS &&
				   same_dns(nm, &v[j]);
	}
	for (i = j = 0; i < d->n; i++) {
		if (d->v[i]->keep)
			d->v[j++] = d->v[i];
		else
			name_free(d->v[i], true);
	}
	d->n = j;
	write_mapped(d, v, n);
	for (i = 0; i < n; i++) {
		struct ip_addr mapped[2] = {{0}};
		const struct ip_prefix *p4 = prefix_of(&v[i], 4);
		const struct ip_prefix *p6 = prefix_of(&v[i], 6);
		bool have = false;

		if (v[i].type != MAP_RES_DNS)
			continue;
		for (j = 0; j < d->n && !have; j++)
			have = same_dns(d->v[j], &v[i]);
		if (have)
			continue;
		if (p4)
			mapped[0] = p4->addr;
		if (p6)
			mapped[1] = p6->addr;
		if (!name_add(d, v[i].id, false, v[i].address, mapped, NULL))
			log_warn("dns_resource_failed", "resource_id=%lld "
				 "reason=no_room", (long long)v[i].id);
	}
}

/* ---- wildcard messages ---- */

/* Whether some rule of m's filter lets src reach dst (any protocol or
 * port: the connector's filter and table check those per packet). */
static bool may_reach(const struct map *m, const struct ip_addr *src,
		      const struct ip_addr *dst)
{
	size_t n, i, j;
	const struct map_rule *r = map_rules(m, &n);

	for (i = 0; i < n; i++) {
		bool from = false, to = false;

		for (j = 0; j < r[i].nsrc && !from; j++)
			from = ip_prefix_contains(&r[i].src[j], src);
		for (j = 0; from && j < r[i].ndst && !to; j++)
			to = !r[i].dst[j].self &&
			     ip_prefix_contains(&r[i].dst[j].prefix, dst);
		if (to)
			return true;
	}
	return false;
}

/* The peer's IPv6 mesh address (family 0: none) for its IPv4 one. */
static struct ip_addr peer_v6(const struct map *m, const struct ip_addr *v4)
{
	size_t n;
	const struct map_peer *const *p = map_peers(m, &n);
	struct ip_addr none = {0};

	for (size_t i = 0; i < n; i++)
		if (ip_addr_eq(&p[i]->ipv4, v4))
			return p[i]->ipv6;
	return none;
}

static void refuse(struct dnat *d, const struct ip_addr *src,
		   const char *why)
{
	int64_t now = loop_now_us(d->loop);
	char s[IP_ADDR_STRLEN];

	d->refused++;
	if (d->refused_logged_us &&
	    now - d->refused_logged_us < REFUSED_LOG_US) {
		d->refused_unlogged++;
		return;
	}
	ip_addr_format(src, s, sizeof(s));
	log_warn("wildcard_name_refused", "src=%s reason=%s suppressed=%llu",
		 s, why, (unsigned long long)d->refused_unlogged);
	d->refused_logged_us = now;
	d->refused_unlogged = 0;
}

static void take_entry(struct dnat *d, const struct map *m,
		       const struct ip_addr *src,
		       const struct wildcard_entry *e)
{
	const struct dnat_wild *w = wild_find(d, e->id);
	struct ip_addr mapped[2] = {{0}}, client[2] = {{0}};
	size_t i;

	if (!w || !w->p4.addr.family ||
	    !ip_prefix_contains(&w->p4, &e->addr)) {
		refuse(d, src, "not_served");
		return;
	}
	if (!wildcard_matches(w->pattern, e->name)) {
		refuse(d, src, "name_outside_domain");
		return;
	}
	if (!may_reach(m, src, &e->addr)) {
		refuse(d, src, "not_allowed");
		return;
	}
	mapped[0] = e->addr;
	client[0] = *src;
	client[1] = peer_v6(m, src);
	if (w->p6.addr.family && client[1].family) {
		mapped[1] = w->p6.addr;
		mapped[1].b[15] = e->addr.b[3];
	}
	for (i = 0; i < d->n; i++) {
		struct dnat_name *nm = d->v[i];

		if (!nm->wild || nm->res_id != e->id ||
		    !ip_addr_eq(&nm->f[0].client, src) ||
		    !ip_addr_eq(&nm->f[0].mapped, &e->addr))
			continue;
		if (strcmp(nm->name, e->name) == 0)
			return; /* known: the TTL keeps it fresh */
		/* The client gave the address to another name (it was
		 * restarted): the old name goes. */
		name_free(nm, true);
		d->v[i] = d->v[--d->n];
		break;
	}
	if (!name_add(d, e->id, true, e->name, mapped, client))
		refuse(d, src, "no_room");
}

void dnat_on_message(struct dnat *d, const struct map *m,
		     const struct ip_addr *src, const uint8_t *p, size_t len)
{
	struct wildcard_entry e[WILDCARD_MSG_ENTRIES];
	size_t n = 0;

	if (src->family != 4 || wildcard_msg_parse(p, len, e, &n) < 0) {
		refuse(d, src, "malformed");
		return;
	}
	d->messages++;
	for (size_t i = 0; i < n; i++)
		take_entry(d, m, src, &e[i]);
}

json_t *dnat_json(const struct dnat *d)
{
	json_t *arr = json_array(), *o;
	char a[IP_ADDR_STRLEN], b[IP_ADDR_STRLEN], c[IP_ADDR_STRLEN];

	if (!arr)
		return NULL;
	for (size_t i = 0; i < d->n; i++) {
		for (int k = 0; k < 2; k++) {
			const struct dnat_fam *f = &d->v[i]->f[k];

			if (!f->mapped.family)
				continue;
			ip_addr_format(&f->mapped, a, sizeof(a));
			ip_addr_format(&f->real, b, sizeof(b));
			ip_addr_format(&f->client, c, sizeof(c));
			o = json_pack("{s:s, s:I, s:o, s:i, s:s, s:o, s:s, s:i}",
				      "name", d->v[i]->name, "resource_id",
				      (json_int_t)d->v[i]->res_id, "client",
				      d->v[i]->wild ? json_string(c)
						    : json_null(),
				      "family", f->family, "mapped", a, "real",
				      f->real.family ? json_string(b)
						     : json_null(),
				      "state", state_names[f->state], "ttl",
				      (int)f->ttl);
			if (!o || json_array_append_new(arr, o) < 0) {
				json_decref(arr);
				return NULL;
			}
		}
	}
	return json_pack("{s:o, s:I, s:I, s:I}", "names", arr, "messages",
			 (json_int_t)d->messages, "refused",
			 (json_int_t)d->refused, "nft_errors",
			 (json_int_t)d->nft_errors);
}
