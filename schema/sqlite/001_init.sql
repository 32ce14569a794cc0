-- Weft controller schema, version 1 (SQLite).
-- Keep in step with schema/postgres/001_init.sql: store.c runs the same SQL
-- on both. Timestamps are unix seconds (0 = unset), booleans INTEGER 0/1,
-- lists JSON array text.

CREATE TABLE users (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	role TEXT NOT NULL DEFAULT 'member',
	created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	prefix TEXT NOT NULL UNIQUE,
	hash TEXT NOT NULL,
	user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
	description TEXT NOT NULL DEFAULT '',
	expires_at INTEGER NOT NULL DEFAULT 0,
	revoked_at INTEGER NOT NULL DEFAULT 0,
	last_used_at INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE auth_keys (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	prefix TEXT NOT NULL UNIQUE,
	hash TEXT NOT NULL,
	user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
	reusable INTEGER NOT NULL DEFAULT 0,
	ephemeral INTEGER NOT NULL DEFAULT 0,
	tags TEXT NOT NULL DEFAULT '[]',
	expires_at INTEGER NOT NULL DEFAULT 0,
	revoked_at INTEGER NOT NULL DEFAULT 0,
	used_count INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);
CREATE INDEX auth_keys_user ON auth_keys(user_id);

CREATE TABLE nodes (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE,
	user_id INTEGER REFERENCES users(id),
	public_key TEXT NOT NULL UNIQUE,
	ipv4 TEXT UNIQUE,
	ipv6 TEXT UNIQUE,
	tags TEXT NOT NULL DEFAULT '[]',
	os TEXT NOT NULL DEFAULT '',
	version TEXT NOT NULL DEFAULT '',
	cred_hash TEXT NOT NULL DEFAULT '',
	endpoints TEXT NOT NULL DEFAULT '[]',
	home_relay TEXT NOT NULL DEFAULT '',
	last_seen INTEGER NOT NULL DEFAULT 0,
	online INTEGER NOT NULL DEFAULT 0,
	expires_at INTEGER NOT NULL DEFAULT 0,
	ephemeral INTEGER NOT NULL DEFAULT 0,
	auth_key_id INTEGER REFERENCES auth_keys(id) ON DELETE SET NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX nodes_user ON nodes(user_id);
CREATE INDEX nodes_auth_key ON nodes(auth_key_id);

CREATE TABLE routes (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
	prefix TEXT NOT NULL,
	advertised INTEGER NOT NULL DEFAULT 0,
	approved INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	UNIQUE (node_id, prefix)
);

CREATE TABLE resources (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE,
	address TEXT NOT NULL,
	protocol TEXT NOT NULL DEFAULT 'any',
	ports TEXT NOT NULL DEFAULT '*',
	connector_node_id INTEGER REFERENCES nodes(id) ON DELETE SET NULL,
	connector_tag TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
);
CREATE INDEX resources_connector ON resources(connector_node_id);

CREATE TABLE policy (
	version INTEGER PRIMARY KEY AUTOINCREMENT,
	document TEXT NOT NULL,
	author TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
);

CREATE TABLE relays (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE,
	region TEXT NOT NULL DEFAULT '',
	address TEXT NOT NULL,
	public_key_pin TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	at INTEGER NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	target_type TEXT NOT NULL DEFAULT '',
	target_id TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TABLE netmap (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
);
INSERT INTO netmap (id, version) VALUES (1, 0);

CREATE TABLE settings (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
