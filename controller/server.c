#include "controller/server.h"

#include "controller/api.h"
#include "controller/http.h"
#include "controller/metrics.h"
#include "controller/web.h"
#include "shared/buf.h"
#include "shared/clock.h"
#include "shared/err.h"
#include "shared/ip.h"
#include "shared/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Per-connection memory for headers and read buffers. The 32 KB default
 * cost 33 KB per held long-poll in a prototype and 16 KB measured 22-39 KB
 * per poll at 10k; 8 KB holds any sane request head (bodies are streamed
 * into our own bounded buffer) and keeps a held poll near 8 KB. */
#define CONN_MEMORY_LIMIT (8 * 1024)
#define MAX_CERTS 16

/* A loaded certificate chain and key. */
struct tls_pair {
	gnutls_pcert_st certs[MAX_CERTS];
	unsigned ncerts;
	gnutls_privkey_t key;
};

/* gnutls' certificate callback carries no user pointer, so the current
 * pair lives here. Only one TLS server exists per process; the previous
 * pair is kept for one more reload so a handshake that picked it up just
 * before a reload never sees it freed. */
static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_pair *tls_current, *tls_previous;

struct server {
	struct MHD_Daemon *daemon;
	struct api *api;
	int fd;
	int port;
	volatile int stopping; /* answers close their connections */
	char *cert_path, *key_path;
	struct xff_trust trust; /* --trusted-proxy */
};

/* State of one request while its body arrives. */
struct pending {
	struct buf body;
	int too_big;
	int64_t start_us;
	struct http_hold *hold; /* a parked long-poll, until answered */
	const char *route;
};

static void tls_pair_free(struct tls_pair *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->ncerts; i++)
		gnutls_pcert_deinit(&p->certs[i]);
	gnutls_privkey_deinit(p->key);
	free(p);
}

static int tls_pair_load(const char *cert, const char *key,
			 struct tls_pair **out, char *errmsg, size_t errlen)
{
	struct tls_pair *p = calloc(1, sizeof(*p));
	gnutls_datum_t kd = {0};
	int rc;

	if (!p)
		return WEFT_ERR_NOMEM;
	p->ncerts = MAX_CERTS;
	rc = gnutls_pcert_list_import_x509_file(p->certs, &p->ncerts, cert,
						GNUTLS_X509_FMT_PEM, NULL,
						NULL, 0);
	if (rc < 0) {
		p->ncerts = 0;
		snprintf(errmsg, errlen, "cannot load certificate %s: %s",
			 cert, gnutls_strerror(rc));
		goto fail;
	}
	rc = gnutls_load_file(key, &kd);
	if (rc < 0) {
		snprintf(errmsg, errlen, "cannot read key %s: %s", key,
			 gnutls_strerror(rc));
		goto fail;
	}
	rc = gnutls_privkey_init(&p->key);
	if (rc == 0)
		rc = gnutls_privkey_import_x509_raw(p->key, &kd,
						    GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_memset(kd.data, 0, kd.size);
	gnutls_free(kd.data);
	if (rc < 0) {
		snprintf(errmsg, errlen, "cannot load key %s: %s", key,
			 gnutls_strerror(rc));
		goto fail;
	}
	*out = p;
	return 0;
fail:
	tls_pair_free(p);
	return WEFT_ERR_CRYPTO;
}

static int tls_pick(gnutls_session_t session, const gnutls_datum_t *req_ca,
		    int nreqs, const gnutls_pk_algorithm_t *algos, int nalgos,
		    gnutls_pcert_st **pcert, unsigned int *npcert,
		    gnutls_privkey_t *key)
{
	int rc = -1;

	(void)session;
	(void)req_ca;
	(void)nreqs;
	(void)algos;
	(void)nalgos;
	pthread_mutex_lock(&tls_lock);
	if (tls_current) {
		*pcert = tls_current->certs;
		*npcert = tls_current->ncerts;
		*key = tls_current->key;
		rc = 0;
	}
	pthread_mutex_unlock(&tls_lock);
	return rc;
}

static void tls_install(struct tls_pair *p)
{
	struct tls_pair *old;

	pthread_mutex_lock(&tls_lock);
	old = tls_previous;
	tls_previous = tls_current;
	tls_current = p;
	pthread_mutex_unlock(&tls_lock);
	tls_pair_free(old);
}

static void tls_clear(void)
{
	pthread_mutex_lock(&tls_lock);
	tls_pair_free(tls_previous);
	tls_pair_free(tls_current);
	tls_previous = tls_current = NULL;
	pthread_mutex_unlock(&tls_lock);
}

int server_reload_tls(struct server *srv, char *errmsg, size_t errlen)
{
	struct tls_pair *p;
	int rc;

	if (!srv->cert_path)
		return 0;
	rc = tls_pair_load(srv->cert_path, srv->key_path, &p, errmsg, errlen);
	if (rc < 0)
		return rc;
	tls_install(p);
	return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512], q[600];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http_library", "msg=%s", log_q(q, sizeof(q), msg));
}

static const char *query_get(void *ctx, const char *key)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

/* The peer as "ip:port", or behind a trusted proxy the client address
 * its X-Forwarded-For names (without a port). */
static void remote_of(const struct server *srv, struct MHD_Connection *conn,
		      char *buf, size_t n)
{
	const union MHD_ConnectionInfo *ci;
	struct ip_endpoint ep;
	struct ip_addr client;

	snprintf(buf, n, "?");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	if (ip_endpoint_from_sockaddr(ci->client_addr,
				      ci->client_addr->sa_family == AF_INET6
					      ? sizeof(struct sockaddr_in6)
					      : sizeof(struct sockaddr_in),
				      &ep) < 0)
		return;
	xff_client(&srv->trust, &ep.addr,
		   MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					       "X-Forwarded-For"),
		   &client);
	if (ip_addr_eq(&client, &ep.addr))
		ip_endpoint_format(&ep, buf, n);
	else
		ip_addr_format(&client, buf, n);
}

static enum MHD_Result send_resp(struct server *srv,
				 struct MHD_Connection *conn,
				 struct http_resp *r)
{
	struct MHD_Response *mr;
	const char *ctype = r->content_type;
	enum MHD_Result ret;
	char *body = NULL;
	size_t len = 0;
	bool gz = false;

	/* Large answers (network maps) are compressed for clients that
	 * ask; a map's shared filter is compressed once for all of them. */
	if (http_resp_body(r, http_accepts_gzip(MHD_lookup_connection_value(
				  conn, MHD_HEADER_KIND,
				  MHD_HTTP_HEADER_ACCEPT_ENCODING)),
			   &body, &len, &gz) < 0) {
		r->status = 500;
		body = strdup("{\"error\":{\"code\":\"no_memory\",\"message\":\"out of memory\"}}");
		len = body ? strlen(body) : 0;
		if (!ctype)
			ctype = "application/json";
	}
	if (!ctype && r->json)
		ctype = "application/json";
	else if (!ctype && r->text)
		ctype = "text/plain; charset=utf-8";
	mr = MHD_create_response_from_buffer(len, body ? body : (char *)"",
					     body ? MHD_RESPMEM_MUST_FREE
						  : MHD_RESPMEM_PERSISTENT);
	if (!mr) {
		free(body);
		return MHD_NO;
	}
	if (gz)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_ENCODING,
					"gzip");
	if (len >= HTTP_GZIP_MIN || gz)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_VARY,
					"Accept-Encoding");
	if (ctype && len)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(mr, "Cache-Control", "no-store");
	if (srv->stopping || r->status == 413)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
	if (r->status == 401)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer");
	if (r->set_cookie)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_SET_COOKIE,
					r->set_cookie);
	if (r->retry_after > 0) {
		char ra[24];

		snprintf(ra, sizeof(ra), "%d", r->retry_after);
		MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	ret = MHD_queue_response(conn, (unsigned)r->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result send_error(struct server *srv,
				  struct MHD_Connection *conn, int status,
				  const char *code, const char *msg)
{
	struct http_resp r = {0};
	enum MHD_Result ret;

	http_resp_error(&r, status, code, msg, NULL);
	ret = send_resp(srv, conn, &r);
	http_resp_free(&r);
	return ret;
}

static void suspend_conn(void *arg)
{
	MHD_suspend_connection(arg);
}

static void resume_conn(void *arg)
{
	MHD_resume_connection(arg);
}

static enum MHD_Result finish(struct server *srv, struct MHD_Connection *conn,
			      struct pending *p, const char *method,
			      struct http_resp *resp)
{
	enum MHD_Result ret;
	double secs;

	ret = send_resp(srv, conn, resp);
	secs = (clock_mono_us() - p->start_us) / 1e6;
	metrics_request(api_metrics(srv->api), resp->route ? resp->route : p->route,
			method, resp->status, secs);
	log_debug("http_request", "method=%s path=%s status=%d ms=%.1f",
		  method, p->route ? p->route : "?", resp->status, secs * 1000);
	http_resp_free(resp);
	return ret;
}

/* 413 for a body over HTTP_BODY_MAX; the connection closes after it
 * (what is left of the body is never read). */
static enum MHD_Result too_big(struct server *srv, struct MHD_Connection *conn,
			       struct pending *p, const char *method)
{
	enum MHD_Result ret;

	ret = send_error(srv, conn, 413, "too_big",
			 "request body larger than 1 MiB");
	metrics_request(api_metrics(srv->api), "other", method, 413,
			(clock_mono_us() - p->start_us) / 1e6);
	return ret;
}

/* GET and HEAD of paths outside /api/ that no API route claims are the
 * web UI's (web.h). */
static bool is_ui(const char *method, const char *url)
{
	return (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
	       strncmp(url, "/api/", 5) != 0 && strcmp(url, "/api") != 0 &&
	       !api_routes_path(url);
}

static enum MHD_Result serve_ui(struct server *srv, struct MHD_Connection *conn,
				struct pending *p, const char *method,
				const char *url)
{
	static const char route[] = "ui";
	struct web_answer a;
	struct MHD_Response *mr;
	enum MHD_Result ret;

	web_answer(url,
		   MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					       MHD_HTTP_HEADER_ACCEPT_ENCODING),
		   MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					       MHD_HTTP_HEADER_IF_NONE_MATCH),
		   &a);
	/* The body is the embedded table's: never copied, never freed. */
	mr = MHD_create_response_from_buffer(a.len, (void *)a.body,
					     MHD_RESPMEM_PERSISTENT);
	if (!mr)
		return MHD_NO;
	for (const struct web_header *h = web_security_headers; h->name; h++)
		MHD_add_response_header(mr, h->name, h->value);
	MHD_add_response_header(mr, "Cache-Control", a.cache_control);
	if (a.etag) {
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ETAG, a.etag);
		MHD_add_response_header(mr, MHD_HTTP_HEADER_VARY,
					"Accept-Encoding");
	}
	if (a.status != 304) {
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
					a.content_type);
		if (a.gzip)
			MHD_add_response_header(
				mr, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	}
	if (srv->stopping)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, (unsigned)a.status, mr);
	MHD_destroy_response(mr);
	metrics_request(api_metrics(srv->api), route, method, a.status,
			(clock_mono_us() - p->start_us) / 1e6);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct server *srv = cls;
	struct pending *p = *con_cls;
	struct http_req req = {0};
	struct http_resp resp = {0};

	(void)version;
	if (!p) {
		const char *cl;

		p = calloc(1, sizeof(*p));
		if (!p)
			return MHD_NO;
		buf_init(&p->body, HTTP_BODY_MAX);
		p->start_us = clock_mono_us();
		*con_cls = p;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX) {
			/* Answer before the body arrives: libmicrohttpd then
			 * reads none of it and closes the connection after
			 * the answer, so a declared 100 MB body costs neither
			 * bandwidth nor time. */
			p->too_big = 1;
			return too_big(srv, conn, p, method);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!p->too_big &&
		    buf_append(&p->body, upload, *upload_size) < 0)
			p->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (p->too_big)
		return too_big(srv, conn, p, method);
	if (p->hold) {
		/* Resumed: the producer has answered. */
		if (!http_hold_take(p->hold, &resp))
			return MHD_NO;
		resp.route = p->route;
		return finish(srv, conn, p, method, &resp);
	}
	if (is_ui(method, url))
		return serve_ui(srv, conn, p, method, url);
	req.method = method;
	req.path = url;
	req.authorization = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	req.cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_COOKIE);
	req.origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_ORIGIN);
	req.host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					       MHD_HTTP_HEADER_HOST);
	req.sec_fetch_site = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 "Sec-Fetch-Site");
	req.x_weft_request = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 "X-Weft-Request");
	req.body = buf_cstr(&p->body);
	req.body_len = p->body.len;
	req.query = query_get;
	req.query_ctx = conn;
	remote_of(srv, conn, req.remote, sizeof(req.remote));
	api_handle(srv->api, &req, &resp);
	p->route = resp.route;
	if (resp.hold) {
		p->hold = resp.hold;
		resp.hold = NULL;
		if (!http_hold_park(p->hold, suspend_conn, resume_conn, conn))
			return MHD_YES;
		if (!http_hold_take(p->hold, &resp))
			return MHD_NO;
		resp.route = p->route;
	}
	return finish(srv, conn, p, method, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct pending *p = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!p)
		return;
	http_hold_unref(p->hold);
	buf_free(&p->body);
	free(p);
	*con_cls = NULL;
}

/* Parses "host:port", "[v6]:port" or ":port" into a socket address; the
 * port may be 0 (the kernel picks one). */
static int parse_listen(const char *s, struct sockaddr_storage *ss,
			socklen_t *len)
{
	char host[IP_ADDR_STRLEN + 2];
	const char *colon = strrchr(s, ':');
	struct ip_addr a;
	char *end;
	unsigned long port;
	size_t hl;

	if (!colon)
		return WEFT_ERR_PARSE;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end || errno || port > 65535)
		return WEFT_ERR_PARSE;
	hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return WEFT_ERR_PARSE;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '\0') {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		in->sin_addr.s_addr = htonl(INADDR_ANY);
		*len = sizeof(*in);
		return 0;
	}
	if (ip_addr_parse(host, &a) < 0)
		return WEFT_ERR_PARSE;
	if (a.family == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		memcpy(&in->sin_addr, a.b, 4);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		memcpy(&in6->sin6_addr, a.b, 16);
		*len = sizeof(*in6);
	}
	return 0;
}

static int open_listener(const char *listen_on, int *fd_out, int *port_out,
			 char *errmsg, size_t errlen)
{
	struct sockaddr_storage ss, bound;
	socklen_t len, blen = sizeof(bound);
	int fd, one = 1;

	if (parse_listen(listen_on, &ss, &len) < 0) {
		snprintf(errmsg, errlen,
			 "bad listen address \"%s\" (want host:port)", listen_on);
		return WEFT_ERR_INVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) < 0)
		goto fail;
	*port_out = ntohs(bound.ss_family == AF_INET
				  ? ((struct sockaddr_in *)&bound)->sin_port
				  : ((struct sockaddr_in6 *)&bound)->sin6_port);
	*fd_out = fd;
	return 0;
fail:
	snprintf(errmsg, errlen, "cannot listen on %s: %s", listen_on,
		 strerror(errno));
	{
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return err;
	}
}

int server_start(const struct server_options *o, struct api *api,
		 struct server **out, char *errmsg, size_t errlen)
{
	struct server *srv;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	struct tls_pair *tls = NULL;
	int rc;

	if (!!o->tls_cert != !!o->tls_key) {
		snprintf(errmsg, errlen,
			 "TLS needs both a certificate and a key");
		return WEFT_ERR_INVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return WEFT_ERR_NOMEM;
	srv->api = api;
	if (o->trusted_proxies)
		srv->trust = *o->trusted_proxies;
	srv->fd = -1;
	if (o->tls_cert) {
		srv->cert_path = strdup(o->tls_cert);
		srv->key_path = strdup(o->tls_key);
		if (!srv->cert_path || !srv->key_path) {
			rc = WEFT_ERR_NOMEM;
			goto fail;
		}
		rc = tls_pair_load(o->tls_cert, o->tls_key, &tls, errmsg,
				   errlen);
		if (rc < 0)
			goto fail;
		tls_install(tls);
		flags |= MHD_USE_TLS;
	}
	rc = open_listener(o->listen, &srv->fd, &srv->port, errmsg, errlen);
	if (rc < 0)
		goto fail;
	if (srv->cert_path)
		srv->daemon = MHD_start_daemon(
			flags, 0, NULL, NULL, on_request, srv,
			MHD_OPTION_LISTEN_SOCKET, srv->fd,
			MHD_OPTION_THREAD_POOL_SIZE, o->threads ? o->threads : 2,
			MHD_OPTION_CONNECTION_LIMIT,
			o->max_conns ? o->max_conns : 16384,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			(size_t)CONN_MEMORY_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
			srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
			MHD_OPTION_HTTPS_CERT_CALLBACK, tls_pick,
			MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1",
			MHD_OPTION_END);
	else
		srv->daemon = MHD_start_daemon(
			flags, 0, NULL, NULL, on_request, srv,
			MHD_OPTION_LISTEN_SOCKET, srv->fd,
			MHD_OPTION_THREAD_POOL_SIZE, o->threads ? o->threads : 2,
			MHD_OPTION_CONNECTION_LIMIT,
			o->max_conns ? o->max_conns : 16384,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			(size_t)CONN_MEMORY_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
			srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
			MHD_OPTION_END);
	if (!srv->daemon) {
		snprintf(errmsg, errlen, "cannot start the HTTP server on %s",
			 o->listen);
		rc = WEFT_ERR_INTERNAL;
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	if (srv->fd >= 0)
		close(srv->fd);
	if (srv->cert_path)
		tls_clear();
	free(srv->cert_path);
	free(srv->key_path);
	free(srv);
	return rc;
}

void server_stop(struct server *srv)
{
	if (!srv)
		return;
	/* Quiescing first hands the listen socket back to us, so it is
	 * closed exactly once, below. Answers still being written (held
	 * polls the hub just answered) get a short grace to go out; they
	 * close their connections, so the count drops as they finish. */
	srv->stopping = 1;
	MHD_quiesce_daemon(srv->daemon);
	for (int i = 0; i < 25; i++) {
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(
			srv->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

		if (!di || di->num_connections == 0)
			break;
		usleep(20 * 1000);
	}
	MHD_stop_daemon(srv->daemon);
	if (srv->fd >= 0)
		close(srv->fd);
	if (srv->cert_path)
		tls_clear();
	free(srv->cert_path);
	free(srv->key_path);
	free(srv);
}

int server_port(const struct server *srv)
{
	return srv->port;
}

int server_is_tls(const struct server *srv)
{
	return srv->cert_path != NULL;
}
