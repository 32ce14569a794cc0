#include "agent/resolver.h"

#include "shared/dnswire.h"
#include "shared/err.h"
#include "shared/rand.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONF_TEXT_MAX 16384
#define EDNS_UDP_SIZE 1232 /* DNS flag day 2020: no fragmentation */

struct resolver {
	struct loop *loop;
	struct resolver_conf conf;
	struct resolver_query *queries; /* pending, doubly linked */
};

struct resolver_query {
	struct resolver *r;
	struct resolver_query *prev, *next;
	char name[DNSWIRE_NAME_MAX];
	uint16_t type;
	uint16_t id;
	int tries;     /* started so far */
	int last_err;  /* WEFT_ERR_TIMEOUT or WEFT_ERR_PROTO so far */
	struct loop_io *io;
	struct loop_timer *timer;
	resolver_cb *cb;
	void *ctx;
};

static void conf_defaults(struct resolver_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = 5000;
	c->attempts = 2;
}

static int clamp(long v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

static void parse_options(char *rest, struct resolver_conf *c)
{
	for (char *tok = strtok(rest, " \t"); tok; tok = strtok(NULL, " \t")) {
		if (strncmp(tok, "timeout:", 8) == 0)
			c->timeout_ms = 1000 * clamp(strtol(tok + 8, NULL, 10),
						     1, 30);
		else if (strncmp(tok, "attempts:", 9) == 0)
			c->attempts = clamp(strtol(tok + 9, NULL, 10), 1, 5);
	}
}

static void parse_line(char *line, struct resolver_conf *c)
{
	char *kw = strtok(line, " \t"), *rest = strtok(NULL, "");
	struct ip_endpoint *e;
	char *addr;

	if (!kw || !rest)
		return;
	if (strcmp(kw, "options") == 0) {
		parse_options(rest, c);
		return;
	}
	addr = strtok(rest, " \t");
	if (strcmp(kw, "nameserver") != 0 || !addr ||
	    c->n_servers == RESOLVER_SERVERS_MAX)
		return;
	e = &c->servers[c->n_servers];
	memset(e, 0, sizeof(*e));
	if (ip_addr_parse(addr, &e->addr) != 0)
		return;
	e->port = 53;
	c->n_servers++;
}

void resolver_conf_parse(const char *text, struct resolver_conf *out)
{
	char line[512];

	conf_defaults(out);
	while (*text) {
		size_t n = strcspn(text, "\n");
		size_t keep = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

		memcpy(line, text, keep);
		line[keep] = '\0';
		line[strcspn(line, "#;")] = '\0';
		parse_line(line, out);
		text += n + (text[n] == '\n');
	}
	if (out->n_servers == 0) {
		ip_addr_parse("127.0.0.1", &out->servers[0].addr);
		out->servers[0].port = 53;
		out->n_servers = 1;
	}
}

int resolver_conf_load(const char *path, struct resolver_conf *out)
{
	char *text = malloc(CONF_TEXT_MAX);
	FILE *f;
	size_t n;
	int rc = 0;

	conf_defaults(out);
	if (!text)
		return WEFT_ERR_NOMEM;
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		goto out;
	}
	n = fread(text, 1, CONF_TEXT_MAX - 1, f);
	text[n] = '\0';
	fclose(f);
	resolver_conf_parse(text, out);
out:
	free(text);
	return rc;
}

int resolver_new(struct loop *l, const struct resolver_conf *conf,
		 struct resolver **out)
{
	struct resolver *r;

	if (conf->n_servers == 0 || conf->n_servers > RESOLVER_SERVERS_MAX ||
	    conf->timeout_ms <= 0 || conf->attempts <= 0)
		return WEFT_ERR_INVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return WEFT_ERR_NOMEM;
	r->loop = l;
	r->conf = *conf;
	*out = r;
	return 0;
}

/* Unlinks q, closes its socket and timer and frees it. */
static void query_free(struct resolver_query *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		q->r->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	loop_io_close(q->io, true);
	loop_timer_del(q->timer);
	free(q);
}

void resolver_del(struct resolver *r)
{
	if (!r)
		return;
	while (r->queries)
		query_free(r->queries);
	free(r);
}

void resolver_cancel(struct resolver_query *q)
{
	query_free(q);
}

static void finish(struct resolver_query *q, int status,
		   const struct ip_addr *addrs, size_t n, uint32_t ttl)
{
	resolver_cb *cb = q->cb;
	void *ctx = q->ctx;

	query_free(q);
	cb(ctx, status, addrs, n, ttl);
}

static void on_readable(struct loop_io *io, int fd, uint32_t revents,
			void *ctx);

/* Sends the next try to the next server. Returns 0 or a negative code
 * (the query is then over with that code or the last failure). */
static int try_next(struct resolver_query *q)
{
	const struct resolver_conf *c = &q->r->conf;
	const struct ip_endpoint *srv;
	struct sockaddr_storage ss;
	uint8_t pkt[DNSWIRE_HEADER_LEN + DNSWIRE_NAME_MAX + 2 + 4 + 11];
	socklen_t sl;
	uint64_t rnd;
	int fd, n, rc;

	if (q->tries >= c->attempts * (int)c->n_servers)
		return q->last_err;
	srv = &c->servers[q->tries % c->n_servers];
	q->tries++;
	loop_io_close(q->io, true);
	q->io = NULL;
	rc = rand_u64(&rnd);
	if (rc != 0)
		return rc;
	q->id = (uint16_t)rnd;
	n = dnswire_query_build(q->id, q->name, q->type, EDNS_UDP_SIZE, false,
				pkt, sizeof(pkt));
	if (n < 0)
		return n;
	fd = socket(srv->addr.family == 4 ? AF_INET : AF_INET6,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ip_endpoint_to_sockaddr(srv, &ss, &sl);
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    send(fd, pkt, (size_t)n, 0) != n) {
		/* An unreachable server counts as one that did not answer. */
		close(fd);
		loop_timer_start(q->timer, 0);
		return 0;
	}
	rc = loop_io_add(q->r->loop, fd, LOOP_READ, on_readable, q, &q->io);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	loop_timer_start(q->timer, (int64_t)c->timeout_ms * 1000);
	return 0;
}

static void advance(struct resolver_query *q)
{
	int rc = try_next(q);

	if (rc != 0)
		finish(q, rc, NULL, 0, 0);
}

static void on_timeout(struct loop_timer *t, void *ctx)
{
	struct resolver_query *q = ctx;

	(void)t;
	advance(q);
}

/* Handles one datagram; returns true when the query is over. */
static bool handle(struct resolver_query *q, const uint8_t *p, size_t n)
{
	struct ip_addr addrs[RESOLVER_ADDRS_MAX];
	struct dns_msg *m = malloc(sizeof(*m));
	uint32_t ttl = 0;
	size_t got;
	bool over = true;

	if (!m) {
		finish(q, WEFT_ERR_NOMEM, NULL, 0, 0);
		return true;
	}
	if (dnswire_parse(p, n, m) != 0 || !m->qr || m->id != q->id ||
	    m->n_questions != 1 || m->questions[0].type != q->type ||
	    strcmp(m->questions[0].name, q->name) != 0) {
		/* Malformed or not ours: a spoofed or stale answer. */
		free(m);
		return false;
	}
	if (m->rcode == DNS_RCODE_NXDOMAIN) {
		finish(q, WEFT_ERR_NOTFOUND, NULL, 0, 0);
	} else if (m->rcode != DNS_RCODE_NOERROR || m->tc) {
		q->last_err = WEFT_ERR_PROTO;
		loop_timer_start(q->timer, 0);
		over = false;
	} else {
		got = dnswire_answer_addrs(m, q->name, q->type, addrs,
					   RESOLVER_ADDRS_MAX, &ttl);
		finish(q, got ? 0 : WEFT_ERR_NOTFOUND, addrs, got, ttl);
	}
	free(m);
	return over;
}

static void on_readable(struct loop_io *io, int fd, uint32_t revents,
			void *ctx)
{
	struct resolver_query *q = ctx;
	uint8_t buf[4096];

	(void)io;
	(void)revents;
	for (int i = 0; i < 8; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == ECONNREFUSED) {
				/* ICMP port unreachable: try the next one now. */
				loop_timer_start(q->timer, 0);
			}
			return;
		}
		if (handle(q, buf, (size_t)n))
			return;
	}
}

int resolver_query(struct resolver *r, const char *name, uint16_t type,
		   resolver_cb *cb, void *ctx, struct resolver_query **out)
{
	struct resolver_query *q;
	int rc;

	if ((type != DNS_TYPE_A && type != DNS_TYPE_AAAA) || name[0] == '\0' ||
	    !dnswire_name_valid(name))
		return WEFT_ERR_INVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return WEFT_ERR_NOMEM;
	rc = loop_timer_new(r->loop, on_timeout, q, &q->timer);
	if (rc != 0) {
		free(q);
		return rc;
	}
	q->r = r;
	for (size_t i = 0; name[i]; i++)
		q->name[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ?
					    name[i] + 32 : name[i]);
	q->type = type;
	q->cb = cb;
	q->ctx = ctx;
	q->last_err = WEFT_ERR_TIMEOUT;
	q->next = r->queries;
	if (r->queries)
		r->queries->prev = q;
	r->queries = q;
	/* The first try goes out from the loop, so cb never runs inside
	 * this call. */
	loop_timer_start(q->timer, 0);
	if (out)
		*out = q;
	return 0;
}
