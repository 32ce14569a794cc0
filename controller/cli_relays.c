/* The `relays` group of the admin CLI (set, list, delete through
 * /api/v1/relays; a relay is named by its name, and `relays set` creates
 * or updates, for deploy scripts) and `relay-key`, which prints the key
 * relays verify tokens with. */
#include "controller/cli_internal.h"

#include <stdio.h>
#include <string.h>

int cli_relay_key(struct cli *c, const struct flags *f, char **pos)
{
	json_t *out = NULL;
	const char *pem;
	int ret = 1;

	(void)f;
	(void)pos;
	if (cli_call(c, "GET", "/api/v1/relay-key", NULL, NULL, &out) < 0)
		return 1;
	pem = json_string_value(json_object_get(out, "public_key"));
	if (c->json)
		ret = cli_print_json(out);
	else if (pem) {
		/* The PEM text already ends with a newline. */
		fputs(pem, stdout);
		ret = 0;
	}
	json_decref(out);
	return ret;
}

/* --- relays --- */

static const struct col relay_cols[] = {
	{"ID", "id", false},
	{"NAME", "name", false},
	{"REGION", "region", false},
	{"ADDRESS", "address", false},
	{"PIN", "public_key_pin", false},
};

/* The id of the relay called name, 0 when there is none, -1 on error. */
static int64_t find_relay(struct cli *c, const char *name)
{
	struct query q = {0};
	json_t *items = NULL, *it;
	int64_t id = 0;
	size_t i;

	if (cli_fetch_all(c, "/api/v1/relays", &q, &items) < 0)
		return -1;
	json_array_foreach(items, i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));

		if (n && strcmp(n, name) == 0)
			id = json_integer_value(json_object_get(it, "id"));
	}
	json_decref(items);
	return id;
}

/* Creates the relay, or updates the one with that name: what a deploy
 * script wants to run on every start. */
int cli_relays_set(struct cli *c, const struct flags *f, char **pos)
{
	json_t *body = json_object();
	char path[64] = "/api/v1/relays";
	int64_t id;
	int ret = 1;

	if (!body)
		return cli_oom();
	id = find_relay(c, pos[0]);
	if (id < 0)
		goto out;
	if ((!id && cli_set_str(body, "name", pos[0])) ||
	    cli_set_str(body, "region", f->region) ||
	    cli_set_str(body, "address", f->address) ||
	    cli_set_str(body, "public_key_pin", f->pin)) {
		ret = cli_oom();
		goto out;
	}
	if (id)
		snprintf(path, sizeof(path), "/api/v1/relays/%lld", (long long)id);
	ret = cli_call_show(c, id ? "PATCH" : "POST", path, body, false, NULL);
out:
	json_decref(body);
	return ret;
}

int cli_relays_list(struct cli *c, const struct flags *f, char **pos)
{
	struct query q = {0};

	(void)f;
	(void)pos;
	return cli_list_cmd(c, "/api/v1/relays", &q, relay_cols,
			NCOLS(relay_cols));
}

int cli_relays_delete(struct cli *c, const struct flags *f, char **pos)
{
	char path[64];
	int64_t id;

	(void)f;
	id = find_relay(c, pos[0]);
	if (id < 0)
		return 1;
	if (id == 0) {
		fprintf(stderr, "weft-controller: no relay named \"%s\"\n",
			pos[0]);
		return 1;
	}
	snprintf(path, sizeof(path), "/api/v1/relays/%lld", (long long)id);
	if (cli_call(c, "DELETE", path, NULL, NULL, NULL) < 0)
		return 1;
	if (!c->json)
		printf("deleted relay %s\n", pos[0]);
	return 0;
}
