#include "controller/bootstrap.h"

#include "shared/err.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int count_cb(void *ctx, const struct store_apikey *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

/* Reads the key file into text, trimmed. Returns 0, -ENOENT when it does
 * not exist, WEFT_ERR_INVAL when it is too long or not an API key, or
 * another -errno. */
static int read_key(const char *file, char text[CRED_TEXT_SIZE],
		    struct cred *cr)
{
	char buf[BOOTSTRAP_FILE_MAX + 1];
	size_t n = 0, start = 0;
	ssize_t got;
	int fd, rc = 0;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (n < sizeof(buf)) {
		got = read(fd, buf + n, sizeof(buf) - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (rc < 0)
		return rc;
	if (n > BOOTSTRAP_FILE_MAX)
		return WEFT_ERR_INVAL;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
			 buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	while (start < n && (buf[start] == ' ' || buf[start] == '\t' ||
			     buf[start] == '\n' || buf[start] == '\r'))
		start++;
	if (n - start >= CRED_TEXT_SIZE || memchr(buf + start, '\0', n - start))
		rc = WEFT_ERR_INVAL;
	if (rc == 0) {
		memcpy(text, buf + start, n - start);
		text[n - start] = '\0';
		if (cred_parse(text, cr) < 0 || cr->kind != CRED_API)
			rc = WEFT_ERR_INVAL;
	}
	memset(buf, 0, sizeof(buf));
	return rc;
}

/* Writes text and a newline to a new file (mode 0600). */
static int write_key(const char *file, const char *text)
{
	size_t len = strlen(text), off = 0;
	char line[CRED_TEXT_SIZE + 1];
	int fd, rc = 0;

	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	memcpy(line, text, len);
	line[len++] = '\n';
	while (off < len) {
		ssize_t w = write(fd, line + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	memset(line, 0, sizeof(line));
	if (rc < 0)
		unlink(file);
	return rc;
}

static int record(struct store_tx *tx, const struct cred *cr)
{
	struct store_apikey k = {0};
	struct store_audit a = {0};
	int rc;

	snprintf(k.prefix, sizeof(k.prefix), "%s", cr->id);
	snprintf(k.hash, sizeof(k.hash), "%s", cr->hash);
	snprintf(k.description, sizeof(k.description), "bootstrap admin key");
	rc = store_apikey_create(tx, &k);
	if (rc < 0)
		return rc;
	snprintf(a.actor, sizeof(a.actor), "system");
	snprintf(a.action, sizeof(a.action), "apikey.create");
	snprintf(a.target_type, sizeof(a.target_type), "apikey");
	snprintf(a.target_id, sizeof(a.target_id), "%lld", (long long)k.id);
	snprintf(a.detail, sizeof(a.detail),
		 "{\"description\":\"bootstrap admin key\"}");
	return store_audit_create(tx, &a);
}

int bootstrap_key(struct store *st, const char *file,
		  char text[CRED_TEXT_SIZE], enum bootstrap_result *result)
{
	struct store_tx *tx = NULL;
	enum bootstrap_result res = BOOTSTRAP_SHOWN;
	bool wrote = false;
	struct cred cr;
	int any = 0, rc;

	text[0] = '\0';
	*result = BOOTSTRAP_NONE;
	rc = store_begin(st, STORE_WRITE, &tx);
	if (rc < 0)
		return rc;
	rc = store_apikey_list(tx, NULL,
			       &(struct store_page){.after = 0, .limit = 1},
			       count_cb, &any, NULL);
	if (rc < 0 || any)
		goto out;
	if (file) {
		rc = read_key(file, text, &cr);
		if (rc == 0)
			res = BOOTSTRAP_ADOPTED;
		else if (rc != -ENOENT)
			goto out;
	}
	if (res != BOOTSTRAP_ADOPTED) {
		rc = cred_new(CRED_API, NULL, text, &cr);
		if (rc == 0 && file) {
			rc = write_key(file, text);
			wrote = rc == 0;
			res = BOOTSTRAP_WRITTEN;
		}
		if (rc < 0)
			goto out;
	}
	rc = record(tx, &cr);
	if (rc == 0) {
		rc = store_commit(tx);
		tx = NULL;
	}
	if (rc == 0)
		*result = res;
out:
	store_rollback(tx);
	if (rc < 0 && wrote)
		unlink(file);
	if (rc < 0 || res != BOOTSTRAP_SHOWN)
		memset(text, 0, CRED_TEXT_SIZE);
	return rc;
}
