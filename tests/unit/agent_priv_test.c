/* agent/priv: dropping to CAP_NET_ADMIN alone (or nothing), with
 * no_new_privs, optionally as another user. Each case drops in a forked
 * child (privileges cannot come back) and reports through its exit
 * status. As root the cases check the full drop; without root they check
 * that an unprivileged process ends with no capabilities. */
#include "agent/priv.h"

#include "check.h"
#include "shared/err.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NET_ADMIN ((uint64_t)1 << CAP_NET_ADMIN)

/* Child exit codes: 0 all good, else the first check that failed. */
enum {
	BAD_DROP = 1, BAD_EFFECTIVE, BAD_BOUNDING, BAD_NNP, BAD_UID,
	BAD_REGAIN, BAD_FORK = 100,
};

static int in_child(const struct priv_target *t, uint64_t want)
{
	pid_t pid = fork();
	int st = 0;

	if (pid < 0)
		return BAD_FORK;
	if (pid == 0) {
		uint64_t eff = ~(uint64_t)0;
		int code = 0;

		if (priv_drop(t) < 0)
			code = BAD_DROP;
		else if (priv_effective(&eff) < 0 || eff != want)
			code = BAD_EFFECTIVE;
		else if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0 ||
			 prctl(PR_CAPBSET_READ, CAP_NET_ADMIN, 0, 0, 0) !=
				 (want ? 1 : 0))
			code = BAD_BOUNDING;
		else if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			code = BAD_NNP;
		else if (t->set_user &&
			 (getuid() != t->uid || geteuid() != t->uid))
			code = BAD_UID;
		/* Back to root is not possible any more. */
		else if (t->set_user && setuid(0) == 0)
			code = BAD_REGAIN;
		_exit(code);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return BAD_FORK;
	return WEXITSTATUS(st);
}

static void keeps_net_admin_alone(void)
{
	struct priv_target t = {.net_admin = true};

	CHECK_INT(in_child(&t, geteuid() == 0 ? NET_ADMIN : 0), 0);
}

static void without_a_tun_keeps_nothing(void)
{
	struct priv_target t = {.net_admin = false};

	CHECK_INT(in_child(&t, 0), 0);
}

static void another_user_keeps_net_admin(void)
{
	struct priv_target t = {.net_admin = true, .set_user = true};

	if (geteuid() != 0)
		return; /* only root may switch users */
	REQUIRE_INT(priv_lookup_user("nobody", &t.uid, &t.gid), 0);
	CHECK_INT(in_child(&t, NET_ADMIN), 0);
}

static void unknown_user_is_not_found(void)
{
	uid_t u;
	gid_t g;

	CHECK_INT(priv_lookup_user("weft-no-such-user", &u, &g),
		  WEFT_ERR_NOTFOUND);
}

/* The state directory and its files change owner; a symbolic link in
 * it is neither followed nor changed. */
static void state_directory_changes_owner(void)
{
	char dir[] = "/tmp/weft-priv-XXXXXX", f[64], l[64];
	struct stat st;
	int fd;

	if (geteuid() != 0)
		return;
	REQUIRE(mkdtemp(dir));
	snprintf(f, sizeof(f), "%s/credential.json", dir);
	snprintf(l, sizeof(l), "%s/link", dir);
	fd = open(f, O_CREAT | O_WRONLY, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE_INT(symlink("/etc/passwd", l), 0);
	CHECK_INT(priv_chown_dir(dir, 65534, 65534), 0);
	CHECK(stat(dir, &st) == 0 && st.st_uid == 65534);
	CHECK(stat(f, &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534);
	CHECK(stat("/etc/passwd", &st) == 0 && st.st_uid == 0);
	unlink(l);
	unlink(f);
	rmdir(dir);
}

static const struct check_case cases[] = {
	CHECK_CASE(keeps_net_admin_alone),
	CHECK_CASE(without_a_tun_keeps_nothing),
	CHECK_CASE(another_user_keeps_net_admin),
	CHECK_CASE(unknown_user_is_not_found),
	CHECK_CASE(state_directory_changes_owner),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
