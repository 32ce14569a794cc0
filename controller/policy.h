/* The ACL policy: parsing, validation, and the matching the network map
 * compiler needs. Pure code: no I/O, no store, no globals.
 *
 * Document (JSON, all keys optional; see docs/policy.md):
 *   groups     {"group:eng": ["alice", "node:build-1", ...]}
 *   tagOwners  {"tag:db": ["group:eng", "alice"]}
 *   hosts      {"printer": "192.168.1.10", "lab": "10.1.0.0/16"}
 *   acls       [{"action": "accept", "src": [SEL...], "dst": [SEL:PORTS...],
 *                "proto": "tcp"|"udp"|"icmp"|"any"}]
 *   tests      [{"src": SEL, "proto": ..., "accept": [SEL:PORT...],
 *                "deny": [SEL:PORT...]}]
 * Selectors: "*", a user name, "group:x", "tag:x", "node:<name>",
 * "host:<name>", "resource:<name>" (dst only), an IP address or CIDR.
 * Ports: "*", "22", "80-90", "22,80-90". A dst splits at its last ':'.
 *
 * Default deny: a document with no acls allows nothing.
 *
 * Node identity: a node with tags is matched by its tags (and node:name)
 * only; a node without tags by its owner's user name, the owner's groups,
 * node:<name> groups it is listed in, and node:name. "*" matches every
 * node. */
#ifndef WEFT_POLICY_H
#define WEFT_POLICY_H

#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_BYTES (1024 * 1024)

enum policy_proto { POLICY_ANY = 0, POLICY_TCP, POLICY_UDP, POLICY_ICMP };

struct policy_ports {
	uint16_t lo, hi; /* inclusive; "*" is 0..65535 */
};

enum policy_sel_kind {
	POLICY_SEL_ALL,      /* "*" */
	POLICY_SEL_USER,     /* "alice" */
	POLICY_SEL_GROUP,    /* "group:eng" */
	POLICY_SEL_TAG,      /* "tag:db" */
	POLICY_SEL_NODE,     /* "node:laptop" */
	POLICY_SEL_PREFIX,   /* "host:printer", "10.0.0.0/8", "100.64.0.7" */
	POLICY_SEL_RESOURCE, /* "resource:wiki" (dst only) */
};

/* One entry of a resource's filters (docs/connectors.md): a protocol
 * (tcp, udp or icmp, never any) and its port ranges, none meaning every
 * port (always none for icmp). A resource without filters admits
 * everything its rules allow. */
#define POLICY_FILTERS_MAX 3       /* one entry per protocol */
#define POLICY_FILTER_PORTS_MAX 32 /* ranges per entry */

struct policy_filter {
	enum policy_proto proto;
	size_t nports;
	struct policy_ports ports[POLICY_FILTER_PORTS_MAX];
};

struct policy_sel {
	enum policy_sel_kind kind;
	const char *name;          /* user/group/tag/node/host/resource name
				    * as written ("group:eng", "tag:db"); NULL
				    * for ALL and literal prefixes */
	struct ip_prefix prefix;   /* POLICY_SEL_PREFIX */
	const struct policy_ports *ports; /* dst only; NULL in src */
	size_t nports;
	/* POLICY_SEL_RESOURCE when the names callbacks gave them: the
	 * resource's filters as they were when the policy was parsed (the
	 * tests block judges with them; the network map uses the live
	 * ones). */
	const struct policy_filter *filters;
	size_t nfilters;
};

struct policy_rule {
	enum policy_proto proto;
	const struct policy_sel *src;
	size_t nsrc;
	const struct policy_sel *dst;
	size_t ndst;
};

struct policy;

/* Which names exist outside the document. Any callback may be NULL, in
 * which case every name of that kind is accepted. Both get the bare name:
 * "alice" for a user, "wiki" for "resource:wiki". Node names are never
 * checked (nodes come and go without a policy change). */
struct policy_names {
	bool (*user_exists)(void *ctx, const char *name);
	bool (*resource_exists)(void *ctx, const char *name);
	void *ctx;
	/* Optional: the filters of an existing resource into out (at most
	 * POLICY_FILTERS_MAX), their count into *n; false when unknown.
	 * With it, a rule whose access to a resource narrows to nothing
	 * (policy_narrow) is an error, and tests judge resources with
	 * their filters. */
	bool (*resource_filters)(void *ctx, const char *name,
				 struct policy_filter *out, size_t *n);
};

struct policy_err {
	char path[128];    /* where: "acls[2].dst[0]", "groups.group:eng[1]" */
	char message[384]; /* what: `unknown group "group:engg"` */
	int line, column;  /* where in the submitted text (1-based, column in
			    * characters): the syntax error, or the value at
			    * path (controller/jsonloc.h); 0 when unknown */
};

/* Parses and validates a document (len bytes, at most POLICY_MAX_BYTES;
 * an empty or all-whitespace document is the empty policy, like "{}").
 * Every reference must resolve: groups and tags must be declared (tags in
 * tagOwners), hosts in hosts, users and resources through names. Then the
 * document's tests are evaluated; a failing test is an error naming the
 * test and the case (path "tests[0].accept[1]", message "alice ->
 * tag:db:5432 (tcp) should be accepted but is denied"). On success *out
 * owns copies of every string; the rule and selector arrays stay valid
 * until policy_free. Returns 0, WEFT_ERR_PARSE (not JSON), WEFT_ERR_INVAL
 * (invalid; err says where and why), WEFT_ERR_TOOBIG or WEFT_ERR_NOMEM.
 * err may be NULL; it is written only on failure, and its message quotes
 * input as printable ASCII (valid UTF-8 for an API error body). */
int policy_parse(const char *json, size_t len, const struct policy_names *names,
		 struct policy **out, struct policy_err *err);

/* An empty policy (allows nothing). Returns 0 or WEFT_ERR_NOMEM; free it
 * with policy_free. */
int policy_new_empty(struct policy **out);

/* Frees p and everything it handed out. p may be NULL. */
void policy_free(struct policy *p);

/* The number of acls rules, and rule i (NULL when i is out of range); the
 * rule is borrowed from p. */
size_t policy_rule_count(const struct policy *p);
const struct policy_rule *policy_rule(const struct policy *p, size_t i);

/* A node as the policy sees it. tags are "tag:x" strings. */
struct policy_ident {
	const char *node_name;
	const char *user;        /* owner's user name; NULL for none */
	const char *const *tags;
	size_t ntags;
};

/* Does sel match this node? Literal prefixes, hosts and resources never
 * match a node (they are addresses: the caller reads sel->prefix). */
bool policy_sel_matches(const struct policy *p, const struct policy_sel *sel,
			const struct policy_ident *node);

/* Can a rule of p match a node by its name ("node:x" in a rule or a
 * group)? When not, policy_sel_matches depends only on the node's user
 * and tags, so nodes that share both match the same selectors. */
bool policy_names_nodes(const struct policy *p);

/* True when user belongs to group ("group:x"). */
bool policy_user_in_group(const struct policy *p, const char *user,
			  const char *group);

/* The tag owners of tag ("tag:x"): users and groups as written, a
 * NULL-terminated array borrowed from p. NULL and *n = 0 when the tag is
 * not declared; a declared tag without owners gives a non-NULL empty
 * array. */
const char *const *policy_tag_owners(const struct policy *p, const char *tag,
				     size_t *n);

/* Checks a single access question against the rules (used by the tests
 * block and by `weft-controller policy check`): may src (a selector as in
 * "tests") reach dst ("sel:port") with proto? The port is one number, or
 * "*" for POLICY_ICMP (ICMP ignores ports). A question for POLICY_ANY is
 * covered only by rules for any protocol. Groups, tags and hosts must be
 * declared in p; users and resources are not checked. Returns 0 with
 * *allowed set, or WEFT_ERR_INVAL with err (path "src" or "dst"). */
int policy_allows(const struct policy *p, const char *src, const char *dst,
		  enum policy_proto proto, bool *allowed, struct policy_err *err);

/* The access a rule (proto, dst ports[0..nports), none meaning every
 * port) gives to a resource with filters f[0..nf): the rule narrowed by
 * the filters, never widened. Calls grant once per (protocol, port range)
 * of the result: without filters the rule as it is (proto may be
 * POLICY_ANY); otherwise, for each filter of the rule's protocol (every
 * filter for POLICY_ANY), tcp/udp with the intersection of the ranges,
 * icmp with 0..65535 (ICMP has no ports). A non-zero return of grant
 * stops and is returned; else returns the number of grants (0: the rule
 * gives nothing). Ranges may repeat or overlap. */
typedef int (*policy_grant_fn)(void *ctx, enum policy_proto proto,
			       uint16_t lo, uint16_t hi);
int policy_narrow(enum policy_proto proto, const struct policy_ports *ports,
		  size_t nports, const struct policy_filter *f, size_t nf,
		  policy_grant_fn grant, void *ctx);

/* "any", "tcp", "udp" or "icmp" ("unknown" otherwise); static. */
const char *policy_proto_name(enum policy_proto proto);

#endif
