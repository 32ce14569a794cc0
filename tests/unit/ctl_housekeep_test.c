#include "check.h"
#include "ctl_fixture.h"
#include "controller/housekeep.h"
#include "controller/store.h"
#include "shared/err.h"

#include <stdio.h>
#include <string.h>

static struct store *open_store(const char *name)
{
	return fx_store_new(name, NULL);
}

static int64_t add_node(struct store *st, const char *name, int ephemeral,
			int online, int64_t last_seen, int64_t created)
{
	struct store_node n = {0};
	struct store_tx *tx;

	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.public_key, sizeof(n.public_key), "key-%s", name);
	n.ephemeral = ephemeral;
	n.online = online;
	n.last_seen = last_seen;
	n.created_at = created;
	if (store_begin(st, STORE_WRITE, &tx) < 0)
		return 0;
	if (store_node_create(tx, &n) < 0 || store_commit(tx) < 0) {
		store_rollback(tx);
		return 0;
	}
	return n.id;
}

static bool exists(struct store *st, int64_t id)
{
	struct store_tx *tx;
	struct store_node n;
	int rc;

	if (store_begin(st, STORE_READ, &tx) < 0)
		return false;
	rc = store_node_get(tx, id, &n);
	store_rollback(tx);
	return rc == 0;
}

static int count_changes(void *ctx, const struct store_change *c)
{
	if (strcmp(c->kind, "node") == 0)
		(*(int *)ctx)++;
	return 0;
}

static void removes_only_ephemeral_nodes_offline_past_grace(void)
{
	struct store *st = open_store("hk");
	const int64_t now = 1800000000, grace = 300;
	int64_t gone, fresh, online, durable, never_seen, young;
	struct store_tx *tx;
	int deleted = -1, changes = 0;

	REQUIRE(st);
	gone = add_node(st, "gone", 1, 0, now - grace - 10, now - 9999);
	fresh = add_node(st, "fresh", 1, 0, now - grace + 10, now - 9999);
	online = add_node(st, "online", 1, 1, now - 9999, now - 9999);
	durable = add_node(st, "durable", 0, 0, now - 9999, now - 9999);
	never_seen = add_node(st, "never", 1, 0, 0, now - grace - 1);
	young = add_node(st, "young", 1, 0, 0, now - 5);
	REQUIRE(gone && fresh && online && durable && never_seen && young);

	CHECK_INT(housekeep_run(st, now, grace, &deleted), 0);
	CHECK_INT(deleted, 2);
	CHECK(!exists(st, gone));
	CHECK(!exists(st, never_seen));
	CHECK(exists(st, fresh));
	CHECK(exists(st, online));
	CHECK(exists(st, durable));
	CHECK(exists(st, young));

	/* Each removal is audited and announced on the change feed. */
	REQUIRE_INT(store_begin(st, STORE_READ, &tx), 0);
	CHECK_INT(store_change_list(tx, 0, 100, count_changes, &changes), 0);
	store_rollback(tx);
	CHECK_INT(changes, 2);

	/* Running again finds nothing more. */
	CHECK_INT(housekeep_run(st, now, grace, &deleted), 0);
	CHECK_INT(deleted, 0);
	store_close(st);
}

static const struct check_case cases[] = {
	CHECK_CASE(removes_only_ephemeral_nodes_offline_past_grace),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
