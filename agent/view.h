/* What the daemon shows to the local API commands (agent/commands.h) and
 * the metrics (agent/metrics.h): its parts and its controller session.
 * A plain value type the daemon owns and updates on the loop thread; the
 * readers borrow it for as long as the daemon runs. */
#ifndef WEFT_AGENT_VIEW_H
#define WEFT_AGENT_VIEW_H

#include "agent/state.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct connector;
struct daemon_cfg;
struct dataplane;
struct dnshost;
struct dnsstub;
struct exitnode;
struct loop;
struct map;
struct resclient;
struct streamfwd;
struct streams;

struct agent_view {
	const struct daemon_cfg *cfg;
	struct loop *loop;
	struct map *map;
	struct dataplane *dp;
	struct connector *conn; /* NULL without a TUN */
	struct resclient *res;  /* the connector chosen per resource */
	struct exitnode *exit;  /* NULL without a TUN */
	struct dnshost *dns;    /* the host's DNS settings */
	struct dnsstub *stub;   /* the DNS stub resolver */
	struct streams *streams; /* stream mode (agent/streams.h) */
	struct streamfwd *fwd;  /* its --forward listeners */

	enum state state;
	int64_t state_since;   /* wall seconds */
	int64_t node_id;
	json_t *node;          /* node object from registration, or NULL */
	bool reachable;
	char ctl_url[512];     /* the controller URL in use (one of
				* cfg->controller's) */
	int64_t last_contact;  /* wall seconds of the last answer, 0 = never */
	int64_t last_map;      /* wall seconds of the last applied map */
	char last_error[256];
	json_t *reported;      /* endpoints the controller acknowledged */
};

#endif
