/* Node registration under load and the admin CLI on the same database as a
 * running controller. */
#include "check.h"
#include "fx.h"
#include "ih.h"
#include "shared/ip.h"

#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K (h->bootstrap_key)
#define NREG 200

static struct ih *start(void)
{
	struct ih *h = NULL;

	if (ih_new(NULL, &h) < 0)
		return NULL;
	return h;
}

struct reg {
	pthread_t thread;
	struct ih *h;
	const char *key;
	long status;
	int64_t id;
	char name[64], ipv4[64], ipv6[64];
};

static void *register_one(void *arg)
{
	struct reg *r = arg;
	json_t *j = NULL;

	/* Every thread uses the same hostname: naming must stay unique too. */
	r->status = fx_register(r->h, r->key, "worker", NULL, &j);
	r->id = fx_int(j, "node.id");
	snprintf(r->name, sizeof(r->name), "%s",
		 fx_str(j, "node.name") ? fx_str(j, "node.name") : "");
	snprintf(r->ipv4, sizeof(r->ipv4), "%s",
		 fx_str(j, "node.ipv4") ? fx_str(j, "node.ipv4") : "");
	snprintf(r->ipv6, sizeof(r->ipv6), "%s",
		 fx_str(j, "node.ipv6") ? fx_str(j, "node.ipv6") : "");
	json_decref(j);
	return NULL;
}

/* True when some earlier entry has the same text in field. */
static bool seen_before(struct reg *regs, size_t i, size_t off)
{
	for (size_t k = 0; k < i; k++)
		if (strcmp((char *)&regs[k] + off, (char *)&regs[i] + off) == 0)
			return true;
	return false;
}

static void two_hundred_concurrent_registrations_get_unique_addresses(void)
{
	struct ih *h = start();
	struct reg *regs = calloc(NREG, sizeof(*regs));
	char key[FX_KEY_SIZE];
	json_t *all;
	int ok = 0, dup4 = 0, dup6 = 0, dupn = 0, dupid = 0, outside = 0;
	size_t started = 0;

	REQUIRE(h);
	REQUIRE(regs);
	REQUIRE(fx_authkey(h, K, "{\"reusable\":true,\"tags\":[\"tag:test\"]}", key) > 0);
	for (size_t i = 0; i < NREG; i++) {
		regs[i].h = h;
		regs[i].key = key;
		if (pthread_create(&regs[i].thread, NULL, register_one,
				   &regs[i]) != 0)
			break;
		started++;
	}
	CHECK_INT(started, NREG);
	for (size_t i = 0; i < started; i++)
		pthread_join(regs[i].thread, NULL);
	for (size_t i = 0; i < started; i++) {
		struct ip_addr a4, a6;

		ok += regs[i].status == 201;
		dup4 += seen_before(regs, i, offsetof(struct reg, ipv4));
		dup6 += seen_before(regs, i, offsetof(struct reg, ipv6));
		dupn += seen_before(regs, i, offsetof(struct reg, name));
		for (size_t k = 0; k < i; k++)
			dupid += regs[k].id == regs[i].id;
		if (!fx_in_prefix(regs[i].ipv4, "100.64.0.0/10") ||
		    !fx_in_prefix(regs[i].ipv6, "fd00::/8") ||
		    ip_addr_parse(regs[i].ipv4, &a4) < 0 ||
		    ip_addr_parse(regs[i].ipv6, &a6) < 0)
			outside++;
		/* The IPv6 address carries the IPv4 address in its low 32
		 * bits (docs/api/README.md, Registration). */
		else if (memcmp(a6.b + 12, a4.b, 4) != 0)
			outside++;
	}
	CHECK_INT(ok, NREG);
	CHECK_INT(dup4, 0);
	CHECK_INT(dup6, 0);
	CHECK_INT(dupn, 0);
	CHECK_INT(dupid, 0);
	CHECK_INT(outside, 0);

	all = fx_list_all(h, K, "/api/v1/nodes", 1000, NULL);
	CHECK(all && json_array_size(all) == NREG);
	json_decref(all);
	CHECK_INT(fx_audit_count(h, K, "node.register", "node", NULL), NREG);
	free(regs);
	CHECK_INT(ih_del(h), 0);
}

/* The items of a CLI --json list answer: {"items": [...]} or a bare array. */
static json_t *cli_items(json_t *out)
{
	return json_is_array(out) ? out : fx_get(out, "items");
}

static void cli_key_registers_a_node_the_cli_then_lists(void)
{
	struct ih *h = start();
	char *out = NULL, key[FX_KEY_SIZE] = "";
	json_t *j = NULL, *items;
	int st = -1;
	int64_t nid = 0, kid;

	REQUIRE(h);
	/* The CLI works on the same database while the server runs (SQLite
	 * in WAL mode allows the second process). */
	/* With --tags: a key of no user must tag the nodes it registers,
	 * with tags the policy's tagOwners declare. */
	REQUIRE_INT(fx_policy(h, K, "{\"tagOwners\":{\"tag:cli\":[]}}", NULL),
		    200);
	REQUIRE_INT(ih_cli(h, &out, &st, "keys", "create", "--reusable",
			   "--tags", "tag:cli", "--json", NULL), 0);
	CHECK_INT(st, 0);
	j = json_loads(out, 0, NULL);
	check_report(j != NULL, __FILE__, __LINE__,
		     "keys create --json printed no JSON: %s", out);
	free(out);
	out = NULL;
	kid = fx_int(j, "id");
	CHECK(kid > 0);
	CHECK(fx_is_true(j, "reusable"));
	if (fx_str(j, "key"))
		snprintf(key, sizeof(key), "%s", fx_str(j, "key"));
	json_decref(j);
	REQUIRE(strncmp(key, "weft_auth_", 10) == 0);

	/* The server sees the key the CLI made and accepts it. */
	CHECK_INT(fx_register(h, key, "cli-node", NULL, &j), 201);
	nid = fx_int(j, "node.id");
	json_decref(j);
	CHECK_INT(fx_register(h, key, "cli-node-b", NULL, NULL), 201);

	REQUIRE_INT(ih_cli(h, &out, &st, "nodes", "list", "--json", NULL), 0);
	CHECK_INT(st, 0);
	j = json_loads(out, 0, NULL);
	check_report(j != NULL, __FILE__, __LINE__,
		     "nodes list --json printed no JSON: %s", out);
	items = cli_items(j);
	CHECK_INT(json_array_size(items), 2);
	CHECK(fx_has_id(items, nid));
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *n = json_array_get(items, i);

		if (fx_int(n, "id") == nid)
			CHECK_STR(fx_str(n, "name"), "cli-node");
	}
	json_decref(j);
	free(out);

	/* The CLI's mutation is audited like the REST call. */
	{
		char idt[32];

		snprintf(idt, sizeof(idt), "%" PRId64, kid);
		CHECK_INT(fx_audit_count(h, K, "authkey.create", "authkey", idt),
			  1);
	}
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(two_hundred_concurrent_registrations_get_unique_addresses),
	CHECK_CASE(cli_key_registers_a_node_the_cli_then_lists),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
