/* Periodic controller chores that must not depend on any request arriving:
 * removing ephemeral nodes that have been gone longer than their grace
 * period, browser sessions that have ended, and change-feed rows older than
 * the feed keeps. Runs on the serve loop of the leading replica only
 * (controller/leader.h); still, each deletion is its own write transaction
 * that checks again, so two runs at once (a leader change) do no harm. */
#ifndef WEFT_HOUSEKEEP_H
#define WEFT_HOUSEKEEP_H

#include <stdint.h>

struct store;

/* Deletes every ephemeral node that is offline and was last seen (or, if
 * never seen, created) more than grace_s seconds before now, writing an
 * audit row and bumping the netmap version for each, and every session past
 * its end or idle timeout, and prunes the change feed. *deleted (may be NULL) gets the node count. Returns 0 or a store error. */
int housekeep_run(struct store *st, int64_t now, int64_t grace_s,
		  int *deleted);

#endif
