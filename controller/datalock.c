#include "controller/datalock.h"

#include "shared/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define SUFFIX ".serve.lock"

struct datalock {
	int fd;
};

/* Reads the pid the holder wrote (0 when unknown). */
static long holder_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Replaces the file's content with our pid; 0 or -1. */
static int write_pid(int fd)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		return -1;
	return 0;
}

int datalock_take(const char *url, struct datalock **out, char *errmsg,
		  size_t errlen)
{
	struct datalock *l;
	char path[4200];
	int fd, n;

	*out = NULL;
	if (strncmp(url, "sqlite://", 9) != 0)
		return 0;
	if (snprintf(path, sizeof(path), "%s" SUFFIX, url + 9) >=
	    (int)sizeof(path)) {
		snprintf(errmsg, errlen, "database path too long");
		return WEFT_ERR_TOOBIG;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		n = errno;
		snprintf(errmsg, errlen, "cannot open lock file %s: %s", path,
			 strerror(n));
		return -n;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = errno;
		if (n == EWOULDBLOCK) {
			long other = holder_pid(fd);

			snprintf(errmsg, errlen,
				 "another weft-controller serve (pid %ld) is "
				 "using this SQLite database (lock %s); SQLite "
				 "runs one serve per database, use PostgreSQL "
				 "for several replicas",
				 other, path);
		} else {
			snprintf(errmsg, errlen, "cannot lock %s: %s", path,
				 strerror(n));
		}
		close(fd);
		return n == EWOULDBLOCK ? WEFT_ERR_BUSY : -n;
	}
	/* The pid only makes a second serve's message clearer: a failed
	 * write changes nothing else. */
	(void)write_pid(fd);
	l = malloc(sizeof(*l));
	if (!l) {
		close(fd);
		return WEFT_ERR_NOMEM;
	}
	l->fd = fd;
	*out = l;
	return 0;
}

void datalock_release(struct datalock *l)
{
	if (!l)
		return;
	close(l->fd); /* closing the last descriptor drops the flock */
	free(l);
}
