/* The agent's state directory: see statedir.h. */
#include "agent/statedir.h"

#include "shared/err.h"
#include "shared/ident.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE "node.key"
#define CRED_FILE "credential.json"

static int path_join(char *buf, size_t n, const char *dir, const char *name)
{
	int len = snprintf(buf, n, "%s/%s", dir, name);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int statedir_prepare(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	/* mkdir -p: parents get 0755 like any system directory would; only
	 * the last component holds secrets. */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) < 0)
		return -errno;
	return 0;
}

int statedir_identity(const char *dir, struct ident **out, bool *created)
{
	char path[PATH_MAX];
	struct ident *id = NULL;
	int rc;

	rc = path_join(path, sizeof(path), dir, KEY_FILE);
	if (rc < 0)
		return rc;
	rc = ident_load(path, &id);
	if (rc == 0) {
		*created = false;
		*out = id;
		return 0;
	}
	if (rc != -ENOENT)
		return rc;
	rc = ident_generate(&id);
	if (rc == 0)
		rc = ident_save(id, path);
	if (rc < 0) {
		ident_del(id);
		return rc;
	}
	*created = true;
	*out = id;
	return 0;
}

int statedir_cred_load(const char *dir, struct statedir_cred *out)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *j = NULL, *v;
	struct statedir_cred c = {0};
	const char *s;
	int rc;

	rc = path_join(path, sizeof(path), dir, CRED_FILE);
	if (rc < 0)
		return rc;
	if (access(path, F_OK) < 0)
		return -errno;
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		rc = access(path, R_OK) < 0 ? -errno : WEFT_ERR_PARSE;
		goto out;
	}
	rc = WEFT_ERR_PARSE;
	v = json_object_get(j, "node_id");
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		goto out;
	c.node_id = json_integer_value(v);
	s = json_string_value(json_object_get(j, "credential"));
	if (!s || !*s || strlen(s) >= sizeof(c.credential))
		goto out;
	memcpy(c.credential, s, strlen(s) + 1);
	s = json_string_value(json_object_get(j, "controller"));
	if (!s || !*s || strlen(s) >= sizeof(c.controller))
		goto out;
	memcpy(c.controller, s, strlen(s) + 1);
	*out = c;
	rc = 0;
out:
	json_decref(j);
	explicit_bzero(&c, sizeof(c));
	return rc;
}

int statedir_cred_save(const char *dir, const struct statedir_cred *c)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	json_t *j;
	char *text = NULL;
	size_t len, off = 0;
	int fd = -1, rc;

	rc = path_join(path, sizeof(path), dir, CRED_FILE);
	if (rc < 0)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	j = json_pack("{s:s, s:I, s:s}", "controller", c->controller,
		      "node_id", (json_int_t)c->node_id, "credential",
		      c->credential);
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!text)
		return WEFT_ERR_NOMEM;
	len = strlen(text);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			goto out;
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		rc = errno ? -errno : -EIO;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

int statedir_cred_remove(const char *dir)
{
	char path[PATH_MAX];
	int rc = path_join(path, sizeof(path), dir, CRED_FILE);

	if (rc < 0)
		return rc;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
