/* The agent's state directory: the node key (node.key, written by
 * shared/ident, 0600) and, after registration, the node credential
 * (credential.json, 0600), in a directory of mode 0700.
 *
 * credential.json: {"controller": URL, "node_id": N, "credential":
 * "weft_node_..."}. It is bound to the controller URL it came from: a
 * different --controller registers again. Functions here do file I/O only
 * and are safe to call from any thread (no shared state). */
#ifndef WEFT_AGENT_STATEDIR_H
#define WEFT_AGENT_STATEDIR_H

#include <stdbool.h>
#include <stdint.h>

struct ident;

#define STATEDIR_CRED_SIZE 256
#define STATEDIR_URL_SIZE 512

/* A stored node credential (a plain value type). */
struct statedir_cred {
	int64_t node_id;
	char credential[STATEDIR_CRED_SIZE];
	char controller[STATEDIR_URL_SIZE];
};

/* Creates dir (and missing parents) with mode 0700, or tightens an
 * existing dir to 0700. Returns 0 or -errno (-ENOTDIR when dir is a file). */
int statedir_prepare(const char *dir);

/* Loads dir/node.key, or generates a key and saves it there when the file
 * does not exist (*created then true). Returns 0 and *out (free with
 * ident_del), or a negative code from shared/ident (-errno, WEFT_ERR_PARSE
 * for a damaged key file: it is never overwritten). */
int statedir_identity(const char *dir, struct ident **out, bool *created);

/* Loads dir/credential.json into *out. Returns 0, -ENOENT when there is
 * none, WEFT_ERR_PARSE when it is damaged, -errno; *out untouched on
 * failure. */
int statedir_cred_load(const char *dir, struct statedir_cred *out);

/* Writes c to dir/credential.json atomically (temporary file, fsync,
 * rename) with mode 0600. Returns 0, WEFT_ERR_NOMEM or -errno. */
int statedir_cred_save(const char *dir, const struct statedir_cred *c);

/* Removes dir/credential.json (the next start registers again). Returns 0
 * (also when there was none) or -errno. */
int statedir_cred_remove(const char *dir);

#endif
