#include "check.h"
#include "controller/policy.h"
#include "shared/err.h"

#include <stdio.h>
#include <stdlib.h>

static bool user_exists(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "alice") == 0 || strcmp(name, "bob") == 0 ||
	       strcmp(name, "dave") == 0;
}

static bool resource_exists(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "wiki") == 0;
}

static const struct policy_names names = {user_exists, resource_exists, NULL,
					  NULL};

/* wiki admits tcp 443 and 8000-8100, and icmp; open has no filters. */
static bool resource_filters(void *ctx, const char *name,
			     struct policy_filter *out, size_t *n)
{
	(void)ctx;
	*n = 0;
	if (strcmp(name, "open") == 0)
		return true;
	if (strcmp(name, "wiki") != 0)
		return false;
	memset(out, 0, 2 * sizeof(*out));
	out[0].proto = POLICY_TCP;
	out[0].ports[0] = (struct policy_ports){443, 443};
	out[0].ports[1] = (struct policy_ports){8000, 8100};
	out[0].nports = 2;
	out[1].proto = POLICY_ICMP;
	*n = 2;
	return true;
}

static bool resource_exists_f(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "wiki") == 0 || strcmp(name, "open") == 0;
}

static const struct policy_names names_f = {user_exists, resource_exists_f,
					    NULL, resource_filters};

/* Declarations most documents below build on. */
#define DECLS                                                                \
	"\"groups\": {\"group:eng\": [\"alice\", \"node:build-1\"],"         \
	"             \"group:ops\": [\"bob\"]},"                            \
	"\"tagOwners\": {\"tag:db\": [\"group:eng\"], \"tag:web\": [\"alice\"]," \
	"                \"tag:free\": []},"                                 \
	"\"hosts\": {\"printer\": \"192.168.1.10\", \"lab\": \"10.1.0.0/16\"," \
	"            \"v6\": \"fd7a::/48\"}"

#define ACL(src, dst) "{" DECLS ", \"acls\": [{\"action\": \"accept\", " \
	"\"src\": [" src "], \"dst\": [" dst "]}]}"

#define EXPECT_ERR(doc, code, path, msg)                                     \
	expect_err(__LINE__, doc, strlen(doc), code, path, msg)

static void expect_err(int line, const char *doc, size_t len, int code,
		       const char *path, const char *msg)
{
	struct policy *p = NULL;
	struct policy_err err;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = policy_parse(doc, len, &names, &p, &err);
	check_report(rc == code, __FILE__, line, "rc %d != %d", rc, code);
	check_report(p == NULL, __FILE__, line, "policy returned on failure");
	check_report(strcmp(err.path, path) == 0, __FILE__, line,
		     "path \"%s\" != \"%s\"", err.path, path);
	if (msg)
		check_report(strcmp(err.message, msg) == 0, __FILE__, line,
			     "message \"%s\" != \"%s\"", err.message, msg);
	policy_free(p);
}

static struct policy *parse_ok(int line, const char *doc)
{
	struct policy *p = NULL;
	struct policy_err err;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = policy_parse(doc, strlen(doc), &names, &p, &err);
	check_report(rc == 0, __FILE__, line, "rc %d: %s: %s", rc, err.path,
		     err.message);
	return p;
}

#define PARSE_OK(doc) parse_ok(__LINE__, doc)

static bool allowed(const struct policy *p, const char *src, const char *dst,
		    enum policy_proto proto)
{
	struct policy_err err;
	bool ok = false;
	int rc = policy_allows(p, src, dst, proto, &ok, &err);

	check_report(rc == 0, __FILE__, __LINE__, "policy_allows(%s, %s): %s",
		     src, dst, rc ? err.message : "");
	return ok;
}

/* Default deny */

static void empty_documents_allow_nothing(void)
{
	const char *docs[] = {"", "  \n", "{}", "{" DECLS "}",
			      "{\"acls\": []}"};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct policy *p = PARSE_OK(docs[i]);

		REQUIRE(p != NULL);
		CHECK_INT(policy_rule_count(p), 0);
		CHECK(policy_rule(p, 0) == NULL);
		CHECK(!allowed(p, "100.64.0.1", "100.64.0.2:22", POLICY_TCP));
		policy_free(p);
	}
}

static void new_empty_policy_has_no_rules(void)
{
	struct policy *p = NULL;
	struct policy_err err;
	bool ok = true;

	REQUIRE_INT(policy_new_empty(&p), 0);
	CHECK_INT(policy_rule_count(p), 0);
	CHECK_INT(policy_allows(p, "1.2.3.4", "5.6.7.8:80", POLICY_TCP, &ok,
				&err), 0);
	CHECK(!ok);
	CHECK(!policy_user_in_group(p, "alice", "group:eng"));
	policy_free(p);
	policy_free(NULL);
	CHECK_INT(policy_new_empty(NULL), WEFT_ERR_INVAL);
}

/* Errors: document level */

static void rejects_malformed_json_as_parse_error(void)
{
	struct policy *p = NULL;
	struct policy_err err;

	CHECK_INT(policy_parse("{\"acls\": [", 10, &names, &p, &err),
		  WEFT_ERR_PARSE);
	CHECK(p == NULL);
	CHECK_STR(err.path, "");
	CHECK(strncmp(err.message, "invalid JSON at line 1", 22) == 0);
	CHECK_INT(policy_parse("{\"acls\": [], \"acls\": []}", 24, &names, &p,
			       &err), WEFT_ERR_PARSE);
}

static void rejects_non_object_document(void)
{
	EXPECT_ERR("[]", WEFT_ERR_INVAL, "", "policy must be a JSON object");
	EXPECT_ERR("\"acls\"", WEFT_ERR_INVAL, "",
		   "policy must be a JSON object");
}

static void rejects_document_over_the_size_limit(void)
{
	size_t n = POLICY_MAX_BYTES + 1;
	char *big = malloc(n);

	REQUIRE(big != NULL);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	expect_err(__LINE__, big, n, WEFT_ERR_TOOBIG, "",
		   "policy is larger than 1048576 bytes");
	free(big);
}

static void rejects_missing_input(void)
{
	struct policy *p = NULL;
	struct policy_err err;

	CHECK_INT(policy_parse(NULL, 3, &names, &p, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.message, "no input");
	CHECK_INT(policy_parse("{}", 2, &names, NULL, NULL), WEFT_ERR_INVAL);
	CHECK(p == NULL);
}

static void unknown_top_level_key_suggests_the_closest(void)
{
	EXPECT_ERR("{\"acl\": []}", WEFT_ERR_INVAL, "acl",
		   "unknown key \"acl\" (did you mean \"acls\"?)");
	EXPECT_ERR("{\"tagowners\": {}}", WEFT_ERR_INVAL, "tagowners",
		   "unknown key \"tagowners\" (did you mean \"tagOwners\"?)");
	EXPECT_ERR("{\"ssh\": []}", WEFT_ERR_INVAL, "ssh",
		   "unknown key \"ssh\"");
}

static void sections_must_have_their_type(void)
{
	EXPECT_ERR("{\"groups\": []}", WEFT_ERR_INVAL, "groups",
		   "must be an object");
	EXPECT_ERR("{\"tagOwners\": null}", WEFT_ERR_INVAL, "tagOwners",
		   "must be an object");
	EXPECT_ERR("{\"hosts\": \"x\"}", WEFT_ERR_INVAL, "hosts",
		   "must be an object");
	EXPECT_ERR("{\"acls\": {}}", WEFT_ERR_INVAL, "acls", "must be an array");
	EXPECT_ERR("{\"tests\": 1}", WEFT_ERR_INVAL, "tests",
		   "must be an array");
	EXPECT_ERR("{\"acls\": [1]}", WEFT_ERR_INVAL, "acls[0]",
		   "must be an object");
	EXPECT_ERR("{\"tests\": [[]]}", WEFT_ERR_INVAL, "tests[0]",
		   "must be an object");
}

/* Errors: groups, tagOwners, hosts */

static void rejects_invalid_names(void)
{
	EXPECT_ERR("{\"groups\": {\"eng\": []}}", WEFT_ERR_INVAL, "groups.eng",
		   "invalid group name \"eng\" (want \"group:\" and 1-63 "
		   "characters of a-z, 0-9, '-', '_', '.', starting with a "
		   "letter or digit)");
	EXPECT_ERR("{\"groups\": {\"group:Eng\": []}}", WEFT_ERR_INVAL,
		   "groups.group:Eng",
		   "invalid group name \"group:Eng\" (want \"group:\" and 1-63 "
		   "characters of a-z, 0-9, '-', '_', '.', starting with a "
		   "letter or digit)");
	EXPECT_ERR("{\"tagOwners\": {\"tag:-db\": []}}", WEFT_ERR_INVAL,
		   "tagOwners.tag:-db",
		   "invalid tag name \"tag:-db\" (want \"tag:\" and 1-63 "
		   "characters of a-z, 0-9, '-', '_', '.', starting with a "
		   "letter or digit)");
	EXPECT_ERR("{\"hosts\": {\"Printer\": \"10.0.0.1\"}}", WEFT_ERR_INVAL,
		   "hosts.Printer",
		   "invalid host name \"Printer\" (want 1-63 characters of "
		   "a-z, 0-9, '-', '_', '.', starting with a letter or digit)");
	EXPECT_ERR("{\"groups\": {\"group:a\": [\"node:Lap top\"]}}",
		   WEFT_ERR_INVAL, "groups.group:a[0]",
		   "invalid node name \"node:Lap top\" (want \"node:\" and 1-63 "
		   "characters of a-z, 0-9, '-', '_', '.', starting with a "
		   "letter or digit)");
	policy_free(PARSE_OK("{\"hosts\": {\"a.b_c-9\": \"10.0.0.1\"}}"));
}

static void names_are_at_most_63_characters(void)
{
	char name[65], doc[128], path[128];

	memset(name, 'a', 64);
	name[64] = '\0';
	snprintf(doc, sizeof(doc), "{\"hosts\": {\"%s\": \"10.0.0.1\"}}",
		 name);
	/* The path quotes at most 64 characters, so this one is whole. */
	snprintf(path, sizeof(path), "hosts.%s", name);
	EXPECT_ERR(doc, WEFT_ERR_INVAL, path, NULL);
	name[63] = '\0';
	snprintf(doc, sizeof(doc), "{\"hosts\": {\"%s\": \"10.0.0.1\"}}",
		 name);
	policy_free(PARSE_OK(doc));
}

/* A policy tag obeys the node tag rule (shared/name.h): at most 63 bytes
 * with "tag:", so every declared tag can be set on a node. */
static void tags_are_at_most_63_bytes_like_node_tags(void)
{
	char tag[80], doc[256], path[128];

	strcpy(tag, "tag:");
	memset(tag + 4, 'a', 59);
	tag[63] = '\0';
	snprintf(doc, sizeof(doc), "{\"tagOwners\": {\"%s\": []}}", tag);
	policy_free(PARSE_OK(doc));
	strcat(tag, "a");
	snprintf(doc, sizeof(doc), "{\"tagOwners\": {\"%s\": []}}", tag);
	snprintf(path, sizeof(path), "tagOwners.%s", tag);
	EXPECT_ERR(doc, WEFT_ERR_INVAL, path, NULL);
	snprintf(doc, sizeof(doc),
		 "{\"acls\": [{\"action\": \"accept\", \"src\": [\"%s\"], "
		 "\"dst\": [\"*:*\"]}]}", tag);
	EXPECT_ERR(doc, WEFT_ERR_INVAL, "acls[0].src[0]", NULL);
}

static void rejects_nested_groups(void)
{
	EXPECT_ERR("{\"groups\": {\"group:b\": [], \"group:a\": [\"alice\", "
		   "\"group:b\"]}}", WEFT_ERR_INVAL, "groups.group:a[1]",
		   "nested groups are not allowed (\"group:b\" inside "
		   "\"group:a\")");
}

static void rejects_bad_group_members_and_tag_owners(void)
{
	EXPECT_ERR("{\"groups\": {\"group:a\": [\"tag:db\"]}}", WEFT_ERR_INVAL,
		   "groups.group:a[0]",
		   "invalid group member \"tag:db\" (want a user name or "
		   "\"node:<name>\")");
	EXPECT_ERR("{\"groups\": {\"group:a\": [7]}}", WEFT_ERR_INVAL,
		   "groups.group:a[0]", "must be a string");
	EXPECT_ERR("{\"groups\": {\"group:a\": \"alice\"}}", WEFT_ERR_INVAL,
		   "groups.group:a", "must be an array");
	EXPECT_ERR("{\"tagOwners\": {\"tag:db\": [\"node:x\"]}}",
		   WEFT_ERR_INVAL, "tagOwners.tag:db[0]",
		   "invalid tag owner \"node:x\" (want a user name or "
		   "\"group:<name>\")");
	EXPECT_ERR("{\"tagOwners\": {\"tag:db\": [\"group:Eng\"]}}",
		   WEFT_ERR_INVAL, "tagOwners.tag:db[0]", NULL);
}

static void rejects_unknown_users_everywhere(void)
{
	EXPECT_ERR("{\"groups\": {\"group:a\": [\"alice\", \"carol\"]}}",
		   WEFT_ERR_INVAL, "groups.group:a[1]", "unknown user \"carol\"");
	EXPECT_ERR("{\"tagOwners\": {\"tag:db\": [\"carol\"]}}",
		   WEFT_ERR_INVAL, "tagOwners.tag:db[0]",
		   "unknown user \"carol\"");
	EXPECT_ERR(ACL("\"alice\", \"carol\"", "\"*:*\""), WEFT_ERR_INVAL,
		   "acls[0].src[1]", "unknown user \"carol\"");
}

static void rejects_undeclared_groups_tags_and_hosts(void)
{
	EXPECT_ERR("{\"tagOwners\": {\"tag:db\": [\"group:eng\"]}}",
		   WEFT_ERR_INVAL, "tagOwners.tag:db[0]",
		   "unknown group \"group:eng\"");
	EXPECT_ERR(ACL("\"group:engg\"", "\"*:*\""), WEFT_ERR_INVAL,
		   "acls[0].src[0]", "unknown group \"group:engg\"");
	EXPECT_ERR(ACL("\"*\"", "\"*:*\", \"tag:cache:6379\""),
		   WEFT_ERR_INVAL, "acls[0].dst[1]",
		   "unknown tag \"tag:cache\" (declare it in tagOwners)");
	EXPECT_ERR(ACL("\"host:nas\"", "\"*:*\""), WEFT_ERR_INVAL,
		   "acls[0].src[0]", "unknown host \"host:nas\"");
	EXPECT_ERR(ACL("\"*\"", "\"resource:git:22\""), WEFT_ERR_INVAL,
		   "acls[0].dst[0]", "unknown resource \"resource:git\"");
}

static void rejects_bad_host_addresses(void)
{
	EXPECT_ERR("{\"hosts\": {\"lab\": \"10.1.0.1/16\"}}", WEFT_ERR_INVAL,
		   "hosts.lab", "\"10.1.0.1/16\" has host bits set");
	EXPECT_ERR("{\"hosts\": {\"lab\": \"10.1.0.0/33\"}}", WEFT_ERR_INVAL,
		   "hosts.lab", "prefix length out of range in \"10.1.0.0/33\"");
	EXPECT_ERR("{\"hosts\": {\"lab\": \"lab.example.com\"}}",
		   WEFT_ERR_INVAL, "hosts.lab",
		   "invalid address \"lab.example.com\" (want an IP address or "
		   "CIDR)");
	EXPECT_ERR("{\"hosts\": {\"lab\": [\"10.0.0.1\"]}}", WEFT_ERR_INVAL,
		   "hosts.lab", "must be a string");
}

/* Errors: acls */

static void rejects_rule_shape_errors(void)
{
	EXPECT_ERR("{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], "
		   "\"dst\": [\"*:*\"], \"users\": []}]}", WEFT_ERR_INVAL,
		   "acls[0].users", "unknown key \"users\"");
	EXPECT_ERR("{\"acls\": [{\"src\": [\"*\"], \"dst\": [\"*:*\"]}]}",
		   WEFT_ERR_INVAL, "acls[0]", "missing \"action\"");
	EXPECT_ERR("{\"acls\": [{\"action\": \"accept\", \"dst\": [\"*:*\"]}]}",
		   WEFT_ERR_INVAL, "acls[0]", "missing \"src\"");
	EXPECT_ERR("{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"]}]}",
		   WEFT_ERR_INVAL, "acls[0]", "missing \"dst\"");
	EXPECT_ERR("{\"acls\": [{\"action\": true, \"src\": [\"*\"], "
		   "\"dst\": [\"*:*\"]}]}", WEFT_ERR_INVAL, "acls[0].action",
		   "must be a string");
	EXPECT_ERR("{\"acls\": [{\"action\": \"accept\", \"src\": \"*\", "
		   "\"dst\": [\"*:*\"]}]}", WEFT_ERR_INVAL, "acls[0].src",
		   "must be an array");
	EXPECT_ERR("{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], "
		   "\"dst\": [22]}]}", WEFT_ERR_INVAL, "acls[0].dst[0]",
		   "must be a string");
}

static void rejects_actions_other_than_accept(void)
{
	EXPECT_ERR("{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], "
		   "\"dst\": [\"*:*\"]}, {\"action\": \"deny\", \"src\": [\"*\"], "
		   "\"dst\": [\"*:*\"]}]}", WEFT_ERR_INVAL, "acls[1].action",
		   "unsupported action \"deny\" (only \"accept\"; anything not "
		   "accepted is denied)");
}

static void rejects_empty_src_and_dst(void)
{
	EXPECT_ERR(ACL("", "\"*:*\""), WEFT_ERR_INVAL, "acls[0].src",
		   "must not be empty");
	EXPECT_ERR(ACL("\"*\"", ""), WEFT_ERR_INVAL, "acls[0].dst",
		   "must not be empty");
}

static void rejects_unknown_protocols(void)
{
	EXPECT_ERR("{\"acls\": [{\"action\": \"accept\", \"proto\": \"sctp\", "
		   "\"src\": [\"*\"], \"dst\": [\"*:*\"]}]}", WEFT_ERR_INVAL,
		   "acls[0].proto",
		   "unknown protocol \"sctp\" (want tcp, udp, icmp or any)");
	EXPECT_ERR("{\"acls\": [{\"action\": \"accept\", \"proto\": 6, "
		   "\"src\": [\"*\"], \"dst\": [\"*:*\"]}]}", WEFT_ERR_INVAL,
		   "acls[0].proto", "must be a string");
}

static void icmp_rules_need_the_wildcard_port(void)
{
	EXPECT_ERR("{\"acls\": [{\"action\": \"accept\", \"proto\": \"icmp\", "
		   "\"src\": [\"*\"], \"dst\": [\"*:*\", \"bob:22\"]}]}",
		   WEFT_ERR_INVAL, "acls[0].dst[1]",
		   "icmp takes port \"*\", not \"22\"");
}

static void resources_are_only_destinations(void)
{
	EXPECT_ERR(ACL("\"resource:wiki\"", "\"*:*\""), WEFT_ERR_INVAL,
		   "acls[0].src[0]", "\"resource:wiki\" is only allowed in dst");
	policy_free(PARSE_OK(ACL("\"*\"", "\"resource:wiki:443\"")));
}

static void rejects_invalid_selectors(void)
{
	EXPECT_ERR(ACL("\"Alice\"", "\"*:*\""), WEFT_ERR_INVAL,
		   "acls[0].src[0]", "invalid selector \"Alice\"");
	EXPECT_ERR(ACL("\"user:alice\"", "\"*:*\""), WEFT_ERR_INVAL,
		   "acls[0].src[0]", "invalid selector \"user:alice\"");
	EXPECT_ERR(ACL("\"10.0.0.1/8\"", "\"*:*\""), WEFT_ERR_INVAL,
		   "acls[0].src[0]", "\"10.0.0.1/8\" has host bits set");
	EXPECT_ERR(ACL("\"*\"", "\"fd7a::/129:*\""), WEFT_ERR_INVAL,
		   "acls[0].dst[0]",
		   "prefix length out of range in \"fd7a::/129\"");
	EXPECT_ERR(ACL("\"tag:DB\"", "\"*:*\""), WEFT_ERR_INVAL,
		   "acls[0].src[0]", NULL);
}

static void rejects_destinations_without_port(void)
{
	EXPECT_ERR(ACL("\"*\"", "\"alice\""), WEFT_ERR_INVAL, "acls[0].dst[0]",
		   "missing port in \"alice\" (write \"SELECTOR:PORTS\", e.g. "
		   "\"tag:web:443\" or \"alice:*\")");
	EXPECT_ERR(ACL("\"*\"", "\"tag:db\""), WEFT_ERR_INVAL, "acls[0].dst[0]",
		   "missing port in \"tag:db\" (write \"SELECTOR:PORTS\", e.g. "
		   "\"tag:web:443\" or \"alice:*\")");
}

static void rejects_bad_ports(void)
{
	EXPECT_ERR(ACL("\"*\"", "\"tag:db:ssh\""), WEFT_ERR_INVAL,
		   "acls[0].dst[0]", "invalid port \"ssh\"");
	EXPECT_ERR(ACL("\"*\"", "\"tag:db:\""), WEFT_ERR_INVAL,
		   "acls[0].dst[0]", "invalid port \"\"");
	EXPECT_ERR(ACL("\"*\"", "\"tag:db:022\""), WEFT_ERR_INVAL,
		   "acls[0].dst[0]", "invalid port \"022\"");
	EXPECT_ERR(ACL("\"*\"", "\"tag:db:22,,80\""), WEFT_ERR_INVAL,
		   "acls[0].dst[0]", "invalid port \"\"");
	EXPECT_ERR(ACL("\"*\"", "\"tag:db:22,*\""), WEFT_ERR_INVAL,
		   "acls[0].dst[0]", "invalid port \"*\"");
	EXPECT_ERR(ACL("\"*\"", "\"tag:db:+22\""), WEFT_ERR_INVAL,
		   "acls[0].dst[0]", "invalid port \"+22\"");
	EXPECT_ERR(ACL("\"*\"", "\"tag:db:0\""), WEFT_ERR_INVAL,
		   "acls[0].dst[0]", "port 0 is out of range (1-65535)");
	EXPECT_ERR(ACL("\"*\"", "\"tag:db:80-65536\""), WEFT_ERR_INVAL,
		   "acls[0].dst[0]", "port 65536 is out of range (1-65535)");
	EXPECT_ERR(ACL("\"*\"", "\"*:*\", \"tag:db:90-80\""), WEFT_ERR_INVAL,
		   "acls[0].dst[1]", "port range 90-80 is reversed");
}

static void rejects_more_than_64_port_ranges(void)
{
	char ports[512], doc[1024];
	size_t n = 0;

	for (int i = 1; i <= 65; i++)
		n += (size_t)snprintf(ports + n, sizeof(ports) - n, "%s%d",
				      i > 1 ? "," : "", i);
	snprintf(doc, sizeof(doc), ACL("\"*\"", "\"tag:db:%s\""), ports);
	EXPECT_ERR(doc, WEFT_ERR_INVAL, "acls[0].dst[0]",
		   "too many port ranges (at most 64)");
	/* 64 are fine. */
	*strrchr(ports, ',') = '\0';
	snprintf(doc, sizeof(doc), ACL("\"*\"", "\"tag:db:%s\""), ports);
	policy_free(PARSE_OK(doc));
}

/* Parsing results */

static void parses_port_lists_and_ranges(void)
{
	struct policy *p = PARSE_OK(ACL("\"alice\"",
					"\"tag:db:22,80-90,65535\", \"*:*\""));
	const struct policy_rule *r;

	REQUIRE(p != NULL);
	REQUIRE_INT(policy_rule_count(p), 1);
	r = policy_rule(p, 0);
	CHECK_INT(r->proto, POLICY_ANY);
	REQUIRE_INT(r->ndst, 2);
	REQUIRE_INT(r->dst[0].nports, 3);
	CHECK_INT(r->dst[0].ports[0].lo, 22);
	CHECK_INT(r->dst[0].ports[0].hi, 22);
	CHECK_INT(r->dst[0].ports[1].lo, 80);
	CHECK_INT(r->dst[0].ports[1].hi, 90);
	CHECK_INT(r->dst[0].ports[2].lo, 65535);
	CHECK_INT(r->dst[0].ports[2].hi, 65535);
	CHECK_INT(r->dst[1].kind, POLICY_SEL_ALL);
	CHECK(r->dst[1].name == NULL);
	REQUIRE_INT(r->dst[1].nports, 1);
	CHECK_INT(r->dst[1].ports[0].lo, 0);
	CHECK_INT(r->dst[1].ports[0].hi, 65535);
	CHECK(r->src[0].ports == NULL);
	CHECK_INT(r->src[0].nports, 0);
	policy_free(p);
}

static void parses_every_selector_kind(void)
{
	struct policy *p = PARSE_OK(
		"{" DECLS ", \"acls\": [{\"action\": \"accept\", "
		"\"proto\": \"udp\", \"src\": [\"*\", \"alice\", \"group:eng\", "
		"\"tag:web\", \"node:laptop\", \"host:printer\", "
		"\"100.64.0.0/10\"], \"dst\": [\"resource:wiki:443\"]}]}");
	const struct policy_rule *r;
	struct ip_prefix want;

	REQUIRE(p != NULL);
	r = policy_rule(p, 0);
	REQUIRE(r != NULL);
	CHECK_INT(r->proto, POLICY_UDP);
	REQUIRE_INT(r->nsrc, 7);
	CHECK_INT(r->src[0].kind, POLICY_SEL_ALL);
	CHECK_INT(r->src[1].kind, POLICY_SEL_USER);
	CHECK_STR(r->src[1].name, "alice");
	CHECK_INT(r->src[2].kind, POLICY_SEL_GROUP);
	CHECK_STR(r->src[2].name, "group:eng");
	CHECK_INT(r->src[3].kind, POLICY_SEL_TAG);
	CHECK_STR(r->src[3].name, "tag:web");
	CHECK_INT(r->src[4].kind, POLICY_SEL_NODE);
	CHECK_STR(r->src[4].name, "node:laptop");
	CHECK_INT(r->src[5].kind, POLICY_SEL_PREFIX);
	CHECK_STR(r->src[5].name, "host:printer");
	REQUIRE_INT(ip_prefix_parse("192.168.1.10/32", &want, 0), 0);
	CHECK_MEM(&r->src[5].prefix, &want, sizeof(want));
	CHECK_INT(r->src[6].kind, POLICY_SEL_PREFIX);
	CHECK(r->src[6].name == NULL);
	REQUIRE_INT(ip_prefix_parse("100.64.0.0/10", &want, 0), 0);
	CHECK_MEM(&r->src[6].prefix, &want, sizeof(want));
	CHECK_INT(r->dst[0].kind, POLICY_SEL_RESOURCE);
	CHECK_STR(r->dst[0].name, "resource:wiki");
	policy_free(p);
}

static void ipv6_destinations_split_at_the_last_colon(void)
{
	struct policy *p = PARSE_OK(ACL("\"*\"", "\"fd7a::1:22\", "
					"\"fd7a::/48:*\", \"::ffff:10.0.0.1:80-81\""));
	const struct policy_rule *r;
	struct ip_prefix want;

	REQUIRE(p != NULL);
	r = policy_rule(p, 0);
	REQUIRE_INT(r->ndst, 3);
	REQUIRE_INT(ip_prefix_parse("fd7a::1/128", &want, 0), 0);
	CHECK_INT(r->dst[0].kind, POLICY_SEL_PREFIX);
	CHECK_MEM(&r->dst[0].prefix, &want, sizeof(want));
	CHECK_INT(r->dst[0].ports[0].lo, 22);
	CHECK_INT(r->dst[0].ports[0].hi, 22);
	REQUIRE_INT(ip_prefix_parse("fd7a::/48", &want, 0), 0);
	CHECK_MEM(&r->dst[1].prefix, &want, sizeof(want));
	CHECK_INT(r->dst[1].ports[0].lo, 0);
	CHECK_INT(r->dst[1].ports[0].hi, 65535);
	CHECK_INT(r->dst[2].ports[0].lo, 80);
	CHECK_INT(r->dst[2].ports[0].hi, 81);
	CHECK(allowed(p, "alice", "fd7a::1:22", POLICY_TCP));
	CHECK(allowed(p, "alice", "fd7a::2:22", POLICY_TCP));
	CHECK(!allowed(p, "alice", "fd7b::1:22", POLICY_TCP));
	policy_free(p);
}

static void parsed_policy_owns_its_strings(void)
{
	const char *src = ACL("\"alice\", \"group:eng\"", "\"tag:db:5432\"");
	size_t n = strlen(src);
	char *doc = malloc(n + 1);
	struct policy *p;
	const struct policy_rule *r;
	size_t nowners = 9;
	const char *const *owners;

	REQUIRE(doc != NULL);
	memcpy(doc, src, n + 1);
	p = PARSE_OK(doc);
	memset(doc, 'x', n);
	free(doc);
	REQUIRE(p != NULL);
	r = policy_rule(p, 0);
	CHECK_STR(r->src[0].name, "alice");
	CHECK_STR(r->src[1].name, "group:eng");
	CHECK_STR(r->dst[0].name, "tag:db");
	CHECK(policy_user_in_group(p, "alice", "group:eng"));
	owners = policy_tag_owners(p, "tag:db", &nowners);
	REQUIRE(owners != NULL);
	CHECK_INT(nowners, 1);
	CHECK_STR(owners[0], "group:eng");
	CHECK(owners[1] == NULL);
	policy_free(p);
}

/* Lookups and node matching */

static void tag_owners_and_group_membership(void)
{
	struct policy *p = PARSE_OK("{" DECLS "}");
	const char *const *o;
	size_t n = 7;

	REQUIRE(p != NULL);
	CHECK(policy_user_in_group(p, "alice", "group:eng"));
	CHECK(policy_user_in_group(p, "bob", "group:ops"));
	CHECK(!policy_user_in_group(p, "bob", "group:eng"));
	CHECK(!policy_user_in_group(p, "alice", "group:nope"));
	CHECK(!policy_user_in_group(p, "node:build-1", "group:eng"));
	o = policy_tag_owners(p, "tag:web", &n);
	REQUIRE(o != NULL);
	CHECK_INT(n, 1);
	CHECK_STR(o[0], "alice");
	n = 7;
	o = policy_tag_owners(p, "tag:free", &n);
	CHECK(o != NULL);
	CHECK_INT(n, 0);
	n = 7;
	CHECK(policy_tag_owners(p, "tag:nope", &n) == NULL);
	CHECK_INT(n, 0);
	policy_free(p);
}

static void untagged_node_matches_user_groups_and_name(void)
{
	struct policy *p = PARSE_OK(ACL(
		"\"*\", \"alice\", \"group:eng\", \"bob\", \"group:ops\", "
		"\"node:laptop\", \"node:build-1\", \"tag:web\", "
		"\"host:printer\", \"192.168.1.10\"",
		"\"resource:wiki:*\""));
	const struct policy_ident laptop = {"laptop", "alice", NULL, 0};
	const struct policy_ident build = {"build-1", "dave", NULL, 0};
	const struct policy_ident orphan = {"orphan", NULL, NULL, 0};
	const struct policy_rule *r;

	REQUIRE(p != NULL);
	r = policy_rule(p, 0);
	REQUIRE_INT(r->nsrc, 10);
	CHECK(policy_sel_matches(p, &r->src[0], &laptop));  /* * */
	CHECK(policy_sel_matches(p, &r->src[1], &laptop));  /* alice */
	CHECK(policy_sel_matches(p, &r->src[2], &laptop));  /* group:eng */
	CHECK(!policy_sel_matches(p, &r->src[3], &laptop)); /* bob */
	CHECK(!policy_sel_matches(p, &r->src[4], &laptop)); /* group:ops */
	CHECK(policy_sel_matches(p, &r->src[5], &laptop));  /* node:laptop */
	CHECK(!policy_sel_matches(p, &r->src[6], &laptop));
	CHECK(!policy_sel_matches(p, &r->src[7], &laptop)); /* tag:web */
	CHECK(!policy_sel_matches(p, &r->src[8], &laptop)); /* host: */
	CHECK(!policy_sel_matches(p, &r->src[9], &laptop)); /* literal IP */
	CHECK(!policy_sel_matches(p, &r->dst[0], &laptop)); /* resource */
	/* build-1 belongs to dave but group:eng lists it by name. */
	CHECK(policy_sel_matches(p, &r->src[2], &build));
	CHECK(!policy_sel_matches(p, &r->src[1], &build));
	CHECK(policy_sel_matches(p, &r->src[6], &build));
	/* A node without owner matches only "*" and its name. */
	CHECK(policy_sel_matches(p, &r->src[0], &orphan));
	CHECK(!policy_sel_matches(p, &r->src[1], &orphan));
	CHECK(!policy_sel_matches(p, &r->src[2], &orphan));
	policy_free(p);
}

static void tagged_node_is_matched_only_by_tags_and_name(void)
{
	struct policy *p = PARSE_OK(ACL(
		"\"*\", \"alice\", \"group:eng\", \"tag:web\", \"tag:db\", "
		"\"node:build-1\"", "\"*:*\""));
	const char *const tags[] = {"tag:web"};
	/* Owned by alice and listed in group:eng by name, but tagged. */
	const struct policy_ident n = {"build-1", "alice", tags, 1};
	const struct policy_rule *r;

	REQUIRE(p != NULL);
	r = policy_rule(p, 0);
	REQUIRE_INT(r->nsrc, 6);
	CHECK(policy_sel_matches(p, &r->src[0], &n));
	CHECK(!policy_sel_matches(p, &r->src[1], &n));
	CHECK(!policy_sel_matches(p, &r->src[2], &n));
	CHECK(policy_sel_matches(p, &r->src[3], &n));
	CHECK(!policy_sel_matches(p, &r->src[4], &n));
	CHECK(policy_sel_matches(p, &r->src[5], &n));
	policy_free(p);
}

/* policy_allows */

static void allows_follows_groups_ports_and_protocols(void)
{
	struct policy *p = PARSE_OK(
		"{" DECLS ", \"acls\": ["
		"{\"action\": \"accept\", \"proto\": \"tcp\", "
		" \"src\": [\"group:eng\"], \"dst\": [\"tag:db:5432\", "
		"\"host:lab:22,80-90\"]},"
		"{\"action\": \"accept\", \"src\": [\"bob\"], "
		" \"dst\": [\"resource:wiki:443\"]},"
		"{\"action\": \"accept\", \"proto\": \"icmp\", "
		" \"src\": [\"10.0.0.0/8\"], \"dst\": [\"*:*\"]}]}");

	REQUIRE(p != NULL);
	CHECK(allowed(p, "alice", "tag:db:5432", POLICY_TCP));
	CHECK(allowed(p, "group:eng", "tag:db:5432", POLICY_TCP));
	CHECK(allowed(p, "node:build-1", "tag:db:5432", POLICY_TCP));
	CHECK(!allowed(p, "node:laptop", "tag:db:5432", POLICY_TCP));
	CHECK(!allowed(p, "alice", "tag:db:5432", POLICY_UDP));
	CHECK(!allowed(p, "alice", "tag:db:5432", POLICY_ANY));
	CHECK(!allowed(p, "alice", "tag:db:5433", POLICY_TCP));
	CHECK(!allowed(p, "bob", "tag:db:5432", POLICY_TCP));
	CHECK(!allowed(p, "tag:web", "tag:db:5432", POLICY_TCP));
	/* host:lab is 10.1.0.0/16; addresses and sub-prefixes inside it are
	 * covered, wider ones are not. */
	CHECK(allowed(p, "alice", "host:lab:85", POLICY_TCP));
	CHECK(allowed(p, "alice", "10.1.2.3:22", POLICY_TCP));
	CHECK(allowed(p, "alice", "10.1.128.0/17:22", POLICY_TCP));
	CHECK(!allowed(p, "alice", "10.0.0.0/8:22", POLICY_TCP));
	CHECK(!allowed(p, "alice", "10.1.2.3:91", POLICY_TCP));
	/* A rule without proto covers every protocol, and "any" questions. */
	CHECK(allowed(p, "bob", "resource:wiki:443", POLICY_UDP));
	CHECK(allowed(p, "bob", "resource:wiki:443", POLICY_ANY));
	CHECK(!allowed(p, "alice", "resource:wiki:443", POLICY_TCP));
	/* ICMP ignores ports. */
	CHECK(allowed(p, "10.2.3.4", "alice:*", POLICY_ICMP));
	CHECK(allowed(p, "host:lab", "100.64.0.1:*", POLICY_ICMP));
	CHECK(!allowed(p, "192.168.1.10", "alice:*", POLICY_ICMP));
	CHECK(!allowed(p, "10.2.3.4", "alice:22", POLICY_TCP));
	policy_free(p);
}

static void allows_reports_bad_questions(void)
{
	struct policy *p = PARSE_OK("{" DECLS "}");
	struct policy_err err;
	bool ok = true;

	REQUIRE(p != NULL);
	memset(&err, 0, sizeof(err));
	CHECK_INT(policy_allows(p, "group:nope", "alice:22", POLICY_TCP, &ok,
				&err), WEFT_ERR_INVAL);
	CHECK_STR(err.path, "src");
	CHECK_STR(err.message, "unknown group \"group:nope\"");
	CHECK_INT(policy_allows(p, "alice", "tag:db:1-2", POLICY_TCP, &ok,
				&err), WEFT_ERR_INVAL);
	CHECK_STR(err.path, "dst");
	CHECK_STR(err.message, "want a single port, not \"1-2\"");
	CHECK_INT(policy_allows(p, "alice", "tag:db:22", POLICY_ICMP, &ok,
				&err), WEFT_ERR_INVAL);
	CHECK_STR(err.message, "icmp takes port \"*\", not \"22\"");
	CHECK_INT(policy_allows(p, "alice", "tag:db:22", (enum policy_proto)9,
				&ok, &err), WEFT_ERR_INVAL);
	CHECK_STR(err.message, "invalid arguments");
	CHECK_INT(policy_allows(p, "alice", "tag:db:22", POLICY_TCP, NULL,
				NULL), WEFT_ERR_INVAL);
	/* Users and resources are not checked without callbacks. */
	CHECK_INT(policy_allows(p, "zed", "resource:any:22", POLICY_TCP, &ok,
				&err), 0);
	CHECK(!ok);
	policy_free(p);
}

static void proto_names(void)
{
	CHECK_STR(policy_proto_name(POLICY_ANY), "any");
	CHECK_STR(policy_proto_name(POLICY_TCP), "tcp");
	CHECK_STR(policy_proto_name(POLICY_UDP), "udp");
	CHECK_STR(policy_proto_name(POLICY_ICMP), "icmp");
	CHECK_STR(policy_proto_name((enum policy_proto)42), "unknown");
}

/* The tests block */

#define RULES                                                                \
	"\"acls\": [{\"action\": \"accept\", \"proto\": \"tcp\", "          \
	"\"src\": [\"group:eng\"], \"dst\": [\"tag:db:5432\"]}]"

static void passing_tests_block_parses(void)
{
	struct policy *p = PARSE_OK(
		"{" DECLS ", " RULES ", \"tests\": ["
		"{\"src\": \"alice\", \"accept\": [\"tag:db:5432\"], "
		" \"deny\": [\"tag:db:22\", \"tag:web:5432\"]},"
		"{\"src\": \"alice\", \"proto\": \"udp\", "
		" \"deny\": [\"tag:db:5432\"]},"
		"{\"src\": \"node:build-1\", \"accept\": [\"tag:db:5432\"]},"
		"{\"src\": \"bob\", \"deny\": [\"tag:db:5432\"]}]}");

	CHECK(p != NULL);
	policy_free(p);
}

static void failing_accept_test_is_an_error(void)
{
	EXPECT_ERR("{" DECLS ", " RULES ", \"tests\": ["
		   "{\"src\": \"alice\", \"accept\": [\"tag:db:5432\"]},"
		   "{\"src\": \"bob\", \"accept\": [\"tag:db:5432\"]}]}",
		   WEFT_ERR_INVAL, "tests[1].accept[0]",
		   "bob -> tag:db:5432 (tcp) should be accepted but is denied");
}

static void failing_deny_test_is_an_error(void)
{
	EXPECT_ERR("{" DECLS ", " RULES ", \"tests\": ["
		   "{\"src\": \"alice\", \"deny\": [\"tag:db:22\", "
		   "\"tag:db:5432\"]}]}",
		   WEFT_ERR_INVAL, "tests[0].deny[1]",
		   "alice -> tag:db:5432 (tcp) should be denied but is "
		   "accepted");
	/* Without any acls everything is denied. */
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\", "
		   "\"accept\": [\"10.0.0.1:22\"]}]}",
		   WEFT_ERR_INVAL, "tests[0].accept[0]",
		   "alice -> 10.0.0.1:22 (tcp) should be accepted but is "
		   "denied");
}

static void rejects_malformed_tests(void)
{
	EXPECT_ERR("{\"tests\": [{\"accept\": [\"alice:22\"]}]}",
		   WEFT_ERR_INVAL, "tests[0]", "missing \"src\"");
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\"}]}", WEFT_ERR_INVAL,
		   "tests[0]", "a test needs \"accept\" or \"deny\"");
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\", \"acept\": []}]}",
		   WEFT_ERR_INVAL, "tests[0].acept",
		   "unknown key \"acept\" (did you mean \"accept\"?)");
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\", \"allow\": []}]}",
		   WEFT_ERR_INVAL, "tests[0].allow", "unknown key \"allow\"");
	EXPECT_ERR("{\"tests\": [{\"src\": \"*\", \"deny\": [\"alice:22\"]}]}",
		   WEFT_ERR_INVAL, "tests[0].src",
		   "\"*\" cannot be used in tests; name a user, group, tag, "
		   "node, host or address");
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\", "
		   "\"deny\": [\"*:22\"]}]}", WEFT_ERR_INVAL, "tests[0].deny[0]",
		   "\"*\" cannot be used in tests; name a user, group, tag, "
		   "node, host or address");
	EXPECT_ERR("{\"tests\": [{\"src\": \"resource:wiki\", "
		   "\"deny\": [\"alice:22\"]}]}", WEFT_ERR_INVAL, "tests[0].src",
		   "\"resource:wiki\" is only allowed in dst");
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\", "
		   "\"deny\": [\"bob:80,443\"]}]}", WEFT_ERR_INVAL,
		   "tests[0].deny[0]", "want a single port, not \"80,443\"");
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\", "
		   "\"accept\": [\"bob:*\"]}]}", WEFT_ERR_INVAL,
		   "tests[0].accept[0]", "want a single port, not \"*\"");
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\", \"proto\": \"icmp\", "
		   "\"deny\": [\"bob:7\"]}]}", WEFT_ERR_INVAL,
		   "tests[0].deny[0]", "icmp takes port \"*\", not \"7\"");
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\", \"proto\": \"gre\", "
		   "\"deny\": [\"bob:7\"]}]}", WEFT_ERR_INVAL, "tests[0].proto",
		   "unknown protocol \"gre\" (want tcp, udp, icmp or any)");
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\", \"deny\": \"bob:7\"}]}",
		   WEFT_ERR_INVAL, "tests[0].deny", "must be an array");
	EXPECT_ERR("{\"tests\": [{\"src\": \"carol\", \"deny\": [\"bob:7\"]}]}",
		   WEFT_ERR_INVAL, "tests[0].src", "unknown user \"carol\"");
	EXPECT_ERR("{\"tests\": [{\"src\": \"alice\", \"deny\": [\"bob\"]}]}",
		   WEFT_ERR_INVAL, "tests[0].deny[0]",
		   "missing port in \"bob\" (write \"SELECTOR:PORTS\", e.g. "
		   "\"tag:web:443\" or \"alice:*\")");
}

static void rejects_more_than_1000_test_cases(void)
{
	size_t cap = 16 * 1024, n;
	char *doc = malloc(cap);

	REQUIRE(doc != NULL);
	n = (size_t)snprintf(doc, cap, "{\"tests\": [{\"src\": \"alice\", "
			     "\"deny\": [\"bob:1\"]}, {\"src\": \"bob\", "
			     "\"deny\": [");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(doc + n, cap - n, "%s\"alice:%d\"",
				      i ? "," : "", i + 1);
	snprintf(doc + n, cap - n, "]}]}");
	EXPECT_ERR(doc, WEFT_ERR_INVAL, "tests[1].deny[999]",
		   "too many test cases (at most 1000)");
	/* One fewer is fine. */
	snprintf(doc, cap, "{\"tests\": [{\"src\": \"bob\", \"deny\": [");
	n = strlen(doc);
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(doc + n, cap - n, "%s\"alice:%d\"",
				      i ? "," : "", i + 1);
	snprintf(doc + n, cap - n, "]}]}");
	policy_free(PARSE_OK(doc));
	free(doc);
}

static void icmp_tests_use_the_wildcard_port(void)
{
	struct policy *p = PARSE_OK(
		"{\"acls\": [{\"action\": \"accept\", \"proto\": \"icmp\", "
		"\"src\": [\"alice\"], \"dst\": [\"bob:*\"]}], \"tests\": ["
		"{\"src\": \"alice\", \"proto\": \"icmp\", \"accept\": [\"bob:*\"]},"
		"{\"src\": \"alice\", \"deny\": [\"bob:22\"]}]}");

	CHECK(p != NULL);
	policy_free(p);
}

static void messages_quote_input_as_short_ascii(void)
{
	struct policy *p = NULL;
	struct policy_err err;
	const char *doc = ACL("\"Ünïcode\\u0001xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
			      "\"*:*\"");

	CHECK_INT(policy_parse(doc, strlen(doc), &names, &p, &err),
		  WEFT_ERR_INVAL);
	CHECK(strncmp(err.message, "invalid selector \"??n??code?xxx", 31) == 0);
	CHECK(strstr(err.message, "...\"") != NULL);
	for (const char *s = err.message; *s; s++)
		CHECK(*s >= 0x20 && *s < 0x7f);
}

/* Grants of policy_narrow as "proto:lo-hi" words. */
struct grants {
	char text[512];
};

static int add_grant(void *ctx, enum policy_proto proto, uint16_t lo,
		     uint16_t hi)
{
	struct grants *g = ctx;
	size_t len = strlen(g->text);

	snprintf(g->text + len, sizeof(g->text) - len, "%s%s:%u-%u",
		 len ? " " : "", policy_proto_name(proto), lo, hi);
	return 0;
}

static const char *narrow(enum policy_proto proto, const char *ports,
			  bool filters)
{
	static struct grants g;
	struct policy_filter f[POLICY_FILTERS_MAX];
	struct policy_ports r[8];
	size_t nf = 0, nr = 0;
	char buf[64], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", ports);
	for (char *t = strtok_r(buf, ",", &save); t && nr < 8;
	     t = strtok_r(NULL, ",", &save)) {
		unsigned lo, hi;

		if (sscanf(t, "%u-%u", &lo, &hi) != 2)
			hi = lo = (unsigned)atoi(t);
		r[nr++] = (struct policy_ports){(uint16_t)lo, (uint16_t)hi};
	}
	if (filters)
		resource_filters(NULL, "wiki", f, &nf);
	g.text[0] = '\0';
	if (policy_narrow(proto, r, nr, f, nf, add_grant, &g) < 0)
		return "error";
	return g.text;
}

static void narrowing_intersects_rules_with_resource_filters(void)
{
	/* Without filters the rule stands as it is. */
	CHECK_STR(narrow(POLICY_ANY, "0-65535", false), "any:0-65535");
	CHECK_STR(narrow(POLICY_TCP, "22,80-90", false), "tcp:22-22 tcp:80-90");
	/* With filters: never wider than either. */
	CHECK_STR(narrow(POLICY_ANY, "0-65535", true),
		  "tcp:443-443 tcp:8000-8100 icmp:0-65535");
	CHECK_STR(narrow(POLICY_TCP, "0-65535", true),
		  "tcp:443-443 tcp:8000-8100");
	CHECK_STR(narrow(POLICY_TCP, "400-8050", true),
		  "tcp:443-443 tcp:8000-8050");
	CHECK_STR(narrow(POLICY_TCP, "22", true), "");
	CHECK_STR(narrow(POLICY_UDP, "0-65535", true), "");
	CHECK_STR(narrow(POLICY_ICMP, "0-65535", true), "icmp:0-65535");
	/* "any" on port 22 still admits ICMP, which has no ports. */
	CHECK_STR(narrow(POLICY_ANY, "22", true), "icmp:0-65535");
}

static void rules_a_resource_narrows_to_nothing_are_errors(void)
{
	struct policy *p = NULL;
	struct policy_err err;
	static const char *bad[] = {
		"{\"acls\": [{\"action\": \"accept\", \"proto\": \"tcp\", "
		"\"src\": [\"alice\"], \"dst\": [\"bob:*\", \"resource:wiki:22\"]}]}",
		"{\"acls\": [{\"action\": \"accept\", \"proto\": \"udp\", "
		"\"src\": [\"alice\"], \"dst\": [\"bob:*\", \"resource:wiki:*\"]}]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(policy_parse(bad[i], strlen(bad[i]), &names_f, &p,
				       &err), WEFT_ERR_INVAL);
		CHECK_STR(err.path, "acls[0].dst[1]");
		CHECK(strstr(err.message, "allows nothing") != NULL);
		CHECK(strstr(err.message, "resource:wiki") != NULL);
	}
	/* "any" on port 22 still admits ICMP, which wiki lets in. */
	{
		const char *doc = ACL("\"alice\"", "\"resource:wiki:22\"");

		CHECK_INT(policy_parse(doc, strlen(doc), &names_f, &p, &err),
			  0);
		policy_free(p);
		p = NULL;
	}
	/* Without the filters callback nothing is narrowed (the rule
	 * stands). */
	CHECK_INT(policy_parse(bad[0], strlen(bad[0]), &names, &p, &err), 0);
	policy_free(p);
	p = NULL;
	/* A resource without filters admits what the rule gives. */
	{
		const char *doc = ACL("\"alice\"", "\"resource:open:22\"");

		CHECK_INT(policy_parse(doc, strlen(doc), &names_f, &p, &err),
			  0);
		policy_free(p);
	}
}

static void tests_judge_resources_with_their_filters(void)
{
	struct policy *p = NULL;
	struct policy_err err;
	const char *good =
		"{\"acls\": [{\"action\": \"accept\", \"src\": [\"alice\"], "
		"\"dst\": [\"resource:wiki:*\"]}], \"tests\": ["
		"{\"src\": \"alice\", \"accept\": [\"resource:wiki:443\", "
		"\"resource:wiki:8080\"], \"deny\": [\"resource:wiki:22\"]},"
		"{\"src\": \"alice\", \"proto\": \"udp\", \"deny\": "
		"[\"resource:wiki:443\"]},"
		"{\"src\": \"alice\", \"proto\": \"icmp\", \"accept\": "
		"[\"resource:wiki:*\"]},"
		"{\"src\": \"alice\", \"proto\": \"any\", \"deny\": "
		"[\"resource:wiki:443\"]}]}";
	const char *bad =
		"{\"acls\": [{\"action\": \"accept\", \"src\": [\"alice\"], "
		"\"dst\": [\"resource:wiki:*\"]}], \"tests\": ["
		"{\"src\": \"alice\", \"accept\": [\"resource:wiki:22\"]}]}";

	CHECK_INT(policy_parse(good, strlen(good), &names_f, &p, &err), 0);
	policy_free(p);
	p = NULL;
	CHECK_INT(policy_parse(bad, strlen(bad), &names_f, &p, &err),
		  WEFT_ERR_INVAL);
	CHECK_STR(err.path, "tests[0].accept[0]");
	/* The same tests without filters: 22 is accepted by the rule. */
	CHECK_INT(policy_parse(bad, strlen(bad), &names, &p, &err), 0);
	policy_free(p);
}

static const struct check_case cases[] = {
	CHECK_CASE(empty_documents_allow_nothing),
	CHECK_CASE(new_empty_policy_has_no_rules),
	CHECK_CASE(rejects_malformed_json_as_parse_error),
	CHECK_CASE(rejects_non_object_document),
	CHECK_CASE(rejects_document_over_the_size_limit),
	CHECK_CASE(rejects_missing_input),
	CHECK_CASE(unknown_top_level_key_suggests_the_closest),
	CHECK_CASE(sections_must_have_their_type),
	CHECK_CASE(rejects_invalid_names),
	CHECK_CASE(names_are_at_most_63_characters),
	CHECK_CASE(tags_are_at_most_63_bytes_like_node_tags),
	CHECK_CASE(rejects_nested_groups),
	CHECK_CASE(rejects_bad_group_members_and_tag_owners),
	CHECK_CASE(rejects_unknown_users_everywhere),
	CHECK_CASE(rejects_undeclared_groups_tags_and_hosts),
	CHECK_CASE(rejects_bad_host_addresses),
	CHECK_CASE(rejects_rule_shape_errors),
	CHECK_CASE(rejects_actions_other_than_accept),
	CHECK_CASE(rejects_empty_src_and_dst),
	CHECK_CASE(rejects_unknown_protocols),
	CHECK_CASE(icmp_rules_need_the_wildcard_port),
	CHECK_CASE(resources_are_only_destinations),
	CHECK_CASE(rejects_invalid_selectors),
	CHECK_CASE(rejects_destinations_without_port),
	CHECK_CASE(rejects_bad_ports),
	CHECK_CASE(rejects_more_than_64_port_ranges),
	CHECK_CASE(parses_port_lists_and_ranges),
	CHECK_CASE(parses_every_selector_kind),
	CHECK_CASE(ipv6_destinations_split_at_the_last_colon),
	CHECK_CASE(parsed_policy_owns_its_strings),
	CHECK_CASE(tag_owners_and_group_membership),
	CHECK_CASE(untagged_node_matches_user_groups_and_name),
	CHECK_CASE(tagged_node_is_matched_only_by_tags_and_name),
	CHECK_CASE(allows_follows_groups_ports_and_protocols),
	CHECK_CASE(allows_reports_bad_questions),
	CHECK_CASE(proto_names),
	CHECK_CASE(passing_tests_block_parses),
	CHECK_CASE(failing_accept_test_is_an_error),
	CHECK_CASE(failing_deny_test_is_an_error),
	CHECK_CASE(rejects_malformed_tests),
	CHECK_CASE(rejects_more_than_1000_test_cases),
	CHECK_CASE(icmp_tests_use_the_wildcard_port),
	CHECK_CASE(messages_quote_input_as_short_ascii),
	CHECK_CASE(narrowing_intersects_rules_with_resource_filters),
	CHECK_CASE(rules_a_resource_narrows_to_nothing_are_errors),
	CHECK_CASE(tests_judge_resources_with_their_filters),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
