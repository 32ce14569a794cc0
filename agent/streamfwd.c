/* Stream-mode port forwards: see streamfwd.h. */
#include "agent/streamfwd.h"

#include "agent/daemon.h"
#include "agent/map.h"
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
	struct streamfwd_spec spec;
	struct loop_io *io;
};

struct streamfwd {
	struct streamsocks *socks; /* --socks5, or NULL */
	struct streamsocks *http;  /* --http-proxy, or NULL */
	struct loop *loop;
	struct streams *s;
	const struct map *m;
	const struct resclient *res;
	struct listener *v;
	size_t n;
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
	(void)ev;
	for (;;) {
		c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0)
			return; /* EAGAIN, or out of descriptors: retried */
		rc = streamtarget_find(ls->f->m, ls->f->res, ls->spec.target,
				       ls->spec.port, &t);
		if (rc < 0) {
			log_warn(rc == WEFT_ERR_NOTFOUND
					 ? "forward_unknown_target"
					 : "forward_refused",
				 "target=%s port=%u reason=%s",
				 log_q(q, sizeof(q), ls->spec.target),
				 (unsigned)ls->spec.port, weft_errname(rc));
			streams_refuse(ls->f->s, c, rc);
			continue;
		}
		streams_open(ls->f->s, c, t.peer, t.host, ls->spec.port);
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

static int listen_on(struct listener *ls)
{
	int fd = streamfwd_listen(&ls->spec.listen), rc;

	if (fd < 0)
		return fd;
	rc = loop_io_add(ls->f->loop, fd, LOOP_READ, on_accept, ls, &ls->io);
	if (rc < 0)
		close(fd);
	return rc;
}

int streamfwd_new(struct loop *l, struct streams *s, const struct map *m,
		  const struct resclient *res, const char *const *specs,
		  size_t n, struct streamfwd **out, char *err, size_t errlen)
{
	struct streamfwd *f = calloc(1, sizeof(*f));
	char a[IP_ADDR_STRLEN + 8];
	int rc = 0;

	if (!f || !(f->v = calloc(n ? n : 1, sizeof(*f->v)))) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return WEFT_ERR_NOMEM;
	}
	f->loop = l;
	f->s = s;
	f->m = m;
	f->res = res;
	for (; f->n < n; f->n++) {
		struct listener *ls = &f->v[f->n];

		ls->f = f;
		rc = streamfwd_parse(specs[f->n], &ls->spec, err, errlen);
		if (rc == 0)
			rc = listen_on(ls);
		if (rc < 0) {
			if (rc != WEFT_ERR_PARSE) {
				ip_endpoint_format(&ls->spec.listen, a,
						   sizeof(a));
				snprintf(err, errlen, "--forward: cannot "
					 "listen on %s: %s", a,
					 weft_strerror(rc));
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
	if (!f)
		return;
	streamsocks_del(f->socks);
	streamsocks_del(f->http);
	for (size_t i = 0; i < f->n; i++)
		loop_io_close(f->v[i].io, true);
	free(f->v);
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
	if (!cfg->nforwards && !cfg->socks5 && !cfg->http_proxy)
		return 0;
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

json_t *streamfwd_json(const struct agent_view *v)
{
	json_t *j = streams_json(v->streams);
	struct streamsocks *socks = v->fwd ? v->fwd->socks : NULL;
	struct streamsocks *http = v->fwd ? v->fwd->http : NULL;

	if (j && (json_object_set_new(j, "socks5_refused",
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
