#include "agent/wildcard.h"

#include "shared/be.h"
#include "shared/err.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t magic[4] = {'W', 'F', 'W', '1'};

/* The names given under one resource: open addressing over the hosts,
 * never deleted one by one, so a probe stops at the first empty slot. */
struct wres {
	int64_t id;
	struct ip_addr base4; /* the /24 of the last wildcard_resolve */
	char *names[WILDCARD_HOSTS];
	size_t used;
};

struct wildcard_table {
	struct wres *res;
	size_t n, cap;
};

bool wildcard_matches(const char *pattern, const char *name)
{
	size_t pl, nl;

	if (strncmp(pattern, "*.", 2) != 0)
		return false;
	pattern += 1; /* ".corp.example" */
	pl = strlen(pattern);
	nl = strlen(name);
	return nl > pl && strcmp(name + nl - pl, pattern) == 0;
}

struct wildcard_table *wildcard_table_new(void)
{
	return calloc(1, sizeof(struct wildcard_table));
}

static void wres_clear(struct wres *w)
{
	for (size_t i = 0; i < WILDCARD_HOSTS; i++)
		free(w->names[i]);
}

void wildcard_table_del(struct wildcard_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		wres_clear(&t->res[i]);
	free(t->res);
	free(t);
}

static struct wres *find(const struct wildcard_table *t, int64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->res[i].id == id)
			return &t->res[i];
	return NULL;
}

void wildcard_forget(struct wildcard_table *t, int64_t id)
{
	struct wres *w = find(t, id);

	if (!w)
		return;
	wres_clear(w);
	*w = t->res[--t->n];
}

static struct wres *find_or_add(struct wildcard_table *t, int64_t id)
{
	struct wres *w = find(t, id);

	if (w)
		return w;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 4;
		struct wres *r = realloc(t->res, cap * sizeof(*r));

		if (!r)
			return NULL;
		t->res = r;
		t->cap = cap;
	}
	w = &t->res[t->n++];
	memset(w, 0, sizeof(*w));
	w->id = id;
	return w;
}

/* FNV-1a: stable across runs and builds, which is all it needs to be. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

int wildcard_resolve(struct wildcard_table *t, int64_t id,
		     const struct ip_prefix *p4, const struct ip_prefix *p6,
		     const char *name, struct ip_addr *v4, struct ip_addr *v6)
{
	size_t start = name_hash(name) % WILDCARD_HOSTS, slot = 0, i;
	struct wres *w;

	if (name[0] == '\0' || !dnswire_name_valid(name) ||
	    p4->addr.family != 4 || p4->len != 24 ||
	    (p6 && (p6->addr.family != 6 || p6->len != 120)))
		return WEFT_ERR_INVAL;
	w = find_or_add(t, id);
	if (!w)
		return WEFT_ERR_NOMEM;
	for (i = 0; i < WILDCARD_HOSTS; i++) {
		slot = (start + i) % WILDCARD_HOSTS;
		if (!w->names[slot] || strcmp(w->names[slot], name) == 0)
			break;
	}
	if (i == WILDCARD_HOSTS)
		return WEFT_ERR_EXHAUSTED;
	if (!w->names[slot]) {
		w->names[slot] = strdup(name);
		if (!w->names[slot])
			return WEFT_ERR_NOMEM;
		w->used++;
	}
	w->base4 = p4->addr;
	*v4 = p4->addr;
	v4->b[3] = (uint8_t)(slot + 1);
	if (p6) {
		*v6 = p6->addr;
		v6->b[15] = (uint8_t)(slot + 1);
	}
	return 0;
}

void wildcard_each(const struct wildcard_table *t, int64_t id,
		   void (*fn)(void *ctx, const struct wildcard_entry *e),
		   void *ctx)
{
	const struct wres *w = find(t, id);
	struct wildcard_entry e;

	if (!w)
		return;
	for (size_t i = 0; i < WILDCARD_HOSTS; i++) {
		if (!w->names[i])
			continue;
		memset(&e, 0, sizeof(e));
		e.id = id;
		e.addr = w->base4;
		e.addr.b[3] = (uint8_t)(i + 1);
		strcpy(e.name, w->names[i]);
		fn(ctx, &e);
	}
}

int wildcard_msg_build(const struct wildcard_entry *e, size_t n,
		       uint8_t *buf, size_t cap)
{
	size_t off = 5;

	if (n == 0 || n > WILDCARD_MSG_ENTRIES)
		return WEFT_ERR_INVAL;
	for (size_t i = 0; i < n; i++)
		if (e[i].id <= 0 || e[i].addr.family != 4 ||
		    e[i].name[0] == '\0' || !dnswire_name_valid(e[i].name))
			return WEFT_ERR_INVAL;
	if (cap < off)
		return WEFT_ERR_TOOBIG;
	memcpy(buf, magic, 4);
	buf[4] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(e[i].name);

		if (cap - off < 13 + l)
			return WEFT_ERR_TOOBIG;
		be_put64(buf + off, (uint64_t)e[i].id);
		memcpy(buf + off + 8, e[i].addr.b, 4);
		buf[off + 12] = (uint8_t)l;
		memcpy(buf + off + 13, e[i].name, l);
		off += 13 + l;
	}
	return (int)off;
}

static bool lower_case(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return false;
	return true;
}

int wildcard_msg_parse(const uint8_t *p, size_t len,
		       struct wildcard_entry *out, size_t *n)
{
	size_t off = 5, count;

	if (len < 5 || memcmp(p, magic, 4) != 0)
		return WEFT_ERR_PARSE;
	count = p[4];
	if (count == 0 || count > WILDCARD_MSG_ENTRIES)
		return WEFT_ERR_PARSE;
	for (size_t i = 0; i < count; i++) {
		struct wildcard_entry *e = &out[i];
		size_t l;

		if (len - off < 13)
			return WEFT_ERR_PARSE;
		l = p[off + 12];
		if (l == 0 || l > DNSWIRE_NAME_MAX - 1 || len - off - 13 < l)
			return WEFT_ERR_PARSE;
		memset(e, 0, sizeof(*e));
		e->id = (int64_t)be_get64(p + off);
		e->addr.family = 4;
		memcpy(e->addr.b, p + off + 8, 4);
		memcpy(e->name, p + off + 13, l);
		if (e->id <= 0 || memchr(e->name, '\0', l) ||
		    !dnswire_name_valid(e->name) || !lower_case(e->name))
			return WEFT_ERR_PARSE;
		off += 13 + l;
	}
	if (off != len)
		return WEFT_ERR_PARSE;
	*n = count;
	return 0;
}
