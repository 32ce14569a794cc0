/* The long-poll hub: keeps the network-map engine in step with the
 * database's change feed and answers agents' map polls.
 *
 * One hub thread runs an event loop. It reads the change feed (rows of
 * netmap_changes after the last version it applied) when kicked by a local
 * commit (hub_kick), when PostgreSQL notifies a commit made by another
 * replica or process, and on a short fallback timer (which also catches
 * commits by the CLI on SQLite). Changes are coalesced for a short window,
 * applied to the engine, and every held poll of a node whose map changed
 * is answered with its delta.
 *
 * Map requests arrive on HTTP threads: a node that is behind gets its
 * answer at once; a node that is current is held (the connection is
 * suspended, no thread waits) until its map changes or a jittered
 * keep-alive deadline passes. The hub tracks which nodes poll, marks them
 * online/offline in the database (batched), and answers the poll of a
 * removed or expired node with an error that tells the agent to stop. */
#ifndef WEFT_HUB_H
#define WEFT_HUB_H

#include "controller/http.h"

#include <stdint.h>

struct store;
struct hub;

struct hub_options {
	int64_t coalesce_ms;       /* change batching window; default 20 */
	int64_t keepalive_min_ms;  /* held poll answered "no change" after a */
	int64_t keepalive_max_ms;  /* random time in [min, max]; 30 s..55 s */
	int64_t offline_grace_ms;  /* no poll for this long → offline; 60 s */
	int64_t feed_poll_ms;      /* fallback change-feed read; 250 ms */
	int64_t listen_poll_ms;    /* the same while LISTEN works; 2000 ms */
	/* PostgreSQL DSN of the LISTEN connection (a session, never through
	 * a transaction-mode pooler); NULL = the store's URL. */
	const char *listen_dsn;
	int64_t token_ttl_s;       /* relay token lifetime; 60 (relaykey.h) */
	/* A node gets at most one answer per this interval whose news are
	 * only peers' presence (online, last_seen); content changes are
	 * answered at once. Default 2000. */
	int64_t presence_min_ms;
	const char *dns_suffix;    /* default "weft.internal" */
	const char *relay_signing_key; /* PEM; NULL = no relay tokens */
};

/* Loads every node, resource, relay and the policy from st (borrowed; must
 * outlive the hub), then starts the hub thread. errmsg gets a reason. */
int hub_start(struct store *st, const struct hub_options *o,
	      struct hub **out, char *errmsg, size_t errlen);

/* Answers every held poll ("shutting down") and every later one at once.
 * Call it before stopping the HTTP server, which must resume every
 * suspended connection before it can stop. Thread-safe. */
void hub_drain(struct hub *h);

/* Drains, stops the thread and frees the hub. Call it after the HTTP server
 * has stopped (no request may reach the hub any more). NULL ok. */
void hub_stop(struct hub *h);

/* Answers or holds a map poll of node_id that has seen version since
 * (0 = nothing): fills resp with the map, or with resp->hold set. Called
 * on HTTP threads. */
void hub_map_request(struct hub *h, int64_t node_id, int64_t since,
		     struct http_resp *resp);

/* The UI's watch of the node list (controller/watch.h): answers at once
 * when the change feed is past since, else holds for at most wait_ms.
 * caller tells callers apart for the per-caller limit. HTTP threads. */
void hub_watch_nodes(struct hub *h, int64_t caller, int64_t since,
		     int64_t wait_ms, struct http_resp *resp);

/* Tells the hub that a change was committed in this process; it reads the
 * feed within one coalescing window. Thread-safe, cheap. */
void hub_kick(struct hub *h);

/* Stats for tests and metrics. */
struct hub_stats {
	int64_t version;      /* last applied netmap version */
	size_t held;          /* polls held right now */
	uint64_t answered;    /* polls answered with a change */
	uint64_t keepalives;  /* polls answered "no change" */
	uint64_t changes;     /* change rows applied */
	bool listening;       /* the LISTEN connection is up (or, on
			       * SQLite, not needed) */
};
void hub_stats(struct hub *h, struct hub_stats *out);

#endif
