/* Least privilege for the agent (docs/agent.md "Privileges"): once the
 * TUN device, the sockets and the local API exist, the agent keeps only
 * CAP_NET_ADMIN (for the addresses and routes each map change brings)
 * and, with --user, runs as that user.
 *
 * Linux only (capabilities via capget/capset, prctl). Capabilities and
 * the no-new-privileges flag are per thread and inherited by threads
 * created later: priv_drop must run while the calling thread is the
 * process's only one. Never logs. */
#ifndef WEFT_AGENT_PRIV_H
#define WEFT_AGENT_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct priv_target {
	bool net_admin; /* keep CAP_NET_ADMIN (a TUN to manage) */
	bool bind_service; /* keep CAP_NET_BIND_SERVICE (the DNS stub's
			   * port 53 on addresses the map names later) */
	bool set_user;  /* switch to uid/gid (no supplementary groups) */
	uid_t uid;
	gid_t gid;
};

/* The user name's uid and primary gid. Returns 0, WEFT_ERR_NOTFOUND or
 * -errno from the user database. */
int priv_lookup_user(const char *name, uid_t *uid, gid_t *gid);

/* Gives dir and the regular files directly in it (symbolic links are
 * not followed) to uid:gid, so the agent can still write its state after
 * switching users. Returns 0 or -errno. */
int priv_chown_dir(const char *dir, uid_t uid, gid_t gid);

/* Drops every capability but CAP_NET_ADMIN (when t->net_admin and held)
 * from the effective, permitted, inheritable, ambient and bounding sets,
 * switches to t's user (keeping that capability across the switch), and
 * sets no-new-privileges. A process without privileges only gets
 * no-new-privileges. Returns 0, -errno from prctl/capset/setresuid, or
 * WEFT_ERR_INTERNAL when the result read back is not what was asked. */
int priv_drop(const struct priv_target *t);

/* The calling thread's effective capability set, as a bit mask
 * (1 << CAP_*). Returns 0 and *out, or -errno. */
int priv_effective(uint64_t *out);

#endif
