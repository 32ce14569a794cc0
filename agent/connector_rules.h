/* The nftables side of a connector as text: the script that creates the
 * agent's own table, and readers of what libnftables answers in JSON
 * (the table's handle, its rule count, other tables' forward chains).
 * Pure code, no I/O: agent/connector.c runs the scripts.
 *
 * The table is `inet weft_<tun>`: one per TUN device, so two agents in
 * one network namespace (which need two TUN names anyway) never touch
 * each other's table, and a table left behind by a crashed agent is
 * found by the next agent on that TUN. docs/connectors.md shows it. */
#ifndef WEFT_AGENT_CONNECTOR_RULES_H
#define WEFT_AGENT_CONNECTOR_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "weft_" and a TUN name (at most 15 characters) and the NUL. */
#define CONNECTOR_TABLE_MAX 24

/* Whether tun can name the device in nft rules and the table: 1 to 15
 * of A-Z a-z 0-9 _ . - (Linux allows more, nft's grammar does not). */
bool connector_rules_name_ok(const char *tun);

/* The table's name, "weft_<tun>", into out (cap bytes). Returns 0 or
 * WEFT_ERR_INVAL when tun is not connector_rules_name_ok. */
int connector_rules_table(const char *tun, char *out, size_t cap);

/* The script for one nft transaction (all or nothing): when stale is
 * non-zero, delete the table with that handle first (one a crashed
 * agent left), then create `table inet weft_<tun>` with
 *   - chain forward (filter hook, policy accept: the host's policy for
 *     other traffic is untouched): TCP MSS clamped to the route's MTU on
 *     SYNs into and out of the TUN, and counted accepts for packets from
 *     the TUN to another interface and for established/related replies
 *     into the TUN;
 *   - chain postrouting (nat hook, srcnat): masquerade what came in on
 *     the TUN and leaves through another interface;
 *   - for DNS resources (agent/dnat.h fills them): the maps dnat4/6
 *     and wdnat4/6 that chain prerouting (nat hook, dstnat) translates
 *     with, the sets nx4/6 and wnx4/6 that chain nxdomain (filter hook
 *     prerouting) rejects with ICMP admin-prohibited, the sets
 *     mapped4/6 whose untranslated addresses the forward chain drops,
 *     and the counters dns_nxdomain and dns_unresolved.
 * Returns 0, WEFT_ERR_INVAL (bad tun) or WEFT_ERR_TOOBIG (cap). */
int connector_rules_script(const char *tun, uint64_t stale, char *out,
			   size_t cap);

/* Reads libnftables JSON output ({"nftables": [...]}: a listing, or the
 * echo of a transaction, whose objects are wrapped in {"add": ...}) for
 * the inet table named table: its handle and how many rules it holds.
 * Returns 0, WEFT_ERR_NOTFOUND (no such table in it), WEFT_ERR_PARSE. */
int connector_rules_find_table(const char *json, const char *table,
			       uint64_t *handle, size_t *nrules);

/* Reads a JSON listing of chains (`list chains`) for base chains on the
 * forward hook with policy drop in tables other than own (inet): the
 * host's firewall then decides whether forwarded packets pass, since an
 * accept in our table cannot overrule another table's drop. Writes
 * "family table chain" of each, separated by ", ", into out (cap bytes,
 * truncated with "..." when longer) and their number into *n. Returns 0
 * or WEFT_ERR_PARSE. */
int connector_rules_forward_drops(const char *json, const char *own,
				  char *out, size_t cap, size_t *n);

#endif
