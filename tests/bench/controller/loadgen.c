/* The controller scale benchmark's load program (issue 4).
 *
 * Against a running weft-controller on 127.0.0.1 it:
 *   1. creates users u0..u(G-1), one reusable auth key each, and a policy
 *      where group gN = {uN} reaches gN and g(N+1) (wrapping);
 *   2. registers N nodes with C concurrent clients (registrations/s);
 *   3. opens one long-poll per node on raw non-blocking sockets (epoll):
 *      the first answer is the full map, then every node polls again with
 *      the version it has until all are held (none answered for 2 s);
 *   4. changes one node (POST /api/v1/endpoints) and times the answer of
 *      every held poll, with the controller's CPU time (/proc/PID/stat);
 *   5. edits the policy (one rule more, touching every node's filter) and
 *      times the fan-out to every held poll;
 *   6. closes the polls and holds them again, reading VmRSS before and
 *      after (memory per held poll);
 *   7. times GET /api/v1/nodes?limit=1000 and a walk over every page while
 *      the polls are held.
 * It prints one summary block.
 *
 * The polls ask for gzip as weft-agent does (--gzip 1, the default; run.sh:
 * BENCH_GZIP); only the start of a compressed answer is inflated, for its
 * version, and the map sizes printed are those on the wire.
 *
 * A benchmark, not a test: it is built and run by run.sh, never by ctest.
 * Answered polls are not re-issued while a fan-out is being timed, so every
 * latency is that of the first answer after the change. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <zlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lghttp.h"

#define FD_WANT 20000
#define OPENING_MAX 256       /* polls connecting or sending at once */
#define FIRST_MAX 64          /* first polls (full maps) in flight at once */
#define QUIET_MS 2000         /* "held" = no answer for this long */
#define SETTLE_MAX_MS 420000
#define FANOUT_WAIT_MS 60000
#define LIST_SAMPLES 50
#define CHANGED_NODE 4242     /* index of the node that changes (< N) */

struct opts {
	int port;
	int pid;
	int nodes;
	int groups;
	int conc;
	const char *admin;
	const char *label;
	int gzip;    /* map polls send Accept-Encoding: gzip */
	int replica_port; /* odd nodes poll this replica (0 = none) */
};

/* --- small helpers --- */

/* --- the benchmark state --- */

struct node {
	char cred[160];
	int64_t id;
	int64_t since;
};

enum pstate { P_IDLE, P_CONNECTING, P_SENDING, P_WAITING };

/* One long-poll connection of one node. */
struct pconn {
	int fd;
	enum pstate state;
	bool queued;
	char req[512];
	size_t req_len, req_off;
	char *rbuf;
	size_t rlen, rcap;
	int64_t sent_us;
	unsigned ans_epoch; /* epoch of its last answer */
	int64_t ans_us;
	int ans_status;
	bool first;         /* since=0: a full map is on its way */
};

struct bench {
	struct opts o;
	struct node *nodes;
	char (*keys)[160]; /* auth key per group */
	int64_t *user_ids;

	/* registration workers */
	pthread_mutex_t lock;
	int next;
	double *reg_ms;

	/* the poller */
	int ep;
	struct pconn *pc;
	int *queue; /* node indices whose poll should be (re)started */
	size_t nqueue;
	int opening;  /* polls connecting or sending */
	int waiting;  /* polls sent and not yet answered */
	int firsts;   /* first polls in flight */
	int fresh;    /* next node whose first poll is still to start */
	double first_bytes; /* sum of the first answers' sizes */
	bool repoll;  /* re-issue answered polls at once */
	unsigned epoch;
	int64_t last_answer_us;
	uint64_t answers, errors, reconnects;
};

static void queue_poll(struct bench *b, int i)
{
	if (b->pc[i].queued)
		return;
	b->pc[i].queued = true;
	b->queue[b->nqueue++] = i;
}

static void ep_set(struct bench *b, int i, uint32_t ev, int op)
{
	struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)i};

	if (epoll_ctl(b->ep, op, b->pc[i].fd, &e) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void pc_close(struct bench *b, int i)
{
	struct pconn *p = &b->pc[i];

	if (p->fd >= 0)
		close(p->fd); /* also leaves the epoll set */
	if (p->state == P_CONNECTING || p->state == P_SENDING)
		b->opening--;
	else if (p->state == P_WAITING)
		b->waiting--;
	if (p->first)
		b->firsts--;
	p->first = false;
	p->fd = -1;
	p->state = P_IDLE;
	p->rlen = 0;
}

/* Starts node i's poll with since = its known version, on its open
 * connection when it has one. */
static void pc_start(struct bench *b, int i)
{
	struct pconn *p = &b->pc[i];
	char path[96];
	int n;

	snprintf(path, sizeof(path), "/api/v1/map?since=%" PRId64,
		 b->nodes[i].since);
	n = fmt_request(p->req, sizeof(p->req), "GET", path, b->nodes[i].cred,
			NULL, b->o.gzip);
	if (n < 0)
		die("request too long");
	p->req_len = (size_t)n;
	p->req_off = 0;
	p->rlen = 0;
	p->first = b->nodes[i].since == 0;
	b->firsts += p->first;
	b->opening++;
	if (p->fd >= 0) {
		p->state = P_SENDING;
		ep_set(b, i, EPOLLOUT, EPOLL_CTL_MOD);
		return;
	}
	p->fd = connect_local(b->o.replica_port && i % 2 ? b->o.replica_port
							: b->o.port, true);
	if (p->fd < 0)
		die("connect: %s", strerror(-p->fd));
	p->state = P_CONNECTING;
	ep_set(b, i, EPOLLOUT, EPOLL_CTL_ADD);
}

/* The first bytes of a gzip body, NUL-terminated, in out ("" when it
 * does not inflate). Enough for map_version. */
static void gunzip_head(const char *body, size_t len, char *out, size_t cap)
{
	z_stream z = {0};

	out[0] = '\0';
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return;
	z.next_in = (Bytef *)(uintptr_t)body;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)(cap - 1);
	inflate(&z, Z_SYNC_FLUSH);
	out[cap - 1 - z.avail_out] = '\0';
	inflateEnd(&z);
}

static void on_answer(struct bench *b, int i, int status, const char *body,
		      size_t len, bool gz)
{
	struct pconn *p = &b->pc[i];
	int64_t t = now_us();
	char head[64];

	b->waiting--;
	b->answers++;
	b->last_answer_us = t;
	p->ans_epoch = b->epoch;
	p->ans_us = t;
	p->ans_status = status;
	p->state = P_IDLE;
	if (p->first) {
		b->firsts--;
		b->first_bytes += (double)len;
		p->first = false;
	}
	if (gz) {
		gunzip_head(body, len, head, sizeof(head));
		body = head;
	}
	if (status == 200) {
		int64_t v = map_version(body);

		if (v > 0)
			b->nodes[i].since = v;
	} else {
		b->errors++;
		if (b->errors <= 5)
			fprintf(stderr, "loadgen: poll of node %d: %d %.200s\n",
				i, status, body);
	}
	if (b->repoll)
		queue_poll(b, i);
}

static void pc_event(struct bench *b, int i, uint32_t ev)
{
	struct pconn *p = &b->pc[i];

	if (p->state == P_CONNECTING || p->state == P_SENDING) {
		ssize_t w;

		if (p->state == P_CONNECTING) {
			int err = 0;
			socklen_t len = sizeof(err);

			getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err)
				die("connect: %s", strerror(err));
			p->state = P_SENDING;
		}
		w = send(p->fd, p->req + p->req_off, p->req_len - p->req_off,
			 MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w < 0)
			goto broken;
		p->req_off += (size_t)w;
		if (p->req_off < p->req_len)
			return;
		p->state = P_WAITING;
		p->sent_us = now_us();
		b->opening--;
		b->waiting++;
		ep_set(b, i, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
		return;
	}
	if (p->state == P_IDLE) {
		/* The server closed an idle keep-alive connection. */
		close(p->fd);
		p->fd = -1;
		return;
	}
	for (;;) {
		size_t boff = 0, total = 0;
		bool close_after = false, gz = false;
		int status = 0, r;
		ssize_t n;

		if (p->rcap - p->rlen < 16384) {
			size_t cap = p->rcap ? p->rcap * 2 : 32768;
			char *nb = realloc(p->rbuf, cap);

			if (!nb || cap > RESP_MAX)
				die("poll answer too large");
			p->rbuf = nb;
			p->rcap = cap;
		}
		n = recv(p->fd, p->rbuf + p->rlen, p->rcap - p->rlen - 1, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			goto broken;
		p->rlen += (size_t)n;
		r = http_parse(p->rbuf, p->rlen, &status, &boff, &total,
			       &close_after, &gz);
		if (r == 0)
			continue;
		if (r < 0)
			die("poll of node %d: bad answer", i);
		p->rbuf[total] = '\0';
		on_answer(b, i, status, p->rbuf + boff, total - boff, gz);
		p->rlen = 0;
		if (close_after) {
			close(p->fd);
			p->fd = -1;
		} else {
			ep_set(b, i, EPOLLRDHUP, EPOLL_CTL_MOD);
		}
		return;
	}
broken:
	/* Closed by the server: an idle keep-alive connection timing out, or
	 * a poll lost. Both are counted; the poll is started again. */
	(void)ev;
	if (p->state == P_WAITING)
		b->errors++;
	b->reconnects++;
	pc_close(b, i);
	queue_poll(b, i);
}

/* Runs the poller for up to ms milliseconds (or once when ms is 0). */
static void pump(struct bench *b, int ms)
{
	struct epoll_event ev[512];
	int64_t until = now_us() + (int64_t)ms * 1000;

	do {
		int n, wait;

		while (b->nqueue && b->opening < OPENING_MAX) {
			int i = b->queue[--b->nqueue];

			b->pc[i].queued = false;
			pc_start(b, i);
		}
		/* Nodes that never polled start with since=0, a few at a time:
		 * their answers are full maps. */
		while (b->repoll && b->fresh < b->o.nodes &&
		       b->firsts < FIRST_MAX && b->opening < OPENING_MAX) {
			int i = b->fresh++;

			if (b->pc[i].state == P_IDLE && !b->pc[i].queued &&
			    b->nodes[i].since == 0)
				pc_start(b, i);
		}
		wait = (int)((until - now_us()) / 1000);
		n = epoll_wait(b->ep, ev, 512, wait > 0 ? (wait < 50 ? wait : 50) : 0);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int k = 0; k < n; k++)
			pc_event(b, (int)ev[k].data.u32, ev[k].events);
	} while (now_us() < until);
}

/* Re-issues polls until every node has one sent and none was answered for
 * QUIET_MS. Returns the time it took in ms. */
static double settle(struct bench *b)
{
	int64_t t0 = now_us(), report = t0;

	b->repoll = true;
	b->fresh = 0;
	for (int i = 0; i < b->o.nodes; i++)
		if (b->pc[i].state == P_IDLE && b->nodes[i].since > 0)
			queue_poll(b, i);
	b->last_answer_us = now_us();
	for (;;) {
		pump(b, 100);
		if (now_us() - report >= 15000000) {
			report = now_us();
			fprintf(stderr, "  %3.0f s: %d first polls started, %d held, "
				"%" PRIu64 " answers so far\n",
				(double)(report - t0) / 1e6, b->fresh, b->waiting,
				b->answers);
		}
		if (b->nqueue == 0 && b->opening == 0 &&
		    b->fresh >= b->o.nodes &&
		    b->waiting == b->o.nodes &&
		    now_us() - b->last_answer_us >= QUIET_MS * 1000)
			break;
		if (now_us() - t0 > SETTLE_MAX_MS * 1000LL)
			die("polls did not settle within %d s (waiting %d of %d)",
			    SETTLE_MAX_MS / 1000, b->waiting, b->o.nodes);
	}
	b->repoll = false;
	return (double)(now_us() - t0) / 1000.0;
}

/* --- the change requests, sent from a helper thread so the poller keeps
 * reading answers while the request is in flight --- */

struct change {
	int port;
	const char *method, *path, *token;
	char *body;
	int status;
	double ms;
	pthread_t th;
};

static void *change_main(void *arg)
{
	struct change *c = arg;
	const char *resp;
	struct hc hc;
	int64_t t = now_us();

	hc_init(&hc, c->port);
	if (hc_call(&hc, c->method, c->path, c->token, c->body, &c->status,
		    &resp) < 0)
		c->status = -1;
	c->ms = (double)(now_us() - t) / 1000.0;
	hc_free(&hc);
	return NULL;
}

struct fanout {
	size_t answered, expected_hit, other;
	double p50, p99, max, cpu_ms, api_ms;
	/* With a replica: polls on the replica that took the change (even
	 * nodes) and on the other one (odd nodes). */
	double p50_w, p99_w, p50_o, p99_o;
	int status;
};

/* p50 and p99 of the latencies of polls i with i % 2 == odd. */
static void split_quantiles(const struct bench *b, const double *by_node,
			    int odd, double *p50, double *p99)
{
	double *v = xcalloc((size_t)b->o.nodes, sizeof(*v));
	size_t n = 0;

	for (int i = odd; i < b->o.nodes; i += 2)
		if (!isnan(by_node[i]))
			v[n++] = by_node[i];
	*p50 = quantile(v, n, 0.50);
	*p99 = quantile(v, n, 0.99);
	free(v);
}

/* Sends the change and times the first answer of every held poll after
 * it, until `expect` polls answered or nothing more came for QUIET_MS.
 * affected (may be NULL) flags the polls the change should answer. */
static void measure(struct bench *b, struct change *c, const bool *affected,
		    size_t expect, struct fanout *f)
{
	double *lat = xcalloc((size_t)b->o.nodes, sizeof(*lat));
	double *by_node = xcalloc((size_t)b->o.nodes, sizeof(*by_node));
	uint64_t answers0 = b->answers;
	double cpu0;
	int64_t t0, last;
	size_t n = 0;

	memset(f, 0, sizeof(*f));
	b->repoll = false;
	b->epoch++;
	cpu0 = cpu_ms(b->o.pid);
	t0 = now_us();
	if (pthread_create(&c->th, NULL, change_main, c) != 0)
		die("pthread_create");
	last = t0;
	for (;;) {
		uint64_t before = b->answers;

		pump(b, 20);
		if (b->answers != before)
			last = now_us();
		/* Every expected poll answered: wait only for strays. */
		if (expect && b->answers - answers0 >= expect &&
		    now_us() - last >= 200 * 1000LL)
			break;
		/* Some answered, then nothing for QUIET_MS: done. A change
		 * may take long before its first answer (a policy edit
		 * recomputes every node first), so no answer at all is
		 * waited for up to FANOUT_WAIT_MS. */
		if (b->answers != answers0 &&
		    now_us() - last >= QUIET_MS * 1000LL)
			break;
		if (now_us() - t0 >= FANOUT_WAIT_MS * 1000LL)
			break;
	}
	pthread_join(c->th, NULL);
	f->cpu_ms = cpu_ms(b->o.pid) - cpu0;
	f->api_ms = c->ms;
	f->status = c->status;
	for (int i = 0; i < b->o.nodes; i++) {
		struct pconn *p = &b->pc[i];

		by_node[i] = NAN;
		if (p->ans_epoch != b->epoch)
			continue;
		by_node[i] = lat[n++] = (double)(p->ans_us - t0) / 1000.0;
		if (!affected || affected[i])
			f->expected_hit++;
		else
			f->other++;
	}
	f->answered = n;
	f->p50 = quantile(lat, n, 0.50);
	f->p99 = quantile(lat, n, 0.99);
	f->max = n ? lat[n - 1] : NAN;
	split_quantiles(b, by_node, 0, &f->p50_w, &f->p99_w);
	split_quantiles(b, by_node, 1, &f->p50_o, &f->p99_o);
	free(by_node);
	free(lat);
}

/* --- setup and registration --- */

static void setup(struct bench *b, struct hc *hc)
{
	int G = b->o.groups;

	b->keys = xcalloc((size_t)G, sizeof(*b->keys));
	b->user_ids = xcalloc((size_t)G, sizeof(*b->user_ids));
	for (int g = 0; g < G; g++) {
		char name[32];
		json_t *u, *k;

		snprintf(name, sizeof(name), "u%d", g);
		u = hc_json(hc, "POST", "/api/v1/users", b->o.admin,
			    json_pack("{ss}", "name", name), 201);
		b->user_ids[g] = json_integer_value(json_object_get(u, "id"));
		json_decref(u);
		k = hc_json(hc, "POST", "/api/v1/auth-keys", b->o.admin,
			    json_pack("{sI sb ss}", "user_id",
				      (json_int_t)b->user_ids[g], "reusable", 1,
				      "expires_in", "24h"),
			    201);
		snprintf(b->keys[g], sizeof(b->keys[g]), "%s",
			 json_string_value(json_object_get(k, "key")));
		json_decref(k);
	}
}

/* The policy: group gN = {uN}; gN reaches gN and g(N+1). extra adds one
 * rule that gives every node a new filter entry and no new peer. */
static json_t *policy(int G, bool extra)
{
	json_t *groups = json_object(), *acls = json_array();

	for (int g = 0; g < G; g++) {
		char gn[32], user[32], d1[40], d2[40];

		snprintf(gn, sizeof(gn), "group:g%d", g);
		snprintf(user, sizeof(user), "u%d", g);
		snprintf(d1, sizeof(d1), "group:g%d:*", g);
		snprintf(d2, sizeof(d2), "group:g%d:*", (g + 1) % G);
		json_object_set_new(groups, gn, json_pack("[s]", user));
		json_array_append_new(acls,
				      json_pack("{ss s[s] s[ss]}", "action",
						"accept", "src", gn, "dst", d1,
						d2));
	}
	if (extra)
		json_array_append_new(acls,
				      json_pack("{ss ss s[s] s[s]}", "action",
						"accept", "proto", "tcp", "src",
						"10.0.0.0/8", "dst", "*:22"));
	return json_pack("{so so}", "groups", groups, "acls", acls);
}

static void base64(const unsigned char *in, size_t n, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 |
			     (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int next_index(struct bench *b)
{
	int i;

	pthread_mutex_lock(&b->lock);
	i = b->next < b->o.nodes ? b->next++ : -1;
	pthread_mutex_unlock(&b->lock);
	return i;
}

static void *register_main(void *arg)
{
	struct bench *b = arg;
	struct hc hc;
	int i;

	hc_init(&hc, b->o.port);
	while ((i = next_index(b)) >= 0) {
		unsigned char pk[32] = "weft-bench-node-public-key-";
		char pk64[64], host[32];
		int64_t t = now_us();
		json_t *r;

		pk[28] = (unsigned char)(i >> 24);
		pk[29] = (unsigned char)(i >> 16);
		pk[30] = (unsigned char)(i >> 8);
		pk[31] = (unsigned char)i;
		base64(pk, sizeof(pk), pk64);
		snprintf(host, sizeof(host), "n%d", i);
		r = hc_json(&hc, "POST", "/api/v1/register", NULL,
			    json_pack("{ss ss ss ss ss}", "auth_key",
				      b->keys[i % b->o.groups], "public_key",
				      pk64, "hostname", host, "os", "linux",
				      "version", "bench"),
			    201);
		b->reg_ms[i] = (double)(now_us() - t) / 1000.0;
		snprintf(b->nodes[i].cred, sizeof(b->nodes[i].cred), "%s",
			 json_string_value(json_object_get(r, "credential")));
		b->nodes[i].id = json_integer_value(
			json_object_get(json_object_get(r, "node"), "id"));
		json_decref(r);
	}
	hc_free(&hc);
	return NULL;
}

static double run_workers(struct bench *b, void *(*fn)(void *))
{
	pthread_t th[64];
	int64_t t0 = now_us();

	b->next = 0;
	for (int k = 0; k < b->o.conc; k++)
		if (pthread_create(&th[k], NULL, fn, b) != 0)
			die("pthread_create");
	for (int k = 0; k < b->o.conc; k++)
		pthread_join(th[k], NULL);
	return (double)(now_us() - t0) / 1e6;
}

/* --- node listing --- */

static void list_nodes(struct bench *b, struct hc *hc, double *p50,
		       double *p99, double *walk_ms, int *pages, int *items)
{
	double lat[LIST_SAMPLES];
	char path[128], cursor[32] = "";
	int64_t t0;

	for (int k = 0; k < LIST_SAMPLES; k++) {
		int64_t t = now_us();
		json_t *j = hc_json(hc, "GET", "/api/v1/nodes?limit=1000",
				    b->o.admin, NULL, 200);

		lat[k] = (double)(now_us() - t) / 1000.0;
		if (json_array_size(json_object_get(j, "items")) != 1000)
			die("a page of nodes does not hold 1000 items");
		json_decref(j);
	}
	*p50 = quantile(lat, LIST_SAMPLES, 0.50);
	*p99 = quantile(lat, LIST_SAMPLES, 0.99);
	*pages = *items = 0;
	t0 = now_us();
	for (;;) {
		json_t *j, *next;
		bool more;

		snprintf(path, sizeof(path), "/api/v1/nodes?limit=1000%s%s",
			 cursor[0] ? "&cursor=" : "", cursor);
		j = hc_json(hc, "GET", path, b->o.admin, NULL, 200);
		(*pages)++;
		*items += (int)json_array_size(json_object_get(j, "items"));
		next = json_object_get(j, "next_cursor");
		more = json_is_string(next);
		if (more)
			snprintf(cursor, sizeof(cursor), "%s",
				 json_string_value(next));
		json_decref(j);
		if (!more)
			break;
	}
	*walk_ms = (double)(now_us() - t0) / 1000.0;
}

/* --- main --- */

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen --port P --pid PID --admin-key KEY [--nodes N]\n"
		"               [--groups G] [--concurrency C] [--label NAME]\n"
		"               [--gzip 0|1] [--replica-port P2]\n");
	exit(2);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.nodes = 10000, .groups = 100, .conc = 32,
			   .label = "controller", .gzip = 1};
	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(argv[i], "--port") == 0)
			o->port = atoi(v);
		else if (strcmp(argv[i], "--pid") == 0)
			o->pid = atoi(v);
		else if (strcmp(argv[i], "--admin-key") == 0)
			o->admin = v;
		else if (strcmp(argv[i], "--nodes") == 0)
			o->nodes = atoi(v);
		else if (strcmp(argv[i], "--groups") == 0)
			o->groups = atoi(v);
		else if (strcmp(argv[i], "--concurrency") == 0)
			o->conc = atoi(v);
		else if (strcmp(argv[i], "--label") == 0)
			o->label = v;
		else if (strcmp(argv[i], "--gzip") == 0)
			o->gzip = atoi(v);
		else if (strcmp(argv[i], "--replica-port") == 0)
			o->replica_port = atoi(v);
		else
			usage();
	}
	if (o->port <= 0 || o->pid <= 0 || !o->admin || o->groups < 2 ||
	    o->nodes < o->groups ||
	    o->conc < 1 || o->conc > 64)
		usage();
}

static void raise_fd_limit(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < (rlim_t)want) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max
							 : (rlim_t)want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < (rlim_t)want)
		die("need %d file descriptors (ulimit -n), have %llu", want,
		    (unsigned long long)rl.rlim_cur);
}

/* With a replica: fan-out of each change to the polls on the replica that
 * took the write and to those on the other one. */
static void print_replicas(const struct fanout *f1, const struct fanout *f2)
{
	printf("replicas            the change went to A; even nodes poll A, "
	       "odd nodes poll B\n");
	printf("  one node change   A p50 %6.1f ms p99 %6.1f ms   B p50 %6.1f ms "
	       "p99 %6.1f ms   B adds %.1f ms at p99 (target <= 100 ms: %s)\n",
	       f1->p50_w, f1->p99_w, f1->p50_o, f1->p99_o,
	       f1->p99_o - f1->p99_w,
	       f1->p99_o - f1->p99_w <= 100.0 ? "met" : "MISSED");
	printf("  policy edit       A p50 %6.1f ms p99 %6.1f ms   B p50 %6.1f ms "
	       "p99 %6.1f ms\n",
	       f2->p50_w, f2->p99_w, f2->p50_o, f2->p99_o);
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	struct hc hc;
	struct change one = {0}, pol = {0};
	struct fanout f1, f2;
	bool *affected;
	size_t naffected = 0;
	double reg_s, open_ms, settle_ms, list_p50, list_p99, walk_ms;
	double reg_p50, reg_p99, map_kb;
	long rss0, rss1, rss2, rss3;
	int pages, items, G, N, x, gx, held;
	json_t *pj;
	char *ptext;

	parse_args(argc, argv, &b.o);
	raise_fd_limit(b.o.nodes + 1000);
	N = b.o.nodes;
	G = b.o.groups;
	pthread_mutex_init(&b.lock, NULL);
	b.nodes = xcalloc((size_t)N, sizeof(*b.nodes));
	b.reg_ms = xcalloc((size_t)N, sizeof(*b.reg_ms));
	hc_init(&hc, b.o.port);

	fprintf(stderr, "[%s] users, auth keys, policy\n", b.o.label);
	setup(&b, &hc);
	pj = policy(G, false);
	json_decref(hc_json(&hc, "PUT", "/api/v1/policy", b.o.admin, pj, 200));

	fprintf(stderr, "[%s] registering %d nodes, concurrency %d\n",
		b.o.label, N, b.o.conc);
	reg_s = run_workers(&b, register_main);
	reg_p50 = quantile(b.reg_ms, (size_t)N, 0.50);
	reg_p99 = quantile(b.reg_ms, (size_t)N, 0.99);

	/* Expected peers of the changed node x in group gx: the nodes of
	 * g(x-1), gx and g(x+1) but x. */
	x = CHANGED_NODE < N ? CHANGED_NODE : N / 2;
	gx = x % G;
	affected = xcalloc((size_t)N, sizeof(*affected));
	for (int i = 0; i < N; i++) {
		int g = i % G;

		if (i != x && (g == gx || g == (gx + 1) % G ||
			       g == (gx + G - 1) % G)) {
			affected[i] = true;
			naffected++;
		}
	}

	/* The poller. */
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	if (b.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	b.pc = xcalloc((size_t)N, sizeof(*b.pc));
	b.queue = xcalloc((size_t)N, sizeof(*b.queue));
	for (int i = 0; i < N; i++)
		b.pc[i].fd = -1;

	fprintf(stderr, "[%s] %.0f registrations/s; opening %d long-polls "
		"(first a full map, then held)\n", b.o.label, N / reg_s, N);
	rss0 = rss_kb(b.o.pid);
	open_ms = settle(&b);
	rss1 = rss_kb(b.o.pid);
	map_kb = b.first_bytes / N / 1024.0;
	fprintf(stderr, "[%s] %d polls held after %.1f s\n", b.o.label,
		b.waiting, open_ms / 1000.0);

	fprintf(stderr, "[%s] one node changes its endpoints\n", b.o.label);
	one = (struct change){.port = b.o.port, .method = "POST",
			      .path = "/api/v1/endpoints",
			      .token = b.nodes[x].cred,
			      .body = strdup("{\"endpoints\":[\"192.0.2.10:41641\","
					     "\"198.51.100.20:41641\"]}")};
	measure(&b, &one, affected, naffected, &f1);
	free(one.body);
	if (f1.status != 200)
		die("POST /api/v1/endpoints: status %d", f1.status);
	settle(&b);

	fprintf(stderr, "[%s] policy edit touching every node\n", b.o.label);
	json_decref(pj);
	pj = policy(G, true);
	ptext = json_dumps(pj, JSON_COMPACT);
	pol = (struct change){.port = b.o.port, .method = "PUT",
			      .path = "/api/v1/policy", .token = b.o.admin,
			      .body = ptext};
	measure(&b, &pol, NULL, (size_t)N, &f2);
	if (f2.status != 200)
		die("PUT /api/v1/policy: status %d", f2.status);
	free(ptext);
	json_decref(pj);

	/* The RSS growth from before the first poll to all held (above)
	 * also holds what the allocator kept from rendering 10k full maps.
	 * Closing every (answered) poll and holding them again shows the
	 * other side: memory the closed polls freed, reused. */
	for (int i = 0; i < N; i++)
		if (b.pc[i].state == P_IDLE) /* a closed held poll stays held */
			pc_close(&b, i);
	pump(&b, QUIET_MS);
	rss2 = rss_kb(b.o.pid);
	fprintf(stderr, "[%s] holding %d polls again\n", b.o.label, N);
	settle_ms = settle(&b);
	held = b.waiting;
	rss3 = rss_kb(b.o.pid);

	fprintf(stderr, "[%s] listing nodes (polls held)\n", b.o.label);
	list_nodes(&b, &hc, &list_p50, &list_p99, &walk_ms, &pages, &items);

	printf("\n=== weft-controller scale benchmark: %s ===\n", b.o.label);
	printf("nodes %d in %d groups (each node sees %zu peers), %d users\n",
	       N, G, naffected, G);
	printf("register            %8.0f nodes/s   (%d in %.1f s, concurrency %d; "
	       "p50 %.1f ms, p99 %.1f ms)\n",
	       N / reg_s, N, reg_s, b.o.conc, reg_p50, reg_p99);
	printf("GET /nodes?limit=1000 p50 %6.1f ms   p99 %6.1f ms   (%d samples, "
	       "polls held)\n",
	       list_p50, list_p99, LIST_SAMPLES);
	printf("walk all pages      %8.1f ms      (%d pages, %d nodes)\n",
	       walk_ms, pages, items);
	printf("open all polls      %8.1f s       (first full map avg %.1f KB "
	       "%s, then held; every node going online wakes its peers)\n",
	       open_ms / 1000.0, map_kb, b.o.gzip ? "gzip" : "identity");
	printf("held polls          %8d          (none answered for %d ms; "
	       "re-held in %.1f s)\n",
	       held, QUIET_MS, settle_ms / 1000.0);
	printf("RSS per held poll   %8.1f KB      (VmRSS %ld KB before the "
	       "first poll -> %ld KB all held)   "
	       "target <= 16 KB: %s\n",
	       (double)(rss1 - rss0) / N, rss0, rss1,
	       (double)(rss1 - rss0) / N <= 16.0 ? "met" : "MISSED");
	printf("  closed, re-held   %8.1f KB      (VmRSS %ld -> %ld KB)\n",
	       (double)(rss3 - rss2) / N, rss2, rss3);
	printf("one node change     answered %zu (%zu of %zu peers, %zu others); "
	       "API %.1f ms\n",
	       f1.answered, f1.expected_hit, naffected, f1.other, f1.api_ms);
	printf("  fan-out           p50 %6.1f ms   p99 %6.1f ms   max %6.1f ms   "
	       "target p99 <= 500 ms: %s\n",
	       f1.p50, f1.p99, f1.max,
	       f1.expected_hit == naffected && f1.p99 <= 500.0 ? "met"
							      : "MISSED");
	printf("  controller CPU    %8.0f ms\n", f1.cpu_ms);
	printf("policy edit         answered %zu of %d held polls; API %.1f ms\n",
	       f2.answered, N, f2.api_ms);
	printf("  fan-out           p50 %6.1f ms   p99 %6.1f ms   max %6.1f ms   "
	       "target p99 <= 300 ms: %s\n",
	       f2.p50, f2.p99, f2.max,
	       f2.answered == (size_t)N && f2.p99 <= 300.0 ? "met" : "MISSED");
	printf("  controller CPU    %8.0f ms\n", f2.cpu_ms);
	if (b.o.replica_port)
		print_replicas(&f1, &f2);
	printf("poll errors %" PRIu64 ", reconnects %" PRIu64 "\n", b.errors,
	       b.reconnects);
	fflush(stdout);

	/* Leave the held polls to the controller's shutdown (it answers them
	 * before it stops). */
	hc_free(&hc);
	return 0;
}
