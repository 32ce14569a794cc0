/* The agent's control client: one thread that talks to the controller with
 * blocking HTTP/1.1 calls (agent/httpc.h) (register, the GET /api/v1/map long-poll,
 * POST /api/v1/endpoints) and hands every result to the main loop with
 * loop_post, so the loop (and later the data plane) never waits on HTTP.
 *
 * The thread registers when it has no credential (saving the new one in
 * the state directory before announcing it), then polls the map with
 * since=<version of the last answer>, holding each poll up to the poll
 * timeout (90 s, above the controller's keep-alive). A pending endpoint
 * report interrupts a held poll (within about a second) and is sent
 * first. Transient failures (no answer, 5xx, a garbled answer) are
 * reported and retried after a jittered exponential back-off (1 s to
 * 30 s) that resets on the next map; while the controller gives no HTTP
 * answer at all, GET /healthz is tried about every second (every 4 s
 * after two minutes) during that wait, and the retry starts as soon as it
 * answers. With several controller URLs (agent/ctlset.h) a failure moves
 * to the next URL, tried after 100-200 ms; the back-off applies once all
 * of them failed in a row. After any failure, GET /healthz is asked
 * first (CONTROL_CONTACT when it answers) and the poll resumes with
 * since=<the version held>, so what changed meanwhile comes as a delta.
 * Refusals (401, 403,
 * 400 at registration, 410 node_removed) are reported as fatal and end
 * the thread. */
#ifndef WEFT_AGENT_CONTROL_H
#define WEFT_AGENT_CONTROL_H

#include "agent/statedir.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct control;

struct control_cfg {
	const char *url;        /* controller base URLs, comma-separated
				 * (checked already: ctlset_parse) */
	const char *ca_file;    /* PEM CA bundle; NULL: the system store */
	const char *auth_key;   /* for registration; NULL when not needed */
	const char *state_dir;  /* where a new credential is saved */
	const char *public_key; /* base64 node key (ident_public_b64) */
	const char *hostname;   /* sent at registration */
	const char *const *routes; /* advertised routes, nroutes of them */
	size_t nroutes;
	int64_t poll_timeout_ms; /* 0: 90 s */
	int64_t backoff_min_ms;  /* 0: 1 s */
	int64_t backoff_max_ms;  /* 0: 30 s */
	uint32_t fwmark;         /* SO_MARK of the connections, 0: none */
};

enum control_kind {
	CONTROL_REGISTERED, /* json: {"node": ..., "credential": ...}; the
			     * credential is saved already */
	CONTROL_MAP,        /* json: the map answer (full, delta, keep-alive) */
	CONTROL_ENDPOINTS,  /* json: the endpoints the controller now has */
	CONTROL_CONTACT,    /* the controller answers again after a failure
			     * (/healthz); the map held is resumed */
	CONTROL_FAIL,       /* transient; retried after retry_ms (at
			     * next_url) */
	CONTROL_FATAL,      /* refused; the thread has ended */
};

/* What the thread reports. json is borrowed for the callback (incref to
 * keep it). code: for FATAL, WEFT_ERR_AUTH (auth key or credential
 * refused), WEFT_ERR_EXPIRED (node or auth key expired), WEFT_ERR_NOTFOUND
 * (node removed), WEFT_ERR_INVAL (registration input refused) or another
 * code (state could not be saved); for FAIL the error. */
struct control_event {
	enum control_kind kind;
	json_t *json;
	int code;
	long http_status; /* 0 when no HTTP answer arrived */
	int64_t retry_ms;
	int64_t node_id;  /* REGISTERED */
	bool gzipped;     /* MAP: the answer came gzip-coded */
	size_t wire_bytes; /* MAP: its body's size as it came */
	char url[STATEDIR_URL_SIZE];      /* the controller it is about */
	char next_url[STATEDIR_URL_SIZE]; /* FAIL: the one tried next */
	char message[256];
};

typedef void control_cb(const struct control_event *ev, void *ctx);

/* Checks a controller URL: https is fine; http is fine to a loopback
 * host (127.0.0.0/8, ::1, localhost) and otherwise only with
 * insecure_http (then *plain_http is true so the caller warns). Returns
 * 0, WEFT_ERR_FORBIDDEN (plain http to another host without
 * insecure_http) or WEFT_ERR_INVAL (not an http(s) URL, no host, a path,
 * query or user part). plain_http may be NULL. */
int control_check_url(const char *url, bool insecure_http, bool *plain_http);

/* Starts the thread. cfg is copied. cred is the stored credential, or
 * NULL to register first (then cfg->auth_key is required). cb runs on l's
 * thread. Returns 0 and *out, or
 * WEFT_ERR_INVAL / WEFT_ERR_NOMEM / -errno. */
int control_new(struct loop *l, const struct control_cfg *cfg,
		const struct statedir_cred *cred, control_cb *cb, void *ctx,
		struct control **out);

#define CONTROL_RELAY_NAME_MAX 64

/* Asks the thread to report endpoints (a JSON array of "addr:port"
 * strings, copied) and the home relay (the name of the relay this node is
 * connected to; "" or NULL = none) as soon as it can. Thread-safe.
 * Returns 0 or WEFT_ERR_NOMEM. */
int control_set_endpoints(struct control *c, const json_t *endpoints,
			  const char *home_relay);

/* Makes the next poll ask for a full map (since=0), after the caller could
 * not apply an answer. Thread-safe. */
void control_want_full(struct control *c);

/* Stops the thread (an HTTP call in flight is abandoned within about a
 * second), joins it, runs l until the events it posted are consumed (cb is
 * not called for them any more) and frees c. NULL is fine. Must not be
 * called from a loop callback. */
void control_del(struct control *c);

#endif
