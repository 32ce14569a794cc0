/* SQLite is single-process: one `serve` per database file. datalock takes
 * an exclusive flock on "<db file>.serve.lock" for as long as serve runs,
 * so a second serve on the same database refuses to start with a clear
 * message. The admin CLI does not take it (SQLite's own locking keeps its
 * short transactions safe beside a running serve). PostgreSQL needs no
 * such lock: replicas share it by design. */
#ifndef WEFT_DATALOCK_H
#define WEFT_DATALOCK_H

#include <stddef.h>

struct datalock;

/* Takes the lock of the database at url. For a non-SQLite url *out is NULL
 * and 0 is returned. Returns WEFT_ERR_BUSY when another process holds it
 * (errmsg names the lock file and, when known, that process), or another
 * negative code (errmsg says why). */
int datalock_take(const char *url, struct datalock **out, char *errmsg,
		  size_t errlen);

/* Releases the lock and frees it (the lock file stays). NULL ok. */
void datalock_release(struct datalock *l);

#endif
