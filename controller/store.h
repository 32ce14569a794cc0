/* The controller's persistent state, on SQLite or PostgreSQL.
 *
 * One struct store is shared by every thread of the controller. All access
 * goes through a transaction (struct store_tx), which one thread uses at a
 * time. Read transactions see a consistent snapshot and never wait for a
 * writer; write transactions are serialized (on PostgreSQL across every
 * controller replica sharing the database), so a read-modify-write sequence
 * inside one write transaction needs no retry loop. Never open a second
 * write transaction on a thread that already holds one: it would wait for
 * itself.
 *
 * After a statement fails inside a transaction (EXISTS, CONFLICT, DB, ...)
 * the transaction is aborted: further calls on it return WEFT_ERR_INVAL and
 * the caller must store_rollback() it. "Not found" and "too big" are not
 * statement failures and leave the transaction usable.
 *
 * Entities are plain value structs. Strings live in fixed-size arrays whose
 * sizes below include the terminating NUL; a string that does not fit is
 * refused with WEFT_ERR_TOOBIG, never truncated. Timestamps are unix
 * seconds, 0 meaning unset. Ids come from the database and are > 0; an id
 * reference of 0 means "none" (stored as NULL). Lists (tags, endpoints) are
 * carried as JSON array text which the API layer validates; "" is stored as
 * "[]".
 *
 * Secrets never reach the store: api keys, auth keys and node credentials
 * arrive as lower-case hex SHA-256 hashes (`hash`, `cred_hash`), and the
 * caller compares them in constant time.
 *
 * Errors: 0 or a negative WEFT_ERR_* code. WEFT_ERR_NOTFOUND for a missing
 * row, WEFT_ERR_EXISTS for a uniqueness violation, WEFT_ERR_CONFLICT for a
 * foreign key violation, WEFT_ERR_BUSY when the database stayed locked,
 * WEFT_ERR_DB for anything else the engine reports. store_errmsg() then
 * holds a detail message for logs. Out-parameters are untouched on failure. */
#ifndef WEFT_STORE_H
#define WEFT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_tx;

enum store_mode { STORE_READ, STORE_WRITE };

/* Buffer sizes, NUL included. */
#define STORE_NAME_SIZE 64      /* user, node, relay, resource names */
#define STORE_DISPLAY_SIZE 128  /* display names */
#define STORE_EMAIL_SIZE 256
#define STORE_ROLE_SIZE 16      /* "admin" | "member" */
#define STORE_PREFIX_SIZE 32    /* public id part of an api/auth key */
#define STORE_HASH_SIZE 65      /* hex SHA-256 */
#define STORE_DESC_SIZE 256     /* free-text descriptions */
#define STORE_JSON_SIZE 2048    /* tags, endpoints */
#define STORE_KEY_SIZE 128      /* node public key text */
#define STORE_IP_SIZE 48        /* textual IPv4/IPv6 address */
#define STORE_CIDR_SIZE 64      /* textual prefix */
#define STORE_SHORT_SIZE 64     /* os, version, region, protocol */
#define STORE_ADDR_SIZE 272     /* DNS name, IP, CIDR or host:port */
#define STORE_PORTS_SIZE 256    /* "80,443,8000-8100" or "*" */
#define STORE_PIN_SIZE 128      /* relay public key pin */
#define STORE_ACTOR_SIZE 128    /* audit actor */
#define STORE_TARGET_SIZE 128   /* audit target id */
#define STORE_DETAIL_SIZE 4096  /* audit detail JSON */
#define STORE_SETTING_KEY_SIZE 128
#define STORE_POLICY_MAX (4 << 20) /* policy document bytes */

/* Thread-local detail of the last store error on this thread (engine
 * message, constraint, reason). Never NULL; valid until the next store call
 * on this thread. */
const char *store_errmsg(void);

/* Opens the database at url and applies pending migrations.
 *   sqlite:///abs/path.db   sqlite://rel/path.db   (file created if missing)
 *   postgres://...  postgresql://...              (handed to libpq as is)
 * On failure returns WEFT_ERR_INVAL (bad URL), WEFT_ERR_DB (cannot open,
 * migration failed), WEFT_ERR_SCHEMA_NEWER (database newer than this
 * binary), ... and writes a human reason to errmsg (may be NULL). The caller
 * owns *out and releases it with store_close(). */
int store_open(const char *url, struct store **out, char *errmsg,
	       size_t errlen);

/* Closes the store; every transaction must be finished. NULL ok. */
void store_close(struct store *st);

/* "sqlite" or "postgres". */
const char *store_backend(const struct store *st);

/* The newest applied schema migration (0 for none). */
int store_schema_version(struct store *st, int *out);

/* Applies migrations not yet in the database, each in its own write
 * transaction; *applied (may be NULL) gets how many. store_open() already
 * does this; this is for a `migrate` subcommand. */
int store_migrate(struct store *st, int *applied);

/* Starts a transaction. The caller owns *out until store_commit() or
 * store_rollback(). */
int store_begin(struct store *st, enum store_mode mode, struct store_tx **out);

/* Commits and frees tx (also on failure, in which case nothing was
 * written). Returns WEFT_ERR_INVAL for an aborted transaction. */
int store_commit(struct store_tx *tx);

/* Discards the transaction's writes and frees tx. NULL ok. */
void store_rollback(struct store_tx *tx);

/* Cursor pagination: rows with id > after, ascending, at most limit
 * (clamped to 1..1000; 0 means 100). */
struct store_page {
	int64_t after;     /* cursor: the last id of the previous page */
	int limit;
	bool newest_first; /* walk ids downwards (after 0 = from the newest) */
};
#define STORE_PAGE_DEFAULT 100
#define STORE_PAGE_MAX 1000

/* List functions call cb once per row (row valid during the call only). A
 * non-zero return from cb stops the walk and is returned. *next_cursor (may
 * be NULL) gets the last id delivered when more rows follow, else 0.
 * pg NULL means the first default-sized page; filter NULL means all rows. */

/* --- users --- */
struct store_user {
	int64_t id;
	char name[STORE_NAME_SIZE];
	char display_name[STORE_DISPLAY_SIZE];
	char email[STORE_EMAIL_SIZE];
	char role[STORE_ROLE_SIZE]; /* "admin" | "member" */
	int64_t created_at;
};
struct store_user_filter {
	const char *name; /* exact; NULL = any */
};

/* _create fills id, and created_at when it is 0. */
int store_user_create(struct store_tx *tx, struct store_user *u);
int store_user_get(struct store_tx *tx, int64_t id, struct store_user *out);
int store_user_get_by_name(struct store_tx *tx, const char *name,
			   struct store_user *out);
/* Full-row update by id (created_at is kept). */
int store_user_update(struct store_tx *tx, const struct store_user *u);
/* CONFLICT while nodes still belong to the user; the user's api keys and
 * auth keys are deleted with it. */
int store_user_delete(struct store_tx *tx, int64_t id);
int store_user_list(struct store_tx *tx, const struct store_user_filter *f,
		    const struct store_page *pg,
		    int (*cb)(void *ctx, const struct store_user *row),
		    void *ctx, int64_t *next_cursor);

/* --- admin API keys --- */
struct store_apikey {
	int64_t id;
	char prefix[STORE_PREFIX_SIZE]; /* unique public key id */
	char hash[STORE_HASH_SIZE];     /* hex SHA-256 of the secret */
	int64_t user_id;                /* 0 = bootstrap key, no user */
	char description[STORE_DESC_SIZE];
	int64_t expires_at;
	int64_t revoked_at;
	int64_t last_used_at;
	int64_t created_at;
};
struct store_apikey_filter {
	int64_t user_id; /* 0 = any */
};

int store_apikey_create(struct store_tx *tx, struct store_apikey *k);
int store_apikey_get(struct store_tx *tx, int64_t id, struct store_apikey *out);
int store_apikey_get_by_prefix(struct store_tx *tx, const char *prefix,
			       struct store_apikey *out);
int store_apikey_update(struct store_tx *tx, const struct store_apikey *k);
int store_apikey_delete(struct store_tx *tx, int64_t id);
int store_apikey_list(struct store_tx *tx, const struct store_apikey_filter *f,
		      const struct store_page *pg,
		      int (*cb)(void *ctx, const struct store_apikey *row),
		      void *ctx, int64_t *next_cursor);

/* --- login passwords (controller/passwd.h makes and checks the hashes) ---
 * A user's password hash lives beside the user row but is not part of
 * struct store_user, so that nothing that answers or logs users can carry
 * it. "" means no password. */
#define STORE_PWHASH_SIZE 256 /* argon2id encoded string */

/* Writes the user's hash ("" for none) into out. NOTFOUND: no such user. */
int store_user_password_get(struct store_tx *tx, int64_t user_id,
			    char out[STORE_PWHASH_SIZE]);
/* Sets (or with "" clears) the user's hash. NOTFOUND: no such user. */
int store_user_password_set(struct store_tx *tx, int64_t user_id,
			    const char *hash);
/* Calls fn(ctx, id) in id order for every user with first <= id <= last
 * that has a password: whether one is set, never the hash (the users
 * list's has_password). A non-zero return of fn stops and is returned. */
int store_user_password_ids(struct store_tx *tx, int64_t first, int64_t last,
			    int (*fn)(void *ctx, int64_t id), void *ctx);

/* --- browser sessions (cookie logins) ---
 * Like API keys: the cookie carries weft_session_<prefix>_<secret>, the
 * row only the hex SHA-256 of the secret. A session belongs to a user
 * (password login) or carries an API key (api key login, user_id that
 * key's user, 0 for the bootstrap key). Deleting the user or the key
 * deletes its sessions (foreign keys). */
struct store_session {
	int64_t id;
	char prefix[STORE_PREFIX_SIZE];
	char hash[STORE_HASH_SIZE];
	int64_t user_id;   /* 0 = a bootstrap API key's session */
	int64_t apikey_id; /* 0 = password login */
	int64_t expires_at;     /* absolute end */
	int64_t idle_timeout_s; /* ends when unused this long */
	int64_t last_used_at;
	int64_t created_at;
};

int store_session_create(struct store_tx *tx, struct store_session *s);
int store_session_get_by_prefix(struct store_tx *tx, const char *prefix,
				struct store_session *out);
int store_session_update(struct store_tx *tx, const struct store_session *s);
int store_session_delete(struct store_tx *tx, int64_t id);
/* Deletes every session of user_id (password change, role change);
 * *n (may be NULL) gets how many. */
int store_session_delete_user(struct store_tx *tx, int64_t user_id,
			      int64_t *n);
/* Deletes sessions past expires_at or idle past their timeout at now. */
int store_session_delete_stale(struct store_tx *tx, int64_t now, int64_t *n);

/* --- node auth keys (pre-auth keys used to register nodes) --- */
struct store_authkey {
	int64_t id;
	char prefix[STORE_PREFIX_SIZE];
	char hash[STORE_HASH_SIZE];
	int64_t user_id; /* 0 = none (tagged nodes only) */
	int reusable;
	int ephemeral;
	char tags[STORE_JSON_SIZE];
	int64_t expires_at;
	int64_t revoked_at;
	int64_t used_count;
	int64_t created_at;
};
struct store_authkey_filter {
	int64_t user_id;     /* 0 = any */
	int include_revoked; /* 0 = only keys with revoked_at == 0 */
};

int store_authkey_create(struct store_tx *tx, struct store_authkey *k);
int store_authkey_get(struct store_tx *tx, int64_t id,
		      struct store_authkey *out);
int store_authkey_get_by_prefix(struct store_tx *tx, const char *prefix,
				struct store_authkey *out);
int store_authkey_update(struct store_tx *tx, const struct store_authkey *k);
int store_authkey_delete(struct store_tx *tx, int64_t id);
/* Increments used_count. */
int store_authkey_use(struct store_tx *tx, int64_t id);
int store_authkey_list(struct store_tx *tx,
		       const struct store_authkey_filter *f,
		       const struct store_page *pg,
		       int (*cb)(void *ctx, const struct store_authkey *row),
		       void *ctx, int64_t *next_cursor);

/* --- nodes --- */
struct store_node {
	int64_t id;
	char name[STORE_NAME_SIZE];
	int64_t user_id; /* 0 = tagged node */
	char public_key[STORE_KEY_SIZE];
	char ipv4[STORE_IP_SIZE]; /* "" = none; unique otherwise */
	char ipv6[STORE_IP_SIZE]; /* "" = none; unique otherwise */
	char tags[STORE_JSON_SIZE];
	char os[STORE_SHORT_SIZE];
	char version[STORE_SHORT_SIZE];
	char cred_hash[STORE_HASH_SIZE];
	char endpoints[STORE_JSON_SIZE];
	char home_relay[STORE_NAME_SIZE];
	int64_t last_seen;
	int online;
	int64_t expires_at;
	int ephemeral;
	int64_t auth_key_id; /* 0 = none; cleared when the key is deleted */
	int64_t created_at;
	int64_t updated_at;
};
struct store_node_filter {
	int64_t user_id; /* 0 = any */
	const char *tag; /* NULL = any; else tags contains this tag */
	int online;      /* -1 = any, 0, 1 */
};

/* _create sets updated_at to created_at when it is 0; _update sets
 * updated_at to now. */
int store_node_create(struct store_tx *tx, struct store_node *n);
int store_node_get(struct store_tx *tx, int64_t id, struct store_node *out);
int store_node_get_by_name(struct store_tx *tx, const char *name,
			   struct store_node *out);
int store_node_get_by_key(struct store_tx *tx, const char *public_key,
			  struct store_node *out);
int store_node_get_by_ipv4(struct store_tx *tx, const char *ipv4,
			   struct store_node *out);
int store_node_update(struct store_tx *tx, const struct store_node *n);
/* Deletes the node and its routes; resources it served lose it (their
 * other connectors stay). */
int store_node_delete(struct store_tx *tx, int64_t id);
/* Sets last_seen and online only. */
int store_node_touch(struct store_tx *tx, int64_t id, int64_t last_seen,
		     int online);
/* Counts nodes; online -1 = any. */
int store_node_count(struct store_tx *tx, int online, int64_t *n);
int store_node_list(struct store_tx *tx, const struct store_node_filter *f,
		    const struct store_page *pg,
		    int (*cb)(void *ctx, const struct store_node *row),
		    void *ctx, int64_t *next_cursor);

/* --- subnet routes advertised by nodes --- */
struct store_route {
	int64_t id;
	int64_t node_id;
	char prefix[STORE_CIDR_SIZE];
	int advertised;
	int approved;
	int64_t created_at;
};
struct store_route_filter {
	int64_t node_id; /* 0 = any */
};

/* EXISTS for a second (node_id, prefix). */
int store_route_create(struct store_tx *tx, struct store_route *r);
int store_route_get(struct store_tx *tx, int64_t id, struct store_route *out);
int store_route_update(struct store_tx *tx, const struct store_route *r);
int store_route_delete(struct store_tx *tx, int64_t id);
int store_route_list(struct store_tx *tx, const struct store_route_filter *f,
		     const struct store_page *pg,
		     int (*cb)(void *ctx, const struct store_route *row),
		     void *ctx, int64_t *next_cursor);

/* --- resources served by connectors ---
 * filters and connector_tags are JSON array text the API layer validates
 * (controller/resource.h); connector nodes live in their own table, so a
 * deleted node leaves every resource it served. mapped_ipv4/ipv6 are the
 * prefixes of a DNS or wildcard resource in the reserved mapped range
 * ("" for none; unique). */
#define STORE_RES_CONNECTORS_MAX 16
struct store_resource {
	int64_t id;
	char name[STORE_NAME_SIZE];
	char address[STORE_ADDR_SIZE]; /* IP, CIDR, DNS name, *.name, internet */
	char filters[STORE_JSON_SIZE];
	int64_t connector_nodes[STORE_RES_CONNECTORS_MAX]; /* ascending */
	size_t nconnector_nodes;
	char connector_tags[STORE_JSON_SIZE];
	char mapped_ipv4[STORE_CIDR_SIZE];
	char mapped_ipv6[STORE_CIDR_SIZE];
	int64_t created_at;
};

/* _create and _update write the connector nodes too (CONFLICT for a node
 * that does not exist, INVAL for more than STORE_RES_CONNECTORS_MAX). */
int store_resource_create(struct store_tx *tx, struct store_resource *r);
int store_resource_get(struct store_tx *tx, int64_t id,
		       struct store_resource *out);
int store_resource_get_by_name(struct store_tx *tx, const char *name,
			       struct store_resource *out);
int store_resource_update(struct store_tx *tx, const struct store_resource *r);
int store_resource_delete(struct store_tx *tx, int64_t id);
int store_resource_list(struct store_tx *tx, const struct store_page *pg,
			int (*cb)(void *ctx, const struct store_resource *row),
			void *ctx, int64_t *next_cursor);

/* --- relays --- */
struct store_relay {
	int64_t id;
	char name[STORE_NAME_SIZE];
	char region[STORE_SHORT_SIZE];
	char address[STORE_ADDR_SIZE]; /* host:port */
	char public_key_pin[STORE_PIN_SIZE];
	int64_t created_at;
};

int store_relay_create(struct store_tx *tx, struct store_relay *r);
int store_relay_get(struct store_tx *tx, int64_t id, struct store_relay *out);
int store_relay_get_by_name(struct store_tx *tx, const char *name,
			    struct store_relay *out);
int store_relay_update(struct store_tx *tx, const struct store_relay *r);
int store_relay_delete(struct store_tx *tx, int64_t id);
int store_relay_list(struct store_tx *tx, const struct store_page *pg,
		     int (*cb)(void *ctx, const struct store_relay *row),
		     void *ctx, int64_t *next_cursor);

/* --- audit log (append-only) --- */
struct store_audit {
	int64_t id;
	int64_t at; /* set to now when 0 */
	char actor[STORE_ACTOR_SIZE];
	char action[STORE_SHORT_SIZE];
	char target_type[STORE_SHORT_SIZE];
	char target_id[STORE_TARGET_SIZE];
	char detail[STORE_DETAIL_SIZE]; /* JSON; "" is stored as "{}" */
};
struct store_audit_filter {
	const char *actor;       /* NULL = any */
	const char *action;      /* NULL = any */
	const char *target_type; /* NULL = any */
	int64_t since;           /* at >= since; 0 = any */
	int64_t until;           /* at <= until; 0 = any */
};

int store_audit_create(struct store_tx *tx, struct store_audit *a);
int store_audit_list(struct store_tx *tx, const struct store_audit_filter *f,
		     const struct store_page *pg,
		     int (*cb)(void *ctx, const struct store_audit *row),
		     void *ctx, int64_t *next_cursor);

/* --- policy (versioned document) --- */
struct store_policy {
	int64_t version;
	char *document; /* malloc'd, owned by the struct */
	char author[STORE_ACTOR_SIZE];
	int64_t created_at;
};

/* Appends a new version (document copied; at most STORE_POLICY_MAX bytes);
 * *version (may be NULL) gets its number. */
int store_policy_put(struct store_tx *tx, const char *document,
		     const char *author, int64_t *version);
/* The newest version; NOTFOUND when none was ever put. The caller releases
 * out with store_policy_free(). */
int store_policy_get_current(struct store_tx *tx, struct store_policy *out);
int store_policy_get(struct store_tx *tx, int64_t version,
		     struct store_policy *out);
/* Frees out->document (the struct itself is the caller's). NULL ok. */
void store_policy_free(struct store_policy *p);

/* --- network map version (one monotonically increasing counter) --- */
int store_netmap_version(struct store_tx *tx, int64_t *v);
/* Increments the version and returns the new one in *newv (may be NULL). */
int store_netmap_bump(struct store_tx *tx, int64_t *newv);

/* --- change feed ---
 * Every change that can alter some node's network map is recorded in the
 * same write transaction: store_change_record bumps the netmap version and
 * appends (version, kind, target_id). Kinds: "node", "resource", "relay",
 * "policy", "user". Readers apply the rows after the last version they
 * saw. On PostgreSQL the commit also notifies listeners (see
 * store_listen_*), so other replicas need not poll. */
struct store_change {
	int64_t version;
	char kind[16];
	int64_t target_id;
	int64_t at;
};

/* *version (may be NULL) gets the new netmap version. */
int store_change_record(struct store_tx *tx, const char *kind,
			int64_t target_id, int64_t *version);
/* Calls cb for changes with version > after, ascending, at most limit
 * (1..10000). */
int store_change_list(struct store_tx *tx, int64_t after, int limit,
		      int (*cb)(void *ctx, const struct store_change *c),
		      void *ctx);
/* Deletes changes with version <= upto. */
int store_change_prune(struct store_tx *tx, int64_t upto);
/* The oldest version still in the feed (0 when empty). */
int store_change_oldest(struct store_tx *tx, int64_t *version);

/* Listening for commits made by other processes. WEFT_ERR_UNSUPPORTED on
 * SQLite (poll store_change_list there). The listener has its own
 * connection; poll its fd for readability and call store_listen_drain,
 * which returns the number of notifications consumed (>= 0) or an error
 * when the connection broke (close and reopen it then). dsn names the
 * server for this one connection (NULL: the store's URL), for deployments
 * whose pooler cannot hold a session (serve --listen-dsn). */
struct store_listen;
int store_listen_open(struct store *st, const char *dsn,
		      struct store_listen **out);
int store_listen_fd(struct store_listen *l);
/* Does the backend notify listeners (PostgreSQL)? */
bool store_listen_supported(const struct store *st);
int store_listen_drain(struct store_listen *l);
void store_listen_close(struct store_listen *l);

/* A lock that one process at a time holds among all that share the
 * database (PostgreSQL: a session advisory lock on a dedicated connection
 * to dsn, NULL = the store's URL), released when the holder's connection
 * ends, so that another process can take it over within its next try.
 * store_lock_open returns WEFT_ERR_UNSUPPORTED when one process owns the
 * database anyway (SQLite). store_lock_try returns 1 when this process
 * holds the lock (and its connection still answers), 0 when another does,
 * or an error when the connection broke (close, reopen later: the lock is
 * lost). Not thread-safe: one thread uses a lock. */
struct store_lock;
int store_lock_open(struct store *st, const char *dsn, int64_t key,
		    struct store_lock **out);
int store_lock_try(struct store_lock *l);
/* Does the backend have such locks (PostgreSQL)? */
bool store_lock_supported(const struct store *st);
void store_lock_close(struct store_lock *l);

/* --- deployment-wide settings --- */
/* Copies the value into buf; NOTFOUND when unset, TOOBIG when it does not
 * fit in cap bytes (NUL included). */
int store_setting_get(struct store_tx *tx, const char *key, char *buf,
		      size_t cap);
/* Inserts or replaces. */
int store_setting_set(struct store_tx *tx, const char *key, const char *value);
/* Removes the setting; 0 also when it was not set. */
int store_setting_delete(struct store_tx *tx, const char *key);

#endif
