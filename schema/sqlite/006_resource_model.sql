-- Resources (issue 15): filters, several connectors, mapped addresses.
-- protocol + ports become a filters list ({"protocol", "ports"} per
-- protocol; [] admits everything), connector_node_id becomes rows of
-- resource_connectors (a set of nodes), connector_tag a JSON array of
-- tags. DNS and wildcard resources get addresses from the reserved mapped
-- range (mapped_ipv4, mapped_ipv6: prefixes, NULL for other types); the
-- controller allocates them for the rows converted here when it opens the
-- database (controller/ipam.c, ipam_resource_backfill).
ALTER TABLE resources RENAME TO resources_old;
DROP INDEX resources_connector;
CREATE TABLE resources (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE,
	address TEXT NOT NULL,
	filters TEXT NOT NULL DEFAULT '[]',
	connector_tags TEXT NOT NULL DEFAULT '[]',
	mapped_ipv4 TEXT UNIQUE,
	mapped_ipv6 TEXT UNIQUE,
	created_at INTEGER NOT NULL
);
INSERT INTO resources (id, name, address, filters, connector_tags, created_at)
SELECT id, name, address,
	CASE
	WHEN ports IN ('', '*') AND protocol IN ('tcp', 'udp')
		THEN '[{"protocol":"' || protocol || '","ports":[]}]'
	WHEN ports IN ('', '*') THEN '[]'
	WHEN protocol IN ('tcp', 'udp')
		THEN '[{"protocol":"' || protocol || '","ports":["' ||
			replace(ports, ',', '","') || '"]}]'
	ELSE '[{"protocol":"tcp","ports":["' || replace(ports, ',', '","') ||
		'"]},{"protocol":"udp","ports":["' ||
		replace(ports, ',', '","') || '"]}]'
	END,
	CASE WHEN connector_tag = '' THEN '[]'
	ELSE '["' || connector_tag || '"]' END,
	created_at
FROM resources_old;
-- Ids are never reused: carry the AUTOINCREMENT counter over.
DELETE FROM sqlite_sequence WHERE name = 'resources';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'resources', seq FROM sqlite_sequence WHERE name = 'resources_old';
CREATE TABLE resource_connectors (
	resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
	node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
	PRIMARY KEY (resource_id, node_id)
);
CREATE INDEX resource_connectors_node ON resource_connectors(node_id);
INSERT INTO resource_connectors (resource_id, node_id)
SELECT id, connector_node_id FROM resources_old
WHERE connector_node_id IS NOT NULL;
DROP TABLE resources_old;
DELETE FROM sqlite_sequence WHERE name = 'resources_old';
