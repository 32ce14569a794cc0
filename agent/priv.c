/* Least privilege: see priv.h.
 *
 * Raw capget/capset rather than libcap: the agent needs two calls and
 * one constant, not a dependency. */
#include "agent/priv.h"

#include "shared/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BIT(c) ((uint64_t)1 << (c))

/* Capability numbers go up to cap_last_cap (40 in Linux 6.x); the
 * bounding set is walked until the kernel says a number is unknown. */
#define CAP_NUM_MAX 64

static int caps_get(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	*eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	*prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	return 0;
}

/* Sets effective and permitted to keep, inheritable to nothing. */
static int caps_set(uint64_t keep)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

int priv_effective(uint64_t *out)
{
	uint64_t prm;

	return caps_get(out, &prm);
}

int priv_lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);

	if (rc != 0)
		return -rc;
	if (!res)
		return WEFT_ERR_NOTFOUND;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

int priv_chown_dir(const char *dir, uid_t uid, gid_t gid)
{
	struct dirent *e;
	struct stat st;
	int fd, rc = 0;
	DIR *d;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchown(fd, uid, gid) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((e = readdir(d)) != NULL) {
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !(S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)))
			continue;
		if (fchownat(fd, e->d_name, uid, gid,
			     AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Removes every capability but keep from the bounding set, so that no
 * later execve (there is none today) could regain one. Needs
 * CAP_SETPCAP; without it (an unprivileged process) there is nothing the
 * set could give back anyway. */
static int drop_bounding(uint64_t keep, uint64_t prm)
{
	int c, r;

	for (c = 0; c < CAP_NUM_MAX; c++) {
		if (keep & BIT(c))
			continue;
		r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r < 0)
			break; /* past cap_last_cap */
		if (r == 0)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			if (errno == EPERM && !(prm & BIT(CAP_SETPCAP)))
				return 0;
			return -errno;
		}
	}
	return 0;
}

static int switch_user(const struct priv_target *t)
{
	int rc = 0;

	/* Keep the permitted set across setresuid; effective is cleared
	 * by the switch and set again by caps_set. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	if (setgroups(0, NULL) < 0 || setresgid(t->gid, t->gid, t->gid) < 0 ||
	    setresuid(t->uid, t->uid, t->uid) < 0)
		rc = -errno;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int priv_drop(const struct priv_target *t)
{
	/* Zeroed: gcc -O3 cannot see that caps_get sets both on success. */
	uint64_t eff = 0, prm = 0, keep;
	int rc;

	rc = caps_get(&eff, &prm);
	if (rc < 0)
		return rc;
	/* Only what is held can be kept. */
	keep = t->net_admin ? BIT(CAP_NET_ADMIN) & prm : 0;
	if (t->bind_service)
		keep |= BIT(CAP_NET_BIND_SERVICE) & prm;
	rc = drop_bounding(keep, prm);
	/* Ambient capabilities (Linux 4.3+) would survive an execve. */
	if (rc == 0 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0,
			     0) < 0 && errno != EINVAL)
		rc = -errno;
	if (rc == 0 && t->set_user)
		rc = switch_user(t);
	if (rc == 0)
		rc = caps_set(keep);
	if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		rc = -errno;
	if (rc == 0)
		rc = caps_get(&eff, &prm);
	if (rc == 0 && (eff != keep || prm != keep))
		rc = WEFT_ERR_INTERNAL;
	if (rc == 0 && t->set_user && (getuid() != t->uid ||
				       geteuid() != t->uid ||
				       getgid() != t->gid))
		rc = WEFT_ERR_INTERNAL;
	return rc;
}
