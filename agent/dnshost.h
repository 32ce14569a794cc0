/* The host side of the agent's DNS (docs/dns.md, "How the agent installs
 * itself"): puts the stub resolver's addresses on the TUN (so the stub
 * binds ordinary sockets there; peers' packets to them are dropped by
 * the receive filter) and makes the host use them, by the --dns mode:
 * systemd-resolved per-link DNS (agent/dnsbus.h), the agent's own
 * resolv.conf (agent/dnsfile.h), or nothing (off). auto picks resolved
 * when org.freedesktop.resolve1 has an owner on the system bus, else
 * file when the resolv.conf is writable, else nothing (logged).
 *
 * What is installed follows the map's "dns" part and the exit node
 * (agent/dnsplan.h); a plan whose upstreams would lead back to the stub
 * is refused (logged, event=dns_loop_refused). Everything is undone when
 * the daemon stops; a resolv.conf backup left by a crashed run is put
 * back at start, whatever the mode.
 *
 * While `--dns file` is installed, the host's resolvers from before the
 * agent are in the backup file (dnshost_original), not in the
 * resolv.conf. Runs on the loop thread. */
#ifndef WEFT_AGENT_DNSHOST_H
#define WEFT_AGENT_DNSHOST_H

#include "agent/dnsplan.h"

#include <jansson.h>
#include <stdbool.h>

#define DNSHOST_RESOLV_CONF "/etc/resolv.conf"
#define DNSHOST_BACKUP_NAME "resolv.conf.weft-backup"

struct dataplane;
struct dnsstub;
struct loop;
struct map;
struct dnshost;

struct dnshost_cfg {
	enum dns_mode mode;
	const char *resolv_conf;  /* NULL: DNSHOST_RESOLV_CONF */
	const char *state_dir;    /* the backup's directory, required */
	const char *tun;          /* the TUN's name; NULL: no TUN, nothing
				   * is installed */
};

/* Restores a crashed run's resolv.conf backup, then resolves auto into
 * the mode in effect. Installs nothing yet. Call before the privilege
 * drop. Returns 0 or WEFT_ERR_NOMEM / WEFT_ERR_INVAL (a path too long). */
int dnshost_new(struct loop *loop, const struct dnshost_cfg *cfg,
		struct dnshost **out);

/* Brings the host in line with the map m and whether the exit node is
 * on: the stub addresses on the TUN and in dp's filter, and the mode's
 * settings. Cheap when nothing changed. A failed install (resolved not
 * answering, the file not writable) is tried again after a back-off of
 * 1 s doubling to 60 s until it works or the settings change. stub
 * (NULL: none) is told whether loopback upstreams loop
 * (dnshost_loopback_loops) whenever that changes. */
void dnshost_update(struct dnshost *h, const struct map *m,
		    struct dataplane *dp, struct dnsstub *stub, bool exit_on);

/* Whether a loopback resolver (systemd-resolved's 127.0.0.53, a local
 * dnsmasq reading the resolv.conf) would send the stub's queries back to
 * it with what is installed: in file mode, and in resolved mode as the
 * default DNS route. */
bool dnshost_loopback_loops(const struct dnshost *h);

/* Where the host's resolv.conf from before the agent is: the backup in
 * file mode, else the resolv.conf itself. Borrowed. */
const char *dnshost_original(const struct dnshost *h);

/* Undoes what is installed (RevertLink, the original resolv.conf, the
 * stub addresses) and frees h. NULL is fine. */
void dnshost_del(struct dnshost *h);

/* For `weft-agent status`: {"mode", "requested", "reason", "installed",
 * "nameservers", "domains", "search", "default_route", "error",
 * "install_retries", "loopback_loops", and
 * "resolv_conf" or "resolved"}. New reference or NULL. */
json_t *dnshost_json(const struct dnshost *h);

#endif
