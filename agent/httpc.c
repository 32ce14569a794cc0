/* The agent's HTTP/1.1 client: see httpc.h.
 *
 * It replaces libcurl, whose library closure (OpenSSL initialised by
 * curl and again by libssh2, Kerberos, LDAP, ...) was half of an idle
 * agent's resident memory (docs/benchmarks.md, "Agent memory"). The agent
 * needs little of it: three endpoints, JSON bodies, one connection kept
 * alive, TLS with the GnuTLS it links for QUIC anyway, and gzip answers.
 *
 * Sockets are non-blocking and every wait is a poll of at most
 * HTTPC_SLICE_MS, so a deadline or a cancel request ends a call within
 * that. Name resolution is getaddrinfo, which blocks: the controller's
 * name is resolved once per connection, not per request. */
#include "agent/httpc.h"

#include "agent/httpmsg.h"
#include "shared/buf.h"
#include "shared/clock.h"
#include "shared/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A request's head and body (a map poll is ~100 bytes; an endpoint
 * report a few hundred). */
#define REQUEST_MAX (64u * 1024)

struct httpc {
	char *ca_file;
	char *user_agent;
	int64_t connect_timeout_ms;
	uint32_t fwmark;
	gnutls_certificate_credentials_t creds; /* NULL until first https */
	unsigned verify_status; /* of the last handshake's check */
	int verify_rc;
	struct httpmsg_resp *resp;
	struct buf out;

	/* the kept connection: fd < 0 when there is none */
	int fd;
	gnutls_session_t tls;
	bool https;
	uint16_t port;
	char host[HTTPMSG_HOST_MAX];
};

/* What one request is doing, for waits and messages. */
struct call {
	struct httpc *c;
	const struct httpc_req *rq;
	int64_t deadline;
	char *err;
	size_t errlen;
	size_t got;     /* answer bytes read */
	bool cancelled; /* the cancel callback said stop */
};

static int say(struct call *k, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int say(struct call *k, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->err, k->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

void httpc_set_fwmark(struct httpc *c, uint32_t mark)
{
	c->fwmark = mark;
}

int httpc_new(const char *ca_file, const char *user_agent, size_t body_max,
	      int64_t connect_timeout_ms, struct httpc **out)
{
	struct httpc *c = calloc(1, sizeof(*c));

	if (!c)
		return WEFT_ERR_NOMEM;
	c->fd = -1;
	c->connect_timeout_ms = connect_timeout_ms;
	c->user_agent = strdup(user_agent);
	c->ca_file = ca_file ? strdup(ca_file) : NULL;
	buf_init(&c->out, REQUEST_MAX);
	if (!c->user_agent || (ca_file && !c->ca_file) ||
	    httpmsg_resp_new(body_max, &c->resp) < 0) {
		httpc_del(c);
		return WEFT_ERR_NOMEM;
	}
	*out = c;
	return 0;
}

static void disconnect(struct httpc *c)
{
	if (c->tls) {
		/* no close_notify wait: the socket goes away either way */
		gnutls_deinit(c->tls);
		c->tls = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void httpc_del(struct httpc *c)
{
	if (!c)
		return;
	disconnect(c);
	if (c->creds)
		gnutls_certificate_free_credentials(c->creds);
	httpmsg_resp_del(c->resp);
	if (c->out.data)
		explicit_bzero(c->out.data, c->out.cap);
	buf_free(&c->out);
	free(c->ca_file);
	free(c->user_agent);
	free(c);
}

/* Waits until fd is ready for events, the deadline passes (ret
 * WEFT_ERR_TIMEOUT, no message) or the caller cancels (its code). */
static int wait_fd(struct call *k, int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int64_t left = deadline - clock_mono_ms();
		int rc;

		if (k->rq->cancel) {
			rc = k->rq->cancel(k->rq->cancel_arg);
			if (rc < 0) {
				k->cancelled = true;
				return rc;
			}
		}
		if (left <= 0)
			return WEFT_ERR_TIMEOUT;
		rc = poll(&pfd, 1, (int)(left < HTTPC_SLICE_MS ? left
							       : HTTPC_SLICE_MS));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0)
			return 0;
	}
}

static int timeout_msg(struct call *k, int rc, const char *what)
{
	if (rc != WEFT_ERR_TIMEOUT)
		return rc; /* cancelled: no message needed */
	return say(k, rc, "%s: timeout after %lld ms (%zu bytes of the "
		   "answer received)", what,
		   (long long)k->rq->timeout_ms, k->got);
}

/* ---- connecting ---- */

/* The trust anchors are loaded for each handshake and freed right after
 * it: GnuTLS keeps a parsed certificate at about 25 KB, so the system
 * store (about 140 CAs) held for the life of the agent would be 3.7 MB of
 * its memory, more than the rest of an idle agent's own
 * (docs/benchmarks.md, "Agent memory"). A handshake is rare (one
 * connection is kept), so parsing the store again each time is cheap. */
static int load_trust(struct httpc *c, gnutls_x509_trust_list_t *out)
{
	gnutls_x509_trust_list_t tl;
	int rc;

	if (gnutls_x509_trust_list_init(&tl, 0) < 0)
		return GNUTLS_E_MEMORY_ERROR;
	if (c->ca_file)
		rc = gnutls_x509_trust_list_add_trust_file(
			tl, c->ca_file, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
	else
		rc = gnutls_x509_trust_list_add_system_trust(tl, 0, 0);
	if (rc <= 0) {
		gnutls_x509_trust_list_deinit(tl, 1);
		return rc < 0 ? rc : GNUTLS_E_NO_CERTIFICATE_FOUND;
	}
	*out = tl;
	return 0;
}

/* GnuTLS's certificate check, called during the handshake: the chain the
 * server sent must lead to a trust anchor, and its leaf must name the
 * host (DNS name or IP address) for TLS server use. The outcome is kept
 * in c for the error message. */
static int verify_peer(gnutls_session_t s)
{
	struct httpc *c = gnutls_session_get_ptr(s);
	gnutls_typed_vdata_st vd[2] = {
		{.type = GNUTLS_DT_DNS_HOSTNAME, .data = (void *)c->host},
		{.type = GNUTLS_DT_KEY_PURPOSE_OID,
		 .data = (void *)GNUTLS_KP_TLS_WWW_SERVER},
	};
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t chain[16];
	const gnutls_datum_t *der;
	unsigned n = 0, got = 0;
	int rc;

	c->verify_status = 0;
	c->verify_rc = 0;
	der = gnutls_certificate_get_peers(s, &n);
	if (!der || n == 0) {
		c->verify_rc = GNUTLS_E_NO_CERTIFICATE_FOUND;
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	if (n > 16)
		n = 16;
	rc = load_trust(c, &tl);
	for (; rc == 0 && got < n; got++) {
		rc = gnutls_x509_crt_init(&chain[got]);
		if (rc < 0)
			break;
		rc = gnutls_x509_crt_import(chain[got], &der[got],
					    GNUTLS_X509_FMT_DER);
		if (rc < 0)
			gnutls_x509_crt_deinit(chain[got]);
	}
	if (rc == 0)
		rc = gnutls_x509_trust_list_verify_crt2(tl, chain, n, vd, 2, 0,
							&c->verify_status,
							NULL);
	c->verify_rc = rc;
	while (got > 0 && got <= n)
		gnutls_x509_crt_deinit(chain[--got]);
	if (tl)
		gnutls_x509_trust_list_deinit(tl, 1);
	/* hand the parsed store's pages back to the system */
	malloc_trim(0);
	return rc == 0 && c->verify_status == 0 ? 0
						 : GNUTLS_E_CERTIFICATE_ERROR;
}

static int load_creds(struct call *k)
{
	struct httpc *c = k->c;

	if (c->creds)
		return 0;
	if (gnutls_certificate_allocate_credentials(&c->creds) < 0) {
		c->creds = NULL;
		return say(k, WEFT_ERR_NOMEM, "TLS: out of memory");
	}
	gnutls_certificate_set_verify_function(c->creds, verify_peer);
	return 0;
}

/* Why verify_peer refused. */
static int verify_failed(struct call *k, const char *host)
{
	struct httpc *c = k->c;
	gnutls_datum_t why = {0};
	size_t n;

	if (c->verify_rc < 0)
		return say(k, WEFT_ERR_CRYPTO, "TLS: cannot check the "
			   "certificate of %s against %s: %s", host,
			   c->ca_file ? c->ca_file : "the system trust store",
			   gnutls_strerror(c->verify_rc));
	gnutls_certificate_verification_status_print(
		c->verify_status, GNUTLS_CRT_X509, &why, 0);
	n = why.data ? strlen((char *)why.data) : 0;
	while (n && why.data[n - 1] == ' ')
		why.data[--n] = '\0';
	say(k, WEFT_ERR_CRYPTO, "TLS: certificate verify failed for %s: %s",
	    host, n ? (char *)why.data : "");
	gnutls_free(why.data);
	return WEFT_ERR_CRYPTO;
}

/* One TCP connection attempt to ai within the connect deadline. Returns
 * the socket or a negative code with a message. */
static int tcp_connect(struct call *k, const struct addrinfo *ai,
		       int64_t deadline)
{
	char ip[INET6_ADDRSTRLEN + 2] = "?";
	int fd, rc, one = 1, soerr = 0;
	socklen_t sl = sizeof(soerr);

	getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, sizeof(ip), NULL, 0,
		    NI_NUMERICHOST);
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
					   SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return say(k, -errno, "socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	if (k->c->fwmark)
		setsockopt(fd, SOL_SOCKET, SO_MARK, &k->c->fwmark,
			   sizeof(k->c->fwmark));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		rc = say(k, -errno, "connect to %s port %u: %s", ip,
			 (unsigned)k->c->port, strerror(errno));
		goto fail;
	}
	rc = wait_fd(k, fd, POLLOUT, deadline);
	if (rc == WEFT_ERR_TIMEOUT) {
		rc = say(k, rc, "connect to %s port %u: timeout after %lld ms",
			 ip, (unsigned)k->c->port,
			 (long long)k->c->connect_timeout_ms);
		goto fail;
	}
	if (rc < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		rc = say(k, -soerr, "connect to %s port %u: %s", ip,
			 (unsigned)k->c->port, strerror(soerr));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return rc;
}

/* Is host an IPv4 literal (no SNI for those)? */
static bool is_ipv4_literal(const char *host)
{
	struct in_addr a;

	return inet_pton(AF_INET, host, &a) == 1;
}

static int tls_handshake(struct call *k, const struct httpmsg_url *u,
			 int64_t deadline)
{
	struct httpc *c = k->c;
	int rc;

	rc = load_creds(k);
	if (rc < 0)
		return rc;
	if (gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0) {
		c->tls = NULL;
		return say(k, WEFT_ERR_NOMEM, "TLS: out of memory");
	}
	rc = gnutls_set_default_priority(c->tls);
	if (rc == 0)
		rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
					    c->creds);
	/* SNI carries names only, never address literals (RFC 6066 §3). */
	if (rc == 0 && !u->ipv6 && !is_ipv4_literal(u->host))
		rc = gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, u->host,
					    strlen(u->host));
	if (rc < 0)
		return say(k, WEFT_ERR_CRYPTO, "TLS: %s", gnutls_strerror(rc));
	/* verify_peer checks the chain and that it names c->host */
	gnutls_session_set_ptr(c->tls, c);
	gnutls_transport_set_int(c->tls, c->fd);
	for (;;) {
		rc = gnutls_handshake(c->tls);
		if (rc == 0)
			return 0;
		if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED ||
		    !gnutls_error_is_fatal(rc)) {
			rc = wait_fd(k, c->fd,
				     gnutls_record_get_direction(c->tls)
					     ? POLLOUT : POLLIN,
				     deadline);
			if (rc == WEFT_ERR_TIMEOUT)
				return say(k, rc, "TLS handshake with %s: "
					   "timeout after %lld ms", u->host,
					   (long long)c->connect_timeout_ms);
			if (rc < 0)
				return rc;
			continue;
		}
		break;
	}
	if (rc == GNUTLS_E_CERTIFICATE_ERROR)
		return verify_failed(k, u->host);
	return say(k, WEFT_ERR_CRYPTO, "TLS handshake with %s: %s", u->host,
		   gnutls_strerror(rc));
}

static int open_conn(struct call *k, const struct httpmsg_url *u)
{
	struct httpc *c = k->c;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	int64_t deadline = clock_mono_ms() + c->connect_timeout_ms;
	char port[8];
	int rc, fd = WEFT_ERR_NOTFOUND;

	if (deadline > k->deadline)
		deadline = k->deadline;
	c->https = u->https;
	c->port = u->port;
	snprintf(c->host, sizeof(c->host), "%s", u->host);
	snprintf(port, sizeof(port), "%u", (unsigned)u->port);
	rc = getaddrinfo(u->host, port, &hints, &res);
	if (rc != 0)
		return say(k, rc == EAI_MEMORY ? WEFT_ERR_NOMEM
					       : WEFT_ERR_NOTFOUND,
			   "resolve %s: %s", u->host,
			   rc == EAI_SYSTEM ? strerror(errno)
					    : gai_strerror(rc));
	/* Every address in turn (localhost may be ::1 and 127.0.0.1, the
	 * controller listening on one); the last failure is reported. */
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = tcp_connect(k, ai, deadline);
		if (fd >= 0 || fd == WEFT_ERR_TIMEOUT || k->cancelled)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fd;
	c->fd = fd;
	if (u->https) {
		rc = tls_handshake(k, u, deadline);
		if (rc < 0) {
			disconnect(c);
			return rc;
		}
	}
	return 0;
}

/* ---- the kept connection ---- */

/* Is the kept connection to u still usable? An idle HTTP connection has
 * nothing to read: readable means the server closed it (or sent
 * something unasked for). Under TLS a record read tells, and also takes
 * in a TLS 1.3 session ticket the server sent after the handshake. */
static bool conn_usable(struct httpc *c, const struct httpmsg_url *u)
{
	char b;
	ssize_t n;

	if (c->fd < 0 || c->https != u->https || c->port != u->port ||
	    strcmp(c->host, u->host) != 0)
		return false;
	if (c->tls) {
		n = gnutls_record_recv(c->tls, &b, 1);
		return n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED;
	}
	n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* ---- sending and receiving ---- */

static int send_all(struct call *k, const uint8_t *p, size_t n)
{
	struct httpc *c = k->c;
	size_t off = 0;

	while (off < n) {
		ssize_t w;
		int rc;

		if (c->tls) {
			w = gnutls_record_send(c->tls, p + off, n - off);
			if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
				rc = wait_fd(k, c->fd, POLLOUT, k->deadline);
				if (rc < 0)
					return timeout_msg(k, rc, "send");
				continue;
			}
			if (w < 0)
				return say(k, -EPIPE, "TLS send: %s",
					   gnutls_strerror((int)w));
		} else {
			w = send(c->fd, p + off, n - off, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
				rc = wait_fd(k, c->fd, POLLOUT, k->deadline);
				if (rc < 0)
					return timeout_msg(k, rc, "send");
				continue;
			}
			if (w < 0)
				return say(k, -errno, "send: %s",
					   strerror(errno));
		}
		off += (size_t)w;
	}
	return 0;
}

/* Reads what is there into b. Returns the count, 0 at the end of the
 * connection, or a negative code with a message. */
static ssize_t recv_some(struct call *k, uint8_t *b, size_t cap)
{
	struct httpc *c = k->c;

	for (;;) {
		ssize_t n;
		int rc;

		if (c->tls) {
			n = gnutls_record_recv(c->tls, b, cap);
			if (n >= 0)
				return n;
			/* No close_notify: an end all the same; the parser
			 * knows whether the answer was complete. */
			if (n == GNUTLS_E_PREMATURE_TERMINATION)
				return 0;
			if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
				return say(k, -ECONNRESET, "TLS receive: %s",
					   gnutls_strerror((int)n));
		} else {
			n = recv(c->fd, b, cap, 0);
			if (n >= 0)
				return n;
			if (errno != EAGAIN && errno != EINTR)
				return say(k, -errno, "receive: %s",
					   strerror(errno));
		}
		rc = wait_fd(k, c->fd, POLLIN, k->deadline);
		if (rc < 0)
			return timeout_msg(k, rc, "answer");
	}
}

/* Reads one answer into c->resp. Returns 1 (complete), a negative code,
 * or 0 when the connection ended (or failed) before any answer byte, which
 * the caller may retry on a fresh connection. */
static int read_answer(struct call *k, bool *leftover)
{
	struct httpc *c = k->c;
	uint8_t b[16384];

	httpmsg_resp_reset(c->resp);
	for (;;) {
		ssize_t n = recv_some(k, b, sizeof(b));
		size_t used = 0;
		int rc;

		if (n < 0 && !httpmsg_resp_started(c->resp) &&
		    (n == -ECONNRESET || n == -EPIPE))
			return 0;
		if (n < 0)
			return (int)n;
		if (n == 0) {
			if (!httpmsg_resp_started(c->resp))
				return 0;
			rc = httpmsg_resp_eof(c->resp);
		} else {
			k->got += (size_t)n;
			rc = httpmsg_resp_feed(c->resp, b, (size_t)n, &used);
			*leftover = rc == 1 && used < (size_t)n;
		}
		if (rc == 1)
			return 1;
		if (rc < 0)
			return say(k, rc, "bad answer: %s",
				   httpmsg_resp_why(c->resp));
	}
}

int httpc_request(struct httpc *c, const struct httpc_req *rq,
		  struct httpc_resp *resp, char *err, size_t errlen)
{
	struct call k = {.c = c, .rq = rq,
			 .deadline = clock_mono_ms() + rq->timeout_ms,
			 .err = err, .errlen = errlen};
	struct httpmsg_url u;
	bool reused, leftover = false;
	const char *body;
	size_t len;
	int rc;

	err[0] = '\0';
	memset(resp, 0, sizeof(*resp));
	rc = httpmsg_url_parse(rq->url, &u);
	if (rc < 0)
		return say(&k, WEFT_ERR_INVAL, "bad URL %s", rq->url);
	buf_reset(&c->out);
	rc = httpmsg_request(&c->out, &(struct httpmsg_req){
		.method = rq->method, .url = &u, .user_agent = c->user_agent,
		.authorization = rq->authorization,
		.content_type = "application/json", .body = rq->body});
	if (rc < 0) {
		say(&k, rc, "cannot form the request: %s", weft_strerror(rc));
		goto out;
	}
	if (!conn_usable(c, &u))
		disconnect(c);
	reused = c->fd >= 0;
	for (;;) {
		if (c->fd < 0) {
			rc = open_conn(&k, &u);
			if (rc < 0)
				goto out;
		}
		rc = send_all(&k, c->out.data, c->out.len);
		if (rc == 0)
			rc = read_answer(&k, &leftover);
		if (rc == 1)
			break;
		disconnect(c);
		/* A kept connection the server closed meanwhile: once more on
		 * a new one. */
		if (reused && (rc == 0 || rc == -EPIPE || rc == -ECONNRESET)) {
			reused = false;
			err[0] = '\0';
			continue;
		}
		if (rc == 0)
			rc = say(&k, WEFT_ERR_PROTO, "connection closed "
				 "without an answer");
		goto out;
	}
	body = httpmsg_resp_body(c->resp, &len);
	resp->body = malloc(len + 1);
	if (!resp->body) {
		rc = say(&k, WEFT_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(resp->body, body, len);
	resp->body[len] = '\0';
	resp->len = len;
	resp->status = httpmsg_resp_status(c->resp);
	resp->gzipped = httpmsg_resp_gzipped(c->resp);
	resp->wire_len = httpmsg_resp_wire_len(c->resp);
	if (!httpmsg_resp_keep_alive(c->resp) || leftover)
		disconnect(c);
	rc = 0;
out:
	if (rc < 0)
		disconnect(c);
	/* the request may hold the node credential */
	if (c->out.data)
		explicit_bzero(c->out.data, c->out.len);
	buf_reset(&c->out);
	httpmsg_resp_reset(c->resp);
	return rc;
}
