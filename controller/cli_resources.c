/* `weft-controller resources ...`: the /api/v1/resources calls
 * (docs/connectors.md) run in-process like every admin subcommand (see
 * cli.c); this file only turns flags into request bodies:
 *   --filters "tcp:443,8000-8100 udp icmp"  (or the JSON list; "" = all)
 *   --connectors node1,42,tag:edge          (node names or ids, and tags)
 * Validation and messages (with the field path) are the API's. */
#include "controller/cli_internal.h"

#include "shared/err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct col resource_cols[] = {
	{"ID", "id", false},
	{"NAME", "name", false},
	{"TYPE", "type", false},
	{"ADDRESS", "address", false},
	{"FILTERS", "filters", false},
	{"CONNECTORS", "connectors", false},
};

/* A resource by exact name, else by id when ref is a number. Returns 0
 * or -1 (error printed). */
static int find_resource(struct cli *c, const char *ref, int64_t *id)
{
	struct query q = {0};
	json_t *items = NULL, *it;
	size_t i;
	char *end;
	int rc = -1;

	if (cli_fetch_all(c, "/api/v1/resources", &q, &items) < 0)
		return -1;
	json_array_foreach(items, i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));

		if (n && strcmp(n, ref) == 0) {
			*id = json_integer_value(json_object_get(it, "id"));
			rc = 0;
			goto out;
		}
	}
	errno = 0;
	*id = strtoll(ref, &end, 10);
	if (ref[0] >= '1' && ref[0] <= '9' && !*end && !errno) {
		rc = 0;
		goto out;
	}
	fprintf(stderr, "weft-controller: no resource named \"%s\"\n", ref);
out:
	json_decref(items);
	return rc;
}

/* "tcp:443,8000-8100 udp icmp" (or a JSON list) as the filters list. The
 * API validates it; this only splits the words. NULL on bad JSON or out
 * of memory (printed). */
static json_t *filters_json(const char *text)
{
	json_t *a;
	char *copy, *save = NULL;

	while (*text == ' ')
		text++;
	if (*text == '[') {
		a = json_loads(text, 0, NULL);
		if (!a)
			fprintf(stderr, "weft-controller: --filters is not a "
					"JSON list\n");
		return a;
	}
	a = json_array();
	copy = strdup(text);
	if (!a || !copy)
		goto fail;
	for (char *w = strtok_r(copy, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		char *ports = strchr(w, ':'), *s2 = NULL;
		json_t *o, *pa = json_array();

		if (ports)
			*ports++ = '\0';
		for (char *p = ports ? strtok_r(ports, ",", &s2) : NULL; pa && p;
		     p = strtok_r(NULL, ",", &s2))
			if (json_array_append_new(pa, json_string(p)) < 0) {
				json_decref(pa);
				pa = NULL;
			}
		o = pa ? json_pack("{s:s, s:o}", "protocol", w, "ports", pa)
		       : NULL;
		if (!o || json_array_append_new(a, o) < 0)
			goto fail;
	}
	free(copy);
	return a;
fail:
	free(copy);
	json_decref(a);
	cli_oom();
	return NULL;
}

/* --connectors as {"nodes": [...], "tags": [...]}; NULL on error
 * (printed). */
static json_t *connectors_json(struct cli *c, const struct conf_list *l)
{
	json_t *nodes = json_array(), *tags = json_array(), *o = NULL;

	if (!nodes || !tags)
		goto oom;
	for (size_t i = 0; i < l->n; i++) {
		const char *ref = l->items[i];
		int64_t id;

		if (strncmp(ref, "tag:", 4) == 0) {
			if (json_array_append_new(tags, json_string(ref)) < 0)
				goto oom;
			continue;
		}
		if (cli_resolve_node(c, ref, &id) < 0)
			goto out;
		if (json_array_append_new(nodes, json_integer(id)) < 0)
			goto oom;
	}
	o = json_pack("{s:O, s:O}", "nodes", nodes, "tags", tags);
	if (!o)
		goto oom;
	goto out;
oom:
	cli_oom();
out:
	json_decref(nodes);
	json_decref(tags);
	return o;
}

/* The body of a create or update from the flags; NULL on error
 * (printed). */
static json_t *body_of(struct cli *c, const struct flags *f, const char *name)
{
	json_t *body = json_object(), *v;

	if (!body || cli_set_str(body, "name", name) < 0 ||
	    cli_set_str(body, "address", f->address) < 0)
		goto oom;
	if (f->filters) {
		if (!(v = filters_json(f->filters)))
			goto fail;
		if (json_object_set_new(body, "filters", v) < 0)
			goto oom;
	}
	if (f->connectors.n) {
		if (!(v = connectors_json(c, &f->connectors)))
			goto fail;
		if (json_object_set_new(body, "connectors", v) < 0)
			goto oom;
	}
	return body;
oom:
	cli_oom();
fail:
	json_decref(body);
	return NULL;
}

int cli_resources_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};

	(void)f;
	(void)pos;
	return cli_list_cmd(c, "/api/v1/resources", &q, resource_cols,
			    NCOLS(resource_cols));
}

/* Runs method on the resource ref names with body (may be NULL) and
 * shows the answer. */
static int resource_call(struct cli *c, const char *ref, const char *method,
			 const json_t *body)
{
	char path[64];
	json_t *out = NULL;
	int64_t id;
	int ret = 1;

	if (find_resource(c, ref, &id) < 0)
		return 1;
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	if (cli_call(c, method, path, NULL, body, &out) == 0)
		ret = cli_show_object(c, out, false);
	json_decref(out);
	return ret;
}

int cli_resources_show(struct cli *c, const struct flags *f, char **pos)
{
	(void)f;
	return resource_call(c, pos[0], "GET", NULL);
}

int cli_resources_create(struct cli *c, const struct flags *f, char **pos)
{
	json_t *body = body_of(c, f, pos[0]), *out = NULL;
	int ret = 1;

	if (!body)
		return 1;
	if (cli_call(c, "POST", "/api/v1/resources", NULL, body, &out) == 0)
		ret = cli_show_object(c, out, false);
	json_decref(out);
	json_decref(body);
	return ret;
}

int cli_resources_update(struct cli *c, const struct flags *f, char **pos)
{
	json_t *body = body_of(c, f, f->new_name);
	int ret;

	if (!body)
		return 1;
	ret = resource_call(c, pos[0], "PATCH", body);
	json_decref(body);
	return ret;
}

int cli_resources_delete(struct cli *c, const struct flags *f, char **pos)
{
	char path[64];
	int64_t id;

	(void)f;
	if (find_resource(c, pos[0], &id) < 0)
		return 1;
	snprintf(path, sizeof(path), "/api/v1/resources/%" PRId64, id);
	if (cli_call(c, "DELETE", path, NULL, NULL, NULL) < 0)
		return 1;
	if (!c->json)
		printf("deleted resource %s\n", pos[0]);
	return 0;
}
