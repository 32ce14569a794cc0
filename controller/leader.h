/* Leadership among the controller replicas sharing one database: the
 * singleton jobs (housekeeping: ephemeral node removal, ended sessions,
 * change-feed pruning) run on the leader only.
 *
 * On PostgreSQL the leader is the process holding a session advisory lock
 * on a dedicated connection (store_lock_*). Every replica tries to take it
 * once a second; the leader checks its session still answers at the same
 * pace. When the leader dies its session ends, the server releases the
 * lock, and the next try of another replica takes it: a takeover within
 * about a second (longer only when the leader's host vanished without
 * closing its TCP connection: then the server's keep-alives decide). A
 * leader whose connection breaks steps down at once. A replica that cannot
 * connect retries less often (doubling up to 16 s): each try may cost a
 * connect timeout on the loop. On SQLite the one
 * serve process (controller/datalock.h) is always the leader. */
#ifndef WEFT_LEADER_H
#define WEFT_LEADER_H

#include <stdbool.h>

struct leader;
struct loop;
struct store;

/* Starts trying on loop (borrowed, like st). dsn: the server of the lock's
 * session (NULL = the store's URL; copied). on_elected (may be NULL) runs
 * on the loop's thread when this process becomes the leader. */
int leader_new(struct store *st, const char *dsn, struct loop *loop,
	       void (*on_elected)(void *ctx), void *ctx, struct leader **out);

/* Does this process lead now? Any thread; NULL → false. */
bool leader_is(const struct leader *l);

/* Steps down (closing the lock's session) and frees l; NULL ok. On the
 * loop's thread or after the loop stopped. */
void leader_del(struct leader *l);

#endif
