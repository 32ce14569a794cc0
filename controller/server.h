/* The controller's HTTP(S) listener: libmicrohttpd glue around api_handle().
 *
 * libmicrohttpd runs a small pool of internal epoll threads with
 * suspend/resume enabled (long-polls are suspended, not parked on threads).
 * Request bodies are read into a bounded buffer; anything over
 * HTTP_BODY_MAX is answered with 413 without being stored. */
#ifndef WEFT_SERVER_H
#define WEFT_SERVER_H

#include "controller/xff.h"

#include <stddef.h>

struct api;
struct server;

struct server_options {
	const char *listen;   /* "127.0.0.1:8080", "[::1]:0", ":443" */
	const char *tls_cert; /* PEM chain path; NULL for plain HTTP */
	const char *tls_key;  /* PEM private key path; with tls_cert */
	unsigned threads;     /* 0 = 2 */
	unsigned max_conns;   /* 0 = 16384 */
	/* Reverse proxies whose X-Forwarded-For names the client
	 * (controller/xff.h); copied; NULL or empty = none. */
	const struct xff_trust *trusted_proxies;
};

/* Binds, loads the TLS certificate if any, and starts serving api
 * (borrowed; must outlive the server). errmsg gets a reason on failure. */
int server_start(const struct server_options *o, struct api *api,
		 struct server **out, char *errmsg, size_t errlen);

/* Stops serving and frees the server. NULL ok. */
void server_stop(struct server *srv);

/* The bound port (useful when listening on port 0). */
int server_port(const struct server *srv);

/* True when serving HTTPS. */
int server_is_tls(const struct server *srv);

/* Reloads the certificate and key from the paths given at start; on error
 * keeps the old pair and fills errmsg. New connections use the new pair. */
int server_reload_tls(struct server *srv, char *errmsg, size_t errlen);

#endif
