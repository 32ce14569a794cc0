/* The naming and syntax rules the REST API applies to what clients send.
 *
 * One home for each rule, so that a user name, a tag or a port list means
 * the same thing on every route. The functions only look at text: they do
 * no I/O and keep no state. */
#ifndef WEFT_VALID_H
#define WEFT_VALID_H

#include "controller/store.h"
#include "shared/name.h"

#include <stdbool.h>
#include <stddef.h>

/* Longest user, resource and relay name, node name and DNS label. */
#define VALID_NAME_MAX NAME_MAX_LEN
/* Longest tag, "tag:" included: tags must fit a STORE_NAME_SIZE column
 * (a resource's connector_tag) wherever they are accepted. */
#define VALID_TAG_MAX NAME_TAG_MAX
_Static_assert(VALID_TAG_MAX < STORE_NAME_SIZE, "a tag fits a name column");
/* Longest DNS name. */
#define VALID_DNS_NAME_MAX 253
#define VALID_TAG_PREFIX NAME_TAG_PREFIX

/* The name rules live in shared/name.h, shared with the policy parser;
 * these are the REST API's names for them. A user, resource or relay name:
 * name_valid. */
static inline bool valid_name(const char *s)
{
	return name_valid(s);
}

/* A node name, i.e. a DNS label: name_valid_label. */
static inline bool valid_node_name(const char *s)
{
	return name_valid_label(s);
}

/* The message for a bad tag; takes the field name ("tags[2]") as %s. */
#define VALID_TAG_MESSAGE                                                   \
	"%s must look like tag:<name> (name of a-z 0-9 . _ - starting with " \
	"a letter or digit, at most 63 characters in all)"

/* "tag:<name>" with name as in valid_name, at most VALID_TAG_MAX bytes in
 * all: name_valid_tag. */
static inline bool valid_tag(const char *s)
{
	return name_valid_tag(s);
}

/* The n bytes at s as a host name: 1..253 bytes of dot-separated labels,
 * each 1..63 of A-Z a-z 0-9 -, not starting or ending with '-'. The last
 * label must not be all digits, so a mistyped address such as 10.0.0.256
 * is not taken for a name. s need not be NUL-terminated. */
bool valid_dns_name(const char *s, size_t n);

/* Normalizes a port list: "*", or a comma list of ports 1..65535 (decimal,
 * no leading zero) and ranges a-b with a <= b; spaces around items are
 * dropped ("80, 8000-8100" -> "80,8000-8100"). Returns 0 with the text in
 * out, WEFT_ERR_INVAL for bad syntax, or WEFT_ERR_TOOBIG when the result
 * does not fit; out is written only on success. */
int valid_ports(const char *s, char out[STORE_PORTS_SIZE]);

#endif
