#include "shared/jsonx.h"

#include "shared/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN sizeof(((struct jsonx_err *)0)->field)

/* snprintf may cut a UTF-8 sequence in half; the error texts end up in
 * JSON responses, and jansson refuses invalid UTF-8, so drop a trailing
 * incomplete sequence. */
static void trim_utf8_tail(char *s)
{
	size_t len = strlen(s), i = len, cont = 0, need;
	unsigned char lead;

	while (i > 0 && cont < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
		i--;
		cont++;
	}
	if (i == 0) {
		s[0] = '\0';
		return;
	}
	lead = (unsigned char)s[i - 1];
	if (lead >= 0xf0)
		need = 3;
	else if (lead >= 0xe0)
		need = 2;
	else if (lead >= 0xc0)
		need = 1;
	else
		need = 0;
	if (cont < need)
		s[i - 1] = '\0';
}

static void set_err(struct jsonx_err *err, int code, const char *field,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_err(struct jsonx_err *err, int code, const char *field,
		    const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->code = code;
	err->line = 0;
	err->column = 0;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	trim_utf8_tail(err->field);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	trim_utf8_tail(err->message);
}

/* "prefix.key", or "key" without a prefix; cut to fit an error field. */
static void make_name(char *dst, const char *prefix, const char *key)
{
	if (prefix && *prefix)
		snprintf(dst, NAME_MAX_LEN, "%s.%s", prefix, key);
	else
		snprintf(dst, NAME_MAX_LEN, "%s", key);
	trim_utf8_tail(dst);
}

static int64_t clamp_size(size_t v)
{
	return v > (size_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static const char *type_phrase(enum jsonx_type t)
{
	switch (t) {
	case JSONX_STRING:
		return "a string";
	case JSONX_INT:
		return "an integer";
	case JSONX_BOOL:
		return "a boolean";
	case JSONX_STRING_ARRAY:
		return "an array of strings";
	case JSONX_OBJECT:
		return "an object";
	case JSONX_ARRAY:
		return "an array";
	case JSONX_ANY:
		break;
	}
	return "a value";
}

static bool type_matches(const json_t *v, enum jsonx_type t)
{
	switch (t) {
	case JSONX_STRING:
		return json_is_string(v);
	case JSONX_INT:
		return json_is_integer(v);
	case JSONX_BOOL:
		return json_is_boolean(v);
	case JSONX_STRING_ARRAY:
	case JSONX_ARRAY:
		return json_is_array(v);
	case JSONX_OBJECT:
		return json_is_object(v);
	case JSONX_ANY:
		return true;
	}
	return false;
}

/* A string value without NUL bytes (those would silently cut C strings)
 * and at most max bytes long (min bytes at least). */
static int check_string(const json_t *v, int64_t min, int64_t max,
			const char *name, struct jsonx_err *err)
{
	size_t len = json_string_length(v);
	int64_t slen = clamp_size(len);

	if (memchr(json_string_value(v), '\0', len)) {
		set_err(err, WEFT_ERR_INVAL, name,
			"field \"%s\" must not contain NUL characters", name);
		return WEFT_ERR_INVAL;
	}
	if (slen >= min && slen <= max)
		return 0;
	if (len == 0 && min == 1)
		set_err(err, WEFT_ERR_RANGE, name,
			"field \"%s\" must not be empty", name);
	else if (min <= 0)
		set_err(err, WEFT_ERR_RANGE, name,
			"field \"%s\" must be at most %lld bytes long", name,
			(long long)max);
	else
		set_err(err, WEFT_ERR_RANGE, name,
			"field \"%s\" must be %lld to %lld bytes long", name,
			(long long)min, (long long)max);
	return WEFT_ERR_RANGE;
}

static int check_count(size_t count, int64_t min, int64_t max,
		       const char *what, const char *name,
		       struct jsonx_err *err)
{
	int64_t c = clamp_size(count);

	if (c >= min && c <= max)
		return 0;
	if (min <= 0)
		set_err(err, WEFT_ERR_RANGE, name,
			"field \"%s\" must have at most %lld %s", name,
			(long long)max, what);
	else
		set_err(err, WEFT_ERR_RANGE, name,
			"field \"%s\" must have %lld to %lld %s", name,
			(long long)min, (long long)max, what);
	return WEFT_ERR_RANGE;
}

/* Validates a present value against f without writing anything. */
static int check_value(const json_t *v, const struct jsonx_field *f,
		       const char *name, struct jsonx_err *err)
{
	if ((unsigned)f->type > JSONX_ANY) {
		set_err(err, WEFT_ERR_INVAL, name,
			"field \"%s\" has an unsupported type", name);
		return WEFT_ERR_INVAL;
	}
	if (!type_matches(v, f->type)) {
		set_err(err, WEFT_ERR_TYPE, name, "field \"%s\" must be %s",
			name, type_phrase(f->type));
		return WEFT_ERR_TYPE;
	}
	switch (f->type) {
	case JSONX_STRING:
		return check_string(v, f->min, f->max, name, err);
	case JSONX_INT: {
		int64_t i = (int64_t)json_integer_value(v);

		if (i >= f->min && i <= f->max)
			return 0;
		set_err(err, WEFT_ERR_RANGE, name,
			"field \"%s\" must be between %lld and %lld", name,
			(long long)f->min, (long long)f->max);
		return WEFT_ERR_RANGE;
	}
	case JSONX_STRING_ARRAY: {
		char item[NAME_MAX_LEN];
		int64_t max_len = clamp_size(f->item_max_len);
		size_t i;
		json_t *e;
		int r = check_count(json_array_size(v), f->min, f->max,
				    "items", name, err);

		if (r)
			return r;
		json_array_foreach(v, i, e) {
			/* A field name too long for item is cut short (the
			 * index may be lost); the result is checked, not
			 * ignored, because gcc -O2 rejects an unchecked
			 * truncation under -Werror=format-truncation. */
			if (snprintf(item, sizeof(item), "%s[%zu]", name, i) < 0)
				item[0] = '\0';
			trim_utf8_tail(item);
			if (!json_is_string(e)) {
				set_err(err, WEFT_ERR_TYPE, item,
					"field \"%s\" must be a string", item);
				return WEFT_ERR_TYPE;
			}
			r = check_string(e, 0, max_len, item, err);
			if (r)
				return r;
		}
		return 0;
	}
	case JSONX_OBJECT:
		return check_count(json_object_size(v), f->min, f->max,
				   "members", name, err);
	case JSONX_ARRAY:
		return check_count(json_array_size(v), f->min, f->max,
				   "items", name, err);
	case JSONX_BOOL:
	case JSONX_ANY:
		break;
	}
	return 0;
}

/* A malloc'd, NULL-terminated array of the borrowed strings of v, which
 * check_value has accepted as an array of strings. */
static int build_strings(const json_t *v, struct jsonx_strings *out,
			 const char *name, struct jsonx_err *err)
{
	size_t n = json_array_size(v);
	const char **items = calloc(n + 1, sizeof(*items));

	if (!items) {
		set_err(err, WEFT_ERR_NOMEM, name, "out of memory");
		return WEFT_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = json_string_value(json_array_get(v, i));
	out->items = items;
	out->n = n;
	return 0;
}

/* Writes a checked value to f->out. For JSONX_STRING_ARRAY the array was
 * built beforehand (strs) so that storing cannot fail. */
static void store_value(const json_t *v, const struct jsonx_field *f,
			const struct jsonx_strings *strs)
{
	if (!f->out)
		return;
	switch (f->type) {
	case JSONX_STRING:
		*(const char **)f->out = json_string_value(v);
		break;
	case JSONX_INT:
		*(int64_t *)f->out = (int64_t)json_integer_value(v);
		break;
	case JSONX_BOOL:
		*(bool *)f->out = json_is_true(v);
		break;
	case JSONX_STRING_ARRAY:
		*(struct jsonx_strings *)f->out = *strs;
		break;
	case JSONX_OBJECT:
	case JSONX_ARRAY:
	case JSONX_ANY:
		/* Borrowed; jansson's getters hand out non-const values. */
		*(json_t **)f->out = (json_t *)v;
		break;
	}
}

static int require_object(const json_t *obj, const char *prefix,
			  struct jsonx_err *err)
{
	if (json_is_object(obj))
		return 0;
	if (prefix && *prefix)
		set_err(err, WEFT_ERR_TYPE, prefix,
			"field \"%s\" must be an object", prefix);
	else
		set_err(err, WEFT_ERR_TYPE, NULL, "value must be a JSON object");
	return WEFT_ERR_TYPE;
}

static bool key_is(const char *name, const char *key, size_t keylen)
{
	return name && strlen(name) == keylen && memcmp(name, key, keylen) == 0;
}

/* Rejects the first key of obj (document order) that is neither in the
 * NULL-terminated list allowed nor a name in fields[0..n). */
static int reject_unknown(const json_t *obj, const char *prefix,
			  const char *const *allowed,
			  const struct jsonx_field *fields, size_t n,
			  struct jsonx_err *err)
{
	json_t *o = (json_t *)obj; /* jansson's iterators take non-const */
	const char *key;
	size_t keylen;
	json_t *v;

	json_object_keylen_foreach(o, key, keylen, v) {
		char name[NAME_MAX_LEN];
		bool known = false;

		for (size_t i = 0; allowed && allowed[i] && !known; i++)
			known = key_is(allowed[i], key, keylen);
		for (size_t i = 0; i < n && !known; i++)
			known = key_is(fields[i].name, key, keylen);
		if (known)
			continue;
		make_name(name, prefix, key);
		set_err(err, WEFT_ERR_INVAL, name, "unknown field \"%s\"", name);
		return WEFT_ERR_INVAL;
	}
	return 0;
}

/* Looks up and checks one field. *v is NULL when an optional field is
 * absent. */
static int check_field(const json_t *obj, const char *prefix,
		       const struct jsonx_field *f, const json_t **v,
		       struct jsonx_err *err)
{
	char name[NAME_MAX_LEN];
	const json_t *val;
	int r;

	make_name(name, prefix, f->name ? f->name : "");
	if (!f->name) {
		set_err(err, WEFT_ERR_INVAL, NULL, "field table entry without a name");
		return WEFT_ERR_INVAL;
	}
	val = json_object_get(obj, f->name);
	if (!val) {
		if (f->required) {
			set_err(err, WEFT_ERR_INVAL, name,
				"field \"%s\" is required", name);
			return WEFT_ERR_INVAL;
		}
		*v = NULL;
		return 0;
	}
	r = check_value(val, f, name, err);
	if (r == 0)
		*v = val;
	return r;
}

int jsonx_read_prefixed(const json_t *obj, const char *prefix,
			const struct jsonx_field *fields, size_t n,
			struct jsonx_err *err)
{
	const json_t **vals = NULL;
	struct jsonx_strings *strs = NULL;
	int r;

	r = require_object(obj, prefix, err);
	if (r)
		goto out;
	if (n > 0 && !fields) {
		r = WEFT_ERR_INVAL;
		set_err(err, r, NULL, "no field table");
		goto out;
	}
	r = reject_unknown(obj, prefix, NULL, fields, n, err);
	if (r)
		goto out;

	vals = calloc(n + 1, sizeof(*vals));
	strs = calloc(n + 1, sizeof(*strs));
	if (!vals || !strs) {
		r = WEFT_ERR_NOMEM;
		set_err(err, r, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = check_field(obj, prefix, &fields[i], &vals[i], err);
		if (r)
			goto out;
	}
	/* Everything is valid; allocate before storing anything so that a
	 * failed allocation still leaves every output untouched. */
	for (size_t i = 0; i < n; i++) {
		char name[NAME_MAX_LEN];

		if (!vals[i] || fields[i].type != JSONX_STRING_ARRAY ||
		    !fields[i].out)
			continue;
		make_name(name, prefix, fields[i].name);
		r = build_strings(vals[i], &strs[i], name, err);
		if (r)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (fields[i].present)
			*fields[i].present = vals[i] != NULL;
		if (vals[i])
			store_value(vals[i], &fields[i], &strs[i]);
	}
	free(strs);
	strs = NULL;

out:
	if (strs)
		for (size_t i = 0; i < n; i++)
			free(strs[i].items);
	free(strs);
	free(vals);
	return r;
}

int jsonx_read(const json_t *obj, const struct jsonx_field *fields, size_t n,
	       struct jsonx_err *err)
{
	return jsonx_read_prefixed(obj, NULL, fields, n, err);
}

/* The getters: one-row tables. *present reports whether the field was
 * there; outputs are written only then. */
static int read_one(const json_t *obj, const struct jsonx_field *f,
		    struct jsonx_strings *strs, bool *present,
		    struct jsonx_err *err)
{
	const json_t *v = NULL;
	int r;

	r = require_object(obj, NULL, err);
	if (r)
		return r;
	r = check_field(obj, NULL, f, &v, err);
	if (r)
		return r;
	if (v && f->type == JSONX_STRING_ARRAY && strs) {
		r = build_strings(v, strs, f->name, err);
		if (r)
			return r;
	}
	if (v)
		store_value(v, f, strs);
	*present = v != NULL;
	return 0;
}

int jsonx_get_string(const json_t *obj, const char *key, bool required,
		     size_t min_len, size_t max_len, const char **out,
		     struct jsonx_err *err)
{
	struct jsonx_field f = {
		.name = key, .type = JSONX_STRING, .required = required,
		.min = clamp_size(min_len), .max = clamp_size(max_len),
		.out = out,
	};
	bool present;

	return read_one(obj, &f, NULL, &present, err);
}

int jsonx_get_int(const json_t *obj, const char *key, bool required,
		  int64_t min, int64_t max, int64_t *out, struct jsonx_err *err)
{
	struct jsonx_field f = {
		.name = key, .type = JSONX_INT, .required = required,
		.min = min, .max = max, .out = out,
	};
	bool present;

	return read_one(obj, &f, NULL, &present, err);
}

int jsonx_get_bool(const json_t *obj, const char *key, bool required,
		   bool *out, struct jsonx_err *err)
{
	struct jsonx_field f = {
		.name = key, .type = JSONX_BOOL, .required = required,
		.out = out,
	};
	bool present;

	return read_one(obj, &f, NULL, &present, err);
}

int jsonx_get_string_array(const json_t *obj, const char *key, bool required,
			   size_t max_items, size_t max_len,
			   const char ***items, size_t *n,
			   struct jsonx_err *err)
{
	struct jsonx_strings strs = {0};
	struct jsonx_field f = {
		.name = key, .type = JSONX_STRING_ARRAY, .required = required,
		.min = 0, .max = clamp_size(max_items),
		.item_max_len = max_len,
	};
	bool present = false;
	int r;

	if (!items || !n) {
		set_err(err, WEFT_ERR_INVAL, key, "no output for \"%s\"",
			key ? key : "");
		return WEFT_ERR_INVAL;
	}
	r = read_one(obj, &f, &strs, &present, err);
	if (r == 0 && present) {
		*items = strs.items;
		*n = strs.n;
	}
	return r;
}

int jsonx_get_object(const json_t *obj, const char *key, bool required,
		     json_t **out, struct jsonx_err *err)
{
	struct jsonx_field f = {
		.name = key, .type = JSONX_OBJECT, .required = required,
		.min = 0, .max = INT64_MAX, .out = out,
	};
	bool present;

	return read_one(obj, &f, NULL, &present, err);
}

int jsonx_get_array(const json_t *obj, const char *key, bool required,
		    size_t min_items, size_t max_items, json_t **out,
		    struct jsonx_err *err)
{
	struct jsonx_field f = {
		.name = key, .type = JSONX_ARRAY, .required = required,
		.min = clamp_size(min_items), .max = clamp_size(max_items),
		.out = out,
	};
	bool present;

	return read_one(obj, &f, NULL, &present, err);
}

int jsonx_check_keys(const json_t *obj, const char *const *allowed,
		     struct jsonx_err *err)
{
	static const char *const none[] = {NULL};
	int r;

	r = require_object(obj, NULL, err);
	if (r)
		return r;
	return reject_unknown(obj, NULL, allowed ? allowed : none, NULL, 0, err);
}

/* jansson's error text quotes the input near the error, which may be
 * invalid UTF-8 or control characters; keep printable ASCII only. */
static void copy_ascii(char *dst, size_t n, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[i] = '\0';
}

int jsonx_parse(const char *data, size_t len, size_t max_len, json_t **out,
		struct jsonx_err *err)
{
	json_error_t je;
	char text[sizeof(je.text)];
	json_t *root;

	if (!out || (!data && len > 0)) {
		set_err(err, WEFT_ERR_INVAL, NULL, "no input");
		return WEFT_ERR_INVAL;
	}
	if (len > max_len) {
		set_err(err, WEFT_ERR_TOOBIG, NULL,
			"request body is larger than %zu bytes", max_len);
		return WEFT_ERR_TOOBIG;
	}
	/* JSON_DECODE_ANY so that a scalar top level is reported as the
	 * wrong type rather than as a syntax error. */
	root = json_loadb(data ? data : "", len,
			  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!root) {
		int code = json_error_code(&je) == json_error_out_of_memory ?
				   WEFT_ERR_NOMEM : WEFT_ERR_PARSE;

		copy_ascii(text, sizeof(text), je.text);
		set_err(err, code, NULL,
			"invalid JSON at line %d, column %d: %s", je.line,
			je.column, text);
		if (err) {
			err->line = je.line;
			err->column = je.column;
		}
		return code;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		set_err(err, WEFT_ERR_TYPE, NULL, "value must be a JSON object");
		return WEFT_ERR_TYPE;
	}
	*out = root;
	return 0;
}

json_t *jsonx_error_body(const char *code, const char *message,
			 const char *field)
{
	json_t *body = NULL, *inner = NULL, *ret = NULL;
	int r;

	if (!code || !message)
		return NULL;
	inner = json_object();
	if (!inner)
		goto out;
	/* json_object_set_new consumes the value even when it fails, and
	 * fails on a NULL value (e.g. json_string on invalid UTF-8). */
	if (json_object_set_new(inner, "code", json_string(code)) ||
	    json_object_set_new(inner, "message", json_string(message)) ||
	    (field && json_object_set_new(inner, "field", json_string(field))))
		goto out;
	body = json_object();
	if (!body)
		goto out;
	r = json_object_set_new(body, "error", inner);
	inner = NULL; /* consumed either way */
	if (r)
		goto out;
	ret = body;
	body = NULL;

out:
	json_decref(inner);
	json_decref(body);
	return ret;
}
