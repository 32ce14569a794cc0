/* Fixtures for the integration tests: short request helpers, JSON lookups,
 * and the objects most tests need (users, keys, registered nodes). They
 * check nothing themselves; they return what the server answered so the
 * tests can assert it. */
#ifndef WEFT_FX_H
#define WEFT_FX_H

#include "ih.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define FX_KEY_SIZE 128
#define FX_PUBKEY_SIZE 64

/* Sends a request and returns the HTTP status, or -1 when no answer came.
 * *json (may be NULL) gets the parsed answer or NULL; caller decrefs. */
long fx_req(struct ih *h, const char *method, const char *path,
	    const char *token, const char *body, json_t **json);

/* Like fx_req with the body built by printf from fmt. */
long fx_reqf(struct ih *h, const char *method, const char *path,
	     const char *token, json_t **json, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Looks up a dotted path ("error.code", "node.ipv4", "filters.0.protocol":
 * numbers index arrays) in obj. fx_str gives
 * NULL and fx_int -1 when the value is missing or of another type. */
json_t *fx_get(const json_t *obj, const char *path);
const char *fx_str(const json_t *obj, const char *path);
int64_t fx_int(const json_t *obj, const char *path);
bool fx_is_null(const json_t *obj, const char *path);
bool fx_is_true(const json_t *obj, const char *path);

/* True when obj.path is an RFC 3339 time within slack seconds of want. */
bool fx_time_near(const json_t *obj, const char *path, int64_t want,
		  int64_t slack);

/* True when addr (text) lies in prefix (text). */
bool fx_in_prefix(const char *addr, const char *prefix);

/* True when the array arr holds the string s / an object with this id. */
bool fx_has_str(const json_t *arr, const char *s);
bool fx_has_id(const json_t *arr, int64_t id);

/* Creates a user (role NULL = default). Returns its id or -1. */
int64_t fx_user(struct ih *h, const char *token, const char *name,
		const char *role);

/* Creates an API key for user_id (0 = none). Writes the key text and
 * returns its id, or -1. */
int64_t fx_apikey(struct ih *h, const char *token, int64_t user_id,
		  char key[FX_KEY_SIZE]);

/* Creates an auth key from the JSON body (NULL = a one-off key tagged
 * tag:test: a key of no user must carry tags). Auth-key tags must be
 * declared in the policy's tagOwners (and owned by the key's user): tags
 * the current policy lacks are added first, as an admin would, which
 * saves a new policy version. Writes the key text and returns its id, or
 * -1. */
int64_t fx_authkey(struct ih *h, const char *token, const char *body,
		   char key[FX_KEY_SIZE]);

/* A fresh Ed25519 public key in base64 (44 characters). Returns 0 or a
 * negative code. */
int fx_pubkey(char out[FX_PUBKEY_SIZE]);

/* Registers a node with a fresh public key. routes is a JSON array text or
 * NULL. Returns the status; *answer (may be NULL) the answer. */
long fx_register(struct ih *h, const char *authkey, const char *hostname,
		 const char *routes, json_t **answer);

/* A registered node as the map tests need it. */
struct fx_node {
	int64_t id;
	char name[64];
	char cred[FX_KEY_SIZE]; /* "weft_node_..." */
	int64_t version;        /* the last map version the test saw */
};

/* Registers a node (fx_register) and fills *out. Returns the status. */
long fx_node_register(struct ih *h, const char *authkey, const char *hostname,
		      struct fx_node *out);

/* GET /api/v1/map as node n, with ?since= when since >= 0. Returns the
 * status; *json (may be NULL) the answer. On 200 n->version is updated. */
long fx_map(struct ih *h, struct fx_node *n, int64_t since, json_t **json);

/* POST /api/v1/endpoints as node n with one endpoint. Returns the status. */
long fx_endpoints(struct ih *h, const struct fx_node *n, const char *ep);

/* PUT /api/v1/policy with doc. Returns the status; *json the answer. */
long fx_policy(struct ih *h, const char *token, const char *doc,
	       json_t **json);

/* True when the array of objects arr holds exactly the ids given (any
 * order); ids ends with 0. */
bool fx_ids_are(const json_t *arr, const int64_t *ids);

/* Fetches every page of a list at path (no query string, or one ending in
 * '&'-joinable parameters: "?user_id=3") with the given limit. Returns the
 * concatenated items (caller decrefs) or NULL after reporting a failure
 * through check_report: a page that is not 200, a next_cursor that is not
 * null after a short page or null after a full page that has more, a
 * repeated id. *pages (may be NULL) gets the number of pages read. */
json_t *fx_list_all(struct ih *h, const char *token, const char *path,
		    int limit, int *pages);

/* Counts audit rows with this action (exact, or a prefix when it ends in
 * '.'), target type and target id (NULL = any). -1 on failure. */
int fx_audit_count(struct ih *h, const char *token, const char *action,
		   const char *target_type, const char *target_id);

/* Runs SQL directly on the controller's database, behind its back (to age
 * a key past its expiry, say). Returns 0 or a negative code. */
int fx_sql(struct ih *h, const char *sql);

/* Compares two PEM texts ignoring whitespace. */
bool fx_pem_eq(const char *a, const char *b);

/* Writes text to a new file name in the test's directory (check_tmpdir).
 * Returns its path, valid until four more calls, or NULL on failure. */
const char *fx_write_file(const char *name, const char *text);

#endif
