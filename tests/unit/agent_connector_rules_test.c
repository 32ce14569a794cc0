/* The connector's nftables script and the readers of libnftables' JSON
 * (agent/connector_rules.h), and the /proc/sys helpers (agent/sysctl.h)
 * on plain files. The script itself runs against a real kernel in
 * tests/netns/connector_test.sh. */
#include "agent/connector_rules.h"
#include "agent/sysctl.h"
#include "check.h"
#include "shared/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void tun_names_nft_cannot_take_are_refused(void)
{
	char t[CONNECTOR_TABLE_MAX];

	CHECK(connector_rules_name_ok("weft0"));
	CHECK(connector_rules_name_ok("wg-site.1_A"));
	CHECK(connector_rules_name_ok("abcdefghijklmno")); /* 15 */
	CHECK(!connector_rules_name_ok("abcdefghijklmnop"));
	CHECK(!connector_rules_name_ok(""));
	CHECK(!connector_rules_name_ok(NULL));
	CHECK(!connector_rules_name_ok("we\"ft"));
	CHECK(!connector_rules_name_ok("we ft"));
	CHECK(!connector_rules_name_ok("weft0;flush"));
	CHECK_INT(connector_rules_table("weft0", t, sizeof(t)), 0);
	CHECK_STR(t, "weft_weft0");
	CHECK_INT(connector_rules_table("a b", t, sizeof(t)), WEFT_ERR_INVAL);
}

static int count(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

static void script_masquerades_and_clamps_only_tun_traffic(void)
{
	char s[8192];

	REQUIRE(connector_rules_script("weft7", 0, s, sizeof(s)) == 0);
	CHECK(strstr(s, "table inet weft_weft7 {") != NULL);
	CHECK(strstr(s, "delete") == NULL);
	/* The host's policy for other traffic stays: both chains accept. */
	CHECK(strstr(s, "type filter hook forward priority filter; "
			"policy accept;") != NULL);
	CHECK(strstr(s, "type nat hook postrouting priority srcnat; "
			"policy accept;") != NULL);
	/* The only drop: mapped addresses of DNS resources not resolved
	 * (yet); the only reject: names that do not exist. */
	CHECK_INT(count(s, " drop"), 2);
	CHECK_INT(count(s, "counter name dns_unresolved drop"), 2);
	CHECK(strstr(s, "iifname \"weft7\" ip daddr @nx4 counter name "
			"dns_nxdomain reject") != NULL);
	CHECK(strstr(s, "iifname \"weft7\" dnat ip to ip daddr map @dnat4")
	      != NULL);
	CHECK(strstr(s, "dnat ip6 to ip6 saddr . ip6 daddr map @wdnat6")
	      != NULL);
	CHECK(strstr(s, "iifname \"weft7\" oifname != \"weft7\" counter "
			"masquerade") != NULL);
	CHECK(strstr(s, "iifname \"weft7\" tcp flags & (syn|rst) == syn tcp "
			"option maxseg size set rt mtu") != NULL);
	CHECK(strstr(s, "oifname \"weft7\" tcp flags & (syn|rst) == syn tcp "
			"option maxseg size set rt mtu") != NULL);
	CHECK(strstr(s, "oifname \"weft7\" ct state established,related "
			"counter accept") != NULL);
}

static void script_replaces_a_stale_table_in_one_transaction(void)
{
	char s[8192];

	REQUIRE(connector_rules_script("weft0", 42, s, sizeof(s)) == 0);
	CHECK(strncmp(s, "delete table inet handle 42\ntable inet weft_weft0 {",
		      50) == 0);
}

static void script_reports_a_short_buffer(void)
{
	char s[64];

	CHECK_INT(connector_rules_script("weft0", 0, s, sizeof(s)),
		  WEFT_ERR_TOOBIG);
	CHECK_INT(connector_rules_script("bad name", 0, s, sizeof(s)),
		  WEFT_ERR_INVAL);
}

/* What `nft -j -a list table inet weft_weft0` prints (abridged). */
static const char listing[] =
	"{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\"}},"
	" {\"table\": {\"family\": \"inet\", \"name\": \"weft_weft0\","
	" \"handle\": 7}},"
	" {\"chain\": {\"family\": \"inet\", \"table\": \"weft_weft0\","
	" \"name\": \"forward\", \"handle\": 1, \"hook\": \"forward\","
	" \"policy\": \"accept\"}},"
	" {\"rule\": {\"family\": \"inet\", \"table\": \"weft_weft0\","
	" \"chain\": \"forward\", \"handle\": 3, \"expr\": []}},"
	" {\"rule\": {\"family\": \"inet\", \"table\": \"weft_weft0\","
	" \"chain\": \"forward\", \"handle\": 4, \"expr\": []}},"
	" {\"rule\": {\"family\": \"ip\", \"table\": \"weft_weft0\","
	" \"chain\": \"x\", \"handle\": 4, \"expr\": []}}]}";

/* The echo of a transaction that deleted handle 7 and added ours. */
static const char echo[] =
	"{\"nftables\": [{\"delete\": {\"table\": {\"family\": \"inet\","
	" \"name\": \"weft_weft0\", \"handle\": 7}}},"
	" {\"add\": {\"table\": {\"family\": \"inet\", \"name\":"
	" \"weft_weft0\", \"handle\": 9}}},"
	" {\"add\": {\"rule\": {\"family\": \"inet\", \"table\":"
	" \"weft_weft0\", \"chain\": \"forward\", \"handle\": 3}}}]}";

static void finds_the_table_in_a_listing_and_an_echo(void)
{
	uint64_t h = 0;
	size_t n = 0;

	CHECK_INT(connector_rules_find_table(listing, "weft_weft0", &h, &n),
		  0);
	CHECK_INT(h, 7);
	CHECK_INT(n, 2); /* the ip family rule is another table */
	CHECK_INT(connector_rules_find_table(echo, "weft_weft0", &h, &n), 0);
	CHECK_INT(h, 9); /* the added one, not the deleted one */
	CHECK_INT(n, 1);
	CHECK_INT(connector_rules_find_table(listing, "weft_weft1", &h, &n),
		  WEFT_ERR_NOTFOUND);
	CHECK_INT(connector_rules_find_table("{\"nftables\": 3}", "x", &h,
					     &n), WEFT_ERR_PARSE);
	CHECK_INT(connector_rules_find_table("not json", "x", &h, &n),
		  WEFT_ERR_PARSE);
	CHECK_INT(connector_rules_find_table(NULL, "x", &h, &n),
		  WEFT_ERR_PARSE);
}

static void names_other_tables_that_drop_forwarded_packets(void)
{
	const char *chains =
		"{\"nftables\": [{\"metainfo\": {}},"
		" {\"chain\": {\"family\": \"ip\", \"table\": \"filter\","
		" \"name\": \"FORWARD\", \"hook\": \"forward\", \"policy\":"
		" \"drop\"}},"
		" {\"chain\": {\"family\": \"inet\", \"table\": \"fw\","
		" \"name\": \"in\", \"hook\": \"input\", \"policy\":"
		" \"drop\"}},"
		" {\"chain\": {\"family\": \"inet\", \"table\": \"weft_weft0\","
		" \"name\": \"forward\", \"hook\": \"forward\", \"policy\":"
		" \"drop\"}},"
		" {\"chain\": {\"family\": \"inet\", \"table\": \"fw\","
		" \"name\": \"fwd\", \"hook\": \"forward\", \"policy\":"
		" \"drop\"}},"
		" {\"chain\": {\"family\": \"inet\", \"table\": \"fw\","
		" \"name\": \"ok\", \"hook\": \"forward\", \"policy\":"
		" \"accept\"}}]}";
	char out[64], tiny[12];
	size_t n = 0;

	CHECK_INT(connector_rules_forward_drops(chains, "weft_weft0", out,
						sizeof(out), &n), 0);
	CHECK_INT(n, 2);
	CHECK_STR(out, "ip filter FORWARD, inet fw fwd");
	CHECK_INT(connector_rules_forward_drops(chains, "weft_weft0", tiny,
						sizeof(tiny), &n), 0);
	CHECK_INT(n, 2);
	CHECK_STR(tiny, "ip filte..."); /* 11 characters and the NUL */
	CHECK_INT(connector_rules_forward_drops("{\"nftables\": []}", "x",
						out, sizeof(out), &n), 0);
	CHECK_INT(n, 0);
	CHECK_STR(out, "");
}

static void sysctl_reads_and_writes_a_setting(void)
{
	char path[] = "/tmp/weft_sysctl_XXXXXX", v[SYSCTL_VALUE_MAX + 1];
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "0\n", 2) == 2);
	close(fd);
	CHECK_INT(sysctl_read(path, v, sizeof(v)), 0);
	CHECK_STR(v, "0");
	CHECK_INT(sysctl_write(path, "1"), 0);
	CHECK_INT(sysctl_read(path, v, sizeof(v)), 0);
	CHECK_STR(v, "1");
	CHECK_INT(sysctl_read(path, v, 1), WEFT_ERR_TOOBIG);
	unlink(path);
	CHECK_INT(sysctl_read(path, v, sizeof(v)), -ENOENT);
	/* No O_CREAT: a setting the kernel lacks is not invented. */
	CHECK_INT(sysctl_write(path, "1"), -ENOENT);
	CHECK(access(path, F_OK) != 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(tun_names_nft_cannot_take_are_refused),
	CHECK_CASE(script_masquerades_and_clamps_only_tun_traffic),
	CHECK_CASE(script_replaces_a_stale_table_in_one_transaction),
	CHECK_CASE(script_reports_a_short_buffer),
	CHECK_CASE(finds_the_table_in_a_listing_and_an_echo),
	CHECK_CASE(names_other_tables_that_drop_forwarded_packets),
	CHECK_CASE(sysctl_reads_and_writes_a_setting),
	{0}};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
