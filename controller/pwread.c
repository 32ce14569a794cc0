#include "controller/pwread.h"

#include <stdbool.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Reads one line (without its end) into buf; -1 at end of input or when
 * the line does not fit. */
static int read_line(FILE *in, char *buf, size_t cap)
{
	size_t n;

	if (!fgets(buf, (int)cap, in))
		return -1;
	n = strlen(buf);
	if (n && buf[n - 1] != '\n' && !feof(in))
		return -1; /* longer than cap */
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 0;
}

static int ask(FILE *in, const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	int fd = fileno(in);
	bool echo_off;
	int rc;

	fputs(prompt, stderr);
	fflush(stderr);
	echo_off = tcgetattr(fd, &old) == 0;
	if (echo_off) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		echo_off = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	rc = read_line(in, buf, cap);
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &old);
	return rc;
}

int pwread(FILE *in, char *buf, size_t cap)
{
	char again[1100];

	if (!isatty(fileno(in))) {
		if (read_line(in, buf, cap) == 0)
			return 0;
		memset(buf, 0, cap);
		fputs("weft-controller: no password on standard input (or "
		      "longer than allowed)\n", stderr);
		return -1;
	}
	if (ask(in, "New password: ", buf, cap) < 0 ||
	    ask(in, "Again: ", again, sizeof(again)) < 0) {
		memset(buf, 0, cap);
		memset(again, 0, sizeof(again));
		fputs("weft-controller: no password read\n", stderr);
		return -1;
	}
	if (strcmp(buf, again) != 0) {
		memset(buf, 0, cap);
		memset(again, 0, sizeof(again));
		fputs("weft-controller: the passwords differ\n", stderr);
		return -1;
	}
	memset(again, 0, sizeof(again));
	return 0;
}
