/* JSON objects of the REST API that more than one handler answers with.
 *
 * The node object is shown by GET/PATCH /api/v1/nodes and by
 * POST /api/v1/register; rendering it in one place keeps those answers
 * identical. */
#ifndef WEFT_MODEL_H
#define WEFT_MODEL_H

#include "controller/store.h"

#include <jansson.h>

/* The node object as docs/api/README.md shows it, "routes" included
 * ({advertised: [...], approved: [...]} read inside tx, every page of
 * them), "dns_name" <name>.<domain> (the mesh domain,
 * dnsstore_domain). Returns 0 with a new reference in *out, WEFT_ERR_NOMEM or a store
 * error; *out is untouched on failure. */
int model_node_json(struct store_tx *tx, const char *domain,
		    const struct store_node *n, json_t **out);

/* The node object without "routes", for lists that read routes after
 * walking the nodes (no query may run inside another); NULL when out of
 * memory. */
json_t *model_node_json_bare(const struct store_node *n, const char *domain);

/* Sets node["routes"] from node_id's route rows read inside tx. Returns 0,
 * WEFT_ERR_NOMEM or a store error. */
int model_node_add_routes(struct store_tx *tx, int64_t node_id, json_t *node);

#endif
