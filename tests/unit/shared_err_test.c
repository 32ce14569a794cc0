#include "check.h"
#include "shared/err.h"

#include <errno.h>

static void every_code_has_a_name_and_text(void)
{
	for (int e = WEFT_ERR_BASE; e < WEFT_ERR_END; e++) {
		CHECK(weft_errname(e)[0] != '\0');
		CHECK(strcmp(weft_errname(e), "unknown") != 0);
		CHECK(strcmp(weft_strerror(e), "unknown error") != 0);
	}
}

static void errno_values_map_to_strerror(void)
{
	CHECK_STR(weft_errname(-ENOENT), "system_error");
	CHECK(strstr(weft_strerror(-ENOENT), "No such file") != NULL);
	CHECK_STR(weft_errname(WEFT_ERR_NOTFOUND), "not_found");
	CHECK_STR(weft_errname(0), "ok");
	CHECK_STR(weft_strerror(12345), "unknown error");
}

static const struct check_case cases[] = {
	CHECK_CASE(every_code_has_a_name_and_text),
	CHECK_CASE(errno_values_map_to_strerror),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
