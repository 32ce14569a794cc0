/* weft-agent: the node daemon and CLI. The agent arrives after the
 * controller and relay; until then the binary only reports its version, so the build
 * layout and packaging can be exercised end to end. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 ||
			 strcmp(argv[1], "version") == 0)) {
		printf("weft-agent %s\n", WEFT_VERSION);
		return 0;
	}
	fprintf(stderr, "weft-agent %s: agent not implemented yet\n"
			"usage: weft-agent --version\n", WEFT_VERSION);
	return 2;
}
