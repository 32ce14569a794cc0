/* Mesh address allocation against a real store (SQLite, and PostgreSQL as
 * <name>_postgres). */
#include "check.h"
#include "ctl_fixture.h"

#include "controller/ipam.h"
#include "controller/store.h"
#include "shared/err.h"
#include "shared/ip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct store *open_store(const char *name)
{
	return fx_store_new(name, NULL);
}

/* Creates a node holding the given addresses so that they count as used. */
static int add_node(struct store_tx *tx, int i, const char *ipv4,
		    const char *ipv6, int64_t *id)
{
	struct store_node n = {.created_at = 1000};
	int rc;

	snprintf(n.name, sizeof(n.name), "n%d", i);
	snprintf(n.public_key, sizeof(n.public_key), "key%d", i);
	snprintf(n.ipv4, sizeof(n.ipv4), "%s", ipv4);
	snprintf(n.ipv6, sizeof(n.ipv6), "%s", ipv6);
	rc = store_node_create(tx, &n);
	if (rc == 0 && id)
		*id = n.id;
	return rc;
}

/* Assigns and stores one node; returns its IPv4 text in out. */
static int assign_node(struct store *st, int i, char out[STORE_IP_SIZE],
		       int64_t *id)
{
	struct store_tx *tx = NULL;
	char v4[STORE_IP_SIZE], v6[STORE_IP_SIZE];
	int rc;

	rc = store_begin(st, STORE_WRITE, &tx);
	if (rc < 0)
		return rc;
	rc = ipam_assign(tx, v4, v6);
	if (rc == 0)
		rc = add_node(tx, i, v4, v6, id);
	if (rc < 0) {
		store_rollback(tx);
		return rc;
	}
	rc = store_commit(tx);
	if (rc == 0)
		memcpy(out, v4, STORE_IP_SIZE);
	return rc;
}

static int cmp_addr(const void *a, const void *b)
{
	return ip_addr_cmp(a, b);
}

static void thousand_assignments_are_unique_and_inside_the_pools(void)
{
	struct store *st = open_store("thousand");
	struct store_tx *tx = NULL;
	struct ip_prefix pool4, ula;
	struct ip_addr *v4s = calloc(1000, sizeof(*v4s));
	struct ip_addr *v6s = calloc(1000, sizeof(*v6s));
	int i;

	REQUIRE(st && v4s && v6s);
	REQUIRE_INT(ip_prefix_parse(IPAM_POOL4, &pool4, IP_PREFIX_STRICT), 0);
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	for (i = 0; i < 1000; i++) {
		char a[STORE_IP_SIZE], b[STORE_IP_SIZE];

		if (!CHECK(ipam_assign(tx, a, b) == 0))
			break;
		CHECK(ip_addr_parse(a, &v4s[i]) == 0);
		CHECK(ip_addr_parse(b, &v6s[i]) == 0);
		CHECK(add_node(tx, i, a, b, NULL) == 0);
	}
	CHECK_INT(ipam_ula48(tx, &ula), 0);
	CHECK_INT(store_commit(tx), 0);
	REQUIRE_INT(i, 1000);
	for (i = 0; i < 1000; i++) {
		CHECK(ip_prefix_contains(&pool4, &v4s[i]));
		CHECK(ip_prefix_contains(&ula, &v6s[i]));
		/* The IPv4 address sits in the low 32 bits of the IPv6 one. */
		CHECK_MEM(&v6s[i].b[12], v4s[i].b, 4);
		/* Neither the network address nor the quad-100 address. */
		CHECK(!(v4s[i].b[0] == 100 && v4s[i].b[1] == 64 &&
			v4s[i].b[2] == 0 && v4s[i].b[3] == 0));
	}
	qsort(v4s, 1000, sizeof(*v4s), cmp_addr);
	qsort(v6s, 1000, sizeof(*v6s), cmp_addr);
	for (i = 1; i < 1000; i++) {
		CHECK(!ip_addr_eq(&v4s[i - 1], &v4s[i]));
		CHECK(!ip_addr_eq(&v6s[i - 1], &v6s[i]));
	}
	free(v4s);
	free(v6s);
	store_close(st);
}

static void ula_is_a_random_fd_48_that_stays_the_same(void)
{
	struct store *st = open_store("ula");
	struct store_tx *tx = NULL;
	struct ip_prefix a, b;
	char text[STORE_CIDR_SIZE];
	char v4[STORE_IP_SIZE], v6[STORE_IP_SIZE];
	struct ip_addr addr6;

	REQUIRE(st);
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	CHECK_INT(ipam_ula48(tx, &a), 0);
	CHECK_INT(store_commit(tx), 0);
	CHECK_INT(a.addr.family, 6);
	CHECK_INT(a.len, 48);
	CHECK_INT(a.addr.b[0], 0xfd);
	for (int i = 6; i < 16; i++)
		CHECK_INT(a.addr.b[i], 0);

	/* Kept in the database: a later transaction sees the same prefix,
	 * and addresses handed out then lie in it. */
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_setting_get(tx, IPAM_KEY_ULA48, text, sizeof(text)), 0);
	CHECK_INT(ipam_ula48(tx, &b), 0);
	CHECK_INT(ipam_assign(tx, v4, v6), 0);
	CHECK_INT(store_commit(tx), 0);
	CHECK_MEM(&a, &b, sizeof(a));
	CHECK_INT(ip_addr_parse(v6, &addr6), 0);
	CHECK(ip_prefix_contains(&a, &addr6));
	CHECK_STR(v4, "100.64.0.1");
	store_close(st);
}

static void two_deployments_choose_different_ulas(void)
{
	struct store *s1 = open_store("ula1"), *s2 = open_store("ula2");
	struct store_tx *tx = NULL;
	struct ip_prefix a, b;

	REQUIRE(s1 && s2);
	REQUIRE_INT(store_begin(s1, STORE_WRITE, &tx), 0);
	CHECK_INT(ipam_ula48(tx, &a), 0);
	CHECK_INT(store_commit(tx), 0);
	REQUIRE_INT(store_begin(s2, STORE_WRITE, &tx), 0);
	CHECK_INT(ipam_ula48(tx, &b), 0);
	CHECK_INT(store_commit(tx), 0);
	/* 40 random bits: equal only with probability 2^-40. */
	CHECK(!ip_addr_eq(&a.addr, &b.addr));
	store_close(s1);
	store_close(s2);
}

static void skips_addresses_already_in_use(void)
{
	struct store *st = open_store("inuse");
	struct store_tx *tx = NULL;
	char v4[STORE_IP_SIZE];

	REQUIRE(st);
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	CHECK_INT(add_node(tx, 900, "100.64.0.1", "", NULL), 0);
	CHECK_INT(add_node(tx, 901, "100.64.0.2", "", NULL), 0);
	CHECK_INT(store_commit(tx), 0);
	CHECK_INT(assign_node(st, 1, v4, NULL), 0);
	CHECK_STR(v4, "100.64.0.3");
	store_close(st);
}

static void freed_addresses_are_reused_only_after_the_pool_wraps(void)
{
	struct store *st = open_store("wrap");
	struct store_tx *tx = NULL;
	char v4[STORE_IP_SIZE];
	int64_t first = 0;

	REQUIRE(st);
	CHECK_INT(assign_node(st, 1, v4, &first), 0);
	CHECK_STR(v4, "100.64.0.1");
	CHECK_INT(assign_node(st, 2, v4, NULL), 0);
	CHECK_STR(v4, "100.64.0.2");
	CHECK_INT(assign_node(st, 3, v4, NULL), 0);
	CHECK_STR(v4, "100.64.0.3");

	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_node_delete(tx, first), 0);
	CHECK_INT(store_commit(tx), 0);
	/* The freed .1 is not handed out again yet. */
	CHECK_INT(assign_node(st, 4, v4, NULL), 0);
	CHECK_STR(v4, "100.64.0.4");

	/* Jump to the end of the pool instead of handing out 4M addresses. */
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_setting_set(tx, IPAM_KEY_LAST4, "100.127.255.253"), 0);
	CHECK_INT(store_commit(tx), 0);
	CHECK_INT(assign_node(st, 5, v4, NULL), 0);
	CHECK_STR(v4, "100.127.255.254"); /* .255 is the broadcast address */
	CHECK_INT(assign_node(st, 6, v4, NULL), 0);
	CHECK_STR(v4, "100.64.0.1");      /* wrapped: now .1 comes back */
	CHECK_INT(assign_node(st, 7, v4, NULL), 0);
	CHECK_STR(v4, "100.64.0.5");      /* .2 .. .4 are still in use */
	store_close(st);
}

static void never_hands_out_the_mapped_range_to_nodes(void)
{
	struct store *st = open_store("quad100");
	struct store_tx *tx = NULL;
	char v4[STORE_IP_SIZE];
	struct ip_addr a;

	REQUIRE(st);
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_setting_set(tx, IPAM_KEY_LAST4, "100.95.255.254"), 0);
	CHECK_INT(store_commit(tx), 0);
	CHECK_INT(assign_node(st, 1, v4, NULL), 0);
	CHECK_STR(v4, "100.95.255.255");
	/* 100.96.0.0/12 (DNS resources, wildcard blocks, 100.100.100.100)
	 * is skipped as a whole. */
	CHECK_INT(assign_node(st, 2, v4, NULL), 0);
	CHECK_STR(v4, "100.112.0.0");
	/* Also when the last address handed out lies inside it (a
	 * controller older than the reservation). */
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_setting_set(tx, IPAM_KEY_LAST4, "100.100.100.99"), 0);
	CHECK_INT(store_commit(tx), 0);
	CHECK_INT(assign_node(st, 3, v4, NULL), 0);
	CHECK_STR(v4, "100.112.0.1");
	REQUIRE_INT(ip_addr_parse("100.100.100.100", &a), 0);
	CHECK(ipam_is_mapped4(&a));
	REQUIRE_INT(ip_addr_parse("100.111.255.255", &a), 0);
	CHECK(ipam_is_mapped4(&a));
	REQUIRE_INT(ip_addr_parse("100.112.0.0", &a), 0);
	CHECK(!ipam_is_mapped4(&a));
	REQUIRE_INT(ip_addr_parse("100.95.255.255", &a), 0);
	CHECK(!ipam_is_mapped4(&a));
	store_close(st);
}

/* A resource made in the store, mapped by ipam_resource_map when map. */
static int add_resource(struct store_tx *tx, const char *name,
			const char *address, bool map, struct store_resource *out)
{
	struct store_resource r = {.created_at = 1000};
	int rc = 0;

	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.address, sizeof(r.address), "%s", address);
	if (map)
		rc = ipam_resource_map(tx, &r);
	if (rc == 0)
		rc = store_resource_create(tx, &r);
	if (rc == 0 && out)
		*out = r;
	return rc;
}

static void dns_resources_skip_addresses_old_nodes_hold(void)
{
	struct store *st = open_store("mapnodes");
	struct store_tx *tx = NULL;
	struct store_resource r;
	struct ip_prefix ula;
	char want6[STORE_CIDR_SIZE];

	REQUIRE(st);
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	/* Numbered before the range was reserved. */
	CHECK_INT(add_node(tx, 1, "100.96.0.1", "", NULL), 0);
	CHECK_INT(add_resource(tx, "a", "a.corp.test", true, &r), 0);
	CHECK_STR(r.mapped_ipv4, "100.96.0.2/32");
	CHECK_INT(ipam_ula48(tx, &ula), 0);
	ula.addr.b[6] = ula.addr.b[7] = 0xff;
	ula.addr.b[12] = 100;
	ula.addr.b[13] = 96;
	ula.addr.b[15] = 2;
	ula.len = 128;
	CHECK_INT(ip_prefix_format(&ula, want6, sizeof(want6)), 0);
	CHECK_STR(r.mapped_ipv6, want6);
	CHECK_INT(add_resource(tx, "b", "*.corp.test", true, &r), 0);
	CHECK_STR(r.mapped_ipv4, "100.104.0.0/24");
	CHECK_INT(add_resource(tx, "c", "10.0.0.1", true, &r), 0);
	CHECK_STR(r.mapped_ipv4, "");
	CHECK_STR(r.mapped_ipv6, "");
	CHECK_INT(store_commit(tx), 0);
	store_close(st);
}

static void backfill_maps_converted_dns_resources_once(void)
{
	struct store *st = open_store("backfill");
	struct store_tx *tx = NULL;
	struct store_resource r;
	int64_t v0 = 0, v1 = 0;
	int n = -1;

	REQUIRE(st);
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	CHECK_INT(add_resource(tx, "mapped", "m.corp.test", true, NULL), 0);
	CHECK_INT(add_resource(tx, "dns", "db.corp.test", false, NULL), 0);
	CHECK_INT(add_resource(tx, "wild", "*.lab.test", false, NULL), 0);
	CHECK_INT(add_resource(tx, "ip", "10.0.0.1", false, NULL), 0);
	CHECK_INT(store_netmap_version(tx, &v0), 0);
	CHECK_INT(ipam_resource_backfill(tx, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(store_netmap_version(tx, &v1), 0);
	CHECK_INT(v1, v0 + 2);
	CHECK_INT(store_resource_get_by_name(tx, "mapped", &r), 0);
	CHECK_STR(r.mapped_ipv4, "100.96.0.1/32");
	CHECK_INT(store_resource_get_by_name(tx, "dns", &r), 0);
	CHECK_STR(r.mapped_ipv4, "100.96.0.2/32");
	CHECK_INT(store_resource_get_by_name(tx, "wild", &r), 0);
	CHECK_STR(r.mapped_ipv4, "100.104.0.0/24");
	CHECK_INT(store_resource_get_by_name(tx, "ip", &r), 0);
	CHECK_STR(r.mapped_ipv4, "");
	CHECK_INT(ipam_resource_backfill(tx, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(store_commit(tx), 0);
	store_close(st);
}

static void corrupt_ula_setting_is_an_error_not_a_new_prefix(void)
{
	struct store *st = open_store("corrupt");
	struct store_tx *tx = NULL;
	char v4[STORE_IP_SIZE] = "unchanged", v6[STORE_IP_SIZE] = "unchanged";
	struct ip_prefix p;

	REQUIRE(st);
	REQUIRE_INT(store_begin(st, STORE_WRITE, &tx), 0);
	CHECK_INT(store_setting_set(tx, IPAM_KEY_ULA48, "2001:db8::/48"), 0);
	CHECK_INT(ipam_ula48(tx, &p), WEFT_ERR_INTERNAL);
	CHECK_INT(ipam_assign(tx, v4, v6), WEFT_ERR_INTERNAL);
	CHECK_STR(v4, "unchanged");
	CHECK_STR(v6, "unchanged");
	store_rollback(tx);
	store_close(st);
}

static const struct check_case cases[] = {
	CHECK_CASE(thousand_assignments_are_unique_and_inside_the_pools),
	CHECK_CASE(ula_is_a_random_fd_48_that_stays_the_same),
	CHECK_CASE(two_deployments_choose_different_ulas),
	CHECK_CASE(skips_addresses_already_in_use),
	CHECK_CASE(freed_addresses_are_reused_only_after_the_pool_wraps),
	CHECK_CASE(never_hands_out_the_mapped_range_to_nodes),
	CHECK_CASE(dns_resources_skip_addresses_old_nodes_hold),
	CHECK_CASE(backfill_maps_converted_dns_resources_once),
	CHECK_CASE(corrupt_ula_setting_is_an_error_not_a_new_prefix),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
