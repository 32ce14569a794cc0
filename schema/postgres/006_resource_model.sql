-- Resources (issue 15): filters, several connectors, mapped addresses.
-- protocol + ports become a filters list ({"protocol", "ports"} per
-- protocol; [] admits everything), connector_node_id becomes rows of
-- resource_connectors (a set of nodes), connector_tag a JSON array of
-- tags. DNS and wildcard resources get addresses from the reserved mapped
-- range (mapped_ipv4, mapped_ipv6: prefixes, NULL for other types); the
-- controller allocates them for the rows converted here when it opens the
-- database (controller/ipam.c, ipam_resource_backfill).
ALTER TABLE resources ADD COLUMN filters TEXT NOT NULL DEFAULT '[]';
ALTER TABLE resources ADD COLUMN connector_tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE resources ADD COLUMN mapped_ipv4 TEXT UNIQUE;
ALTER TABLE resources ADD COLUMN mapped_ipv6 TEXT UNIQUE;
UPDATE resources SET
	filters = CASE
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
	connector_tags = CASE WHEN connector_tag = '' THEN '[]'
	ELSE '["' || connector_tag || '"]' END;
CREATE TABLE resource_connectors (
	resource_id BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
	node_id BIGINT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
	PRIMARY KEY (resource_id, node_id)
);
CREATE INDEX resource_connectors_node ON resource_connectors(node_id);
INSERT INTO resource_connectors (resource_id, node_id)
SELECT id, connector_node_id FROM resources
WHERE connector_node_id IS NOT NULL;
DROP INDEX resources_connector;
ALTER TABLE resources DROP COLUMN protocol, DROP COLUMN ports,
	DROP COLUMN connector_node_id, DROP COLUMN connector_tag;
