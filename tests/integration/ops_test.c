/* The controller process as an operator sees it: health and readiness
 * probes, Prometheus metrics (checked by promtool), HTTPS with certificate
 * reload on SIGHUP, clean shutdown on SIGTERM, and the OpenAPI document
 * matching the routes the server really serves. */
#include "check.h"
#include "controller/api.h"
#include "fx.h"
#include "ih.h"
#include "tlsgen.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ih *start(void)
{
	struct ih *h = NULL;

	if (ih_new(NULL, &h) < 0)
		return NULL;
	return h;
}

static void unknown_path_is_the_routers_404_and_sigterm_stops_cleanly(void)
{
	struct ih *h = start();
	json_t *j = NULL;

	REQUIRE(h);
	CHECK(strncmp(h->bootstrap_key, "weft_api_", 9) == 0);
	CHECK_INT(fx_req(h, "GET", "/api/v1/no-such-thing", h->bootstrap_key,
			 NULL, &j), 404);
	CHECK_STR(fx_str(j, "error.code"), "not_found");
	CHECK_STR(fx_str(j, "error.message"), "no such API path");
	json_decref(j);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(unknown_path_is_the_routers_404_and_sigterm_stops_cleanly),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
