/* The control thread: see control.h.
 *
 * The thread owns one HTTP client (agent/httpc.h: one kept-alive
 * connection, reused while the controller keeps it open) and runs one
 * step at a time: register, report endpoints, or poll the map.
 * Everything it learns travels to the loop as a heap event through
 * loop_post; `inflight` counts events not yet consumed so control_del can
 * drain them before freeing c. Stopping is a flag checked by the client
 * between waits of at most HTTPC_SLICE_MS (also while a held poll is
 * idle) and a condition variable for back-off sleeps. */
#include "agent/control.h"

#include "agent/ctlset.h"
#include "agent/httpc.h"
#include "agent/httpmsg.h"
#include "agent/state.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/loop.h"
#include "shared/rand.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ANSWER_MAX (16u * 1024 * 1024)
#define CALL_TIMEOUT_MS 15000
#define CONNECT_TIMEOUT_MS 10000
#define MSG_SIZE 256
/* While the controller does not answer at all, /healthz is asked every
 * PROBE_MS (+-25 %) during the back-off wait, every PROBE_SLOW_MS once it
 * has been silent for PROBE_FAST_FOR_MS: a restarted controller is then
 * found within about a second instead of after a back-off of up to 30 s,
 * and a long outage costs one small request per agent every few seconds. */
#define PROBE_MS 1000
#define PROBE_SLOW_MS 4000
#define PROBE_FAST_FOR_MS 120000
#define PROBE_TIMEOUT_MS 2000
/* Wait before trying the next controller URL after one failed (plus up to
 * as much jitter), so that agents leaving a dead replica do not all
 * arrive at the same millisecond. */
#define SWITCH_MS 100

struct control {
	struct loop *loop;
	control_cb *cb;
	void *ctx;
	pthread_t thread;
	bool started;

	/* configuration, owned copies */
	struct ctlset *set; /* the controller URLs; thread-only after start */
	char *ca_file, *auth_key, *state_dir, *public_key, *hostname;
	char **routes;
	size_t nroutes;
	int64_t poll_timeout_ms;
	uint32_t fwmark;
	struct state_backoff backoff;

	/* thread-only */
	struct statedir_cred cred;
	bool have_cred;
	int64_t since;
	bool resync;         /* a call failed: check the controller answers
			      * before the next poll */
	bool last_gzip;      /* the last answer came gzip-coded */
	size_t last_bytes;   /* its body's size on the wire */
	int64_t silent_since; /* mono ms of the first failure without any
			       * HTTP answer since the last one; -1: none */

	/* shared */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool stop;
	atomic_bool closing;
	atomic_bool want_full;
	atomic_bool ep_pending;
	atomic_int inflight;
	json_t *endpoints; /* under lock */
	char home_relay[CONTROL_RELAY_NAME_MAX]; /* under lock */
};

struct posted {
	struct control *c;
	struct control_event ev;
};

/* Outcome of one step of the thread. */
enum step {
	STEP_OK,      /* ev filled, success */
	STEP_RETRY,   /* ev filled (FAIL) */
	STEP_FATAL,   /* ev filled (FATAL) */
	STEP_AGAIN,   /* interrupted for an endpoint report: no event */
	STEP_STOPPED, /* asked to stop: no event */
};

static bool is_loopback_host(const char *host)
{
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	/* 127.0.0.0/8 written as a dotted quad */
	if (strncmp(host, "127.", 4) != 0)
		return false;
	for (const char *p = host + 4; *p; p++)
		if (!(*p == '.' || (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

int control_check_url(const char *url, bool insecure_http, bool *plain_http)
{
	struct httpmsg_url u;
	bool plain;

	if (httpmsg_url_parse(url, &u) < 0 || u.has_path)
		return WEFT_ERR_INVAL;
	plain = !u.https && !is_loopback_host(u.host);
	if (plain && !insecure_http)
		return WEFT_ERR_FORBIDDEN;
	if (plain_http)
		*plain_http = plain;
	return 0;
}

/* ---- events ---- */

static void deliver(void *arg)
{
	struct posted *p = arg;
	struct control *c = p->c;

	if (!atomic_load(&c->closing))
		c->cb(&p->ev, c->ctx);
	json_decref(p->ev.json);
	free(p);
	atomic_fetch_sub(&c->inflight, 1);
}

/* Hands ev (and its json reference) to the loop. Returns false when the
 * event was lost (out of memory); its json is released then. */
static bool post(struct control *c, struct control_event *ev)
{
	struct posted *p = malloc(sizeof(*p));

	if (!p)
		goto lost;
	p->c = c;
	p->ev = *ev;
	atomic_fetch_add(&c->inflight, 1);
	if (loop_post(c->loop, deliver, p) == 0) {
		ev->json = NULL;
		return true;
	}
	atomic_fetch_sub(&c->inflight, 1);
	free(p);
lost:
	json_decref(ev->json);
	ev->json = NULL;
	return false;
}

/* ---- HTTP ---- */

struct cancel {
	struct control *c;
	bool interruptible;
};

/* Asked by httpc between waits of at most HTTPC_SLICE_MS. */
static int on_wait(void *arg)
{
	struct cancel *k = arg;

	if (atomic_load(&k->c->stop))
		return WEFT_ERR_CLOSED;
	if (k->interruptible && atomic_load(&k->c->ep_pending))
		return WEFT_ERR_BUSY;
	return 0;
}

/* One request. Returns 0 with *status and *json (NULL for a body that is
 * not JSON), negative codes otherwise: WEFT_ERR_CLOSED when stopped,
 * WEFT_ERR_BUSY when interrupted for endpoints, -EIO with msg set when no
 * answer came. */
static int call(struct control *c, struct httpc *h, const char *method,
		const char *path, const char *body, int64_t timeout_ms,
		bool interruptible, long *status, json_t **json, char *msg,
		size_t msglen)
{
	struct cancel k = {c, interruptible};
	struct httpc_resp resp;
	char url[1024], auth[STATEDIR_CRED_SIZE + 16];
	int rc;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", ctlset_current(c->set),
			     path) >=
	    sizeof(url)) {
		snprintf(msg, msglen, "controller URL too long");
		return -EIO;
	}
	/* Only API calls carry the node credential (not /healthz). */
	auth[0] = '\0';
	if (c->have_cred && strncmp(path, "/api/", 5) == 0)
		snprintf(auth, sizeof(auth), "Bearer %s", c->cred.credential);
	rc = httpc_request(h, &(struct httpc_req){
		.method = method, .url = url,
		.authorization = auth[0] ? auth : NULL, .body = body,
		.timeout_ms = timeout_ms, .cancel = on_wait,
		.cancel_arg = &k}, &resp, msg, msglen);
	explicit_bzero(auth, sizeof(auth));
	if (rc == WEFT_ERR_CLOSED || rc == WEFT_ERR_BUSY)
		return rc;
	if (rc == WEFT_ERR_NOMEM)
		return rc;
	if (rc < 0) {
		if (!msg[0])
			snprintf(msg, msglen, "%s", weft_strerror(rc));
		return -EIO;
	}
	*status = resp.status;
	*json = resp.len ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	c->last_gzip = resp.gzipped;
	c->last_bytes = resp.wire_len;
	free(resp.body);
	return 0;
}

/* The message of an API error body, or a fallback. */
static const char *error_message(const json_t *j, const char *fallback)
{
	const char *m = json_string_value(
		json_object_get(json_object_get(j, "error"), "message"));

	return m && *m ? m : fallback;
}

static const char *error_code(const json_t *j)
{
	const char *m = json_string_value(
		json_object_get(json_object_get(j, "error"), "code"));

	return m ? m : "";
}

/* Fills ev for an answer that is neither success nor fatal. */
static enum step transient(struct control_event *ev, const char *what,
			   long status, const json_t *j)
{
	ev->kind = CONTROL_FAIL;
	ev->http_status = status;
	ev->code = status == 503 ? WEFT_ERR_BUSY : WEFT_ERR_PROTO;
	snprintf(ev->message, sizeof(ev->message), "%s: HTTP %ld: %s", what,
		 status, error_message(j, "unexpected answer"));
	return STEP_RETRY;
}

static enum step no_answer(struct control_event *ev, const char *what,
			   int rc, const char *msg)
{
	if (rc == WEFT_ERR_CLOSED)
		return STEP_STOPPED;
	if (rc == WEFT_ERR_BUSY)
		return STEP_AGAIN;
	ev->kind = CONTROL_FAIL;
	ev->code = rc;
	snprintf(ev->message, sizeof(ev->message),
		 "%s: controller unreachable: %s", what,
		 rc == -EIO ? msg : "out of memory");
	return STEP_RETRY;
}

/* 401/403/410 of a call made with the node credential. */
static enum step node_refused(struct control_event *ev, long status,
			      const json_t *j)
{
	ev->kind = CONTROL_FATAL;
	ev->http_status = status;
	if (status == 410) {
		ev->code = WEFT_ERR_NOTFOUND;
		snprintf(ev->message, sizeof(ev->message),
			 "node removed: the controller deleted or expired "
			 "this node (%s)", error_message(j, "node_removed"));
	} else if (strcmp(error_code(j), "expired") == 0) {
		ev->code = WEFT_ERR_EXPIRED;
		snprintf(ev->message, sizeof(ev->message),
			 "node expired: %s; run `weft-agent up` with an auth "
			 "key to renew it", error_message(j, "expired"));
	} else {
		ev->code = WEFT_ERR_AUTH;
		snprintf(ev->message, sizeof(ev->message),
			 "node credential refused (HTTP %ld: %s); the node "
			 "may have been removed", status,
			 error_message(j, "unauthenticated"));
	}
	return STEP_FATAL;
}

static enum step do_register(struct control *c, struct httpc *h,
			     struct control_event *ev)
{
	json_t *req = NULL, *routes = NULL, *j = NULL;
	char *body = NULL, msg[MSG_SIZE] = "";
	const char *cred;
	long status = 0;
	int64_t node_id;
	enum step st;
	int rc;

	req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "auth_key", c->auth_key,
			"public_key", c->public_key, "hostname", c->hostname,
			"os", "linux", "version", WEFT_VERSION);
	if (req && c->nroutes) {
		routes = json_array();
		for (size_t i = 0; routes && i < c->nroutes; i++)
			if (json_array_append_new(routes,
						  json_string(c->routes[i])) < 0) {
				json_decref(routes);
				routes = NULL;
			}
		if (!routes || json_object_set_new(req, "advertised_routes",
						   routes) < 0) {
			json_decref(req);
			req = NULL;
		}
	}
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (!body) {
		st = no_answer(ev, "register", WEFT_ERR_NOMEM, "");
		goto out;
	}
	rc = call(c, h, "POST", "/api/v1/register", body, CALL_TIMEOUT_MS,
		  false, &status, &j, msg, sizeof(msg));
	explicit_bzero(body, strlen(body));
	if (rc < 0) {
		st = no_answer(ev, "register", rc, msg);
		goto out;
	}
	if (status == 400 || status == 401 || status == 403) {
		ev->kind = CONTROL_FATAL;
		ev->http_status = status;
		ev->code = status == 400 ? WEFT_ERR_INVAL
			 : strcmp(error_code(j), "expired") == 0
				 ? WEFT_ERR_EXPIRED
				 : WEFT_ERR_AUTH;
		snprintf(ev->message, sizeof(ev->message),
			 "registration refused (HTTP %ld): %s", status,
			 error_message(j, "no reason given"));
		st = STEP_FATAL;
		goto out;
	}
	cred = json_string_value(json_object_get(j, "credential"));
	node_id = json_integer_value(
		json_object_get(json_object_get(j, "node"), "id"));
	if ((status != 200 && status != 201) || !cred ||
	    strlen(cred) >= sizeof(c->cred.credential) || node_id <= 0) {
		st = transient(ev, "register", status, j);
		goto out;
	}
	c->cred.node_id = node_id;
	snprintf(c->cred.credential, sizeof(c->cred.credential), "%s", cred);
	snprintf(c->cred.controller, sizeof(c->cred.controller), "%s",
		 ctlset_current(c->set));
	rc = statedir_cred_save(c->state_dir, &c->cred);
	if (rc < 0) {
		ev->kind = CONTROL_FATAL;
		ev->code = rc;
		snprintf(ev->message, sizeof(ev->message),
			 "cannot save the node credential in %s: %s",
			 c->state_dir, weft_strerror(rc));
		st = STEP_FATAL;
		goto out;
	}
	c->have_cred = true;
	/* Hand over the node without the credential: it stays here. */
	json_object_del(j, "credential");
	ev->kind = CONTROL_REGISTERED;
	ev->http_status = status;
	ev->node_id = node_id;
	ev->json = json_incref(j);
	st = STEP_OK;
out:
	json_decref(req);
	json_decref(j);
	free(body);
	return st;
}

static enum step do_endpoints(struct control *c, struct httpc *h,
			      struct control_event *ev)
{
	json_t *eps, *j = NULL, *req;
	char *body = NULL, msg[MSG_SIZE] = "";
	long status = 0;
	enum step st;
	int rc;

	char home[CONTROL_RELAY_NAME_MAX];

	pthread_mutex_lock(&c->lock);
	eps = json_incref(c->endpoints);
	memcpy(home, c->home_relay, sizeof(home));
	atomic_store(&c->ep_pending, false);
	pthread_mutex_unlock(&c->lock);
	req = json_pack("{s:O, s:s}", "endpoints", eps, "home_relay", home);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		atomic_store(&c->ep_pending, true);
		st = no_answer(ev, "endpoints", WEFT_ERR_NOMEM, "");
		goto out;
	}
	rc = call(c, h, "POST", "/api/v1/endpoints", body, CALL_TIMEOUT_MS,
		  false, &status, &j, msg, sizeof(msg));
	if (rc < 0 || status != 200)
		atomic_store(&c->ep_pending, true); /* send again later */
	if (rc < 0)
		st = no_answer(ev, "endpoints", rc, msg);
	else if (status == 401 || status == 403 || status == 410)
		st = node_refused(ev, status, j);
	else if (status != 200)
		st = transient(ev, "endpoints", status, j);
	else {
		ev->kind = CONTROL_ENDPOINTS;
		ev->http_status = status;
		ev->json = json_incref(json_object_get(j, "endpoints"));
		st = STEP_OK;
	}
out:
	json_decref(eps);
	json_decref(j);
	free(body);
	return st;
}

/* GET /healthz after a failure; CONTROL_CONTACT when it answers 200. */
static enum step contact(struct control *c, struct httpc *h,
			 struct control_event *ev)
{
	char msg[MSG_SIZE] = "";
	struct control_event ok;
	json_t *j = NULL;
	long status = 0;
	enum step st;
	int rc;

	rc = call(c, h, "GET", "/healthz", NULL, PROBE_TIMEOUT_MS, true,
		  &status, &j, msg, sizeof(msg));
	if (rc < 0)
		st = no_answer(ev, "healthz", rc, msg);
	else if (status != 200)
		st = transient(ev, "healthz", status, j);
	else {
		memset(&ok, 0, sizeof(ok));
		ok.kind = CONTROL_CONTACT;
		ok.http_status = status;
		snprintf(ok.url, sizeof(ok.url), "%s", ctlset_current(c->set));
		post(c, &ok);
		st = STEP_OK;
	}
	json_decref(j);
	return st;
}

static enum step do_poll(struct control *c, struct httpc *h, struct control_event *ev)
{
	char path[64], msg[MSG_SIZE] = "";
	json_t *j = NULL, *v;
	long status = 0;
	int64_t since;
	enum step st;
	int rc;

	if (atomic_exchange(&c->want_full, false))
		c->since = 0;
	/* After a failure (maybe on another controller now), the poll
	 * resumes from the version we hold, so what changed meanwhile comes
	 * as a delta; but a poll at the current version is held for up to a
	 * minute, so /healthz tells first that this controller answers
	 * (CONTROL_CONTACT) and the agent does not look disconnected while
	 * nothing changes. Without a map yet, since=0 is answered at once. */
	if (c->resync && c->since > 0) {
		st = contact(c, h, ev);
		if (st != STEP_OK)
			return st;
		c->resync = false;
	}
	since = c->since;
	snprintf(path, sizeof(path), "/api/v1/map?since=%lld",
		 (long long)since);
	rc = call(c, h, "GET", path, NULL, c->poll_timeout_ms, true, &status,
		  &j, msg, sizeof(msg));
	if (rc < 0) {
		st = no_answer(ev, "map", rc, msg);
		goto out;
	}
	if (status == 401 || status == 403 || status == 410) {
		st = node_refused(ev, status, j);
		goto out;
	}
	v = json_object_get(j, "version");
	if (status != 200 || !json_is_integer(v) ||
	    json_integer_value(v) < 0) {
		st = transient(ev, "map", status, j);
		goto out;
	}
	c->since = json_integer_value(v);
	ev->kind = CONTROL_MAP;
	ev->gzipped = c->last_gzip;
	ev->wire_bytes = c->last_bytes;
	ev->http_status = status;
	ev->json = json_incref(j);
	st = STEP_OK;
out:
	json_decref(j);
	return st;
}

/* Sleeps ms unless stopped first. Returns false when stopped. */
static bool pause_ms(struct control *c, int64_t ms)
{
	struct timespec ts;
	bool stopped;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->lock);
	while (!atomic_load(&c->stop) &&
	       pthread_cond_timedwait(&c->cond, &c->lock, &ts) != ETIMEDOUT)
		;
	stopped = atomic_load(&c->stop);
	pthread_mutex_unlock(&c->lock);
	return !stopped;
}

/* Does the controller answer GET /healthz with 200 now? */
static bool healthy(struct control *c, struct httpc *h)
{
	char msg[MSG_SIZE] = "";
	json_t *j = NULL;
	long status = 0;
	int rc;

	rc = call(c, h, "GET", "/healthz", NULL, PROBE_TIMEOUT_MS, false,
		  &status, &j, msg, sizeof(msg));
	json_decref(j);
	return rc == 0 && status == 200;
}

/* Waits ms before the next retry. When the controller gave no HTTP answer
 * at all (down, restarting, unreachable), probes /healthz meanwhile and
 * ends the wait as soon as it answers; an answer with an error status
 * (503 while it starts or is overloaded) waits the whole back-off.
 * Returns false when stopped. */
static bool wait_retry(struct control *c, struct httpc *h, int64_t ms, bool probe)
{
	int64_t end = clock_mono_ms() + ms;

	for (;;) {
		int64_t now = clock_mono_ms(), step;
		uint64_t r = 0;

		if (now >= end)
			return true;
		if (!probe)
			return pause_ms(c, end - now);
		step = now - c->silent_since < PROBE_FAST_FOR_MS
			       ? PROBE_MS : PROBE_SLOW_MS;
		rand_u64(&r);
		step = step - step / 4 + (int64_t)(r % (uint64_t)(step / 2 + 1));
		if (!pause_ms(c, step < end - now ? step : end - now))
			return false;
		if (clock_mono_ms() < end && healthy(c, h))
			return true;
		if (atomic_load(&c->stop))
			return false;
	}
}

static void *run(void *arg)
{
	struct control *c = arg;
	struct httpc *h = NULL;
	struct control_event ev;
	enum step st;

	if (httpc_new(c->ca_file, "weft-agent/" WEFT_VERSION, ANSWER_MAX,
		      CONNECT_TIMEOUT_MS, &h) < 0) {
		memset(&ev, 0, sizeof(ev));
		ev.kind = CONTROL_FATAL;
		ev.code = WEFT_ERR_NOMEM;
		snprintf(ev.message, sizeof(ev.message),
			 "cannot create an HTTP client");
		post(c, &ev);
		return NULL;
	}
	httpc_set_fwmark(h, c->fwmark);
	while (!atomic_load(&c->stop)) {
		memset(&ev, 0, sizeof(ev));
		snprintf(ev.url, sizeof(ev.url), "%s", ctlset_current(c->set));
		if (!c->have_cred)
			st = do_register(c, h, &ev);
		else if (atomic_load(&c->ep_pending))
			st = do_endpoints(c, h, &ev);
		else
			st = do_poll(c, h, &ev);
		if (st == STEP_STOPPED)
			break;
		if (st == STEP_AGAIN)
			continue;
		if (st == STEP_RETRY) {
			uint64_t r = 0;
			bool round;

			/* The next controller URL is tried at once (after a
			 * few jittered ms) while some has not failed since
			 * the last success; after a whole round, back off. */
			rand_u64(&r);
			round = ctlset_failed(c->set);
			ev.retry_ms = round ? state_backoff_next(&c->backoff, r)
					    : SWITCH_MS + (int64_t)(r % SWITCH_MS);
			snprintf(ev.next_url, sizeof(ev.next_url), "%s",
				 ctlset_current(c->set));
			c->resync = true;
			if (ev.http_status == 0 && c->silent_since < 0)
				c->silent_since = clock_mono_ms();
			else if (ev.http_status != 0)
				c->silent_since = -1;
			post(c, &ev);
			if (!wait_retry(c, h, ev.retry_ms,
					round && ev.http_status == 0))
				break;
			continue;
		}
		ctlset_ok(c->set);
		c->silent_since = -1;
		if (ev.kind == CONTROL_MAP) {
			state_backoff_reset(&c->backoff);
			c->resync = false;
		}
		if (!post(c, &ev) && ev.kind == CONTROL_MAP)
			c->since = 0; /* the loop never saw it: resync */
		if (st == STEP_FATAL)
			break;
	}
	httpc_del(h);
	explicit_bzero(&c->cred, sizeof(c->cred));
	return NULL;
}

/* ---- lifecycle ---- */

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

static void free_cfg(struct control *c)
{
	ctlset_del(c->set);
	free(c->ca_file);
	if (c->auth_key)
		explicit_bzero(c->auth_key, strlen(c->auth_key));
	free(c->auth_key);
	free(c->state_dir);
	free(c->public_key);
	free(c->hostname);
	for (size_t i = 0; i < c->nroutes; i++)
		free(c->routes[i]);
	free(c->routes);
}

int control_new(struct loop *l, const struct control_cfg *cfg,
		const struct statedir_cred *cred, control_cb *cb, void *ctx,
		struct control **out)
{
	struct control *c;
	pthread_condattr_t ca;
	char msg[MSG_SIZE];
	bool fail = false;
	int rc;

	if (!cfg->url || !cfg->state_dir || !cfg->public_key ||
	    !cfg->hostname || (!cred && !cfg->auth_key))
		return WEFT_ERR_INVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return WEFT_ERR_NOMEM;
	c->loop = l;
	c->cb = cb;
	c->ctx = ctx;
	c->fwmark = cfg->fwmark;
	/* The caller checked the URLs (plain http included). */
	if (ctlset_parse(cfg->url, true, NULL, &c->set, msg, sizeof(msg)) < 0)
		fail = true;
	c->ca_file = dup_or_null(cfg->ca_file, &fail);
	c->auth_key = dup_or_null(cfg->auth_key, &fail);
	c->state_dir = dup_or_null(cfg->state_dir, &fail);
	c->public_key = dup_or_null(cfg->public_key, &fail);
	c->hostname = dup_or_null(cfg->hostname, &fail);
	if (cfg->nroutes) {
		c->routes = calloc(cfg->nroutes, sizeof(*c->routes));
		fail |= !c->routes;
		for (size_t i = 0; c->routes && i < cfg->nroutes; i++) {
			c->routes[i] = dup_or_null(cfg->routes[i], &fail);
			c->nroutes = i + 1;
		}
	}
	if (fail) {
		rc = c->set ? WEFT_ERR_NOMEM : WEFT_ERR_INVAL;
		free_cfg(c);
		free(c);
		return rc;
	}
	c->silent_since = -1;
	c->poll_timeout_ms = cfg->poll_timeout_ms > 0 ? cfg->poll_timeout_ms
						      : 90000;
	state_backoff_init(&c->backoff,
			   cfg->backoff_min_ms > 0 ? cfg->backoff_min_ms : 1000,
			   cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms
						   : 30000);
	if (cred) {
		c->cred = *cred;
		c->have_cred = true;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = -pthread_create(&c->thread, NULL, run, c);
	if (rc < 0) {
		control_del(c);
		return rc;
	}
	c->started = true;
	*out = c;
	return 0;
}

int control_set_endpoints(struct control *c, const json_t *endpoints,
			  const char *home_relay)
{
	json_t *copy = json_deep_copy(endpoints);

	if (!copy)
		return WEFT_ERR_NOMEM;
	pthread_mutex_lock(&c->lock);
	json_decref(c->endpoints);
	c->endpoints = copy;
	snprintf(c->home_relay, sizeof(c->home_relay), "%s",
		 home_relay ? home_relay : "");
	atomic_store(&c->ep_pending, true);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void control_want_full(struct control *c)
{
	atomic_store(&c->want_full, true);
}

void control_del(struct control *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->stop, true);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (c->started)
		pthread_join(c->thread, NULL);
	atomic_store(&c->closing, true);
	while (atomic_load(&c->inflight) > 0)
		loop_run_once(c->loop, 0);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	json_decref(c->endpoints);
	explicit_bzero(&c->cred, sizeof(c->cred));
	free_cfg(c);
	free(c);
}
