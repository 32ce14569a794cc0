/* Fuzzes jsonx_parse and a representative jsonx_read table the way the API
 * uses them on request bodies. Invariants: failures set err with the same
 * code and a message, failed reads write no output, successful reads
 * respect the table's bounds, and every error can become an API error
 * body (valid UTF-8). */
#include "shared/err.h"
#include "shared/jsonx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int r, const struct jsonx_err *err)
{
	json_t *body;

	if (r >= 0 || err->code != r || err->message[0] == '\0')
		abort();
	if (strlen(err->field) >= sizeof(err->field) ||
	    strlen(err->message) >= sizeof(err->message))
		abort();
	body = jsonx_error_body(weft_errname(err->code), err->message,
				err->field[0] ? err->field : NULL);
	if (!body)
		abort();
	json_decref(body);
}

struct spec_out {
	const char *image;
	int64_t replicas;
};

static void read_spec(json_t *spec)
{
	struct spec_out o = {.image = NULL, .replicas = -7};
	const struct jsonx_field f[] = {
		{.name = "image", .type = JSONX_STRING, .required = true,
		 .min = 1, .max = 128, .out = &o.image},
		{.name = "replicas", .type = JSONX_INT, .min = 0, .max = 100,
		 .out = &o.replicas},
	};
	struct jsonx_err err;
	int r;

	memset(&err, 0, sizeof(err));
	r = jsonx_read_prefixed(spec, "spec", f, 2, &err);
	if (r) {
		check_err(r, &err);
		if (o.image || o.replicas != -7)
			abort();
		if (strncmp(err.field, "spec", 4) != 0)
			abort();
		return;
	}
	if (!o.image || strlen(o.image) < 1 || strlen(o.image) > 128)
		abort();
	if (o.replicas != -7 && (o.replicas < 0 || o.replicas > 100))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name = NULL;
	int64_t port = -1;
	bool enabled = false, has_tags = false;
	struct jsonx_strings tags = {NULL, 0};
	json_t *spec = NULL, *list = NULL, *extra = NULL, *root = NULL;
	const struct jsonx_field fields[] = {
		{.name = "name", .type = JSONX_STRING, .required = true,
		 .min = 1, .max = 63, .out = &name},
		{.name = "port", .type = JSONX_INT, .min = 1, .max = 65535,
		 .out = &port},
		{.name = "enabled", .type = JSONX_BOOL, .out = &enabled},
		{.name = "tags", .type = JSONX_STRING_ARRAY, .min = 0, .max = 8,
		 .item_max_len = 32, .out = &tags, .present = &has_tags},
		{.name = "spec", .type = JSONX_OBJECT, .min = 0, .max = 16,
		 .out = &spec},
		{.name = "list", .type = JSONX_ARRAY, .min = 0, .max = 16,
		 .out = &list},
		{.name = "extra", .type = JSONX_ANY, .out = &extra},
	};
	struct jsonx_err err;
	int r;

	memset(&err, 0, sizeof(err));
	r = jsonx_parse((const char *)data, size, 4096, &root, &err);
	if (r) {
		check_err(r, &err);
		if (root)
			abort();
		return 0;
	}
	if (!json_is_object(root))
		abort();

	memset(&err, 0, sizeof(err));
	r = jsonx_read(root, fields, sizeof(fields) / sizeof(fields[0]), &err);
	if (r) {
		check_err(r, &err);
		if (name || port != -1 || enabled || has_tags || tags.items ||
		    spec || list || extra)
			abort();
		json_decref(root);
		return 0;
	}
	if (!name || strlen(name) < 1 || strlen(name) > 63)
		abort();
	if (port != -1 && (port < 1 || port > 65535))
		abort();
	if (has_tags) {
		if (!tags.items || tags.n > 8 || tags.items[tags.n] != NULL)
			abort();
		for (size_t i = 0; i < tags.n; i++)
			if (strlen(tags.items[i]) > 32)
				abort();
	} else if (tags.items) {
		abort();
	}
	if (list && json_array_size(list) > 16)
		abort();
	if (spec)
		read_spec(spec);
	free(tags.items);
	json_decref(root);
	return 0;
}
