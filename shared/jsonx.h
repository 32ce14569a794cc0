/* Strict, typed reads over jansson for untrusted JSON (API request bodies).
 *
 * Every failure fills a struct jsonx_err whose message is a sentence meant
 * for the API client and names the offending field, e.g.
 *   code WEFT_ERR_TYPE, field "expiry", message: field "expiry" must be a string
 * The err argument may be NULL everywhere; it is written only on failure.
 *
 * Types are never coerced: 1.0 is not an integer, "1" is not a number, 0
 * is not a boolean, and JSON null is a wrong type for every typed read (only
 * JSONX_ANY accepts it). A missing optional field is not an error: its
 * outputs are left as the caller initialised them.
 *
 * Strings handed out are borrowed from the json_t they were read from and
 * live as long as it does. */
#ifndef WEFT_JSONX_H
#define WEFT_JSONX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonx_err {
	int code;          /* WEFT_ERR_*: PARSE, TYPE, INVAL, RANGE, TOOBIG, NOMEM */
	char field[128];   /* "name", "spec.name", "tags[2]"; "" when none */
	char message[256]; /* a human sentence, valid UTF-8 */
	int line, column;  /* where a JSON syntax error is (jsonx_parse,
			    * WEFT_ERR_PARSE; 1-based, column in
			    * characters); 0 for every other error */
};

enum jsonx_type {
	JSONX_STRING,       /* out: const char **        min/max: length in bytes */
	JSONX_INT,          /* out: int64_t *            min/max: value */
	JSONX_BOOL,         /* out: bool *               min/max: unused */
	JSONX_STRING_ARRAY, /* out: struct jsonx_strings * min/max: item count,
			     *                           item_max_len: per item */
	JSONX_OBJECT,       /* out: json_t ** (borrowed) min/max: member count */
	JSONX_ARRAY,        /* out: json_t ** (borrowed) min/max: item count */
	JSONX_ANY,          /* out: json_t ** (borrowed), null allowed */
};

/* The result of a JSONX_STRING_ARRAY read. items is malloc'd and
 * NULL-terminated (items[n] == NULL); the strings are borrowed. The caller
 * frees items with free(). */
struct jsonx_strings {
	const char **items;
	size_t n;
};

/* One row of a jsonx_read table. Bounds are always enforced as given, so a
 * zeroed max only admits empty strings, the value 0 or empty containers;
 * that fails loudly in the caller's tests rather than letting input
 * through unchecked. */
struct jsonx_field {
	const char *name;
	enum jsonx_type type;
	bool required;
	int64_t min, max;
	size_t item_max_len; /* JSONX_STRING_ARRAY: longest item in bytes */
	void *out;           /* see enum jsonx_type; NULL = validate only */
	bool *present;       /* optional: true when the field was given */
};

/* Parses len bytes of JSON whose top level must be an object. Rejects
 * input longer than max_len (WEFT_ERR_TOOBIG), malformed JSON, duplicate
 * keys, \u0000 in strings, nesting deeper than jansson's limit
 * (WEFT_ERR_PARSE, message with line and column), and a top level that is
 * not an object (WEFT_ERR_TYPE). Returns 0 with a new reference in *out
 * that the caller json_decref()s, WEFT_ERR_NOMEM, or one of the above. */
int jsonx_parse(const char *data, size_t len, size_t max_len, json_t **out,
		struct jsonx_err *err);

/* Reads obj[key] as a string of min_len..max_len bytes without NUL bytes.
 * Returns 0 (absent optional: *out untouched), WEFT_ERR_INVAL when a
 * required field is missing, WEFT_ERR_TYPE, WEFT_ERR_RANGE. */
int jsonx_get_string(const json_t *obj, const char *key, bool required,
		     size_t min_len, size_t max_len, const char **out,
		     struct jsonx_err *err);

/* Reads obj[key] as an integer in min..max. Reals (1.5, 1.0, 1e3),
 * booleans and strings are WEFT_ERR_TYPE. Returns as jsonx_get_string. */
int jsonx_get_int(const json_t *obj, const char *key, bool required,
		  int64_t min, int64_t max, int64_t *out, struct jsonx_err *err);

/* Reads obj[key] as true or false. Returns as jsonx_get_string. */
int jsonx_get_bool(const json_t *obj, const char *key, bool required,
		   bool *out, struct jsonx_err *err);

/* Reads obj[key] as an array of at most max_items strings of at most
 * max_len bytes each (no NUL bytes). On success *items is a malloc'd,
 * NULL-terminated array of borrowed strings that the caller frees with
 * free(), and *n its length. Returns as jsonx_get_string, plus
 * WEFT_ERR_NOMEM; a bad item is named like "tags[2]". */
int jsonx_get_string_array(const json_t *obj, const char *key, bool required,
			   size_t max_items, size_t max_len,
			   const char ***items, size_t *n,
			   struct jsonx_err *err);

/* Reads obj[key] as an object; *out is borrowed from obj. Returns as
 * jsonx_get_string. */
int jsonx_get_object(const json_t *obj, const char *key, bool required,
		     json_t **out, struct jsonx_err *err);

/* Reads obj[key] as an array of min_items..max_items values of any type;
 * *out is borrowed from obj. Returns as jsonx_get_string. */
int jsonx_get_array(const json_t *obj, const char *key, bool required,
		    size_t min_items, size_t max_items, json_t **out,
		    struct jsonx_err *err);

/* Checks that every key of obj is in allowed (NULL-terminated). Returns 0,
 * WEFT_ERR_INVAL naming the first unknown key (in document order), or
 * WEFT_ERR_TYPE when obj is not an object. */
int jsonx_check_keys(const json_t *obj, const char *const *allowed,
		     struct jsonx_err *err);

/* Validates obj against fields[0..n) and then stores every given field:
 * unknown keys are rejected first (WEFT_ERR_INVAL), then the fields are
 * checked in table order and the first bad one is reported. On failure no
 * out or present is written. On success each present pointer is set, and
 * outputs of absent optional fields are left untouched. Returns 0, one of
 * the codes of the getters above, or WEFT_ERR_NOMEM. */
int jsonx_read(const json_t *obj, const struct jsonx_field *fields, size_t n,
	       struct jsonx_err *err);

/* jsonx_read for a nested object: field names in errors are prefixed,
 * e.g. prefix "spec" reports "spec.name". prefix may be NULL or "". */
int jsonx_read_prefixed(const json_t *obj, const char *prefix,
			const struct jsonx_field *fields, size_t n,
			struct jsonx_err *err);

/* Builds the API error shape
 *   {"error": {"code": code, "message": message, "field": field}}
 * with "field" left out when field is NULL. Returns a new reference, or
 * NULL when out of memory, when code or message is NULL, or when a string
 * is not valid UTF-8. */
json_t *jsonx_error_body(const char *code, const char *message,
			 const char *field);

#endif
