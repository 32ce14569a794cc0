#include "controller/tagown.h"

#include "controller/policy.h"
#include "controller/store.h"
#include "shared/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Is user (a user name) among owners, by name or through a group? */
static bool owns(const struct policy *p, const char *const *owners, size_t n,
		 const char *user)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(owners[i], user) == 0)
			return true;
		if (strncmp(owners[i], "group:", 6) == 0 &&
		    policy_user_in_group(p, user, owners[i]))
			return true;
	}
	return false;
}

int tagown_check(struct store_tx *tx, int64_t user_id, const json_t *tags,
		 char *msg, size_t msglen, char *field, size_t fieldlen)
{
	struct store_policy sp = {0};
	struct store_user u = {0};
	struct policy *p = NULL;
	const json_t *t;
	size_t i;
	int rc;

	if (!json_array_size(tags))
		return 0;
	if (user_id) {
		rc = store_user_get(tx, user_id, &u);
		if (rc < 0)
			return rc;
	}
	rc = store_policy_get_current(tx, &sp);
	if (rc == WEFT_ERR_NOTFOUND)
		rc = policy_new_empty(&p);
	else if (rc == 0)
		/* The stored document was valid when it was saved; users it
		 * names need not be checked again to read its tagOwners. */
		rc = policy_parse(sp.document, strlen(sp.document), NULL, &p,
				  NULL);
	store_policy_free(&sp);
	if (rc < 0 && rc != WEFT_ERR_NOMEM && rc != WEFT_ERR_NOTFOUND) {
		/* As the hub does: a saved document that no longer parses
		 * allows nothing, so it owns no tags either. */
		policy_free(p);
		p = NULL;
		rc = policy_new_empty(&p);
	}
	if (rc < 0)
		return rc;
	json_array_foreach(tags, i, t) {
		const char *tag = json_string_value(t);
		size_t n = 0;
		const char *const *owners = policy_tag_owners(p, tag, &n);

		if (!owners) {
			snprintf(msg, msglen,
				 "tag \"%s\" is not declared in the policy's "
				 "tagOwners; add it there first",
				 tag);
			rc = WEFT_ERR_INVAL;
		} else if (user_id && !owns(p, owners, n, u.name)) {
			snprintf(msg, msglen,
				 "user \"%s\" does not own tag \"%s\" (the "
				 "policy's tagOwners); use a key without "
				 "user_id or add the user to the tag's owners",
				 u.name, tag);
			rc = WEFT_ERR_INVAL;
		}
		if (rc < 0) {
			snprintf(field, fieldlen, "tags[%zu]", i);
			break;
		}
	}
	policy_free(p);
	return rc;
}
