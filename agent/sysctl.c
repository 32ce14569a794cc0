/* One /proc/sys setting: see sysctl.h. */
#include "agent/sysctl.h"

#include "shared/err.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int sysctl_read(const char *path, char *out, size_t cap)
{
	char buf[SYSCTL_VALUE_MAX + 2];
	ssize_t n;
	size_t len;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		rc = -errno;
	close(fd);
	if (rc < 0)
		return rc;
	buf[n] = '\0';
	len = strcspn(buf, "\n");
	if (len >= cap || len > SYSCTL_VALUE_MAX)
		return WEFT_ERR_TOOBIG;
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

int sysctl_write(const char *path, const char *value)
{
	size_t len = strlen(value);
	char buf[SYSCTL_VALUE_MAX + 2];
	ssize_t n;
	int fd, rc = 0;

	if (len > SYSCTL_VALUE_MAX)
		return WEFT_ERR_TOOBIG;
	memcpy(buf, value, len);
	buf[len++] = '\n';
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != len)
		rc = -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}
