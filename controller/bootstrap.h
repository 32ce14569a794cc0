/* The first admin API key of a new database: without it there is no way
 * in to a fresh deployment.
 *
 * When the database has no API key yet, bootstrap_key() makes one:
 * - with no file: a random key, whose text the caller shows once;
 * - with a file that exists: the API key written in it (e.g. a Kubernetes
 *   Secret the Helm chart generated, mounted as a file) is adopted, so the
 *   admin already holds it; anything but one well-formed weft_api_ key is
 *   an error;
 * - with a file that does not exist: a random key written there (created
 *   with mode 0600, never overwriting), so it reaches neither the terminal
 *   nor a log (systemd's journal).
 * Only the key's hash is stored in the database, as for every key. */
#ifndef WEFT_BOOTSTRAP_H
#define WEFT_BOOTSTRAP_H

#include "controller/cred.h"
#include "controller/store.h"

enum bootstrap_result {
	BOOTSTRAP_NONE,    /* the database has an API key: nothing done */
	BOOTSTRAP_SHOWN,   /* made a key; its text is in text (no file) */
	BOOTSTRAP_WRITTEN, /* made a key and wrote it to the file */
	BOOTSTRAP_ADOPTED, /* took the key the file holds */
};

/* Longest key file read: one key, whitespace around it allowed. */
#define BOOTSTRAP_FILE_MAX 256

/* See above. text gets the key only for BOOTSTRAP_SHOWN (else ""); the
 * caller wipes it after showing it. Returns 0, WEFT_ERR_INVAL when the file
 * holds no well-formed API key, -errno when it cannot be read or written,
 * or a store error; on failure the database is unchanged and a file this
 * call created is removed again. */
int bootstrap_key(struct store *st, const char *file,
		  char text[CRED_TEXT_SIZE], enum bootstrap_result *result);

#endif
