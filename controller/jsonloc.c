/* The JSON value locator (controller/jsonloc.h): a small scanner that
 * walks the text along the path, skipping the values it does not enter.
 * Nesting is bounded so hostile input cannot exhaust the stack. */
#include "controller/jsonloc.h"

#include "shared/err.h"

#include <stdbool.h>
#include <string.h>

#define MAX_DEPTH 64

struct scan {
	const char *s;
	size_t len, pos;
};

static int peek(const struct scan *sc)
{
	return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1;
}

static void skip_ws(struct scan *sc)
{
	while (sc->pos < sc->len && strchr(" \t\r\n", sc->s[sc->pos]) &&
	       sc->s[sc->pos])
		sc->pos++;
}

/* Skips a string starting at its opening quote. */
static bool skip_string(struct scan *sc)
{
	sc->pos++;
	while (sc->pos < sc->len) {
		char ch = sc->s[sc->pos++];

		if (ch == '"')
			return true;
		if (ch == '\\')
			sc->pos++;
	}
	return false;
}

static bool skip_value(struct scan *sc, int depth);

/* Skips the members of an object or the items of an array, from the
 * opening bracket to after the closing one. */
static bool skip_container(struct scan *sc, int depth)
{
	char close = sc->s[sc->pos] == '{' ? '}' : ']';
	bool obj = close == '}';

	if (depth >= MAX_DEPTH)
		return false;
	sc->pos++;
	skip_ws(sc);
	if (peek(sc) == close) {
		sc->pos++;
		return true;
	}
	for (;;) {
		if (obj) {
			skip_ws(sc);
			if (peek(sc) != '"' || !skip_string(sc))
				return false;
			skip_ws(sc);
			if (peek(sc) != ':')
				return false;
			sc->pos++;
		}
		if (!skip_value(sc, depth + 1))
			return false;
		skip_ws(sc);
		if (peek(sc) == ',') {
			sc->pos++;
			continue;
		}
		if (peek(sc) != close)
			return false;
		sc->pos++;
		return true;
	}
}

static bool skip_value(struct scan *sc, int depth)
{
	int ch;

	skip_ws(sc);
	ch = peek(sc);
	if (ch == '"')
		return skip_string(sc);
	if (ch == '{' || ch == '[')
		return skip_container(sc, depth);
	/* A literal or a number: up to the next delimiter. */
	if (ch < 0 || strchr(",:]}", ch))
		return false;
	while (sc->pos < sc->len && !strchr(" \t\r\n,:]}[{\"", sc->s[sc->pos]) &&
	       sc->s[sc->pos])
		sc->pos++;
	return true;
}

/* Compares the string at sc (its opening quote) with the start of path.
 * Returns the number of path bytes the key covers when the whole key
 * matches and is followed in path by '.', '[' or its end; 0 otherwise.
 * Leaves sc after the string either way (false return: malformed). */
static bool match_key(struct scan *sc, const char *path, size_t *n)
{
	size_t k = 0;
	bool same = true;

	sc->pos++;
	while (sc->pos < sc->len) {
		char ch = sc->s[sc->pos++];

		if (ch == '"') {
			*n = same && k > 0 && strchr(".[", path[k]) ? k : 0;
			return true;
		}
		if (ch == '\\') {
			if (sc->pos >= sc->len)
				return false;
			ch = sc->s[sc->pos++];
			switch (ch) {
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case '"': case '\\': case '/': break;
			default: same = false; break;
			}
		}
		if (same && path[k] == ch && ch)
			k++;
		else
			same = false;
	}
	return false;
}

/* Moves sc to the value of the member whose key starts path (sc at the
 * object's '{'); *used is the number of path bytes the key took. */
static bool enter_key(struct scan *sc, const char *path, size_t *used)
{
	sc->pos++;
	skip_ws(sc);
	if (peek(sc) == '}')
		return false;
	for (;;) {
		size_t n = 0;

		skip_ws(sc);
		if (peek(sc) != '"' || !match_key(sc, path, &n))
			return false;
		skip_ws(sc);
		if (peek(sc) != ':')
			return false;
		sc->pos++;
		skip_ws(sc);
		if (n) {
			*used = n;
			return true;
		}
		if (!skip_value(sc, 1))
			return false;
		skip_ws(sc);
		if (peek(sc) != ',')
			return false;
		sc->pos++;
	}
}

/* Moves sc to item idx of the array at sc (its '['). */
static bool enter_index(struct scan *sc, size_t idx)
{
	sc->pos++;
	skip_ws(sc);
	if (peek(sc) == ']')
		return false;
	for (size_t i = 0;; i++) {
		skip_ws(sc);
		if (i == idx)
			return true;
		if (!skip_value(sc, 1))
			return false;
		skip_ws(sc);
		if (peek(sc) != ',')
			return false;
		sc->pos++;
	}
}

/* Line and column of byte offset pos. */
static void where(const char *s, size_t pos, struct jsonloc *loc)
{
	loc->line = 1;
	loc->column = 1;
	for (size_t i = 0; i < pos; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\n') {
			loc->line++;
			loc->column = 1;
		} else if ((ch & 0xc0) != 0x80) {
			loc->column++;
		}
	}
}

int jsonloc_find(const char *json, size_t len, const char *path,
		 struct jsonloc *loc)
{
	struct scan sc = {json, len, 0};
	size_t at;
	int rc = 0;

	if (!json || !path || !loc)
		return WEFT_ERR_INVAL;
	skip_ws(&sc);
	at = sc.pos;
	while (*path) {
		if (*path == '[') {
			const char *end;
			unsigned long idx = 0;
			size_t d = 1;

			while (path[d] >= '0' && path[d] <= '9' && d < 12)
				idx = idx * 10 + (unsigned long)(path[d++] - '0');
			end = path + d;
			if (d == 1 || *end != ']' || peek(&sc) != '[' ||
			    !enter_index(&sc, idx)) {
				rc = WEFT_ERR_NOTFOUND;
				break;
			}
			path = end + 1;
		} else {
			size_t used = 0;

			if (*path == '.')
				path++;
			if (peek(&sc) != '{' || !enter_key(&sc, path, &used)) {
				rc = WEFT_ERR_NOTFOUND;
				break;
			}
			path += used;
		}
		if (sc.pos >= sc.len) {
			rc = WEFT_ERR_NOTFOUND;
			break;
		}
		at = sc.pos;
	}
	where(json, at, loc);
	return rc;
}
