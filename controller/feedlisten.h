/* The change feed's LISTEN connection of one controller process: one
 * dedicated, unpooled session (store_listen_*) watched by an event loop.
 *
 * It tells its owner (the long-poll hub) when another process committed a
 * change (a notification arrived), and when the connection came back after
 * it was lost (or could not be opened): notifications sent meanwhile are
 * gone, so the owner must read the whole feed after its last version then.
 * A lost connection is reopened by feedlisten_tick, which the owner calls
 * every second or so (after failed tries less often, up to every 30 s). On SQLite there is nothing to listen to: the owner's
 * feed poll is all there is, and feedlisten_up is true. All calls but
 * feedlisten_up on the loop's thread. */
#ifndef WEFT_FEEDLISTEN_H
#define WEFT_FEEDLISTEN_H

#include <stdbool.h>

struct feedlisten;
struct loop;
struct store;

/* on_change(ctx, catch_up): catch_up is false for a notification, true
 * after a reconnect. dsn: the server of the LISTEN session (NULL = the
 * store's URL; copied). A first connection that fails is not an error: it
 * is logged and retried by the tick. st and loop are borrowed. */
int feedlisten_new(struct store *st, const char *dsn, struct loop *loop,
		   void (*on_change)(void *ctx, bool catch_up), void *ctx,
		   struct feedlisten **out);

/* Reopens a lost connection (then calls on_change with catch_up). */
void feedlisten_tick(struct feedlisten *f);

/* Is the connection up (or not needed)? Any thread. */
bool feedlisten_up(const struct feedlisten *f);

/* Closes the connection; NULL ok. */
void feedlisten_del(struct feedlisten *f);

#endif
