-- The change feed: one row per change that can alter some node's network
-- map, written in the same transaction as the change itself and numbered
-- by the netmap version it produced. Every controller replica applies the
-- rows after the last version it has seen, so all of them converge on the
-- same maps without recomputing from scratch.
CREATE TABLE netmap_changes (
	version BIGINT PRIMARY KEY,
	kind TEXT NOT NULL,
	target_id BIGINT NOT NULL,
	at BIGINT NOT NULL
);
