/* `--dns file`: see dnsfile.h. */
#include "agent/dnsfile.h"

#include "agent/dnsplan.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define BACKOFF_US 250000  /* the first re-apply's delay, doubling */

struct dnsfile {
	struct loop *loop;
	char path[PATH_MAX], backup[PATH_MAX], dir[PATH_MAX];
	const char *base;          /* the file's name in dir */
	char text[DNSPLAN_RESOLV_MAX];
	bool installed;
	bool gave_up;
	int ino;                   /* inotify fd, -1 */
	int dir_wd, file_wd;
	struct loop_io *io;
	struct loop_timer *timer;  /* the next re-apply */
	int64_t times[DNSFILE_MAX_REWRITES + 1]; /* last rewrites, us */
	size_t ntimes;
	unsigned long long rewrites;
};

char *dnsfile_read(const char *path)
{
	char *buf = malloc(DNSFILE_READ_MAX);
	size_t len = 0;
	ssize_t r;
	int fd, e;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	while (len < DNSFILE_READ_MAX - 1 &&
	       (r = read(fd, buf + len, DNSFILE_READ_MAX - 1 - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			goto fail;
		}
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
fail:
	e = errno;
	free(buf);
	errno = e;
	return NULL;
}

static int write_all(int fd, const char *s, size_t len)
{
	ssize_t w;

	while (len) {
		w = write(fd, s, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Creates path (which must not exist) with text, synced. */
static int create_with(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int rc;

	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(path);
	return rc;
}

/* Replaces path with text: a temporary file renamed over it (which
 * replaces a symlink rather than writing its target), or, when path is
 * a mount point (rename says EBUSY) or on another file system, in
 * place. */
static int write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 16];
	int fd, rc;

	snprintf(tmp, sizeof(tmp), "%s.weft-new", path);
	unlink(tmp);
	rc = create_with(tmp, text);
	if (rc < 0)
		return rc;
	if (rename(tmp, path) == 0)
		return 0;
	rc = -errno;
	unlink(tmp);
	if (rc != -EBUSY && rc != -EXDEV)
		return rc;
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text));
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* Makes path the symlink target, atomically. */
static int write_link(const char *path, const char *target)
{
	char tmp[PATH_MAX + 16];

	snprintf(tmp, sizeof(tmp), "%s.weft-new", path);
	unlink(tmp);
	if (symlink(target, tmp) < 0)
		return -errno;
	if (rename(tmp, path) < 0) {
		int rc = -errno;

		unlink(tmp);
		return rc;
	}
	return 0;
}

/* Copies the original at path to backup, never over an existing one. */
static int make_backup(const char *path, const char *backup)
{
	char target[PATH_MAX], *text;
	struct stat st;
	ssize_t n;
	int rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? create_with(backup, "") : -errno;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		return symlink(target, backup) < 0 ? -errno : 0;
	}
	text = dnsfile_read(path);
	if (!text)
		return -errno;
	rc = dnsplan_is_ours(text) ? WEFT_ERR_EXISTS
				   : create_with(backup, text);
	free(text);
	return rc;
}

/* Whether the file at path is the one the agent wrote. */
static bool is_ours(const char *path)
{
	char *text = dnsfile_read(path);
	bool ours = dnsplan_is_ours(text);

	free(text);
	return ours;
}

/* Puts backup back at path (while path is ours) and removes it. */
static int restore(const char *path, const char *backup)
{
	char target[PATH_MAX], q[PATH_MAX + 8], *text;
	struct stat st;
	ssize_t n;
	int rc = 0;

	if (lstat(backup, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!is_ours(path)) {
		log_info("dns_file_kept_theirs", "path=%s note=\"another "
			 "program rewrote it; the backup is dropped\"",
			 log_q(q, sizeof(q), path));
	} else if (S_ISLNK(st.st_mode)) {
		n = readlink(backup, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		rc = write_link(path, target);
	} else {
		text = dnsfile_read(backup);
		if (!text)
			return -errno;
		rc = write_file(path, text);
		free(text);
	}
	if (rc < 0)
		return rc;
	if (unlink(backup) < 0)
		return -errno;
	log_info("dns_file_restored", "path=%s", log_q(q, sizeof(q), path));
	return 0;
}

int dnsfile_recover(const char *path, const char *backup)
{
	struct stat st;
	int rc;

	if (lstat(backup, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = restore(path, backup);
	return rc < 0 ? rc : 1;
}

bool dnsfile_usable(const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	return access(path, F_OK) == 0 && access(dir, W_OK) == 0;
}

static void on_timer(struct loop_timer *t, void *ctx);
static void on_inotify(struct loop_io *io, int fd, uint32_t ev, void *ctx);

int dnsfile_new(struct loop *loop, const char *path, const char *backup,
		struct dnsfile **out)
{
	struct dnsfile *f = calloc(1, sizeof(*f));
	char *slash;
	int rc;

	if (!f)
		return WEFT_ERR_NOMEM;
	f->loop = loop;
	f->ino = -1;
	f->dir_wd = f->file_wd = -1;
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(f->backup, sizeof(f->backup), "%s", backup);
	snprintf(f->dir, sizeof(f->dir), "%s", path);
	slash = strrchr(f->dir, '/');
	if (slash == f->dir) {
		slash[1] = '\0';
		f->base = f->path + 1;
	} else if (slash) {
		*slash = '\0';
		f->base = f->path + (slash - f->dir) + 1;
	} else {
		snprintf(f->dir, sizeof(f->dir), ".");
		f->base = f->path;
	}
	rc = loop_timer_new(loop, on_timer, f, &f->timer);
	if (rc < 0) {
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

/* Watches the directory (a file renamed over ours) and the file (written
 * in place, e.g. through a bind mount). Failing is not fatal: the file
 * is then not defended. */
static void watch(struct dnsfile *f)
{
	int rc;

	if (f->ino < 0) {
		f->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (f->ino < 0 || (rc = loop_io_add(f->loop, f->ino, LOOP_READ,
						    on_inotify, f, &f->io)) < 0) {
			log_warn_err(f->ino < 0 ? -errno : rc,
				     "dns_file_unwatched", NULL);
			if (f->ino >= 0)
				close(f->ino);
			f->ino = -1;
			return;
		}
		f->dir_wd = inotify_add_watch(f->ino, f->dir,
					      IN_MOVED_TO | IN_CREATE |
					      IN_DELETE | IN_CLOSE_WRITE);
	}
	f->file_wd = inotify_add_watch(f->ino, f->path,
				       IN_CLOSE_WRITE | IN_MODIFY);
}

static void unwatch(struct dnsfile *f)
{
	loop_io_close(f->io, true);
	f->io = NULL;
	f->ino = -1;
	f->dir_wd = f->file_wd = -1;
	loop_timer_stop(f->timer);
}

static int install(struct dnsfile *f)
{
	char q[PATH_MAX + 8];
	int rc = write_file(f->path, f->text);

	if (rc < 0) {
		log_warn_err(rc, "dns_file_not_written", "path=%s",
			     log_q(q, sizeof(q), f->path));
		return rc;
	}
	watch(f);
	return 0;
}

/* A rewrite by someone else: counted, and ours again after the back-off
 * unless there were too many lately. */
static void rewritten(struct dnsfile *f)
{
	int64_t now = loop_now_us(f->loop);
	char q[PATH_MAX + 8];
	size_t i, n = 0;

	if (loop_timer_active(f->timer))
		return;
	f->rewrites++;
	for (i = 0; i < f->ntimes; i++)
		if (now - f->times[i] < (int64_t)DNSFILE_WINDOW_S * 1000000)
			f->times[n++] = f->times[i];
	f->ntimes = n;
	if (n == DNSFILE_MAX_REWRITES) {
		f->gave_up = true;
		unwatch(f);
		log_warn("dns_file_gave_up", "path=%s rewrites=%d window_s=%d "
			 "note=\"another program keeps rewriting it; leaving "
			 "it alone\"", log_q(q, sizeof(q), f->path),
			 DNSFILE_MAX_REWRITES, DNSFILE_WINDOW_S);
		return;
	}
	f->times[f->ntimes++] = now;
	log_info("dns_file_rewritten", "path=%s retry_ms=%lld",
		 log_q(q, sizeof(q), f->path),
		 (long long)((BACKOFF_US << n) / 1000));
	loop_timer_start(f->timer, (int64_t)BACKOFF_US << n);
}

static bool still_ours(struct dnsfile *f)
{
	char *now = dnsfile_read(f->path);
	bool same = now && strcmp(now, f->text) == 0;

	free(now);
	return same;
}

static void on_inotify(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct dnsfile *f = ctx;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *e;
	bool look = false;
	ssize_t n;
	size_t off;

	(void)io;
	(void)ev;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (off = 0; off + sizeof(*e) <= (size_t)n;
		     off += sizeof(*e) + e->len) {
			e = (const struct inotify_event *)(buf + off);
			if (e->wd != f->dir_wd ||
			    (e->len && strcmp(e->name, f->base) == 0))
				look = true;
		}
	if (look && f->installed && !still_ours(f))
		rewritten(f);
}

static void on_timer(struct loop_timer *t, void *ctx)
{
	struct dnsfile *f = ctx;
	char q[PATH_MAX + 8];

	(void)t;
	if (!f->installed || still_ours(f))
		return;
	if (install(f) == 0)
		log_info("dns_file_reapplied", "path=%s",
			 log_q(q, sizeof(q), f->path));
}

int dnsfile_apply(struct dnsfile *f, const char *text)
{
	char q[PATH_MAX + 8];
	struct stat st;
	int rc;

	if (f->installed && strcmp(f->text, text) == 0)
		return 0;
	snprintf(f->text, sizeof(f->text), "%s", text);
	f->gave_up = false;
	f->ntimes = 0;
	if (!f->installed && lstat(f->backup, &st) < 0) {
		rc = make_backup(f->path, f->backup);
		if (rc == WEFT_ERR_EXISTS)
			log_warn("dns_file_no_original", "path=%s note=\"it is "
				 "already the agent's and no backup exists: "
				 "nothing to restore on exit\"",
				 log_q(q, sizeof(q), f->path));
		else if (rc < 0) {
			log_warn_err(rc, "dns_file_not_backed_up", "path=%s",
				     log_q(q, sizeof(q), f->backup));
			return rc;
		}
	}
	rc = install(f);
	if (rc < 0)
		return rc;
	if (!f->installed)
		log_info("dns_file_installed", "path=%s backup=%s",
			 log_q(q, sizeof(q), f->path), f->backup);
	f->installed = true;
	return 0;
}

void dnsfile_del(struct dnsfile *f)
{
	char q[PATH_MAX + 8];
	int rc;

	if (!f)
		return;
	unwatch(f);
	loop_timer_del(f->timer);
	if (f->installed) {
		rc = restore(f->path, f->backup);
		if (rc < 0)
			log_warn_err(rc, "dns_file_not_restored", "path=%s "
				     "backup=%s", log_q(q, sizeof(q), f->path),
				     f->backup);
	}
	free(f);
}

json_t *dnsfile_json(const struct dnsfile *f)
{
	return json_pack("{s:s, s:s, s:b, s:I, s:b}", "path", f->path,
			 "backup", f->backup, "installed", f->installed,
			 "rewrites", (json_int_t)f->rewrites, "gave_up",
			 f->gave_up);
}
