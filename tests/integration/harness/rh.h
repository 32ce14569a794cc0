/* The relay integration-test harness: runs the real weft-relay and
 * weft-relay-probe binaries (found under WEFT_BUILD_DIR/relay) and reads
 * the probe's JSON lines. Relays need no database and no controller: the
 * tests sign relay tokens themselves (token_keygen/token_sign).
 *
 * Every child gets SIGKILL when the test process dies
 * (PR_SET_PDEATHSIG); start children from the main thread only. */
#ifndef WEFT_RH_H
#define WEFT_RH_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/* One running relay; fields read-only for tests. */
struct rh_relay {
	pid_t pid;           /* 0 once reaped */
	int port;            /* UDP port */
	int metrics_port;    /* 0 without --metrics-listen */
	char pin[64];        /* "relay pin: ..." */
	char dir[512];       /* its key and log live here */
	char log_path[600];  /* its stderr */
	char key_path[600];
	char ckey_path[600]; /* the controller public key file */
};

/* Relay tests need no database and run in the sqlite registration of
 * their ctest test only: true (after saying so) under another backend. */
bool rh_skip_unless_sqlite(void);

/* A temporary directory for relay files, created on first use. Holds
 * the token keys: priv.pem/pub.pem (the controller's) and
 * other_priv.pem/other_pub.pem (a stranger's). */
const char *rh_dir(void);

/* The controller key pair (PEM text, owned by the harness). */
const char *rh_priv(void);
const char *rh_pub(void);
/* A second, unrelated key pair. */
const char *rh_other_priv(void);

/* Signs a token for node with iat/exp relative to now (seconds) with
 * priv and writes it to a new file; returns its path (static storage,
 * valid until the next call... copy it) or NULL. */
const char *rh_token_file(const char *priv, long long node, long iat_rel,
			  long exp_rel, char *path, size_t n);

/* Writes text to a new file in rh_dir() named name; path in out. */
int rh_write_file(const char *name, const char *text, char *out, size_t n);

/* Starts weft-relay --listen 127.0.0.1:PORT (0: any) with the key file
 * name (in rh_dir) and the controller key file, metrics on 127.0.0.1:0,
 * plus extra flags (NULL-terminated, may be NULL). Waits up to 10 s for
 * its "relay listening on" line. Returns 0 or a negative code. */
int rh_relay_start(int port, const char *key_name, const char *const *extra,
		   struct rh_relay *out);

/* Sends sig and waits up to timeout_ms for the exit; then SIGKILL. Returns
 * the exit status (0 clean, the code, or 128 + signal) and *elapsed_ms. */
int rh_relay_stop(struct rh_relay *r, int sig, int timeout_ms,
		  long *elapsed_ms);

/* Prints the relay's log to stderr. */
void rh_relay_dump_log(const struct rh_relay *r);

/* Whether the relay's log contains needle. */
bool rh_relay_log_has(const struct rh_relay *r, const char *needle);

struct rh_probe {
	pid_t pid;
	int out_fd;
	char buf[65536];
	size_t len;
	char log_path[600];
};

/* Starts weft-relay-probe against r with the token file and extra flags
 * (NULL-terminated). Returns 0 or a negative code. */
int rh_probe_start(const struct rh_relay *r, const char *token_file,
		   const char *const *extra, struct rh_probe *p);

/* Reads the probe's JSON lines until one has "event" equal to event, up
 * to timeout_ms. Returns 0 and *obj (caller decrefs; obj may be NULL), or
 * -ETIMEDOUT / -EPIPE (the probe exited) after printing what it saw. */
int rh_probe_event(struct rh_probe *p, const char *event, int timeout_ms,
		   json_t **obj);

/* Waits up to timeout_ms for the probe to exit (then SIGKILL). Returns
 * its exit status as rh_relay_stop does. */
int rh_probe_wait(struct rh_probe *p, int timeout_ms);

/* GET http://127.0.0.1:port/path. Returns 0 and *body (malloc'd) with
 * *status, or a negative code. */
int rh_http_get(int port, const char *path, long *status, char **body);

#endif
