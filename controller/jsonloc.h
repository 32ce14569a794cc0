/* Where a value sits in a JSON text: maps a path as the policy parser
 * names it ("acls[2].dst[0]", "groups.group:eng[1]", "" for the root) to
 * the line and column of that value's first character, so an editor can
 * show an error at its place. Pure code: no allocation, no I/O.
 *
 * Path: object keys separated by '.', array indexes as "[n]". A key that
 * itself contains '.' or '[' is matched as written (the key of the text
 * that the rest of the path starts with wins). Keys are compared after
 * the simple escapes (\" \\ \/ \b \f \n \r \t); a key with a \u escape
 * never matches. */
#ifndef WEFT_JSONLOC_H
#define WEFT_JSONLOC_H

#include <stddef.h>

struct jsonloc {
	int line;   /* 1-based */
	int column; /* 1-based, in characters (UTF-8 code points), like
		     * jansson's parse errors */
};

/* Finds the value at path in json (len bytes, need not be NUL-terminated).
 * Returns 0 with *loc at the value, or WEFT_ERR_NOTFOUND when the path
 * does not lead to a value (a missing key or index, or text that is not
 * JSON where the walk needed it): *loc is then at the deepest value the
 * walk reached (the root's first character at least; line 1, column 1 for
 * an empty text). WEFT_ERR_INVAL when an argument is NULL. */
int jsonloc_find(const char *json, size_t len, const char *path,
		 struct jsonloc *loc);

#endif
