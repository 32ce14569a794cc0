-- Optional login passwords (issue 14). password_hash is an argon2id
-- encoded string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash", see
-- controller/passwd.h) with a random per-user salt; '' means the user has
-- no password and cannot log in with one. Never returned by the API.
ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
