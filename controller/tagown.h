/* Who may put which tag on an auth key: the policy's tagOwners decide.
 *
 * A tag must be declared in tagOwners (an undeclared tag cannot be named
 * by any rule, so a node carrying it would be unreachable and confusing).
 * An auth key that belongs to a user additionally needs that user to own
 * every tag, directly or through a group listed as an owner: otherwise
 * the user's key would register nodes with access the user was not
 * given. A key without a user (created by an admin for tagged servers)
 * only needs the tags to be declared; "tag:x": [] declares a tag only
 * admins may hand out. Checked when the key is created, against the
 * current policy; see docs/policy.md. */
#ifndef WEFT_TAGOWN_H
#define WEFT_TAGOWN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct store_tx;

/* Checks every tag of tags (a JSON array of valid "tag:x" strings) for a
 * key of user_id (0 = none) against the current policy read through tx.
 * Returns 0, WEFT_ERR_INVAL with msg ("tag \"tag:x\" is not declared in
 * the policy's tagOwners") and field ("tags[i]") written, or a store
 * error / WEFT_ERR_NOMEM. */
int tagown_check(struct store_tx *tx, int64_t user_id, const json_t *tags,
		 char *msg, size_t msglen, char *field, size_t fieldlen);

#endif
