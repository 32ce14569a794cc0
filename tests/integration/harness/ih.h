/* The integration-test harness: runs the real weft-controller binary and
 * talks to it over HTTP(S) with libcurl.
 *
 * ih_new() starts `weft-controller serve --listen 127.0.0.1:0` on a fresh
 * database of the backend named by WEFT_STORE_BACKEND (sqlite, the default,
 * or postgres: a new database on the server of tests/harness/pg.sh found
 * through WEFT_PG_DIR, dropped again by ih_del). It reads the controller's
 * stdout up to the "listening on" line and keeps the bootstrap API key
 * printed before it. The controller's stderr (its log) goes to a file in
 * its data directory and is printed when startup fails or the process does
 * not exit cleanly.
 *
 * No controller outlives the test process: each one gets SIGKILL when the
 * test process dies (PR_SET_PDEATHSIG), and an atexit handler stops those
 * still running at exit. Start controllers from the main thread only (the
 * death signal follows the thread that forked). ih_call and ih_call_raw
 * may be called from many threads at once; each call uses its own libcurl
 * easy handle and a new connection. */
#ifndef WEFT_IH_H
#define WEFT_IH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ih_opts {
	const char *tls_cert; /* serve HTTPS with this PEM file; NULL = HTTP */
	const char *tls_key;  /* its key, with tls_cert */
	/* More serve flags, NULL-terminated ({"--poll-keepalive", "1s",
	 * NULL}); NULL = none. At most 16. */
	const char *const *serve_args;
};

/* One running controller. The fields are read-only for tests. */
struct ih {
	pid_t pid;                /* 0 once stopped */
	int port;
	char url[128];            /* "http://127.0.0.1:PORT" (or https) */
	char db_url[768];         /* the database the controller uses */
	char data_dir[512];
	char bootstrap_key[128];  /* "weft_api_...", printed at first start */
	char cainfo[512];         /* CA file for HTTPS calls ("" = none) */
	char log_path[600];       /* the controller's stderr */
	char db_name[64];         /* PostgreSQL database to drop */
	int out_fd;               /* read end of the controller's stdout */
};

/* True when WEFT_STORE_BACKEND says postgres. */
bool ih_backend_is_pg(void);

/* Starts a controller on a fresh database (o may be NULL). Waits up to
 * 30 s for it to listen. Returns 0 and the heap handle in *out, or a
 * negative code after printing why to stderr. */
int ih_new(const struct ih_opts *o, struct ih **out);

/* Starts another controller (a replica) on the database of of, with its
 * own data directory and log, and of's bootstrap key for the tests' calls.
 * Its ih_del leaves the database to of. On SQLite the second serve on
 * one database refuses to start: this then fails. */
int ih_replica(const struct ih *of, const struct ih_opts *o, struct ih **out);

/* Stops the controller (SIGTERM, SIGKILL after 5 s), reaps it, drops its
 * PostgreSQL database and frees h. Returns its exit status: 0 for a clean
 * exit, the exit code, or 128 + the signal that ended it. NULL h → 0. */
int ih_del(struct ih *h);

/* Starts h's controller again after it died or was killed (ih_signal
 * SIGKILL): reaps the old process, then runs `serve` on the same port,
 * data directory and database (plain HTTP, no other flags) and waits up
 * to 30 s for it to listen. Returns 0 or a negative code (printed). */
int ih_restart(struct ih *h);

/* Sends sig to the running controller. Returns 0 or -errno. */
int ih_signal(struct ih *h, int sig);

/* Prints the controller's log (its stderr so far) to stderr. */
void ih_dump_log(const struct ih *h);

/* Sends one request. method "GET", "POST", ...; path with query string;
 * token the bearer token or NULL for no Authorization header; body the
 * JSON text or NULL for none. On success *status holds the HTTP status and,
 * when json is not NULL, *json the parsed answer (NULL for an empty body;
 * caller decrefs). Returns 0, -EIO when no HTTP answer arrived (the
 * libcurl error is printed), or WEFT_ERR_PARSE for a non-JSON answer. */
int ih_call(struct ih *h, const char *method, const char *path,
	    const char *token, const char *body, long *status, json_t **json);

/* Like ih_call with a body of body_len bytes (body may hold anything) and
 * the answer as raw text: *text is malloc'd, NUL-terminated, and owned by
 * the caller; *text_len (may be NULL) its length. */
int ih_call_raw(struct ih *h, const char *method, const char *path,
		const char *token, const char *body, size_t body_len,
		long *status, char **text, size_t *text_len);

/* Like ih_call_raw without a bearer token, with extra request headers
 * (NULL-terminated "Name: value" list, may be NULL; a browser's Cookie,
 * Origin, ...) and the answer's headers: *resp_headers (may be NULL) gets
 * the raw header block, malloc'd, caller frees. */
int ih_call_headers(struct ih *h, const char *method, const char *path,
		    const char *const *headers, const char *body, long *status,
		    char **text, char **resp_headers);

/* Opens a new HTTPS connection to the controller, trusting h->cainfo, and
 * returns the certificate it served as PEM text in *pem (malloc'd, caller
 * frees). Returns 0 or a negative code (also when the handshake or the
 * certificate check failed). */
int ih_peer_cert(struct ih *h, char **pem);

/* Runs `weft-controller GROUP VERB --db <h's database> ARGS...` (the
 * variadic arguments, ended by NULL; verb NULL for a group without
 * subcommands, like relay-key) and waits up to 60 s for it. *out gets
 * its stdout (malloc'd, NUL-terminated, caller frees) and *exit_status its
 * exit status as ih_del reports it. Its stderr is appended to the log.
 * Returns 0 when it ran, negative when it could not be run. */
int ih_cli(struct ih *h, char **out, int *exit_status, const char *group,
	   const char *verb, ...) __attribute__((sentinel));

/* ih_cli with input (at most 4 KiB) as the command's standard input
 * instead of the test's own. Main thread only. */
int ih_cli_input(struct ih *h, const char *input, char **out,
		 int *exit_status, const char *group, const char *verb, ...)
	__attribute__((sentinel));

/* Runs sql on the maintenance database of the PostgreSQL server the tests
 * use (CREATE/DROP DATABASE). Returns 0 or a negative code. */
int ih_pg_admin(const char *sql);

/* Reads a whole file into a malloc'd NUL-terminated string. Returns 0 or a
 * negative code. */
int ih_read_file(const char *path, char **text);

#endif
