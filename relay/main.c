/* weft-relay: the stateless QUIC relay. The relay itself arrives with the
 * QUIC engine; until then the binary only reports its version, so the build
 * layout and packaging can be exercised end to end. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 ||
			 strcmp(argv[1], "version") == 0)) {
		printf("weft-relay %s\n", WEFT_VERSION);
		return 0;
	}
	fprintf(stderr, "weft-relay %s: relay service not implemented yet\n"
			"usage: weft-relay --version\n", WEFT_VERSION);
	return 2;
}
