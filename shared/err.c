#include "shared/err.h"

#include <string.h>

struct errinfo {
	const char *name;
	const char *text;
};

static const struct errinfo errs[] = {
	[WEFT_ERR_NOMEM - WEFT_ERR_BASE] = {"no_memory", "out of memory"},
	[WEFT_ERR_INVAL - WEFT_ERR_BASE] = {"invalid", "invalid argument"},
	[WEFT_ERR_PARSE - WEFT_ERR_BASE] = {"parse_error", "malformed input"},
	[WEFT_ERR_TYPE - WEFT_ERR_BASE] = {"wrong_type", "value has the wrong type"},
	[WEFT_ERR_RANGE - WEFT_ERR_BASE] = {"out_of_range", "value out of range"},
	[WEFT_ERR_TOOBIG - WEFT_ERR_BASE] = {"too_big", "size limit exceeded"},
	[WEFT_ERR_NOTFOUND - WEFT_ERR_BASE] = {"not_found", "not found"},
	[WEFT_ERR_EXISTS - WEFT_ERR_BASE] = {"already_exists", "already exists"},
	[WEFT_ERR_CONFLICT - WEFT_ERR_BASE] = {"conflict", "conflicting state"},
	[WEFT_ERR_EXHAUSTED - WEFT_ERR_BASE] = {"exhausted", "pool exhausted"},
	[WEFT_ERR_AUTH - WEFT_ERR_BASE] = {"unauthenticated", "authentication failed"},
	[WEFT_ERR_FORBIDDEN - WEFT_ERR_BASE] = {"forbidden", "not allowed"},
	[WEFT_ERR_EXPIRED - WEFT_ERR_BASE] = {"expired", "expired"},
	[WEFT_ERR_BUSY - WEFT_ERR_BASE] = {"busy", "resource busy"},
	[WEFT_ERR_TIMEOUT - WEFT_ERR_BASE] = {"timeout", "timed out"},
	[WEFT_ERR_CLOSED - WEFT_ERR_BASE] = {"closed", "closed"},
	[WEFT_ERR_PROTO - WEFT_ERR_BASE] = {"protocol_error", "protocol violation"},
	[WEFT_ERR_DB - WEFT_ERR_BASE] = {"database_error", "database error"},
	[WEFT_ERR_SCHEMA_NEWER - WEFT_ERR_BASE] = {"schema_newer",
		"database schema is newer than this binary"},
	[WEFT_ERR_UNSUPPORTED - WEFT_ERR_BASE] = {"unsupported", "not supported"},
	[WEFT_ERR_CRYPTO - WEFT_ERR_BASE] = {"crypto_error", "cryptographic failure"},
	[WEFT_ERR_INTERNAL - WEFT_ERR_BASE] = {"internal", "internal error"},
};

static const struct errinfo *lookup(int err)
{
	if (err >= WEFT_ERR_BASE && err < WEFT_ERR_END)
		return &errs[err - WEFT_ERR_BASE];
	return NULL;
}

const char *weft_strerror(int err)
{
	const struct errinfo *e;

	if (err == 0)
		return "success";
	e = lookup(err);
	if (e)
		return e->text;
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

const char *weft_errname(int err)
{
	const struct errinfo *e;

	if (err == 0)
		return "ok";
	e = lookup(err);
	if (e)
		return e->name;
	if (err < 0 && err > -4096)
		return "system_error";
	return "unknown";
}
