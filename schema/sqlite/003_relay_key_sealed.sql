-- The relay-token signing key is stored encrypted under a key-encryption
-- key (controller/kek.h) from now on. A plain PKCS#8 PEM written by an
-- older controller moves to relay.signing_key.plain, which the controller
-- seals into relay.signing_key and deletes at its next start (SQL cannot
-- encrypt: the key-encryption key never reaches the database).
UPDATE settings SET key = 'relay.signing_key.plain'
 WHERE key = 'relay.signing_key' AND value LIKE '-----BEGIN%';
