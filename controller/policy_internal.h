/* Private to the ACL policy (controller/policy*.c): the parsed policy's
 * body, the parser's context and the helpers both files use. Nothing
 * outside controller/policy*.c includes this.
 *
 *   policy.c        the parser and validator, the tables
 *   policy_arena.c  the arena everything a parsed policy points to is in
 *   policy_query.c  what a parsed policy answers (selector matching,
 *                   coverage, policy_allows) and the tests block */
#ifndef WEFT_POLICY_INTERNAL_H
#define WEFT_POLICY_INTERNAL_H

#include "controller/policy.h"

#include <jansson.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_PORT_RANGES 64
#define QUOTE_MAX 64
/* A buffer for policy_quote. */
#define QBUF (QUOTE_MAX + 1)

struct chunk {
	struct chunk *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

struct arena {
	struct chunk *head;
};

/* The policy */

/* A declared name with a list of strings: a group and its members (users
 * and "node:x", sorted for group_has), or a tag and its owners (users and
 * "group:x", as written). The list is NULL-terminated. */
struct plist {
	const char *name; /* "group:eng", "tag:db" */
	const char *const *items;
	size_t n;
};

struct phost {
	const char *name; /* "printer" (without "host:") */
	struct ip_prefix prefix;
};

struct policy {
	struct arena arena;
	struct plist *groups;
	size_t ngroups;
	struct plist *tags;
	size_t ntags;
	struct phost *hosts;
	size_t nhosts;
	struct policy_rule *rules;
	size_t nrules;
};

struct pctx {
	struct policy *p;
	const struct policy_names *names; /* NULL: accept every name */
	struct policy_err e;
	int code;
	size_t ncases; /* test cases run so far */
};

enum sel_use {
	USE_SRC,  /* acls[].src */
	USE_DST,  /* acls[].dst */
	USE_TEST, /* tests[].src, tests[].accept/deny: no "*" */
	USE_TEST_DST,
};

/* n zeroed bytes (at least 1) aligned for any type, owned by a; NULL
 * when out of memory. */
void *policy_arena_alloc(struct arena *a, size_t n);
/* Zeroed room for n items of size sz; NULL on overflow or out of
 * memory. */
void *policy_arena_array(struct arena *a, size_t n, size_t sz);
/* A copy of s owned by a, or NULL. */
char *policy_arena_strdup(struct arena *a, const char *s);
/* Frees every chunk; a is empty after. */
void policy_arena_free(struct arena *a);

/* The group or tag declared as name ("group:eng", "tag:db"), or NULL. */
const struct plist *policy_find_group(const struct policy *p,
				      const char *name);
const struct plist *policy_find_tag(const struct policy *p, const char *name);
/* Is member in group g's (sorted) list? */
bool policy_group_has(const struct plist *g, const char *member);

/* Copies s into buf as printable ASCII ('?' for anything else), cut to
 * QUOTE_MAX characters with "..." appended when longer; returns buf. */
const char *policy_quote(char *buf, size_t n, const char *s);
/* Sets the path of the next error (e.g. "acls[2].dst[0]"). */
void policy_set_path(struct pctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Records an error at the current path; returns code. */
int policy_fail(struct pctx *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* policy_fail with WEFT_ERR_NOMEM. */
int policy_nomem(struct pctx *c);

bool policy_has_prefix(const char *s, const char *prefix);
/* Fails on the first key of obj not in allowed (NULL-terminated). */
int policy_check_keys(struct pctx *c, const json_t *obj,
		      const char *const *allowed);
/* Fails unless v has the JSON type. */
int policy_want_type(struct pctx *c, const json_t *v, json_type type);
/* At path where (e.g. "acls[2]"): fails unless obj is an object with no
 * key outside keys (NULL-terminated). */
int policy_want_object(struct pctx *c, const char *where, const json_t *obj,
		       const char *const *keys);

/* Parses a port list ("443", "8000-8100,9000", "*") into out (at most
 * MAX_PORT_RANGES) and *n. */
int policy_parse_ports(struct pctx *c, const char *s,
		       struct policy_ports *out, size_t *n);
/* Resolves selector s for use into *out; out->name borrows s. */
int policy_parse_sel(struct pctx *c, const char *s, enum sel_use use,
		     struct policy_sel *out);
/* Splits "SEL:PORTS" at the last ':' into sel (borrowed into buf, which
 * holds strlen(s) + 1 bytes) and *ports. */
int policy_split_dst(struct pctx *c, const char *s, char *buf,
		     const char **ports);

/* "tcp", "udp", "icmp" or "any" into *out. */
int policy_parse_proto(struct pctx *c, const char *s,
		       enum policy_proto *out);
/* Fails unless ports is "*", the only ports icmp takes. */
int policy_icmp_port(struct pctx *c, const char *ports);

/* Runs the document's "tests" block (policy_query.c) against c->p. */
int policy_parse_tests(struct pctx *c, const json_t *arr);

#endif
