/* Stream-mode port forwards: see streamfwd.h. */
#include "agent/streamfwd.h"

#include "agent/daemon.h"
#include "agent/listenpause.h"
#include "agent/map.h"
#include "agent/streamcount.h"
#include "agent/streams.h"
#include "agent/streamsocks.h"
#include "agent/streamtarget.h"
#include "agent/view.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct listener {
	struct streamfwd *f;
	struct listener *next;
	struct streamfwd_spec spec;
	char listen[IP_ENDPOINT_STRLEN];  /* spec.listen as text */
	char target[STREAMHDR_HOST_MAX + 9]; /* as given: NODE:PORT */
	bool is_static;                   /* from --forward */
	struct loop_io *io;
	struct listenpause *pause;
	struct streamcount *counts;
};

struct streamfwd {
	struct streamsocks *socks; /* --socks5, or NULL */
	struct streamsocks *http;  /* --http-proxy, or NULL */
	struct loop *loop;
	struct streams *s;
	const struct map *m;
	struct listener *all; /* in the order they were added */
	uint64_t gone_pauses; /* of removed listeners */
	const struct resclient *res;
};

int streamfwd_parse(const char *s, struct streamfwd_spec *out, char *err,
		    size_t errlen)
{
	const char *eq = strchr(s, '='), *colon, *host;
	char left[64];
	size_t hlen;
	char *end;
	long port;

	memset(out, 0, sizeof(*out));
	if (!eq || (size_t)(eq - s) >= sizeof(left)) {
		snprintf(err, errlen, "--forward %s: want LISTEN=TARGET, like "
			 "127.0.0.1:5432=db:5432", s);
		return WEFT_ERR_PARSE;
	}
	memcpy(left, s, (size_t)(eq - s));
	left[eq - s] = '\0';
	if (ip_endpoint_parse(left, &out->listen) < 0) {
		snprintf(err, errlen, "--forward %s: %s is not ADDRESS:PORT",
			 s, left);
		return WEFT_ERR_PARSE;
	}
	host = eq + 1;
	colon = strrchr(host, ':');
	if (!colon) {
		snprintf(err, errlen, "--forward %s: the target needs a port",
			 s);
		return WEFT_ERR_PARSE;
	}
	hlen = (size_t)(colon - host);
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	} else if (memchr(host, ':', hlen)) {
		hlen = 0; /* an IPv6 target needs brackets */
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (hlen == 0 || hlen > STREAMHDR_HOST_MAX || *end || errno ||
	    colon[1] < '1' || colon[1] > '9' || port < 1 || port > 65535) {
		snprintf(err, errlen, "--forward %s: the target must be "
			 "NODE:PORT or [IPV6]:PORT", s);
		return WEFT_ERR_PARSE;
	}
	if (!streamhdr_host_ok((const uint8_t *)host, hlen)) {
		snprintf(err, errlen, "--forward %s: bad node name", s);
		return WEFT_ERR_PARSE;
	}
	memcpy(out->target, host, hlen);
	out->target[hlen] = '\0';
	out->port = (uint16_t)port;
	return 0;
}

/* Without a final dot. */
static size_t name_len(const char *s)
{
	size_t n = strlen(s);

	return n && s[n - 1] == '.' ? n - 1 : n;
}

static bool name_is(const char *name, const char *target)
{
	size_t n;

	if (!name || !*name)
		return false;
	n = name_len(name);
	return n && name_len(target) == n &&
	       strncasecmp(name, target, n) == 0;
}

int64_t streamfwd_resolve(const struct map *m, const char *target,
			  char *host)
{
	const struct map_peer *const *v;
	struct ip_addr a;
	bool is_addr = ip_addr_parse(target, &a) == 0;
	size_t n, i;

	v = map_peers(m, &n);
	for (i = 0; i < n; i++) {
		const struct map_peer *p = v[i];
		const struct ip_addr *use;

		if (is_addr) {
			if (!ip_addr_eq(&a, &p->ipv4) &&
			    !ip_addr_eq(&a, &p->ipv6))
				continue;
			use = &a;
		} else if (name_is(p->name, target) ||
			   name_is(p->dns_name, target)) {
			use = p->ipv4.family ? &p->ipv4 : &p->ipv6;
		} else {
			continue;
		}
		if (!use->family ||
		    ip_addr_format(use, host, IP_ADDR_STRLEN) < 0)
			return 0;
		return p->id;
	}
	return 0;
}

static void on_accept(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	struct listener *ls = ctx;
	struct streamtarget t;
	char q[STREAMHDR_HOST_MAX + 8];
	int c, rc;

	(void)io;
	(void)fd;
	(void)ev;
	while ((c = listenpause_accept(ls->pause)) >= 0) {
		ls->counts->accepted++;
		rc = streamtarget_find(ls->f->m, ls->f->res, ls->spec.target,
				       ls->spec.port, &t);
		if (rc < 0) {
			log_warn(rc == WEFT_ERR_NOTFOUND
					 ? "forward_unknown_target"
					 : "forward_refused",
				 "target=%s port=%u reason=%s",
				 log_q(q, sizeof(q), ls->spec.target),
				 (unsigned)ls->spec.port, weft_errname(rc));
			ls->counts->failed++;
			streams_refuse(ls->f->s, c, rc);
			continue;
		}
		streams_open(ls->f->s, c, t.peer, t.host, ls->spec.port,
			     ls->counts);
	}
}

int streamfwd_listen(const struct ip_endpoint *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd, rc;

	rc = ip_endpoint_to_sockaddr(addr, &ss, &len);
	if (rc < 0)
		return rc;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static void listener_free(struct listener *ls)
{
	loop_io_close(ls->io, true);
	listenpause_del(ls->pause);
	streamcount_put(ls->counts);
	free(ls);
}

static struct listener *find(const struct streamfwd *f, const char *listen)
{
	struct listener *ls;

	for (ls = f->all; ls; ls = ls->next)
		if (strcmp(ls->listen, listen) == 0)
			return ls;
	return NULL;
}

int streamfwd_add(struct streamfwd *f, const char *spec, bool is_static,
		  char *err, size_t errlen)
{
	struct listener *ls = calloc(1, sizeof(*ls)), **tail;
	int fd = -1, rc;

	if (!ls) {
		snprintf(err, errlen, "out of memory");
		return WEFT_ERR_NOMEM;
	}
	ls->f = f;
	ls->is_static = is_static;
	rc = streamfwd_parse(spec, &ls->spec, err, errlen);
	if (rc < 0)
		goto out;
	ip_endpoint_format(&ls->spec.listen, ls->listen, sizeof(ls->listen));
	snprintf(ls->target, sizeof(ls->target), "%s", strchr(spec, '=') + 1);
	if (find(f, ls->listen)) {
		snprintf(err, errlen, "a forward listens on %s already",
			 ls->listen);
		rc = WEFT_ERR_EXISTS;
		goto out;
	}
	fd = streamfwd_listen(&ls->spec.listen);
	if (fd < 0) {
		rc = fd;
		snprintf(err, errlen, "cannot listen on %s: %s", ls->listen,
			 weft_strerror(rc));
		goto out;
	}
	ls->counts = streamcount_new();
	rc = ls->counts ? loop_io_add(f->loop, fd, LOOP_READ, on_accept, ls,
				      &ls->io)
			: WEFT_ERR_NOMEM;
	if (rc < 0)
		close(fd);
	if (rc == 0)
		rc = listenpause_new(f->loop, ls->io, fd, ls->listen,
				     &ls->pause);
	if (rc < 0)
		snprintf(err, errlen, "cannot listen on %s: %s", ls->listen,
			 weft_strerror(rc));
out:
	if (rc < 0) {
		listener_free(ls);
		return rc;
	}
	for (tail = &f->all; *tail; tail = &(*tail)->next)
		;
	*tail = ls;
	return 0;
}

int streamfwd_remove(struct streamfwd *f, const char *listen, char *err,
		     size_t errlen)
{
	struct ip_endpoint e;
	char text[IP_ENDPOINT_STRLEN];
	struct listener *ls, **pp;

	if (ip_endpoint_parse(listen, &e) < 0) {
		snprintf(err, errlen, "%s is not ADDRESS:PORT", listen);
		return WEFT_ERR_PARSE;
	}
	ip_endpoint_format(&e, text, sizeof(text));
	ls = find(f, text);
	if (!ls) {
		snprintf(err, errlen, "no forward listens on %s", text);
		return WEFT_ERR_NOTFOUND;
	}
	for (pp = &f->all; *pp != ls; pp = &(*pp)->next)
		;
	*pp = ls->next;
	f->gone_pauses += listenpause_count(ls->pause);
	listener_free(ls);
	return 0;
}

json_t *streamfwd_list_json(const struct streamfwd *f)
{
	json_t *a = json_array(), *e;
	const struct listener *ls;

	for (ls = f ? f->all : NULL; a && ls; ls = ls->next) {
		const struct streamcount *c = ls->counts;

		e = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, "
			      "s:I}", "listen", ls->listen, "target",
			      ls->target, "static", ls->is_static, "accepted",
			      (json_int_t)c->accepted, "active",
			      (json_int_t)c->active, "opened",
			      (json_int_t)c->opened, "failed",
			      (json_int_t)c->failed, "bytes_tx",
			      (json_int_t)c->bytes_tx, "bytes_rx",
			      (json_int_t)c->bytes_rx, "accept_pauses",
			      (json_int_t)listenpause_count(ls->pause));
		if (!e || json_array_append_new(a, e) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int streamfwd_new(struct loop *l, struct streams *s, const struct map *m,
		  const struct resclient *res, const char *const *specs,
		  size_t n, struct streamfwd **out, char *err, size_t errlen)
{
	struct streamfwd *f = calloc(1, sizeof(*f));
	int rc;

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return WEFT_ERR_NOMEM;
	}
	f->loop = l;
	f->s = s;
	f->m = m;
	f->res = res;
	for (size_t i = 0; i < n; i++) {
		rc = streamfwd_add(f, specs[i], true, err, errlen);
		if (rc < 0) {
			if (rc != WEFT_ERR_PARSE) {
				char why[256];

				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, errlen, "--forward: %s", why);
			}
			streamfwd_del(f);
			return rc;
		}
	}
	*out = f;
	return 0;
}

void streamfwd_del(struct streamfwd *f)
{
	struct listener *ls;

	if (!f)
		return;
	streamsocks_del(f->socks);
	streamsocks_del(f->http);
	while ((ls = f->all)) {
		f->all = ls->next;
		listener_free(ls);
	}
	free(f);
}

/* A proxy on addr (the value of flag, or NULL: none) into *out. */
static int proxy_start(struct agent_view *v, const char *flag,
		       const char *addr, bool http, struct streamsocks **out,
		       char *msg, size_t msglen)
{
	struct ip_endpoint a;
	int rc;

	if (!addr)
		return 0;
	if (ip_endpoint_parse(addr, &a) < 0) {
		snprintf(msg, msglen, "%s %s is not ADDRESS:PORT", flag, addr);
		return WEFT_ERR_PARSE;
	}
	rc = streamsocks_new(v->loop, v->streams, v->map, v->res, &a, http,
			     out);
	if (rc < 0)
		snprintf(msg, msglen, "%s: cannot listen on %s: %s", flag,
			 addr, weft_strerror(rc));
	return rc;
}

int streamfwd_start(struct agent_view *v, char *msg, size_t msglen)
{
	const struct daemon_cfg *cfg = v->cfg;
	int rc = streams_new(v->loop, v->dp, v->map, &cfg->stream_limits,
			     &v->streams);

	if (rc < 0) {
		snprintf(msg, msglen, "out of memory");
		return rc;
	}
	/* Always there: forwards may come at runtime (forward_add). */
	rc = streamfwd_new(v->loop, v->streams, v->map, v->res, cfg->forwards,
			   cfg->nforwards, &v->fwd, msg, msglen);
	if (rc == 0)
		rc = proxy_start(v, "--socks5", cfg->socks5, false,
				 &v->fwd->socks, msg, msglen);
	if (rc == 0)
		rc = proxy_start(v, "--http-proxy", cfg->http_proxy, true,
				 &v->fwd->http, msg, msglen);
	return rc;
}

uint64_t streamfwd_pauses(const struct streamfwd *f)
{
	uint64_t n = 0;

	if (!f)
		return 0;
	for (const struct listener *ls = f->all; ls; ls = ls->next)
		n += listenpause_count(ls->pause);
	return n + f->gone_pauses + streamsocks_pauses(f->socks) +
	       streamsocks_pauses(f->http);
}

json_t *streamfwd_json(const struct agent_view *v)
{
	json_t *j = streams_json(v->streams);
	struct streamsocks *socks = v->fwd ? v->fwd->socks : NULL;
	struct streamsocks *http = v->fwd ? v->fwd->http : NULL;

	if (j && (json_object_set_new(j, "forwards",
				      streamfwd_list_json(v->fwd)) < 0 ||
		  json_object_set_new(j, "accept_pauses",
				      json_integer((json_int_t)
						   streamfwd_pauses(
							   v->fwd))) < 0 ||
		  json_object_set_new(j, "socks5_refused",
				      json_integer((json_int_t)
						   streamsocks_refused(
							   socks))) < 0 ||
		  json_object_set_new(j, "http_proxy_refused",
				      json_integer((json_int_t)
						   streamsocks_refused(
							   http))) < 0)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

void streamfwd_stop(struct agent_view *v)
{
	streamfwd_del(v->fwd);
	v->fwd = NULL;
	streams_del(v->streams);
	v->streams = NULL;
}
