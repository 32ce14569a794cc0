-- Browser sessions (issue 14): a login with a password or an API key.
-- The cookie holds weft_session_<prefix>_<secret>; only the hex SHA-256
-- of the secret is stored. A session ends at expires_at, after
-- idle_timeout_s seconds without use, at logout, and when its user or API
-- key is deleted (cascade) or the user's password or role changes.
CREATE TABLE sessions (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	prefix TEXT NOT NULL UNIQUE,
	hash TEXT NOT NULL,
	user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
	apikey_id INTEGER REFERENCES api_keys(id) ON DELETE CASCADE,
	expires_at INTEGER NOT NULL,
	idle_timeout_s INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_apikey ON sessions(apikey_id);
