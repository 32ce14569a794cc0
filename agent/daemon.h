/* The agent daemon (`weft-agent up`): node identity and state directory,
 * the control thread, the network map, endpoint reports and the local
 * API, all driven by one event loop on the calling thread.
 *
 * The data plane: the TUN device (unless no_tun) and peer tunnels over
 * the relay, with the map's packet filter on receive. Without a TUN the
 * agent answers echo requests to its mesh addresses itself (`ping`). */
#ifndef WEFT_AGENT_DAEMON_H
#define WEFT_AGENT_DAEMON_H

#include "agent/dnsplan.h"
#include "agent/streams.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon_cfg {
	const char *controller;  /* base URLs, comma-separated, required */
	const char *auth_key;    /* needed when no credential is stored */
	const char *state_dir;   /* required */
	const char *hostname;    /* NULL: gethostname() */
	const char *tun;         /* TUN name (NULL: weft0) */
	const char *ca_file;     /* NULL: system CA store */
	const char *socket_path; /* local API socket, required */
	const char *const *routes; /* --advertise-routes */
	size_t nroutes;
	bool accept_routes;
	bool insecure_http;
	bool no_tun;
	const char *const *forwards; /* --forward (agent/streamfwd.h) */
	size_t nforwards;
	const char *socks5;          /* --socks5 ADDR:PORT or NULL */
	const char *http_proxy;      /* --http-proxy ADDR:PORT or NULL */
	struct streams_limits stream_limits; /* --max-streams... (0: default) */
	int64_t port;             /* UDP port for peers; 0 = any */
	int64_t endpoint_check_ms; /* 0: 10 s */
	const char *metrics_listen; /* "addr:port" for /metrics, NULL: off */
	int64_t punch_cooldown_ms; /* 0: 30 s */
	int64_t peer_idle_ms;      /* --peer-idle-timeout (0: 5 min) */
	int64_t punch_ttl;         /* openers' TTL; 0: 2, negative: none */
	bool no_direct;            /* stay on the relay, never punch */
	const char *user;          /* run as this user after setup, or NULL */
	bool connector;            /* forward for resources (needs a TUN) */
	/* The exit node (agent/exitnode.h): its table, the mark of the
	 * agent's own sockets, the first of its two rule priorities, and
	 * whether the LAN stays outside the tunnel. 0: the defaults. */
	int64_t exit_table, exit_fwmark, exit_priority;
	bool exit_no_lan;
	enum dns_mode dns_mode;    /* --dns (agent/dnshost.h) */
	const char *resolv_conf;   /* --dns file's path; NULL: the default */
	/* --dns-listen: where the stub listens (port 0: the map's stub
	 * addresses, agent/dnsstub.h). */
	struct ip_endpoint dns_listen;
};

/* With connector, forwarding is set up (agent/connector.h) right after
 * the TUN and removed again when the daemon returns. With a TUN, the
 * exit node's leftovers of a crashed run are removed at start, and its
 * routing follows the map (agent/exitnode.h) until the daemon returns. Once the TUN
 * device, the UDP socket, the local API and the metrics server exist, the daemon drops every capability but CAP_NET_ADMIN
 * (none with no_tun), sets no-new-privileges and, with user, switches to
 * that user (agent/priv.h); only then does the control thread start.
 *
 * Runs the daemon until `down`, SIGTERM or SIGINT (returns 0) or until
 * something ends it: then returns a negative code and writes a sentence
 * for the user into msg (msglen bytes): WEFT_ERR_AUTH, WEFT_ERR_EXPIRED
 * or WEFT_ERR_NOTFOUND (refused or removed by the controller; the stored
 * credential is removed so the next start registers again),
 * WEFT_ERR_INVAL / WEFT_ERR_FORBIDDEN (bad configuration), -EADDRINUSE
 * (another daemon owns the socket or the metrics port), the
 * connector's start error (agent/connector.h) or another code. Logs through
 * shared/log; prints nothing. Must run on the main thread before any
 * other thread exists (it blocks SIGTERM and SIGINT for the loop). */
int daemon_run(const struct daemon_cfg *cfg, char *msg, size_t msglen);

#endif
