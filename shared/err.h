/* Error codes shared by every module.
 *
 * Functions that can fail return int: 0 on success, a negative WEFT_ERR_*
 * code, or a negative errno value (-ENOENT, ...). The WEFT_ERR_* values sit
 * far below the errno range so both kinds can travel in one int. */
#ifndef WEFT_ERR_H
#define WEFT_ERR_H

enum weft_err {
	WEFT_OK = 0,
	WEFT_ERR_BASE = -10000,
	WEFT_ERR_NOMEM = WEFT_ERR_BASE, /* allocation failed */
	WEFT_ERR_INVAL,                 /* invalid argument or input */
	WEFT_ERR_PARSE,                 /* malformed text or bytes */
	WEFT_ERR_TYPE,                  /* a value has the wrong type */
	WEFT_ERR_RANGE,                 /* a value is out of its range */
	WEFT_ERR_TOOBIG,                /* a size limit would be exceeded */
	WEFT_ERR_NOTFOUND,              /* no such object */
	WEFT_ERR_EXISTS,                /* uniqueness violated */
	WEFT_ERR_CONFLICT,              /* state conflict (foreign key, stale) */
	WEFT_ERR_EXHAUSTED,             /* a pool (addresses, ids) is used up */
	WEFT_ERR_AUTH,                  /* missing or bad credentials */
	WEFT_ERR_FORBIDDEN,             /* authenticated but not allowed */
	WEFT_ERR_EXPIRED,               /* credential or object expired */
	WEFT_ERR_BUSY,                  /* resource busy, try again */
	WEFT_ERR_TIMEOUT,               /* an operation timed out */
	WEFT_ERR_CLOSED,                /* the object was closed */
	WEFT_ERR_PROTO,                 /* peer violated a protocol */
	WEFT_ERR_DB,                    /* database error */
	WEFT_ERR_SCHEMA_NEWER,          /* database is newer than the binary */
	WEFT_ERR_UNSUPPORTED,           /* not supported here */
	WEFT_ERR_CRYPTO,                /* cryptographic operation failed */
	WEFT_ERR_INTERNAL,              /* broken invariant */
	WEFT_ERR_END
};

/* A short, static description of an error code (WEFT_ERR_* or -errno).
 * Never returns NULL. */
const char *weft_strerror(int err);

/* A stable machine-readable name for a code ("not_found", "exists", ...),
 * used in API error bodies and logs. Never returns NULL. */
const char *weft_errname(int err);

#endif
