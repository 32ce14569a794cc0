/* /api/v1/resources: private hosts, subnets, DNS names and the internet
 * (an exit node) that connector nodes expose to the mesh (see
 * docs/connectors.md).
 *
 * A resource is served by a set of connectors: nodes by id and every node
 * carrying one of its connector tags. Addresses and filters are stored in
 * their canonical form (controller/resource.h); DNS and wildcard
 * resources get mapped prefixes from the reserved range when created
 * (controller/ipam.h), kept across edits and freed with the resource.
 * Every change must leave the saved policy valid (a rule's access to a
 * resource must not narrow to nothing, a resource the policy names must
 * not disappear): such a change is refused with 409. Every change is part
 * of the network maps and bumps the netmap version. */
#include "controller/api.h"

#include "controller/ipam.h"
#include "controller/policy.h"
#include "controller/resource.h"
#include "controller/tagown.h"
#include "controller/valid.h"
#include "shared/err.h"
#include "shared/jsonx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_MAX 192

static json_t *ids_json(const int64_t *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_integer(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* Stored JSON text as a value; the empty array when unreadable. */
static json_t *stored_json(const char *text)
{
	json_t *v = text[0] ? json_loads(text, 0, NULL) : NULL;

	return v ? v : json_array();
}

static json_t *resource_json(const struct store_resource *r)
{
	struct policy_filter f[POLICY_FILTERS_MAX];
	enum resource_type t = RESOURCE_DNS;
	json_t *mapped;
	size_t nf = 0;

	(void)resource_address_type(r->address, &t);
	(void)resource_filters_from_text(r->filters, f, &nf);
	mapped = r->mapped_ipv4[0] ?
		json_pack("{s:s, s:o}", "ipv4", r->mapped_ipv4, "ipv6",
			  api_str_json(r->mapped_ipv6)) :
		json_null();
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:{s:o, s:o}, s:o, s:o}",
			 "id", (json_int_t)r->id,
			 "name", r->name,
			 "address", r->address,
			 "type", resource_type_name(t),
			 "filters", resource_filters_json(f, nf),
			 "connectors",
			 "nodes", ids_json(r->connector_nodes,
					   r->nconnector_nodes),
			 "tags", stored_json(r->connector_tags),
			 "mapped", mapped,
			 "created_at", api_time_json(r->created_at));
}

/* --- handlers --- */

/* The fields of a create (name and address required) or a patch (all
 * optional), as given; field is where apply names a bad value. */
struct resource_in {
	const char *name, *address;
	json_t *filters, *connectors;
	bool has_name, has_address, has_filters, has_connectors;
	char *field; /* FIELD_MAX bytes */
};

/* Parses the body into in; on failure fills the 400 answer and returns
 * NULL. The caller json_decref()s the body (in borrows from it). */
static json_t *read_resource(struct api_call *c, bool create, void *vin)
{
	struct resource_in *in = vin;
	const struct jsonx_field fields[] = {
		{"name", JSONX_STRING, create, 1, VALID_NAME_MAX, 0, &in->name,
		 &in->has_name},
		{"address", JSONX_STRING, create, 1, RESOURCE_ADDRESS_MAX, 0,
		 &in->address, &in->has_address},
		{"filters", JSONX_ARRAY, false, 0, 64, 0, &in->filters,
		 &in->has_filters},
		{"connectors", JSONX_OBJECT, create, 0, 2, 0, &in->connectors,
		 &in->has_connectors},
	};

	return api_read_body(c, fields, sizeof(fields) / sizeof(fields[0]));
}

/* v as compact JSON into dst (cap bytes); a 400 on name when too long. */
static int keep_json(const json_t *v, char *dst, size_t cap, const char *name,
		     char *field, char *msg, size_t msglen)
{
	char *text = json_dumps(v, JSON_COMPACT);
	int rc = 0;

	if (!text)
		return WEFT_ERR_NOMEM;
	if (strlen(text) >= cap) {
		snprintf(field, FIELD_MAX, "%s", name);
		snprintf(msg, msglen, "%s is too long", name);
		rc = WEFT_ERR_INVAL;
	} else {
		memcpy(dst, text, strlen(text) + 1);
	}
	free(text);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* connectors.nodes: existing node ids, kept sorted and unique. */
static int apply_nodes(struct store_tx *tx, const json_t *nodes,
		       struct store_resource *r, char *field, char *msg,
		       size_t msglen)
{
	const json_t *v;
	size_t i, w = 0;
	int64_t ids[STORE_RES_CONNECTORS_MAX];
	int rc;

	json_array_foreach(nodes, i, v) {
		struct store_node n;
		int64_t id = json_integer_value(v);

		snprintf(field, FIELD_MAX, "connectors.nodes[%zu]", i);
		if (!json_is_integer(v) || id <= 0) {
			snprintf(msg, msglen, "a connector node is a node id");
			return WEFT_ERR_INVAL;
		}
		rc = store_node_get(tx, id, &n);
		if (rc == WEFT_ERR_NOTFOUND) {
			snprintf(msg, msglen, "no node with id %" PRId64, id);
			return WEFT_ERR_INVAL;
		}
		if (rc < 0)
			return rc;
		ids[i] = id;
	}
	qsort(ids, json_array_size(nodes), sizeof(ids[0]), cmp_i64);
	for (i = 0; i < json_array_size(nodes); i++)
		if (i == 0 || ids[i] != ids[w - 1])
			ids[w++] = ids[i];
	memcpy(r->connector_nodes, ids, w * sizeof(ids[0]));
	r->nconnector_nodes = w;
	return 0;
}

static int cmp_str_json(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
		      json_string_value(*(json_t *const *)b));
}

/* connectors.tags: declared tags, stored sorted and unique. */
static int apply_tags(struct store_tx *tx, json_t *tags,
		      struct store_resource *r, char *field, char *msg,
		      size_t msglen)
{
	json_t *items[RESOURCE_CONNECTORS_MAX], *out = NULL, *v;
	char sub[128];
	size_t i, n = json_array_size(tags);
	int rc;

	json_array_foreach(tags, i, v) {
		snprintf(field, FIELD_MAX, "connectors.tags[%zu]", i);
		if (!valid_tag(json_string_value(v))) {
			snprintf(msg, msglen, VALID_TAG_MESSAGE, field);
			return WEFT_ERR_INVAL;
		}
		items[i] = v;
	}
	rc = tagown_check(tx, 0, tags, msg, msglen, sub, sizeof(sub));
	if (rc < 0) {
		snprintf(field, FIELD_MAX, "connectors.%s", sub);
		return rc;
	}
	qsort(items, n, sizeof(items[0]), cmp_str_json);
	out = json_array();
	for (i = 0; out && i < n; i++)
		if ((i == 0 || !json_equal(items[i], items[i - 1])) &&
		    json_array_append(out, items[i]) < 0)
			rc = WEFT_ERR_NOMEM;
	if (!out || rc < 0)
		rc = WEFT_ERR_NOMEM;
	else
		rc = keep_json(out, r->connector_tags, sizeof(r->connector_tags),
			       "connectors.tags", field, msg, msglen);
	json_decref(out);
	return rc;
}

static int apply_connectors(struct store_tx *tx, json_t *conn,
			    struct store_resource *r, char *field, char *msg,
			    size_t msglen)
{
	json_t *nodes = NULL, *tags = NULL;
	const struct jsonx_field fields[] = {
		{"nodes", JSONX_ARRAY, false, 0, RESOURCE_CONNECTORS_MAX, 0,
		 &nodes, NULL},
		{"tags", JSONX_ARRAY, false, 0, RESOURCE_CONNECTORS_MAX, 0,
		 &tags, NULL},
	};
	struct jsonx_err je = {0};
	json_t *empty = json_array();
	int rc;

	if (!empty)
		return WEFT_ERR_NOMEM;
	rc = jsonx_read_prefixed(conn, "connectors", fields, 2, &je);
	if (rc < 0) {
		snprintf(field, FIELD_MAX, "%s", je.field);
		snprintf(msg, msglen, "%s", je.message);
		if (rc != WEFT_ERR_NOMEM)
			rc = WEFT_ERR_INVAL;
		goto out;
	}
	/* The object replaces both sets: a missing member is empty. */
	rc = apply_nodes(tx, nodes ? nodes : empty, r, field, msg, msglen);
	if (rc == 0)
		rc = apply_tags(tx, tags ? tags : empty, r, field, msg, msglen);
out:
	json_decref(empty);
	return rc;
}

static int apply_filters(const json_t *filters, struct store_resource *r,
			 char *field, char *msg, size_t msglen)
{
	struct policy_filter f[POLICY_FILTERS_MAX];
	size_t n = 0;
	json_t *canon;
	int rc;

	rc = resource_filters_read(filters, "filters", f, &n, field,
				   FIELD_MAX, msg, msglen);
	if (rc < 0)
		return rc;
	canon = resource_filters_json(f, n);
	rc = canon ? keep_json(canon, r->filters, sizeof(r->filters),
			       "filters", field, msg, msglen)
		   : WEFT_ERR_NOMEM;
	json_decref(canon);
	return rc;
}

/* Applies in to r (a fresh resource with defaults, or the stored one) and
 * validates the result, checking connector nodes and tags inside tx. On
 * failure fills msg and *field. */
static int apply(struct store_tx *tx, const void *vin, void *row, char *msg,
		 size_t msglen, const char **field)
{
	const struct resource_in *in = vin;
	struct store_resource *r = row;
	enum resource_type t;
	json_t *tags;
	size_t ntags;
	int rc;

	*field = in->field;
	if (in->has_name) {
		snprintf(in->field, FIELD_MAX, "name");
		if (!valid_name(in->name)) {
			snprintf(msg, msglen,
				 "name must be 1 to 63 of a-z 0-9 . _ -, "
				 "starting with a letter or digit");
			return WEFT_ERR_INVAL;
		}
		snprintf(r->name, sizeof(r->name), "%s", in->name);
	}
	if (in->has_address) {
		snprintf(in->field, FIELD_MAX, "address");
		rc = resource_address_parse(in->address, r->address,
					    sizeof(r->address), &t, msg, msglen);
		if (rc < 0)
			return rc;
	}
	if (in->has_filters &&
	    (rc = apply_filters(in->filters, r, in->field, msg, msglen)) < 0)
		return rc;
	if (in->has_connectors &&
	    (rc = apply_connectors(tx, in->connectors, r, in->field, msg,
				   msglen)) < 0)
		return rc;
	tags = stored_json(r->connector_tags);
	ntags = json_array_size(tags);
	json_decref(tags);
	if (!r->nconnector_nodes && !ntags) {
		snprintf(in->field, FIELD_MAX, "connectors");
		snprintf(msg, msglen, "a resource needs at least one connector "
			 "node or tag");
		return WEFT_ERR_INVAL;
	}
	snprintf(in->field, FIELD_MAX, "address");
	rc = ipam_resource_map(tx, r);
	if (rc == WEFT_ERR_EXHAUSTED)
		snprintf(msg, msglen, "the mapped address range for this kind "
			 "of resource is full");
	if (rc < 0)
		return rc;
	*field = NULL;
	return 0;
}

/* Fails with EXISTS when another resource has r's name. */
static int check_unique(struct store_tx *tx, const struct store_resource *r,
			char *msg, size_t msglen, const char **field)
{
	struct store_resource other;
	int rc = store_resource_get_by_name(tx, r->name, &other);

	if (rc == WEFT_ERR_NOTFOUND || (rc == 0 && other.id == r->id))
		return 0;
	if (rc == 0) {
		*field = "name";
		snprintf(msg, msglen, "a resource named %s exists", r->name);
		return WEFT_ERR_EXISTS;
	}
	return rc;
}

/* Is the saved policy still valid with what tx now holds? CONFLICT with
 * the policy's complaint in msg when not. */
static int check_policy(struct store_tx *tx, char *msg, size_t msglen)
{
	struct store_policy sp = {0};
	struct policy_names names;
	struct policy_err err = {0};
	struct policy *p = NULL;
	int rc;

	rc = store_policy_get_current(tx, &sp);
	if (rc == WEFT_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	api_policy_names(tx, &names);
	rc = policy_parse(sp.document, strlen(sp.document), &names, &p, &err);
	policy_free(p);
	store_policy_free(&sp);
	if (rc == WEFT_ERR_INVAL) {
		snprintf(msg, msglen, "the policy would no longer be valid "
			 "(%s: %s); change the policy first", err.path,
			 err.message);
		return WEFT_ERR_CONFLICT;
	}
	return rc;
}

static int save(struct store_tx *tx, void *row, bool create, int64_t now,
		char *msg, size_t msglen, const char **field)
{
	struct store_resource *r = row;
	int rc = check_unique(tx, r, msg, msglen, field);

	if (rc < 0)
		return rc;
	if (create) {
		r->created_at = now;
		rc = store_resource_create(tx, r);
	} else {
		rc = store_resource_update(tx, r);
	}
	if (rc == WEFT_ERR_EXISTS) {
		*field = "name";
		snprintf(msg, msglen, "a resource named %s exists", r->name);
	}
	if (rc == 0 && !create && (rc = check_policy(tx, msg, msglen)) < 0)
		*field = "filters";
	return rc;
}

static int get(struct store_tx *tx, int64_t id, void *row)
{
	return store_resource_get(tx, id, row);
}

/* The answer is the audit detail: a resource holds no secret. */
static json_t *row_json(const void *row)
{
	return resource_json(row);
}

static int64_t row_id(const void *row)
{
	return ((const struct store_resource *)row)->id;
}

static const struct api_edit resource_edit = {
	"resource", read_resource, get, apply, save, row_json, row_id,
};

static void h_create_resource(struct api_call *c)
{
	char field[FIELD_MAX] = "";
	struct resource_in in = {.field = field};
	struct store_resource r = {.filters = "[]", .connector_tags = "[]"};

	api_edit_row(c, &resource_edit, true, &in, &r);
}

static int collect(void *ctx, const struct store_resource *r)
{
	json_t *o = resource_json(r);

	if (!o || json_array_append_new(ctx, o) < 0)
		return WEFT_ERR_NOMEM;
	return 0;
}

static int list_resources(struct store_tx *tx, const void *filter,
		      const struct store_page *pg, json_t *items, int64_t *next)
{
	(void)filter;
	return store_resource_list(tx, pg, collect, items, next);
}

static void h_list_resources(struct api_call *c)
{
	struct store_page pg;

	if (!api_page(c, &pg))
		return;
	api_list(c, &pg, list_resources, NULL);
}

static int load_resource(struct api_call *c, struct store_tx *tx, int64_t id,
		json_t **out)
{
	struct store_resource r;
	int rc = store_resource_get(tx, id, &r);

	(void)c;
	if (rc == 0)
		*out = resource_json(&r);
	return rc;
}

static void h_get_resource(struct api_call *c)
{
	api_get_by_id(c, "resource", load_resource);
}

static void h_patch_resource(struct api_call *c)
{
	char field[FIELD_MAX] = "";
	struct resource_in in = {.field = field};
	struct store_resource r;

	api_edit_row(c, &resource_edit, false, &in, &r);
}

/* Refused (409) while the policy names the resource. */
static int remove_resource(struct store_tx *tx, int64_t id, char *name,
			   size_t cap, char *msg, size_t msglen)
{
	struct store_resource r;
	int rc = store_resource_get(tx, id, &r);

	if (rc == 0)
		rc = store_resource_delete(tx, id);
	if (rc == 0)
		rc = check_policy(tx, msg, msglen);
	if (rc == 0)
		snprintf(name, cap, "%s", r.name);
	return rc;
}

static void h_delete_resource(struct api_call *c)
{
	api_delete_by_id(c, "resource", "resource.delete", remove_resource);
}

const struct api_route api_resources_routes[] = {
	{"POST", "/api/v1/resources", API_AUTH_ADMIN, h_create_resource},
	{"GET", "/api/v1/resources", API_AUTH_ADMIN, h_list_resources},
	{"GET", "/api/v1/resources/{id}", API_AUTH_ADMIN, h_get_resource},
	{"PATCH", "/api/v1/resources/{id}", API_AUTH_ADMIN, h_patch_resource},
	{"DELETE", "/api/v1/resources/{id}", API_AUTH_ADMIN, h_delete_resource},
	{0},
};
