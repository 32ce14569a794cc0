/* The `dns` group of the admin CLI: `dns show` prints the DNS settings
 * (GET /api/v1/dns), `dns set FILE` replaces them with the JSON document
 * in FILE ("-" = stdin) through PUT /api/v1/dns, so that `dns show >
 * FILE`, an edit and `dns set FILE` round-trip (docs/dns.md). */
#include "controller/cli_internal.h"

#include <stdio.h>
#include <string.h>

int cli_dns_show(struct cli *c, const struct flags *f, char **pos)
{
	json_t *out = NULL;
	int ret;

	(void)f;
	(void)pos;
	if (cli_call(c, "GET", "/api/v1/dns", NULL, NULL, &out) < 0)
		return 1;
	ret = cli_print_json(out);
	json_decref(out);
	return ret;
}

int cli_dns_set(struct cli *c, const struct flags *f, char **pos)
{
	json_error_t e;
	json_t *doc, *out = NULL;
	int ret = 1;

	(void)f;
	doc = strcmp(pos[0], "-") == 0 ? json_loadf(stdin, 0, &e)
				       : json_load_file(pos[0], 0, &e);
	if (!doc) {
		fprintf(stderr, "weft-controller: %s:%d:%d: %s\n", pos[0],
			e.line, e.column, e.text);
		return 1;
	}
	if (cli_call(c, "PUT", "/api/v1/dns", NULL, doc, &out) == 0) {
		if (c->json)
			ret = cli_print_json(out);
		else {
			printf("DNS settings saved (domain %s)\n",
			       json_string_value(json_object_get(out,
								 "domain")));
			ret = 0;
		}
	}
	json_decref(out);
	json_decref(doc);
	return ret;
}
