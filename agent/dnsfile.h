/* `--dns file`: the agent's resolv.conf (docs/dns.md, "--dns modes").
 *
 * The original file is backed up into the state directory (a symlink is
 * kept as a symlink: /etc/resolv.conf often links to systemd's or
 * NetworkManager's file, and the agent replaces the link instead of
 * writing into another program's file), ours is written atomically
 * (temporary file + rename; a path that is a mount point, as in
 * containers, is rewritten in place), and the original comes back when
 * the agent stops. A backup that exists at start means the last run
 * crashed: it is restored then. The original is only put back while
 * the file is still ours; when another program wrote it since, its
 * version stays and the backup is dropped.
 *
 * While installed, an inotify watch notices another program rewriting
 * the file; ours is written again after a back-off (250 ms, doubling),
 * and after DNSFILE_MAX_REWRITES rewrites within DNSFILE_WINDOW_S
 * seconds the agent gives up (logged, event=dns_file_gave_up) and
 * leaves the file to the other program until the plan changes.
 *
 * Logs every change. Runs on the loop thread. Needs write access to the
 * file's directory (root). */
#ifndef WEFT_AGENT_DNSFILE_H
#define WEFT_AGENT_DNSFILE_H

#include <jansson.h>
#include <stdbool.h>

#define DNSFILE_MAX_REWRITES 5
#define DNSFILE_WINDOW_S 60
#define DNSFILE_READ_MAX 65536 /* what is read of a resolv.conf */

struct loop;
struct dnsfile;

/* Puts back the backup that a crashed run left at backup (when the file
 * at path is still ours, see above) and removes it. Returns 1 when a
 * backup was found, 0 when there was none, or a negative code. */
int dnsfile_recover(const char *path, const char *backup);

/* The first DNSFILE_READ_MAX - 1 bytes of path, NUL-terminated, on the
 * heap (the caller frees). NULL with errno set. */
char *dnsfile_read(const char *path);

/* Whether path exists and its directory is writable (auto mode). */
bool dnsfile_usable(const char *path);

/* An installer for path with its backup at backup (both copied);
 * installs nothing yet. Returns 0, WEFT_ERR_NOMEM or a loop error. */
int dnsfile_new(struct loop *loop, const char *path, const char *backup,
		struct dnsfile **out);

/* Installs text (the first call backs the original up; never over an
 * existing backup) and watches the file. Returns 0 or a negative code
 * (logged). */
int dnsfile_apply(struct dnsfile *f, const char *text);

/* Restores the original and frees f. NULL is fine. */
void dnsfile_del(struct dnsfile *f);

/* For status: {"path", "backup", "installed", "rewrites", "gave_up"}. */
json_t *dnsfile_json(const struct dnsfile *f);

#endif
