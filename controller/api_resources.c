/* /api/v1/resources: private hosts, subnets and services that connector
 * nodes expose to the mesh.
 *
 * A resource is reached through exactly one of a connector node or every
 * node carrying a connector tag. Addresses are stored canonically (IP
 * addresses and prefixes as ip_*_format writes them) and ports without
 * spaces, so the network map builder can compare them as text. Every
 * change is part of the network maps and bumps the netmap version. */
#include "controller/api.h"

#include "controller/valid.h"
#include "shared/err.h"
#include "shared/ip.h"
#include "shared/jsonx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Canonical form of an IP address, a strict CIDR prefix or a host name
 * into out. */
static int normalize_address(const char *s, char *out, size_t cap,
			     char *msg, size_t msglen)
{
	struct ip_addr a;
	struct ip_prefix p;
	int rc;

	if (strchr(s, '/')) {
		rc = ip_prefix_parse(s, &p, IP_PREFIX_STRICT);
		if (rc == WEFT_ERR_INVAL && ip_prefix_parse(s, &p, 0) == 0) {
			char want[IP_PREFIX_STRLEN] = "";

			ip_prefix_mask(&p);
			ip_prefix_format(&p, want, sizeof(want));
			snprintf(msg, msglen,
				 "address has host bits set (did you mean %s?)",
				 want);
			return WEFT_ERR_INVAL;
		}
		if (rc < 0)
			goto bad;
		return ip_prefix_format(&p, out, cap) < 0 ? WEFT_ERR_INVAL : 0;
	}
	if (ip_addr_parse(s, &a) == 0)
		return ip_addr_format(&a, out, cap) < 0 ? WEFT_ERR_INVAL : 0;
	if (!valid_dns_name(s, strlen(s)) || strlen(s) >= cap)
		goto bad;
	memcpy(out, s, strlen(s) + 1);
	return 0;
bad:
	snprintf(msg, msglen,
		 "address must be an IP address, a CIDR prefix without host "
		 "bits set, or a DNS name");
	return WEFT_ERR_INVAL;
}

static json_t *resource_json(const struct store_resource *r)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o}",
			 "id", (json_int_t)r->id,
			 "name", r->name,
			 "address", r->address,
			 "protocol", r->protocol,
			 "ports", r->ports,
			 "connector_node_id", api_id_json(r->connector_node_id),
			 "connector_tag", api_str_json(r->connector_tag),
			 "created_at", api_time_json(r->created_at));
}

/* --- handlers --- */

/* The fields of a create (all but name/address optional) or a patch (all
 * optional), as given. */
struct resource_in {
	const char *name, *address, *protocol, *ports, *tag;
	int64_t node_id;
	bool has_name, has_address, has_protocol, has_ports, has_tag,
		has_node_id;
};

/* Parses the body into in; on failure fills the 400 answer and returns
 * NULL. The caller json_decref()s the body (in borrows from it). */
static json_t *read_resource(struct api_call *c, bool create, void *vin)
{
	struct resource_in *in = vin;
	const struct jsonx_field fields[] = {
		{"name", JSONX_STRING, create, 1, VALID_NAME_MAX, 0, &in->name,
		 &in->has_name},
		{"address", JSONX_STRING, create, 1, VALID_DNS_NAME_MAX, 0,
		 &in->address, &in->has_address},
		{"protocol", JSONX_STRING, false, 1, 8, 0, &in->protocol,
		 &in->has_protocol},
		{"ports", JSONX_STRING, false, 1, STORE_PORTS_SIZE - 1, 0,
		 &in->ports, &in->has_ports},
		{"connector_node_id", JSONX_INT, false, 1, INT64_MAX, 0,
		 &in->node_id, &in->has_node_id},
		{"connector_tag", JSONX_STRING, false, 1, VALID_TAG_MAX, 0, &in->tag,
		 &in->has_tag},
	};

	return api_read_body(c, fields, sizeof(fields) / sizeof(fields[0]));
}

/* Applies in to r (a fresh resource with defaults, or the stored one) and
 * validates the result, checking the connector node inside tx. On failure
 * fills msg and *field. */
static int apply(struct store_tx *tx, const void *vin, void *row, char *msg,
		 size_t msglen, const char **field)
{
	const struct resource_in *in = vin;
	struct store_resource *r = row;
	struct store_node n;
	int rc;

	if (in->has_name) {
		*field = "name";
		if (!valid_name(in->name)) {
			snprintf(msg, msglen,
				 "name must be 1 to 63 of a-z 0-9 . _ -, "
				 "starting with a letter or digit");
			return WEFT_ERR_INVAL;
		}
		snprintf(r->name, sizeof(r->name), "%s", in->name);
	}
	if (in->has_address) {
		*field = "address";
		rc = normalize_address(in->address, r->address,
				       sizeof(r->address), msg, msglen);
		if (rc < 0)
			return rc;
	}
	if (in->has_protocol) {
		*field = "protocol";
		if (strcmp(in->protocol, "tcp") != 0 &&
		    strcmp(in->protocol, "udp") != 0 &&
		    strcmp(in->protocol, "any") != 0) {
			snprintf(msg, msglen, "protocol must be tcp, udp or any");
			return WEFT_ERR_INVAL;
		}
		snprintf(r->protocol, sizeof(r->protocol), "%s", in->protocol);
	}
	if (in->has_ports) {
		*field = "ports";
		rc = valid_ports(in->ports, r->ports);
		if (rc == WEFT_ERR_TOOBIG) {
			snprintf(msg, msglen, "ports is too long");
			return WEFT_ERR_INVAL;
		}
		if (rc < 0) {
			snprintf(msg, msglen,
				 "ports must be * or a comma list of ports "
				 "1-65535 and ranges a-b with a <= b");
			return WEFT_ERR_INVAL;
		}
	}
	if (in->has_node_id && in->has_tag) {
		*field = "connector_tag";
		snprintf(msg, msglen,
			 "give one of connector_node_id and connector_tag, "
			 "not both");
		return WEFT_ERR_INVAL;
	}
	/* Naming one connector replaces the other (PATCH switches). */
	if (in->has_tag) {
		*field = "connector_tag";
		if (!valid_tag(in->tag)) {
			snprintf(msg, msglen,
				 "connector_tag must look like tag:<name>");
			return WEFT_ERR_INVAL;
		}
		snprintf(r->connector_tag, sizeof(r->connector_tag), "%s",
			 in->tag);
		r->connector_node_id = 0;
	}
	if (in->has_node_id) {
		*field = "connector_node_id";
		rc = store_node_get(tx, in->node_id, &n);
		if (rc == WEFT_ERR_NOTFOUND) {
			snprintf(msg, msglen, "no node with id %" PRId64,
				 in->node_id);
			return WEFT_ERR_INVAL;
		}
		if (rc < 0)
			return rc;
		r->connector_node_id = in->node_id;
		r->connector_tag[0] = '\0';
	}
	if (!r->connector_node_id && !r->connector_tag[0]) {
		*field = "connector_node_id";
		snprintf(msg, msglen,
			 "a resource needs connector_node_id or connector_tag");
		return WEFT_ERR_INVAL;
	}
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
	struct resource_in in = {0};
	struct store_resource r = {.protocol = "any", .ports = "*"};

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
	struct resource_in in = {0};
	struct store_resource r;

	api_edit_row(c, &resource_edit, false, &in, &r);
}

static int remove_resource(struct store_tx *tx, int64_t id, char *name,
		size_t cap)
{
	struct store_resource r;
	int rc = store_resource_get(tx, id, &r);

	if (rc == 0)
		rc = store_resource_delete(tx, id);
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
