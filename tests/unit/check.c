#include "check.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int failures_in_case;
static char tmpdir[256];

bool check_report(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		return true;
	failures_in_case++;
	fprintf(stderr, "  FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tmpdir(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *check_tmpdir(void)
{
	const char *base;

	if (tmpdir[0])
		return tmpdir;
	base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/weft-test-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(2);
	}
	atexit(rm_tmpdir);
	return tmpdir;
}

int check_main(int argc, char **argv, const struct check_case *cases)
{
	int run = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const struct check_case *c = cases; c->name; c++) {
		if (argc > 1 && strcmp(argv[1], c->name) != 0)
			continue;
		failures_in_case = 0;
		c->fn();
		run++;
		if (failures_in_case) {
			failed++;
			printf("not ok %d - %s\n", run, c->name);
		} else {
			printf("ok %d - %s\n", run, c->name);
		}
	}
	if (run == 0) {
		fprintf(stderr, "no test case named %s\n",
			argc > 1 ? argv[1] : "(any)");
		return 2;
	}
	printf("# %d passed, %d failed\n", run - failed, failed);
	return failed ? 1 : 0;
}
