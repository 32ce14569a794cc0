#include "controller/cli.h"

#include <stdio.h>
#include <string.h>

bool cli_has(const char *cmd)
{
	(void)cmd;
	return false;
}

int cli_main(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "weft-controller: %s: not available yet\n", argv[0]);
	return 2;
}
