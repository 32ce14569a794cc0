/* The one rule for the names people give things: users, resources, relays,
 * policy groups and hosts, tags, and (as DNS labels) nodes. The controller's
 * REST API and its policy parser check names here, so a name accepted in
 * one place is accepted in every other; docs/policy.md ("Names") states the
 * rule for users. The functions only look at text: no I/O, no state. */
#ifndef WEFT_NAME_H
#define WEFT_NAME_H

#include <stdbool.h>

/* Longest name and longest DNS label. */
#define NAME_MAX_LEN 63
#define NAME_TAG_PREFIX "tag:"
/* Longest tag, "tag:" included: a tag is stored wherever a name is (node
 * tags, a resource's connector_tag), so it has a name's length in all. */
#define NAME_TAG_MAX NAME_MAX_LEN

/* A name: 1..63 of a-z 0-9 . _ -, starting with a letter or digit. */
bool name_valid(const char *s);

/* A DNS label, the rule for node names: 1..63 of a-z 0-9 -, not starting
 * or ending with '-'. Every label is also a name. */
bool name_valid_label(const char *s);

/* Longest DNS name (without the root's trailing dot). */
#define NAME_DNS_MAX 253

/* A DNS name as settings and the map write it: labels that are each
 * name_valid_label, joined by '.', at most NAME_DNS_MAX bytes, lower-case,
 * no trailing dot, no empty label. A single label is a name too. */
bool name_valid_domain(const char *s);

/* Whether name is domain or a name below it ("a.corp.example" is under
 * "corp.example", "xcorp.example" is not). Both as name_valid_domain. */
bool name_under_domain(const char *name, const char *domain);

/* "tag:<name>" at most NAME_TAG_MAX bytes in all, so the name after the
 * prefix has at most 59 characters. */
bool name_valid_tag(const char *s);

#endif
