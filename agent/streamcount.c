/* Stream-mode counts: see streamcount.h. */
#include "agent/streamcount.h"

#include "shared/err.h"

#include <stdlib.h>

struct pcount {
	uint64_t opened, refused;
};

struct streamcount *streamcount_new(void)
{
	struct streamcount *c = calloc(1, sizeof(*c));

	if (c)
		c->refs = 1;
	return c;
}

void streamcount_put(struct streamcount *c)
{
	if (c && --c->refs == 0)
		free(c);
}

void streamcount_peers_init(struct streamcount_peers *p)
{
	idmap_init(&p->m);
}

void streamcount_peers_free(struct streamcount_peers *p)
{
	void *c;

	for (size_t i = 0; idmap_next(&p->m, &i, NULL, &c);)
		free(c);
	idmap_free(&p->m);
}

void streamcount_peer_add(struct streamcount_peers *p, int64_t peer,
			  bool refused)
{
	struct pcount *c = idmap_get(&p->m, peer);

	if (!c && peer > 0) {
		c = calloc(1, sizeof(*c));
		if (c && idmap_put(&p->m, peer, c) < 0) {
			free(c);
			c = NULL;
		}
	}
	if (c && refused)
		c->refused++;
	else if (c)
		c->opened++;
}

int streamcount_peer_json(const struct streamcount_peers *p, int64_t peer,
			  unsigned active, json_t *e)
{
	const struct pcount *c = p ? idmap_get(&p->m, peer) : NULL;
	json_t *j = json_pack("{s:I, s:I, s:I}", "active", (json_int_t)active,
			      "opened", (json_int_t)(c ? c->opened : 0),
			      "refused", (json_int_t)(c ? c->refused : 0));

	return j && json_object_set_new(e, "streams", j) == 0
		       ? 0 : WEFT_ERR_NOMEM;
}
