/* The store's login state: users' password hashes (a column of users kept
 * out of struct store_user) and browser sessions. */
#include "controller/store.h"

#include <stddef.h>
#include <string.h>

#include "controller/store_backend.h"
#include "controller/store_internal.h"
#include "shared/err.h"

/* --- passwords --- */

struct pw_ctx {
	char *out;
	bool found;
};

static int pw_row(void *ctx, const struct sqlv *c, int n)
{
	struct pw_ctx *pc = ctx;
	int rc;

	if (n != 1 || c[0].type != SQLV_TEXT) {
		store_set_errmsg("users: unexpected password_hash shape");
		return WEFT_ERR_DB;
	}
	rc = store_copy_str(pc->out, STORE_PWHASH_SIZE, c[0].s,
			    "password hash");
	if (rc == 0)
		pc->found = true;
	return rc;
}

int store_user_password_get(struct store_tx *tx, int64_t user_id,
			    char out[STORE_PWHASH_SIZE])
{
	struct pw_ctx pc = {out, false};
	struct sqlv p[1] = {sqlv_int(user_id)};
	int rc;

	if (!tx || !out)
		return WEFT_ERR_INVAL;
	rc = store_tx_query(tx, "SELECT password_hash FROM users WHERE id = ?",
			    p, 1, pw_row, &pc, NULL);
	if (rc == 0 && !pc.found) {
		store_set_errmsg("users: no row with id %lld",
				 (long long)user_id);
		rc = WEFT_ERR_NOTFOUND;
	}
	return rc;
}

int store_user_password_set(struct store_tx *tx, int64_t user_id,
			    const char *hash)
{
	struct sqlv p[2] = {sqlv_text(hash), sqlv_int(user_id)};
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	if (!hash)
		return WEFT_ERR_INVAL;
	if (strlen(hash) >= STORE_PWHASH_SIZE) {
		store_set_errmsg("password hash longer than %d bytes",
				 STORE_PWHASH_SIZE - 1);
		return WEFT_ERR_TOOBIG;
	}
	return store_exec_one(tx, "users",
			      "UPDATE users SET password_hash = ? WHERE id = ?",
			      p, 2);
}

struct pw_ids_ctx {
	int (*fn)(void *ctx, int64_t id);
	void *ctx;
};

static int pw_id_row(void *ctx, const struct sqlv *c, int n)
{
	struct pw_ids_ctx *pc = ctx;

	if (n != 1 || c[0].type != SQLV_INT) {
		store_set_errmsg("users: unexpected id shape");
		return WEFT_ERR_DB;
	}
	return pc->fn(pc->ctx, c[0].i);
}

int store_user_password_ids(struct store_tx *tx, int64_t first, int64_t last,
			    int (*fn)(void *ctx, int64_t id), void *ctx)
{
	struct pw_ids_ctx pc = {fn, ctx};
	struct sqlv p[2] = {sqlv_int(first), sqlv_int(last)};

	if (!tx || !fn)
		return WEFT_ERR_INVAL;
	return store_tx_query(tx,
			      "SELECT id FROM users WHERE id >= ? AND id <= ? "
			      "AND password_hash <> '' ORDER BY id",
			      p, 2, pw_id_row, &pc, NULL);
}

/* --- sessions --- */

static const struct store_field session_fields[] = {
	FS(struct store_session, prefix),
	FS(struct store_session, hash),
	FR(struct store_session, user_id),
	FR(struct store_session, apikey_id),
	FI(struct store_session, expires_at),
	FI(struct store_session, idle_timeout_s),
	FI(struct store_session, last_used_at),
	FC(struct store_session, created_at),
};
static const struct store_entity sessions = {"sessions",
	sizeof(struct store_session), offsetof(struct store_session, id),
	session_fields, NFIELDS(session_fields)};

int store_session_create(struct store_tx *tx, struct store_session *s)
{
	return s ? store_ent_create(tx, &sessions, s) : WEFT_ERR_INVAL;
}

int store_session_get_by_prefix(struct store_tx *tx, const char *prefix,
				struct store_session *out)
{
	return store_ent_get_by(tx, &sessions, "prefix", sqlv_text(prefix),
				out);
}

int store_session_update(struct store_tx *tx, const struct store_session *s)
{
	return s ? store_ent_update(tx, &sessions, s) : WEFT_ERR_INVAL;
}

int store_session_delete(struct store_tx *tx, int64_t id)
{
	return store_ent_delete(tx, &sessions, id);
}

int store_session_delete_user(struct store_tx *tx, int64_t user_id,
			      int64_t *n)
{
	struct sqlv p[1] = {sqlv_int(user_id)};
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	return store_tx_query(tx, "DELETE FROM sessions WHERE user_id = ?", p,
			      1, NULL, NULL, n);
}

int store_session_delete_stale(struct store_tx *tx, int64_t now, int64_t *n)
{
	struct sqlv p[2] = {sqlv_int(now), sqlv_int(now)};
	int rc;

	rc = store_need_write(tx);
	if (rc)
		return rc;
	return store_tx_query(tx, "DELETE FROM sessions WHERE expires_at <= ? "
			      "OR last_used_at + idle_timeout_s <= ?",
			      p, 2, NULL, NULL, n);
}
